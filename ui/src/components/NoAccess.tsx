import { Button, Result } from 'antd';
import { t } from '../i18n';
import { homeOf, useSession } from '../session';
import { href } from '../router';

/** Shown instead of a page the role may not use, or a record outside the user's department (the server answers 404/403). */
export function NoAccess({ kind }: { kind: 'page' | 'case' }) {
  const { me } = useSession();
  return (
    <Result
      status="403"
      title={<span data-testid="no-access">{t('noaccess.title')}</span>}
      subTitle={t(kind === 'case' ? 'noaccess.case' : 'noaccess.page')}
      extra={<Button type="primary" href={href(homeOf(me))} data-testid="no-access-home">{t('noaccess.home')}</Button>}
    />
  );
}

export function NotFound() {
  const { me } = useSession();
  return (
    <Result
      status="404"
      title={<span data-testid="not-found">{t('notfound.title')}</span>}
      extra={<Button type="primary" href={href(homeOf(me))}>{t('noaccess.home')}</Button>}
    />
  );
}

import { Tag } from 'antd';
import type { Light } from '../api';
import { t } from '../i18n';

const COLORS: Record<Light, string> = { green: 'success', yellow: 'warning', red: 'error', suspended: 'default', done: 'blue', 'done-late': 'purple', cancelled: 'default', failed: 'error' };

export function LightTag({ light }: { light: Light | null | undefined }) {
  if (!light) return null;
  return (
    <Tag color={COLORS[light]} data-testid={`light-${light}`} className={`light-tag light-${light}`}>
      <span className={`light-dot light-dot-${light}`} />
      {t(`light.${light}` as never)}
    </Tag>
  );
}

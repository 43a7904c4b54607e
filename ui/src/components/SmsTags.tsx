import { Tag } from 'antd';
import { t, type Key } from '../i18n';

const KINDS = ['warning', 'overdue', 'followup', 'urge'];
const STATUS_COLOR: Record<string, string> = { pending: 'default', sending: 'processing', sent: 'green', failed: 'red', deferred: 'orange', cancelled: 'default' };
const PROVIDER = ['queued', 'accepted', 'sending', 'sent', 'delivered', 'undelivered', 'failed'];

/** The SMS template name (warning, overdue …) as the kind of message a clerk recognises. */
export function smsKind(template: string): string {
  return KINDS.includes(template) ? t(`sms.kind.${template}` as Key) : t('sms.kind.other');
}

export function SmsStatusTag({ status, deferred }: { status: string; deferred?: boolean }) {
  const s = deferred && status === 'pending' ? 'deferred' : status;
  const key = `sms.status.${s}` as Key;
  return <Tag color={STATUS_COLOR[s] ?? 'default'} data-status={s}>{STATUS_COLOR[s] ? t(key) : s}</Tag>;
}

export function ProviderStatusTag({ status }: { status: string | null }) {
  if (!status) return null;
  const known = PROVIDER.includes(status);
  const color = status === 'delivered' ? 'green' : status === 'failed' || status === 'undelivered' ? 'red' : 'blue';
  return <Tag color={color} data-status={status}>{t(known ? (`sms.provider.${status}` as Key) : 'sms.provider.other')}</Tag>;
}

import { useCallback, useEffect, useMemo, useState } from 'react';
import { App, Button, Card, Select, Space, Table, Tag, Typography } from 'antd';
import { get, put, qs, type Page, errText } from '../api';
import { t, type Key } from '../i18n';
import { deptName, hasRole, useSession } from '../session';
import type { User } from './Users';

interface RosterEntry { day: string; userId: string; username: string; displayName: string; departmentId: string }

/** Dates as YYYY-MM-DD, computed in UTC so no time zone shifts a day. */
function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function mondayOf(day: string): string {
  const wd = new Date(`${day}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(day, -((wd + 6) % 7));
}
function today(): string {
  return new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });
}
const WEEKDAYS: Key[] = ['roster.wd.1', 'roster.wd.2', 'roster.wd.3', 'roster.wd.4', 'roster.wd.5', 'roster.wd.6', 'roster.wd.7'];

/** Duty roster (值班表): which inspectors receive the overdue alerts, a week at a time. Admins edit, inspectors and leaders read. */
export function RosterPage() {
  const { me, departments } = useSession();
  const { message } = App.useApp();
  const canEdit = hasRole(me, 'admin');
  const [week, setWeek] = useState(() => mondayOf(today()));
  const [entries, setEntries] = useState<RosterEntry[]>([]);
  const [inspectors, setInspectors] = useState<User[]>([]);
  const [editing, setEditing] = useState<string | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  const [saving, setSaving] = useState(false);
  const days = useMemo(() => Array.from({ length: 7 }, (_, i) => addDays(week, i)), [week]);
  const load = useCallback(async () => setEntries(await get<RosterEntry[]>(`/api/roster${qs({ from: days[0], to: days[6] })}`)), [days]);
  useEffect(() => {
    load().catch((e) => message.error(errText(e)));
  }, [load, message]);
  useEffect(() => {
    if (!canEdit) return;
    get<Page<User>>('/api/users?role=inspector&pageSize=200&sort=username&order=asc')
      .then((p) => setInspectors(p.items.filter((u) => u.active)))
      .catch((e) => message.error(errText(e)));
  }, [canEdit, message]);

  const save = async (day: string) => {
    setSaving(true);
    try {
      const before = entries.filter((e) => e.day === day);
      // Keep the department scope of inspectors who stay on duty; new ones cover all departments ('*').
      const body = selected.flatMap((userId) => {
        const kept = before.filter((e) => e.userId === userId);
        return kept.length ? kept.map((e) => ({ userId, departmentId: e.departmentId })) : [{ userId }];
      });
      await put(`/api/roster/${day}`, { entries: body });
      message.success(t('common.success'));
      setEditing(null);
      await load();
    } catch (e) {
      message.error(errText(e));
    } finally {
      setSaving(false);
    }
  };

  const now = today();
  const rows = days.map((day, i) => ({ day, weekday: t(WEEKDAYS[i]!), entries: entries.filter((e) => e.day === day) }));
  return (
    <Card title={t('roster.title')} data-testid="roster-page" data-week={week}
      extra={
        <Space>
          <Button onClick={() => setWeek(addDays(week, -7))} data-testid="roster-prev">{t('roster.prev')}</Button>
          <Button onClick={() => setWeek(mondayOf(today()))} data-testid="roster-this">{t('roster.thisWeek')}</Button>
          <Button onClick={() => setWeek(addDays(week, 7))} data-testid="roster-next">{t('roster.next')}</Button>
        </Space>
      }>
      <Typography.Paragraph type="secondary">
        {t('roster.range', { from: days[0]!, to: days[6]! })} · {canEdit ? t('roster.hint') : t('roster.readOnly')}
      </Typography.Paragraph>
      <Table
        rowKey="day" size="middle" dataSource={rows} pagination={false}
        rowClassName={(r) => (r.day === now ? 'roster-today' : '')}
        onRow={(r) => ({ 'data-testid': 'roster-row', 'data-day': r.day, 'data-count': r.entries.length } as never)}
        columns={[
          { title: t('roster.day'), dataIndex: 'day', width: 180, render: (d: string) => (d === now ? <Space>{d}<Tag color="red">{t('roster.today')}</Tag></Space> : d) },
          { title: t('roster.weekday'), dataIndex: 'weekday', width: 90 },
          {
            title: t('roster.onDuty'), key: 'who',
            render: (_, r) => editing === r.day ? (
              <Select mode="multiple" style={{ minWidth: 320 }} value={selected} onChange={setSelected} data-testid="roster-select" autoFocus
                placeholder={t('roster.pick')} optionFilterProp="label"
                options={inspectors.map((u) => ({ value: u.id, label: `${u.displayName} (${u.username})` }))} />
            ) : r.entries.length ? (
              <Space wrap size={4}>
                {r.entries.map((e) => (
                  <Tag key={`${e.userId}-${e.departmentId}`} color="purple" data-testid="roster-entry" data-username={e.username}>
                    {e.displayName}{e.departmentId !== '*' ? ` · ${deptName(departments, e.departmentId)}` : ''}
                  </Tag>
                ))}
              </Space>
            ) : <Typography.Text type="warning">{t('roster.nobody')}</Typography.Text>,
          },
          ...(canEdit ? [{
            title: t('common.actions'), key: 'a', width: 180,
            render: (_: unknown, r: (typeof rows)[number]) => editing === r.day ? (
              <Space>
                <Button type="primary" size="small" loading={saving} onClick={() => save(r.day)} data-testid="roster-save">{t('common.save')}</Button>
                <Button size="small" onClick={() => setEditing(null)}>{t('common.cancel')}</Button>
              </Space>
            ) : (
              <Button size="small" disabled={editing !== null} data-testid={`roster-edit-${r.day}`}
                onClick={() => { setSelected([...new Set(r.entries.map((e) => e.userId))]); setEditing(r.day); }}>{t('roster.edit')}</Button>
            ),
          }] : []),
        ]}
      />
    </Card>
  );
}

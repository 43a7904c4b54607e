import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, DatePicker, Form, Input, InputNumber, Popconfirm, Select, Space, Switch, Table, Tag } from 'antd';
import { del, get, put, errText } from '../api';
import { t } from '../i18n';

interface Day { day: string; working: boolean; source: string; name: string | null; note: string | null; updatedBy: string | null }
interface Year { year: number; official: boolean; confirmed: boolean; note: string | null; days: Day[] }

/** Holiday calendar overrides: days off and make-up working days on top of the official arrangement. */
export function CalendarPage() {
  const { message } = App.useApp();
  const [year, setYear] = useState(new Date().getFullYear());
  const [data, setData] = useState<Year | null>(null);
  const [special, setSpecial] = useState(true);
  const [form] = Form.useForm();
  const load = useCallback(async () => setData(await get<Year>(`/api/calendar?year=${year}`)), [year]);
  useEffect(() => {
    load().catch((e) => message.error(errText(e)));
  }, [load, message]);
  // Every change recomputes the deadlines of open cases; say how many moved.
  const run = async (fn: () => Promise<{ recomputedCases?: number } | undefined>) => {
    try {
      const r = await fn();
      message.success(r?.recomputedCases ? t('cal.recomputed', { n: r.recomputedCases }) : t('common.success'));
      await load();
    } catch (e) {
      message.error(errText(e));
    }
  };
  const days = (data?.days ?? []).filter((d) => !special || d.source !== 'weekend');
  return (
    <Card title={t('cal.title')} data-testid="calendar-page"
      extra={<Space><InputNumber value={year} min={2000} max={2100} onChange={(v) => v && setYear(Number(v))} />{data && <Tag color={data.confirmed ? 'green' : 'orange'}>{t(data.confirmed ? 'cal.confirmed' : 'cal.unconfirmed')}</Tag>}
        {data && !data.official && (
          <Popconfirm title={t(data.confirmed ? 'cal.unconfirm' : 'cal.confirm')} onConfirm={() => run(() => put(`/api/calendar/years/${year}`, { confirmed: !data.confirmed }))}>
            <Button size="small" data-testid="cal-confirm-year">{t(data.confirmed ? 'cal.unconfirm' : 'cal.confirm')}</Button>
          </Popconfirm>
        )}</Space>}>
      <Form form={form} layout="inline" style={{ marginBottom: 12, rowGap: 8 }} initialValues={{ kind: 'holiday' }}
        onFinish={(v) => run(() => put(`/api/calendar/days/${v.day.format('YYYY-MM-DD')}`, { kind: v.kind, note: v.note || undefined }))}>
        <Form.Item name="day" rules={[{ required: true, message: t('form.required', { label: t('cal.day') }) }]}>
          <DatePicker placeholder={t('cal.day')} data-testid="cal-day" />
        </Form.Item>
        <Form.Item name="kind"><Select style={{ width: 150 }} options={[{ value: 'holiday', label: t('cal.holiday') }, { value: 'workday', label: t('cal.workday') }]} /></Form.Item>
        <Form.Item name="note"><Input placeholder={t('cal.note')} /></Form.Item>
        {/* Not a submit button: Enter in the date box only confirms the typed date; the override is added by this button. */}
        <Button type="primary" onClick={() => form.submit()} data-testid="cal-add">{t('cal.override')}</Button>
        <Space style={{ marginLeft: 16 }}><Switch checked={special} onChange={setSpecial} />{t('cal.filter.special')}</Space>
      </Form>
      <Table<Day> rowKey="day" size="small" dataSource={days} pagination={{ pageSize: 31 }}
        columns={[
          { title: t('cal.day'), dataIndex: 'day' },
          { title: t('cal.kind'), dataIndex: 'working', render: (w) => (w ? <Tag color="blue">{t('cal.workday')}</Tag> : <Tag color="red">{t('cal.holiday')}</Tag>) },
          { title: t('cal.name'), dataIndex: 'name' },
          { title: t('cal.source'), dataIndex: 'source', render: (s: string) => t(`cal.source.${s}` as never) },
          { title: t('cal.note'), dataIndex: 'note' },
          { title: t('common.actions'), key: 'a', render: (_, d) => d.source === 'override' && (
            <Popconfirm title={t('cal.remove')} onConfirm={() => run(() => del(`/api/calendar/days/${d.day}`))}><Button size="small" danger>{t('cal.remove')}</Button></Popconfirm>
          ) },
        ]} />
    </Card>
  );
}

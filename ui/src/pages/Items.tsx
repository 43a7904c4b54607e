import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, Form, Input, InputNumber, Modal, Select, Switch, Table, Tag } from 'antd';
import { get, patch, qs, type Item, type Page, errText } from '../api';
import { t } from '../i18n';
import { deptName, useSession } from '../session';

/** The item catalogue (事项目录): limits and warning rules per item; changes apply to cases received afterwards. */
export function ItemsPage() {
  const { departments } = useSession();
  const { message } = App.useApp();
  const [q, setQ] = useState('');
  const [page, setPage] = useState(1);
  const [data, setData] = useState<Page<Item> | null>(null);
  const [editing, setEditing] = useState<Item | null>(null);
  const [form] = Form.useForm();
  const load = useCallback(async () => setData(await get<Page<Item>>(`/api/items${qs({ q, page, pageSize: 20, sort: 'code', order: 'asc' })}`)), [q, page]);
  useEffect(() => {
    load().catch((e) => message.error(errText(e)));
  }, [load, message]);
  return (
    <Card title={t('items.title')} data-testid="items-page" extra={<Input.Search allowClear placeholder={t('items.search')} onSearch={(v) => { setQ(v); setPage(1); }} style={{ width: 220 }} />}>
      <Table<Item>
        rowKey="code" size="small" dataSource={data?.items ?? []} scroll={{ x: 900 }}
        pagination={{ current: page, pageSize: 20, total: data?.total ?? 0, onChange: setPage, showSizeChanger: false }}
        onRow={(r) => ({ 'data-testid': 'item-row', 'data-code': r.code } as never)}
        columns={[
          { title: t('items.code'), dataIndex: 'code' },
          { title: t('items.name'), dataIndex: 'name' },
          { title: t('items.department'), dataIndex: 'departmentId', render: (v) => deptName(departments, v) },
          { title: t('items.statutory'), dataIndex: 'statutoryDays' },
          { title: t('items.promised'), dataIndex: 'promisedDays', render: (v, r) => `${v} ${t(`items.unit.${r.limitUnit}` as never)}` },
          { title: t('items.warning'), dataIndex: 'warningRule', render: (w: Item['warningRule']) => t(w.kind === 'percent' ? 'items.warning.percent' : 'items.warning.days', { n: w.value }) },
          { title: t('items.process'), dataIndex: 'processKey' },
          { title: t('items.active'), dataIndex: 'active', render: (v) => (v ? <Tag color="green">{t('common.yes')}</Tag> : <Tag>{t('common.no')}</Tag>) },
          { title: t('common.actions'), key: 'a', render: (_, r) => <Button size="small" onClick={() => { setEditing(r); form.setFieldsValue({ ...r, warningKind: r.warningRule.kind, warningValue: r.warningRule.value }); }} data-testid={`edit-${r.code}`}>{t('common.edit')}</Button> },
        ]}
      />
      <Modal open={!!editing} title={editing?.name} onCancel={() => setEditing(null)} okText={t('common.save')} cancelText={t('common.cancel')} forceRender
        onOk={async () => {
          const v = await form.validateFields();
          try {
            await patch(`/api/items/${encodeURIComponent(editing!.code)}`, {
              name: v.name, promisedDays: v.promisedDays, statutoryDays: v.statutoryDays ?? null, processKey: v.processKey, active: v.active,
              warningRule: { kind: v.warningKind, value: v.warningValue },
            });
            message.success(t('common.success'));
            setEditing(null);
            await load();
          } catch (e) {
            message.error(errText(e));
          }
        }}>
        <Form form={form} layout="vertical">
          <Form.Item name="name" label={t('items.name')} rules={[{ required: true }]}><Input /></Form.Item>
          <Form.Item name="statutoryDays" label={t('items.statutory')}><InputNumber min={1} /></Form.Item>
          <Form.Item name="promisedDays" label={t('items.promised')} rules={[{ required: true }]}><InputNumber min={1} /></Form.Item>
          <Form.Item label={t('items.warning')}>
            <Form.Item name="warningKind" noStyle><Select style={{ width: 160 }} options={[{ value: 'days', label: t('items.warning.kind.days') }, { value: 'percent', label: t('items.warning.kind.percent') }]} /></Form.Item>
            <Form.Item name="warningValue" noStyle><InputNumber min={0} style={{ marginLeft: 8 }} /></Form.Item>
          </Form.Item>
          <Form.Item name="processKey" label={t('items.process')} rules={[{ required: true }]}><Input /></Form.Item>
          <Form.Item name="active" label={t('items.active')} valuePropName="checked"><Switch /></Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}

import { useCallback, useEffect, useRef, useState } from 'react';
import { Alert, App, Button, Card, Col, Form as AntForm, Input, Modal, Row, Select, Space, Table, Tag, Typography } from 'antd';
import { FormEditor } from '@bpmn-io/form-js-editor';
import '@bpmn-io/form-js-viewer/dist/assets/form-js.css';
import '@bpmn-io/form-js-editor/dist/assets/form-js-editor.css';
import '@bpmn-io/form-js-editor/dist/assets/properties-panel.css';
import '../forms/editor.css';
import { ApiError, get, put, qs, type Page, errText } from '../api';
import { t } from '../i18n';
import { fmtDateTime } from '../format';
import { useUserNames } from '../names';
import type { FormSchema } from '../forms/FormView';
import type { StoredForm } from '../forms/schemas';

type Summary = Omit<StoredForm, 'schema'>;
const FORM_KEY = /^[A-Za-z][\w.:-]{0,99}$/;
const BLANK: FormSchema = { type: 'default', components: [] };

/** Task forms (admins, own bundle): the @bpmn-io/form-js editor on the forms stored by key; each save is a new version. */
export default function FormsPage({ formKey }: { formKey?: string }) {
  const { message, modal } = App.useApp();
  const [list, setList] = useState<Summary[]>([]);
  const [current, setCurrent] = useState<{ key: string; version: number | null; latest: number | null } | null>(null);
  const [versions, setVersions] = useState<Summary[]>([]);
  const [note, setNote] = useState('');
  const people = useUserNames();
  const [dirty, setDirty] = useState(false);
  const [refused, setRefused] = useState<string[] | null>(null);
  const [saving, setSaving] = useState(false);
  const [creating, setCreating] = useState(false);
  const [ready, setReady] = useState(false);
  const container = useRef<HTMLDivElement>(null);
  const editor = useRef<FormEditor | null>(null);

  const loadList = useCallback(async () => setList((await get<Page<Summary>>(`/api/forms${qs({ pageSize: 200, sort: 'key', order: 'asc' })}`)).items), []);

  useEffect(() => {
    const e = new FormEditor({ container: container.current!, exporter: { name: 'Duban', version: '0.1.0' } });
    e.on('changed', () => setDirty(true));
    editor.current = e;
    loadList().catch((err) => message.error(String(err)));
    return () => {
      e.destroy();
      editor.current = null;
    };
  }, [loadList, message]);

  const show = useCallback(async (key: string, schema: FormSchema, version: number | null, latest: number | null) => {
    setReady(false);
    await editor.current!.importSchema(schema);
    setCurrent({ key, version, latest });
    setDirty(false);
    setRefused(null);
    setReady(true);
  }, []);

  const open = useCallback(async (key: string, version?: number) => {
    const path = `/api/forms/${encodeURIComponent(key)}`;
    const [f, vs] = await Promise.all([
      get<StoredForm>(version ? `${path}/versions/${version}` : path),
      get<Page<Summary>>(`${path}/versions${qs({ pageSize: 200 })}`),
    ]);
    setVersions(vs.items);
    await show(key, f.schema, f.version, vs.items[0]?.version ?? f.version);
  }, [show]);

  /** Switching forms or versions drops unsaved edits only after the admin agrees. */
  const leave = useCallback((go: () => void) => {
    if (!dirty) return go();
    modal.confirm({ title: t('forms.unsaved'), content: t('forms.discard'), okText: t('common.ok'), cancelText: t('common.cancel'), onOk: go });
  }, [dirty, modal]);

  // #/forms/<key> (the designer's "edit form" link) opens that form.
  useEffect(() => {
    if (formKey) open(formKey).catch((e) => message.error(errText(e)));
  }, [formKey, open, message]);

  const save = async () => {
    if (!current || !editor.current) return;
    setSaving(true);
    setRefused(null);
    try {
      const r = await put<StoredForm & { unchanged: boolean }>(`/api/forms/${encodeURIComponent(current.key)}`, { schema: editor.current.saveSchema(), note: note || null });
      message.success(r.unchanged ? t('forms.unchanged') : t('forms.saved', { n: r.version }));
      setNote('');
      await Promise.all([loadList(), open(current.key)]);
    } catch (e) {
      const errors = e instanceof ApiError ? (e.body as { errors?: string[] })?.errors : undefined;
      setRefused(errors?.length ? errors : [errText(e)]);
    } finally {
      setSaving(false);
    }
  };

  const download = () => {
    if (!current || !editor.current) return;
    const blob = new Blob([JSON.stringify(editor.current.saveSchema(), null, 2)], { type: 'application/json' });
    const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: `${current.key.replace(/[^\w.-]/g, '_')}.form` });
    a.click();
    URL.revokeObjectURL(a.href);
  };

  const viewingOld = current?.version != null && current.latest != null && current.version !== current.latest;
  return (
    <Row gutter={16} data-testid="forms-page">
      <Col xs={24} lg={7}>
        <Card title={t('forms.title')} size="small" extra={<Button size="small" onClick={() => leave(() => setCreating(true))} data-testid="forms-new">{t('forms.new')}</Button>}>
          <Table<Summary>
            rowKey="key" size="small" dataSource={list} pagination={false}
            rowClassName={(r) => (r.key === current?.key ? 'ant-table-row-selected' : '')}
            onRow={(r) => ({ onClick: () => leave(() => void open(r.key).catch((e) => message.error(errText(e)))), style: { cursor: 'pointer' }, 'data-testid': 'form-row', 'data-key': r.key } as never)}
            columns={[
              { title: t('forms.key'), dataIndex: 'key' },
              { title: t('forms.version'), dataIndex: 'version', width: 60, render: (v) => `v${v}` },
              { title: t('forms.fields'), dataIndex: 'fields', render: (f: string[]) => <Typography.Text type="secondary" style={{ fontSize: 12 }}>{f.join(', ')}</Typography.Text> },
            ]}
          />
        </Card>
      </Col>
      <Col xs={24} lg={17}>
        <Card
          size="small"
          title={current ? <Space>{current.key}{current.version ? <Tag>{`v${current.version}`}</Tag> : <Tag color="blue">{t('forms.new')}</Tag>}{dirty && <Tag color="orange" data-testid="form-dirty">{t('forms.unsaved')}</Tag>}</Space> : t('forms.title')}
          extra={current && (
            <Space wrap>
              {versions.length > 1 && (
                <Select size="small" style={{ width: 260 }} value={current.version ?? undefined} placeholder={t('forms.versions')} data-testid="form-version-select"
                  onChange={(v) => leave(() => void open(current.key, v))}
                  options={versions.map((v) => ({ value: v.version, label: `v${v.version} · ${fmtDateTime(v.createdAt)} · ${people(v.createdBy)}${v.version === current.latest ? ` (${t('forms.latest')})` : ''}` }))} />
              )}
              <Input size="small" style={{ width: 200 }} placeholder={t('forms.note')} value={note} onChange={(e) => setNote(e.target.value)} maxLength={500} data-testid="form-note" />
              <Button size="small" type="primary" loading={saving} onClick={save} data-testid="form-save">{t('forms.save')}</Button>
              <Button size="small" onClick={download}>{t('forms.download')}</Button>
            </Space>
          )}
        >
          {viewingOld && <Alert type="info" showIcon title={t('forms.viewing', { n: current!.version! })} style={{ marginBottom: 8 }} />}
          {refused && <Alert type="error" showIcon title={t('forms.refused')} description={<ul data-testid="form-errors">{refused.map((r) => <li key={r}>{r}</li>)}</ul>} style={{ marginBottom: 8 }} />}
          {!current && <Typography.Paragraph type="secondary">{t('forms.pick')}</Typography.Paragraph>}
          <div ref={container} className="duban-form-editor" data-testid="form-editor" data-ready={ready ? '1' : '0'} style={{ display: current ? undefined : 'none' }} />
        </Card>
      </Col>
      <NewFormDialog open={creating} existing={list.map((f) => f.key)} onClose={(key) => {
        setCreating(false);
        if (key) void show(key, BLANK, null, null).then(() => setVersions([]));
      }} />
    </Row>
  );
}

function NewFormDialog({ open, existing, onClose }: { open: boolean; existing: string[]; onClose(key: string | null): void }) {
  const [form] = AntForm.useForm<{ key: string }>();
  return (
    <Modal open={open} title={t('forms.new')} okText={t('common.ok')} cancelText={t('common.cancel')} destroyOnHidden okButtonProps={{ 'data-testid': 'forms-new-ok' } as never}
      onCancel={() => onClose(null)} onOk={async () => onClose((await form.validateFields()).key)}>
      <AntForm form={form} layout="vertical" preserve={false}>
        <AntForm.Item name="key" label={t('forms.newKey')} initialValue="duban:"
          rules={[{ required: true, pattern: FORM_KEY, message: t('forms.newKey') }, { validator: async (_, v) => { if (existing.includes(v)) throw new Error(`${v} ✕`); } }]}>
          <Input data-testid="forms-new-key" />
        </AntForm.Item>
      </AntForm>
    </Modal>
  );
}

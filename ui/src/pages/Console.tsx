import { useCallback, useEffect, useMemo, useState } from 'react';
import { Alert, App, Button, Card, Descriptions, Form, Input, Modal, Popconfirm, Select, Space, Table, Tabs, Tag, Tooltip, Typography } from 'antd';
import { ExclamationCircleOutlined, InfoCircleOutlined } from '@ant-design/icons';
import { ApiError, del, errText, get, post, qs, type Definition, type Instance, type Page } from '../api';
import { t, tOr, type Key } from '../i18n';
import { deptName, useSession } from '../session';
import { href, navigate } from '../router';
import { fmtDateTime, noteText } from '../format';
import { useUserNames } from '../names';
import { Diagram } from '../components/Diagram';
import { NoAccess } from '../components/NoAccess';
import { ProviderStatusTag, SmsStatusTag, smsKind } from '../components/SmsTags';

const TABS = ['incidents', 'instances', 'sms', 'timers', 'definitions', 'audit', 'tokens'] as const;
type TabKey = (typeof TABS)[number];

/** The administrators' operations console: what the engine is doing and what went wrong, in one place. */
export default function ConsolePage({ tab, id }: { tab?: string; id?: string }) {
  const active: TabKey = (TABS as readonly string[]).includes(tab ?? '') ? (tab as TabKey) : 'incidents';
  if (active === 'instances' && id) return <InstanceView id={id} />;
  return (
    <Card title={t('console.title')} data-testid="console-page">
      <Tabs
        activeKey={active}
        onChange={(k) => navigate(`/console/${k}`)}
        destroyOnHidden
        items={TABS.map((k) => ({ key: k, label: <span data-testid={`console-tab-${k}`}>{t(`console.${k}` as Key)}</span>, children: <div data-testid={`console-pane-${k}`}><TabBody tab={k} /></div> }))}
      />
    </Card>
  );
}

function TabBody({ tab }: { tab: TabKey }) {
  switch (tab) {
    case 'incidents': return <Incidents />;
    case 'instances': return <Instances />;
    case 'sms': return <SmsBacklog />;
    case 'timers': return <Timers />;
    case 'definitions': return <Definitions />;
    case 'audit': return <Audit />;
    case 'tokens': return <Tokens />;
  }
}

/** A paged list from the API with a loader that reports failures in the UI's language. */
function usePaged<T>(url: string) {
  const { message } = App.useApp();
  const [data, setData] = useState<Page<T> | null>(null);
  const [loading, setLoading] = useState(false);
  const reload = useCallback(async () => {
    setLoading(true);
    try {
      setData(await get<Page<T>>(url));
    } catch (e) {
      message.error(errText(e));
    } finally {
      setLoading(false);
    }
  }, [url, message]);
  useEffect(() => void reload(), [reload]);
  return { data, loading, reload };
}

const pager = (page: number, setPage: (n: number) => void, total: number | undefined) => ({ current: page, pageSize: 20, total: total ?? 0, onChange: setPage, showSizeChanger: false });

// ---------------------------------------------------------------- incidents

interface Incident { id: number; instanceId: string | null; elementId: string | null; kind: string; message: string; status: string; createdAt: string; resolvedAt: string | null }

const outcomeUnknown = (i: { message: string }) => /outcome unknown/i.test(i.message);

/** The incident in Chinese first; the engine's own words stay one hover away for the technician. */
function incidentSummary(i: { kind: string; message: string }): string {
  if (outcomeUnknown(i)) return t('inc.unknown.tag');
  const tries = /after (\d+) attempt/.exec(i.message)?.[1];
  const service = /^(\w+)/.exec(i.message)?.[1];
  const what = i.kind === 'delivery' ? (service === 'sms' ? t('inc.sms') : t('inc.delivery')) : tOr(`inc.kind.${i.kind}`, i.kind);
  return tries ? t('inc.failedAfter', { what, n: tries }) : what;
}

function TechDetail({ text }: { text: string }) {
  return <Tooltip title={<span style={{ fontFamily: 'monospace' }}>{text}</span>}><InfoCircleOutlined style={{ color: '#999', marginLeft: 6 }} data-testid="tech-detail" /></Tooltip>;
}

function Incidents() {
  const { message, modal } = App.useApp();
  const [status, setStatus] = useState<'open' | 'resolved'>('open');
  const [page, setPage] = useState(1);
  const { data, loading, reload } = usePaged<Incident>(`/api/incidents${qs({ status, page, pageSize: 20 })}`);
  const retry = (i: Incident) => {
    const go = async () => {
      try {
        await post(`/api/incidents/${i.id}/retry`);
        message.success(t('inc.retried'));
        await reload();
      } catch (e) {
        message.error(errText(e));
      }
    };
    if (outcomeUnknown(i)) {
      modal.confirm({
        title: t('inc.unknown.tag'), icon: <ExclamationCircleOutlined style={{ color: '#d4380d' }} />, content: <div data-testid="retry-warning">{t('inc.unknown')}</div>,
        okText: t('inc.retry'), cancelText: t('common.cancel'), okButtonProps: { danger: true, 'data-testid': 'retry-confirm' } as never, onOk: go,
      });
    } else void go();
  };
  return (
    <>
      <Space style={{ marginBottom: 12 }} wrap>
        <Select value={status} onChange={(v) => { setStatus(v); setPage(1); }} style={{ width: 140 }} data-testid="incident-status"
          options={(['open', 'resolved'] as const).map((s) => ({ value: s, label: t(`inc.status.${s}`) }))} />
        <Button onClick={() => void reload()}>{t('common.refresh')}</Button>
      </Space>
      <Table<Incident>
        rowKey="id" size="small" loading={loading} dataSource={data?.items ?? []} pagination={pager(page, setPage, data?.total)} scroll={{ x: 900 }}
        locale={{ emptyText: t('inc.none') }}
        onRow={(i) => ({ 'data-testid': 'incident-row', 'data-incident-id': i.id } as never)}
        columns={[
          { title: t('inc.created'), dataIndex: 'createdAt', render: (v) => fmtDateTime(v), width: 150 },
          { title: t('inc.kind'), dataIndex: 'kind', width: 110, render: (v: string) => tOr(`inc.kind.${v}`, v) },
          {
            title: t('inc.message'), dataIndex: 'message', render: (_, i) => (
              <span>{outcomeUnknown(i) ? <Tag color="volcano" data-testid="outcome-unknown">{t('inc.unknown.tag')}</Tag> : incidentSummary(i)}<TechDetail text={i.message} /></span>
            ),
          },
          { title: t('inc.instance'), dataIndex: 'instanceId', render: (v: string | null) => v && <a href={href(`/console/instances/${v}`)}>{t('inst.open')}</a>, width: 90 },
          { title: t('inc.status'), dataIndex: 'status', width: 90, render: (v: string) => <Tag color={v === 'open' ? 'red' : 'green'}>{t(`inc.status.${v}` as Key)}</Tag> },
          {
            title: t('common.actions'), key: 'a', width: 90,
            render: (_, i) => i.status === 'open' && <Button size="small" type="primary" danger={outcomeUnknown(i)} onClick={() => retry(i)} data-testid={`retry-${i.id}`}>{t('inc.retry')}</Button>,
          },
        ]}
      />
    </>
  );
}

// ---------------------------------------------------------------- instances

interface InstanceRow { id: string; definitionId: string; processKey: string; businessKey: string | null; departmentId: string | null; status: string; startedAt: string; endedAt: string | null; startedBy: string | null }

const versionOf = (definitionId: string) => definitionId.split(':').pop() ?? '';
const STATUSES = ['running', 'completed', 'failed', 'cancelled'];

function useDefinitions() {
  const [defs, setDefs] = useState<Definition[]>([]);
  useEffect(() => {
    get<Page<Definition>>(`/api/process-definitions${qs({ pageSize: 200, sort: 'key', order: 'asc' })}`).then((p) => setDefs(p.items), () => undefined);
  }, []);
  return defs;
}

function Instances() {
  const { departments } = useSession();
  const people = useUserNames();
  const defs = useDefinitions();
  const [filter, setFilter] = useState<{ processKey?: string; definitionId?: string; status?: string; businessKey?: string }>({ status: 'running' });
  const [page, setPage] = useState(1);
  const { data, loading } = usePaged<InstanceRow>(`/api/process-instances${qs({ ...filter, page, pageSize: 20, sort: 'startedAt', order: 'desc' })}`);
  const keys = useMemo(() => [...new Set(defs.map((d) => d.key))], [defs]);
  const set = (patch: Partial<typeof filter>) => { setFilter((f) => ({ ...f, ...patch })); setPage(1); };
  return (
    <>
      <Space style={{ marginBottom: 12 }} wrap>
        <Select allowClear placeholder={t('inst.process')} style={{ width: 200 }} value={filter.processKey} data-testid="inst-process"
          onChange={(v) => set({ processKey: v, definitionId: undefined })} options={keys.map((k) => ({ value: k, label: k }))} />
        <Select allowClear placeholder={t('inst.version')} style={{ width: 120 }} value={filter.definitionId} disabled={!filter.processKey} data-testid="inst-version"
          onChange={(v) => set({ definitionId: v })} options={defs.filter((d) => d.key === filter.processKey).map((d) => ({ value: d.id, label: `v${d.version}` }))} />
        <Select allowClear placeholder={t('inst.status')} style={{ width: 120 }} value={filter.status} data-testid="inst-status"
          onChange={(v) => set({ status: v })} options={STATUSES.map((s) => ({ value: s, label: t(`inst.status.${s}` as Key) }))} />
        <Input.Search allowClear placeholder={t('inst.businessKey')} style={{ width: 220 }} data-testid="inst-business-key" onSearch={(v) => set({ businessKey: v.trim() || undefined })} />
      </Space>
      <Table<InstanceRow>
        rowKey="id" size="small" loading={loading} dataSource={data?.items ?? []} pagination={pager(page, setPage, data?.total)} scroll={{ x: 900 }}
        onRow={(r) => ({ 'data-testid': 'instance-row', 'data-instance-id': r.id } as never)}
        columns={[
          { title: t('inst.businessKey'), dataIndex: 'businessKey', render: (v, r) => <a href={href(`/console/instances/${r.id}`)}>{v ?? r.id.slice(0, 8)}</a> },
          { title: t('inst.process'), dataIndex: 'processKey' },
          { title: t('inst.version'), dataIndex: 'definitionId', render: (v: string) => `v${versionOf(v)}`, width: 70 },
          { title: t('inst.status'), dataIndex: 'status', render: (v: string) => <InstanceStatus status={v} />, width: 90 },
          { title: t('inst.department'), dataIndex: 'departmentId', render: (v) => deptName(departments, v) },
          { title: t('inst.startedBy'), dataIndex: 'startedBy', render: (v) => people(v) },
          { title: t('inst.started'), dataIndex: 'startedAt', render: (v) => fmtDateTime(v) },
          { title: t('inst.ended'), dataIndex: 'endedAt', render: (v) => fmtDateTime(v) },
        ]}
      />
    </>
  );
}

function InstanceStatus({ status }: { status: string }) {
  const color = status === 'running' ? 'processing' : status === 'completed' ? 'green' : status === 'failed' ? 'red' : 'default';
  return <Tag color={color} data-testid="instance-status">{STATUSES.includes(status) || status === 'suspended' ? t(`inst.status.${status}` as Key) : status}</Tag>;
}

function InstanceView({ id }: { id: string }) {
  const { message } = App.useApp();
  const people = useUserNames();
  const [inst, setInst] = useState<(Instance & { incidents: Incident[] }) | null>(null);
  const [xml, setXml] = useState<string | null>(null);
  const [names, setNames] = useState<Record<string, string>>({});
  const [denied, setDenied] = useState(false);
  const [cancelOpen, setCancelOpen] = useState(false);
  const load = useCallback(async () => {
    try {
      const pi = await get<Instance & { incidents: Incident[] }>(`/api/process-instances/${id}`);
      setInst(pi);
      setXml((await get<Definition>(`/api/process-definitions/${encodeURIComponent(pi.definitionId)}`)).xml ?? '');
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 400)) setDenied(true);
      else message.error(errText(e));
    }
  }, [id, message]);
  useEffect(() => void load(), [load]);
  const done = useMemo(() => [...new Set((inst?.history ?? []).filter((h) => h.kind === 'element.end' && h.elementId).map((h) => h.elementId!))], [inst]);
  if (denied) return <NoAccess kind="case" />;
  if (!inst) return <Card loading />;
  const name = (el: string | null | undefined) => (el ? names[el] ?? el : '');
  return (
    <div data-testid="instance-view" data-instance-id={inst.id} data-status={inst.status}>
      <Card
        title={<Space wrap><a href={href('/console/instances')}>{t('console.instances')}</a>/<span>{inst.businessKey ?? inst.id}</span><InstanceStatus status={inst.status} /></Space>}
        extra={inst.status === 'running' && <Button danger onClick={() => setCancelOpen(true)} data-testid="instance-cancel">{t('inst.cancel')}</Button>}
      >
        <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
          <Descriptions.Item label={t('inst.process')}>{inst.processKey}</Descriptions.Item>
          <Descriptions.Item label={t('inst.version')}>{`v${versionOf(inst.definitionId)}`}</Descriptions.Item>
          <Descriptions.Item label={t('inst.started')}>{fmtDateTime(inst.startedAt)}</Descriptions.Item>
          {inst.endedAt && <Descriptions.Item label={t('inst.ended')}>{fmtDateTime(inst.endedAt)}</Descriptions.Item>}
          <Descriptions.Item label={t('inst.tokens')}><Space wrap size={4}>{inst.activeElements.map((a) => <Tag color="processing" key={a}>{name(a)}</Tag>)}</Space></Descriptions.Item>
        </Descriptions>
      </Card>
      <Card size="small" className="gap" title={t('case.diagram')}>
        {xml ? <Diagram xml={xml} done={done} active={inst.activeElements} overdue={[]} onNames={setNames} /> : <Card loading variant="borderless" />}
      </Card>
      {inst.incidents.length > 0 && (
        <Card size="small" className="gap" title={t('inst.incidents')}>
          <Table size="small" rowKey="id" pagination={false} dataSource={inst.incidents} columns={[
            { title: t('inc.created'), dataIndex: 'createdAt', render: (v) => fmtDateTime(v) },
            { title: t('inc.message'), dataIndex: 'message', render: (_, i: Incident) => <span>{incidentSummary(i)}<TechDetail text={i.message} /></span> },
            { title: t('inc.status'), dataIndex: 'status', render: (v: string) => <Tag color={v === 'open' ? 'red' : 'green'}>{t(`inc.status.${v}` as Key)}</Tag> },
          ]} />
        </Card>
      )}
      <Card size="small" className="gap" title={t('inst.tasks')}>
        <Table size="small" rowKey="id" pagination={false} dataSource={inst.tasks} scroll={{ x: true }} columns={[
          { title: t('inst.element'), dataIndex: 'elementId', render: (v, r) => r.name ?? name(v) },
          { title: t('inst.status'), dataIndex: 'status', render: (v: string) => tOr(`task.status.${v}`, v) },
          { title: t('tasks.assignee'), dataIndex: 'assignee', render: (v) => people(v) },
          { title: t('inst.due'), dataIndex: 'dueAt', render: (v) => fmtDateTime(v) },
        ]} />
      </Card>
      <Card size="small" className="gap" title={t('inst.timers')}>
        <Table size="small" rowKey={(r) => `${r.elementId}-${r.dueAt}`} pagination={false} dataSource={inst.timers} scroll={{ x: true }} columns={[
          { title: t('inst.element'), dataIndex: 'elementId', render: (v) => name(v) },
          { title: t('inst.due'), dataIndex: 'dueAt', render: (v) => fmtDateTime(v) },
          { title: t('inst.definition'), dataIndex: 'definition', render: (v) => v && <Typography.Text code>{String(v)}</Typography.Text> },
        ]} />
      </Card>
      <Card size="small" className="gap" title={t('inst.variables')}>
        <Table size="small" rowKey="k" pagination={false} scroll={{ x: true }} dataSource={Object.entries(inst.variables).map(([k, v]) => ({ k, v }))} columns={[
          { title: t('inst.name'), dataIndex: 'k', render: (v) => <Typography.Text code>{v}</Typography.Text>, width: 200 },
          { title: t('inst.value'), dataIndex: 'v', render: (v) => <Typography.Text code className="var-value">{JSON.stringify(v)}</Typography.Text> },
        ]} />
      </Card>
      <Card size="small" className="gap" title={t('inst.history')}>
        <Table size="small" rowKey="id" pagination={{ pageSize: 50, showSizeChanger: false }} scroll={{ x: true }} dataSource={inst.history} columns={[
          { title: t('inst.at'), dataIndex: 'at', render: (v) => fmtDateTime(v), width: 150 },
          { title: t('inst.kind'), dataIndex: 'kind', render: (v: string) => historyKind(v) },
          { title: t('inst.element'), dataIndex: 'elementId', render: (v) => name(v) },
          { title: t('inst.actor'), dataIndex: 'actor', render: (v) => people(v) },
        ]} />
      </Card>
      <CancelDialog open={cancelOpen} id={inst.id} onClose={(ok) => { setCancelOpen(false); if (ok) void load(); }} />
    </div>
  );
}

const HISTORY_KINDS = ['instance.started', 'instance.completed', 'instance.cancelled', 'instance.failed', 'instance.suspended', 'instance.resumed', 'instance.retimed',
  'element.start', 'element.end', 'task.completed', 'task.claimed', 'task.unclaimed', 'timer.fired', 'outbox.delivered', 'message.received', 'incident.retried'];

function historyKind(kind: string): string {
  return HISTORY_KINDS.includes(kind) ? t(`hist.${kind}` as Key) : t('hist.other');
}

function CancelDialog({ open, id, onClose }: { open: boolean; id: string; onClose(ok: boolean): void }) {
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  return (
    <Modal open={open} title={t('inst.cancel')} onCancel={() => onClose(false)} confirmLoading={busy} okText={t('inst.cancel')} cancelText={t('common.cancel')}
      okButtonProps={{ danger: true, 'data-testid': 'cancel-ok' } as never} destroyOnHidden
      onOk={async () => {
        const v = await form.validateFields();
        setBusy(true);
        try {
          await post(`/api/process-instances/${id}/cancel`, { reason: v.reason });
          message.success(t('common.success'));
          onClose(true);
        } catch (e) {
          message.error(errText(e));
        } finally {
          setBusy(false);
        }
      }}>
      <Alert type="warning" showIcon message={t('inst.cancel.confirm')} style={{ marginBottom: 12 }} />
      <Form form={form} layout="vertical">
        <Form.Item name="reason" label={t('inst.cancel.reason')} rules={[{ required: true, min: 2, message: t('inst.cancel.reason') }]}>
          <Input.TextArea rows={3} data-testid="cancel-reason" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

// ---------------------------------------------------------------- SMS backlog

interface Sms {
  id: number; instanceId: string | null; to: string; template: string; text: string | null; status: string; providerStatus: string | null;
  attempts: number; maxAttempts: number; lastError: string | null; nextAttemptAt: string; createdAt: string; sentAt: string | null;
}
interface Backlog { pending: number; deferred: number; failed: number; oldestPendingAt: string | null }

const isDeferred = (s: Sms) => s.status === 'pending' && !!s.lastError?.startsWith('deferred:');

/** Why a message waits, from the dispatcher's note ("deferred: quiet hours until …"), in words. */
function deferReason(s: Sms): string {
  const e = s.lastError ?? '';
  if (/quiet hours/.test(e)) return t('sms.defer.quiet', { until: fmtDateTime(s.nextAttemptAt) });
  if (/daily limit/.test(e)) return t('sms.defer.daily', { until: fmtDateTime(s.nextAttemptAt) });
  if (/identical content/.test(e)) return t('sms.defer.repeat');
  return t('sms.defer.other');
}

function SmsBacklog() {
  const [status, setStatus] = useState<'pending' | 'failed' | 'sent'>('pending');
  const [page, setPage] = useState(1);
  const [backlog, setBacklog] = useState<Backlog | null>(null);
  const { data, loading, reload } = usePaged<Sms>(`/api/sms${qs({ status, page, pageSize: 20, sort: 'createdAt', order: 'asc' })}`);
  useEffect(() => {
    get<Backlog>('/api/sms/backlog').then(setBacklog, () => undefined);
  }, [data]);
  return (
    <>
      {backlog && (
        <Alert className="sms-backlog" data-testid="sms-backlog" style={{ marginBottom: 12 }} showIcon
          type={backlog.failed ? 'error' : backlog.pending ? 'warning' : 'success'}
          message={t('sms.backlog', { pending: backlog.pending, deferred: backlog.deferred, failed: backlog.failed })}
          description={backlog.oldestPendingAt ? t('sms.oldest', { at: fmtDateTime(backlog.oldestPendingAt) }) : undefined} />
      )}
      <Space style={{ marginBottom: 12 }}>
        <Select value={status} onChange={(v) => { setStatus(v); setPage(1); }} style={{ width: 140 }} data-testid="sms-status"
          options={(['pending', 'failed', 'sent'] as const).map((s) => ({ value: s, label: t(`sms.status.${s}`) }))} />
        <Button onClick={() => void reload()}>{t('common.refresh')}</Button>
      </Space>
      <Table<Sms>
        rowKey="id" size="small" loading={loading} dataSource={data?.items ?? []} pagination={pager(page, setPage, data?.total)} scroll={{ x: 1000 }}
        onRow={(s) => ({ 'data-testid': 'sms-row', 'data-sms-id': s.id } as never)}
        columns={[
          { title: t('sms.created'), dataIndex: 'createdAt', render: (v) => fmtDateTime(v), width: 150 },
          { title: t('sms.kind'), dataIndex: 'template', render: (v: string) => smsKind(v), width: 100 },
          { title: t('sms.to'), dataIndex: 'to', width: 130 },
          { title: t('sms.text'), dataIndex: 'text', ellipsis: true },
          { title: t('sms.status'), dataIndex: 'status', width: 100, render: (v: string, s) => <SmsStatusTag status={v} deferred={isDeferred(s)} /> },
          {
            title: t('sms.reason'), key: 'why', render: (_, s) => isDeferred(s)
              ? deferReason(s)
              : s.status === 'failed'
                ? <span>{t('sms.failedAfter', { n: s.attempts })}{s.lastError && <TechDetail text={s.lastError} />}</span>
                : s.lastError
                  ? <span>{t('sms.retrying', { at: fmtDateTime(s.nextAttemptAt) })}<TechDetail text={s.lastError} /></span>
                  : <ProviderStatusTag status={s.providerStatus} />,
          },
          { title: t('sms.attempts'), key: 'n', width: 80, render: (_, s) => `${s.attempts}/${s.maxAttempts}` },
          { title: t('timers.case'), dataIndex: 'instanceId', width: 80, render: (v: string | null) => v && <a href={href(`/console/instances/${v}`)}>{t('inst.open')}</a> },
        ]}
      />
    </>
  );
}

// ---------------------------------------------------------------- timers

interface TimerRow { id: number; instanceId: string; elementId: string; definition: string | null; dueAt: string; processKey: string; businessKey: string | null; caseNumber: string | null }

function Timers() {
  const [hours, setHours] = useState(24);
  const [page, setPage] = useState(1);
  const { data, loading } = usePaged<TimerRow>(`/api/timers${qs({ withinHours: hours, page, pageSize: 20 })}`);
  return (
    <>
      <Space style={{ marginBottom: 12 }}>
        {t('timers.window')}
        <Select value={hours} onChange={(v) => { setHours(v); setPage(1); }} style={{ width: 120 }} data-testid="timers-window"
          options={[1, 8, 24, 72, 168].map((n) => ({ value: n, label: t('timers.hours', { n }) }))} />
      </Space>
      <Table<TimerRow>
        rowKey="id" size="small" loading={loading} dataSource={data?.items ?? []} pagination={pager(page, setPage, data?.total)} scroll={{ x: 800 }}
        locale={{ emptyText: t('timers.none') }}
        onRow={() => ({ 'data-testid': 'timer-row' } as never)}
        columns={[
          { title: t('inst.due'), dataIndex: 'dueAt', render: (v: string) => <Typography.Text type={new Date(v).getTime() < Date.now() ? 'danger' : undefined}>{fmtDateTime(v)}</Typography.Text> },
          { title: t('timers.case'), dataIndex: 'caseNumber', render: (v, r) => <a href={href(`/console/instances/${r.instanceId}`)}>{v ?? r.businessKey ?? r.instanceId.slice(0, 8)}</a> },
          { title: t('inst.process'), dataIndex: 'processKey' },
          { title: t('inst.element'), dataIndex: 'elementId', render: (v) => <Typography.Text code>{v}</Typography.Text> },
          { title: t('inst.definition'), dataIndex: 'definition', render: (v) => v && <Typography.Text code>{v}</Typography.Text> },
        ]}
      />
    </>
  );
}

// ---------------------------------------------------------------- definitions

function Definitions() {
  const { message } = App.useApp();
  const people = useUserNames();
  const [page, setPage] = useState(1);
  const [key, setKey] = useState<string | undefined>();
  const { data, loading, reload } = usePaged<Definition>(`/api/process-definitions${qs({ key, page, pageSize: 20, sort: 'key', order: 'asc' })}`);
  const all = useDefinitions();
  const toggle = async (d: Definition) => {
    try {
      await post(`/api/process-definitions/${encodeURIComponent(d.id)}/${d.suspendedAt ? 'activate' : 'suspend'}`);
      message.success(t('common.success'));
      await reload();
    } catch (e) {
      message.error(errText(e));
    }
  };
  return (
    <>
      <Space style={{ marginBottom: 12 }} wrap>
        <Select allowClear placeholder={t('def.key')} style={{ width: 220 }} value={key} onChange={(v) => { setKey(v); setPage(1); }}
          options={[...new Set(all.map((d) => d.key))].map((k) => ({ value: k, label: k }))} />
        <Typography.Text type="secondary">{t('def.suspend.hint')}</Typography.Text>
      </Space>
      <Table<Definition>
        rowKey="id" size="small" loading={loading} dataSource={data?.items ?? []} pagination={pager(page, setPage, data?.total)} scroll={{ x: 900 }}
        onRow={(d) => ({ 'data-testid': 'definition-row', 'data-definition-id': d.id } as never)}
        columns={[
          { title: t('def.key'), dataIndex: 'key' },
          { title: t('def.name'), dataIndex: 'name' },
          { title: t('def.version'), dataIndex: 'version', render: (v) => `v${v}`, width: 70 },
          { title: t('def.note'), dataIndex: 'note', render: (v: string | null) => noteText(v) },
          { title: t('def.deployedBy'), dataIndex: 'deployedBy', render: (v) => people(v) },
          { title: t('def.deployedAt'), dataIndex: 'deployedAt', render: (v) => fmtDateTime(v) },
          { title: t('def.state'), dataIndex: 'suspendedAt', render: (v) => <Tag color={v ? 'default' : 'green'} data-testid="definition-state">{t(v ? 'def.suspended' : 'def.active')}</Tag> },
          {
            title: t('common.actions'), key: 'a', render: (_, d) => (
              <Space size="small">
                <Button size="small" href={href(`/designer/${encodeURIComponent(d.id)}`)}>{t('def.open')}</Button>
                <Popconfirm title={d.suspendedAt ? t('def.activate') : t('def.suspend.hint')} okText={t('common.ok')} cancelText={t('common.cancel')} onConfirm={() => toggle(d)}>
                  <Button size="small" danger={!d.suspendedAt} data-testid={`definition-toggle-${d.id}`}>{t(d.suspendedAt ? 'def.activate' : 'def.suspend')}</Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]}
      />
    </>
  );
}

// ---------------------------------------------------------------- audit

interface AuditRow { id: number; at: string; actor: string | null; action: string; entityType: string; entityId: string | null; before: unknown; after: unknown; hash: string }

function Audit() {
  const { message } = App.useApp();
  const people = useUserNames();
  const [page, setPage] = useState(1);
  const [filter, setFilter] = useState<{ actor?: string; action?: string; entityId?: string }>({});
  const [verdict, setVerdict] = useState<{ ok: boolean; rows: number; brokenId?: number } | null>(null);
  const { data, loading } = usePaged<AuditRow>(`/api/audit${qs({ ...filter, page, pageSize: 20, sort: 'id', order: 'desc' })}`);
  const verify = async () => {
    try {
      setVerdict(await get<{ ok: boolean; rows: number; brokenId?: number }>('/api/audit/verify'));
    } catch (e) {
      message.error(errText(e));
    }
  };
  const set = (patch: Partial<typeof filter>) => { setFilter((f) => ({ ...f, ...patch })); setPage(1); };
  return (
    <>
      <Space style={{ marginBottom: 12 }} wrap>
        <Input.Search allowClear placeholder={t('audit.filter.actor')} style={{ width: 160 }} onSearch={(v) => set({ actor: v.trim() || undefined })} />
        <Input.Search allowClear placeholder={t('audit.filter.action')} style={{ width: 180 }} onSearch={(v) => set({ action: v.trim() || undefined })} />
        <Input.Search allowClear placeholder={t('audit.filter.entity')} style={{ width: 220 }} onSearch={(v) => set({ entityId: v.trim() || undefined })} />
        <Button type="primary" onClick={verify} data-testid="audit-verify">{t('audit.verify')}</Button>
      </Space>
      {verdict && (
        <Alert style={{ marginBottom: 12 }} showIcon type={verdict.ok ? 'success' : 'error'} data-testid="audit-verdict"
          message={verdict.ok ? t('audit.ok', { n: verdict.rows }) : t('audit.broken', { id: verdict.brokenId ?? '?' })} />
      )}
      <Table<AuditRow>
        rowKey="id" size="small" loading={loading} dataSource={data?.items ?? []} pagination={pager(page, setPage, data?.total)} scroll={{ x: 900 }}
        expandable={{ expandedRowRender: (r) => <pre className="audit-json">{JSON.stringify({ before: r.before, after: r.after }, null, 2)}</pre> }}
        onRow={() => ({ 'data-testid': 'audit-row' } as never)}
        columns={[
          { title: t('audit.at'), dataIndex: 'at', render: (v) => fmtDateTime(v), width: 150 },
          { title: t('audit.actor'), dataIndex: 'actor', render: (v) => people(v) },
          { title: t('audit.action'), dataIndex: 'action', render: (v) => <Typography.Text code>{v}</Typography.Text> },
          { title: t('audit.entity'), key: 'e', render: (_, r) => <Typography.Text code>{r.entityType}{r.entityId ? ` ${r.entityId}` : ''}</Typography.Text> },
        ]}
      />
    </>
  );
}

// ---------------------------------------------------------------- API tokens

interface Token { id: string; name: string; userId: string; scopes: string[]; createdAt: string; revokedAt: string | null; lastUsedAt: string | null }
const SCOPES = ['read', 'instances:write', 'tasks:write', 'messages:write', 'deploy', 'admin', 'metrics'];

function Tokens() {
  const { message } = App.useApp();
  const [page, setPage] = useState(1);
  const [users, setUsers] = useState<{ id: string; username: string; displayName: string }[]>([]);
  const [open, setOpen] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [form] = Form.useForm();
  const { data, loading, reload } = usePaged<Token>(`/api/tokens${qs({ page, pageSize: 20, sort: 'createdAt', order: 'desc' })}`);
  useEffect(() => {
    get<Page<{ id: string; username: string; displayName: string }>>(`/api/users${qs({ pageSize: 200 })}`).then((p) => setUsers(p.items), () => undefined);
  }, []);
  const userName = (id: string) => users.find((u) => u.id === id)?.displayName ?? id;
  const revoke = async (tok: Token) => {
    try {
      await del(`/api/tokens/${tok.id}`);
      message.success(t('common.success'));
      await reload();
    } catch (e) {
      message.error(errText(e));
    }
  };
  return (
    <>
      <Space style={{ marginBottom: 12 }}><Button type="primary" onClick={() => { form.resetFields(); setOpen(true); }} data-testid="token-new">{t('tok.new')}</Button></Space>
      {secret && <Alert type="warning" showIcon closable onClose={() => setSecret(null)} style={{ marginBottom: 12 }} message={t('tok.secret')}
        description={<Typography.Text code copyable data-testid="token-secret">{secret}</Typography.Text>} />}
      <Table<Token>
        rowKey="id" size="small" loading={loading} dataSource={data?.items ?? []} pagination={pager(page, setPage, data?.total)} scroll={{ x: 900 }}
        onRow={() => ({ 'data-testid': 'token-row' } as never)}
        columns={[
          { title: t('tok.name'), dataIndex: 'name' },
          { title: t('tok.user'), dataIndex: 'userId', render: (v: string) => userName(v) },
          { title: t('tok.scopes'), dataIndex: 'scopes', render: (v: string[]) => <Space size={2} wrap>{v.map((s) => <Tag key={s}>{scopeLabel(s)}</Tag>)}</Space> },
          { title: t('tok.created'), dataIndex: 'createdAt', render: (v) => fmtDateTime(v) },
          { title: t('tok.lastUsed'), dataIndex: 'lastUsedAt', render: (v) => fmtDateTime(v) },
          { title: t('def.state'), dataIndex: 'revokedAt', render: (v) => (v ? <Tag>{t('tok.revoked')} {fmtDateTime(v)}</Tag> : <Tag color="green">{t('tok.active')}</Tag>) },
          {
            title: t('common.actions'), key: 'a', render: (_, tok) => !tok.revokedAt && (
              <Popconfirm title={t('tok.revoke.confirm')} okText={t('tok.revoke')} cancelText={t('common.cancel')} onConfirm={() => revoke(tok)}>
                <Button size="small" danger>{t('tok.revoke')}</Button>
              </Popconfirm>
            ),
          },
        ]}
      />
      <Modal open={open} title={t('tok.new')} okText={t('common.ok')} cancelText={t('common.cancel')} onCancel={() => setOpen(false)} destroyOnHidden
        onOk={async () => {
          const v = await form.validateFields();
          try {
            const r = await post<{ id: string; token: string }>('/api/tokens', { name: v.name, userId: v.userId, scopes: v.scopes });
            setSecret(r.token);
            setOpen(false);
            await reload();
          } catch (e) {
            message.error(errText(e));
          }
        }}>
        <Form form={form} layout="vertical">
          <Form.Item name="name" label={t('tok.name')} rules={[{ required: true, max: 80, message: t('tok.name') }]}><Input /></Form.Item>
          <Form.Item name="userId" label={t('tok.user')} rules={[{ required: true, message: t('tok.user') }]}>
            <Select showSearch optionFilterProp="label" options={users.map((u) => ({ value: u.id, label: `${u.displayName}(${u.username})` }))} />
          </Form.Item>
          <Form.Item name="scopes" label={t('tok.scopes')} rules={[{ required: true, message: t('tok.scopes') }]}>
            <Select mode="multiple" options={SCOPES.map((s) => ({ value: s, label: scopeLabel(s) }))} />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}

function scopeLabel(s: string): string {
  return SCOPES.includes(s) ? t(`scope.${s}` as Key) : s;
}

import { useCallback, useEffect, useMemo, useState } from 'react';
import { PauseCircleOutlined, PlayCircleOutlined } from '@ant-design/icons';
import { App, Button, Card, Col, DatePicker, Descriptions, Form, Input, Modal, Row, Select, Space, Table, Tag, Timeline, Typography } from 'antd';
import { ApiError, get, post, qs, type CaseDetail, type Definition, type HistoryEntry, type Instance, type Page, type Supervision, type Task, errText } from '../api';
import { t } from '../i18n';
import { deptName, hasRole, useSession } from '../session';
import { LightTag } from '../components/LightTag';
import { Diagram } from '../components/Diagram';
import { TaskFormModal, type FormTask } from '../components/TaskForm';
import { fmtDateTime, fmtRemaining } from '../format';
import { NoAccess } from '../components/NoAccess';
import { smsKind, SmsStatusTag, ProviderStatusTag } from '../components/SmsTags';
import { useUserNames } from '../names';

const xmlCache = new Map<string, string>();

export function CaseDetailPage({ id }: { id: string }) {
  const { me, departments } = useSession();
  const { message } = App.useApp();
  const [c, setCase] = useState<CaseDetail | null>(null);
  const [inst, setInst] = useState<Instance | null>(null);
  const [xml, setXml] = useState<string | null>(null);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [sup, setSup] = useState<Supervision | null>(null);
  const [names, setNames] = useState<Record<string, string>>({});
  const [dialog, setDialog] = useState<null | 'suspend' | 'resume' | 'urge' | 'followup' | 'close'>(null);
  const [formTask, setFormTask] = useState<FormTask | null>(null);
  const [denied, setDenied] = useState(false);
  const people = useUserNames();
  const canInspect = hasRole(me, 'admin', 'inspector', 'leader');
  const canAct = hasRole(me, 'clerk', 'admin');

  const load = useCallback(async () => {
    const [cd, pi] = await Promise.all([get<CaseDetail>(`/api/cases/${id}`), get<Instance>(`/api/process-instances/${id}`)]);
    setCase(cd);
    setInst(pi);
    const open = hasRole(me, 'clerk') ? await get<Page<Task>>(`/api/tasks${qs({ instanceId: id, pageSize: 50 })}`) : null;
    setTasks(open?.items ?? []);
    if (!xmlCache.has(pi.definitionId)) xmlCache.set(pi.definitionId, (await get<Definition>(`/api/process-definitions/${encodeURIComponent(pi.definitionId)}`)).xml ?? '');
    setXml(xmlCache.get(pi.definitionId)!);
    if (cd.supervision && canInspect) setSup(await get<Supervision>(`/api/supervisions/${cd.supervision.id}`));
    else setSup(null);
  }, [id, me, canInspect]);

  useEffect(() => {
    load().catch((e) => {
      // Another department's case is a 404 to a clerk (its existence is not revealed): say so instead of loading forever.
      if (e instanceof ApiError && (e.status === 404 || e.status === 403)) setDenied(true);
      else message.error(errText(e));
    });
  }, [load, message]);

  const done = useMemo(() => [...new Set((inst?.history ?? []).filter((h) => h.kind === 'element.end' && h.elementId).map((h) => h.elementId!))], [inst]);
  const active = inst?.activeElements ?? [];
  const overdue = useMemo(() => {
    const now = Date.now();
    const late = (inst?.tasks ?? []).filter((x) => x.status === 'open' && x.dueAt && new Date(x.dueAt).getTime() < now).map((x) => x.elementId);
    return c?.light === 'red' && late.length === 0 ? active.filter((a) => a !== 'supervise') : late;
  }, [inst, c, active]);

  if (denied) return <NoAccess kind="case" />;
  if (!c || !inst) return <Card loading />;

  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      message.success(t('common.success'));
      setDialog(null);
      await load();
    } catch (e) {
      message.error(errText(e));
      throw e;
    }
  };

  return (
    <div data-testid="case-detail" data-case-id={c.id} data-light={c.light}>
      <Card
        title={<Space wrap><span data-testid="case-number">{c.number}</span><LightTag light={c.light} /></Space>}
        extra={canAct && (c.status === 'handling' || c.status === 'suspended') && (
          c.status === 'suspended'
            ? <Button onClick={() => setDialog('resume')} data-testid="case-resume">{t('case.resume')}</Button>
            : <Button onClick={() => setDialog('suspend')} data-testid="case-suspend">{t('case.suspend')}</Button>
        )}
      >
        <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
          <Descriptions.Item label={t('case.item')}>{c.itemName}</Descriptions.Item>
          <Descriptions.Item label={t('case.department')}>{deptName(departments, c.departmentId)}</Descriptions.Item>
          <Descriptions.Item label={t('case.applicant')}>{c.applicantName}</Descriptions.Item>
          <Descriptions.Item label={t('case.received')}>{fmtDateTime(c.receivedAt)}</Descriptions.Item>
          <Descriptions.Item label={t('case.promised')}>{fmtDateTime(c.promisedAt)}</Descriptions.Item>
          <Descriptions.Item label={t('case.status')}>{t(`case.status.${c.status}` as never)}{c.suspendedDays ? ` · ${t('case.suspendedDays', { n: c.suspendedDays })}` : ''}</Descriptions.Item>
          {c.status !== 'completed' && <Descriptions.Item label={t('case.remaining')}><Typography.Text type={c.remaining.overdue ? 'danger' : undefined} data-testid="case-remaining">{fmtRemaining(c.remaining)}</Typography.Text></Descriptions.Item>}
          {c.completedAt && <Descriptions.Item label={t('case.completedAt')}>{fmtDateTime(c.completedAt)}</Descriptions.Item>}
          {c.result && <Descriptions.Item label={t('case.result')}>{c.result}</Descriptions.Item>}
        </Descriptions>
      </Card>

      {tasks.length > 0 && (
        <Card size="small" title={t('case.tasks')} className="gap">
          <Space wrap>
            {tasks.map((task) => (
              <Space key={task.id} className="case-task" data-testid="case-task" data-element-id={task.elementId}>
                <Tag color="processing">{task.name}</Tag>
                <Typography.Text type="secondary">{fmtDateTime(task.dueAt)}</Typography.Text>
                <Button size="small" type="primary" onClick={() => setFormTask(task)} data-testid={`case-complete-${task.elementId}`}>{t('tasks.complete')}</Button>
              </Space>
            ))}
          </Space>
        </Card>
      )}

      <Card size="small" title={t('case.diagram')} className="gap">
        {xml ? <Diagram xml={xml} done={done} active={active} overdue={overdue} onNames={setNames} /> : <Card loading variant="borderless" />}
      </Card>

      <Row gutter={[12, 12]} className="gap">
        <Col xs={24} lg={sup || canInspect ? 12 : 24}>
          <Card size="small" title={t('case.timeline')} data-testid="case-timeline">
            <Timeline items={timelineItems(inst.history, { ...taskNames(inst), ...names }, c, people)} />
          </Card>
        </Col>
        {(sup || canInspect) && (
          <Col xs={24} lg={12}>
            {sup && <SupervisionCard sup={sup} canAct={hasRole(me, 'inspector')} onAction={setDialog} />}
            {canInspect && (
              <Card size="small" title={t('case.sms')} className={sup ? 'gap' : ''} data-testid="case-sms">
                <Table
                  size="small"
                  rowKey={(r) => `${r.to}-${r.template}-${r.createdAt}`}
                  pagination={false}
                  dataSource={c.sms}
                  scroll={{ x: true }}
                  columns={[
                    { title: t('case.sms.to'), dataIndex: 'to' },
                    { title: t('case.sms.template'), dataIndex: 'template', render: (v: string) => smsKind(v) },
                    { title: t('case.sms.status'), dataIndex: 'status', render: (v: string) => <SmsStatusTag status={v} /> },
                    { title: t('case.sms.provider'), dataIndex: 'providerStatus', render: (v: string | null) => <ProviderStatusTag status={v} /> },
                    { title: t('case.sms.sentAt'), dataIndex: 'sentAt', render: (v) => fmtDateTime(v) },
                  ]}
                />
              </Card>
            )}
          </Col>
        )}
      </Row>

      {c.suspensions.length > 0 && (
        <Card size="small" title={t('case.suspensions')} className="gap">
          <Table size="small" rowKey="startedAt" pagination={false} dataSource={c.suspensions} columns={[
            { title: t('case.suspend.kind'), dataIndex: 'kind', render: (v) => t(v === 'special' ? 'case.suspend.special' : 'case.suspend.supplement') },
            { title: t('case.suspend.reason'), dataIndex: 'reason' },
            { title: <Space size={4}><PauseCircleOutlined />{t('case.suspend.started')}</Space>, dataIndex: 'startedAt', render: (v) => fmtDateTime(v) },
            { title: <Space size={4}><PlayCircleOutlined />{t('case.suspend.ended')}</Space>, dataIndex: 'endedAt', render: (v) => fmtDateTime(v) },
          ]} />
        </Card>
      )}

      <TaskFormModal task={formTask} username={me.username} onClose={(ok) => { setFormTask(null); if (ok) load(); }} />
      {dialog === 'suspend' && (
        <FormDialog title={t('case.suspend')} testid="suspend-dialog" onCancel={() => setDialog(null)} initial={{ kind: 'supplement' }}
          onOk={(v) => act(() => post(`/api/cases/${c.id}/suspend`, v))}>
          <Form.Item name="kind" label={t('case.suspend.kind')} rules={[{ required: true }]}>
            <Select options={[{ value: 'supplement', label: t('case.suspend.supplement') }, { value: 'special', label: t('case.suspend.special') }]} />
          </Form.Item>
          <Form.Item name="reason" label={t('case.suspend.reason')} rules={[{ required: true, min: 2 }]}><Input.TextArea rows={3} data-testid="suspend-reason" /></Form.Item>
        </FormDialog>
      )}
      {dialog === 'resume' && (
        <FormDialog title={t('case.resume')} testid="resume-dialog" onCancel={() => setDialog(null)} onOk={(v) => act(() => post(`/api/cases/${c.id}/resume`, v))}>
          <Form.Item name="note" label={t('case.resume.note')}><Input.TextArea rows={3} data-testid="resume-note" /></Form.Item>
        </FormDialog>
      )}
      {sup && dialog === 'urge' && (
        <FormDialog title={t('sup.urge')} testid="urge-dialog" onCancel={() => setDialog(null)} initial={{ content: `${c.itemName}(${c.number})${t('sup.urge.default')}` }}
          onOk={(v) => act(() => post(`/api/supervisions/${sup.id}/urge`, { content: v.content, ...(v.replyBy ? { replyBy: (v.replyBy as { toISOString(): string }).toISOString() } : {}) }))}>
          <Form.Item name="content" label={t('sup.urge.content')} rules={[{ required: true, min: 2 }]}><Input.TextArea rows={4} data-testid="urge-content" /></Form.Item>
          <Form.Item name="replyBy" label={t('sup.urge.replyBy')}><DatePicker showTime data-testid="urge-reply-by" /></Form.Item>
        </FormDialog>
      )}
      {sup && dialog === 'followup' && (
        <FormDialog title={t('sup.followup')} testid="followup-dialog" onCancel={() => setDialog(null)}
          onOk={(v) => act(() => post(`/api/supervisions/${sup.id}/follow-up`, { at: (v.at as { toISOString(): string }).toISOString() }))}>
          <Form.Item name="at" label={t('sup.followup.at')} rules={[{ required: true }]}><DatePicker showTime data-testid="followup-at" /></Form.Item>
        </FormDialog>
      )}
      {sup && dialog === 'close' && (
        <FormDialog title={t('sup.close')} testid="close-dialog" onCancel={() => setDialog(null)} onOk={(v) => act(() => post(`/api/supervisions/${sup.id}/close`, v))}>
          <Form.Item name="result" label={t('sup.close.result')} rules={[{ required: true, min: 2 }]}><Input.TextArea rows={3} data-testid="close-result" /></Form.Item>
        </FormDialog>
      )}
    </div>
  );
}

function SupervisionCard({ sup, canAct, onAction }: { sup: Supervision; canAct: boolean; onAction(a: 'urge' | 'followup' | 'close'): void }) {
  const people = useUserNames();
  return (
    <Card size="small" title={<Space>{t('sup.panel')}<Tag color={sup.status === 'open' ? 'red' : 'green'} data-testid="supervision-status">{t(sup.status === 'open' ? 'sup.status.open' : 'sup.status.closed')}</Tag></Space>}
      data-testid="supervision-card"
      extra={canAct && sup.status === 'open' && (
        <Space size="small" wrap>
          <Button size="small" type="primary" danger onClick={() => onAction('urge')} data-testid="sup-urge">{t('sup.urge')}</Button>
          <Button size="small" onClick={() => onAction('followup')} data-testid="sup-followup">{t('sup.followup')}</Button>
          <Button size="small" onClick={() => onAction('close')} data-testid="sup-close">{t('sup.close')}</Button>
        </Space>
      )}>
      <Descriptions size="small" column={1}>
        <Descriptions.Item label={t('sup.number')}>{sup.number}</Descriptions.Item>
        <Descriptions.Item label={t('sup.content')}>{sup.content}</Descriptions.Item>
        <Descriptions.Item label={t('sup.age')}>{t('sup.ageHours', { n: sup.ageHours })}</Descriptions.Item>
        {sup.followUpAt && <Descriptions.Item label={t('sup.followUp')}>{fmtDateTime(sup.followUpAt)}</Descriptions.Item>}
        {sup.result && <Descriptions.Item label={t('sup.result')}><span data-testid="supervision-result">{sup.result}</span></Descriptions.Item>}
      </Descriptions>
      {(sup.urgingNotices ?? []).length > 0 && (
        <>
          <Typography.Text strong>{t('sup.notices')}</Typography.Text>
          <ul className="notices" data-testid="urging-notices">
            {(sup.urgingNotices ?? []).map((u, i) => (
              <li key={i} data-testid="urging-notice">
                <Typography.Text type="secondary">{fmtDateTime(u.issuedAt)} · {people(u.issuedBy)}</Typography.Text>
                <div>{u.content}</div>
              </li>
            ))}
          </ul>
        </>
      )}
    </Card>
  );
}

/** Step names known before the diagram has loaded: the tasks carry them. */
function taskNames(inst: Instance): Record<string, string> {
  return Object.fromEntries(inst.tasks.filter((x) => x.name).map((x) => [x.elementId, x.name!]));
}

const VALUE_KEYS = ['pass', 'fail', 'approve', 'reject', 'accept', 'refuse', 'supplement', 'return', 'back', 'special', 'true', 'false'] as const;

/** Decision codes stored by forms (reviewResult: "pass") read as words in the history. */
function valueLabel(v: unknown): string {
  const s = String(v);
  return (VALUE_KEYS as readonly string[]).includes(s) ? t(`value.${s}` as never) : s;
}

function FormDialog({ title, testid, initial, onOk, onCancel, children }: {
  title: string; testid: string; initial?: Record<string, unknown>; onOk(values: Record<string, unknown>): Promise<unknown>; onCancel(): void; children: React.ReactNode;
}) {
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  return (
    <Modal open title={title} onCancel={onCancel} confirmLoading={busy} okText={t('common.ok')} cancelText={t('common.cancel')}
      okButtonProps={{ 'data-testid': `${testid}-ok` } as never}
      onOk={async () => {
        const v = await form.validateFields();
        setBusy(true);
        try {
          await onOk(v);
        } catch {
          /* shown by the caller */
        } finally {
          setBusy(false);
        }
      }}>
      <Form form={form} layout="vertical" initialValues={initial} data-testid={testid}>{children}</Form>
    </Modal>
  );
}

function timelineItems(history: HistoryEntry[], names: Record<string, string>, c: CaseDetail, people: (u: string | null) => string) {
  const items: { at: string; color: string; title: string; content?: string }[] = [];
  const name = (id: string | null) => (id ? names[id] ?? id : '');
  for (const h of history) {
    const by = h.actor && h.actor !== 'system' ? ` · ${t('timeline.by', { who: people(h.actor) })}` : '';
    switch (h.kind) {
      case 'instance.started': items.push({ at: h.at, color: 'blue', title: t('timeline.started') }); break;
      case 'instance.completed': items.push({ at: h.at, color: 'green', title: t('timeline.completed') }); break;
      case 'element.start':
        if (h.elementType === 'bpmn:UserTask') items.push({ at: h.at, color: 'blue', title: `${t('timeline.enter')} ${name(h.elementId)}` });
        break;
      case 'task.completed': {
        const out = (h.data?.output ?? {}) as Record<string, unknown>;
        const text = Object.values(out).filter((v) => typeof v === 'string' || typeof v === 'boolean').map(valueLabel).join(' · ');
        items.push({ at: h.at, color: 'green', title: `${t('timeline.leave')} ${name(h.elementId)}${by}`, content: text || undefined });
        break;
      }
      case 'element.end':
        if (h.elementType === 'bpmn:ServiceTask' || (h.elementType === 'bpmn:EndEvent' && names[h.elementId ?? ''])) items.push({ at: h.at, color: 'gray', title: `${t('timeline.leave')} ${name(h.elementId)}` });
        break;
      case 'timer.fired': items.push({ at: h.at, color: h.elementId === 'deadline_timer' ? 'red' : 'orange', title: `${t('timeline.timer')} ${name(h.elementId)}` }); break;
      case 'outbox.delivered':
        if ((h.data as { service?: string } | null)?.service === 'sms') items.push({ at: h.at, color: 'gray', title: t('timeline.sms'), content: String(((h.data as { result?: { text?: string } }).result?.text) ?? '') });
        break;
      case 'instance.suspended': items.push({ at: h.at, color: 'gray', title: t('timeline.suspended') }); break;
      case 'instance.resumed': items.push({ at: h.at, color: 'blue', title: t('timeline.resumed') }); break;
      case 'instance.cancelled': items.push({ at: h.at, color: 'gray', title: `${t('timeline.cancelled')}${by}` }); break;
      case 'instance.retimed': items.push({ at: h.at, color: 'gray', title: t('timeline.retimed') }); break;
      case 'task.claimed': items.push({ at: h.at, color: 'gray', title: `${t('timeline.claimed')} ${name(h.elementId)}${by}` }); break;
      case 'task.unclaimed': items.push({ at: h.at, color: 'gray', title: `${t('timeline.unclaimed')} ${name(h.elementId)}${by}` }); break;
      case 'comment': case 'task.comment': case 'case.comment':
        items.push({ at: h.at, color: 'blue', title: `${t('timeline.comment')}${by}`, content: String((h.data as { text?: unknown } | null)?.text ?? '') }); break;
    }
  }
  for (const s of c.suspensions) {
    if (!history.some((h) => h.kind === 'instance.suspended')) items.push({ at: s.startedAt, color: 'gray', title: `${t('timeline.suspended')} · ${s.reason}` });
  }
  items.sort((a, b) => a.at.localeCompare(b.at));
  return items.map((i, n) => ({
    key: n,
    color: i.color,
    content: (
      <div data-testid="timeline-entry">
        <div>{i.title}</div>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>{fmtDateTime(i.at)}</Typography.Text>
        {i.content && <div className="tl-content">{i.content}</div>}
      </div>
    ),
  }));
}

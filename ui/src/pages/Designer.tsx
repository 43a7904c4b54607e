/* eslint-disable @typescript-eslint/no-explicit-any */
import { useCallback, useEffect, useRef, useState } from 'react';
import { App, Button, Card, Collapse, Empty, Form, Input, InputNumber, List, Modal, Radio, Select, Space, Tag, Typography } from 'antd';
import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule } from 'bpmn-js-properties-panel';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import { ElementTemplatesPropertiesProviderModule } from 'bpmn-js-element-templates';
import 'bpmn-js-element-templates/dist/assets/element-templates.css';
import { dubanTemplates } from '../designer/templates';
import FeelEditor from '@bpmn-io/feel-editor';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import { selfAndAllChildren } from 'diagram-js/lib/util/Elements';
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import { ApiError, get, post, qs, type Definition, type Page, type Problem } from '../api';
import { t } from '../i18n';
import { navigate } from '../router';
import { fmtDateTime } from '../format';
import { VersionDiff } from './VersionDiff';

const EMPTY = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_new" targetNamespace="https://duban.dev/processes">
  <bpmn:process id="new-process" name="新流程" isExecutable="true">
    <bpmn:startEvent id="start" name="开始"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="new-process">
    <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="160" width="36" height="36"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>`;

const WORKING_DAYS = /^\s*=\s*workingDays\(\s*(\d+)\s*\)\s*$/;

type Shape = any;

/** The process designer (admins only; its own bundle): bpmn-js Modeler, Camunda properties, Duban's friendly fields, live validation, deploy. */
export default function DesignerPage({ definitionId }: { definitionId?: string }) {
  const { message } = App.useApp();
  const canvasRef = useRef<HTMLDivElement>(null);
  const propsRef = useRef<HTMLDivElement>(null);
  const modelerRef = useRef<any>(null);
  const [versions, setVersions] = useState<Definition[]>([]);
  const [current, setCurrent] = useState<Definition | null>(null);
  const [selected, setSelected] = useState<Shape | null>(null);
  const [tick, setTick] = useState(0);
  const [problems, setProblems] = useState<{ errors: Problem[]; warnings: Problem[] } | null>(null);
  const [validating, setValidating] = useState(false);
  const [deployOpen, setDeployOpen] = useState(false);
  const [deploying, setDeploying] = useState(false);
  const [ready, setReady] = useState(false);
  const [diffOpen, setDiffOpen] = useState(false);
  const [chooseFor, setChooseFor] = useState<Shape | null>(null);
  const lintTimer = useRef<number | undefined>(undefined);
  const lintSeq = useRef(0);
  const [formKeys, setFormKeys] = useState<string[]>([]);
  useEffect(() => {
    get<Page<{ key: string }>>(`/api/forms${qs({ pageSize: 200, sort: 'key', order: 'asc' })}`).then((p) => setFormKeys(p.items.map((f) => f.key)), () => undefined);
  }, []);

  const loadVersions = useCallback(async () => {
    const p = await get<Page<Definition>>(`/api/process-definitions${qs({ pageSize: 100, sort: 'deployedAt', order: 'desc' })}`);
    setVersions(p.items);
    return p.items;
  }, []);

  // Live validation: the server's own rules (bpmnlint with its config, structure and engine checks), shown on the elements.
  const validate = useCallback(async () => {
    const modeler = modelerRef.current;
    if (!modeler) return;
    const seq = ++lintSeq.current;
    setValidating(true);
    try {
      const { xml } = await modeler.saveXML();
      const r = await post<{ ok: boolean; errors: Problem[]; warnings: Problem[] }>('/api/deployments/validate', { xml });
      if (seq !== lintSeq.current) return;
      setProblems({ errors: r.errors, warnings: r.warnings });
      showProblems(modeler, r.errors, r.warnings);
    } catch (e) {
      if (seq === lintSeq.current) message.error(e instanceof ApiError ? e.message : String(e));
    } finally {
      if (seq === lintSeq.current) setValidating(false);
    }
  }, [message]);

  const scheduleValidate = useCallback(() => {
    window.clearTimeout(lintTimer.current);
    lintTimer.current = window.setTimeout(() => void validate(), 600);
  }, [validate]);

  useEffect(() => {
    const modeler = new (Modeler as any)({
      container: canvasRef.current,
      propertiesPanel: { parent: propsRef.current },
      additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule, CamundaBehaviorsModule, ElementTemplatesPropertiesProviderModule],
      elementTemplates: dubanTemplates(),
      moddleExtensions: { camunda: camundaModdle },
    });
    modelerRef.current = modeler;
    modeler.on('selection.changed', (e: any) => setSelected(e.newSelection.length === 1 ? e.newSelection[0] : null));
    modeler.on('elements.changed', () => setTick((x) => x + 1));
    modeler.on('commandStack.changed', scheduleValidate);
    // The properties panel's template "Select"/"Change" buttons open Duban's chooser.
    modeler.on('elementTemplates.select', (e: any) => setChooseFor(e.element));
    modeler.on('elementTemplates.errors', (e: any) => console.warn('element templates', e.errors));
    return () => {
      window.clearTimeout(lintTimer.current);
      modeler.destroy();
      modelerRef.current = null;
    };
  }, [scheduleValidate]);

  const open = useCallback(async (xml: string, def: Definition | null) => {
    const modeler = modelerRef.current;
    setReady(false);
    await modeler.importXML(xml);
    modeler.get('canvas').zoom('fit-viewport');
    setCurrent(def);
    setSelected(null);
    setReady(true);
    void validate();
  }, [validate]);

  useEffect(() => {
    (async () => {
      const list = await loadVersions();
      const id = definitionId ?? list.find((d) => d.key === 'approval-item')?.id ?? list[0]?.id;
      if (!id) return open(EMPTY, null);
      const def = await get<Definition>(`/api/process-definitions/${encodeURIComponent(id)}`);
      await open(def.xml ?? EMPTY, def);
    })().catch((e) => message.error(e instanceof ApiError ? e.message : String(e)));
  }, [definitionId, loadVersions, open, message]);

  const insertUserTask = () => {
    const modeler = modelerRef.current;
    if (!selected || selected.waypoints) return message.warning(t('designer.selectFirst'));
    const task = insertAfter(modeler, selected);
    modeler.get('selection').select(task);
  };

  const insertServiceTask = () => {
    const modeler = modelerRef.current;
    if (!selected || selected.waypoints) return message.warning(t('designer.selectFirst'));
    const task = insertAfter(modeler, selected, 'bpmn:ServiceTask');
    modeler.get('selection').select(task);
    setChooseFor(task);
  };

  const applyTemplate = (template: any) => {
    const modeler = modelerRef.current;
    const el = modeler.get('elementTemplates').applyTemplate(chooseFor, template);
    if (!el.businessObject.name) modeler.get('modeling').updateProperties(el, { name: template.name });
    modeler.get('selection').select(el);
    setChooseFor(null);
  };

  const download = async () => {
    const { xml } = await modelerRef.current.saveXML({ format: true });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([xml], { type: 'application/bpmn+xml' }));
    a.download = `${current?.key ?? 'process'}${current ? `-v${current.version}` : ''}.bpmn`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };

  const deploy = async (note: string) => {
    setDeploying(true);
    try {
      const { xml } = await modelerRef.current.saveXML({ format: true });
      const r = await post<{ id: string; unchanged: boolean; warnings: Problem[] }>('/api/deployments', { xml, note });
      message.success(r.unchanged ? t('designer.unchanged', { id: r.id }) : t('designer.deployed', { id: r.id }));
      setDeployOpen(false);
      const list = await loadVersions();
      const def = list.find((d) => d.id === r.id) ?? null;
      setCurrent(def);
      if (def && definitionId) navigate(`/designer/${encodeURIComponent(def.id)}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) {
        const body = e.body as { errors?: Problem[]; warnings?: Problem[] };
        setProblems({ errors: body.errors ?? [], warnings: body.warnings ?? [] });
        showProblems(modelerRef.current, body.errors ?? [], body.warnings ?? []);
        message.error(t('designer.refused'));
      } else message.error(e instanceof ApiError ? e.message : String(e));
    } finally {
      setDeploying(false);
    }
  };

  const select = (id: string | null) => {
    const modeler = modelerRef.current;
    const el = id && elementFor(modeler, id);
    if (el) {
      modeler.get('selection').select(el);
      modeler.get('canvas').scrollToElement?.(el);
    }
  };

  const nErr = problems?.errors.length ?? 0;
  const nWarn = problems?.warnings.length ?? 0;
  return (
    <div className="designer" data-testid="designer" data-ready={ready ? '1' : '0'}>
      <div className="designer-toolbar">
        <Space wrap>
          <Typography.Text strong data-testid="designer-current">{current ? `${current.name ?? current.key} · ${current.id}` : t('designer.new')}</Typography.Text>
          <Button onClick={() => { navigate('/designer/new'); void open(EMPTY, null); }} data-testid="designer-new">{t('designer.new')}</Button>
          <Button onClick={insertUserTask} disabled={!selected || !!selected?.waypoints} data-testid="insert-user-task">{t('designer.insertTask')}</Button>
          <Button onClick={insertServiceTask} disabled={!selected || !!selected?.waypoints} data-testid="insert-service-task">{t('designer.insertService')}</Button>
          <Button onClick={download} data-testid="download-xml">{t('designer.download')}</Button>
          <Button onClick={() => setDiffOpen(true)} disabled={!current || versions.filter((v) => v.key === current.key).length < 2} data-testid="compare-versions">{t('diff.open')}</Button>
          <Button type="primary" onClick={() => setDeployOpen(true)} disabled={nErr > 0} data-testid="deploy">{t('designer.deploy')}</Button>
          <span data-testid="lint-status" data-errors={nErr} data-warnings={nWarn}>
            {validating ? <Tag>{t('designer.validating')}</Tag> : problems && (nErr ? <Tag color="red">{t('designer.errors', { n: nErr })}</Tag> : <Tag color="green">{t('designer.noProblems')}</Tag>)}
            {!validating && nWarn > 0 && <Tag color="orange">{t('designer.warnings', { n: nWarn })}</Tag>}
          </span>
        </Space>
      </div>
      <div className="designer-body">
        <Card size="small" className="designer-versions" title={t('designer.versions')} data-testid="designer-versions">
          <List
            size="small"
            dataSource={versions}
            renderItem={(d) => (
              <List.Item key={d.id} className={d.id === current?.id ? 'version-current' : ''} data-testid="version-row" data-id={d.id}>
                <a onClick={() => navigate(`/designer/${encodeURIComponent(d.id)}`)}>
                  <div><b>{d.key}</b> <Tag>v{d.version}</Tag></div>
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>{fmtDateTime(d.deployedAt)} · {d.deployedBy}</Typography.Text>
                  {d.note && <div className="version-note" data-testid="version-note">{d.note}</div>}
                </a>
              </List.Item>
            )}
          />
        </Card>
        <div className="designer-canvas-wrap">
          <div ref={canvasRef} className="designer-canvas" data-testid="designer-canvas" />
          {problems && (nErr + nWarn > 0) && (
            <div className="designer-problems" data-testid="problems">
              <Typography.Text strong>{t('designer.problems')}</Typography.Text>
              <ul>
                {[...problems.errors, ...problems.warnings].map((p, i) => (
                  <li key={i} className={`problem problem-${p.severity}`} data-testid="problem" data-severity={p.severity} data-element-id={p.elementId ?? ''}>
                    <a onClick={() => select(p.elementId)}>{p.severity === 'error' ? '✖' : '⚠'} {p.elementId ? <code>{p.elementId}</code> : null} {p.message}</a>
                  </li>
                ))}
              </ul>
            </div>
          )}
        </div>
        <div className="designer-side">
          <DubanPanel modeler={modelerRef.current} element={selected} tick={tick} formKeys={formKeys} />
          <Collapse size="small" className="gap" items={[{ key: 'p', label: t('designer.advanced'), forceRender: true, children: <div ref={propsRef} className="props-panel" data-testid="properties-panel" /> }]} />
        </div>
      </div>
      <VersionDiff open={diffOpen} onClose={() => setDiffOpen(false)} versions={versions} current={current} />
      <Modal open={!!chooseFor} title={t('designer.templates')} footer={null} onCancel={() => setChooseFor(null)} destroyOnHidden>
        <Typography.Paragraph type="secondary">{t('designer.templates.hint')}</Typography.Paragraph>
        <List size="small" data-testid="template-chooser"
          dataSource={chooseFor ? modelerRef.current?.get('elementTemplates').getLatest(chooseFor) ?? [] : []}
          renderItem={(tpl: any) => (
            <List.Item key={tpl.id} data-testid="template-option" data-id={tpl.id}>
              <a onClick={() => applyTemplate(tpl)}>
                <div><b>{tpl.name}</b> <Tag>{tpl.properties.find((p: any) => p.binding.name === 'camunda:topic')?.value}</Tag></div>
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>{tpl.description}</Typography.Text>
              </a>
            </List.Item>
          )} />
      </Modal>
      <DeployDialog open={deployOpen} busy={deploying} onCancel={() => setDeployOpen(false)} onOk={deploy} />
    </div>
  );
}

function DeployDialog({ open, busy, onOk, onCancel }: { open: boolean; busy: boolean; onOk(note: string): void; onCancel(): void }) {
  const [form] = Form.useForm();
  return (
    <Modal open={open} title={t('designer.deploy')} confirmLoading={busy} onCancel={onCancel} okText={t('designer.deploy')} cancelText={t('common.cancel')}
      okButtonProps={{ 'data-testid': 'deploy-ok' } as never} destroyOnHidden
      onOk={async () => onOk((await form.validateFields()).note)}>
      <Form form={form} layout="vertical">
        <Form.Item name="note" label={t('designer.deploy.note')} rules={[{ required: true, max: 500 }]}><Input.TextArea rows={3} data-testid="deploy-note" /></Form.Item>
      </Form>
    </Modal>
  );
}

/** Duban's own fields for the selected element: names, candidate groups, forms, due dates, and timers in working days. */
function DubanPanel({ modeler, element, tick, formKeys }: { modeler: any; element: Shape | null; tick: number; formKeys: string[] }) {
  void tick;
  if (!modeler || !element) return <Card size="small" title={t('designer.panel')} data-testid="duban-panel"><Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('designer.noSelection')} /></Card>;
  const bo = element.businessObject;
  const modeling = modeler.get('modeling');
  const set = (props: Record<string, unknown>) => modeling.updateProperties(element, props);
  const isUserTask = bo.$type === 'bpmn:UserTask';
  const timerDef = (bo.eventDefinitions ?? []).find((d: any) => d.$type === 'bpmn:TimerEventDefinition');
  return (
    <Card size="small" title={t('designer.panel')} data-testid="duban-panel" data-element-id={bo.id}>
      <Form layout="vertical" size="small" key={`${bo.id}`}>
        <Form.Item label={t('designer.type')}><Tag>{bo.$type.replace('bpmn:', '')}</Tag><Typography.Text code data-testid="panel-id">{bo.id}</Typography.Text></Form.Item>
        {!element.waypoints && (
          <Form.Item label={t('designer.name')}>
            <LazyInput value={bo.name ?? ''} onCommit={(v) => set({ name: v || undefined })} testid="panel-name" />
          </Form.Item>
        )}
        {isUserTask && (
          <>
            <Form.Item label={t('designer.candidateGroups')}>
              <LazyInput value={bo.get('camunda:candidateGroups') ?? ''} onCommit={(v) => set({ 'camunda:candidateGroups': v || undefined })} testid="panel-candidate-groups" placeholder="${departmentId}" />
            </Form.Item>
            <Form.Item label={t('designer.assignee')}>
              <LazyInput value={bo.get('camunda:assignee') ?? ''} onCommit={(v) => set({ 'camunda:assignee': v || undefined })} testid="panel-assignee" />
            </Form.Item>
            <Form.Item label={t('designer.formKey')}>
              <Space.Compact style={{ width: '100%' }}>
                <Select value={bo.get('camunda:formKey') ?? undefined} allowClear onChange={(v) => set({ 'camunda:formKey': v || undefined })} data-testid="panel-form-key"
                  options={formKeys.map((k) => ({ value: k, label: k }))} style={{ flex: 1 }} />
                {bo.get('camunda:formKey') && <Button href={`#/forms/${encodeURIComponent(bo.get('camunda:formKey'))}`} target="_blank" data-testid="panel-edit-form">{t('designer.editForm')}</Button>}
              </Space.Compact>
            </Form.Item>
            <Form.Item label={t('designer.dueDate')}>
              <LazyInput value={bo.get('camunda:dueDate') ?? ''} onCommit={(v) => set({ 'camunda:dueDate': v || undefined })} testid="panel-due-date" placeholder="${deadlineAt}" />
            </Form.Item>
            <StepLimit modeler={modeler} task={element} />
          </>
        )}
        {timerDef && <TimerEditor modeler={modeler} element={element} timerDef={timerDef} />}
        {bo.$type === 'bpmn:SequenceFlow' && <FeelCondition modeler={modeler} flow={element} />}
      </Form>
    </Card>
  );
}

/** A sequence flow's condition as a FEEL expression (bpmn-io FEEL editor), stored as `=…`; written on blur, empty removes it. */
function FeelCondition({ modeler, flow }: { modeler: any; flow: Shape }) {
  const ref = useRef<HTMLDivElement>(null);
  const editorRef = useRef<any>(null);
  const draft = useRef('');
  const [problems, setProblems] = useState(0);
  const cond = flow.businessObject.conditionExpression;
  const stored: string = cond?.body ?? '';
  const text = stored.replace(/^\s*=/, '');
  const commit = useCallback(() => {
    const body = draft.current.trim();
    if (body === text.trim()) return;
    const conditionExpression = body ? modeler.get('moddle').create('bpmn:FormalExpression', { body: `=${body}` }) : undefined;
    modeler.get('modeling').updateProperties(flow, { conditionExpression });
  }, [modeler, flow, text]);
  const commitRef = useRef(commit);
  commitRef.current = commit;
  useEffect(() => {
    draft.current = text;
    const editor = new (FeelEditor as any)({
      container: ref.current, value: text, placeholder: t('designer.condition.placeholder'),
      onChange: (v: string) => { draft.current = v; },
      onLint: (d: { severity: string }[]) => setProblems(d.filter((x) => x.severity === 'error').length),
      contentAttributes: { 'data-testid': 'condition-input', 'aria-label': t('designer.condition') },
    });
    editorRef.current = editor;
    const content = ref.current!.querySelector('.cm-content');
    const onBlur = () => commitRef.current();
    content?.addEventListener('blur', onBlur);
    return () => {
      content?.removeEventListener('blur', onBlur);
      editor._cmEditor.destroy();
      editorRef.current = null;
    };
    // the editor is created once per flow; later model changes (undo) are synced below
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [flow]);
  useEffect(() => {
    const editor = editorRef.current;
    if (editor && !ref.current?.contains(document.activeElement) && editor._cmEditor.state.doc.toString() !== text) {
      editor.setValue(text);
      draft.current = text;
    }
  }, [text]);
  return (
    <Form.Item label={t('designer.condition')} extra={t('designer.condition.hint')} validateStatus={problems ? 'error' : undefined}
      help={problems ? t('designer.condition.invalid') : undefined}>
      <div className="feel-condition" data-testid="condition-editor" data-expression={stored} data-problems={problems}>
        <span className="feel-prefix">=</span>
        <div ref={ref} className="feel-editor" />
      </div>
    </Form.Item>
  );
}

/** An input that writes to the model on blur or Enter (one undo step per edit). */
function LazyInput({ value, onCommit, testid, placeholder }: { value: string; onCommit(v: string): void; testid: string; placeholder?: string }) {
  const [v, setV] = useState(value);
  useEffect(() => setV(value), [value]);
  const commit = () => {
    if (v !== value) onCommit(v);
  };
  return <Input value={v} placeholder={placeholder} onChange={(e) => setV(e.target.value)} onBlur={commit} onPressEnter={commit} data-testid={testid} />;
}

function timeExpression(timerDef: any): { kind: 'timeDate' | 'timeDuration' | 'timeCycle'; body: string } {
  for (const kind of ['timeDate', 'timeDuration', 'timeCycle'] as const) if (timerDef[kind]) return { kind, body: timerDef[kind].body ?? '' };
  return { kind: 'timeDate', body: '' };
}

function writeWorkingDays(modeler: any, element: Shape, timerDef: any, days: number) {
  const expr = modeler.get('moddle').create('bpmn:FormalExpression', { body: `=workingDays(${days})` });
  modeler.get('modeling').updateModdleProperties(element, timerDef, { timeDate: expr, timeDuration: undefined, timeCycle: undefined });
}

/** The friendly timer editor: "N working days" writes <bpmn:timeDate>=workingDays(N)</bpmn:timeDate>; anything else stays an expression. */
function TimerEditor({ modeler, element, timerDef }: { modeler: any; element: Shape; timerDef: any }) {
  const current = timeExpression(timerDef);
  const m = WORKING_DAYS.exec(current.body);
  const [mode, setMode] = useState<'wd' | 'expr'>(m || !current.body ? 'wd' : 'expr');
  const [days, setDays] = useState<number>(m ? Number(m[1]) : 2);
  const [expr, setExpr] = useState(current.body);
  useEffect(() => {
    const mm = WORKING_DAYS.exec(current.body);
    setMode(mm || !current.body ? 'wd' : 'expr');
    if (mm) setDays(Number(mm[1]));
    setExpr(current.body);
  }, [current.body]);
  return (
    <div className="timer-editor" data-testid="timer-editor" data-expression={current.body}>
      <Form.Item label={<Space>{t('designer.timer')}<Typography.Text type="secondary" code>{current.kind}</Typography.Text></Space>} tooltip={t('designer.timer.hint')}>
        <Radio.Group value={mode} onChange={(e) => setMode(e.target.value)} optionType="button" size="small"
          options={[{ value: 'wd', label: t('designer.timer.mode.wd') }, { value: 'expr', label: t('designer.timer.mode.expr') }]} />
      </Form.Item>
      {mode === 'wd' ? (
        <Space.Compact>
          <InputNumber min={1} max={365} value={days} onChange={(v) => setDays(Number(v) || 1)} data-testid="timer-days" />
          <Button disabled>{t('designer.timer.workingDays')}</Button>
          <Button type="primary" onClick={() => writeWorkingDays(modeler, element, timerDef, days)} data-testid="timer-apply">{t('designer.timer.apply')}</Button>
        </Space.Compact>
      ) : (
        <LazyInput value={expr} testid="timer-expression" onCommit={(v) => {
          const e = modeler.get('moddle').create('bpmn:FormalExpression', { body: v });
          modeler.get('modeling').updateModdleProperties(element, timerDef, { [current.kind]: e });
        }} />
      )}
    </div>
  );
}

/**
 * For a user task: a step limit of N working days. The task becomes due at the end of the N-th working day
 * (so the task list gives the step its own yellow/red light), and a non-interrupting boundary timer at the
 * same time runs 环节超时提醒 (notifyStepOverdue: SMS to the department) and ends; the case goes on.
 */
function StepLimit({ modeler, task }: { modeler: any; task: Shape }) {
  const [days, setDays] = useState(2);
  const attached = (task.attachers ?? []).filter((a: Shape) => (a.businessObject.eventDefinitions ?? []).some((d: any) => d.$type === 'bpmn:TimerEventDefinition'));
  const add = () => {
    const elementFactory = modeler.get('elementFactory');
    const modeling = modeler.get('modeling');
    // Room below the task for the timer's path, so containers grow instead of covering what lies beneath.
    makeSpace(modeler, 'y', 150, task.y + task.height + 5);
    const shape = elementFactory.createShape({ type: 'bpmn:BoundaryEvent', eventDefinitionType: 'bpmn:TimerEventDefinition' });
    shape.businessObject.cancelActivity = false;
    const boundary = modeling.createShape(shape, { x: task.x + task.width - 20 - attached.length * 40, y: task.y + task.height }, task, { attach: true });
    const timerDef = boundary.businessObject.eventDefinitions[0];
    writeWorkingDays(modeler, boundary, timerDef, days);
    modeling.updateProperties(boundary, { name: t('designer.timer.name', { n: days }) });
    modeling.updateProperties(task, { 'camunda:dueDate': `=workingDays(${days})` });
    const notify = modeling.appendShape(boundary, { type: 'bpmn:ServiceTask' }, { x: boundary.x + 18, y: boundary.y + 100 });
    modeling.updateProperties(notify, { name: t('designer.timer.notifyName'), 'camunda:type': 'external', 'camunda:topic': 'notifyStepOverdue' });
    const end = modeling.appendShape(notify, { type: 'bpmn:EndEvent' }, { x: notify.x + notify.width + 68, y: notify.y + notify.height / 2 });
    modeling.updateProperties(end, { name: t('designer.timer.endName') });
    modeler.get('selection').select(boundary);
  };
  return (
    <Form.Item label={t('designer.timer.add')} tooltip={t('designer.timer.hint')}>
      <Space.Compact>
        <InputNumber min={1} max={365} value={days} onChange={(v) => setDays(Number(v) || 1)} data-testid="step-limit-days" />
        <Button disabled>{t('designer.timer.workingDays')}</Button>
        <Button type="primary" onClick={add} data-testid="step-limit-add">{t('designer.timer.add')}</Button>
      </Space.Compact>
      {attached.length > 0 && <div>{attached.map((a: Shape) => <Tag key={a.id}>{a.businessObject.name ?? a.id}</Tag>)}</div>}
    </Form.Item>
  );
}

/** Make room to the right of `after`, then drop a user task on its outgoing flow (bpmn-js splits the flow). */
function insertAfter(modeler: any, after: Shape, type: 'bpmn:UserTask' | 'bpmn:ServiceTask' = 'bpmn:UserTask'): Shape {
  const modeling = modeler.get('modeling');
  const elementFactory = modeler.get('elementFactory');
  const shape = elementFactory.createShape({ type });
  const bo = shape.businessObject;
  if (type === 'bpmn:UserTask') {
    bo.name = '新环节';
    bo.set('camunda:candidateGroups', '${departmentId}');
    bo.set('camunda:formKey', 'duban:review');
    bo.set('camunda:dueDate', '${deadlineAt}');
  }
  const outgoing = (after.outgoing ?? []).filter((c: Shape) => c.type === 'bpmn:SequenceFlow');
  if (outgoing.length !== 1) return modeler.get('autoPlace').append(after, shape);
  makeSpace(modeler, 'x', 150, after.x + after.width + 5);
  const flow = outgoing[0];
  const position = { x: after.x + after.width + 25 + shape.width / 2 + 25, y: after.y + after.height / 2 };
  return modeling.createShape(shape, position, flow);
}

/** The space tool's move, as a command: shapes beyond `start` move by `delta`, containers across it grow. */
function makeSpace(modeler: any, axis: 'x' | 'y', delta: number, start: number) {
  const root = modeler.get('canvas').getRootElement();
  const children = [...(selfAndAllChildren(root) as Shape[]), ...(root.attachers ?? [])];
  const adj = modeler.get('spaceTool').calculateAdjustments(children, axis, delta, start);
  modeler.get('modeling').createSpace(adj.movingShapes, adj.resizingShapes, axis === 'x' ? { x: delta, y: 0 } : { x: 0, y: delta }, axis === 'x' ? 'e' : 's', start);
}

function elementFor(modeler: any, id: string): Shape | undefined {
  const registry = modeler.get('elementRegistry');
  return registry.get(id) ?? registry.get(id.replace(/_di$/, '')) ?? registry.find((e: Shape) => e.businessObject?.di?.id === id);
}

function showProblems(modeler: any, errors: Problem[], warnings: Problem[]) {
  const overlays = modeler.get('overlays');
  overlays.remove({ type: 'lint' });
  const byElement = new Map<string, { errors: Problem[]; warnings: Problem[] }>();
  for (const [list, kind] of [[errors, 'errors'], [warnings, 'warnings']] as const) {
    for (const p of list) {
      if (!p.elementId) continue;
      const el = elementFor(modeler, p.elementId);
      if (!el) continue;
      const entry = byElement.get(el.id) ?? { errors: [], warnings: [] };
      entry[kind].push(p);
      byElement.set(el.id, entry);
    }
  }
  for (const [id, e] of byElement) {
    const div = document.createElement('div');
    div.className = `lint-badge ${e.errors.length ? 'lint-error' : 'lint-warning'}`;
    div.textContent = String(e.errors.length || e.warnings.length);
    div.title = [...e.errors, ...e.warnings].map((p) => p.message).join('\n');
    div.dataset.testid = 'lint-badge';
    div.dataset.elementId = id;
    div.dataset.severity = e.errors.length ? 'error' : 'warning';
    try {
      overlays.add(id, 'lint', { position: { top: -10, left: -10 }, html: div });
    } catch {
      /* elements without a shape */
    }
  }
}


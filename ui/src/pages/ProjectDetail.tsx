import { useCallback, useEffect, useMemo, useState } from 'react';
import { Alert, App, Button, Card, Col, Descriptions, Image, List, Progress, Row, Space, Table, Tag, Typography } from 'antd';
import { ApiError, get, post, qs, type Definition, type Instance, type Page, type Task } from '../api';
import { t } from '../i18n';
import { hasRole, useSession } from '../session';
import { fmtDateTime } from '../format';
import { Diagram } from '../components/Diagram';
import { TaskFormModal, type FormTask } from '../components/TaskForm';
import { ProjectLightTag } from '../components/ProjectLightTag';
import type { Milestone, ProjectDetail } from '../projects';

function milestoneTag(m: Milestone, today: string) {
  if (m.status === 'done') return <Tag color={m.doneLate ? 'purple' : 'success'}>{t(m.doneLate ? 'proj.ms.doneLate' : 'proj.ms.done')}</Tag>;
  return <Tag color={m.currentDue < today ? 'error' : 'processing'}>{t(m.currentDue < today ? 'proj.ms.late' : 'proj.ms.pending')}</Tag>;
}

/** One project: plan against actual, its process with the current milestone, letters, reports with photos, problems. */
export function ProjectDetailPage({ id }: { id: string }) {
  const { me } = useSession();
  const { message } = App.useApp();
  const [p, setP] = useState<ProjectDetail | null>(null);
  const [inst, setInst] = useState<Instance | null>(null);
  const [xml, setXml] = useState<string | null>(null);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [formTask, setFormTask] = useState<FormTask | null>(null);
  const [link, setLink] = useState<string | null>(null);
  const load = useCallback(async () => {
    const [detail, instance] = await Promise.all([get<ProjectDetail>(`/api/projects/${id}`), get<Instance>(`/api/process-instances/${id}`)]);
    setP(detail);
    setInst(instance);
    setXml((await get<Definition>(`/api/process-definitions/${encodeURIComponent(instance.definitionId)}`)).xml ?? '');
    if (hasRole(me, 'clerk', 'inspector')) setTasks((await get<Page<Task>>(`/api/tasks${qs({ instanceId: id, pageSize: 20 })}`)).items);
  }, [id, me]);
  useEffect(() => {
    load().catch((e) => message.error(e instanceof ApiError ? e.message : String(e)));
  }, [load, message]);
  const done = useMemo(() => [...new Set((inst?.history ?? []).filter((h) => h.kind === 'element.end' && h.elementId).map((h) => h.elementId!))], [inst]);
  if (!p) return <Card loading />;
  const today = new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });
  const makeLink = async () => {
    const r = await post<{ path: string }>(`/api/projects/${id}/links`);
    setLink(`${location.origin}${location.pathname}${r.path.replace(/^\//, '')}`);
  };
  return (
    <div data-testid="project-detail" data-light={p.light}>
      <Card title={<Space wrap><span>{p.code}</span><span data-testid="project-name">{p.name}</span><ProjectLightTag light={p.light} /></Space>}
        extra={hasRole(me, 'admin', 'inspector', 'clerk') && p.status !== 'completed' && <Button onClick={() => makeLink().catch((e) => message.error(String(e)))} data-testid="project-make-link">{t('proj.link')}</Button>}>
        {link && <Alert type="success" showIcon className="gap" message={t('proj.linkReady')} description={<Typography.Text copyable data-testid="project-link-url">{link}</Typography.Text>} />}
        {p.reasons.length > 0 && <Alert type={p.light === 'red' ? 'error' : 'warning'} showIcon style={{ marginBottom: 12 }} message={`${t('proj.reasons')}:${p.reasons.join(';')}`} data-testid="project-reasons" />}
        <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
          <Descriptions.Item label={t('proj.unit')}>{p.departmentName}</Descriptions.Item>
          <Descriptions.Item label={t('proj.person')}>{p.responsiblePerson}</Descriptions.Item>
          <Descriptions.Item label={t('proj.location')}>{p.location}</Descriptions.Item>
          <Descriptions.Item label={t('proj.category')}>{p.category} · {p.industry}</Descriptions.Item>
          <Descriptions.Item label={t('proj.level')}>{p.level}</Descriptions.Item>
          <Descriptions.Item label={t('proj.plan')}>{p.plannedStart} ~ {p.plannedFinish}</Descriptions.Item>
          <Descriptions.Item label={t('proj.totalInvestment')}>{t('proj.wan', { n: p.totalInvestment })}</Descriptions.Item>
          <Descriptions.Item label={t('proj.annualTarget')}>{t('proj.wan', { n: p.annualTarget })}</Descriptions.Item>
          <Descriptions.Item label={t('proj.invested')}>{t('proj.wan', { n: p.investedThisYear })}({p.investmentRate}%)</Descriptions.Item>
          <Descriptions.Item label={t('proj.content')} span={3}>{p.content}</Descriptions.Item>
        </Descriptions>
        <Row gutter={12}>
          <Col xs={24} md={12}><Typography.Text>{t('proj.progress')}</Typography.Text><Progress percent={p.progress} data-testid="project-progress" /></Col>
          <Col xs={24} md={12}><Typography.Text>{t('proj.schedule')}</Typography.Text><Progress percent={p.scheduleProgress} strokeColor="#8c8c8c" /></Col>
        </Row>
      </Card>

      {tasks.length > 0 && (
        <Card size="small" className="gap" title={t('proj.tasks')}>
          <Space wrap>{tasks.map((task) => (
            <Space key={task.id} data-testid="project-task" data-element-id={task.elementId}>
              <Tag color="processing">{task.name}</Tag>
              <Button size="small" type="primary" onClick={() => setFormTask(task)}>{t('tasks.complete')}</Button>
            </Space>
          ))}</Space>
        </Card>
      )}

      <Card size="small" className="gap" title={t('proj.milestones')}>
        <Table<Milestone> rowKey="id" size="small" pagination={false} dataSource={p.milestones} scroll={{ x: 700 }}
          onRow={(m) => ({ 'data-testid': 'milestone-row', 'data-status': m.status } as never)}
          columns={[
            { title: '#', dataIndex: 'seq', width: 40 },
            { title: t('proj.ms.name'), dataIndex: 'name' },
            { title: t('proj.ms.planned'), dataIndex: 'dueDate' },
            { title: t('proj.ms.current'), dataIndex: 'currentDue', render: (v: string, m) => (v !== m.dueDate ? v : '—') },
            { title: t('proj.ms.actual'), dataIndex: 'doneAt', render: (v: string | null) => (v ? fmtDateTime(v).slice(0, 10) : '—') },
            { title: t('proj.ms.status'), key: 's', render: (_, m) => <Space>{milestoneTag(m, today)}{m.misses > 0 && <Typography.Text type="danger">{t('proj.ms.misses', { n: m.misses })}</Typography.Text>}</Space> },
          ]} />
      </Card>

      <Card size="small" className="gap" title={t('proj.diagram')}>
        {xml ? <Diagram xml={xml} done={done} active={inst?.activeElements ?? []} overdue={p.light === 'red' ? (inst?.activeElements ?? []) : []} /> : <Card loading variant="borderless" />}
      </Card>

      <Row gutter={[12, 12]} className="gap">
        <Col xs={24} lg={12}>
          <Card size="small" title={t('proj.letters')} data-testid="project-letters">
            <List size="small" dataSource={p.letters} locale={{ emptyText: t('proj.none') }} renderItem={(l) => (
              <List.Item data-testid="project-letter" data-kind={l.kind} actions={[
                <a key="p" href={`/api/letters/${l.id}/print`} target="_blank" rel="noreferrer" data-testid="project-letter-print">{t('proj.letter.print')}</a>,
                <a key="d" href={`/api/letters/${l.id}/docx`}>{t('proj.letter.docx')}</a>,
              ]}>
                <List.Item.Meta title={<Space wrap><span data-testid="project-letter-number">{l.number}</span><Tag color={l.status === 'replied' ? 'success' : 'warning'}>{t(l.status === 'replied' ? 'proj.letter.replied' : 'proj.letter.issued')}</Tag></Space>}
                  description={<>{l.title}{l.replyText && <div>{l.replyText}</div>}</>} />
              </List.Item>
            )} />
          </Card>
          <Card size="small" className="gap" title={t('proj.problems')}>
            <List size="small" dataSource={p.problems} locale={{ emptyText: t('proj.none') }} renderItem={(x) => (
              <List.Item><List.Item.Meta title={<Space>{x.content}<Tag color={x.resolvedAt ? 'success' : 'warning'}>{t(x.resolvedAt ? 'proj.problem.resolved' : 'proj.problem.open')}</Tag></Space>}
                description={[x.dueDate, x.resolution].filter(Boolean).join(' · ')} /></List.Item>
            )} />
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('proj.reports')} data-testid="project-reports">
            <List size="small" dataSource={p.reports} locale={{ emptyText: t('proj.none') }} renderItem={(r) => (
              <List.Item data-testid="project-report">
                <List.Item.Meta title={<Space wrap><Tag>{r.progress}%</Tag><span>{r.text}</span></Space>}
                  description={<Space direction="vertical">
                    <span>{fmtDateTime(r.reportedAt)} · {r.reportedBy} · {t(r.via === 'mobile' ? 'proj.via.mobile' : 'proj.via.api')}</span>
                    <Image.PreviewGroup>{r.files.filter((f) => f.contentType.startsWith('image/')).map((f) => <Image key={f.id} width={96} src={`/api/files/${f.id}`} alt={f.name} data-testid="report-photo" />)}</Image.PreviewGroup>
                    {r.files.filter((f) => !f.contentType.startsWith('image/')).map((f) => <a key={f.id} href={`/api/files/${f.id}`}>{f.name}</a>)}
                  </Space>} />
              </List.Item>
            )} />
          </Card>
        </Col>
      </Row>
      <TaskFormModal task={formTask} username={me.username} onClose={(ok) => { setFormTask(null); if (ok) load(); }} />
    </div>
  );
}

export default ProjectDetailPage;

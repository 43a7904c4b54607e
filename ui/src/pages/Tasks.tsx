import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, Grid, List, Segmented, Space, Table, Tag, Typography } from 'antd';
import { get, post, qs, type Page, type Task, errText } from '../api';
import { t } from '../i18n';
import { useSession } from '../session';
import { LightTag } from '../components/LightTag';
import { TaskFormModal, type FormTask } from '../components/TaskForm';
import { IntakeDialog } from '../components/IntakeDialog';
import { fmtDateTime, fmtRemaining } from '../format';
import { href } from '../router';

type Scope = 'department' | 'mine' | 'unassigned';

export function TasksPage() {
  const { me } = useSession();
  const [scope, setScope] = useState<Scope>('department');
  const [page, setPage] = useState(1);
  const [data, setData] = useState<Page<Task> | null>(null);
  const [loading, setLoading] = useState(false);
  const [open, setOpen] = useState<FormTask | null>(null);
  const [intake, setIntake] = useState(false);
  const { message } = App.useApp();
  const screens = Grid.useBreakpoint();
  const phone = !screens.md;

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setData(await get<Page<Task>>(`/api/tasks${qs({ assignment: scope, page, pageSize: 20, sort: 'dueAt', order: 'asc' })}`));
    } finally {
      setLoading(false);
    }
  }, [scope, page]);
  useEffect(() => {
    load().catch((e) => message.error(errText(e)));
  }, [load, message]);

  const claim = async (task: Task, undo = false) => {
    try {
      await post(`/api/tasks/${task.id}/${undo ? 'unclaim' : 'claim'}`);
      message.success(undo ? t('common.success') : t('tasks.claimed'));
      await load();
    } catch (e) {
      message.error(errText(e));
    }
  };

  const actions = (task: Task) => (
    <Space size="small" wrap>
      {!task.assignee && <Button size="small" onClick={() => claim(task)} data-testid={`claim-${task.id}`}>{t('tasks.claim')}</Button>}
      {task.assignee === me.username && <Button size="small" onClick={() => claim(task, true)} data-testid={`unclaim-${task.id}`}>{t('tasks.unclaim')}</Button>}
      <Button size="small" type="primary" onClick={() => setOpen(task)} data-testid={`complete-${task.id}`}>{t('tasks.complete')}</Button>
      <Button size="small" href={href(`/cases/${task.instanceId}`)} data-testid={`open-${task.id}`}>{t('common.open')}</Button>
    </Space>
  );

  return (
    <Card
      title={<Space>{t('tasks.title')}<Typography.Text type="secondary" data-testid="tasks-total">{data ? t('common.total', { n: data.total }) : ''}</Typography.Text></Space>}
      extra={<Space size="small"><Button size="small" type="primary" ghost onClick={() => setIntake(true)} data-testid="intake">{t('case.intake')}</Button><Button onClick={() => load()} size="small">{t('common.refresh')}</Button></Space>}
      data-testid="tasks-page"
    >
      <Segmented<Scope>
        value={scope}
        onChange={(v) => { setScope(v); setPage(1); }}
        options={(['department', 'mine', 'unassigned'] as Scope[]).map((s) => ({ value: s, label: <span data-testid={`scope-${s}`}>{t(`tasks.scope.${s}`)}</span> }))}
        style={{ marginBottom: 12 }}
      />
      {phone ? (
        <List
          loading={loading}
          dataSource={data?.items ?? []}
          pagination={data && data.total > data.pageSize ? { current: page, pageSize: 20, total: data.total, onChange: setPage, size: 'small' } : false}
          renderItem={(task) => (
            <List.Item key={task.id} data-testid="task-row" data-task-id={task.id} data-department={task.departmentId ?? ''} className={`task-card task-${task.light ?? 'none'}`}>
              <div style={{ width: '100%' }}>
                <Space style={{ justifyContent: 'space-between', width: '100%' }}>
                  <a href={href(`/cases/${task.instanceId}`)}><b>{task.caseNumber ?? task.businessKey}</b></a>
                  <LightTag light={task.light} />
                </Space>
                <div>{task.itemName} · <Tag>{task.name}</Tag></div>
                <Typography.Text type={task.remaining?.overdue ? 'danger' : 'secondary'} style={{ fontSize: 12 }}>{fmtRemaining(task.remaining)}</Typography.Text>
                <div style={{ marginTop: 6 }}>{actions(task)}</div>
              </div>
            </List.Item>
          )}
        />
      ) : (
        <Table<Task>
          rowKey="id"
          size="middle"
          loading={loading}
          dataSource={data?.items ?? []}
          pagination={{ current: page, pageSize: 20, total: data?.total ?? 0, onChange: setPage, showSizeChanger: false }}
          onRow={(task) => ({ 'data-testid': 'task-row', 'data-task-id': task.id, 'data-department': task.departmentId ?? '' } as never)}
          columns={[
            { title: t('tasks.light'), dataIndex: 'light', width: 110, render: (_, task) => <LightTag light={task.light} /> },
            { title: t('tasks.case'), dataIndex: 'caseNumber', render: (v, task) => <a href={href(`/cases/${task.instanceId}`)}>{v ?? task.businessKey}</a> },
            { title: t('tasks.item'), dataIndex: 'itemName' },
            { title: t('tasks.step'), dataIndex: 'name', render: (v) => <Tag>{v}</Tag> },
            { title: t('tasks.due'), dataIndex: 'dueAt', render: (v) => fmtDateTime(v) },
            { title: t('tasks.remaining'), dataIndex: 'remaining', render: (_, task) => <Typography.Text type={task.remaining?.overdue ? 'danger' : undefined}>{fmtRemaining(task.remaining)}</Typography.Text> },
            { title: t('tasks.assignee'), dataIndex: 'assignee' },
            { title: t('common.actions'), key: 'a', render: (_, task) => actions(task) },
          ]}
        />
      )}
      <IntakeDialog open={intake} departmentId={me.departmentId} onClose={() => setIntake(false)} />
      <TaskFormModal task={open} username={me.username} onClose={(done) => { setOpen(null); if (done) load(); }} />
    </Card>
  );
}

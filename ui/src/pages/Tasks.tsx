import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, DatePicker, Grid, List, Segmented, Select, Space, Table, Tag, Typography } from 'antd';
import type { SorterResult } from 'antd/es/table/interface';
import dayjs from 'dayjs';
import { FilterBar } from '../components/FilterBar';
import type { Filter } from '../savedFilters';
import { useUserNames } from '../names';
import type { Item } from '../api';
import { get, post, qs, type Page, type Task, errText } from '../api';
import { t } from '../i18n';
import { useSession } from '../session';
import { LightTag } from '../components/LightTag';
import { TaskFormModal, type FormTask } from '../components/TaskForm';
import { IntakeDialog } from '../components/IntakeDialog';
import { fmtDateTime, fmtRemaining } from '../format';
import { href } from '../router';

type Scope = 'department' | 'mine' | 'unassigned';

/** Columns the list can be sorted by: the API's `sort` values. */
const SORTABLE = ['light', 'caseNumber', 'itemName', 'name', 'dueAt', 'assignee'] as const;
const LIGHTS = ['green', 'yellow', 'red', 'suspended'] as const;

export function TasksPage() {
  const { me } = useSession();
  const people = useUserNames();
  const [scope, setScope] = useState<Scope>('department');
  const [filter, setFilter] = useState<Filter>({});
  const [sort, setSort] = useState<{ sort: string; order: 'asc' | 'desc' }>({ sort: 'dueAt', order: 'asc' });
  const [items, setItems] = useState<Item[]>([]);
  const [colleagues, setColleagues] = useState<{ username: string; displayName: string }[]>([]);
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
      // Search and filters: q (case no., applicant, item), itemCode, light, dueFrom/dueTo (YYYY-MM-DD, Beijing days), assignee (username).
      setData(await get<Page<Task>>(`/api/tasks${qs({ assignment: scope, page, pageSize: 20, ...filter, ...sort })}`));
    } finally {
      setLoading(false);
    }
  }, [scope, page, filter, sort]);
  useEffect(() => {
    get<Page<Item>>(`/api/items${qs({ departmentId: me.departmentId ?? undefined, pageSize: 200, active: true })}`).then((p) => setItems(p.items), () => undefined);
    get<Page<{ username: string; displayName: string; departmentId: string | null }>>(`/api/users${qs({ departmentId: me.departmentId ?? undefined, pageSize: 200 })}`)
      .then((p) => setColleagues(p.items), () => undefined);
  }, [me.departmentId]);
  const changeFilter = (f: Filter) => { setFilter(f); setPage(1); };
  const set = (k: string, v: string | undefined) => changeFilter({ ...filter, [k]: v || undefined });
  const sortOrder = (key: string) => (sort.sort === key ? (sort.order === 'asc' ? 'ascend' as const : 'descend' as const) : null);
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
      <FilterBar list="tasks" username={me.username} filter={filter} onChange={changeFilter} placeholder={t('tasks.search')}>
        <Select allowClear showSearch optionFilterProp="label" placeholder={t('tasks.filter.item')} style={{ width: 200 }} value={filter.itemCode} data-testid="tasks-item"
          onChange={(v) => set('itemCode', v)} options={items.map((i) => ({ value: i.code, label: i.name }))} />
        <Select allowClear placeholder={t('tasks.filter.light')} style={{ width: 110 }} value={filter.light} data-testid="tasks-light"
          onChange={(v) => set('light', v)} options={LIGHTS.map((l) => ({ value: l, label: t(`light.${l}`) }))} />
        <DatePicker.RangePicker
          value={filter.dueFrom && filter.dueTo ? [dayjs(filter.dueFrom), dayjs(filter.dueTo)] : null}
          placeholder={[t('tasks.filter.due'), t('tasks.filter.due')]} data-testid="tasks-due"
          onChange={(r) => changeFilter({ ...filter, dueFrom: r?.[0]?.format('YYYY-MM-DD'), dueTo: r?.[1]?.format('YYYY-MM-DD') })} />
        <Select allowClear showSearch optionFilterProp="label" placeholder={t('tasks.filter.assignee')} style={{ width: 140 }} value={filter.assignee} data-testid="tasks-assignee"
          onChange={(v) => set('assignee', v)} options={colleagues.map((u) => ({ value: u.username, label: u.displayName }))} />
      </FilterBar>
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
          onChange={(_p, _f, sorter) => {
            const s = (Array.isArray(sorter) ? sorter[0] : sorter) as SorterResult<Task> | undefined;
            const key = String(s?.columnKey ?? '');
            setSort(s?.order && (SORTABLE as readonly string[]).includes(key) ? { sort: key, order: s.order === 'ascend' ? 'asc' : 'desc' } : { sort: 'dueAt', order: 'asc' });
            setPage(1);
          }}
          columns={[
            { title: t('tasks.light'), key: 'light', dataIndex: 'light', width: 110, sorter: true, sortOrder: sortOrder('light'), render: (_, task) => <LightTag light={task.light} /> },
            { title: t('tasks.case'), key: 'caseNumber', dataIndex: 'caseNumber', sorter: true, sortOrder: sortOrder('caseNumber'), render: (v, task) => <a href={href(`/cases/${task.instanceId}`)}>{v ?? task.businessKey}</a> },
            ...(data?.items.some((x) => x.applicantName !== undefined) ? [{ title: t('case.applicant'), key: 'applicantName', dataIndex: 'applicantName' }] : []),
            { title: t('tasks.item'), key: 'itemName', dataIndex: 'itemName', sorter: true, sortOrder: sortOrder('itemName') },
            { title: t('tasks.step'), key: 'name', dataIndex: 'name', sorter: true, sortOrder: sortOrder('name'), render: (v) => <Tag>{v}</Tag> },
            { title: t('tasks.due'), key: 'dueAt', dataIndex: 'dueAt', sorter: true, sortOrder: sortOrder('dueAt'), render: (v) => fmtDateTime(v) },
            { title: t('tasks.remaining'), dataIndex: 'remaining', render: (_, task) => <Typography.Text type={task.remaining?.overdue ? 'danger' : undefined}>{fmtRemaining(task.remaining)}</Typography.Text> },
            { title: t('tasks.assignee'), key: 'assignee', dataIndex: 'assignee', sorter: true, sortOrder: sortOrder('assignee'), render: (v, task) => task.assigneeName ?? people(v) },
            { title: t('common.actions'), key: 'a', render: (_, task) => actions(task) },
          ]}
        />
      )}
      <IntakeDialog open={intake} departmentId={me.departmentId} onClose={() => setIntake(false)} />
      <TaskFormModal task={open} username={me.username} onClose={(done) => { setOpen(null); if (done) load(); }} />
    </Card>
  );
}

import { useCallback, useEffect, useState } from 'react';
import { App, Card, Grid, List, Segmented, Select, Space, Table, Tag, Typography } from 'antd';
import type { SorterResult } from 'antd/es/table/interface';
import { get, qs, type Page, type Supervision, errText } from '../api';
import { t } from '../i18n';
import { deptName, useSession } from '../session';
import { href } from '../router';
import { fmtDateTime } from '../format';
import { FilterBar } from '../components/FilterBar';
import type { Filter } from '../savedFilters';

const SORTABLE = ['number', 'caseNumber', 'itemName', 'departmentId', 'openedAt', 'urgings', 'followUpAt'] as const;

const ageTag = (v: number) => <Tag color={v > 72 ? 'red' : v > 24 ? 'orange' : 'default'}>{t('sup.ageHours', { n: v })}</Tag>;

/** The inspection office's console: escalations queue, oldest first, with age and urgings; searchable, filtered by department. */
export function SupervisionsPage() {
  const { me, departments } = useSession();
  const { message } = App.useApp();
  const phone = !Grid.useBreakpoint().md;
  const [status, setStatus] = useState<'open' | 'closed'>('open');
  const [page, setPage] = useState(1);
  const [filter, setFilter] = useState<Filter>({});
  const [sort, setSort] = useState<{ sort?: string; order: 'asc' | 'desc' } | null>(null);
  const [data, setData] = useState<Page<Supervision> | null>(null);
  const [loading, setLoading] = useState(false);
  const load = useCallback(async () => {
    setLoading(true);
    try {
      // Search q (supervision no., case no., item), departmentId, sort/order by column.
      const order = sort ?? { order: status === 'open' ? 'asc' as const : 'desc' as const };
      setData(await get<Page<Supervision>>(`/api/supervisions${qs({ status, page, pageSize: 20, ...filter, ...order })}`));
    } finally {
      setLoading(false);
    }
  }, [status, page, filter, sort]);
  useEffect(() => {
    load().catch((e) => message.error(errText(e)));
  }, [load, message]);
  const changeFilter = (f: Filter) => { setFilter(f); setPage(1); };
  const sortOrder = (key: string) => (sort?.sort === key ? (sort.order === 'asc' ? 'ascend' as const : 'descend' as const) : null);
  const col = (key: (typeof SORTABLE)[number]) => ({ key, dataIndex: key, sorter: true, sortOrder: sortOrder(key) });
  const pagination = { current: page, pageSize: 20, total: data?.total ?? 0, onChange: setPage, showSizeChanger: false, size: phone ? 'small' as const : undefined };
  return (
    <Card title={<Space wrap>{t('sup.title')}<Typography.Text type="secondary" data-testid="sup-total">{data ? t('common.total', { n: data.total }) : ''}</Typography.Text></Space>} data-testid="supervisions-page">
      <Segmented value={status} onChange={(v) => { setStatus(v as 'open' | 'closed'); setPage(1); }} style={{ marginBottom: 12 }}
        options={[{ value: 'open', label: t('sup.openTab') }, { value: 'closed', label: t('sup.closedTab') }]} />
      <FilterBar list="supervisions" username={me.username} filter={filter} onChange={changeFilter} placeholder={t('sup.search')}>
        <Select allowClear placeholder={t('sup.filter.department')} style={{ width: 180 }} value={filter.departmentId} data-testid="sup-department"
          onChange={(v) => changeFilter({ ...filter, departmentId: v || undefined })} options={departments.map((d) => ({ value: d.id, label: deptName(departments, d.id) }))} />
      </FilterBar>
      {phone ? (
        <List
          loading={loading}
          dataSource={data?.items ?? []}
          pagination={data && data.total > 20 ? pagination : false}
          renderItem={(s) => (
            <List.Item key={s.id} data-testid="supervision-row" data-case-id={s.caseId} data-case-number={s.caseNumber} className="task-card task-red">
              <div style={{ width: '100%', minWidth: 0 }}>
                <Space style={{ justifyContent: 'space-between', width: '100%' }}>
                  <a href={href(`/cases/${s.caseId}`)} data-testid="supervision-link"><b>{s.number}</b></a>
                  {ageTag(s.ageHours)}
                </Space>
                <div className="wrap-anywhere">{s.itemName} · {deptName(departments, s.departmentId)}</div>
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>{s.caseNumber} · {t('sup.urgings')} {s.urgings}{s.followUpAt ? ` · ${t('sup.followUp')} ${fmtDateTime(s.followUpAt)}` : ''}</Typography.Text>
              </div>
            </List.Item>
          )}
        />
      ) : (
        <Table<Supervision>
          rowKey="id"
          size="middle"
          loading={loading}
          scroll={{ x: 900 }}
          dataSource={data?.items ?? []}
          onRow={(s) => ({ 'data-testid': 'supervision-row', 'data-case-id': s.caseId, 'data-case-number': s.caseNumber } as never)}
          pagination={pagination}
          onChange={(_p, _f, sorter) => {
            const s = (Array.isArray(sorter) ? sorter[0] : sorter) as SorterResult<Supervision> | undefined;
            const key = String(s?.columnKey ?? '');
            setSort(s?.order && (SORTABLE as readonly string[]).includes(key) ? { sort: key, order: s.order === 'ascend' ? 'asc' : 'desc' } : null);
            setPage(1);
          }}
          columns={[
            { title: t('sup.number'), ...col('number'), render: (v, s) => <a href={href(`/cases/${s.caseId}`)} data-testid="supervision-link">{v}</a> },
            { title: t('sup.case'), ...col('caseNumber'), render: (v, s) => <a href={href(`/cases/${s.caseId}`)}>{v}</a> },
            { title: t('sup.item'), ...col('itemName') },
            { title: t('sup.department'), ...col('departmentId'), render: (v) => deptName(departments, v) },
            { title: t('sup.age'), ...col('openedAt'), render: (_, s) => ageTag(s.ageHours) },
            { title: t('sup.urgings'), ...col('urgings') },
            { title: t('sup.followUp'), ...col('followUpAt'), render: (v) => fmtDateTime(v) },
            status === 'closed'
              ? { title: t('sup.result'), dataIndex: 'result' }
              : { title: t('case.light'), key: 'l', render: (_, s) => (s.caseCompletedAt ? <Tag color="blue">{t('case.status.completed')}</Tag> : <Tag color="red">{t('light.red')}</Tag>) },
          ]}
        />
      )}
    </Card>
  );
}

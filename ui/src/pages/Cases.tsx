import { useCallback, useEffect, useState } from 'react';
import { App, Card, Input, Select, Space, Table, Typography } from 'antd';
import { get, qs, type Case, type Light, type Page, errText } from '../api';
import { t } from '../i18n';
import { deptName, hasRole, useSession } from '../session';
import { navigate, useRoute, href } from '../router';
import { LightTag } from '../components/LightTag';
import { fmtDateTime, fmtRemaining } from '../format';

const LIGHTS: Light[] = ['green', 'yellow', 'red', 'suspended', 'done', 'done-late'];

/** Case list; filters live in the URL (#/cases?light=red&departmentId=market) so the dashboard can link here. */
export function CasesPage() {
  const { me, departments } = useSession();
  const { query } = useRoute();
  const { message } = App.useApp();
  const light = query.get('light') ?? '';
  const departmentId = query.get('departmentId') ?? '';
  const itemCode = query.get('itemCode') ?? '';
  const q = query.get('q') ?? '';
  const page = Number(query.get('page') ?? 1);
  const [data, setData] = useState<Page<Case> | null>(null);
  const [loading, setLoading] = useState(false);

  const setFilter = (k: string, v: string) => {
    const next = new URLSearchParams(query);
    if (v) next.set(k, v); else next.delete(k);
    if (k !== 'page') next.delete('page');
    navigate(`/cases?${next.toString()}`);
  };

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setData(await get<Page<Case>>(`/api/cases${qs({ light, departmentId, itemCode, q, page, pageSize: 20 })}`));
    } finally {
      setLoading(false);
    }
  }, [light, departmentId, itemCode, q, page]);
  useEffect(() => {
    load().catch((e) => message.error(errText(e)));
  }, [load, message]);

  return (
    <Card title={<Space>{t('cases.title')}<Typography.Text type="secondary" data-testid="cases-total">{data ? t('common.total', { n: data.total }) : ''}</Typography.Text></Space>} data-testid="cases-page">
      <Space wrap style={{ marginBottom: 12 }}>
        <Select style={{ width: 140 }} value={light} onChange={(v) => setFilter('light', v)} data-testid="cases-light"
          options={[{ value: '', label: t('light.all') }, ...LIGHTS.map((l) => ({ value: l, label: t(`light.${l}` as never) }))]} />
        {hasRole(me, 'admin', 'inspector', 'leader') && (
          <Select style={{ width: 180 }} value={departmentId} onChange={(v) => setFilter('departmentId', v)} allowClear placeholder={t('cases.department')}
            options={[{ value: '', label: t('light.all') }, ...departments.map((d) => ({ value: d.id, label: deptName(departments, d.id) }))]} />
        )}
        <Input.Search allowClear defaultValue={q} placeholder={t('cases.search')} onSearch={(v) => setFilter('q', v)} style={{ width: 220 }} />
      </Space>
      <Table<Case>
        rowKey="id"
        size="middle"
        loading={loading}
        dataSource={data?.items ?? []}
        scroll={{ x: 800 }}
        onRow={(c) => ({ 'data-testid': 'case-row', 'data-case-id': c.id, 'data-light': c.light } as never)}
        pagination={{ current: page, pageSize: 20, total: data?.total ?? 0, onChange: (p) => setFilter('page', String(p)), showSizeChanger: false }}
        columns={[
          { title: t('case.light'), dataIndex: 'light', width: 120, render: (v) => <LightTag light={v} /> },
          { title: t('case.number'), dataIndex: 'number', render: (v, c) => <a href={href(`/cases/${c.id}`)}>{v}</a> },
          { title: t('case.item'), dataIndex: 'itemName' },
          { title: t('case.department'), dataIndex: 'departmentId', render: (v) => deptName(departments, v) },
          { title: t('case.applicant'), dataIndex: 'applicantName' },
          { title: t('case.promised'), dataIndex: 'promisedAt', render: (v) => fmtDateTime(v) },
          { title: t('case.remaining'), key: 'r', render: (_, c) => (c.status === 'completed' ? fmtDateTime(c.completedAt) : <Typography.Text type={c.remaining.overdue ? 'danger' : undefined}>{fmtRemaining(c.remaining)}</Typography.Text>) },
        ]}
      />
    </Card>
  );
}

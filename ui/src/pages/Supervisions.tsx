import { useCallback, useEffect, useState } from 'react';
import { App, Card, Segmented, Space, Table, Tag, Typography } from 'antd';
import { get, qs, type Page, type Supervision, errText } from '../api';
import { t } from '../i18n';
import { deptName, useSession } from '../session';
import { href } from '../router';
import { fmtDateTime } from '../format';

/** The inspection office's console: escalations queue, oldest first, with age and urgings. */
export function SupervisionsPage() {
  const { departments } = useSession();
  const { message } = App.useApp();
  const [status, setStatus] = useState<'open' | 'closed'>('open');
  const [page, setPage] = useState(1);
  const [data, setData] = useState<Page<Supervision> | null>(null);
  const [loading, setLoading] = useState(false);
  const load = useCallback(async () => {
    setLoading(true);
    try {
      setData(await get<Page<Supervision>>(`/api/supervisions${qs({ status, page, pageSize: 20, order: status === 'open' ? 'asc' : 'desc' })}`));
    } finally {
      setLoading(false);
    }
  }, [status, page]);
  useEffect(() => {
    load().catch((e) => message.error(errText(e)));
  }, [load, message]);
  return (
    <Card title={<Space>{t('sup.title')}<Typography.Text type="secondary" data-testid="sup-total">{data ? t('common.total', { n: data.total }) : ''}</Typography.Text></Space>} data-testid="supervisions-page">
      <Segmented value={status} onChange={(v) => { setStatus(v as 'open' | 'closed'); setPage(1); }} style={{ marginBottom: 12 }}
        options={[{ value: 'open', label: t('sup.openTab') }, { value: 'closed', label: t('sup.closedTab') }]} />
      <Table<Supervision>
        rowKey="id"
        size="middle"
        loading={loading}
        scroll={{ x: 900 }}
        dataSource={data?.items ?? []}
        onRow={(s) => ({ 'data-testid': 'supervision-row', 'data-case-id': s.caseId, 'data-case-number': s.caseNumber } as never)}
        pagination={{ current: page, pageSize: 20, total: data?.total ?? 0, onChange: setPage, showSizeChanger: false }}
        columns={[
          { title: t('sup.number'), dataIndex: 'number', render: (v, s) => <a href={href(`/cases/${s.caseId}`)} data-testid="supervision-link">{v}</a> },
          { title: t('sup.case'), dataIndex: 'caseNumber', render: (v, s) => <a href={href(`/cases/${s.caseId}`)}>{v}</a> },
          { title: t('sup.item'), dataIndex: 'itemName' },
          { title: t('sup.department'), dataIndex: 'departmentId', render: (v) => deptName(departments, v) },
          { title: t('sup.age'), dataIndex: 'ageHours', render: (v: number) => <Tag color={v > 72 ? 'red' : v > 24 ? 'orange' : 'default'}>{t('sup.ageHours', { n: v })}</Tag> },
          { title: t('sup.urgings'), dataIndex: 'urgings' },
          { title: t('sup.followUp'), dataIndex: 'followUpAt', render: (v) => fmtDateTime(v) },
          status === 'closed'
            ? { title: t('sup.result'), dataIndex: 'result' }
            : { title: t('case.light'), key: 'l', render: (_, s) => (s.caseCompletedAt ? <Tag color="blue">{t('case.status.completed')}</Tag> : <Tag color="red">{t('light.red')}</Tag>) },
        ]}
      />
    </Card>
  );
}

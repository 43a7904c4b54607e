import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Card, Select, Space, Table, Tag, Typography, Upload } from 'antd';
import { get, qs, upload, type ImportSummary, type Page, type Rating } from '../api';
import { t } from '../i18n';
import { deptName, hasRole, useSession } from '../session';
import { navigate, useRoute } from '../router';
import { fmtDateTime } from '../format';

const LEVELS = ['非常满意', '满意', '基本满意', '不满意', '非常不满意'];
const LEVEL_COLORS: Record<string, string> = { 非常满意: 'green', 满意: 'green', 基本满意: 'gold', 不满意: 'red', 非常不满意: 'red' };
const LOOPS = ['open', 'closed', 'invalid'] as const;

function loopTag(r: Rating) {
  if (!r.triggered) return <Typography.Text type="secondary">{t('rt.loop.none')}</Typography.Text>;
  const s = r.loopStatus ?? 'open';
  return <Tag color={s === 'closed' ? 'green' : s === 'invalid' ? 'default' : 'orange'} data-testid="rating-loop">{t(`rt.loop.${s}` as never)}</Tag>;
}

/** Ratings list; filters live in the URL (#/ratings?departmentId=market&level=不满意) so the dashboard can link here. */
export function RatingsPage() {
  const { me, departments } = useSession();
  const { query } = useRoute();
  const { message } = App.useApp();
  const f = (k: string) => query.get(k) ?? '';
  const page = Number(query.get('page') ?? 1);
  const [data, setData] = useState<Page<Rating> | null>(null);
  const [loading, setLoading] = useState(false);

  const setFilter = (k: string, v: string) => {
    const next = new URLSearchParams(query);
    if (v) next.set(k, v); else next.delete(k);
    if (k !== 'page') next.delete('page');
    navigate(`/ratings?${next.toString()}`);
  };
  const load = useCallback(async () => {
    setLoading(true);
    try {
      setData(await get<Page<Rating>>(`/api/ratings${qs({ departmentId: f('departmentId'), level: f('level'), loopStatus: f('loopStatus'), channel: f('channel'), itemCode: f('itemCode'), month: f('month'), page, pageSize: 20 })}`));
    } finally {
      setLoading(false);
    }
  // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [query.toString()]);
  useEffect(() => {
    load().catch((e) => message.error(String(e)));
  }, [load, message]);

  return (
    <Card data-testid="ratings-page"
      title={<Space>{t('rt.title')}<Typography.Text type="secondary" data-testid="ratings-total">{data ? t('common.total', { n: data.total }) : ''}</Typography.Text></Space>}
      extra={hasRole(me, 'admin') ? <Button type="primary" href="#/ratings/import" data-testid="ratings-import">{t('rt.import')}</Button> : null}>
      <Space wrap style={{ marginBottom: 12 }}>
        <Select style={{ width: 140 }} value={f('level')} onChange={(v) => setFilter('level', v)} data-testid="ratings-level"
          options={[{ value: '', label: `${t('rt.level')}: ${t('rt.all')}` }, ...LEVELS.map((l) => ({ value: l, label: l }))]} />
        <Select style={{ width: 150 }} value={f('loopStatus')} onChange={(v) => setFilter('loopStatus', v)}
          options={[{ value: '', label: `${t('rt.loop')}: ${t('rt.all')}` }, ...LOOPS.map((l) => ({ value: l, label: t(`rt.loop.${l}` as never) }))]} />
        {hasRole(me, 'admin', 'inspector', 'leader') && (
          <Select style={{ width: 180 }} value={f('departmentId')} onChange={(v) => setFilter('departmentId', v)}
            options={[{ value: '', label: `${t('rt.department')}: ${t('rt.all')}` }, ...departments.map((d) => ({ value: d.id, label: deptName(departments, d.id) }))]} />
        )}
        {f('channel') && <Tag closable onClose={() => setFilter('channel', '')}>{t('rt.channel')}: {f('channel')}</Tag>}
        {f('month') && <Tag closable onClose={() => setFilter('month', '')}>{t('rt.month')}: {f('month')}</Tag>}
        {f('itemCode') && <Tag closable onClose={() => setFilter('itemCode', '')}>{t('rt.item')}: {f('itemCode')}</Tag>}
      </Space>
      <Table<Rating> rowKey="id" size="middle" loading={loading} dataSource={data?.items ?? []} scroll={{ x: 900 }}
        onRow={(r) => ({ 'data-testid': 'rating-row', 'data-level': r.level } as never)}
        pagination={{ current: page, pageSize: 20, total: data?.total ?? 0, onChange: (p) => setFilter('page', String(p)), showSizeChanger: false }}
        columns={[
          { title: t('rt.level'), dataIndex: 'level', width: 110, render: (v) => <Tag color={LEVEL_COLORS[v]}>{v}</Tag> },
          { title: t('rt.case'), dataIndex: 'caseNumber', render: (v, r) => `${v} · ${r.times}` },
          { title: t('rt.item'), dataIndex: 'itemName', render: (v, r) => v ?? r.itemCode ?? '' },
          { title: t('rt.department'), dataIndex: 'departmentId', render: (v) => deptName(departments, v) },
          { title: t('rt.channel'), dataIndex: 'channel' },
          { title: t('rt.text'), dataIndex: 'text', ellipsis: true },
          { title: t('rt.ratedAt'), dataIndex: 'ratedAt', render: (v) => fmtDateTime(v) },
          { title: t('rt.loop'), key: 'loop', render: (_, r) => loopTag(r) },
          { title: t('rt.route'), dataIndex: 'route' },
          { title: t('rt.letter'), dataIndex: 'letterNumber', render: (v, r) => (v ? <a href={`/api/letters/${r.letterId}/print`} target="_blank" rel="noreferrer">{v}</a> : '') },
        ]} />
    </Card>
  );
}

/** The upload screen: a .csv or .xlsx with GB/T 39046 columns, the source's code list, the summary and every rejected row with its reasons. */
export function RatingImportPage() {
  const { message } = App.useApp();
  const [sources, setSources] = useState<{ name: string; description: string }[]>([]);
  const [source, setSource] = useState('gbt39046');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ImportSummary | null>(null);
  useEffect(() => {
    get<{ name: string; description: string }[]>('/api/rating-sources').then(setSources).catch((e) => message.error(String(e)));
  }, [message]);

  const send = async (file: File) => {
    setBusy(true);
    setResult(null);
    try {
      const type = /\.xlsx$/i.test(file.name) ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv';
      setResult(await upload<ImportSummary>(`/api/ratings/import${qs({ source, fileName: file.name })}`, file, type));
    } catch (e) {
      message.error(String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title={t('rt.import.title')} data-testid="rating-import">
      <Typography.Paragraph type="secondary">{t('rt.import.hint')}</Typography.Paragraph>
      <Space wrap>
        <span>{t('rt.import.source')}</span>
        <Select style={{ width: 420 }} value={source} onChange={setSource} data-testid="import-source" options={sources.map((s) => ({ value: s.name, label: `${s.name} — ${s.description}` }))} />
        <Upload accept=".csv,.xlsx" showUploadList={false} beforeUpload={(file) => { void send(file); return false; }}>
          <Button type="primary" loading={busy} data-testid="import-file">{busy ? t('rt.import.uploading') : t('rt.import.pick')}</Button>
        </Upload>
      </Space>
      {result && (
        <>
          <Alert style={{ marginTop: 16 }} type={result.rejected ? 'warning' : 'success'} showIcon data-testid="import-summary"
            message={t('rt.import.summary', { total: result.total, created: result.created, duplicates: result.duplicates, rejected: result.rejected, triggered: result.triggered })} />
          {result.rejected > 0 && (
            <Table size="small" style={{ marginTop: 12 }} rowKey="row" data-testid="import-rejected" title={() => t('rt.import.rejected')}
              dataSource={result.results.filter((r) => r.status === 'rejected')} pagination={{ pageSize: 20 }}
              columns={[
                { title: t('rt.import.row'), dataIndex: 'row', width: 80 },
                { title: t('rt.case'), dataIndex: 'caseNumber', width: 200 },
                { title: t('rt.import.reasons'), dataIndex: 'reasons', render: (v: string[]) => v?.join(';') },
              ]} />
          )}
        </>
      )}
    </Card>
  );
}

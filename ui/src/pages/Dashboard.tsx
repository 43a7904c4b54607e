import { useEffect, useMemo, useState } from 'react';
import { App, Button, Card, Col, Row, Statistic, Table, Typography } from 'antd';
import { get, qs, type Case, type Light, type Page, type StatsRow, errText } from '../api';
import { getLang, t } from '../i18n';
import { deptName, useSession } from '../session';
import { navigate } from '../router';
import { Chart, type ChartOption } from '../components/Chart';
import { pct } from '../format';
import { RatingsPanel } from './RatingsPanel';

const OPEN_LIGHTS: Light[] = ['green', 'yellow', 'red', 'suspended'];
const LIGHT_COLORS: Record<string, string> = { green: '#52c41a', yellow: '#faad14', red: '#f5222d', suspended: '#8c8c8c' };

interface Data {
  year: number;
  byDept: StatsRow[];
  byMonth: StatsRow[];
  byItem: StatsRow[];
  lights: Record<string, Record<string, number>>;
  openSupervisions: number;
}

async function casesByLight(light: Light): Promise<Case[]> {
  const out: Case[] = [];
  for (let page = 1; ; page++) {
    const p = await get<Page<Case>>(`/api/cases${qs({ light, page, pageSize: 200 })}`);
    out.push(...p.items);
    if (out.length >= p.total || p.items.length === 0) return out;
  }
}

/** The leader's dashboard: this year's numbers from /api/stats/cases, lights from /api/cases. Every chart links to its cases. */
export default function DashboardPage() {
  const { departments } = useSession();
  const { message } = App.useApp();
  const [data, setData] = useState<Data | null>(null);
  useEffect(() => {
    const year = new Date().getFullYear();
    const from = `${year}-01-01`;
    (async () => {
      const [byDept, byMonth, byItem, sup, ...lightLists] = await Promise.all([
        get<{ rows: StatsRow[] }>(`/api/stats/cases${qs({ groupBy: 'department', from })}`),
        get<{ rows: StatsRow[] }>(`/api/stats/cases${qs({ groupBy: 'month', from })}`),
        get<{ rows: StatsRow[] }>(`/api/stats/cases${qs({ groupBy: 'item', from })}`),
        get<Page<unknown>>('/api/supervisions?status=open&pageSize=1'),
        ...OPEN_LIGHTS.map(casesByLight),
      ]);
      const lights: Data['lights'] = {};
      OPEN_LIGHTS.forEach((l, i) => {
        for (const c of lightLists[i]!) (lights[c.departmentId] ??= {})[l] = ((lights[c.departmentId] ??= {})[l] ?? 0) + 1;
      });
      setData({ year, byDept: byDept.rows, byMonth: byMonth.rows, byItem: byItem.rows, lights, openSupervisions: sup.total });
    })().catch((e) => message.error(errText(e)));
  }, [message]);

  const lang = getLang();
  const totals = useMemo(() => {
    const rows = data?.byDept ?? [];
    const sum = (k: keyof StatsRow) => rows.reduce((a, r) => a + Number(r[k] ?? 0), 0);
    const completed = sum('completed');
    return { received: sum('received'), completed, onTime: sum('onTime'), overdueNow: sum('overdueNow'), rate: completed ? sum('onTime') / completed : 0 };
  }, [data]);

  const deptRows = useMemo(() => [...(data?.byDept ?? [])].sort((a, b) => b.overdueNow - a.overdueNow), [data]);
  const name = (key: string) => deptName(departments, key);

  const overdueOption = useMemo<ChartOption>(() => ({
    tooltip: { trigger: 'axis' },
    grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', inverse: true, data: deptRows.map((r) => name(r.key)) },
    series: [{ id: 'overdue', name: t('dash.overdue'), type: 'bar', data: deptRows.map((r) => r.overdueNow), itemStyle: { color: '#f5222d' }, label: { show: true, position: 'right' } }],
  // eslint-disable-next-line react-hooks/exhaustive-deps
  }), [deptRows, lang, departments]);

  const lightDepts = useMemo(() => departments.filter((d) => data?.lights[d.id]).map((d) => d.id), [data, departments]);
  const lightsOption = useMemo<ChartOption>(() => ({
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    legend: { top: 0 },
    grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
    xAxis: { type: 'category', data: lightDepts.map(name), axisLabel: { interval: 0, rotate: 30 } },
    yAxis: { type: 'value', minInterval: 1 },
    series: OPEN_LIGHTS.map((l) => ({ id: l, name: t(`light.${l}` as never), type: 'bar', stack: 'lights', itemStyle: { color: LIGHT_COLORS[l] }, data: lightDepts.map((d) => data?.lights[d]?.[l] ?? 0) })),
  // eslint-disable-next-line react-hooks/exhaustive-deps
  }), [data, lightDepts, lang]);

  const trendOption = useMemo<ChartOption>(() => {
    const rows = data?.byMonth ?? [];
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: rows.map((r) => r.label) },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        { id: 'received', name: t('dash.received'), type: 'line', smooth: true, data: rows.map((r) => r.received) },
        { id: 'completed', name: t('dash.completed'), type: 'line', smooth: true, data: rows.map((r) => r.completed) },
        { id: 'overdue', name: t('dash.overdue'), type: 'bar', data: rows.map((r) => r.overdueNow), itemStyle: { color: '#f5222d' } },
      ],
    };
  // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, lang]);

  const topItems = useMemo(() => [...(data?.byItem ?? [])].filter((r) => r.overdueNow > 0).sort((a, b) => b.overdueNow - a.overdueNow || b.overdueRate - a.overdueRate).slice(0, 10), [data]);

  if (!data) return <Card loading data-testid="dashboard-loading" />;
  return (
    <div data-testid="dashboard">
      <Row gutter={[12, 12]}>
        <Col xs={12} md={6}><Card hoverable onClick={() => navigate('/cases')}><Statistic title={t('dash.year', { y: data.year })} value={totals.received} valueRender={() => <span data-testid="stat-received">{totals.received}</span>} /></Card></Col>
        <Col xs={12} md={6}><Card hoverable onClick={() => navigate('/cases?light=done')}><Statistic title={t('dash.onTime')} value={pct(totals.rate)} valueRender={() => <span data-testid="stat-ontime" data-value={totals.rate}>{pct(totals.rate)}</span>} /></Card></Col>
        <Col xs={12} md={6}><Card hoverable onClick={() => navigate('/cases?light=red')}><Statistic title={t('dash.overdueNow')} value={totals.overdueNow} styles={{ content: { color: '#cf1322' } }} valueRender={() => <span data-testid="stat-overdue">{totals.overdueNow}</span>} /></Card></Col>
        <Col xs={12} md={6}><Card hoverable onClick={() => navigate('/supervisions')}><Statistic title={t('dash.openSup')} value={data.openSupervisions} valueRender={() => <span data-testid="stat-open-supervisions">{data.openSupervisions}</span>} /></Card></Col>
      </Row>
      <Typography.Paragraph type="secondary" style={{ margin: '8px 0' }}>
        {t('dash.clickHint')} · <Button type="link" size="small" href={`/api/stats/cases.xlsx${qs({ groupBy: 'department', from: `${data.year}-01-01` })}`}>{t('dash.export')}</Button>
      </Typography.Paragraph>
      <Row gutter={[12, 12]}>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('dash.byDept')}>
            <Chart testid="chart-overdue-by-department" height={360} option={overdueOption}
              values={Object.fromEntries(deptRows.map((r) => [r.key, r.overdueNow]))}
              onClick={(p) => navigate(`/cases?light=red&departmentId=${deptRows[p.dataIndex]!.key}`)} />
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('dash.lights')}>
            <Chart testid="chart-lights" height={360} option={lightsOption} values={data.lights}
              onClick={(p) => navigate(`/cases?light=${p.seriesId ?? ''}&departmentId=${lightDepts[p.dataIndex]}`)} />
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('dash.trend')}>
            <Chart testid="chart-trend" option={trendOption}
              values={Object.fromEntries(data.byMonth.map((r) => [r.key, { received: r.received, completed: r.completed, overdueNow: r.overdueNow }]))} />
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('dash.topItems')}>
            <Table<StatsRow> size="small" rowKey="key" pagination={false} dataSource={topItems} data-testid="top-items"
              onRow={(r) => ({ onClick: () => navigate(`/cases?light=red&itemCode=${encodeURIComponent(r.key)}`), style: { cursor: 'pointer' }, 'data-testid': 'top-item' } as never)}
              columns={[
                { title: t('dash.item'), dataIndex: 'label' },
                { title: t('dash.count'), dataIndex: 'overdueNow', render: (v) => <Typography.Text type="danger">{v}</Typography.Text> },
                { title: t('dash.overdueRate'), dataIndex: 'overdueRate', render: (v: number) => pct(v) },
              ]} />
          </Card>
        </Col>
        <Col xs={24}>
          <RatingsPanel year={data.year} />
        </Col>
      </Row>
    </div>
  );
}

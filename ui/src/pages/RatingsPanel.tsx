import { useEffect, useMemo, useState } from 'react';
import { App, Button, Card, Col, Row, Statistic, Table, Typography } from 'antd';
import { get, qs, type RatingStats } from '../api';
import { t } from '../i18n';
import { deptName, useSession } from '../session';
import { navigate } from '../router';
import { pct } from '../format';

type RateKey = 'satisfactionRate' | 'badRate' | 'rectificationRate' | 'onTimeRate' | 'revisitRate' | 'activeRate';
const RATES: Array<[RateKey, Parameters<typeof t>[0], string]> = [
  ['satisfactionRate', 'dash.rt.satisfaction', ''], ['badRate', 'dash.rt.bad', 'level=不满意'], ['rectificationRate', 'dash.rt.rectification', 'loopStatus=closed'],
  ['onTimeRate', 'dash.rt.onTime', 'loopStatus=closed'], ['revisitRate', 'dash.rt.revisit', ''], ['activeRate', 'dash.rt.active', ''],
];

/** Rates over summed counts, with the same definitions as the server (src/domain/ratings/stats.ts). */
function totalsOf(rows: RatingStats[]) {
  const sum = (k: keyof RatingStats) => rows.reduce((a, r) => a + Number(r[k] ?? 0), 0);
  const ratio = (n: number, d: number) => (d ? n / d : null);
  const valid = sum('valid');
  return {
    ratings: sum('ratings'),
    satisfactionRate: ratio(sum('satisfied'), valid), badRate: ratio(sum('bad'), valid), rectificationRate: ratio(sum('badRectified'), sum('bad')),
    onTimeRate: ratio(sum('badOnTime'), sum('badHandled')), revisitRate: ratio(sum('realNameBadVisited'), sum('realNameBad')), activeRate: ratio(sum('active'), valid),
  };
}

const fmt = (v: number | null) => (v === null ? '—' : pct(v));

/** The 好差评 panel of the leader's dashboard: six rates and the rectification progress by department; rows open the ratings list. */
export function RatingsPanel({ year }: { year: number }) {
  const { departments } = useSession();
  const { message } = App.useApp();
  const [rows, setRows] = useState<RatingStats[] | null>(null);
  const from = `${year}-01-01`;
  useEffect(() => {
    get<{ rows: RatingStats[] }>(`/api/stats/ratings${qs({ groupBy: 'department', from })}`).then((r) => setRows(r.rows)).catch((e) => message.error(String(e)));
  }, [from, message]);
  const totals = useMemo(() => totalsOf(rows ?? []), [rows]);
  if (!rows) return <Card loading size="small" />;
  return (
    <Card size="small" title={t('dash.ratings')} data-testid="ratings-panel"
      extra={<Button type="link" size="small" href={`/api/stats/ratings.xlsx${qs({ groupBy: 'department', from })}`}>{t('dash.rt.export')}</Button>}>
      <Row gutter={[12, 12]}>
        {RATES.map(([key, label, filter]) => (
          <Col xs={12} md={4} key={key}>
            <Card size="small" hoverable onClick={() => navigate(`/ratings${filter ? `?${filter}` : ''}`)}>
              <Statistic title={label && t(label)} value={fmt(totals[key])} valueRender={() => <span data-testid={`rt-${key}`} data-value={totals[key] ?? ''}>{fmt(totals[key])}</span>} />
            </Card>
          </Col>
        ))}
      </Row>
      <Table<RatingStats> style={{ marginTop: 12 }} size="small" rowKey="key" pagination={false} dataSource={rows} data-testid="ratings-by-department" scroll={{ x: 900 }}
        onRow={(r) => ({ onClick: () => navigate(`/ratings?departmentId=${encodeURIComponent(r.key)}`), style: { cursor: 'pointer' }, 'data-testid': 'ratings-dept-row', 'data-key': r.key } as never)}
        columns={[
          { title: t('rt.department'), dataIndex: 'key', render: (v) => deptName(departments, v) },
          { title: t('dash.rt.count'), dataIndex: 'ratings' },
          ...RATES.map(([key, label]) => ({ title: t(label), dataIndex: key, render: (v: number | null) => fmt(v) })),
          {
            title: t('dash.rt.progress'), key: 'progress',
            render: (_: unknown, r: RatingStats) => (
              <Typography.Text type="secondary">
                {t('dash.rt.total')} {r.progress.total} / {t('dash.rt.invalid')} {r.progress.invalid} / {t('dash.rt.valid')} {r.progress.valid} / {t('dash.rt.inProgress')} {r.progress.inProgress} / {t('dash.rt.done')} {r.progress.done} / {t('dash.rt.unfixable')} {r.progress.unfixable}
              </Typography.Text>
            ),
          },
        ]} />
    </Card>
  );
}

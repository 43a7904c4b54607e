import { useCallback, useEffect, useMemo, useState } from 'react';
import { App, Card, Col, Progress, Row, Segmented, Space, Statistic, Table, Typography } from 'antd';
import { ApiError, get } from '../api';
import { t } from '../i18n';
import { href } from '../router';
import { hasRole, useSession } from '../session';
import { ProjectLightTag } from '../components/ProjectLightTag';
import type { ProjectLight, ProjectSummary, UnitSummary } from '../projects';

type Filter = ProjectLight | 'all';

/** The board of key projects: colours against 序时进度, investment against the annual target, a summary per unit. */
export function ProjectsPage() {
  const { me } = useSession();
  const { message } = App.useApp();
  const [items, setItems] = useState<ProjectSummary[] | null>(null);
  const [units, setUnits] = useState<UnitSummary[]>([]);
  const [filter, setFilter] = useState<Filter>('all');
  const load = useCallback(async () => {
    setItems((await get<{ items: ProjectSummary[] }>('/api/projects')).items);
    if (hasRole(me, 'admin', 'inspector', 'leader')) setUnits(await get<UnitSummary[]>('/api/projects/summary'));
  }, [me]);
  useEffect(() => {
    load().catch((e) => message.error(e instanceof ApiError ? e.message : String(e)));
  }, [load, message]);
  const counts = useMemo(() => {
    const c: Record<ProjectLight, number> = { green: 0, yellow: 0, red: 0, done: 0 };
    for (const p of items ?? []) c[p.light]++;
    return c;
  }, [items]);
  const shown = (items ?? []).filter((p) => filter === 'all' || p.light === filter);
  const target = (items ?? []).reduce((s, p) => s + p.annualTarget, 0);
  const invested = (items ?? []).reduce((s, p) => s + p.investedThisYear, 0);
  return (
    <div data-testid="projects-page">
      <Row gutter={[12, 12]}>
        <Col xs={12} md={4}><Card size="small"><Statistic title={t('proj.total', { n: '' })} value={items?.length ?? 0} /></Card></Col>
        {(['green', 'yellow', 'red', 'done'] as const).map((l) => (
          <Col xs={12} md={4} key={l}><Card size="small"><Statistic title={t(`proj.light.${l}`)} value={counts[l]} valueStyle={{ color: { green: '#389e0d', yellow: '#d48806', red: '#cf1322', done: '#1677ff' }[l] }} data-testid={`projects-count-${l}`} /></Card></Col>
        ))}
        <Col xs={24} md={4}><Card size="small"><Statistic title={t('proj.investment')} value={target ? Math.round((invested / target) * 1000) / 10 : 0} suffix="%" /></Card></Col>
      </Row>
      <Card className="gap" title={<Space>{t('proj.title')}<Typography.Text type="secondary">{t('proj.total', { n: items?.length ?? 0 })}</Typography.Text></Space>}>
        <Segmented value={filter} onChange={(v) => setFilter(v as Filter)} style={{ marginBottom: 12 }}
          options={[{ value: 'all', label: t('light.all') }, ...(['green', 'yellow', 'red', 'done'] as const).map((l) => ({ value: l, label: t(`proj.light.${l}`) }))]} />
        <Table<ProjectSummary>
          rowKey="id" size="small" loading={!items} dataSource={shown} scroll={{ x: 1000 }} pagination={{ pageSize: 30, showSizeChanger: false }}
          onRow={(p) => ({ 'data-testid': 'project-row', 'data-code': p.code, 'data-light': p.light } as never)}
          columns={[
            { title: t('proj.code'), dataIndex: 'code', width: 110 },
            { title: t('proj.name'), dataIndex: 'name', render: (v, p) => <a href={href(`/projects/${p.id}`)} data-testid="project-link">{v}</a> },
            { title: t('proj.unit'), dataIndex: 'departmentName', width: 150 },
            { title: t('proj.light'), dataIndex: 'light', width: 110, render: (l: ProjectLight, p) => <span title={p.reasons.join(';')}><ProjectLightTag light={l} /></span> },
            { title: `${t('proj.progress')} / ${t('proj.schedule')}`, key: 'pg', width: 200, render: (_, p) => (
              <Progress percent={p.progress} success={{ percent: Math.min(p.progress, p.scheduleProgress) }} size="small"
                format={() => `${p.progress}% / ${p.scheduleProgress}%`} status={p.light === 'red' ? 'exception' : 'normal'} />
            ) },
            { title: t('proj.investment'), dataIndex: 'investmentRate', width: 120, render: (v: number) => `${v}%` },
            { title: t('proj.current'), key: 'cur', render: (_, p) => (p.currentMilestone ? `${p.currentMilestone.name}(${p.currentMilestone.currentDue})` : '—') },
          ]}
        />
      </Card>
      {units.length > 0 && (
        <Card className="gap" size="small" title={t('proj.units')}>
          <Table<UnitSummary> rowKey="departmentId" size="small" pagination={false} dataSource={units} scroll={{ x: 700 }}
            columns={[
              { title: t('proj.unit'), dataIndex: 'departmentName' },
              { title: t('proj.count'), dataIndex: 'projects' },
              ...(['green', 'yellow', 'red', 'done'] as const).map((l) => ({ title: t(`proj.light.${l}`), dataIndex: l })),
              { title: t('proj.annualTarget'), dataIndex: 'annualTarget', render: (v: number) => t('proj.wan', { n: v }) },
              { title: t('proj.investment'), dataIndex: 'investmentRate', render: (v: number) => <Progress percent={v} size="small" /> },
            ]} />
        </Card>
      )}
    </div>
  );
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import ExcelJS from 'exceljs';
import type { Db } from '../db/database.js';
import type { CalendarCache } from '../calendar/calendar.js';
import { principalOf } from './auth.js';
import { seesAllDepartments } from '../auth/principal.js';
import { caseStatistics, lightCounts, type GroupBy, type StatsRow } from '../domain/cases/stats.js';
import { shanghaiDay, toShanghaiIso } from '../calendar/calendar.js';

const GROUP_LABEL: Record<GroupBy, string> = { department: '部门', item: '事项', month: '月份' };

/** The totals row: sums, and the overdue rate and averages over all rows (weighted by their counts). */
function totalsOf(rows: StatsRow[]): Record<string, string | number | null> {
  const sum = (k: keyof StatsRow) => rows.reduce((a, r) => a + (Number(r[k]) || 0), 0);
  const received = sum('received');
  const late = rows.reduce((a, r) => a + Math.round(r.overdueRate * r.received), 0);
  const days = rows.reduce((a, r) => a + (r.avgWorkingDays ?? 0) * r.completed, 0);
  return {
    label: '合计 Total', received, completed: sum('completed'), onTime: sum('onTime'), overdueNow: sum('overdueNow'),
    overdueRate: received ? Math.round((late / received) * 10000) / 10000 : 0,
    avgWorkingDays: sum('completed') ? Math.round((days / sum('completed')) * 100) / 100 : null, escalations: sum('escalations'), avgHoursToClose: null,
  };
}
import { BadRequestError } from '../engine/errors.js';

const Query = Type.Object({
  groupBy: Type.Optional(Type.Union([Type.Literal('department'), Type.Literal('item'), Type.Literal('month')])),
  from: Type.Optional(Type.String({ format: 'date' })),
  to: Type.Optional(Type.String({ format: 'date' })),
  departmentId: Type.Optional(Type.String({ maxLength: 40 })),
}, { additionalProperties: false });
const Row = Type.Object({
  key: Type.String(), label: Type.String(), received: Type.Integer(), completed: Type.Integer(), onTime: Type.Integer(), overdueNow: Type.Integer(),
  overdueRate: Type.Number(), avgWorkingDays: Type.Union([Type.Number(), Type.Null()]), escalations: Type.Integer(), avgHoursToClose: Type.Union([Type.Number(), Type.Null()]),
});

const COLUMNS: Array<[keyof StatsRow, string]> = [
  ['label', '分组 Group'], ['received', '受理数 Received'], ['completed', '办结数 Completed'], ['onTime', '按时办结 On time'],
  ['overdueNow', '当前超期 Overdue now'], ['overdueRate', '超期率 Overdue rate'], ['avgWorkingDays', '平均办理工作日 Avg working days'],
  ['escalations', '督办数 Escalations'], ['avgHoursToClose', '督办平均时长(小时) Avg hours to close'],
];

/** Statistics for leaders and the inspection office, as JSON and as an .xlsx workbook. */
export async function statsRoutes(app: FastifyInstance, opts: { db: Db; calendars: CalendarCache }) {
  async function compute(req: FastifyRequest) {
    const p = principalOf(req);
    const q = req.query as { groupBy?: GroupBy; from?: string; to?: string; departmentId?: string };
    const now = new Date();
    const from = q.from ? new Date(`${q.from}T00:00:00+08:00`) : new Date(`${now.getUTCFullYear()}-01-01T00:00:00+08:00`);
    const to = q.to ? new Date(`${q.to}T00:00:00+08:00`) : new Date(now.getTime() + 86_400_000);
    if (!(from < to)) throw new BadRequestError('"from" must be before "to"');
    const departmentId = seesAllDepartments(p) ? q.departmentId : p.departmentId ?? '-';
    return { groupBy: q.groupBy ?? 'department', from, to, rows: await caseStatistics(opts.db, await opts.calendars.get(), q.groupBy ?? 'department', from, to, departmentId) };
  }

  app.get('/api/stats/cases', {
    schema: { tags: ['statistics'], summary: 'Cases by department, item or month', querystring: Query, response: { 200: Type.Object({ groupBy: Type.String(), rows: Type.Array(Row) }) } },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader'], scope: 'read' } },
  }, async (req) => {
    const { groupBy, rows } = await compute(req);
    return { groupBy, rows };
  });

  app.get('/api/stats/lights', {
    schema: {
      tags: ['statistics'], summary: 'Open cases by light, counted in SQL (the dashboard)', querystring: Type.Object({ departmentId: Type.Optional(Type.String({ maxLength: 40 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ green: Type.Integer(), yellow: Type.Integer(), red: Type.Integer(), suspended: Type.Integer(), open: Type.Integer() }) },
    },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader'], scope: 'read' } },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as { departmentId?: string };
    const departmentId = seesAllDepartments(p) ? q.departmentId : p.departmentId ?? '-';
    return lightCounts(opts.db, departmentId);
  });

  app.get('/api/stats/cases.xlsx', {
    schema: { tags: ['statistics'], summary: 'The same statistics as an Excel workbook', querystring: Query },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader'], scope: 'read' } },
  }, async (req, reply) => {
    const { groupBy, rows, from, to } = await compute(req);
    const wb = new ExcelJS.Workbook();
    wb.creator = 'Duban 督办';
    const ws = wb.addWorksheet(`办件统计-${groupBy}`);
    ws.columns = COLUMNS.map(([key]) => ({ key, width: key === 'label' ? 28 : 16 }));
    // A title, the period and when it was made, then the table and a totals row (as offices print it).
    ws.mergeCells(1, 1, 1, COLUMNS.length);
    ws.getCell(1, 1).value = `办件统计(按${GROUP_LABEL[groupBy]})`;
    ws.getCell(1, 1).font = { bold: true, size: 14 };
    ws.getCell(1, 1).alignment = { horizontal: 'center' };
    ws.mergeCells(2, 1, 2, COLUMNS.length);
    ws.getCell(2, 1).value = `统计期间:${shanghaiDay(from)} 至 ${shanghaiDay(new Date(to.getTime() - 1))}    制表时间:${toShanghaiIso(new Date()).slice(0, 16).replace('T', ' ')}`;
    const header = ws.addRow(COLUMNS.map(([, h]) => h));
    header.font = { bold: true };
    for (const r of rows) ws.addRow(r);
    const totals = ws.addRow(totalsOf(rows));
    totals.font = { bold: true };
    ws.getColumn('overdueRate').numFmt = '0.00%';
    const buffer = Buffer.from(await wb.xlsx.writeBuffer());
    return reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('content-disposition', `attachment; filename="duban-cases-${groupBy}.xlsx"`).send(buffer);
  });
}

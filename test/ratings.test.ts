import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import type { FastifyInstance } from 'fastify';
import type { VirtualClock } from './support/clock.js';
import { clockedApiApp, login, as, type ClockedApi, type Session } from './support/api.js';
import { residentIdCheck } from '../src/domain/cases/identity.js';
import type { TimerScheduler } from '../src/engine/scheduler.js';
import type { OutboxDispatcher } from '../src/engine/outbox.js';
import type { SmsProvider } from '../src/notify/sms.js';
import type { Runtime } from '../src/runtime.js';
import type { Db } from '../src/db/database.js';

let world: ClockedApi;
let db: Db;
let app: FastifyInstance;
let runtime: Runtime;
let clock: VirtualClock;
let scheduler: TimerScheduler;
let outbox: OutboxDispatcher;
let admin: Session, market: Session, health: Session, inspector: Session, leader: Session;
let token: string;
let platform: Session;
let marketItem: string;
const sent: Array<{ to: string; text: string }> = [];
const sms: SmsProvider = { name: 'test', send: async (m, key) => { sent.push({ to: m.to, text: m.text }); return { provider: 'test', providerId: key, text: m.text, status: 'delivered' }; } };
const work = mkdtempSync(path.join(tmpdir(), 'duban-ratings-'));
const PERSON = (() => { const f = '37140219850101123'; return f + residentIdCheck(f); })();

before(async () => {
  world = await clockedApiApp('duban_ratings', { sms });
  ({ db, clock, app, runtime, scheduler, outbox } = world);
  await relogin();
  marketItem = (await db('items').where({ department_id: 'market' }).orderBy('code').first('code')).code;
  const sys = await as(app, admin, { method: 'POST', url: '/api/users', payload: { username: 'rating.platform', displayName: '好差评平台', password: 'platform-pass-1', roles: ['system'] } });
  assert.equal(sys.statusCode, 201, sys.body);
  // The rating platform logs in as its own system user and mints its token (a token acts only for its issuer).
  platform = await login(app, 'rating.platform', 'platform-pass-1');
  const tok = await as(app, platform, { method: 'POST', url: '/api/tokens', payload: { name: '好差评推送', scopes: ['ratings:write'] } });
  assert.equal(tok.statusCode, 201, tok.body);
  token = tok.json().token;
});
after(async () => {
  await world.close();
  rmSync(work, { recursive: true, force: true });
});

async function relogin(): Promise<void> {
  [admin, market, health, inspector, leader] = await Promise.all(['admin', 'market.clerk', 'health.clerk', 'inspector', 'leader'].map((u) => login(app, u)));
}

function push(body: unknown, bearer = token) {
  return app.inject({ method: 'POST', url: '/api/ratings/batch', headers: { authorization: `Bearer ${bearer}` }, payload: body as object });
}

/** Let the outbox start loops and the scheduler fire due timers, until nothing is left to do now. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const a = await outbox.drain();
    const b = await scheduler.drain();
    if (!a && !b) return;
  }
}

// ---- a generated import file --------------------------------------------------------------------

const HEADER = ['办件编号', '评价次数', '评价渠道', '满意度', '满意度代码', '文字评价', '评价人', '评价时间', '行政区划', '事项编码', '申请人类型', '联系电话'];

/** Row i of the file: 3% bad rows, each kind of fault with the reason the importer must give. */
function fileRow(prefix: string, i: number, item: string): { cells: string[]; reason: RegExp | null } {
  const n = `${prefix}${String(i).padStart(8, '0')}`;
  const good = [n, '1', String((i % 7) + 1), '', i % 2 ? '1' : '2', '', `评价人${i}`, `202611${String((i % 28) + 1).padStart(2, '0')}093000`, '371402001', item, '1', '13800138000'];
  if (i % 100 >= 3) return { cells: good, reason: null };
  const fault = Math.floor(i / 100) % 6;
  const bad = [...good];
  const reasons: Array<[() => void, RegExp]> = [
    [() => (bad[0] = ''), /缺少办件编号/],
    [() => (bad[1] = '3'), /评价次数应为1或2/],
    [() => (bad[2] = '微信'), /评价渠道“微信”无法识别/],
    [() => (bad[7] = '2026-13-45'), /评价时间“2026-13-45”格式错误/],
    [() => (bad[4] = '4'), /“不满意”评价须有文字评价/],
    [() => (bad[9] = 'NO-SUCH-ITEM'), /事项编码“NO-SUCH-ITEM”不存在/],
  ];
  reasons[fault]![0]();
  return { cells: bad, reason: reasons[fault]![1] };
}

function csvOf(prefix: string, rows: number, item: string): { text: string; bad: Map<number, RegExp> } {
  const bad = new Map<number, RegExp>();
  const lines = [HEADER.join(',')];
  for (let i = 1; i <= rows; i++) {
    const r = fileRow(prefix, i, item);
    if (r.reason) bad.set(i, r.reason);
    lines.push(r.cells.join(','));
  }
  return { text: `\uFEFF${lines.join('\r\n')}\r\n`, bad };
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args],
    { env: { ...process.env, DATABASE_URL: world.t.url }, maxBuffer: 64 * 1024 * 1024 },
    (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr })));
}

describe('acceptance 1: file import through `duban ratings import`', () => {
  const ROWS = 10_000;
  let csvFile: string;
  let bad: Map<number, RegExp>;

  test('a 10,000-row CSV with 3% bad rows: good rows in, every bad row listed with its reason, a progress bar', async () => {
    const f = csvOf('TQA', ROWS, marketItem);
    bad = f.bad;
    assert.equal(bad.size, 300);
    csvFile = path.join(work, 'ratings.csv');
    writeFileSync(csvFile, f.text);
    const r = await cli(['ratings', 'import', csvFile, '--source', 'gbt39046']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /共 10000 行,新增 9700,重复 0,拒收 300/);
    assert.match(r.stderr, /导入 \[█+░*\] \d+% 1000\/10000/, 'the progress bar shows');
    assert.match(r.stderr, /导入 \[█{30}\] 100% 10000\/10000/);
    for (const [row, reason] of bad) {
      const line = r.stdout.split('\n').find((l) => l.includes(`拒收 第${row + 1 - 1}行 `));
      assert.ok(line, `row ${row} is listed`);
      assert.match(line!, reason);
    }
    assert.equal(Number((await db('ratings').where('case_number', 'like', 'TQA%').count('* as n').first())!.n), 9700);
    assert.equal(Number((await db('rating_rejects').whereNull('resolved_at').count('* as n').first())!.n), 300);
    // Codes mapped by the source: gbt39046 1 = 非常满意, 2 = 满意; channel 6 = 电话, 7 = 短信.
    const one = await db('ratings').where({ case_number: 'TQA00000005' }).first();
    assert.deepEqual([one.level, one.channel, one.level_code], ['非常满意', '电话', '1']);
    assert.equal(one.department_id, 'market', 'the item’s department handles it');
    assert.equal(new Date(one.rated_at).toISOString(), '2026-11-06T01:30:00.000Z', 'YYYYMMDDhhmmss is Beijing time');
    const rejected = path.join(work, 'ratings.csv.rejected.csv');
    assert.ok(existsSync(rejected));
    assert.equal(readFileSync(rejected, 'utf8').trim().split('\r\n').length, 301, 'header + 300 rejected rows with a 原因 column');
  });

  test('a re-import of the same file adds nothing', async () => {
    const before = await db('ratings').count('* as n').first();
    const rejectsBefore = await db('rating_rejects').count('* as n').first();
    const r = await cli(['ratings', 'import', csvFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /新增 0,重复 9700,拒收 300/);
    assert.deepEqual(await db('ratings').count('* as n').first(), before);
    assert.deepEqual(await db('rating_rejects').count('* as n').first(), rejectsBefore, 'the same bad rows are not listed twice');
  });

  test('the same rows as .xlsx give the same result', async () => {
    const f = csvOf('TQB', ROWS, marketItem);
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('评价');
    for (const line of f.text.replace(/^\uFEFF/, '').trim().split('\r\n')) ws.addRow(line.split(','));
    const file = path.join(work, 'ratings.xlsx');
    await wb.xlsx.writeFile(file);
    const r = await cli(['ratings', 'import', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /共 10000 行,新增 9700,重复 0,拒收 300/);
    assert.match(r.stderr, /100% 10000\/10000/);
    const a = await db('ratings').where('case_number', 'like', 'TQA%').orderBy('case_number').select('case_number', 'level', 'channel', 'rated_at', 'department_id');
    const b = await db('ratings').where('case_number', 'like', 'TQB%').orderBy('case_number').select('case_number', 'level', 'channel', 'rated_at', 'department_id');
    assert.deepEqual(b.map((x) => ({ ...x, case_number: x.case_number.slice(3) })), a.map((x) => ({ ...x, case_number: x.case_number.slice(3) })));
    const again = await cli(['ratings', 'import', file]);
    assert.match(again.stdout, /新增 0,重复 9700,拒收 300/);
  });

  test('a rejected row is corrected and taken in; a file without the GB/T columns is refused', async () => {
    const rej = (await as(app, admin, { method: 'GET', url: '/api/ratings/rejects?resolved=false&pageSize=5' })).json();
    // 300 per file, less the 50 rows without 办件编号 that are the same in both files (listed once).
    assert.equal(rej.total, 550);
    const row = rej.items.find((x: { reasons: string[] }) => x.reasons.some((s: string) => s.includes('评价次数')));
    assert.ok(row);
    const fixed = await as(app, admin, { method: 'PUT', url: `/api/ratings/rejects/${row.id}`, payload: { ...row.raw, times: '1' } });
    assert.equal(fixed.statusCode, 200, fixed.body);
    assert.equal(fixed.json().created, 1);
    const after = (await as(app, admin, { method: 'GET', url: '/api/ratings/rejects?resolved=false&pageSize=1' })).json();
    assert.equal(after.total, 549);
    const noHeader = path.join(work, 'bad.csv');
    writeFileSync(noHeader, 'a,b\n1,2\n');
    const r = await cli(['ratings', 'import', noHeader]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /表头缺少列/);
    // The same import through HTTP (the upload screen).
    const up = await as(app, admin, { method: 'POST', url: '/api/ratings/import?source=gbt39046&fileName=ratings.csv', headers: { 'content-type': 'text/csv' }, payload: readFileSync(path.join(work, 'ratings.csv')) });
    assert.equal(up.statusCode, 200, up.body);
    assert.equal(up.json().created, 0);
    assert.equal(up.json().rejected, 300);
    assert.equal((await as(app, market, { method: 'POST', url: '/api/ratings/import?source=gbt39046&fileName=ratings.csv', headers: { 'content-type': 'text/csv' }, payload: 'x' })).statusCode, 403);
  });
});

describe('acceptance 5: two sources with opposite code orders; the rates equal a computation from the raw ratings', () => {
  test('code 1 is 非常满意 for GB/T 39046 and 非常不满意 for the provincial interface; channel 6 is 电话 vs 短信', async () => {
    const a = await push({ source: 'gbt39046', ratings: [{ caseNumber: 'SRC-A-1', times: 1, channel: 6, levelCode: 1, ratedAt: '20261120100000', itemCode: marketItem }] });
    assert.equal(a.statusCode, 200, a.body);
    const b = await push({ source: 'provincial', ratings: [{ caseNumber: 'SRC-B-1', times: 1, channel: 6, levelCode: 1, text: '材料反复要求补充', ratedAt: '2026-11-20T10:00:00+08:00', itemCode: marketItem }] });
    assert.equal(b.statusCode, 200, b.body);
    const ra = await db('ratings').where({ case_number: 'SRC-A-1' }).first();
    const rb = await db('ratings').where({ case_number: 'SRC-B-1' }).first();
    assert.deepEqual([ra.level, ra.channel, ra.triggered], ['非常满意', '电话', false]);
    assert.deepEqual([rb.level, rb.channel, rb.triggered], ['非常不满意', '短信', true]);
    assert.equal(b.json().triggered, 1);
  });

  test('the push API: per-row results, idempotent, scope and size checked, refusals below 基本满意 without text', async () => {
    const rows = [
      { caseNumber: 'PUSH-1', times: 1, channel: 'PC端', level: '满意', ratedAt: '20261121090000', itemCode: marketItem },
      { caseNumber: 'PUSH-1', times: 2, channel: 'PC端', level: '一般', ratedAt: '20261122090000', itemCode: marketItem, text: '等候时间长' },
      { caseNumber: 'PUSH-2', times: 1, channel: 'PC端', level: '不满意', ratedAt: '20261121090000', itemCode: marketItem },
      { caseNumber: 'PUSH-3', times: 1, channel: 'PC端', level: '满意', levelCode: '5', ratedAt: '20261121090000', itemCode: marketItem },
    ];
    const r = await push({ source: 'gbt39046', ratings: rows });
    assert.equal(r.statusCode, 200, r.body);
    const res = r.json().results;
    assert.deepEqual(res.map((x: { status: string }) => x.status), ['created', 'created', 'rejected', 'rejected']);
    assert.match(res[2].reasons[0], /须有文字评价/);
    assert.match(res[3].reasons[0], /不一致/);
    assert.equal((await db('ratings').where({ case_number: 'PUSH-1', times: 2 }).first()).level, '基本满意', '“一般” is 基本满意');
    const again = await push({ source: 'gbt39046', ratings: rows.slice(0, 2) });
    assert.deepEqual(again.json().results.map((x: { status: string }) => x.status), ['duplicate', 'duplicate']);
    const many = Array.from({ length: 5001 }, (_, i) => ({ ...rows[0], caseNumber: `BIG-${i}` }));
    assert.equal((await push({ source: 'gbt39046', ratings: many })).statusCode, 400);
    assert.equal((await push({ source: 'nope', ratings: rows })).statusCode, 400);
    const noScope = await as(app, platform, { method: 'POST', url: '/api/tokens', payload: { name: 'read only', scopes: ['read'] } });
    assert.equal((await push({ source: 'gbt39046', ratings: rows }, noScope.json().token)).statusCode, 403);
    assert.equal((await as(app, market, { method: 'POST', url: '/api/ratings/batch', payload: { source: 'gbt39046', ratings: rows } })).statusCode, 403);
    const nul = await push({ source: 'gbt39046', ratings: [{ ...rows[0], caseNumber: 'NUL\u0000' }] });
    // NUL never reaches the database: the HTTP layer refuses the request as ill-formed text.
    assert.equal(nul.statusCode, 400, nul.body);
    assert.match(String(nul.headers['content-type']), /problem\+json/);
    assert.equal(await db('ratings').where('case_number', 'like', 'NUL%').first(), undefined);
  });

  test('a clerk enters a rating given at the counter, for their own department only', async () => {
    const c = await as(app, market, { method: 'POST', url: '/api/cases', payload: { itemCode: marketItem, applicantName: '窗口评价人', applicantType: 1, idType: 'resident_id', idNumber: PERSON, phone: '+8613900000011' } });
    assert.equal(c.statusCode, 201, c.body);
    const ok = await as(app, market, { method: 'POST', url: '/api/ratings', payload: { caseNumber: c.json().number, times: 1, channel: '政务大厅平板电脑', level: '非常满意', ratedAt: new Date().toISOString() } });
    assert.equal(ok.statusCode, 200, ok.body);
    const foreign = await as(app, health, { method: 'POST', url: '/api/ratings', payload: { caseNumber: c.json().number, times: 2, channel: '政务大厅平板电脑', level: '满意', ratedAt: new Date().toISOString() } });
    assert.equal(foreign.statusCode, 400);
    assert.match(foreign.json().detail, /本部门/);
    const refused = await as(app, market, { method: 'POST', url: '/api/ratings', payload: { caseNumber: c.json().number, times: 2, channel: '政务大厅平板电脑', level: '非常不满意', ratedAt: new Date().toISOString() } });
    assert.equal(refused.statusCode, 400);
    assert.match(String(refused.headers['content-type']), /problem\+json/);
  });

  test('the rates by department, channel and month equal those computed from the raw ratings; .xlsx export', async () => {
    await settle();
    const raw = await db('ratings').select('*');
    for (const groupBy of ['department', 'channel', 'month'] as const) {
      const api = (await as(app, leader, { method: 'GET', url: `/api/stats/ratings?groupBy=${groupBy}&from=2026-01-01&to=2026-12-31` })).json();
      const keyOf = (r: Record<string, unknown>) => groupBy === 'department' ? r.department_id : groupBy === 'channel' ? r.channel
        : new Date(new Date(r.rated_at as Date).getTime() + 8 * 3_600_000).toISOString().slice(0, 7);
      for (const row of api.rows) {
        const mine = raw.filter((r) => keyOf(r) === row.key && new Date(r.rated_at) >= new Date('2026-01-01T00:00:00+08:00'));
        const valid = mine.filter((r) => r.status === 'valid');
        const bad = valid.filter((r) => ['不满意', '非常不满意'].includes(r.level));
        const ratio = (n: number, d: number) => (d ? n / d : null);
        assert.equal(row.ratings, mine.length, `${groupBy} ${row.key}`);
        assert.equal(row.satisfactionRate, ratio(valid.filter((r) => ['非常满意', '满意', '基本满意'].includes(r.level)).length, valid.length));
        assert.equal(row.badRate, ratio(bad.length, valid.length));
        assert.equal(row.activeRate, ratio(valid.filter((r) => r.channel !== '系统默认评价').length, valid.length));
        assert.equal(row.revisitRate, ratio(bad.filter((r) => r.real_name && r.called_back).length, bad.filter((r) => r.real_name).length));
      }
      assert.equal(api.rows.reduce((s: number, r: { ratings: number }) => s + r.ratings, 0), raw.filter((r) => new Date(r.rated_at) >= new Date('2026-01-01T00:00:00+08:00')).length);
    }
    const xlsx = await as(app, leader, { method: 'GET', url: '/api/stats/ratings.xlsx?groupBy=department&from=2026-01-01&to=2026-12-31' });
    assert.equal(xlsx.statusCode, 200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
    assert.equal(String(wb.worksheets[0]!.getRow(1).getCell(6).value), '满意率');
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/stats/ratings?from=2026-12-01&to=2026-01-01' })).statusCode, 400);
    const own = (await as(app, health, { method: 'GET', url: '/api/stats/ratings?groupBy=department&from=2026-01-01&to=2026-12-31' })).json();
    assert.ok(own.rows.every((r: { key: string }) => r.key === 'health'), 'a clerk sees their own department');
  });
});

// ---- the closed loop ------------------------------------------------------------------------------

async function intakeCase(phone = '+8613900000099'): Promise<{ id: string; number: string }> {
  const c = await as(app, market, { method: 'POST', url: '/api/cases', payload: { itemCode: marketItem, applicantName: '李四', applicantType: 1, idType: 'resident_id', idNumber: PERSON, phone } });
  assert.equal(c.statusCode, 201, c.body);
  return c.json();
}

async function badRating(caseNumber: string, level = '不满意', phone = '+8613900001234') {
  const r = await push({ source: 'gbt39046', ratings: [{ caseNumber, times: 1, channel: '移动服务端', level, text: '窗口未一次性告知所需材料,跑了两次', raterName: '李四', phone, ratedAt: new Date().toISOString() }] });
  assert.equal(r.json().results[0].status, 'created', r.body);
  await settle();
  return r.json().results[0].id as string;
}

async function openTask(s: Session, instanceId: string, elementId: string) {
  const list = (await as(app, s, { method: 'GET', url: `/api/tasks?instanceId=${instanceId}` })).json();
  const task = list.items.find((x: { elementId: string }) => x.elementId === elementId);
  assert.ok(task, `open task ${elementId} for ${s.username}: ${JSON.stringify(list.items.map((x: { elementId: string }) => x.elementId))}`);
  return task;
}

async function complete(s: Session, instanceId: string, elementId: string, variables: Record<string, unknown>) {
  const task = await openTask(s, instanceId, elementId);
  assert.equal((await as(app, s, { method: 'POST', url: `/api/tasks/${task.id}/claim` })).statusCode, 204);
  const r = await as(app, s, { method: 'POST', url: `/api/tasks/${task.id}/complete`, payload: { variables } });
  assert.equal(r.statusCode, 200, r.body);
  await settle();
}

describe('acceptance 2: 不满意 → 回访 → 限期整改 → sent back → handled again → 建议书 → feedback SMS → closed', () => {
  test('the whole loop through HTTP with real sessions; history shows each step and who did it', async () => {
    const c = await intakeCase();
    const id = await badRating(c.number);
    const rating = (await as(app, market, { method: 'GET', url: `/api/ratings/${id}` })).json();
    assert.equal(rating.loopStatus, 'open');
    assert.equal(rating.departmentId, 'market', '谁办理、谁负责');
    assert.equal(rating.category, '办事效率');
    assert.equal((await as(app, health, { method: 'GET', url: `/api/ratings/${id}` })).statusCode, 404, 'another department’s rating');
    assert.equal((await as(app, health, { method: 'GET', url: `/api/tasks?instanceId=${id}` })).json().items.length, 0);

    await complete(market, id, 'callback', { calledBack: true, callbackNote: '已电话回访,情况属实', appeal: false });
    await complete(market, id, 'handle', { route: '限期整改', action: '修订一次性告知单,3日内完成', rectifyDue: '2026-12-10' });
    const sup = await openTask(inspector, id, 'supervise');
    assert.equal((await as(app, market, { method: 'POST', url: `/api/tasks/${sup.id}/complete`, payload: { variables: { decision: 'accept' } } })).statusCode, 404, 'a clerk cannot supervise');
    await complete(inspector, id, 'supervise', { decision: 'sendBack', opinion: '整改措施不具体,请细化' });
    await complete(market, id, 'rehandle', { route: '限期整改', action: '已修订告知单并组织全员培训' });
    await complete(inspector, id, 'supervise', { decision: 'letter', opinion: '同类问题反复出现', letterProblems: '一次性告知制度落实不到位。', letterRecommendations: '建议:一、完善告知单;二、纳入考核。' });

    const after = (await as(app, inspector, { method: 'GET', url: `/api/ratings/${id}` })).json();
    assert.equal(after.sentBack, 1);
    assert.match(after.letterNumber, /^天衢纪建〔2026〕\d+号$/);
    const docx = await as(app, market, { method: 'GET', url: `/api/letters/${after.letterId}/docx` });
    assert.equal(docx.statusCode, 200);
    const file = path.join(work, 'jys.docx');
    writeFileSync(file, docx.rawPayload);
    const xml = execFileSync('unzip', ['-p', file, 'word/document.xml']).toString('utf8');
    assert.ok(xml.includes(c.number), 'the .docx carries the case number');
    assert.ok(xml.includes(after.letterNumber), 'and the 文号');
    assert.ok(xml.includes('纪检监察建议'));
    const letter = (await as(app, inspector, { method: 'GET', url: `/api/letters/${after.letterId}` })).json();
    assert.equal(letter.issuedBy, 'inspector');
    assert.equal(letter.recipientDepartmentId, 'market');

    assert.ok(sent.some((m) => m.to === '+8613900001234' && m.text.includes(c.number) && m.text.includes('已限期整改')), 'feedback SMS to the rater');
    await complete(market, id, 'return_visit', { returnVisited: true, satisfaction: '满意', visitNote: '评价人认可整改' });
    const closed = (await as(app, inspector, { method: 'GET', url: `/api/ratings/${id}` })).json();
    assert.equal(closed.loopStatus, 'closed');
    assert.equal(closed.satisfaction, '满意');
    assert.equal((await db('process_instances').where({ id }).first()).status, 'completed');

    const hist = (await as(app, inspector, { method: 'GET', url: `/api/process-instances/${id}` })).json().history;
    const done = hist.filter((h: { kind: string }) => h.kind === 'task.completed').map((h: { elementId: string; actor: string }) => `${h.elementId}:${h.actor}`);
    assert.deepEqual(done, ['callback:market.clerk', 'handle:market.clerk', 'supervise:inspector', 'rehandle:market.clerk', 'supervise:inspector', 'return_visit:market.clerk']);
    const audit = (await as(app, admin, { method: 'GET', url: `/api/audit?entityId=${id}&pageSize=50` })).json().items.map((a: { action: string }) => a.action);
    for (const a of ['rating.accepted', 'rating.handled', 'rating.sent-back', 'rating.loop.closed']) assert.ok(audit.includes(a), a);
  });

  test('a missed handling deadline warns the department (yellow) and escalates to the inspector (red) through the scheduler', async () => {
    const c = await intakeCase();
    const id = await badRating(c.number, '非常不满意', '+8613900005678');
    const r = await db('ratings').where({ id }).first();
    const timers = await db('timers').where({ instance_id: id }).orderBy('due_at').select('element_id', 'due_at');
    assert.deepEqual(timers.map((x) => x.element_id), ['warning_timer', 'deadline_timer']);
    const calendar = await runtime.calendars.get();
    assert.equal(new Date(timers[1].due_at).getTime(), calendar.addWorkingDays(new Date(r.created_at), 5).dueAt.getTime(), '5 working days (Dezhou)');
    await clock.advanceTo(new Date(new Date(timers[0].due_at).getTime() + 1000));
    await settle();
    assert.ok(sent.some((m) => m.text.includes('差评处置提醒') && m.text.includes(c.number) && m.to === '+8613800000002'), 'yellow: the market clerk is warned');
    assert.ok(!sent.some((m) => m.text.includes('已超期') && m.text.includes(c.number)));
    await clock.advanceTo(new Date(new Date(timers[1].due_at).getTime() + 1000));
    await settle();
    assert.deepEqual(sent.filter((m) => m.text.includes('已超期') && m.text.includes(c.number)).map((m) => m.to), ['+8613800000005'], 'red: one SMS to the inspector on duty');
    assert.ok((await db('ratings').where({ id }).first()).escalated_at);
    await settle();
    assert.equal(sent.filter((m) => m.text.includes('已超期') && m.text.includes(c.number)).length, 1, 'nothing fires twice');
    await relogin();
    // The department's work goes on; handled late, it counts as not on time.
    await complete(market, id, 'callback', { calledBack: true, callbackNote: '已回访', appeal: false });
    await complete(market, id, 'handle', { route: '立行立改', action: '当场办结' });
    assert.equal((await db('ratings').where({ id }).first()).handled_on_time, false);
  });
});

describe('acceptance 4: appeals', () => {
  test('an upheld appeal removes the rating from every rate; a refused one does not', async () => {
    const c1 = await intakeCase();
    const c2 = await intakeCase();
    const from = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const rates = async () => (await as(app, leader, { method: 'GET', url: `/api/stats/ratings?groupBy=department&departmentId=market&from=${from}&to=${from}` })).json().rows[0];
    const upheldId = await badRating(c1.number);
    const refusedId = await badRating(c2.number);
    const before = await rates();
    assert.equal(before.bad, 2);
    for (const id of [upheldId, refusedId]) await complete(market, id, 'callback', { calledBack: true, callbackNote: '经核实评价人误评', appeal: true, appealReason: '评价人所评并非本部门办件' });
    assert.equal((await db('ratings').where({ id: upheldId }).first()).appeal_status, 'pending');
    await complete(inspector, upheldId, 'review_appeal', { appealDecision: 'upheld', reviewNote: '经复核,申诉成立' });
    await complete(inspector, refusedId, 'review_appeal', { appealDecision: 'refused', reviewNote: '经复核,申诉不成立' });
    const up = await db('ratings').where({ id: upheldId }).first();
    assert.deepEqual([up.status, up.loop_status, up.appeal_status], ['invalid', 'invalid', 'upheld']);
    assert.equal((await db('process_instances').where({ id: upheldId }).first()).status, 'completed', 'the loop ends');
    assert.equal((await db('tasks').where({ instance_id: upheldId, status: 'open' })).length, 0);
    const after = await rates();
    assert.equal(after.ratings, before.ratings);
    assert.equal(after.valid, before.valid - 1);
    assert.equal(after.bad, 1, 'only the refused appeal’s rating still counts');
    assert.equal(after.invalid, before.invalid + 1);
    assert.equal(after.progress.invalid, before.progress.invalid + 1);
    await openTask(market, refusedId, 'handle');
    assert.equal((await db('ratings').where({ id: refusedId }).first()).status, 'valid');
  });
});

describe('versions: the loop is an ordinary deployed process', () => {
  test('a step added and deployed runs for the next bad rating; a loop already running finishes on its version', async () => {
    const running = await badRating((await intakeCase()).number);
    const v1 = (await db('process_instances').where({ id: running }).first()).definition_id;
    const xml = readFileSync('processes/rating-loop.bpmn', 'utf8').replace(
      '<bpmn:sequenceFlow id="f_accept_handling" sourceRef="accept_rating" targetRef="handling"/>',
      '<bpmn:userTask id="office_review" name="审批局初审" camunda:candidateGroups="${departmentId}"/>'
      + '<bpmn:sequenceFlow id="f_accept_handling" sourceRef="accept_rating" targetRef="office_review"/>'
      + '<bpmn:sequenceFlow id="f_review_handling" sourceRef="office_review" targetRef="handling"/>');
    const dep = await as(app, admin, { method: 'POST', url: '/api/deployments', payload: { xml, note: '增加审批局初审' } });
    assert.equal(dep.statusCode, 201, dep.body);
    const fresh = await badRating((await intakeCase()).number);
    const v2 = (await db('process_instances').where({ id: fresh }).first()).definition_id;
    assert.notEqual(v2, v1);
    assert.equal(v2, dep.json().id);
    await openTask(market, fresh, 'office_review');
    await complete(market, running, 'callback', { calledBack: true, callbackNote: '已回访', appeal: false });
    await openTask(market, running, 'handle');
    assert.equal((await db('tasks').where({ instance_id: running, element_id: 'office_review' })).length, 0, 'the running loop did not get the new step');
  });
});

describe('settings: the default rating after N days (off by default)', () => {
  test('a completed case without a rating counts as 基本满意 (系统默认评价) after the configured days, once, without a loop', async () => {
    assert.equal(await runtime.ratings.applyDefaultRatings(), 0, 'off by default');
    const s = (await as(app, admin, { method: 'GET', url: '/api/ratings/settings' })).json();
    assert.equal((await as(app, admin, { method: 'PUT', url: '/api/ratings/settings', payload: { ...s, defaultRatingDays: 7 } })).statusCode, 200);
    const c = await intakeCase();
    for (const step of ['accept', 'review', 'decide', 'conclude']) {
      await complete(market, c.id, step, step === 'decide' ? { decision: '准予许可', opinion: '同意' } : {});
    }
    assert.equal((await db('cases').where({ id: c.id }).first()).status, 'completed');
    assert.equal(await runtime.ratings.applyDefaultRatings(), 0, 'not before 7 days');
    await clock.advance(8 * 86_400_000);
    assert.ok(await runtime.ratings.applyDefaultRatings() >= 1);
    const r = await db('ratings').where({ case_number: c.number }).first();
    assert.deepEqual([r.level, r.channel, r.is_default, r.triggered], ['基本满意', '系统默认评价', true, false]);
    assert.equal(await runtime.ratings.applyDefaultRatings(), 0, 'once');
    await relogin();
    const day = new Date(new Date(r.rated_at).getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
    const row = (await as(app, leader, { method: 'GET', url: `/api/stats/ratings?groupBy=channel&from=${day}&to=${day}` })).json().rows.find((x: { key: string }) => x.key === '系统默认评价');
    assert.equal(row.activeRate, 0, 'a default rating is not an active one');
  });
});

import type { Db } from './db/database.js';
import { createUser } from './auth/users.js';
import { appendAudit } from './audit/audit.js';
import type { Role } from './auth/principal.js';
import type { Runtime } from './runtime.js';
import { DEMO_ITEMS, demoItemCode } from './domain/items/catalogue.js';
import { residentIdCheck, usccCheck } from './domain/cases/identity.js';
import { PROJECT_DEPARTMENTS, seedDemoProjects } from './domain/projects/demo.js';

/** Departments of a district approval bureau; ids double as BPMN candidate groups. */
export const DEMO_DEPARTMENTS: Array<{ id: string; name: string; nameEn: string }> = [
  { id: 'approval', name: '行政审批局', nameEn: 'Administrative Approval Bureau' },
  { id: 'market', name: '市场监督管理局', nameEn: 'Market Regulation' },
  { id: 'health', name: '卫生健康委员会', nameEn: 'Health Commission' },
  { id: 'housing', name: '住房和城乡建设局', nameEn: 'Housing and Construction' },
  { id: 'transport', name: '交通运输局', nameEn: 'Transport' },
  { id: 'ecology', name: '生态环境分局', nameEn: 'Ecology and Environment' },
  { id: 'culture', name: '文化和旅游局', nameEn: 'Culture and Tourism' },
  { id: 'education', name: '教育局', nameEn: 'Education' },
  { id: 'civil', name: '民政局', nameEn: 'Civil Affairs' },
  { id: 'agriculture', name: '农业农村局', nameEn: 'Agriculture and Rural Affairs' },
  { id: 'resources', name: '自然资源局', nameEn: 'Natural Resources' },
  { id: 'emergency', name: '应急管理局', nameEn: 'Emergency Management' },
  { id: 'inspection', name: '纪检监察室', nameEn: 'Discipline Inspection Office' },
  { id: 'office', name: '管委会办公室', nameEn: 'Leadership Office' },
  ...PROJECT_DEPARTMENTS,
];

export const DEMO_PASSWORD = 'duban-demo-2026';

export const DEMO_USERS: Array<{ username: string; displayName: string; departmentId: string; roles: Role[]; phone: string }> = [
  { username: 'admin', displayName: '系统管理员', departmentId: 'approval', roles: ['admin'], phone: '+8613800000001' },
  { username: 'market.clerk', displayName: '王丽(市场监管)', departmentId: 'market', roles: ['clerk'], phone: '+8613800000002' },
  { username: 'health.clerk', displayName: '李强(卫健委)', departmentId: 'health', roles: ['clerk'], phone: '+8613800000003' },
  { username: 'housing.clerk', displayName: '赵敏(住建局)', departmentId: 'housing', roles: ['clerk'], phone: '+8613800000004' },
  { username: 'inspector', displayName: '陈刚(纪检监察)', departmentId: 'inspection', roles: ['inspector'], phone: '+8613800000005' },
  { username: 'leader', displayName: '刘主任', departmentId: 'office', roles: ['leader'], phone: '+8613800000006' },
];

/** Seed departments, demo accounts and (with a runtime) items and cases once; false when users exist. */
export async function seedDemo(db: Db, runtime?: Runtime, opts: { cases?: number } = {}): Promise<boolean> {
  const existing = await db('users').count<{ count: string }[]>('* as count').first();
  if (Number(existing?.count ?? 0) > 0) return false;
  await db.transaction(async (trx) => {
    for (const d of DEMO_DEPARTMENTS) {
      await trx('departments').insert({ id: d.id, name: d.name, name_en: d.nameEn }).onConflict('id').ignore();
    }
    await appendAudit(trx, { actor: 'system', action: 'demo.seeded', entityType: 'department', after: { departments: DEMO_DEPARTMENTS.length } });
    for (const u of DEMO_USERS) await createUser(trx, { ...u, password: DEMO_PASSWORD }, 'system');
    await trx('departments').update({ phone: trx.raw(`'+86135' || lpad((abs(hashtext(id)) % 100000000)::text, 8, '0')`) }).whereNull('phone');
    await trx('items').insert(DEMO_ITEMS.map((item, i) => ({
      code: demoItemCode(item, i), name: item.name, department_id: item.departmentId, case_type: 2,
      statutory_days: item.statutoryDays, promised_days: item.promisedDays, process_key: 'approval-item',
    }))).onConflict('code').ignore();
  });
  if (runtime) await seedDemoCases(runtime, opts.cases ?? 300);
  if (runtime) await seedDemoProjects(runtime.projects);
  return true;
}

/** A tiny deterministic generator, so every fresh demo looks the same. */
function prng(seed: number) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

const SURNAMES = '王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗';
const GIVEN = ['伟', '芳', '娜', '敏', '静', '强', '磊', '洋', '艳', '勇', '军', '杰', '娟', '涛', '明', '超', '秀英', '建华', '志强', '海燕'];
const COMPANIES = ['德州天衢', '山东鲁北', '齐河华泰', '德城新源', '陵城恒信', '天衢众诚', '黄河湾', '运河新城'];
const KINDS = ['商贸有限公司', '建筑工程有限公司', '餐饮管理有限公司', '医疗器械有限公司', '文化传媒有限公司', '物流有限公司'];

/**
 * A few hundred cases over the last weeks, through the real intake and engine, so every light
 * shows: some finished (on time or late), some suspended, the rest green, yellow or red.
 */
export async function seedDemoCases(runtime: Runtime, count: number): Promise<void> {
  const rnd = prng(20261125);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)]!;
  const items = await runtime.db('items').select('code', 'department_id', 'promised_days').orderBy('code');
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const item = pick(items);
    const person = rnd() < 0.5;
    const ageDays = rnd() * Math.max(3, item.promised_days * 2.2);
    const receivedAt = new Date(now - ageDays * 86_400_000 - rnd() * 8 * 3_600_000);
    const view = await runtime.cases.intake({
      itemCode: item.code,
      applicantName: person ? `${pick([...SURNAMES])}${pick(GIVEN)}` : `${pick(COMPANIES)}${pick(KINDS)}`,
      applicantType: person ? 1 : 2,
      idType: person ? 'resident_id' : 'uscc',
      idNumber: person ? demoResidentId(rnd) : demoUscc(rnd),
      phone: `+86139${String(Math.floor(rnd() * 1e8)).padStart(8, '0')}`,
      source: pick(['window', 'online', 'mobile']),
      receivedAt,
    }, { username: 'system', departmentId: null, admin: true });
    const roll = rnd();
    if (roll < 0.35 && ageDays > 2) await finishDemoCase(runtime, view.id);
    else if (roll < 0.4) await runtime.cases.suspend(view.id, rnd() < 0.7 ? 'supplement' : 'special', rnd() < 0.7 ? '申请材料不齐全,已一次性告知补正' : '需组织专家评审', 'system');
  }
}

async function finishDemoCase(runtime: Runtime, caseId: string): Promise<void> {
  for (const step of ['accept', 'review', 'decide', 'conclude']) {
    const task = await runtime.db('tasks').where({ instance_id: caseId, element_id: step, status: 'open' }).first('id');
    if (!task) return;
    await runtime.engine.completeTask(task.id, step === 'decide' ? { decision: '准予许可' } : { opinion: '同意' }, 'system');
  }
}

function demoResidentId(rnd: () => number): string {
  const year = 1960 + Math.floor(rnd() * 40);
  const month = String(1 + Math.floor(rnd() * 12)).padStart(2, '0');
  const day = String(1 + Math.floor(rnd() * 28)).padStart(2, '0');
  const first17 = `371402${year}${month}${day}${String(Math.floor(rnd() * 1000)).padStart(3, '0')}`;
  return first17 + residentIdCheck(first17);
}

function demoUscc(rnd: () => number): string {
  const chars = '0123456789ABCDEFGHJKLMNPQRTUWXY';
  let tail = '';
  for (let i = 0; i < 9; i++) tail += chars[Math.floor(rnd() * chars.length)];
  const first17 = `91371400${tail}`;
  return first17 + usccCheck(first17);
}

export function demoAccountsText(): string {
  return ['Demo accounts (password for all: ' + DEMO_PASSWORD + '):', ...DEMO_USERS.map((u) => `  ${u.username.padEnd(14)} ${u.roles.join(',').padEnd(10)} ${u.displayName}`)].join('\n');
}

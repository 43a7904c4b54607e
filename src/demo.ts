import type { Db } from './db/database.js';
import { createUser } from './auth/users.js';
import { appendAudit } from './audit/audit.js';
import type { Role } from './auth/principal.js';

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

/** Seed departments and demo accounts once; returns false when users already exist. */
export async function seedDemo(db: Db): Promise<boolean> {
  const existing = await db('users').count<{ count: string }[]>('* as count').first();
  if (Number(existing?.count ?? 0) > 0) return false;
  await db.transaction(async (trx) => {
    for (const d of DEMO_DEPARTMENTS) {
      await trx('departments').insert({ id: d.id, name: d.name, name_en: d.nameEn }).onConflict('id').ignore();
    }
    await appendAudit(trx, { actor: 'system', action: 'demo.seeded', entityType: 'department', after: { departments: DEMO_DEPARTMENTS.length } });
    for (const u of DEMO_USERS) await createUser(trx, { ...u, password: DEMO_PASSWORD }, 'system');
  });
  return true;
}

export function demoAccountsText(): string {
  return ['Demo accounts (password for all: ' + DEMO_PASSWORD + '):', ...DEMO_USERS.map((u) => `  ${u.username.padEnd(14)} ${u.roles.join(',').padEnd(10)} ${u.displayName}`)].join('\n');
}

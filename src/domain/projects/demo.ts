import { shanghaiDay } from '../../calendar/calendar.js';
import type { ProjectInput, ProjectService } from './projects.js';

/** The district's 29 key projects under construction (the article's number), in every light. */
const PROJECTS: Array<[name: string, dept: string, category: string, industry: string, plan: 'building' | 'road' | 'park']> = [
  ['天衢新区智能装备产业园(一期)', 'park', '产业项目', '高端装备', 'park'],
  ['高铁新区综合客运枢纽配套道路', 'transport', '基础设施', '交通', 'road'],
  ['运河经济开发区污水处理厂扩建', 'water', '基础设施', '水务', 'building'],
  ['天衢新区第三实验小学', 'education', '社会民生', '教育', 'building'],
  ['区人民医院新院区', 'health', '社会民生', '医疗卫生', 'building'],
  ['东部新城供水管网改造', 'water', '基础设施', '水务', 'road'],
  ['新能源汽车零部件产业园', 'industry', '产业项目', '汽车零部件', 'park'],
  ['岔河片区城市更新(棚户区改造)', 'housing', '城市更新', '住房', 'building'],
  ['天衢大道东延工程', 'transport', '基础设施', '交通', 'road'],
  ['数字经济产业园(德州云谷)', 'industry', '产业项目', '数字经济', 'park'],
  ['区妇幼保健院迁建', 'health', '社会民生', '医疗卫生', 'building'],
  ['黄河涯镇乡村振兴示范片区', 'agriculture', '乡村振兴', '农业', 'park'],
  ['减河湿地生态修复', 'ecology', '生态环保', '生态修复', 'road'],
  ['天衢新区第二中学扩建', 'education', '社会民生', '教育', 'building'],
  ['德州冷链物流园', 'development', '产业项目', '现代物流', 'park'],
  ['颐养康养综合体', 'civil', '社会民生', '养老', 'building'],
  ['光伏储能一体化项目', 'development', '产业项目', '新能源', 'park'],
  ['生物医药产业园', 'park', '产业项目', '生物医药', 'park'],
  ['城区雨污分流改造', 'housing', '基础设施', '市政', 'road'],
  ['全民健身中心', 'culture', '社会民生', '体育', 'building'],
  ['区应急物资储备库', 'emergency', '基础设施', '应急', 'building'],
  ['农产品精深加工产业园', 'agriculture', '产业项目', '食品加工', 'park'],
  ['高端纺织新材料项目', 'industry', '产业项目', '新材料', 'park'],
  ['运河古街文化旅游街区', 'culture', '文旅项目', '文化旅游', 'building'],
  ['新型绿色建材产业园', 'park', '产业项目', '建材', 'park'],
  ['京台高速连接线', 'transport', '基础设施', '交通', 'road'],
  ['公共租赁住房(二期)', 'housing', '社会民生', '住房', 'building'],
  ['智慧停车及充电设施', 'development', '基础设施', '新基建', 'road'],
  ['职业教育实训基地', 'education', '社会民生', '职业教育', 'building'],
];

const STEPS: Record<'building' | 'road' | 'park', string[]> = {
  building: ['完成立项及用地手续', '开工建设', '主体结构封顶', '室内外装修及设备安装', '竣工验收'],
  road: ['完成征地拆迁', '开工建设', '路基(管网)工程完成', '路面及附属工程完成', '交工验收'],
  park: ['完成土地摘牌', '开工建设', '主体厂房封顶', '设备安装调试', '投产运营'],
};

/** Departments the key projects need beyond the approval bureau's list. */
export const PROJECT_DEPARTMENTS = [
  { id: 'development', name: '发展和改革局', nameEn: 'Development and Reform' },
  { id: 'water', name: '水利局', nameEn: 'Water Resources' },
  { id: 'industry', name: '工业和信息化局', nameEn: 'Industry and Information Technology' },
  { id: 'park', name: '经济技术开发区管委会', nameEn: 'Economic Development Zone' },
];

const PERSONS = ['张建国', '李卫东', '王海涛', '刘志刚', '陈晓明', '杨振华', '赵立新', '孙庆伟', '周文斌', '吴国栋'];
const DAY = 86_400_000;

/** Light the demo aims at for project i: most on track, some behind, a few red (lagging or a missed milestone). */
function aim(i: number): 'green' | 'yellow' | 'redLag' | 'redLate' {
  if ([3, 11, 19].includes(i)) return 'redLag';
  if ([6, 16, 24].includes(i)) return 'redLate';
  if ([1, 8, 13, 21, 27].includes(i)) return 'yellow';
  return 'green';
}

function day(ms: number): string {
  return shanghaiDay(new Date(ms));
}

export function demoProjectInputs(now = Date.now()): ProjectInput[] {
  return PROJECTS.map(([name, dept, category, industry, plan], i) => {
    const target = aim(i);
    const start = now - (120 + ((i * 37) % 300)) * DAY;
    const finish = now + (200 + ((i * 53) % 500)) * DAY;
    const schedule = ((now - start) / (finish - start)) * 100;
    const lag = target === 'redLag' ? 36 + (i % 5) : target === 'yellow' ? 14 + (i % 8) : -3 + (i % 6);
    const progress = Math.max(1, Math.min(99, Math.round(schedule - lag)));
    const steps = STEPS[plan];
    const milestones = steps.map((step, k) => {
      let due = start + ((finish - start) * (k + 1)) / (steps.length + 0.3);
      // Keep green and yellow demos clear of the warning window; red-late demos miss their first open milestone by days.
      const gap = (due - now) / DAY;
      if (gap > -2 && gap < 12) due = now + 15 * DAY;
      return { name: step, dueDate: day(due), ownerPerson: PERSONS[(i + k) % PERSONS.length]!, due };
    });
    const firstOpen = milestones.findIndex((m) => m.due > now);
    if (target === 'redLate' && firstOpen > 0) milestones[firstOpen - 1]!.due = now - (3 + (i % 4)) * DAY;
    const total = 8000 + ((i * 7919) % 90) * 1000;
    const annual = Math.round(total * (0.25 + (i % 4) * 0.05));
    return {
      code: `ZD2026${String(i + 1).padStart(3, '0')}`, name, departmentId: dept, responsiblePerson: PERSONS[i % PERSONS.length]!,
      responsiblePhone: `+86137${String(10_000_000 + i * 7_919).slice(0, 8)}`, location: `天衢新区${['岔河', '黄河涯', '宋官屯', '长河', '新湖'][i % 5]}街道`,
      category, industry, level: i % 3 === 0 ? '省级' : i % 3 === 1 ? '市级' : '区级',
      content: `${name}:总用地约${50 + (i % 9) * 20}亩,主要建设${plan === 'road' ? '道路、管网及附属设施' : '主体建筑及配套设施'}。`,
      totalInvestment: total, annualTarget: annual, investedThisYear: Math.round((annual * Math.max(0, progress - 5)) / 100),
      plannedStart: day(start), plannedFinish: day(finish), progress,
      milestones: milestones.map((m) => ({
        name: m.name, dueDate: day(m.due), ownerPerson: m.ownerPerson,
        ...(m.due < now && !(target === 'redLate' && m === milestones[firstOpen - 1]) ? { doneOn: day(Math.min(m.due, now - DAY)) } : {}),
      })),
    };
  });
}

/** Register the demo projects through the real service (each starts its process). */
export async function seedDemoProjects(projects: ProjectService): Promise<number> {
  const inputs = demoProjectInputs();
  for (const input of inputs) await projects.create(input, 'system');
  return inputs.length;
}

/** Types of the key-project API (src/http/projects.ts). */
export type ProjectLight = 'green' | 'yellow' | 'red' | 'done';

export interface ProjectSummary {
  id: string; code: string; name: string; departmentId: string; departmentName: string; responsiblePerson: string; location: string;
  category: string; industry: string; level: string; totalInvestment: number; annualTarget: number; investedThisYear: number; investmentRate: number;
  plannedStart: string; plannedFinish: string; progress: number; scheduleProgress: number; lag: number; light: ProjectLight; reasons: string[];
  status: string; misses: number; currentMilestone: { name: string; currentDue: string } | null;
}

export interface Milestone {
  id: number; seq: number; name: string; dueDate: string; currentDue: string; departmentId: string; ownerPerson: string; status: 'pending' | 'done';
  doneAt: string | null; doneLate: boolean | null; evidence: string | null; misses: number;
}

export interface ProjectLetter { id: string; kind: string; number: string; title: string; recipient: string; status: string; replyBy: string; dated: string; replyText: string | null }

export interface ProjectReport {
  id: number; progress: number; invested: number | null; text: string; reportedBy: string; via: 'api' | 'mobile'; reportedAt: string;
  files: { id: string; name: string; contentType: string; size: number }[];
}

export interface ProjectDetail extends ProjectSummary {
  content: string; responsiblePhone: string | null; milestones: Milestone[]; reports: ProjectReport[]; letters: ProjectLetter[];
  problems: { id: number; content: string; departmentId: string; dueDate: string | null; resolution: string | null; resolvedAt: string | null; raisedBy: string; raisedAt: string }[];
}

export interface UnitSummary { departmentId: string; departmentName: string; projects: number; green: number; yellow: number; red: number; done: number; annualTarget: number; invested: number; investmentRate: number }

export const LIGHT_COLORS: Record<ProjectLight, string> = { green: 'success', yellow: 'warning', red: 'error', done: 'blue' };

import { getLang, t, type Key } from './i18n';

/** One fetch wrapper: same-origin cookie session, the CSRF header on writes, problem+json errors in the UI's language. */
let csrfToken = '';

export function setCsrf(token: string): void {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(public status: number, public title: string, public detail: string | undefined, public body: unknown, public path = '') {
    super(problemText(status, title, detail, path));
  }
}

const STATUS_KEYS: Record<number, Key> = {
  400: 'error.400', 401: 'error.401', 403: 'error.403', 404: 'error.404', 409: 'error.409', 413: 'error.413',
  422: 'error.422', 429: 'error.429', 500: 'error.500', 502: 'error.503', 503: 'error.503',
};

// A text is shown to a Chinese reader only when it is Chinese: a word of Latin letters outside codes and identifiers means the server answered in English.
const ENGLISH_WORD = /(^|[^A-Za-z0-9_.:/-])[A-Za-z]{3,}(?=$|[^A-Za-z0-9_.:/-])/;
export function readsChinese(text: string): boolean {
  return /[\u4e00-\u9fff]/.test(text) && !ENGLISH_WORD.test(text.replace(/\$\{[^}]*\}|`[^`]*`|"[^"]*"|“[^”]*”/g, ''));
}

/** The toast for a failed request: the server's own words when they are in the UI's language, else a sentence by status. */
export function problemText(status: number, title: string, detail: string | undefined, path = ''): string {
  const own = [title, detail].filter(Boolean).join(':');
  if (getLang() === 'en') return detail ? `${title}: ${detail}` : title;
  if (detail && readsChinese(detail)) return readsChinese(title) ? `${title}:${detail}` : detail;
  if (readsChinese(title)) return title;
  if (status === 401 && path.startsWith('/api/auth/login')) return t('error.login');
  return STATUS_KEYS[status] ? t(STATUS_KEYS[status]) : t('error.other', { status: String(status || own) });
}

/** Any error as a sentence for a toast (never "Error: …" nor an English stack). */
export function errText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (getLang() === 'en') return e instanceof Error ? e.message : String(e);
  return t('error.network');
}

type Listener = () => void;
const unauthorized = new Set<Listener>();
export function onUnauthorized(l: Listener): () => void {
  unauthorized.add(l);
  return () => unauthorized.delete(l);
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'accept-language': getLang() === 'en' ? 'en' : 'zh-CN' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/api/auth/login')) unauthorized.forEach((l) => l());
    const p = (json ?? {}) as { title?: string; detail?: string; message?: string };
    throw new ApiError(res.status, p.title ?? res.statusText, p.detail ?? p.message, json, path);
  }
  return json as T;
}

/** Send a file as the request body (the rating import); answers like api(). */
export async function upload<T = unknown>(path: string, file: Blob, contentType: string): Promise<T> {
  const res = await fetch(path, { method: 'POST', credentials: 'same-origin', body: file, headers: { accept: 'application/json', 'content-type': contentType, 'x-csrf-token': csrfToken } });
  const json = await res.json().catch(() => undefined);
  if (!res.ok) {
    const p = (json ?? {}) as { title?: string; detail?: string };
    throw new ApiError(res.status, p.title ?? res.statusText, p.detail, json);
  }
  return json as T;
}

export const get = <T,>(path: string) => api<T>('GET', path);
export const post = <T,>(path: string, body: unknown = {}) => api<T>('POST', path, body);
export const put = <T,>(path: string, body: unknown) => api<T>('PUT', path, body);
export const patch = <T,>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const del = <T,>(path: string) => api<T>('DELETE', path);

export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

export interface Page<T> { items: T[]; total: number; page: number; pageSize: number }
export interface Remaining { workingDays: number; hours: number; overdue: boolean }
export type Light = 'green' | 'yellow' | 'red' | 'suspended' | 'done' | 'done-late' | 'cancelled' | 'failed';

export interface Me { id: string; username: string; displayName: string; departmentId: string | null; roles: string[]; csrfToken?: string }
export interface Department { id: string; name: string; nameEn: string; phone: string | null }
export interface Task {
  id: string; instanceId: string; elementId: string; name: string | null; processKey: string; businessKey: string | null; departmentId: string | null;
  assignee: string | null; candidateGroups: string[]; formKey: string | null; dueAt: string | null; status: string; createdAt: string; overdue: boolean;
  caseNumber: string | null; itemName: string | null; light: Light | null; remaining: Remaining | null;
  applicantName?: string | null; assigneeName?: string | null;
}
export interface Case {
  id: string; number: string; itemCode: string; itemName: string; departmentId: string; applicantName: string; receivedAt: string; promisedAt: string;
  warningAt: string; completedAt: string | null; status: string; result: string | null; light: Light; remaining: Remaining; suspendedDays: number; escalatedAt: string | null;
}
export interface CaseDetail extends Case {
  suspensions: { kind: string; reason: string; startedAt: string; endedAt: string | null; workingDays: number | null }[];
  supervision: { id: string; number: string; status: string; openedAt: string; result: string | null } | null;
  sms: { to: string; template: string; status: string; providerStatus: string | null; createdAt: string; sentAt: string | null }[];
}
export interface HistoryEntry { id: number; kind: string; elementId: string | null; elementType: string | null; actor: string | null; at: string; data: Record<string, unknown> | null }
export interface Instance {
  id: string; definitionId: string; processKey: string; businessKey: string | null; status: string; startedAt: string; endedAt: string | null;
  variables: Record<string, unknown>; activeElements: string[];
  tasks: { id: string; elementId: string; name: string | null; status: string; assignee: string | null; dueAt: string | null }[];
  timers: { elementId?: string; dueAt?: string; [k: string]: unknown }[];
  history: HistoryEntry[];
}
export interface Supervision {
  id: string; number: string; caseId: string; caseNumber: string; itemName: string; departmentId: string; content: string; status: string; openedAt: string;
  ageHours: number; followUpAt: string | null; caseCompletedAt: string | null; closedAt: string | null; result: string | null; urgings: number;
  urgingNotices?: { content: string; replyBy: string | null; createdAt?: string; issuedAt?: string; issuedBy?: string; [k: string]: unknown }[];
}
export interface StatsRow { key: string; label: string; received: number; completed: number; onTime: number; overdueNow: number; overdueRate: number; avgWorkingDays: number | null; escalations: number }
export interface Definition { id: string; key: string; version: number; name: string | null; note: string | null; deployedBy: string; deployedAt: string; suspendedAt?: string | null; xml?: string }
export interface Problem { elementId: string | null; message: string; source: string; severity: 'error' | 'warning' }
export interface Item {
  code: string; name: string; departmentId: string; caseType: number; statutoryDays: number | null; promisedDays: number; limitUnit: string;
  warningRule: { kind: string; value: number }; processKey: string; active: boolean;
}
export interface Rating {
  id: string; caseNumber: string; times: number; channel: string; level: string; text: string | null; raterName: string | null; realName: boolean; ratedAt: string;
  itemCode: string | null; itemName: string | null; departmentId: string; source: string; status: string; triggered: boolean; loopStatus: string | null;
  category: string | null; route: string | null; handlingDeadline: string | null; handledOnTime: boolean | null; appealStatus: string | null;
  letterId: string | null; letterNumber: string | null; satisfaction: string | null; closedAt: string | null;
}
export interface RatingStats {
  key: string; label: string; ratings: number; invalid: number; valid: number; satisfied: number; bad: number; badRectified: number; badHandled: number;
  badOnTime: number; realNameBad: number; realNameBadVisited: number; active: number;
  satisfactionRate: number | null; badRate: number | null; rectificationRate: number | null; onTimeRate: number | null; revisitRate: number | null; activeRate: number | null;
  progress: { total: number; invalid: number; valid: number; inProgress: number; done: number; unfixable: number };
}
export interface ImportSummary {
  importId: string; total: number; created: number; duplicates: number; rejected: number; triggered: number;
  results: { row: number; status: string; caseNumber: string | null; reasons?: string[] }[];
}

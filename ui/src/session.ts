import { createContext, useContext } from 'react';
import type { Department, Me } from './api';
import { getLang } from './i18n';

export interface Session { me: Me; departments: Department[]; logout(): void }
export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}

export function hasRole(me: Me, ...roles: string[]): boolean {
  return me.roles.some((r) => roles.includes(r));
}

export function deptName(departments: Department[], id: string | null | undefined): string {
  if (!id) return '';
  const d = departments.find((x) => x.id === id);
  if (!d) return id;
  return getLang() === 'en' ? d.nameEn : d.name;
}

/** The first screen of each role. */
export function homeOf(me: Me): string {
  if (me.roles.includes('clerk')) return '/tasks';
  if (me.roles.includes('inspector')) return '/supervisions';
  if (me.roles.includes('leader')) return '/dashboard';
  if (me.roles.includes('admin')) return '/designer';
  return '/cases';
}

/** Who is calling: a user through a browser session, or another system through an API token. */
export type Role = 'admin' | 'clerk' | 'inspector' | 'leader' | 'system';
export const ROLES: Role[] = ['admin', 'clerk', 'inspector', 'leader', 'system'];

export interface Principal {
  userId: string;
  username: string;
  displayName: string;
  roles: Role[];
  departmentId: string | null;
  via: 'session' | 'token';
  /** API tokens are scoped; sessions carry every permission of the user's roles. */
  scopes: string[] | null;
  csrfToken?: string;
}

/** Scopes an API token may carry; each route group names the one it needs. */
export const SCOPES = ['read', 'instances:write', 'tasks:write', 'messages:write', 'ratings:write', 'deploy', 'admin', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

export function hasRole(p: Principal, ...roles: Role[]): boolean {
  return roles.some((r) => p.roles.includes(r));
}

export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes === null || p.scopes.includes(scope) || p.scopes.includes('admin');
}

/** Inspectors, leaders and admins see every department; everyone else only their own. */
export function seesAllDepartments(p: Principal): boolean {
  return hasRole(p, 'admin', 'inspector', 'leader', 'system');
}

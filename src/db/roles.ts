import type { Db } from './database.js';

/**
 * Two database roles. The owner role runs the migrations and owns every table; the application
 * role, which serves requests, may only read and write rows: no DDL, no trigger changes, and on
 * `audit_log` and `audit_queue` only SELECT and INSERT. Then neither an application bug nor someone holding the
 * server's DATABASE_URL can switch the append-only trigger off or rewrite the audit trail.
 */

/** Privileges that let a role change `audit_log` other than by appending: each is named in the warning. */
export interface AuditProtection {
  protected: boolean;
  role: string;
  problems: string[];
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The grants, applied by the owner after every migration so tables added by any later migration
 * are covered; default privileges cover tables created outside `duban migrate`.
 */
export function grantSql(app: string, schema = 'public'): string {
  const a = quoteIdent(app);
  const s = quoteIdent(schema);
  return `
GRANT USAGE ON SCHEMA ${s} TO ${a};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${a};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${a};
ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${a};
ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${a};
-- The audit trail is append-only: read and insert, nothing else. Queued entries move into the chain
-- only through duban_audit_seal, which runs as the owner and checks what it is given.
REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON ${s}.audit_log, ${s}.audit_queue FROM ${a};
GRANT EXECUTE ON FUNCTION ${s}.duban_audit_seal(bigint[], text[], text, text) TO ${a};
-- Only the owner records migrations.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ${s}.knex_migrations, ${s}.knex_migrations_lock FROM ${a};`.trim();
}

/** Run as the owner role, after migrating. */
export async function grantApplicationRole(owner: Db, app: string): Promise<void> {
  const { rows } = await owner.raw<{ rows: Array<{ schema: string; me: string }> }>('SELECT current_schema() AS schema, current_user AS me');
  if (rows[0]!.me === app) return;
  await owner.raw(grantSql(app, rows[0]!.schema));
}

export interface RoleSqlOptions {
  app: string;
  owner: string;
  database: string;
  appPassword?: string;
  ownerPassword?: string;
}

/** What `duban db roles` prints: the SQL a database administrator runs once on a managed PostgreSQL. */
export function applicationRoleSql(o: RoleSqlOptions): string {
  const [app, owner, db] = [quoteIdent(o.app), quoteIdent(o.owner), quoteIdent(o.database)];
  const pw = (p: string | undefined) => (p ? ` PASSWORD ${quoteLiteral(p)}` : ` PASSWORD 'change-me'`);
  return `-- Duban: two roles for a managed PostgreSQL. Run as an administrator.
-- Migrations run as ${o.owner} (DATABASE_OWNER_URL); the server serves as ${o.app} (DATABASE_URL).
CREATE ROLE ${owner} LOGIN NOSUPERUSER NOCREATEROLE${pw(o.ownerPassword)};
CREATE ROLE ${app} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS${pw(o.appPassword)};
CREATE DATABASE ${db} OWNER ${owner};   -- or: ALTER DATABASE ${db} OWNER TO ${owner};
\\connect ${db}
-- Nobody but the owner creates objects (PostgreSQL before 15 lets every role create in public).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO ${owner};
-- Tables the owner creates later (every future migration) are readable and writable by ${o.app}:
ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${app};
ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${app};
-- Then start Duban with DATABASE_OWNER_URL (${o.owner}) and DATABASE_URL (${o.app}): after every migration the
-- owner grants ${o.app} its rows on every table and revokes UPDATE, DELETE, TRUNCATE and TRIGGER on audit_log.
`;
}

/** Run as the serving role: what could it do to audit_log beyond SELECT and INSERT? */
export async function auditProtection(db: Db): Promise<AuditProtection> {
  const { rows } = await db.raw<{ rows: Array<Record<string, boolean | string>> }>(`
    SELECT current_user AS role, r.rolsuper AS superuser, r.rolcreaterole AS createrole,
           pg_has_role(current_user, c.relowner, 'MEMBER') AS owner,
           bool_or(has_table_privilege(current_user, c.oid, 'UPDATE')) OVER () AS can_update,
           bool_or(has_table_privilege(current_user, c.oid, 'DELETE')) OVER () AS can_delete,
           bool_or(has_table_privilege(current_user, c.oid, 'TRUNCATE')) OVER () AS can_truncate,
           bool_or(has_table_privilege(current_user, c.oid, 'TRIGGER')) OVER () AS can_trigger,
           has_schema_privilege(current_user, c.relnamespace, 'CREATE') AS can_create
      FROM pg_class c, pg_roles r
     WHERE c.oid IN ('audit_log'::regclass, to_regclass('audit_queue')) AND r.rolname = current_user
     ORDER BY c.oid = 'audit_log'::regclass DESC`);
  const r = rows[0]!;
  const problems: string[] = [];
  if (r.superuser) problems.push('is a superuser (can disable the append-only trigger and rewrite rows)');
  else if (r.owner) problems.push('owns audit_log or may become its owner (can disable or drop its triggers)');
  if (!r.superuser && r.createrole) problems.push('has CREATEROLE (can grant itself other roles)');
  if (!r.superuser && !r.owner) {
    const extra = (['update', 'delete', 'truncate', 'trigger'] as const).filter((p) => r[`can_${p}`]);
    if (extra.length) problems.push(`holds ${extra.map((p) => p.toUpperCase()).join(', ')} on audit_log or audit_queue`);
    if (r.can_create) problems.push('may create objects in the schema (DDL)');
  }
  return { protected: problems.length === 0, role: String(r.role), problems };
}

/** The banner `duban start` prints when the serving role can change the audit table. */
export function protectionWarning(p: AuditProtection): string {
  const line = '!'.repeat(78);
  return [
    line,
    `!! WARNING: the server's database role "${p.role}" can change the audit trail:`,
    ...p.problems.map((x) => `!!   - ${x}`),
    '!! Serve as an application role that can only read and write rows: set DATABASE_URL to it and',
    '!! DATABASE_OWNER_URL to the owner role for migrations (`npx duban db roles` prints the SQL).',
    line,
  ].join('\n');
}

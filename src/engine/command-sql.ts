import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { runPrepared, type PreparedStatement } from '../db/prepared.js';
import { insertQueuedSql, takeQueuedAudit } from '../audit/audit.js';
import { loadConfig } from '../config.js';
import type { RunSnapshot } from './run.js';
import type { InstanceRow } from './engine.js';

/**
 * The hot statements of an engine command, named and prepared (src/db/prepared.ts). A completion
 * is: BEGIN, lock, read what the command needs, one write (with the command's audit entries), COMMIT.
 */

/**
 * The instance row as a command needs it, locked (the columns INSTANCE_COLUMNS reads). Not its state:
 * a command served by a kept execution (ExecutionCache) does not read it, readHeld does for the others.
 */
export type LockedInstance = Pick<InstanceRow, 'id' | 'definition_id' | 'process_key' | 'business_key' | 'status' | 'version' | 'suspended_at'>;

const INSTANCE_COLUMNS = 'i.id, i.definition_id, i.process_key, i.business_key, i.status, i.version, i.suspended_at';

const LOCK_INSTANCE: PreparedStatement = {
  name: 'duban_lock_instance',
  text: `SELECT ${INSTANCE_COLUMNS} FROM process_instances i WHERE i.id = $1 FOR UPDATE`,
};

export async function lockInstance(trx: Knex.Transaction, instanceId: string): Promise<LockedInstance | undefined> {
  return (await runPrepared<LockedInstance>(trx, LOCK_INSTANCE, [instanceId]))[0];
}

/**
 * The instance of a task, locked, found from the task in the same statement. The task's status is
 * as of the statement's start (as a look-up before the transaction would see it); the command
 * re-reads it after the lock (readHeld).
 */
const LOCK_INSTANCE_OF_TASK: PreparedStatement = {
  name: 'duban_lock_instance_of_task',
  text: `SELECT ${INSTANCE_COLUMNS}, t.status AS task_status
           FROM tasks t JOIN process_instances i ON i.id = t.instance_id
          WHERE t.id = $1
            FOR UPDATE OF i`,
};

export async function lockInstanceOfTask(trx: Knex.Transaction, taskId: string): Promise<(LockedInstance & { task_status: string }) | undefined> {
  return (await runPrepared<LockedInstance & { task_status: string }>(trx, LOCK_INSTANCE_OF_TASK, [taskId]))[0];
}

/**
 * A new instance row on the newest version of `key` that is not suspended, chosen in the same
 * statement; no row when there is none (the caller says why). Returns the version's id.
 */
const INSERT_INSTANCE_OF_LATEST: PreparedStatement = {
  name: 'duban_insert_instance_of_latest',
  text: `INSERT INTO process_instances (id, definition_id, process_key, business_key, status, state, variables, started_by, department_id)
         SELECT $1::uuid, d.id, d.key, $3::text, 'running', NULL, $4::jsonb, $5::text, $6::text
           FROM process_definitions d
          WHERE d.key = $2::text AND d.suspended_at IS NULL
          ORDER BY d.version DESC
          LIMIT 1
      RETURNING definition_id`,
};

export async function insertInstanceOfLatest(trx: Knex.Transaction, row: { id: string; key: string; businessKey: string | null;
  variables: Record<string, unknown>; startedBy: string | null; departmentId: string | null }): Promise<string | undefined> {
  const rows = await runPrepared<{ definition_id: string }>(trx, INSERT_INSTANCE_OF_LATEST,
    [row.id, row.key, row.businessKey, JSON.stringify(row.variables), row.startedBy, row.departmentId]);
  return rows[0]?.definition_id;
}

export interface HeldTimer {
  execution_id: string;
  due_at: Date;
  /** Due by the transaction's clock (now()). */
  due: boolean;
}

export interface HeldTask {
  id: string;
  execution_id: string;
  element_id: string;
  status: string;
}

/**
 * Read once, after the lock, what the command holds until it writes: the instance's timers (the
 * clock of record, with which are due now) and its open tasks, plus one task by id whatever its
 * status (the one a completion acts on), and the stored state when the command recovers from it
 * ($3). Only commands holding the instance lock change these rows. The task filter is applied to the
 * instance's own rows (FILTER): as a WHERE clause the generic plan OR-ed the partial index of every
 * open task into the scan.
 */
const READ_HELD: PreparedStatement = {
  name: 'duban_read_held',
  text: `SELECT
    (SELECT coalesce(json_agg(json_build_object('execution_id', execution_id, 'due_at', due_at, 'due', due_at <= now()) ORDER BY due_at), '[]'::json)
       FROM timers WHERE instance_id = $1) AS timers,
    (SELECT coalesce(json_agg(json_build_object('id', id, 'execution_id', execution_id, 'element_id', element_id, 'status', status))
                       FILTER (WHERE status = 'open' OR id = $2::uuid), '[]'::json)
       FROM tasks WHERE instance_id = $1) AS tasks,
    (SELECT state FROM process_instances WHERE id = $1 AND $3::bool) AS state`,
};

export async function readHeld(trx: Knex.Transaction, instanceId: string, taskId: string | null, withState: boolean): Promise<{ timers: HeldTimer[]; tasks: HeldTask[]; state: unknown }> {
  const [row] = await runPrepared<{ timers: Array<Omit<HeldTimer, 'due_at'> & { due_at: string }>; tasks: HeldTask[]; state: unknown }>(trx, READ_HELD, [instanceId, taskId, withState]);
  return { timers: row!.timers.map((t) => ({ ...t, due_at: new Date(t.due_at) })), tasks: row!.tasks, state: row!.state };
}

/** The stored state alone: a kept execution turned out unusable after readHeld (its timers moved). */
export async function readState(trx: Knex.Transaction, instanceId: string): Promise<unknown> {
  const row: { state: unknown } | undefined = await trx('process_instances').where({ id: instanceId }).first('state');
  return row?.state ?? null;
}

export interface CommandWrite {
  instanceId: string;
  snapshot: RunSnapshot;
  version: number;
  actor: string | null;
  /** The task this command completed (its row is still open). */
  completedTask?: { id: string; output: Record<string, unknown> } | undefined;
  /** Open task rows before the command (none for a new instance). */
  openTasks: Array<{ id: string; execution_id: string }>;
  history: Array<{ kind: string; element_id: string | null; element_type: string | null; execution_id: string | null; data: Record<string, unknown> | null }>;
}

/**
 * Everything a command changes in the engine tables, in one statement: the instance row; the
 * completed task; open tasks that no longer wait (cancelled) and new waiting tasks; timers that are
 * no longer armed (deleted) and armed ones (upserted, the row's due time moves with the engine's);
 * history; the audit entries queued on the transaction so far (src/audit/audit.ts takeQueuedAudit);
 * and a wake-up for the timer scheduler. The parts touch disjoint rows, as one statement's
 * data-modifying CTEs must. Rows to change are found by key ($8 is the one completed task): a join
 * on a recordset is planned for a hundred rows, and the generic plan read the whole tasks table.
 * Cancelled tasks are found within the instance: by `id = ANY($9)` alone the generic plan assumed ten
 * of them, PostgreSQL rated it worse than planning each call and planned this statement every time.
 */
const WRITE_COMMAND: PreparedStatement = {
  name: 'duban_write_command',
  text: `WITH
  instance AS (
    UPDATE process_instances
       SET state = $2::json, variables = $3::jsonb, status = $4::text, version = $5::int, error = $6::text,
           updated_at = now(), ended_at = CASE WHEN $4::text = 'running' THEN NULL ELSE now() END
     WHERE id = $1::uuid),
  completed AS (
    UPDATE tasks
       SET status = 'completed', completed_by = $7::text, ended_at = now(), output = ($8::json -> 'output')::jsonb
     WHERE id = ($8::json ->> 'id')::uuid),
  cancelled AS (
    UPDATE tasks SET status = 'cancelled', ended_at = now() WHERE instance_id = $1::uuid AND id = ANY($9::uuid[])),
  opened AS (
    INSERT INTO tasks (id, instance_id, execution_id, element_id, name, assignee, candidate_groups, candidate_users, form_key, due_at, status)
    SELECT t.id, $1::uuid, t.execution_id, t.element_id, t.name, t.assignee, t.candidate_groups, t.candidate_users, t.form_key, t.due_at, 'open'
      FROM json_to_recordset($10::json) AS t(id uuid, execution_id text, element_id text, name text, assignee text,
           candidate_groups text[], candidate_users text[], form_key text, due_at timestamptz)
        ON CONFLICT (instance_id, execution_id) DO NOTHING),
  timers_gone AS (
    DELETE FROM timers WHERE instance_id = $1::uuid AND NOT (execution_id = ANY($11::text[]))),
  timers_armed AS (
    INSERT INTO timers (instance_id, execution_id, element_id, timer_type, definition, repeat, due_at)
    SELECT $1::uuid, t.execution_id, t.element_id, t.timer_type, t.definition, t.repeat, t.due_at
      FROM json_to_recordset($12::json) AS t(execution_id text, element_id text, timer_type text, definition text, repeat int, due_at timestamptz)
        ON CONFLICT (instance_id, execution_id) DO UPDATE SET due_at = excluded.due_at, repeat = excluded.repeat),
  logged AS (
    INSERT INTO history (instance_id, kind, element_id, element_type, execution_id, actor, data)
    SELECT $1::uuid, h.kind, h.element_id, h.element_type, h.execution_id, $7::text, h.data
      FROM ROWS FROM (json_to_recordset($13::json) AS (kind text, element_id text, element_type text, execution_id text, data jsonb))
           WITH ORDINALITY AS h(kind, element_id, element_type, execution_id, data, n)
     ORDER BY h.n),
  audited AS (
    ${insertQueuedSql('$15')})
SELECT pg_notify('duban_timers', $14::text) WHERE $14::text IS NOT NULL`,
};

export async function writeCommand(trx: Knex.Transaction, w: CommandWrite): Promise<void> {
  const snap = w.snapshot;
  const done = snap.status !== 'running';
  const live = new Set(snap.tasks.map((t) => t.executionId));
  const known = new Set(w.openTasks.map((t) => t.execution_id));
  // The completed task is written as completed, not as cancelled (one row, one change per statement).
  const cancelled = w.openTasks.filter((t) => !live.has(t.execution_id) && t.id !== w.completedTask?.id).map((t) => t.id);
  const opened = snap.tasks.filter((t) => !known.has(t.executionId)).map((t) => ({
    id: randomUUID(), execution_id: t.executionId, element_id: t.elementId, name: t.name, assignee: t.assignee,
    candidate_groups: t.candidateGroups, candidate_users: t.candidateUsers, form_key: t.formKey, due_at: t.dueAt,
  }));
  const timers = snap.timers.map((t) => ({
    execution_id: t.executionId, element_id: t.elementId, timer_type: t.timerType, definition: t.definition, repeat: t.repeat, due_at: t.dueAt,
  }));
  const earliest = wakeUpFor(snap.timers.map((t) => t.dueAt.getTime()));
  await runPrepared(trx, WRITE_COMMAND, [
    w.instanceId, done ? null : JSON.stringify(snap.state), JSON.stringify(snap.variables), snap.status, w.version, snap.error,
    w.actor, w.completedTask ? JSON.stringify(w.completedTask) : null, cancelled, JSON.stringify(opened),
    snap.timers.map((t) => t.executionId), JSON.stringify(timers), JSON.stringify(w.history), earliest,
    takeQueuedAudit(trx),
  ]);
}

let horizonMs: number | undefined;

/**
 * The wake-up for the timer schedulers: the earliest armed due time, but only when it falls before
 * their next poll (DUBAN_TIMER_POLL_MS, plus a second for this transaction and clock skew); a later
 * one is found by that poll. A NOTIFY is not free: PostgreSQL takes one database-wide lock at the
 * commit of every notifying transaction, so commands of all processes that notify wait on each other.
 */
function wakeUpFor(dueTimes: number[]): string | null {
  if (!dueTimes.length) return null;
  horizonMs ??= loadConfig().timerPollMs + 1000;
  const earliest = Math.min(...dueTimes);
  return earliest <= Date.now() + horizonMs ? new Date(earliest).toISOString() : null;
}

/**
 * Every hot statement of a command, for the test that checks their generic plans read no large table
 * whole (test/command-plans.test.ts): a command's cost must not grow with the number of cases.
 */
export const COMMAND_STATEMENTS: readonly PreparedStatement[] = [LOCK_INSTANCE, LOCK_INSTANCE_OF_TASK, INSERT_INSTANCE_OF_LATEST, READ_HELD, WRITE_COMMAND];

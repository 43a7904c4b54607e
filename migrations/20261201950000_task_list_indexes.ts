import type { Knex } from 'knex';

/**
 * The task list as a clerk sees it: open tasks offered to the department, to the user, or assigned to
 * them. Each arm of that OR has its own partial index, so PostgreSQL answers it (and its count) with a
 * BitmapOr over the open tasks only instead of filtering every open task of every department.
 * fastupdate off: rows in a GIN pending list make the planner price the index as a full scan until the
 * next vacuum; tasks are written a few at a time, so inserting straight into the index costs little.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX tasks_open_groups_idx ON tasks USING gin (candidate_groups) WITH (fastupdate = off) WHERE status = 'open';
    CREATE INDEX tasks_open_users_idx ON tasks USING gin (candidate_users) WITH (fastupdate = off) WHERE status = 'open';
    CREATE INDEX tasks_open_assignee_idx ON tasks (assignee, due_at) WHERE status = 'open';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS tasks_open_groups_idx;
    DROP INDEX IF EXISTS tasks_open_users_idx;
    DROP INDEX IF EXISTS tasks_open_assignee_idx;
  `);
}

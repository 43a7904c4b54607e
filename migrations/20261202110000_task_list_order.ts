import type { Knex } from 'knex';

/**
 * The task list's default order is (due_at, id): the most urgent first, the id as a tie-break so that
 * pages never overlap. An index on due_at alone made PostgreSQL join every task of the page's last
 * deadline and sort them; on (due_at, id) it reads the page in order and joins exactly its rows.
 * It replaces tasks_open_idx (status, due_at), whose leading column the partial index made constant.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX tasks_open_due_idx ON tasks (due_at, id) WHERE status = 'open';
    DROP INDEX IF EXISTS tasks_open_idx;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX IF NOT EXISTS tasks_open_idx ON tasks (status, due_at) WHERE status = 'open';
    DROP INDEX IF EXISTS tasks_open_due_idx;
  `);
}

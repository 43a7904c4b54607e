import type { Knex } from 'knex';

/**
 * Task forms (@bpmn-io/form-js schemas) by form key, one row per saved version. A user task names its form
 * with camunda:formKey; the task list renders the newest version. Old versions stay for comparison and audit.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE forms (
      key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 100),
      version     integer NOT NULL CHECK (version >= 1),
      schema      jsonb NOT NULL,
      note        text,
      created_by  text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (key, version)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE forms`);
}

import type { Knex } from 'knex';

/**
 * API tokens act only for the user who created them and live at most 90 days: tokens minted for someone
 * else are revoked, tokens without an expiry get one. Phone numbers stored as typed become E.164 where
 * the mainland rule of src/notify/phone.ts applies (11-digit mobiles, optionally with 86 / 0086 / +86).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND created_by IS DISTINCT FROM user_id;
    UPDATE api_tokens SET expires_at = created_at + interval '90 days' WHERE expires_at IS NULL OR expires_at > created_at + interval '90 days';
    ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
    ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_act_for_creator CHECK (created_by IS NOT NULL AND created_by = user_id) NOT VALID;
  `);
  // No "?" in these patterns: knex would read it as a binding.
  for (const table of ['users', 'departments', 'cases']) {
    await knex.raw(`
      UPDATE ${table} SET phone = '+86' || substring(regexp_replace(phone, '[\\s()-]', '', 'g') from '(1[3-9][0-9]{9})$')
      WHERE phone IS NOT NULL AND phone !~ '^[+]861[3-9][0-9]{9}$'
        AND regexp_replace(phone, '[\\s()-]', '', 'g') ~ '^([+]86|0086|86){0,1}1[3-9][0-9]{9}$'`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE api_tokens DROP CONSTRAINT IF EXISTS api_tokens_act_for_creator;
    ALTER TABLE api_tokens ALTER COLUMN expires_at DROP NOT NULL;
  `);
}

import type { Knex } from 'knex';

/**
 * The audit trail without a lock on the command path. A command's entries go into `audit_queue` in its
 * own transaction, stamped with its transaction id; nothing is locked, so commands of different cases
 * never wait for each other. One sealer at a time (src/audit/sealer.ts) moves the committed entries
 * into the keyed chain `audit_log`, in transaction-id order, and only entries of transactions older
 * than every transaction still running: that part of the order can no longer change, so the chain is
 * one verifiable order that no later commit can insert itself into.
 *
 * The serving role may only INSERT and SELECT queue rows. Moving them is `duban_audit_seal`, which runs
 * as the owner (SECURITY DEFINER) and checks it is given exactly the oldest sealable entries, in order,
 * linked to the current head: the serving role can neither drop an entry before it is sealed nor seal
 * out of order. The hashes it stores come from the sealer, which holds the key; wrong ones fail verify.
 */
const SEAL_LOCK = 0x6475_6261; // the chain-head lock of src/audit/audit.ts

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE audit_queue (
      id           bigserial PRIMARY KEY,
      xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
      at           timestamptz NOT NULL,
      actor        text,
      action       text NOT NULL,
      entity_type  text NOT NULL,
      entity_id    text,
      before       jsonb,
      after        jsonb
    );
    CREATE INDEX audit_queue_order ON audit_queue (xid, id);
    CREATE TRIGGER audit_queue_no_update BEFORE UPDATE ON audit_queue
      FOR EACH ROW EXECUTE FUNCTION duban_forbid_change();
    CREATE TRIGGER audit_queue_no_truncate BEFORE TRUNCATE ON audit_queue
      FOR EACH STATEMENT EXECUTE FUNCTION duban_forbid_change();
    REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_queue FROM PUBLIC;

    CREATE FUNCTION duban_audit_seal(p_ids bigint[], p_hashes text[], p_prev text, p_key_id text)
      RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    DECLARE
      expected bigint[];
      head text;
      prev text := p_prev;
      i integer;
    BEGIN
      IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_hashes) THEN
        RAISE EXCEPTION 'audit seal: % ids but % hashes', cardinality(p_ids), cardinality(p_hashes) USING ERRCODE = '22023';
      END IF;
      PERFORM pg_advisory_xact_lock(${SEAL_LOCK});
      SELECT array_agg(q.id ORDER BY q.xid, q.id) INTO expected FROM (
        SELECT id, xid FROM audit_queue
         WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY xid, id LIMIT cardinality(p_ids)) q;
      IF expected IS DISTINCT FROM p_ids THEN
        RAISE EXCEPTION 'audit seal: these are not the oldest sealable entries in order' USING ERRCODE = '55000';
      END IF;
      SELECT hash INTO head FROM audit_log ORDER BY id DESC LIMIT 1;
      IF head IS DISTINCT FROM p_prev AND NOT (head IS NULL AND p_prev = repeat('0', 64)) THEN
        RAISE EXCEPTION 'audit seal: the chain head moved' USING ERRCODE = '40001';
      END IF;
      -- Row by row, so ids are drawn in chain order.
      FOR i IN 1 .. cardinality(p_ids) LOOP
        INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after, key_id, prev_hash, hash)
        SELECT at, actor, action, entity_type, entity_id, before, after, p_key_id, prev, p_hashes[i]
          FROM audit_queue WHERE id = p_ids[i];
        prev := p_hashes[i];
      END LOOP;
      DELETE FROM audit_queue WHERE id = ANY (p_ids);
      RETURN cardinality(p_ids);
    END $$;
    REVOKE ALL ON FUNCTION duban_audit_seal(bigint[], text[], text, text) FROM PUBLIC;
  `);
}

export async function down(knex: Knex): Promise<void> {
  // Entries still queued are part of the trail: refuse to drop them.
  const { rows } = await knex.raw<{ rows: Array<{ n: number }> }>('SELECT count(*)::int AS n FROM audit_queue');
  if (rows[0]!.n > 0) throw new Error(`${rows[0]!.n} audit entries are not sealed yet: run \`duban audit verify\` (it seals them) first`);
  await knex.raw(`
    DROP FUNCTION IF EXISTS duban_audit_seal(bigint[], text[], text, text);
    DROP TABLE IF EXISTS audit_queue;`);
}

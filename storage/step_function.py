"""PostgreSQL's function writing an event's transaction in one statement (schema version 13):
its text, its name and the SQLSTATEs it refuses with. storage.server_steps calls it."""

from __future__ import annotations

from sqlalchemy import Connection, text

from storage.vocabulary import USAGE_NAMES

FUNCTION = "onloop_write_events_v13"
# SQLSTATEs the function raises to refuse a write after taking its seq (class "ON": onloop's).
HALT_OR_NEWER = "ON001"
APPROVAL_UNUSABLE = "ON002"
NO_FUNCTION = "42883"  # undefined_function
# What a guard asks of the function, by name (storage.events.Guard.server).
HALT_GUARD = "halt_or_newer"
CONSUME_GUARD = "consume_approval"
KNOWN_GUARDS = frozenset({HALT_GUARD, CONSUME_GUARD})

_ADDS = ", ".join(f"{name} = {name} + p_add_{name}" for name in USAGE_NAMES)
_ADD_PARAMS = ", ".join(f"p_add_{name} double precision" for name in USAGE_NAMES)

# The function, as version 13 creates it. Parameters are prefixed (p_) so that none is read as a
# column. A changed body is a new function with a new version in its name.
CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(
  p_rid text, p_wid text, p_epoch integer, p_statuses text,
  p_usage_at timestamp, {_ADD_PARAMS},
  p_check_halt boolean, p_ours integer,
  p_approval_id integer, p_args_hash text, p_consumed_at timestamp,
  p_meta text, p_payloads text, p_durable boolean
) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_seq bigint;
  v_meta json := p_meta::json;
  v_count integer := json_array_length(v_meta);
  v_statuses text[] := string_to_array(p_statuses, ',');
BEGIN
  IF p_durable AND current_setting('synchronous_commit') = 'off' THEN
    PERFORM set_config('synchronous_commit', 'on', true);
  END IF;
  IF p_usage_at IS NULL THEN
    UPDATE runs SET last_seq = last_seq + v_count
     WHERE id = p_rid
       AND (p_statuses = '' OR status = ANY (v_statuses))
       AND (p_wid IS NULL OR worker_id = p_wid)
       AND (p_epoch IS NULL OR claim_epoch = p_epoch)
    RETURNING last_seq INTO v_seq;
  ELSE
    UPDATE runs SET last_seq = last_seq + v_count, {_ADDS}, updated_at = p_usage_at
     WHERE id = p_rid
       AND (p_statuses = '' OR status = ANY (v_statuses))
       AND (p_wid IS NULL OR worker_id = p_wid)
       AND (p_epoch IS NULL OR claim_epoch = p_epoch)
    RETURNING last_seq INTO v_seq;
  END IF;
  IF v_seq IS NULL THEN
    RETURN NULL;
  END IF;
  IF p_check_halt AND (
       EXISTS (SELECT 1 FROM commands
                WHERE run_id = p_rid AND consumed_at IS NULL AND kind = 'halt')
       OR EXISTS (SELECT 1 FROM schema_migrations WHERE version > p_ours)) THEN
    RAISE EXCEPTION 'a halt is pending or a newer onloop upgraded the store'
      USING ERRCODE = '{HALT_OR_NEWER}';
  END IF;
  IF p_approval_id IS NOT NULL THEN
    UPDATE approvals SET consumed_at = p_consumed_at
     WHERE id = p_approval_id AND run_id = p_rid AND status = 'approved'
       AND consumed_at IS NULL AND approved_hash IS NOT DISTINCT FROM p_args_hash;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'the approval cannot authorise this execution'
        USING ERRCODE = '{APPROVAL_UNUSABLE}';
    END IF;
  END IF;
  -- The payloads come apart from the other fields: PostgreSQL reads a field out of a JSON text
  -- only if no string in it escapes a NUL, which a payload's may (it is stored as given).
  INSERT INTO events (run_id, seq, kind, at, payload, tool, verdict)
  SELECT p_rid, v_seq - v_count + m.n, m.v ->> 0, (m.v ->> 1)::timestamp, p.v,
         m.v ->> 2, m.v ->> 3
    FROM json_array_elements(v_meta) WITH ORDINALITY AS m (v, n)
    JOIN json_array_elements(p_payloads::json) WITH ORDINALITY AS p (v, n) ON p.n = m.n;
  INSERT INTO tool_call_counts (day, tool, verdict, calls)
  SELECT date(r.created_at), coalesce(m.v ->> 2, ''), coalesce(m.v ->> 3, ''), count(*)
    FROM json_array_elements(v_meta) AS m (v), runs r
   WHERE r.id = p_rid AND m.v ->> 0 = 'tool_call'
   GROUP BY 1, 2, 3
  ON CONFLICT (day, tool, verdict) DO UPDATE SET calls = tool_call_counts.calls + EXCLUDED.calls;
  RETURN v_seq;
END
$fn$"""


def create_function(conn: Connection) -> None:
    """Version 13 on PostgreSQL (SQLite has no round trips to save: nothing to do)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(CREATE_FUNCTION.replace("%", "%%")))

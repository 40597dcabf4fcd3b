-- The audit trail: append-only, hash-chained (see docs/audit.md for the canonical encoding).
CREATE TABLE audit_events (
    id            BIGINT PRIMARY KEY NOT NULL,
    at            TEXT NOT NULL,
    correlation   TEXT NOT NULL,
    phase         TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_name    TEXT,
    team          TEXT,
    channel       TEXT,
    command_text  TEXT NOT NULL,
    action        TEXT,
    env           TEXT,
    cluster       TEXT,
    namespace     TEXT,
    kind          TEXT,
    name          TEXT,
    reason        TEXT,
    detail        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_correlation ON audit_events (correlation);
CREATE INDEX audit_events_actor ON audit_events (actor_id, at);
CREATE INDEX audit_events_env ON audit_events (env, at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % is refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

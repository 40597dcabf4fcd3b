-- The audit trail: append-only, hash-chained (see docs/audit.md for the canonical encoding).
CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY NOT NULL,
    at            TEXT NOT NULL,          -- RFC 3339 UTC, milliseconds
    correlation   TEXT NOT NULL,          -- shared by all events of one command
    phase         TEXT NOT NULL,          -- requested, denied, approved, started, succeeded, failed, interrupted, cancelled
    actor_id      TEXT NOT NULL,          -- Slack user id
    actor_name    TEXT,
    team          TEXT,
    channel       TEXT,
    command_text  TEXT NOT NULL,          -- as typed
    action        TEXT,
    env           TEXT,
    cluster       TEXT,
    namespace     TEXT,
    kind          TEXT,
    name          TEXT,
    reason        TEXT,                   -- incident or ticket id, for filtering
    detail        TEXT NOT NULL,          -- JSON: justification, decision, before/after, outcome
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_correlation ON audit_events (correlation);
CREATE INDEX audit_events_actor ON audit_events (actor_id, at);
CREATE INDEX audit_events_env ON audit_events (env, at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: UPDATE is refused');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: DELETE is refused');
END;

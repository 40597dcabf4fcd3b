-- Retention: `pitcrew audit archive` may remove the oldest events, and only those, after it
-- exported them and appended an archive boundary event (see docs/audit.md). It grants itself
-- that right inside its own transaction through a permit row; any other DELETE is refused.
CREATE TABLE audit_archive_permit (
    through_id INTEGER NOT NULL
);
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.id > (SELECT COALESCE(MAX(through_id), 0) FROM audit_archive_permit)
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: DELETE is refused (use pitcrew audit archive)');
END;

-- Compliance asks "what happened under ticket X": make that an indexed query.
CREATE INDEX audit_events_reason ON audit_events (reason);

-- Retention: `pitcrew audit archive` may remove the oldest events, and only those, after it
-- exported them and appended an archive boundary event (see docs/audit.md). It grants itself
-- that right inside its own transaction through a permit row; any other DELETE is refused.
CREATE TABLE audit_archive_permit (
    through_id BIGINT NOT NULL
);
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.id <= (SELECT COALESCE(MAX(through_id), 0) FROM audit_archive_permit) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % is refused (use pitcrew audit archive)', TG_OP;
END;
$$;

-- Compliance asks "what happened under ticket X": make that an indexed query.
CREATE INDEX audit_events_reason ON audit_events (reason);

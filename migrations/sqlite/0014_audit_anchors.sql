-- RFC 3161 timestamp tokens over the chain head: each row says "event event_id, whose hash was
-- head_hash, existed at gen_time", signed by a timestamp authority outside pitcrew. `audit
-- verify` checks every token and that event event_id still has that hash, so rewriting the
-- chain below an anchor is detected even when every hash after the edit was recomputed.
-- Append-only, like the trail (token: the DER-encoded TimeStampToken, hex).
CREATE TABLE audit_anchors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    event_id    BIGINT NOT NULL,
    head_hash   TEXT NOT NULL,
    gen_time    TEXT NOT NULL,
    tsa         TEXT NOT NULL,
    token       TEXT NOT NULL
);
CREATE INDEX audit_anchors_event ON audit_anchors (event_id);

CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
BEGIN
    SELECT RAISE(ABORT, 'audit anchors are append-only: UPDATE is refused');
END;
CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
BEGIN
    SELECT RAISE(ABORT, 'audit anchors are append-only: DELETE is refused');
END;

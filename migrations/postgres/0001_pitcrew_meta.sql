-- Facts about this database itself, such as which pitcrew version created it.
-- Later migrations add the audit trail, de-duplication, approvals and the outbox.
CREATE TABLE pitcrew_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

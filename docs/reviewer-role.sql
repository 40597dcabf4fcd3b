-- A read-only PostgreSQL role for reviewers and auditors: it can read the audit trail and its
-- timestamp anchors (and the schema version pitcrew checks before reading), nothing else, and
-- write nothing. Run as the database's owner, with the role's name and password of your choice;
-- :dbname is the database pitcrew uses. Then give the reviewer DATABASE_URL=postgres://pitcrew_reviewer:…@host/db
-- and they run `pitcrew audit query|show|verify|export` with no other secret.
CREATE ROLE pitcrew_reviewer LOGIN PASSWORD 'CHANGE-ME';
GRANT CONNECT ON DATABASE :dbname TO pitcrew_reviewer;
GRANT USAGE ON SCHEMA public TO pitcrew_reviewer;
GRANT SELECT ON audit_events, audit_anchors, _sqlx_migrations TO pitcrew_reviewer;

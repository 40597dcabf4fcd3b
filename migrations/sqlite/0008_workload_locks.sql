-- One action per workload at a time across replicas: a lease per workload
-- (cluster/namespace/kind/name). Taken by an upsert that succeeds only when the row is absent
-- or its lease has run out, renewed while the action runs, deleted when it ends; a crashed
-- replica's lease runs out by itself. Times are fixed-width RFC 3339 UTC text.
CREATE TABLE workload_locks (
    lock_key     TEXT PRIMARY KEY NOT NULL,
    holder       TEXT NOT NULL,               -- host:pid:random of the replica
    token        TEXT NOT NULL,               -- this acquisition (renew and release use it)
    correlation  TEXT,                        -- the command holding it (audit correlation id)
    acquired_at  TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);

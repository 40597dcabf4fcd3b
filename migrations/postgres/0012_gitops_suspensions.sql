-- GitOps reconciliation suspended from chat (`gitops suspend APP --for 2h`), with the deadline
-- at which `serve` resumes it. A row is written before the object is patched (and removed if
-- the patch fails); resuming sets resumed_at/resumed_by once (a conditional UPDATE), and a
-- replica resuming at the deadline first claims the row until claimed_until, so two replicas
-- never both resume it. Rows stay: the audit trail records both ends, this table is what the
-- deadline sweep and the GitOps gate read. Times are fixed-width RFC 3339 UTC text.
CREATE TABLE gitops_suspensions (
    id                 TEXT PRIMARY KEY NOT NULL,  -- S-… (a v7 uuid's random tail)
    env                TEXT NOT NULL,
    cluster            TEXT NOT NULL,
    namespace          TEXT NOT NULL,
    kind               TEXT NOT NULL,              -- application, kustomization, helmrelease
    name               TEXT NOT NULL,
    suspended_at       TEXT NOT NULL,
    until              TEXT NOT NULL,
    suspended_by       TEXT NOT NULL,              -- Slack user id
    correlation        TEXT NOT NULL,              -- the suspend command's audit correlation id
    channel            TEXT,                       -- where it was asked; told when it resumes
    restore            TEXT NOT NULL,              -- JSON: what resuming puts back
    claimed_until      TEXT,
    resumed_at         TEXT,
    resumed_by         TEXT,                       -- a Slack user id, or `pitcrew` at the deadline
    resume_correlation TEXT
);
CREATE INDEX gitops_suspensions_open ON gitops_suspensions (resumed_at, until);

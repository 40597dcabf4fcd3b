-- Second-person approvals for environments that need them. An approval is bound to the exact
-- command it was asked for (`params_hash`: SHA-256 of the canonical command, the requester,
-- the channel and the resolved environment, cluster and namespace), expires, and is used at
-- most once (`state` moves from pending to used in one conditional UPDATE). In the database,
-- so that any replica and a restart honour it.
CREATE TABLE approvals (
    id            TEXT PRIMARY KEY NOT NULL,   -- short id shown to people (A-…)
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    requester     TEXT NOT NULL,
    channel       TEXT,
    command_text  TEXT NOT NULL,
    env           TEXT NOT NULL,
    params_hash   TEXT NOT NULL,
    needed        INTEGER NOT NULL,
    approvers     TEXT NOT NULL DEFAULT '',    -- comma-separated Slack user ids
    state         TEXT NOT NULL                -- pending, used, cancelled
);

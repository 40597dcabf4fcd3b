-- Change freezes set from chat (`freeze ENV --until … --reason …`); the configuration's
-- windows are not stored. A freeze holds from starts_at (inclusive) to ends_at (exclusive)
-- unless lifted (`unfreeze ENV`), which sets lifted_at/lifted_by and keeps the row: the audit
-- trail records both, this table is what commands check. Times are fixed-width RFC 3339 UTC
-- text, so they compare as text.
CREATE TABLE freezes (
    id           TEXT PRIMARY KEY NOT NULL,   -- F-… (a v7 uuid's random tail)
    env          TEXT NOT NULL,
    starts_at    TEXT NOT NULL,
    ends_at      TEXT NOT NULL,
    set_by       TEXT NOT NULL,               -- Slack user id
    reason       TEXT NOT NULL,
    correlation  TEXT NOT NULL,               -- the freeze command's audit correlation id
    lifted_at    TEXT,
    lifted_by    TEXT
);
CREATE INDEX freezes_env_ends ON freezes (env, ends_at);

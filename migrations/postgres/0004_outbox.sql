-- Write-back after an action (a note on the PagerDuty incident, a comment on the Jira issue,
-- a break-glass announcement) goes through this durable outbox: enqueued in the command's
-- path, delivered with retries and backoff. `marker` (the audit correlation id) is written
-- into the posted text, so that after an ambiguous failure the deliverer looks for it before
-- posting again. Times are RFC 3339 UTC text, like the audit trail's.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    created_at      TEXT NOT NULL,
    kind            TEXT NOT NULL,      -- pagerduty-note, jira-comment, slack-announce
    target          TEXT NOT NULL,      -- incident id, issue key, channel id
    marker          TEXT NOT NULL,      -- audit correlation id
    body            TEXT NOT NULL,      -- the text to post
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,               -- a deliverer holds the item until then
    delivered_at    TEXT,
    last_error      TEXT,
    UNIQUE (kind, target, marker)
);
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);

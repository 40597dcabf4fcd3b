-- Slack delivers some requests more than once (Events API retries, replays, double clicks).
-- Each request's id (trigger_id, event_id, or action + message) is recorded here before any
-- work starts; a second arrival finds it and does nothing. In the database, so that a restart
-- or another replica recognises it too.
CREATE TABLE slack_requests (
    request_key  TEXT PRIMARY KEY NOT NULL,   -- e.g. trigger:1234.5678.abcd, event:Ev012ABC
    received_at  TEXT NOT NULL               -- RFC 3339 UTC
);
CREATE INDEX slack_requests_received ON slack_requests (received_at);

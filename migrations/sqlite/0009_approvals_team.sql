-- The Slack workspace (team) the waiting command came from, so that a Confirm, Approve or
-- Cancel click from another workspace is refused (the team allow-list alone would let any
-- allowed workspace act on another's request). NULL for requests from a terminal and for
-- rows made before this column existed.
ALTER TABLE approvals ADD COLUMN team TEXT;

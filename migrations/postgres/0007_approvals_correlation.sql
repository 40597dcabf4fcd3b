-- The audit correlation id of the command that is waiting for this confirmation or approval,
-- so that the command continues under the same id when the button is pressed: one command,
-- one story in the trail (requested, approved, pending, ..., started, succeeded).
ALTER TABLE approvals ADD COLUMN correlation TEXT;

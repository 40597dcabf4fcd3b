-- The message that shows a waiting request (a Slack channel and message ts), so that when the
-- request expires that message itself says so and loses its buttons. NULL for requests from a
-- terminal, when the bot could not post in the channel, and for rows made before this column.
ALTER TABLE approvals ADD COLUMN message_channel TEXT;
ALTER TABLE approvals ADD COLUMN message_ts TEXT;

-- How far each SIEM destination has received the audit trail. The trail itself is the durable,
-- ordered queue: a shipper sends the events after last_id, then moves last_id (a compare and
-- set from the value it read), so nothing is lost and a crash resends at most one batch. A
-- replica shipping holds the destination's lease (leased_by until leased_until), so replicas
-- do not send the same batch side by side.
CREATE TABLE siem_cursors (
    destination   TEXT PRIMARY KEY NOT NULL,
    last_id       BIGINT NOT NULL,
    leased_by     TEXT,
    leased_until  TEXT
);

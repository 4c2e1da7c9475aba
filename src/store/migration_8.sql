-- Version 8: out-of-band operation: where each incident's mail goes, and
-- the relay each delivery leaves through.
ALTER TABLE incidents ADD COLUMN channel TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE deliveries ADD COLUMN route TEXT NOT NULL DEFAULT 'primary';

-- The hourly brakes and `status` count recent rows of one kind: without
-- these they read the whole outbox, every incident and every message.
CREATE INDEX outbox_replies ON outbox (created_at) WHERE kind IN ('transcript', 'notice');
CREATE INDEX incidents_declared ON incidents (declared_at);
CREATE INDEX messages_rejected ON messages (received_at) WHERE outcome = 'rejected';

-- Version 8: out-of-band operation: where each incident's mail goes, and
-- the relay each delivery leaves through.
ALTER TABLE incidents ADD COLUMN channel TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE deliveries ADD COLUMN route TEXT NOT NULL DEFAULT 'primary';

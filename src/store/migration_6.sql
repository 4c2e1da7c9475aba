-- Version 6: the incident's type, and which playbook step (type and duty)
-- a task came from.
ALTER TABLE incidents ADD COLUMN type TEXT;
ALTER TABLE tasks ADD COLUMN playbook TEXT;
ALTER TABLE tasks ADD COLUMN duty TEXT;

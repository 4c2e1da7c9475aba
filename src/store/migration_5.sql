-- Version 5: what a command did, as data (`core::outcome::Done` in JSON),
-- so digests and reports word it from the same template as the sender's
-- transcript. Older entries keep only the line as written.
ALTER TABLE timeline ADD COLUMN outcome TEXT;

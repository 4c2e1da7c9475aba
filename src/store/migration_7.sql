-- Version 7: pre-drafted communications, their versions (each with its own
-- decision) and the mails that carried them (a reply to one is an edit);
-- when the scope and the lead were last set, and by whom.
CREATE TABLE drafts (
    incident INTEGER NOT NULL REFERENCES incidents (number),
    number   INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    framing  TEXT NOT NULL,
    PRIMARY KEY (incident, number)
) STRICT, WITHOUT ROWID;
CREATE TABLE draft_versions (
    incident   INTEGER NOT NULL,
    number     INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    author     TEXT NOT NULL,
    at         TEXT NOT NULL,
    decision   TEXT,
    decided_by TEXT,
    decided_at TEXT,
    reason     TEXT,
    PRIMARY KEY (incident, number, version),
    FOREIGN KEY (incident, number) REFERENCES drafts (incident, number)
) STRICT, WITHOUT ROWID;
CREATE TABLE draft_mails (
    message_id TEXT PRIMARY KEY,
    incident   INTEGER NOT NULL,
    number     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
ALTER TABLE incidents ADD COLUMN scope_set_at TEXT;
ALTER TABLE incidents ADD COLUMN scope_set_by TEXT;
ALTER TABLE incidents ADD COLUMN lead_set_at TEXT;
ALTER TABLE incidents ADD COLUMN lead_set_by TEXT;

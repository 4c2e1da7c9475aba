-- Version 1. Times are RFC 3339 UTC text with whole seconds, so they sort.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE incidents (
    number      INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    title_key   TEXT NOT NULL,
    status      TEXT NOT NULL,
    severity    TEXT,
    phase       TEXT NOT NULL,
    lead          TEXT,
    scope         TEXT,
    impact        TEXT,
    declared_by   TEXT NOT NULL,
    declared_at   TEXT NOT NULL,
    started_at    TEXT,
    detected_at   TEXT,
    contained_at  TEXT,
    eradicated_at TEXT,
    recovered_at  TEXT,
    closed_at     TEXT,
    thread_root   TEXT NOT NULL
) STRICT;
CREATE INDEX incidents_title_key ON incidents (title_key);
CREATE INDEX incidents_thread_root ON incidents (thread_root);

CREATE TABLE roles (
    incident INTEGER NOT NULL REFERENCES incidents (number),
    role     TEXT NOT NULL,
    holder   TEXT NOT NULL,
    PRIMARY KEY (incident, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE streams (
    incident   INTEGER NOT NULL REFERENCES incidents (number),
    stream     TEXT NOT NULL,
    lead       TEXT,
    status     TEXT,
    updated_at TEXT,
    PRIMARY KEY (incident, stream)
) STRICT, WITHOUT ROWID;

CREATE TABLE tasks (
    incident   INTEGER NOT NULL REFERENCES incidents (number),
    number     INTEGER NOT NULL,
    text       TEXT NOT NULL,
    owner      TEXT,
    due_at     TEXT,
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    closed_at  TEXT,
    PRIMARY KEY (incident, number)
) STRICT, WITHOUT ROWID;

-- Extra digest recipients of one incident.
CREATE TABLE notify (
    incident INTEGER NOT NULL REFERENCES incidents (number),
    address  TEXT NOT NULL,
    PRIMARY KEY (incident, address)
) STRICT, WITHOUT ROWID;

-- Every message received, raw, whatever its outcome.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    sha256      TEXT NOT NULL UNIQUE,
    message_id  TEXT,
    from_addr   TEXT,
    subject     TEXT,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    incident    INTEGER REFERENCES incidents (number),
    raw         BLOB NOT NULL
) STRICT;
CREATE INDEX messages_message_id ON messages (message_id);

-- Bytes live under the data directory at attachments/<sha256>.
CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message      INTEGER NOT NULL REFERENCES messages (id),
    name         TEXT,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL
) STRICT;
CREATE INDEX attachments_message ON attachments (message);

-- Append-only; clustered by incident so that an entry writes one b-tree.
CREATE TABLE timeline (
    incident   INTEGER NOT NULL REFERENCES incidents (number),
    seq        INTEGER NOT NULL,
    at         TEXT NOT NULL,
    author     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    text       TEXT NOT NULL,
    message_id TEXT,
    trust      TEXT NOT NULL,
    PRIMARY KEY (incident, seq)
) STRICT, WITHOUT ROWID;

-- Outgoing mail, queued in the transaction that caused it.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    incident        INTEGER REFERENCES incidents (number),
    recipients_to   TEXT NOT NULL,
    recipients_cc   TEXT NOT NULL,
    subject         TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    body            TEXT NOT NULL,
    raw             BLOB NOT NULL,
    envelope_from   TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- One row per recipient: a refused recipient never holds up the others.
-- The outbox row's status, attempts and times summarise its deliveries.
CREATE TABLE deliveries (
    outbox          INTEGER NOT NULL REFERENCES outbox (id),
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    sent_at         TEXT,
    PRIMARY KEY (outbox, recipient)
) STRICT, WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);

-- Where each IMAP folder was read up to, under which UIDVALIDITY.
CREATE TABLE mailbox_cursor (
    mailbox      TEXT PRIMARY KEY,
    uid_validity INTEGER NOT NULL,
    last_uid     INTEGER NOT NULL
) STRICT;

-- Every IMAP message taken in, and whether it has been marked done on the
-- server; a crash between commit and mark leaves `marked = 0` to re-apply.
CREATE TABLE mailbox_uids (
    mailbox      TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    message      INTEGER REFERENCES messages (id),
    marked       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (mailbox, uid_validity, uid)
) STRICT, WITHOUT ROWID;

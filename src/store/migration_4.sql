-- Version 4: executive digests held back by the hourly cap, sent later as
-- one combined digest; `since_seq` is the last timeline entry the
-- recipient saw of that incident.
CREATE TABLE held_digests (
    recipient  TEXT NOT NULL,
    incident   INTEGER NOT NULL REFERENCES incidents (number),
    since_seq  INTEGER NOT NULL,
    release_at TEXT NOT NULL,
    held_at    TEXT NOT NULL,
    PRIMARY KEY (recipient, incident)
) STRICT, WITHOUT ROWID;
CREATE INDEX held_digests_release ON held_digests (release_at);
-- The last digest to one recipient, and the same reply to the same people.
CREATE INDEX outbox_recipient ON outbox (recipients_to, kind, created_at);
-- The process that claimed a delivery in flight.
ALTER TABLE deliveries ADD COLUMN claimed_by INTEGER;
-- Claims in a row that got no answer recorded: the first is retried at
-- once when its claimer died, later ones wait out the lease.
ALTER TABLE deliveries ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
-- Message-IDs that a mail which opened an incident replied to before they
-- arrived (parallel delivery reorders a thread): the parent, when it comes,
-- joins that incident instead of opening another.
CREATE TABLE awaited_parents (
    message_id TEXT PRIMARY KEY,
    incident   INTEGER NOT NULL REFERENCES incidents (number),
    since      TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Version 3: addresses seen carrying mailing-list mail, never copied on a reply.
CREATE TABLE list_addresses (
    address    TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Version 2: digests, reminders and breach-notification clocks.
ALTER TABLE incidents ADD COLUMN aware_at TEXT;
-- The reason given with `close: <reason>`.
ALTER TABLE incidents ADD COLUMN resolution TEXT;
-- The phase when it was closed, to return to on `reopen`.
ALTER TABLE incidents ADD COLUMN phase_at_close TEXT;
-- NULL: digests follow the severity; 0: off; otherwise minutes.
ALTER TABLE incidents ADD COLUMN cadence_minutes INTEGER;

CREATE TABLE deadlines (
    incident   INTEGER NOT NULL REFERENCES incidents (number),
    regime     TEXT NOT NULL,
    stage      INTEGER NOT NULL,
    what       TEXT NOT NULL,
    started_at TEXT NOT NULL,
    due_at     TEXT,
    state      TEXT NOT NULL,
    closed_at  TEXT,
    PRIMARY KEY (incident, regime, stage)
) STRICT, WITHOUT ROWID;

-- Per incident and kind of scheduled mail: what was sent (last_at, count,
-- and for digests the last timeline entry covered) and when it is next due.
CREATE TABLE schedule (
    incident     INTEGER NOT NULL REFERENCES incidents (number),
    job          TEXT NOT NULL,
    due_at       TEXT,
    last_at      TEXT,
    count        INTEGER NOT NULL DEFAULT 0,
    requested_at TEXT,
    seq          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident, job)
) STRICT, WITHOUT ROWID;
CREATE INDEX schedule_due ON schedule (due_at);

-- Who was sent the retrospective questionnaire, and under which Message-ID,
-- so that replies to it are read as answers.
CREATE TABLE questionnaires (
    incident   INTEGER NOT NULL REFERENCES incidents (number),
    address    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at    TEXT NOT NULL,
    PRIMARY KEY (incident, address)
) STRICT, WITHOUT ROWID;
CREATE INDEX questionnaires_message_id ON questionnaires (message_id);

-- The latest answer of each respondent to each question (`comment`: free text).
CREATE TABLE answers (
    incident    INTEGER NOT NULL REFERENCES incidents (number),
    respondent  TEXT NOT NULL,
    question    TEXT NOT NULL,
    text        TEXT NOT NULL,
    message_id  TEXT,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (incident, respondent, question)
) STRICT, WITHOUT ROWID;

-- Incidents open before this version are looked at by the first tick.
INSERT INTO schedule (incident, job, due_at)
SELECT number, 'digest', strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM incidents WHERE status != 'closed';

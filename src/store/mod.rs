//! The SQLite store: the only module that writes SQL.
//!
//! One connection, WAL, `synchronous=FULL` (a commit survives power loss,
//! which matters because the mailbox is marked only after it), every write
//! inside `BEGIN IMMEDIATE`, and migrations by `PRAGMA user_version`.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::core::incident::{
    CadenceOverride, Deadline, DeadlineState, DeliveryStatus, EntryKind, Incident, IncidentNumber, MailKind,
    Milestones, Phase, Role, Severity, Status, Stream, StreamState, Task, TaskState, TimelineEntry, Trust,
};
use crate::core::mail::AttachmentMeta;
use crate::core::triage::Outcome;

mod retro;
mod schedule;

pub use retro::RetroRecords;
pub use schedule::ScheduleFacts;

const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migration_2.sql"),
    include_str!("migration_3.sql"),
    include_str!("migration_4.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: cannot create {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error("store: the database is newer (version {found}) than this sitrep understands ({known})")]
    TooNew { found: i64, known: i64 },
    #[error("store: row {row} holds an unexpected value: {detail}")]
    Corrupt { row: i64, detail: String },
    #[error("store: {path} {problem}; restore it from a backup (see docs/install.md) rather than start anew")]
    Damaged { path: String, problem: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

pub struct Store {
    connection: Connection,
}

/// A stored inbound message, without its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: i64,
    pub received_at: Timestamp,
    pub source: String,
    pub sha256: String,
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub incident: Option<IncidentNumber>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub message: i64,
    pub meta: AttachmentMeta,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub id: i64,
    pub kind: MailKind,
    pub incident: Option<IncidentNumber>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// What the sender needs to deliver one queued row to its due recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMail {
    pub id: i64,
    pub envelope_from: String,
    pub raw: Vec<u8>,
    pub recipients: Vec<PendingRecipient>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecipient {
    pub address: String,
    pub attempts: u32,
}

/// The result of one delivery attempt to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    Retry { at: Timestamp, error: String },
    Failed { error: String },
}

/// One recipient of one outbox row, for `sitrep outbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub outbox: i64,
    pub recipient: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutgoing {
    pub kind: MailKind,
    pub incident: Option<IncidentNumber>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub body: String,
    pub raw: Vec<u8>,
    pub envelope_from: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage<'a> {
    pub received_at: Timestamp,
    pub source: &'a str,
    pub sha256: &'a str,
    pub raw: &'a [u8],
    pub message_id: Option<&'a str>,
    pub from: Option<&'a str>,
    pub subject: Option<&'a str>,
}

/// The daemon's state as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub open_incidents: u64,
    pub messages: u64,
    pub last_message: Option<Timestamp>,
    /// Deliveries waiting, and refused for good.
    pub queued: u64,
    pub failed: u64,
    pub oldest_queued: Option<Timestamp>,
    /// Folder, UIDVALIDITY and last UID of each IMAP folder read.
    pub cursors: Vec<(String, u32, u32)>,
}

/// A message's place in an IMAP folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxPosition {
    pub mailbox: String,
    pub uid_validity: u32,
    pub uid: u32,
}

/// RFC 3339 UTC with whole seconds: sorts as text.
pub fn time_text(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse_time(row: i64, text: &str) -> StoreResult<Timestamp> {
    text.parse().map_err(|error| StoreError::Corrupt { row, detail: format!("time `{text}`: {error}") })
}

fn parse_named<T: std::str::FromStr<Err = String>>(row: i64, text: &str) -> StoreResult<T> {
    text.parse().map_err(|detail| StoreError::Corrupt { row, detail })
}

fn join_addresses(addresses: &[String]) -> String {
    addresses.join("\n")
}

fn split_addresses(text: &str) -> Vec<String> {
    text.lines().filter(|line| !line.is_empty()).map(str::to_string).collect()
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> StoreResult<Store> {
        refuse_lost_store(path)?;
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StoreError::Directory { path: parent.display().to_string(), source })?;
        }
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        enable_wal(&connection)?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        // Stable query plans: otherwise the bundled SQLite (built with STAT4)
        // re-prepares a cached statement whenever a bound value changes.
        connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        let mut store = Store { connection };
        store.migrate()?;
        Ok(store)
    }

    /// SQLite's own check of the file's structure, quick enough for every
    /// start of the daemon.
    pub fn quick_check(&self) -> StoreResult<()> {
        self.check("PRAGMA quick_check(1)")
    }

    /// SQLite's full check: also every index against its table. It reads
    /// the whole file, so the daemon runs it daily, in the background.
    pub fn integrity_check(&self) -> StoreResult<()> {
        self.check("PRAGMA integrity_check(1)")
    }

    fn check(&self, pragma: &str) -> StoreResult<()> {
        let verdict: String = self.connection.query_row(pragma, [], |row| row.get(0))?;
        match verdict.as_str() {
            "ok" => Ok(()),
            problem => Err(StoreError::Damaged {
                path: self.connection.path().unwrap_or_default().to_string(),
                problem: format!("fails SQLite's check: {problem}"),
            }),
        }
    }

    /// When the store last passed `integrity_check`.
    pub fn checked_at(&self) -> StoreResult<Option<Timestamp>> {
        let at: Option<String> = self
            .connection
            .query_row("SELECT value FROM meta WHERE key = 'integrity_checked_at'", [], |row| row.get(0))
            .optional()?;
        at.map(|text| parse_time(0, &text)).transpose()
    }

    pub fn set_checked_at(&mut self, at: Timestamp) -> StoreResult<()> {
        self.connection.execute(
            "INSERT INTO meta (key, value) VALUES ('integrity_checked_at', ?1)
             ON CONFLICT (key) DO UPDATE SET value = ?1",
            [time_text(at)],
        )?;
        Ok(())
    }

    fn migrate(&mut self) -> StoreResult<()> {
        let known = MIGRATIONS.len() as i64;
        // Readers of an up-to-date store take no write lock, so `sitrep list`
        // never waits for the daemon.
        let current: i64 = self.connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if current == known {
            return Ok(());
        }
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        for migration in &MIGRATIONS[version as usize..] {
            transaction.execute_batch(migration)?;
        }
        transaction.pragma_update(None, "user_version", known)?;
        transaction.commit()?;
        Ok(())
    }

    /// Starts the one kind of write: `BEGIN IMMEDIATE`, so a second writer
    /// waits at the start rather than failing at commit.
    pub fn write(&mut self) -> StoreResult<WriteTx<'_>> {
        Ok(WriteTx { transaction: self.connection.transaction_with_behavior(TransactionBehavior::Immediate)? })
    }

    /// A consistent copy of the whole store, taken while it is in use.
    pub fn backup(&self, target: &Path) -> StoreResult<()> {
        self.connection.execute("VACUUM INTO ?1", [target.to_string_lossy()])?;
        Ok(())
    }

    /// What `sitrep status` shows.
    pub fn summary(&self) -> StoreResult<Summary> {
        let count = |sql: &str| -> StoreResult<u64> {
            Ok(self.connection.query_row(sql, [], |row| row.get::<_, i64>(0))? as u64)
        };
        let last_message: Option<String> =
            self.connection.query_row("SELECT MAX(received_at) FROM messages", [], |row| row.get(0))?;
        let oldest_queued: Option<String> = self.connection.query_row(
            "SELECT MIN(o.created_at) FROM deliveries d JOIN outbox o ON o.id = d.outbox WHERE d.status IN ('queued', 'sending')",
            [],
            |row| row.get(0),
        )?;
        let mut statement =
            self.connection.prepare("SELECT mailbox, uid_validity, last_uid FROM mailbox_cursor ORDER BY mailbox")?;
        let cursors = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?, row.get::<_, u32>(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok(Summary {
            open_incidents: count("SELECT COUNT(*) FROM incidents WHERE status != 'closed'")?,
            messages: count("SELECT COUNT(*) FROM messages")?,
            last_message: last_message.map(|text| parse_time(0, &text)).transpose()?,
            queued: count("SELECT COUNT(*) FROM deliveries WHERE status IN ('queued', 'sending')")?,
            failed: count("SELECT COUNT(*) FROM deliveries WHERE status = 'failed'")?,
            oldest_queued: oldest_queued.map(|text| parse_time(0, &text)).transpose()?,
            cursors,
        })
    }

    /// `(uid_validity, last_uid)` of an IMAP folder, if it was read before.
    pub fn mailbox_cursor(&self, mailbox: &str) -> StoreResult<Option<(u32, u32)>> {
        Ok(self
            .connection
            .query_row("SELECT uid_validity, last_uid FROM mailbox_cursor WHERE mailbox = ?1", [mailbox], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?)
    }

    /// Messages committed but not yet marked done on the server.
    pub fn unmarked(&self, mailbox: &str, uid_validity: u32) -> StoreResult<Vec<u32>> {
        let mut statement = self.connection.prepare(
            "SELECT uid FROM mailbox_uids WHERE mailbox = ?1 AND uid_validity = ?2 AND marked = 0 ORDER BY uid",
        )?;
        let rows = statement.query_map(params![mailbox, uid_validity], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that these messages are marked done on the server.
    pub fn set_marked(&mut self, mailbox: &str, uid_validity: u32, uids: &[u32]) -> StoreResult<()> {
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for uid in uids {
            transaction
                .prepare_cached(
                    "UPDATE mailbox_uids SET marked = 1 WHERE mailbox = ?1 AND uid_validity = ?2 AND uid = ?3",
                )?
                .execute(params![mailbox, uid_validity, uid])?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Starts a folder over under a new UIDVALIDITY: every message will be
    /// read again, and deduplicated by its bytes and Message-ID.
    pub fn reset_cursor(&mut self, mailbox: &str, uid_validity: u32) -> StoreResult<()> {
        self.connection.execute(
            "INSERT INTO mailbox_cursor (mailbox, uid_validity, last_uid) VALUES (?1, ?2, 0)
             ON CONFLICT (mailbox) DO UPDATE SET uid_validity = ?2, last_uid = 0",
            params![mailbox, uid_validity],
        )?;
        Ok(())
    }

    pub fn incidents(&self) -> StoreResult<Vec<Incident>> {
        let mut statement = self.connection.prepare("SELECT number FROM incidents ORDER BY number")?;
        let numbers = statement.query_map([], |row| row.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
        let mut incidents = Vec::with_capacity(numbers.len());
        for number in numbers {
            incidents.extend(incident(&self.connection, IncidentNumber(number as u64))?);
        }
        Ok(incidents)
    }

    pub fn incident(&self, number: IncidentNumber) -> StoreResult<Option<Incident>> {
        incident(&self.connection, number)
    }

    pub fn timeline(&self, number: IncidentNumber) -> StoreResult<Vec<TimelineEntry>> {
        timeline_after(&self.connection, number, 0)
    }

    pub fn messages(&self) -> StoreResult<Vec<MessageRecord>> {
        let mut statement = self.connection.prepare(
            "SELECT id, received_at, source, sha256, message_id, from_addr, subject, outcome, reason, incident
             FROM messages ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                MessageRecord {
                    id: row.get(0)?,
                    received_at: Timestamp::UNIX_EPOCH,
                    source: row.get(2)?,
                    sha256: row.get(3)?,
                    message_id: row.get(4)?,
                    from: row.get(5)?,
                    subject: row.get(6)?,
                    outcome: row.get(7)?,
                    reason: row.get(8)?,
                    incident: row.get::<_, Option<i64>>(9)?.map(|n| IncidentNumber(n as u64)),
                },
            ))
        })?;
        rows.map(|row| {
            let (id, received_at, mut record) = row?;
            record.received_at = parse_time(id, &received_at)?;
            Ok(record)
        })
        .collect()
    }

    /// How many messages since `since` were rejected with a reason that
    /// begins with `reason_start`: how often a brake bit.
    pub fn rejected_since(&self, since: Timestamp, reason_start: &str) -> StoreResult<u64> {
        let count: i64 = self.connection.query_row(
            "SELECT COUNT(*) FROM messages WHERE outcome = 'rejected' AND received_at >= ?1 AND substr(reason, 1, length(?2)) = ?2",
            params![time_text(since), reason_start],
            |row| row.get(0),
        )?;
        Ok(count as u64)
    }

    /// The raw bytes of the last `count` messages received, newest first.
    pub fn recent_raw_messages(&self, count: u32) -> StoreResult<Vec<Vec<u8>>> {
        let mut statement = self.connection.prepare("SELECT raw FROM messages ORDER BY id DESC LIMIT ?1")?;
        let rows = statement.query_map([count], |row| row.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn raw_message(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.connection.query_row("SELECT raw FROM messages WHERE id = ?1", [id], |row| row.get(0)).optional()?)
    }

    /// The bytes of a queued or sent mail, as delivered.
    pub fn outbox_raw(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.connection.query_row("SELECT raw FROM outbox WHERE id = ?1", [id], |row| row.get(0)).optional()?)
    }

    pub fn attachments(&self) -> StoreResult<Vec<AttachmentRecord>> {
        let mut statement =
            self.connection.prepare("SELECT message, name, content_type, size, sha256 FROM attachments ORDER BY id")?;
        let rows = statement.query_map([], |row| {
            Ok(AttachmentRecord {
                message: row.get(0)?,
                meta: AttachmentMeta {
                    name: row.get(1)?,
                    content_type: row.get(2)?,
                    size: row.get::<_, i64>(3)? as u64,
                    sha256: row.get(4)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn outbox(&self) -> StoreResult<Vec<OutboxRecord>> {
        let mut statement = self.connection.prepare(
            "SELECT id, kind, incident, recipients_to, recipients_cc, subject, message_id, body, status,
                    attempts, next_attempt_at, last_error, created_at, sent_at
             FROM outbox ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, String>(8)?,
                row.get::<_, i64>(9)?,
                row.get::<_, String>(10)?,
                row.get::<_, Option<String>>(11)?,
                row.get::<_, String>(12)?,
                row.get::<_, Option<String>>(13)?,
            ))
        })?;
        rows.map(|row| {
            let (id, kind, incident, to, cc, subject, message_id, body, status, attempts, next, error, created, sent) =
                row?;
            Ok(OutboxRecord {
                id,
                kind: parse_named(id, &kind)?,
                incident: incident.map(|n| IncidentNumber(n as u64)),
                to: split_addresses(&to),
                cc: split_addresses(&cc),
                subject,
                message_id,
                body,
                status: parse_named(id, &status)?,
                attempts: attempts as u32,
                next_attempt_at: parse_time(id, &next)?,
                last_error: error,
                created_at: parse_time(id, &created)?,
                sent_at: sent.map(|sent| parse_time(id, &sent)).transpose()?,
            })
        })
        .collect()
    }

    /// Takes the deliveries that are due, grouped by outbox row, oldest
    /// first, and marks them in flight for process `claimer` until `lease`
    /// from now, in one commit: another sender (a `sitrep ingest` beside the
    /// daemon) leaves them alone. A delivery still in flight when its lease
    /// ends, or whose claimer `is_gone`, was never answered (its sender died
    /// mid-pass) and is taken again: at most one duplicate.
    pub fn claim_due(
        &mut self,
        now: Timestamp,
        lease: SignedDuration,
        claimer: u32,
        is_gone: impl Fn(u32) -> bool,
    ) -> StoreResult<Vec<PendingMail>> {
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut pending: Vec<PendingMail> = Vec::new();
        {
            let mut statement = transaction.prepare_cached(
                "SELECT d.outbox, d.recipient, d.attempts, o.envelope_from, o.raw, d.next_attempt_at <= ?1, d.claimed_by
                 FROM deliveries d JOIN outbox o ON o.id = d.outbox
                 WHERE d.status = 'queued' AND d.next_attempt_at <= ?1
                    OR d.status = 'sending' AND (d.next_attempt_at <= ?1 OR d.claimed_by IS NOT NULL)
                 ORDER BY d.outbox, d.recipient",
            )?;
            let mut rows = statement.query([time_text(now)])?;
            while let Some(row) = rows.next()? {
                let due: bool = row.get(5)?;
                let claimed_by: Option<u32> = row.get(6)?;
                if !due && !claimed_by.is_some_and(|pid| pid != claimer && is_gone(pid)) {
                    continue;
                }
                let id: i64 = row.get(0)?;
                let recipient = PendingRecipient { address: row.get(1)?, attempts: row.get::<_, i64>(2)? as u32 };
                match pending.last_mut() {
                    Some(mail) if mail.id == id => mail.recipients.push(recipient),
                    _ => pending.push(PendingMail {
                        id,
                        envelope_from: row.get(3)?,
                        raw: row.get(4)?,
                        recipients: vec![recipient],
                    }),
                }
            }
        }
        let until = time_text(now + lease);
        for mail in &pending {
            for recipient in &mail.recipients {
                transaction
                    .prepare_cached(
                        "UPDATE deliveries SET status = 'sending', next_attempt_at = ?3, claimed_by = ?4
                         WHERE outbox = ?1 AND recipient = ?2",
                    )?
                    .execute(params![mail.id, recipient.address, until, claimer])?;
            }
        }
        transaction.commit()?;
        Ok(pending)
    }

    /// Returns claimed deliveries that were not tried to the queue, due now.
    pub fn release_claims(&mut self, deliveries: &[(i64, String)], now: Timestamp) -> StoreResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (outbox, recipient) in deliveries {
            transaction
                .prepare_cached(
                    "UPDATE deliveries SET status = 'queued', next_attempt_at = ?3
                     WHERE outbox = ?1 AND recipient = ?2 AND status = 'sending'",
                )?
                .execute(params![outbox, recipient, time_text(now)])?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Records the answer to one delivery (or to one file written for several
    /// recipients) in its own commit, before the next is tried.
    pub fn record_attempts(&mut self, attempts: &[(i64, String, Attempt)], now: Timestamp) -> StoreResult<()> {
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (outbox, recipient, attempt) in attempts {
            let (status, next, error, sent) = match attempt {
                Attempt::Sent => ("sent", None, None, Some(time_text(now))),
                Attempt::Retry { at, error } => ("queued", Some(time_text(*at)), Some(error.as_str()), None),
                Attempt::Failed { error } => ("failed", None, Some(error.as_str()), None),
            };
            transaction
                .prepare_cached(
                    "UPDATE deliveries SET status = ?3, attempts = attempts + 1,
                            next_attempt_at = COALESCE(?4, next_attempt_at), last_error = ?5, sent_at = ?6
                     WHERE outbox = ?1 AND recipient = ?2",
                )?
                .execute(params![outbox, recipient, status, next, error, sent])?;
        }
        let mut touched: Vec<i64> = attempts.iter().map(|(outbox, _, _)| *outbox).collect();
        touched.dedup();
        for outbox in touched {
            summarise_outbox(&transaction, outbox)?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Every delivery not yet sent, for `sitrep outbox`.
    pub fn unsent_deliveries(&self) -> StoreResult<Vec<DeliveryRecord>> {
        let mut statement = self.connection.prepare(
            "SELECT outbox, recipient, status, attempts, next_attempt_at, last_error FROM deliveries
             WHERE status != 'sent' ORDER BY outbox, recipient",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (outbox, recipient, status, attempts, next, last_error) = row?;
            Ok(DeliveryRecord {
                outbox,
                recipient,
                status: parse_named(outbox, &status)?,
                attempts: attempts as u32,
                next_attempt_at: parse_time(outbox, &next)?,
                last_error,
            })
        })
        .collect()
    }

    /// Requeues the failed deliveries of one outbox row; how many there were.
    pub fn retry(&mut self, outbox: i64, now: Timestamp) -> StoreResult<usize> {
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let requeued = transaction.execute(
            "UPDATE deliveries SET status = 'queued', next_attempt_at = ?2 WHERE outbox = ?1 AND status = 'failed'",
            params![outbox, time_text(now)],
        )?;
        summarise_outbox(&transaction, outbox)?;
        transaction.commit()?;
        Ok(requeued)
    }
}

/// Switches a new database to WAL. Switching takes an exclusive lock that
/// SQLite does not wait for, so when another process (the daemon, say) is
/// creating the same store at that moment, try again for a while.
fn enable_wal(connection: &Connection) -> StoreResult<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mode: String = match connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Ok(mode) => mode,
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        return if mode.eq_ignore_ascii_case("wal") {
            Ok(())
        } else {
            Err(StoreError::Corrupt { row: 0, detail: format!("journal_mode stayed `{mode}`") })
        };
    }
}

/// The outbox row reflects its deliveries: queued while any is, else
/// failed if any failed, else sent.
/// A store file that is not SQLite, or that is empty where a store has
/// lived (its write-ahead log, its attachments, a daemon's lock), is damage:
/// opening it would start a new, empty history and number from INC-1 again.
fn refuse_lost_store(path: &Path) -> StoreResult<()> {
    const HEADER: &[u8; 16] = b"SQLite format 3\0";
    let Ok(mut file) = std::fs::File::open(path) else { return Ok(()) };
    let mut header = Vec::with_capacity(HEADER.len());
    file.by_ref().take(HEADER.len() as u64).read_to_end(&mut header).map_err(|source| StoreError::Damaged {
        path: path.display().to_string(),
        problem: format!("cannot be read ({source})"),
    })?;
    let damaged =
        |problem: &str| StoreError::Damaged { path: path.display().to_string(), problem: problem.to_string() };
    if !header.is_empty() && header != HEADER {
        return Err(damaged("is not an SQLite database"));
    }
    let directory = path.parent().unwrap_or(Path::new("."));
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    let lived_here = std::fs::metadata(&wal).is_ok_and(|wal| wal.len() > 0)
        || std::fs::read_dir(directory.join("attachments")).is_ok_and(|mut entries| entries.next().is_some())
        || directory.join("sitrep.lock").exists();
    if header.is_empty() && lived_here {
        return Err(damaged("is empty, but its directory holds a previous store's files"));
    }
    Ok(())
}

fn summarise_outbox(connection: &Connection, outbox: i64) -> StoreResult<()> {
    connection
        .prepare_cached(
            "UPDATE outbox SET
                status = CASE
                    WHEN EXISTS (SELECT 1 FROM deliveries WHERE outbox = ?1 AND status IN ('queued', 'sending'))
                        THEN 'queued'
                    WHEN EXISTS (SELECT 1 FROM deliveries WHERE outbox = ?1 AND status = 'failed') THEN 'failed'
                    ELSE 'sent' END,
                attempts = (SELECT MAX(attempts) FROM deliveries WHERE outbox = ?1),
                next_attempt_at = COALESCE(
                    (SELECT MIN(next_attempt_at) FROM deliveries WHERE outbox = ?1 AND status IN ('queued', 'sending')),
                    next_attempt_at),
                last_error = (SELECT last_error FROM deliveries WHERE outbox = ?1 AND last_error IS NOT NULL LIMIT 1),
                sent_at = (SELECT MAX(sent_at) FROM deliveries WHERE outbox = ?1)
             WHERE id = ?1",
        )?
        .execute([outbox])?;
    Ok(())
}

/// One write transaction; dropped without `commit` it rolls back.
pub struct WriteTx<'a> {
    transaction: rusqlite::Transaction<'a>,
}

impl WriteTx<'_> {
    pub fn commit(self) -> StoreResult<()> {
        Ok(self.transaction.commit()?)
    }

    pub fn message_with_bytes(&self, sha256: &str) -> StoreResult<Option<i64>> {
        Ok(self
            .transaction
            .prepare_cached("SELECT id FROM messages WHERE sha256 = ?1")?
            .query_row([sha256], |row| row.get(0))
            .optional()?)
    }

    /// The earliest stored message with this Message-ID.
    pub fn message_with_id(&self, message_id: &str) -> StoreResult<Option<i64>> {
        Ok(self
            .transaction
            .prepare_cached("SELECT MIN(id) FROM messages WHERE message_id = ?1")?
            .query_row([message_id], |row| row.get(0))?)
    }

    /// The subject of the first stored message with this Message-ID.
    pub fn subject_of(&self, message_id: &str) -> StoreResult<Option<String>> {
        Ok(self
            .transaction
            .prepare_cached("SELECT subject FROM messages WHERE message_id = ?1 ORDER BY id LIMIT 1")?
            .query_row([message_id], |row| row.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    pub fn incident_exists(&self, number: IncidentNumber) -> StoreResult<bool> {
        Ok(self
            .transaction
            .prepare_cached("SELECT 1 FROM incidents WHERE number = ?1")?
            .query_row([number.0 as i64], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn incident_closed(&self, number: IncidentNumber) -> StoreResult<bool> {
        Ok(self
            .transaction
            .prepare_cached("SELECT 1 FROM incidents WHERE number = ?1 AND status = 'closed'")?
            .query_row([number.0 as i64], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn incident(&self, number: IncidentNumber) -> StoreResult<Option<Incident>> {
        incident(&self.transaction, number)
    }

    /// The incident a Message-ID belongs to: a message sitrep received for
    /// it, a mail sitrep sent for it, or its thread root.
    pub fn incident_for_reference(&self, message_id: &str) -> StoreResult<Option<IncidentNumber>> {
        Ok(self
            .transaction
            .prepare_cached(
                "SELECT incident FROM messages WHERE message_id = ?1 AND incident IS NOT NULL
                 UNION ALL SELECT incident FROM outbox WHERE message_id = ?1 AND incident IS NOT NULL
                 UNION ALL SELECT number FROM incidents WHERE thread_root = ?1
                 LIMIT 1",
            )?
            .query_row([message_id], |row| row.get::<_, i64>(0))
            .optional()?
            .map(|n| IncidentNumber(n as u64)))
    }

    /// The incident opened by a reply that named `message_id` as its parent
    /// before that parent arrived.
    pub fn incident_awaiting(&self, message_id: &str) -> StoreResult<Option<IncidentNumber>> {
        Ok(self
            .transaction
            .prepare_cached("SELECT incident FROM awaited_parents WHERE message_id = ?1")?
            .query_row([message_id], |row| row.get::<_, i64>(0))
            .optional()?
            .map(|n| IncidentNumber(n as u64)))
    }

    /// Remembers that `incident` was opened by a mail replying to
    /// `message_ids`, none of which sitrep has seen.
    pub fn await_parents(&self, incident: IncidentNumber, message_ids: &[String], now: Timestamp) -> StoreResult<()> {
        for id in message_ids {
            self.transaction
                .prepare_cached(
                    "INSERT OR IGNORE INTO awaited_parents (message_id, incident, since) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, incident.0 as i64, time_text(now)])?;
        }
        Ok(())
    }

    /// Remembers an address that carried mailing-list mail.
    pub fn remember_list(&self, address: &str, now: Timestamp) -> StoreResult<()> {
        let mut statement = self
            .transaction
            .prepare_cached("INSERT OR IGNORE INTO list_addresses (address, first_seen) VALUES (?1, ?2)")?;
        statement.execute(rusqlite::params![address, now.to_string()])?;
        Ok(())
    }

    /// Those of `addresses` that have carried mailing-list mail.
    pub fn known_lists(&self, addresses: &[&str]) -> StoreResult<Vec<String>> {
        let mut statement = self.transaction.prepare_cached("SELECT 1 FROM list_addresses WHERE address = ?1")?;
        let mut lists = Vec::new();
        for address in addresses {
            if statement.exists([address])? {
                lists.push(address.to_string());
            }
        }
        Ok(lists)
    }

    pub fn open_incidents_titled(&self, title_key: &str) -> StoreResult<Vec<IncidentNumber>> {
        let mut statement = self.transaction.prepare_cached(
            "SELECT number FROM incidents WHERE title_key = ?1 AND status != 'closed' ORDER BY number",
        )?;
        let rows = statement.query_map([title_key], |row| row.get::<_, i64>(0))?;
        Ok(rows.map(|row| row.map(|n| IncidentNumber(n as u64))).collect::<Result<_, _>>()?)
    }

    pub fn next_incident_number(&self) -> StoreResult<IncidentNumber> {
        let highest: i64 =
            self.transaction.query_row("SELECT COALESCE(MAX(number), 0) FROM incidents", [], |row| row.get(0))?;
        Ok(IncidentNumber(highest as u64 + 1))
    }

    /// Records where a message came from and moves the folder's cursor, in
    /// the message's own transaction.
    pub fn record_position(&self, position: &MailboxPosition, message: i64) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "INSERT OR IGNORE INTO mailbox_uids (mailbox, uid_validity, uid, message) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![position.mailbox, position.uid_validity, position.uid, message])?;
        self.transaction
            .prepare_cached(
                "INSERT INTO mailbox_cursor (mailbox, uid_validity, last_uid) VALUES (?1, ?2, ?3)
                 ON CONFLICT (mailbox) DO UPDATE SET uid_validity = ?2, last_uid = MAX(last_uid, ?3)",
            )?
            .execute(params![position.mailbox, position.uid_validity, position.uid])?;
        Ok(())
    }

    /// Stores the raw message, outcome still pending, before anything acts on it.
    pub fn insert_message(&self, message: &NewMessage<'_>) -> StoreResult<i64> {
        self.transaction
            .prepare_cached(
                "INSERT INTO messages (received_at, source, sha256, message_id, from_addr, subject, outcome, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
            )?
            .execute(params![
                time_text(message.received_at),
                message.source,
                message.sha256,
                message.message_id,
                message.from,
                message.subject,
                message.raw
            ])?;
        Ok(self.transaction.last_insert_rowid())
    }

    pub fn set_outcome(
        &self,
        id: i64,
        outcome: Outcome,
        reason: Option<&str>,
        incident: Option<IncidentNumber>,
    ) -> StoreResult<()> {
        self.transaction
            .prepare_cached("UPDATE messages SET outcome = ?2, reason = ?3, incident = ?4 WHERE id = ?1")?
            .execute(params![id, outcome.as_str(), reason, incident.map(|n| n.0 as i64)])?;
        Ok(())
    }

    pub fn insert_attachment(&self, message: i64, meta: &AttachmentMeta) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "INSERT INTO attachments (message, name, content_type, size, sha256) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![message, meta.name, meta.content_type, meta.size as i64, meta.sha256])?;
        Ok(())
    }

    pub fn insert_incident(&self, incident: &Incident) -> StoreResult<()> {
        self.transaction.execute(
            "INSERT INTO incidents (number, title, title_key, status, phase, declared_by, declared_at, thread_root)
             VALUES (?1, '', '', 'open', 'detection', ?2, ?3, ?4)",
            params![
                incident.number.0 as i64,
                incident.declared_by,
                time_text(incident.declared_at),
                incident.thread_root
            ],
        )?;
        self.save_incident(incident)
    }

    /// Writes the whole incident: its row, roles, streams, tasks and list.
    pub fn save_incident(&self, incident: &Incident) -> StoreResult<()> {
        let number = incident.number.0 as i64;
        let milestones = &incident.milestones;
        self.transaction
            .prepare_cached(
                "UPDATE incidents SET title = ?2, title_key = ?3, status = ?4, severity = ?5, phase = ?6, lead = ?7,
                        scope = ?8, impact = ?9, started_at = ?10, detected_at = ?11, contained_at = ?12,
                        eradicated_at = ?13, recovered_at = ?14, closed_at = ?15, aware_at = ?16, cadence_minutes = ?17,
                        resolution = ?18, phase_at_close = ?19
                 WHERE number = ?1",
            )?
            .execute(params![
                number,
                incident.title,
                crate::core::subject::title_key(&incident.title),
                incident.status.as_str(),
                incident.severity.map(Severity::as_str),
                incident.phase.as_str(),
                incident.lead,
                incident.scope,
                incident.impact,
                milestones.started.map(time_text),
                milestones.detected.map(time_text),
                milestones.contained.map(time_text),
                milestones.eradicated.map(time_text),
                milestones.recovered.map(time_text),
                incident.closed_at.map(time_text),
                milestones.aware.map(time_text),
                incident.cadence.map(|cadence| match cadence {
                    CadenceOverride::Off => 0,
                    CadenceOverride::Every(every) => (every.as_secs() / 60).max(1),
                }),
                incident.resolution,
                incident.phase_at_close.map(Phase::as_str),
            ])?;
        for table in ["roles", "streams", "tasks", "notify", "deadlines"] {
            self.transaction.prepare_cached(&format!("DELETE FROM {table} WHERE incident = ?1"))?.execute([number])?;
        }
        for (role, holder) in &incident.roles {
            self.transaction
                .prepare_cached("INSERT INTO roles (incident, role, holder) VALUES (?1, ?2, ?3)")?
                .execute(params![number, role.as_str(), holder])?;
        }
        for (stream, state) in &incident.streams {
            self.transaction
                .prepare_cached(
                    "INSERT INTO streams (incident, stream, lead, status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![number, stream.as_str(), state.lead, state.status, state.updated_at.map(time_text)])?;
        }
        for task in &incident.tasks {
            self.transaction
                .prepare_cached(
                    "INSERT INTO tasks (incident, number, text, owner, due_at, state, created_at, closed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    number,
                    task.number,
                    task.text,
                    task.owner,
                    task.due.map(time_text),
                    task.state.as_str(),
                    time_text(task.created_at),
                    task.closed_at.map(time_text),
                ])?;
        }
        for address in &incident.notify {
            self.transaction
                .prepare_cached("INSERT INTO notify (incident, address) VALUES (?1, ?2)")?
                .execute(params![number, address])?;
        }
        for deadline in &incident.deadlines {
            self.transaction
                .prepare_cached(
                    "INSERT INTO deadlines (incident, regime, stage, what, started_at, due_at, state, closed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    number,
                    deadline.regime,
                    deadline.stage,
                    deadline.what,
                    time_text(deadline.started_at),
                    deadline.due.map(time_text),
                    deadline.state.as_str(),
                    deadline.closed_at.map(time_text),
                ])?;
        }
        Ok(())
    }

    pub fn append_timeline(&self, incident: IncidentNumber, entry: &TimelineEntry) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "INSERT INTO timeline (incident, seq, at, author, kind, text, message_id, trust)
                 SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7 FROM timeline WHERE incident = ?1",
            )?
            .execute(params![
                incident.0 as i64,
                time_text(entry.at),
                entry.author,
                entry.kind.as_str(),
                entry.text,
                entry.message_id,
                entry.trust.as_str(),
            ])?;
        Ok(())
    }

    pub fn enqueue(&self, mail: &NewOutgoing, now: Timestamp) -> StoreResult<i64> {
        self.transaction.execute(
            "INSERT INTO outbox (kind, incident, recipients_to, recipients_cc, subject, message_id, body, raw,
                                 envelope_from, status, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10)",
            params![
                mail.kind.as_str(),
                mail.incident.map(|n| n.0 as i64),
                join_addresses(&mail.to),
                join_addresses(&mail.cc),
                mail.subject,
                mail.message_id,
                mail.body,
                mail.raw,
                mail.envelope_from,
                time_text(now),
            ],
        )?;
        let outbox = self.transaction.last_insert_rowid();
        for recipient in mail.to.iter().chain(&mail.cc) {
            self.transaction
                .prepare_cached(
                    "INSERT OR IGNORE INTO deliveries (outbox, recipient, status, next_attempt_at)
                     VALUES (?1, ?2, 'queued', ?3)",
                )?
                .execute(params![outbox, recipient, time_text(now)])?;
        }
        Ok(outbox)
    }

    /// Records that `recipient` of `outbox` will never be tried, and why:
    /// the address cannot be used, or the mail could not be built at all.
    pub fn fail_delivery(&self, outbox: i64, recipient: &str, reason: &str, now: Timestamp) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "INSERT INTO deliveries (outbox, recipient, status, next_attempt_at, last_error)
                 VALUES (?1, ?2, 'failed', ?3, ?4)
                 ON CONFLICT (outbox, recipient) DO UPDATE SET status = 'failed', last_error = ?4",
            )?
            .execute(params![outbox, recipient, time_text(now), reason])?;
        summarise_outbox(&self.transaction, outbox)
    }

    /// A mail that could not be built: nothing of it will be tried.
    pub fn fail_outbox(&self, outbox: i64, reason: &str) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "UPDATE deliveries SET status = 'failed', last_error = ?2 WHERE outbox = ?1 AND status = 'queued'",
            )?
            .execute(params![outbox, reason])?;
        self.transaction
            .prepare_cached("UPDATE outbox SET status = 'failed', last_error = ?2 WHERE id = ?1")?
            .execute(params![outbox, reason])?;
        Ok(())
    }

    /// How many incidents were declared since `since`, and how many of them
    /// by `sender`.
    pub fn declarations_since(&self, since: Timestamp, sender: &str) -> StoreResult<(u32, u32)> {
        Ok(self
            .transaction
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(declared_by = ?2), 0) FROM incidents WHERE declared_at >= ?1",
            )?
            .query_row(params![time_text(since), sender], |row| Ok((row.get(0)?, row.get(1)?)))?)
    }

    /// How many automatic replies (transcripts, notices) were queued since `since`.
    pub fn automatic_replies_since(&self, since: Timestamp) -> StoreResult<u32> {
        Ok(self
            .transaction
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE kind IN ('transcript', 'notice') AND created_at >= ?1")?
            .query_row([time_text(since)], |row| row.get(0))?)
    }

    /// Whether the same body of `kind` went to the same recipients about
    /// the same incident since `since`.
    pub fn same_mail_since(
        &self,
        kind: MailKind,
        to: &[String],
        incident: Option<IncidentNumber>,
        body: &str,
        since: Timestamp,
    ) -> StoreResult<bool> {
        Ok(self
            .transaction
            .prepare_cached(
                "SELECT 1 FROM outbox WHERE kind = ?1 AND recipients_to = ?2 AND incident IS ?3 AND body = ?4
                 AND created_at >= ?5 LIMIT 1",
            )?
            .query_row(
                params![kind.as_str(), join_addresses(to), incident.map(|n| n.0 as i64), body, time_text(since)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether a mail of `kind` went to exactly `address` since `since`.
    pub fn mailed_since(&self, kind: MailKind, address: &str, since: Timestamp) -> StoreResult<bool> {
        Ok(self
            .transaction
            .query_row(
                "SELECT 1 FROM outbox WHERE kind = ?1 AND recipients_to = ?2 AND created_at >= ?3 LIMIT 1",
                params![kind.as_str(), address, time_text(since)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

/// Timeline entries after sequence number `after`, oldest first.
fn timeline_after(connection: &Connection, number: IncidentNumber, after: u64) -> StoreResult<Vec<TimelineEntry>> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, at, author, kind, text, message_id, trust FROM timeline
         WHERE incident = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = statement.query_map(params![number.0 as i64, after as i64], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, Option<String>>(5)?,
            row.get::<_, String>(6)?,
        ))
    })?;
    rows.map(|row| {
        let (seq, at, author, kind, text, message_id, trust) = row?;
        Ok(TimelineEntry {
            at: parse_time(seq, &at)?,
            author,
            kind: parse_named::<EntryKind>(seq, &kind)?,
            text,
            message_id,
            trust: parse_named::<Trust>(seq, &trust)?,
        })
    })
    .collect()
}

const INCIDENT_SELECT: &str = "SELECT number, title, status, severity, phase, lead, scope, impact, declared_by,
        declared_at, started_at, detected_at, contained_at, eradicated_at, recovered_at, closed_at, thread_root,
        aware_at, cadence_minutes, resolution, phase_at_close
        FROM incidents";

fn optional_time(row: i64, text: Option<String>) -> StoreResult<Option<Timestamp>> {
    text.map(|text| parse_time(row, &text)).transpose()
}

/// The incident row and everything hanging off it.
fn incident(connection: &Connection, number: IncidentNumber) -> StoreResult<Option<Incident>> {
    let key = number.0 as i64;
    let row = connection
        .prepare_cached(&format!("{INCIDENT_SELECT} WHERE number = ?1"))?
        .query_row([key], |row| {
            Ok((
                (row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, Option<String>>(3)?),
                (row.get::<_, String>(4)?, row.get::<_, Option<String>>(5)?, row.get::<_, Option<String>>(6)?),
                (row.get::<_, Option<String>>(7)?, row.get::<_, String>(8)?, row.get::<_, String>(9)?),
                [
                    row.get::<_, Option<String>>(10)?,
                    row.get::<_, Option<String>>(11)?,
                    row.get::<_, Option<String>>(12)?,
                    row.get::<_, Option<String>>(13)?,
                    row.get::<_, Option<String>>(14)?,
                    row.get::<_, Option<String>>(15)?,
                ],
                row.get::<_, String>(16)?,
                (
                    row.get::<_, Option<String>>(17)?,
                    row.get::<_, Option<i64>>(18)?,
                    row.get::<_, Option<String>>(19)?,
                    row.get::<_, Option<String>>(20)?,
                ),
            ))
        })
        .optional()?;
    let Some((
        (title, status, severity),
        (phase, lead, scope),
        (impact, declared_by, declared_at),
        times,
        root,
        (aware, cadence_minutes, resolution, phase_at_close),
    )) = row
    else {
        return Ok(None);
    };
    let [started, detected, contained, eradicated, recovered, closed] = times;
    let mut incident = Incident {
        number,
        title,
        status: parse_named::<Status>(key, &status)?,
        severity: severity.map(|text| parse_named::<Severity>(key, &text)).transpose()?,
        phase: parse_named::<Phase>(key, &phase)?,
        lead,
        scope,
        impact,
        declared_by,
        declared_at: parse_time(key, &declared_at)?,
        milestones: Milestones {
            aware: optional_time(key, aware)?,
            started: optional_time(key, started)?,
            detected: optional_time(key, detected)?,
            contained: optional_time(key, contained)?,
            eradicated: optional_time(key, eradicated)?,
            recovered: optional_time(key, recovered)?,
        },
        closed_at: optional_time(key, closed)?,
        resolution,
        phase_at_close: phase_at_close.map(|text| parse_named::<Phase>(key, &text)).transpose()?,
        thread_root: root,
        roles: Default::default(),
        streams: Default::default(),
        tasks: Vec::new(),
        notify: Vec::new(),
        cadence: match cadence_minutes {
            None => None,
            Some(0) => Some(CadenceOverride::Off),
            Some(minutes) => Some(CadenceOverride::Every(jiff::SignedDuration::from_mins(minutes))),
        },
        deadlines: Vec::new(),
    };
    let mut roles = connection.prepare_cached("SELECT role, holder FROM roles WHERE incident = ?1")?;
    for row in roles.query_map([key], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))? {
        let (role, holder) = row?;
        incident.roles.insert(parse_named::<Role>(key, &role)?, holder);
    }
    let mut streams =
        connection.prepare_cached("SELECT stream, lead, status, updated_at FROM streams WHERE incident = ?1")?;
    for row in streams.query_map([key], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, Option<String>>(1)?,
            row.get::<_, Option<String>>(2)?,
            row.get::<_, Option<String>>(3)?,
        ))
    })? {
        let (stream, lead, status, updated_at) = row?;
        let state = StreamState { lead, status, updated_at: optional_time(key, updated_at)? };
        incident.streams.insert(parse_named::<Stream>(key, &stream)?, state);
    }
    let mut tasks = connection.prepare_cached(
        "SELECT number, text, owner, due_at, state, created_at, closed_at FROM tasks WHERE incident = ?1 ORDER BY number",
    )?;
    for row in tasks.query_map([key], |row| {
        Ok((
            row.get::<_, u32>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, Option<String>>(2)?,
            row.get::<_, Option<String>>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, String>(5)?,
            row.get::<_, Option<String>>(6)?,
        ))
    })? {
        let (task_number, text, owner, due, state, created, closed) = row?;
        incident.tasks.push(Task {
            number: task_number,
            text,
            owner,
            due: optional_time(key, due)?,
            state: parse_named::<TaskState>(key, &state)?,
            created_at: parse_time(key, &created)?,
            closed_at: optional_time(key, closed)?,
        });
    }
    let mut notify = connection.prepare_cached("SELECT address FROM notify WHERE incident = ?1 ORDER BY address")?;
    for row in notify.query_map([key], |row| row.get::<_, String>(0))? {
        incident.notify.push(row?);
    }
    let mut deadlines = connection.prepare_cached(
        "SELECT regime, stage, what, started_at, due_at, state, closed_at FROM deadlines
         WHERE incident = ?1 ORDER BY started_at, regime, stage",
    )?;
    for row in deadlines.query_map([key], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, u32>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, Option<String>>(4)?,
            row.get::<_, String>(5)?,
            row.get::<_, Option<String>>(6)?,
        ))
    })? {
        let (regime, stage, what, started, due, state, closed) = row?;
        incident.deadlines.push(Deadline {
            regime,
            stage,
            what,
            started_at: parse_time(key, &started)?,
            due: optional_time(key, due)?,
            state: parse_named::<DeadlineState>(key, &state)?,
            closed_at: optional_time(key, closed)?,
        });
    }
    Ok(Some(incident))
}

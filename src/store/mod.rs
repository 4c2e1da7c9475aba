//! The SQLite store: the only module that writes SQL.
//!
//! One connection, WAL, `synchronous=FULL` (a commit survives power loss,
//! which matters because the mailbox is marked only after it), every write
//! inside `BEGIN IMMEDIATE`, and migrations by `PRAGMA user_version`.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

mod drafts;
mod fallback;
mod incidents;
mod listing;
mod messages;
mod outbox;
mod retro;
mod schedule;

pub use listing::IncidentLine;
pub use messages::{AttachmentRecord, MailboxPosition, MessageRecord, NewMessage};
pub use outbox::{Attempt, DeliveryRecord, NewOutgoing, OutboxRecord, PendingMail, PendingRecipient, Renewal};
pub use retro::RetroRecords;
pub use schedule::ScheduleFacts;

const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migration_2.sql"),
    include_str!("migration_3.sql"),
    include_str!("migration_4.sql"),
    include_str!("migration_5.sql"),
    include_str!("migration_6.sql"),
    include_str!("migration_7.sql"),
    include_str!("migration_8.sql"),
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
    #[error("store: cannot encode a command's outcome: {0}")]
    Encode(#[from] serde_json::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Prepared statements kept per connection: every distinct one the store
/// runs, with room to spare.
const STATEMENT_CACHE: usize = 128;

pub struct Store {
    connection: Connection,
}

/// Stops the statement a `Store` is running, from another thread.
pub struct Interrupt(rusqlite::InterruptHandle);

impl Interrupt {
    pub fn interrupt(&self) {
        self.0.interrupt();
    }
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
        // One message runs some fifty distinct statements; rusqlite keeps 16
        // by default, and a cache that small parses them again every time.
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
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

    /// A handle that ends, from another thread, whatever this connection is
    /// running (a long check or backup at shutdown).
    pub fn interrupt_handle(&self) -> Interrupt {
        Interrupt(self.connection.get_interrupt_handle())
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

    /// Runs `read` in one read transaction: all it reads is one moment of
    /// the store, however long it takes (an export into a slow pipe while
    /// the daemon writes).
    pub fn in_one_snapshot<T, E: From<StoreError>>(&self, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.connection.execute_batch("BEGIN DEFERRED").map_err(StoreError::from)?;
        let result = read();
        if self.connection.execute_batch("COMMIT").is_err() {
            let _ = self.connection.execute_batch("ROLLBACK");
        }
        result
    }

    /// Holds at most `kib` of pages in memory: the daemon's connections that
    /// only sweep (the daily check) or touch a few rows (the sender) need
    /// little, and memory given to a cache is not given back.
    pub fn limit_cache(&self, kib: u32) -> StoreResult<()> {
        Ok(self.connection.pragma_update(None, "cache_size", -i64::from(kib))?)
    }

    /// Gives back the page cache and what else SQLite can free: a daemon
    /// that took a backlog need not hold its pages while it waits.
    pub fn release_memory(&self) -> StoreResult<()> {
        Ok(self.connection.release_memory()?)
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
        // The newest row, not MAX(received_at): that would read every row,
        // raw bytes and all.
        let last_message: Option<String> = self
            .connection
            .query_row("SELECT received_at FROM messages ORDER BY id DESC LIMIT 1", [], |row| row.get(0))
            .optional()?;
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

/// One write transaction; dropped without `commit` it rolls back.
pub struct WriteTx<'a> {
    transaction: rusqlite::Transaction<'a>,
}

impl WriteTx<'_> {
    pub fn commit(self) -> StoreResult<()> {
        Ok(self.transaction.commit()?)
    }

    /// Starts a part of the transaction that can be undone alone: one
    /// message of a batch.
    pub fn begin_part(&self) -> StoreResult<()> {
        Ok(self.transaction.execute_batch("SAVEPOINT part")?)
    }

    pub fn keep_part(&self) -> StoreResult<()> {
        Ok(self.transaction.execute_batch("RELEASE part")?)
    }

    pub fn undo_part(&self) -> StoreResult<()> {
        Ok(self.transaction.execute_batch("ROLLBACK TO part; RELEASE part")?)
    }
}

fn optional_time(row: i64, text: Option<String>) -> StoreResult<Option<Timestamp>> {
    text.map(|text| parse_time(row, &text)).transpose()
}

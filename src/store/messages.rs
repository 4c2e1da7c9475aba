//! Incoming messages: the raw bytes and their outcome, attachments, the
//! IMAP positions and cursors, and the lists seen carrying mail.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError, StoreResult, WriteTx, parse_time, time_text};
use crate::core::incident::IncidentNumber;
use crate::core::mail::AttachmentMeta;
use crate::core::triage::Outcome;

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
pub struct NewMessage<'a> {
    pub received_at: Timestamp,
    pub source: &'a str,
    pub sha256: &'a str,
    pub raw: &'a [u8],
    pub message_id: Option<&'a str>,
    pub from: Option<&'a str>,
    pub subject: Option<&'a str>,
}

/// A message's place in an IMAP folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxPosition {
    pub mailbox: String,
    pub uid_validity: u32,
    pub uid: u32,
}

impl Store {
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

    pub fn messages(&self) -> StoreResult<Vec<MessageRecord>> {
        let mut messages = Vec::new();
        self.each_message::<StoreError>(|message| {
            messages.push(message);
            Ok(())
        })?;
        Ok(messages)
    }

    /// Every stored message in order, one at a time: an export of a large
    /// store holds one in memory, not all.
    pub fn each_message<E: From<StoreError>>(
        &self,
        mut visit: impl FnMut(MessageRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, received_at, source, sha256, message_id, from_addr, subject, outcome, reason, incident
             FROM messages ORDER BY id",
            )
            .map_err(StoreError::from)?;
        let rows = statement
            .query_map([], |row| {
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
            })
            .map_err(StoreError::from)?;
        for row in rows {
            let (id, received_at, mut record) = row.map_err(StoreError::from)?;
            record.received_at = parse_time(id, &received_at)?;
            visit(record)?;
        }
        Ok(())
    }

    /// What a message carried.
    pub fn attachments_of(&self, message: i64) -> StoreResult<Vec<AttachmentMeta>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT name, content_type, size, sha256 FROM attachments WHERE message = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([message], |row| {
            Ok(AttachmentMeta {
                name: row.get(0)?,
                content_type: row.get(1)?,
                size: row.get::<_, i64>(2)? as u64,
                sha256: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many messages since `since` were rejected with a reason that
    /// begins with `reason_start`: how often a brake bit.
    pub fn rejected_since(&self, since: Timestamp, reason_start: &str) -> StoreResult<u64> {
        let count: i64 = self.connection.query_row(
            // `messages_rejected` holds the rejected ones only.
            "SELECT COUNT(*) FROM messages
             WHERE outcome = 'rejected' AND received_at >= ?1 AND substr(reason, 1, length(?2)) = ?2",
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
}

impl WriteTx<'_> {
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
}

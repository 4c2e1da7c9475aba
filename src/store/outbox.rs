//! The outbox: mail queued with its recipients, claimed by a sender, and
//! each delivery's answer recorded in its own commit.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    Store, StoreError, StoreResult, WriteTx, join_addresses, parse_named, parse_time, split_addresses, time_text,
};
use crate::core::incident::{DeliveryStatus, IncidentNumber, MailKind, Route};

/// A claim to renew: one outbox row's recipients, for their claimer.
#[derive(Debug, Clone, Copy)]
pub struct Renewal<'a> {
    pub outbox: i64,
    pub recipients: &'a [String],
    pub claimer: u32,
    pub until: Timestamp,
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
    pub route: Route,
}

/// The outbox row reflects its deliveries: queued while any is, else
/// failed if any failed, else sent.
pub(super) fn summarise_outbox(connection: &Connection, outbox: i64) -> StoreResult<()> {
    connection
        .prepare_cached(
            "UPDATE outbox SET
                status = CASE
                    WHEN EXISTS (SELECT 1 FROM deliveries WHERE outbox = ?1 AND status IN ('queued', 'sending'))
                        THEN 'queued'
                    WHEN EXISTS (SELECT 1 FROM deliveries WHERE outbox = ?1 AND status IN ('failed', 'withheld'))
                        THEN 'failed'
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

impl Store {
    pub fn outbox(&self) -> StoreResult<Vec<OutboxRecord>> {
        let mut rows = Vec::new();
        self.each_outbox::<StoreError>(|row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Every outbox row in order, one at a time.
    pub fn each_outbox<E: From<StoreError>>(
        &self,
        mut visit: impl FnMut(OutboxRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, kind, incident, recipients_to, recipients_cc, subject, message_id, body, status,
                    attempts, next_attempt_at, last_error, created_at, sent_at
             FROM outbox ORDER BY id",
            )
            .map_err(StoreError::from)?;
        let rows = statement
            .query_map([], |row| {
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
            })
            .map_err(StoreError::from)?;
        for row in rows {
            let (id, kind, incident, to, cc, subject, message_id, body, status, attempts, next, error, created, sent) =
                row.map_err(StoreError::from)?;
            visit(OutboxRecord {
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
            })?;
        }
        Ok(())
    }

    /// The bytes of a queued or sent mail, as delivered.
    pub fn outbox_raw(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.connection.query_row("SELECT raw FROM outbox WHERE id = ?1", [id], |row| row.get(0)).optional()?)
    }

    /// How many automatic replies (transcripts, notices) were queued since
    /// `since`, for `sitrep status`.
    pub fn automatic_replies_since(&self, since: Timestamp) -> StoreResult<u32> {
        automatic_replies_since(&self.connection, since)
    }

    /// Takes the deliveries that are due, grouped by outbox row, oldest
    /// first, and marks them in flight for process `claimer` until `lease`
    /// from now, in one commit: another sender (a `sitrep ingest` beside the
    /// daemon) leaves them alone. A delivery still in flight when its lease
    /// ends was never answered (its sender died mid-pass) and is taken again:
    /// at most one duplicate. When its claimer `is_gone`, it is taken at once
    /// the first time; a delivery whose senders keep dying (a crash loop, or
    /// a mail that brings the sender down) waits out the lease each time, so
    /// it goes out at most once per lease. `claimer`'s own claims are taken
    /// again at once: they were handed back untried, or could not be.
    pub fn claim_due(
        &mut self,
        now: Timestamp,
        lease: SignedDuration,
        claimer: u32,
        is_gone: impl Fn(u32) -> bool,
    ) -> StoreResult<Vec<PendingMail>> {
        self.claim_due_on(Route::Primary, now, lease, claimer, is_gone)
    }

    /// As `claim_due`, for the deliveries that leave through `route`.
    pub fn claim_due_on(
        &mut self,
        route: Route,
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
                 WHERE (d.status = 'queued' AND d.next_attempt_at <= ?1
                    OR d.status = 'sending'
                       AND (d.next_attempt_at <= ?1 OR d.claimed_by = ?2 OR d.claimed_by IS NOT NULL AND d.claims = 1))
                   AND d.route = ?3
                   -- Nothing about an incident out of band leaves through the
                   -- primary relay, whenever it was queued.
                   AND (d.route = 'fallback' OR NOT EXISTS (
                       SELECT 1 FROM incidents i WHERE i.number = o.incident AND i.channel = 'out-of-band'))
                 ORDER BY d.outbox, d.recipient",
            )?;
            let mut rows = statement.query(params![time_text(now), claimer, route.as_str()])?;
            while let Some(row) = rows.next()? {
                let due: bool = row.get(5)?;
                let claimed_by: Option<u32> = row.get(6)?;
                // This process's own claims are stale here: a pass records
                // what it sent before it claims again, so they were never
                // tried (handing them back failed, on a full disk say).
                let own = claimed_by == Some(claimer);
                if !due && !own && !claimed_by.is_some_and(&is_gone) {
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
        let until = now + lease;
        for mail in &pending {
            for recipient in &mail.recipients {
                transaction
                    .prepare_cached(
                        "UPDATE deliveries SET status = 'sending', next_attempt_at = ?3,
                                claims = claims + (claimed_by IS NOT ?4), claimed_by = ?4
                         WHERE outbox = ?1 AND recipient = ?2",
                    )?
                    .execute(params![mail.id, recipient.address, time_text(until), claimer])?;
            }
        }
        transaction.commit()?;
        Ok(pending)
    }

    /// Returns `claimer`'s claimed deliveries that were not tried to the
    /// queue, due now; a claim another sender has taken meanwhile stays.
    pub fn release_claims(&mut self, deliveries: &[(i64, String)], claimer: u32, now: Timestamp) -> StoreResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (outbox, recipient) in deliveries {
            transaction
                .prepare_cached(
                    "UPDATE deliveries SET status = 'queued', next_attempt_at = ?3, claims = MAX(claims - 1, 0), claimed_by = NULL
                     WHERE outbox = ?1 AND recipient = ?2 AND status = 'sending' AND claimed_by = ?4",
                )?
                .execute(params![outbox, recipient, time_text(now), claimer])?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Records the answer to one delivery (or to one file written for several
    /// recipients) in its own commit, before the next is tried.
    pub fn record_attempts(&mut self, attempts: &[(i64, String, Attempt)], now: Timestamp) -> StoreResult<()> {
        self.record_and_renew(attempts, None, now).map(|_| ())
    }

    /// As `record_attempts`, and in the same commit renews the claim on the
    /// next delivery for `renew`'s claimer until its time: a pass that has
    /// outlived its lease may have lost claims to another sender. Returns
    /// the next delivery's recipients still claimed by it.
    pub fn record_and_renew(
        &mut self,
        attempts: &[(i64, String, Attempt)],
        renew: Option<Renewal<'_>>,
        now: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (outbox, recipient, attempt) in attempts {
            let (status, next, error, sent) = match attempt {
                Attempt::Sent => ("sent", None, None, Some(time_text(now))),
                Attempt::Retry { at, error } => ("queued", Some(time_text(*at)), Some(error.as_str()), None),
                Attempt::Failed { error } => ("failed", None, Some(error.as_str()), None),
            };
            transaction
                .prepare_cached(
                    "UPDATE deliveries SET status = ?3, attempts = attempts + 1, claims = 0, claimed_by = NULL,
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
        let mut still_ours = Vec::new();
        if let Some(renewal) = renew {
            for recipient in renewal.recipients {
                let renewed = transaction
                    .prepare_cached(
                        "UPDATE deliveries SET next_attempt_at = ?3
                         WHERE outbox = ?1 AND recipient = ?2 AND status = 'sending' AND claimed_by = ?4",
                    )?
                    .execute(params![renewal.outbox, recipient, time_text(renewal.until), renewal.claimer])?;
                if renewed == 1 {
                    still_ours.push(recipient.clone());
                }
            }
        }
        transaction.commit()?;
        Ok(still_ours)
    }

    /// Every delivery not yet sent, for `sitrep outbox`.
    pub fn unsent_deliveries(&self) -> StoreResult<Vec<DeliveryRecord>> {
        let mut statement = self.connection.prepare(
            "SELECT outbox, recipient, status, attempts, next_attempt_at, last_error FROM deliveries
             WHERE status NOT IN ('sent', 'rerouted', 'withheld') ORDER BY outbox, recipient",
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

impl WriteTx<'_> {
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
                    "INSERT OR IGNORE INTO deliveries (outbox, recipient, status, next_attempt_at, route)
                     VALUES (?1, ?2, 'queued', ?3, ?4)",
                )?
                .execute(params![outbox, recipient, time_text(now), mail.route.as_str()])?;
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

    /// How many automatic replies (transcripts, notices) were queued since `since`.
    pub fn automatic_replies_since(&self, since: Timestamp) -> StoreResult<u32> {
        automatic_replies_since(&self.transaction, since)
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

fn automatic_replies_since(connection: &Connection, since: Timestamp) -> StoreResult<u32> {
    Ok(connection
        // `outbox_replies` holds transcripts and notices only.
        .prepare_cached("SELECT COUNT(*) FROM outbox WHERE kind IN ('transcript', 'notice') AND created_at >= ?1")?
        .query_row([time_text(since)], |row| row.get(0))?)
}

//! Fallback delivery's memory: deliveries the primary relay has failed for
//! too long, moved to out-of-band addresses on the fallback relay, and
//! whether the admins were told.

use jiff::Timestamp;
use rusqlite::params;

use super::outbox::summarise_outbox;
use super::{Store, StoreResult, WriteTx, time_text};

impl Store {
    /// Whether mail about an incident out of band waits for the primary relay.
    pub fn out_of_band_waiting(&self) -> StoreResult<bool> {
        Ok(self
            .connection
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM deliveries d
                 JOIN outbox o ON o.id = d.outbox JOIN incidents i ON i.number = o.incident
                 WHERE d.status = 'queued' AND d.route = 'primary' AND i.channel = 'out-of-band')",
            )?
            .query_row([], |row| row.get(0))?)
    }

    /// Deliveries through the primary relay that failed and still wait,
    /// from mail queued before `before`, while the primary relay has sent
    /// nothing since then: `(outbox, recipient)`.
    pub fn stalled_deliveries(&self, before: Timestamp) -> StoreResult<Vec<(i64, String)>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT d.outbox, d.recipient FROM deliveries d JOIN outbox o ON o.id = d.outbox
             WHERE d.status = 'queued' AND d.route = 'primary' AND d.attempts > 0 AND o.created_at <= ?1
               AND NOT EXISTS (SELECT 1 FROM deliveries s
                               WHERE s.status = 'sent' AND s.route = 'primary' AND s.sent_at > ?1)
             ORDER BY d.outbox, d.recipient",
        )?;
        let rows = statement.query_map([time_text(before)], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl WriteTx<'_> {
    /// Sends `recipient`'s copy of `outbox` to `elsewhere` through the
    /// fallback relay instead, keeping why; false when it no longer waits
    /// (a sender took it meanwhile).
    pub fn reroute(
        &self,
        outbox: i64,
        recipient: &str,
        elsewhere: &str,
        reason: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        // An outsider keeps their address: only the relay changes.
        if recipient.eq_ignore_ascii_case(elsewhere) {
            let moved = self
                .transaction
                .prepare_cached(
                    "UPDATE deliveries SET route = 'fallback', next_attempt_at = ?3
                     WHERE outbox = ?1 AND recipient = ?2 AND status = 'queued'",
                )?
                .execute(params![outbox, recipient, time_text(now)])?;
            return Ok(moved > 0);
        }
        let moved = self
            .transaction
            .prepare_cached(
                "UPDATE deliveries SET status = 'rerouted', last_error = ?3
                 WHERE outbox = ?1 AND recipient = ?2 AND status = 'queued'",
            )?
            .execute(params![outbox, recipient, reason])?;
        if moved == 0 {
            return Ok(false);
        }
        self.transaction
            .prepare_cached(
                "INSERT OR IGNORE INTO deliveries (outbox, recipient, status, next_attempt_at, route)
                 VALUES (?1, ?2, 'queued', ?3, 'fallback')",
            )?
            .execute(params![outbox, elsewhere, time_text(now)])?;
        summarise_outbox(&self.transaction, outbox)?;
        Ok(true)
    }

    /// Deliveries of out-of-band incidents' mail still waiting for the
    /// primary relay (queued before the switch, or handed back by a sender
    /// that was sending when it came): `(outbox, recipient)`.
    pub fn out_of_band_on_primary(&self) -> StoreResult<Vec<(i64, String)>> {
        let mut statement = self.transaction.prepare_cached(
            "SELECT d.outbox, d.recipient FROM deliveries d
             JOIN outbox o ON o.id = d.outbox JOIN incidents i ON i.number = o.incident
             WHERE d.status = 'queued' AND d.route = 'primary' AND i.channel = 'out-of-band'
             ORDER BY d.outbox, d.recipient",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps `recipient`'s copy of `outbox` from ever being sent, and why.
    pub fn withhold(&self, outbox: i64, recipient: &str, reason: &str) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "UPDATE deliveries SET status = 'withheld', last_error = ?3
                 WHERE outbox = ?1 AND recipient = ?2 AND status = 'queued'",
            )?
            .execute(params![outbox, recipient, reason])?;
        summarise_outbox(&self.transaction, outbox)
    }

    /// Whether the admins were told of the primary relay's failure since it
    /// last delivered anything.
    pub fn told_relay_down(&self) -> StoreResult<bool> {
        Ok(self
            .transaction
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE kind = 'relay-down' AND created_at >
                 COALESCE((SELECT MAX(sent_at) FROM deliveries WHERE route = 'primary' AND status = 'sent'), ''))",
            )?
            .query_row([], |row| row.get(0))?)
    }
}

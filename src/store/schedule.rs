//! The schedule's memory: what scheduled mail went out for each incident,
//! and when each kind is next due. `core::schedule` decides; this keeps.

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::incidents::timeline_after;
use super::{Store, StoreResult, WriteTx, optional_time, parse_time, time_text};
use crate::core::incident::IncidentNumber;
use crate::core::schedule::{Activity, Slot, Slots};
use crate::core::timeline::TimelineEntry;

fn slots(connection: &Connection, incident: IncidentNumber) -> StoreResult<Slots> {
    let key = incident.0 as i64;
    let mut statement =
        connection.prepare_cached("SELECT job, last_at, count, requested_at, seq FROM schedule WHERE incident = ?1")?;
    let rows = statement.query_map([key], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, Option<String>>(1)?,
            row.get::<_, u32>(2)?,
            row.get::<_, Option<String>>(3)?,
            row.get::<_, i64>(4)?,
        ))
    })?;
    let mut slots = Slots::new();
    for row in rows {
        let (job, last_at, count, requested_at, seq) = row?;
        let slot = Slot {
            last_at: optional_time(key, last_at)?,
            count,
            requested_at: optional_time(key, requested_at)?,
            seq: seq as u64,
        };
        slots.insert(job, slot);
    }
    Ok(slots)
}

fn activity(connection: &Connection, incident: IncidentNumber) -> StoreResult<Activity> {
    let last: Option<String> = connection
        .prepare_cached(
            "SELECT MAX(at) FROM timeline WHERE incident = ?1 AND kind IN ('declared', 'update', 'command')
             AND trust IN ('staff', 'partner')",
        )?
        .query_row([incident.0 as i64], |row| row.get(0))?;
    let (asked, answered): (u32, u32) = connection
        .prepare_cached(
            "SELECT COUNT(DISTINCT q.address), COUNT(DISTINCT a.respondent) FROM questionnaires q
             LEFT JOIN answers a ON a.incident = q.incident AND a.respondent = q.address
             WHERE q.incident = ?1",
        )?
        .query_row([incident.0 as i64], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(Activity { last_update_at: optional_time(incident.0 as i64, last)?, asked, answered })
}

/// Everyone on staff who wrote to the incident.
fn authors(connection: &Connection, incident: IncidentNumber) -> StoreResult<Vec<String>> {
    let mut statement = connection.prepare_cached(
        "SELECT DISTINCT author FROM timeline WHERE incident = ?1 AND trust = 'staff' AND author != '' ORDER BY author",
    )?;
    let rows = statement.query_map([incident.0 as i64], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What a plan needs to know about one incident beyond its state.
#[derive(Debug, Clone, Default)]
pub struct ScheduleFacts {
    pub slots: Slots,
    pub activity: Activity,
}

fn facts(connection: &Connection, incident: IncidentNumber) -> StoreResult<ScheduleFacts> {
    Ok(ScheduleFacts { slots: slots(connection, incident)?, activity: activity(connection, incident)? })
}

impl Store {
    /// Incidents with scheduled work due at or before `now`.
    pub fn due_incidents(&self, now: Timestamp) -> StoreResult<Vec<IncidentNumber>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT DISTINCT incident FROM schedule WHERE due_at IS NOT NULL AND due_at <= ?1 ORDER BY incident",
        )?;
        let rows = statement.query_map([time_text(now)], |row| row.get::<_, i64>(0))?;
        rows.map(|row| Ok(IncidentNumber(row? as u64))).collect()
    }

    /// The earliest scheduled look at any incident, or at held digests.
    pub fn next_scheduled(&self) -> StoreResult<Option<Timestamp>> {
        let next: Option<String> = self.connection.query_row(
            "SELECT MIN(at) FROM (SELECT MIN(due_at) AS at FROM schedule
                                  UNION ALL SELECT MIN(release_at) FROM held_digests)",
            [],
            |row| row.get(0),
        )?;
        next.map(|text| parse_time(0, &text)).transpose()
    }

    /// Recipients whose held digests may go out at `now`.
    pub fn released_digests(&self, now: Timestamp) -> StoreResult<Vec<String>> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT DISTINCT recipient FROM held_digests WHERE release_at <= ?1 ORDER BY recipient")?;
        let rows = statement.query_map([time_text(now)], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Digests held back by the cap: (recipients, incidents held for them).
    pub fn held_digests(&self) -> StoreResult<(u32, u32)> {
        Ok(self.connection.query_row("SELECT COUNT(DISTINCT recipient), COUNT(*) FROM held_digests", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?)
    }

    /// Moves a recipient's held digests to `until`, after sending them failed.
    pub fn postpone_held(&mut self, recipient: &str, until: Timestamp) -> StoreResult<()> {
        self.connection.execute(
            "UPDATE held_digests SET release_at = ?2 WHERE recipient = ?1",
            params![recipient, time_text(until)],
        )?;
        Ok(())
    }

    pub fn schedule_facts(&self, incident: IncidentNumber) -> StoreResult<ScheduleFacts> {
        facts(&self.connection, incident)
    }

    /// Moves an incident's due work to `until`, after it failed.
    pub fn postpone(&mut self, incident: IncidentNumber, until: Timestamp) -> StoreResult<()> {
        self.connection.execute(
            "UPDATE schedule SET due_at = ?2 WHERE incident = ?1 AND due_at < ?2",
            params![incident.0 as i64, time_text(until)],
        )?;
        Ok(())
    }

    pub fn timeline_after(&self, incident: IncidentNumber, seq: u64) -> StoreResult<Vec<TimelineEntry>> {
        timeline_after(&self.connection, incident, seq)
    }
}

impl WriteTx<'_> {
    pub fn schedule_facts(&self, incident: IncidentNumber) -> StoreResult<ScheduleFacts> {
        facts(&self.transaction, incident)
    }

    pub fn timeline_after(&self, incident: IncidentNumber, seq: u64) -> StoreResult<Vec<TimelineEntry>> {
        timeline_after(&self.transaction, incident, seq)
    }

    /// The retrospective's progress and the latest activity, after mail went out.
    pub fn activity(&self, incident: IncidentNumber) -> StoreResult<Activity> {
        activity(&self.transaction, incident)
    }

    /// Staff who posted to the incident: responders and participants.
    pub fn authors(&self, incident: IncidentNumber) -> StoreResult<Vec<String>> {
        authors(&self.transaction, incident)
    }

    /// `digest now` or `retro send`: the job is due at `at`, whatever else.
    pub fn request(&self, incident: IncidentNumber, job: &str, at: Timestamp) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "INSERT INTO schedule (incident, job, requested_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (incident, job) DO UPDATE SET requested_at = ?3",
            )?
            .execute(params![incident.0 as i64, job, time_text(at)])?;
        Ok(())
    }

    /// The last timeline entry's sequence number.
    pub fn last_seq(&self, incident: IncidentNumber) -> StoreResult<u64> {
        let seq: Option<i64> = self
            .transaction
            .prepare_cached("SELECT MAX(seq) FROM timeline WHERE incident = ?1")?
            .query_row([incident.0 as i64], |row| row.get(0))?;
        Ok(seq.unwrap_or(0) as u64)
    }

    pub fn save_slot(&self, incident: IncidentNumber, job: &str, slot: &Slot) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "INSERT INTO schedule (incident, job, last_at, count, requested_at, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (incident, job) DO UPDATE
                 SET last_at = ?3, count = ?4, requested_at = ?5, seq = ?6",
            )?
            .execute(params![
                incident.0 as i64,
                job,
                slot.last_at.map(time_text),
                slot.count,
                slot.requested_at.map(time_text),
                slot.seq as i64,
            ])?;
        Ok(())
    }

    /// When the last executive digest (alone or combined) went to `recipient`.
    pub fn last_digest_to(&self, recipient: &str) -> StoreResult<Option<Timestamp>> {
        let last: Option<String> = self
            .transaction
            .prepare_cached("SELECT MAX(created_at) FROM outbox WHERE recipients_to = ?1 AND kind = 'digest'")?
            .query_row([recipient], |row| row.get(0))?;
        last.map(|text| parse_time(0, &text)).transpose()
    }

    /// When the digests held for `recipient` go out, if any are held.
    pub fn held_release(&self, recipient: &str) -> StoreResult<Option<Timestamp>> {
        let release: Option<String> = self
            .transaction
            .prepare_cached("SELECT MIN(release_at) FROM held_digests WHERE recipient = ?1")?
            .query_row([recipient], |row| row.get(0))?;
        release.map(|text| parse_time(0, &text)).transpose()
    }

    /// Holds an incident's digest for `recipient` until `release_at`. A
    /// digest already held keeps its `since_seq`: the recipient has not
    /// seen anything since.
    pub fn hold_digest(
        &self,
        recipient: &str,
        incident: IncidentNumber,
        since_seq: u64,
        release_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "INSERT INTO held_digests (recipient, incident, since_seq, release_at, held_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (recipient, incident) DO NOTHING",
            )?
            .execute(params![recipient, incident.0 as i64, since_seq as i64, time_text(release_at), time_text(now)])?;
        Ok(())
    }

    /// Removes and returns the digests held for `recipient`: each incident
    /// and the last timeline entry the recipient saw of it.
    pub fn take_held(&self, recipient: &str) -> StoreResult<Vec<(IncidentNumber, u64)>> {
        let held = {
            let mut statement = self.transaction.prepare_cached(
                "SELECT incident, since_seq FROM held_digests WHERE recipient = ?1 ORDER BY incident",
            )?;
            let rows = statement.query_map([recipient], |row| {
                Ok((IncidentNumber(row.get::<_, i64>(0)? as u64), row.get::<_, i64>(1)? as u64))
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        self.transaction.prepare_cached("DELETE FROM held_digests WHERE recipient = ?1")?.execute([recipient])?;
        Ok(held)
    }

    /// Records when each kind of job is next due; kinds not listed are not.
    pub fn set_due(&self, incident: IncidentNumber, upcoming: &[(String, Timestamp)]) -> StoreResult<()> {
        let key = incident.0 as i64;
        self.transaction.prepare_cached("UPDATE schedule SET due_at = NULL WHERE incident = ?1")?.execute([key])?;
        for (job, at) in upcoming {
            self.transaction
                .prepare_cached(
                    "INSERT INTO schedule (incident, job, due_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (incident, job) DO UPDATE SET due_at = MIN(COALESCE(due_at, ?3), ?3)",
                )?
                .execute(params![key, job, time_text(*at)])?;
        }
        Ok(())
    }
}

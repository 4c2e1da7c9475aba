//! Pre-drafted communications: each draft, its versions with their
//! decisions, and the mails that carried a version to someone, so that a
//! reply to one is read as an edit.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreResult, WriteTx, optional_time, parse_named, parse_time, time_text};
use crate::core::incident::{Decision, Draft, DraftKind, DraftStatus, DraftVersion, Framing, IncidentNumber};

/// An incident's drafts with every version, `D1` first.
pub(super) fn load(connection: &Connection, key: i64) -> StoreResult<Vec<Draft>> {
    let mut statement =
        connection.prepare_cached("SELECT number, kind, framing FROM drafts WHERE incident = ?1 ORDER BY number")?;
    let rows = statement
        .query_map([key], |row| Ok((row.get::<_, u32>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?)))?;
    let mut drafts = Vec::new();
    for row in rows {
        let (number, kind, framing) = row?;
        drafts.push(Draft {
            number,
            kind: parse_named::<DraftKind>(key, &kind)?,
            framing: parse_named::<Framing>(key, &framing)?,
            versions: versions(connection, key, number)?,
        });
    }
    Ok(drafts)
}

fn versions(connection: &Connection, key: i64, number: u32) -> StoreResult<Vec<DraftVersion>> {
    let mut statement = connection.prepare_cached(
        "SELECT version, body, author, at, decision, decided_by, decided_at, reason FROM draft_versions
         WHERE incident = ?1 AND number = ?2 ORDER BY version",
    )?;
    let rows = statement.query_map(params![key, number], |row| {
        Ok((
            (row.get::<_, u32>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, String>(3)?),
            (
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, Option<String>>(7)?,
            ),
        ))
    })?;
    rows.map(|row| {
        let ((version, body, by, at), (status, decided_by, decided_at, reason)) = row?;
        let decision = match (status, decided_by, optional_time(key, decided_at)?) {
            (Some(status), Some(by), Some(at)) => {
                Some(Decision { status: parse_named::<DraftStatus>(key, &status)?, by, at, reason })
            }
            _ => None,
        };
        Ok(DraftVersion { version, body, by, at: parse_time(key, &at)?, decision })
    })
    .collect()
}

impl WriteTx<'_> {
    /// Writes the incident's drafts as they now stand. Drafts and versions
    /// are never removed, so each row is written over, not deleted first.
    pub(super) fn write_drafts(&self, key: i64, drafts: &[Draft]) -> StoreResult<()> {
        for draft in drafts {
            self.transaction
                .prepare_cached(
                    "INSERT OR IGNORE INTO drafts (incident, number, kind, framing) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![key, draft.number, draft.kind.as_str(), draft.framing.as_str()])?;
            for version in &draft.versions {
                let decision = version.decision.as_ref();
                self.transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO draft_versions
                             (incident, number, version, body, author, at, decision, decided_by, decided_at, reason)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?
                    .execute(params![
                        key,
                        draft.number,
                        version.version,
                        version.body,
                        version.by,
                        time_text(version.at),
                        decision.map(|decision| decision.status.as_str()),
                        decision.map(|decision| decision.by.as_str()),
                        decision.map(|decision| time_text(decision.at)),
                        decision.and_then(|decision| decision.reason.as_deref()),
                    ])?;
            }
        }
        Ok(())
    }

    /// Remembers that the mail `message_id` carried draft `number`.
    pub fn record_draft_mail(&self, message_id: &str, incident: IncidentNumber, number: u32) -> StoreResult<()> {
        self.transaction
            .prepare_cached("INSERT OR REPLACE INTO draft_mails (message_id, incident, number) VALUES (?1, ?2, ?3)")?
            .execute(params![message_id, incident.0 as i64, number])?;
        Ok(())
    }

    /// The draft of `incident` that one of `ids` carried, if any.
    pub fn draft_replied_to(&self, incident: IncidentNumber, ids: &[String]) -> StoreResult<Option<u32>> {
        let mut statement = self
            .transaction
            .prepare_cached("SELECT number FROM draft_mails WHERE message_id = ?1 AND incident = ?2")?;
        for id in ids {
            if let Some(number) = statement.query_row(params![id, incident.0 as i64], |row| row.get(0)).optional()? {
                return Ok(Some(number));
            }
        }
        Ok(None)
    }
}

//! The retrospective's records: who was sent the questionnaire, the answers
//! they gave, and the evidence the report lists.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreResult, WriteTx, parse_time, time_text};
use crate::core::incident::IncidentNumber;
use crate::core::report::{Evidence, StoredAnswer};

fn asked(connection: &Connection, incident: IncidentNumber) -> StoreResult<Vec<String>> {
    let mut statement =
        connection.prepare_cached("SELECT address FROM questionnaires WHERE incident = ?1 ORDER BY address")?;
    let rows = statement.query_map([incident.0 as i64], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn answers(connection: &Connection, incident: IncidentNumber) -> StoreResult<Vec<StoredAnswer>> {
    let key = incident.0 as i64;
    let mut statement = connection.prepare_cached(
        "SELECT respondent, question, text, answered_at FROM answers WHERE incident = ?1
         ORDER BY answered_at, respondent, question",
    )?;
    let rows = statement.query_map([key], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, String>(3)?))
    })?;
    rows.map(|row| {
        let (respondent, question, text, at) = row?;
        Ok(StoredAnswer { respondent, question, text, answered_at: parse_time(key, &at)? })
    })
    .collect()
}

fn evidence(connection: &Connection, incident: IncidentNumber) -> StoreResult<Vec<Evidence>> {
    let key = incident.0 as i64;
    let mut statement = connection.prepare_cached(
        "SELECT a.name, a.content_type, a.size, a.sha256, m.from_addr, m.received_at
         FROM attachments a JOIN messages m ON m.id = a.message WHERE m.incident = ?1 ORDER BY a.id",
    )?;
    let rows = statement.query_map([key], |row| {
        Ok((
            row.get::<_, Option<String>>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, Option<String>>(4)?,
            row.get::<_, String>(5)?,
        ))
    })?;
    rows.map(|row| {
        let (name, content_type, size, sha256, from, received_at) = row?;
        Ok(Evidence {
            name,
            content_type,
            size: size as u64,
            sha256,
            from,
            received_at: parse_time(key, &received_at)?,
        })
    })
    .collect()
}

/// What the report needs beyond the incident and its timeline.
#[derive(Debug, Clone, Default)]
pub struct RetroRecords {
    pub asked: Vec<String>,
    pub answers: Vec<StoredAnswer>,
    pub evidence: Vec<Evidence>,
}

fn records(connection: &Connection, incident: IncidentNumber) -> StoreResult<RetroRecords> {
    Ok(RetroRecords {
        asked: asked(connection, incident)?,
        answers: answers(connection, incident)?,
        evidence: evidence(connection, incident)?,
    })
}

impl Store {
    pub fn retro_records(&self, incident: IncidentNumber) -> StoreResult<RetroRecords> {
        records(&self.connection, incident)
    }

    /// Who was asked and what they answered, without the evidence (which
    /// reads every attachment): what the export shows.
    pub fn retro_responses(&self, incident: IncidentNumber) -> StoreResult<(Vec<String>, Vec<StoredAnswer>)> {
        Ok((asked(&self.connection, incident)?, answers(&self.connection, incident)?))
    }
}

impl WriteTx<'_> {
    pub fn retro_records(&self, incident: IncidentNumber) -> StoreResult<RetroRecords> {
        records(&self.transaction, incident)
    }

    /// Records that `address` was sent the questionnaire as `message_id`;
    /// false when they already had it.
    pub fn record_questionnaire(
        &self,
        incident: IncidentNumber,
        address: &str,
        message_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let inserted = self
            .transaction
            .prepare_cached(
                "INSERT OR IGNORE INTO questionnaires (incident, address, message_id, sent_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![incident.0 as i64, address, message_id, time_text(now)])?;
        Ok(inserted == 1)
    }

    /// The incident of the first questionnaire among `message_ids`.
    pub fn questionnaire_among(&self, message_ids: &[String]) -> StoreResult<Option<IncidentNumber>> {
        for id in message_ids {
            let found = self
                .transaction
                .prepare_cached("SELECT incident FROM questionnaires WHERE message_id = ?1")?
                .query_row([id], |row| row.get::<_, i64>(0))
                .optional()?;
            if let Some(incident) = found {
                return Ok(Some(IncidentNumber(incident as u64)));
            }
        }
        Ok(None)
    }

    /// The Message-ID of the questionnaire sent to `address`.
    pub fn questionnaire_id(&self, incident: IncidentNumber, address: &str) -> StoreResult<Option<String>> {
        Ok(self
            .transaction
            .prepare_cached("SELECT message_id FROM questionnaires WHERE incident = ?1 AND address = ?2")?
            .query_row(params![incident.0 as i64, address], |row| row.get(0))
            .optional()?)
    }

    /// One respondent's stored answers: question id and text.
    pub fn answers_of(&self, incident: IncidentNumber, respondent: &str) -> StoreResult<Vec<(String, String)>> {
        let mut statement = self
            .transaction
            .prepare_cached("SELECT question, text FROM answers WHERE incident = ?1 AND respondent = ?2")?;
        let rows = statement.query_map(params![incident.0 as i64, respondent], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores an answer in place of the respondent's earlier one to the same question.
    pub fn save_answer(
        &self,
        incident: IncidentNumber,
        answer: &StoredAnswer,
        message_id: Option<&str>,
    ) -> StoreResult<()> {
        self.transaction
            .prepare_cached(
                "INSERT INTO answers (incident, respondent, question, text, message_id, answered_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (incident, respondent, question) DO UPDATE SET text = ?4, message_id = ?5, answered_at = ?6",
            )?
            .execute(params![
                incident.0 as i64,
                answer.respondent,
                answer.question,
                answer.text,
                message_id,
                time_text(answer.answered_at)
            ])?;
        Ok(())
    }
}

//! The incidents as `sitrep list` shows them: one row each, from one query,
//! however large the store.

use super::{Store, StoreResult, parse_named};
use crate::core::incident::{IncidentNumber, Phase, Severity, Status};

/// An incident as `sitrep list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentLine {
    pub number: IncidentNumber,
    pub status: Status,
    pub severity: Option<Severity>,
    pub phase: Phase,
    pub lead: Option<String>,
    pub title: String,
}

impl Store {
    /// One line per incident, from one query: what `sitrep list` shows.
    pub fn incident_lines(&self) -> StoreResult<Vec<IncidentLine>> {
        let mut statement = self
            .connection
            .prepare("SELECT number, status, severity, phase, lead, title FROM incidents ORDER BY number")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, String>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (number, status, severity, phase, lead, title) = row?;
            Ok(IncidentLine {
                number: IncidentNumber(number as u64),
                status: parse_named(number, &status)?,
                severity: severity.map(|text| parse_named(number, &text)).transpose()?,
                phase: parse_named(number, &phase)?,
                lead,
                title,
            })
        })
        .collect()
    }
}

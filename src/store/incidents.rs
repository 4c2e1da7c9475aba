//! Incidents and their timelines: loading, saving, numbering, and the
//! threading lookups that find an incident for a message.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreResult, WriteTx, optional_time, parse_named, parse_time, time_text};
use crate::core::incident::{
    CadenceOverride, Channel, Deadline, DeadlineState, Duty, EntryKind, Incident, IncidentNumber, IncidentType,
    Milestones, Phase, Role, Severity, Stamp, Status, Stream, StreamState, Task, TaskState, Trust,
};
use crate::core::timeline::TimelineEntry;

/// Timeline entries after sequence number `after`, oldest first.
pub(super) fn timeline_after(
    connection: &Connection,
    number: IncidentNumber,
    after: u64,
) -> StoreResult<Vec<TimelineEntry>> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, at, author, kind, text, message_id, trust, outcome FROM timeline
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
            row.get::<_, Option<String>>(7)?,
        ))
    })?;
    rows.map(|row| {
        let (seq, at, author, kind, text, message_id, trust, outcome) = row?;
        Ok(TimelineEntry {
            at: parse_time(seq, &at)?,
            author,
            kind: parse_named::<EntryKind>(seq, &kind)?,
            text,
            message_id,
            trust: parse_named::<Trust>(seq, &trust)?,
            // One this version cannot read (written by a newer one) leaves
            // the line as written, which every reader can show.
            outcome: outcome.and_then(|json| serde_json::from_str(&json).ok()),
        })
    })
    .collect()
}

const INCIDENT_SELECT: &str = "SELECT number, title, status, severity, phase, lead, scope, impact, declared_by,
        declared_at, started_at, detected_at, contained_at, eradicated_at, recovered_at, closed_at, thread_root,
        aware_at, cadence_minutes, resolution, phase_at_close, type,
        scope_set_at, scope_set_by, lead_set_at, lead_set_by, channel
        FROM incidents";

/// The incident row and everything hanging off it.
pub(super) fn incident(connection: &Connection, number: IncidentNumber) -> StoreResult<Option<Incident>> {
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
                    row.get::<_, Option<String>>(21)?,
                ),
                (
                    (row.get::<_, Option<String>>(22)?, row.get::<_, Option<String>>(23)?),
                    (row.get::<_, Option<String>>(24)?, row.get::<_, Option<String>>(25)?),
                    row.get::<_, String>(26)?,
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
        (aware, cadence_minutes, resolution, phase_at_close, kind),
        (scope_set, lead_set, channel),
    )) = row
    else {
        return Ok(None);
    };
    let [started, detected, contained, eradicated, recovered, closed] = times;
    let stamp = |(at, by): (Option<String>, Option<String>)| -> StoreResult<Option<Stamp>> {
        Ok(match (optional_time(key, at)?, by) {
            (Some(at), Some(by)) => Some(Stamp { at, by }),
            _ => None,
        })
    };
    let mut incident = Incident {
        number,
        title,
        kind: kind.map(|text| parse_named::<IncidentType>(key, &text)).transpose()?,
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
        drafts: Vec::new(),
        scope_set: stamp(scope_set)?,
        lead_set: stamp(lead_set)?,
        channel: parse_named::<Channel>(key, &channel)?,
    };
    load_children(connection, key, &mut incident)?;
    incident.drafts = super::drafts::load(connection, key)?;
    Ok(Some(incident))
}

/// An incident's child rows: roles, streams, tasks, extra digest
/// recipients and notification deadlines.
fn load_children(connection: &Connection, key: i64, incident: &mut Incident) -> StoreResult<()> {
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
        "SELECT number, text, owner, due_at, state, created_at, closed_at, playbook, duty FROM tasks
         WHERE incident = ?1 ORDER BY number",
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
            row.get::<_, Option<String>>(7)?,
            row.get::<_, Option<String>>(8)?,
        ))
    })? {
        let (task_number, text, owner, due, state, created, closed, playbook, duty) = row?;
        let playbook = match (playbook, duty) {
            (Some(playbook), Some(duty)) => {
                Some((parse_named::<IncidentType>(key, &playbook)?, parse_named::<Duty>(key, &duty)?))
            }
            _ => None,
        };
        incident.tasks.push(Task {
            number: task_number,
            text,
            owner,
            due: optional_time(key, due)?,
            state: parse_named::<TaskState>(key, &state)?,
            created_at: parse_time(key, &created)?,
            closed_at: optional_time(key, closed)?,
            playbook,
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
    Ok(())
}

impl Store {
    pub fn incidents(&self) -> StoreResult<Vec<Incident>> {
        let mut incidents = Vec::new();
        for number in self.incident_numbers()? {
            incidents.extend(incident(&self.connection, number)?);
        }
        Ok(incidents)
    }

    pub fn incident_numbers(&self) -> StoreResult<Vec<IncidentNumber>> {
        let mut statement = self.connection.prepare("SELECT number FROM incidents ORDER BY number")?;
        let numbers = statement.query_map([], |row| row.get::<_, i64>(0))?;
        Ok(numbers.map(|number| number.map(|number| IncidentNumber(number as u64))).collect::<Result<_, _>>()?)
    }

    pub fn incident(&self, number: IncidentNumber) -> StoreResult<Option<Incident>> {
        incident(&self.connection, number)
    }

    pub fn timeline(&self, number: IncidentNumber) -> StoreResult<Vec<TimelineEntry>> {
        timeline_after(&self.connection, number, 0)
    }
}

impl WriteTx<'_> {
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

    /// Where the incident's mail goes; `None` when there is no such incident.
    pub fn incident_channel(&self, number: IncidentNumber) -> StoreResult<Option<Channel>> {
        let channel = self
            .transaction
            .prepare_cached("SELECT channel FROM incidents WHERE number = ?1")?
            .query_row([number.0 as i64], |row| row.get::<_, String>(0))
            .optional()?;
        channel.map(|text| parse_named::<Channel>(number.0 as i64, &text)).transpose()
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

    /// `out_of_band`: incidents out of band count too; company mail must not
    /// learn of them by its title.
    pub fn open_incidents_titled(&self, title_key: &str, out_of_band: bool) -> StoreResult<Vec<IncidentNumber>> {
        let mut statement = self.transaction.prepare_cached(
            "SELECT number FROM incidents WHERE title_key = ?1 AND status != 'closed'
                 AND (?2 OR channel = 'normal') ORDER BY number",
        )?;
        let rows = statement.query_map(rusqlite::params![title_key, out_of_band], |row| row.get::<_, i64>(0))?;
        Ok(rows.map(|row| row.map(|n| IncidentNumber(n as u64))).collect::<Result<_, _>>()?)
    }

    pub fn next_incident_number(&self) -> StoreResult<IncidentNumber> {
        let highest: i64 =
            self.transaction.query_row("SELECT COALESCE(MAX(number), 0) FROM incidents", [], |row| row.get(0))?;
        Ok(IncidentNumber(highest as u64 + 1))
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
        self.save_incident_since(incident, None)
    }

    /// Writes the incident's row, and of its child rows only the tables that
    /// differ from `before` (as it was loaded): a mail that raises the
    /// severity does not rewrite twenty playbook tasks.
    pub fn save_incident_since(&self, incident: &Incident, before: Option<&Incident>) -> StoreResult<()> {
        let number = incident.number.0 as i64;
        let milestones = &incident.milestones;
        self.transaction
            .prepare_cached(
                "UPDATE incidents SET title = ?2, title_key = ?3, status = ?4, severity = ?5, phase = ?6, lead = ?7,
                        scope = ?8, impact = ?9, started_at = ?10, detected_at = ?11, contained_at = ?12,
                        eradicated_at = ?13, recovered_at = ?14, closed_at = ?15, aware_at = ?16, cadence_minutes = ?17,
                        resolution = ?18, phase_at_close = ?19, type = ?20, scope_set_at = ?21,
                        scope_set_by = ?22, lead_set_at = ?23, lead_set_by = ?24, channel = ?25
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
                incident.kind.map(IncidentType::as_str),
                incident.scope_set.as_ref().map(|stamp| time_text(stamp.at)),
                incident.scope_set.as_ref().map(|stamp| stamp.by.as_str()),
                incident.lead_set.as_ref().map(|stamp| time_text(stamp.at)),
                incident.lead_set.as_ref().map(|stamp| stamp.by.as_str()),
                incident.channel.as_str(),
            ])?;
        self.replace_children(number, incident, before)?;
        match before {
            Some(before) if before.drafts == incident.drafts => Ok(()),
            _ => self.write_drafts(number, &incident.drafts),
        }
    }

    /// An incident's child rows, replaced as a whole: roles, streams, tasks,
    /// extra digest recipients, notification deadlines.
    fn replace_children(&self, number: i64, incident: &Incident, before: Option<&Incident>) -> StoreResult<()> {
        let changed = |same: fn(&Incident, &Incident) -> bool| before.is_none_or(|before| !same(before, incident));
        let tables: [(&str, bool); 5] = [
            ("roles", changed(|a, b| a.roles == b.roles)),
            ("streams", changed(|a, b| a.streams == b.streams)),
            ("tasks", changed(|a, b| a.tasks == b.tasks)),
            ("notify", changed(|a, b| a.notify == b.notify)),
            ("deadlines", changed(|a, b| a.deadlines == b.deadlines)),
        ];
        for (table, _) in tables.iter().filter(|(_, changed)| *changed) {
            self.transaction.prepare_cached(&format!("DELETE FROM {table} WHERE incident = ?1"))?.execute([number])?;
        }
        let [roles, streams, tasks, notify, deadlines] = tables.map(|(_, changed)| changed);
        for (role, holder) in incident.roles.iter().filter(|_| roles) {
            self.transaction
                .prepare_cached("INSERT INTO roles (incident, role, holder) VALUES (?1, ?2, ?3)")?
                .execute(params![number, role.as_str(), holder])?;
        }
        for (stream, state) in incident.streams.iter().filter(|_| streams) {
            self.transaction
                .prepare_cached(
                    "INSERT INTO streams (incident, stream, lead, status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![number, stream.as_str(), state.lead, state.status, state.updated_at.map(time_text)])?;
        }
        for task in incident.tasks.iter().filter(|_| tasks) {
            self.transaction
                .prepare_cached(
                    "INSERT INTO tasks (incident, number, text, owner, due_at, state, created_at, closed_at, playbook, duty)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                    task.playbook.map(|(kind, _)| kind.as_str()),
                    task.playbook.map(|(_, duty)| duty.as_str()),
                ])?;
        }
        for address in incident.notify.iter().filter(|_| notify) {
            self.transaction
                .prepare_cached("INSERT INTO notify (incident, address) VALUES (?1, ?2)")?
                .execute(params![number, address])?;
        }
        for deadline in incident.deadlines.iter().filter(|_| deadlines) {
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
                "INSERT INTO timeline (incident, seq, at, author, kind, text, message_id, trust, outcome)
                 SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 FROM timeline WHERE incident = ?1",
            )?
            .execute(params![
                incident.0 as i64,
                time_text(entry.at),
                entry.author,
                entry.kind.as_str(),
                entry.text,
                entry.message_id,
                entry.trust.as_str(),
                entry.outcome.as_ref().map(serde_json::to_string).transpose()?,
            ])?;
        Ok(())
    }
}

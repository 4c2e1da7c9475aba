//! What a digest says, as data: the headline, what changed since the last
//! one, what is needed, where each work stream and clock stands. Rendering
//! to text and HTML is `render`'s job.

use jiff::{SignedDuration, Timestamp};

use super::deadline::{self, Regime, describe_duration};
use super::incident::{
    Deadline, DeadlineState, DraftKind, DraftStatus, EntryKind, Framing, Incident, Phase, Severity, Stamp, Status,
    Stream, StreamState, TaskState, Trust,
};
use super::outcome::Done;
use super::schedule::Reminder;
use super::timeline::TimelineEntry;

/// Who a digest is for: executives get the picture, responders also the
/// work in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Executive,
    Tactical,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Counts the executive digests of the incident: "Status 3".
    pub number: u32,
    pub audience: Audience,
    /// The last one: the incident is closed.
    pub closing: bool,
    pub headline: String,
    /// Newest first.
    pub changes: Vec<Change>,
    /// The foundation questions still open, and work nobody owns.
    pub needs: Vec<String>,
    pub streams: Vec<(Stream, StreamState)>,
    pub clocks: Vec<Clock>,
    /// Time to detect, contain, recover and in total, as far as known.
    pub durations: Vec<(&'static str, SignedDuration)>,
    /// The open tasks past their due time.
    pub overdue: Vec<u32>,
    /// Drafts waiting for approval: number, kind, framing, latest version.
    pub waiting_drafts: Vec<(u32, DraftKind, Framing, u32)>,
    /// A mail since the last digest changed the scope.
    pub scope_changed: bool,
    /// For responders: scope, lead and cadence asked again as they stand.
    pub reask: Option<Reask>,
    pub next_at: Option<Timestamp>,
}

/// What one mail brought: its text and the commands it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub at: Timestamp,
    pub author: String,
    pub text: String,
    pub commands: Vec<CommandLine>,
}

/// A command in a digest: what it did, worded by the outcome template, or
/// the line as typed (for responders, and for entries stored without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Did(Done),
    Typed(String),
}

/// The three questions a response keeps asking (scope, who leads, how
/// often the executives hear), with what the incident says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reask {
    pub scope: Option<String>,
    pub scope_set: Option<Stamp>,
    pub lead: Option<String>,
    pub lead_set: Option<Stamp>,
    /// How often the executives hear; `None` when scheduled digests are off.
    pub cadence: Option<SignedDuration>,
    /// The cadence follows the severity rather than a `cadence` command.
    pub by_severity: bool,
    pub now: Timestamp,
}

/// A notification duty and where its clock stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub regime: String,
    pub title: String,
    pub what: String,
    pub due: Option<Timestamp>,
    pub left: Option<SignedDuration>,
    pub overdue: bool,
    pub state: DeadlineState,
    pub closed_at: Option<Timestamp>,
    pub note: Option<String>,
}

pub struct Inputs<'a> {
    pub incident: &'a Incident,
    /// Timeline entries since the last digest, oldest first.
    pub since_last: &'a [TimelineEntry],
    pub number: u32,
    pub audience: Audience,
    pub default_streams: &'a [Stream],
    pub regimes: &'a [Regime],
    pub next_at: Option<Timestamp>,
    /// How often the executives hear about this incident now.
    pub cadence: Option<SignedDuration>,
    pub now: Timestamp,
}

pub fn build(inputs: &Inputs<'_>) -> Digest {
    let incident = inputs.incident;
    let closing = incident.status == Status::Closed;
    let mut streams: Vec<(Stream, StreamState)> =
        inputs.default_streams.iter().map(|stream| (*stream, StreamState::default())).collect();
    for (stream, state) in &incident.streams {
        match streams.iter_mut().find(|(listed, _)| listed == stream) {
            Some((_, listed)) => *listed = state.clone(),
            None => streams.push((*stream, state.clone())),
        }
    }
    Digest {
        number: inputs.number,
        audience: inputs.audience,
        closing,
        headline: headline(incident),
        changes: changes(inputs.since_last, inputs.audience),
        needs: needs(incident, inputs.audience),
        streams,
        clocks: clocks(incident, inputs.regimes, inputs.now),
        durations: durations(incident, inputs.now),
        overdue: incident
            .tasks
            .iter()
            .filter(|task| task.state == TaskState::Open && task.due.is_some_and(|due| due < inputs.now))
            .map(|task| task.number)
            .collect(),
        // The first digest has nothing earlier to have changed from.
        scope_changed: inputs.number > 1
            && inputs.since_last.iter().any(|entry| matches!(entry.outcome, Some(Done::ScopeSet { .. }))),
        reask: (inputs.audience == Audience::Tactical && !closing).then(|| Reask {
            scope: incident.scope.clone(),
            scope_set: incident.scope_set.clone(),
            lead: incident.lead.clone(),
            lead_set: incident.lead_set.clone(),
            cadence: inputs.cadence,
            by_severity: incident.cadence.is_none(),
            now: inputs.now,
        }),
        waiting_drafts: incident
            .drafts
            .iter()
            .filter(|draft| draft.status() == DraftStatus::Waiting && !draft.versions.is_empty())
            .map(|draft| (draft.number, draft.kind, draft.framing, draft.versions.len() as u32))
            .collect(),
        next_at: if closing { None } else { inputs.next_at },
    }
}

/// `[INC-4] Status 3: critical · containment · Ransomware on the file server`
pub fn subject(incident: &Incident, number: u32, audience: Audience) -> String {
    let severity = incident.severity.map_or("unassessed", Severity::as_str);
    let kind = match audience {
        Audience::Executive => "Status",
        Audience::Tactical => "Responders",
    };
    let state = if incident.status == Status::Closed { "closed" } else { incident.phase.as_str() };
    format!("[{}] {kind} {number}: {severity} · {state} · {}", incident.number, incident.title)
}

/// When an executive may get the next digest: never two within an hour
/// divided by `per_hour`, so a storm of incidents reaches them as one
/// combined digest rather than a mail each. `None`: now; 0 is no cap.
pub fn paced_until(last_sent: Option<Timestamp>, per_hour: u32, now: Timestamp) -> Option<Timestamp> {
    let gap = SignedDuration::from_hours(1).checked_div(i32::try_from(per_hour).ok()?)?;
    let release = last_sent?.saturating_add(gap).unwrap_or(Timestamp::MAX);
    (release > now).then_some(release)
}

/// `Status of 12 incidents: 1 critical, 11 unassessed`
pub fn combined_subject(incidents: &[&Incident]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    let mut sorted: Vec<&&Incident> = incidents.iter().collect();
    // Most severe first; unassessed last.
    sorted.sort_by_key(|incident| incident.severity.map_or(u8::MAX, |severity| severity as u8));
    for incident in sorted {
        let severity = incident.severity.map_or("unassessed", Severity::as_str);
        match counts.last_mut() {
            Some((last, count)) if *last == severity => *count += 1,
            _ => counts.push((severity, 1)),
        }
    }
    let counts: Vec<String> = counts.iter().map(|(severity, count)| format!("{count} {severity}")).collect();
    format!("Status of {} incidents: {}", incidents.len(), counts.join(", "))
}

/// One line anyone can read.
pub fn headline(incident: &Incident) -> String {
    let severity = match incident.severity {
        Some(Severity::Critical) => "A critical incident",
        Some(Severity::High) => "A high-severity incident",
        Some(Severity::Medium) => "A medium-severity incident",
        Some(Severity::Low) => "A low-severity incident",
        None => "An incident not yet assessed",
    };
    if incident.status == Status::Closed {
        return match &incident.lead {
            Some(lead) => format!("{severity} is closed; {lead} led the response."),
            None => format!("{severity} is closed."),
        };
    }
    let stage = match incident.phase {
        Phase::Detection => "is being investigated",
        Phase::Containment => "is being contained",
        Phase::Eradication => "is contained; the cause is being removed",
        Phase::Recovery => "is contained; systems are being recovered",
        Phase::PostIncident => "is over; the response is being wrapped up",
    };
    let lead = match &incident.lead {
        Some(lead) => format!("{lead} leads"),
        None => "nobody leads it yet".to_string(),
    };
    format!("{severity} {stage}; {lead}.")
}

/// Updates and commands since the last digest, one per mail, newest first.
/// Mail from outside or unverified senders is left out; internal notes go
/// to responders only.
pub fn changes(entries: &[TimelineEntry], audience: Audience) -> Vec<Change> {
    let mut changes: Vec<(Option<&str>, Change)> = Vec::new();
    for entry in entries {
        let note_allowed = audience == Audience::Tactical;
        if !matches!(entry.trust, Trust::Staff | Trust::Partner) || (entry.kind == EntryKind::Note && !note_allowed) {
            continue;
        }
        let text = entry.text.trim();
        if text.is_empty() {
            continue;
        }
        let same_mail = changes.last().is_some_and(|(id, change)| {
            entry.message_id.is_some() && *id == entry.message_id.as_deref() && change.author == entry.author
        });
        if !same_mail {
            let change =
                Change { at: entry.at, author: entry.author.clone(), text: String::new(), commands: Vec::new() };
            changes.push((entry.message_id.as_deref(), change));
        }
        let Some((_, change)) = changes.last_mut() else { continue };
        match entry.kind {
            // Executives read what changed; responders see what was typed.
            EntryKind::Command if audience == Audience::Executive => match &entry.outcome {
                Some(done) if done.tells_readers() => change.commands.push(CommandLine::Did(done.clone())),
                Some(_) => {}
                None => change.commands.push(CommandLine::Typed(text.to_string())),
            },
            EntryKind::Command => change.commands.push(CommandLine::Typed(text.to_string())),
            EntryKind::Note => change.commands.push(CommandLine::Typed(format!("note {text}"))),
            _ if change.text.is_empty() => change.text = text.to_string(),
            _ => change.text = format!("{}\n{text}", change.text),
        }
    }
    changes.into_iter().rev().map(|(_, change)| change).collect()
}

fn needs(incident: &Incident, audience: Audience) -> Vec<String> {
    if incident.status == Status::Closed {
        return Vec::new();
    }
    let mut needs = Vec::new();
    if incident.lead.is_none() {
        needs.push("A lead: reply `lead me` or `lead <name>`.".to_string());
    }
    if incident.severity.is_none() {
        needs.push("A severity: reply `sev high` (critical, high, medium or low).".to_string());
    }
    if incident.scope.is_none() {
        needs.push("The scope: which systems, data and people are affected (`scope ...`).".to_string());
    }
    if audience == Audience::Tactical {
        for task in incident.tasks.iter().filter(|task| task.state == TaskState::Open && task.owner.is_none()) {
            needs.push(format!("An owner for task {}: {}.", task.number, task.text));
        }
    }
    needs
}

fn clocks(incident: &Incident, regimes: &[Regime], now: Timestamp) -> Vec<Clock> {
    incident
        .deadlines
        .iter()
        .filter(|deadline| deadline.state != DeadlineState::Dropped)
        .map(|deadline| clock_of(deadline, regimes, now))
        .collect()
}

/// One stage's clock, for a deadline reminder.
pub fn clock(incident: &Incident, regimes: &[Regime], regime: &str, stage: u32, now: Timestamp) -> Option<Clock> {
    incident
        .deadlines
        .iter()
        .find(|deadline| deadline.regime == regime && deadline.stage == stage)
        .map(|deadline| clock_of(deadline, regimes, now))
}

fn clock_of(deadline: &Deadline, regimes: &[Regime], now: Timestamp) -> Clock {
    let regime = regimes.iter().find(|regime| regime.name == deadline.regime);
    let reading = deadline::reading(deadline, now);
    let running = deadline.state == DeadlineState::Running;
    Clock {
        regime: deadline.regime.clone(),
        title: regime.map_or_else(|| deadline.regime.clone(), |regime| regime.title.clone()),
        what: deadline.what.clone(),
        due: deadline.due,
        left: reading.left.filter(|_| running),
        overdue: running && reading.overdue,
        state: deadline.state,
        closed_at: deadline.closed_at,
        note: regime.and_then(|regime| regime.note.clone()),
    }
}

/// The subject line of a reminder, after the `[INC-n]` tag.
pub fn reminder_subject(reminder: &Reminder) -> String {
    match reminder {
        Reminder::NoLead => "Reminder: no lead yet".to_string(),
        Reminder::NoScope => "Reminder: the scope is still unknown".to_string(),
        Reminder::Quiet { .. } => "Reminder: nothing new for the next digest".to_string(),
        Reminder::TasksOverdue(tasks) if tasks.len() == 1 => format!("Reminder: task {} is overdue", tasks[0]),
        Reminder::TasksOverdue(_) => "Reminder: tasks are overdue".to_string(),
        Reminder::Deadline(point) => format!("Reminder: {} notification deadline", point.regime.to_uppercase()),
    }
}

/// The response's durations so far: from the start (or detection, or the
/// declaration) to containment, recovery and close.
pub fn durations(incident: &Incident, now: Timestamp) -> Vec<(&'static str, SignedDuration)> {
    let milestones = &incident.milestones;
    let origin = milestones.started.or(milestones.detected).unwrap_or(incident.declared_at);
    let mut list = Vec::new();
    if let Some(detected) = milestones.detected
        && let Some(started) = milestones.started
    {
        list.push(("to detect", detected.duration_since(started)));
    }
    if let Some(contained) = milestones.contained {
        list.push(("to contain", contained.duration_since(origin)));
    }
    if let Some(recovered) = milestones.recovered {
        list.push(("to recover", recovered.duration_since(origin)));
    }
    let end = incident.closed_at.unwrap_or(now);
    list.push((if incident.closed_at.is_some() { "in total" } else { "so far" }, end.duration_since(origin)));
    list
}

/// "41 h left" or "overdue by 3 h", for a clock.
pub fn time_left(left: SignedDuration) -> String {
    if left.is_negative() {
        format!("overdue by {}", describe_duration(left))
    } else {
        format!("{} left", describe_duration(left))
    }
}

#[cfg(test)]
mod tests;

//! What a digest says, as data: the headline, what changed since the last
//! one, what is needed, where each work stream and clock stands. Rendering
//! to text and HTML is `render`'s job.

use jiff::{SignedDuration, Timestamp};

use super::deadline::{self, Regime, describe_duration};
use super::incident::{
    Deadline, DeadlineState, EntryKind, Incident, Phase, Severity, Status, Stream, StreamState, TaskState, Trust,
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
mod tests {
    use super::*;
    use crate::core::incident::IncidentNumber;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn entry(kind: EntryKind, trust: Trust, text: &str, time: &str) -> TimelineEntry {
        TimelineEntry {
            at: at(time),
            author: "alice@company.test".into(),
            kind,
            text: text.into(),
            message_id: None,
            trust,
            outcome: None,
        }
    }

    fn incident() -> Incident {
        Incident::declare(
            IncidentNumber(4),
            "Ransomware on the file server".into(),
            "alice@company.test".into(),
            at("2026-11-27T14:00:00Z"),
            "root@company.test".into(),
        )
    }

    #[test]
    fn changes_leave_out_notes_outsiders_and_unverified_mail_newest_first() {
        let entries = [
            entry(EntryKind::Update, Trust::Staff, "Isolated the server.", "2026-11-27T14:05:00Z"),
            entry(EntryKind::Note, Trust::Staff, "CFO may have clicked too", "2026-11-27T14:06:00Z"),
            entry(EntryKind::Update, Trust::External, "Vendor here: we can help!", "2026-11-27T14:07:00Z"),
            entry(EntryKind::Update, Trust::Unverified, "Close it, the CEO", "2026-11-27T14:08:00Z"),
            entry(EntryKind::Update, Trust::Partner, "Forensics on site at 16:00.", "2026-11-27T14:09:00Z"),
            TimelineEntry {
                outcome: Some(Done::SeveritySet { severity: Severity::Critical }),
                ..entry(EntryKind::Command, Trust::Staff, "sev 1", "2026-11-27T14:10:00Z")
            },
        ];
        let texts: Vec<(String, Vec<CommandLine>)> =
            changes(&entries, Audience::Executive).into_iter().map(|change| (change.text, change.commands)).collect();
        assert_eq!(
            texts,
            [
                (String::new(), vec![CommandLine::Did(Done::SeveritySet { severity: Severity::Critical })]),
                ("Forensics on site at 16:00.".to_string(), vec![]),
                ("Isolated the server.".to_string(), vec![]),
            ]
        );
        let responders = changes(&entries, Audience::Tactical);
        assert_eq!(responders.len(), 4, "responders also see the internal note");
        assert_eq!(responders[2].commands, [CommandLine::Typed("note CFO may have clicked too".into())]);
        assert_eq!(responders[0].commands, [CommandLine::Typed("sev 1".into())], "responders see what was typed");
    }

    #[test]
    fn the_subject_and_headline_say_where_things_stand() {
        let mut incident = incident();
        assert_eq!(
            subject(&incident, 1, Audience::Executive),
            "[INC-4] Status 1: unassessed · detection · Ransomware on the file server"
        );
        assert_eq!(headline(&incident), "An incident not yet assessed is being investigated; nobody leads it yet.");
        incident.severity = Some(Severity::Critical);
        incident.phase = Phase::Containment;
        incident.lead = Some("bob@company.test".into());
        assert_eq!(
            subject(&incident, 3, Audience::Executive),
            "[INC-4] Status 3: critical · containment · Ransomware on the file server"
        );
        assert_eq!(headline(&incident), "A critical incident is being contained; bob@company.test leads.");
    }

    #[test]
    fn default_streams_are_listed_even_before_anyone_reports_on_them() {
        let mut incident = incident();
        incident.streams.insert(
            Stream::Legal,
            StreamState {
                lead: Some("carol@company.test".into()),
                status: Some("call booked".into()),
                updated_at: None,
            },
        );
        let digest = build(&Inputs {
            incident: &incident,
            since_last: &[],
            number: 1,
            audience: Audience::Executive,
            default_streams: &[Stream::Technical, Stream::Legal],
            regimes: &[],
            next_at: Some(at("2026-11-27T15:00:00Z")),
            now: at("2026-11-27T14:30:00Z"),
        });
        let names: Vec<Stream> = digest.streams.iter().map(|(stream, _)| *stream).collect();
        assert_eq!(names, [Stream::Technical, Stream::Legal]);
        assert_eq!(digest.streams[1].1.status.as_deref(), Some("call booked"));
        assert_eq!(digest.needs.len(), 3, "{:?}", digest.needs);
        assert_eq!(digest.durations, [("so far", SignedDuration::from_mins(30))]);
    }

    #[test]
    fn clocks_show_time_left_and_overdue() {
        let mut incident = incident();
        incident.deadlines.push(Deadline {
            regime: "gdpr".into(),
            stage: 0,
            what: "notify the supervisory authority".into(),
            started_at: at("2026-11-24T14:00:00Z"),
            due: Some(at("2026-11-27T14:00:00Z")),
            state: DeadlineState::Running,
            closed_at: None,
        });
        let clocks = clocks(&incident, &[], at("2026-11-27T17:00:00Z"));
        assert!(clocks[0].overdue);
        assert_eq!(time_left(clocks[0].left.unwrap()), "overdue by 3 h");
        assert_eq!(time_left(SignedDuration::from_hours(41)), "1 d 17 h left");
    }

    #[test]
    fn digests_to_one_executive_are_spaced_by_the_hourly_cap() {
        let sent = at("2026-11-27T14:00:00Z");
        assert_eq!(paced_until(None, 6, sent), None, "the first goes at once");
        assert_eq!(paced_until(Some(sent), 6, at("2026-11-27T14:04:00Z")), Some(at("2026-11-27T14:10:00Z")));
        assert_eq!(paced_until(Some(sent), 6, at("2026-11-27T14:10:00Z")), None);
        assert_eq!(paced_until(Some(sent), 1, at("2026-11-27T14:59:00Z")), Some(at("2026-11-27T15:00:00Z")));
        assert_eq!(paced_until(Some(sent), 0, at("2026-11-27T14:00:01Z")), None, "0 is no cap");
    }

    #[test]
    fn a_combined_subject_counts_severities_most_severe_first() {
        let mut critical = incident();
        critical.severity = Some(Severity::Critical);
        let mut low = incident();
        low.severity = Some(Severity::Low);
        let unassessed = incident();
        assert_eq!(
            combined_subject(&[&unassessed, &low, &critical, &unassessed]),
            "Status of 4 incidents: 1 critical, 1 low, 2 unassessed"
        );
    }
}

#[cfg(test)]
mod grouping {
    use super::*;

    #[test]
    fn a_mail_with_text_and_commands_is_one_change() {
        let entry = |kind: EntryKind, text: &str, id: &str, outcome: Option<Done>| TimelineEntry {
            at: "2026-11-27T14:05:00Z".parse().unwrap(),
            author: "alice@company.test".into(),
            kind,
            text: text.into(),
            message_id: Some(id.into()),
            trust: Trust::Staff,
            outcome,
        };
        let severity = Done::SeveritySet { severity: Severity::Critical };
        let lead = Done::LeadSet { lead: "alice@company.test".into() };
        let entries = [
            entry(EntryKind::Update, "FS01 is off the network.", "a1", None),
            entry(EntryKind::Command, "sev critical", "a1", Some(severity.clone())),
            entry(EntryKind::Command, "lead me", "a1", Some(lead.clone())),
            // Stored before outcomes were kept: shown as typed.
            entry(EntryKind::Command, "phase containment", "a1", None),
            entry(EntryKind::Command, "digest now", "a1", Some(Done::DigestNow)),
            entry(EntryKind::Update, "Backups are clean.", "a2", None),
        ];
        let executives = changes(&entries, Audience::Executive);
        assert_eq!(executives.len(), 2);
        assert_eq!(executives[1].text, "FS01 is off the network.");
        assert_eq!(
            executives[1].commands,
            [CommandLine::Did(severity), CommandLine::Did(lead), CommandLine::Typed("phase containment".into())],
            "what changed, in order; nothing for `digest now`"
        );
        let typed = |line: &str| CommandLine::Typed(line.to_string());
        assert_eq!(
            changes(&entries, Audience::Tactical)[1].commands,
            [typed("sev critical"), typed("lead me"), typed("phase containment"), typed("digest now")],
            "responders see what was typed"
        );
    }
}

//! Applying commands to an incident: the state machine. Pure: the sender,
//! the time, the time zone and who may do what come in as parameters.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::access::Access;
use super::command::{CadenceSetting, Command, Line, Milestone, When, Who};
use super::deadline::{self, ClockStart, Regime, describe_duration};
use super::incident::{
    CadenceOverride, Deadline, DeadlineState, EntryKind, Incident, Phase, Role, Status, Task, TaskState,
};

/// Who is acting and what the configuration lets them do.
pub struct Actor<'a> {
    pub address: &'a str,
    /// Listed in `[access] leads` or `admins`.
    pub privileged: bool,
}

/// What the commands need from the configuration.
pub struct Settings<'a> {
    pub time_zone: &'a TimeZone,
    pub people: &'a BTreeMap<String, String>,
    pub access: &'a Access,
    pub allow_external_notify: bool,
    pub regimes: &'a [Regime],
}

/// The result of one command line, for the transcript and the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub written: String,
    /// What was done, or why not.
    pub outcome: Result<String, String>,
    /// The timeline entry this command leaves, if it changed anything.
    pub entry: Option<(EntryKind, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub applied: Vec<Applied>,
    /// `quiet`: record the mail, send nothing.
    pub quiet: bool,
    pub help: bool,
    pub card: bool,
    /// `digest now`: the executives get a digest at once.
    pub digest_now: bool,
    /// `retro send`: the post-incident report goes out at once.
    pub report_now: bool,
}

impl Effects {
    pub fn errors(&self) -> usize {
        self.applied.iter().filter(|applied| applied.outcome.is_err()).count()
    }
}

/// Whether `actor` may close, reopen, change who hears and replace the
/// lead: the incident's own lead, or a configured lead or admin.
pub fn steers(incident: &Incident, actor: &Actor<'_>) -> bool {
    actor.privileged || incident.lead.as_deref() == Some(actor.address)
}

/// Applies every line in order; a later command on the same field wins and
/// the transcript says so.
pub fn apply(
    incident: &mut Incident,
    lines: &[Line],
    actor: &Actor<'_>,
    now: Timestamp,
    settings: &Settings<'_>,
) -> Effects {
    let mut effects = Effects::default();
    let mut fields_set: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let outcome = match &line.command {
            Err(problem) => Err(problem.clone()),
            Ok(command) => execute(incident, command, actor, now, settings, &mut effects),
        };
        let outcome = match (outcome, line.command.as_ref().ok().and_then(field_of)) {
            (Ok(done), Some(field)) => {
                let replaced = fields_set.insert(field, line.written.clone());
                Ok(match replaced {
                    Some(earlier) => {
                        format!("{done} This replaces `{earlier}` earlier in this mail: the last one wins.")
                    }
                    None => done,
                })
            }
            (outcome, _) => outcome,
        };
        let entry = match (&outcome, &line.command) {
            (Ok(_), Ok(Command::Note(text))) => Some((EntryKind::Note, text.clone())),
            (Ok(_), Ok(Command::Help | Command::Card | Command::Quiet | Command::DigestNow | Command::RetroSend)) => {
                None
            }
            (Ok(_), Ok(_)) => Some((EntryKind::Command, line.written.clone())),
            (Err(_), _) | (_, Err(_)) => None,
        };
        effects.applied.push(Applied { written: line.written.clone(), outcome, entry });
    }
    effects
}

/// The field a command sets, to spot two commands fighting over one.
fn field_of(command: &Command) -> Option<String> {
    Some(match command {
        Command::Severity(_) => "severity".into(),
        Command::Title(_) => "title".into(),
        Command::Lead(_) | Command::Unassign(None) => "lead".into(),
        Command::Role(role, _) | Command::Unassign(Some(role)) => format!("role {role}"),
        Command::Phase(_) => "phase".into(),
        Command::Status(_) | Command::Close(_) | Command::Reopen => "status".into(),
        Command::Scope(_) => "scope".into(),
        Command::Impact(_) => "impact".into(),
        Command::Detected(_) => "detected".into(),
        Command::Started(_) => "started".into(),
        Command::StreamStatus(stream, _) => format!("stream {stream}"),
        Command::StreamLead(stream, _) => format!("stream {stream} lead"),
        Command::Cadence(_) => "cadence".into(),
        Command::Aware(_) => "aware".into(),
        _ => return None,
    })
}

fn execute(
    incident: &mut Incident,
    command: &Command,
    actor: &Actor<'_>,
    now: Timestamp,
    settings: &Settings<'_>,
    effects: &mut Effects,
) -> Result<String, String> {
    let refuse_unless_steering = |what: &str| {
        if steers(incident, actor) {
            Ok(())
        } else {
            Err(format!("only the incident lead or a configured lead or admin may {what}"))
        }
    };
    let local =
        |at: Timestamp| at.to_zoned_datetime(settings.time_zone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string();
    match command {
        Command::Severity(severity) => {
            incident.severity = Some(*severity);
            Ok(format!("Severity is now {severity}."))
        }
        Command::Title(title) => {
            incident.title = title.clone();
            Ok(format!("Title is now \"{title}\"."))
        }
        Command::Lead(who) => {
            let lead = staff_member(who, actor, settings)?;
            if incident.lead.as_deref().is_some_and(|current| current != lead) {
                refuse_unless_steering("replace the lead")?;
            }
            incident.lead = Some(lead.clone());
            Ok(format!("{lead} now leads the incident."))
        }
        Command::Role(role, who) => {
            let holder = staff_member(who, actor, settings)?;
            incident.roles.insert(*role, holder.clone());
            Ok(format!("{holder} is now {}.", role_title(*role)))
        }
        Command::Unassign(None) => {
            refuse_unless_steering("remove the lead")?;
            incident.lead = None;
            Ok("The incident has no lead now.".to_string())
        }
        Command::Unassign(Some(role)) => match incident.roles.remove(role) {
            Some(holder) => Ok(format!("{holder} is no longer {}.", role_title(*role))),
            None => Err(format!("nobody is {}", role_title(*role))),
        },
        Command::Phase(phase) => {
            incident.phase = *phase;
            Ok(format!("Phase is now {phase}."))
        }
        Command::Milestone(milestone) => {
            let (at, phase, status, name) = match milestone {
                Milestone::Contained => {
                    (&mut incident.milestones.contained, Phase::Eradication, Status::Contained, "Contained")
                }
                Milestone::Eradicated => {
                    (&mut incident.milestones.eradicated, Phase::Recovery, Status::Contained, "Eradicated")
                }
                Milestone::Recovered => {
                    (&mut incident.milestones.recovered, Phase::PostIncident, Status::Monitoring, "Recovered")
                }
            };
            *at = Some(now);
            incident.phase = incident.phase.max(phase);
            if incident.status != Status::Closed {
                incident.status = status;
            }
            Ok(format!("{name} at {}; phase is now {}.", local(now), incident.phase))
        }
        Command::Status(Status::Closed) | Command::Close(_) => {
            refuse_unless_steering("close an incident")?;
            if incident.status == Status::Closed {
                return Err("the incident is already closed".to_string());
            }
            incident.status = Status::Closed;
            incident.closed_at = Some(now);
            incident.phase_at_close = Some(incident.phase);
            incident.phase = Phase::PostIncident;
            incident.resolution = match command {
                Command::Close(Some(reason)) => Some(reason.clone()),
                _ => None,
            };
            Ok(match command {
                Command::Close(Some(reason)) => format!("Closed: {reason}."),
                _ => "Closed.".to_string(),
            })
        }
        Command::Reopen => {
            refuse_unless_steering("reopen an incident")?;
            if incident.status != Status::Closed {
                return Err("the incident is not closed".to_string());
            }
            reopen(incident);
            incident.status = Status::Investigating;
            Ok(format!("Reopened; status is now investigating, phase {}.", incident.phase))
        }
        Command::Status(status) => {
            if incident.status == Status::Closed {
                refuse_unless_steering("reopen an incident")?;
                reopen(incident);
            }
            incident.status = *status;
            Ok(format!("Status is now {status}."))
        }
        Command::Scope(scope) => {
            incident.scope = Some(scope.clone());
            Ok("Scope recorded.".to_string())
        }
        Command::Impact(impact) => {
            incident.impact = Some(impact.clone());
            Ok("Impact recorded.".to_string())
        }
        Command::Detected(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.detected = Some(at);
            Ok(format!("Detected at {}.", local(at)))
        }
        Command::Started(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.started = Some(at);
            Ok(format!("Started at {}.", local(at)))
        }
        Command::StreamStatus(stream, status) => {
            let state = incident.streams.entry(*stream).or_default();
            state.status = Some(status.clone());
            state.updated_at = Some(now);
            Ok(format!("The {stream} stream: {status}."))
        }
        Command::StreamLead(stream, who) => {
            let lead = staff_member(who, actor, settings)?;
            let state = incident.streams.entry(*stream).or_default();
            state.lead = Some(lead.clone());
            state.updated_at = Some(now);
            Ok(format!("{lead} leads the {stream} stream."))
        }
        Command::Task { text, owner, due } => {
            let owner = owner.as_ref().map(|who| staff_member(who, actor, settings)).transpose()?;
            let due = due.map(|when| future(when, now, settings.time_zone)).transpose()?;
            let number = incident.tasks.iter().map(|task| task.number).max().unwrap_or(0) + 1;
            let mut done = format!("Task {number} added: {text}");
            if let Some(owner) = &owner {
                done.push_str(&format!(", for {owner}"));
            }
            if let Some(due) = due {
                done.push_str(&format!(", due {}", local(due)));
            }
            incident.tasks.push(Task {
                number,
                text: text.clone(),
                owner,
                due,
                state: TaskState::Open,
                created_at: now,
                closed_at: None,
            });
            Ok(format!("{done}."))
        }
        Command::Done(number) | Command::Drop(number) => {
            let task = incident
                .tasks
                .iter_mut()
                .find(|task| task.number == *number)
                .ok_or_else(|| format!("there is no task {number}"))?;
            if task.state != TaskState::Open {
                return Err(format!("task {number} is already {}", task.state));
            }
            task.state = if matches!(command, Command::Done(_)) { TaskState::Done } else { TaskState::Dropped };
            task.closed_at = Some(now);
            Ok(format!("Task {number} is {}.", task.state))
        }
        Command::Notify { add, address } => {
            refuse_unless_steering("change who is notified")?;
            if *add {
                if !settings.allow_external_notify && !settings.access.is_staff(address) {
                    return Err(format!("{address} is outside the organisation; only staff can be notified"));
                }
                if incident.notify.contains(address) {
                    return Err(format!("{address} already gets the digests"));
                }
                incident.notify.push(address.clone());
                Ok(format!("{address} will get this incident's digests."))
            } else {
                let before = incident.notify.len();
                incident.notify.retain(|existing| existing != address);
                if incident.notify.len() == before {
                    return Err(format!("{address} was not on this incident's list"));
                }
                Ok(format!("{address} will no longer get this incident's digests."))
            }
        }
        Command::Quiet => {
            effects.quiet = true;
            Ok("Nothing will be sent for this mail.".to_string())
        }
        Command::Note(_) => Ok("Internal note recorded; it never appears in executive digests.".to_string()),
        Command::Help => {
            effects.help = true;
            Ok("The command reference is below.".to_string())
        }
        Command::Card => {
            effects.card = true;
            Ok("The incident's current state is below.".to_string())
        }
        Command::Cadence(setting) => {
            refuse_unless_steering("change the digest cadence")?;
            incident.cadence = match setting {
                CadenceSetting::Off => Some(CadenceOverride::Off),
                CadenceSetting::BySeverity => None,
                CadenceSetting::Every(every) => {
                    if *every < jiff::SignedDuration::from_mins(10) || *every > jiff::SignedDuration::from_hours(7 * 24)
                    {
                        return Err("a cadence is between 10 minutes and 7 days".to_string());
                    }
                    Some(CadenceOverride::Every(*every))
                }
            };
            Ok(match incident.cadence {
                Some(CadenceOverride::Off) => {
                    "No more scheduled digests for this incident; `digest now` still sends one.".to_string()
                }
                Some(CadenceOverride::Every(every)) => format!("Digests now every {}.", describe_duration(every)),
                None => "Digests follow the severity again.".to_string(),
            })
        }
        Command::RetroSend => {
            refuse_unless_steering("send the post-incident report")?;
            if incident.status != Status::Closed {
                return Err("the incident is not closed; the report follows the close".to_string());
            }
            effects.report_now = true;
            Ok("The post-incident report goes to the executives and everyone involved now.".to_string())
        }
        Command::DigestNow => {
            effects.digest_now = true;
            Ok("A digest goes to the executives now.".to_string())
        }
        Command::Regime { name, off } => {
            let regime = regime_named(name, settings.regimes)?;
            let running: Vec<&mut Deadline> = incident
                .deadlines
                .iter_mut()
                .filter(|deadline| deadline.regime == regime.name && deadline.state == DeadlineState::Running)
                .collect();
            if *off {
                if running.is_empty() {
                    return Err(format!("no {} clock is running", regime.title));
                }
                for deadline in running {
                    deadline.state = DeadlineState::Dropped;
                    deadline.closed_at = Some(now);
                }
                return Ok(format!("{} clock stopped: not applicable.", regime.title));
            }
            if !running.is_empty() {
                return Err(format!("the {} clock is already running", regime.title));
            }
            incident.deadlines.retain(|deadline| deadline.regime != regime.name);
            let (start, basis) = deadline::clock_start(incident, regime.from, now);
            let mut said = format!("{} clock started from {basis} ({}).", regime.title, local(start));
            for (stage, step) in regime.stages.iter().enumerate() {
                let due = step.within.map(|within| within.deadline(start, settings.time_zone));
                said.push_str(&match (due, step.within) {
                    (Some(due), Some(within)) => {
                        format!(" {}: by {} ({}).", capitalised(&step.what), local(due), within.describe())
                    }
                    _ => format!(" {}: without undue delay.", capitalised(&step.what)),
                });
                incident.deadlines.push(Deadline {
                    regime: regime.name.clone(),
                    stage: stage as u32,
                    what: step.what.clone(),
                    started_at: start,
                    due,
                    state: DeadlineState::Running,
                    closed_at: None,
                });
            }
            if regime.from == ClockStart::Aware && incident.milestones.aware.is_none() {
                said.push_str(" If you knew earlier, say `aware <when>` and the clock moves.");
            }
            Ok(said)
        }
        Command::Aware(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.aware = Some(at);
            let mut said = format!("Aware since {}.", local(at));
            for deadline in incident.deadlines.iter_mut().filter(|deadline| deadline.state == DeadlineState::Running) {
                let Some(regime) = settings.regimes.iter().find(|regime| regime.name == deadline.regime) else {
                    continue;
                };
                if regime.from != ClockStart::Aware {
                    continue;
                }
                deadline.started_at = at;
                let within = regime.stages.get(deadline.stage as usize).and_then(|stage| stage.within);
                deadline.due = within.map(|within| within.deadline(at, settings.time_zone));
                if let Some(due) = deadline.due {
                    said.push_str(&format!(" {}: now due by {}.", capitalised(&deadline.what), local(due)));
                }
            }
            Ok(said)
        }
        Command::Notified { regime, when } => {
            let regime = regime_named(regime, settings.regimes)?;
            let at = match when {
                Some(when) => past(*when, now, settings.time_zone)?,
                None => now,
            };
            let deadline = incident
                .deadlines
                .iter_mut()
                .find(|deadline| deadline.regime == regime.name && deadline.state == DeadlineState::Running)
                .ok_or_else(|| {
                    format!("no {} clock is running; start it with `regime {}`", regime.title, regime.name)
                })?;
            deadline.state = DeadlineState::Met;
            deadline.closed_at = Some(at);
            let timing = match deadline.due {
                Some(due) if at <= due => {
                    format!(", {} before the deadline", describe_duration(due.duration_since(at)))
                }
                Some(due) => format!(", {} after the deadline", describe_duration(at.duration_since(due))),
                None => String::new(),
            };
            Ok(format!("{}: {} done at {}{timing}.", regime.title, deadline.what, local(at)))
        }
    }
}

/// Back to the last phase of active work (post-incident is not one).
fn reopen(incident: &mut Incident) {
    incident.closed_at = None;
    incident.phase = match incident.phase_at_close.take() {
        Some(Phase::PostIncident) => Phase::Recovery,
        Some(phase) => phase,
        None => Phase::Detection,
    };
}

fn regime_named<'a>(name: &str, regimes: &'a [Regime]) -> Result<&'a Regime, String> {
    regimes.iter().find(|regime| regime.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
        let known: Vec<&str> = regimes.iter().map(|regime| regime.name.as_str()).collect();
        if known.is_empty() {
            format!("no regime `{name}`: none is configured ([[regimes]] in the configuration)")
        } else {
            format!("no regime `{name}`; configured: {}", known.join(", "))
        }
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

fn role_title(role: Role) -> &'static str {
    match role {
        Role::Scribe => "the scribe",
        Role::InternalComms => "internal communications",
        Role::ExternalComms => "external communications",
        Role::Legal => "legal",
        Role::Technical => "the technical lead",
    }
}

/// A person who must be staff: leads, role holders and task owners.
fn staff_member(who: &Who, actor: &Actor<'_>, settings: &Settings<'_>) -> Result<String, String> {
    let address = match who {
        Who::Me => actor.address.to_string(),
        Who::Address(address) => address.clone(),
        Who::Name(name) => settings
            .people
            .get(&name.replace(['_', '-'], " "))
            .cloned()
            .ok_or_else(|| format!("`{name}` is not in the [people] list; write their address"))?,
    };
    if settings.access.is_staff(&address) { Ok(address) } else { Err(format!("{address} is not staff")) }
}

/// A time that has happened: "14:05" means the latest 14:05 not in the future.
fn past(when: When, now: Timestamp, time_zone: &TimeZone) -> Result<Timestamp, String> {
    let at = resolve(when, now, time_zone, false)?;
    if at > now + jiff::SignedDuration::from_mins(5) {
        return Err("that time is in the future".to_string());
    }
    Ok(at)
}

/// A deadline: "17:00" means the next 17:00.
fn future(when: When, now: Timestamp, time_zone: &TimeZone) -> Result<Timestamp, String> {
    resolve(when, now, time_zone, true)
}

fn resolve(when: When, now: Timestamp, time_zone: &TimeZone, forward: bool) -> Result<Timestamp, String> {
    let invalid = |error: jiff::Error| format!("cannot place that time: {error}");
    let today = now.to_zoned_datetime(time_zone.clone()).date();
    let at_clock = |date: jiff::civil::Date, hour: i8, minute: i8| {
        date.at(hour, minute, 0, 0).to_zoned_datetime(time_zone.clone()).map(|zoned| zoned.timestamp()).map_err(invalid)
    };
    match when {
        When::Now => Ok(now),
        When::At(at) => Ok(at),
        When::Ago(duration) => Ok(now - duration),
        When::Yesterday { hour, minute } => at_clock(today.yesterday().map_err(invalid)?, hour, minute),
        When::Today { hour, minute } => {
            let at = at_clock(today, hour, minute)?;
            match (forward, at > now) {
                (false, true) => at_clock(today.yesterday().map_err(invalid)?, hour, minute),
                (true, false) => at_clock(today.tomorrow().map_err(invalid)?, hour, minute),
                _ => Ok(at),
            }
        }
    }
}

#[cfg(test)]
mod tests;

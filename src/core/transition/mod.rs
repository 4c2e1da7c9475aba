//! Applying commands to an incident: the state machine. Pure: the sender,
//! the time, the time zone and who may do what come in as parameters.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::access::Access;
use super::command::{Command, Line, When, Who};
use super::deadline::Regime;
use super::playbook::Playbook;
mod assessment;
mod clocks;
mod communication;
mod drafts;
mod lifecycle;
mod people;
mod playbook;
mod work;

use super::incident::{Channel, EntryKind, Incident, IncidentType, Phase};
use super::outcome::{Act, Done, Refusal};

/// What one command did, or why it was not done.
type Result = std::result::Result<Done, Refusal>;

/// Who is acting and what the configuration lets them do.
pub struct Actor<'a> {
    pub address: &'a str,
    /// Listed in `[access] leads` or `admins`.
    pub privileged: bool,
    /// False for mail about an out-of-band incident that came through the
    /// company's own mail, which whoever breached it may have written: it
    /// may post, not steer.
    pub steering_allowed: bool,
}

/// What the commands need from the configuration.
pub struct Settings<'a> {
    pub time_zone: &'a TimeZone,
    pub people: &'a BTreeMap<String, String>,
    pub access: &'a Access,
    pub allow_external_notify: bool,
    pub regimes: &'a [Regime],
    pub playbooks: &'a [Playbook],
    /// May approve and reject drafts, as the lead may.
    pub executives: &'a [String],
    /// Whether a declaration without `type` gets one from its words.
    pub suggest_type: bool,
    /// Whether a fallback mailbox and relay are configured, so that an
    /// incident can move out of band.
    pub out_of_band: bool,
}

/// The result of one command line, for the transcript and the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub written: String,
    /// What was done, or why not.
    pub outcome: Result,
    /// An earlier line of the same mail that set the same field: this one
    /// wins, and the transcript says so.
    pub replaces: Option<String>,
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
    actor.steering_allowed && (actor.privileged || incident.lead.as_deref() == Some(actor.address))
}

/// Sets the type sitrep suggests for a new incident from its words, with
/// its playbook, as if the declarer had written `type <kind>`.
pub fn apply_suggested_type(
    incident: &mut Incident,
    kind: IncidentType,
    actor: &Actor<'_>,
    now: Timestamp,
    settings: &Settings<'_>,
) -> Applied {
    let turn = Turn { actor, now, settings };
    let written = format!("type {kind}");
    let outcome = playbook::set_type(incident, kind, true, &turn);
    let entry = outcome.is_ok().then(|| (EntryKind::Command, written.clone()));
    Applied { written, outcome, replaces: None, entry }
}

/// Moves a new incident out of band because of how its declaration came,
/// as if the declarer had written `channel out-of-band`.
pub fn apply_out_of_band(
    incident: &mut Incident,
    actor: &Actor<'_>,
    now: Timestamp,
    settings: &Settings<'_>,
) -> Applied {
    let written = "channel out-of-band".to_string();
    let command = Command::Channel(Channel::OutOfBand);
    let outcome = execute(incident, &command, actor, now, settings, &mut Effects::default());
    let entry = outcome.is_ok().then(|| (EntryKind::Command, written.clone()));
    Applied { written, outcome, replaces: None, entry }
}

/// The text of a reply to draft `number`'s mail as its next version.
/// `None` when there is no such draft or no text.
pub fn edit_draft(
    incident: &mut Incident,
    number: u32,
    text: &str,
    actor: &Actor<'_>,
    now: Timestamp,
) -> Option<Applied> {
    let version = drafts::edit(incident, number, text, actor.address, now)?;
    Some(Applied {
        written: format!("your text, as draft D{number}"),
        outcome: Ok(Done::DraftEdited { number, version }),
        replaces: None,
        entry: Some((EntryKind::Note, format!("Draft D{number}: version {version} by {}", actor.address))),
    })
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
            Err(problem) => Err(Refusal::Unreadable { problem: problem.clone() }),
            Ok(command) => execute(incident, command, actor, now, settings, &mut effects),
        };
        let replaces = match (&outcome, line.command.as_ref().ok().and_then(field_of)) {
            (Ok(_), Some(field)) => fields_set.insert(field, line.written.clone()),
            _ => None,
        };
        let entry = match (&outcome, &line.command) {
            (Ok(_), Ok(Command::Note(text))) => Some((EntryKind::Note, text.clone())),
            (Ok(done), Ok(_)) if !done.tells_readers() => None,
            (Ok(_), Ok(_)) => Some((EntryKind::Command, line.written.clone())),
            (Err(_), _) | (_, Err(_)) => None,
        };
        effects.applied.push(Applied { written: line.written.clone(), outcome, replaces, entry });
    }
    effects
}

/// The field a command sets, to spot two commands fighting over one.
fn field_of(command: &Command) -> Option<String> {
    Some(match command {
        Command::Severity(_) => "severity".into(),
        Command::Type(_) => "type".into(),
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
        Command::Channel(_) => "channel".into(),
        _ => return None,
    })
}

/// One command against the incident, by family of commands.
fn execute(
    incident: &mut Incident,
    command: &Command,
    actor: &Actor<'_>,
    now: Timestamp,
    settings: &Settings<'_>,
    effects: &mut Effects,
) -> Result {
    let turn = Turn { actor, now, settings };
    match command {
        Command::Type(..) => playbook::execute(incident, command, &turn),
        Command::Draft(..) | Command::ShowDraft(..) | Command::Approve(..) | Command::Reject(..) => {
            drafts::execute(incident, command, &turn)
        }
        Command::Severity(..)
        | Command::Title(..)
        | Command::Phase(..)
        | Command::Milestone(..)
        | Command::Scope(..)
        | Command::Impact(..)
        | Command::Detected(..)
        | Command::Started(..) => assessment::execute(incident, command, &turn),
        Command::Lead(..) | Command::Role(..) | Command::Unassign(..) | Command::Notify { .. } => {
            people::execute(incident, command, &turn)
        }
        Command::Status(..) | Command::Close(..) | Command::Reopen => lifecycle::execute(incident, command, &turn),
        Command::StreamStatus(..)
        | Command::StreamLead(..)
        | Command::Task { .. }
        | Command::Done(..)
        | Command::Drop(..) => work::execute(incident, command, &turn),
        Command::Quiet
        | Command::Note(..)
        | Command::Help
        | Command::Card
        | Command::Cadence(..)
        | Command::RetroSend
        | Command::DigestNow
        | Command::Channel(..) => communication::execute(incident, command, &turn, effects),
        Command::Regime { .. } | Command::Aware(..) | Command::Notified { .. } => {
            clocks::execute(incident, command, &turn)
        }
    }
}

/// Who gives a command, when, and with which settings.
#[derive(Clone, Copy)]
struct Turn<'a> {
    actor: &'a Actor<'a>,
    now: Timestamp,
    settings: &'a Settings<'a>,
}

impl Turn<'_> {
    fn refuse_unless_steering(&self, incident: &Incident, act: Act) -> std::result::Result<(), Refusal> {
        if steers(incident, self.actor) { Ok(()) } else { Err(Refusal::NotSteering { act }) }
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

fn regime_named<'a>(name: &str, regimes: &'a [Regime]) -> std::result::Result<&'a Regime, Refusal> {
    regimes.iter().find(|regime| regime.name.eq_ignore_ascii_case(name)).ok_or_else(|| Refusal::UnknownRegime {
        name: name.to_string(),
        known: regimes.iter().map(|regime| regime.name.clone()).collect(),
    })
}

/// A person who must be staff: leads, role holders and task owners.
fn staff_member(
    who: &Who,
    incident: &Incident,
    actor: &Actor<'_>,
    settings: &Settings<'_>,
) -> std::result::Result<String, Refusal> {
    let address = match who {
        Who::Me => actor.address.to_string(),
        Who::Address(address) => address.clone(),
        Who::Name(name) => match settings.people.get(&name.replace(['_', '-'], " ")) {
            Some(address) => address.clone(),
            None => known_by_name(name, incident, actor)?,
        },
    };
    if settings.access.is_staff(&address) { Ok(address) } else { Err(Refusal::NotStaff { address }) }
}

/// `alice` as one of the people on this incident: the address whose local
/// part is `alice`, or starts `alice.` (`alice.morgan@`); asked when two are.
fn known_by_name(name: &str, incident: &Incident, actor: &Actor<'_>) -> std::result::Result<String, Refusal> {
    let wanted = name.to_lowercase();
    let people = std::iter::once(actor.address)
        .chain(std::iter::once(incident.declared_by.as_str()))
        .chain(incident.lead.as_deref())
        .chain(incident.roles.values().map(String::as_str))
        .chain(incident.streams.values().filter_map(|state| state.lead.as_deref()))
        .chain(incident.tasks.iter().filter_map(|task| task.owner.as_deref()))
        .chain(incident.notify.iter().map(String::as_str));
    let mut matches: Vec<String> = people
        .filter(|address| {
            let local = address.rsplit_once('@').map_or("", |(local, _)| local).to_lowercase();
            local == wanted || local.split(['.', '_', '-']).next() == Some(wanted.as_str())
        })
        .map(str::to_lowercase)
        .collect();
    matches.sort();
    matches.dedup();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Refusal::UnknownPerson { name: name.to_string() }),
        _ => Err(Refusal::AmbiguousPerson { name: name.to_string(), candidates: matches }),
    }
}

/// A time that has happened: "14:05" means the latest 14:05 not in the future.
fn past(when: When, now: Timestamp, time_zone: &TimeZone) -> std::result::Result<Timestamp, Refusal> {
    let at = resolve(when, now, time_zone, false)?;
    if at > now + jiff::SignedDuration::from_mins(5) {
        return Err(Refusal::InTheFuture);
    }
    Ok(at)
}

/// A deadline: "17:00" means the next 17:00.
fn future(when: When, now: Timestamp, time_zone: &TimeZone) -> std::result::Result<Timestamp, Refusal> {
    resolve(when, now, time_zone, true)
}

fn resolve(when: When, now: Timestamp, time_zone: &TimeZone, forward: bool) -> std::result::Result<Timestamp, Refusal> {
    let invalid = |error: jiff::Error| Refusal::Unplaceable { problem: error.to_string() };
    let today = now.to_zoned_datetime(time_zone.clone()).date();
    let at_clock = |date: jiff::civil::Date, hour: i8, minute: i8| {
        date.at(hour, minute, 0, 0).to_zoned_datetime(time_zone.clone()).map(|zoned| zoned.timestamp()).map_err(invalid)
    };
    match when {
        When::Now => Ok(now),
        When::At(at) => Ok(at),
        When::Ago(duration) => Ok(now - duration),
        When::In(duration) => Ok(now + duration),
        When::Tomorrow { hour, minute } => at_clock(today.tomorrow().map_err(invalid)?, hour, minute),
        When::Next { weekday, hour, minute } => {
            let mut date = today;
            loop {
                if date.weekday() == weekday {
                    let at = at_clock(date, hour, minute)?;
                    if at > now {
                        return Ok(at);
                    }
                }
                date = date.tomorrow().map_err(invalid)?;
            }
        }
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

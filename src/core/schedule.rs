//! When scheduled mail is due: executive and tactical digests on the
//! severity's cadence, the final digest at close, and the reminders that
//! keep the foundation questions answered. Pure: the store's memory of what
//! was sent (`Slots`), the incident, its activity and the time come in.
//!
//! The plan is recomputed from that memory at every look, so a digest due
//! during downtime goes out once, and the next one is a full cadence later.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::deadline::{self, PointReached, Regime, Within};
use super::incident::{CadenceOverride, Incident, Severity, Status, TaskState};

/// Digest intervals by severity; an incident not yet assessed uses `unassessed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub critical: SignedDuration,
    pub high: SignedDuration,
    pub medium: SignedDuration,
    pub low: SignedDuration,
    pub unassessed: SignedDuration,
}

impl Default for Cadence {
    fn default() -> Cadence {
        Cadence {
            critical: SignedDuration::from_mins(30),
            high: SignedDuration::from_hours(1),
            medium: SignedDuration::from_hours(4),
            low: SignedDuration::from_hours(24),
            unassessed: SignedDuration::from_hours(1),
        }
    }
}

/// How often responders get the tactical digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tactical {
    WithExecutive,
    Off,
    Every(SignedDuration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub cadence: Cadence,
    pub tactical: Tactical,
    /// Remind when there is still no lead this long after the declaration.
    pub no_lead_after: Option<SignedDuration>,
    pub no_scope_after: Option<SignedDuration>,
    /// Remind this long before a digest when nobody has posted since the last.
    pub quiet_before: Option<SignedDuration>,
    pub overdue_tasks: bool,
    /// At most this many reminders of each kind per incident.
    pub max_reminders: u32,
    pub retro: RetroPolicy,
    /// For business days.
    pub time_zone: TimeZone,
}

/// The retrospective after close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetroPolicy {
    pub enabled: bool,
    /// Those who have not answered are reminded this long after the
    /// questionnaire, and again as long after that.
    pub remind_after: Within,
    pub max_reminders: u32,
    /// The report goes out when everyone has answered, or this long after
    /// the questionnaire; `None`: only with `retro send`.
    pub window: Option<Within>,
}

impl Default for RetroPolicy {
    fn default() -> RetroPolicy {
        RetroPolicy {
            enabled: true,
            remind_after: Within::BusinessDays(2),
            max_reminders: 2,
            window: Some(Within::BusinessDays(5)),
        }
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            cadence: Cadence::default(),
            tactical: Tactical::WithExecutive,
            no_lead_after: Some(SignedDuration::from_mins(10)),
            no_scope_after: Some(SignedDuration::from_mins(30)),
            quiet_before: Some(SignedDuration::from_mins(10)),
            overdue_tasks: true,
            max_reminders: 3,
            retro: RetroPolicy::default(),
            time_zone: TimeZone::UTC,
        }
    }
}

/// What the store remembers of one kind of scheduled mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slot {
    pub last_at: Option<Timestamp>,
    pub count: u32,
    /// `digest now`: due at this time whatever the cadence.
    pub requested_at: Option<Timestamp>,
    /// The last timeline entry a digest covered.
    pub seq: u64,
}

/// Slots by job key (`Job::key`).
pub type Slots = BTreeMap<String, Slot>;

/// What the incident's timeline says about activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// The latest declaration, update or command from staff or a partner;
    /// internal notes do not count.
    pub last_update_at: Option<Timestamp>,
    /// Sent the retrospective questionnaire.
    pub asked: u32,
    /// Of those, who answered anything.
    pub answered: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Digest,
    /// The last executive digest, when the incident closes.
    FinalDigest,
    Tactical,
    Reminder(Reminder),
    /// The retrospective questionnaire, to everyone who took part.
    Questionnaire,
    /// To those who have not answered, and a summary to the lead.
    RetroReminder,
    /// The post-incident report, to the executives and the participants.
    Report,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reminder {
    NoLead,
    NoScope,
    /// Nothing posted since the last digest, and the next goes out at `digest_at`.
    Quiet {
        digest_at: Timestamp,
    },
    /// These open tasks are past their due time.
    TasksOverdue(Vec<u32>),
    Deadline(PointReached),
}

impl Job {
    /// The schedule row this job is remembered under.
    pub fn key(&self) -> String {
        match self {
            Job::Digest => "digest".into(),
            Job::FinalDigest => "final-digest".into(),
            Job::Tactical => "tactical".into(),
            Job::Questionnaire => "questionnaire".into(),
            Job::RetroReminder => "retro-remind".into(),
            Job::Report => "report".into(),
            Job::Reminder(Reminder::NoLead) => "remind-lead".into(),
            Job::Reminder(Reminder::NoScope) => "remind-scope".into(),
            Job::Reminder(Reminder::Quiet { .. }) => "remind-quiet".into(),
            Job::Reminder(Reminder::TasksOverdue(_)) => "remind-tasks".into(),
            Job::Reminder(Reminder::Deadline(point)) => deadline_key(&point.regime, point.stage),
        }
    }
}

pub fn deadline_key(regime: &str, stage: u32) -> String {
    format!("deadline:{regime}:{stage}")
}

/// The interval between executive digests, `None` when they are off.
pub fn cadence(incident: &Incident, policy: &Policy) -> Option<SignedDuration> {
    match incident.cadence {
        Some(CadenceOverride::Off) => None,
        Some(CadenceOverride::Every(every)) => Some(every),
        None => Some(match incident.severity {
            Some(Severity::Critical) => policy.cadence.critical,
            Some(Severity::High) => policy.cadence.high,
            Some(Severity::Medium) => policy.cadence.medium,
            Some(Severity::Low) => policy.cadence.low,
            None => policy.cadence.unassessed,
        }),
    }
}

/// When the next executive digest goes out, if one is scheduled: a cadence
/// after the last (or the declaration), or at once when one was asked for.
pub fn next_digest(incident: &Incident, slots: &Slots, policy: &Policy) -> Option<Timestamp> {
    let slot = slots.get("digest").copied().unwrap_or_default();
    if incident.status == Status::Closed {
        return None;
    }
    let regular = cadence(incident, policy).map(|every| later(slot.last_at.unwrap_or(incident.declared_at), every));
    match (regular, slot.requested_at) {
        (Some(regular), Some(requested)) => Some(regular.min(requested)),
        (regular, requested) => regular.or(requested),
    }
}

/// What is due now, and when each kind of job next needs a look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In the order they should go out.
    pub due: Vec<Job>,
    /// Job key and time, for jobs not yet due.
    pub upcoming: Vec<(String, Timestamp)>,
}

impl Plan {
    fn at(&mut self, job: Job, at: Timestamp, now: Timestamp) {
        if at <= now {
            self.due.push(job);
        } else {
            self.upcoming.push((job.key(), at));
        }
    }
}

pub fn plan(
    incident: &Incident,
    slots: &Slots,
    activity: &Activity,
    regimes: &[Regime],
    policy: &Policy,
    now: Timestamp,
) -> Plan {
    let slot = |key: &str| slots.get(key).copied().unwrap_or_default();
    let mut plan = Plan::default();
    if incident.status == Status::Closed {
        if let Some(closed_at) = incident.closed_at {
            if slot("final-digest").last_at.is_none_or(|last| last < closed_at) {
                plan.at(Job::FinalDigest, closed_at, now);
            }
            if policy.retro.enabled {
                retrospective(&mut plan, closed_at, slots, activity, policy, now);
            }
        }
    } else {
        let digest_at = next_digest(incident, slots, policy);
        if let Some(at) = digest_at {
            plan.at(Job::Digest, at, now);
        }
        if let Tactical::Every(every) = policy.tactical {
            plan.at(Job::Tactical, later(slot("tactical").last_at.unwrap_or(incident.declared_at), every), now);
        }
        let remind = |plan: &mut Plan, job: Reminder, first: Timestamp, again: SignedDuration| {
            let memory = slot(&Job::Reminder(job.clone()).key());
            if memory.count < policy.max_reminders {
                let at = memory.last_at.map_or(first, |last| first.max(later(last, again)));
                plan.at(Job::Reminder(job), at, now);
            }
        };
        if let (None, Some(after)) = (&incident.lead, policy.no_lead_after) {
            remind(&mut plan, Reminder::NoLead, later(incident.declared_at, after), after);
        }
        if let (None, Some(after)) = (&incident.scope, policy.no_scope_after) {
            remind(&mut plan, Reminder::NoScope, later(incident.declared_at, after), after);
        }
        if let (Some(digest_at), Some(before)) = (digest_at, policy.quiet_before) {
            let anchor = slot("digest").last_at.unwrap_or(incident.declared_at);
            let quiet = activity.last_update_at.is_none_or(|last| last <= anchor);
            let memory = slot("remind-quiet");
            let reminded_this_cycle = memory.last_at.is_some_and(|last| last >= anchor);
            if quiet && !reminded_this_cycle && memory.count < policy.max_reminders && digest_at > now {
                let at = digest_at.checked_sub(before).unwrap_or(digest_at).max(anchor);
                plan.at(Job::Reminder(Reminder::Quiet { digest_at }), at, now);
            }
        }
        if policy.overdue_tasks && slot("remind-tasks").count < policy.max_reminders {
            let since = slot("remind-tasks").last_at;
            let pending: Vec<(u32, Timestamp)> = incident
                .tasks
                .iter()
                .filter(|task| task.state == TaskState::Open)
                .filter_map(|task| task.due.map(|due| (task.number, due)))
                .filter(|(_, due)| since.is_none_or(|since| *due > since))
                .collect();
            let overdue: Vec<u32> = pending.iter().filter(|(_, due)| *due <= now).map(|(number, _)| *number).collect();
            if !overdue.is_empty() {
                plan.due.push(Job::Reminder(Reminder::TasksOverdue(overdue)));
            } else if let Some(first) = pending.iter().map(|(_, due)| *due).min() {
                plan.upcoming.push(("remind-tasks".into(), first));
            }
        }
    }
    // Legal clocks keep running after the incident closes.
    let sent = |regime: &str, stage: u32| slot(&deadline_key(regime, stage)).count;
    for point in deadline::reminders_due(incident, regimes, sent, now) {
        plan.due.push(Job::Reminder(Reminder::Deadline(point)));
    }
    for (regime, stage, at) in deadline::next_points(incident, regimes, now) {
        plan.upcoming.push((deadline_key(&regime, stage), at));
    }
    plan
}

/// After close: the questionnaire, reminders to those who have not
/// answered, and the report once everyone has or the window ends.
fn retrospective(
    plan: &mut Plan,
    closed_at: Timestamp,
    slots: &Slots,
    activity: &Activity,
    policy: &Policy,
    now: Timestamp,
) {
    let slot = |key: &str| slots.get(key).copied().unwrap_or_default();
    let retro = &policy.retro;
    let asked_at = match slot("questionnaire").last_at {
        Some(at) if at >= closed_at => at,
        _ => return plan.at(Job::Questionnaire, closed_at, now),
    };
    let waiting = activity.asked.saturating_sub(activity.answered);
    let report = slot("report");
    let reported = report.last_at.is_some_and(|last| last >= asked_at);
    let report_at = match report.requested_at {
        Some(requested) => Some(requested),
        None if reported => None,
        None if waiting == 0 => Some(asked_at),
        None => retro.window.map(|window| window.deadline(asked_at, &policy.time_zone)),
    };
    if let Some(at) = report_at {
        plan.at(Job::Report, at, now);
    }
    // Nobody is chased once the report is out, or due before the reminder.
    let reminders = slot("retro-remind");
    if waiting > 0 && reminders.count < retro.max_reminders && !reported {
        let since = reminders.last_at.filter(|last| *last >= asked_at).unwrap_or(asked_at);
        let at = retro.remind_after.deadline(since, &policy.time_zone);
        if report_at.is_none_or(|report_at| at < report_at && report_at > now) {
            plan.at(Job::RetroReminder, at, now);
        }
    }
}

/// Remembers that `job` went out at `now`; a digest covered the timeline
/// up to entry `seq`. Returns the keys of the slots it changed.
pub fn record(slots: &mut Slots, job: &Job, now: Timestamp, seq: u64) -> Vec<String> {
    let mut touch = |key: String, reached: Option<u32>, covered: Option<u64>| {
        let slot = slots.entry(key.clone()).or_default();
        slot.last_at = Some(now);
        slot.count = reached.unwrap_or(slot.count + 1);
        if let Some(seq) = covered {
            slot.seq = seq;
            slot.requested_at = None;
        }
        key
    };
    match job {
        Job::Digest => vec![touch("digest".into(), None, Some(seq))],
        Job::FinalDigest => vec![touch("digest".into(), None, Some(seq)), touch("final-digest".into(), None, None)],
        Job::Tactical => vec![touch("tactical".into(), None, Some(seq))],
        Job::Report => vec![touch("report".into(), None, Some(seq))],
        Job::Questionnaire | Job::RetroReminder => vec![touch(job.key(), None, None)],
        Job::Reminder(Reminder::Deadline(point)) => vec![touch(job.key(), Some(point.reached), None)],
        Job::Reminder(_) => vec![touch(job.key(), None, None)],
    }
}

fn later(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.saturating_add(by).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests;

//! Scheduled mail: digests, reminders and the final digest. The second use
//! case beside ingest. `core::schedule` says what is due; this renders it,
//! queues it and remembers it, in the same transaction, so a crash neither
//! loses a digest nor sends one twice.
//!
//! `tick` runs from `sitrep tick` and from the daemon's timer; `run_due`
//! also runs inside ingest when commands changed an incident, so `digest
//! now` and a close are answered at once.

use jiff::Timestamp;
use tracing::{error, info, warn};

use crate::compose::{self, AutoSubmitted, Draft};
use crate::config::Config;
use crate::core::digest::{self, Audience, Inputs};
use crate::core::incident::{Incident, IncidentNumber, MailKind, TimelineEntry};
use crate::core::schedule::{self, Job, Reminder, Slots, Tactical};
use crate::pipeline::{IngestError, Pipeline, queue_mail};
use crate::render::{ClockView, DigestView, ReminderView};
use crate::retrospective;
use crate::store::{ScheduleFacts, Store, WriteTx};

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    pub incidents: usize,
    /// Mails queued (one per recipient).
    pub queued: usize,
    /// Incidents whose work failed; they are tried again at the next tick.
    pub failed: usize,
}

/// Runs every job due at `now`, one transaction per incident.
pub fn tick(pipeline: &Pipeline, store: &mut Store, now: Timestamp) -> Result<TickReport, IngestError> {
    let mut report = TickReport::default();
    for number in store.due_incidents(now)? {
        // One incident's trouble (a broken template override) holds up no other.
        match tick_incident(pipeline, store, number, now) {
            Ok(queued) => {
                report.queued += queued;
                report.incidents += 1;
            }
            Err(error) => {
                report.failed += 1;
                error!(incident = %number, error = format!("{error:#}"), "scheduled work failed; retrying in a minute");
                // Not every tick: a broken template would otherwise fill the log.
                store.postpone(number, now + jiff::SignedDuration::from_mins(1))?;
            }
        }
    }
    if report.queued > 0 {
        info!(incidents = report.incidents, queued = report.queued, "scheduled mail queued");
    }
    Ok(report)
}

fn tick_incident(
    pipeline: &Pipeline,
    store: &mut Store,
    number: IncidentNumber,
    now: Timestamp,
) -> Result<usize, IngestError> {
    let transaction = store.write()?;
    let Some(incident) = transaction.incident(number)? else {
        return Ok(0);
    };
    let queued = run_due(pipeline, &transaction, &incident, now)?;
    transaction.commit()?;
    Ok(queued)
}

/// Sends what is due for one incident and records when it next needs a
/// look. Returns the number of mails queued.
pub fn run_due(
    pipeline: &Pipeline,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    now: Timestamp,
) -> Result<usize, IngestError> {
    let config = pipeline.config();
    let mut facts = transaction.schedule_facts(incident.number)?;
    let plan = schedule::plan(incident, &facts.slots, &facts.activity, &config.regimes, &config.schedule, now);
    if plan.due.is_empty() {
        // The common case on ingest: only the next due times to record.
        transaction.set_due(incident.number, &plan.upcoming)?;
        return Ok(0);
    }
    let seq = transaction.last_seq(incident.number)?;
    let mut queued = 0;
    for job in &plan.due {
        let mut done = vec![job.clone()];
        queued += match job {
            Job::Digest | Job::FinalDigest => {
                let mut sent = send_digest(pipeline, transaction, incident, &facts, Audience::Executive, now)?;
                if *job == Job::Digest && config.schedule.tactical == Tactical::WithExecutive {
                    sent += send_digest(pipeline, transaction, incident, &facts, Audience::Tactical, now)?;
                    done.push(Job::Tactical);
                }
                sent
            }
            Job::Tactical => send_digest(pipeline, transaction, incident, &facts, Audience::Tactical, now)?,
            Job::Reminder(reminder) => send_reminder(pipeline, transaction, incident, reminder, now)?,
            Job::Questionnaire => retrospective::send_questionnaire(pipeline, transaction, incident, now)?,
            Job::RetroReminder => retrospective::send_reminders(pipeline, transaction, incident, now)?,
            Job::Report => retrospective::send_report(pipeline, transaction, incident, now)?,
        };
        for job in &done {
            for key in schedule::record(&mut facts.slots, job, now, seq) {
                transaction.save_slot(incident.number, &key, &facts.slots[&key])?;
            }
        }
    }
    // The questionnaire and answers just stored change who is waiting.
    facts.activity = transaction.activity(incident.number)?;
    let mut after = schedule::plan(incident, &facts.slots, &facts.activity, &config.regimes, &config.schedule, now);
    if !after.due.is_empty() {
        // Every job above moved its own slot on; one still due is a bug,
        // looked at again in a minute rather than in a tight loop.
        warn!(incident = %incident.number, jobs = ?after.due, "jobs still due after running; looking again later");
        after.upcoming.push(("recheck".to_string(), now + jiff::SignedDuration::from_mins(1)));
    }
    transaction.set_due(incident.number, &after.upcoming)?;
    Ok(queued)
}

/// Builds the next digest of `audience` without sending it: for
/// `sitrep digest --preview` and for `send_digest`.
pub fn compose_digest(
    config: &Config,
    incident: &Incident,
    slots: &Slots,
    since_last: &[TimelineEntry],
    audience: Audience,
    now: Timestamp,
) -> DigestView {
    let number = slots.get(digest_key(audience)).map_or(0, |slot| slot.count) + 1;
    let next_at = match (audience, config.schedule.tactical) {
        (Audience::Tactical, Tactical::Every(every)) => Some(now.saturating_add(every).unwrap_or(Timestamp::MAX)),
        // The next executive digest, a cadence after one sent now.
        _ => {
            let mut after = slots.clone();
            let digest = after.entry("digest".to_string()).or_default();
            digest.last_at = Some(now);
            digest.requested_at = None;
            schedule::next_digest(incident, &after, &config.schedule)
        }
    };
    let digest = digest::build(&Inputs {
        incident,
        since_last,
        number,
        audience,
        default_streams: &config.default_streams,
        regimes: &config.regimes,
        next_at,
        now,
    });
    let mut view = DigestView::of(&digest, incident, &config.time_zone, config.address.with_detail(None));
    view.retrospective = digest.closing && config.schedule.retro.enabled;
    view
}

/// The last timeline entry the previous digest for `audience` covered.
pub fn covered(slots: &Slots, audience: Audience) -> u64 {
    slots.get(digest_key(audience)).map_or(0, |slot| slot.seq)
}

fn digest_key(audience: Audience) -> &'static str {
    match audience {
        Audience::Executive => "digest",
        Audience::Tactical => "tactical",
    }
}

fn send_digest(
    pipeline: &Pipeline,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    facts: &ScheduleFacts,
    audience: Audience,
    now: Timestamp,
) -> Result<usize, IngestError> {
    let config = pipeline.config();
    let since_last = transaction.timeline_after(incident.number, covered(&facts.slots, audience))?;
    let view = compose_digest(config, incident, &facts.slots, &since_last, audience, now);
    let (text, html) = pipeline.renderer().digest(&view)?;
    let (recipients, kind) = match audience {
        Audience::Executive => (executives(config, incident), MailKind::Digest),
        Audience::Tactical => {
            (responders(config, incident, &transaction.authors(incident.number)?), MailKind::Tactical)
        }
    };
    for recipient in &recipients {
        let draft = own_copy(config, incident, recipient, view.subject.clone(), text.clone(), Some(html.clone()), None);
        queue_mail(config, transaction, kind, Some(incident.number), draft, now)?;
    }
    if recipients.is_empty() {
        warn!(incident = %incident.number, kind = kind.as_str(), "a digest is due but nobody is to receive it");
    }
    Ok(recipients.len())
}

fn send_reminder(
    pipeline: &Pipeline,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    reminder: &Reminder,
    now: Timestamp,
) -> Result<usize, IngestError> {
    let config = pipeline.config();
    let recipients = schedule::reminder_recipients(incident, reminder, &config.access);
    let clock = match reminder {
        Reminder::Deadline(point) => digest::clock(incident, &config.regimes, &point.regime, point.stage, now)
            .map(|clock| ClockView::of(&clock, &config.time_zone)),
        _ => None,
    };
    let view = ReminderView::of(reminder, incident, clock, &config.time_zone, config.address.with_detail(None));
    let body = pipeline.renderer().reminder(&view)?;
    let subject = format!("[{}] {}", incident.number, digest::reminder_subject(reminder));
    for recipient in &recipients {
        let draft = own_copy(config, incident, recipient, subject.clone(), body.clone(), None, None);
        queue_mail(config, transaction, MailKind::Reminder, Some(incident.number), draft, now)?;
    }
    Ok(recipients.len())
}

/// `[stakeholders] executives` and the incident's `notify` additions.
pub(crate) fn executives(config: &Config, incident: &Incident) -> Vec<String> {
    digest::executives(incident, &config.executives, &config.address)
}

pub(crate) fn responders(config: &Config, incident: &Incident, authors: &[String]) -> Vec<String> {
    digest::responders(incident, authors, &config.access, &config.address)
}

/// One recipient's own copy, threaded under the incident's root, and under
/// `parent` when it follows up an earlier mail.
pub(crate) fn own_copy(
    config: &Config,
    incident: &Incident,
    recipient: &str,
    subject: String,
    body: String,
    html: Option<String>,
    parent: Option<String>,
) -> Draft {
    let mut references = vec![incident.thread_root.clone()];
    references.extend(parent.clone());
    Draft {
        from: config.address.with_detail(None),
        to: vec![recipient.to_string()],
        cc: Vec::new(),
        subject,
        body,
        html,
        message_id: compose::new_message_id(&config.address),
        in_reply_to: parent,
        references,
        auto_submitted: AutoSubmitted::Generated,
        loop_marker: config.address.with_detail(None),
    }
}

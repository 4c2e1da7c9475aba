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

use crate::config::Config;
use crate::core::digest::{self, Audience, Inputs};
use crate::core::incident::{Channel, Incident, IncidentNumber, MailKind};
use crate::core::recipients;
use crate::core::schedule::{self, Job, Reminder, Slots, Tactical};
use crate::core::timeline::TimelineEntry;
use crate::outgoing::{Outgoing, OutgoingError, executives, own_copy, queue_mail, responders, standalone};
use crate::render::{ClockView, CombinedDigestView, DigestView, ReminderView, RenderError, Renderer};
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

/// Runs every job due at `now`, one transaction per incident, after the
/// digests held back by the per-executive cap, one transaction per recipient.
pub fn tick(outgoing: &Outgoing, store: &mut Store, now: Timestamp) -> Result<TickReport, OutgoingError> {
    let mut report = TickReport::default();
    for recipient in store.released_digests(now)? {
        match release_held(outgoing, store, &recipient, now) {
            Ok(queued) => report.queued += queued,
            Err(error) => {
                report.failed += 1;
                error!(recipient, error = format!("{error:#}"), "held digests failed; retrying in a minute");
                if let Err(error) = store.postpone_held(&recipient, now + jiff::SignedDuration::from_mins(1)) {
                    error!(recipient, %error, "held digests not postponed");
                }
            }
        }
    }
    for number in store.due_incidents(now)? {
        // One incident's trouble (a broken template override) holds up no other.
        match tick_incident(outgoing, store, number, now) {
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
    outgoing: &Outgoing,
    store: &mut Store,
    number: IncidentNumber,
    now: Timestamp,
) -> Result<usize, OutgoingError> {
    let transaction = store.write()?;
    let Some(incident) = transaction.incident(number)? else {
        return Ok(0);
    };
    let queued = run_due(outgoing, &transaction, &incident, now)?;
    transaction.commit()?;
    Ok(queued)
}

/// Sends what is due for one incident and records when it next needs a
/// look. Returns the number of mails queued.
pub fn run_due(
    outgoing: &Outgoing,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    now: Timestamp,
) -> Result<usize, OutgoingError> {
    let config = outgoing.config();
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
                let mut sent = send_digest(outgoing, transaction, incident, &facts, Audience::Executive, now)?;
                if *job == Job::Digest && config.schedule.tactical == Tactical::WithExecutive {
                    sent += send_digest(outgoing, transaction, incident, &facts, Audience::Tactical, now)?;
                    done.push(Job::Tactical);
                }
                sent
            }
            Job::Tactical => send_digest(outgoing, transaction, incident, &facts, Audience::Tactical, now)?,
            Job::Reminder(reminder) => send_reminder(outgoing, transaction, incident, reminder, now)?,
            Job::Questionnaire => retrospective::send_questionnaire(outgoing, transaction, incident, now)?,
            Job::RetroReminder => retrospective::send_reminders(outgoing, transaction, incident, now)?,
            Job::Report => retrospective::send_report(outgoing, transaction, incident, now)?,
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
    renderer: &Renderer,
    incident: &Incident,
    slots: &Slots,
    since_last: &[TimelineEntry],
    audience: Audience,
    now: Timestamp,
) -> Result<DigestView, RenderError> {
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
    digest_view(config, renderer, incident, since_last, number, audience, next_at, now)
}

#[allow(clippy::too_many_arguments)] // the digest's facts, each read by a different caller
fn digest_view(
    config: &Config,
    renderer: &Renderer,
    incident: &Incident,
    since_last: &[TimelineEntry],
    number: u32,
    audience: Audience,
    next_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<DigestView, RenderError> {
    let digest = digest::build(&Inputs {
        incident,
        since_last,
        number,
        audience,
        default_streams: &config.default_streams,
        regimes: &config.regimes,
        next_at,
        cadence: schedule::cadence(incident, &config.schedule),
        now,
    });
    let mut view = renderer.digest_view(&digest, incident, config.address.with_detail(None))?;
    view.retrospective = digest.closing && config.schedule.retro.enabled;
    Ok(view)
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
    outgoing: &Outgoing,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    facts: &ScheduleFacts,
    audience: Audience,
    now: Timestamp,
) -> Result<usize, OutgoingError> {
    let config = outgoing.config();
    let since_last = transaction.timeline_after(incident.number, covered(&facts.slots, audience))?;
    let view = compose_digest(config, outgoing.renderer(), incident, &facts.slots, &since_last, audience, now)?;
    let (text, html) = outgoing.renderer().digest(&view)?;
    let (recipients, kind) = match audience {
        Audience::Executive => (executives(config, incident), MailKind::Digest),
        Audience::Tactical => {
            (responders(config, incident, &transaction.authors(incident.number)?), MailKind::Tactical)
        }
    };
    if recipients.is_empty() {
        warn!(incident = %incident.number, kind = kind.as_str(), "a digest is due but nobody is to receive it");
    }
    let mut queued = 0;
    for recipient in &recipients {
        if kind == MailKind::Digest
            && let Some(release_at) = paced_until(config, transaction, recipient, now)?
        {
            info!(incident = %incident.number, recipient, until = %release_at, "digest held by the per-executive cap");
            let since_seq = covered(&facts.slots, audience);
            transaction.hold_digest(recipient, incident.number, since_seq, release_at, now)?;
            continue;
        }
        let draft = own_copy(config, incident, recipient, view.subject.clone(), text.clone(), Some(html.clone()), None);
        queue_mail(config, transaction, kind, Some(incident.number), draft, now)?;
        queued += 1;
    }
    Ok(queued)
}

/// When `recipient` may next get an executive digest, if not now: digests
/// already held wait with them, so nothing overtakes them.
fn paced_until(
    config: &Config,
    transaction: &WriteTx<'_>,
    recipient: &str,
    now: Timestamp,
) -> Result<Option<Timestamp>, OutgoingError> {
    let per_hour = config.limits.digests_per_executive_per_hour;
    if per_hour == 0 {
        return Ok(None);
    }
    if let Some(release_at) = transaction.held_release(recipient)? {
        return Ok(Some(release_at.max(now)));
    }
    Ok(digest::paced_until(transaction.last_digest_to(recipient)?, per_hour, now))
}

/// Sends the digests held for one recipient: one incident's alone, in its
/// thread; several as one combined digest, each with what changed since
/// the recipient's last digest of it.
fn release_held(
    outgoing: &Outgoing,
    store: &mut Store,
    recipient: &str,
    now: Timestamp,
) -> Result<usize, OutgoingError> {
    let config = outgoing.config();
    let transaction = store.write()?;
    let mut incidents = Vec::new();
    let mut views = Vec::new();
    for (number, since_seq) in transaction.take_held(recipient)? {
        // One incident that cannot be read holds up none of the others.
        let read = |number| -> Result<_, crate::store::StoreError> {
            let incident = transaction.incident(number)?;
            Ok((incident, transaction.schedule_facts(number)?.slots, transaction.timeline_after(number, since_seq)?))
        };
        let (incident, slots, since_last) = match read(number) {
            Ok((Some(incident), slots, since_last)) => (incident, slots, since_last),
            Ok((None, ..)) => continue,
            Err(error) => {
                error!(incident = %number, recipient, %error, "a held digest cannot be read; left out");
                continue;
            }
        };
        // Taken off the incident's notify list meanwhile.
        if !executives(config, &incident).iter().any(|executive| executive == recipient) {
            continue;
        }
        let sent = slots.get(digest_key(Audience::Executive)).map_or(1, |slot| slot.count.max(1));
        let next_at = schedule::next_digest(&incident, &slots, &config.schedule);
        let renderer = outgoing.renderer();
        views.push(digest_view(config, renderer, &incident, &since_last, sent, Audience::Executive, next_at, now)?);
        incidents.push(incident);
    }
    // An incident out of band is never combined with others: its digest
    // goes alone, out of band, and names nothing to a company address.
    let mut sent = 0;
    while let Some(index) = incidents.iter().position(|incident| incident.channel == Channel::OutOfBand) {
        let (incident, view) = (incidents.remove(index), views.remove(index));
        let (text, html) = outgoing.renderer().digest(&view)?;
        let draft = own_copy(config, &incident, recipient, view.subject.clone(), text, Some(html), None);
        queue_mail(config, &transaction, MailKind::Digest, Some(incident.number), draft, now)?;
        sent += 1;
    }
    let draft = match (incidents.as_slice(), views.as_slice()) {
        ([], _) => return Ok(transaction.commit().map(|()| sent)?),
        ([incident], [view]) => {
            let (text, html) = outgoing.renderer().digest(view)?;
            own_copy(config, incident, recipient, view.subject.clone(), text, Some(html), None)
        }
        _ => {
            let per_hour = config.limits.digests_per_executive_per_hour;
            let view = CombinedDigestView::of(views, per_hour, config.address.with_detail(None));
            let (text, html) = outgoing.renderer().combined_digest(&view)?;
            let subject = digest::combined_subject(&incidents.iter().collect::<Vec<_>>());
            standalone(config, recipient, subject, text, Some(html))
        }
    };
    let single = (incidents.len() == 1).then(|| incidents[0].number);
    queue_mail(config, &transaction, MailKind::Digest, single, draft, now)?;
    transaction.commit()?;
    info!(recipient, incidents = incidents.len(), "held digests sent");
    Ok(sent + 1)
}

fn send_reminder(
    outgoing: &Outgoing,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    reminder: &Reminder,
    now: Timestamp,
) -> Result<usize, OutgoingError> {
    let config = outgoing.config();
    let recipients = recipients::reminder_recipients(incident, reminder, &config.access);
    let clock = match reminder {
        Reminder::Deadline(point) => digest::clock(incident, &config.regimes, &point.regime, point.stage, now)
            .map(|clock| ClockView::of(&clock, &config.time_zone)),
        _ => None,
    };
    let view = ReminderView::of(reminder, incident, clock, &config.time_zone, config.address.with_detail(None));
    let body = outgoing.renderer().reminder(&view)?;
    let subject = format!("[{}] {}", incident.number, digest::reminder_subject(reminder));
    for recipient in &recipients {
        let draft = own_copy(config, incident, recipient, subject.clone(), body.clone(), None, None);
        queue_mail(config, transaction, MailKind::Reminder, Some(incident.number), draft, now)?;
    }
    Ok(recipients.len())
}

//! Mail to a closed incident: answers to the retrospective's questionnaire,
//! stored and confirmed, and the notice to anyone else that it is closed.

use jiff::Timestamp;

use super::{IngestError, Pipeline};
use crate::core::incident::{EntryKind, Incident, MailKind, Trust};
use crate::core::mail::Inbound;
use crate::core::report::StoredAnswer;
use crate::core::retro;
use crate::core::subject::{self, Mail};
use crate::core::timeline::TimelineEntry;
use crate::render::{AnswersView, ClosedView, RecordedView, local_time};
use crate::scheduler;
use crate::store::WriteTx;

/// Whether `inbound`, from `sender`, answers the closed incident's
/// questionnaire: the store's facts for `retro::is_answer`.
pub fn is_answer(
    transaction: &WriteTx<'_>,
    inbound: &Inbound,
    incident: &Incident,
    sender: &str,
) -> Result<bool, IngestError> {
    let ids: Vec<String> = inbound.in_reply_to.iter().chain(&inbound.references).cloned().collect();
    let replied_to = transaction.questionnaire_among(&ids)?;
    let asked = transaction.questionnaire_id(incident.number, sender)?.is_some();
    Ok(retro::is_answer(incident.number, replied_to, asked, &inbound.subject))
}

/// Stores the answers in a reply, confirms what was recorded, and lets the
/// schedule send the report when everyone has answered.
pub fn take_answers(
    pipeline: &Pipeline,
    transaction: &WriteTx<'_>,
    inbound: &Inbound,
    incident: &Incident,
    sender: &str,
    now: Timestamp,
) -> Result<(), IngestError> {
    let config = pipeline.config();
    let parsed = retro::parse(&inbound.text, &config.questions);
    let before = transaction.answers_of(incident.number, sender)?;
    let merged = retro::merge(&config.questions, &before, &parsed);
    for (question, text) in merged.store {
        let answer = StoredAnswer { respondent: sender.to_string(), question, text, answered_at: now };
        transaction.save_answer(incident.number, &answer, inbound.message_id.as_deref())?;
    }
    let numbers: Vec<String> = merged.recorded.iter().map(|(number, _)| number.to_string()).collect();
    let summary = match (numbers.is_empty(), parsed.comment.is_some()) {
        (true, false) => "Replied to the retrospective without answers.".to_string(),
        (true, true) => "Answered the retrospective with a general comment.".to_string(),
        (false, _) => format!("Answered retrospective questions {}.", numbers.join(", ")),
    };
    transaction.append_timeline(
        incident.number,
        &TimelineEntry {
            at: now,
            author: sender.to_string(),
            kind: EntryKind::Note,
            text: summary,
            message_id: inbound.message_id.clone(),
            trust: Trust::Staff,
            outcome: None,
        },
    )?;
    if !parsed.is_empty() {
        let open: Vec<String> = merged.open.iter().map(usize::to_string).collect();
        let body = pipeline.outgoing().renderer().answers(&AnswersView {
            id: incident.number.to_string(),
            title: incident.title.clone(),
            recorded: merged.recorded.iter().map(|&(number, replaced)| RecordedView { number, replaced }).collect(),
            comment: parsed.comment.is_some(),
            open: open.join(", "),
            address: config.address.with_detail(None),
        })?;
        let subject = subject::line(Mail::AnswersRecorded, incident.number, &incident.title);
        let draft =
            pipeline.outgoing().reply_in_thread(incident, inbound, vec![sender.to_string()], Vec::new(), subject, body);
        pipeline.outgoing().enqueue(transaction, MailKind::Transcript, Some(incident.number), draft, now)?;
    }
    scheduler::run_due(pipeline.outgoing(), transaction, incident, now)?;
    Ok(())
}

/// A mail to a closed incident that neither answers the retrospective nor
/// gives a command: it is kept, and the sender told the incident is closed.
pub fn tell_closed(
    pipeline: &Pipeline,
    transaction: &WriteTx<'_>,
    inbound: &Inbound,
    incident: &Incident,
    sender: &str,
    can_reopen: bool,
    now: Timestamp,
) -> Result<(), IngestError> {
    let config = pipeline.config();
    let body = pipeline.outgoing().renderer().closed(&ClosedView {
        id: incident.number.to_string(),
        title: incident.title.clone(),
        closed_at: incident.closed_at.map(|at| local_time(at, &config.time_zone)).unwrap_or_default(),
        can_reopen,
        address: config.address.with_detail(None),
    })?;
    let mail = Mail::Closed { replying_to: &inbound.subject };
    let subject = subject::line(mail, incident.number, &incident.title);
    let draft =
        pipeline.outgoing().reply_in_thread(incident, inbound, vec![sender.to_string()], Vec::new(), subject, body);
    Ok(pipeline.outgoing().enqueue(transaction, MailKind::Notice, Some(incident.number), draft, now)?)
}

//! Close and learn: the questionnaire to everyone who took part, answers
//! read from their replies, reminders to those who have not answered, and
//! the post-incident report. The scheduler decides when; this writes the
//! mail and keeps the records, inside the caller's transaction.

use jiff::Timestamp;
use tracing::info;

use crate::config::Config;
use crate::core::incident::{EntryKind, Incident, MailKind, TimelineEntry, Trust};
use crate::core::mail::Inbound;
use crate::core::recipients;
use crate::core::report::{self, StoredAnswer};
use crate::core::retro;
use crate::pipeline::{IngestError, Pipeline, queue_mail};
use crate::render::{
    AnswersView, ClosedView, QuestionView, QuestionnaireView, RecordedView, ReportView, RetroSummaryView, local_time,
};
use crate::scheduler::{self, executives};
use crate::store::{RetroRecords, WriteTx};

fn questionnaire_view(config: &Config, incident: &Incident) -> QuestionnaireView {
    QuestionnaireView {
        id: incident.number.to_string(),
        title: incident.title.clone(),
        closed_at: incident.closed_at.map(|at| local_time(at, &config.time_zone)).unwrap_or_default(),
        questions: QuestionView::list(&config.questions),
        address: config.address.with_detail(None),
    }
}

/// Everyone who took part, and the executives if configured, each asked
/// once per incident. Returns the mails queued.
pub fn send_questionnaire(
    pipeline: &Pipeline,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    now: Timestamp,
) -> Result<usize, IngestError> {
    let config = pipeline.config();
    let mut participants = scheduler::responders(config, incident, &transaction.authors(incident.number)?);
    if config.questionnaire_to_executives {
        participants = recipients::union(participants, &executives(config, incident));
    }
    let body = pipeline.renderer().questionnaire(&questionnaire_view(config, incident))?;
    let subject = format!("[{}] Retrospective: {}", incident.number, incident.title);
    let mut queued = 0;
    for participant in participants {
        let draft = scheduler::own_copy(config, incident, &participant, subject.clone(), body.clone(), None, None);
        if transaction.record_questionnaire(incident.number, &participant, &draft.message_id, now)? {
            queue_mail(config, transaction, MailKind::Questionnaire, Some(incident.number), draft, now)?;
            queued += 1;
        }
    }
    info!(incident = %incident.number, queued, "retrospective questionnaire sent");
    Ok(queued)
}

/// The questionnaire again to those who have not answered, threaded under
/// the one they were sent, and who has answered to the lead.
pub fn send_reminders(
    pipeline: &Pipeline,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    now: Timestamp,
) -> Result<usize, IngestError> {
    let config = pipeline.config();
    let records = transaction.retro_records(incident.number)?;
    let (answered, waiting) = respondents(&records);
    let body = pipeline.renderer().retro_reminder(&questionnaire_view(config, incident))?;
    let subject = format!("Re: [{}] Retrospective: {}", incident.number, incident.title);
    let mut queued = 0;
    for address in &waiting {
        let parent = transaction.questionnaire_id(incident.number, address)?;
        let draft = scheduler::own_copy(config, incident, address, subject.clone(), body.clone(), None, parent);
        queue_mail(config, transaction, MailKind::Reminder, Some(incident.number), draft, now)?;
        queued += 1;
    }
    let summary = pipeline.renderer().retro_summary(&RetroSummaryView {
        id: incident.number.to_string(),
        title: incident.title.clone(),
        answered,
        waiting,
        address: config.address.with_detail(None),
    })?;
    let lead = incident.lead.clone().unwrap_or_else(|| incident.declared_by.clone());
    let subject = format!("[{}] Retrospective: who has answered", incident.number);
    let draft = scheduler::own_copy(config, incident, &lead, subject, summary, None, None);
    queue_mail(config, transaction, MailKind::Reminder, Some(incident.number), draft, now)?;
    Ok(queued + 1)
}

/// Who of those asked has answered anything, and who has not.
fn respondents(records: &RetroRecords) -> (Vec<String>, Vec<String>) {
    records
        .asked
        .iter()
        .cloned()
        .partition(|address| records.answers.iter().any(|answer| &answer.respondent == address))
}

/// The report as the templates see it.
pub fn compose_report(
    config: &Config,
    incident: &Incident,
    timeline: &[TimelineEntry],
    records: &RetroRecords,
    now: Timestamp,
) -> ReportView {
    let report = report::build(&report::Inputs {
        incident,
        timeline,
        questions: &config.questions,
        answers: &records.answers,
        asked: &records.asked,
        regimes: &config.regimes,
        evidence: &records.evidence,
        now,
    });
    ReportView::of(&report, incident, &config.time_zone, now, config.address.with_detail(None))
}

/// The report to the executives and everyone asked, each their own copy.
pub fn send_report(
    pipeline: &Pipeline,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    now: Timestamp,
) -> Result<usize, IngestError> {
    let config = pipeline.config();
    let records = transaction.retro_records(incident.number)?;
    let timeline = transaction.timeline_after(incident.number, 0)?;
    let view = compose_report(config, incident, &timeline, &records, now);
    let (markdown, html) = pipeline.renderer().report(&view)?;
    let recipients = recipients::union(executives(config, incident), &records.asked);
    let subject = format!("[{}] Post-incident report: {}", incident.number, incident.title);
    for recipient in &recipients {
        let draft = scheduler::own_copy(
            config,
            incident,
            recipient,
            subject.clone(),
            markdown.clone(),
            Some(html.clone()),
            None,
        );
        queue_mail(config, transaction, MailKind::Report, Some(incident.number), draft, now)?;
    }
    info!(incident = %incident.number, recipients = recipients.len(), "post-incident report sent");
    Ok(recipients.len())
}

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
        },
    )?;
    if !parsed.is_empty() {
        let open: Vec<String> = merged.open.iter().map(usize::to_string).collect();
        let body = pipeline.renderer().answers(&AnswersView {
            id: incident.number.to_string(),
            title: incident.title.clone(),
            recorded: merged.recorded.iter().map(|&(number, replaced)| RecordedView { number, replaced }).collect(),
            comment: parsed.comment.is_some(),
            open: open.join(", "),
            address: config.address.with_detail(None),
        })?;
        let subject = format!("Recorded: [{}] Retrospective: {}", incident.number, incident.title);
        let draft = pipeline.reply_in_thread(incident, inbound, vec![sender.to_string()], Vec::new(), subject, body);
        pipeline.enqueue(transaction, MailKind::Transcript, Some(incident.number), draft, now)?;
    }
    scheduler::run_due(pipeline, transaction, incident, now)?;
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
    let body = pipeline.renderer().closed(&ClosedView {
        id: incident.number.to_string(),
        title: incident.title.clone(),
        closed_at: incident.closed_at.map(|at| local_time(at, &config.time_zone)).unwrap_or_default(),
        can_reopen,
        address: config.address.with_detail(None),
    })?;
    let subject = format!("{} is closed: {}", incident.number, crate::core::subject::strip_prefixes(&inbound.subject));
    let draft = pipeline.reply_in_thread(incident, inbound, vec![sender.to_string()], Vec::new(), subject, body);
    pipeline.enqueue(transaction, MailKind::Notice, Some(incident.number), draft, now)
}

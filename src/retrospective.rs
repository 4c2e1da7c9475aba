//! Close and learn: the questionnaire to everyone who took part, answers
//! read from their replies, reminders to those who have not answered, and
//! the post-incident report. The scheduler decides when; this writes the
//! mail and keeps the records, inside the caller's transaction.

use jiff::Timestamp;
use tracing::info;

use crate::config::Config;
use crate::core::incident::{Incident, MailKind};
use crate::core::recipients;
use crate::core::report;
use crate::core::subject::{self, Mail};
use crate::core::timeline::TimelineEntry;
use crate::outgoing::{Outgoing, OutgoingError, executives, own_copy, queue_mail, responders};
use crate::render::{QuestionView, QuestionnaireView, RenderError, Renderer, ReportView, RetroSummaryView, local_time};
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
    outgoing: &Outgoing,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    now: Timestamp,
) -> Result<usize, OutgoingError> {
    let config = outgoing.config();
    let mut participants = responders(config, incident, &transaction.authors(incident.number)?);
    if config.questionnaire_to_executives {
        participants = recipients::union(participants, &executives(config, incident));
    }
    let body = outgoing.renderer().questionnaire(&questionnaire_view(config, incident))?;
    let subject = subject::line(Mail::Questionnaire, incident.number, &incident.title);
    let mut queued = 0;
    for participant in participants {
        let draft = own_copy(config, incident, &participant, subject.clone(), body.clone(), None, None);
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
    outgoing: &Outgoing,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    now: Timestamp,
) -> Result<usize, OutgoingError> {
    let config = outgoing.config();
    let records = transaction.retro_records(incident.number)?;
    let (answered, waiting) = respondents(&records);
    let body = outgoing.renderer().retro_reminder(&questionnaire_view(config, incident))?;
    let subject = subject::line(Mail::QuestionnaireReminder, incident.number, &incident.title);
    let mut queued = 0;
    for address in &waiting {
        let parent = transaction.questionnaire_id(incident.number, address)?;
        let draft = own_copy(config, incident, address, subject.clone(), body.clone(), None, parent);
        queue_mail(config, transaction, MailKind::Reminder, Some(incident.number), draft, now)?;
        queued += 1;
    }
    let summary = outgoing.renderer().retro_summary(&RetroSummaryView {
        id: incident.number.to_string(),
        title: incident.title.clone(),
        answered,
        waiting,
        address: config.address.with_detail(None),
    })?;
    let lead = incident.lead.clone().unwrap_or_else(|| incident.declared_by.clone());
    let subject = subject::line(Mail::AnswersSummary, incident.number, &incident.title);
    let draft = own_copy(config, incident, &lead, subject, summary, None, None);
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
    renderer: &Renderer,
    incident: &Incident,
    timeline: &[TimelineEntry],
    records: &RetroRecords,
    now: Timestamp,
) -> Result<ReportView, RenderError> {
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
    ReportView::of(&report, incident, renderer, now, config.address.with_detail(None))
}

/// The report to the executives and everyone asked, each their own copy.
pub fn send_report(
    outgoing: &Outgoing,
    transaction: &WriteTx<'_>,
    incident: &Incident,
    now: Timestamp,
) -> Result<usize, OutgoingError> {
    let config = outgoing.config();
    let records = transaction.retro_records(incident.number)?;
    let timeline = transaction.timeline_after(incident.number, 0)?;
    let view = compose_report(config, outgoing.renderer(), incident, &timeline, &records, now)?;
    let (markdown, html) = outgoing.renderer().report(&view)?;
    let recipients = recipients::union(executives(config, incident), &records.asked);
    let subject = subject::line(Mail::Report, incident.number, &incident.title);
    for recipient in &recipients {
        let draft = own_copy(config, incident, recipient, subject.clone(), markdown.clone(), Some(html.clone()), None);
        queue_mail(config, transaction, MailKind::Report, Some(incident.number), draft, now)?;
    }
    info!(incident = %incident.number, recipients = recipients.len(), "post-incident report sent");
    Ok(recipients.len())
}

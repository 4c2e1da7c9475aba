//! `sitrep export --json`: the whole store as one JSON document, the format
//! documented in `docs/export.md`. The only module that writes JSON; its
//! view structs keep the domain types free of serialisation concerns.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::core::incident::{CadenceOverride, Draft, DraftStatus, Incident};
use crate::core::outcome::Done;
use crate::core::report::StoredAnswer;
use crate::core::timeline::TimelineEntry;
use crate::store::{AttachmentRecord, MessageRecord, OutboxRecord, Store, StoreError, StoreResult, time_text};

/// Bumped only when a field is renamed or removed; new fields keep it.
pub const FORMAT: &str = "sitrep-export/1";

#[derive(Debug, Serialize)]
pub struct Export {
    pub format: &'static str,
    pub incidents: Vec<IncidentView>,
    pub messages: Vec<MessageView>,
    pub outbox: Vec<OutboxView>,
}

#[derive(Debug, Serialize)]
pub struct IncidentView {
    pub id: String,
    pub title: String,
    /// The incident type, which picked its playbook; null until known.
    #[serde(rename = "type")]
    pub incident_type: Option<&'static str>,
    pub status: &'static str,
    pub severity: Option<&'static str>,
    pub phase: &'static str,
    pub lead: Option<String>,
    pub scope: Option<String>,
    pub impact: Option<String>,
    pub declared_by: String,
    pub declared_at: String,
    pub closed_at: Option<String>,
    pub milestones: MilestonesView,
    /// Role name to holder.
    pub roles: BTreeMap<&'static str, String>,
    /// Pre-drafted communications, `D1` first.
    pub drafts: Vec<DraftView>,
    pub streams: Vec<StreamView>,
    pub tasks: Vec<TaskView>,
    pub notify: Vec<String>,
    /// The reason given with `close: <reason>`.
    pub resolution: Option<String>,
    /// `null`: digests follow the severity; `0`: off; else minutes.
    pub cadence_minutes: Option<i64>,
    /// `normal`, or `out-of-band`: its mail goes only to out-of-band addresses.
    pub channel: &'static str,
    pub deadlines: Vec<DeadlineView>,
    pub retrospective: RetrospectiveView,
    pub timeline: Vec<TimelineView>,
}

#[derive(Debug, Serialize)]
pub struct RetrospectiveView {
    /// Everyone sent the questionnaire.
    pub asked: Vec<String>,
    pub answers: Vec<AnswerView>,
}

#[derive(Debug, Serialize)]
pub struct AnswerView {
    pub respondent: String,
    /// A question id from the configuration, or `comment`.
    pub question: String,
    pub text: String,
    pub answered_at: String,
}

#[derive(Debug, Serialize)]
pub struct DeadlineView {
    pub regime: String,
    pub stage: u32,
    pub what: String,
    pub started_at: String,
    pub due: Option<String>,
    pub state: &'static str,
    pub closed_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MilestonesView {
    pub aware: Option<String>,
    pub started: Option<String>,
    pub detected: Option<String>,
    pub contained: Option<String>,
    pub eradicated: Option<String>,
    pub recovered: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StreamView {
    pub name: &'static str,
    pub lead: Option<String>,
    pub status: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TaskView {
    pub number: u32,
    pub text: String,
    pub owner: Option<String>,
    pub due: Option<String>,
    pub state: &'static str,
    pub created_at: String,
    pub closed_at: Option<String>,
    /// For a playbook step: the type whose playbook it is.
    pub playbook: Option<&'static str>,
}

/// A draft as it stands: its latest version and the decision on it.
#[derive(Debug, Serialize)]
pub struct DraftView {
    /// `D1`
    pub id: String,
    pub kind: &'static str,
    pub framing: &'static str,
    /// The latest version's number, and its text.
    pub version: u32,
    pub body: String,
    /// `waiting`, `approved` or `rejected`.
    pub status: &'static str,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    /// Who rejected the latest version, when and why, when they did.
    pub rejected_by: Option<String>,
    pub rejected_at: Option<String>,
    pub reason: Option<String>,
    /// Every version, oldest first, each with its own decision.
    pub versions: Vec<DraftVersionView>,
}

#[derive(Debug, Serialize)]
pub struct DraftVersionView {
    pub version: u32,
    pub by: String,
    pub at: String,
    pub body: String,
    pub decision: Option<DecisionView>,
}

#[derive(Debug, Serialize)]
pub struct DecisionView {
    /// `approved` or `rejected`.
    pub status: &'static str,
    pub by: String,
    pub at: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TimelineView {
    pub at: String,
    pub author: String,
    pub kind: &'static str,
    pub text: String,
    pub message_id: Option<String>,
    pub trust: &'static str,
    /// What a command did, as data (`core::outcome::Done`); absent for
    /// other entries and for commands stored before outcomes were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Done>,
}

#[derive(Debug, Serialize)]
pub struct MessageView {
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub received_at: String,
    pub outcome: String,
    pub incident: Option<String>,
    pub reason: Option<String>,
    pub sha256: String,
    pub attachments: Vec<AttachmentView>,
}

#[derive(Debug, Serialize)]
pub struct AttachmentView {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Serialize)]
pub struct OutboxView {
    pub kind: &'static str,
    pub incident: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub status: &'static str,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub body: String,
}

pub fn export(store: &Store) -> StoreResult<Export> {
    let mut incidents = Vec::new();
    for incident in store.incidents()? {
        let timeline = store.timeline(incident.number)?;
        let responses = store.retro_responses(incident.number)?;
        incidents.push(incident_view(incident, timeline, responses));
    }
    let attachments = store.attachments()?;
    let messages = store.messages()?.into_iter().map(|message| message_view(message, &attachments)).collect();
    let outbox = store.outbox()?.into_iter().map(outbox_view).collect();
    Ok(Export { format: FORMAT, incidents, messages, outbox })
}

pub fn to_json(export: &Export) -> String {
    serde_json::to_string_pretty(export).expect("export views always serialise")
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
}

/// The export as `to_json` writes it, byte for byte, written one incident,
/// message and outbox row at a time: memory stays flat as the store grows.
/// A store error part way leaves the document unfinished, and says so.
pub fn write_json(store: &Store, out: &mut impl Write) -> Result<(), ExportError> {
    store.in_one_snapshot(|| write_document(store, out))
}

fn write_document(store: &Store, out: &mut impl Write) -> Result<(), ExportError> {
    write!(out, "{{\n  \"format\": {},\n  \"incidents\": [", serde_json::json!(FORMAT))?;
    let mut first = true;
    for number in store.incident_numbers()? {
        let Some(incident) = store.incident(number)? else { continue };
        let (timeline, responses) = (store.timeline(number)?, store.retro_responses(number)?);
        element(out, &incident_view(incident, timeline, responses), &mut first)?;
    }
    end_sequence(out, first)?;
    out.write_all(b",\n  \"messages\": [")?;
    let mut first = true;
    store.each_message(|message| {
        let attachments = store.attachments_of(message.id)?;
        let attachments: Vec<AttachmentRecord> =
            attachments.into_iter().map(|meta| AttachmentRecord { message: message.id, meta }).collect();
        Ok::<(), ExportError>(element(out, &message_view(message, &attachments), &mut first)?)
    })?;
    end_sequence(out, first)?;
    out.write_all(b",\n  \"outbox\": [")?;
    let mut first = true;
    store.each_outbox(|row| Ok::<(), ExportError>(element(out, &outbox_view(row), &mut first)?))?;
    end_sequence(out, first)?;
    out.write_all(b"\n}")?;
    Ok(())
}

/// One element of a top-level array, indented as `to_string_pretty` does.
fn element(out: &mut impl Write, value: &impl Serialize, first: &mut bool) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    out.write_all(if *first { b"\n" } else { b",\n" })?;
    *first = false;
    for (index, line) in text.lines().enumerate() {
        if index > 0 {
            out.write_all(b"\n")?;
        }
        out.write_all(b"    ")?;
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn end_sequence(out: &mut impl Write, empty: bool) -> std::io::Result<()> {
    out.write_all(if empty { b"]" } else { b"\n  ]" })
}

/// Long on purpose: one line per field of the export format, which scripts
/// depend on, so the whole mapping reads in one place.
fn incident_view(
    incident: Incident,
    timeline: Vec<TimelineEntry>,
    (asked, answers): (Vec<String>, Vec<StoredAnswer>),
) -> IncidentView {
    IncidentView {
        id: incident.number.to_string(),
        title: incident.title,
        incident_type: incident.kind.map(|kind| kind.as_str()),
        status: incident.status.as_str(),
        severity: incident.severity.map(|severity| severity.as_str()),
        phase: incident.phase.as_str(),
        lead: incident.lead,
        scope: incident.scope,
        impact: incident.impact,
        declared_by: incident.declared_by,
        declared_at: time_text(incident.declared_at),
        closed_at: incident.closed_at.map(time_text),
        milestones: MilestonesView {
            aware: incident.milestones.aware.map(time_text),
            started: incident.milestones.started.map(time_text),
            detected: incident.milestones.detected.map(time_text),
            contained: incident.milestones.contained.map(time_text),
            eradicated: incident.milestones.eradicated.map(time_text),
            recovered: incident.milestones.recovered.map(time_text),
        },
        roles: incident.roles.into_iter().map(|(role, holder)| (role.as_str(), holder)).collect(),
        drafts: incident.drafts.iter().map(draft_view).collect(),
        streams: incident
            .streams
            .into_iter()
            .map(|(stream, state)| StreamView {
                name: stream.as_str(),
                lead: state.lead,
                status: state.status,
                updated_at: state.updated_at.map(time_text),
            })
            .collect(),
        tasks: incident
            .tasks
            .into_iter()
            .map(|task| TaskView {
                number: task.number,
                text: task.text,
                owner: task.owner,
                due: task.due.map(time_text),
                state: task.state.as_str(),
                created_at: time_text(task.created_at),
                closed_at: task.closed_at.map(time_text),
                playbook: task.playbook.map(|(kind, _)| kind.as_str()),
            })
            .collect(),
        notify: incident.notify,
        resolution: incident.resolution,
        cadence_minutes: incident.cadence.map(|cadence| match cadence {
            CadenceOverride::Off => 0,
            CadenceOverride::Every(every) => every.as_secs() / 60,
        }),
        channel: incident.channel.as_str(),
        deadlines: incident
            .deadlines
            .into_iter()
            .map(|deadline| DeadlineView {
                regime: deadline.regime,
                stage: deadline.stage,
                what: deadline.what,
                started_at: time_text(deadline.started_at),
                due: deadline.due.map(time_text),
                state: deadline.state.as_str(),
                closed_at: deadline.closed_at.map(time_text),
            })
            .collect(),
        retrospective: RetrospectiveView {
            asked,
            answers: answers
                .into_iter()
                .map(|answer| AnswerView {
                    respondent: answer.respondent,
                    question: answer.question,
                    text: answer.text,
                    answered_at: time_text(answer.answered_at),
                })
                .collect(),
        },
        timeline: timeline
            .into_iter()
            .map(|entry| TimelineView {
                at: time_text(entry.at),
                author: entry.author,
                kind: entry.kind.as_str(),
                text: entry.text,
                message_id: entry.message_id,
                trust: entry.trust.as_str(),
                outcome: entry.outcome,
            })
            .collect(),
    }
}

fn message_view(message: MessageRecord, attachments: &[AttachmentRecord]) -> MessageView {
    MessageView {
        message_id: message.message_id,
        from: message.from,
        subject: message.subject,
        received_at: time_text(message.received_at),
        outcome: message.outcome,
        incident: message.incident.map(|number| number.to_string()),
        reason: message.reason,
        sha256: message.sha256,
        attachments: attachments
            .iter()
            .filter(|attachment| attachment.message == message.id)
            .map(|attachment| AttachmentView {
                name: attachment.meta.name.clone(),
                content_type: attachment.meta.content_type.clone(),
                size: attachment.meta.size,
                sha256: attachment.meta.sha256.clone(),
            })
            .collect(),
    }
}

fn outbox_view(row: OutboxRecord) -> OutboxView {
    OutboxView {
        kind: row.kind.as_str(),
        incident: row.incident.map(|number| number.to_string()),
        to: row.to,
        cc: row.cc,
        subject: row.subject,
        message_id: row.message_id,
        status: row.status.as_str(),
        attempts: row.attempts,
        last_error: row.last_error,
        created_at: time_text(row.created_at),
        sent_at: row.sent_at.map(time_text),
        body: row.body,
    }
}

fn draft_view(draft: &Draft) -> DraftView {
    let latest = draft.versions.last();
    let decision = latest.and_then(|version| version.decision.as_ref());
    let approved = decision.filter(|decision| decision.status == DraftStatus::Approved);
    let rejected = decision.filter(|decision| decision.status == DraftStatus::Rejected);
    DraftView {
        id: format!("D{}", draft.number),
        kind: draft.kind.as_str(),
        framing: draft.framing.as_str(),
        version: latest.map_or(0, |version| version.version),
        body: latest.map(|version| version.body.clone()).unwrap_or_default(),
        status: draft.status().as_str(),
        approved_by: approved.map(|decision| decision.by.clone()),
        approved_at: approved.map(|decision| time_text(decision.at)),
        rejected_by: rejected.map(|decision| decision.by.clone()),
        rejected_at: rejected.map(|decision| time_text(decision.at)),
        reason: rejected.and_then(|decision| decision.reason.clone()),
        versions: draft
            .versions
            .iter()
            .map(|version| DraftVersionView {
                version: version.version,
                by: version.by.clone(),
                at: time_text(version.at),
                body: version.body.clone(),
                decision: version.decision.as_ref().map(|decision| DecisionView {
                    status: decision.status.as_str(),
                    by: decision.by.clone(),
                    at: time_text(decision.at),
                    reason: decision.reason.clone(),
                }),
            })
            .collect(),
    }
}

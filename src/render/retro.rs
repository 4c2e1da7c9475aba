//! Views of the retrospective's mail and of the post-incident report, with
//! every time already in the organisation's zone.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::{RenderError, Renderer, RoleView, StreamView, local_time};
use crate::core::deadline::describe_duration;
use crate::core::incident::{Incident, Severity, Trust};
use crate::core::report::Report;
use crate::core::retro::Question;
use crate::core::timeline::TimelineEntry;

#[derive(Debug, Serialize)]
pub struct QuestionView {
    pub number: usize,
    pub id: String,
    pub text: String,
}

impl QuestionView {
    pub fn list(questions: &[Question]) -> Vec<QuestionView> {
        questions
            .iter()
            .enumerate()
            .map(|(index, question)| QuestionView {
                number: index + 1,
                id: question.id.clone(),
                text: question.text.clone(),
            })
            .collect()
    }
}

/// The questionnaire, and the reminder that repeats it.
#[derive(Debug, Serialize)]
pub struct QuestionnaireView {
    pub id: String,
    pub title: String,
    pub closed_at: String,
    pub questions: Vec<QuestionView>,
    pub address: String,
}

/// To the lead: who has answered so far.
#[derive(Debug, Serialize)]
pub struct RetroSummaryView {
    pub id: String,
    pub title: String,
    pub answered: Vec<String>,
    pub waiting: Vec<String>,
    pub address: String,
}

/// The confirmation of a reply with answers.
#[derive(Debug, Serialize)]
pub struct AnswersView {
    pub id: String,
    pub title: String,
    pub recorded: Vec<RecordedView>,
    pub comment: bool,
    /// Numbers of the questions still without an answer from this person.
    pub open: String,
    pub address: String,
}

#[derive(Debug, Serialize)]
pub struct RecordedView {
    pub number: usize,
    pub replaced: bool,
}

/// The answer to mail about an incident that is closed.
#[derive(Debug, Serialize)]
pub struct ClosedView {
    pub id: String,
    pub title: String,
    pub closed_at: String,
    pub can_reopen: bool,
    pub address: String,
}

#[derive(Debug, Serialize)]
pub struct ReportView {
    pub id: String,
    pub title: String,
    pub severity: &'static str,
    pub status: &'static str,
    pub scope: String,
    pub impact: String,
    pub resolution: Option<String>,
    pub lead: String,
    pub roles: Vec<RoleView>,
    pub milestones: Vec<NamedTime>,
    pub durations: Vec<NamedTime>,
    pub timeline: Vec<EntryView>,
    pub streams: Vec<StreamView>,
    pub tasks: Vec<ReportTaskView>,
    pub deadlines: Vec<DeadlineView>,
    pub questions: Vec<AnsweredQuestionView>,
    pub comments: Vec<AnswerView>,
    pub rating: Option<String>,
    pub answered: Vec<String>,
    pub not_answered: Vec<String>,
    pub evidence: Vec<EvidenceView>,
    /// Every draft, each version and the decision on it.
    pub drafts: Vec<ReportDraftView>,
    pub generated_at: String,
    pub address: String,
}

#[derive(Debug, Serialize)]
pub struct ReportDraftView {
    pub id: String,
    pub kind: &'static str,
    pub framing: &'static str,
    /// "version 1 by alice@… at …, approved by … at …", oldest first.
    pub versions: Vec<String>,
    /// The latest version's: `approved`, `rejected` or `waiting`.
    pub decision: String,
}

#[derive(Debug, Serialize)]
pub struct NamedTime {
    pub name: &'static str,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub at: String,
    pub author: String,
    pub kind: &'static str,
    /// Empty for staff; else who it came from and that it changed nothing.
    pub trust: &'static str,
    pub lines: Vec<String>,
    /// For a command, what it did, in the digest's words.
    pub said: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ReportTaskView {
    pub number: u32,
    pub text: String,
    pub owner: Option<String>,
    pub due: Option<String>,
    pub state: &'static str,
    pub closed_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DeadlineView {
    pub title: String,
    pub what: String,
    pub due: Option<String>,
    pub outcome: String,
    pub met: bool,
}

#[derive(Debug, Serialize)]
pub struct AnsweredQuestionView {
    pub number: usize,
    pub text: String,
    pub answers: Vec<AnswerView>,
}

#[derive(Debug, Serialize)]
pub struct AnswerView {
    pub respondent: String,
    pub lines: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct EvidenceView {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub from: String,
    pub received_at: String,
}

fn lines(text: &str) -> Vec<String> {
    super::text::reflow(text)
}

fn entry_view(entry: &TimelineEntry, renderer: &Renderer) -> Result<EntryView, RenderError> {
    Ok(EntryView {
        at: local_time(entry.at, &renderer.time_zone),
        author: entry.author.clone(),
        kind: entry.kind.as_str(),
        trust: match entry.trust {
            Trust::Staff => "",
            Trust::Partner => "partner",
            Trust::External => "from outside; changed nothing",
            Trust::Unverified => "failed the sender checks; changed nothing",
            Trust::CompromisedChannel => "from a possibly compromised company mailbox; changed nothing",
        },
        lines: if entry.text.trim().is_empty() { vec!["(no text)".to_string()] } else { lines(entry.text.trim()) },
        said: entry.outcome.as_ref().map(|done| renderer.digest_line(done)).transpose()?,
    })
}

impl ReportView {
    pub fn of(
        report: &Report,
        incident: &Incident,
        renderer: &Renderer,
        now: Timestamp,
        address: String,
    ) -> Result<ReportView, RenderError> {
        let time_zone = &renderer.time_zone;
        let unknown = || "not recorded".to_string();
        let timeline = report.timeline.iter().map(|entry| entry_view(entry, renderer)).collect::<Result<_, _>>()?;
        Ok(ReportView {
            id: incident.number.to_string(),
            title: incident.title.clone(),
            severity: incident.severity.map_or("not assessed", Severity::as_str),
            status: incident.status.as_str(),
            scope: incident.scope.clone().unwrap_or_else(unknown),
            impact: incident.impact.clone().unwrap_or_else(unknown),
            resolution: incident.resolution.clone(),
            lead: incident.lead.clone().unwrap_or_else(|| "nobody".to_string()),
            roles: RoleView::list(incident),
            milestones: report
                .milestones
                .iter()
                .map(|(name, at)| NamedTime { name, value: local_time(*at, time_zone) })
                .collect(),
            durations: report
                .durations
                .iter()
                .map(|(name, value)| NamedTime { name, value: describe_duration(*value) })
                .collect(),
            timeline,
            streams: incident
                .streams
                .iter()
                .map(|(stream, state)| StreamView::of(*stream, state, "no update"))
                .collect(),
            tasks: task_views(incident, time_zone),
            deadlines: report
                .deadlines
                .iter()
                .map(|deadline| DeadlineView {
                    title: deadline.title.clone(),
                    what: deadline.what.clone(),
                    due: deadline.due.map(|due| local_time(due, time_zone)),
                    outcome: deadline.outcome.clone(),
                    met: deadline.met,
                })
                .collect(),
            questions: question_views(report),
            comments: report
                .comments
                .iter()
                .map(|(respondent, text)| AnswerView { respondent: respondent.clone(), lines: lines(text) })
                .collect(),
            rating: report.rating.map(|(average, count)| {
                let people = if count == 1 { "1 person".to_string() } else { format!("{count} people") };
                format!("{average:.1} of 5, from {people}")
            }),
            answered: report.answered.clone(),
            not_answered: report.not_answered.clone(),
            evidence: evidence_views(report, time_zone),
            drafts: draft_views(incident, time_zone),
            generated_at: local_time(now, time_zone),
            address,
        })
    }
}

/// Every question, with each person's answer.
fn question_views(report: &Report) -> Vec<AnsweredQuestionView> {
    let answer =
        |(respondent, text): &(String, String)| AnswerView { respondent: respondent.clone(), lines: lines(text) };
    report
        .questions
        .iter()
        .enumerate()
        .map(|(index, question)| AnsweredQuestionView {
            number: index + 1,
            text: question.text.clone(),
            answers: question.answers.iter().map(answer).collect(),
        })
        .collect()
}

fn task_views(incident: &Incident, time_zone: &TimeZone) -> Vec<ReportTaskView> {
    incident
        .tasks
        .iter()
        .map(|task| ReportTaskView {
            number: task.number,
            text: task.text.clone(),
            owner: task.owner.clone(),
            due: task.due.map(|due| local_time(due, time_zone)),
            state: task.state.as_str(),
            closed_at: task.closed_at.map(|at| local_time(at, time_zone)),
        })
        .collect()
}

fn evidence_views(report: &Report, time_zone: &TimeZone) -> Vec<EvidenceView> {
    report
        .evidence
        .iter()
        .map(|item| EvidenceView {
            name: item.name.clone().unwrap_or_else(|| "(no name)".to_string()),
            content_type: item.content_type.clone(),
            size: item.size,
            sha256: item.sha256.clone(),
            from: item.from.clone().unwrap_or_else(|| "unknown sender".to_string()),
            received_at: local_time(item.received_at, time_zone),
        })
        .collect()
}

fn draft_views(incident: &Incident, time_zone: &TimeZone) -> Vec<ReportDraftView> {
    incident
        .drafts
        .iter()
        .map(|draft| ReportDraftView {
            id: format!("D{}", draft.number),
            kind: draft.kind.as_str(),
            framing: draft.framing.as_str(),
            versions: draft
                .versions
                .iter()
                .map(|version| {
                    let decided = version.decision.as_ref().map(|decision| {
                        let reason = decision.reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default();
                        format!(
                            ", {} by {} at {}{reason}",
                            decision.status,
                            decision.by,
                            local_time(decision.at, time_zone)
                        )
                    });
                    let at = local_time(version.at, time_zone);
                    format!("version {} by {} at {at}{}", version.version, version.by, decided.unwrap_or_default())
                })
                .collect(),
            decision: draft.status().as_str().to_string(),
        })
        .collect()
}

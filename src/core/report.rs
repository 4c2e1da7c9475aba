//! The post-incident report as data: milestones and the durations between
//! them, the timeline, streams, tasks, notification deadlines and how each
//! was met, the retrospective's answers by question, and the evidence with
//! its hashes. `render` turns it into Markdown and HTML.

use jiff::{SignedDuration, Timestamp};

use super::deadline::Regime;
use super::digest;
use super::incident::{DeadlineState, EntryKind, Incident};
use super::retro::{self, COMMENT, Question};
use super::timeline::TimelineEntry;

/// One stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub respondent: String,
    /// A question id, or `retro::COMMENT`.
    pub question: String,
    pub text: String,
    pub answered_at: Timestamp,
}

/// An attachment received for the incident: what it was, who sent it, and
/// its SHA-256, for the chain of custody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub from: Option<String>,
    pub received_at: Timestamp,
}

pub struct Inputs<'a> {
    pub incident: &'a Incident,
    pub timeline: &'a [TimelineEntry],
    pub questions: &'a [Question],
    pub answers: &'a [StoredAnswer],
    /// Everyone sent the questionnaire.
    pub asked: &'a [String],
    pub regimes: &'a [Regime],
    pub evidence: &'a [Evidence],
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub milestones: Vec<(&'static str, Timestamp)>,
    pub durations: Vec<(&'static str, SignedDuration)>,
    /// Everything but internal notes, oldest first.
    pub timeline: Vec<TimelineEntry>,
    pub deadlines: Vec<DeadlineOutcome>,
    pub questions: Vec<QuestionAnswers>,
    pub comments: Vec<(String, String)>,
    /// The average of the 1–5 ratings, and how many gave one.
    pub rating: Option<(f64, usize)>,
    pub answered: Vec<String>,
    pub not_answered: Vec<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineOutcome {
    pub title: String,
    pub what: String,
    pub due: Option<Timestamp>,
    /// "met 2 d 3 h before the deadline", "missed by 4 h", "not applicable".
    pub outcome: String,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionAnswers {
    pub id: String,
    pub text: String,
    /// Respondent and answer.
    pub answers: Vec<(String, String)>,
}

pub fn build(inputs: &Inputs<'_>) -> Report {
    let incident = inputs.incident;
    let milestones = &incident.milestones;
    let mut times: Vec<(&'static str, Timestamp)> = [
        ("Started", milestones.started),
        ("Detected", milestones.detected),
        ("Aware", milestones.aware),
        ("Declared", Some(incident.declared_at)),
        ("Contained", milestones.contained),
        ("Eradicated", milestones.eradicated),
        ("Recovered", milestones.recovered),
        ("Closed", incident.closed_at),
    ]
    .into_iter()
    .filter_map(|(name, at)| at.map(|at| (name, at)))
    .collect();
    times.sort_by_key(|(_, at)| *at);
    let answered: Vec<String> = inputs
        .asked
        .iter()
        .filter(|address| inputs.answers.iter().any(|answer| &answer.respondent == *address))
        .cloned()
        .collect();
    let not_answered = inputs.asked.iter().filter(|address| !answered.contains(address)).cloned().collect();
    let ratings: Vec<u8> = inputs
        .answers
        .iter()
        .filter(|answer| answer.question == retro::RATING)
        .filter_map(|answer| retro::rating(&answer.text))
        .collect();
    Report {
        milestones: times,
        durations: digest::durations(incident, inputs.now),
        timeline: inputs.timeline.iter().filter(|entry| entry.kind != EntryKind::Note).cloned().collect(),
        deadlines: deadlines(incident, inputs.regimes, inputs.now),
        questions: inputs
            .questions
            .iter()
            .map(|question| QuestionAnswers {
                id: question.id.clone(),
                text: question.text.clone(),
                answers: inputs
                    .answers
                    .iter()
                    .filter(|answer| answer.question == question.id)
                    .map(|answer| (answer.respondent.clone(), answer.text.clone()))
                    .collect(),
            })
            .collect(),
        comments: inputs
            .answers
            .iter()
            .filter(|answer| answer.question == COMMENT)
            .map(|answer| (answer.respondent.clone(), answer.text.clone()))
            .collect(),
        rating: (!ratings.is_empty()).then(|| {
            (ratings.iter().map(|&rating| f64::from(rating)).sum::<f64>() / ratings.len() as f64, ratings.len())
        }),
        answered,
        not_answered,
        evidence: inputs.evidence.to_vec(),
    }
}

fn deadlines(incident: &Incident, regimes: &[Regime], now: Timestamp) -> Vec<DeadlineOutcome> {
    incident
        .deadlines
        .iter()
        .map(|deadline| {
            let title = regimes
                .iter()
                .find(|regime| regime.name == deadline.regime)
                .map_or_else(|| deadline.regime.clone(), |regime| regime.title.clone());
            let describe = digest::time_left;
            let (outcome, met) = match (deadline.state, deadline.closed_at, deadline.due) {
                (DeadlineState::Dropped, _, _) => ("not applicable (dropped)".to_string(), false),
                (DeadlineState::Met, Some(at), Some(due)) if at <= due => (
                    format!("met, {}", describe(due.duration_since(at)).replace(" left", " before the deadline")),
                    true,
                ),
                (DeadlineState::Met, Some(at), Some(due)) => {
                    (format!("met late, {}", describe(due.duration_since(at))), false)
                }
                (DeadlineState::Met, _, None) => ("done".to_string(), true),
                (DeadlineState::Met, None, Some(_)) => ("met".to_string(), true),
                (DeadlineState::Running, _, Some(due)) if now > due => {
                    (format!("MISSED: not done, {}", describe(due.duration_since(now))), false)
                }
                (DeadlineState::Running, _, Some(due)) => {
                    (format!("still running, {}", describe(due.duration_since(now))), false)
                }
                (DeadlineState::Running, _, None) => ("not done yet".to_string(), false),
            };
            DeadlineOutcome { title, what: deadline.what.clone(), due: deadline.due, outcome, met }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::incident::{Deadline, IncidentNumber, Status, Trust};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn milestones_durations_answers_and_deadlines() {
        let mut incident = Incident::declare(
            IncidentNumber(1),
            "Ransomware".into(),
            "alice@company.test".into(),
            at("2026-11-27T10:00:00Z"),
            "root@company.test".into(),
        );
        incident.milestones.detected = Some(at("2026-11-27T09:50:00Z"));
        incident.milestones.contained = Some(at("2026-11-27T11:20:00Z"));
        incident.milestones.recovered = Some(at("2026-11-27T15:50:00Z"));
        incident.status = Status::Closed;
        incident.closed_at = Some(at("2026-11-27T16:00:00Z"));
        incident.deadlines.push(Deadline {
            regime: "gdpr".into(),
            stage: 0,
            what: "notify the supervisory authority".into(),
            started_at: at("2026-11-27T09:50:00Z"),
            due: Some(at("2026-11-30T09:50:00Z")),
            state: DeadlineState::Met,
            closed_at: Some(at("2026-11-28T09:50:00Z")),
        });
        let note = TimelineEntry {
            at: at("2026-11-27T10:05:00Z"),
            author: "bob@company.test".into(),
            kind: EntryKind::Note,
            text: "internal".into(),
            message_id: None,
            trust: Trust::Staff,
            outcome: None,
        };
        let answer = |respondent: &str, question: &str, text: &str| StoredAnswer {
            respondent: respondent.into(),
            question: question.into(),
            text: text.into(),
            answered_at: at("2026-11-28T10:00:00Z"),
        };
        let answers = [
            answer("alice@company.test", "happened", "Phishing at 09:14."),
            answer("alice@company.test", "rating", "4"),
            answer("bob@company.test", "rating", "5, quick"),
            answer("bob@company.test", "comment", "Good work."),
        ];
        let asked = ["alice@company.test".to_string(), "bob@company.test".into(), "carol@company.test".into()];
        let report = build(&Inputs {
            incident: &incident,
            timeline: &[note],
            questions: &retro::default_questions(),
            answers: &answers,
            asked: &asked,
            regimes: &[],
            evidence: &[],
            now: at("2026-11-29T00:00:00Z"),
        });
        let names: Vec<&str> = report.milestones.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["Detected", "Declared", "Contained", "Recovered", "Closed"]);
        assert_eq!(
            report.durations,
            [
                ("to contain", SignedDuration::from_mins(90)),
                ("to recover", SignedDuration::from_hours(6)),
                ("in total", SignedDuration::from_mins(370)),
            ]
        );
        assert!(report.timeline.is_empty(), "notes stay internal");
        assert_eq!(report.deadlines[0].outcome, "met, 2 d before the deadline");
        assert_eq!(report.questions[0].answers, [("alice@company.test".to_string(), "Phishing at 09:14.".to_string())]);
        assert_eq!(report.rating, Some((4.5, 2)));
        assert_eq!(report.not_answered, ["carol@company.test"]);
        assert_eq!(report.comments.len(), 1);
    }
}

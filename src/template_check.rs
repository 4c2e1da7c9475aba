//! Every template rendered on sample data, so that a broken override is a
//! configuration error at start, at `sitrep check-config` and at reload,
//! not a failure on the first real mail.

use jiff::Timestamp;

use crate::config::Config;
use crate::core::command::Milestone;
use crate::core::deadline::{PointReached, describe_duration};
use crate::core::digest::{self, Audience};
use crate::core::incident::{
    Channel, Deadline, DeadlineState, DraftKind, DraftStatus, Duty, EntryKind, Framing, Incident, IncidentNumber,
    IncidentType, Phase, Role, Severity, Status, Stream, StreamState, Task, TaskState, Trust,
};
use crate::core::outcome::{Act, ClockBasis, Done, Margin, Refusal, Shift, StageDue, StepTask};
use crate::core::report::{Evidence, StoredAnswer};
use crate::core::schedule::Reminder;
use crate::core::timeline::TimelineEntry;
use crate::core::transition::Applied;
use crate::render::{
    AckView, AnswersView, ClockView, ClosedView, CombinedDigestView, DigestView, DraftFacts, DraftMailView, NoticeView,
    QuestionView, QuestionnaireView, RecordedView, ReminderView, RenderError, Renderer, RetroSummaryView,
    TranscriptView, UnverifiedView, local_time,
};
use crate::store::RetroRecords;
use crate::{retrospective, scheduler};

/// Renders every template with sample data, so a broken override shows up
/// before mail depends on it.
pub fn check_templates(config: &Config) -> anyhow::Result<()> {
    let renderer = Renderer::new(config.templates_dir.as_deref(), &config.time_zone)?;
    let address = config.address.with_detail(None);
    renderer.ack(&AckView {
        incident: "INC-1".into(),
        title: "Sample incident",
        declared_by: "someone@example.test",
        declared_at: "2026-01-01 00:00 UTC".into(),
        executives: config.executives.join(", "),
        critical_every: describe_duration(config.schedule.cadence.critical),
        high_every: describe_duration(config.schedule.cadence.high),
        unassessed_every: describe_duration(config.schedule.cadence.unassessed),
        address: address.clone(),
        has_commands: true,
        commands: renderer.command_views(&sample_outcomes())?,
        playbook: "sample".into(),
    })?;
    let mut sample = Incident::declare(
        IncidentNumber(1),
        "Sample incident".into(),
        "someone@example.test".into(),
        Timestamp::UNIX_EPOCH,
        "root@example.test".into(),
    );
    sample.streams.insert(Stream::Legal, StreamState { lead: None, status: Some("sample".into()), updated_at: None });
    let card = renderer.card(&sample, &config.time_zone)?;
    for view in sample_digests(config, &renderer)? {
        renderer.digest(&view)?;
    }
    let per_hour = config.limits.digests_per_executive_per_hour;
    renderer.combined_digest(&CombinedDigestView::of(sample_digests(config, &renderer)?, per_hour, address.clone()))?;
    for view in sample_reminders(config) {
        renderer.reminder(&view)?;
    }
    sample_retrospective(config, &renderer)?;
    for draft in sample_drafts(config, &renderer, &sample)? {
        renderer.draft_mail(&DraftMailView {
            id: "INC-1".into(),
            number: 1,
            kind: "customer-notice",
            framing: "worst",
            version: 1,
            next: 2,
            at: "2026-01-01 00:00 UTC".into(),
            body: draft,
            address: address.clone(),
        })?;
    }
    let outcomes = sample_outcomes();
    for done in outcomes.iter().filter_map(|applied| applied.outcome.as_ref().ok()) {
        renderer.digest_line(done)?;
    }
    renderer.transcript(&TranscriptView {
        lines: renderer.command_views(&outcomes)?,
        errors: outcomes.iter().filter(|applied| applied.outcome.is_err()).count(),
        count: outcomes.len(),
        card,
        help: "sample".into(),
        address: address.clone(),
    })?;
    renderer.unverified(&UnverifiedView {
        incident: "INC-1".into(),
        sender: "someone@example.test",
        reason: "sample reason",
        address: address.clone(),
    })?;
    for staff in [true, false] {
        let notice = NoticeView { address: address.clone(), reason: "sample reason", staff };
        renderer.refused(&notice)?;
        renderer.quarantined(&notice)?;
    }
    Ok(())
}

/// Every kind of draft in both framings, for `incident`.
fn sample_drafts(config: &Config, renderer: &Renderer, incident: &Incident) -> Result<Vec<String>, RenderError> {
    let facts = DraftFacts {
        organisation: config.organisation.as_deref(),
        type_title: Some("Ransomware"),
        regimes: &config.regimes,
        now: incident.declared_at,
    };
    let mut drafts = Vec::new();
    for kind in DraftKind::ALL {
        for framing in Framing::ALL {
            drafts.push(renderer.draft(incident, *kind, *framing, &facts)?);
        }
    }
    Ok(drafts)
}

/// Every outcome and refusal a command can have, each once.
fn sample_outcomes() -> Vec<Applied> {
    let at: Timestamp = Timestamp::UNIX_EPOCH;
    let address = || "someone@example.test".to_string();
    let stage = || StageDue { what: "notify the authority".into(), due: Some(at), within: Some("72 h".into()) };
    let done = [
        Done::SeveritySet { severity: Severity::High, shift: Some(Shift::Raised) },
        Done::Retitled { title: "Sample incident".into() },
        Done::TypeSet {
            incident_type: IncidentType::Bec,
            title: "Business email compromise".into(),
            suggested: true,
            was: Some(IncidentType::Phishing),
            steps: vec![StepTask {
                number: 4,
                what: "Call the bank's fraud line".into(),
                duty: Duty::Lead,
                owner: None,
                due: at,
                why: "A recall works only within hours".into(),
            }],
            dropped: vec![1, 2],
            regimes: vec!["gdpr".into()],
            questions: vec!["Which payments went out?".into()],
        },
        Done::PhaseSet { phase: Phase::Containment },
        Done::Milestone { milestone: Milestone::Contained, at, phase: Phase::Eradication },
        Done::ScopeSet { scope: "sample".into() },
        Done::ImpactSet { impact: "sample".into() },
        Done::Detected { at },
        Done::Started { at },
        Done::LeadSet { lead: address(), tasks: vec![1, 2] },
        Done::LeadRemoved,
        Done::RoleSet { role: Role::Legal, holder: address(), tasks: vec![3] },
        Done::RoleCleared { role: Role::Scribe, holder: address() },
        Done::NotifyAdded { address: address() },
        Done::NotifyRemoved { address: address() },
        Done::Closed { reason: Some("sample".into()) },
        Done::Reopened { phase: Phase::Recovery },
        Done::StatusSet { status: Status::Monitoring },
        Done::StreamStatusSet { stream: Stream::Technical, status: "sample".into() },
        Done::StreamLeadSet { stream: Stream::Legal, lead: address() },
        Done::TaskAdded { number: 1, text: "sample".into(), owner: Some(address()), due: Some(at) },
        Done::TaskClosed { number: 1, state: TaskState::Done, text: "sample".into() },
        Done::Quiet,
        Done::Noted,
        Done::HelpFollows,
        Done::CardFollows,
        Done::CadenceSet { every: Some(jiff::SignedDuration::from_mins(45)), off: false },
        Done::ReportNow,
        Done::DigestNow,
        Done::ClockStarted {
            title: "GDPR".into(),
            basis: ClockBasis::Awareness,
            start: at,
            stages: vec![stage(), StageDue { due: None, within: None, ..stage() }],
            ask_aware: true,
        },
        Done::ClockStopped { title: "GDPR".into() },
        Done::Aware { at, moved: vec![stage()] },
        Done::Drafted { number: 1, draft: DraftKind::CustomerNotice, framing: Framing::Worst },
        Done::DraftEdited { number: 1, version: 2 },
        Done::DraftApproved { number: 1, version: 2, unconfirmed: 3 },
        Done::DraftShown { number: 1, version: 2 },
        Done::DraftRejected { number: 1, version: 2, reason: Some("sample".into()) },
        Done::AuthorityNotified {
            title: "GDPR".into(),
            what: "notify the authority".into(),
            at,
            margin: Some(Margin { late: true, by: jiff::SignedDuration::from_hours(2) }),
        },
        Done::ChannelSwitched { channel: Channel::OutOfBand },
    ];
    let refused = [
        Refusal::Unreadable { problem: "unknown command `sevrity`; did you mean `sev`?".into() },
        Refusal::AlreadyType { incident_type: IncidentType::Bec },
        Refusal::NoSuchDraft { number: 9 },
        Refusal::DraftDecided { number: 1, status: DraftStatus::Approved },
        Refusal::NotSteering { act: Act::Close },
        Refusal::NotStaff { address: address() },
        Refusal::UnknownPerson { name: "sample".into() },
        Refusal::AmbiguousPerson { name: "sample".into(), candidates: vec![address(), address()] },
        Refusal::NobodyInRole { role: Role::InternalComms },
        Refusal::Outsider { address: address() },
        Refusal::AlreadyNotified { address: address() },
        Refusal::NotNotified { address: address() },
        Refusal::AlreadyClosed,
        Refusal::NotClosed,
        Refusal::ReportBeforeClose,
        Refusal::NoSuchTask { number: 9 },
        Refusal::TaskAlreadyClosed { number: 1, state: TaskState::Dropped },
        Refusal::CadenceOutOfRange,
        Refusal::UnknownRegime { name: "sample".into(), known: vec!["gdpr".into()] },
        Refusal::NoClockToStop { title: "GDPR".into() },
        Refusal::ClockAlreadyRunning { title: "GDPR".into() },
        Refusal::NoClockToMeet { title: "GDPR".into(), regime: "gdpr".into() },
        Refusal::InTheFuture,
        Refusal::Unplaceable { problem: "sample".into() },
        Refusal::NoFallback,
        Refusal::AlreadyOnChannel { channel: Channel::Normal },
    ];
    let applied = |outcome| Applied { written: "sample".into(), outcome, replaces: None, entry: None };
    done.into_iter().map(Ok).chain(refused.into_iter().map(Err)).map(applied).collect()
}

/// An incident with something in every part of a digest, as executive,
/// responder and closing digests.
fn sample_digests(config: &Config, renderer: &Renderer) -> Result<Vec<DigestView>, RenderError> {
    let sample = sample_incident();
    let since_last = sample_digests_timeline(&sample);
    let mut closed = sample.clone();
    closed.status = Status::Closed;
    closed.closed_at = Some(sample.declared_at);
    let slots = Default::default();
    let at = sample.declared_at;
    Ok(vec![
        scheduler::compose_digest(config, renderer, &sample, &slots, &since_last, Audience::Executive, at)?,
        scheduler::compose_digest(config, renderer, &sample, &slots, &since_last, Audience::Tactical, at)?,
        scheduler::compose_digest(config, renderer, &closed, &slots, &[], Audience::Executive, at)?,
    ])
}

/// Its notification deadline passed an hour ago, so the overdue form shows.
fn sample_incident() -> Incident {
    let at = Timestamp::constant(1_767_268_800, 0);
    let mut sample = Incident::declare(
        IncidentNumber(1),
        "Sample incident".into(),
        "someone@example.test".into(),
        at,
        "root@example.test".into(),
    );
    sample.lead = Some("lead@example.test".into());
    sample.streams.insert(Stream::Legal, StreamState { lead: None, status: Some("sample".into()), updated_at: None });
    sample.tasks.push(Task {
        number: 1,
        text: "Sample task".into(),
        owner: None,
        due: Some(at),
        state: TaskState::Open,
        created_at: at,
        closed_at: None,
        playbook: None,
    });
    sample.deadlines.push(Deadline {
        regime: "sample".into(),
        stage: 0,
        what: "notify the sample authority".into(),
        started_at: at - jiff::SignedDuration::from_hours(72),
        due: Some(at - jiff::SignedDuration::from_hours(1)),
        state: DeadlineState::Running,
        closed_at: None,
    });
    sample
}

fn sample_reminders(config: &Config) -> Vec<ReminderView> {
    let sample = sample_incident();
    let at = sample.declared_at;
    let clock = || {
        digest::clock(&sample, &config.regimes, "sample", 0, at).map(|clock| ClockView::of(&clock, &config.time_zone))
    };
    let point = PointReached { regime: "sample".into(), stage: 0, reached: 1 };
    [
        (Reminder::NoLead, None),
        (Reminder::NoScope, None),
        (Reminder::Quiet { digest_at: at }, None),
        (Reminder::TasksOverdue(vec![1]), None),
        (Reminder::Deadline(point), clock()),
    ]
    .into_iter()
    .map(|(reminder, clock)| {
        ReminderView::of(&reminder, &sample, clock, &config.time_zone, config.address.with_detail(None))
    })
    .collect()
}

/// The questionnaire, its reminder and summary, an answer confirmation,
/// the closed-incident notice and a report with an answer to each question.
fn sample_retrospective(config: &Config, renderer: &Renderer) -> anyhow::Result<(String, String)> {
    let mut sample = sample_incident();
    sample.status = Status::Closed;
    sample.closed_at = Some(sample.declared_at);
    let address = config.address.with_detail(None);
    let questionnaire = QuestionnaireView {
        id: "INC-1".into(),
        title: sample.title.clone(),
        closed_at: local_time(sample.declared_at, &config.time_zone),
        questions: QuestionView::list(&config.questions),
        address: address.clone(),
    };
    renderer.questionnaire(&questionnaire)?;
    renderer.retro_reminder(&questionnaire)?;
    renderer.retro_summary(&RetroSummaryView {
        id: "INC-1".into(),
        title: sample.title.clone(),
        answered: vec!["someone@example.test".into()],
        waiting: vec!["other@example.test".into()],
        address: address.clone(),
    })?;
    renderer.answers(&AnswersView {
        id: "INC-1".into(),
        title: sample.title.clone(),
        recorded: vec![RecordedView { number: 1, replaced: true }, RecordedView { number: 2, replaced: false }],
        comment: true,
        open: "3, 4".into(),
        address: address.clone(),
    })?;
    for can_reopen in [true, false] {
        renderer.closed(&ClosedView {
            id: "INC-1".into(),
            title: sample.title.clone(),
            closed_at: "2026-01-01 12:00 UTC".into(),
            can_reopen,
            address: address.clone(),
        })?;
    }
    let records = RetroRecords {
        asked: vec!["someone@example.test".into(), "other@example.test".into()],
        answers: config
            .questions
            .iter()
            .map(|question| StoredAnswer {
                respondent: "someone@example.test".into(),
                question: question.id.clone(),
                text: format!("Sample answer to {}\non two lines", question.id),
                answered_at: sample.declared_at,
            })
            .collect(),
        evidence: vec![Evidence {
            name: Some("ransom-note.txt".into()),
            content_type: "text/plain".into(),
            size: 1234,
            sha256: "0".repeat(64),
            from: Some("someone@example.test".into()),
            received_at: sample.declared_at,
        }],
    };
    let timeline = sample_digests_timeline(&sample);
    let view = retrospective::compose_report(config, renderer, &sample, &timeline, &records, sample.declared_at)?;
    Ok(renderer.report(&view)?)
}

/// An update and a command, so the digest words a command's outcome too.
fn sample_digests_timeline(sample: &Incident) -> Vec<TimelineEntry> {
    let update = TimelineEntry {
        at: sample.declared_at,
        author: "someone@example.test".into(),
        kind: EntryKind::Update,
        text: "Sample update\nwith two lines".into(),
        message_id: None,
        trust: Trust::Staff,
        outcome: None,
    };
    let command = TimelineEntry {
        kind: EntryKind::Command,
        text: "sev high".into(),
        outcome: Some(Done::SeveritySet { severity: Severity::High, shift: None }),
        ..update.clone()
    };
    vec![update, command]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn every_template_renders_with_sample_data() {
        let config = Config::parse(crate::config::EMBEDDED_DEFAULT, "embedded", Path::new(".")).unwrap();
        check_templates(&config).unwrap();
        let renderer = Renderer::new(None, &jiff::tz::TimeZone::UTC).unwrap();
        for view in sample_digests(&config, &renderer).unwrap() {
            let (text, html) = renderer.digest(&view).unwrap();
            assert!(text.contains("Sample update") || view.closing, "{text}");
            assert!(text.contains("Sample task") && text.contains("OVERDUE"), "{text}");
            assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Sample task"), "{html}");
        }
        let kinds: Vec<String> = sample_reminders(&config)
            .iter()
            .map(|view| renderer.reminder(view).unwrap().lines().next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "INC-1 still has no lead.",
                "The scope of INC-1 is still unknown.",
                "Nothing new has been posted to INC-1 since the last update.",
                "Tasks of INC-1 are past their due time:",
                "A notification deadline of INC-1 has passed.",
            ]
        );
    }

    #[test]
    fn the_report_renders_every_answer_and_escapes_html() {
        let config = Config::parse(crate::config::EMBEDDED_DEFAULT, "embedded", Path::new(".")).unwrap();
        let (markdown, html) =
            sample_retrospective(&config, &Renderer::new(None, &jiff::tz::TimeZone::UTC).unwrap()).unwrap();
        for question in &config.questions {
            let answer = format!("Sample answer to {}", question.id);
            assert!(markdown.contains(&answer) && html.contains(&answer), "{answer} missing");
        }
        assert!(markdown.contains("Did not answer: other@example.test."), "{markdown}");
        assert!(markdown.contains("  > sev high\n  Severity set to high\n"), "a command and what it did: {markdown}");
        assert!(html.contains(r#"<div class="said">Severity set to high</div>"#), "{html}");
        assert!(markdown.contains(&"0".repeat(64)) && markdown.contains("ransom-note.txt"), "{markdown}");
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    }

    #[test]
    fn html_digests_escape_what_people_wrote() {
        let config = Config::parse(crate::config::EMBEDDED_DEFAULT, "embedded", Path::new(".")).unwrap();
        let mut view =
            sample_digests(&config, &Renderer::new(None, &jiff::tz::TimeZone::UTC).unwrap()).unwrap().remove(0);
        view.title = "<script>alert(1)</script>".into();
        view.scope = "a & b <img src=x>".into();
        let (_, html) = Renderer::new(None, &jiff::tz::TimeZone::UTC).unwrap().digest(&view).unwrap();
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("a &amp; b &lt;img"), "{html}");
    }

    /// The variant a sample is of. A new outcome or refusal stops this
    /// compiling until it gets an arm here, and the test below fails until
    /// it also gets a sample and words of its own.
    fn variant(outcome: &Result<Done, Refusal>) -> &'static str {
        match outcome {
            Ok(done) => match done {
                Done::SeveritySet { .. } => "SeveritySet",
                Done::Retitled { .. } => "Retitled",
                Done::TypeSet { .. } => "TypeSet",
                Done::Drafted { .. } => "Drafted",
                Done::DraftEdited { .. } => "DraftEdited",
                Done::DraftApproved { .. } => "DraftApproved",
                Done::DraftShown { .. } => "DraftShown",
                Done::DraftRejected { .. } => "DraftRejected",
                Done::PhaseSet { .. } => "PhaseSet",
                Done::Milestone { .. } => "Milestone",
                Done::ScopeSet { .. } => "ScopeSet",
                Done::ImpactSet { .. } => "ImpactSet",
                Done::Detected { .. } => "Detected",
                Done::Started { .. } => "Started",
                Done::LeadSet { .. } => "LeadSet",
                Done::LeadRemoved => "LeadRemoved",
                Done::RoleSet { .. } => "RoleSet",
                Done::RoleCleared { .. } => "RoleCleared",
                Done::NotifyAdded { .. } => "NotifyAdded",
                Done::NotifyRemoved { .. } => "NotifyRemoved",
                Done::Closed { .. } => "Closed",
                Done::Reopened { .. } => "Reopened",
                Done::StatusSet { .. } => "StatusSet",
                Done::StreamStatusSet { .. } => "StreamStatusSet",
                Done::StreamLeadSet { .. } => "StreamLeadSet",
                Done::TaskAdded { .. } => "TaskAdded",
                Done::TaskClosed { .. } => "TaskClosed",
                Done::Quiet => "Quiet",
                Done::Noted => "Noted",
                Done::HelpFollows => "HelpFollows",
                Done::CardFollows => "CardFollows",
                Done::CadenceSet { .. } => "CadenceSet",
                Done::ReportNow => "ReportNow",
                Done::DigestNow => "DigestNow",
                Done::ClockStarted { .. } => "ClockStarted",
                Done::ClockStopped { .. } => "ClockStopped",
                Done::Aware { .. } => "Aware",
                Done::AuthorityNotified { .. } => "AuthorityNotified",
                Done::ChannelSwitched { .. } => "ChannelSwitched",
            },
            Err(refusal) => match refusal {
                Refusal::Unreadable { .. } => "Unreadable",
                Refusal::AlreadyType { .. } => "AlreadyType",
                Refusal::NoSuchDraft { .. } => "NoSuchDraft",
                Refusal::DraftDecided { .. } => "DraftDecided",
                Refusal::NotSteering { .. } => "NotSteering",
                Refusal::NotStaff { .. } => "NotStaff",
                Refusal::UnknownPerson { .. } => "UnknownPerson",
                Refusal::AmbiguousPerson { .. } => "AmbiguousPerson",
                Refusal::NobodyInRole { .. } => "NobodyInRole",
                Refusal::Outsider { .. } => "Outsider",
                Refusal::AlreadyNotified { .. } => "AlreadyNotified",
                Refusal::NotNotified { .. } => "NotNotified",
                Refusal::AlreadyClosed => "AlreadyClosed",
                Refusal::NotClosed => "NotClosed",
                Refusal::ReportBeforeClose => "ReportBeforeClose",
                Refusal::NoSuchTask { .. } => "NoSuchTask",
                Refusal::TaskAlreadyClosed { .. } => "TaskAlreadyClosed",
                Refusal::CadenceOutOfRange => "CadenceOutOfRange",
                Refusal::UnknownRegime { .. } => "UnknownRegime",
                Refusal::NoClockToStop { .. } => "NoClockToStop",
                Refusal::ClockAlreadyRunning { .. } => "ClockAlreadyRunning",
                Refusal::NoClockToMeet { .. } => "NoClockToMeet",
                Refusal::InTheFuture => "InTheFuture",
                Refusal::Unplaceable { .. } => "Unplaceable",
                Refusal::NoFallback => "NoFallback",
                Refusal::AlreadyOnChannel { .. } => "AlreadyOnChannel",
            },
        }
    }

    #[test]
    fn every_outcome_has_a_sample_and_words_of_its_own() {
        const VARIANTS: usize = 65;
        let samples = sample_outcomes();
        let sampled: std::collections::BTreeSet<&str> =
            samples.iter().map(|applied| variant(&applied.outcome)).collect();
        assert_eq!(sampled.len(), VARIANTS, "a variant has no sample in sample_outcomes");
        let template = include_str!("../templates/outcome.txt.tera");
        for applied in &samples {
            let json = match &applied.outcome {
                Ok(done) => serde_json::to_value(done).unwrap(),
                Err(refusal) => serde_json::to_value(refusal).unwrap(),
            };
            let kind = json["kind"].as_str().unwrap();
            assert!(template.contains(&format!("kind == \"{kind}\"")), "outcome.txt.tera has no words for `{kind}`");
        }
    }

    #[test]
    fn every_draft_says_what_it_does_not_know_and_frames_both_ways() {
        let config = Config::parse(crate::config::EMBEDDED_DEFAULT, "embedded", Path::new(".")).unwrap();
        let renderer = Renderer::new(None, &jiff::tz::TimeZone::UTC).unwrap();
        let sparse = Incident::declare(
            IncidentNumber(1),
            "Ransomware on FS01".into(),
            "alice@example.test".into(),
            Timestamp::UNIX_EPOCH,
            "root@example.test".into(),
        );
        let drafts = sample_drafts(&config, &renderer, &sparse).unwrap();
        for pair in drafts.chunks(2) {
            let (best, worst) = (&pair[0], &pair[1]);
            for text in [best, worst] {
                assert!(text.starts_with("Subject: "), "{text}");
                assert!(text.contains("[TO CONFIRM"), "{text}");
                assert!(!text.contains("{{") && !text.contains("{%") && !text.contains("\n\n\n\n"), "{text}");
                assert!(text.contains("alice@example.test"), "the contact is the declarer until a lead: {text}");
            }
            assert_ne!(best, worst, "the framings differ");
        }
        let mut known = sample_incident();
        known.scope = Some("FS01 and the finance share".into());
        let known_drafts = sample_drafts(&config, &renderer, &known).unwrap();
        let customers = &known_drafts[3];
        assert!(customers.contains("FS01 and the finance share"), "{customers}");
        assert!(customers.contains("[TO CONFIRM: number of people affected]"), "never known: {customers}");
        let marks = |text: &String| text.matches("[TO CONFIRM").count();
        for (sparse, known) in drafts.iter().zip(&known_drafts) {
            assert!(marks(sparse) >= marks(known), "what the incident knows is filled in, not marked: {known}");
        }
        let total = |drafts: &[String]| drafts.iter().map(marks).sum::<usize>();
        assert!(total(&drafts) > total(&known_drafts), "the known facts replace marks");
    }
}

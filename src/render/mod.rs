//! The tera adapter: the only module that knows templates. Templates ship
//! inside the binary; a file of the same name in `[templates] dir` wins.

use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use tera::{Context, Tera};

use crate::core::incident::{Channel, DeadlineState, Incident, Stream, StreamState, Task, TaskState};
use crate::core::schedule::Reminder;

mod digest;
mod draft;
mod outcome;
mod retro;
mod text;

pub use digest::{ChangeView, ClockView, CombinedDigestView, DigestView, DurationView};
pub use draft::{DraftFacts, DraftMailView};
pub use outcome::CommandView;
pub use retro::{AnswersView, ClosedView, QuestionView, QuestionnaireView, RecordedView, ReportView, RetroSummaryView};

const TEMPLATES: &[(&str, &str)] = &[
    ("ack.txt", include_str!("../../templates/ack.txt.tera")),
    ("refused.txt", include_str!("../../templates/refused.txt.tera")),
    ("quarantined.txt", include_str!("../../templates/quarantined.txt.tera")),
    ("transcript.txt", include_str!("../../templates/transcript.txt.tera")),
    ("card.txt", include_str!("../../templates/card.txt.tera")),
    ("unverified.txt", include_str!("../../templates/unverified.txt.tera")),
    ("digest.txt", include_str!("../../templates/digest.txt.tera")),
    ("digest.html", include_str!("../../templates/digest.html.tera")),
    ("digest-combined.txt", include_str!("../../templates/digest-combined.txt.tera")),
    ("digest-combined.html", include_str!("../../templates/digest-combined.html.tera")),
    ("reminder.txt", include_str!("../../templates/reminder.txt.tera")),
    ("questionnaire.txt", include_str!("../../templates/questionnaire.txt.tera")),
    ("retro-reminder.txt", include_str!("../../templates/retro-reminder.txt.tera")),
    ("retro-summary.txt", include_str!("../../templates/retro-summary.txt.tera")),
    ("answers.txt", include_str!("../../templates/answers.txt.tera")),
    ("closed.txt", include_str!("../../templates/closed.txt.tera")),
    ("report.md", include_str!("../../templates/report.md.tera")),
    ("report.html", include_str!("../../templates/report.html.tera")),
    ("outcome.txt", include_str!("../../templates/outcome.txt.tera")),
    ("draft-mail.txt", include_str!("../../templates/draft-mail.txt.tera")),
    ("drafts/staff-notice.txt", include_str!("../../templates/drafts/staff-notice.txt.tera")),
    ("drafts/customer-notice.txt", include_str!("../../templates/drafts/customer-notice.txt.tera")),
    ("drafts/regulator.txt", include_str!("../../templates/drafts/regulator.txt.tera")),
    ("drafts/insurer.txt", include_str!("../../templates/drafts/insurer.txt.tera")),
    ("drafts/bank.txt", include_str!("../../templates/drafts/bank.txt.tera")),
    ("drafts/police.txt", include_str!("../../templates/drafts/police.txt.tera")),
    ("drafts/board.txt", include_str!("../../templates/drafts/board.txt.tera")),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("cannot read template {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

pub struct Renderer {
    tera: Tera,
    time_zone: TimeZone,
}

#[derive(Debug, Serialize)]
pub struct AckView<'a> {
    pub incident: String,
    pub title: &'a str,
    pub declared_by: &'a str,
    pub declared_at: String,
    pub executives: String,
    /// The digest cadence of critical, high and unrated incidents, for people.
    pub critical_every: String,
    pub high_every: String,
    pub unassessed_every: String,
    pub address: String,
    pub has_commands: bool,
    pub commands: Vec<CommandView>,
    /// The type sitrep suggested and its first-hour playbook, in words;
    /// empty when the mail set a type or none was suggested.
    pub playbook: String,
}

#[derive(Debug, Serialize)]
pub struct TranscriptView {
    pub lines: Vec<CommandView>,
    pub errors: usize,
    pub count: usize,
    /// The incident's card, when `status?` asked for it; empty otherwise.
    pub card: String,
    /// The command reference, when `help` asked for it; empty otherwise.
    pub help: String,
    pub address: String,
}

#[derive(Debug, Serialize)]
pub struct UnverifiedView<'a> {
    pub incident: String,
    pub sender: &'a str,
    pub reason: &'a str,
    pub address: String,
}

#[derive(Debug, Serialize)]
struct CardView {
    id: String,
    title: String,
    status: &'static str,
    severity: &'static str,
    phase: &'static str,
    lead: String,
    roles: Vec<RoleView>,
    scope: String,
    impact: String,
    declared_at: String,
    declared_by: String,
    milestones: Vec<MilestoneView>,
    has_streams: bool,
    streams: Vec<StreamView>,
    has_tasks: bool,
    tasks: Vec<TaskView>,
    /// Notification clocks: what, by when, and whether met.
    deadlines: Vec<CardDeadline>,
    out_of_band: bool,
}

#[derive(Debug, Serialize)]
struct CardDeadline {
    what: String,
    due: Option<String>,
    state: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RoleView {
    name: &'static str,
    holder: String,
}

impl RoleView {
    fn list(incident: &Incident) -> Vec<RoleView> {
        incident.roles.iter().map(|(role, holder)| RoleView { name: role.as_str(), holder: holder.clone() }).collect()
    }
}

#[derive(Debug, Serialize)]
struct MilestoneView {
    name: &'static str,
    at: String,
}

#[derive(Debug, Serialize)]
pub struct StreamView {
    name: &'static str,
    lead: Option<String>,
    status: String,
}

impl StreamView {
    /// `silent` stands in for a stream nobody has reported on.
    fn of(stream: Stream, state: &StreamState, silent: &str) -> StreamView {
        StreamView {
            name: stream.as_str(),
            lead: state.lead.clone(),
            status: state.status.clone().unwrap_or_else(|| silent.to_string()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TaskView {
    number: u32,
    text: String,
    owner: Option<String>,
    due: Option<String>,
    /// Empty while open, else `done` or `dropped`.
    closed: &'static str,
    /// Open and past its due time.
    overdue: bool,
}

impl TaskView {
    fn of(task: &Task, time_zone: &TimeZone) -> TaskView {
        TaskView {
            number: task.number,
            text: task.text.clone(),
            owner: task.owner.clone(),
            due: task.due.map(|due| local_time(due, time_zone)),
            closed: if task.state == TaskState::Open { "" } else { task.state.as_str() },
            overdue: false,
        }
    }
}

/// A time as people read it in the organisation's zone.
pub fn local_time(at: Timestamp, time_zone: &TimeZone) -> String {
    at.to_zoned_datetime(time_zone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

#[derive(Debug, Serialize)]
pub struct NoticeView<'a> {
    pub address: String,
    pub reason: &'a str,
    /// Staff get help to fix the mail; outsiders only the refusal.
    pub staff: bool,
}

#[derive(Debug, Serialize)]
pub struct ReminderView {
    pub id: String,
    pub title: String,
    /// no-lead, no-scope, quiet, tasks or deadline.
    pub kind: &'static str,
    pub digest_at: Option<String>,
    pub tasks: Vec<TaskView>,
    pub clock: Option<ClockView>,
    pub address: String,
}

impl ReminderView {
    pub fn of(
        reminder: &Reminder,
        incident: &Incident,
        clock: Option<ClockView>,
        time_zone: &TimeZone,
        address: String,
    ) -> ReminderView {
        let (kind, digest_at, tasks) = match reminder {
            Reminder::NoLead => ("no-lead", None, Vec::new()),
            Reminder::NoScope => ("no-scope", None, Vec::new()),
            Reminder::Quiet { digest_at } => ("quiet", Some(local_time(*digest_at, time_zone)), Vec::new()),
            Reminder::TasksOverdue(numbers) => (
                "tasks",
                None,
                incident
                    .tasks
                    .iter()
                    .filter(|task| numbers.contains(&task.number))
                    .map(|task| TaskView::of(task, time_zone))
                    .collect(),
            ),
            Reminder::Deadline(_) => ("deadline", None, Vec::new()),
        };
        ReminderView {
            id: incident.number.to_string(),
            title: incident.title.clone(),
            kind,
            digest_at,
            tasks,
            clock,
            address,
        }
    }
}

impl Renderer {
    pub fn new(override_dir: Option<&Path>, time_zone: &TimeZone) -> Result<Renderer, RenderError> {
        let mut tera = Tera::new();
        // Before the templates: tera checks their filters as it reads them.
        outcome::register_filters(&mut tera, time_zone);
        for (name, embedded) in TEMPLATES {
            let file = override_dir.map(|dir| dir.join(format!("{name}.tera")));
            let text = match file {
                Some(path) if path.exists() => std::fs::read_to_string(&path)
                    .map_err(|source| RenderError::Read { path: path.display().to_string(), source })?,
                _ => embedded.to_string(),
            };
            tera.add_raw_template(name, &text)
                .map_err(|error| RenderError::Template { name: name.to_string(), message: error.to_string() })?;
        }
        Ok(Renderer { tera, time_zone: time_zone.clone() })
    }

    pub fn ack(&self, view: &AckView<'_>) -> Result<String, RenderError> {
        self.render("ack.txt", view)
    }

    pub fn refused(&self, view: &NoticeView<'_>) -> Result<String, RenderError> {
        self.render("refused.txt", view)
    }

    pub fn quarantined(&self, view: &NoticeView<'_>) -> Result<String, RenderError> {
        self.render("quarantined.txt", view)
    }

    pub fn transcript(&self, view: &TranscriptView) -> Result<String, RenderError> {
        self.render("transcript.txt", view)
    }

    pub fn unverified(&self, view: &UnverifiedView<'_>) -> Result<String, RenderError> {
        self.render("unverified.txt", view)
    }

    /// The digest as plain text and as HTML.
    pub fn digest(&self, view: &DigestView) -> Result<(String, String), RenderError> {
        Ok((self.render("digest.txt", view)?, self.render("digest.html", view)?))
    }

    /// Several incidents' digests in one mail, as plain text and as HTML.
    pub fn combined_digest(&self, view: &CombinedDigestView) -> Result<(String, String), RenderError> {
        Ok((self.render("digest-combined.txt", view)?, self.render("digest-combined.html", view)?))
    }

    pub fn reminder(&self, view: &ReminderView) -> Result<String, RenderError> {
        self.render("reminder.txt", view)
    }

    pub fn questionnaire(&self, view: &QuestionnaireView) -> Result<String, RenderError> {
        self.render("questionnaire.txt", view)
    }

    pub fn retro_reminder(&self, view: &QuestionnaireView) -> Result<String, RenderError> {
        self.render("retro-reminder.txt", view)
    }

    pub fn retro_summary(&self, view: &RetroSummaryView) -> Result<String, RenderError> {
        self.render("retro-summary.txt", view)
    }

    pub fn answers(&self, view: &AnswersView) -> Result<String, RenderError> {
        self.render("answers.txt", view)
    }

    pub fn closed(&self, view: &ClosedView) -> Result<String, RenderError> {
        self.render("closed.txt", view)
    }

    /// The post-incident report as Markdown and as HTML.
    pub fn report(&self, view: &ReportView) -> Result<(String, String), RenderError> {
        Ok((self.render("report.md", view)?, self.render("report.html", view)?))
    }

    /// The incident's current state, for `status?`.
    pub fn card(&self, incident: &Incident, time_zone: &TimeZone) -> Result<String, RenderError> {
        let unknown = || "not known yet".to_string();
        let milestones = &incident.milestones;
        let view = CardView {
            id: incident.number.to_string(),
            title: incident.title.clone(),
            status: incident.status.as_str(),
            severity: incident.severity.map_or("not set", |severity| severity.as_str()),
            phase: incident.phase.as_str(),
            lead: incident.lead.clone().unwrap_or_else(|| "nobody yet".to_string()),
            roles: RoleView::list(incident),
            scope: incident.scope.clone().unwrap_or_else(unknown),
            impact: incident.impact.clone().unwrap_or_else(unknown),
            declared_at: local_time(incident.declared_at, time_zone),
            declared_by: incident.declared_by.clone(),
            milestones: [
                ("Aware", milestones.aware),
                ("Started", milestones.started),
                ("Detected", milestones.detected),
                ("Contained", milestones.contained),
                ("Eradicated", milestones.eradicated),
                ("Recovered", milestones.recovered),
                ("Closed", incident.closed_at),
            ]
            .into_iter()
            .filter_map(|(name, at)| at.map(|at| MilestoneView { name, at: local_time(at, time_zone) }))
            .collect(),
            has_streams: !incident.streams.is_empty(),
            streams: incident
                .streams
                .iter()
                .map(|(stream, state)| StreamView::of(*stream, state, "no update yet"))
                .collect(),
            has_tasks: incident.tasks.iter().any(|task| task.state == TaskState::Open),
            tasks: incident
                .tasks
                .iter()
                .filter(|task| task.state == TaskState::Open)
                .map(|task| TaskView::of(task, time_zone))
                .collect(),
            deadlines: incident
                .deadlines
                .iter()
                .filter(|deadline| deadline.state != DeadlineState::Dropped)
                .map(|deadline| CardDeadline {
                    what: format!("{}: {}", deadline.regime.to_uppercase(), deadline.what),
                    due: deadline.due.map(|due| local_time(due, time_zone)),
                    state: deadline.state.as_str(),
                })
                .collect(),
            out_of_band: incident.channel == Channel::OutOfBand,
        };
        Ok(format!("{}\n", self.render("card.txt", &view)?.trim_end()))
    }

    fn render(&self, name: &str, view: &impl Serialize) -> Result<String, RenderError> {
        let failed = |message: String| RenderError::Template { name: name.to_string(), message };
        let context = Context::from_serialize(view).map_err(|error| failed(error.to_string()))?;
        self.tera.render(name, &context).map_err(|error| failed(format!("{error:#}")))
    }
}

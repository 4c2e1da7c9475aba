//! The tera adapter: the only module that knows templates. Templates ship
//! inside the binary; a file of the same name in `[templates] dir` wins.

use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use tera::{Context, Tera};

use crate::core::incident::{Incident, TaskState};
use crate::core::transition::Applied;

const TEMPLATES: &[(&str, &str)] = &[
    ("ack.txt", include_str!("../templates/ack.txt.tera")),
    ("refused.txt", include_str!("../templates/refused.txt.tera")),
    ("quarantined.txt", include_str!("../templates/quarantined.txt.tera")),
    ("transcript.txt", include_str!("../templates/transcript.txt.tera")),
    ("card.txt", include_str!("../templates/card.txt.tera")),
    ("unverified.txt", include_str!("../templates/unverified.txt.tera")),
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
}

#[derive(Debug, Serialize)]
pub struct AckView<'a> {
    pub incident: String,
    pub title: &'a str,
    pub declared_by: &'a str,
    pub declared_at: String,
    pub executives: String,
    pub address: String,
    pub has_commands: bool,
    pub commands: Vec<CommandView>,
}

/// One command line and what became of it.
#[derive(Debug, Serialize)]
pub struct CommandView {
    pub written: String,
    pub outcome: String,
}

impl CommandView {
    pub fn of(applied: &[Applied]) -> Vec<CommandView> {
        applied
            .iter()
            .map(|applied| CommandView {
                written: applied.written.clone(),
                outcome: match &applied.outcome {
                    Ok(done) => done.clone(),
                    Err(why) if why.ends_with(['.', '?', '!']) => format!("Not done: {why}"),
                    Err(why) => format!("Not done: {why}."),
                },
            })
            .collect()
    }
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
}

#[derive(Debug, Serialize)]
struct RoleView {
    name: &'static str,
    holder: String,
}

#[derive(Debug, Serialize)]
struct MilestoneView {
    name: &'static str,
    at: String,
}

#[derive(Debug, Serialize)]
struct StreamView {
    name: &'static str,
    lead: Option<String>,
    status: String,
}

#[derive(Debug, Serialize)]
struct TaskView {
    number: u32,
    text: String,
    owner: Option<String>,
    due: Option<String>,
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

impl Renderer {
    pub fn new(override_dir: Option<&Path>) -> Result<Renderer, RenderError> {
        let mut tera = Tera::new();
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
        Ok(Renderer { tera })
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
            roles: incident
                .roles
                .iter()
                .map(|(role, holder)| RoleView { name: role.as_str(), holder: holder.clone() })
                .collect(),
            scope: incident.scope.clone().unwrap_or_else(unknown),
            impact: incident.impact.clone().unwrap_or_else(unknown),
            declared_at: local_time(incident.declared_at, time_zone),
            declared_by: incident.declared_by.clone(),
            milestones: [
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
                .map(|(stream, state)| StreamView {
                    name: stream.as_str(),
                    lead: state.lead.clone(),
                    status: state.status.clone().unwrap_or_else(|| "no update yet".to_string()),
                })
                .collect(),
            has_tasks: incident.tasks.iter().any(|task| task.state == TaskState::Open),
            tasks: incident
                .tasks
                .iter()
                .filter(|task| task.state == TaskState::Open)
                .map(|task| TaskView {
                    number: task.number,
                    text: task.text.clone(),
                    owner: task.owner.clone(),
                    due: task.due.map(|due| local_time(due, time_zone)),
                })
                .collect(),
        };
        Ok(format!("{}\n", self.render("card.txt", &view)?.trim_end()))
    }

    fn render(&self, name: &str, view: &impl Serialize) -> Result<String, RenderError> {
        let failed = |message: String| RenderError::Template { name: name.to_string(), message };
        let context = Context::from_serialize(view).map_err(|error| failed(error.to_string()))?;
        self.tera.render(name, &context).map_err(|error| failed(format!("{error:#}")))
    }
}

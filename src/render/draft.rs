//! Drafts as the templates see them: the incident's facts, each absent one
//! left for the template to mark `[TO CONFIRM: ...]`, never guessed.

use jiff::Timestamp;
use serde::Serialize;

use super::{RenderError, Renderer, local_time};
use crate::core::deadline::Regime;
use crate::core::incident::{DeadlineState, DraftKind, Framing, Incident, TaskState};

/// What a draft needs beyond the incident.
pub struct DraftFacts<'a> {
    pub organisation: Option<&'a str>,
    /// The incident type as people read it ("Business email compromise").
    pub type_title: Option<&'a str>,
    pub regimes: &'a [Regime],
    pub now: Timestamp,
}

#[derive(Debug, Serialize)]
struct DraftView<'a> {
    id: String,
    title: &'a str,
    kind: &'static str,
    framing: &'static str,
    organisation: Option<&'a str>,
    type_title: Option<&'a str>,
    /// The type's key (`bec`), for wording that depends on the type.
    incident_type: Option<&'static str>,
    severity: Option<&'static str>,
    scope: Option<&'a str>,
    impact: Option<&'a str>,
    started: Option<String>,
    detected: Option<String>,
    aware: Option<String>,
    contained: Option<String>,
    recovered: Option<String>,
    declared: String,
    now: String,
    done: Vec<String>,
    open: Vec<String>,
    contact: &'a str,
    lead: Option<&'a str>,
    deadlines: Vec<DeadlineView>,
}

/// The mail that carries a draft's version to the one who asked for it.
#[derive(Debug, Serialize)]
pub struct DraftMailView {
    pub id: String,
    pub number: u32,
    pub kind: &'static str,
    pub framing: &'static str,
    pub version: u32,
    pub next: u32,
    pub at: String,
    pub body: String,
    pub address: String,
}

#[derive(Debug, Serialize)]
struct DeadlineView {
    title: String,
    what: String,
    due: Option<String>,
}

impl Renderer {
    pub fn draft_mail(&self, view: &DraftMailView) -> Result<String, RenderError> {
        self.render("draft-mail.txt", view)
    }

    /// The text of a `kind` draft in `framing`, from `templates/drafts/`.
    pub fn draft(
        &self,
        incident: &Incident,
        kind: DraftKind,
        framing: Framing,
        facts: &DraftFacts<'_>,
    ) -> Result<String, RenderError> {
        let local = |at: Option<Timestamp>| at.map(|at| local_time(at, &self.time_zone));
        let milestones = &incident.milestones;
        let mut done: Vec<String> = [
            ("Contained", milestones.contained),
            ("The cause removed", milestones.eradicated),
            ("Systems recovered", milestones.recovered),
        ]
        .into_iter()
        .filter_map(|(what, at)| local(at).map(|at| format!("{what} ({at})")))
        .collect();
        done.extend(incident.tasks.iter().filter(|task| task.state == TaskState::Done).map(|task| task.text.clone()));
        let view = DraftView {
            id: incident.number.to_string(),
            title: &incident.title,
            kind: kind.as_str(),
            framing: framing.as_str(),
            organisation: facts.organisation,
            type_title: facts.type_title,
            incident_type: incident.kind.map(|kind| kind.as_str()),
            severity: incident.severity.map(|severity| severity.as_str()),
            scope: incident.scope.as_deref(),
            impact: incident.impact.as_deref(),
            started: local(milestones.started),
            detected: local(milestones.detected),
            aware: local(milestones.aware),
            contained: local(milestones.contained),
            recovered: local(milestones.recovered),
            declared: local_time(incident.declared_at, &self.time_zone),
            now: local_time(facts.now, &self.time_zone),
            done,
            open: incident
                .tasks
                .iter()
                .filter(|task| task.state == TaskState::Open)
                .map(|task| task.text.clone())
                .collect(),
            contact: incident.lead.as_deref().unwrap_or(&incident.declared_by),
            lead: incident.lead.as_deref(),
            deadlines: incident
                .deadlines
                .iter()
                .filter(|deadline| deadline.state == DeadlineState::Running)
                .map(|deadline| DeadlineView {
                    title: facts
                        .regimes
                        .iter()
                        .find(|regime| regime.name == deadline.regime)
                        .map_or_else(|| deadline.regime.clone(), |regime| regime.title.clone()),
                    what: deadline.what.clone(),
                    due: local(deadline.due),
                })
                .collect(),
        };
        Ok(self.render(&format!("drafts/{kind}.txt"), &view)?.trim().to_string())
    }
}

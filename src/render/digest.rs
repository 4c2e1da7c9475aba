//! Digests as the templates see them: every time already in the
//! organisation's zone, every command worded.

use jiff::tz::TimeZone;
use serde::Serialize;

use super::text::{DIGEST_TEXT_WIDTH, reflow, wrap};
use super::{RenderError, Renderer, RoleView, StreamView, TaskView, local_time};
use crate::core::deadline::describe_duration;
use crate::core::digest::{self, Audience, Clock, CommandLine, Digest, Reask};
use crate::core::incident::{DeadlineState, Incident, Severity, Stamp, TaskState};

/// A digest as the templates see it: every time already in the
/// organisation's zone.
#[derive(Debug, Serialize)]
pub struct DigestView {
    pub id: String,
    pub title: String,
    pub subject: String,
    pub number: u32,
    pub tactical: bool,
    pub closing: bool,
    /// At close: the retrospective questionnaire went out.
    pub retrospective: bool,
    pub resolution: Option<String>,
    pub headline: String,
    pub status: &'static str,
    pub severity: &'static str,
    pub phase: &'static str,
    pub lead: String,
    pub roles: Vec<RoleView>,
    pub scope: String,
    pub impact: String,
    pub changes: Vec<ChangeView>,
    pub needs: Vec<String>,
    /// Drafts waiting for approval: "D1: customer-notice, worst case, version 2".
    pub drafts: Vec<String>,
    /// A mail since the last digest changed the scope.
    pub scope_changed: bool,
    /// For responders: scope, lead and cadence asked again.
    pub reask: Option<ReaskView>,
    pub streams: Vec<StreamView>,
    pub tasks: Vec<TaskView>,
    pub clocks: Vec<ClockView>,
    pub durations: Vec<DurationView>,
    pub next_at: Option<String>,
    pub address: String,
}

/// Scope, lead and cadence as the responders are asked about them again.
#[derive(Debug, Serialize)]
pub struct ReaskView {
    pub scope: Option<String>,
    /// How long ago the scope was set ("3 h 10 min"), and by whom.
    pub scope_age: Option<String>,
    pub scope_set_by: Option<String>,
    pub lead: Option<String>,
    /// How long the lead has led.
    pub lead_age: Option<String>,
    /// How often the executives hear ("1 h"); none when digests are off.
    pub cadence: Option<String>,
    pub by_severity: bool,
}

impl ReaskView {
    fn of(reask: &Reask) -> ReaskView {
        let age =
            |stamp: &Option<Stamp>| stamp.as_ref().map(|stamp| describe_duration(reask.now.duration_since(stamp.at)));
        ReaskView {
            scope: reask.scope.clone(),
            scope_age: age(&reask.scope_set),
            scope_set_by: reask.scope_set.as_ref().map(|stamp| stamp.by.clone()),
            lead: reask.lead.clone(),
            lead_age: age(&reask.lead_set).filter(|_| reask.lead.is_some()),
            cadence: reask.cadence.map(describe_duration),
            by_severity: reask.by_severity,
        }
    }
}

/// Several incidents' digests in one mail, for an executive past the
/// hourly cap.
#[derive(Debug, Serialize)]
pub struct CombinedDigestView {
    pub count: usize,
    pub per_hour: u32,
    /// Most severe first.
    pub digests: Vec<DigestView>,
    pub address: String,
}

impl CombinedDigestView {
    pub fn of(mut digests: Vec<DigestView>, per_hour: u32, address: String) -> CombinedDigestView {
        digests.sort_by_key(|digest| severity_rank(digest.severity));
        CombinedDigestView { count: digests.len(), per_hour, digests, address }
    }
}

fn severity_rank(severity: &str) -> usize {
    Severity::ALL.iter().position(|known| known.as_str() == severity).unwrap_or(Severity::ALL.len())
}

#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub at: String,
    pub author: String,
    pub lines: Vec<String>,
    /// The same text reflowed: hard-wrapped lines joined, for HTML on phones.
    pub paragraphs: Vec<String>,
    /// The commands the mail ran.
    pub commands: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ClockView {
    /// What people type: `notified gdpr`.
    pub regime: String,
    pub title: String,
    pub what: String,
    pub due: Option<String>,
    /// "41 h left", "overdue by 3 h", "done 2026-11-27 16:00 CET".
    pub standing: String,
    pub overdue: bool,
    pub done: bool,
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DurationView {
    pub name: &'static str,
    pub value: String,
}

impl ClockView {
    pub fn of(clock: &Clock, time_zone: &TimeZone) -> ClockView {
        ClockView {
            regime: clock.regime.clone(),
            title: clock.title.clone(),
            what: clock.what.clone(),
            due: clock.due.map(|due| local_time(due, time_zone)),
            standing: match (clock.state, clock.left, clock.closed_at) {
                (DeadlineState::Met, _, Some(at)) => format!("done {}", local_time(at, time_zone)),
                (_, Some(left), _) => digest::time_left(left),
                _ => "without undue delay; not done yet".to_string(),
            },
            overdue: clock.overdue,
            done: clock.state == DeadlineState::Met,
            note: clock.note.clone(),
        }
    }
}

/// A reminder to the lead (or the declarer while there is none).
impl Renderer {
    /// The digest as the templates see it, its commands worded by
    /// `outcome.txt`.
    pub fn digest_view(
        &self,
        digest: &Digest,
        incident: &Incident,
        address: String,
    ) -> Result<DigestView, RenderError> {
        let time_zone = &self.time_zone;
        let unknown = || "not known yet".to_string();
        let mut changes = Vec::new();
        for change in &digest.changes {
            let lines = reflow(&change.text);
            changes.push(ChangeView {
                at: local_time(change.at, time_zone),
                author: change.author.clone(),
                lines: lines
                    .iter()
                    .flat_map(|line| match line.is_empty() {
                        true => vec![String::new()],
                        false => wrap(line, DIGEST_TEXT_WIDTH),
                    })
                    .collect(),
                paragraphs: lines.iter().filter(|line| !line.is_empty()).cloned().collect(),
                commands: change
                    .commands
                    .iter()
                    .map(|command| match command {
                        CommandLine::Did(done) => self.digest_line(done),
                        CommandLine::Typed(line) => Ok(line.clone()),
                    })
                    .collect::<Result<_, _>>()?,
            });
        }
        Ok(DigestView {
            id: incident.number.to_string(),
            title: incident.title.clone(),
            subject: digest::subject(incident, digest.number, digest.audience),
            number: digest.number,
            tactical: digest.audience == Audience::Tactical,
            closing: digest.closing,
            retrospective: false,
            resolution: incident.resolution.clone(),
            headline: digest.headline.clone(),
            status: incident.status.as_str(),
            severity: incident.severity.map_or("not assessed", |severity| severity.as_str()),
            phase: incident.phase.as_str(),
            lead: incident.lead.clone().unwrap_or_else(|| "nobody yet".to_string()),
            roles: RoleView::list(incident),
            scope: incident.scope.clone().unwrap_or_else(unknown),
            impact: incident.impact.clone().unwrap_or_else(unknown),
            changes,
            needs: digest.needs.clone(),
            scope_changed: digest.scope_changed,
            reask: digest.reask.as_ref().map(ReaskView::of),
            drafts: digest
                .waiting_drafts
                .iter()
                .map(|(number, kind, framing, version)| format!("D{number}: {kind}, {framing} case, version {version}"))
                .collect(),
            streams: digest
                .streams
                .iter()
                .map(|(stream, state)| StreamView::of(*stream, state, "no update yet"))
                .collect(),
            // Responders see every task, done or not; executives the open ones.
            tasks: incident
                .tasks
                .iter()
                .filter(|task| task.state == TaskState::Open || digest.audience == Audience::Tactical)
                .map(|task| TaskView {
                    overdue: digest.overdue.contains(&task.number),
                    ..TaskView::of(task, time_zone)
                })
                .collect(),
            clocks: digest.clocks.iter().map(|clock| ClockView::of(clock, time_zone)).collect(),
            durations: digest
                .durations
                .iter()
                .map(|(name, value)| DurationView { name, value: describe_duration(*value) })
                .collect(),
            next_at: digest.next_at.map(|at| local_time(at, time_zone)),
            address,
        })
    }
}

//! Assessing the incident: severity, title, scope, impact, phase and the
//! milestones of the response.

use super::{Result, Turn, past};
use crate::core::command::{Command, Milestone};
use crate::core::incident::{Incident, Phase, Stamp, Status};
use crate::core::outcome::{Done, Shift};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result {
    let Turn { now, settings, .. } = *turn;
    Ok(match command {
        Command::Severity(severity) => {
            let shift = incident.severity.map(|was| Shift::between(was, *severity));
            incident.severity = Some(*severity);
            Done::SeveritySet { severity: *severity, shift }
        }
        Command::Title(title) => {
            incident.title = title.clone();
            Done::Retitled { title: title.clone() }
        }
        Command::Phase(phase) => {
            incident.phase = *phase;
            Done::PhaseSet { phase: *phase }
        }
        Command::Milestone(milestone) => {
            let (at, phase, status) = match milestone {
                Milestone::Contained => (&mut incident.milestones.contained, Phase::Eradication, Status::Contained),
                Milestone::Eradicated => (&mut incident.milestones.eradicated, Phase::Recovery, Status::Contained),
                Milestone::Recovered => (&mut incident.milestones.recovered, Phase::PostIncident, Status::Monitoring),
            };
            *at = Some(now);
            incident.phase = incident.phase.max(phase);
            if incident.status != Status::Closed {
                incident.status = status;
            }
            Done::Milestone { milestone: *milestone, at: now, phase: incident.phase }
        }
        Command::Scope(scope) => {
            incident.scope = Some(scope.clone());
            incident.scope_set = Some(Stamp { at: now, by: turn.actor.address.to_string() });
            Done::ScopeSet { scope: scope.clone() }
        }
        Command::Impact(impact) => {
            incident.impact = Some(impact.clone());
            Done::ImpactSet { impact: impact.clone() }
        }
        Command::Detected(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.detected = Some(at);
            Done::Detected { at }
        }
        Command::Started(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.started = Some(at);
            Done::Started { at }
        }
        _ => unreachable!("routed by family in mod.rs"),
    })
}

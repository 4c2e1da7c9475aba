//! Assessing the incident: severity, title, scope, impact, phase and the
//! milestones of the response.

use jiff::Timestamp;

use super::{Turn, past};
use crate::core::command::{Command, Milestone};
use crate::core::incident::{Incident, Phase, Status};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result<String, String> {
    let Turn { now, settings, .. } = *turn;
    let local = |at: Timestamp| turn.local(at);
    match command {
        Command::Severity(severity) => {
            incident.severity = Some(*severity);
            Ok(format!("Severity is now {severity}."))
        }
        Command::Title(title) => {
            incident.title = title.clone();
            Ok(format!("Title is now \"{title}\"."))
        }
        Command::Phase(phase) => {
            incident.phase = *phase;
            Ok(format!("Phase is now {phase}."))
        }
        Command::Milestone(milestone) => {
            let (at, phase, status, name) = match milestone {
                Milestone::Contained => {
                    (&mut incident.milestones.contained, Phase::Eradication, Status::Contained, "Contained")
                }
                Milestone::Eradicated => {
                    (&mut incident.milestones.eradicated, Phase::Recovery, Status::Contained, "Eradicated")
                }
                Milestone::Recovered => {
                    (&mut incident.milestones.recovered, Phase::PostIncident, Status::Monitoring, "Recovered")
                }
            };
            *at = Some(now);
            incident.phase = incident.phase.max(phase);
            if incident.status != Status::Closed {
                incident.status = status;
            }
            Ok(format!("{name} at {}; phase is now {}.", local(now), incident.phase))
        }
        Command::Scope(scope) => {
            incident.scope = Some(scope.clone());
            Ok("Scope recorded.".to_string())
        }
        Command::Impact(impact) => {
            incident.impact = Some(impact.clone());
            Ok("Impact recorded.".to_string())
        }
        Command::Detected(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.detected = Some(at);
            Ok(format!("Detected at {}.", local(at)))
        }
        Command::Started(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.started = Some(at);
            Ok(format!("Started at {}.", local(at)))
        }
        // Not routed here.
        _ => Err("not a command of this family".to_string()),
    }
}

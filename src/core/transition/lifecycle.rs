//! Closing, reopening and the status in between.

use super::{Turn, reopen};
use crate::core::command::Command;
use crate::core::incident::{Incident, Phase, Status};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result<String, String> {
    let Turn { now, .. } = *turn;
    let refuse_unless_steering = |what: &str| turn.refuse_unless_steering(incident, what);
    match command {
        Command::Status(Status::Closed) | Command::Close(_) => {
            refuse_unless_steering("close an incident")?;
            if incident.status == Status::Closed {
                return Err("the incident is already closed".to_string());
            }
            incident.status = Status::Closed;
            incident.closed_at = Some(now);
            incident.phase_at_close = Some(incident.phase);
            incident.phase = Phase::PostIncident;
            incident.resolution = match command {
                Command::Close(Some(reason)) => Some(reason.clone()),
                _ => None,
            };
            Ok(match command {
                Command::Close(Some(reason)) => format!("Closed: {reason}."),
                _ => "Closed.".to_string(),
            })
        }
        Command::Reopen => {
            refuse_unless_steering("reopen an incident")?;
            if incident.status != Status::Closed {
                return Err("the incident is not closed".to_string());
            }
            reopen(incident);
            incident.status = Status::Investigating;
            Ok(format!("Reopened; status is now investigating, phase {}.", incident.phase))
        }
        Command::Status(status) => {
            if incident.status == Status::Closed {
                refuse_unless_steering("reopen an incident")?;
                reopen(incident);
            }
            incident.status = *status;
            Ok(format!("Status is now {status}."))
        }
        // Not routed here.
        _ => Err("not a command of this family".to_string()),
    }
}

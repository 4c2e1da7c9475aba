//! Closing, reopening and the status in between.

use super::{Result, Turn, reopen};
use crate::core::command::Command;
use crate::core::incident::{Incident, Phase, Status};
use crate::core::outcome::{Act, Done, Refusal};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result {
    let Turn { now, .. } = *turn;
    let refuse_unless_steering = |act: Act| turn.refuse_unless_steering(incident, act);
    Ok(match command {
        Command::Status(Status::Closed) | Command::Close(_) => {
            refuse_unless_steering(Act::Close)?;
            if incident.status == Status::Closed {
                return Err(Refusal::AlreadyClosed);
            }
            incident.status = Status::Closed;
            incident.closed_at = Some(now);
            incident.phase_at_close = Some(incident.phase);
            incident.phase = Phase::PostIncident;
            incident.resolution = match command {
                Command::Close(Some(reason)) => Some(reason.clone()),
                _ => None,
            };
            Done::Closed { reason: incident.resolution.clone() }
        }
        Command::Reopen => {
            refuse_unless_steering(Act::Reopen)?;
            if incident.status != Status::Closed {
                return Err(Refusal::NotClosed);
            }
            reopen(incident);
            incident.status = Status::Investigating;
            Done::Reopened { phase: incident.phase }
        }
        Command::Status(status) => {
            if incident.status == Status::Closed {
                refuse_unless_steering(Act::Reopen)?;
                reopen(incident);
            }
            incident.status = *status;
            Done::StatusSet { status: *status }
        }
        _ => unreachable!("routed by family in mod.rs"),
    })
}

//! The work: streams and their leads, tasks and their owners.

use super::{Result, Turn, future, staff_member};
use crate::core::command::Command;
use crate::core::incident::{Incident, Task, TaskState};
use crate::core::outcome::{Done, Refusal};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result {
    let Turn { actor, now, settings, .. } = *turn;
    Ok(match command {
        Command::StreamStatus(stream, status) => {
            let state = incident.streams.entry(*stream).or_default();
            state.status = Some(status.clone());
            state.updated_at = Some(now);
            Done::StreamStatusSet { stream: *stream, status: status.clone() }
        }
        Command::StreamLead(stream, who) => {
            let lead = staff_member(who, incident, actor, settings)?;
            let state = incident.streams.entry(*stream).or_default();
            state.lead = Some(lead.clone());
            state.updated_at = Some(now);
            Done::StreamLeadSet { stream: *stream, lead }
        }
        Command::Task { text, owner, due } => {
            let owner = owner.as_ref().map(|who| staff_member(who, incident, actor, settings)).transpose()?;
            let due = due.map(|when| future(when, now, settings.time_zone)).transpose()?;
            let number = incident.tasks.iter().map(|task| task.number).max().unwrap_or(0) + 1;
            incident.tasks.push(Task {
                number,
                text: text.clone(),
                owner: owner.clone(),
                due,
                state: TaskState::Open,
                created_at: now,
                closed_at: None,
                playbook: None,
            });
            Done::TaskAdded { number, text: text.clone(), owner, due }
        }
        Command::Done(number) | Command::Drop(number) => {
            let number = *number;
            let task =
                incident.tasks.iter_mut().find(|task| task.number == number).ok_or(Refusal::NoSuchTask { number })?;
            if task.state != TaskState::Open {
                return Err(Refusal::TaskAlreadyClosed { number, state: task.state });
            }
            task.state = if matches!(command, Command::Done(_)) { TaskState::Done } else { TaskState::Dropped };
            task.closed_at = Some(now);
            Done::TaskClosed { number, state: task.state, text: task.text.clone() }
        }
        _ => unreachable!("routed by family in mod.rs"),
    })
}

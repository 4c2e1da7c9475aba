//! The work: streams and their leads, tasks and their owners.

use jiff::Timestamp;

use super::{Turn, future, staff_member};
use crate::core::command::Command;
use crate::core::incident::{Incident, Task, TaskState};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result<String, String> {
    let Turn { actor, now, settings, .. } = *turn;
    let local = |at: Timestamp| turn.local(at);
    match command {
        Command::StreamStatus(stream, status) => {
            let state = incident.streams.entry(*stream).or_default();
            state.status = Some(status.clone());
            state.updated_at = Some(now);
            Ok(format!("The {stream} stream: {status}."))
        }
        Command::StreamLead(stream, who) => {
            let lead = staff_member(who, incident, actor, settings)?;
            let state = incident.streams.entry(*stream).or_default();
            state.lead = Some(lead.clone());
            state.updated_at = Some(now);
            Ok(format!("{lead} leads the {stream} stream."))
        }
        Command::Task { text, owner, due } => {
            let owner = owner.as_ref().map(|who| staff_member(who, incident, actor, settings)).transpose()?;
            let due = due.map(|when| future(when, now, settings.time_zone)).transpose()?;
            let number = incident.tasks.iter().map(|task| task.number).max().unwrap_or(0) + 1;
            let mut done = format!("Task {number} added: {text}");
            if let Some(owner) = &owner {
                done.push_str(&format!(", for {owner}"));
            }
            if let Some(due) = due {
                done.push_str(&format!(", due {}", local(due)));
            }
            incident.tasks.push(Task {
                number,
                text: text.clone(),
                owner,
                due,
                state: TaskState::Open,
                created_at: now,
                closed_at: None,
            });
            Ok(format!("{done}."))
        }
        Command::Done(number) | Command::Drop(number) => {
            let task = incident
                .tasks
                .iter_mut()
                .find(|task| task.number == *number)
                .ok_or_else(|| format!("there is no task {number}"))?;
            if task.state != TaskState::Open {
                return Err(format!("task {number} is already {}", task.state));
            }
            task.state = if matches!(command, Command::Done(_)) { TaskState::Done } else { TaskState::Dropped };
            task.closed_at = Some(now);
            Ok(format!("Task {number} is {}.", task.state))
        }
        // Not routed here.
        _ => Err("not a command of this family".to_string()),
    }
}

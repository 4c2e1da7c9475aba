//! The incident's type and its first-hour playbook: the steps become tasks,
//! owned by whoever holds the duty, and a change of type drops the old
//! playbook's open steps.

use super::{Result, Turn};
use crate::core::command::Command;
use crate::core::incident::{Incident, IncidentType, Task, TaskState};
use crate::core::outcome::{Done, Refusal, StepTask};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result {
    match command {
        Command::Type(kind) => set_type(incident, *kind, false, turn),
        _ => unreachable!("routed by family in mod.rs"),
    }
}

/// Sets the type, by command or as sitrep's suggestion.
pub(super) fn set_type(incident: &mut Incident, kind: IncidentType, suggested: bool, turn: &Turn<'_>) -> Result {
    let Turn { now, settings, .. } = *turn;
    if incident.kind == Some(kind) {
        return Err(Refusal::AlreadyType { incident_type: kind });
    }
    let was = incident.kind.replace(kind);
    let mut dropped = Vec::new();
    for task in &mut incident.tasks {
        let of_old_playbook = task.playbook.is_some_and(|(of, _)| Some(of) == was);
        if of_old_playbook && task.state == TaskState::Open {
            task.state = TaskState::Dropped;
            task.closed_at = Some(now);
            dropped.push(task.number);
        }
    }
    let playbook = settings.playbooks.iter().find(|playbook| playbook.kind == kind);
    let mut steps = Vec::new();
    for step in playbook.map(|playbook| playbook.steps.as_slice()).unwrap_or_default() {
        // Back to a type set before: what was done then stays done.
        let done_before = incident.tasks.iter().any(|task| {
            task.playbook == Some((kind, step.duty)) && task.text == step.what && task.state == TaskState::Done
        });
        if done_before {
            continue;
        }
        let number = incident.tasks.iter().map(|task| task.number).max().unwrap_or(0) + 1;
        let owner = step.duty.holder(incident).map(str::to_string);
        let due = now + step.due;
        incident.tasks.push(Task {
            number,
            text: step.what.clone(),
            owner: owner.clone(),
            due: Some(due),
            state: TaskState::Open,
            created_at: now,
            closed_at: None,
            playbook: Some((kind, step.duty)),
        });
        steps.push(StepTask { number, what: step.what.clone(), duty: step.duty, owner, due, why: step.why.clone() });
    }
    let running = |regime: &str| incident.deadlines.iter().any(|deadline| deadline.regime == regime);
    let regimes = playbook
        .map(|playbook| playbook.regimes.iter())
        .into_iter()
        .flatten()
        .filter(|name| settings.regimes.iter().any(|regime| &regime.name == *name) && !running(name))
        .cloned()
        .collect();
    Ok(Done::TypeSet {
        incident_type: kind,
        title: playbook.map_or_else(|| kind.as_str().to_string(), |playbook| playbook.title.clone()),
        suggested,
        was,
        steps,
        dropped,
        regimes,
        questions: playbook.map(|playbook| playbook.questions.clone()).unwrap_or_default(),
    })
}

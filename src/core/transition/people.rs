//! Who does what: the lead, the roles, and who else gets the digests.

use super::{Result, Turn, staff_member};
use crate::core::command::Command;
use crate::core::incident::{Duty, Incident, Stamp, TaskState};
use crate::core::outcome::{Act, Done, Refusal};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result {
    let Turn { actor, settings, .. } = *turn;
    let refuse_unless_steering = |act: Act| turn.refuse_unless_steering(incident, act);
    Ok(match command {
        Command::Lead(who) => {
            let lead = staff_member(who, incident, actor, settings)?;
            if incident.lead.as_deref().is_some_and(|current| current != lead) {
                refuse_unless_steering(Act::ReplaceLead)?;
            }
            let previous = incident.lead.replace(lead.clone());
            incident.lead_set = Some(Stamp { at: turn.now, by: actor.address.to_string() });
            let tasks = take_duty(incident, Duty::Lead, &lead, previous.as_deref());
            Done::LeadSet { lead, tasks }
        }
        Command::Role(role, who) => {
            let holder = staff_member(who, incident, actor, settings)?;
            let previous = incident.roles.insert(*role, holder.clone());
            let tasks = take_duty(incident, Duty::of(*role), &holder, previous.as_deref());
            Done::RoleSet { role: *role, holder, tasks }
        }
        Command::Unassign(None) => {
            refuse_unless_steering(Act::RemoveLead)?;
            incident.lead = None;
            incident.lead_set = Some(Stamp { at: turn.now, by: actor.address.to_string() });
            Done::LeadRemoved
        }
        Command::Unassign(Some(role)) => match incident.roles.remove(role) {
            Some(holder) => Done::RoleCleared { role: *role, holder },
            None => return Err(Refusal::NobodyInRole { role: *role }),
        },
        Command::Notify { add, address } => {
            refuse_unless_steering(Act::ChangeNotify)?;
            let address = address.clone();
            if *add {
                if !settings.allow_external_notify && !settings.access.is_staff(&address) {
                    return Err(Refusal::Outsider { address });
                }
                if incident.notify.contains(&address) {
                    return Err(Refusal::AlreadyNotified { address });
                }
                incident.notify.push(address.clone());
                Done::NotifyAdded { address }
            } else {
                let before = incident.notify.len();
                incident.notify.retain(|existing| *existing != address);
                if incident.notify.len() == before {
                    return Err(Refusal::NotNotified { address });
                }
                Done::NotifyRemoved { address }
            }
        }
        _ => unreachable!("routed by family in mod.rs"),
    })
}

/// The open playbook steps of `duty` that nobody owns, or that the
/// previous holder owned, go to the new `holder`: a handover hands them on.
fn take_duty(incident: &mut Incident, duty: Duty, holder: &str, previous: Option<&str>) -> Vec<u32> {
    let mut taken = Vec::new();
    for task in &mut incident.tasks {
        let handed =
            task.owner.is_none() || (task.owner.as_deref() == previous && task.owner.as_deref() != Some(holder));
        if task.state == TaskState::Open && handed && task.playbook.is_some_and(|(_, of)| of == duty) {
            task.owner = Some(holder.to_string());
            taken.push(task.number);
        }
    }
    taken
}

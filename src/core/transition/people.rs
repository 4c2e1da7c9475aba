//! Who does what: the lead, the roles, and who else gets the digests.

use super::{Turn, role_title, staff_member};
use crate::core::command::Command;
use crate::core::incident::Incident;

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result<String, String> {
    let Turn { actor, settings, .. } = *turn;
    let refuse_unless_steering = |what: &str| turn.refuse_unless_steering(incident, what);
    match command {
        Command::Lead(who) => {
            let lead = staff_member(who, incident, actor, settings)?;
            if incident.lead.as_deref().is_some_and(|current| current != lead) {
                refuse_unless_steering("replace the lead")?;
            }
            incident.lead = Some(lead.clone());
            Ok(format!("{lead} now leads the incident."))
        }
        Command::Role(role, who) => {
            let holder = staff_member(who, incident, actor, settings)?;
            incident.roles.insert(*role, holder.clone());
            Ok(format!("{holder} is now {}.", role_title(*role)))
        }
        Command::Unassign(None) => {
            refuse_unless_steering("remove the lead")?;
            incident.lead = None;
            Ok("The incident has no lead now.".to_string())
        }
        Command::Unassign(Some(role)) => match incident.roles.remove(role) {
            Some(holder) => Ok(format!("{holder} is no longer {}.", role_title(*role))),
            None => Err(format!("nobody is {}", role_title(*role))),
        },
        Command::Notify { add, address } => {
            refuse_unless_steering("change who is notified")?;
            if *add {
                if !settings.allow_external_notify && !settings.access.is_staff(address) {
                    return Err(format!("{address} is outside the organisation; only staff can be notified"));
                }
                if incident.notify.contains(address) {
                    return Err(format!("{address} already gets the digests"));
                }
                incident.notify.push(address.clone());
                Ok(format!("{address} will get this incident's digests."))
            } else {
                let before = incident.notify.len();
                incident.notify.retain(|existing| existing != address);
                if incident.notify.len() == before {
                    return Err(format!("{address} was not on this incident's list"));
                }
                Ok(format!("{address} will no longer get this incident's digests."))
            }
        }
        // Not routed here.
        _ => Err("not a command of this family".to_string()),
    }
}

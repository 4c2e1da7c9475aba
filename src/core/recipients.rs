//! Who receives what: the executives' digest, the responders, reminders.
//! Each address once, in order, never sitrep's own.

use super::access::{Access, IncidentAddress};
use super::incident::{Incident, Role, Stream};
use super::schedule::Reminder;

/// The executives' digest: the configured executives and the incident's
/// `notify` additions, each once, never sitrep's own address.
pub fn executives(incident: &Incident, configured: &[String], address: &IncidentAddress) -> Vec<String> {
    unique(configured.iter().chain(&incident.notify).filter(|recipient| !address.is_ours(recipient)))
}

/// Everyone on staff who took part: declarer, lead, role holders, stream
/// leads, task owners and whoever posted.
pub fn responders(incident: &Incident, authors: &[String], access: &Access, address: &IncidentAddress) -> Vec<String> {
    let took_part = std::iter::once(&incident.declared_by)
        .chain(&incident.lead)
        .chain(incident.roles.values())
        .chain(incident.streams.values().filter_map(|state| state.lead.as_ref()))
        .chain(incident.tasks.iter().filter_map(|task| task.owner.as_ref()))
        .chain(authors);
    unique(took_part.filter(|person| access.is_staff(person) && !address.is_ours(person)))
}

/// `first` then the rest of `more`, each address once, in order.
pub fn union(first: Vec<String>, more: &[String]) -> Vec<String> {
    unique(first.iter().chain(more))
}

/// Each address once, in order.
pub fn unique<'a>(addresses: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    addresses.filter(|address| seen.insert(address.as_str())).cloned().collect()
}

/// Who a reminder goes to: the lead (the declarer while there is none);
/// a notification deadline also to whoever handles legal. Staff only.
pub fn reminder_recipients(incident: &Incident, reminder: &Reminder, access: &Access) -> Vec<String> {
    let mut recipients = vec![incident.lead.clone().unwrap_or_else(|| incident.declared_by.clone())];
    if let Reminder::Deadline(_) = reminder {
        recipients.extend(incident.roles.get(&Role::Legal).cloned());
        recipients.extend(incident.streams.get(&Stream::Legal).and_then(|state| state.lead.clone()));
    }
    unique(recipients.iter().filter(|address| access.is_staff(address)))
}

//! Pre-drafted communications: asked for by `draft`, edited by replying to
//! one, approved or rejected by the lead, a configured lead or admin, or an
//! executive. sitrep keeps them; people send them.

use jiff::Timestamp;

use super::{Result, Turn, steers};
use crate::core::command::Command;
use crate::core::incident::{Decision, Draft, DraftStatus, DraftVersion, Incident};
use crate::core::outcome::{Act, Done, Refusal};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result {
    match command {
        Command::Draft(kind, framing) => {
            let number = incident.drafts.iter().map(|draft| draft.number).max().unwrap_or(0) + 1;
            incident.drafts.push(Draft { number, kind: *kind, framing: *framing, versions: Vec::new() });
            Ok(Done::Drafted { number, draft: *kind, framing: *framing })
        }
        Command::ShowDraft(number) => {
            let number = *number;
            let draft = incident.drafts.iter().find(|draft| draft.number == number);
            match draft.and_then(|draft| draft.versions.last()) {
                Some(latest) => Ok(Done::DraftShown { number, version: latest.version }),
                None => Err(Refusal::NoSuchDraft { number }),
            }
        }
        Command::Approve(number) => decide(incident, *number, DraftStatus::Approved, None, turn),
        Command::Reject(number, reason) => decide(incident, *number, DraftStatus::Rejected, reason.clone(), turn),
        _ => unreachable!("routed by family in mod.rs"),
    }
}

/// Approves or rejects a draft's latest version, once.
fn decide(
    incident: &mut Incident,
    number: u32,
    status: DraftStatus,
    reason: Option<String>,
    turn: &Turn<'_>,
) -> Result {
    let Turn { actor, now, settings } = *turn;
    let executive = settings.executives.iter().any(|executive| executive.eq_ignore_ascii_case(actor.address));
    if !steers(incident, actor) && !executive {
        return Err(Refusal::NotSteering { act: Act::DecideDraft });
    }
    let draft =
        incident.drafts.iter_mut().find(|draft| draft.number == number).ok_or(Refusal::NoSuchDraft { number })?;
    let decided = draft.status();
    // A draft asked for in this very mail has no text yet: nothing read, nothing to decide.
    let latest = draft.versions.last_mut().ok_or(Refusal::NoSuchDraft { number })?;
    if latest.decision.is_some() {
        return Err(Refusal::DraftDecided { number, status: decided });
    }
    latest.decision = Some(Decision { status, by: actor.address.to_string(), at: now, reason: reason.clone() });
    let version = latest.version;
    Ok(match status {
        DraftStatus::Rejected => Done::DraftRejected { number, version, reason },
        _ => Done::DraftApproved { number, version, unconfirmed: latest.body.matches("[TO CONFIRM").count() },
    })
}

/// Stores `text` as the draft's next version, which waits for its own
/// decision. Returns the version number.
pub(super) fn edit(incident: &mut Incident, number: u32, text: &str, by: &str, now: Timestamp) -> Option<u32> {
    let text = text.trim();
    let draft = incident.drafts.iter_mut().find(|draft| draft.number == number).filter(|_| !text.is_empty())?;
    let version = draft.versions.last().map_or(1, |latest| latest.version + 1);
    draft.versions.push(DraftVersion { version, body: text.to_string(), by: by.to_string(), at: now, decision: None });
    Some(version)
}

//! The incident's timeline: every update, command and note, with who and when.

use jiff::Timestamp;

use super::incident::{EntryKind, Trust};
use super::mail::Inbound;
use super::outcome::Done;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub author: String,
    pub kind: EntryKind,
    pub text: String,
    pub message_id: Option<String>,
    pub trust: Trust,
    /// What a command entry did; `None` for other entries and for
    /// commands stored before outcomes were kept.
    pub outcome: Option<Done>,
}

impl TimelineEntry {
    /// An entry by the author of `inbound`.
    pub fn of_mail(inbound: &Inbound, kind: EntryKind, text: &str, trust: Trust, now: Timestamp) -> TimelineEntry {
        TimelineEntry {
            at: now,
            author: inbound.author().map(|mailbox| mailbox.address.clone()).unwrap_or_default(),
            kind,
            text: text.to_string(),
            message_id: inbound.message_id.clone(),
            trust,
            outcome: None,
        }
    }
}

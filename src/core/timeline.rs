//! The incident's timeline: every update, command and note, with who and when.

use jiff::Timestamp;

use super::incident::{EntryKind, Trust};
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

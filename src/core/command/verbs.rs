//! The verbs of the command language, their spellings, and the nearest
//! one to a mistyped word.

/// Every verb with its spellings; the first is the one the help shows.
pub(super) const VERBS: &[(Verb, &[&str])] = &[
    (Verb::Severity, &["severity", "sev", "priority", "prio"]),
    (Verb::Type, &["type"]),
    (Verb::Title, &["title", "rename"]),
    (Verb::Lead, &["lead", "owner", "ic", "commander"]),
    (Verb::Role, &["role"]),
    (Verb::Unassign, &["unassign"]),
    (Verb::Phase, &["phase"]),
    (Verb::Contained, &["contained"]),
    (Verb::Eradicated, &["eradicated"]),
    (Verb::Recovered, &["recovered"]),
    (Verb::Status, &["status", "state"]),
    (Verb::Close, &["close"]),
    (Verb::Closed, &["closed", "resolved"]),
    (Verb::Reopen, &["reopen"]),
    (Verb::Scope, &["scope"]),
    (Verb::Impact, &["impact"]),
    (Verb::Detected, &["detected"]),
    (Verb::Started, &["started"]),
    (Verb::Stream, &["stream", "workstream"]),
    (Verb::Task, &["task", "todo"]),
    (Verb::Done, &["done"]),
    (Verb::Drop, &["drop"]),
    (Verb::Notify, &["notify"]),
    (Verb::Quiet, &["quiet"]),
    (Verb::Note, &["note"]),
    (Verb::Help, &["help"]),
    (Verb::Card, &["status?", "card"]),
    (Verb::Cadence, &["cadence"]),
    (Verb::Digest, &["digest"]),
    (Verb::Regime, &["regime", "clock"]),
    (Verb::Aware, &["aware"]),
    (Verb::Notified, &["notified"]),
    (Verb::Retro, &["retro", "retrospective"]),
    (Verb::Draft, &["draft"]),
    (Verb::Show, &["show"]),
    (Verb::Approve, &["approve"]),
    (Verb::Reject, &["reject"]),
    (Verb::Channel, &["channel"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verb {
    Severity,
    Type,
    Title,
    Lead,
    Role,
    Unassign,
    Phase,
    Contained,
    Eradicated,
    Recovered,
    Status,
    Close,
    Closed,
    Reopen,
    Scope,
    Impact,
    Detected,
    Started,
    Stream,
    Task,
    Done,
    Drop,
    Notify,
    Quiet,
    Note,
    Help,
    Card,
    Cadence,
    Digest,
    Regime,
    Aware,
    Notified,
    Retro,
    Draft,
    Show,
    Approve,
    Reject,
    Channel,
}

pub(super) fn verb_named(word: &str) -> Option<Verb> {
    VERBS.iter().find(|(_, names)| names.contains(&word)).map(|(verb, _)| *verb)
}

/// The nearest spelling of a verb, for "did you mean".
pub(super) fn nearest_verb(word: &str) -> Option<(&'static str, Verb)> {
    const MOST_EDITS: usize = 2;
    let length = word.len();
    // Every spelling of a verb is ASCII letters: anything else is no typo of one.
    if length < 3 || !word.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        return None;
    }
    VERBS
        .iter()
        .flat_map(|(verb, names)| names.iter().map(move |name| (*name, *verb)))
        // The distance is at least the difference in length, and a typo
        // keeps the first letter or swaps it with the second: skip the rest.
        .filter(|(name, _)| {
            let first = name.as_bytes()[0];
            name.len() >= 4
                && name.len().abs_diff(length) <= MOST_EDITS
                && (word.as_bytes()[0] == first || word.as_bytes()[1] == first)
        })
        // Edits and swapped neighbours, as typos are; no allocation per name.
        .map(|(name, verb)| (strsim::osa_distance(word, name), name, verb))
        .filter(|(distance, _, _)| *distance <= MOST_EDITS)
        .min_by_key(|(distance, _, _)| *distance)
        .map(|(_, name, verb)| (name, verb))
}

//! The command language: what a mail asks sitrep to do, read from the end of
//! its subject and from the command paragraphs of the new text.
//!
//! A command paragraph is a run of lines between blank lines in which every
//! line is a command, or looks like one beside a real one; it may stand
//! anywhere in the new text. The first paragraph may also open with commands
//! before its prose, and a lifecycle word (`resolved`, `contained`) alone on
//! a line counts in the first and last paragraphs.
//!
//! `parse` never fails: it returns every line it took for a command, each
//! understood or with the problem a person needs to fix it, and the subject
//! and update text with the understood lines taken out. Prose stays prose
//! and is never lost: a line that is not a command produces no answer, and a
//! line that was meant as one but is wrong stays in the text. Quoted history
//! and signatures never reach this module (see `quote`).

use std::sync::LazyLock;

use jiff::{SignedDuration, Timestamp};
use regex::Regex;

use super::incident::{Channel, DraftKind, Framing, IncidentType, Phase, Role, Severity, Status, Stream};

mod arguments;
mod body;
mod verbs;

pub use arguments::is_typeable_name;
use arguments::{arguments, severity_value, type_value};
use body::parse_body;
use verbs::{Verb, nearest_verb, verb_named};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Severity(Severity),
    /// `type ransomware`, `#bec`: what kind of incident, and its playbook.
    Type(IncidentType),
    Title(String),
    Lead(Who),
    Role(Role, Who),
    /// `None` clears the lead.
    Unassign(Option<Role>),
    Phase(Phase),
    Milestone(Milestone),
    Status(Status),
    Close(Option<String>),
    Reopen,
    Scope(String),
    Impact(String),
    Detected(When),
    Started(When),
    StreamStatus(Stream, String),
    StreamLead(Stream, Who),
    Task {
        text: String,
        owner: Option<Who>,
        due: Option<When>,
    },
    Done(u32),
    Drop(u32),
    Notify {
        add: bool,
        address: String,
    },
    Quiet,
    Note(String),
    Help,
    Card,
    Cadence(CadenceSetting),
    DigestNow,
    /// `retro send`: mail the post-incident report now.
    RetroSend,
    /// Start a notification regime's clock, or drop it (`off`) when counsel
    /// finds it does not apply.
    Regime {
        name: String,
        off: bool,
    },
    Aware(When),
    /// The body of a regime was notified: its next open deadline is met.
    Notified {
        regime: String,
        when: Option<When>,
    },
    /// `draft customer-notice worst`: a ready-to-edit text, to the sender only.
    Draft(DraftKind, Framing),
    /// `approve D2`: the draft's latest version may be sent.
    Approve(u32),
    /// `show D2`: the draft's latest version, mailed to the one who asks.
    ShowDraft(u32),
    /// `reject D2 <reason>`.
    Reject(u32, Option<String>),
    /// `channel out-of-band`, `#oob`, `channel normal`.
    Channel(Channel),
}

/// `cadence 45m`, `cadence off`, `cadence auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CadenceSetting {
    Every(SignedDuration),
    Off,
    BySeverity,
}

/// The milestone shortcuts, which also move the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    Contained,
    Eradicated,
    Recovered,
}

/// A person as written; resolved against the sender and `[people]` later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Me,
    Address(String),
    Name(String),
}

/// A time as written; resolved in the configured time zone later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Now,
    Today {
        hour: i8,
        minute: i8,
    },
    Yesterday {
        hour: i8,
        minute: i8,
    },
    Ago(SignedDuration),
    At(Timestamp),
    /// A deadline this long from now: `due 2h`, `due in 30m`.
    In(SignedDuration),
    Tomorrow {
        hour: i8,
        minute: i8,
    },
    /// The next such day (today if its time is still ahead).
    Next {
        weekday: jiff::civil::Weekday,
        hour: i8,
        minute: i8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Subject,
    Body,
}

/// One command as written, and what it was understood as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub origin: Origin,
    pub written: String,
    pub command: Result<Command, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub lines: Vec<Line>,
    /// The subject without its command group and hashtags.
    pub subject: String,
    /// The update text without the command block.
    pub text: String,
}

/// Reads the commands of a mail: the subject's trailing `[...]` group and
/// hashtags, then the command paragraphs of the new text.
pub fn parse(subject: &str, text: &str) -> Parsed {
    let (subject, mut lines) = parse_subject(subject);
    let (text, body_lines) = parse_body(text);
    lines.extend(body_lines);
    Parsed { lines, subject, text }
}

/// As `parse`, for a reply: subject commands that the parent's subject
/// already carried were written by the parent's author and travel along in
/// every "Re:", so they are not this sender's.
pub fn parse_reply(subject: &str, parent_subject: Option<&str>, text: &str) -> Parsed {
    let mut parsed = parse(subject, text);
    if let Some(parent) = parent_subject {
        let (_, inherited) = parse_subject(parent);
        parsed.lines.retain(|line| {
            line.origin != Origin::Subject
                || !inherited.iter().any(|old| old.written.eq_ignore_ascii_case(&line.written))
        });
    }
    parsed
}

/// How a line is written, which decides how much benefit of the doubt it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Form {
    /// `/sev 1` or `#sev1`: unmistakably meant as a command.
    marked: bool,
    /// `Severity: high`, the RT spelling.
    colon: bool,
}

enum Reading {
    /// Not a command: prose.
    Prose,
    Command(Result<Command, String>),
    /// An unknown word close to a verb, with the "did you mean".
    Suggestion(String, Evidence),
}

/// How sure a "did you mean" is that a command was meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    /// The line would read as the verb's structured arguments: `sevrity 1`.
    Arguments,
    /// Nothing but the likeness of a word: `Hello` is near `help`.
    Likeness,
}

/// Reads one line. `in_block`: it follows a recognised command, so a failed
/// reading is reported rather than taken for prose.
fn read_line(line: &str, in_block: bool, origin: Origin) -> Reading {
    let trimmed = line.trim();
    let (marked, unmarked) = match trimmed.strip_prefix('/').or_else(|| trimmed.strip_prefix('#')) {
        Some(rest) if !rest.starts_with(char::is_whitespace) && !rest.is_empty() => (true, rest),
        _ => (false, trimmed),
    };
    // "Contained." and "Done!" are one-word commands with punctuation.
    let unmarked =
        if unmarked.split_whitespace().count() == 1 { unmarked.trim_end_matches(['.', '!']) } else { unmarked };
    let (word, rest, colon) = split_verb(unmarked);
    let form = Form { marked: marked || origin == Origin::Subject, colon };
    let word = word.to_lowercase();
    let words = trimmed.split_whitespace().count();
    // A short line, a marked one or one inside a block is meant as a command;
    // anything else must read perfectly to be taken as one.
    let insistent = form.marked || in_block || words <= 3;
    // "One more thing." and "Scope is unclear." are short, but sentences.
    let sentence = words > 1 && trimmed.ends_with(['.', '!', '?']) && !form.marked && !in_block && !colon;
    if let Some(command) = shorthand(&word, rest, form.marked) {
        return Reading::Command(Ok(command));
    }
    // "Done." answers a request; only `done <task>` is the command.
    if word == "done" && rest.is_empty() && !in_block && !form.marked {
        return Reading::Prose;
    }
    match verb_named(&word) {
        // "Scope is unclear.", "Task force assembled.": the text of these
        // commands comes after the verb or a colon, without a full stop.
        Some(Verb::Scope | Verb::Impact | Verb::Title | Verb::Task | Verb::Close) if sentence => Reading::Prose,
        // "Meeting notes [draft]", "[status]": a label in a subject, not a
        // command without its argument.
        Some(_) if origin == Origin::Subject && rest.is_empty() && arguments_required(&word) => Reading::Prose,
        // `sev high.`: a full stop ends the line, not the argument.
        Some(verb) if takes_structured_arguments(verb) => {
            match arguments(verb, rest.trim_end_matches(['.', '!']), form, in_block) {
                Ok(command) => Reading::Command(Ok(command)),
                Err(problem) if insistent && !sentence && !(colon && !in_block && !form.marked) => {
                    Reading::Command(Err(format!("{word}: {problem}")))
                }
                Err(_) => Reading::Prose,
            }
        }
        Some(verb) => match arguments(verb, rest, form, in_block) {
            Ok(command) => Reading::Command(Ok(command)),
            Err(problem) if insistent && !sentence && !(colon && !in_block && !form.marked) => {
                Reading::Command(Err(format!("{word}: {problem}")))
            }
            Err(_) => Reading::Prose,
        },
        None if !insistent || sentence => Reading::Prose,
        None => match nearest_verb(&word) {
            Some((name, verb)) if arguments(verb, rest, form, true).is_ok() => {
                let evidence = if !rest.is_empty() && takes_structured_arguments(verb) {
                    Evidence::Arguments
                } else {
                    Evidence::Likeness
                };
                Reading::Suggestion(format!("unknown command `{word}`; did you mean `{name}`?"), evidence)
            }
            _ => Reading::Prose,
        },
    }
}

/// Verbs whose arguments are a value from a small set, a person or a time:
/// a near miss of one with such an argument is a typo, while `Test reply`
/// is not a mistyped `task reply`.
/// Whether `word`, given alone, cannot be a whole command.
fn arguments_required(word: &str) -> bool {
    verb_named(word).is_some_and(|verb| arguments(verb, "", Form { marked: true, colon: false }, true).is_err())
}

fn takes_structured_arguments(verb: Verb) -> bool {
    !matches!(
        verb,
        Verb::Title
            | Verb::Scope
            | Verb::Impact
            | Verb::Task
            | Verb::Note
            | Verb::Stream
            | Verb::Close
            | Verb::Contained
            | Verb::Eradicated
            | Verb::Recovered
            | Verb::Closed
            | Verb::Reopen
            | Verb::Quiet
            | Verb::Help
            | Verb::Card
    )
}

/// `Severity: high` → ("Severity", "high", true); `sev high` → ("sev", "high", false).
fn split_verb(line: &str) -> (&str, &str, bool) {
    let first_end = line.find(char::is_whitespace).unwrap_or(line.len());
    let first = &line[..first_end];
    if let Some(colon) = first.find(':') {
        let word = &first[..colon];
        if !word.is_empty() && word.chars().all(|c| c.is_alphabetic() || c == '-' || c == '?') {
            return (word, line[colon + 1..].trim(), true);
        }
    }
    // "Severity : high"
    let rest = line[first_end..].trim_start();
    if let Some(after) = rest.strip_prefix(':') {
        return (first, after.trim(), true);
    }
    (first, rest.trim(), false)
}

/// `sev1`..`sev4`, `p1`..`p4`; and `#ransomware` when marked, since "Phishing" alone on a
/// line may be a word of prose.
fn shorthand(word: &str, rest: &str, marked: bool) -> Option<Command> {
    if !rest.is_empty() {
        return None;
    }
    let severity = severity_value(word).filter(|_| word.starts_with("sev") || word.starts_with('p'));
    if marked && word == "oob" {
        return Some(Command::Channel(Channel::OutOfBand));
    }
    severity.map(Command::Severity).or_else(|| type_value(word).filter(|_| marked).map(Command::Type))
}

static BRACKET_GROUP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[([^\[\]]*)\]\s*$").expect("valid pattern"));
static HASHTAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:^|\s)#([\w?-]+)\s*$").expect("valid pattern"));

/// Takes trailing `[...]` groups and `#hashtags` off the subject while they
/// read as commands.
fn parse_subject(subject: &str) -> (String, Vec<Line>) {
    let mut remaining = subject.trim_end().to_string();
    let mut groups: Vec<Vec<Line>> = Vec::new();
    loop {
        if let Some(captures) = HASHTAG.captures(&remaining) {
            let tag = captures[1].to_string();
            let reading = match read_line(&tag, false, Origin::Subject) {
                Reading::Command(command) => Some(command),
                Reading::Suggestion(message, _) => Some(Err(message)),
                Reading::Prose => None,
            };
            if let Some(command) = reading {
                let start = captures.get(0).map_or(0, |m| m.start());
                remaining.truncate(start);
                groups.push(vec![Line { origin: Origin::Subject, written: format!("#{tag}"), command }]);
                continue;
            }
        }
        if let Some(captures) = BRACKET_GROUP.captures(&remaining) {
            let items: Vec<&str> =
                captures[1].split([';', ',']).map(str::trim).filter(|item| !item.is_empty()).collect();
            let readings: Vec<(String, Reading)> =
                items.iter().map(|item| (item.to_string(), read_line(item, false, Origin::Subject))).collect();
            if !readings.is_empty() && readings.iter().any(|(_, reading)| matches!(reading, Reading::Command(_))) {
                let start = captures.get(0).map_or(0, |m| m.start());
                remaining.truncate(start);
                let lines = readings
                    .into_iter()
                    .map(|(written, reading)| Line {
                        origin: Origin::Subject,
                        command: match reading {
                            Reading::Command(command) => command,
                            Reading::Suggestion(message, _) => Err(message),
                            Reading::Prose => Err(format!("`{written}` is not a command")),
                        },
                        written,
                    })
                    .collect();
                groups.push(lines);
                continue;
            }
        }
        break;
    }
    // Groups were taken from the end; give them back in written order.
    let lines = groups.into_iter().rev().flatten().collect();
    (remaining.trim_end().to_string(), lines)
}

/// The reference card: every verb with its spellings and an example, the
/// text of the `help` reply and of `docs/commands.md`.
pub const REFERENCE: &str = include_str!("../../../docs/commands.md");

#[cfg(test)]
mod tests;

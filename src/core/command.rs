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

use super::incident::{Phase, Role, Severity, Status, Stream};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Severity(Severity),
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
}

/// `cadence 45m`, `cadence off`, `cadence auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CadenceSetting {
    Every(SignedDuration),
    Off,
    BySeverity,
}

/// The milestone shortcuts, which also move the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    Today { hour: i8, minute: i8 },
    Yesterday { hour: i8, minute: i8 },
    Ago(SignedDuration),
    At(Timestamp),
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

/// Every verb with its spellings; the first is the one the help shows.
const VERBS: &[(Verb, &[&str])] = &[
    (Verb::Severity, &["severity", "sev", "priority", "prio"]),
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
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Severity,
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
}

fn verb_named(word: &str) -> Option<Verb> {
    VERBS.iter().find(|(_, names)| names.contains(&word)).map(|(verb, _)| *verb)
}

/// The nearest spelling of a verb, for "did you mean".
fn nearest_verb(word: &str) -> Option<(&'static str, Verb)> {
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
    if let Some(command) = shorthand(&word, rest) {
        return Reading::Command(Ok(command));
    }
    // "Done." answers a request; only `done <task>` is the command.
    if word == "done" && rest.is_empty() && !in_block && !form.marked {
        return Reading::Prose;
    }
    match verb_named(&word) {
        Some(verb) => match arguments(verb, rest, form, in_block) {
            Ok(command) => Reading::Command(Ok(command)),
            Err(problem) if insistent && !(colon && !in_block && !form.marked) => {
                Reading::Command(Err(format!("{word}: {problem}")))
            }
            Err(_) => Reading::Prose,
        },
        None if !insistent => Reading::Prose,
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

/// `sev1`..`sev4`, `p1`..`p4`.
fn shorthand(word: &str, rest: &str) -> Option<Command> {
    if !rest.is_empty() {
        return None;
    }
    severity_value(word).filter(|_| word.starts_with("sev") || word.starts_with('p')).map(Command::Severity)
}

fn arguments(verb: Verb, rest: &str, form: Form, in_block: bool) -> Result<Command, String> {
    let explicit = form.marked || form.colon || in_block;
    match verb {
        Verb::Severity => severity_value(&rest.to_lowercase())
            .map(Command::Severity)
            .ok_or_else(|| "say critical, high, medium or low (or sev1 to sev4)".to_string()),
        Verb::Title => text(rest, "give the new title").map(Command::Title),
        Verb::Lead => who(rest).map(Command::Lead),
        Verb::Role => {
            let (role, remainder) = role_prefix(rest).ok_or_else(|| format!("name a role: {}", role_names()))?;
            who(remainder).map(|who| Command::Role(role, who))
        }
        Verb::Unassign => {
            if rest.eq_ignore_ascii_case("lead") {
                return Ok(Command::Unassign(None));
            }
            match role_prefix(rest) {
                Some((role, "")) => Ok(Command::Unassign(Some(role))),
                _ => Err(format!("name a role: lead, {}", role_names())),
            }
        }
        Verb::Phase => phase_value(rest)
            .map(Command::Phase)
            .ok_or_else(|| "say detection, containment, eradication, recovery or post-incident".to_string()),
        Verb::Contained => alone(rest, Command::Milestone(Milestone::Contained)),
        Verb::Eradicated => alone(rest, Command::Milestone(Milestone::Eradicated)),
        Verb::Recovered => alone(rest, Command::Milestone(Milestone::Recovered)),
        Verb::Status => rest
            .to_lowercase()
            .parse::<Status>()
            .map(Command::Status)
            .map_err(|_| "say open, investigating, contained, monitoring or closed".to_string()),
        // A reason only in an explicit form: "Close the firewall port" is prose.
        Verb::Close if rest.is_empty() => Ok(Command::Close(None)),
        Verb::Close if explicit => Ok(Command::Close(Some(rest.to_string()))),
        Verb::Close => Err("write `close: <reason>` to give a reason".to_string()),
        Verb::Closed => alone(rest, Command::Close(None)),
        Verb::Reopen => alone(rest, Command::Reopen),
        Verb::Scope => text(rest, "describe the scope").map(Command::Scope),
        Verb::Impact => text(rest, "describe the impact").map(Command::Impact),
        Verb::Detected => when(rest).map(Command::Detected),
        Verb::Started => when(rest).map(Command::Started),
        Verb::Stream => stream_arguments(rest),
        Verb::Task => task_arguments(rest),
        Verb::Done => task_number(rest).map(Command::Done),
        Verb::Drop => task_number(rest).map(Command::Drop),
        Verb::Notify => notify_arguments(rest),
        Verb::Quiet => alone(rest, Command::Quiet),
        // "Note: …" at the top of a mail is how people start ordinary prose.
        Verb::Note if form.colon && !form.marked && !in_block => Err("write `note <text>`".to_string()),
        Verb::Note => text(rest, "write the note").map(Command::Note),
        Verb::Help => alone(rest, Command::Help),
        Verb::Card => alone(rest, Command::Card),
        Verb::Cadence => cadence_setting(rest),
        Verb::Digest if rest.is_empty() || rest.eq_ignore_ascii_case("now") => Ok(Command::DigestNow),
        Verb::Digest => Err("write `digest now`".to_string()),
        Verb::Regime => regime_arguments(rest),
        Verb::Aware if rest.is_empty() => Ok(Command::Aware(When::Now)),
        Verb::Aware => when(rest).map(Command::Aware),
        Verb::Notified => notified_arguments(rest),
        Verb::Retro if rest.eq_ignore_ascii_case("send") => Ok(Command::RetroSend),
        Verb::Retro => Err("write `retro send` to mail the post-incident report".to_string()),
    }
}

fn cadence_setting(rest: &str) -> Result<Command, String> {
    let setting = match rest.trim().to_lowercase().as_str() {
        "off" | "none" | "stop" => CadenceSetting::Off,
        "auto" | "default" | "severity" | "on" => CadenceSetting::BySeverity,
        other => CadenceSetting::Every(
            super::deadline::parse_duration(other)
                .map_err(|_| "say how often, e.g. `cadence 45m`, or `cadence off` or `cadence auto`".to_string())?,
        ),
    };
    Ok(Command::Cadence(setting))
}

/// A name people type in a command, such as a regime's (`gdpr`, `sec-8k`):
/// letters, digits, `-` and `_`. The configuration holds its names to it.
pub fn is_typeable_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A regime's name as configured: `gdpr`, `nis2`, `sec-8k`.
fn regime_name(word: &str) -> Result<String, String> {
    let name = word.to_lowercase();
    if is_typeable_name(&name) {
        Ok(name)
    } else {
        Err("name a regime from the configuration, e.g. `regime gdpr`".to_string())
    }
}

fn regime_arguments(rest: &str) -> Result<Command, String> {
    let mut words = rest.split_whitespace();
    let name = regime_name(words.next().unwrap_or_default())?;
    match words.collect::<Vec<_>>().join(" ").to_lowercase().as_str() {
        "" => Ok(Command::Regime { name, off: false }),
        "off" | "n/a" | "stop" | "drop" | "not applicable" => Ok(Command::Regime { name, off: true }),
        _ => Err("write `regime <name>` to start its clock or `regime <name> off` to drop it".to_string()),
    }
}

fn notified_arguments(rest: &str) -> Result<Command, String> {
    let (first, remainder) = rest.trim().split_once(char::is_whitespace).unwrap_or((rest.trim(), ""));
    let regime = regime_name(first)?;
    let when = if remainder.trim().is_empty() { None } else { Some(when(remainder)?) };
    Ok(Command::Notified { regime, when })
}

fn alone(rest: &str, command: Command) -> Result<Command, String> {
    if rest.is_empty() { Ok(command) } else { Err("takes nothing after it".to_string()) }
}

fn text(rest: &str, missing: &str) -> Result<String, String> {
    if rest.is_empty() { Err(missing.to_string()) } else { Ok(rest.to_string()) }
}

fn severity_value(value: &str) -> Option<Severity> {
    match value.trim() {
        "critical" | "crit" | "1" | "sev1" | "p1" => Some(Severity::Critical),
        "high" | "2" | "sev2" | "p2" => Some(Severity::High),
        "medium" | "med" | "3" | "sev3" | "p3" => Some(Severity::Medium),
        "low" | "4" | "sev4" | "p4" => Some(Severity::Low),
        _ => None,
    }
}

fn phase_value(value: &str) -> Option<Phase> {
    match value.trim().to_lowercase().replace(['_', ' '], "-").as_str() {
        "detection" | "detection-and-analysis" | "analysis" => Some(Phase::Detection),
        "containment" => Some(Phase::Containment),
        "eradication" => Some(Phase::Eradication),
        "recovery" => Some(Phase::Recovery),
        "post-incident" | "postincident" | "lessons-learned" => Some(Phase::PostIncident),
        _ => None,
    }
}

const ROLE_SPELLINGS: &[(Role, &[&str])] = &[
    (Role::Scribe, &["scribe"]),
    (Role::InternalComms, &["internal-comms", "internal comms", "internal communications", "internal"]),
    (Role::ExternalComms, &["external-comms", "external comms", "external communications", "external", "pr"]),
    (Role::Legal, &["legal", "counsel"]),
    (Role::Technical, &["technical", "tech", "technical lead", "tech lead"]),
];

fn role_names() -> String {
    Role::ALL.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(", ")
}

/// The role at the start of `text`, and the rest.
fn role_prefix(text: &str) -> Option<(Role, &str)> {
    longest_prefix(text, ROLE_SPELLINGS)
}

/// The value whose spelling starts `text` (as whole words, the longest
/// spelling winning: "internal comms" over "internal"), and the rest.
fn longest_prefix<'a, T: Copy>(text: &'a str, spellings: &[(T, &[&str])]) -> Option<(T, &'a str)> {
    let lowered = text.to_lowercase();
    let mut best: Option<(T, usize)> = None;
    for (value, names) in spellings {
        for name in *names {
            let matches =
                lowered.starts_with(name) && lowered[name.len()..].chars().next().is_none_or(char::is_whitespace);
            if matches && best.is_none_or(|(_, length)| name.len() > length) {
                best = Some((*value, name.len()));
            }
        }
    }
    best.map(|(value, length)| (value, text[length..].trim()))
}

const STREAM_SPELLINGS: &[(Stream, &[&str])] = &[
    (Stream::Technical, &["technical", "tech"]),
    (Stream::InternalComms, &["internal-comms", "internal comms", "internal"]),
    (Stream::ExternalComms, &["external-comms", "external comms", "external"]),
    (Stream::Legal, &["legal", "regulatory", "legal-regulatory"]),
];

fn stream_arguments(rest: &str) -> Result<Command, String> {
    let Some((stream, remainder)) = longest_prefix(rest, STREAM_SPELLINGS) else {
        return Err("name a stream: technical, internal-comms, external-comms or legal".to_string());
    };
    if let Some(person) = remainder.strip_prefix("lead ").or_else(|| remainder.strip_prefix("Lead ")) {
        return who(person).map(|who| Command::StreamLead(stream, who));
    }
    text(remainder, "say where the stream stands").map(|status| Command::StreamStatus(stream, status))
}

fn task_arguments(rest: &str) -> Result<Command, String> {
    let mut text_part = rest;
    let mut due = None;
    let lowered = rest.to_lowercase();
    if let Some(position) = lowered.rfind(" due ") {
        due = Some(when(&rest[position + 5..])?);
        text_part = &rest[..position];
    }
    let mut owner = None;
    let mut words: Vec<&str> = Vec::new();
    for word in text_part.split_whitespace() {
        match word.strip_prefix('@') {
            Some(person) if owner.is_none() && !person.is_empty() => owner = Some(who(person)?),
            _ => words.push(word),
        }
    }
    let description = words.join(" ");
    if description.is_empty() {
        return Err("describe the task".to_string());
    }
    Ok(Command::Task { text: description, owner, due })
}

fn task_number(rest: &str) -> Result<u32, String> {
    rest.trim()
        .trim_start_matches('#')
        .parse::<u32>()
        .ok()
        .filter(|&number| number > 0)
        .ok_or_else(|| "give the task number, e.g. `done 2`".to_string())
}

fn notify_arguments(rest: &str) -> Result<Command, String> {
    let (add, address) = match rest.chars().next() {
        Some('+') => (true, rest[1..].trim()),
        Some('-') => (false, rest[1..].trim()),
        _ => (true, rest.trim()),
    };
    match who(address)? {
        Who::Address(address) => Ok(Command::Notify { add, address }),
        _ => Err("give an address: `notify +name@company.test` or `notify -name@company.test`".to_string()),
    }
}

/// `me`, an address (with or without angle brackets), or a name.
fn who(text: &str) -> Result<Who, String> {
    let text = text.trim().trim_start_matches('@');
    if text.is_empty() {
        return Err("say who: `me`, an address or a name".to_string());
    }
    if text.eq_ignore_ascii_case("me") || text.eq_ignore_ascii_case("myself") {
        return Ok(Who::Me);
    }
    let bare = text.trim_start_matches('<').trim_end_matches('>');
    if bare.contains('@') {
        let valid = bare.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !bare.chars().any(char::is_whitespace)
        });
        return if valid { Ok(Who::Address(bare.to_lowercase())) } else { Err(format!("`{bare}` is not an address")) };
    }
    if text.split_whitespace().count() > 3 || !text.chars().all(|c| c.is_alphanumeric() || " .'-".contains(c)) {
        return Err(format!("`{text}` is not a person: say `me`, an address or a name"));
    }
    Ok(Who::Name(text.to_lowercase()))
}

static CLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:(today|yesterday)\s+)?(\d{1,2})[:.h](\d{2})$").expect("valid pattern"));
static AGO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,4})\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?)\s+ago$").expect("valid pattern")
});

/// `now`, `14:05`, `yesterday 14:05`, `30m ago`, or RFC 3339.
fn when(text: &str) -> Result<When, String> {
    let lowered = text.trim().to_lowercase();
    if lowered == "now" {
        return Ok(When::Now);
    }
    if let Some(captures) = CLOCK.captures(&lowered) {
        let hour: i8 = captures[2].parse().unwrap_or(99);
        let minute: i8 = captures[3].parse().unwrap_or(99);
        if !(0..24).contains(&hour) || !(0..60).contains(&minute) {
            return Err(format!("`{text}` is not a time of day"));
        }
        return Ok(match captures.get(1).map(|m| m.as_str()) {
            Some("yesterday") => When::Yesterday { hour, minute },
            _ => When::Today { hour, minute },
        });
    }
    if let Some(captures) = AGO.captures(&lowered) {
        let amount: i64 = captures[1].parse().unwrap_or(0);
        let unit = match &captures[2][..1] {
            "m" => 60,
            "h" => 3600,
            _ => 86_400,
        };
        return Ok(When::Ago(SignedDuration::from_secs(amount * unit)));
    }
    text.trim()
        .parse::<Timestamp>()
        .map(When::At)
        .map_err(|_| format!("`{text}` is not a time: say now, 14:05, yesterday 14:05, 30m ago or 2026-11-27T14:05Z"))
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

static GREETING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:hi|hello|hey|dear|morning|evening|good\s+(?:morning|afternoon|evening|day)|all|team|folks|hallo|moin|servus|guten\s+(?:morgen|tag|abend)|liebe|lieber|bonjour|bonsoir|salut|hola|buenos\s+días|buenas|ciao|buongiorno|olá|oi|bom\s+dia|hej|hei|moi|cześć|dzień\s+dobry|ahoj|dobrý\s+den|merhaba|здравствуйте|привет|добрый\s+день|γεια|καλημέρα)\b[\w\s,.!-]*$",
    )
    .expect("valid pattern")
});

static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:many\s+|best\s+|kind\s+|warm\s+)?(?:thanks|thank\s+you|thx|ty|cheers|regards|best|br|rgds|mfg|lg|vg|grüße|gruß|danke|merci|cordialement|saludos|gracias|grazie|saluti|obrigad[oa]|groeten|hälsningar|mvh|pozdrawiam|s\s+pozdravem|спасибо|с\s+уважением)\b[\p{L}\s,.!'-]*$",
    )
    .expect("valid pattern")
});

/// Greetings and sign-offs are short; the length is checked here rather
/// than in the patterns, whose bounded repeats of Unicode classes would
/// cost every process start a large automaton.
const GREETING_LONGEST: usize = 60;

fn is_greeting(line: &str) -> bool {
    line.chars().count() <= GREETING_LONGEST && GREETING.is_match(line)
}

fn is_sign_off(line: &str) -> bool {
    line.chars().count() <= GREETING_LONGEST && SIGN_OFF.is_match(line)
}

/// How one line reads on its own, before its paragraph is looked at.
enum Standalone {
    /// A verb the language knows, understood or with what is wrong with it.
    Command(Result<Command, String>),
    /// An unknown word near a verb: a typo, or a word like "Hello".
    Suggestion(String),
    /// `word: value`, `word value` or `#word`: a command if its neighbours are.
    Shaped,
    Prose,
}

fn standalone(line: &str) -> Standalone {
    match read_line(line, false, Origin::Body) {
        Reading::Command(command) => Standalone::Command(command),
        // `/contaned` is unmistakably meant as a command.
        // "Dear team" is near `lead team`, and a greeting all the same.
        Reading::Suggestion(..) if is_greeting(line.trim()) => Standalone::Prose,
        Reading::Suggestion(message, evidence)
            if evidence == Evidence::Arguments || line.trim().starts_with(['/', '#']) =>
        {
            Standalone::Command(Err(message))
        }
        Reading::Suggestion(message, _) => Standalone::Suggestion(message),
        Reading::Prose if command_shaped(line) => Standalone::Shaped,
        Reading::Prose => Standalone::Prose,
    }
}

/// A short line that looks like a key and a value, the shape a person gives
/// a command; sentences end in punctuation or run longer.
fn command_shaped(line: &str) -> bool {
    let trimmed = line.trim();
    if let Some(tag) = trimmed.strip_prefix('#') {
        return !tag.is_empty() && !tag.contains(char::is_whitespace);
    }
    let (word, rest, colon) = split_verb(trimmed);
    let is_word = (2..=20).contains(&word.chars().count()) && word.chars().all(|c| c.is_alphabetic() || c == '-');
    let value_words = rest.split_whitespace().count();
    is_word && if colon { value_words <= 8 } else { value_words <= 3 && !trimmed.ends_with(['.', '!', '?', ':', ',']) }
}

/// The lifecycle words that count alone on a line in the first or last
/// paragraph, even between sentences.
fn is_lifecycle(command: &Command) -> bool {
    matches!(command, Command::Close(None) | Command::Reopen | Command::Milestone(_))
}

/// The command paragraphs of the new text, wherever they stand, and the
/// lifecycle words of its first and last paragraphs. Valid commands leave
/// the text; everything else stays in it.
fn parse_body(text: &str) -> (String, Vec<Line>) {
    let lines: Vec<&str> = text.lines().collect();
    let paragraphs = paragraphs(&lines);
    let mut found: Vec<(usize, Result<Command, String>)> = Vec::new();
    for (index, range) in paragraphs.iter().enumerate() {
        let is_first = index == 0;
        let is_last = index + 1 == paragraphs.len();
        read_paragraph(&lines, range.clone(), is_first, is_last, &mut found);
    }
    if found.is_empty() {
        return (text.to_string(), Vec::new());
    }
    found.sort_by_key(|(index, _)| *index);
    let taken: Vec<usize> = found.iter().filter(|(_, command)| command.is_ok()).map(|(index, _)| *index).collect();
    let remaining: Vec<&str> =
        lines.iter().enumerate().filter(|(index, _)| !taken.contains(index)).map(|(_, line)| *line).collect();
    let commands = found
        .into_iter()
        .map(|(index, command)| Line { origin: Origin::Body, written: lines[index].trim().to_string(), command })
        .collect();
    (super::quote::tidy(&remaining), commands)
}

/// Runs of non-blank lines.
fn paragraphs(lines: &[&str]) -> Vec<std::ops::Range<usize>> {
    let mut paragraphs = Vec::new();
    let mut start = None;
    for (index, line) in lines.iter().enumerate() {
        match (line.trim().is_empty(), start) {
            (false, None) => start = Some(index),
            (true, Some(begin)) => {
                paragraphs.push(begin..index);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        paragraphs.push(begin..lines.len());
    }
    paragraphs
}

fn read_paragraph(
    lines: &[&str],
    range: std::ops::Range<usize>,
    is_first: bool,
    is_last: bool,
    found: &mut Vec<(usize, Result<Command, String>)>,
) {
    let mut start = range.start;
    // "Hi all," before the commands of the first paragraph.
    if is_first && is_greeting(lines[start].trim()) && !matches!(standalone(lines[start]), Standalone::Command(_)) {
        start += 1;
    }
    // A sign-off ends the commands; it and the name below it are text.
    let end = (start + 1..range.end).find(|&index| is_sign_off(lines[index].trim())).unwrap_or(range.end);
    if start >= end {
        return;
    }
    let readings: Vec<Standalone> = lines[start..end].iter().map(|line| standalone(line)).collect();
    let any_valid = readings.iter().any(|reading| matches!(reading, Standalone::Command(Ok(_))));
    let all_verbs = readings.iter().all(|reading| matches!(reading, Standalone::Command(_)));
    let no_prose = readings.iter().all(|reading| !matches!(reading, Standalone::Prose));
    if no_prose && (any_valid || all_verbs) {
        for (offset, reading) in readings.into_iter().enumerate() {
            let line = lines[start + offset];
            let command = match reading {
                Standalone::Command(command) => command,
                Standalone::Suggestion(message) => Err(message),
                Standalone::Shaped | Standalone::Prose => match read_line(line, true, Origin::Body) {
                    Reading::Command(command) => command,
                    Reading::Suggestion(message, _) => Err(message),
                    Reading::Prose => Err(format!("`{}` is not a command", line.trim())),
                },
            };
            found.push((start + offset, command));
        }
        return;
    }
    if !(is_first || is_last) {
        return;
    }
    // Mixed with prose: the commands that open the first paragraph, and
    // lifecycle words alone on a line after a finished sentence.
    let mut handled = start;
    if is_first && matches!(readings.first(), Some(Standalone::Command(_))) {
        for (offset, line) in lines[start..end].iter().enumerate() {
            match read_line(line, offset > 0, Origin::Body) {
                Reading::Command(command) => found.push((start + offset, command)),
                Reading::Suggestion(message, _) => found.push((start + offset, Err(message))),
                Reading::Prose => break,
            }
            handled = start + offset + 1;
        }
    }
    for (index, reading) in (handled..end).zip(readings.into_iter().skip(handled - start)) {
        let after_sentence = index == range.start || lines[index - 1].trim_end().ends_with(['.', '!', '?', ':', ',']);
        if let Standalone::Command(Ok(command)) = reading
            && is_lifecycle(&command)
            && lines[index].split_whitespace().count() == 1
            && after_sentence
        {
            found.push((index, Ok(command)));
        }
    }
}

/// The reference card: every verb with its spellings and an example, the
/// text of the `help` reply and of `docs/commands.md`.
pub const REFERENCE: &str = include_str!("../../docs/commands.md");

#[cfg(test)]
mod tests;

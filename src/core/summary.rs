//! A command as a sentence, for readers who never type one: the executive
//! digest says "Severity set to critical", not `sev critical`. Read from
//! the command line as stored on the timeline, so nothing else changes.

use super::command::{self, CadenceSetting, Command, Milestone, When, Who};
use super::deadline::describe_duration;
use super::incident::Role;

/// `line`, run by `author`, in words; the line itself when it does not read
/// as a command (it always did when it was stored), and `None` for
/// commands that change nothing a reader of a digest needs.
pub fn in_words(line: &str, author: &str) -> Option<String> {
    let parsed = command::parse("", line);
    let Some(Ok(command)) = parsed.lines.into_iter().next().map(|line| line.command) else {
        return Some(line.to_string());
    };
    let who = |who: &Who| match who {
        Who::Me => author.to_string(),
        Who::Address(address) | Who::Name(address) => address.clone(),
    };
    Some(match command {
        Command::Severity(severity) => format!("Severity set to {severity}"),
        Command::Title(title) => format!("Renamed \"{title}\""),
        Command::Lead(person) => format!("{} leads the response", who(&person)),
        Command::Role(role, person) => format!("{} handles {}", who(&person), role_words(role)),
        Command::Unassign(None) => "No lead for now".to_string(),
        Command::Unassign(Some(role)) => format!("Nobody handles {} for now", role_words(role)),
        Command::Phase(phase) => format!("Phase: {phase}"),
        Command::Milestone(Milestone::Contained) => "Contained".to_string(),
        Command::Milestone(Milestone::Eradicated) => "The cause is removed".to_string(),
        Command::Milestone(Milestone::Recovered) => "Recovered".to_string(),
        Command::Status(status) => format!("Status: {status}"),
        Command::Close(Some(reason)) => format!("Closed: {reason}"),
        Command::Close(None) => "Closed".to_string(),
        Command::Reopen => "Reopened".to_string(),
        Command::Scope(scope) => format!("Scope: {scope}"),
        Command::Impact(impact) => format!("Impact: {impact}"),
        Command::Detected(when) => format!("Detected {}", when_words(when)),
        Command::Started(when) => format!("Started {}", when_words(when)),
        Command::StreamStatus(stream, status) => format!("{stream}: {status}"),
        Command::StreamLead(stream, person) => format!("{} leads the {stream} stream", who(&person)),
        Command::Task { text, owner, due } => {
            let owner = owner.map(|person| format!(", for {}", who(&person))).unwrap_or_default();
            let due = due.map(|when| format!(", due {}", when_words(when))).unwrap_or_default();
            format!("New task: {text}{owner}{due}")
        }
        Command::Done(number) => format!("Task {number} done"),
        Command::Drop(number) => format!("Task {number} dropped"),
        Command::Notify { add: true, address } => format!("{address} now gets these updates"),
        Command::Notify { add: false, address } => format!("{address} no longer gets these updates"),
        Command::Cadence(CadenceSetting::Every(every)) => format!("Updates every {}", describe_duration(every)),
        Command::Cadence(CadenceSetting::Off) => "No more scheduled updates".to_string(),
        Command::Cadence(CadenceSetting::BySeverity) => "Updates on the severity's cadence".to_string(),
        Command::Regime { name, off: false } => format!("{name} notification clock started"),
        Command::Regime { name, off: true } => format!("{name} found not to apply"),
        Command::Aware(when) => format!("Aware since {}", when_words(when)),
        Command::Notified { regime, when } => {
            format!(
                "{regime}: authority notified{}",
                when.map(|when| format!(" {}", when_words(when))).unwrap_or_default()
            )
        }
        Command::Quiet | Command::Help | Command::Card | Command::DigestNow | Command::RetroSend | Command::Note(_) => {
            return None;
        }
    })
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Scribe => "the notes",
        Role::InternalComms => "internal communications",
        Role::ExternalComms => "external communications",
        Role::Legal => "legal",
        Role::Technical => "the technical work",
    }
}

fn when_words(when: When) -> String {
    let clock = |hour: i8, minute: i8| format!("{hour:02}:{minute:02}");
    match when {
        When::Now => "now".to_string(),
        When::Today { hour, minute } => format!("at {}", clock(hour, minute)),
        When::Yesterday { hour, minute } => format!("yesterday at {}", clock(hour, minute)),
        When::Ago(duration) => format!("{} ago", describe_duration(duration)),
        When::At(at) => format!("at {at}"),
        When::In(duration) => format!("in {}", describe_duration(duration)),
        When::Tomorrow { hour, minute } => format!("tomorrow at {}", clock(hour, minute)),
        When::Next { weekday, hour, minute } => format!("{weekday:?} at {}", clock(hour, minute)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_as_sentences_with_the_author_for_me() {
        let bob = "bob@company.test";
        assert_eq!(in_words("sev critical", bob).unwrap(), "Severity set to critical");
        assert_eq!(in_words("lead me", bob).unwrap(), "bob@company.test leads the response");
        assert_eq!(
            in_words("task call the insurer @alice due 09:00", bob).unwrap(),
            "New task: call the insurer, for alice, due at 09:00"
        );
        assert_eq!(in_words("done 2", bob).unwrap(), "Task 2 done");
        assert_eq!(in_words("stream technical restoring FS02", bob).unwrap(), "technical: restoring FS02");
        assert_eq!(in_words("regime gdpr", bob).unwrap(), "gdpr notification clock started");
        assert_eq!(in_words("close: restored from backup", bob).unwrap(), "Closed: restored from backup");
        assert_eq!(in_words("digest now", bob), None, "nothing for the reader");
        assert_eq!(in_words("not a command at all", bob).unwrap(), "not a command at all");
    }
}

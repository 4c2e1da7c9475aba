//! The commands in a mail's text: command paragraphs wherever they stand,
//! after a greeting and before a sign-off, and never a line of prose.

use super::{Command, Evidence, Line, Origin, Reading, read_line, split_verb};
use crate::core::quote::{is_greeting, is_sign_off};

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
pub(super) fn parse_body(text: &str) -> (String, Vec<Line>) {
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
    (crate::core::quote::tidy(&remaining), commands)
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

//! The retrospective: the questions asked at close, and reading the answers
//! out of a reply however it was written: numbered (`1.`, `2)`, `Q3:`),
//! typed under the quoted questions (Gmail, Apple Mail, Thunderbird), or
//! under the unquoted original below an Outlook header block. Text that
//! answers no question is kept as a general comment.

use std::sync::LazyLock;

use regex::Regex;

use super::incident::IncidentNumber;
use super::quote;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Short and stable: answers are stored under it.
    pub id: String,
    pub text: String,
}

/// The id under which free text that answers no question is kept.
pub const COMMENT: &str = "comment";
/// The id of the 1–5 rating question.
pub const RATING: &str = "rating";

/// NIST SP 800-61r2 §3.4.1's lessons-learned questions, and a rating.
pub fn default_questions() -> Vec<Question> {
    [
        ("happened", "What happened, and when? Add anything the timeline misses."),
        (
            "performance",
            "How well did staff and management perform? Were the documented procedures followed, and were they adequate?",
        ),
        ("information", "What information was needed sooner?"),
        ("inhibitors", "Were any steps or actions taken that might have inhibited the recovery?"),
        ("differently", "What would you do differently the next time a similar incident occurs?"),
        ("sharing", "How could information sharing with other organisations be improved?"),
        ("corrective", "What corrective actions could prevent similar incidents in the future?"),
        ("indicators", "Which precursors or indicators should be watched for to detect similar incidents?"),
        ("tools", "What additional tools or resources are needed to detect, analyse and mitigate future incidents?"),
        (RATING, "Overall, how did the response go, from 1 (badly) to 5 (very well)?"),
    ]
    .into_iter()
    .map(|(id, text)| Question { id: id.to_string(), text: text.to_string() })
    .collect()
}

/// What one reply answered: question id and text, in question order, and a
/// general comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub answers: Vec<(String, String)>,
    pub comment: Option<String>,
}

impl Answers {
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty() && self.comment.is_none()
    }
}

/// Whether a staff reply to a closed incident answers its questionnaire:
/// it replies to one of the incident's questionnaires (or to a reminder
/// threaded under one), or, when its threading was lost, comes from someone
/// asked and says "retrospective" in its subject.
pub fn is_answer(incident: IncidentNumber, replied_to: Option<IncidentNumber>, asked: bool, subject: &str) -> bool {
    match replied_to {
        Some(questionnaire_of) => questionnaire_of == incident,
        None => asked && subject.to_lowercase().contains("retrospective"),
    }
}

/// What a reply changes for its respondent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// Question id (or `COMMENT`) and the text to store under it.
    pub store: Vec<(String, String)>,
    /// Question number (from 1), and whether it replaces an earlier answer.
    pub recorded: Vec<(usize, bool)>,
    /// Numbers of the questions this respondent has still not answered.
    pub open: Vec<usize>,
}

/// A second reply replaces the answers it gives and keeps the others; its
/// free text adds to the earlier comment. `before`: the respondent's
/// stored answers, question id and text.
pub fn merge(questions: &[Question], before: &[(String, String)], reply: &Answers) -> Merged {
    let earlier = |id: &str| before.iter().find(|(question, _)| question == id).map(|(_, text)| text.as_str());
    let mut merged = Merged::default();
    for (id, text) in &reply.answers {
        let number = questions.iter().position(|question| &question.id == id).map_or(0, |index| index + 1);
        merged.recorded.push((number, earlier(id).is_some()));
        merged.store.push((id.clone(), text.clone()));
    }
    if let Some(comment) = &reply.comment {
        let text = match earlier(COMMENT) {
            Some(before) => format!("{before}\n\n{comment}"),
            None => comment.clone(),
        };
        merged.store.push((COMMENT.to_string(), text));
    }
    merged.open = questions
        .iter()
        .enumerate()
        .filter(|(_, question)| {
            earlier(&question.id).is_none() && !reply.answers.iter().any(|(id, _)| id == &question.id)
        })
        .map(|(index, _)| index + 1)
        .collect();
    merged
}

/// The first digit from 1 to 5 in a rating answer.
pub fn rating(answer: &str) -> Option<u8> {
    answer.chars().find_map(|c| c.to_digit(10)).filter(|digit| (1..=5).contains(digit)).map(|digit| digit as u8)
}

static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\(?(?:q(?:uestion)?\s*)?(\d{1,2})\s*[.):\]](?:\s+(.*)|$)").expect("valid pattern")
});

static POINTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(answers?|replies|responses?|comments?)\b.*\b(below|inline|in line|above|under)\b|^(here you go|see below)")
        .expect("valid pattern")
});

/// Reads the answers in `text`, the whole body with its quotes.
pub fn parse(text: &str, questions: &[Question]) -> Answers {
    let normalised: Vec<String> = questions.iter().map(|question| normalise(&question.text)).collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut answers: Vec<Vec<String>> = vec![Vec::new(); questions.len()];
    let mut general: Vec<&str> = Vec::new();
    let mut current: Option<usize> = None;
    let mut in_history = false;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let (depth, content) = unquote(line);
        if let Some(question) = question_on(content, &normalised) {
            current = Some(question);
            index += 1;
            // A question wrapped over more lines: skip its continuation.
            while let Some(next) = lines.get(index) {
                let rest = normalise(unquote(next).1);
                if rest.len() < 4 || !normalised[question].contains(&rest) {
                    break;
                }
                index += 1;
            }
            continue;
        }
        if depth > 0 {
            index += 1;
            continue;
        }
        if let Some(length) = quote::attribution_length(&lines[index..]) {
            in_history = true;
            current = None;
            index += length;
            continue;
        }
        let trimmed = line.trim();
        if quote::header_block_at(&lines[index..]) || quote::is_history_separator(trimmed) {
            in_history = true;
            current = None;
            index += 1;
            continue;
        }
        if quote::is_signature_separator(line) || quote::is_mobile_footer(&lines, index) {
            // The rest is a signature, until another question appears.
            current = None;
            in_history = true;
            index += 1;
            continue;
        }
        if let Some(captures) = NUMBERED.captures(trimmed)
            && let Ok(number) = captures[1].parse::<usize>()
            && (1..=questions.len()).contains(&number)
        {
            current = Some(number - 1);
            answers[number - 1].push(captures.get(2).map_or("", |m| m.as_str()).to_string());
            index += 1;
            continue;
        }
        match current {
            Some(question) => answers[question].push(line.trim_end().to_string()),
            None if !in_history => general.push(line),
            None => {}
        }
        index += 1;
    }
    let answers: Vec<(String, String)> = questions
        .iter()
        .zip(answers)
        .map(|(question, lines)| (question.id.clone(), tidy(without_sign_off(&lines))))
        .filter(|(_, text)| !text.is_empty())
        .collect();
    // Beside answers, "See my answers below" and a name are not a comment.
    let general: Vec<String> = general
        .iter()
        .filter(|line| answers.is_empty() || !POINTER.is_match(line))
        .map(|line| line.to_string())
        .collect();
    let general = tidy(&general);
    let worth_keeping = answers.is_empty() || general.split_whitespace().count() > 6;
    let comment = (!general.is_empty() && worth_keeping).then_some(general);
    Answers { answers, comment }
}

/// `> > text` → (2, "text").
fn unquote(line: &str) -> (usize, &str) {
    let mut depth = 0;
    let mut rest = line.trim_start();
    while let Some(stripped) = rest.strip_prefix('>') {
        depth += 1;
        rest = stripped.trim_start();
    }
    (depth, rest.trim_end())
}

/// Lowercase words and digits only, single spaces: quoting and wrapping
/// change nothing else about a question.
fn normalise(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which question a line repeats, with or without its number: at least
/// its first words, as a wrapped quote keeps them.
fn question_on(content: &str, questions: &[String]) -> Option<usize> {
    let unnumbered = NUMBERED.captures(content).map_or(content, |captures| captures.get(2).map_or("", |m| m.as_str()));
    let line = normalise(unnumbered);
    if line.len() < 12 {
        return None;
    }
    questions.iter().position(|question| question.starts_with(&line) || line.starts_with(question.as_str()))
}

/// Joined lines without leading and trailing blank lines.
/// An answer without the sign-off after it: "Thanks, Bob", "Cheers" and
/// "Bob" on their own after the answer are the writer's, not the answer.
fn without_sign_off(lines: &[String]) -> &[String] {
    let mut end = lines.len();
    while end > 0 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let content = |end: usize| lines[..end].iter().any(|line| !line.trim().is_empty());
    // A name alone on the last line, after the answer or after a sign-off.
    if end > 1
        && is_name(lines[end - 1].trim())
        && (lines[end - 2].trim().is_empty() || quote::is_sign_off(lines[end - 2].trim()))
        && content(end - 1)
    {
        end -= 1;
        while end > 0 && lines[end - 1].trim().is_empty() {
            end -= 1;
        }
    }
    if end > 1 && quote::is_sign_off(lines[end - 1].trim()) && content(end - 1) {
        end -= 1;
    }
    &lines[..end]
}

/// One to three capitalised words, as a name signs a mail: "Bob", "Ana Lima".
fn is_name(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    (1..=3).contains(&words.len())
        && line.chars().count() <= 40
        && words.iter().all(|word| {
            word.chars().next().is_some_and(char::is_uppercase)
                && word.chars().all(|c| c.is_alphabetic() || ".-'".contains(c))
        })
}

fn tidy(lines: &[String]) -> String {
    let text = lines.join("\n");
    text.trim_matches(|c: char| c == '\n' || c == '\r' || c == ' ').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(answers: &Answers) -> Vec<(&str, &str)> {
        answers.answers.iter().map(|(id, text)| (id.as_str(), text.as_str())).collect()
    }

    #[test]
    fn numbered_answers_at_the_top() {
        let text = "1. A phishing mail at 09:14; FS01 encrypted at 01:50.\n\
                    3) The backup status, earlier.\n\
                    09:14 is when the first user clicked.\n\
                    Also who holds the admin passwords.\n\
                    10: 4\n\n\
                    Sent from my iPhone\n\n\
                    On Fri, 27 Nov 2026 at 10:00, sitrep <incident@example.test> wrote:\n\
                    > 1. What happened, and when? Add anything the timeline misses.\n";
        let answers = parse(text, &default_questions());
        assert_eq!(
            ids(&answers),
            [
                ("happened", "A phishing mail at 09:14; FS01 encrypted at 01:50."),
                (
                    "information",
                    "The backup status, earlier.\n09:14 is when the first user clicked.\nAlso who holds the admin passwords.",
                ),
                ("rating", "4"),
            ]
        );
        assert_eq!(answers.comment, None);
        assert_eq!(rating("4"), Some(4));
        assert_eq!(rating("I'd say 3 out of 5"), Some(3));
        assert_eq!(rating("great"), None);
    }

    #[test]
    fn an_answer_leaves_the_writers_sign_off_behind() {
        let questions = default_questions();
        for text in [
            "1. A phishing mail at 09:14.\n10. 4\n\nBob",
            "1. A phishing mail at 09:14.\n10. 4\n\nThanks,\nBob",
            "1. A phishing mail at 09:14.\n10. 4\nCheers, Bob",
            "1. A phishing mail at 09:14.\n10. 4\n\nBest regards\nBob Lee\n",
        ] {
            let answers = parse(text, &questions);
            assert_eq!(ids(&answers), [("happened", "A phishing mail at 09:14."), ("rating", "4")], "{text:?}");
        }
        // A short answer on its own line is still the answer.
        let answers = parse("10.\nFour", &questions);
        assert_eq!(ids(&answers), [("rating", "Four")]);
    }

    #[test]
    fn a_reply_answers_when_threaded_under_the_questionnaire_or_when_its_sender_was_asked() {
        let (this, other) = (IncidentNumber(1), IncidentNumber(2));
        assert!(is_answer(this, Some(this), false, "Re: something"));
        assert!(!is_answer(this, Some(other), true, "Re: [INC-1] Retrospective"));
        assert!(is_answer(this, None, true, "RE: [INC-1] retrospective: Phishing"));
        assert!(!is_answer(this, None, false, "Re: [INC-1] Retrospective: Phishing"), "not asked");
        assert!(!is_answer(this, None, true, "Re: [INC-1] Phishing"));
    }

    #[test]
    fn a_second_reply_replaces_what_it_answers_and_adds_to_the_comment() {
        let questions = &default_questions()[..3];
        let before = [("happened".to_string(), "Phishing.".to_string()), (COMMENT.to_string(), "Calm.".to_string())];
        let reply = Answers {
            answers: vec![("happened".into(), "Phishing at 09:14.".into()), ("information".into(), "Backups.".into())],
            comment: Some("Good lead.".into()),
        };
        let merged = merge(questions, &before, &reply);
        assert_eq!(merged.recorded, [(1, true), (3, false)]);
        assert_eq!(merged.open, [2]);
        assert_eq!(merged.store.last(), Some(&(COMMENT.to_string(), "Calm.\n\nGood lead.".to_string())));
    }

    #[test]
    fn free_text_is_a_comment() {
        let answers = parse("It went fine, but nobody knew who calls the insurer.\n\n-- \nBob", &default_questions());
        assert!(answers.answers.is_empty());
        assert_eq!(answers.comment.as_deref(), Some("It went fine, but nobody knew who calls the insurer."));
    }

    #[test]
    fn a_wrapped_quoted_question_is_still_one_question() {
        let text = "> 2. How well did staff and management perform? Were the documented\n\
                    > procedures followed, and were they adequate?\n\
                    Well; the runbook was out of date.\n";
        let answers = parse(text, &default_questions());
        assert_eq!(ids(&answers), [("performance", "Well; the runbook was out of date.")]);
    }
}

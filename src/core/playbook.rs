//! First-hour playbooks: what an incident type calls for in its first hours
//! (steps that become tasks, questions, notification regimes to consider,
//! drafts), and which type a declaration's words suggest.

use jiff::SignedDuration;

use super::incident::{Duty, IncidentType, Stream};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playbook {
    pub kind: IncidentType,
    /// How people read the type: "Business email compromise".
    pub title: String,
    /// Words and phrases of a declaration that suggest this type, lowercase.
    pub signs: Vec<String>,
    /// What the lead should get answered early.
    pub questions: Vec<String>,
    /// Regimes this type often triggers: suggested, never started.
    pub regimes: Vec<String>,
    /// The communications this type usually needs drafted.
    pub drafts: Vec<String>,
    pub steps: Vec<Step>,
}

/// One first-hour step, which becomes a task when the type is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub what: String,
    pub stream: Stream,
    pub duty: Duty,
    /// From the moment the type is set.
    pub due: SignedDuration,
    pub why: String,
    /// The public guidance the step comes from.
    pub source: String,
}

/// The type the declaration's subject and text point to: the playbook with
/// the most of its signs in them (a sign in the subject counts twice), when
/// one leads clearly. `None` when nothing matches or two types tie.
pub fn suggest(playbooks: &[Playbook], subject: &str, text: &str) -> Option<IncidentType> {
    let (subject, text) = (subject.to_lowercase(), text.to_lowercase());
    let mut scores: Vec<(usize, IncidentType)> = playbooks
        .iter()
        .map(|playbook| {
            let score = playbook
                .signs
                .iter()
                .map(|sign| 2 * usize::from(mentions(&subject, sign)) + usize::from(mentions(&text, sign)))
                .sum();
            (score, playbook.kind)
        })
        .filter(|(score, _)| *score > 0)
        .collect();
    scores.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    match scores.as_slice() {
        [(best, kind), (second, _), ..] if best > second => Some(*kind),
        [(_, kind)] => Some(*kind),
        _ => None,
    }
}

/// `sign` as a word or phrase of `text`: "ransom" in "a ransom note", not
/// in "ransomed"; ".locked" in "files end in .locked".
fn mentions(text: &str, sign: &str) -> bool {
    let sign = sign.trim();
    if sign.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric();
    text.match_indices(sign).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + sign.len()..].chars().next();
        let starts_word = !sign.starts_with(is_word) || !before.is_some_and(is_word);
        let ends_word = !sign.ends_with(is_word) || !after.is_some_and(is_word);
        starts_word && ends_word
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playbook(kind: IncidentType, signs: &[&str]) -> Playbook {
        Playbook {
            kind,
            title: kind.as_str().into(),
            signs: signs.iter().map(|sign| sign.to_string()).collect(),
            questions: Vec::new(),
            regimes: Vec::new(),
            drafts: Vec::new(),
            steps: Vec::new(),
        }
    }

    fn playbooks() -> Vec<Playbook> {
        vec![
            playbook(IncidentType::Ransomware, &["ransom", "encrypted", ".locked"]),
            playbook(IncidentType::Bec, &["invoice", "bank details", "wire transfer"]),
            playbook(IncidentType::Phishing, &["phishing", "clicked", "link"]),
            playbook(IncidentType::Other, &[]),
        ]
    }

    #[test]
    fn the_words_of_a_declaration_suggest_its_type() {
        let suggest = |subject: &str, text: &str| suggest(&playbooks(), subject, text);
        assert_eq!(
            suggest("File server down", "Files end in .locked and there is a ransom note."),
            Some(IncidentType::Ransomware)
        );
        assert_eq!(
            suggest("Supplier changed bank details", "Accounts paid the invoice by wire transfer."),
            Some(IncidentType::Bec)
        );
        assert_eq!(suggest("Printer on fire", "The third floor printer is smoking."), None);
        assert_eq!(suggest("Ransomed hostage films", "Unrelated."), None, "a sign is a whole word");
    }

    #[test]
    fn a_tie_suggests_nothing_and_the_subject_weighs_more() {
        let suggest = |subject: &str, text: &str| suggest(&playbooks(), subject, text);
        assert_eq!(suggest("Help", "An invoice is encrypted."), None);
        assert_eq!(suggest("Phishing mail", "It asks to pay an invoice."), Some(IncidentType::Phishing));
    }
}

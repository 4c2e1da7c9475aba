//! Subject lines: reply/forward prefixes, the `[INC-n]` tag, and the title
//! key that matches a subject to an open incident.

use unicode_normalization::UnicodeNormalization;

use std::sync::LazyLock;

use regex::Regex;

use super::incident::IncidentNumber;

/// Reply and forward prefixes in the languages staff mail clients use:
/// English, German (AW, WG), Nordic (SV, VS, VB), Dutch (Antw, Doorst),
/// French (TR), Italian (R, RIF, I), Spanish and Portuguese (RV, RES, ENC),
/// Polish (Odp, PD), Turkish (YNT, İLT), Czech (Odp, Fwd), Chinese (回复, 转发).
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(?:
            (?:re|fwd?|aw|wg|sv|vs|vb|antw|antwort|doorst|tr|rif|r|i|rv|res|enc|odp|pd|ynt|i̇lt|回复|回覆|转发|轉寄)
            \s*(?:\[\d+\]|\(\d+\))?\s*[:：]
          | \[(?:ext|external|extern)\]
        )\s*",
    )
    .expect("prefix pattern is valid")
});

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\[\s*INC-(\d{1,9})\s*\]").expect("tag pattern is valid"));

/// Removes any number of leading reply/forward prefixes.
pub fn strip_prefixes(subject: &str) -> &str {
    let mut rest = subject.trim();
    while let Some(found) = PREFIX.find(rest) {
        if found.end() == 0 {
            break;
        }
        rest = rest[found.end()..].trim_start();
    }
    rest
}

/// Whether the subject starts with a reply or forward prefix, i.e. answers
/// an earlier mail rather than starting a new conversation.
pub fn is_reply(subject: &str) -> bool {
    strip_prefixes(subject).len() < subject.trim().len()
}

/// The first `[INC-n]` tag anywhere in the subject.
pub fn tag(subject: &str) -> Option<IncidentNumber> {
    TAG.captures(subject).and_then(|captures| captures[1].parse().ok()).filter(|&number| number > 0).map(IncidentNumber)
}

/// The subject as a title: prefixes and tags removed, whitespace collapsed.
pub fn title(subject: &str) -> String {
    let untagged = TAG.replace_all(strip_prefixes(subject), " ");
    let title = collapse_whitespace(strip_prefixes(&untagged));
    // A tag sometimes sits before a second prefix: "Re: [INC-4] RE: title".
    strip_prefixes(&title).to_string()
}

/// The key under which a title is matched: case and spacing do not matter.
/// The form in which titles are compared: Unicode NFC, whitespace
/// collapsed, lowercased; emoji and punctuation kept.
pub fn title_key(title: &str) -> String {
    collapse_whitespace(&title.nfc().collect::<String>()).to_lowercase()
}

/// Outlook and Exchange mark out-of-office replies only by subject when the
/// sending server strips headers; these are the common localised forms.
pub fn is_automatic_reply(subject: &str) -> bool {
    const MARKERS: [&str; 10] = [
        "automatic reply:",
        "auto reply:",
        "autoreply:",
        "out of office:",
        "out of office reply:",
        "automatische antwort:",
        "réponse automatique :",
        "réponse automatique:",
        "respuesta automática:",
        "risposta automatica:",
    ];
    let lowered = subject.trim_start().to_lowercase();
    MARKERS.iter().any(|marker| lowered.starts_with(marker))
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A mail sitrep sends about an incident, for its subject line.
#[derive(Debug, Clone, Copy)]
pub enum Mail<'a> {
    Acknowledgement,
    /// The answer to a mail's commands; `replying_to` is that mail's subject.
    Processed {
        replying_to: &'a str,
        errors: usize,
    },
    /// To someone writing to a closed incident.
    Closed {
        replying_to: &'a str,
    },
    Questionnaire,
    /// The questionnaire again, in its own thread, to who has not answered.
    QuestionnaireReminder,
    /// To the lead: who has answered the questionnaire.
    AnswersSummary,
    /// The answers of one reply, as recorded.
    AnswersRecorded,
    Report,
    /// A pre-drafted communication, to the one who asked for it.
    Draft {
        number: u32,
        kind: &'a str,
        framing: &'a str,
    },
}

/// The subject line of `mail`. Every one carries the incident's `[INC-n]`
/// tag, so that a reply to it threads even when its headers are lost.
pub fn line(mail: Mail<'_>, number: IncidentNumber, title: &str) -> String {
    // A reply keeps its subject, tagged unless it already is.
    let tagged = |subject: &str| {
        let subject = strip_prefixes(subject);
        if tag(subject) == Some(number) { subject.to_string() } else { format!("[{number}] {subject}") }
    };
    match mail {
        Mail::Acknowledgement => format!("[{number}] {title}"),
        Mail::Processed { replying_to, errors: 0 } => format!("Processed: {}", tagged(replying_to)),
        Mail::Processed { replying_to, errors: 1 } => format!("Processed (1 error): {}", tagged(replying_to)),
        Mail::Processed { replying_to, errors } => format!("Processed ({errors} errors): {}", tagged(replying_to)),
        Mail::Closed { replying_to } => format!("{number} is closed: {}", tagged(replying_to)),
        Mail::Questionnaire => format!("[{number}] Retrospective: {title}"),
        Mail::QuestionnaireReminder => format!("Re: [{number}] Retrospective: {title}"),
        Mail::AnswersSummary => format!("[{number}] Retrospective: who has answered"),
        Mail::AnswersRecorded => format!("Recorded: [{number}] Retrospective: {title}"),
        Mail::Report => format!("[{number}] Post-incident report: {title}"),
        Mail::Draft { number: draft, kind, framing } => format!("[{number}] Draft D{draft}: {kind}, {framing} case"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_prefixes_in_many_languages() {
        for (subject, expected) in [
            ("Re: Phishing", "Phishing"),
            ("RE: FW: Phishing", "Phishing"),
            ("Fwd: Re: Phishing", "Phishing"),
            ("AW: WG: Phishing", "Phishing"),
            ("SV: VS: Phishing", "Phishing"),
            ("Antw: Doorst: Phishing", "Phishing"),
            ("TR: RE: Phishing", "Phishing"),
            ("Odp: Phishing", "Phishing"),
            ("Re[2]: Phishing", "Phishing"),
            ("回复：Phishing", "Phishing"),
            ("[EXTERNAL] Re: Phishing", "Phishing"),
            ("Research results", "Research results"),
            ("Reminder: rotate keys", "Reminder: rotate keys"),
            ("I: Phishing", "Phishing"),
            ("Invoice fraud", "Invoice fraud"),
        ] {
            assert_eq!(strip_prefixes(subject), expected, "subject {subject:?}");
        }
    }

    #[test]
    fn replies_are_told_from_new_mail() {
        assert!(is_reply("Re: Phishing"));
        assert!(is_reply("AW: WG: Phishing"));
        assert!(!is_reply("Phishing"));
        assert!(!is_reply("Research results"));
    }

    #[test]
    fn finds_the_tag_after_prefixes() {
        assert_eq!(tag("Re: [INC-12] Ransomware"), Some(IncidentNumber(12)));
        assert_eq!(tag("RE: [inc-3] x"), Some(IncidentNumber(3)));
        assert_eq!(tag("Ransomware"), None);
        assert_eq!(tag("[INC-0] zero is never issued"), None);
        assert_eq!(tag("INC-5 without brackets"), None);
    }

    #[test]
    fn title_drops_prefixes_tags_and_extra_spaces() {
        assert_eq!(title("Re: [INC-4] RE:  Payroll   fraud "), "Payroll fraud");
        assert_eq!(title("Fwd: Suspicious login"), "Suspicious login");
        assert_eq!(title_key("Payroll  FRAUD"), "payroll fraud");
    }

    #[test]
    fn recognises_automatic_reply_subjects() {
        assert!(is_automatic_reply("Automatic reply: [INC-1] Phishing"));
        assert!(is_automatic_reply("Out of Office: Phishing"));
        assert!(is_automatic_reply("Automatische Antwort: Phishing"));
        assert!(!is_automatic_reply("Re: Automatic reply settings were changed"));
    }

    #[test]
    fn every_mail_about_an_incident_carries_its_tag() {
        let number = IncidentNumber(7);
        let mails = [
            Mail::Acknowledgement,
            Mail::Processed { replying_to: "Re: [INC-7] Ransomware", errors: 0 },
            Mail::Processed { replying_to: "AW: Ransomware", errors: 2 },
            Mail::Closed { replying_to: "Re: Ransomware" },
            Mail::Questionnaire,
            Mail::QuestionnaireReminder,
            Mail::AnswersSummary,
            Mail::AnswersRecorded,
            Mail::Report,
            Mail::Draft { number: 1, kind: "customer-notice", framing: "worst" },
        ];
        for mail in mails {
            let subject = line(mail, number, "Ransomware");
            assert_eq!(tag(&subject), Some(number), "{subject}");
        }
        assert_eq!(
            line(Mail::Processed { replying_to: "Re: [INC-7] Ransomware", errors: 1 }, number, "Ransomware"),
            "Processed (1 error): [INC-7] Ransomware"
        );
        assert_eq!(
            line(Mail::Processed { replying_to: "AW: Ransomware", errors: 0 }, number, "Ransomware"),
            "Processed: [INC-7] Ransomware",
            "a reply whose subject lost the tag gets it back"
        );
    }
}

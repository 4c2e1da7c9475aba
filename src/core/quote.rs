//! What the sender newly wrote: quoted history, attribution lines, forwarded
//! blocks, signatures and mobile footers removed.
//!
//! Works on the decoded text body (plain, or HTML already turned into text)
//! and never fails: when nothing is recognised the whole text is the update.

use std::sync::LazyLock;

use regex::Regex;

/// RFC 3676 `format=flowed` parameters of a text/plain part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flowed {
    pub delete_space: bool,
}

/// The text the sender added, with everything they quoted or that their
/// client appended taken away.
pub fn new_text(body: &str, flowed: Option<Flowed>) -> String {
    let text = readable(body, flowed);
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim();
        if is_quoted(line) {
            index += 1;
            continue;
        }
        if let Some(length) = attribution_length(&lines[index..]) {
            // Bottom-posting and interleaving keep going after the quote;
            // otherwise the history follows unmarked (HTML converted to text).
            if next_content_is_quoted(&lines[index + length..]) {
                index += length;
                continue;
            }
            break;
        }
        if is_signature_separator(line)
            || is_mobile_footer(trimmed)
            || is_history_separator(trimmed)
            || starts_header_block(&lines[index..])
        {
            break;
        }
        kept.push(line);
        index += 1;
    }
    tidy(&kept)
}

/// The whole body with LF line ends and `format=flowed` undone, quotes kept.
pub fn readable(body: &str, flowed: Option<Flowed>) -> String {
    let normalised = body.replace("\r\n", "\n").replace('\r', "\n");
    match flowed {
        Some(flowed) => unflow(&normalised, flowed),
        None => normalised,
    }
}

/// Joins soft line breaks (a trailing space) and removes space-stuffing, per
/// RFC 3676 §4; quoted lines keep a normalised `>` prefix.
fn unflow(text: &str, flowed: Flowed) -> String {
    let mut output = String::with_capacity(text.len());
    let mut open_paragraph: Option<usize> = None;
    for raw_line in text.split('\n') {
        let depth = raw_line.chars().take_while(|&c| c == '>').count();
        let mut content = &raw_line[depth..];
        if let Some(stripped) = content.strip_prefix(' ') {
            content = stripped;
        }
        let is_signature = content == "-- ";
        let soft_break = content.ends_with(' ') && !is_signature;
        if open_paragraph != Some(depth) {
            if open_paragraph.is_some() {
                output.push('\n');
            }
            if depth > 0 {
                output.push_str(&">".repeat(depth));
                output.push(' ');
            }
        }
        let piece = if soft_break && flowed.delete_space { &content[..content.len() - 1] } else { content };
        output.push_str(piece);
        if soft_break {
            open_paragraph = Some(depth);
        } else {
            output.push('\n');
            open_paragraph = None;
        }
    }
    output
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn next_content_is_quoted(lines: &[&str]) -> bool {
    lines.iter().find(|line| !line.trim().is_empty()).is_some_and(|line| is_quoted(line))
}

/// "… wrote:" in the languages of common clients. German, Dutch and the
/// Nordic forms put the name after the verb ("schrieb Alice <a@b>:"), and
/// some mutt setups write "* Alice <a@b> [2026-11-27 10:02]:".
static ATTRIBUTION_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
          (?:wrote|a\s+écrit|escribió|ha\s+scritto|napisał(?:\(a\))?|pisze|escreveu|kirjoitti|написал(?:\(а\))?|yazdı|írta|napsal(?:\(a\))?)\s*[:：]\s*$
        | \b(?:schrieb|schreef|skrev|kirjoitti)\b.{0,200}[:：]\s*$
        | ^\*\s.{1,200}\]\s*:\s*$",
    )
    .expect("attribution pattern is valid")
});

/// The first word of an attribution: "On", "Am", "Le", "El", "Il", "Op",
/// "Den", "W (dniu)", "Em", "Dne".
fn starts_like_attribution(line: &str) -> bool {
    const FIRST_WORDS: [&str; 10] = ["on", "am", "le", "el", "il", "op", "den", "w", "em", "dne"];
    let first_word = line.split_whitespace().next().unwrap_or("");
    first_word.len() <= 3 && FIRST_WORDS.iter().any(|word| word.eq_ignore_ascii_case(first_word))
}

/// How many lines an attribution ("On <date>, <name> wrote:") spans here:
/// Gmail and Apple Mail wrap long ones over two or three lines.
pub(super) fn attribution_length(lines: &[&str]) -> Option<usize> {
    const LONGEST: usize = 400;
    let first = lines.first()?.trim();
    if first.is_empty() || first.len() > LONGEST {
        return None;
    }
    let ends_with_colon = first.ends_with(':') || first.ends_with('：');
    if ends_with_colon && ATTRIBUTION_END.is_match(first) && looks_like_attribution(first) {
        return Some(1);
    }
    if !starts_like_attribution(first) {
        return None;
    }
    let mut joined = first.to_string();
    for (extra, line) in lines.iter().enumerate().skip(1).take(2) {
        let line = line.trim();
        if line.is_empty() || is_quoted(line) {
            return None;
        }
        joined.push(' ');
        joined.push_str(line);
        if joined.len() > LONGEST {
            return None;
        }
        if (line.ends_with(':') || line.ends_with('：')) && ATTRIBUTION_END.is_match(&joined) {
            return Some(extra + 1);
        }
    }
    None
}

/// An attribution names when or who: a date, a time or an address. This keeps
/// prose such as "Here is what the attacker wrote:" as part of the update.
fn looks_like_attribution(line: &str) -> bool {
    starts_like_attribution(line) || line.contains('@') || line.chars().filter(char::is_ascii_digit).count() >= 4
}

pub(super) fn is_signature_separator(line: &str) -> bool {
    line == "-- " || line == "--" || line == "—"
}

static MOBILE_FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(?:sent\s+from|sent\s+via|sent\s+with|get\s+outlook\s+for|envoyé\s+de|envoyé\s+depuis|von\s+meinem|gesendet\s+von|enviado\s+desde|enviado\s+do|enviado\s+de|inviato\s+da|verstuurd\s+vanaf|skickat\s+från|sendt\s+fra|lähetetty|wysłane\s+z)\b
          .*(?:iphone|ipad|android|samsung|galaxy|mobile|outlook|mail|yahoo|huawei|pixel|blackberry|phone|smartphone|tablet|ios|proton|gmail|handy)",
    )
    .expect("footer pattern is valid")
});

pub(super) fn is_mobile_footer(trimmed: &str) -> bool {
    let first = trimmed.chars().next().map(|c| c.to_ascii_lowercase());
    trimmed.len() <= 100 && first.is_some_and(|c| "sgevilw".contains(c)) && MOBILE_FOOTER.is_match(trimmed)
}

static HISTORY_SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(?:
            -{2,}\s*[\p{L}'\x20]{3,40}?\s*-{2,}
          | begin\s+forwarded\s+message:?
          | _{20,}
          | Anfang\s+der\s+weitergeleiteten\s+Nachricht:?
          | Début\s+du\s+message\s+réexpédié\s*:?
        )$",
    )
    .expect("separator pattern is valid")
});

/// "-----Original Message-----", "---------- Forwarded message ---------",
/// Apple's "Begin forwarded message:", and Outlook's underscore rule.
pub(super) fn is_history_separator(trimmed: &str) -> bool {
    trimmed.starts_with(['-', '_', 'b', 'B', 'a', 'A', 'd', 'D']) && HISTORY_SEPARATOR.is_match(trimmed)
}

static HEADER_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\**\s*(?:from|von|de|da|van|fra|från|od|kimden|feladó)\s*\**\s*:\s*\**\s*\S")
        .expect("header pattern is valid")
});
static HEADER_SENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*\**\s*(?:sent|date|gesendet|datum|envoyé|enviado|fecha|inviato|data|verzonden|sendt|skickat|wysłano|tarih|elküldve)\s*\**\s*:",
    )
    .expect("header pattern is valid")
});
static HEADER_TO_OR_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*\**\s*(?:to|an|à|para|a|aan|til|till|do|kime|címzett|subject|betreff|objet|asunto|assunto|oggetto|onderwerp|emne|ämne|temat|konu|tárgy)\s*\**\s*:",
    )
    .expect("header pattern is valid")
});

/// Outlook quotes history as a block of headers with no `>` marks:
/// "From: … / Sent: … / To: … / Subject: …", localised.
pub(super) fn starts_header_block(lines: &[&str]) -> bool {
    if !lines.first().is_some_and(|line| line.contains(':') && HEADER_FROM.is_match(line)) {
        return false;
    }
    let window: Vec<&str> = lines.iter().skip(1).take(8).copied().filter(|line| !line.trim().is_empty()).collect();
    window.iter().any(|line| HEADER_SENT.is_match(line))
        && window.iter().any(|line| HEADER_TO_OR_SUBJECT.is_match(line))
}

/// Trailing spaces gone, runs of blank lines collapsed, no blank edges.
fn tidy(lines: &[&str]) -> String {
    let mut output: Vec<&str> = Vec::with_capacity(lines.len());
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() && output.last().is_none_or(|last: &&str| last.is_empty()) {
            continue;
        }
        output.push(line);
    }
    while output.last().is_some_and(|line| line.is_empty()) {
        output.pop();
    }
    output.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &str, expected: &str) {
        assert_eq!(new_text(body, None), expected);
    }

    #[test]
    fn keeps_plain_text() {
        check("Firewall rules updated.\n\nNo new alerts.\n", "Firewall rules updated.\n\nNo new alerts.");
    }

    #[test]
    fn drops_top_posted_gmail_history() {
        check(
            "Blocked the sender domain.\n\nOn Fri, Nov 27, 2026 at 10:02 AM Alice Morgan <\nalice@company.test> wrote:\n> Phishing mail seen\n> in finance.\n",
            "Blocked the sender domain.",
        );
    }

    #[test]
    fn keeps_interleaved_answers() {
        check(
            "On 27/11/2026 10:02, Alice wrote:\n> Which hosts?\nFS01 and FS02.\n> Since when?\nSince 09:40.\n",
            "FS01 and FS02.\nSince 09:40.",
        );
    }

    #[test]
    fn stops_at_unmarked_history() {
        check(
            "Reset done.\n\nOn Fri, 27 Nov 2026 at 10:02, Alice Morgan wrote:\nPhishing mail seen in finance.\n",
            "Reset done.",
        );
    }

    #[test]
    fn keeps_prose_that_ends_with_wrote() {
        check("Here is what the attacker wrote:\nPay 2 BTC.\n", "Here is what the attacker wrote:\nPay 2 BTC.");
    }

    #[test]
    fn stops_at_outlook_header_block_and_separators() {
        check(
            "Done.\r\n\r\nFrom: Alice Morgan <alice@company.test>\r\nSent: Friday, November 27, 2026 10:02 AM\r\nTo: incident@company.test\r\nSubject: Phishing\r\n\r\nOld text\r\n",
            "Done.",
        );
        check("Done.\n-----Original Message-----\nOld\n", "Done.");
        check("Done.\n---------- Forwarded message ---------\nOld\n", "Done.");
        check("Done.\n________________________________\nVon: Alice\n", "Done.");
    }

    #[test]
    fn a_from_line_alone_is_prose() {
        check("From: the SOC we heard nothing.\nStill waiting.\n", "From: the SOC we heard nothing.\nStill waiting.");
    }

    #[test]
    fn drops_signatures_and_mobile_footers() {
        check("Contained.\n-- \nAlice Morgan\nIT\n", "Contained.");
        check("Contained.\n\nSent from my iPhone\n\n> old\n", "Contained.");
        check("Contained.\n\nVon meinem iPhone gesendet\n", "Contained.");
        check("Sent from the finance laptop, we think.\n", "Sent from the finance laptop, we think.");
    }

    #[test]
    fn unflows_format_flowed() {
        let body =
            "The VPN logs show a login \r\nfrom an unknown address.\r\n\r\n> quoted \r\n> text\r\n-- \r\nAlice\r\n";
        assert_eq!(
            new_text(body, Some(Flowed { delete_space: false })),
            "The VPN logs show a login from an unknown address."
        );
        assert_eq!(new_text("split wo \r\nrd\r\n", Some(Flowed { delete_space: true })), "split word");
    }
}

//! What the sender newly wrote: quoted history, attribution lines, forwarded
//! blocks, signatures and mobile footers removed.
//!
//! Works on the decoded text body (plain, or HTML already turned into text)
//! and never fails: when nothing is recognised the whole text is the update.

mod languages;

use std::sync::LazyLock;

use regex::Regex;

use languages::{LANGUAGES, LIST_FOOTERS, Language};

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
    let mut history_seen = false;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim();
        let quote_mark_in_prose = !history_seen && is_inside_prose(&lines, index);
        if (is_quoted(line) && !quote_mark_in_prose) || continues_quote(&lines, index) {
            index += 1;
            continue;
        }
        if let Some(attribution) = attribution_at(&lines[index..]) {
            // Bottom-posting and interleaving keep going after the quote;
            // otherwise the history follows unmarked (HTML converted to text).
            if next_content_is_quoted(&lines[index + attribution.lines..]) {
                history_seen = true;
                kept.extend(attribution.after_text);
                index += attribution.lines;
                continue;
            }
            if attribution.certain {
                break;
            }
        }
        if is_forward_separator(trimmed) {
            // Not history: a forwarded message is what the sender chose to share.
            kept.extend(&lines[index..]);
            break;
        }
        if is_signature_separator(line)
            || is_mobile_footer(&lines, index)
            || is_history_separator(trimmed)
            || is_list_footer(trimmed)
            || header_block_at(&lines[index..])
        {
            while kept.last().is_some_and(|line| is_rule(line.trim()) || line.trim().is_empty()) {
                kept.pop();
            }
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

/// One `>` line between two lines of prose, before any history: a line
/// such as ">>> http://example.test <<<", not a quote.
fn is_inside_prose(lines: &[&str], index: usize) -> bool {
    let prose = |line: &&str| !line.trim().is_empty() && !is_quoted(line);
    index > 0 && lines.get(index - 1).is_some_and(prose) && lines.get(index + 1).is_some_and(prose)
}

fn next_content_is_quoted(lines: &[&str]) -> bool {
    lines.iter().find(|line| !line.trim().is_empty()).is_some_and(|line| is_quoted(line))
}

/// A line the sender's client broke out of a quote: between two quoted
/// lines, after a long one (wrapped) or ending in a stray quote mark.
fn continues_quote(lines: &[&str], index: usize) -> bool {
    const WRAPPED: usize = 50;
    let line = lines[index].trim();
    let (Some(before), Some(after)) = (index.checked_sub(1).map(|i| lines[i]), lines.get(index + 1)) else {
        return false;
    };
    let quoted_before = before.trim_start().trim_start_matches(['>', ' ']);
    !line.is_empty()
        && is_quoted(before)
        && is_quoted(after)
        && (quoted_before.chars().count() >= WRAPPED || line.ends_with(" >"))
}

/// An attribution line ("On <date>, <name> wrote:") and how sure it is.
struct Attribution<'a> {
    lines: usize,
    /// Names its verb; without one ("<date>, <name> <addr>:") it counts
    /// only when quoted lines follow.
    certain: bool,
    /// Text the sender wrote on the same line before it.
    after_text: Option<&'a str>,
}

fn pattern_of(words: impl Iterator<Item = &'static str>) -> String {
    let mut words: Vec<&str> = words.collect();
    // Longest first, so "napisał(a)" wins over "napisał".
    words.sort_by_key(|word| std::cmp::Reverse(word.len()));
    words.dedup();
    words.iter().map(|word| regex::escape(word).replace(' ', r"\s+")).collect::<Vec<_>>().join("|")
}

/// Whether a word is written without spaces around it (Chinese, Japanese,
/// Korean), so no word boundary can be asked for.
fn is_unspaced(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c >= '\u{2E80}')
}

static WROTE: LazyLock<Regex> = LazyLock::new(|| {
    let spaced = pattern_of(LANGUAGES.iter().flat_map(|l| l.wrote.iter().copied()).filter(|w| !is_unspaced(w)));
    let unspaced = pattern_of(LANGUAGES.iter().flat_map(|l| l.wrote.iter().copied()).filter(|w| is_unspaced(w)));
    let before_name = pattern_of(LANGUAGES.iter().flat_map(|l| l.wrote_before_name.iter().copied()));
    Regex::new(&format!(
        r"(?i)(?:(?:^|[^\w(])(?:{spaced})|(?:{unspaced}))\s*[:：]\s*$|\b(?:{before_name})\b.*[:：]\s*$|^\*\s.+\]\s*:\s*$"
    ))
    .expect("attribution pattern is valid")
});

/// "---- On … wrote ----" (Zoho) has no colon.
static WROTE_FRAMED: LazyLock<Regex> = LazyLock::new(|| {
    let spaced = pattern_of(LANGUAGES.iter().flat_map(|l| l.wrote.iter().copied()));
    Regex::new(&format!(r"(?i)(?:{spaced})\s*$")).expect("framed attribution pattern is valid")
});

/// A date or time and, at the end, an address: the attributions that name
/// no verb ("30.09.2017, 18.30, "Jo" <jo@x.test>:", "2011/4/7 Jo <jo@x.test>").
static VERBLESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?ix)(?:\d{1,4}\s?[./\-年]\s?\d{1,2}|\d{1,2}\s?[:.]\s?\d{2})
          .*[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*>?["')\]]?\s*[:：]?\s*$"#,
    )
    .expect("verbless attribution pattern is valid")
});

/// "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:": HTML
/// converted to text can put the attribution after the reply's last words.
static EMBEDDED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.*?[^\s-])(?:\s+|-{2,}\s*)\b(On\s.{8,}(?:wrote|sent)\s*:)\s*$")
        .expect("embedded attribution pattern is valid")
});

/// Attributions are never longer than this, wrapped lines joined.
const LONGEST: usize = 400;

fn attribution_at<'a>(lines: &[&'a str]) -> Option<Attribution<'a>> {
    let first = lines.first()?.trim();
    if first.is_empty() || first.len() > LONGEST {
        return None;
    }
    let certain = |lines| Some(Attribution { lines, certain: true, after_text: None });
    if ends_with_colon(first)
        && first.contains("On ")
        && let Some(captures) = EMBEDDED.captures(first)
        && looks_like_attribution(&captures[2])
    {
        let prefix = captures.get(1).map_or("", |m| m.as_str());
        return Some(Attribution { lines: 1, certain: false, after_text: Some(prefix) });
    }
    // "---- On … wrote ----" (Zoho), "---- Alice wrote ----" (Android).
    let framed = first.trim_matches(|c: char| c == '-' || c.is_whitespace());
    if first.starts_with("--") && first.ends_with("--") && WROTE_FRAMED.is_match(framed) {
        return certain(1);
    }
    if ends_with_colon(first) && WROTE.is_match(first) && looks_like_attribution(first) {
        return certain(1);
    }
    // "On Wed, 14 Nov 2018 08:14:43 -0200 John Doe <john@doe.com> wrote"
    if starts_like_attribution(first) && WROTE_FRAMED.is_match(first) && looks_like_attribution(first) {
        return certain(1);
    }
    if let Some(lines) = wrapped_attribution(lines) {
        return certain(lines);
    }
    if (ends_with_colon(first) || first.ends_with('>')) && first.contains('@') && VERBLESS.is_match(first) {
        // A display name with its address in brackets is a client's, not prose.
        let named = first.trim_end_matches([':', '：', ' ']).ends_with('>') && ends_with_colon(first);
        return Some(Attribution { lines: 1, certain: named, after_text: None });
    }
    verbless_wrapped(lines).map(|lines| Attribution { lines, certain: false, after_text: None })
}

/// Gmail, Apple Mail and Thunderbird wrap long attributions over two or
/// three lines; the verb ends the last one.
fn wrapped_attribution(lines: &[&str]) -> Option<usize> {
    joined_attribution(lines, |joined| WROTE.is_match(joined))
}

/// "2014-10-17 11:28 GMT+03:00 Postmaster <" / "postmaster@x.test>:".
fn verbless_wrapped(lines: &[&str]) -> Option<usize> {
    joined_attribution(lines, |joined| VERBLESS.is_match(joined))
}

fn joined_attribution(lines: &[&str], matches: impl Fn(&str) -> bool) -> Option<usize> {
    let first = lines.first()?.trim();
    if !(starts_like_attribution(first) || looks_like_attribution(first)) {
        return None;
    }
    let mut joined = first.to_string();
    for (extra, line) in lines.iter().enumerate().skip(1).take(2) {
        let line = line.trim();
        // Gmail can wrap the closing ">:" of the address onto its own line.
        let closes_address = line.len() <= 2 && line.starts_with('>') && ends_with_colon(line);
        if line.is_empty() || (is_quoted(line) && !closes_address) {
            return None;
        }
        joined.push(' ');
        joined.push_str(line);
        if joined.len() > LONGEST {
            return None;
        }
        if ends_with_colon(line) && matches(&joined) {
            return Some(extra + 1);
        }
    }
    None
}

/// How many lines an attribution that names its verb spans here.
pub(super) fn attribution_length(lines: &[&str]) -> Option<usize> {
    attribution_at(lines).filter(|attribution| attribution.certain).map(|attribution| attribution.lines)
}

fn ends_with_colon(line: &str) -> bool {
    line.ends_with(':') || line.ends_with('：')
}

/// The longest first word of an attribution in the tables.
const LONGEST_START_WORD: usize = 4;

/// The first word of an attribution in any language: "On", "Am", "Le".
fn starts_like_attribution(line: &str) -> bool {
    let first_word = line.split_whitespace().next().unwrap_or("");
    if first_word.chars().count() > LONGEST_START_WORD {
        return false;
    }
    let first_word = first_word.to_lowercase();
    LANGUAGES.iter().any(|language| language.attribution_start.contains(&first_word.as_str()))
}

/// An attribution names when or who: a date, a time or an address. This keeps
/// prose such as "Here is what the attacker wrote:" as part of the update.
fn looks_like_attribution(line: &str) -> bool {
    starts_like_attribution(line) || line.contains('@') || line.chars().filter(char::is_ascii_digit).count() >= 4
}

pub(super) fn is_signature_separator(line: &str) -> bool {
    line == "-- " || line == "--" || line == "—"
}

static FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    let starts = pattern_of(LANGUAGES.iter().flat_map(|l| l.footer_starts.iter().copied()));
    let ends = pattern_of(LANGUAGES.iter().flat_map(|l| l.footer_ends.iter().copied()));
    Regex::new(&format!(r"(?i)^(?:{starts})(?:\s|\b|$)|(?:{ends})\.?$")).expect("footer pattern is valid")
});

/// "Sent from my iPhone", "Von meinem iPhone gesendet", "iPhoneから送信": a
/// short line with no clause after a comma, standing alone at the end of a
/// paragraph. "Sent from my desk, since the VPN is down." is a sentence.
pub(super) fn is_mobile_footer(lines: &[&str], index: usize) -> bool {
    const MOST_WORDS: usize = 10;
    let line = lines[index].trim();
    // Clients append a link: "Get Outlook for iOS<https://aka.ms/o0ukef>".
    let line = line.split_once('<').map_or(line, |(text, _)| text).trim();
    let stands_alone = || {
        lines.get(index + 1).is_none_or(|next| {
            next.trim().is_empty()
                || is_quoted(next)
                || is_rule(next.trim())
                || header_block_at(&lines[index + 1..])
                || attribution_at(&lines[index + 1..]).is_some()
        })
    };
    !line.is_empty()
        && line.len() <= 100
        && line.split_whitespace().count() <= MOST_WORDS
        && !line.contains(',')
        && FOOTER.is_match(line)
        && stands_alone()
}

static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    let phrases = pattern_of(LANGUAGES.iter().flat_map(|l| l.original_message.iter().copied()));
    Regex::new(&format!(r"(?i)^(?:[-=_*]{{2,}}\s*(?:{phrases})\s*[-=_*]{{2,}}|_{{20,}})$"))
        .expect("separator pattern is valid")
});

/// "-----Original Message-----" in any language, and Outlook's underscore rule.
pub(super) fn is_history_separator(trimmed: &str) -> bool {
    trimmed.starts_with(['-', '_', '=', '*']) && ORIGINAL_MESSAGE.is_match(trimmed)
}

static FORWARDED: LazyLock<Regex> = LazyLock::new(|| {
    let phrases = pattern_of(LANGUAGES.iter().flat_map(|l| l.forwarded.iter().copied()));
    Regex::new(&format!(r"(?i)^[-=_*\s]*(?:{phrases})\b[^:]*[-=_*\s:]*$")).expect("forward pattern is valid")
});

/// "---------- Forwarded message ---------", Apple's "Begin forwarded message:".
fn is_forward_separator(trimmed: &str) -> bool {
    trimmed.len() <= SEPARATOR_LONGEST && FORWARDED.is_match(trimmed)
}

/// Separator and footer lines are short; longer lines are never tested.
const SEPARATOR_LONGEST: usize = 120;

fn is_list_footer(trimmed: &str) -> bool {
    if trimmed.len() > SEPARATOR_LONGEST {
        return false;
    }
    let lowered = trimmed.to_lowercase();
    LIST_FOOTERS.iter().any(|footer| {
        lowered.starts_with(footer) || (lowered.ends_with(footer) && lowered.split_whitespace().count() <= 5)
    })
}

/// A line drawn with `-`, `_`, `=` or `*` alone, as clients put above history.
fn is_rule(trimmed: &str) -> bool {
    !trimmed.is_empty() && trimmed.chars().all(|c| matches!(c, '-' | '_' | '=' | '*' | '─' | '━') || c.is_whitespace())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    From,
    Sent,
    To,
    Subject,
}

static HEADER_FIELD: LazyLock<[(Field, Regex); 4]> = LazyLock::new(|| {
    let field = |names: fn(&Language) -> &'static [&'static str]| {
        let names = pattern_of(LANGUAGES.iter().flat_map(|language| names(language).iter().copied()));
        Regex::new(&format!(r"(?i)^\s*[*_]*\s*(?:{names})\s*[*_]*\s*[:：]")).expect("header pattern is valid")
    };
    [
        (Field::From, field(|l| l.from)),
        (Field::Sent, field(|l| l.sent)),
        (Field::To, field(|l| l.to)),
        (Field::Subject, field(|l| l.subject)),
    ]
});

fn header_field(line: &str) -> Option<Field> {
    if !line.contains([':', '：']) {
        return None;
    }
    HEADER_FIELD.iter().find(|(_, pattern)| pattern.is_match(line)).map(|(field, _)| *field)
}

/// A quoted header block with no `>` marks, as Outlook and webmail write
/// it: "From: … / Sent: … / To: … / Subject: …" in any language and order.
pub(super) fn header_block_at(lines: &[&str]) -> bool {
    const WINDOW: usize = 12;
    let Some(first) = lines.first().and_then(|line| header_field(line)) else {
        return false;
    };
    if !matches!(first, Field::From | Field::Sent) {
        return false;
    }
    let mut fields = vec![first];
    let mut header_text = lines[0].to_string();
    let mut other_lines = 0;
    for line in lines.iter().skip(1).take(WINDOW).filter(|line| !line.trim().is_empty()) {
        match header_field(line) {
            Some(field) => {
                if !fields.contains(&field) {
                    fields.push(field);
                }
                header_text.push_str(line);
            }
            None => {
                other_lines += 1;
                // A name wrapped onto the next line is part of the block.
                if other_lines > 2 {
                    break;
                }
            }
        }
    }
    let has_year = header_text.split(|c: char| !c.is_ascii_digit()).any(|digits| digits.len() == 4);
    fields.len() >= 3 || (fields.len() == 2 && (header_text.contains('@') || has_year))
}

/// Trailing spaces gone, runs of blank lines collapsed, no blank edges.
pub(super) fn tidy(lines: &[&str]) -> String {
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

/// A greeting line: "Hi all,", "Hallo zusammen", "Dear team".
pub fn is_greeting(line: &str) -> bool {
    line.chars().count() <= GREETING_LONGEST && GREETING.is_match(line)
}

/// A sign-off line: "Thanks,", "Best regards", "Cheers, Bob".
pub fn is_sign_off(line: &str) -> bool {
    line.chars().count() <= GREETING_LONGEST && SIGN_OFF.is_match(line)
}

#[cfg(test)]
mod tests;

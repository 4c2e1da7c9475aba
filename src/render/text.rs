//! Mail text laid out for reading: paragraphs a mail client hard-wrapped
//! joined again, and lines wrapped for a plain-text digest.

/// Width of an update's lines in a text digest, after their indent.
pub(super) const DIGEST_TEXT_WIDTH: usize = 68;

/// A line at least this long was broken by the writer's mail client, not
/// by the writer.
const CLIENT_WRAPPED: usize = 60;

/// Mail text as its writer meant it: the hard-wrapped lines of a paragraph
/// joined into one, while short lines (list items, names, addresses) keep
/// their breaks. Blank lines stay, as "".
pub(crate) fn reflow(text: &str) -> Vec<String> {
    let mut logical: Vec<String> = Vec::new();
    let mut joining = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        if line.trim().is_empty() {
            logical.push(String::new());
            joining = false;
            continue;
        }
        match logical.last_mut() {
            Some(last) if joining && !starts_item(line) => {
                last.push(' ');
                last.push_str(line.trim_start());
            }
            _ => logical.push(line.to_string()),
        }
        joining = line.chars().count() >= CLIENT_WRAPPED;
    }
    logical
}

/// `- item`, `* item`, `• item`, `1. item`, `2) item`, `> quote`.
fn starts_item(line: &str) -> bool {
    let line = line.trim_start();
    let numbered = line
        .find(|c: char| !c.is_ascii_digit())
        .is_some_and(|end| end > 0 && (line[end..].starts_with(". ") || line[end..].starts_with(") ")));
    numbered || ["- ", "* ", "• ", ">"].iter().any(|marker| line.starts_with(marker))
}

/// Greedy wrap at spaces; a word longer than `width` stays whole.
pub(super) fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut wrapped = Vec::new();
    let mut current = String::new();
    for word in line.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            wrapped.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() || wrapped.is_empty() {
        wrapped.push(current);
    }
    wrapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_wrapped_paragraphs_are_joined_and_lists_keep_their_lines() {
        let text = "We isolated WS-207 from the network after the EDR flagged credential\n\
                    dumping by an unsigned binary. The user works on a loaner.\n\
                    \n\
                    Next steps:\n\
                    - reimage WS-207\n\
                    - reset the user's passwords\n\
                    \n\
                    Alex";
        assert_eq!(
            reflow(text),
            [
                "We isolated WS-207 from the network after the EDR flagged credential dumping by an unsigned binary. The user works on a loaner.",
                "",
                "Next steps:",
                "- reimage WS-207",
                "- reset the user's passwords",
                "",
                "Alex",
            ]
        );
        let long = "The first line of a list is long enough to have been wrapped by a client\n1. but this is an item";
        assert_eq!(reflow(long).len(), 2, "an item after a long line starts its own line");
    }

    #[test]
    fn lines_wrap_at_spaces_and_long_words_stay_whole() {
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
        assert_eq!(
            wrap("https://example.test/a/very/long/path ok", 10),
            ["https://example.test/a/very/long/path", "ok"]
        );
        assert_eq!(wrap("", 10), [""]);
    }
}

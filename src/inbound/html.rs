//! HTML bodies as text: quoted history found from the markup first, then the
//! rest rendered with its paragraphs and line breaks, blockquotes as `>`
//! lines so that `core::quote` treats them like any quote.

use std::sync::LazyLock;

use ego_tree::NodeId;
use html2text::render::TextDecorator;
use html5ever::{QualName, local_name, ns};
use scraper::node::{Element, Text};
use scraper::{Html, Node, Selector};

/// Containers that hold the whole of a quoted message, attribution
/// included, and nothing the sender wrote. Blockquotes stay: they become
/// `>` lines, so that answers between them (Gmail puts a bottom-posted reply
/// inside its quote container) are kept.
static QUOTE_CONTAINERS: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(
        "div.yahoo_quoted, div.protonmail_quote, div.zmail_extra, div.zmail_extra_hr, \
         div[data-marker=__QUOTED_TEXT__], div.tutanota_quote",
    )
    .expect("quote selector is valid")
});

/// Markers where the history starts and runs to the end of the message:
/// Outlook desktop, Outlook on the web and Outlook for Mac.
static HISTORY_MARKERS: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse("#divRplyFwdMsg, #appendonsend, #OLK_SRC_BODY_SECTION, div.OutlookMessageHeader")
        .expect("history selector is valid")
});

static RULES: LazyLock<Selector> = LazyLock::new(|| Selector::parse("hr").expect("rule selector is valid"));

/// What a horizontal rule becomes in text: Outlook's own separator line,
/// which `core::quote` knows.
const RULE_TEXT: &str = "________________________________";

static NEVER_TEXT: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("style, script, head, title").expect("hidden selector is valid"));

/// Wide enough that no line is ever wrapped: mail text keeps its own breaks.
const NO_WRAP: usize = 100_000;

/// The text of an HTML body without the quoted history its markup names.
pub fn new_text(html: &str) -> String {
    let mut document = Html::parse_document(html);
    let containers: Vec<NodeId> = document.select(&QUOTE_CONTAINERS).map(|element| element.id()).collect();
    let hidden: Vec<NodeId> = document.select(&NEVER_TEXT).map(|element| element.id()).collect();
    let marker = document.select(&HISTORY_MARKERS).next().map(|element| element.id());
    draw_rules(&mut document);
    if let Some(marker) = marker {
        cut_from(&mut document, marker);
    }
    for id in containers.into_iter().chain(hidden) {
        if let Some(mut node) = document.tree.get_mut(id) {
            node.detach();
        }
    }
    render(&document.html())
}

/// The whole HTML body as text, quotes rendered as `>` lines.
pub fn text(html: &str) -> String {
    let mut document = Html::parse_document(html);
    let hidden: Vec<NodeId> = document.select(&NEVER_TEXT).map(|element| element.id()).collect();
    for id in hidden {
        if let Some(mut node) = document.tree.get_mut(id) {
            node.detach();
        }
    }
    render(&document.html())
}

/// The text renderer drops `<hr>`; a rule above a header block is how
/// several clients separate the history, so it becomes a line of its own.
fn draw_rules(document: &mut Html) {
    let rules: Vec<NodeId> = document.select(&RULES).map(|element| element.id()).collect();
    for id in rules {
        let Some(mut rule) = document.tree.get_mut(id) else { continue };
        let name = QualName::new(None, ns!(html), local_name!("div"));
        let mut block = rule.insert_before(Node::Element(Element::new(name, Vec::new())));
        block.append(Node::Text(Text { text: RULE_TEXT.into() }));
        if let Some(mut rule) = document.tree.get_mut(id) {
            rule.detach();
        }
    }
}

/// Removes `id` and everything after it in document order.
fn cut_from(document: &mut Html, id: NodeId) {
    let mut current = Some(id);
    while let Some(node_id) = current {
        let Some(node) = document.tree.get(node_id) else { break };
        let parent = node.parent().map(|parent| parent.id());
        let later: Vec<NodeId> = node.next_siblings().map(|sibling| sibling.id()).collect();
        for sibling in later {
            if let Some(mut sibling) = document.tree.get_mut(sibling) {
                sibling.detach();
            }
        }
        current = parent;
    }
    if let Some(mut node) = document.tree.get_mut(id) {
        node.detach();
    }
}

fn render(html: &str) -> String {
    let rendered = html2text::config::with_decorator(MailText)
        .no_table_borders()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), NO_WRAP)
        .unwrap_or_default();
    // Non-breaking spaces are spaces to a reader, and to the quote patterns.
    let lines: Vec<String> = rendered.replace('\u{a0}', " ").lines().map(|line| line.trim_end().to_string()).collect();
    lines.join("\n").trim_matches('\n').to_string()
}

/// Text as a person would type it: link text without the address, no
/// emphasis marks, quotes as `> `, list items as `* ` and `1. `.
#[derive(Clone, Copy)]
struct MailText;

impl TextDecorator for MailText {
    type Annotation = ();

    fn decorate_link_start(&mut self, _url: &str) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_link_end(&mut self) -> String {
        String::new()
    }
    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_em_end(&self) -> String {
        String::new()
    }
    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strong_end(&self) -> String {
        String::new()
    }
    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }
    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_code_end(&self) -> String {
        String::new()
    }
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        (title.to_string(), ())
    }
    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }
    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }
    fn unordered_item_prefix(&self) -> String {
        "* ".to_string()
    }
    fn ordered_item_prefix(&self, number: i64) -> String {
        format!("{number}. ")
    }
    fn make_subblock_decorator(&self) -> Self {
        MailText
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_breaks_become_lines() {
        assert_eq!(new_text("<div>Thanks,<br>Alex</div><div>Reply</div>"), "Thanks,\nAlex\nReply");
        assert_eq!(new_text("<p>One</p><p>Two &amp; three</p>"), "One\n\nTwo & three");
    }

    #[test]
    fn styles_scripts_and_comments_never_leak() {
        let html = "<html><head><style>p{color:red}</style></head><body><!--[if mso]>x<![endif]--><script>alert(1)</script><p>Isolated.</p></body></html>";
        assert_eq!(new_text(html), "Isolated.");
    }

    #[test]
    fn quote_containers_are_dropped_and_blockquotes_marked() {
        let yahoo = "<div>Blocked.</div><div class=yahoo_quoted><div>On Friday, Alice wrote:</div><div>Old</div></div>";
        assert_eq!(new_text(yahoo), "Blocked.");
        let gmail = "<div dir=ltr>Blocked.</div><br><div class=gmail_quote><div class=gmail_attr>On Fri, Alice wrote:</div><blockquote class=gmail_quote>Old</blockquote></div>";
        assert_eq!(new_text(gmail), "Blocked.\n\nOn Fri, Alice wrote:\n\n> Old");
        let plain = "<div>New</div><blockquote>Old</blockquote><div>After</div>";
        assert_eq!(new_text(plain), "New\n\n> Old\n\nAfter");
    }

    #[test]
    fn rules_become_separator_lines() {
        assert_eq!(new_text("<div>Bob<hr><b>From: </b>a@b.test</div>"), format!("Bob\n{RULE_TEXT}\nFrom: a@b.test"));
    }

    #[test]
    fn outlook_history_runs_to_the_end() {
        let html =
            "<div><p>Done.</p><div id=divRplyFwdMsg><p>From: Alice</p></div><p>Old text</p></div><p>Old footer</p>";
        assert_eq!(new_text(html), "Done.");
    }
}

//! The parts of an inbound message that sitrep decides on, as plain data.
//! Filled by the `inbound` adapter; nothing here knows MIME.

use jiff::Timestamp;

/// One mailbox from an address header: the addr-spec, lowercased, and the
/// display name, which is never trusted for identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

impl Mailbox {
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentMeta {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySource {
    Plain,
    /// No text/plain part: the HTML part turned into text.
    Html,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub from: Vec<Mailbox>,
    pub sender: Option<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    /// Without angle brackets, as every stored Message-ID is.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub date: Option<Timestamp>,
    /// `Some("")` for the null reverse path `<>` of a bounce.
    pub return_path: Option<String>,
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    /// Names of the `List-*` headers present.
    pub list_headers: Vec<String>,
    /// The list's own address, from `List-Post: <mailto:…>`.
    pub list_address: Option<String>,
    /// `X-Autoreply` or `X-Autorespond` present.
    pub x_autoreply: bool,
    pub x_auto_response_suppress: Option<String>,
    pub is_report: bool,
    /// sitrep's own loop header, if the message carries one.
    pub loop_marker: Option<String>,
    pub authentication_results: Vec<String>,
    /// The update as written: quotes, signatures and footers removed.
    pub new_text: String,
    /// The whole text body, quotes included, for answers written between
    /// quoted questions.
    pub text: String,
    pub body_source: BodySource,
    pub attachments: Vec<AttachmentMeta>,
}

impl Inbound {
    /// The one author address, when the From header names exactly one.
    pub fn author(&self) -> Option<&Mailbox> {
        match self.from.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    pub fn recipients(&self) -> impl Iterator<Item = &Mailbox> {
        self.to.iter().chain(self.cc.iter())
    }
}

/// Text from a message without what could disguise it when echoed into
/// replies, digests, reports or a terminal: control characters (NUL, ESC
/// and the like; line breaks and tabs only where `lines` allows them) and
/// the bidirectional overrides that make "exe.pdf" read as "fdp.exe".
pub fn printable(text: &str, lines: bool) -> String {
    text.chars()
        .filter(|&c| {
            let bidi =
                matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}');
            let allowed_control = lines && (c == '\n' || c == '\t');
            !bidi && (!c.is_control() || allowed_control)
        })
        .collect()
}

#[cfg(test)]
impl Inbound {
    /// A plain staff mail to the incident address, for unit tests.
    pub fn sample(from: &str, subject: &str) -> Inbound {
        let mailbox = |address: &str| Mailbox { address: address.to_string(), name: None };
        Inbound {
            from: vec![mailbox(from)],
            sender: None,
            reply_to: Vec::new(),
            to: vec![mailbox("incident@company.test")],
            cc: Vec::new(),
            subject: subject.to_string(),
            message_id: Some("m1@company.test".to_string()),
            in_reply_to: Vec::new(),
            references: Vec::new(),
            date: None,
            return_path: None,
            auto_submitted: None,
            precedence: None,
            list_headers: Vec::new(),
            list_address: None,
            x_autoreply: false,
            x_auto_response_suppress: None,
            is_report: false,
            loop_marker: None,
            authentication_results: Vec::new(),
            new_text: "We see encrypted files on FS01.".to_string(),
            text: "We see encrypted files on FS01.".to_string(),
            body_source: BodySource::Plain,
            attachments: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn controls_and_bidi_overrides_never_pass() {
        assert_eq!(printable("invoice\u{202E}fdp.exe\0\x1b[31m", false), "invoicefdp.exe[31m");
        assert_eq!(printable("line one\n\tline two\r", true), "line one\n\tline two");
        assert_eq!(printable("a\nb", false), "ab");
        assert_eq!(printable("Grüße, 東京, שלום", false), "Grüße, 東京, שלום");
    }
}

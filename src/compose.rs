//! Builds outgoing RFC 5322 messages with lettre's builder, so headers are
//! encoded and folded by the library and bodies are transfer-encoded (no
//! header or SMTP injection through a subject or a body line).

use std::time::SystemTime;

use jiff::Timestamp;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::core::access::IncidentAddress;
use crate::inbound::LOOP_HEADER;

/// RFC 3834: `auto-replied` answers a message, `auto-generated` is
/// scheduled. Either tells well-behaved responders not to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSubmitted {
    Replied,
    Generated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body: String,
    /// An HTML alternative to `body`, for digests read on phones.
    pub html: Option<String>,
    /// Without angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// Oldest first, without angle brackets.
    pub references: Vec<String>,
    pub auto_submitted: AutoSubmitted,
    /// The incident address, as the loop header's value.
    pub loop_marker: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build outgoing mail: {0}")]
pub struct ComposeError(String);

/// Whether mail can be addressed to `address` at all: inbound headers may
/// carry forms (`alice..morgan@x`, `a b@x`) that no relay would take.
pub fn is_deliverable(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}

/// A fresh Message-ID in sitrep's own form, without angle brackets.
pub fn new_message_id(address: &IncidentAddress) -> String {
    address.own_message_id(&uuid::Uuid::new_v4().simple().to_string())
}

/// `raw`, as composed here for the primary relay, readdressed for the
/// fallback one: From the fallback address (so the other provider's DMARC
/// alignment holds and replies reach the out-of-band mailbox), To the
/// out-of-band addresses it now goes to, and no Cc, so that a reply to all
/// reaches no company mailbox.
pub fn readdressed(raw: &[u8], from: &str, to: &[String]) -> Vec<u8> {
    let Some(end) = raw.windows(4).position(|window| window == b"\r\n\r\n") else { return raw.to_vec() };
    let mut rewritten = Vec::with_capacity(raw.len() + from.len());
    let mut replaced = false;
    for line in raw[..end].split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // A folded line continues the header above it.
        if line.first().is_some_and(|byte| *byte == b' ' || *byte == b'\t') && replaced {
            continue;
        }
        let name = line.split(|&byte| byte == b':').next().unwrap_or_default();
        replaced = true;
        if name.eq_ignore_ascii_case(b"from") {
            rewritten.extend_from_slice(format!("From: sitrep <{from}>").as_bytes());
        } else if name.eq_ignore_ascii_case(b"to") {
            rewritten.extend_from_slice(format!("To: {}", to.join(", ")).as_bytes());
        } else if name.eq_ignore_ascii_case(b"cc") {
            continue;
        } else {
            replaced = false;
            rewritten.extend_from_slice(line);
        }
        rewritten.extend_from_slice(b"\r\n");
    }
    rewritten.extend_from_slice(&raw[end + 2..]);
    rewritten
}

pub fn compose(draft: &Draft, at: Timestamp) -> Result<Vec<u8>, ComposeError> {
    let mailbox = |address: &str| {
        address.parse::<lettre::Address>().map_err(|error| ComposeError(format!("address `{address}`: {error}")))
    };
    let mut builder = Message::builder()
        .from(Mailbox::new(Some("sitrep".to_string()), mailbox(&draft.from)?))
        .subject(draft.subject.replace(['\r', '\n'], " "))
        .message_id(Some(format!("<{}>", draft.message_id)))
        .date(SystemTime::try_from(at).map_err(|error| ComposeError(error.to_string()))?)
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            match draft.auto_submitted {
                AutoSubmitted::Replied => "auto-replied",
                AutoSubmitted::Generated => "auto-generated",
            }
            .to_string(),
        ))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"), "All".to_string()))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str(LOOP_HEADER), draft.loop_marker.clone()));
    for address in &draft.to {
        builder = builder.to(Mailbox::new(None, mailbox(address)?));
    }
    for address in &draft.cc {
        builder = builder.cc(Mailbox::new(None, mailbox(address)?));
    }
    if let Some(parent) = &draft.in_reply_to {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    if !draft.references.is_empty() {
        let references: Vec<String> = draft.references.iter().map(|id| format!("<{id}>")).collect();
        builder = builder.references(references.join(" "));
    }
    let crlf = |text: &str| text.replace("\r\n", "\n").replace('\n', "\r\n");
    let message = match &draft.html {
        None => builder.singlepart(SinglePart::plain(crlf(&draft.body))),
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(crlf(&draft.body), crlf(html))),
    }
    .map_err(|error| ComposeError(error.to_string()))?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Draft {
        Draft {
            from: "incident@company.test".into(),
            to: vec!["alice@company.test".into()],
            cc: vec!["bob@company.test".into()],
            subject: "[INC-1] Phishing\r\nBcc: ext@other.test".into(),
            body: "Line one\n.\nRCPT TO:<ext@other.test>\n".into(),
            html: None,
            message_id: "sitrep.1@company.test".into(),
            in_reply_to: Some("decl@company.test".into()),
            references: vec!["root@company.test".into(), "decl@company.test".into()],
            auto_submitted: AutoSubmitted::Replied,
            loop_marker: "incident@company.test".into(),
        }
    }

    #[test]
    fn carries_threading_and_loop_headers() {
        let raw = String::from_utf8(compose(&draft(), Timestamp::UNIX_EPOCH).unwrap()).unwrap();
        for expected in [
            "Message-ID: <sitrep.1@company.test>",
            "In-Reply-To: <decl@company.test>",
            "References: <root@company.test> <decl@company.test>",
            "Auto-Submitted: auto-replied",
            "X-Auto-Response-Suppress: All",
            "X-Sitrep-Loop: incident@company.test",
            "Cc: bob@company.test",
        ] {
            assert!(raw.contains(expected), "missing {expected:?} in\n{raw}");
        }
    }

    #[test]
    fn a_mail_sent_through_the_fallback_relay_is_readdressed_there() {
        let mut long = draft();
        long.cc = (0..8).map(|index| format!("colleague{index}@company.test")).collect();
        let raw = compose(&long, Timestamp::UNIX_EPOCH).unwrap();
        let to = ["alice@elsewhere.test".to_string()];
        let resent = String::from_utf8(readdressed(&raw, "ir@elsewhere.test", &to)).unwrap();
        let original = String::from_utf8(raw).unwrap();
        let (headers, body) = resent.split_once("\r\n\r\n").unwrap();
        let addressing: Vec<&str> =
            headers.lines().filter(|line| ["From:", "To:", "Cc:"].iter().any(|name| line.starts_with(name))).collect();
        assert_eq!(addressing, ["From: sitrep <ir@elsewhere.test>", "To: alice@elsewhere.test"], "{headers}");
        assert!(!headers.contains("bob@company.test") && !headers.contains("colleague"), "{headers}");
        assert_eq!(body, original.split_once("\r\n\r\n").unwrap().1, "the body is untouched");
        assert!(headers.contains("Subject: ") && headers.contains("Message-ID: <sitrep.1@company.test>"), "{headers}");
    }

    #[test]
    fn a_crafted_subject_cannot_add_headers() {
        let raw = String::from_utf8(compose(&draft(), Timestamp::UNIX_EPOCH).unwrap()).unwrap();
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(!headers.lines().any(|line| line.starts_with("Bcc:")), "{headers}");
        // Bare LF dot-stuffing bugs need a bare LF: every line ends in CRLF.
        assert!(!raw.replace("\r\n", "").contains('\n'), "bare LF in\n{raw}");
    }
}

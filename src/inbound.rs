//! The mail-parser adapter: raw bytes in, `core::mail::Inbound` out, within
//! the configured limits. The only module that knows MIME.
//!
//! A message that is too large, too deeply nested or that the parser cannot
//! handle (including a parser panic) comes back as a quarantine reason.

mod html;
mod recover;

use std::panic::{AssertUnwindSafe, catch_unwind};

use jiff::Timestamp;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::config::Limits;
use crate::core::mail::{AttachmentMeta, BodySource, Inbound, Mailbox, printable};
use crate::core::quote::{self, Flowed};

/// The name of sitrep's loop header, on every mail it sends.
pub const LOOP_HEADER: &str = "X-Sitrep-Loop";

/// A parsed message and its attachment bytes, in the order of `attachments`.
#[derive(Debug)]
pub struct Parsed {
    pub inbound: Inbound,
    pub attachment_bytes: Vec<Vec<u8>>,
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Checks the limits, then parses. `Err` is the reason to quarantine.
pub fn parse(raw: &[u8], limits: &Limits) -> Result<Parsed, String> {
    if raw.len() > limits.max_message_bytes {
        return Err(format!("message is {} bytes, over the limit of {}", raw.len(), limits.max_message_bytes));
    }
    let header_bytes = header_block_length(raw);
    if header_bytes > limits.max_header_bytes {
        return Err(format!("header block is {header_bytes} bytes, over the limit of {}", limits.max_header_bytes));
    }
    // mail-parser has panicked on hostile input before; a panic must cost
    // one message, not the daemon.
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        MessageParser::default().parse(raw).map(|message| convert(raw, &message, limits))
    }));
    match parsed {
        Ok(Some(result)) => result,
        Ok(None) => Err("not a parseable mail message".to_string()),
        Err(_) => Err("the mail parser failed on this message".to_string()),
    }
}

/// The headers of a message that could not be parsed whole (too large,
/// too deep, or a parser failure), so its sender can still be told why.
pub fn parse_headers_only(raw: &[u8], limits: &Limits) -> Option<Inbound> {
    let end = header_block_length(raw);
    if end > limits.max_header_bytes {
        return None;
    }
    let head = &raw[..(end + 4).min(raw.len())];
    let lenient = Limits { max_mime_parts: usize::MAX, max_mime_depth: usize::MAX, ..*limits };
    catch_unwind(AssertUnwindSafe(|| {
        MessageParser::default().parse_headers(head).and_then(|message| convert(head, &message, &lenient).ok())
    }))
    .ok()
    .flatten()
    .map(|parsed| parsed.inbound)
}

fn header_block_length(raw: &[u8]) -> usize {
    header_end(raw).map_or(raw.len(), |(length, _)| length)
}

/// Where the header block ends (the length of its lines) and the body
/// begins (after the blank line), CRLF or bare LF alike.
fn header_end(raw: &[u8]) -> Option<(usize, usize)> {
    let crlf = raw.windows(4).position(|window| window == b"\r\n\r\n").map(|at| (at, at + 4));
    let lf = raw.windows(2).position(|window| window == b"\n\n").map(|at| (at, at + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn convert(raw: &[u8], message: &Message<'_>, limits: &Limits) -> Result<Parsed, String> {
    // mail-parser accepts anything; bytes without a single header are not mail.
    let is_field_name = |name: &str| !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    if !message.headers().iter().any(|header| is_field_name(header.name())) {
        return Err("no mail headers found".to_string());
    }
    check_structure(message, limits, 0)?;
    let body = body_text(raw, message);
    if body.whole.len() > limits.max_text_bytes {
        return Err(format!("text body is {} bytes, over the limit of {}", body.whole.len(), limits.max_text_bytes));
    }
    let mut attachments = Vec::new();
    let mut attachment_bytes = Vec::new();
    for part in message.attachments() {
        let bytes = part.contents().to_vec();
        attachments.push(AttachmentMeta {
            name: part.attachment_name().map(sanitise_name).filter(|name| !name.is_empty()),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(subtype) => format!("{}/{}", ct.ctype(), subtype),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_string())
                .to_lowercase(),
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
        attachment_bytes.push(bytes);
    }
    let raw_header = |name: &str| message.header_raw(name).map(|value| value.trim().to_string());
    let inbound = Inbound {
        from: mailboxes(message.from()),
        sender: mailboxes(message.sender()).into_iter().next(),
        reply_to: mailboxes(message.reply_to()),
        to: mailboxes(message.to()),
        cc: mailboxes(message.cc()),
        subject: printable(message.subject().unwrap_or(""), false).trim().to_string(),
        message_id: message.message_id().and_then(normalise_id),
        in_reply_to: id_list(message.in_reply_to()),
        references: id_list(message.references()),
        date: message.date().and_then(|date| Timestamp::from_second(date.to_timestamp()).ok()),
        return_path: raw_header("Return-Path").map(|path| path.trim_matches(['<', '>', ' ']).to_string()),
        auto_submitted: raw_header("Auto-Submitted"),
        precedence: raw_header("Precedence"),
        list_headers: message
            .headers()
            .iter()
            .map(|header| header.name())
            .filter(|name| name.get(..5).is_some_and(|prefix| prefix.eq_ignore_ascii_case("list-")))
            .map(str::to_string)
            .collect(),
        list_address: raw_header("List-Post").and_then(|value| list_post_address(&value)),
        x_autoreply: raw_header("X-Autoreply").is_some() || raw_header("X-Autorespond").is_some(),
        x_auto_response_suppress: raw_header("X-Auto-Response-Suppress"),
        is_report: message.root_part().is_content_type("multipart", "report"),
        loop_marker: raw_header(LOOP_HEADER),
        authentication_results: message
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
            .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect(),
        new_text: printable(&quote::new_text(&body.without_marked_history, body.flowed), true),
        text: printable(&quote::readable(&body.whole, body.flowed), true),
        body_source: body.source,
        attachments,
    };
    Ok(Parsed { inbound, attachment_bytes })
}

/// Counts parts and nesting, descending into attached messages.
fn check_structure(message: &Message<'_>, limits: &Limits, depth: usize) -> Result<(), String> {
    if message.parts.len() > limits.max_mime_parts {
        return Err(format!("{} MIME parts, over the limit of {}", message.parts.len(), limits.max_mime_parts));
    }
    let mut stack = vec![(0usize, depth)];
    while let Some((index, level)) = stack.pop() {
        if level > limits.max_mime_depth {
            return Err(format!("MIME nesting deeper than {}", limits.max_mime_depth));
        }
        let Some(part) = message.parts.get(index) else { continue };
        match &part.body {
            PartType::Multipart(children) => {
                stack.extend(children.iter().map(|&child| (child as usize, level + 1)));
            }
            PartType::Message(inner) => check_structure(inner, limits, level + 1)?,
            _ => {}
        }
    }
    Ok(())
}

/// The text body, as text.
struct Body {
    whole: String,
    /// The whole text, or for HTML the text without the history that its
    /// markup names.
    without_marked_history: String,
    source: BodySource,
    flowed: Option<Flowed>,
}

fn body_text(raw: &[u8], message: &Message<'_>) -> Body {
    let body = readable_body(raw, message);
    if body.whole.trim().is_empty()
        && message.root_part().content_type().is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"))
        && let Some(repaired) = recover::with_real_boundary(raw)
    {
        return readable_body(raw, &repaired);
    }
    body
}

fn readable_body(raw: &[u8], message: &Message<'_>) -> Body {
    let Some(part) = message.text_body.first().and_then(|&id| message.parts.get(id as usize)) else {
        return Body {
            whole: String::new(),
            without_marked_history: String::new(),
            source: BodySource::None,
            flowed: None,
        };
    };
    if let PartType::Html(markup) = &part.body {
        return Body {
            whole: html::text(markup),
            without_marked_history: html::new_text(markup),
            source: BodySource::Html,
            flowed: None,
        };
    }
    let decoded = || message.body_text(0).map(|text| text.into_owned()).unwrap_or_default();
    let base64 = part.content_transfer_encoding().is_some_and(|encoding| encoding.eq_ignore_ascii_case("base64"));
    let text = if part.is_encoding_problem && base64 {
        recover::lenient_base64_text(raw, part).unwrap_or_else(decoded)
    } else if let Some(text) = recover::utf7_text(raw, part) {
        text
    } else {
        decoded()
    };
    let flowed = part.content_type().and_then(|ct| {
        let is_flowed = ct.attribute("format").is_some_and(|format| format.eq_ignore_ascii_case("flowed"));
        is_flowed.then(|| Flowed {
            delete_space: ct.attribute("delsp").is_some_and(|delsp| delsp.eq_ignore_ascii_case("yes")),
        })
    });
    Body { whole: text.clone(), without_marked_history: text, source: BodySource::Plain, flowed }
}

fn mailboxes(address: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(address) = address else { return Vec::new() };
    address
        .iter()
        .filter_map(|addr| {
            let spec = addr.address()?.trim().to_lowercase();
            (!spec.is_empty()).then(|| Mailbox {
                address: spec,
                name: addr.name().map(|name| printable(name, false).trim().to_string()).filter(|name| !name.is_empty()),
            })
        })
        .collect()
}

/// `<mailto:ops@lists.company.test>` → `ops@lists.company.test`; `NO` (a
/// list that takes no posts) and web addresses give nothing.
fn list_post_address(value: &str) -> Option<String> {
    let start = value.to_ascii_lowercase().find("mailto:")? + "mailto:".len();
    let address: String =
        value[start..].chars().take_while(|c| !matches!(c, '>' | '?' | ',' | ' ')).collect::<String>().to_lowercase();
    address.contains('@').then_some(address)
}

fn normalise_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>').trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => normalise_id(id).into_iter().collect(),
        HeaderValue::TextList(ids) => ids.iter().filter_map(|id| normalise_id(id)).collect(),
        _ => Vec::new(),
    }
}

/// Keeps a name as metadata only: no path separators, controls or dots
/// that could climb a directory, at most 200 characters.
fn sanitise_name(name: &str) -> String {
    let mapped: String =
        name.chars().map(|c| if c.is_control() || matches!(c, '/' | '\\' | ':' | '\0') { '_' } else { c }).collect();
    let cleaned = printable(&mapped, false);
    let trimmed = cleaned.trim().trim_start_matches('.');
    trimmed.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_messages_are_refused_before_parsing() {
        let limits = Limits { max_message_bytes: 10, ..Limits::default() };
        assert!(parse(b"Subject: this is too long\r\n\r\nbody", &limits).unwrap_err().contains("over the limit"));
    }

    #[test]
    fn oversized_header_blocks_are_refused() {
        let limits = Limits { max_header_bytes: 16, ..Limits::default() };
        let raw = b"Subject: a rather long subject line\r\n\r\nbody";
        assert!(parse(raw, &limits).unwrap_err().contains("header block"));
    }

    #[test]
    fn attachment_names_cannot_name_paths() {
        assert_eq!(sanitise_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitise_name("..\\x\0y"), "_x_y");
        assert_eq!(sanitise_name("report.pdf"), "report.pdf");
    }
}

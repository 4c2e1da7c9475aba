//! Readable text out of broken MIME, best effort: a boundary that differs
//! from the one declared (or none declared), and base64 with stray bytes or
//! a cut-off end. Relays and old scripts send such mail every day.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};

/// The message again with the boundary its body really uses, when the
/// declared one finds no parts.
pub fn with_real_boundary(raw: &[u8]) -> Option<Message<'static>> {
    let (_, body_start) = super::header_end(raw)?;
    let (head, body) = raw.split_at(body_start);
    let boundary = body_boundary(body)?;
    let mut repaired: Vec<u8> = Vec::with_capacity(raw.len() + 80);
    let mut skipping_content_type = false;
    for line in head.split_inclusive(|&byte| byte == b'\n') {
        let continues = line.first().is_some_and(|byte| *byte == b' ' || *byte == b'\t');
        if continues && skipping_content_type {
            continue;
        }
        skipping_content_type = line.len() >= 13 && line[..13].eq_ignore_ascii_case(b"content-type:");
        if !skipping_content_type && !line.iter().all(u8::is_ascii_whitespace) {
            repaired.extend_from_slice(line);
        }
    }
    repaired.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n").as_bytes());
    repaired.extend_from_slice(body.trim_ascii_start());
    MessageParser::default().parse(&repaired).map(Message::into_owned)
}

/// The first `--token` line that a part's headers follow.
fn body_boundary(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().enumerate().find_map(|(index, line)| {
        let token = line.trim_end().strip_prefix("--")?;
        let valid = !token.is_empty()
            && token.len() <= 70
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&b));
        let part_follows = lines
            .iter()
            .skip(index + 1)
            .take(5)
            .any(|next| next.len() >= 13 && next[..13].eq_ignore_ascii_case("content-type:"));
        (valid && part_follows).then(|| token.to_string())
    })
}

/// A base64 part that failed to decode, decoded leniently: bytes outside
/// the alphabet skipped, an incomplete last group dropped.
pub fn lenient_base64_text(raw: &[u8], part: &MessagePart<'_>) -> Option<String> {
    let encoded = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    let mut alphabet: Vec<u8> =
        encoded.iter().copied().filter(|byte| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/').collect();
    alphabet.truncate(alphabet.len() / 4 * 4);
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(&alphabet).ok()?;
    let label = part.content_type().and_then(|ct| ct.attribute("charset")).unwrap_or("utf-8");
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::UTF_8);
    Some(encoding.decode(&bytes).0.into_owned())
}

/// A UTF-7 part sent as 7bit, decoded by a decoder that ends a base64 run
/// where RFC 2152 does (the parser's own eats the space after "Ren+AOk").
pub fn utf7_text(raw: &[u8], part: &MessagePart<'_>) -> Option<String> {
    let label = part.content_type()?.attribute("charset")?;
    let transfer = part.content_transfer_encoding().unwrap_or("7bit");
    let unencoded = ["7bit", "8bit", "binary"].iter().any(|name| transfer.eq_ignore_ascii_case(name));
    if !label.eq_ignore_ascii_case("utf-7") || !unencoded {
        return None;
    }
    let bytes = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    let decoder = charset::Charset::for_label(b"utf-7")?;
    Some(decoder.decode_without_bom_handling(bytes).0.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_boundary_the_body_uses() {
        let raw = b"Subject: x\r\nContent-Type: multipart/alternative; boundary=\"abc\"\r\n\r\npreamble\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\nHello there\r\n--XYZ--\r\n";
        let message = with_real_boundary(raw).unwrap();
        assert_eq!(message.body_text(0).unwrap().trim(), "Hello there");
    }
}

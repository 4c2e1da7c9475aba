use std::path::Path;

use sitrep::config::Limits;
use sitrep::inbound;

use crate::support::FIXTURES;

/// Each `NNN-client-case.eml` has a `.txt` with the update text a person
/// would say the sender wrote. A mismatch writes `.txt.failed` beside it.
#[test]
fn update_text_matches_every_fixture() {
    let mut names: Vec<_> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "expected at least 40 fixtures, found {}", names.len());
    let mut failures = Vec::new();
    for eml in &names {
        let expected_path = eml.with_extension("txt");
        let expected =
            std::fs::read_to_string(&expected_path).unwrap_or_else(|_| panic!("{} has no .txt", eml.display()));
        let parsed = inbound::parse(&std::fs::read(eml).unwrap(), &Limits::default())
            .unwrap_or_else(|reason| panic!("{}: {reason}", eml.display()));
        let failed_path = eml.with_extension("txt.failed");
        if parsed.inbound.new_text == expected.trim_end() {
            let _ = std::fs::remove_file(failed_path);
        } else {
            std::fs::write(&failed_path, &parsed.inbound.new_text).unwrap();
            failures.push(format!(
                "{}:\n--- expected\n{}\n--- got\n{}\n",
                file_name(eml),
                expected.trim_end(),
                parsed.inbound.new_text
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures differ:\n{}", failures.len(), names.len(), failures.join("\n"));
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn headers_are_decoded() {
    let parsed =
        inbound::parse(&crate::support::fixture("005-outlook-desktop-german.eml"), &Limits::default()).unwrap();
    let inbound = parsed.inbound;
    assert_eq!(inbound.subject, "AW: [INC-1] Verschlüsselte Dateien");
    assert_eq!(inbound.from[0].address, "juergen.gross@company.test");
    assert_eq!(inbound.from[0].name.as_deref(), Some("Jürgen Groß"));
    assert_eq!(inbound.message_id.as_deref(), Some("out-005@company.test"));
    assert_eq!(inbound.in_reply_to, ["decl-1@company.test"]);
    assert_eq!(inbound.date.map(|date| date.to_string()).as_deref(), Some("2026-11-27T10:15:00Z"));

    let subject = inbound::parse(&crate::support::fixture("033-declaration-nonascii.eml"), &Limits::default()).unwrap();
    assert_eq!(subject.inbound.subject, "Verdächtige Anmeldung – Büro München");
}

#[test]
fn attachments_are_described_by_hash() {
    let parsed =
        inbound::parse(&crate::support::fixture("032-declaration-attachment.eml"), &Limits::default()).unwrap();
    let [attachment] = parsed.inbound.attachments.as_slice() else { panic!("one attachment expected") };
    assert_eq!(attachment.name.as_deref(), Some("README_RESTORE.pdf"));
    assert_eq!(attachment.content_type, "application/pdf");
    assert_eq!(attachment.size, parsed.attachment_bytes[0].len() as u64);
    assert_eq!(attachment.sha256, inbound::sha256_hex(&parsed.attachment_bytes[0]));
    assert!(parsed.attachment_bytes[0].starts_with(b"%PDF-1.4"));
}

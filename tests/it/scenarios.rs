//! Whole incidents steered by mail as real clients write it, driven by the
//! `.eml` fixtures: bottom-posting, HTML-only, a phone, localised Outlook.

use sitrep::core::triage::Outcome;

use crate::support::{Harness, fixture, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";

/// INC-1, declared by Alice with the Message-ID the fixtures reply to.
fn declared(body: &str) -> Harness {
    let mut harness = Harness::new();
    let declaration = mail(ALICE, "Ransomware on the file server").id("decl-1@company.test").body(body);
    assert_eq!(harness.feed(&declaration.bytes()).outcome, Outcome::Declared);
    harness
}

fn incident(harness: &Harness) -> serde_json::Value {
    serde_json::to_value(&harness.export().incidents[0]).unwrap()
}

/// The text stored for the timeline entry of a Message-ID.
fn entry_text(harness: &Harness, message_id: &str) -> String {
    let state = incident(harness);
    let entries = state["timeline"].as_array().unwrap();
    let entry = entries.iter().find(|entry| entry["message_id"] == message_id).unwrap_or_else(|| {
        panic!("no timeline entry for {message_id}: {entries:#?}");
    });
    entry["text"].as_str().unwrap().to_string()
}

fn transcripts_to(harness: &Harness, address: &str) -> Vec<serde_json::Value> {
    harness.outbox().into_iter().filter(|row| row["kind"] == "transcript" && row["to"][0] == address).collect()
}

#[test]
fn bottom_posting_thunderbird_and_mutt_users_steer_the_incident() {
    let mut harness = declared("Files on FS01 end in .locked.");
    let polish = harness.feed(&fixture("057-thunderbird-polish-bottom-posted.eml"));
    assert_eq!((polish.outcome, polish.incident.map(|n| n.0)), (Outcome::Updated, Some(1)));
    assert_eq!(incident(&harness)["status"], "contained");
    let text = entry_text(&harness, "out-057@company.test");
    assert!(text.starts_with("Bank wstrzymał przelew") && !text.contains("status:"), "{text}");
    assert_eq!(transcripts_to(&harness, "piotr.zielinski@company.test").len(), 1);

    harness.feed(&fixture("060-mutt-russian-interleaved-koi8-r.eml"));
    assert_eq!(incident(&harness)["phase"], "recovery");
    let text = entry_text(&harness, "out-060@company.test");
    assert!(text.contains("выходной узел Tor") && !text.contains("phase:"), "{text}");
}

#[test]
fn an_html_only_webmail_user_sets_severity_and_phase() {
    let mut harness = declared("Credential dumping alert on WS-207.");
    harness.feed(&fixture("120-gmail-html-commands-then-prose.eml"));
    let state = incident(&harness);
    assert_eq!((state["severity"].as_str(), state["phase"].as_str()), (Some("high"), Some("containment")));
    let text = entry_text(&harness, "out-120@company.test");
    assert!(text.starts_with("We isolated WS-207") && text.ends_with("Alex"), "{text}");
    let [transcript] = transcripts_to(&harness, "alex.kim@company.test").try_into().unwrap();
    assert!(transcript["subject"].as_str().unwrap().starts_with("Processed:"), "{transcript}");
}

#[test]
fn a_phone_user_closes_with_a_sentence_and_resolved() {
    let mut harness = declared("lead me\nFiles on FS01 end in .locked.");
    harness.feed(&fixture("131-iphone-sentence-then-resolved.eml"));
    assert_eq!(incident(&harness)["status"], "closed");
    assert_eq!(
        entry_text(&harness, "out-131@company.test"),
        "All shares restored and checked, users are back at work."
    );
}

#[test]
fn localised_outlook_users_are_read_in_their_language() {
    let mut harness = declared("Files on FS01 end in .locked.");
    harness.feed(&fixture("132-outlook-german-commands.eml"));
    let state = incident(&harness);
    assert_eq!(state["severity"], "critical");
    assert_eq!(state["scope"], "FS01, FS02 und die Finanzfreigabe");
    let text = entry_text(&harness, "out-132@company.test");
    assert!(text.starts_with("Hallo zusammen,") && text.ends_with("Jürgen"), "{text}");
    assert!(!text.contains("Von:") && !text.contains("sev 1"), "{text}");

    harness.feed(&fixture("077-outlook-greek-header-block.eml"));
    harness.feed(&fixture("066-gmail-japanese-iso-2022-jp.eml"));
    for (id, golden) in [
        ("out-077@company.test", "077-outlook-greek-header-block.txt"),
        ("out-066@company.test", "066-gmail-japanese-iso-2022-jp.txt"),
    ] {
        let expected = std::fs::read_to_string(format!("{}/{golden}", crate::support::FIXTURES)).unwrap();
        assert_eq!(entry_text(&harness, id), expected.trim_end(), "{id}");
    }
}

#[test]
fn an_accidental_reply_leaves_no_trace_on_the_timeline() {
    let mut harness = declared("Files on FS01 end in .locked.");
    let report = harness.feed(&fixture("095-iphone-accidental-reply-empty.eml"));
    assert_eq!((report.outcome, report.reason.as_deref()), (Outcome::Ignored, Some("no new text")));
    assert_eq!(incident(&harness)["timeline"].as_array().unwrap().len(), 1);
    assert!(harness.outbox().iter().all(|row| row["kind"] != "transcript"));
}

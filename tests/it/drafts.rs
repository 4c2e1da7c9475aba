use crate::support::{Harness, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";
const BOB: &str = "Bob Lee <bob@company.test>";
const CEO: &str = "Chris Executive <ceo@company.test>";
const VENDOR: &str = "Vera Vendor <vera@vendor.test>";

fn of_kind(harness: &Harness, kind: &str) -> Vec<serde_json::Value> {
    harness.outbox().into_iter().filter(|row| row["kind"] == kind).collect()
}

fn drafts(harness: &Harness) -> Vec<serde_json::Value> {
    serde_json::to_value(&harness.export().incidents[0]).unwrap()["drafts"].as_array().unwrap().clone()
}

fn reply(from: &str, body: &str, id: &str) -> Vec<u8> {
    mail(from, "Re: [INC-1] Ransomware on FS01").id(id).body(body).bytes()
}

/// Alice leads an incident whose scope is known; she asks for the worst-case
/// customer notice.
fn drafted() -> Harness {
    let mut harness = Harness::new();
    harness.feed(
        &mail(ALICE, "Ransomware on FS01 [lead me]")
            .id("d@company.test")
            .header("Cc", "bob@company.test, vera@vendor.test")
            .body("scope FS01 and the finance share")
            .bytes(),
    );
    harness.feed(&reply(ALICE, "draft customer-notice worst", "a1@company.test"));
    harness
}

#[test]
fn a_draft_comes_to_the_one_who_asked_with_the_facts_and_what_is_unknown_marked() {
    let harness = drafted();
    let mails = of_kind(&harness, "draft");
    assert_eq!(mails.len(), 1);
    let draft = &mails[0];
    assert_eq!(draft["to"], serde_json::json!(["alice@company.test"]), "to the sender only");
    assert_eq!(draft["cc"], serde_json::json!([]));
    assert_eq!(draft["subject"], "[INC-1] Draft D1: customer-notice, worst case");
    let body = draft["body"].as_str().unwrap();
    assert!(body.contains("FS01 and the finance share"), "the incident's scope: {body}");
    assert!(body.contains("[TO CONFIRM: number of people affected]"), "the number of people is not known: {body}");
    assert!(body.contains("----- D1, version 1 -----"), "{body}");
    let stored = drafts(&harness);
    assert_eq!((stored[0]["id"].as_str(), stored[0]["status"].as_str()), (Some("D1"), Some("waiting")));
    assert_eq!(stored[0]["version"], 1);
    let transcript = of_kind(&harness, "transcript").pop().unwrap();
    assert!(transcript["body"].as_str().unwrap().contains("comes to you alone"), "{transcript}");
}

#[test]
fn a_reply_to_a_draft_is_its_next_version_not_an_update() {
    let mut harness = drafted();
    let draft_id = of_kind(&harness, "draft")[0]["message_id"].as_str().unwrap().to_string();
    let edit = mail(ALICE, "Re: [INC-1] Draft D1: customer-notice, worst case")
        .id("a2@company.test")
        .header("In-Reply-To", &format!("<{draft_id}>"))
        .header("References", &format!("<{draft_id}>"))
        .body("Dear customers,\n\nOur file server was attacked on Friday. We are restoring it.");
    harness.feed(&edit.bytes());
    let stored = drafts(&harness);
    assert_eq!(stored[0]["version"], 2);
    assert!(stored[0]["body"].as_str().unwrap().starts_with("Dear customers,"), "{}", stored[0]["body"]);
    assert_eq!(stored[0]["versions"][1]["by"], "alice@company.test");
    let timeline = serde_json::to_value(&harness.export().incidents[0]).unwrap()["timeline"].clone();
    let texts: Vec<&str> = timeline.as_array().unwrap().iter().map(|entry| entry["text"].as_str().unwrap()).collect();
    assert!(!texts.iter().any(|text| text.contains("Dear customers")), "the draft is no update: {texts:?}");
    assert!(texts.contains(&"Draft D1: version 2 by alice@company.test"), "{texts:?}");
}

#[test]
fn the_lead_or_an_executive_approves_a_staff_member_or_outsider_cannot() {
    let mut harness = drafted();
    harness.feed(&reply(BOB, "approve D1", "b1@company.test"));
    assert_eq!(drafts(&harness)[0]["status"], "waiting", "Bob is staff, not the lead");
    let refused = of_kind(&harness, "transcript").pop().unwrap();
    assert!(refused["body"].as_str().unwrap().contains("or an executive may approve or reject a draft"), "{refused}");
    harness.feed(&reply(VENDOR, "approve D1", "v1@vendor.test"));
    assert_eq!(drafts(&harness)[0]["status"], "waiting", "an outsider's command changes nothing");

    // The executives' digest lists the waiting draft and who may approve it.
    sitrep::scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, "2026-11-27T11:30:00Z".parse().unwrap())
        .unwrap();
    let digest = of_kind(&harness, "digest").pop().expect("a digest");
    let body = digest["body"].as_str().unwrap();
    assert!(
        body.contains("Drafts waiting for approval") && body.contains("- D1: customer-notice, worst case, version 1")
    );

    harness.feed(&reply(CEO, "approve D1", "c1@company.test"));
    let stored = drafts(&harness);
    assert_eq!(
        (stored[0]["status"].as_str(), stored[0]["approved_by"].as_str()),
        (Some("approved"), Some("ceo@company.test"))
    );
    harness.feed(&reply(ALICE, "reject D1 too late now", "a3@company.test"));
    assert_eq!(drafts(&harness)[0]["status"], "approved", "decided once");
}

#[test]
fn no_draft_or_approval_mail_leaves_the_staff_and_executives() {
    let mut harness = drafted();
    harness.feed(&reply(ALICE, "draft regulator\ndraft board best\napprove D2", "a2@company.test"));
    harness.feed(&reply(VENDOR, "draft police", "v1@vendor.test"));
    for row in harness.outbox() {
        let kind = row["kind"].as_str().unwrap();
        if !["draft", "transcript"].contains(&kind) {
            continue;
        }
        for to in row["to"].as_array().unwrap().iter().chain(row["cc"].as_array().unwrap()) {
            let to = to.as_str().unwrap();
            assert!(to.ends_with("@company.test"), "{kind} mail to {to}");
        }
    }
    assert_eq!(of_kind(&harness, "draft").len(), 3, "the vendor asked for none");
}

fn reply_to_draft(harness: &Harness, from: &str, body: &str, id: &str) -> Vec<u8> {
    let draft_id = of_kind(harness, "draft")[0]["message_id"].as_str().unwrap().to_string();
    mail(from, "Re: [INC-1] Draft D1: customer-notice, worst case")
        .id(id)
        .header("In-Reply-To", &format!("<{draft_id}>"))
        .body(body)
        .bytes()
}

#[test]
fn a_comment_on_a_draft_is_no_new_version_and_its_approval_stands_for_what_was_read() {
    let mut harness = drafted();
    let comment = reply_to_draft(&harness, ALICE, "Looks good to me.\n\napprove D1", "a2@company.test");
    harness.feed(&comment);
    let stored = drafts(&harness);
    assert_eq!((stored[0]["version"].as_u64(), stored[0]["status"].as_str()), (Some(1), Some("approved")));
    let transcript = of_kind(&harness, "transcript").pop().unwrap();
    assert!(transcript["body"].as_str().unwrap().contains("[TO CONFIRM] marks"), "{transcript}");

    // A later edit needs deciding again; the approval of version 1 stays on record.
    let edit = "Subject: Our file server was attacked\n\nDear customers,\n\nScope: our file server.\n\
                Impact: invoices are late.\n\nWe are restoring it.";
    harness.feed(&reply_to_draft(&harness, ALICE, edit, "a3@company.test"));
    let stored = drafts(&harness);
    assert_eq!((stored[0]["version"].as_u64(), stored[0]["status"].as_str()), (Some(2), Some("waiting")));
    assert_eq!(stored[0]["versions"][0]["decision"]["status"], "approved");
    assert!(stored[0]["body"].as_str().unwrap().contains("Scope: our file server."), "the draft is kept whole");
    let incident = serde_json::to_value(&harness.export().incidents[0]).unwrap();
    assert_eq!(incident["scope"], "FS01 and the finance share", "lines of a draft run no commands");
}

#[test]
fn a_draft_is_decided_only_once_read_and_anyone_who_decides_can_ask_to_see_it() {
    let mut harness = drafted();
    harness.feed(&reply(ALICE, "draft police\napprove D2", "a2@company.test"));
    assert_eq!(drafts(&harness)[1]["status"], "waiting", "D2 had no text when approved");
    harness.feed(&reply(CEO, "show D1", "c1@company.test"));
    let shown = of_kind(&harness, "draft").pop().unwrap();
    assert_eq!(
        (shown["to"][0].as_str(), shown["subject"].as_str()),
        (Some("ceo@company.test"), Some("[INC-1] Draft D1: customer-notice, worst case"))
    );
}

use sitrep::core::triage::Outcome;

use crate::support::{Harness, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";
const BOB: &str = "Bob Lee <bob@company.test>";

fn reply(from: &str, body: &str, id: &str) -> Vec<u8> {
    mail(from, "Re: [INC-1] Ransomware on FS01").id(id).body(body).bytes()
}

/// The incident in the first (only) export entry, as JSON for brevity.
fn incident(harness: &Harness) -> serde_json::Value {
    serde_json::to_value(&harness.export().incidents[0]).unwrap()
}

fn outbox(harness: &Harness) -> Vec<serde_json::Value> {
    harness.outbox()
}

#[test]
fn a_whole_incident_driven_from_phone_sized_mails() {
    let mut harness = Harness::new();
    let declaration = mail(ALICE, "Ransomware on FS01 #sev1")
        .id("d@company.test")
        .header("Cc", "bob@company.test")
        .body("lead me\nFiles on FS01 end in .locked since 01:50.\n\nSent from my iPhone");
    assert_eq!(harness.feed(&declaration.bytes()).outcome, Outcome::Declared);
    let state = incident(&harness);
    assert_eq!(state["title"], "Ransomware on FS01");
    assert_eq!((state["severity"].as_str(), state["lead"].as_str()), (Some("critical"), Some("alice@company.test")));
    assert_eq!(state["timeline"][0]["text"], "Files on FS01 end in .locked since 01:50.");
    let ack = &outbox(&harness)[0];
    assert_eq!(ack["kind"], "ack");
    assert!(ack["body"].as_str().unwrap().contains("> #sev1\n  Severity is now critical."), "{}", ack["body"]);

    // Bob's phone quotes Alice's mail; the quoted "lead me" must not apply.
    let bob = reply(
        BOB,
        "role scribe me\nscope FS01 and the finance share\n\nOn Fri, 27 Nov 2026 at 02:10, Alice wrote:\n> lead me\n",
        "b1@company.test",
    );
    harness.feed(&bob);
    let state = incident(&harness);
    assert_eq!(state["lead"], "alice@company.test");
    assert_eq!(state["roles"]["scribe"], "bob@company.test");
    assert_eq!(state["scope"], "FS01 and the finance share");
    let transcript = outbox(&harness).into_iter().find(|row| row["kind"] == "transcript").unwrap();
    assert_eq!(transcript["subject"], "Processed: [INC-1] Ransomware on FS01");
    assert_eq!(transcript["to"], serde_json::json!(["bob@company.test"]));
    assert_eq!(transcript["cc"], serde_json::json!([]));

    harness.feed(&reply(ALICE, "contained", "a2@company.test"));
    harness.feed(&reply(
        ALICE,
        "task restore the finance share @bob@company.test due 17:00\nstream legal insurer informed",
        "a3@company.test",
    ));
    harness.feed(&reply(BOB, "done 1\nRestore finished, users are back.", "b2@company.test"));
    harness.feed(&reply(ALICE, "close: restored from backup, nothing left the building", "a4@company.test"));

    let state = incident(&harness);
    assert_eq!((state["status"].as_str(), state["phase"].as_str()), (Some("closed"), Some("post-incident")));
    assert!(state["milestones"]["contained"].is_string() && state["closed_at"].is_string());
    assert_eq!(state["tasks"][0]["state"], "done");
    // Every incident opens with the default streams; the legal one has news.
    let streams = state["streams"].as_array().unwrap();
    let names: Vec<&str> = streams.iter().map(|stream| stream["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["technical", "internal-comms", "external-comms", "legal"]);
    assert_eq!(streams[3]["status"], "insurer informed");
    let timeline = state["timeline"].as_array().unwrap();
    assert!(
        timeline.iter().any(|entry| entry["kind"] == "update" && entry["text"] == "Restore finished, users are back.")
    );
    let commands: Vec<&str> = timeline
        .iter()
        .filter(|entry| entry["kind"] == "command")
        .map(|entry| entry["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "#sev1",
            "lead me",
            "role scribe me",
            "scope FS01 and the finance share",
            "contained",
            "task restore the finance share @bob@company.test due 17:00",
            "stream legal insurer informed",
            "done 1",
            "close: restored from backup, nothing left the building"
        ]
    );
    assert!(timeline.iter().all(|entry| entry["trust"] == "staff"));
}

#[test]
fn a_bad_command_is_answered_and_the_update_text_kept() {
    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Ransomware on FS01").id("d@company.test").bytes());
    harness.feed(&reply(BOB, "sevrity 1\nThe backup server is clean.", "b1@company.test"));
    let transcript = outbox(&harness).into_iter().find(|row| row["kind"] == "transcript").unwrap();
    assert_eq!(transcript["subject"], "Processed (1 error): [INC-1] Ransomware on FS01");
    assert!(transcript["body"].as_str().unwrap().contains("did you mean `severity`"));
    let state = incident(&harness);
    assert_eq!(state["severity"], serde_json::Value::Null);
    // The mistyped line stays in the update: no mail loses text to a bad command.
    assert_eq!(state["timeline"][1]["text"], "sevrity 1\nThe backup server is clean.");

    harness.feed(&reply(BOB, "/sev extreme", "b2@company.test"));
    let transcripts = outbox(&harness).into_iter().filter(|row| row["kind"] == "transcript").count();
    assert_eq!(transcripts, 2, "a mail with only a bad command still gets its transcript");
}

#[test]
fn conflicting_commands_are_explained() {
    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Ransomware on FS01").id("d@company.test").bytes());
    harness.feed(&reply(BOB, "sev 1\nsev 3", "b1@company.test"));
    assert_eq!(incident(&harness)["severity"], "medium");
    let body = outbox(&harness).into_iter().find(|row| row["kind"] == "transcript").unwrap()["body"].clone();
    assert!(body.as_str().unwrap().contains("replaces `sev 1` earlier in this mail: the last one wins"), "{body}");
}

#[test]
fn quiet_help_and_the_status_card() {
    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Ransomware on FS01").id("d@company.test").bytes());
    harness.feed(&reply(BOB, "quiet\nsev 2", "b1@company.test"));
    assert_eq!(incident(&harness)["severity"], "high");
    assert!(outbox(&harness).iter().all(|row| row["kind"] != "transcript"), "quiet sends nothing");

    harness.feed(&reply(BOB, "help\nstatus?", "b2@company.test"));
    let body = outbox(&harness).into_iter().find(|row| row["kind"] == "transcript").unwrap()["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(body.contains("# sitrep commands"), "help includes the reference card");
    assert!(body.contains("INC-1: Ransomware on FS01") && body.contains("severity high"), "{body}");
}

const AUTH: &str = "\n[auth]\ntrusted_authserv_id = \"mx.company.test\"\n";

fn authenticated(config: String) -> String {
    config.replace("[access]", "[access]\nleads = [\"ceo@company.test\"]\nadmins = [\"admin@company.test\"]") + AUTH
}

#[test]
fn a_spoofed_ceo_close_changes_nothing() {
    let mut harness = Harness::with_config(authenticated);
    let genuine = "mx.company.test; spf=pass smtp.mailfrom=company.test; dkim=pass header.d=company.test; dmarc=pass header.from=company.test";
    let declaration = mail(ALICE, "Ransomware on FS01").id("d@company.test").header("Authentication-Results", genuine);
    assert_eq!(harness.feed(&declaration.bytes()).outcome, Outcome::Declared);
    let ceo = "CEO <ceo@company.test>";
    let spoofs = [
        mail(ceo, "Re: [INC-1] Ransomware on FS01").body("close"),
        mail(ceo, "Re: [INC-1] Ransomware on FS01")
            .body("close")
            .header("Authentication-Results", "mx.evil.test; dmarc=pass header.from=company.test"),
        mail(ceo, "Re: [INC-1] Ransomware on FS01")
            .body("close")
            .header("Authentication-Results", "mx.company.test; dmarc=fail header.from=company.test")
            .header("X-Placeholder", "x")
            .header("Authentication-Results-Forged", "ignored"),
        mail(ceo, "Re: [INC-1] Ransomware on FS01")
            .body("close")
            .header("Authentication-Results", "mx.company.test; dkim=pass header.d=evil.test; dmarc=none"),
    ];
    for (index, spoof) in spoofs.iter().enumerate() {
        let report = harness.feed(&spoof.clone().id(&format!("spoof{index}@evil.test")).bytes());
        assert_eq!(report.outcome, Outcome::Updated, "spoof {index} is recorded");
        assert_eq!(incident(&harness)["status"], "open", "spoof {index} closed the incident");
    }
    // A forged pass written below our border MTA's real verdict.
    let mut stacked = b"Authentication-Results: mx.company.test; dmarc=fail header.from=company.test\r\n".to_vec();
    stacked.extend(b"Authentication-Results: mx.company.test; dmarc=pass header.from=company.test\r\n");
    stacked.extend(mail(ceo, "Re: [INC-1] Ransomware on FS01").id("spoof9@evil.test").body("close").bytes());
    harness.feed(&stacked);
    assert_eq!(incident(&harness)["status"], "open");

    let state = incident(&harness);
    let unverified =
        state["timeline"].as_array().unwrap().iter().filter(|entry| entry["trust"] == "unverified").count();
    assert_eq!(unverified, 5);
    let rows = outbox(&harness);
    assert!(
        rows.iter().all(|row| row["to"] != serde_json::json!(["ceo@company.test"])),
        "the CEO, perhaps a victim, is not answered"
    );
    assert!(rows.iter().any(|row| row["kind"] == "notice" && row["to"] == serde_json::json!(["admin@company.test"])));

    let real = mail(ceo, "Re: [INC-1] Ransomware on FS01")
        .id("real@company.test")
        .body("close")
        .header("Authentication-Results", genuine);
    harness.feed(&real.bytes());
    assert_eq!(incident(&harness)["status"], "closed");
}

#[test]
fn an_external_vendor_on_reply_all_gets_nothing_and_cannot_close() {
    let mut harness = Harness::new();
    let declaration =
        mail(ALICE, "Ransomware on FS01").id("d@company.test").header("Cc", "vendor@outside.test, bob@company.test");
    harness.feed(&declaration.bytes());
    let ack = &outbox(&harness)[0];
    assert_eq!(ack["cc"], serde_json::json!(["bob@company.test"]), "the vendor is not copied");

    let vendor = mail("Vendor <vendor@outside.test>", "Re: [INC-1] Ransomware on FS01")
        .id("v1@outside.test")
        .body("close\nWe restored your VM.");
    assert_eq!(harness.feed(&vendor.bytes()).outcome, Outcome::Updated);
    let state = incident(&harness);
    assert_eq!(state["status"], "open");
    let last = state["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["trust"].as_str(), last["author"].as_str()), (Some("external"), Some("vendor@outside.test")));

    // Alice replies to all, vendor included: only Alice hears back.
    let alice = mail(ALICE, "Re: [INC-1] Ransomware on FS01")
        .id("a1@company.test")
        .header("Cc", "vendor@outside.test")
        .body("sev 2");
    harness.feed(&alice.bytes());
    for row in outbox(&harness) {
        let recipients = format!("{} {}", row["to"], row["cc"]);
        assert!(!recipients.contains("outside.test"), "{recipients}");
    }
}

#[test]
fn outsiders_can_be_refused_outright_and_partners_count_without_commands() {
    let mut harness = Harness::with_config(|text| {
        text.replace("[access]", "[access]\nexternal = \"reject\"\npartner_domains = [\"ir-firm.test\"]")
    });
    harness.feed(&mail(ALICE, "Ransomware on FS01").id("d@company.test").bytes());
    let vendor = mail("vendor@outside.test", "Re: [INC-1] Ransomware on FS01").id("v@outside.test");
    assert_eq!(harness.feed(&vendor.bytes()).outcome, Outcome::Rejected);
    let partner = mail("analyst@ir-firm.test", "Re: [INC-1] Ransomware on FS01")
        .id("p@ir-firm.test")
        .body("sev 1\nWe see lateral movement.");
    assert_eq!(harness.feed(&partner.bytes()).outcome, Outcome::Updated);
    let state = incident(&harness);
    assert_eq!(state["severity"], serde_json::Value::Null, "partners run no commands");
    assert_eq!(state["timeline"].as_array().unwrap().last().unwrap()["trust"], "partner");
}

#[test]
fn replies_are_limited_per_hour_and_never_repeated() {
    let mut harness = Harness::with_extra_config("\n[limits]\nreplies_per_hour = 3\n");
    harness.feed(&mail(ALICE, "Ransomware on FS01").id("d@company.test").bytes());
    harness.feed(&reply(BOB, "status?", "b1@company.test"));
    harness.feed(&reply(BOB, "status?", "b2@company.test"));
    let transcripts = outbox(&harness).into_iter().filter(|row| row["kind"] == "transcript").count();
    assert_eq!(transcripts, 1, "the identical card is not sent twice within the window");
    harness.feed(&reply(BOB, "sev 2", "b3@company.test"));
    harness.feed(&reply(BOB, "sev 3", "b4@company.test"));
    harness.feed(&reply(BOB, "sev 4", "b5@company.test"));
    // The ack has its own budget (the declaration limits); 3 transcripts reach the cap of 3.
    assert_eq!(outbox(&harness).len(), 4, "ack + 3 transcripts, the fourth transcript dropped");
    assert_eq!(incident(&harness)["severity"], "low", "commands still apply when replies are capped");
}

#[test]
fn replying_to_a_subject_with_commands_does_not_repeat_them() {
    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Ransomware on FS01 [sev1; lead me]").id("d@company.test").bytes());
    let echo = mail(BOB, "Re: Ransomware on FS01 [sev1; lead me]")
        .id("b1@company.test")
        .header("In-Reply-To", "<d@company.test>")
        .body("On my way.");
    assert_eq!(harness.feed(&echo.bytes()).outcome, Outcome::Updated);
    assert_eq!(incident(&harness)["lead"], "alice@company.test");
    assert!(outbox(&harness).iter().all(|row| row["kind"] != "transcript"), "Bob sent no commands of his own");
    assert_eq!(incident(&harness)["timeline"].as_array().unwrap().last().unwrap()["text"], "On my way.");
}

#[test]
fn commands_in_a_mail_whose_reply_to_leaves_the_company_are_not_run() {
    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Ransomware on FS01").id("d@company.test").body("lead me").bytes());
    let hijacked = mail(ALICE, "Re: [INC-1] Ransomware on FS01")
        .id("h@company.test")
        .header("Reply-To", "alice.morgan.ceo@freemail.test")
        .body("close: false alarm\nnotify +attacker@freemail.test\n\nAll fine, stand down.");
    assert_eq!(harness.feed(&hijacked.bytes()).outcome, Outcome::Updated);
    let state = incident(&harness);
    assert_eq!(state["status"], "open", "{state}");
    let transcript = outbox(&harness).into_iter().rev().find(|row| row["kind"] == "transcript").unwrap();
    assert!(transcript["body"].as_str().unwrap().contains("Reply-To"), "{transcript}");
    assert_eq!(transcript["to"][0], "alice@company.test", "told to the staff member, not to the Reply-To");
}

use sitrep::core::triage::Outcome;
use sitrep::inbound;
use sitrep::pipeline::Arrival;

use crate::support::{Harness, fixture, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";

fn declare(harness: &mut Harness) {
    let report = harness.feed(&mail(ALICE, "Payroll phishing").id("decl@company.test").bytes());
    assert_eq!(report.outcome, Outcome::Declared);
}

#[test]
fn a_declaration_opens_an_incident_and_queues_the_ack() {
    let mut harness = Harness::new();
    let report = harness.feed(&fixture("030-declaration-plain.eml"));
    assert_eq!((report.outcome, report.incident.map(|n| n.to_string())), (Outcome::Declared, Some("INC-1".into())));

    let export = harness.export();
    let incident = &export.incidents[0];
    assert_eq!(incident.id, "INC-1");
    assert_eq!(incident.title, "CEO gift card fraud attempt");
    assert_eq!((incident.status, incident.phase, incident.severity), ("open", "detection", None));
    assert_eq!(incident.declared_by, "alice.morgan@company.test");
    assert_eq!(incident.declared_at, "2026-11-27T10:01:00Z");
    assert_eq!(incident.timeline.len(), 1);
    assert_eq!(incident.timeline[0].kind, "declared");
    assert_eq!(incident.timeline[0].trust, "staff");
    assert!(incident.timeline[0].text.starts_with("Several staff received a mail"));

    let [ack] = export.outbox.as_slice() else { panic!("one ack expected: {:?}", export.outbox) };
    assert_eq!(ack.kind, "ack");
    assert_eq!(ack.incident.as_deref(), Some("INC-1"));
    assert_eq!(ack.to, ["alice.morgan@company.test"]);
    assert_eq!(ack.cc, ["ben.carter@company.test"]);
    assert_eq!(ack.subject, "[INC-1] CEO gift card fraud attempt");
    assert_eq!(ack.status, "queued");
    for question in
        ["Who leads?", "What is the scope?", "How often do we update?", "ceo@company.test, cfo@company.test"]
    {
        assert!(ack.body.contains(question), "ack lacks {question:?}:\n{}", ack.body);
    }
    assert!(ack.message_id.starts_with("sitrep.") && ack.message_id.ends_with("@company.test"));
    assert_eq!(export.messages[0].outcome, "declared");
    assert_eq!(export.messages[0].incident.as_deref(), Some("INC-1"));
}

#[test]
fn replies_thread_by_tag_reference_plus_address_and_title() {
    let mut harness = Harness::new();
    declare(&mut harness);
    let ack_id = harness.export().outbox[0].message_id.clone();

    let tagged = mail("bob@company.test", "Re: [INC-1] Payroll phishing").id("u1@company.test");
    // A client that dropped the tag and changed the subject still threads
    // through References, here naming sitrep's own acknowledgement.
    let stripped =
        mail("bob@company.test", "Re: what I found").id("u2@company.test").header("References", &format!("<{ack_id}>"));
    let plus = mail("bob@company.test", "More").id("u3@company.test").header("To", "incident+1@company.test");
    let title = mail("carol@company.test", "Fwd: Payroll phishing").id("u4@company.test");
    for update in [tagged, stripped, plus, title] {
        let report = harness.feed(&update.bytes());
        assert_eq!((report.outcome, report.incident.map(|n| n.0)), (Outcome::Updated, Some(1)));
    }
    let export = harness.export();
    assert_eq!(export.incidents.len(), 1);
    let kinds: Vec<_> = export.incidents[0].timeline.iter().map(|entry| entry.kind).collect();
    assert_eq!(kinds, ["declared", "update", "update", "update", "update"]);

    // A reply to an update (not to sitrep) threads through that update.
    let nested = mail("dave@company.test", "Re: More").header("In-Reply-To", "<u3@company.test>").id("u5@company.test");
    assert_eq!(harness.feed(&nested.bytes()).outcome, Outcome::Updated);
}

#[test]
fn a_title_matching_only_closed_incidents_declares_anew_and_several_ask_which() {
    let mut harness = Harness::new();
    declare(&mut harness);
    let closed = rusqlite::Connection::open(harness.data_dir().join("sitrep.db")).unwrap();
    closed.execute("UPDATE incidents SET status = 'closed' WHERE number = 1", []).unwrap();
    let again = harness.feed(&mail(ALICE, "Payroll phishing").id("again@company.test").bytes());
    assert_eq!((again.outcome, again.incident.map(|n| n.0)), (Outcome::Declared, Some(2)));
    closed.execute("UPDATE incidents SET status = 'open' WHERE number = 1", []).unwrap();
    let ambiguous = harness.feed(&mail(ALICE, "Re: Payroll phishing").id("third@company.test").bytes());
    assert_eq!((ambiguous.outcome, ambiguous.incident), (Outcome::Rejected, None));
    assert!(ambiguous.reason.as_deref().unwrap().contains("INC-1 and INC-2"), "{:?}", ambiguous.reason);
    let notice = harness.outbox().into_iter().last().unwrap();
    assert!(notice["body"].as_str().unwrap().contains("INC-1 and INC-2"), "the sender is asked which one: {notice}");
    assert_eq!(harness.export().incidents.len(), 2, "no third incident");
}

#[test]
fn a_new_mail_or_a_repeated_alert_with_an_open_incident_title_joins_it() {
    let mut harness = Harness::new();
    declare(&mut harness);
    // Written anew, not as a reply, and with the spacing and case changed.
    let fresh = harness.feed(&mail("bob@company.test", "payroll   PHISHING").id("fresh@company.test").bytes());
    assert_eq!((fresh.outcome, fresh.incident.map(|n| n.0)), (Outcome::Updated, Some(1)));
    // A monitoring system repeating its alert subject.
    for (index, minute) in ["10:05", "10:10", "10:15"].into_iter().enumerate() {
        let alert = mail("monitor@company.test", "ALERT: disk full on FS01")
            .id(&format!("alert-{index}@company.test"))
            .body(&format!("Volume D: 99% full at {minute}."));
        let report = harness.feed(&alert.bytes());
        let expected = if index == 0 { (Outcome::Declared, Some(2)) } else { (Outcome::Updated, Some(2)) };
        assert_eq!((report.outcome, report.incident.map(|n| n.0)), expected, "alert {index}");
    }
    assert_eq!(harness.export().incidents.len(), 2);
}

#[test]
fn automatic_mail_is_ignored_without_reply() {
    let mut harness = Harness::new();
    let base = mail(ALICE, "Out of the office");
    let cases = [
        base.clone().header("Auto-Submitted", "auto-replied"),
        base.clone().header("Auto-Submitted", "auto-generated"),
        base.clone().header("Precedence", "bulk"),
        base.clone().header("Precedence", "junk"),
        base.clone().header("Precedence", "list"),
        base.clone().header("Precedence", "auto_reply"),
        base.clone().header("List-Id", "<staff.company.test>"),
        base.clone().header("List-Unsubscribe", "<mailto:leave@company.test>"),
        base.clone().header("X-Autoreply", "yes"),
        base.clone().header("X-Auto-Response-Suppress", "All"),
        base.clone().header("Return-Path", "<>"),
        mail("MAILER-DAEMON@company.test", "Undelivered Mail Returned to Sender"),
        mail(ALICE, "Automatic reply: [INC-1] Payroll phishing"),
        base.clone().header("Content-Type", "multipart/report; report-type=delivery-status; boundary=\"r\"").body(
            "--r\nContent-Type: text/plain\n\nDelivery failed.\n--r\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--r--\n",
        ),
    ];
    for (index, case) in cases.iter().enumerate() {
        let report = harness.feed(&case.clone().id(&format!("auto{index}@company.test")).bytes());
        assert_eq!(report.outcome, Outcome::Ignored, "case {index}: {report:?}");
    }
    let export = harness.export();
    assert!(export.outbox.is_empty() && export.incidents.is_empty());
    assert_eq!(export.messages.len(), cases.len(), "ignored mail is still stored");

    let human = harness.feed(&base.header("Auto-Submitted", "no").id("human@company.test").bytes());
    assert_eq!(human.outcome, Outcome::Declared);
}

#[test]
fn our_own_mail_coming_back_is_ignored() {
    let mut harness = Harness::new();
    declare(&mut harness);
    let ack = std::fs::read_dir(harness.data_dir().join("outbox")).ok();
    assert!(ack.is_none(), "nothing is delivered before the outbox is drained");
    let mut store = sitrep::store::Store::open(&harness.data_dir().join("sitrep.db")).unwrap();
    let pending = store
        .claim_due("2100-01-01T00:00:00Z".parse().unwrap(), jiff::SignedDuration::from_mins(5), 1, |_| false)
        .unwrap();
    let report = harness.feed(&pending[0].raw);
    assert_eq!(report.outcome, Outcome::Ignored);
    assert!(report.reason.unwrap().contains("our own mail"));

    let forged = mail("sitrep <incident@company.test>", "Re: [INC-1] Payroll phishing").id("forged@company.test");
    assert_eq!(harness.feed(&forged.bytes()).outcome, Outcome::Ignored);
    assert_eq!(harness.export().outbox.len(), 1);
}

#[test]
fn outsiders_get_no_reply_by_default() {
    let mut harness = Harness::new();
    let report = harness.feed(&mail("Mallory <mallory@evil.test>", "Invoice overdue").id("o1@evil.test").bytes());
    assert_eq!(report.outcome, Outcome::Rejected);
    assert!(harness.export().outbox.is_empty(), "a reply would confirm that the address is watched");
}

#[test]
fn outsiders_are_refused_and_told_once_a_week_when_configured() {
    let mut harness = Harness::with_config(|text| text.replace("[access]", "[access]\nanswer_refused = true"));
    let outsider = mail("Mallory <mallory@evil.test>", "Invoice overdue");
    let first = harness.feed(&outsider.clone().id("o1@evil.test").bytes());
    assert_eq!(first.outcome, Outcome::Rejected);
    assert!(first.reason.as_deref().unwrap().contains("mallory@evil.test is not an allowed sender"));
    let second = harness.feed(&outsider.clone().id("o2@evil.test").bytes());
    assert_eq!(second.outcome, Outcome::Rejected);
    let auto = harness.feed(&outsider.header("Auto-Submitted", "auto-replied").id("o3@evil.test").bytes());
    assert_eq!(auto.outcome, Outcome::Ignored);

    let export = harness.export();
    let [notice] = export.outbox.as_slice() else { panic!("one notice expected: {:?}", export.outbox) };
    assert_eq!((notice.kind, notice.to.as_slice()), ("notice", ["mallory@evil.test".to_string()].as_slice()));
    assert_eq!(notice.incident, None);
    assert!(notice.body.contains("not an allowed sender"));
    assert!(notice.body.contains("through your usual"), "outsiders get no help with commands");
    assert_eq!(export.messages[0].reason.as_deref(), first.reason.as_deref());

    let listed = harness.feed(&mail("soc@mssp.test", "Alert from the MSSP").id("mssp@mssp.test").bytes());
    assert_eq!(listed.outcome, Outcome::Declared, "staff_addresses are allowed");
}

#[test]
fn a_tag_for_a_missing_incident_is_refused_with_a_reason() {
    let mut harness = Harness::new();
    let report = harness.feed(&mail(ALICE, "Re: [INC-42] Payroll phishing").id("x@company.test").bytes());
    assert_eq!(report.outcome, Outcome::Rejected);
    assert!(report.reason.unwrap().contains("INC-42 does not exist"));
    let notice = &harness.export().outbox[0];
    assert_eq!(notice.kind, "notice");
    assert!(notice.body.contains("keep its [INC-n] tag"), "staff are told how to fix it:\n{}", notice.body);
}

#[test]
fn the_same_message_twice_changes_nothing() {
    let mut harness = Harness::new();
    let declaration = mail(ALICE, "Payroll phishing").id("decl@company.test").bytes();
    harness.feed(&declaration);
    let before = sitrep::export::to_json(&harness.export());
    let again = harness.feed(&declaration);
    assert_eq!((again.outcome, again.stored), (Outcome::Ignored, false));
    assert_eq!(sitrep::export::to_json(&harness.export()), before);

    // Redelivered with another Received header: same Message-ID, new bytes.
    let mut redelivered = b"Received: from relay.company.test\r\n".to_vec();
    redelivered.extend_from_slice(&declaration);
    let report = harness.feed(&redelivered);
    assert_eq!(report.outcome, Outcome::Ignored);
    assert!(report.reason.unwrap().starts_with("duplicate Message-ID"));
    let export = harness.export();
    assert_eq!((export.incidents.len(), export.incidents[0].timeline.len(), export.outbox.len()), (1, 1, 1));

    // Without a Message-ID, identical bytes are the duplicate key.
    let anonymous = mail(ALICE, "No id").bytes();
    assert_eq!(harness.feed(&anonymous).outcome, Outcome::Declared);
    assert!(!harness.feed(&anonymous).stored);
}

#[test]
fn over_limit_mail_is_quarantined_kept_and_the_sender_told() {
    let mut harness = Harness::with_extra_config("\n[limits]\nmax_message_bytes = 4000\n");
    let big = mail(ALICE, "Logs attached").id("big@company.test").body(&"x".repeat(5000));
    let report = harness.feed(&big.bytes());
    assert_eq!(report.outcome, Outcome::Quarantined);
    assert!(report.reason.as_deref().unwrap().contains("over the limit of 4000"));
    let export = harness.export();
    assert_eq!(export.messages[0].outcome, "quarantined");
    assert_eq!(export.messages[0].from.as_deref(), Some("alice@company.test"));
    assert_eq!(export.messages[0].sha256, inbound::sha256_hex(&big.bytes()));
    let [notice] = export.outbox.as_slice() else { panic!("one notice expected") };
    assert_eq!((notice.kind, notice.to[0].as_str()), ("notice", "alice@company.test"));
    assert!(notice.body.contains("could not be processed"));
    let store = sitrep::store::Store::open(&harness.data_dir().join("sitrep.db")).unwrap();
    assert_eq!(store.raw_message(1).unwrap().unwrap(), big.bytes(), "the raw message is kept");

    let garbage = harness.feed(&[0xff; 3000]);
    assert_eq!(garbage.outcome, Outcome::Quarantined);
}

#[test]
fn deep_mime_nesting_is_quarantined() {
    let mut harness = Harness::with_extra_config("\n[limits]\nmax_mime_depth = 3\n");
    let mut body = String::from("Content-Type: text/plain\r\n\r\nbottom\r\n");
    for level in 0..6 {
        body = format!(
            "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n{body}\r\n--b{level}--\r\n"
        );
    }
    let raw = format!(
        "From: {ALICE}\r\nTo: incident@company.test\r\nSubject: nested\r\nMessage-ID: <n@company.test>\r\nMIME-Version: 1.0\r\n{body}"
    );
    let report = harness.feed(raw.as_bytes());
    assert_eq!(report.outcome, Outcome::Quarantined, "{report:?}");
    assert!(report.reason.unwrap().contains("nesting"));
}

#[test]
fn attachments_are_stored_by_hash_not_by_name() {
    let mut harness = Harness::new();
    let raw = fixture("032-declaration-attachment.eml");
    assert_eq!(harness.feed(&raw).outcome, Outcome::Declared);
    let export = harness.export();
    let attachment = &export.messages[0].attachments[0];
    assert_eq!(attachment.name.as_deref(), Some("README_RESTORE.pdf"));
    let stored = harness.data_dir().join("attachments").join(&attachment.sha256);
    let bytes = std::fs::read(&stored).unwrap();
    assert_eq!(inbound::sha256_hex(&bytes), attachment.sha256);
    assert_eq!(bytes.len() as u64, attachment.size);
}

#[test]
fn the_whole_fixture_suite_threads_into_its_incidents() {
    let mut harness = Harness::new();
    let declaration = mail(ALICE, "Ransomware on the file server").id("decl-1@company.test").bytes();
    assert_eq!(harness.feed(&declaration).outcome, Outcome::Declared);
    let mut names: Vec<_> = std::fs::read_dir(crate::support::FIXTURES)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".eml"))
        .collect();
    names.sort();
    for name in &names {
        let raw = fixture(name);
        let parsed = inbound::parse(&raw, &sitrep::config::Limits::default()).unwrap();
        let report = harness.feed(&raw);
        let expected_text =
            std::fs::read_to_string(std::path::Path::new(crate::support::FIXTURES).join(name.replace(".eml", ".txt")))
                .unwrap();
        if parsed.inbound.in_reply_to.is_empty() {
            assert_eq!(report.outcome, Outcome::Declared, "{name}");
        } else if expected_text.trim().is_empty() {
            assert_eq!((report.outcome, report.reason.as_deref()), (Outcome::Ignored, Some("no new text")), "{name}");
        } else {
            assert_eq!((report.outcome, report.incident.map(|n| n.0)), (Outcome::Updated, Some(1)), "{name}");
        }
    }
}

#[test]
fn a_new_store_can_be_opened_by_several_processes_at_once() {
    // The daemon creating its store while `sitrep export` opens it.
    for _ in 0..10 {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("sitrep.db");
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    sitrep::store::Store::open(&path).map(|store| store.incidents().unwrap().len())
                })
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().unwrap().unwrap(), 0);
        }
    }
}

#[test]
fn an_address_seen_carrying_list_mail_is_never_copied_on_an_ack() {
    let mut harness = Harness::new();
    let list_mail = mail("bob@company.test", "Weekly ops notes")
        .header("List-Id", "<ops.company.test>")
        .header("List-Post", "<mailto:ops@company.test>")
        .header("To", "ops@company.test")
        .id("list-1@company.test");
    assert_eq!(harness.feed(&list_mail.bytes()).outcome, Outcome::Ignored);
    let declaration =
        mail(ALICE, "Laptop stolen").header("Cc", "ops@company.test, bob@company.test").id("d@company.test");
    assert_eq!(harness.feed(&declaration.bytes()).outcome, Outcome::Declared);
    let ack = harness.outbox().into_iter().find(|row| row["kind"] == "ack").unwrap();
    assert_eq!(ack["cc"], serde_json::json!(["bob@company.test"]), "the list must not be copied");
}

#[test]
fn a_malformed_address_never_stops_the_next_message() {
    let mut harness = Harness::with_extra_config("\n[limits]\ndeclarations_per_sender_per_hour = 100\n");
    let malformed = [
        "jack.:urner@company.test",
        "alice morgan@company.test",
        "alice..morgan@company.test",
        ".alice@company.test",
        "a@b.tes@company.test",
    ];
    for (index, address) in malformed.iter().enumerate() {
        for header in ["From", "To", "Cc"] {
            let id = format!("bad-{index}-{header}@company.test");
            let mut bad = mail(ALICE, &format!("Odd address {index} in {header}")).id(&id);
            bad = match header {
                "From" => mail(&format!("<{address}>"), &format!("Odd address {index}")).id(&id),
                _ => bad.header(header, &format!("bob@company.test, <{address}>")),
            };
            let report = harness.feed(&bad.bytes());
            assert!(report.stored, "{address} in {header}: {report:?}");
            let next = mail(ALICE, &format!("Genuine after {index} {header}"))
                .id(&format!("ok-{index}-{header}@company.test"));
            assert_eq!(harness.feed(&next.bytes()).outcome, Outcome::Declared, "after {address} in {header}");
        }
    }
    let outbox = harness.outbox();
    let failed: Vec<_> = outbox.iter().filter(|row| row["status"] == "failed").collect();
    assert!(
        failed.iter().all(|row| row["last_error"].as_str().is_some_and(|error| !error.is_empty())),
        "every mail left unsent says why: {failed:#?}"
    );
    let acks_to_alice =
        outbox.iter().filter(|row| row["kind"] == "ack" && row["to"][0] == "alice@company.test").count();
    assert_eq!(
        acks_to_alice,
        2 * malformed.len() * 3 - malformed.len(),
        "every genuine declaration and every bad To/Cc one is answered"
    );
}

#[test]
fn controls_and_bidi_overrides_never_reach_what_sitrep_writes() {
    use base64::Engine;
    let mut harness = Harness::new();
    let hostile = "Invoice \u{202E}fdp.exe\u{1b}[2J\u{7}";
    let encoded = base64::engine::general_purpose::STANDARD.encode(hostile);
    let declaration = mail(ALICE, &format!("=?utf-8?B?{encoded}?="))
        .id("bidi@company.test")
        .body("Attachment arrived as Invoice \u{202E}fdp.exe from \u{1b}]0;owned\u{7} the vendor.");
    assert_eq!(harness.feed(&declaration.bytes()).outcome, Outcome::Declared);
    let state = serde_json::to_value(&harness.export().incidents[0]).unwrap();
    assert_eq!(state["title"], "Invoice fdp.exe[2J");
    let ack = harness.outbox().into_iter().find(|row| row["kind"] == "ack").unwrap();
    for written in [&state["timeline"][0]["text"], &ack["subject"], &ack["body"]] {
        let text = written.as_str().unwrap();
        assert!(!text.contains(['\u{202E}', '\u{1b}', '\u{7}']), "echoed: {text:?}");
    }
}

#[test]
fn a_storm_from_one_sender_is_braked_and_another_sender_is_still_answered() {
    let mut harness = Harness::new();
    let mut declared = 0;
    for index in 0..30 {
        let storm = mail("bot@company.test", &format!("Alert {index}")).id(&format!("storm-{index}@company.test"));
        if harness.feed(&storm.bytes()).outcome == Outcome::Declared {
            declared += 1;
        }
    }
    assert_eq!(declared, 10, "ten new incidents an hour from one sender");
    let notices = harness.outbox().into_iter().filter(|row| row["kind"] == "notice").count();
    assert_eq!(notices, 1, "the sender is told once, not once per mail");

    let genuine = harness.feed(&mail(ALICE, "Laptop stolen at the airport").id("genuine@company.test").bytes());
    assert_eq!(genuine.outcome, Outcome::Declared);
    let acked = harness.outbox().iter().any(|row| row["kind"] == "ack" && row["to"][0] == "alice@company.test");
    assert!(acked, "a genuine declaration during a storm is acknowledged");

    // An hour later the sender may declare again.
    for minute in 0..60 {
        harness.feed(
            &mail(ALICE, "Re: [INC-11] Laptop stolen at the airport")
                .id(&format!("later-{minute}@company.test"))
                .bytes(),
        );
    }
    let after = harness.feed(&mail("bot@company.test", "Alert after the hour").id("after@company.test").bytes());
    assert_eq!(after.outcome, Outcome::Declared);
}

#[test]
fn a_message_sitrep_cannot_process_is_quarantined_not_retried_forever() {
    let directory = tempfile::tempdir().unwrap();
    let templates = directory.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    // Load, and fail on the first real acknowledgement and on the notice
    // that would tell the sender.
    std::fs::write(templates.join("ack.txt.tera"), "{{ no_such_value.field }}").unwrap();
    std::fs::write(templates.join("quarantined.txt.tera"), "{{ no_such_value.field }}").unwrap();
    let mut harness = Harness::with_config(|text| {
        text.replace("staff_addresses = [", "admins = [\"admin@company.test\"]\nstaff_addresses = [")
            + &format!("\n[templates]\ndir = \"{}\"\n", templates.display())
    });
    let first = harness.feed(&mail(ALICE, "Phishing wave").id("p1@company.test").bytes());
    assert_eq!(first.outcome, Outcome::Quarantined, "{first:?}");
    assert!(first.reason.as_deref().unwrap().contains("could not process"), "{first:?}");
    let export = harness.export();
    assert_eq!(export.messages.len(), 1, "stored, with its outcome");
    assert!(export.incidents.is_empty(), "nothing half-done is kept");
    let next = harness
        .feed(&mail(ALICE, "Re: Phishing wave").id("p2@company.test").header("Auto-Submitted", "auto-replied").bytes());
    assert_eq!(next.outcome, Outcome::Ignored, "the next message is processed");
    let again = harness.feed(&mail(ALICE, "Second phishing wave").id("p3@company.test").bytes());
    assert_eq!(again.outcome, Outcome::Quarantined, "{again:?}");

    let outbox = harness.outbox();
    let to_admin: Vec<_> = outbox.iter().filter(|row| row["to"][0] == "admin@company.test").collect();
    assert_eq!(to_admin.len(), 1, "the admin is told once, not per message: {outbox:#?}");
    assert!(to_admin[0]["body"].as_str().unwrap().contains("no_such_value"), "{:#?}", to_admin[0]);
    assert!(outbox.iter().all(|row| row["to"][0] != "alice@company.test"), "the failing notice is not sent");
}

/// Parallel delivery can hand over a reply before the mail it answers: the
/// reply opens the incident, and the declaration, when it comes, joins it
/// instead of opening a second one (its subject differs, so the title does
/// not tie them).
#[test]
fn a_declaration_overtaken_by_its_reply_joins_the_incident_the_reply_opened() {
    let mut harness = Harness::new();
    let reply = mail("Bob Lee <bob@company.test>", "Re: Payroll phishing")
        .id("reply@company.test")
        .header("In-Reply-To", "<decl@company.test>")
        .header("References", "<decl@company.test>")
        .body("I clicked it too.");
    assert_eq!(harness.feed(&reply.bytes()).outcome, Outcome::Declared);
    let declaration = mail(ALICE, "Phishing mail about payroll!").id("decl@company.test").body("It asks for logins.");
    let report = harness.feed(&declaration.bytes());
    assert_eq!((report.outcome, report.incident.map(|n| n.to_string())), (Outcome::Updated, Some("INC-1".into())));
    let later = mail("Carol <carol@company.test>", "Re: Phishing mail about payroll!")
        .id("later@company.test")
        .header("In-Reply-To", "<decl@company.test>")
        .body("Blocked the sender.");
    assert_eq!(harness.feed(&later.bytes()).incident.map(|n| n.to_string()), Some("INC-1".into()));

    let export = harness.export();
    assert_eq!(export.incidents.len(), 1, "one incident for one thread");
    let texts: Vec<&str> = export.incidents[0].timeline.iter().map(|entry| entry.text.as_str()).collect();
    assert_eq!(texts, ["I clicked it too.", "It asks for logins.", "Blocked the sender."]);
}

/// A backlog shares commits; a message that fails inside a batch is undone
/// and handled alone (here quarantined), and costs the others nothing.
#[test]
fn a_poison_message_in_a_batch_is_handled_alone_and_the_rest_commit_together() {
    let directory = tempfile::tempdir().unwrap();
    let templates = directory.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("ack.txt.tera"),
        "{% if \"Poison\" in title %}{{ no_such_value.field }}{% endif %}{{ incident }} is open: {{ title }}",
    )
    .unwrap();
    let mut harness = Harness::with_extra_config(&format!("\n[templates]\ndir = \"{}\"\n", templates.display()));
    let titles = ["Phishing wave", "Poison pill", "VPN logins", "Lost laptop"];
    let messages: Vec<Vec<u8>> = titles
        .iter()
        .enumerate()
        .map(|(index, title)| mail(ALICE, title).id(&format!("b{index}@company.test")).bytes())
        .collect();
    let waiting: Vec<(&[u8], Arrival<'_>)> = messages
        .iter()
        .map(|raw| (raw.as_slice(), Arrival { source: "test", position: None, size_over_limit: None, fallback: false }))
        .collect();
    let mut reports = Vec::new();
    while reports.len() < waiting.len() {
        let rest = &waiting[reports.len()..];
        reports.extend(harness.pipeline.ingest_batch(&mut harness.store, rest, harness.now).unwrap());
    }
    let outcomes: Vec<Outcome> = reports.iter().map(|report| report.outcome).collect();
    assert_eq!(outcomes, [Outcome::Declared, Outcome::Quarantined, Outcome::Declared, Outcome::Declared]);
    let export = harness.export();
    let declared: Vec<&str> = export.incidents.iter().map(|incident| incident.title.as_str()).collect();
    assert_eq!(declared, ["Phishing wave", "VPN logins", "Lost laptop"]);
    assert_eq!(export.messages.len(), 4, "every message is stored, the poison one too");

    // Given again, they are identical bytes: nothing changes.
    let again = harness.pipeline.ingest_batch(&mut harness.store, &waiting, harness.now).unwrap();
    assert!(!again.is_empty() && again.iter().all(|report| !report.stored), "{again:?}");
    assert_eq!(harness.export().incidents.len(), 3);
}

/// A message that fails inside a batch ends it: those after it wait, so an
/// IMAP folder's cursor never passes a message that was not committed.
#[test]
fn a_batch_stops_at_a_failing_message_and_the_cursor_stays_below_it() {
    let mut harness = Harness::new();
    let with_attachment = "From: Alice Morgan <alice@company.test>\r\nTo: incident@company.test\r\n\
        Subject: Ransom note\r\nMessage-ID: <a@company.test>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the note.\r\n\
        --b\r\nContent-Type: text/plain; name=note.txt\r\nContent-Disposition: attachment; filename=note.txt\r\n\r\n\
        PAY US\r\n--b--\r\n";
    let plain = mail(ALICE, "VPN logins").id("b@company.test").bytes();
    // Attachments cannot be written: a file stands where their folder goes.
    std::fs::create_dir_all(harness.data_dir()).unwrap();
    std::fs::write(harness.data_dir().join("attachments"), "in the way").unwrap();
    let position = |uid| sitrep::store::MailboxPosition { mailbox: "INBOX".into(), uid_validity: 7, uid };
    let arrival =
        |uid| Arrival { source: "imap", position: Some(position(uid)), size_over_limit: None, fallback: false };
    let waiting = [(with_attachment.as_bytes(), arrival(1)), (plain.as_slice(), arrival(2))];
    assert!(harness.pipeline.ingest_batch(&mut harness.store, &waiting, harness.now).is_err());
    assert_eq!(harness.store.mailbox_cursor("INBOX").unwrap(), None, "nothing passed the failing message");

    std::fs::remove_file(harness.data_dir().join("attachments")).unwrap();
    let mut taken = 0;
    while taken < waiting.len() {
        taken += harness.pipeline.ingest_batch(&mut harness.store, &waiting[taken..], harness.now).unwrap().len();
    }
    assert_eq!(harness.store.mailbox_cursor("INBOX").unwrap(), Some((7, 2)));
    assert_eq!(harness.export().incidents.len(), 2);
}

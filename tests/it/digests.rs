use jiff::{SignedDuration, Timestamp};
use sitrep::scheduler;

use crate::support::{Harness, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";
const BOB: &str = "Bob Lee <bob@company.test>";
const VENDOR: &str = "Vera Vendor <vera@vendor.test>";

fn reply(from: &str, body: &str, id: &str) -> Vec<u8> {
    mail(from, "Re: [INC-1] Ransomware on FS01").id(id).body(body).bytes()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn outbox(harness: &Harness) -> Vec<serde_json::Value> {
    harness.outbox()
}

fn of_kind(harness: &Harness, kind: &str) -> Vec<serde_json::Value> {
    outbox(harness).into_iter().filter(|row| row["kind"] == kind).collect()
}

fn tick(harness: &mut Harness, time: &str) -> scheduler::TickReport {
    scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, at(time)).unwrap()
}

/// Declared by Alice at 10:01 with severity high and a lead; the vendor and
/// Bob are on Cc.
fn declared(harness: &mut Harness) {
    let declaration = mail(ALICE, "Ransomware on FS01 [sev high; lead me]")
        .id("d@company.test")
        .header("Cc", "bob@company.test, vera@vendor.test")
        .body("scope FS01 and the finance share\n\nFiles on FS01 end in .locked.");
    harness.feed(&declaration.bytes());
}

#[test]
fn each_executive_gets_an_own_copy_with_text_and_html_and_only_internal_news() {
    let mut harness = Harness::new();
    declared(&mut harness);
    harness.feed(&reply(BOB, "Isolated FS01 from the network.", "b1@company.test"));
    harness.feed(&reply(BOB, "note the CFO clicked the link too", "b2@company.test"));
    harness.feed(&reply(VENDOR, "We can decrypt this for a fee!", "v1@vendor.test"));
    assert!(of_kind(&harness, "digest").is_empty(), "nothing before the cadence");

    let report = tick(&mut harness, "2026-11-27T11:01:00Z");
    assert_eq!(report.incidents, 1);
    let digests = of_kind(&harness, "digest");
    let recipients: Vec<&str> = digests.iter().map(|row| row["to"][0].as_str().unwrap()).collect();
    assert_eq!(recipients, ["ceo@company.test", "cfo@company.test"]);
    for digest in &digests {
        assert_eq!(digest["to"].as_array().unwrap().len(), 1, "nobody sees the list");
        assert_eq!(digest["cc"], serde_json::json!([]));
        assert_eq!(digest["subject"], "[INC-1] Status 1: high · detection · Ransomware on FS01");
        let body = digest["body"].as_str().unwrap();
        assert!(body.contains("Isolated FS01 from the network."), "{body}");
        assert!(!body.contains("CFO clicked") && !body.contains("decrypt"), "{body}");
        assert!(body.contains("Scope:    FS01 and the finance share"), "{body}");
        assert!(body.contains("Next update: 2026-11-27 12:01 UTC."), "{body}");
        for stream in ["technical", "internal-comms", "external-comms", "legal"] {
            assert!(body.contains(&format!("- {stream}: no update yet")), "{stream} missing in {body}");
        }
    }
    let everyone: Vec<String> = outbox(&harness)
        .iter()
        .filter(|row| row["kind"] == "digest" || row["kind"] == "tactical")
        .flat_map(|row| row["to"].as_array().unwrap().iter().map(|value| value.as_str().unwrap().to_string()))
        .collect();
    assert!(!everyone.iter().any(|address| address.ends_with("vendor.test")), "{everyone:?}");

    let store_raw = raw_of(&harness, digests[0]["message_id"].as_str().unwrap());
    assert!(store_raw.contains("multipart/alternative") && store_raw.contains("text/html"), "{store_raw}");
    assert!(store_raw.contains("References: <"), "threaded into the incident");
    assert!(store_raw.contains("Auto-Submitted: auto-generated"));
}

/// The raw bytes of an outbox row, delivered through the file transport.
fn raw_of(harness: &Harness, message_id: &str) -> String {
    let config = harness.pipeline.config();
    let mut sender = sitrep::outbox::Sender::new(&config.transport, config.first_retry).unwrap();
    let mut store = sitrep::store::Store::open(&config.database_path()).unwrap();
    sender.drain(&mut store, at("2026-12-31T00:00:00Z")).unwrap();
    for entry in std::fs::read_dir(harness.data_dir().join("outbox")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        if text.contains(message_id) {
            return text;
        }
    }
    panic!("{message_id} was not delivered");
}

#[test]
fn responders_get_the_tactical_digest_with_needs_and_tasks() {
    let mut harness = Harness::new();
    declared(&mut harness);
    harness.feed(&reply(BOB, "task call the insurer due 17:00\nCalling around.", "b1@company.test"));
    harness.feed(&reply(VENDOR, "Happy to help.", "v1@vendor.test"));
    tick(&mut harness, "2026-11-27T11:01:00Z");
    let tactical = of_kind(&harness, "tactical");
    let recipients: Vec<&str> = tactical.iter().map(|row| row["to"][0].as_str().unwrap()).collect();
    assert_eq!(recipients, ["alice@company.test", "bob@company.test"]);
    let body = tactical[0]["body"].as_str().unwrap();
    assert_eq!(tactical[0]["subject"], "[INC-1] Responders 1: high · detection · Ransomware on FS01");
    assert!(body.contains("An owner for task 1: call the insurer."), "{body}");
    assert!(body.contains("1. call the insurer, nobody yet, due 2026-11-27 17:00 UTC"), "{body}");
}

#[test]
fn after_downtime_one_overdue_digest_goes_out_then_the_cadence_resumes() {
    let mut harness = Harness::new();
    declared(&mut harness);
    tick(&mut harness, "2026-11-27T11:01:00Z");
    // Down from 11:02 to 15:30: four digests missed.
    tick(&mut harness, "2026-11-27T15:30:00Z");
    tick(&mut harness, "2026-11-27T15:31:00Z");
    let subjects: Vec<String> =
        of_kind(&harness, "digest").iter().map(|row| row["subject"].as_str().unwrap().to_string()).collect();
    assert_eq!(subjects.len(), 4, "two rounds of two executives: {subjects:?}");
    assert!(subjects[2].contains("Status 2:"), "{subjects:?}");
    let last = of_kind(&harness, "digest").pop().unwrap();
    assert!(last["body"].as_str().unwrap().contains("Next update: 2026-11-27 16:30 UTC."), "{}", last["body"]);
    // First comes the reminder that nothing new was posted since 15:30.
    assert_eq!(harness.store.next_scheduled().unwrap(), Some(at("2026-11-27T16:20:00Z")));
}

#[test]
fn severity_and_cadence_commands_move_the_schedule() {
    let mut harness = Harness::new();
    declared(&mut harness);
    harness.now = at("2026-11-27T10:09:00Z");
    harness.feed(&reply(ALICE, "sev critical", "a1@company.test"));
    assert_eq!(tick(&mut harness, "2026-11-27T10:30:00Z").queued, 0);
    tick(&mut harness, "2026-11-27T10:31:00Z");
    assert_eq!(of_kind(&harness, "digest").len(), 2, "critical: 30 minutes after the declaration");
    harness.now = at("2026-11-27T10:39:00Z");
    harness.feed(&reply(ALICE, "cadence off", "a2@company.test"));
    assert_eq!(tick(&mut harness, "2026-11-27T13:00:00Z").queued, 0);
    harness.feed(&reply(BOB, "digest now", "b1@company.test"));
    assert_eq!(of_kind(&harness, "digest").len(), 4, "`digest now` answers in the same transaction");
    let transcript = of_kind(&harness, "transcript").pop().unwrap();
    assert!(transcript["body"].as_str().unwrap().contains("A digest goes to the executives now."));
}

#[test]
fn closing_sends_one_final_digest_and_then_nothing() {
    let mut harness = Harness::new();
    declared(&mut harness);
    harness.feed(&reply(ALICE, "contained", "a1@company.test"));
    harness.feed(&reply(ALICE, "close: restored from backup", "a2@company.test"));
    let finals = of_kind(&harness, "digest");
    assert_eq!(finals.len(), 2);
    let body = finals[0]["body"].as_str().unwrap();
    assert!(finals[0]["subject"].as_str().unwrap().contains("Status 1: high · closed ·"), "{}", finals[0]["subject"]);
    assert!(body.contains("INC-1 is closed: restored from backup."), "{body}");
    assert!(body.contains("Durations:") && body.contains("to contain"), "{body}");
    assert!(!body.contains("Next update"), "{body}");
    assert_eq!(tick(&mut harness, "2026-11-28T10:00:00Z").queued, 0);
    assert_eq!(of_kind(&harness, "digest").len(), 2);
}

#[test]
fn reminders_go_to_the_declarer_until_a_lead_answers_and_are_capped() {
    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Odd logins on the VPN").id("d@company.test").bytes());
    let mut now = at("2026-11-27T10:01:00Z");
    while now <= at("2026-11-27T11:40:00Z") {
        tick(&mut harness, &now.to_string());
        now += SignedDuration::from_mins(1);
    }
    let reminders = of_kind(&harness, "reminder");
    let subjects: Vec<&str> = reminders.iter().map(|row| row["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.iter().filter(|subject| subject.ends_with("no lead yet")).count(), 3, "{subjects:?}");
    assert_eq!(subjects.iter().filter(|subject| subject.ends_with("scope is still unknown")).count(), 3);
    assert!(reminders.iter().all(|row| row["to"] == serde_json::json!(["alice@company.test"])));

    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Odd logins on the VPN").id("d@company.test").bytes());
    tick(&mut harness, "2026-11-27T10:11:00Z");
    harness.now = at("2026-11-27T10:12:00Z");
    harness.feed(&mail(BOB, "Re: [INC-1] Odd logins on the VPN").id("b1@company.test").body("lead me").bytes());
    tick(&mut harness, "2026-11-27T10:30:00Z");
    let leads = of_kind(&harness, "reminder")
        .iter()
        .filter(|row| row["subject"].as_str().unwrap().ends_with("no lead yet"))
        .count();
    assert_eq!(leads, 1, "answered after the first");
}

#[test]
fn a_notification_clock_is_shown_in_the_digest_and_reminds_the_lead_and_legal() {
    let mut harness = Harness::with_extra_config(
        r#"
[[regimes]]
name = "gdpr"
title = "GDPR"
reminders = [50]
[[regimes.deadlines]]
what = "notify the supervisory authority"
within = "72h"
"#,
    );
    declared(&mut harness);
    harness.feed(&reply(ALICE, "regime gdpr\nrole legal carol@company.test", "a1@company.test"));
    tick(&mut harness, "2026-11-27T11:01:00Z");
    let body = of_kind(&harness, "digest")[0]["body"].as_str().unwrap().to_string();
    assert!(body.contains("GDPR: notify the supervisory authority, by 2026-11-30 10:01 UTC: 2 d 23 h left"), "{body}");
    tick(&mut harness, "2026-11-28T22:01:00Z");
    let reminders: Vec<serde_json::Value> = of_kind(&harness, "reminder")
        .into_iter()
        .filter(|row| row["subject"].as_str().unwrap().contains("GDPR"))
        .collect();
    let recipients: Vec<&str> = reminders.iter().map(|row| row["to"][0].as_str().unwrap()).collect();
    assert_eq!(recipients, ["alice@company.test", "carol@company.test"]);
    assert!(reminders[0]["body"].as_str().unwrap().contains("notified gdpr"));
    // Overdue: shown as such.
    tick(&mut harness, "2026-11-30T12:00:00Z");
    let last = of_kind(&harness, "digest").pop().unwrap();
    assert!(last["body"].as_str().unwrap().contains("OVERDUE, overdue by 1 h 59 min"), "{}", last["body"]);
}

#[test]
fn incidents_open_in_a_store_from_before_digests_get_one_at_the_first_tick() {
    let harness = Harness::new();
    let path = harness.pipeline.config().database_path();
    drop(harness.store);
    std::fs::remove_file(&path).unwrap();
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(include_str!("../../src/store/schema.sql")).unwrap();
    old.execute_batch(
        "INSERT INTO incidents (number, title, title_key, status, phase, declared_by, declared_at, thread_root)
         VALUES (1, 'Old one', 'old one', 'open', 'detection', 'alice@company.test', '2026-11-20T10:00:00Z', 'r@x'),
                (2, 'Done', 'done', 'closed', 'post-incident', 'alice@company.test', '2026-11-20T10:00:00Z', 'q@x');
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(old);
    let mut store = sitrep::store::Store::open(&path).unwrap();
    let report = scheduler::tick(harness.pipeline.outgoing(), &mut store, Timestamp::now()).unwrap();
    assert_eq!(report.incidents, 1, "only the open one");
    let digests: Vec<_> = store.outbox().unwrap().into_iter().filter(|row| row.kind.as_str() == "digest").collect();
    assert_eq!(digests.len(), 2);
    assert!(digests[0].subject.starts_with("[INC-1] Status 1: unassessed"), "{}", digests[0].subject);
}

#[test]
fn a_digest_that_cannot_be_rendered_is_retried_a_minute_later_not_every_tick() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(templates.path().join("digest.txt.tera"), "{{ no_such_value.at_all }}").unwrap();
    let mut harness = Harness::with_extra_config(&format!("\n[templates]\ndir = \"{}\"\n", templates.path().display()));
    declared(&mut harness);
    let report = tick(&mut harness, "2026-11-27T11:01:00Z");
    assert_eq!((report.failed, report.queued), (1, 0));
    assert_eq!(harness.store.next_scheduled().unwrap(), Some(at("2026-11-27T11:02:00Z")));
    assert_eq!(tick(&mut harness, "2026-11-27T11:01:30Z").failed, 0, "not looked at again within the minute");
    assert_eq!(tick(&mut harness, "2026-11-27T11:02:00Z").failed, 1);
}

/// 200 declarations from one sender in a few minutes (the declaration
/// brakes lifted), then a genuine one from someone else: the second sender
/// is answered, and over three simulated hours no executive gets more than
/// the cap in any hour, yet every incident reaches them.
#[test]
fn in_a_storm_each_executive_gets_at_most_the_capped_digests_an_hour_and_hears_of_every_incident() {
    let mut harness = Harness::with_extra_config(
        "\n[limits]\ndeclarations_per_sender_per_hour = 1000\ndeclarations_per_hour = 1000\n",
    );
    let start = at("2026-11-27T10:00:00Z");
    for index in 0..200 {
        let declaration = mail("Monitor <monitor@company.test>", &format!("Disk alert {index}"))
            .id(&format!("alert{index}@company.test"))
            .body("Disk usage above 95%.");
        let now = start + SignedDuration::from_secs(index);
        harness.pipeline.ingest(&mut harness.store, &declaration.bytes(), "test", now).unwrap();
    }
    let genuine =
        mail(ALICE, "Ransomware on FS01 [sev critical]").id("genuine@company.test").body("Files are encrypted.");
    harness
        .pipeline
        .ingest(&mut harness.store, &genuine.bytes(), "test", start + SignedDuration::from_mins(4))
        .unwrap();
    let acks = of_kind(&harness, "ack");
    assert!(acks.iter().any(|ack| ack["to"][0] == "alice@company.test"), "the genuine declarer is answered");

    for minute in 0..=180 {
        let now = start + SignedDuration::from_mins(minute);
        scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, now).unwrap();
    }
    for executive in ["ceo@company.test", "cfo@company.test"] {
        let digests: Vec<serde_json::Value> =
            of_kind(&harness, "digest").into_iter().filter(|row| row["to"][0] == executive).collect();
        let times: Vec<Timestamp> = digests.iter().map(|row| at(row["created_at"].as_str().unwrap())).collect();
        for (index, first) in times.iter().enumerate() {
            let within_hour =
                times[index..].iter().take_while(|later| **later < *first + SignedDuration::from_hours(1));
            assert!(within_hour.count() <= 6, "{executive}: more than 6 digests in the hour from {first}: {times:?}");
        }
        for number in 1..=201 {
            let id = format!("INC-{number}");
            let heard = digests.iter().any(|row| {
                row["incident"] == id.as_str() || row["body"].as_str().unwrap().contains(&format!("== {id}: "))
            });
            assert!(heard, "{executive} never heard of {id}");
        }
        let combined = digests.iter().find(|row| row["incident"].is_null()).expect("a combined digest");
        assert!(
            combined["subject"].as_str().unwrap().starts_with("Status of ")
                && combined["subject"].as_str().unwrap().contains("1 critical"),
            "{combined}"
        );
        let body = combined["body"].as_str().unwrap();
        assert!(body.contains("You get at most 6 status\nmails an hour"), "{body}");
        let first = body.lines().find(|line| line.starts_with("== INC-"));
        assert_eq!(first, Some("== INC-201: Ransomware on FS01 =="), "the most severe comes first");
    }
}

/// The words of a command's outcome come from one template: rewording it
/// (here into German) changes the sender's answer and the executives'
/// digest alike, also for a command stored before the digest is written.
#[test]
fn one_outcome_template_words_the_answer_and_the_digest() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("outcome.txt.tera"),
        "{% if refused %}Nicht ausgeführt.{% elif done.kind == \"severity_set\" %}\
         {% if voice == \"digest\" %}Schweregrad auf {{ done.severity }} gesetzt\
         {% else %}Schweregrad ist jetzt {{ done.severity }}.{% endif %}\
         {% else %}{{ done.kind }}{% endif %}",
    )
    .unwrap();
    let mut harness = crate::support::Harness::with_extra_config(&format!(
        "\n[templates]\ndir = \"{}\"\n",
        templates.path().display()
    ));
    declared(&mut harness);
    harness.feed(&reply(BOB, "sev critical", "b1@company.test"));
    let answer = of_kind(&harness, "transcript").pop().expect("Bob's answer");
    assert!(answer["body"].as_str().unwrap().contains("Schweregrad ist jetzt critical."), "{answer}");

    tick(&mut harness, "2026-11-27T11:01:00Z");
    let digest = of_kind(&harness, "digest").pop().expect("a digest");
    let body = digest["body"].as_str().unwrap();
    assert!(body.contains("· Schweregrad auf critical gesetzt"), "{body}");
    assert!(!body.contains("Severity set to"), "{body}");
}

/// Executives read what changed, never the commands people typed: in the
/// text and in the HTML of every executive digest of a scripted incident.
#[test]
fn no_executive_digest_shows_a_command_as_typed() {
    let mut harness = Harness::new();
    declared(&mut harness);
    let typed = [
        "sev critical",
        "task rotate svc-backup password @me due 08:00",
        "stream technical lead bob@company.test",
        "stream technical restoring FS02",
        "done 1",
        "phase containment",
        "impact invoices cannot be paid today",
    ];
    harness.feed(&reply(ALICE, &typed[..3].join("\n"), "a1@company.test"));
    harness.feed(&reply(BOB, &format!("Backups are clean.\n\n{}", typed[3..].join("\n")), "b1@company.test"));
    tick(&mut harness, "2026-11-27T11:01:00Z");
    let digests = of_kind(&harness, "digest");
    assert!(!digests.is_empty());
    for digest in &digests {
        let text = digest["body"].as_str().unwrap();
        let raw = raw_of(&harness, digest["message_id"].as_str().unwrap());
        let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        let html = parsed.body_html(0).expect("an HTML alternative").into_owned();
        for line in typed {
            assert!(!text.contains(line) && !html.contains(line), "`{line}` as typed in {text}");
        }
        for said in [
            "Severity raised to critical",
            "New task: rotate svc-backup password, for alice@company.test, due 2026-11-28 08:00",
            "bob@company.test leads the technical stream",
            "Task 1 done: rotate svc-backup password",
            "Phase: containment",
        ] {
            assert!(text.contains(said) && html.contains(said), "`{said}` missing from {text}");
        }
    }
}

/// The responders' digest asks again, every time, whether the scope, the
/// lead and the cadence still hold; the executives are told when the scope
/// changed.
#[test]
fn responders_are_asked_again_about_scope_lead_and_cadence() {
    let mut harness = Harness::new();
    declared(&mut harness);
    harness.now = at("2026-11-27T10:40:00Z");
    harness.feed(&reply(BOB, "scope FS01, the finance share and two laptops", "b1@company.test"));
    tick(&mut harness, "2026-11-27T11:01:00Z");
    let responders = of_kind(&harness, "tactical");
    let body = responders[0]["body"].as_str().unwrap();
    let (_, asked) = body.split_once("Still right? Asked again").unwrap_or_else(|| panic!("no questions in {body}"));
    assert!(
        asked.contains("- Scope: \"FS01, the finance share and two laptops\", set 20 min ago by bob@company.test."),
        "{asked}"
    );
    assert!(asked.contains("- Lead: alice@company.test, for 1 h."), "{asked}");
    assert!(asked.contains("- Cadence: the executives hear every 1 h, set by the severity."), "{asked}");
    let first = of_kind(&harness, "digest").pop().unwrap();
    let body = first["body"].as_str().unwrap();
    assert!(body.contains("Scope:    FS01, the finance share and two laptops\n"), "nothing earlier to change: {body}");
    assert!(!body.contains("Still right?"), "executives are not asked: {body}");

    harness.now = at("2026-11-27T11:30:00Z");
    harness.feed(&reply(BOB, "scope FS01 only; the laptops were clean", "b2@company.test"));
    tick(&mut harness, "2026-11-27T12:02:00Z");
    let second = of_kind(&harness, "digest").pop().unwrap();
    let body = second["body"].as_str().unwrap();
    assert!(body.contains("Scope:    FS01 only; the laptops were clean (changed since the last update)"), "{body}");
}

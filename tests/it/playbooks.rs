use jiff::Timestamp;
use sitrep::scheduler;

use crate::support::{Harness, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";
const BOB: &str = "Bob Lee <bob@company.test>";

/// The test configuration with type suggestions on, as shipped.
fn suggesting() -> Harness {
    Harness::with_config(|text| text.replace("suggest = false", "suggest = true"))
}

fn of_kind(harness: &Harness, kind: &str) -> Vec<serde_json::Value> {
    harness.outbox().into_iter().filter(|row| row["kind"] == kind).collect()
}

fn incident(harness: &Harness) -> serde_json::Value {
    serde_json::to_value(&harness.export().incidents[0]).unwrap()
}

#[test]
fn a_ransomware_declaration_gets_its_type_and_first_hour_tasks_in_the_ack() {
    let mut harness = suggesting();
    let declaration = mail(ALICE, "File server: every file ends in .locked")
        .id("d@company.test")
        .body("There is a ransom note in every folder and the backups look encrypted too.");
    harness.feed(&declaration.bytes());
    let state = incident(&harness);
    assert_eq!(state["type"], "ransomware");
    let tasks = state["tasks"].as_array().unwrap();
    assert!(tasks.len() >= 5 && tasks.iter().all(|task| task["playbook"] == "ransomware"), "{tasks:#?}");
    assert!(tasks.iter().all(|task| task["due"].is_string()), "every step has a deadline");
    assert_eq!(state["timeline"][1]["text"], "type ransomware");
    assert_eq!(state["timeline"][1]["outcome"]["suggested"], true);

    let ack = of_kind(&harness, "ack").pop().unwrap();
    let body = ack["body"].as_str().unwrap();
    assert!(body.contains("This looks like: Ransomware"), "{body}");
    assert!(body.contains("reply `type` and one of"), "{body}");
    assert!(!body.contains("Commands in your mail"), "the suggestion is not the sender's command: {body}");
    let first = tasks[0]["text"].as_str().unwrap();
    assert!(body.contains(&format!("  1. {first}.")), "the first step, numbered as its task: {body}");
    assert!(body.contains("role technical <name>") || body.contains("`lead <name>`"), "who it falls to: {body}");
}

#[test]
fn a_type_in_the_subject_wins_and_a_new_type_drops_the_old_open_steps() {
    let mut harness = suggesting();
    let declaration = mail(ALICE, "Odd mail asking for a fake invoice payment #phishing").id("d@company.test");
    harness.feed(&declaration.bytes());
    let state = incident(&harness);
    assert_eq!(state["type"], "phishing", "the sender's type, not a suggestion");
    let phishing_steps = state["tasks"].as_array().unwrap().len();
    let ack = of_kind(&harness, "ack").pop().unwrap();
    assert!(!ack["body"].as_str().unwrap().contains("This looks like"), "{}", ack["body"]);

    harness.feed(&mail(BOB, "Re: [INC-1] Odd mail").id("b1@company.test").body("done 1\ntype bec").bytes());
    let state = incident(&harness);
    assert_eq!(state["type"], "bec");
    let tasks = state["tasks"].as_array().unwrap();
    assert_eq!(tasks[0]["state"], "done", "what was done stays done");
    assert!(tasks[1..phishing_steps].iter().all(|task| task["state"] == "dropped"), "{tasks:#?}");
    assert!(tasks[phishing_steps..].iter().all(|task| task["playbook"] == "bec" && task["state"] == "open"));
    let transcript = of_kind(&harness, "transcript").pop().unwrap();
    assert!(transcript["body"].as_str().unwrap().contains("Type is now Business email compromise (was phishing)"));
}

#[test]
fn an_overdue_bank_step_of_a_bec_incident_reminds_the_lead() {
    let mut harness = suggesting();
    let declaration = mail(ALICE, "We paid a fake invoice to new bank details")
        .id("d@company.test")
        .body("lead me\n\nThe supplier's mail asked for a wire transfer to new bank details.");
    harness.feed(&declaration.bytes());
    let state = incident(&harness);
    assert_eq!(state["type"], "bec");
    let bank = &state["tasks"][0];
    assert!(bank["text"].as_str().unwrap().to_lowercase().contains("bank"), "{bank}");
    assert_eq!(bank["owner"], "alice@company.test", "the lead's step is the lead's");
    let due: Timestamp = bank["due"].as_str().unwrap().parse().unwrap();

    let after = due + jiff::SignedDuration::from_mins(5);
    scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, after).unwrap();
    let reminders = of_kind(&harness, "reminder");
    let overdue = reminders
        .iter()
        .find(|row| row["subject"].as_str().unwrap().contains("overdue"))
        .unwrap_or_else(|| panic!("no overdue reminder in {reminders:#?}"));
    assert_eq!(overdue["to"][0], "alice@company.test");
    assert!(overdue["body"].as_str().unwrap().contains(bank["text"].as_str().unwrap()), "{}", overdue["body"]);

    // The executives' next digest shows the open steps, the bank call overdue.
    scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, due + jiff::SignedDuration::from_hours(2))
        .unwrap();
    let digest = of_kind(&harness, "digest").pop().expect("an executive digest");
    let body = digest["body"].as_str().unwrap();
    let line = body.lines().find(|line| line.starts_with("1. ")).unwrap_or_else(|| panic!("{body}"));
    assert!(line.ends_with(", OVERDUE"), "{line}");
}

#[test]
fn a_handover_hands_on_the_open_steps_and_a_sign_off_is_no_command() {
    let mut harness = suggesting();
    let declaration = mail(ALICE, "We paid a fake invoice to new bank details").id("d@company.test").body("lead me");
    harness.feed(&declaration.bytes());
    let lead_steps = |harness: &Harness| -> Vec<String> {
        incident(harness)["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|task| task["state"] == "open" && task["owner"].is_string())
            .map(|task| task["owner"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!lead_steps(&harness).is_empty() && lead_steps(&harness).iter().all(|owner| owner == "alice@company.test"));
    harness.feed(
        &mail(ALICE, "Re: [INC-1] We paid a fake invoice")
            .id("a1@company.test")
            .body("lead bob@company.test\n\nKind regards\nAlice")
            .bytes(),
    );
    assert!(lead_steps(&harness).iter().all(|owner| owner == "bob@company.test"), "{:?}", lead_steps(&harness));
    let transcript = of_kind(&harness, "transcript").pop().unwrap();
    assert!(!transcript["body"].as_str().unwrap().contains("Not done"), "{transcript}");
}

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use sitrep::core::triage::Outcome;
use sitrep::scheduler;

use crate::support::{Harness, fixture_in, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";
const BOB: &str = "Bob Lee <bob@company.test>";
const CAROL: &str = "Carol Diaz <carol@company.test>";
const FRANK: &str = "Frank Ode <frank@company.test>";
const VENDOR: &str = "Vera Vendor <vera@vendor.test>";

fn reply(from: &str, body: &str, id: &str) -> Vec<u8> {
    mail(from, "Re: [INC-1] Ransomware on FS01").id(id).body(body).bytes()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn of_kind(harness: &Harness, kind: &str) -> Vec<serde_json::Value> {
    harness
        .export()
        .outbox
        .iter()
        .map(|row| serde_json::to_value(row).unwrap())
        .filter(|row| row["kind"] == kind)
        .collect()
}

fn recipients(rows: &[serde_json::Value]) -> Vec<String> {
    let mut all: Vec<String> = rows.iter().map(|row| row["to"][0].as_str().unwrap().to_string()).collect();
    all.sort();
    all
}

fn tick(harness: &mut Harness, time: &str) {
    scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, at(time)).unwrap();
}

/// Declared Friday 10:01 by Alice, who leads; Bob, Carol and Frank post,
/// Erin is the scribe, a vendor writes in, Alice closes at 10:09.
fn closed_incident() -> Harness {
    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Ransomware on FS01 [sev high; lead me]").id("d@company.test").bytes());
    harness.feed(&reply(BOB, "role scribe erin@company.test\nFS01 is isolated.", "b1@company.test"));
    harness.feed(&reply(CAROL, "Finance cannot reach the share.", "c1@company.test"));
    harness.feed(&reply(VENDOR, "We can help with decryption.", "v1@vendor.test"));
    harness.feed(&reply(FRANK, "The 01:00 backup is clean.", "f1@company.test"));
    harness.feed(&reply(ALICE, "contained", "a1@company.test"));
    harness.feed(&reply(ALICE, "recovered", "a2@company.test"));
    harness.feed(&reply(ALICE, "close: restored from the 01:00 backup", "a3@company.test"));
    harness
}

#[test]
fn the_whole_retrospective_from_close_to_report() {
    let mut harness = closed_incident();
    let questionnaires = of_kind(&harness, "questionnaire");
    assert_eq!(
        recipients(&questionnaires),
        ["alice@company.test", "bob@company.test", "carol@company.test", "erin@company.test", "frank@company.test"],
        "everyone internal who took part, and nobody else"
    );
    let body = questionnaires[0]["body"].as_str().unwrap();
    assert!(body.contains("1. What happened, and when?") && body.contains("10. Overall, how did the response go"));
    assert_eq!(questionnaires[0]["subject"], "[INC-1] Retrospective: Ransomware on FS01");
    let final_digest = of_kind(&harness, "digest").pop().unwrap();
    assert!(final_digest["body"].as_str().unwrap().contains("asked how the response went"));

    // Monday: answers in four styles.
    harness.now = at("2026-11-30T09:00:00Z");
    for (name, respondent) in [
        ("gmail-inline.eml", "bob@company.test"),
        ("outlook-inline.eml", "carol@company.test"),
        ("apple-inline.eml", "erin@company.test"),
        ("numbered.eml", "alice@company.test"),
    ] {
        let report = harness.feed(&fixture_in("retro", name));
        assert_eq!(report.outcome, Outcome::Updated, "{name}");
        let confirmation = of_kind(&harness, "transcript").pop().unwrap();
        assert_eq!(confirmation["to"][0], respondent, "{name}");
        assert!(confirmation["body"].as_str().unwrap().contains("Question 1: added") || name == "apple-inline.eml");
    }
    let records = harness.store.retro_records(sitrep::core::incident::IncidentNumber(1)).unwrap();
    let answer = |who: &str, question: &str| {
        records
            .answers
            .iter()
            .find(|answer| answer.respondent == who && answer.question == question)
            .map(|answer| answer.text.clone())
    };
    assert_eq!(
        answer("bob@company.test", "happened").as_deref(),
        Some("The restore took longer because the backup catalogue lived on FS01 itself.")
    );
    assert_eq!(
        answer("bob@company.test", "corrective").as_deref(),
        Some("Move the backup catalogue off the file server.\nTest a restore every quarter.")
    );
    assert_eq!(answer("bob@company.test", "rating").as_deref(), Some("4"));
    assert_eq!(answer("bob@company.test", "information"), None);
    assert_eq!(
        answer("carol@company.test", "performance").as_deref(),
        Some("Good, but we lost an hour looking for the insurer's phone number.")
    );
    assert_eq!(
        answer("carol@company.test", "indicators").as_deref(),
        Some("Outbound connections from the file server at night.")
    );
    assert_eq!(answer("carol@company.test", "information"), None);
    assert_eq!(answer("carol@company.test", "comment"), None, "a pointer to the answers is not a comment");
    assert_eq!(
        answer("erin@company.test", "information").as_deref(),
        Some("Which backups were clean. We only knew at 03:00 that the 01:00 copy was good."),
        "format=flowed is joined"
    );
    assert_eq!(answer("erin@company.test", "rating").as_deref(), Some("5 - well run"));
    assert_eq!(answer("alice@company.test", "performance").as_deref(), Some("Well. The runbook was out of date."));
    assert_eq!(answer("alice@company.test", "rating").as_deref(), Some("4"));
    let per_person: Vec<usize> = ["alice", "bob", "carol", "erin"]
        .iter()
        .map(|name| records.answers.iter().filter(|answer| answer.respondent.starts_with(name)).count())
        .collect();
    assert_eq!(per_person, [4, 4, 4, 3]);

    // Wednesday: two business days after Friday's questionnaire, Frank alone is reminded.
    tick(&mut harness, "2026-12-01T10:10:00Z");
    let reminders = of_kind(&harness, "reminder");
    let to: Vec<&str> = reminders.iter().map(|row| row["to"][0].as_str().unwrap()).collect();
    assert_eq!(to, ["frank@company.test", "alice@company.test"], "the non-respondent, and the summary to the lead");
    assert!(reminders[1]["body"].as_str().unwrap().contains("- frank@company.test"));
    assert!(of_kind(&harness, "report").is_empty(), "still waiting for Frank");

    // Thursday: the second and last reminder.
    tick(&mut harness, "2026-12-03T10:10:00Z");
    assert_eq!(of_kind(&harness, "reminder").len(), 4);
    // Friday a week later the answer window (5 business days) ends: the report goes out once.
    tick(&mut harness, "2026-12-04T10:10:00Z");
    tick(&mut harness, "2026-12-04T11:00:00Z");
    tick(&mut harness, "2026-12-10T11:00:00Z");
    let reports = of_kind(&harness, "report");
    assert_eq!(
        recipients(&reports),
        [
            "alice@company.test",
            "bob@company.test",
            "carol@company.test",
            "ceo@company.test",
            "cfo@company.test",
            "erin@company.test",
            "frank@company.test"
        ],
        "once, to the executives and everyone asked"
    );
    let markdown = reports[0]["body"].as_str().unwrap();
    for expected in [
        "The restore took longer because the backup catalogue lived on FS01 itself.",
        "Good, but we lost an hour looking for the insurer's phone number.",
        "We only knew at 03:00 that the 01:00 copy was good.",
        "MFA on the VPN; offline backups.",
        "How the response went: 4.0 of 5, from 4 people.",
        "Did not answer: frank@company.test.",
        "Durations: 5 min to contain; 6 min to recover; 7 min in total.",
        "We can help with decryption.",
    ] {
        assert!(markdown.contains(expected), "missing {expected:?} in\n{markdown}");
    }
    assert_eq!(of_kind(&harness, "reminder").len(), 4, "no reminders after the second round");
}

#[test]
fn a_second_reply_replaces_and_adds_and_a_reply_to_the_questionnaire_id_counts() {
    let mut harness = closed_incident();
    let bobs = of_kind(&harness, "questionnaire").into_iter().find(|row| row["to"][0] == "bob@company.test").unwrap();
    let parent = bobs["message_id"].as_str().unwrap().to_string();
    let answer = |body: &str, id: &str| {
        mail(BOB, "Re: Ransomware on FS01")
            .id(id)
            .header("In-Reply-To", &format!("<{parent}>"))
            .header("References", &format!("<{parent}>"))
            .body(body)
            .bytes()
    };
    harness.feed(&answer("1. Phishing.\n10. 3", "b2@company.test"));
    // Free text before the numbers is a comment; after one it would continue that answer.
    harness.feed(&answer(
        "All in all a calm response, thanks to a clear lead.\n\n1. Phishing at 09:14.\n3. The backup status.",
        "b3@company.test",
    ));
    let confirmation = of_kind(&harness, "transcript").pop().unwrap();
    let body = confirmation["body"].as_str().unwrap();
    assert!(body.contains("Question 1: replaces your earlier answer"), "{body}");
    assert!(body.contains("Question 3: added"), "{body}");
    assert!(body.contains("general comment") && body.contains("Still open for you: 2, 4, 5, 6, 7, 8, 9."), "{body}");
    let records = harness.store.retro_records(sitrep::core::incident::IncidentNumber(1)).unwrap();
    let bob: Vec<(String, String)> = records
        .answers
        .iter()
        .filter(|answer| answer.respondent == "bob@company.test")
        .map(|answer| (answer.question.clone(), answer.text.clone()))
        .collect();
    assert!(bob.contains(&("happened".into(), "Phishing at 09:14.".into())), "{bob:?}");
    assert!(bob.contains(&("rating".into(), "3".into())), "{bob:?}");
    assert!(bob.contains(&("comment".into(), "All in all a calm response, thanks to a clear lead.".into())), "{bob:?}");
}

#[test]
fn mail_to_a_closed_incident_is_kept_and_answered_and_reopen_stops_the_retrospective() {
    let mut harness = closed_incident();
    harness.feed(&reply(BOB, "FS02 shows the same files now!", "b9@company.test"));
    let notice = of_kind(&harness, "notice").pop().unwrap();
    assert_eq!(notice["to"][0], "bob@company.test");
    let body = notice["body"].as_str().unwrap();
    assert!(body.contains("INC-1 (Ransomware on FS01) was closed") && body.contains("ask its lead"), "{body}");
    let incident = &harness.export().incidents[0];
    assert!(incident.timeline.iter().any(|entry| entry.text == "FS02 shows the same files now!"), "not lost");

    harness.feed(&reply(ALICE, "reopen", "a9@company.test"));
    let incident = &harness.export().incidents[0];
    assert_eq!((incident.status, incident.phase), ("investigating", "recovery"), "back to its last active phase");
    tick(&mut harness, "2026-12-01T10:10:00Z");
    tick(&mut harness, "2026-12-08T10:10:00Z");
    assert!(
        of_kind(&harness, "reminder").iter().all(|row| !row["subject"].as_str().unwrap().contains("Retrospective"))
    );
    assert!(of_kind(&harness, "report").is_empty());
}

#[test]
fn retro_send_mails_the_report_now_and_is_for_the_lead() {
    let mut harness = closed_incident();
    harness.feed(&reply(BOB, "retro send", "b5@company.test"));
    assert!(of_kind(&harness, "report").is_empty(), "Bob does not lead");
    harness.feed(&reply(ALICE, "retro send", "a5@company.test"));
    assert_eq!(of_kind(&harness, "report").len(), 7);
}

#[test]
fn the_report_goes_out_as_soon_as_everyone_has_answered() {
    let mut harness = Harness::new();
    harness.feed(&mail(ALICE, "Lost laptop [sev low; lead me]").id("d@company.test").bytes());
    harness.feed(&mail(BOB, "Re: [INC-1] Lost laptop").id("b1@company.test").body("It was encrypted.").bytes());
    harness.feed(&mail(ALICE, "Re: [INC-1] Lost laptop").id("a1@company.test").body("close").bytes());
    assert_eq!(recipients(&of_kind(&harness, "questionnaire")), ["alice@company.test", "bob@company.test"]);
    let answer = |from: &str, id: &str, body: &str| {
        mail(from, "Re: [INC-1] Retrospective: Lost laptop").id(id).body(body).bytes()
    };
    harness.feed(&answer(ALICE, "a2@company.test", "1. Left on a train.\n2. Several answers\n3. More"));
    assert!(of_kind(&harness, "report").is_empty(), "Bob has not answered");
    harness.feed(&answer(BOB, "b2@company.test", "10. 5"));
    let reports = of_kind(&harness, "report");
    assert_eq!(
        recipients(&reports),
        ["alice@company.test", "bob@company.test", "ceo@company.test", "cfo@company.test"]
    );
    tick(&mut harness, "2026-12-31T00:00:00Z");
    assert_eq!(of_kind(&harness, "report").len(), 4, "once");
    assert!(
        of_kind(&harness, "reminder").iter().all(|row| !row["subject"].as_str().unwrap().contains("Retrospective"))
    );
}

/// Headless Chromium, or `None` off CI when it is not installed.
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new(name).arg("--version").output().is_ok_and(|output| output.status.success())
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must run the browser check: install chromium");
        eprintln!("skipped: no chromium on this machine (tests/run.sh installs it)");
    }
    found
}

/// What Chromium prints for `page` with `extra` arguments.
fn browse(chromium: &str, page: &Path, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `sitrep ARGUMENTS` against the harness's store, its output in `file`.
fn sitrep_to_file(harness: &Harness, arguments: &[&str], file: &str) -> PathBuf {
    let directory = harness.directory.path().to_path_buf();
    let config = directory.join("sitrep.toml");
    std::fs::write(&config, crate::support::config_text(&directory)).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["--config", config.to_str().unwrap()])
        .args(arguments)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let path = directory.join(file);
    if !path.exists() {
        std::fs::write(&path, &output.stdout).unwrap();
    }
    path
}

/// `sitrep report --format html` opened in headless Chromium: the DOM it
/// builds holds every section and answer, and it lays the page out to PDF.
#[test]
fn the_html_report_renders_in_a_real_browser() {
    let Some(chromium) = chromium() else { return };
    let mut harness = closed_incident();
    harness.now = at("2026-11-30T09:00:00Z");
    harness.feed(&fixture_in("retro", "gmail-inline.eml"));
    let html = harness.directory.path().join("report.html");
    sitrep_to_file(
        &harness,
        &["report", "INC-1", "--format", "html", "--output", html.to_str().unwrap()],
        "report.html",
    );
    let dom = browse(chromium, &html, &["--dump-dom"]);
    for expected in [
        "<h1>Post-incident report: INC-1, Ransomware on FS01</h1>",
        "<h2>Retrospective</h2>",
        "The restore took longer because the backup catalogue lived on FS01 itself.",
        "<h2>Timeline</h2>",
        "We can help with decryption.",
    ] {
        assert!(dom.contains(expected), "missing {expected:?} in the browser's DOM");
    }
    let pdf = harness.directory.path().join("report.pdf");
    browse(chromium, &html, &[&format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer"]);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF") && bytes.len() > 10_000, "{} bytes", bytes.len());
}

/// On a phone 400 px wide, the digest and the report need no sideways
/// scrolling: the widest thing on the page fits the screen. Headless
/// Chromium's window is at least 500 px wide, so the page is shown in a
/// 400 px frame, which is its viewport, and reports its width to the host
/// page.
#[test]
fn the_digest_and_the_report_fit_a_phone_screen() {
    let Some(chromium) = chromium() else { return };
    let mut harness = closed_incident();
    harness.now = at("2026-11-30T09:00:00Z");
    harness.feed(&fixture_in("retro", "gmail-inline.eml"));
    let report = harness.directory.path().join("report.html");
    sitrep_to_file(
        &harness,
        &["report", "INC-1", "--format", "html", "--output", report.to_str().unwrap()],
        "report.html",
    );
    let digest = sitrep_to_file(&harness, &["digest", "INC-1", "--preview", "--html"], "digest.html");
    for page in [digest, report] {
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.contains("</body>"), "{}: {html}", page.display());
        let report_width = "<script>addEventListener(\"load\", () => parent.postMessage(\
                            innerWidth + \" \" + document.documentElement.scrollWidth, \"*\"));</script></body>";
        let measured = page.with_extension("measured.html");
        std::fs::write(&measured, html.replacen("</body>", report_width, 1)).unwrap();
        let phone = page.with_extension("phone.html");
        let frame = format!(
            "<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"{}\" \
             style=\"width:400px;height:900px;border:0\"></iframe><script>addEventListener(\"message\", \
             event => {{ document.body.dataset.width = event.data; }});</script></body></html>",
            measured.file_name().unwrap().to_string_lossy()
        );
        std::fs::write(&phone, frame).unwrap();
        let dom = browse(chromium, &phone, &["--virtual-time-budget=5000", "--dump-dom"]);
        let widths: Vec<u32> = dom
            .split("data-width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|widths| widths.split(' ').filter_map(|width| width.parse().ok()).collect())
            .unwrap_or_default();
        assert_eq!(widths.len(), 2, "{}: no viewport and page width measured", page.display());
        assert_eq!(widths[0], 400, "{}: the frame is not a 400 px viewport", page.display());
        assert!(widths[1] <= 400, "{} is {} px wide on a 400 px screen", page.display(), widths[1]);
    }
}

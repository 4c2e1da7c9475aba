use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Running, config_text, fixture};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/declare.eml");

fn sitrep(directory: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sitrep"));
    command.current_dir(directory).env_remove("SITREP_FAILPOINT").env("RUST_LOG", "warn");
    command
}

fn run(directory: &Path, arguments: &[&str]) -> Output {
    sitrep(directory).args(arguments).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn export(directory: &Path) -> serde_json::Value {
    let output = run(directory, &["export", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Waits for `condition`, failing with `what` after a generous deadline.
fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn files_in(directory: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(directory) {
        Ok(entries) => entries.map(|entry| entry.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Delivers like an MTA: written in tmp/, then renamed into new/.
fn deliver(maildir: &Path, name: &str, raw: &[u8]) {
    let temporary = maildir.join("tmp").join(name);
    std::fs::write(&temporary, raw).unwrap();
    std::fs::rename(&temporary, maildir.join("new").join(name)).unwrap();
}

fn terminate(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn ingest_on_the_embedded_default_declares_and_writes_the_ack() {
    let directory = tempfile::tempdir().unwrap();
    let output = run(directory.path(), &["ingest", EXAMPLE]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("declared INC-1"), "{}", stdout(&output));
    let acks = files_in(&directory.path().join("var/outbox"));
    assert_eq!(acks.len(), 1);
    let ack = std::fs::read_to_string(&acks[0]).unwrap();
    assert!(ack.contains("Subject: [INC-1] Ransomware note on the file server"), "{ack}");
    assert!(ack.contains("To: alice@example.test"));

    let document = export(directory.path());
    assert_eq!(document["format"], "sitrep-export/1");
    let incident = &document["incidents"][0];
    assert_eq!(incident["id"], "INC-1");
    for key in ["title", "status", "severity", "phase", "lead", "scope", "declared_by", "declared_at", "closed_at"] {
        assert!(incident.get(key).is_some(), "incident.{key} missing");
    }
    for key in ["at", "author", "kind", "text", "message_id", "trust"] {
        assert!(incident["timeline"][0].get(key).is_some(), "timeline.{key} missing");
    }
    let message = &document["messages"][0];
    assert_eq!((message["outcome"].as_str(), message["incident"].as_str()), (Some("declared"), Some("INC-1")));
    assert!(message.get("reason").is_some() && message.get("from").is_some() && message.get("message_id").is_some());
    let outbox = &document["outbox"][0];
    assert_eq!((outbox["kind"].as_str(), outbox["status"].as_str()), (Some("ack"), Some("sent")));
    assert_eq!(outbox["to"][0], "alice@example.test");
    assert_eq!(outbox["cc"][0], "bob@example.test");
    assert!(outbox["body"].as_str().unwrap().contains("Who leads?"));

    let listing = run(directory.path(), &["list"]);
    assert!(stdout(&listing).contains("INC-1"), "{}", stdout(&listing));
    let shown = run(directory.path(), &["show", "INC-1"]);
    assert!(stdout(&shown).contains("Files on FS01 were renamed"), "{}", stdout(&shown));
    assert!(!stdout(&shown).contains("Alice Morgan\nFinance"), "the signature is not part of the update");
    let missing = run(directory.path(), &["show", "INC-9"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("INC-9 does not exist"));
}

#[test]
fn ingest_reads_standard_input_and_is_idempotent() {
    let directory = tempfile::tempdir().unwrap();
    for expected in ["stdin: declared INC-1", "stdin: ignored"] {
        let mut child =
            sitrep(directory.path()).arg("ingest").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(&std::fs::read(EXAMPLE).unwrap()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        assert!(stdout(&output).starts_with(expected), "{}", stdout(&output));
    }
    assert_eq!(files_in(&directory.path().join("var/outbox")).len(), 1);
}

#[test]
fn exit_codes_follow_sysexits() {
    let directory = tempfile::tempdir().unwrap();
    assert_eq!(run(directory.path(), &["frobnicate"]).status.code(), Some(64));
    assert_eq!(run(directory.path(), &["ingest", "no-such-file.eml"]).status.code(), Some(64));
    assert_eq!(run(directory.path(), &["show", "nonsense"]).status.code(), Some(64));
    assert_eq!(run(directory.path(), &["--help"]).status.code(), Some(0));

    // The store cannot be opened: an MTA should retry later.
    std::fs::write(directory.path().join("var"), "not a directory").unwrap();
    let unavailable = run(directory.path(), &["ingest", EXAMPLE]);
    assert_eq!(unavailable.status.code(), Some(75), "{}", stderr(&unavailable));
}

#[test]
fn configuration_errors_exit_78_and_name_the_key() {
    let directory = tempfile::tempdir().unwrap();
    let good = config_text(directory.path());
    std::fs::write(directory.path().join("good.toml"), &good).unwrap();
    let ok = run(directory.path(), &["--config", "good.toml", "check-config"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("incident@company.test"));

    std::fs::write(directory.path().join("bad.toml"), good.replace("staff_domains", "staff_domain")).unwrap();
    for command in ["check-config", "run"] {
        let bad = run(directory.path(), &["--config", "bad.toml", command]);
        assert_eq!(bad.status.code(), Some(78), "{command}");
        assert!(stderr(&bad).contains("staff_domain"), "{}", stderr(&bad));
    }
    let absent = run(directory.path(), &["--config", "absent.toml", "check-config"]);
    assert_eq!(absent.status.code(), Some(78));

    // ./sitrep.toml is used when present.
    std::fs::write(
        directory.path().join("sitrep.toml"),
        good.replace("incident@company.test", "security@company.test"),
    )
    .unwrap();
    assert!(stdout(&run(directory.path(), &["check-config"])).contains("security@company.test"));
}

#[test]
fn the_daemon_processes_dropped_mail_and_stops_on_sigterm() {
    let directory = tempfile::tempdir().unwrap();
    let mut daemon = Running(sitrep(directory.path()).arg("run").stderr(Stdio::piped()).spawn().unwrap());
    let maildir = directory.path().join("var/inbox");
    wait_for("the Maildir to be created", || maildir.join("new").is_dir());
    deliver(&maildir, "1700000000.M1P1.host", &std::fs::read(EXAMPLE).unwrap());
    wait_for("the acknowledgement", || files_in(&directory.path().join("var/outbox")).len() == 1);
    wait_for("the message to move to cur/", || files_in(&maildir.join("cur")).len() == 1);
    assert!(files_in(&maildir.join("new")).is_empty());

    let second = run(directory.path(), &["run"]);
    assert_ne!(second.status.code(), Some(0));
    assert!(stderr(&second).contains("already running"), "{}", stderr(&second));

    terminate(&daemon);
    let status = daemon.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    std::io::Read::read_to_string(daemon.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(!log.contains("Files on FS01"), "message bodies never reach the log");
}

#[test]
fn a_crash_between_commit_and_mailbox_move_loses_nothing_and_repeats_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let maildir = directory.path().join("var/inbox");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    std::fs::create_dir_all(maildir.join("tmp")).unwrap();
    deliver(&maildir, "1700000000.M1P1.host", &std::fs::read(EXAMPLE).unwrap());
    deliver(&maildir, "1700000001.M2P1.host", &fixture("030-declaration-plain.eml").replace_company());

    let crashed = sitrep(directory.path())
        .arg("run")
        .env("SITREP_FAILPOINT", "after_commit")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!crashed.success(), "the failpoint aborts the process");
    assert_eq!(files_in(&maildir.join("new")).len(), 2, "nothing was marked done");
    let committed = export(directory.path());
    assert_eq!(committed["incidents"].as_array().unwrap().len(), 1, "the first message was committed");

    let mut daemon = Running(sitrep(directory.path()).arg("run").stderr(Stdio::null()).spawn().unwrap());
    wait_for("both messages to be done", || files_in(&maildir.join("cur")).len() == 2);
    wait_for("both acknowledgements", || {
        export(directory.path())["outbox"].as_array().unwrap().iter().all(|row| row["status"] == "sent")
    });
    terminate(&daemon);
    assert!(daemon.wait().unwrap().success());

    let document = export(directory.path());
    assert_eq!(document["incidents"].as_array().unwrap().len(), 2);
    assert_eq!(document["messages"].as_array().unwrap().len(), 2, "each message stored once");
    assert_eq!(document["outbox"].as_array().unwrap().len(), 2, "one ack each");
    // Delivery is at least once: an ack sent just before the crash may go
    // again, but with the Message-ID it was queued with.
    let mut ids: Vec<String> = files_in(&directory.path().join("var/outbox"))
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.lines().find(|line| line.starts_with("Message-ID:")).unwrap().to_string()
        })
        .collect();
    let copies = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "exactly the two queued Message-IDs");
    assert!(copies <= 4, "at most one repeat of each");
}

trait ReplaceCompany {
    fn replace_company(self) -> Vec<u8>;
}

impl ReplaceCompany for Vec<u8> {
    /// Fixtures use company.test; the embedded default's staff are at example.test.
    fn replace_company(self) -> Vec<u8> {
        String::from_utf8(self).unwrap().replace("company.test", "example.test").into_bytes()
    }
}

#[test]
fn under_systemd_it_reports_ready_feeds_the_watchdog_and_stops_cleanly() {
    use std::os::unix::net::UnixDatagram;

    let directory = tempfile::tempdir().unwrap();
    let socket_path = directory.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let daemon = Running(
        sitrep(directory.path())
            .arg("run")
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "200000")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut received = Vec::new();
    let mut buffer = [0u8; 512];
    while !received.iter().any(|state: &String| state.contains("WATCHDOG=1")) {
        let length = socket.recv(&mut buffer).expect("a notification before the timeout");
        received.push(String::from_utf8_lossy(&buffer[..length]).into_owned());
    }
    assert!(received[0].starts_with("READY=1"), "{received:?}");

    // A message in hand when SIGTERM arrives is finished or left untouched,
    // never lost.
    let maildir = directory.path().join("var/inbox");
    deliver(&maildir, "1700000000.M1P1.host", &std::fs::read(EXAMPLE).unwrap());
    std::thread::sleep(Duration::from_millis(150));
    terminate(&daemon);
    let mut daemon = daemon;
    let status = daemon.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let stopping = (0..10).find_map(|_| {
        let length = socket.recv(&mut buffer).ok()?;
        let state = String::from_utf8_lossy(&buffer[..length]).into_owned();
        state.contains("STOPPING=1").then_some(state)
    });
    assert!(stopping.is_some(), "systemd is told sitrep is stopping");
    let stored = export(directory.path())["messages"].as_array().unwrap().len();
    let waiting = files_in(&maildir.join("new")).len();
    let done = files_in(&maildir.join("cur")).len();
    assert!((stored, done) == (1, 1) || (stored, waiting) == (0, 1), "stored {stored}, new {waiting}, cur {done}");
}

#[test]
fn status_and_backup() {
    let directory = tempfile::tempdir().unwrap();
    assert!(run(directory.path(), &["ingest", EXAMPLE]).status.success());
    let status = stdout(&run(directory.path(), &["status"])).split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in ["open incidents: 1", "messages: 1", "last message:", "outbox: 0 queued, 0 failed"] {
        assert!(status.contains(expected), "missing {expected:?} in\n{status}");
    }
    let backup = directory.path().join("backup.db");
    let output = run(directory.path(), &["backup", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let copy = sitrep::store::Store::open(&backup).unwrap();
    assert_eq!(copy.incidents().unwrap().len(), 1, "the backup is a whole store");
    let again = run(directory.path(), &["backup", backup.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "an existing file is never overwritten");
}

#[test]
fn doctor_passes_on_the_embedded_default_and_names_what_fails() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("var/inbox/new")).unwrap();
    std::fs::create_dir_all(directory.path().join("var/inbox/cur")).unwrap();
    std::fs::create_dir_all(directory.path().join("var/inbox/tmp")).unwrap();
    let healthy = run(directory.path(), &["doctor", "--send-test", "alice@example.test"]);
    let report = stdout(&healthy);
    assert!(healthy.status.success(), "{report}");
    for name in ["config", "templates", "store", "mailbox", "transport", "test mail"] {
        assert!(report.contains(&format!("PASS {name}")), "no pass for {name}:\n{report}");
    }
    assert_eq!(files_in(&directory.path().join("var/outbox")).len(), 1, "the test mail was written");

    std::fs::remove_dir_all(directory.path().join("var/inbox/tmp")).unwrap();
    let broken = run(directory.path(), &["doctor"]);
    assert_eq!(broken.status.code(), Some(1));
    let report = stdout(&broken);
    assert!(report.contains("FAIL mailbox") && report.contains("hint:"), "{report}");
}

#[test]
fn sighup_reloads_templates_and_keeps_the_old_ones_when_the_new_are_broken() {
    let directory = tempfile::tempdir().unwrap();
    let templates = directory.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("ack.txt.tera"), "Version one for {{ incident }}.").unwrap();
    let config = format!("{}\n[templates]\ndir = \"templates\"\n", sitrep::config::EMBEDDED_DEFAULT);
    std::fs::write(directory.path().join("sitrep.toml"), config).unwrap();
    let log_path = directory.path().join("sitrep.log");
    let daemon = Running(
        sitrep(directory.path())
            .arg("run")
            .env("RUST_LOG", "info")
            .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()))
            .spawn()
            .unwrap(),
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    wait_for("the daemon to be ready", || log().contains("ready"));
    let maildir = directory.path().join("var/inbox");
    let declare = |number: u32| {
        let raw = mail_for_reload(number);
        deliver(&maildir, &format!("17000000{number}.M1P1.host"), raw.as_bytes());
        wait_for("the ack", || {
            export(directory.path())["outbox"].as_array().is_some_and(|rows| rows.len() == number as usize)
        });
        export(directory.path())["outbox"][number as usize - 1]["body"].as_str().unwrap().to_string()
    };
    assert_eq!(declare(1), "Version one for INC-1.");

    std::fs::write(templates.join("ack.txt.tera"), "Version two for {{ incident }}.").unwrap();
    let hangup = || assert!(Command::new("kill").args(["-HUP", &daemon.id().to_string()]).status().unwrap().success());
    hangup();
    wait_for("the reload", || log().contains("configuration reloaded"));
    assert_eq!(declare(2), "Version two for INC-2.");

    std::fs::write(templates.join("ack.txt.tera"), "{{ unclosed").unwrap();
    hangup();
    wait_for("the refusal", || log().contains("reload refused"));
    assert_eq!(declare(3), "Version two for INC-3.", "a broken reload keeps the running templates");
    terminate(&daemon);
    let mut daemon = daemon;
    assert!(daemon.wait().unwrap().success());
}

fn mail_for_reload(number: u32) -> String {
    format!(
        "From: alice@example.test\r\nTo: incident@example.test\r\nSubject: Reload test {number}\r\nMessage-ID: <reload-{number}@example.test>\r\n\r\nBody.\r\n"
    )
}

#[test]
fn tick_sends_what_is_due_and_digest_previews_without_sending() {
    let directory = tempfile::tempdir().unwrap();
    assert!(run(directory.path(), &["ingest", EXAMPLE]).status.success());
    let outbox = directory.path().join("var/outbox");
    assert_eq!(files_in(&outbox).len(), 1, "the ack");

    let preview = run(directory.path(), &["digest", "INC-1", "--preview"]);
    assert!(preview.status.success(), "{}", stderr(&preview));
    let text = stdout(&preview);
    assert!(text.starts_with("Subject: [INC-1] Status 1: unassessed · detection · Ransomware note"), "{text}");
    assert!(text.contains("Files on FS01 were renamed"), "{text}");
    let html = stdout(&run(directory.path(), &["digest", "INC-1", "--preview", "--html"]));
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Files on FS01 were renamed"), "{html}");
    assert_eq!(files_in(&outbox).len(), 1, "a preview sends nothing");
    assert_eq!(run(directory.path(), &["digest", "INC-1"]).status.code(), Some(64));

    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string();
    let ticked = run(directory.path(), &["tick", "--at", &later]);
    assert!(ticked.status.success(), "{}", stderr(&ticked));
    assert!(stdout(&ticked).contains("1 incidents looked at"), "{}", stdout(&ticked));
    let sent: Vec<String> = files_in(&outbox).iter().map(|path| std::fs::read_to_string(path).unwrap()).collect();
    assert!(sent.iter().any(|mail| mail.contains("To: exec@example.test") && mail.contains("Status 1")), "{sent:?}");
    let again = run(directory.path(), &["tick", "--at", &later]);
    assert!(stdout(&again).contains("0 incidents looked at"), "{}", stdout(&again));
    let status = stdout(&run(directory.path(), &["status"]));
    assert!(status.contains("next scheduled:"), "{status}");
    assert_eq!(run(directory.path(), &["tick", "--at", "tomorrow"]).status.code(), Some(64));
}

#[test]
fn the_man_page_and_completions_need_no_configuration() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("sitrep.toml"), "not = [valid").unwrap();
    let man = run(directory.path(), &["man"]);
    assert!(man.status.success(), "{}", stderr(&man));
    let page = stdout(&man);
    assert!(page.contains(".TH sitrep 1") && page.contains("report"), "{page}");
    for section in ["COMMANDS", "FILES", "ENVIRONMENT", "EXIT STATUS", "SIGNALS", "EXAMPLES"] {
        assert!(page.contains(&format!(".SH {section}")), "no {section}: {page}");
    }
    assert!(page.contains("RUST_LOG") && page.contains(r"\fBsitrep report\fR \fIINCIDENT\fR"), "{page}");
    assert!(!page.contains(r"sitrep\-run(1)"), "no pages that do not exist: {page}");
    let configuration = stdout(&run(directory.path(), &["man", "sitrep.toml"]));
    assert!(configuration.starts_with(".TH sitrep.toml 5"), "{configuration}");
    for key in ["staff_domains", "digests_per_executive_per_hour", "trusted_authserv_id", "password_credential"] {
        assert!(configuration.contains(&format!(r"\fB{key}\fR = ")), "{key} missing: {configuration}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let completions = run(directory.path(), &["completions", shell]);
        assert!(completions.status.success() && stdout(&completions).contains("digest"), "{shell}");
    }
    assert_eq!(run(directory.path(), &["list"]).status.code(), Some(78), "other commands still read it");
}

/// What falls due while `sitrep run` is up goes out from its own timer,
/// without new mail to wake it.
#[test]
fn the_daemon_sends_scheduled_mail_when_it_falls_due() {
    let directory = tempfile::tempdir().unwrap();
    assert!(run(directory.path(), &["ingest", EXAMPLE]).status.success());
    // Make the first digest due now, as if the declaration were an hour old.
    let database = rusqlite::Connection::open(directory.path().join("var/sitrep.db")).unwrap();
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    database.execute("UPDATE schedule SET due_at = ?1 WHERE incident = 1 AND job = 'digest'", [&now]).unwrap();
    database
        .execute(
            "INSERT INTO schedule (incident, job, requested_at) VALUES (1, 'digest', ?1)
             ON CONFLICT (incident, job) DO UPDATE SET requested_at = ?1",
            [&now],
        )
        .unwrap();
    drop(database);
    let outbox = directory.path().join("var/outbox");
    let count = |subject: &str| {
        files_in(&outbox)
            .iter()
            .filter(|path| std::fs::read_to_string(path).is_ok_and(|mail| mail.contains(subject)))
            .count()
    };
    let mut daemon = Running(sitrep(directory.path()).arg("run").spawn().unwrap());
    wait_for("the digests", || count("Status 1: unassessed") == 1 && count("Responders 1: unassessed") == 1);
    std::thread::sleep(Duration::from_millis(1500));
    terminate(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
    assert_eq!((count("Status 1:"), count("Responders 1:")), (1, 1), "once each, through more ticks");
}

#[test]
fn a_crash_after_the_relay_answered_repeats_that_delivery_once_and_no_other() {
    let directory = tempfile::tempdir().unwrap();
    let outbox = directory.path().join("var/outbox");
    let crashed = sitrep(directory.path())
        .args(["ingest", EXAMPLE])
        .env("SITREP_FAILPOINT", "after_send")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!crashed.success(), "the failpoint aborts between the answer and its record");
    assert_eq!(files_in(&outbox).len(), 1, "the ack went out before the crash");

    let second = directory.path().join("second.eml");
    std::fs::write(&second, fixture("030-declaration-plain.eml").replace_company()).unwrap();
    let output = run(directory.path(), &["ingest", second.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(files_in(&outbox).len(), 3, "the dead sender's claim is taken at once, beside the new ack");

    for minutes in [10, 20, 30] {
        let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(minutes)).to_string();
        let output = run(directory.path(), &["tick", "--at", &at]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    // Later ticks also send the digests and reminders that fell due.
    let delivered: Vec<String> = files_in(&outbox).iter().map(|path| std::fs::read_to_string(path).unwrap()).collect();
    let document = export(directory.path());
    let rows = document["outbox"].as_array().unwrap();
    assert!(rows.iter().all(|row| row["status"] == "sent"), "{rows:#?}");
    let copies = |row: &serde_json::Value| {
        delivered.iter().filter(|text| text.contains(row["message_id"].as_str().unwrap())).count()
    };
    let mut acks: Vec<usize> = rows.iter().filter(|row| row["kind"] == "ack").map(copies).collect();
    acks.sort();
    assert_eq!(acks, [1, 2], "one repeat for one crash, with the Message-ID it was queued with");
    assert!(rows.iter().filter(|row| row["kind"] != "ack").all(|row| copies(row) == 1), "nothing else repeats");
}

#[test]
fn what_sitrep_writes_is_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().unwrap();
    let output = run(directory.path(), &["ingest", EXAMPLE]);
    assert!(output.status.success(), "{}", stderr(&output));
    let var = directory.path().join("var");
    for path in [var.join("sitrep.db"), files_in(&var.join("outbox"))[0].clone()] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    for path in [var.clone(), var.join("outbox")] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", path.display());
    }
}

/// `sitrep run` that must refuse to start: its exit code and stderr, or a
/// failure (not a hang) when it starts after all.
fn refused_start(directory: &Path) -> (Option<i32>, String) {
    let mut child = sitrep(directory).arg("run").stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sitrep run started on a damaged store");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (output.status.code(), stderr(&output))
}

#[test]
fn a_lost_or_damaged_store_is_refused_not_replaced() {
    let directory = tempfile::tempdir().unwrap();
    assert!(run(directory.path(), &["ingest", EXAMPLE]).status.success());
    let database = directory.path().join("var/sitrep.db");
    // Emptied by a bad restore, beside the lock of the daemon that used it.
    std::fs::write(directory.path().join("var/sitrep.lock"), b"").unwrap();
    std::fs::write(&database, b"").unwrap();
    let _ = std::fs::remove_file(directory.path().join("var/sitrep.db-wal"));
    let (code, message) = refused_start(directory.path());
    assert_eq!(code, Some(78), "{message}");
    assert!(message.contains("backup"), "{message}");
    assert_eq!(std::fs::metadata(&database).unwrap().len(), 0, "no new store over the old one");
    assert_ne!(run(directory.path(), &["ingest", EXAMPLE]).status.code(), Some(0));

    std::fs::write(&database, b"this is not a database at all").unwrap();
    assert_eq!(refused_start(directory.path()).0, Some(78));
}

#[test]
fn a_store_with_a_corrupted_page_stops_the_daemon_at_start() {
    let directory = tempfile::tempdir().unwrap();
    for index in 0..20 {
        let declaration = format!(
            "From: Alice <alice@example.test>\r\nTo: incident@example.test\r\nSubject: Incident number {index}\r\nMessage-ID: <c{index}@example.test>\r\n\r\n{}\r\n",
            "Details of what happened. ".repeat(200)
        );
        let path = directory.path().join(format!("{index}.eml"));
        std::fs::write(&path, declaration).unwrap();
        assert!(run(directory.path(), &["ingest", path.to_str().unwrap()]).status.success());
    }
    let database = directory.path().join("var/sitrep.db");
    let checkpoint = rusqlite::Connection::open(&database).unwrap();
    checkpoint.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(checkpoint);
    let mut bytes = std::fs::read(&database).unwrap();
    let page = 4096;
    assert!(bytes.len() > 8 * page, "the store spans several pages");
    let middle = bytes.len() / page / 2 * page;
    bytes[middle..middle + page].fill(0x5a);
    std::fs::write(&database, bytes).unwrap();
    let (code, message) = refused_start(directory.path());
    assert_eq!(code, Some(78), "{message}");
}

#[test]
fn without_auth_the_admin_is_told_who_can_steer_and_which_id_to_set() {
    let directory = tempfile::tempdir().unwrap();
    let check = run(directory.path(), &["check-config"]);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&check).contains("WARNING") && stdout(&check).contains("From is believed"), "{}", stdout(&check));

    let received = directory.path().join("received.eml");
    let mut raw = b"Authentication-Results: mx.example.test; dkim=pass header.d=example.test; dmarc=pass\r\n".to_vec();
    raw.extend(std::fs::read(EXAMPLE).unwrap());
    std::fs::write(&received, raw).unwrap();
    assert!(run(directory.path(), &["ingest", received.to_str().unwrap()]).status.success());
    for folder in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(directory.path().join("var/inbox").join(folder)).unwrap();
    }
    let report = stdout(&run(directory.path(), &["doctor"]));
    assert!(report.contains("PASS trust") && report.contains("From is believed"), "{report}");
    assert!(report.contains("trusted_authserv_id = \"mx.example.test\""), "{report}");

    // An id that the mail does not carry would keep every staff mail unverified.
    let with_auth =
        |id: &str| format!("{}\n[auth]\ntrusted_authserv_id = \"{id}\"\n", sitrep::config::EMBEDDED_DEFAULT);
    std::fs::write(directory.path().join("sitrep.toml"), with_auth("mx.company.test")).unwrap();
    let wrong = stdout(&run(directory.path(), &["doctor"]));
    assert!(wrong.contains("FAIL trust") && wrong.contains("0 of the last 1 messages"), "{wrong}");
    assert!(wrong.contains("set trusted_authserv_id = \"mx.example.test\""), "{wrong}");
    std::fs::write(directory.path().join("sitrep.toml"), with_auth("mx.example.test")).unwrap();
    let right = stdout(&run(directory.path(), &["doctor"]));
    assert!(right.contains("PASS trust") && right.contains("1 of the last 1 messages carry its results"), "{right}");
}

#[test]
fn status_says_when_the_storm_brake_bit() {
    let directory = tempfile::tempdir().unwrap();
    for index in 0..12 {
        let path = directory.path().join(format!("{index}.eml"));
        let declaration = format!(
            "From: Monitor <monitor@example.test>\r\nTo: incident@example.test\r\nSubject: Alert {index}\r\nMessage-ID: <alert{index}@example.test>\r\n\r\nDisk full.\r\n"
        );
        std::fs::write(&path, declaration).unwrap();
        assert!(run(directory.path(), &["ingest", path.to_str().unwrap()]).status.success());
    }
    let report = stdout(&run(directory.path(), &["status"]));
    assert!(report.contains("storm brake:    2 declarations refused in the last hour"), "{report}");
}

#[test]
fn status_says_when_digests_wait_for_the_per_executive_cap() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("sitrep.toml"),
        "address = \"incident@company.test\"\ndata_dir = \"var\"\n\
         [mailbox]\nkind = \"maildir\"\npath = \"var/inbox\"\n\
         [transport]\nkind = \"file\"\npath = \"var/outbox\"\n\
         [access]\nstaff_domains = [\"company.test\"]\n\
         [stakeholders]\nexecutives = [\"ceo@company.test\"]\n",
    )
    .unwrap();
    for index in 0..3 {
        let path = directory.path().join(format!("{index}.eml"));
        let declaration = format!(
            "From: Alice <alice@company.test>\r\nTo: incident@company.test\r\nSubject: Phishing wave {index}\r\nMessage-ID: <wave{index}@company.test>\r\n\r\nSeveral people clicked.\r\n"
        );
        std::fs::write(&path, declaration).unwrap();
        assert!(run(directory.path(), &["ingest", path.to_str().unwrap()]).status.success());
    }
    // An hour on, the first digest goes out alone and the two others wait.
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(61)).to_string();
    assert!(run(directory.path(), &["tick", "--at", &later]).status.success());
    let report = stdout(&run(directory.path(), &["status"]));
    assert!(report.contains("digest cap:     2 digests held for 1 executive, to go out combined"), "{report}");
}

/// Postfix's pipe transport runs `sitrep ingest` for each message, several
/// at once: a thread delivered in parallel still makes one incident, and
/// every mail sitrep sends goes out once.
#[test]
fn parallel_ingest_processes_make_one_incident_per_thread_and_send_each_mail_once() {
    let directory = tempfile::tempdir().unwrap();
    for thread in 0..4 {
        let declaration = format!(
            "From: Alice <alice@example.test>\r\nTo: incident@example.test\r\nSubject: Laptop {thread} stolen\r\nMessage-ID: <decl{thread}@example.test>\r\n\r\nLeft on a train.\r\n"
        );
        let mut paths = vec![directory.path().join(format!("decl{thread}.eml"))];
        std::fs::write(&paths[0], declaration).unwrap();
        for reply in 0..3 {
            let text = format!(
                "From: Bob <bob@example.test>\r\nTo: incident@example.test, alice@example.test\r\nSubject: Re: Laptop {thread} stolen\r\nMessage-ID: <reply{thread}-{reply}@example.test>\r\nIn-Reply-To: <decl{thread}@example.test>\r\nReferences: <decl{thread}@example.test>\r\n\r\nThe disk is encrypted, says check {reply}.\r\n"
            );
            paths.push(directory.path().join(format!("reply{thread}-{reply}.eml")));
            std::fs::write(paths.last().unwrap(), text).unwrap();
        }
        let children: Vec<Child> = paths
            .iter()
            .map(|path| sitrep(directory.path()).arg("ingest").arg(path).stderr(Stdio::null()).spawn().unwrap())
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
    }
    let document = export(directory.path());
    let incidents = document["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 4, "one incident per thread: {incidents:#?}");
    for incident in incidents {
        assert_eq!(incident["timeline"].as_array().unwrap().len(), 4, "{incident:#?}");
    }
    let delivered: Vec<String> = files_in(&directory.path().join("var/outbox"))
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    for row in document["outbox"].as_array().unwrap() {
        let id = row["message_id"].as_str().unwrap();
        let copies = delivered.iter().filter(|text| text.contains(id)).count();
        assert_eq!(copies, 1, "{} {id} went out {copies} times", row["kind"]);
    }
}

/// Damage that SQLite's quick check at start does not see (an index that
/// no longer matches its table) is found by the daemon's daily full check,
/// which stops it taking mail: exit 78, which systemd does not restart.
#[test]
fn the_daemon_stops_with_78_when_the_full_check_finds_damage_the_quick_one_missed() {
    let directory = tempfile::tempdir().unwrap();
    assert!(run(directory.path(), &["ingest", EXAMPLE]).status.success());
    let database = rusqlite::Connection::open(directory.path().join("var/sitrep.db")).unwrap();
    // Two indexes of one table swap their pages: each is a well-formed
    // b-tree, but of the other's entries.
    let root = |name: &str| -> i64 {
        database.query_row("SELECT rootpage FROM sqlite_schema WHERE name = ?1", [name], |row| row.get(0)).unwrap()
    };
    let (due, recipient) = (root("outbox_due"), root("outbox_recipient"));
    database
        .execute_batch(&format!(
            "PRAGMA writable_schema = ON;
             UPDATE sqlite_schema SET rootpage = {recipient} WHERE name = 'outbox_due';
             UPDATE sqlite_schema SET rootpage = {due} WHERE name = 'outbox_recipient';"
        ))
        .unwrap();
    drop(database);
    let quick = rusqlite::Connection::open(directory.path().join("var/sitrep.db")).unwrap();
    let verdict: String = quick.query_row("PRAGMA quick_check", [], |row| row.get(0)).unwrap();
    assert_eq!(verdict, "ok", "the damage is beyond the quick check");
    drop(quick);

    let output = sitrep(directory.path()).arg("run").output().unwrap();
    assert_eq!(output.status.code(), Some(78), "{}", stderr(&output));
    assert!(stderr(&output).contains("the store is damaged; no more mail is taken"), "{}", stderr(&output));
}

#[test]
fn the_daemon_backs_the_store_up_daily_into_the_backup_folder() {
    let directory = tempfile::tempdir().unwrap();
    assert!(run(directory.path(), &["ingest", EXAMPLE]).status.success());
    let config = format!("{}\n[backup]\ndir = \"backups\"\nkeep = 2\n", sitrep::config::EMBEDDED_DEFAULT);
    std::fs::write(directory.path().join("sitrep.toml"), config).unwrap();
    let backups = directory.path().join("backups");
    // Three older backups, of which the daemon keeps the newest one beside its own.
    std::fs::create_dir_all(&backups).unwrap();
    for name in ["sitrep-20261101T000000Z.db", "sitrep-20261102T000000Z.db", "sitrep-20261103T000000Z.db"] {
        std::fs::write(backups.join(name), "old").unwrap();
    }
    std::fs::write(backups.join("notes.txt"), "not sitrep's").unwrap();
    let daemon = Running(sitrep(directory.path()).arg("run").stderr(Stdio::null()).spawn().unwrap());
    wait_for("a backup", || files_in(&backups).len() == 3 && !backups.join("sitrep-20261101T000000Z.db").exists());
    terminate(&daemon);
    let mut names: Vec<String> =
        files_in(&backups).iter().map(|path| path.file_name().unwrap().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names[..2], ["notes.txt", "sitrep-20261103T000000Z.db"]);
    let copy = rusqlite::Connection::open(backups.join(&names[2])).unwrap();
    let incidents: i64 = copy.query_row("SELECT COUNT(*) FROM incidents", [], |row| row.get(0)).unwrap();
    assert_eq!(incidents, 1, "the backup is a whole store");
}

#[test]
fn status_says_when_the_hourly_cap_on_replies_was_reached() {
    let directory = tempfile::tempdir().unwrap();
    let config = format!("{}\n[limits]\nreplies_per_hour = 1\n", sitrep::config::EMBEDDED_DEFAULT);
    std::fs::write(directory.path().join("sitrep.toml"), config).unwrap();
    assert!(run(directory.path(), &["ingest", EXAMPLE]).status.success());
    assert!(!stdout(&run(directory.path(), &["status"])).contains("reply cap"), "acknowledgements do not count");
    for index in 0..2 {
        let path = directory.path().join(format!("update{index}.eml"));
        let update = format!(
            "From: Alice <alice@example.test>\r\nTo: incident@example.test\r\nSubject: Re: [INC-1] update {index}\r\nMessage-ID: <update{index}@example.test>\r\n\r\nscope FS0{index}\r\n"
        );
        std::fs::write(&path, update).unwrap();
        assert!(run(directory.path(), &["ingest", path.to_str().unwrap()]).status.success());
    }
    let report = stdout(&run(directory.path(), &["status"]));
    assert!(report.contains("reply cap:      1 automatic replies in the last hour; more are dropped"), "{report}");
}

/// A daemon whose stderr reader went away (`sitrep run 2>&1 | head`) keeps
/// working and still stops on SIGTERM.
#[test]
fn the_daemon_outlives_a_closed_stderr_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let directory = tempfile::tempdir().unwrap();
    let mut daemon =
        Running(sitrep(directory.path()).arg("run").env("RUST_LOG", "info").stderr(Stdio::piped()).spawn().unwrap());
    let mut log = BufReader::new(daemon.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "the daemon ended before it was ready");
    }
    drop(log);
    let maildir = directory.path().join("var/inbox");
    deliver(&maildir, "1700000000.M1P1.host", &std::fs::read(EXAMPLE).unwrap());
    wait_for("the acknowledgement, logged to nowhere", || files_in(&directory.path().join("var/outbox")).len() == 1);
    terminate(&daemon);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop the daemon within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

/// A reader that goes away (`| head -1`) ends a command quietly, with 0.
#[test]
fn a_closed_stdout_ends_commands_quietly() {
    let directory = tempfile::tempdir().unwrap();
    assert!(run(directory.path(), &["ingest", EXAMPLE]).status.success());
    for arguments in [&["completions", "zsh"][..], &["export", "--json"], &["man"], &["list"]] {
        let mut child =
            sitrep(directory.path()).args(arguments).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{arguments:?}: {}", stderr(&output));
        assert!(output.stderr.is_empty(), "{arguments:?}: {}", stderr(&output));
    }
}

/// A password file that is not there is a configuration error, found by
/// `check-config` and refused by `run` with 78, which systemd does not
/// restart: restarting cannot make it appear.
#[test]
fn a_missing_password_file_is_a_configuration_error() {
    let directory = tempfile::tempdir().unwrap();
    let config = sitrep::config::EMBEDDED_DEFAULT.replace(
        "kind = \"file\"\npath = \"var/outbox\"",
        "kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nusername = \"incident\"\npassword_file = \"smtp-password\"",
    );
    assert!(config.contains("smtp-password"), "the embedded default changed: {config}");
    std::fs::write(directory.path().join("sitrep.toml"), config).unwrap();
    for command in ["check-config", "run"] {
        let output = run(directory.path(), &[command]);
        assert_eq!(output.status.code(), Some(78), "{command}: {}", stderr(&output));
        assert!(stderr(&output).contains("transport.password_file"), "{command}: {}", stderr(&output));
    }
    std::fs::write(directory.path().join("smtp-password"), "secret\n").unwrap();
    assert!(run(directory.path(), &["check-config"]).status.success());
}

/// Under systemd each line starts with its syslog priority, which journald
/// reads, and leaves the time to the journal.
#[test]
fn under_journald_each_log_line_carries_its_priority() {
    use std::os::unix::fs::MetadataExt;
    let directory = tempfile::tempdir().unwrap();
    let log_path = directory.path().join("journal");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let metadata = log_file.metadata().unwrap();
    let stream = format!("{}:{}", metadata.dev(), metadata.ino());
    let status = sitrep(directory.path())
        .args(["ingest", EXAMPLE])
        .env("JOURNAL_STREAM", &stream)
        .env("RUST_LOG", "info")
        .stderr(Stdio::from(log_file))
        .status()
        .unwrap();
    assert!(status.success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().any(|line| line.starts_with("<6> INFO message ingested")), "{log}");
    assert!(
        log.lines().all(|line| line.starts_with("<6>") || line.starts_with("<4>") || line.starts_with("<3>")),
        "{log}"
    );
    // A child that inherited the variable but writes elsewhere: plain lines.
    let second = directory.path().join("second.eml");
    std::fs::write(&second, fixture("030-declaration-plain.eml").replace_company()).unwrap();
    let inherited = sitrep(directory.path())
        .args(["ingest", second.to_str().unwrap()])
        .env("JOURNAL_STREAM", &stream)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let plain = stderr(&inherited);
    assert!(plain.contains("INFO message ingested") && !plain.contains("<6>"), "{plain}");
}

/// `sitrep ingest a b c | head -1`: every message is taken, whoever reads.
#[test]
fn ingest_takes_every_message_when_its_reader_goes_away() {
    let directory = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for index in 0..3 {
        let path = directory.path().join(format!("{index}.eml"));
        let declaration = format!(
            "From: Alice <alice@example.test>\r\nTo: incident@example.test\r\nSubject: Lost badge {index}\r\nMessage-ID: <badge{index}@example.test>\r\n\r\nLeft at the gym.\r\n"
        );
        std::fs::write(&path, declaration).unwrap();
        paths.push(path);
    }
    let mut child = sitrep(directory.path()).arg("ingest").args(&paths).stdout(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(export(directory.path())["incidents"].as_array().unwrap().len(), 3);
}

//! Against a real Postfix and Dovecot on loopback, started by
//! `tests/mailstack/stack.sh up DIR`; `SITREP_MAILSTACK=DIR` points here.
//! Tests take turns: some stop and start the servers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::{SmtpTransport, Transport};

mod out_of_band;

static TURN: Mutex<()> = Mutex::new(());

struct Stack {
    directory: PathBuf,
    smtp_port: u16,
    imap_port: u16,
    /// IMAP over TLS from the first byte.
    imaps_port: u16,
    /// SMTP submission: STARTTLS and a login required.
    submission_port: u16,
    /// The throwaway authority that signed the servers' certificate.
    ca_file: PathBuf,
    /// OAuth 2 tokens Dovecot accepts, a line `TOKEN USER` each.
    oauth_tokens: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

/// The running stack, or `None` (with a note) outside CI when there is none.
fn stack() -> Option<Stack> {
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(directory) = std::env::var_os("SITREP_MAILSTACK").map(PathBuf::from) else {
        assert!(std::env::var_os("CI").is_none(), "CI must run the mail stack tests: set SITREP_MAILSTACK");
        eprintln!("skipped: no mail stack (run tests/mailstack/stack.sh up DIR and set SITREP_MAILSTACK=DIR)");
        return None;
    };
    let env = std::fs::read_to_string(directory.join("stack.env")).expect("stack.env");
    let value = |key: &str| {
        env.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in stack.env"))
            .to_string()
    };
    Some(Stack {
        smtp_port: value("SMTP_PORT").parse().unwrap(),
        imap_port: value("IMAP_PORT").parse().unwrap(),
        imaps_port: value("IMAPS_PORT").parse().unwrap(),
        submission_port: value("SUBMISSION_PORT").parse().unwrap(),
        ca_file: PathBuf::from(value("CA_FILE")),
        oauth_tokens: PathBuf::from(value("OAUTH_TOKENS")),
        directory,
        _turn: turn,
    })
}

impl Stack {
    fn maildir(&self, user: &str) -> PathBuf {
        self.directory.join("mail/company.test").join(user).join("Maildir")
    }

    fn send(&self, from: &str, to: &str, raw: &[u8]) {
        let transport = SmtpTransport::builder_dangerous("127.0.0.1").port(self.smtp_port).build();
        let envelope = Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
        transport.send_raw(&envelope, raw).expect("Postfix accepts the mail");
    }

    fn control(&self, arguments: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mailstack/stack.sh");
        let status = Command::new("bash").arg(script).args(arguments).arg(&self.directory).status().unwrap();
        assert!(status.success(), "stack.sh {arguments:?}");
    }

    /// Empties a user's folders, so a test starts clean on a reused stack.
    fn empty(&self, user: &str) {
        self.doveadm(&["expunge", "-u", &format!("{user}@company.test"), "mailbox", "*", "all"]);
    }

    fn doveadm(&self, arguments: &[&str]) {
        let config = self.directory.join("dovecot/dovecot.conf");
        let status = Command::new("doveadm").arg("-c").arg(config).args(arguments).status().unwrap();
        assert!(status.success(), "doveadm {arguments:?}");
    }

    /// A sitrep configuration reading `incident` over IMAP and sending through Postfix.
    fn sitrep_home(&self, incident: &str, extra_mailbox: &str) -> tempfile::TempDir {
        self.empty(incident);
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("password"), format!("{incident}-secret\n")).unwrap();
        let config = format!(
            r#"address = "{incident}@company.test"
data_dir = "var"

[mailbox]
kind = "imap"
host = "127.0.0.1"
port = {imap}
tls = "none"
username = "{incident}@company.test"
password_file = "password"
timeout_secs = 10
{extra_mailbox}

[transport]
kind = "smtp"
host = "127.0.0.1"
port = {smtp}
tls = "none"
timeout_secs = 10
first_retry_secs = 1

[access]
staff_domains = ["company.test"]

# The tests send bursts of declarations that a site would call a storm.
[limits]
declarations_per_sender_per_hour = 10000
declarations_per_hour = 10000
"#,
            imap = self.imap_port,
            smtp = self.smtp_port,
        );
        std::fs::write(home.path().join("sitrep.toml"), config).unwrap();
        home
    }
}

/// A running `sitrep run`, killed if the test fails before stopping it;
/// `log_from` is where its lines start in the shared log.
struct Daemon(Option<Child>, PathBuf, usize);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start(home: &Path) -> Daemon {
    let log_path = home.join("sitrep.log");
    let log_from = std::fs::metadata(&log_path).map_or(0, |metadata| metadata.len() as usize);
    let log = std::fs::File::options().create(true).append(true).open(&log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .arg("run")
        .current_dir(home)
        .env("RUST_LOG", "info")
        .env_remove("SITREP_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    Daemon(Some(child), log_path, log_from)
}

fn stop(mut daemon: Daemon) {
    let mut child = daemon.0.take().unwrap();
    // SIGTERM before the handler is installed would just kill it.
    wait_for("the daemon to start", 20, || {
        std::fs::read(&daemon.1)
            .is_ok_and(|log| String::from_utf8_lossy(&log[daemon.2.min(log.len())..]).contains("sitrep running"))
    });
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "sitrep exited with {status}");
}

fn kill(mut daemon: Daemon) {
    let mut child = daemon.0.take().unwrap();
    let _ = child.kill();
    let _ = child.wait();
}

fn export(home: &Path) -> serde_json::Value {
    let output =
        Command::new(env!("CARGO_BIN_EXE_sitrep")).args(["export", "--json"]).current_dir(home).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn wait_for(what: &str, seconds: u64, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every message in a Maildir (new and cur) whose text contains `needle`.
fn mails_containing(maildir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for folder in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(folder)) else { continue };
        for entry in entries {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
            if text.contains(needle) {
                found.push(text);
            }
        }
    }
    found
}

fn message_count(maildir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .map(|folder| std::fs::read_dir(maildir.join(folder)).map_or(0, |entries| entries.count()))
        .sum()
}

fn declaration(from: &str, incident: &str, id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {incident}@company.test\r\nCc: bob@company.test\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Fri, 27 Nov 2026 02:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines().find_map(|line| line.strip_prefix(&format!("{name}: ")))
}

#[test]
fn a_declaration_over_smtp_is_acknowledged_in_the_declarers_mailbox_and_replies_join_it() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident1", "");
    let sitrep = start(home.path());
    let id = format!("e2e-declare-{}@company.test", std::process::id());
    stack.send(
        "alice@company.test",
        "incident1@company.test",
        &declaration(
            "Alice <alice@company.test>",
            "incident1",
            &id,
            "Payroll mailbox compromised",
            "The payroll mailbox forwards to an outside address.",
        ),
    );
    let in_reply_to = format!("In-Reply-To: <{id}>");
    wait_for("the ack in alice's mailbox", 20, || !mails_containing(&stack.maildir("alice"), &in_reply_to).is_empty());
    let ack = mails_containing(&stack.maildir("alice"), &in_reply_to).remove(0);
    assert!(header(&ack, "Subject").unwrap().starts_with("[INC-1] Payroll mailbox compromised"), "{ack}");
    assert_eq!(header(&ack, "Auto-Submitted"), Some("auto-replied"));
    wait_for("bob, in Cc, to get the ack too", 20, || {
        !mails_containing(&stack.maildir("bob"), &in_reply_to).is_empty()
    });

    let reply = format!(
        "From: Bob <bob@company.test>\r\nTo: incident1@company.test\r\nSubject: Re: [INC-1] Payroll mailbox compromised\r\nMessage-ID: <e2e-reply-{pid}@company.test>\r\nIn-Reply-To: <{id}>\r\nReferences: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nForwarding rule removed, password reset.\r\n\r\nOn Fri, 27 Nov 2026 at 02:00, Alice wrote:\r\n> The payroll mailbox forwards to an outside address.\r\n",
        pid = std::process::id()
    );
    stack.send("bob@company.test", "incident1@company.test", reply.as_bytes());
    wait_for("the update on the timeline", 20, || {
        export(home.path())["incidents"][0]["timeline"].as_array().is_some_and(|timeline| timeline.len() == 2)
    });
    let document = export(home.path());
    assert_eq!(document["incidents"][0]["timeline"][1]["text"], "Forwarding rule removed, password reset.");
    assert_eq!(message_count(&stack.maildir("incident1")), 0, "both messages were moved out of INBOX");
    stop(sitrep);
}

#[test]
fn a_backlog_survives_repeated_sigkill_exactly_once() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident2", "");
    let count = 200;
    for number in 0..count {
        let id = format!("backlog-{number}-{}@company.test", std::process::id());
        stack.send(
            "alice@company.test",
            "incident2@company.test",
            &declaration("alice@company.test", "incident2", &id, &format!("Backlog incident {number}"), "Lost laptop."),
        );
    }
    wait_for("the backlog in the INBOX", 60, || message_count(&stack.maildir("incident2")) == count);
    let stored = || {
        rusqlite::Connection::open(home.path().join("var/sitrep.db"))
            .and_then(|store| store.query_row("SELECT COUNT(*) FROM messages", [], |row| row.get::<_, i64>(0)))
            .map_or(0, |stored| stored as usize)
    };
    // Each round is killed while it works: after a few more messages are
    // stored, at a random point between commits.
    let mut round = 0u64;
    while stored() < count && round < 60 {
        let target = (stored() + 5 + fastrand::usize(0..20)).min(count);
        let sitrep = start(home.path());
        wait_for("progress", 30, || stored() >= target);
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..20)));
        kill(sitrep);
        round += 1;
    }
    // One clean run finishes whatever the last kill interrupted.
    let sitrep = start(home.path());
    wait_for("every message moved out of INBOX", 60, || message_count(&stack.maildir("incident2")) == 0);
    stop(sitrep);
    let document = export(home.path());
    assert!(round >= 2, "the daemon was killed at least once while working");
    assert_eq!(document["messages"].as_array().unwrap().len(), count, "each message stored exactly once");
    let mut titles: Vec<&str> =
        document["incidents"].as_array().unwrap().iter().map(|incident| incident["title"].as_str().unwrap()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), count, "no incident declared twice");
    assert_eq!(document["incidents"].as_array().unwrap().len(), count);
}

#[test]
fn acks_queued_while_postfix_is_down_arrive_once_it_is_back() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident3", "");
    let ids: Vec<String> = (0..3).map(|n| format!("outage-{n}-{}@company.test", std::process::id())).collect();
    for (number, id) in ids.iter().enumerate() {
        stack.send(
            "alice@company.test",
            "incident3@company.test",
            &declaration(
                "alice@company.test",
                "incident3",
                id,
                &format!("Outage {number}"),
                "Printer asks for a password.",
            ),
        );
    }
    wait_for("the declarations in the INBOX", 20, || message_count(&stack.maildir("incident3")) == 3);
    stack.control(&["postfix", "stop"]);
    let sitrep = start(home.path());
    wait_for("all three declarations ingested", 20, || {
        export(home.path())["incidents"].as_array().is_some_and(|list| list.len() == 3)
    });
    wait_for("a failed delivery attempt", 20, || {
        export(home.path())["outbox"].as_array().unwrap().iter().all(|row| row["attempts"].as_u64() >= Some(1))
    });
    stack.control(&["postfix", "start"]);
    wait_for("every ack sent", 90, || {
        export(home.path())["outbox"].as_array().unwrap().iter().all(|row| row["status"] == "sent")
    });
    stop(sitrep);
    let document = export(home.path());
    for id in &ids {
        let acks = mails_containing(&stack.maildir("alice"), &format!("In-Reply-To: <{id}>"));
        wait_for("the ack delivered to alice", 30, || {
            !mails_containing(&stack.maildir("alice"), &format!("In-Reply-To: <{id}>")).is_empty()
        });
        assert!(acks.len() <= 2, "at most one repeat of {id}");
        for ack in &acks {
            let message_id = header(ack, "Message-ID").unwrap().trim_matches(['<', '>']);
            assert!(
                document["outbox"].as_array().unwrap().iter().any(|row| row["message_id"] == message_id),
                "no new Message-ID"
            );
        }
    }
}

#[test]
fn after_dovecot_restarts_sitrep_reconnects_and_takes_what_arrived() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident4", "");
    let sitrep = start(home.path());
    wait_for("the IMAP session", 20, || {
        std::fs::read_to_string(home.path().join("sitrep.log")).unwrap_or_default().contains("IMAP mailbox selected")
    });
    stack.control(&["dovecot", "restart"]);
    let id = format!("restart-{}@company.test", std::process::id());
    stack.send(
        "alice@company.test",
        "incident4@company.test",
        &declaration("alice@company.test", "incident4", &id, "After the restart", "Mail while IMAP was down."),
    );
    wait_for("the declaration after reconnecting", 60, || {
        export(home.path())["incidents"].as_array().is_some_and(|list| list.len() == 1)
    });
    stop(sitrep);
}

#[test]
fn mail_already_read_by_a_person_is_still_taken() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident5", "");
    let id = format!("seen-{}@company.test", std::process::id());
    stack.send(
        "alice@company.test",
        "incident5@company.test",
        &declaration("alice@company.test", "incident5", &id, "Read already", "Somebody opened this first."),
    );
    wait_for("the declaration in the INBOX", 20, || message_count(&stack.maildir("incident5")) == 1);
    stack.doveadm(&["flags", "add", "-u", "incident5@company.test", "\\Seen", "mailbox", "INBOX", "1:*"]);
    let sitrep = start(home.path());
    wait_for("the seen message ingested", 20, || {
        export(home.path())["incidents"].as_array().is_some_and(|list| list.len() == 1)
    });
    stop(sitrep);
}

#[test]
fn a_changed_uidvalidity_rescans_without_duplicates() {
    let Some(stack) = stack() else { return };
    // Flag instead of move, so the first message is still there to rescan.
    let home = stack.sitrep_home("incident6", "after = \"flag\"");
    let first = format!("uidv-1-{}@company.test", std::process::id());
    stack.send(
        "alice@company.test",
        "incident6@company.test",
        &declaration("alice@company.test", "incident6", &first, "Before the change", "One."),
    );
    let sitrep = start(home.path());
    wait_for("the first declaration", 20, || {
        export(home.path())["incidents"].as_array().is_some_and(|list| list.len() == 1)
    });
    stop(sitrep);
    let new_validity = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        % 1_000_000_000)
        .to_string();
    stack.doveadm(&["mailbox", "update", "-u", "incident6@company.test", "--uid-validity", &new_validity, "INBOX"]);
    let second = format!("uidv-2-{}@company.test", std::process::id());
    stack.send(
        "alice@company.test",
        "incident6@company.test",
        &declaration("alice@company.test", "incident6", &second, "After the change", "Two."),
    );
    wait_for("both messages in the INBOX", 20, || message_count(&stack.maildir("incident6")) == 2);
    let sitrep = start(home.path());
    wait_for("the second declaration", 20, || {
        export(home.path())["incidents"].as_array().is_some_and(|list| list.len() == 2)
    });
    stop(sitrep);
    let document = export(home.path());
    assert_eq!(document["messages"].as_array().unwrap().len(), 2, "the rescanned message was not stored again");
    assert!(std::fs::read_to_string(home.path().join("sitrep.log")).unwrap().contains("UIDVALIDITY changed"));
}

#[test]
fn a_lone_dot_and_bare_line_feeds_cannot_smuggle_a_recipient() {
    use sitrep::compose::{self, AutoSubmitted, Draft};
    use sitrep::config::{SmtpConfig, TlsMode, TransportConfig};
    use sitrep::core::access::IncidentAddress;
    use sitrep::core::incident::{MailKind, Route};
    use sitrep::outbox::Sender;
    use sitrep::store::{NewOutgoing, Store};

    let Some(stack) = stack() else { return };
    stack.empty("carol");
    let directory = tempfile::tempdir().unwrap();
    let mut store = Store::open(&directory.path().join("sitrep.db")).unwrap();
    let address = IncidentAddress::parse("incident7@company.test").unwrap();
    let marker = format!("smuggle-{}", std::process::id());
    let body = format!(
        "Update from the field.\n.\nMAIL FROM:<incident7@company.test>\nRCPT TO:<carol@company.test>\nDATA\n{marker}\r\n.\r\nstill the same mail\n"
    );
    let draft = Draft {
        from: address.with_detail(None),
        to: vec!["bob@company.test".into()],
        cc: Vec::new(),
        subject: format!("{marker} test"),
        body,
        html: None,
        message_id: compose::new_message_id(&address),
        in_reply_to: None,
        references: Vec::new(),
        auto_submitted: AutoSubmitted::Generated,
        loop_marker: address.with_detail(None),
    };
    let now = jiff::Timestamp::now();
    let raw = compose::compose(&draft, now).unwrap();
    let transaction = store.write().unwrap();
    let outgoing = NewOutgoing {
        kind: MailKind::Notice,
        incident: None,
        to: draft.to.clone(),
        cc: Vec::new(),
        subject: draft.subject.clone(),
        message_id: draft.message_id.clone(),
        body: draft.body.clone(),
        raw,
        envelope_from: address.with_detail(None),
        route: Route::Primary,
    };
    transaction.enqueue(&outgoing, now).unwrap();
    transaction.commit().unwrap();
    let smtp = SmtpConfig {
        host: "127.0.0.1".into(),
        port: stack.smtp_port,
        tls: TlsMode::None,
        ca_file: None,
        credentials: None,
        xoauth2: false,
        helo_name: Some("sitrep.company.test".into()),
        timeout: Duration::from_secs(10),
    };
    let mut sender = Sender::new(&TransportConfig::Smtp(smtp), Duration::from_secs(1)).unwrap();
    assert_eq!(sender.drain(&mut store, now).unwrap().sent, 1);
    wait_for("the mail in bob's mailbox", 20, || {
        !mails_containing(&stack.maildir("bob"), &format!("{marker} test")).is_empty()
    });
    let received = mails_containing(&stack.maildir("bob"), &format!("{marker} test")).remove(0);
    assert!(received.contains("still the same mail"), "the mail arrived whole:\n{received}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(mails_containing(&stack.maildir("carol"), &marker).is_empty(), "no smuggled recipient");
}

#[test]
fn a_refused_recipient_fails_alone_and_is_listed_by_sitrep_outbox() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident7", "");
    let sitrep = start(home.path());
    let id = format!("refused-{}@company.test", std::process::id());
    let raw = format!(
        "From: alice@company.test\r\nTo: incident7@company.test\r\nCc: ghost@company.test\r\nSubject: Refused recipient\r\nMessage-ID: <{id}>\r\n\r\nGhost is not a mailbox.\r\n"
    );
    stack.send("alice@company.test", "incident7@company.test", raw.as_bytes());
    wait_for("the ack to alice", 20, || {
        !mails_containing(&stack.maildir("alice"), &format!("In-Reply-To: <{id}>")).is_empty()
    });
    wait_for("the refusal recorded", 20, || export(home.path())["outbox"][0]["status"] == "failed");
    stop(sitrep);
    let listing = Command::new(env!("CARGO_BIN_EXE_sitrep")).arg("outbox").current_dir(home.path()).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(
        listing.contains("ghost@company.test") && listing.contains("failed") && listing.contains("550"),
        "{listing}"
    );
    assert!(!listing.contains("alice@company.test"), "alice's copy went through: {listing}");
    let retried = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["outbox", "--retry", "1"])
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&retried.stdout).contains("1 failed deliveries queued again"));
    assert_eq!(export(home.path())["outbox"][0]["status"], "queued");
}

#[test]
fn doctor_checks_the_real_servers_and_explains_a_dead_one() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident8", "");
    let doctor = |home: &Path, arguments: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sitrep")).arg("doctor").args(arguments).current_dir(home).output().unwrap()
    };
    // Before the first run, as install.md has it: the folder for processed
    // mail does not exist yet, and that is no failure.
    let fresh = doctor(home.path(), &[]);
    let report = String::from_utf8_lossy(&fresh.stdout).to_string();
    assert!(fresh.status.success(), "{report}");
    assert!(report.contains("answers EHLO; no login configured"), "{report}");
    stop(start(home.path()));
    let healthy = doctor(home.path(), &["--send-test", "bob@company.test"]);
    let report = String::from_utf8_lossy(&healthy.stdout).to_string();
    assert!(healthy.status.success(), "{report}");
    assert!(report.contains("PASS mailbox") && report.contains("IDLE offered"), "{report}");
    assert!(report.contains("PASS transport") && report.contains("PASS test mail"), "{report}");
    wait_for("the test mail", 20, || !mails_containing(&stack.maildir("bob"), "sitrep test mail").is_empty());

    let config = std::fs::read_to_string(home.path().join("sitrep.toml")).unwrap();
    let dead = config
        .replace(&format!("port = {}", stack.imap_port), "port = 1")
        .replace(&format!("port = {}", stack.smtp_port), "port = 2");
    std::fs::write(home.path().join("sitrep.toml"), dead).unwrap();
    let failing = doctor(home.path(), &[]);
    let report = String::from_utf8_lossy(&failing.stdout).to_string();
    assert_eq!(failing.status.code(), Some(1), "{report}");
    assert!(report.contains("FAIL mailbox") && report.contains("FAIL transport"), "{report}");
    assert!(report.contains("hint: check host, port and tls"), "{report}");
}

#[test]
fn a_digest_reaches_each_executive_alone_with_its_html_alternative() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident9", "");
    let config = home.path().join("sitrep.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text + "\n[stakeholders]\nexecutives = [\"ceo@company.test\", \"cfo@company.test\"]\n")
        .unwrap();
    for user in ["ceo", "cfo"] {
        stack.empty(user);
    }
    let sitrep = start(home.path());
    let id = format!("e2e-digest-{}@company.test", std::process::id());
    stack.send(
        "alice@company.test",
        "incident9@company.test",
        &declaration(
            "Alice <alice@company.test>",
            "incident9",
            &id,
            "Card skimmer at the front desk [sev high; lead me; digest now]",
            "A skimmer was found on the card terminal.",
        ),
    );
    for user in ["ceo", "cfo"] {
        wait_for("the digest", 20, || !mails_containing(&stack.maildir(user), "Status 1: high").is_empty());
        let digest = mails_containing(&stack.maildir(user), "Status 1: high").remove(0);
        assert_eq!(header(&digest, "To"), Some(format!("{user}@company.test").as_str()), "{digest}");
        assert!(digest.contains("multipart/alternative") && digest.contains("text/html"), "{digest}");
        assert!(digest.contains("A skimmer was found on the card terminal."), "{digest}");
        assert_eq!(header(&digest, "Auto-Submitted"), Some("auto-generated"));
    }
    stop(sitrep);
}

/// Addresses no relay would take, in From, To or Cc of mail read over IMAP,
/// hold up nothing: each message is stored and marked, and the declaration
/// after them is answered through Postfix.
#[test]
fn malformed_addresses_over_imap_never_stop_the_next_message() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident5", "");
    let sitrep = start(home.path());
    let pid = std::process::id();
    let malformed = [
        ("From", "jack.:urner@company.test"),
        ("To", "alice morgan@company.test"),
        ("Cc", "alice..morgan@company.test"),
        ("From", ".alice@company.test"),
        ("Cc", "a@b.tes@company.test"),
    ];
    for (index, (header, address)) in malformed.iter().enumerate() {
        let from = if *header == "From" { format!("<{address}>") } else { "Alice <alice@company.test>".to_string() };
        let to = if *header == "To" {
            format!("incident5@company.test, <{address}>")
        } else {
            "incident5@company.test".to_string()
        };
        let cc = if *header == "Cc" { format!("\r\nCc: bob@company.test, <{address}>") } else { String::new() };
        let raw = format!(
            "From: {from}\r\nTo: {to}{cc}\r\nSubject: Odd address {index}\r\nMessage-ID: <odd-{index}-{pid}@company.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nSomething odd.\r\n"
        );
        stack.send("alice@company.test", "incident5@company.test", raw.as_bytes());
    }
    let id = format!("after-odd-{pid}@company.test");
    let genuine = declaration("Alice <alice@company.test>", "incident5", &id, "Stolen laptop", "Left on the train.");
    stack.send("alice@company.test", "incident5@company.test", &genuine);
    let in_reply_to = format!("In-Reply-To: <{id}>");
    wait_for("the ack of the declaration after them", 30, || {
        !mails_containing(&stack.maildir("alice"), &in_reply_to).is_empty()
    });
    wait_for("every message marked", 20, || message_count(&stack.maildir("incident5")) == 0);
    let document = export(home.path());
    assert_eq!(document["messages"].as_array().unwrap().len(), malformed.len() + 1, "each stored once");
    stop(sitrep);
}

/// A crash between Postfix's answer and sitrep's record of it repeats that
/// one delivery once, with its Message-ID, and nothing else.
#[test]
fn a_crash_after_postfix_answered_repeats_that_delivery_once() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident4", "");
    let id = format!("after-send-{}@company.test", std::process::id());
    let raw = declaration("Alice <alice@company.test>", "incident4", &id, "Laptop stolen", "Left on the train.");
    stack.send("alice@company.test", "incident4@company.test", &raw);
    wait_for("the declaration in the INBOX", 20, || message_count(&stack.maildir("incident4")) == 1);
    let crashed = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .arg("run")
        .current_dir(home.path())
        .env("SITREP_FAILPOINT", "after_send")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!crashed.success(), "the failpoint aborts after the first answer");
    let sitrep = start(home.path());
    wait_for("the ack sent to everyone", 30, || {
        export(home.path())["outbox"].as_array().unwrap().iter().all(|row| row["status"] == "sent")
    });
    stop(sitrep);
    let in_reply_to = format!("In-Reply-To: <{id}>");
    let copies = || {
        mails_containing(&stack.maildir("alice"), &in_reply_to).len()
            + mails_containing(&stack.maildir("bob"), &in_reply_to).len()
    };
    wait_for("alice's and bob's copies", 20, || copies() >= 3);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(copies(), 3, "one delivery repeated, once: alice and bob each get the ack, one of them twice");
    let ids: Vec<String> = ["alice", "bob"]
        .iter()
        .flat_map(|user| mails_containing(&stack.maildir(user), &in_reply_to))
        .map(|mail| header(&mail, "Message-ID").unwrap().to_string())
        .collect();
    assert!(ids.iter().all(|each| *each == ids[0]), "the repeat has the Message-ID it was queued with: {ids:?}");
}

/// `home`'s configuration with the mailbox and the relay reached over TLS:
/// `mailbox` and `transport` are their `tls` modes, `host` the name used,
/// and the stack's authority trusted only when `trust_ca`.
fn over_tls(stack: &Stack, home: &Path, incident: &str, mailbox: &str, host: &str, trust_ca: bool) {
    let path = home.join("sitrep.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let ca = if trust_ca { format!("ca_file = \"{}\"\n", stack.ca_file.display()) } else { String::new() };
    let imap_port = if mailbox == "tls" { stack.imaps_port } else { stack.imap_port };
    let config = config
        .replace(
            &format!("host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n", stack.imap_port),
            &format!("host = \"{host}\"\nport = {imap_port}\ntls = \"{mailbox}\"\n{ca}"),
        )
        .replace(
            &format!("host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n", stack.smtp_port),
            &format!(
                "host = \"{host}\"\nport = {}\ntls = \"starttls\"\n{ca}username = \"{incident}@company.test\"\n\
                 password_file = \"password\"\n",
                stack.submission_port
            ),
        );
    assert!(config.contains(&format!("port = {imap_port}")) && config.contains("starttls"), "{config}");
    std::fs::write(&path, config).unwrap();
}

#[test]
fn mail_flows_over_implicit_tls_and_submission_with_starttls_and_a_login() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident3", "");
    over_tls(&stack, home.path(), "incident3", "tls", "127.0.0.1", true);
    let sitrep = start(home.path());
    let id = format!("e2e-tls-{}@company.test", std::process::id());
    let declaration =
        declaration("Alice <alice@company.test>", "incident3", &id, "VPN logins from abroad", "Three at 01:00.");
    stack.send("alice@company.test", "incident3@company.test", &declaration);
    let in_reply_to = format!("In-Reply-To: <{id}>");
    wait_for("the ack, sent through submission", 20, || {
        !mails_containing(&stack.maildir("alice"), &in_reply_to).is_empty()
    });
    stop(sitrep);
}

#[test]
fn starttls_is_checked_like_tls_and_a_refused_certificate_says_what_to_fix() {
    let Some(stack) = stack() else { return };
    let home = stack.sitrep_home("incident8", "");
    let doctor = |home: &Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_sitrep")).arg("doctor").current_dir(home).output().unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stdout).to_string())
    };
    over_tls(&stack, home.path(), "incident8", "starttls", "127.0.0.1", true);
    let (code, report) = doctor(home.path());
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("PASS mailbox") && report.contains("PASS transport"), "{report}");
    assert!(report.contains("accepts the login"), "{report}");

    // The certificate is for mail.company.test and 127.0.0.1, not localhost.
    let home = stack.sitrep_home("incident8", "");
    over_tls(&stack, home.path(), "incident8", "tls", "localhost", true);
    let (code, report) = doctor(home.path());
    assert_eq!(code, Some(1), "{report}");
    for check in ["FAIL mailbox", "FAIL transport"] {
        let line = report.lines().find(|line| line.starts_with(check)).unwrap_or_else(|| panic!("{report}"));
        assert!(line.contains("the certificate of localhost is for") && line.contains("127.0.0.1"), "{line}");
    }

    // Without the stack's authority the certificate is nobody this machine trusts.
    let home = stack.sitrep_home("incident8", "");
    over_tls(&stack, home.path(), "incident8", "tls", "127.0.0.1", false);
    let (code, report) = doctor(home.path());
    assert_eq!(code, Some(1), "{report}");
    let mailbox = report.lines().find(|line| line.starts_with("FAIL mailbox")).unwrap_or_else(|| panic!("{report}"));
    assert!(mailbox.contains("an authority this machine does not trust") && mailbox.contains("ca_file"), "{mailbox}");
}

/// `home`'s mailbox and relay logging in with XOAUTH2 over TLS, their token from
/// `token_command`.
fn with_oauth(stack: &Stack, home: &Path, incident: &str, token_command: &str) {
    over_tls(stack, home, incident, "tls", "127.0.0.1", true);
    let path = home.join("sitrep.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let mailbox_login = format!("username = \"{incident}@company.test\"\npassword_file = \"password\"\ntimeout_secs");
    assert!(config.contains(&mailbox_login), "{config}");
    let oauth = format!(
        "username = \"{incident}@company.test\"\nauth = \"xoauth2\"\ntoken_command = \"{token_command}\"\ntimeout_secs"
    );
    // The first login is the mailbox's, the second the relay's.
    std::fs::write(&path, config.replace(&mailbox_login, &oauth)).unwrap();
}

#[test]
fn xoauth2_logs_in_with_a_fresh_token_and_a_failing_token_command_is_said() {
    let Some(stack) = stack() else { return };
    let token = format!("token-{}", std::process::id());
    let mut tokens = std::fs::OpenOptions::new().append(true).open(&stack.oauth_tokens).unwrap();
    std::io::Write::write_all(&mut tokens, format!("{token} incident2@company.test\n").as_bytes()).unwrap();
    let home = stack.sitrep_home("incident2", "");
    with_oauth(&stack, home.path(), "incident2", &format!("printf {token}"));
    let sitrep = start(home.path());
    let id = format!("e2e-oauth-{}@company.test", std::process::id());
    let declaration = declaration("Alice <alice@company.test>", "incident2", &id, "Fake invoice paid", "Today, 09:10.");
    stack.send("alice@company.test", "incident2@company.test", &declaration);
    let in_reply_to = format!("In-Reply-To: <{id}>");
    wait_for("the ack, the mailbox read with a token", 20, || {
        !mails_containing(&stack.maildir("alice"), &in_reply_to).is_empty()
    });
    stop(sitrep);
    let relay_log = std::fs::read_to_string(stack.directory.join("log/postfix.log")).unwrap();
    assert!(relay_log.contains("sasl_method=XOAUTH2, sasl_username=incident2@company.test"), "the relay took a token");
    let log = std::fs::read_to_string(home.path().join("sitrep.log")).unwrap_or_default();
    assert!(!log.contains(&token), "a token is never logged");

    let home = stack.sitrep_home("incident2", "");
    with_oauth(&stack, home.path(), "incident2", "exit 3");
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_sitrep")).arg("doctor").current_dir(home.path()).output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(1), "{report}");
    let mailbox = report.lines().find(|line| line.starts_with("FAIL mailbox")).unwrap_or_else(|| panic!("{report}"));
    assert!(mailbox.contains("token_command") || mailbox.contains("exit"), "{mailbox}");
    assert!(started.elapsed() < Duration::from_secs(15), "no retrying in a loop");
}

#[test]
fn a_token_that_expires_mid_session_costs_one_reconnect_with_a_new_token_and_no_mail() {
    let Some(stack) = stack() else { return };
    let grant = |token: &str| {
        let mut tokens = std::fs::OpenOptions::new().append(true).open(&stack.oauth_tokens).unwrap();
        std::io::Write::write_all(&mut tokens, format!("{token} incident6@company.test\n").as_bytes()).unwrap();
    };
    let revoke = |token: &str| {
        let kept: String = std::fs::read_to_string(&stack.oauth_tokens)
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with(token))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(&stack.oauth_tokens, kept).unwrap();
    };
    let home = stack.sitrep_home("incident6", "");
    let current = home.path().join("token");
    let (first, second) = (format!("first-{}", std::process::id()), format!("second-{}", std::process::id()));
    std::fs::write(&current, &first).unwrap();
    grant(&first);
    with_oauth(&stack, home.path(), "incident6", &format!("cat {}", current.display()));
    let sitrep = start(home.path());
    let ack_for = |id: &str| {
        let in_reply_to = format!("In-Reply-To: <{id}>");
        wait_for("the ack", 30, || !mails_containing(&stack.maildir("alice"), &in_reply_to).is_empty());
    };
    let pid = std::process::id();
    let before = format!("e2e-expiry-1-{pid}@company.test");
    stack.send(
        "alice@company.test",
        "incident6@company.test",
        &declaration("Alice <alice@company.test>", "incident6", &before, "Laptop stolen", "On the train."),
    );
    ack_for(&before);

    // The token expires and the server ends the session; the next token is ready.
    revoke(&first);
    grant(&second);
    std::fs::write(&current, &second).unwrap();
    stack.doveadm(&["kick", "incident6@company.test"]);
    let after = format!("e2e-expiry-2-{pid}@company.test");
    stack.send(
        "alice@company.test",
        "incident6@company.test",
        &declaration("Alice <alice@company.test>", "incident6", &after, "Phone stolen", "At the station."),
    );
    ack_for(&after);
    stop(sitrep);
    let document = export(home.path());
    assert_eq!(document["incidents"].as_array().unwrap().len(), 2, "both declarations, none lost");
    let log = std::fs::read_to_string(home.path().join("sitrep.log")).unwrap();
    assert_eq!(log.matches("IMAP mailbox selected").count(), 2, "one reconnect: {log}");
    assert!(!log.contains(&first) && !log.contains(&second), "tokens are never logged");
}

/// A relay token that cannot be had makes each delivery a retry: nothing
/// fails for good, and nothing goes out without a login.
#[test]
fn without_a_relay_token_mail_waits_and_is_never_sent_without_a_login() {
    let Some(stack) = stack() else { return };
    let token = format!("mailbox-{}", std::process::id());
    let mut tokens = std::fs::OpenOptions::new().append(true).open(&stack.oauth_tokens).unwrap();
    std::io::Write::write_all(&mut tokens, format!("{token} incident9@company.test\n").as_bytes()).unwrap();
    let home = stack.sitrep_home("incident9", "");
    with_oauth(&stack, home.path(), "incident9", &format!("printf {token}"));
    // The relay's token command fails; the mailbox's works.
    let path = home.path().join("sitrep.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let relay_token = format!("token_command = \"printf {token}\"\ntimeout_secs = 10\nfirst_retry_secs");
    assert!(config.contains(&relay_token), "{config}");
    std::fs::write(
        &path,
        config.replace(&relay_token, "token_command = \"exit 3\"\ntimeout_secs = 10\nfirst_retry_secs"),
    )
    .unwrap();
    let sitrep = start(home.path());
    let id = format!("e2e-no-token-{}@company.test", std::process::id());
    let declaration = declaration("Alice <alice@company.test>", "incident9", &id, "Website defaced", "Since 08:00.");
    stack.send("alice@company.test", "incident9@company.test", &declaration);
    wait_for("a delivery attempt", 20, || {
        export(home.path())["outbox"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|row| row["attempts"].as_u64() >= Some(1)))
    });
    stop(sitrep);
    let outbox = export(home.path())["outbox"].clone();
    for row in outbox.as_array().unwrap() {
        assert_ne!(row["status"], "failed", "a retry, not a failure: {row}");
        assert_ne!(row["status"], "sent", "never without a login: {row}");
    }
    let in_reply_to = format!("In-Reply-To: <{id}>");
    assert!(mails_containing(&stack.maildir("alice"), &in_reply_to).is_empty());
}

//! Out-of-band mode against the real servers: ir-mail.test on the same
//! Postfix and Dovecot stands in for the other provider. The daemon reads
//! both mailboxes, the fallback one over implicit TLS, and sends through
//! submission with STARTTLS and a login when mail goes out of band.

use std::net::TcpListener;
use std::path::PathBuf;

use super::{Stack, export, mails_containing, stack, start, stop, wait_for};

impl Stack {
    fn elsewhere(&self, user: &str) -> PathBuf {
        self.directory.join("mail/ir-mail.test").join(user).join("Maildir")
    }

    fn empty_elsewhere(&self, user: &str) {
        self.doveadm(&["expunge", "-u", &format!("{user}@ir-mail.test"), "mailbox", "*", "all"]);
    }
}

/// `incident`'s home with the fallback mailbox and relay at ir-mail.test;
/// the primary relay is `primary_smtp_port`.
fn with_fallback(stack: &Stack, incident: &str, primary_smtp_port: u16, after: &str) -> tempfile::TempDir {
    for user in ["incident", "alice", "bob", "ceo", "admin"] {
        stack.empty_elsewhere(user);
    }
    let home = stack.sitrep_home(incident, "");
    std::fs::write(home.path().join("oob-password"), "incident-secret\n").unwrap();
    let path = home.path().join("sitrep.toml");
    let config = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            &format!("port = {}\ntls = \"none\"", stack.smtp_port),
            &format!("port = {primary_smtp_port}\ntls = \"none\""),
        )
        .replace(
            "staff_domains = [\"company.test\"]",
            "staff_domains = [\"company.test\"]\nadmins = [\"admin@company.test\"]",
        );
    let ca = stack.ca_file.display();
    let fallback = format!(
        r#"
[stakeholders]
executives = ["ceo@company.test", "cfo@company.test"]

[people]
alice = {{ address = "alice@company.test", out_of_band = "alice@ir-mail.test" }}
bob = {{ address = "bob@company.test", out_of_band = "bob@ir-mail.test" }}
ceo = {{ address = "ceo@company.test", out_of_band = "ceo@ir-mail.test" }}
admin = {{ address = "admin@company.test", out_of_band = "admin@ir-mail.test" }}

[fallback]
address = "incident@ir-mail.test"
{after}

[fallback.mailbox]
kind = "imap"
host = "127.0.0.1"
port = {imaps}
tls = "tls"
ca_file = "{ca}"
username = "incident@ir-mail.test"
password_file = "oob-password"
timeout_secs = 10

[fallback.transport]
kind = "smtp"
host = "127.0.0.1"
port = {submission}
tls = "starttls"
ca_file = "{ca}"
username = "incident@ir-mail.test"
password_file = "oob-password"
timeout_secs = 10
"#,
        imaps = stack.imaps_port,
        submission = stack.submission_port,
    );
    std::fs::write(&path, config + &fallback).unwrap();
    home
}

fn mail(from: &str, to: &str, subject: &str, id: &str, references: Option<&str>, body: &str) -> Vec<u8> {
    let thread =
        references.map_or(String::new(), |parent| format!("In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"));
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n{thread}Date: Fri, 27 Nov 2026 02:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn an_incident_moved_out_of_band_reaches_only_out_of_band_mailboxes() {
    let Some(stack) = stack() else { return };
    let home = with_fallback(&stack, "incident7", stack.smtp_port, "");
    let sitrep = start(home.path());
    let pid = std::process::id();
    let title = format!("Supplier bank details changed {pid}");
    let id = format!("e2e-oob-{pid}@company.test");
    let declaration = mail("Alice <alice@company.test>", "incident7@company.test", &title, &id, None, "Cc: bob.");
    stack.send("alice@company.test", "incident7@company.test", &declaration);
    wait_for("the ack in alice's company mailbox", 20, || {
        !mails_containing(&stack.maildir("alice"), &title).is_empty()
    });

    let subject = format!("Re: [INC-1] {title}");
    let switch = mail(
        "Bob <bob@company.test>",
        "incident7@company.test",
        &subject,
        &format!("e2e-oob-switch-{pid}@company.test"),
        Some(&id),
        "The attacker has a mailbox rule here.\r\n\r\nlead me\r\nchannel out-of-band",
    );
    stack.send("bob@company.test", "incident7@company.test", &switch);
    wait_for("bob's transcript at his out-of-band address", 20, || {
        !mails_containing(&stack.elsewhere("bob"), &title).is_empty()
    });

    // Written at the other provider, to the fallback address: the daemon
    // reads it from the second mailbox.
    let ask = mail(
        "Bob <bob@ir-mail.test>",
        "incident@ir-mail.test",
        &subject,
        &format!("e2e-oob-digest-{pid}@ir-mail.test"),
        Some(&id),
        "digest now",
    );
    stack.send("bob@ir-mail.test", "incident@ir-mail.test", &ask);
    wait_for("the digest at the CEO's out-of-band address", 20, || {
        !mails_containing(&stack.elsewhere("ceo"), "Status 1").is_empty()
    });
    let digest = mails_containing(&stack.elsewhere("ceo"), "Status 1").remove(0);
    assert!(digest.contains("From: sitrep <incident@ir-mail.test>"), "{digest}");
    stop(sitrep);

    let document = export(home.path());
    let incident = &document["incidents"][0];
    assert_eq!(incident["channel"], "out-of-band");
    let last = incident["timeline"].as_array().unwrap().last().unwrap();
    assert_eq!(last["author"], "bob@company.test", "the out-of-band address is Bob");
    // The company's mailboxes got the ack before the switch, and nothing after.
    let company: Vec<(&str, usize)> = ["alice", "bob", "ceo", "cfo"]
        .into_iter()
        .map(|user| (user, mails_containing(&stack.maildir(user), &title).len()))
        .collect();
    assert_eq!(company, [("alice", 1), ("bob", 0), ("ceo", 0), ("cfo", 0)]);
}

#[test]
fn with_the_primary_relay_stopped_staff_mail_goes_through_the_fallback_relay() {
    let Some(stack) = stack() else { return };
    // A port nothing listens on: the primary relay is down.
    let stopped = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let home = with_fallback(&stack, "incident8", stopped, "after = \"3s\"");
    let sitrep = start(home.path());
    let pid = std::process::id();
    let title = format!("Ransom note on the file server {pid}");
    let id = format!("e2e-fallback-{pid}@company.test");
    let declaration =
        mail("Alice <alice@company.test>", "incident8@company.test", &title, &id, None, "Files end in .locked.");
    stack.send("alice@company.test", "incident8@company.test", &declaration);
    wait_for("the ack at alice's out-of-band address", 30, || {
        !mails_containing(&stack.elsewhere("alice"), &title).is_empty()
    });
    wait_for("the admin's notice", 20, || !mails_containing(&stack.elsewhere("admin"), "relay is down").is_empty());
    let ack = mails_containing(&stack.elsewhere("alice"), &title).remove(0);
    assert!(ack.contains("From: sitrep <incident@ir-mail.test>"), "{ack}");
    stop(sitrep);
    assert!(mails_containing(&stack.maildir("alice"), &title).is_empty(), "nothing went through the stopped relay");
    assert_eq!(mails_containing(&stack.elsewhere("admin"), "relay is down").len(), 1, "told once");
    let outbox = &export(home.path())["outbox"];
    let ack_row = outbox.as_array().unwrap().iter().find(|row| row["kind"] == "ack").unwrap();
    assert!(ack_row["last_error"].as_str().unwrap().contains("through the fallback relay"), "{ack_row}");
}

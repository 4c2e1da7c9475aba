//! A scripted incident on a fixed clock, printing every mail sitrep sends:
//! the acknowledgement, transcripts, reminders, executive and responder
//! digests, and the final digest. `docs/digests.md` shows its output.
//!
//!   cargo run --example digest_tour [-- --html FILE]

use jiff::{SignedDuration, Timestamp};
use sitrep::config::Config;
use sitrep::pipeline::Pipeline;
use sitrep::scheduler;
use sitrep::store::Store;

const CONFIG: &str = r#"
address = "incident@example.test"
data_dir = "var"
time_zone = "Europe/London"
[mailbox]
kind = "maildir"
path = "var/inbox"
[transport]
kind = "file"
path = "var/outbox"
[access]
staff_domains = ["example.test"]
[stakeholders]
executives = ["ceo@example.test", "cfo@example.test"]
[[regimes]]
name = "gdpr"
title = "GDPR Art. 33"
reminders = [50, 90]
[[regimes.deadlines]]
what = "notify the supervisory authority"
within = "72h"
"#;

/// (minutes after 02:00 UTC, sender, subject, body); `None` sender: a tick.
const SCRIPT: &[(i64, Option<&str>, &str, &str)] = &[
    (
        0,
        Some("Alice Morgan <alice@example.test>"),
        "Ransomware note on the file server",
        "Files on FS01 were renamed to .locked and there is a README_RESTORE.txt\n\
         asking for payment. I noticed it at 01:50 when the backup job failed.\n",
    ),
    (11, None, "", ""),
    (
        14,
        Some("Alice Morgan <alice@example.test>"),
        "Re: [INC-1] Ransomware note on the file server",
        "sev critical\nlead me\nregime gdpr\ntask call the cyber insurer's hotline @alice@example.test due 09:00\n\n\
         FS01 is off the network. The backups from 01:00 look clean.\n",
    ),
    (
        26,
        Some("Bob Lee <bob@example.test>"),
        "Re: [INC-1] Ransomware note on the file server",
        "stream technical lead me\nstream technical restoring the finance share to FS02\n\n\
         Restore running, about 40 minutes to go. Nothing else on the network\nshows the .locked files.\n",
    ),
    (
        28,
        Some("Bob Lee <bob@example.test>"),
        "Re: [INC-1] Ransomware note on the file server",
        "note the encryption ran as svc-backup; its password was in the old wiki\n",
    ),
    (31, None, "", ""),
    (52, None, "", ""),
    (
        58,
        Some("Alice Morgan <alice@example.test>"),
        "Re: [INC-1] Ransomware note on the file server",
        "contained\nscope FS01 and the finance share; no other server affected\n\nThe restore is done.\n",
    ),
    (61, None, "", ""),
    (
        95,
        Some("Alice Morgan <alice@example.test>"),
        "Re: [INC-1] Ransomware note on the file server",
        "recovered\nnotified gdpr\nclose: finance share restored from backup; no sign that data left\n",
    ),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let html_to = std::env::args().skip_while(|argument| argument != "--html").nth(1);
    let directory = tempfile::tempdir()?;
    let config = Config::parse(CONFIG, "tour", directory.path())?;
    let mut store = Store::open(&config.database_path())?;
    let pipeline = Pipeline::new(config)?;
    let start: Timestamp = "2026-11-27T02:00:00Z".parse()?;
    for (number, (minutes, sender, subject, body)) in SCRIPT.iter().enumerate() {
        let now = start + SignedDuration::from_mins(*minutes);
        match sender {
            Some(sender) => {
                let raw = format!(
                    "From: {sender}\r\nTo: incident@example.test\r\nCc: bob@example.test\r\nSubject: {subject}\r\n\
                     Message-ID: <tour-{number}@example.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
                    body.replace('\n', "\r\n")
                );
                pipeline.ingest(&mut store, raw.as_bytes(), "tour", now)?;
            }
            None => {
                scheduler::tick(&pipeline, &mut store, now)?;
            }
        }
    }
    // One mail per recipient: print each distinct mail once, with everyone it went to.
    let rows = store.outbox()?;
    let mut printed: Vec<(String, String)> = Vec::new();
    for row in &rows {
        let key = (row.subject.clone(), row.body.clone());
        if printed.contains(&key) {
            continue;
        }
        let recipients: Vec<String> = rows
            .iter()
            .filter(|other| other.subject == row.subject && other.body == row.body)
            .flat_map(|other| other.to.iter().cloned())
            .collect();
        println!("## {} ({})\n", row.kind.as_str(), row.created_at.strftime("%H:%M UTC"));
        println!("```\nTo: {}\nSubject: {}\n\n{}```\n", recipients.join(", "), row.subject, row.body);
        printed.push(key);
    }
    if let Some(path) = html_to {
        let digest = rows.iter().find(|row| row.kind.as_str() == "digest").ok_or("no digest was sent")?;
        let raw = store.outbox_raw(digest.id)?.ok_or("digest bytes missing")?;
        let message = mail_parser::MessageParser::default().parse(&raw).ok_or("unparseable digest")?;
        std::fs::write(path, message.body_html(0).ok_or("digest without HTML")?.as_bytes())?;
    }
    Ok(())
}

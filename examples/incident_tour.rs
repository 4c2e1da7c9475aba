//! A scripted incident on a fixed clock, printing every mail sitrep sends:
//! the acknowledgement, transcripts, reminders, executive and responder
//! digests, the final digest, the retrospective and its report.
//! `docs/digests.md` and `docs/report-example.md` show its output.
//!
//!   cargo run --example incident_tour [-- --html FILE] [--report FILE] [--report-html FILE]

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

/// (minutes after Friday 02:00 UTC, sender, subject, body); `None` sender:
/// a tick of the scheduler.
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
    (
        40,
        Some("Carol Diaz <carol@example.test>"),
        "Re: [INC-1] Ransomware note on the file server",
        "stream internal-comms lead me\nstream internal-comms finance told to pause invoice runs until noon\n",
    ),
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
    (
        // Monday 09:00: answers to the questionnaire.
        3 * 24 * 60 + 7 * 60,
        Some("Bob Lee <bob@example.test>"),
        "Re: [INC-1] Retrospective: Ransomware note on the file server",
        "1. The encryption ran at 01:50 as svc-backup, whose password was in the old wiki.\n\
         2. Quick and calm; the runbook still named the old backup server.\n\
         7. Rotate service-account passwords and remove them from the wiki.\n\
         10. 4\n",
    ),
    (
        3 * 24 * 60 + 8 * 60,
        Some("Alice Morgan <alice@example.test>"),
        "Re: [INC-1] Retrospective: Ransomware note on the file server",
        "The insurer's hotline number was only in an e-mail from last year; it belongs in the runbook.\n\n\
         3. Whether the 01:00 backup was clean, which took an hour to find out.\n\
         5. Call the insurer first: they have a forensic firm on retainer.\n\
         10. 5\n",
    ),
    // Tuesday: two business days on, Carol has not answered.
    (4 * 24 * 60 + 2 * 60, None, "", ""),
    // The answer window ends a week after the close: the report goes out.
    (7 * 24 * 60 + 2 * 60, None, "", ""),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let option = |name: &str| std::env::args().skip_while(|argument| argument != name).nth(1);
    let html_to = option("--html");
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
                scheduler::tick(pipeline.outgoing(), &mut store, now)?;
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
        println!("## {} ({})\n", row.kind.as_str(), row.created_at.strftime("%a %-d %b %H:%M UTC"));
        println!("```\nTo: {}\nSubject: {}\n\n{}```\n", recipients.join(", "), row.subject, row.body);
        printed.push(key);
    }
    let report = rows.iter().find(|row| row.kind.as_str() == "report").ok_or("no report was sent")?;
    if let Some(path) = option("--report") {
        std::fs::write(path, &report.body)?;
    }
    if let Some(path) = option("--report-html") {
        let raw = store.outbox_raw(report.id)?.ok_or("report bytes missing")?;
        let message = mail_parser::MessageParser::default().parse(&raw).ok_or("unparseable report")?;
        std::fs::write(path, message.body_html(0).ok_or("report without HTML")?.as_bytes())?;
    }
    if let Some(path) = html_to {
        let digest = rows.iter().find(|row| row.kind.as_str() == "digest").ok_or("no digest was sent")?;
        let raw = store.outbox_raw(digest.id)?.ok_or("digest bytes missing")?;
        let message = mail_parser::MessageParser::default().parse(&raw).ok_or("unparseable digest")?;
        std::fs::write(path, message.body_html(0).ok_or("digest without HTML")?.as_bytes())?;
    }
    Ok(())
}

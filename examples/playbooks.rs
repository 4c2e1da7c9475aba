//! Prints the shipped first-hour playbooks as Markdown, and one draft of
//! each kind from a scripted incident: `docs/playbooks.md` is its output.
//!
//!   cargo run --example playbooks > docs/playbooks.md

use jiff::{SignedDuration, Timestamp};
use sitrep::config::Config;
use sitrep::core::deadline::describe_duration;
use sitrep::pipeline::Pipeline;
use sitrep::store::Store;

const CONFIG: &str = r#"
address = "incident@example.test"
organisation = "Example Ltd"
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
executives = ["ceo@example.test"]
[[regimes]]
name = "gdpr"
title = "GDPR Art. 33"
[[regimes.deadlines]]
what = "notify the supervisory authority"
within = "72h"
"#;

/// (minutes after Friday 09:00 UTC, sender, body): a business email
/// compromise, typed from its words, then a draft of every kind.
const SCRIPT: &[(i64, &str, &str)] = &[
    (
        0,
        "Alice Morgan <alice@example.test>",
        "lead me\nscope: supplier payments from the finance mailbox; the finance mailbox itself\n\n\
         A supplier's mail asked us to pay this month's invoice to new bank details.\n\
         Accounts paid 18,400 EUR by wire transfer this morning.",
    ),
    (
        12,
        "Bob Lee <bob@example.test>",
        "The bank's fraud line opened a recall, case 77-1. The finance mailbox had a rule\n\
         forwarding mail with \"invoice\" to an outside address since Tuesday.\n\n\
         done 1\nimpact: one payment of 18,400 EUR at risk; invoices on hold for a day\nregime gdpr",
    ),
    (
        20,
        "Alice Morgan <alice@example.test>",
        "draft staff-notice\ndraft customer-notice worst\ndraft regulator\ndraft insurer\ndraft bank\n\
         draft police\ndraft board best",
    ),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let playbooks = sitrep::config::load_playbooks(None)?;
    println!("# First-hour playbooks\n");
    println!(
        "What sitrep ships for each incident type, from `config/playbooks/` (this page is the output of \
         `cargo run --example playbooks`). Setting a type (`type bec`, `#bec` in a subject, or sitrep's \
         suggestion from a declaration's words) turns its steps into tasks, due from that moment and owned by \
         whoever holds the step's role, and answers with the questions and the regimes to consider. A file of \
         the same name in `[playbooks] dir` replaces a shipped playbook.\n"
    );
    println!(
        "Each step cites the public guidance it comes from. They are a starting point for a small organisation's first hours, not legal advice.\n"
    );
    for playbook in &playbooks {
        println!("## {} (`type {}`)\n", playbook.title, playbook.kind);
        if !playbook.signs.is_empty() {
            let signs: Vec<String> = playbook.signs.iter().map(|sign| format!("\"{sign}\"")).collect();
            println!("Suggested when a declaration mentions: {}.\n", signs.join(", "));
        }
        println!("| due | step | stream | whose | why | source |");
        println!("|---|---|---|---|---|---|");
        for step in &playbook.steps {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                describe_duration(step.due),
                step.what,
                step.stream,
                step.duty,
                step.why,
                step.source
            );
        }
        println!("\nAnswer early:\n");
        for question in &playbook.questions {
            println!("- {question}");
        }
        if !playbook.regimes.is_empty() {
            let regimes: Vec<String> = playbook.regimes.iter().map(|regime| format!("`regime {regime}`")).collect();
            println!("\nRegimes to consider (never started for you): {}.", regimes.join(", "));
        }
        if !playbook.drafts.is_empty() {
            println!("\nDrafts it usually needs: {}.", playbook.drafts.join(", "));
        }
        println!();
    }
    print_drafts()
}

/// The scripted incident's drafts, one of each kind, as sitrep wrote them.
fn print_drafts() -> Result<(), Box<dyn std::error::Error>> {
    let directory = tempfile::tempdir()?;
    let config = Config::parse(CONFIG, "playbooks", directory.path())?;
    let mut store = Store::open(&config.database_path())?;
    let pipeline = Pipeline::new(config)?;
    let start: Timestamp = "2026-11-27T09:00:00Z".parse()?;
    for (number, (minutes, sender, body)) in SCRIPT.iter().enumerate() {
        let subject = match number {
            0 => "We paid a fake invoice to new bank details".to_string(),
            _ => "Re: [INC-1] We paid a fake invoice to new bank details".to_string(),
        };
        let raw = format!(
            "From: {sender}\r\nTo: incident@example.test\r\nCc: bob@example.test\r\nSubject: {subject}\r\n\
             Message-ID: <playbooks-{number}@example.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
            body.replace('\n', "\r\n")
        );
        pipeline.ingest(&mut store, raw.as_bytes(), "script", start + SignedDuration::from_mins(*minutes))?;
    }
    let export = sitrep::export::export(&store)?;
    println!("## One draft of each kind\n");
    println!(
        "A business email compromise declared at 09:00 (UK time): Alice leads and gives the scope, Bob reports the \
         bank's recall, the forwarding rule and the impact and starts the GDPR clock, and at 09:20 Alice asks for \
         every kind of draft. Each came to her alone, as sitrep wrote it from those facts; every \
         `[TO CONFIRM: ...]` is a fact the incident does not hold.\n"
    );
    for draft in &export.incidents[0].drafts {
        println!("### {}: {}, {} case\n", draft.id, draft.kind, draft.framing);
        println!("```\n{}\n```\n", draft.body);
    }
    Ok(())
}

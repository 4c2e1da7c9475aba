//! Durable ingest throughput: sitrep's whole pipeline (limits, raw store,
//! parse, triage, incident update, outbox, `synchronous=FULL` commits,
//! outbox drained to files) against a bare loop of mail-parser plus one
//! `synchronous=FULL` SQLite commit per message, in the same run. sitrep
//! runs twice: message by message (one commit each, as mail trickles in)
//! and as a backlog (everything waiting at once, group commit).
//!
//! The corpus comes from the incident-mail generator:
//!   python3 gen_corpus.py --out target/corpus --incidents 100 --updates 10 --seed 1
//!   cargo bench --bench ingest -- target/corpus [rounds]
//!
//! The generator gives several incidents the same title, all open at once;
//! sitrep joins a new mail with an open incident's title to that incident,
//! so each incident's subjects get its number appended to keep them apart.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mail_parser::MessageParser;
use rusqlite::Connection;
use sitrep::config::Config;
use sitrep::core::triage::Outcome;
use sitrep::outbox::Sender;
use sitrep::pipeline::{Arrival, IngestReport, Pipeline};
use sitrep::store::Store;

#[path = "support/corpus.rs"]
mod corpus;

/// Mail arrives in bursts; the daemon drains the outbox after each pass.
const MESSAGES_PER_PASS: usize = 20;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).filter(|argument| !argument.starts_with("--")).collect();
    let corpus = PathBuf::from(arguments.first().map_or("target/corpus", String::as_str));
    let rounds: usize = arguments.get(1).and_then(|rounds| rounds.parse().ok()).unwrap_or(3);
    let messages = match corpus::load(&corpus) {
        Ok(messages) => messages,
        Err(error) => {
            eprintln!("cannot read corpus {}: {error}\nsee the top of benches/ingest.rs", corpus.display());
            return ExitCode::from(2);
        }
    };
    let messages = corpus::with_distinct_titles(messages, &corpus);
    let expected = expected_threading(&corpus);
    println!("corpus: {} messages from {}", messages.len(), corpus.display());
    let (mut ratios, mut backlog_ratios) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let bare = bare_loop(&messages);
        let (full, reports) = sitrep_pipeline(&messages, false);
        let (backlog, backlog_reports) = sitrep_pipeline(&messages, true);
        if let Some(expected) = &expected {
            check_threading(&reports, expected);
            check_threading(&backlog_reports, expected);
        }
        let rate = |elapsed: Duration| messages.len() as f64 / elapsed.as_secs_f64();
        let (bare_rate, full_rate, backlog_rate) = (rate(bare), rate(full), rate(backlog));
        let (ratio, backlog_ratio) = (full_rate / bare_rate, backlog_rate / bare_rate);
        println!(
            "round {round}: bare {bare_rate:.0} msg/s, sitrep {full_rate:.0} msg/s (ratio {ratio:.2}), \
             backlog {backlog_rate:.0} msg/s (ratio {backlog_ratio:.2})"
        );
        ratios.push(ratio);
        backlog_ratios.push(backlog_ratio);
    }
    ratios.sort_by(f64::total_cmp);
    backlog_ratios.sort_by(f64::total_cmp);
    println!("median ratio: {:.2}", ratios[ratios.len() / 2]);
    println!("median backlog ratio: {:.2}", backlog_ratios[backlog_ratios.len() / 2]);
    ExitCode::SUCCESS
}

/// (declared?, incident number) per message, from the corpus manifest.
fn expected_threading(corpus: &Path) -> Option<Vec<(bool, u64)>> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus.join("manifest.json")).ok()?).ok()?;
    manifest["messages"]
        .as_array()?
        .iter()
        .map(|message| Some((message["kind"].as_str()? == "declare", message["incident"].as_u64()?)))
        .collect()
}

/// The benchmark only counts if sitrep threads the corpus as its manifest says.
fn check_threading(reports: &[IngestReport], expected: &[(bool, u64)]) {
    assert_eq!(reports.len(), expected.len());
    for (index, (report, &(declared, incident))) in reports.iter().zip(expected).enumerate() {
        let outcome = if declared { Outcome::Declared } else { Outcome::Updated };
        assert_eq!((report.outcome, report.incident.map(|n| n.0)), (outcome, Some(incident)), "message {}", index + 1);
    }
}

fn bare_loop(messages: &[Vec<u8>]) -> Duration {
    let directory = tempfile::tempdir().unwrap();
    let mut connection = Connection::open(directory.path().join("bare.db")).unwrap();
    connection.pragma_update(None, "journal_mode", "WAL").unwrap();
    connection.pragma_update(None, "synchronous", "FULL").unwrap();
    connection.execute_batch("CREATE TABLE messages (id INTEGER PRIMARY KEY, subject TEXT, raw BLOB)").unwrap();
    let started = Instant::now();
    for raw in messages {
        let message = MessageParser::default().parse(raw).unwrap();
        let transaction = connection.transaction().unwrap();
        transaction
            .execute("INSERT INTO messages (subject, raw) VALUES (?1, ?2)", rusqlite::params![message.subject(), raw])
            .unwrap();
        transaction.commit().unwrap();
    }
    started.elapsed()
}

/// `backlog`: every message waits at once and batches share commits, as
/// after downtime; else one commit per message, as mail trickles in.
fn sitrep_pipeline(messages: &[Vec<u8>], backlog: bool) -> (Duration, Vec<IngestReport>) {
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().display();
    let config_text = format!(
        "address = \"incident@company.test\"\ndata_dir = \"{data}/var\"\n\
         [mailbox]\nkind = \"maildir\"\npath = \"{data}/inbox\"\n\
         [transport]\nkind = \"file\"\npath = \"{data}/outbox\"\n\
         [access]\nstaff_domains = [\"company.test\"]\n\
         [stakeholders]\nexecutives = [\"ceo@company.test\"]\n\
         [limits]\ndeclarations_per_sender_per_hour = 100000\ndeclarations_per_hour = 100000\n"
    );
    let config = Config::parse(&config_text, "bench", directory.path()).unwrap();
    let mut store = Store::open(&config.database_path()).unwrap();
    let mut sender = Sender::new(&config.transport, config.first_retry).unwrap();
    let pipeline = Pipeline::new(config).unwrap();
    let mut reports = Vec::with_capacity(messages.len());
    let started = Instant::now();
    if backlog {
        let arrival = Arrival { source: "bench", position: None, size_over_limit: None, fallback: false };
        let waiting: Vec<(&[u8], Arrival<'_>)> = messages.iter().map(|raw| (raw.as_slice(), arrival.clone())).collect();
        // As the daemon does: each batch's commit wakes the sender.
        while reports.len() < waiting.len() {
            let batch = pipeline.ingest_batch(&mut store, &waiting[reports.len()..], Timestamp::now()).unwrap();
            reports.extend(batch);
            sender.drain(&mut store, Timestamp::now()).unwrap();
        }
        return (started.elapsed(), reports);
    }
    // As the daemon does: a pass ingests what has arrived, then drains.
    for pass in messages.chunks(MESSAGES_PER_PASS) {
        for raw in pass {
            reports.push(pipeline.ingest(&mut store, raw, "bench", Timestamp::now()).unwrap());
        }
        sender.drain(&mut store, Timestamp::now()).unwrap();
    }
    (started.elapsed(), reports)
}

//! Durable ingest throughput: sitrep's whole pipeline (limits, raw store,
//! parse, triage, incident update, outbox, one `synchronous=FULL` commit per
//! message, outbox drained to files) against a bare loop of mail-parser
//! plus one `synchronous=FULL` SQLite commit per message, in the same run.
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
use sitrep::pipeline::{IngestReport, Pipeline};
use sitrep::store::Store;

/// Mail arrives in bursts; the daemon drains the outbox after each pass.
const MESSAGES_PER_PASS: usize = 20;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).filter(|argument| !argument.starts_with("--")).collect();
    let corpus = PathBuf::from(arguments.first().map_or("target/corpus", String::as_str));
    let rounds: usize = arguments.get(1).and_then(|rounds| rounds.parse().ok()).unwrap_or(3);
    let messages = match load(&corpus) {
        Ok(messages) => messages,
        Err(error) => {
            eprintln!("cannot read corpus {}: {error}\nsee the top of benches/ingest.rs", corpus.display());
            return ExitCode::from(2);
        }
    };
    let messages = with_distinct_titles(messages, &corpus);
    let expected = expected_threading(&corpus);
    println!("corpus: {} messages from {}", messages.len(), corpus.display());
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let bare = bare_loop(&messages);
        let (full, reports) = sitrep_pipeline(&messages);
        if let Some(expected) = &expected {
            check_threading(&reports, expected);
        }
        let bare_rate = messages.len() as f64 / bare.as_secs_f64();
        let full_rate = messages.len() as f64 / full.as_secs_f64();
        let ratio = full_rate / bare_rate;
        println!("round {round}: bare {bare_rate:.0} msg/s, sitrep {full_rate:.0} msg/s, ratio {ratio:.2}");
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!("median ratio: {:.2}", ratios[ratios.len() / 2]);
    ExitCode::SUCCESS
}

fn load(corpus: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(corpus)?.map(|entry| entry.map(|entry| entry.path())).collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|extension| extension == "eml"));
    files.sort();
    files.iter().map(std::fs::read).collect()
}

/// Each message's Subject with " (no. <incident>)" after the title.
fn with_distinct_titles(messages: Vec<Vec<u8>>, corpus: &Path) -> Vec<Vec<u8>> {
    let Some(manifest) = std::fs::read(corpus.join("manifest.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
    else {
        return messages;
    };
    let Some(entries) = manifest["messages"].as_array() else { return messages };
    let titles: std::collections::HashMap<u64, String> = entries
        .iter()
        .filter(|entry| entry["kind"] == "declare")
        .filter_map(|entry| Some((entry["incident"].as_u64()?, entry["subject"].as_str()?.to_string())))
        .collect();
    messages
        .into_iter()
        .zip(entries)
        .map(|(raw, entry)| {
            let Some(title) = entry["incident"].as_u64().and_then(|incident| titles.get(&incident)) else {
                return raw;
            };
            let text = String::from_utf8_lossy(&raw);
            let header_end = text.find("\r\n\r\n").or_else(|| text.find("\n\n")).unwrap_or(text.len());
            let Some(subject) = text[..header_end].find("\nSubject: ") else { return raw };
            let Some(at) = text[subject..header_end].find(title.as_str()).map(|at| at + subject + title.len()) else {
                return raw;
            };
            let distinct = format!(" (no. {})", entry["incident"]);
            [&raw[..at], distinct.as_bytes(), &raw[at..]].concat()
        })
        .collect()
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

fn sitrep_pipeline(messages: &[Vec<u8>]) -> (Duration, Vec<IngestReport>) {
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
    // As the daemon does: a pass ingests what has arrived, then drains.
    for pass in messages.chunks(MESSAGES_PER_PASS) {
        for raw in pass {
            reports.push(pipeline.ingest(&mut store, raw, "bench", Timestamp::now()).unwrap());
        }
        sender.drain(&mut store, Timestamp::now()).unwrap();
    }
    (started.elapsed(), reports)
}

//! `sitrep tick` on many open incidents: the time to find what is due and to
//! render, queue and commit every digest, tactical digest and reminder, and
//! the cost of a tick with nothing due (what the daemon pays every second).
//!
//!   cargo bench --bench tick -- [incidents] [rounds]

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use sitrep::config::Config;
use sitrep::pipeline::Pipeline;
use sitrep::scheduler;
use sitrep::store::Store;

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).filter(|argument| !argument.starts_with("--")).collect();
    let incidents: usize = arguments.first().and_then(|count| count.parse().ok()).unwrap_or(1000);
    let rounds: usize = arguments.get(1).and_then(|rounds| rounds.parse().ok()).unwrap_or(3);
    println!("{incidents} open incidents, {rounds} rounds");
    for round in 1..=rounds {
        let directory = tempfile::tempdir().expect("temporary directory");
        let (pipeline, mut store, declared) = open_incidents(directory.path(), incidents);

        let start = Instant::now();
        let idle = scheduler::tick(pipeline.outgoing(), &mut store, declared).expect("idle tick");
        let idle_time = start.elapsed();
        assert_eq!(idle.queued, 0);

        // An hour later every incident's digest is due, with its reminders.
        let due = declared + SignedDuration::from_mins(61);
        let start = Instant::now();
        let report = scheduler::tick(pipeline.outgoing(), &mut store, due).expect("tick");
        let busy = start.elapsed();
        assert_eq!(report.incidents, incidents, "every incident was due");

        let start = Instant::now();
        let after = scheduler::tick(pipeline.outgoing(), &mut store, due + SignedDuration::from_secs(1)).expect("tick");
        let again = start.elapsed();
        assert_eq!(after.queued, 0, "nothing is sent twice");
        println!(
            "round {round}: due tick {:.2} s ({:.2} ms/incident, {} mails queued, {:.0} mails/s); \
             idle tick {:.2} ms; tick just after {:.2} ms",
            busy.as_secs_f64(),
            per(busy, incidents),
            report.queued,
            report.queued as f64 / busy.as_secs_f64(),
            idle_time.as_secs_f64() * 1000.0,
            again.as_secs_f64() * 1000.0,
        );
    }
}

fn per(elapsed: Duration, count: usize) -> f64 {
    elapsed.as_secs_f64() * 1000.0 / count as f64
}

/// `count` incidents declared by mail through the pipeline, the way they
/// arrive; returns the time of the last declaration.
fn open_incidents(directory: &std::path::Path, count: usize) -> (Pipeline, Store, Timestamp) {
    let text = format!(
        r#"
address = "incident@company.test"
data_dir = "{data}"
[mailbox]
kind = "maildir"
path = "{data}/inbox"
[transport]
kind = "file"
path = "{data}/outbox"
[access]
staff_domains = ["company.test"]
[stakeholders]
executives = ["ceo@company.test", "cfo@company.test", "coo@company.test"]
"#,
        data = directory.join("var").display()
    );
    let config = Config::parse(&text, "bench", directory).expect("bench config");
    let mut store = Store::open(&config.database_path()).expect("store");
    let pipeline = Pipeline::new(config).expect("pipeline");
    let start: Timestamp = "2026-11-27T10:00:00Z".parse().expect("time");
    let severities = ["high", "high", "critical", "medium"];
    for number in 0..count {
        let raw = format!(
            "From: user{number}@company.test\r\nTo: incident@company.test\r\nSubject: Incident {number} [sev {}]\r\n\
             Message-ID: <bench-{number}@company.test>\r\n\r\nSomething odd on host {number}.\r\n",
            severities[number % severities.len()]
        );
        pipeline.ingest(&mut store, raw.as_bytes(), "bench", start).expect("declaration");
    }
    (pipeline, store, start)
}

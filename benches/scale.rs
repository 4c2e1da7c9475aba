//! sitrep on a store grown to 100,000 messages over 10,000 incidents:
//! whether per-message ingest stays flat as the store grows, how long the
//! reading commands take on it, what `export --json` holds in memory, what a
//! tick with nothing due costs, and the daemon's memory after a backlog.
//!
//!   python3 gen_corpus.py --out target/scale --incidents 10000 --updates 10 --seed 2
//!   cargo bench --bench scale -- target/scale

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sitrep::config::Config;
use sitrep::outbox::Senders;
use sitrep::pipeline::Pipeline;
use sitrep::scheduler;
use sitrep::store::Store;

#[path = "support/corpus.rs"]
mod corpus;

/// Messages timed at each end of the run.
const WINDOW: usize = 1000;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).filter(|argument| !argument.starts_with("--")).collect();
    let corpus = PathBuf::from(arguments.first().map_or("target/scale", String::as_str));
    let messages = match corpus::load(&corpus) {
        Ok(messages) if messages.len() > 2 * WINDOW => corpus::with_distinct_titles(messages, &corpus),
        Ok(_) | Err(_) => {
            eprintln!(
                "no corpus of more than {} messages at {}; see the top of benches/scale.rs",
                2 * WINDOW,
                corpus.display()
            );
            return ExitCode::from(2);
        }
    };
    let directory = tempfile::tempdir().expect("temporary directory");
    let config_path = write_config(directory.path());
    let config = Config::load(Some(&config_path)).expect("configuration");

    let times = grow(&config, &messages);
    let mean = |window: &[Duration]| window.iter().sum::<Duration>().as_secs_f64() * 1000.0 / window.len() as f64;
    let (first, last) = (mean(&times[..WINDOW]), mean(&times[times.len() - WINDOW..]));
    println!(
        "{} messages ingested one by one: first {WINDOW} {first:.3} ms/message, last {WINDOW} {last:.3} ms/message \
         (last/first {:.2})",
        messages.len(),
        last / first
    );

    let store = Store::open(&config.database_path()).expect("store");
    let incidents = store.incident_numbers().expect("incidents").len();
    let summary = store.summary().expect("summary");
    println!("store: {incidents} incidents ({} open), {} messages", summary.open_incidents, summary.messages);
    let middle = format!("INC-{}", incidents / 2);
    for arguments in [
        vec!["list"],
        vec!["show", &middle],
        vec!["status"],
        vec!["digest", &middle, "--preview"],
        vec!["export", "--json"],
    ] {
        let (median, peak) = command(&config_path, &arguments);
        println!("sitrep {}: {median:.0} ms (median of 5), peak RSS {} MB", arguments.join(" "), peak / 1024);
    }

    let pipeline = Pipeline::new(config.clone()).expect("pipeline");
    let mut store = Store::open(&config.database_path()).expect("store");
    let now = Timestamp::now();
    scheduler::tick(pipeline.outgoing(), &mut store, now).expect("tick");
    let mut idle = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let report = scheduler::tick(pipeline.outgoing(), &mut store, now).expect("tick");
        idle.push(started.elapsed());
        assert_eq!(report.queued, 0, "nothing is due twice");
    }
    idle.sort();
    println!("tick with nothing due: {:.3} ms (median of 20)", idle[10].as_secs_f64() * 1000.0);
    daemon_memory(&messages[..WINDOW]);
    ExitCode::SUCCESS
}

/// Ingests every message as mail trickles in, one commit each, one every
/// 30 s of the store's clock (the corpus then spans 38 days, and an hour's
/// brakes see an hour's mail); the outbox is drained every 20. Returns each
/// message's time.
fn grow(config: &Config, messages: &[Vec<u8>]) -> Vec<Duration> {
    let mut store = Store::open(&config.database_path()).expect("store");
    let mut senders = Senders::new(config).expect("relay");
    let pipeline = Pipeline::new(config.clone()).expect("pipeline");
    let mut times = Vec::with_capacity(messages.len());
    let start = Timestamp::now() - jiff::SignedDuration::from_secs(30 * messages.len() as i64);
    for (index, raw) in messages.iter().enumerate() {
        let now = start + jiff::SignedDuration::from_secs(30 * index as i64);
        let started = Instant::now();
        pipeline.ingest(&mut store, raw, "bench", now).expect("ingest");
        times.push(started.elapsed());
        if index % 20 == 19 {
            senders.drain(&mut store, now).expect("drain");
        }
    }
    times
}

/// The median wall time of five runs of `sitrep ARGUMENTS`, and the largest
/// peak RSS (KiB) among them.
fn command(config: &Path, arguments: &[&str]) -> (f64, u64) {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(env!("CARGO_BIN_EXE_sitrep"))
            .arg("--config")
            .arg(config)
            .args(arguments)
            .stdout(Stdio::null())
            .output()
            .expect("sitrep runs under /usr/bin/time");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(output.status.success(), "sitrep {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
        let stderr = String::from_utf8_lossy(&output.stderr);
        peak = peak.max(stderr.lines().last().and_then(|line| line.trim().parse().ok()).unwrap_or(0));
    }
    times.sort_by(f64::total_cmp);
    (times[2], peak)
}

/// `sitrep run` over a Maildir holding `backlog`: its peak RSS while taking
/// it, and its RSS once idle.
fn daemon_memory(backlog: &[Vec<u8>]) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let config = write_config(directory.path());
    let inbox = directory.path().join("var/inbox");
    for folder in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(inbox.join(folder)).expect("Maildir");
    }
    for (index, raw) in backlog.iter().enumerate() {
        std::fs::write(inbox.join("new").join(format!("{index:06}.eml")), raw).expect("message");
    }
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sitrep run");
    let started = Instant::now();
    while std::fs::read_dir(inbox.join("new")).map_or(1, |entries| entries.count()) > 0 {
        assert!(started.elapsed() < Duration::from_secs(300), "the backlog was not taken");
        std::thread::sleep(Duration::from_millis(50));
    }
    let taken = started.elapsed();
    std::thread::sleep(Duration::from_secs(5));
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or("?".to_string(), |value| value.trim().to_string())
    };
    println!(
        "daemon, {} messages waiting: taken in {:.1} s; peak RSS {}, idle RSS {} after 5 s",
        backlog.len(),
        taken.as_secs_f64(),
        field("VmHWM:"),
        field("VmRSS:")
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}

fn write_config(directory: &Path) -> PathBuf {
    let data = directory.display();
    let path = directory.join("sitrep.toml");
    let text = format!(
        "address = \"incident@company.test\"\ndata_dir = \"{data}/var\"\n\
         [mailbox]\nkind = \"maildir\"\npath = \"{data}/var/inbox\"\n\
         [transport]\nkind = \"file\"\npath = \"{data}/outbox\"\n\
         [access]\nstaff_domains = [\"company.test\"]\n\
         [stakeholders]\nexecutives = [\"ceo@company.test\"]\n\
         [limits]\ndeclarations_per_sender_per_hour = 1000000\ndeclarations_per_hour = 1000000\n\
         replies_per_hour = 1000000\n"
    );
    std::fs::write(&path, text).expect("configuration");
    path
}

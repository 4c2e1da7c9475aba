//! The command line: one clap enum, one small function per command.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use jiff::Timestamp;

use crate::config::Config;
use crate::core::auth;
use crate::core::digest::Audience;
use crate::core::incident::DeliveryStatus;
use crate::core::incident::IncidentNumber;
use crate::core::triage;
use crate::outbox::Sender;
use crate::pipeline::Pipeline;
use crate::render::{Renderer, local_time};
use crate::store::{Store, StoreError};
use crate::template_check::check_templates;
use crate::{daemon, export, retrospective, scheduler};

/// sysexits.h codes, which MTAs and systemd understand.
pub mod exit {
    pub const USAGE: u8 = 64;
    pub const TEMPFAIL: u8 = 75;
    pub const CONFIG: u8 = 78;
}

#[derive(Debug, Parser)]
#[command(name = "sitrep", version, about = "Incident coordination by email")]
pub struct Cli {
    /// Configuration file [default: ./sitrep.toml if present, else the embedded default]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: watch the mailbox, process mail, send the outbox
    Run,
    /// Process raw messages (stdin when no FILE) as the daemon would, then send the outbox once
    Ingest {
        /// Raw RFC 5322 message files
        files: Vec<PathBuf>,
    },
    /// List incidents
    List,
    /// Show one incident and its timeline
    Show {
        /// Incident id, e.g. INC-3
        incident: String,
    },
    /// Export the whole store
    Export {
        /// As one JSON document (the only format so far)
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration and templates
    CheckConfig,
    /// Show the daemon's state from the store: mailbox cursor, last message, outbox, open incidents
    Status,
    /// Check the configuration, store, templates, mailbox and relay; exit 1 on any failure
    Doctor {
        /// Also send a test mail to this address through the relay
        #[arg(long, value_name = "ADDRESS")]
        send_test: Option<String>,
    },
    /// Copy the whole store to FILE while sitrep runs (restore: stop sitrep, put FILE in place of sitrep.db)
    Backup {
        /// Where the copy goes; must not exist yet
        file: PathBuf,
    },
    /// Run all scheduled work that is due (digests, reminders) once, send the outbox, and exit
    Tick {
        /// Act as if it were this time (RFC 3339, e.g. 2026-11-27T14:30:00Z) [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<Timestamp>,
    },
    /// Show an incident's next executive digest as it would be sent
    Digest {
        /// Incident id, e.g. INC-3
        incident: String,
        /// Print it without sending (the only mode; `digest now` by mail sends one)
        #[arg(long)]
        preview: bool,
        /// The responders' digest instead of the executives'
        #[arg(long)]
        tactical: bool,
        /// Print the HTML alternative instead of the text
        #[arg(long)]
        html: bool,
        /// As if it were this time (RFC 3339) [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<Timestamp>,
    },
    /// The post-incident report: milestones, timeline, deadlines, the retrospective's answers, evidence
    Report {
        /// Incident id, e.g. INC-3
        incident: String,
        #[arg(long, value_enum, default_value = "markdown")]
        format: ReportFormat,
        /// Write it here instead of standard output (never overwrites)
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the manual page (roff), e.g. `sitrep man | man -l -`
    Man,
    /// Print the completion script for a shell, e.g. `sitrep completions bash > /etc/bash_completion.d/sitrep`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// List mail not yet delivered (queued or failed), per recipient
    Outbox {
        /// Queue the failed deliveries of this outbox row again
        #[arg(long, value_name = "ID")]
        retry: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Html,
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

trait ExitWith<T> {
    fn exit_with(self, code: u8) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> ExitWith<T> for Result<T, E> {
    fn exit_with(self, code: u8) -> Result<T, Failure> {
        self.map_err(|error| Failure { code, error: error.into() })
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    // These describe the program, not an installation: no configuration needed.
    let load = || Config::load(cli.config.as_deref()).exit_with(exit::CONFIG);
    match cli.command {
        Command::Man => man(),
        Command::Completions { shell } => completions(shell),
        Command::Run => run_daemon(load()?, cli.config.clone()),
        Command::Ingest { files } => ingest(load()?, &files),
        Command::List => list(&load()?),
        Command::Show { incident } => show(&load()?, &incident),
        Command::Export { json } => export_store(&load()?, json),
        Command::CheckConfig => check_config(&load()?),
        Command::Outbox { retry } => outbox(&load()?, retry),
        Command::Status => status(&load()?),
        Command::Doctor { send_test } => doctor(&load()?, send_test.as_deref()),
        Command::Backup { file } => backup(&load()?, &file),
        Command::Report { incident, format, output } => report(&load()?, &incident, format, output.as_deref()),
        Command::Tick { at } => tick(load()?, at.unwrap_or_else(Timestamp::now)),
        Command::Digest { incident, preview, tactical, html, at } => {
            if !preview {
                return Err(Failure {
                    code: exit::USAGE,
                    error: anyhow::anyhow!(
                        "say --preview: digests are sent on their schedule, or by `digest now` by mail"
                    ),
                });
            }
            let audience = if tactical { Audience::Tactical } else { Audience::Executive };
            preview_digest(&load()?, &incident, audience, html, at.unwrap_or_else(Timestamp::now))
        }
    }
}

fn run_daemon(config: Config, config_path: Option<PathBuf>) -> Result<ExitCode, Failure> {
    // A template that does not render is a configuration error: refuse to
    // start rather than fail on the first declaration.
    check_templates(&config).exit_with(exit::CONFIG)?;
    // A damaged store is not a reason to retry: restarting cannot mend it.
    Store::open(&config.database_path()).and_then(|store| store.quick_check()).map_err(|error| match error {
        StoreError::Damaged { .. } => Failure { error: error.into(), code: exit::CONFIG },
        other => Failure { error: other.into(), code: 1 },
    })?;
    let runtime = tokio::runtime::Runtime::new().exit_with(1)?;
    runtime
        .block_on(async {
            let shutdown = daemon::shutdown_signal();
            daemon::run(config, config_path, shutdown).await
        })
        .map_err(|error| {
            let damaged = matches!(error.downcast_ref::<StoreError>(), Some(StoreError::Damaged { .. }));
            Failure { error, code: if damaged { exit::CONFIG } else { 1 } }
        })?;
    Ok(ExitCode::SUCCESS)
}

fn ingest(config: Config, files: &[PathBuf]) -> Result<ExitCode, Failure> {
    let mut messages: Vec<(String, Vec<u8>)> = Vec::new();
    if files.is_empty() {
        let mut raw = Vec::new();
        std::io::stdin().read_to_end(&mut raw).context("cannot read standard input").exit_with(exit::TEMPFAIL)?;
        messages.push(("stdin".to_string(), raw));
    }
    for file in files {
        let raw =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display())).exit_with(exit::USAGE)?;
        messages.push((file.display().to_string(), raw));
    }
    let mut store = Store::open(&config.database_path()).exit_with(exit::TEMPFAIL)?;
    let mut sender = Sender::new(&config.transport, config.first_retry).exit_with(exit::CONFIG)?;
    let pipeline = Pipeline::new(config).exit_with(exit::CONFIG)?;
    let mut stdout = std::io::stdout().lock();
    for (source, raw) in &messages {
        let report = pipeline.ingest(&mut store, raw, source, Timestamp::now()).exit_with(exit::TEMPFAIL)?;
        let incident = report.incident.map(|number| format!(" {number}")).unwrap_or_default();
        let reason = report.reason.map(|reason| format!(" ({reason})")).unwrap_or_default();
        writeln!(stdout, "{source}: {}{incident}{reason}", report.outcome.as_str()).exit_with(1)?;
    }
    if let Err(error) = sender.drain(&mut store, Timestamp::now()) {
        tracing::warn!(error = %error, "outbox not drained; the daemon will retry");
    }
    Ok(ExitCode::SUCCESS)
}

fn man() -> Result<ExitCode, Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut page).exit_with(1)?;
    std::io::stdout().lock().write_all(&page).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Failure> {
    let mut command = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut command, "sitrep", &mut std::io::stdout().lock());
    Ok(ExitCode::SUCCESS)
}

fn tick(config: Config, now: Timestamp) -> Result<ExitCode, Failure> {
    let mut store = open_existing(&config)?;
    let mut sender = Sender::new(&config.transport, config.first_retry).exit_with(exit::CONFIG)?;
    let pipeline = Pipeline::new(config).exit_with(exit::CONFIG)?;
    let report = scheduler::tick(pipeline.outgoing(), &mut store, now).exit_with(exit::TEMPFAIL)?;
    writeln!(std::io::stdout().lock(), "{} incidents looked at, {} mails queued", report.incidents, report.queued)
        .exit_with(1)?;
    // Mail queued "at" a time ahead (tests, dry runs) is due by then.
    if let Err(error) = sender.drain(&mut store, now.max(Timestamp::now())) {
        tracing::warn!(error = %error, "outbox not drained; the daemon or the next tick will retry");
    }
    if report.failed > 0 {
        return Err(Failure {
            code: exit::TEMPFAIL,
            error: anyhow::anyhow!("scheduled work failed for {} incidents (see the log)", report.failed),
        });
    }
    Ok(ExitCode::SUCCESS)
}

fn report(config: &Config, id: &str, format: ReportFormat, output: Option<&Path>) -> Result<ExitCode, Failure> {
    let number: IncidentNumber = id.parse().map_err(anyhow::Error::msg).exit_with(exit::USAGE)?;
    if let Some(path) = output.filter(|path| path.exists()) {
        return Err(Failure {
            code: 1,
            error: anyhow::anyhow!("{} exists; sitrep never overwrites a file", path.display()),
        });
    }
    let store = open_existing(config)?;
    let incident =
        store.incident(number).exit_with(1)?.ok_or_else(|| anyhow::anyhow!("{number} does not exist")).exit_with(1)?;
    let timeline = store.timeline(number).exit_with(1)?;
    let records = store.retro_records(number).exit_with(1)?;
    let view = retrospective::compose_report(config, &incident, &timeline, &records, Timestamp::now());
    let renderer = Renderer::new(config.templates_dir.as_deref()).exit_with(exit::CONFIG)?;
    let (markdown, html) = renderer.report(&view).exit_with(exit::CONFIG)?;
    let text = match format {
        ReportFormat::Markdown => markdown,
        ReportFormat::Html => html,
    };
    match output {
        Some(path) => std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))
            .exit_with(1)?,
        None => std::io::stdout().lock().write_all(text.as_bytes()).exit_with(1)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn preview_digest(
    config: &Config,
    id: &str,
    audience: Audience,
    html: bool,
    now: Timestamp,
) -> Result<ExitCode, Failure> {
    let number: IncidentNumber = id.parse().map_err(anyhow::Error::msg).exit_with(exit::USAGE)?;
    let store = open_existing(config)?;
    let incident =
        store.incident(number).exit_with(1)?.ok_or_else(|| anyhow::anyhow!("{number} does not exist")).exit_with(1)?;
    let facts = store.schedule_facts(number).exit_with(1)?;
    let since_last = store.timeline_after(number, scheduler::covered(&facts.slots, audience)).exit_with(1)?;
    let view = scheduler::compose_digest(config, &incident, &facts.slots, &since_last, audience, now);
    let renderer = Renderer::new(config.templates_dir.as_deref()).exit_with(exit::CONFIG)?;
    let (text, html_body) = renderer.digest(&view).exit_with(exit::CONFIG)?;
    let mut stdout = std::io::stdout().lock();
    if html {
        stdout.write_all(html_body.as_bytes()).exit_with(1)?;
    } else {
        writeln!(stdout, "Subject: {}\n\n{text}", view.subject).exit_with(1)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn list(config: &Config) -> Result<ExitCode, Failure> {
    let store = open_existing(config)?;
    let incidents = store.incidents().exit_with(1)?;
    let mut stdout = std::io::stdout().lock();
    if incidents.is_empty() {
        writeln!(stdout, "No incidents.").exit_with(1)?;
    }
    for incident in incidents {
        writeln!(
            stdout,
            "{:<8} {:<13} {:<9} {:<13} {:<24} {}",
            incident.number.to_string(),
            incident.status.as_str(),
            incident.severity.map_or("-", |severity| severity.as_str()),
            incident.phase.as_str(),
            incident.lead.as_deref().unwrap_or("no lead"),
            incident.title
        )
        .exit_with(1)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(config: &Config, id: &str) -> Result<ExitCode, Failure> {
    let number: IncidentNumber = id.parse().map_err(anyhow::Error::msg).exit_with(exit::USAGE)?;
    let store = open_existing(config)?;
    let incident =
        store.incident(number).exit_with(1)?.ok_or_else(|| anyhow::anyhow!("{number} does not exist")).exit_with(1)?;
    let timeline = store.timeline(number).exit_with(1)?;
    let renderer = Renderer::new(config.templates_dir.as_deref()).exit_with(exit::CONFIG)?;
    let mut out = renderer.card(&incident, &config.time_zone).exit_with(exit::CONFIG)?;
    out.push_str("\nTimeline:\n");
    for entry in timeline {
        out.push_str(&format!(
            "- {} {} ({}, {})\n",
            local_time(entry.at, &config.time_zone),
            entry.author,
            entry.kind,
            entry.trust
        ));
        let text = if entry.text.is_empty() { "(no text)" } else { entry.text.as_str() };
        for line in text.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes()).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

fn export_store(config: &Config, json: bool) -> Result<ExitCode, Failure> {
    if !json {
        return Err(Failure { code: exit::USAGE, error: anyhow::anyhow!("choose a format: sitrep export --json") });
    }
    let store = open_existing(config)?;
    let document = export::export(&store).exit_with(1)?;
    writeln!(std::io::stdout().lock(), "{}", export::to_json(&document)).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

fn doctor(config: &Config, send_test: Option<&str>) -> Result<ExitCode, Failure> {
    let runtime = tokio::runtime::Runtime::new().exit_with(1)?;
    let checks = runtime.block_on(crate::doctor::examine(config, send_test));
    let mut stdout = std::io::stdout().lock();
    let mut failures = 0;
    for check in &checks {
        match &check.result {
            Ok(detail) => writeln!(stdout, "PASS {:<10} {detail}", check.name).exit_with(1)?,
            Err(trouble) => {
                failures += 1;
                writeln!(stdout, "FAIL {:<10} {}\n     hint: {}", check.name, trouble.problem, trouble.hint)
                    .exit_with(1)?;
            }
        }
    }
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn status(config: &Config) -> Result<ExitCode, Failure> {
    let store = open_existing(config)?;
    let summary = store.summary().exit_with(1)?;
    let now = Timestamp::now();
    let when = |at: Option<Timestamp>| match at {
        Some(at) => format!("{} ({} ago)", local_time(at, &config.time_zone), age(now, at)),
        None => "never".to_string(),
    };
    let mut out = String::new();
    out.push_str(&format!("store:          {}\n", config.database_path().display()));
    for (folder, uid_validity, last_uid) in &summary.cursors {
        out.push_str(&format!("mailbox:        {folder}, UIDVALIDITY {uid_validity}, last UID {last_uid}\n"));
    }
    out.push_str(&format!("messages:       {}\n", summary.messages));
    out.push_str(&format!("last message:   {}\n", when(summary.last_message)));
    out.push_str(&format!("outbox: {} queued, {} failed", summary.queued, summary.failed));
    if let Some(oldest) = summary.oldest_queued {
        out.push_str(&format!(", oldest waiting since {}", when(Some(oldest))));
    }
    out.push('\n');
    out.push_str(&format!("open incidents: {}\n", summary.open_incidents));
    let braked = store.rejected_since(now - jiff::SignedDuration::from_hours(1), triage::STORM).exit_with(1)?;
    if braked > 0 {
        out.push_str(&format!(
            "storm brake:    {braked} declarations refused in the last hour (limits in [limits] declarations_per_*)\n"
        ));
    }
    let (recipients, held) = store.held_digests().exit_with(1)?;
    if held > 0 {
        out.push_str(&format!(
            "digest cap:     {held} digests held for {recipients} executive{}, to go out combined \
             ([limits] digests_per_executive_per_hour)\n",
            if recipients == 1 { "" } else { "s" }
        ));
    }
    let next = store.next_scheduled().exit_with(1)?;
    out.push_str(&format!(
        "next scheduled: {}\n",
        next.map_or_else(|| "nothing".to_string(), |at| local_time(at, &config.time_zone))
    ));
    std::io::stdout().lock().write_all(out.as_bytes()).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

/// "3 min", "2 h", "4 d": how long ago, for people.
fn age(now: Timestamp, then: Timestamp) -> String {
    let seconds = now.duration_since(then).as_secs().max(0);
    match seconds {
        0..120 => format!("{seconds} s"),
        120..7200 => format!("{} min", seconds / 60),
        7200..172_800 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

fn backup(config: &Config, file: &Path) -> Result<ExitCode, Failure> {
    if file.exists() {
        return Err(Failure {
            code: 1,
            error: anyhow::anyhow!("{} exists; sitrep never overwrites a file", file.display()),
        });
    }
    let store = open_existing(config)?;
    store.backup(file).with_context(|| format!("cannot back up to {}", file.display())).exit_with(1)?;
    writeln!(std::io::stdout().lock(), "backed up {} to {}", config.database_path().display(), file.display())
        .exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

fn outbox(config: &Config, retry: Option<i64>) -> Result<ExitCode, Failure> {
    let mut store = open_existing(config)?;
    let mut stdout = std::io::stdout().lock();
    if let Some(id) = retry {
        let requeued = store.retry(id, Timestamp::now()).exit_with(1)?;
        writeln!(stdout, "outbox {id}: {requeued} failed deliveries queued again").exit_with(1)?;
        return Ok(ExitCode::SUCCESS);
    }
    let deliveries = store.unsent_deliveries().exit_with(1)?;
    if deliveries.is_empty() {
        writeln!(stdout, "Nothing waiting: every mail was delivered.").exit_with(1)?;
    }
    for delivery in deliveries {
        let next = match delivery.status {
            DeliveryStatus::Queued => {
                format!("next attempt {}", local_time(delivery.next_attempt_at, &config.time_zone))
            }
            DeliveryStatus::Sending => {
                format!("being sent; free again {}", local_time(delivery.next_attempt_at, &config.time_zone))
            }
            _ => "retry with --retry".to_string(),
        };
        writeln!(
            stdout,
            "{:>5} {:<7} {:<32} attempts {:<3} {}  {}",
            delivery.outbox,
            delivery.status.as_str(),
            delivery.recipient,
            delivery.attempts,
            next,
            delivery.last_error.as_deref().unwrap_or("")
        )
        .exit_with(1)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn check_config(config: &Config) -> Result<ExitCode, Failure> {
    check_templates(config).exit_with(exit::CONFIG)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}: configuration is valid", config.origin).exit_with(1)?;
    writeln!(stdout, "  incident address: {}", config.address.with_detail(None)).exit_with(1)?;
    writeln!(stdout, "  store:            {}", config.database_path().display()).exit_with(1)?;
    writeln!(stdout, "  staff domains:    {}", config.access.staff_domains.join(", ")).exit_with(1)?;
    writeln!(stdout, "  executives:       {}", config.executives.join(", ")).exit_with(1)?;
    match &config.trusted_authserv_id {
        Some(id) => writeln!(stdout, "  sender checks:    staff mail counts when {id} vouches for it").exit_with(1)?,
        None => {
            writeln!(stdout, "  WARNING:          {}", auth::unauthenticated_warning(&config.access)).exit_with(1)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Read commands open the store the daemon writes; they create it if absent
/// so that a fresh install answers "No incidents." rather than an error.
fn open_existing(config: &Config) -> Result<OpenStore, Failure> {
    let path = config.database_path();
    let owner = StoreOwner::of(&path);
    let store =
        Store::open(&path).with_context(|| format!("cannot open the store at {}", path.display())).exit_with(1)?;
    Ok(OpenStore { store, _owner: owner })
}

/// A store opened by a command, and what to tidy when it closes.
struct OpenStore {
    // Declared first: the connection closes before the owner is restored.
    store: Store,
    _owner: Option<StoreOwner>,
}

impl std::ops::Deref for OpenStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl std::ops::DerefMut for OpenStore {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// Root running `sitrep status` on the store of a service with its own user
/// (`DynamicUser=yes`) would leave root-owned `-wal` and `-shm` files that
/// the service cannot open; they are handed back to the store's owner.
struct StoreOwner {
    database: PathBuf,
    uid: u32,
    gid: u32,
}

impl StoreOwner {
    fn of(database: &Path) -> Option<StoreOwner> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(database).ok()?;
        let root = rustix::process::geteuid().is_root();
        (root && metadata.uid() != 0).then(|| StoreOwner {
            database: database.to_path_buf(),
            uid: metadata.uid(),
            gid: metadata.gid(),
        })
    }
}

impl Drop for StoreOwner {
    fn drop(&mut self) {
        for suffix in ["-wal", "-shm"] {
            let mut name = self.database.clone().into_os_string();
            name.push(suffix);
            let file = PathBuf::from(name);
            if file.exists()
                && let Err(error) = std::os::unix::fs::chown(&file, Some(self.uid), Some(self.gid))
            {
                tracing::warn!(file = %file.display(), %error, "cannot give the file back to the store's owner");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_hands_the_write_ahead_log_back_to_the_stores_owner() {
        use std::os::unix::fs::MetadataExt;
        if !rustix::process::geteuid().is_root() {
            assert!(std::env::var_os("CI").is_none(), "CI runs the tests as root");
            eprintln!("skipped: only root can change owners");
            return;
        }
        let directory = tempfile::tempdir().unwrap();
        let database = directory.path().join("sitrep.db");
        std::fs::write(&database, b"").unwrap();
        std::os::unix::fs::chown(&database, Some(61_234), Some(61_234)).unwrap();
        let owner = StoreOwner::of(&database).expect("root, and the store belongs to another user");
        for suffix in ["-wal", "-shm"] {
            std::fs::write(directory.path().join(format!("sitrep.db{suffix}")), b"").unwrap();
        }
        drop(owner);
        for suffix in ["-wal", "-shm"] {
            let metadata = std::fs::metadata(directory.path().join(format!("sitrep.db{suffix}"))).unwrap();
            assert_eq!((metadata.uid(), metadata.gid()), (61_234, 61_234), "{suffix}");
        }
        std::os::unix::fs::chown(&database, Some(0), Some(0)).unwrap();
        assert!(StoreOwner::of(&database).is_none(), "root's own store needs nothing");
    }
}

//! Commands that run or change sitrep: the daemon, ingest, tick, doctor,
//! backup, the configuration check, and the manual and completions.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use jiff::Timestamp;

use super::{Cli, ExitWith, Failure, exit, open_existing};
use crate::config::Config;
use crate::core::auth;
use crate::outbox::Senders;
use crate::pipeline::{Arrival, Pipeline};
use crate::store::{Store, StoreError};
use crate::template_check::check_templates;
use crate::{daemon, scheduler};

pub(super) fn run_daemon(config: Config, config_path: Option<PathBuf>) -> Result<ExitCode, Failure> {
    // A template that does not render is a configuration error: refuse to
    // start rather than fail on the first declaration.
    check_templates(&config).exit_with(exit::CONFIG)?;
    // Restarting cannot make a missing password file appear.
    refuse_unreadable_secrets(&config)?;
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

pub(super) fn ingest(config: Config, files: &[PathBuf]) -> Result<ExitCode, Failure> {
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
    let mut sender = Senders::new(&config).exit_with(exit::CONFIG)?;
    let pipeline = Pipeline::new(config).exit_with(exit::CONFIG)?;
    let mut stdout = std::io::stdout().lock();
    // Files given together share commits, as a backlog in the mailbox does.
    let waiting: Vec<(&[u8], Arrival<'_>)> = messages
        .iter()
        .map(|(source, raw)| {
            (raw.as_slice(), Arrival { source, position: None, size_over_limit: None, fallback: false })
        })
        .collect();
    let mut next = 0;
    while next < waiting.len() {
        let reports =
            pipeline.ingest_batch(&mut store, &waiting[next..], Timestamp::now()).exit_with(exit::TEMPFAIL)?;
        for (report, (_, arrival)) in reports.iter().zip(&waiting[next..]) {
            let incident = report.incident.map(|number| format!(" {number}")).unwrap_or_default();
            let reason = report.reason.as_ref().map(|reason| format!(" ({reason})")).unwrap_or_default();
            // The report is for a reader; one who went away stops no message.
            let _ = writeln!(stdout, "{}: {}{incident}{reason}", arrival.source, report.outcome.as_str());
        }
        next += reports.len();
    }
    if let Err(error) = sender.drain(&mut store, Timestamp::now()) {
        tracing::warn!(error = %error, "outbox not drained; the daemon will retry");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn man(page: super::ManPage) -> Result<ExitCode, Failure> {
    let page = match page {
        super::ManPage::Sitrep => super::manual::page().exit_with(1)?,
        super::ManPage::SitrepToml => super::manual::configuration_page().into_bytes(),
    };
    std::io::stdout().lock().write_all(&page).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Failure> {
    let mut command = <Cli as clap::CommandFactory>::command();
    // Into a buffer first: clap_complete panics when it cannot write.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "sitrep", &mut script);
    std::io::stdout().lock().write_all(&script).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn tick(config: Config, now: Timestamp) -> Result<ExitCode, Failure> {
    let mut store = open_existing(&config)?;
    let mut sender = Senders::new(&config).exit_with(exit::CONFIG)?;
    let pipeline = Pipeline::new(config).exit_with(exit::CONFIG)?;
    let report = scheduler::tick(pipeline.outgoing(), &mut store, now).exit_with(exit::TEMPFAIL)?;
    if let Err(error) = crate::fallback::reroute_stalled(pipeline.outgoing(), &mut store, now) {
        tracing::warn!(error = %error, "fallback delivery failed; the daemon or the next tick will retry");
    }
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

pub(super) fn doctor(config: &Config, send_test: Option<&str>) -> Result<ExitCode, Failure> {
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

pub(super) fn backup(config: &Config, file: &Path) -> Result<ExitCode, Failure> {
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

pub(super) fn check_config(config: &Config) -> Result<ExitCode, Failure> {
    check_templates(config).exit_with(exit::CONFIG)?;
    refuse_unreadable_secrets(config)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}: configuration is valid", config.origin).exit_with(1)?;
    writeln!(stdout, "  incident address: {}", config.address.with_detail(None)).exit_with(1)?;
    writeln!(stdout, "  store:            {}", config.database_path().display()).exit_with(1)?;
    writeln!(stdout, "  staff domains:    {}", config.access.staff_domains.join(", ")).exit_with(1)?;
    writeln!(stdout, "  executives:       {}", config.executives.join(", ")).exit_with(1)?;
    let placeholders = config.placeholders();
    if !placeholders.is_empty() {
        writeln!(stdout, "  WARNING:          still at placeholder values: {}", placeholders.join(", "))
            .exit_with(1)?;
    }
    match &config.trusted_authserv_id {
        Some(id) => writeln!(stdout, "  sender checks:    staff mail counts when {id} vouches for it").exit_with(1)?,
        None => {
            writeln!(stdout, "  WARNING:          {}", auth::unauthenticated_warning(&config.access)).exit_with(1)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn refuse_unreadable_secrets(config: &Config) -> Result<(), Failure> {
    match config.unreadable_secrets().as_slice() {
        [] => Ok(()),
        unreadable => Err(Failure {
            code: exit::CONFIG,
            error: anyhow::anyhow!("{}: cannot read {}", config.origin, unreadable.join("; ")),
        }),
    }
}

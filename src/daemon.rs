//! `sitrep run`: watch the mailbox, ingest each message, mark it done at its
//! source only after the commit, and drain the outbox.
//!
//! The work runs on one thread that owns the store; the async side only
//! waits for the shutdown signal. On shutdown the message in hand is
//! finished, then the loop returns.

use std::fs::File;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use anyhow::Context as _;
use jiff::Timestamp;
use tracing::{error, info, warn};

use crate::config::{Config, MailboxConfig};
use crate::maildir::Maildir;
use crate::outbox::Sender;
use crate::pipeline::Pipeline;
use crate::store::Store;

/// Set to `after_commit` to abort between the store commit and the mailbox
/// mark: the crash that must lose nothing and process nothing twice.
pub const FAILPOINT_VARIABLE: &str = "SITREP_FAILPOINT";

/// Runs until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let _lock = lock(&config.lock_path())?;
    let mut store = Store::open(&config.database_path())?;
    let sender = Sender::new(&config.transport)?;
    let MailboxConfig::Maildir { path, poll_interval } = &config.mailbox;
    let maildir = Maildir::open(path).with_context(|| format!("cannot open Maildir {}", path.display()))?;
    let poll_interval = *poll_interval;
    info!(mailbox = %path.display(), store = %config.database_path().display(), "sitrep running");
    let pipeline = Pipeline::new(config)?;

    let stopping = Arc::new(AtomicBool::new(false));
    let worker = {
        let stopping = Arc::clone(&stopping);
        thread::Builder::new().name("sitrep-worker".into()).spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                if let Err(error) = pass(&pipeline, &mut store, &maildir, &sender, &stopping) {
                    error!(error = format!("{error:#}"), "processing pass failed; retrying");
                }
                thread::park_timeout(poll_interval);
            }
        })?
    };
    let worker_thread = worker.thread().clone();
    shutdown.await;
    info!("shutting down after the message in hand");
    stopping.store(true, Ordering::SeqCst);
    worker_thread.unpark();
    tokio::task::spawn_blocking(move || worker.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the worker thread panicked"))?;
    info!("stopped");
    Ok(())
}

/// One pass: every pending message in arrival order, then the outbox.
fn pass(
    pipeline: &Pipeline,
    store: &mut Store,
    maildir: &Maildir,
    sender: &Sender,
    stopping: &AtomicBool,
) -> anyhow::Result<()> {
    for path in maildir.pending()? {
        if stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        let raw = match std::fs::read(&path) {
            Ok(raw) => raw,
            Err(error) => {
                warn!(path = %path.display(), %error, "cannot read message; skipped this pass");
                continue;
            }
        };
        let source = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        pipeline.ingest(store, &raw, &source, Timestamp::now())?;
        if std::env::var_os(FAILPOINT_VARIABLE).is_some_and(|value| value == "after_commit") {
            std::process::abort();
        }
        maildir.mark_done(&path).with_context(|| format!("cannot move {} to cur/", path.display()))?;
    }
    sender.drain(store, Timestamp::now())?;
    Ok(())
}

/// One daemon per data directory: a second one would race the first.
fn lock(path: &Path) -> anyhow::Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("another sitrep is already running on this data directory (lock {})", path.display())
        }
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops sitrep");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

//! `sitrep run`: the mailbox worker (Maildir or IMAP) ingests each message
//! and marks it done at its source only after the commit; the sender drains
//! the outbox on its own connection to the store, so a down SMTP server
//! never stops ingestion. On shutdown the message in hand is finished.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use jiff::Timestamp;
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use crate::config::{Config, MailboxConfig};
use crate::imap;
use crate::maildir::Maildir;
use crate::maintenance::{self, CareError};
use crate::notify::{self, Notifier};
use crate::outbox::Senders;
use crate::pipeline::{Arrival, BATCH_MESSAGES, Pipeline, SharedPipeline};
use crate::scheduler;
use crate::store::{Store, StoreError};
use crate::{failpoint, fallback};

/// How often the schedule and the outbox are looked at when nothing wakes the sender.
const SEND_INTERVAL: Duration = Duration::from_secs(1);

/// The page cache of the sender's and the daily check's connections: the
/// check reads the whole store once a day and needs no cache to do it; the
/// sender touches a few outbox rows a pass. SQLite's default is 2 MiB each.
const SWEEPING_CACHE_KIB: u32 = 256;

/// Runs until `shutdown` resolves. SIGHUP reloads the configuration from
/// `reload_from` (as `--config` gave it): templates, people, stakeholders
/// and access take effect for the next message. Long on purpose: the
/// daemon's life from start to stop, with systemd's notices, in one order.
pub async fn run(
    config: Config,
    reload_from: Option<PathBuf>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Registered first: SIGHUP's default action would end the process.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let _lock = lock(&config.lock_path())?;
    let store = Store::open(&config.database_path())?;
    let sender = Senders::new(&config)?;
    let sender_store = Store::open(&config.database_path())?;
    sender_store.limit_cache(SWEEPING_CACHE_KIB)?;
    let pipeline = SharedPipeline::new(Pipeline::new(config.clone())?);
    let wake_sender = Arc::new(Notify::new());
    let ready = Arc::new(Notify::new());
    let notifier = Notifier::from_environment();
    let (stop, stopping) = watch::channel(false);
    let sending =
        tokio::spawn(send_loop(sender, sender_store, pipeline.clone(), Arc::clone(&wake_sender), stopping.clone()));
    let care_store = Store::open(&config.database_path())?;
    care_store.limit_cache(SWEEPING_CACHE_KIB)?;
    // A daily check or backup of a large store must not hold up a stop.
    let stop_care = care_store.interrupt_handle();
    let caring = tokio::task::spawn_blocking({
        let config = config.clone();
        let stopping = stopping.clone();
        move || care_loop(&config, care_store, stopping)
    });
    // Resolves only with damage found by the daily check.
    let damage_found = async {
        match caring.await {
            Ok(Err(damage)) => damage,
            _ => std::future::pending().await,
        }
    };
    info!(store = %config.database_path().display(), "sitrep running");
    if config.trusted_authserv_id.is_none() {
        warn!("{}", crate::core::auth::unauthenticated_warning(&config.access));
    }
    let receiving = start_mailbox(
        &config.mailbox,
        false,
        pipeline.clone(),
        store,
        Arc::clone(&wake_sender),
        Arc::clone(&ready),
        stopping.clone(),
    )?;
    // The out-of-band mailbox is watched beside it, into the same store; the
    // daemon is ready when either is, since it is for the day the other fails.
    let receiving_fallback = match &config.fallback {
        Some(fallback) => Some(start_mailbox(
            &fallback.mailbox,
            true,
            pipeline.clone(),
            Store::open(&config.database_path())?,
            Arc::clone(&wake_sender),
            Arc::clone(&ready),
            stopping,
        )?),
        None => None,
    };
    tokio::pin!(shutdown);
    tokio::pin!(damage_found);
    let mut damaged = None;
    // Ready only once the store is open and the mailbox is logged in.
    let started = tokio::select! {
        _ = ready.notified() => true,
        _ = &mut shutdown => false,
        damage = &mut damage_found => {
            error!(error = %damage, "the store is damaged; no more mail is taken (see docs/install.md on restoring a backup)");
            damaged = Some(damage);
            false
        }
    };
    if started {
        info!("ready");
        if let Some(notifier) = &notifier {
            notifier.send("READY=1\nSTATUS=Watching the incident mailbox");
        }
        let watchdog = keep_watchdog_fed(notifier.as_ref());
        tokio::pin!(watchdog);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                damage = &mut damage_found => {
                    error!(error = %damage, "the store is damaged; no more mail is taken (see docs/install.md on restoring a backup)");
                    damaged = Some(damage);
                    break;
                }
                _ = &mut watchdog => {}
                _ = hangup.recv() => {
                    if let Some(notifier) = &notifier {
                        notifier.send("RELOADING=1");
                    }
                    reload(&pipeline, &config, reload_from.as_deref());
                    if let Some(notifier) = &notifier {
                        notifier.send("READY=1");
                    }
                }
            }
        }
    }
    if let Some(notifier) = &notifier {
        notifier.send("STOPPING=1");
    }
    info!("shutting down after the message in hand");
    let _ = stop.send(true);
    stop_care.interrupt();
    receiving.await?;
    if let Some(receiving) = receiving_fallback {
        receiving.await?;
    }
    sending.await?;
    info!("stopped");
    match damaged {
        Some(damage) => Err(damage.into()),
        None => Ok(()),
    }
}

/// Starts a mailbox worker: a thread over a Maildir (ready at once) or
/// the IMAP task (ready once logged in). `fallback`: the out-of-band one.
fn start_mailbox(
    mailbox: &MailboxConfig,
    fallback: bool,
    pipeline: SharedPipeline,
    store: Store,
    wake_sender: Arc<Notify>,
    ready: Arc<Notify>,
    stopping: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    Ok(match mailbox {
        MailboxConfig::Maildir { path, poll_interval } => {
            let maildir = Maildir::open(path).with_context(|| format!("cannot open Maildir {}", path.display()))?;
            info!(mailbox = %path.display(), fallback, "watching the Maildir");
            let worker = maildir_worker((maildir, fallback), *poll_interval, pipeline, store, wake_sender, stopping)?;
            ready.notify_one();
            tokio::task::spawn_blocking(move || {
                if worker.join().is_err() {
                    error!("the Maildir worker panicked");
                }
            })
        }
        MailboxConfig::Imap(imap_config) => {
            info!(host = %imap_config.host, folder = %imap_config.folder, fallback, "watching the IMAP mailbox");
            tokio::spawn(imap::run(
                imap_config.clone(),
                fallback,
                pipeline,
                Arc::new(Mutex::new(store)),
                wake_sender,
                ready,
                stopping,
            ))
        }
    })
}

/// Daily care of the store (`maintenance::care`) on its own connection.
/// Returns when the daemon stops, or with damage, which must stop it.
fn care_loop(config: &Config, mut store: Store, stopping: watch::Receiver<bool>) -> Result<(), StoreError> {
    loop {
        let now = Timestamp::now();
        let next = match maintenance::care(config, &mut store, now) {
            Ok(next) => next,
            Err(CareError::Store(damage @ StoreError::Damaged { .. })) => return Err(damage),
            // Interrupted by a stop.
            Err(_) if *stopping.borrow() => return Ok(()),
            Err(error) => {
                error!(error = format!("{error:#}"), "store care failed; trying again in an hour");
                now + jiff::SignedDuration::from_hours(1)
            }
        };
        while Timestamp::now() < next {
            if *stopping.borrow() {
                return Ok(());
            }
            thread::sleep(Duration::from_secs(1));
        }
    }
}

/// Replaces the pipeline with one built from the configuration file as it
/// is now; on any error the running one stays and the log says why.
fn reload(pipeline: &SharedPipeline, running: &Config, source: Option<&Path>) {
    let mut config = match Config::load(source) {
        Ok(config) => config,
        Err(error) => {
            error!(%error, "reload refused; the running configuration stays");
            return;
        }
    };
    if let Err(error) = crate::template_check::check_templates(&config) {
        error!(error = format!("{error:#}"), "reload refused; the running configuration stays");
        return;
    }
    if config.mailbox != running.mailbox
        || config.transport != running.transport
        || config.fallback != running.fallback
        || config.data_dir != running.data_dir
    {
        warn!("mailbox, transport, fallback and data_dir changes take effect at the next restart");
    }
    // Mail is routed by the fallback the senders run with, until then.
    config.fallback = running.fallback.clone();
    match Pipeline::new(config) {
        Ok(new) => {
            pipeline.replace(new);
            info!("configuration reloaded");
        }
        Err(error) => error!(%error, "reload refused; the running configuration stays"),
    }
}

/// Sends `WATCHDOG=1` at half the watchdog period, for as long as the
/// daemon's event loop runs; never returns.
async fn keep_watchdog_fed(notifier: Option<&Notifier>) {
    match (notifier, notify::watchdog_interval()) {
        (Some(notifier), Some(interval)) => loop {
            notifier.send("WATCHDOG=1");
            tokio::time::sleep(interval).await;
        },
        _ => std::future::pending().await,
    }
}

/// Scans `new/` on a timer; each message is committed, then moved to `cur/`.
fn maildir_worker(
    (maildir, fallback): (Maildir, bool),
    poll_interval: Duration,
    pipeline: SharedPipeline,
    mut store: Store,
    wake_sender: Arc<Notify>,
    stopping: watch::Receiver<bool>,
) -> anyhow::Result<thread::JoinHandle<()>> {
    let worker = thread::Builder::new().name("sitrep-maildir".into()).spawn(move || {
        let mut trouble =
            Trouble::new("mailbox pass failed; mail waits in the Maildir until it succeeds", poll_interval);
        while !*stopping.borrow() {
            let pass = maildir_pass(&pipeline.current(), &mut store, (&maildir, fallback), &wake_sender, &stopping);
            let pause = match pass {
                Ok(taken) => {
                    // A backlog is taken: its pages need not stay in memory.
                    if taken >= BATCH_MESSAGES
                        && let Err(error) = store.release_memory()
                    {
                        warn!(%error, "the store kept its cache");
                    }
                    trouble.over()
                }
                Err(error) => trouble.again(&format!("{error:#}")),
            };
            thread::park_timeout(pause);
        }
    })?;
    Ok(worker)
}

fn maildir_pass(
    pipeline: &Pipeline,
    store: &mut Store,
    (maildir, fallback): (&Maildir, bool),
    wake_sender: &Notify,
    stopping: &watch::Receiver<bool>,
) -> anyhow::Result<usize> {
    let pending = maildir.pending()?;
    let (mut next, mut taken) = (0, 0);
    while next < pending.len() {
        if *stopping.borrow() {
            return Ok(taken);
        }
        // Messages that wait together share a commit.
        let mut batch = Vec::new();
        let mut scanned = next;
        for path in &pending[next..] {
            if batch.len() == BATCH_MESSAGES {
                break;
            }
            scanned += 1;
            match std::fs::read(path) {
                Ok(raw) => {
                    let source = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                    batch.push((scanned - 1, path, source, raw));
                }
                Err(error) => warn!(path = %path.display(), %error, "cannot read message; skipped this pass"),
            }
        }
        let waiting: Vec<(&[u8], Arrival<'_>)> = batch
            .iter()
            .map(|(_, _, source, raw)| {
                (raw.as_slice(), Arrival { source, position: None, size_over_limit: None, fallback })
            })
            .collect();
        let reports = pipeline.ingest_batch(store, &waiting, Timestamp::now())?;
        wake_sender.notify_one();
        failpoint::crash_at("after_commit");
        for (_, path, ..) in &batch[..reports.len()] {
            maildir.mark_done(path).with_context(|| format!("cannot move {} to cur/", path.display()))?;
        }
        taken += reports.len();
        // A batch cut short by its time limit goes on from where it stopped.
        next = batch.get(reports.len()).map_or(scanned, |(index, ..)| *index);
    }
    Ok(taken)
}

/// Runs the scheduled work that is due and drains the outbox, when woken
/// after a commit and every second (for the schedule and for retries).
async fn send_loop(
    sender: Senders,
    store: Store,
    pipeline: SharedPipeline,
    wake: Arc<Notify>,
    mut stopping: watch::Receiver<bool>,
) {
    let shared = Arc::new(Mutex::new((sender, store)));
    let mut trouble = Trouble::new("outbox pass failed; nothing more is sent until it succeeds", SEND_INTERVAL);
    loop {
        let pass = Arc::clone(&shared);
        let pipeline = pipeline.current();
        let stop = stopping.clone();
        let drained = tokio::task::spawn_blocking(move || {
            let mut guard = pass.lock().map_err(|_| anyhow::anyhow!("sender lock poisoned"))?;
            let (sender, store) = &mut *guard;
            if let Err(error) = scheduler::tick(pipeline.outgoing(), store, Timestamp::now()) {
                error!(error = format!("{error:#}"), "scheduled work failed; retrying");
            }
            if let Err(error) = fallback::reroute_stalled(pipeline.outgoing(), store, Timestamp::now()) {
                error!(error = format!("{error:#}"), "fallback delivery failed; retrying");
            }
            sender.drain_while(store, Timestamp::now(), || !*stop.borrow()).map_err(anyhow::Error::from)
        })
        .await;
        let pause = match drained {
            Ok(Ok(_)) => trouble.over(),
            Ok(Err(error)) => trouble.again(&format!("{error:#}")),
            Err(error) => trouble.again(&format!("the outbox pass panicked: {error}")),
        };
        if *stopping.borrow() {
            return;
        }
        tokio::select! {
            _ = wake.notified(), if pause == SEND_INTERVAL => {}
            _ = tokio::time::sleep(pause) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// A pass that keeps failing (a full disk, a locked or read-only store):
/// the worker backs off, doubling its pause up to a minute, and says so once
/// a minute with how often it failed, not ten lines a second.
struct Trouble {
    /// What failing means, for the log.
    what: &'static str,
    /// The pause between passes when all is well.
    base: Duration,
    failures: u32,
    unreported: u32,
    reported_at: Option<std::time::Instant>,
}

impl Trouble {
    const LONGEST_PAUSE: Duration = Duration::from_secs(60);

    fn new(what: &'static str, base: Duration) -> Trouble {
        Trouble { what, base, failures: 0, unreported: 0, reported_at: None }
    }

    fn again(&mut self, error: &str) -> Duration {
        self.failures += 1;
        self.unreported += 1;
        if self.reported_at.is_none_or(|at| at.elapsed() >= Self::LONGEST_PAUSE) {
            error!(error, failures = self.unreported, "{}", self.what);
            self.unreported = 0;
            self.reported_at = Some(std::time::Instant::now());
        }
        self.base.saturating_mul(1 << self.failures.min(6)).min(Self::LONGEST_PAUSE.max(self.base))
    }

    fn over(&mut self) -> Duration {
        if self.failures > 0 {
            info!(failures = self.failures, "passes succeed again after: {}", self.what);
        }
        self.failures = 0;
        self.unreported = 0;
        self.reported_at = None;
        self.base
    }
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

/// Listens for SIGINT and SIGTERM from the moment it is called (inside a
/// runtime); the future resolves on the first of them.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (terminate, interrupt) => {
                warn!(?terminate, ?interrupt, "cannot listen for signals; stop sitrep with SIGKILL");
                std::future::pending::<()>().await;
            }
        }
    }
}

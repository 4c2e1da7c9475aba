//! The IMAP mailbox: find new mail by UID under the stored UIDVALIDITY,
//! fetch it with `BODY.PEEK[]` (a person reading the mailbox changes
//! nothing), hand it to the pipeline, and only after the commit move or flag
//! it on the server. IDLE when offered, NOOP polling otherwise; reconnect
//! with jittered backoff; a silent connection is replaced.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_imap::Session;
use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use futures::TryStreamExt;
use jiff::Timestamp;
use tokio::time::timeout;
use tracing::{error, info, warn};

use crate::config::{AfterCommit, ImapConfig};
use crate::pipeline::{Arrival, SharedPipeline};
use crate::store::{MailboxPosition, Store};

mod connection;

use connection::{ImapStream, connect};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const LONGEST_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// How many committed messages are marked on the server in one command.
const MARK_BATCH: usize = 50;

/// Fetched bytes held before they are committed and marked.
const CHUNK_BYTES: usize = 32 * 1024 * 1024;

/// A message fetched and not yet taken.
struct Fetched {
    uid: u32,
    raw: Vec<u8>,
    /// Its size, when only its header was fetched.
    over_limit: Option<u64>,
}

/// DONE must be answered quickly; a connection that cannot is dead.
const DONE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("imap: {0}")]
    Protocol(#[from] async_imap::error::Error),
    #[error("imap: {0}")]
    Io(#[from] io::Error),
    #[error("imap: no answer within {0:?}")]
    Timeout(Duration),
    #[error("imap: {0}")]
    Other(String),
}

type ImapResult<T> = Result<T, ImapError>;

/// Runs until `shutdown` resolves; never returns an error for a failing
/// server, only keeps reconnecting.
/// Runs until shutdown. `fallback`: this is the out-of-band mailbox, whose
/// positions are kept apart from the primary's (both may be an `INBOX`).
pub async fn run(
    config: ImapConfig,
    fallback: bool,
    pipeline: SharedPipeline,
    store: Arc<Mutex<Store>>,
    on_commit: Arc<tokio::sync::Notify>,
    ready: Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let worker = Worker {
            config: &config,
            fallback,
            pipeline: &pipeline,
            store: &store,
            on_commit: &on_commit,
            ready: &ready,
        };
        let mut selected = false;
        match worker.session(&mut shutdown, &mut selected).await {
            Ok(()) => return,
            Err(error) => {
                // A session that got as far as the folder was healthy: the
                // next failure starts the backoff over.
                if selected {
                    backoff = FIRST_BACKOFF;
                }
                let delay = backoff.mul_f64(0.5 + fastrand::f64());
                warn!(%error, retry_in = ?delay, "IMAP session ended; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(LONGEST_BACKOFF);
            }
        }
    }
}

struct Worker<'a> {
    config: &'a ImapConfig,
    fallback: bool,
    pipeline: &'a SharedPipeline,
    store: &'a Arc<Mutex<Store>>,
    on_commit: &'a Arc<tokio::sync::Notify>,
    /// Told each time the folder is selected: the daemon is then ready.
    ready: &'a Arc<tokio::sync::Notify>,
}

impl Worker<'_> {
    /// The folder's name in the store.
    fn key(&self) -> String {
        match self.fallback {
            true => format!("fallback:{}", self.config.folder),
            false => self.config.folder.clone(),
        }
    }

    /// One connection: log in, catch up, then wait for news; returns Ok only
    /// on shutdown.
    async fn session(&self, shutdown: &mut tokio::sync::watch::Receiver<bool>, selected: &mut bool) -> ImapResult<()> {
        let config = self.config;
        let mut session = connect(config).await?;
        let capabilities = self.bounded(session.capabilities()).await??;
        let can_idle = capabilities.has_str("IDLE");
        let can_move = capabilities.has_str("MOVE");
        if let AfterCommit::Move { folder } = &config.after {
            // Creating an existing folder fails harmlessly.
            let _ = self.bounded(session.create(folder)).await?;
        }
        let mailbox = self.bounded(session.select(&config.folder)).await??;
        let uid_validity =
            mailbox.uid_validity.ok_or_else(|| ImapError::Other("the server reports no UIDVALIDITY".into()))?;
        info!(folder = %config.folder, uid_validity, idle = can_idle, "IMAP mailbox selected");
        *selected = true;
        self.ready.notify_one();
        let last_uid = self.cursor(uid_validity).await?;
        self.remark(&mut session, uid_validity, can_move).await?;
        let mut last_uid = self.catch_up(&mut session, uid_validity, last_uid, can_move, shutdown).await?;
        loop {
            if *shutdown.borrow() {
                let _ = timeout(DONE_TIMEOUT, session.logout()).await;
                return Ok(());
            }
            // News that arrived while we were fetching is in the
            // unsolicited channel, not in the next IDLE: catch up first.
            let mut pending = false;
            while let Ok(response) = session.unsolicited_responses.try_recv() {
                pending |= matches!(response, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_));
            }
            if !pending {
                session = if can_idle {
                    self.idle(session, shutdown).await?
                } else {
                    tokio::select! {
                        _ = tokio::time::sleep(config.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                    self.bounded(session.noop()).await??;
                    session
                };
            }
            last_uid = self.catch_up(&mut session, uid_validity, last_uid, can_move, shutdown).await?;
        }
    }

    /// Waits in IDLE until the server reports something, the re-arm time
    /// passes, or shutdown; then ends IDLE within `DONE_TIMEOUT`.
    async fn idle(
        &self,
        session: Session<ImapStream>,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> ImapResult<Session<ImapStream>> {
        let mut handle = session.idle();
        self.bounded(handle.init()).await??;
        {
            // A silent server (no keepalive within the timeout) counts as hung.
            let (wait, stop) = handle.wait_with_timeout(self.config.timeout.max(Duration::from_secs(5 * 60)));
            tokio::pin!(wait);
            let response = tokio::select! {
                response = &mut wait => Some(response?),
                _ = tokio::time::sleep(self.config.idle_rearm) => None,
                _ = shutdown.changed() => None,
            };
            if response.is_none() {
                drop(stop);
                (&mut wait).await?;
            } else if response == Some(IdleResponse::Timeout) {
                warn!("IMAP connection silent too long; checking it");
            }
        }
        timeout(DONE_TIMEOUT, handle.done()).await.map_err(|_| ImapError::Timeout(DONE_TIMEOUT))?.map_err(Into::into)
    }

    /// Everything newer than the cursor, oldest first. Each message is
    /// committed on its own; the server marks then go out per chunk, so a
    /// backlog costs one round trip per message, not three.
    async fn catch_up(
        &self,
        session: &mut Session<ImapStream>,
        uid_validity: u32,
        mut last_uid: u32,
        can_move: bool,
        shutdown: &tokio::sync::watch::Receiver<bool>,
    ) -> ImapResult<u32> {
        let range = format!("{}:*", last_uid + 1);
        let fetches = self
            .bounded(async { session.uid_fetch(&range, "(UID RFC822.SIZE)").await?.try_collect::<Vec<_>>().await })
            .await??;
        // "N:*" always matches the highest UID, even below N.
        let mut sizes: Vec<(u32, u32)> = fetches
            .iter()
            .filter_map(|fetch| Some((fetch.uid?, fetch.size?)))
            .filter(|&(uid, _)| uid > last_uid)
            .collect();
        sizes.sort_unstable();
        let mut fetched = Vec::new();
        let mut bytes = 0;
        for (position, &(uid, size)) in sizes.iter().enumerate() {
            if *shutdown.borrow() {
                break;
            }
            if let Some(message) = self.fetch(session, uid, size).await? {
                bytes += message.raw.len();
                fetched.push(message);
            }
            last_uid = uid;
            // Committed together and marked together, in chunks whose bytes
            // stay bounded whatever the attachments.
            let last = position + 1 == sizes.len();
            if fetched.len() == MARK_BATCH || bytes > CHUNK_BYTES || last {
                let uids: Vec<u32> = fetched.iter().map(|message| message.uid).collect();
                self.ingest(uid_validity, std::mem::take(&mut fetched)).await?;
                self.mark(session, uid_validity, &uids, can_move).await?;
                bytes = 0;
            }
        }
        // A shutdown between fetches: what was fetched is still taken.
        if !fetched.is_empty() {
            let uids: Vec<u32> = fetched.iter().map(|message| message.uid).collect();
            self.ingest(uid_validity, fetched).await?;
            self.mark(session, uid_validity, &uids, can_move).await?;
        }
        Ok(last_uid)
    }

    /// One message's bytes, or its header alone when the server reports it
    /// over the size limit; `None` when someone else expunged it meanwhile.
    async fn fetch(&self, session: &mut Session<ImapStream>, uid: u32, size: u32) -> ImapResult<Option<Fetched>> {
        let over_limit = u64::from(size) > self.pipeline.current().config().limits.max_message_bytes as u64;
        let query = if over_limit { "(UID BODY.PEEK[HEADER])" } else { "(UID BODY.PEEK[])" };
        let Some(fetch) = self.fetch_one(session, uid, query).await? else { return Ok(None) };
        let raw = if over_limit { fetch.header() } else { fetch.body() }.unwrap_or_default().to_vec();
        Ok(Some(Fetched { uid, raw, over_limit: over_limit.then_some(u64::from(size)) }))
    }

    /// Ingests fetched messages with as few commits as the pipeline's
    /// batches allow; each records its position in its commit.
    async fn ingest(&self, uid_validity: u32, fetched: Vec<Fetched>) -> ImapResult<()> {
        if fetched.is_empty() {
            return Ok(());
        }
        let pipeline = self.pipeline.current();
        let store = Arc::clone(self.store);
        let folder = self.key();
        let fallback = self.fallback;
        tokio::task::spawn_blocking(move || {
            let sources: Vec<String> = fetched.iter().map(|message| format!("imap:{folder}/{}", message.uid)).collect();
            let waiting: Vec<(&[u8], Arrival<'_>)> = fetched
                .iter()
                .zip(&sources)
                .map(|(message, source)| {
                    let position = MailboxPosition { mailbox: folder.clone(), uid_validity, uid: message.uid };
                    let arrival =
                        Arrival { source, position: Some(position), size_over_limit: message.over_limit, fallback };
                    (message.raw.as_slice(), arrival)
                })
                .collect();
            let mut store = store.lock().map_err(|_| ImapError::Other("store lock poisoned".into()))?;
            let mut next = 0;
            while next < waiting.len() {
                let reports =
                    pipeline.ingest_batch(&mut store, &waiting[next..], Timestamp::now()).map_err(|error| {
                        ImapError::Other(format!("ingest of UID {} failed: {error}", fetched[next].uid))
                    })?;
                next += reports.len();
            }
            Ok::<(), ImapError>(())
        })
        .await
        .map_err(|error| ImapError::Other(error.to_string()))??;
        self.on_commit.notify_one();
        crate::failpoint::crash_at("after_commit");
        Ok(())
    }

    async fn fetch_one(
        &self,
        session: &mut Session<ImapStream>,
        uid: u32,
        query: &str,
    ) -> ImapResult<Option<async_imap::types::Fetch>> {
        let fetches: Vec<_> = self
            .bounded(async { session.uid_fetch(uid.to_string(), query).await?.try_collect::<Vec<_>>().await })
            .await??;
        Ok(fetches.into_iter().find(|fetch| fetch.uid == Some(uid)))
    }

    /// Marks committed messages done on the server, then in the store.
    async fn mark(
        &self,
        session: &mut Session<ImapStream>,
        uid_validity: u32,
        uids: &[u32],
        can_move: bool,
    ) -> ImapResult<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        match &self.config.after {
            AfterCommit::Move { folder } if can_move => self.bounded(session.uid_mv(&set, folder)).await??,
            AfterCommit::Move { folder } => {
                self.bounded(session.uid_copy(&set, folder)).await??;
                self.bounded(async {
                    session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)").await?.try_collect::<Vec<_>>().await
                })
                .await??;
                // Only these UIDs: a bare EXPUNGE would remove other clients' deletions.
                self.bounded(async { session.uid_expunge(&set).await?.try_collect::<Vec<_>>().await }).await??;
            }
            AfterCommit::Flag { keyword } => {
                self.bounded(async {
                    session.uid_store(&set, format!("+FLAGS.SILENT ({keyword})")).await?.try_collect::<Vec<_>>().await
                })
                .await??;
            }
        }
        let store = Arc::clone(self.store);
        let folder = self.key();
        let uids = uids.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().map_err(|_| ImapError::Other("store lock poisoned".into()))?;
            store.set_marked(&folder, uid_validity, &uids).map_err(|error| ImapError::Other(error.to_string()))
        })
        .await
        .map_err(|error| ImapError::Other(error.to_string()))?
    }

    /// The cursor for this UIDVALIDITY; a changed UIDVALIDITY starts over.
    async fn cursor(&self, uid_validity: u32) -> ImapResult<u32> {
        let folder = self.key();
        let store = Arc::clone(self.store);
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().map_err(|_| ImapError::Other("store lock poisoned".into()))?;
            match store.mailbox_cursor(&folder).map_err(|error| ImapError::Other(error.to_string()))? {
                Some((stored, last_uid)) if stored == uid_validity => Ok(last_uid),
                Some((stored, _)) => {
                    error!(folder, stored, uid_validity, "UIDVALIDITY changed: rescanning the whole folder");
                    store.reset_cursor(&folder, uid_validity).map_err(|error| ImapError::Other(error.to_string()))?;
                    Ok(0)
                }
                None => Ok(0),
            }
        })
        .await
        .map_err(|error| ImapError::Other(error.to_string()))?
    }

    /// Re-applies marks that a crash between commit and mark left undone.
    async fn remark(&self, session: &mut Session<ImapStream>, uid_validity: u32, can_move: bool) -> ImapResult<()> {
        let folder = self.key();
        let store = Arc::clone(self.store);
        let unmarked = tokio::task::spawn_blocking(move || {
            let store = store.lock().map_err(|_| ImapError::Other("store lock poisoned".into()))?;
            store.unmarked(&folder, uid_validity).map_err(|error| ImapError::Other(error.to_string()))
        })
        .await
        .map_err(|error| ImapError::Other(error.to_string()))??;
        if !unmarked.is_empty() {
            info!(count = unmarked.len(), "re-applying marks of messages committed before a crash");
        }
        for chunk in unmarked.chunks(MARK_BATCH) {
            self.mark(session, uid_validity, chunk, can_move).await?;
        }
        Ok(())
    }

    async fn bounded<T>(&self, future: impl Future<Output = T>) -> ImapResult<T> {
        timeout(self.config.timeout, future).await.map_err(|_| ImapError::Timeout(self.config.timeout))
    }
}

/// What `sitrep doctor` learns from a test login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub idle: bool,
    pub messages: u32,
    /// Whether the folder that processed mail moves to exists (or is not used).
    pub processed_folder: bool,
}

/// Connects, logs in, selects the folder and looks around, changing nothing.
pub async fn probe(config: &ImapConfig) -> ImapResult<Probe> {
    let mut session = connect(config).await?;
    let bounded = |duration| move |_| ImapError::Timeout(duration);
    let capabilities = timeout(config.timeout, session.capabilities()).await.map_err(bounded(config.timeout))??;
    let mailbox = timeout(config.timeout, session.examine(&config.folder)).await.map_err(bounded(config.timeout))??;
    let processed_folder = match &config.after {
        AfterCommit::Move { folder } => {
            let listed = timeout(config.timeout, async {
                session.list(Some(""), Some(folder)).await?.try_collect::<Vec<_>>().await
            })
            .await
            .map_err(bounded(config.timeout))??;
            !listed.is_empty()
        }
        AfterCommit::Flag { .. } => true,
    };
    let _ = timeout(DONE_TIMEOUT, session.logout()).await;
    Ok(Probe { idle: capabilities.has_str("IDLE"), messages: mailbox.exists, processed_folder })
}

//! The IMAP mailbox: find new mail by UID under the stored UIDVALIDITY,
//! fetch it with `BODY.PEEK[]` (a person reading the mailbox changes
//! nothing), hand it to the pipeline, and only after the commit move or flag
//! it on the server. IDLE when offered, NOOP polling otherwise; reconnect
//! with jittered backoff; a silent connection is replaced.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use async_imap::{Authenticator, Client, Session};
use futures::TryStreamExt;
use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;
use tracing::{error, info, warn};

use crate::config::{AfterCommit, ImapConfig, ImapLogin, TlsMode, run_secret_command};
use crate::pipeline::{Arrival, SharedPipeline};
use crate::store::{MailboxPosition, Store};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const LONGEST_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// How many committed messages are marked on the server in one command.
const MARK_BATCH: usize = 50;
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
        for chunk in sizes.chunks(MARK_BATCH) {
            let mut committed = Vec::with_capacity(chunk.len());
            for &(uid, size) in chunk {
                if *shutdown.borrow() {
                    break;
                }
                self.take(session, uid_validity, uid, size).await?;
                committed.push(uid);
                last_uid = uid;
            }
            self.mark(session, uid_validity, &committed, can_move).await?;
            if *shutdown.borrow() {
                break;
            }
        }
        Ok(last_uid)
    }

    /// Fetches and ingests one message; its mark comes with its chunk.
    async fn take(&self, session: &mut Session<ImapStream>, uid_validity: u32, uid: u32, size: u32) -> ImapResult<()> {
        let pipeline = self.pipeline.current();
        let over_limit = u64::from(size) > pipeline.config().limits.max_message_bytes as u64;
        let query = if over_limit { "(UID BODY.PEEK[HEADER])" } else { "(UID BODY.PEEK[])" };
        let Some(fetch) = self.fetch_one(session, uid, query).await? else {
            // Expunged meanwhile by someone else: nothing to take.
            return Ok(());
        };
        let raw = if over_limit { fetch.header() } else { fetch.body() }.unwrap_or_default().to_vec();
        let store = Arc::clone(self.store);
        let position = MailboxPosition { mailbox: self.key(), uid_validity, uid };
        let folder = self.key();
        let fallback = self.fallback;
        tokio::task::spawn_blocking(move || {
            let source = format!("imap:{folder}/{uid}");
            let arrival = Arrival {
                source: &source,
                position: Some(position),
                size_over_limit: over_limit.then_some(u64::from(size)),
                fallback,
            };
            let mut store = store.lock().map_err(|_| ImapError::Other("store lock poisoned".into()))?;
            pipeline
                .ingest_arrival(&mut store, &raw, &arrival, Timestamp::now())
                .map_err(|error| ImapError::Other(format!("ingest of UID {uid} failed: {error}")))
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

/// Connects, upgrades to TLS as configured, and logs in.
async fn connect(config: &ImapConfig) -> ImapResult<Session<ImapStream>> {
    let address = (config.host.as_str(), config.port);
    let tcp = timeout(config.timeout, TcpStream::connect(address))
        .await
        .map_err(|_| ImapError::Timeout(config.timeout))??;
    let mut client = match config.tls {
        TlsMode::Tls => Client::new(ImapStream::Tls(Box::new(tls(tcp, config).await?))),
        TlsMode::None => Client::new(ImapStream::Plain(tcp)),
        TlsMode::StartTls => {
            let mut plain = Client::new(tcp);
            greeting(&mut plain, config.timeout).await?;
            timeout(config.timeout, plain.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|_| ImapError::Timeout(config.timeout))??;
            Client::new(ImapStream::Tls(Box::new(tls(plain.into_inner(), config).await?)))
        }
    };
    if config.tls != TlsMode::StartTls {
        greeting(&mut client, config.timeout).await?;
    }
    let login = async {
        match &config.login {
            ImapLogin::Password(secret) => {
                let password = secret.read()?;
                client.login(&config.username, password).await.map_err(|(error, _)| ImapError::from(error))
            }
            ImapLogin::XOAuth2 { token_command } => {
                let token = run_secret_command(token_command)?;
                let authenticator = XOAuth2 { user: config.username.clone(), token };
                client.authenticate("XOAUTH2", authenticator).await.map_err(|(error, _)| ImapError::from(error))
            }
        }
    };
    timeout(config.timeout, login).await.map_err(|_| ImapError::Timeout(config.timeout))?
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + fmt::Debug + Send>(
    client: &mut Client<T>,
    limit: Duration,
) -> ImapResult<()> {
    match timeout(limit, client.read_response()).await.map_err(|_| ImapError::Timeout(limit))?? {
        Some(_) => Ok(()),
        None => Err(ImapError::Other("the server closed the connection before greeting".into())),
    }
}

/// TLS with the server, verified against the system's authorities and
/// `ca_file`; the server's name goes out as SNI. A refused certificate is
/// said as what to fix.
async fn tls(tcp: TcpStream, config: &ImapConfig) -> ImapResult<TlsStream<TcpStream>> {
    let host = &config.host;
    let roots = crate::trust::roots(config.ca_file.as_deref()).map_err(ImapError::Other)?;
    let client = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).map_err(|error| ImapError::Other(error.to_string()))?;
    TlsConnector::from(Arc::new(client)).connect(name, tcp).await.map_err(|error| {
        match crate::trust::explain(host, &error) {
            Some(problem) => ImapError::Other(problem),
            None => ImapError::Io(error),
        }
    })
}

/// SASL XOAUTH2, as Microsoft 365 and Google Workspace expect it.
struct XOAuth2 {
    user: String,
    token: String,
}

impl Authenticator for XOAuth2 {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

/// A plain or TLS connection, one type for the IMAP client.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_read(context, buffer),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(context, buffer),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(self: Pin<&mut Self>, context: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_write(context, data),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(context, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_flush(context),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(context),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_shutdown(context),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(context),
        }
    }
}

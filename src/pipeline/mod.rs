//! The one use case: a raw message in, the store changed and replies queued,
//! all in one transaction. The daemon, `sitrep ingest` and the tests all
//! come through `Pipeline::ingest`.
//!
//! Order: limits and parse (quarantine on failure) → store the raw message →
//! triage → apply to the incident → queue outgoing mail → commit. The caller
//! marks the message done at its source only after this returns `Ok`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use tracing::{error, info};

use crate::config::Config;
use crate::core::auth::Authority;
use crate::core::incident::{EntryKind, IncidentNumber, Trust};
use crate::core::mail::Inbound;
use crate::core::out_of_band::Arrived;
use crate::core::timeline::TimelineEntry;
use crate::core::triage::{self, Known, NoticeCause, Outcome, ThreadFacts, ThreadKeys, Triage};
use crate::inbound::{self, Parsed};
use crate::outgoing::{Outgoing, OutgoingError};
use crate::render::{RenderError, Renderer};
use crate::store::{MailboxPosition, NewMessage, Store, StoreError, WriteTx};

mod answers;
mod batch;
mod channel;

pub use batch::BATCH_MESSAGES;
mod retro;
mod staff;

/// The parents remembered for a mail that opened an incident as a reply:
/// In-Reply-To and the newest references, where an overtaken parent is.
const MAX_AWAITED: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot store attachment at {path}: {source}")]
    Attachment { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{0}")]
    Panic(String),
}

impl From<OutgoingError> for IngestError {
    fn from(error: OutgoingError) -> IngestError {
        match error {
            OutgoingError::Store(error) => IngestError::Store(error),
            OutgoingError::Render(error) => IngestError::Render(error),
        }
    }
}

/// A failure of sitrep's own on one message (a template that does not
/// render its data): the message is quarantined with it.
struct Fault {
    error: String,
    /// False when the sender's notice is what failed.
    tell_sender: bool,
}

impl Fault {
    fn reason(&self) -> String {
        format!("sitrep could not process this message ({}); an admin has the details", self.error)
    }
}

/// Where a message came from.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// A file name, `stdin`, or `imap:<folder>/<uid>`.
    pub source: &'a str,
    pub position: Option<MailboxPosition>,
    /// Set when only the header was fetched because the server reported a
    /// size over the limit.
    pub size_over_limit: Option<u64>,
    /// Read from the fallback (out-of-band) mailbox.
    pub fallback: bool,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub outcome: Outcome,
    pub incident: Option<IncidentNumber>,
    pub reason: Option<String>,
    /// False when these exact bytes were already stored: nothing changed.
    pub stored: bool,
}

pub struct Pipeline {
    outgoing: Outgoing,
}

/// The pipeline in use, replaced as a whole when the configuration is
/// reloaded; a message in hand finishes with the one it started with.
#[derive(Clone)]
pub struct SharedPipeline(Arc<RwLock<Arc<Pipeline>>>);

impl SharedPipeline {
    pub fn new(pipeline: Pipeline) -> SharedPipeline {
        SharedPipeline(Arc::new(RwLock::new(Arc::new(pipeline))))
    }

    pub fn current(&self) -> Arc<Pipeline> {
        Arc::clone(&self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub fn replace(&self, pipeline: Pipeline) {
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(pipeline);
    }
}

impl Pipeline {
    pub fn new(config: Config) -> Result<Pipeline, RenderError> {
        Ok(Pipeline { outgoing: Outgoing::new(config)? })
    }

    pub fn config(&self) -> &Config {
        self.outgoing.config()
    }

    /// What the scheduled work needs: `scheduler::tick(pipeline.outgoing(), ..)`.
    pub fn outgoing(&self) -> &Outgoing {
        &self.outgoing
    }

    fn renderer(&self) -> &Renderer {
        self.outgoing.renderer()
    }

    /// Processes one raw message. `source` names where it came from (a file
    /// name, `stdin`); `now` is the time of receipt.
    pub fn ingest(
        &self,
        store: &mut Store,
        raw: &[u8],
        source: &str,
        now: Timestamp,
    ) -> Result<IngestReport, IngestError> {
        self.ingest_arrival(
            store,
            raw,
            &Arrival { source, position: None, size_over_limit: None, fallback: false },
            now,
        )
    }

    /// As `ingest`, for a message with a place in an IMAP folder, recorded
    /// in the same transaction.
    pub fn ingest_arrival(
        &self,
        store: &mut Store,
        raw: &[u8],
        arrival: &Arrival<'_>,
        now: Timestamp,
    ) -> Result<IngestReport, IngestError> {
        match self.attempt(store, raw, arrival, now, None) {
            // A template that fails on this message's data, or a bug it hits,
            // is a fault of sitrep's, not the store's: retrying would fail the
            // same way and hold up every message behind it, so the message is
            // quarantined with the error instead, and the admins are told.
            Err(IngestError::Render(error)) => self.quarantine_fault(store, raw, arrival, now, error.to_string()),
            Err(IngestError::Panic(error)) => self.quarantine_fault(store, raw, arrival, now, error),
            other => other,
        }
    }

    fn quarantine_fault(
        &self,
        store: &mut Store,
        raw: &[u8],
        arrival: &Arrival<'_>,
        now: Timestamp,
        error: String,
    ) -> Result<IngestReport, IngestError> {
        error!(source = arrival.source, error, "processing failed; the message is quarantined");
        let fault = Fault { error, tell_sender: true };
        match self.attempt(store, raw, arrival, now, Some(&fault)) {
            // The notice itself fails too: quarantined without one.
            Err(IngestError::Render(_) | IngestError::Panic(_)) => {
                self.attempt(store, raw, arrival, now, Some(&Fault { tell_sender: false, ..fault }))
            }
            other => other,
        }
    }

    /// `process`, with a panic (a bug) turned into an error; the unwinding
    /// dropped the transaction, so nothing of the attempt is kept.
    fn attempt(
        &self,
        store: &mut Store,
        raw: &[u8],
        arrival: &Arrival<'_>,
        now: Timestamp,
        fault: Option<&Fault>,
    ) -> Result<IngestReport, IngestError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.process(store, raw, arrival, now, fault)))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_string());
                Err(IngestError::Panic(format!("a bug: {message}")))
            })
    }

    /// One attempt in one transaction; a `fault` quarantines the message
    /// instead of acting on it.
    fn process(
        &self,
        store: &mut Store,
        raw: &[u8],
        arrival: &Arrival<'_>,
        now: Timestamp,
        fault: Option<&Fault>,
    ) -> Result<IngestReport, IngestError> {
        let transaction = store.write()?;
        let report = self.process_in(&transaction, raw, arrival, now, fault)?;
        transaction.commit()?;
        Ok(report)
    }

    /// One attempt within `transaction`, which the caller commits.
    fn process_in(
        &self,
        transaction: &WriteTx<'_>,
        raw: &[u8],
        arrival: &Arrival<'_>,
        now: Timestamp,
        fault: Option<&Fault>,
    ) -> Result<IngestReport, IngestError> {
        let source = arrival.source;
        let sha256 = inbound::sha256_hex(raw);
        if let Some(row) = transaction.message_with_bytes(&sha256)? {
            // Seen before (a rescan, or a copy): only its place is new.
            if let Some(position) = &arrival.position {
                transaction.record_position(position, row)?;
            }
            return Ok(IngestReport {
                outcome: Outcome::Ignored,
                incident: None,
                reason: Some(format!("identical to stored message {row}")),
                stored: false,
            });
        }
        let (mut parsed, headers_only) = self.read(raw, arrival, fault);
        let head = match &parsed {
            Ok(parsed) => Some(&parsed.inbound),
            Err(_) => headers_only.as_ref(),
        };
        // What the store knew before this message arrived.
        let known = Known {
            duplicate_of: match head.and_then(|head| head.message_id.as_deref()) {
                Some(id) => transaction.message_with_id(id)?,
                None => None,
            },
        };
        let row = transaction.insert_message(&NewMessage {
            received_at: now,
            source,
            sha256: &sha256,
            raw,
            message_id: head.and_then(|head| head.message_id.as_deref()),
            from: head.and_then(Inbound::author).map(|mailbox| mailbox.address.as_str()),
            subject: head.map(|head| head.subject.as_str()),
        })?;
        let report = match &mut parsed {
            Ok(parsed) => {
                // Believed as written, then read as company mail.
                let authority = self.authority(&parsed.inbound, arrival.fallback);
                let mut arrived = match self.out_of_band() {
                    Some(out_of_band) => out_of_band.read_as_company_mail(&mut parsed.inbound),
                    None => Arrived::default(),
                };
                arrived.to_fallback |= arrival.fallback;
                self.apply(transaction, row, parsed, &known, (authority, arrived), now)?
            }
            Err(reason) => {
                if let Some(fault) = fault {
                    self.tell_admins_fault(transaction, fault, now)?;
                }
                let head = headers_only.as_ref().filter(|_| fault.is_none_or(|fault| fault.tell_sender));
                self.quarantine(transaction, head, reason.clone(), now)?
            }
        };
        transaction.set_outcome(row, report.outcome, report.reason.as_deref(), report.incident)?;
        if let Some(position) = &arrival.position {
            transaction.record_position(position, row)?;
        }
        info!(
            row,
            source,
            outcome = report.outcome.as_str(),
            incident = report.incident.map(|n| n.to_string()),
            reason = report.reason.as_deref(),
            "message ingested"
        );
        Ok(report)
    }

    /// The message parsed, or why not; when not, its headers if they can
    /// be read, so that it is described and its sender told.
    fn read(
        &self,
        raw: &[u8],
        arrival: &Arrival<'_>,
        fault: Option<&Fault>,
    ) -> (Result<Parsed, String>, Option<Inbound>) {
        let limits = &self.config().limits;
        let parsed = match (fault, arrival.size_over_limit) {
            (Some(fault), _) => Err(fault.reason()),
            (None, Some(size)) => Err(format!(
                "message is {size} bytes, over the limit of {}; only its header was kept",
                limits.max_message_bytes
            )),
            (None, None) => inbound::parse(raw, limits),
        };
        let headers_only = parsed.is_err().then(|| inbound::parse_headers_only(raw, limits)).flatten();
        (parsed, headers_only)
    }

    fn apply(
        &self,
        transaction: &WriteTx<'_>,
        row: i64,
        parsed: &Parsed,
        known: &Known,
        (authority, arrived): (Authority, Arrived),
        now: Timestamp,
    ) -> Result<IngestReport, IngestError> {
        let inbound = &parsed.inbound;
        let config = self.config();
        if let Some(list) = &inbound.list_address {
            transaction.remember_list(list, now)?;
        }
        let keys = ThreadKeys::of(inbound, &config.address);
        let facts = thread_facts(transaction, &keys, arrived.out_of_band())?;
        let decision = triage::triage(inbound, &config.address, &authority, config.external, known, &keys, &facts);
        let outcome = decision.outcome();
        match decision {
            Triage::Declare { title } => {
                self.open(transaction, row, parsed, &keys, (title, arrived.out_of_band()), now)
            }
            Triage::Update { incident, trust, .. } => {
                let ignored = |reason: &str| IngestReport {
                    outcome: Outcome::Ignored,
                    incident: Some(incident),
                    reason: Some(reason.to_string()),
                    stored: true,
                };
                // Asked once: whether this staff mail about an incident out of
                // band came through company mail.
                let through_company_mail =
                    trust == Trust::Staff && self.through_company_mail(transaction, incident, arrived)?;
                match trust {
                    Trust::Staff if through_company_mail && self.has_out_of_band_address(inbound) => {
                        self.store_attachments(transaction, row, parsed)?;
                        let entry = TimelineEntry::of_mail(
                            inbound,
                            EntryKind::Update,
                            &inbound.new_text,
                            Trust::CompromisedChannel,
                            now,
                        );
                        transaction.append_timeline(incident, &entry)?;
                        self.tell_compromised_channel(transaction, inbound, incident, now)?;
                        let reason = format!(
                            "{incident} is out of band and this came from a company address: kept, no command run"
                        );
                        return Ok(IngestReport {
                            outcome,
                            incident: Some(incident),
                            reason: Some(reason),
                            stored: true,
                        });
                    }
                    Trust::Staff => {
                        if let Some(reason) =
                            self.update(transaction, (row, parsed), incident, !through_company_mail, now)?
                        {
                            return Ok(ignored(reason));
                        }
                    }
                    _ if triage::is_empty_reply(inbound) => return Ok(ignored(triage::NOTHING_NEW)),
                    _ => {
                        self.store_attachments(transaction, row, parsed)?;
                        // Kept for the record; it changes nothing and nobody is answered.
                        let entry = TimelineEntry::of_mail(inbound, EntryKind::Update, &inbound.new_text, trust, now);
                        transaction.append_timeline(incident, &entry)?;
                        if let Authority::Unverified(reason) = &authority {
                            self.tell_admins_unverified(transaction, inbound, incident, reason, now)?;
                        }
                    }
                }
                Ok(IngestReport { outcome, incident: Some(incident), reason: None, stored: true })
            }
            Triage::Ignore { reason } => {
                Ok(IngestReport { outcome, incident: None, reason: Some(reason), stored: true })
            }
            Triage::Reject { reason, answer } => {
                if answer {
                    self.notify_sender(transaction, inbound, &reason, NoticeCause::Refused, now)?;
                }
                if let Authority::Unverified(why) = &authority
                    && let Some(author) = inbound.author()
                {
                    let view_reason = format!("{why}; it tried to declare a new incident");
                    self.send_unverified_notice(transaction, None, &author.address, &view_reason, inbound, now)?;
                }
                Ok(IngestReport { outcome, incident: None, reason: Some(reason), stored: true })
            }
        }
    }

    /// Attachment bytes go to `attachments/<sha256>`; the name is metadata
    /// only. The files are not synced: the committed raw message holds the
    /// same bytes, so a file lost to a power cut can be extracted again.
    fn store_attachments(&self, transaction: &WriteTx<'_>, row: i64, parsed: &Parsed) -> Result<(), IngestError> {
        if parsed.inbound.attachments.is_empty() {
            return Ok(());
        }
        let directory = self.config().attachments_dir();
        for (meta, bytes) in parsed.inbound.attachments.iter().zip(&parsed.attachment_bytes) {
            let path = directory.join(&meta.sha256);
            if !path.exists() {
                write_file(&directory, &path, bytes)
                    .map_err(|source| IngestError::Attachment { path: path.clone(), source })?;
            }
            transaction.insert_attachment(row, meta)?;
        }
        Ok(())
    }
}

/// Asks the store only as far as needed: the first key that names an
/// incident decides, as in `triage`.
fn thread_facts(transaction: &WriteTx<'_>, keys: &ThreadKeys, out_of_band: bool) -> Result<ThreadFacts, StoreError> {
    let mut facts = ThreadFacts::default();
    if let Some(tag) = keys.tag {
        facts.tag_exists = transaction.incident_exists(tag)?;
        if facts.tag_exists {
            return Ok(facts);
        }
    }
    for id in &keys.references {
        if let Some(incident) = transaction.incident_for_reference(id)? {
            facts.referenced = Some(incident);
            return Ok(facts);
        }
    }
    if let Some(id) = &keys.message_id {
        facts.replied_to_in = transaction.incident_awaiting(id)?;
        if facts.replied_to_in.is_some() {
            return Ok(facts);
        }
    }
    if let Some(plus) = keys.plus {
        facts.plus_exists = transaction.incident_exists(plus)?;
        if facts.plus_exists {
            return Ok(facts);
        }
    }
    if let Some(key) = &keys.title_key {
        facts.open_with_title = transaction.open_incidents_titled(key, out_of_band)?;
    }
    Ok(facts)
}

/// Written under a temporary name and renamed, so a reader never sees a
/// partial file under a hash name.
fn write_file(directory: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(directory)?;
    let temporary = directory.join(format!(".incoming-{}", uuid::Uuid::new_v4().simple()));
    let mut file = fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    fs::rename(&temporary, path)
}

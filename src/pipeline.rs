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

use jiff::{SignedDuration, Timestamp};
use tracing::info;

use crate::compose::{self, AutoSubmitted, ComposeError, Draft};
use crate::config::Config;
use crate::core::incident::{EntryKind, Incident, IncidentNumber, MailKind, TimelineEntry, Trust};
use crate::core::mail::Inbound;
use crate::core::subject;
use crate::core::triage::{self, Known, Outcome, ThreadFacts, ThreadKeys, Triage};
use crate::inbound::{self, Parsed};
use crate::render::{AckView, NoticeView, RenderError, Renderer};
use crate::store::{NewMessage, NewOutgoing, Store, StoreError, WriteTx};

/// How often one address is told that its mail was refused.
const REFUSED_NOTICE_INTERVAL: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How often one staff address is told that its mail was quarantined.
const QUARANTINE_NOTICE_INTERVAL: SignedDuration = SignedDuration::from_hours(1);

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot store attachment at {path}: {source}")]
    Attachment { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
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
    config: Config,
    renderer: Renderer,
}

impl Pipeline {
    pub fn new(config: Config) -> Result<Pipeline, RenderError> {
        let renderer = Renderer::new(config.templates_dir.as_deref())?;
        Ok(Pipeline { config, renderer })
    }

    pub fn config(&self) -> &Config {
        &self.config
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
        let sha256 = inbound::sha256_hex(raw);
        let transaction = store.write()?;
        if let Some(row) = transaction.message_with_bytes(&sha256)? {
            return Ok(IngestReport {
                outcome: Outcome::Ignored,
                incident: None,
                reason: Some(format!("identical to stored message {row}")),
                stored: false,
            });
        }
        let parsed = inbound::parse(raw, &self.config.limits);
        // A message that cannot be parsed whole may still have readable
        // headers, so that it is described and its sender told.
        let headers_only = match &parsed {
            Ok(_) => None,
            Err(_) => inbound::parse_headers_only(raw, &self.config.limits),
        };
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
        let report = match &parsed {
            Ok(parsed) => self.apply(&transaction, row, parsed, &known, now)?,
            Err(reason) => self.quarantine(&transaction, head, reason.clone(), now)?,
        };
        transaction.set_outcome(row, report.outcome, report.reason.as_deref(), report.incident)?;
        transaction.commit()?;
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

    fn apply(
        &self,
        transaction: &WriteTx<'_>,
        row: i64,
        parsed: &Parsed,
        known: &Known,
        now: Timestamp,
    ) -> Result<IngestReport, IngestError> {
        let inbound = &parsed.inbound;
        let keys = ThreadKeys::of(inbound, &self.config.address);
        let facts = thread_facts(transaction, &keys)?;
        let decision = triage::triage(inbound, &self.config.address, &self.config.access, known, &keys, &facts);
        let outcome = decision.outcome();
        match decision {
            Triage::Declare { title } => {
                let number = transaction.next_incident_number()?;
                self.store_attachments(transaction, row, parsed)?;
                let incident = self.declare(transaction, inbound, number, title, now)?;
                Ok(IngestReport { outcome, incident: Some(incident), reason: None, stored: true })
            }
            Triage::Update { incident, .. } => {
                self.store_attachments(transaction, row, parsed)?;
                append_entry(transaction, incident, inbound, EntryKind::Update, now)?;
                Ok(IngestReport { outcome, incident: Some(incident), reason: None, stored: true })
            }
            Triage::Ignore { reason } => {
                Ok(IngestReport { outcome, incident: None, reason: Some(reason), stored: true })
            }
            Triage::Reject { reason, answer } => {
                if answer {
                    self.notify_sender(transaction, inbound, &reason, NoticeCause::Refused, now)?;
                }
                Ok(IngestReport { outcome, incident: None, reason: Some(reason), stored: true })
            }
        }
    }

    fn quarantine(
        &self,
        transaction: &WriteTx<'_>,
        head: Option<&Inbound>,
        reason: String,
        now: Timestamp,
    ) -> Result<IngestReport, IngestError> {
        if let Some(head) = head {
            let answerable = head.author().is_some_and(|author| {
                self.config.access.is_staff(&author.address) && !self.config.address.is_ours(&author.address)
            }) && triage::automatic_reason(head).is_none()
                && head.loop_marker.is_none();
            if answerable {
                self.notify_sender(transaction, head, &reason, NoticeCause::Quarantined, now)?;
            }
        }
        Ok(IngestReport { outcome: Outcome::Quarantined, incident: None, reason: Some(reason), stored: true })
    }

    fn declare(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        number: IncidentNumber,
        title: String,
        now: Timestamp,
    ) -> Result<IncidentNumber, IngestError> {
        let declarer = inbound.author().map(|mailbox| mailbox.address.clone()).unwrap_or_default();
        let incident = Incident::declare(number, title, declarer, now, compose::new_message_id(&self.config.address));
        transaction.insert_incident(&incident)?;
        append_entry(transaction, number, inbound, EntryKind::Declared, now)?;
        let Some((to, cc)) = triage::ack_recipients(inbound, &self.config.address, &self.config.access) else {
            return Ok(number);
        };
        let body = self.renderer.ack(&AckView {
            incident: number.to_string(),
            title: &incident.title,
            declared_by: &incident.declared_by,
            declared_at: incident.declared_at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            executives: self.config.executives.join(", "),
            address: self.config.address.with_detail(None),
        })?;
        let mut references = vec![incident.thread_root.clone()];
        references.extend(inbound.message_id.clone());
        let draft = Draft {
            from: self.config.address.with_detail(None),
            to: vec![to],
            cc,
            subject: format!("[{number}] {}", incident.title),
            body,
            message_id: compose::new_message_id(&self.config.address),
            in_reply_to: inbound.message_id.clone(),
            references,
            auto_submitted: AutoSubmitted::Replied,
            loop_marker: self.config.address.with_detail(None),
        };
        self.enqueue(transaction, MailKind::Ack, Some(number), draft, now)?;
        Ok(number)
    }

    fn notify_sender(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        reason: &str,
        cause: NoticeCause,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let Some(sender) = inbound.author().map(|mailbox| mailbox.address.clone()) else { return Ok(()) };
        let interval = match cause {
            NoticeCause::Refused if !self.config.answer_refused => return Ok(()),
            NoticeCause::Refused => REFUSED_NOTICE_INTERVAL,
            NoticeCause::Quarantined => QUARANTINE_NOTICE_INTERVAL,
        };
        if transaction.mailed_since(MailKind::Notice, &sender, now - interval)? {
            return Ok(());
        }
        let view = NoticeView { address: self.config.address.with_detail(None), reason };
        let body = match cause {
            NoticeCause::Refused => self.renderer.refused(&view)?,
            NoticeCause::Quarantined => self.renderer.quarantined(&view)?,
        };
        let original = subject::strip_prefixes(&inbound.subject);
        let mut references = inbound.references.clone();
        references.extend(inbound.message_id.clone());
        let draft = Draft {
            from: self.config.address.with_detail(None),
            to: vec![sender],
            cc: Vec::new(),
            subject: if original.is_empty() { "Not accepted".to_string() } else { format!("Not accepted: {original}") },
            body,
            message_id: compose::new_message_id(&self.config.address),
            in_reply_to: inbound.message_id.clone(),
            references,
            auto_submitted: AutoSubmitted::Replied,
            loop_marker: self.config.address.with_detail(None),
        };
        self.enqueue(transaction, MailKind::Notice, None, draft, now)
    }

    fn enqueue(
        &self,
        transaction: &WriteTx<'_>,
        kind: MailKind,
        incident: Option<IncidentNumber>,
        draft: Draft,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let raw = compose::compose(&draft, now)?;
        transaction.enqueue(
            &NewOutgoing {
                kind,
                incident,
                to: draft.to,
                cc: draft.cc,
                subject: draft.subject,
                message_id: draft.message_id,
                body: draft.body,
                raw,
                envelope_from: self.config.envelope_from.clone(),
            },
            now,
        )?;
        Ok(())
    }

    /// Attachment bytes go to `attachments/<sha256>`; the name is metadata
    /// only. The files are not synced: the committed raw message holds the
    /// same bytes, so a file lost to a power cut can be extracted again.
    fn store_attachments(&self, transaction: &WriteTx<'_>, row: i64, parsed: &Parsed) -> Result<(), IngestError> {
        if parsed.inbound.attachments.is_empty() {
            return Ok(());
        }
        let directory = self.config.attachments_dir();
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

#[derive(Debug, Clone, Copy)]
enum NoticeCause {
    Refused,
    Quarantined,
}

/// Asks the store only as far as needed: the first key that names an
/// incident decides, as in `triage`.
fn thread_facts(transaction: &WriteTx<'_>, keys: &ThreadKeys) -> Result<ThreadFacts, StoreError> {
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
    if let Some(plus) = keys.plus {
        facts.plus_exists = transaction.incident_exists(plus)?;
        if facts.plus_exists {
            return Ok(facts);
        }
    }
    if let Some(key) = &keys.title_key {
        facts.open_with_title = transaction.open_incidents_titled(key)?;
    }
    Ok(facts)
}

fn append_entry(
    transaction: &WriteTx<'_>,
    incident: IncidentNumber,
    inbound: &Inbound,
    kind: EntryKind,
    now: Timestamp,
) -> Result<(), StoreError> {
    let entry = TimelineEntry {
        at: now,
        author: inbound.author().map(|mailbox| mailbox.address.clone()).unwrap_or_default(),
        kind,
        text: inbound.new_text.clone(),
        message_id: inbound.message_id.clone(),
        trust: Trust::Staff,
    };
    transaction.append_timeline(incident, &entry)
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

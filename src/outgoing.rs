//! Mail sitrep sends, for every use case: the context it needs (the
//! configuration and the templates), drafts threaded into the incident, the
//! brakes on automatic replies, and queueing into the outbox. Ingest, the
//! scheduler and the retrospective all send through here, so none of them
//! needs another.

use jiff::{SignedDuration, Timestamp};
use tracing::{error, info, warn};

use crate::compose::{self, AutoSubmitted, Draft};
use crate::config::Config;
use crate::core::incident::{Channel, Route};
use crate::core::incident::{Incident, IncidentNumber, MailKind};
use crate::core::mail::Inbound;
use crate::core::recipients;
use crate::render::{RenderError, Renderer};
use crate::store::{NewOutgoing, StoreError, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum OutgoingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// The configuration and the templates loaded from it.
pub struct Outgoing {
    config: Config,
    renderer: Renderer,
}

impl Outgoing {
    pub fn new(config: Config) -> Result<Outgoing, RenderError> {
        let renderer = Renderer::new(config.templates_dir.as_deref(), &config.time_zone)?;
        Ok(Outgoing { config, renderer })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// An answer to `inbound` in the incident's thread: its root first, so
    /// every client groups the whole incident, then the message answered.
    pub fn reply_in_thread(
        &self,
        incident: &Incident,
        inbound: &Inbound,
        to: Vec<String>,
        cc: Vec<String>,
        subject: String,
        body: String,
    ) -> Draft {
        self.reply(inbound, vec![incident.thread_root.clone()], to, cc, subject, body)
    }

    /// An answer to `inbound`: References are `thread` and then the message.
    pub(crate) fn reply(
        &self,
        inbound: &Inbound,
        thread: Vec<String>,
        to: Vec<String>,
        cc: Vec<String>,
        subject: String,
        body: String,
    ) -> Draft {
        let mut references = thread;
        references.extend(inbound.message_id.clone());
        Draft {
            from: self.config.address.with_detail(None),
            to,
            cc,
            subject,
            body,
            html: None,
            message_id: compose::new_message_id(&self.config.address),
            in_reply_to: inbound.message_id.clone(),
            references,
            auto_submitted: AutoSubmitted::Replied,
            loop_marker: self.config.address.with_detail(None),
        }
    }

    /// Queues an automatic reply, unless the same one went out recently or
    /// the hourly cap on automatic replies is reached.
    pub fn enqueue(
        &self,
        transaction: &WriteTx<'_>,
        kind: MailKind,
        incident: Option<IncidentNumber>,
        draft: Draft,
        now: Timestamp,
    ) -> Result<(), OutgoingError> {
        let limits = &self.config.limits;
        let window = SignedDuration::try_from(limits.repeat_reply_window).unwrap_or(SignedDuration::from_hours(1));
        if transaction.same_mail_since(kind, &draft.to, incident, &draft.body, now - window)? {
            info!(kind = kind.as_str(), "identical reply sent recently; not repeated");
            return Ok(());
        }
        // Acknowledgements are bounded by the declaration limits: the cap on
        // other replies never swallows the answer to a genuine incident.
        if kind != MailKind::Ack
            && transaction.automatic_replies_since(now - SignedDuration::from_hours(1))? >= limits.replies_per_hour
        {
            error!(
                kind = kind.as_str(),
                cap = limits.replies_per_hour,
                "hourly cap on automatic replies reached; reply dropped"
            );
            return Ok(());
        }
        queue_mail(&self.config, transaction, kind, incident, draft, now)
    }
}

/// Composes a draft and puts it in the outbox, with no brakes: callers
/// decide whether it may go. Mail that cannot be built never costs the
/// message that caused it: an address no relay would take is dropped and
/// recorded as a failed delivery, and a mail left with nobody to go to, or
/// that fails to build, is kept in the outbox as failed with the reason.
pub fn queue_mail(
    config: &Config,
    transaction: &WriteTx<'_>,
    kind: MailKind,
    incident: Option<IncidentNumber>,
    draft: Draft,
    now: Timestamp,
) -> Result<(), OutgoingError> {
    if let Some(number) = incident
        && transaction.incident_channel(number)? == Some(Channel::OutOfBand)
    {
        return queue_out_of_band(config, transaction, kind, incident, draft, now);
    }
    queue_routed(transaction, (kind, incident), draft, (Route::Primary, config.envelope_from.clone()), now)
}

/// As `queue_mail`, out of band whatever the incident's channel: from the
/// fallback address, to people's out-of-band addresses and to outsiders,
/// through the fallback relay; a company address with no out-of-band
/// address gets nothing.
pub fn queue_out_of_band(
    config: &Config,
    transaction: &WriteTx<'_>,
    kind: MailKind,
    incident: Option<IncidentNumber>,
    mut draft: Draft,
    now: Timestamp,
) -> Result<(), OutgoingError> {
    let (Some(fallback), Some(out_of_band)) = (&config.fallback, config.out_of_band()) else {
        error!(kind = kind.as_str(), "mail about an incident out of band, and no [fallback]: not sent");
        return Ok(());
    };
    let mut seen = Vec::new();
    let mut route = |addresses: &mut Vec<String>| {
        let routed: Vec<String> = addresses
            .iter()
            .filter_map(|address| {
                let routed = out_of_band.route(address, config.access.is_staff(address));
                if routed.is_none() {
                    info!(kind = kind.as_str(), address, "out of band, and no out-of-band address: not sent");
                }
                routed
            })
            .filter(|address| !seen.contains(address))
            .collect();
        seen.extend(routed.iter().cloned());
        *addresses = routed;
    };
    route(&mut draft.to);
    route(&mut draft.cc);
    if draft.to.is_empty() && draft.cc.is_empty() {
        return Ok(());
    }
    draft.from = fallback.address.with_detail(None);
    let route = (Route::Fallback, fallback.envelope_from.clone());
    queue_routed(transaction, (kind, incident), draft, route, now)
}

/// Mail about incidents out of band still waiting for the primary relay
/// (queued before the switch, or handed back by a sender that was sending
/// it then): a person with an out-of-band address gets their copy there,
/// through the fallback relay; staff with none get nothing; outsiders get
/// theirs through the fallback relay too.
pub fn move_waiting_out_of_band(
    config: &Config,
    transaction: &WriteTx<'_>,
    now: Timestamp,
) -> Result<(), OutgoingError> {
    let out_of_band = config.out_of_band();
    for (outbox, recipient) in transaction.out_of_band_on_primary()? {
        let routed = out_of_band.as_ref().and_then(|route| route.route(&recipient, config.access.is_staff(&recipient)));
        match routed {
            Some(elsewhere) => {
                let reason = format!("the incident moved out of band; sent to {elsewhere} through the fallback relay");
                transaction.reroute(outbox, &recipient, &elsewhere, &reason, now)?;
            }
            None => {
                let reason = "not sent: the incident moved out of band, and there is no out-of-band address for it";
                transaction.withhold(outbox, &recipient, reason)?;
            }
        }
    }
    Ok(())
}

fn queue_routed(
    transaction: &WriteTx<'_>,
    (kind, incident): (MailKind, Option<IncidentNumber>),
    mut draft: Draft,
    (route, envelope_from): (Route, String),
    now: Timestamp,
) -> Result<(), OutgoingError> {
    let undeliverable: Vec<String> =
        draft.to.iter().chain(&draft.cc).filter(|address| !compose::is_deliverable(address)).cloned().collect();
    draft.to.retain(|address| compose::is_deliverable(address));
    draft.cc.retain(|address| compose::is_deliverable(address));
    let built = match draft.to.is_empty() && draft.cc.is_empty() {
        true => Err("no recipient that mail can be sent to".to_string()),
        false => compose::compose(&draft, now).map_err(|error| error.to_string()),
    };
    let (raw, failure) = match built {
        Ok(raw) => (raw, None),
        Err(reason) => (Vec::new(), Some(reason)),
    };
    let outbox = transaction.enqueue(
        &NewOutgoing {
            kind,
            incident,
            to: draft.to,
            cc: draft.cc,
            subject: draft.subject,
            message_id: draft.message_id,
            body: draft.body,
            raw,
            envelope_from,
            route,
        },
        now,
    )?;
    for address in &undeliverable {
        warn!(outbox, kind = kind.as_str(), address, "not an address mail can be sent to; left out");
        transaction.fail_delivery(outbox, address, "not an address mail can be sent to", now)?;
    }
    if let Some(reason) = failure {
        error!(outbox, kind = kind.as_str(), reason, "outgoing mail could not be built");
        transaction.fail_outbox(outbox, &reason)?;
    }
    Ok(())
}

/// `[stakeholders] executives` and the incident's `notify` additions.
pub fn executives(config: &Config, incident: &Incident) -> Vec<String> {
    recipients::executives(incident, &config.executives, &config.address)
}

pub fn responders(config: &Config, incident: &Incident, authors: &[String]) -> Vec<String> {
    recipients::responders(incident, authors, &config.access, &config.address)
}

/// One recipient's own copy, threaded under the incident's root, and under
/// `parent` when it follows up an earlier mail.
pub fn own_copy(
    config: &Config,
    incident: &Incident,
    recipient: &str,
    subject: String,
    body: String,
    html: Option<String>,
    parent: Option<String>,
) -> Draft {
    let mut references = vec![incident.thread_root.clone()];
    references.extend(parent.clone());
    Draft { in_reply_to: parent, references, ..standalone(config, recipient, subject, body, html) }
}

/// Mail of sitrep's own to one recipient, in no thread: a combined digest,
/// a notice to the admins.
pub fn standalone(config: &Config, recipient: &str, subject: String, body: String, html: Option<String>) -> Draft {
    Draft {
        from: config.address.with_detail(None),
        to: vec![recipient.to_string()],
        cc: Vec::new(),
        subject,
        body,
        html,
        message_id: compose::new_message_id(&config.address),
        in_reply_to: None,
        references: Vec::new(),
        auto_submitted: AutoSubmitted::Generated,
        loop_marker: config.address.with_detail(None),
    }
}

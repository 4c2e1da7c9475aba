//! What a message is answered with: the acknowledgement of a declaration,
//! the transcript of commands, notices to a refused or quarantined sender,
//! and what the admins are told.

use jiff::{SignedDuration, Timestamp};

use super::{Fault, IngestError, IngestReport, Pipeline};
use crate::compose::{self, AutoSubmitted, Draft};
use crate::core::command;
use crate::core::deadline::describe_duration;
use crate::core::incident::{Incident, IncidentNumber, MailKind};
use crate::core::mail::Inbound;
use crate::core::outcome::Done;
use crate::core::subject::{self, Mail};
use crate::core::transition::{Applied, Effects};
use crate::core::triage::{self, NoticeCause, Outcome};
use crate::outgoing::{queue_mail, standalone};
use crate::render::{AckView, DraftMailView, NoticeView, TranscriptView, UnverifiedView, local_time};
use crate::store::WriteTx;

impl Pipeline {
    /// "Processed:" to the sender: each command and what became of it.
    pub(super) fn send_transcript(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        incident: &Incident,
        effects: &Effects,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let author = inbound.author().map(|mailbox| mailbox.address.as_str()).unwrap_or_default();
        let body = self.renderer().transcript(&TranscriptView {
            lines: self.renderer().command_views(&effects.applied)?,
            errors: effects.errors(),
            count: effects.applied.len(),
            card: if effects.card { self.renderer().card(incident, &self.config().time_zone)? } else { String::new() },
            help: if effects.help { command::REFERENCE.to_string() } else { String::new() },
            address: self.config().address.with_detail(None),
        })?;
        let mail = Mail::Processed { replying_to: &inbound.subject, errors: effects.errors() };
        let subject = subject::line(mail, incident.number, &incident.title);
        let draft =
            self.outgoing.reply_in_thread(incident, inbound, vec![author.to_string()], Vec::new(), subject, body);
        Ok(self.outgoing.enqueue(transaction, MailKind::Transcript, Some(incident.number), draft, now)?)
    }

    /// Tells the admins that sitrep failed on a message, once a day per
    /// error. Plain text, not a template: a template may be what failed.
    pub(super) fn tell_admins_fault(
        &self,
        transaction: &WriteTx<'_>,
        fault: &Fault,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let body = format!(
            "sitrep could not process a message because of a fault of its own:\n\n    {}\n\n\
             The message is kept, quarantined, and its sender was told. Further messages that fail\n\
             the same way are quarantined too; this notice is not repeated today. The log names each\n\
             message. `sitrep check-config` checks the templates.\n\n-- \nsitrep, the incident coordinator at {}\n",
            fault.error,
            self.config().address.with_detail(None)
        );
        for admin in &self.config().admins {
            let recipients = std::slice::from_ref(admin);
            if transaction.same_mail_since(
                MailKind::Notice,
                recipients,
                None,
                &body,
                now - SignedDuration::from_hours(24),
            )? {
                continue;
            }
            let subject = "sitrep could not process a message".to_string();
            let draft = standalone(self.config(), admin, subject, body.clone(), None);
            queue_mail(self.config(), transaction, MailKind::Notice, None, draft, now)?;
        }
        Ok(())
    }

    pub(super) fn tell_admins_unverified(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        incident: IncidentNumber,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let sender = inbound.author().map(|mailbox| mailbox.address.as_str()).unwrap_or("an unknown sender");
        self.send_unverified_notice(transaction, Some(incident), sender, reason, inbound, now)
    }

    pub(super) fn send_unverified_notice(
        &self,
        transaction: &WriteTx<'_>,
        incident: Option<IncidentNumber>,
        sender: &str,
        reason: &str,
        inbound: &Inbound,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let about = incident.map_or_else(|| self.config().address.with_detail(None), |number| number.to_string());
        let body = self.renderer().unverified(&UnverifiedView {
            incident: about.clone(),
            sender,
            reason,
            address: self.config().address.with_detail(None),
        })?;
        for admin in &self.config().admins {
            let draft = Draft {
                from: self.config().address.with_detail(None),
                to: vec![admin.clone()],
                cc: Vec::new(),
                subject: format!("Unverified mail to {about} from {sender}"),
                body: body.clone(),
                html: None,
                message_id: compose::new_message_id(&self.config().address),
                in_reply_to: None,
                references: inbound.message_id.iter().cloned().collect(),
                auto_submitted: AutoSubmitted::Generated,
                loop_marker: self.config().address.with_detail(None),
            };
            self.outgoing.enqueue(transaction, MailKind::Notice, incident, draft, now)?;
        }
        Ok(())
    }

    pub(super) fn quarantine(
        &self,
        transaction: &WriteTx<'_>,
        head: Option<&Inbound>,
        reason: String,
        now: Timestamp,
    ) -> Result<IngestReport, IngestError> {
        if let Some(head) = head {
            let answerable = head.author().is_some_and(|author| {
                self.config().access.is_staff(&author.address) && !self.config().address.is_ours(&author.address)
            }) && triage::automatic_reason(head).is_none()
                && head.loop_marker.is_none();
            if answerable {
                self.notify_sender(transaction, head, &reason, NoticeCause::Quarantined, now)?;
            }
        }
        Ok(IngestReport { outcome: Outcome::Quarantined, incident: None, reason: Some(reason), stored: true })
    }

    pub(super) fn acknowledge(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        incident: &Incident,
        effects: &Effects,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let recipients: Vec<&str> = inbound.recipients().map(|mailbox| mailbox.address.as_str()).collect();
        let seen_lists = transaction.known_lists(&recipients)?;
        let Some((to, cc)) =
            triage::ack_recipients(inbound, &self.config().address, &self.config().access, &seen_lists)
        else {
            return Ok(());
        };
        let number = incident.number;
        // sitrep's own suggestion is no command of the sender's.
        let (suggested, written): (Vec<Applied>, Vec<Applied>) = effects
            .applied
            .iter()
            .cloned()
            .partition(|applied| matches!(applied.outcome, Ok(Done::TypeSet { suggested: true, .. })));
        let playbook = self.renderer().command_views(&suggested)?.into_iter().map(|view| view.outcome).collect();
        let body = self.renderer().ack(&AckView {
            incident: number.to_string(),
            title: &incident.title,
            declared_by: &incident.declared_by,
            declared_at: local_time(incident.declared_at, &self.config().time_zone),
            executives: self.config().executives.join(", "),
            critical_every: describe_duration(self.config().schedule.cadence.critical),
            high_every: describe_duration(self.config().schedule.cadence.high),
            unassessed_every: describe_duration(self.config().schedule.cadence.unassessed),
            address: self.config().address.with_detail(None),
            has_commands: !written.is_empty(),
            commands: self.renderer().command_views(&written)?,
            playbook,
        })?;
        let subject = subject::line(Mail::Acknowledgement, number, &incident.title);
        let draft = self.outgoing.reply_in_thread(incident, inbound, vec![to], cc, subject, body);
        Ok(self.outgoing.enqueue(transaction, MailKind::Ack, Some(number), draft, now)?)
    }

    pub(super) fn notify_sender(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        reason: &str,
        cause: NoticeCause,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let Some(sender) = inbound.author().map(|mailbox| mailbox.address.clone()) else { return Ok(()) };
        let outsider = !self.config().access.is_staff(&sender);
        let Some(interval) = triage::notice_interval(cause, outsider, self.config().answer_refused) else {
            return Ok(());
        };
        if transaction.mailed_since(MailKind::Notice, &sender, now - interval)? {
            return Ok(());
        }
        let view = NoticeView { address: self.config().address.with_detail(None), reason, staff: !outsider };
        let body = match cause {
            NoticeCause::Refused => self.renderer().refused(&view)?,
            NoticeCause::Quarantined => self.renderer().quarantined(&view)?,
        };
        let original = subject::strip_prefixes(&inbound.subject);
        let subject =
            if original.is_empty() { "Not accepted".to_string() } else { format!("Not accepted: {original}") };
        let draft = self.outgoing.reply(inbound, inbound.references.clone(), vec![sender], Vec::new(), subject, body);
        Ok(self.outgoing.enqueue(transaction, MailKind::Notice, None, draft, now)?)
    }

    /// The sender of mail about an out-of-band incident from their company
    /// address is told, at their out-of-band address (the incident's mail
    /// goes nowhere else), that it was kept and ran nothing.
    pub(super) fn tell_compromised_channel(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        incident: IncidentNumber,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let Some(sender) = inbound.author().map(|mailbox| mailbox.address.clone()) else { return Ok(()) };
        let Some(fallback) = &self.config().fallback else { return Ok(()) };
        let reason = format!(
            "{incident} is handled out of band, and this came from your company address, which whoever breached \
             the company's mail may hold; it was kept and ran no command. Write from your out-of-band address to \
             {}",
            fallback.address.with_detail(None)
        );
        let view = NoticeView { address: self.config().address.with_detail(None), reason: &reason, staff: true };
        let body = self.renderer().refused(&view)?;
        let subject = format!("Not accepted: {}", subject::strip_prefixes(&inbound.subject));
        let draft = self.outgoing.reply(inbound, inbound.references.clone(), vec![sender], Vec::new(), subject, body);
        Ok(self.outgoing.enqueue(transaction, MailKind::Notice, Some(incident), draft, now)?)
    }

    /// A draft's latest version, to the one who asked for it only; a reply
    /// to this mail is the draft's next version.
    pub(super) fn send_draft(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        incident: &Incident,
        number: u32,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let Some(draft) = incident.drafts.iter().find(|draft| draft.number == number) else { return Ok(()) };
        let Some(latest) = draft.versions.last() else { return Ok(()) };
        let Some(to) = inbound.author().map(|mailbox| mailbox.address.clone()) else { return Ok(()) };
        let body = self.renderer().draft_mail(&DraftMailView {
            id: incident.number.to_string(),
            number,
            kind: draft.kind.as_str(),
            framing: draft.framing.as_str(),
            version: latest.version,
            next: latest.version + 1,
            at: local_time(latest.at, &self.config().time_zone),
            body: latest.body.clone(),
            address: self.config().address.with_detail(None),
        })?;
        let mail = Mail::Draft { number, kind: draft.kind.as_str(), framing: draft.framing.as_str() };
        let subject = subject::line(mail, incident.number, &incident.title);
        let draft_mail = self.outgoing.reply_in_thread(incident, inbound, vec![to], Vec::new(), subject, body);
        transaction.record_draft_mail(&draft_mail.message_id, incident.number, number)?;
        Ok(self.outgoing.enqueue(transaction, MailKind::Draft, Some(incident.number), draft_mail, now)?)
    }
}

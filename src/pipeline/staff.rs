//! Staff mail: a declaration or an update, decided by `core::plan` and
//! carried out here in the message's transaction.

use jiff::{SignedDuration, Timestamp};
use tracing::warn;

use super::{IngestError, IngestReport, MAX_AWAITED, Pipeline, retro};
use crate::compose;
use crate::core::incident::{Channel, DraftVersion, Incident, IncidentNumber};
use crate::core::mail::Inbound;
use crate::core::outcome::Done;
use crate::core::plan::{self, Answer, Change, Plan, Reading};
use crate::core::transition::{Actor, Settings};
use crate::core::triage::{self, NoticeCause, Outcome, ThreadKeys};
use crate::inbound::Parsed;
use crate::outgoing::move_waiting_out_of_band;
use crate::render::DraftFacts;
use crate::scheduler;
use crate::store::WriteTx;

impl Pipeline {
    /// A new incident, unless the hourly brakes on declarations hold: a
    /// storm of mail must not become a storm of incidents and answers.
    pub(super) fn open(
        &self,
        transaction: &WriteTx<'_>,
        row: i64,
        parsed: &Parsed,
        keys: &ThreadKeys,
        (title, out_of_band): (String, bool),
        now: Timestamp,
    ) -> Result<IngestReport, IngestError> {
        let inbound = &parsed.inbound;
        let limits = &self.config().limits;
        let sender = inbound.author().map_or("", |author| author.address.as_str());
        let (by_everyone, by_sender) = transaction.declarations_since(now - SignedDuration::from_hours(1), sender)?;
        let brake = triage::storm_brake(
            by_sender,
            limits.declarations_per_sender_per_hour,
            by_everyone,
            limits.declarations_per_hour,
        );
        if let Some(reason) = brake {
            warn!(sender, by_sender, by_everyone, "declaration refused: hourly limit on new incidents");
            self.notify_sender(transaction, inbound, &reason, NoticeCause::Refused, now)?;
            return Ok(IngestReport { outcome: Outcome::Rejected, incident: None, reason: Some(reason), stored: true });
        }
        let number = transaction.next_incident_number()?;
        self.store_attachments(transaction, row, parsed)?;
        self.declare(transaction, inbound, number, title, out_of_band, now)?;
        // A reply that overtook the mail it answers: when that mail comes,
        // it joins this incident.
        transaction.await_parents(number, &keys.references[..keys.references.len().min(MAX_AWAITED)], now)?;
        Ok(IngestReport { outcome: Outcome::Declared, incident: Some(number), reason: None, stored: true })
    }

    /// A staff update: its text on the timeline, its commands applied and
    /// answered with a transcript. A reply with nothing new is only noted:
    /// the reason is returned.
    pub(super) fn update(
        &self,
        transaction: &WriteTx<'_>,
        (row, parsed): (i64, &Parsed),
        number: IncidentNumber,
        steering_allowed: bool,
        now: Timestamp,
    ) -> Result<Option<&'static str>, IngestError> {
        let inbound = &parsed.inbound;
        let author = inbound.author().map(|mailbox| mailbox.address.as_str()).unwrap_or_default();
        // Only a closed incident is loaded before the commands are known.
        let closed = match transaction.incident_closed(number)? {
            true => transaction.incident(number)?,
            false => None,
        };
        if let Some(incident) = &closed
            && retro::is_answer(transaction, inbound, incident, author)?
        {
            self.store_attachments(transaction, row, parsed)?;
            return retro::take_answers(self, transaction, inbound, incident, author, now).map(|()| None);
        }
        if triage::is_empty_reply(inbound) {
            return Ok(Some(triage::NOTHING_NEW));
        }
        self.store_attachments(transaction, row, parsed)?;
        let access = &self.config().access;
        let mut reading = Reading::of(inbound, None, access);
        if let Some(parent) = reading.parent_to_check(inbound) {
            reading = Reading::of(inbound, transaction.subject_of(parent)?.as_deref(), access);
        }
        if !inbound.in_reply_to.is_empty() {
            reading = reading.replying_to_draft(inbound, transaction.draft_replied_to(number, &inbound.in_reply_to)?);
        }
        let incident = match (closed, reading.needs_incident()) {
            (Some(incident), _) => Some(incident),
            (None, true) => transaction.incident(number)?,
            (None, false) => None,
        };
        let mut actor = self.actor(author);
        actor.steering_allowed = steering_allowed;
        let before = incident.clone();
        let plan = plan::update(inbound, number, reading, incident, &actor, &self.settings(), now);
        self.carry_out(transaction, inbound, (plan, before.as_ref()), now)?;
        Ok(None)
    }

    fn declare(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        number: IncidentNumber,
        title: String,
        out_of_band: bool,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let config = self.config();
        let declarer = inbound.author().map(|mailbox| mailbox.address.as_str()).unwrap_or_default();
        let plan = plan::declare(
            inbound,
            number,
            title,
            compose::new_message_id(&config.address),
            &config.default_streams,
            out_of_band,
            &self.actor(declarer),
            &self.settings(),
            now,
        );
        self.carry_out(transaction, inbound, (plan, None), now)
    }

    /// Writes what `core::plan` decided: the incident, its timeline, the
    /// answer, the jobs asked for, and whatever the change makes due.
    fn carry_out(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        (mut plan, before): (Plan, Option<&Incident>),
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let drafted = self.write_drafts(&mut plan, inbound, now)?;
        match (&plan.state, plan.change) {
            (Some(incident), Change::Declared) => transaction.insert_incident(incident)?,
            (Some(incident), Change::CommandsRan) => transaction.save_incident_since(incident, before)?,
            _ => {}
        }
        for entry in &plan.entries {
            transaction.append_timeline(plan.incident, entry)?;
        }
        let Some(incident) = &plan.state else { return Ok(()) };
        let moved = plan
            .effects
            .applied
            .iter()
            .any(|applied| matches!(applied.outcome, Ok(Done::ChannelSwitched { channel: Channel::OutOfBand })));
        if moved {
            move_waiting_out_of_band(self.config(), transaction, now)?;
        }
        match plan.answer {
            Some(Answer::Acknowledge) => self.acknowledge(transaction, inbound, incident, &plan.effects, now)?,
            Some(Answer::Transcript) => self.send_transcript(transaction, inbound, incident, &plan.effects, now)?,
            Some(Answer::Closed { can_reopen }) => {
                let author = inbound.author().map(|mailbox| mailbox.address.as_str()).unwrap_or_default();
                retro::tell_closed(self, transaction, inbound, incident, author, can_reopen, now)?;
            }
            None => {}
        }
        // Drafts written now, and any `show Dn`, go to the sender, unless the
        // mail said `quiet`.
        let shown = plan.effects.applied.iter().filter_map(|applied| match applied.outcome {
            Ok(Done::DraftShown { number, .. }) => Some(number),
            _ => None,
        });
        if !plan.effects.quiet {
            for number in drafted.into_iter().chain(shown) {
                self.send_draft(transaction, inbound, incident, number, now)?;
            }
        }
        if plan.change == Change::Unchanged {
            return Ok(());
        }
        for job in &plan.requests {
            transaction.request(plan.incident, &job.key(), now)?;
        }
        scheduler::run_due(&self.outgoing, transaction, incident, now)?;
        Ok(())
    }

    fn actor<'a>(&self, address: &'a str) -> Actor<'a> {
        let privileged = self.config().leads.iter().chain(&self.config().admins).any(|listed| listed == address);
        Actor { address, privileged, steering_allowed: true }
    }

    fn settings(&self) -> Settings<'_> {
        Settings {
            time_zone: &self.config().time_zone,
            people: &self.config().people,
            access: &self.config().access,
            allow_external_notify: self.config().allow_external_notify,
            regimes: &self.config().regimes,
            playbooks: &self.config().playbooks,
            executives: &self.config().executives,
            suggest_type: self.config().suggest_type,
            out_of_band: self.config().fallback.is_some(),
        }
    }

    /// The text of each draft the plan asked for, from the incident as it
    /// now stands, stored as its version 1. Returns their numbers.
    fn write_drafts(&self, plan: &mut Plan, inbound: &Inbound, now: Timestamp) -> Result<Vec<u32>, IngestError> {
        let asked: Vec<u32> = plan
            .effects
            .applied
            .iter()
            .filter_map(|applied| match applied.outcome {
                Ok(Done::Drafted { number, .. }) => Some(number),
                _ => None,
            })
            .collect();
        let Some(incident) = plan.state.as_mut().filter(|_| !asked.is_empty()) else { return Ok(asked) };
        let config = self.config();
        let type_title = incident
            .kind
            .and_then(|kind| config.playbooks.iter().find(|playbook| playbook.kind == kind))
            .map(|playbook| playbook.title.clone());
        let facts = DraftFacts {
            organisation: config.organisation.as_deref(),
            type_title: type_title.as_deref(),
            regimes: &config.regimes,
            now,
        };
        let author = inbound.author().map(|mailbox| mailbox.address.clone()).unwrap_or_default();
        for number in &asked {
            let Some(draft) = incident.drafts.iter().find(|draft| draft.number == *number) else { continue };
            let body = self.renderer().draft(incident, draft.kind, draft.framing, &facts)?;
            let version = DraftVersion { version: 1, body, by: author.clone(), at: now, decision: None };
            if let Some(draft) = incident.drafts.iter_mut().find(|draft| draft.number == *number) {
                draft.versions.push(version);
            }
        }
        Ok(asked)
    }
}

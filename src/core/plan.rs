//! What a staff mail does to its incident, decided before anything is
//! written: the shell loads the facts named here, one function decides, and
//! the shell carries the plan out in its transaction.

use jiff::Timestamp;

use super::access::Access;
use super::auth;
use super::command::{self, Origin};
use super::incident::{Channel, EntryKind, Incident, IncidentNumber, Status, Stream, Trust};
use super::mail::Inbound;
use super::playbook;
use super::quote;
use super::schedule::Job;
use super::timeline::TimelineEntry;
use super::transition::{self, Actor, Effects, Settings};

/// What to do about one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub incident: IncidentNumber,
    /// The incident as it is after the mail; `None` when it was not needed
    /// (a plain update to an open incident).
    pub state: Option<Incident>,
    pub change: Change,
    pub entries: Vec<TimelineEntry>,
    /// The commands and what became of each, for the answer.
    pub effects: Effects,
    pub answer: Option<Answer>,
    /// Asked for now by the mail (`digest now`, `retro send`).
    pub requests: Vec<Job>,
}

/// What the store must do with `Plan::state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new incident: inserted.
    Declared,
    /// Commands ran (some perhaps refused): saved, and what they make due
    /// is sent.
    CommandsRan,
    Unchanged,
}

/// The one mail the sender gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The incident is open: its tag, what is still unknown.
    Acknowledge,
    /// "Processed:" each command and what became of it.
    Transcript,
    /// The incident is closed and nobody watches it; the sender may reopen
    /// it or not.
    Closed { can_reopen: bool },
}

/// The commands a mail carries, read before the incident is loaded, since
/// a plain update needs nothing of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    commands: command::Parsed,
    /// The draft whose mail this replies to, and the mail read as an edit
    /// of it: the commands of its subject and of a first paragraph of
    /// commands only, and the rest as the draft's text.
    draft: Option<(u32, command::Parsed)>,
    /// Why the mail's commands may not run, if they may not.
    refused: Option<String>,
}

impl Reading {
    /// Commands in the subject and the text, each answered with the reason
    /// it may not run when the mail may not steer (`auth::commands_refused`).
    pub fn of(inbound: &Inbound, parent_subject: Option<&str>, access: &Access) -> Reading {
        let refused = auth::commands_refused(inbound, access);
        let commands = refuse(command::parse_reply(&inbound.subject, parent_subject, &inbound.new_text), &refused);
        Reading { commands, draft: None, refused }
    }

    /// The mail replies to the mail that carried draft `number`: it may be
    /// an edit of it, which only the incident can tell.
    pub fn replying_to_draft(self, inbound: &Inbound, number: Option<u32>) -> Reading {
        let Some(number) = number else { return self };
        let text = inbound.new_text.trim();
        let (first, rest) = text.split_once("\n\n").unwrap_or((text, ""));
        let leading = command::parse(&inbound.subject, first);
        let as_edit =
            match leading.text.trim().is_empty() && leading.lines.iter().any(|line| line.origin == Origin::Body) {
                true => command::Parsed { text: rest.trim().to_string(), ..leading },
                false => command::Parsed { text: text.to_string(), ..command::parse(&inbound.subject, "") },
            };
        let as_edit = refuse(as_edit, &self.refused);
        Reading { draft: Some((number, as_edit)), ..self }
    }

    /// The mail this reply answers, when its subject must be read: the
    /// reply's subject carries commands, and they may be the parent's,
    /// quoted along by the `Re:`. Read again with it.
    pub fn parent_to_check<'a>(&self, inbound: &'a Inbound) -> Option<&'a str> {
        let from_subject = self.commands.lines.iter().any(|line| line.origin == Origin::Subject);
        inbound.in_reply_to.first().filter(|_| from_subject).map(String::as_str)
    }

    /// Whether the incident must be loaded to decide: only to run commands
    /// or to store a draft's new version.
    pub fn needs_incident(&self) -> bool {
        !self.commands.lines.is_empty() || self.draft.is_some()
    }
}

/// Each command answered with `reason` instead of run, when there is one.
fn refuse(mut commands: command::Parsed, reason: &Option<String>) -> command::Parsed {
    if let Some(reason) = reason {
        for line in &mut commands.lines {
            line.command = Err(reason.clone());
        }
    }
    commands
}

/// Whether `text` reads as a new version of `draft` rather than a comment
/// on it ("Looks good", "Sent at 16:10"): it keeps the draft's subject
/// line, opens as a letter does ("Dear customers,"), or is at least a
/// third of the draft's length.
fn is_edit(text: &str, draft: &str) -> bool {
    let text = text.trim();
    let opening = text.lines().next().unwrap_or_default().trim();
    !text.is_empty()
        && (opening.starts_with("Subject:") || quote::is_greeting(opening) || 3 * text.len() >= draft.trim().len())
}

/// A declaration: the new incident with the default streams, the commands
/// of the first mail run against it, and the acknowledgement.
#[allow(clippy::too_many_arguments)] // what a new incident is made of
pub fn declare(
    inbound: &Inbound,
    number: IncidentNumber,
    title: String,
    thread_root: String,
    default_streams: &[Stream],
    out_of_band: bool,
    declarer: &Actor<'_>,
    settings: &Settings<'_>,
    now: Timestamp,
) -> Plan {
    let mut incident = Incident::declare(number, title, declarer.address.to_string(), now, thread_root);
    for stream in default_streams {
        incident.streams.entry(*stream).or_default();
    }
    let reading = Reading::of(inbound, None, settings.access);
    let mut effects = transition::apply(&mut incident, &reading.commands.lines, declarer, now, settings);
    // No `type` given: the words of the mail may say which playbook fits.
    let wanted = settings.suggest_type && incident.kind.is_none();
    let suggested = wanted.then(|| playbook::suggest(settings.playbooks, &incident.title, &reading.commands.text));
    if let Some(Some(kind)) = suggested {
        effects.applied.push(transition::apply_suggested_type(&mut incident, kind, declarer, now, settings));
    }
    // Written from an out-of-band address, or to the fallback address.
    if out_of_band && incident.channel == Channel::Normal {
        effects.applied.push(transition::apply_out_of_band(&mut incident, declarer, now, settings));
    }
    let mut entries = vec![entry(inbound, EntryKind::Declared, &reading.commands.text, now)];
    entries.extend(command_entries(inbound, &effects, now));
    Plan {
        incident: number,
        answer: (!effects.quiet).then_some(Answer::Acknowledge),
        requests: requests(&effects),
        state: Some(incident),
        change: Change::Declared,
        entries,
        effects,
    }
}

/// A staff update to `number`: its text on the timeline and its commands
/// run. `incident` is loaded when the reading needs it or the incident is
/// closed.
pub fn update(
    inbound: &Inbound,
    number: IncidentNumber,
    reading: Reading,
    incident: Option<Incident>,
    actor: &Actor<'_>,
    settings: &Settings<'_>,
    now: Timestamp,
) -> Plan {
    // A reply to a draft's mail is an edit when it reads like one; a
    // comment on it ("Looks good") is an update like any other.
    let (commands, draft) = match (&incident, reading.draft) {
        (Some(incident), Some((number, as_edit))) => {
            let latest =
                incident.drafts.iter().find(|draft| draft.number == number).and_then(|draft| draft.versions.last());
            match latest {
                Some(latest) if is_edit(&as_edit.text, &latest.body) => (as_edit, Some(number)),
                _ => (reading.commands, None),
            }
        }
        _ => (reading.commands, None),
    };
    let acts = !commands.lines.is_empty() || draft.is_some();
    let mut incident = match incident {
        Some(incident) if acts => incident,
        // Commands for an incident that is not there: nothing to record them on.
        None if acts => {
            return Plan {
                incident: number,
                state: None,
                change: Change::Unchanged,
                entries: Vec::new(),
                effects: Effects::default(),
                answer: None,
                requests: Vec::new(),
            };
        }
        incident => {
            // Kept, but nobody watches a closed incident: the sender is told.
            let answer = incident
                .as_ref()
                .filter(|incident| incident.status == Status::Closed)
                .map(|incident| Answer::Closed { can_reopen: transition::steers(incident, actor) });
            return Plan {
                incident: number,
                state: incident,
                change: Change::Unchanged,
                entries: vec![entry(inbound, EntryKind::Update, &inbound.new_text, now)],
                effects: Effects::default(),
                answer,
                requests: Vec::new(),
            };
        }
    };
    // The edit is the draft's next version, not an update; the commands
    // run after it, so `approve` in the same mail approves the new text.
    let edit = draft.and_then(|draft| transition::edit_draft(&mut incident, draft, &commands.text, actor, now));
    let mut effects = transition::apply(&mut incident, &commands.lines, actor, now, settings);
    let mut entries = Vec::new();
    match edit {
        Some(edit) => effects.applied.insert(0, edit),
        None if !commands.text.is_empty() => entries.push(entry(inbound, EntryKind::Update, &commands.text, now)),
        None => {}
    }
    entries.extend(command_entries(inbound, &effects, now));
    Plan {
        incident: number,
        answer: (!effects.quiet).then_some(Answer::Transcript),
        requests: requests(&effects),
        state: Some(incident),
        change: Change::CommandsRan,
        entries,
        effects,
    }
}

fn requests(effects: &Effects) -> Vec<Job> {
    let mut requests = Vec::new();
    if effects.digest_now {
        requests.push(Job::Digest);
    }
    if effects.report_now {
        requests.push(Job::Report);
    }
    requests
}

/// An entry by the mail's author, who is staff: only staff mail is planned.
fn entry(inbound: &Inbound, kind: EntryKind, text: &str, now: Timestamp) -> TimelineEntry {
    TimelineEntry::of_mail(inbound, kind, text, Trust::Staff, now)
}

/// Every command that changed something, with what it did.
fn command_entries<'a>(
    inbound: &'a Inbound,
    effects: &'a Effects,
    now: Timestamp,
) -> impl Iterator<Item = TimelineEntry> + 'a {
    effects.applied.iter().filter_map(move |applied| {
        let (kind, text) = applied.entry.as_ref()?;
        Some(TimelineEntry {
            outcome: applied.outcome.as_ref().ok().filter(|_| *kind == EntryKind::Command).cloned(),
            ..entry(inbound, *kind, text, now)
        })
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::tz::TimeZone;

    use super::*;
    use crate::core::incident::Severity;
    use crate::core::mail::Mailbox;

    const NOW: &str = "2026-11-27T10:00:00Z";

    fn access() -> Access {
        Access { staff_domains: vec!["company.test".into()], ..Access::default() }
    }

    fn mail(subject: &str, text: &str) -> Inbound {
        let mut inbound = Inbound::sample("bob@company.test", subject);
        inbound.new_text = text.to_string();
        inbound.message_id = Some("m1@company.test".into());
        inbound
    }

    fn with_settings<T>(run: impl FnOnce(&Settings<'_>) -> T) -> T {
        let (people, access) = (BTreeMap::new(), access());
        run(&Settings {
            time_zone: &TimeZone::UTC,
            people: &people,
            access: &access,
            allow_external_notify: false,
            regimes: &[],
            playbooks: &[],
            executives: &[],
            suggest_type: true,
            out_of_band: true,
        })
    }

    fn open_incident() -> Incident {
        Incident::declare(
            IncidentNumber(1),
            "Phishing".into(),
            "alice@company.test".into(),
            "2026-11-27T09:00:00Z".parse().unwrap(),
            "root@company.test".into(),
        )
    }

    fn plan_update(inbound: &Inbound, incident: Option<Incident>) -> Plan {
        let reading = Reading::of(inbound, None, &access());
        let actor = Actor { address: "bob@company.test", privileged: false, steering_allowed: true };
        with_settings(|settings| {
            update(inbound, IncidentNumber(1), reading, incident, &actor, settings, NOW.parse().unwrap())
        })
    }

    #[test]
    fn a_plain_update_needs_no_incident_and_changes_none() {
        let inbound = mail("Re: [INC-1] Phishing", "The mailbox rule is removed.");
        assert!(!Reading::of(&inbound, None, &access()).needs_incident());
        let plan = plan_update(&inbound, None);
        assert_eq!((plan.change, plan.answer, plan.state), (Change::Unchanged, None, None));
        assert_eq!(plan.entries.len(), 1);
        assert_eq!(
            (plan.entries[0].kind, plan.entries[0].text.as_str()),
            (EntryKind::Update, "The mailbox rule is removed.")
        );
    }

    #[test]
    fn commands_change_the_incident_leave_their_outcomes_and_are_answered() {
        let inbound = mail("Re: [INC-1] Phishing", "Reset the password.\n\nsev high\ndigest now");
        let plan = plan_update(&inbound, Some(open_incident()));
        assert_eq!((plan.change, plan.answer), (Change::CommandsRan, Some(Answer::Transcript)));
        assert_eq!(plan.state.as_ref().and_then(|incident| incident.severity), Some(Severity::High));
        let entries: Vec<(EntryKind, &str, bool)> =
            plan.entries.iter().map(|entry| (entry.kind, entry.text.as_str(), entry.outcome.is_some())).collect();
        assert_eq!(
            entries,
            [(EntryKind::Update, "Reset the password.", false), (EntryKind::Command, "sev high", true)]
        );
        assert_eq!(plan.requests, [Job::Digest]);
    }

    #[test]
    fn a_quiet_mail_is_not_answered_and_a_closed_incident_says_so() {
        let quiet = plan_update(&mail("Re: [INC-1] Phishing", "sev low\nquiet"), Some(open_incident()));
        assert_eq!((quiet.change, quiet.answer), (Change::CommandsRan, None));
        let mut closed = open_incident();
        closed.status = Status::Closed;
        let plan = plan_update(&mail("Re: [INC-1] Phishing", "One more thing."), Some(closed));
        assert_eq!((plan.change, plan.answer), (Change::Unchanged, Some(Answer::Closed { can_reopen: false })));
    }

    #[test]
    fn a_reply_to_outside_the_company_runs_no_command() {
        let mut inbound = mail("Re: [INC-1] Phishing", "close");
        inbound.reply_to = vec![Mailbox { address: "attacker@evil.test".into(), name: None }];
        let plan = plan_update(&inbound, Some(open_incident()));
        assert_eq!(plan.effects.errors(), 1);
        assert_eq!(plan.state.map(|incident| incident.status), Some(Status::Open));
    }

    #[test]
    fn subject_commands_send_the_reader_to_the_parent_first() {
        let mut inbound = mail("Re: [INC-1] Phishing [sev high]", "");
        assert_eq!(Reading::of(&inbound, None, &access()).parent_to_check(&inbound), None, "not a reply");
        inbound.in_reply_to = vec!["parent@company.test".into()];
        let reading = Reading::of(&inbound, None, &access());
        assert_eq!(reading.parent_to_check(&inbound), Some("parent@company.test"));
        // The parent carried the same command: it is not this mail's.
        let again = Reading::of(&inbound, Some("Phishing [sev high]"), &access());
        assert!(!again.needs_incident());
    }

    #[test]
    fn a_declaration_opens_with_the_default_streams_and_an_acknowledgement() {
        let inbound = mail("Ransomware on FS01", "Files end in .locked.\n\nsev critical");
        let actor = Actor { address: "bob@company.test", privileged: false, steering_allowed: true };
        let plan = with_settings(|settings| {
            declare(
                &inbound,
                IncidentNumber(7),
                "Ransomware on FS01".into(),
                "root@company.test".into(),
                &[Stream::Technical, Stream::Legal],
                false,
                &actor,
                settings,
                NOW.parse().unwrap(),
            )
        });
        assert_eq!((plan.change, plan.answer), (Change::Declared, Some(Answer::Acknowledge)));
        let incident = plan.state.unwrap();
        assert_eq!((incident.number, incident.severity), (IncidentNumber(7), Some(Severity::Critical)));
        assert_eq!(incident.streams.keys().copied().collect::<Vec<_>>(), [Stream::Technical, Stream::Legal]);
        assert_eq!(plan.entries[0].kind, EntryKind::Declared);
        assert_eq!(plan.entries[0].text, "Files end in .locked.");
    }

    #[test]
    fn a_declaration_that_came_out_of_band_starts_out_of_band() {
        let inbound = mail("Invoice fraud", "The supplier's bank details changed.");
        let actor = Actor { address: "bob@company.test", privileged: false, steering_allowed: true };
        let plan = with_settings(|settings| {
            let streams = [Stream::Technical];
            let root = "root@company.test".to_string();
            declare(
                &inbound,
                IncidentNumber(3),
                "Invoice fraud".into(),
                root,
                &streams,
                true,
                &actor,
                settings,
                NOW.parse().unwrap(),
            )
        });
        assert_eq!(plan.state.unwrap().channel, Channel::OutOfBand);
        let switched = plan.entries.iter().find(|entry| entry.kind == EntryKind::Command).unwrap();
        assert_eq!(switched.text, "channel out-of-band");
    }

    #[test]
    fn a_reply_to_a_draft_is_an_edit_only_when_it_reads_like_one() {
        let draft =
            "Subject: Incident at Example Ltd\n\nDear customers,\n\n".to_string() + &"We are sorry. ".repeat(40);
        assert!(!is_edit("Looks good to me.", &draft));
        assert!(!is_edit("Sent to customers at 16:10.", &draft));
        assert!(is_edit("Subject: Incident at Example Ltd\n\nShorter text.", &draft));
        assert!(is_edit("Dear customers,\n\nOur file server was attacked.", &draft));
        assert!(is_edit(&"We are sorry. ".repeat(20), &draft), "a third of the length");
        assert!(!is_edit("   ", &draft));
    }
}

//! Which of the five outcomes a message gets, and which incident it joins.
//!
//! Pure: the store's answers (is this Message-ID known, which incident does
//! a reference name) come in as [`Known`] and [`ThreadFacts`].

use jiff::SignedDuration;

use super::access::{Access, ExternalPolicy, IncidentAddress};
use super::auth::Authority;
use super::command;
use super::incident::{IncidentNumber, Trust};
use super::mail::{Inbound, Mailbox};
use super::subject;

/// Exactly one outcome per stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Declared,
    Updated,
    Ignored,
    Rejected,
    Quarantined,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Declared => "declared",
            Outcome::Updated => "updated",
            Outcome::Ignored => "ignored",
            Outcome::Rejected => "rejected",
            Outcome::Quarantined => "quarantined",
        }
    }
}

/// What the store already knows about this message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// Stored row of an earlier message with the same Message-ID.
    pub duplicate_of: Option<i64>,
}

/// The keys by which a message may thread, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadKeys {
    pub tag: Option<IncidentNumber>,
    /// In-Reply-To first, then References newest first.
    pub references: Vec<String>,
    pub plus: Option<IncidentNumber>,
    /// The subject's title as compared with open incidents' titles, for
    /// replies and new mail alike: staff who write anew, and monitoring
    /// systems that repeat an alert's subject, mean the incident already open.
    pub title_key: Option<String>,
    /// Its own Message-ID: a reply to it may have arrived first.
    pub message_id: Option<String>,
}

impl ThreadKeys {
    pub fn of(inbound: &Inbound, address: &IncidentAddress) -> ThreadKeys {
        let mut references: Vec<String> = Vec::new();
        for id in inbound.in_reply_to.iter().chain(inbound.references.iter().rev()) {
            if !references.contains(id) {
                references.push(id.clone());
            }
        }
        ThreadKeys {
            tag: subject::tag(&inbound.subject),
            references,
            plus: inbound.recipients().find_map(|mailbox| address.plus_incident(&mailbox.address)),
            title_key: Some(subject::title_key(&subject::title(&inbound.subject))).filter(|key| !key.is_empty()),
            message_id: inbound.message_id.clone(),
        }
    }
}

/// The store's answers to [`ThreadKeys`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadFacts {
    pub tag_exists: bool,
    /// The incident of the first reference sitrep knows.
    pub referenced: Option<IncidentNumber>,
    /// The incident a reply opened that referred to this message before it
    /// arrived (parallel delivery can reorder a thread).
    pub replied_to_in: Option<IncidentNumber>,
    pub plus_exists: bool,
    /// Open incidents whose title key equals the subject's.
    pub open_with_title: Vec<IncidentNumber>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Tag,
    Reference,
    /// A reply in the incident, which arrived first, referred to this message.
    Parent,
    PlusAddress,
    Title,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage {
    Declare {
        title: String,
    },
    /// `trust` says whether the mail may change anything (only `Staff`).
    Update {
        incident: IncidentNumber,
        via: Via,
        trust: Trust,
    },
    Ignore {
        reason: String,
    },
    /// `answer`: the sender may be told why without risking a mail loop.
    Reject {
        reason: String,
        answer: bool,
    },
}

impl Triage {
    pub fn outcome(&self) -> Outcome {
        match self {
            Triage::Declare { .. } => Outcome::Declared,
            Triage::Update { .. } => Outcome::Updated,
            Triage::Ignore { .. } => Outcome::Ignored,
            Triage::Reject { .. } => Outcome::Rejected,
        }
    }
}

pub fn triage(
    inbound: &Inbound,
    address: &IncidentAddress,
    authority: &Authority,
    external: ExternalPolicy,
    known: &Known,
    keys: &ThreadKeys,
    facts: &ThreadFacts,
) -> Triage {
    if let Some(row) = known.duplicate_of {
        return Triage::Ignore { reason: format!("duplicate Message-ID of stored message {row}") };
    }
    if let Some(reason) = loop_reason(inbound, address) {
        return Triage::Ignore { reason };
    }
    if let Some(reason) = automatic_reason(inbound) {
        return Triage::Ignore { reason };
    }
    let Some(author) = inbound.author() else {
        return Triage::Reject {
            reason: format!("the From header names {} addresses, not one", inbound.from.len()),
            answer: false,
        };
    };
    let thread = thread(keys, facts);
    if thread.is_none()
        && let [first, second, ..] = facts.open_with_title.as_slice()
    {
        // Two open incidents carry this title: which one is meant is the
        // sender's to say, not a new incident.
        return Triage::Reject {
            reason: format!(
                "the subject names the open incidents {first} and {second}; reply to the one you mean, keeping its [{first}] or [{second}] tag"
            ),
            answer: matches!(authority, Authority::Staff),
        };
    }
    let update = |trust| thread.map(|(incident, via)| Triage::Update { incident, via, trust });
    match authority {
        Authority::Staff => update(Trust::Staff).unwrap_or_else(|| match keys.tag {
            Some(tag) => Triage::Reject {
                reason: format!("{tag} does not exist; remove the tag to declare a new incident"),
                answer: true,
            },
            None => Triage::Declare { title: declaration_title(inbound) },
        }),
        // Kept where it belongs, but From may be forged: never answered.
        Authority::Unverified(why) => update(Trust::Unverified).unwrap_or_else(|| Triage::Reject {
            reason: format!("{} could not be verified ({why})", author.address),
            answer: false,
        }),
        Authority::Partner => update(Trust::Partner).unwrap_or_else(|| Triage::Reject {
            reason: format!("{} is a partner: partners post to incidents but do not declare them", author.address),
            answer: true,
        }),
        Authority::External => match (update(Trust::External), external) {
            (Some(update), ExternalPolicy::Record) => update,
            _ => Triage::Reject {
                reason: format!("{} is not an allowed sender (not a staff domain or address)", author.address),
                answer: true,
            },
        },
    }
}

/// Threading, in order: subject tag, references, a reply that named this
/// message first, plus address, then the title of exactly one open incident.
fn thread(keys: &ThreadKeys, facts: &ThreadFacts) -> Option<(IncidentNumber, Via)> {
    if let (Some(tag), true) = (keys.tag, facts.tag_exists) {
        return Some((tag, Via::Tag));
    }
    if let Some(incident) = facts.referenced {
        return Some((incident, Via::Reference));
    }
    if let Some(incident) = facts.replied_to_in {
        return Some((incident, Via::Parent));
    }
    if let (Some(plus), true) = (keys.plus, facts.plus_exists) {
        return Some((plus, Via::PlusAddress));
    }
    match facts.open_with_title.as_slice() {
        [only] if keys.title_key.is_some() => Some((*only, Via::Title)),
        _ => None,
    }
}

/// The subject without prefixes, tags and commands; else the first line
/// of the text that is not a command.
fn declaration_title(inbound: &Inbound) -> String {
    // The body is read for commands only when the subject gives no title.
    let title = subject::title(&command::parse(&inbound.subject, "").subject);
    if !title.is_empty() {
        return title;
    }
    let parsed = command::parse("", &inbound.new_text);
    let first_line = parsed.text.lines().map(str::trim).find(|line| !line.is_empty());
    match first_line {
        Some(line) => line.chars().take(80).collect(),
        None => "Untitled incident".to_string(),
    }
}

/// How every refusal by the storm brake begins, so that `sitrep status` can
/// count them.
pub const STORM: &str = "too many new incidents";

/// Whether one more declaration would make a storm: past the hourly limit
/// for its sender or for everyone. `None` lets it through.
pub fn storm_brake(by_sender: u32, sender_limit: u32, by_everyone: u32, overall_limit: u32) -> Option<String> {
    if by_sender >= sender_limit {
        return Some(format!(
            "{STORM}: you opened {by_sender} in the last hour, the most one sender may; reply to an open incident, \
             or ask an admin to raise [limits] declarations_per_sender_per_hour"
        ));
    }
    (by_everyone >= overall_limit).then(|| {
        format!(
            "{STORM}: {by_everyone} were opened in the last hour, the most sitrep accepts; reply to an open \
             incident, or ask an admin to raise [limits] declarations_per_hour"
        )
    })
}

/// The reason recorded for a reply that says nothing.
pub const NOTHING_NEW: &str = "no new text";

/// A reply with nothing in it once quotes, signature and footers are gone,
/// no attachment and no command: an accidental send, or "Sent from my
/// iPhone" above the quote.
pub fn is_empty_reply(inbound: &Inbound) -> bool {
    inbound.new_text.trim().is_empty()
        && inbound.attachments.is_empty()
        && command::parse(&inbound.subject, "").lines.is_empty()
}

fn loop_reason(inbound: &Inbound, address: &IncidentAddress) -> Option<String> {
    let ours = address.with_detail(None);
    if inbound.loop_marker.as_deref().is_some_and(|marker| marker.trim().eq_ignore_ascii_case(&ours)) {
        return Some("our own mail came back (X-Sitrep-Loop)".to_string());
    }
    if inbound.message_id.as_deref().is_some_and(|id| address.is_own_message_id(id)) {
        return Some("our own mail came back (Message-ID)".to_string());
    }
    if inbound.from.iter().any(|mailbox| address.is_ours(&mailbox.address)) {
        return Some("sent from the incident address itself".to_string());
    }
    None
}

/// Auto-replies and bounces, per RFC 3834 and what servers do in practice.
pub fn automatic_reason(inbound: &Inbound) -> Option<String> {
    if let Some(value) = &inbound.auto_submitted {
        let value = value.trim();
        if !value.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("no") {
            return Some(format!("automatic mail (Auto-Submitted: {value})"));
        }
    }
    if let Some(value) = &inbound.precedence {
        let value = value.trim().to_lowercase();
        if ["bulk", "junk", "list", "auto_reply"].contains(&value.as_str()) {
            return Some(format!("automatic mail (Precedence: {value})"));
        }
    }
    if let Some(name) = inbound.list_headers.first() {
        return Some(format!("mailing-list mail ({name})"));
    }
    if inbound.x_autoreply {
        return Some("automatic reply (X-Autoreply)".to_string());
    }
    if let Some(value) = &inbound.x_auto_response_suppress {
        let suppresses = value
            .split([',', ' '])
            .any(|item| ["all", "autoreply", "oof"].contains(&item.trim().to_lowercase().as_str()));
        if suppresses {
            return Some(format!("automatic mail (X-Auto-Response-Suppress: {})", value.trim()));
        }
    }
    if inbound.is_report {
        return Some("delivery or read report (multipart/report)".to_string());
    }
    if inbound.return_path.as_deref().is_some_and(|path| path.trim().is_empty()) {
        return Some("bounce (null Return-Path)".to_string());
    }
    if let Some(system) = inbound.from.iter().find(|mailbox| is_system_sender(mailbox)) {
        return Some(format!("system sender {}", system.address));
    }
    if subject::is_automatic_reply(&inbound.subject) {
        return Some("automatic reply (subject)".to_string());
    }
    None
}

fn is_system_sender(mailbox: &Mailbox) -> bool {
    let local = mailbox.address.split('@').next().unwrap_or("");
    ["mailer-daemon", "postmaster", "listserv", "majordomo", "noreply", "no-reply", "do-not-reply", "donotreply"]
        .contains(&local)
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.ends_with("-bounces")
}

/// Why a sender is told that their mail did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeCause {
    Refused,
    Quarantined,
}

/// Whether a sender is told, and the least time between two such notices
/// to them. Outsiders only when `answer_refused` (a reply confirms that the
/// address is watched), at most weekly; staff always, at most hourly.
pub fn notice_interval(cause: NoticeCause, outsider: bool, answer_refused: bool) -> Option<SignedDuration> {
    match cause {
        NoticeCause::Refused if outsider && !answer_refused => None,
        NoticeCause::Refused if outsider => Some(SignedDuration::from_hours(7 * 24)),
        NoticeCause::Refused | NoticeCause::Quarantined => Some(SignedDuration::from_hours(1)),
    }
}

/// The acknowledgement goes to the declarer, with the other staff the
/// declaration was addressed to in Cc; never to outsiders, to ourselves or
/// to a list (configured, or `seen_lists`: seen carrying list mail), which
/// would tell the whole company.
pub fn ack_recipients(
    inbound: &Inbound,
    address: &IncidentAddress,
    access: &Access,
    seen_lists: &[String],
) -> Option<(String, Vec<String>)> {
    let declarer = inbound.author()?.address.clone();
    let is_list =
        |candidate: &str| access.lists.iter().chain(seen_lists).any(|list| list.eq_ignore_ascii_case(candidate));
    let mut cc: Vec<String> = Vec::new();
    for mailbox in inbound.recipients() {
        let candidate = &mailbox.address;
        if candidate != &declarer
            && !address.is_ours(candidate)
            && access.is_staff(candidate)
            && !is_list(candidate)
            && !cc.contains(candidate)
        {
            cc.push(candidate.clone());
        }
    }
    Some((declarer, cc))
}

#[cfg(test)]
mod tests;

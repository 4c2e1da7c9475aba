//! Incidents and their timeline: the state sitrep keeps, as plain data.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};

/// The `n` of `INC-n`: issued from 1 upwards, per store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IncidentNumber(pub u64);

impl fmt::Display for IncidentNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "INC-{}", self.0)
    }
}

impl FromStr for IncidentNumber {
    type Err = String;

    /// Accepts `INC-7`, `inc-7` and `7`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let digits = match trimmed.get(..4) {
            Some(prefix) if prefix.eq_ignore_ascii_case("inc-") => &trimmed[4..],
            _ => trimmed,
        };
        match digits.parse::<u64>() {
            Ok(number) if number > 0 => Ok(IncidentNumber(number)),
            _ => Err(format!("`{text}` is not an incident id (expected INC-n)")),
        }
    }
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str().eq_ignore_ascii_case(text.trim()))
                    .ok_or_else(|| format!("unknown {} `{text}`", stringify!($name).to_lowercase()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

named_enum!(Status {
    Open = "open",
    Investigating = "investigating",
    Contained = "contained",
    Monitoring = "monitoring",
    Closed = "closed",
});

named_enum!(Severity {
    Critical = "critical",
    High = "high",
    Medium = "medium",
    Low = "low",
});

named_enum!(
    /// NIST SP 800-61r2 phases.
    Phase {
        Detection = "detection",
        Containment = "containment",
        Eradication = "eradication",
        Recovery = "recovery",
        PostIncident = "post-incident",
    }
);

named_enum!(
    /// How far an entry's author is trusted: `staff` is an authenticated
    /// allowed sender, `partner` an outside firm whose updates count,
    /// `external` anyone else, `unverified` staff mail that failed the
    /// sender checks, `possibly-compromised-channel` mail from a company
    /// address about an incident moved out of band, by someone who has an
    /// out-of-band address: whoever holds that mailbox may be the attacker.
    Trust {
        Staff = "staff",
        Partner = "partner",
        External = "external",
        Unverified = "unverified",
        CompromisedChannel = "possibly-compromised-channel",
    }
);

named_enum!(
    /// Where an incident's mail goes: the company's own addresses, or only
    /// the out-of-band addresses through the fallback relay.
    Channel {
        Normal = "normal",
        OutOfBand = "out-of-band",
    }
);

named_enum!(
    /// The relay a queued mail leaves through: `[transport]`, or
    /// `[fallback.transport]` for an out-of-band incident's mail and for
    /// mail the primary relay could not send for too long.
    Route {
        Primary = "primary",
        Fallback = "fallback",
    }
);

named_enum!(EntryKind {
    Declared = "declared",
    Update = "update",
    Command = "command",
    Note = "note",
});

named_enum!(
    /// Roles beside the lead; `unassign lead` clears the lead itself.
    Role {
        Scribe = "scribe",
        InternalComms = "internal-comms",
        ExternalComms = "external-comms",
        Legal = "legal",
        Technical = "technical",
    }
);

named_enum!(
    /// The parallel work streams of a response.
    Stream {
        Technical = "technical",
        InternalComms = "internal-comms",
        ExternalComms = "external-comms",
        Legal = "legal",
    }
);

named_enum!(
    /// What kind of incident it is, which picks its first-hour playbook.
    IncidentType {
        Ransomware = "ransomware",
        Phishing = "phishing",
        AccountCompromise = "account-compromise",
        Bec = "bec",
        LostDevice = "lost-device",
        DataLeak = "data-leak",
        WebsiteDown = "website-down",
        Other = "other",
    }
);

named_enum!(
    /// Who a playbook step falls to: the lead or one of the roles.
    Duty {
        Lead = "lead",
        Scribe = "scribe",
        InternalComms = "internal-comms",
        ExternalComms = "external-comms",
        Legal = "legal",
        Technical = "technical",
    }
);

impl Duty {
    pub fn of(role: Role) -> Duty {
        match role {
            Role::Scribe => Duty::Scribe,
            Role::InternalComms => Duty::InternalComms,
            Role::ExternalComms => Duty::ExternalComms,
            Role::Legal => Duty::Legal,
            Role::Technical => Duty::Technical,
        }
    }

    /// Who holds this duty on `incident` now.
    pub fn holder(self, incident: &Incident) -> Option<&str> {
        let role = match self {
            Duty::Lead => return incident.lead.as_deref(),
            Duty::Scribe => Role::Scribe,
            Duty::InternalComms => Role::InternalComms,
            Duty::ExternalComms => Role::ExternalComms,
            Duty::Legal => Role::Legal,
            Duty::Technical => Role::Technical,
        };
        incident.roles.get(&role).map(String::as_str)
    }
}

named_enum!(TaskState {
    Open = "open",
    Done = "done",
    Dropped = "dropped",
});

named_enum!(
    /// Why a mail was sent; the `kind` of an outbox row. `relay-down` tells
    /// the admins that the primary relay has failed for too long.
    MailKind {
        Ack = "ack",
        Transcript = "transcript",
        Notice = "notice",
        Digest = "digest",
        Tactical = "tactical",
        Reminder = "reminder",
        Questionnaire = "questionnaire",
        Report = "report",
        Draft = "draft",
        RelayDown = "relay-down",
    }
);

named_enum!(
    /// A notification clock: running, met (the body was notified) or
    /// dropped (counsel found the regime does not apply).
    DeadlineState {
        Running = "running",
        Met = "met",
        Dropped = "dropped",
    }
);

named_enum!(
    /// Where an outbox row is: waiting (perhaps for a retry), being sent (a
    /// sender claimed it), delivered, refused for good, sent to the person's
    /// out-of-band address through the fallback relay instead, or withheld:
    /// about an incident out of band, to someone with no out-of-band address.
    DeliveryStatus {
        Queued = "queued",
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
        Rerouted = "rerouted",
        Withheld = "withheld",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub number: IncidentNumber,
    pub title: String,
    /// Unknown until someone says, or sitrep suggests one at declaration.
    pub kind: Option<IncidentType>,
    pub status: Status,
    /// Unknown until someone assesses it.
    pub severity: Option<Severity>,
    pub phase: Phase,
    pub lead: Option<String>,
    pub scope: Option<String>,
    pub impact: Option<String>,
    pub declared_by: String,
    pub declared_at: Timestamp,
    pub milestones: Milestones,
    pub closed_at: Option<Timestamp>,
    /// The reason given with `close: <reason>`.
    pub resolution: Option<String>,
    /// The phase when it was closed, to return to on `reopen`.
    pub phase_at_close: Option<Phase>,
    /// A Message-ID that every mail of the incident references, so that all
    /// clients group the thread even when a reply lost its parent.
    pub thread_root: String,
    pub roles: BTreeMap<Role, String>,
    pub streams: BTreeMap<Stream, StreamState>,
    pub tasks: Vec<Task>,
    /// Extra people who receive this incident's digests.
    pub notify: Vec<String>,
    /// `None`: digests follow the severity.
    pub cadence: Option<CadenceOverride>,
    pub deadlines: Vec<Deadline>,
    /// Pre-drafted communications, `D1` upwards.
    pub drafts: Vec<Draft>,
    /// When the scope and the lead were last set, and by whom: digests ask
    /// the responders whether they still hold.
    pub scope_set: Option<Stamp>,
    pub lead_set: Option<Stamp>,
    pub channel: Channel,
}

/// Who did something, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub at: Timestamp,
    pub by: String,
}

/// `cadence 45m` or `cadence off` for one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CadenceOverride {
    Off,
    Every(SignedDuration),
}

named_enum!(
    /// The communications sitrep drafts from an incident's facts.
    DraftKind {
        StaffNotice = "staff-notice",
        CustomerNotice = "customer-notice",
        Regulator = "regulator",
        Insurer = "insurer",
        Bank = "bank",
        Police = "police",
        Board = "board",
    }
);

named_enum!(
    /// Best case: what is known and no worse. Worst case: what cannot yet
    /// be ruled out, said as if it happened.
    Framing {
        Best = "best",
        Worst = "worst",
    }
);

named_enum!(DraftStatus {
    Waiting = "waiting",
    Approved = "approved",
    Rejected = "rejected",
});

/// A pre-drafted communication and its versions. sitrep never sends it to
/// anyone outside: people send it, once approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// `D1` upwards, per incident.
    pub number: u32,
    pub kind: DraftKind,
    pub framing: Framing,
    /// Oldest first; the first is sitrep's, later ones people's edits.
    pub versions: Vec<DraftVersion>,
}

impl Draft {
    /// The latest version's decision, or waiting: an edit needs deciding
    /// again, and earlier decisions stay with their versions.
    pub fn status(&self) -> DraftStatus {
        self.versions
            .last()
            .and_then(|version| version.decision.as_ref())
            .map_or(DraftStatus::Waiting, |decision| decision.status)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftVersion {
    pub version: u32,
    pub body: String,
    pub by: String,
    pub at: Timestamp,
    /// Who approved or rejected this version, when, and why not.
    pub decision: Option<Decision>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Approved or rejected.
    pub status: DraftStatus,
    pub by: String,
    pub at: Timestamp,
    pub reason: Option<String>,
}

/// One stage of a notification regime's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The regime's configured name.
    pub regime: String,
    /// From 0, in the regime's order.
    pub stage: u32,
    pub what: String,
    pub started_at: Timestamp,
    /// `None`: without undue delay, with no clock.
    pub due: Option<Timestamp>,
    pub state: DeadlineState,
    /// When it was met or dropped.
    pub closed_at: Option<Timestamp>,
}

/// When things happened, as far as anyone has said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Milestones {
    /// When the organisation became aware: breach-notification clocks start here.
    pub aware: Option<Timestamp>,
    pub started: Option<Timestamp>,
    pub detected: Option<Timestamp>,
    pub contained: Option<Timestamp>,
    pub eradicated: Option<Timestamp>,
    pub recovered: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamState {
    pub lead: Option<String>,
    pub status: Option<String>,
    pub updated_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Numbered from 1 per incident.
    pub number: u32,
    pub text: String,
    pub owner: Option<String>,
    pub due: Option<Timestamp>,
    pub state: TaskState,
    pub created_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    /// Set for a step of a playbook: which one, and whose duty it is, so
    /// its owner follows the role and a change of type can drop it.
    pub playbook: Option<(IncidentType, Duty)>,
}

impl Incident {
    /// A new incident as declared: open, in detection, with nothing known yet.
    pub fn declare(
        number: IncidentNumber,
        title: String,
        declared_by: String,
        declared_at: Timestamp,
        thread_root: String,
    ) -> Incident {
        Incident {
            number,
            title,
            kind: None,
            status: Status::Open,
            severity: None,
            phase: Phase::Detection,
            lead: None,
            scope: None,
            impact: None,
            declared_by,
            declared_at,
            milestones: Milestones::default(),
            closed_at: None,
            resolution: None,
            phase_at_close: None,
            thread_root,
            roles: BTreeMap::new(),
            streams: BTreeMap::new(),
            tasks: Vec::new(),
            notify: Vec::new(),
            cadence: None,
            deadlines: Vec::new(),
            drafts: Vec::new(),
            scope_set: None,
            lead_set: None,
            channel: Channel::Normal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_ids_parse_in_the_forms_people_type() {
        assert_eq!("INC-7".parse(), Ok(IncidentNumber(7)));
        assert_eq!("inc-7".parse(), Ok(IncidentNumber(7)));
        assert_eq!("7".parse(), Ok(IncidentNumber(7)));
        assert!("INC-0".parse::<IncidentNumber>().is_err());
        assert!("INC-x".parse::<IncidentNumber>().is_err());
        assert_eq!(IncidentNumber(7).to_string(), "INC-7");
    }

    #[test]
    fn named_values_round_trip() {
        for phase in Phase::ALL {
            assert_eq!(phase.as_str().parse::<Phase>(), Ok(*phase));
        }
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
    }
}

//! What a command did, or why it was not done, as data. The words live in
//! `templates/outcome.txt.tera`, so the sender's transcript, the executives'
//! digest and the report say the same thing the same way, and an
//! organisation can reword (or translate) them without touching the core.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::command::Milestone;
use super::incident::{
    Channel, DraftKind, DraftStatus, Duty, Framing, IncidentType, Phase, Role, Severity, Status, Stream, TaskState,
};

/// A command that changed something, or asked for something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Done {
    /// `shift` is how it moved from the rating before; none for the first.
    SeveritySet {
        severity: Severity,
        #[serde(default)]
        shift: Option<Shift>,
    },
    Retitled {
        title: String,
    },
    /// `suggested`: sitrep chose it from the declaration's words. `steps`
    /// are the playbook's first-hour tasks; `dropped` the open tasks of the
    /// type before it.
    TypeSet {
        incident_type: IncidentType,
        title: String,
        suggested: bool,
        was: Option<IncidentType>,
        steps: Vec<StepTask>,
        dropped: Vec<u32>,
        /// Regimes this type often triggers and that are configured: to
        /// consider, never started.
        regimes: Vec<String>,
        questions: Vec<String>,
    },
    PhaseSet {
        phase: Phase,
    },
    /// `contained`, `eradicated`, `recovered`: a milestone that moves the phase.
    Milestone {
        milestone: Milestone,
        at: Timestamp,
        phase: Phase,
    },
    ScopeSet {
        scope: String,
    },
    ImpactSet {
        impact: String,
    },
    Detected {
        at: Timestamp,
    },
    Started {
        at: Timestamp,
    },
    /// `tasks`: playbook steps that were the lead's duty and nobody's yet.
    LeadSet {
        lead: String,
        #[serde(default)]
        tasks: Vec<u32>,
    },
    LeadRemoved,
    RoleSet {
        role: Role,
        holder: String,
        #[serde(default)]
        tasks: Vec<u32>,
    },
    RoleCleared {
        role: Role,
        holder: String,
    },
    NotifyAdded {
        address: String,
    },
    NotifyRemoved {
        address: String,
    },
    Closed {
        reason: Option<String>,
    },
    Reopened {
        phase: Phase,
    },
    StatusSet {
        status: Status,
    },
    StreamStatusSet {
        stream: Stream,
        status: String,
    },
    StreamLeadSet {
        stream: Stream,
        lead: String,
    },
    TaskAdded {
        number: u32,
        text: String,
        owner: Option<String>,
        due: Option<Timestamp>,
    },
    TaskClosed {
        number: u32,
        state: TaskState,
        #[serde(default)]
        text: String,
    },
    Quiet,
    Noted,
    HelpFollows,
    CardFollows,
    /// `every` is set for a fixed cadence; `off` stops scheduled digests;
    /// neither means the severity's cadence again.
    CadenceSet {
        every: Option<SignedDuration>,
        off: bool,
    },
    ReportNow,
    DigestNow,
    ClockStarted {
        title: String,
        basis: ClockBasis,
        start: Timestamp,
        stages: Vec<StageDue>,
        ask_aware: bool,
    },
    ClockStopped {
        title: String,
    },
    /// `moved` are the stages whose deadline moved with the new start.
    Aware {
        at: Timestamp,
        moved: Vec<StageDue>,
    },
    /// A draft made for the sender; its text is rendered and stored as
    /// version 1 with the answer.
    Drafted {
        number: u32,
        draft: DraftKind,
        framing: Framing,
    },
    /// A reply to a draft's mail: its text is the draft's next version.
    DraftEdited {
        number: u32,
        version: u32,
    },
    /// `unconfirmed`: `[TO CONFIRM` markers still in the approved text.
    DraftApproved {
        number: u32,
        version: u32,
        #[serde(default)]
        unconfirmed: usize,
    },
    /// `show D2`: the latest version comes to the one who asked.
    DraftShown {
        number: u32,
        version: u32,
    },
    DraftRejected {
        number: u32,
        version: u32,
        reason: Option<String>,
    },
    AuthorityNotified {
        title: String,
        what: String,
        at: Timestamp,
        margin: Option<Margin>,
    },
    /// `channel out-of-band` or `channel normal`.
    ChannelSwitched {
        channel: Channel,
    },
}

impl Done {
    /// Whether a reader of a digest learns anything from it; the rest only
    /// shapes what the sender gets back.
    pub fn tells_readers(&self) -> bool {
        !matches!(
            self,
            Done::Quiet | Done::Noted | Done::HelpFollows | Done::CardFollows | Done::ReportNow | Done::DigestNow
        )
    }
}

/// A playbook step as the task it became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTask {
    pub number: u32,
    pub what: String,
    pub duty: Duty,
    pub owner: Option<String>,
    pub due: Timestamp,
    pub why: String,
}

/// How a rating moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shift {
    Raised,
    Lowered,
    Unchanged,
}

impl Shift {
    /// From `was` to `now`; critical is the highest.
    pub fn between(was: Severity, now: Severity) -> Shift {
        match now.cmp(&was) {
            std::cmp::Ordering::Less => Shift::Raised,
            std::cmp::Ordering::Greater => Shift::Lowered,
            std::cmp::Ordering::Equal => Shift::Unchanged,
        }
    }
}

/// What a notification clock counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockBasis {
    Now,
    Awareness,
    Detection,
    Declaration,
}

/// One stage of a notification duty and when it falls due; no `due` means
/// "without undue delay".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageDue {
    pub what: String,
    pub due: Option<Timestamp>,
    /// The allowance as configured ("72 h", "3 business days").
    pub within: Option<String>,
}

/// How far before or after the deadline an authority was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Margin {
    pub late: bool,
    pub by: SignedDuration,
}

/// Why a command was not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// The line did not read as a command; the parser says why.
    Unreadable {
        problem: String,
    },
    AlreadyType {
        incident_type: IncidentType,
    },
    NoSuchDraft {
        number: u32,
    },
    DraftDecided {
        number: u32,
        status: DraftStatus,
    },
    NotSteering {
        act: Act,
    },
    NotStaff {
        address: String,
    },
    UnknownPerson {
        name: String,
    },
    AmbiguousPerson {
        name: String,
        candidates: Vec<String>,
    },
    NobodyInRole {
        role: Role,
    },
    Outsider {
        address: String,
    },
    AlreadyNotified {
        address: String,
    },
    NotNotified {
        address: String,
    },
    AlreadyClosed,
    NotClosed,
    ReportBeforeClose,
    NoSuchTask {
        number: u32,
    },
    TaskAlreadyClosed {
        number: u32,
        state: TaskState,
    },
    CadenceOutOfRange,
    UnknownRegime {
        name: String,
        known: Vec<String>,
    },
    NoClockToStop {
        title: String,
    },
    ClockAlreadyRunning {
        title: String,
    },
    NoClockToMeet {
        title: String,
        regime: String,
    },
    InTheFuture,
    /// `channel out-of-band` with no `[fallback]` mailbox and relay.
    NoFallback,
    AlreadyOnChannel {
        channel: Channel,
    },
    Unplaceable {
        problem: String,
    },
}

/// What only the incident's lead or a configured lead or admin may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    ReplaceLead,
    RemoveLead,
    ChangeNotify,
    Close,
    Reopen,
    ChangeCadence,
    SendReport,
    /// Moving an incident out of band: also its declarer may.
    MoveOutOfBand,
    /// Moving it back to the company's own mail.
    MoveBack,
    /// Approving or rejecting a draft: also the executives may.
    DecideDraft,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_keep_their_meaning_through_storage() {
        let done = Done::TaskAdded {
            number: 3,
            text: "call the insurer".into(),
            owner: Some("alice@company.test".into()),
            due: Some("2026-12-02T09:00:00Z".parse().unwrap()),
        };
        let stored = serde_json::to_string(&done).unwrap();
        assert!(stored.contains(r#""kind":"task_added""#), "{stored}");
        assert_eq!(serde_json::from_str::<Done>(&stored).unwrap(), done);
        let cadence = Done::CadenceSet { every: Some(SignedDuration::from_mins(45)), off: false };
        assert_eq!(serde_json::from_str::<Done>(&serde_json::to_string(&cadence).unwrap()).unwrap(), cadence);
    }

    #[test]
    fn critical_is_the_top_of_the_scale() {
        assert_eq!(Shift::between(Severity::High, Severity::Critical), Shift::Raised);
        assert_eq!(Shift::between(Severity::High, Severity::Low), Shift::Lowered);
        assert_eq!(Shift::between(Severity::Medium, Severity::Medium), Shift::Unchanged);
    }

    #[test]
    fn an_outcome_stored_before_a_field_was_added_still_reads() {
        let stored = r#"{"kind":"task_closed","number":2,"state":"done"}"#;
        assert_eq!(
            serde_json::from_str::<Done>(stored).unwrap(),
            Done::TaskClosed { number: 2, state: TaskState::Done, text: String::new() }
        );
    }

    #[test]
    fn bookkeeping_is_not_news_for_readers() {
        assert!(Done::SeveritySet { severity: Severity::High, shift: None }.tells_readers());
        assert!(!Done::DigestNow.tells_readers());
        assert!(!Done::Quiet.tells_readers());
    }
}

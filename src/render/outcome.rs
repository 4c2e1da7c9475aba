//! Outcomes in words: what each command did, or why not, worded by the
//! `outcome.txt` template in the sender's voice or the digest's, and the
//! filters that template uses.

use jiff::tz::TimeZone;
use serde::Serialize;
use tera::{Kwargs, State, Tera, TeraResult};

use super::{RenderError, Renderer, local_time};
use crate::core::deadline::describe_duration;
use crate::core::outcome::{Done, Refusal};
use crate::core::transition::Applied;

/// One command line and what became of it.
#[derive(Debug, Serialize)]
pub struct CommandView {
    pub written: String,
    pub outcome: String,
}

/// What `outcome.txt` words: a command's outcome in one voice.
#[derive(Debug, Serialize)]
struct OutcomeView<'a> {
    /// "transcript" answers the sender; "digest" tells the readers.
    voice: &'static str,
    done: Option<&'a Done>,
    refused: Option<&'a Refusal>,
    /// The earlier line of the same mail that this one overrides.
    replaces: Option<&'a str>,
}

impl Renderer {
    /// What each command line of a mail did, in words, for the sender.
    pub fn command_views(&self, applied: &[Applied]) -> Result<Vec<CommandView>, RenderError> {
        applied
            .iter()
            .map(|applied| {
                let outcome = self.words(&OutcomeView {
                    voice: "transcript",
                    done: applied.outcome.as_ref().ok(),
                    refused: applied.outcome.as_ref().err(),
                    replaces: applied.replaces.as_deref(),
                })?;
                Ok(CommandView { written: applied.written.clone(), outcome })
            })
            .collect()
    }

    /// What a command did, as a line of a digest.
    pub fn digest_line(&self, done: &Done) -> Result<String, RenderError> {
        self.words(&OutcomeView { voice: "digest", done: Some(done), refused: None, replaces: None })
    }

    fn words(&self, view: &OutcomeView<'_>) -> Result<String, RenderError> {
        Ok(self.render("outcome.txt", view)?.trim().to_string())
    }
}

/// `local` (a time as people read it here), `duration` ("2 h 30 min") and
/// `sentence` (the first letter capitalised, the rest left alone).
pub(super) fn register_filters(tera: &mut Tera, time_zone: &TimeZone) {
    let zone = time_zone.clone();
    tera.register_filter("local", move |value: &str, _: Kwargs, _: &State| -> TeraResult<String> {
        Ok(local_time(filter_input(value, "local")?, &zone))
    });
    tera.register_filter("duration", |value: &str, _: Kwargs, _: &State| -> TeraResult<String> {
        Ok(describe_duration(filter_input(value, "duration")?))
    });
    tera.register_filter("sentence", |value: &str, _: Kwargs, _: &State| -> String {
        let mut chars = value.chars();
        chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
    });
}

fn filter_input<T: std::str::FromStr>(value: &str, filter: &str) -> TeraResult<T> {
    value.parse().map_err(|_| tera::Error::message(format!("`{filter}` cannot read `{value}`")))
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;
    use crate::core::incident::{Role, Severity, Status, TaskState};
    use crate::core::outcome::{Act, Margin, Shift, StageDue};

    fn renderer() -> Renderer {
        Renderer::new(None, &TimeZone::get("Europe/Berlin").unwrap()).unwrap()
    }

    fn transcript(outcome: Result<Done, Refusal>, replaces: Option<&str>) -> String {
        let applied =
            Applied { written: "sample".into(), outcome, replaces: replaces.map(str::to_string), entry: None };
        renderer().command_views(&[applied]).unwrap().remove(0).outcome
    }

    #[test]
    fn the_sender_reads_what_each_command_did_in_the_local_zone() {
        let at = "2026-11-27T14:30:00Z".parse().unwrap();
        let said = |done| transcript(Ok(done), None);
        assert_eq!(said(Done::Closed { reason: Some("false alarm".into()) }), "Closed: false alarm.");
        assert_eq!(
            said(Done::RoleSet { role: Role::Technical, holder: "a@x.test".into(), tasks: Vec::new() }),
            "a@x.test is now the technical lead."
        );
        assert_eq!(
            said(Done::TaskAdded {
                number: 2,
                text: "call the insurer".into(),
                owner: Some("a@x.test".into()),
                due: Some(at)
            }),
            "Task 2 added: call the insurer, for a@x.test, due 2026-11-27 15:30 CET."
        );
        assert_eq!(
            said(Done::CadenceSet { every: Some(SignedDuration::from_mins(90)), off: false }),
            "Digests now every 1 h 30 min."
        );
        let stage = StageDue { what: "notify the authority".into(), due: Some(at), within: Some("72 h".into()) };
        assert_eq!(
            said(Done::ClockStarted {
                title: "GDPR".into(),
                basis: crate::core::outcome::ClockBasis::Declaration,
                start: at,
                stages: vec![stage.clone(), StageDue { due: None, within: None, ..stage }],
                ask_aware: true,
            }),
            "GDPR clock started from the declaration (2026-11-27 15:30 CET). Notify the authority: by \
             2026-11-27 15:30 CET (72 h). Notify the authority: without undue delay. If you knew earlier, say \
             `aware <when>` and the clock moves."
        );
        assert_eq!(
            said(Done::AuthorityNotified {
                title: "GDPR".into(),
                what: "notify the authority".into(),
                at,
                margin: Some(Margin { late: false, by: SignedDuration::from_hours(41) }),
            }),
            "GDPR: notify the authority done at 2026-11-27 15:30 CET, 1 d 17 h before the deadline."
        );
        assert_eq!(
            transcript(Ok(Done::SeveritySet { severity: Severity::Medium, shift: None }), Some("sev 1")),
            "Severity is now medium. This replaces `sev 1` earlier in this mail: the last one wins."
        );
    }

    #[test]
    fn a_refusal_says_why_once_with_one_full_stop() {
        assert_eq!(
            transcript(Err(Refusal::NotSteering { act: Act::ReplaceLead }), None),
            "Not done: only the incident lead or a configured lead or admin may replace the lead."
        );
        assert_eq!(
            transcript(Err(Refusal::Unreadable { problem: "unknown command; did you mean `sev`?".into() }), None),
            "Not done: unknown command; did you mean `sev`?"
        );
        assert_eq!(
            transcript(
                Err(Refusal::UnknownRegime { name: "hipaa".into(), known: vec!["gdpr".into(), "nis2".into()] }),
                None
            ),
            "Not done: no regime `hipaa`; configured: gdpr, nis2."
        );
        assert_eq!(
            transcript(Err(Refusal::TaskAlreadyClosed { number: 1, state: TaskState::Done }), None),
            "Not done: task 1 is already done."
        );
    }

    #[test]
    fn executives_read_changes_not_commands() {
        let line = |done| renderer().digest_line(&done).unwrap();
        assert_eq!(line(Done::SeveritySet { severity: Severity::Critical, shift: None }), "Severity set to critical");
        let raised = Done::SeveritySet { severity: Severity::Critical, shift: Some(Shift::Raised) };
        assert_eq!(line(raised), "Severity raised to critical");
        let lowered = Done::SeveritySet { severity: Severity::Low, shift: Some(Shift::Lowered) };
        assert_eq!(line(lowered), "Severity lowered to low");
        assert_eq!(
            line(Done::LeadSet { lead: "bob@x.test".into(), tasks: Vec::new() }),
            "bob@x.test leads the response"
        );
        assert_eq!(
            line(Done::TaskAdded {
                number: 3,
                text: "call the insurer".into(),
                owner: Some("alice@x.test".into()),
                due: Some("2026-11-28T08:00:00Z".parse().unwrap()),
            }),
            "New task: call the insurer, for alice@x.test, due 2026-11-28 09:00 CET"
        );
        let done = Done::TaskClosed { number: 2, state: TaskState::Done, text: "call the insurer".into() };
        assert_eq!(line(done), "Task 2 done: call the insurer");
        let stored_without_text = Done::TaskClosed { number: 2, state: TaskState::Dropped, text: String::new() };
        assert_eq!(line(stored_without_text), "Task 2 dropped");
        assert_eq!(
            line(Done::RoleCleared { role: Role::InternalComms, holder: "a@x.test".into() }),
            "Nobody handles internal communications for now"
        );
        assert_eq!(line(Done::StatusSet { status: Status::Monitoring }), "Status: monitoring");
        assert_eq!(line(Done::Closed { reason: None }), "Closed");
    }
}

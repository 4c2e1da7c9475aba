use super::*;
use crate::core::deadline::{ClockStart, Stage, Within};
use crate::core::incident::{Deadline, DeadlineState, IncidentNumber, Task};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn minutes(count: i64) -> SignedDuration {
    SignedDuration::from_mins(count)
}

/// Declared at 14:00 UTC with a lead and a scope, so only digests are due.
fn incident() -> Incident {
    let mut incident = Incident::declare(
        IncidentNumber(1),
        "Phishing".into(),
        "alice@company.test".into(),
        at("2026-11-27T14:00:00Z"),
        "root@company.test".into(),
    );
    incident.lead = Some("alice@company.test".into());
    incident.scope = Some("mail".into());
    incident
}

/// The scheduler's loop over a stretch of time: looks every `step` (as a
/// timer would), runs what is due and remembers it. Returns each job with
/// the time it ran.
struct Run {
    slots: Slots,
    activity: Activity,
    regimes: Vec<Regime>,
    policy: Policy,
}

impl Run {
    fn new() -> Run {
        let activity = Activity { last_update_at: Some(at("2026-11-27T14:00:00Z")), ..Activity::default() };
        Run { slots: Slots::new(), activity, regimes: Vec::new(), policy: Policy::default() }
    }

    fn look(&mut self, incident: &Incident, now: Timestamp) -> Vec<Job> {
        let plan = plan(incident, &self.slots, &self.activity, &self.regimes, &self.policy, now);
        for job in &plan.due {
            record(&mut self.slots, job, now, 0);
        }
        let after = super::plan(incident, &self.slots, &self.activity, &self.regimes, &self.policy, now);
        assert!(after.due.is_empty(), "still due after running: {:?}", after.due);
        plan.due
    }

    fn over(&mut self, incident: &Incident, from: &str, to: &str, step: SignedDuration) -> Vec<(Timestamp, Job)> {
        let (mut now, end) = (at(from), at(to));
        let mut ran = Vec::new();
        while now <= end {
            ran.extend(self.look(incident, now).into_iter().map(|job| (now, job)));
            now += step;
        }
        ran
    }
}

fn digest_times(ran: &[(Timestamp, Job)]) -> Vec<String> {
    ran.iter().filter(|(_, job)| *job == Job::Digest).map(|(at, _)| at.strftime("%H:%M").to_string()).collect()
}

#[test]
fn digests_follow_the_severity_cadence() {
    let mut incident = incident();
    incident.severity = Some(Severity::Critical);
    let mut run = Run::new();
    let ran = run.over(&incident, "2026-11-27T14:00:00Z", "2026-11-27T16:00:00Z", minutes(1));
    assert_eq!(digest_times(&ran), ["14:30", "15:00", "15:30", "16:00"]);

    let mut incident = self::incident();
    incident.severity = Some(Severity::Medium);
    let mut run = Run::new();
    let ran = run.over(&incident, "2026-11-27T14:00:00Z", "2026-11-27T23:00:00Z", minutes(5));
    assert_eq!(digest_times(&ran), ["18:00", "22:00"]);
}

#[test]
fn a_severity_change_mid_incident_moves_the_next_digest() {
    let mut incident = incident();
    incident.severity = Some(Severity::Medium);
    let mut run = Run::new();
    assert!(run.over(&incident, "2026-11-27T14:00:00Z", "2026-11-27T14:40:00Z", minutes(1)).is_empty());
    // Raised to critical at 14:40: 30 minutes after the last digest (none
    // yet: the declaration) is already past, so one goes out now.
    incident.severity = Some(Severity::Critical);
    let ran = run.over(&incident, "2026-11-27T14:41:00Z", "2026-11-27T15:30:00Z", minutes(1));
    assert_eq!(digest_times(&ran), ["14:41", "15:11"]);
    // Lowered to low: the next is a day after the last.
    incident.severity = Some(Severity::Low);
    let plan = plan(&incident, &run.slots, &run.activity, &[], &run.policy, at("2026-11-27T15:31:00Z"));
    assert!(plan.upcoming.contains(&("digest".to_string(), at("2026-11-28T15:11:00Z"))), "{plan:?}");
}

#[test]
fn no_burst_after_downtime_one_overdue_digest_then_the_cadence() {
    let mut incident = incident();
    incident.severity = Some(Severity::Critical);
    let mut run = Run::new();
    run.look(&incident, at("2026-11-27T14:30:00Z"));
    // Down from 14:31 to 17:02: five digests were missed.
    let ran = run.look(&incident, at("2026-11-27T17:02:00Z"));
    assert_eq!(ran, [Job::Digest]);
    let ran = run.over(&incident, "2026-11-27T17:03:00Z", "2026-11-27T18:00:00Z", minutes(1));
    assert_eq!(digest_times(&ran), ["17:32"]);
}

#[test]
fn cadence_off_and_overrides_and_digest_now() {
    let mut incident = incident();
    incident.severity = Some(Severity::Critical);
    incident.cadence = Some(CadenceOverride::Off);
    let mut run = Run::new();
    assert!(digest_times(&run.over(&incident, "2026-11-27T14:00:00Z", "2026-11-27T16:00:00Z", minutes(5))).is_empty());
    run.slots.entry("digest".into()).or_default().requested_at = Some(at("2026-11-27T16:01:00Z"));
    assert_eq!(run.look(&incident, at("2026-11-27T16:01:00Z")), [Job::Digest]);
    incident.cadence = Some(CadenceOverride::Every(minutes(45)));
    let ran = run.over(&incident, "2026-11-27T16:02:00Z", "2026-11-27T17:30:00Z", minutes(1));
    assert_eq!(digest_times(&ran), ["16:46"]);
}

#[test]
fn closing_sends_one_final_digest_and_nothing_after() {
    let mut incident = incident();
    incident.severity = Some(Severity::High);
    let mut run = Run::new();
    run.policy.retro.enabled = false;
    incident.status = Status::Closed;
    incident.closed_at = Some(at("2026-11-27T14:20:00Z"));
    let ran = run.over(&incident, "2026-11-27T14:20:00Z", "2026-11-28T14:00:00Z", minutes(10));
    assert_eq!(ran, [(at("2026-11-27T14:20:00Z"), Job::FinalDigest)]);
    assert_eq!(run.slots["digest"].count, 1, "the final digest is numbered with the others");
}

fn reminders(ran: &[(Timestamp, Job)]) -> Vec<(String, String)> {
    ran.iter()
        .filter(|(_, job)| matches!(job, Job::Reminder(_)))
        .map(|(at, job)| (at.strftime("%H:%M").to_string(), job.key()))
        .collect()
}

#[test]
fn no_lead_and_no_scope_reminders_are_capped_and_stop_when_answered() {
    let mut incident = incident();
    incident.lead = None;
    incident.scope = None;
    incident.severity = Some(Severity::Low);
    let mut run = Run::new();
    let ran = run.over(&incident, "2026-11-27T14:00:00Z", "2026-11-27T14:25:00Z", minutes(1));
    assert_eq!(
        reminders(&ran),
        [("14:10".to_string(), "remind-lead".to_string()), ("14:20".to_string(), "remind-lead".to_string())]
    );
    incident.lead = Some("bob@company.test".into());
    let ran = run.over(&incident, "2026-11-27T14:26:00Z", "2026-11-27T17:00:00Z", minutes(1));
    let keys: Vec<(String, String)> = reminders(&ran);
    assert_eq!(
        keys,
        [("14:30", "remind-scope"), ("15:00", "remind-scope"), ("15:30", "remind-scope")]
            .map(|(time, key)| (time.to_string(), key.to_string()))
    );
}

#[test]
fn a_quiet_incident_reminds_once_before_each_digest_and_not_after_an_update() {
    let mut incident = incident();
    incident.severity = Some(Severity::Critical);
    let mut run = Run::new();
    let ran = run.over(&incident, "2026-11-27T14:00:00Z", "2026-11-27T14:30:00Z", minutes(1));
    assert_eq!(reminders(&ran), [("14:20".to_string(), "remind-quiet".to_string())]);
    // Someone posts at 14:45: no reminder before the 15:00 digest.
    run.activity.last_update_at = Some(at("2026-11-27T14:45:00Z"));
    let ran = run.over(&incident, "2026-11-27T14:31:00Z", "2026-11-27T15:00:00Z", minutes(1));
    assert!(reminders(&ran).is_empty(), "{ran:?}");
    assert_eq!(digest_times(&ran), ["15:00"]);
    // Quiet again: the reminder comes back for the 15:30 digest.
    let ran = run.over(&incident, "2026-11-27T15:01:00Z", "2026-11-27T15:30:00Z", minutes(1));
    assert_eq!(reminders(&ran), [("15:20".to_string(), "remind-quiet".to_string())]);
}

#[test]
fn overdue_tasks_are_reminded_once_each() {
    let mut incident = incident();
    incident.severity = Some(Severity::Low);
    let task = |number: u32, due: &str| Task {
        number,
        text: format!("task {number}"),
        owner: None,
        due: Some(at(due)),
        state: TaskState::Open,
        created_at: at("2026-11-27T14:00:00Z"),
        closed_at: None,
        playbook: None,
    };
    incident.tasks = vec![task(1, "2026-11-27T15:00:00Z"), task(2, "2026-11-27T16:00:00Z")];
    let mut run = Run::new();
    let ran = run.over(&incident, "2026-11-27T14:00:00Z", "2026-11-27T15:30:00Z", minutes(1));
    assert_eq!(
        ran.iter().map(|(_, job)| job.clone()).collect::<Vec<_>>(),
        [Job::Reminder(Reminder::TasksOverdue(vec![1]))]
    );
    incident.tasks[1].state = TaskState::Done;
    assert!(run.over(&incident, "2026-11-27T15:31:00Z", "2026-11-27T17:00:00Z", minutes(1)).is_empty());
}

#[test]
fn deadline_reminders_fire_at_each_point_once_and_stop_when_met() {
    let mut incident = incident();
    incident.severity = Some(Severity::Low);
    incident.deadlines.push(Deadline {
        regime: "gdpr".into(),
        stage: 0,
        what: "notify the supervisory authority".into(),
        started_at: at("2026-11-27T14:00:00Z"),
        due: Some(at("2026-11-30T14:00:00Z")),
        state: DeadlineState::Running,
        closed_at: None,
    });
    let mut run = Run::new();
    run.regimes = vec![Regime {
        name: "gdpr".into(),
        title: "GDPR".into(),
        from: ClockStart::Aware,
        stages: vec![Stage { what: "notify".into(), within: Some(Within::Elapsed(SignedDuration::from_hours(72))) }],
        reminders: vec![50, 90],
        note: None,
    }];
    let ran = run.over(&incident, "2026-11-27T14:00:00Z", "2026-11-29T12:00:00Z", minutes(30));
    let deadline_runs: Vec<String> = ran
        .iter()
        .filter(|(_, job)| job.key() == "deadline:gdpr:0")
        .map(|(at, _)| at.strftime("%d %H:%M").to_string())
        .collect();
    assert_eq!(deadline_runs, ["29 02:00"]);
    // Down across the 90 % point and the deadline: one reminder, not two.
    let ran = run.look(&incident, at("2026-11-30T15:00:00Z"));
    assert_eq!(ran.iter().filter(|job| job.key() == "deadline:gdpr:0").count(), 1);
    assert_eq!(run.slots["deadline:gdpr:0"].count, 3);
    incident.deadlines[0].state = DeadlineState::Met;
    let plan = plan(&incident, &run.slots, &run.activity, &run.regimes, &run.policy, at("2026-11-30T16:00:00Z"));
    assert!(!plan.upcoming.iter().any(|(key, _)| key.starts_with("deadline")), "{plan:?}");
}

#[test]
fn the_retrospective_asks_reminds_twice_and_reports_when_the_window_ends() {
    let mut incident = incident();
    incident.status = Status::Closed;
    // Friday 14:20 UTC.
    incident.closed_at = Some(at("2026-11-27T14:20:00Z"));
    let mut run = Run::new();
    // Three are asked (the store counts them once the questionnaire is out); one answers.
    run.activity.asked = 3;
    run.activity.answered = 1;
    assert_eq!(run.look(&incident, at("2026-11-27T14:20:00Z")), [Job::FinalDigest, Job::Questionnaire]);
    let ran = run.over(&incident, "2026-11-27T14:30:00Z", "2026-12-07T00:00:00Z", minutes(10));
    let when: Vec<(String, Job)> =
        ran.into_iter().map(|(at, job)| (at.strftime("%a %d %H:%M").to_string(), job)).collect();
    assert_eq!(
        when,
        [
            ("Tue 01 14:20".to_string(), Job::RetroReminder),
            ("Thu 03 14:20".to_string(), Job::RetroReminder),
            ("Fri 04 14:20".to_string(), Job::Report),
        ]
    );
}

#[test]
fn the_report_goes_out_once_everyone_has_answered_and_again_on_request() {
    let mut incident = incident();
    incident.status = Status::Closed;
    incident.closed_at = Some(at("2026-11-27T14:20:00Z"));
    let mut run = Run::new();
    run.activity.asked = 2;
    run.look(&incident, at("2026-11-27T14:20:00Z"));
    run.activity.answered = 2;
    assert_eq!(run.look(&incident, at("2026-11-27T16:00:00Z")), [Job::Report]);
    assert!(run.over(&incident, "2026-11-27T16:10:00Z", "2026-12-10T00:00:00Z", minutes(30)).is_empty());
    run.slots.entry("report".into()).or_default().requested_at = Some(at("2026-12-10T09:00:00Z"));
    assert_eq!(run.look(&incident, at("2026-12-10T09:00:00Z")), [Job::Report]);
    // Reopened: nothing of the retrospective runs.
    incident.status = Status::Investigating;
    incident.closed_at = None;
    let plan = plan(&incident, &run.slots, &run.activity, &[], &run.policy, at("2026-12-10T10:00:00Z"));
    assert!(!plan.upcoming.iter().any(|(key, _)| key.starts_with("retro") || key == "report"), "{plan:?}");
}

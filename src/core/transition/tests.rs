use super::*;
use crate::core::command;
use crate::core::deadline::{ClockStart, Stage, Within};
use crate::core::incident::{CadenceOverride, DeadlineState, IncidentNumber, Role, Severity, Status, TaskState};
use crate::core::incident::{Duty, IncidentType, Stream};
use crate::core::outcome::ClockBasis;
use crate::core::playbook::{Playbook, Step};

const NOW: &str = "2026-11-27T14:30:00Z";

fn incident() -> Incident {
    Incident::declare(
        IncidentNumber(1),
        "Phishing".into(),
        "alice@company.test".into(),
        "2026-11-27T14:00:00Z".parse().unwrap(),
        "root@company.test".into(),
    )
}

fn access() -> Access {
    Access { staff_domains: vec!["company.test".into()], ..Access::default() }
}

fn regimes() -> Vec<Regime> {
    vec![
        Regime {
            name: "gdpr".into(),
            title: "GDPR".into(),
            from: ClockStart::Aware,
            stages: vec![Stage {
                what: "notify the supervisory authority".into(),
                within: Some(Within::Elapsed(jiff::SignedDuration::from_hours(72))),
            }],
            reminders: vec![50, 90],
            note: None,
        },
        Regime {
            name: "nis2".into(),
            title: "NIS2".into(),
            from: ClockStart::Aware,
            stages: vec![
                Stage {
                    what: "early warning to the CSIRT".into(),
                    within: Some(Within::Elapsed(jiff::SignedDuration::from_hours(24))),
                },
                Stage {
                    what: "incident notification to the CSIRT".into(),
                    within: Some(Within::Elapsed(jiff::SignedDuration::from_hours(72))),
                },
            ],
            reminders: vec![],
            note: None,
        },
        Regime {
            name: "sec".into(),
            title: "SEC 8-K".into(),
            from: ClockStart::Command,
            stages: vec![Stage { what: "file form 8-K".into(), within: Some(Within::BusinessDays(4)) }],
            reminders: vec![],
            note: None,
        },
    ]
}

/// Two small playbooks: phishing's first step is the lead's, BEC's second the
/// legal role's.
fn playbooks() -> Vec<Playbook> {
    let step = |what: &str, duty: Duty, minutes: i64| Step {
        what: what.into(),
        stream: Stream::Technical,
        duty,
        due: jiff::SignedDuration::from_mins(minutes),
        why: "because".into(),
        source: "guide".into(),
    };
    let playbook = |kind: IncidentType, steps: Vec<Step>| Playbook {
        kind,
        title: kind.as_str().into(),
        signs: Vec::new(),
        questions: vec!["Who clicked?".into()],
        regimes: vec!["gdpr".into(), "hipaa".into()],
        drafts: Vec::new(),
        steps,
    };
    vec![
        playbook(
            IncidentType::Phishing,
            vec![step("Block the sender", Duty::Lead, 15), step("Reset the password", Duty::Technical, 30)],
        ),
        playbook(
            IncidentType::Bec,
            vec![step("Call the bank", Duty::Lead, 10), step("Tell the insurer", Duty::Legal, 60)],
        ),
    ]
}

/// Applies the body's commands as `actor` (privileged when `admin`).
fn run(incident: &mut Incident, body: &str, actor: &str, admin: bool) -> Effects {
    let people = BTreeMap::from([("carol".to_string(), "carol@company.test".to_string())]);
    let time_zone = TimeZone::get("Europe/Berlin").unwrap();
    let settings = Settings {
        time_zone: &time_zone,
        people: &people,
        access: &access(),
        allow_external_notify: false,
        regimes: &regimes(),
        playbooks: &playbooks(),
        executives: &["ceo@company.test".to_string()],
        suggest_type: false,
        out_of_band: true,
    };
    let parsed = command::parse("Re: [INC-1] Phishing", body);
    apply(
        incident,
        &parsed.lines,
        &Actor { address: actor, privileged: admin, steering_allowed: true },
        NOW.parse().unwrap(),
        &settings,
    )
}

fn outcomes(effects: &Effects) -> Vec<Result> {
    effects.applied.iter().map(|applied| applied.outcome.clone()).collect()
}

#[test]
fn the_last_of_two_conflicting_commands_wins_and_says_so() {
    let mut incident = incident();
    let effects = run(&mut incident, "sev 1\nsev 3", "bob@company.test", false);
    assert_eq!(incident.severity, Some(Severity::Medium));
    let lowered = Some(crate::core::outcome::Shift::Lowered);
    assert_eq!(effects.applied[1].outcome, Ok(Done::SeveritySet { severity: Severity::Medium, shift: lowered }));
    assert_eq!(effects.applied[1].replaces.as_deref(), Some("sev 1"));
    assert_eq!(effects.applied[0].replaces, None);
}

#[test]
fn anyone_on_staff_takes_an_empty_lead_but_only_steerers_replace_it() {
    let mut incident = incident();
    run(&mut incident, "lead me", "bob@company.test", false);
    assert_eq!(incident.lead.as_deref(), Some("bob@company.test"));
    let refused = run(&mut incident, "lead me", "dave@company.test", false);
    assert_eq!(outcomes(&refused)[0], Err(Refusal::NotSteering { act: Act::ReplaceLead }));
    assert_eq!(incident.lead.as_deref(), Some("bob@company.test"));
    run(&mut incident, "lead carol", "bob@company.test", false);
    assert_eq!(incident.lead.as_deref(), Some("carol@company.test"));
    run(&mut incident, "lead dave@company.test", "admin@company.test", true);
    assert_eq!(incident.lead.as_deref(), Some("dave@company.test"));
}

#[test]
fn closing_and_reopening_need_the_lead_or_an_admin() {
    let mut incident = incident();
    let refused = run(&mut incident, "close", "bob@company.test", false);
    assert_eq!(outcomes(&refused)[0], Err(Refusal::NotSteering { act: Act::Close }));
    assert_eq!(incident.status, Status::Open);
    run(&mut incident, "lead me", "bob@company.test", false);
    let closed = run(&mut incident, "close: false alarm", "bob@company.test", false);
    assert_eq!(outcomes(&closed)[0], Ok(Done::Closed { reason: Some("false alarm".into()) }));
    assert_eq!((incident.status, incident.phase), (Status::Closed, Phase::PostIncident));
    assert_eq!(incident.closed_at, Some(NOW.parse().unwrap()));
    assert!(run(&mut incident, "reopen", "dave@company.test", false).applied[0].outcome.is_err());
    run(&mut incident, "reopen", "admin@company.test", true);
    assert_eq!((incident.status, incident.closed_at), (Status::Investigating, None));
}

#[test]
fn milestones_record_the_time_and_move_the_phase() {
    let mut incident = incident();
    run(&mut incident, "contained", "bob@company.test", false);
    assert_eq!(incident.milestones.contained, Some(NOW.parse().unwrap()));
    assert_eq!((incident.phase, incident.status), (Phase::Eradication, Status::Contained));
    run(&mut incident, "recovered", "bob@company.test", false);
    assert_eq!((incident.phase, incident.status), (Phase::PostIncident, Status::Monitoring));
}

#[test]
fn times_are_read_in_the_configured_zone() {
    let mut incident = incident();
    // 14:30 UTC is 15:30 in Berlin: 15:05 today has passed, 16:00 has not.
    run(&mut incident, "detected 15:05\nstarted 16:00", "bob@company.test", false);
    assert_eq!(incident.milestones.detected, Some("2026-11-27T14:05:00Z".parse().unwrap()));
    assert_eq!(incident.milestones.started, Some("2026-11-26T15:00:00Z".parse().unwrap()));
    run(&mut incident, "detected 2h ago", "bob@company.test", false);
    assert_eq!(incident.milestones.detected, Some("2026-11-27T12:30:00Z".parse().unwrap()));
    let future = run(&mut incident, "started 2026-12-01T00:00:00Z", "bob@company.test", false);
    assert_eq!(outcomes(&future)[0], Err(Refusal::InTheFuture));
}

#[test]
fn tasks_are_numbered_owned_and_closed() {
    let mut incident = incident();
    run(&mut incident, "task call the insurer @carol due 09:00\ntask rotate keys", "bob@company.test", false);
    assert_eq!(incident.tasks.len(), 2);
    let first = &incident.tasks[0];
    assert_eq!((first.number, first.owner.as_deref()), (1, Some("carol@company.test")));
    // 09:00 Berlin has passed today, so the deadline is tomorrow's.
    assert_eq!(first.due, Some("2026-11-28T08:00:00Z".parse().unwrap()));
    // It is Friday 14:30 UTC, 15:30 in Berlin.
    run(
        &mut incident,
        "task a due 2h\ntask b due tomorrow 09:00\ntask c due friday\ntask d due fri 12:00",
        "bob@company.test",
        false,
    );
    let dues: Vec<String> = incident.tasks[2..].iter().map(|task| task.due.unwrap().to_string()).collect();
    assert_eq!(dues, ["2026-11-27T16:30:00Z", "2026-11-28T08:00:00Z", "2026-11-27T16:00:00Z", "2026-12-04T11:00:00Z"]);
    run(&mut incident, "done 1\ndrop 2", "bob@company.test", false);
    assert_eq!((incident.tasks[0].state, incident.tasks[1].state), (TaskState::Done, TaskState::Dropped));
    let again = run(&mut incident, "done 1\ndone 7", "bob@company.test", false);
    assert_eq!(
        outcomes(&again),
        [Err(Refusal::TaskAlreadyClosed { number: 1, state: TaskState::Done }), Err(Refusal::NoSuchTask { number: 7 })]
    );
}

#[test]
fn people_must_be_known_staff() {
    let mut incident = incident();
    let effects = run(
        &mut incident,
        "role scribe zed\nrole legal vendor@outside.test\nrole scribe carol",
        "bob@company.test",
        false,
    );
    let results = outcomes(&effects);
    assert_eq!(results[0], Err(Refusal::UnknownPerson { name: "zed".into() }));
    assert_eq!(results[1], Err(Refusal::NotStaff { address: "vendor@outside.test".into() }));
    assert_eq!(incident.roles.get(&Role::Scribe).map(String::as_str), Some("carol@company.test"));
}

#[test]
fn a_first_name_finds_the_one_person_on_the_incident_it_names() {
    let mut incident = incident();
    incident.declared_by = "alice.morgan@company.test".into();
    incident.roles.insert(Role::Legal, "alex.kim@company.test".into());
    incident.roles.insert(Role::InternalComms, "alex.lee@company.test".into());
    let effects =
        run(&mut incident, "task call the insurer @alice\ntask brief the press @alex", "bob@company.test", false);
    assert_eq!(incident.tasks[0].owner.as_deref(), Some("alice.morgan@company.test"));
    let results = outcomes(&effects);
    assert_eq!(
        results[1],
        Err(Refusal::AmbiguousPerson {
            name: "alex".into(),
            candidates: vec!["alex.kim@company.test".into(), "alex.lee@company.test".into()]
        })
    );
    let effects = run(&mut incident, "lead me\nrole scribe bob", "bob@company.test", false);
    assert_eq!(incident.roles.get(&Role::Scribe).map(String::as_str), Some("bob@company.test"), "{effects:?}");
}

#[test]
fn notify_is_for_steerers_and_internal_addresses() {
    let mut incident = incident();
    assert!(run(&mut incident, "notify +cfo@company.test", "bob@company.test", false).applied[0].outcome.is_err());
    run(&mut incident, "notify +cfo@company.test", "admin@company.test", true);
    assert_eq!(incident.notify, ["cfo@company.test"]);
    let outside = run(&mut incident, "notify +press@news.test", "admin@company.test", true);
    assert_eq!(outcomes(&outside)[0], Err(Refusal::Outsider { address: "press@news.test".into() }));
    run(&mut incident, "notify -cfo@company.test", "admin@company.test", true);
    assert!(incident.notify.is_empty());
}

#[test]
fn parse_errors_pass_through_and_flags_are_set() {
    let mut incident = incident();
    let effects =
        run(&mut incident, "sevrity 1\nquiet\nhelp\nstatus?\nnote keep the bank out of it", "bob@company.test", false);
    assert_eq!(effects.errors(), 1);
    assert!(effects.quiet && effects.help && effects.card);
    let note = &effects.applied[4];
    assert_eq!(note.entry, Some((EntryKind::Note, "keep the bank out of it".to_string())));
    assert_eq!(effects.applied[1].entry, None);
}

#[test]
fn streams_keep_a_lead_and_a_status() {
    let mut incident = incident();
    run(&mut incident, "stream legal lead carol\nstream legal regulator informed", "bob@company.test", false);
    let legal = &incident.streams[&crate::core::incident::Stream::Legal];
    assert_eq!(
        (legal.lead.as_deref(), legal.status.as_deref()),
        (Some("carol@company.test"), Some("regulator informed"))
    );
}

#[test]
fn regime_clocks_start_from_awareness_move_with_it_and_stop_when_notified() {
    let mut incident = incident();
    // NOW is Friday 14:30 UTC; declared 14:00.
    let started = run(&mut incident, "regime gdpr", "bob@company.test", false);
    let Ok(Done::ClockStarted { basis, ask_aware, stages, .. }) = &outcomes(&started)[0] else {
        panic!("{started:?}");
    };
    assert_eq!((*basis, *ask_aware), (ClockBasis::Declaration, true));
    assert_eq!(stages[0].due, Some("2026-11-30T14:00:00Z".parse().unwrap()));
    assert_eq!(incident.deadlines[0].due, Some("2026-11-30T14:00:00Z".parse().unwrap()));
    let again = run(&mut incident, "regime gdpr", "bob@company.test", false);
    assert_eq!(outcomes(&again)[0], Err(Refusal::ClockAlreadyRunning { title: "GDPR".into() }));
    // We knew since 09:00 Berlin (08:00 UTC): the clock moves back.
    run(&mut incident, "aware 09:00", "bob@company.test", false);
    assert_eq!(incident.deadlines[0].due, Some("2026-11-30T08:00:00Z".parse().unwrap()));
    let met = run(&mut incident, "notified gdpr", "bob@company.test", false);
    let Ok(Done::AuthorityNotified { margin: Some(margin), .. }) = &outcomes(&met)[0] else { panic!("{met:?}") };
    assert!(!margin.late, "{margin:?}");
    assert_eq!(incident.deadlines[0].state, DeadlineState::Met);
    let unknown = run(&mut incident, "regime hipaa", "bob@company.test", false);
    assert_eq!(
        outcomes(&unknown)[0],
        Err(Refusal::UnknownRegime { name: "hipaa".into(), known: vec!["gdpr".into(), "nis2".into(), "sec".into()] })
    );
}

#[test]
fn a_two_stage_regime_is_met_stage_by_stage_and_sec_counts_business_days() {
    let mut incident = incident();
    run(&mut incident, "regime nis2\nregime sec", "bob@company.test", false);
    assert_eq!(incident.deadlines.len(), 3);
    // 4 business days from Friday 14:30 UTC is Thursday.
    assert_eq!(incident.deadlines[2].due, Some("2026-12-03T14:30:00Z".parse().unwrap()));
    run(&mut incident, "notified nis2", "bob@company.test", false);
    let states: Vec<DeadlineState> = incident.deadlines.iter().map(|deadline| deadline.state).collect();
    assert_eq!(states, [DeadlineState::Met, DeadlineState::Running, DeadlineState::Running]);
    run(&mut incident, "regime sec off", "bob@company.test", false);
    assert_eq!(incident.deadlines[2].state, DeadlineState::Dropped);
}

#[test]
fn cadence_is_for_steerers_and_digest_now_for_anyone() {
    let mut incident = incident();
    let refused = run(&mut incident, "cadence off", "bob@company.test", false);
    assert_eq!(outcomes(&refused)[0], Err(Refusal::NotSteering { act: Act::ChangeCadence }));
    run(&mut incident, "cadence 45m", "admin@company.test", true);
    assert_eq!(incident.cadence, Some(CadenceOverride::Every(jiff::SignedDuration::from_mins(45))));
    let too_often = run(&mut incident, "cadence 2m", "admin@company.test", true);
    assert_eq!(outcomes(&too_often)[0], Err(Refusal::CadenceOutOfRange));
    run(&mut incident, "cadence auto", "admin@company.test", true);
    assert_eq!(incident.cadence, None);
    let now = run(&mut incident, "digest now", "bob@company.test", false);
    assert!(now.digest_now);
}

#[test]
fn reopening_returns_to_the_last_phase_of_active_work() {
    let mut incident = incident();
    run(&mut incident, "phase containment\nclose", "admin@company.test", true);
    assert_eq!(incident.phase, Phase::PostIncident);
    run(&mut incident, "reopen", "admin@company.test", true);
    assert_eq!((incident.status, incident.phase), (Status::Investigating, Phase::Containment));
    run(&mut incident, "recovered\nclose", "admin@company.test", true);
    run(&mut incident, "status monitoring", "admin@company.test", true);
    assert_eq!((incident.status, incident.phase, incident.closed_at), (Status::Monitoring, Phase::Recovery, None));
}

#[test]
fn a_type_brings_its_playbook_as_tasks_owned_by_whoever_holds_the_duty() {
    let mut incident = incident();
    run(&mut incident, "lead me", "bob@company.test", false);
    let set = run(&mut incident, "type phishing", "bob@company.test", false);
    assert_eq!(incident.kind, Some(IncidentType::Phishing));
    let owners: Vec<(u32, Option<&str>)> =
        incident.tasks.iter().map(|task| (task.number, task.owner.as_deref())).collect();
    assert_eq!(owners, [(1, Some("bob@company.test")), (2, None)], "the lead's step is Bob's; nobody is technical yet");
    assert_eq!(incident.tasks[0].due, Some("2026-11-27T14:45:00Z".parse().unwrap()));
    let Ok(Done::TypeSet { steps, regimes, suggested, .. }) = &outcomes(&set)[0] else { panic!("{set:?}") };
    assert_eq!(
        (steps.len(), regimes.as_slice(), *suggested),
        (2, ["gdpr".to_string()].as_slice(), false),
        "hipaa is not configured"
    );
    let role = run(&mut incident, "role technical carol", "bob@company.test", false);
    assert_eq!(incident.tasks[1].owner.as_deref(), Some("carol@company.test"));
    assert!(matches!(&outcomes(&role)[0], Ok(Done::RoleSet { tasks, .. }) if tasks == &[2]));
    let again = run(&mut incident, "type phishing", "bob@company.test", false);
    assert_eq!(outcomes(&again)[0], Err(Refusal::AlreadyType { incident_type: IncidentType::Phishing }));
}

#[test]
fn a_new_type_drops_the_open_steps_of_the_old_and_keeps_what_was_done() {
    let mut incident = incident();
    run(&mut incident, "type phishing\ndone 1", "bob@company.test", false);
    let changed = run(&mut incident, "type bec", "bob@company.test", false);
    let Ok(Done::TypeSet { dropped, was, steps, .. }) = &outcomes(&changed)[0] else { panic!("{changed:?}") };
    assert_eq!((dropped.as_slice(), *was), ([2].as_slice(), Some(IncidentType::Phishing)));
    let states: Vec<(u32, TaskState)> = incident.tasks.iter().map(|task| (task.number, task.state)).collect();
    assert_eq!(
        states,
        [(1, TaskState::Done), (2, TaskState::Dropped), (3, TaskState::Open), (4, TaskState::Open)],
        "the done step stays done; BEC's steps follow as tasks 3 and 4"
    );
    assert_eq!(steps.iter().map(|step| step.number).collect::<Vec<_>>(), [3, 4]);
}

#[test]
fn sitrep_suggests_a_type_as_if_the_declarer_had_written_it() {
    let mut incident = incident();
    let people = BTreeMap::new();
    let (time_zone, access, regimes, playbooks) = (TimeZone::UTC, access(), regimes(), playbooks());
    let settings = Settings {
        time_zone: &time_zone,
        people: &people,
        access: &access,
        allow_external_notify: false,
        regimes: &regimes,
        playbooks: &playbooks,
        executives: &[],
        suggest_type: true,
        out_of_band: false,
    };
    let actor = Actor { address: "alice@company.test", privileged: false, steering_allowed: true };
    let applied = apply_suggested_type(&mut incident, IncidentType::Bec, &actor, NOW.parse().unwrap(), &settings);
    assert_eq!(applied.written, "type bec");
    assert!(matches!(applied.outcome, Ok(Done::TypeSet { suggested: true, .. })));
    assert_eq!(applied.entry, Some((EntryKind::Command, "type bec".to_string())), "on the timeline like a command");
    assert_eq!(incident.tasks.len(), 2);
}

#[test]
fn the_declarer_or_a_steerer_moves_an_incident_out_of_band_and_only_a_steerer_back() {
    let mut incident = incident();
    let refused = run(&mut incident, "channel out-of-band", "bob@company.test", false);
    assert_eq!(outcomes(&refused)[0], Err(Refusal::NotSteering { act: Act::MoveOutOfBand }));
    let moved = run(&mut incident, "channel oob", "alice@company.test", false);
    assert_eq!(outcomes(&moved)[0], Ok(Done::ChannelSwitched { channel: Channel::OutOfBand }));
    assert_eq!(incident.channel, Channel::OutOfBand);
    let again = run(&mut incident, "#oob", "alice@company.test", false);
    assert_eq!(outcomes(&again)[0], Err(Refusal::AlreadyOnChannel { channel: Channel::OutOfBand }));
    let back = run(&mut incident, "channel normal", "alice@company.test", false);
    assert_eq!(outcomes(&back)[0], Err(Refusal::NotSteering { act: Act::MoveBack }));
    run(&mut incident, "channel normal", "admin@company.test", true);
    assert_eq!(incident.channel, Channel::Normal);
}

#[test]
fn without_a_fallback_an_incident_cannot_move_out_of_band() {
    let mut incident = incident();
    let (people, access) = (BTreeMap::new(), access());
    let settings = Settings {
        time_zone: &TimeZone::UTC,
        people: &people,
        access: &access,
        allow_external_notify: false,
        regimes: &[],
        playbooks: &[],
        executives: &[],
        suggest_type: false,
        out_of_band: false,
    };
    let actor = Actor { address: "alice@company.test", privileged: false, steering_allowed: true };
    let applied = apply_out_of_band(&mut incident, &actor, NOW.parse().unwrap(), &settings);
    assert_eq!(applied.outcome, Err(Refusal::NoFallback));
    assert_eq!((incident.channel, applied.entry), (Channel::Normal, None));
}

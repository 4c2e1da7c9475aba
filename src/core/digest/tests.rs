use super::*;
use crate::core::incident::IncidentNumber;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn entry(kind: EntryKind, trust: Trust, text: &str, time: &str) -> TimelineEntry {
    TimelineEntry {
        at: at(time),
        author: "alice@company.test".into(),
        kind,
        text: text.into(),
        message_id: None,
        trust,
        outcome: None,
    }
}

fn incident() -> Incident {
    Incident::declare(
        IncidentNumber(4),
        "Ransomware on the file server".into(),
        "alice@company.test".into(),
        at("2026-11-27T14:00:00Z"),
        "root@company.test".into(),
    )
}

#[test]
fn changes_leave_out_notes_outsiders_and_unverified_mail_newest_first() {
    let entries = [
        entry(EntryKind::Update, Trust::Staff, "Isolated the server.", "2026-11-27T14:05:00Z"),
        entry(EntryKind::Note, Trust::Staff, "CFO may have clicked too", "2026-11-27T14:06:00Z"),
        entry(EntryKind::Update, Trust::External, "Vendor here: we can help!", "2026-11-27T14:07:00Z"),
        entry(EntryKind::Update, Trust::Unverified, "Close it, the CEO", "2026-11-27T14:08:00Z"),
        entry(EntryKind::Update, Trust::Partner, "Forensics on site at 16:00.", "2026-11-27T14:09:00Z"),
        TimelineEntry {
            outcome: Some(Done::SeveritySet { severity: Severity::Critical, shift: None }),
            ..entry(EntryKind::Command, Trust::Staff, "sev 1", "2026-11-27T14:10:00Z")
        },
    ];
    let texts: Vec<(String, Vec<CommandLine>)> =
        changes(&entries, Audience::Executive).into_iter().map(|change| (change.text, change.commands)).collect();
    assert_eq!(
        texts,
        [
            (String::new(), vec![CommandLine::Did(Done::SeveritySet { severity: Severity::Critical, shift: None })]),
            ("Forensics on site at 16:00.".to_string(), vec![]),
            ("Isolated the server.".to_string(), vec![]),
        ]
    );
    let responders = changes(&entries, Audience::Tactical);
    assert_eq!(responders.len(), 4, "responders also see the internal note");
    assert_eq!(responders[2].commands, [CommandLine::Typed("note CFO may have clicked too".into())]);
    assert_eq!(responders[0].commands, [CommandLine::Typed("sev 1".into())], "responders see what was typed");
}

#[test]
fn the_subject_and_headline_say_where_things_stand() {
    let mut incident = incident();
    assert_eq!(
        subject(&incident, 1, Audience::Executive),
        "[INC-4] Status 1: unassessed · detection · Ransomware on the file server"
    );
    assert_eq!(headline(&incident), "An incident not yet assessed is being investigated; nobody leads it yet.");
    incident.severity = Some(Severity::Critical);
    incident.phase = Phase::Containment;
    incident.lead = Some("bob@company.test".into());
    assert_eq!(
        subject(&incident, 3, Audience::Executive),
        "[INC-4] Status 3: critical · containment · Ransomware on the file server"
    );
    assert_eq!(headline(&incident), "A critical incident is being contained; bob@company.test leads.");
}

#[test]
fn default_streams_are_listed_even_before_anyone_reports_on_them() {
    let mut incident = incident();
    incident.streams.insert(
        Stream::Legal,
        StreamState { lead: Some("carol@company.test".into()), status: Some("call booked".into()), updated_at: None },
    );
    let digest = build(&Inputs {
        incident: &incident,
        since_last: &[],
        number: 1,
        audience: Audience::Executive,
        default_streams: &[Stream::Technical, Stream::Legal],
        regimes: &[],
        next_at: Some(at("2026-11-27T15:00:00Z")),
        cadence: Some(SignedDuration::from_hours(1)),
        now: at("2026-11-27T14:30:00Z"),
    });
    assert_eq!(digest.reask, None, "executives are not asked again");
    let names: Vec<Stream> = digest.streams.iter().map(|(stream, _)| *stream).collect();
    assert_eq!(names, [Stream::Technical, Stream::Legal]);
    assert_eq!(digest.streams[1].1.status.as_deref(), Some("call booked"));
    assert_eq!(digest.needs.len(), 3, "{:?}", digest.needs);
    assert_eq!(digest.durations, [("so far", SignedDuration::from_mins(30))]);
}

#[test]
fn clocks_show_time_left_and_overdue() {
    let mut incident = incident();
    incident.deadlines.push(Deadline {
        regime: "gdpr".into(),
        stage: 0,
        what: "notify the supervisory authority".into(),
        started_at: at("2026-11-24T14:00:00Z"),
        due: Some(at("2026-11-27T14:00:00Z")),
        state: DeadlineState::Running,
        closed_at: None,
    });
    let clocks = clocks(&incident, &[], at("2026-11-27T17:00:00Z"));
    assert!(clocks[0].overdue);
    assert_eq!(time_left(clocks[0].left.unwrap()), "overdue by 3 h");
    assert_eq!(time_left(SignedDuration::from_hours(41)), "1 d 17 h left");
}

#[test]
fn digests_to_one_executive_are_spaced_by_the_hourly_cap() {
    let sent = at("2026-11-27T14:00:00Z");
    assert_eq!(paced_until(None, 6, sent), None, "the first goes at once");
    assert_eq!(paced_until(Some(sent), 6, at("2026-11-27T14:04:00Z")), Some(at("2026-11-27T14:10:00Z")));
    assert_eq!(paced_until(Some(sent), 6, at("2026-11-27T14:10:00Z")), None);
    assert_eq!(paced_until(Some(sent), 1, at("2026-11-27T14:59:00Z")), Some(at("2026-11-27T15:00:00Z")));
    assert_eq!(paced_until(Some(sent), 0, at("2026-11-27T14:00:01Z")), None, "0 is no cap");
}

#[test]
fn a_combined_subject_counts_severities_most_severe_first() {
    let mut critical = incident();
    critical.severity = Some(Severity::Critical);
    let mut low = incident();
    low.severity = Some(Severity::Low);
    let unassessed = incident();
    assert_eq!(
        combined_subject(&[&unassessed, &low, &critical, &unassessed]),
        "Status of 4 incidents: 1 critical, 1 low, 2 unassessed"
    );
}

mod grouping {

    use super::*;

    #[test]
    fn a_mail_with_text_and_commands_is_one_change() {
        let entry = |kind: EntryKind, text: &str, id: &str, outcome: Option<Done>| TimelineEntry {
            at: "2026-11-27T14:05:00Z".parse().unwrap(),
            author: "alice@company.test".into(),
            kind,
            text: text.into(),
            message_id: Some(id.into()),
            trust: Trust::Staff,
            outcome,
        };
        let severity = Done::SeveritySet { severity: Severity::Critical, shift: None };
        let lead = Done::LeadSet { lead: "alice@company.test".into(), tasks: Vec::new() };
        let entries = [
            entry(EntryKind::Update, "FS01 is off the network.", "a1", None),
            entry(EntryKind::Command, "sev critical", "a1", Some(severity.clone())),
            entry(EntryKind::Command, "lead me", "a1", Some(lead.clone())),
            // Stored before outcomes were kept: shown as typed.
            entry(EntryKind::Command, "phase containment", "a1", None),
            entry(EntryKind::Command, "digest now", "a1", Some(Done::DigestNow)),
            entry(EntryKind::Update, "Backups are clean.", "a2", None),
        ];
        let executives = changes(&entries, Audience::Executive);
        assert_eq!(executives.len(), 2);
        assert_eq!(executives[1].text, "FS01 is off the network.");
        assert_eq!(
            executives[1].commands,
            [CommandLine::Did(severity), CommandLine::Did(lead), CommandLine::Typed("phase containment".into())],
            "what changed, in order; nothing for `digest now`"
        );
        let typed = |line: &str| CommandLine::Typed(line.to_string());
        assert_eq!(
            changes(&entries, Audience::Tactical)[1].commands,
            [typed("sev critical"), typed("lead me"), typed("phase containment"), typed("digest now")],
            "responders see what was typed"
        );
    }
}

#[test]
fn responders_are_asked_again_and_a_scope_change_is_flagged() {
    let mut incident = incident();
    incident.scope = Some("FS01".into());
    incident.scope_set = Some(Stamp { at: at("2026-11-27T14:10:00Z"), by: "bob@company.test".into() });
    let scope_change = TimelineEntry {
        outcome: Some(Done::ScopeSet { scope: "FS01".into() }),
        ..entry(EntryKind::Command, Trust::Staff, "scope FS01", "2026-11-27T14:10:00Z")
    };
    let build_for = |audience: Audience| {
        build(&Inputs {
            incident: &incident,
            since_last: std::slice::from_ref(&scope_change),
            number: 2,
            audience,
            default_streams: &[],
            regimes: &[],
            next_at: None,
            cadence: Some(SignedDuration::from_mins(30)),
            now: at("2026-11-27T14:30:00Z"),
        })
    };
    let responders = build_for(Audience::Tactical);
    let reask = responders.reask.expect("the questions, asked again");
    assert_eq!((reask.scope.as_deref(), reask.lead.as_deref()), (Some("FS01"), None));
    assert_eq!(reask.scope_set.map(|stamp| stamp.by), Some("bob@company.test".to_string()));
    assert_eq!((reask.cadence, reask.by_severity), (Some(SignedDuration::from_mins(30)), true));
    assert!(build_for(Audience::Executive).scope_changed);
}

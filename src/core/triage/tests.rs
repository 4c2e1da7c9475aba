use super::*;
use crate::core::incident::Trust;

fn mailbox(address: &str) -> Mailbox {
    Mailbox { address: address.to_string(), name: None }
}

fn mail(from: &str, subject: &str) -> Inbound {
    Inbound::sample(from, subject)
}

fn address() -> IncidentAddress {
    IncidentAddress::parse("incident@company.test").unwrap()
}

fn access() -> Access {
    Access {
        staff_domains: vec!["company.test".to_string()],
        staff_addresses: vec!["mssp@partner.test".to_string()],
        partner_domains: vec!["ir-firm.test".to_string()],
        lists: vec!["all-staff@company.test".to_string()],
    }
}

fn decide(inbound: &Inbound, known: &Known, facts: &ThreadFacts) -> Triage {
    decide_with(inbound, known, facts, ExternalPolicy::Record)
}

fn decide_with(inbound: &Inbound, known: &Known, facts: &ThreadFacts, external: ExternalPolicy) -> Triage {
    let keys = ThreadKeys::of(inbound, &address());
    let authority = crate::core::auth::authority(inbound, &access(), None);
    triage(inbound, &address(), &authority, external, known, &keys, facts)
}

#[track_caller]
fn check_with(inbound: &Inbound, known: &Known, facts: &ThreadFacts, expected: Triage) {
    assert_eq!(decide(inbound, known, facts), expected);
}

#[track_caller]
fn check(inbound: &Inbound, expected: Triage) {
    check_with(inbound, &Known::default(), &ThreadFacts::default(), expected);
}

#[track_caller]
fn check_ignored(inbound: &Inbound, reason_part: &str) {
    match decide(inbound, &Known::default(), &ThreadFacts::default()) {
        Triage::Ignore { reason } => assert!(reason.contains(reason_part), "reason {reason:?}"),
        other => panic!("expected ignore, got {other:?}"),
    }
}

#[test]
fn staff_mail_that_threads_nowhere_declares() {
    check(
        &mail("alice@company.test", "Fwd: Ransomware on FS01"),
        Triage::Declare { title: "Ransomware on FS01".into() },
    );
    check(&mail("mssp@partner.test", "Alert"), Triage::Declare { title: "Alert".into() });
}

#[test]
fn empty_subject_takes_the_first_line_as_title() {
    check(&mail("alice@company.test", "  "), Triage::Declare { title: "We see encrypted files on FS01.".into() });
}

#[test]
fn outsiders_are_rejected_and_told() {
    let keys_mail = mail("mallory@evil.test", "Invoice");
    match decide(&keys_mail, &Known::default(), &ThreadFacts::default()) {
        Triage::Reject { reason, answer } => {
            assert!(reason.contains("mallory@evil.test"));
            assert!(answer);
        }
        other => panic!("expected reject, got {other:?}"),
    }
}

#[test]
fn several_from_addresses_are_rejected_without_answer() {
    let mut inbound = mail("alice@company.test", "x");
    inbound.from.push(mailbox("bob@company.test"));
    assert!(matches!(
        decide(&inbound, &Known::default(), &ThreadFacts::default()),
        Triage::Reject { answer: false, .. }
    ));
}

#[test]
fn automatic_mail_is_ignored() {
    let base = mail("alice@company.test", "Phishing");
    let mut auto_submitted = base.clone();
    auto_submitted.auto_submitted = Some("auto-replied".into());
    check_ignored(&auto_submitted, "Auto-Submitted");

    let mut not_auto = base.clone();
    not_auto.auto_submitted = Some("no".into());
    check(&not_auto, Triage::Declare { title: "Phishing".into() });

    for precedence in ["bulk", "Junk", "list", "auto_reply"] {
        let mut inbound = base.clone();
        inbound.precedence = Some(precedence.into());
        check_ignored(&inbound, "Precedence");
    }
    let mut list = base.clone();
    list.list_headers = vec!["List-Id".into()];
    check_ignored(&list, "List-Id");
    let mut x_autoreply = base.clone();
    x_autoreply.x_autoreply = true;
    check_ignored(&x_autoreply, "X-Autoreply");
    let mut suppress = base.clone();
    suppress.x_auto_response_suppress = Some("DR, OOF".into());
    check_ignored(&suppress, "X-Auto-Response-Suppress");
    let mut report = base.clone();
    report.is_report = true;
    check_ignored(&report, "multipart/report");
    let mut bounce = base.clone();
    bounce.return_path = Some(String::new());
    check_ignored(&bounce, "null Return-Path");
    check_ignored(&mail("MAILER-DAEMON@company.test".to_lowercase().as_str(), "Undelivered"), "system sender");
    check_ignored(&mail("alice@company.test", "Automatic reply: Phishing"), "subject");
}

#[test]
fn our_own_mail_and_duplicates_are_ignored() {
    let mut looped = mail("alice@company.test", "x");
    looped.loop_marker = Some("incident@company.test".into());
    check_ignored(&looped, "X-Sitrep-Loop");
    check_ignored(&mail("incident+3@company.test", "x"), "incident address");
    let mut ours = mail("alice@company.test", "x");
    ours.message_id = Some(address().own_message_id("abc"));
    check_ignored(&ours, "Message-ID");
    let mut foreign = mail("alice@company.test", "x");
    foreign.message_id = Some("sitrep.abc@elsewhere.test".into());
    check(&foreign, Triage::Declare { title: "x".into() });
    let inbound = mail("alice@company.test", "x");
    let duplicate = Known { duplicate_of: Some(4) };
    assert_eq!(
        decide(&inbound, &duplicate, &ThreadFacts::default()),
        Triage::Ignore { reason: "duplicate Message-ID of stored message 4".into() }
    );
}

#[test]
fn threading_follows_tag_then_references_then_parent_then_plus_then_title() {
    let n = IncidentNumber;
    let tagged = mail("bob@company.test", "Re: [INC-2] Phishing");
    let all = ThreadFacts {
        tag_exists: true,
        referenced: Some(n(3)),
        replied_to_in: Some(n(6)),
        plus_exists: true,
        open_with_title: vec![n(5)],
    };
    check_with(&tagged, &Known::default(), &all, Triage::Update { incident: n(2), via: Via::Tag, trust: Trust::Staff });

    let untagged = mail("bob@company.test", "Re: Phishing");
    let referenced = ThreadFacts { referenced: Some(n(3)), ..all.clone() };
    check_with(
        &untagged,
        &Known::default(),
        &referenced,
        Triage::Update { incident: n(3), via: Via::Reference, trust: Trust::Staff },
    );

    let mut plus = mail("bob@company.test", "Re: Phishing");
    plus.to = vec![mailbox("incident+4@company.test")];
    let parent_facts = ThreadFacts { referenced: None, ..all.clone() };
    check_with(
        &untagged,
        &Known::default(),
        &parent_facts,
        Triage::Update { incident: n(6), via: Via::Parent, trust: Trust::Staff },
    );
    let plus_facts = ThreadFacts { referenced: None, replied_to_in: None, plus_exists: true, ..all.clone() };
    check_with(
        &plus,
        &Known::default(),
        &plus_facts,
        Triage::Update { incident: n(4), via: Via::PlusAddress, trust: Trust::Staff },
    );

    let title_facts = ThreadFacts { open_with_title: vec![n(5)], ..ThreadFacts::default() };
    check_with(
        &untagged,
        &Known::default(),
        &title_facts,
        Triage::Update { incident: n(5), via: Via::Title, trust: Trust::Staff },
    );

    let ambiguous = ThreadFacts { open_with_title: vec![n(5), n(6)], ..ThreadFacts::default() };
    let Triage::Reject { reason, answer: true } = decide(&untagged, &Known::default(), &ambiguous) else {
        panic!("two open incidents with the title should ask the sender which one");
    };
    assert!(reason.contains("INC-5") && reason.contains("INC-6"), "{reason}");
}

#[test]
fn a_new_mail_with_an_open_incident_title_joins_it() {
    let fresh = mail("bob@company.test", "Phishing");
    let facts = ThreadFacts { open_with_title: vec![IncidentNumber(5)], ..ThreadFacts::default() };
    check_with(
        &fresh,
        &Known::default(),
        &facts,
        Triage::Update { incident: IncidentNumber(5), via: Via::Title, trust: Trust::Staff },
    );
    let none_open = ThreadFacts::default();
    check_with(&fresh, &Known::default(), &none_open, Triage::Declare { title: "Phishing".into() });
}

#[test]
fn outsiders_and_partners_are_recorded_but_never_declare() {
    let facts = ThreadFacts { tag_exists: true, ..ThreadFacts::default() };
    let vendor = mail("vendor@outside.test", "Re: [INC-1] Phishing");
    assert_eq!(
        decide(&vendor, &Known::default(), &facts),
        Triage::Update { incident: IncidentNumber(1), via: Via::Tag, trust: Trust::External }
    );
    assert!(matches!(decide_with(&vendor, &Known::default(), &facts, ExternalPolicy::Reject), Triage::Reject { .. }));
    let partner = mail("analyst@ir-firm.test", "Re: [INC-1] Phishing");
    assert_eq!(
        decide(&partner, &Known::default(), &facts),
        Triage::Update { incident: IncidentNumber(1), via: Via::Tag, trust: Trust::Partner }
    );
    let new_partner = mail("analyst@ir-firm.test", "New thing");
    assert!(matches!(
        decide(&new_partner, &Known::default(), &ThreadFacts::default()),
        Triage::Reject { answer: true, .. }
    ));
}

#[test]
fn an_unknown_tag_is_refused() {
    let inbound = mail("bob@company.test", "Re: [INC-9] Phishing");
    assert!(matches!(
        decide(&inbound, &Known::default(), &ThreadFacts::default()),
        Triage::Reject { answer: true, reason } if reason.contains("INC-9 does not exist")
    ));
}

#[test]
fn keys_order_in_reply_to_before_newest_reference() {
    let mut inbound = mail("bob@company.test", "Re: x");
    inbound.in_reply_to = vec!["c".into()];
    inbound.references = vec!["a".into(), "b".into(), "c".into()];
    assert_eq!(ThreadKeys::of(&inbound, &address()).references, vec!["c", "b", "a"]);
}

#[test]
fn ack_goes_to_the_declarer_with_staff_in_cc() {
    let mut inbound = mail("alice@company.test", "x");
    inbound.to = vec![mailbox("incident@company.test"), mailbox("bob@company.test")];
    inbound.cc = vec![mailbox("vendor@outside.test"), mailbox("alice@company.test"), mailbox("bob@company.test")];
    assert_eq!(
        ack_recipients(&inbound, &address(), &access(), &[]),
        Some(("alice@company.test".to_string(), vec!["bob@company.test".to_string()]))
    );
}

#[test]
fn ack_never_copies_a_list() {
    let mut inbound = mail("alice@company.test", "x");
    inbound.cc = vec![mailbox("all-staff@company.test"), mailbox("ops@company.test"), mailbox("bob@company.test")];
    assert_eq!(
        ack_recipients(&inbound, &address(), &access(), &["ops@company.test".to_string()]),
        Some(("alice@company.test".to_string(), vec!["bob@company.test".to_string()]))
    );
}

#[test]
fn incident_address_parsing_and_plus_detail() {
    let address = address();
    assert!(address.is_ours("INCIDENT@company.test"));
    assert_eq!(address.plus_incident("incident+12@company.test"), Some(IncidentNumber(12)));
    assert_eq!(address.plus_incident("incident+x@company.test"), None);
    assert_eq!(address.plus_incident("incidents+1@company.test"), None);
    assert!(IncidentAddress::parse("not an address").is_err());
    assert!(IncidentAddress::parse("incident+1@company.test").is_err());
}

#[test]
fn notices_reach_staff_hourly_and_outsiders_weekly_only_when_allowed() {
    use jiff::SignedDuration;
    assert_eq!(notice_interval(NoticeCause::Refused, true, false), None);
    assert_eq!(notice_interval(NoticeCause::Refused, true, true), Some(SignedDuration::from_hours(168)));
    assert_eq!(notice_interval(NoticeCause::Refused, false, false), Some(SignedDuration::from_hours(1)));
    assert_eq!(notice_interval(NoticeCause::Quarantined, false, false), Some(SignedDuration::from_hours(1)));
}

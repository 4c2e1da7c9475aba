use super::verbs::VERBS;
use super::*;
use crate::core::incident::{Channel, Phase, Role, Severity, Status, Stream};

/// What one command line should become: understood, or refused with a
/// message containing the given words.
enum Expect {
    Is(Command),
    Refused(&'static str),
}
use Expect::{Is, Refused};

#[track_caller]
fn check_lines(lines: &[Line], expected: &[Expect], context: &str) {
    assert_eq!(lines.len(), expected.len(), "{context}: got {lines:#?}");
    for (line, expect) in lines.iter().zip(expected) {
        match (expect, &line.command) {
            (Is(command), Ok(got)) => assert_eq!(got, command, "{context}: {}", line.written),
            (Refused(words), Err(problem)) => {
                assert!(problem.contains(words), "{context}: {} gave {problem:?}, expected {words:?}", line.written)
            }
            (Is(_), Err(problem)) => panic!("{context}: {} refused: {problem}", line.written),
            (Refused(_), Ok(got)) => panic!("{context}: {} accepted as {got:?}", line.written),
        }
    }
}

/// The body as a whole; `rest` is the update text left over.
#[track_caller]
fn body(text: &str, expected: &[Expect], rest: &str) {
    let parsed = parse("Re: [INC-1] Phishing", text);
    check_lines(&parsed.lines, expected, text);
    assert_eq!(parsed.text, rest, "update text of {text:?}");
    assert_eq!(parsed.subject, "Re: [INC-1] Phishing");
}

#[track_caller]
fn one(line: &str, expected: Command) {
    body(line, &[Is(expected)], "");
}

/// Meant as a command but wrong: answered, and kept in the text.
#[track_caller]
fn refused(line: &str, words: &'static str) {
    body(line, &[Refused(words)], line);
}

/// Not a command at all: the text stays whole.
#[track_caller]
fn prose(text: &str) {
    body(text, &[], text.trim());
}

#[track_caller]
fn subject(subject: &str, expected: &[Expect], title: &str) {
    let parsed = parse(subject, "");
    check_lines(&parsed.lines, expected, subject);
    assert_eq!(parsed.subject, title, "subject left of {subject:?}");
}

fn address(text: &str) -> Who {
    Who::Address(text.to_string())
}

#[test]
fn severity_in_every_spelling() {
    for line in [
        "severity critical",
        "Severity: critical",
        "SEVERITY CRITICAL",
        "sev 1",
        "sev critical",
        "sev1",
        "/sev 1",
        "#sev1",
        "priority critical",
        "prio 1",
        "p1",
        "Severity : crit",
    ] {
        one(line, Command::Severity(Severity::Critical));
    }
    one("sev high", Command::Severity(Severity::High));
    one("severity: medium", Command::Severity(Severity::Medium));
    one("sev4", Command::Severity(Severity::Low));
    refused("sev extreme", "critical, high, medium or low");
    refused("/severity", "critical, high, medium or low");
}

#[test]
fn people_and_roles() {
    one("lead me", Command::Lead(Who::Me));
    one("Lead: me", Command::Lead(Who::Me));
    one("owner alice@company.test", Command::Lead(address("alice@company.test")));
    one("ic <Alice@Company.test>", Command::Lead(address("alice@company.test")));
    one("lead Alice", Command::Lead(Who::Name("alice".into())));
    one("role scribe me", Command::Role(Role::Scribe, Who::Me));
    one("role internal comms bob@company.test", Command::Role(Role::InternalComms, address("bob@company.test")));
    one("role external-comms carol", Command::Role(Role::ExternalComms, Who::Name("carol".into())));
    one("role legal me", Command::Role(Role::Legal, Who::Me));
    one("role tech lead dave", Command::Role(Role::Technical, Who::Name("dave".into())));
    one("unassign scribe", Command::Unassign(Some(Role::Scribe)));
    one("unassign lead", Command::Unassign(None));
    refused("role janitor me", "name a role");
    refused("unassign everyone", "name a role");
    refused("lead", "say who");
    refused("lead bob@", "is not an address");
}

#[test]
fn phases_milestones_status_and_closing() {
    one("phase containment", Command::Phase(Phase::Containment));
    one("Phase: post incident", Command::Phase(Phase::PostIncident));
    one("/phase eradication", Command::Phase(Phase::Eradication));
    one("contained", Command::Milestone(Milestone::Contained));
    one("Contained.", Command::Milestone(Milestone::Contained));
    one("#eradicated", Command::Milestone(Milestone::Eradicated));
    one("recovered", Command::Milestone(Milestone::Recovered));
    one("status monitoring", Command::Status(Status::Monitoring));
    one("Status: investigating", Command::Status(Status::Investigating));
    one("close", Command::Close(None));
    one("closed", Command::Close(None));
    one("Resolved!", Command::Close(None));
    one(
        "close: false positive, a test mail from IT",
        Command::Close(Some("false positive, a test mail from IT".into())),
    );
    one("/close duplicate of INC-2", Command::Close(Some("duplicate of INC-2".into())));
    one("reopen", Command::Reopen);
    refused("phase lunch", "detection, containment");
    refused("status great", "open, investigating");
}

#[test]
fn facts_and_times() {
    one("scope payroll server and the HR share", Command::Scope("payroll server and the HR share".into()));
    one("Scope: FS01", Command::Scope("FS01".into()));
    one("impact payroll runs a day late", Command::Impact("payroll runs a day late".into()));
    one("detected 14:05", Command::Detected(When::Today { hour: 14, minute: 5 }));
    one("detected yesterday 23:40", Command::Detected(When::Yesterday { hour: 23, minute: 40 }));
    one("started 30m ago", Command::Started(When::Ago(SignedDuration::from_mins(30))));
    one("started 2 hours ago", Command::Started(When::Ago(SignedDuration::from_hours(2))));
    one("detected now", Command::Detected(When::Now));
    one("detected 2026-11-27T09:40:00Z", Command::Detected(When::At("2026-11-27T09:40:00Z".parse().unwrap())));
    refused("detected 25:00", "not a time of day");
    refused("started last week", "not a time");
    refused("scope", "describe the scope");
}

#[test]
fn streams_and_tasks() {
    one("stream technical reimaging LT-042", Command::StreamStatus(Stream::Technical, "reimaging LT-042".into()));
    one("stream legal lead carol", Command::StreamLead(Stream::Legal, Who::Name("carol".into())));
    one(
        "stream internal comms all-staff mail sent",
        Command::StreamStatus(Stream::InternalComms, "all-staff mail sent".into()),
    );
    one("stream external-comms lead me", Command::StreamLead(Stream::ExternalComms, Who::Me));
    one("task call the insurer", Command::Task { text: "call the insurer".into(), owner: None, due: None });
    one(
        "task call the insurer @alice due 17:00",
        Command::Task {
            text: "call the insurer".into(),
            owner: Some(Who::Name("alice".into())),
            due: Some(When::Today { hour: 17, minute: 0 }),
        },
    );
    one(
        "Task: rotate keys @bob@company.test",
        Command::Task { text: "rotate keys".into(), owner: Some(address("bob@company.test")), due: None },
    );
    let due = |text: &str| match parse("Re: [INC-1] Phishing", &format!("task call the insurer due {text}")).lines[0]
        .command
        .clone()
    {
        Ok(Command::Task { due, .. }) => Ok(due.unwrap()),
        Ok(other) => panic!("{other:?}"),
        Err(error) => Err(error),
    };
    assert_eq!(due("2h"), Ok(When::In(SignedDuration::from_hours(2))));
    assert_eq!(due("in 30m"), Ok(When::In(SignedDuration::from_mins(30))));
    assert_eq!(due("tomorrow 09:00"), Ok(When::Tomorrow { hour: 9, minute: 0 }));
    assert_eq!(due("Friday"), Ok(When::Next { weekday: jiff::civil::Weekday::Friday, hour: 17, minute: 0 }));
    assert_eq!(due("mon 12:30"), Ok(When::Next { weekday: jiff::civil::Weekday::Monday, hour: 12, minute: 30 }));
    let past = arguments::deadline("30m ago").unwrap_err();
    // Letters whose lowercase is longer or shorter shift nothing.
    let turkish = parse("Re: [INC-1] Disk [task İİİ call İzmir due 2h]", "");
    assert!(
        matches!(&turkish.lines[0].command, Ok(Command::Task { text, due: Some(When::In(_)), .. }) if text == "İİİ call İzmir"),
        "{turkish:?}"
    );
    let kelvin = parse("Re: [INC-1] Disk", "stream \u{212A}elvin busy");
    assert!(kelvin.lines.iter().all(|line| line.command.is_err()) || kelvin.lines.is_empty(), "{kelvin:?}");
    let offered = past.split_once("say").unwrap().1;
    assert!(past.contains("not a deadline") && offered.contains("in 30m") && !offered.contains("ago"), "{past}");
    one("done 2", Command::Done(2));
    one("done #3", Command::Done(3));
    one("drop 1", Command::Drop(1));
    refused("stream marketing busy", "name a stream");
    refused("drop it", "task number");
    refused("/task call @alice due tomorrowish", "not a deadline");
}

#[test]
fn notify_quiet_note_help_card() {
    one("notify +ceo@company.test", Command::Notify { add: true, address: "ceo@company.test".into() });
    one("notify -ceo@company.test", Command::Notify { add: false, address: "ceo@company.test".into() });
    one("notify cfo@company.test", Command::Notify { add: true, address: "cfo@company.test".into() });
    one("quiet", Command::Quiet);
    one(
        "note the CFO asked not to involve the bank yet",
        Command::Note("the CFO asked not to involve the bank yet".into()),
    );
    one("help", Command::Help);
    one("/help", Command::Help);
    one("status?", Command::Card);
    refused("notify +ceo", "give an address");
}

#[test]
fn typos_beside_a_command_or_marked_get_a_suggestion() {
    for (typo, words) in [
        ("sevrity high", "did you mean `severity`"),
        ("leed me", "did you mean `lead`"),
        ("reopne", "did you mean `reopen`"),
    ] {
        body(&format!("sev 2\n{typo}"), &[Is(Command::Severity(Severity::High)), Refused(words)], typo);
    }
    // Alone, a typo with the arguments of its verb is still meant as one.
    refused("sevrity high", "did you mean `severity`");
    refused("leed me", "did you mean `lead`");
    body(
        "sevrity 1\nThe backup server is clean.",
        &[Refused("did you mean `severity`")],
        "sevrity 1\nThe backup server is clean.",
    );
    prose("reopne");
    prose("Test reply");
    refused("/contaned", "did you mean `contained`");
}

#[test]
fn a_block_takes_several_lines_and_stops_at_prose() {
    body(
        "sev 1\nlead me\nscope FS01\n\nWe found the ransom note at 01:50.",
        &[Is(Command::Severity(Severity::Critical)), Is(Command::Lead(Who::Me)), Is(Command::Scope("FS01".into()))],
        "We found the ransom note at 01:50.",
    );
    body(
        "Hi all,\nsev 2\ncontained\nThe laptop is off the network.",
        &[Is(Command::Severity(Severity::High)), Is(Command::Milestone(Milestone::Contained))],
        "Hi all,\nThe laptop is off the network.",
    );
    body("lead me\nthanks\nAlice", &[Is(Command::Lead(Who::Me))], "thanks\nAlice");
}

#[test]
fn a_bad_line_inside_a_block_is_reported_not_taken_for_prose() {
    body(
        "sev 1\nStatus: we are on it\nlead me",
        &[Is(Command::Severity(Severity::Critical)), Refused("open, investigating"), Is(Command::Lead(Who::Me))],
        "Status: we are on it",
    );
}

#[test]
fn conflicting_commands_are_all_kept_in_order() {
    body("sev 1\nsev 3", &[Is(Command::Severity(Severity::Critical)), Is(Command::Severity(Severity::Medium))], "");
    body("close\nreopen", &[Is(Command::Close(None)), Is(Command::Reopen)], "");
}

#[test]
fn prose_is_never_a_command() {
    for text in [
        "14:05: rebooted FS01, no change.",
        "Status: we are working on it and will report back.",
        "Update: the VPN is back.",
        "Note: nothing new since the last mail from the vendor.",
        "Close the firewall port 445 on the edge, please.",
        "Done with the first pass, starting on the second.",
        "Load balancer is down again.",
        "Lead times for the vendor are two days.",
        "Contained the worm on FS01 an hour ago.",
        "Hi all,\nthe vendor called back.",
        "All hands: please stay off the VPN.",
        "We are contained now.",
        "The attacker wrote: pay 2 BTC.",
        "Phase two of the rollout is paused.",
        "Started the reimage at 14:00 and it takes an hour.",
    ] {
        prose(text);
    }
}

#[test]
fn a_short_sentence_is_prose_even_when_it_opens_with_a_verb() {
    for text in [
        "One more thing.",
        "Close call there.",
        "Scope is unclear.",
        "Phase two started.",
        "Task force assembled.",
        "Notify nobody yet!",
        "Help is coming.",
        "Impact still unclear?",
    ] {
        prose(text);
    }
}

#[test]
fn a_full_stop_after_a_command_is_punctuation() {
    one("sev high.", Command::Severity(Severity::High));
    one("done 3.", Command::Done(3));
    one("phase containment.", Command::Phase(Phase::Containment));
    one("note keep the bank out of it.", Command::Note("keep the bank out of it.".into()));
    one("stream technical restoring FS02.", Command::StreamStatus(Stream::Technical, "restoring FS02.".into()));
    one("scope: FS01 and the finance share.", Command::Scope("FS01 and the finance share.".into()));
    refused("sev urgent", "sev:");
    // A sentence is a command only when it reads as one perfectly.
    prose("Sev urgent.");
}

#[test]
fn commands_below_prose_are_text() {
    body("We looked at the logs.\nsev 1", &[], "We looked at the logs.\nsev 1");
}

#[test]
fn subject_groups_and_hashtags() {
    subject(
        "Ransomware on FS01 [sev1; lead me]",
        &[Is(Command::Severity(Severity::Critical)), Is(Command::Lead(Who::Me))],
        "Ransomware on FS01",
    );
    subject("Ransomware [severity: high]", &[Is(Command::Severity(Severity::High))], "Ransomware");
    subject("Re: [INC-4] Phishing #sev1", &[Is(Command::Severity(Severity::Critical))], "Re: [INC-4] Phishing");
    subject(
        "Re: [INC-4] Phishing #contained #close",
        &[Is(Command::Milestone(Milestone::Contained)), Is(Command::Close(None))],
        "Re: [INC-4] Phishing",
    );
    subject("Phishing [sev1] #quiet", &[Is(Command::Severity(Severity::Critical)), Is(Command::Quiet)], "Phishing");
    subject(
        "Phishing [sev1; sevrity 2]",
        &[Is(Command::Severity(Severity::Critical)), Refused("did you mean")],
        "Phishing",
    );
}

#[test]
fn subjects_without_commands_are_left_alone() {
    for text in [
        "Re: [INC-4] Phishing",
        "Fwd: Invoice [EXTERNAL]",
        "Your mailbox is full [Action Required]",
        "Security review #security",
        "Meeting notes [draft]",
    ] {
        subject(text, &[], text);
    }
}

#[test]
fn the_reference_names_every_verb() {
    for (_, names) in VERBS {
        assert!(REFERENCE.contains(&format!("`{}", names[0])), "docs/commands.md lacks `{}`", names[0]);
    }
}

#[test]
fn subject_commands_inherited_from_the_parent_are_not_repeated() {
    let reply = parse_reply("Re: Ransomware [sev1; lead me] #contained", Some("Ransomware [sev1; lead me]"), "");
    assert_eq!(reply.subject, "Re: Ransomware");
    check_lines(&reply.lines, &[Is(Command::Milestone(Milestone::Contained))], "reply");
    let fresh = parse_reply("Re: Ransomware [sev1]", None, "");
    check_lines(&fresh.lines, &[Is(Command::Severity(Severity::Critical))], "no parent");
}

#[test]
fn greetings_and_short_answers_are_prose() {
    for text in [
        "Hello",
        "Hey",
        "Dear team",
        "Good evening",
        "Test reply",
        "Done.",
        "Done",
        "Thanks!",
        "Hello\n\nThe VPN is back.",
        "Test reply\nwith a second line",
        "Hey team,\n\nDone.\n\nBob",
    ] {
        prose(text);
    }
}

const STORY: &str = "The ransom note is on every share.";

/// The same two commands in every position of a mail, with what is left.
fn positions(commands: &str) -> Vec<(String, String)> {
    vec![
        (format!("{commands}\n\n{STORY}"), STORY.to_string()),
        (format!("Hello,\n\n{commands}\n\n{STORY}"), format!("Hello,\n\n{STORY}")),
        (format!("Hi all,\n{commands}\n\n{STORY}"), format!("Hi all,\n\n{STORY}")),
        (format!("{STORY}\n\n{commands}"), STORY.to_string()),
        (format!("{STORY}\n\n{commands}\n\nThanks,\nBob"), format!("{STORY}\n\nThanks,\nBob")),
        (format!("{STORY}\n\n{commands}\nThanks,\nBob"), format!("{STORY}\n\nThanks,\nBob")),
        (format!("{STORY}\n\n{commands}\n\nMore after the call."), format!("{STORY}\n\nMore after the call.")),
    ]
}

#[test]
fn a_command_paragraph_counts_wherever_it_stands() {
    for (text, rest) in positions("sev 1\nlead me") {
        body(&text, &[Is(Command::Severity(Severity::Critical)), Is(Command::Lead(Who::Me))], &rest);
    }
    for (text, rest) in positions("status: contained\nphase: recovery") {
        body(&text, &[Is(Command::Status(Status::Contained)), Is(Command::Phase(Phase::Recovery))], &rest);
    }
}

#[test]
fn unknown_and_invalid_lines_beside_commands_are_answered_and_kept() {
    for (bad, words) in [
        ("severity: extreme", "critical, high, medium or low"),
        ("escalate: ceo", "not a command"),
        ("sevrity 2", "did you mean `severity`"),
        ("#urgent", "not a command"),
        ("done", "task number"),
    ] {
        for (text, _) in positions(&format!("{bad}\nphase: recovery")) {
            let parsed = parse("Re: [INC-1] Phishing", &text);
            check_lines(&parsed.lines, &[Refused(words), Is(Command::Phase(Phase::Recovery))], &text);
            assert!(parsed.text.contains(bad), "{text:?} lost {bad:?}: {:?}", parsed.text);
            assert!(parsed.text.contains(STORY), "{text:?} lost the story: {:?}", parsed.text);
            assert!(!parsed.text.contains("phase: recovery"), "{text:?} kept the command: {:?}", parsed.text);
        }
    }
}

#[test]
fn a_lone_wrong_line_is_answered_only_when_its_verb_is_known() {
    refused("sev 5", "critical, high, medium or low");
    prose("Status: we are on it");
    prose("escalate: ceo");
    prose("#urgent");
}

#[test]
fn lifecycle_words_count_in_the_first_and_last_paragraphs() {
    body("Restored from backup.\nresolved", &[Is(Command::Close(None))], "Restored from backup.");
    body("Restored from backup.\n\nResolved.\n\nBob", &[Is(Command::Close(None))], "Restored from backup.\n\nBob");
    body(
        "contained\nThe host is off the network.",
        &[Is(Command::Milestone(Milestone::Contained))],
        "The host is off the network.",
    );
    body(
        "Vendor says the laptop is wiped.\nContained.\n\nI will follow up tomorrow.",
        &[Is(Command::Milestone(Milestone::Contained))],
        "Vendor says the laptop is wiped.\n\nI will follow up tomorrow.",
    );
    // A wrapped sentence, or a middle paragraph, is prose.
    prose("The ticket with the vendor is\nclosed.");
    prose("First.\n\nThe worm is gone.\ncontained\n\nLast.");
    // Other commands below prose in one paragraph stay prose.
    prose("We restored the share.\nlead me");
}

#[test]
fn prose_look_alikes_stay_prose_in_every_position() {
    for look_alike in [
        "Status: we are on it",
        "14:05: rebooted FS01",
        "Close the firewall port",
        "Test reply",
        "Hello",
        "Done.",
        "Note: the vendor called",
        "Dear team",
    ] {
        for (text, _) in positions(look_alike) {
            let parsed = parse("Re: [INC-1] Phishing", &text);
            assert!(parsed.lines.is_empty(), "{text:?} gave {:#?}", parsed.lines);
            assert_eq!(parsed.text, text.trim(), "{text:?} lost text");
        }
    }
}

#[test]
fn the_channel_is_named_in_words_or_by_hashtag() {
    one("channel out-of-band", Command::Channel(Channel::OutOfBand));
    one("channel oob", Command::Channel(Channel::OutOfBand));
    one("channel normal", Command::Channel(Channel::Normal));
    refused("channel sideways", "say out-of-band or normal");
    let parsed = parse("Wire fraud at the supplier #oob", "");
    assert_eq!(parsed.subject, "Wire fraud at the supplier");
    assert_eq!(parsed.lines[0].command, Ok(Command::Channel(Channel::OutOfBand)));
    // Unmarked, the word is prose.
    assert!(parse("About oob", "").lines.is_empty());
}

//! Out-of-band operation with local mailboxes and file relays: an incident
//! moved out of band, mail that came through a possibly compromised company
//! mailbox, declarations that start out of band, and fallback delivery.

use jiff::SignedDuration;
use sitrep::config::Config;
use sitrep::fallback;
use sitrep::outbox::Senders;
use sitrep::pipeline::Arrival;
use sitrep::scheduler;

use crate::support::{Harness, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";
const BOB: &str = "Bob Lee <bob@company.test>";
const BOB_ELSEWHERE: &str = "Bob Lee <bob@ir-mail.test>";

/// Alice, Bob and the CEO have out-of-band addresses; Carol and the CFO do
/// not. `primary_relay` is the `[transport]` table.
fn out_of_band_config(primary_relay: &str, extra: &str) -> impl FnOnce(String) -> String {
    let primary_relay = primary_relay.to_string();
    let extra = extra.to_string();
    move |text: String| {
        let data =
            text.lines().find_map(|line| line.strip_prefix("data_dir = ")).unwrap().trim_matches('"').to_string();
        let text = match primary_relay.is_empty() {
            true => text,
            false => {
                let file_relay = format!("[transport]\nkind = \"file\"\npath = \"{data}/outbox\"\n");
                text.replace(&file_relay, &primary_relay)
            }
        };
        format!(
            r#"{text}
[access]
staff_domains = ["company.test"]
admins = ["bob@company.test"]

[people]
alice = {{ address = "alice@company.test", out_of_band = "alice@ir-mail.test" }}
bob = {{ address = "bob@company.test", out_of_band = "bob@ir-mail.test" }}
ceo = {{ address = "ceo@company.test", out_of_band = "ceo@ir-mail.test" }}
carol = "carol@company.test"

[fallback]
address = "incident@ir-mail.test"
after = "10m"
{extra}
[fallback.mailbox]
kind = "maildir"
path = "{data}/fallback-inbox"

[fallback.transport]
kind = "file"
path = "{data}/fallback-outbox"
"#
        )
        // The base configuration's [access] gives way to the one above.
        .replacen(
            "[access]\nstaff_domains = [\"company.test\"]\nstaff_addresses = [\"soc@mssp.test\"]\n",
            "",
            1,
        )
    }
}

fn harness() -> Harness {
    Harness::with_config(out_of_band_config("", ""))
}

fn reply(from: &str, body: &str, id: &str) -> Vec<u8> {
    mail(from, "Re: [INC-1] Invoice fraud").id(id).header("References", "<d@company.test>").body(body).bytes()
}

fn incident(harness: &Harness) -> serde_json::Value {
    serde_json::to_value(&harness.export().incidents[0]).unwrap()
}

/// Every recipient of the outbox rows from `from` on.
fn recipients_from(harness: &Harness, from: usize) -> Vec<String> {
    harness.outbox()[from..]
        .iter()
        .flat_map(|row| {
            let list = |key: &str| row[key].as_array().unwrap().clone();
            list("to").into_iter().chain(list("cc"))
        })
        .map(|address| address.as_str().unwrap().to_string())
        .collect()
}

/// Declared by Alice with Bob on Cc; Bob leads and moves it out of band.
fn moved_out_of_band(harness: &mut Harness) -> usize {
    let declaration = mail(ALICE, "Invoice fraud")
        .id("d@company.test")
        .header("Cc", "bob@company.test")
        .body("A supplier's bank changed.");
    harness.feed(&declaration.bytes());
    harness.feed(&reply(BOB, "lead me\nsev high", "b1@company.test"));
    let before = harness.outbox().len();
    harness.feed(&reply(BOB, "The attacker reads our mailboxes.\n\nchannel out-of-band", "b2@company.test"));
    before
}

#[test]
fn an_incident_moved_out_of_band_mails_only_out_of_band_addresses() {
    let mut harness = harness();
    let before = moved_out_of_band(&mut harness);
    let state = incident(&harness);
    assert_eq!(state["channel"], "out-of-band");
    let switched = state["timeline"].as_array().unwrap().iter().find(|entry| entry["text"] == "channel out-of-band");
    assert_eq!(switched.unwrap()["outcome"]["kind"], "channel_switched");

    let transcript = &harness.outbox()[before];
    assert_eq!(transcript["kind"], "transcript");
    assert_eq!(transcript["to"], serde_json::json!(["bob@ir-mail.test"]));
    assert!(transcript["body"].as_str().unwrap().contains("only to out-of-band addresses"), "{transcript}");

    scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, harness.now + SignedDuration::from_hours(2))
        .unwrap();
    let digests: Vec<serde_json::Value> = harness.outbox().into_iter().filter(|row| row["kind"] == "digest").collect();
    let digested: Vec<&str> = digests.iter().map(|row| row["to"][0].as_str().unwrap()).collect();
    assert_eq!(digested, ["ceo@ir-mail.test"], "the CFO has no out-of-band address and hears nothing");
    let everyone = recipients_from(&harness, before);
    assert!(everyone.iter().all(|address| address.ends_with("@ir-mail.test")), "{everyone:?}");

    // Everything left through the fallback relay, from the fallback address.
    let mut senders = Senders::new(harness.pipeline.config()).unwrap();
    senders.drain(&mut harness.store, harness.now + SignedDuration::from_hours(2)).unwrap();
    let sent = read_all(&harness.data_dir().join("fallback-outbox"));
    assert!(sent.contains("From: sitrep <incident@ir-mail.test>") && sent.contains("ceo@ir-mail.test"), "{sent}");
    assert!(!sent.contains("To: ceo@company.test"), "{sent}");
}

#[test]
fn company_mail_about_an_out_of_band_incident_is_kept_but_runs_nothing() {
    let mut harness = harness();
    moved_out_of_band(&mut harness);
    let report = harness.feed(&reply(ALICE, "close", "a1@company.test"));
    assert!(report.reason.unwrap().contains("no command run"));
    let state = incident(&harness);
    assert_eq!(state["status"], "open", "whoever holds Alice's mailbox cannot close it");
    let last = state["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["trust"].as_str(), last["author"].as_str()),
        (Some("possibly-compromised-channel"), Some("alice@company.test"))
    );
    let notice = harness.outbox().last().unwrap().clone();
    assert_eq!((notice["kind"].as_str(), notice["to"][0].as_str()), (Some("notice"), Some("alice@ir-mail.test")));
    assert!(notice["body"].as_str().unwrap().contains("incident@ir-mail.test"), "{notice}");

    // The same person from their out-of-band address is themselves.
    through_fallback(&mut harness, &reply(BOB_ELSEWHERE, "sev critical", "b3@ir-mail.test"));
    let state = incident(&harness);
    assert_eq!(state["severity"], "critical");
    assert_eq!(state["timeline"].as_array().unwrap().last().unwrap()["author"], "bob@company.test");

    // Someone with no out-of-band address still acts, but hears nothing.
    let before = harness.outbox().len();
    harness.feed(&reply("Carol <carol@company.test>", "task call the bank", "c1@company.test"));
    assert_eq!(incident(&harness)["tasks"][0]["text"], "call the bank");
    assert!(recipients_from(&harness, before).iter().all(|address| address.ends_with("@ir-mail.test")));
}

#[test]
fn a_declaration_to_the_fallback_address_or_marked_oob_starts_out_of_band() {
    let mut harness = harness();
    let from_elsewhere = mail("Alice <alice@ir-mail.test>", "Invoice fraud").header("To", "incident@ir-mail.test");
    through_fallback(&mut harness, &from_elsewhere.id("d1@ir-mail.test").bytes());
    let marked = mail(ALICE, "Payroll account changed #oob").id("d2@company.test");
    harness.feed(&marked.bytes());
    let export = harness.export();
    assert!(export.incidents.iter().all(|incident| incident.channel == "out-of-band"));
    assert_eq!(export.incidents[0].declared_by, "alice@company.test");
    let acks: Vec<serde_json::Value> = harness.outbox().into_iter().filter(|row| row["kind"] == "ack").collect();
    assert_eq!(acks.len(), 2);
    assert!(acks.iter().all(|ack| ack["to"] == serde_json::json!(["alice@ir-mail.test"])), "{acks:?}");
}

/// Each border vouches for what came through its own mailbox: the
/// fallback provider's for the fallback mailbox, the company's for the
/// primary one, where an out-of-band address never counts (whoever holds
/// the tenant can put any mail there, with any headers).
#[test]
fn an_out_of_band_address_counts_only_through_the_fallback_mailbox_and_its_border() {
    let auth = "[auth]\ntrusted_authserv_id = \"mx.company.test\"\n";
    let mut harness =
        Harness::with_config(|text| out_of_band_config("", "trusted_authserv_id = \"mx.ir-mail.test\"\n")(text) + auth);
    let vouched = "mx.ir-mail.test; dmarc=pass header.from=ir-mail.test";
    let declaration = mail("Alice <alice@ir-mail.test>", "Invoice fraud").header("Authentication-Results", vouched);
    assert_eq!(through_fallback(&mut harness, &declaration.id("d1@ir-mail.test").bytes()).outcome.as_str(), "declared");

    let wrong_border = "mx.company.test; dmarc=pass header.from=ir-mail.test";
    let forged = mail("Alice <alice@ir-mail.test>", "Another fraud").header("Authentication-Results", wrong_border);
    let report = through_fallback(&mut harness, &forged.id("d2@ir-mail.test").bytes());
    assert_ne!(report.outcome.as_str(), "declared", "{report:?}");
    // The company border's pass on top, a forged fallback pass below, in the
    // primary mailbox: still not Alice.
    let stacked = mail("Alice <alice@ir-mail.test>", "Third fraud")
        .header("Authentication-Results", "mx.company.test; dmarc=pass header.from=ir-mail.test")
        .header("X-Forged", "x")
        .header("Authentication-Results", vouched);
    let report = harness.feed(&stacked.id("d3@ir-mail.test").bytes());
    assert_ne!(report.outcome.as_str(), "declared", "{report:?}");
    // Company mail in the fallback mailbox is vouched for by the fallback
    // border, not by a forged line in the company's name.
    let forged_company = mail(BOB, "Fourth fraud")
        .header("Authentication-Results", "mx.company.test; dmarc=pass header.from=company.test");
    let report = through_fallback(&mut harness, &forged_company.id("d4@company.test").bytes());
    assert_ne!(report.outcome.as_str(), "declared", "{report:?}");
    assert_eq!(harness.export().incidents.len(), 1);
}

/// On an out-of-band incident, mail through a company mailbox may post but
/// not steer, even from an admin with no out-of-band address: it may be
/// the attacker's.
#[test]
fn company_mail_cannot_move_an_out_of_band_incident_back_or_close_it() {
    let mut harness = Harness::with_config(|text| {
        out_of_band_config("", "")(text).replace("admins = [\"bob@company.test\"]", "admins = [\"carol@company.test\"]")
    });
    moved_out_of_band(&mut harness);
    harness.feed(&reply(
        "Carol <carol@company.test>",
        "The firewall logs are saved.\n\nchannel normal\nclose",
        "c1@company.test",
    ));
    let state = incident(&harness);
    assert_eq!((state["channel"].as_str(), state["status"].as_str()), (Some("out-of-band"), Some("open")));
    let last =
        state["timeline"].as_array().unwrap().iter().rev().find(|entry| entry["kind"] == "update").unwrap().clone();
    assert_eq!(last["text"], "The firewall logs are saved.", "her update is kept");
    // Bob, the lead, from his out-of-band address, may.
    through_fallback(&mut harness, &reply(BOB_ELSEWHERE, "channel normal", "b4@ir-mail.test"));
    assert_eq!(incident(&harness)["channel"], "normal");
}

/// As the daemon takes mail from the fallback mailbox.
fn through_fallback(harness: &mut Harness, raw: &[u8]) -> sitrep::pipeline::IngestReport {
    harness.now += SignedDuration::from_secs(60);
    let arrival = Arrival { source: "fallback", position: None, size_over_limit: None, fallback: true };
    harness.pipeline.ingest_arrival(&mut harness.store, raw, &arrival, harness.now).unwrap()
}

#[test]
fn mail_the_primary_relay_cannot_send_for_too_long_goes_out_of_band_and_the_admin_is_told_once() {
    let down = "[transport]\nkind = \"sendmail\"\ncommand = \"/bin/false\"\n";
    let mut harness = Harness::with_config(out_of_band_config(down, ""));
    let declaration = mail(ALICE, "Invoice fraud").id("d@company.test").header("Cc", "carol@company.test");
    harness.feed(&declaration.bytes());
    let mut senders = Senders::new(harness.pipeline.config()).unwrap();
    let start = harness.now;
    assert_eq!(senders.drain(&mut harness.store, start).unwrap().deferred, 2);
    let outgoing = harness.pipeline.outgoing();
    assert_eq!(
        fallback::reroute_stalled(outgoing, &mut harness.store, start + SignedDuration::from_mins(5)).unwrap(),
        0
    );

    let later = start + SignedDuration::from_mins(11);
    assert_eq!(
        fallback::reroute_stalled(outgoing, &mut harness.store, later).unwrap(),
        1,
        "Alice's copy; Carol has none"
    );
    senders.drain(&mut harness.store, later).unwrap();
    let sent = read_all(&harness.data_dir().join("fallback-outbox"));
    assert!(sent.contains("Subject: [INC-1]") && sent.contains("From: sitrep <incident@ir-mail.test>"), "{sent}");
    assert_eq!(
        first_mail_deliveries(&harness),
        [
            ["alice@company.test", "rerouted", "primary"],
            ["alice@ir-mail.test", "sent", "fallback"],
            ["carol@company.test", "queued", "primary"],
        ],
        "Carol's copy waits for the primary relay"
    );
    let told: Vec<serde_json::Value> = harness.outbox().into_iter().filter(|row| row["kind"] == "relay-down").collect();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["to"], serde_json::json!(["bob@ir-mail.test"]), "the admin, where mail still arrives");
    assert!(sent.contains("the mail relay is down"), "{sent}");

    // A second stalled mail moves too, without a second notice.
    harness.now = later;
    harness.feed(&mail(ALICE, "Second fraud").id("d2@company.test").bytes());
    senders.drain(&mut harness.store, harness.now).unwrap();
    let much_later = harness.now + SignedDuration::from_mins(15);
    assert_eq!(fallback::reroute_stalled(harness.pipeline.outgoing(), &mut harness.store, much_later).unwrap(), 1);
    assert_eq!(harness.outbox().iter().filter(|row| row["kind"] == "relay-down").count(), 1);
    let ack =
        harness.outbox().into_iter().find(|row| row["subject"].as_str().unwrap().contains("Second fraud")).unwrap();
    assert!(ack["last_error"].as_str().unwrap().contains("sent to alice@ir-mail.test through the fallback relay"));
}

#[test]
fn out_of_band_settings_that_would_not_help_are_refused() {
    let parse = |edit: &dyn Fn(String) -> String| {
        let directory = tempfile::tempdir().unwrap();
        let text = edit(out_of_band_config("", "")(crate::support::config_text(directory.path())));
        Config::parse(&text, "test", directory.path()).map(drop).map_err(|error| error.to_string())
    };
    let inside = parse(&|text| text.replace("bob@ir-mail.test", "bob.ir@company.test")).unwrap_err();
    assert!(inside.contains("people.bob.out_of_band") && inside.contains("staff domain"), "{inside}");
    let own = parse(&|text| text.replace("address = \"incident@ir-mail.test\"", "address = \"ir@company.test\""))
        .unwrap_err();
    assert!(own.contains("fallback.address"), "{own}");
    let unvouched = parse(&|text| text + "[auth]\ntrusted_authserv_id = \"mx.company.test\"\n").unwrap_err();
    assert!(unvouched.contains("fallback.trusted_authserv_id"), "{unvouched}");
    let bad_relay =
        parse(&|text| text.replace("[fallback.transport]\nkind = \"file\"", "[fallback.transport]\nkind = \"pigeon\""))
            .unwrap_err();
    assert!(bad_relay.contains("fallback.transport.kind"), "{bad_relay}");
}

/// The first mail's deliveries: recipient, status and route of each.
fn first_mail_deliveries(harness: &Harness) -> Vec<[String; 3]> {
    let store = rusqlite::Connection::open(harness.pipeline.config().database_path()).unwrap();
    let mut statement =
        store.prepare("SELECT recipient, status, route FROM deliveries WHERE outbox = 1 ORDER BY recipient").unwrap();
    statement.query_map([], |row| Ok([row.get(0)?, row.get(1)?, row.get(2)?])).unwrap().map(Result::unwrap).collect()
}

/// Every file a file relay wrote, one after another.
fn read_all(directory: &std::path::Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default());
    }
    text
}

/// Digests held under the per-executive cap go out as one combined digest,
/// but an incident out of band is never combined: its digest goes alone.
#[test]
fn no_digest_names_an_out_of_band_incident_to_a_company_address() {
    let cap = "\n[limits]\ndigests_per_executive_per_hour = 1\n";
    let mut harness = Harness::with_config(|text| out_of_band_config("", "")(text) + cap);
    let secret = mail(ALICE, "Payroll diverted #oob [sev critical]").id("d1@company.test");
    harness.feed(&secret.bytes());
    harness.feed(&mail(BOB, "Website down [sev critical]").id("d2@company.test").bytes());
    harness.feed(&mail(BOB, "VPN logins from abroad [sev critical]").id("d3@company.test").bytes());
    let start = harness.now;
    for minute in (0..=240).step_by(5) {
        let now = start + SignedDuration::from_mins(minute);
        scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, now).unwrap();
    }
    let outbox = harness.outbox();
    let naming: Vec<&serde_json::Value> =
        outbox.iter().filter(|row| row["body"].as_str().unwrap().contains("Payroll diverted")).collect();
    assert!(naming.iter().any(|row| row["kind"] == "digest"), "its digests");
    assert!(outbox.iter().any(|row| row["kind"] == "digest" && row["incident"].is_null()), "a combined digest");
    for row in naming {
        let to = row["to"].as_array().unwrap();
        assert!(to.iter().all(|address| address.as_str().unwrap().ends_with("@ir-mail.test")), "{row}");
    }
    assert!(
        outbox.iter().any(|row| row["kind"] == "digest" && row["to"][0] == "cfo@company.test"),
        "the CFO still hears of the other incident"
    );
}

#[test]
fn mail_still_waiting_when_an_incident_moves_out_of_band_moves_with_it() {
    let mut harness = harness();
    let declaration = mail(ALICE, "Invoice fraud").id("d@company.test").header("Cc", "carol@company.test");
    harness.feed(&declaration.bytes());
    // Nothing was sent yet: the ack waits for the primary relay.
    harness.feed(&reply(ALICE, "channel out-of-band", "a1@company.test"));
    assert_eq!(
        first_mail_deliveries(&harness),
        [
            ["alice@company.test", "rerouted", "primary"],
            ["alice@ir-mail.test", "queued", "fallback"],
            ["carol@company.test", "withheld", "primary"],
        ]
    );
    // Asking to retry what did not go sends nothing withheld.
    assert_eq!(harness.store.retry(1, harness.now).unwrap(), 0);
    let mut senders = Senders::new(harness.pipeline.config()).unwrap();
    senders.drain(&mut harness.store, harness.now).unwrap();
    assert!(!harness.data_dir().join("outbox").exists() || read_all(&harness.data_dir().join("outbox")).is_empty());
    let sent = read_all(&harness.data_dir().join("fallback-outbox"));
    assert!(sent.contains("Subject: [INC-1] Invoice fraud"), "{sent}");
    // Readdressed: a reply to all from the out-of-band mailbox stays there.
    assert!(sent.contains("To: alice@ir-mail.test") && !sent.contains("carol@company.test"), "{sent}");
}

/// A mail a sender held when the incident moved stays off the primary
/// relay afterwards, and moves at the next pass.
#[test]
fn mail_handed_back_after_the_switch_never_leaves_through_the_primary_relay() {
    let down = "[transport]\nkind = \"sendmail\"\ncommand = \"/bin/false\"\n";
    let mut harness = Harness::with_config(out_of_band_config(down, ""));
    harness.feed(&mail(ALICE, "Invoice fraud").id("d@company.test").bytes());
    // In flight, and refused: back in the queue for the primary relay.
    let claimed = harness.store.claim_due(harness.now, SignedDuration::from_mins(5), 1, |_| false).unwrap();
    assert_eq!(claimed.len(), 1);
    harness.feed(&reply(ALICE, "channel out-of-band", "a1@company.test"));
    harness.store.release_claims(&[(1, "alice@company.test".to_string())], 1, harness.now).unwrap();
    let later = harness.now + SignedDuration::from_mins(1);
    assert!(harness.store.claim_due(later, SignedDuration::from_mins(5), 2, |_| false).unwrap().is_empty());
    fallback::reroute_stalled(harness.pipeline.outgoing(), &mut harness.store, later).unwrap();
    let mut senders = Senders::new(harness.pipeline.config()).unwrap();
    senders.drain(&mut harness.store, later).unwrap();
    let sent = read_all(&harness.data_dir().join("fallback-outbox"));
    assert!(sent.contains("Subject: [INC-1] Invoice fraud") && sent.contains("To: alice@ir-mail.test"), "{sent}");
}

/// Without [fallback], mail about an incident out of band goes nowhere.
#[test]
fn without_a_fallback_an_out_of_band_incident_mails_nobody() {
    let mut harness = harness();
    moved_out_of_band(&mut harness);
    let config =
        Config::parse(&crate::support::config_text(harness.directory.path()), "test", harness.directory.path());
    let pipeline = sitrep::pipeline::Pipeline::new(config.unwrap()).unwrap();
    let before = harness.outbox().len();
    let report = pipeline.ingest(&mut harness.store, &reply(BOB, "digest now", "b9@company.test"), "test", harness.now);
    assert!(report.is_ok());
    scheduler::tick(pipeline.outgoing(), &mut harness.store, harness.now + SignedDuration::from_hours(3)).unwrap();
    assert_eq!(harness.outbox().len(), before, "{:#?}", &harness.outbox()[before..]);
}

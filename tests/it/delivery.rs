//! Each delivery once: answers recorded one by one, claims that keep two
//! senders apart, no resend when the store cannot record, one repeat at
//! most after a crash between the relay's answer and the record.

use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use sitrep::core::triage::Outcome;
use sitrep::outbox::Sender;
use sitrep::store::Store;

use crate::support::{Harness, mail};

const ALICE: &str = "Alice Morgan <alice@company.test>";

fn declared(count: usize) -> Harness {
    let mut harness = Harness::new();
    for index in 0..count {
        let declaration = mail(ALICE, &format!("Incident {index}")).id(&format!("d{index}@company.test"));
        assert_eq!(harness.feed(&declaration.bytes()).outcome, Outcome::Declared);
    }
    harness
}

fn files(directory: &Path) -> usize {
    std::fs::read_dir(directory).map_or(0, |entries| entries.count())
}

const LEASE: SignedDuration = SignedDuration::from_mins(5);

/// `count` declarations acknowledged into the outbox, and two senders'
/// connections to the store.
fn two_senders(count: usize) -> (Harness, Store, Store) {
    let harness = declared(count);
    let path = harness.pipeline.config().database_path();
    let (first, second) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    (harness, first, second)
}

fn later() -> Timestamp {
    "2100-01-01T00:00:00Z".parse().unwrap()
}

#[test]
fn a_store_that_cannot_record_stops_the_sender_without_sending_again() {
    let harness = declared(2);
    let config = harness.pipeline.config();
    let outbox_dir = harness.data_dir().join("outbox");
    let mut store = Store::open(&config.database_path()).unwrap();
    let mut sender = Sender::new(&config.transport, config.first_retry).unwrap();
    // What a full disk does to the record of a delivery, and only to it.
    let refusing = rusqlite::Connection::open(config.database_path()).unwrap();
    refusing
        .execute_batch(
            "CREATE TRIGGER full_disk BEFORE UPDATE OF status ON deliveries WHEN NEW.status = 'sent'
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();
    for _ in 0..5 {
        assert!(sender.drain(&mut store, later()).is_err());
    }
    assert_eq!(files(&outbox_dir), 1, "the first ack went out once, and nothing after it");
    refusing.execute_batch("DROP TRIGGER full_disk").unwrap();
    let report = sender.drain(&mut store, later()).unwrap();
    assert_eq!(report.sent, 1, "the second ack, once the first is recorded");
    assert_eq!(files(&outbox_dir), 2);
    assert!(harness.outbox().iter().all(|row| row["status"] == "sent"), "{:#?}", harness.outbox());
}

#[test]
fn a_claimed_delivery_is_left_to_its_sender_until_the_lease_ends() {
    let (_harness, mut first, mut second) = two_senders(1);
    let (now, lease) = (later(), LEASE);
    let alive = |_| false;
    assert_eq!(first.claim_due(now, lease, 101, alive).unwrap().len(), 1);
    assert!(second.claim_due(now, lease, 102, alive).unwrap().is_empty(), "a second sender finds nothing to send");
    // A sender that claims again has recorded all it tried: its own claims
    // are left over from a pass that could not hand them back.
    assert_eq!(first.claim_due(now, lease, 101, alive).unwrap().len(), 1, "its own claims, untried");
    let after_lease = now + SignedDuration::from_mins(6);
    assert_eq!(second.claim_due(after_lease, lease, 102, alive).unwrap().len(), 1, "a silent sender's claim runs out");
}

#[test]
fn a_dead_senders_claim_is_taken_at_once() {
    let (harness, mut first, mut second) = two_senders(1);
    let (now, lease) = (later(), LEASE);
    assert_eq!(first.claim_due(now, lease, 101, |_| false).unwrap().len(), 1);
    let gone = |pid| pid == 101;
    let retaken = second.claim_due(now, lease, 102, gone).unwrap();
    assert_eq!(retaken.len(), 1, "the claim of a process that is gone is not waited for");
    assert!(first.claim_due(now, lease, 101, |_| false).unwrap().is_empty(), "and is now the second sender's");

    // The second sender dies on it too: a crash loop resends it only as its
    // lease runs out, not at every restart.
    let mut third = Store::open(&harness.pipeline.config().database_path()).unwrap();
    let both_gone = |pid| pid == 101 || pid == 102;
    assert!(third.claim_due(now, lease, 103, both_gone).unwrap().is_empty(), "not at once a second time");
    let after_lease = now + SignedDuration::from_mins(6);
    assert_eq!(third.claim_due(after_lease, lease, 103, both_gone).unwrap().len(), 1);
}

#[test]
fn a_retried_delivery_whose_sender_died_is_taken_at_once() {
    let (_harness, mut first, mut second) = two_senders(1);
    let (now, lease) = (later(), LEASE);
    let claimed = first.claim_due(now, lease, 101, |_| false).unwrap();
    let (id, recipient) = (claimed[0].id, claimed[0].recipients[0].address.clone());
    let retry = sitrep::store::Attempt::Retry { at: now, error: "421 try later".into() };
    first.record_attempts(&[(id, recipient, retry)], now).unwrap();
    assert_eq!(first.claim_due(now, lease, 101, |_| false).unwrap().len(), 1, "due again, claimed again");
    let gone = |pid| pid == 101;
    assert_eq!(second.claim_due(now, lease, 102, gone).unwrap().len(), 1, "its sender died: taken at once");
}

/// A pass that outlives its lease (a relay that hangs) checks each claim
/// before it sends: what another sender took meanwhile is not sent twice.
#[test]
fn a_pass_that_outlived_its_lease_sends_nothing_another_sender_took() {
    let (_harness, mut slow, mut other) = two_senders(2);
    let (now, lease) = (later(), LEASE);
    let claimed = slow.claim_due(now, lease, 101, |_| false).unwrap();
    assert_eq!(claimed.len(), 2);
    let recipients = |mail: &sitrep::store::PendingMail| -> Vec<String> {
        mail.recipients.iter().map(|recipient| recipient.address.clone()).collect()
    };
    let (first, second) = (recipients(&claimed[0]), recipients(&claimed[1]));
    // The first delivery hangs past the lease; another sender takes the rest.
    let after_lease = now + SignedDuration::from_mins(6);
    assert_eq!(other.claim_due(after_lease, lease, 102, |_| false).unwrap().len(), 2);
    let attempts: Vec<_> = first.iter().map(|to| (claimed[0].id, to.clone(), sitrep::store::Attempt::Sent)).collect();
    let renewal =
        sitrep::store::Renewal { outbox: claimed[1].id, recipients: &second, claimer: 101, until: after_lease };
    let still_ours = slow.record_and_renew(&attempts, Some(renewal), after_lease).unwrap();
    assert!(still_ours.is_empty(), "the slow sender must not send what the other took: {still_ours:?}");
    // Handing back what it did not try leaves the other's claim alone.
    let untried: Vec<(i64, String)> = second.iter().map(|to| (claimed[1].id, to.clone())).collect();
    slow.release_claims(&untried, 101, after_lease).unwrap();
    assert!(slow.claim_due(after_lease, lease, 103, |_| false).unwrap().is_empty(), "still the other sender's");
}

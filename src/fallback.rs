//! Fallback delivery: mail the primary relay has failed to send for longer
//! than `[fallback] after` goes to the out-of-band addresses of the people
//! it was for, through the fallback relay; the admins are told once each
//! time the primary relay stops delivering.

use jiff::{SignedDuration, Timestamp};
use tracing::warn;

use crate::core::deadline::describe_duration;
use crate::core::incident::MailKind;
use crate::outgoing::{Outgoing, OutgoingError, move_waiting_out_of_band, queue_mail, queue_out_of_band, standalone};
use crate::store::{Store, WriteTx};

/// Moves the deliveries that waited too long, and any mail about an
/// incident out of band that still waits for the primary relay; returns how
/// many deliveries moved for waiting too long.
pub fn reroute_stalled(outgoing: &Outgoing, store: &mut Store, now: Timestamp) -> Result<usize, OutgoingError> {
    let config = outgoing.config();
    if store.out_of_band_waiting()? {
        let transaction = store.write()?;
        move_waiting_out_of_band(config, &transaction, now)?;
        transaction.commit()?;
    }
    let Some(after) = config.fallback.as_ref().and_then(|fallback| fallback.after) else { return Ok(0) };
    let waited = SignedDuration::try_from(after).unwrap_or(SignedDuration::from_mins(10));
    let stalled = store.stalled_deliveries(now - waited)?;
    if stalled.is_empty() {
        return Ok(0);
    }
    let waited_for = spoken(after);
    let transaction = store.write()?;
    let mut moved = 0;
    for (outbox, recipient) in &stalled {
        let Some(elsewhere) = config.out_of_band.get(recipient) else { continue };
        let reason =
            format!("the primary relay failed for over {waited_for}; sent to {elsewhere} through the fallback relay");
        if transaction.reroute(*outbox, recipient, elsewhere, &reason, now)? {
            moved += 1;
        }
    }
    // Told even when nobody could be reached another way: the relay is down.
    if !transaction.told_relay_down()? {
        tell_admins(outgoing, &transaction, moved, &waited_for, now)?;
    }
    transaction.commit()?;
    if moved > 0 {
        warn!(moved, waited_for, "the primary relay has failed for too long: mail goes to out-of-band addresses");
    }
    Ok(moved)
}

/// "10 min", or "45 s" under a minute.
fn spoken(after: std::time::Duration) -> String {
    match after.as_secs() {
        seconds @ 0..60 => format!("{seconds} s"),
        seconds => describe_duration(SignedDuration::from_secs(seconds as i64)),
    }
}

/// Each admin, at their out-of-band address if they have one (the primary
/// relay is what fails), else in the queue for when it works again.
fn tell_admins(
    outgoing: &Outgoing,
    transaction: &WriteTx<'_>,
    moved: usize,
    waited_for: &str,
    now: Timestamp,
) -> Result<(), OutgoingError> {
    let config = outgoing.config();
    let body = format!(
        "The primary mail relay has delivered nothing for over {waited_for}, and mail is waiting.\n\n\
         From now on, mail for people with an out-of-band address goes to that address through the fallback\n\
         relay ({moved} so far). Mail for everyone else waits in the outbox and leaves when the primary relay\n\
         works again. `sitrep doctor` checks the relay; `sitrep status` shows what waits.\n\n\
         This notice is not repeated until the primary relay has delivered again.\n\n\
         -- \nsitrep, the incident coordinator at {}\n",
        config.address.with_detail(None)
    );
    let subject = "sitrep: the mail relay is down; mail goes out of band".to_string();
    for admin in &config.admins {
        let draft = standalone(config, admin, subject.clone(), body.clone(), None);
        match config.out_of_band.contains_key(admin) {
            true => queue_out_of_band(config, transaction, MailKind::RelayDown, None, draft, now)?,
            false => queue_mail(config, transaction, MailKind::RelayDown, None, draft, now)?,
        }
    }
    Ok(())
}

//! Group commit: messages that wait together are processed in one
//! transaction, each in a part of it that can be undone alone, so that a
//! backlog pays one commit (one fsync) for many messages. A message that
//! fails is undone and ends the batch, which commits what came before it;
//! first in line next time, it is processed alone as `ingest` does, with
//! the quarantine of a fault: one bad message never costs the others, and
//! messages are taken in order.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use tracing::warn;

use super::{Arrival, IngestError, IngestReport, Pipeline};
use crate::store::Store;

/// At most this many messages share a commit.
pub const BATCH_MESSAGES: usize = 64;

/// A batch takes no more messages after this much work, so a commit (and
/// the replies it releases) is never far off.
const BATCH_WORK: Duration = Duration::from_millis(20);

impl Pipeline {
    /// Processes the first of the `waiting` messages in one transaction, up
    /// to `BATCH_MESSAGES` or `BATCH_WORK`, and returns a report for each one
    /// processed, in order: the caller marks those done at their source, then
    /// calls again with the rest. One message takes the path of `ingest`.
    pub fn ingest_batch(
        &self,
        store: &mut Store,
        waiting: &[(&[u8], Arrival<'_>)],
        now: Timestamp,
    ) -> Result<Vec<IngestReport>, IngestError> {
        match waiting {
            [] => return Ok(Vec::new()),
            [(raw, arrival)] => return Ok(vec![self.ingest_arrival(store, raw, arrival, now)?]),
            _ => {}
        }
        let started = Instant::now();
        let transaction = store.write()?;
        let mut reports = Vec::new();
        let mut failed = false;
        for (raw, arrival) in waiting.iter().take(BATCH_MESSAGES) {
            if !reports.is_empty() && started.elapsed() > BATCH_WORK {
                break;
            }
            transaction.begin_part()?;
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.process_in(&transaction, raw, arrival, now, None)
            }));
            match attempt {
                Ok(Ok(report)) => {
                    transaction.keep_part()?;
                    reports.push(report);
                    continue;
                }
                Ok(Err(error)) => warn!(source = arrival.source, %error, "failed in a batch; taken alone"),
                Err(_) => warn!(source = arrival.source, "a bug in a batch; taken alone"),
            }
            // Nothing after it is taken in this batch: an IMAP folder's
            // cursor must never pass a message that is not committed.
            transaction.undo_part()?;
            failed = true;
            break;
        }
        transaction.commit()?;
        if failed && reports.is_empty() {
            let (raw, arrival) = &waiting[0];
            return Ok(vec![self.ingest_arrival(store, raw, arrival, now)?]);
        }
        Ok(reports)
    }
}

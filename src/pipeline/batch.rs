//! Group commit: messages that wait together are processed in one
//! transaction, each in a part of it that can be undone alone, so that a
//! backlog pays one commit (one fsync) for many messages. A message that
//! fails is undone and, after the commit, processed alone as `ingest` does,
//! with the quarantine of a fault: one bad message never costs the batch.

use std::time::{Duration, Instant};

use jiff::Timestamp;

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
        let mut done: Vec<Option<IngestReport>> = Vec::new();
        for (raw, arrival) in waiting.iter().take(BATCH_MESSAGES) {
            if !done.is_empty() && started.elapsed() > BATCH_WORK {
                break;
            }
            transaction.begin_part()?;
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.process_in(&transaction, raw, arrival, now, None)
            }));
            match attempt {
                Ok(Ok(report)) => {
                    transaction.keep_part()?;
                    done.push(Some(report));
                }
                _ => {
                    transaction.undo_part()?;
                    done.push(None);
                }
            }
        }
        transaction.commit()?;
        let mut reports = Vec::with_capacity(done.len());
        for (report, (raw, arrival)) in done.into_iter().zip(waiting) {
            let report = match report {
                Some(report) => report,
                None => match self.ingest_arrival(store, raw, arrival, now) {
                    Ok(report) => report,
                    Err(error) if reports.is_empty() => return Err(error),
                    // Those before it are reported, to be marked done; it is
                    // first in line next time, and those after it, already
                    // committed, are then found identical and only marked.
                    Err(_) => break,
                },
            };
            reports.push(report);
        }
        Ok(reports)
    }
}

//! Daily care of the store while the daemon runs: SQLite's full
//! `integrity_check`, timed, and a copy in `[backup] dir` of which the newest
//! `keep` stay. A store that fails the check stops the daemon (exit 78):
//! restarting cannot mend it, and taking more mail would bury the damage.

use std::path::{Path, PathBuf};
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use tracing::{info, warn};

use crate::config::{Backup, Config};
use crate::store::{Store, StoreError};

/// How often each kind of care is due.
pub const EVERY: SignedDuration = SignedDuration::from_hours(24);

/// A backup's file name holds its time: `sitrep-20261202T124500Z.db`.
const NAME_FORMAT: &str = "sitrep-%Y%m%dT%H%M%SZ.db";

#[derive(Debug, thiserror::Error)]
pub enum CareError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot back up the store to {path}: {source}")]
    Backup { path: PathBuf, source: std::io::Error },
}

/// Runs the care that is due at `now`; returns when some is next due.
pub fn care(config: &Config, store: &mut Store, now: Timestamp) -> Result<Timestamp, CareError> {
    let mut next = now + EVERY;
    match store.checked_at()? {
        Some(checked) if checked + EVERY > now => next = next.min(checked + EVERY),
        _ => {
            let started = Instant::now();
            store.integrity_check()?;
            store.set_checked_at(now)?;
            info!(seconds = started.elapsed().as_secs_f64(), "the store passed SQLite's integrity_check");
        }
    }
    if let Some(backup) = &config.backup {
        let existing = backups(&backup.dir).map_err(|source| CareError::Backup { path: backup.dir.clone(), source })?;
        match existing.last() {
            Some((newest, _)) if *newest + EVERY > now => next = next.min(*newest + EVERY),
            _ => back_up(store, backup, existing, now)?,
        }
    }
    Ok(next)
}

/// Writes under a temporary name and renames, so a backup cut short by a
/// crash is never taken for the newest; then removes all but the newest `keep`.
fn back_up(
    store: &Store,
    backup: &Backup,
    mut existing: Vec<(Timestamp, PathBuf)>,
    now: Timestamp,
) -> Result<(), CareError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CareError::Backup { path, source }
    };
    std::fs::create_dir_all(&backup.dir).map_err(io(&backup.dir))?;
    let path = backup.dir.join(now.strftime(NAME_FORMAT).to_string());
    let partial = backup.dir.join(format!(".{}.partial", now.strftime(NAME_FORMAT)));
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(io(&partial))?;
    }
    let started = Instant::now();
    store.backup(&partial)?;
    std::fs::rename(&partial, &path).map_err(io(&path))?;
    info!(path = %path.display(), seconds = started.elapsed().as_secs_f64(), "store backed up");
    existing.push((now, path));
    for (_, old) in to_remove(&existing, backup.keep) {
        if let Err(error) = std::fs::remove_file(old) {
            warn!(path = %old.display(), %error, "cannot remove an old backup");
        }
    }
    Ok(())
}

/// The backups in `dir`, oldest first; other files are not sitrep's.
fn backups(dir: &Path) -> std::io::Result<Vec<(Timestamp, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(at) = entry.file_name().to_str().and_then(backup_time) {
            found.push((at, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn backup_time(name: &str) -> Option<Timestamp> {
    let civil = jiff::civil::DateTime::strptime(NAME_FORMAT, name).ok()?;
    Some(civil.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok()?.timestamp())
}

/// All but the newest `keep` of `backups` (oldest first).
fn to_remove(backups: &[(Timestamp, PathBuf)], keep: usize) -> &[(Timestamp, PathBuf)] {
    &backups[..backups.len().saturating_sub(keep)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_name_carries_its_time_and_other_names_are_not_backups() {
        let at: Timestamp = "2026-12-02T12:45:00Z".parse().unwrap();
        let name = at.strftime(NAME_FORMAT).to_string();
        assert_eq!(name, "sitrep-20261202T124500Z.db");
        assert_eq!(backup_time(&name), Some(at));
        for other in ["sitrep.db", ".sitrep-20261202T124500Z.db.partial", "notes.txt", "sitrep-2026.db"] {
            assert_eq!(backup_time(other), None, "{other}");
        }
    }

    #[test]
    fn only_the_newest_are_kept() {
        let day = |d: i64| {
            (
                "2026-12-01T00:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_hours(24 * d),
                PathBuf::from(format!("{d}")),
            )
        };
        let backups: Vec<_> = (0..5).map(day).collect();
        let removed: Vec<&PathBuf> = to_remove(&backups, 3).iter().map(|(_, path)| path).collect();
        assert_eq!(removed, [&PathBuf::from("0"), &PathBuf::from("1")]);
        assert!(to_remove(&backups, 7).is_empty());
    }
}

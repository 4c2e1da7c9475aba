//! Crash points for the recovery tests: `SITREP_FAILPOINT=<name>` makes the
//! process abort where a power cut would hurt most. Unset, nothing happens.

/// Aborts the process when `SITREP_FAILPOINT` names this point.
pub fn crash_at(name: &str) {
    if std::env::var_os("SITREP_FAILPOINT").is_some_and(|value| value == name) {
        std::process::abort();
    }
}

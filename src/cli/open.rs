//! Read commands open the store the daemon writes, as the daemon's user
//! would: created if absent, and handed back to its owner when run as root.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{ExitWith, Failure};
use crate::config::Config;
use crate::store::Store;

/// Read commands open the store the daemon writes; they create it if absent
/// so that a fresh install answers "No incidents." rather than an error.
pub(super) fn open_existing(config: &Config) -> Result<OpenStore, Failure> {
    let path = config.database_path();
    let owner = StoreOwner::of(&path);
    let store =
        Store::open(&path).with_context(|| format!("cannot open the store at {}", path.display())).exit_with(1)?;
    Ok(OpenStore { store, _owner: owner })
}

/// A store opened by a command, and what to tidy when it closes.
pub(super) struct OpenStore {
    // Declared first: the connection closes before the owner is restored.
    store: Store,
    _owner: Option<StoreOwner>,
}

impl std::ops::Deref for OpenStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl std::ops::DerefMut for OpenStore {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// Root running `sitrep status` on the store of a service with its own user
/// (`DynamicUser=yes`) would leave root-owned `-wal` and `-shm` files that
/// the service cannot open; they are handed back to the store's owner.
struct StoreOwner {
    database: PathBuf,
    uid: u32,
    gid: u32,
}

impl StoreOwner {
    fn of(database: &Path) -> Option<StoreOwner> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(database).ok()?;
        let root = rustix::process::geteuid().is_root();
        (root && metadata.uid() != 0).then(|| StoreOwner {
            database: database.to_path_buf(),
            uid: metadata.uid(),
            gid: metadata.gid(),
        })
    }
}

impl Drop for StoreOwner {
    fn drop(&mut self) {
        for suffix in ["-wal", "-shm"] {
            let mut name = self.database.clone().into_os_string();
            name.push(suffix);
            let file = PathBuf::from(name);
            if file.exists()
                && let Err(error) = std::os::unix::fs::chown(&file, Some(self.uid), Some(self.gid))
            {
                tracing::warn!(file = %file.display(), %error, "cannot give the file back to the store's owner");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_hands_the_write_ahead_log_back_to_the_stores_owner() {
        use std::os::unix::fs::MetadataExt;
        if !rustix::process::geteuid().is_root() {
            assert!(std::env::var_os("CI").is_none(), "CI runs the tests as root");
            eprintln!("skipped: only root can change owners");
            return;
        }
        let directory = tempfile::tempdir().unwrap();
        let database = directory.path().join("sitrep.db");
        std::fs::write(&database, b"").unwrap();
        std::os::unix::fs::chown(&database, Some(61_234), Some(61_234)).unwrap();
        let owner = StoreOwner::of(&database).expect("root, and the store belongs to another user");
        for suffix in ["-wal", "-shm"] {
            std::fs::write(directory.path().join(format!("sitrep.db{suffix}")), b"").unwrap();
        }
        drop(owner);
        for suffix in ["-wal", "-shm"] {
            let metadata = std::fs::metadata(directory.path().join(format!("sitrep.db{suffix}"))).unwrap();
            assert_eq!((metadata.uid(), metadata.gid()), (61_234, 61_234), "{suffix}");
        }
        std::os::unix::fs::chown(&database, Some(0), Some(0)).unwrap();
        assert!(StoreOwner::of(&database).is_none(), "root's own store needs nothing");
    }
}

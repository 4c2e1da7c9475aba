//! The Maildir mailbox: new mail is a file in `new/`; once its transaction
//! has committed it moves to `cur/`, which is how it is marked done.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A file modified more recently than this may still be being written by a
/// plain copy (rather than Maildir's write-to-tmp-then-rename), so it waits
/// for the next pass.
const SETTLE_TIME: Duration = Duration::from_millis(100);

pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating `new/`, `cur/` and `tmp/`.
    pub fn open(root: &Path) -> io::Result<Maildir> {
        for folder in ["new", "cur", "tmp"] {
            fs::create_dir_all(root.join(folder))?;
        }
        Ok(Maildir { root: root.to_path_buf() })
    }

    /// Messages waiting in `new/`, oldest first (by time, then name).
    pub fn pending(&self) -> io::Result<Vec<PathBuf>> {
        let mut entries: Vec<(SystemTime, PathBuf)> = Vec::new();
        for entry in fs::read_dir(self.root.join("new"))? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let metadata = match entry.metadata() {
                Ok(metadata) if metadata.is_file() => metadata,
                // Gone already, or not a message file.
                _ => continue,
            };
            let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if modified.elapsed().is_ok_and(|age| age < SETTLE_TIME) {
                continue;
            }
            entries.push((modified, entry.path()));
        }
        entries.sort();
        Ok(entries.into_iter().map(|(_, path)| path).collect())
    }

    /// Moves a processed message from `new/` to `cur/` with no flags set,
    /// so a person reading the mailbox still sees it as unread.
    pub fn mark_done(&self, message: &Path) -> io::Result<()> {
        let name = message
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "message path has no file name"))?;
        let mut done_name = name.to_os_string();
        if !name.to_string_lossy().contains(":2,") {
            done_name.push(":2,");
        }
        fs::rename(message, self.root.join("cur").join(done_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_oldest_first_and_moves_to_cur() {
        let directory = tempfile::tempdir().unwrap();
        let maildir = Maildir::open(directory.path()).unwrap();
        let new = directory.path().join("new");
        let age = |name: &str, seconds: u64| {
            let file = fs::File::options().write(true).open(new.join(name)).unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(seconds)).unwrap();
        };
        fs::write(new.join("2.host"), "b").unwrap();
        fs::write(new.join("1.host"), "a").unwrap();
        fs::write(new.join(".hidden"), "x").unwrap();
        age("2.host", 60);
        age("1.host", 30);
        fs::write(new.join("3.host"), "being written").unwrap();
        let pending = maildir.pending().unwrap();
        assert_eq!(pending, vec![new.join("2.host"), new.join("1.host")], "3.host is too fresh");
        maildir.mark_done(&pending[0]).unwrap();
        assert!(directory.path().join("cur/2.host:2,").exists());
        assert_eq!(maildir.pending().unwrap(), vec![new.join("1.host")]);
    }
}

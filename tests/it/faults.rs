//! Real faults under a running `sitrep run`: the store's disk fills up
//! (a small tmpfs) or another process locks the store, while mail arrives
//! and a pass of deliveries is under way. The daemon waits it out: no
//! message is lost, no mail goes out twice, it keeps running.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Running;

/// Three declarations and the reply asking for digests.
const STORED_BEFORE_THE_FAULT: usize = 4;

/// The daemon's busy timeout on the store (src/store/mod.rs).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A test's folders beside its `sitrep.toml`: the store's data directory,
/// and outside it the Maildir, the file transport's folder and the log, so
/// mail still arrives and leaves while the store's disk is full.
struct Home {
    directory: tempfile::TempDir,
    /// `digest now` queues one digest to each, all claimed in one pass over
    /// the outbox, so that a fault can land in the middle of it.
    executives: usize,
}

impl Home {
    fn new(executives: usize) -> Home {
        let home = Home { directory: tempfile::tempdir().unwrap(), executives };
        std::fs::create_dir_all(home.store()).unwrap();
        for folder in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(home.inbox().join(folder)).unwrap();
        }
        let executives: Vec<String> = (1..=executives).map(|number| format!("\"exec{number}@company.test\"")).collect();
        let config = format!(
            r#"address = "incident@company.test"
data_dir = "{store}"

[mailbox]
kind = "maildir"
path = "{inbox}"
poll_interval_ms = 50

[transport]
kind = "file"
path = "{outbox}"

[access]
staff_domains = ["company.test"]

[stakeholders]
executives = [{executives}]

[limits]
declarations_per_sender_per_hour = 1000
declarations_per_hour = 1000
digests_per_executive_per_hour = 0
"#,
            store = home.store().display(),
            inbox = home.inbox().display(),
            outbox = home.outbox().display(),
            executives = executives.join(", "),
        );
        std::fs::write(home.path().join("sitrep.toml"), config).unwrap();
        home
    }

    fn path(&self) -> &Path {
        self.directory.path()
    }

    fn store(&self) -> PathBuf {
        self.path().join("store")
    }

    fn inbox(&self) -> PathBuf {
        self.path().join("inbox")
    }

    fn outbox(&self) -> PathBuf {
        self.path().join("outbox")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("sitrep.log")).unwrap_or_default()
    }

    fn start(&self) -> Running {
        let log = std::fs::File::create(self.path().join("sitrep.log")).unwrap();
        Running(
            Command::new(env!("CARGO_BIN_EXE_sitrep"))
                .arg("run")
                .current_dir(self.path())
                .env_remove("SITREP_FAILPOINT")
                .env("RUST_LOG", "info")
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap(),
        )
    }

    /// Delivers like an MTA: written in tmp/, then renamed into new/.
    fn deliver(&self, raw: &[u8]) {
        let name = format!("{}.M{}P1.host", files_in(&self.inbox().join("cur")).len(), fastrand::u64(..));
        let temporary = self.inbox().join("tmp").join(&name);
        std::fs::write(&temporary, raw).unwrap();
        std::fs::rename(&temporary, self.inbox().join("new").join(name)).unwrap();
    }

    fn export(&self) -> serde_json::Value {
        let output = Command::new(env!("CARGO_BIN_EXE_sitrep"))
            .args(["export", "--json"])
            .current_dir(self.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// How many files the file transport wrote for each Message-ID.
    fn copies_sent(&self) -> HashMap<String, usize> {
        let mut copies = HashMap::new();
        for path in files_in(&self.outbox()) {
            let text = std::fs::read_to_string(&path).unwrap();
            let id = text
                .lines()
                .find_map(|line| line.strip_prefix("Message-ID:"))
                .unwrap_or_else(|| panic!("{} has no Message-ID", path.display()))
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string();
            *copies.entry(id).or_default() += 1;
        }
        copies
    }

    /// Whether every delivered message is stored and done, and every mail
    /// queued has gone out.
    fn all_done(&self, delivered: usize) -> bool {
        if !files_in(&self.inbox().join("new")).is_empty() {
            return false;
        }
        let document = self.export();
        document["messages"].as_array().unwrap().len() == delivered
            && document["outbox"].as_array().unwrap().iter().all(|row| row["status"] == "sent")
    }

    /// Waits for `all_done`, failing with what is still missing.
    fn wait_until_all_done(&self, delivered: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.all_done(delivered) {
            if Instant::now() > deadline {
                let document = self.export();
                let unsent: Vec<String> = document["outbox"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|row| row["status"] != "sent")
                    .map(|row| format!("{} to {} {}: {}", row["kind"], row["to"], row["status"], row["last_error"]))
                    .collect();
                panic!(
                    "after 20 s, {} of {delivered} messages stored, {} waiting in new/, {} mails unsent:\n{}\nlog:\n{}",
                    document["messages"].as_array().unwrap().len(),
                    files_in(&self.inbox().join("new")).len(),
                    unsent.len(),
                    unsent.join("\n"),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// While the fault lasts: every message that came is stored or waiting
    /// in new/ (a commit may still fit in the write-ahead log's free pages),
    /// and the sender is caught between a delivery and its record (one more
    /// mail written than recorded as sent), else the fault missed the pass.
    fn assert_held_back(&self, delivered: usize) {
        let waiting = files_in(&self.inbox().join("new")).len();
        let document = self.export();
        let stored = document["messages"].as_array().unwrap().len();
        assert_eq!(stored + waiting, delivered, "each message is stored or waiting, none lost");
        let recorded = document["outbox"].as_array().unwrap().iter().filter(|row| row["status"] == "sent").count();
        let written = files_in(&self.outbox()).len();
        assert_eq!(written, recorded + 1, "one mail went out whose record waits; else the fault missed the pass");
    }

    /// Error and warning lines logged after the first `from` bytes, each
    /// without its time stamp, with how often it came.
    fn trouble_logged_since(&self, from: usize) -> HashMap<String, usize> {
        let mut trouble = HashMap::new();
        let log = self.log();
        for line in log.get(from..).unwrap_or_default().lines() {
            if line.contains(" ERROR ") || line.contains(" WARN ") {
                let (_, said) = line.split_once(' ').unwrap_or(("", line));
                *trouble.entry(said.trim().to_string()).or_default() += 1;
            }
        }
        trouble
    }
}

/// A tmpfs mounted for the test, unmounted when it ends, however it ends.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs on {}", path.display());
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.0).status().is_ok_and(|status| status.success());
        if !unmounted {
            // Still busy: detach it anyway, so no mount outlives the test.
            let _ = Command::new("umount").arg("--lazy").arg(&self.0).status();
        }
    }
}

/// Whether this process may mount: outside CI a test that needs it is
/// skipped with a note; CI must run it.
fn may_mount() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI must run the fault tests as root: they mount a tmpfs");
    eprintln!("skipped: mounting a tmpfs needs root");
    false
}

/// Writes `path` until its disk is full, to the last byte it will take.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::StorageFull => break,
            Err(error) => panic!("filling {}: {error}", path.display()),
        }
    }
}

/// A busy handler that tries again at once, for as long as it takes.
fn retry_at_once(_attempts: i32) -> bool {
    std::thread::yield_now();
    true
}

fn files_in(directory: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(directory) {
        Ok(entries) => entries.map(|entry| entry.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits for `condition`, failing with `what` after `limit`. `every` is
/// short where the moment matters (a pass over the outbox takes tens of
/// milliseconds).
fn wait_for(what: &str, limit: Duration, every: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(every);
    }
}

fn declaration(number: usize) -> Vec<u8> {
    format!(
        "From: Alice Morgan <alice@company.test>\r\nTo: incident@company.test\r\nSubject: Laptop {number} stolen\r\nMessage-ID: <decl{number}@company.test>\r\n\r\nLeft on a train, number {number}.\r\n"
    )
    .into_bytes()
}

/// A reply from Bob on the thread of declaration `to`.
fn reply(number: usize, to: usize, text: &str) -> Vec<u8> {
    format!(
        "From: Ben Carter <bob@company.test>\r\nTo: incident@company.test\r\nSubject: Re: Laptop {to} stolen\r\nMessage-ID: <reply{number}@company.test>\r\nIn-Reply-To: <decl{to}@company.test>\r\nReferences: <decl{to}@company.test>\r\n\r\n{text}\r\n"
    )
    .into_bytes()
}

/// Starts the daemon on `home` and has three declarations acknowledged.
fn running_with_three_incidents(home: &Home) -> Running {
    let daemon = home.start();
    for number in 1..=3 {
        home.deliver(&declaration(number));
    }
    wait_for("the three acknowledgements", Duration::from_secs(20), Duration::from_millis(20), || {
        home.all_done(3) && files_in(&home.outbox()).len() == 3
    });
    daemon
}

/// Asks for a digest to every executive, and brings on `fault` as soon as
/// the first mail of that pass over the outbox is written.
fn fault_during_a_pass(home: &Home, fault: impl FnOnce()) {
    home.deliver(&reply(1, 1, "digest now\r\n\r\nThe board should hear of this."));
    wait_for("the pass of digests to begin", Duration::from_secs(20), Duration::from_millis(1), || {
        files_in(&home.outbox()).len() > 3
    });
    fault();
}

/// Mail that arrives while the store cannot be written: three more
/// declarations and replies on old and new threads. Returns how many.
fn more_mail(home: &Home) -> usize {
    for number in 4..=6 {
        home.deliver(&declaration(number));
    }
    home.deliver(&reply(2, 2, "The disk was encrypted.\r\n\r\nseverity high"));
    home.deliver(&reply(3, 3, "Police report filed."));
    home.deliver(&reply(4, 5, "Found it at the lost property office.\r\n\r\nclose: found"));
    6
}

/// Each mail queued went out exactly once, every message delivered was
/// stored and marked done.
fn assert_each_mail_sent_once_and_nothing_lost(home: &Home, delivered: usize) {
    let document = home.export();
    let rows = document["outbox"].as_array().unwrap();
    let copies = home.copies_sent();
    for row in rows {
        let id = row["message_id"].as_str().unwrap();
        let sent = copies.get(id).copied().unwrap_or(0);
        assert_eq!(sent, 1, "{} to {} ({id}) went out {sent} times", row["kind"], row["to"]);
    }
    assert_eq!(copies.values().sum::<usize>(), rows.len(), "no mail went out that the outbox does not hold");
    assert!(rows.iter().filter(|row| row["kind"] == "digest").count() >= home.executives, "the digests were queued");

    let messages = document["messages"].as_array().unwrap();
    let mut stored: Vec<&str> = messages.iter().map(|message| message["message_id"].as_str().unwrap()).collect();
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), delivered, "each message stored once: {stored:?}");
    assert!(files_in(&home.inbox().join("new")).is_empty(), "nothing left waiting in new/");
    assert_eq!(files_in(&home.inbox().join("cur")).len(), delivered, "every message marked done");
}

/// The store's disk fills up in the middle of a pass of deliveries and
/// stays full while mail arrives. The mail a delivery went out for is not
/// sent again when the record of it finally succeeds; mail that could not
/// be stored waits in new/ and is taken when there is room.
#[test]
fn a_full_disk_never_resends_what_was_delivered() {
    if !may_mount() {
        return;
    }
    // Few enough that the store's growth after the disk is freed fits.
    let home = Home::new(50);
    let _tmpfs = Tmpfs::mount(&home.store(), "4m");
    let mut daemon = running_with_three_incidents(&home);
    let filler = home.store().join("filler");
    fault_during_a_pass(&home, || fill(&filler));
    let delivered = STORED_BEFORE_THE_FAULT + more_mail(&home);

    // Long enough for the sender to fail and back off several times.
    let log_before = home.log().len();
    std::thread::sleep(Duration::from_secs(6));
    let trouble = home.trouble_logged_since(log_before);
    assert!(daemon.is_running(), "sitrep stopped on a full disk:\n{}", home.log());
    home.assert_held_back(delivered);

    std::fs::remove_file(&filler).unwrap();
    home.wait_until_all_done(delivered);
    assert_each_mail_sent_once_and_nothing_lost(&home, delivered);
    assert!(daemon.is_running(), "{}", home.log());
    assert_eq!(daemon.terminate(), Some(0), "{}", home.log());
    // Trouble that lasts is reported about once a minute, not on every try.
    let lines: usize = trouble.values().sum();
    assert!(lines <= 6, "{lines} error lines in 6 seconds of a full disk, by what they say:\n{trouble:#?}");
}

/// Another process holds the store's write lock longer than the daemon's
/// busy timeout, in the middle of a pass of deliveries and while mail
/// arrives. Nothing is sent twice, nothing is lost, the daemon carries on.
#[test]
fn a_locked_store_never_resends_what_was_delivered() {
    // Many, so that the lock is taken before the pass is over.
    let home = Home::new(200);
    let mut daemon = running_with_three_incidents(&home);
    let mut locker = rusqlite::Connection::open(home.store().join("sitrep.db")).unwrap();
    // Retry at once, not after SQLite's growing sleeps: the lock is to be
    // taken between two deliveries of the pass, not after the pass.
    locker.busy_handler(Some(retry_at_once)).unwrap();
    fault_during_a_pass(&home, || locker.execute_batch("BEGIN EXCLUSIVE").unwrap());
    let locked_at = Instant::now();
    let delivered = STORED_BEFORE_THE_FAULT + more_mail(&home);

    // Longer than the busy timeout, so the daemon's waits run out.
    std::thread::sleep((BUSY_TIMEOUT + Duration::from_secs(3)).saturating_sub(locked_at.elapsed()));
    assert!(daemon.is_running(), "sitrep stopped on a locked store:\n{}", home.log());
    home.assert_held_back(delivered);
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);

    home.wait_until_all_done(delivered);
    assert_each_mail_sent_once_and_nothing_lost(&home, delivered);
    assert!(daemon.is_running(), "{}", home.log());
    assert_eq!(daemon.terminate(), Some(0), "{}", home.log());
}

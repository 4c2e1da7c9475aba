use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use jiff::Timestamp;
use sitrep::config::Config;
use sitrep::export::{self, Export};
use sitrep::pipeline::{IngestReport, Pipeline};
use sitrep::store::Store;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/eml");

/// A fixture from another folder under `tests/fixtures`.
pub fn fixture_in(folder: &str, name: &str) -> Vec<u8> {
    let path = Path::new(FIXTURES).parent().unwrap().join(folder).join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(FIXTURES).join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A config for `incident@company.test` with data under `directory`.
pub fn config_text(directory: &Path) -> String {
    format!(
        r#"
address = "incident@company.test"
data_dir = "{data}"

[mailbox]
kind = "maildir"
path = "{data}/inbox"
poll_interval_ms = 20

[transport]
kind = "file"
path = "{data}/outbox"

[access]
staff_domains = ["company.test"]
staff_addresses = ["soc@mssp.test"]

[stakeholders]
executives = ["ceo@company.test", "cfo@company.test"]

# The tests of playbooks turn this on; the rest keep to what they test.
[playbooks]
suggest = false
"#,
        data = directory.join("var").display()
    )
}

pub struct Harness {
    pub directory: tempfile::TempDir,
    pub pipeline: Pipeline,
    pub store: Store,
    pub now: Timestamp,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_extra_config("")
    }

    /// With more TOML appended to the test config, e.g. a `[limits]` table.
    pub fn with_extra_config(extra: &str) -> Harness {
        Harness::with_config(|text| text + extra)
    }

    /// With the test config rewritten by `edit`.
    pub fn with_config(edit: impl FnOnce(String) -> String) -> Harness {
        let directory = tempfile::tempdir().unwrap();
        let text = edit(config_text(directory.path()));
        let config = Config::parse(&text, "test", directory.path()).unwrap();
        let store = Store::open(&config.database_path()).unwrap();
        Harness {
            directory,
            pipeline: Pipeline::new(config).unwrap(),
            store,
            now: "2026-11-27T10:00:00Z".parse().unwrap(),
        }
    }

    pub fn feed(&mut self, raw: &[u8]) -> IngestReport {
        self.now += jiff::SignedDuration::from_secs(60);
        self.pipeline.ingest(&mut self.store, raw, "test", self.now).unwrap()
    }

    pub fn export(&self) -> Export {
        export::export(&self.store).unwrap()
    }

    /// The outbox rows of the export, as JSON.
    pub fn outbox(&self) -> Vec<serde_json::Value> {
        self.export().outbox.iter().map(|row| serde_json::to_value(row).unwrap()).collect()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.directory.path().join("var")
    }
}

/// Builds a plain-text message; every header can be set or added.
#[derive(Clone)]
pub struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

pub fn mail(from: &str, subject: &str) -> Mail {
    Mail {
        headers: vec![
            ("From".into(), from.into()),
            ("To".into(), "incident@company.test".into()),
            ("Subject".into(), subject.into()),
            ("Date".into(), "Fri, 27 Nov 2026 10:00:00 +0000".into()),
        ],
        body: "Something is wrong.\r\n".into(),
    }
}

impl Mail {
    pub fn header(mut self, name: &str, value: &str) -> Mail {
        self.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn id(self, id: &str) -> Mail {
        self.header("Message-ID", &format!("<{id}>"))
    }

    pub fn body(mut self, body: &str) -> Mail {
        self.body = body.replace('\n', "\r\n");
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut text = String::new();
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("Content-Type")) {
            text.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");
        }
        text.push_str("\r\n");
        text.push_str(&self.body);
        text.into_bytes()
    }
}

/// A spawned `sitrep run`, killed when a failing test unwinds, so no daemon
/// outlives its test (holding the test's output open).
pub struct Running(pub Child);

impl std::ops::Deref for Running {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    pub fn is_running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then its exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let id = self.0.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &id]).status().unwrap().success());
        self.0.wait().unwrap().code()
    }
}

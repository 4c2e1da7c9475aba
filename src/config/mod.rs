//! Configuration: the TOML file as written (`RawConfig`) and the validated
//! `Config` that everything else uses. Nothing downstream sees raw strings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::core::access::{Access, ExternalPolicy, IncidentAddress};
use crate::core::deadline::Regime;
use crate::core::incident::Stream;
use crate::core::out_of_band::OutOfBand;
use crate::core::playbook::Playbook;
use crate::core::retro::Question;
use crate::core::schedule::Policy;

mod playbooks;

pub use playbooks::load as load_playbooks;
mod raw;

use raw::RawConfig;

/// The configuration used when no file is given and `./sitrep.toml` is absent.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Where this configuration came from, for messages.
    pub origin: String,
    pub address: IncidentAddress,
    pub data_dir: PathBuf,
    pub mailbox: MailboxConfig,
    pub transport: TransportConfig,
    pub envelope_from: String,
    /// The first retry after a temporary delivery failure; it doubles up to
    /// 30 minutes.
    pub first_retry: Duration,
    pub access: Access,
    /// Whether a refused sender is told why (rate-limited, never on loops).
    pub answer_refused: bool,
    /// May close, reopen, change stakeholders and replace the lead anywhere.
    pub leads: Vec<String>,
    /// As `leads`; also told about mail that failed the sender checks.
    pub admins: Vec<String>,
    pub external: ExternalPolicy,
    pub executives: Vec<String>,
    /// Whether `notify +addr` may add an address outside the staff.
    pub allow_external_notify: bool,
    /// The organisation's time zone, for times people write ("14:05").
    pub time_zone: TimeZone,
    /// Names and aliases people use in commands, lowercased, to addresses.
    pub people: BTreeMap<String, String>,
    /// A person's company address to their address at another provider,
    /// where an incident moved out of band reaches them.
    pub out_of_band: BTreeMap<String, String>,
    /// The second mailbox and relay, if there is one.
    pub fallback: Option<Fallback>,
    pub trusted_authserv_id: Option<String>,
    pub limits: Limits,
    pub templates_dir: Option<PathBuf>,
    /// The organisation's name, for drafts.
    pub organisation: Option<String>,
    /// Every incident type's first-hour playbook.
    pub playbooks: Vec<Playbook>,
    /// Whether a declaration without `type` gets one from its words.
    pub suggest_type: bool,
    /// Digest cadence and reminder thresholds.
    pub schedule: Policy,
    /// The work streams every incident opens with.
    pub default_streams: Vec<Stream>,
    /// Breach-notification regimes whose clocks `regime <name>` starts.
    pub regimes: Vec<Regime>,
    /// The retrospective questionnaire, in order.
    pub questions: Vec<Question>,
    /// Whether the executives get the questionnaire too.
    pub questionnaire_to_executives: bool,
    /// Daily copies of the store made by the daemon, if configured.
    pub backup: Option<Backup>,
}

/// `[fallback]`: the out-of-band mailbox and relay, at a provider the
/// company's own mail system does not share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The incident address on the fallback mailbox; out-of-band mail comes
    /// from it, and replies go to it.
    pub address: IncidentAddress,
    /// The authserv-id that vouches for mail from out-of-band addresses.
    pub trusted_authserv_id: Option<String>,
    /// How long the primary relay may fail before staff with an out-of-band
    /// address get their mail through the fallback relay; `None`: never.
    pub after: Option<Duration>,
    pub mailbox: MailboxConfig,
    pub transport: TransportConfig,
    pub envelope_from: String,
    /// As `Config::first_retry`, for the fallback relay.
    pub first_retry: Duration,
}

/// `[backup]`: where the daemon keeps its daily copies of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub dir: PathBuf,
    /// The newest this many are kept; older ones are removed.
    pub keep: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxConfig {
    Maildir { path: PathBuf, poll_interval: Duration },
    Imap(ImapConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// A PEM file of authorities trusted beside the system's, for a server
    /// whose certificate a private authority signed.
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub login: ImapLogin,
    /// The folder sitrep reads, `INBOX` by default.
    pub folder: String,
    pub after: AfterCommit,
    /// How often to poll with NOOP when the server has no IDLE.
    pub poll_interval: Duration,
    /// IDLE is re-issued this often (RFC 2177 asks for less than 29 minutes).
    pub idle_rearm: Duration,
    /// Any one command, or a silent connection, taking longer is a hang.
    pub timeout: Duration,
}

/// How sitrep logs in to IMAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImapLogin {
    Password(Secret),
    /// OAuth 2 (Microsoft 365, Google Workspace): the command prints a
    /// fresh access token and is run at every connection.
    XOAuth2 {
        token_command: String,
    },
}

/// Where a secret is read from, at each use so that rotation needs no restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    File(PathBuf),
    /// Run with `sh -c`; its standard output, trimmed, is the secret.
    Command(String),
    /// A systemd credential (`LoadCredential=NAME:...`), read from
    /// `$CREDENTIALS_DIRECTORY/NAME`.
    Credential(String),
}

impl Secret {
    pub fn read(&self) -> std::io::Result<String> {
        self.read_with(std::env::var_os("CREDENTIALS_DIRECTORY").as_deref().map(Path::new))
    }

    /// As `read`, with systemd's credentials directory given.
    fn read_with(&self, credentials: Option<&Path>) -> std::io::Result<String> {
        let from_file = |path: &Path| Ok(std::fs::read_to_string(path)?.trim_end_matches(['\r', '\n']).to_string());
        match self {
            Secret::File(path) => from_file(path),
            Secret::Command(command) => run_secret_command(command),
            Secret::Credential(name) => match credentials {
                Some(directory) => from_file(&directory.join(name)),
                None => Err(std::io::Error::other(format!(
                    "credential `{name}` needs $CREDENTIALS_DIRECTORY (LoadCredential= in the unit)"
                ))),
            },
        }
    }
}

/// Runs a secret or token command and returns its trimmed output.
pub fn run_secret_command(command: &str) -> std::io::Result<String> {
    use std::process::Stdio;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    // A command that hangs must not hold up the sender or the mailbox.
    let started = std::time::Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > SECRET_COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!("`{command}` gave no answer within {SECRET_COMMAND_LIMIT:?}")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!("`{command}` exited with {}", output.status)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// How long a password or token command may take.
const SECRET_COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// What marks a message done on the server once its transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterCommit {
    Move { folder: String },
    Flag { keyword: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    File { path: PathBuf },
    Sendmail { command: PathBuf },
    Smtp(SmtpConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// As `ImapConfig::ca_file`.
    pub ca_file: Option<PathBuf>,
    /// Username and password (or, with `xoauth2`, the command that prints
    /// a token), when the relay wants them.
    pub credentials: Option<(String, Secret)>,
    /// Log in with XOAUTH2, a fresh token for each pass over the outbox.
    pub xoauth2: bool,
    /// The name given in EHLO; by default the incident address's domain.
    pub helo_name: Option<String>,
    pub timeout: Duration,
}

/// Implicit TLS, STARTTLS, or none (allowed to loopback hosts only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Tls,
    StartTls,
    None,
}

/// Hostile-input limits; a message over any of them is quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_header_bytes: usize,
    pub max_mime_parts: usize,
    pub max_mime_depth: usize,
    pub max_text_bytes: usize,
    /// At most this many automatic replies (transcripts, notices) an hour;
    /// acknowledgements are bounded by the declaration limits instead.
    pub replies_per_hour: u32,
    /// New incidents one sender may open in an hour; past it, a declaration
    /// is refused with one notice (a script or a compromised account).
    pub declarations_per_sender_per_hour: u32,
    /// New incidents all senders together may open in an hour.
    pub declarations_per_hour: u32,
    /// Digests one executive gets in an hour at most, whatever the number of
    /// incidents; digests due closer together go out as one combined digest.
    /// 0: no cap.
    pub digests_per_executive_per_hour: u32,
    /// The same reply to the same person about the same incident at most
    /// once in this window.
    pub repeat_reply_window: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_bytes: 25 * 1024 * 1024,
            max_header_bytes: 256 * 1024,
            max_mime_parts: 1000,
            max_mime_depth: 20,
            max_text_bytes: 2 * 1024 * 1024,
            replies_per_hour: 100,
            declarations_per_sender_per_hour: 10,
            declarations_per_hour: 30,
            digests_per_executive_per_hour: 6,
            repeat_reply_window: Duration::from_secs(60 * 60),
        }
    }
}

impl Config {
    /// `--config FILE`, else `./sitrep.toml` if present, else the embedded default.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let local = Path::new("sitrep.toml");
        let path = match explicit {
            Some(path) => path,
            None if local.exists() => local,
            None => return Config::parse(EMBEDDED_DEFAULT, "embedded default", Path::new(".")),
        };
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// Parses and validates; relative paths resolve against `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { origin: origin.to_string(), message };
        let raw: RawConfig = toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
        raw.validate(base).map_err(invalid).map(|mut config| {
            config.origin = origin.to_string();
            config
        })
    }

    /// The secrets that cannot be read now: a password file that is missing
    /// or unreadable, a systemd credential that is not there. Commands are
    /// not run here (they may fetch a token over the network), nor is a
    /// credential looked for outside systemd.
    pub fn unreadable_secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        let fallback = self.fallback.as_ref();
        let mailboxes = [("mailbox", Some(&self.mailbox)), ("fallback.mailbox", fallback.map(|f| &f.mailbox))];
        for (table, mailbox) in mailboxes {
            if let Some(MailboxConfig::Imap(ImapConfig { login: ImapLogin::Password(secret), .. })) = mailbox {
                secrets.push((table, secret));
            }
        }
        let transports = [("transport", Some(&self.transport)), ("fallback.transport", fallback.map(|f| &f.transport))];
        for (table, transport) in transports {
            if let Some(TransportConfig::Smtp(SmtpConfig { credentials: Some((_, secret)), .. })) = transport {
                secrets.push((table, secret));
            }
        }
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY");
        secrets
            .into_iter()
            .filter(|(_, secret)| match secret {
                Secret::File(_) => true,
                Secret::Credential(_) => credentials.is_some(),
                Secret::Command(_) => false,
            })
            .filter_map(|(table, secret)| {
                let key = match secret {
                    Secret::File(path) => format!("{table}.password_file ({})", path.display()),
                    Secret::Credential(name) => format!("{table}.password_credential ({name})"),
                    Secret::Command(_) => format!("{table}.password_command"),
                };
                secret.read().err().map(|error| format!("{key}: {error}"))
            })
            .collect()
    }

    /// Settings still at a documentation placeholder (example.com and the
    /// reserved .test, .example and .invalid names): the key and its value.
    pub fn placeholders(&self) -> Vec<String> {
        let placeholder = |value: &str| {
            let domain = value.rsplit_once('@').map_or(value, |(_, domain)| domain).to_lowercase();
            ["example.com", "example.net", "example.org"].contains(&domain.as_str())
                || [".example.com", ".example.net", ".example.org", ".test", ".example", ".invalid"]
                    .iter()
                    .any(|suffix| domain.ends_with(suffix))
                || ["test", "example", "invalid"].contains(&domain.as_str())
        };
        let address = self.address.with_detail(None);
        let mut settings: Vec<(&str, &str)> = vec![("address", &address)];
        if let MailboxConfig::Imap(imap) = &self.mailbox {
            settings.push(("mailbox.host", &imap.host));
        }
        if let TransportConfig::Smtp(smtp) = &self.transport {
            settings.push(("transport.host", &smtp.host));
        }
        settings.extend(self.access.staff_domains.iter().map(|domain| ("access.staff_domains", domain.as_str())));
        settings.extend(self.executives.iter().map(|executive| ("stakeholders.executives", executive.as_str())));
        settings.extend(self.leads.iter().chain(&self.admins).map(|person| ("access.leads/admins", person.as_str())));
        settings
            .into_iter()
            .filter(|(_, value)| placeholder(value))
            .map(|(key, value)| format!("{key} = {value}"))
            .collect()
    }

    /// Who can be reached out of band, and how: `None` without `[fallback]`.
    pub fn out_of_band(&self) -> Option<OutOfBand<'_>> {
        self.fallback.as_ref().map(|fallback| OutOfBand {
            primary: &self.address,
            fallback: &fallback.address,
            addresses: &self.out_of_band,
        })
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("sitrep.db")
    }

    pub fn attachments_dir(&self) -> PathBuf {
        self.data_dir.join("attachments")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.data_dir.join("sitrep.lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let config = Config::parse(EMBEDDED_DEFAULT, "embedded", Path::new("/srv")).unwrap();
        assert_eq!(config.address.with_detail(None), "incident@example.test");
        assert_eq!(config.database_path(), Path::new("/srv/var/sitrep.db"));
        assert_eq!(config.executives, ["exec@example.test"]);
        assert!(config.access.is_staff("anyone@example.test"));
    }

    #[track_caller]
    fn check_error(text: &str, expected_part: &str) {
        match Config::parse(text, "test.toml", Path::new(".")) {
            Err(error) => assert!(error.to_string().contains(expected_part), "{error}"),
            Ok(_) => panic!("expected an error containing {expected_part:?}"),
        }
    }

    #[test]
    fn secrets_come_from_a_file_a_command_or_a_credential() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("imap-password"), "s3cret\n").unwrap();
        assert_eq!(Secret::File(directory.path().join("imap-password")).read().unwrap(), "s3cret");
        assert_eq!(Secret::Command("printf 'token\\n'".into()).read().unwrap(), "token");
        assert!(Secret::Command("exit 3".into()).read().is_err());
        let credential = Secret::Credential("imap-password".into());
        assert_eq!(credential.read_with(Some(directory.path())).unwrap(), "s3cret");
        assert!(credential.read_with(None).unwrap_err().to_string().contains("CREDENTIALS_DIRECTORY"));
    }

    #[test]
    fn errors_name_the_key() {
        let good = EMBEDDED_DEFAULT;
        check_error(&good.replace("address = ", "adress = "), "adress");
        check_error(&good.replace("incident@example.test", "incident"), "address:");
        check_error(&good.replace("kind = \"file\"", "kind = \"pigeon\""), "transport.kind");
        check_error(
            &good.replace("staff_domains = [\"example.test\"]", "staff_domains = [\"exa mple\"]"),
            "access.staff_domains",
        );
        check_error(&good.replace("exec@example.test", "exec"), "stakeholders.executives");
        check_error(
            &good.replace(
                "kind = \"file\"\npath = \"var/outbox\"",
                "kind = \"smtp\"\nhost = \"mail.example.test\"\ntls = \"none\"",
            ),
            "loopback",
        );
    }
}

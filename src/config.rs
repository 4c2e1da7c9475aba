//! Configuration: the TOML file as written (`RawConfig`) and the validated
//! `Config` that everything else uses. Nothing downstream sees raw strings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::core::access::{Access, ExternalPolicy, IncidentAddress};
use crate::core::command::is_typeable_name;
use crate::core::deadline::{self, ClockStart, Regime, Stage, Within};
use crate::core::incident::Stream;
use crate::core::retro::{self, Question};
use crate::core::schedule::{Cadence, Policy, RetroPolicy, Tactical};

/// The configuration used when no file is given and `./sitrep.toml` is absent.
pub const EMBEDDED_DEFAULT: &str = include_str!("../config/default.toml");

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
    pub trusted_authserv_id: Option<String>,
    pub limits: Limits,
    pub templates_dir: Option<PathBuf>,
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
    let output = std::process::Command::new("sh").arg("-c").arg(command).output()?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!("`{command}` exited with {}", output.status)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

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
    /// Username and password, when the relay wants them.
    pub credentials: Option<(String, Secret)>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    address: String,
    data_dir: PathBuf,
    time_zone: Option<String>,
    #[serde(default)]
    people: BTreeMap<String, String>,
    mailbox: RawMailbox,
    transport: RawTransport,
    access: RawAccess,
    #[serde(default)]
    stakeholders: RawStakeholders,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    templates: RawTemplates,
    #[serde(default)]
    cadence: RawCadence,
    #[serde(default)]
    reminders: RawReminders,
    #[serde(default)]
    streams: RawStreams,
    #[serde(default)]
    regimes: Vec<RawRegime>,
    #[serde(default)]
    retrospective: RawRetrospective,
    #[serde(default)]
    backup: RawBackup,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    dir: Option<PathBuf>,
    keep: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetrospective {
    enabled: Option<bool>,
    include_executives: Option<bool>,
    remind_after: Option<String>,
    max_reminders: Option<u32>,
    window: Option<String>,
    questions: Option<Vec<RawQuestion>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    id: String,
    text: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCadence {
    critical: Option<String>,
    high: Option<String>,
    medium: Option<String>,
    low: Option<String>,
    unassessed: Option<String>,
    tactical: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReminders {
    no_lead: Option<String>,
    no_scope: Option<String>,
    quiet_before: Option<String>,
    overdue_tasks: Option<bool>,
    max_each: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStreams {
    default: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegime {
    name: String,
    title: Option<String>,
    from: Option<String>,
    #[serde(default)]
    reminders: Vec<u8>,
    note: Option<String>,
    deadlines: Vec<RawStage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    what: String,
    /// `72h`, `4 business days`; absent: without undue delay.
    within: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    kind: String,
    path: Option<PathBuf>,
    poll_interval_ms: Option<u64>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<String>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    password_command: Option<String>,
    password_credential: Option<String>,
    auth: Option<String>,
    token_command: Option<String>,
    folder: Option<String>,
    after: Option<String>,
    processed_folder: Option<String>,
    flag_keyword: Option<String>,
    poll_interval_secs: Option<u64>,
    idle_rearm_minutes: Option<u64>,
    timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransport {
    kind: String,
    path: Option<PathBuf>,
    command: Option<PathBuf>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<String>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    password_command: Option<String>,
    password_credential: Option<String>,
    timeout_secs: Option<u64>,
    envelope_from: Option<String>,
    first_retry_secs: Option<u64>,
    helo_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    #[serde(default)]
    staff_domains: Vec<String>,
    #[serde(default)]
    staff_addresses: Vec<String>,
    #[serde(default)]
    partner_domains: Vec<String>,
    #[serde(default)]
    lists: Vec<String>,
    #[serde(default)]
    leads: Vec<String>,
    #[serde(default)]
    admins: Vec<String>,
    external: Option<String>,
    answer_refused: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStakeholders {
    #[serde(default)]
    executives: Vec<String>,
    allow_external_notify: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    trusted_authserv_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_message_bytes: Option<usize>,
    max_header_bytes: Option<usize>,
    max_mime_parts: Option<usize>,
    max_mime_depth: Option<usize>,
    max_text_bytes: Option<usize>,
    replies_per_hour: Option<u32>,
    reply_window_minutes: Option<u64>,
    declarations_per_sender_per_hour: Option<u32>,
    declarations_per_hour: Option<u32>,
    digests_per_executive_per_hour: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplates {
    dir: Option<PathBuf>,
}

impl RawConfig {
    fn validate(self, base: &Path) -> Result<Config, String> {
        let resolve = |path: &Path| if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
        let address = IncidentAddress::parse(&self.address).map_err(|error| format!("address: {error}"))?;
        let mailbox = match self.mailbox.kind.as_str() {
            "maildir" => MailboxConfig::Maildir {
                path: resolve(&required(self.mailbox.path, "mailbox.path", "maildir")?),
                poll_interval: Duration::from_millis(self.mailbox.poll_interval_ms.unwrap_or(200).clamp(10, 60_000)),
            },
            "imap" => MailboxConfig::Imap(imap_config(self.mailbox, &resolve)?),
            other => {
                return Err(format!("mailbox.kind: `{other}` is not supported (expected \"maildir\" or \"imap\")"));
            }
        };
        let transport = self.transport;
        let first_retry = Duration::from_secs(transport.first_retry_secs.unwrap_or(30).clamp(1, 1800));
        let envelope_from = match transport.envelope_from {
            Some(ref sender) => mailbox_address(sender, "transport.envelope_from")?,
            None => address.with_detail(None),
        };
        let transport = match transport.kind.as_str() {
            "file" => TransportConfig::File { path: resolve(&required(transport.path, "transport.path", "file")?) },
            "sendmail" => TransportConfig::Sendmail {
                command: transport.command.unwrap_or_else(|| PathBuf::from("/usr/sbin/sendmail")),
            },
            "smtp" => TransportConfig::Smtp(smtp_config(transport, &resolve)?),
            other => {
                return Err(format!(
                    "transport.kind: `{other}` is not supported (expected \"file\", \"sendmail\" or \"smtp\")"
                ));
            }
        };
        let staff_domains = domains(&self.access.staff_domains, "access.staff_domains")?;
        let staff_addresses = addresses(&self.access.staff_addresses, "access.staff_addresses")?;
        if staff_domains.is_empty() && staff_addresses.is_empty() {
            return Err("access: set staff_domains or staff_addresses, or nobody can declare an incident".into());
        }
        let defaults = Limits::default();
        let limits = Limits {
            max_message_bytes: self.limits.max_message_bytes.unwrap_or(defaults.max_message_bytes),
            max_header_bytes: self.limits.max_header_bytes.unwrap_or(defaults.max_header_bytes),
            max_mime_parts: self.limits.max_mime_parts.unwrap_or(defaults.max_mime_parts),
            max_mime_depth: self.limits.max_mime_depth.unwrap_or(defaults.max_mime_depth),
            max_text_bytes: self.limits.max_text_bytes.unwrap_or(defaults.max_text_bytes),
            replies_per_hour: self.limits.replies_per_hour.unwrap_or(defaults.replies_per_hour),
            declarations_per_sender_per_hour: self
                .limits
                .declarations_per_sender_per_hour
                .unwrap_or(defaults.declarations_per_sender_per_hour),
            declarations_per_hour: self.limits.declarations_per_hour.unwrap_or(defaults.declarations_per_hour),
            digests_per_executive_per_hour: self
                .limits
                .digests_per_executive_per_hour
                .unwrap_or(defaults.digests_per_executive_per_hour),
            repeat_reply_window: self
                .limits
                .reply_window_minutes
                .map_or(defaults.repeat_reply_window, |minutes| Duration::from_secs(minutes * 60)),
        };
        if limits.max_message_bytes == 0 || limits.max_header_bytes == 0 || limits.max_text_bytes == 0 {
            return Err("limits: sizes must be greater than zero".into());
        }
        let partner_domains = domains(&self.access.partner_domains, "access.partner_domains")?;
        let external = match self.access.external.as_deref().unwrap_or("record") {
            "record" => ExternalPolicy::Record,
            "reject" => ExternalPolicy::Reject,
            other => return Err(format!("access.external: `{other}` (expected \"record\" or \"reject\")")),
        };
        let time_zone_name = self.time_zone.as_deref().unwrap_or("UTC");
        let time_zone = TimeZone::get(time_zone_name)
            .map_err(|error| format!("time_zone: `{time_zone_name}` is not a known time zone ({error})"))?;
        let mut people = BTreeMap::new();
        for (name, address) in &self.people {
            let key = name.trim().to_lowercase().replace(['_', '-'], " ");
            people.insert(key, mailbox_address(address, &format!("people.{name}"))?);
        }
        Ok(Config {
            origin: String::new(),
            address,
            data_dir: resolve(&self.data_dir),
            mailbox,
            transport,
            envelope_from,
            first_retry,
            access: Access {
                staff_domains,
                staff_addresses,
                partner_domains,
                lists: addresses(&self.access.lists, "access.lists")?,
            },
            answer_refused: self.access.answer_refused.unwrap_or(false),
            leads: addresses(&self.access.leads, "access.leads")?,
            admins: addresses(&self.access.admins, "access.admins")?,
            external,
            executives: addresses(&self.stakeholders.executives, "stakeholders.executives")?,
            allow_external_notify: self.stakeholders.allow_external_notify.unwrap_or(false),
            time_zone: time_zone.clone(),
            people,
            trusted_authserv_id: self.auth.trusted_authserv_id.map(|id| id.trim().to_lowercase()),
            limits,
            templates_dir: self.templates.dir.as_deref().map(resolve),
            backup: match (self.backup.dir, self.backup.keep) {
                (None, Some(_)) => return Err("backup.keep needs backup.dir".into()),
                (None, None) => None,
                (Some(_), Some(0)) => return Err("backup.keep must be at least 1".into()),
                (Some(dir), keep) => Some(Backup { dir: resolve(&dir), keep: keep.unwrap_or(7) }),
            },
            schedule: Policy {
                retro: retro_policy(&self.retrospective)?,
                time_zone: time_zone.clone(),
                ..schedule_policy(&self.cadence, &self.reminders)?
            },
            default_streams: default_streams(self.streams.default)?,
            regimes: regimes(self.regimes)?,
            questionnaire_to_executives: self.retrospective.include_executives.unwrap_or(false),
            questions: questions(self.retrospective.questions)?,
        })
    }
}

/// A duration key: `30m`, `1h`, `1d`, or `off` where `off` is allowed.
fn duration_key(value: Option<&str>, default: jiff::SignedDuration, key: &str) -> Result<jiff::SignedDuration, String> {
    match value {
        None => Ok(default),
        Some(text) => deadline::parse_duration(text).map_err(|error| format!("{key}: {error}")),
    }
}

fn optional_duration(
    value: Option<&str>,
    default: Option<jiff::SignedDuration>,
    key: &str,
) -> Result<Option<jiff::SignedDuration>, String> {
    match value {
        Some("off") => Ok(None),
        Some(text) => deadline::parse_duration(text).map(Some).map_err(|error| format!("{key}: {error} (or \"off\")")),
        None => Ok(default),
    }
}

fn schedule_policy(cadence: &RawCadence, reminders: &RawReminders) -> Result<Policy, String> {
    let defaults = Policy::default();
    let by_severity = Cadence {
        critical: duration_key(cadence.critical.as_deref(), defaults.cadence.critical, "cadence.critical")?,
        high: duration_key(cadence.high.as_deref(), defaults.cadence.high, "cadence.high")?,
        medium: duration_key(cadence.medium.as_deref(), defaults.cadence.medium, "cadence.medium")?,
        low: duration_key(cadence.low.as_deref(), defaults.cadence.low, "cadence.low")?,
        unassessed: duration_key(cadence.unassessed.as_deref(), defaults.cadence.unassessed, "cadence.unassessed")?,
    };
    let shortest =
        [by_severity.critical, by_severity.high, by_severity.medium, by_severity.low, by_severity.unassessed]
            .into_iter()
            .min()
            .unwrap_or_default();
    if shortest < jiff::SignedDuration::from_mins(5) {
        return Err("cadence: digests more often than every 5 minutes would drown the reader".into());
    }
    let tactical = match cadence.tactical.as_deref() {
        None | Some("with-executive") => Tactical::WithExecutive,
        Some("off") => Tactical::Off,
        Some(text) => Tactical::Every(
            deadline::parse_duration(text)
                .map_err(|error| format!("cadence.tactical: {error} (or \"with-executive\" or \"off\")"))?,
        ),
    };
    Ok(Policy {
        cadence: by_severity,
        tactical,
        no_lead_after: optional_duration(reminders.no_lead.as_deref(), defaults.no_lead_after, "reminders.no_lead")?,
        no_scope_after: optional_duration(
            reminders.no_scope.as_deref(),
            defaults.no_scope_after,
            "reminders.no_scope",
        )?,
        quiet_before: optional_duration(
            reminders.quiet_before.as_deref(),
            defaults.quiet_before,
            "reminders.quiet_before",
        )?,
        overdue_tasks: reminders.overdue_tasks.unwrap_or(defaults.overdue_tasks),
        max_reminders: reminders.max_each.unwrap_or(defaults.max_reminders),
        ..defaults
    })
}

fn retro_policy(raw: &RawRetrospective) -> Result<RetroPolicy, String> {
    let defaults = RetroPolicy::default();
    let within = |value: Option<&str>, key: &str| -> Result<Option<Within>, String> {
        value.map(|text| Within::parse(text).map_err(|error| format!("retrospective.{key}: {error}"))).transpose()
    };
    Ok(RetroPolicy {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        remind_after: within(raw.remind_after.as_deref(), "remind_after")?.unwrap_or(defaults.remind_after),
        max_reminders: raw.max_reminders.unwrap_or(defaults.max_reminders),
        window: match raw.window.as_deref() {
            Some("off") => None,
            None => defaults.window,
            other => within(other, "window")?,
        },
    })
}

fn questions(raw: Option<Vec<RawQuestion>>) -> Result<Vec<Question>, String> {
    let Some(raw) = raw else { return Ok(retro::default_questions()) };
    let mut questions: Vec<Question> = Vec::new();
    for question in raw {
        let id = question.id.trim().to_lowercase();
        if !is_typeable_name(&id) || id == retro::COMMENT {
            return Err(format!("retrospective.questions: `{}` is not a usable id", question.id));
        }
        if questions.iter().any(|known| known.id == id) {
            return Err(format!("retrospective.questions: `{id}` is used twice"));
        }
        let text = question.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return Err(format!("retrospective.questions.{id}: the text is empty"));
        }
        questions.push(Question { id, text });
    }
    if questions.is_empty() || questions.len() > 30 {
        return Err("retrospective.questions: give between 1 and 30 questions".into());
    }
    Ok(questions)
}

fn default_streams(list: Option<Vec<String>>) -> Result<Vec<Stream>, String> {
    match list {
        None => Ok(Stream::ALL.to_vec()),
        Some(names) => names
            .iter()
            .map(|name| name.parse::<Stream>().map_err(|error| format!("streams.default: {error}")))
            .collect(),
    }
}

fn regimes(raw: Vec<RawRegime>) -> Result<Vec<Regime>, String> {
    let mut regimes: Vec<Regime> = Vec::new();
    for regime in raw {
        let name = regime.name.trim().to_lowercase();
        let key = format!("regimes.{name}");
        if !is_typeable_name(&name) {
            return Err(format!("regimes: `{}` is not a name people can type (letters, digits, -)", regime.name));
        }
        if regimes.iter().any(|known| known.name == name) {
            return Err(format!("{key}: defined twice"));
        }
        if regime.deadlines.is_empty() {
            return Err(format!("{key}.deadlines: give at least one"));
        }
        if let Some(percent) = regime.reminders.iter().find(|percent| !(1..100).contains(*percent)) {
            return Err(format!("{key}.reminders: {percent} is not a percentage between 1 and 99"));
        }
        let from = match regime.from.as_deref().unwrap_or("aware") {
            "aware" => ClockStart::Aware,
            "command" => ClockStart::Command,
            other => return Err(format!("{key}.from: `{other}` (expected \"aware\" or \"command\")")),
        };
        let stages = regime
            .deadlines
            .into_iter()
            .map(|stage| {
                let within = stage.within.as_deref().map(Within::parse).transpose();
                within.map(|within| Stage { what: stage.what.trim().to_string(), within })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("{key}.deadlines: {error}"))?;
        regimes.push(Regime {
            title: regime.title.unwrap_or_else(|| name.to_uppercase()),
            name,
            from,
            stages,
            reminders: regime.reminders,
            note: regime.note,
        });
    }
    Ok(regimes)
}

fn tls_mode(value: Option<&str>, default: &str, key: &str, host: &str) -> Result<TlsMode, String> {
    let mode = match value.unwrap_or(default) {
        "tls" => TlsMode::Tls,
        "starttls" => TlsMode::StartTls,
        "none" => TlsMode::None,
        other => return Err(format!("{key}: `{other}` (expected \"tls\", \"starttls\" or \"none\")")),
    };
    if mode == TlsMode::None && !["127.0.0.1", "::1"].contains(&host) {
        return Err(format!("{key}: \"none\" is only allowed to a loopback host, not `{host}`"));
    }
    Ok(mode)
}

/// A password from a file or a command; never from the configuration itself.
fn secret(
    file: Option<PathBuf>,
    command: Option<String>,
    credential: Option<String>,
    key: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<Option<Secret>, String> {
    match (file, command, credential) {
        (Some(file), None, None) => Ok(Some(Secret::File(resolve(&file)))),
        (None, Some(command), None) => Ok(Some(Secret::Command(command))),
        (None, None, Some(name)) if !name.contains('/') => Ok(Some(Secret::Credential(name))),
        (None, None, Some(name)) => Err(format!("{key}.password_credential: `{name}` is a name, not a path")),
        (None, None, None) => Ok(None),
        _ => Err(format!("{key}: set one of password_file, password_command and password_credential")),
    }
}

fn imap_config(raw: RawMailbox, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<ImapConfig, String> {
    let host = required(raw.host, "mailbox.host", "imap")?;
    let tls = tls_mode(raw.tls.as_deref(), "tls", "mailbox.tls", &host)?;
    let username = required(raw.username, "mailbox.username", "imap")?;
    let login = match raw.auth.as_deref().unwrap_or("password") {
        "password" => secret(raw.password_file, raw.password_command, raw.password_credential, "mailbox", resolve)?
            .map(ImapLogin::Password)
            .ok_or("mailbox: set password_file, password_command or password_credential (never the password itself)")?,
        "xoauth2" => ImapLogin::XOAuth2 {
            token_command: raw.token_command.ok_or("mailbox.token_command: required when auth = \"xoauth2\"")?,
        },
        other => return Err(format!("mailbox.auth: `{other}` (expected \"password\" or \"xoauth2\")")),
    };
    let after = match raw.after.as_deref().unwrap_or("move") {
        "move" => AfterCommit::Move { folder: raw.processed_folder.unwrap_or_else(|| "sitrep/processed".to_string()) },
        "flag" => AfterCommit::Flag { keyword: raw.flag_keyword.unwrap_or_else(|| "$SitrepDone".to_string()) },
        other => return Err(format!("mailbox.after: `{other}` (expected \"move\" or \"flag\")")),
    };
    let idle_rearm = Duration::from_secs(raw.idle_rearm_minutes.unwrap_or(20) * 60);
    if idle_rearm.is_zero() || idle_rearm >= Duration::from_secs(29 * 60) {
        return Err("mailbox.idle_rearm_minutes: must be between 1 and 28 (RFC 2177)".to_string());
    }
    Ok(ImapConfig {
        port: raw.port.unwrap_or(if tls == TlsMode::Tls { 993 } else { 143 }),
        host,
        tls,
        username,
        login,
        folder: raw.folder.unwrap_or_else(|| "INBOX".to_string()),
        after,
        poll_interval: Duration::from_secs(raw.poll_interval_secs.unwrap_or(60).max(1)),
        idle_rearm,
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(60).max(1)),
    })
}

fn smtp_config(raw: RawTransport, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<SmtpConfig, String> {
    let host = required(raw.host, "transport.host", "smtp")?;
    let tls = tls_mode(raw.tls.as_deref(), "starttls", "transport.tls", &host)?;
    let password = secret(raw.password_file, raw.password_command, raw.password_credential, "transport", resolve)?;
    let credentials = match (raw.username, password) {
        (Some(username), Some(password)) => Some((username, password)),
        (None, None) => None,
        _ => return Err("transport: username goes with password_file, password_command or password_credential".into()),
    };
    let default_port = match tls {
        TlsMode::Tls => 465,
        TlsMode::StartTls => 587,
        TlsMode::None => 25,
    };
    Ok(SmtpConfig {
        host,
        port: raw.port.unwrap_or(default_port),
        tls,
        credentials,
        helo_name: raw.helo_name,
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(60)),
    })
}

fn required<T>(value: Option<T>, key: &str, kind: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("{key}: required when kind = \"{kind}\""))
}

fn domain_name(domain: &str, key: &str) -> Result<String, String> {
    let domain = domain.trim().trim_start_matches('@').to_lowercase();
    let valid = domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if valid { Ok(domain) } else { Err(format!("{key}: `{domain}` is not a domain name")) }
}

fn mailbox_address(address: &str, key: &str) -> Result<String, String> {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !local.contains(char::is_whitespace) => {
            domain_name(domain, key)?;
            Ok(address)
        }
        _ => Err(format!("{key}: `{address}` is not an email address")),
    }
}

fn domains(list: &[String], key: &str) -> Result<Vec<String>, String> {
    list.iter().map(|domain| domain_name(domain, key)).collect()
}

fn addresses(list: &[String], key: &str) -> Result<Vec<String>, String> {
    list.iter().map(|address| mailbox_address(address, key)).collect()
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

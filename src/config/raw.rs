//! The TOML file as written: serde's view of each table, and its
//! validation into `Config`, which names the key at fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Deserialize;

use super::{Backup, Config, Limits, MailboxConfig, TransportConfig};
use crate::core::access::{Access, ExternalPolicy, IncidentAddress};
use crate::core::schedule::Policy;

mod fallback;
mod parts;

use parts::{
    addresses, default_streams, domains, imap_config, mailbox_address, questions, regimes, required, retro_policy,
    schedule_policy, smtp_config,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    address: String,
    organisation: Option<String>,
    data_dir: PathBuf,
    time_zone: Option<String>,
    #[serde(default)]
    people: BTreeMap<String, RawPerson>,
    mailbox: RawMailbox,
    transport: RawTransport,
    fallback: Option<fallback::RawFallback>,
    access: RawAccess,
    #[serde(default)]
    stakeholders: RawStakeholders,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    templates: RawDir,
    #[serde(default)]
    playbooks: RawPlaybooks,
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

/// `alice = "alice@company.test"`, or with an address at another provider
/// for the day the company's own mail is compromised.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawPerson {
    Address(String),
    Full(RawPersonTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPersonTable {
    address: String,
    out_of_band: Option<String>,
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
    ca_file: Option<PathBuf>,
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
    ca_file: Option<PathBuf>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    password_command: Option<String>,
    password_credential: Option<String>,
    auth: Option<String>,
    token_command: Option<String>,
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
/// `[templates]`: a folder whose files replace the shipped ones.
struct RawDir {
    dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybooks {
    dir: Option<PathBuf>,
    suggest: Option<bool>,
}

impl RawConfig {
    /// Long on purpose: one check per section, in the order of the file,
    /// so that the first error named is the first one a reader meets.
    pub(super) fn validate(self, base: &Path) -> Result<Config, String> {
        let resolve = |path: &Path| if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
        let address = IncidentAddress::parse(&self.address).map_err(|error| format!("address: {error}"))?;
        let mailbox = mailbox(self.mailbox, &resolve)?;
        let (transport, envelope_from, first_retry) = transport(self.transport, &address, &resolve)?;
        let staff_domains = domains(&self.access.staff_domains, "access.staff_domains")?;
        let staff_addresses = addresses(&self.access.staff_addresses, "access.staff_addresses")?;
        if staff_domains.is_empty() && staff_addresses.is_empty() {
            return Err("access: set staff_domains or staff_addresses, or nobody can declare an incident".into());
        }
        let limits = self.limits.validate()?;
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
        let mut out_of_band = BTreeMap::new();
        for (name, person) in &self.people {
            let key = name.trim().to_lowercase().replace(['_', '-'], " ");
            let (address, elsewhere) = match person {
                RawPerson::Address(address) => (mailbox_address(address, &format!("people.{name}"))?, None),
                RawPerson::Full(table) => {
                    (mailbox_address(&table.address, &format!("people.{name}.address"))?, table.out_of_band.as_ref())
                }
            };
            if let Some(elsewhere) = elsewhere {
                let elsewhere = mailbox_address(elsewhere, &format!("people.{name}.out_of_band"))?;
                let domain = elsewhere.rsplit_once('@').map_or("", |(_, domain)| domain);
                if staff_domains.iter().any(|staff| staff == domain) {
                    return Err(format!(
                        "people.{name}.out_of_band: {elsewhere} is at a staff domain; an out-of-band address is \
                         one the company's own mail system does not hold"
                    ));
                }
                out_of_band.insert(address.clone(), elsewhere);
            }
            people.insert(key, address);
        }
        let trusted_authserv_id = self.auth.trusted_authserv_id.map(|id| id.trim().to_lowercase());
        let fallback = match self.fallback {
            Some(raw) => Some(raw.validate(&address, &staff_domains, trusted_authserv_id.is_some(), &resolve)?),
            None => None,
        };
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
            out_of_band,
            fallback,
            trusted_authserv_id,
            limits,
            templates_dir: self.templates.dir.as_deref().map(resolve),
            organisation: self.organisation.map(|name| name.trim().to_string()).filter(|name| !name.is_empty()),
            suggest_type: self.playbooks.suggest.unwrap_or(true),
            playbooks: super::playbooks::load(self.playbooks.dir.as_deref().map(resolve).as_deref())
                .map_err(|problem| format!("playbooks: {problem}"))?,
            backup: self.backup.validate(&resolve)?,
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

/// `[mailbox]`, or `[fallback.mailbox]` (whose errors say so).
fn mailbox(raw: RawMailbox, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<MailboxConfig, String> {
    Ok(match raw.kind.as_str() {
        "maildir" => MailboxConfig::Maildir {
            path: resolve(&required(raw.path, "mailbox.path", "maildir")?),
            poll_interval: Duration::from_millis(raw.poll_interval_ms.unwrap_or(200).clamp(10, 60_000)),
        },
        "imap" => MailboxConfig::Imap(imap_config(raw, resolve)?),
        other => {
            return Err(format!("mailbox.kind: `{other}` is not supported (expected \"maildir\" or \"imap\")"));
        }
    })
}

/// `[transport]`, or `[fallback.transport]`: the relay, the envelope
/// sender (`address` unless set) and the first retry.
fn transport(
    raw: RawTransport,
    address: &IncidentAddress,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<(TransportConfig, String, Duration), String> {
    let first_retry = Duration::from_secs(raw.first_retry_secs.unwrap_or(30).clamp(1, 1800));
    let envelope_from = match raw.envelope_from {
        Some(ref sender) => mailbox_address(sender, "transport.envelope_from")?,
        None => address.with_detail(None),
    };
    let transport = match raw.kind.as_str() {
        "file" => TransportConfig::File { path: resolve(&required(raw.path, "transport.path", "file")?) },
        "sendmail" => {
            TransportConfig::Sendmail { command: raw.command.unwrap_or_else(|| PathBuf::from("/usr/sbin/sendmail")) }
        }
        "smtp" => TransportConfig::Smtp(smtp_config(raw, resolve)?),
        other => {
            return Err(format!(
                "transport.kind: `{other}` is not supported (expected \"file\", \"sendmail\" or \"smtp\")"
            ));
        }
    };
    Ok((transport, envelope_from, first_retry))
}

impl RawLimits {
    /// Each limit as written, or its default; sizes may not be zero.
    fn validate(&self) -> Result<Limits, String> {
        let defaults = Limits::default();
        let limits = Limits {
            max_message_bytes: self.max_message_bytes.unwrap_or(defaults.max_message_bytes),
            max_header_bytes: self.max_header_bytes.unwrap_or(defaults.max_header_bytes),
            max_mime_parts: self.max_mime_parts.unwrap_or(defaults.max_mime_parts),
            max_mime_depth: self.max_mime_depth.unwrap_or(defaults.max_mime_depth),
            max_text_bytes: self.max_text_bytes.unwrap_or(defaults.max_text_bytes),
            replies_per_hour: self.replies_per_hour.unwrap_or(defaults.replies_per_hour),
            declarations_per_sender_per_hour: self
                .declarations_per_sender_per_hour
                .unwrap_or(defaults.declarations_per_sender_per_hour),
            declarations_per_hour: self.declarations_per_hour.unwrap_or(defaults.declarations_per_hour),
            digests_per_executive_per_hour: self
                .digests_per_executive_per_hour
                .unwrap_or(defaults.digests_per_executive_per_hour),
            repeat_reply_window: self
                .reply_window_minutes
                .map_or(defaults.repeat_reply_window, |minutes| Duration::from_secs(minutes * 60)),
        };
        if limits.max_message_bytes == 0 || limits.max_header_bytes == 0 || limits.max_text_bytes == 0 {
            return Err("limits: sizes must be greater than zero".into());
        }
        Ok(limits)
    }
}

impl RawBackup {
    /// Daily backups when a folder is given, keeping 7 unless told otherwise.
    fn validate(self, resolve: &impl Fn(&Path) -> PathBuf) -> Result<Option<Backup>, String> {
        match (self.dir, self.keep) {
            (None, Some(_)) => Err("backup.keep needs backup.dir".into()),
            (None, None) => Ok(None),
            (Some(_), Some(0)) => Err("backup.keep must be at least 1".into()),
            (Some(dir), keep) => Ok(Some(Backup { dir: resolve(&dir), keep: keep.unwrap_or(7) })),
        }
    }
}

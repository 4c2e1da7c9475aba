//! The parts of validation: durations, the schedule, the retrospective's
//! questions, streams, regimes, addresses and the transports' settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{RawCadence, RawMailbox, RawQuestion, RawRegime, RawReminders, RawRetrospective, RawTransport};
use crate::config::{AfterCommit, ImapConfig, ImapLogin, Secret, SmtpConfig, TlsMode};
use crate::core::command::is_typeable_name;
use crate::core::deadline::{self, ClockStart, Regime, Stage, Within};
use crate::core::incident::Stream;
use crate::core::retro::{self, Question};
use crate::core::schedule::{Cadence, Policy, RetroPolicy, Tactical};

/// A duration key: `30m`, `1h`, `1d`, or `off` where `off` is allowed.
pub(super) fn duration_key(
    value: Option<&str>,
    default: jiff::SignedDuration,
    key: &str,
) -> Result<jiff::SignedDuration, String> {
    match value {
        None => Ok(default),
        Some(text) => deadline::parse_duration(text).map_err(|error| format!("{key}: {error}")),
    }
}

pub(super) fn optional_duration(
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

pub(super) fn schedule_policy(cadence: &RawCadence, reminders: &RawReminders) -> Result<Policy, String> {
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

pub(super) fn retro_policy(raw: &RawRetrospective) -> Result<RetroPolicy, String> {
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

pub(super) fn questions(raw: Option<Vec<RawQuestion>>) -> Result<Vec<Question>, String> {
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

pub(super) fn default_streams(list: Option<Vec<String>>) -> Result<Vec<Stream>, String> {
    match list {
        None => Ok(Stream::ALL.to_vec()),
        Some(names) => names
            .iter()
            .map(|name| name.parse::<Stream>().map_err(|error| format!("streams.default: {error}")))
            .collect(),
    }
}

pub(super) fn regimes(raw: Vec<RawRegime>) -> Result<Vec<Regime>, String> {
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

pub(super) fn tls_mode(value: Option<&str>, default: &str, key: &str, host: &str) -> Result<TlsMode, String> {
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
pub(super) fn secret(
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

pub(super) fn imap_config(raw: RawMailbox, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<ImapConfig, String> {
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
        ca_file: ca_file(raw.ca_file, "mailbox.ca_file", resolve)?,
        username,
        login,
        folder: raw.folder.unwrap_or_else(|| "INBOX".to_string()),
        after,
        poll_interval: Duration::from_secs(raw.poll_interval_secs.unwrap_or(60).max(1)),
        idle_rearm,
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(60).max(1)),
    })
}

pub(super) fn smtp_config(raw: RawTransport, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<SmtpConfig, String> {
    let host = required(raw.host, "transport.host", "smtp")?;
    let tls = tls_mode(raw.tls.as_deref(), "starttls", "transport.tls", &host)?;
    let password = secret(raw.password_file, raw.password_command, raw.password_credential, "transport", resolve)?;
    let xoauth2 = match raw.auth.as_deref().unwrap_or("password") {
        "password" => false,
        "xoauth2" => true,
        other => return Err(format!("transport.auth: `{other}` is not password or xoauth2")),
    };
    let credentials = match (raw.username, password, raw.token_command) {
        (Some(username), None, Some(command)) if xoauth2 => Some((username, Secret::Command(command))),
        (_, _, _) if xoauth2 => {
            return Err("transport: auth = \"xoauth2\" takes username and token_command, and no password".into());
        }
        (_, _, Some(_)) => return Err("transport.token_command: goes with auth = \"xoauth2\"".into()),
        (Some(username), Some(password), None) => Some((username, password)),
        (None, None, None) => None,
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
        ca_file: ca_file(raw.ca_file, "transport.ca_file", resolve)?,
        credentials,
        xoauth2,
        helo_name: raw.helo_name,
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(60)),
    })
}

/// A `ca_file` that holds at least one certificate, checked when the
/// configuration is read rather than at the first connection.
fn ca_file(path: Option<PathBuf>, key: &str, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Option<PathBuf>, String> {
    let Some(path) = path.map(|path| resolve(&path)) else { return Ok(None) };
    crate::trust::ca_certificates(&path).map_err(|problem| format!("{key}: {problem}"))?;
    Ok(Some(path))
}

pub(super) fn required<T>(value: Option<T>, key: &str, kind: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("{key}: required when kind = \"{kind}\""))
}

pub(super) fn domain_name(domain: &str, key: &str) -> Result<String, String> {
    let domain = domain.trim().trim_start_matches('@').to_lowercase();
    let valid = domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if valid { Ok(domain) } else { Err(format!("{key}: `{domain}` is not a domain name")) }
}

pub(super) fn mailbox_address(address: &str, key: &str) -> Result<String, String> {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !local.contains(char::is_whitespace) => {
            domain_name(domain, key)?;
            Ok(address)
        }
        _ => Err(format!("{key}: `{address}` is not an email address")),
    }
}

pub(super) fn domains(list: &[String], key: &str) -> Result<Vec<String>, String> {
    list.iter().map(|domain| domain_name(domain, key)).collect()
}

pub(super) fn addresses(list: &[String], key: &str) -> Result<Vec<String>, String> {
    list.iter().map(|address| mailbox_address(address, key)).collect()
}

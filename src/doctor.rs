//! `sitrep doctor`: checks, one line each, that the configuration, the
//! store, the templates, the mailbox and the relay all work, with a hint for
//! each failure. Changes nothing, unless asked to send a test mail.

use std::path::Path;

use jiff::Timestamp;
use lettre::address::Envelope;
use lettre::{FileTransport, SendmailTransport, SmtpTransport, Transport};

use crate::compose::{self, AutoSubmitted, Draft};
use crate::config::{Config, MailboxConfig, TransportConfig};
use crate::core::auth;
use crate::imap;
use crate::inbound;
use crate::render::Renderer;
use crate::store::Store;

/// One check: what was looked at, and the trouble with it if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub result: Result<String, Trouble>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trouble {
    pub problem: String,
    pub hint: String,
}

fn pass(name: &str, detail: impl Into<String>) -> Check {
    Check { name: name.to_string(), result: Ok(detail.into()) }
}

fn fail(name: &str, problem: impl ToString, hint: &str) -> Check {
    Check { name: name.to_string(), result: Err(Trouble { problem: problem.to_string(), hint: hint.to_string() }) }
}

/// Runs every check; `send_test` also mails that address through the relay.
pub async fn examine(config: &Config, send_test: Option<&str>) -> Vec<Check> {
    let mut checks = vec![pass("config", format!("{} is valid", config.origin))];
    checks.push(match Renderer::new(config.templates_dir.as_deref(), &config.time_zone) {
        Ok(_) => pass("templates", "all templates load"),
        Err(error) => fail("templates", error, "fix the template named, or remove it to use the built-in one"),
    });
    checks.push(store(&config.database_path()));
    checks.push(trust(config));
    checks.push(disk(&config.data_dir, LEAST_FREE_BYTES));
    checks.push(mailbox("mailbox", &config.mailbox).await);
    checks.push(transport("transport", &config.transport));
    checks.push(out_of_band(config));
    if let Some(fallback) = &config.fallback {
        checks.push(mailbox("fallback.mailbox", &fallback.mailbox).await);
        checks.push(transport("fallback.transport", &fallback.transport));
    }
    if let Some(address) = send_test {
        checks.push(test_mail(config, address));
    }
    checks
}

/// Without `[auth]`, From is believed: said plainly, with the id the site's
/// border server writes, read from the last mail received.
/// Whether mail is believed as it should be: with `[auth]` set, whether the
/// recent mail carries Authentication-Results from that server at all (else
/// every staff mail is unverified); without, which server to name.
fn trust(config: &Config) -> Check {
    let recent: Vec<Option<String>> = Store::open(&config.database_path())
        .and_then(|store| store.recent_raw_messages(RECENT_MESSAGES))
        .unwrap_or_default()
        .iter()
        .filter_map(|raw| inbound::parse_headers_only(raw, &config.limits))
        .map(|inbound| auth::authserv_ids(&inbound).into_iter().next())
        .collect();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for id in recent.iter().flatten() {
        match seen.iter_mut().find(|(known, _)| known == id) {
            Some((_, count)) => *count += 1,
            None => seen.push((id.clone(), 1)),
        }
    }
    let most = seen.iter().max_by_key(|(_, count)| *count);
    if let Some(id) = &config.trusted_authserv_id {
        let vouched = recent.iter().flatten().filter(|seen| seen.eq_ignore_ascii_case(id)).count();
        return match (vouched, most) {
            (0, Some((other, count))) => fail(
                "trust",
                format!(
                    "0 of the last {} messages carry Authentication-Results from {id}; {count} from {other}",
                    recent.len()
                ),
                &format!("staff mail is all kept as unverified: set trusted_authserv_id = \"{other}\" in [auth]"),
            ),
            _ => pass(
                "trust",
                format!(
                    "staff mail counts only when {id} vouches for it (DMARC or aligned DKIM); {vouched} of the last {} messages carry its results",
                    recent.len()
                ),
            ),
        };
    }
    let warning = auth::unauthenticated_warning(&config.access);
    match most {
        Some((id, count)) => pass(
            "trust",
            format!(
                "{warning}. The last mail received carries Authentication-Results from {id} ({count} messages): set trusted_authserv_id = \"{id}\" in [auth]"
            ),
        ),
        None => pass("trust", warning),
    }
}

/// How many of the last messages `trust` reads.
const RECENT_MESSAGES: u32 = 20;

fn store(path: &Path) -> Check {
    let store = match Store::open(path) {
        Ok(store) => store,
        Err(error) => {
            return fail("store", error, "check that data_dir exists and is writable by the user sitrep runs as");
        }
    };
    match store.integrity_check() {
        Ok(()) => pass("store", format!("{} passes integrity_check", path.display())),
        Err(error) => fail("store", error, "restore the latest backup (docs/install.md)"),
    }
}

/// Below this, a burst of mail with attachments could fill the disk and
/// every commit would fail.
const LEAST_FREE_BYTES: u64 = 512 * 1024 * 1024;

fn disk(data_dir: &Path, least_free: u64) -> Check {
    // The data directory may not exist yet: ask about the nearest ancestor.
    let existing = data_dir.ancestors().find(|path| path.exists()).unwrap_or(Path::new("/"));
    match rustix::fs::statvfs(existing) {
        Ok(stats) => {
            let free = stats.f_bavail.saturating_mul(stats.f_frsize);
            let detail = format!("{} free on the file system of {}", human_bytes(free), data_dir.display());
            if free >= least_free {
                pass("disk", detail)
            } else {
                fail(
                    "disk",
                    format!("only {detail}"),
                    "free space or move data_dir: a full disk makes every commit fail, and mail then waits at the server",
                )
            }
        }
        Err(error) => {
            fail("disk", format!("cannot read the free space of {}: {error}", existing.display()), "check data_dir")
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_048_576 => format!("{} KiB", bytes / 1024),
        1_048_576..1_073_741_824 => format!("{} MiB", bytes / 1_048_576),
        _ => format!("{:.1} GiB", bytes as f64 / 1_073_741_824.0),
    }
}

/// Whether an incident can move out of band, and who it would then reach.
fn out_of_band(config: &Config) -> Check {
    let Some(fallback) = &config.fallback else {
        return pass("out of band", "no [fallback]: an incident cannot move out of band (docs/out-of-band.md)");
    };
    let address = fallback.address.with_detail(None);
    let reachable = config.out_of_band.len();
    let unreachable: Vec<&str> = config
        .leads
        .iter()
        .chain(&config.admins)
        .chain(&config.executives)
        .filter(|person| !config.out_of_band.contains_key(*person))
        .map(String::as_str)
        .collect();
    match (reachable, unreachable.is_empty()) {
        (0, _) => fail(
            "out of band",
            format!("[fallback] is {address}, but nobody in [people] has an out_of_band address"),
            "give each responder, lead, admin and executive one: `alice = { address = \"...\", out_of_band = \"...\" }`",
        ),
        (_, false) => fail(
            "out of band",
            format!("{reachable} people can be reached at {address}'s side; not {}", unreachable.join(", ")),
            "give them an out_of_band address in [people], or they hear nothing of an incident moved out of band",
        ),
        _ => pass("out of band", format!("{address}; {reachable} people have an out-of-band address")),
    }
}

async fn mailbox(name: &str, mailbox: &MailboxConfig) -> Check {
    match mailbox {
        MailboxConfig::Maildir { path, .. } => {
            let writable = ["new", "cur", "tmp"].iter().all(|folder| {
                std::fs::metadata(path.join(folder))
                    .is_ok_and(|metadata| metadata.is_dir() && !metadata.permissions().readonly())
            });
            if writable {
                pass(name, format!("Maildir {} is ready", path.display()))
            } else {
                fail(
                    name,
                    format!("{} has no writable new/, cur/ and tmp/", path.display()),
                    "create them, or start `sitrep run` once to create them",
                )
            }
        }
        MailboxConfig::Imap(imap_config) => match imap::probe(imap_config).await {
            // A fresh install has no folder for processed mail yet: `run`
            // creates it at its first connection, so that is no failure.
            Ok(probe) => pass(
                name,
                format!(
                    "logged in to {}:{}, {} has {} messages, {}{}",
                    imap_config.host,
                    imap_config.port,
                    imap_config.folder,
                    probe.messages,
                    if probe.idle { "IDLE offered" } else { "no IDLE: polling with NOOP" },
                    if probe.processed_folder {
                        ""
                    } else {
                        "; the folder for processed mail is made at the first run"
                    }
                ),
            ),
            Err(error) => fail(
                name,
                error,
                "check host, port and tls; then username and the password file, command or credential",
            ),
        },
    }
}

fn transport(name: &str, transport: &TransportConfig) -> Check {
    match transport {
        TransportConfig::File { path } => match std::fs::create_dir_all(path) {
            Ok(()) => pass(name, format!("outgoing mail is written to {}", path.display())),
            Err(error) => fail(name, error, &format!("make {name}.path writable")),
        },
        TransportConfig::Sendmail { command } => {
            if command.is_file() {
                pass(name, format!("{} is there", command.display()))
            } else {
                fail(
                    name,
                    format!("{} does not exist", command.display()),
                    &format!("install an MTA or set {name}.command"),
                )
            }
        }
        TransportConfig::Smtp(smtp) => match crate::outbox::smtp_transport(smtp).map(|relay| relay.test_connection()) {
            Ok(Ok(true)) => {
                let login = if smtp.credentials.is_some() { "accepts the login" } else { "no login configured" };
                pass(name, format!("{}:{} answers EHLO; {login}", smtp.host, smtp.port))
            }
            Ok(Ok(false)) => fail(name, format!("{}:{} did not answer", smtp.host, smtp.port), "check host and port"),
            Ok(Err(error)) => match crate::trust::explain(&smtp.host, &error) {
                Some(problem) => fail(name, problem, "see docs/install.md on certificates"),
                None => fail(name, error, "check host, port and tls; then username and password"),
            },
            Err(error) if smtp.xoauth2 => fail(name, error, &format!("check {name}.token_command")),
            Err(error) => fail(name, error, "check the password file, command or credential"),
        },
    }
}

fn test_mail(config: &Config, address: &str) -> Check {
    let draft = Draft {
        from: config.address.with_detail(None),
        to: vec![address.to_string()],
        cc: Vec::new(),
        subject: "sitrep test mail".to_string(),
        body: format!("This is a test from `sitrep doctor` at {}. Nothing to do.\n", config.address.with_detail(None)),
        html: None,
        message_id: compose::new_message_id(&config.address),
        in_reply_to: None,
        references: Vec::new(),
        auto_submitted: AutoSubmitted::Generated,
        loop_marker: config.address.with_detail(None),
    };
    let sent = compose::compose(&draft, Timestamp::now()).map_err(|error| error.to_string()).and_then(|raw| {
        let from = config.envelope_from.parse().map_err(|error: lettre::address::AddressError| error.to_string())?;
        let to = address.parse().map_err(|error: lettre::address::AddressError| error.to_string())?;
        let envelope = Envelope::new(Some(from), vec![to]).map_err(|error| error.to_string())?;
        match &config.transport {
            TransportConfig::File { path } => {
                FileTransport::new(path).send_raw(&envelope, &raw).map(drop).map_err(|error| error.to_string())
            }
            TransportConfig::Sendmail { command } => SendmailTransport::new_with_command(command)
                .send_raw(&envelope, &raw)
                .map_err(|error| error.to_string()),
            TransportConfig::Smtp(smtp) => {
                crate::outbox::smtp_transport(smtp).map_err(|error| error.to_string()).and_then(
                    |relay: SmtpTransport| relay.send_raw(&envelope, &raw).map(drop).map_err(|error| error.to_string()),
                )
            }
        }
    });
    match sent {
        Ok(()) => pass("test mail", format!("sent to {address}")),
        Err(error) => fail("test mail", error, "read the relay's answer above; the address must be one it accepts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_reported_and_too_little_fails() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("not/yet/created");
        let enough = disk(&missing, 1);
        assert!(enough.result.as_ref().is_ok_and(|detail| detail.contains("free on the file system")), "{enough:?}");
        let short = disk(&missing, u64::MAX);
        let trouble = short.result.unwrap_err();
        assert!(trouble.problem.starts_with("only ") && trouble.hint.contains("full disk"), "{trouble:?}");
        assert_eq!(human_bytes(3 * 1_073_741_824 / 2), "1.5 GiB");
        assert_eq!(human_bytes(5 * 1_048_576), "5 MiB");
    }
}

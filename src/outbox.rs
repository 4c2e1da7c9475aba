//! The outbox sender: delivers queued rows through lettre (file, sendmail or
//! SMTP) and records each answer in its own commit before the next delivery,
//! so a crash repeats at most the one delivery in flight (its Message-ID is
//! fixed at queue time, so a repeat is recognisably the same mail). Due
//! deliveries are claimed first, so two senders never send the same one.
//! When the store cannot record an answer, the sender keeps it in memory
//! and sends nothing more until it is recorded: a full disk or a locked
//! store never makes it send the same mail again.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{FileTransport, SendmailTransport, SmtpTransport, Transport};
use tracing::{error, info, warn};

use crate::compose;
use crate::config::{Config, Fallback, SmtpConfig, TlsMode, TransportConfig};
use crate::core::incident::Route;
use crate::store::{Attempt, PendingMail, Renewal, Store, StoreError};

const LONGEST_RETRY: Duration = Duration::from_secs(30 * 60);

/// How long a claimed delivery is left to its sender: longer than any pass
/// takes (each SMTP command has its own timeout), short enough that mail a
/// crashed sender had claimed but not sent goes out soon after.
const CLAIM_LEASE: SignedDuration = SignedDuration::from_mins(5);

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("transport: cannot create {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error("transport: cannot read the SMTP password: {source}")]
    Password { source: std::io::Error },
    #[error("transport: {0}")]
    Smtp(String),
}

pub struct Sender {
    transport: Backend,
    route: Route,
    /// The fallback relay's From address and envelope sender, which every
    /// mail it sends carries, whoever it was composed for.
    identity: Option<(String, String)>,
    /// A relay that takes XOAUTH2 tokens, and when the last was fetched.
    token_relay: Option<(SmtpConfig, Option<Instant>)>,
    first_retry: Duration,
    /// Answers the transport gave that the store could not record yet.
    unrecorded: Vec<(i64, String, Attempt)>,
}

enum Backend {
    File(FileTransport),
    Sendmail(SendmailTransport),
    /// The relay, and its host for what a refused certificate means.
    Smtp(Box<SmtpTransport>, String),
    /// A token relay before its first token.
    Unready,
}

/// How long a fetched OAuth 2 token is used before the next is fetched:
/// providers' tokens last an hour.
const TOKEN_REUSE: Duration = Duration::from_secs(45 * 60);

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
}

/// A delivery failure: worth retrying, or refused for good (SMTP 5xx).
#[derive(Debug, Clone)]
enum Failure {
    Transient(String),
    Permanent(String),
    /// The relay itself could not be reached: worth retrying, and the rest
    /// of the pass waits too rather than time out one by one.
    Unreachable(String),
}

impl Sender {
    pub fn new(config: &TransportConfig, first_retry: Duration) -> Result<Sender, SenderError> {
        let transport = match config {
            TransportConfig::File { path } => {
                std::fs::create_dir_all(path)
                    .map_err(|source| SenderError::Directory { path: path.display().to_string(), source })?;
                Backend::File(FileTransport::new(path))
            }
            TransportConfig::Sendmail { command } => Backend::Sendmail(SendmailTransport::new_with_command(command)),
            // No token is fetched before there is mail to send: until then
            // the relay has no transport, and nothing can go out without one.
            TransportConfig::Smtp(smtp) if smtp.xoauth2 => Backend::Unready,
            TransportConfig::Smtp(smtp) => Backend::Smtp(Box::new(smtp_transport(smtp)?), smtp.host.clone()),
        };
        let token_relay = match config {
            TransportConfig::Smtp(smtp) if smtp.xoauth2 => Some((smtp.clone(), None)),
            _ => None,
        };
        Ok(Sender {
            transport,
            route: Route::Primary,
            identity: None,
            token_relay,
            first_retry,
            unrecorded: Vec::new(),
        })
    }

    /// The sender of `[fallback.transport]`: it takes the deliveries routed
    /// to the fallback relay and sends them from the fallback address.
    pub fn fallback(fallback: &Fallback) -> Result<Sender, SenderError> {
        let identity = (fallback.address.with_detail(None), fallback.envelope_from.clone());
        Ok(Sender {
            route: Route::Fallback,
            identity: Some(identity),
            ..Sender::new(&fallback.transport, fallback.first_retry)?
        })
    }

    /// Delivers every due delivery once. Only a store error stops the pass.
    pub fn drain(&mut self, store: &mut Store, now: Timestamp) -> Result<DrainReport, StoreError> {
        self.drain_while(store, now, || true)
    }

    /// As `drain`, asking `keep_going` before each delivery, so that a
    /// shutdown stops between recipients rather than after the whole pass.
    pub fn drain_while(
        &mut self,
        store: &mut Store,
        now: Timestamp,
        keep_going: impl Fn() -> bool,
    ) -> Result<DrainReport, StoreError> {
        if !self.unrecorded.is_empty() {
            store.record_attempts(&self.unrecorded, now)?;
            self.unrecorded.clear();
        }
        let mut report = DrainReport::default();
        let claimer = std::process::id();
        let mails = store.claim_due_on(self.route, now, CLAIM_LEASE, claimer, process_is_gone)?;
        let claimed: Vec<(&PendingMail, Vec<String>)> =
            mails.iter().flat_map(|mail| self.batches(mail).into_iter().map(move |batch| (mail, batch))).collect();
        let started = std::time::Instant::now();
        // Just claimed; later ones are checked as the previous answer is recorded.
        let mut ours = claimed.first().map(|(_, batch)| batch.clone()).unwrap_or_default();
        for (position, (mail, _)) in claimed.iter().enumerate() {
            if !keep_going() {
                release(store, &claimed[position..], now);
                return Ok(report);
            }
            let mut unreachable = false;
            let attempts: Vec<(i64, String, Attempt)> = if ours.is_empty() {
                // Its lease ran out and another sender took it.
                Vec::new()
            } else {
                let result = self.send(mail, &ours);
                unreachable = matches!(result, Err(Failure::Unreachable(_)));
                crate::failpoint::crash_at("after_send");
                ours.iter()
                    .map(|recipient| {
                        (mail.id, recipient.clone(), self.attempt(mail, recipient, result.clone(), now, &mut report))
                    })
                    .collect()
            };
            let elapsed = SignedDuration::try_from(started.elapsed()).unwrap_or(SignedDuration::ZERO);
            let renew = claimed.get(position + 1).map(|(next, batch)| Renewal {
                outbox: next.id,
                recipients: batch,
                claimer,
                until: now + elapsed + CLAIM_LEASE,
            });
            match store.record_and_renew(&attempts, renew, now) {
                Ok(kept) => ours = kept,
                Err(error) => {
                    self.unrecorded = attempts;
                    release(store, &claimed[position + 1..], now);
                    return Err(error);
                }
            }
            if unreachable {
                release(store, &claimed[position + 1..], now);
                return Ok(report);
            }
        }
        Ok(report)
    }

    fn attempt(
        &self,
        mail: &PendingMail,
        recipient: &str,
        result: Result<(), Failure>,
        now: Timestamp,
        report: &mut DrainReport,
    ) -> Attempt {
        let previous = mail.recipients.iter().find(|r| r.address == recipient).map_or(0, |r| r.attempts);
        match result {
            Ok(()) => {
                info!(outbox = mail.id, recipient, "mail sent");
                report.sent += 1;
                Attempt::Sent
            }
            Err(Failure::Transient(error) | Failure::Unreachable(error)) => {
                let at = now + retry_delay(self.first_retry, previous);
                warn!(outbox = mail.id, recipient, attempts = previous + 1, %at, error, "delivery deferred");
                report.deferred += 1;
                Attempt::Retry { at, error }
            }
            Err(Failure::Permanent(error)) => {
                error!(outbox = mail.id, recipient, error, "delivery failed permanently");
                report.failed += 1;
                Attempt::Failed { error }
            }
        }
    }

    /// A file transport writes one file for all due recipients; a relay gets
    /// one transaction per recipient, so that one refusal blocks nobody else.
    fn batches(&self, mail: &PendingMail) -> Vec<Vec<String>> {
        let addresses = mail.recipients.iter().map(|recipient| recipient.address.clone());
        match &self.transport {
            Backend::File(_) => vec![addresses.collect()],
            Backend::Sendmail(_) | Backend::Smtp(..) | Backend::Unready => {
                addresses.map(|address| vec![address]).collect()
            }
        }
    }

    /// A token relay's transport with a token fetched within `TOKEN_REUSE`;
    /// a token that cannot be had now is a retry, never mail sent without.
    fn ready_token(&mut self) -> Result<(), Failure> {
        let Some((relay, fetched)) = &mut self.token_relay else { return Ok(()) };
        if fetched.is_some_and(|at| at.elapsed() < TOKEN_REUSE) {
            return Ok(());
        }
        let transport = smtp_transport(relay).map_err(|error| Failure::Transient(format!("no token: {error}")))?;
        self.transport = Backend::Smtp(Box::new(transport), relay.host.clone());
        *fetched = Some(Instant::now());
        Ok(())
    }

    fn send(&mut self, mail: &PendingMail, recipients: &[String]) -> Result<(), Failure> {
        self.ready_token()?;
        let invalid = |error: String| Failure::Permanent(format!("invalid address: {error}"));
        // Mail composed for the primary relay is readdressed for this one.
        let (raw, envelope_from) = match &self.identity {
            Some((from, envelope_from)) if *envelope_from != mail.envelope_from => {
                (std::borrow::Cow::Owned(compose::readdressed(&mail.raw, from, recipients)), envelope_from)
            }
            _ => (std::borrow::Cow::Borrowed(&mail.raw), &mail.envelope_from),
        };
        let from = envelope_from.parse().map_err(|error: lettre::address::AddressError| invalid(error.to_string()))?;
        let recipients = recipients
            .iter()
            .map(|address| address.parse::<lettre::Address>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| invalid(error.to_string()))?;
        let envelope = Envelope::new(Some(from), recipients).map_err(|error| invalid(error.to_string()))?;
        match &self.transport {
            Backend::File(transport) => {
                transport.send_raw(&envelope, &raw).map(drop).map_err(|error| Failure::Transient(error.to_string()))
            }
            Backend::Sendmail(transport) => {
                transport.send_raw(&envelope, &raw).map_err(|error| Failure::Transient(error.to_string()))
            }
            Backend::Smtp(transport, host) => transport.send_raw(&envelope, &raw).map(drop).map_err(|error| {
                let said = crate::trust::explain(host, &error).unwrap_or_else(|| error.to_string());
                // With a token relay, any failure may be a token that expired
                // early: the next attempt fetches another, and a refused login
                // (530, 535, or a challenge lettre cannot answer) is a retry.
                if let Some((_, fetched)) = &mut self.token_relay {
                    *fetched = None;
                    let code = error.status().map(|code| code.to_string());
                    if code.is_none() || matches!(code.as_deref(), Some("530" | "535")) {
                        return Failure::Transient(said);
                    }
                }
                if error.is_permanent() {
                    Failure::Permanent(said)
                } else if error.is_transient() || error.is_response() {
                    Failure::Transient(said)
                } else {
                    Failure::Unreachable(said)
                }
            }),
            Backend::Unready => Err(Failure::Transient("the relay has no token yet".into())),
        }
    }
}

/// Every relay: the primary one, and the fallback one when configured.
pub struct Senders {
    primary: Sender,
    fallback: Option<Sender>,
}

impl Senders {
    pub fn new(config: &Config) -> Result<Senders, SenderError> {
        Ok(Senders {
            primary: Sender::new(&config.transport, config.first_retry)?,
            fallback: config.fallback.as_ref().map(Sender::fallback).transpose()?,
        })
    }

    pub fn drain(&mut self, store: &mut Store, now: Timestamp) -> Result<DrainReport, StoreError> {
        self.drain_while(store, now, || true)
    }

    /// Each relay's pass in turn, the fallback first: it is the one that
    /// works when the primary does not. A relay that cannot be reached ends
    /// its pass at the first try.
    pub fn drain_while(
        &mut self,
        store: &mut Store,
        now: Timestamp,
        keep_going: impl Fn() -> bool,
    ) -> Result<DrainReport, StoreError> {
        let mut report = DrainReport::default();
        for sender in self.fallback.iter_mut().chain(std::iter::once(&mut self.primary)) {
            let pass = sender.drain_while(store, now, &keep_going)?;
            report.sent += pass.sent;
            report.deferred += pass.deferred;
            report.failed += pass.failed;
        }
        Ok(report)
    }
}

/// Hands back claims a pass stopped before trying, so they need not wait for
/// the lease; when even that cannot be written, the lease frees them.
fn release(store: &mut Store, untried: &[(&PendingMail, Vec<String>)], now: Timestamp) {
    let deliveries: Vec<(i64, String)> =
        untried.iter().flat_map(|(mail, batch)| batch.iter().map(|recipient| (mail.id, recipient.clone()))).collect();
    if let Err(error) = store.release_claims(&deliveries, std::process::id(), now) {
        warn!(%error, untried = deliveries.len(), "claims not handed back; they are free again when their lease ends");
    }
}

/// `first` (30 s by default) doubling to 30 min, with ±20 % jitter so
/// retries spread out.
fn retry_delay(first: Duration, attempts_so_far: u32) -> SignedDuration {
    let base = first.saturating_mul(1u32 << attempts_so_far.min(10)).min(LONGEST_RETRY);
    let jittered = base.mul_f64(0.8 + fastrand::f64() * 0.4);
    SignedDuration::try_from(jittered).unwrap_or(SignedDuration::from_secs(LONGEST_RETRY.as_secs() as i64))
}

/// The relay as configured, with its password read now.
pub fn smtp_transport(config: &SmtpConfig) -> Result<SmtpTransport, SenderError> {
    let tls_parameters = || {
        let mut builder = TlsParameters::builder(config.host.clone());
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|error| SenderError::Smtp(format!("{}: {error}", path.display())))?;
            builder = builder.add_root_certificate(
                Certificate::from_pem(&pem).map_err(|error| SenderError::Smtp(error.to_string()))?,
            );
        }
        builder.build().map_err(|error| SenderError::Smtp(error.to_string()))
    };
    let tls = match config.tls {
        TlsMode::Tls => Tls::Wrapper(tls_parameters()?),
        TlsMode::StartTls => Tls::Required(tls_parameters()?),
        TlsMode::None => Tls::None,
    };
    let mut builder =
        SmtpTransport::builder_dangerous(&config.host).port(config.port).tls(tls).timeout(Some(config.timeout));
    if let Some(name) = &config.helo_name {
        builder = builder.hello_name(ClientId::Domain(name.clone()));
    }
    if let Some((username, secret)) = &config.credentials {
        let password = secret.read().map_err(|source| SenderError::Password { source })?;
        builder = builder.credentials(Credentials::new(username.clone(), password));
        if config.xoauth2 {
            builder = builder.authentication(vec![Mechanism::Xoauth2]);
        }
    }
    Ok(builder.build())
}

/// Whether the process that claimed a delivery is gone: only "no such
/// process" counts, so a claimer that is merely not ours to signal keeps
/// its claim until the lease ends.
fn process_is_gone(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else { return false };
    rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_thirty_seconds_to_thirty_minutes() {
        for _ in 0..50 {
            let thirty = Duration::from_secs(30);
            let first = retry_delay(thirty, 0).as_secs();
            assert!((24..=36).contains(&first), "{first}");
            let later = retry_delay(thirty, 3).as_secs();
            assert!((192..=288).contains(&later), "{later}");
            let capped = retry_delay(thirty, 30).as_secs();
            assert!((1440..=2160).contains(&capped), "{capped}");
        }
    }
}

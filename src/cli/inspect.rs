//! Commands that read the store: list, show, export, status, outbox, the
//! report and the digest preview.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use jiff::Timestamp;

use super::{ExitWith, Failure, ReportFormat, exit, open_existing};
use crate::config::Config;
use crate::core::digest::Audience;
use crate::core::incident::{DeliveryStatus, IncidentNumber};
use crate::core::triage;
use crate::render::{Renderer, local_time};
use crate::{export, retrospective, scheduler};

pub(super) fn report(
    config: &Config,
    id: &str,
    format: ReportFormat,
    output: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let number: IncidentNumber = id.parse().map_err(anyhow::Error::msg).exit_with(exit::USAGE)?;
    if let Some(path) = output.filter(|path| path.exists()) {
        return Err(Failure {
            code: 1,
            error: anyhow::anyhow!("{} exists; sitrep never overwrites a file", path.display()),
        });
    }
    let store = open_existing(config)?;
    let incident =
        store.incident(number).exit_with(1)?.ok_or_else(|| anyhow::anyhow!("{number} does not exist")).exit_with(1)?;
    let timeline = store.timeline(number).exit_with(1)?;
    let records = store.retro_records(number).exit_with(1)?;
    let renderer = Renderer::new(config.templates_dir.as_deref(), &config.time_zone).exit_with(exit::CONFIG)?;
    let view = retrospective::compose_report(config, &renderer, &incident, &timeline, &records, Timestamp::now())
        .exit_with(exit::CONFIG)?;
    let (markdown, html) = renderer.report(&view).exit_with(exit::CONFIG)?;
    let text = match format {
        ReportFormat::Markdown => markdown,
        ReportFormat::Html => html,
    };
    match output {
        Some(path) => std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))
            .exit_with(1)?,
        None => std::io::stdout().lock().write_all(text.as_bytes()).exit_with(1)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn preview_digest(
    config: &Config,
    id: &str,
    audience: Audience,
    html: bool,
    now: Timestamp,
) -> Result<ExitCode, Failure> {
    let number: IncidentNumber = id.parse().map_err(anyhow::Error::msg).exit_with(exit::USAGE)?;
    let store = open_existing(config)?;
    let incident =
        store.incident(number).exit_with(1)?.ok_or_else(|| anyhow::anyhow!("{number} does not exist")).exit_with(1)?;
    let facts = store.schedule_facts(number).exit_with(1)?;
    let since_last = store.timeline_after(number, scheduler::covered(&facts.slots, audience)).exit_with(1)?;
    let renderer = Renderer::new(config.templates_dir.as_deref(), &config.time_zone).exit_with(exit::CONFIG)?;
    let view = scheduler::compose_digest(config, &renderer, &incident, &facts.slots, &since_last, audience, now)
        .exit_with(exit::CONFIG)?;
    let (text, html_body) = renderer.digest(&view).exit_with(exit::CONFIG)?;
    let mut stdout = std::io::stdout().lock();
    if html {
        stdout.write_all(html_body.as_bytes()).exit_with(1)?;
    } else {
        writeln!(stdout, "Subject: {}\n\n{text}", view.subject).exit_with(1)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn list(config: &Config) -> Result<ExitCode, Failure> {
    let store = open_existing(config)?;
    let incidents = store.incident_lines().exit_with(1)?;
    let mut stdout = std::io::stdout().lock();
    if incidents.is_empty() {
        writeln!(stdout, "No incidents.").exit_with(1)?;
    }
    for incident in incidents {
        writeln!(
            stdout,
            "{:<8} {:<13} {:<9} {:<13} {:<24} {}",
            incident.number.to_string(),
            incident.status.as_str(),
            incident.severity.map_or("-", |severity| severity.as_str()),
            incident.phase.as_str(),
            incident.lead.as_deref().unwrap_or("no lead"),
            incident.title
        )
        .exit_with(1)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn show(config: &Config, id: &str) -> Result<ExitCode, Failure> {
    let number: IncidentNumber = id.parse().map_err(anyhow::Error::msg).exit_with(exit::USAGE)?;
    let store = open_existing(config)?;
    let incident =
        store.incident(number).exit_with(1)?.ok_or_else(|| anyhow::anyhow!("{number} does not exist")).exit_with(1)?;
    let timeline = store.timeline(number).exit_with(1)?;
    let renderer = Renderer::new(config.templates_dir.as_deref(), &config.time_zone).exit_with(exit::CONFIG)?;
    let mut out = renderer.card(&incident, &config.time_zone).exit_with(exit::CONFIG)?;
    out.push_str("\nTimeline:\n");
    for entry in timeline {
        out.push_str(&format!(
            "- {} {} ({}, {})\n",
            local_time(entry.at, &config.time_zone),
            entry.author,
            entry.kind,
            entry.trust
        ));
        let text = if entry.text.is_empty() { "(no text)" } else { entry.text.as_str() };
        for line in text.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes()).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn export_store(config: &Config, json: bool) -> Result<ExitCode, Failure> {
    if !json {
        return Err(Failure { code: exit::USAGE, error: anyhow::anyhow!("choose a format: sitrep export --json") });
    }
    let store = open_existing(config)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    export::write_json(&store, &mut out).exit_with(1)?;
    writeln!(out).and_then(|()| out.flush()).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn status(config: &Config) -> Result<ExitCode, Failure> {
    let store = open_existing(config)?;
    let summary = store.summary().exit_with(1)?;
    let now = Timestamp::now();
    let when = |at: Option<Timestamp>| match at {
        Some(at) => format!("{} ({} ago)", local_time(at, &config.time_zone), age(now, at)),
        None => "never".to_string(),
    };
    let mut out = String::new();
    out.push_str(&format!("store:          {}\n", config.database_path().display()));
    for (folder, uid_validity, last_uid) in &summary.cursors {
        out.push_str(&format!("mailbox:        {folder}, UIDVALIDITY {uid_validity}, last UID {last_uid}\n"));
    }
    out.push_str(&format!("messages:       {}\n", summary.messages));
    out.push_str(&format!("last message:   {}\n", when(summary.last_message)));
    out.push_str(&format!("outbox: {} queued, {} failed", summary.queued, summary.failed));
    if let Some(oldest) = summary.oldest_queued {
        out.push_str(&format!(", oldest waiting since {}", when(Some(oldest))));
    }
    out.push('\n');
    out.push_str(&format!("open incidents: {}\n", summary.open_incidents));
    let braked = store.rejected_since(now - jiff::SignedDuration::from_hours(1), triage::STORM).exit_with(1)?;
    if braked > 0 {
        out.push_str(&format!(
            "storm brake:    {braked} declarations refused in the last hour (limits in [limits] declarations_per_*)\n"
        ));
    }
    let replies = store.automatic_replies_since(now - jiff::SignedDuration::from_hours(1)).exit_with(1)?;
    let cap = config.limits.replies_per_hour;
    if replies >= cap {
        out.push_str(&format!(
            "reply cap:      {replies} automatic replies in the last hour; more are dropped \
             ([limits] replies_per_hour = {cap})\n"
        ));
    }
    let (recipients, held) = store.held_digests().exit_with(1)?;
    if held > 0 {
        out.push_str(&format!(
            "digest cap:     {held} digests held for {recipients} executive{}, to go out combined \
             ([limits] digests_per_executive_per_hour)\n",
            if recipients == 1 { "" } else { "s" }
        ));
    }
    let next = store.next_scheduled().exit_with(1)?;
    out.push_str(&format!(
        "next scheduled: {}\n",
        next.map_or_else(|| "nothing".to_string(), |at| local_time(at, &config.time_zone))
    ));
    std::io::stdout().lock().write_all(out.as_bytes()).exit_with(1)?;
    Ok(ExitCode::SUCCESS)
}

/// "3 min", "2 h", "4 d": how long ago, for people.
pub(super) fn age(now: Timestamp, then: Timestamp) -> String {
    let seconds = now.duration_since(then).as_secs().max(0);
    match seconds {
        0..120 => format!("{seconds} s"),
        120..7200 => format!("{} min", seconds / 60),
        7200..172_800 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

pub(super) fn outbox(config: &Config, retry: Option<i64>) -> Result<ExitCode, Failure> {
    let mut store = open_existing(config)?;
    let mut stdout = std::io::stdout().lock();
    if let Some(id) = retry {
        let requeued = store.retry(id, Timestamp::now()).exit_with(1)?;
        writeln!(stdout, "outbox {id}: {requeued} failed deliveries queued again").exit_with(1)?;
        return Ok(ExitCode::SUCCESS);
    }
    let deliveries = store.unsent_deliveries().exit_with(1)?;
    if deliveries.is_empty() {
        writeln!(stdout, "Nothing waiting: every mail was delivered.").exit_with(1)?;
    }
    for delivery in deliveries {
        let next = match delivery.status {
            DeliveryStatus::Queued => {
                format!("next attempt {}", local_time(delivery.next_attempt_at, &config.time_zone))
            }
            DeliveryStatus::Sending => {
                format!("being sent; free again {}", local_time(delivery.next_attempt_at, &config.time_zone))
            }
            _ => "retry with --retry".to_string(),
        };
        writeln!(
            stdout,
            "{:>5} {:<7} {:<32} attempts {:<3} {}  {}",
            delivery.outbox,
            delivery.status.as_str(),
            delivery.recipient,
            delivery.attempts,
            next,
            delivery.last_error.as_deref().unwrap_or("")
        )
        .exit_with(1)?;
    }
    Ok(ExitCode::SUCCESS)
}

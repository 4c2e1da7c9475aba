//! The command line: one clap enum, one small function per command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use jiff::Timestamp;

use crate::config::Config;
use crate::core::digest::Audience;

mod inspect;
mod manual;
mod open;
mod operate;

use inspect::{export_store, list, outbox, preview_digest, report, show, status};
use open::open_existing;
use operate::{backup, check_config, completions, doctor, ingest, man, run_daemon, tick};

/// sysexits.h codes, which MTAs and systemd understand.
pub mod exit {
    pub const USAGE: u8 = 64;
    pub const TEMPFAIL: u8 = 75;
    pub const CONFIG: u8 = 78;
}

#[derive(Debug, Parser)]
#[command(name = "sitrep", version, about = "Incident coordination by email")]
pub struct Cli {
    /// Configuration file [default: ./sitrep.toml if present, else the embedded default]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: watch the mailbox, process mail, send the outbox
    Run,
    /// Process raw messages (stdin when no FILE) as the daemon would, then send the outbox once
    Ingest {
        /// Raw RFC 5322 message files
        files: Vec<PathBuf>,
    },
    /// List incidents
    List,
    /// Show one incident and its timeline
    Show {
        /// Incident id, e.g. INC-3
        incident: String,
    },
    /// Export the whole store
    Export {
        /// As one JSON document (the only format so far)
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration and templates
    CheckConfig,
    /// Show the daemon's state from the store: mailbox cursor, last message, outbox, open incidents
    Status,
    /// Check the configuration, store, templates, mailbox and relay; exit 1 on any failure
    Doctor {
        /// Also send a test mail to this address through the relay
        #[arg(long, value_name = "ADDRESS")]
        send_test: Option<String>,
    },
    /// Copy the whole store to FILE while sitrep runs (restore: stop sitrep, put FILE in place of sitrep.db)
    Backup {
        /// Where the copy goes; must not exist yet
        file: PathBuf,
    },
    /// Run all scheduled work that is due (digests, reminders) once, send the outbox, and exit
    Tick {
        /// Act as if it were this time (RFC 3339, e.g. 2026-11-27T14:30:00Z) [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<Timestamp>,
    },
    /// Show an incident's next executive digest as it would be sent
    Digest {
        /// Incident id, e.g. INC-3
        incident: String,
        /// Print it without sending (the only mode; `digest now` by mail sends one)
        #[arg(long)]
        preview: bool,
        /// The responders' digest instead of the executives'
        #[arg(long)]
        tactical: bool,
        /// Print the HTML alternative instead of the text
        #[arg(long)]
        html: bool,
        /// As if it were this time (RFC 3339) [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<Timestamp>,
    },
    /// The post-incident report: milestones, timeline, deadlines, the retrospective's answers, evidence
    Report {
        /// Incident id, e.g. INC-3
        incident: String,
        #[arg(long, value_enum, default_value = "markdown")]
        format: ReportFormat,
        /// Write it here instead of standard output (never overwrites)
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print a manual page (roff), e.g. `sitrep man | man -l -`; `sitrep man sitrep.toml` for the configuration
    Man {
        #[arg(value_enum, default_value = "sitrep")]
        page: ManPage,
    },
    /// Print the completion script for a shell, e.g. `sitrep completions bash > /etc/bash_completion.d/sitrep`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// List mail not yet delivered (queued or failed), per recipient
    Outbox {
        /// Queue the failed deliveries of this outbox row again
        #[arg(long, value_name = "ID")]
        retry: Option<i64>,
    },
}

/// The manual pages sitrep writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManPage {
    /// sitrep(1): the commands.
    Sitrep,
    /// sitrep.toml(5): the configuration file.
    #[value(name = "sitrep.toml")]
    SitrepToml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Html,
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

trait ExitWith<T> {
    fn exit_with(self, code: u8) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> ExitWith<T> for Result<T, E> {
    fn exit_with(self, code: u8) -> Result<T, Failure> {
        self.map_err(|error| Failure { code, error: error.into() })
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    // These describe the program, not an installation: no configuration needed.
    let load = || Config::load(cli.config.as_deref()).exit_with(exit::CONFIG);
    match cli.command {
        Command::Man { page } => man(page),
        Command::Completions { shell } => completions(shell),
        Command::Run => run_daemon(load()?, cli.config.clone()),
        Command::Ingest { files } => ingest(load()?, &files),
        Command::List => list(&load()?),
        Command::Show { incident } => show(&load()?, &incident),
        Command::Export { json } => export_store(&load()?, json),
        Command::CheckConfig => check_config(&load()?),
        Command::Outbox { retry } => outbox(&load()?, retry),
        Command::Status => status(&load()?),
        Command::Doctor { send_test } => doctor(&load()?, send_test.as_deref()),
        Command::Backup { file } => backup(&load()?, &file),
        Command::Report { incident, format, output } => report(&load()?, &incident, format, output.as_deref()),
        Command::Tick { at } => tick(load()?, at.unwrap_or_else(Timestamp::now)),
        Command::Digest { incident, preview, tactical, html, at } => {
            if !preview {
                return Err(Failure {
                    code: exit::USAGE,
                    error: anyhow::anyhow!(
                        "say --preview: digests are sent on their schedule, or by `digest now` by mail"
                    ),
                });
            }
            let audience = if tactical { Audience::Tactical } else { Audience::Executive };
            preview_digest(&load()?, &incident, audience, html, at.unwrap_or_else(Timestamp::now))
        }
    }
}

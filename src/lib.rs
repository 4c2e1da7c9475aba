//! sitrep: incident coordination by email for organisations without a
//! security team.
//!
//! # Layout
//! - `core`: the pure domain: subjects, quoted text, sender authority,
//!   triage and threading, the command language, the incident state machine,
//!   the schedule, digest content and notification clocks. No I/O, no clock.
//! - `inbound`: raw bytes → `core::mail::Inbound` (mail-parser), within limits.
//! - `pipeline`: a message in, `Pipeline::ingest`, in one transaction.
//! - `scheduler`: scheduled mail (digests, reminders), `tick`.
//! - `retrospective`: the questionnaire, answers and the report after close.
//! - `store`: SQLite; the only module with SQL.
//! - `render`: tera templates; `compose`: outgoing RFC 5322 bytes (lettre).
//! - `outbox`: delivers queued mail, one recipient at a time, each answer
//!   recorded before the next; `failpoint`: crash points for recovery tests.
//! - `imap`: the IMAP mailbox; `maildir`: the local one.
//! - `daemon`: `sitrep run`; `notify`: systemd readiness and watchdog.
//! - `cli`: the commands; `export`: the JSON export; `doctor`: the checks.
//! - `config`: TOML → validated `Config`; `telemetry`: logging.

pub mod cli;
pub mod compose;
pub mod config;
pub mod core;
pub mod daemon;
pub mod doctor;
pub mod export;
pub mod failpoint;
pub mod fallback;
pub mod imap;
pub mod inbound;
pub mod maildir;
pub mod maintenance;
pub mod notify;
pub mod outbox;
pub mod outgoing;
pub mod pipeline;
pub mod render;
pub mod retrospective;
pub mod scheduler;
pub mod store;
pub mod telemetry;
pub mod template_check;
pub mod trust;

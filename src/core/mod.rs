//! The pure core: what a message says, where it belongs, and what happens to
//! the incident. Data in, data out.
//!
//! **Invariant:** nothing here does I/O, reads the clock or knows SQLite,
//! lettre, tera, tokio or mail-parser. Time and the store's answers are
//! parameters. `tests/it/tidy.rs` enforces it.

pub mod access;
pub mod auth;
pub mod command;
pub mod deadline;
pub mod digest;
pub mod incident;
pub mod mail;
pub mod out_of_band;
pub mod outcome;
pub mod plan;
pub mod playbook;
pub mod quote;
pub mod recipients;
pub mod report;
pub mod retro;
pub mod schedule;
pub mod subject;
pub mod timeline;
pub mod transition;
pub mod triage;

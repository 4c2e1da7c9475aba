//! The one integration test binary.

// Shared harness: a temporary data directory, config and message builder.
mod support;

// Every `.eml` fixture: the update text extracted matches its `.txt`.
mod fixtures;
// Ingestion scenarios through `Pipeline::ingest` on a real SQLite file.
mod pipeline;
// The command language by mail: transcripts, authority, spoofing, loops.
mod commands;
// Whole incidents as data: tests/scenarios/<name>/ with golden outputs.
mod scenarios;
// Delivery: answers recorded one by one, claims, full disks, crashes.
mod delivery;
// Digests, reminders and notification clocks with a fixed clock.
mod digests;
// Incident types and their first-hour playbooks.
mod playbooks;
// Pre-drafted communications, their versions and approval by mail.
mod drafts;
// Out-of-band operation: the fallback mailbox and relay, local and file-based.
mod out_of_band;
// Close and learn: questionnaire, answers in every quoting style, report.
mod retro;
// The binary: exit codes, export, the daemon and crash recovery.
mod cli;
// Faults through the binary: a full disk (a real tmpfs) and a locked store.
mod faults;
// End to end against a real Postfix and Dovecot (tests/mailstack/stack.sh).
mod mailstack;
// The shipped example configuration and templates.
mod config;
// Structural rules: the pure core stays pure, every file says what it is.
mod tidy;

//! The `sitrep` binary: parse the command line, start logging, run the
//! command and map failures to sysexits codes.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use sitrep::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(cli::exit::USAGE),
            };
        }
    };
    // The store, attachments, backups and outgoing mail hold incident
    // details: readable by the user sitrep runs as, and nobody else.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    sitrep::telemetry::init(if matches!(cli.command, Command::Run) { "info" } else { "warn" });
    // A connection's broken pipe must not end the daemon with success,
    // which systemd would not restart.
    let daemon = matches!(cli.command, Command::Run);
    match cli::run(cli) {
        Ok(code) => code,
        // The reader went away (`sitrep export --json | head`): as coreutils do.
        Err(failure) if !daemon && is_broken_pipe(&failure.error) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "sitrep: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

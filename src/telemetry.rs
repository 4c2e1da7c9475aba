//! Logging through tracing: `RUST_LOG` filters; under systemd, where
//! journald names its stream in `JOURNAL_STREAM`, timestamps are left to
//! the journal and each line carries its syslog priority.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub fn init(default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Its report of a failed write goes to stderr with `eprintln!`,
        // which panics when stderr is a closed pipe.
        .log_internal_errors(false)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    if stderr_is_the_journal() {
        let format = tracing_subscriber::fmt::format().without_time().with_target(false).with_ansi(false);
        builder.event_format(WithPriority(format)).init();
    } else {
        builder.init();
    }
}

/// Whether stderr is journald's stream: `JOURNAL_STREAM` names its device
/// and inode (sd-daemon(3)); a child that inherited the variable but writes
/// elsewhere (a terminal, a pipe) is not.
fn stderr_is_the_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Ok(stat) = rustix::fs::fstat(std::io::stderr()) else { return false };
    stream.to_str() == Some(format!("{}:{}", stat.st_dev, stat.st_ino).as_str())
}

/// journald reads a `<N>` syslog priority at the start of each line on a
/// service's stderr (sd-daemon(3)); without one, every line is "info".
struct WithPriority<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithPriority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, context: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(context, writer, event)
    }
}

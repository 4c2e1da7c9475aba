//! systemd's service notification protocol: `READY=1` once sitrep can do
//! its job, `WATCHDOG=1` while it still can, `STOPPING=1` on the way out.
//! Without `$NOTIFY_SOCKET` (not under systemd) every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use tracing::warn;

pub struct Notifier {
    socket: UnixDatagram,
    address: std::os::unix::net::SocketAddr,
}

impl Notifier {
    /// The notifier systemd asked for, if any.
    pub fn from_environment() -> Option<Notifier> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let bytes = path.as_encoded_bytes();
        let address = match bytes.strip_prefix(b"@") {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
            }
            None => std::os::unix::net::SocketAddr::from_pathname(&path),
        };
        let notifier = UnixDatagram::unbound().and_then(|socket| Ok(Notifier { socket, address: address? }));
        match notifier {
            Ok(notifier) => Some(notifier),
            Err(error) => {
                warn!(%error, "NOTIFY_SOCKET is set but unusable; systemd will not hear from sitrep");
                None
            }
        }
    }

    pub fn send(&self, state: &str) {
        if let Err(error) = self.socket.send_to_addr(state.as_bytes(), &self.address) {
            warn!(%error, state, "cannot notify systemd");
        }
    }
}

/// How often to send `WATCHDOG=1`: half of `WatchdogSec`, when the watchdog
/// is meant for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let microseconds: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let for_us = std::env::var("WATCHDOG_PID").ok().is_none_or(|pid| pid == std::process::id().to_string());
    (for_us && microseconds > 0).then(|| Duration::from_micros(microseconds / 2))
}

//! `[fallback]`: the second mailbox and relay, at another provider, for
//! incidents moved out of band and for mail the primary relay cannot send.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::parts::mailbox_address;
use super::{RawMailbox, RawTransport, mailbox, transport};
use crate::config::Fallback;
use crate::core::access::IncidentAddress;
use crate::core::deadline;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFallback {
    address: String,
    trusted_authserv_id: Option<String>,
    after: Option<String>,
    mailbox: RawMailbox,
    transport: RawTransport,
}

impl RawFallback {
    pub(super) fn validate(
        self,
        primary: &IncidentAddress,
        staff_domains: &[String],
        authenticated: bool,
        resolve: &dyn Fn(&Path) -> PathBuf,
    ) -> Result<Fallback, String> {
        let within = |problem: String| format!("fallback.{problem}");
        let address = IncidentAddress::parse(&self.address).map_err(|error| format!("fallback.address: {error}"))?;
        if staff_domains.iter().any(|domain| domain == address.domain()) || address.domain() == primary.domain() {
            return Err(format!(
                "fallback.address: {} is in the company's own domain; the out-of-band mailbox must be one the \
                 company's mail system does not hold",
                address.with_detail(None)
            ));
        }
        let trusted_authserv_id = self.trusted_authserv_id.map(|id| id.trim().to_lowercase());
        if authenticated && trusted_authserv_id.is_none() {
            return Err("fallback.trusted_authserv_id: required when [auth] trusted_authserv_id is set, or anyone \
                        could write From: an out-of-band address"
                .to_string());
        }
        let after = self.after.as_deref().map(waited_for).transpose()?;
        let mailbox = mailbox(self.mailbox, resolve).map_err(within)?;
        let (transport, envelope_from, first_retry) = transport(self.transport, &address, resolve).map_err(within)?;
        mailbox_address(&envelope_from, "fallback.transport.envelope_from")?;
        Ok(Fallback { address, trusted_authserv_id, after, mailbox, transport, envelope_from, first_retry })
    }
}

/// `after`: `10m`, `1h`, or seconds (`90s`) for a site whose relays are
/// both its own.
fn waited_for(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Some(seconds) = text.strip_suffix('s').and_then(|number| number.trim().parse::<u64>().ok()) {
        return match seconds {
            0 => Err("fallback.after: must be more than 0 s".to_string()),
            seconds => Ok(Duration::from_secs(seconds)),
        };
    }
    let after = deadline::parse_duration(text).map_err(|error| format!("fallback.after: {error}"))?;
    Ok(Duration::from_secs(after.as_secs().unsigned_abs()))
}

//! Which way a mail came: how far its author is believed when they wrote
//! from an out-of-band address, and whether staff mail about an incident
//! moved out of band came through a company mailbox that may be the
//! attacker's.

use super::Pipeline;
use crate::core::auth::{self, Authority};
use crate::core::incident::{Channel, IncidentNumber};
use crate::core::mail::Inbound;
use crate::core::out_of_band::{Arrived, OutOfBand};
use crate::store::{StoreError, WriteTx};

impl Pipeline {
    /// How far the author is believed, by the border of the mailbox the
    /// mail came through: the fallback provider's for the fallback mailbox,
    /// the company's for the primary one. An out-of-band address counts only
    /// through the fallback mailbox: whoever holds the company's tenant can
    /// put any mail, with any headers, into the primary one.
    pub(super) fn authority(&self, inbound: &Inbound, through_fallback: bool) -> Authority {
        let config = self.config();
        let from_out_of_band = self.out_of_band().is_some_and(|out_of_band| {
            inbound.author().is_some_and(|author| out_of_band.person_of(&author.address).is_some())
        });
        match (&config.fallback, through_fallback) {
            (Some(fallback), true) if from_out_of_band => {
                auth::out_of_band_authority(inbound, fallback.trusted_authserv_id.as_deref())
            }
            (Some(fallback), true) => auth::authority(inbound, &config.access, fallback.trusted_authserv_id.as_deref()),
            _ if from_out_of_band => Authority::Unverified(
                "an out-of-band address counts only in mail to the out-of-band incident address".to_string(),
            ),
            _ => auth::authority(inbound, &config.access, config.trusted_authserv_id.as_deref()),
        }
    }

    pub(super) fn out_of_band(&self) -> Option<OutOfBand<'_>> {
        self.config().out_of_band()
    }

    /// Whether the author has an out-of-band address: their mail about an
    /// incident out of band that came through company mail may be the
    /// attacker's, who holds that mailbox, and runs nothing.
    pub(super) fn has_out_of_band_address(&self, inbound: &Inbound) -> bool {
        self.out_of_band()
            .is_some_and(|out_of_band| inbound.author().is_some_and(|author| out_of_band.reachable(&author.address)))
    }

    /// Whether mail about `incident`, out of band, came through company
    /// mail: its sender may post, but not steer (close, reopen, replace the
    /// lead, change who hears, move it back).
    pub(super) fn through_company_mail(
        &self,
        transaction: &WriteTx<'_>,
        incident: IncidentNumber,
        arrived: Arrived,
    ) -> Result<bool, StoreError> {
        if self.out_of_band().is_none() || arrived.from_out_of_band {
            return Ok(false);
        }
        Ok(transaction.incident_channel(incident)? == Some(Channel::OutOfBand))
    }
}

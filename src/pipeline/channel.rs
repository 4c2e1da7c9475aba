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
    /// How far the author is believed: an out-of-band address is vouched
    /// for by the fallback provider, any other by the company's border.
    pub(super) fn authority(&self, inbound: &Inbound) -> Authority {
        let config = self.config();
        match (&config.fallback, self.out_of_band()) {
            (Some(fallback), Some(out_of_band))
                if inbound.author().is_some_and(|author| out_of_band.person_of(&author.address).is_some()) =>
            {
                auth::out_of_band_authority(inbound, fallback.trusted_authserv_id.as_deref())
            }
            _ => auth::authority(inbound, &config.access, config.trusted_authserv_id.as_deref()),
        }
    }

    pub(super) fn out_of_band(&self) -> Option<OutOfBand<'_>> {
        let config = self.config();
        config.fallback.as_ref().map(|fallback| OutOfBand {
            primary: &config.address,
            fallback: &fallback.address,
            addresses: &config.out_of_band,
        })
    }

    /// Whether a staff mail about an out-of-band incident came through the
    /// company's own mail from someone who has an out-of-band address: the
    /// one writing may be the attacker who holds that mailbox.
    pub(super) fn came_through_compromised_channel(
        &self,
        transaction: &WriteTx<'_>,
        inbound: &Inbound,
        incident: IncidentNumber,
        arrived: Arrived,
    ) -> Result<bool, StoreError> {
        let Some(out_of_band) = self.out_of_band().filter(|_| !arrived.from_out_of_band) else { return Ok(false) };
        if !inbound.author().is_some_and(|author| out_of_band.reachable(&author.address)) {
            return Ok(false);
        }
        Ok(transaction.incident_channel(incident)? == Some(Channel::OutOfBand))
    }
}

//! Out-of-band operation: the people who have an address at another
//! provider, and mail from such an address (or to the fallback incident
//! address) read as if it came through the company's own mail, so that
//! threading, permissions and roles see one person and one incident
//! address whichever way a mail travelled.

use std::collections::BTreeMap;

use super::access::IncidentAddress;
use super::mail::{Inbound, Mailbox};

/// The fallback incident address and everyone's out-of-band address.
pub struct OutOfBand<'a> {
    pub primary: &'a IncidentAddress,
    pub fallback: &'a IncidentAddress,
    /// A company address to the same person's out-of-band address.
    pub addresses: &'a BTreeMap<String, String>,
}

/// How a mail travelled, as far as out-of-band operation cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arrived {
    /// Its author wrote from their out-of-band address.
    pub from_out_of_band: bool,
    /// It was sent to the fallback incident address, or read from the
    /// fallback mailbox.
    pub to_fallback: bool,
}

impl Arrived {
    /// Whether a declaration that came this way starts out of band.
    pub fn out_of_band(&self) -> bool {
        self.from_out_of_band || self.to_fallback
    }
}

impl OutOfBand<'_> {
    /// The company address of the person whose out-of-band address this is.
    pub fn person_of(&self, address: &str) -> Option<&str> {
        self.addresses
            .iter()
            .find(|(_, elsewhere)| elsewhere.eq_ignore_ascii_case(address))
            .map(|(company, _)| company.as_str())
    }

    /// Whether `company` has an out-of-band address.
    pub fn reachable(&self, company: &str) -> bool {
        self.addresses.contains_key(&company.to_lowercase())
    }

    /// Rewrites `inbound`'s addresses as the company's: an out-of-band
    /// address becomes its person's company address and the fallback
    /// incident address (with any `+n`) the primary one. Returns how it came.
    pub fn read_as_company_mail(&self, inbound: &mut Inbound) -> Arrived {
        let from_out_of_band = inbound.author().is_some_and(|author| self.person_of(&author.address).is_some());
        let to_fallback = inbound.to.iter().chain(&inbound.cc).any(|mailbox| self.fallback.is_ours(&mailbox.address));
        let mailboxes = inbound
            .from
            .iter_mut()
            .chain(inbound.sender.iter_mut())
            .chain(inbound.reply_to.iter_mut())
            .chain(inbound.to.iter_mut())
            .chain(inbound.cc.iter_mut());
        for mailbox in mailboxes {
            self.rewrite(mailbox);
        }
        Arrived { from_out_of_band, to_fallback }
    }

    fn rewrite(&self, mailbox: &mut Mailbox) {
        if let Some(company) = self.person_of(&mailbox.address) {
            mailbox.address = company.to_string();
        } else if self.fallback.is_ours(&mailbox.address) {
            mailbox.address = self.primary.with_detail(self.fallback.plus_incident(&mailbox.address));
        }
    }

    /// Where mail for `recipient` goes while an incident is out of band: a
    /// company address to its person's out-of-band address, or nowhere when
    /// they have none; anyone outside the company (`staff` false) as is.
    pub fn route(&self, recipient: &str, staff: bool) -> Option<String> {
        match self.addresses.get(&recipient.to_lowercase()) {
            Some(elsewhere) => Some(elsewhere.clone()),
            None if staff => None,
            None => Some(recipient.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(address: &str) -> Mailbox {
        Mailbox { address: address.to_string(), name: None }
    }

    fn setting() -> (IncidentAddress, IncidentAddress, BTreeMap<String, String>) {
        (
            IncidentAddress::parse("incident@company.test").unwrap(),
            IncidentAddress::parse("ir@elsewhere.test").unwrap(),
            BTreeMap::from([("alice@company.test".to_string(), "alice.ir@elsewhere.test".to_string())]),
        )
    }

    #[test]
    fn mail_from_an_out_of_band_address_reads_as_its_person() {
        let (primary, fallback, addresses) = setting();
        let out_of_band = OutOfBand { primary: &primary, fallback: &fallback, addresses: &addresses };
        let mut inbound = Inbound::sample("alice.ir@elsewhere.test", "Re: [INC-4] Invoices");
        inbound.to = vec![mailbox("ir+4@elsewhere.test")];
        inbound.cc = vec![mailbox("bob@company.test")];
        let arrived = out_of_band.read_as_company_mail(&mut inbound);
        assert_eq!(arrived, Arrived { from_out_of_band: true, to_fallback: true });
        assert_eq!(inbound.from[0].address, "alice@company.test");
        assert_eq!(inbound.to[0].address, "incident+4@company.test");
        assert_eq!(inbound.cc[0].address, "bob@company.test");
    }

    #[test]
    fn company_mail_is_left_as_it_is() {
        let (primary, fallback, addresses) = setting();
        let out_of_band = OutOfBand { primary: &primary, fallback: &fallback, addresses: &addresses };
        let mut inbound = Inbound::sample("alice@company.test", "Re: [INC-4] Invoices");
        let before = inbound.clone();
        assert_eq!(out_of_band.read_as_company_mail(&mut inbound), Arrived::default());
        assert_eq!(inbound, before);
    }

    #[test]
    fn out_of_band_mail_reaches_only_out_of_band_addresses_and_outsiders() {
        let (primary, fallback, addresses) = setting();
        let out_of_band = OutOfBand { primary: &primary, fallback: &fallback, addresses: &addresses };
        assert_eq!(out_of_band.route("Alice@company.test", true).as_deref(), Some("alice.ir@elsewhere.test"));
        assert_eq!(out_of_band.route("bob@company.test", true), None);
        assert_eq!(out_of_band.route("counsel@lawfirm.test", false).as_deref(), Some("counsel@lawfirm.test"));
    }
}

//! Who sitrep is and who it believes: the incident mailbox's address
//! (with `+n` for one incident, and the shape of its own Message-IDs), and
//! who counts as staff, partner or list.

use super::incident::IncidentNumber;

const OWN_MESSAGE_ID_PREFIX: &str = "sitrep.";

/// The incident mailbox, e.g. `incident@company.test`, which also answers to
/// `incident+7@company.test` for INC-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentAddress {
    local: String,
    domain: String,
}

impl IncidentAddress {
    pub fn parse(address: &str) -> Result<IncidentAddress, String> {
        let address = address.trim().to_lowercase();
        match address.rsplit_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.is_empty()
                    && !local.contains('+')
                    && domain.contains('.')
                    && !address.chars().any(|c| c.is_whitespace() || "<>\",;".contains(c)) =>
            {
                Ok(IncidentAddress { local: local.to_string(), domain: domain.to_string() })
            }
            _ => Err(format!("`{address}` is not a plain mailbox address like incident@company.test")),
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The plain address, or with `+n` for one incident.
    pub fn with_detail(&self, incident: Option<IncidentNumber>) -> String {
        match incident {
            Some(number) => format!("{}+{}@{}", self.local, number.0, self.domain),
            None => format!("{}@{}", self.local, self.domain),
        }
    }

    /// A Message-ID for mail sitrep sends, `unique` being fresh for each.
    pub fn own_message_id(&self, unique: &str) -> String {
        format!("{OWN_MESSAGE_ID_PREFIX}{unique}@{}", self.domain)
    }

    /// Whether a Message-ID is one sitrep made, by its shape.
    pub fn is_own_message_id(&self, message_id: &str) -> bool {
        message_id.starts_with(OWN_MESSAGE_ID_PREFIX)
            && message_id.rsplit_once('@').is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(&self.domain))
    }

    /// Whether `address` is this mailbox, with or without a `+detail`.
    pub fn is_ours(&self, address: &str) -> bool {
        self.split(address).is_some()
    }

    /// The incident named by a plus address, `incident+7@` → INC-7.
    pub fn plus_incident(&self, address: &str) -> Option<IncidentNumber> {
        self.split(address)?.and_then(|detail| detail.parse().ok()).filter(|&n| n > 0).map(IncidentNumber)
    }

    fn split<'a>(&self, address: &'a str) -> Option<Option<&'a str>> {
        let (local, domain) = address.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        let (base, detail) = match local.split_once('+') {
            Some((base, detail)) => (base, Some(detail)),
            None => (local, None),
        };
        base.eq_ignore_ascii_case(&self.local).then_some(detail)
    }
}

/// Who counts as staff: anyone at a staff domain, plus listed addresses.
/// Partners are outside firms whose updates count but who run no commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub staff_domains: Vec<String>,
    pub staff_addresses: Vec<String>,
    pub partner_domains: Vec<String>,
    /// Distribution lists (`[access] lists`): never copied on a reply.
    pub lists: Vec<String>,
}

/// What becomes of an outsider's mail to an existing incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalPolicy {
    /// Kept on the timeline as `external`; it changes nothing.
    Record,
    Reject,
}

impl Access {
    pub fn is_partner(&self, address: &str) -> bool {
        let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
        self.partner_domains.iter().any(|partner| partner.eq_ignore_ascii_case(domain))
    }

    pub fn is_staff(&self, address: &str) -> bool {
        let address = address.to_lowercase();
        let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
        self.staff_addresses.iter().any(|allowed| allowed.eq_ignore_ascii_case(&address))
            || self.staff_domains.iter().any(|allowed| allowed.eq_ignore_ascii_case(domain))
    }
}

//! Whether a sender may steer an incident: From is a claim, so staff mail
//! carries authority only when the border MTA vouches for it.

use super::access::Access;
use super::mail::{Inbound, Mailbox};

/// How far a message's author is believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// Staff, and authenticated when authentication is configured.
    Staff,
    /// An outside firm (`partner_domains`): updates count, commands do not.
    Partner,
    /// Anyone else.
    External,
    /// Claims to be staff but failed a check; the reason says which.
    Unverified(String),
}

/// Decides the authority of `inbound`'s single author. `trusted_authserv_id`
/// is the border MTA's id; without it, From is taken at its word.
pub fn authority(inbound: &Inbound, access: &Access, trusted_authserv_id: Option<&str>) -> Authority {
    let Some(author) = inbound.author() else {
        return Authority::Unverified("the From header does not name exactly one address".to_string());
    };
    if !access.is_staff(&author.address) {
        return if access.is_partner(&author.address) { Authority::Partner } else { Authority::External };
    }
    believed(inbound, author, trusted_authserv_id)
}

/// As `authority`, for mail from a staff member's out-of-band address:
/// `trusted_authserv_id` is the fallback provider's.
pub fn out_of_band_authority(inbound: &Inbound, trusted_authserv_id: Option<&str>) -> Authority {
    match inbound.author() {
        Some(author) => believed(inbound, author, trusted_authserv_id),
        None => Authority::Unverified("the From header does not name exactly one address".to_string()),
    }
}

/// Whether the one author's claim holds: no address in the display name,
/// no other Sender, and the border server's DMARC or aligned DKIM pass.
fn believed(inbound: &Inbound, author: &Mailbox, trusted_authserv_id: Option<&str>) -> Authority {
    if author.name.as_deref().is_some_and(|name| name.contains('@')) {
        return Authority::Unverified("the display name contains an address".to_string());
    }
    if let Some(sender) = &inbound.sender
        && sender.address != author.address
    {
        return Authority::Unverified(format!("Sender {} differs from From {}", sender.address, author.address));
    }
    let Some(authserv_id) = trusted_authserv_id else {
        return Authority::Staff;
    };
    // Only the topmost result from our own border MTA counts: anything
    // below it, or from another server, may have been written by the sender.
    let Some(results) = inbound
        .authentication_results
        .iter()
        .find(|header| results_authserv_id(header).is_some_and(|id| id.eq_ignore_ascii_case(authserv_id)))
    else {
        return Authority::Unverified(format!("no Authentication-Results from {authserv_id}"));
    };
    let domain = author.domain();
    let methods = method_results(results);
    let dmarc_pass = methods.iter().any(|method| {
        method.name == "dmarc"
            && method.result == "pass"
            && method.property("header.from").is_none_or(|from| from.eq_ignore_ascii_case(domain))
    });
    let aligned_dkim_pass = methods.iter().any(|method| {
        method.name == "dkim"
            && method.result == "pass"
            && method.property("header.d").is_some_and(|signer| aligned(signer, domain))
    });
    if dmarc_pass || aligned_dkim_pass {
        Authority::Staff
    } else {
        Authority::Unverified(format!("{authserv_id} reports neither DMARC pass nor an aligned DKIM pass for {domain}"))
    }
}

/// Why the commands of a staff mail must not run, if they must not: a
/// Reply-To outside the company is what a forged or hijacked mail uses to
/// get the answers, and a genuine one does not need it to steer an incident.
pub fn commands_refused(inbound: &Inbound, access: &Access) -> Option<String> {
    let outside = inbound.reply_to.iter().find(|mailbox| !access.is_staff(&mailbox.address))?;
    Some(format!("not run: the mail's Reply-To, {}, is outside the staff domains", outside.address))
}

/// What a site without `[auth]` should be told: who can steer incidents.
pub fn unauthenticated_warning(access: &Access) -> String {
    format!(
        "no [auth] trusted_authserv_id: From is believed, so anyone who writes From: <anyone>@{} can declare, \
         post and steer incidents (close them, change the lead, add recipients); set it to the id your border \
         mail server writes in Authentication-Results (`sitrep doctor` proposes one from received mail)",
        access.staff_domains.first().map_or("your domain", String::as_str)
    )
}

/// The authserv-ids of a message's Authentication-Results headers, topmost
/// first: the one a site's border server writes is among them.
pub fn authserv_ids(inbound: &Inbound) -> Vec<String> {
    inbound
        .authentication_results
        .iter()
        .filter_map(|header| results_authserv_id(header))
        .map(str::to_lowercase)
        .collect()
}

/// Relaxed alignment (RFC 7489 §3.1): the signing domain is the From
/// domain or a parent of it.
fn aligned(signer: &str, from_domain: &str) -> bool {
    let signer = signer.trim().to_lowercase();
    let from_domain = from_domain.to_lowercase();
    signer.contains('.') && (from_domain == signer || from_domain.ends_with(&format!(".{signer}")))
}

/// The authserv-id: the first token, before any version number or `;`.
fn results_authserv_id(header: &str) -> Option<&str> {
    header.split(';').next()?.split_whitespace().next()
}

struct MethodResult<'a> {
    name: String,
    result: String,
    properties: Vec<(&'a str, &'a str)>,
}

impl MethodResult<'_> {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| *value)
    }
}

/// `dkim=pass header.d=company.test; dmarc=pass header.from=company.test`.
fn method_results(header: &str) -> Vec<MethodResult<'_>> {
    header
        .split(';')
        .skip(1)
        .filter_map(|clause| {
            let mut tokens = clause.split_whitespace();
            let (name, result) = tokens.next()?.split_once('=')?;
            let properties = tokens.filter_map(|token| token.split_once('=')).collect();
            Some(MethodResult {
                name: name.to_lowercase(),
                result: result.trim_matches(|c| c == '(' || c == ')').to_lowercase(),
                properties,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mail::Mailbox;

    fn inbound(from: &str, name: Option<&str>, results: &[&str]) -> Inbound {
        let mut inbound = Inbound::sample(from, "close");
        inbound.from[0].name = name.map(str::to_string);
        inbound.authentication_results = results.iter().map(|result| result.to_string()).collect();
        inbound
    }

    fn access() -> Access {
        Access {
            staff_domains: vec!["company.test".into()],
            staff_addresses: Vec::new(),
            partner_domains: vec!["mssp.test".into()],
            lists: Vec::new(),
        }
    }

    #[test]
    fn a_reply_to_outside_the_company_stops_commands() {
        let mut mail = Inbound::sample("alice@company.test", "Re: [INC-1] x");
        assert_eq!(commands_refused(&mail, &access()), None);
        mail.reply_to = vec![Mailbox { address: "alice@company.test".into(), name: None }];
        assert_eq!(commands_refused(&mail, &access()), None);
        mail.reply_to.push(Mailbox { address: "alice.ceo@gmail.test".into(), name: None });
        assert!(commands_refused(&mail, &access()).is_some_and(|reason| reason.contains("alice.ceo@gmail.test")));
    }

    #[track_caller]
    fn check(mail: &Inbound, expected_staff: bool) {
        let verdict = authority(mail, &access(), Some("mx.company.test"));
        assert_eq!(verdict == Authority::Staff, expected_staff, "{verdict:?}");
    }

    #[test]
    fn dmarc_or_aligned_dkim_from_our_border_mta_counts() {
        check(
            &inbound(
                "ceo@company.test",
                None,
                &["mx.company.test; spf=pass; dkim=pass header.d=company.test; dmarc=pass header.from=company.test"],
            ),
            true,
        );
        check(&inbound("ceo@company.test", None, &["mx.company.test 1; dkim=pass header.d=company.test"]), true);
        assert!(aligned("company.test", "eu.company.test"));
        assert!(!aligned("company.test", "notcompany.test"));
        assert!(!aligned("test", "company.test"));
    }

    #[test]
    fn the_four_spoofs_do_not() {
        // No results at all.
        check(&inbound("ceo@company.test", None, &[]), false);
        // Results from another server.
        check(&inbound("ceo@company.test", None, &["mx.evil.test; dmarc=pass header.from=company.test"]), false);
        // A forged pass below our border MTA's real verdict.
        check(
            &inbound(
                "ceo@company.test",
                None,
                &[
                    "mx.company.test; dmarc=fail header.from=company.test",
                    "mx.company.test; dmarc=pass header.from=company.test",
                ],
            ),
            false,
        );
        // DKIM passes, but for someone else's domain.
        check(
            &inbound("ceo@company.test", None, &["mx.company.test; dkim=pass header.d=evil.test; dmarc=fail"]),
            false,
        );
        check(&inbound("ceo@company.test", None, &["mx.company.test; dkim=pass header.d=notcompany.test"]), false);
    }

    #[test]
    fn address_tricks_carry_no_authority() {
        let results = ["mx.company.test; dmarc=pass header.from=company.test"];
        check(&inbound("ceo@company.test", Some("ceo@company.test"), &results), false);
        let mut other_sender = inbound("ceo@company.test", None, &results);
        other_sender.sender = Some(Mailbox { address: "x@evil.test".into(), name: None });
        check(&other_sender, false);
    }

    #[test]
    fn without_configuration_from_is_believed_and_outsiders_are_sorted() {
        assert_eq!(authority(&inbound("ceo@company.test", None, &[]), &access(), None), Authority::Staff);
        assert_eq!(authority(&inbound("ir@mssp.test", None, &[]), &access(), None), Authority::Partner);
        assert_eq!(authority(&inbound("x@evil.test", None, &[]), &access(), None), Authority::External);
    }
}

//! The arguments of each verb: severities, phases, roles, streams, tasks,
//! people and times, as written; resolved against the incident later.

use std::sync::LazyLock;

use jiff::civil::Weekday;
use jiff::{SignedDuration, Timestamp};
use regex::Regex;

use super::{CadenceSetting, Command, Form, Milestone, Verb, When, Who};
use crate::core::incident::{Channel, DraftKind, Framing, IncidentType, Phase, Role, Severity, Status, Stream};

pub(super) fn arguments(verb: Verb, rest: &str, form: Form, in_block: bool) -> Result<Command, String> {
    let explicit = form.marked || form.colon || in_block;
    match verb {
        Verb::Severity => severity_value(&rest.to_lowercase())
            .map(Command::Severity)
            .ok_or_else(|| "say critical, high, medium or low (or sev1 to sev4)".to_string()),
        Verb::Title => text(rest, "give the new title").map(Command::Title),
        Verb::Draft => draft(rest),
        Verb::Approve => draft_number(rest).map(Command::Approve),
        Verb::Show => draft_number(rest).map(Command::ShowDraft),
        Verb::Reject => {
            let (number, reason) = rest.split_once([' ', ':']).unwrap_or((rest, ""));
            let reason = reason.trim_start_matches([':', ' ']).trim();
            draft_number(number).map(|number| Command::Reject(number, (!reason.is_empty()).then(|| reason.to_string())))
        }
        Verb::Channel => match rest.trim().to_lowercase().replace(['_', ' '], "-").as_str() {
            "out-of-band" | "oob" => Ok(Command::Channel(Channel::OutOfBand)),
            "normal" | "in-band" => Ok(Command::Channel(Channel::Normal)),
            _ => Err("say out-of-band or normal".to_string()),
        },
        Verb::Type => type_value(rest).map(Command::Type).ok_or_else(|| {
            let names: Vec<&str> = IncidentType::ALL.iter().map(|kind| kind.as_str()).collect();
            format!("say {}", names.join(", "))
        }),
        Verb::Lead => who(rest).map(Command::Lead),
        Verb::Role => {
            let (role, remainder) = role_prefix(rest).ok_or_else(|| format!("name a role: {}", role_names()))?;
            who(remainder).map(|who| Command::Role(role, who))
        }
        Verb::Unassign => {
            if rest.eq_ignore_ascii_case("lead") {
                return Ok(Command::Unassign(None));
            }
            match role_prefix(rest) {
                Some((role, "")) => Ok(Command::Unassign(Some(role))),
                _ => Err(format!("name a role: lead, {}", role_names())),
            }
        }
        Verb::Phase => phase_value(rest)
            .map(Command::Phase)
            .ok_or_else(|| "say detection, containment, eradication, recovery or post-incident".to_string()),
        Verb::Contained => alone(rest, Command::Milestone(Milestone::Contained)),
        Verb::Eradicated => alone(rest, Command::Milestone(Milestone::Eradicated)),
        Verb::Recovered => alone(rest, Command::Milestone(Milestone::Recovered)),
        Verb::Status => rest
            .to_lowercase()
            .parse::<Status>()
            .map(Command::Status)
            .map_err(|_| "say open, investigating, contained, monitoring or closed".to_string()),
        // A reason only in an explicit form: "Close the firewall port" is prose.
        Verb::Close if rest.is_empty() => Ok(Command::Close(None)),
        Verb::Close if explicit => Ok(Command::Close(Some(rest.to_string()))),
        Verb::Close => Err("write `close: <reason>` to give a reason".to_string()),
        Verb::Closed => alone(rest, Command::Close(None)),
        Verb::Reopen => alone(rest, Command::Reopen),
        Verb::Scope => text(rest, "describe the scope").map(Command::Scope),
        Verb::Impact => text(rest, "describe the impact").map(Command::Impact),
        Verb::Detected => when(rest).map(Command::Detected),
        Verb::Started => when(rest).map(Command::Started),
        Verb::Stream => stream_arguments(rest),
        Verb::Task => task_arguments(rest),
        Verb::Done => task_number(rest).map(Command::Done),
        Verb::Drop => task_number(rest).map(Command::Drop),
        Verb::Notify => notify_arguments(rest),
        Verb::Quiet => alone(rest, Command::Quiet),
        // "Note: …" at the top of a mail is how people start ordinary prose.
        Verb::Note if form.colon && !form.marked && !in_block => Err("write `note <text>`".to_string()),
        Verb::Note => text(rest, "write the note").map(Command::Note),
        Verb::Help => alone(rest, Command::Help),
        Verb::Card => alone(rest, Command::Card),
        Verb::Cadence => cadence_setting(rest),
        Verb::Digest if rest.is_empty() || rest.eq_ignore_ascii_case("now") => Ok(Command::DigestNow),
        Verb::Digest => Err("write `digest now`".to_string()),
        Verb::Regime => regime_arguments(rest),
        Verb::Aware if rest.is_empty() => Ok(Command::Aware(When::Now)),
        Verb::Aware => when(rest).map(Command::Aware),
        Verb::Notified => notified_arguments(rest),
        Verb::Retro if rest.eq_ignore_ascii_case("send") => Ok(Command::RetroSend),
        Verb::Retro => Err("write `retro send` to mail the post-incident report".to_string()),
    }
}

pub(super) fn cadence_setting(rest: &str) -> Result<Command, String> {
    let setting = match rest.trim().to_lowercase().as_str() {
        "off" | "none" | "stop" => CadenceSetting::Off,
        "auto" | "default" | "severity" | "on" => CadenceSetting::BySeverity,
        other => CadenceSetting::Every(
            crate::core::deadline::parse_duration(other)
                .map_err(|_| "say how often, e.g. `cadence 45m`, or `cadence off` or `cadence auto`".to_string())?,
        ),
    };
    Ok(Command::Cadence(setting))
}

/// A name people type in a command, such as a regime's (`gdpr`, `sec-8k`):
/// letters, digits, `-` and `_`. The configuration holds its names to it.
pub fn is_typeable_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A regime's name as configured: `gdpr`, `nis2`, `sec-8k`.
pub(super) fn regime_name(word: &str) -> Result<String, String> {
    let name = word.to_lowercase();
    if is_typeable_name(&name) {
        Ok(name)
    } else {
        Err("name a regime from the configuration, e.g. `regime gdpr`".to_string())
    }
}

pub(super) fn regime_arguments(rest: &str) -> Result<Command, String> {
    let mut words = rest.split_whitespace();
    let name = regime_name(words.next().unwrap_or_default())?;
    match words.collect::<Vec<_>>().join(" ").to_lowercase().as_str() {
        "" => Ok(Command::Regime { name, off: false }),
        "off" | "n/a" | "stop" | "drop" | "not applicable" => Ok(Command::Regime { name, off: true }),
        _ => Err("write `regime <name>` to start its clock or `regime <name> off` to drop it".to_string()),
    }
}

pub(super) fn notified_arguments(rest: &str) -> Result<Command, String> {
    let (first, remainder) = rest.trim().split_once(char::is_whitespace).unwrap_or((rest.trim(), ""));
    let regime = regime_name(first)?;
    let when = if remainder.trim().is_empty() { None } else { Some(when(remainder)?) };
    Ok(Command::Notified { regime, when })
}

pub(super) fn alone(rest: &str, command: Command) -> Result<Command, String> {
    if rest.is_empty() { Ok(command) } else { Err("takes nothing after it".to_string()) }
}

pub(super) fn text(rest: &str, missing: &str) -> Result<String, String> {
    if rest.is_empty() { Err(missing.to_string()) } else { Ok(rest.to_string()) }
}

pub(super) fn severity_value(value: &str) -> Option<Severity> {
    match value.trim() {
        "critical" | "crit" | "1" | "sev1" | "p1" => Some(Severity::Critical),
        "high" | "2" | "sev2" | "p2" => Some(Severity::High),
        "medium" | "med" | "3" | "sev3" | "p3" => Some(Severity::Medium),
        "low" | "4" | "sev4" | "p4" => Some(Severity::Low),
        _ => None,
    }
}

/// `customer-notice worst`: the kind in the words people use, and the
/// framing, worst case unless `best` is said.
fn draft(rest: &str) -> Result<Command, String> {
    let words: Vec<String> = rest.split_whitespace().map(str::to_lowercase).collect();
    let framing = match words.last().map(String::as_str) {
        Some("best" | "best-case") => Some(Framing::Best),
        Some("worst" | "worst-case") => Some(Framing::Worst),
        _ => None,
    };
    let kind_words = &words[..words.len() - usize::from(framing.is_some())];
    let kind = match kind_words.join("-").as_str() {
        "staff" | "staff-notice" | "staff-mail" | "internal" => DraftKind::StaffNotice,
        "customer" | "customers" | "customer-notice" | "clients" | "client-notice" => DraftKind::CustomerNotice,
        "regulator" | "dpa" | "ico" | "authority" | "supervisory-authority" => DraftKind::Regulator,
        "insurer" | "insurance" => DraftKind::Insurer,
        "bank" => DraftKind::Bank,
        "police" | "action-fraud" | "ic3" => DraftKind::Police,
        "board" | "management" => DraftKind::Board,
        _ => {
            let kinds: Vec<&str> = DraftKind::ALL.iter().map(|kind| kind.as_str()).collect();
            return Err(format!("say which draft: {}, then best or worst", kinds.join(", ")));
        }
    };
    Ok(Command::Draft(kind, framing.unwrap_or(Framing::Worst)))
}

/// `D2` or `2`.
fn draft_number(text: &str) -> Result<u32, String> {
    let digits = text.trim().trim_start_matches(['D', 'd']);
    digits.parse().ok().filter(|number| *number > 0).ok_or_else(|| "name the draft: D1, D2, ...".to_string())
}

/// An incident type in the words people use for it.
pub(super) fn type_value(value: &str) -> Option<IncidentType> {
    Some(match value.trim().to_lowercase().replace(['_', ' '], "-").as_str() {
        "ransomware" | "ransom" | "crypto-locker" => IncidentType::Ransomware,
        "phishing" | "phish" => IncidentType::Phishing,
        "account-compromise" | "account" | "compromised-account" | "account-takeover" | "hacked-account" => {
            IncidentType::AccountCompromise
        }
        "bec" | "business-email-compromise" | "ceo-fraud" | "invoice-fraud" | "payment-fraud" => IncidentType::Bec,
        "lost-device" | "lost" | "stolen" | "stolen-device" | "lost-laptop" | "lost-phone" => IncidentType::LostDevice,
        "data-leak" | "leak" | "data-breach" | "breach" | "exposure" => IncidentType::DataLeak,
        "website-down" | "website" | "outage" | "ddos" | "defacement" | "site-down" => IncidentType::WebsiteDown,
        "other" => IncidentType::Other,
        _ => return None,
    })
}

pub(super) fn phase_value(value: &str) -> Option<Phase> {
    match value.trim().to_lowercase().replace(['_', ' '], "-").as_str() {
        "detection" | "detection-and-analysis" | "analysis" => Some(Phase::Detection),
        "containment" => Some(Phase::Containment),
        "eradication" => Some(Phase::Eradication),
        "recovery" => Some(Phase::Recovery),
        "post-incident" | "postincident" | "lessons-learned" => Some(Phase::PostIncident),
        _ => None,
    }
}

pub(super) const ROLE_SPELLINGS: &[(Role, &[&str])] = &[
    (Role::Scribe, &["scribe"]),
    (Role::InternalComms, &["internal-comms", "internal comms", "internal communications", "internal"]),
    (Role::ExternalComms, &["external-comms", "external comms", "external communications", "external", "pr"]),
    (Role::Legal, &["legal", "counsel"]),
    (Role::Technical, &["technical", "tech", "technical lead", "tech lead"]),
];

pub(super) fn role_names() -> String {
    Role::ALL.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(", ")
}

/// The role at the start of `text`, and the rest.
pub(super) fn role_prefix(text: &str) -> Option<(Role, &str)> {
    longest_prefix(text, ROLE_SPELLINGS)
}

/// The value whose spelling starts `text` (as whole words, the longest
/// spelling winning: "internal comms" over "internal"), and the rest.
pub(super) fn longest_prefix<'a, T: Copy>(text: &'a str, spellings: &[(T, &[&str])]) -> Option<(T, &'a str)> {
    let mut best: Option<(T, usize)> = None;
    for (value, names) in spellings {
        for name in *names {
            // On the text itself, not a lowercased copy, whose byte
            // positions differ where lowercasing changes a character's length.
            let matches = text.get(..name.len()).is_some_and(|start| start.eq_ignore_ascii_case(name))
                && text[name.len()..].chars().next().is_none_or(char::is_whitespace);
            if matches && best.is_none_or(|(_, length)| name.len() > length) {
                best = Some((*value, name.len()));
            }
        }
    }
    best.map(|(value, length)| (value, text[length..].trim()))
}

pub(super) const STREAM_SPELLINGS: &[(Stream, &[&str])] = &[
    (Stream::Technical, &["technical", "tech"]),
    (Stream::InternalComms, &["internal-comms", "internal comms", "internal"]),
    (Stream::ExternalComms, &["external-comms", "external comms", "external"]),
    (Stream::Legal, &["legal", "regulatory", "legal-regulatory"]),
];

pub(super) fn stream_arguments(rest: &str) -> Result<Command, String> {
    let Some((stream, remainder)) = longest_prefix(rest, STREAM_SPELLINGS) else {
        return Err("name a stream: technical, internal-comms, external-comms or legal".to_string());
    };
    if let Some(person) = remainder.strip_prefix("lead ").or_else(|| remainder.strip_prefix("Lead ")) {
        return who(person).map(|who| Command::StreamLead(stream, who));
    }
    text(remainder, "say where the stream stands").map(|status| Command::StreamStatus(stream, status))
}

pub(super) fn task_arguments(rest: &str) -> Result<Command, String> {
    let mut text_part = rest;
    let mut due = None;
    // Found in the text itself: a lowercased copy's byte positions differ
    // where lowercasing changes a character's length (`İ`).
    if let Some(position) = rest.as_bytes().windows(5).rposition(|window| window.eq_ignore_ascii_case(b" due ")) {
        due = Some(deadline(&rest[position + 5..])?);
        text_part = &rest[..position];
    }
    let mut owner = None;
    let mut words: Vec<&str> = Vec::new();
    for word in text_part.split_whitespace() {
        match word.strip_prefix('@') {
            Some(person) if owner.is_none() && !person.is_empty() => owner = Some(who(person)?),
            _ => words.push(word),
        }
    }
    let description = words.join(" ");
    if description.is_empty() {
        return Err("describe the task".to_string());
    }
    Ok(Command::Task { text: description, owner, due })
}

pub(super) fn task_number(rest: &str) -> Result<u32, String> {
    rest.trim()
        .trim_start_matches('#')
        .parse::<u32>()
        .ok()
        .filter(|&number| number > 0)
        .ok_or_else(|| "give the task number, e.g. `done 2`".to_string())
}

pub(super) fn notify_arguments(rest: &str) -> Result<Command, String> {
    let (add, address) = match rest.chars().next() {
        Some('+') => (true, rest[1..].trim()),
        Some('-') => (false, rest[1..].trim()),
        _ => (true, rest.trim()),
    };
    match who(address)? {
        Who::Address(address) => Ok(Command::Notify { add, address }),
        _ => Err("give an address: `notify +name@company.test` or `notify -name@company.test`".to_string()),
    }
}

/// `me`, an address (with or without angle brackets), or a name.
pub(super) fn who(text: &str) -> Result<Who, String> {
    let text = text.trim().trim_start_matches('@');
    if text.is_empty() {
        return Err("say who: `me`, an address or a name".to_string());
    }
    if text.eq_ignore_ascii_case("me") || text.eq_ignore_ascii_case("myself") {
        return Ok(Who::Me);
    }
    let bare = text.trim_start_matches('<').trim_end_matches('>');
    if bare.contains('@') {
        let valid = bare.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !bare.chars().any(char::is_whitespace)
        });
        return if valid { Ok(Who::Address(bare.to_lowercase())) } else { Err(format!("`{bare}` is not an address")) };
    }
    if text.split_whitespace().count() > 3 || !text.chars().all(|c| c.is_alphanumeric() || " .'-".contains(c)) {
        return Err(format!("`{text}` is not a person: say `me`, an address or a name"));
    }
    Ok(Who::Name(text.to_lowercase()))
}

static CLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:(today|yesterday)\s+)?(\d{1,2})[:.h](\d{2})$").expect("valid pattern"));
static AGO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,4})\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?)\s+ago$").expect("valid pattern")
});

static IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:in\s+|\+)?(\d{1,4})\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?)$").expect("valid pattern")
});
static DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(tomorrow|mon|monday|tue|tues|tuesday|wed|wednesday|thu|thur|thurs|thursday|fri|friday|sat|saturday|sun|sunday)(?:\s+(?:at\s+)?(\d{1,2})[:.h](\d{2}))?$",
    )
    .expect("valid pattern")
});

/// A deadline is due at the end of the working day unless a time is given.
const END_OF_DAY: (i8, i8) = (17, 0);

/// A deadline as people write one: `2h`, `in 30m`, `17:00` (the next
/// 17:00), `tomorrow 09:00`, `friday` (17:00), `fri 12:00`, or RFC 3339.
pub(super) fn deadline(text: &str) -> Result<When, String> {
    let lowered = text.trim().to_lowercase();
    let hint =
        || format!("`{text}` is not a deadline: say 2h, in 30m, 17:00, tomorrow 09:00, friday or 2026-11-27T17:00Z");
    if let Some(captures) = IN.captures(&lowered) {
        let amount: i64 = captures[1].parse().map_err(|_| hint())?;
        return Ok(When::In(SignedDuration::from_secs(amount * unit_seconds(&captures[2]))));
    }
    if let Some(captures) = DAY.captures(&lowered) {
        let (hour, minute) = match (captures.get(2), captures.get(3)) {
            (Some(hour), Some(minute)) => clock(hour.as_str(), minute.as_str()).ok_or_else(hint)?,
            _ => END_OF_DAY,
        };
        let weekday = match &captures[1][..2] {
            "to" => return Ok(When::Tomorrow { hour, minute }),
            "mo" => Weekday::Monday,
            "tu" => Weekday::Tuesday,
            "we" => Weekday::Wednesday,
            "th" => Weekday::Thursday,
            "fr" => Weekday::Friday,
            "sa" => Weekday::Saturday,
            _ => Weekday::Sunday,
        };
        return Ok(When::Next { weekday, hour, minute });
    }
    match when(text) {
        Ok(When::Ago(_) | When::Yesterday { .. }) | Err(_) => Err(hint()),
        Ok(when) => Ok(when),
    }
}

fn unit_seconds(unit: &str) -> i64 {
    match &unit[..1] {
        "m" => 60,
        "h" => 3600,
        _ => 86_400,
    }
}

fn clock(hour: &str, minute: &str) -> Option<(i8, i8)> {
    let hour: i8 = hour.parse().ok()?;
    let minute: i8 = minute.parse().ok()?;
    ((0..24).contains(&hour) && (0..60).contains(&minute)).then_some((hour, minute))
}

/// `now`, `14:05`, `yesterday 14:05`, `30m ago`, or RFC 3339.
pub(super) fn when(text: &str) -> Result<When, String> {
    let lowered = text.trim().to_lowercase();
    if lowered == "now" {
        return Ok(When::Now);
    }
    if let Some(captures) = CLOCK.captures(&lowered) {
        let hour: i8 = captures[2].parse().unwrap_or(99);
        let minute: i8 = captures[3].parse().unwrap_or(99);
        if !(0..24).contains(&hour) || !(0..60).contains(&minute) {
            return Err(format!("`{text}` is not a time of day"));
        }
        return Ok(match captures.get(1).map(|m| m.as_str()) {
            Some("yesterday") => When::Yesterday { hour, minute },
            _ => When::Today { hour, minute },
        });
    }
    if let Some(captures) = AGO.captures(&lowered) {
        let amount: i64 = captures[1].parse().unwrap_or(0);
        return Ok(When::Ago(SignedDuration::from_secs(amount * unit_seconds(&captures[2]))));
    }
    text.trim()
        .parse::<Timestamp>()
        .map(When::At)
        .map_err(|_| format!("`{text}` is not a time: say now, 14:05, yesterday 14:05, 30m ago or 2026-11-27T14:05Z"))
}

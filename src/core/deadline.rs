//! Breach-notification regimes and their clocks: GDPR's 72 hours, NIS2's
//! early warning, the SEC's four business days. The regimes come from the
//! configuration; a clock is started per incident by the `regime` command.

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::incident::{Deadline, DeadlineState, Incident};
use super::outcome::ClockBasis;

/// One regime as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Regime {
    /// What people type: `regime gdpr`.
    pub name: String,
    pub title: String,
    pub from: ClockStart,
    /// In order; NIS2 has an early warning and a notification.
    pub stages: Vec<Stage>,
    /// Percentages of each stage's time at which the lead is reminded.
    pub reminders: Vec<u8>,
    /// Shown with the clock: where to read more, what counsel must confirm.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// "notify the supervisory authority".
    pub what: String,
    /// `None`: without undue delay, a checklist item with no clock.
    pub within: Option<Within>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    Elapsed(SignedDuration),
    /// Monday to Friday in the organisation's time zone; public holidays
    /// are not known and count as business days.
    BusinessDays(u32),
}

/// What a clock counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStart {
    /// When the organisation became aware (`aware <when>`), else when the
    /// incident was detected, else when it was declared.
    Aware,
    /// When the `regime` command was given: the SEC's materiality determination.
    Command,
}

impl Within {
    /// `72h`, `60d`, `4 business days`.
    pub fn parse(text: &str) -> Result<Within, String> {
        let lowered = text.trim().to_lowercase();
        if let Some(days) = lowered.strip_suffix("business days").or_else(|| lowered.strip_suffix("business day")) {
            return days
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|&days| (1..=365).contains(&days))
                .map(Within::BusinessDays)
                .ok_or_else(|| format!("`{text}`: say how many business days, e.g. `4 business days`"));
        }
        parse_duration(&lowered).map(Within::Elapsed)
    }

    pub fn describe(self) -> String {
        match self {
            Within::Elapsed(duration) => describe_duration(duration),
            Within::BusinessDays(1) => "1 business day".to_string(),
            Within::BusinessDays(days) => format!("{days} business days"),
        }
    }

    /// When a clock started at `start` runs out.
    pub fn deadline(self, start: Timestamp, time_zone: &TimeZone) -> Timestamp {
        match self {
            Within::Elapsed(duration) => start.saturating_add(duration).unwrap_or(Timestamp::MAX),
            Within::BusinessDays(days) => add_business_days(start, days, time_zone),
        }
    }
}

/// `45m`, `2h`, `1d`, `90 min`: a whole number with one unit.
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let lowered = text.trim().to_lowercase();
    let split = lowered.find(|c: char| !c.is_ascii_digit()).unwrap_or(lowered.len());
    let (number, unit) = lowered.split_at(split);
    let amount: i64 = number.parse().map_err(|_| format!("`{text}` is not a duration: say 45m, 2h or 1d"))?;
    let seconds = match unit.trim() {
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return Err(format!("`{text}` is not a duration: say 45m, 2h or 1d")),
    };
    if amount <= 0 || amount > 366 * 86_400 / seconds {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(SignedDuration::from_secs(amount * seconds))
}

/// "45 min", "2 h", "3 d", "1 h 30 min": for people.
pub fn describe_duration(duration: SignedDuration) -> String {
    let minutes = duration.as_secs().abs() / 60;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "min")]
        .into_iter()
        .filter(|(amount, _)| *amount > 0)
        .map(|(amount, unit)| format!("{amount} {unit}"))
        .collect();
    if parts.is_empty() { "0 min".to_string() } else { parts.join(" ") }
}

/// The same time of day, `days` weekdays later; a start at a weekend counts
/// from the next Monday's start.
fn add_business_days(start: Timestamp, days: u32, time_zone: &TimeZone) -> Timestamp {
    let zoned = start.to_zoned_datetime(time_zone.clone());
    let mut date = zoned.date();
    let mut time = zoned.time();
    let is_weekend = |date: jiff::civil::Date| matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
    if is_weekend(date) {
        time = jiff::civil::Time::midnight();
    }
    let mut remaining = days;
    while remaining > 0 {
        date = match date.tomorrow() {
            Ok(next) => next,
            Err(_) => return Timestamp::MAX,
        };
        if !is_weekend(date) {
            remaining -= 1;
        }
    }
    date.to_datetime(time).to_zoned_datetime(time_zone.clone()).map_or(Timestamp::MAX, |zoned| zoned.timestamp())
}

/// Where a stage's clock stands at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    pub left: Option<SignedDuration>,
    pub overdue: bool,
}

pub fn reading(deadline: &Deadline, now: Timestamp) -> ClockReading {
    match deadline.due {
        Some(due) => ClockReading { left: Some(due.duration_since(now)), overdue: now > due },
        None => ClockReading { left: None, overdue: false },
    }
}

/// The time a running clock counts from under `from`.
pub fn clock_start(incident: &Incident, from: ClockStart, now: Timestamp) -> (Timestamp, ClockBasis) {
    match from {
        ClockStart::Command => (now, ClockBasis::Now),
        ClockStart::Aware => match (incident.milestones.aware, incident.milestones.detected) {
            (Some(aware), _) => (aware, ClockBasis::Awareness),
            (None, Some(detected)) => (detected, ClockBasis::Detection),
            (None, None) => (incident.declared_at, ClockBasis::Declaration),
        },
    }
}

/// The running stages whose regime is still configured, with it.
fn running<'a>(incident: &'a Incident, regimes: &'a [Regime]) -> impl Iterator<Item = (&'a Deadline, &'a Regime)> {
    incident
        .deadlines
        .iter()
        .filter(|deadline| deadline.state == DeadlineState::Running)
        .filter_map(|deadline| Some((deadline, regimes.iter().find(|regime| regime.name == deadline.regime)?)))
}

/// A reminder that is due: the stage and the percentage reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointReached {
    pub regime: String,
    pub stage: u32,
    /// How many of the regime's reminder points (and finally the deadline
    /// itself) have now been reached.
    pub reached: u32,
}

/// The reminder points of a stage, as times: each percentage, then the
/// deadline itself.
pub fn points(deadline: &Deadline, regime: &Regime) -> Vec<Timestamp> {
    let Some(due) = deadline.due else { return Vec::new() };
    let span = due.duration_since(deadline.started_at);
    let mut times: Vec<Timestamp> = regime
        .reminders
        .iter()
        .filter(|&&percent| (1..100).contains(&percent))
        .map(|&percent| deadline.started_at.saturating_add(span * i32::from(percent) / 100).unwrap_or(due))
        .collect();
    times.push(due);
    times
}

/// The running stages whose next reminder point has been reached; several
/// points passed at once (after downtime) give one reminder.
pub fn reminders_due(
    incident: &Incident,
    regimes: &[Regime],
    sent: impl Fn(&str, u32) -> u32,
    now: Timestamp,
) -> Vec<PointReached> {
    running(incident, regimes)
        .filter_map(|(deadline, regime)| {
            let reached = points(deadline, regime).iter().filter(|&&at| at <= now).count() as u32;
            (reached > sent(&deadline.regime, deadline.stage)).then(|| PointReached {
                regime: deadline.regime.clone(),
                stage: deadline.stage,
                reached,
            })
        })
        .collect()
}

/// Each running stage's next reminder point after `now`.
pub fn next_points(incident: &Incident, regimes: &[Regime], now: Timestamp) -> Vec<(String, u32, Timestamp)> {
    running(incident, regimes)
        .filter_map(|(deadline, regime)| {
            let next = points(deadline, regime).into_iter().find(|&at| at > now)?;
            Some((deadline.regime.clone(), deadline.stage, next))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn business_days_skip_weekends_in_the_local_zone() {
        // Thursday 2026-11-26 15:00 Berlin: 4 business days is Wednesday 2 December.
        let thursday: Timestamp = "2026-11-26T14:00:00Z".parse().unwrap();
        let due = Within::BusinessDays(4).deadline(thursday, &berlin());
        assert_eq!(due, "2026-12-02T14:00:00Z".parse().unwrap());
        // Saturday evening counts from Monday's start: Thursday 00:00 local.
        let saturday: Timestamp = "2026-11-28T19:00:00Z".parse().unwrap();
        let due = Within::BusinessDays(4).deadline(saturday, &berlin());
        assert_eq!(due, "2026-12-02T23:00:00Z".parse().unwrap());
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("45m"), Ok(SignedDuration::from_mins(45)));
        assert_eq!(parse_duration("2 h"), Ok(SignedDuration::from_hours(2)));
        assert_eq!(parse_duration("1d"), Ok(SignedDuration::from_hours(24)));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(Within::parse("4 business days"), Ok(Within::BusinessDays(4)));
        assert_eq!(Within::parse("72h"), Ok(Within::Elapsed(SignedDuration::from_hours(72))));
        assert_eq!(describe_duration(SignedDuration::from_mins(90)), "1 h 30 min");
        assert_eq!(describe_duration(SignedDuration::from_hours(72)), "3 d");
    }

    #[test]
    fn reminder_points_fall_at_the_percentages_and_the_deadline() {
        let start: Timestamp = "2026-11-27T00:00:00Z".parse().unwrap();
        let deadline = Deadline {
            regime: "gdpr".into(),
            stage: 0,
            what: "notify".into(),
            started_at: start,
            due: Some(start + SignedDuration::from_hours(72)),
            state: DeadlineState::Running,
            closed_at: None,
        };
        let regime = Regime {
            name: "gdpr".into(),
            title: "GDPR".into(),
            from: ClockStart::Aware,
            stages: vec![],
            reminders: vec![50, 90],
            note: None,
        };
        let hours: Vec<i64> =
            points(&deadline, &regime).iter().map(|at| at.duration_since(start).as_secs() / 3600).collect();
        assert_eq!(hours, [36, 64, 72]);
    }
}

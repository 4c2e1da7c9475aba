//! Notification duties: which regimes apply, since when sitrep knew, and
//! when each authority was told.

use jiff::Timestamp;

use super::{Turn, capitalised, past, regime_named};
use crate::core::command::Command;
use crate::core::deadline::{self, ClockStart, describe_duration};
use crate::core::incident::{Deadline, DeadlineState, Incident};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result<String, String> {
    let Turn { now, settings, .. } = *turn;
    let local = |at: Timestamp| turn.local(at);
    match command {
        Command::Regime { name, off } => {
            let regime = regime_named(name, settings.regimes)?;
            let running: Vec<&mut Deadline> = incident
                .deadlines
                .iter_mut()
                .filter(|deadline| deadline.regime == regime.name && deadline.state == DeadlineState::Running)
                .collect();
            if *off {
                if running.is_empty() {
                    return Err(format!("no {} clock is running", regime.title));
                }
                for deadline in running {
                    deadline.state = DeadlineState::Dropped;
                    deadline.closed_at = Some(now);
                }
                return Ok(format!("{} clock stopped: not applicable.", regime.title));
            }
            if !running.is_empty() {
                return Err(format!("the {} clock is already running", regime.title));
            }
            incident.deadlines.retain(|deadline| deadline.regime != regime.name);
            let (start, basis) = deadline::clock_start(incident, regime.from, now);
            let mut said = format!("{} clock started from {basis} ({}).", regime.title, local(start));
            for (stage, step) in regime.stages.iter().enumerate() {
                let due = step.within.map(|within| within.deadline(start, settings.time_zone));
                said.push_str(&match (due, step.within) {
                    (Some(due), Some(within)) => {
                        format!(" {}: by {} ({}).", capitalised(&step.what), local(due), within.describe())
                    }
                    _ => format!(" {}: without undue delay.", capitalised(&step.what)),
                });
                incident.deadlines.push(Deadline {
                    regime: regime.name.clone(),
                    stage: stage as u32,
                    what: step.what.clone(),
                    started_at: start,
                    due,
                    state: DeadlineState::Running,
                    closed_at: None,
                });
            }
            if regime.from == ClockStart::Aware && incident.milestones.aware.is_none() {
                said.push_str(" If you knew earlier, say `aware <when>` and the clock moves.");
            }
            Ok(said)
        }
        Command::Aware(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.aware = Some(at);
            let mut said = format!("Aware since {}.", local(at));
            for deadline in incident.deadlines.iter_mut().filter(|deadline| deadline.state == DeadlineState::Running) {
                let Some(regime) = settings.regimes.iter().find(|regime| regime.name == deadline.regime) else {
                    continue;
                };
                if regime.from != ClockStart::Aware {
                    continue;
                }
                deadline.started_at = at;
                let within = regime.stages.get(deadline.stage as usize).and_then(|stage| stage.within);
                deadline.due = within.map(|within| within.deadline(at, settings.time_zone));
                if let Some(due) = deadline.due {
                    said.push_str(&format!(" {}: now due by {}.", capitalised(&deadline.what), local(due)));
                }
            }
            Ok(said)
        }
        Command::Notified { regime, when } => {
            let regime = regime_named(regime, settings.regimes)?;
            let at = match when {
                Some(when) => past(*when, now, settings.time_zone)?,
                None => now,
            };
            let deadline = incident
                .deadlines
                .iter_mut()
                .find(|deadline| deadline.regime == regime.name && deadline.state == DeadlineState::Running)
                .ok_or_else(|| {
                    format!("no {} clock is running; start it with `regime {}`", regime.title, regime.name)
                })?;
            deadline.state = DeadlineState::Met;
            deadline.closed_at = Some(at);
            let timing = match deadline.due {
                Some(due) if at <= due => {
                    format!(", {} before the deadline", describe_duration(due.duration_since(at)))
                }
                Some(due) => format!(", {} after the deadline", describe_duration(at.duration_since(due))),
                None => String::new(),
            };
            Ok(format!("{}: {} done at {}{timing}.", regime.title, deadline.what, local(at)))
        }
        // Not routed here.
        _ => Err("not a command of this family".to_string()),
    }
}

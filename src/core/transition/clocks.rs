//! Notification duties: which regimes apply, since when sitrep knew, and
//! when each authority was told.

use super::{Result, Turn, past, regime_named};
use crate::core::command::Command;
use crate::core::deadline::{self, ClockStart, Regime};
use crate::core::incident::{Deadline, DeadlineState, Incident};
use crate::core::outcome::{Done, Margin, Refusal, StageDue};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>) -> Result {
    let Turn { now, settings, .. } = *turn;
    match command {
        Command::Regime { name, off: true } => {
            let regime = regime_named(name, settings.regimes)?;
            let mut stopped = false;
            for deadline in running(incident, regime) {
                deadline.state = DeadlineState::Dropped;
                deadline.closed_at = Some(now);
                stopped = true;
            }
            if stopped {
                Ok(Done::ClockStopped { title: regime.title.clone() })
            } else {
                Err(Refusal::NoClockToStop { title: regime.title.clone() })
            }
        }
        Command::Regime { name, off: false } => start_clock(incident, regime_named(name, settings.regimes)?, turn),
        Command::Aware(when) => {
            let at = past(*when, now, settings.time_zone)?;
            incident.milestones.aware = Some(at);
            let mut moved = Vec::new();
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
                if deadline.due.is_some() {
                    moved.push(StageDue {
                        what: deadline.what.clone(),
                        due: deadline.due,
                        within: within.map(|within| within.describe()),
                    });
                }
            }
            Ok(Done::Aware { at, moved })
        }
        Command::Notified { regime, when } => {
            let regime = regime_named(regime, settings.regimes)?;
            let at = match when {
                Some(when) => past(*when, now, settings.time_zone)?,
                None => now,
            };
            let deadline = running(incident, regime)
                .next()
                .ok_or_else(|| Refusal::NoClockToMeet { title: regime.title.clone(), regime: regime.name.clone() })?;
            deadline.state = DeadlineState::Met;
            deadline.closed_at = Some(at);
            let margin = deadline.due.map(|due| Margin { late: at > due, by: due.duration_since(at).abs() });
            Ok(Done::AuthorityNotified { title: regime.title.clone(), what: deadline.what.clone(), at, margin })
        }
        _ => unreachable!("routed by family in mod.rs"),
    }
}

/// `regime <name>`: a clock per stage of the regime, from the moment the
/// regime counts from.
fn start_clock(incident: &mut Incident, regime: &Regime, turn: &Turn<'_>) -> Result {
    let Turn { now, settings, .. } = *turn;
    if running(incident, regime).next().is_some() {
        return Err(Refusal::ClockAlreadyRunning { title: regime.title.clone() });
    }
    incident.deadlines.retain(|deadline| deadline.regime != regime.name);
    let (start, basis) = deadline::clock_start(incident, regime.from, now);
    let mut stages = Vec::new();
    for (stage, step) in regime.stages.iter().enumerate() {
        let due = step.within.map(|within| within.deadline(start, settings.time_zone));
        stages.push(StageDue { what: step.what.clone(), due, within: step.within.map(|within| within.describe()) });
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
    let ask_aware = regime.from == ClockStart::Aware && incident.milestones.aware.is_none();
    Ok(Done::ClockStarted { title: regime.title.clone(), basis, start, stages, ask_aware })
}

fn running<'a>(incident: &'a mut Incident, regime: &Regime) -> impl Iterator<Item = &'a mut Deadline> {
    let name = regime.name.clone();
    incident
        .deadlines
        .iter_mut()
        .filter(move |deadline| deadline.regime == name && deadline.state == DeadlineState::Running)
}

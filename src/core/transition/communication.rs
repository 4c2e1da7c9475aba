//! What goes out: answers, digests and their cadence, the retrospective.

use jiff::SignedDuration;

use super::{Effects, Result, Turn};
use crate::core::command::{CadenceSetting, Command};
use crate::core::incident::{CadenceOverride, Channel, Incident, Status};
use crate::core::outcome::{Act, Done, Refusal};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(incident: &mut Incident, command: &Command, turn: &Turn<'_>, effects: &mut Effects) -> Result {
    let refuse_unless_steering = |act: Act| turn.refuse_unless_steering(incident, act);
    Ok(match command {
        Command::Quiet => {
            effects.quiet = true;
            Done::Quiet
        }
        Command::Note(_) => Done::Noted,
        Command::Help => {
            effects.help = true;
            Done::HelpFollows
        }
        Command::Card => {
            effects.card = true;
            Done::CardFollows
        }
        Command::Cadence(setting) => {
            refuse_unless_steering(Act::ChangeCadence)?;
            incident.cadence = match setting {
                CadenceSetting::Off => Some(CadenceOverride::Off),
                CadenceSetting::BySeverity => None,
                CadenceSetting::Every(every) => {
                    if *every < SignedDuration::from_mins(10) || *every > SignedDuration::from_hours(7 * 24) {
                        return Err(Refusal::CadenceOutOfRange);
                    }
                    Some(CadenceOverride::Every(*every))
                }
            };
            match incident.cadence {
                Some(CadenceOverride::Off) => Done::CadenceSet { every: None, off: true },
                Some(CadenceOverride::Every(every)) => Done::CadenceSet { every: Some(every), off: false },
                None => Done::CadenceSet { every: None, off: false },
            }
        }
        Command::RetroSend => {
            refuse_unless_steering(Act::SendReport)?;
            if incident.status != Status::Closed {
                return Err(Refusal::ReportBeforeClose);
            }
            effects.report_now = true;
            Done::ReportNow
        }
        Command::DigestNow => {
            effects.digest_now = true;
            Done::DigestNow
        }
        Command::Channel(channel) => {
            // Moving out of band only narrows who hears: whoever declared the
            // incident may, as its lead may. Only the lead moves it back.
            match channel {
                Channel::OutOfBand if incident.declared_by == turn.actor.address => {}
                Channel::OutOfBand => refuse_unless_steering(Act::MoveOutOfBand)?,
                Channel::Normal => refuse_unless_steering(Act::MoveBack)?,
            }
            if *channel == Channel::OutOfBand && !turn.settings.out_of_band {
                return Err(Refusal::NoFallback);
            }
            if incident.channel == *channel {
                return Err(Refusal::AlreadyOnChannel { channel: *channel });
            }
            incident.channel = *channel;
            Done::ChannelSwitched { channel: *channel }
        }
        _ => unreachable!("routed by family in mod.rs"),
    })
}

//! What goes out: answers, digests and their cadence, the retrospective.

use super::{Effects, Turn};
use crate::core::command::{CadenceSetting, Command};
use crate::core::deadline::describe_duration;
use crate::core::incident::{CadenceOverride, Incident, Status};

/// Runs one command of this family; `execute` in mod.rs routes them here.
pub(super) fn execute(
    incident: &mut Incident,
    command: &Command,
    turn: &Turn<'_>,
    effects: &mut Effects,
) -> Result<String, String> {
    let refuse_unless_steering = |what: &str| turn.refuse_unless_steering(incident, what);
    match command {
        Command::Quiet => {
            effects.quiet = true;
            Ok("Nothing will be sent for this mail.".to_string())
        }
        Command::Note(_) => Ok("Internal note recorded; it never appears in executive digests.".to_string()),
        Command::Help => {
            effects.help = true;
            Ok("The command reference is below.".to_string())
        }
        Command::Card => {
            effects.card = true;
            Ok("The incident's current state is below.".to_string())
        }
        Command::Cadence(setting) => {
            refuse_unless_steering("change the digest cadence")?;
            incident.cadence = match setting {
                CadenceSetting::Off => Some(CadenceOverride::Off),
                CadenceSetting::BySeverity => None,
                CadenceSetting::Every(every) => {
                    if *every < jiff::SignedDuration::from_mins(10) || *every > jiff::SignedDuration::from_hours(7 * 24)
                    {
                        return Err("a cadence is between 10 minutes and 7 days".to_string());
                    }
                    Some(CadenceOverride::Every(*every))
                }
            };
            Ok(match incident.cadence {
                Some(CadenceOverride::Off) => {
                    "No more scheduled digests for this incident; `digest now` still sends one.".to_string()
                }
                Some(CadenceOverride::Every(every)) => format!("Digests now every {}.", describe_duration(every)),
                None => "Digests follow the severity again.".to_string(),
            })
        }
        Command::RetroSend => {
            refuse_unless_steering("send the post-incident report")?;
            if incident.status != Status::Closed {
                return Err("the incident is not closed; the report follows the close".to_string());
            }
            effects.report_now = true;
            Ok("The post-incident report goes to the executives and everyone involved now.".to_string())
        }
        Command::DigestNow => {
            effects.digest_now = true;
            Ok("A digest goes to the executives now.".to_string())
        }
        // Not routed here.
        _ => Err("not a command of this family".to_string()),
    }
}

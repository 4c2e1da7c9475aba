//! The first-hour playbooks: one TOML file per incident type, shipped in
//! the binary from `config/playbooks/`; a file of the same name in
//! `[playbooks] dir` replaces the shipped one.

use std::path::Path;

use serde::Deserialize;

use crate::core::deadline::parse_duration;
use crate::core::incident::{Duty, IncidentType, Stream};
use crate::core::playbook::{Playbook, Step};

const SHIPPED: &[(IncidentType, &str)] = &[
    (IncidentType::Ransomware, include_str!("../../config/playbooks/ransomware.toml")),
    (IncidentType::Phishing, include_str!("../../config/playbooks/phishing.toml")),
    (IncidentType::AccountCompromise, include_str!("../../config/playbooks/account-compromise.toml")),
    (IncidentType::Bec, include_str!("../../config/playbooks/bec.toml")),
    (IncidentType::LostDevice, include_str!("../../config/playbooks/lost-device.toml")),
    (IncidentType::DataLeak, include_str!("../../config/playbooks/data-leak.toml")),
    (IncidentType::WebsiteDown, include_str!("../../config/playbooks/website-down.toml")),
    (IncidentType::Other, include_str!("../../config/playbooks/other.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybook {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    #[serde(default)]
    signs: Vec<String>,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    regimes: Vec<String>,
    #[serde(default)]
    drafts: Vec<String>,
    #[serde(default)]
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    what: String,
    stream: String,
    role: String,
    due: String,
    why: String,
    source: String,
}

/// Every type's playbook: from `dir` where it holds `<type>.toml`, else the
/// shipped one. An error names the file and the key at fault.
pub fn load(dir: Option<&Path>) -> Result<Vec<Playbook>, String> {
    SHIPPED
        .iter()
        .map(|(kind, shipped)| {
            let file = dir.map(|dir| dir.join(format!("{kind}.toml"))).filter(|path| path.exists());
            let (origin, text) = match &file {
                Some(path) => (
                    path.display().to_string(),
                    std::fs::read_to_string(path)
                        .map_err(|error| format!("cannot read {}: {error}", path.display()))?,
                ),
                None => (format!("the shipped {kind} playbook"), shipped.to_string()),
            };
            parse(*kind, &text).map_err(|problem| format!("{origin}: {problem}"))
        })
        .collect()
}

fn parse(kind: IncidentType, text: &str) -> Result<Playbook, String> {
    let raw: RawPlaybook = toml::from_str(text).map_err(|error| error.to_string())?;
    if raw.kind != kind.as_str() {
        return Err(format!("type = \"{}\" in the file for {kind}", raw.kind));
    }
    let steps = raw
        .steps
        .into_iter()
        .enumerate()
        .map(|(index, step)| {
            let at = |key: &str| format!("steps[{index}].{key}");
            Ok(Step {
                stream: step.stream.parse::<Stream>().map_err(|error| format!("{}: {error}", at("stream")))?,
                duty: step.role.parse::<Duty>().map_err(|error| format!("{}: {error}", at("role")))?,
                due: parse_duration(&step.due).map_err(|error| format!("{}: {error}", at("due")))?,
                what: nonempty(step.what, &at("what"))?,
                why: nonempty(step.why, &at("why"))?,
                source: nonempty(step.source, &at("source"))?,
            })
        })
        .collect::<Result<Vec<Step>, String>>()?;
    Ok(Playbook {
        kind,
        title: nonempty(raw.title, "title")?,
        signs: raw.signs.into_iter().map(|sign| sign.trim().to_lowercase()).filter(|sign| !sign.is_empty()).collect(),
        questions: raw.questions,
        regimes: raw.regimes,
        drafts: raw.drafts,
        steps,
    })
}

fn nonempty(text: String, key: &str) -> Result<String, String> {
    let text = text.trim().to_string();
    if text.is_empty() { Err(format!("{key} is empty")) } else { Ok(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_playbook_reads_and_cites_its_steps() {
        let playbooks = load(None).unwrap();
        assert_eq!(playbooks.len(), IncidentType::ALL.len());
        for playbook in &playbooks {
            let is_other = playbook.kind == IncidentType::Other;
            assert!(is_other || !playbook.signs.is_empty(), "{}: no signs", playbook.kind);
            assert!(playbook.steps.len() >= 5, "{}: {} steps", playbook.kind, playbook.steps.len());
            assert!(playbook.steps.iter().any(|step| step.stream == Stream::Technical), "{}", playbook.kind);
            assert!(playbook.steps.iter().any(|step| step.stream == Stream::InternalComms), "{}", playbook.kind);
            assert!(
                playbook.steps.windows(2).all(|pair| pair[0].due <= pair[1].due),
                "{}: out of order",
                playbook.kind
            );
        }
    }

    #[test]
    fn an_override_replaces_one_playbook_and_a_bad_one_names_its_key() {
        let directory = tempfile::tempdir().unwrap();
        let bec = "type = \"bec\"\ntitle = \"Payment fraud\"\n[[steps]]\nwhat = \"Call the bank\"\nstream = \"technical\"\n\
                   role = \"lead\"\ndue = \"10m\"\nwhy = \"A recall works only early\"\nsource = \"Our bank\"\n";
        std::fs::write(directory.path().join("bec.toml"), bec).unwrap();
        let playbooks = load(Some(directory.path())).unwrap();
        let bec = playbooks.iter().find(|playbook| playbook.kind == IncidentType::Bec).unwrap();
        assert_eq!((bec.title.as_str(), bec.steps.len()), ("Payment fraud", 1));
        std::fs::write(directory.path().join("bec.toml"), bec_with_role("cfo")).unwrap();
        let problem = load(Some(directory.path())).unwrap_err();
        assert!(problem.contains("bec.toml") && problem.contains("steps[0].role"), "{problem}");
    }

    fn bec_with_role(role: &str) -> String {
        format!(
            "type = \"bec\"\ntitle = \"BEC\"\n[[steps]]\nwhat = \"Call the bank\"\nstream = \"legal\"\nrole = \"{role}\"\n\
             due = \"10m\"\nwhy = \"Early\"\nsource = \"Bank\"\n"
        )
    }
}

//! Whole incidents as data: each folder under `tests/scenarios/` holds
//! numbered `.eml` files, a `steps.toml` (ingest this, tick at that time)
//! and, under `expected/`, the store's export and every mail sitrep queued,
//! as text. A mismatch writes the actual output beside the expected one as
//! `.failed`; `UPDATE_GOLDEN=1 cargo test scenarios` rewrites the expected
//! files after a deliberate change, for review in the diff.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use sitrep::scheduler;

use crate::support::Harness;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Steps {
    /// Types suggested from a declaration's words, as shipped; the other
    /// scenarios predate playbooks and keep to what they show.
    #[serde(default)]
    suggest_types: bool,
    step: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    /// A message file, relative to the scenario's folder.
    ingest: Option<PathBuf>,
    /// Run the scheduler at this time (RFC 3339).
    tick: Option<String>,
    /// When the message arrives; by default a minute after the last step.
    at: Option<String>,
}

/// The export as pretty JSON and the outbox as text, with sitrep's own
/// Message-IDs (random) numbered in order of appearance.
fn run(folder: &Path) -> Vec<(&'static str, String)> {
    let text = std::fs::read_to_string(folder.join("steps.toml")).unwrap();
    let steps: Steps = toml::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", folder.display()));
    let mut harness = match steps.suggest_types {
        true => Harness::with_config(|text| text.replace("suggest = false", "suggest = true")),
        false => Harness::new(),
    };
    for step in steps.step {
        let time = |text: &String| -> Timestamp {
            text.parse().unwrap_or_else(|error| panic!("{}: `{text}`: {error}", folder.display()))
        };
        let now = step.at.as_ref().or(step.tick.as_ref()).map_or(harness.now + SignedDuration::from_mins(1), time);
        harness.now = now;
        match (step.ingest, step.tick.as_ref().map(time)) {
            (Some(file), None) => {
                let raw =
                    std::fs::read(folder.join(&file)).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
                harness.pipeline.ingest(&mut harness.store, &raw, &file.to_string_lossy(), now).unwrap();
            }
            (None, Some(at)) => {
                scheduler::tick(harness.pipeline.outgoing(), &mut harness.store, at).unwrap();
            }
            _ => panic!("{}: each step either ingests a message or ticks", folder.display()),
        }
    }
    let export = serde_json::to_string_pretty(&harness.export()).unwrap() + "\n";
    // `sitrep export --json` writes the same bytes, one row at a time.
    let mut streamed = Vec::new();
    sitrep::export::write_json(&harness.store, &mut streamed).unwrap();
    assert_eq!(
        String::from_utf8(streamed).unwrap() + "\n",
        export,
        "{}: the streamed export differs",
        folder.display()
    );
    let mut outbox = String::new();
    for row in harness.outbox() {
        // Drafts, playbook steps (in acks and answers) and approvals stay
        // inside: only staff ever get them.
        if ["draft", "ack", "transcript"].contains(&row["kind"].as_str().unwrap()) {
            let recipients = row["to"].as_array().unwrap().iter().chain(row["cc"].as_array().unwrap());
            for to in recipients.map(|to| to.as_str().unwrap()) {
                assert!(to.ends_with("@company.test"), "{}: a draft to {to}", folder.display());
            }
        }
        let list =
            |key: &str| row[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect::<Vec<_>>().join(", ");
        outbox.push_str(&format!(
            "=== {} to {}{}\nSubject: {}\n\n{}\n",
            row["kind"].as_str().unwrap(),
            list("to"),
            if list("cc").is_empty() { String::new() } else { format!(" cc {}", list("cc")) },
            row["subject"].as_str().unwrap(),
            row["body"].as_str().unwrap().trim_end(),
        ));
    }
    let mut numbers = HashMap::new();
    let own_id = regex::Regex::new(r"sitrep\.[0-9a-f]{32}@").unwrap();
    let mut number = |text: &str| {
        own_id
            .replace_all(text, |found: &regex::Captures| {
                let next = numbers.len() + 1;
                format!("sitrep.{}@", numbers.entry(found[0].to_string()).or_insert(next))
            })
            .into_owned()
    };
    vec![("export.json", number(&export)), ("outbox.txt", number(&outbox))]
}

#[test]
fn every_scenario_yields_its_expected_export_and_mail() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut folders: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|entry| entry.unwrap().path()).filter(|path| path.is_dir()).collect();
    folders.sort();
    assert!(folders.len() >= 5, "{folders:?}");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for folder in &folders {
        let expected_dir = folder.join("expected");
        for (name, actual) in run(folder) {
            let expected_path = expected_dir.join(name);
            let failed_path = expected_dir.join(format!("{name}.failed"));
            if update {
                std::fs::create_dir_all(&expected_dir).unwrap();
                std::fs::write(&expected_path, &actual).unwrap();
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if expected == actual {
                let _ = std::fs::remove_file(&failed_path);
            } else {
                std::fs::write(&failed_path, &actual).unwrap();
                mismatches.push(failed_path.display().to_string());
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "differs from expected (diff each against its file without .failed):\n{}",
        mismatches.join("\n")
    );
}

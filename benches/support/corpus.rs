//! The incident-mail corpus the benchmarks read: its messages in order, and
//! each incident's subjects made distinct (the generator gives several
//! incidents the same title, all open at once, and sitrep joins a new mail
//! with an open incident's title to that incident).

use std::path::{Path, PathBuf};

/// The corpus's `.eml` files, in the manifest's order (past 99,999 their
/// names no longer sort), else by name.
pub fn load(corpus: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let manifest = std::fs::read(corpus.join("manifest.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let listed: Option<Vec<PathBuf>> = manifest.as_ref().and_then(|manifest| {
        let entries = manifest["messages"].as_array()?;
        entries.iter().map(|entry| Some(corpus.join(entry["file"].as_str()?))).collect()
    });
    let files = match listed {
        Some(files) => files,
        None => {
            let mut files: Vec<PathBuf> =
                std::fs::read_dir(corpus)?.map(|entry| entry.map(|entry| entry.path())).collect::<Result<_, _>>()?;
            files.retain(|path| path.extension().is_some_and(|extension| extension == "eml"));
            files.sort();
            files
        }
    };
    files.iter().map(std::fs::read).collect()
}

/// Each message's Subject with " (no. <incident>)" after the title.
pub fn with_distinct_titles(messages: Vec<Vec<u8>>, corpus: &Path) -> Vec<Vec<u8>> {
    let Some(manifest) = std::fs::read(corpus.join("manifest.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
    else {
        return messages;
    };
    let Some(entries) = manifest["messages"].as_array() else { return messages };
    let titles: std::collections::HashMap<u64, String> = entries
        .iter()
        .filter(|entry| entry["kind"] == "declare")
        .filter_map(|entry| Some((entry["incident"].as_u64()?, entry["subject"].as_str()?.to_string())))
        .collect();
    messages
        .into_iter()
        .zip(entries)
        .map(|(raw, entry)| {
            let Some(title) = entry["incident"].as_u64().and_then(|incident| titles.get(&incident)) else {
                return raw;
            };
            let text = String::from_utf8_lossy(&raw);
            let header_end = text.find("\r\n\r\n").or_else(|| text.find("\n\n")).unwrap_or(text.len());
            let Some(subject) = text[..header_end].find("\nSubject: ") else { return raw };
            let Some(at) = text[subject..header_end].find(title.as_str()).map(|at| at + subject + title.len()) else {
                return raw;
            };
            let distinct = format!(" (no. {})", entry["incident"]);
            [&raw[..at], distinct.as_bytes(), &raw[at..]].concat()
        })
        .collect()
}

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(directory: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

fn source(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Every module of the library as (`core::triage`, its text without tests).
fn library_modules() -> Vec<(String, String)> {
    let root = source("src");
    let mut modules = Vec::new();
    for file in rust_files(&root) {
        let relative = file.strip_prefix(&root).unwrap().with_extension("");
        let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            parts.pop();
        }
        if parts.last().is_some_and(|last| last == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap().to_string();
        modules.push((parts.join("::"), text));
    }
    modules
}

/// The paths a module names through `crate::` and `super::`, `use`
/// groups expanded: `use crate::{a::{b, c}, d}` names `a::b`, `a::c`, `d`.
fn named_paths(module: &str, text: &str) -> BTreeSet<String> {
    let mut parent: Vec<&str> = module.split("::").filter(|part| !part.is_empty()).collect();
    parent.pop();
    let parent = parent.join("::");
    let mut paths = BTreeSet::new();
    for (prefix, base) in [("crate::", String::new()), ("super::", parent)] {
        let mut rest = text;
        while let Some(start) = rest.find(prefix) {
            let preceded_by_path = rest[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
            rest = &rest[start + prefix.len()..];
            if preceded_by_path {
                continue;
            }
            let end = path_end(rest);
            for path in expand(&rest[..end]) {
                let joined = if base.is_empty() { path } else { format!("{base}::{path}") };
                paths.insert(joined);
            }
            rest = &rest[end..];
        }
    }
    paths
}

/// Where a path (with any `{...}` groups) ends.
fn path_end(text: &str) -> usize {
    let mut depth = 0usize;
    for (index, character) in text.char_indices() {
        match character {
            '{' => depth += 1,
            '}' if depth == 0 => return index,
            '}' => depth -= 1,
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => return index,
            _ => {}
        }
    }
    text.len()
}

fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.trim_end_matches(':').to_string()];
    };
    let head = path[..open].trim_end_matches(':');
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0usize, 0);
    for (index, character) in inner.char_indices() {
        match character {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[from..index]);
                from = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[from..]);
    parts
        .iter()
        .map(|part| part.split(" as ").next().unwrap().trim())
        .filter(|part| !part.is_empty())
        .flat_map(expand)
        .map(|tail| match (head.is_empty(), tail.as_str()) {
            (true, _) => tail,
            (false, "self") => head.to_string(),
            (false, _) => format!("{head}::{tail}"),
        })
        .collect()
}

/// Which modules each module imports: each named path resolved to the
/// longest module it starts with; a module's own parents do not count.
fn import_graph(modules: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let known: BTreeSet<&str> = modules.iter().map(|(name, _)| name.as_str()).collect();
    let mut graph = BTreeMap::new();
    for (name, text) in modules {
        let mut targets = BTreeSet::new();
        for path in named_paths(name, text) {
            let parts: Vec<&str> = path.split("::").collect();
            let target = (1..=parts.len())
                .rev()
                .map(|n| parts[..n].join("::"))
                .find(|candidate| known.contains(candidate.as_str()));
            if let Some(target) = target
                && target != *name
                && !name.starts_with(&format!("{target}::"))
            {
                targets.insert(target);
            }
        }
        graph.insert(name.clone(), targets);
    }
    graph
}

/// One import circle, as the modules along it, if there is any.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut circle = path[start..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// What makes a core module impure: I/O, the clock, randomness, or any
/// module of sitrep outside the core.
fn impurities(module: &str, text: &str, graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("std::") {
        rest = &rest[start + "std::".len()..];
        let end = path_end(rest);
        used.extend(expand(&rest[..end]));
        rest = &rest[end..];
    }
    for path in used {
        if ["fs", "net", "env", "process", "io", "time", "thread"]
            .iter()
            .any(|io| path == *io || path.starts_with(&format!("{io}::")))
        {
            found.push(format!("std::{path}"));
        }
    }
    for word in ["rusqlite::", "lettre::", "tera::", "tokio::", "mail_parser::", "uuid::", "fastrand::", "::now("] {
        if text.contains(word) {
            found.push(word.to_string());
        }
    }
    for target in graph.get(module).into_iter().flatten() {
        if !target.starts_with("core") {
            found.push(format!("crate::{target}"));
        }
    }
    found
}

/// The core is pure: no I/O, no clock, no randomness, and nothing of sitrep
/// outside it; time and the store's answers are parameters.
#[test]
fn core_does_no_io_reads_no_clock_and_imports_only_the_core() {
    let modules = library_modules();
    let graph = import_graph(&modules);
    let core: Vec<_> = modules.iter().filter(|(name, _)| name == "core" || name.starts_with("core::")).collect();
    assert!(core.len() >= 10);
    for (name, text) in core {
        assert_eq!(impurities(name, text, &graph), Vec::<String>::new(), "{name} is not pure");
    }
}

/// Modules import one way: no circle among them, so each can be read
/// knowing only what it imports.
#[test]
fn no_module_imports_in_a_circle() {
    let graph = import_graph(&library_modules());
    assert!(
        graph["pipeline::staff"].contains("scheduler") && graph["core::triage"].contains("core::access"),
        "{graph:#?}"
    );
    assert_eq!(find_circle(&graph), None);
}

/// The two checks above catch what they are for.
#[test]
fn the_checks_catch_a_planted_circle_and_planted_io() {
    let planted = |files: &[(&str, &str)]| -> Vec<(String, String)> {
        files.iter().map(|(name, text)| (name.to_string(), text.to_string())).collect()
    };
    let circle = planted(&[
        ("a", "use crate::b::Thing;"),
        ("b", "use crate::{c::{self, Other}, d};"),
        ("c", "fn f() { crate::a::g() }"),
        ("d", ""),
    ]);
    assert_eq!(find_circle(&import_graph(&circle)), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let line = planted(&[("a", "use crate::b;"), ("b", "use crate::c;"), ("c", "")]);
    assert_eq!(find_circle(&import_graph(&line)), None);

    let core = planted(&[
        ("core", ""),
        ("core::x", "use std::{collections::BTreeMap, fs};\nuse super::y;\nfn f() { jiff::Zoned::now(); }"),
        ("core::y", "use crate::store::Store;"),
        ("store", ""),
    ]);
    let graph = import_graph(&core);
    assert_eq!(impurities("core::x", &core[1].1, &graph), ["std::fs", "::now("]);
    assert_eq!(impurities("core::y", &core[2].1, &graph), ["crate::store"]);
}

/// Every source file opens with a `//!` line saying what it is for.
#[test]
fn every_module_says_what_it_is() {
    let mut files = rust_files(&source("src"));
    files.extend(rust_files(&source("benches")));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let is_test_module = file.file_name().is_some_and(|name| name == "tests.rs");
        assert!(is_test_module || text.starts_with("//!"), "{} does not start with //!", file.display());
    }
}

/// A module a reader can hold in their head: its code, tests apart, stays
/// near 500 lines; a larger one is split by what it does.
#[test]
fn no_module_outgrows_a_reading() {
    const MOST_LINES: usize = 520;
    let oversized: Vec<String> = library_modules()
        .into_iter()
        .map(|(module, text)| (module, text.lines().count()))
        .filter(|(_, lines)| *lines > MOST_LINES)
        .map(|(module, lines)| format!("{module}: {lines} lines"))
        .collect();
    assert!(oversized.is_empty(), "split these by what they do: {oversized:?}");
}

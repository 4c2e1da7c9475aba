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

/// The core is pure: no I/O crates, no clock, no environment.
#[test]
fn core_does_no_io_and_reads_no_clock() {
    let forbidden = [
        "std::fs",
        "std::net",
        "std::env",
        "std::process",
        "std::io",
        "rusqlite::",
        "lettre::",
        "tera::",
        "tokio::",
        "mail_parser::",
        "Timestamp::now",
        "SystemTime::now",
        "Instant::now",
        "uuid::",
        "fastrand::",
    ];
    let files = rust_files(&source("src/core"));
    assert!(files.len() >= 5);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in forbidden {
            assert!(!text.contains(word), "{} uses {word}", file.display());
        }
    }
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

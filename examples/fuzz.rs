//! A mutation fuzzer for what reads untrusted mail: `inbound::parse` (MIME,
//! HTML, broken-MIME recovery, quotes) and `core::command::parse`, on stable
//! Rust. Seeded with the `.eml` fixtures, it flips, inserts, deletes and
//! splices bytes, and stops at the first panic, writing the input that
//! caused it to `target/fuzz-crashes/`.
//!
//!   cargo run --release --example fuzz -- [iterations, default 10000] [seed]
//!
//! Runs are repeatable: the same seed gives the same inputs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sitrep::config::Limits;
use sitrep::core::command;
use sitrep::inbound;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/eml");

/// Bytes that steer parsers: MIME and header syntax, quotes, line ends.
const INTERESTING: &[&[u8]] = &[
    b"\r\n",
    b"\n\n",
    b"--",
    b"boundary=",
    b"Content-Type: multipart/mixed; boundary=\"x\"\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"=?utf-8?B?",
    b"?=",
    b"=\r\n",
    b"> ",
    b"<blockquote>",
    b"<div id=divRplyFwdMsg>",
    b"On Fri, 27 Nov 2026 at 10:02, Alice <a@b.test> wrote:\n",
    b"From: x\nSent: y\nTo: z\nSubject: w\n",
    b"sev 1\n",
    b"\xff\xfe",
    b"\0",
    b"\xe2\x80\xae",
];

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let iterations: u64 = arguments.first().and_then(|value| value.parse().ok()).unwrap_or(10_000);
    let seed: u64 = arguments.get(1).and_then(|value| value.parse().ok()).unwrap_or(1);
    let seeds = match load_seeds(Path::new(FIXTURES)) {
        Ok(seeds) if !seeds.is_empty() => seeds,
        Ok(_) => return failure("no .eml seeds found"),
        Err(error) => return failure(&format!("cannot read {FIXTURES}: {error}")),
    };
    // A panic is what this looks for: keep its report out of the way.
    std::panic::set_hook(Box::new(|_| {}));
    let mut random = fastrand::Rng::with_seed(seed);
    let limits = Limits::default();
    for iteration in 0..iterations {
        let input = mutate(&mut random, &seeds);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&input, &limits)));
        if outcome.is_err() {
            let path = save_crash(&input, seed, iteration);
            eprintln!("fuzz: iteration {iteration} (seed {seed}) panicked; input saved to {}", path.display());
            return ExitCode::FAILURE;
        }
    }
    println!("fuzz: {iterations} iterations from {} seeds (seed {seed}), no panic", seeds.len());
    ExitCode::SUCCESS
}

fn exercise(input: &[u8], limits: &Limits) {
    if let Ok(parsed) = inbound::parse(input, limits) {
        let inbound = parsed.inbound;
        let _ = command::parse(&inbound.subject, &inbound.new_text);
    }
    let _ = inbound::parse_headers_only(input, limits);
    let text = String::from_utf8_lossy(input);
    let _ = command::parse(text.lines().next().unwrap_or(""), &text);
}

fn mutate(random: &mut fastrand::Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = seeds[random.usize(..seeds.len())].clone();
    for _ in 0..random.usize(1..8) {
        let at = random.usize(..=input.len());
        match random.u8(..6) {
            0 if !input.is_empty() => {
                let index = random.usize(..input.len());
                input[index] ^= 1 << random.u8(..8);
            }
            1 => input.splice(at..at, INTERESTING[random.usize(..INTERESTING.len())].iter().copied()).for_each(drop),
            2 if at < input.len() => {
                let end = (at + random.usize(1..64)).min(input.len());
                input.drain(at..end);
            }
            3 => {
                let other = &seeds[random.usize(..seeds.len())];
                let start = random.usize(..=other.len());
                let end = (start + random.usize(..512)).min(other.len());
                input.splice(at..at, other[start..end].iter().copied()).for_each(drop);
            }
            4 if at < input.len() => {
                let end = (at + random.usize(1..32)).min(input.len());
                let copy = input[at..end].to_vec();
                for _ in 0..random.usize(1..50) {
                    input.splice(at..at, copy.iter().copied()).for_each(drop);
                }
            }
            _ => input.truncate(at),
        }
    }
    input
}

fn load_seeds(folder: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(folder)?.map(|entry| entry.map(|entry| entry.path())).collect::<Result<_, _>>()?;
    paths.retain(|path| path.extension().is_some_and(|extension| extension == "eml"));
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}

fn save_crash(input: &[u8], seed: u64, iteration: u64) -> PathBuf {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    let path = folder.join(format!("seed{seed}-iteration{iteration}.eml"));
    if std::fs::create_dir_all(&folder).and_then(|()| std::fs::write(&path, input)).is_err() {
        eprintln!("fuzz: cannot write {}", path.display());
    }
    path
}

fn failure(message: &str) -> ExitCode {
    eprintln!("fuzz: {message}");
    ExitCode::FAILURE
}

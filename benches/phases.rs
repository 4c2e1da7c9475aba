//! temporary
use std::time::Instant;
fn main() {
    let mut files: Vec<_> = std::fs::read_dir("target/corpus").unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect();
    files.sort();
    let msgs: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let limits = sitrep::config::Limits::default();
    for _ in 0..2 {
        let t = Instant::now(); for m in &msgs { std::hint::black_box(sitrep::inbound::sha256_hex(m)); } println!("sha {:?}", t.elapsed() / msgs.len() as u32);
        let t = Instant::now(); for m in &msgs { std::hint::black_box(mail_parser::MessageParser::default().parse(m)); } println!("mp {:?}", t.elapsed() / msgs.len() as u32);
        let t = Instant::now(); for m in &msgs { std::hint::black_box(sitrep::inbound::parse(m, &limits).unwrap()); } println!("inbound {:?}", t.elapsed() / msgs.len() as u32);
        let texts: Vec<String> = msgs.iter().map(|m| mail_parser::MessageParser::default().parse(m).unwrap().body_text(0).unwrap_or_default().into_owned()).collect();
        let t = Instant::now(); for x in &texts { std::hint::black_box(sitrep::core::quote::new_text(x, None)); } println!("quote {:?}", t.elapsed() / msgs.len() as u32);
    }
}

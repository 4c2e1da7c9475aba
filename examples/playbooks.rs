//! Prints the shipped first-hour playbooks as Markdown: `docs/playbooks.md`
//! is its output.
//!
//!   cargo run --example playbooks > docs/playbooks.md

use sitrep::core::deadline::describe_duration;

fn main() -> Result<(), String> {
    let playbooks = sitrep::config::load_playbooks(None)?;
    println!("# First-hour playbooks\n");
    println!(
        "What sitrep ships for each incident type, from `config/playbooks/` (this page is the output of \
         `cargo run --example playbooks`). Setting a type (`type bec`, `#bec` in a subject, or sitrep's \
         suggestion from a declaration's words) turns its steps into tasks, due from that moment and owned by \
         whoever holds the step's role, and answers with the questions and the regimes to consider. A file of \
         the same name in `[playbooks] dir` replaces a shipped playbook.\n"
    );
    println!(
        "Each step cites the public guidance it comes from. They are a starting point for a small organisation's first hours, not legal advice.\n"
    );
    for playbook in &playbooks {
        println!("## {} (`type {}`)\n", playbook.title, playbook.kind);
        if !playbook.signs.is_empty() {
            let signs: Vec<String> = playbook.signs.iter().map(|sign| format!("\"{sign}\"")).collect();
            println!("Suggested when a declaration mentions: {}.\n", signs.join(", "));
        }
        println!("| due | step | whose | why | source |");
        println!("|---|---|---|---|---|");
        for step in &playbook.steps {
            println!(
                "| {} | {} | {} | {} | {} |",
                describe_duration(step.due),
                step.what,
                step.duty,
                step.why,
                step.source
            );
        }
        println!("\nAnswer early:\n");
        for question in &playbook.questions {
            println!("- {question}");
        }
        if !playbook.regimes.is_empty() {
            let regimes: Vec<String> = playbook.regimes.iter().map(|regime| format!("`regime {regime}`")).collect();
            println!("\nRegimes to consider (never started for you): {}.", regimes.join(", "));
        }
        if !playbook.drafts.is_empty() {
            println!("\nDrafts it usually needs: {}.", playbook.drafts.join(", "));
        }
        println!();
    }
    Ok(())
}

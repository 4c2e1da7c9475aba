//! `sitrep man`: the manual page for admins. clap writes the synopsis and
//! the global options; the commands (with their own options), files,
//! environment, exit status and signals are written here, so the page
//! points to nothing that does not exist.

use std::io::Write;

use clap::CommandFactory;

use super::Cli;

/// The whole page, in roff.
pub(super) fn page() -> std::io::Result<Vec<u8>> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    page.write_all(DESCRIPTION.as_bytes())?;
    man.render_options_section(&mut page)?;
    writeln!(page, ".SH COMMANDS")?;
    for subcommand in command.get_subcommands().filter(|subcommand| subcommand.get_name() != "help") {
        writeln!(page, ".TP\n\\fBsitrep {}\\fR{}", roff(subcommand.get_name()), arguments(subcommand))?;
        writeln!(page, "{}", roff(&subcommand.get_about().map(ToString::to_string).unwrap_or_default()))?;
        for option in subcommand
            .get_arguments()
            .filter(|argument| argument.get_long().is_some_and(|long| long != "config" && long != "help"))
        {
            let long = option.get_long().unwrap_or_default();
            let value = match option.get_action().takes_values() {
                true => {
                    option.get_value_names().map(|names| format!(" \\fI{}\\fR", roff(&names[0]))).unwrap_or_default()
                }
                false => String::new(),
            };
            let mut help = option.get_help().map(ToString::to_string).unwrap_or_default();
            let choices: Vec<String> = match option.get_action().takes_values() {
                true => option.get_possible_values().iter().map(|value| value.get_name().to_string()).collect(),
                false => Vec::new(),
            };
            if !choices.is_empty() {
                help = format!("{help} ({})", choices.join(" or ")).trim_start().to_string();
            }
            writeln!(page, ".br\n\\fB\\-\\-{}\\fR{value}: {}", roff(long), roff(&help))?;
        }
    }
    page.write_all(SECTIONS.as_bytes())?;
    Ok(page)
}

/// sitrep.toml(5), from the example configuration: a section per table, a
/// paragraph per key with the comments above it, so the page and the
/// example cannot disagree.
pub(super) fn configuration_page() -> String {
    let mut page = String::from(CONFIGURATION_HEAD);
    let mut comment: Vec<&str> = Vec::new();
    for line in EXAMPLE.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            comment.clear();
        } else if let Some(table) = trimmed.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            page.push_str(&format!(".SS [{}]\n", roff(table.trim_matches(['[', ']']))));
            if !comment.is_empty() {
                page.push_str(&format!("{}\n", roff(&comment.join(" "))));
            }
            comment.clear();
        } else if let Some(text) = trimmed.strip_prefix('#').map(str::trim) {
            match text.split_once(" = ").filter(|(key, _)| is_key(key)) {
                // An alternative shown commented out: a key of its own.
                Some((key, value)) => {
                    page.push_str(&format!(
                        ".TP\n\\fB{}\\fR = {}\n{}\n",
                        roff(key),
                        roff(value),
                        roff(&comment.join(" "))
                    ));
                    comment.clear();
                }
                None => comment.push(text),
            }
        } else if let Some((key, value)) = trimmed.split_once(" = ") {
            page.push_str(&format!(".TP\n\\fB{}\\fR = {}\n{}\n", roff(key), roff(value), roff(&comment.join(" "))));
            comment.clear();
        }
    }
    page.push_str(CONFIGURATION_TAIL);
    page
}

fn is_key(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

const EXAMPLE: &str = include_str!("../../config/sitrep.example.toml");

const CONFIGURATION_HEAD: &str = r#".TH sitrep.toml 5 "" "sitrep" "File Formats"
.SH NAME
sitrep.toml \- the configuration of sitrep
.SH DESCRIPTION
sitrep reads its settings from a TOML file: \fI/etc/sitrep/sitrep.toml\fR for
the service (\fBsitrep \-\-config\fR). Relative paths resolve against the
folder of the file. Only \fBaddress\fR, \fBdata_dir\fR, \fB[mailbox]\fR,
\fB[transport]\fR and \fB[access] staff_domains\fR are required; every other
key has the default said below. Passwords never go into the file.
\fBsitrep check\-config\fR checks it; \fBsystemctl reload sitrep\fR applies
most changes without a restart.
.PP
Each key below shows the value of the example file
\fI/usr/share/doc/sitrep/examples/sitrep.example.toml\fR.
.SH SETTINGS
"#;

const CONFIGURATION_TAIL: &str = r#".SH SEE ALSO
\fBsitrep\fR(1)
"#;

/// `<FILE>` and `[FILES]...` as the command takes them.
fn arguments(command: &clap::Command) -> String {
    command
        .get_positionals()
        .map(|argument| {
            let name =
                argument.get_value_names().map_or_else(|| argument.get_id().to_string(), |names| names[0].to_string());
            let repeated = if matches!(argument.get_action(), clap::ArgAction::Append) { "..." } else { "" };
            match argument.is_required_set() {
                true => format!(" \\fI{}\\fR{repeated}", roff(&name)),
                false => format!(" [\\fI{}\\fR]{repeated}", roff(&name)),
            }
        })
        .collect()
}

fn roff(text: &str) -> String {
    text.replace('\\', "\\\\").replace('-', "\\-")
}

const DESCRIPTION: &str = r#".SH DESCRIPTION
sitrep coordinates the response to a security incident by email. Staff
write to the incident address to declare an incident; sitrep opens it,
tags it [INC\-n] and answers. Replies to all post updates; short commands
in the subject or the text change the incident (severity, lead, phase,
scope, work streams, tasks, close). Executives get status digests on a
cadence set by the severity; at close everyone involved gets the
retrospective questionnaire, and the answers make the post\-incident report.
.PP
\fBsitrep run\fR is the service: it reads the mailbox (IMAP or a local
Maildir), keeps everything in one SQLite file under \fBdata_dir\fR, and
sends through an SMTP relay, sendmail or files. The other commands read
that store or act once.
"#;

const SECTIONS: &str = r#".SH FILES
.TP
\fI/etc/sitrep/sitrep.toml\fR
The configuration (\fB\-\-config\fR). Without one, \fI./sitrep.toml\fR, or
the embedded default: a local Maildir in, files out, no servers.
.TP
\fI/usr/share/doc/sitrep/examples/sitrep.example.toml\fR
Every setting, with what it does and its default.
.TP
\fI/etc/sitrep/imap\-password\fR, \fI/etc/sitrep/smtp\-password\fR
Passwords, passed to the service as systemd credentials.
.TP
\fI/var/lib/sitrep/sitrep.db\fR
The store: every message received, the incidents, the outbox.
.TP
\fI/var/lib/sitrep/attachments/\fR
Attachments, by their SHA\-256.
.SH ENVIRONMENT
.TP
\fBRUST_LOG\fR
How much is logged: error, warn (the default of commands), info (the
default of \fBrun\fR) or debug. Message bodies and secrets are never logged.
.TP
\fBCREDENTIALS_DIRECTORY\fR
Set by systemd for \fBLoadCredential=\fR; \fBpassword_credential\fR names a
file in it.
.TP
\fBJOURNAL_STREAM\fR
Set by systemd: lines carry their syslog priority and no time stamp.
.SH EXIT STATUS
.TP
\fB0\fR
Success, and a reader that went away (\fBsitrep export | head\fR).
.TP
\fB1\fR
The command failed; stderr says why. \fBdoctor\fR: a check failed.
.TP
\fB64\fR
The command line was wrong.
.TP
\fB75\fR
A temporary failure (the store or the disk): \fBingest\fR in an MTA's pipe
is tried again later.
.TP
\fB78\fR
The configuration is wrong (a template, an unreadable password file) or the
store is damaged; the unit does not restart on it.
.SH SIGNALS
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
\fBrun\fR finishes the message in hand, stops sending between two
recipients, and exits 0.
.TP
\fBSIGHUP\fR
\fBrun\fR reloads the configuration: templates, people, stakeholders and
access apply from the next message; a file that does not validate is
refused and the running one stays.
.SH EXAMPLES
.nf
sitrep \-\-config /etc/sitrep/sitrep.toml check\-config
sitrep \-\-config /etc/sitrep/sitrep.toml doctor \-\-send\-test you@example.com
systemctl enable \-\-now sitrep
sitrep \-\-config /etc/sitrep/sitrep.toml status
sitrep \-\-config /etc/sitrep/sitrep.toml report INC\-4 \-\-output inc\-4.md
.fi
.SH SEE ALSO
\fBsitrep.toml\fR(5), \fBsystemctl\fR(1), \fBjournalctl\fR(1), \fI/usr/share/doc/sitrep/docs/install.md\fR
"#;

use std::path::Path;

use sitrep::config::{Config, TlsMode, TransportConfig};

const EXAMPLE: &str = include_str!("../../config/sitrep.example.toml");

#[test]
fn the_example_config_parses_with_every_key() {
    let config = Config::parse(EXAMPLE, "sitrep.example.toml", Path::new("/etc/sitrep")).unwrap();
    assert_eq!(config.address.with_detail(None), "incident@company.test");
    let TransportConfig::Smtp(smtp) = &config.transport else { panic!("the example uses SMTP") };
    let sitrep::config::MailboxConfig::Imap(imap) = &config.mailbox else { panic!("the example uses IMAP") };
    assert_eq!((imap.host.as_str(), imap.port, imap.tls), ("imap.company.test", 993, TlsMode::Tls));
    assert_eq!(imap.after, sitrep::config::AfterCommit::Move { folder: "sitrep/processed".into() });
    assert_eq!(imap.idle_rearm, std::time::Duration::from_secs(20 * 60));
    assert_eq!((smtp.host.as_str(), smtp.port, smtp.tls), ("smtp.company.test", 587, TlsMode::StartTls));
    assert_eq!(config.trusted_authserv_id.as_deref(), Some("mx.company.test"));
    assert_eq!(config.limits, sitrep::config::Limits::default());
    assert!(config.access.is_staff("soc@mssp.test"));
    assert_eq!(config.templates_dir.as_deref(), Some(Path::new("/etc/sitrep/templates")));
    assert_eq!(config.people.get("alice").map(String::as_str), Some("alice.morgan@company.test"));
    assert_eq!(
        config.out_of_band.get("alice.morgan@company.test").map(String::as_str),
        Some("alice.morgan@ir-mail.test")
    );
    let fallback = config.fallback.as_ref().expect("the example has a fallback");
    assert_eq!(fallback.address.with_detail(None), "incident@ir-mail.test");
    assert_eq!(fallback.after, Some(std::time::Duration::from_secs(600)));
    assert_eq!(fallback.envelope_from, "incident@ir-mail.test");
    assert_eq!(config.leads, ["ceo@company.test"]);
    assert!(config.access.is_partner("someone@ir-firm.test"));
    assert_eq!(config.time_zone.iana_name(), Some("Europe/London"));
    let defaults = sitrep::core::schedule::Policy::default();
    assert_eq!(config.schedule, sitrep::core::schedule::Policy { time_zone: config.time_zone.clone(), ..defaults });
    assert_eq!(config.questions, sitrep::core::retro::default_questions());
    assert!(!config.questionnaire_to_executives);
    let names: Vec<&str> = config.regimes.iter().map(|regime| regime.name.as_str()).collect();
    assert_eq!(names, ["gdpr", "nis2", "hipaa", "sec", "pci", "us-states"]);
    let sec = &config.regimes[3];
    assert_eq!(sec.from, sitrep::core::deadline::ClockStart::Command);
    assert_eq!(sec.stages[0].within, Some(sitrep::core::deadline::Within::BusinessDays(4)));
    assert_eq!(config.regimes[1].stages.len(), 2, "NIS2: early warning and notification");
    assert_eq!(config.regimes[4].stages[0].within, None, "PCI: without undue delay");
}

#[test]
fn schedule_keys_are_checked() {
    let base = crate::support::config_text(Path::new("/tmp"));
    for (extra, expected) in [
        ("[cadence]\ncritical = \"2m\"\n", "more often than every 5 minutes"),
        ("[cadence]\nhigh = \"soon\"\n", "cadence.high"),
        ("[reminders]\nno_lead = \"never\"\n", "reminders.no_lead"),
        ("[streams]\ndefault = [\"marketing\"]\n", "streams.default"),
        ("[[regimes]]\nname = \"gdpr\"\ndeadlines = []\n", "regimes.gdpr.deadlines"),
        ("[[regimes]]\nname = \"g d\"\n[[regimes.deadlines]]\nwhat = \"x\"\n", "not a name"),
        ("[[regimes]]\nname = \"x\"\nreminders = [150]\n[[regimes.deadlines]]\nwhat = \"x\"\n", "150"),
        ("[[regimes]]\nname = \"x\"\n[[regimes.deadlines]]\nwhat = \"x\"\nwithin = \"4 fortnights\"\n", "regimes.x"),
    ] {
        match Config::parse(&(base.clone() + extra), "test", Path::new("/tmp")) {
            Err(error) => assert!(error.to_string().contains(expected), "{extra}: {error}"),
            Ok(_) => panic!("{extra} was accepted"),
        }
    }
    let off = Config::parse(&(base + "[reminders]\nno_scope = \"off\"\n"), "test", Path::new("/tmp")).unwrap();
    assert_eq!(off.schedule.no_scope_after, None);
}

#[test]
fn an_override_template_replaces_the_built_in_one() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("ack.txt.tera"), "Opened {{ incident }}.").unwrap();
    let text = crate::support::config_text(directory.path())
        + &format!("\n[templates]\ndir = \"{}\"\n", directory.path().display());
    let config = Config::parse(&text, "test", directory.path()).unwrap();
    let pipeline = sitrep::pipeline::Pipeline::new(config.clone()).unwrap();
    let mut store = sitrep::store::Store::open(&config.database_path()).unwrap();
    let raw = crate::support::mail("alice@company.test", "Phishing").id("t@company.test").bytes();
    pipeline.ingest(&mut store, &raw, "test", "2026-11-27T10:00:00Z".parse().unwrap()).unwrap();
    assert_eq!(store.outbox().unwrap()[0].body, "Opened INC-1.");
}

#[test]
fn a_broken_override_template_is_a_config_error() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("ack.txt.tera"), "{{ unclosed").unwrap();
    let text = crate::support::config_text(directory.path())
        + &format!("\n[templates]\ndir = \"{}\"\n", directory.path().display());
    std::fs::write(directory.path().join("sitrep.toml"), text).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .current_dir(directory.path())
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ack.txt"));
}

/// The file the package installs in /etc is a working template: it parses
/// as it is, and the check names every setting still at a placeholder.
#[test]
fn the_installed_template_parses_and_names_its_placeholders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sitrep.toml");
    let config = Config::parse(&std::fs::read_to_string(&path).unwrap(), "template", Path::new("/etc/sitrep")).unwrap();
    assert_eq!(config.trusted_authserv_id, None, "nothing that rejects staff mail before it can be verified");
    assert!(config.leads.is_empty() && config.admins.is_empty(), "no placeholder people to be told things");
    let placeholders = config.placeholders();
    for key in ["address", "mailbox.host", "transport.host", "access.staff_domains", "stakeholders.executives"] {
        assert!(placeholders.iter().any(|line| line.starts_with(&format!("{key} = "))), "{key}: {placeholders:?}");
    }
    let edited = std::fs::read_to_string(&path).unwrap().replace("example.com", "acme-corp.eu");
    let config = Config::parse(&edited, "edited", Path::new("/etc/sitrep")).unwrap();
    assert_eq!(config.placeholders(), Vec::<String>::new());
}

/// A relay's login is a password or an XOAUTH2 token command, never both.
#[test]
fn the_relay_logs_in_with_a_password_or_a_token_command() {
    let relay = |login: &str| {
        format!(
            "address = \"incident@company.test\"\ndata_dir = \"/tmp/var\"\n[mailbox]\nkind = \"maildir\"\npath = \"/tmp/in\"\n\
             [transport]\nkind = \"smtp\"\nhost = \"smtp.company.test\"\n{login}[access]\nstaff_domains = [\"company.test\"]\n"
        )
    };
    let token = Config::parse(
        &relay("username = \"i@company.test\"\nauth = \"xoauth2\"\ntoken_command = \"printf t\"\n"),
        "test",
        Path::new("/tmp"),
    )
    .unwrap();
    let sitrep::config::TransportConfig::Smtp(smtp) = &token.transport else { panic!("smtp") };
    assert!(smtp.xoauth2 && smtp.credentials.is_some());
    for (login, expected) in [
        ("username = \"i@company.test\"\nauth = \"xoauth2\"\n", "takes username and token_command"),
        ("username = \"i@company.test\"\ntoken_command = \"printf t\"\npassword_file = \"p\"\n", "auth = \"xoauth2\""),
        ("auth = \"kerberos\"\n", "not password or xoauth2"),
    ] {
        let error = Config::parse(&relay(login), "test", Path::new("/tmp")).unwrap_err().to_string();
        assert!(error.contains(expected), "{login}: {error}");
    }
}

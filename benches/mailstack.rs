//! The daemon against real servers: declaration-to-ack latency through IMAP
//! IDLE and SMTP, a 1,000-message backlog, and the cost of idling.
//!
//!   tests/mailstack/stack.sh up /tmp/stack
//!   python3 gen_corpus.py --out target/corpus --incidents 100 --updates 10 --seed 1
//!   cargo bench --bench mailstack -- /tmp/stack target/corpus [idle seconds, default 300]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::{SmtpTransport, Transport};

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).filter(|argument| !argument.starts_with("--")).collect();
    let (Some(stack), Some(corpus)) = (arguments.first(), arguments.get(1)) else {
        eprintln!("usage: cargo bench --bench mailstack -- STACK_DIR CORPUS_DIR [IDLE_SECONDS]");
        return ExitCode::from(2);
    };
    let idle_seconds: u64 = arguments.get(2).and_then(|text| text.parse().ok()).unwrap_or(300);
    let stack = Stack::new(Path::new(stack));
    latency(&stack);
    pipe_latency(&stack);
    backlog_and_idle(&stack, Path::new(corpus), idle_seconds);
    ExitCode::SUCCESS
}

struct Stack {
    directory: PathBuf,
    smtp: SmtpTransport,
    imap_port: u16,
    smtp_port: u16,
}

impl Stack {
    fn new(directory: &Path) -> Stack {
        let env = std::fs::read_to_string(directory.join("stack.env")).expect("a running stack (stack.env)");
        let value = |key: &str| -> u16 {
            env.lines().find_map(|line| line.strip_prefix(&format!("{key}="))).expect(key).parse().unwrap()
        };
        let smtp_port = value("SMTP_PORT");
        Stack {
            directory: directory.to_path_buf(),
            smtp: SmtpTransport::builder_dangerous("127.0.0.1").port(smtp_port).build(),
            imap_port: value("IMAP_PORT"),
            smtp_port,
        }
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.directory.join("mail/company.test").join(user).join("Maildir")
    }

    fn send(&self, to: &str, raw: &[u8]) {
        let envelope = Envelope::new(Some("alice@company.test".parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
        self.smtp.send_raw(&envelope, raw).expect("Postfix accepts the mail");
    }

    fn empty(&self, user: &str) {
        let config = self.directory.join("dovecot/dovecot.conf");
        Command::new("doveadm")
            .arg("-c")
            .arg(config)
            .args(["expunge", "-u", &format!("{user}@company.test"), "mailbox", "*", "all"])
            .status()
            .unwrap();
    }

    fn home(&self, user: &str, transport: &str) -> tempfile::TempDir {
        self.empty(user);
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("password"), format!("{user}-secret\n")).unwrap();
        let config = format!(
            "address = \"incident@company.test\"\ndata_dir = \"var\"\n\
             [mailbox]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             username = \"{user}@company.test\"\npassword_file = \"password\"\n\
             [transport]\n{transport}\n\
             [access]\nstaff_domains = [\"company.test\"]\n\
             [limits]\ndeclarations_per_sender_per_hour = 100000\ndeclarations_per_hour = 100000\n",
            self.imap_port
        );
        std::fs::write(home.path().join("sitrep.toml"), config).unwrap();
        home
    }
}

fn start(home: &Path) -> Child {
    let log = std::fs::File::create(home.join("sitrep.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .arg("run")
        .current_dir(home)
        .env("RUST_LOG", "warn,sitrep=info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(home.join("sitrep.log")).unwrap_or_default().contains("IMAP mailbox selected")
    });
    child
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn count(maildir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .map(|folder| std::fs::read_dir(maildir.join(folder)).map_or(0, |entries| entries.count()))
        .sum()
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// SMTP accepted by Postfix → the ack in the declarer's mailbox, one at a time.
fn latency(stack: &Stack) {
    let transport = format!("kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"", stack.smtp_port);
    let home = stack.home("incident8", &transport);
    let sitrep = start(home.path());
    stack.empty("alice");
    report("latency", &declarations_to_acks(stack, "incident8@company.test"));
    stop(sitrep);
}

/// Sends 100 declarations to `mailbox` one at a time, each timed until its
/// ack lands in alice's Maildir.
fn declarations_to_acks(stack: &Stack, mailbox: &str) -> Vec<Duration> {
    let alice = stack.maildir("alice");
    let mut samples = Vec::new();
    for number in 0..100 {
        let before = count(&alice);
        let raw = format!(
            "From: alice@company.test\r\nTo: {mailbox}\r\nSubject: Probe {number}\r\nMessage-ID: <probe-{number}-{}-{}@company.test>\r\n\r\nProbe.\r\n",
            std::process::id(),
            mailbox.split('@').next().unwrap_or("")
        );
        let started = Instant::now();
        stack.send(mailbox, raw.as_bytes());
        wait_until(Duration::from_secs(20), || count(&alice) > before);
        samples.push(started.elapsed());
    }
    samples.sort();
    samples
}

fn report(what: &str, samples: &[Duration]) {
    let milliseconds = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "{what} over {} declarations: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        samples.len(),
        milliseconds(percentile(samples, 0.5)),
        milliseconds(percentile(samples, 0.95)),
        milliseconds(*samples.last().unwrap())
    );
}

/// The same through pipe mode: Postfix's `pipe` transport runs
/// `sitrep ingest` for `pipe@company.test`, as rt-mailgate is run.
fn pipe_latency(stack: &Stack) {
    let etc = stack.directory.join("postfix/etc");
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("var");
    std::fs::create_dir_all(&data).unwrap();
    // The pipe runs as the unprivileged `mail` user.
    Command::new("chmod").args(["-R", "a+rwx"]).arg(home.path()).status().unwrap();
    let config = home.path().join("sitrep.toml");
    std::fs::write(
        &config,
        format!(
            "address = \"incident@company.test\"\ndata_dir = \"{}\"\n\
             [mailbox]\nkind = \"maildir\"\npath = \"{}/inbox\"\n\
             [transport]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             [access]\nstaff_domains = [\"company.test\"]\n\
             [limits]\ndeclarations_per_sender_per_hour = 100000\ndeclarations_per_hour = 100000\n",
            data.display(),
            home.path().display(),
            stack.smtp_port
        ),
    )
    .unwrap();
    let original_master = std::fs::read_to_string(etc.join("master.cf")).unwrap();
    let original_main = std::fs::read_to_string(etc.join("main.cf")).unwrap();
    let original_mailboxes = std::fs::read_to_string(etc.join("vmailbox")).unwrap();
    std::fs::write(
        etc.join("master.cf"),
        format!(
            "{original_master}sitrep unix - n n - - pipe\n  flags=Rq user=mail argv={} --config {} ingest\n",
            env!("CARGO_BIN_EXE_sitrep"),
            config.display()
        ),
    )
    .unwrap();
    std::fs::write(etc.join("transport"), "pipe@company.test sitrep:\n").unwrap();
    std::fs::write(
        etc.join("main.cf"),
        format!("{original_main}transport_maps = texthash:{}/transport\n", etc.display()),
    )
    .unwrap();
    std::fs::write(etc.join("vmailbox"), format!("{original_mailboxes}pipe@company.test OK\n")).unwrap();
    let reload = || Command::new("postfix").arg("-c").arg(&etc).arg("reload").stdout(Stdio::null()).status().unwrap();
    reload();
    std::thread::sleep(Duration::from_secs(2));
    stack.empty("alice");
    let samples = declarations_to_acks(stack, "pipe@company.test");
    std::fs::write(etc.join("master.cf"), original_master).unwrap();
    std::fs::write(etc.join("main.cf"), original_main).unwrap();
    std::fs::write(etc.join("vmailbox"), original_mailboxes).unwrap();
    reload();
    report("pipe mode", &samples);
}

/// 1,000 corpus messages waiting in the folder, then the daemon idling.
fn backlog_and_idle(stack: &Stack, corpus: &Path, idle_seconds: u64) {
    let outbox = tempfile::tempdir().unwrap();
    let transport = format!("kind = \"file\"\npath = \"{}\"", outbox.path().display());
    let home = stack.home("incident9", &transport);
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus)
        .expect("the corpus directory")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect();
    files.sort();
    files.truncate(1000);
    for file in &files {
        stack.send("incident9@company.test", &std::fs::read(file).unwrap());
    }
    let inbox = stack.maildir("incident9");
    wait_until(Duration::from_secs(120), || {
        ["new", "cur"]
            .iter()
            .map(|folder| std::fs::read_dir(inbox.join(folder)).map_or(0, |e| e.count()))
            .sum::<usize>()
            == files.len()
    });
    let started = Instant::now();
    let sitrep = start(home.path());
    wait_until(Duration::from_secs(600), || count(&inbox) == 0);
    let elapsed = started.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{}/status", sitrep.id())).unwrap();
    let field = |name: &str| status.lines().find(|line| line.starts_with(name)).unwrap_or("").to_string();
    println!(
        "backlog: {} messages in {:.1} s = {:.0} messages/s (from start, including login); {}",
        files.len(),
        elapsed.as_secs_f64(),
        files.len() as f64 / elapsed.as_secs_f64(),
        field("VmHWM").split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", sitrep.id())).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let ticks_before = cpu();
    std::thread::sleep(Duration::from_secs(idle_seconds));
    let ticks = cpu() - ticks_before;
    let status = std::fs::read_to_string(format!("/proc/{}/status", sitrep.id())).unwrap();
    let rss = status
        .lines()
        .find(|line| line.starts_with("VmRSS"))
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "idle for {idle_seconds} s: {} ms of CPU ({:.3} % of one core), {rss}",
        ticks * 10,
        ticks as f64 * 10.0 / (idle_seconds as f64 * 1000.0) * 100.0
    );
    stop(sitrep);
}

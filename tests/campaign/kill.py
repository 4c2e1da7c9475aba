#!/usr/bin/env python3
"""The kill -9 campaign: sitrep under repeated crashes against a real Postfix and Dovecot.

Starts a private loopback stack (tests/mailstack/stack.sh: needs root, installs Postfix and
Dovecot from Debian if missing), then for each mode

  maildir  the backlog is written into a local Maildir (`[mailbox] kind = "maildir"`);
  imap     the backlog is sent through Postfix to incident@company.test and read over IMAP;

and in both, replies go out over SMTP into the recipients' Dovecot mailboxes. Each round
tops the mailbox up, starts `sitrep run`, lets it work a random time (log-uniform between
--min-run and --max-run: ingest takes about a millisecond a message, so short runs must be
common for kills to land in startup and ingest as well as in delivery) and kills it with
SIGKILL; some rounds set SITREP_FAILPOINT=after_commit or after_send instead, which abort
the daemon at that point. After each round the script waits for Postfix to close every SMTP
session and empty its queue, and notes the new copies in the recipients' Maildirs. Once
there have been --rounds rounds and the backlog is done, one clean run per mode (side by
side) finishes the work (it takes over the claims of the killed daemons at once)
and is stopped with SIGTERM.
Then it counts, per mode:

  lost             a Message-ID sent in that `sitrep export --json` does not list
  processed twice  a Message-ID stored twice, a declaration that made two incidents,
                   or a mail whose text (or one of its commands) is on a timeline twice
  extra copies     more than one copy of an outbox row's Message-ID in one recipient's
                   Maildir; every copy but the last went unrecorded and is blamed on the
                   round in which the relay took it (the promise: at most one per crash,
                   none without a crash)
  never delivered  outbox rows not sent, or sent rows with a recipient who has no copy
  panics           "panicked" in the daemon's log (home-MODE/sitrep.log)

and copies whose Message-ID no outbox row has (a mail sent again under a new ID).

The mail is generated here (declarations, reply-all updates threaded by In-Reply-To and
References, some with commands) from a seeded RNG: the same seed gives the same rounds,
failpoints, run times and mail; how far the daemon gets in each round still varies.

    sudo python3 tests/campaign/kill.py [BINARY] [--seed N] [--rounds N] [--write-docs]

BINARY defaults to target/release/sitrep under the repository root. --write-docs replaces
the "## Kill campaign" section of docs/reliability.md (or appends it) with the summary
printed on stdout. Exit status 1 when a promise was broken; the working directory is then
kept (as with --keep) and named on stderr. Python 3.9+, standard library only.
"""

import argparse
import collections
import datetime
import email.utils
import json
import math
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK_SH = os.path.join(REPO, "tests", "mailstack", "stack.sh")
DOCS = os.path.join(REPO, "docs", "reliability.md")
DOMAIN = "company.test"
STAFF = ["alice", "bob", "carol", "admin"]
EXECUTIVES = ["ceo", "cfo"]
FAILPOINTS = ["after_commit", "after_send"]
HEADING = "## Kill campaign"

TOPICS = [
    "Phishing wave against finance", "Lost laptop at the airport", "Ransom note on the file server",
    "Payroll mailbox forwards outside", "Card skimmer at the front desk", "VPN logins from abroad",
    "Vendor invoice with changed bank details", "Malware alert on a build agent",
    "Leaked API key in a public repository", "Badge cloned at the warehouse",
    "DDoS on the customer portal", "Unknown admin account in the directory",
]
UPDATES = [
    "Blocked the sender domain at the gateway.", "Password reset and sessions revoked.",
    "Forwarding rule removed; checking the audit log.", "Two more users report the same mail.",
    "Isolated the host from the network.", "Backups from last night are intact.",
    "Called the bank; the transfer is on hold.", "Legal asks for a timeline by tonight.",
    "Logs exported to the shared drive.", "The vendor confirms they did not send it.",
]
COMMANDS = ["sev high", "sev medium", "scope finance mailboxes", "impact payments delayed",
            "task check the mail gateway logs @bob", "lead me", "digest now", "stream technical containment underway"]


def log(text):
    print(f"campaign: {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def headers_of(path):
    """The header block of a stored mail, unfolded, as {lowercase name: value} (first wins)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(65536)
    except OSError:
        return None
    block = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0].decode("utf-8", "replace")
    block = re.sub(r"\r?\n[ \t]+", " ", block)
    fields = {}
    for line in block.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() not in fields:
            fields[name.strip().lower()] = value.strip()
    return fields


def bare_id(value):
    return (value or "").strip().strip("<>").strip()


def maildir_files(root):
    """Every mail file in the Maildir tree under root (all folders, new/ and cur/)."""
    for directory, _, files in os.walk(root):
        if os.path.basename(directory) in ("new", "cur"):
            for name in files:
                yield os.path.join(directory, name)


class Observer:
    """The copies in the recipients' Maildirs, each with the round after which it was first seen.

    It looks while no daemon runs and Postfix's queue is empty, so a copy seen after round k
    was accepted by the relay during round k."""

    def __init__(self, stack, users):
        self.stack, self.users = stack, users
        self.known = set()
        self.copies = collections.defaultdict(list)  # (user, Message-ID) -> [label of the round, ...]

    def look(self, label):
        for user in self.users:
            for path in maildir_files(self.stack.maildir(user)):
                key = (user, os.path.basename(path).split(":")[0])
                if key in self.known:
                    continue
                fields = headers_of(path)
                if fields is None:
                    continue
                self.known.add(key)
                self.copies[(user, bare_id(fields.get("message-id")))].append(label)


class Stack:
    def __init__(self, directory):
        self.directory = directory
        self.smtp_port = free_port()
        self.imap_port = free_port()
        self.up = False
        self.log_offset = 0
        self.sessions = 0

    def control(self, *arguments):
        env = dict(os.environ, SMTP_PORT=str(self.smtp_port), IMAP_PORT=str(self.imap_port))
        subprocess.run(["bash", STACK_SH, *arguments, self.directory], env=env, check=True,
                       stdin=subprocess.DEVNULL)

    def start(self):
        self.up = True
        self.control("up")

    def stop(self):
        if self.up:
            self.up = False
            try:
                self.control("down")
            except subprocess.CalledProcessError as error:
                log(f"stack.sh down failed: {error}")

    def maildir(self, user):
        return os.path.join(self.directory, "mail", DOMAIN, user, "Maildir")

    def queue_empty(self):
        output = subprocess.run(["postqueue", "-c", os.path.join(self.directory, "postfix", "etc"), "-p"],
                                capture_output=True, text=True).stdout
        return "Mail queue is empty" in output

    def doveadm(self, *arguments):
        subprocess.run(["doveadm", "-c", os.path.join(self.directory, "dovecot", "dovecot.conf"), *arguments],
                       check=True, stdout=subprocess.DEVNULL)

    def sessions_open(self):
        """SMTP sessions Postfix has not closed yet, from its log: a session cut by a kill may
        still be committing its mail, which the queue listing does not show until it is done."""
        path = os.path.join(self.directory, "log", "postfix.log")
        with open(path, "rb") as handle:
            handle.seek(self.log_offset)
            text = handle.read()
        end = text.rfind(b"\n") + 1
        self.log_offset += end
        for line in text[:end].decode("utf-8", "replace").splitlines():
            if "/smtpd[" in line:
                if ": connect from " in line:
                    self.sessions += 1
                elif ": disconnect from " in line:
                    self.sessions -= 1
        return self.sessions

    def drain(self, seconds):
        """Waits until Postfix has closed every session and delivered all it accepted; False if it
        has not within seconds."""
        deadline = time.time() + seconds
        while self.sessions_open() > 0 or not self.queue_empty():
            if time.time() > deadline:
                return False
            time.sleep(0.05)
        return True

    def send(self, mails, to):
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            for mail in mails:
                smtp.sendmail(mail.sender, [to], mail.raw)


class Mail:
    def __init__(self, number, kind, sender, message_id, raw, title):
        self.number, self.kind, self.sender = number, kind, sender
        self.message_id, self.raw, self.title = message_id, raw, title


class Corpus:
    """Declarations and reply-all updates for one mode, from the campaign's RNG."""

    def __init__(self, rng, mode, seed, incident_address):
        self.rng, self.mode, self.seed, self.address = rng, mode, seed, incident_address
        self.mails = []
        self.threads = []  # (title, declarer, cc, [message ids oldest first])

    def batch(self, size):
        out = []
        declarations = max(1, round(size * 0.3)) if self.threads else size
        for _ in range(declarations):
            out.append(self.declaration())
        for _ in range(size - declarations):
            out.append(self.update())
        return out

    def _mail(self, kind, sender, to, cc, subject, extra_headers, body, title):
        number = len(self.mails)
        message_id = f"campaign-{self.mode}-{self.seed}-{number}@{DOMAIN}"
        lines = [f"From: {sender.capitalize()} <{sender}@{DOMAIN}>", f"To: {to}"]
        if cc:
            lines.append("Cc: " + ", ".join(f"{user}@{DOMAIN}" for user in cc))
        lines += [f"Subject: {subject}", f"Message-ID: <{message_id}>",
                  f"Date: {email.utils.formatdate(localtime=True)}", *extra_headers,
                  "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
        raw = ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()
        mail = Mail(number, kind, f"{sender}@{DOMAIN}", message_id, raw, title)
        self.mails.append(mail)
        return mail

    def declaration(self):
        rng = self.rng
        sender = rng.choice(STAFF)
        cc = [user for user in rng.sample(STAFF, 2) if user != sender][:1]
        title = f"{rng.choice(TOPICS)} {self.mode}-{self.seed}-{len(self.threads) + 1}"
        subject = title + (f" [{rng.choice(COMMANDS[:2])}]" if rng.random() < 0.3 else "")
        body = f"{rng.choice(UPDATES)}\n\nReported by {sender}."
        mail = self._mail("declaration", sender, self.address, cc, subject, [], body, title)
        self.threads.append((title, sender, cc, [mail.message_id]))
        return mail

    def update(self):
        rng = self.rng
        title, declarer, cc, ids = rng.choice(self.threads)
        sender = rng.choice([user for user in STAFF if user != declarer] + [declarer])
        others = [user for user in [declarer, *cc] if user != sender]
        parent = ids[-1]
        # The declaration always, so that a reply that overtakes its parent still finds the incident.
        references = " ".join(f"<{mid}>" for mid in [ids[0], *ids[1:][-4:]])
        text = rng.choice(UPDATES)
        if rng.random() < 0.25:
            text += "\n\n" + rng.choice(COMMANDS)
        body = (f"{text}\n\nOn {email.utils.formatdate(localtime=True)}, {declarer.capitalize()} wrote:\n"
                f"> {rng.choice(UPDATES)}\n")
        mail = self._mail("update", sender, self.address, others, f"Re: {title}",
                          [f"In-Reply-To: <{parent}>", f"References: {references}"], body, title)
        ids.append(mail.message_id)
        return mail


class Mode:
    """One sitrep home, its mailbox and its rounds."""

    def __init__(self, name, args, stack, root, rng):
        self.name, self.args, self.stack, self.rng = name, args, stack, rng
        self.user = "incident" if name == "imap" else "incident1"
        self.address = f"{self.user}@{DOMAIN}"
        self.home = os.path.join(root, f"home-{name}")
        os.makedirs(self.home)
        self.log_path = os.path.join(self.home, "sitrep.log")
        self.corpus = Corpus(rng, name, args.seed, self.address)
        self.rounds = []  # dicts: number, failpoint, planned, start, end, ended
        self.child = None
        self.sequence = 0
        self.inbound_seen = {}  # Maildir file name -> Message-ID, in the incident mailbox (imap mode)
        self.rounds_time = 0.0
        self.final_began = None
        self.final_time = None
        self.write_config()

    def write_config(self):
        if self.name == "maildir":
            mailbox = 'kind = "maildir"\npath = "inbox"\npoll_interval_ms = 200\n'
            os.makedirs(os.path.join(self.home, "inbox", "tmp"))
            os.makedirs(os.path.join(self.home, "inbox", "new"))
            os.makedirs(os.path.join(self.home, "inbox", "cur"))
        else:
            with open(os.path.join(self.home, "password"), "w") as handle:
                handle.write(f"{self.user}-secret\n")
            mailbox = (f'kind = "imap"\nhost = "127.0.0.1"\nport = {self.stack.imap_port}\ntls = "none"\n'
                       f'username = "{self.address}"\npassword_file = "password"\ntimeout_secs = 10\n')
        executives = ", ".join(f'"{user}@{DOMAIN}"' for user in EXECUTIVES)
        config = f"""address = "{self.address}"
data_dir = "var"

[mailbox]
{mailbox}
[transport]
kind = "smtp"
host = "127.0.0.1"
port = {self.stack.smtp_port}
tls = "none"
timeout_secs = 10
first_retry_secs = 1

[access]
staff_domains = ["{DOMAIN}"]

[stakeholders]
executives = [{executives}]

# A campaign sends bursts that a site would call a storm.
[limits]
replies_per_hour = 100000
declarations_per_sender_per_hour = 100000
declarations_per_hour = 100000
"""
        with open(os.path.join(self.home, "sitrep.toml"), "w") as handle:
            handle.write(config)

    # The mailbox

    def add(self, size):
        mails = self.corpus.batch(size)
        if self.name == "maildir":
            base = time.time() - 3600
            for mail in mails:
                self.sequence += 1
                name = f"{int(base)}.{self.sequence:07d}_{os.getpid()}.campaign"
                tmp = os.path.join(self.home, "inbox", "tmp", name)
                with open(tmp, "wb") as handle:
                    handle.write(mail.raw)
                # Oldest first by mtime: declarations before the replies that follow them.
                stamp = base + self.sequence * 0.001
                os.utime(tmp, (stamp, stamp))
                os.rename(tmp, os.path.join(self.home, "inbox", "new", name))
        else:
            # Declarations first, delivered and given their UIDs, so that no reply has a lower UID
            # than its declaration: Dovecot numbers Maildir files lazily, not in the order they came.
            for kind in ("declaration", "update"):
                part = [mail for mail in mails if mail.kind == kind]
                if part:
                    self.stack.send(part, self.address)
                    self.wait_delivered(part)
                    self.stack.doveadm("search", "-u", self.address, "mailbox", "INBOX", "all")
        return len(mails)

    def wait_delivered(self, mails):
        wanted = {mail.message_id for mail in mails}
        deadline = time.time() + 120
        while time.time() < deadline:
            for path in maildir_files(self.stack.maildir(self.user)):
                name = os.path.basename(path).split(":")[0]
                if name not in self.inbound_seen:
                    fields = headers_of(path)
                    if fields:
                        self.inbound_seen[name] = bare_id(fields.get("message-id"))
            if wanted <= set(self.inbound_seen.values()):
                return
            time.sleep(0.05)
        raise RuntimeError(f"mails never reached {self.address}")

    def pending(self):
        if self.name == "maildir":
            return len(os.listdir(os.path.join(self.home, "inbox", "new")))
        root = self.stack.maildir(self.user)
        return sum(len(os.listdir(os.path.join(root, folder)))
                   for folder in ("new", "cur") if os.path.isdir(os.path.join(root, folder)))

    # The daemon

    def start(self, failpoint=None, label=""):
        with open(self.log_path, "a") as handle:
            handle.write(f"=== campaign {label} failpoint={failpoint or '-'} at {time.time():.6f}\n")
        env = dict(os.environ, RUST_LOG="info")
        env.pop("SITREP_FAILPOINT", None)
        if failpoint:
            env["SITREP_FAILPOINT"] = failpoint
        logfile = open(self.log_path, "a")
        self.child = subprocess.Popen([self.args.binary, "run"], cwd=self.home, env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=logfile)
        logfile.close()
        return self.child

    def kill(self):
        if self.child and self.child.poll() is None:
            os.kill(self.child.pid, signal.SIGKILL)
        if self.child:
            self.child.wait()
        self.child = None

    def terminate(self):
        """SIGTERM once the daemon says it runs (before that, the signal would just kill it)."""
        child, start = self.child, time.time()
        while child.poll() is None and time.time() - start < 30 and "sitrep running" not in self.log_tail():
            time.sleep(0.1)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGTERM)
        try:
            code = child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            code = child.wait()
        self.child = None
        return code

    def log_tail(self):
        with open(self.log_path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        return text[text.rfind("=== campaign"):]

    def sitrep(self, *arguments):
        result = subprocess.run([self.args.binary, *arguments], cwd=self.home, capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(f"sitrep {' '.join(arguments)}: {result.stderr.decode(errors='replace')}")
        return result.stdout

    def export(self):
        return json.loads(self.sitrep("export", "--json"))

    # The campaign

    def run_rounds(self, observer):
        args, rng = self.args, self.rng
        began = time.time()
        log(f"{self.name}: backlog of {args.backlog}")
        self.add(args.backlog)
        number = 0
        while number < args.rounds or self.pending() > 0:
            if number >= args.rounds * 3:
                raise RuntimeError(f"{self.name}: backlog not done after {number} rounds")
            if number > 0 and number < args.rounds and self.pending() < args.per_round:
                self.add(args.per_round - self.pending())
            number += 1
            draw = rng.random()
            failpoint = None
            if draw < args.failpoint_share:
                failpoint = FAILPOINTS[0] if draw < args.failpoint_share / 2 else FAILPOINTS[1]
            # Log-uniform: ingest takes about a millisecond a message, so short runs must be common
            # for kills to land in startup and ingest as well as in delivery.
            planned = math.exp(rng.uniform(math.log(args.min_run), math.log(args.max_run)))
            waiting = self.pending()
            child = self.start(failpoint, f"{self.name} round {number}")
            start = time.time()
            try:
                code = child.wait(timeout=planned)
                ended = f"exit {code}" if code >= 0 else f"signal {-code}"
                if code == -signal.SIGABRT and failpoint:
                    ended = f"abort {failpoint}"
            except subprocess.TimeoutExpired:
                ended = "sigkill"
            self.kill()
            end = time.time()
            drained = self.stack.drain(30)
            observer.look((self.name, number))
            self.rounds.append(dict(number=number, failpoint=failpoint, planned=planned, start=start, end=end,
                                    ended=ended, waiting_before=waiting, waiting_after=self.pending(),
                                    relay_drained=drained))
            if ended.startswith("exit"):
                raise RuntimeError(f"{self.name}: round {number}: sitrep {ended}:\n{self.log_tail()[-2000:]}")
            if number % 20 == 0:
                log(f"{self.name}: round {number}, {self.pending()} waiting, {len(self.corpus.mails)} sent in")
        self.rounds_time = time.time() - began
        log(f"{self.name}: {number} rounds in {self.rounds_time:.0f} s")

    def final_start(self):
        self.final_began = time.time()
        self.start(None, f"{self.name} final run")

    def final_done(self):
        """Everything sent in is stored, nothing waits in the mailbox, nothing waits in the outbox."""
        if self.pending() > 0:
            return False
        document = self.export()
        stored = {message["message_id"] for message in document["messages"]}
        if any(mail.message_id not in stored for mail in self.corpus.mails):
            return False
        return all(row["status"] != "queued" for row in document["outbox"])

    def final_stop(self):
        code = self.terminate()
        self.final_time = time.time() - self.final_began
        log(f"{self.name}: clean run finished in {self.final_time:.0f} s (exit {code})")
        return code


def analyse(mode, observer):
    """The figures for one mode, from its export, its log and the recipients' Maildirs."""
    document = mode.export()
    figures = collections.OrderedDict()
    sent = {mail.message_id: mail for mail in mode.corpus.mails}
    crashes = mode.rounds
    figures["rounds"] = len(crashes)
    figures["kills"] = sum(1 for r in crashes if r["ended"] == "sigkill")
    figures["aborts"] = {fp: sum(1 for r in crashes if r["ended"] == f"abort {fp}") for fp in FAILPOINTS}
    figures["other_ends"] = collections.Counter(r["ended"] for r in crashes
                                                if r["ended"] != "sigkill" and not r["ended"].startswith("abort"))
    figures["sent_in"] = len(sent)
    figures["declarations"] = sum(1 for mail in sent.values() if mail.kind == "declaration")
    figures["updates"] = figures["sent_in"] - figures["declarations"]

    stored = collections.Counter(message["message_id"] for message in document["messages"])
    figures["lost"] = sorted(mid for mid in sent if mid not in stored)
    twice = [mid for mid, count in stored.items() if count > 1]
    titles = collections.Counter(incident["title"] for incident in document["incidents"])
    twice += [f"incident {title!r}" for title, count in titles.items() if count > 1]
    entries = collections.Counter()
    for incident in document["incidents"]:
        for entry in incident["timeline"]:
            if entry["kind"] in ("declared", "update"):
                entries[(entry["message_id"], "text")] += 1
            else:
                entries[(entry["message_id"], entry["kind"], entry["text"])] += 1
    twice += [f"timeline {key}" for key, count in entries.items() if count > 1]
    figures["twice"] = twice
    expected = {"declaration": "declared", "update": "updated"}
    outcomes = {message["message_id"]: message["outcome"] for message in document["messages"]}
    figures["unexpected_outcomes"] = collections.Counter(
        f"{mail.kind} -> {outcomes[mid]}" for mid, mail in sent.items()
        if mid in outcomes and outcomes[mid] != expected[mail.kind])
    figures["incidents"] = len(document["incidents"])

    outbox = document["outbox"]
    figures["outbox_rows"] = len(outbox)
    figures["outbox_kinds"] = collections.Counter(row["kind"] for row in outbox)
    figures["not_sent"] = [f"{row['kind']} {row['message_id']} {row['status']}: {row['last_error']}"
                           for row in outbox if row["status"] != "sent"]
    copies_total = extra = 0
    missing = []
    duplicated = []
    recipients = 0
    for row in outbox:
        for address in row["to"] + row["cc"]:
            recipients += 1
            user, _, domain = address.lower().partition("@")
            copies = observer.copies.get((user, row["message_id"]), []) if domain == DOMAIN else []
            copies_total += len(copies)
            if row["status"] == "sent" and not copies:
                missing.append(f"{row['kind']} {row['message_id']} to {address}")
            if len(copies) > 1:
                extra += len(copies) - 1
                duplicated.append((row, address, copies))
    figures["deliveries"] = recipients
    figures["copies"] = copies_total
    figures["missing"] = missing
    figures["extra_copies"] = extra
    # Each copy but the last went unrecorded, so the round in which the relay
    # took it must have crashed; one delivery is in flight at a time, so a
    # crash can leave at most one such copy.
    blame = collections.Counter()
    blamed = []
    for row, address, copies in duplicated:
        for label in copies[:-1]:
            number = label[1] if label[0] == mode.name else None
            culprit = crashes[number - 1] if number else None
            blame[label] += 1
            blamed.append(dict(kind=row["kind"], message_id=row["message_id"], to=address, copies=len(copies),
                               unrecorded_copy_in=f"{label[0]} {label[1]}",
                               failpoint=culprit and culprit["failpoint"],
                               ended=culprit and culprit["ended"], not_after_a_crash=culprit is None))
    figures["duplicate_crashes"] = len(blame)
    figures["max_per_crash"] = max(blame.values(), default=0)
    figures["duplicates"] = blamed
    figures["duplicate_rounds_after_send"] = sum(1 for d in blamed if d["ended"] == "abort after_send")
    figures["killed_with_mail_waiting"] = sum(1 for r in crashes if r["waiting_after"] > 0)
    figures["relay_not_drained"] = sum(1 for r in crashes if not r["relay_drained"])

    with open(mode.log_path, "rb") as handle:
        text = handle.read().decode("utf-8", "replace")
    panics = []
    label = "?"
    for line in text.splitlines():
        if line.startswith("=== campaign"):
            label = line
        elif "panicked" in line:
            panics.append(f"{label}: {line.strip()}")
    figures["panics"] = panics
    figures["error_lines"] = sum(1 for line in text.splitlines() if " ERROR " in line or line.startswith("ERROR"))
    figures["rounds_time"] = mode.rounds_time
    figures["final_time"] = mode.final_time
    return figures


def broken(figures):
    return bool(figures["lost"] or figures["twice"] or figures["missing"] or figures["not_sent"]
                or figures["panics"] or figures["max_per_crash"] > 1
                or figures["extra_copies"] > figures["rounds"]
                or any(d["not_after_a_crash"] for d in figures["duplicates"]))


def markdown(results, args, version, commit, started, wall, strays):
    names = list(results)

    def row(label, cell):
        return f"| {label} | " + " | ".join(cell(results[name]) for name in names) + " |"

    command = "sudo python3 tests/campaign/kill.py" + (" BINARY" if args.binary_given else "")
    command += "".join(f" --{name.replace('_', '-')} {value}" for name, value in args.changed) + " --write-docs"
    built = f"sitrep {version}" + (f" built from commit {commit}" if commit else "")
    lines = [
        HEADING,
        "",
        "`tests/campaign/kill.py` starts a private loopback Postfix and Dovecot (`tests/mailstack/stack.sh`), "
        "gives sitrep a backlog of declarations and reply-all updates (some with commands), and kills the daemon "
        f"with SIGKILL {args.min_run:g} to {args.max_run:g} s after its start (log-uniform, so that kills land in "
        "startup and ingest as well as in delivery), or lets `SITREP_FAILPOINT=after_commit` or `after_send` "
        "abort it, round after round, topping the mailbox up between rounds. "
        "In `maildir` mode sitrep reads a local Maildir; in `imap` mode the backlog goes through Postfix and "
        "sitrep reads it over IMAP; replies go out over SMTP in both. "
        "A clean run then finishes the work (a delivery whose sender died is retried at once, one whose senders died twice when its lease ends) "
        "and is stopped with SIGTERM. The script compares the Message-IDs sent in with `sitrep export --json`, "
        "and each outbox row with the copies in its recipients' Maildirs, which it reads after every round "
        "with Postfix's queue empty: every copy but the last of a mail went unrecorded, so it is blamed on "
        "the round in which the relay took it, which must have ended in a crash, and one crash may leave "
        "at most one such copy (one delivery is in flight at a time).",
        "",
        f"Run on {started:%Y-%m-%d} with {built}, seed {args.seed}, on {os.cpu_count()} cores; "
        f"regenerate with `{command}` (BINARY defaults to `target/release/sitrep`).",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        row("rounds: SIGKILL + after_commit + after_send",
            lambda f: f"{f['rounds']}: {f['kills']} + {f['aborts']['after_commit']} + {f['aborts']['after_send']}"),
        row("rounds that ended with mail still in the mailbox", lambda f: str(f["killed_with_mail_waiting"])),
        row("messages sent in: declarations + updates",
            lambda f: f"{f['sent_in']}: {f['declarations']} + {f['updates']}"),
        row("messages lost", lambda f: str(len(f["lost"]))),
        row("messages processed twice", lambda f: str(len(f["twice"]))),
        row("outgoing mails (deliveries, one per recipient)",
            lambda f: f"{f['outbox_rows']} ({f['deliveries']})"),
        row("extra copies delivered", lambda f: str(f["extra_copies"])),
        row("crashes they follow (of them after_send)",
            lambda f: f"{f['duplicate_crashes']} ({f['duplicate_rounds_after_send']})"),
        row("most extra copies after one crash", lambda f: str(f["max_per_crash"])),
        row("deliveries never made", lambda f: str(len(f["not_sent"]) + len(f["missing"]))),
        row("panics in the daemon log", lambda f: str(len(f["panics"]))),
        row("wall time: rounds + clean run", lambda f: f"{f['rounds_time']:.0f} s + {f['final_time']:.0f} s"),
        "",
        "A crash while a mail is in the relay's hands, from the final dot of DATA (Postfix commits the mail "
        "before it answers) to sitrep's record of the answer, leaves one extra copy with the same Message-ID, "
        "so most kills during delivery leave one, and each `after_send` abort must. "
        f"Copies with a Message-ID no outbox row has: {strays}. The whole campaign took {wall / 60:.1f} minutes.",
        "",
    ]
    return "\n".join(lines)


def write_docs(section):
    """Replaces the section (up to the next `## ` heading), or appends it."""
    with open(DOCS) as handle:
        text = handle.read()
    match = re.search(r"^" + re.escape(HEADING) + r"[ \t]*$", text, re.MULTILINE)
    if match is None:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        following = re.search(r"^## ", text[match.end():], re.MULTILINE)
        rest = text[match.end() + following.start():] if following else ""
        text = text[:match.start()] + section.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    with open(DOCS, "w") as handle:
        handle.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", nargs="?", help="the sitrep binary [default: target/release/sitrep]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=150, help="kill rounds per mode, at least")
    parser.add_argument("--modes", default="maildir,imap")
    parser.add_argument("--backlog", type=int, default=200, help="mails in each mode's first backlog")
    parser.add_argument("--per-round", type=int, default=40, help="the mailbox is topped up to this before a round")
    parser.add_argument("--min-run", type=float, default=0.01, help="shortest run before the kill, seconds")
    parser.add_argument("--max-run", type=float, default=1.5, help="longest run (log-uniform in between)")
    parser.add_argument("--failpoint-share", type=float, default=0.3, help="rounds run with a failpoint")
    parser.add_argument("--final-timeout", type=int, default=600, help="seconds for the clean run")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory and the sitrep homes")
    parser.add_argument("--write-docs", action="store_true", help=f"replace '{HEADING}' in docs/reliability.md")
    parser.add_argument("--json", help="also write every figure (with the lists) to this file")
    args = parser.parse_args()
    args.binary_given = args.binary is not None
    args.changed = [(name, value) for name, value in vars(args).items()
                    if name not in ("binary", "binary_given", "seed", "write_docs", "keep", "json")
                    and parser.get_default(name) != value]
    args.changed.insert(0, ("seed", args.seed))
    args.binary = os.path.abspath(args.binary or os.path.join(REPO, "target", "release", "sitrep"))
    if os.geteuid() != 0:
        sys.exit("the mail stack needs root (Postfix refuses to run otherwise)")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no sitrep binary at {args.binary}: cargo build --release, or pass its path")
    version = subprocess.run([args.binary, "--version"], capture_output=True, text=True).stdout.strip()
    version = version.removeprefix("sitrep ").strip()
    commit = subprocess.run(["git", "-C", os.path.dirname(args.binary), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()

    def interrupted(number, _frame):
        raise KeyboardInterrupt(f"signal {number}")
    signal.signal(signal.SIGTERM, interrupted)

    started = datetime.datetime.now(datetime.timezone.utc)
    began = time.time()
    root = tempfile.mkdtemp(prefix="sitrep-campaign-")
    os.chmod(root, 0o755)
    stack = Stack(os.path.join(root, "stack"))
    modes = []
    failed = True
    try:
        stack.start()
        for index, name in enumerate(args.modes.split(",")):
            # One RNG per mode, so a mode's rounds do not depend on the other's.
            modes.append(Mode(name, args, stack, root, random.Random(args.seed * 1000 + index)))
        observer = Observer(stack, sorted(set(STAFF + EXECUTIVES)))
        for mode in modes:
            mode.run_rounds(observer)
        # The clean runs go side by side.
        for mode in modes:
            mode.final_start()
        waiting = list(modes)
        deadline = time.time() + args.final_timeout
        while waiting:
            if time.time() > deadline:
                raise RuntimeError("the clean run did not finish: " + ", ".join(m.name for m in waiting))
            for mode in list(waiting):
                if mode.child.poll() is not None:
                    raise RuntimeError(f"{mode.name}: the clean run exited with {mode.child.returncode}")
                if mode.final_done():
                    mode.final_stop()
                    waiting.remove(mode)
            time.sleep(2)
        if not stack.drain(180):
            raise RuntimeError("Postfix's queue did not drain")
        observer.look(("final", 0))
        results = collections.OrderedDict()
        for mode in modes:
            results[mode.name] = analyse(mode, observer)
        # A copy that no outbox row names: a mail sent again under a new Message-ID, or not sitrep's at all.
        queued = {row["message_id"] for mode in modes for row in mode.export()["outbox"]}
        strays = sorted(f"{user}: {mid}" for (user, mid) in observer.copies if mid not in queued)
        wall = time.time() - began
        section = markdown(results, args, version, commit, started, wall, len(strays))
        print(section)
        for name, figures in results.items():
            for key in ("lost", "twice", "not_sent", "missing", "panics"):
                for item in figures[key][:20]:
                    print(f"{name}: {key}: {item}")
            for duplicate in figures["duplicates"]:
                print(f"{name}: duplicate: {duplicate}")
            if figures["unexpected_outcomes"]:
                print(f"{name}: outcomes other than declared/updated: {dict(figures['unexpected_outcomes'])}")
            if figures["other_ends"]:
                print(f"{name}: rounds that ended on their own: {dict(figures['other_ends'])}")
            print(f"{name}: outbox kinds {dict(figures['outbox_kinds'])}, {figures['incidents']} incidents, "
                  f"{figures['error_lines']} ERROR lines in the log")
        for stray in strays[:20]:
            print(f"stray copy (no outbox row): {stray}")
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"results": results, "rounds": {m.name: m.rounds for m in modes}}, handle, indent=1,
                          default=str)
        if args.write_docs:
            write_docs(section)
            log(f"wrote {HEADING!r} in {DOCS}")
        failed = bool(strays) or any(broken(figures) for figures in results.values())
        if failed:
            log("a promise was broken: see above")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        for mode in modes:
            try:
                mode.kill()
            except Exception as error:  # noqa: BLE001 - best effort on the way out
                log(f"{mode.name}: {error}")
        stack.stop()
        if args.keep or failed:
            log(f"kept {root} (the stack's logs, the sitrep homes and their logs)")
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

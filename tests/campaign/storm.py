#!/usr/bin/env python3
"""The storm run of docs/reliability.md: 200 declarations from one sender in
a burst, then one from someone else, then three hours of the scheduler
(`sitrep tick --at`, a minute apart), once with the default `[limits]` and
once with the declaration brakes lifted so that 200 incidents stay open.

    python3 tests/campaign/storm.py [SITREP_BIN] [--write-docs]

Prints a Markdown table; with --write-docs it replaces the "## Storm run"
section of docs/reliability.md. Needs no servers: file transport, Maildir.
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXECUTIVES = ["ceo@company.test", "cfo@company.test"]
BURST = 200
HOURS = 3


def config(lifted):
    limits = "declarations_per_sender_per_hour = 1000\ndeclarations_per_hour = 1000\n" if lifted else ""
    return f"""address = "incident@company.test"
data_dir = "var"
[mailbox]
kind = "maildir"
path = "var/inbox"
[transport]
kind = "file"
path = "var/outbox"
[access]
staff_domains = ["company.test"]
[stakeholders]
executives = {json.dumps(EXECUTIVES)}
[limits]
{limits}"""


def declaration(sender, subject, message_id):
    return (f"From: {sender}\r\nTo: incident@company.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
            "Disk usage above 95%.\r\n").encode()


def sitrep(binary, home, *arguments):
    return subprocess.run([binary, *arguments], cwd=home, check=True, capture_output=True).stdout


def max_in_an_hour(times):
    times = sorted(times)
    best = 0
    for index, first in enumerate(times):
        best = max(best, sum(1 for later in times[index:] if later < first + datetime.timedelta(hours=1)))
    return best


def run(binary, lifted):
    with tempfile.TemporaryDirectory() as home:
        with open(os.path.join(home, "sitrep.toml"), "w") as file:
            file.write(config(lifted))
        paths = []
        for index in range(BURST):
            path = os.path.join(home, f"alert{index}.eml")
            with open(path, "wb") as file:
                file.write(declaration("Monitor <monitor@company.test>", f"Disk alert {index}", f"alert{index}@company.test"))
            paths.append(path)
        genuine = os.path.join(home, "genuine.eml")
        with open(genuine, "wb") as file:
            file.write(declaration("Alice <alice@company.test>", "Ransomware on FS01 [sev critical]", "genuine@company.test"))
        for chunk in range(0, BURST, 50):
            sitrep(binary, home, "ingest", *paths[chunk:chunk + 50])
        sitrep(binary, home, "ingest", genuine)
        start = datetime.datetime.now(datetime.timezone.utc)
        for minute in range(1, HOURS * 60 + 1):
            at = (start + datetime.timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
            sitrep(binary, home, "tick", "--at", at)
        export = json.loads(sitrep(binary, home, "export", "--json"))
    outbox = export["outbox"]
    parse = lambda text: datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    figures = {
        "incidents opened": len(export["incidents"]),
        "declarations refused": sum(1 for m in export["messages"] if m.get("outcome") == "rejected"),
        "refusal notices to the flooding sender": sum(1 for r in outbox if r["kind"] == "notice" and "monitor@company.test" in r["to"]),
        "second sender acknowledged": "yes" if any(r["kind"] == "ack" and "alice@company.test" in r["to"] for r in outbox) else "NO",
    }
    for executive in EXECUTIVES:
        digests = [r for r in outbox if r["kind"] == "digest" and r["to"] == [executive]]
        times = [parse(r["created_at"]) for r in digests]
        heard = {r["incident"] for r in digests if r["incident"]}
        for r in digests:
            heard.update(re.findall(r"^== (INC-\d+): ", r["body"], re.M))
        figures[f"{executive}: digests in {HOURS} h"] = len(digests)
        figures[f"{executive}: most digests in any hour"] = max_in_an_hour(times)
        figures[f"{executive}: combined digests"] = sum(1 for r in digests if r["incident"] is None)
        figures[f"{executive}: incidents heard of"] = f"{len(heard)} of {len(export['incidents'])}"
    figures["all mails queued"] = len(outbox)
    return figures


def main():
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    binary = os.path.abspath(arguments[0] if arguments else os.path.join(REPO, "target/release/sitrep"))
    version = subprocess.run([binary, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    default, lifted = run(binary, False), run(binary, True)
    lines = [
        "## Storm run",
        "",
        f"{BURST} declarations from one sender in a burst, then one from another sender, then {HOURS} hours of the scheduler a minute apart; "
        f"two executives. Regenerate with `python3 tests/campaign/storm.py SITREP_BIN --write-docs` "
        f"({version}, {datetime.date.today().isoformat()}).",
        "",
        "| | default `[limits]` | declaration brakes lifted |",
        "|---|---|---|",
    ]
    for key in default:
        lines.append(f"| {key} | {default[key]} | {lifted[key]} |")
    lines += [
        "",
        "Executives are held to `digests_per_executive_per_hour` whatever the number of incidents. "
        "Most of the other mail goes back to the flooding sender: for each incident its acknowledgement, "
        "the responders' digests and up to three reminders of each kind. Those are bounded per incident, "
        "so the declaration brakes are what bound them in total.",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if "--write-docs" in sys.argv:
        path = os.path.join(REPO, "docs/reliability.md")
        text = open(path).read()
        pattern = re.compile(r"## Storm run\n.*?(?=\n## |\Z)", re.S)
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
        open(path, "w").write(text)


if __name__ == "__main__":
    main()

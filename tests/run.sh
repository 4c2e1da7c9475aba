#!/usr/bin/env bash
# Every test: starts a loopback Postfix and Dovecot for the end-to-end tests
# (installing them from Debian if missing; needs root), installs Chromium for
# the check of the HTML report if missing, runs `cargo test`, and stops the
# servers again. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Six distinct free loopback ports, held open together while chosen.
read -r smtp imap imaps submission auth introspect < <(python3 -c '
import socket
sockets = [socket.socket() for _ in range(6)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))')
export SMTP_PORT=${SMTP_PORT:-$smtp} IMAP_PORT=${IMAP_PORT:-$imap} IMAPS_PORT=${IMAPS_PORT:-$imaps}
export SUBMISSION_PORT=${SUBMISSION_PORT:-$submission} AUTH_PORT=${AUTH_PORT:-$auth}
export INTROSPECT_PORT=${INTROSPECT_PORT:-$introspect}
stack=$(mktemp -d)
trap 'bash tests/mailstack/stack.sh down "$stack" || true; rm -rf "$stack"' EXIT
bash tests/mailstack/stack.sh up "$stack"
if ! command -v chromium >/dev/null; then
  packages=(chromium fonts-liberation)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
fi
SITREP_MAILSTACK=$stack cargo test --locked "$@"

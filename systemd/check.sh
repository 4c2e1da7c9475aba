#!/usr/bin/env bash
# Checks the unit as systemd sees it: `systemd-analyze verify` on a copy that
# runs the freshly built binary, and an exposure score of at most 1.5
# (systemd counts the threshold in tenths).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:?usage: systemd/check.sh PATH_TO_SITREP}

if ! command -v systemd-analyze >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/bin/sitrep|$(realpath "$binary")|g" systemd/sitrep.service >"$work/sitrep.service"
systemd-analyze verify --man=no "$work/sitrep.service"
systemd-analyze security --offline=true --threshold=15 "$work/sitrep.service" | tail -1

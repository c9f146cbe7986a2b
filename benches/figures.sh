#!/usr/bin/env bash
# Every figure of the README's performance summary from one command: runs peers.sh,
# load_peers.sh and open_terminal.sh one after the other (never side by side: they share
# the cores), keeps their RESULT lines in target/figures.txt and rewrites the summary
# table in README.md from them (benches/readme_figures.py).
# Usage: benches/figures.sh            (benches/readme_figures.py alone redoes the table)
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/figures.txt
mkdir -p target
{
  benches/peers.sh | grep '^RESULT '
  benches/load_peers.sh | grep '^RESULT ' | sed 's/^RESULT /RESULT load /'
  benches/open_terminal.sh | grep '^RESULT ' | sed 's/^RESULT /RESULT open /'
} >"$out.new"
mv "$out.new" "$out"
python3 benches/readme_figures.py "$out" README.md

#!/usr/bin/env bash
# The load benchmark beside pouchdb-server (npm; CouchDB's API, in memory), same workload,
# same run; prints both and the ratio. Installs pouchdb-server under target/peers once.
set -euo pipefail
cd "$(dirname "$0")/.."
peers=$PWD/target/peers/pouch
if [ ! -x "$peers/node_modules/.bin/pouchdb-server" ]; then
  mkdir -p "$peers"
  (cd "$peers" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund pouchdb-server)
fi
port=$((20000 + RANDOM % 10000))
# From its own folder: pouchdb-server writes config.json and log.txt where it runs.
(cd "$peers" && exec node_modules/.bin/pouchdb-server --in-memory --port "$port") >/dev/null 2>&1 &
pouch=$!
trap 'kill $pouch 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.2; done
SYNCDESK_LOAD_POSTGRES="${SYNCDESK_LOAD_POSTGRES:-$(.ci/postgres)}" \
  SYNCDESK_LOAD_POUCH="http://127.0.0.1:$port" cargo bench --bench load

#!/usr/bin/env bash
# Opening a large export in a real terminal: from starting `syncdesk open FILE` in a tmux
# window to the first conflict id written to its screen (tmux pipes the pane's output to
# a watcher; nothing polls), beside a bare Python `json.load` of the same file, interleaved
# in the same run; the peak memory of each beside the time.
# Usage: benches/open_terminal.sh [RUNS]   (needs tmux; builds the release binary)
#        SYNCDESK_BIN=path/to/syncdesk benches/open_terminal.sh   (another build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
cargo build --release --quiet
export_file=$(SYNCDESK_BENCH_EXPORT_ONLY=1 cargo bench --quiet --bench desk 2>/dev/null | tail -1)
file=$(realpath "$export_file")
work=$(mktemp -d)
trap 'tmux -L syncdesk-open kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
# SYNCDESK_BIN times another build of syncdesk (an older commit, say) on the same file.
bin=${SYNCDESK_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/syncdesk}
tmx() { tmux -L syncdesk-open "$@"; }
# A resident session, so that each run starts a window, not a tmux server.
tmx new-session -d -s keep -x 160 -y 48
first_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["conflicts"][0]["id"])' "$file")

cat >"$work/watch.py" <<'PY'
import os, sys
wanted, seen = sys.argv[1].encode(), b""
while wanted not in seen:
    chunk = os.read(0, 65536)
    if not chunk:
        sys.exit(1)
    seen = seen[-len(wanted):] + chunk
open(sys.argv[2], "w").close()  # seen: in this process, no program started on the clock
PY

now_ns() { date +%s%N; }
# Milliseconds from starting COMMAND in a new window NAME to the first id in what it
# writes to the screen. No polling: the window's program waits for a signal to start,
# and tmux pipes the pane's output to a watcher (started before the signal) that reads it
# as it comes (a full-screen program writes no newlines to wait for) and signals back at
# the first id. The watcher signals back when the window's program ends without showing
# it too (the pipe closes), and the run then stops with what the window printed.
on_screen() {
  local name=$1 command=$2 start
  tmx new-window -d -n "$name" "tmux -L syncdesk-open wait-for go-$name; $command 2>'$work/err-$name'"
  tmx pipe-pane -O -t "keep:$name" \
    "python3 '$work/watch.py' '$first_id' '$work/seen-$name'; tmux -L syncdesk-open wait-for -S seen-$name"
  # Let the window's shell and the watcher start and wait, off the clock.
  sleep 1
  start=$(now_ns)
  tmx wait-for -S "go-$name"
  tmx wait-for "seen-$name"
  local took=$(( $(now_ns) - start ))
  if [ ! -e "$work/seen-$name" ]; then
    echo "open_terminal.sh: '$command' ended without showing $first_id:" >&2
    cat "$work/err-$name" >&2
    exit 1
  fi
  awk -v ns="$took" 'BEGIN {printf "%.1f", ns / 1e6}'
}
for run in $(seq "$runs"); do
  python3 - "$file" >>"$work/python" <<'PY'
import json, resource, sys, time
start = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    json.load(f)
took = time.perf_counter() - start
print(f"{took * 1e3:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
PY
  rm -f "$work/out.json"
  took=$(on_screen "open$run" "exec '$bin' open '$file' --out '$work/out.json'")
  pid=$(tmx display-message -p -t "keep:open$run" '#{pane_pid}')
  peak=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  tmx kill-window -t "keep:open$run"
  echo "$took $peak" >>"$work/syncdesk"
  # The harness's own share: a window whose program prints the id at once.
  took=$(on_screen "floor$run" "printf '%s\\n' '$first_id'; exec sleep 60")
  tmx kill-window -t "keep:floor$run"
  echo "$took 0" >>"$work/floor"
done

python3 - "$work/syncdesk" "$work/python" "$file" "$work/floor" <<'PY'
import os, sys
def read(path):
    rows = [tuple(map(float, line.split())) for line in open(path)]
    # The fastest run of each, as every bench here reports: other work on a shared machine
    # only ever adds time to a run.
    return min(r[0] for r in rows), max(r[1] for r in rows), [r[0] for r in rows]
ours, ours_peak, ours_all = read(sys.argv[1])
py, py_peak, py_all = read(sys.argv[2])
floor, _, _ = read(sys.argv[4])
size = os.path.getsize(sys.argv[3]) / 1e6
print(f"export: {size:.1f} MB, {len(ours_all)} runs interleaved, the fastest of each")
print(f"{'':<44}{'time':>10}{'peak memory':>14}")
print(f"{'syncdesk open, start to first id on screen':<44}{ours:>7.1f} ms{ours_peak:>10.1f} MB")
print(f"{'python3 json.load of the file':<44}{py:>7.1f} ms{py_peak:>10.1f} MB")
print(f"{'the harness alone (a program printing the id)':<44}{floor:>7.1f} ms")
print(f"ratio {ours / py:.2f}x (target <= 0.25x), {(ours - floor) / py:.2f}x without the harness's share; "
      f"runs: syncdesk {min(ours_all):.0f}-{max(ours_all):.0f} ms, json.load {min(py_all):.0f}-{max(py_all):.0f} ms")
print(f"RESULT open_ms={ours:.1f} open_peak_mb={ours_peak:.1f} json_load_ms={py:.1f} "
      f"json_load_peak_mb={py_peak:.1f} harness_ms={floor:.1f}")
PY

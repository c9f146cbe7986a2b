#!/usr/bin/env bash
# Opening a large export in a real terminal: from starting `syncdesk open FILE` in a tmux
# window to the first conflict id on its screen, beside a bare Python `json.load` of the
# same file, interleaved in the same run; the peak memory of each beside the time.
# Usage: benches/open_terminal.sh [RUNS]   (needs tmux; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
cargo build --release --quiet
export_file=$(SYNCDESK_BENCH_EXPORT_ONLY=1 cargo bench --quiet --bench desk 2>/dev/null | tail -1)
file=$(realpath "$export_file")
work=$(mktemp -d)
trap 'tmux -L syncdesk-open kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
bin=$PWD/target/release/syncdesk
tmx() { tmux -L syncdesk-open "$@"; }
# A resident session, so that each run starts a window, not a tmux server.
tmx new-session -d -s keep -x 160 -y 48
first_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["conflicts"][0]["id"])' "$file")

now_ns() { date +%s%N; }
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
  start=$(now_ns)
  tmx new-window -d -n "open$run" "$bin open '$file' --out '$work/out.json'"
  until tmx capture-pane -p -t "keep:open$run" 2>/dev/null | grep -q "$first_id"; do :; done
  took=$(( ($(now_ns) - start) / 1000 ))
  pid=$(tmx display-message -p -t "keep:open$run" '#{pane_pid}')
  peak=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  tmx kill-window -t "keep:open$run"
  echo "$(awk -v us="$took" 'BEGIN {printf "%.1f", us / 1000}') $peak" >>"$work/syncdesk"
  # The harness's own share: a window whose program prints the id at once.
  start=$(now_ns)
  tmx new-window -d -n "floor$run" "printf '%s\\n' '$first_id'; sleep 60"
  until tmx capture-pane -p -t "keep:floor$run" 2>/dev/null | grep -q "$first_id"; do :; done
  took=$(( ($(now_ns) - start) / 1000 ))
  tmx kill-window -t "keep:floor$run"
  echo "$(awk -v us="$took" 'BEGIN {printf "%.1f", us / 1000}') 0" >>"$work/floor"
done

python3 - "$work/syncdesk" "$work/python" "$file" "$work/floor" <<'PY'
import os, statistics, sys
def read(path):
    rows = [tuple(map(float, line.split())) for line in open(path)]
    return statistics.median(r[0] for r in rows), max(r[1] for r in rows), [r[0] for r in rows]
ours, ours_peak, ours_all = read(sys.argv[1])
py, py_peak, py_all = read(sys.argv[2])
floor, _, _ = read(sys.argv[4])
size = os.path.getsize(sys.argv[3]) / 1e6
print(f"export: {size:.1f} MB, {len(ours_all)} runs interleaved, medians")
print(f"{'':<44}{'time':>10}{'peak memory':>14}")
print(f"{'syncdesk open, start to first id on screen':<44}{ours:>7.1f} ms{ours_peak:>10.1f} MB")
print(f"{'python3 json.load of the file':<44}{py:>7.1f} ms{py_peak:>10.1f} MB")
print(f"{'tmux window + polling (a program printing the id)':<44}{floor:>7.1f} ms")
print(f"ratio {ours / py:.2f}x (target <= 0.25x), {(ours - floor) / py:.2f}x without the harness's share; "
      f"runs: syncdesk {min(ours_all):.0f}-{max(ours_all):.0f} ms, json.load {min(py_all):.0f}-{max(py_all):.0f} ms")
print(f"RESULT open_ms={ours:.1f} open_peak_mb={ours_peak:.1f} json_load_ms={py:.1f} "
      f"json_load_peak_mb={py_peak:.1f} harness_ms={floor:.1f}")
PY

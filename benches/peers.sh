#!/usr/bin/env bash
# Runs the merge bench beside jsondiffpatch (npm) and deepdiff (PyPI) on the same files,
# in the same run, and prints the ratios. Installs the peers under target/peers once.
# Usage: benches/peers.sh        (SYNCDESK_BENCH_DATA picks the data folder)
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${SYNCDESK_BENCH_DATA:-bench-data}")
peers=$PWD/target/peers

[ -f "$data/server.json" ] || python3 benches/gen_records.py "$data"
if [ ! -d "$peers/node/node_modules/jsondiffpatch" ]; then
  mkdir -p "$peers/node"
  (cd "$peers/node" && npm init -y >/dev/null && npm install --silent jsondiffpatch@0.7)
fi
if [ ! -d "$peers/py/deepdiff" ]; then
  pip install --quiet --target "$peers/py" deepdiff
fi

echo "syncdesk (cargo bench --bench merge) ..." >&2
ours=$(SYNCDESK_BENCH_DATA="$data" cargo bench --bench merge 2>/dev/null | tee /dev/stderr | grep '^RESULT')
echo "jsondiffpatch $(node -p "require('$peers/node/node_modules/jsondiffpatch/package.json').version") ..." >&2
jdp=$(cd "$peers/node" && node "$OLDPWD/benches/peers/jsondiffpatch_bench.mjs" "$data" 7 | grep '^RESULT')
echo "deepdiff $(PYTHONPATH="$peers/py" python3 -c 'import deepdiff; print(deepdiff.__version__)') (takes a while) ..." >&2
dd=$(PYTHONPATH="$peers/py" python3 benches/peers/deepdiff_bench.py "$data" | grep '^RESULT')

python3 - "$ours" "$jdp" "$dd" <<'PY'
import sys

def fields(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}

ours, jdp, dd = map(fields, sys.argv[1:])
print(f"{'step':<22}{'syncdesk':>12}{'jsondiffpatch':>15}{'ratio':>8}")
for key, name in [("diff_ms", "diff"), ("load_diff_ms", "load + diff")]:
    print(f"{name:<22}{ours[key]:>10.1f} ms{jdp[key]:>12.1f} ms{jdp[key] / ours[key]:>7.1f}x")
print(f"{'diff, all cores':<22}{ours['diff_parallel_ms']:>10.1f} ms{jdp['diff_ms']:>12.1f} ms"
      f"{jdp['diff_ms'] / ours['diff_parallel_ms']:>7.1f}x")
print(f"{'load + diff, all cores':<22}{ours['load_diff_parallel_ms']:>10.1f} ms{jdp['load_diff_ms']:>12.1f} ms"
      f"{jdp['load_diff_ms'] / ours['load_diff_parallel_ms']:>7.1f}x")
print(f"{'':<22}{'':>12}{'deepdiff':>15}")
print(f"{'load + diff':<22}{ours['load_diff_ms']:>10.1f} ms{dd['load_diff_ms']:>12.1f} ms"
      f"{dd['load_diff_ms'] / ours['load_diff_ms']:>7.1f}x")
print(f"{'load + diff, all cores':<22}{ours['load_diff_parallel_ms']:>10.1f} ms{dd['load_diff_ms']:>12.1f} ms"
      f"{dd['load_diff_ms'] / ours['load_diff_parallel_ms']:>7.1f}x")
print(f"three-way merge of 10,000 triples: {ours['merge_changes_ms']:.1f} ms as a sync decides "
      f"({ours['merge_changes_ms'] / ours['diff_ms']:.2f}x the diff), {ours['merge_ms']:.1f} ms "
      f"listing every leaf")
PY
# For benches/figures.sh: every figure of this run, named by who measured it.
echo "RESULT merge ${ours#RESULT }"
echo "RESULT jsondiffpatch ${jdp#RESULT }"
echo "RESULT deepdiff ${dd#RESULT }"

#!/usr/bin/env python3
"""The load + diff of benches/merge.rs done by deepdiff, end to end.

Usage: deepdiff_bench.py DATADIR [--records N] [--runs N]   (deepdiff importable, e.g.
PYTHONPATH). Reports the fastest run, as benches/merge.rs reports its own.
"""
import argparse
import json
import os
import time

from deepdiff import DeepDiff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--records", type=int, default=0, help="diff only the first N pairs")
    ap.add_argument("--runs", type=int, default=3, help="runs, the fastest reported")
    args = ap.parse_args()
    runs = [one_run(args.dir, args.records) for _ in range(args.runs)]
    n, changed = runs[0][:2]
    load_ms, diff_ms, load_diff_ms = (min(r[i] for r in runs) for i in (2, 3, 4))
    print(f"RESULT records={n} changed={changed} load_ms={load_ms:.2f} "
          f"diff_ms={diff_ms:.2f} load_diff_ms={load_diff_ms:.2f}")


def one_run(folder, records):
    """(records, changed, load ms, diff ms, load + diff ms) of one load and diff."""
    start = time.perf_counter()
    with open(os.path.join(folder, "base.json")) as f:
        base = json.load(f)
    with open(os.path.join(folder, "local.json")) as f:
        local = json.load(f)
    loaded = time.perf_counter()
    n = records or len(base)
    changed = sum(1 for b, l in zip(base[:n], local[:n]) if DeepDiff(b["fields"], l["fields"]))
    done = time.perf_counter()
    return n, changed, (loaded - start) * 1e3, (done - loaded) * 1e3, (done - start) * 1e3


if __name__ == "__main__":
    main()

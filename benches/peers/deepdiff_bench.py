#!/usr/bin/env python3
"""The load + diff of benches/merge.rs done by deepdiff, end to end.

Usage: deepdiff_bench.py DATADIR [--records N]   (deepdiff importable, e.g. PYTHONPATH)
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
    args = ap.parse_args()
    start = time.perf_counter()
    with open(os.path.join(args.dir, "base.json")) as f:
        base = json.load(f)
    with open(os.path.join(args.dir, "local.json")) as f:
        local = json.load(f)
    loaded = time.perf_counter()
    n = args.records or len(base)
    changed = sum(1 for b, l in zip(base[:n], local[:n]) if DeepDiff(b["fields"], l["fields"]))
    done = time.perf_counter()
    print(f"RESULT records={n} changed={changed} load_ms={(loaded - start) * 1e3:.2f} "
          f"diff_ms={(done - loaded) * 1e3:.2f} load_diff_ms={(done - start) * 1e3:.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Deterministic inspection records for the merge benchmarks.

Writes three JSON files to OUTDIR, each a list of {"id", "fields"} in the same order:
  base.json    10,000 records of ~40 fields: strings, numbers, booleans, UTC timestamps,
               a ~2 KB notes field and a keyed checklist of 6-12 items
  local.json   a second version: each field changed with probability 0.1; notes are
               edited by a few words, never rewritten
  server.json  a third version changed the same way, independently (for the three-way
               merge: mostly disjoint edits, some genuine conflicts)

Usage: gen_records.py OUTDIR [--records N] [--seed S]
"""

import argparse
import json
import os
import random

WORDS = (
    "pump valve flange gasket pressure reading north south east west sector leak minor "
    "major corrosion visible replaced checked tightened bolt seal housing motor bearing "
    "noise vibration normal abnormal technician noted customer reported inspection "
    "completed pending follow-up required the a of and to on at with was were is found "
    "after before during coolant filter clean dirty gauge calibrated within tolerance"
).split()
STATUSES = ["open", "passed", "failed", "deferred"]
TEXT_FIELDS = ["model", "serial", "asset_tag", "manufacturer", "room", "floor", "building",
               "contact", "phone", "firmware", "inspector", "region", "weather"]
NUMBER_FIELDS = ["temperature", "pressure", "humidity", "voltage", "current", "rpm",
                 "flow_rate", "noise_db", "runtime_hours", "priority"]
BOOL_FIELDS = ["valve_ok", "gauge_ok", "seal_ok", "label_ok", "access_ok", "photos_taken",
               "customer_present", "follow_up"]
TIME_FIELDS = ["scheduled_at", "started_at", "finished_at", "signed_at", "inspected_at"]


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def notes(rng):
    parts, size = [], 0
    while size < 2000:
        s = sentence(rng, rng.randint(8, 16)).capitalize() + "."
        parts.append(s)
        size += len(s) + 1
    return " ".join(parts)


def timestamp(rng):
    return "2026-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
        rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999))


def record(rng, i):
    f = {"site_id": "S-%d" % rng.randint(1, 400), "status": rng.choice(STATUSES), "notes": notes(rng)}
    for name in TEXT_FIELDS:
        f[name] = "%s-%06d" % (name[:3].upper(), rng.randint(0, 999999))
    for name in NUMBER_FIELDS:
        f[name] = round(rng.uniform(0, 500), 2) if rng.random() < 0.7 else rng.randint(0, 500)
    for name in BOOL_FIELDS:
        f[name] = rng.random() < 0.5
    for name in TIME_FIELDS:
        f[name] = timestamp(rng)
    f["checklist"] = [
        {"id": "c%d" % k, "label": sentence(rng, 4), "ok": rng.random() < 0.8, "note": ""}
        for k in range(1, rng.randint(6, 12) + 1)
    ]
    return {"id": "INS-%05d" % i, "fields": f}


def edit_words(rng, text):
    words = text.split(" ")
    for _ in range(rng.randint(2, 5)):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


def edited(rng, rec):
    f = json.loads(json.dumps(rec["fields"]))
    for name in list(f):
        if rng.random() >= 0.1:
            continue
        v = f[name]
        if name == "notes":
            f[name] = edit_words(rng, v)
        elif name == "checklist":
            item = rng.choice(v)
            item["ok"] = not item["ok"]
            item["note"] = sentence(rng, 3)
        elif name == "status":
            f[name] = rng.choice(STATUSES)
        elif isinstance(v, bool):
            f[name] = not v
        elif isinstance(v, (int, float)):
            f[name] = round(v + rng.uniform(1, 5), 2)
        elif name in TIME_FIELDS:
            f[name] = timestamp(rng)
        else:
            f[name] = v + "-B"
    return {"id": rec["id"], "fields": f}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    rng = random.Random(args.seed)
    base = [record(rng, i) for i in range(args.records)]
    local = [edited(rng, r) for r in base]
    server = [edited(rng, r) for r in base]
    for name, recs in (("base", base), ("local", local), ("server", server)):
        with open(os.path.join(args.outdir, name + ".json"), "w") as out:
            json.dump(recs, out, separators=(",", ":"))


if __name__ == "__main__":
    main()

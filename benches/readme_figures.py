#!/usr/bin/env python3
"""Writes the README's performance summary from the RESULT lines of one run of
benches/figures.sh: every ratio the performance issue asks for, beside its target, with
the machine and the day. Usage: readme_figures.py FIGURES README"""
import datetime
import os
import re
import sys

BEGIN = "<!-- figures: begin (benches/figures.sh writes this table) -->"
END = "<!-- figures: end -->"


def results(path):
    """{'merge': {...}, 'jsondiffpatch': {...}, ...} from lines 'RESULT NAME k=v ...'."""
    found = {}
    for line in open(path):
        words = line.split()
        if len(words) < 3 or words[0] != "RESULT":
            continue
        found[words[1]] = {k: float(v) for k, v in (w.split("=", 1) for w in words[2:])}
    missing = {"merge", "jsondiffpatch", "deepdiff", "load", "open"} - found.keys()
    if missing:
        sys.exit(f"{path}: no RESULT line of {', '.join(sorted(missing))}")
    return found


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown CPU")
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo")
                  if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores of {model}, {memory / 2**20:.0f} GiB"


def table(r, day):
    m, jdp, dd, load, op = (r[k] for k in ("merge", "jsondiffpatch", "deepdiff", "load", "open"))
    ms = lambda x: f"{x:,.1f} ms"
    met = lambda ok: "met" if ok else "**not met**"
    rows = [
        ("diff of 10,000 pairs, one thread", ms(m["diff_ms"]), f"jsondiffpatch {ms(jdp['diff_ms'])}",
         jdp["diff_ms"] / m["diff_ms"], "≥ 12×", True),
        ("diff, both cores", ms(m["diff_parallel_ms"]), f"jsondiffpatch {ms(jdp['diff_ms'])}",
         jdp["diff_ms"] / m["diff_parallel_ms"], "", True),
        ("load 70 MB + diff, one thread", ms(m["load_diff_ms"]), f"jsondiffpatch {ms(jdp['load_diff_ms'])}",
         jdp["load_diff_ms"] / m["load_diff_ms"], "≥ 6×", True),
        ("load + diff, one thread", ms(m["load_diff_ms"]), f"deepdiff {ms(dd['load_diff_ms'])}",
         dd["load_diff_ms"] / m["load_diff_ms"], "≥ 150×", True),
        ("three-way merge of 10,000 triples, as a sync decides (changed leaves listed)",
         ms(m["merge_changes_ms"]), f"our diff {ms(m['diff_ms'])}",
         m["merge_changes_ms"] / m["diff_ms"], "≤ 2×", False),
        ("the same merge listing every leaf (as the conflict detail does)", ms(m["merge_ms"]),
         f"our diff {ms(m['diff_ms'])}", m["merge_ms"] / m["diff_ms"], "", False),
        ("parse, files in memory", f"{m['parse_gb_s']:.2f} GB/s", f"serde_json {ms(m['serde_parse_ms'])}",
         m["parse_gb_s"], "≥ 1 GB/s", True),
        ("export opened in tmux to first id", ms(op["open_ms"]), f"json.load {ms(op['json_load_ms'])}",
         op["open_ms"] / op["json_load_ms"], "≤ 0.25×", False),
        ("peak memory of that open", f"{op['open_peak_mb']:.0f} MB", f"json.load {op['json_load_peak_mb']:.0f} MB",
         op["open_peak_mb"] / op["json_load_peak_mb"], "", False),
        ("server, SQLite: syncs/s", f"{load['syncdesk_rate']:,.0f}", f"floor {load['floor_rate']:,.0f}",
         load["syncdesk_rate"] / load["floor_rate"], "≥ 0.8×", True),
        ("server, SQLite: p99", ms(load["syncdesk_p99_ms"]), f"floor {ms(load['floor_p99_ms'])}",
         load["syncdesk_p99_ms"] / load["floor_p99_ms"], "≤ 1.5×", False),
    ]
    if "devices_rate" in load:
        rows.append(("server, SQLite, syncs from tablets (device_id, device_seq): syncs/s",
                     f"{load['devices_rate']:,.0f}", f"floor {load['floor_rate']:,.0f}",
                     load["devices_rate"] / load["floor_rate"], "", True))
    if "pg1_rate" in load:
        rows += [
            ("server, PostgreSQL, 1 instance: syncs/s", f"{load['pg1_rate']:,.0f}",
             f"floor {load['pgfloor_rate']:,.0f}", load["pg1_rate"] / load["pgfloor_rate"], "≥ 0.8×", True),
            ("server, PostgreSQL, 1 instance: p99", ms(load["pg1_p99_ms"]),
             f"floor {ms(load['pgfloor_p99_ms'])}", load["pg1_p99_ms"] / load["pgfloor_p99_ms"], "≤ 1.5×", False),
            ("server, PostgreSQL, 2 instances: syncs/s", f"{load['pg2_rate']:,.0f}",
             f"floor {load['pgfloor_rate']:,.0f}", load["pg2_rate"] / load["pgfloor_rate"], "", True),
        ]
    if "pouch_rate" in load:
        rows.append(("server, SQLite: syncs/s, beside CouchDB's API", f"{load['syncdesk_rate']:,.0f}",
                     f"pouchdb-server (in memory) {load['pouch_rate']:,.0f}", load["syncdesk_rate"] / load["pouch_rate"], "", True))
    out = [f"One run of `benches/figures.sh`, {day}, on {machine()}. Each time is the fastest "
           "of several runs on each side (other work on a shared machine only ever adds time); "
           "on each database, syncdesk and its floor ran 10 s each in turns of 2 s (each turn after "
           "0.5 s not counted), so that the host's swings fall on both (pouchdb-server ran its "
           "10 s after them):", "",
           "| what | syncdesk | beside | ratio | target |", "|---|---|---|---|---|"]
    for what, ours, beside, ratio, target, higher_is_better in rows:
        verdict = ""
        if target:
            bound = float(re.search(r"[\d.]+", target).group())
            verdict = " " + met(ratio >= bound if higher_is_better else ratio <= bound)
        unit = " GB/s" if "GB/s" in ours else "×"
        shown = f"{ratio:.2f}{unit}" if ratio < 10 else f"{ratio:,.0f}{unit}"
        out.append(f"| {what} | {ours} | {beside} | {shown} | {target}{verdict} |")
    return "\n".join(out)


def main():
    figures, readme = sys.argv[1:3]
    day = datetime.date.fromtimestamp(os.path.getmtime(figures)).isoformat()
    text = open(readme).read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        sys.exit(f"{readme}: no '{BEGIN}' ... '{END}' to write between")
    text = text[: start + len(BEGIN)] + "\n" + table(results(figures), day) + "\n" + text[end:]
    open(readme, "w").write(text)
    print(table(results(figures), day))


main()

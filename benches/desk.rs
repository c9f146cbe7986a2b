//! The desk's two speed targets, in `--release` (`cargo bench --bench desk`):
//!
//! - open: an export of 10,000 conflicts (~50 MB) from `syncdesk open` to the first drawn
//!   frame (read, parse, index, the queue through the session's runner, one frame), beside
//!   merely reading and parsing the same file into `serde_json::Value`. Targets: at most
//!   200 ms, and at most 1.5x the parse alone.
//! - key: key press → frame on a 300-field record holding 100 KB of text (`j`, `s`, `u`,
//!   `Tab` in turn, each followed by a full draw). Target: at most 5 ms.
//!
//! The export is generated under `target/bench-data/` on first use
//! (`SYNCDESK_BENCH_EXPORT_ONLY=1` only writes it and prints its path). For `perf record`:
//! `SYNCDESK_BENCH_PROFILE_OPEN=1` opens the export (read and index) `$SYNCDESK_BENCH_RUNS`
//! times, `=frame` goes on to the first frame each time; both print the peak memory.
//! `$SYNCDESK_BENCH_RUNS` sets the runs of the open measurement (9).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};
use syncdesk::client::{ConflictSource, ExportBook, Loaded};
use syncdesk::protocol::{ConflictDetail, ResolutionsFile};
use syncdesk::tui::app::{App, Theme};
use syncdesk::tui::desk::Desk;
use syncdesk::tui::drafts::DraftStore;
use syncdesk::tui::{Action, Session};

const CONFLICTS: usize = 10_000;

/// Deterministic filler prose.
fn prose(seed: usize, words: usize) -> String {
    const WORDS: [&str; 16] = [
        "pump",
        "valve",
        "flange",
        "leak",
        "gasket",
        "replaced",
        "north",
        "side",
        "pressure",
        "gauge",
        "calibrated",
        "seal",
        "intact",
        "bolts",
        "tightened",
        "checked",
    ];
    let mut out = String::with_capacity(words * 8);
    let mut x = seed as u64 * 2_654_435_761 + 1;
    for i in 0..words {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[(x % 16) as usize]);
        if x.is_multiple_of(11) {
            out.push('.');
        }
    }
    out
}

fn fields(seed: usize, side: &str) -> Value {
    let notes = prose(seed, 60);
    let checklist: Vec<Value> = (0..8)
        .map(|i| json!({"id": format!("c{i}"), "label": prose(seed + i, 4), "ok": (seed + i).is_multiple_of(3)}))
        .collect();
    match side {
        "base" => json!({"site_id": "S-1", "status": "open", "notes": notes, "temperature": 20,
                          "inspected_at": "2026-11-20T08:30:00.000Z", "checklist": checklist}),
        "local" => {
            json!({"site_id": "S-1", "status": "failed", "notes": format!("{notes} gasket replaced by the technician"),
                           "temperature": 21.5, "inspected_at": "2026-11-20T08:30:00.000Z", "checklist": checklist})
        }
        _ => {
            json!({"site_id": "S-2", "status": "passed", "notes": format!("{notes} bolts tightened on the server"),
                     "temperature": 20, "inspected_at": "2026-11-20T08:30:00.000Z", "checklist": checklist})
        }
    }
}

/// One conflict as the server exports it (with its per-path `fields` list).
fn conflict(i: usize) -> Value {
    let (base, local, server) = (fields(i, "base"), fields(i, "local"), fields(i, "server"));
    let rows: Vec<Value> = ["notes", "status", "site_id", "temperature"]
        .iter()
        .map(|f| json!({"path": format!("/{f}"), "class": "conflict", "base": base[f], "local": local[f], "server": server[f]}))
        .collect();
    let submitted_by = ["ana", "ben", "cy"][i % 3];
    json!({
        "id": format!("c-{i:06}"), "status": "open", "kind": "edit-conflict",
        "record_type": "inspections", "record_id": format!("INS-{}", 100_000 + i),
        "submitted_by": submitted_by, "device_id": format!("tab-{}", i % 40),
        "captured_at": "2026-11-20T09:12:00.000Z",
        "received_at": format!("2026-11-20T{:02}:{:02}:{:02}.000Z", 10 + i / 3600 % 10, i / 60 % 60, i % 60),
        "base": {"version": 4, "last_modified": "2026-11-19T08:00:00.000Z", "modified_by": "ana", "fields": base},
        "local": {"fields": local},
        "server": {"version": 7, "last_modified": "2026-11-20T16:05:00.000Z", "modified_by": "ben", "deleted": false,
                   "fields": server, "etag": "\"7-2026-11-20T16:05:00.000Z\""},
        "fields": rows,
        "conflicting_paths": ["/notes", "/status"],
        "resolution": null
    })
}

fn export_file() -> PathBuf {
    let dir = PathBuf::from("target/bench-data");
    let path = dir.join("export-10k.json");
    if !path.exists() {
        eprintln!("generating {} ...", path.display());
        std::fs::create_dir_all(&dir).unwrap();
        let conflicts: Vec<Value> = (0..CONFLICTS).map(conflict).collect();
        let export = json!({"format": "syncdesk.conflicts.v1", "exported_at": "2026-11-25T10:00:00.000Z",
                            "server": "http://127.0.0.1:8080", "conflicts": conflicts});
        std::fs::write(&path, serde_json::to_vec(&export).unwrap()).unwrap();
    }
    path
}

fn app(label: String) -> App {
    App::new(
        label,
        "sue".into(),
        Default::default(),
        Theme { color: true },
        jiff::tz::TimeZone::UTC,
    )
}

/// `syncdesk open FILE` up to its first frame, on a 160x48 screen.
fn open_to_first_frame(path: &Path, drafts: &Path) -> usize {
    let out = drafts.join("none.resolutions.json");
    let book = ExportBook::open(path, Some(&out)).unwrap();
    let source = ConflictSource::Export(book);
    let label = source.label();
    let terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let store = DraftStore::new(drafts, &label);
    let mut session = Session::new(app(label), terminal, source, Some(store)).unwrap();
    assert!(session.settle(Duration::from_secs(30)));
    session.draw().unwrap();
    let shown = session.app.queue.visible.len();
    drop(session.finish());
    shown
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bench_open(runs: usize) {
    let path = export_file();
    let size = std::fs::metadata(&path).unwrap().len();
    let drafts = tempfile::tempdir().unwrap();
    let mut parse = Vec::new();
    let mut open = Vec::new();
    // Interleaved, so both see the same machine.
    for _ in 0..runs {
        let t = Instant::now();
        let bytes = std::fs::read(&path).unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        black_box(&value);
        parse.push(t.elapsed());
        drop(value);
        let t = Instant::now();
        let shown = open_to_first_frame(&path, drafts.path());
        open.push(t.elapsed());
        assert_eq!(shown, CONFLICTS);
    }
    let (parse, open) = (median(parse), median(open));
    println!(
        "open: {CONFLICTS} conflicts, {:.1} MB: first frame {:.1} ms; read + parse into serde_json::Value {:.1} ms; ratio {:.2}x (targets: <= 200 ms, <= 1.5x)",
        size as f64 / 1e6,
        ms(open),
        ms(parse),
        open.as_secs_f64() / parse.as_secs_f64()
    );
}

/// A record of 300 fields: 20 texts of 5 KB (100 KB) and 280 short values, 60 of them in
/// conflict, the texts edited on both sides.
fn big_record() -> Loaded {
    let mut base = serde_json::Map::new();
    let mut local = serde_json::Map::new();
    let mut server = serde_json::Map::new();
    for i in 0..300 {
        let name = format!("f{i:03}");
        if i < 20 {
            let text = prose(i, 800);
            base.insert(name.clone(), json!(text));
            local.insert(name.clone(), json!(format!("{text} local addition {i}")));
            server.insert(name, json!(format!("server addition {i} {text}")));
        } else {
            base.insert(name.clone(), json!(i));
            local.insert(name.clone(), json!(if i % 5 == 0 { i + 1 } else { i }));
            server.insert(
                name,
                json!(if i % 5 == 0 || i % 7 == 0 { i + 2 } else { i }),
            );
        }
    }
    let detail = json!({
        "id": "c-000001", "status": "open", "kind": "edit-conflict", "record_type": "inspections",
        "record_id": "BIG-1", "submitted_by": "ana", "device_id": "tab-17",
        "captured_at": "2026-11-20T09:12:00.000Z", "received_at": "2026-11-20T10:00:00.000Z",
        "base": {"version": 4, "last_modified": "2026-11-19T08:00:00.000Z", "modified_by": "ana", "fields": base},
        "local": {"fields": local},
        "server": {"version": 7, "last_modified": "2026-11-20T16:05:00.000Z", "modified_by": "ben", "deleted": false,
                   "fields": server, "etag": "\"7-x\""},
        "conflicting_paths": [], "resolution": null
    })
    .to_string();
    let detail = serde_json::from_str::<ConflictDetail>(&detail)
        .unwrap()
        .into_owned();
    Loaded {
        etag: Some("\"7-x\"".into()),
        detail,
        schema: None,
        lists: Default::default(),
    }
}

fn bench_keys() {
    let loaded = big_record();
    let text_bytes: usize = loaded
        .detail
        .local
        .fields
        .iter()
        .filter_map(|(_, v)| v.as_str())
        .map(str::len)
        .sum();
    let t = Instant::now();
    let desk = Desk::new(loaded, None);
    let prepare = t.elapsed();
    let (_, conflicts) = desk.progress();
    let drafts = tempfile::tempdir().unwrap();
    let book = ExportBook::from_text(
        "empty.json",
        "{\"format\": \"syncdesk.conflicts.v1\", \"conflicts\": []}",
        drafts.path().join("out.json"),
        ResolutionsFile::new(),
    )
    .unwrap();
    let source = ConflictSource::Export(book);
    let terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let store = DraftStore::new(drafts.path(), "bench");
    let mut session = Session::new(app("bench".into()), terminal, source, Some(store)).unwrap();
    session.settle(Duration::from_secs(5));
    session.app.opening = Some(desk.detail.id.clone());
    session.dispatch(Action::ConflictLoaded(Ok(Box::new(desk))));
    session.draw().unwrap();
    let keys = [
        KeyCode::Char('j'),
        KeyCode::Char('s'),
        KeyCode::Char('u'),
        KeyCode::Tab,
    ];
    let mut samples = Vec::new();
    for i in 0..2000 {
        let key = KeyEvent::new(keys[i % keys.len()], KeyModifiers::NONE);
        // Back to the top every 250 keys, so the cursor stays among the texts too.
        if i % 250 == 0 {
            session.app.desk.as_mut().unwrap().cursor = 0;
        }
        let t = Instant::now();
        session.event(&Event::Key(key));
        session.draw().unwrap();
        samples.push(t.elapsed());
    }
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "key → frame: 300 fields ({conflicts} to decide), {:.0} KB of text, 160x48: median {:.3} ms, p99 {:.3} ms, max {:.3} ms (target <= 5 ms); preparing the record (merge + text diffs, once, off the UI thread) {:.1} ms",
        text_bytes as f64 / 1e3,
        ms(p(0.5)),
        ms(p(0.99)),
        ms(p(1.0)),
        ms(prepare)
    );
    drop(session.finish());
}

fn main() {
    if std::env::var_os("SYNCDESK_BENCH_EXPORT_ONLY").is_some() {
        // For `benches/open_terminal.sh`: the export's path, written if missing.
        println!("{}", export_file().display());
        return;
    }
    let runs = std::env::var("SYNCDESK_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    if std::env::var_os("SYNCDESK_BENCH_PROFILE_OPEN").is_some() {
        // For `perf record`: reading and indexing the export alone, many times.
        let path = export_file();
        let out = tempfile::tempdir().unwrap();
        let whole = std::env::var_os("SYNCDESK_BENCH_PROFILE_OPEN").is_some_and(|v| v == "frame");
        let start = Instant::now();
        for _ in 0..runs {
            if whole {
                // Up to the first frame, as `bench_open` measures it.
                black_box(open_to_first_frame(&path, out.path()));
            } else {
                black_box(ExportBook::open(&path, Some(&out.path().join("out.json"))).unwrap());
            }
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let peak = status
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap_or("");
        eprintln!(
            "{:.1} ms per open; {peak}",
            ms(start.elapsed()) / runs as f64
        );
        return;
    }
    bench_keys();
    bench_open(runs);
}

/// The allocator of the `syncdesk` binary, so that the bench measures what it runs.
#[global_allocator]
static ALLOCATOR: syncdesk::allocator::Mimalloc = syncdesk::allocator::Mimalloc;

//! Merge engine benchmark on 10,000 generated records (see `gen_records.py`).
//!
//! `cargo bench --bench merge` measures, single-threaded, median of several runs:
//! - load: reading and parsing base.json and local.json (~35 MB each)
//! - parse: the parse alone, files in memory, trees dropped off the clock (GB/s), beside
//!   serde_json's deserializer building the same trees
//! - diff: the field-level diff of all 10,000 pairs, with word diffs of changed text
//! - merge: the three-way merge of 10,000 (base, local, server) triples
//!
//! and the diff, and load + diff, on all cores as well.
//!
//! Data: `$SYNCDESK_BENCH_DATA`, else `bench-data/`, generated when missing;
//! `$SYNCDESK_BENCH_RUNS` runs each (15). For `perf record`, one step alone, many times:
//! `SYNCDESK_BENCH_PROFILE_LOAD=1`, `..._DIFF=1` (with `..._RECORDS=N` for the first N
//! pairs), `..._MERGE=1`, or `..._FIELD=name` (equality of one top-level field).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use syncdesk::merge::{NoPolicy, diff, merge};
use syncdesk::model::{Json, Object};

/// A record of the bench files: its fields, as the engine's tree.
struct Record<'a> {
    fields: Object<'a>,
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses records into the engine's tree (`Json::parse_slice`), borrowing their strings
/// from `bytes`.
fn parse(bytes: &[u8]) -> Vec<Record<'_>> {
    let Json::Array(items) =
        Json::parse_slice(bytes).unwrap_or_else(|e| panic!("bad bench data: {e}"))
    else {
        panic!("bench data is a list of records")
    };
    items
        .into_iter()
        .map(|item| match item {
            Json::Object(record) => match record.into_iter().find(|(k, _)| k == "fields") {
                Some((_, Json::Object(fields))) => Record { fields },
                _ => panic!("a bench record without fields"),
            },
            _ => panic!("a bench record that is not an object"),
        })
        .collect()
}

/// The same tree through serde_json's deserializer, for comparison.
fn serde_parse(bytes: &[u8]) -> Json<'_> {
    serde_json::from_slice(bytes).expect("bench data")
}

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("SYNCDESK_BENCH_DATA")
        .map_or_else(|| PathBuf::from("bench-data"), PathBuf::from);
    if !dir.join("server.json").exists() {
        eprintln!("generating {} ...", dir.display());
        let ok = Command::new("python3")
            .arg("benches/gen_records.py")
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "could not generate the data: run python3 benches/gen_records.py {}",
            dir.display()
        );
    }
    dir
}

/// Median and minimum of `runs` timings of `f`.
fn measure<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[runs / 2], times[0])
}

/// Like [`measure`], but what `f` returns is dropped after the clock stops.
fn measure_kept<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let kept = black_box(f());
            let elapsed = start.elapsed();
            drop(kept);
            elapsed
        })
        .collect();
    times.sort();
    (times[runs / 2], times[0])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The diff step split over the machine's cores, each thread a contiguous share of pairs.
fn diff_all_parallel(base: &[Record], local: &[Record], threads: usize) -> usize {
    let share = base.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = base
            .chunks(share)
            .zip(local.chunks(share))
            .map(|(b, l)| scope.spawn(move || diff_all(b, l)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("diff thread"))
            .sum()
    })
}

fn diff_all(base: &[Record], local: &[Record]) -> usize {
    base.iter()
        .zip(local)
        .map(|(b, l)| diff(&b.fields, &l.fields, None).len())
        .sum()
}

fn main() {
    let dir = data_dir();
    let runs: usize = std::env::var("SYNCDESK_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);

    let (base_path, local_path) = (dir.join("base.json"), dir.join("local.json"));
    if std::env::var_os("SYNCDESK_BENCH_PROFILE_LOAD").is_some() {
        let (b, l) = (read(&base_path), read(&local_path));
        let start = Instant::now();
        let n: usize = (0..runs)
            .map(|_| {
                let trees = (parse(&b), parse(&l));
                trees.0.len() + trees.1.len()
            })
            .sum();
        eprintln!(
            "{n} records, {:.1} ms per load of both",
            start.elapsed().as_secs_f64() * 1e3 / runs as f64
        );
        return;
    }
    if let Some(field) = std::env::var_os("SYNCDESK_BENCH_PROFILE_FIELD") {
        let field = field.to_str().expect("field name").to_string();
        let (b, l) = (read(&base_path), read(&local_path));
        let (base, local) = (parse(&b), parse(&l));
        let start = Instant::now();
        let mut equal = 0;
        for _ in 0..runs {
            for (b, l) in base.iter().zip(&local) {
                if let (Some(x), Some(y)) = (b.fields.get(&field), l.fields.get(&field)) {
                    equal += usize::from(syncdesk::merge::values_equal(x, y, false));
                }
            }
        }
        eprintln!(
            "{equal} equal, {:.3} us per pair",
            start.elapsed().as_secs_f64() * 1e6 / (runs * base.len()) as f64
        );
        return;
    }
    if std::env::var_os("SYNCDESK_BENCH_PROFILE_MERGE").is_some() {
        let bytes = [
            read(&base_path),
            read(&local_path),
            read(&dir.join("server.json")),
        ];
        let (base, local, server) = (parse(&bytes[0]), parse(&bytes[1]), parse(&bytes[2]));
        let start = Instant::now();
        let mut conflicts = 0;
        for _ in 0..runs {
            for ((b, l), s) in base.iter().zip(&local).zip(&server) {
                conflicts += merge(&b.fields, &l.fields, &s.fields, None, &NoPolicy)
                    .conflicts()
                    .count();
            }
        }
        eprintln!(
            "{conflicts} conflicts, {:.3} us per triple",
            start.elapsed().as_secs_f64() * 1e6 / (runs * base.len()) as f64
        );
        return;
    }
    if std::env::var_os("SYNCDESK_BENCH_PROFILE_DIFF").is_some() {
        // For `perf record`: the diff step alone, many times.
        let (b, l) = (read(&base_path), read(&local_path));
        let (base, local) = (parse(&b), parse(&l));
        let n: usize = std::env::var("SYNCDESK_BENCH_PROFILE_RECORDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(base.len());
        let start = Instant::now();
        let total: usize = (0..runs).map(|_| diff_all(&base[..n], &local[..n])).sum();
        eprintln!(
            "{:.3} us per pair",
            start.elapsed().as_secs_f64() * 1e6 / (runs * n) as f64
        );
        println!("{total}");
        return;
    }
    let (load_med, load_min) = measure(runs, || {
        let (b, l) = (read(&base_path), read(&local_path));
        parse(&b).len() + parse(&l).len()
    });
    let bytes = [
        read(&base_path),
        read(&local_path),
        read(&dir.join("server.json")),
    ];
    // Parsing alone: the files already in memory, the trees dropped after the clock stops.
    let input_bytes = bytes[0].len() + bytes[1].len();
    let (parse_med, parse_min) = measure_kept(runs, || (parse(&bytes[0]), parse(&bytes[1])));
    // The same trees built by serde_json's deserializer, the way they were read before the
    // tree reader, for the reader's gain in the same run.
    let (serde_parse_med, _) =
        measure_kept(runs, || (serde_parse(&bytes[0]), serde_parse(&bytes[1])));
    let base = parse(&bytes[0]);
    let local = parse(&bytes[1]);
    let server = parse(&bytes[2]);
    let changes = diff_all(&base, &local);
    let (diff_med, diff_min) = measure(runs, || diff_all(&base, &local));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(diff_all_parallel(&base, &local, threads), changes);
    let (par_med, _) = measure(runs, || diff_all_parallel(&base, &local, threads));
    let (both_par_med, _) = measure(runs.min(7), || {
        // One file a core, then the diff on all cores.
        let (b, l) = std::thread::scope(|scope| {
            let other = scope.spawn(|| read(&local_path));
            (read(&base_path), other.join().expect("read thread"))
        });
        let (b, l) = std::thread::scope(|scope| {
            let other = scope.spawn(|| parse(&l));
            (parse(&b), other.join().expect("parse thread"))
        });
        diff_all_parallel(&b, &l, threads)
    });
    let (both_med, _) = measure(runs.min(7), || {
        let (b, l) = (read(&base_path), read(&local_path));
        diff_all(&parse(&b), &parse(&l))
    });
    let merge_all = || {
        let mut conflicts = 0;
        for ((b, l), s) in base.iter().zip(&local).zip(&server) {
            conflicts += merge(&b.fields, &l.fields, &s.fields, None, &NoPolicy)
                .conflicts()
                .count();
        }
        conflicts
    };
    let conflicts = merge_all();
    let (merge_med, merge_min) = measure(runs, merge_all);

    println!(
        "records: {}  changed paths: {changes}  conflicting paths: {conflicts}",
        base.len()
    );
    println!(
        "load (2 files): {:8.1} ms  (min {:.1})",
        ms(load_med),
        ms(load_min)
    );
    println!(
        "parse (2 files, in memory): {:.1} ms  (min {:.1}), {:.2} GB/s",
        ms(parse_med),
        ms(parse_min),
        input_bytes as f64 / parse_med.as_secs_f64() / 1e9
    );
    println!(
        "parse with serde_json into the same tree: {:.1} ms, {:.2} GB/s",
        ms(serde_parse_med),
        input_bytes as f64 / serde_parse_med.as_secs_f64() / 1e9
    );
    println!(
        "diff:           {:8.1} ms  (min {:.1})",
        ms(diff_med),
        ms(diff_min)
    );
    println!("diff, {threads} threads: {:6.1} ms", ms(par_med));
    println!("load + diff:    {:8.1} ms", ms(both_med));
    println!("load + diff, {threads} threads: {:.1} ms", ms(both_par_med));
    println!(
        "merge (3-way):  {:8.1} ms  (min {:.1})",
        ms(merge_med),
        ms(merge_min)
    );
    println!(
        "RESULT load_ms={:.2} parse_ms={:.2} parse_gb_s={:.3} serde_parse_ms={:.2} diff_ms={:.2} diff_parallel_ms={:.2} load_diff_ms={:.2} \
         load_diff_parallel_ms={:.2} merge_ms={:.2}",
        ms(load_med),
        ms(parse_med),
        input_bytes as f64 / parse_med.as_secs_f64() / 1e9,
        ms(serde_parse_med),
        ms(diff_med),
        ms(par_med),
        ms(both_med),
        ms(both_par_med),
        ms(merge_med)
    );
}

/// The allocator of the `syncdesk` binary, so that the bench measures what it runs.
#[global_allocator]
static ALLOCATOR: syncdesk::allocator::Mimalloc = syncdesk::allocator::Mimalloc;

//! Merge engine benchmark on 10,000 generated records (see `gen_records.py`).
//!
//! `cargo bench --bench merge` measures, single-threaded, the fastest of several runs (the
//! median beside it):
//! - load: reading and parsing base.json and local.json (~35 MB each); with the diff after
//!   it, load + diff. The clock stops when the work is done, as the peers' clocks do (they
//!   free their trees after); the time with the files and trees freed too is printed beside
//!   it
//! - parse: the parse alone, files in memory, trees dropped off the clock (GB/s), beside
//!   serde_json's deserializer building the same trees
//! - diff: the field-level diff of all 10,000 pairs, with word diffs of changed text
//! - merge: the three-way merge of 10,000 (base, local, server) triples, as a sync runs it
//!   (`merge_changes`: the changed leaves listed) and listing every leaf (`merge`, as the
//!   conflict detail shows them)
//!
//! and the diff, and load + diff, on all cores as well.
//!
//! Data: `$SYNCDESK_BENCH_DATA`, else `bench-data/`, generated when missing;
//! `$SYNCDESK_BENCH_RUNS` runs each (15). For `perf record`, one step alone, many times:
//! `SYNCDESK_BENCH_PROFILE_LOAD=1`, `..._PARSE=1` (files in memory), `..._DIFF=1` (with `..._RECORDS=N` for the first N
//! pairs), `..._MERGE=1` (`..._MERGE=changes`: as a sync runs it), or `..._FIELD=name`
//! (equality of one top-level field).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use syncdesk::merge::{Merge, NoPolicy, diff, merge, merge_changes};
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
        .iter()
        .map(|item| match item {
            // A copy of the shared members: the list itself goes.
            Json::Object(record) => match record.get("fields") {
                Some(Json::Object(fields)) => Record {
                    fields: fields.clone(),
                },
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

/// The fastest and the median of several timings of one step. The fastest is the one
/// compared: on a shared machine other work only ever adds time to a run, and every peer
/// script reports its fastest run too.
#[derive(Clone, Copy)]
struct Timing {
    fastest: Duration,
    median: Duration,
}

impl Timing {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort();
        Timing {
            fastest: times[0],
            median: times[times.len() / 2],
        }
    }

    fn ms(self) -> f64 {
        ms(self.fastest)
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{:.1} ms (median {:.1})",
            ms(self.fastest),
            ms(self.median)
        )
    }
}

/// `runs` timings of `f`.
fn measure<T>(runs: usize, mut f: impl FnMut() -> T) -> Timing {
    Timing::of(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

/// Like [`measure`], but what `f` returns is dropped after the clock stops.
fn measure_kept<T>(runs: usize, mut f: impl FnMut() -> T) -> Timing {
    Timing::of(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                let kept = black_box(f());
                let elapsed = start.elapsed();
                drop(kept);
                elapsed
            })
            .collect(),
    )
}

/// `runs` timings of a step that loads files (`run`), each twice: when the step's work is
/// done (`run` calls `done` with its result), and once what it read is freed too (when `run`
/// returns). The first is the one compared: the peers' clocks stop with their work and free
/// their trees after (deepdiff when its run returns, jsondiffpatch when node's collector
/// gets to them); the second is printed beside it.
fn measure_load(runs: usize, mut run: impl FnMut(&mut dyn FnMut(usize))) -> (Timing, Timing) {
    let (mut done, mut freed) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let start = Instant::now();
        run(&mut |result| {
            black_box(result);
            done.push(start.elapsed());
        });
        freed.push(start.elapsed());
    }
    assert_eq!(done.len(), runs, "each run says when its work is done");
    (Timing::of(done), Timing::of(freed))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `merge` or `merge_changes`.
type MergeFn = for<'a> fn(
    &'a Object<'a>,
    &'a Object<'a>,
    &'a Object<'a>,
    Option<&syncdesk::model::TypeSchema>,
    &dyn syncdesk::merge::Policy,
) -> Merge<'a>;

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
    if std::env::var_os("SYNCDESK_BENCH_PROFILE_PARSE").is_some() {
        // The parse alone, the files already in memory (the trees are freed too).
        let (b, l) = (read(&base_path), read(&local_path));
        let start = Instant::now();
        let n: usize = (0..runs).map(|_| parse(&b).len() + parse(&l).len()).sum();
        eprintln!(
            "{n} records, {:.1} ms per parse of both",
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
    if let Some(how) = std::env::var_os("SYNCDESK_BENCH_PROFILE_MERGE") {
        let merge = if how == "changes" {
            merge_changes
        } else {
            merge
        };
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
    let (load, _) = measure_load(runs, |done| {
        let (b, l) = (read(&base_path), read(&local_path));
        let trees = (parse(&b), parse(&l));
        done(trees.0.len() + trees.1.len());
    });
    let bytes = [
        read(&base_path),
        read(&local_path),
        read(&dir.join("server.json")),
    ];
    // Parsing alone: the files already in memory, the trees dropped after the clock stops.
    let input_bytes = bytes[0].len() + bytes[1].len();
    let parse_time = measure_kept(runs, || (parse(&bytes[0]), parse(&bytes[1])));
    // The same trees built by serde_json's deserializer, the way they were read before the
    // tree reader, for the reader's gain in the same run.
    let serde_parse = measure_kept(runs, || (serde_parse(&bytes[0]), serde_parse(&bytes[1])));
    let base = parse(&bytes[0]);
    let local = parse(&bytes[1]);
    let server = parse(&bytes[2]);
    let changes = diff_all(&base, &local);
    let diff_time = measure(runs, || diff_all(&base, &local));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(diff_all_parallel(&base, &local, threads), changes);
    let parallel = measure(runs, || diff_all_parallel(&base, &local, threads));
    let (both_parallel, _) = measure_load(runs.min(7), |done| {
        // One file a core, then the diff on all cores.
        let (b, l) = std::thread::scope(|scope| {
            let other = scope.spawn(|| read(&local_path));
            (read(&base_path), other.join().expect("read thread"))
        });
        let (base, local) = std::thread::scope(|scope| {
            let other = scope.spawn(|| parse(&l));
            (parse(&b), other.join().expect("parse thread"))
        });
        done(diff_all_parallel(&base, &local, threads));
    });
    let (both, both_freed) = measure_load(runs.min(7), |done| {
        let (b, l) = (read(&base_path), read(&local_path));
        let (base, local) = (parse(&b), parse(&l));
        done(diff_all(&base, &local));
    });
    let merge_all = |merge: MergeFn| {
        let mut conflicts = 0;
        for ((b, l), s) in base.iter().zip(&local).zip(&server) {
            conflicts += merge(&b.fields, &l.fields, &s.fields, None, &NoPolicy)
                .conflicts()
                .count();
        }
        conflicts
    };
    let conflicts = merge_all(merge);
    assert_eq!(merge_all(merge_changes), conflicts);
    let merge_time = measure(runs, || merge_all(merge));
    let changes_time = measure(runs, || merge_all(merge_changes));

    println!(
        "records: {}  changed paths: {changes}  conflicting paths: {conflicts}",
        base.len()
    );
    println!(
        "fastest of {runs} runs (load + diff: of {}), median beside",
        runs.min(7)
    );
    let gb_s = |t: Timing| input_bytes as f64 / t.fastest.as_secs_f64() / 1e9;
    println!("load (2 files):      {load}");
    println!(
        "parse (2 files, in memory): {parse_time}, {:.2} GB/s",
        gb_s(parse_time)
    );
    println!(
        "parse with serde_json into the same tree: {serde_parse}, {:.2} GB/s",
        gb_s(serde_parse)
    );
    println!("diff:                {diff_time}");
    println!("diff, {threads} threads:    {parallel}");
    println!("load + diff:         {both}");
    println!("load + diff, files and trees freed too: {both_freed}");
    println!("load + diff, {threads} threads: {both_parallel}");
    println!("merge (3-way), every leaf listed: {merge_time}");
    println!("merge (3-way), as a sync runs it (changed leaves listed): {changes_time}");
    println!(
        "RESULT load_ms={:.2} parse_ms={:.2} parse_gb_s={:.3} serde_parse_ms={:.2} diff_ms={:.2} diff_parallel_ms={:.2} load_diff_ms={:.2} \
         load_diff_freed_ms={:.2} load_diff_parallel_ms={:.2} merge_ms={:.2} merge_changes_ms={:.2}",
        load.ms(),
        parse_time.ms(),
        gb_s(parse_time),
        serde_parse.ms(),
        diff_time.ms(),
        parallel.ms(),
        both.ms(),
        both_freed.ms(),
        both_parallel.ms(),
        merge_time.ms(),
        changes_time.ms()
    );
}

/// The allocator of the `syncdesk` binary, so that the bench measures what it runs.
#[global_allocator]
static ALLOCATOR: syncdesk::allocator::Mimalloc = syncdesk::allocator::Mimalloc;

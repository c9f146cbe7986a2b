//! Load benchmark of the sync server: 32 concurrent clients on loopback, each looping
//! "GET a random record of 1,000, PUT it back with one field changed and its
//! base_version". Prints syncs per second and p50/p99 of a sync (GET + PUT).
//!
//! `cargo bench --bench load` runs syncdesk (in-process, SQLite with synchronous=FULL in a
//! temporary folder). With `SYNCDESK_LOAD_POUCH=http://127.0.0.1:PORT` it runs the same
//! workload against a pouchdb-server there (PUT with `_rev`) and prints the ratio:
//! `benches/load_peers.sh` does both. With `SYNCDESK_LOAD_POSTGRES=postgres://...` (a URL
//! to the server's `postgres` database) it also runs on PostgreSQL, with one instance and
//! with two (two servers in this process on one new database, clients split between them).
//! Every run also measures the floor (`support/floor.rs`: axum + SQLite doing a plain
//! versioned update with the same durability, no protocol) and prints syncdesk's ratio to
//! it. The SQLite run is repeated as tablets sync ("from devices": `device_id`,
//! `device_seq`, `captured_at` in every PUT). `SYNCDESK_LOAD_SECONDS` (10) sets each
//! server's time. The servers compared with one another (syncdesk on SQLite, from devices
//! and the floor; on PostgreSQL, one instance, two and the floor) take turns of 2 s, each
//! after 0.5 s of warm-up that is not counted, until each has had its time, so that the
//! host's swings fall on all of them alike. `SYNCDESK_LOAD_PROFILE` (`syncdesk`,
//! `devices`, `floor`; with PostgreSQL `pg`, `pg2`, `pgfloor`) runs that server alone, for
//! a profiler.

use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/floor.rs"]
mod floor;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use syncdesk::server::config::Config;
use syncdesk::server::http::{AppState, serve};
use syncdesk::store::Database;

const RECORDS: usize = 1000;
const CLIENTS: usize = 32;
const FIELDS: usize = 20;

/// The allocator of the `syncdesk` binary, so that the bench measures what it runs.
#[global_allocator]
static ALLOCATOR: syncdesk::allocator::Mimalloc = syncdesk::allocator::Mimalloc;

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    conflicts: usize,
    errors: usize,
}

fn record_fields(i: usize) -> Value {
    let mut fields = serde_json::Map::new();
    for f in 0..FIELDS {
        fields.insert(format!("f{f:02}"), json!(format!("value {i} {f}")));
    }
    Value::Object(fields)
}

/// A tiny deterministic generator, one a client (no rand dependency for a bench).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

#[derive(Clone, Copy)]
enum Peer {
    Syncdesk,
    /// syncdesk as tablets sync to it: each client a device, each PUT with `device_id`,
    /// the device's next `device_seq` and `captured_at` (the device rules' look-ups run).
    SyncdeskDevices,
    /// The bare versioned-update server (`support/floor.rs`): syncdesk's wire shape.
    Floor,
    Pouch,
}

/// A client as a tablet: its id and the number of its last submission.
struct Device {
    id: String,
    seq: u64,
}

async fn one_sync(
    client: &Client,
    base: &str,
    peer: Peer,
    rng: &mut Lcg,
    device: &mut Device,
    tally: &mut Tally,
) {
    let id = format!("R-{:04}", rng.next(RECORDS));
    let field = format!("f{:02}", rng.next(FIELDS));
    let started = Instant::now();
    let url = match peer {
        Peer::Syncdesk | Peer::SyncdeskDevices | Peer::Floor => format!("{base}/v1/items/{id}"),
        Peer::Pouch => format!("{base}/bench/{id}"),
    };
    let get = client.get(&url).bearer_auth("load-token").send().await;
    let Ok(get) = get else {
        tally.errors += 1;
        return;
    };
    let Ok(mut doc) = get.json::<Value>().await else {
        tally.errors += 1;
        return;
    };
    let value = json!(format!("changed {}", rng.next(1_000_000)));
    let put = match peer {
        Peer::Syncdesk | Peer::SyncdeskDevices | Peer::Floor => {
            let mut fields = doc["fields"].take();
            fields[&field] = value;
            let mut body = json!({"base_version": doc["version"], "fields": fields});
            if let Peer::SyncdeskDevices = peer {
                device.seq += 1;
                body["device_id"] = json!(device.id);
                body["device_seq"] = json!(device.seq);
                body["captured_at"] = json!("2026-12-06T08:00:00Z");
            }
            let key = format!("k-{}-{}", rng.next(usize::MAX), rng.next(usize::MAX));
            client
                .put(&url)
                .bearer_auth("load-token")
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
        }
        Peer::Pouch => {
            doc[&field] = value;
            client.put(&url).json(&doc).send().await
        }
    };
    match put.map(|r| r.status()) {
        Ok(s) if s.is_success() => tally.latencies.push(started.elapsed()),
        Ok(StatusCode::CONFLICT) => tally.conflicts += 1,
        _ => tally.errors += 1,
    }
}

async fn seed(client: &Client, base: &str, peer: Peer) {
    if let Peer::Pouch = peer {
        client
            .put(format!("{base}/bench"))
            .send()
            .await
            .expect("pouchdb-server answers");
    }
    for i in 0..RECORDS {
        let id = format!("R-{i:04}");
        let response = match peer {
            Peer::Syncdesk | Peer::SyncdeskDevices | Peer::Floor => {
                let body = json!({"id": id, "fields": record_fields(i)});
                client
                    .post(format!("{base}/v1/items"))
                    .bearer_auth("load-token")
                    .header("Idempotency-Key", format!("seed-{i}"))
                    .json(&body)
                    .send()
                    .await
            }
            Peer::Pouch => {
                client
                    .put(format!("{base}/bench/{id}"))
                    .json(&record_fields(i))
                    .send()
                    .await
            }
        };
        assert!(
            response.expect("seed").status().is_success(),
            "seeding {id}"
        );
    }
}

/// One server under test, and what its clients keep from one slice of the run to the next:
/// each client's random sequence and, as a tablet, the number of its last submission.
struct Target {
    name: String,
    peer: Peer,
    /// With several bases (instances of one server), client `c` talks to base `c % n`.
    bases: Vec<String>,
    client: Client,
    clients: Vec<(Lcg, Device)>,
    /// What its slices measured so far.
    tally: Tally,
    elapsed: Duration,
    cpu: Duration,
}

impl Target {
    /// A target with its records seeded.
    async fn seeded(name: &str, bases: Vec<String>, peer: Peer) -> Self {
        let client = Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap();
        seed(&client, &bases[0], peer).await;
        let clients = (0..CLIENTS)
            .map(|c| {
                let device = Device {
                    id: format!("tab-{c}"),
                    seq: 0,
                };
                (Lcg(c as u64 + 1), device)
            })
            .collect();
        Target {
            name: name.to_string(),
            peer,
            bases,
            client,
            clients,
            tally: Tally::default(),
            elapsed: Duration::ZERO,
            cpu: Duration::ZERO,
        }
    }

    /// Runs the workload for one turn and adds what it measured: a warm-up of
    /// [`WARM_UP`], not counted (the first syncs of a turn find the caches cold after the
    /// other servers' turns, and would make the tail of whoever has more turns), then
    /// `slice`, counted.
    async fn run_turn(&mut self, slice: Duration) {
        let counted_from = Instant::now() + WARM_UP;
        let deadline = counted_from + slice;
        let tasks: Vec<_> = std::mem::take(&mut self.clients)
            .into_iter()
            .enumerate()
            .map(|(c, (mut rng, mut device))| {
                let client = self.client.clone();
                let base = self.bases[c % self.bases.len()].clone();
                let peer = self.peer;
                tokio::spawn(async move {
                    let (mut warming, mut counted) = (Tally::default(), Tally::default());
                    while Instant::now() < deadline {
                        let tally = if Instant::now() < counted_from {
                            &mut warming
                        } else {
                            &mut counted
                        };
                        one_sync(&client, &base, peer, &mut rng, &mut device, tally).await;
                    }
                    (rng, device, counted)
                })
            })
            .collect();
        tokio::time::sleep_until(counted_from.into()).await;
        let cpu_before = process_cpu();
        for task in tasks {
            let (rng, device, t) = task.await.unwrap();
            self.clients.push((rng, device));
            self.tally.latencies.extend(t.latencies);
            self.tally.conflicts += t.conflicts;
            self.tally.errors += t.errors;
        }
        self.elapsed += counted_from.elapsed();
        self.cpu += process_cpu() - cpu_before;
    }

    /// Syncs/s, p50, p99, conflicts and errors over all its slices.
    fn figures(&mut self) -> Figures {
        let all = &mut self.tally;
        all.latencies.sort();
        let at = |q: f64| {
            all.latencies
                .get(((all.latencies.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        let syncs = all.latencies.len().max(1) as f64;
        Figures {
            rate: all.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            p50: at(0.5),
            p99: at(0.99),
            p999: at(0.999),
            max: all.latencies.last().copied().unwrap_or_default(),
            conflicts: all.conflicts,
            errors: all.errors,
            cpu_per_sync: self.cpu.div_f64(syncs),
        }
    }
}

/// How long one target's turn is counted before the next one's turn.
const SLICE: Duration = Duration::from_secs(2);

/// The start of every turn that is not counted.
const WARM_UP: Duration = Duration::from_millis(500);

/// Runs each target for `seconds` in all, in turns of about [`SLICE`] (each round starting
/// one target later, each turn after its warm-up), so that the host's swings, which on a
/// shared machine move a rate by a third within a minute, fall on every target alike; then
/// prints each one's figures.
fn compare(
    clients: &tokio::runtime::Runtime,
    targets: &mut [Target],
    seconds: u64,
) -> Vec<Figures> {
    let rounds = seconds.div_ceil(SLICE.as_secs()).max(1);
    let slice = Duration::from_secs(seconds).div_f64(rounds as f64);
    for round in 0..rounds as usize {
        for turn in 0..targets.len() {
            let target = &mut targets[(round + turn) % targets.len()];
            clients.block_on(target.run_turn(slice));
        }
    }
    targets
        .iter_mut()
        .map(|target| {
            let figures = target.figures();
            print(&target.name, figures);
            figures
        })
        .collect()
}

/// What a run measured.
#[derive(Clone, Copy)]
struct Figures {
    /// Successful syncs per second.
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// The tail beyond the p99, where a pause that stops every write for a moment (a
    /// checkpoint of the WAL) shows first.
    p999: Duration,
    max: Duration,
    conflicts: usize,
    errors: usize,
    /// This process's CPU time (servers and clients together) per successful sync: on two
    /// shared cores it moves less from run to run than the rate does. For a peer in another
    /// process (pouchdb-server), the clients' share alone.
    cpu_per_sync: Duration,
}

/// CPU time this process has used, all its threads (user and system; Linux's
/// `/proc/self/stat`, in clock ticks of 10 ms), or zero where that cannot be read.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11) // state … cmajflt; then utime, stime
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// A run's rate and p99 as `RESULT` fields named after it.
fn result_of(name: &str, figures: Figures) -> String {
    format!(
        " {name}_rate={:.0} {name}_p99_ms={:.2}",
        figures.rate,
        figures.p99.as_secs_f64() * 1e3
    )
}

fn print(name: &str, figures: Figures) {
    let Figures {
        rate,
        p50,
        p99,
        p999,
        max,
        conflicts,
        errors,
        cpu_per_sync,
    } = figures;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:<16} {rate:>9.0} syncs/s   p50 {:>6.2} ms   p99 {:>6.2} ms   p99.9 {:>6.2} ms   max {:>6.1} ms   409s {conflicts}   errors {errors}   cpu {:>4.0} us/sync",
        ms(p50),
        ms(p99),
        ms(p999),
        ms(max),
        cpu_per_sync.as_secs_f64() * 1e6
    );
}

fn main() {
    let seconds: u64 = std::env::var("SYNCDESK_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(&format!(
        "[[users]]\nname = \"load\"\nrole = \"technician\"\ntoken = \"load-token\"\n[types.items.fields]\n{}",
        (0..FIELDS).map(|f| format!("f{f:02} = {{ type = \"string\" }}\n")).collect::<String>()
    ))
    .unwrap();
    // The servers on their own threads, the clients on theirs, as two processes would be.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .unwrap();
    // A listener on a free port of loopback, and its base URL.
    let listen = || {
        let listener = server_runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        (listener, base)
    };
    let start = |database: Database| {
        let (listener, base) = listen();
        let state = Arc::new(AppState::open(config.clone(), database).unwrap());
        server_runtime.spawn(serve(state, listener));
        base
    };
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{CLIENTS} clients, {RECORDS} records, {seconds} s each, in turns of {} s (after {} ms not counted)",
        SLICE.as_secs(),
        WARM_UP.as_millis()
    );
    let profile = std::env::var("SYNCDESK_LOAD_PROFILE").ok();
    let postgres_alone = profile.as_deref().is_some_and(|p| p.starts_with("pg"));
    assert!(
        !postgres_alone || std::env::var_os("SYNCDESK_LOAD_POSTGRES").is_some(),
        "SYNCDESK_LOAD_PROFILE={profile:?} needs SYNCDESK_LOAD_POSTGRES"
    );
    let mut result = String::from("RESULT");
    let mut ours = None;
    if !postgres_alone {
        let sqlite = start(Database::Sqlite(dir.path().join("load.db")));
        let devices = start(Database::Sqlite(dir.path().join("devices.db")));
        let (listener, floor_base) = listen();
        let path = dir.path().join("floor.db");
        server_runtime.spawn(async move { floor::serve(&path, listener).await });
        let mut targets = clients.block_on(async {
            vec![
                Target::seeded("syncdesk sqlite", vec![sqlite], Peer::Syncdesk).await,
                Target::seeded("  from devices", vec![devices], Peer::SyncdeskDevices).await,
                Target::seeded("floor sqlite", vec![floor_base], Peer::Floor).await,
            ]
        });
        if let Some(only) = profile.as_deref() {
            return run_alone(
                &clients,
                targets,
                &["syncdesk", "devices", "floor"],
                only,
                seconds,
            );
        }
        let [sqlite, from_devices, floor] = compare(&clients, &mut targets, seconds)[..] else {
            unreachable!("three targets")
        };
        println!(
            "syncdesk / floor: {:.2}x the throughput, p99 {:.2}x, cpu per sync {:.2}x",
            sqlite.rate / floor.rate,
            sqlite.p99.as_secs_f64() / floor.p99.as_secs_f64(),
            sqlite.cpu_per_sync.as_secs_f64() / floor.cpu_per_sync.as_secs_f64()
        );
        result += &result_of("syncdesk", sqlite);
        result += &result_of("devices", from_devices);
        result += &result_of("floor", floor);
        ours = Some(sqlite);
    }
    if let Ok(admin) = std::env::var("SYNCDESK_LOAD_POSTGRES") {
        let instances = |n: usize| -> Vec<String> {
            let url = fresh_postgres_database(&admin, n);
            (0..n)
                .map(|_| start(Database::Postgres(url.clone())))
                .collect()
        };
        let (one, two) = (instances(1), instances(2));
        let (listener, floor_base) = listen();
        let url = fresh_postgres_database(&admin, 0);
        server_runtime.spawn(floor::serve_postgres(url, listener));
        let mut targets = clients.block_on(async {
            vec![
                Target::seeded("syncdesk pg x1", one, Peer::Syncdesk).await,
                Target::seeded("syncdesk pg x2", two, Peer::Syncdesk).await,
                Target::seeded("floor pg", vec![floor_base], Peer::Floor).await,
            ]
        });
        if let Some(only) = profile.as_deref() {
            run_alone(&clients, targets, &["pg", "pg2", "pgfloor"], only, seconds);
        } else {
            let figures = compare(&clients, &mut targets, seconds);
            for (name, f) in ["pg1", "pg2", "pgfloor"].iter().zip(figures) {
                result += &result_of(name, f);
            }
        }
    }
    if let (Ok(pouch), Some(ours)) = (std::env::var("SYNCDESK_LOAD_POUCH"), ours) {
        let mut target =
            clients.block_on(Target::seeded("pouchdb-server", vec![pouch], Peer::Pouch));
        let theirs = compare(&clients, std::slice::from_mut(&mut target), seconds)[0];
        println!(
            "ratio: {:.1}x the throughput, p99 {:.2} of theirs",
            ours.rate / theirs.rate,
            ours.p99.as_secs_f64() / theirs.p99.as_secs_f64()
        );
        result += &result_of("pouch", theirs);
    }
    println!("{result}");
    if let Ok(admin) = std::env::var("SYNCDESK_LOAD_POSTGRES") {
        // The run's databases go with it (their servers are cut off: the process ends).
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("PostgreSQL");
        for instances in [0, 1, 2] {
            let name = postgres_database_name(instances);
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Runs the target named `only` (of `names`, one a target) alone for `seconds`, for a
/// profiler: its threads are then the only ones at work.
fn run_alone(
    clients: &tokio::runtime::Runtime,
    mut targets: Vec<Target>,
    names: &[&str],
    only: &str,
    seconds: u64,
) {
    let Some(at) = names.iter().position(|n| *n == only) else {
        panic!(
            "SYNCDESK_LOAD_PROFILE={only}: one of {names:?} (pg ones with SYNCDESK_LOAD_POSTGRES)"
        );
    };
    compare(clients, std::slice::from_mut(&mut targets[at]), seconds);
}

fn postgres_database_name(instances: usize) -> String {
    format!("syncdesk_load_{}_{instances}", std::process::id())
}

/// A new, empty PostgreSQL database for one run (`admin`: a URL to the server's
/// `postgres` database); its URL.
fn fresh_postgres_database(admin: &str, instances: usize) -> String {
    let name = postgres_database_name(instances);
    let mut client = postgres::Client::connect(admin, postgres::NoTls).expect("PostgreSQL answers");
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let server = admin.rsplit_once('/').map_or(admin, |(server, _)| server);
    format!("{server}/{name}")
}

//! The server's shared state: the configuration, the writer thread that commits queued
//! writes together (group commit), the reader connections, and the way a handler runs
//! work on either.

use super::*;

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    /// The time the server stamps on what it writes.
    pub clock: crate::server::clock::Clock,
    /// What it counts, for Prometheus.
    pub metrics: Arc<crate::server::metrics::Metrics>,
    /// Writes go to one writer thread, which commits whatever is queued together (group
    /// commit: one fsync for many writes) and answers each only once it is on disk.
    jobs: std::sync::mpsc::Sender<Job>,
    /// Reads go to their own connections (WAL lets them run beside the writer), so a
    /// read never waits for a write's fsync.
    readers: Vec<Mutex<Engine>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Reads wait for a free connection here, asynchronously, rather than as blocked
    /// threads on the connections' locks.
    read_turn: tokio::sync::Semaphore,
    /// The newest change number of the queue this instance knows of: bumped by the writer
    /// after a commit that changed the queue (and, on PostgreSQL, by a listener hearing
    /// other instances); event streams wait on it.
    pub(super) queue_changed: Arc<tokio::sync::watch::Sender<u64>>,
    /// Set as the server stops: event streams end.
    stopping: std::sync::atomic::AtomicBool,
    /// Dropped with the state: the checkpoint thread then ends.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

/// A write to run on the writer thread: `run` does it and returns how to deliver its
/// answer once the batch it ran in is committed (`true`) or rolled back (`false`).
/// `announced`: the record write it makes, if it says so beforehand (the store may read
/// for the whole batch at its start).
pub(super) struct Job {
    announced: Option<Announced>,
    run: Box<dyn FnOnce(&mut Engine) -> Delivery + Send>,
}

/// Delivers a write's answer: told whether its batch committed.
type Delivery = Box<dyn FnOnce(bool) + Send>;

/// Connections kept for reads.
pub(super) const READERS: usize = 4;

/// The most writes one commit takes.
pub(super) const BATCH: usize = 64;

/// How often the WAL is copied into the database file.
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl AppState {
    /// Opens (and migrates) the database for a server with this configuration, and starts
    /// its writer thread (which ends when the state is dropped).
    pub fn open(
        config: Config,
        database: impl Into<Database>,
    ) -> Result<Self, crate::store::StoreError> {
        let database = database.into();
        let (checkpoints, stop) = std::sync::mpsc::channel::<()>();
        let wal_limit = Arc::new(WalLimit::default());
        // On SQLite the server's connections share records' current versions.
        let currents = Arc::new(crate::store::Currents::default());
        let open = || {
            let mut store = database.open()?;
            if let Engine::Sqlite(sqlite) = &mut store {
                sqlite.share_currents(currents.clone());
            }
            Ok::<_, crate::store::StoreError>(store)
        };
        let mut store = open()?;
        if let Database::Sqlite(path) = &database {
            // The writer appends to the WAL; a thread of its own copies it into the
            // database file, so a write seldom waits for a checkpoint (only for the last
            // frames, when the WAL is to be started afresh: `checkpoint_beside`).
            if let Engine::Sqlite(writer) = &mut store {
                writer.leave_checkpoints(&wal_limit)?;
                writer.keep_newest_event();
            }
            let checkpointer = SqliteStore::open(path)?;
            let writer = wal_limit.clone();
            spawn("syncdesk-checkpoint", move || {
                if let Err(e) = give_way_to_the_other_threads() {
                    tracing::warn!("checkpoint thread at its usual priority: {e}");
                }
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) = checkpointer.checkpoint_beside(&writer) {
                        tracing::warn!("checkpoint: {e}");
                    }
                }
            })?;
        }
        let readers = (0..READERS)
            .map(|_| open().map(Mutex::new))
            .collect::<Result<_, _>>()?;
        let (jobs, queue) = std::sync::mpsc::channel();
        let metrics = Arc::new(crate::server::metrics::Metrics::new());
        let counted = metrics.clone();
        // The writer learns the newest change number first thing (on its own thread: the
        // PostgreSQL client may not block an async task).
        let queue_changed = Arc::new(tokio::sync::watch::Sender::new(0));
        let changes = queue_changed.clone();
        spawn("syncdesk-writer", move || {
            write_batches(store, queue, &counted, &changes, &wal_limit)
        })?;
        if let Database::Postgres(url) = &database {
            listen_to_other_instances(url.clone(), Arc::downgrade(&queue_changed))?;
        }
        Ok(Self {
            config,
            clock: crate::server::clock::Clock::system(),
            metrics,
            jobs,
            readers,
            next_reader: Default::default(),
            read_turn: tokio::sync::Semaphore::new(READERS),
            queue_changed,
            stopping: Default::default(),
            _checkpoints: checkpoints,
        })
    }

    /// Whether the server is stopping (event streams then end).
    pub(super) fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Ends the event streams, so that a stop does not wait for them.
    pub(super) fn begin_stopping(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.queue_changed.send_modify(|_| {});
    }
}

/// Says a newer change number of the queue is known (never an older one).
fn heard(changed: &tokio::sync::watch::Sender<u64>, seq: u64) {
    changed.send_if_modified(|known| {
        let newer = seq > *known;
        if newer {
            *known = seq;
        }
        newer
    });
}

/// On PostgreSQL: a thread that hears the queue's changes committed through any instance
/// and wakes this one's event streams; it ends with the state, and listens again after a
/// lost connection.
fn listen_to_other_instances(
    url: String,
    changed: std::sync::Weak<tokio::sync::watch::Sender<u64>>,
) -> Result<(), crate::store::StoreError> {
    spawn("syncdesk-listen", move || {
        while changed.strong_count() > 0 {
            let listened = crate::store::listen_postgres(&url, |seq| match changed.upgrade() {
                Some(changed) => {
                    heard(&changed, seq);
                    true
                }
                None => false,
            });
            if let Err(e) = listened {
                tracing::warn!("listening for other instances' changes: {e}");
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
        }
    })
}

/// Puts the calling thread last in line for the CPU (nice 19). For the checkpoint
/// thread: each of its passes takes a core for some milliseconds, and the syncs waiting
/// behind it made the load bench's p99 (three interleaved 10 s pairs: 5.6 – 6.0 ms at the
/// usual priority, 4.3 – 5.1 ms at nice 19; the floor's 3.1 – 3.3). With the CPUs busy it
/// falls behind, and the WAL grows past its limit until it catches up (SQLite's own
/// checkpoint on the writer bounds it at twice the limit).
#[cfg(target_os = "linux")]
fn give_way_to_the_other_threads() -> std::io::Result<()> {
    // On Linux each thread has a nice value of its own, and 0 names the calling thread.
    // SAFETY: setpriority takes no pointer; its outcome is read from its return value.
    match unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Elsewhere a process has one priority for all its threads: left as it is.
#[cfg(not(target_os = "linux"))]
fn give_way_to_the_other_threads() -> std::io::Result<()> {
    Ok(())
}

/// Starts a named thread of the server's.
fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), crate::store::StoreError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map(drop)
        .map_err(crate::store::StoreError::Io)
}

/// The writer thread: runs the queued writes in batches, each batch one transaction.
pub(super) fn write_batches(
    mut store: Engine,
    queue: std::sync::mpsc::Receiver<Job>,
    metrics: &crate::server::metrics::Metrics,
    queue_changed: &tokio::sync::watch::Sender<u64>,
    wal_limit: &WalLimit,
) {
    if let Ok(last) = store.last_event() {
        heard(queue_changed, last);
    }
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(std::iter::from_fn(|| queue.try_recv().ok()).take(BATCH - 1));
        metrics.batch_size.observe(batch.len() as f64);
        // Without a batch each write commits on its own, and is answered as committed.
        let batched = store.begin_batch().is_ok();
        if batched {
            let announced: Vec<Announced> = batch
                .iter_mut()
                .filter_map(|job| job.announced.take())
                .collect();
            store.read_ahead(&announced);
        }
        // A write that panics loses its own answer (its caller gets a 500), never the
        // writer thread: its savepoint rolls back as it unwinds (a record write on
        // PostgreSQL makes its rows last, so it has none to undo).
        let deliveries: Vec<_> = batch
            .into_iter()
            .filter_map(|job| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(&mut store)))
                    .ok()
            })
            .collect();
        let commit = std::time::Instant::now();
        let committed = !batched || store.end_batch().is_ok();
        metrics
            .commit_seconds
            .observe(commit.elapsed().as_secs_f64());
        for deliver in deliveries {
            deliver(committed);
        }
        // A cheap look (the newest change number is the end of an index) tells event
        // streams whether to read; they never hold up this thread.
        if committed && let Ok(last) = store.last_event() {
            heard(queue_changed, last);
        }
        // Its answers sent, before the next batch: when asked, the WAL's last frames.
        if let Engine::Sqlite(sqlite) = &store
            && let Err(e) = sqlite.reuse_wal(wal_limit)
        {
            tracing::warn!("checkpoint: {e}");
        }
    }
}

pub(super) async fn answer<R: IntoResponse>(
    work: impl Future<Output = Result<R, Problem>>,
) -> Response {
    match work.await {
        Ok(reply) => reply.into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Runs a read off the async threads, on one of the read connections.
pub(super) async fn reading<T: Send + 'static, E: Into<Problem>>(
    state: Arc<AppState>,
    work: impl FnOnce(&Engine) -> Result<T, E> + Send + 'static,
) -> Result<T, Problem> {
    let _turn = state
        .read_turn
        .acquire()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let n = state
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % state.readers.len();
        let store = state.readers[n]
            .lock()
            .map_err(|_| Problem::internal(&"a store lock is poisoned"))?;
        work(&store).map_err(Into::into)
    })
    .await
    .map_err(|e| Problem::internal(&e))?
}

/// A point read (one record by its key), run where the request is when the store is
/// SQLite and a read connection is free: in a WAL snapshot it never waits on the writer and
/// takes microseconds, less than handing it to a blocking thread and back. Anything else
/// (PostgreSQL, whose blocking client may not run on these threads; every connection
/// busy) goes the way of `reading`.
pub(super) async fn reading_point<T: Send + 'static, E: Into<Problem>>(
    state: Arc<AppState>,
    work: impl FnOnce(&Engine) -> Result<T, E> + Send + 'static,
) -> Result<T, Problem> {
    for reader in &state.readers {
        if let Ok(store) = reader.try_lock()
            && matches!(*store, Engine::Sqlite(_))
        {
            return work(&store).map_err(Into::into);
        }
    }
    reading(state, work).await
}

/// Runs a write on the writer thread; answers once it is committed.
pub(super) async fn blocking<T: Send + 'static, E: Into<Problem>>(
    state: Arc<AppState>,
    work: impl FnOnce(&mut Engine) -> Result<T, E> + Send + 'static,
) -> Result<T, Problem> {
    blocking_announced(state, None, work).await
}

/// `blocking`, for a write that announces the record write it makes after its key's
/// look-up (see `Job`).
pub(super) async fn blocking_announced<T: Send + 'static, E: Into<Problem>>(
    state: Arc<AppState>,
    announced: Option<Announced>,
    work: impl FnOnce(&mut Engine) -> Result<T, E> + Send + 'static,
) -> Result<T, Problem> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let run = Box::new(move |store: &mut Engine| -> Delivery {
        let result = work(store).map_err(Into::into);
        Box::new(move |committed| {
            let result = if committed {
                result
            } else {
                Err(Problem::internal(&"a write batch did not commit"))
            };
            let _ = answer.send(result);
        })
    });
    state
        .jobs
        .send(Job { announced, run })
        .map_err(|_| Problem::internal(&"the writer thread has stopped"))?;
    answered
        .await
        .map_err(|_| Problem::internal(&"the writer thread dropped a write"))?
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        Problem::internal(&e)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of each of this process's threads whose name starts with `name`.
    fn nice_of_threads(name: &str) -> Vec<i64> {
        let mut nice = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let task = task.unwrap().path();
            let stat = std::fs::read_to_string(task.join("stat")).unwrap_or_default();
            // "tid (name) state ppid ...": the nice value is the 19th field, the 17th
            // after the name (which may hold spaces, so split after its last ')').
            let Some((head, fields)) = stat.rsplit_once(')') else {
                continue;
            };
            if head.contains(&format!("({name}")) {
                let field = fields.split_whitespace().nth(16).unwrap();
                nice.push(field.parse().unwrap());
            }
        }
        nice
    }

    #[test]
    fn the_checkpoint_thread_gives_way_and_the_writer_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_toml("").unwrap();
        let _state = AppState::open(config, dir.path().join("s.db")).unwrap();
        // Thread names are cut to 15 bytes ("syncdesk-checkp"); the thread lowers its
        // own priority as it starts. Looked for until seen: a listing of the threads
        // may miss one while other tests' threads come and go.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let (checkpoints, writers) = loop {
            let checkpoints = nice_of_threads("syncdesk-checkp");
            let writers = nice_of_threads("syncdesk-writer");
            let seen = checkpoints.contains(&19) && !writers.is_empty();
            if seen || std::time::Instant::now() > deadline {
                break (checkpoints, writers);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert!(checkpoints.contains(&19), "{checkpoints:?}");
        // The writer keeps the priority of the thread that started it (this one's).
        // SAFETY: getpriority takes no pointer.
        let own = i64::from(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) });
        assert!(!writers.is_empty());
        assert!(writers.iter().all(|&n| n == own), "{writers:?}, own {own}");
    }
}

//! The SQLite store: WAL, `synchronous = FULL` (a 2xx means the write survives a crash of
//! the machine), one `BEGIN IMMEDIATE` transaction a write.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::columns::signed;
use super::rows::{RawConflict, RawVersion};
use super::{
    Author, ConflictId, Effect, Known, MasterList, Parked, RecordKey, Remember, Remembered,
    StoreError, Stored,
};
use super::{ConflictRow, Settlement};
use crate::model::{UtcMillis, Version};
use crate::protocol::QueueEventKind;
use crate::sync::StoredVersion;

mod answers;
mod conflicts;
mod currents;
mod engine;
mod master;
mod migrations;
mod queue;
mod records;
mod sync_log;
#[cfg(test)]
mod tests;

use answers::*;
pub use currents::Currents;
use currents::Sharing;
use master::*;
use migrations::*;
use records::*;

/// The WAL's size limit by default. Under writes without a pause the WAL is started
/// afresh each time it reaches it, and that costs the writer a pause (the last frames
/// copied, the database file synced): 64 MB against 16 MB took the load bench's p99 from
/// 11.5 to 8.5 ms and its rate up by a tenth.
const WAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// The WAL as a checkpoint left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wal {
    /// Frames in use (the file may be longer).
    pub frames: i64,
    /// Every frame is in the database file: the next write starts the WAL afresh.
    pub all_copied: bool,
}

/// The WAL's size limit, shared by the writer and the checkpoint connection beside it,
/// with the hand-off that keeps the WAL near it: set by the checkpoint connection when
/// the writer should copy the WAL's last frames and start it afresh
/// (`SqliteStore::checkpoint_beside`, `SqliteStore::reuse_wal`).
#[derive(Debug)]
pub struct WalLimit {
    bytes: i64,
    reuse: AtomicBool,
}

impl WalLimit {
    pub fn new(bytes: i64) -> Self {
        Self {
            bytes,
            reuse: AtomicBool::new(false),
        }
    }
}

impl Default for WalLimit {
    fn default() -> Self {
        Self::new(WAL_LIMIT_BYTES)
    }
}

/// Two names as one key for a map in memory: the first's length first, so that no two
/// pairs meet (`t1` + `` and `t` + `1` differ).
fn pair_key(first: &str, second: &str) -> String {
    // Built by hand, not by `format!`: every GET and write makes one.
    let mut length = itoa::Buffer::new();
    let length = length.format(first.len());
    let mut key = String::with_capacity(length.len() + 1 + first.len() + second.len());
    for part in [length, ":", first, second] {
        key.push_str(part);
    }
    key
}

/// SQLite's count of the commits other connections made to the file, as this one sees it.
fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))
}

/// Deletes up to `at_most` of a table's oldest entries made before `cutoff`, when its
/// first is (`first_sql` reads the first entry's time in the table's order, `delete_sql`
/// deletes: `?1` at most, `?2` the cutoff; `forgotten` sees each row it returns, if any).
/// That time, once read, is kept in `first` until a delete goes (only these delete), so
/// most calls ask the database nothing.
fn delete_due<T>(
    conn: &Connection,
    first: &mut Option<T>,
    [first_sql, delete_sql]: [&str; 2],
    cutoff: T,
    at_most: i64,
    mut forgotten: impl FnMut(&rusqlite::Row) -> rusqlite::Result<()>,
) -> Result<(), StoreError>
where
    T: rusqlite::types::FromSql + rusqlite::ToSql + PartialOrd,
{
    if first.is_none() {
        *first = conn
            .prepare_cached(first_sql)?
            .query_row([], |r| r.get(0))
            .optional()?;
    }
    if first.as_ref().is_none_or(|first| *first >= cutoff) {
        return Ok(());
    }
    let mut statement = conn.prepare_cached(delete_sql)?;
    let mut deleted = statement.query(params![at_most, cutoff])?;
    while let Some(row) = deleted.next()? {
        forgotten(row)?;
    }
    *first = None;
    Ok(())
}

/// A store in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    /// Inside `begin_batch`/`end_batch`: writes are savepoints of the batch's transaction.
    in_batch: bool,
    /// When the first remembered answer by arrival was made, once read (`None`: not read,
    /// or none stored): until it expires, no answer has.
    first_answer_ms: Option<i64>,
    /// The same for the sync log and the queue's events, by `seq` (`LOG_TABLES`' order).
    first_logged: [Option<UtcMillis>; 2],
    /// Records' current versions, shared with the server's other connections to the file
    /// (`share_currents`); `None` reads every version from the file.
    sharing: Option<Box<Sharing>>,
    /// SQLite's count of other connections' commits, when this one last looked (first
    /// as it opened).
    data_version: Cell<i64>,
    /// Where each idempotency key's answer is (`AnswerRows`), once read.
    answer_rows: RefCell<Option<AnswerRows>>,
    /// On the connection that writes (`keep_newest_event`): the newest queue event's
    /// number, once read (`None` inside: read it again).
    newest_event: Option<Cell<Option<u64>>>,
}

/// One write's unit of work: a transaction of its own, or a savepoint inside a batch.
/// Dropped without `commit`, either rolls back.
enum Unit<'c> {
    Own(rusqlite::Transaction<'c>),
    InBatch(Savepoint<'c>),
}

/// A savepoint on cached statements: every write of a batch takes one or more, and
/// rusqlite's own compiles its SQL afresh each time (a tenth of the writer's time).
struct Savepoint<'c> {
    conn: &'c Connection,
    released: bool,
}

impl<'c> Savepoint<'c> {
    fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("SAVEPOINT unit")?.execute([])?;
        Ok(Self {
            conn,
            released: false,
        })
    }

    fn commit(mut self) -> rusqlite::Result<()> {
        self.released = true;
        self.conn.prepare_cached("RELEASE unit")?.execute([])?;
        Ok(())
    }
}

impl Drop for Savepoint<'_> {
    /// Not committed: what it did is undone; the batch's transaction goes on.
    fn drop(&mut self) {
        if !self.released {
            let undo = |sql: &str| {
                self.conn
                    .prepare_cached(sql)
                    .and_then(|mut s| s.execute([]))
            };
            let _ = undo("ROLLBACK TO unit");
            let _ = undo("RELEASE unit");
        }
    }
}

impl std::ops::Deref for Unit<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Unit::Own(tx) => tx,
            Unit::InBatch(sp) => sp.conn,
        }
    }
}

impl Unit<'_> {
    fn commit(self) -> rusqlite::Result<()> {
        match self {
            Unit::Own(tx) => tx.commit(),
            Unit::InBatch(sp) => sp.commit(),
        }
    }
}

impl SqliteStore {
    /// A write's unit of work. Borrows the store only to read, so that what a write
    /// remembers beside its rows (`remember_answer`) can be noted while the unit is open.
    fn unit(&self) -> Result<Unit<'_>, StoreError> {
        Ok(if self.in_batch {
            Unit::InBatch(Savepoint::new(&self.conn)?)
        } else {
            let tx =
                rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            self.forget_if_written_elsewhere()?;
            Unit::Own(tx)
        })
    }

    /// Starts a batch (group commit): the writes until `end_batch` share one transaction
    /// and one fsync. Nothing in it is durable, nor to be answered, before `end_batch`.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        self.in_batch = true;
        self.forget_if_written_elsewhere()
    }

    /// With the write lock held: if another connection committed since this one last
    /// looked (another process on the file: a server's other connections only read and
    /// copy the WAL), what this one keeps in memory of the file may be out of date — the
    /// records' current versions, the answers' rows — and is let go, so that no write
    /// decides on it.
    fn forget_if_written_elsewhere(&self) -> Result<(), StoreError> {
        let seen = data_version(&self.conn)?;
        if self.data_version.replace(seen) != seen {
            if let Some(sharing) = &self.sharing {
                sharing.currents.clear();
            }
            self.answer_rows.take();
            self.forget_newest_event();
        }
        Ok(())
    }

    /// Keeps the newest queue event's number once read, instead of asking the file after
    /// every batch: for the connection that writes, which sees every event it numbers and,
    /// as a batch starts, any other connection's commit. Never for a reader, which numbers
    /// none and so would never see a new one.
    pub fn keep_newest_event(&mut self) {
        self.newest_event = Some(Cell::new(None));
    }

    fn forget_newest_event(&self) {
        if let Some(kept) = &self.newest_event {
            kept.set(None);
        }
    }

    /// Commits the batch; on failure rolls all of it back and says so.
    pub fn end_batch(&mut self) -> Result<(), StoreError> {
        self.in_batch = false;
        if let Err(e) = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
        {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.forget_newest_event();
            if let Some(sharing) = &mut self.sharing {
                sharing.batch_ended(false);
            }
            return Err(e.into());
        }
        if let Some(sharing) = &mut self.sharing {
            sharing.batch_ended(true);
        }
        Ok(())
    }

    /// Keeps records' current versions in `currents`, shared with the other connections
    /// a server opens to the same file (each its own store), which must be all that write
    /// to it: see `Currents`.
    pub fn share_currents(&mut self, currents: Arc<Currents>) {
        self.sharing = Some(Box::new(Sharing::new(currents)));
    }

    /// A version this connection has appended, once its unit of work committed.
    fn appended(&mut self, key: RecordKey, version: &Arc<StoredVersion<'static>>) {
        if let Some(sharing) = &mut self.sharing {
            sharing.appended(self.in_batch, key, version);
        }
    }

    /// A record's current version, if known without reading the file.
    fn known_current(&self, key: RecordKey) -> Option<Arc<StoredVersion<'static>>> {
        self.sharing.as_ref()?.known(key)
    }

    /// Leaves checkpoints (copying the WAL into the database file) to another
    /// connection (`checkpoint_beside`), so that a write seldom waits for one. SQLite's
    /// own checkpoint stays as a backstop at twice the WAL's limit, should the writer
    /// never be asked to `reuse_wal`. A WAL started afresh is cut back only past that
    /// backstop: under steady writes it restarts a little past its limit each time, and
    /// cutting those last frames off (ext4 freeing their blocks, then allocating them
    /// again) took the writer 1.7 – 6.7 ms at each restart, traced under the load bench.
    /// Left at its size, the file is written over in place.
    pub fn leave_checkpoints(&self, limit: &WalLimit) -> Result<(), StoreError> {
        let backstop = 2 * limit.bytes;
        let pages = backstop / self.page_size()?;
        self.conn.pragma_update(None, "wal_autocheckpoint", pages)?;
        self.conn
            .pragma_update(None, "journal_size_limit", backstop)?;
        Ok(())
    }

    /// Copies what it can of the WAL into the database file without waiting for anyone
    /// (SQLite's PASSIVE checkpoint); the WAL is reused once all of it is copied.
    pub fn checkpoint(&self) -> Result<Wal, StoreError> {
        let (frames, copied) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })?;
        Ok(Wal {
            frames,
            all_copied: frames == copied,
        })
    }

    /// A checkpoint on the connection beside the writer's. Under writes without a pause
    /// it never copies all of the WAL (frames keep coming while it copies), so the writer
    /// never reuses the WAL, which grows without end (by half a gigabyte in four seconds
    /// of the load bench). Past its limit, once all of it is copied, the writer is asked
    /// to copy the few frames committed since and start the WAL afresh.
    pub fn checkpoint_beside(&self, writer: &WalLimit) -> Result<(), StoreError> {
        let wal = self.checkpoint()?;
        if wal.all_copied && wal.frames * self.page_size()? >= writer.bytes {
            // Each pass copies what was committed during the one before, a shorter time:
            // the writer is left the frames of a commit or two.
            for _ in 0..3 {
                self.checkpoint()?;
            }
            writer.reuse.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// On the writer, between commits, when asked: copies what is left of the WAL, so
    /// that the next write starts it afresh.
    pub fn reuse_wal(&self, asked: &WalLimit) -> Result<(), StoreError> {
        if asked.reuse.swap(false, Ordering::Relaxed) {
            self.checkpoint()?;
        }
        Ok(())
    }

    fn page_size(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?)
    }

    /// Opens (creating if needed) and migrates the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // After a burst the WAL is cut back to this when it is next reused, so it never
        // stays large (the server's writer cuts back only past twice it:
        // `leave_checkpoints`).
        conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // A sync runs some twenty distinct statements (more than rusqlite's 16 by default):
        // with room for all, none is compiled twice.
        conn.set_prepared_statement_cache_capacity(64);
        // Plans fixed at prepare: without this SQLite compiles a cached statement again
        // whenever a bound integer (a LIMIT, a version) changes — a quarter of a read's
        // time under load.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        migrate(&conn, MIGRATIONS.len())?;
        // From here on, a commit by another connection is told apart.
        let data_version = data_version(&conn)?;
        Ok(Self {
            conn,
            in_batch: false,
            first_answer_ms: None,
            first_logged: [None; 2],
            sharing: None,
            data_version: Cell::new(data_version),
            answer_rows: RefCell::new(None),
            newest_event: None,
        })
    }
}

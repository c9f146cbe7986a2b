//! The SQLite store: WAL, `synchronous = FULL` (a 2xx means the write survives a crash of
//! the machine), one `BEGIN IMMEDIATE` transaction a write.

use std::path::Path;

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
mod engine;
mod master;
mod migrations;
mod queue;
mod records;
mod sync_log;
#[cfg(test)]
mod tests;

use answers::*;
use master::*;
use migrations::*;
use queue::record_event;
use records::*;

/// The size the WAL file is cut back to once a burst has been checkpointed.
const WAL_LIMIT_BYTES: i64 = 16 * 1024 * 1024;

/// A store in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    /// Inside `begin_batch`/`end_batch`: writes are savepoints of the batch's transaction.
    in_batch: bool,
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
    fn unit(&mut self) -> Result<Unit<'_>, StoreError> {
        Ok(if self.in_batch {
            Unit::InBatch(Savepoint::new(&self.conn)?)
        } else {
            Unit::Own(
                self.conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?,
            )
        })
    }

    /// Starts a batch (group commit): the writes until `end_batch` share one transaction
    /// and one fsync. Nothing in it is durable, nor to be answered, before `end_batch`.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        self.in_batch = true;
        Ok(())
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
            return Err(e.into());
        }
        Ok(())
    }

    /// Leaves checkpoints (copying the WAL into the database file) to another
    /// connection: this one then only appends to the WAL, never waits for a checkpoint.
    pub fn leave_checkpoints(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    /// Copies what it can of the WAL into the database file without waiting for anyone
    /// (SQLite's PASSIVE checkpoint); the WAL is reused once all of it is copied.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Opens (creating if needed) and migrates the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // After a burst the WAL is cut back to this when it is next reused, so it never
        // stays large; no writer waits for it (the cut happens as the WAL restarts).
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
        Ok(Self {
            conn,
            in_batch: false,
        })
    }
}

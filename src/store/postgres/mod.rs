//! The PostgreSQL store, for several server instances on one database. Every guarantee
//! rests on PostgreSQL's own concurrency control: a write batch holds one transaction-
//! scoped advisory lock from its first statement to its commit, so batches of all
//! instances store one after another (versions, change sequence numbers and conflict ids
//! in commit order, no two writes on one base, no key applied twice), while reads and
//! everything before the store (HTTP, JSON, merge) run on every instance at once.
//!
//! Round trips are what a write costs here, so a record write in a batch makes one — its
//! reads, in one statement — and what it stores (version, remembered answer, log entry)
//! waits in `pending` to go with the batch's other rows in one statement before the commit.
//! A statement that fails fails the batch (PostgreSQL aborts the transaction), and each
//! of its writes is answered 500, to be sent again under its idempotency key.

use std::cell::RefCell;

use postgres::{Client, NoTls, Row};

use super::columns::signed;
use super::rows::{RawConflict, RawVersion, remembered_of};
use super::{
    Announced, Author, ConflictId, ConflictRow, Effect, Known, MasterList, OwnedWriteAhead, Parked,
    RecordKey, Remember, Remembered, Settlement, StoreError, Stored, WriteAhead,
};
use crate::model::{UtcMillis, Version};
use crate::protocol::QueueEventKind;
use crate::sync::StoredVersion;

mod conflicts;
mod engine;
mod master;
mod migrations;
mod pending;
mod queue;

pub use queue::listen;
mod records;
mod sync_log;
#[cfg(test)]
mod tests;

use master::Listed;

/// The channel a committed change of the queue is announced on, to every instance.
pub const EVENTS_CHANNEL: &str = "syncdesk_events";

/// The advisory lock a write batch holds until it commits (any number; ours).
const WRITE_LOCK: i64 = 0x5359_4e43_4445_534b; // "SYNCDESK"

/// A store on a PostgreSQL database, through one connection.
pub struct PgStore {
    client: RefCell<Connection>,
    /// Inside `begin_batch`/`end_batch`: writes are parts of the batch's transaction.
    in_batch: bool,
    /// What the record write announced by `remembered_before_write` will read, read with
    /// the look-up (taken by that write if nothing ran in between).
    ahead: RefCell<Option<records::ReadAhead>>,
    /// What the batch's announced writes read, in one trip at its start (see
    /// `read_ahead_on`).
    batch_ahead: RefCell<records::BatchAhead>,
    /// The newest queue event as the last batch committed, if its last rows said it (taken
    /// by the next `last_event`).
    last_committed_event: std::cell::Cell<Option<i64>>,
}

impl PgStore {
    /// Connects (`postgres://user@host:port/db`) and migrates; two instances starting at
    /// once migrate one after the other.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let client = Connection::open(url, migrations::migrate)?;
        Ok(Self {
            client: RefCell::new(client),
            in_batch: false,
            ahead: Default::default(),
            batch_ahead: Default::default(),
            last_committed_event: Default::default(),
        })
    }

    /// Starts a batch: one transaction, holding the write lock, until `end_batch`.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.last_committed_event.set(None);
        let client = self.client.get_mut();
        if let Err(e) = client.batch_execute(&begin_locked()) {
            let _ = client.batch_execute("ROLLBACK");
            return Err(e.into());
        }
        self.in_batch = true;
        Ok(())
    }

    /// Commits the batch (releasing the lock); on failure it is rolled back. The rows
    /// sent last report the newest queue event, which `last_event` then answers without
    /// asking the database again.
    pub fn end_batch(&mut self) -> Result<(), StoreError> {
        self.in_batch = false;
        self.batch_ahead.get_mut().clear();
        let client = self.client.get_mut();
        let committed = match client.flush() {
            Ok(last_event) => client.commit().map(|()| last_event),
            Err(e) => Err(e.into()),
        };
        match committed {
            Ok(last_event) => {
                self.last_committed_event.set(last_event);
                Ok(())
            }
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// One write's unit of work: a savepoint inside a batch, or a transaction of its own
    /// holding the write lock.
    fn unit(&mut self) -> Result<Unit<'_>, StoreError> {
        if self.in_batch {
            let client = self.client.get_mut();
            client.batch_execute("SAVEPOINT write")?;
            return Ok(Unit {
                client,
                kind: UnitKind::Savepoint,
                done: false,
            });
        }
        self.own_transaction()
    }

    /// The unit of work of a record write or a log entry: inside a batch nothing of its
    /// own (its reads cannot fail it alone, and what it stores is sent with the batch's
    /// other rows, or in one statement of its own), else a transaction of its own holding
    /// the write lock.
    fn write_unit(&mut self) -> Result<Unit<'_>, StoreError> {
        if self.in_batch {
            return Ok(Unit {
                client: self.client.get_mut(),
                kind: UnitKind::InBatch,
                done: false,
            });
        }
        self.own_transaction()
    }

    fn own_transaction(&mut self) -> Result<Unit<'_>, StoreError> {
        let client = self.client.get_mut();
        if let Err(e) = client.batch_execute(&begin_locked()) {
            let _ = client.batch_execute("ROLLBACK");
            return Err(e.into());
        }
        Ok(Unit {
            client,
            kind: UnitKind::Transaction,
            done: false,
        })
    }
}

/// Begins a transaction and takes the write lock, in one round trip.
fn begin_locked() -> String {
    format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
}

/// A connection of the blocking client. That client runs a small runtime of its own for
/// each call, which tokio refuses inside an async task: the server calls it only on its
/// own threads, and connecting and closing (which it may do from an async task, as the
/// server starts or ends) happen on a short thread of their own.
struct Connection {
    client: Option<Client>,
    /// Where it connects again after losing its connection (a database restart) — only
    /// between transactions: a batch that lost its connection fails whole, never
    /// commits half on a new one.
    url: String,
    in_transaction: bool,
    /// Each statement is prepared once a connection and kept: a query is then one round
    /// trip, not two.
    prepared: std::collections::HashMap<String, postgres::Statement>,
    /// Rows made in the open transaction and not yet sent: sent before any other
    /// statement, so that every statement sees them (reads that need not see them go
    /// `query_beside_pending`).
    pending: pending::Pending,
    /// A statement of the open transaction failed: PostgreSQL has aborted it, and would
    /// answer its `COMMIT` with a rollback, not an error — so the commit refuses itself.
    aborted: bool,
    /// Counts what could change what a read finds: statements run and rows made. A read
    /// taken at one count is still what the database would say while the count stands
    /// (in a batch, which holds the write lock).
    generation: u64,
    /// Counts what was sent: statements run and rows flushed. Reads taken at one count
    /// miss only the rows made since, which `pending` tells.
    sent: u64,
}

type Params<'p> = &'p [&'p (dyn postgres::types::ToSql + Sync)];

impl Connection {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if !self.in_transaction {
            self.reconnect_if_lost();
        }
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client_mut().prepare(sql)?;
        self.prepared.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`, savepoints); a transaction
    /// begins on a live connection. Unsent rows go before a commit or savepoint, and are
    /// forgotten by a rollback (rows made after a savepoint are the savepoint's).
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.generation += 1;
        self.sent += 1;
        let begins = sql.starts_with("BEGIN");
        if begins {
            self.reconnect_if_lost();
        } else if sql.starts_with("ROLLBACK") {
            self.pending.clear();
        } else {
            self.flush()?;
        }
        let done = self.client_mut().batch_execute(sql);
        if begins {
            // A lock that failed leaves the transaction open (aborted) until the rollback.
            self.in_transaction = true;
            self.aborted = done.is_err();
        } else if matches!(sql, "COMMIT" | "ROLLBACK") {
            self.in_transaction = false;
            self.aborted = false;
        } else if sql.starts_with("ROLLBACK TO") {
            // Back to a savepoint taken while the transaction was sound: sound again.
            self.aborted = done.is_err();
        } else if done.is_err() {
            self.aborted = self.in_transaction;
        }
        done
    }

    fn reconnect_if_lost(&mut self) {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            // Lost (the database restarted, or ended the session): the request that
            // found out failed; this one connects again.
            let url = self.url.clone();
            let reconnected =
                std::thread::scope(|scope| scope.spawn(|| Client::connect(&url, NoTls)).join());
            if let Ok(Ok(client)) = reconnected {
                let lost = self.client.replace(client);
                std::thread::spawn(move || drop(lost));
                self.prepared.clear();
            }
        }
    }

    fn client_mut(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("a connection is closed only when dropped")
    }

    /// Commits the open transaction — unless a statement of it failed: PostgreSQL then
    /// answers `COMMIT` with a silent rollback, and the writes that came before the failure
    /// would be answered as stored. Rolled back and refused instead.
    fn commit(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        if self.aborted {
            let _ = self.batch_execute("ROLLBACK");
            return Err(StoreError::Aborted);
        }
        self.batch_execute("COMMIT")?;
        Ok(())
    }

    /// The unsent rows, to add to.
    fn pending_mut(&mut self) -> &mut pending::Pending {
        self.generation += 1;
        &mut self.pending
    }

    /// Sends the unsent rows (one round trip; none if there are none); with them, the
    /// newest queue event.
    fn flush(&mut self) -> Result<Option<i64>, postgres::Error> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        self.generation += 1;
        self.sent += 1;
        let statement = self.statement(pending::FLUSH)?;
        let client = self
            .client
            .as_mut()
            .expect("a connection is closed only when dropped");
        let sent = self.pending.flush(client, &statement);
        self.aborted |= sent.is_err() && self.in_transaction;
        sent
    }

    /// A read of rows the caller knows none of the unsent rows to be, run without sending
    /// them first (the write path's reads: one round trip a write, not two).
    fn query_beside_pending(
        &mut self,
        sql: &str,
        params: Params,
    ) -> Result<Vec<Row>, postgres::Error> {
        self.run_as_is(sql, |client, statement| client.query(statement, params))
    }

    fn query(&mut self, sql: &str, params: Params) -> Result<Vec<Row>, postgres::Error> {
        self.run(sql, |client, statement| client.query(statement, params))
    }

    fn query_opt(&mut self, sql: &str, params: Params) -> Result<Option<Row>, postgres::Error> {
        self.run(sql, |client, statement| client.query_opt(statement, params))
    }

    fn query_one(&mut self, sql: &str, params: Params) -> Result<Row, postgres::Error> {
        self.run(sql, |client, statement| client.query_one(statement, params))
    }

    fn execute(&mut self, sql: &str, params: Params) -> Result<u64, postgres::Error> {
        self.run(sql, |client, statement| client.execute(statement, params))
    }

    /// Runs a prepared statement after the unsent rows.
    fn run<T>(
        &mut self,
        sql: &str,
        work: impl Fn(&mut Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        self.flush()?;
        self.run_as_is(sql, work)
    }

    /// Runs a prepared statement. Outside a transaction, one the database ended is run
    /// again on a new connection (a read after a restart does not fail for it).
    fn run_as_is<T>(
        &mut self,
        sql: &str,
        work: impl Fn(&mut Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        self.generation += 1;
        self.sent += 1;
        let first = match self.statement(sql) {
            Ok(statement) => work(self.client_mut(), &statement),
            Err(e) => Err(e),
        };
        match first {
            Err(_) if !self.in_transaction && self.client_mut().is_closed() => {
                let statement = self.statement(sql)?;
                work(self.client_mut(), &statement)
            }
            Err(e) => {
                self.aborted |= self.in_transaction;
                Err(e)
            }
            ok => ok,
        }
    }

    /// Connects, and readies the connection with `prepare` (on the same short thread).
    fn open(
        url: &str,
        prepare: impl FnOnce(&mut Client) -> Result<(), StoreError> + Send,
    ) -> Result<Self, StoreError> {
        let connected = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut client = Client::connect(url, NoTls)?;
                    prepare(&mut client)?;
                    Ok::<_, StoreError>(client)
                })
                .join()
        });
        let client = connected
            .map_err(|_| StoreError::Corrupt("connecting to PostgreSQL panicked".into()))?;
        Ok(Self {
            client: Some(client?),
            url: url.to_owned(),
            in_transaction: false,
            prepared: Default::default(),
            pending: Default::default(),
            aborted: false,
            generation: 0,
            sent: 0,
        })
    }
}

impl std::ops::Deref for Connection {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a connection is closed only when dropped")
    }
}

impl std::ops::DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Client {
        self.client_mut()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

/// A write's unit of work; dropped without `commit`, it rolls back.
struct Unit<'c> {
    client: &'c mut Connection,
    kind: UnitKind,
    done: bool,
}

enum UnitKind {
    Savepoint,
    Transaction,
    /// A record write in a batch: nothing to end, nothing to roll back (its rows are made
    /// last, and one that fails fails the batch).
    InBatch,
}

impl Unit<'_> {
    fn commit(mut self) -> Result<(), StoreError> {
        self.done = true;
        match self.kind {
            UnitKind::Savepoint => self.client.batch_execute("RELEASE SAVEPOINT write")?,
            UnitKind::Transaction => self.client.commit()?,
            UnitKind::InBatch => {}
        }
        Ok(())
    }
}

impl Drop for Unit<'_> {
    fn drop(&mut self) {
        if !self.done {
            let undo = match self.kind {
                UnitKind::Savepoint => "ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write",
                UnitKind::Transaction => "ROLLBACK",
                UnitKind::InBatch => return,
            };
            let _ = self.client.batch_execute(undo);
        }
    }
}

/// A stored count or number as the store's unsigned type (negative ones are corrupt).
fn unsigned(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("a stored {what} is negative")))
}

/// A version row (columns as `VERSION_COLUMNS`), checked.
fn version_of(row: &Row, key: RecordKey) -> Result<StoredVersion<'static>, StoreError> {
    version_at(row, 0, key)
}

/// A version in a row's columns from `at` on (as `VERSION_COLUMNS`), checked.
fn version_at(row: &Row, at: usize, key: RecordKey) -> Result<StoredVersion<'static>, StoreError> {
    RawVersion {
        version: row.try_get(at)?,
        fields: row.try_get(at + 1)?,
        last_modified: row.try_get(at + 2)?,
        modified_by: row.try_get(at + 3)?,
        device_id: row.try_get(at + 4)?,
        device_seq: row.try_get(at + 5)?,
        deleted: row.try_get(at + 6)?,
    }
    .check(key)
}

const VERSION_COLUMNS: &str =
    "version, fields, last_modified, modified_by, device_id, device_seq, deleted";

//! The PostgreSQL store, for several server instances on one database. Every guarantee
//! rests on PostgreSQL's own concurrency control: a write batch holds one transaction-
//! scoped advisory lock from its first statement to its commit, so batches of all
//! instances store one after another (versions, change sequence numbers and conflict ids
//! in commit order, no two writes on one base, no key applied twice), while reads and
//! everything before the store (HTTP, JSON, merge) run on every instance at once.

use std::cell::RefCell;

use postgres::{Client, NoTls, Row};

use super::columns::signed;
use super::rows::{RawConflict, RawVersion};
use super::{
    Author, ConflictId, ConflictRow, Effect, Known, MasterList, Parked, RecordKey, Remember,
    Remembered, Settlement, StoreError, Stored,
};
use crate::model::{UtcMillis, Version};
use crate::protocol::QueueEventKind;
use crate::sync::StoredVersion;

mod conflicts;
mod engine;
mod master;
mod migrations;
mod queue;

pub use queue::listen;
mod records;
mod sync_log;

use master::Listed;

/// The channel a committed change of the queue is announced on, to every instance.
pub const EVENTS_CHANNEL: &str = "syncdesk_events";

/// The advisory lock a write batch holds until it commits (any number; ours).
const WRITE_LOCK: i64 = 0x5359_4e43_4445_534b; // "SYNCDESK"

/// A store on a PostgreSQL database, through one connection.
pub struct PgStore {
    client: RefCell<Connection>,
    /// Inside `begin_batch`/`end_batch`: writes are savepoints of the batch's transaction.
    in_batch: bool,
}

impl PgStore {
    /// Connects (`postgres://user@host:port/db`) and migrates; two instances starting at
    /// once migrate one after the other.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let client = Connection::open(url, migrations::migrate)?;
        Ok(Self {
            client: RefCell::new(client),
            in_batch: false,
        })
    }

    /// Starts a batch: one transaction, holding the write lock, until `end_batch`.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        let client = self.client.get_mut();
        client.batch_execute("BEGIN")?;
        if let Err(e) = client.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]) {
            let _ = client.batch_execute("ROLLBACK");
            return Err(e.into());
        }
        self.in_batch = true;
        Ok(())
    }

    /// Commits the batch (releasing the lock); on failure it is rolled back.
    pub fn end_batch(&mut self) -> Result<(), StoreError> {
        self.in_batch = false;
        let client = self.client.get_mut();
        if let Err(e) = client.batch_execute("COMMIT") {
            let _ = client.batch_execute("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    /// One write's unit of work: a savepoint inside a batch, or a transaction of its own
    /// holding the write lock.
    fn unit(&mut self) -> Result<Unit<'_>, StoreError> {
        let in_batch = self.in_batch;
        let client: &mut Connection = self.client.get_mut();
        if in_batch {
            client.batch_execute("SAVEPOINT write")?;
        } else {
            client.batch_execute("BEGIN")?;
            let locked = client.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]);
            if let Err(e) = locked {
                let _ = client.batch_execute("ROLLBACK");
                return Err(e.into());
            }
        }
        Ok(Unit {
            client,
            in_batch,
            done: false,
        })
    }
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
    /// begins on a live connection.
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        if sql == "BEGIN" {
            self.reconnect_if_lost();
        }
        let done = self.client_mut().batch_execute(sql);
        match sql {
            "BEGIN" => self.in_transaction = done.is_ok(),
            "COMMIT" | "ROLLBACK" => self.in_transaction = false,
            _ => {}
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

    /// Runs a prepared statement. Outside a transaction, one the database ended is run
    /// again on a new connection (a read after a restart does not fail for it).
    fn run<T>(
        &mut self,
        sql: &str,
        work: impl Fn(&mut Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        let first = match self.statement(sql) {
            Ok(statement) => work(self.client_mut(), &statement),
            Err(e) => Err(e),
        };
        match first {
            Err(_) if !self.in_transaction && self.client_mut().is_closed() => {
                let statement = self.statement(sql)?;
                work(self.client_mut(), &statement)
            }
            other => other,
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
    in_batch: bool,
    done: bool,
}

impl Unit<'_> {
    fn commit(mut self) -> Result<(), StoreError> {
        self.done = true;
        let end = if self.in_batch {
            "RELEASE SAVEPOINT write"
        } else {
            "COMMIT"
        };
        self.client.batch_execute(end)?;
        Ok(())
    }
}

impl Drop for Unit<'_> {
    fn drop(&mut self) {
        if !self.done {
            let undo = if self.in_batch {
                "ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write"
            } else {
                "ROLLBACK"
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
    RawVersion {
        version: row.try_get(0)?,
        fields: row.try_get(1)?,
        last_modified: row.try_get(2)?,
        modified_by: row.try_get(3)?,
        device_id: row.try_get(4)?,
        device_seq: row.try_get(5)?,
        deleted: row.try_get(6)?,
    }
    .check(key)
}

const VERSION_COLUMNS: &str =
    "version, fields, last_modified, modified_by, device_id, device_seq, deleted";

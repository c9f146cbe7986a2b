//! The floor of the load benchmark: the least a server must do for a durable versioned
//! update — axum and SQLite (WAL, `synchronous = FULL`, as syncdesk), a record a row. `GET
//! /v1/items/{id}` reads it; `PUT` with `base_version` stores the fields when that is the
//! current version (else 409); `POST /v1/items` creates. No history, merge, idempotency,
//! validation, log or queue — but the same durability and the same tricks syncdesk uses
//! for it (one writer committing whatever is queued in one transaction, reads on their own
//! connections), so that the gap between the two is what the protocol costs. The same on
//! PostgreSQL (one table, a transaction a batch), for syncdesk's PostgreSQL store.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

/// A write for the writer thread, and where its answer goes once committed.
struct Write {
    id: String,
    /// `None`: a create.
    base: Option<i64>,
    fields: String,
    answer: tokio::sync::oneshot::Sender<Option<i64>>,
}

/// What the floor needs of a database.
trait Table: Send + 'static {
    /// The version and fields of a record.
    fn read(&mut self, id: &str) -> Option<(i64, String)>;
    /// Stores a batch in one transaction: for each write its new version, or `None`.
    fn commit(&mut self, batch: &[Write]) -> Vec<Option<i64>>;
}

struct Floor {
    writes: Mutex<mpsc::Sender<Write>>,
    readers: Vec<Mutex<Box<dyn Table>>>,
    next_reader: AtomicUsize,
    /// SQLite: reads run on the request's thread (PostgreSQL's blocking client may not).
    inline_reads: bool,
}

fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("floor database");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, version INTEGER NOT NULL,
                                           fields TEXT NOT NULL);",
    )
    .expect("floor schema");
    conn
}

impl Table for Connection {
    fn read(&mut self, id: &str) -> Option<(i64, String)> {
        self.prepare_cached("SELECT version, fields FROM items WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                    .optional()
            })
            .ok()
            .flatten()
    }

    fn commit(&mut self, batch: &[Write]) -> Vec<Option<i64>> {
        let Ok(tx) = self.unchecked_transaction() else {
            return vec![None; batch.len()];
        };
        let mut results = Vec::with_capacity(batch.len());
        for w in batch {
            let stored = match w.base {
                Some(base) => tx
                    .prepare_cached(
                        "UPDATE items SET version = version + 1, fields = ?3
                         WHERE id = ?1 AND version = ?2",
                    )
                    .and_then(|mut s| s.execute(params![w.id, base, w.fields]))
                    .map(|n| (n == 1).then_some(base + 1)),
                None => tx
                    .prepare_cached("INSERT INTO items (id, version, fields) VALUES (?1, 1, ?2)")
                    .and_then(|mut s| s.execute(params![w.id, w.fields]))
                    .map(|_| Some(1)),
            };
            results.push(stored.unwrap_or(None));
        }
        if tx.commit().is_err() {
            results.iter_mut().for_each(|r| *r = None);
        }
        results
    }
}

/// A PostgreSQL connection the floor never closes: the blocking client may not be dropped
/// on the async threads that end the bench, and the process ends right after.
struct Pg(std::mem::ManuallyDrop<postgres::Client>);

impl Table for Pg {
    fn read(&mut self, id: &str) -> Option<(i64, String)> {
        let row = self
            .0
            .query_opt("SELECT version, fields FROM items WHERE id = $1", &[&id])
            .ok()??;
        Some((row.get(0), row.get(1)))
    }

    fn commit(&mut self, batch: &[Write]) -> Vec<Option<i64>> {
        let Ok(mut tx) = self.0.transaction() else {
            return vec![None; batch.len()];
        };
        let mut results = Vec::with_capacity(batch.len());
        for w in batch {
            let stored = match w.base {
                Some(base) => tx
                    .execute(
                        "UPDATE items SET version = version + 1, fields = $3
                         WHERE id = $1 AND version = $2",
                        &[&w.id, &base, &w.fields],
                    )
                    .map(|n| (n == 1).then_some(base + 1)),
                None => tx
                    .execute(
                        "INSERT INTO items (id, version, fields) VALUES ($1, 1, $2)",
                        &[&w.id, &w.fields],
                    )
                    .map(|_| Some(1)),
            };
            results.push(stored.unwrap_or(None));
        }
        if tx.commit().is_err() {
            results.iter_mut().for_each(|r| *r = None);
        }
        results
    }
}

/// Commits whatever writes are queued in one transaction, then answers each.
fn writer(mut table: impl Table, queue: mpsc::Receiver<Write>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match queue.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let results = table.commit(&batch);
        for (w, result) in batch.into_iter().zip(results) {
            let _ = w.answer.send(result);
        }
    }
}

async fn write(floor: &Floor, id: String, base: Option<i64>, fields: &Value) -> Option<i64> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let write = Write {
        id,
        base,
        fields: fields.to_string(),
        answer,
    };
    floor.writes.lock().ok()?.send(write).ok()?;
    answered.await.ok().flatten()
}

async fn read(State(floor): State<Arc<Floor>>, UrlPath(id): UrlPath<String>) -> Response {
    // As syncdesk reads a record: where the request is when SQLite has a connection free.
    if floor.inline_reads {
        for reader in &floor.readers {
            if let Ok(mut table) = reader.try_lock() {
                let found = table.read(&id);
                drop(table);
                return found_response(found);
            }
        }
    }
    let found = tokio::task::spawn_blocking(move || {
        let i = floor.next_reader.fetch_add(1, Ordering::Relaxed) % floor.readers.len();
        floor.readers[i].lock().ok()?.read(&id)
    })
    .await
    .ok()
    .flatten();
    found_response(found)
}

fn found_response(found: Option<(i64, String)>) -> Response {
    match found {
        Some((version, fields)) => {
            let fields: Value = serde_json::from_str(&fields).unwrap_or_default();
            axum::Json(json!({"version": version, "fields": fields})).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn update(
    State(floor): State<Arc<Floor>>,
    UrlPath(id): UrlPath<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let Some(base) = body["base_version"].as_i64() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match write(&floor, id, Some(base), &body["fields"]).await {
        Some(version) => axum::Json(json!({"version": version})).into_response(),
        None => StatusCode::CONFLICT.into_response(),
    }
}

async fn create(State(floor): State<Arc<Floor>>, axum::Json(body): axum::Json<Value>) -> Response {
    let id = body["id"].as_str().unwrap_or_default().to_string();
    match write(&floor, id, None, &body["fields"]).await {
        Some(_) => StatusCode::CREATED.into_response(),
        None => StatusCode::CONFLICT.into_response(),
    }
}

/// Serves the floor on `listener` with its SQLite database at `path`.
pub async fn serve(path: &Path, listener: tokio::net::TcpListener) {
    let readers: Vec<Box<dyn Table>> = (0..4).map(|_| Box::new(open(path)) as _).collect();
    serve_on(open(path), readers, true, listener).await;
}

/// Serves the floor on `listener` with its table in the PostgreSQL database at `url`.
pub async fn serve_postgres(url: String, listener: tokio::net::TcpListener) {
    // The blocking client runs a runtime of its own: connected on a thread of its own.
    let (writer, readers) = std::thread::spawn(move || {
        let connect = || {
            let client = postgres::Client::connect(&url, postgres::NoTls).expect("PostgreSQL");
            Pg(std::mem::ManuallyDrop::new(client))
        };
        let mut writer = connect();
        writer
            .0
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, version BIGINT NOT NULL,
                                                   fields TEXT NOT NULL)",
            )
            .expect("floor schema");
        let readers: Vec<Box<dyn Table>> = (0..4).map(|_| Box::new(connect()) as _).collect();
        (writer, readers)
    })
    .join()
    .expect("connecting");
    serve_on(writer, readers, false, listener).await;
}

async fn serve_on(
    writer_table: impl Table,
    readers: Vec<Box<dyn Table>>,
    inline_reads: bool,
    listener: tokio::net::TcpListener,
) {
    let (writes, queue) = mpsc::channel();
    std::thread::spawn(move || writer(writer_table, queue));
    let floor = Arc::new(Floor {
        writes: Mutex::new(writes),
        readers: readers.into_iter().map(Mutex::new).collect(),
        next_reader: AtomicUsize::new(0),
        inline_reads,
    });
    let app = Router::new()
        .route("/v1/items", post(create))
        .route("/v1/items/{id}", get(read).put(update))
        .with_state(floor);
    let _ = axum::serve(listener, app).await;
}

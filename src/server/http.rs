//! The HTTP routes: thin handlers that check the request in the contract's order (401,
//! 403, 404, 413, 415, 400, then the sync rules: 428, 412, 422, 409) and store what the
//! rules decide.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json as JsonBody, Router};
use serde::Deserialize;
use serde_json::json;

use super::config::{Config, Role, User};
use super::problem::Problem;
use crate::model::json::Object;
use crate::model::{Etag, FieldError, TimeError, TypeSchema, UtcMillis, Version};
use crate::protocol::{ConflictSummary, ResolutionInfo, Status};
use crate::store::{
    Author, ConflictId, ConflictRow, Effect, Known, Parked, RecordKey, Remember, Settlement,
    SqliteStore, Stored,
};
use crate::sync::{
    Create, Decision, IfMatch, ParkKind, ParkedConflict, Put, Refusal, Report, ResolutionDecision,
    ResolutionRequest, Settle, StoredVersion, decide_create, decide_put, decide_resolution,
    if_match_holds,
};
use sha2::{Digest, Sha256};

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    /// The time the server stamps on what it writes.
    pub clock: super::clock::Clock,
    /// Writes go to one writer thread, which commits whatever is queued together (group
    /// commit: one fsync for many writes) and answers each only once it is on disk.
    jobs: std::sync::mpsc::Sender<Job>,
    /// Reads go to their own connections (WAL lets them run beside the writer), so a
    /// read never waits for a write's fsync.
    readers: Vec<Mutex<SqliteStore>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Reads wait for a free connection here, asynchronously, rather than as blocked
    /// threads on the connections' locks.
    read_turn: tokio::sync::Semaphore,
    /// Dropped with the state: the checkpoint thread then ends.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

/// A write to run on the writer thread; it returns how to deliver its answer once the
/// batch it ran in is committed (`true`) or rolled back (`false`).
type Job = Box<dyn FnOnce(&mut SqliteStore) -> Box<dyn FnOnce(bool) + Send> + Send>;

/// Connections kept for reads.
const READERS: usize = 4;
/// The most writes one commit takes.
const BATCH: usize = 64;
/// How often the WAL is copied into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl AppState {
    /// Opens (and migrates) the database for a server with this configuration, and starts
    /// its writer thread (which ends when the state is dropped).
    pub fn open(
        config: Config,
        database: &std::path::Path,
    ) -> Result<Self, crate::store::StoreError> {
        let store = SqliteStore::open(database)?;
        // The writer only appends to the WAL; a thread of its own copies it into the
        // database file, so no write waits for a checkpoint.
        store.leave_checkpoints()?;
        let checkpointer = SqliteStore::open(database)?;
        let (checkpoints, stop) = std::sync::mpsc::channel::<()>();
        let spawn_failed = |e: std::io::Error| {
            crate::store::StoreError::from(rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
        };
        std::thread::Builder::new()
            .name("syncdesk-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) = checkpointer.checkpoint() {
                        eprintln!("syncdesk: checkpoint: {e}");
                    }
                }
            })
            .map_err(spawn_failed)?;
        let readers = (0..READERS)
            .map(|_| SqliteStore::open(database).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        let (jobs, queue) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("syncdesk-writer".into())
            .spawn(move || write_batches(store, queue))
            .map_err(spawn_failed)?;
        Ok(Self {
            config,
            clock: super::clock::Clock::system(),
            jobs,
            readers,
            next_reader: Default::default(),
            read_turn: tokio::sync::Semaphore::new(READERS),
            _checkpoints: checkpoints,
        })
    }
}

/// The writer thread: runs the queued writes in batches, each batch one transaction.
fn write_batches(mut store: SqliteStore, queue: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(std::iter::from_fn(|| queue.try_recv().ok()).take(BATCH - 1));
        // Without a batch each write commits on its own, and is answered as committed.
        let batched = store.begin_batch().is_ok();
        // A write that panics loses its own answer (its caller gets a 500), never the
        // writer thread: its savepoint rolls back as it unwinds.
        let deliveries: Vec<_> = batch
            .into_iter()
            .filter_map(|job| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut store))).ok()
            })
            .collect();
        let committed = !batched || store.end_batch().is_ok();
        for deliver in deliveries {
            deliver(committed);
        }
    }
}

/// Every route the server serves, as (method, path); `assets/openapi.yaml` documents
/// exactly these (a test holds both to it).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/v1/schema/{record_type}"),
    ("GET", "/v1/conflicts"),
    ("GET", "/v1/conflicts/{cid}"),
    ("POST", "/v1/conflicts/{cid}/resolution"),
    ("GET", "/v1/master/{list}"),
    ("PUT", "/v1/master/{list}"),
    ("GET", "/v1/{record_type}"),
    ("POST", "/v1/{record_type}"),
    ("GET", "/v1/{record_type}/{id}"),
    ("PUT", "/v1/{record_type}/{id}"),
    ("DELETE", "/v1/{record_type}/{id}"),
    ("GET", "/v1/{record_type}/{id}/versions"),
    ("GET", "/v1/{record_type}/{id}/versions/{n}"),
];

/// The routes of the contract implemented so far.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { JsonBody(json!({"status": "ok"})) }),
        )
        .route("/v1/master/{list}", get(read_master).put(put_master))
        .route("/v1/schema/{record_type}", get(read_schema))
        .route("/v1/conflicts", get(list_conflicts))
        .route("/v1/conflicts/{cid}", get(read_conflict))
        .route(
            "/v1/conflicts/{cid}/resolution",
            axum::routing::post(resolve_conflict),
        )
        .route("/v1/{record_type}", get(feed).post(create))
        .route("/v1/{record_type}/{id}", get(read).put(sync).delete(delete))
        .route("/v1/{record_type}/{id}/versions", get(read_history))
        .route("/v1/{record_type}/{id}/versions/{n}", get(read_version))
        .fallback(|uri: axum::http::Uri| async move {
            Problem::not_found(format!("no route for {}", uri.path()))
        })
        .layer(axum::middleware::from_fn(super::problem::as_problem))
        .with_state(state)
}

/// Serves until the listener fails.
pub async fn serve(state: Arc<AppState>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_until(state, listener, std::future::pending()).await;
    Ok(())
}

/// Serves until `stop` completes, then answers the requests in flight and returns.
pub async fn serve_until(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()>,
) {
    let config = &state.config;
    let limits = super::listen::Limits {
        header: config.header_timeout,
        idle: config.idle_timeout,
        request: config.request_timeout,
    };
    super::listen::serve_until(listener, router(state.clone()), limits, stop).await;
}

type Answer = Result<Reply, Problem>;

async fn read(
    State(state): State<Arc<AppState>>,
    Path((record_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        schema_of(&state.config, &record_type)?;
        let key_id = id.clone();
        let current = reading(state, move |store| {
            store.current(RecordKey {
                record_type: &record_type,
                id: &key_id,
            })
        })
        .await?;
        let Some(current) = current else {
            return Err(Problem::not_found("no such record"));
        };
        if current.deleted {
            let etag = etag_of(&current);
            return Err(Problem::new(
                StatusCode::GONE,
                "deleted",
                "Deleted",
                "the record was deleted",
            )
            .with_etag(etag));
        }
        Ok(record_reply(StatusCode::OK, &id, &current, None).into_response())
    })
    .await
}

async fn read_schema(
    State(state): State<Arc<AppState>>,
    Path(record_type): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        let schema = schema_of(&state.config, &record_type)?;
        let fields: serde_json::Map<String, serde_json::Value> = schema
            .fields
            .iter()
            .map(|(name, spec)| (name.clone(), field_json(spec)))
            .collect();
        let body = json!({
            "type": schema.name,
            "schema_version": schema.schema_version,
            "same_user_overlap": schema.same_user_overlap,
            "fields": fields,
        });
        Ok(Reply::json(
            StatusCode::OK,
            &body,
            Some(format!("\"schema-{}\"", schema.schema_version)),
        ))
    })
    .await
}

fn field_json(spec: &crate::model::FieldSpec) -> serde_json::Value {
    use crate::model::FieldType;
    let mut out = json!({"type": spec.kind.name(), "required": spec.required});
    let extra = match &spec.kind {
        FieldType::Enum { values } => Some(("values", json!(values))),
        FieldType::Reference { list } => Some(("list", json!(list))),
        FieldType::List { key: Some(key) } => Some(("key", json!(key))),
        _ => None,
    };
    if let (Some((name, value)), Some(members)) = (extra, out.as_object_mut()) {
        members.insert(name.into(), value);
    }
    out
}

#[derive(Deserialize)]
struct FeedQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

/// `GET /v1/{type}?after=&limit=`: records changed after a change sequence number.
async fn feed(
    State(state): State<Arc<AppState>>,
    Path(record_type): Path<String>,
    axum::extract::Query(query): axum::extract::Query<FeedQuery>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        schema_of(&state.config, &record_type)?;
        let after = query.after.unwrap_or(0);
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let t = record_type.clone();
        let changed = reading(state, move |store| store.changed_after(&t, after, limit)).await?;
        let next = changed.last().map_or(after, |(seq, _, _)| *seq);
        let records: Vec<serde_json::Value> = changed
            .iter()
            .map(|(_, id, v)| record_json(id, v))
            .collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"records": records, "next": next}),
            None,
        ))
    })
    .await
}

async fn read_history(
    State(state): State<Arc<AppState>>,
    Path((record_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        schema_of(&state.config, &record_type)?;
        let (t, i) = (record_type.clone(), id.clone());
        let history = reading(state, move |store| {
            store.history(RecordKey {
                record_type: &t,
                id: &i,
            })
        })
        .await?;
        if history.is_empty() {
            return Err(Problem::not_found("no such record"));
        }
        let versions: Vec<serde_json::Value> = history
            .iter()
            .map(|v| {
                json!({
                    "version": v.version,
                    "last_modified": v.last_modified,
                    "modified_by": v.modified_by,
                    "device_id": v.device_id,
                    "deleted": v.deleted,
                })
            })
            .collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"versions": versions}),
            None,
        ))
    })
    .await
}

async fn read_version(
    State(state): State<Arc<AppState>>,
    Path((record_type, id, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        schema_of(&state.config, &record_type)?;
        let version = n
            .parse()
            .ok()
            .and_then(Version::new)
            .ok_or_else(|| Problem::not_found(format!("no version {n:?}")))?;
        let key_id = id.clone();
        let found = reading(state, move |store| {
            store.version(
                RecordKey {
                    record_type: &record_type,
                    id: &key_id,
                },
                version,
            )
        })
        .await?;
        let found = found
            .ok_or_else(|| Problem::not_found(format!("no version {version} of this record")))?;
        Ok(record_reply(StatusCode::OK, &id, &found, None))
    })
    .await
}

/// `DELETE /v1/{type}/{id}`: a tombstone (supervisor+, strict `If-Match`).
async fn delete(
    State(state): State<Arc<AppState>>,
    Path((record_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Supervisor)?.clone();
        schema_of(&state.config, &record_type)?;
        let idempotency = idempotency_key(&headers)?;
        let if_match = headers
            .get(header::IF_MATCH)
            .map(|v| parse_if_match(v.as_bytes()));
        let fingerprint = fingerprint("DELETE", &format!("/v1/{record_type}/{id}"), b"", if_match);
        blocking(state.clone(), move |store| {
            let now = state.clock.now();
            let remember =
                match remember(&state.config, store, &user, &idempotency, fingerprint, now)? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => Some(remember),
                };
            let author = Author {
                user: &user.name,
                device_id: None,
                device_seq: None,
                captured_at: None,
            };
            let key = RecordKey {
                record_type: &record_type,
                id: &id,
            };
            let decide = |known: &Known| {
                let Some(current) = known.versions.last().cloned() else {
                    return (Outcome::Missing, Effect::Nothing);
                };
                let Some(if_match) = if_match else {
                    return (
                        Outcome::Refused(Refusal::PreconditionRequired, Some(current)),
                        Effect::Nothing,
                    );
                };
                let matched = if_match_holds(if_match, &current);
                if !matched {
                    return (
                        Outcome::Refused(Refusal::PreconditionFailed, Some(current)),
                        Effect::Nothing,
                    );
                }
                let fields = current.fields.clone();
                (
                    Outcome::Deleted,
                    Effect::Append {
                        fields,
                        deleted: true,
                    },
                )
            };
            written(store, key, None, &author, now, remember, decide)
        })
        .await
    })
    .await
}

#[derive(Deserialize)]
struct ConflictQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    record_type: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/conflicts`: the queue, oldest first.
async fn list_conflicts(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<ConflictQuery>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Supervisor)?;
        let open = match query.status.as_deref().unwrap_or("open") {
            "open" => Some(true),
            "resolved" => Some(false),
            "all" => None,
            other => {
                return Err(Problem::bad_request(format!(
                    "status {other:?} is not open, resolved or all"
                )));
            }
        };
        let after = match query.cursor.as_deref() {
            None | Some("") => 0,
            Some(cursor) => {
                cursor
                    .parse::<ConflictId>()
                    .map_err(|()| Problem::bad_request("cursor is not one this server gave"))?
                    .0
            }
        };
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let rows = reading(state, move |store| {
            store.conflicts(open, query.record_type.as_deref(), after, limit)
        })
        .await?;
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|r| r.id.to_string()))
            .flatten();
        let summaries: Vec<ConflictSummary> = rows.iter().map(conflict_summary).collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"conflicts": summaries, "next": next}),
            None,
        ))
    })
    .await
}

/// `GET /v1/conflicts/{cid}`: the three sides and every path's class, against the
/// record's current version (its `ETag` is the one a resolution must send).
async fn read_conflict(
    State(state): State<Arc<AppState>>,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Supervisor)?;
        let id = conflict_id(&cid)?;
        let state2 = state.clone();
        let found = reading(state, move |store| {
            let Some(row) = store.conflict(id)? else {
                return Ok::<_, crate::store::StoreError>(None);
            };
            let key = RecordKey {
                record_type: &row.record_type,
                id: &row.record_id,
            };
            let base = match row.base_version {
                Some(v) => store.version(key, v)?,
                None => None,
            };
            let current = store.current(key)?;
            Ok(Some((row, base, current)))
        })
        .await?;
        let (row, base, current) =
            found.ok_or_else(|| Problem::not_found(format!("no conflict {cid:?}")))?;
        let schema = state2.config.types.get(&row.record_type);
        let mut reply = Reply::json(
            StatusCode::OK,
            &conflict_detail(&row, base.as_ref(), current.as_ref(), schema),
            None,
        );
        reply.etag = current.as_ref().map(etag_of);
        Ok(reply)
    })
    .await
}

/// The body of a resolution: the resolved record and its choices, or `keep_deleted`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolutionBody<'a> {
    #[serde(borrow, default)]
    fields: Option<Object<'a>>,
    #[serde(default)]
    choices: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    keep_deleted: bool,
}

impl<'a> ResolutionBody<'a> {
    /// What the body settles, or why it is malformed (400).
    fn settle(self) -> Result<Settle<'a>, Problem> {
        if let Some((path, choice)) = self
            .choices
            .iter()
            .find(|(_, c)| !matches!(c.as_str(), "local" | "server" | "manual"))
        {
            return Err(Problem::bad_request(format!(
                "choices: {path} is {choice:?}, not local, server or manual"
            )));
        }
        match (self.keep_deleted, self.fields) {
            (true, None) if self.choices.is_empty() => Ok(Settle::KeepDeleted),
            (true, _) => Err(Problem::bad_request(
                "body: keep_deleted takes no fields and no choices",
            )),
            (false, Some(fields)) => Ok(Settle::Write {
                fields,
                choices: self.choices,
            }),
            (false, None) => Err(Problem::bad_request(
                "body: missing field `fields` (or `keep_deleted: true`)",
            )),
        }
    }
}

/// `POST /v1/conflicts/{cid}/resolution`: exactly one supervisor wins, with a fresh ETag.
async fn resolve_conflict(
    State(state): State<Arc<AppState>>,
    Path(cid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Supervisor)?.clone();
        let id = conflict_id(&cid)?;
        let exists = reading(state.clone(), move |store| store.conflict(id)).await?;
        let Some(conflict) = exists else {
            return Err(Problem::not_found(format!("no conflict {cid:?}")));
        };
        let bytes = json_body(&state.config, &headers, body).await?;
        let idempotency = idempotency_key(&headers)?;
        let if_match = headers
            .get(header::IF_MATCH)
            .map(|v| parse_if_match(v.as_bytes()));
        let creating = headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == b"*");
        if if_match.is_none() && !creating {
            return Err(refused(Refusal::PreconditionRequired, None));
        }
        let method = if creating {
            "POST If-None-Match"
        } else {
            "POST"
        };
        let fingerprint = fingerprint(
            method,
            &format!("/v1/conflicts/{cid}/resolution"),
            &bytes,
            if_match,
        );
        let schema = state.config.types.get(&conflict.record_type).cloned();
        blocking(state.clone(), move |store| {
            let body: ResolutionBody = serde_json::from_slice(&bytes)
                .map_err(|e| Problem::bad_request(format!("body: {e}")))?;
            let settle = body.settle()?.into_owned();
            let choices = match &settle {
                Settle::Write { choices, .. } => choices.clone(),
                Settle::KeepDeleted => Default::default(),
            };
            let now = state.clock.now();
            let remember =
                match remember(&state.config, store, &user, &idempotency, fingerprint, now)? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => remember,
                };
            let record_id = conflict.record_id.clone();
            let respond = |(resolved, current): &(Resolved, Option<StoredVersion<'static>>),
                           stored: Option<&StoredVersion<'static>>| {
                let reply = resolution_reply(resolved, current, stored, &record_id);
                reply
                    .remembered()
                    .then(|| serde_json::to_string(&reply).ok())
                    .flatten()
            };
            let request = ResolutionRequest {
                if_match,
                creating,
                settle,
            };
            let outcome = store.resolve(
                id,
                &user.name,
                now,
                Some(remember),
                respond,
                |row, base, current, listed| {
                    let empty = Object::new();
                    let parked = ParkedConflict {
                        open: row.open,
                        kind: row.kind,
                        base: base.map_or(&empty, |b| &b.fields),
                        local: &row.local,
                    };
                    let decision =
                        decide_resolution(parked, current, request, schema.as_ref(), listed);
                    let (resolved, settlement) = match decision {
                        ResolutionDecision::Closed => (
                            Resolved::Closed(row.resolution.as_ref().map(|r| r.by.clone())),
                            None,
                        ),
                        ResolutionDecision::Stale => (Resolved::Stale, None),
                        ResolutionDecision::Invalid(errors) => (Resolved::Invalid(errors), None),
                        ResolutionDecision::Write { fields, decided } => (
                            Resolved::Done,
                            Some(Settlement {
                                write: Some(fields.into_owned()),
                                choices,
                                decided,
                            }),
                        ),
                        ResolutionDecision::KeepDeleted => (
                            Resolved::Done,
                            Some(Settlement {
                                write: None,
                                choices,
                                decided: Vec::new(),
                            }),
                        ),
                    };
                    ((resolved, current.cloned()), settlement)
                },
            )?;
            let Some(((resolved, current), stored)) = outcome else {
                return Err(Problem::not_found(format!("no conflict {cid:?}")));
            };
            Ok(resolution_reply(
                &resolved,
                &current,
                stored.as_ref(),
                &conflict.record_id,
            ))
        })
        .await
    })
    .await
}

/// How a resolution attempt ended.
enum Resolved {
    Done,
    Closed(Option<String>),
    Stale,
    Invalid(Vec<FieldError>),
}

/// The answer to a resolution.
fn resolution_reply(
    resolved: &Resolved,
    current: &Option<StoredVersion<'static>>,
    stored: Option<&StoredVersion>,
    record_id: &str,
) -> Reply {
    match (resolved, stored) {
        (Resolved::Done, Some(v)) => record_reply(StatusCode::OK, record_id, v, None),
        (Resolved::Closed(by), _) => Problem::new(
            StatusCode::CONFLICT,
            "conflict-closed",
            "Already resolved",
            format!("{} resolved it first", by.as_deref().unwrap_or("someone")),
        )
        .with("resolved_by", by.clone().unwrap_or_default())
        .into(),
        (Resolved::Stale, _) => refused(Refusal::PreconditionFailed, current.as_ref()).into(),
        (Resolved::Invalid(errors), _) => refused(
            Refusal::Invalid {
                errors: errors.clone(),
                schema_changed: false,
            },
            current.as_ref(),
        )
        .into(),
        (Resolved::Done, None) => Problem::internal(&"a resolution stored nothing").into(),
    }
}

/// The conflict a path segment names (`c-000042`); 404 for anything else.
fn conflict_id(cid: &str) -> Result<ConflictId, Problem> {
    cid.parse()
        .map_err(|()| Problem::not_found(format!("no conflict {cid:?}")))
}

/// A queue line in the wire shape of `protocol`, the one the desk and the CLI read.
fn conflict_summary(row: &ConflictRow) -> ConflictSummary {
    ConflictSummary {
        id: row.id.to_string(),
        status: if row.open {
            Status::Open
        } else {
            Status::Resolved
        },
        kind: row.kind,
        record_type: row.record_type.clone(),
        record_id: row.record_id.clone(),
        submitted_by: row.submitted_by.clone(),
        device_id: row.device_id.clone(),
        captured_at: row.captured_at,
        received_at: row.received_at,
        conflicting_paths: row.paths.clone(),
        resolution: row.resolution.as_ref().map(|r| ResolutionInfo {
            by: r.by.clone(),
            at: r.at,
            resulting_version: r.version.map(|v| v.get()),
            kept_deleted: r.kept_deleted,
            choices: r.choices.clone(),
            fields: r.decided.clone(),
        }),
    }
}

fn conflict_detail(
    row: &ConflictRow,
    base: Option<&StoredVersion>,
    current: Option<&StoredVersion>,
    schema: Option<&TypeSchema>,
) -> serde_json::Value {
    let empty = Object::new();
    let outcome = crate::merge::merge(
        base.map_or(&empty, |b| &b.fields),
        &row.local,
        current.map_or(&empty, |c| &c.fields),
        schema,
        &crate::merge::NoPolicy,
    );
    let invalid = row.kind == ParkKind::InvalidReference;
    let fields: Vec<serde_json::Value> = outcome
        .fields
        .iter()
        .map(|f| {
            let mut entry = json!(f);
            if invalid && row.paths.contains(&f.path) {
                entry["class"] = json!("invalid");
            }
            entry
        })
        .collect();
    // The summary's members, then the three sides and each path's class.
    let mut detail = json!(conflict_summary(row));
    if let Some(members) = detail.as_object_mut() {
        members.insert(
            "base".into(),
            base.map_or(serde_json::Value::Null, |b| {
                json!({"version": b.version, "last_modified": b.last_modified, "modified_by": b.modified_by, "fields": b.fields})
            }),
        );
        members.insert("local".into(), json!({"fields": row.local}));
        members.insert(
            "server".into(),
            current.map_or(serde_json::Value::Null, |c| {
                json!({"version": c.version, "last_modified": c.last_modified, "modified_by": c.modified_by,
                       "deleted": c.deleted, "fields": c.fields, "etag": etag_of(c)})
            }),
        );
        members.insert("fields".into(), json!(fields));
    }
    detail
}

/// The body of `PUT /v1/master/{list}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MasterBody {
    items: Vec<serde_json::Map<String, serde_json::Value>>,
}

async fn put_master(
    State(state): State<Arc<AppState>>,
    Path(list): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Admin)?.clone();
        let bytes = json_body(&state.config, &headers, body).await?;
        let idempotency = idempotency_key(&headers)?;
        let fingerprint = fingerprint("PUT", &format!("/v1/master/{list}"), &bytes, None);
        let body: MasterBody = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::bad_request(format!("body: {e}")))?;
        let mut ids = Vec::with_capacity(body.items.len());
        for (i, item) in body.items.iter().enumerate() {
            match item.get("id").and_then(serde_json::Value::as_str) {
                Some(id) if !id.is_empty() => ids.push(id.to_string()),
                _ => {
                    return Err(Problem::bad_request(format!(
                        "body: items[{i}] needs a non-empty string id"
                    )));
                }
            }
        }
        let items = serde_json::to_string(&body.items).map_err(|e| Problem::internal(&e))?;
        blocking(state.clone(), move |store| -> Result<Reply, Problem> {
            let now = state.clock.now();
            let remember =
                match remember(&state.config, store, &user, &idempotency, fingerprint, now)? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => remember,
                };
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let respond = |master: &crate::store::MasterList| {
                master_reply(&list, master)
                    .ok()
                    .and_then(|reply| serde_json::to_string(&reply).ok())
            };
            let master = store
                .put_master(&list, &items, &ids, now, Some(remember), respond)
                .map_err(|e| Problem::internal(&e))?;
            master_reply(&list, &master)
        })
        .await
    })
    .await
}

async fn read_master(
    State(state): State<Arc<AppState>>,
    Path(list): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        let name = list.clone();
        let Some(master) = reading(state, move |store| store.master(&name)).await? else {
            return Err(Problem::not_found(format!("no master-data list {list:?}")));
        };
        let etag = master_etag(&master);
        let unchanged = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',').any(|t| {
                    t.trim() == "*"
                        || t.trim()
                            .parse::<Etag>()
                            .is_ok_and(|t| t.matches(master.version))
                })
            });
        if unchanged {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(value) = HeaderValue::from_str(&etag) {
                response.headers_mut().insert(header::ETAG, value);
            }
            return Ok(response);
        }
        Ok(master_reply(&list, &master)?.into_response())
    })
    .await
}

fn master_etag(master: &crate::store::MasterList) -> String {
    Etag::new(master.version, master.last_modified).to_string()
}

/// A list as sent; stored JSON that does not parse is a server error, never an empty list.
fn master_reply(list: &str, master: &crate::store::MasterList) -> Result<Reply, Problem> {
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).map_err(|e| Problem::internal(&e))
    };
    let (items, removed) = (parse(&master.items)?, parse(&master.removed)?);
    let etag = master_etag(master);
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"list": list, "items": items, "removed": removed}),
        Some(etag),
    ))
}

/// The body of a `PUT`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncBody<'a> {
    #[serde(borrow)]
    fields: Object<'a>,
    base_version: Option<Version>,
    #[serde(borrow)]
    device_id: Option<Cow<'a, str>>,
    device_seq: Option<u64>,
    #[serde(borrow)]
    captured_at: Option<Cow<'a, str>>,
    schema_version: Option<u32>,
}

impl SyncBody<'_> {
    /// A copy that borrows nothing, to hand to the writer thread.
    fn into_owned(self) -> SyncBody<'static> {
        SyncBody {
            fields: self.fields.into_owned(),
            base_version: self.base_version,
            device_id: self.device_id.map(|d| Cow::Owned(d.into_owned())),
            device_seq: self.device_seq,
            captured_at: self.captured_at.map(|c| Cow::Owned(c.into_owned())),
            schema_version: self.schema_version,
        }
    }
}

/// The body of a `POST`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fields: Object<'a>,
    #[serde(borrow)]
    device_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    captured_at: Option<Cow<'a, str>>,
    schema_version: Option<u32>,
}

#[derive(Deserialize)]
struct WriteQuery {
    #[serde(default)]
    dry_run: bool,
}

impl CreateBody<'_> {
    /// A copy that borrows nothing, to hand to the writer thread.
    fn into_owned(self) -> CreateBody<'static> {
        CreateBody {
            id: self.id.map(|i| Cow::Owned(i.into_owned())),
            fields: self.fields.into_owned(),
            device_id: self.device_id.map(|d| Cow::Owned(d.into_owned())),
            captured_at: self.captured_at.map(|c| Cow::Owned(c.into_owned())),
            schema_version: self.schema_version,
        }
    }
}

async fn sync(
    State(state): State<Arc<AppState>>,
    Path((record_type, id)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<WriteQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Technician)?.clone();
        schema_of(&state.config, &record_type)?;
        let exists = {
            let (t, i) = (record_type.clone(), id.clone());
            reading(state.clone(), move |store| {
                store.exists(RecordKey {
                    record_type: &t,
                    id: &i,
                })
            })
            .await?
        };
        if !exists {
            return Err(Problem::not_found("no such record (create it with POST)"));
        }
        let bytes = json_body(&state.config, &headers, body).await?;
        let idempotency = if query.dry_run {
            String::new()
        } else {
            idempotency_key(&headers)?
        };
        let if_match = headers
            .get(header::IF_MATCH)
            .map(|v| parse_if_match(v.as_bytes()));
        // Parsing and fingerprinting happen here, beside the other requests, not on the
        // one writer thread.
        let body: SyncBody = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::bad_request(format!("body: {e}")))?;
        let body = body.into_owned();
        let fingerprint = fingerprint("PUT", &format!("/v1/{record_type}/{id}"), &bytes, if_match);
        blocking(state.clone(), move |store| {
            let now = state.clock.now();
            let remember = if query.dry_run {
                None
            } else {
                match remember(&state.config, store, &user, &idempotency, fingerprint, now)? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => Some(remember),
                }
            };
            let (captured_at, other_errors) = captured_at(body.captured_at.as_deref());
            let put = Put {
                user: &user.name,
                base_version: body.base_version,
                if_match,
                fields: body.fields,
                device_id: body.device_id.as_deref(),
                device_seq: body.device_seq,
                schema_version: body.schema_version,
                other_errors,
            };
            let author = Author {
                user: &user.name,
                device_id: put.device_id,
                device_seq: put.device_seq,
                captured_at,
            };
            let key = RecordKey {
                record_type: &record_type,
                id: &id,
            };
            let schema = state.config.types.get(&record_type).expect("checked above");
            let decide = |known: &Known| {
                if let Some(parked) = &known.parked_conflict {
                    let current = known.versions.last().cloned();
                    return (Outcome::Parked(parked.clone(), current), Effect::Nothing);
                }
                let current = known.versions.last().cloned();
                match decide_put(
                    &put,
                    known.versions,
                    schema,
                    known.applied_device_seq,
                    known.listed,
                ) {
                    Decision::Apply { fields, report } => (
                        Outcome::Merged(report),
                        Effect::Append {
                            fields: fields.into_owned(),
                            deleted: false,
                        },
                    ),
                    Decision::NoOp { report } => {
                        (Outcome::Current(current, Some(report)), Effect::Nothing)
                    }
                    Decision::Superseded | Decision::Repeat => {
                        (Outcome::Current(current, None), Effect::Nothing)
                    }
                    Decision::Park { kind, paths } => {
                        park(kind, paths, put.base_version, &put.fields, current)
                    }
                    Decision::Refuse(refusal) => {
                        (Outcome::Refused(refusal, current), Effect::Nothing)
                    }
                }
            };
            written(
                store,
                key,
                put.base_version,
                &author,
                now,
                remember,
                dry_run_of(query.dry_run, decide),
            )
        })
        .await
    })
    .await
}

async fn create(
    State(state): State<Arc<AppState>>,
    Path(record_type): Path<String>,
    axum::extract::Query(query): axum::extract::Query<WriteQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Technician)?.clone();
        schema_of(&state.config, &record_type)?;
        let bytes = json_body(&state.config, &headers, body).await?;
        let idempotency = if query.dry_run {
            String::new()
        } else {
            idempotency_key(&headers)?
        };
        let body: CreateBody = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::bad_request(format!("body: {e}")))?;
        let body = body.into_owned();
        let fingerprint = fingerprint("POST", &format!("/v1/{record_type}"), &bytes, None);
        blocking(state.clone(), move |store| {
            let id = match body.id.as_deref() {
                Some("") => return Err(Problem::bad_request("body: id must not be empty")),
                Some(id) => id.to_string(),
                None => new_id(),
            };
            let now = state.clock.now();
            let remember = if query.dry_run {
                None
            } else {
                match remember(&state.config, store, &user, &idempotency, fingerprint, now)? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => Some(remember),
                }
            };
            let (captured_at, other_errors) = captured_at(body.captured_at.as_deref());
            let author = Author {
                user: &user.name,
                device_id: body.device_id.as_deref(),
                device_seq: None,
                captured_at,
            };
            let key = RecordKey {
                record_type: &record_type,
                id: &id,
            };
            let schema = state.config.types.get(&record_type).expect("checked above");
            let decide = |known: &Known| {
                let current = known.versions.last().cloned();
                if current.is_none() && !other_errors.is_empty() {
                    let refusal = Refusal::Invalid {
                        errors: other_errors.clone(),
                        schema_changed: false,
                    };
                    return (Outcome::Refused(refusal, None), Effect::Nothing);
                }
                match decide_create(
                    body.fields.clone(),
                    current.as_ref(),
                    schema,
                    body.schema_version,
                    known.listed,
                ) {
                    Create::New(fields) => (
                        Outcome::Created,
                        Effect::Append {
                            fields: fields.into_owned(),
                            deleted: false,
                        },
                    ),
                    Create::Resent => (Outcome::Current(current, None), Effect::Nothing),
                    Create::AlreadyExists => (Outcome::Exists(current), Effect::Nothing),
                    Create::Park { kind, paths } => park(kind, paths, None, &body.fields, None),
                    Create::Refuse(refusal) => {
                        (Outcome::Refused(refusal, current), Effect::Nothing)
                    }
                }
            };
            written(
                store,
                key,
                None,
                &author,
                now,
                remember,
                dry_run_of(query.dry_run, decide),
            )
        })
        .await
    })
    .await
}

/// A submission to park whole, and the answer it gets.
fn park(
    kind: ParkKind,
    paths: Vec<String>,
    base_version: Option<Version>,
    local: &Object,
    current: Option<StoredVersion<'static>>,
) -> (Outcome, Effect) {
    let effect = Effect::Park {
        kind,
        base_version: base_version.map(Version::get),
        local: local.clone().into_owned(),
        paths: paths.clone(),
    };
    (Outcome::Park(kind, paths, current), effect)
}

/// For `?dry_run=true`: the same decision, nothing stored (section 5's pre-sync check).
fn dry_run_of(
    dry_run: bool,
    decide: impl FnOnce(&Known) -> (Outcome, Effect),
) -> impl FnOnce(&Known) -> (Outcome, Effect) {
    move |known| {
        let (outcome, effect) = decide(known);
        if !dry_run {
            return (outcome, effect);
        }
        let outcome = match (outcome, effect) {
            (Outcome::Merged(report), Effect::Append { fields, .. }) => {
                Outcome::WouldApply(report, fields)
            }
            (Outcome::Created, Effect::Append { fields, .. }) => {
                Outcome::WouldApply(Report::default(), fields)
            }
            (Outcome::Park(kind, paths, current), _) => Outcome::WouldPark(kind, paths, current),
            (outcome, _) => outcome,
        };
        (outcome, Effect::Nothing)
    }
}

/// Stores a decided write and its answer, under its idempotency key, in one transaction.
fn written(
    store: &mut SqliteStore,
    key: RecordKey,
    from: Option<Version>,
    author: &Author,
    now: UtcMillis,
    remember: Option<Remember>,
    decide: impl FnOnce(&Known) -> (Outcome, Effect),
) -> Answer {
    let mut reply = None;
    let respond = |outcome: &Outcome, stored: &Stored| {
        let made = outcome.reply(key.record_type, key.id, stored);
        let text = made
            .remembered()
            .then(|| serde_json::to_string(&made).ok())
            .flatten();
        reply = Some(made);
        text
    };
    let (outcome, stored) = store
        .write(key, from, author, now, remember, decide, respond)
        .map_err(|e| Problem::internal(&e))?;
    // Without a key to remember under, the store asks for no answer: make it here.
    Ok(reply.unwrap_or_else(|| outcome.reply(key.record_type, key.id, &stored)))
}

/// What an idempotency key says about a write before it runs.
enum Remembering<'a> {
    New(Remember<'a>),
    Replay(Reply),
}

/// Looks the key up (section 4): the same request again gets the stored answer, another
/// request under the same key 422.
fn remember<'a>(
    config: &Config,
    store: &SqliteStore,
    user: &'a User,
    key: &'a str,
    fingerprint: [u8; 32],
    now: UtcMillis,
) -> Result<Remembering<'a>, Problem> {
    let ttl_hours = config.idempotency_ttl_hours;
    match store.remembered(&user.name, key, ttl_hours, now)? {
        None => Ok(Remembering::New(Remember {
            user: &user.name,
            key,
            fingerprint,
            ttl_hours,
        })),
        Some(found) if found.fingerprint == fingerprint => {
            let reply: Reply =
                serde_json::from_str(&found.answer).map_err(|e| Problem::internal(&e))?;
            Ok(Remembering::Replay(Reply {
                replayed: true,
                ..reply
            }))
        }
        Some(_) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reuse",
            "Idempotency-Key reused",
            "this key was used for another request",
        )),
    }
}

/// SHA-256 of the method, the path, `If-Match` and the body's canonical JSON (parsed, keys
/// sorted): whitespace and key order are no difference.
fn fingerprint(method: &str, path: &str, body: &[u8], if_match: Option<IfMatch>) -> [u8; 32] {
    let canonical = crate::model::Json::parse_slice(body)
        .map(|v| v.to_string())
        .unwrap_or_default();
    // The precondition in words of our own: a Debug string may change with a dependency,
    // and a retry spanning an upgrade would then be refused as key reuse.
    let precondition = match if_match {
        None => String::new(),
        Some(IfMatch::Any) => "*".into(),
        Some(IfMatch::Tag(tag)) => tag.to_string(),
        Some(IfMatch::Unusable) => "unusable".into(),
    };
    let mut hasher = Sha256::new();
    for part in [method, path, &precondition, &canonical] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod fingerprint_tests {
    use super::*;

    #[test]
    fn the_fingerprint_names_the_precondition_in_our_own_words() {
        let tag: Etag = "\"3-2026-11-20T10:00:00.000Z\"".parse().unwrap();
        let mut expected = Sha256::new();
        for part in ["DELETE", "/v1/t/1", "\"3-2026-11-20T10:00:00.000Z\"", ""] {
            expected.update(part.as_bytes());
            expected.update([0]);
        }
        let expected: [u8; 32] = expected.finalize().into();
        assert_eq!(
            fingerprint("DELETE", "/v1/t/1", b"", Some(IfMatch::Tag(tag))),
            expected
        );
    }
}

/// An answer as sent, and as remembered under an idempotency key.
#[derive(Debug, serde::Serialize, Deserialize)]
struct Reply {
    status: u16,
    problem: bool,
    etag: Option<String>,
    location: Option<String>,
    body: String,
    #[serde(skip)]
    replayed: bool,
}

impl Reply {
    fn json(status: StatusCode, body: &serde_json::Value, etag: Option<String>) -> Self {
        Self {
            status: status.as_u16(),
            problem: false,
            etag,
            location: None,
            body: body.to_string(),
            replayed: false,
        }
    }

    /// Answers a retry may get again: those to requests that passed authentication and
    /// parsing (2xx, 409, 410, 412, 422, 428), not 5xx.
    fn remembered(&self) -> bool {
        matches!(self.status, 200..=299 | 409 | 410 | 412 | 422 | 428)
    }
}

impl From<Problem> for Reply {
    fn from(problem: Problem) -> Self {
        let (status, body, etag) = problem.into_parts();
        Self {
            status: status.as_u16(),
            problem: true,
            etag,
            location: None,
            body,
            replayed: false,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body).into_response();
        let headers = response.headers_mut();
        let content_type = if self.problem {
            "application/problem+json"
        } else {
            "application/json"
        };
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        for (name, value) in [(header::ETAG, self.etag), (header::LOCATION, self.location)] {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name, value);
            }
        }
        if self.replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

/// What a write's decision means for its answer, once stored.
enum Outcome {
    Created,
    WouldApply(Report, Object<'static>),
    WouldPark(ParkKind, Vec<String>, Option<StoredVersion<'static>>),
    Deleted,
    Missing,
    Merged(Report),
    Current(Option<StoredVersion<'static>>, Option<Report>),
    Exists(Option<StoredVersion<'static>>),
    Park(ParkKind, Vec<String>, Option<StoredVersion<'static>>),
    Parked(Parked, Option<StoredVersion<'static>>),
    Refused(Refusal, Option<StoredVersion<'static>>),
}

impl Outcome {
    fn reply(&self, record_type: &str, id: &str, stored: &Stored) -> Reply {
        match (self, stored) {
            (Outcome::Created, Stored::Version(v)) => Reply {
                location: Some(format!("/v1/{record_type}/{id}")),
                ..record_reply(StatusCode::CREATED, id, v, None)
            },
            (Outcome::WouldApply(report, fields), _) => Reply::json(
                StatusCode::OK,
                &json!({"dry_run": true, "merge": report, "fields": fields}),
                None,
            ),
            (Outcome::WouldPark(kind, paths, current), _) => {
                let mut problem = parked(*kind, "", paths.clone(), current.as_ref());
                problem.without("conflict_id");
                problem.with("dry_run", true).into()
            }
            (Outcome::Deleted, Stored::Version(v)) => record_reply(StatusCode::OK, id, v, None),
            (Outcome::Missing, _) => Problem::not_found("no such record").into(),
            (Outcome::Merged(report), Stored::Version(v)) => {
                record_reply(StatusCode::OK, id, v, Some(json!(report)))
            }
            (Outcome::Current(Some(v), report), _) => {
                let report = report
                    .as_ref()
                    .map_or_else(|| json!({"superseded": true}), |r| json!(r));
                record_reply(StatusCode::OK, id, v, Some(report))
            }
            (Outcome::Exists(Some(v)), _) => Problem::new(
                StatusCode::CONFLICT,
                "already-exists",
                "Already exists",
                format!("a record with id {id:?} exists with other fields"),
            )
            .with_etag(etag_of(v))
            .into(),
            (Outcome::Park(kind, paths, current), Stored::Conflict(cid)) => {
                parked(*kind, &cid.to_string(), paths.clone(), current.as_ref()).into()
            }
            (Outcome::Parked(p, current), _) => {
                parked(p.kind, &p.id.to_string(), p.paths.clone(), current.as_ref()).into()
            }
            (Outcome::Refused(refusal, current), _) => {
                refused(refusal.clone(), current.as_ref()).into()
            }
            _ => Problem::internal(&"a decision and what was stored disagree").into(),
        }
    }
}

fn parked(
    kind: ParkKind,
    conflict_id: &str,
    paths: Vec<String>,
    current: Option<&StoredVersion>,
) -> Problem {
    let (status, name, title, detail) = match kind {
        ParkKind::EditConflict => (
            StatusCode::CONFLICT,
            "edit-conflict",
            "Edit conflict",
            "another edit changed the same fields",
        ),
        ParkKind::DeletedOnServer => (
            StatusCode::CONFLICT,
            "deleted-on-server",
            "Deleted on the server",
            "the record was deleted since the form was loaded",
        ),
        ParkKind::InvalidReference => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-reference",
            "Invalid reference",
            "a reference names no item of its master-data list",
        ),
    };
    let problem = Problem::new(
        status,
        name,
        title,
        format!("{detail}; the submission is kept in the queue for a supervisor"),
    )
    .with("conflict_id", conflict_id)
    .with("conflicting_paths", paths);
    match current {
        Some(v) => problem.with_etag(etag_of(v)),
        None => problem,
    }
}

fn refused(refusal: Refusal, current: Option<&StoredVersion>) -> Problem {
    match refusal {
        Refusal::PreconditionRequired => Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Base version required",
            "send base_version (the version the form was loaded from) or If-Match",
        ),
        Refusal::PreconditionFailed => {
            let problem = Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Stale If-Match",
                "If-Match does not name the current version",
            );
            match current {
                Some(v) => problem.with_etag(etag_of(v)),
                None => problem,
            }
        }
        Refusal::Invalid {
            errors,
            schema_changed,
        } => {
            let problem = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid fields",
                format!("{} fault(s) in the submission", errors.len()),
            )
            .with("errors", serde_json::to_value(errors).unwrap_or_default());
            if schema_changed {
                problem.with("schema_changed", true)
            } else {
                problem
            }
        }
    }
}

/// A record as the API shows it, serialized straight from the stored version (a
/// `serde_json::Value` in between would copy every field once more).
#[derive(serde::Serialize)]
struct RecordOut<'v> {
    id: &'v str,
    version: Version,
    last_modified: UtcMillis,
    modified_by: &'v str,
    deleted: bool,
    fields: &'v Object<'v>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merge: Option<serde_json::Value>,
}

impl<'v> RecordOut<'v> {
    fn of(id: &'v str, v: &'v StoredVersion, merge: Option<serde_json::Value>) -> Self {
        Self {
            id,
            version: v.version,
            last_modified: v.last_modified,
            modified_by: &v.modified_by,
            deleted: v.deleted,
            fields: &v.fields,
            merge,
        }
    }
}

fn record_json(id: &str, v: &StoredVersion) -> serde_json::Value {
    serde_json::to_value(RecordOut::of(id, v, None)).unwrap_or_default()
}

fn record_reply(
    status: StatusCode,
    id: &str,
    v: &StoredVersion,
    merge: Option<serde_json::Value>,
) -> Reply {
    let body = serde_json::to_string(&RecordOut::of(id, v, merge)).unwrap_or_default();
    Reply {
        status: status.as_u16(),
        problem: false,
        etag: Some(etag_of(v)),
        location: None,
        body,
        replayed: false,
    }
}

fn etag_of(v: &StoredVersion) -> String {
    Etag::new(v.version, v.last_modified).to_string()
}

async fn answer<R: IntoResponse>(work: impl Future<Output = Result<R, Problem>>) -> Response {
    match work.await {
        Ok(reply) => reply.into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Runs a read off the async threads, on one of the read connections.
async fn reading<T: Send + 'static, E: Into<Problem>>(
    state: Arc<AppState>,
    work: impl FnOnce(&SqliteStore) -> Result<T, E> + Send + 'static,
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

/// Runs a write on the writer thread; answers once it is committed.
async fn blocking<T: Send + 'static, E: Into<Problem>>(
    state: Arc<AppState>,
    work: impl FnOnce(&mut SqliteStore) -> Result<T, E> + Send + 'static,
) -> Result<T, Problem> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |store| {
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
        .send(job)
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

fn signed_in<'c>(config: &'c Config, headers: &HeaderMap, role: Role) -> Result<&'c User, Problem> {
    let mut given = headers.get_all(header::AUTHORIZATION).iter();
    let (first, second) = (given.next(), given.next());
    if second.is_some() {
        return Err(Problem::unauthorized(
            "send one Authorization header, not several",
        ));
    }
    // The scheme's name is matched case-insensitively (RFC 9110 section 11.1).
    let token = first
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .ok_or_else(|| Problem::unauthorized("send Authorization: Bearer <token>"))?;
    let user = config
        .authenticate(token.trim())
        .ok_or_else(|| Problem::unauthorized("the token was refused"))?;
    if user.role < role {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not allowed",
            format!("this needs the {role:?} role"),
        ));
    }
    Ok(user)
}

fn schema_of<'c>(config: &'c Config, record_type: &str) -> Result<&'c TypeSchema, Problem> {
    config
        .types
        .get(record_type)
        .ok_or_else(|| Problem::not_found(format!("no record type {record_type:?}")))
}

/// The body, within the size limit (413), declared as JSON (415).
async fn json_body(
    config: &Config,
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, Problem> {
    // A body that does not arrive in time is 408: a slow client holds nothing for long.
    let read = axum::body::to_bytes(body, config.max_body_bytes);
    let read = tokio::time::timeout(config.request_timeout, read)
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
                format!(
                    "the body did not arrive within {} s",
                    config.request_timeout.as_secs()
                ),
            )
        })?;
    let bytes = read.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Body too large",
            format!("the limit is {} bytes", config.max_body_bytes),
        )
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/json" && !media.ends_with("+json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-json",
            "Not JSON",
            "send Content-Type: application/json",
        ));
    }
    Ok(bytes)
}

/// Every write carries an `Idempotency-Key` of 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let key = headers
        .get("idempotency-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if key.is_empty() || key.len() > 255 || !key.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Problem::bad_request(
            "every write needs an Idempotency-Key header of 1-255 visible ASCII characters",
        ));
    }
    Ok(String::from_utf8_lossy(key).into_owned())
}

fn parse_if_match(value: &[u8]) -> IfMatch {
    match std::str::from_utf8(value).map(str::trim) {
        Ok("*") => IfMatch::Any,
        Ok(text) => text.parse().map_or(IfMatch::Unusable, IfMatch::Tag),
        Err(_) => IfMatch::Unusable,
    }
}

/// `captured_at` as an instant, or the fault to report with the fields'.
fn captured_at(text: Option<&str>) -> (Option<UtcMillis>, Vec<FieldError>) {
    match text.map(str::parse::<UtcMillis>) {
        None => (None, Vec::new()),
        Some(Ok(t)) => (Some(t), Vec::new()),
        Some(Err(e @ (TimeError::NoOffset(_) | TimeError::Malformed(_)))) => (
            None,
            vec![FieldError {
                path: "/captured_at".into(),
                message: e.to_string(),
            }],
        ),
    }
}

/// A new record id: time-ordered and unique within this process.
fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("r-{:x}-{n:x}", UtcMillis::now().as_millis())
}

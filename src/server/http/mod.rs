//! The HTTP routes: thin handlers that check the request in the contract's order (401,
//! 403, 404, 413, 415, 400, then the sync rules: 428, 412, 422, 409) and store what the
//! rules decide.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json as JsonBody, Router};
use serde::Deserialize;
use serde_json::json;

use super::config::{Config, Role, User};
use super::problem::Problem;
use crate::model::json::Json;
use crate::model::json::Object;
use crate::model::{Etag, FieldError, TimeError, TypeSchema, UtcMillis, Version};
use crate::protocol::{
    BaseSide, ConflictDetail, ConflictSummary, FieldRow, LocalSide, ResolutionInfo, ServerSide,
    Status,
};
use crate::store::{
    Announced, Author, ConflictId, ConflictRow, Database, Effect, Engine, Known, OwnedWriteAhead,
    Parked, RecordKey, Remember, Settlement, SqliteStore, Store, Stored, WalLimit, WriteAhead,
};
use crate::sync::{
    Create, Decision, IfMatch, ParkKind, ParkedConflict, Put, Refusal, Report, ResolutionDecision,
    ResolutionRequest, Settle, StoredVersion, decide_create, decide_put, decide_resolution,
    if_match_holds,
};
use sha2::{Digest, Sha256};

mod audit;
mod claims;
mod conflicts;
mod events;
mod extract;
mod master;
mod pipeline;
mod records;
mod reply;
mod state;
mod sync_log;
mod writes;

use audit::*;
use claims::*;
use conflicts::*;
use events::*;
use extract::*;
use master::*;
use pipeline::*;
use records::*;
use reply::*;
pub use state::AppState;
use state::*;
use sync_log::*;
use writes::*;

/// Every route: method, path and handler. The router is made from it, and so is the
/// list of routes `assets/openapi.yaml` is held to.
fn table() -> Vec<(&'static str, &'static str, MethodRouter<Arc<AppState>>)> {
    use axum::routing::{delete as on_delete, post, put};
    vec![
        (
            "GET",
            "/healthz",
            get(|| async { JsonBody(json!({"status": "ok"})) }),
        ),
        ("GET", "/v1/schema/{record_type}", get(read_schema)),
        ("GET", "/v1/conflicts", get(list_conflicts)),
        ("GET", "/v1/conflicts/{cid}", get(read_conflict)),
        (
            "POST",
            "/v1/conflicts/{cid}/resolution",
            post(resolve_conflict),
        ),
        ("POST", "/v1/conflicts/{cid}/claim", post(claim_conflict)),
        (
            "DELETE",
            "/v1/conflicts/{cid}/claim",
            on_delete(release_conflict),
        ),
        ("GET", "/v1/events", get(queue_events)),
        ("GET", "/v1/syncs", get(list_syncs)),
        ("GET", "/v1/stats", get(sync_stats)),
        ("GET", "/v1/audit", get(read_audit)),
        ("GET", "/v1/master/{list}", get(read_master)),
        ("PUT", "/v1/master/{list}", put(put_master)),
        ("GET", "/v1/{record_type}", get(feed)),
        ("POST", "/v1/{record_type}", post(create)),
        ("GET", "/v1/{record_type}/{id}", get(read)),
        ("PUT", "/v1/{record_type}/{id}", put(sync)),
        ("DELETE", "/v1/{record_type}/{id}", on_delete(delete)),
        ("GET", "/v1/{record_type}/{id}/versions", get(read_history)),
        (
            "GET",
            "/v1/{record_type}/{id}/versions/{n}",
            get(read_version),
        ),
    ]
}

/// Every route the server serves, as (method, path).
pub fn routes() -> Vec<(&'static str, &'static str)> {
    table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The router: every route of the table, problem details for everything else.
pub fn router(state: Arc<AppState>) -> Router {
    let mut by_path: Vec<(&str, MethodRouter<Arc<AppState>>)> = Vec::new();
    for (method, path, handler) in table() {
        let counters = super::metrics::RouteMetrics::new(&state.metrics, method, path);
        let handler = if writes_records(method, path) {
            refusals_logged(handler, state.clone(), method)
        } else {
            handler
        };
        let handler = observed(handler, counters);
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, routed)) => *routed = std::mem::take(routed).merge(handler),
            None => by_path.push((path, handler)),
        }
    }
    let routed = by_path
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
        .fallback(|uri: axum::http::Uri| async move {
            Problem::not_found(format!("no route for {}", uri.path()))
        })
        .layer(axum::middleware::map_response(super::problem::as_problem));
    super::log::with_request_lines(routed).with_state(state)
}

/// Counts every request of one route: its status, its latency, what a write came to.
/// Never a token or a body.
fn observed(
    handler: MethodRouter<Arc<AppState>>,
    counters: super::metrics::RouteMetrics,
) -> MethodRouter<Arc<AppState>> {
    let counters = Arc::new(counters);
    handler.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let counters = counters.clone();
            async move {
                let started = std::time::Instant::now();
                let response = next.run(request).await;
                let outcome = response
                    .extensions()
                    .get::<super::metrics::WriteOutcome>()
                    .copied();
                counters.count(
                    response.status().as_u16(),
                    started.elapsed().as_secs_f64(),
                    outcome,
                );
                response
            }
        },
    ))
}

/// `GET /metrics` (Prometheus text, no token) on its own listener.
pub async fn serve_metrics(state: Arc<AppState>, listener: tokio::net::TcpListener) {
    let metrics = Router::new()
        .route(
            "/metrics",
            get(|State(state): State<Arc<AppState>>| async move {
                let depth = reading(state.clone(), |store| store.open_conflicts()).await;
                if let Ok(depth) = depth {
                    state.metrics.queue_open.set(depth as i64);
                }
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    state.metrics.render(),
                )
            }),
        )
        .with_state(state);
    if let Err(e) = axum::serve(listener, metrics).await {
        tracing::error!("metrics: {e}");
    }
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
    let stop = async {
        stop.await;
        state.begin_stopping();
    };
    super::listen::serve_until(listener, router(state.clone()), limits, stop).await;
}

type Answer = Result<Reply, Problem>;

//! The server's log: one line a request (its id, method, path, status, latency; never a
//! token, a query or a body) and the server's own events, as text or JSON on stderr.

use axum::Router;
use axum::http::Request;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::config::LogFormat;

/// The header a request's id travels in: taken from the client when it sends one (so a
/// proxy's id runs through), made up otherwise, and sent back with the answer.
const REQUEST_ID: &str = "x-request-id";

/// Starts writing log lines on stderr; a second call keeps the first.
pub fn start(format: LogFormat) {
    let lines = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(Level::INFO)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => lines.try_init(),
        LogFormat::Json => lines.json().try_init(),
    };
}

/// Gives every request an id and a line when it is answered.
pub fn with_request_lines<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let header = axum::http::HeaderName::from_static(REQUEST_ID);
    router
        .layer(PropagateRequestIdLayer::new(header.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|id| id.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        id,
                        method = %request.method(),
                        path = request.uri().path(),
                    )
                })
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(SetRequestIdLayer::new(header, RequestIds::new()))
}

/// Made-up request ids: a random number drawn once a server, then a count. Unique, which
/// is all a request id needs to be, and no system call a request, as a random UUID each
/// time was (the kernel's random numbers, 1 – 2 µs of every request).
#[derive(Clone)]
struct RequestIds {
    server: u64,
    next: Arc<AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        Self {
            server: fastrand::u64(..),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:016x}-{n:08x}", self.server);
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(ids: &mut RequestIds) -> String {
        let request = Request::new(());
        let id = ids.make_request_id(&request).unwrap();
        id.header_value().to_str().unwrap().to_owned()
    }

    #[test]
    fn made_up_request_ids_differ_within_a_server_and_between_servers() {
        let mut first = RequestIds::new();
        let mut copy = first.clone();
        let ids = [made(&mut first), made(&mut copy), made(&mut first)];
        assert_ne!(ids[0], ids[1], "clones share the count");
        assert_ne!(ids[1], ids[2]);
        assert!(ids[0].len() >= 16, "{}", ids[0]);
        let other = made(&mut RequestIds::new());
        assert_ne!(
            &other[..16],
            &ids[0][..16],
            "each server draws its own number"
        );
    }
}

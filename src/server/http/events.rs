//! `GET /v1/events`: the queue's changes as Server-Sent Events, each with its change
//! number as `id`, so a client that reconnects with `Last-Event-ID` misses none. A stream
//! reads the store on its own; writers only bump a watch, so a slow or gone client never
//! holds one back.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};

use super::*;
use crate::store::QueueEvent;

/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// Read again this often even without a wake-up (a missed notification costs at most this).
const POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Events a stream reads at once.
const PAGE: usize = 100;

/// `GET /v1/events` (supervisor+).
pub(super) async fn queue_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Supervisor)?;
        let resume = match headers.get("last-event-id") {
            Some(id) => Some(
                id.to_str()
                    .ok()
                    .and_then(|id| id.trim().parse::<u64>().ok())
                    .ok_or_else(|| {
                        Problem::bad_request("Last-Event-ID is not an id this server sent")
                    })?,
            ),
            None => None,
        };
        // A new subscriber hears what happens from now on; a returning one, what it missed.
        let from = match resume {
            Some(seq) => seq,
            None => reading(state.clone(), |store| store.last_event()).await?,
        };
        let stream = futures_util::stream::unfold(
            Stream {
                state,
                after: from,
                pending: VecDeque::new(),
            },
            next_event,
        );
        Ok(Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
            .into_response())
    })
    .await
}

/// Where a stream is: the last change sent and those read but not yet sent.
struct Stream {
    state: Arc<AppState>,
    after: u64,
    pending: VecDeque<Event>,
}

/// The next event of a stream, waiting for one; `None` ends the stream (the server is
/// stopping, or the store failed: the client reconnects with `Last-Event-ID`).
async fn next_event(mut stream: Stream) -> Option<(Result<Event, Infallible>, Stream)> {
    let mut changed = stream.state.queue_changed.subscribe();
    loop {
        if let Some(event) = stream.pending.pop_front() {
            return Some((Ok(event), stream));
        }
        if stream.state.stopping() {
            return None;
        }
        let after = stream.after;
        let page = reading(stream.state.clone(), move |store| {
            store.events_after(after, PAGE)
        })
        .await
        .ok()?;
        if let Some(last) = page.last() {
            stream.after = last.seq;
            let now = stream.state.clock.now();
            stream.pending = page.iter().map(|event| sse_event(event, now)).collect();
            continue;
        }
        let _ = tokio::time::timeout(POLL, changed.changed()).await;
    }
}

fn sse_event(event: &QueueEvent, now: UtcMillis) -> Event {
    let summary = conflict_summary(&event.conflict, now);
    Event::default()
        .id(event.seq.to_string())
        .event(event.kind.name())
        .json_data(summary)
        .unwrap_or_else(|_| Event::default().comment("an event that did not serialize"))
}

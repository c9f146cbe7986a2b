//! The live queue of a server: its changes as they happen (`GET /v1/events`, read as
//! Server-Sent Events) and advisory claims.

use std::time::Duration;

use reqwest::StatusCode;

use super::server::{parse, read, refused, send};
use super::{ServerClient, SourceError};
use crate::protocol::{ClaimInfo, ConflictSummary, QueueEventKind};

/// A change of the queue as the server numbered it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEvent {
    pub id: u64,
    pub kind: QueueEventKind,
    pub summary: ConflictSummary,
}

/// What a claim came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimAnswer {
    Taken(ClaimInfo),
    /// Another supervisor is on it.
    HeldBy(ClaimInfo),
    /// Resolved meanwhile: nothing to claim.
    Closed,
}

/// The server sends a comment line every 15 s: this long without a byte, it is gone.
const QUIET: Duration = Duration::from_secs(45);

/// An event not ended in this many bytes is not one.
const MAX_EVENT_BYTES: usize = 1 << 20;

/// The events of one connection, read as they come.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl ServerClient {
    /// Subscribes to the queue's changes, after `last_event_id` when resuming.
    pub async fn events(&self, last_event_id: Option<u64>) -> Result<EventStream, SourceError> {
        // No overall timeout: the stream is meant to last (`QUIET` watches it instead).
        let mut request = self
            .http
            .get(format!("{}/v1/events", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(60 * 60 * 24 * 365));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = send(request).await?;
        if response.status() != StatusCode::OK {
            let (status, body) = read(response).await?;
            return Err(refused(status, &body));
        }
        Ok(EventStream {
            response,
            buffer: String::new(),
        })
    }

    /// `POST /v1/conflicts/{cid}/claim`: takes or renews a claim.
    pub async fn claim(&self, id: &str) -> Result<ClaimAnswer, SourceError> {
        let request = self
            .http
            .post(format!("{}/v1/conflicts/{id}/claim", self.base))
            .bearer_auth(&self.token);
        let (status, body) = read(send(request).await?).await?;
        match status {
            StatusCode::OK => Ok(ClaimAnswer::Taken(parse(&body)?)),
            StatusCode::CONFLICT => match parse::<ClaimInfo>(&body) {
                Ok(holder) => Ok(ClaimAnswer::HeldBy(holder)),
                Err(_) => Ok(ClaimAnswer::Closed),
            },
            _ => Err(refused(status, &body)),
        }
    }

    /// `DELETE /v1/conflicts/{cid}/claim`: releases one's own claim.
    pub async fn release(&self, id: &str) -> Result<(), SourceError> {
        let request = self
            .http
            .delete(format!("{}/v1/conflicts/{id}/claim", self.base))
            .bearer_auth(&self.token);
        let (status, body) = read(send(request).await?).await?;
        match status {
            StatusCode::NO_CONTENT | StatusCode::CONFLICT | StatusCode::NOT_FOUND => Ok(()),
            _ => Err(refused(status, &body)),
        }
    }
}

impl EventStream {
    /// The next event; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<QueueEvent>, SourceError> {
        loop {
            while let Some((block, rest)) = split_block(&self.buffer) {
                let event = parse_block(&block);
                self.buffer = rest;
                if let Some(event) = event {
                    return event.map(Some);
                }
            }
            if self.buffer.len() > MAX_EVENT_BYTES {
                return Err(SourceError::Garbage("an event of over 1 MiB".into()));
            }
            let chunk = tokio::time::timeout(QUIET, self.response.chunk())
                .await
                .map_err(|_| SourceError::Unreachable("the event stream went quiet".into()))?
                .map_err(|e| SourceError::Unreachable(super::server::describe(&e)))?;
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// The first whole block (up to a blank line) and what follows it.
fn split_block(buffer: &str) -> Option<(String, String)> {
    let normalized;
    let text = if buffer.contains('\r') {
        normalized = buffer.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        buffer
    };
    let end = text.find("\n\n")?;
    Some((text[..end].to_string(), text[end + 2..].to_string()))
}

/// One block of the stream: an event, or `None` for a comment or a block without an
/// event name (the keep-alive lines).
fn parse_block(block: &str) -> Option<Result<QueueEvent, SourceError>> {
    let (mut id, mut name, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value),
            "event" => name = Some(value),
            "data" => data.push(value),
            _ => {}
        }
    }
    let name = name?;
    let garbage = |what: String| Some(Err(SourceError::Garbage(what)));
    let Some(kind) = QueueEventKind::from_name(name) else {
        return garbage(format!("an event the desk does not know: {name:?}"));
    };
    let Some(id) = id.and_then(|id| id.parse().ok()) else {
        return garbage(format!("a {name} event without a numeric id"));
    };
    match serde_json::from_str(&data.join("\n")) {
        Ok(summary) => Some(Ok(QueueEvent { id, kind, summary })),
        Err(e) => garbage(format!("a {name} event's data: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = r#"{"id":"c-000002","status":"open","kind":"edit-conflict","record_type":"t","record_id":"R","submitted_by":"ana","received_at":"2026-11-28T05:00:00.000Z","claimed_by":"sue","claimed_until":"2026-11-28T05:02:00.000Z"}"#;

    #[test]
    fn a_block_is_an_event_with_its_number_and_summary_and_comments_are_skipped() {
        let block = format!("id: 7\nevent: conflict-claimed\ndata: {SUMMARY}");
        let event = parse_block(&block).unwrap().unwrap();
        assert_eq!((event.id, event.kind), (7, QueueEventKind::ConflictClaimed));
        assert_eq!(event.summary.claimed_by.as_deref(), Some("sue"));
        assert!(parse_block(": keep-alive").is_none());
        assert!(parse_block("").is_none());
    }

    #[test]
    fn blocks_split_on_blank_lines_of_either_ending() {
        let (first, rest) = split_block("id: 1\r\nevent: x\r\n\r\n: ka\r\n\r\n").unwrap();
        assert_eq!(first, "id: 1\nevent: x");
        assert_eq!(split_block(&rest).unwrap().0, ": ka");
        assert!(split_block("id: 1\nevent: x\n").is_none(), "not whole yet");
    }

    #[test]
    fn an_unknown_event_or_bad_data_is_named() {
        let unknown = parse_block("id: 1\nevent: weather\ndata: {}").unwrap();
        assert!(matches!(unknown, Err(SourceError::Garbage(m)) if m.contains("weather")));
        let bad = parse_block("id: 1\nevent: conflict-opened\ndata: [").unwrap();
        assert!(matches!(bad, Err(SourceError::Garbage(m)) if m.contains("conflict-opened")));
        let no_id = parse_block(&format!("event: conflict-opened\ndata: {SUMMARY}")).unwrap();
        assert!(no_id.is_err());
    }
}

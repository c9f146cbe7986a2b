//! Where conflicts come from and where resolutions go: a live server over HTTP, or an
//! export file worked on offline. [`ConflictSource`] hides which of the two it is.

mod export;
mod live;
mod server;

pub use export::ExportBook;
pub use live::{ClaimAnswer, EventStream, QueueEvent};
pub use server::ServerClient;

use std::collections::BTreeMap;

use crate::merge::Choices;
use crate::model::TypeSchema;
use crate::model::json::Object;
use crate::model::validate::FieldError;
use crate::protocol::{ConflictDetail, ConflictSummary};
pub use crate::protocol::{MasterData, MasterItem};

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// No answer at all: refused connection, timeout, dropped mid-request.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The server said no (401, 403, 404, 5xx ...), with its own words.
    #[error("server answered {status}: {message}")]
    Refused { status: u16, message: String },
    /// An answer that is not what the protocol promises.
    #[error("server answered something unreadable: {0}")]
    Garbage(String),
    /// Reading or writing a local file.
    #[error("{0}")]
    File(String),
}

/// A conflict ready to decide: its detail, the ETag a resolution must send, and, when
/// the source has them, the schema of its type and the master-data lists it refers to.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub detail: ConflictDetail<'static>,
    pub etag: Option<String>,
    pub schema: Option<TypeSchema>,
    /// Master-data lists by name, for the schema's reference fields.
    pub lists: BTreeMap<String, MasterData>,
}

/// A resolution on its way.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub conflict_id: String,
    pub record_type: String,
    pub record_id: String,
    /// `None` for a parked create: sent as `If-None-Match: *`.
    pub if_match: Option<String>,
    pub fields: Object<'static>,
    pub choices: Choices,
    /// A deleted-on-server conflict closed by keeping the deletion (no fields sent).
    pub keep_deleted: bool,
    pub resolved_by: String,
    /// Same decisions on the same server state, same key: a resend after a dropped
    /// connection is answered from the server's memory, not applied twice.
    pub idempotency_key: String,
}

/// How a submission ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitOutcome {
    /// Applied: the record's new version and ETag (an export keeps the one it had).
    Resolved {
        version: Option<u64>,
        etag: Option<String>,
    },
    /// The record changed since the detail was read (412).
    Stale,
    /// Someone else resolved it first (409).
    Closed { by: String },
    /// The resolved fields fail validation (422).
    Invalid { errors: Vec<FieldError> },
}

/// A server or an export file.
pub enum ConflictSource {
    Server(ServerClient),
    Export(ExportBook),
}

impl ConflictSource {
    /// What to call it on screen: the server URL or the file name.
    pub fn label(&self) -> String {
        match self {
            ConflictSource::Server(s) => s.base_url().to_string(),
            ConflictSource::Export(e) => e.name().to_string(),
        }
    }

    /// The queue, oldest first; `all` includes resolved conflicts.
    pub async fn list(&self, all: bool) -> Result<Vec<ConflictSummary>, SourceError> {
        match self {
            ConflictSource::Server(s) => s.conflicts(if all { "all" } else { "open" }).await,
            ConflictSource::Export(e) => Ok(e.summaries(all)),
        }
    }

    /// One conflict with its current server side.
    pub async fn load(&self, id: &str) -> Result<Loaded, SourceError> {
        match self {
            ConflictSource::Server(s) => s.load(id).await,
            ConflictSource::Export(e) => e.load(id),
        }
    }

    /// The newest entries of the sync log (a server's; an export file has none).
    pub async fn syncs(
        &self,
        limit: usize,
        filters: &[(String, String)],
    ) -> Result<Vec<crate::protocol::SyncLogEntry>, SourceError> {
        match self {
            ConflictSource::Server(s) => {
                let filters: Vec<(&str, String)> = filters
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                typed(s.syncs(&filters, limit).await?)
            }
            ConflictSource::Export(_) => Err(server_only("the sync log")),
        }
    }

    /// The newest resolutions of the audit trail (a server's; an export file has none).
    pub async fn audit(
        &self,
        limit: usize,
    ) -> Result<Vec<crate::protocol::AuditEntry>, SourceError> {
        match self {
            ConflictSource::Server(s) => typed(s.audit(&[], limit).await?),
            ConflictSource::Export(_) => Err(server_only("the audit trail")),
        }
    }

    /// A record's versions: who made each, when, from which device (a server's).
    pub async fn versions(
        &self,
        record_type: &str,
        id: &str,
    ) -> Result<Vec<crate::protocol::VersionSummary>, SourceError> {
        match self {
            ConflictSource::Server(s) => s.versions(record_type, id).await,
            ConflictSource::Export(_) => Err(server_only("a record's history")),
        }
    }

    /// The sync log counted by day (a server's; an export file has none).
    pub async fn stats(&self) -> Result<crate::protocol::SyncStats, SourceError> {
        match self {
            ConflictSource::Server(s) => {
                serde_json::from_value(s.stats(&[("by", "day".into())]).await?)
                    .map_err(|e| SourceError::Garbage(e.to_string()))
            }
            ConflictSource::Export(_) => Err(server_only("the sync log")),
        }
    }

    /// Sends (or, offline, records) a resolution.
    pub async fn submit(&self, submission: &Submission) -> Result<SubmitOutcome, SourceError> {
        match self {
            ConflictSource::Server(s) => s.resolve(submission).await,
            ConflictSource::Export(e) => e.resolve(submission),
        }
    }
}

/// Items as the server sent them, read as the protocol's type.
fn typed<T: serde::de::DeserializeOwned>(
    items: Vec<serde_json::Value>,
) -> Result<Vec<T>, SourceError> {
    items
        .into_iter()
        .map(|item| serde_json::from_value(item).map_err(|e| SourceError::Garbage(e.to_string())))
        .collect()
}

/// What an export file cannot give: what only a server keeps.
fn server_only(what: &str) -> SourceError {
    SourceError::File(format!(
        "{what} is the server's: an export file holds conflicts only"
    ))
}

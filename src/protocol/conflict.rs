//! A parked submission as the queue shows it: summary and detail.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::merge::{Class, Decided};
use crate::model::json::{Json, Object};
use crate::model::time::UtcMillis;

/// Why a submission is parked in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParkKind {
    EditConflict,
    InvalidReference,
    DeletedOnServer,
}

impl ParkKind {
    /// Its name on the wire (`edit-conflict`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ParkKind::EditConflict => "edit-conflict",
            ParkKind::InvalidReference => "invalid-reference",
            ParkKind::DeletedOnServer => "deleted-on-server",
        }
    }
}

/// Whether a conflict still waits for a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Resolved,
}

/// What happened to the queue, as `GET /v1/events` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueEventKind {
    ConflictOpened,
    ConflictResolved,
    ConflictClaimed,
    ConflictReleased,
}

impl QueueEventKind {
    /// The event's name on the wire (`event:` of a Server-Sent Event).
    pub fn name(self) -> &'static str {
        match self {
            QueueEventKind::ConflictOpened => "conflict-opened",
            QueueEventKind::ConflictResolved => "conflict-resolved",
            QueueEventKind::ConflictClaimed => "conflict-claimed",
            QueueEventKind::ConflictReleased => "conflict-released",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            QueueEventKind::ConflictOpened,
            QueueEventKind::ConflictResolved,
            QueueEventKind::ConflictClaimed,
            QueueEventKind::ConflictReleased,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }
}

/// One write of the sync log, as `GET /v1/syncs` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLogEntry {
    pub seq: u64,
    pub at: UtcMillis,
    pub user: String,
    #[serde(default)]
    pub device_id: Option<String>,
    pub method: String,
    pub record_type: String,
    #[serde(default)]
    pub record_id: Option<String>,
    pub status: u16,
    pub outcome: String,
    #[serde(default)]
    pub problem: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub conflict_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// The version a sync was based on.
    #[serde(default)]
    pub base_version: Option<u64>,
    /// The record's version after the write: the one it made, or the current one it met.
    #[serde(default)]
    pub version: Option<u64>,
    /// The server's changes since the base that a merge kept.
    #[serde(default)]
    pub kept: Vec<String>,
}

/// A sync log entry's outcomes, as the contract names them.
pub const SYNC_OUTCOMES: &[&str] = &[
    "created",
    "applied",
    "auto-merged",
    "no-op",
    "replayed",
    "superseded",
    "edit-conflict",
    "deleted-on-server",
    "invalid-reference",
    "invalid",
    "stale",
    "refused",
    "resolved",
    "deleted",
];

/// The sync log counted, as `GET /v1/stats` sends it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncStats {
    pub by: String,
    pub writes: u64,
    pub refused: u64,
    pub refused_share: f64,
    pub groups: Vec<StatsGroup>,
}

/// One group of `SyncStats`: a day, a user, a device or a type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatsGroup {
    pub group: String,
    pub writes: u64,
    pub refused: u64,
    pub refused_share: f64,
    pub outcomes: std::collections::BTreeMap<String, u64>,
}

/// The three things a technician sees after a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tiers {
    /// Saved as sent (or already there).
    pub saved: u64,
    /// Saved, with a notice that other edits were merged in.
    pub merged: u64,
    /// Not saved as sent: a supervisor or the technician must act.
    pub attention: u64,
}

#[cfg(test)]
mod tiers_tests {
    use super::Tiers;

    #[test]
    fn outcomes_fall_into_the_three_tiers_a_technician_sees() {
        let outcomes = [
            ("created", 2),
            ("applied", 3),
            ("replayed", 1),
            ("auto-merged", 4),
            ("edit-conflict", 5),
            ("stale", 1),
            ("refused", 1),
        ]
        .into_iter()
        .map(|(o, n)| (o.to_string(), n))
        .collect();
        assert_eq!(
            Tiers::of(&outcomes),
            Tiers {
                saved: 6,
                merged: 4,
                attention: 7
            }
        );
    }
}

impl Tiers {
    /// Outcome counts sorted into the three tiers.
    pub fn of(outcomes: &std::collections::BTreeMap<String, u64>) -> Self {
        let mut tiers = Tiers::default();
        for (outcome, n) in outcomes {
            match outcome.as_str() {
                "auto-merged" => tiers.merged += n,
                "created" | "applied" | "no-op" | "replayed" | "superseded" | "resolved"
                | "deleted" => tiers.saved += n,
                _ => tiers.attention += n,
            }
        }
        tiers
    }
}

/// Who is on a conflict (an advisory claim), until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimInfo {
    pub claimed_by: String,
    pub claimed_until: UtcMillis,
}

/// Who settled a conflict, when, how, and the version it made: the audit trail's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolutionInfo {
    pub by: String,
    pub at: UtcMillis,
    #[serde(default)]
    pub resulting_version: Option<u64>,
    /// A deleted-on-server conflict closed by keeping the deletion.
    #[serde(default)]
    pub kept_deleted: bool,
    #[serde(default)]
    pub choices: BTreeMap<String, String>,
    /// Per decided path: the value taken and the values it displaced.
    #[serde(default)]
    pub fields: Vec<Decided>,
}

/// One resolution of the audit trail, as `GET /v1/audit` sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub conflict_id: String,
    pub record_type: String,
    pub record_id: String,
    pub kind: ParkKind,
    #[serde(flatten)]
    pub resolution: ResolutionInfo,
}

/// One line of the queue (`GET /v1/conflicts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictSummary {
    pub id: String,
    pub status: Status,
    pub kind: ParkKind,
    pub record_type: String,
    pub record_id: String,
    pub submitted_by: String,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub captured_at: Option<UtcMillis>,
    pub received_at: UtcMillis,
    #[serde(default)]
    pub conflicting_paths: Vec<String>,
    #[serde(default)]
    pub resolution: Option<ResolutionInfo>,
    /// The supervisor on it while the claim lives; `null` otherwise.
    #[serde(default)]
    pub claimed_by: Option<String>,
    #[serde(default)]
    pub claimed_until: Option<UtcMillis>,
}

/// The version the technician started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseSide<'a> {
    pub version: u64,
    pub last_modified: UtcMillis,
    pub modified_by: String,
    #[serde(borrow)]
    pub fields: Object<'a>,
}

/// What the technician sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalSide<'a> {
    #[serde(borrow)]
    pub fields: Object<'a>,
}

/// The record as the server holds it now; its `etag` is what a resolution must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSide<'a> {
    pub version: u64,
    pub last_modified: UtcMillis,
    pub modified_by: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(borrow)]
    pub fields: Object<'a>,
    pub etag: String,
}

/// One path of a conflict with its class and its value on each side (absent: `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldRow<'a> {
    pub path: String,
    pub class: Class,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Json<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Json<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Json<'a>>,
}

/// A conflict with its three sides (`GET /v1/conflicts/{cid}`, one element of an export)
/// and each path's class. The desk merges the sides itself; `fields` is for scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictDetail<'a> {
    pub id: String,
    pub status: Status,
    pub kind: ParkKind,
    pub record_type: String,
    pub record_id: String,
    pub submitted_by: String,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub captured_at: Option<UtcMillis>,
    pub received_at: UtcMillis,
    #[serde(borrow)]
    pub base: Option<BaseSide<'a>>,
    #[serde(borrow)]
    pub local: LocalSide<'a>,
    #[serde(borrow)]
    pub server: Option<ServerSide<'a>>,
    #[serde(default)]
    pub conflicting_paths: Vec<String>,
    #[serde(default)]
    pub resolution: Option<ResolutionInfo>,
    /// Each path with its class, as the server merged the sides.
    #[serde(borrow, default)]
    pub fields: Vec<FieldRow<'a>>,
}

impl ConflictDetail<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> ConflictDetail<'static> {
        ConflictDetail {
            id: self.id,
            status: self.status,
            kind: self.kind,
            record_type: self.record_type,
            record_id: self.record_id,
            submitted_by: self.submitted_by,
            device_id: self.device_id,
            captured_at: self.captured_at,
            received_at: self.received_at,
            base: self.base.map(|b| BaseSide {
                version: b.version,
                last_modified: b.last_modified,
                modified_by: b.modified_by,
                fields: b.fields.into_owned(),
            }),
            local: LocalSide {
                fields: self.local.fields.into_owned(),
            },
            server: self.server.map(|s| ServerSide {
                version: s.version,
                last_modified: s.last_modified,
                modified_by: s.modified_by,
                deleted: s.deleted,
                fields: s.fields.into_owned(),
                etag: s.etag,
            }),
            conflicting_paths: self.conflicting_paths,
            resolution: self.resolution,
            fields: self
                .fields
                .into_iter()
                .map(|f| FieldRow {
                    path: f.path,
                    class: f.class,
                    base: f.base.map(Json::into_owned),
                    local: f.local.map(Json::into_owned),
                    server: f.server.map(Json::into_owned),
                })
                .collect(),
        }
    }

    /// Its line in the queue.
    pub fn summary(&self) -> ConflictSummary {
        ConflictSummary {
            id: self.id.clone(),
            status: self.status,
            kind: self.kind,
            record_type: self.record_type.clone(),
            record_id: self.record_id.clone(),
            submitted_by: self.submitted_by.clone(),
            device_id: self.device_id.clone(),
            captured_at: self.captured_at,
            received_at: self.received_at,
            conflicting_paths: self.conflicting_paths.clone(),
            resolution: self.resolution.clone(),
            claimed_by: None,
            claimed_until: None,
        }
    }
}

/// An RFC 9457 problem as a client reads it; members it does not know are kept.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub detail: String,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// The last segment of `type` (`edit-conflict`, `conflict-closed`, ...).
    pub fn name(&self) -> &str {
        self.kind.rsplit('/').next().unwrap_or_default()
    }
}

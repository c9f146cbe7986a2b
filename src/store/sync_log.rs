//! The sync log (section 8a): every write to a record with what it came to, kept beside
//! the write (in the same batch transaction), for the people who answer the phone.

use super::ConflictId;
use crate::model::UtcMillis;
use crate::model::Version;

/// One write as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEntry {
    /// Its number, newest highest (0 before it is stored).
    pub seq: u64,
    pub at: UtcMillis,
    pub user: String,
    pub device_id: Option<String>,
    /// `PUT`, `POST`, `DELETE`, or `RESOLVE` for a resolution.
    pub method: String,
    pub record_type: String,
    pub record_id: Option<String>,
    pub status: u16,
    /// One of the contract's outcomes (`created`, `applied`, ..., `resolved`).
    pub outcome: String,
    /// The problem's type (`edit-conflict`, `stale`, ...) of a refusal.
    pub problem: Option<String>,
    pub paths: Vec<String>,
    pub conflict_id: Option<ConflictId>,
    /// What the device sent, kept for refused writes.
    pub body: Option<String>,
    /// The version a sync said it was based on.
    pub base_version: Option<Version>,
    /// The record's version after the write: the one it made, or the current one it met.
    pub version: Option<Version>,
    /// The server's changes since the base that a merge kept (`paths` then holds the
    /// submission's own changes it applied).
    pub kept: Vec<String>,
}

/// How `GET /v1/stats` groups the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsBy {
    Day,
    User,
    Device,
    Type,
}

impl StatsBy {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "day" => StatsBy::Day,
            "user" => StatsBy::User,
            "device" => StatsBy::Device,
            "type" => StatsBy::Type,
            _ => return None,
        })
    }

    /// The SQL that names an entry's group (the same in both engines' dialects).
    pub(crate) fn key_sql(self) -> &'static str {
        match self {
            StatsBy::Day => "substr(at, 1, 10)",
            StatsBy::User => "\"user\"",
            StatsBy::Device => "COALESCE(device_id, '-')",
            StatsBy::Type => "record_type",
        }
    }
}

/// How many entries of a group came to one outcome, and how many of them were answered
/// 409, 412 or 422 (what the field calls a failed sync).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRow {
    pub group: String,
    pub outcome: String,
    pub count: u64,
    pub refused: u64,
}

/// Which resolutions the audit trail lists; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub since: Option<UtcMillis>,
    pub until: Option<UtcMillis>,
    /// Resolved by this supervisor.
    pub by: Option<String>,
    pub record_type: Option<String>,
    /// Older than this resolution (its time and conflict): the page before ended there.
    pub before: Option<(UtcMillis, ConflictId)>,
}

/// Which entries to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncFilter {
    pub outcome: Option<String>,
    pub user: Option<String>,
    pub device_id: Option<String>,
    pub record_type: Option<String>,
    pub since: Option<UtcMillis>,
    pub until: Option<UtcMillis>,
}

impl SyncFilter {
    /// Whether an entry passes (the engines filter in SQL; this says what that means).
    pub fn passes(&self, entry: &SyncEntry) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == have)
        };
        same(&self.outcome, Some(&entry.outcome))
            && same(&self.user, Some(&entry.user))
            && same(&self.device_id, entry.device_id.as_deref())
            && same(&self.record_type, Some(&entry.record_type))
            && self.since.is_none_or(|t| entry.at >= t)
            && self.until.is_none_or(|t| entry.at < t)
    }
}

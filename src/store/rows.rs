//! Rows as both engines read them, checked into the store's types: stored text that does
//! not read as what was written is `StoreError::Corrupt`, never a silent default.

use super::{Claim, ConflictId, ConflictRow, RecordKey, Remembered, Resolution, StoreError};
use crate::model::json::Json;
use crate::model::{UtcMillis, Version};
use crate::sync::StoredVersion;

/// A version row as read, before its text columns are checked.
pub(crate) struct RawVersion {
    pub(crate) version: i64,
    pub(crate) fields: String,
    pub(crate) last_modified: String,
    pub(crate) modified_by: String,
    pub(crate) device_id: Option<String>,
    pub(crate) device_seq: Option<i64>,
    pub(crate) deleted: bool,
}

impl RawVersion {
    pub(crate) fn check(self, key: RecordKey) -> Result<StoredVersion<'static>, StoreError> {
        let version = self.version;
        let corrupt = |what: &str| {
            StoreError::Corrupt(format!(
                "stored {what} of {}/{} v{version} is unreadable",
                key.record_type, key.id
            ))
        };
        let fields = match Json::parse(&self.fields) {
            Ok(Json::Object(o)) => o.into_owned(),
            _ => return Err(corrupt("fields")),
        };
        Ok(StoredVersion {
            version: u64::try_from(version)
                .ok()
                .and_then(Version::new)
                .ok_or_else(|| corrupt("version"))?,
            last_modified: self.last_modified.parse().map_err(|_| corrupt("time"))?,
            modified_by: self.modified_by,
            device_id: self.device_id,
            device_seq: self.device_seq.map(|s| s as u64),
            deleted: self.deleted,
            fields,
        })
    }
}

/// A conflict row as read, before its JSON columns are checked.
pub(crate) struct RawConflict {
    pub(crate) id: i64,
    pub(crate) status: String,
    pub(crate) kind: String,
    pub(crate) record_type: String,
    pub(crate) record_id: String,
    pub(crate) submitted_by: String,
    pub(crate) device_id: Option<String>,
    pub(crate) captured_at: Option<String>,
    pub(crate) received_at: String,
    pub(crate) base_version: Option<i64>,
    pub(crate) local_fields: String,
    pub(crate) paths: String,
    pub(crate) resolved_by: Option<String>,
    pub(crate) resolved_at: Option<String>,
    pub(crate) choices: Option<String>,
    pub(crate) resulting_version: Option<i64>,
    pub(crate) kept_deleted: bool,
    pub(crate) decided: Option<String>,
    pub(crate) claimed_by: Option<String>,
    pub(crate) claimed_until: Option<String>,
}

impl RawConflict {
    pub(crate) fn check(self) -> Result<ConflictRow, StoreError> {
        let corrupt =
            || StoreError::Corrupt(format!("stored conflict c-{:06} is unreadable", self.id));
        let local = match Json::parse(&self.local_fields) {
            Ok(Json::Object(o)) => o.into_owned(),
            _ => return Err(corrupt()),
        };
        let time = |t: Option<String>| {
            t.map(|t| t.parse::<UtcMillis>().map_err(|_| corrupt()))
                .transpose()
        };
        let resolution = match (self.resolved_by, time(self.resolved_at)?) {
            (Some(by), Some(at)) => Some(Resolution {
                by,
                at,
                choices: match self.choices {
                    Some(text) => serde_json::from_str(&text).map_err(|_| corrupt())?,
                    None => Default::default(),
                },
                version: self
                    .resulting_version
                    .and_then(|v| u64::try_from(v).ok())
                    .and_then(Version::new),
                kept_deleted: self.kept_deleted,
                decided: match self.decided {
                    Some(text) => serde_json::from_str(&text).map_err(|_| corrupt())?,
                    None => Vec::new(),
                },
            }),
            _ => None,
        };
        Ok(ConflictRow {
            id: ConflictId(self.id as u64),
            open: self.status == "open",
            kind: serde_json::from_value(serde_json::Value::String(self.kind))
                .map_err(|_| corrupt())?,
            record_type: self.record_type,
            record_id: self.record_id,
            submitted_by: self.submitted_by,
            device_id: self.device_id,
            captured_at: time(self.captured_at)?,
            received_at: self.received_at.parse().map_err(|_| corrupt())?,
            base_version: self
                .base_version
                .and_then(|v| u64::try_from(v).ok())
                .and_then(Version::new),
            local,
            paths: serde_json::from_str(&self.paths).map_err(|_| corrupt())?,
            resolution,
            claim: match (self.claimed_by, time(self.claimed_until)?) {
                (Some(by), Some(until)) => Some(Claim { by, until }),
                _ => None,
            },
        })
    }
}

/// A sync log row as read, before its JSON column is checked.
pub(crate) struct RawSync {
    pub(crate) seq: i64,
    pub(crate) at: UtcMillis,
    pub(crate) user: String,
    pub(crate) device_id: Option<String>,
    pub(crate) method: String,
    pub(crate) record_type: String,
    pub(crate) record_id: Option<String>,
    pub(crate) status: i64,
    pub(crate) outcome: String,
    pub(crate) problem: Option<String>,
    pub(crate) paths: String,
    pub(crate) conflict_id: Option<ConflictId>,
    pub(crate) body: Option<String>,
    pub(crate) base_version: Option<Version>,
    pub(crate) version: Option<Version>,
    /// A JSON list; null in entries logged before it was kept.
    pub(crate) kept: Option<String>,
}

/// The columns a `RawSync` is read from, in order.
pub(crate) const SYNC_COLUMNS: &str = "seq, at, \"user\", device_id, method, record_type, record_id, status, outcome, problem, paths, conflict_id, body, base_version, version, kept";

impl RawSync {
    pub(crate) fn check(self) -> Result<super::SyncEntry, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("sync log entry {} is unreadable", self.seq));
        Ok(super::SyncEntry {
            seq: u64::try_from(self.seq).map_err(|_| corrupt())?,
            at: self.at,
            user: self.user,
            device_id: self.device_id,
            method: self.method,
            record_type: self.record_type,
            record_id: self.record_id,
            status: u16::try_from(self.status).map_err(|_| corrupt())?,
            outcome: self.outcome,
            problem: self.problem,
            paths: serde_json::from_str(&self.paths).map_err(|_| corrupt())?,
            conflict_id: self.conflict_id,
            body: self.body,
            base_version: self.base_version,
            version: self.version,
            kept: match self.kept {
                Some(kept) => serde_json::from_str(&kept).map_err(|_| corrupt())?,
                None => Vec::new(),
            },
        })
    }
}

/// A remembered answer as read: its fingerprint must be the 32 bytes of a SHA-256.
pub(crate) fn remembered_of(
    fingerprint: Vec<u8>,
    answer: String,
) -> Result<Remembered, StoreError> {
    let fingerprint = fingerprint
        .try_into()
        .map_err(|_| StoreError::Corrupt("a stored fingerprint is not 32 bytes".into()))?;
    Ok(Remembered {
        fingerprint,
        answer,
    })
}

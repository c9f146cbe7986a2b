//! Persistence: every version of every record, and the conflict queue, in SQLite (one
//! file, the default) or PostgreSQL (several server instances). The sync rules run inside
//! one write transaction, so the version they saw is the version they extend.

mod claims;
mod columns;
mod engine;
mod postgres;
mod rows;
mod sqlite;
mod sync_log;

pub use claims::{Claimed, Released};
pub use engine::{Database, Engine};
pub use postgres::{EVENTS_CHANNEL, PgStore, listen as listen_postgres};
pub use sqlite::{Currents, SqliteStore, Wal, WalLimit};
pub use sync_log::{AuditFilter, StatsBy, StatsRow, SyncEntry, SyncFilter};

use crate::model::json::Object;
use crate::model::{UtcMillis, Version};
use crate::protocol::{ParkKind, QueueEventKind};
use crate::sync::StoredVersion;

/// Why the store failed, with its cause kept. The message is for the log, never for a
/// client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: postgresql: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// The database was migrated by a newer syncdesk than this one.
    #[error(
        "store: the database's schema is newer than this syncdesk knows ({found} migrations applied, {known} known); run the newer syncdesk"
    )]
    NewerSchema { found: usize, known: usize },
    #[error("store: json: {0}")]
    Json(#[from] serde_json::Error),
    /// A statement of a PostgreSQL transaction failed, so none of it was stored.
    #[error("store: postgresql: a statement of the transaction failed; nothing of it was stored")]
    Aborted,
    /// Stored data that does not read as what was written.
    #[error("store: corrupt data: {0}")]
    Corrupt(String),
    #[error("store: i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// What the server asks of a store. SQLite is the first engine; a second (PostgreSQL, for
/// several server instances) implements the same. Every write runs its decision inside
/// one transaction of the store's, so the version it saw is the version it extends, and
/// remembers its answer (`respond`) in that same transaction.
pub trait Store {
    /// Writes that follow, until `end_batch`, commit together (group commit).
    fn begin_batch(&mut self) -> Result<(), StoreError>;
    fn end_batch(&mut self) -> Result<(), StoreError>;

    /// The current version of a record (a tombstone included).
    fn current(
        &self,
        key: RecordKey,
    ) -> Result<Option<std::sync::Arc<StoredVersion<'static>>>, StoreError>;
    /// Whether a record (or its tombstone) is stored.
    fn exists(&self, key: RecordKey) -> Result<bool, StoreError>;
    /// Every version of a record, oldest first.
    fn history(&self, key: RecordKey) -> Result<Vec<StoredVersion<'static>>, StoreError>;
    /// One version of a record.
    fn version(
        &self,
        key: RecordKey,
        version: Version,
    ) -> Result<Option<StoredVersion<'static>>, StoreError>;
    /// The records of a type changed after a change sequence number, with their numbers.
    fn changed_after(
        &self,
        record_type: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String, StoredVersion<'static>)>, StoreError>;

    /// One conflict of the queue.
    fn conflict(&self, id: ConflictId) -> Result<Option<ConflictRow>, StoreError>;
    /// A page of the queue: open, resolved or all (`None`), of a type, after a conflict.
    fn conflicts(
        &self,
        open: Option<bool>,
        record_type: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError>;

    /// How many conflicts wait in the queue.
    fn open_conflicts(&self) -> Result<u64, StoreError>;

    /// A master-data list, if it was ever put.
    fn master(&self, list: &str) -> Result<Option<MasterList>, StoreError>;
    /// The answer remembered under a user's idempotency key, if it is not too old.
    fn remembered(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
    ) -> Result<Option<Remembered>, StoreError>;
    /// `remembered`, for a record write that follows at once when nothing is remembered:
    /// a store may read what that write will need in the same trip (PostgreSQL does).
    fn remembered_before_write(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
        _write: &WriteAhead,
    ) -> Result<Option<Remembered>, StoreError> {
        self.remembered(user, key, ttl_hours, now)
    }
    /// At the start of a batch: the record writes its jobs announced, for a store that
    /// reads what all of them need in one trip (PostgreSQL does; each write then takes
    /// its reads unless something it depends on changed first). Only a speed-up: a store
    /// that cannot read ahead reads write by write.
    fn read_ahead(&mut self, _writes: &[Announced]) {}

    /// A write to a record: `decide` sees what is stored from `from` (or the current
    /// version) and says what to store; `respond` gives the answer to remember.
    #[allow(clippy::too_many_arguments)]
    fn write<T>(
        &mut self,
        key: RecordKey,
        from: Option<Version>,
        author: &Author,
        now: UtcMillis,
        remember: Option<Remember>,
        decide: impl FnOnce(&Known) -> (T, Effect),
        respond: impl FnOnce(&T, &Stored) -> Option<String>,
    ) -> Result<(T, Stored), StoreError>;

    /// A resolution: `decide` sees the conflict, its base, the current version and the
    /// master data, and says what to settle; `None` when there is no such conflict.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn resolve<T>(
        &mut self,
        id: ConflictId,
        resolver: &str,
        now: UtcMillis,
        remember: Option<Remember>,
        respond: impl FnOnce(&T, Option<&StoredVersion<'static>>) -> Option<String>,
        decide: impl FnOnce(
            &ConflictRow,
            Option<&StoredVersion<'static>>,
            Option<&StoredVersion<'static>>,
            &dyn Fn(&str, &str) -> bool,
        ) -> (T, Option<Settlement>),
    ) -> Result<Option<(T, Option<StoredVersion<'static>>)>, StoreError>;

    /// What happened to the queue after a change number, oldest first, each with its
    /// conflict as it is now.
    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<QueueEvent>, StoreError>;
    /// The newest change number of the queue (0 before any).
    fn last_event(&self) -> Result<u64, StoreError>;
    /// Claims a conflict for `user` until `until`, or renews their claim; `None` when
    /// there is no such conflict.
    fn claim(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<Option<Claimed>, StoreError>;
    /// Releases `user`'s claim on a conflict; `None` when there is no such conflict.
    fn release(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
    ) -> Result<Option<Released>, StoreError>;

    /// Keeps a write's entry in the sync log (in the batch under way, when there is one).
    fn log_sync(&mut self, entry: &SyncEntry) -> Result<(), StoreError>;
    /// Drops at most `at_most` of the oldest sync log entries, and as many of the queue's
    /// events, from before `older_than`: called with each entry written, so both stay
    /// bounded at a constant cost a write (in the batch under way, when there is one).
    fn prune_logs(&mut self, older_than: UtcMillis, at_most: usize) -> Result<(), StoreError>;
    /// The sync log, newest first: entries passing `filter`, older than `before`.
    fn syncs(
        &self,
        filter: &SyncFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SyncEntry>, StoreError>;

    /// The audit trail: resolved conflicts passing `filter`, newest resolution first.
    fn resolutions(
        &self,
        filter: &AuditFilter,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError>;

    /// The log's entries from `since` until `until`, counted by group and outcome.
    fn sync_stats(
        &self,
        by: StatsBy,
        since: Option<UtcMillis>,
        until: Option<UtcMillis>,
    ) -> Result<Vec<StatsRow>, StoreError>;

    /// Replaces a master-data list (`ids`: its items' ids; `items`: the list as sent).
    fn put_master(
        &mut self,
        list: &str,
        items: &str,
        ids: &[&str],
        now: UtcMillis,
        remember: Option<Remember>,
        respond: impl FnOnce(&MasterList) -> Option<String>,
    ) -> Result<MasterList, StoreError>;
}

/// The record a write is about.
#[derive(Debug, Clone, Copy)]
pub struct RecordKey<'a> {
    pub record_type: &'a str,
    pub id: &'a str,
}

/// Who sent a write, from which device, when.
#[derive(Debug, Clone)]
pub struct Author<'a> {
    pub user: &'a str,
    pub device_id: Option<&'a str>,
    pub device_seq: Option<u64>,
    pub captured_at: Option<UtcMillis>,
}

/// The record write a look-up of its idempotency key comes before: what `write` will be
/// called with.
#[derive(Clone, Copy)]
pub struct WriteAhead<'a> {
    pub key: RecordKey<'a>,
    pub from: Option<Version>,
    pub author: &'a Author<'a>,
}

/// A record write announced to the writer with its job (owned: it is queued), so that a
/// store can read for the whole batch before its writes run (`Store::read_ahead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    /// The idempotency key's owner, the key, and the oldest answer its look-up keeps (as
    /// `oldest_kept` when the write was announced).
    pub user: String,
    pub key: String,
    pub oldest_kept: i64,
    pub write: OwnedWriteAhead,
}

impl Announced {
    /// Whether this is the look-up of `user`'s `key` before `write`.
    pub fn is(&self, user: &str, key: &str, write: &WriteAhead) -> bool {
        self.user == user && self.key == key && self.write.is(write)
    }
}

/// A `WriteAhead` kept past its borrows: the record, the base, the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedWriteAhead {
    pub record_type: String,
    pub id: String,
    pub from: Option<Version>,
    pub device_id: Option<String>,
    pub device_seq: Option<u64>,
}

impl OwnedWriteAhead {
    pub fn of(write: &WriteAhead) -> Self {
        Self {
            record_type: write.key.record_type.to_owned(),
            id: write.key.id.to_owned(),
            from: write.from,
            device_id: write.author.device_id.map(String::from),
            device_seq: write.author.device_seq,
        }
    }

    /// Whether this is `write` (what its reads depend on: the record, the base, the
    /// device and its number).
    pub fn is(&self, write: &WriteAhead) -> bool {
        self.record_type == write.key.record_type
            && self.id == write.key.id
            && self.from == write.from
            && self.device_id.as_deref() == write.author.device_id
            && self.device_seq == write.author.device_seq
    }
}

/// What the store knows of a record when a write is decided.
pub struct Known<'h> {
    /// Stored versions from the one asked for (or the current one) to the current, oldest
    /// first; empty when the record does not exist.
    pub versions: &'h [StoredVersion<'static>],
    /// The highest `device_seq` applied to this record from the writing device.
    pub applied_device_seq: Option<u64>,
    /// A submission with the same device and sequence number that was parked.
    pub parked_conflict: Option<Parked>,
    /// Whether a master-data list holds an item, as of this transaction.
    pub listed: &'h dyn Fn(&str, &str) -> bool,
}

/// A master-data list as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterList {
    /// The items as sent, each an object with an `id`.
    pub items: String,
    /// Items that left the list, as they were, each with `removed_at` (JSON array).
    pub removed: String,
    pub version: Version,
    pub last_modified: UtcMillis,
}

/// A parked submission, as its answer needs it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Parked {
    pub id: ConflictId,
    pub kind: ParkKind,
    pub paths: Vec<String>,
}

/// What to store for a decided write (owned: it outlives the request's buffers).
pub enum Effect {
    Nothing,
    /// A new version with these fields (version 1 when the record is new).
    Append {
        fields: Object<'static>,
        deleted: bool,
    },
    /// The whole submission, parked for a supervisor.
    Park {
        kind: ParkKind,
        base_version: Option<u64>,
        local: Object<'static>,
        paths: Vec<String>,
    },
}

/// What storing did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    Nothing,
    /// Shared: the store keeps it as the record's current version, the answer shows it.
    Version(std::sync::Arc<StoredVersion<'static>>),
    Conflict(ConflictId),
}

/// An idempotency key to remember a write's answer under (section 4 of the contract).
#[derive(Debug, Clone, Copy)]
pub struct Remember<'a> {
    pub user: &'a str,
    pub key: &'a str,
    /// SHA-256 of the method, the path and the body's canonical JSON.
    pub fingerprint: [u8; 32],
    /// Answers older than this are forgotten.
    pub ttl_hours: u64,
}

/// The version a write appends after `current` (version 1 for a new record).
pub(crate) fn next_version(
    current: Option<Version>,
    author: &Author,
    now: UtcMillis,
    fields: Object<'static>,
    deleted: bool,
) -> StoredVersion<'static> {
    StoredVersion {
        version: current.map_or(Version::FIRST, Version::next),
        last_modified: now,
        modified_by: author.user.into(),
        device_id: author.device_id.map(String::from),
        device_seq: author.device_seq,
        deleted,
        fields,
    }
}

/// Who writes a resolution's version: the supervisor, from no device.
pub(crate) fn resolver(user: &str) -> Author<'_> {
    Author {
        user,
        device_id: None,
        device_seq: None,
        captured_at: None,
    }
}

/// The time of the oldest remembered answer still kept (in milliseconds, as stored).
pub(crate) fn oldest_kept(now: UtcMillis, ttl_hours: u64) -> i64 {
    now.as_millis() - (ttl_hours.min(24 * 365 * 100) as i64) * 3_600_000
}

/// A remembered answer: the request's fingerprint and the answer, opaque to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub fingerprint: [u8; 32],
    pub answer: String,
}

/// A parked submission as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRow {
    pub id: ConflictId,
    pub open: bool,
    pub kind: ParkKind,
    pub record_type: String,
    pub record_id: String,
    pub submitted_by: String,
    pub device_id: Option<String>,
    pub captured_at: Option<UtcMillis>,
    pub received_at: UtcMillis,
    /// `None` for a parked create.
    pub base_version: Option<Version>,
    pub local: Object<'static>,
    pub paths: Vec<String>,
    pub resolution: Option<Resolution>,
    /// The advisory claim last taken (live or not: `Claim::live_at` tells).
    pub claim: Option<Claim>,
}

/// A supervisor's advisory claim on a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub by: String,
    pub until: UtcMillis,
}

impl Claim {
    pub fn live_at(&self, now: UtcMillis) -> bool {
        self.until > now
    }
}

/// A change of the queue, numbered in commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEvent {
    pub seq: u64,
    pub kind: QueueEventKind,
    pub conflict: ConflictRow,
}

/// Who resolved a conflict, when, how, and the version it made.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub by: String,
    pub at: UtcMillis,
    /// The choices as sent, by path.
    pub choices: std::collections::BTreeMap<String, String>,
    pub version: Option<Version>,
    /// A deleted-on-server conflict closed by keeping the deletion.
    pub kept_deleted: bool,
    /// Per decided path, the value taken and the values displaced.
    pub decided: Vec<crate::merge::Decided>,
}

/// What a resolution stores.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// The fields of the record's next, live version; `None` keeps the deletion (nothing
    /// is written to the record).
    pub write: Option<Object<'static>>,
    /// The choices as sent, by path.
    pub choices: std::collections::BTreeMap<String, String>,
    /// The audit trail's per-path entries.
    pub decided: Vec<crate::merge::Decided>,
}

/// A conflict's number; shown as `c-000042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConflictId(pub u64);

impl std::str::FromStr for ConflictId {
    type Err = ();

    /// `c-000042` (or `c-42`).
    fn from_str(text: &str) -> Result<Self, ()> {
        let digits = text.strip_prefix("c-").ok_or(())?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        digits.parse().map(ConflictId).map_err(|_| ())
    }
}

impl std::fmt::Display for ConflictId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c-{:06}", self.0)
    }
}

//! SQLite as a `Store`: each method is the engine's own, by topic in the files beside.

use super::*;
use crate::store::{
    AuditFilter, Claimed, QueueEvent, Released, StatsBy, StatsRow, Store, SyncEntry, SyncFilter,
};

impl Store for SqliteStore {
    fn resolutions(
        &self,
        filter: &AuditFilter,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        self.resolutions_on(filter, limit)
    }

    fn sync_stats(
        &self,
        by: StatsBy,
        since: Option<UtcMillis>,
        until: Option<UtcMillis>,
    ) -> Result<Vec<StatsRow>, StoreError> {
        self.sync_stats_on(by, since, until)
    }

    fn prune_logs(&mut self, older_than: UtcMillis, at_most: usize) -> Result<(), StoreError> {
        self.prune_logs_on(older_than, at_most)
    }

    fn log_sync(&mut self, entry: &SyncEntry) -> Result<(), StoreError> {
        self.log_sync_on(entry)
    }

    fn syncs(
        &self,
        filter: &SyncFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SyncEntry>, StoreError> {
        self.syncs_on(filter, before, limit)
    }

    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<QueueEvent>, StoreError> {
        self.events_after_on(after, limit)
    }

    fn last_event(&self) -> Result<u64, StoreError> {
        self.last_event_on()
    }

    fn claim(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<Option<Claimed>, StoreError> {
        self.claim_on(id, user, now, until)
    }

    fn release(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
    ) -> Result<Option<Released>, StoreError> {
        self.release_on(id, user, now)
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        SqliteStore::begin_batch(self)
    }

    fn end_batch(&mut self) -> Result<(), StoreError> {
        SqliteStore::end_batch(self)
    }

    fn current(&self, key: RecordKey) -> Result<Option<Arc<StoredVersion<'static>>>, StoreError> {
        SqliteStore::current(self, key)
    }

    fn exists(&self, key: RecordKey) -> Result<bool, StoreError> {
        SqliteStore::exists(self, key)
    }

    fn history(&self, key: RecordKey) -> Result<Vec<StoredVersion<'static>>, StoreError> {
        SqliteStore::history(self, key)
    }

    fn version(
        &self,
        key: RecordKey,
        version: Version,
    ) -> Result<Option<StoredVersion<'static>>, StoreError> {
        SqliteStore::version(self, key, version)
    }

    fn changed_after(
        &self,
        record_type: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String, StoredVersion<'static>)>, StoreError> {
        SqliteStore::changed_after(self, record_type, after, limit)
    }

    fn conflict(&self, id: ConflictId) -> Result<Option<ConflictRow>, StoreError> {
        SqliteStore::conflict(self, id)
    }

    fn conflicts(
        &self,
        open: Option<bool>,
        record_type: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        SqliteStore::conflicts(self, open, record_type, after, limit)
    }

    fn open_conflicts(&self) -> Result<u64, StoreError> {
        SqliteStore::open_conflicts(self)
    }

    fn master(&self, list: &str) -> Result<Option<MasterList>, StoreError> {
        SqliteStore::master(self, list)
    }

    fn remembered(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
    ) -> Result<Option<Remembered>, StoreError> {
        SqliteStore::remembered(self, user, key, ttl_hours, now)
    }

    fn write<T>(
        &mut self,
        key: RecordKey,
        from: Option<Version>,
        author: &Author,
        now: UtcMillis,
        remember: Option<Remember>,
        decide: impl FnOnce(&Known) -> (T, Effect),
        respond: impl FnOnce(&T, &Stored) -> Option<String>,
    ) -> Result<(T, Stored), StoreError> {
        SqliteStore::write(self, key, from, author, now, remember, decide, respond)
    }

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
    ) -> Result<Option<(T, Option<StoredVersion<'static>>)>, StoreError> {
        SqliteStore::resolve(self, id, resolver, now, remember, respond, decide)
    }

    fn put_master(
        &mut self,
        list: &str,
        items: &str,
        ids: &[&str],
        now: UtcMillis,
        remember: Option<Remember>,
        respond: impl FnOnce(&MasterList) -> Option<String>,
    ) -> Result<MasterList, StoreError> {
        SqliteStore::put_master(self, list, items, ids, now, remember, respond)
    }
}

//! PostgreSQL as a `Store`: the reads are here, the writes by topic in the files beside.

use super::conflicts::conflicts_where;
use super::records::versions_from;
use super::*;
use crate::store::{
    Announced, AuditFilter, Claimed, QueueEvent, Released, StatsBy, StatsRow, Store, SyncEntry,
    SyncFilter, WriteAhead,
};

impl Store for PgStore {
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
        PgStore::begin_batch(self)
    }

    fn end_batch(&mut self) -> Result<(), StoreError> {
        PgStore::end_batch(self)
    }

    fn current(
        &self,
        key: RecordKey,
    ) -> Result<Option<std::sync::Arc<StoredVersion<'static>>>, StoreError> {
        Ok(versions_from(&mut self.client.borrow_mut(), key, None)?
            .pop()
            .map(std::sync::Arc::new))
    }

    fn exists(&self, key: RecordKey) -> Result<bool, StoreError> {
        let row = self.client.borrow_mut().query_opt(
            "SELECT 1 FROM versions WHERE record_type = $1 AND record_id = $2 LIMIT 1",
            &[&key.record_type, &key.id],
        )?;
        Ok(row.is_some())
    }

    fn history(&self, key: RecordKey) -> Result<Vec<StoredVersion<'static>>, StoreError> {
        versions_from(&mut self.client.borrow_mut(), key, Some(Version::FIRST))
    }

    fn version(
        &self,
        key: RecordKey,
        version: Version,
    ) -> Result<Option<StoredVersion<'static>>, StoreError> {
        let row = self.client.borrow_mut().query_opt(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM versions
                 WHERE record_type = $1 AND record_id = $2 AND version = $3"
            ),
            &[&key.record_type, &key.id, &version],
        )?;
        row.map(|row| version_of(&row, key)).transpose()
    }

    fn changed_after(
        &self,
        record_type: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String, StoredVersion<'static>)>, StoreError> {
        self.changed_after_on(record_type, after, limit)
    }

    fn conflict(&self, id: ConflictId) -> Result<Option<ConflictRow>, StoreError> {
        Ok(conflicts_where(&mut self.client.borrow_mut(), "id = $1", &[&id])?.pop())
    }

    fn conflicts(
        &self,
        open: Option<bool>,
        record_type: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        self.conflicts_on(open, record_type, after, limit)
    }

    fn open_conflicts(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .client
            .borrow_mut()
            .query_one("SELECT COUNT(*) FROM conflicts WHERE status = 'open'", &[])?
            .try_get(0)?;
        unsigned(n, "count")
    }

    fn master(&self, list: &str) -> Result<Option<MasterList>, StoreError> {
        self.master_on(list)
    }

    fn remembered(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
    ) -> Result<Option<Remembered>, StoreError> {
        self.remembered_on(user, key, ttl_hours, now)
    }

    fn read_ahead(&mut self, writes: &[Announced]) {
        self.read_ahead_on(writes);
    }

    fn remembered_before_write(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
        write: &WriteAhead,
    ) -> Result<Option<Remembered>, StoreError> {
        self.remembered_before_write_on(user, key, ttl_hours, now, write)
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
        self.write_on(key, from, author, now, remember, decide, respond)
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
        self.resolve_on(id, resolver, now, remember, respond, decide)
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
        self.put_master_on(list, items, ids, now, remember, respond)
    }
}

//! The current version of records, kept in memory for one server's connections to its
//! SQLite file. Every commit of the writer empties the page cache of every other
//! connection (WAL), so a read by key went to the file's pages again each time: a GET's
//! read was a sixth of the HTTP threads' time under load, and a sync's read of its base a
//! tenth of the writer's.
//!
//! Only versions known to be committed go in: read by a connection, or written by the
//! writer and put in after its commit (`Written`). A version goes in only over an older
//! one of its record, so a read that raced a newer write never hides it. Between a commit
//! and the writer putting its versions in, a read may still see the version before: that
//! version is what a read running beside the write may show, since no one has been
//! answered the newer one yet. Meant for one server per file: the writer lets everything
//! go when, as a batch starts, it sees another process's commit (`PRAGMA data_version`),
//! so no write decides on an outdated version; a read may show one until then.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use super::RecordKey;
use crate::sync::StoredVersion;

/// The most records kept; past it a quarter of them is let go.
const CAPACITY: usize = 16 * 1024;

/// Records' current versions by key (see the module's notes).
#[derive(Default)]
pub struct Currents {
    /// Shared, not copied: a GET and the writer take a version without copying its fields
    /// (under the lock, too).
    by_key: Mutex<FxHashMap<String, Arc<StoredVersion<'static>>>>,
    /// Counts the writer's commits that put versions in (and clears): a version read
    /// goes in only if none came between the read's start and its putting in.
    commits: AtomicU64,
}

/// When a read started, as `Currents` counts: `Currents::put_read` takes it.
#[derive(Clone, Copy)]
pub struct ReadStart(u64);

/// A record's key as one string (made before the map is locked: the lock is shared by
/// every GET and the writer).
fn key_of(key: RecordKey) -> String {
    super::pair_key(key.record_type, key.id)
}

impl Currents {
    /// The record's current version, if kept.
    pub fn get(&self, key: RecordKey) -> Option<Arc<StoredVersion<'static>>> {
        let key = key_of(key);
        self.by_key.lock().ok()?.get(&key).cloned()
    }

    /// Taken before a read whose version is then put in (`put_read`).
    pub fn read_start(&self) -> ReadStart {
        ReadStart(self.commits.load(Ordering::Acquire))
    }

    /// Keeps a version read, if no commit of the writer came since the read started: a
    /// read that raced a write may have seen the version before, which must not go in
    /// after the write's own (or after it was let go).
    pub fn put_read(
        &self,
        key: RecordKey,
        version: &Arc<StoredVersion<'static>>,
        started: ReadStart,
    ) {
        let key = key_of(key);
        let Ok(mut by_key) = self.by_key.lock() else {
            return;
        };
        if self.commits.load(Ordering::Acquire) == started.0 {
            put(&mut by_key, key, version);
        }
    }

    /// The writer's committed versions go in, in the order written.
    fn put_committed<'k>(
        &self,
        versions: impl Iterator<Item = (RecordKey<'k>, &'k Arc<StoredVersion<'static>>)>,
    ) {
        let keyed: Vec<_> = versions
            .map(|(key, version)| (key_of(key), version))
            .collect();
        let Ok(mut by_key) = self.by_key.lock() else {
            return;
        };
        self.commits.fetch_add(1, Ordering::AcqRel);
        for (key, version) in keyed {
            put(&mut by_key, key, version);
        }
    }

    /// Forgets everything (after a batch that may or may not have committed).
    pub fn clear(&self) {
        if let Ok(mut by_key) = self.by_key.lock() {
            self.commits.fetch_add(1, Ordering::AcqRel);
            by_key.clear();
        }
    }
}

/// Keeps a version of a record, unless a newer one is kept.
fn put(
    by_key: &mut FxHashMap<String, Arc<StoredVersion<'static>>>,
    key: String,
    version: &Arc<StoredVersion<'static>>,
) {
    if by_key
        .get(&key)
        .is_some_and(|kept| kept.version >= version.version)
    {
        return;
    }
    if by_key.len() >= CAPACITY && !by_key.contains_key(&key) {
        let mut n = 0usize;
        by_key.retain(|_, _| {
            n += 1;
            !n.is_multiple_of(4)
        });
    }
    by_key.insert(key, Arc::clone(version));
}

/// A connection's part in sharing `Currents` (boxed in the store, which has one only when
/// shared).
pub(super) struct Sharing {
    pub(super) currents: Arc<Currents>,
    /// The versions written in the connection's open batch.
    written: Written,
}

impl Sharing {
    pub(super) fn new(currents: Arc<Currents>) -> Self {
        Self {
            currents,
            written: Written::default(),
        }
    }

    /// A record's current version as the connection sees it without reading the file, if
    /// known: written in its open batch, or kept.
    pub(super) fn known(&self, key: RecordKey) -> Option<Arc<StoredVersion<'static>>> {
        match self.written.get(key) {
            Some(version) => Some(Arc::clone(version)),
            None => self.currents.get(key),
        }
    }

    /// A version the connection appended, once its unit of work committed: kept when its
    /// batch commits, or at once outside a batch.
    pub(super) fn appended(
        &mut self,
        in_batch: bool,
        key: RecordKey,
        version: &Arc<StoredVersion<'static>>,
    ) {
        self.written.push(key, version);
        if !in_batch {
            self.written.committed(&self.currents);
        }
    }

    /// The connection's batch committed, or not.
    pub(super) fn batch_ended(&mut self, committed: bool) {
        if committed {
            self.written.committed(&self.currents);
        } else {
            self.written.rolled_back(&self.currents);
        }
    }
}

/// The versions a writer's open batch has written, to put in once it commits: until then
/// they are its own to see, and no one else's.
#[derive(Default)]
pub(super) struct Written {
    versions: Vec<(String, String, Arc<StoredVersion<'static>>)>,
}

impl Written {
    pub(super) fn push(&mut self, key: RecordKey, version: &Arc<StoredVersion<'static>>) {
        self.versions
            .push((key.record_type.into(), key.id.into(), Arc::clone(version)));
    }

    /// The newest version of a record written in the batch.
    pub(super) fn get(&self, key: RecordKey) -> Option<&Arc<StoredVersion<'static>>> {
        self.versions
            .iter()
            .rev()
            .find(|(t, id, _)| t == key.record_type && id == key.id)
            .map(|(_, _, v)| v)
    }

    /// The batch committed: its versions go in.
    pub(super) fn committed(&mut self, currents: &Currents) {
        currents.put_committed(self.versions.iter().map(|(record_type, id, version)| {
            let key = RecordKey { record_type, id };
            (key, version)
        }));
        self.versions.clear();
    }

    /// The batch did not commit, or may have after all (a failed `COMMIT`): nothing of
    /// it goes in, and what is kept may be what it replaced, so all of that goes too.
    pub(super) fn rolled_back(&mut self, currents: &Currents) {
        if !self.versions.is_empty() {
            currents.clear();
        }
        self.versions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{UtcMillis, Version};

    const KEY: RecordKey = RecordKey {
        record_type: "t",
        id: "1",
    };

    fn version(n: u64) -> StoredVersion<'static> {
        StoredVersion {
            version: Version::new(n).unwrap(),
            last_modified: UtcMillis::now(),
            modified_by: "ana".into(),
            device_id: None,
            device_seq: None,
            deleted: false,
            fields: Default::default(),
        }
    }

    fn kept(currents: &Currents, key: RecordKey) -> Option<u64> {
        currents.get(key).map(|v| v.version.get())
    }

    fn commit(currents: &Currents, versions: &[(RecordKey, u64)]) {
        let mut written = Written::default();
        for (key, n) in versions {
            written.push(*key, &Arc::new(version(*n)));
        }
        written.committed(currents);
    }

    #[test]
    fn a_version_goes_in_only_over_an_older_one() {
        let currents = Currents::default();
        commit(&currents, &[(KEY, 2)]);
        let start = currents.read_start();
        currents.put_read(KEY, &Arc::new(version(1)), start);
        assert_eq!(
            kept(&currents, KEY),
            Some(2),
            "an older read does not go in"
        );
        commit(&currents, &[(KEY, 3), (KEY, 4)]);
        assert_eq!(kept(&currents, KEY), Some(4), "the batch's last write");
        let other = RecordKey {
            record_type: "t1",
            id: "",
        };
        assert_eq!(
            kept(&currents, other),
            None,
            "keys of other records do not meet"
        );
    }

    #[test]
    fn a_read_that_a_commit_overtook_does_not_go_in() {
        let currents = Currents::default();
        let before = currents.read_start();
        // The read saw version 1; the writer committed version 2 meanwhile and then let
        // its records go (a batch that may not have committed).
        commit(&currents, &[(KEY, 2)]);
        currents.clear();
        currents.put_read(KEY, &Arc::new(version(1)), before);
        assert_eq!(kept(&currents, KEY), None);
        let after = currents.read_start();
        currents.put_read(KEY, &Arc::new(version(2)), after);
        assert_eq!(kept(&currents, KEY), Some(2));
    }

    #[test]
    fn a_batch_that_did_not_commit_puts_nothing_in_and_lets_the_rest_go() {
        let currents = Currents::default();
        commit(&currents, &[(KEY, 1)]);
        let mut written = Written::default();
        written.push(KEY, &Arc::new(version(2)));
        assert_eq!(written.get(KEY).map(|v| v.version.get()), Some(2));
        assert_eq!(kept(&currents, KEY), Some(1), "not kept before the commit");
        written.rolled_back(&currents);
        assert_eq!(kept(&currents, KEY), None);
        assert!(written.get(KEY).is_none());
    }

    #[test]
    fn a_kept_version_is_shared_with_every_reader_not_copied() {
        let currents = Currents::default();
        let mut written = Written::default();
        let appended = Arc::new(version(1));
        written.push(KEY, &appended);
        assert!(Arc::ptr_eq(written.get(KEY).unwrap(), &appended));
        written.committed(&currents);
        let (first, second) = (currents.get(KEY).unwrap(), currents.get(KEY).unwrap());
        assert!(Arc::ptr_eq(&first, &second), "two reads, one version");
        assert!(
            Arc::ptr_eq(&first, &appended),
            "the version appended, put in as it was"
        );
    }

    #[test]
    fn past_its_capacity_it_lets_some_records_go() {
        let currents = Currents::default();
        let ids: Vec<String> = (0..=CAPACITY).map(|n| n.to_string()).collect();
        for id in &ids {
            let key = RecordKey {
                record_type: "t",
                id,
            };
            currents.put_read(key, &Arc::new(version(1)), currents.read_start());
        }
        let kept_now = ids
            .iter()
            .filter(|id| {
                let key = RecordKey {
                    record_type: "t",
                    id,
                };
                currents.get(key).is_some()
            })
            .count();
        assert!(
            kept_now <= CAPACITY && kept_now > CAPACITY / 2,
            "{kept_now} kept"
        );
        let last = RecordKey {
            record_type: "t",
            id: &ids[CAPACITY],
        };
        assert!(currents.get(last).is_some(), "the newest is kept");
    }
}

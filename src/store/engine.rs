//! The store a server runs on, chosen by its `database` setting: a SQLite file, or a
//! PostgreSQL database (`postgres://...`). `Engine` is either, as one `Store`.

use std::path::{Path, PathBuf};

use super::*;

/// Where the records are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// A `postgres://` (or `postgresql://`) URL.
    Postgres(String),
}

impl Database {
    /// The `database` setting (or `--db`): a PostgreSQL URL, or else a SQLite file.
    pub fn from_setting(setting: &str) -> Self {
        if setting.starts_with("postgres://") || setting.starts_with("postgresql://") {
            Database::Postgres(setting.into())
        } else {
            Database::Sqlite(setting.into())
        }
    }

    /// Opens (and migrates) it.
    pub fn open(&self) -> Result<Engine, StoreError> {
        Ok(match self {
            Database::Sqlite(path) => Engine::Sqlite(Box::new(SqliteStore::open(path)?)),
            Database::Postgres(url) => Engine::Postgres(Box::new(PgStore::open(url)?)),
        })
    }
}

/// Where the database is, for a log line: the file, or the URL without its password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                match rest.split_once('@') {
                    Some((userinfo, host)) if userinfo.contains(':') => {
                        let user = userinfo.split(':').next().unwrap_or_default();
                        write!(f, "{scheme}://{user}:***@{host}")
                    }
                    _ => f.write_str(url),
                }
            }
        }
    }
}

impl From<&Path> for Database {
    fn from(path: &Path) -> Self {
        Database::Sqlite(path.into())
    }
}

impl From<&PathBuf> for Database {
    fn from(path: &PathBuf) -> Self {
        Database::Sqlite(path.clone())
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Database::Sqlite(path)
    }
}

/// A store on either engine.
/// Each boxed: the two differ in size, and neither is moved often.
pub enum Engine {
    Sqlite(Box<SqliteStore>),
    Postgres(Box<PgStore>),
}

/// Runs the same call on whichever engine it is.
macro_rules! on_engine {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Engine::Sqlite(boxed) => {
                let $store = &**boxed;
                $call
            }
            Engine::Postgres(boxed) => {
                let $store = &**boxed;
                $call
            }
        }
    };
    (mut $self:ident, $store:ident => $call:expr) => {
        match $self {
            Engine::Sqlite(boxed) => {
                let $store = &mut **boxed;
                $call
            }
            Engine::Postgres(boxed) => {
                let $store = &mut **boxed;
                $call
            }
        }
    };
}

impl Store for Engine {
    fn prune_logs(&mut self, older_than: UtcMillis, at_most: usize) -> Result<(), StoreError> {
        on_engine!(mut self, s => Store::prune_logs(s, older_than, at_most))
    }

    fn resolutions(
        &self,
        filter: &AuditFilter,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        on_engine!(self, s => Store::resolutions(s, filter, limit))
    }

    fn sync_stats(
        &self,
        by: StatsBy,
        since: Option<UtcMillis>,
        until: Option<UtcMillis>,
    ) -> Result<Vec<StatsRow>, StoreError> {
        on_engine!(self, s => Store::sync_stats(s, by, since, until))
    }

    fn log_sync(&mut self, entry: &SyncEntry) -> Result<(), StoreError> {
        on_engine!(mut self, s => Store::log_sync(s, entry))
    }

    fn syncs(
        &self,
        filter: &SyncFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SyncEntry>, StoreError> {
        on_engine!(self, s => Store::syncs(s, filter, before, limit))
    }

    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<QueueEvent>, StoreError> {
        on_engine!(self, s => Store::events_after(s, after, limit))
    }

    fn last_event(&self) -> Result<u64, StoreError> {
        on_engine!(self, s => Store::last_event(s))
    }

    fn claim(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<Option<Claimed>, StoreError> {
        on_engine!(mut self, s => Store::claim(s, id, user, now, until))
    }

    fn release(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
    ) -> Result<Option<Released>, StoreError> {
        on_engine!(mut self, s => Store::release(s, id, user, now))
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        on_engine!(mut self, s => s.begin_batch())
    }

    fn end_batch(&mut self) -> Result<(), StoreError> {
        on_engine!(mut self, s => s.end_batch())
    }

    fn read_ahead(&mut self, writes: &[Announced]) {
        on_engine!(mut self, s => Store::read_ahead(s, writes))
    }

    fn current(
        &self,
        key: RecordKey,
    ) -> Result<Option<std::sync::Arc<StoredVersion<'static>>>, StoreError> {
        on_engine!(self, s => Store::current(s, key))
    }

    fn exists(&self, key: RecordKey) -> Result<bool, StoreError> {
        on_engine!(self, s => Store::exists(s, key))
    }

    fn history(&self, key: RecordKey) -> Result<Vec<StoredVersion<'static>>, StoreError> {
        on_engine!(self, s => Store::history(s, key))
    }

    fn version(
        &self,
        key: RecordKey,
        version: Version,
    ) -> Result<Option<StoredVersion<'static>>, StoreError> {
        on_engine!(self, s => Store::version(s, key, version))
    }

    fn changed_after(
        &self,
        record_type: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String, StoredVersion<'static>)>, StoreError> {
        on_engine!(self, s => Store::changed_after(s, record_type, after, limit))
    }

    fn conflict(&self, id: ConflictId) -> Result<Option<ConflictRow>, StoreError> {
        on_engine!(self, s => Store::conflict(s, id))
    }

    fn conflicts(
        &self,
        open: Option<bool>,
        record_type: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        on_engine!(self, s => Store::conflicts(s, open, record_type, after, limit))
    }

    fn open_conflicts(&self) -> Result<u64, StoreError> {
        on_engine!(self, s => Store::open_conflicts(s))
    }

    fn master(&self, list: &str) -> Result<Option<MasterList>, StoreError> {
        on_engine!(self, s => Store::master(s, list))
    }

    fn remembered(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
    ) -> Result<Option<Remembered>, StoreError> {
        on_engine!(self, s => Store::remembered(s, user, key, ttl_hours, now))
    }

    fn remembered_before_write(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
        write: &WriteAhead,
    ) -> Result<Option<Remembered>, StoreError> {
        on_engine!(self, s => Store::remembered_before_write(s, user, key, ttl_hours, now, write))
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
        on_engine!(mut self, s => Store::write(s, key, from, author, now, remember, decide, respond))
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
        on_engine!(mut self, s => Store::resolve(s, id, resolver, now, remember, respond, decide))
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
        on_engine!(mut self, s => Store::put_master(s, list, items, ids, now, remember, respond))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_names_postgres_by_its_scheme_and_anything_else_a_file() {
        assert_eq!(
            Database::from_setting("postgres://u@h/db"),
            Database::Postgres("postgres://u@h/db".into())
        );
        assert!(matches!(
            Database::from_setting("postgresql://h/db"),
            Database::Postgres(_)
        ));
        assert_eq!(
            Database::from_setting("data/syncdesk.db"),
            Database::Sqlite("data/syncdesk.db".into())
        );
    }

    #[test]
    fn a_shown_url_hides_its_password() {
        let shown = Database::from_setting("postgres://sd:s3cret@db:5432/x").to_string();
        assert_eq!(shown, "postgres://sd:***@db:5432/x");
        let shown = Database::from_setting("postgres://sd@db/x").to_string();
        assert_eq!(shown, "postgres://sd@db/x");
    }
}

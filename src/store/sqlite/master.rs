//! Master-data lists, the items that left them, and the lookup writes check against.

use super::*;

impl SqliteStore {
    /// Replaces a master-data list; `ids` are its items' ids, `items` the list as sent.
    /// With `remember`, the answer `respond` gives is stored under the key in the same
    /// transaction.
    pub fn put_master(
        &mut self,
        list: &str,
        items: &str,
        ids: &[&str],
        now: UtcMillis,
        remember: Option<Remember>,
        respond: impl FnOnce(&MasterList) -> Option<String>,
    ) -> Result<MasterList, StoreError> {
        self.forget_expired_answers(remember.as_ref(), now)?;
        let tx = self.unit()?;
        remember_removed(&tx, list, ids, now)?;
        let version: i64 = tx
            .prepare_cached(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM master_lists WHERE list = ?1",
            )?
            .query_row(params![list], |r| r.get(0))?;
        tx.prepare_cached("INSERT OR REPLACE INTO master_lists (list, items, version, last_modified) VALUES (?1, ?2, ?3, ?4)")?.execute(
            params![list, items, version, now.to_string()],
        )?;
        tx.prepare_cached("DELETE FROM master_items WHERE list = ?1")?
            .execute(params![list])?;
        {
            let mut insert =
                tx.prepare_cached("INSERT OR IGNORE INTO master_items (list, id) VALUES (?1, ?2)")?;
            for id in ids {
                insert.execute(params![list, id])?;
            }
        }
        let version = u64::try_from(version)
            .ok()
            .and_then(Version::new)
            .ok_or_else(|| StoreError::Corrupt("bad list version".into()))?;
        let master = MasterList {
            items: items.into(),
            removed: removed_items(&tx, list)?,
            version,
            last_modified: now,
        };
        if let Some(remember) = remember
            && let Some(text) = respond(&master)
        {
            self.remember_answer(&remember, now, &text)?;
        }
        tx.commit()?;
        Ok(master)
    }

    /// A master-data list, if it was ever put.
    pub fn master(&self, list: &str) -> Result<Option<MasterList>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT items, version, last_modified FROM master_lists WHERE list = ?1",
            )?
            .query_row(params![list], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()?;
        let removed = removed_items(&self.conn, list)?;
        row.map(|(items, version, last_modified)| {
            let corrupt =
                || StoreError::Corrupt(format!("stored master list {list:?} is unreadable"));
            Ok(MasterList {
                removed,
                items,
                version: u64::try_from(version)
                    .ok()
                    .and_then(Version::new)
                    .ok_or_else(corrupt)?,
                last_modified: last_modified.parse().map_err(|_| corrupt())?,
            })
        })
        .transpose()
    }
}

/// The items that left a list, each with its `removed_at` (a JSON array).
pub(super) fn removed_items(conn: &Connection, list: &str) -> Result<String, StoreError> {
    let removed: Vec<String> = conn
        .prepare_cached(
            "SELECT json_set(item, '$.removed_at', removed_at) FROM master_removed
             WHERE list = ?1 ORDER BY id",
        )?
        .query_map(params![list], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(format!("[{}]", removed.join(",")))
}

/// Before a list is replaced: its items that the new `ids` leave out are kept as they
/// were, with when they went; items listed again are no longer removed.
pub(super) fn remember_removed(
    conn: &Connection,
    list: &str,
    ids: &[&str],
    now: UtcMillis,
) -> Result<(), StoreError> {
    let old: Option<String> = conn
        .prepare_cached("SELECT items FROM master_lists WHERE list = ?1")?
        .query_row(params![list], |r| r.get(0))
        .optional()?;
    let old: Vec<serde_json::Value> = old
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let mut keep = conn.prepare_cached(
        "INSERT OR REPLACE INTO master_removed (list, id, item, removed_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for item in &old {
        let Some(id) = item.get("id").and_then(|v| v.as_str()) else {
            continue;
        };
        if !ids.contains(&id) {
            keep.execute(params![list, id, item.to_string(), now.to_string()])?;
        }
    }
    let mut back = conn.prepare_cached("DELETE FROM master_removed WHERE list = ?1 AND id = ?2")?;
    for id in ids {
        back.execute(params![list, id])?;
    }
    Ok(())
}

/// Whether a master-data list holds an item, as the connection (and its transaction)
/// sees it. A lookup that fails is remembered and fails the write afterwards: a database
/// hiccup must not park a valid write as an invalid reference.
pub(super) struct Listed<'c> {
    conn: &'c Connection,
    failed: std::cell::RefCell<Option<rusqlite::Error>>,
}

impl<'c> Listed<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            failed: std::cell::RefCell::new(None),
        }
    }

    pub(super) fn holds(&self, list: &str, id: &str) -> bool {
        let found = self
            .conn
            .prepare_cached("SELECT 1 FROM master_items WHERE list = ?1 AND id = ?2")
            .and_then(|mut lookup| lookup.exists(params![list, id]));
        found.unwrap_or_else(|e| {
            self.failed.borrow_mut().get_or_insert(e);
            false
        })
    }

    /// The first failed lookup, if any: the write's answer then cannot stand.
    pub(super) fn check(self) -> Result<(), StoreError> {
        match self.failed.into_inner() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

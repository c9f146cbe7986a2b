//! Master-data lists, the items that left them, the lookup writes check against, and the
//! answers remembered under idempotency keys.

use super::*;
use crate::store::oldest_kept;

impl PgStore {
    pub(super) fn put_master_on(
        &mut self,
        list: &str,
        items: &str,
        ids: &[&str],
        now: UtcMillis,
        remember: Option<Remember>,
        respond: impl FnOnce(&MasterList) -> Option<String>,
    ) -> Result<MasterList, StoreError> {
        let tx = self.unit()?;
        let client = &mut *tx.client;
        remember_removed(client, list, ids, now)?;
        let version: Version = client
            .query_one(
                "INSERT INTO master_lists (list, items, version, last_modified)
                 VALUES ($1, $2, 1, $3)
                 ON CONFLICT (list) DO UPDATE
                     SET items = $2, version = master_lists.version + 1, last_modified = $3
                 RETURNING version",
                &[&list, &items, &now],
            )?
            .try_get(0)?;
        client.execute("DELETE FROM master_items WHERE list = $1", &[&list])?;
        client.execute(
            "INSERT INTO master_items (list, id) SELECT $1, unnest($2::TEXT[]) ON CONFLICT DO NOTHING",
            &[&list, &ids],
        )?;
        let master = MasterList {
            items: items.into(),
            removed: removed_items(client, list)?,
            version,
            last_modified: now,
        };
        if let Some(remember) = remember
            && let Some(text) = respond(&master)
        {
            remember_answer(client, &remember, now, &text)?;
        }
        tx.commit()?;
        Ok(master)
    }

    pub(super) fn master_on(&self, list: &str) -> Result<Option<MasterList>, StoreError> {
        let client = &mut *self.client.borrow_mut();
        let Some(row) = client.query_opt(
            "SELECT items, version, last_modified FROM master_lists WHERE list = $1",
            &[&list],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(MasterList {
            items: row.try_get(0)?,
            version: row.try_get(1)?,
            last_modified: row.try_get(2)?,
            removed: removed_items(client, list)?,
        }))
    }

    pub(super) fn remembered_on(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
    ) -> Result<Option<Remembered>, StoreError> {
        let client = &mut *self.client.borrow_mut();
        // A batch's answers wait to be sent: this key's must go first, the others need not.
        if client.pending.holds_answer(user, key) {
            client.flush()?;
        }
        let rows = client.query_beside_pending(
            "SELECT fingerprint, answer FROM idempotency
             WHERE \"user\" = $1 AND key = $2 AND created_ms >= $3",
            &[&user, &key, &oldest_kept(now, ttl_hours)],
        )?;
        match rows.first() {
            Some(row) => Ok(Some(remembered_of(row.try_get(0)?, row.try_get(1)?)?)),
            None => Ok(None),
        }
    }
}

/// Stores an answer under its idempotency key (forgetting the expired ones), sent with
/// the transaction's other unsent rows.
pub(super) fn remember_answer(
    client: &mut Connection,
    remember: &Remember,
    now: UtcMillis,
    answer: &str,
) -> Result<(), StoreError> {
    client.pending_mut().remember(remember, now, answer);
    Ok(())
}

/// The items that left a list, each with its `removed_at` (a JSON array).
fn removed_items(client: &mut Connection, list: &str) -> Result<String, StoreError> {
    let rows = client.query(
        "SELECT item, removed_at FROM master_removed WHERE list = $1 ORDER BY id",
        &[&list],
    )?;
    let mut removed = Vec::with_capacity(rows.len());
    for row in rows {
        let item: String = row.try_get(0)?;
        let removed_at: String = row.try_get(1)?;
        let mut item: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&item)?;
        item.insert("removed_at".into(), removed_at.into());
        removed.push(serde_json::Value::Object(item));
    }
    Ok(serde_json::to_string(&removed)?)
}

/// Before a list is replaced: its items that the new `ids` leave out are kept as they
/// were, with when they went; items listed again are no longer removed.
fn remember_removed(
    client: &mut Connection,
    list: &str,
    ids: &[&str],
    now: UtcMillis,
) -> Result<(), StoreError> {
    let old: Option<String> = client
        .query_opt("SELECT items FROM master_lists WHERE list = $1", &[&list])?
        .map(|row| row.try_get(0))
        .transpose()?;
    let old: Vec<serde_json::Value> = match old {
        Some(text) => serde_json::from_str(&text)?,
        None => Vec::new(),
    };
    for item in &old {
        let Some(id) = item.get("id").and_then(|v| v.as_str()) else {
            continue;
        };
        if !ids.contains(&id) {
            client.execute(
                "INSERT INTO master_removed (list, id, item, removed_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (list, id) DO UPDATE SET item = $3, removed_at = $4",
                &[&list, &id, &item.to_string(), &now],
            )?;
        }
    }
    client.execute(
        "DELETE FROM master_removed WHERE list = $1 AND id = ANY($2::TEXT[])",
        &[&list, &ids],
    )?;
    Ok(())
}

/// Whether a master-data list holds an item, as the write's transaction sees it. A
/// lookup that fails is remembered and fails the write afterwards: a database hiccup
/// must not park a valid write as an invalid reference.
pub(super) struct Listed<'a, 'c> {
    client: &'a RefCell<&'c mut Connection>,
    failed: RefCell<Option<postgres::Error>>,
}

impl<'a, 'c> Listed<'a, 'c> {
    pub(super) fn new(client: &'a RefCell<&'c mut Connection>) -> Self {
        Self {
            client,
            failed: RefCell::new(None),
        }
    }

    pub(super) fn holds(&self, list: &str, id: &str) -> bool {
        // Master lists are never among a batch's unsent rows: no need to send them first.
        let found = self.client.borrow_mut().query_beside_pending(
            "SELECT 1 FROM master_items WHERE list = $1 AND id = $2",
            &[&list, &id],
        );
        match found {
            Ok(rows) => !rows.is_empty(),
            Err(e) => {
                self.failed.borrow_mut().get_or_insert(e);
                false
            }
        }
    }

    /// The first failed lookup, if any: the write's answer then cannot stand.
    pub(super) fn check(self) -> Result<(), StoreError> {
        match self.failed.into_inner() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

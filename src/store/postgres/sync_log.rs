//! The sync log on PostgreSQL (numbered in commit order under the write lock).

use super::*;
use crate::store::rows::{RawSync, SYNC_COLUMNS};
use crate::store::{StatsBy, StatsRow, SyncEntry, SyncFilter};

impl PgStore {
    pub(super) fn log_sync_on(&mut self, entry: &SyncEntry) -> Result<(), StoreError> {
        // In a batch (the writer's way) the entry goes with the batch's other rows: no
        // round trip of its own.
        let tx = self.write_unit()?;
        tx.client.pending_mut().log_sync(entry)?;
        tx.commit()
    }

    pub(super) fn prune_logs_on(
        &mut self,
        older_than: UtcMillis,
        at_most: usize,
    ) -> Result<(), StoreError> {
        // With the batch's other rows, as the entry it comes with: no round trip of its own.
        let tx = self.write_unit()?;
        tx.client.pending_mut().prune(older_than, at_most);
        tx.commit()
    }

    pub(super) fn sync_stats_on(
        &self,
        by: StatsBy,
        since: Option<UtcMillis>,
        until: Option<UtcMillis>,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let key = by.key_sql();
        let rows = self.client.borrow_mut().query(
            &format!(
                "SELECT {key}, outcome, COUNT(*), COUNT(*) FILTER (WHERE status IN (409, 412, 422))
                 FROM syncs
                 WHERE ($1::TEXT IS NULL OR at >= $1) AND ($2::TEXT IS NULL OR at < $2)
                 GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            &[&since, &until],
        )?;
        rows.iter()
            .map(|r| {
                Ok(StatsRow {
                    group: r.try_get(0)?,
                    outcome: r.try_get(1)?,
                    count: unsigned(r.try_get(2)?, "count")?,
                    refused: unsigned(r.try_get(3)?, "count")?,
                })
            })
            .collect()
    }

    pub(super) fn syncs_on(
        &self,
        filter: &SyncFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SyncEntry>, StoreError> {
        let rows = self.client.borrow_mut().query(
            &sync_log_sql(),
            &[
                &before.map_or(i64::MAX, signed),
                &filter.outcome,
                &filter.user,
                &filter.device_id,
                &filter.record_type,
                &filter.since,
                &filter.until,
                &signed(limit as u64),
            ],
        )?;
        rows.iter()
            .map(|r| {
                RawSync {
                    seq: r.try_get(0)?,
                    at: r.try_get(1)?,
                    user: r.try_get(2)?,
                    device_id: r.try_get(3)?,
                    method: r.try_get(4)?,
                    record_type: r.try_get(5)?,
                    record_id: r.try_get(6)?,
                    status: i64::from(r.try_get::<_, i32>(7)?),
                    outcome: r.try_get(8)?,
                    problem: r.try_get(9)?,
                    paths: r.try_get(10)?,
                    conflict_id: r.try_get(11)?,
                    body: r.try_get(12)?,
                    base_version: r.try_get(13)?,
                    version: r.try_get(14)?,
                    kept: r.try_get(15)?,
                }
                .check()
            })
            .collect()
    }
}

/// The sync log's query: before the cursor `$1`, of outcome `$2`, by user `$3`, from
/// device `$4`, of type `$5`, since `$6`, until `$7`, at most `$8`. PostgreSQL plans it with
/// the values bound, so `$4::TEXT IS NULL OR device_id = $4` reads a device's entries
/// through their index.
pub(super) fn sync_log_sql() -> String {
    format!(
        "SELECT {SYNC_COLUMNS} FROM syncs
         WHERE seq < $1 AND ($2::TEXT IS NULL OR outcome = $2)
           AND ($3::TEXT IS NULL OR \"user\" = $3) AND ($4::TEXT IS NULL OR device_id = $4)
           AND ($5::TEXT IS NULL OR record_type = $5)
           AND ($6::TEXT IS NULL OR at >= $6) AND ($7::TEXT IS NULL OR at < $7)
         ORDER BY seq DESC LIMIT $8"
    )
}

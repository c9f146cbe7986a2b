//! The sync log on SQLite.

use super::*;
use crate::store::rows::{RawSync, SYNC_COLUMNS};
use crate::store::{StatsBy, StatsRow, SyncEntry, SyncFilter};

impl SqliteStore {
    pub(super) fn log_sync_on(&mut self, entry: &SyncEntry) -> Result<(), StoreError> {
        // One statement, atomic on its own: no savepoint around it (inside a batch it
        // commits with the write it logs).
        self.conn
            .prepare_cached(
            "INSERT INTO syncs (at, \"user\", device_id, method, record_type, record_id, status,
                                outcome, problem, paths, conflict_id, body, base_version,
                                version, kept)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?
        .execute(params![
            entry.at,
            entry.user,
            entry.device_id,
            entry.method,
            entry.record_type,
            entry.record_id,
            entry.status,
            entry.outcome,
            entry.problem,
            serde_json::to_string(&entry.paths)?,
            entry.conflict_id,
            entry.body,
            entry.base_version,
            entry.version,
            serde_json::to_string(&entry.kept)?,
        ])?;
        Ok(())
    }

    pub(super) fn prune_logs_on(
        &mut self,
        older_than: UtcMillis,
        at_most: usize,
    ) -> Result<(), StoreError> {
        // The oldest entries by number are the oldest by time. Each statement is atomic on
        // its own, so none needs a savepoint.
        for (sql, first) in LOG_TABLES.iter().zip(&mut self.first_logged) {
            let at_most = signed(at_most as u64);
            delete_due(&self.conn, first, *sql, older_than, at_most, |_| Ok(()))?;
        }
        Ok(())
    }

    pub(super) fn sync_stats_on(
        &self,
        by: StatsBy,
        since: Option<UtcMillis>,
        until: Option<UtcMillis>,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let mut statement = self.conn.prepare_cached(&stats_sql(by))?;
        let rows = statement.query_map(params![since, until], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (group, outcome, count, refused) = row?;
            Ok(StatsRow {
                group,
                outcome,
                count: u64::try_from(count).unwrap_or(0),
                refused: u64::try_from(refused).unwrap_or(0),
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
        let mut statement = self.conn.prepare_cached(&sync_log_sql(filter))?;
        let rows = statement.query_map(
            params![
                before.map_or(i64::MAX, signed),
                filter.outcome,
                filter.user,
                filter.device_id,
                filter.record_type,
                filter.since,
                filter.until,
                signed(limit as u64),
            ],
            |r| {
                Ok(RawSync {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    user: r.get(2)?,
                    device_id: r.get(3)?,
                    method: r.get(4)?,
                    record_type: r.get(5)?,
                    record_id: r.get(6)?,
                    status: r.get(7)?,
                    outcome: r.get(8)?,
                    problem: r.get(9)?,
                    paths: r.get(10)?,
                    conflict_id: r.get(11)?,
                    body: r.get(12)?,
                    base_version: r.get(13)?,
                    version: r.get(14)?,
                    kept: r.get(15)?,
                })
            },
        )?;
        rows.map(|row| row.map_err(StoreError::from)?.check())
            .collect()
    }
}

/// Per table the log prunes: its oldest entry, and the delete (texts fixed: no SQL built
/// per write).
const LOG_TABLES: [[&str; 2]; 2] = [
    [
        "SELECT at FROM syncs ORDER BY seq LIMIT 1",
        "DELETE FROM syncs WHERE seq IN (SELECT seq FROM syncs ORDER BY seq LIMIT ?1)
         AND at < ?2",
    ],
    [
        "SELECT at FROM events ORDER BY seq LIMIT 1",
        "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?1)
         AND at < ?2",
    ],
];

/// The query of the log's numbers, grouped by `by`, since `?1`, until `?2`.
pub(super) fn stats_sql(by: StatsBy) -> String {
    // Not grouped through `syncs_by_user`: walking it reads the rows in random order,
    // three times slower than reading them all in theirs (a unary plus keeps SQLite from
    // matching the group to the index).
    let key = match by {
        StatsBy::User => "+\"user\"",
        other => other.key_sql(),
    };
    format!(
        "SELECT {key}, outcome, COUNT(*), SUM(status IN (409, 412, 422)) FROM syncs
         WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2)
         GROUP BY 1, 2 ORDER BY 1, 2"
    )
}

/// The sync log's query for a filter: before the cursor `?1`, of outcome `?2`, by user
/// `?3`, from device `?4`, of type `?5`, since `?6`, until `?7`, at most `?8`. A user or a
/// device asked for is written as a condition of its own (else only its placeholder), so
/// that SQLite reads that user's or device's entries through their index: its plans do
/// not depend on bound values, and `?3 IS NULL OR ...` could use no index.
pub(super) fn sync_log_sql(filter: &SyncFilter) -> String {
    let user = match filter.user {
        Some(_) => "\"user\" = ?3",
        None => "?3 IS NULL",
    };
    let device = match filter.device_id {
        Some(_) => "device_id = ?4",
        None => "?4 IS NULL",
    };
    format!(
        "SELECT {SYNC_COLUMNS} FROM syncs
         WHERE seq < ?1 AND (?2 IS NULL OR outcome = ?2) AND {user} AND {device}
           AND (?5 IS NULL OR record_type = ?5)
           AND (?6 IS NULL OR at >= ?6) AND (?7 IS NULL OR at < ?7)
         ORDER BY seq DESC LIMIT ?8"
    )
}

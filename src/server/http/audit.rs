//! `GET /v1/audit` (section 6): the resolutions, newest first — who chose what for each
//! path, the value taken and the values displaced. Read-only: nothing in the trail is
//! changed or deleted through the API.

use super::*;
use crate::store::AuditFilter;

#[derive(Deserialize)]
pub(super) struct AuditQuery {
    since: Option<String>,
    until: Option<String>,
    by: Option<String>,
    #[serde(rename = "type")]
    record_type: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/audit` (supervisor+).
pub(super) async fn read_audit(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<AuditQuery>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Supervisor)?;
        let before = match &query.cursor {
            None => None,
            Some(cursor) => Some(
                cursor_of(cursor)
                    .ok_or_else(|| Problem::bad_request("cursor is not one this server gave"))?,
            ),
        };
        let filter = AuditFilter {
            since: instant("since", query.since)?,
            until: instant("until", query.until)?,
            by: query.by,
            record_type: query.record_type,
            before,
        };
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let now = state.clock.now();
        let rows = reading(state, move |store| store.resolutions(&filter, limit)).await?;
        let next = (rows.len() == limit)
            .then(|| rows.last())
            .flatten()
            .and_then(|row| {
                let at = row.resolution.as_ref()?.at;
                Some(format!("{at}|{}", row.id))
            });
        let resolutions: Vec<serde_json::Value> = rows
            .iter()
            .filter_map(|row| {
                let summary = conflict_summary(row, now);
                let mut entry = serde_json::to_value(summary.resolution?).ok()?;
                let fields = entry.as_object_mut()?;
                fields.insert("conflict_id".into(), json!(summary.id));
                fields.insert("record_type".into(), json!(summary.record_type));
                fields.insert("record_id".into(), json!(summary.record_id));
                fields.insert("kind".into(), json!(summary.kind));
                Some(entry)
            })
            .collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"resolutions": resolutions, "next": next}),
            None,
        ))
    })
    .await
}

/// `2026-11-20T10:00:00.000Z|c-000042`: the resolution a page ended at.
fn cursor_of(cursor: &str) -> Option<(UtcMillis, ConflictId)> {
    let (at, id) = cursor.split_once('|')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

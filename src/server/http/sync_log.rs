//! The sync log (section 8a): each write's outcome kept beside it on the writer, in the
//! batch the write itself commits in; and `GET /v1/syncs` to read it.

use super::*;
use crate::protocol::SYNC_OUTCOMES;
use crate::store::{SyncEntry, SyncFilter};

/// What the log keeps of a write besides its answer.
pub(super) struct Logged {
    pub(super) clock: crate::server::clock::Clock,
    /// Entries older than this many days go as new ones come (0: kept for ever).
    pub(super) keep_days: u64,
    /// `PUT`, `POST`, `DELETE`, or `RESOLVE`.
    pub(super) method: &'static str,
    pub(super) user: String,
    pub(super) record_type: String,
    pub(super) record_id: Option<String>,
    pub(super) device_id: Option<String>,
    /// The request body, kept (as text) when the write is refused: held as received
    /// until then, since most writes are not.
    pub(super) body: Option<axum::body::Bytes>,
    /// The version a sync said it was based on.
    pub(super) base_version: Option<Version>,
}

/// A write's work on the writer, followed by its entry in the sync log (`None`: a dry
/// run, which is not logged). A log that cannot be written costs the entry, never the
/// write.
pub(super) fn logging(
    logged: Option<Logged>,
    work: impl FnOnce(&mut Engine) -> Answer,
) -> impl FnOnce(&mut Engine) -> Answer {
    move |store| {
        let answer = work(store);
        let Some(logged) = logged else {
            return answer;
        };
        let keep_days = logged.keep_days;
        if let Some(entry) = entry_of(logged, &answer) {
            if let Err(e) = store.log_sync(&entry) {
                tracing::warn!("sync log: {e}");
            }
            if keep_days > 0 {
                let days = i64::try_from(keep_days).unwrap_or(i64::MAX / 86_400_000);
                let cutoff = entry
                    .at
                    .as_millis()
                    .saturating_sub(days.saturating_mul(86_400_000));
                // A few a write: the log stays bounded, and no write waits for a purge.
                if let Some(cutoff) = UtcMillis::from_millis(cutoff)
                    && let Err(e) = store.prune_logs(cutoff, PRUNE_AT_ONCE)
                {
                    tracing::warn!("sync log: {e}");
                }
            }
        }
        // Marked, so that the refusals' layer does not log it again.
        let mut reply = answer.unwrap_or_else(Reply::from);
        reply.logged = true;
        Ok(reply)
    }
}

/// Old entries dropped with each one written: more than one, so a log past its window
/// shrinks back, few enough that a write never notices.
const PRUNE_AT_ONCE: usize = 4;

/// On a response: its write is in the sync log already.
#[derive(Debug, Clone, Copy)]
pub(super) struct SyncLogged;

/// Whether a route writes to a record (what the sync log is about).
pub(super) fn writes_records(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        ("POST", "/v1/{record_type}")
            | ("PUT" | "DELETE", "/v1/{record_type}/{id}")
            | ("POST", "/v1/conflicts/{cid}/resolution")
    )
}

/// Logs the writes refused before they reached the writer (401, 403, 404, 400, 413, 415,
/// 428 ...): who sent it (as far as the token says), what it was about, the status. Dry
/// runs are questions, not writes.
pub(super) fn refusals_logged(
    handler: MethodRouter<Arc<AppState>>,
    state: Arc<AppState>,
    method: &'static str,
) -> MethodRouter<Arc<AppState>> {
    handler.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let state = state.clone();
            async move {
                let dry_run = request
                    .uri()
                    .query()
                    .is_some_and(|q| q.contains("dry_run=true"));
                let user = user_of(&state.config, request.headers());
                let target = request.uri().path().to_owned();
                let response = next.run(request).await;
                let status = response.status().as_u16();
                let refused = (400..500).contains(&status);
                if refused && !dry_run && response.extensions().get::<SyncLogged>().is_none() {
                    let entry = refusal(&state, method, user, &target, status);
                    let kept = blocking(state, move |store| store.log_sync(&entry)).await;
                    if let Err(e) = kept {
                        tracing::warn!("sync log: {}", e.status());
                    }
                }
                response
            }
        },
    ))
}

/// The user a request's token names, or `(unknown)` when none does.
fn user_of(config: &Config, headers: &HeaderMap) -> String {
    signed_in(config, headers, Role::Technician)
        .map(|user| user.name.clone())
        .unwrap_or_else(|_| "(unknown)".into())
}

/// The entry of a write refused before the writer: its record from its path.
fn refusal(state: &AppState, method: &str, user: String, target: &str, status: u16) -> SyncEntry {
    let mut segments = target.trim_start_matches("/v1/").split('/');
    let (method, record_type, record_id) = match (segments.next(), segments.next()) {
        (Some("conflicts"), conflict) => ("RESOLVE", "-".to_string(), conflict.map(String::from)),
        (record_type, id) => (
            method,
            record_type.unwrap_or("-").to_string(),
            id.map(String::from),
        ),
    };
    SyncEntry {
        seq: 0,
        at: state.clock.now(),
        user,
        device_id: None,
        method: method.into(),
        record_type,
        record_id,
        status,
        outcome: if status == 412 { "stale" } else { "refused" }.into(),
        problem: None,
        paths: Vec::new(),
        conflict_id: None,
        body: None,
        base_version: None,
        version: None,
        kept: Vec::new(),
    }
}

/// The entry for an answer; none for a server error (nothing was decided).
fn entry_of(logged: Logged, answer: &Answer) -> Option<SyncEntry> {
    let problem_parts;
    let (status, name, replayed, body, etag, merged) = match answer {
        Ok(reply) => (
            reply.status,
            reply.outcome,
            reply.replayed,
            // Only a refusal's, or a create's without an id of its own, is read below.
            reply.body.as_str(),
            reply.etag.clone(),
            reply.merged.clone(),
        ),
        Err(problem) => {
            problem_parts = problem.clone().into_parts();
            let (status, body, etag) = &problem_parts;
            (
                status.as_u16(),
                None,
                false,
                body.as_str(),
                etag.clone(),
                None,
            )
        }
    };
    if status >= 500 {
        return None;
    }
    let outcome = if replayed {
        "replayed"
    } else {
        match name.and_then(|n| SYNC_OUTCOMES.iter().find(|o| **o == n)) {
            Some(known) => known,
            None if logged.method == "RESOLVE" && status == 200 => "resolved",
            None if status == 412 => "stale",
            None if status == 422 => "invalid",
            None => "refused",
        }
    };
    // Only a refusal (its problem, paths, conflict) or a create without an id of its own
    // has anything in its answer the log needs: an accepted record is not read again.
    let shown = answer
        .as_ref()
        .ok()
        .and_then(|reply| reply.record.as_deref());
    let record_id = logged
        .record_id
        .or_else(|| shown.map(|record| record.id.clone()));
    let read_answer = status >= 400 || record_id.is_none();
    let answer: serde_json::Value = if read_answer {
        serde_json::from_str(body).unwrap_or_default()
    } else {
        serde_json::Value::Null
    };
    let problem = answer["type"]
        .as_str()
        .and_then(|t| t.rsplit_once("/problems/"))
        .map(|(_, kind)| kind.to_string());
    let mut paths: Vec<String> = answer["conflicting_paths"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            answer["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| &e["path"]),
        )
        .filter_map(|p| p.as_str().map(String::from))
        .collect();
    paths.dedup();
    let (applied, kept) = merged.unwrap_or_default();
    if paths.is_empty() {
        paths = applied;
    }
    // The version the write made or met: its answer's tag, or a conflict's server_etag.
    let version = match shown {
        Some(record) => Some(record.version.version),
        None => etag
            .or_else(|| answer["server_etag"].as_str().map(String::from))
            .and_then(|t| t.parse::<crate::model::Etag>().ok())
            .map(|t| t.version),
    };
    Some(SyncEntry {
        seq: 0,
        at: logged.clock.now(),
        user: logged.user,
        device_id: logged.device_id,
        method: logged.method.into(),
        record_type: logged.record_type,
        record_id: record_id.or_else(|| answer["id"].as_str().map(String::from)),
        status,
        outcome: outcome.into(),
        problem,
        paths,
        conflict_id: answer["conflict_id"].as_str().and_then(|c| c.parse().ok()),
        body: logged
            .body
            .filter(|_| status >= 400)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        base_version: logged.base_version,
        version,
        kept,
    })
}

#[derive(Deserialize)]
pub(super) struct SyncQuery {
    outcome: Option<String>,
    user: Option<String>,
    device: Option<String>,
    #[serde(rename = "type")]
    record_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/syncs` (supervisor+): the log, newest first, a page at a time.
pub(super) async fn list_syncs(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<SyncQuery>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Supervisor)?;
        if let Some(outcome) = &query.outcome
            && !SYNC_OUTCOMES.contains(&outcome.as_str())
        {
            return Err(Problem::bad_request(format!(
                "outcome {outcome:?} is not one of {}",
                SYNC_OUTCOMES.join(", ")
            )));
        }
        let filter = SyncFilter {
            outcome: query.outcome,
            user: query.user,
            device_id: query.device,
            record_type: query.record_type,
            since: instant("since", query.since)?,
            until: instant("until", query.until)?,
        };
        let before = match query.cursor {
            None => None,
            Some(cursor) => Some(
                cursor
                    .parse::<u64>()
                    .map_err(|_| Problem::bad_request("cursor is not one this server gave"))?,
            ),
        };
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let entries = reading(state, move |store| store.syncs(&filter, before, limit)).await?;
        let next = (entries.len() == limit)
            .then(|| entries.last().map(|e| e.seq.to_string()))
            .flatten();
        let syncs: Vec<serde_json::Value> = entries.iter().map(entry_json).collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"syncs": syncs, "next": next}),
            None,
        ))
    })
    .await
}

fn entry_json(entry: &SyncEntry) -> serde_json::Value {
    json!({
        "seq": entry.seq,
        "at": entry.at.to_string(),
        "user": entry.user,
        "device_id": entry.device_id,
        "method": entry.method,
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "status": entry.status,
        "outcome": entry.outcome,
        "problem": entry.problem,
        "paths": entry.paths,
        "conflict_id": entry.conflict_id.map(|c| c.to_string()),
        "body": entry.body,
        "base_version": entry.base_version,
        "version": entry.version,
        "kept": entry.kept,
    })
}

#[derive(Deserialize)]
pub(super) struct StatsQuery {
    since: Option<String>,
    until: Option<String>,
    by: Option<String>,
}

/// `GET /v1/stats` (supervisor+): the log counted per group (day, user, device or type)
/// and outcome, with `refused_share` = answers 409, 412 and 422 / writes — the figure the
/// field quotes as "a third of syncs fail".
pub(super) async fn sync_stats(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<StatsQuery>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Supervisor)?;
        let by_name = query.by.unwrap_or_else(|| "day".into());
        let by = crate::store::StatsBy::parse(&by_name).ok_or_else(|| {
            Problem::bad_request(format!("by {by_name:?} is not day, user, device or type"))
        })?;
        let since = instant("since", query.since)?;
        let until = instant("until", query.until)?;
        let rows = reading(state, move |store| store.sync_stats(by, since, until)).await?;
        let mut groups: Vec<(String, serde_json::Map<String, serde_json::Value>, u64, u64)> =
            Vec::new();
        for row in rows {
            if groups.last().is_none_or(|(group, ..)| *group != row.group) {
                groups.push((row.group.clone(), Default::default(), 0, 0));
            }
            let (_, outcomes, writes, refused) = groups.last_mut().expect("pushed above");
            outcomes.insert(row.outcome, row.count.into());
            *writes += row.count;
            *refused += row.refused;
        }
        let share = |refused: u64, writes: u64| {
            if writes == 0 {
                0.0
            } else {
                refused as f64 / writes as f64
            }
        };
        let (writes, refused) = groups
            .iter()
            .fold((0, 0), |(w, r), (_, _, writes, refused)| {
                (w + writes, r + refused)
            });
        let groups: Vec<serde_json::Value> = groups
            .into_iter()
            .map(|(group, outcomes, writes, refused)| {
                json!({"group": group, "writes": writes, "refused": refused,
                       "refused_share": share(refused, writes), "outcomes": outcomes})
            })
            .collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"by": by_name, "writes": writes, "refused": refused,
                    "refused_share": share(refused, writes), "groups": groups}),
            None,
        ))
    })
    .await
}

/// An instant from the query, or 400 naming the parameter.
pub(super) fn instant(name: &str, text: Option<String>) -> Result<Option<UtcMillis>, Problem> {
    text.map(|t| {
        t.parse::<UtcMillis>()
            .map_err(|e| Problem::bad_request(format!("{name}: {e}")))
    })
    .transpose()
}

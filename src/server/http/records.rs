//! Reading records: one record, its versions, the changes feed, a type's schema.

use super::*;

pub(super) async fn read(
    State(state): State<Arc<AppState>>,
    Path((record_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        schema_of(&state.config, &record_type)?;
        let key_id = id.clone();
        let current = reading_point(state, move |store| {
            store.current(RecordKey {
                record_type: &record_type,
                id: &key_id,
            })
        })
        .await?;
        let Some(current) = current else {
            return Err(Problem::not_found("no such record"));
        };
        if current.deleted {
            let etag = etag_of(&current);
            return Err(Problem::new(
                StatusCode::GONE,
                "deleted",
                "Deleted",
                "the record was deleted",
            )
            .with_etag(etag));
        }
        Ok(record_reply(StatusCode::OK, &id, &current, None).into_response())
    })
    .await
}

pub(super) async fn read_schema(
    State(state): State<Arc<AppState>>,
    Path(record_type): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        let schema = schema_of(&state.config, &record_type)?;
        let fields: serde_json::Map<String, serde_json::Value> = schema
            .fields
            .iter()
            .map(|(name, spec)| (name.clone(), field_json(spec)))
            .collect();
        let body = json!({
            "type": schema.name,
            "schema_version": schema.schema_version,
            "same_user_overlap": schema.same_user_overlap,
            "fields": fields,
        });
        Ok(Reply::json(
            StatusCode::OK,
            &body,
            Some(format!("\"schema-{}\"", schema.schema_version)),
        ))
    })
    .await
}

pub(super) fn field_json(spec: &crate::model::FieldSpec) -> serde_json::Value {
    use crate::model::FieldType;
    let mut out = json!({"type": spec.kind.name(), "required": spec.required});
    let extra = match &spec.kind {
        FieldType::Enum { values } => Some(("values", json!(values))),
        FieldType::Reference { list } => Some(("list", json!(list))),
        FieldType::List { key: Some(key) } => Some(("key", json!(key))),
        _ => None,
    };
    if let (Some((name, value)), Some(members)) = (extra, out.as_object_mut()) {
        members.insert(name.into(), value);
    }
    out
}

#[derive(Deserialize)]
pub(super) struct FeedQuery {
    pub(super) after: Option<u64>,
    pub(super) limit: Option<usize>,
}

/// `GET /v1/{type}?after=&limit=`: records changed after a change sequence number.
pub(super) async fn feed(
    State(state): State<Arc<AppState>>,
    Path(record_type): Path<String>,
    axum::extract::Query(query): axum::extract::Query<FeedQuery>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        schema_of(&state.config, &record_type)?;
        let after = query.after.unwrap_or(0);
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let t = record_type.clone();
        let changed = reading(state, move |store| store.changed_after(&t, after, limit)).await?;
        let next = changed.last().map_or(after, |(seq, _, _)| *seq);
        let records: Vec<serde_json::Value> = changed
            .iter()
            .map(|(_, id, v)| record_json(id, v))
            .collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"records": records, "next": next}),
            None,
        ))
    })
    .await
}

pub(super) async fn read_history(
    State(state): State<Arc<AppState>>,
    Path((record_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        schema_of(&state.config, &record_type)?;
        let (t, i) = (record_type.clone(), id.clone());
        let history = reading(state, move |store| {
            store.history(RecordKey {
                record_type: &t,
                id: &i,
            })
        })
        .await?;
        if history.is_empty() {
            return Err(Problem::not_found("no such record"));
        }
        let versions: Vec<serde_json::Value> = history
            .iter()
            .map(|v| {
                json!({
                    "version": v.version,
                    "last_modified": v.last_modified,
                    "modified_by": v.modified_by,
                    "device_id": v.device_id,
                    "deleted": v.deleted,
                })
            })
            .collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"versions": versions}),
            None,
        ))
    })
    .await
}

pub(super) async fn read_version(
    State(state): State<Arc<AppState>>,
    Path((record_type, id, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        schema_of(&state.config, &record_type)?;
        let version = n
            .parse()
            .ok()
            .and_then(Version::new)
            .ok_or_else(|| Problem::not_found(format!("no version {n:?}")))?;
        let key_id = id.clone();
        let found = reading(state, move |store| {
            store.version(
                RecordKey {
                    record_type: &record_type,
                    id: &key_id,
                },
                version,
            )
        })
        .await?;
        let found = found
            .ok_or_else(|| Problem::not_found(format!("no version {version} of this record")))?;
        Ok(record_reply(StatusCode::OK, &id, &found, None))
    })
    .await
}

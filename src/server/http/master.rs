//! Master-data lists: put (admin) and read (with ETag and 304).

use super::*;

/// The body of `PUT /v1/master/{list}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MasterBody {
    pub(super) items: Vec<serde_json::Map<String, serde_json::Value>>,
}

pub(super) async fn put_master(
    State(state): State<Arc<AppState>>,
    Path(list): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Admin)?.clone();
        let bytes = json_body(&state.config, &headers, body).await?;
        let path = format!("/v1/master/{list}");
        let write = Idempotent::of(user, &headers, false, ("PUT", &path), &bytes, None)?;
        let body: MasterBody = body_of(&bytes)?;
        let mut ids = Vec::with_capacity(body.items.len());
        for (i, item) in body.items.iter().enumerate() {
            match item.get("id").and_then(serde_json::Value::as_str) {
                Some(id) if !id.is_empty() => ids.push(id.to_string()),
                _ => {
                    return Err(Problem::bad_request(format!(
                        "body: items[{i}] needs a non-empty string id"
                    )));
                }
            }
        }
        let items = serde_json::to_string(&body.items).map_err(|e| Problem::internal(&e))?;
        blocking(state.clone(), move |store| -> Result<Reply, Problem> {
            let now = state.clock.now();
            let remember = match write.look_up(&state.config, store, now, None)? {
                Remembering::Replay(reply) => return Ok(reply),
                Remembering::New(remember) => remember,
            };
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let respond = |master: &crate::store::MasterList| {
                master_reply(&list, master)
                    .ok()
                    .and_then(|reply| reply.remembered_text())
            };
            let master = store
                .put_master(&list, &items, &ids, now, remember, respond)
                .map_err(|e| Problem::internal(&e))?;
            master_reply(&list, &master)
        })
        .await
    })
    .await
}

pub(super) async fn read_master(
    State(state): State<Arc<AppState>>,
    Path(list): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Technician)?;
        let name = list.clone();
        let Some(master) = reading(state, move |store| store.master(&name)).await? else {
            return Err(Problem::not_found(format!("no master-data list {list:?}")));
        };
        let etag = master_etag(&master);
        let unchanged = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',').any(|t| {
                    t.trim() == "*"
                        || t.trim()
                            .parse::<Etag>()
                            .is_ok_and(|t| t.matches(master.version))
                })
            });
        if unchanged {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(value) = HeaderValue::from_str(&etag) {
                response.headers_mut().insert(header::ETAG, value);
            }
            return Ok(response);
        }
        Ok(master_reply(&list, &master)?.into_response())
    })
    .await
}

pub(super) fn master_etag(master: &crate::store::MasterList) -> String {
    Etag::new(master.version, master.last_modified).to_string()
}

/// A list as sent; stored JSON that does not parse is a server error, never an empty list.
pub(super) fn master_reply(
    list: &str,
    master: &crate::store::MasterList,
) -> Result<Reply, Problem> {
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).map_err(|e| Problem::internal(&e))
    };
    let (items, removed) = (parse(&master.items)?, parse(&master.removed)?);
    let etag = master_etag(master);
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"list": list, "items": items, "removed": removed}),
        Some(etag),
    ))
}

//! The writes a device makes: create, sync, and a supervisor's delete.

use super::*;

/// `DELETE /v1/{type}/{id}`: a tombstone (supervisor+, strict `If-Match`).
pub(super) async fn delete(
    State(state): State<Arc<AppState>>,
    Path((record_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Supervisor)?.clone();
        schema_of(&state.config, &record_type)?;
        let if_match = if_match(&headers);
        let path = format!("/v1/{record_type}/{id}");
        let write = Idempotent::of(user, &headers, false, ("DELETE", &path), b"", if_match)?;
        let logged = Some(Logged {
            clock: state.clock.clone(),
            keep_days: state.config.sync_log_days,
            method: "DELETE",
            user: write.user.name.clone(),
            record_type: record_type.clone(),
            record_id: Some(id.clone()),
            device_id: None,
            body: None,
            base_version: None,
        });
        blocking(
            state.clone(),
            logging(logged, move |store| {
                let now = state.clock.now();
                let author = Author {
                    user: &write.user.name,
                    device_id: None,
                    device_seq: None,
                    captured_at: None,
                };
                let key = RecordKey {
                    record_type: &record_type,
                    id: &id,
                };
                let ahead = WriteAhead {
                    key,
                    from: None,
                    author: &author,
                };
                let remember = match write.look_up(&state.config, store, now, Some(ahead))? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => remember,
                };
                let decide = |known: &Known| {
                    let Some(current) = known.versions.last().cloned() else {
                        return (Outcome::Missing, Effect::Nothing);
                    };
                    let Some(if_match) = if_match else {
                        return (
                            Outcome::Refused(Refusal::PreconditionRequired, Some(current)),
                            Effect::Nothing,
                        );
                    };
                    let matched = if_match_holds(if_match, &current);
                    if !matched {
                        return (
                            Outcome::Refused(Refusal::PreconditionFailed, Some(current)),
                            Effect::Nothing,
                        );
                    }
                    let fields = current.fields.clone();
                    (
                        Outcome::Deleted,
                        Effect::Append {
                            fields,
                            deleted: true,
                        },
                    )
                };
                written(store, key, None, &author, now, remember, decide)
            }),
        )
        .await
    })
    .await
}

/// The body of a `PUT`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SyncBody<'a> {
    #[serde(borrow)]
    pub(super) fields: Object<'a>,
    pub(super) base_version: Option<Version>,
    #[serde(borrow)]
    pub(super) device_id: Option<Cow<'a, str>>,
    pub(super) device_seq: Option<u64>,
    #[serde(borrow)]
    pub(super) captured_at: Option<Cow<'a, str>>,
    pub(super) schema_version: Option<u32>,
}

impl SyncBody<'_> {
    /// A copy that borrows nothing, to hand to the writer thread.
    pub(super) fn into_owned(self) -> SyncBody<'static> {
        SyncBody {
            fields: self.fields.into_owned(),
            base_version: self.base_version,
            device_id: self.device_id.map(|d| Cow::Owned(d.into_owned())),
            device_seq: self.device_seq,
            captured_at: self.captured_at.map(|c| Cow::Owned(c.into_owned())),
            schema_version: self.schema_version,
        }
    }
}

/// The body of a `POST`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody<'a> {
    #[serde(borrow)]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) fields: Object<'a>,
    #[serde(borrow)]
    pub(super) device_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) captured_at: Option<Cow<'a, str>>,
    pub(super) schema_version: Option<u32>,
}

#[derive(Deserialize)]
pub(super) struct WriteQuery {
    #[serde(default)]
    pub(super) dry_run: bool,
}

impl CreateBody<'_> {
    /// A copy that borrows nothing, to hand to the writer thread.
    pub(super) fn into_owned(self) -> CreateBody<'static> {
        CreateBody {
            id: self.id.map(|i| Cow::Owned(i.into_owned())),
            fields: self.fields.into_owned(),
            device_id: self.device_id.map(|d| Cow::Owned(d.into_owned())),
            captured_at: self.captured_at.map(|c| Cow::Owned(c.into_owned())),
            schema_version: self.schema_version,
        }
    }
}

/// 404 when the record does not exist, else `fault`.
async fn missing_or(state: &Arc<AppState>, record_type: &str, id: &str, fault: Problem) -> Problem {
    let (t, i) = (record_type.to_string(), id.to_string());
    let exists = reading(state.clone(), move |store| {
        store.exists(RecordKey {
            record_type: &t,
            id: &i,
        })
    })
    .await;
    match exists {
        Ok(false) => Problem::not_found("no such record (create it with POST)"),
        _ => fault,
    }
}

pub(super) async fn sync(
    State(state): State<Arc<AppState>>,
    Path((record_type, id)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<WriteQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Technician)?.clone();
        schema_of(&state.config, &record_type)?;
        let if_match = if_match(&headers);
        // Parsing and fingerprinting happen here, beside the other requests, not on the
        // one writer thread.
        let prepared = async {
            let bytes = json_body(&state.config, &headers, body).await?;
            let path = format!("/v1/{record_type}/{id}");
            let write = Idempotent::of(
                user,
                &headers,
                query.dry_run,
                ("PUT", &path),
                &bytes,
                if_match,
            )?;
            let body = body_of::<SyncBody>(&bytes)?.into_owned();
            Ok::<_, Problem>((bytes, write, body))
        };
        // A missing record is 404 before any fault of the request (the contract's order):
        // looked up here only when there is a fault; otherwise the writer finds it out
        // on its own read, and a sync costs no read of its own beforehand.
        let (bytes, write, body) = match prepared.await {
            Ok(prepared) => prepared,
            Err(fault) => return Err(missing_or(&state, &record_type, &id, fault).await),
        };
        let logged = (!query.dry_run).then(|| Logged {
            clock: state.clock.clone(),
            keep_days: state.config.sync_log_days,
            method: "PUT",
            user: write.user.name.clone(),
            record_type: record_type.clone(),
            record_id: Some(id.clone()),
            device_id: body.device_id.as_deref().map(String::from),
            body: Some(bytes.clone()),
            base_version: body.base_version,
        });
        let (captured_at, other_errors) = captured_at(body.captured_at.as_deref());
        let announced = write.announce(
            &state.config,
            state.clock.now(),
            &WriteAhead {
                key: RecordKey {
                    record_type: &record_type,
                    id: &id,
                },
                from: body.base_version,
                author: &Author {
                    user: &write.user.name,
                    device_id: body.device_id.as_deref(),
                    device_seq: body.device_seq,
                    captured_at,
                },
            },
        );
        blocking_announced(
            state.clone(),
            announced,
            logging(logged, move |store| {
                let now = state.clock.now();
                let user = &write.user;
                let author = Author {
                    user: &user.name,
                    device_id: body.device_id.as_deref(),
                    device_seq: body.device_seq,
                    captured_at,
                };
                let key = RecordKey {
                    record_type: &record_type,
                    id: &id,
                };
                let ahead = WriteAhead {
                    key,
                    from: body.base_version,
                    author: &author,
                };
                let remember = match write.look_up(&state.config, store, now, Some(ahead))? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => remember,
                };
                let put = Put {
                    user: &user.name,
                    base_version: body.base_version,
                    if_match,
                    fields: body.fields,
                    device_id: body.device_id.as_deref(),
                    device_seq: body.device_seq,
                    schema_version: body.schema_version,
                    other_errors,
                };
                let schema = state.config.types.get(&record_type).expect("checked above");
                let decide = |known: &Known| {
                    if known.versions.is_empty() {
                        return (Outcome::Missing, Effect::Nothing);
                    }
                    if let Some(parked) = &known.parked_conflict {
                        let current = known.versions.last().cloned();
                        return (Outcome::Parked(parked.clone(), current), Effect::Nothing);
                    }
                    let current = known.versions.last().cloned();
                    match decide_put(
                        &put,
                        known.versions,
                        schema,
                        known.applied_device_seq,
                        known.listed,
                    ) {
                        Decision::Apply { fields, report } => (
                            Outcome::Merged(report),
                            Effect::Append {
                                fields: fields.into_owned(),
                                deleted: false,
                            },
                        ),
                        Decision::NoOp { report } => {
                            (Outcome::Current(current, Some(report)), Effect::Nothing)
                        }
                        Decision::Superseded | Decision::Repeat => {
                            (Outcome::Current(current, None), Effect::Nothing)
                        }
                        Decision::Park { kind, paths } => {
                            park(kind, paths, put.base_version, &put.fields, current)
                        }
                        Decision::Refuse(refusal) => {
                            (Outcome::Refused(refusal, current), Effect::Nothing)
                        }
                    }
                };
                written(
                    store,
                    key,
                    put.base_version,
                    &author,
                    now,
                    remember,
                    dry_run_of(query.dry_run, decide),
                )
            }),
        )
        .await
    })
    .await
}

pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    Path(record_type): Path<String>,
    axum::extract::Query(query): axum::extract::Query<WriteQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Technician)?.clone();
        schema_of(&state.config, &record_type)?;
        let bytes = json_body(&state.config, &headers, body).await?;
        let path = format!("/v1/{record_type}");
        let write = Idempotent::of(user, &headers, query.dry_run, ("POST", &path), &bytes, None)?;
        let body = body_of::<CreateBody>(&bytes)?.into_owned();
        let logged = (!query.dry_run).then(|| Logged {
            clock: state.clock.clone(),
            keep_days: state.config.sync_log_days,
            method: "POST",
            user: write.user.name.clone(),
            record_type: record_type.clone(),
            record_id: body.id.as_deref().map(String::from),
            device_id: body.device_id.as_deref().map(String::from),
            body: Some(bytes.clone()),
            base_version: None,
        });
        blocking(
            state.clone(),
            logging(logged, move |store| {
                let id = match body.id.as_deref() {
                    Some("") => return Err(Problem::bad_request("body: id must not be empty")),
                    Some(id) => id.to_string(),
                    None => new_id(),
                };
                let now = state.clock.now();
                let user = &write.user;
                let (captured_at, other_errors) = captured_at(body.captured_at.as_deref());
                let author = Author {
                    user: &user.name,
                    device_id: body.device_id.as_deref(),
                    device_seq: None,
                    captured_at,
                };
                let key = RecordKey {
                    record_type: &record_type,
                    id: &id,
                };
                let ahead = WriteAhead {
                    key,
                    from: None,
                    author: &author,
                };
                let remember = match write.look_up(&state.config, store, now, Some(ahead))? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => remember,
                };
                let schema = state.config.types.get(&record_type).expect("checked above");
                let decide = |known: &Known| {
                    let current = known.versions.last().cloned();
                    if current.is_none() && !other_errors.is_empty() {
                        let refusal = Refusal::Invalid {
                            errors: other_errors.clone(),
                            schema_changed: false,
                        };
                        return (Outcome::Refused(refusal, None), Effect::Nothing);
                    }
                    match decide_create(
                        body.fields.clone(),
                        current.as_ref(),
                        schema,
                        body.schema_version,
                        known.listed,
                    ) {
                        Create::New(fields) => (
                            Outcome::Created,
                            Effect::Append {
                                fields: fields.into_owned(),
                                deleted: false,
                            },
                        ),
                        Create::Resent => (Outcome::Current(current, None), Effect::Nothing),
                        Create::AlreadyExists => (Outcome::Exists(current), Effect::Nothing),
                        Create::Park { kind, paths } => park(kind, paths, None, &body.fields, None),
                        Create::Refuse(refusal) => {
                            (Outcome::Refused(refusal, current), Effect::Nothing)
                        }
                    }
                };
                written(
                    store,
                    key,
                    None,
                    &author,
                    now,
                    remember,
                    dry_run_of(query.dry_run, decide),
                )
            }),
        )
        .await
    })
    .await
}

/// `captured_at` as an instant, or the fault to report with the fields'.
pub(super) fn captured_at(text: Option<&str>) -> (Option<UtcMillis>, Vec<FieldError>) {
    match text.map(str::parse::<UtcMillis>) {
        None => (None, Vec::new()),
        Some(Ok(t)) => (Some(t), Vec::new()),
        Some(Err(e @ (TimeError::NoOffset(_) | TimeError::Malformed(_)))) => (
            None,
            vec![FieldError {
                path: "/captured_at".into(),
                message: e.to_string(),
            }],
        ),
    }
}

/// A new record id: time-ordered and unique within this process.
pub(super) fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("r-{:x}-{n:x}", UtcMillis::now().as_millis())
}

//! The supervisors' queue: list, detail, resolution.

use super::*;

#[derive(Deserialize)]
pub(super) struct ConflictQuery {
    pub(super) status: Option<String>,
    #[serde(rename = "type")]
    pub(super) record_type: Option<String>,
    pub(super) limit: Option<usize>,
    pub(super) cursor: Option<String>,
}

/// `GET /v1/conflicts`: the queue, oldest first.
pub(super) async fn list_conflicts(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<ConflictQuery>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Supervisor)?;
        let open = match query.status.as_deref().unwrap_or("open") {
            "open" => Some(true),
            "resolved" => Some(false),
            "all" => None,
            other => {
                return Err(Problem::bad_request(format!(
                    "status {other:?} is not open, resolved or all"
                )));
            }
        };
        let after = match query.cursor.as_deref() {
            None | Some("") => 0,
            Some(cursor) => {
                cursor
                    .parse::<ConflictId>()
                    .map_err(|()| Problem::bad_request("cursor is not one this server gave"))?
                    .0
            }
        };
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let now = state.clock.now();
        let rows = reading(state, move |store| {
            store.conflicts(open, query.record_type.as_deref(), after, limit)
        })
        .await?;
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|r| r.id.to_string()))
            .flatten();
        let summaries: Vec<ConflictSummary> =
            rows.iter().map(|row| conflict_summary(row, now)).collect();
        Ok(Reply::json(
            StatusCode::OK,
            &json!({"conflicts": summaries, "next": next}),
            None,
        ))
    })
    .await
}

/// `GET /v1/conflicts/{cid}`: the three sides and every path's class, against the
/// record's current version (its `ETag` is the one a resolution must send).
pub(super) async fn read_conflict(
    State(state): State<Arc<AppState>>,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        signed_in(&state.config, &headers, Role::Supervisor)?;
        let id = conflict_id(&cid)?;
        let state2 = state.clone();
        let found = reading(state, move |store| {
            let Some(row) = store.conflict(id)? else {
                return Ok::<_, crate::store::StoreError>(None);
            };
            let key = RecordKey {
                record_type: &row.record_type,
                id: &row.record_id,
            };
            let base = match row.base_version {
                Some(v) => store.version(key, v)?,
                None => None,
            };
            let current = store.current(key)?;
            Ok(Some((row, base, current)))
        })
        .await?;
        let (row, base, current) =
            found.ok_or_else(|| Problem::not_found(format!("no conflict {cid:?}")))?;
        let schema = state2.config.types.get(&row.record_type);
        let detail = conflict_detail(&row, base.as_ref(), current.as_deref(), schema);
        let mut reply = Reply::json(
            StatusCode::OK,
            &serde_json::to_value(&detail).map_err(|e| Problem::internal(&e))?,
            None,
        );
        reply.etag = current.as_deref().map(etag_of);
        Ok(reply)
    })
    .await
}

/// The body of a resolution: the resolved record and its choices, or `keep_deleted`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResolutionBody<'a> {
    #[serde(borrow, default)]
    pub(super) fields: Option<Object<'a>>,
    #[serde(default)]
    pub(super) choices: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub(super) keep_deleted: bool,
}

impl<'a> ResolutionBody<'a> {
    /// What the body settles, or why it is malformed (400).
    pub(super) fn settle(self) -> Result<Settle<'a>, Problem> {
        if let Some((path, choice)) = self
            .choices
            .iter()
            .find(|(_, c)| !matches!(c.as_str(), "local" | "server" | "manual"))
        {
            return Err(Problem::bad_request(format!(
                "choices: {path} is {choice:?}, not local, server or manual"
            )));
        }
        match (self.keep_deleted, self.fields) {
            (true, None) if self.choices.is_empty() => Ok(Settle::KeepDeleted),
            (true, _) => Err(Problem::bad_request(
                "body: keep_deleted takes no fields and no choices",
            )),
            (false, Some(fields)) => Ok(Settle::Write {
                fields,
                choices: self.choices,
            }),
            (false, None) => Err(Problem::bad_request(
                "body: missing field `fields` (or `keep_deleted: true`)",
            )),
        }
    }
}

/// `POST /v1/conflicts/{cid}/resolution`: exactly one supervisor wins, with a fresh ETag.
pub(super) async fn resolve_conflict(
    State(state): State<Arc<AppState>>,
    Path(cid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let user = signed_in(&state.config, &headers, Role::Supervisor)?.clone();
        let id = conflict_id(&cid)?;
        let exists = reading(state.clone(), move |store| store.conflict(id)).await?;
        let Some(conflict) = exists else {
            return Err(Problem::not_found(format!("no conflict {cid:?}")));
        };
        let bytes = json_body(&state.config, &headers, body).await?;
        let if_match = if_match(&headers);
        let creating = headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == b"*");
        let method = if creating {
            "POST If-None-Match"
        } else {
            "POST"
        };
        let path = format!("/v1/conflicts/{cid}/resolution");
        let write = Idempotent::of(user, &headers, false, (method, &path), &bytes, if_match)?;
        // 400 before 428, as the contract orders them.
        let settle = body_of::<ResolutionBody>(&bytes)?.settle()?.into_owned();
        if if_match.is_none() && !creating {
            return Err(refused(Refusal::PreconditionRequired, None));
        }
        let schema = state.config.types.get(&conflict.record_type).cloned();
        let logged = Some(Logged {
            clock: state.clock.clone(),
            keep_days: state.config.sync_log_days,
            method: "RESOLVE",
            user: write.user.name.clone(),
            record_type: conflict.record_type.clone(),
            record_id: Some(conflict.record_id.clone()),
            device_id: None,
            body: Some(bytes.clone()),
            base_version: None,
        });
        blocking(
            state.clone(),
            logging(logged, move |store| {
                let choices = match &settle {
                    Settle::Write { choices, .. } => choices.clone(),
                    Settle::KeepDeleted => Default::default(),
                };
                let now = state.clock.now();
                let remember = match write.look_up(&state.config, store, now, None)? {
                    Remembering::Replay(reply) => return Ok(reply),
                    Remembering::New(remember) => remember,
                };
                let user = &write.user;
                let record = RecordKey {
                    record_type: &conflict.record_type,
                    id: &conflict.record_id,
                };
                let respond =
                    |(resolved, current): &(Resolved, Option<StoredVersion<'static>>),
                     stored: Option<&StoredVersion<'static>>| {
                        resolution_reply(resolved, current, stored, record).remembered_text()
                    };
                let request = ResolutionRequest {
                    if_match,
                    creating,
                    settle,
                };
                let outcome = store.resolve(
                    id,
                    &user.name,
                    now,
                    remember,
                    respond,
                    |row, base, current, listed| {
                        let empty = Object::new();
                        let parked = ParkedConflict {
                            open: row.open,
                            kind: row.kind,
                            base: base.map_or(&empty, |b| &b.fields),
                            local: &row.local,
                        };
                        let decision =
                            decide_resolution(parked, current, request, schema.as_ref(), listed);
                        let (resolved, settlement) = match decision {
                            ResolutionDecision::Closed => (
                                Resolved::Closed(row.resolution.as_ref().map(|r| r.by.clone())),
                                None,
                            ),
                            ResolutionDecision::Stale => (Resolved::Stale, None),
                            ResolutionDecision::Invalid(errors) => {
                                (Resolved::Invalid(errors), None)
                            }
                            ResolutionDecision::Write { fields, decided } => (
                                Resolved::Done,
                                Some(Settlement {
                                    write: Some(fields.into_owned()),
                                    choices,
                                    decided,
                                }),
                            ),
                            ResolutionDecision::KeepDeleted => (
                                Resolved::Done,
                                Some(Settlement {
                                    write: None,
                                    choices,
                                    decided: Vec::new(),
                                }),
                            ),
                        };
                        ((resolved, current.cloned()), settlement)
                    },
                )?;
                let Some(((resolved, current), stored)) = outcome else {
                    return Err(Problem::not_found(format!("no conflict {cid:?}")));
                };
                let mut reply = resolution_reply(&resolved, &current, stored.as_ref(), record);
                reply.outcome = Some(match resolved {
                    Resolved::Done => "resolved",
                    Resolved::Closed(_) => "closed",
                    Resolved::Stale => "stale",
                    Resolved::Invalid(_) => "invalid",
                });
                Ok(reply)
            }),
        )
        .await
    })
    .await
}

/// How a resolution attempt ended.
pub(super) enum Resolved {
    Done,
    Closed(Option<String>),
    Stale,
    Invalid(Vec<FieldError>),
}

/// The answer to a resolution.
pub(super) fn resolution_reply(
    resolved: &Resolved,
    current: &Option<StoredVersion<'static>>,
    stored: Option<&StoredVersion>,
    record: RecordKey,
) -> Reply {
    match (resolved, stored) {
        (Resolved::Done, Some(v)) => {
            shown_reply(StatusCode::OK, record.record_type, record.id, v, None)
        }
        (Resolved::Closed(by), _) => Problem::new(
            StatusCode::CONFLICT,
            "conflict-closed",
            "Already resolved",
            format!("{} resolved it first", by.as_deref().unwrap_or("someone")),
        )
        .with("resolved_by", by.clone().unwrap_or_default())
        .into(),
        (Resolved::Stale, _) => refused(Refusal::PreconditionFailed, current.as_ref()).into(),
        (Resolved::Invalid(errors), _) => refused(
            Refusal::Invalid {
                errors: errors.clone(),
                schema_changed: false,
            },
            current.as_ref(),
        )
        .into(),
        (Resolved::Done, None) => Problem::internal(&"a resolution stored nothing").into(),
    }
}

/// The conflict a path segment names (`c-000042`); 404 for anything else.
pub(super) fn conflict_id(cid: &str) -> Result<ConflictId, Problem> {
    cid.parse()
        .map_err(|()| Problem::not_found(format!("no conflict {cid:?}")))
}

/// A conflict's line in the queue, with its claim while that lives at `now`.
pub(super) fn conflict_summary(row: &ConflictRow, now: UtcMillis) -> ConflictSummary {
    let claim = row.claim.as_ref().filter(|claim| claim.live_at(now));
    ConflictSummary {
        id: row.id.to_string(),
        status: if row.open {
            Status::Open
        } else {
            Status::Resolved
        },
        kind: row.kind,
        record_type: row.record_type.clone(),
        record_id: row.record_id.clone(),
        submitted_by: row.submitted_by.clone(),
        device_id: row.device_id.clone(),
        captured_at: row.captured_at,
        received_at: row.received_at,
        conflicting_paths: row.paths.clone(),
        resolution: row.resolution.as_ref().map(|r| ResolutionInfo {
            by: r.by.clone(),
            at: r.at,
            resulting_version: r.version.map(|v| v.get()),
            kept_deleted: r.kept_deleted,
            choices: r.choices.clone(),
            fields: r.decided.clone(),
        }),
        claimed_by: claim.map(|c| c.by.clone()),
        claimed_until: claim.map(|c| c.until),
    }
}

pub(super) fn conflict_detail<'a>(
    row: &'a ConflictRow,
    base: Option<&'a StoredVersion>,
    current: Option<&'a StoredVersion>,
    schema: Option<&TypeSchema>,
) -> ConflictDetail<'a> {
    let empty = Object::new();
    let outcome = crate::merge::merge(
        base.map_or(&empty, |b| &b.fields),
        &row.local,
        current.map_or(&empty, |c| &c.fields),
        schema,
        &crate::merge::NoPolicy,
    );
    let invalid = row.kind == ParkKind::InvalidReference;
    let fields = outcome
        .fields
        .iter()
        .map(|f| FieldRow {
            path: f.path.to_string(),
            class: if invalid && row.paths.iter().any(|p| *p == f.path) {
                crate::merge::Class::Invalid
            } else {
                f.class
            },
            base: f.base.cloned().map(Json::into_owned),
            local: f.local.cloned().map(Json::into_owned),
            server: f.server.cloned().map(Json::into_owned),
        })
        .collect();
    let summary = conflict_summary(row, UtcMillis::now());
    ConflictDetail {
        id: summary.id,
        status: summary.status,
        kind: summary.kind,
        record_type: summary.record_type,
        record_id: summary.record_id,
        submitted_by: summary.submitted_by,
        device_id: summary.device_id,
        captured_at: summary.captured_at,
        received_at: summary.received_at,
        base: base.map(|b| BaseSide {
            version: b.version.get(),
            last_modified: b.last_modified,
            modified_by: b.modified_by.clone(),
            fields: b.fields.clone(),
        }),
        local: LocalSide {
            fields: row.local.clone(),
        },
        server: current.map(|c| ServerSide {
            version: c.version.get(),
            last_modified: c.last_modified,
            modified_by: c.modified_by.clone(),
            deleted: c.deleted,
            fields: c.fields.clone(),
            etag: etag_of(c),
        }),
        conflicting_paths: summary.conflicting_paths,
        resolution: summary.resolution,
        fields,
    }
}

//! Answers: a record with its ETag, a merge report, a parked conflict, a refusal; and
//! an answer as remembered under an idempotency key.

use super::*;

/// An answer as sent, and as remembered under an idempotency key (`remembered_text`).
#[derive(Debug, Deserialize)]
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) problem: bool,
    pub(super) etag: Option<String>,
    pub(super) location: Option<String>,
    /// Remembered without it when `shows` says what it is.
    #[serde(default)]
    pub(super) body: String,
    #[serde(default)]
    pub(super) shows: Option<Shows>,
    #[serde(skip)]
    pub(super) replayed: bool,
    /// What the write came to, for the counters (never part of the answer).
    #[serde(skip)]
    pub(super) outcome: Option<&'static str>,
    /// Its write is in the sync log already.
    #[serde(skip)]
    pub(super) logged: bool,
    /// A merge's paths, for the sync log: the submission's changes applied on a newer
    /// version, and the server's changes since the base kept.
    #[serde(skip)]
    pub(super) merged: Option<(Vec<String>, Vec<String>)>,
    /// The record a write's answer shows, its body made as the answer is sent rather than
    /// on the writer thread (`body` stays empty until then).
    #[serde(skip)]
    pub(super) record: Option<Box<ShownRecord>>,
}

/// A record as a write's answer shows it: the version stored or met, and the merge report.
#[derive(Debug)]
pub(super) struct ShownRecord {
    pub(super) id: String,
    pub(super) version: Arc<StoredVersion<'static>>,
    pub(super) merge: Option<serde_json::Value>,
}

impl ShownRecord {
    fn body(&self) -> String {
        record_body(&self.id, &self.version, self.merge.as_ref())
    }
}

/// The stored version of a record an answer's body shows (with the merge report beside
/// it): a remembered answer names it, and a replay reads it back, rather than keeping the
/// record a second time inside the answer (more than half of what a sync stored).
#[derive(Debug, serde::Serialize, Deserialize)]
pub(super) struct Shows {
    record_type: String,
    id: String,
    version: Version,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merge: Option<serde_json::Value>,
}

impl Reply {
    /// The answer as remembered under its key, if it is one a retry may get again
    /// (`remembered`): without its body when `shows` names it.
    pub(super) fn remembered_text(&self) -> Option<String> {
        if !self.remembered() {
            return None;
        }
        #[derive(serde::Serialize)]
        struct Remembered<'r> {
            status: u16,
            problem: bool,
            etag: &'r Option<String>,
            location: &'r Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            body: Option<&'r str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            shows: Option<&'r Shows>,
        }
        serde_json::to_string(&Remembered {
            status: self.status,
            problem: self.problem,
            etag: &self.etag,
            location: &self.location,
            body: self.shows.is_none().then_some(self.body.as_str()),
            shows: self.shows.as_ref(),
        })
        .ok()
    }

    /// A remembered answer as it was sent: its body made again from the version it shows.
    pub(super) fn restored(mut self, store: &impl Store) -> Result<Self, Problem> {
        if let Some(shows) = &self.shows {
            let key = RecordKey {
                record_type: &shows.record_type,
                id: &shows.id,
            };
            let version = store
                .version(key, shows.version)
                .map_err(|e| Problem::internal(&e))?
                .ok_or_else(|| {
                    Problem::internal(&format!(
                        "version {} of {}/{}, which a remembered answer shows, is not stored",
                        shows.version, shows.record_type, shows.id
                    ))
                })?;
            self.body =
                serde_json::to_string(&RecordOut::of(&shows.id, &version, shows.merge.as_ref()))
                    .map_err(|e| Problem::internal(&e))?;
        }
        Ok(self)
    }

    /// Gives an answer that shows a record (`shows`, its body not made) the version to make
    /// its body from, once the write stored or met it.
    pub(super) fn show(&mut self, version: Arc<StoredVersion<'static>>) {
        if let Some(shows) = &self.shows
            && self.body.is_empty()
        {
            self.record = Some(Box::new(ShownRecord {
                id: shows.id.clone(),
                version,
                merge: shows.merge.clone(),
            }));
        }
    }

    pub(super) fn json(status: StatusCode, body: &serde_json::Value, etag: Option<String>) -> Self {
        Self {
            status: status.as_u16(),
            problem: false,
            etag,
            location: None,
            body: body.to_string(),
            shows: None,
            replayed: false,
            outcome: None,
            logged: false,
            merged: None,
            record: None,
        }
    }

    /// Answers a retry may get again: those to requests that passed authentication and
    /// parsing (2xx, 409, 410, 412, 422, 428), not 5xx.
    fn remembered(&self) -> bool {
        matches!(self.status, 200..=299 | 409 | 410 | 412 | 422 | 428)
    }
}

impl From<Problem> for Reply {
    fn from(problem: Problem) -> Self {
        let (status, body, etag) = problem.into_parts();
        Self {
            status: status.as_u16(),
            problem: true,
            etag,
            location: None,
            body,
            shows: None,
            replayed: false,
            outcome: None,
            logged: false,
            merged: None,
            record: None,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match &self.record {
            Some(record) => record.body(),
            None => self.body,
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        let content_type = if self.problem {
            "application/problem+json"
        } else {
            "application/json"
        };
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        for (name, value) in [(header::ETAG, self.etag), (header::LOCATION, self.location)] {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name, value);
            }
        }
        if self.replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        let outcome = if self.replayed {
            Some("replayed")
        } else {
            self.outcome
        };
        if let Some(name) = outcome {
            response
                .extensions_mut()
                .insert(crate::server::metrics::WriteOutcome(name));
        }
        if self.logged {
            response.extensions_mut().insert(SyncLogged);
        }
        response
    }
}

/// What a write's decision means for its answer, once stored.
pub(super) enum Outcome {
    Created,
    WouldApply(Report, Object<'static>),
    WouldPark(ParkKind, Vec<String>, Option<StoredVersion<'static>>),
    Deleted,
    Missing,
    Merged(Report),
    Current(Option<StoredVersion<'static>>, Option<Report>),
    Exists(Option<StoredVersion<'static>>),
    Park(ParkKind, Vec<String>, Option<StoredVersion<'static>>),
    Parked(Parked, Option<StoredVersion<'static>>),
    Refused(Refusal, Option<StoredVersion<'static>>),
}

impl Outcome {
    /// Its name in the counters, after the sync log's outcomes.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::WouldApply(..) | Outcome::WouldPark(..) => "dry-run",
            Outcome::Deleted => "deleted",
            Outcome::Missing => "missing",
            Outcome::Merged(report) if !report.auto_merged.is_empty() => "auto-merged",
            Outcome::Merged(_) => "applied",
            Outcome::Current(_, Some(_)) => "no-op",
            Outcome::Current(_, None) => "superseded",
            Outcome::Exists(_) => "already-exists",
            Outcome::Park(kind, ..) => kind.name(),
            Outcome::Parked(parked, _) => parked.kind.name(),
            Outcome::Refused(Refusal::PreconditionFailed, _) => "stale",
            Outcome::Refused(Refusal::Invalid { .. }, _) => "invalid",
            Outcome::Refused(Refusal::PreconditionRequired, _) => "refused",
        }
    }

    /// The answer to a write once stored. A record answer's body is left to be made from
    /// the version (`Reply::show`), away from the writer.
    pub(super) fn reply(&self, record_type: &str, id: &str, stored: &Stored) -> Reply {
        match (self, stored) {
            (Outcome::Created, Stored::Version(v)) => Reply {
                location: Some(format!("/v1/{record_type}/{id}")),
                ..shown_later(StatusCode::CREATED, record_type, id, v, None)
            },
            (Outcome::WouldApply(report, fields), _) => Reply::json(
                StatusCode::OK,
                &json!({"dry_run": true, "merge": report, "fields": fields}),
                None,
            ),
            (Outcome::WouldPark(kind, paths, current), _) => {
                let mut problem = parked(*kind, "", paths.clone(), current.as_ref());
                problem.without("conflict_id");
                problem.with("dry_run", true).into()
            }
            (Outcome::Deleted, Stored::Version(v)) => {
                shown_later(StatusCode::OK, record_type, id, v, None)
            }
            (Outcome::Missing, _) => Problem::not_found("no such record").into(),
            (Outcome::Merged(report), Stored::Version(v)) => {
                shown_later(StatusCode::OK, record_type, id, v, Some(json!(report)))
            }
            (Outcome::Current(Some(v), report), _) => {
                let report = report
                    .as_ref()
                    .map_or_else(|| json!({"superseded": true}), |r| json!(r));
                shown_later(StatusCode::OK, record_type, id, v, Some(report))
            }
            (Outcome::Exists(Some(v)), _) => Problem::new(
                StatusCode::CONFLICT,
                "already-exists",
                "Already exists",
                format!("a record with id {id:?} exists with other fields"),
            )
            .with_etag(etag_of(v))
            .into(),
            (Outcome::Park(kind, paths, current), Stored::Conflict(cid)) => {
                parked(*kind, &cid.to_string(), paths.clone(), current.as_ref()).into()
            }
            (Outcome::Parked(p, current), _) => {
                parked(p.kind, &p.id.to_string(), p.paths.clone(), current.as_ref()).into()
            }
            (Outcome::Refused(refusal, current), _) => {
                refused(refusal.clone(), current.as_ref()).into()
            }
            _ => Problem::internal(&"a decision and what was stored disagree").into(),
        }
    }
}

pub(super) fn parked(
    kind: ParkKind,
    conflict_id: &str,
    paths: Vec<String>,
    current: Option<&StoredVersion>,
) -> Problem {
    let (status, name, title, detail) = match kind {
        ParkKind::EditConflict => (
            StatusCode::CONFLICT,
            "edit-conflict",
            "Edit conflict",
            "another edit changed the same fields",
        ),
        ParkKind::DeletedOnServer => (
            StatusCode::CONFLICT,
            "deleted-on-server",
            "Deleted on the server",
            "the record was deleted since the form was loaded",
        ),
        ParkKind::InvalidReference => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-reference",
            "Invalid reference",
            "a reference names no item of its master-data list",
        ),
    };
    let problem = Problem::new(
        status,
        name,
        title,
        format!("{detail}; the submission is kept in the queue for a supervisor"),
    )
    .with("conflict_id", conflict_id)
    .with("conflicting_paths", paths);
    match current {
        Some(v) => problem.with_etag(etag_of(v)),
        None => problem,
    }
}

pub(super) fn refused(refusal: Refusal, current: Option<&StoredVersion>) -> Problem {
    match refusal {
        Refusal::PreconditionRequired => Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Base version required",
            "send base_version (the version the form was loaded from) or If-Match",
        ),
        Refusal::PreconditionFailed => {
            let problem = Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Stale If-Match",
                "If-Match does not name the current version",
            );
            match current {
                Some(v) => problem.with_etag(etag_of(v)),
                None => problem,
            }
        }
        Refusal::Invalid {
            errors,
            schema_changed,
        } => {
            let problem = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid fields",
                format!("{} fault(s) in the submission", errors.len()),
            )
            .with("errors", serde_json::to_value(errors).unwrap_or_default());
            if schema_changed {
                problem.with("schema_changed", true)
            } else {
                problem
            }
        }
    }
}

/// A record as the API shows it, serialized straight from the stored version (a
/// `serde_json::Value` in between would copy every field once more).
#[derive(serde::Serialize)]
pub(super) struct RecordOut<'v> {
    pub(super) id: &'v str,
    pub(super) version: Version,
    pub(super) last_modified: UtcMillis,
    pub(super) modified_by: &'v str,
    pub(super) deleted: bool,
    pub(super) fields: &'v Object<'v>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) merge: Option<&'v serde_json::Value>,
}

impl<'v> RecordOut<'v> {
    pub(super) fn of(
        id: &'v str,
        v: &'v StoredVersion,
        merge: Option<&'v serde_json::Value>,
    ) -> Self {
        Self {
            id,
            version: v.version,
            last_modified: v.last_modified,
            modified_by: &v.modified_by,
            deleted: v.deleted,
            fields: &v.fields,
            merge,
        }
    }
}

pub(super) fn record_json(id: &str, v: &StoredVersion) -> serde_json::Value {
    serde_json::to_value(RecordOut::of(id, v, None)).unwrap_or_default()
}

/// A record's answer body: the one way it is made, whether at once or as it is sent.
fn record_body(id: &str, v: &StoredVersion, merge: Option<&serde_json::Value>) -> String {
    serde_json::to_string(&RecordOut::of(id, v, merge)).unwrap_or_default()
}

pub(super) fn record_reply(
    status: StatusCode,
    id: &str,
    v: &StoredVersion,
    merge: Option<&serde_json::Value>,
) -> Reply {
    Reply {
        body: record_body(id, v, merge),
        ..record_without_body(status, v)
    }
}

/// An answer with a record's status and ETag, its body not made.
fn record_without_body(status: StatusCode, v: &StoredVersion) -> Reply {
    Reply {
        status: status.as_u16(),
        problem: false,
        etag: Some(etag_of(v)),
        location: None,
        body: String::new(),
        shows: None,
        replayed: false,
        outcome: None,
        logged: false,
        merged: None,
        record: None,
    }
}

/// A record answer to a write, remembered by the version it shows (`Shows`), its body not
/// made yet: `Reply::show` gives it the version to make it from.
fn shown_later(
    status: StatusCode,
    record_type: &str,
    id: &str,
    v: &StoredVersion,
    merge: Option<serde_json::Value>,
) -> Reply {
    Reply {
        shows: Some(Shows {
            record_type: record_type.into(),
            id: id.into(),
            version: v.version,
            merge,
        }),
        ..record_without_body(status, v)
    }
}

/// A record answer to a write, remembered by the version it shows (`Shows`), its body made.
pub(super) fn shown_reply(
    status: StatusCode,
    record_type: &str,
    id: &str,
    v: &StoredVersion,
    merge: Option<serde_json::Value>,
) -> Reply {
    Reply {
        body: record_body(id, v, merge.as_ref()),
        ..shown_later(status, record_type, id, v, merge)
    }
}

pub(super) fn etag_of(v: &StoredVersion) -> String {
    Etag::new(v.version, v.last_modified).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_remembered_whole_is_read_as_it_was_and_a_shown_one_without_its_body() {
        // As servers before `Shows` remembered every answer: the body inside.
        let whole = r#"{"status":200,"problem":false,"etag":"\"2-2026-12-01T10:00:00.000Z\"","location":null,"body":"{\"id\":\"INS-1\"}"}"#;
        let reply: Reply = serde_json::from_str(whole).unwrap();
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, r#"{"id":"INS-1"}"#)
        );
        assert!(reply.shows.is_none());
        assert_eq!(reply.remembered_text().unwrap(), whole);

        let mut shown = Reply::json(StatusCode::OK, &json!({"id": "INS-1"}), None);
        shown.shows = Some(Shows {
            record_type: "inspections".into(),
            id: "INS-1".into(),
            version: Version::new(2).unwrap(),
            merge: Some(json!({"auto_merged": ["/notes"], "kept_server": []})),
        });
        let text = shown.remembered_text().unwrap();
        assert!(!text.contains("\"body\""), "{text}");
        let read: Reply = serde_json::from_str(&text).unwrap();
        assert_eq!(read.body, "");
        let shows = read.shows.unwrap();
        assert_eq!((shows.id.as_str(), shows.version.get()), ("INS-1", 2));
        assert_eq!(shows.merge.unwrap()["auto_merged"][0], "/notes");
    }

    fn sent(reply: Reply) -> (u16, Option<String>, String) {
        let response = reply.into_response();
        let etag = response
            .headers()
            .get(header::ETAG)
            .map(|e| e.to_str().unwrap().to_owned());
        let status = response.status().as_u16();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        (status, etag, String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn a_write_s_record_answer_made_where_it_is_sent_is_the_one_made_at_once() {
        let crate::model::Json::Object(fields) = crate::json!({"notes": "ok", "n": 2}) else {
            unreachable!()
        };
        let version = StoredVersion {
            version: Version::new(3).unwrap(),
            last_modified: "2026-12-01T10:00:00Z".parse().unwrap(),
            modified_by: "ana".into(),
            device_id: None,
            device_seq: None,
            deleted: false,
            fields,
        };
        let merge = json!({"auto_merged": ["/notes"], "kept_server": []});
        let now = shown_reply(StatusCode::OK, "t", "INS-1", &version, Some(merge.clone()));
        let mut later = shown_later(StatusCode::OK, "t", "INS-1", &version, Some(merge));
        assert_eq!(later.body, "", "not made on the writer");
        assert_eq!(later.remembered_text(), now.remembered_text());
        later.show(Arc::new(version));
        let (status, etag, body) = sent(later);
        assert_eq!((status, etag, body.clone()), sent(now));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (&body["id"], &body["version"], &body["fields"]["notes"]),
            (&json!("INS-1"), &json!(3), &json!("ok"))
        );
        assert_eq!(body["merge"]["auto_merged"][0], "/notes");
    }
}

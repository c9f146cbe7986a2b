//! The conflict endpoints of a syncdesk server, over HTTP.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{StatusCode, header};

use super::{Loaded, MasterData, SourceError, Submission, SubmitOutcome};
use crate::model::validate::FieldError;
use crate::model::{FieldType, TypeSchema};
use crate::protocol::{ConflictDetail, ConflictSummary, Problem, choice_names};

/// A signed-in connection to one server.
#[derive(Clone)]
pub struct ServerClient {
    pub(super) base: String,
    pub(super) token: String,
    pub(super) http: reqwest::Client,
}

/// Pages of the queue are read until this many conflicts, a guard against a server that
/// keeps answering `next`.
const MAX_QUEUE: usize = 200_000;

impl ServerClient {
    /// A client for `base` (`http://host:port`), signing in with `token`.
    pub fn new(base: &str, token: &str) -> Result<Self, SourceError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SourceError::Unreachable(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// `GET /v1/conflicts?status=...`, every page.
    pub async fn conflicts(&self, status: &str) -> Result<Vec<ConflictSummary>, SourceError> {
        #[derive(serde::Deserialize)]
        struct Page {
            conflicts: Vec<ConflictSummary>,
            next: Option<String>,
        }
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("status", status.to_string()), ("limit", "1000".into())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let response = send(self.get("/v1/conflicts").query(&query)).await?;
            let (status, body) = read(response).await?;
            if status != StatusCode::OK {
                return Err(refused(status, &body));
            }
            let page: Page = parse(&body)?;
            let done = page.next.is_none() || page.conflicts.is_empty();
            all.extend(page.conflicts);
            if done || all.len() >= MAX_QUEUE {
                return Ok(all);
            }
            cursor = page.next;
        }
    }

    /// `GET /v1/syncs` with these filters, newest first, up to `limit` entries. The
    /// entries as the server sends them.
    pub async fn syncs(
        &self,
        filters: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, SourceError> {
        self.paged("/v1/syncs", "syncs", filters, limit).await
    }

    /// `GET /v1/audit` with these filters, newest first, up to `limit` resolutions.
    pub async fn audit(
        &self,
        filters: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, SourceError> {
        self.paged("/v1/audit", "resolutions", filters, limit).await
    }

    /// Up to `limit` items of a paged list (`{member: [...], "next": cursor}`), a page at
    /// a time.
    async fn paged(
        &self,
        path: &str,
        member: &str,
        filters: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, SourceError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        while all.len() < limit {
            let mut query = filters.to_vec();
            query.push(("limit", (limit - all.len()).min(1000).to_string()));
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let response = send(self.get(path).query(&query)).await?;
            let (status, body) = read(response).await?;
            if status != StatusCode::OK {
                return Err(refused(status, &body));
            }
            let mut page: serde_json::Value = parse(&body)?;
            let items = match page[member].take() {
                serde_json::Value::Array(items) => items,
                _ => {
                    return Err(SourceError::Garbage(format!(
                        "no {member} list in the answer"
                    )));
                }
            };
            let next = page["next"].as_str().map(String::from);
            let done = next.is_none() || items.is_empty();
            all.extend(items);
            if done {
                break;
            }
            cursor = next;
        }
        Ok(all)
    }

    /// `GET /v1/{type}/{id}/versions`: who made each version of a record, when, from where.
    pub async fn versions(
        &self,
        record_type: &str,
        id: &str,
    ) -> Result<Vec<crate::protocol::VersionSummary>, SourceError> {
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| SourceError::Garbage(format!("server URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| SourceError::Garbage("server URL cannot take a path".into()))?
            .extend(["v1", record_type, id, "versions"]);
        let response = send(self.http.get(url).bearer_auth(&self.token)).await?;
        let (status, body) = read(response).await?;
        if status != StatusCode::OK {
            return Err(refused(status, &body));
        }
        #[derive(serde::Deserialize)]
        struct Versions {
            versions: Vec<crate::protocol::VersionSummary>,
        }
        Ok(parse::<Versions>(&body)?.versions)
    }

    /// `GET /v1/stats` with this query, as the server sends it.
    pub async fn stats(&self, query: &[(&str, String)]) -> Result<serde_json::Value, SourceError> {
        let response = send(self.get("/v1/stats").query(query)).await?;
        let (status, body) = read(response).await?;
        if status != StatusCode::OK {
            return Err(refused(status, &body));
        }
        parse(&body)
    }

    /// `GET /v1/conflicts/{cid}`, with the schema of its record type.
    pub async fn load(&self, id: &str) -> Result<Loaded, SourceError> {
        let (body, etag) = self.detail_bytes(id).await?;
        let detail: ConflictDetail = parse(&body)?;
        let detail = detail.into_owned();
        let schema = self.schema(&detail.record_type).await?;
        let mut lists = BTreeMap::new();
        for spec in schema.iter().flat_map(|s| s.fields.values()) {
            if let FieldType::Reference { list } = &spec.kind
                && !lists.contains_key(list)
            {
                lists.insert(list.clone(), self.master(list).await?);
            }
        }
        let etag = etag.or_else(|| detail.server.as_ref().map(|s| s.etag.clone()));
        Ok(Loaded {
            detail,
            etag,
            schema,
            lists,
        })
    }

    /// `GET /v1/master/{list}`: its items, the ones that left it and its `ETag` (empty
    /// when the list does not exist yet).
    pub async fn master(&self, list: &str) -> Result<MasterData, SourceError> {
        let response = send(self.get(&format!("/v1/master/{list}"))).await?;
        let etag = etag_of(&response);
        let (status, body) = read(response).await?;
        match status {
            StatusCode::OK => Ok(MasterData {
                etag,
                ..parse::<MasterData>(&body)?
            }),
            StatusCode::NOT_FOUND => Ok(MasterData::default()),
            _ => Err(refused(status, &body)),
        }
    }

    /// `GET /v1/conflicts/{cid}`: the body and the `ETag`.
    async fn detail_bytes(&self, id: &str) -> Result<(Vec<u8>, Option<String>), SourceError> {
        let response = send(self.get(&format!("/v1/conflicts/{id}"))).await?;
        let etag = etag_of(&response);
        let (status, body) = read(response).await?;
        if status != StatusCode::OK {
            return Err(refused(status, &body));
        }
        Ok((body, etag))
    }

    /// `GET /v1/schema/{type}`; `None` when the server has no schema for it.
    pub async fn schema(&self, record_type: &str) -> Result<Option<TypeSchema>, SourceError> {
        let Some(value) = self.schema_json(record_type).await? else {
            return Ok(None);
        };
        TypeSchema::from_json(&value.to_string())
            .map(Some)
            .map_err(|e| SourceError::Garbage(format!("schema of {record_type}: {e}")))
    }

    /// `GET /v1/schema/{type}` as the server sends it (for an export to carry).
    pub async fn schema_json(
        &self,
        record_type: &str,
    ) -> Result<Option<serde_json::Value>, SourceError> {
        let response = send(self.get(&format!("/v1/schema/{record_type}"))).await?;
        let (status, body) = read(response).await?;
        match status {
            StatusCode::OK => parse(&body).map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(refused(status, &body)),
        }
    }

    /// A conflict's detail as the server sends it (every member kept, for exports and
    /// `--json`), with its `ETag`.
    pub async fn detail_json(
        &self,
        id: &str,
    ) -> Result<(serde_json::Value, Option<String>), SourceError> {
        let (body, etag) = self.detail_bytes(id).await?;
        // Checked against the detail's shape, so garbage is caught here, not downstream.
        parse::<ConflictDetail>(&body)?;
        Ok((parse(&body)?, etag))
    }

    /// `POST /v1/conflicts/{cid}/resolution` with `If-Match` (or `If-None-Match: *`).
    pub async fn resolve(&self, submission: &Submission) -> Result<SubmitOutcome, SourceError> {
        let body = if submission.keep_deleted {
            serde_json::json!({"keep_deleted": true})
        } else {
            serde_json::json!({
                "fields": submission.fields,
                "choices": choice_names(&submission.choices),
            })
        };
        self.post_resolution(
            &submission.conflict_id,
            submission.if_match.as_deref(),
            &submission.idempotency_key,
            &body,
        )
        .await
    }

    /// Sends a resolution body as it is (`syncdesk push` sends what `open` wrote).
    pub async fn post_resolution(
        &self,
        conflict_id: &str,
        if_match: Option<&str>,
        idempotency_key: &str,
        body: &serde_json::Value,
    ) -> Result<SubmitOutcome, SourceError> {
        let mut request = self
            .http
            .post(format!(
                "{}/v1/conflicts/{conflict_id}/resolution",
                self.base
            ))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", idempotency_key)
            .json(body);
        request = match if_match {
            Some(etag) => request.header(header::IF_MATCH, etag),
            None => request.header(header::IF_NONE_MATCH, "*"),
        };
        let response = send(request).await?;
        let etag = etag_of(&response);
        let (status, body) = read(response).await?;
        match status {
            StatusCode::OK | StatusCode::CREATED => {
                let record: serde_json::Value = parse(&body)?;
                Ok(SubmitOutcome::Resolved {
                    version: record.get("version").and_then(|v| v.as_u64()),
                    etag,
                })
            }
            StatusCode::PRECONDITION_FAILED => Ok(SubmitOutcome::Stale),
            StatusCode::CONFLICT => {
                let problem: Problem = parse(&body)?;
                if problem.name() != "conflict-closed" {
                    return Err(refused(status, &body));
                }
                let by = problem
                    .extra
                    .get("resolved_by")
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .unwrap_or("someone")
                    .to_string();
                Ok(SubmitOutcome::Closed { by })
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                let problem: Problem = parse(&body)?;
                let errors = problem
                    .extra
                    .get("errors")
                    .and_then(|e| serde_json::from_value::<Vec<FieldErrorIn>>(e.clone()).ok())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| FieldError {
                        path: e.path,
                        message: e.message,
                    })
                    .collect::<Vec<_>>();
                if errors.is_empty() {
                    return Err(refused(status, &body));
                }
                Ok(SubmitOutcome::Invalid { errors })
            }
            _ => Err(refused(status, &body)),
        }
    }
}

#[derive(serde::Deserialize)]
struct FieldErrorIn {
    path: String,
    message: String,
}

pub(super) fn etag_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(super) async fn send(
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, SourceError> {
    request
        .send()
        .await
        .map_err(|e| SourceError::Unreachable(describe(&e)))
}

pub(super) async fn read(
    response: reqwest::Response,
) -> Result<(StatusCode, Vec<u8>), SourceError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| SourceError::Unreachable(describe(&e)))?;
    Ok((status, body.to_vec()))
}

pub(super) fn parse<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, SourceError> {
    serde_json::from_slice(body).map_err(|e| SourceError::Garbage(e.to_string()))
}

/// A refusal in the server's words (its problem `detail`), else the status alone.
pub(super) fn refused(status: StatusCode, body: &[u8]) -> SourceError {
    let message = serde_json::from_slice::<Problem>(body)
        .ok()
        .map(|p| {
            if p.detail.is_empty() {
                p.title
            } else {
                p.detail
            }
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
    SourceError::Refused {
        status: status.as_u16(),
        message: crate::sanitize::visible(&message).into_owned(),
    }
}

/// reqwest's error with its causes, which say what actually failed (refused, timed out).
pub(super) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

//! RFC 9457 problem details: the body of every 4xx and 5xx.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// One error answer.
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    extra: Map<String, Value>,
    etag: Option<String>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: Map::new(),
            etag: None,
        }
    }

    /// An extension member.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Drops an extension member.
    pub fn without(&mut self, name: &str) {
        self.extra.remove(name);
    }

    /// The record's current `ETag`, sent as a header too.
    pub fn with_etag(mut self, etag: String) -> Self {
        self.extra.insert("server_etag".into(), etag.clone().into());
        self.etag = Some(etag);
        self
    }

    /// 401: `detail` says whether the token was missing or refused.
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Not signed in",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "Malformed request",
            detail,
        )
    }

    /// A failure of ours: logged in full, answered without internals.
    pub fn internal(what: &dyn std::fmt::Display) -> Self {
        tracing::error!("{what}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Server error",
            "the server could not complete the request",
        )
    }
}

impl Problem {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body (problem+json text) and the `ETag`, if any.
    pub fn into_parts(self) -> (StatusCode, String, Option<String>) {
        let mut body = json!({
            "type": format!("https://syncdesk.dev/problems/{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(members) = &mut body {
            members.extend(self.extra);
        }
        (self.status, body.to_string(), self.etag)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (status, body, etag) = self.into_parts();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(etag) = etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
            headers.insert(header::ETAG, etag);
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Every 4xx and 5xx leaves as problem details, also those the framework answers itself:
/// no route (404), a method the route does not take (405, its `Allow` kept), a query or
/// path that does not parse (400). What the framework said becomes the `detail`.
pub async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let said = crate::sanitize::visible(String::from_utf8_lossy(&said).trim()).into_owned();
    let (kind, title, detail) = match status {
        StatusCode::NOT_FOUND => ("not-found", "Not found", "no such route".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "this route does not take that method; Allow lists the ones it takes".to_string(),
        ),
        StatusCode::BAD_REQUEST => ("malformed", "Malformed request", said),
        _ => ("error", "Error", said),
    };
    let mut problem = Problem::new(status, kind, title, detail).into_response();
    // Headers the framework set that still hold (`Allow`), under the problem's own.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem
                .headers_mut()
                .entry(name)
                .or_insert_with(|| value.clone());
        }
    }
    problem
}

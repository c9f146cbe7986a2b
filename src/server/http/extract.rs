//! What a handler reads from a request before anything else, in the contract's order:
//! who signs in (401/403), the record type (404), the body (413/415), the idempotency key
//! (400), the preconditions.

use super::*;

pub(super) fn signed_in<'c>(
    config: &'c Config,
    headers: &HeaderMap,
    role: Role,
) -> Result<&'c User, Problem> {
    let mut given = headers.get_all(header::AUTHORIZATION).iter();
    let (first, second) = (given.next(), given.next());
    if second.is_some() {
        return Err(Problem::unauthorized(
            "send one Authorization header, not several",
        ));
    }
    // The scheme's name is matched case-insensitively (RFC 9110 section 11.1).
    let token = first
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .ok_or_else(|| Problem::unauthorized("send Authorization: Bearer <token>"))?;
    let user = config
        .authenticate(token.trim())
        .ok_or_else(|| Problem::unauthorized("the token was refused"))?;
    if user.role < role {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not allowed",
            format!("this needs the {role:?} role"),
        ));
    }
    Ok(user)
}

pub(super) fn schema_of<'c>(
    config: &'c Config,
    record_type: &str,
) -> Result<&'c TypeSchema, Problem> {
    config
        .types
        .get(record_type)
        .ok_or_else(|| Problem::not_found(format!("no record type {record_type:?}")))
}

/// The body, within the size limit (413), declared as JSON (415).
pub(super) async fn json_body(
    config: &Config,
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, Problem> {
    // A body that does not arrive in time is 408: a slow client holds nothing for long.
    let read = axum::body::to_bytes(body, config.max_body_bytes);
    let read = tokio::time::timeout(config.request_timeout, read)
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
                format!(
                    "the body did not arrive within {} s",
                    config.request_timeout.as_secs()
                ),
            )
        })?;
    let bytes = read.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Body too large",
            format!("the limit is {} bytes", config.max_body_bytes),
        )
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/json" && !media.ends_with("+json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-json",
            "Not JSON",
            "send Content-Type: application/json",
        ));
    }
    Ok(bytes)
}

/// Every write carries an `Idempotency-Key` of 1 to 255 visible ASCII characters.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let key = headers
        .get("idempotency-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if key.is_empty() || key.len() > 255 || !key.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Problem::bad_request(
            "every write needs an Idempotency-Key header of 1-255 visible ASCII characters",
        ));
    }
    Ok(String::from_utf8_lossy(key).into_owned())
}

pub(super) fn parse_if_match(value: &[u8]) -> IfMatch {
    match std::str::from_utf8(value).map(str::trim) {
        Ok("*") => IfMatch::Any,
        Ok(text) => text.parse().map_or(IfMatch::Unusable, IfMatch::Tag),
        Err(_) => IfMatch::Unusable,
    }
}

/// `If-Match`, when sent.
pub(super) fn if_match(headers: &HeaderMap) -> Option<IfMatch> {
    headers
        .get(header::IF_MATCH)
        .map(|v| parse_if_match(v.as_bytes()))
}

/// The body as the route's type (400 naming what does not fit).
pub(super) fn body_of<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| Problem::bad_request(format!("body: {e}")))
}

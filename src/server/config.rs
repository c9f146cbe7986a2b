//! The server configuration file (contract section 8): listen address, database, limits,
//! users with roles and tokens, and the record types.

use std::ops::Range;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use toml::Spanned;

use crate::model::schema::line_column;
use crate::model::{SchemaError, Schemas};

/// What a user may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Technician,
    Supervisor,
    Admin,
}

/// A user; the token is kept only as its SHA-256 digest.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    token_sha256: [u8; 32],
}

impl std::fmt::Debug for User {
    /// Never prints the token digest.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The whole configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub database: String,
    pub max_body_bytes: usize,
    pub idempotency_ttl_hours: u64,
    /// Sync log entries older than this many days go (0: kept for ever).
    pub sync_log_days: u64,
    /// A connection that has not sent a whole request head in this time is closed.
    pub header_timeout: std::time::Duration,
    /// A request whose body has not arrived in this time gets 408; also the most a stop
    /// waits for the requests in flight.
    pub request_timeout: std::time::Duration,
    /// An idle keep-alive connection is closed after this.
    pub idle_timeout: std::time::Duration,
    /// `text` or `json` log lines on stderr.
    pub log: LogFormat,
    /// Where Prometheus metrics are served, when set.
    pub metrics_listen: Option<String>,
    pub users: Vec<User>,
    pub types: Schemas,
}

/// How the server writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default = "default_database")]
    database: String,
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: usize,
    #[serde(default = "default_ttl")]
    idempotency_ttl_hours: u64,
    #[serde(default = "default_sync_log_days")]
    sync_log_days: u64,
    #[serde(default = "default_header_timeout")]
    header_timeout_s: u64,
    #[serde(default = "default_request_timeout")]
    request_timeout_s: u64,
    #[serde(default = "default_idle_timeout")]
    idle_timeout_s: u64,
    #[serde(default)]
    log: LogFormat,
    #[serde(default)]
    metrics_listen: Option<String>,
    #[serde(default)]
    users: Vec<Spanned<RawUser>>,
    /// Read by `Schemas::from_toml`.
    #[serde(default)]
    #[allow(dead_code)]
    types: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: String,
    role: Role,
    token: Option<String>,
    token_sha256: Option<String>,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_database() -> String {
    "syncdesk.db".into()
}

fn default_max_body_bytes() -> usize {
    1024 * 1024
}

fn default_sync_log_days() -> u64 {
    90
}

fn default_ttl() -> u64 {
    24
}

fn default_header_timeout() -> u64 {
    10
}

fn default_request_timeout() -> u64 {
    30
}

fn default_idle_timeout() -> u64 {
    60
}

impl Config {
    /// Reads and checks a configuration; every fault names its line.
    pub fn from_toml(text: &str) -> Result<Self, SchemaError> {
        let at = |span: Option<Range<usize>>, message: String| SchemaError {
            place: span.map(|s| line_column(text, s.start)),
            message,
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| at(e.span(), e.message().trim().to_string()))?;
        let types = Schemas::from_toml(text)?;
        if raw.max_body_bytes == 0 {
            return Err(at(None, "max_body_bytes must be at least 1".into()));
        }
        for (name, seconds) in [
            ("header_timeout_s", raw.header_timeout_s),
            ("request_timeout_s", raw.request_timeout_s),
            ("idle_timeout_s", raw.idle_timeout_s),
        ] {
            if seconds == 0 {
                return Err(at(None, format!("{name} must be at least 1")));
            }
        }
        let mut users: Vec<User> = Vec::with_capacity(raw.users.len());
        for spanned in raw.users {
            let span = spanned.span();
            let user = spanned
                .into_inner()
                .check()
                .map_err(|m| at(Some(span.clone()), m))?;
            if users.iter().any(|u| u.name == user.name) {
                return Err(at(
                    Some(span),
                    format!("user {:?} is listed twice", user.name),
                ));
            }
            if users.iter().any(|u| u.token_sha256 == user.token_sha256) {
                return Err(at(
                    Some(span),
                    format!("user {:?} has the token of another user", user.name),
                ));
            }
            users.push(user);
        }
        Ok(Self {
            listen: raw.listen,
            database: raw.database,
            max_body_bytes: raw.max_body_bytes,
            idempotency_ttl_hours: raw.idempotency_ttl_hours,
            sync_log_days: raw.sync_log_days,
            header_timeout: std::time::Duration::from_secs(raw.header_timeout_s),
            request_timeout: std::time::Duration::from_secs(raw.request_timeout_s),
            idle_timeout: std::time::Duration::from_secs(raw.idle_timeout_s),
            log: raw.log,
            metrics_listen: raw.metrics_listen,
            users,
            types,
        })
    }

    /// The user a bearer token belongs to. Every user's digest is compared, in constant
    /// time, so the answer's timing says nothing about which tokens are near.
    pub fn authenticate(&self, token: &str) -> Option<&User> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for user in &self.users {
            if bool::from(user.token_sha256.ct_eq(&digest)) {
                found = Some(user);
            }
        }
        found
    }
}

impl RawUser {
    fn check(self) -> Result<User, String> {
        let name = self.name;
        if name.is_empty() {
            return Err("a user needs a name".into());
        }
        let token_sha256 = match (self.token, self.token_sha256) {
            (Some(token), None) if !token.is_empty() => Sha256::digest(token.as_bytes()).into(),
            (None, Some(hex)) => parse_sha256(&hex)
                .ok_or_else(|| format!("user {name:?}: token_sha256 must be 64 hex digits"))?,
            (Some(_), Some(_)) => {
                return Err(format!(
                    "user {name:?}: give token or token_sha256, not both"
                ));
            }
            _ => {
                return Err(format!(
                    "user {name:?} needs a non-empty token or a token_sha256"
                ));
            }
        };
        Ok(User {
            name,
            role: self.role,
            token_sha256,
        })
    }
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
listen = "127.0.0.1:9000"
database = "/tmp/x.db"

[[users]]
name = "ana"
role = "technician"
token = "ana-secret"

[[users]]
name = "sue"
role = "supervisor"
token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

[types.inspections.fields]
site_id = { type = "reference", list = "sites", required = true }
"#;

    #[test]
    fn reads_users_types_and_defaults() {
        let c = Config::from_toml(CONFIG).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.max_body_bytes, 1_048_576);
        assert_eq!(c.idempotency_ttl_hours, 24);
        assert_eq!(c.users.len(), 2);
        assert!(c.types.get("inspections").is_some());
    }

    #[test]
    fn tokens_and_token_hashes_authenticate_their_user() {
        let c = Config::from_toml(CONFIG).unwrap();
        assert_eq!(
            c.authenticate("ana-secret")
                .map(|u| (u.name.as_str(), u.role)),
            Some(("ana", Role::Technician))
        );
        // sha256("test") is the digest configured for sue.
        assert_eq!(
            c.authenticate("test").map(|u| u.role),
            Some(Role::Supervisor)
        );
        assert!(c.authenticate("ana-secreT").is_none());
        assert!(c.authenticate("").is_none());
    }

    #[test]
    fn roles_include_the_ones_before() {
        assert!(Role::Admin > Role::Supervisor && Role::Supervisor > Role::Technician);
    }

    #[test]
    fn debug_output_never_shows_a_token() {
        let c = Config::from_toml(CONFIG).unwrap();
        let text = format!("{c:?}");
        assert!(
            !text.contains("9f86d0") && !text.contains("ana-secret"),
            "{text}"
        );
    }

    fn fault(text: &str) -> SchemaError {
        Config::from_toml(text).unwrap_err()
    }

    #[test]
    fn bad_users_are_refused_with_their_line() {
        let user = |body: &str| format!("listen = \"x\"\n[[users]]\n{body}\n");
        let err = fault(&user("name = \"a\"\nrole = \"technician\""));
        assert!(err.message.contains("needs a non-empty token"), "{err}");
        assert_eq!(
            err.place.map(|p| p.0),
            Some(2),
            "the line of its [[users]] table"
        );
        assert!(
            fault(&user("name = \"a\"\nrole = \"boss\"\ntoken = \"t\""))
                .message
                .contains("boss")
        );
        assert!(
            fault(&user(
                "name = \"a\"\nrole = \"admin\"\ntoken_sha256 = \"abc\""
            ))
            .message
            .contains("64 hex")
        );
        assert!(
            fault(&user(
                "name = \"a\"\nrole = \"admin\"\ntoken = \"t\"\ntoken_sha256 = \"x\""
            ))
            .message
            .contains("not both")
        );
        let twice = "[[users]]\nname = \"a\"\nrole = \"admin\"\ntoken = \"t\"\n[[users]]\nname = \"a\"\nrole = \"admin\"\ntoken = \"u\"\n";
        let err = fault(twice);
        assert!(err.message.contains("listed twice"), "{err}");
        assert_eq!(err.place.map(|p| p.0), Some(5));
        let shared = "[[users]]\nname = \"a\"\nrole = \"admin\"\ntoken = \"t\"\n[[users]]\nname = \"b\"\nrole = \"admin\"\ntoken = \"t\"\n";
        assert!(fault(shared).message.contains("token of another user"));
    }

    #[test]
    fn unknown_keys_and_broken_types_are_refused() {
        assert!(fault("lisen = \"x\"\n").message.contains("lisen"));
        assert!(
            fault("max_body_bytes = 0\n")
                .message
                .contains("max_body_bytes")
        );
        assert!(
            fault("[types.t.fields]\na = { type = \"nope\" }\n")
                .message
                .contains("nope")
        );
    }
}

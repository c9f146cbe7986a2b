//! Strong entity tags `"{version}-{last_modified}"`, compared by version only.

use std::fmt;
use std::str::FromStr;

use super::time::UtcMillis;
use super::version::Version;

/// Why an entity tag was refused; a refused tag never matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtagError {
    #[error("weak entity tag {0} (only strong tags are compared)")]
    Weak(String),
    #[error("malformed entity tag {0} (expected \"VERSION-TIMESTAMP\")")]
    Malformed(String),
}

/// A record's entity tag. The timestamp is for people: equality is by version.
#[derive(Debug, Clone, Copy)]
pub struct Etag {
    pub version: Version,
    pub last_modified: UtcMillis,
}

impl Etag {
    pub fn new(version: Version, last_modified: UtcMillis) -> Self {
        Self {
            version,
            last_modified,
        }
    }

    /// True when this tag names the given current version.
    pub fn matches(&self, current: Version) -> bool {
        self.version == current
    }
}

impl PartialEq for Etag {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}

impl Eq for Etag {}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}-{}\"", self.version, self.last_modified)
    }
}

impl FromStr for Etag {
    type Err = EtagError;

    /// Parses the quoted header form; a client may render the timestamp in any offset or
    /// precision, but it must be a timestamp.
    fn from_str(text: &str) -> Result<Self, EtagError> {
        if text.starts_with("W/") {
            return Err(EtagError::Weak(text.into()));
        }
        let malformed = || EtagError::Malformed(text.into());
        let inner = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .ok_or_else(malformed)?;
        let (version, stamp) = inner.split_once('-').ok_or_else(malformed)?;
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let version = version
            .parse()
            .ok()
            .and_then(Version::new)
            .ok_or_else(malformed)?;
        let last_modified = stamp.parse().map_err(|_| malformed())?;
        Ok(Self {
            version,
            last_modified,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(text: &str) -> Etag {
        text.parse().unwrap()
    }

    #[test]
    fn formats_version_dash_utc_millis_in_quotes() {
        let t = Etag::new(
            Version::new(7).unwrap(),
            "2026-11-20T15:03:11.25+01:00".parse().unwrap(),
        );
        assert_eq!(t.to_string(), "\"7-2026-11-20T14:03:11.250Z\"");
        assert_eq!(tag(&t.to_string()).version.get(), 7);
    }

    #[test]
    fn tags_compare_by_version_only() {
        assert_eq!(
            tag("\"7-2026-11-20T14:03:11.250Z\""),
            tag("\"7-2026-11-20T15:03:11+01:00\"")
        );
        assert_ne!(
            tag("\"7-2026-11-20T14:03:11.250Z\""),
            tag("\"8-2026-11-20T14:03:11.250Z\"")
        );
        assert!(tag("\"7-2026-11-20T14:03:11.250Z\"").matches(Version::new(7).unwrap()));
        assert!(!tag("\"7-2026-11-20T14:03:11.250Z\"").matches(Version::new(6).unwrap()));
    }

    #[test]
    fn weak_tags_are_refused() {
        let err = "W/\"7-2026-11-20T14:03:11.250Z\""
            .parse::<Etag>()
            .unwrap_err();
        assert!(matches!(err, EtagError::Weak(_)));
    }

    #[test]
    fn malformed_tags_are_errors_not_panics() {
        for bad in [
            "",
            "\"",
            "7-2026-11-20T14:03:11.250Z",
            "\"7\"",
            "\"-2026-11-20T14:03:11.250Z\"",
            "\"0-2026-11-20T14:03:11.250Z\"",
            "\"+7-2026-11-20T14:03:11.250Z\"",
            "\"99999999999999999999999-2026-11-20T14:03:11.250Z\"",
            "\"7-2026-11-20T14:03:11\"",
            "\"7-soon\"",
            "*",
        ] {
            assert!(
                matches!(bad.parse::<Etag>(), Err(EtagError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}

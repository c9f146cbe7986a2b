//! UTC instants: parsed from RFC 3339 with an offset, written as `...sssZ`.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::DateTime;

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// A date and time without `Z` or `+hh:mm`: ambiguous across DST, so refused.
    #[error("'{0}' has no UTC offset (add Z or +hh:mm): a local time is ambiguous")]
    NoOffset(String),
    #[error("'{0}' is not an RFC 3339 timestamp")]
    Malformed(String),
}

/// An instant in UTC at millisecond precision, the only precision the server keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcMillis(Timestamp);

impl UtcMillis {
    /// The current instant, cut to milliseconds.
    pub fn now() -> Self {
        Self::from_timestamp(Timestamp::now())
    }

    fn from_timestamp(ts: Timestamp) -> Self {
        // Sub-millisecond digits are dropped so that a value read back equals the one written.
        let ms = ts.as_millisecond();
        Self(Timestamp::from_millisecond(ms).expect("a millisecond of a valid timestamp is valid"))
    }

    /// The instant this many milliseconds after the Unix epoch; `None` out of range.
    pub fn from_millis(ms: i64) -> Option<Self> {
        Timestamp::from_millisecond(ms).ok().map(Self)
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0.as_millisecond()
    }

    /// The underlying `jiff` timestamp (for time-zone display).
    pub fn timestamp(self) -> Timestamp {
        self.0
    }
}

impl FromStr for UtcMillis {
    type Err = TimeError;

    fn from_str(text: &str) -> Result<Self, TimeError> {
        match text.parse::<Timestamp>() {
            Ok(ts) => Ok(Self::from_timestamp(ts)),
            Err(_) if text.parse::<DateTime>().is_ok() => Err(TimeError::NoOffset(text.into())),
            Err(_) => Err(TimeError::Malformed(text.into())),
        }
    }
}

impl fmt::Display for UtcMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0)
    }
}

impl serde::Serialize for UtcMillis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for UtcMillis {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> UtcMillis {
        text.parse().unwrap()
    }

    #[test]
    fn formats_utc_with_milliseconds_and_z() {
        assert_eq!(
            utc("2026-11-20T14:03:11.25Z").to_string(),
            "2026-11-20T14:03:11.250Z"
        );
        assert_eq!(
            utc("2026-11-20T14:03:11Z").to_string(),
            "2026-11-20T14:03:11.000Z"
        );
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        assert_eq!(
            utc("2026-03-29T01:30:00+01:00").to_string(),
            "2026-03-29T00:30:00.000Z"
        );
    }

    #[test]
    fn same_instant_in_two_offsets_is_equal() {
        assert_eq!(
            utc("2026-03-29T01:30:00+01:00"),
            utc("2026-03-29T00:30:00Z")
        );
        assert_ne!(
            utc("2026-03-29T01:30:00+02:00"),
            utc("2026-03-29T00:30:00Z")
        );
    }

    #[test]
    fn sub_millisecond_digits_are_dropped() {
        assert_eq!(
            utc("2026-01-01T00:00:00.123999Z"),
            utc("2026-01-01T00:00:00.123Z")
        );
    }

    #[test]
    fn timestamp_without_offset_is_refused_and_says_why() {
        let err = "2026-03-29T02:30:00".parse::<UtcMillis>().unwrap_err();
        assert_eq!(err, TimeError::NoOffset("2026-03-29T02:30:00".into()));
        assert!(err.to_string().contains("no UTC offset"));
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-20T25:00:00Z",
        ] {
            assert!(
                matches!(bad.parse::<UtcMillis>(), Err(TimeError::Malformed(_))),
                "{bad:?} should be malformed"
            );
        }
    }
}

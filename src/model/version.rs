//! Record versions: 1 for a new record, + 1 for every change the server applies.

use std::fmt;

/// A record version; never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    /// The version of a newly created record.
    pub const FIRST: Version = Version(1);

    /// A version from its number; `None` for 0, which no record ever has.
    pub fn new(n: u64) -> Option<Self> {
        (n > 0).then_some(Self(n))
    }

    /// The version after this one.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The number itself.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Version::new(n).ok_or_else(|| serde::de::Error::custom("a version starts at 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_and_grow_by_one() {
        assert_eq!(Version::new(0), None);
        assert_eq!(Version::FIRST.get(), 1);
        assert_eq!(Version::FIRST.next().get(), 2);
    }

    #[test]
    fn version_zero_is_refused_when_read() {
        assert!(serde_json::from_str::<Version>("0").is_err());
        assert!(serde_json::from_str::<Version>("-1").is_err());
        assert_eq!(serde_json::from_str::<Version>("7").unwrap().get(), 7);
    }
}

//! The merge engine: JSON Pointer paths, three-way classification, policies, inline text
//! diffs. Plain functions over values; no IO.

mod audit;
mod diff;
mod equal;
mod resolve;
mod shape;
mod text;
mod text_merge;
mod three_way;

use serde::Serialize;

use crate::model::json::Json;

pub use audit::{Decided, decided};
pub use diff::{Change, changed_paths, diff};
pub use equal::{sides_equal, values_equal};
pub use resolve::{Choice, Choices, resolve};
pub use text::{Edit, EditOp, InlineDiff, text_diff};
pub use text_merge::{MergedText, marker_left, merge_text};
pub use three_way::{Merge, merge, merge_changes};

/// How one path compares across base, local and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Nobody changed it.
    Unchanged,
    /// Only local changed it (or a policy took the local value): local is taken.
    Local,
    /// Only the server changed it (or a policy took the server value): server is taken.
    Server,
    /// Both changed it to the same value.
    BothSame,
    /// Both changed it to different values.
    Conflict,
    /// A reference to master data that does not exist (set by the server, never by `merge`).
    Invalid,
}

impl Class {
    /// Its name on the wire (`both-same`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Class::Unchanged => "unchanged",
            Class::Local => "local",
            Class::Server => "server",
            Class::BothSame => "both-same",
            Class::Conflict => "conflict",
            Class::Invalid => "invalid",
        }
    }
}

/// One side of a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Local,
    Server,
}

/// Caller-supplied rules that settle paths the plain classification cannot.
pub trait Policy {
    /// Settles a path where local and server differ, before classification (the device
    /// rule: a device's later submission wins over its own earlier one).
    fn settle(&self, _path: &str) -> Option<Side> {
        None
    }

    /// For a path still in conflict: take the local value instead (`same_user_overlap =
    /// "local-wins"` when the submitting user made every server-side change).
    fn local_wins_overlap(&self, _path: &str) -> bool {
        false
    }
}

/// The plain rules, nothing settled.
pub struct NoPolicy;

impl Policy for NoPolicy {}

/// One leaf path with its class and its value on each side (`None`: absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathDiff<'a> {
    /// Inline up to 24 bytes: most paths are one or two segments.
    pub path: compact_str::CompactString,
    pub class: Class,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<&'a Json<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<&'a Json<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<&'a Json<'a>>,
}

#[cfg(test)]
mod tests {
    use super::Class;

    #[test]
    fn class_names_are_their_wire_names() {
        for class in [
            Class::Unchanged,
            Class::Local,
            Class::Server,
            Class::BothSame,
            Class::Conflict,
            Class::Invalid,
        ] {
            assert_eq!(serde_json::to_value(class).unwrap(), class.name());
        }
    }
}

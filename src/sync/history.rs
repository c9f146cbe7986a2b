//! The merge policy a record's history implies: the device rule and `same_user_overlap`.

use crate::merge::{Policy, Side, changed_paths};
use crate::model::TypeSchema;
use crate::model::json::Object;
use crate::model::{UtcMillis, Version};

/// One stored version of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion<'a> {
    pub version: Version,
    pub last_modified: UtcMillis,
    pub modified_by: String,
    pub device_id: Option<String>,
    pub device_seq: Option<u64>,
    pub deleted: bool,
    pub fields: Object<'a>,
}

impl StoredVersion<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> StoredVersion<'static> {
        StoredVersion {
            fields: self.fields.into_owned(),
            ..self
        }
    }
}

/// Who made one server-side change since the base, and the paths it changed.
struct Change {
    paths: Vec<String>,
    modified_by: String,
    device: Option<(String, u64)>,
}

/// Settles paths from who changed them on the server since the submission's base.
pub struct HistoryPolicy<'s> {
    changes: Vec<Change>,
    submitter: &'s str,
    device: Option<(&'s str, u64)>,
    local_wins: bool,
}

impl<'s> HistoryPolicy<'s> {
    /// `since_base` holds the base version first, then every later one, oldest first.
    /// `device` is the submission's device id and sequence number, when it sent both.
    pub fn new(
        since_base: &[StoredVersion],
        schema: Option<&TypeSchema>,
        submitter: &'s str,
        device: Option<(&'s str, u64)>,
        local_wins: bool,
    ) -> Self {
        let changes = since_base
            .windows(2)
            .map(|w| Change {
                paths: changed_paths(&w[0].fields, &w[1].fields, schema),
                modified_by: w[1].modified_by.clone(),
                device: w[1].device_id.clone().zip(w[1].device_seq),
            })
            .collect();
        Self {
            changes,
            submitter,
            device,
            local_wins,
        }
    }

    /// The server-side changes since base that touched a path: the path itself, a path
    /// inside it, or one containing it (a value that changed shape is one path).
    fn touching<'c>(&'c self, path: &'c str) -> impl Iterator<Item = &'c Change> + 'c {
        self.changes
            .iter()
            .filter(move |c| c.paths.iter().any(|p| related(p, path)))
    }
}

impl Policy for HistoryPolicy<'_> {
    fn settle(&self, path: &str) -> Option<Side> {
        let (device, seq) = self.device?;
        let mut touched = self.touching(path).peekable();
        touched.peek()?;
        let mut newest = 0;
        for change in touched {
            match &change.device {
                Some((id, change_seq)) if id == device => newest = newest.max(*change_seq),
                _ => return None,
            }
        }
        Some(if seq > newest {
            Side::Local
        } else {
            Side::Server
        })
    }

    fn local_wins_overlap(&self, path: &str) -> bool {
        let mut touched = self.touching(path).peekable();
        self.local_wins
            && touched.peek().is_some()
            && touched.all(|c| c.modified_by == self.submitter)
    }
}

/// True when one pointer is the other or lies inside it.
fn related(a: &str, b: &str) -> bool {
    let inside = |long: &str, short: &str| {
        long.starts_with(short) && long.as_bytes().get(short.len()) == Some(&b'/')
    };
    a == b || inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::merge::{Class, merge};
    use crate::model::Json;
    use crate::sync::tests::version;

    fn classes(
        history: &[StoredVersion],
        local: Json,
        policy: &HistoryPolicy,
    ) -> Vec<(String, Class)> {
        let Json::Object(local) = local else { panic!() };
        let (base, current) = (&history[0].fields, &history[history.len() - 1].fields);
        merge(base, &local, current, None, policy)
            .fields
            .into_iter()
            .filter(|f| f.class != Class::Unchanged)
            .map(|f| (f.path.into(), f.class))
            .collect()
    }

    #[test]
    fn a_devices_later_save_wins_over_its_own_earlier_one() {
        let history = [
            version(4, "ana", None, json!({"notes": "a"})),
            version(5, "ana", Some(("tab-17", 8)), json!({"notes": "b"})),
        ];
        let policy = HistoryPolicy::new(&history, None, "ana", Some(("tab-17", 9)), false);
        assert_eq!(
            classes(&history, json!({"notes": "c"}), &policy),
            [("/notes".into(), Class::Local)]
        );
        // The device undid its own change: still its later word.
        assert_eq!(
            classes(&history, json!({"notes": "a"}), &policy),
            [("/notes".into(), Class::Local)]
        );
    }

    #[test]
    fn another_devices_change_is_not_settled() {
        let history = [
            version(4, "ana", None, json!({"notes": "a"})),
            version(5, "ana", Some(("tab-17", 8)), json!({"notes": "b"})),
            version(6, "ben", Some(("web", 1)), json!({"notes": "z"})),
        ];
        let policy = HistoryPolicy::new(&history, None, "ana", Some(("tab-17", 9)), false);
        assert_eq!(
            classes(&history, json!({"notes": "c"}), &policy),
            [("/notes".into(), Class::Conflict)]
        );
    }

    #[test]
    fn without_a_sequence_number_the_device_rule_does_not_apply() {
        let history = [
            version(4, "ana", None, json!({"notes": "a"})),
            version(5, "ana", Some(("tab-17", 8)), json!({"notes": "b"})),
        ];
        let policy = HistoryPolicy::new(&history, None, "ana", None, false);
        assert_eq!(
            classes(&history, json!({"notes": "c"}), &policy),
            [("/notes".into(), Class::Conflict)]
        );
    }

    #[test]
    fn same_user_overlap_takes_local_only_where_the_submitter_made_every_change() {
        let history = [
            version(4, "ana", None, json!({"notes": "a", "status": "open"})),
            version(
                5,
                "ana",
                Some(("web", 1)),
                json!({"notes": "b", "status": "open"}),
            ),
            version(6, "ben", None, json!({"notes": "b", "status": "failed"})),
        ];
        let policy = HistoryPolicy::new(&history, None, "ana", Some(("tab-17", 3)), true);
        let local = json!({"notes": "c", "status": "passed"});
        assert_eq!(
            classes(&history, local.clone(), &policy),
            [
                ("/notes".into(), Class::Local),
                ("/status".into(), Class::Conflict)
            ]
        );
        let off = HistoryPolicy::new(&history, None, "ana", Some(("tab-17", 3)), false);
        assert_eq!(
            classes(&history, local, &off)[0],
            ("/notes".into(), Class::Conflict)
        );
    }

    #[test]
    fn a_change_of_a_whole_object_touches_the_paths_inside_it() {
        assert!(related("/site", "/site/gps/lat"));
        assert!(related("/site/gps/lat", "/site"));
        assert!(related("/a", "/a"));
        assert!(!related("/site", "/sites"));
        assert!(!related("/a/b", "/a/c"));
    }
}

//! The ground truth: what each submission should get, decided from the simulator's own
//! record of every version (who wrote it, from which device, when) — the contract's rules
//! written again from the page, apart from the server's code, so the two check each other.
//! Beside it, what three naive rules would have answered on the same stream.

use std::collections::{BTreeMap, BTreeSet};

use super::form::{Form, PATHS, Value};

/// One version of a record as the simulator knows it.
#[derive(Debug, Clone)]
pub struct Version {
    pub form: Form,
    pub user: String,
    pub device: String,
    pub device_seq: Option<u64>,
    /// When the server stored it (the story's time, ms since the epoch).
    pub at: i64,
    pub deleted: bool,
}

/// A record's history and what its devices' numbered submissions were answered.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// `versions[0]` is version 1.
    pub versions: Vec<Version>,
    pub answered: BTreeMap<(String, u64), Expected>,
}

impl Record {
    pub fn current(&self) -> Option<&Version> {
        self.versions.last()
    }

    pub fn version(&self) -> u64 {
        self.versions.len() as u64
    }
}

/// A submission as a device sends it.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub base: u64,
    pub form: &'a Form,
    pub user: &'a str,
    pub device: &'a str,
    pub device_seq: Option<u64>,
    /// False for a form the schema refuses (an old app sending a number as text).
    pub valid: bool,
}

/// What a submission should get.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Created(Form),
    /// Based on the current version: stored as the next one.
    Applied(Form),
    /// Based on an older version, no overlap: merged and stored as the next one.
    Merged(Form),
    NoOp,
    Superseded,
    EditConflict(BTreeSet<&'static str>),
    DeletedOnServer,
    InvalidReference,
    Invalid,
    /// The device's numbered submission (or a create) answered before: the same outcome
    /// again, nothing applied or parked twice.
    Again(Box<Expected>),
}

impl Expected {
    /// The outcome's name in the sync log's words.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created(_) => "created",
            Self::Applied(_) => "applied",
            Self::Merged(_) => "auto-merged",
            Self::NoOp => "no-op",
            Self::Superseded => "superseded",
            Self::EditConflict(_) => "edit-conflict",
            Self::DeletedOnServer => "deleted-on-server",
            Self::InvalidReference => "invalid-reference",
            Self::Invalid => "invalid",
            Self::Again(_) => "replayed",
        }
    }

    /// A conflict a person must look at: taking either side alone would lose something.
    pub fn is_genuine_conflict(&self) -> bool {
        match self {
            Self::EditConflict(_) | Self::DeletedOnServer => true,
            Self::Again(first) => first.is_genuine_conflict(),
            _ => false,
        }
    }

    /// Refused by validation under any rule of conflict detection.
    pub fn is_invalid(&self) -> bool {
        match self {
            Self::Invalid | Self::InvalidReference => true,
            Self::Again(first) => first.is_invalid(),
            _ => false,
        }
    }

    /// Whether a correct server refuses it (409 or 422).
    pub fn is_refused(&self) -> bool {
        self.is_genuine_conflict() || self.is_invalid()
    }
}

/// What a sync (`PUT` with `base_version`) of `record` should get.
pub fn expect_sync(record: &Record, sub: &Submission, sites: &BTreeSet<String>) -> Expected {
    if !sub.valid {
        return Expected::Invalid;
    }
    if let Some(seq) = sub.device_seq {
        if let Some(first) = record.answered.get(&(sub.device.to_string(), seq)) {
            return Expected::Again(Box::new(first.clone()));
        }
        let later_applied = record
            .versions
            .iter()
            .any(|v| v.device == sub.device && v.device_seq.is_some_and(|s| s > seq));
        if later_applied {
            return Expected::Superseded;
        }
    }
    let base_index = (sub.base as usize).wrapping_sub(1);
    let (Some(current), Some(base)) = (record.current(), record.versions.get(base_index)) else {
        return Expected::Invalid;
    };
    if current.deleted {
        return Expected::DeletedOnServer;
    }
    let since = &record.versions[sub.base as usize..];
    let mut merged = Form::new();
    let mut conflicts = BTreeSet::new();
    for path in PATHS {
        let (b, l, s) = (
            base.form.get(path),
            sub.form.get(path),
            current.form.get(path),
        );
        let changes = changes_since(&base.form, since, path);
        let own = sub.device_seq.filter(|_| {
            !changes.is_empty()
                && changes
                    .iter()
                    .all(|v| v.device == sub.device && v.device_seq.is_some())
        });
        let taken = if let Some(seq) = own {
            // A device's own saves are ordered by their number, never parked.
            let latest = changes.iter().filter_map(|v| v.device_seq).max();
            if latest.is_some_and(|n| seq > n) {
                l
            } else {
                s
            }
        } else if l == s || l == b {
            s
        } else if s == b {
            l
        } else {
            conflicts.insert(path);
            continue;
        };
        if let Some(value) = taken {
            merged.insert(path, value.clone());
        }
    }
    if !conflicts.is_empty() {
        return Expected::EditConflict(conflicts);
    }
    if merged == current.form {
        return Expected::NoOp;
    }
    if !listed(&merged, sites) {
        return Expected::InvalidReference;
    }
    if sub.base == record.version() {
        Expected::Applied(merged)
    } else {
        Expected::Merged(merged)
    }
}

/// What a create (`POST` with the device's own id) should get; `existing` when the id is
/// taken.
pub fn expect_create(
    existing: Option<&Record>,
    form: &Form,
    valid: bool,
    sites: &BTreeSet<String>,
) -> Expected {
    if let Some(current) = existing.and_then(Record::current) {
        // The contract's resent create: the same fields are answered with the record.
        return if current.form == *form {
            Expected::Again(Box::new(Expected::Created(form.clone())))
        } else {
            Expected::EditConflict(BTreeSet::new())
        };
    }
    if !valid {
        Expected::Invalid
    } else if !listed(form, sites) {
        Expected::InvalidReference
    } else {
        Expected::Created(form.clone())
    }
}

/// The versions after base that changed `path`, each against the one before it.
fn changes_since<'a>(base: &Form, since: &'a [Version], path: &str) -> Vec<&'a Version> {
    let mut before = base.get(path);
    let mut changes = Vec::new();
    for version in since {
        let value = version.form.get(path);
        if value != before {
            changes.push(version);
        }
        before = value;
    }
    changes
}

fn listed(form: &Form, sites: &BTreeSet<String>) -> bool {
    match form.get("/site_id") {
        Some(Value::Text(site)) => sites.contains(site),
        _ => true,
    }
}

/// What the naive rules, each alone, would have refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NaiveVerdicts {
    /// Refuse whenever the base is not the current version (CouchDB's stale revision).
    pub version_check: bool,
    /// Refuse when the version differs and someone else modified the record last.
    pub version_and_modifier: bool,
    /// Refuse when the server changed the record after the device loaded it, by the
    /// device's clock, plus 300 s of grace.
    pub timestamps: bool,
}

/// The grace the timestamp rule gives clocks that disagree.
pub const TIMESTAMP_GRACE_MS: i64 = 300_000;

/// The naive rules on a sync based on `base` by `user`, whose device believes it loaded
/// the form at `loaded_at_by_device`; `record` is `None` for a create of a new id.
pub fn naive(
    record: Option<&Record>,
    base: Option<u64>,
    user: &str,
    loaded_at_by_device: i64,
) -> NaiveVerdicts {
    let Some(current) = record.and_then(Record::current) else {
        return NaiveVerdicts::default();
    };
    let version = record.map_or(0, Record::version);
    let stale = base != Some(version);
    NaiveVerdicts {
        version_check: stale,
        version_and_modifier: stale && current.user != user,
        timestamps: current.at > loaded_at_by_device + TIMESTAMP_GRACE_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::super::form::test_form as form;
    use super::*;

    fn version(form: Form, user: &str, device: &str, seq: Option<u64>, at: i64) -> Version {
        Version {
            form,
            user: user.into(),
            device: device.into(),
            device_seq: seq,
            at,
            deleted: false,
        }
    }

    fn record(versions: Vec<Version>) -> Record {
        Record {
            versions,
            answered: BTreeMap::new(),
        }
    }

    fn sites() -> BTreeSet<String> {
        ["S-1".to_string()].into()
    }

    fn sub<'a>(base: u64, form: &'a Form, user: &'a str, device: &'a str) -> Submission<'a> {
        Submission {
            base,
            form,
            user,
            device,
            device_seq: None,
            valid: true,
        }
    }

    #[test]
    fn edits_of_other_fields_merge_and_edits_of_one_field_to_two_values_conflict() {
        let base = form("open", "", 20.0);
        let r = record(vec![
            version(base.clone(), "office", "web", None, 0),
            version(form("passed", "", 20.0), "sue", "web-sue", None, 10),
        ]);
        let notes = form("open", "valve replaced", 20.0);
        let Expected::Merged(merged) = expect_sync(&r, &sub(1, &notes, "ana", "tab-ana"), &sites())
        else {
            panic!("other fields must merge");
        };
        assert_eq!(merged, form("passed", "valve replaced", 20.0));
        let failed = form("failed", "", 20.0);
        assert_eq!(
            expect_sync(&r, &sub(1, &failed, "ana", "tab-ana"), &sites()),
            Expected::EditConflict(["/status"].into())
        );
        let same = form("passed", "", 20.0);
        assert_eq!(
            expect_sync(&r, &sub(1, &same, "ana", "tab-ana"), &sites()),
            Expected::NoOp,
            "both chose the same value"
        );
    }

    #[test]
    fn a_devices_second_save_wins_over_its_first_and_an_older_one_is_superseded() {
        let base = form("open", "", 20.0);
        let first = form("failed", "", 20.0);
        let r = record(vec![
            version(base.clone(), "office", "web", None, 0),
            version(first, "ana", "tab-ana", Some(1), 10),
        ]);
        let second = form("passed", "", 21.0);
        let mut s = sub(1, &second, "ana", "tab-ana");
        s.device_seq = Some(2);
        assert_eq!(
            expect_sync(&r, &s, &sites()),
            Expected::Merged(form("passed", "", 21.0))
        );
        s.device_seq = None;
        assert_eq!(
            expect_sync(&r, &s, &sites()),
            Expected::EditConflict(["/status"].into()),
            "without a number the device's saves are not ordered"
        );
        let mut r = r;
        r.versions
            .push(version(second.clone(), "ana", "tab-ana", Some(2), 20));
        s.device_seq = Some(1);
        assert_eq!(expect_sync(&r, &s, &sites()), Expected::Superseded);
        r.answered
            .insert(("tab-ana".into(), 2), Expected::Merged(second.clone()));
        s.device_seq = Some(2);
        assert_eq!(
            expect_sync(&r, &s, &sites()),
            Expected::Again(Box::new(Expected::Merged(second)))
        );
    }

    #[test]
    fn a_datetime_in_another_offset_is_no_change_and_a_removed_site_is_a_fault() {
        let base = form("open", "", 20.0);
        let r = record(vec![version(base.clone(), "office", "web", None, 0)]);
        let mut berlin = base.clone();
        berlin.insert(
            "/inspected_at",
            Value::instant("2026-03-29T10:00:00+02:00".into()).unwrap(),
        );
        assert_eq!(
            expect_sync(&r, &sub(1, &berlin, "ana", "tab"), &sites()),
            Expected::NoOp
        );
        let edited = form("passed", "", 20.0);
        assert_eq!(
            expect_sync(&r, &sub(1, &edited, "ana", "tab"), &BTreeSet::new()),
            Expected::InvalidReference
        );
        let mut gone = r.clone();
        let mut tombstone = version(base.clone(), "sue", "web", None, 5);
        tombstone.deleted = true;
        gone.versions.push(tombstone);
        assert_eq!(
            expect_sync(&gone, &sub(1, &edited, "ana", "tab"), &sites()),
            Expected::DeletedOnServer
        );
        assert!(Expected::DeletedOnServer.is_genuine_conflict());
    }

    #[test]
    fn a_resent_create_is_the_same_record_again() {
        let f = form("open", "", 20.0);
        assert_eq!(
            expect_create(None, &f, true, &sites()),
            Expected::Created(f.clone())
        );
        assert_eq!(
            expect_create(None, &f, true, &BTreeSet::new()),
            Expected::InvalidReference
        );
        let r = record(vec![version(f.clone(), "ana", "tab", None, 0)]);
        assert_eq!(
            expect_create(Some(&r), &f, true, &sites()),
            Expected::Again(Box::new(Expected::Created(f)))
        );
    }

    #[test]
    fn the_naive_rules_refuse_by_version_by_modifier_and_by_the_devices_clock() {
        let r = record(vec![
            version(form("open", "", 20.0), "office", "web", None, 0),
            version(form("open", "x", 20.0), "ana", "web-ana", None, 1_000_000),
        ]);
        let own = naive(Some(&r), Some(1), "ana", 0);
        assert_eq!(
            own,
            NaiveVerdicts {
                version_check: true,
                version_and_modifier: false,
                timestamps: true
            }
        );
        // A tablet whose clock runs an hour ahead believes it loaded after the change.
        let ahead = naive(Some(&r), Some(1), "ben", 3_600_000);
        assert!(ahead.version_and_modifier && !ahead.timestamps);
        assert!(!naive(Some(&r), Some(2), "ben", 0).version_check);
        assert_eq!(naive(None, None, "ben", 0), NaiveVerdicts::default());
    }
}

//! Judging each answer against the ground truth, and counting: per rule the refusals,
//! the false refusals and the missed conflicts; for the server also wrong merges,
//! duplicates and bad replays. Pure: answers in, counts out.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;

use super::form::from_fields;
use super::truth::{Expected, NaiveVerdicts};

/// A server's answer as the simulator keeps it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `Idempotent-Replayed: true` came with it.
    pub replayed: bool,
    pub body: Json,
    pub raw: Vec<u8>,
}

impl Answer {
    pub fn refused(&self) -> bool {
        matches!(self.status, 409 | 412 | 422)
    }

    pub fn version(&self) -> Option<u64> {
        self.body.get("version").and_then(Json::as_u64)
    }

    pub fn conflict_id(&self) -> Option<&str> {
        self.body.get("conflict_id").and_then(Json::as_str)
    }

    fn problem(&self) -> &str {
        let kind = self.body.get("type").and_then(Json::as_str).unwrap_or("");
        kind.rsplit('/').next().unwrap_or(kind)
    }

    fn merge_flag(&self, name: &str) -> bool {
        self.body
            .pointer(&format!("/merge/{name}"))
            .and_then(Json::as_bool)
            .unwrap_or(false)
    }
}

/// What was wrong with an answer, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Right,
    /// Refused what should have been saved.
    FalseRefusal,
    /// Saved what needed a person: a silent overwrite (or a bad reference let through).
    MissedConflict,
    /// Saved, but not the fields the rules give, or parked on the wrong paths.
    WrongMerge,
    /// A resent submission applied or parked a second time.
    Duplicate,
    /// A resend with the same key not answered byte for byte as the first, marked replayed.
    BadReplay,
    /// Any other disagreement, described.
    Other(String),
}

/// Judges `answer` to a submission whose truth is `expected`; `version_before` is the
/// record's version when it was sent (0 for a new id); `first` the answer the same
/// submission got before, where this is a resend.
pub fn judge(
    expected: &Expected,
    answer: &Answer,
    version_before: u64,
    first: Option<&Answer>,
) -> Verdict {
    let saved = matches!(answer.status, 200 | 201);
    match expected {
        Expected::Created(form) | Expected::Applied(form) | Expected::Merged(form) => {
            let status = if matches!(expected, Expected::Created(_)) {
                201
            } else {
                200
            };
            if answer.refused() {
                Verdict::FalseRefusal
            } else if answer.status != status {
                other(expected, answer)
            } else if answer.version() != Some(version_before + 1) || !same_fields(answer, form) {
                Verdict::WrongMerge
            } else {
                Verdict::Right
            }
        }
        Expected::NoOp | Expected::Superseded => {
            let flag = if *expected == Expected::NoOp {
                "no_op"
            } else {
                "superseded"
            };
            if answer.refused() {
                Verdict::FalseRefusal
            } else if !saved {
                other(expected, answer)
            } else if answer.version() != Some(version_before) || !answer.merge_flag(flag) {
                Verdict::WrongMerge
            } else {
                Verdict::Right
            }
        }
        Expected::EditConflict(paths) => {
            if saved {
                Verdict::MissedConflict
            } else if answer.status != 409 {
                other(expected, answer)
            } else if paths.is_empty() {
                // A create of a taken id with other fields: `already-exists`.
                Verdict::Right
            } else if answer.problem() != "edit-conflict" {
                other(expected, answer)
            } else if conflicting_paths(answer) != *paths {
                Verdict::WrongMerge
            } else {
                Verdict::Right
            }
        }
        Expected::DeletedOnServer | Expected::InvalidReference => {
            let (status, problem) = if *expected == Expected::DeletedOnServer {
                (409, "deleted-on-server")
            } else {
                (422, "invalid-reference")
            };
            if saved {
                Verdict::MissedConflict
            } else if answer.status != status
                || answer.problem() != problem
                || answer.conflict_id().is_none()
            {
                other(expected, answer)
            } else {
                Verdict::Right
            }
        }
        Expected::Invalid => {
            if saved {
                Verdict::Other("an invalid form was saved".into())
            } else if answer.status != 422 || answer.problem() == "invalid-reference" {
                other(expected, answer)
            } else {
                Verdict::Right
            }
        }
        Expected::Again(before) => judge_again(before, answer, version_before, first),
    }
}

/// A resend under a new key of what was answered before: the same outcome, nothing twice.
fn judge_again(
    before: &Expected,
    answer: &Answer,
    version_before: u64,
    first: Option<&Answer>,
) -> Verdict {
    if before.is_refused() {
        if !answer.refused() {
            return Verdict::MissedConflict;
        }
        let same_parking = first.and_then(Answer::conflict_id) == answer.conflict_id();
        return if same_parking {
            Verdict::Right
        } else {
            Verdict::Duplicate
        };
    }
    if answer.refused() {
        Verdict::FalseRefusal
    } else if answer.status != 200 {
        other(before, answer)
    } else if answer.version() != Some(version_before) {
        Verdict::Duplicate
    } else {
        Verdict::Right
    }
}

/// A resend under the same key: the first answer again, byte for byte, marked replayed.
pub fn judge_replay(first: &Answer, again: &Answer) -> Verdict {
    if again.status == first.status && again.raw == first.raw && again.replayed {
        Verdict::Right
    } else {
        Verdict::BadReplay
    }
}

fn other(expected: &Expected, answer: &Answer) -> Verdict {
    Verdict::Other(format!(
        "expected {}, got {} {}",
        expected.name(),
        answer.status,
        answer.problem()
    ))
}

fn same_fields(answer: &Answer, form: &super::form::Form) -> bool {
    answer
        .body
        .get("fields")
        .and_then(|f| from_fields(f).ok())
        .is_some_and(|got| got == *form)
}

fn conflicting_paths(answer: &Answer) -> BTreeSet<&'static str> {
    let listed: Vec<&str> = answer
        .body
        .get("conflicting_paths")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    super::form::PATHS
        .iter()
        .filter(|p| listed.contains(p))
        .copied()
        .collect()
}

/// One rule's counts over the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RuleCounts {
    pub refused: usize,
    pub false_refusals: usize,
    pub missed_conflicts: usize,
}

impl RuleCounts {
    /// Counts one submission the rule refused or not. Invalid forms are refused by
    /// validation under every rule.
    fn count(&mut self, expected: &Expected, refused: bool) {
        let refused = refused || expected.is_invalid();
        if refused {
            self.refused += 1;
            if !expected.is_refused() {
                self.false_refusals += 1;
            }
        } else if expected.is_genuine_conflict() {
            self.missed_conflicts += 1;
        }
    }
}

/// The whole run's counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub syncs: usize,
    /// The ground truth: how many syncs should have had each outcome.
    pub truth: BTreeMap<&'static str, usize>,
    pub version_check: RuleCounts,
    pub version_and_modifier: RuleCounts,
    pub timestamps: RuleCounts,
    pub server: RuleCounts,
    pub wrong_merges: usize,
    pub duplicates: usize,
    pub bad_replays: usize,
    pub other_disagreements: usize,
    /// The first few disagreements, described, for whoever must find the bug.
    pub examples: Vec<String>,
}

const EXAMPLES: usize = 10;

impl Tally {
    /// Counts one sync: its truth, what the naive rules did, and the server's verdict.
    pub fn count(
        &mut self,
        what: &str,
        expected: &Expected,
        naive: NaiveVerdicts,
        answer: &Answer,
        verdict: &Verdict,
    ) {
        self.syncs += 1;
        *self.truth.entry(expected.name()).or_default() += 1;
        self.version_check.count(expected, naive.version_check);
        self.version_and_modifier
            .count(expected, naive.version_and_modifier);
        self.timestamps.count(expected, naive.timestamps);
        self.server.count(expected, answer.refused());
        match verdict {
            Verdict::Right | Verdict::FalseRefusal | Verdict::MissedConflict => {}
            Verdict::WrongMerge => self.wrong_merges += 1,
            Verdict::Duplicate => self.duplicates += 1,
            Verdict::BadReplay => self.bad_replays += 1,
            Verdict::Other(_) => self.other_disagreements += 1,
        }
        if *verdict != Verdict::Right && self.examples.len() < EXAMPLES {
            self.examples.push(format!(
                "{what}: expected {}, answered {} — {verdict:?}",
                expected.name(),
                answer.status
            ));
        }
    }

    /// The counts that must be zero for the server to be right.
    pub fn faults(&self) -> usize {
        self.server.false_refusals
            + self.server.missed_conflicts
            + self.wrong_merges
            + self.duplicates
            + self.bad_replays
            + self.other_disagreements
    }
}

/// A share as a percentage with one decimal.
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::form::{Form, test_form, to_fields};
    use super::*;
    use serde_json::json;

    fn form(status: &str) -> Form {
        test_form(status, "", 20.0)
    }

    fn answer(status: u16, body: Json) -> Answer {
        Answer {
            status,
            replayed: false,
            raw: body.to_string().into_bytes(),
            body,
        }
    }

    fn record(version: u64, status: &str) -> Json {
        json!({"id": "INS-1", "version": version, "fields": to_fields(&form(status))})
    }

    #[test]
    fn a_save_is_right_only_with_the_expected_fields_and_the_next_version() {
        let expected = Expected::Merged(form("passed"));
        assert_eq!(
            judge(&expected, &answer(200, record(3, "passed")), 2, None),
            Verdict::Right
        );
        assert_eq!(
            judge(&expected, &answer(200, record(3, "failed")), 2, None),
            Verdict::WrongMerge
        );
        assert_eq!(
            judge(&expected, &answer(200, record(4, "passed")), 2, None),
            Verdict::WrongMerge
        );
        let conflict = json!({"type": "https://syncdesk.dev/problems/edit-conflict",
            "conflict_id": "c-1", "conflicting_paths": ["/status"]});
        assert_eq!(
            judge(&expected, &answer(409, conflict.clone()), 2, None),
            Verdict::FalseRefusal
        );
        let genuine = Expected::EditConflict(["/status"].into());
        assert_eq!(
            judge(&genuine, &answer(409, conflict), 2, None),
            Verdict::Right
        );
        assert_eq!(
            judge(&genuine, &answer(200, record(3, "passed")), 2, None),
            Verdict::MissedConflict
        );
        let wider = json!({"type": "https://syncdesk.dev/problems/edit-conflict",
            "conflict_id": "c-1", "conflicting_paths": ["/status", "/notes"]});
        assert_eq!(
            judge(&genuine, &answer(409, wider), 2, None),
            Verdict::WrongMerge
        );
    }

    #[test]
    fn a_resend_is_right_only_without_a_second_version_or_parking() {
        let first = answer(200, record(3, "passed"));
        let again = Expected::Again(Box::new(Expected::Applied(form("passed"))));
        assert_eq!(
            judge(&again, &answer(200, record(3, "passed")), 3, Some(&first)),
            Verdict::Right
        );
        assert_eq!(
            judge(&again, &answer(200, record(4, "passed")), 3, Some(&first)),
            Verdict::Duplicate
        );
        let parked = |id: &str| {
            answer(
                409,
                json!({"type": "https://syncdesk.dev/problems/edit-conflict", "conflict_id": id}),
            )
        };
        let again = Expected::Again(Box::new(Expected::EditConflict(["/status"].into())));
        let first = parked("c-1");
        assert_eq!(
            judge(&again, &parked("c-1"), 3, Some(&first)),
            Verdict::Right
        );
        assert_eq!(
            judge(&again, &parked("c-2"), 3, Some(&first)),
            Verdict::Duplicate
        );
        let mut replayed = first.clone();
        assert_eq!(
            judge_replay(&first, &replayed),
            Verdict::BadReplay,
            "not marked"
        );
        replayed.replayed = true;
        assert_eq!(judge_replay(&first, &replayed), Verdict::Right);
        replayed.raw.push(b' ');
        assert_eq!(judge_replay(&first, &replayed), Verdict::BadReplay);
    }

    #[test]
    fn rules_count_false_refusals_and_missed_conflicts_and_invalid_forms_are_refused_by_all() {
        let mut tally = Tally::default();
        let saved = answer(200, record(2, "passed"));
        let refused = answer(409, json!({}));
        let naive = NaiveVerdicts {
            version_check: true,
            version_and_modifier: false,
            timestamps: false,
        };
        tally.count(
            "a",
            &Expected::Merged(form("passed")),
            naive,
            &saved,
            &Verdict::Right,
        );
        let conflict = Expected::EditConflict(["/status"].into());
        tally.count("b", &conflict, naive, &refused, &Verdict::Right);
        let invalid = answer(422, json!({}));
        let none = NaiveVerdicts::default();
        tally.count("c", &Expected::Invalid, none, &invalid, &Verdict::Right);
        assert_eq!(tally.syncs, 3);
        assert_eq!(
            tally.version_check,
            RuleCounts {
                refused: 3,
                false_refusals: 1,
                missed_conflicts: 0
            }
        );
        assert_eq!(
            tally.timestamps,
            RuleCounts {
                refused: 1,
                false_refusals: 0,
                missed_conflicts: 1
            }
        );
        assert_eq!(tally.server.refused, 2);
        assert_eq!(tally.faults(), 0);
        tally.count("d", &conflict, none, &saved, &Verdict::MissedConflict);
        assert_eq!(tally.faults(), 1);
        assert_eq!(tally.examples.len(), 1);
        assert_eq!(percent(1, 3), 33.3);
    }
}

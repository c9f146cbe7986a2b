//! A sync log entry in plain words: what the write was based on, what changed on the
//! server since (who, from where, when), what the device changed, and so why it was
//! applied, merged or refused — and whether a refusal was a genuine conflict. Pure: the
//! entry and the record's history in, sentences out.

use serde::{Deserialize, Serialize};

use super::SyncLogEntry;
use crate::model::UtcMillis;
use crate::sanitize::visible;

/// One version of a record as `GET /v1/{type}/{id}/versions` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub version: u64,
    pub last_modified: UtcMillis,
    pub modified_by: String,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub deleted: bool,
}

/// Versions named one by one before the rest are summed up.
const NAMED: usize = 3;

/// The entry explained; `history` is the record's versions when they could be read, and
/// `time` writes an instant as the reader's clock shows it.
pub fn explain(
    entry: &SyncLogEntry,
    history: Option<&[VersionSummary]>,
    time: &dyn Fn(UtcMillis) -> String,
) -> String {
    let who = author(&entry.user, entry.device_id.as_deref());
    let paths = list(&entry.paths);
    let cid = entry
        .conflict_id
        .as_deref()
        .map(visible)
        .unwrap_or_default();
    let base = entry.base_version;
    let version = entry.version;
    let device = entry.device_id.as_deref();
    let since = |until: Option<u64>| changes_since(base, until, history, time, &entry.user, device);
    match entry.outcome.as_str() {
        "created" => format!("{who} created the record{}.", at_version(version)),
        "applied" => format!(
            "{} Nothing had changed on the server since, so it was stored as it was sent{}.",
            based_on(base, " — the current one"),
            at_version(version)
        ),
        "auto-merged" => {
            let before = version.map(|v| v.saturating_sub(1));
            format!(
                "{} Since then {}. {who} changed {paths}; the server's changes ({}) are on \
                 other fields, so the two were merged{} and nothing was lost. A plain version \
                 check would have refused it: a false alarm.",
                based_on(base, ""),
                since(before),
                list(&entry.kept),
                at_version(version)
            )
        }
        "no-op" => format!(
            "{} What it sent is what the server already has{}: nothing to store.",
            based_on(base, ""),
            at_version(version).replace(" as", " in")
        ),
        "replayed" => "A resend of a write already answered (the same Idempotency-Key): \
                       answered as the first time, nothing applied or parked twice."
            .to_string(),
        "superseded" => format!(
            "An older save from {} arrived after a newer one of the same device was applied: \
             ignored, since the newer one already holds what it meant.",
            visible(entry.device_id.as_deref().unwrap_or("the device"))
        ),
        "edit-conflict" => format!(
            "{} Since then {}. Both sides changed {paths}, each to a different value: a \
             genuine conflict, parked as {cid} with everything the device sent — a supervisor \
             decides.",
            based_on(base, ""),
            since(version)
        ),
        "deleted-on-server" => format!(
            "{} Since then {}, which deleted the record. What the device changed ({paths}) is \
             parked as {cid}: restore the record with it, or keep it deleted.",
            based_on(base, ""),
            since(version)
        ),
        "invalid-reference" => format!(
            "{paths} names an item that is not (or no longer) in its master-data list: parked \
             as {cid}, nothing lost — pick a listed item to apply it."
        ),
        "invalid" => format!(
            "The form failed the type's rules at {paths}: nothing was stored; what the \
             device sent is below, for it to correct and resend."
        ),
        "stale" => format!(
            "If-Match named a version that is no longer the current one{}: refused, nothing \
             written — read the record again and decide anew.",
            version
                .map(|v| format!(" (the record is at version {v})"))
                .unwrap_or_default()
        ),
        "resolved" => format!("{who} resolved the conflict{}.", at_version(version)),
        "deleted" => format!(
            "{who} deleted the record{}.",
            version
                .map(|v| format!("; version {v} is its tombstone"))
                .unwrap_or_default()
        ),
        _ => format!(
            "Refused before it was read: {}. Nothing was stored.",
            refusal_reason(entry.status)
        ),
    }
}

fn author(user: &str, device: Option<&str>) -> String {
    match device {
        Some(device) => format!("{} ({})", visible(user), visible(device)),
        None => visible(user).into_owned(),
    }
}

fn list(paths: &[String]) -> String {
    if paths.is_empty() {
        "no field".into()
    } else {
        visible(&paths.join(", ")).into_owned()
    }
}

fn based_on(base: Option<u64>, note: &str) -> String {
    match base {
        Some(b) => format!("Based on version {b}{note}."),
        None => "Sent without a base version.".into(),
    }
}

fn at_version(version: Option<u64>) -> String {
    version
        .map(|v| format!(" as version {v}"))
        .unwrap_or_default()
}

/// What the server's versions after `base` up to `until` were: who, from where, when.
fn changes_since(
    base: Option<u64>,
    until: Option<u64>,
    history: Option<&[VersionSummary]>,
    time: &dyn Fn(UtcMillis) -> String,
    user: &str,
    device: Option<&str>,
) -> String {
    let (Some(base), Some(until)) = (base, until) else {
        return "the server's version moved on".into();
    };
    let Some(history) = history else {
        return format!("the server moved to version {until} (its history is being read)");
    };
    let since: Vec<&VersionSummary> = history
        .iter()
        .filter(|v| v.version > base && v.version <= until)
        .collect();
    if since.is_empty() {
        return format!("the server moved to version {until}");
    }
    let mut named: Vec<String> = since
        .iter()
        .take(NAMED)
        .map(|v| {
            let own = device.is_some() && v.device_id.as_deref() == device;
            format!(
                "version {} by {} at {}{}",
                v.version,
                author(&v.modified_by, v.device_id.as_deref()),
                time(v.last_modified),
                if own { " (its own earlier save)" } else { "" }
            )
        })
        .collect();
    if since.len() > NAMED {
        named.push(format!("{} more", since.len() - NAMED));
    }
    // The same person from elsewhere (a web form, another tablet) — not the device itself,
    // whose own saves are named as such.
    let same_person = since
        .iter()
        .all(|v| v.modified_by == user && (device.is_none() || v.device_id.as_deref() != device));
    let mut text = named.join(", ");
    if same_person {
        text.push_str(" — the same person, from another device or form");
    }
    text
}

fn refusal_reason(status: u16) -> &'static str {
    match status {
        400 => "400, a malformed request",
        401 => "401, no token or one nobody has",
        403 => "403, the user's role may not do this",
        404 => "404, no such record or type",
        413 => "413, the body is larger than the server takes",
        415 => "415, the body is not JSON",
        428 => "428, neither base_version nor If-Match",
        422 => "422, an idempotency key reused for another request",
        409 => "409, the request collided with another",
        _ => "the server refused it",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(outcome: &str, status: u16) -> SyncLogEntry {
        SyncLogEntry {
            seq: 7,
            at: "2026-11-20T10:00:00Z".parse().unwrap(),
            user: "ana".into(),
            device_id: Some("tab-17".into()),
            method: "PUT".into(),
            record_type: "inspections".into(),
            record_id: Some("INS-1".into()),
            status,
            outcome: outcome.into(),
            problem: None,
            paths: vec!["/notes".into()],
            conflict_id: Some("c-000004".into()),
            body: None,
            base_version: Some(3),
            version: Some(5),
            kept: vec!["/status".into()],
        }
    }

    fn version(n: u64, by: &str, device: &str) -> VersionSummary {
        VersionSummary {
            version: n,
            last_modified: format!("2026-11-20T09:0{n}:00Z").parse().unwrap(),
            modified_by: by.into(),
            device_id: Some(device.into()),
            deleted: false,
        }
    }

    fn hhmm(at: UtcMillis) -> String {
        at.to_string()[11..16].to_string()
    }

    fn history() -> Vec<VersionSummary> {
        (1..=5)
            .map(|n| version(n, if n == 4 { "sue" } else { "ben" }, "web"))
            .collect()
    }

    #[test]
    fn a_merge_says_who_changed_what_since_and_that_a_version_check_would_have_cried_wolf() {
        let mut e = entry("auto-merged", 200);
        e.version = Some(6);
        let text = explain(&e, Some(&history()), &hhmm);
        assert!(text.starts_with("Based on version 3."), "{text}");
        assert!(
            text.contains("version 4 by sue (web) at 09:04, version 5 by ben (web) at 09:05."),
            "{text}"
        );
        assert!(text.contains("ana (tab-17) changed /notes"), "{text}");
        assert!(text.contains("the server's changes (/status)"), "{text}");
        assert!(text.contains("merged as version 6"), "{text}");
        assert!(text.contains("a false alarm"), "{text}");
    }

    #[test]
    fn a_conflict_is_called_genuine_and_names_the_same_person_on_another_device() {
        let e = entry("edit-conflict", 409);
        let text = explain(&e, Some(&history()), &hhmm);
        assert!(text.contains("version 4 by sue"), "{text}");
        assert!(
            text.contains("a genuine conflict, parked as c-000004"),
            "{text}"
        );
        assert!(!text.contains("same person"), "{text}");
        let own: Vec<VersionSummary> = (1..=5).map(|n| version(n, "ana", "web")).collect();
        let text = explain(&e, Some(&own), &hhmm);
        assert!(
            text.contains("the same person, from another device"),
            "{text}"
        );
        let text = explain(&e, None, &hhmm);
        assert!(
            text.contains("moved to version 5 (its history is being read)"),
            "{text}"
        );
        let mut second_save = entry("auto-merged", 200);
        second_save.version = Some(6);
        let mut own = history();
        own[4] = version(5, "ana", "tab-17");
        let text = explain(&second_save, Some(&own), &hhmm);
        assert!(
            text.contains("version 5 by ana (tab-17) at 09:05 (its own earlier save)."),
            "{text}"
        );
        assert!(!text.contains("same person"), "{text}");
    }

    #[test]
    fn many_versions_are_summed_up_and_every_outcome_has_words() {
        let long: Vec<VersionSummary> = (1..=9).map(|n| version(n, "ben", "web")).collect();
        let mut e = entry("edit-conflict", 409);
        e.version = Some(9);
        let text = explain(&e, Some(&long), &hhmm);
        assert!(
            text.contains("version 6 by ben (web) at 09:06, 3 more"),
            "{text}"
        );
        for (outcome, status, words) in [
            ("created", 201, "created the record as version 5"),
            ("applied", 200, "the current one. Nothing had changed"),
            ("no-op", 200, "already has in version 5"),
            ("replayed", 200, "nothing applied or parked twice"),
            ("superseded", 200, "An older save from tab-17"),
            (
                "deleted-on-server",
                409,
                "deleted the record. What the device changed (/notes)",
            ),
            ("invalid-reference", 422, "/notes names an item"),
            ("invalid", 422, "failed the type's rules at /notes"),
            ("stale", 412, "(the record is at version 5)"),
            (
                "resolved",
                200,
                "ana (tab-17) resolved the conflict as version 5",
            ),
            ("deleted", 200, "version 5 is its tombstone"),
            ("refused", 403, "403, the user's role may not do this"),
        ] {
            let text = explain(&entry(outcome, status), Some(&history()), &hhmm);
            assert!(text.contains(words), "{outcome}: {text}");
        }
    }

    #[test]
    fn control_characters_in_names_are_made_visible() {
        let mut e = entry("created", 201);
        e.user = "ana\u{1b}[31m".into();
        let text = explain(&e, None, &hhmm);
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }
}

//! One decision for many conflicts (bulk triage after a bad morning): what the decision
//! does to each conflict, decided on that conflict's own detail — the changes it makes, or
//! why it leaves the conflict open (never forced). Pure; the desk and
//! `syncdesk conflicts resolve --all` both send what it decides, one request a conflict.

use super::desk::Desk;
use crate::merge::Choice;
use crate::model::json::Json;

/// A decision for every marked conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkDecision {
    /// One side for every conflicting field (`path: None`), or for that path alone.
    Take { local: bool, path: Option<String> },
    /// A reference field set to an item of its master-data list.
    Item { path: String, item: String },
}

impl BulkDecision {
    /// The decision in a few words.
    pub fn said(&self) -> String {
        match self {
            BulkDecision::Take { local, path } => format!(
                "take {} for {}",
                if *local { "local" } else { "server" },
                path.as_deref().unwrap_or("every conflicting field")
            ),
            BulkDecision::Item { path, item } => format!("set {path} to {item}"),
        }
    }
}

/// What one conflict came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    Applied(Option<u64>),
    WouldApply(Vec<String>),
    LeftOpen(String),
    Stale,
    Closed(String),
    Invalid(String),
}

impl Settled {
    pub fn name(&self) -> &'static str {
        match self {
            Settled::Applied(_) => "applied",
            Settled::WouldApply(_) => "would-apply",
            Settled::LeftOpen(_) => "left-open",
            Settled::Stale => "stale",
            Settled::Closed(_) => "closed",
            Settled::Invalid(_) => "invalid",
        }
    }

    /// Stale, closed or refused: what was asked did not happen.
    pub fn failed(&self) -> bool {
        matches!(
            self,
            Settled::Stale | Settled::Closed(_) | Settled::Invalid(_)
        )
    }

    pub fn said(&self) -> String {
        match self {
            Settled::Applied(version) => format!(
                "applied: version {}",
                version.map_or("?".into(), |v| v.to_string())
            ),
            Settled::WouldApply(changes) => format!("would apply: {}", changes.join(", ")),
            Settled::LeftOpen(why) => format!("left open: {why}"),
            Settled::Stale => "stale: changed again while it was being resolved".into(),
            Settled::Closed(by) => format!("closed: {by} resolved it first"),
            Settled::Invalid(why) => format!("refused: {why}"),
        }
    }
}

/// Applies `decision` to one conflict: the changes it makes (`path → side`), or why the
/// conflict stays open — resolved already, deleted on the server, a conflicting field the
/// decision does not settle, or a result the type's rules refuse.
pub fn decide(desk: &mut Desk, decision: &BulkDecision) -> Result<Vec<String>, String> {
    if let Some(resolution) = &desk.detail.resolution {
        return Err(format!("resolved by {} already", resolution.by));
    }
    if desk.deleted_on_server() {
        return Err(
            "deleted on the server: restore or keep the deletion one conflict at a time".into(),
        );
    }
    let mut undecided = Vec::new();
    let mut changes = Vec::new();
    let open: Vec<String> = desk
        .rows
        .iter()
        .filter(|r| r.needs_decision())
        .map(|r| r.path.clone())
        .collect();
    for path in open {
        let choice = match decision {
            BulkDecision::Take { local, path: only }
                if only.as_ref().is_none_or(|p| *p == path) =>
            {
                if *local {
                    Choice::Local
                } else {
                    Choice::Server
                }
            }
            BulkDecision::Item { path: at, item } if *at == path => {
                Choice::Manual(Json::String(item.clone().into()))
            }
            _ => {
                undecided.push(path);
                continue;
            }
        };
        changes.push(format!("{path} → {}", choice_name(&choice, decision)));
        desk.choices.insert(path, choice);
    }
    if !undecided.is_empty() {
        return Err(format!(
            "the decision does not settle {}",
            undecided.join(", ")
        ));
    }
    if changes.is_empty() {
        return Err("nothing here for the decision to settle".into());
    }
    if let Some(fault) = desk.faults().first() {
        return Err(format!(
            "the result leaves {} invalid: {}",
            fault.path, fault.message
        ));
    }
    Ok(changes)
}

fn choice_name(choice: &Choice, decision: &BulkDecision) -> String {
    match (choice, decision) {
        (Choice::Local, _) => "local".into(),
        (Choice::Server, _) => "server".into(),
        (_, BulkDecision::Item { item, .. }) => item.clone(),
        _ => "manual".into(),
    }
}

/// Sends the decision to one conflict: read afresh, decided on its own detail, one
/// request with its own If-Match and key; a stale one is read again and tried once more.
/// `dry_run`: says what it would apply and sends nothing. A source that cannot be read or
/// written is the caller's to report. The one part of this module that waits on the
/// network.
pub async fn settle(
    source: &crate::client::ConflictSource,
    id: &str,
    decision: &BulkDecision,
    user: &str,
    dry_run: bool,
) -> Result<Settled, crate::client::SourceError> {
    use crate::client::SubmitOutcome;
    for _ in 0..2 {
        let mut desk = Desk::new(source.load(id).await?, None);
        if let Some(resolution) = &desk.detail.resolution {
            return Ok(Settled::Closed(resolution.by.clone()));
        }
        let changes = match decide(&mut desk, decision) {
            Ok(changes) => changes,
            Err(why) => return Ok(Settled::LeftOpen(why)),
        };
        if dry_run {
            return Ok(Settled::WouldApply(changes));
        }
        let Ok(submission) = desk.submission(user, false) else {
            return Ok(Settled::LeftOpen("undecided fields remain".into()));
        };
        return Ok(match source.submit(&submission).await? {
            SubmitOutcome::Resolved { version, .. } => Settled::Applied(version),
            SubmitOutcome::Stale => continue,
            SubmitOutcome::Closed { by } => Settled::Closed(by),
            SubmitOutcome::Invalid { errors } => Settled::Invalid(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        });
    }
    Ok(Settled::Stale)
}

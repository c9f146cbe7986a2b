//! Bulk triage in the queue: marks (`Space`, `a` for all the filter shows), then one
//! decision for every marked conflict — a side for every conflicting field or for one
//! path, or a reference field set to an item of its list — previewed conflict by
//! conflict (what it would apply, or why it stays open), then sent one request a conflict.
//! Pure: reading and sending are effects.

use super::action::Command;
use super::app::{App, Overlay};
use super::bulk::{BulkDecision, Settled, decide};
use super::desk::Desk;
use super::effect::Effect;
use crate::protocol::MasterItem;

/// One decision for many, from reading the marked conflicts to what each came to.
#[derive(Debug, Clone, Default)]
pub struct Bulk {
    pub ids: Vec<String>,
    /// Each marked conflict as read (`Err`: why it could not be); empty while reading.
    pub conflicts: Vec<(String, Result<Box<Desk>, String>)>,
    /// The paths in need of a decision in any marked conflict, in order of appearance;
    /// the decisions offered are "every conflicting field", then each of these.
    pub paths: Vec<String>,
    pub cursor: usize,
    /// Picking an item for a reference path: the path, its list's items, the selected one.
    pub picking: Option<(String, Vec<MasterItem>, usize)>,
    pub decision: Option<BulkDecision>,
    /// Before sending: what the decision would do to each conflict; after: what it did.
    pub outcomes: Vec<(String, Settled)>,
    pub sending: bool,
    pub sent: bool,
}

impl Bulk {
    /// How many conflicts the decision would resolve.
    pub fn settling(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, s)| matches!(s, Settled::WouldApply(_)))
            .count()
    }

    /// The items of the list behind a reference path, from any marked conflict.
    fn items_of(&self, path: &str) -> Option<Vec<MasterItem>> {
        self.conflicts.iter().find_map(|(_, desk)| {
            let (_, data) = desk.as_ref().ok()?.list_of(path)?;
            Some(data.items.clone())
        })
    }

    fn preview(&mut self) {
        let Some(decision) = &self.decision else {
            return;
        };
        self.outcomes = self
            .conflicts
            .iter()
            .map(|(id, desk)| {
                let outcome = match desk {
                    Err(why) => Settled::LeftOpen(why.clone()),
                    Ok(desk) => match decide(&mut desk.as_ref().clone(), decision) {
                        Ok(changes) => Settled::WouldApply(changes),
                        Err(why) => Settled::LeftOpen(why),
                    },
                };
                (id.clone(), outcome)
            })
            .collect();
    }
}

/// `Space`: marks or unmarks the selected conflict.
pub(super) fn mark(app: &mut App) {
    let Some(id) = app.queue.selected_item().map(|c| c.id.clone()) else {
        return;
    };
    if !app.queue.marked.remove(&id) {
        app.queue.marked.insert(id);
    }
    let count = app.queue.marked.len();
    app.say(format!("{count} marked: b decides for them all."));
}

/// `a`: marks every conflict the filter shows, or unmarks them when all are marked.
pub(super) fn mark_all(app: &mut App) {
    let shown: Vec<String> = app
        .queue
        .visible
        .iter()
        .filter_map(|&i| app.queue.items.get(i))
        .filter(|c| c.status == crate::protocol::Status::Open)
        .map(|c| c.id.clone())
        .collect();
    if shown.iter().all(|id| app.queue.marked.contains(id)) {
        for id in &shown {
            app.queue.marked.remove(id);
        }
    } else {
        app.queue.marked.extend(shown);
    }
    let count = app.queue.marked.len();
    app.say(format!("{count} marked: b decides for them all."));
}

/// `b`: reads the marked conflicts for one decision.
pub(super) fn start(app: &mut App) -> Vec<Effect> {
    // In queue order, and only those still in the queue.
    let ids: Vec<String> = app
        .queue
        .items
        .iter()
        .filter(|c| app.queue.marked.contains(&c.id))
        .map(|c| c.id.clone())
        .collect();
    if ids.is_empty() {
        app.say("Nothing marked: Space marks a conflict, a all the filter shows; then b.");
        return Vec::new();
    }
    app.bulk = Some(Bulk {
        ids: ids.clone(),
        ..Bulk::default()
    });
    app.overlay = Some(Overlay::Bulk);
    vec![Effect::LoadBulk { ids }]
}

pub(super) fn loaded(app: &mut App, conflicts: Vec<(String, Result<Box<Desk>, String>)>) {
    let Some(bulk) = app.bulk.as_mut() else {
        return; // closed meanwhile
    };
    let mut paths: Vec<String> = Vec::new();
    for desk in conflicts.iter().filter_map(|(_, d)| d.as_ref().ok()) {
        for row in desk.rows.iter().filter(|r| r.needs_decision()) {
            if !paths.contains(&row.path) {
                paths.push(row.path.clone());
            }
        }
    }
    bulk.paths = paths;
    bulk.conflicts = conflicts;
}

pub(super) fn sent(app: &mut App, results: Vec<(String, Settled)>) -> Vec<Effect> {
    let Some(bulk) = app.bulk.as_mut() else {
        return Vec::new();
    };
    for (id, result) in results {
        if matches!(result, Settled::Applied(_)) {
            app.queue.marked.remove(&id);
        }
        if let Some(slot) = bulk.outcomes.iter_mut().find(|(i, _)| *i == id) {
            slot.1 = result;
        }
    }
    bulk.sending = false;
    bulk.sent = true;
    let count = |name: &str| {
        bulk.outcomes
            .iter()
            .filter(|(_, s)| s.name() == name)
            .count()
    };
    let said = format!(
        "{} applied, {} stale, {} closed, {} refused, {} left open.",
        count("applied"),
        count("stale"),
        count("closed"),
        count("invalid"),
        count("left-open") + count("would-apply")
    );
    app.say(said);
    vec![Effect::LoadQueue {
        all: app.queue.has_resolved,
    }]
}

/// A key while the bulk overlay is open.
pub(super) fn command(app: &mut App, command: Command) -> Vec<Effect> {
    let user = app.user.clone();
    let Some(bulk) = app.bulk.as_mut() else {
        return Vec::new();
    };
    app.overlay = Some(Overlay::Bulk);
    if bulk.sending {
        return Vec::new(); // the answers are on their way
    }
    // Back one step: out of the item list, else back to choosing, else closed.
    if matches!(command, Command::Back | Command::Close) {
        let picking = bulk.picking.take().is_some();
        if !picking && bulk.decision.is_some() && !bulk.sent {
            bulk.decision = None;
            bulk.outcomes.clear();
        } else if !picking {
            app.bulk = None;
            app.overlay = None;
        }
        return Vec::new();
    }
    if bulk.conflicts.is_empty() || bulk.sent {
        return Vec::new();
    }
    if let Some((path, items, selected)) = bulk.picking.as_mut() {
        match command {
            Command::Down => *selected = (*selected + 1).min(items.len().saturating_sub(1)),
            Command::Up => *selected = selected.saturating_sub(1),
            Command::Open => {
                if let Some(item) = items.get(*selected) {
                    bulk.decision = Some(BulkDecision::Item {
                        path: path.clone(),
                        item: item.id.clone(),
                    });
                    bulk.picking = None;
                    bulk.preview();
                }
            }
            _ => {}
        }
        return Vec::new();
    }
    let choices = bulk.paths.len() + 1;
    let path = bulk
        .cursor
        .checked_sub(1)
        .and_then(|i| bulk.paths.get(i))
        .cloned();
    match command {
        Command::Down if bulk.decision.is_none() => {
            bulk.cursor = (bulk.cursor + 1).min(choices - 1);
        }
        Command::Up if bulk.decision.is_none() => bulk.cursor = bulk.cursor.saturating_sub(1),
        Command::Top if bulk.decision.is_none() => bulk.cursor = 0,
        Command::Bottom if bulk.decision.is_none() => bulk.cursor = choices - 1,
        Command::TakeServer | Command::TakeLocal => {
            bulk.decision = Some(BulkDecision::Take {
                local: command == Command::TakeLocal,
                path,
            });
            bulk.preview();
        }
        Command::Open if bulk.decision.is_none() => {
            match path
                .as_ref()
                .and_then(|p| bulk.items_of(p).map(|items| (p, items)))
            {
                Some((p, items)) if !items.is_empty() => {
                    bulk.picking = Some((p.clone(), items, 0));
                }
                _ => app.say("Enter picks an item for a reference field; s or l takes a side."),
            }
        }
        Command::Confirm if bulk.decision.is_some() => {
            let ids: Vec<String> = bulk
                .outcomes
                .iter()
                .filter(|(_, s)| matches!(s, Settled::WouldApply(_)))
                .map(|(id, _)| id.clone())
                .collect();
            if ids.is_empty() {
                app.say("The decision settles none of them: nothing to send.");
                return Vec::new();
            }
            bulk.sending = true;
            let decision = bulk.decision.clone().unwrap_or(BulkDecision::Take {
                local: false,
                path: None,
            });
            app.busy = Some(format!("Sending {} resolution(s)", ids.len()));
            return vec![Effect::SubmitBulk {
                ids,
                decision,
                user,
            }];
        }
        _ => {}
    }
    Vec::new()
}

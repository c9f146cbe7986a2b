//! The sync log in the desk: what each write came to, newest first (`Enter` on one that
//! parked a conflict opens it), then its numbers by day. Pure: the reading is an effect.

use super::action::Command;
use super::app::{App, Screen};
use super::effect::Effect;
use crate::client::SourceError;
use crate::protocol::SyncLogEntry;
use crate::sanitize::visible;

/// Rows a page key moves.
const PAGE: usize = 10;

pub(super) fn loaded(app: &mut App, result: Result<Vec<SyncLogEntry>, SourceError>) {
    app.busy = None;
    match result {
        Ok(entries) => {
            app.syncs.selected = app.syncs.selected.min(entries.len().saturating_sub(1));
            app.syncs.entries = entries;
            app.syncs.loaded = true;
        }
        Err(e) => app.warn(format!("Could not read the sync log: {e}")),
    }
}

/// Where a navigation key moves a selection among `shown` lines; `None` for other keys.
fn moved(selected: usize, shown: usize, command: Command) -> Option<usize> {
    let last = shown.saturating_sub(1);
    Some(match command {
        Command::Down => (selected + 1).min(last),
        Command::Up => selected.saturating_sub(1),
        Command::PageDown => (selected + PAGE).min(last),
        Command::PageUp => selected.saturating_sub(PAGE),
        Command::Top => 0,
        Command::Bottom => last,
        _ => return None,
    })
}

pub(super) fn command(app: &mut App, command: Command) -> Vec<Effect> {
    let log = &mut app.syncs;
    if let Some(to) = moved(log.selected, log.entries.len(), command) {
        log.selected = to;
        return Vec::new();
    }
    match command {
        Command::SwitchView => {
            app.screen = Screen::Stats;
            app.busy = Some("Counting the sync log".into());
            return vec![Effect::LoadStats];
        }
        Command::Back | Command::Close => {
            app.screen = Screen::List;
            app.moved_to(None);
        }
        Command::Refresh => {
            app.busy = Some("Reading the sync log".into());
            return vec![Effect::LoadSyncs];
        }
        Command::Open => {
            let Some(entry) = log.entries.get(log.selected) else {
                return Vec::new();
            };
            match entry.conflict_id.clone() {
                Some(id) => return super::update::open(app, id),
                None => {
                    let said = format!(
                        "This write parked no conflict: {} ({}).",
                        visible(&entry.outcome),
                        entry.status
                    );
                    app.say(said);
                }
            }
        }
        _ => {}
    }
    Vec::new()
}

pub(super) fn stats_loaded(app: &mut App, result: Result<crate::protocol::SyncStats, SourceError>) {
    app.busy = None;
    match result {
        Ok(stats) => app.syncs.stats = Some(stats),
        Err(e) => app.warn(format!("Could not count the sync log: {e}")),
    }
}

pub(super) fn stats_command(app: &mut App, command: Command) -> Vec<Effect> {
    match command {
        Command::SwitchView => {
            app.screen = Screen::Audit;
            app.busy = Some("Reading the audit trail".into());
            return vec![Effect::LoadAudit];
        }
        Command::Back | Command::Close => {
            app.screen = Screen::List;
            app.moved_to(None);
        }
        Command::Refresh => {
            app.busy = Some("Counting the sync log".into());
            return vec![Effect::LoadStats];
        }
        _ => {}
    }
    Vec::new()
}

pub(super) fn audit_loaded(
    app: &mut App,
    result: Result<Vec<crate::protocol::AuditEntry>, SourceError>,
) {
    app.busy = None;
    match result {
        Ok(entries) => {
            app.syncs.audit_selected = app
                .syncs
                .audit_selected
                .min(entries.len().saturating_sub(1));
            app.syncs.audit = Some(entries);
        }
        Err(e) => app.warn(format!("Could not read the audit trail: {e}")),
    }
}

pub(super) fn audit_command(app: &mut App, command: Command) -> Vec<Effect> {
    let shown = app.syncs.audit.as_ref().map_or(0, Vec::len);
    if let Some(to) = moved(app.syncs.audit_selected, shown, command) {
        app.syncs.audit_selected = to;
        return Vec::new();
    }
    match command {
        Command::SwitchView | Command::Back | Command::Close => {
            app.screen = Screen::List;
            app.moved_to(None);
        }
        Command::Refresh => {
            app.busy = Some("Reading the audit trail".into());
            return vec![Effect::LoadAudit];
        }
        _ => {}
    }
    Vec::new()
}

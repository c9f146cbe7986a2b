//! The sync log in the desk: what each write came to, newest first (`Enter` on one that
//! parked a conflict opens it), then its numbers by day. Pure: the reading is an effect.

use super::action::Command;
use super::app::{App, Screen};
use super::effect::Effect;
use crate::client::SourceError;
use crate::protocol::{SYNC_OUTCOMES, SyncLogEntry};
use crate::sanitize::visible;

/// Rows a page key moves.
const PAGE: usize = 10;

pub(super) fn loaded(app: &mut App, result: Result<Vec<SyncLogEntry>, SourceError>) -> Vec<Effect> {
    app.busy = None;
    match result {
        Ok(entries) => {
            app.syncs.selected = app.syncs.selected.min(entries.len().saturating_sub(1));
            app.syncs.entries = entries;
            app.syncs.loaded = true;
            // Read again: a history read before may have grown since.
            app.syncs.histories.clear();
            explain_selected(app)
        }
        Err(e) => {
            app.warn(format!("Could not read the sync log: {e}"));
            Vec::new()
        }
    }
}

/// The sync log's filter as the server's query: `user:`, `device:`, `outcome:` and
/// `type:` words; a bare word that names an outcome filters by it.
pub fn sync_filters(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split_whitespace()
        .map(|word| match word.split_once(':') {
            Some((key @ ("user" | "device" | "outcome" | "type"), value)) if !value.is_empty() => {
                if key == "outcome" && !SYNC_OUTCOMES.contains(&value) {
                    return Err(format!(
                        "{value:?} is no outcome; one of {}",
                        SYNC_OUTCOMES.join(", ")
                    ));
                }
                Ok((key.to_string(), value.to_string()))
            }
            None if SYNC_OUTCOMES.contains(&word) => Ok(("outcome".into(), word.to_string())),
            _ => Err(format!(
                "{word:?}: filter with user:NAME, device:ID, outcome:NAME or type:NAME"
            )),
        })
        .collect()
}

/// How a warning about the sync log's filter begins.
const FILTER_WARNING: &str = "Sync log filter: ";

fn load_syncs(app: &mut App) -> Vec<Effect> {
    match sync_filters(&app.syncs.filter) {
        Ok(filters) => vec![Effect::LoadSyncs { filters }],
        Err(e) => {
            app.busy = None;
            app.warn(format!("{FILTER_WARNING}{e}"));
            Vec::new()
        }
    }
}

/// `Enter` on the sync log's filter: read the log again through it. A filter it cannot
/// read is kept as typed (`/` goes on editing it) and the log stays as it was.
pub(super) fn filter_accepted(app: &mut App) -> Vec<Effect> {
    if let Err(e) = sync_filters(&app.syncs.filter) {
        app.warn(format!("{FILTER_WARNING}{e}"));
        return Vec::new();
    }
    // It reads now: what was said about the filter as it was typed before is stale.
    if app
        .message
        .as_ref()
        .is_some_and(|m| m.text.starts_with(FILTER_WARNING))
    {
        app.message = None;
    }
    app.syncs.selected = 0;
    app.busy = Some("Reading the sync log".into());
    load_syncs(app)
}

/// Reads the history of the selected entry's record, unless it is at hand: what its
/// explanation needs.
fn explain_selected(app: &mut App) -> Vec<Effect> {
    let Some(entry) = app.syncs.entries.get(app.syncs.selected) else {
        return Vec::new();
    };
    let Some(id) = entry.record_id.clone() else {
        return Vec::new();
    };
    let key = (entry.record_type.clone(), id.clone());
    if app.syncs.histories.contains_key(&key) {
        return Vec::new();
    }
    // Asked once: an answer (or a fault) fills the place.
    app.syncs.histories.insert(key, Ok(Vec::new()));
    vec![Effect::LoadHistory {
        record_type: entry.record_type.clone(),
        id,
    }]
}

pub(super) fn history_loaded(
    app: &mut App,
    record_type: String,
    id: String,
    result: Result<Vec<crate::protocol::VersionSummary>, SourceError>,
) {
    let result = result.map_err(|e| e.to_string());
    app.syncs.histories.insert((record_type, id), result);
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

/// Shows one of the views beside the queue (read afresh), or the queue itself.
pub(super) fn go_to(app: &mut App, screen: Screen) -> Vec<Effect> {
    if app.screen == Screen::Detail {
        return Vec::new(); // the detail is left with q or Esc, never by a view key
    }
    app.screen = screen;
    match screen {
        Screen::Syncs => {
            app.moved_to(None);
            app.busy = Some("Reading the sync log".into());
            load_syncs(app)
        }
        Screen::Stats => {
            app.busy = Some("Counting the sync log".into());
            vec![Effect::LoadStats]
        }
        Screen::Audit => {
            app.busy = Some("Reading the audit trail".into());
            vec![Effect::LoadAudit]
        }
        Screen::List | Screen::Detail => {
            app.moved_to(None);
            Vec::new()
        }
    }
}

pub(super) fn command(app: &mut App, command: Command) -> Vec<Effect> {
    let log = &mut app.syncs;
    if let Some(to) = moved(log.selected, log.entries.len(), command) {
        log.selected = to;
        return explain_selected(app);
    }
    match command {
        Command::SwitchView => return go_to(app, Screen::Stats),
        Command::Back | Command::Close => return go_to(app, Screen::List),
        Command::Refresh => {
            app.busy = Some("Reading the sync log".into());
            return load_syncs(app);
        }
        Command::Filter => {
            app.overlay = Some(super::app::Overlay::Filter {
                before: app.syncs.filter.clone(),
            });
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
        Command::SwitchView => return go_to(app, Screen::Audit),
        Command::Back | Command::Close => return go_to(app, Screen::List),
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
        Command::SwitchView | Command::Back | Command::Close => return go_to(app, Screen::List),
        Command::Refresh => {
            app.busy = Some("Reading the audit trail".into());
            return vec![Effect::LoadAudit];
        }
        _ => {}
    }
    Vec::new()
}

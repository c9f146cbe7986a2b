//! The one place the desk's state changes: `update(app, action)` returns the effects to
//! run. No IO here; tests drive it directly.

use super::action::{Action, Command};
use super::app::{App, Overlay, Screen};
use super::desk::Desk;
use super::effect::Effect;
use super::keymap::Scope;
use crate::client::SubmitOutcome;
use crate::merge::Choice;
use crate::protocol::{ResolutionInfo, Status};
use crate::sanitize::visible;

/// Applies one action; the effects it asks for come back.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Tick => {
            app.spinner = app.spinner.wrapping_add(1);
            Vec::new()
        }
        Action::Type(c) => typed(app, Some(c)),
        Action::Erase => typed(app, None),
        Action::Accept => accept(app),
        Action::Command(command) => self::command(app, command),
        Action::QueueLoaded(result) => {
            app.busy = None;
            match result {
                Ok(items) => {
                    app.queue.has_resolved = app.queue.wants_resolved();
                    super::live::read_again(app, items);
                    app.queue.loaded = true;
                }
                Err(e) => {
                    let key = app
                        .keymap
                        .key_for(super::keymap::Scope::List, Command::Refresh);
                    app.warn(format!(
                        "Could not read the queue: {e}. Press {key} to retry."
                    ));
                }
            }
            Vec::new()
        }
        Action::ConflictLoaded(result) => loaded(app, result),
        Action::Submitted {
            conflict_id,
            outcome,
        } => submitted(app, conflict_id, outcome),
        Action::Edited { path, text } => edited(app, &path, text),
        Action::EditorKey(key) => {
            if let Some(editor) = app.editor.as_mut() {
                editor.area.input(key);
                editor.error = None;
            }
            Vec::new()
        }
        Action::DraftFailed(e) => {
            app.warn(format!("Draft not saved: {e}"));
            Vec::new()
        }
        Action::SyncsLoaded(result) => super::sync_view::loaded(app, result),
        Action::HistoryLoaded {
            record_type,
            id,
            result,
        } => {
            super::sync_view::history_loaded(app, record_type, id, result);
            Vec::new()
        }
        Action::AuditLoaded(result) => {
            super::sync_view::audit_loaded(app, result);
            Vec::new()
        }
        Action::StatsLoaded(result) => {
            super::sync_view::stats_loaded(app, result);
            Vec::new()
        }
        Action::BulkLoaded(conflicts) => {
            super::triage::loaded(app, conflicts);
            Vec::new()
        }
        Action::BulkSent(results) => {
            app.busy = None;
            super::triage::sent(app, results)
        }
        Action::QueueEvent(event) => super::live::heard(app, *event),
        Action::QueueStale => super::live::stale(app),
        Action::ClaimAnswered {
            conflict_id,
            answer,
        } => super::live::claim_answered(app, &conflict_id, answer),
    }
}

fn command(app: &mut App, command: Command) -> Vec<Effect> {
    if command == Command::Quit {
        app.quit = true;
        app.interrupted = true;
        return Vec::new();
    }
    let closing = matches!(command, Command::Back | Command::Close);
    match app.overlay.take() {
        Some(Overlay::Story { scroll }) => {
            app.overlay = match command {
                Command::Story | Command::Back | Command::Close => None,
                Command::Down => Some(Overlay::Story {
                    scroll: scroll.saturating_add(1),
                }),
                Command::Up => Some(Overlay::Story {
                    scroll: scroll.saturating_sub(1),
                }),
                _ => Some(Overlay::Story { scroll }),
            };
            return Vec::new();
        }
        Some(Overlay::Help { scroll }) => {
            app.overlay = match command {
                Command::Help | Command::Back | Command::Close => None,
                Command::Down => Some(Overlay::Help {
                    scroll: scroll.saturating_add(1),
                }),
                Command::Up => Some(Overlay::Help {
                    scroll: scroll.saturating_sub(1),
                }),
                _ => Some(Overlay::Help { scroll }),
            };
            return Vec::new();
        }
        Some(Overlay::Preview(preview)) => {
            return match command {
                Command::Confirm => confirm(app, preview),
                _ if closing => Vec::new(),
                _ => {
                    app.overlay = Some(Overlay::Preview(preview));
                    Vec::new()
                }
            };
        }
        Some(Overlay::ClaimedOpen { id, .. }) => {
            // `y` opens all the same; any other key leaves it to them.
            return match command {
                Command::Confirm => open(app, id),
                _ => Vec::new(),
            };
        }
        Some(Overlay::Bulk) => return super::triage::command(app, command),
        Some(Overlay::ConfirmQuit { .. }) => {
            // `y` quits; any other key stays.
            app.quit = command == Command::Confirm;
            return Vec::new();
        }
        Some(Overlay::Filter { before }) => {
            if closing && app.screen == Screen::Syncs {
                app.syncs.filter = before;
            } else if closing {
                app.queue.filter = before;
                app.queue.refilter();
            } else {
                app.overlay = Some(Overlay::Filter { before });
            }
            return Vec::new();
        }
        Some(Overlay::Text) => {
            if closing {
                app.editor = None;
                app.say("Edit cancelled: nothing changed.");
            } else {
                app.overlay = Some(Overlay::Text);
            }
            return Vec::new();
        }
        Some(Overlay::Pick {
            row,
            filter,
            selected,
        }) => {
            if !closing {
                let shown = app.picked_items(row, &filter).len();
                let selected = match command {
                    Command::Down => (selected + 1).min(shown.saturating_sub(1)),
                    Command::Up => selected.saturating_sub(1),
                    _ => selected,
                };
                app.overlay = Some(Overlay::Pick {
                    row,
                    filter,
                    selected,
                });
            }
            return Vec::new();
        }
        Some(Overlay::Edit { row, text, error }) => {
            if !closing {
                app.overlay = Some(Overlay::Edit { row, text, error });
            }
            return Vec::new();
        }
        None => {}
    }
    if command == Command::Help {
        app.overlay = Some(Overlay::Help { scroll: 0 });
        return Vec::new();
    }
    if command == Command::Story {
        if app.story.is_empty() {
            app.say("No story here: the queue came from a server or a file as it is.");
        } else {
            app.overlay = Some(Overlay::Story { scroll: 0 });
        }
        return Vec::new();
    }
    let wanted = match command {
        Command::ViewQueue => Some(Screen::List),
        Command::ViewSyncs => Some(Screen::Syncs),
        Command::ViewStats => Some(Screen::Stats),
        Command::ViewAudit => Some(Screen::Audit),
        _ => None,
    };
    if let Some(screen) = wanted {
        return super::sync_view::go_to(app, screen);
    }
    match app.screen {
        Screen::List => list_command(app, command),
        Screen::Syncs => super::sync_view::command(app, command),
        Screen::Stats => super::sync_view::stats_command(app, command),
        Screen::Audit => super::sync_view::audit_command(app, command),
        Screen::Detail => detail_command(app, command),
    }
}

fn list_command(app: &mut App, command: Command) -> Vec<Effect> {
    let queue = &mut app.queue;
    let last = queue.visible.len().saturating_sub(1);
    match command {
        Command::Back => match app.quit_warning.clone() {
            Some(reason) => app.overlay = Some(Overlay::ConfirmQuit { reason }),
            None => app.quit = true,
        },
        Command::Close if !queue.filter.is_empty() => {
            queue.filter.clear();
            queue.refilter();
            app.say("Filter cleared.");
        }
        Command::Close => {
            let quit = app.keymap.key_for(Scope::List, Command::Back);
            app.say(format!("Nothing to close: {quit} quits."));
        }
        Command::PageDown => queue.selected = (queue.selected + PAGE).min(last),
        Command::PageUp => queue.selected = queue.selected.saturating_sub(PAGE),
        Command::Down => queue.selected = (queue.selected + 1).min(last),
        Command::Up => queue.selected = queue.selected.saturating_sub(1),
        Command::Top => queue.selected = 0,
        Command::Bottom => queue.selected = last,
        Command::Filter => {
            app.overlay = Some(Overlay::Filter {
                before: queue.filter.clone(),
            });
        }
        Command::Sort => {
            queue.sort = queue.sort.next();
            queue.refilter();
            let name = queue.sort.name();
            app.say(format!("Sorted: {name}"));
        }
        Command::Refresh => return load_queue(app),
        Command::SwitchView => return super::sync_view::go_to(app, Screen::Syncs),
        Command::Mark => super::triage::mark(app),
        Command::MarkAll => super::triage::mark_all(app),
        Command::Bulk => return super::triage::start(app),
        Command::Open => {
            if let Some(id) = queue.selected_item().map(|c| c.id.clone()) {
                if let Some(ask) = super::live::open_guarded(app, id.clone()) {
                    app.overlay = Some(ask);
                    return Vec::new();
                }
                return open(app, id);
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Rows a page key moves in the list, lines it scrolls in the field panel.
const PAGE: usize = 10;

/// Fetches a conflict to show it.
pub(super) fn open(app: &mut App, id: String) -> Vec<Effect> {
    app.busy = Some(format!("Opening {id}"));
    app.opening = Some(id.clone());
    vec![Effect::LoadConflict { id }]
}

fn load_queue(app: &mut App) -> Vec<Effect> {
    app.busy = Some("Reading the queue".into());
    app.live.since_read.clear();
    vec![Effect::LoadQueue {
        all: app.queue.wants_resolved(),
    }]
}

fn detail_command(app: &mut App, command: Command) -> Vec<Effect> {
    let submit_key = app.keymap.key_for(app.scope(), Command::Submit);
    let restore_key = app.keymap.key_for(Scope::Detail, Command::Restore);
    let keep_key = app.keymap.key_for(Scope::Detail, Command::KeepDeleted);
    let manual_key = app.keymap.key_for(Scope::Detail, Command::Manual);
    let Some(desk) = app.desk.as_mut() else {
        app.screen = Screen::List;
        return Vec::new();
    };
    let last = desk.rows.len().saturating_sub(1);
    let closed = desk.detail.status == Status::Resolved;
    if closed && command.decides() {
        let by = desk
            .detail
            .resolution
            .as_ref()
            .map_or("someone".to_string(), |r| r.by.clone());
        app.warn(format!(
            "Already resolved by {}: nothing to decide.",
            visible(&by)
        ));
        return Vec::new();
    }
    let hide = app.hide_unchanged;
    let cursor_before = desk.cursor;
    let changed = match command {
        Command::Back | Command::Close => {
            app.screen = Screen::List;
            app.desk = None;
            app.opening = None;
            app.busy = None;
            app.moved_to(None);
            return vec![Effect::ReleaseClaim];
        }
        Command::Down => {
            desk.step(1, hide);
            false
        }
        Command::Up => {
            desk.step(-1, hide);
            false
        }
        Command::Top => {
            desk.step(-(last as isize) - 1, hide);
            false
        }
        Command::Bottom => {
            desk.step(last as isize + 1, hide);
            false
        }
        Command::PageDown => {
            app.pane_scroll = app.pane_scroll.saturating_add(PAGE as u16);
            false
        }
        Command::PageUp => {
            app.pane_scroll = app.pane_scroll.saturating_sub(PAGE as u16);
            false
        }
        Command::ToggleUnchanged => {
            app.hide_unchanged = !app.hide_unchanged;
            desk.step(0, app.hide_unchanged);
            let text = if app.hide_unchanged {
                "Unchanged fields hidden (= shows them)."
            } else {
                "Every field shown."
            };
            app.message = Some(super::app::Message::info(text));
            false
        }
        Command::NextInQueue | Command::PreviousInQueue => {
            let queue = &mut app.queue;
            let at = queue.selected;
            let to = if command == Command::NextInQueue {
                (at + 1).min(queue.visible.len().saturating_sub(1))
            } else {
                at.saturating_sub(1)
            };
            match queue.visible.get(to).map(|&i| queue.items[i].id.clone()) {
                Some(id) if to != at => {
                    queue.selected = to;
                    return open(app, id);
                }
                _ => {
                    let end = if command == Command::NextInQueue {
                        "last"
                    } else {
                        "first"
                    };
                    app.message = Some(super::app::Message::info(format!(
                        "This is the {end} conflict the list shows."
                    )));
                }
            }
            false
        }
        Command::NextConflict | Command::PreviousConflict => {
            match desk.next_undecided(command == Command::NextConflict) {
                Some(i) => desk.cursor = i,
                None => {
                    app.message = Some(super::app::Message::info(format!(
                        "Every conflict is decided: {submit_key} to submit."
                    )));
                }
            }
            false
        }
        Command::TakeServer | Command::TakeLocal => {
            let choice = if command == Command::TakeServer {
                Choice::Server
            } else {
                Choice::Local
            };
            let path = desk.current().map(|r| r.path.clone()).unwrap_or_default();
            match desk.unlisted_choice(&path, &choice) {
                Some(why) => {
                    app.message = Some(super::app::Message::error(format!(
                        "Not taken: {why}. {manual_key} picks a listed item."
                    )));
                    return Vec::new();
                }
                None => desk.choose(choice),
            }
        }
        Command::AllServer | Command::AllLocal => {
            let choice = if command == Command::AllServer {
                Choice::Server
            } else {
                Choice::Local
            };
            let (changed, refused) = desk.choose_all(choice);
            if !refused.is_empty() {
                app.message = Some(super::app::Message::error(format!(
                    "Not taken for {}: it names an item no longer listed; {manual_key} picks one.",
                    visible(&refused.join(", "))
                )));
                if changed {
                    let id = desk.detail.id.clone();
                    let choices = desk.choices.clone();
                    return vec![Effect::SaveDraft { id, choices }];
                }
                return Vec::new();
            }
            changed
        }
        Command::Undo => desk.undo(),
        Command::Redo => desk.redo(),
        Command::Manual => {
            let row = desk.cursor;
            let Some(path) = desk.current().map(|r| r.path.clone()) else {
                return Vec::new();
            };
            let text = desk.start_text(row);
            // A reference is picked from its list, never typed blind.
            if let Some((_, data)) = desk.list_of(&path) {
                let selected = data.items.iter().position(|i| i.id == text).unwrap_or(0);
                app.overlay = Some(Overlay::Pick {
                    row,
                    filter: String::new(),
                    selected,
                });
                return Vec::new();
            }
            // Long text, and any text that opens on a merge's marker lines, is edited in
            // an editor, never on one line.
            if desk.wants_editor(row) || text.contains('\n') {
                if app.external_editor {
                    return vec![Effect::EditExternally { path, text }];
                }
                app.editor = Some(super::app::TextEditor::new(row, &text));
                app.overlay = Some(Overlay::Text);
                return Vec::new();
            }
            app.overlay = Some(Overlay::Edit {
                row,
                text,
                error: None,
            });
            false
        }
        Command::Layout => {
            app.layout = app.layout.next();
            app.message = Some(super::app::Message::info(format!(
                "Layout: {}",
                app.layout.name()
            )));
            false
        }
        Command::Submit if desk.deleted_on_server() => {
            app.message = Some(super::app::Message::info(format!(
                "{} was deleted on the server: {restore_key} restores it, {keep_key} keeps it deleted.",
                visible(&desk.detail.record_id)
            )));
            false
        }
        Command::Restore | Command::KeepDeleted if !desk.deleted_on_server() => {
            app.message = Some(super::app::Message::error(format!(
                "{} is not deleted on the server: {submit_key} submits the resolution.",
                visible(&desk.detail.record_id)
            )));
            false
        }
        Command::Submit | Command::Restore => {
            app.overlay = Some(Overlay::Preview(Box::new(desk.preview(false))));
            false
        }
        Command::KeepDeleted => {
            app.overlay = Some(Overlay::Preview(Box::new(desk.preview(true))));
            false
        }
        _ => false,
    };
    if desk.cursor != cursor_before {
        app.pane_scroll = 0;
    }
    if !changed {
        return Vec::new();
    }
    let (decided, total) = desk.progress();
    let effect = Effect::SaveDraft {
        id: desk.detail.id.clone(),
        choices: desk.choices.clone(),
    };
    app.say(format!("{decided} of {total} conflicting fields decided"));
    vec![effect]
}

/// `y` in the preview: send what the decisions make, unless something is left to decide.
fn confirm(app: &mut App, preview: Box<super::app::Preview>) -> Vec<Effect> {
    let Some(desk) = app.desk.as_ref() else {
        return Vec::new();
    };
    if app.submitting {
        app.overlay = Some(Overlay::Preview(preview));
        app.say("A resolution is on its way; wait for its answer.");
        return Vec::new();
    }
    let submission = match desk.submission(&app.user, preview.keep_deleted) {
        Ok(s) => s,
        Err(undecided) => {
            app.overlay = Some(Overlay::Preview(preview));
            app.warn(format!(
                "Decide first: {} (S or L takes one side for all).",
                visible(&undecided.join(", "))
            ));
            return Vec::new();
        }
    };
    let faults = if preview.keep_deleted {
        Vec::new()
    } else {
        desk.faults()
    };
    if let Some(first) = faults.first() {
        app.overlay = Some(Overlay::Preview(preview));
        app.warn(format!(
            "The resolved record is invalid at {}: {}",
            visible(&first.path),
            visible(&first.message)
        ));
        return Vec::new();
    }
    app.submitting = true;
    app.busy = Some(format!("Sending the resolution of {}", desk.detail.id));
    app.next_after_submit = app
        .queue
        .next_open_after(app.queue.selected, &submission.conflict_id)
        .map(|p| app.queue.items[app.queue.visible[p]].id.clone());
    vec![Effect::Submit(submission)]
}

fn loaded(
    app: &mut App,
    result: Result<Box<Desk>, (String, crate::client::SourceError)>,
) -> Vec<Effect> {
    let wanted = app.opening.take();
    let desk = match result {
        // The supervisor went elsewhere meanwhile: a late answer does not pull them back.
        Ok(desk) if wanted.as_deref() != Some(desk.detail.id.as_str()) => return Vec::new(),
        Ok(desk) => *desk,
        Err((id, _)) if wanted.as_deref() != Some(id.as_str()) => return Vec::new(),
        Err((id, e)) => {
            app.busy = None;
            app.warn(format!("Could not open {id}: {e}"));
            return Vec::new();
        }
    };
    app.busy = None;
    let refetch = app
        .desk
        .as_ref()
        .filter(|old| old.detail.id == desk.detail.id);
    match refetch {
        Some(old) => {
            let desk = desk.carry_over(old);
            let changed = desk.changed_meanwhile.len();
            let by = desk
                .detail
                .server
                .as_ref()
                .map(|s| format!("version {} by {}", s.version, visible(&s.modified_by)))
                .unwrap_or_default();
            app.warn(format!(
                "{} changed on the server meanwhile ({by}): fetched again, your choices kept; \
                 {changed} field(s) marked ★ changed. Check them, then submit again.",
                visible(&desk.detail.record_id)
            ));
            app.desk = Some(desk);
        }
        None => {
            app.moved_to(Some(&desk.detail.id));
            app.pane_scroll = 0;
            let restored = desk.choices.len();
            // What was said before (a resolution's outcome) stays unless a draft speaks.
            if restored > 0 {
                app.say(format!("Draft restored: {restored} choice(s)."));
            }
            app.queue.select(&desk.detail.id);
            let id = desk.detail.id.clone();
            let open = desk.detail.status == Status::Open;
            app.desk = Some(desk);
            app.screen = Screen::Detail;
            // On it: the other supervisors' lists say so while it stays on screen.
            return if open {
                vec![Effect::Claim { id }]
            } else {
                vec![Effect::ReleaseClaim]
            };
        }
    }
    app.screen = Screen::Detail;
    Vec::new()
}

fn submitted(
    app: &mut App,
    id: String,
    outcome: Result<SubmitOutcome, crate::client::SourceError>,
) -> Vec<Effect> {
    app.submitting = false;
    app.busy = None;
    let record = app
        .desk
        .as_ref()
        .filter(|d| d.detail.id == id)
        .map(|d| visible(&d.detail.record_id).into_owned())
        .unwrap_or_default();
    match outcome {
        Ok(SubmitOutcome::Resolved { version, etag }) => {
            let mut effects = vec![Effect::DropDraft { id: id.clone() }];
            // The next one is the next open conflict after this one as the list stood
            // when it was sent, unless that one was settled meanwhile too.
            let still_open = |next: &String| {
                app.queue
                    .items
                    .iter()
                    .any(|c| c.id == *next && c.status == Status::Open)
            };
            let next = app.next_after_submit.take().filter(still_open).or_else(|| {
                app.queue
                    .next_open_after(app.queue.selected, &id)
                    .map(|p| app.queue.items[app.queue.visible[p]].id.clone())
            });
            if let Some(c) = app.queue.find(&id) {
                c.status = Status::Resolved;
            }
            app.queue.refilter();
            let made = match (version, etag) {
                (Some(v), Some(e)) => format!(": version {v}, ETag {}", visible(&e)),
                (Some(v), None) => format!(": version {v}"),
                (None, _) => " (written to the resolutions file)".into(),
            };
            app.resolved.push(format!("{id} {record}{made}"));
            let text = format!("Resolved {id} {record}{made}");
            match next {
                Some(next_id) => {
                    app.queue.select(&next_id);
                    app.message = Some(
                        super::app::Message::info(format!("{text}. Next: {next_id}."))
                            .about(&next_id),
                    );
                    effects.extend(open(app, next_id));
                }
                None => {
                    app.say(format!("{text}. No open conflicts left."));
                    app.desk = None;
                    app.screen = Screen::List;
                    effects.push(Effect::ReleaseClaim);
                }
            }
            effects
        }
        Ok(SubmitOutcome::Stale) => {
            app.warn(format!(
                "{record} changed on the server meanwhile: fetching it again."
            ));
            let effects = open(app, id.clone());
            app.busy = Some(format!("Fetching {id} again"));
            effects
        }
        Ok(SubmitOutcome::Closed { by }) => {
            let by = visible(&by).into_owned();
            app.warn(format!(
                "{id} was already resolved by {by}. Nothing was sent."
            ));
            if let Some(c) = app.queue.find(&id) {
                c.status = Status::Resolved;
            }
            app.queue.refilter();
            if let Some(desk) = app.desk.as_mut().filter(|d| d.detail.id == id) {
                desk.detail.status = Status::Resolved;
                desk.detail.resolution = Some(ResolutionInfo {
                    by,
                    at: crate::model::UtcMillis::now(),
                    resulting_version: None,
                    kept_deleted: false,
                    choices: Default::default(),
                    fields: Vec::new(),
                });
            }
            vec![Effect::DropDraft { id }]
        }
        Ok(SubmitOutcome::Invalid { errors }) => {
            let list: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", visible(&e.path), visible(&e.message)))
                .collect();
            app.warn(format!(
                "The server refused the record: {}",
                list.join("; ")
            ));
            Vec::new()
        }
        Err(e) => {
            let key = app
                .keymap
                .key_for(super::keymap::Scope::Detail, Command::Submit);
            app.warn(format!(
                "Not sent: {e}. Your choices are kept; {key} to try again."
            ));
            Vec::new()
        }
    }
}

fn edited(app: &mut App, path: &str, text: Option<String>) -> Vec<Effect> {
    let Some(desk) = app.desk.as_mut() else {
        return Vec::new();
    };
    let Some(row) = desk.rows.iter().position(|r| r.path == path) else {
        return Vec::new();
    };
    let Some(mut text) = text else {
        app.warn("The editor ended without saving: nothing changed.");
        return Vec::new();
    };
    // Editors end a file with a newline the value did not have.
    if text.ends_with('\n') {
        text.pop();
    }
    desk.cursor = row;
    if let Some(line) = crate::merge::marker_left(&text) {
        desk.unfinished.insert(path.to_string(), text);
        let key = app.keymap.key_for(Scope::Detail, Command::Manual);
        app.warn(format!(
            "Not taken: line {line} still has a conflict marker. Keep the words you want, \
             delete the marker lines; {key} opens your text again."
        ));
        return Vec::new();
    }
    desk.unfinished.remove(path);
    decide_manually(app, row, text)
}

/// `Ctrl-s` in the desk's own editor: the text is taken when no marker is left and it
/// passes its type check; otherwise the editor stays open saying why.
fn save_text(app: &mut App) -> Vec<Effect> {
    let Some(editor) = app.editor.as_mut() else {
        return Vec::new();
    };
    let text = editor.text();
    if let Some(line) = crate::merge::marker_left(&text) {
        editor.error = Some(format!(
            "line {line} still has a conflict marker: keep the words you want and delete the marker lines"
        ));
        app.overlay = Some(Overlay::Text);
        return Vec::new();
    }
    let row = editor.row;
    let Some(desk) = app.desk.as_mut() else {
        return Vec::new();
    };
    match desk.manual_value(row, &text) {
        Ok(value) => {
            if let Some(path) = desk.rows.get(row).map(|r| r.path.clone()) {
                desk.unfinished.remove(&path);
            }
            app.editor = None;
            app.overlay = None;
            decide_manually(app, row, text_of(&value))
        }
        Err(error) => {
            editor.error = Some(error);
            app.overlay = Some(Overlay::Text);
            Vec::new()
        }
    }
}

/// A checked text value back as the text it was typed as.
fn text_of(value: &crate::model::json::Json) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

/// Takes a typed value for a row when it passes its type check.
fn decide_manually(app: &mut App, row: usize, text: String) -> Vec<Effect> {
    let Some(desk) = app.desk.as_mut() else {
        return Vec::new();
    };
    match desk.manual_value(row, &text) {
        Ok(value) => {
            desk.cursor = row;
            desk.choose(Choice::Manual(value));
            app.overlay = None;
            let (decided, total) = desk.progress();
            let effect = Effect::SaveDraft {
                id: desk.detail.id.clone(),
                choices: desk.choices.clone(),
            };
            app.say(format!("{decided} of {total} conflicting fields decided"));
            vec![effect]
        }
        Err(error) => {
            app.overlay = Some(Overlay::Edit {
                row,
                text,
                error: Some(error),
            });
            Vec::new()
        }
    }
}

fn typed(app: &mut App, c: Option<char>) -> Vec<Effect> {
    match &mut app.overlay {
        Some(Overlay::Filter { .. }) if app.screen == Screen::Syncs => match c {
            Some(c) => app.syncs.filter.push(c),
            None => {
                app.syncs.filter.pop();
            }
        },
        Some(Overlay::Filter { .. }) => {
            match c {
                Some(c) => app.queue.filter.push(c),
                None => {
                    app.queue.filter.pop();
                }
            }
            app.queue.refilter();
        }
        Some(Overlay::Edit { text, error, .. }) => {
            match c {
                Some(c) => text.push(c),
                None => {
                    text.pop();
                }
            }
            *error = None;
        }
        Some(Overlay::Pick {
            filter, selected, ..
        }) => {
            match c {
                // With nothing typed, j and k move as everywhere else.
                Some('j') if filter.is_empty() => return command(app, Command::Down),
                Some('k') if filter.is_empty() => return command(app, Command::Up),
                Some(c) => filter.push(c),
                None => {
                    filter.pop();
                }
            }
            *selected = 0;
        }
        _ => {}
    }
    Vec::new()
}

fn accept(app: &mut App) -> Vec<Effect> {
    match app.overlay.take() {
        Some(Overlay::Filter { .. }) if app.screen == Screen::Syncs => {
            super::sync_view::filter_accepted(app)
        }
        Some(Overlay::Filter { .. }) => {
            if app.queue.wants_resolved() && !app.queue.has_resolved {
                return load_queue(app);
            }
            Vec::new()
        }
        Some(Overlay::Edit { row, text, .. }) => decide_manually(app, row, text),
        Some(Overlay::Text) => save_text(app),
        Some(Overlay::Pick {
            row,
            filter,
            selected,
        }) => {
            let picked = app
                .picked_items(row, &filter)
                .get(selected)
                .map(|i| i.id.clone());
            match picked {
                Some(id) => decide_manually(app, row, id),
                None => {
                    app.overlay = Some(Overlay::Pick {
                        row,
                        filter,
                        selected,
                    });
                    app.warn("No item matches: Backspace widens the filter.");
                    Vec::new()
                }
            }
        }
        other => {
            app.overlay = other;
            Vec::new()
        }
    }
}

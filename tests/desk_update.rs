//! `update` driven directly: every command and every answer, no terminal, no network.

mod fixture;

use fixture::{app, app_with_desk, desk_of, detail_json};
use syncdesk::client::{SourceError, SubmitOutcome};
use syncdesk::json;
use syncdesk::merge::Choice;
use syncdesk::model::validate::FieldError;
use syncdesk::protocol::Status;
use syncdesk::tui::app::{App, Layout, Overlay, Screen, SortKey};
use syncdesk::tui::effect::Effect;
use syncdesk::tui::update::update;
use syncdesk::tui::{Action, Command};

fn run(app: &mut App, commands: &[Command]) -> Vec<Effect> {
    commands
        .iter()
        .flat_map(|c| update(app, Action::Command(*c)))
        .collect()
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, Action::Type(c));
    }
}

fn selected(app: &App) -> String {
    app.queue.selected_item().unwrap().id.clone()
}

fn choice(app: &App, path: &str) -> Option<Choice> {
    app.desk.as_ref().unwrap().choices.get(path).cloned()
}

fn cursor_path(app: &App) -> String {
    app.desk.as_ref().unwrap().current().unwrap().path.clone()
}

#[test]
fn the_list_shows_open_conflicts_oldest_first_and_moves_within_bounds() {
    let mut app = app();
    assert_eq!(selected(&app), "c-000001", "oldest first");
    run(&mut app, &[Command::Up]);
    assert_eq!(selected(&app), "c-000001");
    run(&mut app, &[Command::Down, Command::Down, Command::Down]);
    assert_eq!(selected(&app), "c-000003");
    run(&mut app, &[Command::Top]);
    assert_eq!(selected(&app), "c-000001");
    run(&mut app, &[Command::Bottom]);
    assert_eq!(selected(&app), "c-000003");
}

#[test]
fn sort_cycles_columns_and_keeps_the_selection() {
    let mut app = app();
    run(&mut app, &[Command::Down]);
    run(&mut app, &[Command::Sort]);
    assert_eq!(app.queue.sort, SortKey::Record);
    assert_eq!(
        selected(&app),
        "c-000002",
        "the selected conflict stays selected"
    );
    run(&mut app, &[Command::Sort, Command::Sort, Command::Sort]);
    assert_eq!(app.queue.sort, SortKey::Received);
    assert!(app.message.as_ref().unwrap().text.contains("oldest first"));
}

#[test]
fn the_filter_narrows_as_typed_esc_restores_and_status_all_reloads() {
    let mut app = app();
    run(&mut app, &[Command::Filter]);
    assert!(app.typing());
    type_text(&mut app, "ins-1002");
    assert_eq!(app.queue.visible.len(), 1);
    update(&mut app, Action::Erase);
    assert_eq!(app.queue.filter, "ins-100");
    run(&mut app, &[Command::Back]);
    assert_eq!(
        (app.queue.filter.as_str(), app.queue.visible.len()),
        ("", 3)
    );

    run(&mut app, &[Command::Filter]);
    type_text(&mut app, "status:all");
    let effects = update(&mut app, Action::Accept);
    assert_eq!(effects, vec![Effect::LoadQueue { all: true }]);
    assert!(!app.typing());
}

#[test]
fn open_refresh_back_and_quit_from_the_list() {
    let mut app = app();
    assert_eq!(
        run(&mut app, &[Command::Open]),
        vec![Effect::LoadConflict {
            id: "c-000001".into()
        }]
    );
    assert!(app.busy.as_ref().unwrap().contains("c-000001"));
    assert_eq!(
        run(&mut app, &[Command::Refresh]),
        vec![Effect::LoadQueue { all: false }]
    );
    run(&mut app, &[Command::Back]);
    assert!(app.quit, "q quits from the list");
    let mut app = app_with_desk();
    run(&mut app, &[Command::Quit]);
    assert!(app.quit, "Ctrl-C quits from anywhere");
}

#[test]
fn the_queue_arrives_or_its_error_is_shown() {
    let mut app = app();
    let items = app.queue.items[..1].to_vec();
    update(&mut app, Action::QueueLoaded(Ok(items)));
    assert_eq!(app.queue.visible.len(), 1);
    update(
        &mut app,
        Action::QueueLoaded(Err(SourceError::Unreachable("connection refused".into()))),
    );
    let m = app.message.clone().unwrap();
    assert!(m.error && m.text.contains("connection refused") && m.text.contains("r to retry"));
    assert_eq!(app.queue.visible.len(), 1, "what was shown stays");
}

#[test]
fn a_loaded_conflict_opens_on_its_first_undecided_field() {
    let mut app = app();
    app.opening = Some("c-000002".into());
    let desk = desk_of(detail_json(
        "c-000002",
        "INS-1002",
        "2026-11-20T12:30:00.000Z",
    ));
    update(&mut app, Action::ConflictLoaded(Ok(Box::new(desk))));
    assert_eq!(app.screen, Screen::Detail);
    assert_eq!(cursor_path(&app), "/notes");
    assert_eq!(selected(&app), "c-000002", "the list follows");
    app.opening = Some("c-000009".into());
    update(
        &mut app,
        Action::ConflictLoaded(Err((
            "c-000009".into(),
            SourceError::Refused {
                status: 404,
                message: "no conflict".into(),
            },
        ))),
    );
    assert!(
        app.message
            .unwrap()
            .text
            .contains("Could not open c-000009")
    );
}

#[test]
fn an_answer_that_arrives_after_the_supervisor_went_back_is_dropped() {
    let mut app = app();
    run(&mut app, &[Command::Open]);
    assert_eq!(app.opening.as_deref(), Some("c-000001"));
    let mut app = app_with_desk();
    let effects = update(
        &mut app,
        Action::Submitted {
            conflict_id: "c-000001".into(),
            outcome: Ok(SubmitOutcome::Resolved {
                version: Some(8),
                etag: None,
            }),
        },
    );
    assert!(effects.contains(&Effect::LoadConflict {
        id: "c-000002".into()
    }));
    run(&mut app, &[Command::Back]);
    assert_eq!((app.screen, app.busy.as_deref()), (Screen::List, None));
    let late = desk_of(detail_json(
        "c-000002",
        "INS-1002",
        "2026-11-20T12:30:00.000Z",
    ));
    update(&mut app, Action::ConflictLoaded(Ok(Box::new(late))));
    assert_eq!(
        app.screen,
        Screen::List,
        "the late answer does not pull the list away"
    );
    assert!(app.desk.is_none());
}

#[test]
fn fields_move_and_n_jumps_between_undecided_conflicts_wrapping() {
    let mut app = app_with_desk();
    run(&mut app, &[Command::Down]);
    assert_eq!(cursor_path(&app), "/site_id");
    run(&mut app, &[Command::NextConflict]);
    assert_eq!(cursor_path(&app), "/status");
    run(&mut app, &[Command::NextConflict]);
    assert_eq!(cursor_path(&app), "/notes", "wraps around");
    run(&mut app, &[Command::PreviousConflict]);
    assert_eq!(cursor_path(&app), "/status");
    run(&mut app, &[Command::AllServer, Command::NextConflict]);
    assert!(
        app.message
            .unwrap()
            .text
            .contains("Every conflict is decided: w to submit")
    );
}

#[test]
fn decisions_save_a_draft_and_undo_redo_step_through_them() {
    let mut app = app_with_desk();
    let effects = run(&mut app, &[Command::TakeLocal]);
    assert_eq!(
        effects,
        vec![Effect::SaveDraft {
            id: "c-000001".into(),
            choices: [("/notes".to_string(), Choice::Local)].into()
        }]
    );
    assert!(app.message.as_ref().unwrap().text.starts_with("1 of 2"));
    assert!(
        run(&mut app, &[Command::TakeLocal]).is_empty(),
        "the same choice again changes nothing"
    );
    run(&mut app, &[Command::TakeServer]);
    assert_eq!(choice(&app, "/notes"), Some(Choice::Server));
    run(&mut app, &[Command::AllLocal]);
    assert_eq!(
        (choice(&app, "/notes"), choice(&app, "/status")),
        (Some(Choice::Local), Some(Choice::Local))
    );
    assert_eq!(
        choice(&app, "/site_id"),
        None,
        "one-sided changes stay merged"
    );
    run(&mut app, &[Command::Undo]);
    assert_eq!(
        (choice(&app, "/notes"), choice(&app, "/status")),
        (Some(Choice::Server), None)
    );
    run(&mut app, &[Command::Undo, Command::Undo]);
    assert_eq!(choice(&app, "/notes"), None);
    assert!(
        run(&mut app, &[Command::Undo]).is_empty(),
        "nothing left to undo"
    );
    run(&mut app, &[Command::Redo, Command::Redo, Command::Redo]);
    assert_eq!(choice(&app, "/status"), Some(Choice::Local));
    let effects = run(&mut app, &[Command::TakeServer]);
    assert_eq!(effects.len(), 1);
    assert!(
        run(&mut app, &[Command::Redo]).is_empty(),
        "a new decision clears redo"
    );
}

#[test]
fn a_one_sided_change_can_be_overridden() {
    let mut app = app_with_desk();
    run(&mut app, &[Command::Down]);
    assert_eq!(cursor_path(&app), "/site_id");
    run(&mut app, &[Command::TakeLocal]);
    let resolved = app.desk.as_ref().unwrap().resolved();
    assert_eq!(
        resolved.get("site_id"),
        Some(&json!("S-1")),
        "local (= base) overrides the server"
    );
}

#[test]
fn manual_values_are_type_checked_before_they_are_taken() {
    let mut app = app_with_desk();
    run(&mut app, &[Command::Bottom]);
    assert_eq!(cursor_path(&app), "/temperature");
    assert!(run(&mut app, &[Command::Manual]).is_empty());
    assert_eq!(
        app.overlay,
        Some(Overlay::Edit {
            row: 3,
            text: "20".into(),
            error: None
        }),
        "starts from the value the decisions give"
    );
    update(&mut app, Action::Erase);
    update(&mut app, Action::Erase);
    type_text(&mut app, "warm");
    assert!(update(&mut app, Action::Accept).is_empty());
    let Some(Overlay::Edit {
        error: Some(error), ..
    }) = &app.overlay
    else {
        panic!("the editor stays open with the fault: {:?}", app.overlay);
    };
    assert!(error.contains("not a JSON value"), "{error}");
    for _ in 0..4 {
        update(&mut app, Action::Erase);
    }
    type_text(&mut app, "\"21\"");
    update(&mut app, Action::Accept);
    assert!(
        matches!(&app.overlay, Some(Overlay::Edit { error: Some(e), .. }) if e.contains("number"))
    );
    for _ in 0..4 {
        update(&mut app, Action::Erase);
    }
    type_text(&mut app, "19.5");
    let effects = update(&mut app, Action::Accept);
    assert_eq!(app.overlay, None);
    assert_eq!(
        choice(&app, "/temperature"),
        Some(Choice::Manual(json!(19.5)))
    );
    assert!(matches!(&effects[..], [Effect::SaveDraft { .. }]));

    // An enum takes text, and only its values.
    run(&mut app, &[Command::Up]);
    assert_eq!(cursor_path(&app), "/status");
    run(&mut app, &[Command::Manual]);
    for _ in 0..6 {
        update(&mut app, Action::Erase);
    }
    type_text(&mut app, "broken");
    update(&mut app, Action::Accept);
    assert!(
        matches!(&app.overlay, Some(Overlay::Edit { error: Some(e), .. }) if e.contains("passed"))
    );
    run(&mut app, &[Command::Back]);
    assert_eq!(app.overlay, None);
    assert_eq!(choice(&app, "/status"), None, "Esc takes nothing");
}

#[test]
fn text_goes_to_the_editor_and_comes_back_as_a_manual_choice() {
    let mut app = app_with_desk();
    app.external_editor = true;
    let effects = run(&mut app, &[Command::Manual]);
    // Both sides changed the notes' one sentence: the editor opens on their three-way
    // merge, the overlap between git's markers.
    assert_eq!(
        effects,
        vec![Effect::EditExternally {
            path: "/notes".into(),
            text: "<<<<<<< local\nPump leaks badly at the flange; gasket replaced.\n=======\n\
                   Pump leaks at the flange. Bolts tightened.\n>>>>>>> server\n"
                .into()
        }]
    );
    update(
        &mut app,
        Action::Edited {
            path: "/notes".into(),
            text: None,
        },
    );
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .contains("nothing changed")
    );
    // Markers left: not taken, and the text waits for the next edit.
    let with_markers = "<<<<<<< local\nPump leaks badly.\n=======\nBolts.\n>>>>>>> server\n";
    update(
        &mut app,
        Action::Edited {
            path: "/notes".into(),
            text: Some(with_markers.into()),
        },
    );
    assert_eq!(choice(&app, "/notes"), None);
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .contains("line 1 still has a conflict marker")
    );
    assert_eq!(
        run(&mut app, &[Command::Manual]),
        vec![Effect::EditExternally {
            path: "/notes".into(),
            text: with_markers.trim_end().into()
        }],
        "the editor opens on the text it gave back"
    );
    update(
        &mut app,
        Action::Edited {
            path: "/notes".into(),
            text: Some("Both: bolts and gasket.\n".into()),
        },
    );
    assert_eq!(
        choice(&app, "/notes"),
        Some(Choice::Manual(json!("Both: bolts and gasket.")))
    );
}

#[test]
fn without_an_editor_set_text_is_edited_inside_the_desk() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |code| Action::EditorKey(KeyEvent::new(code, KeyModifiers::NONE));
    let mut app = app_with_desk();
    assert!(
        run(&mut app, &[Command::Manual]).is_empty(),
        "no vi out of nowhere"
    );
    assert_eq!(app.overlay, Some(Overlay::Text));
    assert!(
        app.editor
            .as_ref()
            .unwrap()
            .text()
            .starts_with("<<<<<<< local")
    );
    // Saving with the markers in is refused, naming the line; nothing is lost.
    update(&mut app, Action::Accept);
    assert_eq!(app.overlay, Some(Overlay::Text));
    let error = app.editor.as_ref().unwrap().error.clone().unwrap();
    assert!(
        error.contains("line 1 still has a conflict marker"),
        "{error}"
    );
    // Keep the local lines: delete the marker lines and the server's.
    let mut editor = syncdesk::tui::app::TextEditor::new(0, "Pump leaks badly; gasket replaced");
    editor.area.move_cursor(ratatui_textarea::CursorMove::End);
    app.editor = Some(editor);
    update(&mut app, key(KeyCode::Char('.')));
    update(&mut app, Action::Accept);
    assert_eq!(app.overlay, None);
    assert_eq!(
        choice(&app, "/notes"),
        Some(Choice::Manual(json!("Pump leaks badly; gasket replaced.")))
    );
    // Esc leaves the editor and changes nothing.
    run(&mut app, &[Command::Manual]);
    run(&mut app, &[Command::Close]);
    assert!(app.editor.is_none() && app.overlay.is_none());
}

#[test]
fn layout_cycles_and_help_opens_and_closes() {
    let mut app = app_with_desk();
    run(&mut app, &[Command::Layout]);
    assert_eq!(app.layout, Layout::Stacked);
    run(&mut app, &[Command::Layout, Command::Layout]);
    assert_eq!(app.layout, Layout::SideBySide);
    run(&mut app, &[Command::Help]);
    assert_eq!(app.overlay, Some(Overlay::Help { scroll: 0 }));
    run(&mut app, &[Command::Down, Command::Down, Command::Up]);
    assert_eq!(app.overlay, Some(Overlay::Help { scroll: 1 }));
    run(&mut app, &[Command::TakeLocal]);
    assert_eq!(choice(&app, "/notes"), None, "keys under help do nothing");
    run(&mut app, &[Command::Back]);
    assert_eq!(app.overlay, None);
    run(&mut app, &[Command::Back]);
    assert_eq!((app.screen, app.desk.is_none()), (Screen::List, true));
}

#[test]
fn submit_previews_and_refuses_while_conflicts_are_undecided() {
    let mut app = app_with_desk();
    run(&mut app, &[Command::TakeLocal, Command::Submit]);
    let Some(Overlay::Preview(preview)) = &app.overlay else {
        panic!("w opens the preview");
    };
    assert_eq!(preview.undecided, ["/status"]);
    assert_eq!(
        preview.precondition,
        "If-Match: \"7-2026-11-20T16:05:00.000Z\""
    );
    assert!(preview.changes.iter().any(|c| c.starts_with("/notes: ")));
    assert!(run(&mut app, &[Command::Confirm]).is_empty());
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .contains("Decide first: /status")
    );
    assert!(
        matches!(app.overlay, Some(Overlay::Preview(_))),
        "the preview stays"
    );
    run(&mut app, &[Command::Back]);
    assert_eq!(app.overlay, None);
}

#[test]
fn confirm_sends_once_with_the_etag_and_a_stable_idempotency_key() {
    let mut app = app_with_desk();
    let effects = run(
        &mut app,
        &[Command::AllLocal, Command::Submit, Command::Confirm],
    );
    let [Effect::SaveDraft { .. }, Effect::Submit(sent)] = &effects[..] else {
        panic!("{effects:?}");
    };
    assert_eq!(
        sent.if_match.as_deref(),
        Some("\"7-2026-11-20T16:05:00.000Z\"")
    );
    assert_eq!(
        sent.fields.get("notes"),
        Some(&json!("Pump leaks badly at the flange; gasket replaced."))
    );
    assert_eq!(
        sent.fields.get("site_id"),
        Some(&json!("S-2")),
        "the server's one-sided change merged"
    );
    assert_eq!(
        sent.fields.get("temperature"),
        Some(&json!(21.5)),
        "the local one too"
    );
    assert!(app.submitting);
    assert!(
        run(&mut app, &[Command::Submit, Command::Confirm]).is_empty(),
        "no second send meanwhile"
    );
    // The same decisions on the same server state give the same key: a resend is a replay.
    let again = app.desk.as_ref().unwrap().submission("sue", false).unwrap();
    assert_eq!(again.idempotency_key, sent.idempotency_key);
}

fn submitted(app: &mut App, outcome: Result<SubmitOutcome, SourceError>) -> Vec<Effect> {
    update(
        app,
        Action::Submitted {
            conflict_id: "c-000001".into(),
            outcome,
        },
    )
}

#[test]
fn success_drops_the_draft_and_opens_the_next_open_conflict() {
    let mut app = app_with_desk();
    let effects = submitted(
        &mut app,
        Ok(SubmitOutcome::Resolved {
            version: Some(8),
            etag: Some("\"8-x\"".into()),
        }),
    );
    assert_eq!(
        effects,
        vec![
            Effect::DropDraft {
                id: "c-000001".into()
            },
            Effect::LoadConflict {
                id: "c-000002".into()
            }
        ]
    );
    let text = &app.message.as_ref().unwrap().text;
    assert!(
        text.contains("Resolved c-000001 INS-1001: version 8, ETag \"8-x\". Next: c-000002"),
        "{text}"
    );
    assert_eq!(app.queue.open_count(), 2);
    assert_eq!(app.resolved.len(), 1);
}

#[test]
fn a_stale_submission_fetches_again_and_keeps_the_choices() {
    let mut app = app_with_desk();
    run(&mut app, &[Command::AllLocal]);
    let effects = submitted(&mut app, Ok(SubmitOutcome::Stale));
    assert_eq!(
        effects,
        vec![Effect::LoadConflict {
            id: "c-000001".into()
        }]
    );
    let mut newer = detail_json("c-000001", "INS-1001", "2026-11-20T10:00:00.000Z");
    newer["server"]["version"] = 8.into();
    newer["server"]["modified_by"] = "cy".into();
    newer["server"]["fields"]["temperature"] = 25.into();
    newer["server"]["etag"] = "\"8-y\"".into();
    update(
        &mut app,
        Action::ConflictLoaded(Ok(Box::new(desk_of(newer)))),
    );
    let desk = app.desk.as_ref().unwrap();
    assert_eq!(desk.etag.as_deref(), Some("\"8-y\""));
    assert_eq!(
        desk.changed_meanwhile.iter().collect::<Vec<_>>(),
        ["/temperature"]
    );
    assert_eq!(desk.choices.len(), 2, "every choice still applies");
    let text = &app.message.as_ref().unwrap().text;
    assert!(
        text.contains("version 8 by cy") && text.contains("1 field(s) marked ★"),
        "{text}"
    );
}

#[test]
fn closed_invalid_and_failed_submissions_say_why() {
    let mut app = app_with_desk();
    let effects = submitted(&mut app, Ok(SubmitOutcome::Closed { by: "tom".into() }));
    assert_eq!(
        effects,
        vec![Effect::DropDraft {
            id: "c-000001".into()
        }]
    );
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .contains("already resolved by tom")
    );
    assert_eq!(app.desk.as_ref().unwrap().detail.status, Status::Resolved);
    assert!(run(&mut app, &[Command::TakeLocal]).is_empty());
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .contains("Already resolved by tom")
    );

    let mut app = app_with_desk();
    submitted(
        &mut app,
        Ok(SubmitOutcome::Invalid {
            errors: vec![FieldError {
                path: "/site_id".into(),
                message: "names no item".into(),
            }],
        }),
    );
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .contains("/site_id: names no item")
    );

    let mut app = app_with_desk();
    run(&mut app, &[Command::TakeLocal]);
    submitted(
        &mut app,
        Err(SourceError::Unreachable("connection reset".into())),
    );
    let m = app.message.clone().unwrap();
    assert!(m.error && m.text.contains("connection reset") && m.text.contains("w to try again"));
    assert_eq!(
        choice(&app, "/notes"),
        Some(Choice::Local),
        "nothing is lost"
    );
}

#[test]
fn ticks_turn_the_spinner_and_draft_faults_are_shown() {
    let mut app = app();
    update(&mut app, Action::Tick);
    update(&mut app, Action::Tick);
    assert_eq!(app.spinner, 2);
    update(&mut app, Action::DraftFailed("disk full".into()));
    assert!(
        app.message
            .unwrap()
            .text
            .contains("Draft not saved: disk full")
    );
}

#[test]
fn esc_clears_a_filter_closes_overlays_goes_back_and_never_quits() {
    let mut app = app();
    run(&mut app, &[Command::Filter]);
    type_text(&mut app, "ins-1002");
    update(&mut app, Action::Accept);
    assert_eq!(app.queue.visible.len(), 1);
    run(&mut app, &[Command::Close]);
    assert_eq!(
        (app.queue.filter.as_str(), app.queue.visible.len(), app.quit),
        ("", 3, false),
        "Esc on a filtered list clears the filter"
    );
    run(&mut app, &[Command::Close, Command::Close]);
    assert!(!app.quit, "Esc never quits");
    let mut app = app_with_desk();
    run(&mut app, &[Command::Help]);
    run(&mut app, &[Command::Close]);
    assert_eq!((app.overlay.is_none(), app.screen), (true, Screen::Detail));
    run(&mut app, &[Command::Close]);
    assert_eq!((app.screen, app.quit), (Screen::List, false));
}

#[test]
fn quitting_asks_first_when_something_goes_with_the_desk() {
    let mut app = app();
    app.quit_warning = Some("Quitting ends the demo".into());
    run(&mut app, &[Command::Back]);
    assert!(matches!(app.overlay, Some(Overlay::ConfirmQuit { .. })));
    assert!(!app.quit);
    run(&mut app, &[Command::Close]);
    assert!(app.overlay.is_none() && !app.quit, "any other key stays");
    run(&mut app, &[Command::Back, Command::Confirm]);
    assert!(app.quit);
}

#[test]
fn equals_hides_the_unchanged_fields_and_the_cursor_skips_them() {
    let mut app = app();
    let mut with_unchanged = detail_json("c-000001", "INS-1001", "2026-11-20T10:00:00.000Z");
    for side in ["base", "local", "server"] {
        with_unchanged[side]["fields"]["inspector"] = "ana".into();
    }
    app.desk = Some(desk_of(with_unchanged));
    app.screen = Screen::Detail;
    run(&mut app, &[Command::Top]);
    assert_eq!(cursor_path(&app), "/inspector");
    run(&mut app, &[Command::ToggleUnchanged]);
    assert!(app.hide_unchanged);
    assert_eq!(cursor_path(&app), "/notes", "off the hidden row");
    run(&mut app, &[Command::Top]);
    assert_eq!(
        cursor_path(&app),
        "/notes",
        "the hidden row is never reached"
    );
    run(&mut app, &[Command::ToggleUnchanged, Command::Top]);
    assert_eq!(cursor_path(&app), "/inspector");
}

#[test]
fn brackets_move_through_the_queue_from_the_detail() {
    let mut app = app_with_desk();
    assert_eq!(
        run(&mut app, &[Command::NextInQueue]),
        vec![Effect::LoadConflict {
            id: "c-000002".into()
        }]
    );
    assert_eq!(selected(&app), "c-000002");
    assert_eq!(
        run(&mut app, &[Command::PreviousInQueue]),
        vec![Effect::LoadConflict {
            id: "c-000001".into()
        }]
    );
    assert!(run(&mut app, &[Command::PreviousInQueue]).is_empty());
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .contains("first conflict")
    );
}

#[test]
fn page_keys_scroll_the_field_panel_and_another_field_starts_at_its_top() {
    let mut app = app_with_desk();
    run(
        &mut app,
        &[Command::PageDown, Command::PageDown, Command::PageUp],
    );
    assert_eq!(app.pane_scroll, 10);
    run(&mut app, &[Command::Down]);
    assert_eq!(app.pane_scroll, 0);
    // In the list the page keys move the selection.
    let mut list = fixture::app();
    run(&mut list, &[Command::PageDown]);
    assert_eq!(selected(&list), "c-000003");
}

#[test]
fn a_message_goes_when_the_supervisor_moves_on() {
    let mut app = app_with_desk();
    submitted(
        &mut app,
        Ok(SubmitOutcome::Invalid {
            errors: vec![FieldError {
                path: "/status".into(),
                message: "not listed".into(),
            }],
        }),
    );
    assert!(app.message.is_some());
    run(&mut app, &[Command::Back]);
    assert_eq!(app.message, None, "it was about the conflict left behind");
}

#[test]
fn i_tells_the_story_behind_the_queue_when_there_is_one() {
    let mut app = app();
    run(&mut app, &[Command::Story]);
    assert!(app.overlay.is_none());
    assert!(app.message.as_ref().unwrap().text.contains("No story here"));
    app.story = vec!["08:10 ben edits INS-1001's notes on the web".into()];
    run(&mut app, &[Command::Story, Command::Down]);
    assert_eq!(app.overlay, Some(Overlay::Story { scroll: 1 }));
    run(&mut app, &[Command::Close]);
    assert!(app.overlay.is_none() && !app.quit);
}

/// c-000002 on the desk: its /site_id names S-3, which left the sites list.
fn app_on_an_invalid_reference() -> App {
    let mut app = app();
    let mut desk = desk_of(fixture::invalid_json());
    desk.schema = Some(fixture::schema_with_sites());
    desk.lists = fixture::sites();
    app.desk = Some(desk);
    app.screen = Screen::Detail;
    app
}

#[test]
fn a_side_naming_an_unlisted_item_is_refused_when_chosen() {
    let mut app = app_on_an_invalid_reference();
    assert_eq!(cursor_path(&app), "/site_id");
    run(&mut app, &[Command::TakeLocal]);
    assert_eq!(choice(&app, "/site_id"), None);
    let said = &app.message.as_ref().unwrap().text;
    assert!(
        said.contains("S-3 Old mill substation — removed from sites"),
        "{said}"
    );
    run(&mut app, &[Command::AllServer]);
    assert_eq!(choice(&app, "/site_id"), None, "S leaves it open too");
}

#[test]
fn the_picker_moves_filters_and_takes_an_item() {
    let mut app = app_on_an_invalid_reference();
    run(&mut app, &[Command::Manual]);
    assert!(matches!(
        app.overlay,
        Some(Overlay::Pick { selected: 0, .. })
    ));
    type_text(&mut app, "j");
    assert!(
        matches!(&app.overlay, Some(Overlay::Pick { selected: 1, filter, .. }) if filter.is_empty()),
        "j moves while nothing is typed"
    );
    type_text(&mut app, "harb");
    assert!(
        matches!(&app.overlay, Some(Overlay::Pick { selected: 0, filter, .. }) if filter == "harb")
    );
    let effects = update(&mut app, Action::Accept);
    assert_eq!(choice(&app, "/site_id"), Some(Choice::Manual(json!("S-1"))));
    assert!(matches!(effects[..], [Effect::SaveDraft { .. }]));
    assert!(app.overlay.is_none());
}

#[test]
fn number_keys_go_straight_to_each_view_but_never_out_of_a_conflict() {
    let mut app = app();
    assert_eq!(run(&mut app, &[Command::ViewStats]), [Effect::LoadStats]);
    assert_eq!(app.screen, Screen::Stats);
    assert_eq!(
        run(&mut app, &[Command::ViewSyncs]),
        [Effect::LoadSyncs { filters: vec![] }]
    );
    assert_eq!(app.screen, Screen::Syncs);
    assert_eq!(run(&mut app, &[Command::ViewAudit]), [Effect::LoadAudit]);
    assert_eq!(app.screen, Screen::Audit);
    assert!(run(&mut app, &[Command::ViewQueue]).is_empty());
    assert_eq!(app.screen, Screen::List);
    let mut app = app_with_desk();
    assert_eq!(app.screen, Screen::Detail);
    assert!(run(&mut app, &[Command::ViewSyncs]).is_empty());
    assert_eq!(
        app.screen,
        Screen::Detail,
        "a decision in progress is left with q only"
    );
}

/// The invalid-reference conflict with the sites list at hand.
fn invalid_desk() -> syncdesk::tui::desk::Desk {
    let mut desk = desk_of(fixture::invalid_json());
    desk.schema = Some(fixture::schema_with_sites());
    desk.lists = fixture::sites();
    syncdesk::tui::desk::Desk::new(
        syncdesk::client::Loaded {
            detail: desk.detail.clone(),
            etag: desk.etag.clone(),
            schema: desk.schema.clone(),
            lists: desk.lists.clone(),
        },
        None,
    )
}

#[test]
fn space_marks_a_marks_all_the_filter_shows_and_b_reads_the_marked() {
    use syncdesk::tui::bulk::Settled;
    let mut app = app();
    assert!(run(&mut app, &[Command::Bulk]).is_empty(), "nothing marked");
    assert!(app.message.as_ref().unwrap().text.contains("Space marks"));
    run(&mut app, &[Command::Mark, Command::Down, Command::Mark]);
    assert_eq!(app.queue.marked.len(), 2);
    run(&mut app, &[Command::Mark]);
    assert_eq!(app.queue.marked.len(), 1, "Space again unmarks");
    run(&mut app, &[Command::MarkAll]);
    assert_eq!(app.queue.marked.len(), 3);
    run(&mut app, &[Command::MarkAll]);
    assert!(app.queue.marked.is_empty(), "a again unmarks all shown");
    type_text(&mut app, "");
    run(&mut app, &[Command::MarkAll]);
    let effects = run(&mut app, &[Command::Bulk]);
    let Some(Effect::LoadBulk { ids }) = effects.first() else {
        panic!("{effects:?}");
    };
    assert_eq!(ids, &["c-000003", "c-000001", "c-000002"], "queue order");
    assert_eq!(app.overlay, Some(Overlay::Bulk));
    // Read: two edit conflicts on /notes and /status, one invalid reference.
    let edit = |id: &str, record: &str| {
        Ok(Box::new(desk_of(detail_json(
            id,
            record,
            "2026-11-20T10:00:00.000Z",
        ))))
    };
    update(
        &mut app,
        syncdesk::tui::Action::BulkLoaded(vec![
            ("c-000003".into(), edit("c-000003", "INS-1003")),
            ("c-000001".into(), edit("c-000001", "INS-1001")),
            ("c-000002".into(), Ok(Box::new(invalid_desk()))),
        ]),
    );
    let bulk = app.bulk.as_ref().unwrap();
    assert_eq!(bulk.paths, ["/notes", "/status", "/site_id"]);
    // Local for /notes alone settles neither kind: /status stays, /site_id is not it.
    run(&mut app, &[Command::Down, Command::TakeLocal]);
    let outcomes = &app.bulk.as_ref().unwrap().outcomes;
    assert!(
        matches!(&outcomes[0].1, Settled::LeftOpen(why) if why.contains("does not settle /status")),
        "{outcomes:?}"
    );
    assert!(
        run(&mut app, &[Command::Confirm]).is_empty(),
        "settles none: nothing sent"
    );
    // Back, then local for every conflicting field: the two edit conflicts settle; the
    // removed site stays open (local names S-3, no longer listed), never forced.
    run(
        &mut app,
        &[Command::Close, Command::Top, Command::TakeLocal],
    );
    let bulk = app.bulk.as_ref().unwrap();
    assert_eq!(bulk.settling(), 2);
    assert!(
        matches!(&bulk.outcomes[0].1, Settled::WouldApply(c) if c == &["/notes → local", "/status → local"]),
        "{:?}",
        bulk.outcomes
    );
    assert!(
        matches!(&bulk.outcomes[2].1, Settled::LeftOpen(why) if why.contains("/site_id")),
        "{:?}",
        bulk.outcomes
    );
    let effects = run(&mut app, &[Command::Confirm]);
    let Some(Effect::SubmitBulk {
        ids,
        decision,
        user,
    }) = effects.first()
    else {
        panic!("{effects:?}");
    };
    assert_eq!(ids, &["c-000003", "c-000001"]);
    assert_eq!(user, "sue");
    assert_eq!(decision.said(), "take local for every conflicting field");
    assert!(
        run(&mut app, &[Command::Close]).is_empty(),
        "waits for the answers"
    );
    assert_eq!(app.overlay, Some(Overlay::Bulk));
    let effects = update(
        &mut app,
        syncdesk::tui::Action::BulkSent(vec![
            ("c-000003".into(), Settled::Applied(Some(8))),
            ("c-000001".into(), Settled::Closed("tom".into())),
        ]),
    );
    assert_eq!(effects, [Effect::LoadQueue { all: false }]);
    assert_eq!(
        app.message.as_ref().unwrap().text,
        "1 applied, 0 stale, 1 closed, 0 refused, 1 left open."
    );
    assert!(!app.queue.marked.contains("c-000003"), "applied: unmarked");
    assert!(
        app.queue.marked.contains("c-000001"),
        "not applied: still marked"
    );
    run(&mut app, &[Command::Close]);
    assert_eq!(app.overlay, None);
    assert!(app.bulk.is_none());
}

#[test]
fn a_reference_field_is_set_to_an_item_picked_from_its_list_for_all() {
    use syncdesk::tui::bulk::Settled;
    let mut app = app();
    run(&mut app, &[Command::Mark]);
    run(&mut app, &[Command::Bulk]);
    update(
        &mut app,
        syncdesk::tui::Action::BulkLoaded(vec![("c-000001".into(), Ok(Box::new(invalid_desk())))]),
    );
    run(&mut app, &[Command::Open]);
    assert!(
        app.bulk.as_ref().unwrap().picking.is_none(),
        "every field is no reference"
    );
    run(&mut app, &[Command::Down, Command::Open]);
    let (path, items, _) = app.bulk.as_ref().unwrap().picking.clone().unwrap();
    assert_eq!(path, "/site_id");
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["S-1", "S-2"], "only listed items are offered");
    run(&mut app, &[Command::Down, Command::Open]);
    let bulk = app.bulk.as_ref().unwrap();
    assert_eq!(
        bulk.decision.as_ref().unwrap().said(),
        "set /site_id to S-2"
    );
    assert_eq!(
        bulk.outcomes,
        [(
            "c-000001".to_string(),
            Settled::WouldApply(vec!["/site_id → S-2".into()])
        )]
    );
}

#[test]
fn the_sync_log_filters_by_user_device_outcome_and_type_on_the_server() {
    let mut app = app();
    run(&mut app, &[Command::ViewSyncs, Command::Filter]);
    assert_eq!(
        app.overlay,
        Some(Overlay::Filter {
            before: String::new()
        })
    );
    type_text(&mut app, "user:ana invalid device:tab-17");
    assert!(
        app.queue.filter.is_empty(),
        "the queue's filter is not touched"
    );
    let effects = update(&mut app, syncdesk::tui::Action::Accept);
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        effects,
        [Effect::LoadSyncs {
            filters: pairs(&[
                ("user", "ana"),
                ("outcome", "invalid"),
                ("device", "tab-17")
            ])
        }]
    );
    assert_eq!(
        run(&mut app, &[Command::Refresh]),
        effects,
        "r keeps the filter"
    );
    // A word it cannot read: said, kept as typed to correct, nothing read.
    run(&mut app, &[Command::Filter]);
    type_text(&mut app, " colour:red");
    assert!(update(&mut app, syncdesk::tui::Action::Accept).is_empty());
    let said = &app.message.as_ref().unwrap().text;
    assert!(
        said.contains("\"colour:red\": filter with user:NAME"),
        "{said}"
    );
    run(&mut app, &[Command::Filter]);
    type_text(&mut app, "x");
    run(&mut app, &[Command::Close]);
    assert_eq!(
        app.syncs.filter, "user:ana invalid device:tab-17 colour:red",
        "Esc restores"
    );
    run(&mut app, &[Command::Filter]);
    for _ in 0.."user:ana invalid device:tab-17 colour:red".len() {
        update(&mut app, syncdesk::tui::Action::Erase);
    }
    type_text(&mut app, "outcome:maybe");
    assert!(update(&mut app, syncdesk::tui::Action::Accept).is_empty());
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .contains("\"maybe\" is no outcome")
    );
    // Corrected, it reads: the warning about it goes with it.
    run(&mut app, &[Command::Filter]);
    for _ in 0.."outcome:maybe".len() {
        update(&mut app, syncdesk::tui::Action::Erase);
    }
    type_text(&mut app, "device:tab-04");
    assert_eq!(
        update(&mut app, syncdesk::tui::Action::Accept),
        [Effect::LoadSyncs {
            filters: pairs(&[("device", "tab-04")])
        }]
    );
    assert_eq!(app.message, None, "the stale warning is gone");
}

//! What a person sees: the views rendered into ratatui's `TestBackend`, held to insta
//! snapshots (text), with style checks where colour or emphasis carries meaning.

mod common;
mod fixture;

use fixture::{app, app_with_desk, desk_of, detail_json};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use syncdesk::tui::app::{App, Layout, Theme};
use syncdesk::tui::update::update;
use syncdesk::tui::view::view;
use syncdesk::tui::{Action, Command};

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view(app, f)).unwrap();
    terminal
}

fn text(terminal: &Terminal<TestBackend>) -> String {
    common::buffer_text(terminal.backend().buffer())
}

fn screen(app: &App, width: u16, height: u16) -> String {
    text(&render(app, width, height))
}

fn press(app: &mut App, commands: &[Command]) {
    for c in commands {
        update(app, Action::Command(*c));
    }
}

#[test]
fn list() {
    insta::assert_snapshot!(screen(&app(), 120, 14));
}

#[test]
fn list_with_resolved_conflicts_shown() {
    let mut app = app();
    app.queue.items[0].status = syncdesk::protocol::Status::Resolved;
    app.queue.filter = "status:all".into();
    app.queue.refilter();
    update(&mut app, Action::Command(Command::Bottom));
    insta::assert_snapshot!(screen(&app, 120, 12));
}

#[test]
fn detail_side_by_side() {
    let mut app = app_with_desk();
    press(&mut app, &[Command::TakeLocal]);
    insta::assert_snapshot!(screen(&app, 120, 30));
}

#[test]
fn detail_stacked() {
    let mut app = app_with_desk();
    press(&mut app, &[Command::Layout]);
    insta::assert_snapshot!(screen(&app, 120, 30));
}

#[test]
fn detail_with_base() {
    let mut app = app_with_desk();
    press(&mut app, &[Command::Layout, Command::Layout]);
    insta::assert_snapshot!(screen(&app, 120, 30));
}

#[test]
fn detail_narrow_terminal_is_stacked() {
    insta::assert_snapshot!(screen(&app_with_desk(), 70, 30));
}

#[test]
fn help() {
    let mut app = app_with_desk();
    press(&mut app, &[Command::Help]);
    insta::assert_snapshot!(screen(&app, 100, 48));
}

#[test]
fn help_scrolls_on_a_short_terminal() {
    let mut app = app_with_desk();
    press(&mut app, &[Command::Help]);
    let top = screen(&app, 90, 24);
    assert!(
        top.contains("j/k scroll") && top.contains("everywhere"),
        "{top}"
    );
    press(&mut app, &[Command::Down; 80]);
    let bottom = screen(&app, 90, 24);
    assert!(
        bottom.contains("★") && !bottom.contains("everywhere"),
        "{bottom}"
    );
}

#[test]
fn preview() {
    let mut app = app_with_desk();
    press(&mut app, &[Command::AllLocal, Command::Submit]);
    insta::assert_snapshot!(screen(&app, 110, 30));
}

#[test]
fn message_after_a_412() {
    let mut app = app_with_desk();
    press(&mut app, &[Command::AllLocal]);
    let mut newer = detail_json("c-000001", "INS-1001", "2026-11-20T10:00:00.000Z");
    newer["server"]["version"] = 8.into();
    newer["server"]["modified_by"] = "cy".into();
    newer["server"]["fields"]["temperature"] = 25.into();
    app.opening = Some("c-000001".into());
    update(
        &mut app,
        Action::ConflictLoaded(Ok(Box::new(desk_of(newer)))),
    );
    insta::assert_snapshot!(screen(&app, 140, 30));
}

#[test]
fn too_small() {
    insta::assert_snapshot!(screen(&app_with_desk(), 40, 8));
}

#[test]
fn escape_sequences_in_values_are_shown_not_sent() {
    let mut hostile = detail_json(
        "c-000001",
        "INS-\u{1b}]0;pwned\u{7}",
        "2026-11-20T10:00:00.000Z",
    );
    hostile["local"]["fields"]["notes"] = "\u{1b}[2J\u{1b}[31mred\u{0} bell\u{7}\u{202e}".into();
    hostile["submitted_by"] = "ana\u{1b}[5m".into();
    let mut app = app();
    app.opening = Some("c-000001".into());
    update(
        &mut app,
        Action::ConflictLoaded(Ok(Box::new(desk_of(hostile)))),
    );
    let terminal = render(&app, 120, 30);
    let shown = text(&terminal);
    for cell in &terminal.backend().buffer().content {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || c == '\u{202e}'),
            "a control character reached the screen: {:?}",
            cell.symbol()
        );
    }
    assert!(shown.contains("^[[2J^[[31mred^@ bell^G<U+202E>"), "{shown}");
    assert!(shown.contains("INS-^[]0;pwned^G"), "{shown}");
    insta::assert_snapshot!(shown);
}

#[test]
fn classes_read_by_colour_and_by_marker() {
    let mut app = app_with_desk();
    app.theme = Theme { color: true };
    let terminal = render(&app, 120, 30);
    let buffer = terminal.backend().buffer();
    let row_of = |path: &str| {
        (0..buffer.area.height)
            .find(|&y| {
                let line: String = (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect();
                line.contains(&format!(" {path} "))
            })
            .unwrap()
    };
    let marker = |path: &str| buffer[(1, row_of(path))].clone();
    let notes = marker("/notes");
    assert_eq!((notes.symbol(), notes.fg), ("!", Color::Red));
    assert!(notes.modifier.contains(Modifier::BOLD));
    let temperature = marker("/temperature");
    assert_eq!((temperature.symbol(), temperature.fg), ("L", Color::Green));
    assert_eq!(marker("/site_id").symbol(), "S");
    // Without colour the markers still tell the classes apart.
    app.theme = Theme { color: false };
    let plain = render(&app, 120, 30);
    let cell = plain.backend().buffer()[(1, row_of("/notes"))].clone();
    assert_eq!((cell.symbol(), cell.fg), ("!", Color::Reset));
}

#[test]
fn each_side_marks_the_words_it_changed_since_the_base() {
    let mut app = app_with_desk();
    app.theme = Theme { color: true };
    app.layout = Layout::WithBase;
    let terminal = render(&app, 120, 34);
    let buffer = terminal.backend().buffer();
    let marked = |modifier: Modifier, fg: Option<Color>| -> String {
        buffer
            .content
            .iter()
            .filter(|c| c.modifier.contains(modifier) && fg.is_none_or(|f| c.fg == f))
            .map(|c| c.symbol())
            .collect()
    };
    // Base "Pump leaks at the flange."; the server added a sentence, the technician
    // reworded the end: each is underlined in its own side's colour, relative to the base.
    let server = marked(Modifier::UNDERLINED, Some(Color::Cyan));
    let local = marked(Modifier::UNDERLINED, Some(Color::Green));
    assert!(
        server.contains("Bolts") && server.contains("tightened"),
        "{server}"
    );
    assert!(!server.contains("badly"), "{server}");
    assert!(
        local.contains("badly") && local.contains("gasket"),
        "{local}"
    );
    assert!(!local.contains("Bolts"), "{local}");
    assert!(
        !server.contains("Pump") && !local.contains("Pump"),
        "what both kept from the base is plain"
    );
    // In the base, what a side took out is struck through.
    let struck = marked(Modifier::CROSSED_OUT, None);
    assert!(struck.contains("flange."), "{struck}");
}

#[test]
fn an_empty_text_and_an_absent_value_read_differently() {
    use syncdesk::model::json::Json;
    use syncdesk::tui::view::show;
    let empty = Json::parse("\"\"").unwrap();
    assert_eq!(show(Some(&empty)), "\"\"");
    assert_eq!(show(None), "(absent)");
    assert_ne!(show(Some(&empty)), show(None));
}

/// The app with a desk open on this detail.
fn app_on(detail: serde_json::Value) -> App {
    let mut app = app();
    app.desk = Some(desk_of(detail));
    app.screen = syncdesk::tui::app::Screen::Detail;
    app
}

#[test]
fn detail_deleted_on_server() {
    insta::assert_snapshot!(screen(&app_on(fixture::deleted_json()), 110, 24));
}

#[test]
fn detail_invalid_reference() {
    insta::assert_snapshot!(screen(&app_on(fixture::invalid_json()), 110, 24));
}

#[test]
fn a_server_still_on_the_base_reads_unchanged() {
    let mut conflict = fixture::invalid_json();
    conflict["server"]["version"] = 4.into();
    conflict["server"]["modified_by"] = "ana".into();
    conflict["server"]["last_modified"] = "2026-11-19T08:00:00.000Z".into();
    conflict["server"]["etag"] = "\"4-2026-11-19T08:00:00.000Z\"".into();
    let text = screen(&app_on(conflict), 110, 24);
    assert!(
        text.contains("Server: unchanged since base v4 (by ana, 2026-11-19 08:00)"),
        "{text}"
    );
    assert!(!text.contains("changed nothing"), "{text}");
}

#[test]
fn detail_resolved_is_read_only_with_its_audit() {
    let app = app_on(fixture::resolved_json());
    let text = screen(&app, 110, 24);
    assert!(
        !text.contains("s server") && !text.contains("w submit"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn small_terminal_70x20_keeps_the_record_and_the_way_out() {
    let list = screen(&app(), 70, 20);
    assert!(
        list.contains("INS-1001") && list.contains("edit-conflict"),
        "{list}"
    );
    assert!(
        list.contains("? help") && list.contains("q back/quit"),
        "{list}"
    );
    insta::assert_snapshot!("list_70x20", list);
    insta::assert_snapshot!("detail_70x20", screen(&app_with_desk(), 70, 20));
}

#[test]
fn wide_terminal_250_columns() {
    insta::assert_snapshot!("list_250", screen(&app(), 250, 20));
    insta::assert_snapshot!("detail_250", screen(&app_with_desk(), 250, 24));
}

#[test]
fn the_picker_of_a_reference() {
    let mut app = app();
    let mut desk = desk_of(fixture::invalid_json());
    desk.schema = Some(fixture::schema_with_sites());
    desk.lists = fixture::sites();
    app.desk = Some(desk);
    app.screen = syncdesk::tui::app::Screen::Detail;
    let detail = screen(&app, 110, 24);
    assert!(
        detail.contains("→ S-3 Old mill substation — removed from sites"),
        "{detail}"
    );
    press(&mut app, &[Command::Manual]);
    insta::assert_snapshot!(screen(&app, 110, 24));
}

#[test]
fn the_text_merge_editor() {
    let mut app = app_with_desk();
    app.external_editor = false;
    press(&mut app, &[Command::Manual]);
    let text = screen(&app, 110, 24);
    assert!(
        text.contains("<<<<<<< local") && text.contains(">>>>>>> server"),
        "{text}"
    );
    assert!(text.contains("1 overlap(s) marked"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn sync_log() {
    let mut app = app();
    let entry = |seq: u64,
                 user: &str,
                 outcome: &str,
                 status: u16,
                 conflict: Option<&str>,
                 body: Option<&str>| {
        syncdesk::protocol::SyncLogEntry {
            seq,
            at: "2026-11-20T17:4{seq}:00.000Z"
                .replace("{seq}", &seq.to_string())
                .parse()
                .unwrap(),
            user: user.into(),
            device_id: Some("tab-17".into()),
            method: "PUT".into(),
            record_type: "inspections".into(),
            record_id: Some("INS-1001".into()),
            status,
            outcome: outcome.into(),
            problem: (status >= 400).then(|| {
                if status == 409 {
                    "edit-conflict"
                } else {
                    "validation"
                }
                .into()
            }),
            paths: if status == 200 {
                vec![]
            } else {
                vec!["/notes".into()]
            },
            conflict_id: conflict.map(String::from),
            body: body.map(String::from),
            base_version: Some(4),
            version: Some(if status == 200 { 5 } else { 6 }),
            kept: vec![],
        }
    };
    app.syncs.entries = vec![
        entry(
            3,
            "ana",
            "invalid",
            422,
            None,
            Some(r#"{"fields": {"status": "maybe"}}"#),
        ),
        entry(2, "ana", "edit-conflict", 409, Some("c-000001"), None),
        entry(1, "ben", "applied", 200, None, None),
    ];
    app.syncs.loaded = true;
    app.screen = syncdesk::tui::app::Screen::Syncs;
    insta::assert_snapshot!(screen(&app, 120, 14));
}

#[test]
fn sync_log_explains_a_conflict_with_who_changed_what_since() {
    let mut app = app();
    let version = |n: u64, by: &str, device: &str| syncdesk::protocol::VersionSummary {
        version: n,
        last_modified: format!("2026-11-20T16:0{n}:00Z").parse().unwrap(),
        modified_by: by.into(),
        device_id: Some(device.into()),
        deleted: false,
    };
    app.syncs.entries = vec![syncdesk::protocol::SyncLogEntry {
        seq: 2,
        at: "2026-11-20T17:42:00Z".parse().unwrap(),
        user: "ana".into(),
        device_id: Some("tab-17".into()),
        method: "PUT".into(),
        record_type: "inspections".into(),
        record_id: Some("INS-1001".into()),
        status: 409,
        outcome: "edit-conflict".into(),
        problem: Some("edit-conflict".into()),
        paths: vec!["/notes".into()],
        conflict_id: Some("c-000001".into()),
        body: None,
        base_version: Some(4),
        version: Some(6),
        kept: vec![],
    }];
    app.syncs.loaded = true;
    app.syncs.histories.insert(
        ("inspections".into(), "INS-1001".into()),
        Ok((1..=6)
            .map(|n| version(n, if n == 5 { "ben" } else { "sue" }, "web"))
            .collect()),
    );
    app.screen = syncdesk::tui::app::Screen::Syncs;
    let text = screen(&app, 120, 12);
    assert!(
        text.contains("version 5 by ben (web) at 2026-11-20 16:05, version 6 by sue (web)"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn sync_log_in_numbers() {
    let mut app = app();
    let day = |group: &str, outcomes: &[(&str, u64)]| {
        let outcomes: std::collections::BTreeMap<String, u64> =
            outcomes.iter().map(|(o, n)| (o.to_string(), *n)).collect();
        let writes = outcomes.values().sum();
        let refused = ["edit-conflict", "stale", "invalid"]
            .iter()
            .filter_map(|o| outcomes.get(*o))
            .sum::<u64>();
        syncdesk::protocol::StatsGroup {
            group: group.into(),
            writes,
            refused,
            refused_share: refused as f64 / writes as f64,
            outcomes,
        }
    };
    let groups = vec![
        day(
            "2026-11-19",
            &[("applied", 6), ("edit-conflict", 3), ("stale", 1)],
        ),
        day(
            "2026-11-20",
            &[("applied", 8), ("auto-merged", 3), ("invalid", 1)],
        ),
    ];
    app.syncs.stats = Some(syncdesk::protocol::SyncStats {
        by: "day".into(),
        writes: 22,
        refused: 5,
        refused_share: 5.0 / 22.0,
        groups,
    });
    app.screen = syncdesk::tui::app::Screen::Stats;
    insta::assert_snapshot!(screen(&app, 80, 20));
}

#[test]
fn audit_trail() {
    let mut app = app();
    let entry: syncdesk::protocol::AuditEntry = serde_json::from_value(serde_json::json!({
        "conflict_id": "c-000001", "record_type": "inspections", "record_id": "INS-1001",
        "kind": "edit-conflict", "by": "sue", "at": "2026-11-20T17:45:00.000Z",
        "resulting_version": 8, "kept_deleted": false, "choices": {"/notes": "local"},
        "fields": [{"path": "/notes", "choice": "local", "value": "Pump leaks badly.",
                    "discarded": {"server": "Pump leaks."}}]
    }))
    .unwrap();
    app.syncs.audit = Some(vec![entry]);
    app.screen = syncdesk::tui::app::Screen::Audit;
    insta::assert_snapshot!(screen(&app, 100, 12));
}

#[test]
fn bulk_triage_previews_each_conflict_and_names_what_stays_open() {
    let mut app = app();
    update(&mut app, Action::Command(Command::MarkAll));
    let list = screen(&app, 120, 14);
    assert!(list.contains("3 marked (b decides for all)"), "{list}");
    assert_eq!(list.matches('◆').count(), 3, "{list}");
    update(&mut app, Action::Command(Command::Bulk));
    let mut invalid = desk_of(fixture::invalid_json());
    invalid.schema = Some(fixture::schema_with_sites());
    invalid.lists = fixture::sites();
    let edit = |id: &str, record: &str| {
        Ok(Box::new(desk_of(detail_json(
            id,
            record,
            "2026-11-20T10:00:00.000Z",
        ))))
    };
    update(
        &mut app,
        Action::BulkLoaded(vec![
            ("c-000001".into(), edit("c-000001", "INS-1001")),
            ("c-000002".into(), Ok(Box::new(invalid))),
            ("c-000003".into(), edit("c-000003", "INS-1003")),
        ]),
    );
    let choosing = screen(&app, 120, 20);
    assert!(
        choosing.contains("3 marked conflict(s). Decide for:"),
        "{choosing}"
    );
    update(&mut app, Action::Command(Command::TakeServer));
    insta::assert_snapshot!(screen(&app, 120, 20));
}

#[test]
fn the_footer_names_what_y_answers_yes_to() {
    let footer = |app: &App| screen(app, 120, 14).lines().last().unwrap().to_string();
    let mut app = app();
    app.quit_warning = Some("Quitting ends the demo".into());
    press(&mut app, &[Command::Back]);
    let quitting = footer(&app);
    assert!(quitting.contains("y quit"), "{quitting}");
    assert!(!quitting.contains("send"), "{quitting}");
    let mut app = fixture::app();
    app.overlay = Some(syncdesk::tui::app::Overlay::ClaimedOpen {
        id: "c-000001".into(),
        by: "sue".into(),
        until: "2026-11-20T10:15:00Z".into(),
    });
    let claimed = footer(&app);
    assert!(claimed.contains("y open anyway"), "{claimed}");
    let mut app = app_with_desk();
    press(&mut app, &[Command::TakeLocal, Command::Submit]);
    let preview = footer(&app);
    assert!(preview.contains("y send"), "{preview}");
}

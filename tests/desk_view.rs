//! What a person sees: the views rendered into ratatui's `TestBackend`, held to insta
//! snapshots (text), with style checks where colour or emphasis carries meaning.

mod common;
mod fixture;

use fixture::{app, app_with_desk, desk_of, detail_json};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use syncdesk::tui::app::{App, Theme};
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
    press(&mut app, &[Command::Down; 40]);
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
fn word_differences_are_marked_in_both_texts() {
    let app = app_with_desk();
    let terminal = render(&app, 120, 30);
    let buffer = terminal.backend().buffer();
    let styled: Vec<(String, Modifier)> = buffer
        .content
        .iter()
        .filter(|c| {
            c.modifier
                .intersects(Modifier::CROSSED_OUT | Modifier::UNDERLINED)
        })
        .map(|c| (c.symbol().to_string(), c.modifier))
        .collect();
    let removed: String = styled
        .iter()
        .filter(|(_, m)| m.contains(Modifier::CROSSED_OUT))
        .map(|(s, _)| s.as_str())
        .collect();
    let added: String = styled
        .iter()
        .filter(|(_, m)| m.contains(Modifier::UNDERLINED))
        .map(|(s, _)| s.as_str())
        .collect();
    assert!(
        removed.contains("Bolts") && removed.contains("tightened"),
        "{removed}"
    );
    assert!(
        added.contains("badly") && added.contains("gasket"),
        "{added}"
    );
    assert!(
        !removed.contains("Pump") && !added.contains("Pump"),
        "equal words are plain"
    );
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

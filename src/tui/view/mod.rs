//! Drawing: `view(app, frame)` reads the state and changes nothing. Every value shown
//! passes through [`crate::sanitize::visible`].

mod detail;
mod list;

pub use list::local_time;
mod overlay;
mod syncs;
mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::Command;
use super::app::{App, Overlay, Screen};
use crate::sanitize::visible;

/// Below this the desk cannot show a conflict; it says so instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the whole desk.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = vec![
            Line::from("Terminal too small"),
            Line::from(format!(
                "{}x{} here; syncdesk needs {MIN_WIDTH}x{MIN_HEIGHT}.",
                area.width, area.height
            )),
        ];
        frame.render_widget(Paragraph::new(text).wrap(Default::default()), area);
        return;
    }
    let [top, body, news, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    title(app, frame, top);
    match app.screen {
        Screen::List => list::draw(app, frame, body),
        Screen::Syncs => syncs::draw(app, frame, body),
        Screen::Stats => syncs::draw_stats(app, frame, body),
        Screen::Audit => syncs::draw_audit(app, frame, body),
        Screen::Detail => match &app.desk {
            Some(desk) => detail::draw(app, desk, frame, body),
            None => list::draw(app, frame, body),
        },
    }
    message(app, frame, news);
    hints(app, frame, footer);
    match &app.overlay {
        Some(Overlay::Help { scroll }) => overlay::help(app, *scroll, frame, body),
        Some(Overlay::Story { scroll }) => overlay::story(app, *scroll, frame, body),
        Some(Overlay::Preview(preview)) => overlay::preview(app, preview, frame, body),
        Some(Overlay::Pick {
            row,
            filter,
            selected,
        }) => overlay::pick(app, *row, filter, *selected, frame, body),
        Some(Overlay::Text) => overlay::text_editor(app, frame, body),
        Some(Overlay::Edit { row, text, error }) => {
            overlay::edit(app, *row, text, error.as_deref(), frame, body)
        }
        Some(Overlay::ConfirmQuit { reason }) => overlay::confirm_quit(app, reason, frame, body),
        Some(Overlay::Bulk) => overlay::bulk(app, frame, body),
        Some(Overlay::ClaimedOpen { id, by, until }) => {
            overlay::claimed_open(app, id, by, until, frame, body)
        }
        Some(Overlay::Filter { .. }) | None => {}
    }
}

fn title(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let mut spans = vec![
        Span::styled("syncdesk", theme.title()),
        Span::raw(" · "),
        Span::raw(visible(&app.source).into_owned()),
    ];
    if let Some(busy) = &app.busy {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            format!(
                "{} {}…",
                SPINNER[app.spinner % SPINNER.len()],
                visible(busy)
            ),
            theme.info(),
        ));
    }
    frame.render_widget(Line::from(spans), area);
}

fn message(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let line = if let Some(Overlay::Filter { .. }) = &app.overlay {
        Line::from(vec![
            Span::styled("/", theme.key()),
            Span::raw(visible(app.filter_text()).into_owned()),
            Span::styled("█", theme.info()),
            Span::styled("   Enter keep · Esc cancel", theme.dim()),
        ])
    } else if let Some(m) = &app.message {
        let style = if m.error { theme.error() } else { theme.info() };
        Line::styled(visible(&m.text).into_owned(), style)
    } else {
        Line::default()
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let mut spans = Vec::new();
    // A resolved conflict is read-only: no deciding key is offered.
    let read_only = app.screen == Screen::Detail
        && app
            .desk
            .as_ref()
            .is_some_and(|d| d.detail.status == crate::protocol::Status::Resolved);
    for (command, key, word) in app.keymap.hints(app.scope()) {
        if read_only && command.decides() {
            continue;
        }
        // A deleted record is restored or kept deleted, not submitted.
        let deleted = app.desk.as_ref().is_some_and(|d| d.deleted_on_server());
        // The sync log's views share the list's keys, but only the log filters (by user,
        // device, outcome, type), none sorts or marks, and only the log's lines open
        // anything.
        let offered = match command {
            Command::Submit => !deleted,
            Command::Restore | Command::KeepDeleted => deleted,
            Command::Filter => matches!(app.screen, Screen::List | Screen::Syncs),
            Command::Sort | Command::Mark | Command::MarkAll | Command::Bulk => {
                app.screen == Screen::List
            }
            Command::Open => matches!(app.screen, Screen::List | Screen::Syncs | Screen::Detail),
            _ => true,
        };
        if !offered {
            continue;
        }
        // `Tab` names where it goes from here; `y` what it answers yes to.
        let word = match (command, app.screen, &app.overlay) {
            (Command::Confirm, _, Some(Overlay::ConfirmQuit { .. })) => "quit",
            (Command::Confirm, _, Some(Overlay::ClaimedOpen { .. })) => "open anyway",
            (Command::SwitchView, Screen::Syncs, _) => "numbers",
            (Command::SwitchView, Screen::Stats, _) => "audit",
            (Command::SwitchView, Screen::Audit, _) => "queue",
            _ => word,
        };
        if !spans.is_empty() {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {word}")));
    }
    frame.render_widget(Line::from(spans), area);
}

/// A value as one line of text: strings as they are, anything else as JSON, absence
/// said in words; control characters made visible.
pub fn show(value: Option<&crate::model::json::Json>) -> String {
    use crate::model::json::Json;
    match value {
        None => "(absent)".into(),
        // An empty text is written as JSON writes it, so it never reads as nothing.
        Some(Json::String(s)) if s.as_str().is_empty() => "\"\"".into(),
        Some(Json::String(s)) => visible(s).into_owned(),
        Some(v) => visible(&v.to_string()).into_owned(),
    }
}

/// `text` cut to `width` columns, its last one `…` when something was cut.
pub fn fit(text: String, width: usize) -> String {
    if text.chars().count() <= width {
        return text;
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A rectangle of at most `width` x `height` in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

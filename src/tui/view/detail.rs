//! One conflict: a row per field path with its class, the sides, the decision; below,
//! the selected field in full with its word-level differences.

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table, TableState, Wrap};

use super::list::local_time;
use super::show;
use crate::merge::{Choice, EditOp, InlineDiff};
use crate::model::json::Json;
use crate::protocol::Status;
use crate::sanitize::visible;
use crate::tui::app::{App, Layout, Theme};
use crate::tui::desk::{Desk, Row};

/// Below this width "side by side" and "with base" are drawn stacked.
const SIDE_BY_SIDE_WIDTH: u16 = 90;

pub fn draw(app: &App, desk: &Desk, frame: &mut Frame, area: Rect) {
    let layout = match app.layout {
        Layout::SideBySide | Layout::WithBase if area.width < SIDE_BY_SIDE_WIDTH => Layout::Stacked,
        other => other,
    };
    // The rows take what they need, up to 55%; the selected field's panel the rest, so a
    // short record leaves its values room to be read.
    let per_row = if layout == Layout::Stacked { 3 } else { 1 };
    let needed = (desk.shown(app.hide_unchanged).len() as u16).saturating_mul(per_row) + 1;
    let at_most = area.height.saturating_sub(4) * 55 / 100;
    let [head, rows_area, pane] = Split::vertical([
        Constraint::Length(4),
        Constraint::Length(needed.min(at_most).max(2)),
        Constraint::Min(4),
    ])
    .areas(area);
    header(app, desk, frame, head);
    rows(app, desk, layout, frame, rows_area);
    field(app, desk, frame, pane);
}

fn header(app: &App, desk: &Desk, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let d = &desk.detail;
    let kind = d.kind.name();
    let status = match (&d.status, &d.resolution) {
        (Status::Open, _) => "open".to_string(),
        (Status::Resolved, Some(r)) => format!("resolved by {}", visible(&r.by)),
        (Status::Resolved, None) => "resolved".to_string(),
    };
    let first = Line::from(vec![
        Span::styled(
            format!("{} ({})", visible(&d.record_id), visible(&d.record_type)),
            theme.title(),
        ),
        Span::raw(format!(" · {kind} · {} · {status}", visible(&d.id))),
    ]);
    let width = area.width as usize;
    // Who changed what since the base, and when, every time in the one zone named here.
    let time = |t| local_time(t, &app.tz);
    let since = d.base.as_ref().map_or(String::new(), |b| {
        format!(" since base v{} ({})", b.version, time(b.last_modified))
    });
    let server = match &d.server {
        Some(s) if s.deleted => format!(
            "Server: DELETED by {}, {} (v{}){since}",
            visible(&s.modified_by),
            time(s.last_modified),
            s.version
        ),
        // Still the base (an invalid reference parks without the server moving): nobody
        // changed anything, and the base's author did not "change nothing".
        Some(s) if d.base.as_ref().is_some_and(|b| b.version == s.version) => format!(
            "Server: unchanged since base v{} (by {}, {})",
            s.version,
            visible(&s.modified_by),
            time(s.last_modified)
        ),
        Some(s) => format!(
            "Server: {} changed {}{since} → v{}, {}",
            visible(&s.modified_by),
            changed_paths(desk, |r| r.server_changed()),
            s.version,
            time(s.last_modified)
        ),
        None => "Server: no record yet (a parked create)".into(),
    };
    let zone = app.tz.iana_name().unwrap_or("local time");
    let captured = d
        .captured_at
        .map_or(String::new(), |t| format!(", captured {}", time(t)));
    let local = format!(
        "Local: {} on {} changed {}{captured} · times in {zone}",
        visible(&d.submitted_by),
        visible(d.device_id.as_deref().unwrap_or("an unnamed device")),
        changed_paths(desk, |r| r.local_changed()),
    );
    let (decided, total) = desk.progress();
    let mut third = if let (Status::Resolved, Some(r)) = (d.status, &d.resolution) {
        let made = if r.kept_deleted {
            "kept it deleted".to_string()
        } else {
            r.resulting_version
                .map_or("resolved it".to_string(), |v| format!("wrote version {v}"))
        };
        vec![Span::styled(
            format!(
                "Resolved by {}, {}: {made} · read-only; each field's choice below",
                visible(&r.by),
                time(r.at)
            ),
            theme.decided(),
        )]
    } else if desk.deleted_on_server() && d.status == Status::Open {
        let key = |c| app.keymap.key_for(crate::tui::keymap::Scope::Detail, c);
        vec![Span::styled(
            format!(
                "Deleted on the server: {} restores it with the fields below · {} keeps it deleted",
                key(crate::tui::action::Command::Restore),
                key(crate::tui::action::Command::KeepDeleted)
            ),
            theme.error(),
        )]
    } else {
        vec![Span::styled(
            format!("{decided} of {total} conflicting fields decided"),
            if decided == total {
                theme.decided()
            } else {
                theme.info()
            },
        )]
    };
    let hidden = if app.hide_unchanged {
        format!(
            " ({} unchanged hidden)",
            desk.rows.len() - desk.shown(true).len()
        )
    } else {
        String::new()
    };
    third.push(Span::raw(format!(
        " · {} fields{hidden} · layout: {}",
        desk.rows.len(),
        app.layout.name()
    )));
    if !desk.changed_meanwhile.is_empty() {
        third.push(Span::styled(
            format!(
                " · ★ {} changed on the server meanwhile",
                desk.changed_meanwhile.len()
            ),
            theme.info(),
        ));
    }
    frame.render_widget(
        Paragraph::new(vec![
            first,
            Line::raw(super::fit(visible(&server).into_owned(), width)),
            Line::raw(super::fit(visible(&local).into_owned(), width)),
            Line::from(third),
        ]),
        area,
    );
}

/// The paths a side changed, the first few named: `/notes, /status and 2 more`.
fn changed_paths(desk: &Desk, changed: impl Fn(&Row) -> bool) -> String {
    let paths: Vec<&str> = desk
        .rows
        .iter()
        .filter(|r| changed(r))
        .map(|r| r.path.as_str())
        .collect();
    match paths.len() {
        0 => "nothing".into(),
        n if n <= 3 => paths.join(", "),
        n => format!("{} and {} more", paths[..2].join(", "), n - 2),
    }
}

/// A row's marker: its class's, or `✎` for what the technician changed in a record
/// deleted on the server (nobody else changed it: it is not "both changed").
fn marker(desk: &Desk, row: &Row) -> &'static str {
    if desk.deleted_on_server() && row.class == crate::merge::Class::Local {
        "✎"
    } else {
        Theme::marker(row.class)
    }
}

/// What the row will be: the decision, or how it merged; for a resolved conflict, what
/// its resolution chose.
fn decision(desk: &Desk, row: &Row) -> (String, bool) {
    if let Some(r) = &desk.detail.resolution {
        let chose = r
            .choices
            .get(&row.path)
            .map_or(String::new(), |c| match c.as_str() {
                "manual" => "took manual".into(),
                side => format!("took {side}"),
            });
        return (chose, true);
    }
    match desk.choices.get(&row.path) {
        Some(Choice::Server) => ("→ server".into(), true),
        Some(Choice::Local) => ("→ local".into(), true),
        Some(Choice::Manual(_)) => ("→ manual".into(), true),
        None if row.needs_decision() => ("undecided".into(), false),
        None => match row.class {
            crate::merge::Class::Local if desk.deleted_on_server() => {
                ("technician's edit".into(), true)
            }
            crate::merge::Class::Local => ("local (merged)".into(), true),
            crate::merge::Class::Server => ("server (merged)".into(), true),
            crate::merge::Class::BothSame => ("same".into(), true),
            _ => (String::new(), true),
        },
    }
}

fn rows(app: &App, desk: &Desk, layout: Layout, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let height = if layout == Layout::Stacked { 3 } else { 1 };
    let fit = (area.height.saturating_sub(1) / height).max(1) as usize;
    let shown = desk.shown(app.hide_unchanged);
    // The selected row stays in view: the window ends at it when it would fall below.
    let at = shown.iter().position(|&i| i == desk.cursor).unwrap_or(0);
    let first = at.saturating_sub(fit - 1);
    // A deleted record has no current values: the column shows its last live version.
    let server = if desk.deleted_on_server() {
        "Server (deleted; last live)"
    } else {
        "Server"
    };
    let (header, widths): (Vec<&str>, Vec<Constraint>) = match layout {
        Layout::SideBySide => (
            vec!["", "Field", server, "Local", "Decision"],
            vec![
                Constraint::Length(2),
                Constraint::Fill(2),
                Constraint::Fill(3),
                Constraint::Fill(3),
                Constraint::Length(17),
            ],
        ),
        Layout::WithBase => (
            vec!["", "Field", "Base", server, "Local", "Decision"],
            vec![
                Constraint::Length(2),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Length(17),
            ],
        ),
        Layout::Stacked => (
            vec!["", "Field · Server · Local"],
            vec![Constraint::Length(2), Constraint::Fill(1)],
        ),
    };
    // Each value cut to its column, ending in `…` when it does not fit (as `merge` does).
    let columns = Split::horizontal(widths.clone()).spacing(1).split(area);
    let width_of = |column: usize| columns.get(column).map_or(0, |c| c.width as usize);
    let lines = shown[first..].iter().take(fit).map(|&i| {
        let row = &desk.rows[i];
        let meanwhile = desk.changed_meanwhile.contains(&row.path);
        let marker = format!("{}{}", if meanwhile { "★" } else { " " }, marker(desk, row));
        let (what, settled) = decision(desk, row);
        let what_style = if settled {
            theme.decided()
        } else {
            theme.error()
        };
        let mark = Cell::from(Span::styled(marker, theme.class(row.class)));
        let path = Cell::from(Span::styled(
            visible(&row.path).into_owned(),
            theme.class(row.class),
        ));
        let cell = |v: &Option<Json<'static>>, column: usize| {
            Cell::from(super::fit(show(v.as_ref()), width_of(column)))
        };
        match layout {
            Layout::SideBySide => TableRow::new([
                mark,
                path,
                cell(&row.server, 2),
                cell(&row.local, 3),
                Cell::from(Span::styled(what, what_style)),
            ]),
            Layout::WithBase => TableRow::new([
                mark,
                path,
                cell(&row.base, 2),
                cell(&row.server, 3),
                cell(&row.local, 4),
                Cell::from(Span::styled(what, what_style)),
            ]),
            Layout::Stacked => {
                let text = Text::from(vec![
                    Line::from(vec![
                        Span::styled(visible(&row.path).into_owned(), theme.class(row.class)),
                        Span::raw("  "),
                        Span::styled(what, what_style),
                    ]),
                    Line::raw(super::fit(
                        format!("server: {}", show(row.server.as_ref())),
                        width_of(1),
                    )),
                    Line::raw(super::fit(
                        format!("local:  {}", show(row.local.as_ref())),
                        width_of(1),
                    )),
                ]);
                TableRow::new([mark, Cell::from(text)]).height(3)
            }
        }
    });
    let table = Table::new(lines, widths)
        .header(TableRow::new(header).style(theme.title()))
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(at - first));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The selected field in full: both texts with what differs marked, the base with
/// `Tab`'s third layout, and the manual value when there is one.
fn field(app: &App, desk: &Desk, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let Some(row) = desk.current() else {
        return;
    };
    let d = &desk.detail;
    let mut lines = Vec::new();
    let server_label = match &d.server {
        Some(s) if s.deleted => format!(
            "Server: deleted by {} in version {}; its last live value:",
            visible(&s.modified_by),
            s.version
        ),
        Some(s) => format!(
            "Server (version {} by {}):",
            s.version,
            visible(&s.modified_by)
        ),
        None => "Server:".into(),
    };
    let local_label = format!("Local ({}):", visible(&d.submitted_by));
    if app.layout == Layout::WithBase {
        let label = d.base.as_ref().map_or("Base:".to_string(), |b| {
            format!("Base (version {}):", b.version)
        });
        lines.push(Line::styled(label, theme.title()));
        lines.extend(value_lines(row.base.as_ref(), &removed(row, theme)));
    }
    let server_style = theme.changed(crate::merge::Class::Server);
    let local_style = theme.changed(crate::merge::Class::Local);
    // A reference says what it names: its item's label, or that the list lost it.
    let reference = |value: Option<&Json>| -> Option<Line<'static>> {
        let (list, data) = desk.list_of(&row.path)?;
        let id = value?.as_str()?;
        let style = if data.lists(id) {
            theme.dim()
        } else {
            theme.error()
        };
        Some(Line::styled(
            format!("  → {}", visible(&data.describe(list, id))),
            style,
        ))
    };
    lines.push(Line::styled(server_label, theme.title()));
    lines.extend(value_lines(
        row.server.as_ref(),
        &added(&row.server_change, server_style),
    ));
    lines.extend(reference(row.server.as_ref()));
    lines.push(Line::styled(local_label, theme.title()));
    lines.extend(value_lines(
        row.local.as_ref(),
        &added(&row.local_change, local_style),
    ));
    lines.extend(reference(row.local.as_ref()));
    let replaced = [&row.server_change, &row.local_change]
        .iter()
        .any(|c| matches!(c, Some(InlineDiff::Replaced)));
    if replaced {
        lines.push(Line::styled(
            "(replaced as a whole: too long or too different to mark words)",
            theme.dim(),
        ));
    } else if row.server_change.is_some() || row.local_change.is_some() {
        lines.push(Line::styled(
            "underlined: the words each side changed since the base",
            theme.dim(),
        ));
    }
    if let Some(Choice::Manual(v)) = desk.choices.get(&row.path) {
        lines.push(Line::styled("Manual:", theme.title()));
        lines.extend(value_lines(Some(v), &[]));
    }
    // A resolved conflict's audit: the value taken and what it displaced.
    let audit = d
        .resolution
        .as_ref()
        .and_then(|r| r.fields.iter().find(|f| f.path == row.path));
    if let Some(audit) = audit {
        let json = |v: &serde_json::Value| visible(&v.to_string()).into_owned();
        let taken = audit.value.as_ref().map_or("(absent)".into(), json);
        lines.push(Line::styled(
            format!("Taken ({}): {taken}", visible(&audit.choice)),
            theme.decided(),
        ));
        for (side, value) in &audit.discarded {
            let value = if value == &serde_json::json!({"absent": true}) {
                "(absent)".to_string()
            } else {
                json(value)
            };
            lines.push(Line::styled(
                format!("Displaced ({}): {value}", visible(side)),
                theme.dim(),
            ));
        }
    }
    let (what, _) = decision(desk, row);
    let title = format!(" {} · {} · {what} ", visible(&row.path), row.class.name());
    // PgDn scrolls a long value; never past its last line.
    let scroll = app.pane_scroll.min(lines.len().saturating_sub(1) as u16);
    let more = if scroll > 0 {
        " · PgUp for the top "
    } else {
        ""
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(Block::bordered().title(format!("{title}{more}"))),
        area,
    );
}

/// Byte ranges of a text, each with its highlight.
type Marks = Vec<(Range<usize>, Style)>;

/// The words a side wrote in place of the base's: its inserted and replacing ranges.
fn added(change: &Option<InlineDiff>, style: Style) -> Marks {
    let Some(InlineDiff::Edits(edits)) = change else {
        return Vec::new();
    };
    edits
        .iter()
        .filter(|e| matches!(e.op, EditOp::Insert | EditOp::Replace))
        .map(|e| (e.new.clone(), style))
        .collect()
}

/// The base's words either side took out or replaced, in order, without overlaps.
fn removed(row: &Row, theme: Theme) -> Marks {
    let mut ranges: Vec<Range<usize>> = [&row.server_change, &row.local_change]
        .into_iter()
        .filter_map(|c| match c {
            Some(InlineDiff::Edits(edits)) => Some(edits),
            _ => None,
        })
        .flatten()
        .filter(|e| matches!(e.op, EditOp::Delete | EditOp::Replace))
        .map(|e| e.old.clone())
        .collect();
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut marks: Marks = Vec::new();
    for range in ranges {
        match marks.last_mut() {
            Some((last, _)) if range.start < last.end => last.end = last.end.max(range.end),
            _ => marks.push((range, theme.removed())),
        }
    }
    marks
}

/// A value as lines: text split at newlines (each line made visible), marked ranges
/// styled; other values as JSON.
fn value_lines(value: Option<&Json>, marked: &[(Range<usize>, Style)]) -> Vec<Line<'static>> {
    let text = match value {
        Some(Json::String(s)) if !s.as_str().is_empty() => s.as_str().to_string(),
        other => return vec![Line::raw(format!("  {}", show(other)))],
    };
    let mut lines = Vec::new();
    let mut current: Vec<Span<'static>> = vec![Span::raw("  ")];
    let mut at = 0;
    let mut pieces: Vec<(Range<usize>, Style)> = Vec::new();
    for (range, style) in marked {
        if range.start > at {
            pieces.push((at..range.start, Style::new()));
        }
        pieces.push((range.clone(), *style));
        at = range.end;
    }
    if at < text.len() {
        pieces.push((at..text.len(), Style::new()));
    }
    for (range, style) in pieces {
        let Some(piece) = text.get(range) else {
            continue;
        };
        let mut parts = piece.split('\n');
        if let Some(first) = parts.next() {
            current.push(Span::styled(visible(first).into_owned(), style));
        }
        for part in parts {
            lines.push(Line::from(std::mem::replace(
                &mut current,
                vec![Span::raw("  ")],
            )));
            current.push(Span::styled(visible(part).into_owned(), style));
        }
    }
    lines.push(Line::from(current));
    lines
}

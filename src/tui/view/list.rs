//! The queue: one line a conflict, oldest first unless sorted otherwise.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use crate::model::time::UtcMillis;
use crate::protocol::{ConflictSummary, Status};
use crate::sanitize::visible;
use crate::tui::app::App;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let queue = &app.queue;
    let [head, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let position = if queue.visible.is_empty() {
        0
    } else {
        queue.selected + 1
    };
    // How many wait, then where the selection is: two numbers that cannot be mixed up.
    let mut counter = vec![
        Span::styled(format!("{} open", queue.open_count()), theme.title()),
        Span::raw(format!(
            " · row {position} of {} shown",
            queue.visible.len()
        )),
    ];
    counter.push(Span::raw(format!(" · {}", queue.sort.name())));
    if !queue.filter.is_empty() {
        counter.push(Span::raw(format!(" · filter: {}", visible(&queue.filter))));
    }
    if !queue.marked.is_empty() {
        counter.push(Span::styled(
            format!(" · {} marked (b decides for all)", queue.marked.len()),
            theme.info(),
        ));
    }
    frame.render_widget(Line::from(counter), head);

    if queue.visible.is_empty() {
        let text = if !queue.loaded {
            "Reading the queue…".to_string()
        } else if queue.items.is_empty() || queue.filter.is_empty() {
            "No open conflicts. Nothing to decide.".to_string()
        } else {
            "No conflict matches the filter (/ to change it).".to_string()
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()), table_area);
        return;
    }
    // Narrow terminals drop the device and capture time first: the record and what is
    // wrong with it keep their width.
    let narrow = table_area.width < WIDE;
    // Who is on which conflict, while anyone is: a column of its own.
    let claims = queue
        .visible
        .iter()
        .any(|&i| crate::tui::live::on_it(app, &queue.items[i]).is_some());
    let mut header: Vec<&str> = if narrow {
        vec!["", "Conflict", "Record", "Kind", "By", "Age", "Fields"]
    } else {
        vec![
            "", "Conflict", "Record", "Kind", "By", "Device", "Captured", "Age", "Fields",
        ]
    };
    if claims {
        header.push("On it");
    }
    let header = Row::new(header).style(theme.title());
    // Only the lines that fit are built: a queue of thousands draws as fast as a short one.
    let rows_shown = table_area.height.saturating_sub(1) as usize;
    let first = queue.selected.saturating_sub(rows_shown.saturating_sub(1));
    let rows = queue.visible[first..].iter().take(rows_shown).map(|&i| {
        let marked = queue.marked.contains(&queue.items[i].id);
        let mut row = line(&queue.items[i], &app.tz, app.now, theme, narrow, marked);
        if claims {
            let on_it = crate::tui::live::on_it(app, &queue.items[i]).unwrap_or_default();
            row.push(Cell::from(on_it));
        }
        Row::new(row)
    });
    let mut widths: Vec<Constraint> = if narrow {
        vec![
            Constraint::Length(1),
            Constraint::Length(8),
            Constraint::Min(14),
            Constraint::Length(17),
            Constraint::Fill(1),
            Constraint::Length(4),
            Constraint::Length(6),
        ]
    } else {
        vec![
            Constraint::Length(1),
            Constraint::Length(9),
            Constraint::Fill(2),
            Constraint::Length(17),
            Constraint::Fill(1),
            Constraint::Fill(1),
            Constraint::Length(16),
            Constraint::Length(4),
            Constraint::Length(6),
        ]
    };
    if claims {
        widths.push(Constraint::Length(8));
    }
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(queue.selected - first));
    frame.render_stateful_widget(table, table_area, &mut state);
}

/// From this width the list shows every column.
const WIDE: u16 = 100;

fn line<'a>(
    c: &'a ConflictSummary,
    tz: &TimeZone,
    now: Timestamp,
    theme: crate::tui::app::Theme,
    narrow: bool,
    marked: bool,
) -> Vec<Cell<'a>> {
    let status = match c.status {
        // Marked for one decision for many.
        Status::Open if marked => Span::styled("◆", theme.info()),
        Status::Open => Span::styled("●", theme.error()),
        Status::Resolved => Span::styled("✓", theme.decided()),
    };
    let kind = c.kind.name();
    // Narrow: the record without its type (the detail names it), the id without `c-`.
    let (id, record) = if narrow {
        (
            visible(c.id.trim_start_matches("c-")).into_owned(),
            visible(&c.record_id).into_owned(),
        )
    } else {
        (
            visible(&c.id).into_owned(),
            format!("{}/{}", visible(&c.record_type), visible(&c.record_id)),
        )
    };
    let mut cells = vec![
        Cell::from(status),
        Cell::from(id),
        Cell::from(record),
        Cell::from(kind),
        Cell::from(visible(&c.submitted_by).into_owned()),
    ];
    if !narrow {
        cells.push(Cell::from(
            visible(c.device_id.as_deref().unwrap_or("—")).into_owned(),
        ));
        cells.push(Cell::from(
            c.captured_at.map_or("—".into(), |t| local_time(t, tz)),
        ));
    }
    cells.push(Cell::from(age(now, c.received_at)));
    cells.push(Cell::from(c.conflicting_paths.len().to_string()));
    cells
}

/// An instant in the desk's time zone, to the minute.
pub fn local_time(t: UtcMillis, tz: &TimeZone) -> String {
    t.timestamp()
        .to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// How long ago, in the largest whole unit: `45s`, `12m`, `5h`, `3d`.
pub fn age(now: Timestamp, then: UtcMillis) -> String {
    let seconds = (now.as_second() - then.timestamp().as_second()).max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

//! The sync log: a line a write, newest first, and what the selected one sent.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::list::local_time;
use crate::protocol::{SyncLogEntry, explain};
use crate::sanitize::visible;
use crate::tui::app::App;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let log = &app.syncs;
    let [head, table_area, sent] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(5),
    ])
    .areas(area);
    let position = if log.entries.is_empty() {
        0
    } else {
        log.selected + 1
    };
    let mut title = vec![
        Span::styled("Sync log", theme.title()),
        Span::raw(format!(
            " · newest first · row {position} of {} · Enter opens its conflict",
            log.entries.len()
        )),
    ];
    if !log.filter.is_empty() {
        title.push(Span::raw(format!(" · filter: {}", visible(&log.filter))));
    }
    frame.render_widget(Line::from(title), head);
    if log.entries.is_empty() {
        let text = if log.loaded {
            "No writes logged yet."
        } else {
            "Reading the sync log…"
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()), table_area);
        return;
    }
    let header = Row::new([
        "At", "User", "Device", "Write", "Record", "Status", "Outcome", "Paths", "Conflict",
    ])
    .style(theme.title());
    let rows_shown = table_area.height.saturating_sub(1) as usize;
    let first = log.selected.saturating_sub(rows_shown.saturating_sub(1));
    let rows = log.entries[first..]
        .iter()
        .take(rows_shown)
        .map(|e| line(app, e));
    let widths = [
        Constraint::Length(16),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Fill(2),
        Constraint::Length(6),
        Constraint::Length(17),
        Constraint::Fill(1),
        Constraint::Length(8),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(log.selected - first));
    frame.render_stateful_widget(table, table_area, &mut state);
    // The selected write in plain words, then a refusal in full: its problem and paths,
    // and what was sent.
    if let Some(entry) = log.entries.get(log.selected) {
        let history = entry.record_id.as_ref().and_then(|id| {
            match log.histories.get(&(entry.record_type.clone(), id.clone())) {
                // Empty: asked, not answered yet (a record has at least one version).
                Some(Ok(versions)) if !versions.is_empty() => Some(versions.as_slice()),
                _ => None,
            }
        });
        let why = explain(entry, history, &|at| local_time(at, &app.tz));
        let mut lines = vec![Line::from(vec![
            Span::styled("Why: ", theme.title()),
            Span::raw(why),
        ])];
        if let Some(problem) = &entry.problem {
            let paths = if entry.paths.is_empty() {
                String::new()
            } else {
                format!(" at {}", visible(&entry.paths.join(", ")))
            };
            lines.push(
                Line::from(format!("Problem: {}{paths}", visible(problem))).style(theme.dim()),
            );
        }
        if let Some(body) = &entry.body {
            lines.push(Line::from(format!("Sent: {}", visible(body))).style(theme.dim()));
        }
        let wrapped = Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true });
        frame.render_widget(wrapped, sent);
    }
}

fn line<'a>(app: &App, e: &'a SyncLogEntry) -> Row<'a> {
    let theme = app.theme;
    let refused = e.status >= 400;
    let outcome = Span::styled(
        visible(&e.outcome).into_owned(),
        if refused {
            theme.error()
        } else {
            theme.decided()
        },
    );
    Row::new(vec![
        Cell::from(local_time(e.at, &app.tz)),
        Cell::from(visible(&e.user).into_owned()),
        Cell::from(visible(e.device_id.as_deref().unwrap_or("—")).into_owned()),
        Cell::from(e.method.clone()),
        Cell::from(format!(
            "{}/{}",
            visible(&e.record_type),
            visible(e.record_id.as_deref().unwrap_or("—"))
        )),
        Cell::from(e.status.to_string()),
        Cell::from(outcome),
        Cell::from(visible(&e.paths.join(" ")).into_owned()),
        Cell::from(visible(e.conflict_id.as_deref().unwrap_or("")).into_owned()),
    ])
}

/// The sync log's numbers: the share refused (the figure the field quotes), the three
/// tiers a technician sees, writes per day as bars and the refused share as a sparkline.
pub fn draw_stats(app: &App, frame: &mut Frame, area: Rect) {
    use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Sparkline};

    let theme = app.theme;
    let [head, figure, tiers, bars, spark] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(3),
    ])
    .areas(area);
    frame.render_widget(
        Line::from(vec![
            Span::styled("Sync log in numbers", theme.title()),
            Span::raw(" · by day · r refresh"),
        ]),
        head,
    );
    let Some(stats) = &app.syncs.stats else {
        frame.render_widget(
            Paragraph::new("Counting the sync log…").style(theme.dim()),
            figure,
        );
        return;
    };
    frame.render_widget(
        Line::from(vec![
            Span::styled(
                format!("Refused: {:.1}%", stats.refused_share * 100.0),
                theme.error(),
            ),
            Span::raw(format!(
                " of {} writes ({} answered 409, 412 or 422)",
                stats.writes, stats.refused
            )),
        ]),
        figure,
    );
    let mut all = std::collections::BTreeMap::new();
    for group in &stats.groups {
        for (outcome, n) in &group.outcomes {
            *all.entry(outcome.clone()).or_insert(0) += n;
        }
    }
    let t = crate::protocol::Tiers::of(&all);
    frame.render_widget(
        Line::from(vec![
            Span::styled(format!("saved {}", t.saved), theme.decided()),
            Span::raw(format!(" · saved with a merge notice {} · ", t.merged)),
            Span::styled(format!("needs attention {}", t.attention), theme.error()),
        ]),
        tiers,
    );
    let days: Vec<Bar> = stats
        .groups
        .iter()
        .map(|g| {
            let day = g.group.get(5..).unwrap_or(&g.group).to_string();
            Bar::default().value(g.writes).label(Line::from(day))
        })
        .collect();
    frame.render_widget(
        BarChart::default()
            .block(Block::bordered().title(" writes per day "))
            .bar_width(5)
            .bar_gap(1)
            .data(BarGroup::default().bars(&days)),
        bars,
    );
    let shares: Vec<u64> = stats
        .groups
        .iter()
        .map(|g| (g.refused_share * 100.0).round() as u64)
        .collect();
    frame.render_widget(
        Sparkline::default()
            .block(Block::bordered().title(" refused share per day (the highest fills it) "))
            .max(shares.iter().copied().max().unwrap_or(0).max(1))
            .data(&shares),
        spark,
    );
}

/// The audit trail: a line a resolution, newest first; under the table, each decided path
/// of the selected one — which value was taken over which.
pub fn draw_audit(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let [head, table_area, paths] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(6),
    ])
    .areas(area);
    let entries = app.syncs.audit.as_deref().unwrap_or_default();
    let selected = app.syncs.audit_selected;
    let position = if entries.is_empty() { 0 } else { selected + 1 };
    frame.render_widget(
        Line::from(vec![
            Span::styled("Audit trail", theme.title()),
            Span::raw(format!(
                " · newest first · row {position} of {}",
                entries.len()
            )),
        ]),
        head,
    );
    if entries.is_empty() {
        let text = if app.syncs.audit.is_some() {
            "Nothing resolved yet."
        } else {
            "Reading the audit trail…"
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()), table_area);
        return;
    }
    let header =
        Row::new(["Resolved", "By", "Conflict", "Record", "Kind", "Made"]).style(theme.title());
    let rows_shown = table_area.height.saturating_sub(1) as usize;
    let first = selected.saturating_sub(rows_shown.saturating_sub(1));
    let rows = entries[first..].iter().take(rows_shown).map(|e| {
        let r = &e.resolution;
        let made = if r.kept_deleted {
            "kept deleted".to_string()
        } else {
            r.resulting_version
                .map_or("—".into(), |v| format!("version {v}"))
        };
        Row::new(vec![
            Cell::from(local_time(r.at, &app.tz)),
            Cell::from(visible(&r.by).into_owned()),
            Cell::from(visible(&e.conflict_id).into_owned()),
            Cell::from(format!(
                "{}/{}",
                visible(&e.record_type),
                visible(&e.record_id)
            )),
            Cell::from(e.kind.name()),
            Cell::from(made),
        ])
    });
    let widths = [
        Constraint::Length(16),
        Constraint::Fill(1),
        Constraint::Length(9),
        Constraint::Fill(2),
        Constraint::Length(17),
        Constraint::Length(12),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(selected - first));
    frame.render_stateful_widget(table, table_area, &mut state);
    let lines: Vec<Line> = entries
        .get(selected)
        .into_iter()
        .flat_map(|e| &e.resolution.fields)
        .map(|field| {
            let taken = field
                .value
                .as_ref()
                .map_or("(removed)".into(), |v| visible(&v.to_string()).into_owned());
            let over: Vec<String> = field
                .discarded
                .iter()
                .map(|(side, v)| format!("{side} {}", visible(&v.to_string())))
                .collect();
            let over = if over.is_empty() {
                String::new()
            } else {
                format!(" over {}", over.join(", "))
            };
            Line::from(format!(
                "{} {}: {taken}{over}",
                visible(&field.path),
                visible(&field.choice)
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).style(theme.dim()), paths);
}

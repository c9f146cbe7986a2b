//! What is drawn over the screen: help, the submit preview, the value editor.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::centered;
use crate::sanitize::visible;
use crate::tui::app::{App, Preview, Theme};
use crate::tui::keymap::Scope;

/// Every binding from the one keymap table, by scope, and the class markers.
pub fn help(app: &App, scroll: u16, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let mut lines = Vec::new();
    for scope in [
        Scope::Everywhere,
        Scope::List,
        Scope::Detail,
        Scope::Preview,
        Scope::Triage,
    ] {
        lines.push(Line::styled(scope.title(), theme.title()));
        for b in app.keymap.bindings.iter().filter(|b| b.scope == scope) {
            let keys: Vec<String> = b.keys.iter().map(|k| k.label()).collect();
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<12}", keys.join(" ")), theme.key()),
                Span::raw(b.help),
            ]));
        }
    }
    lines.push(Line::styled("markers", theme.title()));
    for (class, meaning) in [
        (
            crate::merge::Class::Conflict,
            "both changed it differently: decide",
        ),
        (
            crate::merge::Class::Invalid,
            "names no item of its master-data list: decide",
        ),
        (crate::merge::Class::Local, "only local changed it: merged"),
        (
            crate::merge::Class::Server,
            "only the server changed it: merged",
        ),
        (crate::merge::Class::BothSame, "both made the same change"),
        (crate::merge::Class::Unchanged, "nobody changed it"),
    ] {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<12}", Theme::marker(class)),
                theme.class(class),
            ),
            Span::raw(meaning),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled(format!("  {:<12}", "★"), theme.info()),
        Span::raw("the server changed it while you were deciding"),
    ]));
    let height = lines.len() as u16 + 2;
    let box_area = centered(area, 72, height);
    // On a short terminal the list scrolls; it never scrolls past its last line.
    let hidden = height.saturating_sub(box_area.height);
    let title = if hidden > 0 {
        " Keys (j/k scroll · ? or Esc to close) "
    } else {
        " Keys (? or Esc to close) "
    };
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(hidden), 0))
            .block(Block::bordered().title(title)),
        box_area,
    );
}

/// The resolution before it is sent: what it does, what blocks it, the changes, the
/// record, and last the precondition it is sent with.
pub fn preview(app: &App, p: &Preview, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let mut lines = vec![Line::styled(
        visible(&p.headline).into_owned(),
        theme.title(),
    )];
    if !p.undecided.is_empty() {
        lines.push(Line::styled(
            format!("Undecided: {}", visible(&p.undecided.join(", "))),
            theme.error(),
        ));
    }
    for fault in &p.faults {
        lines.push(Line::styled(
            format!("Invalid {}", visible(fault)),
            theme.error(),
        ));
    }
    if !p.keep_deleted {
        lines.push(Line::styled("Changes on the server:", theme.title()));
        if p.changes.is_empty() {
            lines.push(Line::styled(
                "  none (the server's record stays as it is)",
                theme.dim(),
            ));
        }
        for change in &p.changes {
            lines.push(Line::raw(format!("  {}", visible(change))));
        }
        lines.push(Line::styled("Resolved record:", theme.title()));
        lines.extend(p.record.iter().map(|l| Line::raw(visible(l).into_owned())));
    }
    lines.push(Line::styled(
        format!("Sent with {}", visible(&p.precondition)),
        theme.dim(),
    ));
    let ready = p.undecided.is_empty() && p.faults.is_empty();
    let title = if ready {
        " Submit? y send · Esc back "
    } else {
        " Not ready: Esc back "
    };
    // The preview covers the screen: a margin would let the list's cells show through
    // at its edges, reading as part of it.
    let box_area = centered(area, area.width.saturating_sub(4), area.height);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title)),
        box_area,
    );
}

/// The story behind the queue (the demo's morning), scrolled with `j`/`k`.
pub fn story(app: &App, scroll: u16, frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = app
        .story
        .iter()
        .map(|l| Line::raw(visible(l).into_owned()))
        .collect();
    let height = lines.len() as u16 + 2;
    let box_area = centered(area, area.width.saturating_sub(4), height);
    let hidden = height.saturating_sub(box_area.height);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(hidden), 0))
            .block(Block::bordered().title(" What happened (j/k scroll · i or Esc to close) ")),
        box_area,
    );
}

/// Quitting asks first when something goes with the desk (the demo's server).
pub fn confirm_quit(app: &App, reason: &str, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let lines = vec![
        Line::raw(visible(reason).into_owned()),
        Line::styled(app.quit_summary(), theme.dim()),
    ];
    let box_area = centered(area, 64, lines.len() as u16 + 2);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Quit? y quit · any other key stays ")),
        box_area,
    );
}

/// Opening a conflict another supervisor is on: asks first, naming them.
pub fn claimed_open(app: &App, id: &str, by: &str, until: &str, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let lines = vec![
        Line::raw(format!(
            "{by} is on {} (claimed until {until}).",
            visible(id)
        )),
        Line::styled(
            "Open it anyway? Two supervisors deciding one conflict may cross.",
            theme.dim(),
        ),
    ];
    let box_area = centered(area, 64, lines.len() as u16 + 2);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Claimed · y open · any other key: leave it ")),
        box_area,
    );
}

/// The picker of a reference: the list's items matching what is typed, one selected.
pub fn pick(app: &App, row: usize, filter: &str, selected: usize, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let (path, list) = app
        .desk
        .as_ref()
        .and_then(|d| {
            d.rows
                .get(row)
                .map(|r| (r.path.clone(), d.list_of(&r.path)))
        })
        .map_or((String::new(), ""), |(p, l)| {
            (p, l.map_or("", |(list, _)| list))
        });
    let items = app.picked_items(row, filter);
    let mut lines = vec![Line::from(vec![
        Span::styled("filter: ", theme.dim()),
        Span::raw(visible(filter).into_owned()),
        Span::styled("█", theme.info()),
    ])];
    let fit = area.height.saturating_sub(5).max(1) as usize;
    let first = selected.saturating_sub(fit - 1);
    for (i, item) in items.iter().enumerate().skip(first).take(fit) {
        let text = format!("{}  {}", visible(&item.id), visible(&item.label));
        lines.push(if i == selected {
            Line::styled(format!("▶ {text}"), theme.selected())
        } else {
            Line::raw(format!("  {text}"))
        });
    }
    if items.is_empty() {
        lines.push(Line::styled("  no item matches", theme.dim()));
    }
    let height = lines.len() as u16 + 2;
    let box_area = centered(area, area.width.saturating_sub(8).min(72), height);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(
            " {} for {} · type to filter · ↑↓ · Enter take · Esc cancel ",
            visible(list),
            visible(&path)
        ))),
        box_area,
    );
}

/// The desk's own text editor: the text (a three-way merge where both sides changed
/// it), what is wrong with it if a save was refused, and how to leave.
pub fn text_editor(app: &App, frame: &mut Frame, area: Rect) {
    let Some(editor) = &app.editor else {
        return;
    };
    let theme = app.theme;
    let path = app
        .desk
        .as_ref()
        .and_then(|d| d.rows.get(editor.row))
        .map_or(String::new(), |r| visible(&r.path).into_owned());
    let markers = editor
        .area
        .lines()
        .iter()
        .filter(|l| l.starts_with("<<<<<<<"))
        .count();
    let left = if markers > 0 {
        format!(" · {markers} overlap(s) marked: keep the words you want, delete the markers")
    } else {
        String::new()
    };
    let box_area = centered(area, area.width.saturating_sub(4), area.height);
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(format!(" {path} · Ctrl-s take · Esc cancel{left} "));
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let [text, note] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Min(1),
        ratatui::layout::Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(&editor.area, text);
    if let Some(error) = &editor.error {
        frame.render_widget(
            Line::styled(format!("Not taken: {}", visible(error)), theme.error()),
            note,
        );
    }
}

/// The one-line value editor.
pub fn edit(app: &App, row: usize, text: &str, error: Option<&str>, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let path = app
        .desk
        .as_ref()
        .and_then(|d| d.rows.get(row))
        .map_or(String::new(), |r| visible(&r.path).into_owned());
    let mut lines = vec![Line::from(vec![
        Span::raw(visible(text).into_owned()),
        Span::styled("█", theme.info()),
    ])];
    if let Some(error) = error {
        lines.push(Line::styled(visible(error).into_owned(), theme.error()));
    }
    // A reference offers the items of its list.
    if let Some((list, data)) = app
        .desk
        .as_ref()
        .and_then(|d| d.rows.get(row).and_then(|r| d.list_of(&r.path)))
    {
        let shown: Vec<String> = data
            .items
            .iter()
            .map(|i| format!("{} {}", visible(&i.id), visible(&i.label)))
            .collect();
        lines.push(Line::styled(
            format!("{list}: {}", shown.join(" · ")),
            theme.dim(),
        ));
    }
    let height = lines.len() as u16 + 2;
    let box_area = centered(area, area.width.saturating_sub(8), height);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered().title(format!(" Value for {path} · Enter accept · Esc cancel ")),
        ),
        box_area,
    );
}

/// One decision for the marked conflicts: the decisions offered (every conflicting field,
/// then each path), an item list for a reference path, then each conflict's outcome —
/// what the decision would apply or why it stays open, and after sending what it came to.
pub fn bulk(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let Some(bulk) = &app.bulk else {
        return;
    };
    let mut lines = Vec::new();
    let title = if bulk.conflicts.is_empty() {
        lines.push(Line::styled(
            format!("Reading the {} marked conflict(s)…", bulk.ids.len()),
            theme.dim(),
        ));
        " One decision for many · Esc closes ".to_string()
    } else if let Some((path, items, selected)) = &bulk.picking {
        lines.push(Line::raw(format!(
            "{} for every marked conflict: pick an item of its list",
            visible(path)
        )));
        for (i, item) in items.iter().enumerate() {
            let text = format!("  {}  {}", visible(&item.id), visible(&item.label));
            lines.push(if i == *selected {
                Line::styled(text, theme.selected())
            } else {
                Line::raw(text)
            });
        }
        " Pick an item · j/k move · Enter takes it · Esc back ".to_string()
    } else if let Some(decision) = &bulk.decision {
        lines.push(Line::from(vec![
            Span::styled("Decision: ", theme.title()),
            Span::raw(visible(&decision.said()).into_owned()),
        ]));
        for (id, outcome) in &bulk.outcomes {
            let style = match outcome {
                crate::tui::bulk::Settled::Applied(_)
                | crate::tui::bulk::Settled::WouldApply(_) => theme.decided(),
                crate::tui::bulk::Settled::LeftOpen(_) => theme.dim(),
                _ => theme.error(),
            };
            lines.push(Line::from(vec![
                Span::raw(format!("  {:<10} ", visible(id))),
                Span::styled(visible(&outcome.said()).into_owned(), style),
            ]));
        }
        let open = bulk.outcomes.len() - bulk.settling();
        if bulk.sent {
            " What each came to · Esc closes ".to_string()
        } else if bulk.sending {
            " Sending… ".to_string()
        } else {
            format!(
                " y sends {}, one request each · {open} stay open · Esc back ",
                bulk.settling()
            )
        }
    } else {
        lines.push(Line::raw(format!(
            "{} marked conflict(s). Decide for:",
            bulk.conflicts.len()
        )));
        let offered = std::iter::once("every conflicting field".to_string())
            .chain(bulk.paths.iter().map(|p| visible(p).into_owned()));
        for (i, label) in offered.enumerate() {
            let text = format!("  {label}");
            lines.push(if i == bulk.cursor {
                Line::styled(text, theme.selected())
            } else {
                Line::raw(text)
            });
        }
        lines.push(Line::styled(
            "s server · l local · Enter on a reference field picks an item",
            theme.dim(),
        ));
        " One decision for many · Esc closes ".to_string()
    };
    let width = area.width.saturating_sub(8).min(100);
    // Long outcomes wrap: the box grows by the lines they take.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let taken: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = u16::try_from(taken + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let box_area = centered(area, width, height);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title)),
        box_area,
    );
}

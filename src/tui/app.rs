//! All the desk's state: the queue, the open conflict, what is shown over them.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::desk::Desk;
use super::keymap::{Keymap, Scope};
use crate::protocol::{ConflictSummary, Status};

/// The screen under any overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    List,
    Detail,
    /// The sync log, newest first.
    Syncs,
    /// The sync log's numbers by day.
    Stats,
    /// The audit trail: the resolutions, newest first.
    Audit,
}

/// The sync log as the desk shows it: the newest entries, one selected.
#[derive(Debug, Default)]
pub struct SyncLog {
    pub entries: Vec<crate::protocol::SyncLogEntry>,
    pub selected: usize,
    pub loaded: bool,
    /// Its numbers by day, once read.
    pub stats: Option<crate::protocol::SyncStats>,
    /// `user:ana outcome:invalid device:tab-17 type:inspections`, as typed after `/`.
    pub filter: String,
    /// Records' versions, by (type, id), read to explain the entries about them; `Err`
    /// says why they could not be read.
    pub histories: std::collections::HashMap<
        (String, String),
        Result<Vec<crate::protocol::VersionSummary>, String>,
    >,
    /// The newest resolutions, once read, and the one selected.
    pub audit: Option<Vec<crate::protocol::AuditEntry>>,
    pub audit_selected: usize,
}

/// What is drawn over the screen and takes the keys first.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// The keys, scrolled down this many lines (`j`/`k`).
    Help { scroll: u16 },
    /// The story behind the queue, scrolled down this many lines.
    Story { scroll: u16 },
    /// The resolved record before it is sent.
    Preview(Box<Preview>),
    /// Typing a filter; `before` comes back on `Esc`.
    Filter { before: String },
    /// Quitting asks first (the demo: its server and database go).
    ConfirmQuit { reason: String },
    /// Picking a reference's item from its master-data list: typing filters, `↑`/`↓`
    /// (and `j`/`k` while nothing is typed) move, `Enter` takes the selected item.
    Pick {
        row: usize,
        filter: String,
        selected: usize,
    },
    /// Editing a text inside the desk (`App::editor` holds it).
    Text,
    /// One decision for the marked conflicts (`App::bulk` holds it).
    Bulk,
    /// Opening a conflict another supervisor has claimed asks first, naming them.
    ClaimedOpen {
        id: String,
        by: String,
        until: String,
    },
    /// Typing a value for a row.
    Edit {
        row: usize,
        text: String,
        error: Option<String>,
    },
}

/// What a submission would send, worked out when the preview opens (not while drawing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Preview {
    /// What sending does, in a sentence: the first thing the supervisor reads.
    pub headline: String,
    /// Closes a deleted-on-server conflict leaving the record deleted.
    pub keep_deleted: bool,
    /// `If-Match: "7-..."`, or the create precondition.
    pub precondition: String,
    /// What changes on the server: `path: old → new`.
    pub changes: Vec<String>,
    /// Conflicting paths without a decision yet.
    pub undecided: Vec<String>,
    /// Schema faults of the resolved record: `path: message`.
    pub faults: Vec<String>,
    /// The resolved record, pretty-printed, one line each.
    pub record: Vec<String>,
}

/// The text editor inside the desk, used when no `$VISUAL`/`$EDITOR` is set.
pub struct TextEditor {
    pub row: usize,
    pub area: ratatui_textarea::TextArea<'static>,
    /// Why the last save was refused (a marker left, a wrong type).
    pub error: Option<String>,
}

impl TextEditor {
    pub fn new(row: usize, text: &str) -> Self {
        let mut area = ratatui_textarea::TextArea::new(text.lines().map(str::to_string).collect());
        area.set_wrap_mode(ratatui_textarea::WrapMode::Word);
        Self {
            row,
            area,
            error: None,
        }
    }

    /// The text as edited.
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }
}

/// How the detail shows the sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    SideBySide,
    Stacked,
    WithBase,
}

impl Layout {
    pub fn next(self) -> Self {
        match self {
            Layout::SideBySide => Layout::Stacked,
            Layout::Stacked => Layout::WithBase,
            Layout::WithBase => Layout::SideBySide,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Layout::SideBySide => "side by side",
            Layout::Stacked => "stacked",
            Layout::WithBase => "with base",
        }
    }
}

/// The column the queue is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Oldest first: the contract's default.
    #[default]
    Received,
    Record,
    SubmittedBy,
    /// Most conflicting fields first.
    Fields,
}

impl SortKey {
    pub fn next(self) -> Self {
        match self {
            SortKey::Received => SortKey::Record,
            SortKey::Record => SortKey::SubmittedBy,
            SortKey::SubmittedBy => SortKey::Fields,
            SortKey::Fields => SortKey::Received,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Received => "oldest first",
            SortKey::Record => "record",
            SortKey::SubmittedBy => "submitted by",
            SortKey::Fields => "most fields",
        }
    }
}

/// A line of news under the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    /// The conflict it is about: it stays while that conflict is on screen and goes
    /// when the supervisor moves on. `None`: about what is on screen now.
    pub about: Option<String>,
}

impl Message {
    pub fn info(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: false,
            about: None,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            error: true,
            ..Self::info(text)
        }
    }

    /// The same message, about a conflict.
    pub fn about(self, id: &str) -> Self {
        Self {
            about: Some(id.to_string()),
            ..self
        }
    }
}

/// The queue as loaded, and the slice of it a filter and sort show.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    pub items: Vec<ConflictSummary>,
    pub filter: String,
    pub sort: SortKey,
    /// Indexes into `items`, filtered and sorted.
    pub visible: Vec<usize>,
    /// Position in `visible`.
    pub selected: usize,
    /// Whether `items` holds resolved conflicts too.
    pub has_resolved: bool,
    pub loaded: bool,
    /// Conflicts marked for one decision for many, by id.
    pub marked: std::collections::BTreeSet<String>,
}

impl Queue {
    /// Whether the filter asks for resolved conflicts (`status:all`, `status:resolved`).
    pub fn wants_resolved(&self) -> bool {
        self.status_filter() != Some(Status::Open)
    }

    /// `Some(status)` to show only that status, `None` for all.
    fn status_filter(&self) -> Option<Status> {
        for word in self.filter.split_whitespace() {
            match word {
                "status:all" => return None,
                "status:resolved" => return Some(Status::Resolved),
                "status:open" => return Some(Status::Open),
                _ => {}
            }
        }
        Some(Status::Open)
    }

    /// Recomputes `visible`, keeping the selected conflict selected when it still shows.
    pub fn refilter(&mut self) {
        let keep = self.selected_item().map(|s| s.id.clone());
        let status = self.status_filter();
        let words: Vec<String> = self
            .filter
            .split_whitespace()
            .filter(|w| !w.starts_with("status:"))
            .map(str::to_lowercase)
            .collect();
        let mut visible: Vec<usize> = (0..self.items.len())
            .filter(|&i| {
                let c = &self.items[i];
                status.is_none_or(|s| c.status == s) && words.iter().all(|w| matches(c, w))
            })
            .collect();
        let items = &self.items;
        match self.sort {
            SortKey::Received => visible.sort_by(|&a, &b| {
                (items[a].received_at, &items[a].id).cmp(&(items[b].received_at, &items[b].id))
            }),
            SortKey::Record => visible.sort_by(|&a, &b| {
                (
                    &items[a].record_type,
                    &items[a].record_id,
                    items[a].received_at,
                )
                    .cmp(&(
                        &items[b].record_type,
                        &items[b].record_id,
                        items[b].received_at,
                    ))
            }),
            SortKey::SubmittedBy => visible.sort_by(|&a, &b| {
                (&items[a].submitted_by, items[a].received_at)
                    .cmp(&(&items[b].submitted_by, items[b].received_at))
            }),
            SortKey::Fields => visible.sort_by(|&a, &b| {
                items[b]
                    .conflicting_paths
                    .len()
                    .cmp(&items[a].conflicting_paths.len())
                    .then(items[a].received_at.cmp(&items[b].received_at))
            }),
        }
        self.visible = visible;
        self.selected = keep
            .and_then(|id| self.visible.iter().position(|&i| self.items[i].id == id))
            .unwrap_or(0)
            .min(self.visible.len().saturating_sub(1));
    }

    pub fn selected_item(&self) -> Option<&ConflictSummary> {
        self.visible
            .get(self.selected)
            .and_then(|&i| self.items.get(i))
    }

    /// Takes a fresh queue, keeping the selected conflict selected when it is still there.
    pub fn replace(&mut self, items: Vec<ConflictSummary>) {
        let keep = self.selected_item().map(|c| c.id.clone());
        self.items = items;
        self.visible.clear();
        self.refilter();
        if let Some(id) = keep {
            self.select(&id);
        }
    }

    /// Selects a conflict by id when it is shown; false when it is not.
    pub fn select(&mut self, id: &str) -> bool {
        match self.visible.iter().position(|&i| self.items[i].id == id) {
            Some(p) => {
                self.selected = p;
                true
            }
            None => false,
        }
    }

    pub fn open_count(&self) -> usize {
        self.items
            .iter()
            .filter(|c| c.status == Status::Open)
            .count()
    }

    /// The first open conflict shown after position `from` (wrapping), other than `skip`.
    pub fn next_open_after(&self, from: usize, skip: &str) -> Option<usize> {
        let n = self.visible.len();
        (1..=n).map(|k| (from + k) % n).find(|&p| {
            let c = &self.items[self.visible[p]];
            c.status == Status::Open && c.id != skip
        })
    }

    pub fn find(&mut self, id: &str) -> Option<&mut ConflictSummary> {
        self.items.iter_mut().find(|c| c.id == id)
    }
}

/// Whether a conflict's line holds a lowercase filter word.
fn matches(c: &ConflictSummary, word: &str) -> bool {
    let kind = c.kind.name();
    [
        c.id.as_str(),
        c.record_type.as_str(),
        c.record_id.as_str(),
        c.submitted_by.as_str(),
        c.device_id.as_deref().unwrap_or(""),
        kind,
    ]
    .iter()
    .any(|field| field.to_lowercase().contains(word))
}

/// Colours, or none (`NO_COLOR`): classes then show by marker alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

/// Everything the desk holds.
pub struct App {
    /// The server URL or file name, for the title.
    pub source: String,
    /// Who resolves (recorded in offline resolutions).
    pub user: String,
    pub keymap: Keymap,
    pub theme: Theme,
    /// Times are stored UTC and shown in this zone.
    pub tz: TimeZone,
    pub now: Timestamp,
    pub screen: Screen,
    pub queue: Queue,
    pub desk: Option<Desk>,
    pub overlay: Option<Overlay>,
    pub layout: Layout,
    /// Rows nobody changed are hidden (`=`).
    pub hide_unchanged: bool,
    /// Lines the field panel is scrolled down (`PgDn`); back to 0 on another field.
    pub pane_scroll: u16,
    /// Set when quitting should ask first, with why (the demo's server goes).
    pub quit_warning: Option<String>,
    /// What filled the queue, a line each (the demo's morning); `i` shows it.
    pub story: Vec<String>,
    /// Long text goes to `$VISUAL`/`$EDITOR` when one is set; else to `editor`.
    pub external_editor: bool,
    pub editor: Option<TextEditor>,
    /// One decision for many, while its overlay is open.
    pub bulk: Option<super::triage::Bulk>,
    /// What the desk waits for, shown with a spinner.
    pub busy: Option<String>,
    pub spinner: usize,
    pub message: Option<Message>,
    /// A resolution sent and not answered yet: no second one meanwhile.
    pub submitting: bool,
    /// The conflict to open once the resolution sent is applied: the next open one as
    /// the list stood when it was sent (the list may move before the answer comes).
    pub next_after_submit: Option<String>,
    /// The conflict being fetched to be shown; an answer for any other is stale.
    pub opening: Option<String>,
    /// Conflicts resolved in this session, for the report on quit.
    pub resolved: Vec<String>,
    pub quit: bool,
    /// Quit with `Ctrl-C` (the process then ends 130).
    pub interrupted: bool,
    /// The sync log as last read.
    pub syncs: SyncLog,
    /// What the server told of the queue since it was last read (applied again on top of
    /// a read that may predate them), and the name it knows this desk by.
    pub live: super::live::Live,
}

impl App {
    pub fn new(source: String, user: String, keymap: Keymap, theme: Theme, tz: TimeZone) -> Self {
        Self {
            source,
            user,
            keymap,
            theme,
            tz,
            now: Timestamp::now(),
            screen: Screen::List,
            queue: Queue::default(),
            desk: None,
            overlay: None,
            layout: Layout::default(),
            hide_unchanged: false,
            pane_scroll: 0,
            quit_warning: None,
            story: Vec::new(),
            external_editor: false,
            editor: None,
            bulk: None,
            busy: None,
            spinner: 0,
            message: None,
            submitting: false,
            next_after_submit: None,
            opening: None,
            resolved: Vec::new(),
            quit: false,
            interrupted: false,
            syncs: Default::default(),
            live: Default::default(),
        }
    }

    /// The last line on the way out: what was done, and what is left.
    pub fn quit_summary(&self) -> String {
        let open = self.queue.open_count();
        let left = match (self.queue.loaded, open) {
            (false, _) => "the queue was not read".to_string(),
            (true, 0) => "none still open".to_string(),
            (true, n) => format!("{n} still open"),
        };
        format!("{} conflict(s) resolved, {left}", self.resolved.len())
    }

    /// The items a picker shows: its list's items holding the filter in id or label.
    pub fn picked_items(&self, row: usize, filter: &str) -> Vec<&crate::client::MasterItem> {
        let Some((_, data)) = self
            .desk
            .as_ref()
            .and_then(|d| d.rows.get(row).and_then(|r| d.list_of(&r.path)))
        else {
            return Vec::new();
        };
        let filter = filter.to_lowercase();
        data.items
            .iter()
            .filter(|i| {
                i.id.to_lowercase().contains(&filter) || i.label.to_lowercase().contains(&filter)
            })
            .collect()
    }

    /// The key scope in force.
    pub fn scope(&self) -> Scope {
        match (&self.overlay, self.screen) {
            (
                Some(
                    Overlay::Preview(_) | Overlay::ConfirmQuit { .. } | Overlay::ClaimedOpen { .. },
                ),
                _,
            ) => Scope::Preview,
            (Some(Overlay::Bulk), _) => Scope::Triage,
            (_, Screen::List | Screen::Syncs | Screen::Stats | Screen::Audit) => Scope::List,
            (_, Screen::Detail) => Scope::Detail,
        }
    }

    /// The filter being typed: the sync log's on its view, else the queue's.
    pub fn filter_text(&self) -> &str {
        if self.screen == Screen::Syncs {
            &self.syncs.filter
        } else {
            &self.queue.filter
        }
    }

    /// Whether keys go into a text field rather than to commands.
    pub fn typing(&self) -> bool {
        matches!(
            self.overlay,
            Some(Overlay::Filter { .. } | Overlay::Edit { .. } | Overlay::Pick { .. })
        )
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message::info(text));
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.message = Some(Message::error(text));
    }

    /// The supervisor moves to a conflict (or, `None`, to the list): what was said about
    /// anything else goes.
    pub fn moved_to(&mut self, id: Option<&str>) {
        if self
            .message
            .as_ref()
            .is_some_and(|m| m.about.is_none() || m.about.as_deref() != id)
        {
            self.message = None;
        }
    }
}

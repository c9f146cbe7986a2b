//! The one keymap table: it maps key presses to commands and feeds both the help overlay
//! and the footer hints. Keys can be remapped in the user config (`[keys]`).

use std::collections::BTreeMap;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Command;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    List,
    Detail,
    Preview,
    /// One decision for the marked conflicts.
    Triage,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Everywhere => "everywhere",
            Scope::List => "list",
            Scope::Detail => "detail",
            Scope::Preview => "preview",
            Scope::Triage => "one decision for many",
        }
    }
}

/// A key with its modifiers (only Ctrl matters; Shift is in the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn char(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            ctrl: false,
        }
    }

    pub const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    pub const fn code(code: KeyCode) -> Self {
        Self { code, ctrl: false }
    }

    /// The key of a press; releases and repeats are not keys (no double keys on
    /// terminals that report both).
    pub fn of(event: &KeyEvent) -> Option<Self> {
        if event.kind != KeyEventKind::Press {
            return None;
        }
        Some(Self {
            code: event.code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
        })
    }

    /// Reads `q`, `Q`, `Ctrl-r`, `Enter`, `Esc`, `Tab`, `Up`, `Down`, `Home`, `End`,
    /// `PageUp`, `PageDown`, `Space`.
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(rest) = text
            .strip_prefix("Ctrl-")
            .or_else(|| text.strip_prefix("C-"))
        {
            let mut chars = rest.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return None;
            };
            return Some(Self::ctrl(c.to_ascii_lowercase()));
        }
        let code = match text {
            "Enter" => KeyCode::Enter,
            "Esc" => KeyCode::Esc,
            "Tab" => KeyCode::Tab,
            "Up" => KeyCode::Up,
            "Down" => KeyCode::Down,
            "Left" => KeyCode::Left,
            "Right" => KeyCode::Right,
            "Home" => KeyCode::Home,
            "End" => KeyCode::End,
            "PageUp" => KeyCode::PageUp,
            "PageDown" => KeyCode::PageDown,
            "Backspace" => KeyCode::Backspace,
            "Space" => KeyCode::Char(' '),
            _ => {
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => return None,
                }
            }
        };
        Some(Self::code(code))
    }

    /// How help and hints show the key.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Binding {
    pub scope: Scope,
    pub keys: Vec<Key>,
    pub command: Command,
    /// What help says it does.
    pub help: &'static str,
    /// The short word of the footer, when it has a place there.
    pub hint: Option<&'static str>,
}

/// The bindings, in the order help lists them.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

/// A fault in the user's `[keys]` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keys.{command}: {message}")]
pub struct KeymapError {
    pub command: String,
    pub message: String,
}

impl Default for Keymap {
    fn default() -> Self {
        use Command::*;
        use KeyCode as K;
        use Scope::*;
        let row = |scope, keys: &[Key], command, help, hint| Binding {
            scope,
            keys: keys.to_vec(),
            command,
            help,
            hint,
        };
        let c = Key::char;
        Self {
            bindings: vec![
                row(Everywhere, &[c('?')], Help, "help", Some("help")),
                row(
                    Everywhere,
                    &[c('i')],
                    Story,
                    "the story behind the queue (the demo's morning)",
                    None,
                ),
                row(
                    Everywhere,
                    &[c('q')],
                    Back,
                    "back; quit from the list",
                    Some("back/quit"),
                ),
                row(
                    Everywhere,
                    &[Key::code(K::Esc)],
                    Close,
                    "close what is open (help, preview, filter), else back; never quits",
                    None,
                ),
                row(
                    Everywhere,
                    &[Key::ctrl('c')],
                    Quit,
                    "quit (drafts are kept)",
                    None,
                ),
                row(
                    List,
                    &[c('j'), Key::code(K::Down)],
                    Down,
                    "next conflict",
                    None,
                ),
                row(
                    List,
                    &[c('k'), Key::code(K::Up)],
                    Up,
                    "previous conflict",
                    None,
                ),
                row(List, &[c('g'), Key::code(K::Home)], Top, "top", None),
                row(List, &[c('G'), Key::code(K::End)], Bottom, "bottom", None),
                row(List, &[Key::code(K::PageUp)], PageUp, "a page up", None),
                row(
                    List,
                    &[Key::code(K::PageDown)],
                    PageDown,
                    "a page down",
                    None,
                ),
                row(
                    List,
                    &[c('/')],
                    Filter,
                    "filter (text; status:all, status:resolved)",
                    Some("filter"),
                ),
                row(
                    List,
                    &[c('o')],
                    Sort,
                    "sort by the next column",
                    Some("sort"),
                ),
                row(
                    List,
                    &[Key::code(K::Enter)],
                    Open,
                    "open the conflict",
                    Some("open"),
                ),
                row(
                    List,
                    &[c('r')],
                    Refresh,
                    "refresh from the source",
                    Some("refresh"),
                ),
                row(
                    List,
                    &[Key::code(K::Tab)],
                    SwitchView,
                    "in turn: the queue, the sync log, its numbers, the audit trail",
                    Some("sync log"),
                ),
                row(
                    List,
                    &[c(' ')],
                    Mark,
                    "mark/unmark the conflict, for one decision for many",
                    Some("mark"),
                ),
                row(
                    List,
                    &[c('a')],
                    MarkAll,
                    "mark all the filter shows (again: unmark them)",
                    None,
                ),
                row(
                    List,
                    &[c('b')],
                    Bulk,
                    "one decision for the marked conflicts",
                    Some("bulk"),
                ),
                row(
                    Triage,
                    &[c('j'), Key::code(K::Down)],
                    Down,
                    "next decision (item)",
                    None,
                ),
                row(
                    Triage,
                    &[c('k'), Key::code(K::Up)],
                    Up,
                    "previous decision (item)",
                    None,
                ),
                row(
                    Triage,
                    &[c('g'), Key::code(K::Home)],
                    Top,
                    "first decision (item)",
                    None,
                ),
                row(
                    Triage,
                    &[c('G'), Key::code(K::End)],
                    Bottom,
                    "last decision (item)",
                    None,
                ),
                row(
                    Triage,
                    &[c('s')],
                    TakeServer,
                    "server for the decision's field(s)",
                    Some("server"),
                ),
                row(
                    Triage,
                    &[c('l')],
                    TakeLocal,
                    "local for the decision's field(s)",
                    Some("local"),
                ),
                row(
                    Triage,
                    &[Key::code(K::Enter)],
                    Open,
                    "a reference field: pick an item of its list for all",
                    Some("pick"),
                ),
                row(
                    Triage,
                    &[c('y')],
                    Confirm,
                    "send: one request a conflict, each with its own If-Match",
                    Some("send"),
                ),
                row(List, &[c('1')], ViewQueue, "the queue", None),
                row(List, &[c('2')], ViewSyncs, "the sync log", None),
                row(List, &[c('3')], ViewStats, "the sync log's numbers", None),
                row(List, &[c('4')], ViewAudit, "the audit trail", None),
                row(
                    Detail,
                    &[c('j'), Key::code(K::Down)],
                    Down,
                    "next field",
                    None,
                ),
                row(
                    Detail,
                    &[c('k'), Key::code(K::Up)],
                    Up,
                    "previous field",
                    None,
                ),
                row(
                    Detail,
                    &[c('g'), Key::code(K::Home)],
                    Top,
                    "first field",
                    None,
                ),
                row(
                    Detail,
                    &[c('G'), Key::code(K::End)],
                    Bottom,
                    "last field",
                    None,
                ),
                row(
                    Detail,
                    &[Key::code(K::PageUp), Key::ctrl('u')],
                    PageUp,
                    "scroll the field panel up (long values are read there)",
                    None,
                ),
                row(
                    Detail,
                    &[Key::code(K::PageDown), Key::ctrl('d')],
                    PageDown,
                    "scroll the field panel down",
                    None,
                ),
                row(
                    Detail,
                    &[c(']')],
                    NextInQueue,
                    "next conflict of the queue",
                    None,
                ),
                row(
                    Detail,
                    &[c('[')],
                    PreviousInQueue,
                    "previous conflict of the queue",
                    None,
                ),
                row(
                    Detail,
                    &[c('=')],
                    ToggleUnchanged,
                    "hide/show the fields nobody changed",
                    None,
                ),
                row(
                    Detail,
                    &[c('n')],
                    NextConflict,
                    "next undecided conflict",
                    Some("next"),
                ),
                row(
                    Detail,
                    &[c('N')],
                    PreviousConflict,
                    "previous undecided conflict",
                    None,
                ),
                row(
                    Detail,
                    &[c('s')],
                    TakeServer,
                    "accept server",
                    Some("server"),
                ),
                row(Detail, &[c('l')], TakeLocal, "keep local", Some("local")),
                row(
                    Detail,
                    &[c('m')],
                    Manual,
                    "manual merge (edit; $EDITOR for long text)",
                    Some("edit"),
                ),
                row(
                    Detail,
                    &[c('S')],
                    AllServer,
                    "accept server for every conflicting field",
                    None,
                ),
                row(
                    Detail,
                    &[c('L')],
                    AllLocal,
                    "keep local for every conflicting field",
                    None,
                ),
                row(Detail, &[c('u')], Undo, "undo", Some("undo")),
                row(Detail, &[Key::ctrl('r')], Redo, "redo", None),
                row(
                    Detail,
                    &[Key::code(K::Tab)],
                    Layout,
                    "layout: side by side / stacked / with base",
                    Some("layout"),
                ),
                row(
                    Detail,
                    &[c('w')],
                    Submit,
                    "submit (shows a preview first)",
                    Some("submit"),
                ),
                row(
                    Detail,
                    &[c('R')],
                    Restore,
                    "deleted on the server: restore it with the fields as decided",
                    Some("restore"),
                ),
                row(
                    Detail,
                    &[c('K')],
                    KeepDeleted,
                    "deleted on the server: keep it deleted",
                    Some("keep deleted"),
                ),
                row(
                    Preview,
                    &[c('y')],
                    Confirm,
                    "send the resolution",
                    Some("send"),
                ),
            ],
        }
    }
}

impl Keymap {
    /// The default table with the user's overrides: `command = "key"` or `["k1", "k2"]`;
    /// an override replaces the command's keys in every scope.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, KeymapError> {
        let mut map = Self::default();
        for (name, keys) in overrides {
            let fault = |message: String| KeymapError {
                command: name.clone(),
                message,
            };
            let command: Command = serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| fault("no such command".into()))?;
            let parsed = keys
                .iter()
                .map(|k| Key::parse(k).ok_or_else(|| fault(format!("{k:?} is not a key"))))
                .collect::<Result<Vec<_>, _>>()?;
            if parsed.is_empty() {
                return Err(fault("needs at least one key".into()));
            }
            for binding in map.bindings.iter_mut().filter(|b| b.command == command) {
                binding.keys = parsed.clone();
            }
        }
        Ok(map)
    }

    /// The command a key means in `scope` (scope's own bindings first, then everywhere).
    pub fn command(&self, scope: Scope, key: Key) -> Option<Command> {
        let find = |s: Scope| {
            self.bindings
                .iter()
                .find(|b| b.scope == s && b.keys.contains(&key))
                .map(|b| b.command)
        };
        find(scope).or_else(|| find(Scope::Everywhere))
    }

    /// The first key of a command in a scope, for messages ("press w to submit").
    pub fn key_for(&self, scope: Scope, command: Command) -> String {
        self.bindings
            .iter()
            .find(|b| (b.scope == scope || b.scope == Scope::Everywhere) && b.command == command)
            .and_then(|b| b.keys.first())
            .map_or_else(|| "?".into(), Key::label)
    }

    /// The footer: `key word` pairs of everywhere (help and quit survive a narrow
    /// terminal), then of the scope.
    pub fn hints(&self, scope: Scope) -> Vec<(Command, String, &'static str)> {
        [Scope::Everywhere, scope]
            .iter()
            .flat_map(|s| self.bindings.iter().filter(move |b| b.scope == *s))
            .filter_map(|b| Some((b.command, b.keys.first()?.label(), b.hint?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_defaults_resolve_in_their_scopes() {
        let map = Keymap::default();
        assert_eq!(
            map.command(Scope::Detail, Key::char('s')),
            Some(Command::TakeServer)
        );
        assert_eq!(
            map.command(Scope::Detail, Key::ctrl('r')),
            Some(Command::Redo)
        );
        assert_eq!(
            map.command(Scope::List, Key::char('r')),
            Some(Command::Refresh)
        );
        assert_eq!(map.command(Scope::List, Key::char('s')), None);
        assert_eq!(
            map.command(Scope::Detail, Key::code(KeyCode::Esc)),
            Some(Command::Close)
        );
        assert_eq!(
            map.command(Scope::List, Key::char('q')),
            Some(Command::Back)
        );
        assert_eq!(
            map.command(Scope::List, Key::ctrl('c')),
            Some(Command::Quit)
        );
    }

    #[test]
    fn overrides_replace_keys_and_name_bad_entries() {
        let overrides = BTreeMap::from([("take_server".to_string(), vec!["a".to_string()])]);
        let map = Keymap::with_overrides(&overrides).unwrap();
        assert_eq!(
            map.command(Scope::Detail, Key::char('a')),
            Some(Command::TakeServer)
        );
        assert_eq!(map.command(Scope::Detail, Key::char('s')), None);
        assert!(map.hints(Scope::Detail).contains(&(
            Command::TakeServer,
            "a".to_string(),
            "server"
        )));
        let bad = BTreeMap::from([("fly".to_string(), vec!["x".to_string()])]);
        assert_eq!(
            Keymap::with_overrides(&bad).unwrap_err().to_string(),
            "keys.fly: no such command"
        );
        let bad = BTreeMap::from([("undo".to_string(), vec!["Ctrl-xy".to_string()])]);
        assert!(
            Keymap::with_overrides(&bad)
                .unwrap_err()
                .to_string()
                .contains("\"Ctrl-xy\"")
        );
    }

    #[test]
    fn only_presses_are_keys() {
        let mut event = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE);
        assert_eq!(Key::of(&event), Some(Key::char('s')));
        event.kind = KeyEventKind::Release;
        assert_eq!(Key::of(&event), None);
        event.kind = KeyEventKind::Repeat;
        assert_eq!(Key::of(&event), None);
    }
}

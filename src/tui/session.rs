//! The event loop: keys become actions, `update` changes the state, effects run outside
//! and come back as actions, `view` draws. The same loop runs in a terminal and, over a
//! `TestBackend`, in tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, MouseEventKind};

use super::action::{Action, Command};
use super::app::{App, Overlay};
use super::drafts::DraftStore;
use super::effect::Effect;
use super::keymap::Key;
use super::runner::Runner;
use super::update::update;
use super::view::view;
use crate::client::ConflictSource;

/// How often the loop wakes without input (spinner, ages, answers from the runner).
const TICK: Duration = Duration::from_millis(50);
/// How often it looks for answers while an effect is out: the terminal's poll cannot wait
/// on the runner's channel, and an answer should reach the screen within a frame of
/// arriving, not up to a tick later (the queue of a large export waited ~50 ms for it).
const ANSWER_POLL: Duration = Duration::from_millis(2);

/// A desk at work on one terminal.
pub struct Session<B: Backend> {
    pub app: App,
    pub terminal: Terminal<B>,
    runner: Runner,
    answers: Receiver<Action>,
    /// Whether the terminal is a real one (suspended for `$EDITOR`).
    real_terminal: bool,
    /// The editor for long text: `$VISUAL`, else `$EDITOR`; without either, the desk's own.
    editor: Option<String>,
    /// Set from outside (a SIGTERM or SIGHUP) to end the loop as a quit would.
    stop: Option<Arc<AtomicBool>>,
}

impl<B: Backend> Session<B> {
    /// Starts a desk and asks for the queue.
    pub fn new(
        app: App,
        terminal: Terminal<B>,
        source: ConflictSource,
        drafts: Option<DraftStore>,
    ) -> std::io::Result<Self> {
        let (tx, answers) = channel();
        let runner = Runner::new(source, drafts, tx)?;
        let editor = ["VISUAL", "EDITOR"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|e| !e.trim().is_empty());
        let mut app = app;
        app.external_editor = editor.is_some();
        let mut session = Self {
            app,
            terminal,
            runner,
            answers,
            real_terminal: false,
            editor,
            stop: None,
        };
        // Listening first, then reading: what happens in between is heard, not lost.
        session.runner.watch_queue();
        session.app.busy = Some("Reading the queue".into());
        session.run_effects(vec![Effect::LoadQueue { all: false }]);
        Ok(session)
    }

    /// Marks the terminal as real: `$EDITOR` then gets it for a while.
    pub fn in_real_terminal(mut self) -> Self {
        self.real_terminal = true;
        self
    }

    /// Ends the loop, as a quit does, once `stop` is set.
    pub fn stop_on(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Uses this editor command for long text (words split at spaces; the file comes
    /// last); `None`: the desk's own editor.
    pub fn with_editor(mut self, editor: Option<&str>) -> Self {
        self.editor = editor.map(str::to_string);
        self.app.external_editor = self.editor.is_some();
        self
    }

    /// Applies an action and starts the effects it asks for.
    pub fn dispatch(&mut self, action: Action) {
        let effects = update(&mut self.app, action);
        self.run_effects(effects);
    }

    fn run_effects(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::EditExternally { path, text } => {
                    let edited = self.edit_externally(&text);
                    self.dispatch(Action::Edited { path, text: edited });
                }
                other => self.runner.start(other),
            }
        }
    }

    /// Handles a terminal event (keys; a resize only redraws).
    pub fn event(&mut self, event: &Event) {
        let action = match event {
            Event::Key(key) => self.action_for(key),
            // The wheel moves like j/k (mouse reporting is on only when the user asks).
            Event::Mouse(mouse) if !self.app.typing() => match mouse.kind {
                MouseEventKind::ScrollDown => Some(Command::Down.into()),
                MouseEventKind::ScrollUp => Some(Command::Up.into()),
                _ => None,
            },
            _ => None,
        };
        if let Some(action) = action {
            self.dispatch(action);
        }
    }

    /// What a key press means now: text while typing, else the keymap's command.
    fn action_for(&self, event: &KeyEvent) -> Option<Action> {
        let key = Key::of(event)?;
        if key == Key::ctrl('c') {
            return Some(Command::Quit.into());
        }
        // The desk's own text editor takes every key but its two ways out.
        if matches!(self.app.overlay, Some(Overlay::Text)) {
            return Some(match key {
                k if k.code == KeyCode::Esc => Command::Close.into(),
                k if k == Key::ctrl('s') => Action::Accept,
                _ => Action::EditorKey(*event),
            });
        }
        if self.app.typing() {
            return match key.code {
                KeyCode::Esc => Some(Command::Close.into()),
                KeyCode::Up => Some(Command::Up.into()),
                KeyCode::Down => Some(Command::Down.into()),
                KeyCode::Enter => Some(Action::Accept),
                KeyCode::Backspace => Some(Action::Erase),
                KeyCode::Char(c) if !key.ctrl => Some(Action::Type(c)),
                _ => None,
            };
        }
        let command = self.app.keymap.command(self.app.scope(), key);
        // Asked whether to quit, every key but the confirming one means "stay".
        if matches!(
            self.app.overlay,
            Some(Overlay::ConfirmQuit { .. } | Overlay::ClaimedOpen { .. })
        ) {
            return Some(Action::Command(match command {
                Some(Command::Confirm) => Command::Confirm,
                _ => Command::Close,
            }));
        }
        command.map(Action::Command)
    }

    /// Applies every answer that has arrived; true when there was one.
    pub fn drain(&mut self) -> bool {
        let mut any = false;
        while let Ok(action) = self.answers.try_recv() {
            self.dispatch(action);
            any = true;
        }
        any
    }

    /// Waits (up to `limit`) until every effect has answered and been applied.
    pub fn settle(&mut self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        loop {
            match self.answers.recv_timeout(Duration::from_millis(5)) {
                Ok(action) => self.dispatch(action),
                Err(_) if self.runner.idle() => {
                    self.drain();
                    if self.runner.idle() {
                        return true;
                    }
                }
                Err(_) => {}
            }
            if Instant::now() >= until {
                return false;
            }
        }
    }

    pub fn draw(&mut self) -> std::io::Result<()> {
        let app = &self.app;
        self.terminal
            .draw(|frame| view(app, frame))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(())
    }

    /// Runs until the desk quits. `next_event(timeout)` gives the next terminal event,
    /// or `None` when none came in time.
    pub fn run(
        mut self,
        mut next_event: impl FnMut(Duration) -> std::io::Result<Option<Event>>,
    ) -> std::io::Result<App> {
        // Drawn when something happened, and once a second for the ages: an idle desk
        // costs next to nothing.
        let mut changed = true;
        let mut drawn = Instant::now();
        while !self.app.quit {
            if changed || drawn.elapsed() >= Duration::from_secs(1) {
                self.app.now = jiff::Timestamp::now();
                self.draw()?;
                drawn = Instant::now();
                changed = false;
            }
            let wait = if self.runner.idle() {
                TICK
            } else {
                ANSWER_POLL
            };
            match next_event(wait)? {
                Some(event) => {
                    self.event(&event);
                    changed = true;
                }
                None if self.app.busy.is_some() => {
                    self.dispatch(Action::Tick);
                    changed = true;
                }
                None => {}
            }
            changed |= self.drain();
            if self
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                self.app.quit = true;
            }
        }
        Ok(self.finish())
    }

    /// Ends the session: drafts are flushed, the state is handed back.
    pub fn finish(self) -> App {
        let Session {
            app, mut runner, ..
        } = self;
        runner.flush_drafts();
        app
    }

    /// Hands the terminal to the editor on a file holding `text`; the edited text, or
    /// `None` when the editor failed.
    fn edit_externally(&mut self, text: &str) -> Option<String> {
        let path = std::env::temp_dir().join(format!(
            "syncdesk-edit-{}-{}.txt",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::write(&path, text).ok()?;
        let editor = self.editor.clone()?;
        let mut words = editor.split_whitespace();
        let program = words.next()?;
        if self.real_terminal {
            ratatui::restore();
        }
        let status = std::process::Command::new(program)
            .args(words)
            .arg(&path)
            .status();
        if self.real_terminal {
            let _ = ratatui::crossterm::terminal::enable_raw_mode();
            let _ = ratatui::crossterm::execute!(
                std::io::stdout(),
                ratatui::crossterm::terminal::EnterAlternateScreen
            );
            let _ = self.terminal.clear();
        }
        let edited = match status {
            Ok(s) if s.success() => std::fs::read_to_string(&path).ok(),
            _ => None,
        };
        let _ = std::fs::remove_file(&path);
        edited
    }
}

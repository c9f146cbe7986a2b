//! The conflict desk: a keyboard-driven terminal UI in the Elm shape. `App` holds the
//! state, `update` changes it and returns effects, `view` draws it, `Session` runs the
//! loop.

pub mod action;
pub mod app;
pub mod desk;
pub mod drafts;
pub mod effect;
pub mod keymap;
mod runner;
pub mod session;
pub mod update;
pub mod view;

pub use action::{Action, Command};
pub use app::App;
pub use session::Session;

use ratatui::crossterm::event;

use crate::client::ConflictSource;
use drafts::DraftStore;

/// Runs the desk in this terminal until the user quits; returns what was resolved.
/// The terminal is restored on the way out, on `Ctrl-C` and on a panic.
pub fn run_in_terminal(
    app: App,
    source: ConflictSource,
    drafts: Option<DraftStore>,
) -> std::io::Result<Vec<String>> {
    let terminal = ratatui::init();
    let outcome = Session::new(app, terminal, source, drafts).and_then(|session| {
        session.in_real_terminal().run(|timeout| {
            if event::poll(timeout)? {
                event::read().map(Some)
            } else {
                Ok(None)
            }
        })
    });
    ratatui::restore();
    outcome.map(|app| app.resolved)
}

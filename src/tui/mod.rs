//! The conflict desk: a keyboard-driven terminal UI in the Elm shape. `App` holds the
//! state, `update` changes it and returns effects, `view` draws it, `Session` runs the
//! loop.

pub mod action;
pub mod app;
pub mod bulk;
pub mod desk;
pub mod drafts;
pub mod effect;
pub mod keymap;
pub mod live;
mod runner;
pub mod session;
mod sync_view;
pub mod triage;
pub mod update;
pub mod view;

pub use action::{Action, Command};
pub use app::App;
pub use session::Session;

use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};

use crate::client::ConflictSource;
use drafts::DraftStore;

/// Runs the desk in this terminal until the user quits; returns its final state.
/// The terminal is restored on the way out, on `Ctrl-C`, on SIGTERM or SIGHUP (a closed
/// terminal window, a `kill`), and on a panic.
pub fn run_in_terminal(
    app: App,
    source: ConflictSource,
    drafts: Option<DraftStore>,
    mouse: bool,
) -> std::io::Result<App> {
    let stop = stop_on_signals();
    let terminal = ratatui::init();
    if mouse {
        capture_mouse();
    }
    let outcome = Session::new(app, terminal, source, drafts).and_then(|session| {
        session.in_real_terminal().stop_on(stop).run(|timeout| {
            if event::poll(timeout)? {
                event::read().map(Some)
            } else {
                Ok(None)
            }
        })
    });
    if mouse {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    }
    ratatui::restore();
    outcome
}

/// Turns mouse reporting on, and off again on a panic (ratatui's own hook restores the
/// rest of the terminal).
fn capture_mouse() {
    let _ = ratatui::crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));
}

/// A flag set when the process is asked to end (SIGTERM, SIGHUP): the loop then quits
/// like `q` does, so the terminal is restored and drafts are flushed.
fn stop_on_signals() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    #[cfg(unix)]
    listen_for_signals(stop.clone());
    stop
}

#[cfg(unix)]
fn listen_for_signals(flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let _ = std::thread::Builder::new()
        .name("syncdesk-signals".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut hangup)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                let code = tokio::select! {
                    _ = term.recv() => 128 + 15,
                    _ = hangup.recv() => 128 + 1,
                };
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                // A terminal that hung up can keep crossterm's poll from ever returning:
                // if the loop has not ended on its own by then, end the process. Drafts
                // are already on disk (each written whole on its own thread).
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                std::process::exit(code);
            });
        });
}

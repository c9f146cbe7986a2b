//! `syncdesk tui [--server URL] [--token T]` and `syncdesk open FILE [--out FILE]`: the
//! conflict desk on a server or on an export file.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::remote::{ServerArgs, server_and_token};
use super::user_config::{Theme as ThemeSetting, UserConfig, setting};
use super::{Exit, Failure};
use crate::client::{ConflictSource, ExportBook, ServerClient};
use crate::tui::app::{App, Theme};
use crate::tui::drafts::DraftStore;
use crate::tui::keymap::Keymap;

#[derive(clap::Args, Default)]
pub struct TuiArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(clap::Args)]
pub struct OpenArgs {
    /// An export: JSON, or NDJSON (one conflict detail a line) when named `.ndjson`.
    file: PathBuf,
    /// Where resolutions go (default: FILE's name with `.resolutions.json`).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Whether a server is configured anywhere (a bare `syncdesk` then opens the desk).
pub fn server_configured() -> bool {
    let config = UserConfig::load().unwrap_or_default();
    setting(None, "SYNCDESK_SERVER", config.server.as_deref()).is_some()
}

pub fn tui(args: &TuiArgs) -> Result<Exit, Failure> {
    let config = UserConfig::load()?;
    let (server, token) = server_and_token(&args.server, &config)?;
    let client = ServerClient::new(&server, &token).map_err(super::remote::failure)?;
    let source = ConflictSource::Server(client);
    run_desk(&config, source, None, |_| {}, |_| Ok(()))
}

pub fn open(args: &OpenArgs) -> Result<Exit, Failure> {
    let config = UserConfig::load()?;
    let book = ExportBook::open(&args.file, args.out.as_deref())
        .map_err(|e| Failure::input(e.to_string()))?;
    let out = book.out_path().to_path_buf();
    run_desk(
        &config,
        ConflictSource::Export(book),
        None,
        |_| {},
        |resolved| {
            if !resolved.is_empty() {
                println!(
                    "Resolutions are in {}; send them with: syncdesk push {}",
                    out.display(),
                    out.display()
                );
            }
            Ok(())
        },
    )
}

/// Runs the desk on a source until the user quits, then `after` with what was resolved.
/// Drafts live under `drafts_root`, else the user's data directory.
pub(super) fn run_desk(
    config: &UserConfig,
    source: ConflictSource,
    drafts_root: Option<std::path::PathBuf>,
    setup: impl FnOnce(&mut App),
    after: impl FnOnce(&[String]) -> Result<(), Failure>,
) -> Result<Exit, Failure> {
    let keymap = Keymap::with_overrides(&config.key_overrides()).map_err(|e| {
        let file = UserConfig::path().map_or(String::new(), |p| format!("{}: ", p.display()));
        Failure::input(format!("{file}{e}"))
    })?;
    if !std::io::stdout().is_terminal() {
        return Err(Failure::input(
            "the desk needs a terminal (for scripts: syncdesk conflicts ...)",
        ));
    }
    let theme = match config.theme {
        Some(ThemeSetting::Mono) => Theme { color: false },
        _ => Theme::from_env(),
    };
    let user = config
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "supervisor".into());
    let label = source.label();
    let drafts = drafts_root
        .or_else(DraftStore::default_root)
        .map(|root| DraftStore::new(&root, &label));
    let mut app = App::new(label, user, keymap, theme, jiff::tz::TimeZone::system());
    setup(&mut app);
    let app = crate::tui::run_in_terminal(app, source, drafts, config.mouse == Some(true))
        .map_err(|e| Failure::input(format!("terminal: {e}")))?;
    for line in &app.resolved {
        println!("resolved {line}");
    }
    println!("{}", app.quit_summary());
    after(&app.resolved)?;
    Ok(if app.interrupted {
        Exit::Interrupted
    } else {
        Exit::Ok
    })
}

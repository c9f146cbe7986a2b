//! `syncdesk tui [--server URL] [--token T]` and `syncdesk open FILE [--out FILE]`: the
//! conflict desk on a server or on an export file.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::user_config::{Theme as ThemeSetting, UserConfig, setting};
use super::{Exit, Failure};
use crate::client::{ConflictSource, ExportBook, ServerClient};
use crate::tui::app::{App, Theme};
use crate::tui::drafts::DraftStore;
use crate::tui::keymap::Keymap;

#[derive(clap::Args, Default)]
pub struct TuiArgs {
    /// Server URL (else SYNCDESK_SERVER, else `server` in the user config).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token (else SYNCDESK_TOKEN, else `token` in the user config).
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
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
    let where_ = UserConfig::path().map_or("the user config".into(), |p| p.display().to_string());
    let server = setting(
        args.server.as_deref(),
        "SYNCDESK_SERVER",
        config.server.as_deref(),
    )
    .ok_or_else(|| {
        Failure::input(format!(
            "no server: give --server URL, set SYNCDESK_SERVER, or put server = \"...\" in {where_}"
        ))
    })?;
    let token = setting(
        args.token.as_deref(),
        "SYNCDESK_TOKEN",
        config.token.as_deref(),
    )
    .ok_or_else(|| {
        Failure::input(format!(
            "no token: give --token T, set SYNCDESK_TOKEN, or put token = \"...\" in {where_}"
        ))
    })?;
    let client = ServerClient::new(&server, &token).map_err(|e| Failure {
        exit: Exit::Unreachable,
        message: e.to_string(),
    })?;
    let source = ConflictSource::Server(client);
    run_desk(&config, source, |_| Ok(()))
}

pub fn open(args: &OpenArgs) -> Result<Exit, Failure> {
    let config = UserConfig::load()?;
    let book = ExportBook::open(&args.file, args.out.as_deref())
        .map_err(|e| Failure::input(e.to_string()))?;
    let out = book.out_path().to_path_buf();
    run_desk(&config, ConflictSource::Export(book), |resolved| {
        if !resolved.is_empty() {
            println!(
                "Resolutions are in {}; send them with: syncdesk push {}",
                out.display(),
                out.display()
            );
        }
        Ok(())
    })
}

fn run_desk(
    config: &UserConfig,
    source: ConflictSource,
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
    let drafts = DraftStore::default_root().map(|root| DraftStore::new(&root, &label));
    let app = App::new(label, user, keymap, theme, jiff::tz::TimeZone::system());
    let resolved = crate::tui::run_in_terminal(app, source, drafts)
        .map_err(|e| Failure::input(format!("terminal: {e}")))?;
    for line in &resolved {
        println!("resolved {line}");
    }
    println!("{} conflict(s) resolved", resolved.len());
    after(&resolved)?;
    Ok(Exit::Ok)
}

//! `syncdesk serve --config FILE [--listen ADDR] [--db PATH]`.

use std::path::PathBuf;

use crate::store::{Database, StoreError};
use std::sync::Arc;

use super::{Exit, Failure};
use crate::server::config::Config;
use crate::server::http::{AppState, serve_until};

/// SIGINT (Ctrl-C) or SIGTERM: the server stops taking requests and finishes its own.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The server configuration (TOML: listen, database, users, types).
    #[arg(long)]
    config: PathBuf,
    /// Address to listen on, instead of the configuration's.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// SQLite file or postgres:// URL, instead of the configuration's `database`.
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
    /// Also load the demo users, types, master data and records (assets/demo/).
    #[arg(long)]
    demo: bool,
}

pub fn run(args: &ServeArgs) -> Result<Exit, Failure> {
    let name = args.config.display();
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| Failure::input(format!("{name}: cannot read: {e}")))?;
    let mut config =
        Config::from_toml(&text).map_err(|e| Failure::input(format!("{name}: {e}")))?;
    if args.demo {
        crate::server::demo::add_to(&mut config)
            .map_err(|e| Failure::input(format!("demo configuration: {e}")))?;
    }
    crate::server::log::start(config.log);
    let listen = args.listen.clone().unwrap_or_else(|| config.listen.clone());
    let database = Database::from_setting(args.db.as_deref().unwrap_or(&config.database));
    if args.demo {
        let seeded = database
            .open()
            .and_then(|mut store| crate::server::demo::seed(&mut store))
            .map_err(|e| refused(&database, e))?;
        tracing::info!(
            "demo data loaded ({seeded} new records; tokens demo-ana, demo-ben, demo-sue, demo-root)"
        );
    }
    let state = AppState::open(config, database.clone()).map_err(|e| refused(&database, e))?;
    let state = Arc::new(state);
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| Failure::input(format!("cannot start: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| Failure::input(format!("cannot listen on {listen}: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| Failure::input(e.to_string()))?;
        tracing::info!("listening on http://{address} (database {database})");
        if let Some(metrics) = state.config.metrics_listen.clone() {
            let listener = tokio::net::TcpListener::bind(&metrics).await.map_err(|e| {
                Failure::input(format!("cannot listen on {metrics} (metrics_listen): {e}"))
            })?;
            tracing::info!("metrics on http://{metrics}/metrics");
            tokio::spawn(crate::server::http::serve_metrics(state.clone(), listener));
        }
        serve_until(state, listener, stop_signal()).await;
        tracing::info!("stopped; every answered write is on disk");
        Ok(Exit::Ok)
    })
}

/// A database the server cannot use, on one line: one it cannot reach, or one a newer
/// syncdesk migrated, is refused (3); a SQLite file it cannot open is an input error (2).
fn refused(database: &Database, e: StoreError) -> Failure {
    let exit = match (&e, database) {
        (StoreError::NewerSchema { .. }, _) | (_, Database::Postgres(_)) => Exit::Unreachable,
        _ => Exit::Input,
    };
    // The driver's error says what failed; its source says why ("connection refused").
    let mut message = format!("{database}: {e}");
    let mut cause = std::error::Error::source(&e);
    while let Some(reason) = cause {
        let text = reason.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        cause = reason.source();
    }
    Failure { exit, message }
}

//! `syncdesk demo`: a server embedded on a free loopback port with a temporary database
//! and the demo configuration, a morning of offline syncs replayed through the real
//! protocol, then the conflict desk as supervisor sue. On quit: what was resolved, and
//! the server stops. Without a terminal it reports the morning and the queue instead.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::desk_cmd::run_desk;
use super::user_config::UserConfig;
use super::{Exit, Failure};
use crate::client::{ConflictSource, ServerClient};
use crate::demo::{SUPERVISOR_TOKEN, Step, replay};
use crate::sanitize::visible;
use crate::server::clock::Clock;
use crate::server::config::Config;
use crate::server::http::{AppState, serve};

/// The demo's temporary folder (database, drafts), removed when the demo ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(clap::Args, Default)]
pub struct DemoArgs {
    /// Leave the demo server running after the desk (or, without a terminal, after the
    /// morning), printing its URL and the demo users' tokens, so the command line can be
    /// tried on the same conflicts; Ctrl-C then stops it and deletes its database.
    #[arg(long)]
    keep: bool,
}

/// The demo's users and their tokens (`assets/demo/syncdesk.toml`).
const USERS: &str = "demo-ana, demo-ben (technicians), demo-sue (supervisor), demo-root (admin)";

/// `--keep`: the server goes on until Ctrl-C (or SIGTERM), then the demo ends as usual.
fn keep_serving(runtime: &tokio::runtime::Runtime, base: &str) {
    println!(
        "\nThe demo server keeps running on {base}; Ctrl-C stops it and deletes its database."
    );
    println!("Its users' tokens: {USERS}. Try it:");
    println!("  SYNCDESK_SERVER={base} SYNCDESK_TOKEN={SUPERVISOR_TOKEN} syncdesk conflicts list");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                },
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
    println!("The demo server on {base} has stopped; its database is gone.");
}

pub fn run(args: &DemoArgs) -> Result<Exit, Failure> {
    let started = Instant::now();
    let broken = |e: &dyn std::fmt::Display| Failure::input(format!("demo: {e}"));
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "syncdesk-demo-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    )));
    std::fs::create_dir_all(&scratch.0).map_err(|e| broken(&e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| broken(&e))?;
    let config = Config::from_toml(crate::server::demo::CONFIG).map_err(|e| broken(&e))?;
    let mut state = AppState::open(config, scratch.0.join("demo.db")).map_err(|e| broken(&e))?;
    // The server runs on the morning's clock, so its stamps tell the same story.
    let clock = Clock::set_to(crate::demo::start());
    state.clock = clock.clone();
    let state = Arc::new(state);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| broken(&e))?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| broken(&e))?);
    runtime.spawn(serve(state, listener));
    let steps = runtime
        .block_on(replay(&base, &clock))
        .map_err(|e| broken(&e))?;
    let ready = started.elapsed();

    let client = ServerClient::new(&base, SUPERVISOR_TOKEN).map_err(|e| broken(&e))?;
    if !std::io::stdout().is_terminal() {
        let queue = runtime
            .block_on(client.conflicts("open"))
            .map_err(|e| broken(&e))?;
        print!("{}", morning(&steps));
        println!(
            "\nThe queue: {} open conflict(s) for a supervisor:",
            queue.len()
        );
        for c in &queue {
            let kind = c.kind.name();
            println!(
                "  {} {kind} {} ({})",
                visible(&c.id),
                visible(&c.record_id),
                visible(&c.conflicting_paths.join(", "))
            );
        }
        println!(
            "\nReady in {} ms on {base}. In a terminal, `syncdesk demo` opens the desk on this queue.",
            ready.as_millis()
        );
        if args.keep {
            keep_serving(&runtime, &base);
        }
        return Ok(Exit::Ok);
    }
    let config = UserConfig {
        user: Some("sue".into()),
        ..UserConfig::load().unwrap_or_default()
    };
    let exit = run_desk(
        &config,
        ConflictSource::Server(client),
        Some(scratch.0.join("drafts")),
        |app| {
            if !args.keep {
                app.quit_warning =
                    Some("Quitting ends the demo: its server and its database go.".into());
            }
            app.story = morning(&steps).lines().map(str::to_string).collect();
            app.say("The queue the demo's morning left: i tells what happened, ? the keys.");
        },
        |_| {
            print!("{}", morning(&steps));
            if args.keep {
                keep_serving(&runtime, &base);
            } else {
                println!("The demo server on {base} has stopped; its database is gone.");
            }
            Ok(())
        },
    );
    runtime.shutdown_background();
    exit
}

/// The morning as lines: time, what happened, the server's answer.
fn morning(steps: &[Step]) -> String {
    let mut out = String::from("The morning, replayed through the protocol:\n");
    for s in steps {
        out.push_str(&format!(
            "  {} {:<58} {} {}\n",
            crate::tui::view::local_time(s.at, &jiff::tz::TimeZone::system()),
            s.what,
            s.status,
            visible(&s.outcome)
        ));
    }
    out
}

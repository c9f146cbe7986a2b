//! `syncdesk simulate`: the field's days played through the protocol — on a server
//! embedded with a temporary database, or on the server `--server` names (whose queue,
//! log and stats it then fills) — and the table of what each rule would have refused.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use super::remote::{ServerArgs, server_and_token};
use super::user_config::UserConfig;
use super::{Exit, Failure};
use crate::server::clock::Clock;
use crate::server::http::{AppState, serve};
use crate::simulate::day::{self, Settings};
use crate::simulate::drive::{Target, play};
use crate::simulate::{Report, embedded_config, render};

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Play the days on this server (it needs the demo's `inspections` type and an
    /// admin's token; every simulated person acts through that token). Without it, on a
    /// server embedded with a temporary database.
    #[arg(long)]
    server: Option<String>,
    /// The token for `--server` (else SYNCDESK_TOKEN, else the user config).
    #[arg(long)]
    token: Option<String>,
    /// Technicians in the field (1–500).
    #[arg(long, default_value_t = 12)]
    technicians: usize,
    /// Days to play (1–60); the first two are Europe's and the US's DST changes.
    #[arg(long, default_value_t = 1)]
    days: usize,
    /// The plan's seed: one seed, one plan.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The report as JSON.
    #[arg(long)]
    json: bool,
}

/// A temporary folder, gone when the run ends.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(args: &SimulateArgs) -> Result<Exit, Failure> {
    if !(1..=500).contains(&args.technicians) {
        return Err(Failure::input(format!(
            "simulate: --technicians {} is out of range (1–500)",
            args.technicians
        )));
    }
    if !(1..=60).contains(&args.days) {
        return Err(Failure::input(format!(
            "simulate: --days {} is out of range (1–60)",
            args.days
        )));
    }
    let started = Instant::now();
    let settings = Settings {
        technicians: args.technicians,
        days: args.days,
        seed: args.seed,
    };
    let plan = day::plan(settings).map_err(|e| Failure::input(format!("simulate: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::input(format!("simulate: {e}")))?;
    let mut _scratch = None;
    let (target, server) = match &args.server {
        Some(url) => {
            let named = ServerArgs {
                server: Some(url.clone()),
                token: args.token.clone(),
            };
            let (base, token) = server_and_token(&named, &UserConfig::load()?)?;
            let base = base.trim_end_matches('/').to_string();
            let target = Target {
                base: base.clone(),
                token: Some(token),
                prefix: run_prefix(args.seed, jiff::Timestamp::now().as_second()),
                clock: None,
            };
            (target, base)
        }
        None => {
            let broken = |e: &dyn std::fmt::Display| Failure::input(format!("simulate: {e}"));
            let scratch = Scratch(std::env::temp_dir().join(format!(
                "syncdesk-simulate-{}-{}",
                std::process::id(),
                jiff::Timestamp::now().as_millisecond()
            )));
            std::fs::create_dir_all(&scratch.0).map_err(|e| broken(&e))?;
            let config = embedded_config(&plan.technicians).map_err(|e| broken(&e))?;
            let mut state =
                AppState::open(config, scratch.0.join("simulate.db")).map_err(|e| broken(&e))?;
            let first = plan.acts.first().map_or(0, |t| t.at);
            let clock = Clock::set_to(
                crate::model::UtcMillis::from_millis(first)
                    .unwrap_or_else(crate::model::UtcMillis::now),
            );
            state.clock = clock.clone();
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .map_err(|e| broken(&e))?;
            let base = format!("http://{}", listener.local_addr().map_err(|e| broken(&e))?);
            runtime.spawn(serve(Arc::new(state), listener));
            _scratch = Some(scratch);
            let target = Target {
                base,
                token: None,
                prefix: String::new(),
                clock: Some(clock),
            };
            (target, "embedded".to_string())
        }
    };
    let bar = if args.json || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let style = indicatif::ProgressStyle::with_template(
            "playing the field's day(s) {bar:40} {pos}/{len} steps, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        indicatif::ProgressBar::new(plan.acts.len() as u64).with_style(style)
    };
    let tally = runtime
        .block_on(play(&plan, &target, |done| bar.set_position(done as u64)))
        .map_err(|e| Failure {
            exit: Exit::Unreachable,
            message: format!("simulate: {e}"),
        })?;
    bar.finish_and_clear();
    runtime.shutdown_background();
    let report = Report {
        technicians: args.technicians,
        days: args.days,
        seed: args.seed,
        dates: plan.dates.iter().map(ToString::to_string).collect(),
        played_on: server,
        elapsed_ms: started.elapsed().as_millis(),
        tally,
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::input(format!("simulate: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.tally.faults() == 0 {
        Exit::Ok
    } else {
        Exit::Conflict
    })
}

/// What a run on someone else's server puts before its record ids: the seed and a short
/// stamp of the second it started (`SIM7-K3X9-`), so that runs never share a record and
/// the ids stay short enough to read in the desk's list.
fn run_prefix(seed: u64, second: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut n = second.rem_euclid(36_i64.pow(4));
    let mut stamp = [b'0'; 4];
    for slot in stamp.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    format!("SIM{seed}-{}-", String::from_utf8_lossy(&stamp))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_run_prefix_is_short_and_changes_every_second() {
        assert_eq!(super::run_prefix(7, 0), "SIM7-0000-");
        assert_eq!(super::run_prefix(7, 36 * 36 * 36 * 36 + 35), "SIM7-000Z-");
        assert_ne!(super::run_prefix(1, 100), super::run_prefix(1, 101));
    }
}

//! The command line: clap definitions, and one short function a command.

mod bulk_resolve;
mod conflicts_cmd;
mod demo_cmd;
mod desk_cmd;
mod export_cmd;
mod merge_cmd;
mod push_cmd;
mod remote;
mod serve_cmd;
mod simulate_cmd;
mod syncs_cmd;
pub mod user_config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes shared by every command (contract, section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The thing asked about is in conflict, or failed.
    Conflict = 1,
    /// Usage or input error.
    Input = 2,
    /// The server is unreachable or refused.
    Unreachable = 3,
    /// Stopped by `Ctrl-C` (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// A fault to report on one line, with the exit code it earns.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Input,
            message: message.into(),
        }
    }
}

#[derive(Parser)]
#[command(
    name = "syncdesk",
    version,
    about = "Offline sync without false 409s, and a terminal desk for the genuine ones"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Try it all: a server on a free loopback port with a throwaway database, a morning of
    /// offline syncs replayed through it (clock skew, a retry, a genuine conflict, a removed
    /// site, a deleted record), then the desk on the conflicts left. Quitting ends the
    /// server and deletes its database. Without a terminal it prints the morning and the
    /// queue.
    Demo(demo_cmd::DemoArgs),
    /// Three-way merge of a record's fields: BASE, LOCAL and SERVER are JSON objects.
    Merge(merge_cmd::MergeArgs),
    /// Run the sync server.
    Serve(serve_cmd::ServeArgs),
    /// The conflict desk on a server (what a bare `syncdesk` runs when one is configured).
    Tui(desk_cmd::TuiArgs),
    /// The conflict desk on an export file, offline; resolutions go to a file for `push`.
    Open(desk_cmd::OpenArgs),
    /// The conflict queue from a script: list, show, resolve.
    #[command(subcommand)]
    Conflicts(conflicts_cmd::ConflictsCommand),
    /// Write the queue to an export file (JSON; NDJSON when the file ends in .ndjson).
    Export(export_cmd::ExportArgs),
    /// Send the resolutions written by `syncdesk open`.
    Push(push_cmd::PushArgs),
    /// The sync log: every write to a record and what it came to, newest first.
    Syncs(syncs_cmd::SyncsArgs),
    /// The sync log counted: outcomes per day, user, device or type, and the share refused.
    Stats(syncs_cmd::StatsArgs),
    /// The audit trail: the resolutions, newest first, with who chose what.
    Audit(syncs_cmd::AuditArgs),
    /// Days of offline field work played through the protocol and judged against the
    /// simulator's own ground truth, beside three naive rules' refusals (exit 1 if the
    /// server refused falsely, missed a conflict, merged wrongly, duplicated or replayed
    /// badly). On an embedded server unless --server names one, whose queue it fills.
    Simulate(simulate_cmd::SimulateArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

/// Rows as aligned columns, two spaces apart, each line trimmed: a table a person reads.
pub(crate) fn aligned<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.as_ref().get(i))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .as_ref()
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Ends the process with 130 on `Ctrl-C`. What a command writes is atomic and what it
/// sends idempotent, so stopping between any two steps loses nothing.
fn exit_130_on_ctrl_c() {
    let _ = std::thread::Builder::new()
        .name("syncdesk-ctrl-c".into())
        .spawn(|| {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if runtime.block_on(tokio::signal::ctrl_c()).is_ok() {
                eprintln!("syncdesk: interrupted");
                std::process::exit(Exit::Interrupted as i32);
            }
        });
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // The desk reads Ctrl-C as a key, the server stops on it; any other command ends 130.
    if !matches!(
        cli.command,
        Some(Command::Demo(_) | Command::Serve(_) | Command::Tui(_) | Command::Open(_)) | None
    ) {
        exit_130_on_ctrl_c();
    }
    let outcome = match cli.command {
        Some(Command::Demo(args)) => demo_cmd::run(&args),
        Some(Command::Merge(args)) => merge_cmd::run(&args),
        Some(Command::Serve(args)) => serve_cmd::run(&args),
        Some(Command::Tui(args)) => desk_cmd::tui(&args),
        Some(Command::Open(args)) => desk_cmd::open(&args),
        Some(Command::Conflicts(command)) => conflicts_cmd::run(&command),
        Some(Command::Export(args)) => export_cmd::run(&args),
        Some(Command::Push(args)) => push_cmd::run(&args),
        Some(Command::Syncs(args)) => syncs_cmd::run(&args),
        Some(Command::Stats(args)) => syncs_cmd::stats(&args),
        Some(Command::Audit(args)) => syncs_cmd::audit(&args),
        Some(Command::Simulate(args)) => simulate_cmd::run(&args),
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "syncdesk",
                &mut std::io::stdout(),
            );
            Ok(Exit::Ok)
        }
        None if desk_cmd::server_configured() => desk_cmd::tui(&Default::default()),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            Err(Failure::input(
                "no command, and no server configured for the desk (see syncdesk tui --help)",
            ))
        }
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("syncdesk: {}", failure.message);
            failure.exit.into()
        }
    }
}

//! What every command that talks to a server shares: where the server is, the token,
//! a runtime to wait on, and the exit code of each way a server can fail.

use super::user_config::{UserConfig, setting};
use super::{Exit, Failure};
use crate::client::{ServerClient, SourceError};

/// `--server` and `--token`, else `SYNCDESK_SERVER`/`SYNCDESK_TOKEN`, else the user config.
#[derive(clap::Args, Default, Clone)]
pub struct ServerArgs {
    /// Server URL (else SYNCDESK_SERVER, else `server` in the user config).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token (else SYNCDESK_TOKEN, else `token` or `token_command` in the user config).
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
}

/// A signed-in client and the runtime its requests run on.
pub struct Remote {
    pub client: ServerClient,
    pub runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// Runs one request to its end.
    pub fn wait<T>(&self, work: impl Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }
}

/// The server and token from flags, environment and user config, in that order.
pub fn server_and_token(
    args: &ServerArgs,
    config: &UserConfig,
) -> Result<(String, String), Failure> {
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
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(Failure::input(format!(
            "server {server:?} has no scheme: write it as http://{server} (or https://)"
        )));
    }
    let token = match setting(
        args.token.as_deref(),
        "SYNCDESK_TOKEN",
        config.token.as_deref(),
    ) {
        Some(token) => token,
        None => match &config.token_command {
            Some(command) => run_token_command(command, &where_)?,
            None => {
                return Err(Failure::input(format!(
                    "no token: give --token T, set SYNCDESK_TOKEN, or put token = \"...\" (or token_command) in {where_}"
                )));
            }
        },
    };
    Ok((server, token))
}

/// The token a command prints (a password manager, a keyring); its first line.
fn run_token_command(command: &str, config: &str) -> Result<String, Failure> {
    let output = std::process::Command::new("sh")
        .args(["-c", command])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| Failure::input(format!("{config}: token_command: {e}")))?;
    let token = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if !output.status.success() || token.is_empty() {
        return Err(Failure::input(format!(
            "{config}: token_command printed no token (exit status {})",
            output.status
        )));
    }
    Ok(token)
}

/// Connects as the flags, environment and user config say.
pub fn connect(args: &ServerArgs) -> Result<Remote, Failure> {
    let config = UserConfig::load()?;
    let (server, token) = server_and_token(args, &config)?;
    let client = ServerClient::new(&server, &token).map_err(failure)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::input(format!("cannot start: {e}")))?;
    Ok(Remote { client, runtime })
}

/// The exit code of a server's failure: 3 unreachable, refused (401, 403, 5xx) or
/// garbled; 2 for what the user named wrong (404, 400); 1 for the rest.
pub fn failure(e: SourceError) -> Failure {
    let exit = match &e {
        SourceError::Unreachable(_) | SourceError::Garbage(_) => Exit::Unreachable,
        SourceError::Refused {
            status: 400 | 404, ..
        } => Exit::Input,
        SourceError::Refused { status, .. }
            if *status == 401 || *status == 403 || *status >= 500 =>
        {
            Exit::Unreachable
        }
        SourceError::Refused { .. } => Exit::Conflict,
        SourceError::File(_) => Exit::Input,
    };
    let message = match &e {
        SourceError::Refused { status: 401, .. } => {
            "the server refused the token (401): check --token, SYNCDESK_TOKEN or the user config"
                .to_string()
        }
        _ => e.to_string(),
    };
    Failure { exit, message }
}

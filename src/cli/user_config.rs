//! The user's own settings: `config.toml` in the `directories` config dir (or the file
//! `SYNCDESK_CONFIG` names): server, token, user, theme, key overrides.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::Failure;
use crate::model::schema::line_column;

/// What `config.toml` may hold; every member is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub server: Option<String>,
    pub token: Option<String>,
    /// A command whose first line of output is the token (`pass show syncdesk`).
    pub token_command: Option<String>,
    /// The name recorded as `resolved_by` in offline resolutions (default: `$USER`).
    pub user: Option<String>,
    /// `"color"` (default) or `"mono"`.
    pub theme: Option<Theme>,
    /// The mouse wheel moves through lists (off by default: mouse reporting takes the
    /// terminal's own text selection away).
    pub mouse: Option<bool>,
    /// Command name → key or keys, e.g. `take_server = "a"`, `undo = ["u", "Ctrl-z"]`.
    #[serde(default)]
    pub keys: BTreeMap<String, Keys>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Color,
    Mono,
}

/// One key or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Keys {
    One(String),
    Many(Vec<String>),
}

impl UserConfig {
    /// The file's path: `SYNCDESK_CONFIG`, else `config.toml` in the config dir.
    pub fn path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("SYNCDESK_CONFIG") {
            return Some(PathBuf::from(p));
        }
        directories::ProjectDirs::from("dev", "syncdesk", "syncdesk")
            .map(|d| d.config_dir().join("config.toml"))
    }

    /// The user's settings; none when the file does not exist; a fault names the file,
    /// the line and the column.
    pub fn load() -> Result<Self, Failure> {
        let Some(path) = Self::path() else {
            return Ok(Self::default());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Failure::input(format!("{}: {e}", path.display()))),
        };
        Self::parse(&text).map_err(|m| Failure::input(format!("{}: {m}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let place = e
                .span()
                .map(|s| line_column(text, s.start))
                .map(|(l, c)| format!("line {l}, column {c}: "))
                .unwrap_or_default();
            format!("{place}{}", e.message().trim())
        })
    }

    /// The key overrides as lists.
    pub fn key_overrides(&self) -> BTreeMap<String, Vec<String>> {
        self.keys
            .iter()
            .map(|(command, keys)| {
                let keys = match keys {
                    Keys::One(k) => vec![k.clone()],
                    Keys::Many(ks) => ks.clone(),
                };
                (command.clone(), keys)
            })
            .collect()
    }
}

/// A setting from its flag, else its environment variable, else the config file.
pub fn setting(flag: Option<&str>, env: &str, file: Option<&str>) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        .or_else(|| file.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_and_key_overrides() {
        let config = UserConfig::parse(
            "server = \"http://h:1\"\ntheme = \"mono\"\n[keys]\ntake_server = \"a\"\nundo = [\"u\", \"Ctrl-z\"]\n",
        )
        .unwrap();
        assert_eq!(config.server.as_deref(), Some("http://h:1"));
        assert_eq!(config.theme, Some(Theme::Mono));
        let keys = config.key_overrides();
        assert_eq!(keys["undo"], ["u", "Ctrl-z"]);
        assert_eq!(keys["take_server"], ["a"]);
    }

    #[test]
    fn faults_name_line_and_column() {
        let e = UserConfig::parse("server = \"x\"\nthem = \"mono\"\n").unwrap_err();
        assert!(e.starts_with("line 2, column 1: "), "{e}");
        assert!(e.contains("them"), "{e}");
    }
}

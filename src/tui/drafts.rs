//! Drafts: the decisions made on a conflict so far, one small file each, replaced whole
//! on every change so a quit, a crash or a kill keeps them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::merge::Choices;

/// The drafts of one source (a server or an export file).
#[derive(Debug, Clone)]
pub struct DraftStore {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct DraftFile {
    conflict_id: String,
    choices: Choices,
}

impl DraftStore {
    /// Drafts under `root`, kept apart per source.
    pub fn new(root: &Path, source: &str) -> Self {
        Self {
            dir: root.join(file_safe(source)),
        }
    }

    /// The user's data directory (`SYNCDESK_DATA_DIR` overrides it), `drafts/` below it.
    pub fn default_root() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("SYNCDESK_DATA_DIR") {
            return Some(PathBuf::from(dir).join("drafts"));
        }
        directories::ProjectDirs::from("dev", "syncdesk", "syncdesk")
            .map(|p| p.data_dir().join("drafts"))
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_safe(id)))
    }

    /// The draft of a conflict; an unreadable draft counts as none (it is only a draft).
    pub fn load(&self, id: &str) -> Option<Choices> {
        let text = std::fs::read_to_string(self.path(id)).ok()?;
        let draft: DraftFile = serde_json::from_str(&text).ok()?;
        (draft.conflict_id == id).then_some(draft.choices)
    }

    pub fn save(&self, id: &str, choices: &Choices) -> std::io::Result<()> {
        if choices.is_empty() {
            return self.drop_draft(id);
        }
        let draft = DraftFile {
            conflict_id: id.to_string(),
            choices: choices.clone(),
        };
        let text = serde_json::to_vec(&draft).map_err(std::io::Error::other)?;
        crate::atomic_file::write(&self.path(id), &text)
    }

    pub fn drop_draft(&self, id: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// A name safe as one path component: letters, digits, `-`, `_`, `.` kept, the rest `_`,
/// and a hash suffix so two names that map alike stay apart.
fn file_safe(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let clean: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == name && !name.starts_with('.') {
        return clean;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", clean.trim_start_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::Choice;

    #[test]
    fn drafts_round_trip_per_source_and_go_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = DraftStore::new(dir.path(), "http://127.0.0.1:8080");
        let b = DraftStore::new(dir.path(), "queue.json");
        let choices = Choices::from([
            ("/notes".to_string(), Choice::Local),
            ("/t".to_string(), Choice::Manual(crate::json!(21.5))),
        ]);
        a.save("c-000001", &choices).unwrap();
        assert_eq!(a.load("c-000001"), Some(choices));
        assert_eq!(b.load("c-000001"), None);
        a.drop_draft("c-000001").unwrap();
        assert_eq!(a.load("c-000001"), None);
        a.drop_draft("c-000001").unwrap();
    }

    #[test]
    fn hostile_names_stay_inside_the_directory() {
        assert_eq!(file_safe("c-000042"), "c-000042");
        let evil = file_safe("../../etc/passwd");
        assert!(!evil.contains('/') && !evil.starts_with('.'));
        assert_ne!(file_safe("a/b"), file_safe("a_b"));
    }

    #[test]
    fn a_corrupt_draft_is_no_draft() {
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::new(dir.path(), "s");
        std::fs::create_dir_all(dir.path().join("s")).unwrap();
        std::fs::write(dir.path().join("s").join("c-1.json"), "{not json").unwrap();
        assert_eq!(store.load("c-1"), None);
    }
}

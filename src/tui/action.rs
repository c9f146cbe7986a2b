//! Everything that can happen to the desk: a key's meaning, or a result coming back.

use serde::{Deserialize, Serialize};

use crate::client::{ClaimAnswer, QueueEvent, SourceError, SubmitOutcome};
use crate::protocol::ConflictSummary;

/// What a key asks for. Named in snake_case in the user config's `[keys]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Help,
    /// The story of what filled the queue (the demo's morning), when there is one.
    Story,
    /// `q`: back one step; quits from the list.
    Back,
    /// `Esc`: closes what is open (overlay, filter) or goes back one step; never quits.
    Close,
    Quit,
    Up,
    Down,
    Top,
    Bottom,
    /// A page of the list, or of the field panel in the detail.
    PageUp,
    PageDown,
    Filter,
    Sort,
    Open,
    Refresh,
    /// The queue, the sync log, its numbers, the audit trail, in turn.
    SwitchView,
    /// Straight to one of them (`1` … `4`).
    ViewQueue,
    ViewSyncs,
    ViewStats,
    ViewAudit,
    /// Mark (unmark) the selected conflict for one decision for many.
    Mark,
    /// Mark every conflict the filter shows (unmark them when all are).
    MarkAll,
    /// One decision for the marked conflicts.
    Bulk,
    NextConflict,
    PreviousConflict,
    /// The next (previous) conflict of the queue, from the detail.
    NextInQueue,
    PreviousInQueue,
    /// Hide or show the rows nobody changed.
    ToggleUnchanged,
    TakeServer,
    TakeLocal,
    Manual,
    AllServer,
    AllLocal,
    Undo,
    Redo,
    Layout,
    Submit,
    /// A record deleted on the server: bring it back with the fields as decided.
    Restore,
    /// A record deleted on the server: leave it deleted.
    KeepDeleted,
    Confirm,
}

impl Command {
    /// Whether it decides or submits (never offered on a resolved conflict).
    pub fn decides(self) -> bool {
        matches!(
            self,
            Command::TakeServer
                | Command::TakeLocal
                | Command::Manual
                | Command::AllServer
                | Command::AllLocal
                | Command::Undo
                | Command::Redo
                | Command::Submit
                | Command::Restore
                | Command::KeepDeleted
                | Command::NextConflict
                | Command::PreviousConflict
        )
    }
}

/// A step of the desk: a command, typed text, or the answer to an effect.
#[derive(Debug, Clone)]
pub enum Action {
    Command(Command),
    /// A character typed into the filter or the value editor.
    Type(char),
    /// Backspace in a text field.
    Erase,
    /// Enter in a text field.
    Accept,
    /// The queue, or why it could not be read.
    QueueLoaded(Result<Vec<ConflictSummary>, SourceError>),
    /// A conflict ready to decide (prepared off the UI thread: merged, diffs computed).
    ConflictLoaded(Result<Box<super::desk::Desk>, (String, SourceError)>),
    /// The answer to a submission.
    Submitted {
        conflict_id: String,
        outcome: Result<SubmitOutcome, SourceError>,
    },
    /// Text back from `$EDITOR` for a path (`None`: the editor failed or was cancelled).
    Edited {
        path: String,
        text: Option<String>,
    },
    /// A draft could not be written (the decisions stay on screen).
    DraftFailed(String),
    /// A key for the text editor inside the desk.
    EditorKey(ratatui::crossterm::event::KeyEvent),
    /// Time passes (the spinner turns, ages grow).
    Tick,
    /// The newest entries of the sync log, or why they could not be read.
    SyncsLoaded(Result<Vec<crate::protocol::SyncLogEntry>, SourceError>),
    /// A record's versions (for the sync log's explanations), or why they could not be read.
    HistoryLoaded {
        record_type: String,
        id: String,
        result: Result<Vec<crate::protocol::VersionSummary>, SourceError>,
    },
    /// The marked conflicts read for one decision, each with its desk or why not.
    BulkLoaded(Vec<(String, Result<Box<super::desk::Desk>, String>)>),
    /// What one decision for many came to, conflict by conflict.
    BulkSent(Vec<(String, super::bulk::Settled)>),
    /// The newest resolutions, or why they could not be read.
    AuditLoaded(Result<Vec<crate::protocol::AuditEntry>, SourceError>),
    /// The sync log counted, or why it could not be read.
    StatsLoaded(Result<crate::protocol::SyncStats, SourceError>),
    /// A change of the queue, heard from the server as it happened.
    QueueEvent(Box<QueueEvent>),
    /// The server's events could not be heard for a while: the queue may have moved.
    QueueStale,
    /// The answer to claiming a conflict (or renewing the claim).
    ClaimAnswered {
        conflict_id: String,
        answer: Result<ClaimAnswer, SourceError>,
    },
}

impl From<Command> for Action {
    fn from(c: Command) -> Self {
        Action::Command(c)
    }
}

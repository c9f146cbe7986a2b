//! Work `update` asks for and does not do itself: it runs outside and comes back as an
//! [`super::action::Action`].

use crate::client::Submission;
use crate::merge::Choices;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Read the queue (`all`: resolved conflicts too).
    LoadQueue { all: bool },
    /// Read the newest entries of the sync log, with these filters (`user`, `device`,
    /// `outcome`, `type`).
    LoadSyncs { filters: Vec<(String, String)> },
    /// Read a record's versions, to explain the sync log's entries about it.
    LoadHistory { record_type: String, id: String },
    /// Read the sync log counted by day.
    LoadStats,
    /// Read the newest resolutions of the audit trail.
    LoadAudit,
    /// Read the marked conflicts, for one decision for all of them.
    LoadBulk { ids: Vec<String> },
    /// Send one decision to each of these conflicts: read afresh, decided on its own
    /// detail, one request with its own If-Match and key; a stale one read and tried
    /// once more.
    SubmitBulk {
        ids: Vec<String>,
        decision: super::bulk::BulkDecision,
        user: String,
    },
    /// Read one conflict (and its draft) and prepare it for the desk.
    LoadConflict { id: String },
    /// Send a resolution.
    Submit(Submission),
    /// Keep the decisions made so far, in case of a quit, a crash or a kill.
    SaveDraft { id: String, choices: Choices },
    /// The conflict is settled: its draft goes.
    DropDraft { id: String },
    /// Claim the conflict on screen (renewed while it stays; any other claim of this desk
    /// is released first).
    Claim { id: String },
    /// Release this desk's claim, if it has one.
    ReleaseClaim,
    /// Edit a row's text in `$EDITOR` (the terminal is handed over meanwhile).
    EditExternally { path: String, text: String },
}

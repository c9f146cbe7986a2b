//! The wire types the desk reads and writes: conflict summaries and details, export and
//! resolutions files, problem details. Shapes are sections 6, 7 and 9 of the contract.

mod conflict;
mod explain;
mod files;
mod master;

pub use conflict::{
    AuditEntry, BaseSide, ClaimInfo, ConflictDetail, ConflictSummary, FieldRow, LocalSide,
    ParkKind, Problem, QueueEventKind, ResolutionInfo, SYNC_OUTCOMES, ServerSide, StatsGroup,
    Status, SyncLogEntry, SyncStats, Tiers,
};
pub use explain::{VersionSummary, explain};
pub use files::{
    EXPORT_FORMAT, ExportFile, ExportIndex, FileError, RESOLUTIONS_FORMAT, ResolutionEntry,
    ResolutionsFile, choice_names, strip_position,
};
pub use master::{MasterData, MasterItem};

//! syncdesk: a sync protocol that answers 409 only for genuine conflicts, and a terminal
//! desk to resolve them.

pub mod cli;
pub mod merge;
pub mod model;
pub mod sanitize;

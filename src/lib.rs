//! syncdesk: a sync protocol that answers 409 only for genuine conflicts, and a terminal
//! desk to resolve them.

pub mod allocator;
pub mod atomic_file;
pub mod cli;
pub mod client;
pub mod demo;
pub mod merge;
pub mod model;
pub mod protocol;
pub mod sanitize;
pub mod server;
pub mod simulate;
pub mod store;
pub mod sync;
pub mod tui;

/// A [`model::json::Json`] from a `serde_json::json!` literal, for tests and examples.
#[macro_export]
macro_rules! json {
    ($($t:tt)+) => {
        $crate::model::json::Json::from(::serde_json::json!($($t)+))
    };
}

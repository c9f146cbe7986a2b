//! The sync server: configuration, authentication, problem details and the HTTP routes.

pub mod clock;
pub mod config;
pub mod demo;
pub mod http;
pub mod listen;
pub mod log;
pub mod metrics;
pub mod problem;

//! The sync server: configuration and authentication so far (the HTTP layer comes next).

pub mod config;

//! Sluice's IO adapter: everything the core must not touch.
//!
//! So far: [`storage::FileStorage`], the core's `Storage` on real files. The tokio server and
//! the `sluice` binary's commands come with the broker.

pub mod cli;
pub mod client;
pub mod server;
pub mod storage;

//! Sluice's core: every decision the broker makes, as deterministic sans-IO state machines.
//!
//! Nothing here touches sockets, files, threads, clocks or ambient randomness. Time arrives as
//! arguments (`wall_ms`, ticks), randomness as a seeded [`prng::Prng`], and disks through the
//! [`storage::Storage`] trait, so the same inputs always give the same outputs — in production
//! under tokio, and in the simulator under a seed.
//!
//! # Layout
//! - [`limits`]: every bound, `*_MAX`.
//! - [`storage`]: the disk interface and its durability contract.
//! - [`protocol`]: Kafka error codes and the zero-copy v2 record-batch view.
//! - [`log`]: the partition log — segments, indexes, recovery, retention, checkpoints.
//! - [`config`]: broker and topic settings with Kafka's names.
//! - [`group`]: the classic consumer-group coordinator and committed offsets.
//! - [`node`]: the broker node — request dispatch, group commit, long-poll fetch.
//! - [`prng`]: the seeded generator everything random draws from.

pub mod config;
pub mod group;
pub mod limits;
pub mod log;
pub mod node;
pub mod prng;
pub mod producer;
pub mod protocol;
pub mod storage;

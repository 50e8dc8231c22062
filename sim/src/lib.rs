//! Sluice's deterministic simulator.
//!
//! One `u64` seed decides everything — the fault rates themselves (swarm testing), the
//! workload, every latency, crash and torn write — so a run reproduces bit for bit:
//! `cargo run -p sluice-sim --release -- --seed N`. The engine drives the core `Node` on the
//! in-memory [`disk::SimDisk`] with simulated Kafka clients that send real encoded requests.
//!
//! - [`engine`]: the event queue, connections, faults and the scenario methods.
//! - [`client`]: simulated admin (CreateTopics, CreatePartitions), producer (idempotent or
//!   not; pipelining up to five requests; one or every partition per request; compressed or
//!   not) and consumer clients.
//! - [`churn`]: a simulated admin that deletes and re-creates a topic of its own.
//! - [`meddle`]: a client that tries to write, trim and grow `__consumer_offsets`.
//! - [`group`]: a simulated member of a classic consumer group (join, sync, range assignment,
//!   heartbeats, commits, offset fetches, departures).
//! - [`history`]: what clients were told and read.
//! - [`checker`]: the invariants, judged from the history only.
//! - [`run`]: a seeded run — safety phase, healing, liveness phase, checks.

pub mod checker;
pub mod churn;
pub mod client;
pub mod configure;
pub mod disk;
pub mod engine;
pub mod faults;
pub mod group;
pub mod history;
pub mod hostile;
pub mod meddle;
pub mod observe;
pub mod race;
pub mod run;

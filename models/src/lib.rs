//! Stateright models of Sluice's core state machines, built on the core's own code (not a
//! re-implementation), with the invariants shared with the simulator's checkers.
//!
//! - [`groups`]: the classic consumer-group coordinator with members and failover.
//!
//! Replication and election add their models here when they exist. `cargo test -p
//! sluice-models` runs bounded checks; `cargo run -p sluice-models --release --example
//! check_groups -- <depth>` runs a deeper one.

pub mod groups;

//! Sluice's deterministic simulator.
//!
//! So far: [`disk::SimDisk`], the in-memory disk with crash semantics that the log's tests and
//! (next) the simulated cluster run on. One seed decides every fault.

pub mod disk;

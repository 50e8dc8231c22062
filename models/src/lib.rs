//! Stateright models of Sluice's core state machines.
//!
//! Empty until the state machines that need exhaustive checking exist: replication, election
//! and consumer groups each add their model here, built on the core's own `handle`/`poll_output`
//! and on the invariants shared with the simulator's checkers.

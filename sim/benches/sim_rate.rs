//! Simulator speed at a fixed load: one node, no faults, and (as in every run) one plain reader
//! per partition, so that every acknowledged record is read back and checked. First 12
//! producers, about 1000 acknowledged produce requests per simulated second; then 8 producers
//! (about 700/s); then 8 with a consumer group of three as well. Prints events/s, wall µs per
//! acknowledged produce, and simulated time / wall time.
//! `cargo bench -p sluice-sim` — a report, not a test.

use sluice_sim::engine::{GroupWorkload, Sim, Workload};
use sluice_sim::faults::FaultSettings;
use sluice_sim::history::Operation;
use std::time::Instant;

/// The allocator the `sluice-sim` binary runs with (see its `main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn measure(name: &str, producers: u32, consumers: u32, group: GroupWorkload) {
    // SLUICE_SIM_BENCH_MS shortens the run, e.g. to count instructions under valgrind.
    let simulated_ms = std::env::var("SLUICE_SIM_BENCH_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(300_000u64);
    let workload = Workload {
        partitions: 3,
        producers,
        batches_per_producer: 100_000,
        consumers,
        idempotent_ppm: 500_000,
        group,
        ..Workload::default()
    };
    let faults =
        FaultSettings { latency_min_ms: 1, latency_max_ms: 3, sync_ms: 4, ..FaultSettings::none() };
    let mut sim = Sim::new(1, faults, workload);
    let started = Instant::now();
    sim.run_until(simulated_ms);
    let wall = started.elapsed().as_secs_f64();
    let produces = sim
        .history
        .operations
        .iter()
        .filter(|operation| matches!(operation, Operation::ProduceAcked { .. }))
        .count();
    let rate = produces as f64 / (simulated_ms as f64 / 1000.0);
    println!(
        "simulator ({name}): {produces} produce requests acknowledged in {} simulated s ({rate:.0}/simulated s)",
        simulated_ms / 1000
    );
    println!(
        "simulator ({name}): {} events in {wall:.3} s wall: {:.0} events/s, {:.1} µs wall per produce, simulated/wall time {:.0}x (target >= 1000x)",
        sim.events,
        sim.events as f64 / wall,
        wall * 1e6 / produces.max(1) as f64,
        simulated_ms as f64 / 1000.0 / wall
    );
}

fn main() {
    measure("12 producers, 3 readers", 12, 3, GroupWorkload::none());
    measure("8 producers, 3 readers", 8, 3, GroupWorkload::none());
    let group = GroupWorkload { departures_max: 0, ..GroupWorkload::members(3) };
    measure("8 producers, 3 readers, a group of 3", 8, 3, group);
}

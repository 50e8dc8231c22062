//! `sluice-sim`: run seeds of the deterministic simulator.
//!
//! ```text
//! cargo run -p sluice-sim --release -- --seed 42
//! cargo run -p sluice-sim --release -- --seeds 0..200 --ticks-max 20000
//! cargo run -p sluice-sim --release -- --seed 42 --history group   # or: all
//! cargo run -p sluice-sim --release -- --seed 118448 --settings-version 3
//! ```
//! `--settings-version V` draws what the seeds drew under an earlier settings version, as a
//! regression seed is kept (see `engine::SETTINGS_VERSION`); the default is the latest.
//! Each run prints its fault settings, then exactly one line
//! `seed=N ticks=T events=E faults=F trace=<hex>`; a failure prints the reason, the last events
//! and the command that reproduces it, and the exit status is 1.

use sluice_sim::engine::{settings_from_seed_at, Sim, SETTINGS_VERSION};
use sluice_sim::history::Operation;
use sluice_sim::run::{run, run_seed_at, TICKS_MAX_DEFAULT};
use std::time::Instant;

fn usage() -> ! {
    eprintln!(
        "usage: sluice-sim (--seed N | --seeds A..B) [--ticks-max T] [--history group|all] \
         [--settings-version V]\n\
         T: simulated ms of the safety phase, default {TICKS_MAX_DEFAULT}; --history prints \
         each run's faults and node log lines, then its history (group: only group and \
         producer-id operations); V: the settings version to draw seeds under, 1 to \
         {SETTINGS_VERSION} (default), as a failure's reproduce line says"
    );
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut seeds: Option<std::ops::Range<u64>> = None;
    let mut ticks_max = TICKS_MAX_DEFAULT;
    let mut history: Option<bool> = None;
    let mut version = SETTINGS_VERSION;
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--seed" => {
                let seed: u64 = value.parse().unwrap_or_else(|_| usage());
                seeds = Some(seed..seed + 1);
            }
            "--seeds" => {
                let (start, end) = value.split_once("..").unwrap_or_else(|| usage());
                seeds = Some(
                    start.parse().unwrap_or_else(|_| usage())
                        ..end.parse().unwrap_or_else(|_| usage()),
                );
            }
            "--ticks-max" => ticks_max = value.parse().unwrap_or_else(|_| usage()),
            "--settings-version" => {
                version = value.parse().unwrap_or_else(|_| usage());
                if !(1..=SETTINGS_VERSION).contains(&version) {
                    usage();
                }
            }
            "--history" => {
                history = Some(match value.as_str() {
                    "all" => true,
                    "group" => false,
                    _ => usage(),
                })
            }
            _ => usage(),
        }
    }
    let seeds = seeds.unwrap_or_else(|| usage());
    let started = Instant::now();
    let (mut passed, mut failed, mut events, mut simulated_ms) = (0u64, 0u64, 0u64, 0u64);
    for seed in seeds {
        let (faults, workload) = settings_from_seed_at(seed, version);
        println!("seed={seed} settings: {faults} workload: {workload}");
        if let Some(all) = history {
            print_history(seed, ticks_max, version, all);
        }
        match run_seed_at(seed, ticks_max, version) {
            Ok(summary) => {
                events += summary.events;
                simulated_ms += summary.ticks;
                println!("{summary}");
                passed += 1;
            }
            Err(failure) => {
                println!("{}", failure.summary);
                eprintln!("{failure}");
                failed += 1;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("{passed} passed, {failed} failed");
    eprintln!(
        "sim figures: {:.0} events/s, simulated/wall time {:.0}x, {:.1} seeds/min",
        events as f64 / seconds,
        simulated_ms as f64 / 1000.0 / seconds,
        (passed + failed) as f64 / seconds * 60.0
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Runs `seed` once more, printing its faults and node log lines as they happen, then its
/// history (every operation, or only the group and producer-id ones) numbered as the
/// checkers number them.
fn print_history(seed: u64, ticks_max: u64, version: u32, all: bool) {
    let mut sim = Sim::from_seed_at(seed, version);
    sim.verbose = true;
    let _ = run(&mut sim, ticks_max);
    for (index, operation) in sim.history.operations.iter().enumerate() {
        let shown = all
            || !matches!(
                operation,
                Operation::ProduceAcked { .. }
                    | Operation::ProduceFailed { .. }
                    | Operation::RequestLost { .. }
                    | Operation::Consumed { .. }
                    | Operation::GroupConsumed { .. }
            );
        if shown {
            println!("  history[{index}] t={} {operation:?}", sim.history.ticks[index]);
        }
    }
}

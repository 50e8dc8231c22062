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

/// mimalloc rather than the system allocator: a run allocates and frees about 45 times per
/// produce request (decoded requests, responses, history entries), and glibc's malloc and free
/// were a fifth of the simulator's instructions. With mimalloc the bench counts 10% fewer.
/// Nothing in a run depends on addresses, so traces are unchanged.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn usage(problem: &str) -> ! {
    eprintln!(
        "sluice-sim: {problem}\n\
         usage: sluice-sim (--seed N | --seeds A..B) [--ticks-max T] [--history group|all] \
         [--settings-version V]\n\
         T: simulated ms of the safety phase, default {TICKS_MAX_DEFAULT}; --history prints \
         each run's faults and node log lines, then its history (group: only group and \
         producer-id operations); V: the settings version to draw seeds under, 1 to \
         {SETTINGS_VERSION} (default), as a failure's reproduce line says"
    );
    std::process::exit(2)
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    seeds: std::ops::Range<u64>,
    ticks_max: u64,
    /// `--history`: `Some(true)` for every operation, `Some(false)` for the group ones.
    history: Option<bool>,
    version: u32,
}

/// Reads the arguments; an error names the argument at fault and what it needs.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let number = |flag: &str, value: &str| -> Result<u64, String> {
        value.parse().map_err(|_| format!("{flag} needs a whole number, not {value:?}"))
    };
    let mut seeds = None;
    let mut ticks_max = TICKS_MAX_DEFAULT;
    let mut history = None;
    let mut version = SETTINGS_VERSION;
    while let Some(arg) = args.next() {
        let known = ["--seed", "--seeds", "--ticks-max", "--settings-version", "--history"];
        if !known.contains(&arg.as_str()) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--seed" => {
                let seed = number(&arg, &value)?;
                seeds = Some(seed..seed.saturating_add(1));
            }
            "--seeds" => {
                let range = value.split_once("..").ok_or_else(|| {
                    format!("--seeds needs a range A..B (seeds A to B-1), not {value:?}")
                })?;
                let (start, end) = (number(&arg, range.0)?, number(&arg, range.1)?);
                if start >= end {
                    return Err(format!("--seeds {value} holds no seed: B must be above A"));
                }
                seeds = Some(start..end);
            }
            "--ticks-max" => ticks_max = number(&arg, &value)?,
            "--settings-version" => {
                let asked = number(&arg, &value)?;
                version = u32::try_from(asked)
                    .ok()
                    .filter(|version| (1..=SETTINGS_VERSION).contains(version))
                    .ok_or_else(|| {
                        format!("--settings-version {asked} is not one of 1 to {SETTINGS_VERSION}")
                    })?;
            }
            _ => {
                history = Some(match value.as_str() {
                    "all" => true,
                    "group" => false,
                    _ => return Err(format!("--history needs group or all, not {value:?}")),
                })
            }
        }
    }
    let seeds = seeds.ok_or("give the seeds to run: --seed N or --seeds A..B")?;
    Ok(Args { seeds, ticks_max, history, version })
}

fn main() {
    let Args { seeds, ticks_max, history, version } =
        parse_args(std::env::args().skip(1)).unwrap_or_else(|problem| usage(&problem));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Args, String> {
        parse_args(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn arguments_are_read_and_each_mistake_is_named() {
        let expected = Args { seeds: 5..9, ticks_max: 60_000, history: Some(true), version: 3 };
        let line = "--seeds 5..9 --ticks-max 60000 --history all --settings-version 3";
        assert_eq!(parsed(line), Ok(expected));
        let one = Args {
            seeds: 7..8,
            ticks_max: TICKS_MAX_DEFAULT,
            history: None,
            version: SETTINGS_VERSION,
        };
        assert_eq!(parsed("--seed 7"), Ok(one));
        let mistakes = [
            ("", "give the seeds to run: --seed N or --seeds A..B".to_string()),
            ("--seed", "--seed needs a value".to_string()),
            ("--seed x", "--seed needs a whole number, not \"x\"".to_string()),
            ("--seeds 5", "--seeds needs a range A..B (seeds A to B-1), not \"5\"".to_string()),
            ("--seeds 9..5", "--seeds 9..5 holds no seed: B must be above A".to_string()),
            ("--history some --seed 1", "--history needs group or all, not \"some\"".to_string()),
            ("--speed 2", "unknown argument \"--speed\"".to_string()),
            (
                "--seed 1 --settings-version 0",
                format!("--settings-version 0 is not one of 1 to {SETTINGS_VERSION}"),
            ),
        ];
        for (line, problem) in mistakes {
            assert_eq!(parsed(line), Err(problem), "{line:?}");
        }
    }
}

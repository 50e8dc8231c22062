//! One seeded run: a safety phase with faults, then a liveness phase that heals everything and
//! must let the workload finish, then the checkers.

use crate::checker;
use crate::engine::{RunSummary, Sim};

/// Why a run failed, with everything needed to reproduce it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The summary line so far.
    pub summary: RunSummary,
    /// The fault settings.
    pub settings: String,
    /// What went wrong.
    pub reason: String,
    /// The last events before the failure.
    pub recent: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "FAILED seed={}: {}", self.summary.seed, self.reason)?;
        writeln!(f, "fault settings: {}", self.settings)?;
        writeln!(f, "last events:")?;
        for event in &self.recent {
            writeln!(f, "  {event}")?;
        }
        write!(
            f,
            "reproduce with: cargo run -p sluice-sim --release -- --seed {}",
            self.summary.seed
        )
    }
}

/// Swarm seeds that exposed a bug in sluice-core, kept as regression seeds: the named test in
/// `sim/tests/scenarios.rs` reproduces the bug by hand and then runs every one of them.
#[derive(Clone, Copy, Debug)]
pub struct RegressionSeeds {
    /// The test in `sim/tests/scenarios.rs` that runs them.
    pub test: &'static str,
    /// What went wrong, and the fix.
    pub summary: &'static str,
    /// The seeds (of 0..500) that failed before the fix.
    pub seeds: &'static [u64],
}

/// Core bugs the group workload found (all fixed; their seeds pass and stay as regressions).
pub const GROUP_REGRESSION_SEEDS: &[RegressionSeeds] = &[
    RegressionSeeds {
        test: "a_sync_group_whose_group_record_was_not_stored_is_an_error_and_rebalances",
        summary: "SyncGroup was acknowledged although storing the group record failed (disk \
                  full, fsync EIO); after a restart the generation was handed out again with \
                  other owners. Now the SyncGroup answers NOT_COORDINATOR and the group \
                  rebalances, as in Kafka",
        // Seeds whose run logged "cannot store group records" before the violation.
        seeds: &[
            2, 7, 18, 20, 24, 25, 29, 36, 49, 71, 75, 83, 119, 127, 158, 161, 203, 225, 265, 267,
            272, 279, 287, 289, 330, 335, 342, 370, 384, 394, 399, 401, 406, 419, 421, 432, 433,
            443, 450, 462, 470, 473, 475, 487, 494,
        ],
    },
    RegressionSeeds {
        test: "no_sync_group_answer_before_the_group_record_is_durable",
        summary: "a late follower's SyncGroup was answered from the Stable group before the \
                  record that made it Stable was durable; now every group answer waits for \
                  all group records appended before it",
        seeds: &[451],
    },
];

/// Ticks of the liveness phase within which the healed workload must complete.
pub const LIVENESS_TICKS: u64 = 120_000;

/// Runs `seed` with faults for `ticks_max` simulated ms, then heals and checks.
pub fn run_seed(seed: u64, ticks_max: u64) -> Result<RunSummary, Failure> {
    let mut sim = Sim::from_seed(seed);
    run(&mut sim, ticks_max)
}

/// Runs an already configured simulation (scenarios use this too).
pub fn run(sim: &mut Sim, ticks_max: u64) -> Result<RunSummary, Failure> {
    let settings = sim.faults.to_string();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sim.run_until(ticks_max);
        sim.heal();
        let deadline = sim.now + LIVENESS_TICKS;
        if !sim.run_while(deadline, |sim| sim.workload_done()) {
            let clients = sim.client_report().join("\n  ");
            return Err(format!(
                "liveness: the workload did not complete within {LIVENESS_TICKS} ticks after healing; node up: {}\n  {clients}",
                sim.node().is_some()
            ));
        }
        check(sim)
    }));
    let reason = match outcome {
        Ok(Ok(())) => return Ok(sim.summary()),
        Ok(Err(reason)) => reason,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_else(|| "panic".to_string());
            format!("panic: {text}")
        }
    };
    Err(Failure {
        summary: sim.summary(),
        settings,
        reason,
        recent: sim.recent.iter().cloned().collect(),
    })
}

/// Runs every checker over the history and the node's queue sizes.
pub fn check(sim: &Sim) -> Result<(), String> {
    let consumed = checker::consumed_records(&sim.history).map_err(|violation| violation.0)?;
    checker::acknowledged_records_kept(&sim.history, &consumed).map_err(|violation| violation.0)?;
    checker::idempotent_records_unique(&sim.history, &consumed).map_err(|violation| violation.0)?;
    checker::member_ids_never_shared(&sim.history).map_err(|violation| violation.0)?;
    checker::one_owner_per_generation(&sim.history).map_err(|violation| violation.0)?;
    checker::generations_never_go_down(&sim.history).map_err(|violation| violation.0)?;
    checker::acknowledged_commits_kept(&sim.history).map_err(|violation| violation.0)?;
    checker::memory_bounded(&sim.stats_max).map_err(|violation| violation.0)?;
    Ok(())
}

//! Fault settings drawn from the seed (swarm testing, as TigerBeetle's VOPR does): each run
//! draws its own rates, so some seeds hammer one fault and others mix them all.

use sluice_core::prng::Prng;
use std::fmt;

/// Every fault rate of one run. Rates are parts per million per opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FaultSettings {
    /// Network latency range, client to broker and back, in ms.
    pub latency_min_ms: u64,
    /// Upper end of the latency range (a heavy tail: 1 in 20 messages take up to 10×).
    pub latency_max_ms: u64,
    /// Chance that a message resets its connection (the message and everything after is lost).
    pub reset_ppm: u32,
    /// Chance per fault tick that a client is cut off from the broker (one way or both).
    pub partition_ppm: u32,
    /// Chance per fault tick that the broker loses power (crash, unsynced bytes torn).
    pub crash_ppm: u32,
    /// Chance per fault tick that the broker process pauses.
    pub pause_ppm: u32,
    /// Chance that an fsync fails with EIO.
    pub sync_error_ppm: u32,
    /// Chance that an fsync is slow.
    pub slow_sync_ppm: u32,
    /// Latency of a normal fsync, in ms.
    pub sync_ms: u64,
    /// Chance per fault tick that the disk fills up (until it heals).
    pub disk_full_ppm: u32,
    /// Wall-clock drift, parts per million (positive: the wall clock runs fast).
    pub clock_drift_ppm: i64,
    /// Chance per fault tick that the wall clock jumps (forward or back, up to an hour).
    pub clock_jump_ppm: u32,
    /// Request timeout of the simulated clients, in ms.
    pub request_timeout_ms: u64,
    /// Chance that removing a file fails with EIO (drawn apart from the others: see
    /// `engine::settings_from_seed`).
    pub remove_error_ppm: u32,
    /// Chance that a rename fails with EIO, before or after it took effect (drawn apart too).
    pub rename_error_ppm: u32,
    /// Chance per fault tick that a stranger sends the broker a damaged request on a
    /// connection of its own, then closes it (see [`crate::hostile`]; drawn apart too).
    pub hostile_frame_ppm: u32,
    /// Whether that stranger also writes: it makes a topic of its own and sends it damaged
    /// Produce requests (see [`crate::hostile`]).
    pub hostile_writes: bool,
    /// Whether a failed fsync leaves the file's unsynced bytes to chance at the next process
    /// restart too, not only at a power loss: after EIO, Linux may mark the dirty pages clean
    /// without writing them ("fsyncgate"), so a restarted process may find them gone or torn
    /// (see [`crate::disk::DiskFaults::eio_forgets`]).
    pub eio_forgets: bool,
}

impl FaultSettings {
    /// No faults at all: the liveness phase, and hand-written scenarios.
    pub fn none() -> Self {
        Self {
            latency_min_ms: 1,
            latency_max_ms: 2,
            reset_ppm: 0,
            partition_ppm: 0,
            crash_ppm: 0,
            pause_ppm: 0,
            sync_error_ppm: 0,
            slow_sync_ppm: 0,
            sync_ms: 4,
            disk_full_ppm: 0,
            clock_drift_ppm: 0,
            clock_jump_ppm: 0,
            request_timeout_ms: 3000,
            remove_error_ppm: 0,
            rename_error_ppm: 0,
            hostile_frame_ppm: 0,
            hostile_writes: false,
            eio_forgets: false,
        }
    }

    /// Draws every rate from `prng`. Each fault is off for about a third of seeds.
    pub fn swarm(prng: &mut Prng) -> Self {
        let mut rate = |max_ppm: u32| -> u32 {
            if prng.chance(333_333) {
                0
            } else {
                prng.below(u64::from(max_ppm) + 1) as u32
            }
        };
        let reset_ppm = rate(20_000);
        let partition_ppm = rate(50_000);
        let crash_ppm = rate(30_000);
        let pause_ppm = rate(30_000);
        let sync_error_ppm = rate(5_000);
        let slow_sync_ppm = rate(100_000);
        let disk_full_ppm = rate(20_000);
        let clock_jump_ppm = rate(20_000);
        let latency_min_ms = prng.range_inclusive(0, 5);
        let latency_max_ms = latency_min_ms + prng.range_inclusive(1, 50);
        let clock_drift_ppm = prng.range_inclusive(0, 2000) as i64 - 1000;
        let sync_ms = prng.range_inclusive(1, 10);
        let request_timeout_ms = prng.range_inclusive(500, 5000);
        Self {
            latency_min_ms,
            latency_max_ms,
            reset_ppm,
            partition_ppm,
            crash_ppm,
            pause_ppm,
            sync_error_ppm,
            slow_sync_ppm,
            sync_ms,
            disk_full_ppm,
            clock_drift_ppm,
            clock_jump_ppm,
            request_timeout_ms,
            remove_error_ppm: 0,
            rename_error_ppm: 0,
            hostile_frame_ppm: 0,
            hostile_writes: false,
            eio_forgets: false,
        }
    }
}

impl fmt::Display for FaultSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "latency={}..{}ms reset={}ppm partition={}ppm crash={}ppm pause={}ppm sync_eio={}ppm \
             slow_sync={}ppm sync={}ms disk_full={}ppm drift={}ppm clock_jump={}ppm timeout={}ms",
            self.latency_min_ms,
            self.latency_max_ms,
            self.reset_ppm,
            self.partition_ppm,
            self.crash_ppm,
            self.pause_ppm,
            self.sync_error_ppm,
            self.slow_sync_ppm,
            self.sync_ms,
            self.disk_full_ppm,
            self.clock_drift_ppm,
            self.clock_jump_ppm,
            self.request_timeout_ms
        )?;
        if self.remove_error_ppm > 0 {
            write!(f, " unlink_eio={}ppm", self.remove_error_ppm)?;
        }
        if self.rename_error_ppm > 0 {
            write!(f, " rename_eio={}ppm", self.rename_error_ppm)?;
        }
        if self.eio_forgets && self.sync_error_ppm > 0 {
            write!(f, " eio_forgets")?;
        }
        if self.hostile_frame_ppm > 0 {
            write!(f, " hostile_frames={}ppm", self.hostile_frame_ppm)?;
        }
        if self.hostile_writes {
            write!(f, " hostile_writes")?;
        }
        Ok(())
    }
}

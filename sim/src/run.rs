//! One seeded run: a safety phase with faults, then a liveness phase that heals everything and
//! must let the workload finish, then the checkers.

use crate::checker;
use crate::client::{key_of_value, TOPIC};
use crate::disk::SIM_LOG_DIR;
use crate::engine::{RunSummary, Sim};
use crate::group::read_records;
use crate::history::Operation;
use crate::hostile::STRANGER_WRITE_TOPIC;
use sluice_core::log::TopicPartition;
use sluice_core::protocol::api::describe_log_dirs::DescribeLogDirsRequest;
use sluice_core::protocol::api::describe_producers::{
    DescribeProducersRequest, DescribeProducersRequestTopic,
};
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::StrBytes;
use sluice_core::storage::Storage;
use std::collections::{BTreeMap, BTreeSet};

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
    pub recent: Box<[String]>,
    /// Simulated ms of the safety phase.
    pub ticks_max: u64,
    /// The settings version the seed was drawn under; `None` for settings made by hand.
    pub settings_version: Option<u32>,
}

/// The safety phase of `sluice-sim` when `--ticks-max` is not given, in simulated ms.
pub const TICKS_MAX_DEFAULT: u64 = 20_000;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "FAILED seed={}: {}", self.summary.seed, self.reason)?;
        writeln!(f, "fault settings: {}", self.settings)?;
        writeln!(f, "last events:")?;
        for event in &self.recent {
            writeln!(f, "  {event}")?;
        }
        let Some(version) = self.settings_version else {
            return write!(f, "reproduce with: the scenario that made these settings");
        };
        write!(
            f,
            "reproduce with: cargo run -p sluice-sim --release -- --seed {}",
            self.summary.seed
        )?;
        if self.ticks_max != TICKS_MAX_DEFAULT {
            write!(f, " --ticks-max {}", self.ticks_max)?;
        }
        if version != crate::engine::SETTINGS_VERSION {
            write!(f, " --settings-version {version}")?;
        }
        Ok(())
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
    /// The seeds that failed before the fix (of 0..500, or of the first sweep that found it).
    pub seeds: &'static [u64],
    /// The settings version they were found under (see `engine::SETTINGS_VERSION`).
    pub settings_version: u32,
}

/// Core bugs the swarm found (all fixed; their seeds pass and stay as regressions).
pub const REGRESSION_SEEDS: &[RegressionSeeds] = &[
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
        settings_version: 1,
    },
    RegressionSeeds {
        test: "no_sync_group_answer_before_the_group_record_is_durable",
        summary: "a late follower's SyncGroup was answered from the Stable group before the \
                  record that made it Stable was durable; now every group answer waits for \
                  all group records appended before it",
        seeds: &[451],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "a_retried_batch_whose_records_were_deleted_is_still_a_duplicate_after_power_loss",
        summary: "after DeleteRecords moved the log start past an idempotent producer's batches \
                  and the power failed, the restarted broker rebuilt producer state only from \
                  the batches above the log start (its snapshots were unsynced and written once \
                  a minute) and stored a retried batch twice; now the log is synced and a \
                  synced snapshot written before the log start moves (DeleteRecords and \
                  retention), and the snapshot a crash cannot lose is never pruned",
        // Of 0..500 with the purging workload; 35 of 0..5000 failed.
        seeds: &[5, 162, 169, 230, 243],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "a_sync_made_while_a_group_commit_is_unfinished_covers_its_files",
        summary: "Log::sync, called while a group-commit sync had taken the log's files and not \
                  run, synced nothing and still advanced the recovery point, so records a \
                  power failure then lost had been served and acknowledged (found while \
                  building the fix above, whose DeleteRecords syncs the log at once); now it \
                  syncs the taken files too",
        // Of 0..5000 with the purging workload and that fix.
        seeds: &[729, 754, 1742, 2036, 2486, 2597, 3016, 4152, 4452],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "pipelined_idempotent_batches_stay_in_order_and_are_stored_once",
        summary: "a partition's first idempotent batch skipped the sequence check, so when a \
                  pipelining producer's first batch was refused (its topic did not exist yet) \
                  the batches already in flight behind it were stored after a gap; the refused \
                  batch, retried, was then stored after them, and after the epoch bump that \
                  followed, batches whose answers had been lost were stored twice. Now that \
                  batch must start at sequence 0, as every new producer's must",
        // Of 0..500 once idempotent producers pipelined; 67 of 0..5000 failed.
        seeds: &[81, 101, 120, 323, 402, 456],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "a_compacted_topic_keeps_the_last_record_of_every_key_through_power_losses",
        summary: "compaction removed an idempotent producer's superseded batches while their \
                  answers were still owed; the restart after a power failure rebuilt producer \
                  state from the compacted log, refused the retry of such a batch as out of \
                  order, and the producer's epoch bump stored it a second time. Now a durable \
                  snapshot at or above what a pass touches is made before the pass",
        // Of 5000..78000 once producers pipelined (all six failures; all compacted).
        seeds: &[22280, 29707, 37266, 40560, 53099, 71038],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "a_topic_grown_by_create_partitions_serves_every_new_partition",
        summary: "CreatePartitions set the new partition count before making the logs and \
                  saving the registry; when an fsync failed on the way it answered \
                  KAFKA_STORAGE_ERROR but kept the count, so the retry was answered \
                  INVALID_PARTITIONS and the partitions it lacked refused every produce. Now \
                  a failed growth deletes the logs it made and keeps the old count",
        // Of 0..5000 once the admin grew topics (both failures).
        seeds: &[3501, 3766],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "a_deleted_topic_stays_deleted_through_fsync_errors_and_power_losses",
        summary: "DeleteTopics saved the registry, then checkpointed, then removed the \
                  partition's files; when the checkpoint's fsync or an unlink failed the files \
                  stayed, so a topic re-created with the same name served the deleted records, \
                  and a restart adopted them as a stray topic. Now the registry that forgets \
                  the topic notes it as deleted until its files are gone, a start removes \
                  what such a topic left, and a new topic of its name first removes it",
        // Of 0..500 on the code before the fix, once a churner deleted and re-created a topic
        // and unlinks failed; then the first two of 561..1400 without unlink faults.
        seeds: &[158, 298, 380, 497, 561, 562],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "a_topic_made_again_knows_none_of_the_deleted_topics_producers",
        summary: "a deleted topic's producer state stayed in memory (for good, for every \
                  deleted partition), so on a topic made again with the same name an \
                  idempotent producer's batches from sequence 0 were answered as duplicates \
                  of the deleted topic's and never stored; now deletion drops it",
        // Of 0..500 once the churner was idempotent in half its seeds.
        seeds: &[124, 184, 211, 291, 310, 454, 498],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "a_deleted_topic_takes_its_group_offsets_with_it",
        summary: "a group's committed offsets outlived their deleted topic, so a topic made \
                  again with the name was read from the old position; now the deletion \
                  writes their tombstones, commits for unknown topics are refused, a start \
                  forgets offsets of topics that no longer exist (tombstones a power loss cut \
                  off), and while a deletion's tombstones cannot be synced the topic cannot \
                  be made again",
        // Of 0..500 without the tombstones (most churn seeds; the first five); seed 99 with
        // them but without the forgetting at start; 243165 and 266539 of 110,000..300,000
        // once the tombstones were synced at deletion, when that sync failed.
        seeds: &[2, 6, 8, 19, 22, 99, 243165, 266539],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "a_sync_group_after_a_failed_store_is_not_answered_from_the_void_generation",
        summary: "when a group record could not be appended (full disk, offline log), the \
                  generation was voided only when the leader's answer went out, and that \
                  answer waited for earlier group records to become durable; a follower's \
                  SyncGroup arriving meanwhile got an assignment of the unstored generation, \
                  which a restart then handed out again. Now a failed append voids it at once",
        // Of 10,000..110,000 with the churner's commits (another group's writes to wait for).
        seeds: &[65580, 108845],
        settings_version: 1,
    },
    RegressionSeeds {
        test: "clients_cannot_change_the_offsets_topic",
        summary: "a client's Produce to __consumer_offsets (forged offset tombstones) and \
                  DeleteRecords of it were done, so a restart forgot acknowledged commits and \
                  handed out generations again; now both are refused with \
                  INVALID_TOPIC_EXCEPTION and growing it with INVALID_PARTITIONS, as Kafka \
                  does, and Metadata auto-creates it as the coordinator would",
        // Found by reading the code; without the refusals, seeds of 0..3000 with a meddler
        // fail the group checkers (first the commit checker's 343, the generation
        // checker's 78).
        seeds: &[78, 343],
        settings_version: 2,
    },
    RegressionSeeds {
        test: "a_group_deletion_that_was_not_stored_is_not_acknowledged",
        summary: "an OffsetDelete or DeleteGroups whose tombstones could not be stored (full \
                  disk, failed fsync) was answered 0, and a restart brought the offset or the \
                  group back; now such answers are KAFKA_STORAGE_ERROR, as an OffsetCommit's. \
                  Then the retry was answered GROUP_ID_NOT_FOUND from memory, which had \
                  dropped the group the log still held; now a store that fails makes the \
                  coordinator load that partition's groups again from the log",
        // Of 0..10000 once the churner deleted its group's offsets itself (8747); of
        // 30,000..50,000 with the first fix but not the reload (the other three).
        seeds: &[8747, 33649, 37196, 44894],
        settings_version: 2,
    },
    RegressionSeeds {
        test: "groups_on_an_offline_offsets_partition_are_refused_until_a_restart",
        summary: "when an fsync failed on a __consumer_offsets partition, its groups were still \
                  answered from memory, which held what the log never made durable: a \
                  DeleteGroups answered KAFKA_STORAGE_ERROR was answered GROUP_ID_NOT_FOUND \
                  when retried, and the restart brought the group back. Now such a \
                  partition's groups are refused (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE) \
                  until a restart, as Kafka answers for a partition it has unloaded",
        // Of 100,000..160,000 once group members could be static (settings version 3).
        seeds: &[118448],
        settings_version: 3,
    },
    RegressionSeeds {
        test: "deleting_the_offsets_topic_forgets_every_group",
        summary: "after __consumer_offsets was deleted (Kafka allows it), the coordinator kept \
                  every group in memory, and answers waited for offsets of the deleted log in \
                  the one made again, which start at 0: the churner's OffsetFetch was never \
                  answered. Now the deletion forgets every group, as Kafka's coordinator \
                  unloads them, and nothing waits for the deleted log",
        // Of 0..12000 once the meddler deleted the topic (settings version 4).
        seeds: &[523, 2140, 2236, 4983, 6067],
        settings_version: 4,
    },
    RegressionSeeds {
        test: "an_observer_is_refused_the_groups_of_an_offline_offsets_partition",
        summary: "ListGroups listed the groups of a __consumer_offsets partition taken \
                  offline by a failed fsync, from memory, while every other request about \
                  them was refused NOT_COORDINATOR. Found by reading the code and fixed first; \
                  once the swarm had an observer, it failed 43 of seeds 0..4000 with the \
                  fix reverted (and 42 with the DescribeGroups refusal of the seed above \
                  reverted instead), these three among them",
        // Of 0..4000 once an observer listed and described the groups (settings version 11).
        seeds: &[83, 103, 116],
        settings_version: 11,
    },
    RegressionSeeds {
        test: "no_group_is_served_while_the_offsets_topic_cannot_be_made",
        summary: "while __consumer_offsets could not be made (a full disk), group requests \
                  logged that they were refused and went on: a commit made its group in \
                  memory, its records went to the leftover log of a failed creation or \
                  nowhere, and ListGroups listed the group. Now such requests are answered \
                  NOT_COORDINATOR (FindCoordinator COORDINATOR_NOT_AVAILABLE) until the topic \
                  can be made, as Kafka answers where it hosts no coordinator partition",
        // Of 1,400,000..1,700,000 (settings version 11), by the observer's checker.
        seeds: &[1460322],
        settings_version: 11,
    },
    RegressionSeeds {
        test: "a_member_visiting_an_empty_group_restarts_the_expiry_of_its_offsets",
        summary: "offsets expiry counted from when it first saw a group Empty, and a member \
                  that joined and left between two checks did not restart the count: the \
                  group's offsets expired up to offsets.retention.minutes early. Now every \
                  state change restarts it, as Kafka counts from the group's last change. \
                  Found by reading the code while writing the expiry checker, and fixed \
                  first; once a member visited its group's break (settings version 16), the \
                  swarm failed this one of seeds 0..6000 with the fix reverted",
        seeds: &[1307],
        settings_version: 16,
    },
    RegressionSeeds {
        test: "a_log_gone_offline_keeps_its_log_start_through_a_restart",
        summary: "the checkpoints left out a log gone offline (a failed fsync), so the next \
                  start put its log start back at the first segment's base, and records an \
                  acknowledged DeleteRecords deleted were served again. Now every log's log \
                  start is checkpointed. Found by reading the code; once the swarm recorded \
                  the log start purging readers are shown, 29 of seeds 0..10000 (settings \
                  version 19) failed with the fix reverted; these are the first five",
        seeds: &[115, 382, 541, 719, 896],
        settings_version: 19,
    },
    RegressionSeeds {
        test: "readers_wait_for_no_more_bytes_than_they_may_be_sent",
        summary: "a simulator bug, not the broker's: version 22 gave the readers a \
                  fetch.min.bytes (15780) above their max.partition.fetch.bytes (1426). The \
                  broker counts at most that many bytes of a partition towards min_bytes, as \
                  Kafka does, so every fetch waited its whole fetch.max.wait.ms and read one \
                  batch; the reader did not catch up within the liveness phase. The draw now \
                  stays within the readers' fetch size",
        seeds: &[6250215],
        settings_version: 22,
    },
    RegressionSeeds {
        test: "an_error_after_a_compaction_s_rename_takes_the_log_offline",
        summary: "an error reported by the rename that puts a compacted segment in place, \
                  after the rename took effect (or by the length check after it), left the log \
                  online with the old segment's metadata over \
                  the new file, so DescribeLogDirs reported bytes the files no longer held and \
                  reads looked for batches at the old positions; now an error at or after the \
                  rename takes the log offline, as Kafka takes the directory offline, and the \
                  next open scans the file that is there. Found by reading the code; once \
                  renames could fail (settings version 27), this one of seeds 0..3000 failed \
                  with the fix reverted",
        seeds: &[1228],
        settings_version: 27,
    },
    RegressionSeeds {
        test: "a_group_begun_again_counts_generations_afresh_for_members_that_join_later",
        summary: "a simulator bug, not the broker's: the group was deleted when its offsets \
                  expired and began again at generation 1 without group consumer 7, which had \
                  been assigned partitions in generation 3 before. It joined the new group at \
                  generation 11 (the disk was full, so generations 2 to 11 were never stored), \
                  and after a restart at generation 2. The checker noticed a group begun again \
                  only where a member saw its own generation fall under a new leader; any \
                  answer of generation 1 under a new leader now counts",
        seeds: &[7879066],
        settings_version: 27,
    },
    RegressionSeeds {
        test: "a_restart_keeps_the_topic_registry_the_broker_held",
        summary: "a topic registry save whose rename failed after taking effect left the \
                  change on disk while the broker undid it in memory and answered \
                  KAFKA_STORAGE_ERROR: after a restart a topic whose deletion failed was gone \
                  (669), a retention.ms change that failed was in force (2056, 2338, 4175), \
                  a topic whose creation failed existed (5457). Now the registry is saved \
                  again after the undo. Found by reading the code; once a restart's topics \
                  were checked, these five of seeds 0..6000 (settings version 28) failed with \
                  the second save left out",
        seeds: &[669, 2056, 2338, 4175, 5457],
        settings_version: 28,
    },
];

/// Ticks of the liveness phase within which the healed workload must complete.
pub const LIVENESS_TICKS: u64 = 120_000;

/// Runs `seed` with faults for `ticks_max` simulated ms, then heals and checks.
pub fn run_seed(seed: u64, ticks_max: u64) -> Result<RunSummary, Failure> {
    run_seed_at(seed, ticks_max, crate::engine::SETTINGS_VERSION)
}

/// [`run_seed`] with what `seed` drew under settings version `version`.
pub fn run_seed_at(seed: u64, ticks_max: u64, version: u32) -> Result<RunSummary, Failure> {
    let mut sim = Sim::from_seed_at(seed, version);
    run(&mut sim, ticks_max)
}

/// Why a healed run's workload did not complete: a wrong answer its readers were given, where
/// one was (a reader given the wrong records may never reach the end), then the liveness
/// failure and each client's state.
pub fn stalled(sim: &Sim) -> String {
    let cause = match checker::consumed_records(&sim.history) {
        Err(violation) => format!("{}; then ", violation.0),
        Ok(_) => String::new(),
    };
    let clients = sim.client_report().join("\n  ");
    format!(
        "{cause}liveness: the workload did not complete within {LIVENESS_TICKS} ticks after healing; node up: {}\n  {clients}",
        sim.node().is_some()
    )
}

/// Runs an already configured simulation (scenarios use this too).
pub fn run(sim: &mut Sim, ticks_max: u64) -> Result<RunSummary, Failure> {
    let settings = sim.faults.to_string();
    let stranger_writes = sim.faults.hostile_writes;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sim.run_until(ticks_max);
        sim.heal();
        let deadline = sim.now + LIVENESS_TICKS;
        if !sim.run_while(deadline, |sim| sim.workload_done()) {
            return Err(stalled(sim));
        }
        if stranger_writes {
            strangers_topic_served(sim)?;
        }
        if sim.compacted {
            compacted_keys_stay_deleted(sim)?;
        }
        if let Some((flush_ms, check_ms)) = sim.flush_timing {
            page_cache_logs_flushed(sim, flush_ms, check_ms)?;
        }
        log_dirs_describe_the_disk(sim)?;
        producers_described(sim)?;
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
        ticks_max,
        settings_version: sim.settings_version,
    })
}

/// After every run: DescribeLogDirs (all partitions) must describe what is on the simulated
/// disk. Each online log is listed once, with the bytes of the segment files in its directory
/// and its log end offset's lead on the high watermark; no offline or unknown log is listed;
/// the room is the disk-full fault's. The sizes are counted from the disk's files, not from the
/// log's own bookkeeping, so a log that lost track of a truncation or a compaction fails here.
pub fn log_dirs_describe_the_disk(sim: &mut Sim) -> Result<(), String> {
    let asked =
        Request::DescribeLogDirs(DescribeLogDirsRequest { topics: None, ..Default::default() });
    let answer = match sim.request(asked, 4) {
        Some(Response::DescribeLogDirs(answer)) => answer,
        None if sim.node().is_none() => return Ok(()),
        other => return Err(format!("DescribeLogDirs got {other:?}")),
    };
    let [dir] = answer.results.as_slice() else {
        return Err(format!(
            "DescribeLogDirs listed {} directories, not one",
            answer.results.len()
        ));
    };
    if answer.error_code != 0 || dir.error_code != 0 || dir.log_dir.as_str() != SIM_LOG_DIR {
        return Err(format!("DescribeLogDirs answered {answer:?}"));
    }
    let mut listed: BTreeMap<TopicPartition, (i64, i64)> = BTreeMap::new();
    for topic in &dir.topics {
        for partition in &topic.partitions {
            let tp = TopicPartition::new(topic.name.as_str(), partition.partition_index);
            if listed.insert(tp.clone(), (partition.partition_size, partition.offset_lag)).is_some()
            {
                return Err(format!("DescribeLogDirs listed {tp} twice"));
            }
        }
    }
    let Some(node) = sim.node() else { return Ok(()) };
    let mut expected: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for tp in node.logs().partitions() {
        let log = node.logs().log(tp).expect("a listed partition has its log");
        if log.offline_reason().is_none() {
            let high_watermark = node.high_watermark(tp).unwrap_or(log.log_end_offset());
            expected.insert(tp.clone(), (log.log_end_offset() - high_watermark).max(0));
        }
    }
    let disk = sim.disk_mut().expect("the node is up");
    let capacity = disk.faults().capacity_bytes;
    let used = disk.used_bytes();
    let volume_expected = if capacity == 0 {
        (-1, -1)
    } else {
        (capacity as i64, capacity.saturating_sub(used) as i64)
    };
    if (dir.total_bytes, dir.usable_bytes) != volume_expected {
        return Err(format!(
            "DescribeLogDirs gave total {} and usable {} bytes; the disk has capacity {capacity} with {used} used",
            dir.total_bytes, dir.usable_bytes
        ));
    }
    for (tp, lag) in &expected {
        let directory = tp.to_string();
        let mut bytes = 0u64;
        let names = disk.list(&directory).map_err(|error| format!("{tp}: {error}"))?;
        for name in names.iter().filter(|name| name.ends_with(".log")) {
            bytes += disk
                .len(&format!("{directory}/{name}"))
                .map_err(|error| format!("{tp}: {error}"))?;
        }
        match listed.remove(tp) {
            None => return Err(format!("DescribeLogDirs left out the online log {tp}")),
            Some((size, offset_lag)) if (size, offset_lag) != (bytes as i64, *lag) => {
                return Err(format!(
                    "DescribeLogDirs gave {tp} {size} bytes and offset lag {offset_lag}; its segment files hold {bytes} bytes and its lag is {lag}"
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(tp) = listed.keys().next() {
        return Err(format!("DescribeLogDirs listed {tp}, which is not an online log"));
    }
    Ok(())
}

/// After every run: DescribeProducers of the workload topic must know each idempotent
/// producer whose batch was acknowledged with acks=all, at that batch's epoch or a later one,
/// and at that epoch with a last sequence at or after the batch's last record (acks=all batches
/// are durable, and compaction, retention and DeleteRecords keep the state of the batches they
/// remove, as Kafka does), unless the broker forgets producers (`producer.id.expiration.ms`)
/// and this one's acknowledged batches could be that old. Every producer listed must be one a
/// client was given.
pub fn producers_described(sim: &mut Sim) -> Result<(), String> {
    // (partition, producer id) → the (epoch, last sequence) acknowledged last, by epoch.
    let mut acked: BTreeMap<(i32, i64), (i16, i32)> = BTreeMap::new();
    // (partition, producer id) → the earliest stored time of a batch acknowledged to it.
    let mut earliest: BTreeMap<(i32, i64), i64> = BTreeMap::new();
    let mut given: BTreeSet<i64> = BTreeSet::new();
    for operation in &sim.history.operations {
        match operation {
            Operation::ProduceAcked {
                partition,
                acks: -1,
                producer: Some((id, epoch, last)),
                timestamp_ms,
                log_append_time_ms,
                ..
            } => {
                let entry = acked.entry((*partition, *id)).or_insert((*epoch, *last));
                *entry = (*entry).max((*epoch, *last));
                let stored =
                    if *log_append_time_ms >= 0 { *log_append_time_ms } else { *timestamp_ms };
                let time = earliest.entry((*partition, *id)).or_insert(stored);
                *time = (*time).min(stored);
            }
            Operation::ProducerInitialised { producer_id, .. } => {
                given.insert(*producer_id);
            }
            _ => {}
        }
    }
    let request = DescribeProducersRequest {
        topics: vec![DescribeProducersRequestTopic {
            name: StrBytes::from_static(TOPIC),
            partition_indexes: (0..sim.topic_partitions()).collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let answer = match sim.request(Request::DescribeProducers(request), 0) {
        Some(Response::DescribeProducers(answer)) => answer,
        None if sim.node().is_none() => return Ok(()),
        other => return Err(format!("DescribeProducers got {other:?}")),
    };
    let partitions = answer.topics.iter().flat_map(|topic| topic.partitions.iter());
    for described in partitions {
        let partition = described.partition_index;
        let tp = TopicPartition::new(TOPIC, partition);
        let listed: BTreeMap<i64, (i32, i32)> = described
            .active_producers
            .iter()
            .map(|producer| {
                (producer.producer_id, (producer.producer_epoch, producer.last_sequence))
            })
            .collect();
        if let Some(stranger) = listed.keys().find(|id| !given.contains(id)) {
            return Err(format!(
                "DescribeProducers lists producer {stranger} in {tp}, which no client was given"
            ));
        }
        let offline = sim
            .node()
            .and_then(|node| node.logs().log(&tp))
            .is_some_and(|log| log.offline_reason().is_some());
        if offline {
            continue;
        }
        for (&(_, id), &(epoch, last)) in acked.range((partition, i64::MIN)..=(partition, i64::MAX))
        {
            let known = listed.get(&id).copied();
            let behind = match known {
                None => true,
                Some((known_epoch, known_last)) => {
                    known_epoch < i32::from(epoch)
                        || (known_epoch == i32::from(epoch) && known_last < last)
                }
            };
            // Where the broker forgets producers, one may be forgotten once the deletion
            // clock (never past the latest wall clock the node was given) is the expiration
            // past the time of its last stored batch, which is no earlier than that of any
            // batch acknowledged to it.
            let forgettable = sim.producer_expiration_ms.is_some_and(|expiration_ms| {
                let time = earliest.get(&(partition, id)).copied().unwrap_or(i64::MAX);
                sim.wall_max_ms.saturating_sub(time) >= expiration_ms
            });
            if described.error_code != 0 || (behind && !forgettable) {
                return Err(format!(
                    "{tp}: producer {id} had epoch {epoch} sequence {last} acknowledged, but DescribeProducers answered error {} with {known:?} (epoch, last sequence)",
                    described.error_code
                ));
            }
        }
    }
    Ok(())
}

/// After a run with the stranger's damaged writes ([`crate::hostile`]): each online partition
/// of its topic reads from its log start to its high watermark, every batch valid and every
/// record one the stranger made. A damaged batch the broker stored would fail its CRC check
/// on the read.
pub fn strangers_topic_served(sim: &mut Sim) -> Result<(), String> {
    const PARTITIONS: i32 = 2;
    for partition in 0..PARTITIONS {
        let tp = TopicPartition::new(STRANGER_WRITE_TOPIC, partition);
        let Some(records) = read_partition(sim, STRANGER_WRITE_TOPIC, partition)? else {
            continue;
        };
        if let Some((offset, value)) =
            records.iter().find(|(_, value)| !value.starts_with("stranger-"))
        {
            return Err(format!("{tp}: offset {offset} holds {value:?}, which no one sent"));
        }
    }
    Ok(())
}

/// After a run on a compacted topic: each online partition of the workload topic is read
/// whole, and no key comes back. For each key, the last record read must be at or after the
/// last one acknowledged with that key: compaction may remove a record only for a later one
/// of its key, and a tombstone only after every older record of its key (retention deletes
/// from the start, so it never leaves an older record behind a newer one either). A tombstone
/// dropped before the older values of its key would show such a value as the key's last.
pub fn compacted_keys_stay_deleted(sim: &mut Sim) -> Result<usize, String> {
    // (partition, key) → the offset of the last record acknowledged with that key.
    let mut acknowledged: BTreeMap<(i32, String), i64> = BTreeMap::new();
    for operation in &sim.history.operations {
        if let Operation::ProduceAcked { partition, base_offset, values, .. } = operation {
            for (index, value) in values.iter().enumerate() {
                let Some(key) = key_of_value(value) else { continue };
                let offset = base_offset + index as i64;
                let last = acknowledged.entry((*partition, key)).or_insert(offset);
                *last = (*last).max(offset);
            }
        }
    }
    let mut judged = 0;
    for partition in 0..sim.topic_partitions() {
        let Some(records) = read_partition(sim, TOPIC, partition)? else { continue };
        let mut last_read: BTreeMap<String, (i64, String)> = BTreeMap::new();
        for (offset, value) in records {
            if let Some(key) = key_of_value(&value) {
                last_read.insert(key, (offset, value));
            }
        }
        for (key, (offset, value)) in &last_read {
            let Some(&acked) = acknowledged.get(&(partition, key.clone())) else { continue };
            judged += 1;
            if *offset < acked {
                return Err(format!(
                    "{TOPIC}-{partition}: key {key} came back: its last record is {value:?} at {offset}, but a record with that key was acknowledged at {acked}"
                ));
            }
        }
    }
    Ok(judged)
}

/// After a page-cache run with the flusher set (`log.flush.interval.ms` = `flush_ms`, checked
/// every `check_ms`): once the workload is done and the broker idles that long (and a second
/// for the sync), no online partition of the workload topic holds unsynced records. Without
/// the flusher, the records after the last acks=all produce would wait for the offsets
/// checkpoint (60 s). (`__consumer_offsets` is left out: groups write to it all the while,
/// each record's sync starting at once, so one may always be in flight.)
pub fn page_cache_logs_flushed(sim: &mut Sim, flush_ms: i64, check_ms: i64) -> Result<(), String> {
    let idle_ms = u64::try_from(flush_ms + check_ms).expect("drawn non-negative") + 1_000;
    sim.run_until(sim.now + idle_ms);
    let Some(node) = sim.node() else { return Ok(()) };
    let logs = node.logs();
    for partition in logs.partitions().filter(|partition| partition.topic == TOPIC) {
        let log = logs.log(partition).expect("listed");
        if log.offline_reason().is_some() {
            continue;
        }
        if log.recovery_point() < log.log_end_offset() {
            return Err(format!(
                "{partition}: records {}..{} were still unsynced {idle_ms} ms after the workload ended, with log.flush.interval.ms={flush_ms} checked every {check_ms} ms",
                log.recovery_point(),
                log.log_end_offset()
            ));
        }
    }
    Ok(())
}

/// The records of `topic`-`partition` from its log start to its high watermark, as
/// (offset, value) read with Fetch; `None` if the node is down or the log is gone or offline.
/// Every batch must read back valid, and every Fetch must make progress.
fn read_partition(
    sim: &mut Sim,
    topic: &'static str,
    partition: i32,
) -> Result<Option<Vec<(i64, String)>>, String> {
    let tp = TopicPartition::new(topic, partition);
    let Some(node) = sim.node() else { return Ok(None) };
    let Some(log) = node.logs().log(&tp) else { return Ok(None) };
    if log.offline_reason().is_some() {
        return Ok(None);
    }
    let (mut position, mut end) = (log.log_start_offset(), log.log_end_offset());
    let mut records = Vec::new();
    while position < end {
        let fetch = FetchRequest {
            max_bytes: 1 << 20,
            topics: vec![FetchRequestTopic {
                topic: StrBytes::from_static(topic),
                partitions: vec![FetchRequestPartition {
                    partition,
                    fetch_offset: position,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let answer = match sim.request(Request::Fetch(fetch), 12) {
            Some(Response::Fetch(answer)) => answer,
            other => return Err(format!("{tp}: a Fetch at {position} got {other:?}")),
        };
        let data = answer.responses.first().and_then(|topic| topic.partitions.first());
        let Some(data) = data.filter(|data| data.error_code == 0) else {
            let code = data.map(|data| data.error_code);
            return Err(format!(
                "{tp} cannot be read at {position} (log end {end}): error {code:?}"
            ));
        };
        end = end.min(data.high_watermark);
        let before = position;
        let bytes = data.records.clone().unwrap_or_default();
        read_records(&bytes, &mut position, |offset, value| records.push((offset, value)));
        if position == before && position < end {
            return Err(format!(
                "{tp}: a Fetch at {position} (log end {end}) returned nothing to read"
            ));
        }
    }
    Ok(Some(records))
}

/// Runs every checker over the history and the node's queue sizes.
pub fn check(sim: &Sim) -> Result<(), String> {
    let consumed = checker::consumed_records(&sim.history).map_err(|violation| violation.0)?;
    checker::acknowledged_records_kept(
        &sim.history,
        &consumed,
        sim.compacted,
        sim.retention_ms,
        sim.retention_bytes,
        sim.tombstones_kept,
    )
    .map_err(|violation| violation.0)?;
    let forgetting = sim.producer_expiration_ms.is_some();
    checker::idempotent_records_unique(&sim.history, &consumed, forgetting)
        .map_err(|violation| violation.0)?;
    // Where records may also vanish unread (retention deletes, compaction), a forgotten
    // producer's record stored again may be the only copy read, after later ones: then the
    // order of first copies tells nothing either.
    if !(forgetting && (sim.retention_ms.is_some() || sim.compacted)) {
        checker::idempotent_order_kept(&sim.history, &consumed, forgetting)
            .map_err(|violation| violation.0)?;
    }
    checker::member_ids_never_shared(&sim.history).map_err(|violation| violation.0)?;
    let groups_restart = sim.offsets_retention_ms.is_some();
    checker::one_owner_per_generation(&sim.history, groups_restart)
        .map_err(|violation| violation.0)?;
    checker::generations_never_go_down(&sim.history, groups_restart)
        .map_err(|violation| violation.0)?;
    checker::acknowledged_commits_kept(&sim.history, sim.offsets_retention_ms)
        .map_err(|violation| violation.0)?;
    checker::fetched_offsets_kept(&sim.history, sim.offsets_retention_ms)
        .map_err(|violation| violation.0)?;
    checker::batches_stamped_and_encoded(&sim.history, sim.log_append_time, sim.topic_codec)
        .map_err(|violation| violation.0)?;
    checker::deletions_exact(&sim.history, sim.retention_ms.is_some())
        .map_err(|violation| violation.0)?;
    checker::deleted_topics_stay_deleted(&sim.history).map_err(|violation| violation.0)?;
    checker::retention_changes_kept(&sim.history, sim.retention_ms)
        .map_err(|violation| violation.0)?;
    checker::offsets_topic_guarded(&sim.history, sim.offsets_topic_partitions())
        .map_err(|violation| violation.0)?;
    checker::group_views_consistent(&sim.history, sim.topic_partitions())
        .map_err(|violation| violation.0)?;
    checker::offline_groups_refused(&sim.history, sim.offsets_topic_partitions())
        .map_err(|violation| violation.0)?;
    checker::memory_bounded(&sim.stats_max).map_err(|violation| violation.0)?;
    if let Some(change) = &sim.topics_changed_by_restart {
        return Err(format!("a restart changed the topic registry: {change}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_hash_tells_apart_what_it_is_fed() {
        use crate::engine::trace_hash;
        let start = 0xcbf2_9ce4_8422_2325;
        let hashes = [
            trace_hash(start, b""),
            trace_hash(start, b"a"),
            trace_hash(start, b"a\0"),
            trace_hash(start, b"0123456789abcdef"),
            trace_hash(start, b"0123456789abcdeg"),
            trace_hash(trace_hash(start, b"send"), b"x"),
        ];
        let distinct: std::collections::BTreeSet<u64> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len(), "{hashes:x?}");
        assert_eq!(trace_hash(start, b"0123456789"), trace_hash(start, b"0123456789"));
    }
    use crate::engine::{RunSummary, SETTINGS_VERSION};

    #[test]
    fn a_failure_says_how_to_run_it_again_with_its_phase_and_settings_version() {
        let failure = |ticks_max, settings_version| Failure {
            summary: RunSummary { seed: 7, ticks: 0, events: 0, faults: 0, trace: 0 },
            settings: String::new(),
            reason: "why".into(),
            recent: Box::default(),
            ticks_max,
            settings_version,
        };
        let last_line = |failure: Failure| failure.to_string().lines().last().map(str::to_owned);
        let command = "reproduce with: cargo run -p sluice-sim --release -- --seed 7";
        assert_eq!(last_line(failure(20_000, Some(SETTINGS_VERSION))), Some(command.into()));
        assert_eq!(
            last_line(failure(60_000, Some(3))),
            Some(format!("{command} --ticks-max 60000 --settings-version 3"))
        );
        assert_eq!(
            last_line(failure(20_000, None)),
            Some("reproduce with: the scenario that made these settings".into())
        );
    }
}

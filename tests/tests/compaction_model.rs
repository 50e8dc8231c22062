//! Model-based property test of log compaction: any sequence of keyed appends (with
//! tombstones, some compressed), syncs, compaction passes at moving wall-clock times, crashes
//! and clean restarts leaves a log whose records equal a simple model — a list of
//! (offset, key, value) — at their original offsets. Runs against real files and the
//! simulated disk.
//!
//! The model applies the cleaner's rule: a pass covers the cleanable segments (all but the
//! active one, up to the recovery point); in them a record is removed when a later record in
//! them has its key, or when it is a tombstone whose delete horizon the pass's time has
//! reached. The first pass that keeps a tombstone sets its horizon: that pass's time plus
//! `delete.retention.ms` (KIP-534), kept through restarts. Nothing else ever changes, the
//! records' timestamps included. A pass run in small steps, with appends
//! and syncs between them, covers what was cleanable when it began and ends as a whole pass
//! would.

use proptest::prelude::*;
use sluice_core::config::CleanupPolicy;
use sluice_core::log::{LogConfig, LogManager, TopicPartition};
use sluice_core::protocol::record_batch::{
    self, build_batch_compressed, BatchHeader, BatchOptions, Compression, NewRecord, Records,
};
use sluice_tests::{FileHarness, Harness, SimHarness};
use std::collections::BTreeMap;

const WALL_MS: i64 = 1_700_000_000_000;
const DELETE_RETENTION_MS: i64 = 1000;

#[derive(Clone, Debug)]
enum Op {
    /// Records with these keys (index into a few keys); `None` values are tombstones.
    Append {
        records: Vec<(u8, bool)>,
        compressed: bool,
    },
    Sync,
    /// A pass `advance_ms` after the latest batch timestamp.
    Compact {
        advance_ms: u16,
    },
    /// The same in steps of about `step_bytes`, with a batch appended and synced between
    /// steps.
    CompactInSteps {
        advance_ms: u16,
        step_bytes: u16,
        between: Vec<(u8, bool)>,
    },
    Crash,
    CleanRestart,
}

fn op() -> impl Strategy<Value = Op> {
    let record = (0u8..6, proptest::bool::weighted(0.15));
    prop_oneof![
        8 => (proptest::collection::vec(record.clone(), 1..5), proptest::bool::weighted(0.3))
            .prop_map(|(records, compressed)| Op::Append { records, compressed }),
        3 => Just(Op::Sync),
        3 => any::<u16>().prop_map(|advance_ms| Op::Compact { advance_ms }),
        3 => (any::<u16>(), 1u16..600, proptest::collection::vec(record, 1..3)).prop_map(
            |(advance_ms, step_bytes, between)| Op::CompactInSteps { advance_ms, step_bytes, between }
        ),
        1 => Just(Op::Crash),
        1 => Just(Op::CleanRestart),
    ]
}

/// (offset, key, value, timestamp).
type Record = (i64, Vec<u8>, Option<Vec<u8>>, i64);

struct Model {
    /// Records with the delete horizon a pass set on their batch.
    records: Vec<(Record, Option<i64>)>,
    log_end: i64,
    durable: i64,
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 200,
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: DELETE_RETENTION_MS,
        ..LogConfig::default()
    }
}

fn partition() -> TopicPartition {
    TopicPartition::new("compacted", 0)
}

fn open(harness: &mut dyn Harness) -> LogManager {
    let mut configs = BTreeMap::new();
    configs.insert("compacted".to_string(), config());
    let (manager, _) =
        LogManager::open(harness.storage(), config(), &configs, WALL_MS).expect("open");
    manager
}

/// Every record of the log, reading from its start in small steps, with its batch's delete
/// horizon if it is a tombstone.
fn read_records(harness: &mut dyn Harness, manager: &mut LogManager) -> Vec<(Record, Option<i64>)> {
    let log = manager.log_mut(&partition()).expect("log");
    let mut offset = log.log_start_offset();
    let mut records = Vec::new();
    loop {
        let read = log.read(harness.storage(), offset, 300, i64::MAX).expect("read");
        if read.bytes.is_empty() {
            return records;
        }
        let mut position = 0;
        while position < read.bytes.len() {
            let header = BatchHeader::parse(&read.bytes[position..]).expect("header");
            let end = position + header.size_bytes();
            let batch = &read.bytes[position..end];
            record_batch::validate_stored(batch).expect("a stored batch");
            assert_eq!(header.base_offset, offset, "batches stay contiguous");
            let body = record_batch::records_section(&header, batch, 1 << 20).expect("body");
            for record in Records::new(&header, &body) {
                let record = record.expect("record");
                let at = header.base_offset + i64::from(record.offset_delta);
                assert!(at <= header.last_offset(), "a record outside its batch");
                let horizon = header.delete_horizon_ms().filter(|_| record.value.is_none());
                records.push((
                    (
                        at,
                        record.key.expect("compacted records have keys").to_vec(),
                        record.value.map(<[u8]>::to_vec),
                        header.base_timestamp.wrapping_add(record.timestamp_delta),
                    ),
                    horizon,
                ));
            }
            offset = header.next_offset();
            position = end;
        }
    }
}

/// The end of the cleanable segments: segment i is cleanable when it is not the active one and
/// ends at or below the recovery point.
fn cleanable_end(log: &sluice_core::log::Log) -> i64 {
    let bases = log.segment_base_offsets();
    let recovery_point = log.recovery_point();
    (1..bases.len())
        .take_while(|&next| bases[next] <= recovery_point)
        .last()
        .map_or(bases[0], |next| bases[next])
}

/// What a pass over the records below `cleanable_end` at `wall_ms` leaves.
fn compact_model(model: &mut Model, cleanable_end: i64, wall_ms: i64) {
    let mut last: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for ((offset, key, _, _), _) in model.records.iter().filter(|r| r.0 .0 < cleanable_end) {
        last.insert(key.clone(), *offset);
    }
    model.records.retain(|((offset, key, value, _), horizon)| {
        *offset >= cleanable_end
            || (last[key] == *offset
                && (value.is_some() || horizon.is_none_or(|horizon| wall_ms < horizon)))
    });
    // Every tombstone kept below the end without a horizon gets this pass's. (Records of one
    // batch share it: they are kept or dropped by the same pass.)
    for ((offset, _, value, _), horizon) in &mut model.records {
        if *offset < cleanable_end && value.is_none() && horizon.is_none() {
            *horizon = Some(wall_ms + DELETE_RETENTION_MS);
        }
    }
}

fn check(harness: &mut dyn Harness, manager: &mut LogManager, model: &Model) {
    assert_eq!(read_records(harness, manager), model.records, "log records differ from the model");
    let log = manager.log(&partition()).expect("log");
    assert_eq!(log.log_end_offset(), model.log_end, "compaction never moves the log end");
}

fn run(harness: &mut dyn Harness, ops: &[Op]) {
    let mut manager = open(harness);
    manager.create_log(harness.storage(), &partition(), config(), WALL_MS).expect("create");
    let mut model = Model { records: Vec::new(), log_end: 0, durable: 0 };
    for (step, op) in ops.iter().enumerate() {
        apply(harness, &mut manager, &mut model, op, step as i64);
        check(harness, &mut manager, &model);
    }
}

/// The timestamp of the `index`th record of a batch made at `timestamp`.
fn record_time(timestamp: i64, index: usize) -> i64 {
    timestamp + [0, -7, 5, 3, -2][index % 5]
}

fn apply(
    harness: &mut dyn Harness,
    manager: &mut LogManager,
    model: &mut Model,
    op: &Op,
    step: i64,
) {
    match op {
        Op::Append { records, compressed } => {
            let keys: Vec<Vec<u8>> =
                records.iter().map(|(key, _)| format!("key-{key}").into_bytes()).collect();
            let values: Vec<Option<Vec<u8>>> = records
                .iter()
                .enumerate()
                .map(|(index, (_, tombstone))| {
                    (!tombstone).then(|| format!("value-{step}-{index}-{}", "v".repeat(40)).into())
                })
                .collect();
            let timestamp = WALL_MS + step * 10;
            let new: Vec<NewRecord<'_>> = (0..records.len())
                .map(|index| NewRecord {
                    key: Some(&keys[index]),
                    value: values[index].as_deref(),
                    headers: vec![],
                    // Deltas below and above the batch's first time.
                    timestamp_ms: record_time(timestamp, index),
                })
                .collect();
            let codec = if *compressed { Compression::Lz4 } else { Compression::None };
            let mut batch =
                build_batch_compressed(&new, BatchOptions::default(), codec).expect("batch");
            let log = manager.log_mut(&partition()).expect("log");
            let info = log.append(harness.storage(), &mut batch, 0, WALL_MS).expect("append");
            assert_eq!(info.base_offset, model.log_end);
            for index in 0..records.len() {
                let record = (
                    info.base_offset + index as i64,
                    keys[index].clone(),
                    values[index].clone(),
                    record_time(timestamp, index),
                );
                model.records.push((record, None));
            }
            model.log_end = info.last_offset + 1;
        }
        Op::Sync => {
            let log = manager.log_mut(&partition()).expect("log");
            assert_eq!(log.sync(harness.storage()).expect("sync"), model.log_end);
            model.durable = model.log_end;
        }
        Op::Compact { advance_ms } => {
            let wall_ms = WALL_MS + step * 10 + i64::from(*advance_ms);
            let log = manager.log_mut(&partition()).expect("log");
            let cleanable_end = cleanable_end(log);
            log.compact(harness.storage(), wall_ms).expect("compact");
            compact_model(model, cleanable_end, wall_ms);
        }
        Op::CompactInSteps { advance_ms, step_bytes, between } => {
            let wall_ms = WALL_MS + step * 10 + i64::from(*advance_ms);
            let log = manager.log_mut(&partition()).expect("log");
            assert!(!log.compaction_in_progress());
            let cleanable_end = cleanable_end(log);
            for steps in 0.. {
                // Each step reads a batch at least, of a fixed number: a pass that took in
                // what was appended after it began would not end.
                assert!(steps < 10_000, "a pass in steps does not end");
                let log = manager.log_mut(&partition()).expect("log");
                let mut budget = usize::from(*step_bytes);
                if log
                    .compact_step(harness.storage(), wall_ms, &mut budget)
                    .expect("step")
                    .is_some()
                {
                    break;
                }
                assert!(log.compaction_in_progress());
                let append = Op::Append { records: between.clone(), compressed: false };
                apply(harness, manager, model, &append, step);
                apply(harness, manager, model, &Op::Sync, step);
            }
            compact_model(model, cleanable_end, wall_ms);
        }
        Op::Crash => {
            harness.crash();
            let mut reopened = open(harness);
            let found = read_records(harness, &mut reopened);
            let log = reopened.log(&partition()).expect("log");
            let log_end = log.log_end_offset();
            assert!(log_end >= model.durable, "a synced record was lost");
            if !harness.crash_loses_unsynced() {
                assert_eq!(log_end, model.log_end, "a process crash keeps written bytes");
            }
            model.records.retain(|((offset, _, _, _), _)| *offset < log_end);
            assert_eq!(found, model.records, "recovery changed compacted records");
            model.log_end = log_end;
            model.durable = log_end;
            *manager = reopened;
        }
        Op::CleanRestart => {
            manager.close(harness.storage()).expect("close");
            *manager = open(harness);
            model.durable = model.log_end;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sim_disk_compaction_matches_the_model(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        run(&mut SimHarness::new(seed), &ops);
    }

    #[test]
    fn file_compaction_matches_the_model(ops in proptest::collection::vec(op(), 1..50)) {
        run(&mut FileHarness::new(), &ops);
    }
}

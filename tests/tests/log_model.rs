//! Model-based property test of the partition log: any sequence of appends, syncs,
//! truncations, DeleteRecords, retention runs, crashes and clean restarts leaves a log equal
//! to a simple model (a Vec of batches), with dense offsets, no reuse of a durable offset, and
//! every synced batch intact. Runs against real files and the simulated disk.

use proptest::prelude::*;
use sluice_core::log::{LogConfig, LogManager, TopicPartition};
use sluice_core::protocol::record_batch::BatchHeader;
use sluice_tests::{producer_batch, FileHarness, Harness, SimHarness};
use std::collections::BTreeMap;

const WALL_MS: i64 = 1_700_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    Append { count: usize, value_bytes: usize },
    Sync,
    Truncate { fraction: u8 },
    DeleteRecords { fraction: u8 },
    Retention,
    Crash,
    CleanRestart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1usize..5, 0usize..160).prop_map(|(count, value_bytes)| Op::Append { count, value_bytes }),
        3 => Just(Op::Sync),
        1 => any::<u8>().prop_map(|fraction| Op::Truncate { fraction }),
        1 => any::<u8>().prop_map(|fraction| Op::DeleteRecords { fraction }),
        1 => Just(Op::Retention),
        2 => Just(Op::Crash),
        1 => Just(Op::CleanRestart),
    ]
}

/// Stored batches, oldest first, with the log's start and end offsets and the durable offset.
struct Model {
    batches: Vec<(i64, i64, Vec<u8>)>,
    log_start: i64,
    log_end: i64,
    durable: i64,
}

impl Model {
    fn expected_bytes(&self) -> Vec<u8> {
        let kept = self.batches.iter().filter(|(_, last, _)| *last >= self.log_start);
        kept.flat_map(|(_, _, bytes)| bytes.iter().copied()).collect()
    }
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 200,
        retention_bytes: 3000,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

fn partition() -> TopicPartition {
    TopicPartition::new("model", 0)
}

fn open(harness: &mut dyn Harness) -> LogManager {
    let mut configs = BTreeMap::new();
    configs.insert("model".to_string(), config());
    let (mut manager, _) =
        LogManager::open(harness.storage(), config(), &configs, WALL_MS).expect("open");
    manager.create_log(harness.storage(), &partition(), config(), WALL_MS).expect("create");
    manager
}

fn read_batches(harness: &mut dyn Harness, manager: &mut LogManager) -> Vec<(i64, i64, Vec<u8>)> {
    let log = manager.log_mut(&partition()).expect("log");
    let mut offset = log.log_start_offset();
    let mut batches = Vec::new();
    loop {
        let read = log.read(harness.storage(), offset, 4096, i64::MAX).expect("read");
        if read.bytes.is_empty() {
            return batches;
        }
        let mut position = 0;
        while position < read.bytes.len() {
            let header = BatchHeader::parse(&read.bytes[position..]).expect("header");
            let end = position + header.size_bytes();
            batches.push((
                header.base_offset,
                header.last_offset(),
                read.bytes[position..end].to_vec(),
            ));
            offset = header.next_offset();
            position = end;
        }
    }
}

fn check(harness: &mut dyn Harness, manager: &mut LogManager, model: &Model) {
    let read: Vec<u8> =
        read_batches(harness, manager).into_iter().flat_map(|(_, _, bytes)| bytes).collect();
    assert_eq!(read, model.expected_bytes(), "log content differs from the model");
    let log = manager.log(&partition()).expect("log");
    assert_eq!(log.log_end_offset(), model.log_end);
    assert_eq!(log.log_start_offset(), model.log_start);
    assert!(log.recovery_point() <= log.log_end_offset());
    assert!(log.recovery_point() >= model.durable.min(model.log_end));
}

fn run(harness: &mut dyn Harness, ops: &[Op]) {
    let mut manager = open(harness);
    let mut model = Model { batches: Vec::new(), log_start: 0, log_end: 0, durable: 0 };
    for (step, op) in ops.iter().enumerate() {
        apply(harness, &mut manager, &mut model, op, step as u64);
        check(harness, &mut manager, &model);
    }
}

fn apply(
    harness: &mut dyn Harness,
    manager: &mut LogManager,
    model: &mut Model,
    op: &Op,
    tag: u64,
) {
    match *op {
        Op::Append { count, value_bytes } => {
            let mut batch = producer_batch(count, value_bytes, tag, WALL_MS + tag as i64);
            let log = manager.log_mut(&partition()).expect("log");
            let info = log.append(harness.storage(), &mut batch, 0, WALL_MS).expect("append");
            assert_eq!(info.base_offset, model.log_end, "offsets are dense");
            model.batches.push((info.base_offset, info.last_offset, batch));
            model.log_end = info.last_offset + 1;
        }
        Op::Sync => {
            let log = manager.log_mut(&partition()).expect("log");
            assert_eq!(log.sync(harness.storage()).expect("sync"), model.log_end);
            model.durable = model.log_end;
        }
        Op::Truncate { fraction } => {
            let span = model.log_end - model.log_start;
            let target = model.log_start + span * i64::from(fraction) / 255;
            let first_base = manager.log(&partition()).expect("log").segment_base_offsets()[0];
            manager
                .truncate_to(harness.storage(), &partition(), target, WALL_MS)
                .expect("truncate");
            if target >= model.log_end {
                return;
            }
            if target <= first_base || target < model.log_start {
                model.batches.clear();
                model.log_start = target;
                model.log_end = target;
            } else {
                model.batches.retain(|(_, last, _)| *last < target);
                model.log_end =
                    model.batches.last().map_or(model.log_start, |(_, last, _)| last + 1);
            }
            model.durable = model.durable.min(model.log_end);
        }
        Op::DeleteRecords { fraction } => {
            let span = model.log_end - model.log_start;
            let target = model.log_start + span * i64::from(fraction) / 255;
            let low =
                manager.delete_records(harness.storage(), &partition(), target).expect("delete");
            assert_eq!(low, target.max(model.log_start));
            model.log_start = low;
        }
        Op::Retention => {
            let end_before = model.log_end;
            manager.apply_retention(harness.storage(), WALL_MS).expect("retention");
            let log = manager.log(&partition()).expect("log");
            assert!(log.log_start_offset() >= model.log_start, "the log start never moves back");
            assert_eq!(log.log_end_offset(), end_before, "retention never touches the end");
            assert!(log.size_bytes() <= 3000 + 1024, "retention.bytes holds");
            model.log_start = log.log_start_offset();
        }
        Op::Crash => crash(harness, manager, model),
        Op::CleanRestart => {
            manager.close(harness.storage()).expect("close");
            let mut configs = BTreeMap::new();
            configs.insert("model".to_string(), config());
            let (reopened, report) =
                LogManager::open(harness.storage(), config(), &configs, WALL_MS).expect("open");
            assert!(report.clean_shutdown);
            assert_eq!(report.partitions[&partition()].segments_scanned, 0);
            *manager = reopened;
            model.durable = model.log_end;
        }
    }
    model.batches.retain(|(_, last, _)| *last >= model.log_start);
}

/// After a crash the log holds a prefix of the model: at least every durable batch, and,
/// where the storage keeps unsynced writes, all of them. The model then follows the log.
fn crash(harness: &mut dyn Harness, manager: &mut LogManager, model: &mut Model) {
    harness.crash();
    let mut configs = BTreeMap::new();
    configs.insert("model".to_string(), config());
    let (reopened, _) =
        LogManager::open(harness.storage(), config(), &configs, WALL_MS).expect("recover");
    *manager = reopened;
    let found = read_batches(harness, manager);
    let log = manager.log(&partition()).expect("log");
    let (log_start, log_end) = (log.log_start_offset(), log.log_end_offset());
    assert_eq!(log_start, model.log_start, "the log start offset is checkpointed");
    let expected: Vec<_> = model.batches.iter().filter(|(_, last, _)| *last >= log_start).collect();
    assert!(found.len() <= expected.len(), "recovery invented batches");
    for (index, batch) in found.iter().enumerate() {
        assert_eq!(batch, expected[index], "recovered batch {index} differs from what was written");
    }
    let durable_batches = expected.iter().filter(|(_, last, _)| *last < model.durable).count();
    assert!(found.len() >= durable_batches, "a synced batch was lost");
    if !harness.crash_loses_unsynced() {
        assert_eq!(found.len(), expected.len(), "a process crash keeps written bytes");
    }
    model.batches = found;
    let expected_end = model.batches.last().map_or(log_start, |(_, last, _)| last + 1);
    assert_eq!(log_end, expected_end.max(log_start));
    model.log_end = log_end;
    model.durable = log_end;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn sim_disk_log_matches_the_model(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..60)) {
        run(&mut SimHarness::new(seed), &ops);
    }

    #[test]
    fn file_log_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(&mut FileHarness::new(), &ops);
    }
}

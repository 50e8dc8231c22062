//! The partition log's suite, run against both Storage implementations: real files
//! (`FileStorage`) and the simulated disk (`SimDisk`). Every test asserts exact results.

use bytes::Bytes;
use sluice_core::log::{LogConfig, LogError, LogManager, OpenOptions, TopicPartition};
use sluice_core::protocol::record_batch::{self, BatchHeader};
use sluice_core::protocol::ErrorCode;
use sluice_core::storage::{Storage, StorageError, StorageErrorKind, Volume};
use sluice_sim::disk::DiskFaults;
use sluice_tests::{producer_batch, FileHarness, Harness, SimHarness};
use std::collections::BTreeMap;

const WALL_MS: i64 = 1_700_000_000_000;

fn partition() -> TopicPartition {
    TopicPartition::new("orders", 0)
}

fn small_segments() -> LogConfig {
    LogConfig { segment_bytes: 1024, index_interval_bytes: 256, ..LogConfig::default() }
}

fn open(harness: &mut dyn Harness, config: LogConfig) -> LogManager {
    let mut configs = BTreeMap::new();
    configs.insert("orders".to_string(), config);
    let (mut manager, _) =
        LogManager::open(harness.storage(), config, &configs, WALL_MS).expect("open");
    manager.create_log(harness.storage(), &partition(), config, WALL_MS).expect("create");
    manager
}

fn reopen(
    harness: &mut dyn Harness,
    config: LogConfig,
) -> (LogManager, sluice_core::log::ManagerOpenReport) {
    let mut configs = BTreeMap::new();
    configs.insert("orders".to_string(), config);
    LogManager::open(harness.storage(), config, &configs, WALL_MS).expect("reopen")
}

/// Appends a batch of `count` records tagged `tag`; returns the stored (patched) bytes.
fn append(harness: &mut dyn Harness, manager: &mut LogManager, count: usize, tag: u64) -> Vec<u8> {
    let mut batch = producer_batch(count, 100, tag, WALL_MS + tag as i64 * 10);
    let log = manager.log_mut(&partition()).expect("log");
    let expected_base = log.log_end_offset();
    let info = log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append");
    assert_eq!(info.base_offset, expected_base);
    assert_eq!(info.last_offset, expected_base + count as i64 - 1);
    assert_eq!(info.log_append_time_ms, WALL_MS);
    batch
}

fn read_all(harness: &mut dyn Harness, manager: &mut LogManager) -> Vec<u8> {
    let log = manager.log_mut(&partition()).expect("log");
    let mut offset = log.log_start_offset();
    let mut out = Vec::new();
    loop {
        let read = log.read(harness.storage(), offset, 1 << 20, i64::MAX).expect("read");
        if read.bytes.is_empty() {
            return out;
        }
        let mut position = 0;
        while position < read.bytes.len() {
            let header = BatchHeader::parse(&read.bytes[position..]).expect("header");
            offset = header.next_offset();
            position += header.size_bytes();
        }
        out.extend_from_slice(&read.bytes);
    }
}

fn log_files(harness: &mut dyn Harness) -> Vec<String> {
    harness.storage().list("orders-0").expect("list")
}

fn appends_get_dense_offsets_and_read_back_byte_for_byte(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    let first = append(harness, &mut manager, 3, 1);
    let second = append(harness, &mut manager, 2, 2);
    let header = BatchHeader::parse(&second).expect("header");
    assert_eq!(header.base_offset, 3);
    assert_eq!(header.partition_leader_epoch, 1);
    record_batch::validate(&second).expect("patched batch keeps a valid CRC");
    let log = manager.log_mut(&partition()).expect("log");
    assert_eq!(log.log_end_offset(), 5);
    let all = log.read(harness.storage(), 0, 1 << 20, i64::MAX).expect("read");
    assert_eq!(all.bytes.as_ref(), [first.clone(), second.clone()].concat().as_slice());
    assert_eq!((all.log_start_offset, all.log_end_offset), (0, 5));
    // An offset inside the second batch returns that whole batch.
    let middle = log.read(harness.storage(), 4, 1 << 20, i64::MAX).expect("read");
    assert_eq!(middle.bytes.as_ref(), second.as_slice());
    // At the log end: nothing, not an error.
    let end = log.read(harness.storage(), 5, 1 << 20, i64::MAX).expect("read");
    assert!(end.bytes.is_empty());
}

fn reads_respect_max_bytes_and_max_offset(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    let first = append(harness, &mut manager, 2, 1);
    let second = append(harness, &mut manager, 2, 2);
    append(harness, &mut manager, 2, 3);
    let log = manager.log_mut(&partition()).expect("log");
    // max_bytes smaller than one batch still returns the first batch whole (KIP-74).
    let tiny = log.read(harness.storage(), 0, 10, i64::MAX).expect("read");
    assert_eq!(tiny.bytes.as_ref(), first.as_slice());
    let two = log.read(harness.storage(), 0, first.len() + second.len(), i64::MAX).expect("read");
    assert_eq!(two.bytes.len(), first.len() + second.len());
    // The high watermark bounds the read: batches starting at or above it are not returned.
    let below_hw = log.read(harness.storage(), 0, 1 << 20, 4).expect("read");
    assert_eq!(below_hw.bytes.as_ref(), [first.clone(), second.clone()].concat().as_slice());
    let at_hw = log.read(harness.storage(), 4, 1 << 20, 4).expect("read");
    assert!(at_hw.bytes.is_empty());
}

fn out_of_range_reads_carry_the_log_bounds(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    append(harness, &mut manager, 4, 1);
    let log = manager.log_mut(&partition()).expect("log");
    let error = log.read(harness.storage(), 9, 100, i64::MAX).unwrap_err();
    assert_eq!(
        error,
        LogError::OffsetOutOfRange { requested: 9, log_start_offset: 0, log_end_offset: 4 }
    );
    assert_eq!(error.error_code(), ErrorCode::OffsetOutOfRange);
    assert!(log.read(harness.storage(), -1, 100, i64::MAX).is_err());
}

fn invalid_batches_are_refused_and_leave_the_log_untouched(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    append(harness, &mut manager, 2, 1);
    let log = manager.log_mut(&partition()).expect("log");
    let size_before = log.size_bytes();
    let good = producer_batch(2, 50, 9, WALL_MS);
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().expect("byte") ^= 1;
    let mut bad_magic = good.clone();
    bad_magic[16] = 1;
    let mut bad_count = good.clone();
    bad_count[57..61].copy_from_slice(&3i32.to_be_bytes());
    let crc = record_batch::compute_crc(&bad_count);
    bad_count[17..21].copy_from_slice(&crc.to_be_bytes());
    let mut truncated = good[..good.len() - 3].to_vec();
    let cases = [
        (bad_crc, ErrorCode::CorruptMessage),
        (bad_magic, ErrorCode::CorruptMessage),
        (bad_count, ErrorCode::InvalidRecord),
    ];
    for (mut batch, code) in cases {
        let error = log.append(harness.storage(), &mut batch, 1, WALL_MS).unwrap_err();
        assert_eq!(error.error_code(), code, "{error}");
    }
    let error = log.append(harness.storage(), &mut truncated, 1, WALL_MS).unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::CorruptMessage);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.size_bytes(), size_before);
}

fn segments_roll_with_kafka_file_names_and_indexes(harness: &mut dyn Harness) {
    let config = small_segments();
    let mut manager = open(harness, config);
    let mut sizes = Vec::new();
    for tag in 0..12 {
        sizes.push(append(harness, &mut manager, 2, tag).len());
    }
    let log = manager.log(&partition()).expect("log");
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3, "{bases:?}");
    assert_eq!(bases[0], 0);
    // Each segment holds as many whole batches as fit in segment.bytes.
    let per_segment = 1024 / sizes[0];
    assert_eq!(bases[1], 2 * per_segment as i64);
    let files = log_files(harness);
    assert!(files.contains(&"00000000000000000000.log".to_string()));
    assert!(files.contains(&"00000000000000000000.index".to_string()));
    assert!(files.contains(&"00000000000000000000.timeindex".to_string()));
    assert!(files.contains(&format!("{:020}.log", bases[1])));
    assert!(files.contains(&"leader-epoch-checkpoint".to_string()));
    // The sealed first segment's .index has one entry per 256 bytes: (relative offset, position).
    let index =
        harness.storage().read_at("orders-0/00000000000000000000.index", 0, 4096).expect("index");
    let batch_size = sizes[0] as u32;
    let mut expected = Vec::new();
    let (mut since, mut position) = (0u32, 0u32);
    for batch in 0..per_segment as u32 {
        if since >= 256 {
            expected.extend_from_slice(&(batch * 2).to_be_bytes());
            expected.extend_from_slice(&position.to_be_bytes());
            since = 0;
        }
        since += batch_size;
        position += batch_size;
    }
    assert_eq!(index.as_ref(), expected.as_slice());
    let epochs =
        harness.storage().read_at("orders-0/leader-epoch-checkpoint", 0, 100).expect("epochs");
    assert_eq!(epochs.as_ref(), b"0\n1\n1 0\n");
}

fn sync_is_explicit_and_one_request_covers_many_appends(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    for tag in 0..5 {
        append(harness, &mut manager, 1, tag);
    }
    let log = manager.log_mut(&partition()).expect("log");
    assert_eq!(log.recovery_point(), 0);
    let request = log.sync_request().expect("unsynced data");
    assert_eq!(request.offset, 5);
    assert_eq!(request.files, vec!["orders-0/00000000000000000000.log".to_string()]);
    // An append after the request is not covered by it.
    let mut late = producer_batch(1, 10, 99, WALL_MS);
    log.append(harness.storage(), &mut late, 1, WALL_MS).expect("append");
    let result = sluice_core::log::sync_files(harness.storage(), &request.files);
    assert_eq!(log.sync_completed(request, result).expect("synced"), 5);
    assert_eq!(log.recovery_point(), 5);
    assert_eq!(log.sync(harness.storage()).expect("sync"), 6);
    assert!(log.sync_request().is_none());
}

fn sync_requests_ask_each_dirty_topic_once_and_skip_the_rest(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    let config = LogConfig::default();
    let logs = [("audit", 0), ("orders", 1), ("orders", 2), ("payments", 0), ("payments", 1)];
    for (topic, partition) in logs {
        let tp = TopicPartition::new(topic, partition);
        manager.create_log(harness.storage(), &tp, config, WALL_MS).expect("create");
    }
    // Creating a log syncs it: with nothing dirty, no topic is asked about.
    assert!(manager.sync_requests_where(|topic| panic!("{topic} has nothing to sync")).is_empty());
    for (topic, partition) in [("orders", 0), ("orders", 2), ("payments", 0), ("payments", 1)] {
        let log = manager.log_mut(&TopicPartition::new(topic, partition)).expect("log");
        let mut batch = producer_batch(1, 10, 1, WALL_MS);
        log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append");
    }
    let mut asked = Vec::new();
    let requests = manager.sync_requests_where(|topic| {
        asked.push(topic.to_string());
        topic == "orders"
    });
    assert_eq!(asked, vec!["orders", "payments"], "once per topic with data to sync; not audit");
    let synced: Vec<&TopicPartition> = requests.iter().map(|(tp, _)| tp).collect();
    assert_eq!(synced, [&TopicPartition::new("orders", 0), &TopicPartition::new("orders", 2)]);
    for (tp, request) in requests {
        let result = sluice_core::log::sync_files(harness.storage(), &request.files);
        let log = manager.log_mut(&tp).expect("log");
        assert_eq!(log.sync_completed(request, result).expect("synced"), 1);
    }
    // The refused topic's logs keep their unsynced data for a later request.
    let rest: Vec<TopicPartition> = manager.sync_requests().into_iter().map(|(tp, _)| tp).collect();
    assert_eq!(rest, vec![TopicPartition::new("payments", 0), TopicPartition::new("payments", 1)]);
}

fn clean_close_reopens_without_scanning(harness: &mut dyn Harness) {
    let config = small_segments();
    let mut manager = open(harness, config);
    for tag in 0..10 {
        append(harness, &mut manager, 2, tag);
    }
    let before = read_all(harness, &mut manager);
    manager.close(harness.storage()).expect("close");
    let (mut manager, report) = reopen(harness, config);
    assert!(report.clean_shutdown);
    let partition_report = &report.partitions[&partition()];
    assert!(partition_report.clean);
    assert_eq!(partition_report.segments_scanned, 0);
    assert_eq!(partition_report.indexes_rebuilt, 0);
    assert_eq!(read_all(harness, &mut manager), before);
    let log = manager.log(&partition()).expect("log");
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(log.recovery_point(), 20);
    append(harness, &mut manager, 1, 50);
    assert_eq!(manager.log(&partition()).expect("log").log_end_offset(), 21);
}

fn a_sync_made_while_another_is_unfinished_syncs_its_files_too(harness: &mut dyn Harness) {
    // A group-commit sync has taken the log's files and not run yet when something else
    // (DeleteRecords securing producer state) syncs the log at once: that sync vouches for
    // everything below the end, so it must sync the taken files as well.
    let mut manager = open(harness, LogConfig::default());
    let written = append(harness, &mut manager, 3, 1);
    let log = manager.log_mut(&partition()).expect("log");
    let unfinished = log.sync_request().expect("unsynced data");
    assert_eq!(log.sync(harness.storage()).expect("sync"), 3);
    harness.crash();
    let (mut manager, _) = reopen(harness, LogConfig::default());
    assert_eq!(read_all(harness, &mut manager), written);
    // The unfinished request may still complete on the old log; it changes nothing.
    assert_eq!(unfinished.offset, 3);
}

fn unclean_open_truncates_a_torn_tail(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    let kept = append(harness, &mut manager, 2, 1);
    manager.log_mut(&partition()).expect("log").sync(harness.storage()).expect("sync");
    manager.checkpoint(harness.storage()).expect("checkpoint");
    let torn = append(harness, &mut manager, 2, 2);
    manager.log_mut(&partition()).expect("log").sync(harness.storage()).expect("sync");
    let path = "orders-0/00000000000000000000.log";
    let full = (kept.len() + torn.len()) as u64;
    harness.storage().truncate(path, full - 7).expect("tear");
    harness.storage().sync(path).expect("sync");
    harness.crash();
    let (mut manager, report) = reopen(harness, LogConfig::default());
    assert!(!report.clean_shutdown);
    let partition_report = &report.partitions[&partition()];
    assert_eq!(partition_report.segments_scanned, 1);
    assert_eq!(partition_report.bytes_truncated, torn.len() as u64 - 7);
    assert_eq!(read_all(harness, &mut manager), kept);
    let log = manager.log(&partition()).expect("log");
    assert_eq!((log.log_end_offset(), log.recovery_point()), (2, 2));
    assert_eq!(harness.storage().len(path).expect("len"), kept.len() as u64);
}

fn bit_flips_are_caught_by_crc(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    let first = append(harness, &mut manager, 2, 1);
    let second = append(harness, &mut manager, 2, 2);
    manager.close(harness.storage()).expect("close");
    let path = "orders-0/00000000000000000000.log";
    // Bit rot in the second batch's value, below the recovery point: a clean open does not
    // scan, so the damage is caught when read, and never served.
    let mut content = harness.storage().read_at(path, 0, 1 << 20).expect("read").to_vec();
    content[first.len() + second.len() - 5] ^= 0x10;
    harness.storage().truncate(path, 0).expect("truncate");
    harness.storage().append(path, &content).expect("append");
    harness.storage().sync(path).expect("sync");
    let (mut manager, _) = reopen(harness, LogConfig::default());
    let log = manager.log_mut(&partition()).expect("log");
    let read = log.read(harness.storage(), 0, 1 << 20, i64::MAX).expect("read");
    assert_eq!(read.bytes.as_ref(), first.as_slice(), "the damaged batch is cut off");
    let error = log.read(harness.storage(), 2, 1 << 20, i64::MAX).unwrap_err();
    assert!(matches!(error, LogError::CorruptStoredBatch { offset: 2, .. }), "{error:?}");
    assert_eq!(error.error_code(), ErrorCode::KafkaStorageError);
    drop(manager);
    // After an unclean stop the recovery scan truncates at the damaged batch.
    harness.crash();
    let recovery_points = b"0\n1\norders 0 0\n";
    sluice_core::storage::write_file_atomic(
        harness.storage(),
        "recovery-point-offset-checkpoint",
        recovery_points,
    )
    .expect("checkpoint");
    let (mut manager, report) = reopen(harness, LogConfig::default());
    assert!(report.partitions[&partition()].truncation_reason.is_some());
    assert_eq!(read_all(harness, &mut manager), first);
}

fn truncate_removes_whole_batches_and_later_segments(harness: &mut dyn Harness) {
    let config = small_segments();
    let mut manager = open(harness, config);
    let mut batches = Vec::new();
    for tag in 0..10 {
        batches.push(append(harness, &mut manager, 2, tag));
    }
    manager.log_mut(&partition()).expect("log").sync(harness.storage()).expect("sync");
    // Offset 7 lies inside the batch 6..=7: that batch goes too.
    manager.truncate_to(harness.storage(), &partition(), 7, WALL_MS).expect("truncate");
    let log = manager.log(&partition()).expect("log");
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(log.recovery_point(), 6);
    assert!(log.segment_base_offsets().iter().all(|&base| base <= 6));
    assert_eq!(read_all(harness, &mut manager), batches[..3].concat());
    let again = append(harness, &mut manager, 1, 77);
    assert_eq!(BatchHeader::parse(&again).expect("header").base_offset, 6);
    // The truncation is durable: a crash cannot bring the removed batches back.
    manager.log_mut(&partition()).expect("log").sync(harness.storage()).expect("sync");
    harness.crash();
    let (mut manager, _) = reopen(harness, config);
    let mut expected = batches[..3].concat();
    expected.extend_from_slice(&again);
    assert_eq!(read_all(harness, &mut manager), expected);
}

fn delete_records_moves_the_start_and_survives_restart(harness: &mut dyn Harness) {
    let config = small_segments();
    let mut manager = open(harness, config);
    for tag in 0..10 {
        append(harness, &mut manager, 2, tag);
    }
    let segments_before = manager.log(&partition()).expect("log").segment_count();
    let low = manager.delete_records(harness.storage(), &partition(), 13).expect("delete");
    assert_eq!(low, 13);
    let log = manager.log_mut(&partition()).expect("log");
    assert!(log.segment_count() < segments_before);
    assert!(log.segment_base_offsets()[0] <= 13);
    let error = log.read(harness.storage(), 12, 100, i64::MAX).unwrap_err();
    assert_eq!(
        error,
        LogError::OffsetOutOfRange { requested: 12, log_start_offset: 13, log_end_offset: 20 }
    );
    // The batch holding 13 (12..=13) is returned whole; the consumer skips offset 12.
    let read = log.read(harness.storage(), 13, 1 << 20, i64::MAX).expect("read");
    assert_eq!(BatchHeader::parse(&read.bytes).expect("header").base_offset, 12);
    assert!(manager.delete_records(harness.storage(), &partition(), 21).is_err());
    manager.log_mut(&partition()).expect("log").sync(harness.storage()).expect("sync");
    harness.crash();
    let (manager, _) = reopen(harness, config);
    assert_eq!(manager.log(&partition()).expect("log").log_start_offset(), 13);
}

fn retention_deletes_old_segments_but_never_the_active_one(harness: &mut dyn Harness) {
    let config = LogConfig { retention_ms: 1000, ..small_segments() };
    let mut manager = open(harness, config);
    // Batches tagged t carry timestamps WALL_MS + 10 t.
    for tag in 0..12 {
        append(harness, &mut manager, 2, tag);
    }
    let log = manager.log_mut(&partition()).expect("log");
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3);
    // Nothing is old yet.
    assert_eq!(log.apply_retention(harness.storage(), WALL_MS + 500).expect("retention"), 0);
    // Far in the future every sealed segment is expired; the active one stays.
    let deleted = log.apply_retention(harness.storage(), WALL_MS + 1_000_000).expect("retention");
    assert_eq!(deleted, bases.len() - 1);
    assert_eq!(log.segment_base_offsets(), vec![*bases.last().expect("active")]);
    assert_eq!(log.log_start_offset(), *bases.last().expect("active"));
    assert_eq!(log.log_end_offset(), 24);
    let files = log_files(harness);
    assert!(!files.contains(&"00000000000000000000.log".to_string()));
    assert!(!files.contains(&"00000000000000000000.index".to_string()));
    // retention.bytes: keep at most ~one segment's worth.
    let config = LogConfig { retention_bytes: 1024, ..small_segments() };
    let log = manager.log_mut(&partition()).expect("log");
    log.set_config(config).expect("config");
    for tag in 20..40 {
        let mut batch = producer_batch(2, 100, tag, WALL_MS);
        log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append");
    }
    log.apply_retention(harness.storage(), WALL_MS).expect("retention");
    assert!(log.size_bytes() <= 1024 + 1024, "size {}", log.size_bytes());
    assert!(log.segment_count() <= 2);
}

fn offsets_are_found_by_timestamp(harness: &mut dyn Harness) {
    let mut manager = open(harness, small_segments());
    for tag in 0..12 {
        append(harness, &mut manager, 2, tag); // records at WALL_MS + 10 tag + {0, 1}
    }
    let log = manager.log_mut(&partition()).expect("log");
    assert_eq!(log.offset_for_timestamp(harness.storage(), 0).expect("lookup"), Some((0, WALL_MS)));
    assert_eq!(
        log.offset_for_timestamp(harness.storage(), WALL_MS + 51).expect("lookup"),
        Some((11, WALL_MS + 51))
    );
    assert_eq!(
        log.offset_for_timestamp(harness.storage(), WALL_MS + 52).expect("lookup"),
        Some((12, WALL_MS + 60))
    );
    assert_eq!(log.offset_for_timestamp(harness.storage(), WALL_MS + 200).expect("lookup"), None);
    // After a clean restart the active segment still knows its largest timestamp.
    manager.close(harness.storage()).expect("close");
    let (mut manager, _) = reopen(harness, small_segments());
    let log = manager.log_mut(&partition()).expect("log");
    assert_eq!(
        log.offset_for_timestamp(harness.storage(), WALL_MS + 111).expect("lookup"),
        Some((23, WALL_MS + 111))
    );
}

fn leader_epochs_are_tracked_and_checkpointed(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    let log = manager.log_mut(&partition()).expect("log");
    for (epoch, tag) in [(0, 1), (0, 2), (3, 3), (5, 4)] {
        let mut batch = producer_batch(2, 10, tag, WALL_MS);
        log.append(harness.storage(), &mut batch, epoch, WALL_MS).expect("append");
    }
    assert_eq!(log.leader_epochs(), &[(0, 0), (3, 4), (5, 6)]);
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 4)));
    assert_eq!(log.end_offset_for_epoch(4), Some((3, 6)));
    assert_eq!(log.end_offset_for_epoch(5), Some((5, 8)));
    manager.truncate_to(harness.storage(), &partition(), 6, WALL_MS).expect("truncate");
    let log = manager.log(&partition()).expect("log");
    assert_eq!(log.leader_epochs(), &[(0, 0), (3, 4)]);
    let bytes =
        harness.storage().read_at("orders-0/leader-epoch-checkpoint", 0, 100).expect("read");
    assert_eq!(bytes.as_ref(), b"0\n2\n0 0\n3 4\n");
}

fn a_full_disk_fails_the_append_and_leaves_no_partial_batch(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    let first = append(harness, &mut manager, 2, 1);
    let Some(disk) = harness.sim_disk() else { return };
    let used = disk.used_bytes();
    disk.set_faults(DiskFaults { capacity_bytes: used + 40, ..Default::default() });
    let log = manager.log_mut(&partition()).expect("log");
    let mut batch = producer_batch(2, 100, 2, WALL_MS);
    let error = log.append(harness.storage(), &mut batch, 1, WALL_MS).unwrap_err();
    assert!(
        matches!(&error, LogError::Storage(e) if e.kind == StorageErrorKind::NoSpace),
        "{error:?}"
    );
    assert_eq!(error.error_code(), ErrorCode::KafkaStorageError);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.size_bytes(), first.len() as u64);
    assert_eq!(
        harness.storage().len("orders-0/00000000000000000000.log").expect("len"),
        first.len() as u64
    );
    // Once space frees up, appends continue at the next offset.
    harness.sim_disk().expect("sim").set_faults(DiskFaults::default());
    let again = append(harness, &mut manager, 1, 3);
    assert_eq!(BatchHeader::parse(&again).expect("header").base_offset, 2);
}

fn an_fsync_error_takes_the_log_offline_for_good(harness: &mut dyn Harness) {
    let mut manager = open(harness, LogConfig::default());
    append(harness, &mut manager, 2, 1);
    let Some(disk) = harness.sim_disk() else { return };
    disk.set_faults(DiskFaults { sync_error_ppm: 1_000_000, ..Default::default() });
    let log = manager.log_mut(&partition()).expect("log");
    let error = log.sync(harness.storage()).unwrap_err();
    assert!(matches!(error, LogError::Offline(_)), "{error:?}");
    assert_eq!(log.recovery_point(), 0, "nothing is reported durable");
    harness.sim_disk().expect("sim").set_faults(DiskFaults::default());
    // Never retried: the log stays offline even though the disk would now sync.
    let log = manager.log_mut(&partition()).expect("log");
    assert!(matches!(log.sync(harness.storage()), Err(LogError::Offline(_))));
    let mut batch = producer_batch(1, 10, 2, WALL_MS);
    assert!(matches!(
        log.append(harness.storage(), &mut batch, 1, WALL_MS),
        Err(LogError::Offline(_))
    ));
    assert!(log.sync_request().is_none());
}

/// A log that went offline keeps its log start in the checkpoints written after: a
/// DeleteRecords acknowledged before is not undone by the next start.
fn an_offline_log_keeps_its_log_start_in_later_checkpoints(harness: &mut dyn Harness) {
    let config = small_segments();
    let mut manager = open(harness, config);
    for tag in 0..10 {
        append(harness, &mut manager, 2, tag);
    }
    manager.log_mut(&partition()).expect("log").sync(harness.storage()).expect("sync");
    assert_eq!(manager.delete_records(harness.storage(), &partition(), 13), Ok(13));
    append(harness, &mut manager, 2, 10);
    let Some(disk) = harness.sim_disk() else { return };
    disk.set_faults(DiskFaults { sync_error_ppm: 1_000_000, ..Default::default() });
    let log = manager.log_mut(&partition()).expect("log");
    assert!(matches!(log.sync(harness.storage()), Err(LogError::Offline(_))));
    harness.sim_disk().expect("sim").set_faults(DiskFaults::default());
    // The periodic checkpoint, or a clean shutdown's, runs with the log offline.
    manager.checkpoint(harness.storage()).expect("checkpoint");
    harness.crash();
    let (manager, _) = reopen(harness, config);
    let log = manager.log(&partition()).expect("log");
    assert_eq!(log.log_start_offset(), 13, "bases: {:?}", log.segment_base_offsets());
}

/// Appends batches (tags 0, 1, ...) until the log rolls, syncing and checkpointing before
/// the roll; returns the sealed segment's end offset and largest timestamp (its last
/// record's: batch t's two records carry WALL_MS + 10 t and one more).
fn fill_first_segment(harness: &mut dyn Harness, manager: &mut LogManager) -> (i64, i64) {
    for tag in 0.. {
        let end = manager.log(&partition()).expect("log").log_end_offset();
        append(harness, manager, 2, tag);
        if manager.log(&partition()).expect("log").segment_count() == 2 {
            return (end, WALL_MS + (tag as i64 - 1) * 10 + 1);
        }
        manager.log_mut(&partition()).expect("log").sync(harness.storage()).expect("sync");
        manager.checkpoint(harness.storage()).expect("checkpoint");
    }
    unreachable!()
}

/// How many leading segments retention would delete at `wall_ms` (retention.ms is 1000).
fn retention_due_at(manager: &LogManager, wall_ms: i64) -> usize {
    manager.log(&partition()).expect("log").retention_due(wall_ms)
}

/// Cuts the last entry off the first segment's time index, as a power loss may before the
/// index file written at the roll is synced, and makes the cut durable.
fn tear_first_time_index(harness: &mut dyn Harness) {
    let path = "orders-0/00000000000000000000.timeindex";
    let len = harness.storage().len(path).expect("time index");
    assert!(len >= 24, "the time index has entries to lose: {len} bytes");
    harness.storage().truncate(path, len - 12).expect("tear");
    harness.storage().sync(path).expect("sync");
}

fn a_time_index_torn_after_the_last_checkpoint_does_not_bring_retention_forward(
    harness: &mut dyn Harness,
) {
    // The checkpoint says the first segment's records are synced; it was written before the
    // roll that wrote the segment's index files, which a power loss then tore.
    let config = LogConfig { retention_ms: 1000, ..small_segments() };
    let mut manager = open(harness, config);
    let (sealed_end, largest) = fill_first_segment(harness, &mut manager);
    let active = format!("orders-0/{sealed_end:020}.log");
    harness.storage().sync(&active).expect("sync the new segment's batch");
    tear_first_time_index(harness);
    harness.crash();
    let (manager, report) = reopen(harness, config);
    assert_eq!(report.partitions[&partition()].segments_scanned, 2, "both segments");
    let log = manager.log(&partition()).expect("log");
    assert_eq!(log.segment_base_offsets(), vec![0, sealed_end]);
    assert_eq!(retention_due_at(&manager, largest + 1000), 0);
    assert_eq!(retention_due_at(&manager, largest + 1001), 1);
}

fn a_time_index_short_of_the_batches_is_rebuilt_on_a_clean_open(harness: &mut dyn Harness) {
    let config = LogConfig { retention_ms: 1000, ..small_segments() };
    let mut manager = open(harness, config);
    let (sealed_end, largest) = fill_first_segment(harness, &mut manager);
    manager.close(harness.storage()).expect("close");
    tear_first_time_index(harness);
    let (mut manager, report) = reopen(harness, config);
    let partition_report = &report.partitions[&partition()];
    assert!(partition_report.clean);
    assert_eq!((partition_report.segments_scanned, partition_report.indexes_rebuilt), (0, 1));
    assert_eq!(retention_due_at(&manager, largest + 1000), 0);
    assert_eq!(retention_due_at(&manager, largest + 1001), 1);
    // The rebuilt index files are whole again: the next clean open trusts them.
    manager.close(harness.storage()).expect("close");
    let (manager, report) = reopen(harness, config);
    assert_eq!(report.partitions[&partition()].indexes_rebuilt, 0);
    assert_eq!(manager.log(&partition()).expect("log").log_end_offset(), sealed_end + 2);
    assert_eq!(retention_due_at(&manager, largest + 1000), 0);
    assert_eq!(retention_due_at(&manager, largest + 1001), 1);
}

fn a_scan_seals_the_time_index_of_every_segment_but_the_last(harness: &mut dyn Harness) {
    // Index entries every 900 bytes leave batches after a segment's last one: only the final
    // entry a seal adds holds their timestamps.
    let config = LogConfig {
        retention_ms: 1000,
        segment_bytes: 2048,
        index_interval_bytes: 900,
        ..LogConfig::default()
    };
    let mut manager = open(harness, config);
    let (sealed_end, largest) = fill_first_segment(harness, &mut manager);
    manager.log_mut(&partition()).expect("log").sync(harness.storage()).expect("sync");
    let index = harness.storage().read_at("orders-0/00000000000000000000.index", 0, 4096);
    let index = index.expect("index");
    let last_indexed = u32::from_be_bytes(index[index.len() - 8..][..4].try_into().expect("4"));
    assert!(i64::from(last_indexed) < sealed_end - 2, "a batch follows the last index entry");
    // Without a checkpoint every segment is scanned and its index files rewritten.
    harness.storage().remove("recovery-point-offset-checkpoint").expect("no checkpoint");
    harness.crash();
    let (mut manager, report) = reopen(harness, config);
    assert_eq!(report.partitions[&partition()].segments_scanned, 2);
    manager.close(harness.storage()).expect("close");
    let (manager, report) = reopen(harness, config);
    assert_eq!(report.partitions[&partition()].indexes_rebuilt, 0, "the written index is whole");
    assert_eq!(manager.log(&partition()).expect("log").log_end_offset(), sealed_end + 2);
    assert_eq!(retention_due_at(&manager, largest + 1000), 0);
    assert_eq!(retention_due_at(&manager, largest + 1001), 1);
}

/// A record's key and value.
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// (offset, key, value) of a stored record.
type StoredRecord = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// (offset, key, value) of every record in stored batches (uncompressed), checking that the
/// batches are contiguous.
fn records_of(bytes: &[u8]) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut position = 0;
    let mut expected_base = None;
    while position < bytes.len() {
        let header = record_batch::validate_stored(
            &bytes
                [position..position + BatchHeader::parse(&bytes[position..]).unwrap().size_bytes()],
        )
        .expect("a stored batch");
        if let Some(expected) = expected_base {
            assert_eq!(header.base_offset, expected, "batches are contiguous");
        }
        expected_base = Some(header.next_offset());
        let body = &bytes[position + 61..position + header.size_bytes()];
        for record in record_batch::Records::new(&header, body) {
            let record = record.expect("record");
            out.push((
                header.base_offset + i64::from(record.offset_delta),
                record.key.map(<[u8]>::to_vec),
                record.value.map(<[u8]>::to_vec),
            ));
        }
        position += header.size_bytes();
    }
    out
}

fn compaction_keeps_the_last_record_per_key_at_its_offset(harness: &mut dyn Harness) {
    use sluice_core::config::CleanupPolicy;
    use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 1000,
        retention_ms: 1,
        ..small_segments()
    };
    let mut manager = open(harness, config);
    let log = manager.log_mut(&partition()).expect("log");
    // 60 batches of three records over 7 keys; batch 20 deletes k3 (a tombstone, never
    // written again) and batch 30 holds a keyless record.
    let mut model: Vec<StoredRecord> = Vec::new();
    for batch_number in 0..60i64 {
        let entries: Vec<KeyValue> = (0..3)
            .map(|slot| {
                let key = (batch_number * 3 + slot) % 7;
                let value = format!("value-{batch_number}-{slot}-{}", "x".repeat(20)).into_bytes();
                match (batch_number, slot) {
                    (20, 0) => (Some(b"k3".to_vec()), None),
                    (30, 1) => (None, Some(value)),
                    _ if key == 3 && batch_number > 20 => (Some(b"k-other".to_vec()), Some(value)),
                    _ => (Some(format!("k{key}").into_bytes()), Some(value)),
                }
            })
            .collect();
        let records: Vec<NewRecord<'_>> = entries
            .iter()
            .map(|(key, value)| NewRecord {
                key: key.as_deref(),
                value: value.as_deref(),
                headers: vec![],
                timestamp_ms: WALL_MS + batch_number,
            })
            .collect();
        let mut batch = build_batch(&records, BatchOptions::default());
        let base =
            log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append").base_offset;
        for (slot, (key, value)) in entries.into_iter().enumerate() {
            model.push((base + slot as i64, key, value));
        }
    }
    let log_end = log.log_end_offset();
    assert_eq!(log_end, 180);
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 4, "segments {bases:?}");
    // Nothing is cleanable before a sync: only synced data is rewritten.
    assert!(!log.compaction_due(WALL_MS));
    log.sync(harness.storage()).expect("sync");
    assert!(log.compaction_due(WALL_MS));
    // Retention does not apply to a compact-only log.
    assert_eq!(log.apply_retention(harness.storage(), WALL_MS + 1_000_000).expect("retention"), 0);

    let active_base = *bases.last().expect("active");
    let expect = |model: &[StoredRecord], tombstones_expired: bool| {
        let mut last: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        for (offset, key, _) in model.iter().filter(|record| record.0 < active_base) {
            if let Some(key) = key {
                last.insert(key.clone(), *offset);
            }
        }
        model
            .iter()
            .filter(|(offset, key, value)| {
                *offset >= active_base
                    || key.as_ref().is_some_and(|key| {
                        last[key] == *offset && (value.is_some() || !tombstones_expired)
                    })
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let stats = log.compact(harness.storage(), WALL_MS).expect("compact");
    let expected = expect(&model, false);
    assert_eq!(stats.records_removed, (model.len() - expected.len()) as u64);
    assert!(stats.segments_rewritten >= 1 && stats.bytes_after < stats.bytes_before, "{stats:?}");
    assert_eq!(log.log_end_offset(), log_end);
    assert_eq!(log.segment_base_offsets(), bases);
    assert!(!log.compaction_due(WALL_MS));
    assert_eq!(records_of(&read_all(harness, &mut manager)), expected);
    assert!(expected
        .iter()
        .any(|(_, key, value)| key.as_deref() == Some(b"k3") && value.is_none()));
    // A read from the start holds records even where whole segments were emptied: it goes on
    // past batches without records.
    let log = manager.log_mut(&partition()).expect("log");
    let first = log.read(harness.storage(), 0, 1 << 20, i64::MAX).expect("read");
    assert_eq!(records_of(&first.bytes).first(), expected.first());
    // A second pass finds nothing to do.
    let again = log.compact(harness.storage(), WALL_MS).expect("compact");
    assert_eq!((again.records_removed, again.segments_rewritten), (0, 0));

    // delete.retention.ms later the tombstone goes too.
    let later = WALL_MS + 60 + 1000;
    assert!(log.compaction_due(later));
    let stats = log.compact(harness.storage(), later).expect("compact");
    assert_eq!(stats.records_removed, 1);
    let expected = expect(&model, true);
    assert_eq!(records_of(&read_all(harness, &mut manager)), expected);

    // The compacted log reads the same after a clean restart and after a crash.
    manager.close(harness.storage()).expect("close");
    let (mut manager, _) = reopen(harness, config);
    assert_eq!(records_of(&read_all(harness, &mut manager)), expected);
    harness.crash();
    let (mut manager, _) = reopen(harness, config);
    assert_eq!(records_of(&read_all(harness, &mut manager)), expected);
    assert_eq!(manager.log_mut(&partition()).expect("log").log_end_offset(), log_end);
}

fn a_tombstone_past_the_end_of_a_full_key_map_is_kept(harness: &mut dyn Harness) {
    // A pass maps keys until the map holds COMPACTION_MAP_BYTES_MAX: 300 keys of 64 KiB fill
    // it. Key k's value (offset 0) lies below the map's end, its tombstone (offset 301, past
    // it, delete.retention.ms=0) in the same segment. Without the map's knowledge of the
    // tombstone the value stays; so must the tombstone, or k comes back.
    use sluice_core::config::CleanupPolicy;
    use sluice_core::limits::COMPACTION_MAP_BYTES_MAX;
    use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
    const KEY_BYTES: usize = 64 << 10;
    let big_keys = 300;
    assert!(big_keys * KEY_BYTES > COMPACTION_MAP_BYTES_MAX, "the map fills before k's tombstone");
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 0,
        segment_bytes: 24 << 20,
        ..LogConfig::default()
    };
    let mut manager = open(harness, config);
    let log = manager.log_mut(&partition()).expect("log");
    let mut append = |key: &[u8], value: Option<&[u8]>| {
        let record = NewRecord { key: Some(key), value, headers: vec![], timestamp_ms: WALL_MS };
        let mut batch = build_batch(&[record], BatchOptions::default());
        log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append").base_offset
    };
    assert_eq!(append(b"k", Some(b"old")), 0);
    let big_key = |index: usize| {
        let mut key = format!("{index:08}").into_bytes();
        key.resize(KEY_BYTES, b'x');
        key
    };
    for index in 0..big_keys {
        append(&big_key(index), Some(b"v"));
    }
    assert_eq!(append(b"k", None), 301);
    // 100 more roll the segment, so that the first one (holding all of the above) is cleanable.
    for index in big_keys..big_keys + 100 {
        append(&big_key(index), Some(b"v"));
    }
    assert!(log.segment_base_offsets().len() >= 2, "{:?}", log.segment_base_offsets());
    log.sync(harness.storage()).expect("sync");
    log.compact(harness.storage(), WALL_MS + 1).expect("compact");
    let kept: Vec<(i64, Option<Vec<u8>>)> = records_of(&read_all(harness, &mut manager))
        .into_iter()
        .filter(|(_, key, _)| key.as_deref() == Some(b"k"))
        .map(|(offset, _, value)| (offset, value))
        .collect();
    assert_eq!(kept, vec![(0, Some(b"old".to_vec())), (301, None)]);

    // The next pass maps on from where the full map stopped, so it sees the tombstone: the
    // old value goes. (Each pass once mapped from the first segment again and filled at the
    // same place: k stayed.) The tombstone stays, given its delete horizon; with
    // delete.retention.ms=0 the pass after drops it.
    let log = manager.log_mut(&partition()).expect("log");
    let stats = log.compact(harness.storage(), WALL_MS + 1).expect("compact");
    assert!(stats.records_removed >= 1, "{stats:?}");
    let records = records_of(&read_all(harness, &mut manager));
    let kept: Vec<&StoredRecord> =
        records.iter().filter(|(_, key, _)| key.as_deref() == Some(b"k")).collect();
    assert_eq!(kept, vec![&(301, Some(b"k".to_vec()), None)]);
    let log = manager.log_mut(&partition()).expect("log");
    log.compact(harness.storage(), WALL_MS + 1).expect("compact");
    let records = records_of(&read_all(harness, &mut manager));
    assert!(!records.iter().any(|(_, key, _)| key.as_deref() == Some(b"k")));
    // Every big key is still there, once.
    let big: Vec<i64> =
        records.iter().map(|record| record.0).filter(|&offset| offset > 0).collect();
    assert_eq!(big, (1..=big_keys as i64).chain(302..402).collect::<Vec<_>>());
}

/// Appends one record with `key`, a 300-byte value or none (a tombstone), made at
/// `timestamp_ms`; returns its offset.
fn append_keyed(
    harness: &mut dyn Harness,
    manager: &mut LogManager,
    key: &str,
    tombstone: bool,
    timestamp_ms: i64,
) -> i64 {
    use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
    let value = vec![b'v'; 300];
    let record = NewRecord {
        key: Some(key.as_bytes()),
        value: if tombstone { None } else { Some(&value) },
        headers: vec![],
        timestamp_ms,
    };
    let mut batch = build_batch(&[record], BatchOptions::default());
    let log = manager.log_mut(&partition()).expect("log");
    log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append").base_offset
}

/// The header of the stored batch holding `offset`, and the timestamp of that record.
fn stored_batch_of(bytes: &[u8], offset: i64) -> (BatchHeader, i64) {
    let mut position = 0;
    while position < bytes.len() {
        let header = BatchHeader::parse(&bytes[position..]).expect("header");
        let batch = &bytes[position..position + header.size_bytes()];
        if header.base_offset <= offset && offset <= header.last_offset() {
            let body = record_batch::records_section(&header, batch, 1 << 20).expect("body");
            for record in record_batch::Records::new(&header, &body) {
                let record = record.expect("record");
                if header.base_offset + i64::from(record.offset_delta) == offset {
                    let timestamp = header.base_timestamp.wrapping_add(record.timestamp_delta);
                    return (header, timestamp);
                }
            }
        }
        position += header.size_bytes();
    }
    panic!("no record at {offset}");
}

fn a_tombstone_is_kept_for_delete_retention_from_its_first_cleaning(harness: &mut dyn Harness) {
    // KIP-534: a tombstone made ten days ago (replayed data, a client clock behind) is still
    // kept delete.retention.ms from the first pass that keeps it, so a consumer part-way
    // through the log sees the deletion. The pass writes that delete horizon into the batch,
    // so a restart keeps it.
    use sluice_core::config::CleanupPolicy;
    const TEN_DAYS_MS: i64 = 10 * 24 * 3600 * 1000;
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 60_000,
        ..small_segments()
    };
    let mut manager = open(harness, config);
    let append = |harness: &mut dyn Harness, manager: &mut LogManager, key: &str, tombstone| {
        append_keyed(harness, manager, key, tombstone, WALL_MS - TEN_DAYS_MS)
    };
    assert_eq!(append(harness, &mut manager, "d", false), 0);
    assert_eq!(append(harness, &mut manager, "d", true), 1);
    for index in 0..10 {
        append(harness, &mut manager, &format!("f{index}"), false);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    assert!(log.cleanable_end(WALL_MS) > 1);
    log.compact(harness.storage(), WALL_MS).expect("compact");
    let keys_d = |records: Vec<StoredRecord>| -> Vec<StoredRecord> {
        records.into_iter().filter(|record| record.1.as_deref() == Some(b"d")).collect()
    };
    let bytes = read_all(harness, &mut manager);
    assert_eq!(keys_d(records_of(&bytes)), vec![(1, Some(b"d".to_vec()), None)]);
    let (header, timestamp) = stored_batch_of(&bytes, 1);
    assert_eq!(header.delete_horizon_ms(), Some(WALL_MS + 60_000));
    assert_eq!(timestamp, WALL_MS - TEN_DAYS_MS, "the record's own time is unchanged");

    // A later pass keeps the horizon it finds; a crash and a reopen keep it too.
    let log = manager.log_mut(&partition()).expect("log");
    log.compact(harness.storage(), WALL_MS + 30_000).expect("compact");
    harness.crash();
    let (mut manager, _) = reopen(harness, config);
    let bytes = read_all(harness, &mut manager);
    assert_eq!(stored_batch_of(&bytes, 1).0.delete_horizon_ms(), Some(WALL_MS + 60_000));
    let log = manager.log_mut(&partition()).expect("log");
    log.compact(harness.storage(), WALL_MS + 59_999).expect("compact");
    assert_eq!(keys_d(records_of(&read_all(harness, &mut manager))).len(), 1);
    let log = manager.log_mut(&partition()).expect("log");
    log.compact(harness.storage(), WALL_MS + 60_000).expect("compact");
    assert_eq!(keys_d(records_of(&read_all(harness, &mut manager))), vec![]);
}

fn a_producer_s_delete_horizon_is_not_stored(harness: &mut dyn Harness) {
    // A batch flagged with a delete horizon in the past would have its tombstones dropped by
    // the first pass; the flag is the cleaner's, so the log stores the batch without it.
    use sluice_core::config::CleanupPolicy;
    use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 60_000,
        ..small_segments()
    };
    let mut manager = open(harness, config);
    let record = NewRecord { key: Some(b"d"), value: None, headers: vec![], timestamp_ms: 5 };
    let mut batch = build_batch(&[record], BatchOptions::default());
    let attributes = i16::from_be_bytes([batch[21], batch[22]]) | 0x40;
    batch[21..23].copy_from_slice(&attributes.to_be_bytes());
    let crc = record_batch::compute_crc(&batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(BatchHeader::parse(&batch).expect("header").delete_horizon_ms(), Some(5));
    let log = manager.log_mut(&partition()).expect("log");
    log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append");
    let bytes = read_all(harness, &mut manager);
    let stored = record_batch::validate_stored(&bytes).expect("a valid stored batch");
    assert_eq!(stored.delete_horizon_ms(), None);
    assert_eq!(stored_batch_of(&bytes, 0).1, 5, "the record keeps its time");
}

fn compaction_is_due_by_dirty_ratio_and_compaction_lags(harness: &mut dyn Harness) {
    // Kafka's rules for when a compacted log is cleaned: min.compaction.lag.ms keeps young
    // segments out, a pass is due once the bytes written since the last pass exceed
    // min.cleanable.dirty.ratio of the cleanable log, or once such a segment has waited
    // max.compaction.lag.ms.
    use sluice_core::config::CleanupPolicy;
    use sluice_core::log::DirtyRatio;
    use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
    let config = LogConfig { cleanup_policy: CleanupPolicy::Compact, ..small_segments() };
    let mut manager = open(harness, config);
    // Batch `tag` holds one 300-byte record with a key of its own, made at WALL_MS + tag.
    let append_unique = |harness: &mut dyn Harness, manager: &mut LogManager, tag: i64| {
        let key = format!("key-{tag}").into_bytes();
        let value = vec![b'v'; 300];
        let record = NewRecord {
            key: Some(&key),
            value: Some(&value),
            headers: vec![],
            timestamp_ms: WALL_MS + tag,
        };
        let mut batch = build_batch(&[record], BatchOptions::default());
        let log = manager.log_mut(&partition()).expect("log");
        log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append");
    };
    for tag in 0..30 {
        append_unique(harness, &mut manager, tag);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 8, "{bases:?}");
    let sealed_end = *bases.last().expect("active");
    // Nothing was compacted yet: all of it is dirty.
    assert_eq!(log.cleanable_end(WALL_MS), sealed_end);
    assert!(log.compaction_due(WALL_MS));

    // min.compaction.lag.ms=1000: at WALL_MS + 1010 the segments whose batches were all made
    // by WALL_MS + 10 are cleanable, and only those.
    log.set_config(LogConfig { min_compaction_lag_ms: 1000, ..config }).expect("config");
    assert_eq!(log.cleanable_end(WALL_MS + 999), bases[0]);
    assert!(!log.compaction_due(WALL_MS + 999));
    let end = log.cleanable_end(WALL_MS + 1010);
    assert!(end > bases[0] && end <= 11 && end < sealed_end, "{end} of {bases:?}");
    assert_eq!(log.cleanable_end(WALL_MS + 1029), sealed_end);
    log.set_config(config).expect("config");

    // Every key is unique: a pass removes nothing, and the whole sealed log is clean.
    let stats = log.compact(harness.storage(), WALL_MS).expect("compact");
    assert_eq!(stats.records_removed, 0);
    assert!(!log.compaction_due(WALL_MS));
    // Four more batches seal a segment or two: far below half of the cleanable bytes.
    for tag in 30..34 {
        append_unique(harness, &mut manager, tag);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    assert!(log.cleanable_end(WALL_MS) > sealed_end);
    assert!(!log.compaction_due(WALL_MS));
    // A lower ratio makes the same bytes enough.
    let ratio = DirtyRatio::new(0.05).expect("ratio");
    log.set_config(LogConfig { min_cleanable_dirty_ratio: ratio, ..config }).expect("config");
    assert!(log.compaction_due(WALL_MS));
    // max.compaction.lag.ms counts from the first dirty segment's first batch, as Kafka
    // counts it: that of offset `sealed_end`, made at WALL_MS + sealed_end.
    let lagging = LogConfig { max_compaction_lag_ms: 5000, ..config };
    log.set_config(lagging).expect("config");
    let first = WALL_MS + sealed_end;
    assert!(!log.compaction_due(first + 4999));
    assert!(log.compaction_due(first + 5000));
    // Opened again 4 s later, after a clean stop (segments loaded from their index files) or
    // after a crash (scanned), the count goes on from the batches' times, not from the open.
    // The first dirty offset is not saved, so the whole log is dirty then: its first batch
    // (made at WALL_MS) counts, and a ratio of 1 keeps the dirty bytes from starting a pass.
    let ratio = DirtyRatio::new(1.0).expect("ratio");
    let reopened = LogConfig { min_cleanable_dirty_ratio: ratio, ..lagging };
    for clean in [true, false] {
        if clean {
            manager.close(harness.storage()).expect("close");
        }
        let mut configs = BTreeMap::new();
        configs.insert("orders".to_string(), reopened);
        let opened = LogManager::open(harness.storage(), reopened, &configs, WALL_MS + 4000);
        manager = opened.expect("reopen").0;
        let log = manager.log_mut(&partition()).expect("log");
        assert!(!log.compaction_due(WALL_MS + 4999), "clean stop: {clean}");
        assert!(log.compaction_due(WALL_MS + 5000), "clean stop: {clean}");
    }
    // A pass makes them clean: not due again, whatever the time.
    let log = manager.log_mut(&partition()).expect("log");
    log.compact(harness.storage(), WALL_MS + 5000).expect("compact");
    assert!(!log.compaction_due(WALL_MS + 100_000));
}

fn a_compacted_log_rolls_at_max_compaction_lag(harness: &mut dyn Harness) {
    // As Kafka: a compacted log's active segment rolls at max.compaction.lag.ms when that is
    // shorter than segment.ms, so its records become cleanable in time; a log that only
    // deletes keeps segment.ms.
    use sluice_core::config::CleanupPolicy;
    for (policy, rolls) in [(CleanupPolicy::Compact, true), (CleanupPolicy::Delete, false)] {
        let config = LogConfig {
            cleanup_policy: policy,
            max_compaction_lag_ms: 1000,
            ..LogConfig::default()
        };
        let mut manager = open(harness, config);
        let log = manager.log_mut(&partition()).expect("log");
        let mut batch = producer_batch(1, 10, 0, WALL_MS);
        log.append(harness.storage(), &mut batch, 1, WALL_MS).expect("append");
        let mut batch = producer_batch(1, 10, 1, WALL_MS);
        log.append(harness.storage(), &mut batch, 1, WALL_MS + 999).expect("append");
        assert_eq!(log.segment_base_offsets(), [0]);
        let mut batch = producer_batch(1, 10, 2, WALL_MS);
        log.append(harness.storage(), &mut batch, 1, WALL_MS + 1000).expect("append");
        let expected: &[i64] = if rolls { &[0, 2] } else { &[0] };
        assert_eq!(log.segment_base_offsets(), expected, "{policy:?}");
        manager.delete_log(harness.storage(), &partition()).expect("delete");
    }
}

fn records_appended_after_a_truncation_below_the_compacted_part_are_compacted_as_new(
    harness: &mut dyn Harness,
) {
    // A pass maps keys only from where the last one stopped. A truncation below that point
    // makes what is appended there new: were it taken as compacted, an expired tombstone
    // there would go while its key's older value there stayed, and the key would come back.
    use sluice_core::config::CleanupPolicy;
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 0,
        ..small_segments()
    };
    let mut manager = open(harness, config);
    let append = |harness: &mut dyn Harness, manager: &mut LogManager, key: &str, tombstone| {
        append_keyed(harness, manager, key, tombstone, WALL_MS)
    };
    for index in 0..40 {
        append(harness, &mut manager, &format!("u{index}"), false);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    log.compact(harness.storage(), WALL_MS + 1).expect("compact");
    assert!(log.cleanable_end(WALL_MS + 1) > 30);
    log.truncate_to(harness.storage(), 10, WALL_MS).expect("truncate");
    assert_eq!(append(harness, &mut manager, "a", false), 10);
    for index in 0..4 {
        append(harness, &mut manager, &format!("f{index}"), false);
    }
    assert_eq!(append(harness, &mut manager, "a", true), 15);
    for index in 4..14 {
        append(harness, &mut manager, &format!("f{index}"), false);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    assert!(log.cleanable_end(WALL_MS + 1) > 15);
    log.compact(harness.storage(), WALL_MS + 1).expect("compact");
    // The value goes; the tombstone stays for delete.retention.ms (0) from this pass, so the
    // next pass drops it.
    let records = records_of(&read_all(harness, &mut manager));
    let a: Vec<_> = records.iter().filter(|record| record.1.as_deref() == Some(b"a")).collect();
    assert_eq!(a, vec![&(15, Some(b"a".to_vec()), None)]);
    let log = manager.log_mut(&partition()).expect("log");
    log.compact(harness.storage(), WALL_MS + 1).expect("compact");
    let records = records_of(&read_all(harness, &mut manager));
    let a: Vec<_> = records.iter().filter(|record| record.1.as_deref() == Some(b"a")).collect();
    assert!(a.is_empty(), "key a is back: {a:?}");
}

fn a_compacted_segment_s_index_files_are_durable_when_the_pass_ends(harness: &mut dyn Harness) {
    // The recovery point already covers a rewritten segment, so the next open trusts its index
    // files as they are: they must not be lost or torn by a power loss right after the pass.
    use sluice_core::config::CleanupPolicy;
    let config = LogConfig { cleanup_policy: CleanupPolicy::Compact, ..small_segments() };
    let mut manager = open(harness, config);
    for tag in 0..12 {
        append(harness, &mut manager, 2, tag);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    manager.checkpoint(harness.storage()).expect("checkpoint");
    let log = manager.log_mut(&partition()).expect("log");
    let stats = log.compact(harness.storage(), WALL_MS).expect("compact");
    assert!(stats.segments_rewritten >= 2, "{stats:?}");
    let expected = read_all(harness, &mut manager);
    harness.crash();
    let (mut manager, report) = reopen(harness, config);
    let partition_report = &report.partitions[&partition()];
    assert_eq!(partition_report.indexes_rebuilt, 0, "{partition_report:?}");
    assert_eq!(read_all(harness, &mut manager), expected);
}

/// A storage that fails once, right after a compaction's rename: either the rename itself
/// (applied, then reported as failed, as a directory's EIO can leave it) or the length check
/// that follows it.
struct FailingAfterRename<'a> {
    inner: &'a mut dyn Storage,
    rename_fails: bool,
    renamed: Option<String>,
}

impl Storage for FailingAfterRename<'_> {
    fn create_dir_all(&mut self, dir: &str) -> Result<(), StorageError> {
        self.inner.create_dir_all(dir)
    }
    fn remove_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        self.inner.remove_dir(dir)
    }
    fn list(&mut self, dir: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(dir)
    }
    fn len(&mut self, path: &str) -> Result<u64, StorageError> {
        if self.renamed.as_deref() == Some(path) {
            self.renamed = None;
            return Err(StorageError::new(StorageErrorKind::Io, path, "EIO on stat (injected)"));
        }
        self.inner.len(path)
    }
    fn append(&mut self, path: &str, data: &[u8]) -> Result<(), StorageError> {
        self.inner.append(path, data)
    }
    fn read_at(&mut self, path: &str, position: u64, len: usize) -> Result<Bytes, StorageError> {
        self.inner.read_at(path, position, len)
    }
    fn sync(&mut self, path: &str) -> Result<(), StorageError> {
        self.inner.sync(path)
    }
    fn truncate(&mut self, path: &str, len: u64) -> Result<(), StorageError> {
        self.inner.truncate(path, len)
    }
    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        self.inner.remove(path)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        self.inner.rename(from, to)?;
        if self.rename_fails {
            self.rename_fails = false;
            return Err(StorageError::new(StorageErrorKind::Io, to, "EIO on rename (injected)"));
        }
        self.renamed = Some(to.to_string());
        Ok(())
    }
    fn volume(&mut self) -> Volume {
        self.inner.volume()
    }
}

/// An error at or after the rename that puts a compacted segment in place takes the log
/// offline: the file on disk is the new one, the metadata in memory the old one's. The next
/// open reads the compacted file.
fn an_error_after_a_compaction_s_rename_takes_the_log_offline(
    harness: &mut dyn Harness,
    rename_fails: bool,
) {
    use sluice_core::config::CleanupPolicy;
    let config = LogConfig { cleanup_policy: CleanupPolicy::Compact, ..small_segments() };
    let mut manager = open(harness, config);
    for tag in 0..12 {
        append(harness, &mut manager, 2, tag);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    let before = records_of(&read_all(harness, &mut manager));
    // Every batch writes key-0 and key-1: the pass empties the first segment, whose
    // rewrite is the first to be put in place.
    let second_segment: i64 = log_files(harness)
        .iter()
        .filter_map(|name| name.strip_suffix(".log"))
        .filter_map(|base| base.rsplit('/').next()?.parse().ok())
        .filter(|&base: &i64| base > 0)
        .min()
        .expect("several segments");
    let mut failing = FailingAfterRename { inner: harness.storage(), rename_fails, renamed: None };
    let log = manager.log_mut(&partition()).expect("log");
    let error = log.compact(&mut failing, WALL_MS).unwrap_err();
    assert!(matches!(error, LogError::Offline(_)), "{error:?}");
    assert!(matches!(
        log.read(harness.storage(), second_segment, 1 << 20, i64::MAX),
        Err(LogError::Offline(_))
    ));
    assert!(matches!(log.compact(harness.storage(), WALL_MS), Err(LogError::Offline(_))));
    assert!(temporary_files(harness).is_empty(), "{:?}", temporary_files(harness));
    let (mut manager, _) = reopen(harness, config);
    let after = records_of(&read_all(harness, &mut manager));
    let expected: Vec<StoredRecord> =
        before.iter().filter(|record| record.0 >= second_segment).cloned().collect();
    assert_eq!(after, expected);
}

fn an_error_in_a_compaction_s_rename_takes_the_log_offline(harness: &mut dyn Harness) {
    an_error_after_a_compaction_s_rename_takes_the_log_offline(harness, true);
}

fn an_error_just_after_a_compaction_s_rename_takes_the_log_offline(harness: &mut dyn Harness) {
    an_error_after_a_compaction_s_rename_takes_the_log_offline(harness, false);
}

/// What a pass over the records below `cleanable_end` leaves: the last record of each key.
fn compacted(records: &[StoredRecord], cleanable_end: i64) -> Vec<StoredRecord> {
    let mut last = BTreeMap::new();
    for (offset, key, _) in records.iter().filter(|record| record.0 < cleanable_end) {
        last.insert(key.clone(), *offset);
    }
    let kept = |record: &&StoredRecord| record.0 >= cleanable_end || last[&record.1] == record.0;
    records.iter().filter(kept).cloned().collect()
}

fn temporary_files(harness: &mut dyn Harness) -> Vec<String> {
    log_files(harness).into_iter().filter(|name| name.ends_with(".cleaned.tmp")).collect()
}

/// Steps of `budget` bytes until a segment's rewrite is under way; its base offset.
fn step_until_rewriting(harness: &mut dyn Harness, manager: &mut LogManager, budget: usize) -> i64 {
    for _ in 0..1000 {
        let log = manager.log_mut(&partition()).expect("log");
        let mut left = budget;
        assert!(log.compact_step(harness.storage(), WALL_MS, &mut left).expect("step").is_none());
        if let Some(name) = temporary_files(harness).first() {
            return name[..20].parse().expect("a segment's base offset");
        }
    }
    panic!("no rewrite began");
}

fn a_compaction_pass_in_steps_outlives_deletions_and_ends_at_truncations_and_crashes(
    harness: &mut dyn Harness,
) {
    use sluice_core::config::CleanupPolicy;
    let config = LogConfig { cleanup_policy: CleanupPolicy::Compact, ..small_segments() };
    let mut manager = open(harness, config);
    // Every batch holds key-0..key-2 again: a pass keeps only the last batch below its end.
    for tag in 0..40 {
        append(harness, &mut manager, 3, tag);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 10, "segments {bases:?}");
    let cleanable_end = log.cleanable_end(WALL_MS);
    assert_eq!(cleanable_end, *bases.last().expect("active"));
    let before = records_of(&read_all(harness, &mut manager));

    // A step reads about its budget, at least one batch, and tells that work is left.
    let log = manager.log_mut(&partition()).expect("log");
    let mut budget = 1;
    assert_eq!(log.compact_step(harness.storage(), WALL_MS, &mut budget).expect("step"), None);
    assert_eq!(budget, 0);
    assert!(log.compaction_in_progress() && log.compaction_due(WALL_MS));
    assert!(temporary_files(harness).is_empty(), "the key map is built first");
    // DeleteRecords removes the segment being read into the map: the pass goes on.
    log.advance_log_start_offset(harness.storage(), bases[2]).expect("delete records");
    let rewriting = step_until_rewriting(harness, &mut manager, 1);
    assert_eq!(rewriting, bases[2], "the rewrite starts at the first segment left");
    // Appends and syncs meanwhile are beyond the pass.
    append(harness, &mut manager, 3, 100);
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    // The segment being rewritten goes too: its temporary file with it, at the next step.
    log.advance_log_start_offset(harness.storage(), bases[3]).expect("delete records");
    let mut budget = 1;
    assert_eq!(log.compact_step(harness.storage(), WALL_MS, &mut budget).expect("step"), None);
    let names = temporary_files(harness);
    assert!(!names.iter().any(|name| name.starts_with(&format!("{:020}", bases[2]))), "{names:?}");
    let stats = loop {
        let log = manager.log_mut(&partition()).expect("log");
        let mut budget = 700;
        if let Some(stats) =
            log.compact_step(harness.storage(), WALL_MS, &mut budget).expect("step")
        {
            break stats;
        }
    };
    assert!(stats.segments_rewritten >= 5, "{stats:?}");
    assert!(temporary_files(harness).is_empty());
    let log = manager.log(&partition()).expect("log");
    assert!(!log.compaction_in_progress());
    // Due again only if what was synced during the pass sealed a segment (and then only
    // once the dirty bytes exceed min.cleanable.dirty.ratio).
    assert!(!log.compaction_due(WALL_MS) || log.cleanable_end(WALL_MS) > cleanable_end);
    let mut expected = compacted(&before, cleanable_end);
    expected.retain(|record| record.0 >= bases[3]);
    let after = records_of(&read_all(harness, &mut manager));
    assert_eq!(after[..expected.len()], expected[..]);
    assert_eq!(after.len(), expected.len() + 3, "the batch appended during the pass is kept");

    // A truncation ends a pass under way, and takes its temporary file away.
    for tag in 200..220 {
        append(harness, &mut manager, 3, tag);
    }
    let log = manager.log_mut(&partition()).expect("log");
    log.sync(harness.storage()).expect("sync");
    let before = records_of(&read_all(harness, &mut manager));
    step_until_rewriting(harness, &mut manager, 1);
    let log = manager.log_mut(&partition()).expect("log");
    let end = log.log_end_offset();
    log.truncate_to(harness.storage(), end - 3, WALL_MS).expect("truncate");
    let mut budget = 1;
    let ended = log.compact_step(harness.storage(), WALL_MS, &mut budget).expect("step");
    assert_eq!(ended.map(|stats| stats.segments_rewritten), Some(0));
    assert!(!log.compaction_in_progress());
    assert!(temporary_files(harness).is_empty());
    let after = records_of(&read_all(harness, &mut manager));
    assert_eq!(after[..], before[..before.len() - 3]);

    // A crash in the middle of a rewrite leaves the old segment; the open removes the stray.
    step_until_rewriting(harness, &mut manager, 1);
    harness.crash();
    let (mut manager, _) = reopen(harness, config);
    assert!(temporary_files(harness).is_empty());
    assert_eq!(records_of(&read_all(harness, &mut manager)), after);
    assert!(!manager.log(&partition()).expect("log").compaction_in_progress());
}

fn a_log_opens_directly_without_the_manager(harness: &mut dyn Harness) {
    let options = OpenOptions {
        recovery_point: 0,
        log_start_offset: Some(40),
        clean_shutdown: false,
        wall_ms: WALL_MS,
    };
    let (mut log, report) =
        sluice_core::log::Log::open(harness.storage(), "fresh-3", LogConfig::default(), options)
            .expect("open");
    assert_eq!(report.segments_scanned, 0);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (40, 40));
    let mut batch = producer_batch(1, 10, 1, WALL_MS);
    let info = log.append(harness.storage(), &mut batch, 0, WALL_MS).expect("append");
    assert_eq!(info.base_offset, 40);
    assert!(harness
        .storage()
        .list("fresh-3")
        .expect("list")
        .contains(&"00000000000000000040.log".to_string()));
}

fn a_new_log_starts_empty_even_where_a_deleted_one_left_files(harness: &mut dyn Harness) {
    // A directory no log owns is what a deletion that could not remove every file left. A new
    // partition of that name must not serve its records.
    let mut manager = open(harness, LogConfig::default());
    let options = OpenOptions {
        recovery_point: 0,
        log_start_offset: None,
        clean_shutdown: false,
        wall_ms: WALL_MS,
    };
    let (mut left, _) =
        sluice_core::log::Log::open(harness.storage(), "gone-0", LogConfig::default(), options)
            .expect("open");
    let mut batch = producer_batch(3, 10, 1, WALL_MS);
    left.append(harness.storage(), &mut batch, 0, WALL_MS).expect("append");
    drop(left);
    let gone = TopicPartition::new("gone", 0);
    let log = manager.create_log(harness.storage(), &gone, LogConfig::default(), WALL_MS);
    assert_eq!(log.expect("create").log_end_offset(), 0);
    harness.crash();
    let (manager, _) = reopen(harness, LogConfig::default());
    assert_eq!(manager.log(&gone).map(|log| log.log_end_offset()), Some(0));
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod files {
            $( #[test] fn $name() { super::$name(&mut sluice_tests::FileHarness::new()); } )*
        }
        mod sim_disk {
            $( #[test] fn $name() { super::$name(&mut sluice_tests::SimHarness::new(7)); } )*
        }
    };
}

suite!(
    appends_get_dense_offsets_and_read_back_byte_for_byte,
    reads_respect_max_bytes_and_max_offset,
    out_of_range_reads_carry_the_log_bounds,
    invalid_batches_are_refused_and_leave_the_log_untouched,
    segments_roll_with_kafka_file_names_and_indexes,
    sync_is_explicit_and_one_request_covers_many_appends,
    sync_requests_ask_each_dirty_topic_once_and_skip_the_rest,
    clean_close_reopens_without_scanning,
    unclean_open_truncates_a_torn_tail,
    bit_flips_are_caught_by_crc,
    a_sync_made_while_another_is_unfinished_syncs_its_files_too,
    truncate_removes_whole_batches_and_later_segments,
    delete_records_moves_the_start_and_survives_restart,
    retention_deletes_old_segments_but_never_the_active_one,
    offsets_are_found_by_timestamp,
    leader_epochs_are_tracked_and_checkpointed,
    a_full_disk_fails_the_append_and_leaves_no_partial_batch,
    an_fsync_error_takes_the_log_offline_for_good,
    an_offline_log_keeps_its_log_start_in_later_checkpoints,
    a_log_opens_directly_without_the_manager,
    compaction_keeps_the_last_record_per_key_at_its_offset,
    a_compaction_pass_in_steps_outlives_deletions_and_ends_at_truncations_and_crashes,
    a_new_log_starts_empty_even_where_a_deleted_one_left_files,
    a_time_index_torn_after_the_last_checkpoint_does_not_bring_retention_forward,
    a_time_index_short_of_the_batches_is_rebuilt_on_a_clean_open,
    a_scan_seals_the_time_index_of_every_segment_but_the_last,
    a_compacted_segment_s_index_files_are_durable_when_the_pass_ends,
    a_tombstone_past_the_end_of_a_full_key_map_is_kept,
    compaction_is_due_by_dirty_ratio_and_compaction_lags,
    records_appended_after_a_truncation_below_the_compacted_part_are_compacted_as_new,
    a_compacted_log_rolls_at_max_compaction_lag,
    an_error_in_a_compaction_s_rename_takes_the_log_offline,
    a_tombstone_is_kept_for_delete_retention_from_its_first_cleaning,
    a_producer_s_delete_horizon_is_not_stored,
    an_error_just_after_a_compaction_s_rename_takes_the_log_offline,
);

#[allow(dead_code)]
fn harnesses_exist() -> (FileHarness, SimHarness) {
    (FileHarness::new(), SimHarness::new(0))
}

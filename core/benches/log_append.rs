//! Log append throughput against plain file writes of the same bytes, in one run.
//!
//! `cargo bench -p sluice-core` appends 16 KiB batches of 1 KiB records to a real file through
//! the log (validation, CRC-32C, offset patching, index upkeep, the Storage trait) and writes
//! the same bytes with `std::fs` writes, then repeats both with a sync after every MiB
//! (log: group-commit sync request; plain: write + fdatasync). It prints MB/s and the ratios.
//! Not a test: nothing here asserts a duration.

use sluice_core::log::{Log, LogConfig, OpenOptions};
use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
use sluice_runtime::storage::FileStorage;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

const RECORD_BYTES: usize = 1024;
const RECORDS_PER_BATCH: usize = 16;
const MIB: usize = 1024 * 1024;

fn batch() -> Vec<u8> {
    let value = vec![b'v'; RECORD_BYTES];
    let records: Vec<NewRecord<'_>> = (0..RECORDS_PER_BATCH)
        .map(|index| NewRecord {
            key: None,
            value: Some(&value),
            headers: Vec::new(),
            timestamp_ms: 1_700_000_000_000 + index as i64,
        })
        .collect();
    build_batch(&records, BatchOptions::default())
}

/// Appends `total_bytes` through the log; syncs every `sync_every_bytes` (0: never).
fn log_run(dir: &Path, batch: &[u8], total_bytes: usize, sync_every_bytes: usize) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let mut storage = FileStorage::new(dir).expect("storage");
    let options = OpenOptions {
        recovery_point: 0,
        log_start_offset: None,
        clean_shutdown: false,
        wall_ms: 0,
    };
    let (mut log, _) =
        Log::open(&mut storage, "bench-0", LogConfig::default(), options).expect("open");
    let mut buffer = batch.to_vec();
    let count = total_bytes / batch.len();
    let mut since_sync = 0;
    let start = Instant::now();
    for _ in 0..count {
        log.append(&mut storage, &mut buffer, 0, 0).expect("append");
        since_sync += buffer.len();
        if sync_every_bytes > 0 && since_sync >= sync_every_bytes {
            log.sync(&mut storage).expect("sync");
            since_sync = 0;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    (count * batch.len()) as f64 / seconds / 1e6
}

/// Writes the same bytes with plain `write_all`; `sync_data` every `sync_every_bytes`.
fn raw_run(dir: &Path, batch: &[u8], total_bytes: usize, sync_every_bytes: usize) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("dir");
    let mut file = File::create(dir.join("raw.log")).expect("file");
    let count = total_bytes / batch.len();
    let mut since_sync = 0;
    let start = Instant::now();
    for _ in 0..count {
        file.write_all(batch).expect("write");
        since_sync += batch.len();
        if sync_every_bytes > 0 && since_sync >= sync_every_bytes {
            file.sync_data().expect("sync");
            since_sync = 0;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    (count * batch.len()) as f64 / seconds / 1e6
}

fn best_of(rounds: usize, mut run: impl FnMut() -> f64) -> f64 {
    (0..rounds).map(|_| run()).fold(0.0, f64::max)
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let scratch = tempfile::tempdir().expect("temporary directory");
    let batch = batch();
    let (buffered_bytes, synced_bytes, rounds) =
        if quick { (32 * MIB, 8 * MIB, 1) } else { (256 * MIB, 64 * MIB, 3) };
    println!(
        "log append benchmark: {} B batches of {RECORDS_PER_BATCH} x {RECORD_BYTES} B records, in {}",
        batch.len(),
        scratch.path().display()
    );
    let raw_dir = scratch.path().join("raw");
    let log_dir = scratch.path().join("log");
    // Alternate the two so page-cache writeback hits both alike; keep each one's best round.
    let mut raw = 0.0f64;
    let mut log = 0.0f64;
    for _ in 0..rounds {
        raw = raw.max(raw_run(&raw_dir, &batch, buffered_bytes, 0));
        log = log.max(log_run(&log_dir, &batch, buffered_bytes, 0));
    }
    println!("buffered   plain write {raw:8.1} MB/s   log append {log:8.1} MB/s   ratio {:.2} (target >= 0.8)", log / raw);
    let raw_synced = best_of(rounds, || raw_run(&raw_dir, &batch, synced_bytes, MIB));
    let log_synced = best_of(rounds, || log_run(&log_dir, &batch, synced_bytes, MIB));
    println!(
        "sync/MiB   write+fdatasync {raw_synced:8.1} MB/s   log append+sync {log_synced:8.1} MB/s   ratio {:.2} (target >= 0.8)",
        log_synced / raw_synced
    );
}

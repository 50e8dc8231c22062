//! Shared helpers for Sluice's cross-crate tests: one harness over both `Storage`
//! implementations, so every log test runs against real files and the simulated disk.

pub mod broker;
pub mod raw;

use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
use sluice_core::storage::Storage;
use sluice_runtime::storage::FileStorage;
use sluice_sim::disk::SimDisk;

/// A storage under test, and what "crash" means for it.
pub trait Harness {
    /// The storage.
    fn storage(&mut self) -> &mut dyn Storage;
    /// An unclean stop. Real files: the process dies, the page cache survives. Simulated disk:
    /// power loss, unsynced bytes dropped, torn or bit-flipped.
    fn crash(&mut self);
    /// Whether a crash can lose bytes that were written but not synced.
    fn crash_loses_unsynced(&self) -> bool;
    /// The simulated disk, when this harness has one.
    fn sim_disk(&mut self) -> Option<&mut SimDisk>;
}

/// Real files in a temporary directory.
pub struct FileHarness {
    dir: tempfile::TempDir,
    storage: FileStorage,
}

impl FileHarness {
    /// A fresh temporary log directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let storage = FileStorage::new(dir.path()).expect("file storage");
        Self { dir, storage }
    }
}

impl Default for FileHarness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness for FileHarness {
    fn storage(&mut self) -> &mut dyn Storage {
        &mut self.storage
    }
    fn crash(&mut self) {
        self.storage = FileStorage::new(self.dir.path()).expect("file storage");
    }
    fn crash_loses_unsynced(&self) -> bool {
        false
    }
    fn sim_disk(&mut self) -> Option<&mut SimDisk> {
        None
    }
}

/// The simulated disk.
pub struct SimHarness {
    disk: SimDisk,
}

impl SimHarness {
    /// A fresh simulated disk whose crash choices come from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { disk: SimDisk::new(seed) }
    }
}

impl Harness for SimHarness {
    fn storage(&mut self) -> &mut dyn Storage {
        &mut self.disk
    }
    fn crash(&mut self) {
        self.disk.crash();
    }
    fn crash_loses_unsynced(&self) -> bool {
        true
    }
    fn sim_disk(&mut self) -> Option<&mut SimDisk> {
        Some(&mut self.disk)
    }
}

/// An uncompressed producer batch of `count` records, values `value_bytes` long and tagged
/// with `tag` so that different batches have different bytes; timestamps start at
/// `timestamp_ms` and grow by one per record.
pub fn producer_batch(count: usize, value_bytes: usize, tag: u64, timestamp_ms: i64) -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..count)
        .map(|index| {
            let mut value = format!("{tag}:{index}:").into_bytes();
            value.resize(value_bytes.max(value.len()), b'x');
            value
        })
        .collect();
    let keys: Vec<Vec<u8>> = (0..count).map(|index| format!("key-{index}").into_bytes()).collect();
    let records: Vec<NewRecord<'_>> = (0..count)
        .map(|index| NewRecord {
            key: Some(&keys[index]),
            value: Some(&values[index]),
            headers: Vec::new(),
            timestamp_ms: timestamp_ms + index as i64,
        })
        .collect();
    build_batch(&records, BatchOptions::default())
}

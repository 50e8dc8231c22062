//! An in-memory disk with crash semantics, for the simulator and for tests.
//!
//! # Fault model
//! Each file holds its current bytes and the length of its prefix that is durable (synced).
//! - `append` and `truncate` change only the current bytes. They are lost on a crash unless a
//!   later `sync` of the same file completed.
//! - A truncation below the durable length that was not yet synced is undone by a crash: the
//!   durable bytes come back and the unsynced appends made after it are dropped.
//! - On [`SimDisk::crash`], each file's unsynced suffix, chosen by the seeded RNG, is
//!   dropped entirely, kept up to a torn point, or kept (whole or torn) with one flipped bit.
//! - Creating a file (its first `append`), `rename`, `remove`, `create_dir_all` and
//!   `remove_dir` are durable at once, as the file storage makes them by syncing the parent
//!   directory: a file never vanishes, though its unsynced bytes may.
//! - Injected faults, each from the seeded RNG at rates set in [`DiskFaults`]: `sync` fails with
//!   EIO (with [`DiskFaults::eio_forgets`], the file's unsynced bytes are then left to chance
//!   at the next [`SimDisk::process_restart`] as at a crash, until a sync of it succeeds); the
//!   disk fills up (`append` writes a prefix and fails with `NoSpace`); `sync` is slow
//!   (reported by [`SimDisk::take_sync_latency_ms`] for the simulator to delay the completion).
//!   [`SimDisk::flip_bit`] corrupts durable bytes on purpose, for bit-rot scenarios.
//!
//! Faults are injected only where a correct log can recover from them: durable bytes change
//! only through `flip_bit`, which the log detects by CRC.

use bytes::Bytes;
use sluice_core::prng::Prng;
use sluice_core::storage::{Storage, StorageError, StorageErrorKind, Volume};
use std::collections::{BTreeMap, BTreeSet};

/// The log directory the simulated disk reports (DescribeLogDirs).
pub const SIM_LOG_DIR: &str = "/sim/log-dir";

/// Rates (parts per million per operation) and bounds of injected disk faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DiskFaults {
    /// Chance that a `sync` fails with EIO.
    pub sync_error_ppm: u32,
    /// Chance that a `sync` is slow.
    pub slow_sync_ppm: u32,
    /// Latency of a slow sync, in ms.
    pub slow_sync_ms: u64,
    /// Total bytes the disk holds before `append` fails with `NoSpace`; 0 for no limit.
    pub capacity_bytes: u64,
    /// Chance that removing a file fails with EIO (the file stays).
    pub remove_error_ppm: u32,
    /// Chance that a rename fails with EIO: half the time before the directory changed, half
    /// after (the new name in place, the error reported anyway).
    pub rename_error_ppm: u32,
    /// The next this many renames fail with EIO after taking effect, whatever the rate (a
    /// scripted fault for tests).
    pub renames_failing_after: u32,
    /// The next this many renames fail with EIO before taking effect, whatever the rate,
    /// once `renames_failing_after` is used up (a scripted fault for tests).
    pub renames_failing_before: u32,
    /// Whether a failed `sync` also exposes the file's unsynced bytes to a process restart
    /// ([`SimDisk::process_restart`]): the kernel may have marked the dirty pages clean
    /// without writing them, so they are gone once the page cache lets them go.
    pub eio_forgets: bool,
}

/// What a crash did to unsynced data, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CrashReport {
    /// Files whose unsynced suffix was dropped.
    pub dropped: u32,
    /// Files whose unsynced suffix was kept up to a torn point.
    pub torn: u32,
    /// Files that kept a suffix with one flipped bit.
    pub flipped: u32,
    /// Files whose unsynced truncation was undone.
    pub untruncated: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct SimFile {
    data: Vec<u8>,
    /// `data[..durable_len]` is on disk.
    durable_len: usize,
    /// Durable bytes beyond `durable_len` that an unsynced truncation cut away.
    truncated_durable: Option<Vec<u8>>,
    /// A sync failed since the last one that succeeded, under [`DiskFaults::eio_forgets`].
    forgotten: bool,
}

/// The in-memory disk. See the module docs for its fault model.
#[derive(Clone, Debug)]
pub struct SimDisk {
    files: BTreeMap<String, SimFile>,
    dirs: BTreeSet<String>,
    prng: Prng,
    faults: DiskFaults,
    sync_latency_ms: u64,
    syncs: u64,
    bytes_read: u64,
}

impl SimDisk {
    /// An empty disk whose every random choice comes from `seed`, with no injected faults.
    pub fn new(seed: u64) -> Self {
        let mut dirs = BTreeSet::new();
        dirs.insert(String::new());
        Self {
            files: BTreeMap::new(),
            dirs,
            prng: Prng::new(seed),
            faults: DiskFaults::default(),
            sync_latency_ms: 0,
            syncs: 0,
            bytes_read: 0,
        }
    }

    /// Sets the injected fault rates.
    pub fn set_faults(&mut self, faults: DiskFaults) {
        self.faults = faults;
    }

    /// The injected fault rates.
    pub fn faults(&self) -> DiskFaults {
        self.faults
    }

    /// Bytes `read_at` returned so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Number of successful syncs so far.
    pub fn sync_count(&self) -> u64 {
        self.syncs
    }

    /// Total latency of the syncs since the last call, in ms: what the simulator adds before it
    /// reports a sync complete.
    pub fn take_sync_latency_ms(&mut self) -> u64 {
        std::mem::take(&mut self.sync_latency_ms)
    }

    /// Bytes stored, over all files.
    pub fn used_bytes(&self) -> u64 {
        self.files.values().map(|file| file.data.len() as u64).sum()
    }

    /// The whole current content of a file, for checkers.
    pub fn contents(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|file| file.data.as_slice())
    }

    /// Power loss: every file loses or tears its unsynced bytes, as the module docs describe.
    /// Afterwards every surviving byte counts as durable.
    pub fn crash(&mut self) -> CrashReport {
        let mut report = CrashReport::default();
        for file in self.files.values_mut() {
            lose_unsynced(file, &mut self.prng, &mut report);
        }
        report
    }

    /// The process restarts without power loss: written bytes stay, except in files whose
    /// sync failed under [`DiskFaults::eio_forgets`] and has not succeeded since, which meet
    /// a crash's fate: an unsynced truncation is undone, or the unsynced bytes are dropped,
    /// torn or kept. (A later sync that succeeds makes them durable, more kindly than Linux,
    /// which does not write pages again once it has marked them clean: a storage layer that
    /// retried a failed fsync and trusted it would go unnoticed. The broker takes the log
    /// offline at the first failure instead.)
    pub fn process_restart(&mut self) -> CrashReport {
        let mut report = CrashReport::default();
        for file in self.files.values_mut().filter(|file| file.forgotten) {
            lose_unsynced(file, &mut self.prng, &mut report);
        }
        report
    }

    /// Flips one bit of a file's durable bytes (bit rot), at `position`.
    pub fn flip_bit(&mut self, path: &str, position: usize, bit: u8) -> bool {
        let Some(file) = self.files.get_mut(path) else { return false };
        if position >= file.data.len() {
            return false;
        }
        file.data[position] ^= 1 << (bit % 8);
        true
    }

    fn file(&mut self, path: &str) -> Result<&mut SimFile, StorageError> {
        self.files
            .get_mut(path)
            .ok_or_else(|| StorageError::new(StorageErrorKind::NotFound, path, "no such file"))
    }

    fn parent_exists(&self, path: &str) -> bool {
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        self.dirs.contains(parent)
    }
}

/// A crash's fate for one file's unsynced bytes (see the module docs): an unsynced
/// truncation is undone; otherwise the unsynced suffix is dropped, torn, torn with a flipped
/// bit, or kept, one time in four each. Afterwards every byte left counts as durable.
fn lose_unsynced(file: &mut SimFile, prng: &mut Prng, report: &mut CrashReport) {
    file.forgotten = false;
    if let Some(durable_tail) = file.truncated_durable.take() {
        file.data.truncate(file.durable_len);
        file.data.extend_from_slice(&durable_tail);
        file.durable_len = file.data.len();
        report.untruncated += 1;
        return;
    }
    let unsynced = file.data.len() - file.durable_len;
    if unsynced > 0 {
        match prng.below(4) {
            0 => {
                file.data.truncate(file.durable_len);
                report.dropped += 1;
            }
            1 => {
                let keep = prng.below(unsynced as u64 + 1) as usize;
                file.data.truncate(file.durable_len + keep);
                report.torn += 1;
            }
            2 => {
                let keep = 1 + prng.below(unsynced as u64) as usize;
                file.data.truncate(file.durable_len + keep);
                let at = file.durable_len + prng.below(keep as u64) as usize;
                file.data[at] ^= 1 << prng.below(8);
                report.flipped += 1;
            }
            _ => {}
        }
    }
    file.durable_len = file.data.len();
}

impl Storage for SimDisk {
    fn create_dir_all(&mut self, dir: &str) -> Result<(), StorageError> {
        let mut prefix = String::new();
        for part in dir.split('/').filter(|part| !part.is_empty()) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            self.dirs.insert(prefix.clone());
        }
        Ok(())
    }

    fn remove_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        let prefix = format!("{dir}/");
        let occupied = self.files.keys().any(|path| path.starts_with(&prefix))
            || self.dirs.iter().any(|other| other.starts_with(&prefix));
        if occupied {
            return Err(StorageError::new(StorageErrorKind::Io, dir, "directory not empty"));
        }
        if !self.dirs.remove(dir) {
            return Err(StorageError::new(StorageErrorKind::NotFound, dir, "no such directory"));
        }
        Ok(())
    }

    fn list(&mut self, dir: &str) -> Result<Vec<String>, StorageError> {
        if !self.dirs.contains(dir) {
            return Err(StorageError::new(StorageErrorKind::NotFound, dir, "no such directory"));
        }
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        let mut names = BTreeSet::new();
        let paths = self.files.keys().chain(self.dirs.iter());
        for path in paths.filter(|path| path.starts_with(&prefix) && path.len() > prefix.len()) {
            let rest = &path[prefix.len()..];
            names.insert(rest.split('/').next().unwrap_or(rest).to_string());
        }
        Ok(names.into_iter().collect())
    }

    fn len(&mut self, path: &str) -> Result<u64, StorageError> {
        Ok(self.file(path)?.data.len() as u64)
    }

    fn append(&mut self, path: &str, data: &[u8]) -> Result<(), StorageError> {
        self.append_parts(path, &[data])
    }

    fn append_parts(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        let capacity = self.faults.capacity_bytes;
        let mut free =
            if capacity == 0 { u64::MAX } else { capacity.saturating_sub(self.used_bytes()) };
        // A file's directory exists while the file does (`remove_dir` refuses a non-empty one
        // and `rename` a missing one), so only a new file needs its directory looked up. (One
        // lookup on the common path: an append to a file that exists.)
        let file = match self.files.get_mut(path) {
            Some(file) => file,
            None => {
                if !self.parent_exists(path) {
                    let detail = "no parent directory";
                    return Err(StorageError::new(StorageErrorKind::NotFound, path, detail));
                }
                self.files.entry(path.to_string()).or_default()
            }
        };
        for part in parts {
            if part.len() as u64 > free {
                file.data.extend_from_slice(&part[..free as usize]);
                let detail = "no space left on device";
                return Err(StorageError::new(StorageErrorKind::NoSpace, path, detail));
            }
            file.data.extend_from_slice(part);
            free -= part.len() as u64;
        }
        Ok(())
    }

    fn read_at(&mut self, path: &str, position: u64, len: usize) -> Result<Bytes, StorageError> {
        let file = self.file(path)?;
        let start = (position as usize).min(file.data.len());
        let end = start.saturating_add(len).min(file.data.len());
        let bytes = Bytes::copy_from_slice(&file.data[start..end]);
        self.bytes_read += bytes.len() as u64;
        Ok(bytes)
    }

    fn sync(&mut self, path: &str) -> Result<(), StorageError> {
        let error_ppm = self.faults.sync_error_ppm;
        if error_ppm > 0 && self.prng.chance(error_ppm) {
            let forgets = self.faults.eio_forgets;
            let file = self.file(path)?;
            file.forgotten |= forgets;
            return Err(StorageError::new(StorageErrorKind::Io, path, "EIO on fsync (injected)"));
        }
        let slow_ppm = self.faults.slow_sync_ppm;
        if slow_ppm > 0 && self.prng.chance(slow_ppm) {
            self.sync_latency_ms += self.faults.slow_sync_ms;
        }
        let file = self.file(path)?;
        file.durable_len = file.data.len();
        file.truncated_durable = None;
        file.forgotten = false;
        self.syncs += 1;
        Ok(())
    }

    fn truncate(&mut self, path: &str, len: u64) -> Result<(), StorageError> {
        let file = self.file(path)?;
        let len = len as usize;
        if len > file.data.len() {
            return Err(StorageError::new(StorageErrorKind::Io, path, "truncate beyond the end"));
        }
        if len < file.durable_len {
            let mut cut = file.data[len..file.durable_len].to_vec();
            if let Some(older) = file.truncated_durable.take() {
                cut.extend_from_slice(&older);
            }
            file.truncated_durable = Some(cut);
            file.durable_len = len;
        }
        file.data.truncate(len);
        Ok(())
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        let error_ppm = self.faults.remove_error_ppm;
        if error_ppm > 0 && self.files.contains_key(path) && self.prng.chance(error_ppm) {
            return Err(StorageError::new(StorageErrorKind::Io, path, "EIO on unlink (injected)"));
        }
        self.files
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| StorageError::new(StorageErrorKind::NotFound, path, "no such file"))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        if !self.parent_exists(to) {
            return Err(StorageError::new(StorageErrorKind::NotFound, to, "no parent directory"));
        }
        let file = self
            .files
            .remove(from)
            .ok_or_else(|| StorageError::new(StorageErrorKind::NotFound, from, "no such file"))?;
        if self.faults.renames_failing_after > 0 {
            self.faults.renames_failing_after -= 1;
            self.files.insert(to.to_string(), file);
            let detail = "EIO on rename after the rename (scripted)";
            return Err(StorageError::new(StorageErrorKind::Io, to, detail));
        }
        if self.faults.renames_failing_before > 0 {
            self.faults.renames_failing_before -= 1;
            self.files.insert(from.to_string(), file);
            return Err(StorageError::new(StorageErrorKind::Io, to, "EIO on rename (scripted)"));
        }
        let error_ppm = self.faults.rename_error_ppm;
        let failed = error_ppm > 0 && self.prng.chance(error_ppm);
        if failed && self.prng.chance(500_000) {
            self.files.insert(from.to_string(), file);
            return Err(StorageError::new(StorageErrorKind::Io, to, "EIO on rename (injected)"));
        }
        self.files.insert(to.to_string(), file);
        if failed {
            return Err(StorageError::new(
                StorageErrorKind::Io,
                to,
                "EIO on rename after the rename (injected)",
            ));
        }
        Ok(())
    }

    /// A fixed name; the room is the disk-full fault's capacity, unknown when unlimited.
    fn volume(&mut self) -> Volume {
        let capacity = self.faults.capacity_bytes;
        let known = (capacity > 0).then_some(capacity);
        Volume {
            path: SIM_LOG_DIR.to_string(),
            total_bytes: known,
            usable_bytes: known.map(|capacity| capacity.saturating_sub(self.used_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_bytes_survive_a_crash_and_unsynced_ones_may_not() {
        // Goal: whatever the RNG picks, a crash keeps every synced byte and never invents any.
        for seed in 0..64 {
            let mut disk = SimDisk::new(seed);
            disk.append("a", b"durable").unwrap();
            disk.sync("a").unwrap();
            disk.append("a", b"-volatile").unwrap();
            disk.crash();
            let content = disk.contents("a").unwrap().to_vec();
            assert!(content.starts_with(b"durable"));
            assert!(content.len() <= b"durable-volatile".len());
        }
    }

    #[test]
    fn unsynced_truncation_is_undone_by_a_crash() {
        let mut disk = SimDisk::new(1);
        disk.append("a", b"0123456789").unwrap();
        disk.sync("a").unwrap();
        disk.truncate("a", 4).unwrap();
        disk.append("a", b"xy").unwrap();
        assert_eq!(disk.contents("a").unwrap(), b"0123xy");
        let report = disk.crash();
        assert_eq!(report.untruncated, 1);
        assert_eq!(disk.contents("a").unwrap(), b"0123456789");
        disk.truncate("a", 4).unwrap();
        disk.sync("a").unwrap();
        disk.crash();
        assert_eq!(disk.contents("a").unwrap(), b"0123");
    }

    #[test]
    fn injected_faults_fire_from_the_seed() {
        let mut disk = SimDisk::new(3);
        disk.set_faults(DiskFaults {
            sync_error_ppm: 1_000_000,
            capacity_bytes: 8,
            ..Default::default()
        });
        disk.append("a", b"12345").unwrap();
        let full = disk.append("a", b"6789").unwrap_err();
        assert_eq!(full.kind, StorageErrorKind::NoSpace);
        assert_eq!(disk.contents("a").unwrap(), b"12345678");
        assert_eq!(disk.sync("a").unwrap_err().kind, StorageErrorKind::Io);
        disk.create_dir_all("t-0").unwrap();
        disk.set_faults(DiskFaults::default());
        disk.append("t-0/x", b"").unwrap();
        assert_eq!(disk.list("").unwrap(), vec!["a".to_string(), "t-0".to_string()]);
        assert_eq!(disk.list("t-0").unwrap(), vec!["x".to_string()]);
    }

    #[test]
    fn a_process_restart_keeps_written_bytes_unless_their_sync_failed_under_eio_forgets() {
        // Goal: a process restart keeps every written byte, except where a sync failed with
        // `eio_forgets` and none succeeded since: there the unsynced suffix meets a crash's
        // fate. Over seeds, each fate shows up, and synced bytes always stay.
        let mut fates = CrashReport::default();
        for seed in 0..64 {
            let mut disk = SimDisk::new(seed);
            for file in ["kept", "failed", "failed-then-synced", "failed-quietly"] {
                disk.append(file, b"durable").unwrap();
                disk.sync(file).unwrap();
                disk.append(file, b"-unsynced").unwrap();
            }
            let failing = DiskFaults { sync_error_ppm: 1_000_000, ..Default::default() };
            disk.set_faults(DiskFaults { eio_forgets: true, ..failing });
            disk.sync("failed").unwrap_err();
            disk.sync("failed-then-synced").unwrap_err();
            disk.set_faults(failing);
            disk.sync("failed-quietly").unwrap_err();
            disk.set_faults(DiskFaults::default());
            disk.sync("failed-then-synced").unwrap();
            let report = disk.process_restart();
            for file in ["kept", "failed-then-synced", "failed-quietly"] {
                assert_eq!(disk.contents(file).unwrap(), b"durable-unsynced", "{file}");
            }
            let failed = disk.contents("failed").unwrap();
            assert!(failed.starts_with(b"durable") && failed.len() <= 16, "{failed:?}");
            assert!(report.dropped + report.torn + report.flipped <= 1, "{report:?}");
            fates.dropped += report.dropped;
            fates.torn += report.torn;
            fates.flipped += report.flipped;
            // What the restart left is durable now: a later one changes nothing.
            let left = failed.to_vec();
            assert_eq!(disk.process_restart(), CrashReport::default());
            assert_eq!(disk.contents("failed").unwrap(), &left[..]);
        }
        assert!(fates.dropped > 0 && fates.torn > 0 && fates.flipped > 0, "{fates:?}");
    }

    #[test]
    fn a_file_lives_only_in_a_directory_that_exists() {
        let mut disk = SimDisk::new(4);
        let missing = disk.append("t-0/x", b"1").unwrap_err();
        assert_eq!(missing.kind, StorageErrorKind::NotFound);
        disk.create_dir_all("t-0").unwrap();
        disk.append_parts("t-0/x", &[b"12", b"34"]).unwrap();
        assert_eq!(disk.rename("t-0/x", "t-1/x").unwrap_err().kind, StorageErrorKind::NotFound);
        assert_eq!(disk.remove_dir("t-0").unwrap_err().kind, StorageErrorKind::Io);
        disk.rename("t-0/x", "y").unwrap();
        disk.append("y", b"5").unwrap();
        assert_eq!(disk.contents("y").unwrap(), b"12345");
        disk.remove_dir("t-0").unwrap();
        assert_eq!(disk.append("t-0/x", b"1").unwrap_err().kind, StorageErrorKind::NotFound);
    }

    #[test]
    fn a_full_disk_keeps_the_prefix_of_the_parts_that_fit() {
        let mut disk = SimDisk::new(5);
        disk.set_faults(DiskFaults { capacity_bytes: 5, ..Default::default() });
        let full = disk.append_parts("a", &[b"123", b"456"]).unwrap_err();
        assert_eq!(full.kind, StorageErrorKind::NoSpace);
        assert_eq!(disk.contents("a").unwrap(), b"12345");
    }
}

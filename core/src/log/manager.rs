//! All partition logs of one log directory, and the directory-level files Kafka keeps beside
//! them: `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`, and the
//! `.kafka_cleanshutdown` marker that lets the next start skip recovery.
//!
//! The marker is written last on a clean close and removed first on open, so any stop that is
//! not a completed `close` leads to a recovery scan.

use super::checkpoint;
use super::{Log, LogConfig, LogError, OpenOptions, RecoveryReport, SyncRequest, TopicPartition};
use crate::limits::{CHECKPOINT_FILE_BYTES_MAX, PARTITIONS_PER_LOG_DIR_MAX};
use crate::storage::{self, Storage, StorageError, StorageErrorKind};
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
const LOG_START_CHECKPOINT: &str = "log-start-offset-checkpoint";
const CLEAN_SHUTDOWN_MARKER: &str = ".kafka_cleanshutdown";

/// What opening a log directory found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagerOpenReport {
    /// Whether the previous process closed the directory cleanly.
    pub clean_shutdown: bool,
    /// Per partition, what its open did.
    pub partitions: BTreeMap<TopicPartition, RecoveryReport>,
}

/// The logs of one directory. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogManager {
    logs: BTreeMap<TopicPartition, Log>,
}

impl LogManager {
    /// Opens every partition directory under the storage root, recovering after an unclean
    /// stop, then rewrites the checkpoints. `configs` gives each topic's settings; topics not
    /// in it get `default_config`.
    pub fn open<S: Storage + ?Sized>(
        storage: &mut S,
        default_config: LogConfig,
        configs: &BTreeMap<String, LogConfig>,
        wall_ms: i64,
    ) -> Result<(Self, ManagerOpenReport), LogError> {
        storage.create_dir_all("")?;
        let clean_shutdown = storage::exists(storage, CLEAN_SHUTDOWN_MARKER)?;
        if clean_shutdown {
            storage.remove(CLEAN_SHUTDOWN_MARKER)?;
        }
        let recovery_points = read_offsets(storage, RECOVERY_POINT_CHECKPOINT)?;
        let log_starts = read_offsets(storage, LOG_START_CHECKPOINT)?;
        let mut manager = Self { logs: BTreeMap::new() };
        let mut report = ManagerOpenReport { clean_shutdown, partitions: BTreeMap::new() };
        for name in storage.list("")? {
            let Some(partition) = TopicPartition::parse_dir_name(&name) else { continue };
            if manager.logs.len() >= PARTITIONS_PER_LOG_DIR_MAX {
                return Err(LogError::Storage(StorageError::new(
                    StorageErrorKind::Io,
                    &name,
                    "more partitions than PARTITIONS_PER_LOG_DIR_MAX",
                )));
            }
            // Without a checkpointed recovery point the whole partition is scanned.
            let recovery_point = recovery_points.get(&partition).copied();
            let options = OpenOptions {
                recovery_point: recovery_point.unwrap_or(0),
                log_start_offset: log_starts.get(&partition).copied(),
                clean_shutdown: clean_shutdown && recovery_point.is_some(),
                wall_ms,
            };
            let config = configs.get(&partition.topic).copied().unwrap_or(default_config);
            let (log, partition_report) = Log::open(storage, &name, config, options)?;
            report.partitions.insert(partition.clone(), partition_report);
            manager.logs.insert(partition, log);
        }
        manager.checkpoint(storage)?;
        Ok((manager, report))
    }

    /// The log of `partition`.
    pub fn log(&self, partition: &TopicPartition) -> Option<&Log> {
        self.logs.get(partition)
    }

    /// The log of `partition`, mutably.
    pub fn log_mut(&mut self, partition: &TopicPartition) -> Option<&mut Log> {
        self.logs.get_mut(partition)
    }

    /// Every partition, in order.
    pub fn partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.logs.keys()
    }

    /// Creates the log of `partition`, empty. Every directory found at open has its log, so
    /// a directory without one is what a deletion that could not remove every file left: its
    /// files are removed first (an error if they cannot be), so that a new partition never
    /// serves a deleted one's records.
    pub fn create_log<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        partition: &TopicPartition,
        config: LogConfig,
        wall_ms: i64,
    ) -> Result<&mut Log, LogError> {
        if !self.logs.contains_key(partition) {
            self.create_unsaved(storage, partition, config, wall_ms)?;
            self.checkpoint(storage)?;
        }
        Ok(self.logs.get_mut(partition).expect("inserted above"))
    }

    /// [`LogManager::create_log`] for many partitions, all or none, with one checkpoint for
    /// them all (one per partition made a topic of thousands take minutes of fsyncs). On an
    /// error the logs made so far are deleted again.
    pub fn create_logs<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        partitions: &[TopicPartition],
        config: LogConfig,
        wall_ms: i64,
    ) -> Result<(), LogError> {
        let mut made = Vec::new();
        let result = partitions
            .iter()
            .try_for_each(|partition| {
                if self.create_unsaved(storage, partition, config, wall_ms)? {
                    made.push(partition.clone());
                }
                Ok(())
            })
            .and_then(|()| self.checkpoint(storage));
        if result.is_err() {
            // Best effort: a directory left behind is removed by the next creation or start.
            let _ = self.delete_logs(storage, &made);
        }
        result
    }

    /// Creates the log of `partition` unless it has one; whether it made one.
    fn create_unsaved<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        partition: &TopicPartition,
        config: LogConfig,
        wall_ms: i64,
    ) -> Result<bool, LogError> {
        if self.logs.contains_key(partition) {
            return Ok(false);
        }
        if self.logs.len() >= PARTITIONS_PER_LOG_DIR_MAX {
            return Err(LogError::Storage(StorageError::new(
                StorageErrorKind::NoSpace,
                &partition.dir_name(),
                "more partitions than PARTITIONS_PER_LOG_DIR_MAX",
            )));
        }
        let options = OpenOptions {
            recovery_point: 0,
            log_start_offset: None,
            clean_shutdown: false,
            wall_ms,
        };
        let dir = partition.dir_name();
        remove_leftover(storage, &dir)?;
        let log = match Log::open(storage, &dir, config, options) {
            Ok((log, _)) => log,
            Err(error) => {
                // Leave no half-made partition behind for the next start to find.
                remove_partial_dir(storage, &dir);
                return Err(error);
            }
        };
        self.logs.insert(partition.clone(), log);
        Ok(true)
    }

    /// Deletes the log of `partition` and its files. The files go first: once the caller has
    /// forgotten the partition (a deleted topic), a failed checkpoint must not leave its
    /// records on disk for a restart to adopt or a new partition of that name to open. A
    /// checkpoint that still names the removed partition is harmless: open skips it.
    pub fn delete_log<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        partition: &TopicPartition,
    ) -> Result<bool, LogError> {
        let Some(log) = self.logs.remove(partition) else { return Ok(false) };
        log.delete(storage)?;
        self.checkpoint(storage)?;
        Ok(true)
    }

    /// [`LogManager::delete_log`] for many partitions, with one checkpoint after them all.
    /// Returns the partitions whose files could not all be removed, with the error (and the
    /// checkpoint's error, if it failed, with no partition).
    pub fn delete_logs<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        partitions: &[TopicPartition],
    ) -> Vec<(Option<TopicPartition>, LogError)> {
        let mut failed = Vec::new();
        for partition in partitions {
            if let Some(log) = self.logs.remove(partition) {
                if let Err(error) = log.delete(storage) {
                    failed.push((Some(partition.clone()), LogError::from(error)));
                }
            }
        }
        if let Err(error) = self.checkpoint(storage) {
            failed.push((None, error));
        }
        failed
    }

    /// Removes the directory of `partition` and its files, which no log owns (what a
    /// deletion that could not remove everything left). Nothing to do is fine.
    pub fn remove_leftover<S: Storage + ?Sized>(
        &self,
        storage: &mut S,
        partition: &TopicPartition,
    ) -> Result<(), LogError> {
        assert!(!self.logs.contains_key(partition), "{partition} has a log");
        let dir = partition.dir_name();
        remove_leftover(storage, &dir)?;
        match storage.remove_dir(&dir) {
            Err(error) if error.kind != StorageErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }

    /// Truncates `partition` to `offset` and checkpoints at once: the recovery point may have
    /// moved down, and a stale checkpoint would let a crash skip scanning unsynced bytes.
    pub fn truncate_to<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        partition: &TopicPartition,
        offset: i64,
        wall_ms: i64,
    ) -> Result<(), LogError> {
        let log = self.logs.get_mut(partition).ok_or_else(|| unknown(partition))?;
        log.truncate_to(storage, offset, wall_ms)?;
        self.checkpoint(storage)
    }

    /// DeleteRecords for `partition`, checkpointing the new log start at once.
    pub fn delete_records<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        partition: &TopicPartition,
        offset: i64,
    ) -> Result<i64, LogError> {
        let log = self.logs.get_mut(partition).ok_or_else(|| unknown(partition))?;
        log.advance_log_start_offset(storage, offset)?;
        let low_watermark = log.log_start_offset();
        self.checkpoint(storage)?;
        Ok(low_watermark)
    }

    /// The partitions whose logs retention would delete segments of now, each with the base
    /// offset of the first segment it would keep (where the log will start).
    pub fn retention_due(&self, wall_ms: i64) -> Vec<(TopicPartition, i64)> {
        let mut due = Vec::new();
        for (partition, log) in &self.logs {
            let count = log.retention_due(wall_ms);
            if count > 0 {
                due.push((partition.clone(), log.segment_base_offsets()[count]));
            }
        }
        due
    }

    /// Runs retention on one log, without a checkpoint. Returns the number of segments deleted.
    pub fn apply_retention_to<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        partition: &TopicPartition,
        wall_ms: i64,
    ) -> Result<usize, LogError> {
        let log = self.logs.get_mut(partition).ok_or_else(|| unknown(partition))?;
        log.apply_retention(storage, wall_ms)
    }

    /// Runs retention on every log; checkpoints if anything was deleted. Returns the number of
    /// segments deleted.
    pub fn apply_retention<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        wall_ms: i64,
    ) -> Result<usize, LogError> {
        let mut deleted = 0;
        for log in self.logs.values_mut() {
            if log.offline_reason().is_none() {
                deleted += log.apply_retention(storage, wall_ms)?;
            }
        }
        if deleted > 0 {
            self.checkpoint(storage)?;
        }
        Ok(deleted)
    }

    /// The partitions whose compaction pass could do work now ([`Log::compaction_due`]).
    pub fn compaction_due(&self, wall_ms: i64) -> Vec<TopicPartition> {
        let due = self.logs.iter().filter(|(_, log)| log.compaction_due(wall_ms));
        due.map(|(partition, _)| partition.clone()).collect()
    }

    /// One sync request per log with unsynced data (group commit across the directory).
    pub fn sync_requests(&mut self) -> Vec<(TopicPartition, SyncRequest)> {
        self.sync_requests_where(|_| true)
    }

    /// [`LogManager::sync_requests`] for the partitions of the topics `include_topic` accepts.
    pub fn sync_requests_where(
        &mut self,
        mut include_topic: impl FnMut(&str) -> bool,
    ) -> Vec<(TopicPartition, SyncRequest)> {
        // Called after every request, so it must cost little per partition: a log with nothing
        // to sync costs one check and no lookup; a topic is asked about at its first log that
        // has something to sync; a refused topic (page-cache mode, where every log that took
        // data stays dirty until the checkpoint) is skipped as one range of the map, which is
        // ordered by topic.
        let mut requests = Vec::new();
        let mut resume_after: Option<TopicPartition> = None;
        loop {
            let logs = match &resume_after {
                None => self.logs.range_mut::<TopicPartition, _>(..),
                Some(last) => self.logs.range_mut((Excluded(last), Unbounded)),
            };
            let mut accepted: Option<&str> = None;
            let mut refused: Option<TopicPartition> = None;
            for (partition, log) in logs {
                if !log.needs_sync() {
                    continue;
                }
                if accepted != Some(partition.topic.as_str()) {
                    if !include_topic(&partition.topic) {
                        let topic = partition.topic.clone();
                        refused = Some(TopicPartition { topic, partition: i32::MAX });
                        break;
                    }
                    accepted = Some(&partition.topic);
                }
                if let Some(request) = log.sync_request() {
                    requests.push((partition.clone(), request));
                }
            }
            match refused {
                Some(last) => resume_after = Some(last),
                None => return requests,
            }
        }
    }

    /// Writes the recovery-point checkpoint for every online log, and the log-start checkpoint
    /// for every log. An offline log's recovery point is left out, so the next start scans
    /// it whole; its log start stays, or the next start would serve again what DeleteRecords
    /// or retention deleted (the log start would fall back to the first segment's base).
    pub fn checkpoint<S: Storage + ?Sized>(&self, storage: &mut S) -> Result<(), LogError> {
        let mut recovery_points = BTreeMap::new();
        let mut log_starts = BTreeMap::new();
        for (partition, log) in &self.logs {
            if log.offline_reason().is_none() {
                recovery_points.insert(partition.clone(), log.recovery_point());
            }
            log_starts.insert(partition.clone(), log.log_start_offset());
        }
        let recovery_bytes = checkpoint::encode_offsets(&recovery_points);
        storage::write_file_atomic(storage, RECOVERY_POINT_CHECKPOINT, &recovery_bytes)?;
        let start_bytes = checkpoint::encode_offsets(&log_starts);
        storage::write_file_atomic(storage, LOG_START_CHECKPOINT, &start_bytes)?;
        Ok(())
    }

    /// Clean shutdown: closes (syncs) every log, checkpoints, then writes the marker. If any
    /// log is offline the marker is not written, so the next start recovers.
    pub fn close<S: Storage + ?Sized>(&mut self, storage: &mut S) -> Result<(), LogError> {
        let mut first_error = None;
        for log in self.logs.values_mut() {
            if let Err(error) = log.close(storage) {
                first_error.get_or_insert(error);
            }
        }
        self.checkpoint(storage)?;
        if let Some(error) = first_error {
            return Err(error);
        }
        storage.append(CLEAN_SHUTDOWN_MARKER, &[])?;
        storage.sync(CLEAN_SHUTDOWN_MARKER)?;
        Ok(())
    }
}

/// Removes every file in `dir`, if it exists.
fn remove_leftover<S: Storage + ?Sized>(storage: &mut S, dir: &str) -> Result<(), StorageError> {
    match storage.list(dir) {
        Ok(names) => names.iter().try_for_each(|name| storage.remove(&format!("{dir}/{name}"))),
        Err(error) if error.kind == StorageErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Best-effort removal of a directory and its files after a failed creation.
fn remove_partial_dir<S: Storage + ?Sized>(storage: &mut S, dir: &str) {
    if let Ok(names) = storage.list(dir) {
        for name in names {
            let _ = storage.remove(&format!("{dir}/{name}"));
        }
    }
    let _ = storage.remove_dir(dir);
}

fn unknown(partition: &TopicPartition) -> LogError {
    LogError::Storage(StorageError::new(
        StorageErrorKind::NotFound,
        &partition.dir_name(),
        "no such log",
    ))
}

fn read_offsets<S: Storage + ?Sized>(
    storage: &mut S,
    path: &str,
) -> Result<BTreeMap<TopicPartition, i64>, StorageError> {
    let Some(bytes) = storage::read_small_file(storage, path, CHECKPOINT_FILE_BYTES_MAX)? else {
        return Ok(BTreeMap::new());
    };
    // A damaged checkpoint means: recover everything from scratch, which is always safe.
    Ok(checkpoint::decode_offsets(&bytes).unwrap_or_default())
}

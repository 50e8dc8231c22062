//! Snapshots of idempotent-producer state, so a restart does not read every batch header of
//! every partition (as Kafka keeps `<offset>.snapshot` files beside the segments).
//!
//! `<partition dir>/<20-digit offset>.snapshot` holds [`ProducerState::encode_snapshot`] of
//! the state after every batch below that offset. Every snapshot is synced (written to a
//! temporary file, synced, renamed), so each costs an fsync on the node's task; they are
//! written:
//! - at the offset checkpoint (`log.flush.offset.checkpoint.interval.ms`) for the partitions
//!   that rolled a segment since their newest snapshot (Kafka snapshots at each roll), so a
//!   restart after a crash reads at most about one segment of batch headers;
//! - at a clean shutdown, for every partition whose state grew since its newest snapshot;
//! - before batches are deleted: the log start moves past them, or compaction removes them
//!   (below).
//!
//! A snapshot is more than a cache once batches go: they were the only other record of their
//! producers' sequences, and a producer retrying a batch stored there must still be told it
//! is a duplicate. So:
//! - before DeleteRecords or retention moves a log start past batches, or a compaction pass
//!   may remove some, the log is synced and a snapshot is written at its end, unless a
//!   durable one already covers them ([`Node::secure_producer_state`]);
//! - the newest snapshot at or below the log's durable offset (its recovery point) is never
//!   pruned, since a crash can lose any newer one with the records it describes; besides it,
//!   the newest [`SNAPSHOTS_KEPT`] are kept.
//!
//! On open the newest snapshot at or below the log end is loaded and only the batches after it
//! are read; snapshots above the log end (their batches were lost in the crash) are deleted,
//! so they can never describe a different history later.

use super::{LogLevel, Node};
use crate::limits::{PRODUCERS_PER_PARTITION_MAX, PRODUCER_BATCHES_RETAINED_MAX};
use crate::log::{LogError, TopicPartition};
use crate::producer::{snapshot_bytes, ProducerState};
use crate::storage::{self, Storage, StorageError};

const SNAPSHOT_SUFFIX: &str = ".snapshot";

/// Snapshots kept per partition.
pub(super) const SNAPSHOTS_KEPT: usize = 2;

/// Largest snapshot file read: the most producers, each with the most batches. (It was 4
/// bytes short of that once: a full snapshot could not be read back, and was deleted.)
const SNAPSHOT_BYTES_MAX: usize = snapshot_bytes(
    PRODUCERS_PER_PARTITION_MAX,
    PRODUCERS_PER_PARTITION_MAX * PRODUCER_BATCHES_RETAINED_MAX,
);

/// The snapshot files in `dir`, by offset, oldest first.
fn snapshot_files<S: Storage + ?Sized>(
    storage: &mut S,
    dir: &str,
) -> Result<Vec<(i64, String)>, StorageError> {
    let mut found: Vec<(i64, String)> = storage
        .list(dir)?
        .into_iter()
        .filter_map(|name| {
            let digits = name.strip_suffix(SNAPSHOT_SUFFIX)?;
            let offset = digits.parse::<i64>().ok().filter(|_| digits.len() == 20)?;
            Some((offset, format!("{dir}/{name}")))
        })
        .collect();
    found.sort_unstable();
    Ok(found)
}

impl<S: Storage> Node<S> {
    /// Writes a snapshot for every partition whose producer state grew since its newest one;
    /// when `rolled_only`, only for those that also rolled a segment since.
    pub(super) fn write_producer_snapshots(&mut self, rolled_only: bool) {
        let partitions: Vec<TopicPartition> = self.producers.keys().cloned().collect();
        for partition in partitions {
            if let Err(error) = self.write_producer_snapshot(&partition, rolled_only) {
                let message = format!("{partition}: cannot write a producer snapshot: {error}");
                self.log(LogLevel::Warn, message);
            }
        }
    }

    fn write_producer_snapshot(
        &mut self,
        partition: &TopicPartition,
        rolled_only: bool,
    ) -> Result<(), StorageError> {
        let Some(log) = self.logs.log(partition).filter(|log| log.offline_reason().is_none())
        else {
            return Ok(());
        };
        let (dir, end, durable) =
            (log.dir().to_string(), log.log_end_offset(), log.recovery_point());
        let (start, active_base) = (log.log_start_offset(), log.active_base_offset());
        let existing = snapshot_files(&mut self.storage, &dir)?;
        let newest = existing.last().map(|(offset, _)| *offset);
        let current = if rolled_only {
            // No segment rolled since the newest snapshot (or since the log began).
            newest.unwrap_or(start) >= active_base
        } else {
            newest.is_some_and(|offset| offset >= end)
        };
        if current {
            return Ok(());
        }
        let Some(state) = self.producers.get(partition) else { return Ok(()) };
        let bytes = state.encode_snapshot();
        let path = format!("{dir}/{end:020}{SNAPSHOT_SUFFIX}");
        storage::write_file_atomic(&mut self.storage, &path, &bytes)?;
        // Keep the newest at or below the durable offset (the one a crash cannot take) and
        // the newest SNAPSHOTS_KEPT in all, counting the one just written.
        let anchor = existing.iter().rev().find(|(offset, _)| *offset <= durable);
        let anchor = if end <= durable { None } else { anchor.map(|(offset, _)| *offset) };
        let stale = (existing.len() + 1).saturating_sub(SNAPSHOTS_KEPT);
        for (offset, old) in existing.into_iter().take(stale) {
            if Some(offset) != anchor {
                self.storage.remove(&old)?;
            }
        }
        Ok(())
    }

    /// Makes `partition`'s idempotent-producer state durable without the batches below
    /// `new_start`, before DeleteRecords or retention moves the log start there or a
    /// compaction pass rewrites the segments below it (a restart could not rebuild the state
    /// from those batches): nothing to do when a snapshot at or above `new_start`
    /// is durable already (at or below the recovery point; every snapshot is synced), or the
    /// partition has no producer state; otherwise syncs the log and writes a snapshot at its
    /// end.
    pub(super) fn secure_producer_state(
        &mut self,
        partition: &TopicPartition,
        new_start: i64,
    ) -> Result<(), LogError> {
        if self.producers.get(partition).is_none_or(ProducerState::is_empty) {
            return Ok(());
        }
        let Some(log) = self.logs.log(partition) else { return Ok(()) };
        let (dir, durable) = (log.dir().to_string(), log.recovery_point());
        let snapshots = snapshot_files(&mut self.storage, &dir)?;
        if snapshots.iter().any(|(offset, _)| (new_start..=durable).contains(offset)) {
            return Ok(());
        }
        let log = self.logs.log_mut(partition).expect("found above");
        log.sync(&mut self.storage)?;
        self.write_producer_snapshot(partition, false)?;
        Ok(())
    }

    /// Rebuilds every partition's idempotent-producer state: from its newest usable snapshot
    /// and the batch headers after it, or from every batch header when there is none.
    pub(super) fn rebuild_producer_state(&mut self) -> Result<(), LogError> {
        let partitions: Vec<TopicPartition> = self.logs.partitions().cloned().collect();
        for partition in partitions {
            let log = self.logs.log(&partition).expect("listed");
            if log.offline_reason().is_some() {
                continue;
            }
            let (dir, end) = (log.dir().to_string(), log.log_end_offset());
            let (mut state, from) = self.load_producer_snapshot(&partition, &dir, end)?;
            let log = self.logs.log_mut(&partition).expect("listed");
            log.for_each_batch_header_from(&mut self.storage, from, |header| state.record(header))?;
            // As Kafka loads them: producers already expired are not brought back.
            let expiration_ms = i64::from(self.config.producer_id_expiration_ms);
            state.remove_expired(self.wall_ms, expiration_ms);
            if !state.is_empty() {
                self.producers.insert(partition, state);
            }
        }
        Ok(())
    }

    /// The newest snapshot at or below `end` that decodes, and the offset to read from after
    /// it; deletes snapshots above `end` and ones that do not decode.
    fn load_producer_snapshot(
        &mut self,
        partition: &TopicPartition,
        dir: &str,
        end: i64,
    ) -> Result<(ProducerState, i64), StorageError> {
        let files = snapshot_files(&mut self.storage, dir)?;
        let mut found = None;
        for (offset, path) in files.into_iter().rev() {
            if offset > end || found.is_some() {
                if offset > end {
                    self.storage.remove(&path)?;
                }
                continue;
            }
            // A file larger than any snapshot is damaged; a read that fails is not a reason
            // to delete what may be the only record of state the log no longer holds.
            let oversized = self.storage.len(&path)? > SNAPSHOT_BYTES_MAX as u64;
            let decoded = if oversized {
                Err(format!("larger than {SNAPSHOT_BYTES_MAX} bytes"))
            } else {
                let bytes = storage::read_small_file(&mut self.storage, &path, SNAPSHOT_BYTES_MAX)?;
                ProducerState::decode_snapshot(&bytes.unwrap_or_default())
            };
            match decoded {
                Ok(state) => found = Some((state, offset)),
                Err(reason) => {
                    let message =
                        format!("{partition}: ignoring producer snapshot {path}: {reason}");
                    self.log(LogLevel::Warn, message);
                    self.storage.remove(&path)?;
                }
            }
        }
        Ok(found.unwrap_or_default())
    }
}

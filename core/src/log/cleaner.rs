//! Log compaction for `cleanup.policy=compact`: keep the last record of every key.
//!
//! A pass works on the *cleanable* segments: every segment but the active one, up to the
//! recovery point (only synced data is rewritten). It runs in two steps, as Kafka's cleaner:
//! 1. Build a map from each key to the offset of its last record, over the cleanable segments
//!    from the first, until the map reaches [`COMPACTION_MAP_BYTES_MAX`]. Records past the
//!    map's end are never removed, so a bounded map only shortens the pass.
//! 2. Rewrite each cleanable segment that the map covers and that has something to remove,
//!    batch by batch:
//!    - a record survives when no later record has its key, it has a key (Kafka's cleaner
//!      drops keyless records of compacted topics), and it is not an expired tombstone;
//!    - a batch whose records all survive is copied byte for byte;
//!    - a batch that keeps some records is re-encoded with them alone, with the same base
//!      offset and `lastOffsetDelta`, so records keep their original offsets and batches stay
//!      contiguous (the log's recovery checks that) — as Kafka keeps them;
//!    - a batch that keeps nothing becomes a header-only batch with no records. Consecutive
//!      ones with the same leader epoch merge into one; the last batch of each idempotent
//!      producer stays as its own header, so producer state can still be rebuilt from the log.
//!      Clients skip such batches by their last offset, as they do for Kafka's.
//!
//! A tombstone (a null value) that is the last record of its key is kept until
//! `delete.retention.ms` after its batch's largest timestamp, so consumers that read the log
//! from the start have time to see the deletion (Kafka counts from the time the segment was
//! first cleaned, which it records in the batch; we use the batch's own timestamp).
//!
//! A rewritten segment is written to `<base>.cleaned.tmp`, synced, and renamed over the
//! `.log` after its index files are removed; a crash leaves either the old or the new file,
//! a stray temporary file (removed on open), or missing index files (rebuilt on open).

use super::segment::{segment_path, ScanMode, Segment};
use super::{Log, LogError, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::limits::{
    BATCH_DECOMPRESSED_BYTES_MAX, BATCH_HEADER_BYTES, COMPACTION_MAP_BYTES_MAX, SCAN_CHUNK_BYTES,
};
use crate::protocol::record_batch::{self, BatchHeader, Compression, Records};
use crate::storage::Storage;
use bytes::Bytes;
use std::collections::BTreeMap;

/// Bytes the key map counts per entry on top of the key itself (the map node and offset).
const MAP_ENTRY_OVERHEAD_BYTES: usize = 48;

/// What one compaction pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CompactionStats {
    /// Segments whose file was rewritten.
    pub segments_rewritten: u32,
    /// Records removed.
    pub records_removed: u64,
    /// Bytes of the rewritten segments before and after.
    pub bytes_before: u64,
    /// See `bytes_before`.
    pub bytes_after: u64,
}

/// The key map of step 1.
struct KeyMap {
    last_offset: BTreeMap<Vec<u8>, i64>,
    /// Base offset of each idempotent producer's last batch.
    last_batch_of_producer: BTreeMap<i64, i64>,
    bytes: usize,
    /// Offsets below this one are covered.
    end: i64,
}

/// A run of batches that keep no records, merged into one header.
struct EmptyRun {
    header: Vec<u8>,
    epoch: i32,
    last_offset: i64,
    max_timestamp: i64,
}

impl Log {
    /// Whether a compaction pass could do work now: the policy compacts, and a segment became
    /// cleanable since the last pass or a kept tombstone's `delete.retention.ms` ran out.
    pub fn compaction_due(&self, wall_ms: i64) -> bool {
        if !self.config.cleanup_policy.compacts() || self.offline.is_some() {
            return false;
        }
        let cleanable_end = self.cleanable_end();
        cleanable_end > self.compacted_through
            || (cleanable_end > self.log_start_offset
                && self.tombstone_expiry_ms.is_some_and(|at| wall_ms >= at))
    }

    /// The offset after the last cleanable segment (every segment but the active one, up to
    /// the recovery point): a pass changes nothing at or above it.
    pub fn cleanable_end(&self) -> i64 {
        let sealed = self.segments.iter().take(self.segments.len() - 1);
        sealed
            .take_while(|segment| segment.next_offset <= self.recovery_point)
            .last()
            .map_or(self.segments[0].base_offset, |segment| segment.next_offset)
    }

    /// Runs one compaction pass (see the module docs). A no-op unless `cleanup.policy`
    /// includes `compact`. A damaged stored batch stops the pass with an error and leaves its
    /// segment as it was.
    pub fn compact<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        wall_ms: i64,
    ) -> Result<CompactionStats, LogError> {
        self.check_online()?;
        let mut stats = CompactionStats::default();
        if !self.config.cleanup_policy.compacts() {
            return Ok(stats);
        }
        let cleanable_end = self.cleanable_end();
        let cleanable = self.segments.iter().take_while(|s| s.next_offset <= cleanable_end).count();
        if cleanable == 0 {
            self.compacted_through = cleanable_end;
            return Ok(stats);
        }
        let map = self.build_key_map(storage, cleanable)?;
        let mut tombstone_expiry: Option<i64> = None;
        for position in 0..cleanable {
            if self.segments[position].base_offset >= map.end {
                break;
            }
            let outcome = self.rewrite_segment(storage, position, &map, wall_ms)?;
            if let Some(at) = outcome.tombstone_expiry_ms {
                tombstone_expiry = Some(tombstone_expiry.map_or(at, |earlier| earlier.min(at)));
            }
            stats.records_removed += outcome.records_removed;
            if outcome.rewritten {
                stats.segments_rewritten += 1;
                stats.bytes_before += outcome.bytes_before;
                stats.bytes_after += outcome.bytes_after;
            }
        }
        self.compacted_through = map.end.min(cleanable_end);
        self.tombstone_expiry_ms = tombstone_expiry;
        self.check_invariants();
        Ok(stats)
    }

    fn build_key_map<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        cleanable: usize,
    ) -> Result<KeyMap, LogError> {
        let mut map = KeyMap {
            last_offset: BTreeMap::new(),
            last_batch_of_producer: BTreeMap::new(),
            bytes: 0,
            end: self.segments[0].base_offset,
        };
        'segments: for position in 0..cleanable {
            let mut reader = BatchReader::new(&self.segments[position]);
            while let Some((header, batch)) = reader.next(storage)? {
                if header.producer_id >= 0 {
                    let previous =
                        map.last_batch_of_producer.insert(header.producer_id, header.base_offset);
                    if previous.is_none() {
                        map.bytes += MAP_ENTRY_OVERHEAD_BYTES;
                    }
                }
                if !header.is_control() {
                    visit_records(&header, &batch, |offset, key, _| {
                        if let Some(key) = key {
                            if map.last_offset.insert(key.to_vec(), offset).is_none() {
                                map.bytes += key.len() + MAP_ENTRY_OVERHEAD_BYTES;
                            }
                        }
                    })?;
                }
                map.end = header.next_offset();
                if map.bytes >= COMPACTION_MAP_BYTES_MAX {
                    break 'segments;
                }
            }
        }
        Ok(map)
    }

    fn rewrite_segment<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        position: usize,
        map: &KeyMap,
        wall_ms: i64,
    ) -> Result<RewriteOutcome, LogError> {
        let segment = self.segments[position].clone();
        let temporary = segment_path(&self.dir, segment.base_offset, ".cleaned.tmp");
        if crate::storage::exists(storage, &temporary)? {
            storage.remove(&temporary)?;
        }
        storage.append(&temporary, &[])?;
        let mut outcome = RewriteOutcome::default();
        let written = self.rewrite_batches(storage, &segment, &temporary, map, wall_ms);
        let (changed, rewrite) = match written {
            Ok(done) => done,
            Err(error) => {
                let _ = storage.remove(&temporary);
                return Err(error);
            }
        };
        outcome.records_removed = rewrite.records_removed;
        outcome.tombstone_expiry_ms = rewrite.tombstone_expiry_ms;
        if !changed {
            storage.remove(&temporary)?;
            return Ok(outcome);
        }
        // Synced before it replaces the old file; the index files go first, so a crash never
        // pairs the new file with the old indexes.
        storage.sync(&temporary)?;
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = segment_path(&self.dir, segment.base_offset, suffix);
            if crate::storage::exists(storage, &path)? {
                storage.remove(&path)?;
            }
        }
        let log_path = segment_path(&self.dir, segment.base_offset, LOG_SUFFIX);
        storage.rename(&temporary, &log_path)?;
        let size = storage.len(&log_path)?;
        let mut rebuilt = Segment::new(&self.dir, segment.base_offset, segment.created_wall_ms);
        let mode = ScanMode {
            verify_crc: false,
            stop_at_offset: None,
            index_interval_bytes: self.config.index_interval_bytes,
        };
        let stop = rebuilt.scan(storage, &log_path, size, mode, &[], &mut Vec::new())?;
        assert!(stop.is_none(), "a compacted segment scans whole: {stop:?}");
        assert_eq!(rebuilt.next_offset, segment.next_offset, "compaction keeps offsets");
        rebuilt.seal_time_index();
        self.write_index_files(storage, &rebuilt)?;
        outcome.rewritten = true;
        outcome.bytes_before = u64::from(segment.size_bytes);
        outcome.bytes_after = u64::from(rebuilt.size_bytes);
        self.segments[position] = rebuilt;
        Ok(outcome)
    }

    /// Writes `segment`'s batches, compacted, to `temporary`. Returns whether anything
    /// changed, with the removed-record count and the earliest expiry of a kept tombstone.
    fn rewrite_batches<S: Storage + ?Sized>(
        &self,
        storage: &mut S,
        segment: &Segment,
        temporary: &str,
        map: &KeyMap,
        wall_ms: i64,
    ) -> Result<(bool, RewriteOutcome), LogError> {
        let delete_retention_ms = self.config.delete_retention_ms;
        let mut outcome = RewriteOutcome::default();
        let mut changed = false;
        let mut run: Option<EmptyRun> = None;
        let mut out: Vec<Bytes> = Vec::new();
        let mut out_bytes = 0usize;
        let mut reader = BatchReader::new(segment);
        let mut kept = Vec::new();
        while let Some((header, batch)) = reader.next(storage)? {
            kept.clear();
            let mut kept_count = 0i32;
            let mut total = 0i32;
            if header.is_control() {
                kept_count = header.records_count;
                total = header.records_count;
            } else {
                visit_records(&header, &batch, |offset, key, record| {
                    total += 1;
                    let Some(key) = key else { return };
                    if map.last_offset.get(key).is_some_and(|&last| last > offset) {
                        return;
                    }
                    if record.value.is_none() {
                        let expires = header.max_timestamp.saturating_add(delete_retention_ms);
                        if wall_ms >= expires {
                            return;
                        }
                        outcome.tombstone_expiry_ms =
                            Some(outcome.tombstone_expiry_ms.map_or(expires, |at| at.min(expires)));
                    }
                    kept.extend_from_slice(record.raw);
                    kept_count += 1;
                })?;
            }
            outcome.records_removed += u64::from((total - kept_count).max(0).unsigned_abs());
            let last_of_producer = header.producer_id >= 0
                && map.last_batch_of_producer.get(&header.producer_id) == Some(&header.base_offset);
            let bytes =
                if kept_count == total && (total > 0 || header.is_control()) {
                    batch
                } else if kept_count > 0 || last_of_producer {
                    changed |= kept_count != total;
                    let rewritten = record_batch::rewrite_batch(&batch, &kept, kept_count)
                        .map_err(|error| LogError::CorruptStoredBatch {
                            offset: header.base_offset,
                            detail: error.to_string(),
                        })?;
                    Bytes::from(rewritten)
                } else {
                    // Nothing kept: extend the current run of empty batches, or start one. A
                    // batch already empty (an earlier pass) changes nothing unless it merges.
                    changed |= total > 0;
                    match &mut run {
                        Some(open)
                            if open.epoch == header.partition_leader_epoch
                                && open.last_offset + 1 == header.base_offset =>
                        {
                            changed = true;
                            open.last_offset = header.last_offset();
                            open.max_timestamp = open.max_timestamp.max(header.max_timestamp);
                        }
                        _ => {
                            if let Some(done) = run.take() {
                                out_bytes += push_run(&mut out, done);
                            }
                            run = Some(EmptyRun {
                                header: batch[..BATCH_HEADER_BYTES].to_vec(),
                                epoch: header.partition_leader_epoch,
                                last_offset: header.last_offset(),
                                max_timestamp: header.max_timestamp,
                            });
                        }
                    }
                    continue;
                };
            if let Some(done) = run.take() {
                out_bytes += push_run(&mut out, done);
            }
            out_bytes += bytes.len();
            out.push(bytes);
            if out_bytes >= SCAN_CHUNK_BYTES {
                let parts: Vec<&[u8]> = out.iter().map(|part| &part[..]).collect();
                storage.append_parts(temporary, &parts)?;
                out.clear();
                out_bytes = 0;
            }
        }
        if let Some(done) = run.take() {
            push_run(&mut out, done);
        }
        let parts: Vec<&[u8]> = out.iter().map(|part| &part[..]).collect();
        storage.append_parts(temporary, &parts)?;
        Ok((changed, outcome))
    }
}

#[derive(Default)]
struct RewriteOutcome {
    rewritten: bool,
    records_removed: u64,
    bytes_before: u64,
    bytes_after: u64,
    tombstone_expiry_ms: Option<i64>,
}

fn push_run(out: &mut Vec<Bytes>, run: EmptyRun) -> usize {
    let bytes = record_batch::merge_empty_batches(&run.header, run.last_offset, run.max_timestamp);
    let length = bytes.len();
    out.push(Bytes::from(bytes));
    length
}

/// Reads the stored batches of one segment in order (CRC-checked), in chunks of
/// [`SCAN_CHUNK_BYTES`]; each batch is a slice of its chunk.
struct BatchReader {
    path: String,
    base_offset: i64,
    size: u64,
    /// File position of `chunk`.
    chunk_at: u64,
    chunk: Bytes,
    /// Position in `chunk` of the next batch.
    at: usize,
}

impl BatchReader {
    fn new(segment: &Segment) -> Self {
        Self {
            path: segment.log_path.clone(),
            base_offset: segment.base_offset,
            size: u64::from(segment.size_bytes),
            chunk_at: 0,
            chunk: Bytes::new(),
            at: 0,
        }
    }

    fn next<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
    ) -> Result<Option<(BatchHeader, Bytes)>, LogError> {
        let position = self.chunk_at + self.at as u64;
        if position >= self.size {
            return Ok(None);
        }
        let base_offset = self.base_offset;
        let corrupt = |detail: String| LogError::CorruptStoredBatch {
            offset: base_offset,
            detail: format!("compacting byte {position}: {detail}"),
        };
        if self.chunk.len() < self.at + BATCH_HEADER_BYTES {
            self.refill(storage, position, SCAN_CHUNK_BYTES)?;
        }
        let header = BatchHeader::parse(&self.chunk[self.at..])
            .map_err(|error| corrupt(error.to_string()))?;
        let batch_size = header.size_bytes();
        if position + batch_size as u64 > self.size {
            return Err(corrupt("batch runs past the segment".to_string()));
        }
        if self.chunk.len() < self.at + batch_size {
            self.refill(storage, position, batch_size.max(SCAN_CHUNK_BYTES))?;
        }
        let batch = self.chunk.slice(self.at..self.at + batch_size);
        let header = record_batch::validate_stored(&batch).map_err(|error| {
            LogError::CorruptStoredBatch {
                offset: header.base_offset,
                detail: format!("compacting: {error}"),
            }
        })?;
        self.at += batch_size;
        Ok(Some((header, batch)))
    }

    fn refill<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        position: u64,
        want: usize,
    ) -> Result<(), LogError> {
        let want = want.min((self.size - position) as usize);
        self.chunk = storage.read_at(&self.path, position, want)?;
        self.chunk_at = position;
        self.at = 0;
        Ok(())
    }
}

/// Calls `visit(offset, key, record)` for every record of a (CRC-checked) batch.
fn visit_records(
    header: &BatchHeader,
    batch: &[u8],
    mut visit: impl FnMut(i64, Option<&[u8]>, &record_batch::RecordView<'_>),
) -> Result<(), LogError> {
    let corrupt = |detail: String| LogError::CorruptStoredBatch {
        offset: header.base_offset,
        detail: format!("compacting: {detail}"),
    };
    let decompressed;
    let body = if header.compression() == Compression::None {
        &batch[BATCH_HEADER_BYTES..]
    } else {
        decompressed = record_batch::records_section(header, batch, BATCH_DECOMPRESSED_BYTES_MAX)
            .map_err(|error| corrupt(error.to_string()))?;
        &decompressed[..]
    };
    for record in Records::new(header, body) {
        let record = record.map_err(|error| corrupt(error.to_string()))?;
        let offset = header.base_offset + i64::from(record.offset_delta);
        visit(offset, record.key, &record);
    }
    Ok(())
}

//! Log compaction for `cleanup.policy=compact`: keep the last record of every key.
//!
//! A pass works on the *cleanable* segments: every segment but the active one, up to the
//! recovery point (only synced data is rewritten). It runs in two steps, as Kafka's cleaner:
//! 1. Build a map from each key to the offset of its last record, over the *dirty* cleanable
//!    segments (those written since the last pass ended: from the first dirty offset, as
//!    Kafka's cleaner checkpoint keeps it), until the map reaches [`COMPACTION_MAP_BYTES_MAX`].
//!    The part below was compacted already, so it holds at most one record per key; a record
//!    there whose key the map lacks is the last of its key. Of that clean part only batch
//!    headers are mapped: each idempotent producer's last batch (up to
//!    [`PRODUCERS_PER_PARTITION_MAX`] producers; past that, every emptied batch of a producer
//!    the map lacks keeps its own header). Batches past the map's end are kept as they are
//!    (tombstones and keyless records too), so a bounded map only shortens the pass, and the
//!    next pass maps on from where it stopped.
//!
//!    A pass is due when the dirty bytes exceed `min.cleanable.dirty.ratio` of the clean and
//!    dirty bytes, or when a dirty segment's first batch is `max.compaction.lag.ms` old (by
//!    its timestamp, as Kafka counts it, so that a restart does not start the count again;
//!    by the segment's creation or this process's open of it where that timestamp is not
//!    above 0), or when a kept tombstone expires.
//!    Segments holding a batch younger than `min.compaction.lag.ms` are not cleanable. The
//!    first dirty offset is not saved: after a restart the first pass maps the whole log.
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
//! A tombstone (a null value) that is the last record of its key is kept for
//! `delete.retention.ms` from the first pass that kept it, so consumers that read the log from
//! the start have time to see the deletion, whatever the tombstone's own timestamp. As in
//! Kafka (KIP-534), that pass writes the time the tombstones may go, its delete horizon, into
//! the batch: the attributes' bit 6 set and `baseTimestamp` holding the horizon, the records'
//! timestamps unchanged. A later pass drops them once the deletion clock reaches it; a
//! restart keeps it.
//!
//! A rewritten segment is written to `<base>.cleaned.tmp`, synced, and renamed over the
//! `.log` after its index files are removed; a crash leaves either the old or the new file,
//! a stray temporary file (removed on open), or missing index files (rebuilt on open).

use super::segment::{segment_path, Segment};
use super::{Log, LogError, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::limits::{
    BATCH_BYTES_MAX, BATCH_DECOMPRESSED_BYTES_MAX, BATCH_HEADER_BYTES, COMPACTION_MAP_BYTES_MAX,
    PRODUCERS_PER_PARTITION_MAX, SCAN_CHUNK_BYTES,
};
use crate::protocol::record_batch::{self, BatchHeader, Compression, Records};
use crate::storage::{Storage, StorageError, StorageErrorKind};
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
    /// Calls of [`Log::compact_step`] the pass took.
    pub steps: u32,
}

/// The key map of step 1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct KeyMap {
    last_offset: BTreeMap<Vec<u8>, i64>,
    /// Base offset of each idempotent producer's last batch.
    last_batch_of_producer: BTreeMap<i64, i64>,
    bytes: usize,
    /// Offsets below this one are covered.
    end: i64,
}

/// A run of batches that keep no records, merged into one header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EmptyRun {
    header: Vec<u8>,
    epoch: i32,
    last_offset: i64,
    max_timestamp: i64,
}

/// A compaction pass in progress: [`Log::compact_step`] resumes it where the last step left
/// it. Sealed segments below the recovery point never change, so what a step read stays true
/// until the segment is deleted (retention, DeleteRecords) or the log truncated; each step
/// first checks for both.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Pass {
    /// The log's truncation count when the pass began: a truncation ends the pass.
    truncations: u64,
    /// The cleanable end when the pass began: the pass changes nothing at or above it.
    cleanable_end: i64,
    /// The first dirty offset when the pass began: only producers are mapped below it.
    dirty_start: i64,
    map: KeyMap,
    phase: Phase,
    stats: CompactionStats,
    /// The earliest expiry of a tombstone kept so far.
    tombstone_expiry_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Phase {
    /// Step 1: reading one segment into the key map.
    Mapping(BatchReader),
    /// Step 2: rewriting one segment.
    Rewriting(Box<Rewrite>),
}

/// One segment's rewrite in progress: its compacted batches go to a temporary file, and the
/// new segment's metadata and indexes are built as they are written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Rewrite {
    /// The segment as it was when its rewrite began.
    source: Segment,
    temporary: String,
    reader: BatchReader,
    rebuilt: Segment,
    run: Option<EmptyRun>,
    /// Batches not yet appended to the temporary file, and their bytes.
    out: Vec<Bytes>,
    out_bytes: usize,
    changed: bool,
    records_removed: u64,
    tombstone_expiry_ms: Option<i64>,
}

impl Log {
    /// Whether a compaction pass could do work now: the policy compacts, and a pass is under
    /// way, or a segment became cleanable since the last pass, or a kept tombstone's
    /// `delete.retention.ms` ran out.
    pub fn compaction_due(&self, wall_ms: i64) -> bool {
        if !self.config.cleanup_policy.compacts() || self.offline.is_some() {
            return false;
        }
        if self.compaction.is_some() {
            return true;
        }
        let cleanable_end = self.cleanable_end(wall_ms);
        let dirty_start = self.first_dirty_offset();
        if cleanable_end > dirty_start {
            let sealed = || self.segments.iter().take(self.segments.len() - 1);
            let clean: u64 = sealed()
                .take_while(|segment| segment.next_offset <= dirty_start)
                .map(|segment| u64::from(segment.size_bytes))
                .sum();
            let dirty = || {
                sealed().filter(|segment| {
                    segment.next_offset > dirty_start && segment.next_offset <= cleanable_end
                })
            };
            let dirty_bytes: u64 = dirty().map(|segment| u64::from(segment.size_bytes)).sum();
            if self.config.min_cleanable_dirty_ratio.exceeded_by(clean, dirty_bytes) {
                return true;
            }
            // As Kafka counts it: from the first batch's timestamp, so that the count survives
            // a restart. Kafka never forces a segment without one above 0; here such a
            // segment counts from its creation or this process's open of it.
            let max_lag_ms = self.config.max_compaction_lag_ms;
            let waiting_since = |segment: &Segment| match segment.first_batch_timestamp {
                first if first > 0 => first,
                _ => segment.created_wall_ms,
            };
            if dirty().any(|segment| wall_ms.saturating_sub(waiting_since(segment)) >= max_lag_ms) {
                return true;
            }
        }
        cleanable_end > self.log_start_offset
            && self.tombstone_expiry_ms.is_some_and(|at| wall_ms >= at)
    }

    /// Where the part of the log not compacted since this process opened it begins (the log's
    /// first segment after a restart).
    fn first_dirty_offset(&self) -> i64 {
        self.compacted_through.max(self.segments[0].base_offset)
    }

    /// Whether a compaction pass has begun and not finished.
    pub fn compaction_in_progress(&self) -> bool {
        self.compaction.is_some()
    }

    /// The offset after the last cleanable segment at `wall_ms`: every segment but the active
    /// one, up to the recovery point and the first segment holding a batch younger than
    /// `min.compaction.lag.ms`. A pass changes nothing at or above it.
    pub fn cleanable_end(&self, wall_ms: i64) -> i64 {
        let lag_ms = self.config.min_compaction_lag_ms;
        let sealed = self.segments.iter().take(self.segments.len() - 1);
        sealed
            .take_while(|segment| {
                segment.next_offset <= self.recovery_point
                    && (lag_ms == 0 || segment.max_timestamp <= wall_ms.saturating_sub(lag_ms))
            })
            .last()
            .map_or(self.segments[0].base_offset, |segment| segment.next_offset)
    }

    /// Runs one whole compaction pass (see the module docs). A no-op unless `cleanup.policy`
    /// includes `compact`. A damaged stored batch stops the pass with an error and leaves its
    /// segment as it was.
    pub fn compact<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        wall_ms: i64,
    ) -> Result<CompactionStats, LogError> {
        loop {
            let mut budget = usize::MAX;
            if let Some(stats) = self.compact_step(storage, wall_ms, &mut budget)? {
                return Ok(stats);
            }
        }
    }

    /// Advances the compaction pass, beginning one if none is under way, by reading about
    /// `budget` bytes of stored batches (at least one batch), and takes what it read off
    /// `budget`. Finishing a segment's rewrite syncs its new file. Returns the pass's figures
    /// once it is done (at once when there is nothing to do), `None` while work remains. On
    /// an error the pass ends and the segment being rewritten stays as it was.
    pub fn compact_step<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        wall_ms: i64,
        budget: &mut usize,
    ) -> Result<Option<CompactionStats>, LogError> {
        // An offline log's pass ends here: its temporary file is a stray the next open removes.
        let pass = self.compaction.take();
        self.check_online()?;
        let mut pass = match pass {
            Some(pass)
                if pass.truncations == self.truncations
                    && self.config.cleanup_policy.compacts() =>
            {
                pass
            }
            Some(pass) => {
                abandon(storage, &pass)?;
                return Ok(Some(CompactionStats::default()));
            }
            None => {
                if !self.config.cleanup_policy.compacts() {
                    return Ok(Some(CompactionStats::default()));
                }
                let cleanable_end = self.cleanable_end(wall_ms);
                let first = &self.segments[0];
                if first.next_offset > cleanable_end || first.base_offset >= cleanable_end {
                    self.compacted_through = cleanable_end;
                    return Ok(Some(CompactionStats::default()));
                }
                Box::new(Pass {
                    truncations: self.truncations,
                    cleanable_end,
                    dirty_start: self.first_dirty_offset(),
                    map: KeyMap { end: first.base_offset, ..KeyMap::default() },
                    phase: Phase::Mapping(BatchReader::new(first)),
                    stats: CompactionStats::default(),
                    tombstone_expiry_ms: None,
                })
            }
        };
        pass.stats.steps += 1;
        match self.advance_pass(storage, &mut pass, wall_ms, budget) {
            Ok(true) => {
                self.compacted_through = pass.map.end.min(pass.cleanable_end);
                self.tombstone_expiry_ms = pass.tombstone_expiry_ms;
                self.check_invariants();
                Ok(Some(pass.stats))
            }
            Ok(false) => {
                self.compaction = Some(pass);
                Ok(None)
            }
            Err(error) => {
                let _ = abandon(storage, &pass);
                Err(error)
            }
        }
    }

    /// Whether the sealed segment based at `base` is still there, as `size` bytes.
    fn still_sealed(&self, base: i64, size: u64) -> bool {
        let mut sealed = self.segments.iter().take(self.segments.len() - 1);
        sealed.any(|segment| segment.base_offset == base && u64::from(segment.size_bytes) == size)
    }

    /// The first segment based above `after` that ends at or below `end`: the next one a
    /// pass reads or rewrites.
    fn segment_after(&self, after: Option<i64>, end: i64) -> Option<&Segment> {
        let mut sealed = self.segments.iter().take(self.segments.len() - 1);
        sealed
            .find(|segment| after.is_none_or(|after| segment.base_offset > after))
            .filter(|segment| segment.next_offset <= end)
    }

    /// Works on `pass` until `budget` runs out (true once the pass is done).
    fn advance_pass<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        pass: &mut Pass,
        wall_ms: i64,
        budget: &mut usize,
    ) -> Result<bool, LogError> {
        let mut read_one = false;
        loop {
            match &mut pass.phase {
                Phase::Mapping(reader) => {
                    let base = reader.base_offset;
                    let full = if self.still_sealed(base, reader.size) {
                        let (map, dirty_start) = (&mut pass.map, pass.dirty_start);
                        let full =
                            map_batches(storage, reader, map, dirty_start, budget, read_one)?;
                        read_one = true;
                        if !full && !reader.done() {
                            return Ok(false);
                        }
                        full
                    } else {
                        false
                    };
                    // Deleted meanwhile, read whole, or the map is full.
                    let next = if full {
                        None
                    } else {
                        self.segment_after(Some(base), pass.cleanable_end)
                    };
                    match next {
                        Some(next) => pass.phase = Phase::Mapping(BatchReader::new(next)),
                        None => match self.first_to_rewrite(pass, None) {
                            Some(segment) => {
                                pass.phase = Phase::Rewriting(self.begin_rewrite(storage, segment)?)
                            }
                            None => return Ok(true),
                        },
                    }
                }
                Phase::Rewriting(rewrite) => {
                    let base = rewrite.source.base_offset;
                    let size = u64::from(rewrite.source.size_bytes);
                    if self.still_sealed(base, size) {
                        self.rewrite_batches(
                            storage, rewrite, &pass.map, wall_ms, budget, read_one,
                        )?;
                        read_one = true;
                        if !rewrite.reader.done() {
                            return Ok(false);
                        }
                        let rewrite = match std::mem::replace(
                            &mut pass.phase,
                            Phase::Mapping(BatchReader::default()),
                        ) {
                            Phase::Rewriting(rewrite) => rewrite,
                            Phase::Mapping(_) => unreachable!("rewriting"),
                        };
                        self.finish_rewrite(storage, *rewrite, pass)?;
                    } else {
                        remove_if_present(storage, &rewrite.temporary)?;
                    }
                    match self.first_to_rewrite(pass, Some(base)) {
                        Some(segment) => {
                            pass.phase = Phase::Rewriting(self.begin_rewrite(storage, segment)?)
                        }
                        None => return Ok(true),
                    }
                }
            }
        }
    }

    /// The next segment to rewrite after `after`: one the map covers part of, within the
    /// pass's cleanable end.
    fn first_to_rewrite(&self, pass: &Pass, after: Option<i64>) -> Option<Segment> {
        self.segment_after(after, pass.cleanable_end)
            .filter(|segment| segment.base_offset < pass.map.end)
            .cloned()
    }

    fn begin_rewrite<S: Storage + ?Sized>(
        &self,
        storage: &mut S,
        source: Segment,
    ) -> Result<Box<Rewrite>, LogError> {
        let temporary = segment_path(&self.dir, source.base_offset, ".cleaned.tmp");
        remove_if_present(storage, &temporary)?;
        storage.append(&temporary, &[])?;
        Ok(Box::new(Rewrite {
            reader: BatchReader::new(&source),
            rebuilt: Segment::new(&self.dir, source.base_offset, source.created_wall_ms),
            source,
            temporary,
            run: None,
            out: Vec::new(),
            out_bytes: 0,
            changed: false,
            records_removed: 0,
            tombstone_expiry_ms: None,
        }))
    }

    /// Writes what is left of `rewrite` and, if anything changed, puts the new file in place
    /// of the old. On an error the temporary file goes, so a full disk gets its space back.
    fn finish_rewrite<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        rewrite: Rewrite,
        pass: &mut Pass,
    ) -> Result<(), LogError> {
        let temporary = rewrite.temporary.clone();
        let result = self.put_in_place(storage, rewrite, pass);
        if result.is_err() {
            // Gone already if the rename was done.
            let _ = storage.remove(&temporary);
        }
        result
    }

    /// See `finish_rewrite`. The new file is synced first, and the old index files removed
    /// before the rename, so a crash never pairs the new file with the old indexes.
    fn put_in_place<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        mut rewrite: Rewrite,
        pass: &mut Pass,
    ) -> Result<(), LogError> {
        if let Some(done) = rewrite.run.take() {
            push_run(&mut rewrite, done, self.config.index_interval_bytes);
        }
        flush(storage, &mut rewrite)?;
        pass.stats.records_removed += rewrite.records_removed;
        if let Some(at) = rewrite.tombstone_expiry_ms {
            pass.tombstone_expiry_ms =
                Some(pass.tombstone_expiry_ms.map_or(at, |earlier| earlier.min(at)));
        }
        let Rewrite { source, temporary, mut rebuilt, changed, .. } = rewrite;
        if !changed {
            storage.remove(&temporary)?;
            return Ok(());
        }
        assert_eq!(rebuilt.next_offset, source.next_offset, "compaction keeps offsets");
        storage.sync(&temporary)?;
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            remove_if_present(storage, &segment_path(&self.dir, source.base_offset, suffix))?;
        }
        let log_path = segment_path(&self.dir, source.base_offset, LOG_SUFFIX);
        // From the rename on, an error may leave the new file in place while the metadata
        // describes the old one: reads would look for batches at the old positions. The log
        // goes offline instead (as Kafka takes the directory offline); the next open scans
        // whichever file is there.
        if let Err(error) = storage.rename(&temporary, &log_path) {
            return self.fail(error);
        }
        match storage.len(&log_path) {
            Ok(len) => assert_eq!(len, u64::from(rebuilt.size_bytes), "written whole"),
            Err(error) => return self.fail(error),
        }
        rebuilt.seal_time_index();
        let position = self
            .segments
            .iter()
            .position(|segment| segment.base_offset == source.base_offset)
            .expect("checked before the rewrite's last batches");
        pass.stats.segments_rewritten += 1;
        pass.stats.bytes_before += u64::from(source.size_bytes);
        pass.stats.bytes_after += u64::from(rebuilt.size_bytes);
        // The metadata follows the file even if its index files fail to be written: the next
        // open rebuilds those. They are written durably: the segment lies below the recovery
        // point, where the next open trusts index files as they are.
        let written = self.write_index_files_durably(storage, &rebuilt);
        self.segments[position] = rebuilt;
        self.read_hint = None;
        Ok(written?)
    }

    /// Compacts `rewrite`'s next batches, about `budget` bytes of them (at least one unless
    /// `read_one`), into its output.
    fn rewrite_batches<S: Storage + ?Sized>(
        &self,
        storage: &mut S,
        rewrite: &mut Rewrite,
        map: &KeyMap,
        wall_ms: i64,
        budget: &mut usize,
        read_one: bool,
    ) -> Result<(), LogError> {
        let delete_retention_ms = self.config.delete_retention_ms;
        let interval = self.config.index_interval_bytes;
        let mut kept = Vec::new();
        let mut first = !read_one;
        while *budget > 0 || first {
            first = false;
            let Some((header, batch)) = rewrite.reader.next(storage)? else { break };
            *budget = budget.saturating_sub(batch.len());
            kept.clear();
            let mut kept_count = 0i32;
            let mut total = 0i32;
            // Past the map's end nothing is known of later records: a batch there is kept as
            // it is. (An expired tombstone there once went, while the older value of its key
            // below the end stayed: the key came back.)
            let past_map = header.base_offset >= map.end;
            // A batch whose kept tombstones have no delete horizon yet gets one: this pass's
            // time plus delete.retention.ms (KIP-534). Stored in the batch, it outlives
            // restarts; until then the tombstones stay whatever their timestamps.
            let horizon = header.delete_horizon_ms();
            let new_horizon_ms = wall_ms.saturating_add(delete_retention_ms);
            let mut sets_horizon = false;
            // Recounting the records' timestamp deltas from the horizon lengthens each record
            // by at most 10 bytes. A batch that might then outgrow BATCH_BYTES_MAX (only near
            // the 64 MiB `max.message.bytes` allows) gets none: its tombstones are kept from
            // its own timestamp, as before KIP-534.
            let records = usize::try_from(header.records_count).unwrap_or(0);
            let room =
                BATCH_BYTES_MAX / if header.compression() == Compression::None { 1 } else { 2 };
            let horizon_fits = batch.len().saturating_add(records.saturating_mul(10)) <= room;
            if header.is_control() || past_map {
                kept_count = header.records_count;
                total = header.records_count;
            } else {
                let expiry = &mut rewrite.tombstone_expiry_ms;
                visit_records(&header, &batch, |offset, key, record| {
                    total += 1;
                    let Some(key) = key else { return };
                    if map.last_offset.get(key).is_some_and(|&last| last > offset) {
                        return;
                    }
                    if record.value.is_none() {
                        let expires = match horizon {
                            Some(horizon) if wall_ms >= horizon => return,
                            Some(horizon) => horizon,
                            None if horizon_fits => {
                                sets_horizon = true;
                                new_horizon_ms
                            }
                            None => {
                                let expires =
                                    header.max_timestamp.saturating_add(delete_retention_ms);
                                if wall_ms >= expires {
                                    return;
                                }
                                expires
                            }
                        };
                        *expiry = Some(expiry.map_or(expires, |at| at.min(expires)));
                    }
                    kept.extend_from_slice(record.raw);
                    kept_count += 1;
                })?;
            }
            rewrite.records_removed += u64::from((total - kept_count).max(0).unsigned_abs());
            // A producer the map lacks is one past its bound: any of its batches may be its last.
            let last_of_producer = header.producer_id >= 0
                && map
                    .last_batch_of_producer
                    .get(&header.producer_id)
                    .is_none_or(|&last| last == header.base_offset);
            let new_horizon = sets_horizon.then_some(new_horizon_ms);
            let bytes = if kept_count == total
                && !sets_horizon
                && (total > 0 || header.is_control() || past_map)
            {
                batch
            } else if kept_count > 0 || last_of_producer {
                rewrite.changed |= kept_count != total || sets_horizon;
                let rewrite_with = |horizon| {
                    record_batch::rewrite_batch(&batch, &kept, kept_count, horizon).map_err(
                        |error| LogError::CorruptStoredBatch {
                            offset: header.base_offset,
                            detail: error.to_string(),
                        },
                    )
                };
                let mut rewritten = rewrite_with(new_horizon)?;
                if rewritten.len() > BATCH_BYTES_MAX {
                    // Compressed worse than the estimate allowed for: no horizon this pass.
                    rewritten = rewrite_with(None)?;
                }
                Bytes::from(rewritten)
            } else {
                // Nothing kept: extend the current run of empty batches, or start one. A
                // batch already empty (an earlier pass) changes nothing unless it merges.
                rewrite.changed |= total > 0;
                match &mut rewrite.run {
                    Some(open)
                        if open.epoch == header.partition_leader_epoch
                            && open.last_offset + 1 == header.base_offset =>
                    {
                        rewrite.changed = true;
                        open.last_offset = header.last_offset();
                        open.max_timestamp = open.max_timestamp.max(header.max_timestamp);
                    }
                    _ => {
                        if let Some(done) = rewrite.run.take() {
                            push_run(rewrite, done, interval);
                        }
                        rewrite.run = Some(EmptyRun {
                            header: batch[..BATCH_HEADER_BYTES].to_vec(),
                            epoch: header.partition_leader_epoch,
                            last_offset: header.last_offset(),
                            max_timestamp: header.max_timestamp,
                        });
                    }
                }
                continue;
            };
            if let Some(done) = rewrite.run.take() {
                push_run(rewrite, done, interval);
            }
            push_batch(rewrite, bytes, interval);
            if rewrite.out_bytes >= SCAN_CHUNK_BYTES {
                flush(storage, rewrite)?;
            }
        }
        Ok(())
    }
}

/// Reads `reader`'s next batches into `map`, about `budget` bytes (at least one batch unless
/// `read_one`): their producers, and the keys of those ending past `dirty_start` (below it,
/// the log was compacted already). Returns whether the map is full (only keys fill it;
/// producers have their own bound).
fn map_batches<S: Storage + ?Sized>(
    storage: &mut S,
    reader: &mut BatchReader,
    map: &mut KeyMap,
    dirty_start: i64,
    budget: &mut usize,
    read_one: bool,
) -> Result<bool, LogError> {
    let mut first = !read_one;
    while *budget > 0 || first {
        first = false;
        let Some((header, batch)) = reader.next(storage)? else { return Ok(false) };
        *budget = budget.saturating_sub(batch.len());
        let known = map.last_batch_of_producer.contains_key(&header.producer_id);
        if header.producer_id >= 0
            && (known || map.last_batch_of_producer.len() < PRODUCERS_PER_PARTITION_MAX)
        {
            map.last_batch_of_producer.insert(header.producer_id, header.base_offset);
        }
        if header.next_offset() <= dirty_start {
            map.end = header.next_offset();
            continue;
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
            return Ok(true);
        }
    }
    Ok(false)
}

/// Ends `pass` early: removes the temporary file of a rewrite under way.
fn abandon<S: Storage + ?Sized>(storage: &mut S, pass: &Pass) -> Result<(), StorageError> {
    match &pass.phase {
        Phase::Rewriting(rewrite) => remove_if_present(storage, &rewrite.temporary),
        Phase::Mapping(_) => Ok(()),
    }
}

fn remove_if_present<S: Storage + ?Sized>(storage: &mut S, path: &str) -> Result<(), StorageError> {
    match storage.remove(path) {
        Err(error) if error.kind != StorageErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Adds one output batch to `rewrite`, and to the new segment's metadata and indexes.
fn push_batch(rewrite: &mut Rewrite, bytes: Bytes, interval_bytes: u32) {
    let header = BatchHeader::parse(&bytes).expect("the cleaner writes whole batches");
    rewrite.rebuilt.on_batch(rewrite.rebuilt.size_bytes, &header, interval_bytes);
    rewrite.out_bytes += bytes.len();
    rewrite.out.push(bytes);
}

fn push_run(rewrite: &mut Rewrite, run: EmptyRun, interval_bytes: u32) {
    let bytes = record_batch::merge_empty_batches(&run.header, run.last_offset, run.max_timestamp);
    push_batch(rewrite, Bytes::from(bytes), interval_bytes);
}

/// Appends the batches `rewrite` holds to its temporary file.
fn flush<S: Storage + ?Sized>(storage: &mut S, rewrite: &mut Rewrite) -> Result<(), LogError> {
    let parts: Vec<&[u8]> = rewrite.out.iter().map(|part| &part[..]).collect();
    storage.append_parts(&rewrite.temporary, &parts)?;
    rewrite.out.clear();
    rewrite.out_bytes = 0;
    Ok(())
}

/// Reads the stored batches of one segment in order (CRC-checked), in chunks of
/// [`SCAN_CHUNK_BYTES`]; each batch is a slice of its chunk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
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

    /// Whether every batch was read.
    fn done(&self) -> bool {
        self.chunk_at + self.at as u64 >= self.size
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
    let body = record_batch::records_body(header, batch, BATCH_DECOMPRESSED_BYTES_MAX)
        .map_err(|error| corrupt(error.to_string()))?;
    for record in Records::new(header, &body) {
        let record = record.map_err(|error| corrupt(error.to_string()))?;
        let offset = header.base_offset + i64::from(record.offset_delta);
        visit(offset, record.key, &record);
    }
    Ok(())
}

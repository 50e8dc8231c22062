//! One segment: a `.log` file of batches starting at `base_offset`, plus its indexes, and the
//! scanner that rebuilds a segment's state from its bytes (recovery, truncation, clean open).

use super::index::{OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use crate::limits::{
    BATCH_HEADER_BYTES, OFFSET_INDEX_ENTRY_BYTES, SCAN_CHUNK_BYTES, SEGMENT_BYTES_MAX,
    TIME_INDEX_ENTRY_BYTES,
};
use crate::protocol::record_batch::{self, BatchHeader};
use crate::storage::{Storage, StorageError};
use bytes::Bytes;

/// `<dir>/<20-digit base offset><suffix>`, as Kafka names segment files.
pub(crate) fn segment_path(dir: &str, base_offset: i64, suffix: &str) -> String {
    // Built by hand: every read and append names its segment, and `format!` with padding
    // was a visible share of a simulated run's profile.
    if base_offset < 0 {
        return format!("{dir}/{base_offset:020}{suffix}");
    }
    let mut digits = [b'0'; 20];
    let mut rest = base_offset as u64;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let mut path = String::with_capacity(dir.len() + 1 + digits.len() + suffix.len());
    path.push_str(dir);
    path.push('/');
    path.extend(digits.iter().map(|&digit| char::from(digit)));
    path.push_str(suffix);
    path
}

/// The base offset in a segment file name such as `00000000000000000042.log`.
pub(crate) fn parse_segment_name(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// In-memory state of one segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    /// `<dir>/<base>.log`, kept so the append path formats no strings.
    pub(crate) log_path: String,
    /// Valid bytes in the `.log` file.
    pub(crate) size_bytes: u32,
    /// Offset after the last record; `base_offset` while empty.
    pub(crate) next_offset: i64,
    /// Largest batch timestamp, or -1 while empty.
    pub(crate) max_timestamp: i64,
    relative_offset_of_max_timestamp: u32,
    pub(crate) index: OffsetIndex,
    pub(crate) time_index: TimeIndex,
    bytes_since_index_entry: u32,
    /// Wall-clock ms when this process created or opened the segment (for `segment.ms`).
    pub(crate) created_wall_ms: i64,
    /// The first batch's `maxTimestamp`, or -1 while empty (for `max.compaction.lag.ms`,
    /// which Kafka counts from it, so that a restart does not start the count again).
    pub(crate) first_batch_timestamp: i64,
}

/// Why a scan stopped before the end of the file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ScanStop {
    /// The file ends inside a batch header or body (a torn write).
    Torn,
    /// A batch failed validation (length, magic, CRC, or offsets).
    Invalid(String),
    /// The caller's `stop_at_offset` was reached.
    ReachedOffset,
}

/// What a scan checks and where it stops.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScanMode {
    /// Check every batch's CRC-32C (recovery), or only its structure (rebuilding an index).
    pub(crate) verify_crc: bool,
    /// Stop at the first batch holding an offset at or above this one (truncation).
    pub(crate) stop_at_offset: Option<i64>,
    /// Without `verify_crc`, a batch holding an offset at or above this one is CRC-checked
    /// anyway: only data below the recovery point was synced. (A segment below the one
    /// recovery starts from may still hold such batches when segment files overlap.)
    pub(crate) trusted_below: i64,
    pub(crate) index_interval_bytes: u32,
}

impl Segment {
    pub(crate) fn new(dir: &str, base_offset: i64, wall_ms: i64) -> Self {
        assert!(base_offset >= 0);
        Self {
            base_offset,
            log_path: segment_path(dir, base_offset, ".log"),
            size_bytes: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            relative_offset_of_max_timestamp: 0,
            index: OffsetIndex::default(),
            time_index: TimeIndex::default(),
            bytes_since_index_entry: 0,
            created_wall_ms: wall_ms,
            first_batch_timestamp: -1,
        }
    }

    pub(crate) fn relative_offset_of_max_timestamp(&self) -> u32 {
        self.relative_offset_of_max_timestamp
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.size_bytes == 0
    }

    /// Whether either index has reached the `segment.index.bytes` bound.
    pub(crate) fn indexes_full(&self, segment_index_bytes: u32) -> bool {
        let offset_entries_max = segment_index_bytes as usize / OFFSET_INDEX_ENTRY_BYTES;
        // One time-index slot stays free for the final entry written when the segment rolls.
        let time_entries_max = (segment_index_bytes as usize / TIME_INDEX_ENTRY_BYTES).max(2) - 1;
        self.index.len() >= offset_entries_max || self.time_index.len() >= time_entries_max
    }

    /// Records that `header`'s batch now sits at `position`: the one place where segment
    /// metadata and index entries change, shared by append and scan so both build equal indexes.
    pub(crate) fn on_batch(&mut self, position: u32, header: &BatchHeader, interval_bytes: u32) {
        assert_eq!(header.base_offset, self.next_offset, "batches in a segment are dense");
        assert_eq!(position, self.size_bytes, "batches are appended at the end");
        let relative_offset = u32::try_from(header.base_offset - self.base_offset)
            .expect("relative offsets fit in u32: the log rolls before they overflow");
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.relative_offset_of_max_timestamp = relative_offset;
        }
        if position == 0 {
            self.first_batch_timestamp = header.max_timestamp;
        }
        if self.bytes_since_index_entry >= interval_bytes {
            self.index.push(OffsetEntry { relative_offset, position });
            self.time_index.push(TimeEntry {
                timestamp: self.max_timestamp,
                relative_offset: self.relative_offset_of_max_timestamp,
            });
            self.bytes_since_index_entry = 0;
        }
        let size = header.size_bytes() as u32;
        self.bytes_since_index_entry = self.bytes_since_index_entry.saturating_add(size);
        self.size_bytes = position + size;
        self.next_offset = header.next_offset();
    }

    /// Adds the final time-index entry Kafka writes when a segment stops being active, so that
    /// the time index's last entry is the segment's largest timestamp.
    pub(crate) fn seal_time_index(&mut self) {
        if self.max_timestamp >= 0 {
            self.time_index.push(TimeEntry {
                timestamp: self.max_timestamp,
                relative_offset: self.relative_offset_of_max_timestamp,
            });
        }
    }

    /// Restores metadata for a segment loaded from its index files without a scan, whose first
    /// batch's `maxTimestamp` was read from its header (-1 when it is empty).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn load(
        dir: &str,
        base_offset: i64,
        size_bytes: u32,
        next_offset: i64,
        index: OffsetIndex,
        time_index: TimeIndex,
        first_batch_timestamp: i64,
        wall_ms: i64,
    ) -> Self {
        let mut segment = Self::new(dir, base_offset, wall_ms);
        segment.size_bytes = size_bytes;
        segment.next_offset = next_offset;
        segment.first_batch_timestamp = first_batch_timestamp;
        if let Some(last) = time_index.last() {
            segment.max_timestamp = last.timestamp;
            segment.relative_offset_of_max_timestamp = last.relative_offset;
        }
        let last_position = index.entries().last().map_or(0, |entry| entry.position);
        segment.bytes_since_index_entry = size_bytes - last_position;
        segment.index = index;
        segment.time_index = time_index;
        segment
    }

    /// Rebuilds this segment's state from its `.log` file, starting from empty. Walks every
    /// batch from position 0 and stops at the end, at the first batch that fails `mode`'s
    /// checks, or at `mode.stop_at_offset`. `epochs` receives `(leader epoch, start offset)`
    /// whenever a batch carries an epoch above the last one pushed.
    /// `known_epochs` is the leader-epoch checkpoint: with `verify_crc`, a batch whose
    /// `partitionLeaderEpoch` (which the CRC does not cover) disagrees with it is invalid.
    pub(crate) fn scan<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        path: &str,
        file_size_bytes: u64,
        mode: ScanMode,
        known_epochs: &[(i32, i64)],
        epochs: &mut Vec<(i32, i64)>,
    ) -> Result<Option<ScanStop>, StorageError> {
        let log_path = std::mem::take(&mut self.log_path);
        *self = Self { log_path, ..Self::new("", self.base_offset, self.created_wall_ms) };
        let file_size_bytes = file_size_bytes.min(u64::from(SEGMENT_BYTES_MAX));
        let mut chunk = Bytes::new();
        let mut chunk_start: u64 = 0;
        loop {
            let position = u64::from(self.size_bytes);
            if position >= file_size_bytes {
                return Ok(None);
            }
            let remaining = file_size_bytes - position;
            let mut in_chunk = (position - chunk_start) as usize;
            if chunk.len() < in_chunk + BATCH_HEADER_BYTES {
                chunk =
                    storage.read_at(path, position, SCAN_CHUNK_BYTES.min(remaining as usize))?;
                chunk_start = position;
                in_chunk = 0;
            }
            let header = match BatchHeader::parse(&chunk[in_chunk..]) {
                Ok(header) => header,
                Err(record_batch::BatchError::Truncated { .. }) => return Ok(Some(ScanStop::Torn)),
                Err(error) => return Ok(Some(ScanStop::Invalid(error.to_string()))),
            };
            let size = header.size_bytes();
            if size as u64 > remaining {
                return Ok(Some(ScanStop::Torn));
            }
            if chunk.len() < in_chunk + size {
                chunk = storage.read_at(
                    path,
                    position,
                    size.max(SCAN_CHUNK_BYTES.min(remaining as usize)),
                )?;
                chunk_start = position;
                in_chunk = 0;
            }
            let batch = &chunk[in_chunk..in_chunk + size];
            if let Some(stop) = self.check_scanned(batch, &header, mode) {
                return Ok(Some(stop));
            }
            if mode.verify_crc {
                let covering =
                    known_epochs.partition_point(|&(_, start)| start <= header.base_offset);
                if let Some(&(epoch, _)) = covering.checked_sub(1).map(|index| &known_epochs[index])
                {
                    if header.partition_leader_epoch != epoch {
                        let detail = format!(
                            "batch at offset {} has leader epoch {}, the checkpoint says {epoch}",
                            header.base_offset, header.partition_leader_epoch
                        );
                        return Ok(Some(ScanStop::Invalid(detail)));
                    }
                }
            }
            if header.partition_leader_epoch >= 0
                && epochs.last().is_none_or(|&(epoch, _)| header.partition_leader_epoch > epoch)
            {
                epochs.push((header.partition_leader_epoch, header.base_offset));
            }
            self.on_batch(self.size_bytes, &header, mode.index_interval_bytes);
        }
    }

    fn check_scanned(
        &self,
        batch: &[u8],
        header: &BatchHeader,
        mode: ScanMode,
    ) -> Option<ScanStop> {
        if let Some(stop_at) = mode.stop_at_offset {
            if header.next_offset() > stop_at {
                return Some(ScanStop::ReachedOffset);
            }
        }
        if header.magic != 2 {
            return Some(ScanStop::Invalid(format!("magic {}", header.magic)));
        }
        if mode.verify_crc || header.next_offset() > mode.trusted_below {
            if let Err(error) = record_batch::validate_stored(batch) {
                return Some(ScanStop::Invalid(error.to_string()));
            }
        }
        if header.base_offset != self.next_offset || header.last_offset_delta < 0 {
            let detail = format!(
                "batch at offset {} (delta {}) where {} was expected",
                header.base_offset, header.last_offset_delta, self.next_offset
            );
            return Some(ScanStop::Invalid(detail));
        }
        if header.last_offset() - self.base_offset > i64::from(u32::MAX) {
            return Some(ScanStop::Invalid("relative offset overflows the index".to_string()));
        }
        if u64::from(self.size_bytes) + header.size_bytes() as u64 > u64::from(SEGMENT_BYTES_MAX) {
            return Some(ScanStop::Invalid("segment larger than the maximum".to_string()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_paths_are_twenty_zero_padded_digits() {
        assert_eq!(segment_path("t-0", 0, ".log"), "t-0/00000000000000000000.log");
        assert_eq!(segment_path("t-0", 42, ".index"), "t-0/00000000000000000042.index");
        assert_eq!(
            segment_path("a/b", i64::MAX, ".timeindex"),
            format!("a/b/{:020}.timeindex", i64::MAX)
        );
        assert_eq!(segment_path("t-0", 1_035_355, ".log"), format!("t-0/{:020}.log", 1_035_355));
        assert_eq!(parse_segment_name("00000000000000000042.log", ".log"), Some(42));
    }
}

//! The sparse offset index (`.index`) and time index (`.timeindex`) of one segment, in Kafka's
//! on-disk layout: big-endian `(relative offset u32, position u32)` and
//! `(timestamp i64, relative offset u32)` entries, appended in increasing order.
//!
//! The log keeps each segment's entries in memory and appends the same entries to the files;
//! the files exist so that a clean start need not rescan segments.

use crate::limits::{OFFSET_INDEX_ENTRY_BYTES, TIME_INDEX_ENTRY_BYTES};

/// One `.index` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OffsetEntry {
    /// Offset of a batch's first record, relative to the segment's base offset.
    pub relative_offset: u32,
    /// Byte position of that batch in the `.log` file.
    pub position: u32,
}

/// One `.timeindex` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeEntry {
    /// Largest timestamp seen in the segment up to and including `relative_offset`'s batch.
    pub timestamp: i64,
    /// Relative offset of the batch's first record.
    pub relative_offset: u32,
}

/// Why an index file cannot be trusted (the log then rebuilds it from the segment).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndexCorrupt(pub &'static str);

/// The in-memory offset index of one segment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OffsetIndex {
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    /// Entries, in order.
    pub fn entries(&self) -> &[OffsetEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an entry after every existing one. Returns its bytes for the `.index` file.
    pub fn push(&mut self, entry: OffsetEntry) -> [u8; OFFSET_INDEX_ENTRY_BYTES] {
        if let Some(last) = self.entries.last() {
            assert!(entry.relative_offset > last.relative_offset);
            assert!(entry.position > last.position);
        }
        self.entries.push(entry);
        let mut bytes = [0u8; OFFSET_INDEX_ENTRY_BYTES];
        bytes[..4].copy_from_slice(&entry.relative_offset.to_be_bytes());
        bytes[4..].copy_from_slice(&entry.position.to_be_bytes());
        bytes
    }

    /// The last entry whose relative offset is at most `relative_offset`: where a scan for that
    /// offset may start.
    pub fn lookup(&self, relative_offset: u32) -> Option<OffsetEntry> {
        let after = self.entries.partition_point(|entry| entry.relative_offset <= relative_offset);
        after.checked_sub(1).map(|index| self.entries[index])
    }

    /// The last entry whose position is below `position`.
    pub fn lookup_position(&self, position: u32) -> Option<OffsetEntry> {
        let after = self.entries.partition_point(|entry| entry.position < position);
        after.checked_sub(1).map(|index| self.entries[index])
    }

    /// Drops entries for batches at or after `position`. Returns the number kept.
    pub fn truncate_to_position(&mut self, position: u32) -> usize {
        let keep = self.entries.partition_point(|entry| entry.position < position);
        self.entries.truncate(keep);
        keep
    }

    /// Encodes every entry as the `.index` file holds them.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * OFFSET_INDEX_ENTRY_BYTES);
        for entry in &self.entries {
            out.extend_from_slice(&entry.relative_offset.to_be_bytes());
            out.extend_from_slice(&entry.position.to_be_bytes());
        }
        out
    }

    /// Parses an `.index` file of a segment whose `.log` is `log_size_bytes` long. Refuses
    /// entries that are out of order or point past the log, so a damaged file is rebuilt.
    pub fn decode(bytes: &[u8], log_size_bytes: u32) -> Result<Self, IndexCorrupt> {
        if bytes.len() % OFFSET_INDEX_ENTRY_BYTES != 0 {
            return Err(IndexCorrupt("offset index length is not a multiple of 8"));
        }
        let mut index = Self::default();
        for chunk in bytes.chunks_exact(OFFSET_INDEX_ENTRY_BYTES) {
            let relative_offset = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let position = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            if position >= log_size_bytes {
                return Err(IndexCorrupt("offset index points past the end of the segment"));
            }
            if let Some(last) = index.entries.last() {
                if relative_offset <= last.relative_offset || position <= last.position {
                    return Err(IndexCorrupt("offset index entries are not increasing"));
                }
            }
            index.entries.push(OffsetEntry { relative_offset, position });
        }
        Ok(index)
    }
}

/// The in-memory time index of one segment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimeIndex {
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Entries, in order.
    pub fn entries(&self) -> &[TimeEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest entry.
    pub fn last(&self) -> Option<TimeEntry> {
        self.entries.last().copied()
    }

    /// Adds an entry if its timestamp is larger than the last one's. Returns its bytes for the
    /// `.timeindex` file, or `None` when nothing was added.
    pub fn push(&mut self, entry: TimeEntry) -> Option<[u8; TIME_INDEX_ENTRY_BYTES]> {
        if let Some(last) = self.entries.last() {
            if entry.timestamp <= last.timestamp {
                return None;
            }
            assert!(entry.relative_offset > last.relative_offset);
        }
        self.entries.push(entry);
        let mut bytes = [0u8; TIME_INDEX_ENTRY_BYTES];
        bytes[..8].copy_from_slice(&entry.timestamp.to_be_bytes());
        bytes[8..].copy_from_slice(&entry.relative_offset.to_be_bytes());
        Some(bytes)
    }

    /// The last entry whose timestamp is below `timestamp`: every record up to its offset is
    /// older than `timestamp`, so a search for `timestamp` may start at its batch.
    pub fn lookup_before(&self, timestamp: i64) -> Option<TimeEntry> {
        let after = self.entries.partition_point(|entry| entry.timestamp < timestamp);
        after.checked_sub(1).map(|index| self.entries[index])
    }

    /// Drops entries at or after `relative_offset`. Returns the number kept.
    pub fn truncate_to_offset(&mut self, relative_offset: u32) -> usize {
        let keep = self.entries.partition_point(|entry| entry.relative_offset < relative_offset);
        self.entries.truncate(keep);
        keep
    }

    /// Encodes every entry as the `.timeindex` file holds them.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * TIME_INDEX_ENTRY_BYTES);
        for entry in &self.entries {
            out.extend_from_slice(&entry.timestamp.to_be_bytes());
            out.extend_from_slice(&entry.relative_offset.to_be_bytes());
        }
        out
    }

    /// Parses a `.timeindex` file of a segment whose next relative offset is `relative_end`.
    pub fn decode(bytes: &[u8], relative_end: u64) -> Result<Self, IndexCorrupt> {
        if bytes.len() % TIME_INDEX_ENTRY_BYTES != 0 {
            return Err(IndexCorrupt("time index length is not a multiple of 12"));
        }
        let mut index = Self::default();
        for chunk in bytes.chunks_exact(TIME_INDEX_ENTRY_BYTES) {
            let mut timestamp = [0u8; 8];
            timestamp.copy_from_slice(&chunk[..8]);
            let timestamp = i64::from_be_bytes(timestamp);
            let relative_offset = u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
            if u64::from(relative_offset) >= relative_end {
                return Err(IndexCorrupt("time index points past the end of the segment"));
            }
            if let Some(last) = index.entries.last() {
                if timestamp <= last.timestamp || relative_offset <= last.relative_offset {
                    return Err(IndexCorrupt("time index entries are not increasing"));
                }
            }
            index.entries.push(TimeEntry { timestamp, relative_offset });
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_round_trips_and_looks_up_the_floor_entry() {
        let mut index = OffsetIndex::default();
        let bytes = index.push(OffsetEntry { relative_offset: 0, position: 0 });
        assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 0]);
        let bytes = index.push(OffsetEntry { relative_offset: 10, position: 4096 });
        assert_eq!(bytes, [0, 0, 0, 10, 0, 0, 16, 0]);
        index.push(OffsetEntry { relative_offset: 25, position: 8200 });
        assert_eq!(index.lookup(9), Some(OffsetEntry { relative_offset: 0, position: 0 }));
        assert_eq!(index.lookup(10), Some(OffsetEntry { relative_offset: 10, position: 4096 }));
        assert_eq!(index.lookup(1000), Some(OffsetEntry { relative_offset: 25, position: 8200 }));
        let decoded = OffsetIndex::decode(&index.encode(), 9000).expect("valid");
        assert_eq!(decoded, index);
        assert_eq!(index.truncate_to_position(4096), 1);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn damaged_offset_index_is_refused() {
        let mut index = OffsetIndex::default();
        index.push(OffsetEntry { relative_offset: 0, position: 0 });
        index.push(OffsetEntry { relative_offset: 3, position: 500 });
        let bytes = index.encode();
        assert!(OffsetIndex::decode(&bytes[..12], 1000).is_err());
        assert!(OffsetIndex::decode(&bytes, 400).is_err());
        let mut swapped = bytes[8..].to_vec();
        swapped.extend_from_slice(&bytes[..8]);
        assert!(OffsetIndex::decode(&swapped, 1000).is_err());
    }

    #[test]
    fn time_index_keeps_only_growing_timestamps() {
        let mut index = TimeIndex::default();
        assert!(index.push(TimeEntry { timestamp: 100, relative_offset: 0 }).is_some());
        assert!(index.push(TimeEntry { timestamp: 90, relative_offset: 5 }).is_none());
        assert!(index.push(TimeEntry { timestamp: 200, relative_offset: 9 }).is_some());
        assert_eq!(index.lookup_before(100), None);
        assert_eq!(
            index.lookup_before(150),
            Some(TimeEntry { timestamp: 100, relative_offset: 0 })
        );
        assert_eq!(
            index.lookup_before(201),
            Some(TimeEntry { timestamp: 200, relative_offset: 9 })
        );
        assert_eq!(TimeIndex::decode(&index.encode(), 10).expect("valid"), index);
        assert!(TimeIndex::decode(&index.encode(), 9).is_err());
        assert_eq!(index.truncate_to_offset(9), 1);
    }
}

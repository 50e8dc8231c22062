//! Idempotent producer state of one partition (KIP-98): for each producer id, its epoch and
//! the sequence ranges and offsets of its last five batches.
//!
//! A batch is checked before it is appended ([`ProducerState::check`]) and recorded after
//! ([`ProducerState::record`]); the same `record` rebuilds the state from the log's batch
//! headers on open, so a restart forgets nothing.

use crate::limits::{PRODUCERS_PER_PARTITION_MAX, PRODUCER_BATCHES_RETAINED_MAX};
use crate::protocol::record_batch::BatchHeader;
use crate::protocol::ErrorCode;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Where one producer batch landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchMetadata {
    /// Sequence of its first record.
    pub first_sequence: i32,
    /// Sequence of its last record.
    pub last_sequence: i32,
    /// Offset of its first record.
    pub base_offset: i64,
    /// Its largest timestamp as stored (for a LogAppendTime topic, the append time): a retry
    /// is answered with it and DescribeProducers reports it, as Kafka does. -1 when read from
    /// a version 1 snapshot, which did not keep it.
    pub max_timestamp: i64,
}

/// One producer's state in one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProducerEntry {
    /// Current epoch.
    pub epoch: i16,
    /// The last batches, oldest first.
    pub batches: VecDeque<BatchMetadata>,
    /// When this producer last wrote (log order), to forget the least recent first.
    pub last_write: u64,
}

/// What to do with a producer batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SequenceCheck {
    /// Append it (in sequence, or not idempotent).
    Append,
    /// A retry of a batch already stored at this offset: answer with it, append nothing.
    Duplicate {
        /// The original base offset.
        base_offset: i64,
        /// The original batch's largest timestamp as stored.
        max_timestamp: i64,
    },
    /// Refuse it with this error.
    Refuse(ErrorCode),
}

/// Kafka's sequence arithmetic: sequences wrap from i32::MAX to 0.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// The idempotent producers of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProducerState {
    producers: BTreeMap<i64, ProducerEntry>,
    /// (last write, id) of every producer: the least recent first, so that evicting one
    /// at the bound takes O(log n), not a scan of up to PRODUCERS_PER_PARTITION_MAX entries
    /// for every new producer (a client making a producer per message would pay that on
    /// each produce).
    by_last_write: BTreeSet<(u64, i64)>,
    writes: u64,
}

impl ProducerState {
    /// The state of producer `producer_id`.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Decides what to do with a batch before it is appended.
    pub fn check(&self, header: &BatchHeader) -> SequenceCheck {
        if header.producer_id < 0 {
            return SequenceCheck::Append;
        }
        if header.base_sequence < 0 {
            // As Kafka's validator: a batch with a producer id needs a sequence.
            return SequenceCheck::Refuse(ErrorCode::InvalidRecord);
        }
        let first = header.base_sequence;
        let last = increment_sequence(first, header.last_offset_delta);
        let Some(entry) = self.producers.get(&header.producer_id) else {
            // A producer this partition never saw starts at sequence 0 (KIP-360).
            return if first == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Refuse(ErrorCode::UnknownProducerId)
            };
        };
        if header.producer_epoch < entry.epoch {
            return SequenceCheck::Refuse(ErrorCode::InvalidProducerEpoch);
        }
        if header.producer_epoch > entry.epoch {
            return if first == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Refuse(ErrorCode::OutOfOrderSequenceNumber)
            };
        }
        let retry = entry
            .batches
            .iter()
            .find(|batch| batch.first_sequence == first && batch.last_sequence == last);
        if let Some(batch) = retry {
            return SequenceCheck::Duplicate {
                base_offset: batch.base_offset,
                max_timestamp: batch.max_timestamp,
            };
        }
        match entry.batches.back() {
            Some(latest) if first == increment_sequence(latest.last_sequence, 1) => {
                SequenceCheck::Append
            }
            None if first == 0 => SequenceCheck::Append,
            _ => SequenceCheck::Refuse(ErrorCode::OutOfOrderSequenceNumber),
        }
    }

    /// Records a batch that was appended (or found in the log), `header` carrying its offset.
    pub fn record(&mut self, header: &BatchHeader) {
        if header.producer_id < 0 {
            return;
        }
        self.writes += 1;
        if !self.producers.contains_key(&header.producer_id)
            && self.producers.len() >= PRODUCERS_PER_PARTITION_MAX
        {
            if let Some((_, oldest)) = self.by_last_write.pop_first() {
                self.producers.remove(&oldest);
            }
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        self.by_last_write.remove(&(entry.last_write, header.producer_id));
        if header.producer_epoch != entry.epoch {
            entry.batches.clear();
            entry.epoch = header.producer_epoch;
        }
        entry.batches.push_back(BatchMetadata {
            first_sequence: header.base_sequence,
            last_sequence: increment_sequence(header.base_sequence, header.last_offset_delta),
            base_offset: header.base_offset,
            max_timestamp: header.max_timestamp,
        });
        while entry.batches.len() > PRODUCER_BATCHES_RETAINED_MAX {
            entry.batches.pop_front();
        }
        entry.last_write = self.writes;
        self.by_last_write.insert((self.writes, header.producer_id));
        assert!(self.producers.len() <= PRODUCERS_PER_PARTITION_MAX);
        assert_eq!(self.by_last_write.len(), self.producers.len());
    }

    /// Forgets every producer whose last batch's largest timestamp is `expiration_ms` or more
    /// before `now_ms`, as Kafka forgets them (`producer.id.expiration.ms`): a retry after
    /// that is no longer known as one. A producer whose time is unknown (read from a version 1
    /// snapshot) is kept. Returns how many were forgotten.
    pub fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let expired: Vec<(u64, i64)> = self
            .producers
            .iter()
            .filter(|(_, entry)| {
                entry.batches.back().is_some_and(|last| {
                    last.max_timestamp >= 0
                        && now_ms.saturating_sub(last.max_timestamp) >= expiration_ms
                })
            })
            .map(|(&id, entry)| (entry.last_write, id))
            .collect();
        for (last_write, id) in &expired {
            self.producers.remove(id);
            self.by_last_write.remove(&(*last_write, *id));
        }
        assert_eq!(self.by_last_write.len(), self.producers.len());
        expired.len()
    }

    /// Every producer, by id.
    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(&id, entry)| (id, entry))
    }

    /// The state as a snapshot file's bytes ([`snapshot_bytes`] of them): `SPS2`, a CRC-32C of
    /// the rest, the write counter,
    /// the producer count, then per producer its id, epoch, last write and batches (count, then
    /// first and last sequence, base offset and largest timestamp each). Big-endian. Version 1
    /// (`SPS1`) is the same without the timestamps; both are read.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(12 + self.producers.len() * 64);
        body.extend_from_slice(&self.writes.to_be_bytes());
        body.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        for (id, entry) in &self.producers {
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&entry.epoch.to_be_bytes());
            body.extend_from_slice(&entry.last_write.to_be_bytes());
            body.push(entry.batches.len() as u8);
            for batch in &entry.batches {
                body.extend_from_slice(&batch.first_sequence.to_be_bytes());
                body.extend_from_slice(&batch.last_sequence.to_be_bytes());
                body.extend_from_slice(&batch.base_offset.to_be_bytes());
                body.extend_from_slice(&batch.max_timestamp.to_be_bytes());
            }
        }
        let mut out = Vec::with_capacity(8 + body.len());
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Reads [`ProducerState::encode_snapshot`]'s bytes back; an error names what is wrong
    /// (bad magic or CRC, a count over the bounds, truncation, trailing bytes).
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Self, String> {
        let (Some(magic), Some(crc), Some(body)) =
            (bytes.get(..4), bytes.get(4..8), bytes.get(8..))
        else {
            return Err("shorter than its header".to_string());
        };
        let with_timestamps = match magic {
            m if m == SNAPSHOT_MAGIC => true,
            m if m == SNAPSHOT_MAGIC_V1 => false,
            _ => return Err("not a producer snapshot (bad magic)".to_string()),
        };
        let stored = u32::from_be_bytes(crc.try_into().expect("4 bytes"));
        if crc32c::crc32c(body) != stored {
            return Err("CRC mismatch".to_string());
        }
        let mut cursor = SnapshotCursor { bytes: body };
        let writes = cursor.u64()?;
        let count = cursor.u32()? as usize;
        if count > PRODUCERS_PER_PARTITION_MAX {
            return Err(format!("{count} producers, more than {PRODUCERS_PER_PARTITION_MAX}"));
        }
        let mut producers = BTreeMap::new();
        for _ in 0..count {
            let id = i64::from_be_bytes(cursor.take()?);
            let epoch = i16::from_be_bytes(cursor.take()?);
            let last_write = cursor.u64()?;
            let [batch_count] = cursor.take::<1>()?;
            if usize::from(batch_count) > PRODUCER_BATCHES_RETAINED_MAX {
                return Err(format!("producer {id} has {batch_count} batches"));
            }
            let mut batches = VecDeque::with_capacity(usize::from(batch_count));
            for _ in 0..batch_count {
                batches.push_back(BatchMetadata {
                    first_sequence: i32::from_be_bytes(cursor.take()?),
                    last_sequence: i32::from_be_bytes(cursor.take()?),
                    base_offset: i64::from_be_bytes(cursor.take()?),
                    max_timestamp: match with_timestamps {
                        true => i64::from_be_bytes(cursor.take()?),
                        false => -1,
                    },
                });
            }
            if id < 0
                || producers.insert(id, ProducerEntry { epoch, batches, last_write }).is_some()
            {
                return Err(format!("producer id {id} is negative or repeated"));
            }
        }
        if !cursor.bytes.is_empty() {
            return Err(format!("{} bytes after the last producer", cursor.bytes.len()));
        }
        let by_last_write = producers.iter().map(|(id, entry)| (entry.last_write, *id)).collect();
        Ok(Self { producers, by_last_write, writes })
    }
}

/// First bytes of a producer snapshot file.
const SNAPSHOT_MAGIC: &[u8; 4] = b"SPS2";

/// First bytes of a version 1 snapshot (no batch timestamps), written before version 2.
const SNAPSHOT_MAGIC_V1: &[u8; 4] = b"SPS1";

struct SnapshotCursor<'a> {
    bytes: &'a [u8],
}

impl SnapshotCursor<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let Some((head, rest)) = self.bytes.split_first_chunk::<N>() else {
            return Err("truncated".to_string());
        };
        self.bytes = rest;
        Ok(*head)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.take().map(u64::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.take().map(u32::from_be_bytes)
    }
}

/// Bytes of a snapshot of `producers` producers holding `batches` batches in all: the magic,
/// CRC, write counter and count (20), 19 per producer and 24 per batch (16 in version 1).
pub const fn snapshot_bytes(producers: usize, batches: usize) -> usize {
    20 + producers * 19 + batches * 24
}

#[cfg(test)]
mod tests {
    #[test]
    fn at_the_bound_a_new_producer_evicts_the_least_recent_writer() {
        // Producers 0..MAX write once each, then producer 0 writes again: producer 1 is now
        // the least recent, and the next new producer takes its place.
        let mut state = ProducerState::default();
        let max = PRODUCERS_PER_PARTITION_MAX as i64;
        for id in 0..max {
            state.record(&header(id, 0, 0, 1, id));
        }
        state.record(&header(0, 0, 1, 1, max));
        assert_eq!(state.len(), PRODUCERS_PER_PARTITION_MAX);
        state.record(&header(max, 0, 0, 1, max + 1));
        assert_eq!(state.len(), PRODUCERS_PER_PARTITION_MAX);
        assert!(state.entry(1).is_none(), "the least recent writer went");
        assert!(state.entry(0).is_some() && state.entry(2).is_some() && state.entry(max).is_some());
        // A snapshot keeps the order: after a round trip the next eviction takes producer 2.
        let mut restored =
            ProducerState::decode_snapshot(&state.encode_snapshot()).expect("snapshot");
        assert_eq!(restored, state);
        restored.record(&header(max + 1, 0, 0, 1, max + 2));
        assert!(restored.entry(2).is_none() && restored.entry(3).is_some());
    }

    use super::*;

    fn header(
        producer_id: i64,
        epoch: i16,
        sequence: i32,
        records: i32,
        base_offset: i64,
    ) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: records - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id,
            producer_epoch: epoch,
            base_sequence: sequence,
            records_count: records,
        }
    }

    #[test]
    fn producers_whose_last_batch_is_old_enough_are_forgotten() {
        // Producer 1 wrote at 1000 then at 5000; producer 2 at 3000; producer 3's time is
        // unknown (a version 1 snapshot). With an expiration of 2000, producer 2's last batch
        // is 1999 old at 4999 (kept) and 2000 old at 5000 (forgotten).
        let at = |id: i64, sequence: i32, offset: i64, time: i64| BatchHeader {
            max_timestamp: time,
            ..header(id, 0, sequence, 1, offset)
        };
        let mut state = ProducerState::default();
        state.record(&at(1, 0, 0, 1000));
        state.record(&at(2, 0, 1, 3000));
        state.record(&at(3, 0, 2, -1));
        state.record(&at(1, 1, 3, 5000));
        assert_eq!(state.remove_expired(4999, 2000), 0);
        assert_eq!(state.remove_expired(5000, 2000), 1);
        assert!(state.entry(2).is_none());
        assert!(state.entry(1).is_some() && state.entry(3).is_some());
        // A forgotten producer is new again: only sequence 0 is taken from it.
        assert_eq!(
            state.check(&at(2, 1, 4, 6000)),
            SequenceCheck::Refuse(ErrorCode::UnknownProducerId)
        );
        assert_eq!(state.check(&at(2, 0, 4, 6000)), SequenceCheck::Append);
        assert_eq!(state.remove_expired(i64::MAX, 2000), 1, "producer 1; 3 is kept");
        assert_eq!(state.len(), 1);
        // A snapshot keeps what is left.
        assert_eq!(ProducerState::decode_snapshot(&state.encode_snapshot()), Ok(state.clone()));
    }

    #[test]
    fn snapshots_round_trip_and_refuse_damage() {
        let mut state = ProducerState::default();
        state.record(&header(7, 0, 0, 2, 10));
        state.record(&header(7, 0, 2, 3, 12));
        state.record(&header(9, 3, 5, 1, 15));
        state.record(&BatchHeader { max_timestamp: 1_700_000_000_123, ..header(9, 3, 6, 1, 16) });
        let bytes = state.encode_snapshot();
        assert_eq!(&bytes[..4], b"SPS2");
        // 8 header + 8 writes + 4 count + per producer 19 + 24 per batch.
        assert_eq!(bytes.len(), 8 + 8 + 4 + 2 * 19 + 4 * 24);
        assert_eq!(bytes.len(), snapshot_bytes(2, 4));
        assert_eq!(ProducerState::decode_snapshot(&bytes), Ok(state.clone()));
        assert_eq!(
            ProducerState::decode_snapshot(&ProducerState::default().encode_snapshot()),
            Ok(ProducerState::default())
        );
        let mut flipped = bytes.clone();
        flipped[30] ^= 1;
        assert_eq!(ProducerState::decode_snapshot(&flipped), Err("CRC mismatch".to_string()));
        assert_eq!(
            ProducerState::decode_snapshot(&bytes[..6]),
            Err("shorter than its header".to_string())
        );
        let mut cut = bytes[..bytes.len() - 1].to_vec();
        let crc = crc32c::crc32c(&cut[8..]);
        cut[4..8].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(ProducerState::decode_snapshot(&cut), Err("truncated".to_string()));
        // A version 1 snapshot (no timestamps) still loads, its batches' timestamps unknown.
        let mut v1 = b"SPS1\0\0\0\0".to_vec();
        let mut at = 8 + 8 + 4;
        v1.extend_from_slice(&bytes[8..at]);
        for (_, entry) in state.producers() {
            v1.extend_from_slice(&bytes[at..at + 19]);
            at += 19;
            for _ in &entry.batches {
                v1.extend_from_slice(&bytes[at..at + 16]);
                at += 24;
            }
        }
        let crc = crc32c::crc32c(&v1[8..]);
        v1[4..8].copy_from_slice(&crc.to_be_bytes());
        let mut unknown_times = state.clone();
        for entry in unknown_times.producers.values_mut() {
            entry.batches.iter_mut().for_each(|batch| batch.max_timestamp = -1);
        }
        assert_eq!(ProducerState::decode_snapshot(&v1), Ok(unknown_times));
        let entry = state.entry(9).expect("producer 9");
        assert_eq!(entry.batches.back().map(|batch| batch.max_timestamp), Some(1_700_000_000_123));
    }

    #[test]
    fn sequences_are_checked_like_kafka() {
        let mut state = ProducerState::default();
        assert_eq!(state.check(&header(-1, -1, -1, 1, 0)), SequenceCheck::Append);
        assert_eq!(
            state.check(&header(7, 0, 3, 1, 0)),
            SequenceCheck::Refuse(ErrorCode::UnknownProducerId)
        );
        assert_eq!(state.check(&header(7, 0, 0, 2, 0)), SequenceCheck::Append);
        state.record(&header(7, 0, 0, 2, 10));
        assert_eq!(state.check(&header(7, 0, 2, 3, 0)), SequenceCheck::Append);
        state.record(&header(7, 0, 2, 3, 12));
        // A retry of either retained batch gets its original offset.
        assert_eq!(
            state.check(&header(7, 0, 0, 2, 0)),
            SequenceCheck::Duplicate { base_offset: 10, max_timestamp: 0 }
        );
        assert_eq!(
            state.check(&header(7, 0, 2, 3, 0)),
            SequenceCheck::Duplicate { base_offset: 12, max_timestamp: 0 }
        );
        // A gap or an overlap that is not an exact retry is out of order.
        assert_eq!(
            state.check(&header(7, 0, 6, 1, 0)),
            SequenceCheck::Refuse(ErrorCode::OutOfOrderSequenceNumber)
        );
        assert_eq!(
            state.check(&header(7, 0, 1, 1, 0)),
            SequenceCheck::Refuse(ErrorCode::OutOfOrderSequenceNumber)
        );
        // A new epoch restarts at 0; an old epoch is fenced.
        assert_eq!(state.check(&header(7, 1, 0, 1, 0)), SequenceCheck::Append);
        assert_eq!(
            state.check(&header(7, 1, 5, 1, 0)),
            SequenceCheck::Refuse(ErrorCode::OutOfOrderSequenceNumber)
        );
        state.record(&header(7, 1, 0, 1, 15));
        assert_eq!(
            state.check(&header(7, 0, 5, 1, 0)),
            SequenceCheck::Refuse(ErrorCode::InvalidProducerEpoch)
        );
        assert_eq!(state.entry(7).map(|entry| entry.batches.len()), Some(1));
    }

    #[test]
    fn only_five_batches_are_retained_and_sequences_wrap() {
        let mut state = ProducerState::default();
        for index in 0..7 {
            state.record(&header(1, 0, index, 1, i64::from(index)));
        }
        let entry = state.entry(1).expect("entry");
        assert_eq!(entry.batches.len(), 5);
        assert_eq!(entry.batches[0].first_sequence, 2);
        assert_eq!(
            state.check(&header(1, 0, 0, 1, 0)),
            SequenceCheck::Refuse(ErrorCode::OutOfOrderSequenceNumber)
        );
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(5, 3), 8);
    }
}

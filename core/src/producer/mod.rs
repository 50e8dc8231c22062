//! Idempotent producer state of one partition (KIP-98): for each producer id, its epoch and
//! the sequence ranges and offsets of its last five batches.
//!
//! A batch is checked before it is appended ([`ProducerState::check`]) and recorded after
//! ([`ProducerState::record`]); the same `record` rebuilds the state from the log's batch
//! headers on open, so a restart forgets nothing.

use crate::limits::{PRODUCERS_PER_PARTITION_MAX, PRODUCER_BATCHES_RETAINED_MAX};
use crate::protocol::record_batch::BatchHeader;
use crate::protocol::ErrorCode;
use std::collections::{BTreeMap, VecDeque};

/// Where one producer batch landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchMetadata {
    /// Sequence of its first record.
    pub first_sequence: i32,
    /// Sequence of its last record.
    pub last_sequence: i32,
    /// Offset of its first record.
    pub base_offset: i64,
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
            return SequenceCheck::Duplicate { base_offset: batch.base_offset };
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
            let oldest =
                self.producers.iter().min_by_key(|(_, entry)| entry.last_write).map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                self.producers.remove(&oldest);
            }
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch != entry.epoch {
            entry.batches.clear();
            entry.epoch = header.producer_epoch;
        }
        entry.batches.push_back(BatchMetadata {
            first_sequence: header.base_sequence,
            last_sequence: increment_sequence(header.base_sequence, header.last_offset_delta),
            base_offset: header.base_offset,
        });
        while entry.batches.len() > PRODUCER_BATCHES_RETAINED_MAX {
            entry.batches.pop_front();
        }
        entry.last_write = self.writes;
        assert!(self.producers.len() <= PRODUCERS_PER_PARTITION_MAX);
    }
}

#[cfg(test)]
mod tests {
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
            SequenceCheck::Duplicate { base_offset: 10 }
        );
        assert_eq!(
            state.check(&header(7, 0, 2, 3, 0)),
            SequenceCheck::Duplicate { base_offset: 12 }
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

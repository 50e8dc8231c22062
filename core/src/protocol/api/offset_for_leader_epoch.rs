//! OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, for log truncation and
//! consumer validation. Flexible from v4.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// One partition asked about.
    pub struct OffsetForLeaderEpochRequestPartition {
        /// Partition index.
        partition: i32 { versions: 0..=99 },
        /// The requester's idea of the leader epoch, for fencing (v2+), -1 if unknown.
        current_leader_epoch: i32 { versions: 2..=99, default: -1 },
        /// The epoch whose end offset is wanted.
        leader_epoch: i32 { versions: 0..=99 },
    }

    /// One topic asked about.
    pub struct OffsetForLeaderEpochRequestTopic {
        /// Topic name.
        topic: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<OffsetForLeaderEpochRequestPartition> { versions: 0..=99 },
    }

    /// OffsetForLeaderEpoch request.
    pub struct OffsetForLeaderEpochRequest {
        /// Requesting broker id (v3+): -1 for consumers, -2 (the default) for debugging tools.
        replica_id: i32 { versions: 3..=99, default: -2 },
        /// Topics.
        topics: Vec<OffsetForLeaderEpochRequestTopic> { versions: 0..=99 },
    }

    /// The answer for one partition.
    pub struct OffsetForLeaderEpochResponsePartition {
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Partition index.
        partition: i32 { versions: 0..=99 },
        /// The epoch found (v1+), -1 if unknown.
        leader_epoch: i32 { versions: 1..=99, default: -1 },
        /// End offset of that epoch, -1 if unknown.
        end_offset: i64 { versions: 0..=99, default: -1 },
    }

    /// The answers for one topic.
    pub struct OffsetForLeaderEpochResponseTopic {
        /// Topic name.
        topic: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<OffsetForLeaderEpochResponsePartition> { versions: 0..=99 },
    }

    /// OffsetForLeaderEpoch response.
    pub struct OffsetForLeaderEpochResponse {
        /// Throttle time in ms (v2+).
        throttle_time_ms: i32 { versions: 2..=99 },
        /// Topics.
        topics: Vec<OffsetForLeaderEpochResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<OffsetForLeaderEpochRequest>(0..=4, 4);
        check_round_trip::<OffsetForLeaderEpochResponse>(0..=4, 4);
        let compared = check_against_oracle::<
            OffsetForLeaderEpochRequest,
            oracle::OffsetForLeaderEpochRequest,
        >(0..=4, 4);
        assert_eq!(compared, vec![2, 3, 4]);
        let compared = check_against_oracle::<
            OffsetForLeaderEpochResponse,
            oracle::OffsetForLeaderEpochResponse,
        >(0..=4, 4);
        assert_eq!(compared, vec![2, 3, 4]);
    }
}

//! ListOffsets (key 2): offsets by timestamp (or earliest/latest) per partition.
//! Flexible from v6.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// One partition asked about.
    pub struct ListOffsetsRequestPartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// The requester's idea of the leader epoch (v4+), -1 if unknown.
        current_leader_epoch: i32 { versions: 4..=99, default: -1 },
        /// Target timestamp, or a negative sentinel (-1 latest, -2 earliest, ...).
        timestamp: i64 { versions: 0..=99 },
        /// How many offsets to return (v0 only).
        max_num_offsets: i32 { versions: 0..=0, default: 1 },
    }

    /// One topic asked about.
    pub struct ListOffsetsRequestTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<ListOffsetsRequestPartition> { versions: 0..=99 },
    }

    /// ListOffsets request.
    pub struct ListOffsetsRequest {
        /// Requesting broker id, -1 for consumers.
        replica_id: i32 { versions: 0..=99 },
        /// 0 = read uncommitted, 1 = read committed (v2+).
        isolation_level: i8 { versions: 2..=99 },
        /// Topics.
        topics: Vec<ListOffsetsRequestTopic> { versions: 0..=99 },
        /// Timeout for remote-storage lookups, in ms (v10+).
        timeout_ms: i32 { versions: 10..=99 },
    }

    /// The answer for one partition.
    pub struct ListOffsetsResponsePartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Offsets found (v0 only).
        old_style_offsets: Vec<i64> { versions: 0..=0 },
        /// Timestamp of the returned offset (v1+), -1 if none.
        timestamp: i64 { versions: 1..=99, default: -1 },
        /// The returned offset (v1+), -1 if none.
        offset: i64 { versions: 1..=99, default: -1 },
        /// Leader epoch of the returned offset (v4+), -1 if unknown.
        leader_epoch: i32 { versions: 4..=99, default: -1 },
    }

    /// The answers for one topic.
    pub struct ListOffsetsResponseTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<ListOffsetsResponsePartition> { versions: 0..=99 },
    }

    /// ListOffsets response.
    pub struct ListOffsetsResponse {
        /// Throttle time in ms (v2+).
        throttle_time_ms: i32 { versions: 2..=99 },
        /// Topics.
        topics: Vec<ListOffsetsResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<ListOffsetsRequest>(0..=10, 6);
        check_round_trip::<ListOffsetsResponse>(0..=10, 6);
        let compared =
            check_against_oracle::<ListOffsetsRequest, oracle::ListOffsetsRequest>(0..=10, 6);
        assert_eq!(compared, (1..=10).collect::<Vec<_>>());
        let compared =
            check_against_oracle::<ListOffsetsResponse, oracle::ListOffsetsResponse>(0..=10, 6);
        assert_eq!(compared, (1..=10).collect::<Vec<_>>());
    }
}

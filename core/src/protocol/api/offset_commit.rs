//! OffsetCommit (key 8): a group member (or a standalone consumer) stores committed offsets.
//! Flexible from v8.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// An offset to commit for one partition.
    pub struct OffsetCommitRequestPartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Offset to commit.
        committed_offset: i64 { versions: 0..=99 },
        /// Leader epoch of the committed record, -1 if unknown (v6+).
        committed_leader_epoch: i32 { versions: 6..=99, default: -1 },
        /// Commit timestamp in ms, -1 for now (v1 only).
        commit_timestamp: i64 { versions: 1..=1, default: -1 },
        /// Client metadata kept with the offset, or null.
        committed_metadata: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
    }

    /// The offsets to commit for one topic.
    pub struct OffsetCommitRequestTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<OffsetCommitRequestPartition> { versions: 0..=99 },
    }

    /// OffsetCommit request.
    pub struct OffsetCommitRequest {
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// Generation id (classic groups) or member epoch (v1+); -1 for standalone commits.
        generation_id_or_member_epoch: i32 { versions: 1..=99, default: -1 },
        /// Member id (v1+); empty for standalone commits.
        member_id: StrBytes { versions: 1..=99 },
        /// Static membership instance id, or null (v7+).
        group_instance_id: Option<StrBytes> { versions: 7..=99, nullable: 7..=99 },
        /// Retention time in ms, -1 for the broker default (v2–v4).
        retention_time_ms: i64 { versions: 2..=4, default: -1 },
        /// Topics.
        topics: Vec<OffsetCommitRequestTopic> { versions: 0..=99 },
    }

    /// The outcome for one partition.
    pub struct OffsetCommitResponsePartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Error code.
        error_code: i16 { versions: 0..=99 },
    }

    /// The outcomes for one topic.
    pub struct OffsetCommitResponseTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<OffsetCommitResponsePartition> { versions: 0..=99 },
    }

    /// OffsetCommit response.
    pub struct OffsetCommitResponse {
        /// Throttle time in ms (v3+).
        throttle_time_ms: i32 { versions: 3..=99 },
        /// Topics.
        topics: Vec<OffsetCommitResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<OffsetCommitRequest>(0..=9, 8);
        check_round_trip::<OffsetCommitResponse>(0..=9, 8);
        // Kafka 4 dropped v0 and v1: the oracle knows v2 and later.
        let compared =
            check_against_oracle::<OffsetCommitRequest, oracle::OffsetCommitRequest>(0..=9, 8);
        assert_eq!(compared, (2..=9).collect::<Vec<i16>>());
        let compared =
            check_against_oracle::<OffsetCommitResponse, oracle::OffsetCommitResponse>(0..=9, 8);
        assert_eq!(compared, (2..=9).collect::<Vec<i16>>());
    }
}

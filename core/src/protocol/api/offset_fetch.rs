//! OffsetFetch (key 9): read a group's committed offsets. Flexible from v6; v8+ asks about a
//! batch of groups at once.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// A topic asked about (v0–v7).
    pub struct OffsetFetchRequestTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=7 },
        /// Partitions asked about.
        partition_indexes: Vec<i32> { versions: 0..=7 },
    }

    /// A topic asked about within a group (v8+).
    pub struct OffsetFetchRequestGroupTopic {
        /// Topic name.
        name: StrBytes { versions: 8..=99 },
        /// Partitions asked about.
        partition_indexes: Vec<i32> { versions: 8..=99 },
    }

    /// A group asked about (v8+).
    pub struct OffsetFetchRequestGroup {
        /// Group id.
        group_id: StrBytes { versions: 8..=99 },
        /// Member id, or null when not fetching as a member (v9+).
        member_id: Option<StrBytes> { versions: 9..=99, nullable: 9..=99 },
        /// Member epoch, -1 when not fetching as a member (v9+).
        member_epoch: i32 { versions: 9..=99, default: -1 },
        /// Topics asked about, or null for all.
        topics: Option<Vec<OffsetFetchRequestGroupTopic>> { versions: 8..=99, nullable: 8..=99 },
    }

    /// OffsetFetch request.
    pub struct OffsetFetchRequest {
        /// Group id (v0–v7).
        group_id: StrBytes { versions: 0..=7 },
        /// Topics asked about (v0–v7); null (v2+) for all.
        topics: Option<Vec<OffsetFetchRequestTopic>> { versions: 0..=7, nullable: 2..=7 },
        /// Groups asked about (v8+).
        groups: Vec<OffsetFetchRequestGroup> { versions: 8..=99 },
        /// Whether to wait for pending transactional offsets to settle (v7+).
        require_stable: bool { versions: 7..=99 },
    }

    /// A partition's committed offset (v0–v7).
    pub struct OffsetFetchResponsePartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=7 },
        /// Committed offset, -1 if none.
        committed_offset: i64 { versions: 0..=7 },
        /// Leader epoch of the committed record, -1 if unknown (v5+).
        committed_leader_epoch: i32 { versions: 5..=7, default: -1 },
        /// Client metadata, or null.
        metadata: Option<StrBytes> { versions: 0..=7, nullable: 0..=7 },
        /// Partition error code.
        error_code: i16 { versions: 0..=7 },
    }

    /// A topic's committed offsets (v0–v7).
    pub struct OffsetFetchResponseTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=7 },
        /// Partitions.
        partitions: Vec<OffsetFetchResponsePartition> { versions: 0..=7 },
    }

    /// A partition's committed offset within a group (v8+).
    pub struct OffsetFetchResponseGroupPartition {
        /// Partition index.
        partition_index: i32 { versions: 8..=99 },
        /// Committed offset, -1 if none.
        committed_offset: i64 { versions: 8..=99 },
        /// Leader epoch of the committed record, -1 if unknown.
        committed_leader_epoch: i32 { versions: 8..=99, default: -1 },
        /// Client metadata, or null.
        metadata: Option<StrBytes> { versions: 8..=99, nullable: 8..=99 },
        /// Partition error code.
        error_code: i16 { versions: 8..=99 },
    }

    /// A topic's committed offsets within a group (v8+).
    pub struct OffsetFetchResponseGroupTopic {
        /// Topic name.
        name: StrBytes { versions: 8..=99 },
        /// Partitions.
        partitions: Vec<OffsetFetchResponseGroupPartition> { versions: 8..=99 },
    }

    /// One group's committed offsets (v8+).
    pub struct OffsetFetchResponseGroup {
        /// Group id.
        group_id: StrBytes { versions: 8..=99 },
        /// Topics.
        topics: Vec<OffsetFetchResponseGroupTopic> { versions: 8..=99 },
        /// Group-level error code.
        error_code: i16 { versions: 8..=99 },
    }

    /// OffsetFetch response.
    pub struct OffsetFetchResponse {
        /// Throttle time in ms (v3+).
        throttle_time_ms: i32 { versions: 3..=99 },
        /// Topics (v0–v7).
        topics: Vec<OffsetFetchResponseTopic> { versions: 0..=7 },
        /// Top-level error code (v2–v7).
        error_code: i16 { versions: 2..=7 },
        /// Groups (v8+).
        groups: Vec<OffsetFetchResponseGroup> { versions: 8..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<OffsetFetchRequest>(0..=9, 6);
        check_round_trip::<OffsetFetchResponse>(0..=9, 6);
        // Kafka 4 dropped v0: the oracle knows v1 and later.
        let compared =
            check_against_oracle::<OffsetFetchRequest, oracle::OffsetFetchRequest>(0..=9, 6);
        assert_eq!(compared, (1..=9).collect::<Vec<i16>>());
        let compared =
            check_against_oracle::<OffsetFetchResponse, oracle::OffsetFetchResponse>(0..=9, 6);
        assert_eq!(compared, (1..=9).collect::<Vec<i16>>());
    }
}

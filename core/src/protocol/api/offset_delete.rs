//! OffsetDelete (key 47): delete a group's committed offsets for some partitions. Never
//! flexible.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// A partition whose offset to delete.
    pub struct OffsetDeleteRequestPartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
    }

    /// A topic whose offsets to delete.
    pub struct OffsetDeleteRequestTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<OffsetDeleteRequestPartition> { versions: 0..=99 },
    }

    /// OffsetDelete request.
    pub struct OffsetDeleteRequest {
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// Topics.
        topics: Vec<OffsetDeleteRequestTopic> { versions: 0..=99 },
    }

    /// The outcome for one partition.
    pub struct OffsetDeleteResponsePartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Error code.
        error_code: i16 { versions: 0..=99 },
    }

    /// The outcome for one topic.
    pub struct OffsetDeleteResponseTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<OffsetDeleteResponsePartition> { versions: 0..=99 },
    }

    /// OffsetDelete response.
    pub struct OffsetDeleteResponse {
        /// Top-level error code.
        error_code: i16 { versions: 0..=99 },
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// Topics.
        topics: Vec<OffsetDeleteResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<OffsetDeleteRequest>(0..=0, 99);
        check_round_trip::<OffsetDeleteResponse>(0..=0, 99);
        let compared =
            check_against_oracle::<OffsetDeleteRequest, oracle::OffsetDeleteRequest>(0..=0, 99);
        assert_eq!(compared, vec![0]);
        let compared =
            check_against_oracle::<OffsetDeleteResponse, oracle::OffsetDeleteResponse>(0..=0, 99);
        assert_eq!(compared, vec![0]);
    }
}

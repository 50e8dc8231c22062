//! DeleteRecords (key 21): moves partitions' log start offsets forward. Flexible from v2.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// One partition to trim.
    pub struct DeleteRecordsRequestPartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Delete records below this offset; -1 means the high watermark.
        offset: i64 { versions: 0..=99 },
    }

    /// One topic to trim.
    pub struct DeleteRecordsRequestTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<DeleteRecordsRequestPartition> { versions: 0..=99 },
    }

    /// DeleteRecords request.
    pub struct DeleteRecordsRequest {
        /// Topics.
        topics: Vec<DeleteRecordsRequestTopic> { versions: 0..=99 },
        /// How long to wait for the deletion, in ms.
        timeout_ms: i32 { versions: 0..=99 },
    }

    /// The outcome for one partition.
    pub struct DeleteRecordsResponsePartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// The partition's new low watermark.
        low_watermark: i64 { versions: 0..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
    }

    /// The outcomes for one topic.
    pub struct DeleteRecordsResponseTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<DeleteRecordsResponsePartition> { versions: 0..=99 },
    }

    /// DeleteRecords response.
    pub struct DeleteRecordsResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// Topics.
        topics: Vec<DeleteRecordsResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<DeleteRecordsRequest>(0..=2, 2);
        check_round_trip::<DeleteRecordsResponse>(0..=2, 2);
        let compared =
            check_against_oracle::<DeleteRecordsRequest, oracle::DeleteRecordsRequest>(0..=2, 2);
        assert_eq!(compared, vec![0, 1, 2]);
        let compared =
            check_against_oracle::<DeleteRecordsResponse, oracle::DeleteRecordsResponse>(0..=2, 2);
        assert_eq!(compared, vec![0, 1, 2]);
    }
}

//! DescribeProducers (key 61): the idempotent producers each partition knows. Flexible from v0.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// A topic whose partitions to describe.
    pub struct DescribeProducersRequestTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partition indexes.
        partition_indexes: Vec<i32> { versions: 0..=99 },
    }

    /// DescribeProducers request.
    pub struct DescribeProducersRequest {
        /// Topics.
        topics: Vec<DescribeProducersRequestTopic> { versions: 0..=99 },
    }

    /// One producer's state in a partition.
    pub struct ProducerState {
        /// Producer id.
        producer_id: i64 { versions: 0..=99 },
        /// Producer epoch.
        producer_epoch: i32 { versions: 0..=99 },
        /// Sequence of the last record stored, -1 if none.
        last_sequence: i32 { versions: 0..=99, default: -1 },
        /// Largest timestamp of its last batch, -1 if unknown.
        last_timestamp: i64 { versions: 0..=99, default: -1 },
        /// Epoch of its transaction coordinator, -1 when not transactional.
        coordinator_epoch: i32 { versions: 0..=99 },
        /// First offset of its open transaction, -1 if none.
        current_txn_start_offset: i64 { versions: 0..=99, default: -1 },
    }

    /// One partition's producers, or the error describing it.
    pub struct DescribeProducersResponsePartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Error message, or null.
        error_message: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
        /// The producers.
        active_producers: Vec<ProducerState> { versions: 0..=99 },
    }

    /// One topic's partitions.
    pub struct DescribeProducersResponseTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<DescribeProducersResponsePartition> { versions: 0..=99 },
    }

    /// DescribeProducers response.
    pub struct DescribeProducersResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// Topics.
        topics: Vec<DescribeProducersResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<DescribeProducersRequest>(0..=0, 0);
        check_round_trip::<DescribeProducersResponse>(0..=0, 0);
        let compared = check_against_oracle::<
            DescribeProducersRequest,
            oracle::DescribeProducersRequest,
        >(0..=0, 0);
        assert_eq!(compared, vec![0]);
        let compared = check_against_oracle::<
            DescribeProducersResponse,
            oracle::DescribeProducersResponse,
        >(0..=0, 0);
        assert_eq!(compared, vec![0]);
    }
}

//! Produce (key 0): appends record batches to partitions. Flexible from v9.

use crate::protocol::wire::{StrBytes, Uuid};
use crate::schema;
use bytes::Bytes;

schema! {
    /// The data sent to one partition.
    pub struct ProduceRequestPartition {
        /// Partition index.
        index: i32 { versions: 0..=99 },
        /// Record batches (a legacy message set before v3), or null.
        records: Option<Bytes> { versions: 0..=99, nullable: 0..=99 },
    }

    /// The data sent to one topic.
    pub struct ProduceRequestTopic {
        /// Topic name (up to v12).
        name: StrBytes { versions: 0..=12 },
        /// Topic id (v13+).
        topic_id: Uuid { versions: 13..=99 },
        /// Partitions written.
        partition_data: Vec<ProduceRequestPartition> { versions: 0..=99 },
    }

    /// Produce request.
    pub struct ProduceRequest {
        /// Transactional id (v3+), null for non-transactional producers.
        transactional_id: Option<StrBytes> { versions: 3..=99, nullable: 3..=99 },
        /// Acknowledgements required: 0, 1 or -1 (all in-sync replicas).
        acks: i16 { versions: 0..=99 },
        /// How long to wait for the acknowledgements, in ms.
        timeout_ms: i32 { versions: 0..=99 },
        /// Topics written.
        topic_data: Vec<ProduceRequestTopic> { versions: 0..=99 },
    }

    /// One record that made its batch fail (v8+).
    pub struct ProduceResponseRecordError {
        /// Index of the record within its batch.
        batch_index: i32 { versions: 8..=99 },
        /// Why the record failed, or null.
        batch_index_error_message: Option<StrBytes> { versions: 8..=99, nullable: 8..=99 },
    }

    /// The current leader of a partition, sent with NOT_LEADER errors (v10+, tagged).
    pub struct ProduceResponseLeaderIdAndEpoch {
        /// Leader broker id, or -1.
        leader_id: i32 { versions: 10..=99, default: -1 },
        /// Leader epoch, or -1.
        leader_epoch: i32 { versions: 10..=99, default: -1 },
    }

    /// The outcome for one partition.
    pub struct ProduceResponsePartition {
        /// Partition index.
        index: i32 { versions: 0..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Offset given to the first record appended.
        base_offset: i64 { versions: 0..=99 },
        /// Broker append time for LogAppendTime topics (v2+), else -1.
        log_append_time_ms: i64 { versions: 2..=99, default: -1 },
        /// Log start offset of the partition (v5+).
        log_start_offset: i64 { versions: 5..=99, default: -1 },
        /// Records that made the batch fail (v8+).
        record_errors: Vec<ProduceResponseRecordError> { versions: 8..=99 },
        /// Summary of the batch failure, or null (v8+).
        error_message: Option<StrBytes> { versions: 8..=99, nullable: 8..=99 },
        /// The current leader, when this broker is not it (v10+).
        current_leader: ProduceResponseLeaderIdAndEpoch { versions: 10..=99, tag: 0 },
    }

    /// The outcome for one topic.
    pub struct ProduceResponseTopic {
        /// Topic name (up to v12).
        name: StrBytes { versions: 0..=12 },
        /// Topic id (v13+).
        topic_id: Uuid { versions: 13..=99 },
        /// Per-partition outcomes.
        partition_responses: Vec<ProduceResponsePartition> { versions: 0..=99 },
    }

    /// A broker named by `current_leader` (v10+, tagged).
    pub struct ProduceResponseNodeEndpoint {
        /// Broker id.
        node_id: i32 { versions: 10..=99 },
        /// Host name.
        host: StrBytes { versions: 10..=99 },
        /// Port.
        port: i32 { versions: 10..=99 },
        /// Rack, or null.
        rack: Option<StrBytes> { versions: 10..=99, nullable: 10..=99 },
    }

    /// Produce response.
    pub struct ProduceResponse {
        /// Per-topic outcomes.
        responses: Vec<ProduceResponseTopic> { versions: 0..=99 },
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// Endpoints of the leaders named in the partitions (v10+).
        node_endpoints: Vec<ProduceResponseNodeEndpoint> { versions: 10..=99, tag: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<ProduceRequest>(0..=11, 9);
        check_round_trip::<ProduceResponse>(0..=11, 9);
        let compared = check_against_oracle::<ProduceRequest, oracle::ProduceRequest>(0..=11, 9);
        assert_eq!(compared, (3..=11).collect::<Vec<_>>());
        let compared = check_against_oracle::<ProduceResponse, oracle::ProduceResponse>(0..=11, 9);
        assert_eq!(compared, (3..=11).collect::<Vec<_>>());
    }
}

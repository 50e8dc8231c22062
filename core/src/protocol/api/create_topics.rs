//! CreateTopics (key 19): create topics with a partition count and replication factor or an
//! explicit replica assignment. Flexible from v5.

use crate::protocol::wire::{StrBytes, Uuid};
use crate::schema;

schema! {
    /// A manual assignment of one partition's replicas.
    pub struct CreateTopicsRequestAssignment {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Brokers to place the replicas on.
        broker_ids: Vec<i32> { versions: 0..=99 },
    }

    /// A topic config to set at creation.
    pub struct CreateTopicsRequestConfig {
        /// Config name.
        name: StrBytes { versions: 0..=99 },
        /// Config value, or null.
        value: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
    }

    /// A topic to create.
    pub struct CreateTopicsRequestTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partition count, or -1 for the default or a manual assignment.
        num_partitions: i32 { versions: 0..=99 },
        /// Replication factor, or -1 for the default or a manual assignment.
        replication_factor: i16 { versions: 0..=99 },
        /// Manual assignment; empty for automatic placement.
        assignments: Vec<CreateTopicsRequestAssignment> { versions: 0..=99 },
        /// Topic configs to set.
        configs: Vec<CreateTopicsRequestConfig> { versions: 0..=99 },
    }

    /// CreateTopics request.
    pub struct CreateTopicsRequest {
        /// Topics to create.
        topics: Vec<CreateTopicsRequestTopic> { versions: 0..=99 },
        /// How long to wait, in ms.
        timeout_ms: i32 { versions: 0..=99, default: 60000 },
        /// Only check the request, create nothing (v1+).
        validate_only: bool { versions: 1..=99 },
    }

    /// A config of a created topic (v5+).
    pub struct CreateTopicsResponseConfig {
        /// Config name.
        name: StrBytes { versions: 5..=99 },
        /// Config value, or null.
        value: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
        /// Whether the config is read-only.
        read_only: bool { versions: 5..=99 },
        /// Where the value comes from, -1 if unknown.
        config_source: i8 { versions: 5..=99, default: -1 },
        /// Whether the config is sensitive.
        is_sensitive: bool { versions: 5..=99 },
    }

    /// The outcome for one topic.
    pub struct CreateTopicsResponseTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Topic id (v7+).
        topic_id: Uuid { versions: 7..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Error message, or null (v1+).
        error_message: Option<StrBytes> { versions: 1..=99, nullable: 0..=99 },
        /// Why the configs could not be returned (v5+, tagged).
        topic_config_error_code: i16 { versions: 5..=99, tag: 0 },
        /// Partition count (v5+), -1 if unknown.
        num_partitions: i32 { versions: 5..=99, default: -1 },
        /// Replication factor (v5+), -1 if unknown.
        replication_factor: i16 { versions: 5..=99, default: -1 },
        /// The topic's configs (v5+), or null.
        configs: Option<Vec<CreateTopicsResponseConfig>> { versions: 5..=99, nullable: 5..=99 },
    }

    /// CreateTopics response.
    pub struct CreateTopicsResponse {
        /// Throttle time in ms (v2+).
        throttle_time_ms: i32 { versions: 2..=99 },
        /// One result per topic.
        topics: Vec<CreateTopicsResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<CreateTopicsRequest>(0..=7, 5);
        check_round_trip::<CreateTopicsResponse>(0..=7, 5);
        let compared =
            check_against_oracle::<CreateTopicsRequest, oracle::CreateTopicsRequest>(0..=7, 5);
        assert_eq!(compared, vec![2, 3, 4, 5, 6, 7]);
        let compared =
            check_against_oracle::<CreateTopicsResponse, oracle::CreateTopicsResponse>(0..=7, 5);
        assert_eq!(compared, vec![2, 3, 4, 5, 6, 7]);
    }
}

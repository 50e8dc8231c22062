//! Metadata (key 3): brokers, topics and partitions. Flexible from v9.

use crate::protocol::wire::{StrBytes, Uuid};
use crate::schema;

schema! {
    /// A topic asked about.
    pub struct MetadataRequestTopic {
        /// Topic id (v10+); zero when the name is used.
        topic_id: Uuid { versions: 10..=99 },
        /// Topic name; null (v10+) when the id is used.
        name: Option<StrBytes> { versions: 0..=99, nullable: 10..=99 },
    }

    /// Metadata request.
    pub struct MetadataRequest {
        /// Topics to describe; empty (v0) or null (v1+) for all topics.
        topics: Option<Vec<MetadataRequestTopic>> { versions: 0..=99, nullable: 1..=99 },
        /// Whether absent topics may be auto-created (v4+).
        allow_auto_topic_creation: bool { versions: 4..=99, default: true },
        /// Whether to return cluster authorized operations (v8–v10).
        include_cluster_authorized_operations: bool { versions: 8..=10 },
        /// Whether to return topic authorized operations (v8+).
        include_topic_authorized_operations: bool { versions: 8..=99 },
    }

    /// A broker in the cluster.
    pub struct MetadataResponseBroker {
        /// Broker id.
        node_id: i32 { versions: 0..=99 },
        /// Host name.
        host: StrBytes { versions: 0..=99 },
        /// Port.
        port: i32 { versions: 0..=99 },
        /// Rack, or null (v1+).
        rack: Option<StrBytes> { versions: 1..=99, nullable: 1..=99 },
    }

    /// A partition of a topic.
    pub struct MetadataResponsePartition {
        /// Partition error code.
        error_code: i16 { versions: 0..=99 },
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Leader broker id, or -1.
        leader_id: i32 { versions: 0..=99 },
        /// Leader epoch (v7+).
        leader_epoch: i32 { versions: 7..=99, default: -1 },
        /// Replica broker ids.
        replica_nodes: Vec<i32> { versions: 0..=99 },
        /// In-sync replica broker ids.
        isr_nodes: Vec<i32> { versions: 0..=99 },
        /// Offline replica broker ids (v5+).
        offline_replicas: Vec<i32> { versions: 5..=99 },
    }

    /// A topic.
    pub struct MetadataResponseTopic {
        /// Topic error code.
        error_code: i16 { versions: 0..=99 },
        /// Topic name (nullable v12+).
        name: Option<StrBytes> { versions: 0..=99, nullable: 12..=99 },
        /// Topic id (v10+).
        topic_id: Uuid { versions: 10..=99 },
        /// Whether the topic is internal (v1+).
        is_internal: bool { versions: 1..=99 },
        /// Partitions.
        partitions: Vec<MetadataResponsePartition> { versions: 0..=99 },
        /// Topic authorized operations bit field (v8+).
        topic_authorized_operations: i32 { versions: 8..=99, default: i32::MIN },
    }

    /// Metadata response.
    pub struct MetadataResponse {
        /// Throttle time in ms (v3+).
        throttle_time_ms: i32 { versions: 3..=99 },
        /// Brokers.
        brokers: Vec<MetadataResponseBroker> { versions: 0..=99 },
        /// Cluster id (v2+), nullable.
        cluster_id: Option<StrBytes> { versions: 2..=99, nullable: 2..=99 },
        /// Controller broker id (v1+), -1 if none.
        controller_id: i32 { versions: 1..=99, default: -1 },
        /// Topics.
        topics: Vec<MetadataResponseTopic> { versions: 0..=99 },
        /// Cluster authorized operations (v8–v10).
        cluster_authorized_operations: i32 { versions: 8..=10, default: i32::MIN },
        /// Top-level error code (v13+).
        error_code: i16 { versions: 13..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<MetadataRequest>(0..=12, 9);
        check_round_trip::<MetadataResponse>(0..=12, 9);
        let compared = check_against_oracle::<MetadataRequest, oracle::MetadataRequest>(0..=12, 9);
        assert!(!compared.is_empty());
        check_against_oracle::<MetadataResponse, oracle::MetadataResponse>(0..=12, 9);
    }
}

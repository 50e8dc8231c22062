//! Fetch (key 1): reads record batches from partitions, for consumers and followers.
//! Flexible from v12; topic ids replace topic names from v13.

use crate::protocol::wire::{StrBytes, Uuid};
use crate::schema;
use bytes::Bytes;

schema! {
    /// One partition to read.
    pub struct FetchRequestPartition {
        /// Partition index.
        partition: i32 { versions: 0..=99 },
        /// The fetcher's idea of the leader epoch (v9+), -1 if unknown.
        current_leader_epoch: i32 { versions: 9..=99, default: -1 },
        /// Offset to read from.
        fetch_offset: i64 { versions: 0..=99 },
        /// Epoch of the last fetched record (v12+), -1 if unknown.
        last_fetched_epoch: i32 { versions: 12..=99, default: -1 },
        /// The follower's log start offset (v5+), -1 for consumers.
        log_start_offset: i64 { versions: 5..=99, default: -1 },
        /// Byte limit for this partition.
        partition_max_bytes: i32 { versions: 0..=99 },
        /// Directory id of the follower's replica (v17+).
        replica_directory_id: Uuid { versions: 17..=99, tag: 0 },
        /// The follower's high watermark (v18+).
        high_watermark: i64 { versions: 18..=99, tag: 1, default: i64::MAX },
    }

    /// One topic to read.
    pub struct FetchRequestTopic {
        /// Topic name (up to v12).
        topic: StrBytes { versions: 0..=12 },
        /// Topic id (v13+).
        topic_id: Uuid { versions: 13..=99 },
        /// Partitions to read.
        partitions: Vec<FetchRequestPartition> { versions: 0..=99 },
    }

    /// Partitions to drop from an incremental fetch session (v7+).
    pub struct FetchRequestForgottenTopic {
        /// Topic name (v7–v12).
        topic: StrBytes { versions: 7..=12 },
        /// Topic id (v13+).
        topic_id: Uuid { versions: 13..=99 },
        /// Partition indexes to drop.
        partitions: Vec<i32> { versions: 7..=99 },
    }

    /// The fetching replica, when sent by a follower (v15+, tagged).
    pub struct FetchRequestReplicaState {
        /// Replica broker id, -1 for consumers.
        replica_id: i32 { versions: 15..=99, default: -1 },
        /// Replica broker epoch, -1 if unknown.
        replica_epoch: i64 { versions: 15..=99, default: -1 },
    }

    /// Fetch request.
    pub struct FetchRequest {
        /// Cluster id the fetcher expects (v12+), or null.
        cluster_id: Option<StrBytes> { versions: 12..=99, nullable: 12..=99, tag: 0 },
        /// Replica broker id (up to v14), -1 for consumers.
        replica_id: i32 { versions: 0..=14, default: -1 },
        /// Replica identity (v15+).
        replica_state: FetchRequestReplicaState { versions: 15..=99, tag: 1 },
        /// Longest wait for `min_bytes`, in ms.
        max_wait_ms: i32 { versions: 0..=99 },
        /// Least bytes worth answering with.
        min_bytes: i32 { versions: 0..=99 },
        /// Byte limit for the whole response (v3+).
        max_bytes: i32 { versions: 3..=99, default: i32::MAX },
        /// 0 = read uncommitted, 1 = read committed (v4+).
        isolation_level: i8 { versions: 4..=99 },
        /// Fetch session id (v7+), 0 for none.
        session_id: i32 { versions: 7..=99 },
        /// Fetch session epoch (v7+), -1 for none.
        session_epoch: i32 { versions: 7..=99, default: -1 },
        /// Topics to read.
        topics: Vec<FetchRequestTopic> { versions: 0..=99 },
        /// Partitions to remove from the session (v7+).
        forgotten_topics_data: Vec<FetchRequestForgottenTopic> { versions: 7..=99 },
        /// The consumer's rack (v11+).
        rack_id: StrBytes { versions: 11..=99 },
    }

    /// An aborted transaction overlapping the returned records.
    pub struct FetchResponseAbortedTransaction {
        /// Producer id of the aborted transaction.
        producer_id: i64 { versions: 4..=99 },
        /// First offset of the aborted transaction.
        first_offset: i64 { versions: 4..=99 },
    }

    /// Where the follower's log diverges from the leader's (v12+, tagged).
    pub struct FetchResponseEpochEndOffset {
        /// Epoch.
        epoch: i32 { versions: 12..=99, default: -1 },
        /// End offset of that epoch.
        end_offset: i64 { versions: 12..=99, default: -1 },
    }

    /// The current leader of a partition (v12+, tagged).
    pub struct FetchResponseLeaderIdAndEpoch {
        /// Leader broker id, or -1.
        leader_id: i32 { versions: 12..=99, default: -1 },
        /// Leader epoch, or -1.
        leader_epoch: i32 { versions: 12..=99, default: -1 },
    }

    /// The snapshot a follower should fetch instead (v12+, tagged).
    pub struct FetchResponseSnapshotId {
        /// Snapshot end offset.
        end_offset: i64 { versions: 0..=99, default: -1 },
        /// Snapshot epoch.
        epoch: i32 { versions: 0..=99, default: -1 },
    }

    /// Data for one partition.
    pub struct FetchResponsePartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// High watermark.
        high_watermark: i64 { versions: 0..=99 },
        /// Last stable offset (v4+), -1 if unknown.
        last_stable_offset: i64 { versions: 4..=99, default: -1 },
        /// Log start offset (v5+), -1 if unknown.
        log_start_offset: i64 { versions: 5..=99, default: -1 },
        /// Divergence point for the follower (v12+).
        diverging_epoch: FetchResponseEpochEndOffset { versions: 12..=99, tag: 0 },
        /// Current leader, when this broker is not it (v12+).
        current_leader: FetchResponseLeaderIdAndEpoch { versions: 12..=99, tag: 1 },
        /// Snapshot to fetch instead (v12+).
        snapshot_id: FetchResponseSnapshotId { versions: 12..=99, tag: 2 },
        /// Aborted transactions in the returned range (v4+), or null.
        aborted_transactions: Option<Vec<FetchResponseAbortedTransaction>> {
            versions: 4..=99,
            nullable: 4..=99
        },
        /// Replica the consumer should read from instead (v11+), -1 for none.
        preferred_read_replica: i32 { versions: 11..=99, default: -1 },
        /// Record batches, or null.
        records: Option<Bytes> { versions: 0..=99, nullable: 0..=99 },
    }

    /// Data for one topic.
    pub struct FetchResponseTopic {
        /// Topic name (up to v12).
        topic: StrBytes { versions: 0..=12 },
        /// Topic id (v13+).
        topic_id: Uuid { versions: 13..=99 },
        /// Per-partition data.
        partitions: Vec<FetchResponsePartition> { versions: 0..=99 },
    }

    /// A broker named by `current_leader` (v16+, tagged).
    pub struct FetchResponseNodeEndpoint {
        /// Broker id.
        node_id: i32 { versions: 16..=99 },
        /// Host name.
        host: StrBytes { versions: 16..=99 },
        /// Port.
        port: i32 { versions: 16..=99 },
        /// Rack, or null.
        rack: Option<StrBytes> { versions: 16..=99, nullable: 16..=99 },
    }

    /// Fetch response.
    pub struct FetchResponse {
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// Top-level error code (v7+).
        error_code: i16 { versions: 7..=99 },
        /// Fetch session id (v7+), 0 for none.
        session_id: i32 { versions: 7..=99 },
        /// Per-topic data.
        responses: Vec<FetchResponseTopic> { versions: 0..=99 },
        /// Endpoints of the leaders named in the partitions (v16+).
        node_endpoints: Vec<FetchResponseNodeEndpoint> { versions: 16..=99, tag: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<FetchRequest>(4..=16, 12);
        check_round_trip::<FetchResponse>(4..=16, 12);
        let compared = check_against_oracle::<FetchRequest, oracle::FetchRequest>(4..=16, 12);
        assert_eq!(compared, (4..=16).collect::<Vec<_>>());
        let compared = check_against_oracle::<FetchResponse, oracle::FetchResponse>(4..=16, 12);
        assert_eq!(compared, (4..=16).collect::<Vec<_>>());
    }
}

//! DescribeLogDirs (key 35): the log directories and the size of each partition in them.
//! Flexible from v2. Kafka 4 dropped v0, which has v1's layout.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// A topic whose partitions to describe.
    pub struct DescribableLogDirTopic {
        /// Topic name.
        topic: StrBytes { versions: 0..=99 },
        /// Partition indexes.
        partitions: Vec<i32> { versions: 0..=99 },
    }

    /// DescribeLogDirs request.
    pub struct DescribeLogDirsRequest {
        /// Topics to describe, or null for every partition.
        topics: Option<Vec<DescribableLogDirTopic>> { versions: 0..=99, nullable: 0..=99 },
    }

    /// One partition's log.
    pub struct DescribeLogDirsPartition {
        /// Partition index.
        partition_index: i32 { versions: 0..=99 },
        /// Bytes in the partition's segments.
        partition_size: i64 { versions: 0..=99 },
        /// Log end offset minus high watermark.
        offset_lag: i64 { versions: 0..=99 },
        /// Whether this is a future log (AlterReplicaLogDirs); never, here.
        is_future_key: bool { versions: 0..=99 },
    }

    /// The partitions of one topic in a directory.
    pub struct DescribeLogDirsTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Partitions.
        partitions: Vec<DescribeLogDirsPartition> { versions: 0..=99 },
    }

    /// One log directory.
    pub struct DescribeLogDirsResult {
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Absolute path of the directory.
        log_dir: StrBytes { versions: 0..=99 },
        /// Topics with partitions in it.
        topics: Vec<DescribeLogDirsTopic> { versions: 0..=99 },
        /// Size of the volume holding it, -1 if unknown (v4+).
        total_bytes: i64 { versions: 4..=99, default: -1 },
        /// Bytes of that volume this process may still use, -1 if unknown (v4+).
        usable_bytes: i64 { versions: 4..=99, default: -1 },
    }

    /// DescribeLogDirs response.
    pub struct DescribeLogDirsResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// Top-level error code (v3+).
        error_code: i16 { versions: 3..=99 },
        /// Log directories.
        results: Vec<DescribeLogDirsResult> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<DescribeLogDirsRequest>(0..=4, 2);
        check_round_trip::<DescribeLogDirsResponse>(0..=4, 2);
        // The oracle knows v1–v4 (Kafka 4 dropped v0, which is v1's layout).
        let compared = check_against_oracle::<DescribeLogDirsRequest, oracle::DescribeLogDirsRequest>(
            0..=4,
            2,
        );
        assert_eq!(compared, vec![1, 2, 3, 4]);
        let compared = check_against_oracle::<
            DescribeLogDirsResponse,
            oracle::DescribeLogDirsResponse,
        >(0..=4, 2);
        assert_eq!(compared, vec![1, 2, 3, 4]);
    }
}

//! DescribeCluster (key 60): cluster id, controller and brokers. Flexible from v0.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// DescribeCluster request.
    pub struct DescribeClusterRequest {
        /// Whether to return the cluster authorized operations.
        include_cluster_authorized_operations: bool { versions: 0..=99 },
        /// Endpoint type to describe (v1+): 1 brokers, 2 controllers.
        endpoint_type: i8 { versions: 1..=99, default: 1 },
        /// Whether to include fenced brokers (v2+).
        include_fenced_brokers: bool { versions: 2..=99 },
    }

    /// A broker in the cluster.
    pub struct DescribeClusterBroker {
        /// Broker id.
        broker_id: i32 { versions: 0..=99 },
        /// Host name.
        host: StrBytes { versions: 0..=99 },
        /// Port.
        port: i32 { versions: 0..=99 },
        /// Rack, or null.
        rack: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
        /// Whether the broker is fenced (v2+).
        is_fenced: bool { versions: 2..=99 },
    }

    /// DescribeCluster response.
    pub struct DescribeClusterResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// Top-level error code.
        error_code: i16 { versions: 0..=99 },
        /// Top-level error message, or null.
        error_message: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
        /// Endpoint type described (v1+).
        endpoint_type: i8 { versions: 1..=99, default: 1 },
        /// Cluster id.
        cluster_id: StrBytes { versions: 0..=99 },
        /// Controller broker id, -1 if none.
        controller_id: i32 { versions: 0..=99, default: -1 },
        /// Brokers.
        brokers: Vec<DescribeClusterBroker> { versions: 0..=99 },
        /// Cluster authorized operations bit field.
        cluster_authorized_operations: i32 { versions: 0..=99, default: i32::MIN },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<DescribeClusterRequest>(0..=1, 0);
        check_round_trip::<DescribeClusterResponse>(0..=1, 0);
        let compared = check_against_oracle::<DescribeClusterRequest, oracle::DescribeClusterRequest>(
            0..=1,
            0,
        );
        assert_eq!(compared, vec![0, 1]);
        let compared = check_against_oracle::<
            DescribeClusterResponse,
            oracle::DescribeClusterResponse,
        >(0..=1, 0);
        assert_eq!(compared, vec![0, 1]);
    }
}

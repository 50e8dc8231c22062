//! ApiVersions (key 18): which APIs and versions the broker implements.
//! Flexible from v3. Its response always uses response header v0 (KIP-511), so a client
//! that sent a version the broker does not know can still read the answer.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// ApiVersions request.
    pub struct ApiVersionsRequest {
        /// The client's software name (v3+).
        client_software_name: StrBytes { versions: 3..=99 },
        /// The client's software version (v3+).
        client_software_version: StrBytes { versions: 3..=99 },
    }

    /// One API the broker supports.
    pub struct ApiVersion {
        /// The API key.
        api_key: i16 { versions: 0..=99 },
        /// Lowest supported version.
        min_version: i16 { versions: 0..=99 },
        /// Highest supported version.
        max_version: i16 { versions: 0..=99 },
    }

    /// A feature the broker supports (v3+, tagged).
    pub struct SupportedFeatureKey {
        /// Feature name.
        name: StrBytes { versions: 3..=99 },
        /// Lowest supported level.
        min_version: i16 { versions: 3..=99 },
        /// Highest supported level.
        max_version: i16 { versions: 3..=99 },
    }

    /// A finalized cluster feature (v3+, tagged).
    pub struct FinalizedFeatureKey {
        /// Feature name.
        name: StrBytes { versions: 3..=99 },
        /// Highest finalized level.
        max_version_level: i16 { versions: 3..=99 },
        /// Lowest finalized level.
        min_version_level: i16 { versions: 3..=99 },
    }

    /// ApiVersions response.
    pub struct ApiVersionsResponse {
        /// Error code; UNSUPPORTED_VERSION when the request's version is unknown.
        error_code: i16 { versions: 0..=99 },
        /// The APIs supported.
        api_keys: Vec<ApiVersion> { versions: 0..=99 },
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// Supported features.
        supported_features: Vec<SupportedFeatureKey> { versions: 3..=99, tag: 0 },
        /// Epoch of the finalized features, -1 if unknown.
        finalized_features_epoch: i64 { versions: 3..=99, tag: 1, default: -1 },
        /// Finalized features.
        finalized_features: Vec<FinalizedFeatureKey> { versions: 3..=99, tag: 2 },
        /// Whether the controller is ready for a ZooKeeper migration.
        zk_migration_ready: bool { versions: 3..=99, tag: 3 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<ApiVersionsRequest>(0..=4, 3);
        check_round_trip::<ApiVersionsResponse>(0..=4, 3);
        let compared =
            check_against_oracle::<ApiVersionsRequest, oracle::ApiVersionsRequest>(0..=4, 3);
        assert_eq!(compared, vec![0, 1, 2, 3, 4]);
        check_against_oracle::<ApiVersionsResponse, oracle::ApiVersionsResponse>(0..=4, 3);
    }
}

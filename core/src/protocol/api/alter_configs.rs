//! AlterConfigs (key 33): replace the whole config set of resources. Flexible from v2.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// A config to set.
    pub struct AlterConfigsRequestConfig {
        /// Config name.
        name: StrBytes { versions: 0..=99 },
        /// Config value, or null.
        value: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
    }

    /// A resource whose configs are replaced.
    pub struct AlterConfigsRequestResource {
        /// Resource type.
        resource_type: i8 { versions: 0..=99 },
        /// Resource name.
        resource_name: StrBytes { versions: 0..=99 },
        /// The new configs.
        configs: Vec<AlterConfigsRequestConfig> { versions: 0..=99 },
    }

    /// AlterConfigs request.
    pub struct AlterConfigsRequest {
        /// Resources to update.
        resources: Vec<AlterConfigsRequestResource> { versions: 0..=99 },
        /// Only check the request, change nothing.
        validate_only: bool { versions: 0..=99 },
    }

    /// The outcome for one resource.
    pub struct AlterConfigsResponseResource {
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Error message, or null.
        error_message: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
        /// Resource type.
        resource_type: i8 { versions: 0..=99 },
        /// Resource name.
        resource_name: StrBytes { versions: 0..=99 },
    }

    /// AlterConfigs response.
    pub struct AlterConfigsResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// One result per resource.
        responses: Vec<AlterConfigsResponseResource> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<AlterConfigsRequest>(0..=2, 2);
        check_round_trip::<AlterConfigsResponse>(0..=2, 2);
        let compared =
            check_against_oracle::<AlterConfigsRequest, oracle::AlterConfigsRequest>(0..=2, 2);
        assert_eq!(compared, vec![0, 1, 2]);
        let compared =
            check_against_oracle::<AlterConfigsResponse, oracle::AlterConfigsResponse>(0..=2, 2);
        assert_eq!(compared, vec![0, 1, 2]);
    }
}

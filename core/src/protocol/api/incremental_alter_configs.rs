//! IncrementalAlterConfigs (key 44): set, delete, append to or subtract from single configs
//! of resources. Flexible from v1.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// One change to a config.
    pub struct IncrementalAlterConfigsRequestConfig {
        /// Config name.
        name: StrBytes { versions: 0..=99 },
        /// Operation: 0 set, 1 delete, 2 append, 3 subtract.
        config_operation: i8 { versions: 0..=99 },
        /// Value for the operation, or null.
        value: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
    }

    /// A resource whose configs change.
    pub struct IncrementalAlterConfigsRequestResource {
        /// Resource type.
        resource_type: i8 { versions: 0..=99 },
        /// Resource name.
        resource_name: StrBytes { versions: 0..=99 },
        /// The changes.
        configs: Vec<IncrementalAlterConfigsRequestConfig> { versions: 0..=99 },
    }

    /// IncrementalAlterConfigs request.
    pub struct IncrementalAlterConfigsRequest {
        /// Resources to update.
        resources: Vec<IncrementalAlterConfigsRequestResource> { versions: 0..=99 },
        /// Only check the request, change nothing.
        validate_only: bool { versions: 0..=99 },
    }

    /// The outcome for one resource.
    pub struct IncrementalAlterConfigsResponseResource {
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Error message, or null.
        error_message: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
        /// Resource type.
        resource_type: i8 { versions: 0..=99 },
        /// Resource name.
        resource_name: StrBytes { versions: 0..=99 },
    }

    /// IncrementalAlterConfigs response.
    pub struct IncrementalAlterConfigsResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// One result per resource.
        responses: Vec<IncrementalAlterConfigsResponseResource> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<IncrementalAlterConfigsRequest>(0..=1, 1);
        check_round_trip::<IncrementalAlterConfigsResponse>(0..=1, 1);
        let compared = check_against_oracle::<
            IncrementalAlterConfigsRequest,
            oracle::IncrementalAlterConfigsRequest,
        >(0..=1, 1);
        assert_eq!(compared, vec![0, 1]);
        let compared = check_against_oracle::<
            IncrementalAlterConfigsResponse,
            oracle::IncrementalAlterConfigsResponse,
        >(0..=1, 1);
        assert_eq!(compared, vec![0, 1]);
    }
}

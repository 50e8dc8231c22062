//! DescribeConfigs (key 32): read the configs of topics, brokers and other resources.
//! Flexible from v4.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// A resource whose configs are asked for.
    pub struct DescribeConfigsRequestResource {
        /// Resource type.
        resource_type: i8 { versions: 0..=99 },
        /// Resource name.
        resource_name: StrBytes { versions: 0..=99 },
        /// Config keys to return, or null for all.
        configuration_keys: Option<Vec<StrBytes>> { versions: 0..=99, nullable: 0..=99 },
    }

    /// DescribeConfigs request.
    pub struct DescribeConfigsRequest {
        /// Resources to describe.
        resources: Vec<DescribeConfigsRequestResource> { versions: 0..=99 },
        /// Whether to return synonyms (v1+).
        include_synonyms: bool { versions: 1..=99 },
        /// Whether to return documentation (v3+).
        include_documentation: bool { versions: 3..=99 },
    }

    /// Another source of a config's value (v1+).
    pub struct DescribeConfigsResponseSynonym {
        /// Synonym name.
        name: StrBytes { versions: 1..=99 },
        /// Synonym value, or null.
        value: Option<StrBytes> { versions: 1..=99, nullable: 0..=99 },
        /// Synonym source.
        source: i8 { versions: 1..=99 },
    }

    /// One config of a resource.
    pub struct DescribeConfigsResponseConfig {
        /// Config name.
        name: StrBytes { versions: 0..=99 },
        /// Config value, or null.
        value: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
        /// Whether the config is read-only.
        read_only: bool { versions: 0..=99 },
        /// Whether the config is unset (v0 only).
        is_default: bool { versions: 0..=0 },
        /// Where the value comes from (v1+), -1 if unknown.
        config_source: i8 { versions: 1..=99, default: -1 },
        /// Whether the config is sensitive.
        is_sensitive: bool { versions: 0..=99 },
        /// Synonyms (v1+).
        synonyms: Vec<DescribeConfigsResponseSynonym> { versions: 1..=99 },
        /// Config data type (v3+).
        config_type: i8 { versions: 3..=99 },
        /// Config documentation (v3+), or null.
        documentation: Option<StrBytes> { versions: 3..=99, nullable: 0..=99 },
    }

    /// The outcome for one resource.
    pub struct DescribeConfigsResponseResult {
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Error message, or null.
        error_message: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
        /// Resource type.
        resource_type: i8 { versions: 0..=99 },
        /// Resource name.
        resource_name: StrBytes { versions: 0..=99 },
        /// The configs.
        configs: Vec<DescribeConfigsResponseConfig> { versions: 0..=99 },
    }

    /// DescribeConfigs response.
    pub struct DescribeConfigsResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// One result per resource.
        results: Vec<DescribeConfigsResponseResult> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<DescribeConfigsRequest>(0..=4, 4);
        check_round_trip::<DescribeConfigsResponse>(0..=4, 4);
        let compared = check_against_oracle::<DescribeConfigsRequest, oracle::DescribeConfigsRequest>(
            0..=4,
            4,
        );
        assert_eq!(compared, vec![1, 2, 3, 4]);
        let compared = check_against_oracle::<
            DescribeConfigsResponse,
            oracle::DescribeConfigsResponse,
        >(0..=4, 4);
        assert_eq!(compared, vec![1, 2, 3, 4]);
    }
}

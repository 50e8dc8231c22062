//! DeleteTopics (key 20): delete topics by name, or (v6+) by name or id. Flexible from v4.

use crate::protocol::wire::{StrBytes, Uuid};
use crate::schema;

schema! {
    /// A topic to delete (v6+).
    pub struct DeleteTopicsRequestTopic {
        /// Topic name, or null when the id is used.
        name: Option<StrBytes> { versions: 6..=99, nullable: 6..=99 },
        /// Topic id; zero when the name is used.
        topic_id: Uuid { versions: 6..=99 },
    }

    /// DeleteTopics request.
    pub struct DeleteTopicsRequest {
        /// Topics to delete (v6+).
        topics: Vec<DeleteTopicsRequestTopic> { versions: 6..=99 },
        /// Names of the topics to delete (v0–v5).
        topic_names: Vec<StrBytes> { versions: 0..=5 },
        /// How long to wait, in ms.
        timeout_ms: i32 { versions: 0..=99 },
    }

    /// The outcome for one topic.
    pub struct DeleteTopicsResponseTopic {
        /// Topic name; null (v6+) when unknown.
        name: Option<StrBytes> { versions: 0..=99, nullable: 6..=99 },
        /// Topic id (v6+).
        topic_id: Uuid { versions: 6..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Error message, or null (v5+).
        error_message: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
    }

    /// DeleteTopics response.
    pub struct DeleteTopicsResponse {
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// One result per topic.
        responses: Vec<DeleteTopicsResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<DeleteTopicsRequest>(0..=6, 4);
        check_round_trip::<DeleteTopicsResponse>(0..=6, 4);
        let compared =
            check_against_oracle::<DeleteTopicsRequest, oracle::DeleteTopicsRequest>(0..=6, 4);
        assert_eq!(compared, vec![1, 2, 3, 4, 5, 6]);
        let compared =
            check_against_oracle::<DeleteTopicsResponse, oracle::DeleteTopicsResponse>(0..=6, 4);
        assert_eq!(compared, vec![1, 2, 3, 4, 5, 6]);
    }
}

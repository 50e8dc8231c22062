//! CreatePartitions (key 37): raise the partition count of existing topics. Flexible from v2.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// The replicas of one new partition.
    pub struct CreatePartitionsRequestAssignment {
        /// Brokers to place the replicas on.
        broker_ids: Vec<i32> { versions: 0..=99 },
    }

    /// A topic to grow.
    pub struct CreatePartitionsRequestTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// The new total partition count.
        count: i32 { versions: 0..=99 },
        /// Assignments of the new partitions, or null for automatic placement.
        assignments: Option<Vec<CreatePartitionsRequestAssignment>> { versions: 0..=99, nullable: 0..=99 },
    }

    /// CreatePartitions request.
    pub struct CreatePartitionsRequest {
        /// Topics to grow.
        topics: Vec<CreatePartitionsRequestTopic> { versions: 0..=99 },
        /// How long to wait, in ms.
        timeout_ms: i32 { versions: 0..=99 },
        /// Only check the request, change nothing.
        validate_only: bool { versions: 0..=99 },
    }

    /// The outcome for one topic.
    pub struct CreatePartitionsResponseTopic {
        /// Topic name.
        name: StrBytes { versions: 0..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// Error message, or null.
        error_message: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
    }

    /// CreatePartitions response.
    pub struct CreatePartitionsResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// One result per topic.
        results: Vec<CreatePartitionsResponseTopic> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<CreatePartitionsRequest>(0..=3, 2);
        check_round_trip::<CreatePartitionsResponse>(0..=3, 2);
        let compared = check_against_oracle::<
            CreatePartitionsRequest,
            oracle::CreatePartitionsRequest,
        >(0..=3, 2);
        assert_eq!(compared, vec![0, 1, 2, 3]);
        let compared = check_against_oracle::<
            CreatePartitionsResponse,
            oracle::CreatePartitionsResponse,
        >(0..=3, 2);
        assert_eq!(compared, vec![0, 1, 2, 3]);
    }
}

//! FindCoordinator (key 10): which broker coordinates a group or transaction. Flexible from v3;
//! v4+ looks up a batch of keys at once.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// FindCoordinator request.
    pub struct FindCoordinatorRequest {
        /// The key to look up (v0–v3).
        key: StrBytes { versions: 0..=3 },
        /// Key type: 0 group, 1 transaction, 2 share group (v1+).
        key_type: i8 { versions: 1..=99 },
        /// The keys to look up (v4+).
        coordinator_keys: Vec<StrBytes> { versions: 4..=99 },
    }

    /// The coordinator of one key (v4+).
    pub struct FindCoordinatorResponseCoordinator {
        /// The key looked up.
        key: StrBytes { versions: 4..=99 },
        /// Coordinator broker id.
        node_id: i32 { versions: 4..=99 },
        /// Coordinator host name.
        host: StrBytes { versions: 4..=99 },
        /// Coordinator port.
        port: i32 { versions: 4..=99 },
        /// Error code for this key.
        error_code: i16 { versions: 4..=99 },
        /// Error message, or null.
        error_message: Option<StrBytes> { versions: 4..=99, nullable: 4..=99 },
    }

    /// FindCoordinator response.
    pub struct FindCoordinatorResponse {
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// Error code (v0–v3).
        error_code: i16 { versions: 0..=3 },
        /// Error message, or null (v1–v3).
        error_message: Option<StrBytes> { versions: 1..=3, nullable: 1..=99 },
        /// Coordinator broker id (v0–v3).
        node_id: i32 { versions: 0..=3 },
        /// Coordinator host name (v0–v3).
        host: StrBytes { versions: 0..=3 },
        /// Coordinator port (v0–v3).
        port: i32 { versions: 0..=3 },
        /// One coordinator per key asked about (v4+).
        coordinators: Vec<FindCoordinatorResponseCoordinator> { versions: 4..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<FindCoordinatorRequest>(0..=6, 3);
        check_round_trip::<FindCoordinatorResponse>(0..=6, 3);
        let compared = check_against_oracle::<FindCoordinatorRequest, oracle::FindCoordinatorRequest>(
            0..=6,
            3,
        );
        assert_eq!(compared, (0..=6).collect::<Vec<i16>>());
        let compared = check_against_oracle::<
            FindCoordinatorResponse,
            oracle::FindCoordinatorResponse,
        >(0..=6, 3);
        assert_eq!(compared, (0..=6).collect::<Vec<i16>>());
    }
}

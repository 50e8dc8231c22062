//! DeleteGroups (key 42): delete empty consumer groups. Flexible from v2.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// DeleteGroups request.
    pub struct DeleteGroupsRequest {
        /// Ids of the groups to delete.
        groups_names: Vec<StrBytes> { versions: 0..=99 },
    }

    /// The outcome for one group.
    pub struct DeleteGroupsResponseResult {
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// Error code, 0 when deleted.
        error_code: i16 { versions: 0..=99 },
    }

    /// DeleteGroups response.
    pub struct DeleteGroupsResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// One result per group asked about.
        results: Vec<DeleteGroupsResponseResult> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<DeleteGroupsRequest>(0..=2, 2);
        check_round_trip::<DeleteGroupsResponse>(0..=2, 2);
        let compared =
            check_against_oracle::<DeleteGroupsRequest, oracle::DeleteGroupsRequest>(0..=2, 2);
        assert_eq!(compared, vec![0, 1, 2]);
        let compared =
            check_against_oracle::<DeleteGroupsResponse, oracle::DeleteGroupsResponse>(0..=2, 2);
        assert_eq!(compared, vec![0, 1, 2]);
    }
}

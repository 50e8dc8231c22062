//! ListGroups (key 16): the groups a broker coordinates. Flexible from v3.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// ListGroups request.
    pub struct ListGroupsRequest {
        /// Only list groups in these states (v4+); empty for all.
        states_filter: Vec<StrBytes> { versions: 4..=99 },
        /// Only list groups of these types (v5+); empty for all.
        types_filter: Vec<StrBytes> { versions: 5..=99 },
    }

    /// One listed group.
    pub struct ListGroupsResponseGroup {
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// Protocol type, or empty.
        protocol_type: StrBytes { versions: 0..=99 },
        /// Group state name (v4+).
        group_state: StrBytes { versions: 4..=99 },
        /// Group type name (v5+).
        group_type: StrBytes { versions: 5..=99 },
    }

    /// ListGroups response.
    pub struct ListGroupsResponse {
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// Error code.
        error_code: i16 { versions: 0..=99 },
        /// The groups.
        groups: Vec<ListGroupsResponseGroup> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<ListGroupsRequest>(0..=5, 3);
        check_round_trip::<ListGroupsResponse>(0..=5, 3);
        let compared =
            check_against_oracle::<ListGroupsRequest, oracle::ListGroupsRequest>(0..=5, 3);
        assert_eq!(compared, vec![0, 1, 2, 3, 4, 5]);
        let compared =
            check_against_oracle::<ListGroupsResponse, oracle::ListGroupsResponse>(0..=5, 3);
        assert_eq!(compared, vec![0, 1, 2, 3, 4, 5]);
    }
}

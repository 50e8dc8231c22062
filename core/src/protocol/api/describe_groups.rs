//! DescribeGroups (key 15): state, protocol and members of consumer groups. Flexible from v5.

use crate::protocol::wire::StrBytes;
use crate::schema;
use bytes::Bytes;

schema! {
    /// DescribeGroups request.
    pub struct DescribeGroupsRequest {
        /// Ids of the groups to describe.
        groups: Vec<StrBytes> { versions: 0..=99 },
        /// Whether to return each group's authorized operations (v3+).
        include_authorized_operations: bool { versions: 3..=99 },
    }

    /// A member of a described group.
    pub struct DescribeGroupsResponseMember {
        /// Member id the coordinator assigned.
        member_id: StrBytes { versions: 0..=99 },
        /// Static member instance id (v4+), or null.
        group_instance_id: Option<StrBytes> { versions: 4..=99, nullable: 4..=99 },
        /// Client id from the member's last join.
        client_id: StrBytes { versions: 0..=99 },
        /// Client host.
        client_host: StrBytes { versions: 0..=99 },
        /// Protocol metadata of the member (Stable groups only).
        member_metadata: Bytes { versions: 0..=99 },
        /// Assignment from the leader (Stable groups only).
        member_assignment: Bytes { versions: 0..=99 },
    }

    /// One described group.
    pub struct DescribeGroupsResponseGroup {
        /// Error code for this group.
        error_code: i16 { versions: 0..=99 },
        /// Error message (v6+), or null.
        error_message: Option<StrBytes> { versions: 6..=99, nullable: 6..=99 },
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// Group state name, or empty.
        group_state: StrBytes { versions: 0..=99 },
        /// Protocol type, or empty.
        protocol_type: StrBytes { versions: 0..=99 },
        /// Selected protocol (Stable groups only), or empty.
        protocol_data: StrBytes { versions: 0..=99 },
        /// Members; empty for a Dead group.
        members: Vec<DescribeGroupsResponseMember> { versions: 0..=99 },
        /// Group authorized operations bit field (v3+).
        authorized_operations: i32 { versions: 3..=99, default: i32::MIN },
    }

    /// DescribeGroups response.
    pub struct DescribeGroupsResponse {
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// The described groups.
        groups: Vec<DescribeGroupsResponseGroup> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<DescribeGroupsRequest>(0..=5, 5);
        check_round_trip::<DescribeGroupsResponse>(0..=5, 5);
        let compared =
            check_against_oracle::<DescribeGroupsRequest, oracle::DescribeGroupsRequest>(0..=5, 5);
        assert_eq!(compared, vec![0, 1, 2, 3, 4, 5]);
        let compared = check_against_oracle::<DescribeGroupsResponse, oracle::DescribeGroupsResponse>(
            0..=5,
            5,
        );
        assert_eq!(compared, vec![0, 1, 2, 3, 4, 5]);
    }
}

//! LeaveGroup (key 13): members leave a classic group. Flexible from v4; v3+ removes a batch
//! of members at once.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// A member leaving (v3+).
    pub struct LeaveGroupRequestMember {
        /// Member id.
        member_id: StrBytes { versions: 3..=99 },
        /// Static membership instance id, or null.
        group_instance_id: Option<StrBytes> { versions: 3..=99, nullable: 3..=99 },
        /// Why the member leaves, or null (v5+).
        reason: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
    }

    /// LeaveGroup request.
    pub struct LeaveGroupRequest {
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// The leaving member's id (v0–v2).
        member_id: StrBytes { versions: 0..=2 },
        /// The leaving members (v3+).
        members: Vec<LeaveGroupRequestMember> { versions: 3..=99 },
    }

    /// The outcome for one leaving member (v3+).
    pub struct LeaveGroupResponseMember {
        /// Member id.
        member_id: StrBytes { versions: 3..=99 },
        /// Static membership instance id, or null.
        group_instance_id: Option<StrBytes> { versions: 3..=99, nullable: 3..=99 },
        /// Error code for this member.
        error_code: i16 { versions: 3..=99 },
    }

    /// LeaveGroup response.
    pub struct LeaveGroupResponse {
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// Top-level error code.
        error_code: i16 { versions: 0..=99 },
        /// Per-member outcomes (v3+).
        members: Vec<LeaveGroupResponseMember> { versions: 3..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<LeaveGroupRequest>(0..=5, 4);
        check_round_trip::<LeaveGroupResponse>(0..=5, 4);
        let compared =
            check_against_oracle::<LeaveGroupRequest, oracle::LeaveGroupRequest>(0..=5, 4);
        assert_eq!(compared, (0..=5).collect::<Vec<i16>>());
        let compared =
            check_against_oracle::<LeaveGroupResponse, oracle::LeaveGroupResponse>(0..=5, 4);
        assert_eq!(compared, (0..=5).collect::<Vec<i16>>());
    }
}

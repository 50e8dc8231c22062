//! SyncGroup (key 14): the leader hands out assignments and every member receives its own.
//! Flexible from v4.

use crate::protocol::wire::StrBytes;
use crate::schema;
use bytes::Bytes;

schema! {
    /// One member's assignment, sent by the leader.
    pub struct SyncGroupRequestAssignment {
        /// Member id.
        member_id: StrBytes { versions: 0..=99 },
        /// Opaque assignment.
        assignment: Bytes { versions: 0..=99 },
    }

    /// SyncGroup request.
    pub struct SyncGroupRequest {
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// Generation id.
        generation_id: i32 { versions: 0..=99 },
        /// Member id.
        member_id: StrBytes { versions: 0..=99 },
        /// Static membership instance id, or null (v3+).
        group_instance_id: Option<StrBytes> { versions: 3..=99, nullable: 3..=99 },
        /// Protocol type, or null (v5+).
        protocol_type: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
        /// Protocol name, or null (v5+).
        protocol_name: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
        /// Assignments; empty unless sent by the leader.
        assignments: Vec<SyncGroupRequestAssignment> { versions: 0..=99 },
    }

    /// SyncGroup response.
    pub struct SyncGroupResponse {
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// Error code.
        error_code: i16 { versions: 0..=99 },
        /// Protocol type, or null (v5+).
        protocol_type: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
        /// Protocol name, or null (v5+).
        protocol_name: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
        /// This member's assignment.
        assignment: Bytes { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<SyncGroupRequest>(0..=5, 4);
        check_round_trip::<SyncGroupResponse>(0..=5, 4);
        let compared = check_against_oracle::<SyncGroupRequest, oracle::SyncGroupRequest>(0..=5, 4);
        assert_eq!(compared, (0..=5).collect::<Vec<i16>>());
        let compared =
            check_against_oracle::<SyncGroupResponse, oracle::SyncGroupResponse>(0..=5, 4);
        assert_eq!(compared, (0..=5).collect::<Vec<i16>>());
    }
}

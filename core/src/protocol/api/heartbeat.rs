//! Heartbeat (key 12): a classic group member tells the coordinator it is alive.
//! Flexible from v4.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// Heartbeat request.
    pub struct HeartbeatRequest {
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// Generation id.
        generation_id: i32 { versions: 0..=99 },
        /// Member id.
        member_id: StrBytes { versions: 0..=99 },
        /// Static membership instance id, or null (v3+).
        group_instance_id: Option<StrBytes> { versions: 3..=99, nullable: 3..=99 },
    }

    /// Heartbeat response.
    pub struct HeartbeatResponse {
        /// Throttle time in ms (v1+).
        throttle_time_ms: i32 { versions: 1..=99 },
        /// Error code (e.g. REBALANCE_IN_PROGRESS).
        error_code: i16 { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<HeartbeatRequest>(0..=4, 4);
        check_round_trip::<HeartbeatResponse>(0..=4, 4);
        let compared = check_against_oracle::<HeartbeatRequest, oracle::HeartbeatRequest>(0..=4, 4);
        assert_eq!(compared, (0..=4).collect::<Vec<i16>>());
        let compared =
            check_against_oracle::<HeartbeatResponse, oracle::HeartbeatResponse>(0..=4, 4);
        assert_eq!(compared, (0..=4).collect::<Vec<i16>>());
    }
}

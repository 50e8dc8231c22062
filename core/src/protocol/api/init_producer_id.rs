//! InitProducerId (key 22): allocates a producer id and epoch for idempotent or transactional
//! producers. Flexible from v2.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// InitProducerId request.
    pub struct InitProducerIdRequest {
        /// Transactional id, or null for an idempotent-only producer.
        transactional_id: Option<StrBytes> { versions: 0..=99, nullable: 0..=99 },
        /// Transaction timeout in ms; only meaningful with a transactional id.
        transaction_timeout_ms: i32 { versions: 0..=99 },
        /// The producer's current id, for an epoch bump (v3+), -1 if none.
        producer_id: i64 { versions: 3..=99, default: -1 },
        /// The producer's current epoch (v3+), -1 if none.
        producer_epoch: i16 { versions: 3..=99, default: -1 },
    }

    /// InitProducerId response.
    pub struct InitProducerIdResponse {
        /// Throttle time in ms.
        throttle_time_ms: i32 { versions: 0..=99 },
        /// Error code, 0 on success.
        error_code: i16 { versions: 0..=99 },
        /// The allocated producer id, -1 on error.
        producer_id: i64 { versions: 0..=99, default: -1 },
        /// The allocated producer epoch.
        producer_epoch: i16 { versions: 0..=99 },
        /// Producer id of a prepared transaction left ongoing (v6+), -1 if none.
        ongoing_txn_producer_id: i64 { versions: 6..=99, default: -1 },
        /// Producer epoch of that transaction (v6+), -1 if none.
        ongoing_txn_producer_epoch: i16 { versions: 6..=99, default: -1 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<InitProducerIdRequest>(0..=5, 2);
        check_round_trip::<InitProducerIdResponse>(0..=5, 2);
        let compared =
            check_against_oracle::<InitProducerIdRequest, oracle::InitProducerIdRequest>(0..=5, 2);
        assert_eq!(compared, vec![0, 1, 2, 3, 4, 5]);
        let compared = check_against_oracle::<InitProducerIdResponse, oracle::InitProducerIdResponse>(
            0..=5,
            2,
        );
        assert_eq!(compared, vec![0, 1, 2, 3, 4, 5]);
    }
}

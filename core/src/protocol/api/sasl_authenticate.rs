//! SaslAuthenticate (key 36): one SASL exchange step in a Kafka frame. Flexible from v2.

use crate::protocol::wire::StrBytes;
use crate::schema;
use bytes::Bytes;

schema! {
    /// SaslAuthenticate request.
    pub struct SaslAuthenticateRequest {
        /// Mechanism-defined bytes from the client.
        auth_bytes: Bytes { versions: 0..=99 },
    }

    /// SaslAuthenticate response.
    pub struct SaslAuthenticateResponse {
        /// Error code.
        error_code: i16 { versions: 0..=99 },
        /// Error message, or null.
        error_message: Option<StrBytes> {
            versions: 0..=99,
            nullable: 0..=99,
            default: Some(StrBytes::from_static(""))
        },
        /// Mechanism-defined bytes from the server.
        auth_bytes: Bytes { versions: 0..=99 },
        /// Session lifetime in ms (v1+); 0 if none.
        session_lifetime_ms: i64 { versions: 1..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<SaslAuthenticateRequest>(0..=2, 2);
        check_round_trip::<SaslAuthenticateResponse>(0..=2, 2);
        let compared = check_against_oracle::<
            SaslAuthenticateRequest,
            oracle::SaslAuthenticateRequest,
        >(0..=2, 2);
        assert_eq!(compared, vec![0, 1, 2]);
        let compared = check_against_oracle::<
            SaslAuthenticateResponse,
            oracle::SaslAuthenticateResponse,
        >(0..=2, 2);
        assert_eq!(compared, vec![0, 1, 2]);
    }
}

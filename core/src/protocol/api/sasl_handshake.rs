//! SaslHandshake (key 17): pick a SASL mechanism. Never flexible.

use crate::protocol::wire::StrBytes;
use crate::schema;

schema! {
    /// SaslHandshake request.
    pub struct SaslHandshakeRequest {
        /// The SASL mechanism the client wants.
        mechanism: StrBytes { versions: 0..=99 },
    }

    /// SaslHandshake response.
    pub struct SaslHandshakeResponse {
        /// Error code.
        error_code: i16 { versions: 0..=99 },
        /// The mechanisms the broker enables.
        mechanisms: Vec<StrBytes> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<SaslHandshakeRequest>(0..=1, 99);
        check_round_trip::<SaslHandshakeResponse>(0..=1, 99);
        let compared =
            check_against_oracle::<SaslHandshakeRequest, oracle::SaslHandshakeRequest>(0..=1, 99);
        assert_eq!(compared, vec![0, 1]);
        let compared =
            check_against_oracle::<SaslHandshakeResponse, oracle::SaslHandshakeResponse>(0..=1, 99);
        assert_eq!(compared, vec![0, 1]);
    }
}

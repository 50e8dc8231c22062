//! JoinGroup (key 11): a member joins a classic consumer group and, once the rebalance
//! completes, learns the generation, the chosen protocol and (for the leader) every member's
//! metadata. Flexible from v6.

use crate::protocol::wire::StrBytes;
use crate::schema;
use bytes::Bytes;

schema! {
    /// A protocol the joining member supports.
    pub struct JoinGroupRequestProtocol {
        /// Protocol name (e.g. an assignor).
        name: StrBytes { versions: 0..=99 },
        /// Opaque protocol metadata.
        metadata: Bytes { versions: 0..=99 },
    }

    /// JoinGroup request.
    pub struct JoinGroupRequest {
        /// Group id.
        group_id: StrBytes { versions: 0..=99 },
        /// Session timeout in ms.
        session_timeout_ms: i32 { versions: 0..=99 },
        /// Rebalance timeout in ms (v1+); -1 when absent.
        rebalance_timeout_ms: i32 { versions: 1..=99, default: -1 },
        /// Member id; empty on the first join.
        member_id: StrBytes { versions: 0..=99 },
        /// Static membership instance id, or null (v5+).
        group_instance_id: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
        /// Protocol type (e.g. "consumer").
        protocol_type: StrBytes { versions: 0..=99 },
        /// Supported protocols, in order of preference.
        protocols: Vec<JoinGroupRequestProtocol> { versions: 0..=99 },
        /// Why the member (re)joins, or null (v8+).
        reason: Option<StrBytes> { versions: 8..=99, nullable: 8..=99 },
    }

    /// A group member, as sent to the leader.
    pub struct JoinGroupResponseMember {
        /// Member id.
        member_id: StrBytes { versions: 0..=99 },
        /// Static membership instance id, or null (v5+).
        group_instance_id: Option<StrBytes> { versions: 5..=99, nullable: 5..=99 },
        /// The member's protocol metadata.
        metadata: Bytes { versions: 0..=99 },
    }

    /// JoinGroup response.
    pub struct JoinGroupResponse {
        /// Throttle time in ms (v2+).
        throttle_time_ms: i32 { versions: 2..=99 },
        /// Error code.
        error_code: i16 { versions: 0..=99 },
        /// Generation id, -1 on error.
        generation_id: i32 { versions: 0..=99, default: -1 },
        /// Protocol type, or null (v7+).
        protocol_type: Option<StrBytes> { versions: 7..=99, nullable: 7..=99 },
        /// Chosen protocol name (nullable v7+).
        protocol_name: Option<StrBytes> { versions: 0..=99, nullable: 7..=99 },
        /// Leader member id.
        leader: StrBytes { versions: 0..=99 },
        /// Whether the leader should skip computing the assignment (v9+).
        skip_assignment: bool { versions: 9..=99 },
        /// The joining member's id.
        member_id: StrBytes { versions: 0..=99 },
        /// All members; sent to the leader only.
        members: Vec<JoinGroupResponseMember> { versions: 0..=99 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::testing::{check_against_oracle, check_round_trip};
    use kafka_protocol::messages as oracle;

    #[test]
    fn round_trips_and_matches_the_oracle() {
        check_round_trip::<JoinGroupRequest>(0..=9, 6);
        check_round_trip::<JoinGroupResponse>(0..=9, 6);
        let compared = check_against_oracle::<JoinGroupRequest, oracle::JoinGroupRequest>(0..=9, 6);
        assert_eq!(compared, (0..=9).collect::<Vec<i16>>());
        let compared =
            check_against_oracle::<JoinGroupResponse, oracle::JoinGroupResponse>(0..=9, 6);
        assert_eq!(compared, (0..=9).collect::<Vec<i16>>());
    }

    #[test]
    fn an_error_answer_below_v7_carries_an_empty_protocol_name_not_a_null() {
        // The coordinator's error answers have no protocol name; below v7 the field cannot
        // be null, and a null there is undecodable (the oracle refuses it too). Kafka's
        // broker sends "" there; so does the encoder now. From v7 null goes as null.
        use crate::protocol::schema::Wire;
        let answer =
            JoinGroupResponse { error_code: 16, protocol_name: None, ..Default::default() };
        for version in 0..=9 {
            let flexible = version >= 6;
            let mut encoded = bytes::BytesMut::new();
            answer.encode_wire(&mut encoded, version, flexible);
            assert_eq!(encoded.len(), answer.wire_size(version, flexible));
            let mut input = encoded.clone().freeze();
            let decoded =
                <oracle::JoinGroupResponse as kafka_protocol::protocol::Decodable>::decode(
                    &mut input, version,
                )
                .unwrap_or_else(|error| panic!("v{version}: {error}"));
            let expected = if version >= 7 { None } else { Some("") };
            assert_eq!(decoded.protocol_name.as_deref(), expected, "v{version}");
            let mut reader =
                crate::protocol::wire::Reader::new(encoded.freeze(), "JoinGroup", version);
            let ours = JoinGroupResponse::decode_wire(&mut reader, version, flexible, "answer")
                .unwrap_or_else(|error| panic!("v{version}: {error:?}"));
            assert_eq!(ours.error_code, 16);
        }
    }
}

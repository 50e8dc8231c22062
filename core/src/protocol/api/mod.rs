//! Every Kafka API the codec speaks, and the one table that ties each API key to its request
//! and response schemas, its version range and its first flexible version.
//!
//! [`decode_request`] turns a request frame body into a header and a [`Request`]; the response
//! side mirrors it for our own CLI tools. Version ranges here are what the codec can encode and
//! decode; what the broker *advertises* is decided by the broker from what it implements.

pub mod alter_configs;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;

use super::header::{RequestHeader, ResponseHeader};
use super::schema::Wire;
use super::wire::{DecodeError, Problem, Reader, Sink};
use crate::prng::Prng;
use bytes::Bytes;

/// Static facts about one API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApiInfo {
    /// The API key.
    pub key: i16,
    /// The API's name, as Kafka spells it.
    pub name: &'static str,
    /// Lowest version the codec handles.
    pub min_version: i16,
    /// Highest version the codec handles.
    pub max_version: i16,
    /// First flexible version (compact encodings, tagged fields); above `max_version` if none.
    pub flexible_from: i16,
}

impl ApiInfo {
    /// Whether `version` is within the codec's range.
    pub fn supports(&self, version: i16) -> bool {
        (self.min_version..=self.max_version).contains(&version)
    }

    /// Whether `version` uses the flexible encoding.
    pub fn is_flexible(&self, version: i16) -> bool {
        version >= self.flexible_from
    }

    /// Request header version for `version`.
    pub fn request_header_version(&self, version: i16) -> i16 {
        if self.is_flexible(version) {
            2
        } else {
            1
        }
    }

    /// Response header version for `version`. ApiVersions always answers with v0 (KIP-511).
    pub fn response_header_version(&self, version: i16) -> i16 {
        if self.key != 18 && self.is_flexible(version) {
            1
        } else {
            0
        }
    }
}

macro_rules! apis {
    ($(
        $key:literal => $variant:ident {
            request: $request:ty,
            response: $response:ty,
            versions: $min:literal ..= $max:literal,
            flexible_from: $flexible:literal $(,)?
        }
    ),* $(,)?) => {
        /// Every API the codec knows, by key.
        pub const APIS: &[ApiInfo] = &[$(
            ApiInfo { key: $key, name: stringify!($variant), min_version: $min, max_version: $max, flexible_from: $flexible },
        )*];

        /// A decoded request body.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Request { $(
            #[doc = concat!(stringify!($variant), " request.")]
            $variant($request),
        )* }

        /// A decoded response body.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Response { $(
            #[doc = concat!(stringify!($variant), " response.")]
            $variant($response),
        )* }

        impl Request {
            /// The API key of this request.
            pub fn api_key(&self) -> i16 {
                match self { $( Self::$variant(_) => $key, )* }
            }

            /// Decodes a body of API `key` at `version`, which must be supported.
            pub fn decode_body(key: i16, version: i16, reader: &mut Reader) -> Result<Self, DecodeError> {
                let info = checked(key, version, reader)?;
                let flexible = info.is_flexible(version);
                match key {
                    $( $key => <$request as Wire>::decode_wire(reader, version, flexible, "body").map(Self::$variant), )*
                    _ => unreachable!("checked above"),
                }
            }

            /// Encodes the body at `version`.
            pub fn encode_body<W: Sink + ?Sized>(&self, version: i16, out: &mut W) {
                let info = api_info(self.api_key()).expect("every variant is in APIS");
                assert!(info.supports(version), "{} v{version} is not supported", info.name);
                let flexible = info.is_flexible(version);
                match self { $( Self::$variant(body) => body.encode_wire(out, version, flexible), )* }
            }

            /// A seeded random request of API `key` at `version` (for tests).
            pub fn random(key: i16, version: i16, prng: &mut Prng) -> Option<Self> {
                let flexible = api_info(key)?.is_flexible(version);
                match key {
                    $( $key => Some(Self::$variant(<$request as Wire>::random(prng, version, flexible, false, 0))), )*
                    _ => None,
                }
            }
        }

        impl Response {
            /// The API key of this response.
            pub fn api_key(&self) -> i16 {
                match self { $( Self::$variant(_) => $key, )* }
            }

            /// Decodes a body of API `key` at `version`, which must be supported.
            pub fn decode_body(key: i16, version: i16, reader: &mut Reader) -> Result<Self, DecodeError> {
                let info = checked(key, version, reader)?;
                let flexible = info.is_flexible(version);
                match key {
                    $( $key => <$response as Wire>::decode_wire(reader, version, flexible, "body").map(Self::$variant), )*
                    _ => unreachable!("checked above"),
                }
            }

            /// Encodes the body at `version`.
            pub fn encode_body<W: Sink + ?Sized>(&self, version: i16, out: &mut W) {
                let info = api_info(self.api_key()).expect("every variant is in APIS");
                assert!(info.supports(version), "{} v{version} is not supported", info.name);
                let flexible = info.is_flexible(version);
                match self { $( Self::$variant(body) => body.encode_wire(out, version, flexible), )* }
            }

            /// A seeded random response of API `key` at `version` (for tests).
            pub fn random(key: i16, version: i16, prng: &mut Prng) -> Option<Self> {
                let flexible = api_info(key)?.is_flexible(version);
                match key {
                    $( $key => Some(Self::$variant(<$response as Wire>::random(prng, version, flexible, false, 0))), )*
                    _ => None,
                }
            }
        }
    };
}

apis! {
    0 => Produce {
        request: produce::ProduceRequest,
        response: produce::ProduceResponse,
        versions: 0..=11,
        flexible_from: 9,
    },
    1 => Fetch {
        request: fetch::FetchRequest,
        response: fetch::FetchResponse,
        versions: 4..=16,
        flexible_from: 12,
    },
    2 => ListOffsets {
        request: list_offsets::ListOffsetsRequest,
        response: list_offsets::ListOffsetsResponse,
        versions: 0..=10,
        flexible_from: 6,
    },
    3 => Metadata {
        request: metadata::MetadataRequest,
        response: metadata::MetadataResponse,
        versions: 0..=12,
        flexible_from: 9,
    },
    8 => OffsetCommit {
        request: offset_commit::OffsetCommitRequest,
        response: offset_commit::OffsetCommitResponse,
        versions: 0..=9,
        flexible_from: 8,
    },
    9 => OffsetFetch {
        request: offset_fetch::OffsetFetchRequest,
        response: offset_fetch::OffsetFetchResponse,
        versions: 0..=9,
        flexible_from: 6,
    },
    10 => FindCoordinator {
        request: find_coordinator::FindCoordinatorRequest,
        response: find_coordinator::FindCoordinatorResponse,
        versions: 0..=6,
        flexible_from: 3,
    },
    11 => JoinGroup {
        request: join_group::JoinGroupRequest,
        response: join_group::JoinGroupResponse,
        versions: 0..=9,
        flexible_from: 6,
    },
    12 => Heartbeat {
        request: heartbeat::HeartbeatRequest,
        response: heartbeat::HeartbeatResponse,
        versions: 0..=4,
        flexible_from: 4,
    },
    13 => LeaveGroup {
        request: leave_group::LeaveGroupRequest,
        response: leave_group::LeaveGroupResponse,
        versions: 0..=5,
        flexible_from: 4,
    },
    14 => SyncGroup {
        request: sync_group::SyncGroupRequest,
        response: sync_group::SyncGroupResponse,
        versions: 0..=5,
        flexible_from: 4,
    },
    15 => DescribeGroups {
        request: describe_groups::DescribeGroupsRequest,
        response: describe_groups::DescribeGroupsResponse,
        versions: 0..=5,
        flexible_from: 5,
    },
    16 => ListGroups {
        request: list_groups::ListGroupsRequest,
        response: list_groups::ListGroupsResponse,
        versions: 0..=5,
        flexible_from: 3,
    },
    17 => SaslHandshake {
        request: sasl_handshake::SaslHandshakeRequest,
        response: sasl_handshake::SaslHandshakeResponse,
        versions: 0..=1,
        flexible_from: 99,
    },
    18 => ApiVersions {
        request: api_versions::ApiVersionsRequest,
        response: api_versions::ApiVersionsResponse,
        versions: 0..=4,
        flexible_from: 3,
    },
    19 => CreateTopics {
        request: create_topics::CreateTopicsRequest,
        response: create_topics::CreateTopicsResponse,
        versions: 0..=7,
        flexible_from: 5,
    },
    20 => DeleteTopics {
        request: delete_topics::DeleteTopicsRequest,
        response: delete_topics::DeleteTopicsResponse,
        versions: 0..=6,
        flexible_from: 4,
    },
    21 => DeleteRecords {
        request: delete_records::DeleteRecordsRequest,
        response: delete_records::DeleteRecordsResponse,
        versions: 0..=2,
        flexible_from: 2,
    },
    22 => InitProducerId {
        request: init_producer_id::InitProducerIdRequest,
        response: init_producer_id::InitProducerIdResponse,
        versions: 0..=5,
        flexible_from: 2,
    },
    23 => OffsetForLeaderEpoch {
        request: offset_for_leader_epoch::OffsetForLeaderEpochRequest,
        response: offset_for_leader_epoch::OffsetForLeaderEpochResponse,
        versions: 0..=4,
        flexible_from: 4,
    },
    32 => DescribeConfigs {
        request: describe_configs::DescribeConfigsRequest,
        response: describe_configs::DescribeConfigsResponse,
        versions: 0..=4,
        flexible_from: 4,
    },
    33 => AlterConfigs {
        request: alter_configs::AlterConfigsRequest,
        response: alter_configs::AlterConfigsResponse,
        versions: 0..=2,
        flexible_from: 2,
    },
    36 => SaslAuthenticate {
        request: sasl_authenticate::SaslAuthenticateRequest,
        response: sasl_authenticate::SaslAuthenticateResponse,
        versions: 0..=2,
        flexible_from: 2,
    },
    35 => DescribeLogDirs {
        request: describe_log_dirs::DescribeLogDirsRequest,
        response: describe_log_dirs::DescribeLogDirsResponse,
        versions: 0..=4,
        flexible_from: 2,
    },
    37 => CreatePartitions {
        request: create_partitions::CreatePartitionsRequest,
        response: create_partitions::CreatePartitionsResponse,
        versions: 0..=3,
        flexible_from: 2,
    },
    42 => DeleteGroups {
        request: delete_groups::DeleteGroupsRequest,
        response: delete_groups::DeleteGroupsResponse,
        versions: 0..=2,
        flexible_from: 2,
    },
    44 => IncrementalAlterConfigs {
        request: incremental_alter_configs::IncrementalAlterConfigsRequest,
        response: incremental_alter_configs::IncrementalAlterConfigsResponse,
        versions: 0..=1,
        flexible_from: 1,
    },
    47 => OffsetDelete {
        request: offset_delete::OffsetDeleteRequest,
        response: offset_delete::OffsetDeleteResponse,
        versions: 0..=0,
        flexible_from: 99,
    },
    60 => DescribeCluster {
        request: describe_cluster::DescribeClusterRequest,
        response: describe_cluster::DescribeClusterResponse,
        versions: 0..=1,
        flexible_from: 0,
    },
    61 => DescribeProducers {
        request: describe_producers::DescribeProducersRequest,
        response: describe_producers::DescribeProducersResponse,
        versions: 0..=0,
        flexible_from: 0,
    },
}

/// Facts about API `key`, if the codec knows it.
pub fn api_info(key: i16) -> Option<&'static ApiInfo> {
    APIS.iter().find(|info| info.key == key)
}

fn checked(key: i16, version: i16, reader: &mut Reader) -> Result<&'static ApiInfo, DecodeError> {
    let Some(info) = api_info(key) else {
        return Err(reader.error("header.api_key", Problem::UnknownApiKey(key)));
    };
    reader.set_context(info.name, version);
    if !info.supports(version) {
        return Err(reader.error("header.api_version", Problem::UnsupportedVersion));
    }
    Ok(info)
}

/// A request frame body, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedRequest {
    /// The header.
    pub header: RequestHeader,
    /// The body.
    pub request: Request,
    /// Bytes after the body. Kafka ignores them, and so do we: librdkafka 2.16's "all topics"
    /// Metadata v12 request ends with three stray bytes.
    pub trailing_bytes: usize,
}

/// Why a request frame could not be decoded, with as much of the header as was readable so
/// the broker can still answer with the right correlation id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestDecodeError {
    /// The header's fixed prefix (key, version, correlation id, client id), if readable.
    pub header: Option<Box<RequestHeader>>,
    /// What went wrong.
    pub error: DecodeError,
}

/// Decodes a request frame body (the bytes after the 4-byte length prefix).
pub fn decode_request(body: Bytes) -> Result<DecodedRequest, RequestDecodeError> {
    // Header v1's prefix is common to every header version we accept: read it first, so even
    // an unknown API or version can be answered with its correlation id. Header v2 goes on
    // from there; only v0 (no client id) is read again from the start.
    let mut reader = Reader::new(body.clone(), "header", -1);
    let mut header = RequestHeader::decode(&mut reader, 1)
        .map_err(|error| RequestDecodeError { header: None, error })?;
    let fail = |header: &RequestHeader, error| RequestDecodeError {
        header: Some(Box::new(RequestHeader {
            unknown_tagged_fields: Vec::new(),
            ..header.clone()
        })),
        error,
    };
    let info =
        checked(header.api_key, header.api_version, &mut reader).map_err(|e| fail(&header, e))?;
    match info.request_header_version(header.api_version) {
        1 => {}
        2 => {
            let tags = reader.tagged_fields("header._tagged_fields", |_, _| Ok(false));
            header.unknown_tagged_fields = tags.map_err(|e| fail(&header, e))?;
        }
        _ => {
            reader = Reader::new(body, info.name, header.api_version);
            let v0 = RequestHeader::decode(&mut reader, 0).map_err(|e| fail(&header, e))?;
            header = v0;
        }
    }
    let request = Request::decode_body(header.api_key, header.api_version, &mut reader)
        .map_err(|e| fail(&header, e))?;
    Ok(DecodedRequest { header, request, trailing_bytes: reader.remaining() })
}

/// Encodes a request frame, length prefix included (for our own clients).
pub fn encode_request<W: Sink + ?Sized>(header: &RequestHeader, request: &Request, out: &mut W) {
    let info = api_info(request.api_key()).expect("every variant is in APIS");
    assert_eq!(header.api_key, info.key);
    let header_version = info.request_header_version(header.api_version);
    let start = begin_frame(out);
    header.encode(header_version, out);
    request.encode_body(header.api_version, out);
    end_frame(out, start);
}

/// Encodes a response frame, length prefix included.
pub fn encode_response<W: Sink + ?Sized>(
    correlation_id: i32,
    version: i16,
    response: &Response,
    out: &mut W,
) {
    let info = api_info(response.api_key()).expect("every variant is in APIS");
    let header = ResponseHeader { correlation_id, unknown_tagged_fields: Vec::new() };
    let header_version = info.response_header_version(version);
    let start = begin_frame(out);
    header.encode(header_version, out);
    response.encode_body(version, out);
    end_frame(out, start);
}

/// Room reserved before encoding a frame: most requests and answers fit, and a larger one
/// grows its buffer a few times. (Measuring first would encode every frame twice.)
const FRAME_RESERVE_BYTES: usize = 512;

/// Puts a length prefix to be filled in by [`end_frame`]; returns where it starts.
fn begin_frame<W: Sink + ?Sized>(out: &mut W) -> usize {
    out.reserve(FRAME_RESERVE_BYTES);
    let start = out.position();
    out.put(&[0; 4]);
    start
}

/// Fills in the length prefix put at `start`: the bytes encoded after it.
fn end_frame<W: Sink + ?Sized>(out: &mut W, start: usize) {
    let length = out.position() - start - 4;
    out.patch(start, &i32::try_from(length).expect("frame fits in INT32").to_be_bytes());
}

/// Decodes a response frame body of API `key` at `version` (for our own clients).
pub fn decode_response(
    key: i16,
    version: i16,
    body: Bytes,
) -> Result<(ResponseHeader, Response), DecodeError> {
    let mut reader = Reader::new(body, "header", version);
    let info = checked(key, version, &mut reader)?;
    let header = ResponseHeader::decode(&mut reader, info.response_header_version(version))?;
    let response = Response::decode_body(key, version, &mut reader)?;
    Ok((header, response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn every_message_round_trips_at_every_version() {
        // Goal: decode(encode(m)) == m for seeded random requests and responses of every API
        // and version, and the encoded size equals what the counter computed.
        let mut prng = Prng::new(0x5EED);
        for info in APIS {
            for version in info.min_version..=info.max_version {
                for _ in 0..64 {
                    let request = Request::random(info.key, version, &mut prng).expect("known");
                    let mut out = BytesMut::new();
                    request.encode_body(version, &mut out);
                    let mut reader = Reader::new(out.freeze(), info.name, version);
                    let decoded = Request::decode_body(info.key, version, &mut reader)
                        .unwrap_or_else(|error| panic!("{error}"));
                    assert_eq!(decoded, request, "{} v{version} request", info.name);
                    assert_eq!(reader.remaining(), 0);
                    let response = Response::random(info.key, version, &mut prng).expect("known");
                    let mut out = BytesMut::new();
                    response.encode_body(version, &mut out);
                    let mut reader = Reader::new(out.freeze(), info.name, version);
                    let decoded = Response::decode_body(info.key, version, &mut reader)
                        .unwrap_or_else(|error| panic!("{error}"));
                    assert_eq!(decoded, response, "{} v{version} response", info.name);
                    assert_eq!(reader.remaining(), 0);
                }
            }
        }
    }

    #[test]
    fn default_tagged_fields_are_omitted() {
        // Debian's kcat (librdkafka 2.0.2) cannot read an ApiVersions v3 response that carries
        // default-valued tagged fields: the body must end with one zero tag count.
        let response = api_versions::ApiVersionsResponse {
            api_keys: vec![api_versions::ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: 3,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut out = BytesMut::new();
        Response::ApiVersions(response).encode_body(3, &mut out);
        assert_eq!(out.as_ref(), &[0, 0, 2, 0, 18, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn unknown_keys_and_versions_keep_the_correlation_id() {
        let body = Bytes::from_static(&[0, 99, 0, 0, 0, 0, 0, 42, 0xff, 0xff]);
        let error = decode_request(body).unwrap_err();
        assert_eq!(error.header.as_ref().map(|header| header.correlation_id), Some(42));
        assert_eq!(error.error.problem, Problem::UnknownApiKey(99));
        let body = Bytes::from_static(&[0, 18, 0, 9, 0, 0, 0, 7, 0xff, 0xff]);
        let error = decode_request(body).unwrap_err();
        assert_eq!(error.header.as_ref().map(|header| header.correlation_id), Some(7));
        assert_eq!(error.error.problem, Problem::UnsupportedVersion);
        assert_eq!(error.error.api, "ApiVersions");
    }
}

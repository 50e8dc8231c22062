//! Raw Kafka frames over a plain `TcpStream`, for tests that need control the client library
//! does not give: pipelining without reading, or a request left waiting on the broker.

use bytes::{Bytes, BytesMut};
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::{decode_response, encode_request, Request, Response};
use sluice_core::protocol::header::{RequestHeader, ResponseHeader};
use sluice_core::protocol::wire::StrBytes;
use std::io::Read;
use std::net::TcpStream;

/// The Fetch version these helpers speak (topic names, not ids).
pub const FETCH_VERSION: i16 = 12;

/// A Fetch of partition 0 of `topic` from `offset`, waiting up to `max_wait_ms` for at least
/// one byte, with 1 MiB limits.
pub fn fetch_request(topic: &str, offset: i64, max_wait_ms: i32) -> Request {
    Request::Fetch(FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchRequestTopic {
            topic: StrBytes::from_string(topic.to_owned()),
            partitions: vec![FetchRequestPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// [`fetch_request`], framed with `correlation_id` at [`FETCH_VERSION`].
pub fn fetch_frame(topic: &str, offset: i64, max_wait_ms: i32, correlation_id: i32) -> BytesMut {
    let request = fetch_request(topic, offset, max_wait_ms);
    let header = RequestHeader {
        api_key: request.api_key(),
        api_version: FETCH_VERSION,
        correlation_id,
        client_id: Some(StrBytes::from_static("raw")),
        ..Default::default()
    };
    let mut frame = BytesMut::new();
    encode_request(&header, &request, &mut frame);
    frame
}

/// Reads one framed Fetch answer.
pub fn read_fetch_answer(stream: &mut TcpStream) -> std::io::Result<(ResponseHeader, Response)> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length)?;
    let mut body = vec![0u8; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut body)?;
    let decoded = decode_response(1, FETCH_VERSION, Bytes::from(body))
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error.to_string()))?;
    Ok(decoded)
}

/// Connects a client (10 s timeouts) and creates `topic` with `partitions` partitions.
pub fn create_topic(
    bootstrap: &str,
    topic: &'static str,
    partitions: i32,
) -> sluice_runtime::client::Client {
    use sluice_core::protocol::api::create_topics::{
        CreateTopicsRequest, CreateTopicsRequestTopic,
    };
    let timeout = std::time::Duration::from_secs(10);
    let mut client =
        sluice_runtime::client::Client::connect_with_timeout(bootstrap, "admin", timeout)
            .expect("connect");
    let topic = CreateTopicsRequestTopic {
        name: StrBytes::from_static(topic),
        num_partitions: partitions,
        replication_factor: 1,
        ..Default::default()
    };
    let create =
        CreateTopicsRequest { topics: vec![topic], timeout_ms: 10_000, ..Default::default() };
    let Response::CreateTopics(answer) =
        client.send(Request::CreateTopics(create)).expect("create topic")
    else {
        panic!("not a CreateTopics answer")
    };
    assert_eq!(answer.topics[0].error_code, 0, "topic created");
    client
}

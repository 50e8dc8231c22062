//! The broker under a low open-file limit: log files and client connections share the
//! descriptors, so that sockets never take the ones a log needs (a log whose file cannot be
//! opened would go offline), and connections past the share wait to be accepted.

use sluice_core::protocol::api::describe_log_dirs::DescribeLogDirsRequest;
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{encode_request, Request, Response};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::wire::StrBytes;
use sluice_tests::broker::Broker;
use sluice_tests::producer_batch;
use sluice_tests::raw::create_topic;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// With `ulimit -n 208`: 80 descriptors reserved, 32 log files kept open, 96 connections.
const LIMIT: u64 = 208;
const CONNECTIONS: usize = 96;
const PARTITIONS: i32 = 60;

/// An ApiVersions v0 request frame.
fn api_versions_frame() -> Vec<u8> {
    let header =
        RequestHeader { api_key: 18, api_version: 0, correlation_id: 7, ..Default::default() };
    let mut frame = bytes::BytesMut::new();
    encode_request(&header, &Request::ApiVersions(Default::default()), &mut frame);
    frame.to_vec()
}

/// Sends ApiVersions on `stream`; whether its answer arrives within `wait`.
fn answered(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut length = [0u8; 4];
    if stream.read_exact(&mut length).is_err() {
        return false;
    }
    let mut body = vec![0u8; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut body).is_ok()
}

fn connect(bootstrap: &str) -> TcpStream {
    let mut stream = TcpStream::connect(bootstrap).expect("connect");
    stream.write_all(&api_versions_frame()).expect("send ApiVersions");
    stream
}

#[test]
fn sockets_never_take_the_descriptors_logs_need_and_extra_connections_wait() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start_with_open_files_limit(dir.path(), LIMIT, &[]);
    let bootstrap = broker.bootstrap();
    let mut client = create_topic(&bootstrap, "many", PARTITIONS);
    // The client and 90 idle connections: 91 of the 96.
    let mut idle: Vec<TcpStream> = (0..90).map(|_| connect(&bootstrap)).collect();
    for stream in &mut idle {
        assert!(answered(stream, Duration::from_secs(10)), "an idle connection was served");
    }
    // acks=all to each of the 60 partitions, twice: many more log files than the 32 kept open,
    // with the descriptors the connections left.
    for round in 0..2u64 {
        for partition in 0..PARTITIONS {
            let data = ProduceRequestPartition {
                index: partition,
                records: Some(producer_batch(3, 20, round, 1_700_000_000_000).into()),
                ..Default::default()
            };
            let topic = ProduceRequestTopic {
                name: StrBytes::from_static("many"),
                partition_data: vec![data],
                ..Default::default()
            };
            let produce = ProduceRequest {
                acks: -1,
                timeout_ms: 10_000,
                topic_data: vec![topic],
                ..Default::default()
            };
            let Response::Produce(answer) =
                client.send(Request::Produce(produce)).expect("produce")
            else {
                panic!("not a Produce answer")
            };
            let answer = &answer.responses[0].partition_responses[0];
            assert_eq!(answer.error_code, 0, "many-{partition}, round {round}");
            assert_eq!(answer.base_offset, 3 * round as i64);
        }
    }
    // Every partition is online (DescribeLogDirs leaves offline logs out) and holds both batches.
    let Response::DescribeLogDirs(dirs) = client
        .send(Request::DescribeLogDirs(DescribeLogDirsRequest::default()))
        .expect("DescribeLogDirs")
    else {
        panic!("not a DescribeLogDirs answer")
    };
    let sizes: Vec<i64> = dirs.results[0]
        .topics
        .iter()
        .filter(|topic| topic.name.as_str() == "many")
        .flat_map(|topic| topic.partitions.iter().map(|partition| partition.partition_size))
        .collect();
    assert_eq!(sizes.len(), PARTITIONS as usize);
    assert!(sizes.iter().all(|&size| size == sizes[0] && size > 0), "{sizes:?}");
    // Ten more connections: five fit under the 96, five wait to be accepted.
    let mut more: Vec<TcpStream> = (0..10).map(|_| connect(&bootstrap)).collect();
    let served: Vec<bool> =
        more.iter_mut().map(|stream| answered(stream, Duration::from_secs(2))).collect();
    let count = served.iter().filter(|&&ok| ok).count();
    assert_eq!(count, CONNECTIONS - 91, "connections past the share wait");
    // Three idle connections close: three of the waiting ones are accepted and answered.
    idle.truncate(idle.len() - 3);
    let now_served = more
        .iter_mut()
        .zip(&served)
        .filter(|(_, &was)| !was)
        .map(|(stream, _)| answered(stream, Duration::from_secs(3)))
        .filter(|&ok| ok)
        .count();
    assert_eq!(now_served, 3, "a closed connection's slot goes to a waiting one");
}

#[test]
fn an_idle_connection_is_closed_after_connections_max_idle_ms() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &["connections.max.idle.ms=300"]);
    let mut stream = connect(&broker.bootstrap());
    assert!(answered(&mut stream, Duration::from_secs(10)), "served while active");
    // Then nothing: the broker closes it (end of stream) after 300 ms or so.
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut byte = [0u8; 1];
    assert_eq!(stream.read(&mut byte).expect("closed, not timed out"), 0);
}

//! A client that sends requests and stops reading its answers must stall only itself: the
//! broker mutes that connection (reads no more of its requests) once its outstanding requests
//! and unsent answers pile up, holds a bounded amount for it, and keeps serving everyone else.
//! Against the real binary, over TCP.

use bytes::{Bytes, BytesMut};
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::StrBytes;
use sluice_runtime::client::Client;
use sluice_tests::broker::Broker;
use sluice_tests::producer_batch;
use sluice_tests::raw::{create_topic, fetch_frame, read_fetch_answer};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

const TOPIC: &str = "wide";
/// Fetches the stalled client sends: their answers (about 66 KB each, 200 MB in all) are far
/// more than the socket buffers and the broker's per-connection backlog hold.
const FETCHES: i32 = 3000;
/// What the broker may hold for the stalled client: its backlog (256 answers of 66 KB is
/// 17 MB) and the rest of a broker's memory, far below the 200 MB an unmuted broker reads in.
const RSS_KIB_MAX: u64 = 96 * 1024;

fn produce(client: &mut Client, tag: u64) -> i64 {
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![ProduceRequestTopic {
            name: StrBytes::from_static(TOPIC),
            partition_data: vec![ProduceRequestPartition {
                index: 0,
                records: Some(Bytes::from(producer_batch(64, 1000, tag, 1_700_000_000_000))),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let response = client.send(Request::Produce(request)).expect("produce answered");
    let Response::Produce(response) = response else { panic!("not a produce answer") };
    let answer = &response.responses[0].partition_responses[0];
    assert_eq!(answer.error_code, 0, "produce refused");
    answer.base_offset
}

#[test]
fn a_client_that_stops_reading_stalls_only_itself() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let bootstrap = broker.bootstrap();
    let mut healthy = create_topic(&bootstrap, TOPIC, 1);
    assert_eq!(produce(&mut healthy, 1), 0);

    // The stalled client pipelines every fetch and reads nothing yet.
    let mut stalled = TcpStream::connect(&bootstrap).expect("connect");
    let mut writer = stalled.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let mut all = BytesMut::new();
        for correlation_id in 1..=FETCHES {
            all.extend_from_slice(&fetch_frame(TOPIC, 0, 0, correlation_id));
        }
        writer.write_all(&all).expect("send the fetches");
    });
    // Let its answers fill the socket buffers and the broker's backlog for it.
    std::thread::sleep(Duration::from_secs(2));
    let rss = broker.rss_kib();
    assert!(rss < RSS_KIB_MAX, "the broker holds {rss} KiB: it kept reading the stalled client");

    // Everyone else is still served, produce with acks=all included (it needs the node's
    // group commit, so a node stuck on the stalled connection would time this out).
    let mut other = Client::connect_with_timeout(&bootstrap, "other", Duration::from_secs(10))
        .expect("a new connection is accepted and answered");
    assert_eq!(produce(&mut other, 2), 64, "a new client's produce is answered");
    assert_eq!(produce(&mut healthy, 3), 128, "an existing client's produce is answered");

    // Once the stalled client reads, every answer arrives, whole and in order (and the rest of
    // its requests, which waited in the socket buffers, go through).
    stalled.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    for expected in 1..=FETCHES {
        let (header, response) = read_fetch_answer(&mut stalled).expect("a fetch answer");
        assert_eq!(header.correlation_id, expected, "answers come in request order");
        let Response::Fetch(response) = response else { panic!("not a fetch answer") };
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, 0);
        assert!(partition.records.as_ref().is_some_and(|records| records.len() > 60_000));
    }
    sender.join().expect("sender");
}

//! A clean shutdown (SIGTERM) answers what the broker still holds before it closes the
//! connections: here a Fetch parked waiting for records gets its (empty) answer. Against the
//! real binary, over TCP.

use sluice_core::protocol::api::Response;
use sluice_tests::broker::Broker;
use sluice_tests::raw::{create_topic, fetch_frame, read_fetch_answer};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn a_clean_shutdown_answers_a_parked_fetch_before_closing() {
    let dir = tempfile::tempdir().expect("dir");
    let mut broker = Broker::start(dir.path(), &[]);
    let bootstrap = broker.bootstrap();
    let _admin = create_topic(&bootstrap, "quiet", 1);

    // An empty partition: the fetch parks for up to 30 s.
    let mut stream = TcpStream::connect(&bootstrap).expect("connect");
    stream.write_all(&fetch_frame("quiet", 0, 30_000, 7)).expect("send the fetch");
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    assert!(broker.stop(), "a clean exit");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let (header, response) = read_fetch_answer(&mut stream).expect("the parked fetch is answered");
    assert_eq!(header.correlation_id, 7);
    let Response::Fetch(response) = response else { panic!("not a fetch answer") };
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    assert_eq!(partition.records.as_ref().map_or(0, |records| records.len()), 0, "nothing to read");
    assert!(started.elapsed() < Duration::from_secs(20), "the broker did not wait out the fetch");
}

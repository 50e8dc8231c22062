//! The runtime's real tokio server (sluice_runtime::server::serve) on turmoil's simulated
//! network: a producer keeps writing with acks=all through a network partition, held and
//! released packets, and a bounce of the broker's host. Every acknowledged record must be
//! readable at its offset afterwards, and the client must recover from each fault.
//!
//! The server runs in a simulated [`Environment`]: its seed and clocks come from the test and
//! tokio's (virtual) time, and it fsyncs inline rather than on the blocking pool, so one
//! turmoil seed gives one run. scripts/test builds this file with `--cfg tokio_unstable`,
//! under which turmoil also seeds tokio's own RNG; a test runs a seed twice and compares.

use bytes::{Bytes, BytesMut};
use sluice_core::config::BrokerConfig;
use sluice_core::protocol::api::create_topics::{CreateTopicsRequest, CreateTopicsRequestTopic};
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{decode_response, encode_request, Request, Response};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::record_batch::{
    build_batch, BatchHeader, BatchOptions, NewRecord, Records,
};
use sluice_core::protocol::wire::StrBytes;
use sluice_runtime::server::Environment;
use sluice_sim::engine::trace_hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::{TcpListener, TcpStream};

struct SimListener(TcpListener);

impl sluice_runtime::server::Listener for SimListener {
    type Stream = TcpStream;

    async fn accept(&mut self) -> std::io::Result<(TcpStream, String)> {
        let (stream, peer) = self.0.accept().await?;
        Ok((stream, peer.to_string()))
    }

    fn local_address(&self) -> std::io::Result<String> {
        self.0.local_addr().map(|address| address.to_string())
    }
}

/// Sends one request and reads its response, with a timeout in simulated time.
async fn call(
    stream: &mut TcpStream,
    correlation: i32,
    version: i16,
    request: Request,
) -> Result<Response, String> {
    let key = request.api_key();
    let header = RequestHeader {
        api_key: key,
        api_version: version,
        correlation_id: correlation,
        client_id: None,
        ..Default::default()
    };
    let mut frame = BytesMut::new();
    encode_request(&header, &request, &mut frame);
    let exchange = async {
        stream.write_all(&frame).await.map_err(|error| error.to_string())?;
        let mut length = [0u8; 4];
        stream.read_exact(&mut length).await.map_err(|error| error.to_string())?;
        let mut body = vec![0u8; i32::from_be_bytes(length) as usize];
        stream.read_exact(&mut body).await.map_err(|error| error.to_string())?;
        let (response_header, response) =
            decode_response(key, version, Bytes::from(body)).map_err(|error| error.to_string())?;
        if response_header.correlation_id != correlation {
            return Err("correlation mismatch".to_string());
        }
        Ok(response)
    };
    tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .map_err(|_| "timed out".to_string())?
}

fn produce(value: &str) -> Request {
    let records = [NewRecord {
        value: Some(value.as_bytes()),
        timestamp_ms: 1_700_000_000_000,
        ..Default::default()
    }];
    Request::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![ProduceRequestTopic {
            name: StrBytes::from_static("t"),
            partition_data: vec![ProduceRequestPartition {
                index: 0,
                records: Some(Bytes::from(build_batch(&records, BatchOptions::default()))),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn fetch(offset: i64) -> Request {
    sluice_tests::raw::fetch_request("t", offset, 0)
}

/// What one run saw: the acknowledged (offset, value) pairs, how often the client
/// reconnected, the simulation steps, and a hash of every response frame in order.
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    acked: Vec<(i64, String)>,
    recovered: u32,
    steps: u64,
    responses: u64,
}

/// The producer scenario on `seed`, its data in `dir`; the host bounces after 2000 steps.
fn run(seed: u64, dir: &std::path::Path) -> Trace {
    let data = dir.to_string_lossy().into_owned();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(600))
        .rng_seed(seed)
        .build();
    sim.host("broker", move || {
        let data = data.clone();
        async move {
            let listener = TcpListener::bind("0.0.0.0:9092").await?;
            let config = BrokerConfig { log_dir: data, ..BrokerConfig::default() };
            sluice_runtime::server::serve_in(
                SimListener(listener),
                config,
                std::future::pending(),
                Environment::simulated(seed),
            )
            .await
            .map_err(|error| error.to_string())?;
            Ok(())
        }
    });
    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let recovered = Arc::new(Mutex::new(0u32));
    let responses = Arc::new(Mutex::new(0xcbf2_9ce4_8422_2325u64));
    let (acked_client, recovered_client, responses_client) =
        (acked.clone(), recovered.clone(), responses.clone());
    sim.client("producer", async move {
        let mut correlation = 0;
        let mut stream: Option<TcpStream> = None;
        let mut index = 0;
        let mut created = false;
        while index < 60 {
            match index {
                15 => turmoil::partition("producer", "broker"),
                25 => turmoil::repair("producer", "broker"),
                35 => turmoil::hold("producer", "broker"),
                40 => turmoil::release("producer", "broker"),
                _ => {}
            }
            if stream.is_none() {
                match tokio::time::timeout(
                    Duration::from_secs(1),
                    TcpStream::connect("broker:9092"),
                )
                .await
                {
                    Ok(Ok(connected)) => stream = Some(connected),
                    _ => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        index += 1; // faults are scheduled by attempt, so the run always ends
                        continue;
                    }
                }
            }
            correlation += 1;
            let connection = stream.as_mut().expect("connected");
            let result = if created {
                call(connection, correlation, 9, produce(&format!("v{index}"))).await
            } else {
                let topic = CreateTopicsRequestTopic {
                    name: StrBytes::from_static("t"),
                    num_partitions: 1,
                    replication_factor: 1,
                    ..Default::default()
                };
                call(
                    connection,
                    correlation,
                    7,
                    Request::CreateTopics(CreateTopicsRequest {
                        topics: vec![topic],
                        ..Default::default()
                    }),
                )
                .await
            };
            {
                let mut hash = responses_client.lock().expect("lock");
                *hash = trace_hash(*hash, format!("{index} {result:?}").as_bytes());
            }
            match result {
                Ok(Response::CreateTopics(_)) => created = true,
                Ok(Response::Produce(response)) => {
                    let answer = &response.responses[0].partition_responses[0];
                    if answer.error_code == 0 {
                        acked_client
                            .lock()
                            .expect("lock")
                            .push((answer.base_offset, format!("v{index}")));
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    // Broken or stuck connection: reconnect, as a real client would.
                    stream = None;
                    *recovered_client.lock().expect("lock") += 1;
                }
            }
            index += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    });
    // Bounce the broker's host midway: its process restarts on the same data directory.
    let mut steps = 0u64;
    while !sim.step().expect("simulation step") {
        steps += 1;
        if steps == 2_000 {
            sim.bounce("broker");
        }
        assert!(steps < 10_000_000, "the simulation ends");
    }
    let acked = acked.lock().expect("lock").clone();
    let recovered = *recovered.lock().expect("lock");
    let responses = *responses.lock().expect("lock");
    Trace { acked, recovered, steps, responses }
}

#[test]
fn acknowledged_records_survive_partitions_holds_and_a_host_bounce() {
    let dir = tempfile::tempdir().expect("dir");
    let Trace { acked, recovered, .. } = run(7, dir.path());
    assert!(acked.len() >= 20, "records were acknowledged: {acked:?}");
    assert!(recovered > 0, "the client met faults and recovered");
    // Read everything back through the server on a fresh simulation over the same directory.
    let data = dir.path().to_string_lossy().into_owned();
    let mut check = turmoil::Builder::new().build();
    check.host("broker", move || {
        let data = data.clone();
        async move {
            let listener = TcpListener::bind("0.0.0.0:9092").await?;
            let config = BrokerConfig { log_dir: data, ..BrokerConfig::default() };
            sluice_runtime::server::serve(SimListener(listener), config, std::future::pending())
                .await
                .map_err(|error| error.to_string())?;
            Ok(())
        }
    });
    check.client("reader", async move {
        let mut stream = TcpStream::connect("broker:9092").await?;
        let mut stored = std::collections::BTreeMap::new();
        let mut offset = 0;
        for correlation in 1..1000 {
            let Ok(Response::Fetch(response)) =
                call(&mut stream, correlation, 12, fetch(offset)).await
            else {
                break;
            };
            let records = response.responses[0].partitions[0].records.clone().unwrap_or_default();
            if records.is_empty() {
                break;
            }
            let mut at = 0;
            while at < records.len() {
                let header = BatchHeader::parse(&records[at..]).expect("batch");
                let end = at + header.size_bytes();
                for record in Records::new(&header, &records[at + 61..end]).flatten() {
                    let value =
                        String::from_utf8_lossy(record.value.unwrap_or_default()).into_owned();
                    stored.insert(header.base_offset + i64::from(record.offset_delta), value);
                }
                offset = header.next_offset();
                at = end;
            }
        }
        for (offset, value) in &acked {
            assert_eq!(stored.get(offset), Some(value), "acknowledged record at {offset} survives");
        }
        Ok(())
    });
    check.run().expect("the check runs");
}

/// The same seed twice, each on a fresh data directory: the same acknowledgements, the same
/// reconnects, the same number of steps and the same response bytes in the same order.
#[test]
#[cfg_attr(
    not(tokio_unstable),
    ignore = "needs RUSTFLAGS=\"--cfg tokio_unstable\" (scripts/test builds it so)"
)]
fn a_seed_reproduces_the_same_run() {
    let (first, second) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let one = run(11, first.path());
    let two = run(11, second.path());
    assert!(!one.acked.is_empty(), "the run acknowledged records: {one:?}");
    assert_eq!(one, two, "seed 11 ran differently twice");
}

//! The broker node, driven sans-IO on the simulated disk with real encoded Kafka requests:
//! every test asserts the exact outputs (responses, syncs, closes) the node produces.

use bytes::{Bytes, BytesMut};
use sluice_core::config::BrokerConfig;
use sluice_core::node::{ConnectionId, Input, Node, Output, ADVERTISED};
use sluice_core::protocol::api::create_topics::{
    CreateTopicsRequest, CreateTopicsRequestConfig, CreateTopicsRequestTopic,
};
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{decode_response, encode_request, Request, Response};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::record_batch::{self, BatchHeader, Compression};
use sluice_core::protocol::wire::StrBytes;
use sluice_core::protocol::ErrorCode;
use sluice_core::storage::{Storage, StorageError, StorageErrorKind};
use sluice_sim::disk::SimDisk;
use sluice_tests::producer_batch;

const WALL_MS: i64 = 1_700_000_000_000;
const A: ConnectionId = ConnectionId(1);
const B: ConnectionId = ConnectionId(2);

struct Harness {
    node: Node<SimDisk>,
    now: u64,
    /// The wall clock requests arrive at.
    wall_ms: i64,
    correlation: i32,
    /// (connection, api key, version) of each request by correlation id.
    sent: Vec<(i32, i16, i16)>,
}

impl Harness {
    fn new() -> Self {
        Self::with_disk(SimDisk::new(1))
    }

    /// Power fails (unsynced bytes go, as `SimDisk::crash` decides) and the node starts again
    /// on what the disk kept.
    fn after_power_loss(&mut self) -> Self {
        let mut disk = std::mem::replace(self.node.storage_mut(), SimDisk::new(0));
        disk.crash();
        Self::with_disk(disk)
    }

    fn with_disk(disk: SimDisk) -> Self {
        Self::with_config(BrokerConfig::default(), disk)
    }

    fn with_config(config: BrokerConfig, disk: SimDisk) -> Self {
        let (node, _) = Node::open(config, disk, 7, 0, WALL_MS).expect("open");
        Self { node, now: 0, wall_ms: WALL_MS, correlation: 0, sent: Vec::new() }
    }

    fn send(&mut self, connection: ConnectionId, version: i16, request: Request) -> i32 {
        self.correlation += 1;
        let key = request.api_key();
        let header = RequestHeader {
            api_key: key,
            api_version: version,
            correlation_id: self.correlation,
            client_id: Some(StrBytes::from_static("test")),
            ..Default::default()
        };
        let mut frame = BytesMut::new();
        encode_request(&header, &request, &mut frame);
        self.sent.push((self.correlation, key, version));
        let body = frame.freeze().slice(4..);
        self.node.handle(self.now, self.wall_ms, Input::Request { connection, body });
        self.correlation
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.node.poll_output())
            .filter(|output| !matches!(output, Output::Log { .. }))
            .collect()
    }

    /// Decodes a sent frame: (connection, correlation id, response).
    fn response(&self, output: &Output) -> (ConnectionId, i32, Response) {
        let Output::Send { connection, frame } = output else {
            panic!("expected a response, got {output:?}")
        };
        let body = frame.to_bytes().slice(4..);
        let correlation = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let &(_, key, version) =
            self.sent.iter().find(|(id, _, _)| *id == correlation).expect("sent");
        let (_, response) = decode_response(key, version, body).expect("decodes");
        (*connection, correlation, response)
    }

    /// Carries out a sync output on the simulated disk and reports it.
    fn complete_sync(&mut self, output: &Output, fail: bool) {
        let Output::Sync { id, files } = output else { panic!("expected a sync, got {output:?}") };
        let result = if fail {
            Err(StorageError::new(StorageErrorKind::Io, &files[0], "EIO"))
        } else {
            for file in files {
                self.node.storage_mut().sync(file).expect("sync");
            }
            Ok(())
        };
        self.node.handle(self.now, self.wall_ms, Input::Synced { id: *id, result });
    }

    fn create_topic(&mut self, name: &str, partitions: i32) {
        self.create_topics(name, partitions, &[]);
    }

    /// One partition, with topic configs.
    fn create_topic_with(&mut self, name: &str, configs: &[(&'static str, &'static str)]) {
        self.create_topics(name, 1, configs);
    }

    fn create_topics(
        &mut self,
        name: &str,
        partitions: i32,
        configs: &[(&'static str, &'static str)],
    ) {
        let configs = configs
            .iter()
            .map(|&(name, value)| CreateTopicsRequestConfig {
                name: StrBytes::from_static(name),
                value: Some(StrBytes::from_static(value)),
                ..Default::default()
            })
            .collect();
        let topic = CreateTopicsRequestTopic {
            name: StrBytes::from_string(name.into()),
            num_partitions: partitions,
            replication_factor: 1,
            configs,
            ..Default::default()
        };
        self.send(
            A,
            7,
            Request::CreateTopics(CreateTopicsRequest {
                topics: vec![topic],
                ..Default::default()
            }),
        );
        let outputs = self.outputs();
        let Response::CreateTopics(response) = self.response(&outputs[0]).2 else { panic!() };
        assert_eq!(response.topics[0].error_code, 0, "{:?}", response.topics[0].error_message);
    }
}

fn produce(topic: &str, partition: i32, acks: i16, records: Vec<u8>) -> Request {
    Request::Produce(ProduceRequest {
        acks,
        timeout_ms: 30_000,
        topic_data: vec![ProduceRequestTopic {
            name: StrBytes::from_string(topic.into()),
            partition_data: vec![ProduceRequestPartition {
                index: partition,
                records: Some(Bytes::from(records)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// DeleteTopics of `name` (by name, as versions up to 5 ask).
fn delete_topics(name: &'static str) -> Request {
    use sluice_core::protocol::api::delete_topics::DeleteTopicsRequest;
    let topic_names = vec![StrBytes::from_static(name)];
    Request::DeleteTopics(DeleteTopicsRequest { topic_names, ..Default::default() })
}

fn fetch(topic: &str, offset: i64, max_wait_ms: i32) -> Request {
    sluice_tests::raw::fetch_request(topic, offset, max_wait_ms)
}

#[test]
fn api_versions_advertises_exactly_what_is_served() {
    let mut harness = Harness::new();
    harness.send(A, 3, Request::ApiVersions(Default::default()));
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 1);
    let Response::ApiVersions(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(response.error_code, 0);
    let advertised: Vec<(i16, i16, i16)> = response
        .api_keys
        .iter()
        .map(|key| (key.api_key, key.min_version, key.max_version))
        .collect();
    assert_eq!(advertised, ADVERTISED);
}

#[test]
fn an_unknown_api_versions_version_gets_the_v0_answer_with_unsupported_version() {
    let mut harness = Harness::new();
    // ApiVersions v9 (unknown): header v1 prefix then garbage the broker cannot parse.
    let body = Bytes::from_static(&[0, 18, 0, 9, 0, 0, 0, 5, 0, 1, b'x', 0xde, 0xad]);
    harness.node.handle(0, WALL_MS, Input::Request { connection: A, body });
    let outputs = harness.outputs();
    let Output::Send { frame, .. } = &outputs[0] else { panic!("{outputs:?}") };
    let (header, response) = decode_response(18, 0, frame.to_bytes().slice(4..)).expect("v0");
    assert_eq!(header.correlation_id, 5);
    let Response::ApiVersions(response) = response else { panic!() };
    assert_eq!(response.error_code, ErrorCode::UnsupportedVersion.code());
    assert_eq!(response.api_keys.len(), ADVERTISED.len());
}

#[test]
fn garbage_and_unserved_apis_close_only_that_connection() {
    let mut harness = Harness::new();
    harness.node.handle(
        0,
        WALL_MS,
        Input::Request { connection: A, body: Bytes::from_static(&[0, 3]) },
    );
    let outputs = harness.outputs();
    assert!(matches!(&outputs[..], [Output::Close { connection: A, .. }]), "{outputs:?}");
    // SaslHandshake is decodable but not served yet: a closed connection, not a wrong answer.
    harness.send(B, 1, Request::SaslHandshake(Default::default()));
    assert!(matches!(&harness.outputs()[..], [Output::Close { connection: B, .. }]));
    harness.send(A, 3, Request::ApiVersions(Default::default()));
    assert!(matches!(&harness.outputs()[..], [Output::Send { connection: A, .. }]));
}

#[test]
fn metadata_auto_creates_valid_topics_only() {
    let mut harness = Harness::new();
    let topics = vec![
        MetadataRequestTopic { name: Some(StrBytes::from_static("orders")), ..Default::default() },
        MetadataRequestTopic {
            name: Some(StrBytes::from_static("bad name")),
            ..Default::default()
        },
    ];
    harness.send(
        A,
        12,
        Request::Metadata(MetadataRequest {
            topics: Some(topics),
            allow_auto_topic_creation: true,
            ..Default::default()
        }),
    );
    let outputs = harness.outputs();
    let Response::Metadata(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(response.brokers.len(), 1);
    assert_eq!((response.brokers[0].node_id, response.brokers[0].port), (1, 9092));
    assert_eq!(response.controller_id, 1);
    let orders = &response.topics[0];
    assert_eq!((orders.error_code, orders.partitions.len()), (0, 1));
    assert_eq!((orders.partitions[0].leader_id, orders.partitions[0].leader_epoch), (1, 0));
    assert_ne!(orders.topic_id, [0; 16]);
    assert_eq!(response.topics[1].error_code, ErrorCode::InvalidTopicException.code());
    assert!(harness.node.topics().get("orders").is_some());
}

#[test]
fn metadata_v12_answers_topics_asked_for_by_id() {
    // `kafka-topics --describe --topic-id`: the name is null and the id set (v12+).
    let mut harness = Harness::new();
    harness.create_topic("orders", 2);
    let id = harness.node.topics().get("orders").expect("made").id;
    let mut ask_ids = |version: i16, ids: Vec<[u8; 16]>| {
        let topics = ids
            .into_iter()
            .map(|topic_id| MetadataRequestTopic { topic_id, name: None, ..Default::default() })
            .collect();
        let request = MetadataRequest { topics: Some(topics), ..Default::default() };
        let Response::Metadata(response) = ask(&mut harness, version, Request::Metadata(request))
        else {
            panic!()
        };
        response
            .topics
            .iter()
            .map(|topic| {
                let name = topic.name.as_ref().map(|name| name.to_string());
                (topic.error_code, name, topic.topic_id, topic.partitions.len())
            })
            .collect::<Vec<_>>()
    };
    let unknown = [7; 16];
    assert_eq!(
        ask_ids(12, vec![id, unknown]),
        vec![
            (0, Some("orders".to_string()), id, 2),
            (ErrorCode::UnknownTopicId.code(), None, unknown, 0)
        ]
    );
    // Before v12 a topic needs its name.
    assert_eq!(
        ask_ids(11, vec![id]),
        vec![(ErrorCode::InvalidRequest.code(), Some(String::new()), id, 0)]
    );
}

#[test]
fn acks_all_answers_only_after_the_group_commit_sync() {
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    harness.send(A, 9, produce("t", 0, -1, producer_batch(3, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    assert!(matches!(&outputs[..], [Output::Sync { id: 1, .. }]), "{outputs:?}");
    // A second producer appends while the first sync is in flight: no new sync yet.
    harness.send(B, 9, produce("t", 0, -1, producer_batch(2, 10, 2, WALL_MS)));
    assert!(harness.outputs().is_empty());
    harness.complete_sync(&outputs[0], false);
    let outputs = harness.outputs();
    // The first produce is answered, and one new sync covers the second.
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    let (connection, _, Response::Produce(response)) = harness.response(&outputs[0]) else {
        panic!()
    };
    assert_eq!(connection, A);
    assert_eq!(response.responses[0].partition_responses[0].base_offset, 0);
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
    assert!(matches!(&outputs[1], Output::Sync { id: 2, .. }));
    harness.complete_sync(&outputs[1], false);
    let outputs = harness.outputs();
    let (connection, _, Response::Produce(response)) = harness.response(&outputs[0]) else {
        panic!()
    };
    assert_eq!(connection, B);
    assert_eq!(response.responses[0].partition_responses[0].base_offset, 3);
}

/// The (connection, base offset, error code) of a produce answer.
fn produce_answered(harness: &Harness, output: &Output) -> (ConnectionId, i64, i16) {
    let (connection, _, Response::Produce(response)) = harness.response(output) else {
        panic!("expected a produce answer, got {output:?}")
    };
    let answer = &response.responses[0].partition_responses[0];
    (connection, answer.base_offset, answer.error_code)
}

#[test]
fn page_cache_mode_answers_acks_one_at_once_and_syncs_for_acks_all_and_every_flush_messages() {
    // flush.messages=5: acks=1 is answered when appended, the log is synced once it holds 5
    // unsynced records (as Kafka flushes), and an acks=all produce gets a sync of its own.
    let mut harness = Harness::new();
    harness.create_topic_with("p", &[("flush.messages", "5")]);
    harness.send(A, 9, produce("p", 0, 1, producer_batch(2, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 1, "no sync for 2 records: {outputs:?}");
    assert_eq!(produce_answered(&harness, &outputs[0]), (A, 0, 0));
    harness.send(A, 9, produce("p", 0, 1, producer_batch(2, 10, 2, WALL_MS)));
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 1, "no sync for 4 records: {outputs:?}");
    assert_eq!(produce_answered(&harness, &outputs[0]), (A, 2, 0));
    harness.send(A, 9, produce("p", 0, 1, producer_batch(1, 10, 3, WALL_MS)));
    let outputs = harness.outputs();
    assert_eq!(produce_answered(&harness, &outputs[0]), (A, 4, 0));
    assert!(matches!(&outputs[1..], [Output::Sync { id: 1, .. }]), "5 records: {outputs:?}");
    harness.complete_sync(&outputs[1], false);
    assert!(harness.outputs().is_empty());
    // acks=all waits for a sync, which starts at once (not at the next checkpoint).
    harness.send(B, 9, produce("p", 0, -1, producer_batch(1, 10, 4, WALL_MS)));
    let outputs = harness.outputs();
    assert!(matches!(&outputs[..], [Output::Sync { id: 2, .. }]), "{outputs:?}");
    harness.complete_sync(&outputs[0], false);
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert_eq!(produce_answered(&harness, &outputs[0]), (B, 5, 0));
    // An acks=all produce whose sync fails is refused, in page-cache mode too.
    harness.send(B, 9, produce("p", 0, -1, producer_batch(1, 10, 5, WALL_MS)));
    let outputs = harness.outputs();
    assert!(matches!(&outputs[..], [Output::Sync { id: 3, .. }]), "{outputs:?}");
    harness.complete_sync(&outputs[0], true);
    let outputs = harness.outputs();
    let storage_error = ErrorCode::KafkaStorageError.code();
    assert_eq!(produce_answered(&harness, &outputs[0]), (B, -1, storage_error));
}

#[test]
fn page_cache_mode_syncs_a_log_whose_last_sync_is_flush_ms_old_at_the_flushers_check() {
    // As Kafka's log flusher: every log.flush.scheduler.interval.ms (50), a log with unsynced
    // records whose last sync is flush.ms (120) old or more is synced.
    let config = BrokerConfig { log_flush_scheduler_interval_ms: 50, ..BrokerConfig::default() };
    let mut harness = Harness::with_config(config, SimDisk::new(7));
    harness.create_topic_with("p", &[("flush.messages", "1000"), ("flush.ms", "120")]);
    let tick = |harness: &mut Harness, now: u64| {
        harness.now = now;
        harness.node.handle(now, WALL_MS, Input::Timer);
        harness.outputs()
    };
    // Nothing unsynced: no sync, whatever the time.
    assert!(tick(&mut harness, 150).is_empty());
    harness.send(A, 9, produce("p", 0, 1, producer_batch(2, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 1, "answered at once, no sync: {outputs:?}");
    // First appended at 150: the check at 250 finds it 100 ms old, the one at 300, 150 ms.
    assert!(tick(&mut harness, 250).is_empty());
    let outputs = tick(&mut harness, 300);
    assert!(matches!(&outputs[..], [Output::Sync { .. }]), "{outputs:?}");
    harness.complete_sync(&outputs[0], false);
    // Synced at 300: records appended then wait for the first check at or after 420.
    harness.send(A, 9, produce("p", 0, 1, producer_batch(1, 10, 2, WALL_MS)));
    assert_eq!(harness.outputs().len(), 1);
    assert!(tick(&mut harness, 350).is_empty());
    assert!(tick(&mut harness, 400).is_empty());
    let outputs = tick(&mut harness, 450);
    assert!(matches!(&outputs[..], [Output::Sync { .. }]), "{outputs:?}");
    // The flusher's check is a timer of the node.
    assert!(harness.node.poll_timeout().is_some_and(|at| at <= 500));
}

#[test]
fn group_answers_get_a_sync_at_once_when_the_offsets_topic_is_in_page_cache_mode() {
    // Broker-wide log.flush.interval.messages=100: __consumer_offsets inherits it, and a
    // commit's answer, which waits for its record to be durable, gets a sync at once.
    let (config, _) =
        BrokerConfig::from_properties("log.flush.interval.messages=100\n", &[]).expect("valid");
    let mut harness = Harness::with_config(config, SimDisk::new(1));
    harness.create_topic("t", 1);
    harness.send(A, 7, commit_request("g", &["t"], 3));
    let outputs = harness.outputs();
    let [sync @ Output::Sync { .. }] = &outputs[..] else { panic!("{outputs:?}") };
    harness.complete_sync(sync, false);
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let (_, _, Response::OffsetCommit(answer)) = harness.response(&outputs[0]) else {
        panic!("{outputs:?}")
    };
    assert_eq!(answer.topics[0].partitions[0].error_code, 0);
    assert!(!harness.node.is_busy(), "nothing waits: a clean shutdown can go ahead");
    assert_eq!(committed(&mut harness, "g"), vec![("t".to_string(), 3)]);
}

#[test]
fn responses_leave_a_connection_in_request_order() {
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let first = harness.send(A, 9, produce("t", 0, 1, producer_batch(1, 10, 1, WALL_MS)));
    let sync = harness.outputs();
    assert_eq!(harness.node.requests_held(A), 1, "the produce waits for its sync");
    let second = harness.send(A, 3, Request::ApiVersions(Default::default()));
    assert!(harness.outputs().is_empty(), "ApiVersions waits behind the unsynced produce");
    assert_eq!(harness.node.requests_held(A), 2, "an answer behind a waiting one is held too");
    assert_eq!(harness.node.requests_held(B), 0);
    harness.complete_sync(&sync[0], false);
    let outputs = harness.outputs();
    let order: Vec<i32> = outputs.iter().map(|output| harness.response(output).1).collect();
    assert_eq!(order, vec![first, second]);
    assert_eq!(harness.node.requests_held(A), 0);
}

#[test]
fn acks_zero_gets_no_answer_and_does_not_block_the_connection() {
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    harness.send(A, 9, produce("t", 0, 0, producer_batch(1, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    assert!(matches!(&outputs[..], [Output::Sync { .. }]), "the data is still synced: {outputs:?}");
    assert_eq!(harness.node.requests_held(A), 0, "never held: there is no answer to wait for");
    harness.send(A, 3, Request::ApiVersions(Default::default()));
    assert!(matches!(&harness.outputs()[..], [Output::Send { connection: A, .. }]));
}

#[test]
fn a_failed_acks_zero_produce_closes_the_connection_after_the_earlier_answers() {
    // Kafka closes the connection when a produce with acks=0 fails anywhere: the client gets
    // no answer, and the close makes it refresh its metadata. An earlier acks=all produce on
    // the same connection is still answered first; the other connection is untouched.
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    harness.send(A, 9, produce("t", 0, -1, producer_batch(1, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    let [sync @ Output::Sync { .. }] = &outputs[..] else { panic!("{outputs:?}") };
    harness.send(A, 9, produce("t", 5, 0, producer_batch(1, 10, 1, WALL_MS)));
    harness.send(B, 9, produce("t", 0, 0, producer_batch(1, 10, 1, WALL_MS)));
    assert!(harness.outputs().is_empty(), "the close waits for the answer before it");
    harness.complete_sync(sync, false);
    let outputs = harness.outputs();
    let [answer @ Output::Send { connection: A, .. }, Output::Close { connection: A, reason }, Output::Sync { .. }] =
        &outputs[..]
    else {
        panic!("the answer, then the close: {outputs:?}")
    };
    assert_eq!(reason, "a produce with acks=0 failed on t-5: error 3");
    let Response::Produce(answer) = harness.response(answer).2 else { panic!() };
    assert_eq!(answer.responses[0].partition_responses[0].error_code, 0);
    harness.send(B, 3, Request::ApiVersions(Default::default()));
    assert!(matches!(&harness.outputs()[..], [Output::Send { connection: B, .. }]));
}

#[test]
fn a_failed_fsync_is_never_acknowledged_and_takes_the_log_offline() {
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    harness.send(A, 9, produce("t", 0, -1, producer_batch(1, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    harness.complete_sync(&outputs[0], true);
    let outputs = harness.outputs();
    let Response::Produce(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        ErrorCode::KafkaStorageError.code()
    );
    assert_eq!(response.responses[0].partition_responses[0].base_offset, -1);
    harness.send(A, 9, produce("t", 0, -1, producer_batch(1, 10, 2, WALL_MS)));
    let outputs = harness.outputs();
    let Response::Produce(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        ErrorCode::KafkaStorageError.code()
    );
}

#[test]
fn bad_batches_get_kafka_error_codes_and_nothing_is_stored() {
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let mut bad_crc = producer_batch(2, 10, 1, WALL_MS);
    *bad_crc.last_mut().expect("byte") ^= 1;
    harness.send(A, 9, produce("t", 0, -1, bad_crc));
    let outputs = harness.outputs();
    let Response::Produce(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        ErrorCode::CorruptMessage.code()
    );
    harness.send(A, 9, produce("nope", 0, -1, producer_batch(1, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    let Response::Produce(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    harness.send(A, 9, produce("t", 7, -1, producer_batch(1, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    let Response::Produce(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    // A control batch (attributes bit 0x20), with a valid CRC: transaction markers are the
    // broker's to write (Kafka: INVALID_RECORD).
    let mut control = producer_batch(1, 10, 1, WALL_MS);
    control[22] |= 0x20;
    let crc = sluice_core::protocol::record_batch::compute_crc(&control);
    control[17..21].copy_from_slice(&crc.to_be_bytes());
    harness.send(A, 9, produce("t", 0, -1, control));
    let outputs = harness.outputs();
    let Response::Produce(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        ErrorCode::InvalidRecord.code()
    );
    let log = harness.node.logs().log(&sluice_core::log::TopicPartition::new("t", 0)).expect("log");
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn a_fetch_with_min_bytes_zero_or_no_partition_is_answered_at_once() {
    // As Kafka: it waits only for min_bytes of at least 1, over some partition.
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let Request::Fetch(mut eager) = fetch("t", 0, 500) else { panic!() };
    eager.min_bytes = 0;
    let mut nothing = eager.clone();
    nothing.min_bytes = 1;
    nothing.topics.clear();
    for request in [eager, nothing] {
        harness.send(B, 12, Request::Fetch(request));
        let outputs = harness.outputs();
        assert_eq!(outputs.len(), 1, "{outputs:?}");
        let (_, _, Response::Fetch(answer)) = harness.response(&outputs[0]) else { panic!() };
        assert_eq!(answer.error_code, 0);
    }
    assert_eq!(harness.node.stats().parked_fetches, 0);
}

#[test]
fn one_fetch_answer_holds_at_most_fetch_max_bytes_whatever_it_asks() {
    use sluice_core::limits::FETCH_RESPONSE_BYTES_MAX;
    // 45 batches of about 1 MB; a fetch asks for 2 GiB, listing the partition twice at 64 MiB
    // each: 90 MB without a cap.
    let mut harness = Harness::new();
    harness.create_topic("big", 1);
    for tag in 0..45 {
        ask(&mut harness, 9, produce("big", 0, -1, producer_batch(1, 1_000_000, tag, WALL_MS)));
    }
    let Request::Fetch(mut request) = fetch("big", 0, 0) else { panic!() };
    request.max_bytes = i32::MAX;
    request.topics[0].partitions[0].partition_max_bytes = 64 << 20;
    let twice = request.topics[0].partitions[0].clone();
    request.topics[0].partitions.push(twice);
    let Response::Fetch(answer) = ask(&mut harness, 12, Request::Fetch(request)) else { panic!() };
    let sizes: Vec<usize> = answer.responses[0]
        .partitions
        .iter()
        .map(|partition| partition.records.as_ref().map_or(0, |records| records.len()))
        .collect();
    let total: usize = sizes.iter().sum();
    assert!(sizes[0] > 44_000_000, "the first read is whole: {sizes:?}");
    assert!(total <= FETCH_RESPONSE_BYTES_MAX, "{total} bytes: {sizes:?}");
}

#[test]
fn a_waiting_fetch_wakes_when_data_becomes_durable_and_times_out_otherwise() {
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    harness.send(B, 12, fetch("t", 0, 500));
    assert!(harness.outputs().is_empty(), "no data: the fetch waits");
    assert_eq!(harness.node.poll_timeout(), Some(500));
    let batch = producer_batch(2, 10, 1, WALL_MS);
    harness.send(A, 9, produce("t", 0, 1, batch.clone()));
    let outputs = harness.outputs();
    assert!(
        matches!(&outputs[..], [Output::Sync { .. }]),
        "not visible before the sync: {outputs:?}"
    );
    harness.complete_sync(&outputs[0], false);
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 2);
    let (connection, _, Response::Produce(_)) = harness.response(&outputs[0]) else { panic!() };
    assert_eq!(connection, A);
    let (connection, _, Response::Fetch(response)) = harness.response(&outputs[1]) else {
        panic!()
    };
    assert_eq!(connection, B);
    let partition = &response.responses[0].partitions[0];
    assert_eq!(
        (partition.error_code, partition.high_watermark, partition.log_start_offset),
        (0, 2, 0)
    );
    let records = partition.records.clone().expect("records");
    assert_eq!(BatchHeader::parse(&records).expect("batch").base_offset, 0);
    assert_eq!(&records[12..16], &0i32.to_be_bytes(), "leader epoch patched");
    assert_eq!(&records[16..], &batch[16..], "the rest is the producer's bytes");
    // Nothing new: the fetch waits until its deadline and then answers empty.
    harness.send(B, 12, fetch("t", 2, 500));
    assert!(harness.outputs().is_empty());
    harness.now = 500;
    harness.node.handle(500, WALL_MS, Input::Timer);
    let outputs = harness.outputs();
    let Response::Fetch(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(response.responses[0].partitions[0].records.as_ref().map(Bytes::len), Some(0));
}

#[test]
fn a_fetch_waiting_for_min_bytes_reads_only_what_became_readable_since() {
    // Kafka sizes a held fetch from log positions; here each wake-up reads only the batches
    // that became readable since it last looked, not the whole range again, and the fetch is
    // answered once they add up to min_bytes. Three batches of one record, each synced in turn,
    // each above `index.interval.bytes` (4096), so that each has an index entry to read from.
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let batch_len = producer_batch(1, 5_000, 0, WALL_MS).len() as u64;
    let Request::Fetch(mut request) = fetch("t", 0, 500) else { panic!() };
    request.min_bytes = 3 * batch_len as i32;
    harness.send(B, 12, Request::Fetch(request));
    assert!(harness.outputs().is_empty(), "no data: the fetch waits");
    for tag in 0..3 {
        let before = harness.node.storage_mut().bytes_read();
        harness.send(A, 9, produce("t", 0, 1, producer_batch(1, 5_000, tag, WALL_MS)));
        let outputs = harness.outputs();
        assert!(matches!(&outputs[..], [Output::Sync { .. }]), "{outputs:?}");
        harness.complete_sync(&outputs[0], false);
        let outputs = harness.outputs();
        let read = harness.node.storage_mut().bytes_read() - before;
        if tag < 2 {
            assert_eq!(outputs.len(), 1, "only the produce is answered: {outputs:?}");
            assert_eq!(read, batch_len, "the new batch alone is read");
            continue;
        }
        // The third batch is counted, then the answer reads all three.
        assert_eq!(outputs.len(), 2, "{outputs:?}");
        assert_eq!(read, batch_len + 3 * batch_len);
        let (connection, _, Response::Fetch(response)) = harness.response(&outputs[1]) else {
            panic!()
        };
        assert_eq!(connection, B);
        let records = response.responses[0].partitions[0].records.clone().expect("records");
        assert_eq!(records.len() as u64, 3 * batch_len);
    }
    assert_eq!(harness.node.stats().parked_fetches, 0);
}

#[test]
fn fetch_out_of_range_and_list_offsets() {
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    harness.send(A, 9, produce("t", 0, -1, producer_batch(4, 10, 1, WALL_MS)));
    let sync = harness.outputs();
    harness.complete_sync(&sync[0], false);
    harness.outputs();
    harness.send(A, 12, fetch("t", 99, 0));
    let outputs = harness.outputs();
    let Response::Fetch(response) = harness.response(&outputs[0]).2 else { panic!() };
    let partition = &response.responses[0].partitions[0];
    assert_eq!(
        (partition.error_code, partition.high_watermark),
        (ErrorCode::OffsetOutOfRange.code(), 4)
    );
    let lookup = |timestamp| ListOffsetsRequestTopic {
        name: StrBytes::from_static("t"),
        partitions: vec![ListOffsetsRequestPartition {
            partition_index: 0,
            timestamp,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut list = |topics: Vec<ListOffsetsRequestTopic>| {
        let request = ListOffsetsRequest { replica_id: -1, topics, ..Default::default() };
        harness.send(A, 7, Request::ListOffsets(request));
        let outputs = harness.outputs();
        let Response::ListOffsets(response) = harness.response(&outputs[0]).2 else { panic!() };
        response
            .topics
            .iter()
            .map(|topic| {
                let partition = &topic.partitions[0];
                (partition.error_code, partition.timestamp, partition.offset)
            })
            .collect::<Vec<_>>()
    };
    let found: Vec<(i16, i64, i64)> = [-2, -1, WALL_MS + 2, WALL_MS + 99]
        .into_iter()
        .flat_map(|timestamp| list(vec![lookup(timestamp)]))
        .collect();
    assert_eq!(found, vec![(0, -1, 0), (0, -1, 4), (0, WALL_MS + 2, 2), (0, -1, -1)]);
    // As Kafka: a partition listed twice in one request is INVALID_REQUEST, each time.
    let invalid = ErrorCode::InvalidRequest.code();
    assert_eq!(list(vec![lookup(-2), lookup(-1)]), vec![(invalid, -1, -1), (invalid, -1, -1)]);
}

#[test]
fn create_topics_validates_like_kafka() {
    let mut harness = Harness::new();
    let topic = |name: &str, partitions: i32, replication: i16, configs: Vec<(&str, &str)>| {
        CreateTopicsRequestTopic {
            name: StrBytes::from_string(name.into()),
            num_partitions: partitions,
            replication_factor: replication,
            configs: configs
                .into_iter()
                .map(|(name, value)| CreateTopicsRequestConfig {
                    name: StrBytes::from_string(name.into()),
                    value: Some(StrBytes::from_string(value.into())),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    };
    let request = CreateTopicsRequest {
        topics: vec![
            topic("ok", 3, 1, vec![("retention.ms", "1000")]),
            topic("three", 1, 3, vec![]),
            topic("zero", 0, 1, vec![]),
            topic("badconfig", 1, 1, vec![("retention.ms", "soon")]),
            topic("bad/name", 1, 1, vec![]),
        ],
        ..Default::default()
    };
    harness.send(A, 7, Request::CreateTopics(request.clone()));
    let outputs = harness.outputs();
    let Response::CreateTopics(response) = harness.response(&outputs[0]).2 else { panic!() };
    let codes: Vec<i16> = response.topics.iter().map(|topic| topic.error_code).collect();
    assert_eq!(
        codes,
        vec![
            0,
            ErrorCode::InvalidReplicationFactor.code(),
            ErrorCode::InvalidPartitions.code(),
            ErrorCode::InvalidConfig.code(),
            ErrorCode::InvalidTopicException.code()
        ]
    );
    assert_eq!(response.topics[0].num_partitions, 3);
    let configs = response.topics[0].configs.as_ref().expect("v5+ lists configs");
    let retention =
        configs.iter().find(|config| config.name.as_str() == "retention.ms").expect("retention.ms");
    assert_eq!(retention.value.as_ref().map(|value| value.as_str()), Some("1000"));
    assert_eq!(harness.node.topics().get("ok").map(|topic| topic.partitions), Some(3));
    harness.send(
        A,
        7,
        Request::CreateTopics(CreateTopicsRequest {
            topics: vec![topic("ok", 1, 1, vec![])],
            ..Default::default()
        }),
    );
    let outputs = harness.outputs();
    let Response::CreateTopics(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(response.topics[0].error_code, ErrorCode::TopicAlreadyExists.code());
    // validate_only answers what a creation would: "o.k" collides with "o_k" (Kafka's '.'
    // versus '_' rule), and 20,000 partitions are over the cap.
    harness.send(
        A,
        7,
        Request::CreateTopics(CreateTopicsRequest {
            topics: vec![topic("o_k", 1, 1, vec![])],
            ..Default::default()
        }),
    );
    harness.outputs();
    let validate = CreateTopicsRequest {
        topics: vec![topic("o.k", 1, 1, vec![]), topic("many", 20_000, 1, vec![])],
        validate_only: true,
        ..Default::default()
    };
    harness.send(A, 7, Request::CreateTopics(validate));
    let outputs = harness.outputs();
    let Response::CreateTopics(response) = harness.response(&outputs[0]).2 else { panic!() };
    let codes: Vec<i16> = response.topics.iter().map(|topic| topic.error_code).collect();
    assert_eq!(
        codes,
        vec![ErrorCode::InvalidTopicException.code(), ErrorCode::InvalidPartitions.code()]
    );
}

#[test]
fn offset_for_leader_epoch_ends_the_leaders_epoch_at_the_log_end_even_when_empty() {
    use sluice_core::protocol::api::offset_for_leader_epoch::{
        OffsetForLeaderEpochRequest, OffsetForLeaderEpochRequestPartition,
        OffsetForLeaderEpochRequestTopic,
    };
    let mut harness = Harness::new();
    harness.create_topic("t", 2);
    // Partition 0 gets three records; partition 1 stays empty.
    ask(&mut harness, 9, produce("t", 0, -1, producer_batch(3, 10, 1, WALL_MS)));
    let mut asked = |topic: &'static str, partition: i32, current: i32, epoch: i32| {
        let request = OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderEpochRequestTopic {
                topic: StrBytes::from_static(topic),
                partitions: vec![OffsetForLeaderEpochRequestPartition {
                    partition,
                    current_leader_epoch: current,
                    leader_epoch: epoch,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let Response::OffsetForLeaderEpoch(answer) =
            ask(&mut harness, 4, Request::OffsetForLeaderEpoch(request))
        else {
            panic!()
        };
        let partition = &answer.topics[0].partitions[0];
        (partition.error_code, partition.leader_epoch, partition.end_offset)
    };
    assert_eq!(asked("t", 0, 0, 0), (0, 0, 3));
    // An empty partition: a Java consumer validating position 0 sees no truncation.
    assert_eq!(asked("t", 1, 0, 0), (0, 0, 0));
    assert_eq!(asked("t", 1, -1, 0), (0, 0, 0), "no current epoch given");
    assert_eq!(asked("t", 0, 0, -1), (0, -1, -1), "no epoch: undefined, as in Kafka");
    assert_eq!(asked("t", 0, 1, 0).0, ErrorCode::UnknownLeaderEpoch.code());
    assert_eq!(asked("none", 0, 0, 0).0, ErrorCode::UnknownTopicOrPartition.code());
}

#[test]
fn a_topic_of_many_partitions_is_made_and_deleted_with_a_few_fsyncs() {
    // The checkpoints are written once per topic, not once per partition (each rewrite is
    // two files naming every partition, synced): 500 partitions cost the syncs of making or
    // removing their own files and directories, and a few more.
    let mut harness = Harness::new();
    let before = harness.node.storage_mut().sync_count();
    harness.create_topic("wide", 500);
    let made = harness.node.storage_mut().sync_count() - before;
    assert_eq!(harness.node.topics().get("wide").map(|topic| topic.partitions), Some(500));
    assert!(harness.node.logs().log(&sluice_core::log::TopicPartition::new("wide", 499)).is_some());
    harness.send(A, 4, delete_topics("wide"));
    let outputs = harness.outputs();
    let Response::DeleteTopics(answer) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(answer.responses[0].error_code, 0);
    let deleted = harness.node.storage_mut().sync_count() - before - made;
    assert!(harness.node.logs().partitions().next().is_none());
    // Three per partition (its new files and directory entries); the rest is per topic.
    assert!(made <= 3 * 500 + 20, "{made} fsyncs to make 500 partitions");
    assert!(deleted <= 3 * 500 + 20, "{deleted} fsyncs to delete 500 partitions");
}

#[test]
fn topics_named_twice_in_one_request_are_refused_once_and_left_alone() {
    use sluice_core::protocol::api::delete_topics::DeleteTopicsRequest;
    let mut harness = Harness::new();
    let topic = |name: &'static str| CreateTopicsRequestTopic {
        name: StrBytes::from_static(name),
        num_partitions: 1,
        replication_factor: 1,
        ..Default::default()
    };
    let request = CreateTopicsRequest {
        topics: vec![topic("a"), topic("b"), topic("a")],
        ..Default::default()
    };
    let Response::CreateTopics(answer) = ask(&mut harness, 7, Request::CreateTopics(request))
    else {
        panic!()
    };
    let answers: Vec<(String, i16)> =
        answer.topics.iter().map(|topic| (topic.name.to_string(), topic.error_code)).collect();
    let invalid = ErrorCode::InvalidRequest.code();
    assert_eq!(answers, vec![("a".to_string(), invalid), ("b".to_string(), 0)]);
    assert!(harness.node.topics().get("a").is_none());
    // DeleteTopics v5 (by name) of b twice: refused once, b stays.
    let names = vec![StrBytes::from_static("b"), StrBytes::from_static("b")];
    let request = DeleteTopicsRequest { topic_names: names, ..Default::default() };
    let Response::DeleteTopics(answer) = ask(&mut harness, 5, Request::DeleteTopics(request))
    else {
        panic!()
    };
    let codes: Vec<i16> = answer.responses.iter().map(|topic| topic.error_code).collect();
    assert_eq!(codes, vec![invalid]);
    assert!(harness.node.topics().get("b").is_some());
}

#[test]
fn create_topics_takes_the_partition_count_from_a_manual_assignment() {
    use sluice_core::protocol::api::create_topics::CreateTopicsRequestAssignment;
    let mut harness = Harness::new();
    // `kafka-topics --replica-assignment 1,1,1`: three partitions on broker 1.
    let assigned = |name: &str, brokers: Vec<Vec<i32>>, partitions: i32, replication: i16| {
        CreateTopicsRequestTopic {
            name: StrBytes::from_string(name.into()),
            num_partitions: partitions,
            replication_factor: replication,
            assignments: brokers
                .into_iter()
                .enumerate()
                .map(|(index, broker_ids)| CreateTopicsRequestAssignment {
                    partition_index: if name == "gap" { 2 * index as i32 } else { index as i32 },
                    broker_ids,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    };
    let request = CreateTopicsRequest {
        topics: vec![
            assigned("three", vec![vec![1], vec![1], vec![1]], -1, -1),
            assigned("both", vec![vec![1]], 1, -1),
            assigned("gap", vec![vec![1], vec![1]], -1, -1),
            assigned("empty", vec![vec![]], -1, -1),
            assigned("twice", vec![vec![1, 1]], -1, -1),
            assigned("elsewhere", vec![vec![2]], -1, -1),
        ],
        ..Default::default()
    };
    harness.send(A, 7, Request::CreateTopics(request));
    let outputs = harness.outputs();
    let Response::CreateTopics(response) = harness.response(&outputs[0]).2 else { panic!() };
    let answers: Vec<(i16, i32, i16)> = response
        .topics
        .iter()
        .map(|topic| (topic.error_code, topic.num_partitions, topic.replication_factor))
        .collect();
    let invalid = ErrorCode::InvalidReplicaAssignment.code();
    assert_eq!(
        answers,
        vec![
            (0, 3, 1),
            (ErrorCode::InvalidRequest.code(), -1, -1),
            (invalid, -1, -1),
            (invalid, -1, -1),
            (invalid, -1, -1),
            (invalid, -1, -1),
        ]
    );
    assert_eq!(harness.node.topics().get("three").map(|topic| topic.partitions), Some(3));
    for refused in ["both", "gap", "empty", "twice", "elsewhere"] {
        assert!(harness.node.topics().get(refused).is_none(), "{refused}");
    }
}

#[test]
fn a_topic_whose_deletion_failed_after_the_registry_was_replaced_is_still_there_after_a_restart() {
    // The registry's rename reports EIO after it took effect: the file on disk forgets the
    // topic, while the broker answers KAFKA_STORAGE_ERROR and keeps it. It saves the registry
    // again, so a restart finds the topic it was told is still there.
    let mut harness = Harness::new();
    harness.create_topic("kept", 1);
    let faults = sluice_sim::disk::DiskFaults { renames_failing_after: 1, ..Default::default() };
    harness.node.storage_mut().set_faults(faults);
    harness.send(A, 4, delete_topics("kept"));
    let outputs = harness.outputs();
    let Response::DeleteTopics(answer) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(answer.responses[0].error_code, ErrorCode::KafkaStorageError.code());
    assert_eq!(harness.node.topics().get("kept").map(|topic| topic.partitions), Some(1));
    let restarted = harness.after_power_loss();
    assert_eq!(restarted.node.topics().get("kept").map(|topic| topic.partitions), Some(1));
}

#[test]
fn a_registry_left_holding_a_failed_deletion_is_saved_again_until_it_agrees() {
    // The registry's rename takes effect and reports EIO, so the file forgets the topic;
    // the save that puts it back fails before its rename. The broker keeps the topic, says
    // the file may differ, and saves it again a second later: from then on a restart finds
    // the topic it was told is still there.
    let mut harness = deletion_left_in_the_registry();
    let outputs: Vec<Output> = std::iter::from_fn(|| harness.node.poll_output()).collect();
    let logs = log_lines(&outputs);
    assert!(logs.iter().any(|line| line.contains("the registry on disk may hold that change")));
    let answer = outputs.iter().find(|output| matches!(output, Output::Send { .. }));
    let Response::DeleteTopics(answer) = harness.response(answer.expect("answered")).2 else {
        panic!()
    };
    assert_eq!(answer.responses[0].error_code, ErrorCode::KafkaStorageError.code());
    assert_eq!(harness.node.topics().get("kept").map(|topic| topic.partitions), Some(1));
    // Until the retry, the file forgets the topic.
    let early = harness.after_power_loss();
    assert!(early.node.topics().get("kept").is_none());
    // The retry is due a second later, and not before.
    assert_eq!(harness.node.poll_timeout(), Some(1_000));
    harness.now = 999;
    harness.node.handle(harness.now, harness.wall_ms, Input::Timer);
    assert!(harness.node.poll_output().is_none());
    harness.now = 1_000;
    harness.node.handle(harness.now, harness.wall_ms, Input::Timer);
    let outputs: Vec<Output> = std::iter::from_fn(|| harness.node.poll_output()).collect();
    let logs = log_lines(&outputs);
    assert_eq!(logs, vec!["the topic registry on disk agrees with the broker again".to_string()]);
    let restarted = harness.after_power_loss();
    assert_eq!(restarted.node.topics().get("kept").map(|topic| topic.partitions), Some(1));
}

#[test]
fn a_clean_shutdown_puts_a_registry_that_may_differ_right_first() {
    // As above, but the broker stops cleanly before the retry: `close` saves the registry,
    // so the next start has the topic.
    let mut harness = deletion_left_in_the_registry();
    harness.outputs();
    harness.node.close().expect("close");
    let restarted = harness.after_power_loss();
    assert_eq!(restarted.node.topics().get("kept").map(|topic| topic.partitions), Some(1));
}

/// A node told to delete topic "kept" whose registry rename takes effect and reports EIO,
/// and whose save putting the registry back then fails before its rename; its outputs are
/// not read yet.
fn deletion_left_in_the_registry() -> Harness {
    let mut harness = Harness::new();
    harness.create_topic("kept", 1);
    let faults = sluice_sim::disk::DiskFaults {
        renames_failing_after: 1,
        renames_failing_before: 1,
        ..Default::default()
    };
    harness.node.storage_mut().set_faults(faults);
    harness.send(A, 4, delete_topics("kept"));
    harness
}

fn log_lines(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn topics_configs_and_data_survive_a_clean_restart() {
    let mut harness = Harness::new();
    harness.create_topic("kept", 2);
    harness.send(A, 9, produce("kept", 1, -1, producer_batch(3, 10, 1, WALL_MS)));
    let sync = harness.outputs();
    harness.complete_sync(&sync[0], false);
    harness.outputs();
    harness.node.close().expect("close");
    let disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    let (node, report) = Node::open(BrokerConfig::default(), disk, 8, 0, WALL_MS).expect("reopen");
    assert!(report.clean_shutdown);
    assert_eq!(report.topics, 1);
    let partition = sluice_core::log::TopicPartition::new("kept", 1);
    assert_eq!(node.logs().log(&partition).map(|log| log.log_end_offset()), Some(3));
    assert_eq!(node.topics().get("kept").map(|topic| topic.partitions), Some(2));
}

fn idempotent_batch(
    producer_id: i64,
    epoch: i16,
    sequence: i32,
    count: usize,
    tag: u64,
) -> Vec<u8> {
    keyed_idempotent_batch(producer_id, epoch, sequence, count, tag, None)
}

/// [`idempotent_batch`] whose records all have `key`.
fn keyed_idempotent_batch(
    producer_id: i64,
    epoch: i16,
    sequence: i32,
    count: usize,
    tag: u64,
    key: Option<&[u8]>,
) -> Vec<u8> {
    let values: Vec<Vec<u8>> =
        (0..count).map(|index| format!("{tag}-{index}").into_bytes()).collect();
    let records: Vec<sluice_core::protocol::record_batch::NewRecord<'_>> = values
        .iter()
        .map(|value| sluice_core::protocol::record_batch::NewRecord {
            key,
            value: Some(value),
            timestamp_ms: WALL_MS,
            ..Default::default()
        })
        .collect();
    let options = sluice_core::protocol::record_batch::BatchOptions {
        producer_id,
        producer_epoch: epoch,
        base_sequence: sequence,
    };
    sluice_core::protocol::record_batch::build_batch(&records, options)
}

fn produce_answer(harness: &mut Harness, batch: Vec<u8>) -> (i16, i64) {
    harness.send(A, 9, produce("idem", 0, -1, batch));
    let mut outputs = harness.outputs();
    if let [Output::Sync { .. }] = &outputs[..] {
        let sync = outputs.remove(0);
        harness.complete_sync(&sync, false);
        outputs = harness.outputs();
    }
    let Response::Produce(response) = harness.response(&outputs[0]).2 else {
        panic!("{outputs:?}")
    };
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

#[test]
fn produce_refusals_carry_kafkas_codes_and_the_log_start() {
    // (error, base offset, log start) of one produce to idem-0, which starts at 0.
    fn answer(harness: &mut Harness, batch: Vec<u8>) -> (i16, i64, i64) {
        harness.send(A, 9, produce("idem", 0, -1, batch));
        let outputs = harness.outputs();
        let Response::Produce(response) = harness.response(&outputs[0]).2 else {
            panic!("{outputs:?}")
        };
        let partition = &response.responses[0].partition_responses[0];
        (partition.error_code, partition.base_offset, partition.log_start_offset)
    }
    let mut harness = Harness::new();
    harness.create_topic("idem", 1);
    // An unknown producer's batch past sequence 0: UNKNOWN_PRODUCER_ID with the log start,
    // from which a Java producer learns to bump its epoch (with -1 it retries until it
    // times out).
    assert_eq!(
        answer(&mut harness, idempotent_batch(7, 0, 3, 2, 1)),
        (ErrorCode::UnknownProducerId.code(), -1, 0)
    );
    // A producer id with a negative sequence: INVALID_RECORD, as Kafka's validator answers.
    assert_eq!(
        answer(&mut harness, idempotent_batch(7, 0, -1, 1, 2)),
        (ErrorCode::InvalidRecord.code(), -1, 0)
    );
    // A transactional batch without a transactional id: refused as Kafka refuses it, log
    // start unknown as in Kafka's answer.
    let mut transactional = idempotent_batch(7, 0, 0, 1, 3);
    transactional[22] |= 0x10;
    let crc = sluice_core::protocol::record_batch::compute_crc(&transactional);
    transactional[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        answer(&mut harness, transactional),
        (ErrorCode::TransactionalIdAuthorizationFailed.code(), -1, -1)
    );
    let tp = sluice_core::log::TopicPartition::new("idem", 0);
    assert_eq!(harness.node.logs().log(&tp).map(|log| log.log_end_offset()), Some(0));
}

#[test]
fn idempotent_producers_get_ids_and_retries_are_appended_once() {
    use sluice_core::protocol::api::init_producer_id::InitProducerIdRequest;
    let mut harness = Harness::new();
    harness.create_topic("idem", 1);
    harness.send(
        A,
        4,
        Request::InitProducerId(InitProducerIdRequest {
            transaction_timeout_ms: 60_000,
            ..Default::default()
        }),
    );
    let outputs = harness.outputs();
    let Response::InitProducerId(init) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!((init.error_code, init.producer_id, init.producer_epoch), (0, 0, 0));
    // The partition's first idempotent batch must start at sequence 0 too: a later batch of a
    // pipelining producer whose first batch failed is refused, not stored after a gap.
    assert_eq!(
        produce_answer(&mut harness, idempotent_batch(0, 0, 3, 2, 2)),
        (ErrorCode::UnknownProducerId.code(), -1)
    );
    assert_eq!(produce_answer(&mut harness, idempotent_batch(0, 0, 0, 3, 1)), (0, 0));
    assert_eq!(produce_answer(&mut harness, idempotent_batch(0, 0, 3, 2, 2)), (0, 3));
    // A retry of the first batch is answered with its original offset and not stored again.
    assert_eq!(produce_answer(&mut harness, idempotent_batch(0, 0, 0, 3, 1)), (0, 0));
    let tp = sluice_core::log::TopicPartition::new("idem", 0);
    assert_eq!(harness.node.logs().log(&tp).map(|log| log.log_end_offset()), Some(5));
    assert_eq!(
        produce_answer(&mut harness, idempotent_batch(0, 0, 9, 1, 3)),
        (ErrorCode::OutOfOrderSequenceNumber.code(), -1)
    );
    assert_eq!(
        produce_answer(&mut harness, idempotent_batch(0, 1, 0, 1, 4)),
        (0, 5),
        "a new epoch restarts at 0"
    );
    assert_eq!(
        produce_answer(&mut harness, idempotent_batch(0, 0, 5, 1, 5)),
        (ErrorCode::InvalidProducerEpoch.code(), -1),
        "the old epoch is fenced"
    );
    // After a restart the state is rebuilt from the log: a late retry is still a duplicate.
    harness.node.close().expect("close");
    let disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    let mut restarted = Harness::with_disk(disk);
    assert_eq!(produce_answer(&mut restarted, idempotent_batch(0, 1, 0, 1, 4)), (0, 5));
    assert_eq!(restarted.node.logs().log(&tp).map(|log| log.log_end_offset()), Some(6));
    // Ids are never handed out twice across restarts.
    restarted.send(A, 4, Request::InitProducerId(InitProducerIdRequest::default()));
    let outputs = restarted.outputs();
    let Response::InitProducerId(init) = restarted.response(&outputs[0]).2 else { panic!() };
    assert_eq!(init.producer_id, 1000, "the next persisted block");
}

#[test]
fn create_partitions_refuses_topics_listed_twice_and_assignments_it_cannot_follow() {
    // As Kafka: INVALID_REQUEST for each entry of a topic listed twice; INVALID_REPLICA_
    // ASSIGNMENT for assignments naming another broker, or not one per new partition.
    use sluice_core::protocol::api::create_partitions::{
        CreatePartitionsRequest, CreatePartitionsRequestAssignment, CreatePartitionsRequestTopic,
    };
    let mut harness = Harness::new();
    harness.create_topic("twice", 1);
    harness.create_topic("placed", 1);
    let grow = |name: &'static str, count: i32, brokers: Option<Vec<Vec<i32>>>| {
        CreatePartitionsRequestTopic {
            name: StrBytes::from_static(name),
            count,
            assignments: brokers.map(|brokers| {
                brokers
                    .into_iter()
                    .map(|broker_ids| CreatePartitionsRequestAssignment {
                        broker_ids,
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }
    };
    let request = CreatePartitionsRequest {
        topics: vec![
            grow("twice", 2, None),
            grow("placed", 3, Some(vec![vec![99], vec![99]])),
            grow("twice", 3, None),
            grow("placed", 3, Some(vec![vec![1]])),
        ],
        timeout_ms: 1000,
        validate_only: true,
        ..Default::default()
    };
    harness.send(A, 3, Request::CreatePartitions(request));
    let outputs = harness.outputs();
    let Response::CreatePartitions(response) = harness.response(&outputs[0]).2 else { panic!() };
    let codes: Vec<i16> = response.results.iter().map(|topic| topic.error_code).collect();
    // "placed" is listed twice too.
    assert_eq!(codes, vec![42, 42, 42, 42]);
    let request = CreatePartitionsRequest {
        topics: vec![
            grow("placed", 3, Some(vec![vec![99], vec![99]])),
            grow("twice", 3, Some(vec![vec![1]])),
        ],
        timeout_ms: 1000,
        validate_only: true,
        ..Default::default()
    };
    harness.send(A, 3, Request::CreatePartitions(request));
    let outputs = harness.outputs();
    let Response::CreatePartitions(response) = harness.response(&outputs[0]).2 else { panic!() };
    let answers: Vec<(i16, Option<&str>)> = response
        .results
        .iter()
        .map(|topic| (topic.error_code, topic.error_message.as_ref().map(|m| m.as_str())))
        .collect();
    assert_eq!(
        answers,
        vec![
            (39, Some("Replicas must be on broker ids that exist.")),
            (39, Some("Increasing the number of partitions by 2 but 1 assignments provided.")),
        ]
    );
}

#[test]
fn create_partitions_that_fail_leave_the_topic_as_it_was() {
    // The disk fails every fsync while a topic grows from 1 to 3 partitions: the answer is
    // KAFKA_STORAGE_ERROR, and the topic keeps 1 partition. Retried once the disk is healthy,
    // the growth succeeds and the new partitions take records. (It used to keep the new
    // count in memory with logs missing: the retry was answered INVALID_PARTITIONS and
    // produces to the new partitions UNKNOWN_TOPIC_OR_PARTITION, until a restart forgot the
    // growth altogether.)
    use sluice_core::protocol::api::create_partitions::{
        CreatePartitionsRequest, CreatePartitionsRequestTopic,
    };
    use sluice_sim::disk::DiskFaults;
    let mut harness = Harness::new();
    harness.create_topic("grow", 1);
    let grow = |harness: &mut Harness| {
        let topic = CreatePartitionsRequestTopic {
            name: StrBytes::from_static("grow"),
            count: 3,
            ..Default::default()
        };
        let request = CreatePartitionsRequest { topics: vec![topic], ..Default::default() };
        harness.send(A, 3, Request::CreatePartitions(request));
        let outputs = harness.outputs();
        let Response::CreatePartitions(answer) = harness.response(&outputs[0]).2 else {
            panic!("{outputs:?}")
        };
        answer.results[0].error_code
    };
    let failing = DiskFaults { sync_error_ppm: 1_000_000, ..DiskFaults::default() };
    harness.node.storage_mut().set_faults(failing);
    assert_eq!(grow(&mut harness), ErrorCode::KafkaStorageError.code());
    assert_eq!(harness.node.topics().get("grow").map(|topic| topic.partitions), Some(1));
    harness.node.storage_mut().set_faults(DiskFaults::default());
    assert_eq!(grow(&mut harness), 0, "the retry grows the topic");
    harness.send(A, 9, produce("grow", 2, -1, producer_batch(1, 10, 1, WALL_MS)));
    let mut outputs = harness.outputs();
    if let [Output::Sync { .. }] = &outputs[..] {
        let sync = outputs.remove(0);
        harness.complete_sync(&sync, false);
        outputs = harness.outputs();
    }
    let Response::Produce(answer) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(answer.responses[0].partition_responses[0].error_code, 0);
}

#[test]
fn a_config_change_that_cannot_be_saved_is_not_applied() {
    // The disk fails every fsync while segment.bytes is set: the answer is
    // KAFKA_STORAGE_ERROR and the topic and its log keep the old value (they used to run
    // with the new one until a restart undid it). Once the disk is healthy, the retry applies.
    use sluice_core::protocol::api::incremental_alter_configs::{
        IncrementalAlterConfigsRequest, IncrementalAlterConfigsRequestConfig,
        IncrementalAlterConfigsRequestResource,
    };
    use sluice_sim::disk::DiskFaults;
    let mut harness = Harness::new();
    harness.create_topic("cfg", 1);
    let alter = |harness: &mut Harness| {
        let config = IncrementalAlterConfigsRequestConfig {
            name: StrBytes::from_static("segment.bytes"),
            config_operation: 0,
            value: Some(StrBytes::from_static("4096")),
            ..Default::default()
        };
        let resource = IncrementalAlterConfigsRequestResource {
            resource_type: 2,
            resource_name: StrBytes::from_static("cfg"),
            configs: vec![config],
            ..Default::default()
        };
        let request =
            IncrementalAlterConfigsRequest { resources: vec![resource], ..Default::default() };
        harness.send(A, 1, Request::IncrementalAlterConfigs(request));
        let outputs = harness.outputs();
        let Response::IncrementalAlterConfigs(answer) = harness.response(&outputs[0]).2 else {
            panic!("{outputs:?}")
        };
        answer.responses[0].error_code
    };
    let segment_bytes = |harness: &Harness| {
        let topic = harness.node.topics().get("cfg").expect("topic").config.log.segment_bytes;
        let tp = sluice_core::log::TopicPartition::new("cfg", 0);
        let log = harness.node.logs().log(&tp).expect("log").config().segment_bytes;
        (topic, log)
    };
    let before = segment_bytes(&harness);
    assert_ne!(before, (4096, 4096));
    let failing = DiskFaults { sync_error_ppm: 1_000_000, ..DiskFaults::default() };
    harness.node.storage_mut().set_faults(failing);
    assert_eq!(alter(&mut harness), ErrorCode::KafkaStorageError.code());
    assert_eq!(segment_bytes(&harness), before, "nothing changed");
    harness.node.storage_mut().set_faults(DiskFaults::default());
    assert_eq!(alter(&mut harness), 0);
    assert_eq!(segment_bytes(&harness), (4096, 4096));
}

#[test]
fn a_topic_deletion_that_cannot_be_saved_still_answers_its_waiting_produce() {
    // An acks=all produce waits for its fsync; DeleteTopics fails (the registry cannot be
    // saved) and the topic stays. When the fsync completes, the produce must be answered:
    // the failed deletion used to drop the topic's syncs in flight, and it waited forever.
    use sluice_sim::disk::DiskFaults;
    let mut harness = Harness::new();
    harness.create_topic("del", 1);
    harness.send(A, 9, produce("del", 0, -1, producer_batch(1, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    let [sync @ Output::Sync { .. }] = &outputs[..] else { panic!("a sync: {outputs:?}") };
    let failing = DiskFaults { sync_error_ppm: 1_000_000, ..DiskFaults::default() };
    harness.node.storage_mut().set_faults(failing);
    harness.send(A, 5, delete_topics("del"));
    harness.node.storage_mut().set_faults(DiskFaults::default());
    harness.complete_sync(sync, false);
    let answers: Vec<Response> =
        harness.outputs().iter().map(|output| harness.response(output).2).collect();
    let [Response::Produce(produced), Response::DeleteTopics(deleted)] = &answers[..] else {
        panic!("both answered, in order: {answers:?}")
    };
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(deleted.responses[0].error_code, ErrorCode::KafkaStorageError.code());
}

#[test]
fn an_offsets_topic_that_cannot_be_saved_is_not_kept() {
    // FindCoordinator creates __consumer_offsets (one partition here). On a disk where a
    // third of the fsyncs fail, it either succeeds or answers COORDINATOR_NOT_AVAILABLE and keeps no
    // topic in memory. (When only the registry
    // could not be saved, the topic used to be kept, unsaved: a restart then found its logs as
    // strays and adopted them as a plain topic, not compacted.) Once the disk has room, the
    // next FindCoordinator creates it, compacted, and a restart finds it so.
    use sluice_core::protocol::api::find_coordinator::FindCoordinatorRequest;
    use sluice_sim::disk::DiskFaults;
    let find = |harness: &mut Harness| {
        let request =
            FindCoordinatorRequest { key: StrBytes::from_static("g"), ..Default::default() };
        harness.send(A, 2, Request::FindCoordinator(request));
        let outputs = harness.outputs();
        let Response::FindCoordinator(answer) = harness.response(&outputs[0]).2 else {
            panic!("{outputs:?}")
        };
        answer.error_code
    };
    let mut refused = 0;
    for seed in 0..64 {
        // Each disk seed fails a different subset of the creation's fsyncs.
        let mut config = BrokerConfig::default();
        config.group.offsets_topic_partitions = 1;
        let mut harness = Harness::with_config(config.clone(), SimDisk::new(seed));
        let flaky = DiskFaults { sync_error_ppm: 300_000, ..DiskFaults::default() };
        harness.node.storage_mut().set_faults(flaky);
        let code = find(&mut harness);
        let kept = harness.node.topics().get("__consumer_offsets").is_some();
        assert_eq!(kept, code == 0, "disk seed {seed}: answered {code}, topic kept: {kept}");
        harness.node.storage_mut().set_faults(DiskFaults::default());
        if code != 0 {
            refused += 1;
            assert_eq!(find(&mut harness), 0, "disk seed {seed}: the retry creates it");
        }
        harness.node.close().expect("close");
        let disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
        let restarted = Harness::with_config(config, disk);
        let topic = restarted.node.topics().get("__consumer_offsets").expect("saved");
        assert!(topic.config.log.cleanup_policy.compacts(), "disk seed {seed}");
    }
    assert!(refused > 0, "some creation failed");
}

#[test]
fn config_requests_refuse_null_values_and_keys_or_resources_given_twice() {
    // As Kafka: INVALID_REQUEST for a null value in AlterConfigs or IncrementalAlterConfigs
    // SET, a key given twice, a resource given twice; INVALID_CONFIG for a null topic config
    // in CreateTopics. Nothing changes. (A null value in AlterConfigs was dropped, and the
    // replacement removed every override it did not name.)
    use sluice_core::protocol::api::alter_configs::{
        AlterConfigsRequest, AlterConfigsRequestConfig, AlterConfigsRequestResource,
    };
    use sluice_core::protocol::api::create_topics::{
        CreateTopicsRequest, CreateTopicsRequestConfig, CreateTopicsRequestTopic,
    };
    use sluice_core::protocol::api::incremental_alter_configs::{
        IncrementalAlterConfigsRequest, IncrementalAlterConfigsRequestConfig,
        IncrementalAlterConfigsRequestResource,
    };
    let mut harness = Harness::new();
    harness.create_topic_with("cfg", &[("retention.ms", "5000")]);
    harness.create_topic("other", 1);
    let value = |value: Option<&str>| value.map(|value| StrBytes::from_string(value.into()));
    let whole = |name: &str, configs: &[(&str, Option<&str>)]| AlterConfigsRequestResource {
        resource_type: 2,
        resource_name: StrBytes::from_string(name.into()),
        configs: configs
            .iter()
            .map(|&(key, text)| AlterConfigsRequestConfig {
                name: StrBytes::from_string(key.into()),
                value: value(text),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let request = AlterConfigsRequest {
        resources: vec![
            whole("cfg", &[("segment.ms", Some("60000")), ("retention.ms", None)]),
            whole("other", &[("segment.ms", Some("1")), ("segment.ms", Some("2"))]),
        ],
        ..Default::default()
    };
    harness.send(A, 2, Request::AlterConfigs(request));
    let outputs = harness.outputs();
    let Response::AlterConfigs(response) = harness.response(&outputs[0]).2 else { panic!() };
    let answers: Vec<(i16, Option<&str>)> = response
        .responses
        .iter()
        .map(|resource| (resource.error_code, resource.error_message.as_ref().map(|m| m.as_str())))
        .collect();
    assert_eq!(
        answers,
        vec![
            (42, Some("Null value not supported for : retention.ms")),
            (42, Some("Error due to duplicate config keys: segment.ms")),
        ]
    );
    let request = AlterConfigsRequest {
        resources: vec![whole("other", &[("segment.ms", Some("1"))]), whole("other", &[])],
        ..Default::default()
    };
    harness.send(A, 2, Request::AlterConfigs(request));
    let outputs = harness.outputs();
    let Response::AlterConfigs(response) = harness.response(&outputs[0]).2 else { panic!() };
    let codes: Vec<i16> = response.responses.iter().map(|resource| resource.error_code).collect();
    assert_eq!(codes, vec![42, 42], "a resource given twice");
    let incremental = IncrementalAlterConfigsRequest {
        resources: vec![IncrementalAlterConfigsRequestResource {
            resource_type: 2,
            resource_name: StrBytes::from_static("cfg"),
            configs: vec![IncrementalAlterConfigsRequestConfig {
                name: StrBytes::from_static("retention.ms"),
                config_operation: 0,
                value: None,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    harness.send(A, 1, Request::IncrementalAlterConfigs(incremental));
    let outputs = harness.outputs();
    let Response::IncrementalAlterConfigs(response) = harness.response(&outputs[0]).2 else {
        panic!()
    };
    assert_eq!(response.responses[0].error_code, 42);
    let topic = harness.node.topics().get("cfg").expect("cfg");
    assert_eq!(topic.config.log.retention_ms, 5000, "nothing changed");
    assert_eq!(harness.node.topics().get("other").expect("other").config.overrides.len(), 0);
    let create = CreateTopicsRequest {
        topics: vec![CreateTopicsRequestTopic {
            name: StrBytes::from_static("made"),
            num_partitions: 1,
            replication_factor: 1,
            configs: vec![CreateTopicsRequestConfig {
                name: StrBytes::from_static("retention.ms"),
                value: None,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    };
    harness.send(A, 7, Request::CreateTopics(create));
    let outputs = harness.outputs();
    let Response::CreateTopics(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(response.topics[0].error_code, ErrorCode::InvalidConfig.code());
    assert!(harness.node.topics().get("made").is_none());
}

#[test]
fn delete_topics_v6_takes_a_name_or_an_id_not_both_nor_neither() {
    // As Kafka: INVALID_REQUEST for an entry with both (a stale id beside a name would
    // otherwise delete whatever topic has the name now) and for one with neither; an id
    // alone deletes its topic.
    use sluice_core::protocol::api::delete_topics::{
        DeleteTopicsRequest, DeleteTopicsRequestTopic,
    };
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let id = harness.node.topics().get("t").expect("t").id;
    let entry = |name: Option<&'static str>, topic_id: [u8; 16]| DeleteTopicsRequestTopic {
        name: name.map(StrBytes::from_static),
        topic_id,
        ..Default::default()
    };
    let request = DeleteTopicsRequest {
        topics: vec![entry(Some("t"), [7; 16]), entry(None, [0; 16])],
        timeout_ms: 1000,
        ..Default::default()
    };
    harness.send(A, 6, Request::DeleteTopics(request));
    let outputs = harness.outputs();
    let Response::DeleteTopics(response) = harness.response(&outputs[0]).2 else { panic!() };
    let codes: Vec<i16> = response.responses.iter().map(|topic| topic.error_code).collect();
    assert_eq!(codes, vec![42, 42]);
    assert!(harness.node.topics().get("t").is_some(), "t stays");
    let request = DeleteTopicsRequest {
        topics: vec![entry(None, id)],
        timeout_ms: 1000,
        ..Default::default()
    };
    harness.send(A, 6, Request::DeleteTopics(request));
    let mut outputs = harness.outputs();
    if let [Output::Sync { .. }, ..] = &outputs[..] {
        let sync = outputs.remove(0);
        harness.complete_sync(&sync, false);
        outputs.extend(harness.outputs());
    }
    let answer = outputs.iter().find_map(|output| match harness.response(output).2 {
        Response::DeleteTopics(response) => Some(response.responses[0].error_code),
        _ => None,
    });
    assert_eq!(answer, Some(0));
    assert!(harness.node.topics().get("t").is_none());
}

#[test]
fn describe_configs_of_an_invalid_topic_name_is_invalid_topic() {
    // As Kafka, which checks the name before looking the topic up.
    use sluice_core::protocol::api::describe_configs::{
        DescribeConfigsRequest, DescribeConfigsRequestResource,
    };
    let mut harness = Harness::new();
    let resources = ["a/b", "", "absent"]
        .iter()
        .map(|name| DescribeConfigsRequestResource {
            resource_type: 2,
            resource_name: StrBytes::from_static(name),
            configuration_keys: None,
            ..Default::default()
        })
        .collect();
    let request = DescribeConfigsRequest { resources, ..Default::default() };
    harness.send(A, 4, Request::DescribeConfigs(request));
    let outputs = harness.outputs();
    let Response::DescribeConfigs(response) = harness.response(&outputs[0]).2 else { panic!() };
    let codes: Vec<i16> = response.results.iter().map(|result| result.error_code).collect();
    assert_eq!(codes, vec![17, 17, 3]);
}

#[test]
fn incremental_alter_configs_appends_to_and_subtracts_from_cleanup_policy() {
    // As Kafka: APPEND (2) and SUBTRACT (3) edit a list config; on any other, INVALID_CONFIG.
    use sluice_core::config::CleanupPolicy;
    use sluice_core::protocol::api::incremental_alter_configs::{
        IncrementalAlterConfigsRequest, IncrementalAlterConfigsRequestConfig,
        IncrementalAlterConfigsRequestResource,
    };
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let mut edit = |key: &'static str, operation: i8, value: &'static str| {
        let request = IncrementalAlterConfigsRequest {
            resources: vec![IncrementalAlterConfigsRequestResource {
                resource_type: 2,
                resource_name: StrBytes::from_static("t"),
                configs: vec![IncrementalAlterConfigsRequestConfig {
                    name: StrBytes::from_static(key),
                    config_operation: operation,
                    value: Some(StrBytes::from_static(value)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        harness.send(A, 1, Request::IncrementalAlterConfigs(request));
        let outputs = harness.outputs();
        let Response::IncrementalAlterConfigs(response) = harness.response(&outputs[0]).2 else {
            panic!()
        };
        let policy = harness.node.topics().get("t").expect("t").config.log.cleanup_policy;
        (response.responses[0].error_code, policy)
    };
    assert_eq!(edit("cleanup.policy", 2, "compact"), (0, CleanupPolicy::CompactDelete));
    assert_eq!(edit("cleanup.policy", 2, "delete"), (0, CleanupPolicy::CompactDelete));
    assert_eq!(edit("cleanup.policy", 3, "delete"), (0, CleanupPolicy::Compact));
    assert_eq!(edit("retention.ms", 2, "5"), (40, CleanupPolicy::Compact));
    // The replication-throttle lists are list configs too.
    let key = "leader.replication.throttled.replicas";
    assert_eq!(edit(key, 2, "0:1").0, 0);
    assert_eq!(edit(key, 2, "1:1, 0:1").0, 0);
    assert_eq!(edit(key, 3, "0:1").0, 0);
    let topics = harness.node.topics();
    let inert = &topics.get("t").expect("t").config.inert;
    assert_eq!(inert[key], "1:1");
}

#[test]
fn alter_configs_replaces_overrides_and_refuses_other_resources() {
    use sluice_core::protocol::api::alter_configs::{
        AlterConfigsRequest, AlterConfigsRequestConfig, AlterConfigsRequestResource,
    };
    use sluice_core::protocol::api::describe_configs::{
        DescribeConfigsRequest, DescribeConfigsRequestResource,
    };
    let mut harness = Harness::new();
    harness.create_topic("cfg", 1);
    harness.create_topic("cfg2", 1);
    let resource = |resource_type: i8, name: &str, value: &str| AlterConfigsRequestResource {
        resource_type,
        resource_name: StrBytes::from_string(name.into()),
        configs: vec![AlterConfigsRequestConfig {
            name: StrBytes::from_static("retention.ms"),
            value: Some(StrBytes::from_string(value.into())),
            ..Default::default()
        }],
        ..Default::default()
    };
    let request = AlterConfigsRequest {
        resources: vec![
            resource(2, "cfg", "5000"),
            resource(4, "1", "5000"),
            resource(2, "cfg2", "soon"),
            resource(2, "nope", "1"),
        ],
        ..Default::default()
    };
    harness.send(A, 2, Request::AlterConfigs(request));
    let outputs = harness.outputs();
    let Response::AlterConfigs(response) = harness.response(&outputs[0]).2 else { panic!() };
    let codes: Vec<i16> = response.responses.iter().map(|resource| resource.error_code).collect();
    assert_eq!(
        codes,
        vec![
            0,
            ErrorCode::InvalidRequest.code(),
            ErrorCode::InvalidConfig.code(),
            ErrorCode::UnknownTopicOrPartition.code()
        ]
    );
    let mut describe = |keys: Option<Vec<StrBytes>>| {
        let describe = DescribeConfigsRequest {
            resources: vec![DescribeConfigsRequestResource {
                resource_type: 2,
                resource_name: StrBytes::from_static("cfg"),
                configuration_keys: keys,
                ..Default::default()
            }],
            ..Default::default()
        };
        harness.send(A, 4, Request::DescribeConfigs(describe));
        let outputs = harness.outputs();
        let Response::DescribeConfigs(mut response) = harness.response(&outputs[0]).2 else {
            panic!()
        };
        response.results.remove(0).configs
    };
    let configs = describe(Some(vec![StrBytes::from_static("retention.ms")]));
    let config = &configs[0];
    assert_eq!(
        (config.name.as_str(), config.value.as_ref().map(|value| value.as_str())),
        ("retention.ms", Some("5000"))
    );
    assert_eq!(config.config_source, 1, "a dynamic topic config");
    // No keys (null) and an empty list both mean every config, as in Kafka.
    let every = describe(None);
    assert!(every.len() > 10, "{every:?}");
    assert_eq!(describe(Some(Vec::new())), every);
}

/// A compacted topic: a keyless record gets INVALID_RECORD and nothing is stored; keyed
/// overwrites are compacted by the cleaner on the node's timer (`log.cleaner.backoff.ms`,
/// 15 s by default) once synced, leaving each key's last record at its offset, and a fetch
/// from offset 0 reaches the surviving records past the emptied batches.
#[test]
fn a_compacted_topic_refuses_keyless_records_and_is_compacted_on_the_timer() {
    use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
    let mut harness = Harness::new();
    let topic = CreateTopicsRequestTopic {
        name: StrBytes::from_static("c"),
        num_partitions: 1,
        replication_factor: 1,
        configs: [("cleanup.policy", "compact"), ("segment.bytes", "1024")]
            .into_iter()
            .map(|(name, value)| CreateTopicsRequestConfig {
                name: StrBytes::from_static(name),
                value: Some(StrBytes::from_static(value)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    harness.send(
        A,
        7,
        Request::CreateTopics(CreateTopicsRequest { topics: vec![topic], ..Default::default() }),
    );
    let outputs = harness.outputs();
    let Response::CreateTopics(response) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(response.topics[0].error_code, 0);

    let keyless =
        NewRecord { key: None, value: Some(b"v"), headers: vec![], timestamp_ms: WALL_MS };
    harness.send(A, 9, produce("c", 0, -1, build_batch(&[keyless], BatchOptions::default())));
    let outputs = harness.outputs();
    let Response::Produce(response) = harness.response(&outputs[0]).2 else { panic!() };
    let answer = &response.responses[0].partition_responses[0];
    assert_eq!(answer.error_code, ErrorCode::InvalidRecord.code());

    // 40 one-record batches, all with key "key-0" and 100-byte values: several segments.
    produce_one_key(&mut harness, "c", 40);
    let read_all = |harness: &mut Harness| read_values(harness, "c", 40);
    assert_eq!(read_all(&mut harness).len(), 40);
    // Before log.cleaner.backoff.ms nothing happens; after it, one pass compacts.
    harness.now = 14_999;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    assert_eq!(read_all(&mut harness).len(), 40);
    harness.now = 15_000;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    // The rewritten segments' new index files were synced as the pass wrote them: it leaves
    // nothing for a group commit.
    let outputs = harness.outputs();
    assert!(outputs.is_empty(), "{outputs:?}");
    let compacted = read_all(&mut harness);
    assert!(compacted.len() < 20, "{} records left", compacted.len());
    // What is left is the active segment's records, contiguous up to the last, each at its
    // original offset (record `tag` has offset `tag` and value "tag:0:x…").
    let first = compacted[0].0;
    for (index, (offset, value)) in compacted.iter().enumerate() {
        assert_eq!(*offset, first + index as i64);
        assert!(value.starts_with(format!("{offset}:0:").as_bytes()));
    }
    assert_eq!(compacted.last().map(|record| record.0), Some(39));
}

/// Retention that takes its log offline (a segment file it cannot remove) answers at once
/// the acks=all produce waiting there for a sync, with KAFKA_STORAGE_ERROR, as a failed
/// fsync does, instead of leaving it to the sync's completion. (The cleaner never runs while
/// a sync is in flight, so a failed compaction meets no such produce.)
#[test]
fn a_produce_waiting_on_a_log_that_retention_takes_offline_is_answered_at_once() {
    let mut harness = Harness::new();
    harness.create_topics("r", 1, &[("retention.ms", "1000"), ("segment.bytes", "1024")]);
    produce_one_key(&mut harness, "r", 20);
    harness.send(A, 9, produce("r", 0, -1, producer_batch(1, 100, 20, WALL_MS)));
    let outputs = harness.outputs();
    assert!(matches!(outputs[..], [Output::Sync { .. }]), "{outputs:?}");
    let faults = sluice_sim::disk::DiskFaults { remove_error_ppm: 1_000_000, ..Default::default() };
    harness.node.storage_mut().set_faults(faults);
    // log.retention.check.interval.ms (5 minutes) later, every segment but the active one is
    // due; removing the first fails.
    harness.now = 300_000;
    harness.node.handle(harness.now, WALL_MS + 300_000, Input::Timer);
    let outputs = harness.outputs();
    let answers: Vec<i16> = outputs
        .iter()
        .filter(|output| matches!(output, Output::Send { .. }))
        .map(|output| {
            let Response::Produce(response) = harness.response(output).2 else { panic!() };
            response.responses[0].partition_responses[0].error_code
        })
        .collect();
    assert_eq!(answers, vec![ErrorCode::KafkaStorageError.code()], "{outputs:?}");
}

/// `count` one-record batches to partition 0 of `topic`, all with key "key-0" and 100-byte
/// values, each acknowledged after its sync at offset `tag`.
fn produce_one_key(harness: &mut Harness, topic: &str, count: u64) {
    for tag in 0..count {
        harness.send(A, 9, produce(topic, 0, -1, producer_batch(1, 100, tag, WALL_MS)));
        let outputs = harness.outputs();
        harness.complete_sync(&outputs[0], false);
        let outputs = harness.outputs();
        let Response::Produce(response) = harness.response(&outputs[0]).2 else { panic!() };
        assert_eq!(response.responses[0].partition_responses[0].base_offset, tag as i64);
    }
}

/// (offset, value) of every record of partition 0 of `topic` below `end`, fetched from 0.
fn read_values(harness: &mut Harness, topic: &str, end: i64) -> Vec<(i64, Vec<u8>)> {
    use sluice_core::protocol::record_batch::Records;
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < end {
        harness.send(A, 12, fetch(topic, offset, 0));
        let outputs = harness.outputs();
        let Response::Fetch(response) = harness.response(&outputs[0]).2 else { panic!() };
        let bytes = response.responses[0].partitions[0].records.clone().expect("records");
        let mut position = 0;
        while position < bytes.len() {
            let header = BatchHeader::parse(&bytes[position..]).expect("header");
            let body = &bytes[position + 61..position + header.size_bytes()];
            for record in Records::new(&header, body) {
                let record = record.expect("record");
                let value = record.value.expect("value").to_vec();
                records.push((header.base_offset + i64::from(record.offset_delta), value));
            }
            offset = header.next_offset();
            position += header.size_bytes();
        }
    }
    records
}

/// With `log.cleaner.step.bytes` small, a pass reads a little at a time: the node asks for the
/// next step at once (`poll_timeout` is now), answers requests between steps, lets each
/// sync finish before the next step, and ends where a whole pass ends.
#[test]
fn a_compaction_pass_runs_in_steps_between_requests() {
    let config = BrokerConfig { log_cleaner_step_bytes: 300, ..BrokerConfig::default() };
    let mut harness = Harness::with_config(config, SimDisk::new(1));
    harness.create_topic_with("c", &[("cleanup.policy", "compact"), ("segment.bytes", "1024")]);
    harness.create_topic_with("d", &[]);
    produce_one_key(&mut harness, "c", 40);
    let before = read_values(&mut harness, "c", 40);
    assert_eq!(before.len(), 40);
    harness.now = 15_000;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    let (mut steps, mut syncs) = (1, 0);
    loop {
        let outputs = harness.outputs();
        if let Some(sync) = outputs.iter().find(|output| matches!(output, Output::Sync { .. })) {
            // No step while a sync is in flight: the next runs when it completes.
            assert_eq!(harness.node.poll_timeout().map(|at| at > harness.now), Some(true));
            harness.complete_sync(sync, false);
            syncs += 1;
            steps += 1;
            continue;
        }
        if harness.node.poll_timeout() != Some(harness.now) {
            break;
        }
        // Between steps the node serves a fetch, which sees whole segments, old or new.
        let seen = read_values(&mut harness, "c", 40);
        assert_eq!(seen.last(), before.last());
        harness.node.handle(harness.now, WALL_MS, Input::Timer);
        steps += 1;
        assert!(steps < 1000, "the pass does not end");
        if steps % 5 == 0 {
            // A produce to another topic puts a sync in flight.
            let batch = producer_batch(1, 100, steps, WALL_MS);
            harness.send(A, 9, produce("d", 0, -1, batch));
        }
    }
    assert!(steps >= 10 && syncs >= 2, "{steps} steps, {syncs} syncs");
    let compacted = read_values(&mut harness, "c", 40);
    assert!(compacted.len() < 20, "{} records left", compacted.len());
    let first = compacted[0].0;
    for (index, (offset, value)) in compacted.iter().enumerate() {
        assert_eq!(*offset, first + index as i64);
        assert_eq!(value, &before[*offset as usize].1);
    }
    assert_eq!(compacted.last().map(|record| record.0), Some(39));
}

/// A pass that fails waits for the next round of the cleaner (`log.cleaner.backoff.ms`), even
/// while another partition's pass still has steps to run. (Each failing pass began again at
/// the next step, so on a full disk two compacted partitions kept each other's passes going
/// without end; the simulator's clock, fed a timer due at once, never moved: swarm seed
/// 5174855 at 60 s.)
#[test]
fn a_failed_compaction_pass_waits_for_the_next_round() {
    use sluice_sim::disk::DiskFaults;
    let config = BrokerConfig { log_cleaner_step_bytes: 300, ..BrokerConfig::default() };
    let mut harness = Harness::with_config(config, SimDisk::new(1));
    for topic in ["a", "b"] {
        let name = if topic == "a" { "a" } else { "b" };
        harness
            .create_topic_with(name, &[("cleanup.policy", "compact"), ("segment.bytes", "1024")]);
        produce_one_key(&mut harness, topic, 40);
    }
    // Full: every rewrite fails when it writes its first batches.
    let used = harness.node.storage_mut().used_bytes();
    harness
        .node
        .storage_mut()
        .set_faults(DiskFaults { capacity_bytes: used, ..DiskFaults::default() });
    let mut failures = Vec::new();
    let mut round = |harness: &mut Harness, at: u64| {
        harness.now = at;
        harness.node.handle(harness.now, WALL_MS, Input::Timer);
        for step in 0.. {
            assert!(step < 1000, "the cleaner's round does not end");
            let outputs: Vec<Output> = std::iter::from_fn(|| harness.node.poll_output()).collect();
            for output in outputs {
                match output {
                    Output::Log { message, .. } if message.starts_with("compaction of") => {
                        failures.push((at, message[14..17].to_string()));
                    }
                    Output::Sync { .. } => harness.complete_sync(&output, false),
                    _ => {}
                }
            }
            if harness.node.poll_timeout() != Some(harness.now) {
                break;
            }
            harness.node.handle(harness.now, WALL_MS, Input::Timer);
        }
    };
    round(&mut harness, 15_000);
    round(&mut harness, 30_000);
    let expected: Vec<(u64, String)> = [15_000, 30_000]
        .into_iter()
        .flat_map(|at| [(at, "a-0".to_string()), (at, "b-0".to_string())])
        .collect();
    assert_eq!(failures, expected);
}

/// Producer state is snapshotted at the offset checkpoint (`<offset>.snapshot` beside the
/// segments); on open the newest usable snapshot is loaded and only later batches are read.
/// A snapshot above the log end, or one that fails its CRC, is deleted, and the state is
/// still exact: retries of batches before and after the snapshot are both duplicates.
#[test]
fn producer_state_comes_back_from_a_snapshot_and_the_batches_after_it() {
    let mut harness = Harness::new();
    harness.create_topic_with("idem", &[("segment.bytes", "1024")]);
    for batch in 0..12 {
        let answer = produce_answer(&mut harness, idempotent_batch(0, 0, batch * 3, 3, 1));
        assert_eq!(answer, (0, i64::from(batch) * 3));
    }
    let tp = sluice_core::log::TopicPartition::new("idem", 0);
    assert!(harness.node.logs().log(&tp).expect("log").segment_count() > 1, "a segment rolled");
    // log.flush.offset.checkpoint.interval.ms (60 s) writes the checkpoints, and a snapshot
    // for a partition that rolled a segment since its last one.
    harness.now = 60_000;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    for output in harness.outputs() {
        harness.complete_sync(&output, false);
    }
    let files = |harness: &mut Harness| -> Vec<String> {
        let mut names = harness.node.storage_mut().list("idem-0").expect("list");
        names.retain(|name| name.ends_with(".snapshot"));
        names
    };
    assert_eq!(files(&mut harness), vec!["00000000000000000036.snapshot".to_string()]);
    // No roll since: the next checkpoint writes none.
    assert_eq!(produce_answer(&mut harness, idempotent_batch(0, 0, 36, 2, 2)), (0, 36));
    harness.now = 120_000;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    for output in harness.outputs() {
        harness.complete_sync(&output, false);
    }
    assert_eq!(files(&mut harness), vec!["00000000000000000036.snapshot".to_string()]);
    // The process dies (no clean close); a stale snapshot above the log end and a damaged
    // one at it are lying around.
    let mut disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    disk.append("idem-0/00000000000000000099.snapshot", b"SPS1 from another history")
        .expect("write");
    disk.append("idem-0/00000000000000000038.snapshot", b"SPS1garbage").expect("write");
    let mut restarted = Harness::with_disk(disk);
    assert_eq!(files(&mut restarted), vec!["00000000000000000036.snapshot".to_string()]);
    // Retries of the last batch inside the snapshot and of the one after it: both duplicates.
    assert_eq!(produce_answer(&mut restarted, idempotent_batch(0, 0, 33, 3, 1)), (0, 33));
    assert_eq!(produce_answer(&mut restarted, idempotent_batch(0, 0, 36, 2, 2)), (0, 36));
    assert_eq!(produce_answer(&mut restarted, idempotent_batch(0, 0, 38, 1, 3)), (0, 38));
    // A clean close snapshots the end, and keeps the two newest.
    restarted.node.close().expect("close");
    assert_eq!(
        files(&mut restarted),
        vec![
            "00000000000000000036.snapshot".to_string(),
            "00000000000000000039.snapshot".to_string()
        ]
    );
}

/// DeleteRecords below `offset` of partition 0 of `topic`: (error code, low watermark).
fn delete_records(harness: &mut Harness, topic: &'static str, offset: i64) -> (i16, i64) {
    use sluice_core::protocol::api::delete_records::{
        DeleteRecordsRequest, DeleteRecordsRequestPartition, DeleteRecordsRequestTopic,
    };
    let partition =
        DeleteRecordsRequestPartition { partition_index: 0, offset, ..Default::default() };
    let topic = DeleteRecordsRequestTopic {
        name: StrBytes::from_static(topic),
        partitions: vec![partition],
        ..Default::default()
    };
    let request = DeleteRecordsRequest { topics: vec![topic], ..Default::default() };
    let Response::DeleteRecords(response) = ask(harness, 2, Request::DeleteRecords(request)) else {
        panic!()
    };
    let answer = &response.topics[0].partitions[0];
    (answer.error_code, answer.low_watermark)
}

#[test]
fn delete_records_is_refused_where_the_policy_does_not_delete() {
    // As Kafka: POLICY_VIOLATION on a compact-only topic; compact,delete and delete allow it.
    let mut harness = Harness::new();
    for (topic, policy) in [("c", "compact"), ("cd", "compact,delete"), ("d", "delete")] {
        harness.create_topic_with(topic, &[("cleanup.policy", policy)]);
        ask(&mut harness, 9, produce(topic, 0, -1, producer_batch(3, 10, 1, WALL_MS)));
    }
    assert_eq!(delete_records(&mut harness, "c", 2), (ErrorCode::PolicyViolation.code(), -1));
    assert_eq!(delete_records(&mut harness, "cd", 2), (0, 2));
    assert_eq!(delete_records(&mut harness, "d", 2), (0, 2));
}

#[test]
fn delete_records_writes_a_snapshot_only_when_none_above_the_new_start_is_durable() {
    let mut harness = Harness::new();
    harness.create_topic_with("idem", &[("segment.bytes", "1024")]);
    for batch in 0..20 {
        let answer = produce_answer(&mut harness, idempotent_batch(0, 0, batch * 3, 3, 1));
        assert_eq!(answer, (0, i64::from(batch) * 3));
    }
    // The checkpoint snapshots the rolled partition at its end, 60.
    harness.now = 60_000;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    for output in harness.outputs() {
        harness.complete_sync(&output, false);
    }
    for batch in 20..23 {
        produce_answer(&mut harness, idempotent_batch(0, 0, batch * 3, 3, 1));
    }
    let snapshots = |harness: &mut Harness| -> Vec<String> {
        let mut names = harness.node.storage_mut().list("idem-0").expect("list");
        names.retain(|name| name.ends_with(".snapshot"));
        names
    };
    assert_eq!(snapshots(&mut harness), vec!["00000000000000000060.snapshot".to_string()]);
    let delete = |harness: &mut Harness, offset: i64| delete_records(harness, "idem", offset);
    // 60 lies between the new start and the durable end (69): no sync, no new snapshot.
    assert_eq!(delete(&mut harness, 30), (0, 30));
    assert_eq!(snapshots(&mut harness), vec!["00000000000000000060.snapshot".to_string()]);
    // Past it, the state below 66 must be made durable first: a snapshot at the end.
    assert_eq!(delete(&mut harness, 66), (0, 66));
    assert_eq!(
        snapshots(&mut harness),
        vec![
            "00000000000000000060.snapshot".to_string(),
            "00000000000000000069.snapshot".to_string()
        ]
    );
}

#[test]
fn retention_keeps_the_producer_state_of_the_segments_it_deletes() {
    // An idempotent producer's batches fill the first segments, another producer's the active
    // one; retention deletes the first ones and then the power fails. Its last batch, retried,
    // must still be answered as a duplicate: the state was made durable before the deletion
    // (no periodic checkpoint or snapshot runs in this test).
    let config = BrokerConfig {
        log_flush_offset_checkpoint_interval_ms: 1 << 40,
        log_retention_check_interval_ms: 1000,
        ..BrokerConfig::default()
    };
    let mut harness = Harness::with_config(config.clone(), SimDisk::new(1));
    harness.create_topic_with("idem", &[("segment.bytes", "1024"), ("retention.bytes", "1024")]);
    let mut last = (0, 0);
    for batch in 0..20 {
        let answer =
            produce_answer(&mut harness, idempotent_batch(0, 0, batch * 3, 3, batch as u64));
        assert_eq!(answer, (0, i64::from(batch) * 3));
        last = (batch * 3, answer.1);
    }
    for batch in 0..20 {
        let plain = producer_batch(3, 40, 100 + batch, WALL_MS);
        assert_eq!(produce_answer(&mut harness, plain).0, 0);
    }
    let tp = sluice_core::log::TopicPartition::new("idem", 0);
    let log = harness.node.logs().log(&tp).expect("log");
    let active_base = log.log_end_offset() - 1;
    assert!(log.segment_count() > 2, "segments rolled");
    harness.now = 1000;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    for output in harness.outputs() {
        harness.complete_sync(&output, false);
    }
    let log = harness.node.logs().log(&tp).expect("log");
    assert!(log.log_start_offset() > 60, "retention deleted every batch of producer 0");
    assert!(log.log_start_offset() <= active_base);
    let mut disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    disk.crash();
    let mut restarted = Harness::with_config(config, disk);
    let (sequence, offset) = last;
    assert_eq!(
        produce_answer(&mut restarted, idempotent_batch(0, 0, sequence, 3, 19)),
        (0, offset),
        "the retry is a duplicate of the stored batch"
    );
}

#[test]
fn compaction_keeps_the_producer_state_of_the_batches_it_removes() {
    // An idempotent producer writes 20 batches over two keys, another producer fills the
    // active segment; the cleaner removes every superseded batch, and then the power fails.
    // Batch 17 (superseded by 19), retried, must still be answered as a duplicate: the state
    // was made durable before the pass (no periodic snapshot runs in this test). Without
    // that, the restart rebuilt the state from the compacted log, refused the retry as out
    // of order, and the producer's epoch bump stored it again (seed 37266).
    let config = BrokerConfig {
        log_flush_offset_checkpoint_interval_ms: 1 << 40,
        log_cleaner_backoff_ms: 1000,
        ..BrokerConfig::default()
    };
    let mut harness = Harness::with_config(config.clone(), SimDisk::new(1));
    harness.create_topic_with("idem", &[("segment.bytes", "1024"), ("cleanup.policy", "compact")]);
    let keys: [&[u8]; 2] = [b"even", b"odd"];
    for batch in 0..20 {
        let key = Some(keys[batch as usize % 2]);
        let answer =
            produce_answer(&mut harness, keyed_idempotent_batch(0, 0, batch, 1, batch as u64, key));
        assert_eq!(answer, (0, i64::from(batch)));
    }
    for batch in 0..20 {
        let filler = keyed_idempotent_batch(1, 0, batch * 3, 3, 100, Some(b"filler"));
        assert_eq!(produce_answer(&mut harness, filler).0, 0);
    }
    harness.now = 1000;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    let mut compacted = false;
    while let Some(output) = harness.node.poll_output() {
        match output {
            Output::Log { message, .. } => compacted |= message.contains("compacted idem-0"),
            other => harness.complete_sync(&other, false),
        }
    }
    assert!(compacted, "the cleaner removed superseded batches");
    let mut disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    disk.crash();
    let mut restarted = Harness::with_config(config, disk);
    assert_eq!(
        produce_answer(&mut restarted, keyed_idempotent_batch(0, 0, 17, 1, 17, Some(b"odd"))),
        (0, 17),
        "the retry is a duplicate of the removed batch"
    );
}

#[test]
fn a_wall_clock_jump_forward_never_deletes_by_retention_early() {
    // FAULTS 15. retention.ms is a minute; the wall clock jumps an hour ahead one second after
    // the records were written. Retention must wait for the minute to pass on the monotonic
    // clock, and delete then.
    let config = BrokerConfig { log_retention_check_interval_ms: 1000, ..BrokerConfig::default() };
    let mut harness = Harness::with_config(config, SimDisk::new(1));
    harness.create_topic_with("idem", &[("segment.bytes", "1024"), ("retention.ms", "60000")]);
    for batch in 0..30 {
        assert_eq!(produce_answer(&mut harness, producer_batch(3, 40, batch, WALL_MS)).0, 0);
    }
    let tp = sluice_core::log::TopicPartition::new("idem", 0);
    assert!(harness.node.logs().log(&tp).expect("log").segment_count() > 3);
    let log_start =
        |harness: &Harness| harness.node.logs().log(&tp).expect("log").log_start_offset();
    let hour_ms = 3_600_000;
    for now in [1_000, 30_000, 59_000] {
        harness.now = now;
        harness.node.handle(now, WALL_MS + hour_ms, Input::Timer);
        harness.outputs();
        assert_eq!(log_start(&harness), 0, "at {now} ms, a minute has not passed");
    }
    // A jump back deletes nothing either.
    harness.now = 60_500;
    harness.node.handle(harness.now, WALL_MS - hour_ms, Input::Timer);
    harness.outputs();
    assert_eq!(log_start(&harness), 0);
    harness.now = 62_000;
    harness.node.handle(harness.now, WALL_MS + hour_ms, Input::Timer);
    harness.outputs();
    assert!(log_start(&harness) > 0, "a minute has passed: the sealed segments go");
}

/// A SyncGroup is a promise that the generation's assignment is stored: when the fsync of
/// the group record fails, the leader gets NOT_COORDINATOR (Kafka's answer to a store that
/// failed on a storage error) instead of its assignment. The failed fsync took the group's
/// partition offline, so until a restart the group is not answered from memory: a heartbeat
/// of that generation gets NOT_COORDINATOR too (it got REBALANCE_IN_PROGRESS, from a memory
/// the restart would not have kept).
#[test]
fn a_sync_group_whose_record_fails_to_sync_is_an_error_and_the_group_is_refused() {
    use bytes::Bytes;
    use sluice_core::protocol::api::heartbeat::HeartbeatRequest;
    use sluice_core::protocol::api::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
    use sluice_core::protocol::api::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
    let mut harness = Harness::new();
    let join = JoinGroupRequest {
        group_id: StrBytes::from_static("g"),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 20_000,
        member_id: StrBytes::from_static(""),
        protocol_type: StrBytes::from_static("consumer"),
        protocols: vec![JoinGroupRequestProtocol {
            name: StrBytes::from_static("range"),
            metadata: Bytes::from_static(b"m"),
            ..Default::default()
        }],
        ..Default::default()
    };
    harness.send(A, 3, Request::JoinGroup(join));
    assert!(harness.outputs().is_empty(), "the join waits for the initial rebalance delay");
    harness.now = 3000;
    harness.node.handle(harness.now, WALL_MS, Input::Timer);
    let outputs = harness.outputs();
    let Response::JoinGroup(joined) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!((joined.error_code, joined.generation_id), (0, 1));
    let member = joined.member_id.clone();
    let sync = SyncGroupRequest {
        group_id: StrBytes::from_static("g"),
        generation_id: 1,
        member_id: member.clone(),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: member.clone(),
            assignment: Bytes::from_static(b"all"),
            ..Default::default()
        }],
        ..Default::default()
    };
    harness.send(A, 3, Request::SyncGroup(sync));
    let outputs = harness.outputs();
    assert!(matches!(&outputs[..], [Output::Sync { .. }]), "the group record is synced first");
    harness.complete_sync(&outputs[0], true);
    let outputs = harness.outputs();
    let Response::SyncGroup(synced) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(synced.error_code, ErrorCode::NotCoordinator.code());
    assert!(synced.assignment.is_empty());
    let heartbeat = HeartbeatRequest {
        group_id: StrBytes::from_static("g"),
        generation_id: 1,
        member_id: member,
        ..Default::default()
    };
    harness.send(A, 3, Request::Heartbeat(heartbeat));
    let outputs = harness.outputs();
    let Response::Heartbeat(beat) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(beat.error_code, ErrorCode::NotCoordinator.code());
}

#[test]
fn a_deleted_topic_leaves_no_records_behind_for_a_restart_or_a_new_topic_of_its_name() {
    // A topic holding a record is deleted on a disk where a third of the fsyncs fail. When the
    // deletion is answered with success, its records must be gone for good: a restart must
    // not bring the topic back, and a new topic of the same name starts empty. (When the
    // checkpoint after the registry save failed, the partition's files used to stay: the new
    // topic opened them and served the old records, and a restart adopted them as a stray.)
    use sluice_sim::disk::DiskFaults;
    let partition = sluice_core::log::TopicPartition::new("del", 0);
    let mut deleted = 0;
    for seed in 0..64 {
        let mut harness = Harness::with_disk(SimDisk::new(seed));
        harness.create_topic("del", 1);
        harness.send(A, 9, produce("del", 0, -1, producer_batch(1, 10, 1, WALL_MS)));
        let outputs = harness.outputs();
        harness.complete_sync(&outputs[0], false);
        let outputs = harness.outputs();
        let Response::Produce(answer) = harness.response(&outputs[0]).2 else {
            panic!("{outputs:?}")
        };
        assert_eq!(answer.responses[0].partition_responses[0].error_code, 0);
        let flaky = DiskFaults { sync_error_ppm: 300_000, ..DiskFaults::default() };
        harness.node.storage_mut().set_faults(flaky);
        harness.send(A, 5, delete_topics("del"));
        let outputs = harness.outputs();
        let Response::DeleteTopics(answer) = harness.response(&outputs[0]).2 else {
            panic!("{outputs:?}")
        };
        harness.node.storage_mut().set_faults(DiskFaults::default());
        let code = answer.responses[0].error_code;
        assert_eq!(harness.node.topics().get("del").is_none(), code == 0, "disk seed {seed}");
        if code != 0 {
            continue;
        }
        deleted += 1;
        harness.node.close().expect("close");
        let disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
        let mut restarted = Harness::with_disk(disk);
        assert!(restarted.node.topics().get("del").is_none(), "disk seed {seed}: came back");
        restarted.create_topic("del", 1);
        let end = restarted.node.logs().log(&partition).map(|log| log.log_end_offset());
        assert_eq!(end, Some(0), "disk seed {seed}: the new topic holds old records");
    }
    assert!(deleted > 32, "most deletions succeed: {deleted}");
}

#[test]
fn deleted_topics_are_saved_with_the_registry_and_version_0_still_loads() {
    use sluice_core::config::TopicConfig;
    use sluice_core::node::topics::{Topic, Topics, TopicsFileError};
    let mut topics = Topics::default();
    let config = TopicConfig::default();
    topics.insert(Topic { name: "kept".into(), id: [7; 16], partitions: 2, config });
    assert!(topics.note_deleted("gone", 3));
    assert!(topics.note_deleted("gone", 1), "a second note keeps the larger count");
    let mut disk = SimDisk::new(1);
    topics.save(&mut disk).expect("save");
    let text = String::from_utf8(disk.contents("sluice-topics").expect("saved").to_vec());
    assert_eq!(text.expect("text"), format!("1\n1\nkept {} 2 -\n1\ngone 3\n", "07".repeat(16)));
    let loaded = Topics::load(&mut disk, &TopicConfig::default()).expect("load");
    assert_eq!(loaded, topics);
    assert_eq!(loaded.deleted().collect::<Vec<_>>(), vec![("gone", 3)]);

    let mut load_text = |text: &str| {
        disk.remove("sluice-topics").expect("remove");
        disk.append("sluice-topics", text.as_bytes()).expect("write");
        Topics::load(&mut disk, &TopicConfig::default())
    };
    let old = load_text(&format!("0\n1\nkept {} 2 -\n", "07".repeat(16))).expect("v0");
    assert_eq!((old.len(), old.deleted().count()), (1, 0));
    let mut corrupt = |text: &str| match load_text(text) {
        Err(TopicsFileError::Corrupt(reason)) => reason,
        other => panic!("{text:?}: {other:?}"),
    };
    assert_eq!(corrupt("1\n0\n"), "sluice-topics line 3: bad count of deleted topics");
    assert_eq!(
        corrupt("1\n0\n1\ngone\n"),
        "sluice-topics line 4: a deleted topic needs a name and a count"
    );
    assert_eq!(
        corrupt("1\n0\n2\ngone 1\n"),
        "sluice-topics line 3: deleted count does not match the entries"
    );
    assert_eq!(corrupt("1\n0\n0\nextra\n"), "sluice-topics line 4: unexpected line");
    assert_eq!(corrupt("2\n0\n0\n"), "sluice-topics line 1: version is not 0 or 1");
}

#[test]
fn a_deleted_topic_whose_files_cannot_be_removed_is_not_adopted_back() {
    // Every unlink fails while a topic with records is deleted: the registry that forgets it
    // is saved, so the answer is success, and the files stay. The deletion is noted in the
    // registry: a new topic of the same name is refused (KAFKA_STORAGE_ERROR) while the old
    // files cannot be removed, and a restart removes them instead of adopting them as a
    // stray topic with the deleted records. (It used to adopt them.)
    use sluice_sim::disk::DiskFaults;
    let mut harness = Harness::new();
    harness.create_topic("del", 2);
    for partition in 0..2 {
        harness.send(A, 9, produce("del", partition, -1, producer_batch(2, 10, 1, WALL_MS)));
        let outputs = harness.outputs();
        harness.complete_sync(&outputs[0], false);
        let outputs = harness.outputs();
        let Response::Produce(answer) = harness.response(&outputs[0]).2 else { panic!() };
        assert_eq!(answer.responses[0].partition_responses[0].error_code, 0);
    }
    let stuck = DiskFaults { remove_error_ppm: 1_000_000, ..DiskFaults::default() };
    harness.node.storage_mut().set_faults(stuck);
    harness.send(A, 5, delete_topics("del"));
    let outputs = harness.outputs();
    let Response::DeleteTopics(answer) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(answer.responses[0].error_code, 0);
    assert!(harness.node.storage_mut().list("del-1").is_ok(), "the files stayed");
    let create = |harness: &mut Harness| {
        let topic = CreateTopicsRequestTopic {
            name: StrBytes::from_static("del"),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        };
        let request = CreateTopicsRequest { topics: vec![topic], ..Default::default() };
        harness.send(A, 7, Request::CreateTopics(request));
        let outputs = harness.outputs();
        let Response::CreateTopics(answer) = harness.response(&outputs[0]).2 else { panic!() };
        answer.topics[0].error_code
    };
    assert_eq!(create(&mut harness), ErrorCode::KafkaStorageError.code());
    assert!(harness.node.topics().get("del").is_none());
    // The broker stops (unlinks still failing) and starts on a healthy disk.
    harness.node.close().expect("close");
    let mut disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    disk.set_faults(DiskFaults::default());
    let mut restarted = Harness::with_disk(disk);
    assert!(restarted.node.topics().get("del").is_none(), "not adopted back");
    for dir in ["del-0", "del-1"] {
        assert!(restarted.node.storage_mut().list(dir).is_err(), "{dir} removed");
    }
    assert_eq!(create(&mut restarted), 0);
    let partition = sluice_core::log::TopicPartition::new("del", 0);
    assert_eq!(restarted.node.logs().log(&partition).map(|log| log.log_end_offset()), Some(0));
}

#[test]
fn a_topic_made_again_starts_with_no_producer_state() {
    // An idempotent producer writes a topic, which is deleted and made again. The new
    // partition knows no producer, as in Kafka: the producer's next sequence is refused with
    // UNKNOWN_PRODUCER_ID, and a batch it sends again from sequence 0 is stored, not answered
    // as a duplicate of a batch that went with the old topic. (The old partition's producer
    // state used to stay, for every deleted partition, for good.)
    use sluice_core::protocol::api::init_producer_id::InitProducerIdRequest;
    let mut harness = Harness::new();
    harness.create_topic("idem", 1);
    let init = InitProducerIdRequest { transaction_timeout_ms: 60_000, ..Default::default() };
    harness.send(A, 4, Request::InitProducerId(init));
    let outputs = harness.outputs();
    let Response::InitProducerId(init) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!((init.error_code, init.producer_id), (0, 0));
    assert_eq!(produce_answer(&mut harness, idempotent_batch(0, 0, 0, 3, 1)), (0, 0));
    assert_eq!(produce_answer(&mut harness, idempotent_batch(0, 0, 3, 2, 2)), (0, 3));
    harness.send(A, 5, delete_topics("idem"));
    let outputs = harness.outputs();
    let Response::DeleteTopics(answer) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(answer.responses[0].error_code, 0);
    harness.create_topic("idem", 1);
    assert_eq!(
        produce_answer(&mut harness, idempotent_batch(0, 0, 5, 1, 3)),
        (ErrorCode::UnknownProducerId.code(), -1)
    );
    assert_eq!(produce_answer(&mut harness, idempotent_batch(0, 0, 0, 3, 1)), (0, 0));
    let tp = sluice_core::log::TopicPartition::new("idem", 0);
    assert_eq!(harness.node.logs().log(&tp).map(|log| log.log_end_offset()), Some(3));
}

#[test]
fn a_produce_waiting_on_a_deleted_topic_is_refused_not_acknowledged_by_the_new_one() {
    // An acks=all produce waits for its sync when its topic is deleted: it is answered
    // UNKNOWN_TOPIC_OR_PARTITION at once, as Kafka does when a partition goes. (It used to
    // wait on, and a topic made again with the name acknowledged it with its own syncs, at
    // an offset the new topic gave to other records.)
    let mut harness = Harness::new();
    harness.create_topic("del", 1);
    harness.send(A, 9, produce("del", 0, -1, producer_batch(1, 10, 1, WALL_MS)));
    let outputs = harness.outputs();
    let [sync @ Output::Sync { .. }] = &outputs[..] else { panic!("a sync: {outputs:?}") };
    harness.send(B, 5, delete_topics("del"));
    let answers: Vec<Response> =
        harness.outputs().iter().map(|output| harness.response(output).2).collect();
    let [Response::DeleteTopics(deleted), Response::Produce(produced)] = &answers[..] else {
        panic!("both answered: {answers:?}")
    };
    assert_eq!(deleted.responses[0].error_code, 0);
    let answer = &produced.responses[0].partition_responses[0];
    assert_eq!(
        (answer.error_code, answer.base_offset),
        (ErrorCode::UnknownTopicOrPartition.code(), -1)
    );
    harness.create_topic("del", 1);
    harness.complete_sync(sync, false);
    harness.send(B, 9, produce("del", 0, -1, producer_batch(1, 10, 2, WALL_MS)));
    let outputs = harness.outputs();
    harness.complete_sync(&outputs[0], false);
    let outputs = harness.outputs();
    let [only] = &outputs[..] else { panic!("only the new produce is answered: {outputs:?}") };
    assert_eq!(harness.response(only).0, B);
}

/// Sends a request and returns its answer, completing every sync on the way.
fn ask(harness: &mut Harness, version: i16, request: Request) -> Response {
    harness.send(A, version, request);
    let mut answer = None;
    loop {
        let outputs = harness.outputs();
        if outputs.is_empty() {
            return answer.expect("answered");
        }
        for output in &outputs {
            match output {
                Output::Send { .. } => answer = Some(harness.response(output).2),
                Output::Sync { .. } => harness.complete_sync(output, false),
                other => panic!("{other:?}"),
            }
        }
    }
}

/// Every (topic, committed offset) of `group`.
fn committed(harness: &mut Harness, group: &'static str) -> Vec<(String, i64)> {
    use sluice_core::protocol::api::offset_fetch::OffsetFetchRequest;
    let fetch = OffsetFetchRequest { group_id: StrBytes::from_static(group), ..Default::default() };
    let Response::OffsetFetch(answer) = ask(harness, 7, Request::OffsetFetch(fetch)) else {
        panic!()
    };
    answer
        .topics
        .iter()
        .flat_map(|topic| {
            let name = topic.name.to_string();
            topic.partitions.iter().map(move |partition| (name.clone(), partition.committed_offset))
        })
        .collect()
}

/// Commits `offset` of partition 0 of each of `topics` for standalone group `group`: the
/// error code of each.
fn commit(
    harness: &mut Harness,
    group: &'static str,
    topics: &[&'static str],
    offset: i64,
) -> Vec<(String, i16)> {
    let request = commit_request(group, topics, offset);
    let Response::OffsetCommit(answer) = ask(harness, 7, request) else { panic!() };
    answer
        .topics
        .iter()
        .map(|topic| (topic.name.to_string(), topic.partitions[0].error_code))
        .collect()
}

/// An OffsetCommit of `offset` for partition 0 of each of `topics`, by `group`.
fn commit_request(group: &'static str, topics: &[&'static str], offset: i64) -> Request {
    use sluice_core::protocol::api::offset_commit::{
        OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    let topics = topics
        .iter()
        .map(|name| OffsetCommitRequestTopic {
            name: StrBytes::from_static(name),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Request::OffsetCommit(OffsetCommitRequest {
        group_id: StrBytes::from_static(group),
        generation_id_or_member_epoch: -1,
        topics,
        ..Default::default()
    })
}

#[test]
fn a_deleted_topic_takes_its_committed_offsets_with_it() {
    // A standalone consumer commits offset 7 of topic "del" for group "g"; the topic is
    // deleted. As in Kafka, the group forgets that offset, durably (a restart does not bring
    // it back), so a consumer of a topic made again with the name does not skip its first
    // records, and a later commit for the deleted topic is refused with
    // UNKNOWN_TOPIC_OR_PARTITION. (The offset used to stay for good, and commits for any
    // name were stored.)
    let mut harness = Harness::new();
    harness.create_topic("del", 1);
    harness.create_topic("kept", 1);
    let both = ["del", "kept"];
    assert_eq!(
        commit(&mut harness, "g", &both, 7),
        [("del".to_string(), 0), ("kept".to_string(), 0)]
    );
    assert_eq!(committed(&mut harness, "g"), [("del".to_string(), 7), ("kept".to_string(), 7)]);
    let Response::DeleteTopics(answer) = ask(&mut harness, 5, delete_topics("del")) else {
        panic!()
    };
    assert_eq!(answer.responses[0].error_code, 0);
    assert_eq!(committed(&mut harness, "g"), [("kept".to_string(), 7)]);
    // A commit for the deleted topic is refused, as Kafka refuses one for any unknown topic.
    let unknown = ErrorCode::UnknownTopicOrPartition.code();
    assert_eq!(
        commit(&mut harness, "g", &both, 7),
        [("kept".to_string(), 0), ("del".to_string(), unknown)]
    );
    assert_eq!(committed(&mut harness, "g"), [("kept".to_string(), 7)]);
    // `ask` completed every sync, the tombstone's too: a power loss keeps it.
    let mut restarted = harness.after_power_loss();
    assert_eq!(committed(&mut restarted, "g"), [("kept".to_string(), 7)]);
}

#[test]
fn offsets_of_a_topic_gone_while_the_broker_was_down_are_forgotten_at_start() {
    // Group "g" has offsets of topics "gone" and "kept"; the broker stops, and "gone" leaves
    // the registry without tombstones for its offsets (as when storing them failed at the
    // deletion). The next start forgets them, durably: they stay forgotten after a power
    // loss.
    use sluice_core::config::TopicConfig;
    use sluice_core::node::topics::Topics;
    let mut harness = Harness::new();
    harness.create_topic("gone", 1);
    harness.create_topic("kept", 1);
    let both = ["gone", "kept"];
    assert_eq!(
        commit(&mut harness, "g", &both, 3),
        [("gone".to_string(), 0), ("kept".to_string(), 0)]
    );
    harness.node.close().expect("close");
    let mut disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    let mut topics = Topics::load(&mut disk, &TopicConfig::default()).expect("registry");
    topics.remove("gone").expect("listed");
    topics.save(&mut disk).expect("save");
    let mut restarted = Harness::with_disk(disk);
    assert_eq!(committed(&mut restarted, "g"), [("kept".to_string(), 3)]);
    let mut again = restarted.after_power_loss();
    assert_eq!(committed(&mut again, "g"), [("kept".to_string(), 3)]);
}

#[test]
fn a_topic_made_again_at_once_never_gets_the_deleted_topics_offsets_back() {
    // Group "g" commits an offset of "del"; "del" is deleted and made again at once, and
    // power fails before any other sync. The deleted topic's offset must stay forgotten:
    // its tombstone is synced before the deletion is answered. (It was synced later, with
    // the next group commit; a power failure before that brought the offset back, now for
    // the new topic, which a start cannot tell from an offset committed for it.)
    for seed in 0..16 {
        let mut harness = Harness::with_disk(SimDisk::new(seed));
        harness.create_topic("del", 1);
        assert_eq!(commit(&mut harness, "g", &["del"], 5), [("del".to_string(), 0)]);
        harness.send(A, 5, delete_topics("del"));
        let outputs = harness.outputs();
        let sent = outputs.iter().find(|output| matches!(output, Output::Send { .. }));
        let Response::DeleteTopics(answer) = harness.response(sent.expect("answered")).2 else {
            panic!()
        };
        assert_eq!(answer.responses[0].error_code, 0);
        harness.create_topic("del", 1);
        let mut restarted = harness.after_power_loss();
        assert_eq!(committed(&mut restarted, "g"), [], "disk seed {seed}");
    }
}

#[test]
fn a_sync_group_after_a_failed_group_record_is_not_answered_from_the_unstored_generation() {
    // Found by the swarm (seeds 523210, 1700664, 1704102 of one build). Group "g" has two
    // members; a standalone commit of group "h" waits for its sync. The disk fills; the
    // leader's SyncGroup cannot store generation 1's record, and its answer waits behind
    // the commit's sync. The follower's SyncGroup comes next. It must not be answered with
    // an assignment of the unstored generation (a restart would hand generation 1 out again,
    // with other owners): the generation is void as soon as storing fails. (It was voided
    // only when the leader's answer went out, after the follower had its assignment.)
    use bytes::Bytes;
    use sluice_core::protocol::api::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
    use sluice_core::protocol::api::offset_commit::{
        OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use sluice_core::protocol::api::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
    use sluice_sim::disk::DiskFaults;
    const C: ConnectionId = ConnectionId(3);
    let mut config = BrokerConfig::default();
    config.group.offsets_topic_partitions = 1;
    let mut harness = Harness::with_config(config, SimDisk::new(1));
    harness.create_topic("t", 1);
    let join = JoinGroupRequest {
        group_id: StrBytes::from_static("g"),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 20_000,
        member_id: StrBytes::from_static(""),
        protocol_type: StrBytes::from_static("consumer"),
        protocols: vec![JoinGroupRequestProtocol {
            name: StrBytes::from_static("range"),
            metadata: Bytes::from_static(b"m"),
            ..Default::default()
        }],
        ..Default::default()
    };
    harness.send(A, 3, Request::JoinGroup(join.clone()));
    harness.send(B, 3, Request::JoinGroup(join));
    assert!(harness.outputs().is_empty(), "the joins wait for the initial rebalance delay");
    let mut outputs = Vec::new();
    while outputs.is_empty() && harness.now < 60_000 {
        harness.now = harness.node.poll_timeout().expect("a timer");
        harness.node.handle(harness.now, WALL_MS, Input::Timer);
        outputs = harness.outputs();
    }
    let mut members = Vec::new();
    for output in outputs {
        let (connection, _, Response::JoinGroup(joined)) = harness.response(&output) else {
            panic!()
        };
        assert_eq!((joined.error_code, joined.generation_id), (0, 1));
        members.push((connection, joined.member_id.clone(), joined.leader == joined.member_id));
    }
    let leader = members.iter().find(|member| member.2).expect("a leader").clone();
    let follower = members.iter().find(|member| !member.2).expect("a follower").clone();
    let commit = OffsetCommitRequest {
        group_id: StrBytes::from_static("h"),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: StrBytes::from_static("t"),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    harness.send(C, 7, Request::OffsetCommit(commit));
    let outputs = harness.outputs();
    let [sync @ Output::Sync { .. }] = &outputs[..] else { panic!("a sync: {outputs:?}") };
    let used = harness.node.storage_mut().used_bytes();
    let full = DiskFaults { capacity_bytes: used, ..DiskFaults::default() };
    harness.node.storage_mut().set_faults(full);
    let sync_group = |member: &(ConnectionId, StrBytes, bool), assignments| SyncGroupRequest {
        group_id: StrBytes::from_static("g"),
        generation_id: 1,
        member_id: member.1.clone(),
        assignments,
        ..Default::default()
    };
    let assignments = members
        .iter()
        .map(|member| SyncGroupRequestAssignment {
            member_id: member.1.clone(),
            assignment: Bytes::from_static(b"p"),
            ..Default::default()
        })
        .collect();
    harness.send(leader.0, 3, Request::SyncGroup(sync_group(&leader, assignments)));
    harness.send(follower.0, 3, Request::SyncGroup(sync_group(&follower, Vec::new())));
    harness.node.storage_mut().set_faults(DiskFaults::default());
    assert!(harness.outputs().is_empty(), "both answers wait for the commit's sync");
    harness.complete_sync(sync, false);
    for output in harness.outputs() {
        let (connection, _, response) = harness.response(&output);
        match response {
            Response::OffsetCommit(answer) => {
                assert_eq!(connection, C);
                assert_eq!(answer.topics[0].partitions[0].error_code, 0);
            }
            Response::SyncGroup(answer) => {
                assert_ne!(answer.error_code, 0, "connection {connection:?}: {answer:?}");
                assert!(answer.assignment.is_empty(), "connection {connection:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_topic_cannot_be_made_again_while_its_old_offsets_may_come_back() {
    // Group "g" commits an offset of "del"; "del" is deleted on a disk where a third of the
    // fsyncs fail, made again, and power fails. Whatever failed, a "del" that exists after
    // the restart has no committed offset: when the deletion's tombstone could not be synced,
    // making the topic again is refused (KAFKA_STORAGE_ERROR) until it can be. (Found by the
    // swarm, seeds 243165 and 266539: the topic was made again, and the power failure took
    // the unsynced tombstone, so the deleted topic's offset was back for the new one.)
    use sluice_core::protocol::api::create_topics::CreateTopicsResponse;
    use sluice_sim::disk::DiskFaults;
    let mut refused = 0;
    for seed in 0..64 {
        let mut harness = Harness::with_disk(SimDisk::new(seed));
        harness.create_topic("del", 1);
        assert_eq!(commit(&mut harness, "g", &["del"], 5), [("del".to_string(), 0)]);
        let flaky = DiskFaults { sync_error_ppm: 300_000, ..DiskFaults::default() };
        harness.node.storage_mut().set_faults(flaky);
        harness.send(A, 5, delete_topics("del"));
        let outputs = harness.outputs();
        harness.node.storage_mut().set_faults(DiskFaults::default());
        let sent = outputs.iter().find(|output| matches!(output, Output::Send { .. }));
        let Response::DeleteTopics(deleted) = harness.response(sent.expect("answered")).2 else {
            panic!()
        };
        if deleted.responses[0].error_code != 0 {
            continue; // Not deleted: the topic keeps its offsets.
        }
        let topic = CreateTopicsRequestTopic {
            name: StrBytes::from_static("del"),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        };
        let request = CreateTopicsRequest { topics: vec![topic], ..Default::default() };
        harness.send(A, 7, Request::CreateTopics(request));
        let outputs = harness.outputs();
        let sent = outputs.iter().find(|output| matches!(output, Output::Send { .. }));
        if let Response::CreateTopics(CreateTopicsResponse { topics, .. }) =
            harness.response(sent.expect("answered")).2
        {
            refused += usize::from(topics[0].error_code == ErrorCode::KafkaStorageError.code());
        }
        let mut restarted = harness.after_power_loss();
        if restarted.node.topics().get("del").is_some() {
            assert_eq!(committed(&mut restarted, "g"), [], "disk seed {seed}");
        }
    }
    assert!(refused > 0, "some tombstone could not be synced");
}

/// A batch of one record keyed as group `group`'s offset of partition 0 of `topic`, with no
/// value: a forged tombstone for that offset.
fn forged_offset_tombstone(group: &str, topic: &str) -> Vec<u8> {
    use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
    let key = sluice_core::group::records::encode_offset_key(group, topic, 0);
    let record =
        NewRecord { key: Some(&key), value: None, timestamp_ms: WALL_MS, ..Default::default() };
    build_batch(&[record], BatchOptions::default())
}

#[test]
fn clients_cannot_write_or_trim_the_offsets_topic() {
    // Group "g" commits offset 7 of "kept". A client then produces, to __consumer_offsets, a
    // tombstone keyed as that offset, and asks DeleteRecords to drop the topic's records: a
    // restart would replay the one or miss the other, and forget an acknowledged commit. As
    // Kafka does, both are refused with INVALID_TOPIC_EXCEPTION ("Cannot append to internal
    // topic", "Cannot delete records of internal topic") and nothing stored changes. (Both
    // were done: the forged tombstone was stored, and the restart forgot the commit.) Growing
    // the topic is refused with INVALID_PARTITIONS.
    use sluice_core::protocol::api::delete_records::{
        DeleteRecordsRequest, DeleteRecordsRequestPartition, DeleteRecordsRequestTopic,
    };
    let mut harness = Harness::new();
    harness.create_topic("kept", 1);
    assert_eq!(commit(&mut harness, "g", &["kept"], 7), [("kept".to_string(), 0)]);
    let partitions = BrokerConfig::default().group.offsets_topic_partitions;
    let index = sluice_core::group::records::coordinator_partition("g", partitions);
    let offsets = sluice_core::log::TopicPartition::new("__consumer_offsets", index);
    let end = |harness: &Harness| harness.node.logs().log(&offsets).map(|log| log.log_end_offset());
    let stored = end(&harness);
    assert!(stored.is_some_and(|end| end > 0), "the commit is stored");

    let forged = produce("__consumer_offsets", index, -1, forged_offset_tombstone("g", "kept"));
    let Response::Produce(answer) = ask(&mut harness, 9, forged) else { panic!() };
    let partition = &answer.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, ErrorCode::InvalidTopicException.code());
    assert_eq!(partition.base_offset, -1);
    assert_eq!(
        partition.error_message.as_ref().map(StrBytes::as_str),
        Some("Cannot append to internal topic __consumer_offsets")
    );

    let trim = DeleteRecordsRequest {
        topics: vec![DeleteRecordsRequestTopic {
            name: StrBytes::from_static("__consumer_offsets"),
            partitions: vec![DeleteRecordsRequestPartition {
                partition_index: index,
                offset: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let Response::DeleteRecords(answer) = ask(&mut harness, 2, Request::DeleteRecords(trim)) else {
        panic!()
    };
    let partition = &answer.topics[0].partitions[0];
    assert_eq!(partition.error_code, ErrorCode::InvalidTopicException.code());
    assert_eq!(partition.low_watermark, -1);
    assert_eq!(end(&harness), stored, "nothing was appended");
    let start = harness.node.logs().log(&offsets).map(|log| log.log_start_offset());
    assert_eq!(start, Some(0), "nothing was deleted");

    // Nor may its partition count grow: groups hash over it to find their partition.
    use sluice_core::protocol::api::create_partitions::{
        CreatePartitionsRequest, CreatePartitionsRequestTopic,
    };
    let topic = CreatePartitionsRequestTopic {
        name: StrBytes::from_static("__consumer_offsets"),
        count: partitions + 1,
        ..Default::default()
    };
    let grow = CreatePartitionsRequest { topics: vec![topic], ..Default::default() };
    let Response::CreatePartitions(answer) = ask(&mut harness, 3, Request::CreatePartitions(grow))
    else {
        panic!()
    };
    assert_eq!(answer.results[0].error_code, ErrorCode::InvalidPartitions.code());
    let count = harness.node.topics().get("__consumer_offsets").map(|topic| topic.partitions);
    assert_eq!(count, Some(partitions));

    // The acknowledged commit outlives a restart.
    let mut restarted = harness.after_power_loss();
    assert_eq!(committed(&mut restarted, "g"), [("kept".to_string(), 7)]);
}

#[test]
fn the_offsets_topic_keeps_its_partition_count_when_the_config_changes() {
    // A broker made __consumer_offsets with one partition; it starts again with
    // offsets.topic.num.partitions=50. As in Kafka, which reads the existing topic's
    // partition count, group "g" stays on the partition its records are in: its commits
    // are stored and read back across restarts, and the topic keeps one partition.
    let mut config = BrokerConfig::default();
    config.group.offsets_topic_partitions = 1;
    let mut harness = Harness::with_config(config, SimDisk::new(1));
    harness.create_topic("kept", 1);
    assert_eq!(commit(&mut harness, "g", &["kept"], 3), [("kept".to_string(), 0)]);
    harness.node.close().expect("close");
    let disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    let mut restarted = Harness::with_disk(disk);
    assert_eq!(committed(&mut restarted, "g"), [("kept".to_string(), 3)]);
    assert_eq!(commit(&mut restarted, "g", &["kept"], 5), [("kept".to_string(), 0)]);
    assert_eq!(committed(&mut restarted, "g"), [("kept".to_string(), 5)]);
    let topic = restarted.node.topics().get("__consumer_offsets").map(|topic| topic.partitions);
    assert_eq!(topic, Some(1));
    let mut again = restarted.after_power_loss();
    assert_eq!(committed(&mut again, "g"), [("kept".to_string(), 5)]);
}

#[test]
fn metadata_auto_creates_the_offsets_topic_as_the_coordinator_would() {
    // A client asks Metadata for __consumer_offsets, with auto-creation, before any group
    // exists. As Kafka does, the topic is made with the coordinator's settings: compacted,
    // offsets.topic.num.partitions partitions, marked internal. (It was made as a plain
    // topic of num.partitions=1 that retention would empty of group records.)
    let mut config = BrokerConfig::default();
    config.group.offsets_topic_partitions = 3;
    let mut harness = Harness::with_config(config, SimDisk::new(1));
    let topics = vec![MetadataRequestTopic {
        name: Some(StrBytes::from_static("__consumer_offsets")),
        ..Default::default()
    }];
    let request = MetadataRequest {
        topics: Some(topics),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    let Response::Metadata(response) = ask(&mut harness, 12, Request::Metadata(request)) else {
        panic!()
    };
    let topic = &response.topics[0];
    assert_eq!((topic.error_code, topic.partitions.len(), topic.is_internal), (0, 3, true));
    let made = harness.node.topics().get("__consumer_offsets").expect("made");
    assert!(made.config.log.cleanup_policy.compacts());
    assert_eq!(made.partitions, 3);
}

/// A DeleteGroups of `group`.
fn delete_group(group: &'static str) -> Request {
    use sluice_core::protocol::api::delete_groups::DeleteGroupsRequest;
    let groups_names = vec![StrBytes::from_static(group)];
    Request::DeleteGroups(DeleteGroupsRequest { groups_names, ..Default::default() })
}

/// An OffsetDelete of `group`'s offset of partition 0 of `topic`.
fn offset_delete(group: &'static str, topic: &'static str) -> Request {
    use sluice_core::protocol::api::offset_delete::{
        OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    Request::OffsetDelete(OffsetDeleteRequest {
        group_id: StrBytes::from_static(group),
        topics: vec![OffsetDeleteRequestTopic {
            name: StrBytes::from_static(topic),
            partitions: vec![OffsetDeleteRequestPartition {
                partition_index: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

#[test]
fn group_deletions_whose_tombstones_fail_to_sync_are_not_acknowledged() {
    // Groups "g" and "h" have committed offsets of "t". DeleteGroups of "g" and OffsetDelete
    // of "h"'s offset are each answered only once their tombstones are synced; when that sync
    // fails, the answer is KAFKA_STORAGE_ERROR, as for an OffsetCommit, not success: a restart
    // brings the group and the offset back. (Both were answered 0.)
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), 0)]);
    assert_eq!(commit(&mut harness, "h", &["t"], 5), [("t".to_string(), 0)]);
    let storage_error = ErrorCode::KafkaStorageError.code();
    // Sends `request`, fails the sync it needs, and returns the answer.
    let mut failing_sync = |version: i16, request: Request| {
        harness.send(A, version, request);
        let outputs = harness.outputs();
        assert!(matches!(&outputs[..], [Output::Sync { .. }]), "{outputs:?}");
        harness.complete_sync(&outputs[0], true);
        let outputs = harness.outputs();
        harness.response(&outputs[0]).2
    };
    let Response::DeleteGroups(answer) = failing_sync(2, delete_group("g")) else { panic!() };
    assert_eq!(answer.results[0].error_code, storage_error);
    let Response::OffsetDelete(answer) = failing_sync(0, offset_delete("h", "t")) else { panic!() };
    assert_eq!(answer.error_code, 0);
    assert_eq!(answer.topics[0].partitions[0].error_code, storage_error);
    // Why not success: power fails, and both come back.
    let mut restarted = harness.after_power_loss();
    assert_eq!(committed(&mut restarted, "g"), [("t".to_string(), 4)]);
    assert_eq!(committed(&mut restarted, "h"), [("t".to_string(), 5)]);
}

#[test]
fn a_retried_group_deletion_is_not_answered_from_a_deletion_that_fails_to_sync() {
    // Group "g" has committed offset 4 of "t". A DeleteGroups of "g" appends its tombstones
    // and waits for their sync. Meanwhile the client, timed out, sends it again, and also an
    // OffsetDelete of "g": the group is gone from memory, so both find no group, and their
    // answers wait for the same sync. It fails. No answer may say the group is gone: a restart
    // brings it back. (The retries were answered GROUP_ID_NOT_FOUND, which a client takes to
    // mean an earlier attempt deleted it: swarm seed 5206937 at 60 s.)
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), 0)]);
    harness.send(A, 2, delete_group("g"));
    let outputs = harness.outputs();
    let [sync @ Output::Sync { .. }] = &outputs[..] else { panic!("{outputs:?}") };
    harness.send(A, 2, delete_group("g"));
    harness.send(A, 0, offset_delete("g", "t"));
    assert!(harness.outputs().is_empty(), "the answers wait for the tombstones' sync");
    harness.complete_sync(sync, true);
    let outputs = harness.outputs();
    let codes: Vec<i16> = outputs
        .iter()
        .map(|output| match harness.response(output).2 {
            Response::DeleteGroups(answer) => answer.results[0].error_code,
            Response::OffsetDelete(answer) => answer.error_code,
            other => panic!("{other:?}"),
        })
        .collect();
    let storage_error = ErrorCode::KafkaStorageError.code();
    assert_eq!(codes, [storage_error; 3]);
    let mut restarted = harness.after_power_loss();
    assert_eq!(committed(&mut restarted, "g"), [("t".to_string(), 4)]);
}

#[test]
fn an_offset_fetch_held_behind_a_failed_sync_shows_no_offset_that_was_not_stored() {
    // Group "g" has committed offset 4 of "t". A commit of 9 waits for its sync; an
    // OffsetFetch (v7 and v8) read 9 from memory and waits for the same sync. It fails: the
    // commit is answered KAFKA_STORAGE_ERROR, and the fetches NOT_COORDINATOR (the partition
    // is offline; a client finds the coordinator again), not 9, which a restart forgets.
    // (They answered 9, as Kafka never does: it shows a commit only once it is stored.)
    use sluice_core::protocol::api::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestGroup};
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), 0)]);
    harness.send(A, 7, commit_request("g", &["t"], 9));
    let outputs = harness.outputs();
    let [sync @ Output::Sync { .. }] = &outputs[..] else { panic!("{outputs:?}") };
    let old = OffsetFetchRequest { group_id: StrBytes::from_static("g"), ..Default::default() };
    harness.send(A, 7, Request::OffsetFetch(old));
    let group = OffsetFetchRequestGroup {
        group_id: StrBytes::from_static("g"),
        topics: None,
        ..Default::default()
    };
    let new = OffsetFetchRequest { groups: vec![group], ..Default::default() };
    harness.send(A, 8, Request::OffsetFetch(new));
    assert!(harness.outputs().is_empty(), "the answers wait for the commit's sync");
    harness.complete_sync(sync, true);
    let outputs = harness.outputs();
    let answers: Vec<Response> = outputs.iter().map(|output| harness.response(output).2).collect();
    let [Response::OffsetCommit(commit), Response::OffsetFetch(old), Response::OffsetFetch(new)] =
        &answers[..]
    else {
        panic!("{answers:?}")
    };
    let not_coordinator = ErrorCode::NotCoordinator.code();
    assert_eq!(commit.topics[0].partitions[0].error_code, ErrorCode::KafkaStorageError.code());
    assert_eq!(old.error_code, not_coordinator);
    let offsets: Vec<(i64, i16)> = old
        .topics
        .iter()
        .flat_map(|topic| topic.partitions.iter())
        .map(|partition| (partition.committed_offset, partition.error_code))
        .collect();
    assert_eq!(offsets, [(-1, not_coordinator)]);
    assert_eq!(new.groups.len(), 1);
    assert_eq!((new.groups[0].error_code, new.groups[0].topics.len()), (not_coordinator, 0));
    let mut restarted = harness.after_power_loss();
    assert_eq!(committed(&mut restarted, "g"), [("t".to_string(), 4)]);
}

#[test]
fn a_group_change_the_full_disk_refused_is_not_answered_from_memory() {
    // Group "g" has committed offset 4 of "t". The disk fills; an OffsetCommit of 9 and a
    // DeleteGroups of "g" cannot be appended and are answered KAFKA_STORAGE_ERROR. The
    // coordinator must then hold what the log holds: offset 4, and the group. (It held 9,
    // then no group: a retried DeleteGroups was answered GROUP_ID_NOT_FOUND, and a restart
    // brought the group back.) Once space is free, the deletion is done and lasts.
    use sluice_sim::disk::DiskFaults;
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), 0)]);
    let used = harness.node.storage_mut().used_bytes();
    let full = DiskFaults { capacity_bytes: used, ..DiskFaults::default() };
    harness.node.storage_mut().set_faults(full);
    let storage_error = ErrorCode::KafkaStorageError.code();
    assert_eq!(harness.node.stats().offsets_reloads, 0);
    assert_eq!(commit(&mut harness, "g", &["t"], 9), [("t".to_string(), storage_error)]);
    assert_eq!(committed(&mut harness, "g"), [("t".to_string(), 4)]);
    // The partition was loaded again from its log, as the stats tell the simulator.
    assert_eq!(harness.node.stats().offsets_reloads, 1);
    let Response::DeleteGroups(answer) = ask(&mut harness, 2, delete_group("g")) else { panic!() };
    assert_eq!(answer.results[0].error_code, storage_error);
    assert_eq!(committed(&mut harness, "g"), [("t".to_string(), 4)]);
    assert_eq!(harness.node.stats().offsets_reloads, 2);

    harness.node.storage_mut().set_faults(DiskFaults::default());
    let Response::DeleteGroups(answer) = ask(&mut harness, 2, delete_group("g")) else { panic!() };
    assert_eq!(answer.results[0].error_code, 0, "the retry deletes the group");
    assert_eq!(committed(&mut harness, "g"), []);
    let mut restarted = harness.after_power_loss();
    assert_eq!(committed(&mut restarted, "g"), []);
}

#[test]
fn no_group_is_served_while_the_offsets_topic_cannot_be_made() {
    // The disk is full before any group exists, so __consumer_offsets cannot be made. Group
    // requests said "group request refused" in the log but went on: a commit made group "g"
    // in memory, stored nowhere (or in the leftover log of a failed creation), and ListGroups
    // listed it. As Kafka answers where it hosts no coordinator partition, FindCoordinator is
    // answered COORDINATOR_NOT_AVAILABLE and the others NOT_COORDINATOR until the topic can
    // be made; then "g" commits as usual.
    use sluice_core::protocol::api::list_groups::ListGroupsRequest;
    use sluice_sim::disk::DiskFaults;
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let used = harness.node.storage_mut().used_bytes();
    let full = DiskFaults { capacity_bytes: used, ..DiskFaults::default() };
    harness.node.storage_mut().set_faults(full);
    let not_coordinator = ErrorCode::NotCoordinator.code();
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), not_coordinator)]);
    let request = Request::ListGroups(ListGroupsRequest::default());
    let Response::ListGroups(listed) = ask(&mut harness, 4, request) else { panic!() };
    assert_eq!((listed.error_code, listed.groups.len()), (0, 0), "{listed:?}");

    harness.node.storage_mut().set_faults(DiskFaults::default());
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), 0)]);
    assert_eq!(committed(&mut harness, "g"), [("t".to_string(), 4)]);
}

#[test]
fn list_groups_leaves_out_the_groups_of_an_offline_offsets_partition() {
    // Groups "g" and "h" (two partitions of __consumer_offsets) commit 4; then g's commit of 9
    // fails to sync, taking g's partition offline. As Kafka lists only the groups of the
    // partitions it has loaded, ListGroups lists "h" alone until a restart loads "g" again.
    // (It listed "g" from memory, while every other request about "g" was refused.)
    use sluice_core::protocol::api::list_groups::ListGroupsRequest;
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let listed = |harness: &mut Harness| {
        let request = Request::ListGroups(ListGroupsRequest::default());
        let Response::ListGroups(answer) = ask(harness, 4, request) else { panic!() };
        assert_eq!(answer.error_code, 0);
        answer.groups.iter().map(|group| group.group_id.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), 0)]);
    assert_eq!(commit(&mut harness, "h", &["t"], 4), [("t".to_string(), 0)]);
    assert_eq!(listed(&mut harness), ["g", "h"]);
    harness.send(A, 7, commit_request("g", &["t"], 9));
    let outputs = harness.outputs();
    assert!(matches!(&outputs[..], [Output::Sync { .. }]), "{outputs:?}");
    harness.complete_sync(&outputs[0], true);
    let outputs = harness.outputs();
    let Response::OffsetCommit(answer) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(answer.topics[0].partitions[0].error_code, ErrorCode::KafkaStorageError.code());
    assert_eq!(listed(&mut harness), ["h"]);

    let mut restarted = harness.after_power_loss();
    assert_eq!(listed(&mut restarted), ["g", "h"]);
    assert_eq!(committed(&mut restarted, "g"), [("t".to_string(), 4)]);
}

#[test]
fn groups_on_an_offline_offsets_partition_are_not_answered_from_memory() {
    // Groups "g" and "h" (two partitions of __consumer_offsets) commit 4. A DeleteGroups of
    // "g" fails to sync, taking g's partition offline: memory has dropped "g", the log still
    // holds it, and a restart brings it back. Until then, as Kafka answers for a partition it
    // has unloaded, every request about "g" is refused (FindCoordinator
    // COORDINATOR_NOT_AVAILABLE, the others NOT_COORDINATOR) instead of being answered from
    // memory (a retried DeleteGroups was answered GROUP_ID_NOT_FOUND); "h" is served as usual.
    use sluice_core::protocol::api::find_coordinator::FindCoordinatorRequest;
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    let partitions = BrokerConfig::default().group.offsets_topic_partitions;
    let placed = |group| sluice_core::group::records::coordinator_partition(group, partitions);
    assert_ne!(placed("g"), placed("h"));
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), 0)]);
    assert_eq!(commit(&mut harness, "h", &["t"], 4), [("t".to_string(), 0)]);
    harness.send(A, 2, delete_group("g"));
    let outputs = harness.outputs();
    assert!(matches!(&outputs[..], [Output::Sync { .. }]), "{outputs:?}");
    harness.complete_sync(&outputs[0], true);
    let outputs = harness.outputs();
    let Response::DeleteGroups(answer) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!(answer.results[0].error_code, ErrorCode::KafkaStorageError.code());

    let not_coordinator = ErrorCode::NotCoordinator.code();
    let Response::DeleteGroups(answer) = ask(&mut harness, 2, delete_group("g")) else { panic!() };
    assert_eq!(answer.results[0].error_code, not_coordinator);
    assert_eq!(commit(&mut harness, "g", &["t"], 7), [("t".to_string(), not_coordinator)]);
    assert_eq!(committed(&mut harness, "g"), []);
    let find = FindCoordinatorRequest { key: StrBytes::from_static("g"), ..Default::default() };
    let Response::FindCoordinator(found) = ask(&mut harness, 3, Request::FindCoordinator(find))
    else {
        panic!()
    };
    assert_eq!(found.error_code, ErrorCode::CoordinatorNotAvailable.code());
    assert_eq!(committed(&mut harness, "h"), [("t".to_string(), 4)]);
    assert_eq!(commit(&mut harness, "h", &["t"], 5), [("t".to_string(), 0)]);

    // A restart serves "g" again, as the log holds it.
    let mut restarted = harness.after_power_loss();
    assert_eq!(committed(&mut restarted, "g"), [("t".to_string(), 4)]);
    assert_eq!(committed(&mut restarted, "h"), [("t".to_string(), 5)]);
}

#[test]
fn deleting_the_offsets_topic_forgets_every_group() {
    // Kafka lets __consumer_offsets be deleted, and its coordinator then unloads every group.
    // So does Sluice: group "g"'s committed offset is gone from memory as from disk, a parked
    // JoinGroup is answered NOT_COORDINATOR, and the next commit makes the topic again. (The
    // groups stayed in memory, answering offsets no log held, until a restart.)
    use bytes::Bytes;
    use sluice_core::protocol::api::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
    let mut harness = Harness::new();
    harness.create_topic("t", 1);
    assert_eq!(commit(&mut harness, "g", &["t"], 4), [("t".to_string(), 0)]);
    let join = JoinGroupRequest {
        group_id: StrBytes::from_static("j"),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 20_000,
        protocol_type: StrBytes::from_static("consumer"),
        protocols: vec![JoinGroupRequestProtocol {
            name: StrBytes::from_static("range"),
            metadata: Bytes::from_static(b"m"),
            ..Default::default()
        }],
        ..Default::default()
    };
    harness.send(B, 3, Request::JoinGroup(join));
    assert!(harness.outputs().is_empty(), "the join waits for the initial rebalance delay");
    harness.send(A, 5, delete_topics("__consumer_offsets"));
    let mut answers = Vec::new();
    for output in harness.outputs() {
        match &output {
            Output::Send { .. } => answers.push(harness.response(&output)),
            Output::Sync { .. } => harness.complete_sync(&output, false),
            other => panic!("{other:?}"),
        }
    }
    let joined = answers.iter().find_map(|(connection, _, response)| match response {
        Response::JoinGroup(joined) if *connection == B => Some(joined.error_code),
        _ => None,
    });
    assert_eq!(joined, Some(ErrorCode::NotCoordinator.code()));
    let deleted = answers.iter().find_map(|(_, _, response)| match response {
        Response::DeleteTopics(deleted) => Some(deleted.responses[0].error_code),
        _ => None,
    });
    assert_eq!(deleted, Some(0));
    assert_eq!(committed(&mut harness, "g"), []);
    assert_eq!(commit(&mut harness, "g", &["t"], 6), [("t".to_string(), 0)]);
    assert!(harness.node.topics().get("__consumer_offsets").is_some(), "made again");
    let mut restarted = harness.after_power_loss();
    assert_eq!(committed(&mut restarted, "g"), [("t".to_string(), 6)]);
}

/// CreateTopics of `name` (one partition) with `configs`; returns the topic's error code.
fn create_with_configs(harness: &mut Harness, name: &'static str, configs: &[(&str, &str)]) -> i16 {
    let topic = CreateTopicsRequestTopic {
        name: StrBytes::from_static(name),
        num_partitions: 1,
        replication_factor: 1,
        configs: configs
            .iter()
            .map(|(name, value)| CreateTopicsRequestConfig {
                name: StrBytes::from_string((*name).to_string()),
                value: Some(StrBytes::from_string((*value).to_string())),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let request = CreateTopicsRequest { topics: vec![topic], ..Default::default() };
    harness.send(A, 7, Request::CreateTopics(request));
    let outputs = harness.outputs();
    let Response::CreateTopics(response) = harness.response(&outputs[0]).2 else { panic!() };
    response.topics[0].error_code
}

/// One acks=all produce of `batch` to partition 0 of `topic`, synced: its partition answer.
fn produce_synced(
    harness: &mut Harness,
    topic: &str,
    batch: Vec<u8>,
) -> sluice_core::protocol::api::produce::ProduceResponsePartition {
    harness.send(A, 9, produce(topic, 0, -1, batch));
    let mut outputs = harness.outputs();
    if let [Output::Sync { .. }] = &outputs[..] {
        let sync = outputs.remove(0);
        harness.complete_sync(&sync, false);
        outputs = harness.outputs();
    }
    let Response::Produce(mut response) = harness.response(&outputs[0]).2 else {
        panic!("{outputs:?}")
    };
    response.responses.remove(0).partition_responses.remove(0)
}

/// The stored bytes of partition 0 of `topic` from offset 0, as a fetch serves them.
fn fetched_bytes(harness: &mut Harness, topic: &str) -> Bytes {
    harness.send(A, 12, fetch(topic, 0, 0));
    let outputs = harness.outputs();
    let Response::Fetch(response) = harness.response(&outputs[0]).2 else { panic!() };
    response.responses[0].partitions[0].records.clone().expect("records")
}

#[test]
fn the_topic_configs_kafka_streams_sets_on_its_internal_topics_are_accepted() {
    // What Kafka Streams asks for a changelog and a repartition topic.
    let mut harness = Harness::new();
    let changelog = [("cleanup.policy", "compact"), ("message.timestamp.type", "CreateTime")];
    assert_eq!(create_with_configs(&mut harness, "app-store-changelog", &changelog), 0);
    let repartition = [
        ("cleanup.policy", "delete"),
        ("segment.bytes", "52428800"),
        ("retention.ms", "-1"),
        ("message.timestamp.type", "CreateTime"),
    ];
    assert_eq!(create_with_configs(&mut harness, "app-by-key-repartition", &repartition), 0);
    // Kafka's spelling is exact: anything else is INVALID_CONFIG.
    for (name, value) in [
        ("message.timestamp.type", "createtime"),
        ("compression.type", "ZSTD"),
        ("compression.type", "brotli"),
        ("message.timestamp.before.max.ms", "-1"),
    ] {
        let code = create_with_configs(&mut harness, "bad", &[(name, value)]);
        assert_eq!(code, ErrorCode::InvalidConfig.code(), "{name}={value}");
    }
    // The compaction lags are checked together, on the result, in whatever order given.
    let lags = [("min.compaction.lag.ms", "2000"), ("max.compaction.lag.ms", "1000")];
    assert_eq!(create_with_configs(&mut harness, "lags", &lags), ErrorCode::InvalidConfig.code());
    let lags = [("min.compaction.lag.ms", "500"), ("max.compaction.lag.ms", "1000")];
    assert_eq!(create_with_configs(&mut harness, "lags", &lags), 0);
}

#[test]
fn a_log_append_time_topic_stamps_each_batch_with_the_append_time() {
    let mut harness = Harness::new();
    let configs = [("message.timestamp.type", "LogAppendTime")];
    assert_eq!(create_with_configs(&mut harness, "lat", &configs), 0);
    // The producer's timestamps are a day old; the answer carries the append time.
    let answer =
        produce_synced(&mut harness, "lat", producer_batch(3, 10, 0, WALL_MS - 86_400_000));
    assert_eq!((answer.error_code, answer.base_offset), (0, 0));
    assert_eq!(answer.log_append_time_ms, WALL_MS);
    let bytes = fetched_bytes(&mut harness, "lat");
    let header = record_batch::validate(&bytes).expect("a valid batch with a matching CRC");
    assert!(header.is_log_append_time());
    assert_eq!(header.max_timestamp, WALL_MS);
    // The producer's base timestamp and records are kept as they came.
    assert_eq!(header.base_timestamp, WALL_MS - 86_400_000);
    assert_eq!(header.records_count, 3);
    // ListOffsets by timestamp goes by the append time.
    let tp = sluice_core::log::TopicPartition::new("lat", 0);
    let log = harness.node.logs().log(&tp).expect("log");
    assert_eq!(log.max_timestamp_offset(), Some((WALL_MS, 0)));

    // A producer may not flag its own batch LogAppendTime there: INVALID_TIMESTAMP, naming
    // the record, and nothing stored.
    let mut flagged = producer_batch(1, 10, 1, WALL_MS);
    flagged[22] |= 0x08;
    let crc = record_batch::compute_crc(&flagged);
    flagged[17..21].copy_from_slice(&crc.to_be_bytes());
    let answer = produce_synced(&mut harness, "lat", flagged);
    assert_eq!(answer.error_code, ErrorCode::InvalidTimestamp.code());
    assert_eq!(answer.record_errors.len(), 1);
    assert_eq!(answer.record_errors[0].batch_index, 0);
    let log = harness.node.logs().log(&tp).expect("log");
    assert_eq!(log.log_end_offset(), 3);

    // A CreateTime topic answers -1 and keeps the producer's times.
    assert_eq!(create_with_configs(&mut harness, "ct", &[]), 0);
    let answer = produce_synced(&mut harness, "ct", producer_batch(2, 10, 0, WALL_MS - 5));
    assert_eq!((answer.error_code, answer.log_append_time_ms), (0, -1));
    let header = record_batch::validate(&fetched_bytes(&mut harness, "ct")).expect("valid");
    assert!(!header.is_log_append_time());
    assert_eq!(header.max_timestamp, WALL_MS - 4);

    // There a batch its producer flagged LogAppendTime is stored as CreateTime, as Kafka's
    // validator stores it, and then judged by its records' own times: its maxTimestamp (here
    // a minute ahead of them) becomes theirs, and bounds apply to them.
    let flag = |mut batch: Vec<u8>, max_timestamp: i64| {
        batch[22] |= 0x08;
        batch[35..43].copy_from_slice(&max_timestamp.to_be_bytes());
        let crc = record_batch::compute_crc(&batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(BatchHeader::parse(&batch).expect("a batch").is_log_append_time());
        batch
    };
    assert_eq!(create_with_configs(&mut harness, "ct-flagged", &[]), 0);
    let flagged = flag(producer_batch(2, 10, 2, WALL_MS - 100), WALL_MS - 40);
    let answer = produce_synced(&mut harness, "ct-flagged", flagged);
    assert_eq!((answer.error_code, answer.log_append_time_ms), (0, -1));
    let bytes = fetched_bytes(&mut harness, "ct-flagged");
    let header = record_batch::validate(&bytes).expect("a valid batch with a matching CRC");
    assert!(!header.is_log_append_time());
    assert_eq!(header.max_timestamp, WALL_MS - 99);
    let bounds = [("message.timestamp.before.max.ms", "60000")];
    assert_eq!(create_with_configs(&mut harness, "ct-bounded", &bounds), 0);
    let day_old = flag(producer_batch(1, 10, 3, WALL_MS - 86_400_000), WALL_MS);
    let answer = produce_synced(&mut harness, "ct-bounded", day_old);
    assert_eq!(answer.error_code, ErrorCode::InvalidTimestamp.code());
}

#[test]
fn an_idempotent_retry_in_a_log_append_time_topic_gets_the_original_append_time() {
    // As Kafka answers a duplicate: with the stored batch's timestamp, which the producer
    // reports for its records. Kept in producer state, its snapshot, and the log's headers.
    let mut harness = Harness::new();
    let configs = [("message.timestamp.type", "LogAppendTime")];
    assert_eq!(create_with_configs(&mut harness, "lat", &configs), 0);
    let answer = produce_synced(&mut harness, "lat", idempotent_batch(5, 0, 0, 2, 1));
    assert_eq!((answer.error_code, answer.log_append_time_ms), (0, WALL_MS));
    harness.wall_ms = WALL_MS + 5_000;
    let answer = produce_synced(&mut harness, "lat", idempotent_batch(5, 0, 0, 2, 1));
    assert_eq!((answer.error_code, answer.base_offset), (0, 0));
    assert_eq!(answer.log_append_time_ms, WALL_MS);
    let answer = produce_synced(&mut harness, "lat", idempotent_batch(5, 0, 2, 1, 2));
    assert_eq!((answer.base_offset, answer.log_append_time_ms), (2, WALL_MS + 5_000));
    // After a restart: from the snapshot a clean close wrote, and without it, from the log's
    // batch headers.
    harness.node.close().expect("close");
    let closed = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    let mut without_snapshot = closed.clone();
    let names = without_snapshot.list("lat-0").expect("list");
    let snapshots: Vec<&String> = names.iter().filter(|name| name.ends_with(".snapshot")).collect();
    assert_eq!(snapshots.len(), 1, "{names:?}");
    without_snapshot.remove(&format!("lat-0/{}", snapshots[0])).expect("remove");
    for disk in [closed, without_snapshot] {
        let mut restarted = Harness::with_disk(disk);
        let answer = produce_synced(&mut restarted, "lat", idempotent_batch(5, 0, 0, 2, 1));
        assert_eq!((answer.base_offset, answer.log_append_time_ms), (0, WALL_MS));
        let answer = produce_synced(&mut restarted, "lat", idempotent_batch(5, 0, 2, 1, 2));
        assert_eq!((answer.base_offset, answer.log_append_time_ms), (2, WALL_MS + 5_000));
        harness = restarted;
    }
    // A CreateTime topic answers a retry with -1: each record keeps its own time.
    assert_eq!(create_with_configs(&mut harness, "ct", &[]), 0);
    for _ in 0..2 {
        let answer = produce_synced(&mut harness, "ct", idempotent_batch(6, 0, 0, 1, 1));
        assert_eq!((answer.error_code, answer.log_append_time_ms), (0, -1));
    }
}

#[test]
fn record_timestamps_outside_the_topics_bounds_are_invalid_timestamp() {
    let mut harness = Harness::new();
    let configs =
        [("message.timestamp.before.max.ms", "60000"), ("message.timestamp.after.max.ms", "1000")];
    assert_eq!(create_with_configs(&mut harness, "bounded", &configs), 0);
    // Records at now - 60 s and now + 1 s are in range, the edges included.
    let answer =
        produce_synced(&mut harness, "bounded", producer_batch(1, 10, 0, WALL_MS - 60_000));
    assert_eq!((answer.error_code, answer.base_offset), (0, 0));
    let answer = produce_synced(&mut harness, "bounded", producer_batch(1, 10, 1, WALL_MS + 1000));
    assert_eq!((answer.error_code, answer.base_offset), (0, 1));
    // Three records from now + 999: the third, at now + 1001, is out: the whole batch is
    // refused, naming record 2 and the range.
    let answer = produce_synced(&mut harness, "bounded", producer_batch(3, 10, 2, WALL_MS + 999));
    assert_eq!(answer.error_code, ErrorCode::InvalidTimestamp.code());
    assert_eq!(answer.record_errors.len(), 1);
    assert_eq!(answer.record_errors[0].batch_index, 2);
    let expected = format!(
        "Timestamp {} of message with offset 2 is out of range. The timestamp should be within \
         [{}, {}]",
        WALL_MS + 1001,
        WALL_MS - 60_000,
        WALL_MS + 1000
    );
    assert_eq!(answer.error_message.as_ref().map(|text| text.as_str()), Some(&expected[..]));
    let answer =
        produce_synced(&mut harness, "bounded", producer_batch(1, 10, 3, WALL_MS - 60_001));
    assert_eq!(answer.error_code, ErrorCode::InvalidTimestamp.code());
    let tp = sluice_core::log::TopicPartition::new("bounded", 0);
    assert_eq!(harness.node.logs().log(&tp).map(|log| log.log_end_offset()), Some(2));

    // The deprecated message.timestamp.difference.max.ms bounds both sides when the two
    // newer settings are unset, as in Kafka 3.6+.
    let configs = [("message.timestamp.difference.max.ms", "10")];
    assert_eq!(create_with_configs(&mut harness, "diff", &configs), 0);
    let answer = produce_synced(&mut harness, "diff", producer_batch(1, 10, 0, WALL_MS + 11));
    assert_eq!(answer.error_code, ErrorCode::InvalidTimestamp.code());
    let answer = produce_synced(&mut harness, "diff", producer_batch(1, 10, 0, WALL_MS - 10));
    assert_eq!(answer.error_code, 0);
}

#[test]
fn a_topics_compression_type_re_encodes_batches_with_its_codec() {
    use sluice_core::protocol::record_batch::{build_batch_compressed, BatchOptions, NewRecord};
    let values: Vec<Vec<u8>> = (0..20).map(|index| vec![b'a' + index as u8; 200]).collect();
    let records: Vec<NewRecord<'_>> = values
        .iter()
        .enumerate()
        .map(|(index, value)| NewRecord {
            key: Some(b"k"),
            value: Some(value),
            headers: vec![],
            timestamp_ms: WALL_MS + index as i64,
        })
        .collect();
    let plain = build_batch_compressed(&records, BatchOptions::default(), Compression::None)
        .expect("plain");
    let gzip =
        build_batch_compressed(&records, BatchOptions::default(), Compression::Gzip).expect("gzip");
    let mut harness = Harness::new();
    for (topic, codec) in [("z", "zstd"), ("u", "uncompressed"), ("p", "producer")] {
        assert_eq!(create_with_configs(&mut harness, topic, &[("compression.type", codec)]), 0);
    }
    let read = |harness: &mut Harness, topic: &str| {
        let bytes = fetched_bytes(harness, topic);
        let header = record_batch::validate_deep(&bytes, 1 << 20).expect("valid");
        let body = record_batch::records_section(&header, &bytes, 1 << 20).expect("records");
        let values: Vec<Vec<u8>> = record_batch::Records::new(&header, &body)
            .map(|record| record.expect("record").value.expect("value").to_vec())
            .collect();
        (header, values)
    };
    // zstd: an uncompressed batch is stored compressed with zstd, records unchanged.
    assert_eq!(produce_synced(&mut harness, "z", plain.clone()).error_code, 0);
    let (header, stored) = read(&mut harness, "z");
    assert_eq!(header.compression(), Compression::Zstd);
    assert_eq!(stored, values);
    assert!(header.size_bytes() < plain.len());
    // uncompressed: a gzip batch is stored decompressed.
    assert_eq!(produce_synced(&mut harness, "u", gzip.clone()).error_code, 0);
    let (header, stored) = read(&mut harness, "u");
    assert_eq!(header.compression(), Compression::None);
    assert_eq!(stored, values);
    assert_eq!(header.max_timestamp, WALL_MS + 19);
    // producer: the gzip batch is stored byte for byte (but for its offset and epoch).
    assert_eq!(produce_synced(&mut harness, "p", gzip.clone()).error_code, 0);
    let bytes = fetched_bytes(&mut harness, "p");
    assert_eq!((&bytes[..12], &bytes[16..]), (&gzip[..12], &gzip[16..]));
    // A re-encoded batch larger than max.message.bytes is MESSAGE_TOO_LARGE.
    let configs = [("compression.type", "uncompressed"), ("max.message.bytes", "1000")];
    assert_eq!(create_with_configs(&mut harness, "small", &configs), 0);
    let answer = produce_synced(&mut harness, "small", gzip);
    assert_eq!(answer.error_code, ErrorCode::MessageTooLarge.code());
}

#[test]
fn a_batch_whose_max_timestamp_is_not_its_records_largest_is_stored_with_theirs() {
    use sluice_core::protocol::record_batch::{build_batch_compressed, BatchOptions};
    // A client that leaves maxTimestamp at -1 (or writes a far future) would have its segment
    // deleted by retention at once (or never): as Kafka, the broker writes the records' own
    // largest timestamp there.
    let mut harness = Harness::new();
    assert_eq!(create_with_configs(&mut harness, "t", &[]), 0);
    let forge = |mut batch: Vec<u8>, max: i64| {
        batch[35..43].copy_from_slice(&max.to_be_bytes());
        let crc = record_batch::compute_crc(&batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
        batch
    };
    let plain = producer_batch(3, 10, 0, WALL_MS - 1000);
    let answer = produce_synced(&mut harness, "t", forge(plain, -1));
    assert_eq!((answer.error_code, answer.base_offset), (0, 0));
    let values = [b"a".to_vec(), b"b".to_vec()];
    let news: Vec<record_batch::NewRecord<'_>> = values
        .iter()
        .enumerate()
        .map(|(index, value)| record_batch::NewRecord {
            key: Some(b"k"),
            value: Some(value),
            headers: vec![],
            timestamp_ms: WALL_MS - 500 + index as i64,
        })
        .collect();
    let lz4 =
        build_batch_compressed(&news, BatchOptions::default(), Compression::Lz4).expect("lz4");
    let answer = produce_synced(&mut harness, "t", forge(lz4, i64::MAX));
    assert_eq!((answer.error_code, answer.base_offset), (0, 3));
    let bytes = fetched_bytes(&mut harness, "t");
    let first = record_batch::validate(&bytes[..BatchHeader::parse(&bytes).unwrap().size_bytes()])
        .expect("valid with its new CRC");
    assert_eq!(first.max_timestamp, WALL_MS - 1000 + 2);
    let second = BatchHeader::parse(&bytes[first.size_bytes()..]).expect("second");
    assert_eq!(second.max_timestamp, WALL_MS - 500 + 1);
    assert_eq!(second.compression(), Compression::Lz4);
    let tp = sluice_core::log::TopicPartition::new("t", 0);
    let log = harness.node.logs().log(&tp).expect("log");
    assert_eq!(log.max_timestamp_offset().map(|(time, _)| time), Some(WALL_MS - 499));
}

/// (partition, size, offset lag) of each partition DescribeLogDirs listed.
type Sizes = Vec<(String, i64, i64)>;

/// DescribeLogDirs at `version`: the partitions listed, and the directory's (path, total
/// bytes, usable bytes).
fn describe_log_dirs(
    harness: &mut Harness,
    version: i16,
    topics: Option<Vec<(&'static str, Vec<i32>)>>,
) -> (Sizes, (String, i64, i64)) {
    use sluice_core::protocol::api::describe_log_dirs::{
        DescribableLogDirTopic, DescribeLogDirsRequest,
    };
    let topics = topics.map(|topics| {
        topics
            .into_iter()
            .map(|(topic, partitions)| DescribableLogDirTopic {
                topic: StrBytes::from_static(topic),
                partitions,
                ..Default::default()
            })
            .collect()
    });
    let request = Request::DescribeLogDirs(DescribeLogDirsRequest { topics, ..Default::default() });
    harness.send(A, version, request);
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let Response::DescribeLogDirs(answer) = harness.response(&outputs[0]).2 else { panic!() };
    assert_eq!((answer.error_code, answer.results.len()), (0, 1));
    let dir = &answer.results[0];
    assert_eq!(dir.error_code, 0);
    let partitions = dir
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(|partition| {
                assert!(!partition.is_future_key);
                let name = format!("{}-{}", topic.name, partition.partition_index);
                (name, partition.partition_size, partition.offset_lag)
            })
        })
        .collect();
    (partitions, (dir.log_dir.to_string(), dir.total_bytes, dir.usable_bytes))
}

#[test]
fn describe_log_dirs_gives_each_partitions_size_and_the_records_not_yet_durable() {
    use sluice_sim::disk::{DiskFaults, SIM_LOG_DIR};
    let mut harness = Harness::new();
    harness.create_topic("t", 2);
    harness.create_topic("u", 1);
    let batch = producer_batch(3, 10, 1, WALL_MS);
    let size = batch.len() as i64;
    // Appended, its sync not yet done: the three records lead the high watermark.
    harness.send(B, 9, produce("t", 0, -1, batch));
    let sync = harness.outputs();
    assert!(matches!(&sync[..], [Output::Sync { .. }]), "{sync:?}");
    let unlimited = (SIM_LOG_DIR.to_string(), -1, -1);
    let all = |lag| {
        vec![("t-0".to_string(), size, lag), ("t-1".to_string(), 0, 0), ("u-0".to_string(), 0, 0)]
    };
    assert_eq!(describe_log_dirs(&mut harness, 4, None), (all(3), unlimited.clone()));
    harness.complete_sync(&sync[0], false);
    let answered = harness.outputs();
    assert_eq!(produce_answered(&harness, &answered[0]), (B, 0, 0));
    assert_eq!(describe_log_dirs(&mut harness, 4, None), (all(0), unlimited.clone()));
    // Only what is asked for, once; unknown topics and partitions are left out, as in Kafka.
    let asked = vec![("t", vec![1, 1, 7]), ("missing", vec![0]), ("t", vec![0])];
    let only_t = vec![("t-0".to_string(), size, 0), ("t-1".to_string(), 0, 0)];
    assert_eq!(describe_log_dirs(&mut harness, 2, Some(asked)), (only_t, unlimited.clone()));
    assert_eq!(describe_log_dirs(&mut harness, 1, Some(vec![])), (vec![], unlimited));
    // The volume's room: the disk's capacity and what is left of it (v4+; -1 before).
    let used = harness.node.storage_mut().used_bytes();
    let capacity = used + 1000;
    harness
        .node
        .storage_mut()
        .set_faults(DiskFaults { capacity_bytes: capacity, ..DiskFaults::default() });
    let (_, volume) = describe_log_dirs(&mut harness, 4, Some(vec![]));
    assert_eq!(volume, (SIM_LOG_DIR.to_string(), capacity as i64, 1000));
    let (_, volume) = describe_log_dirs(&mut harness, 3, Some(vec![]));
    assert_eq!(volume, (SIM_LOG_DIR.to_string(), -1, -1));
}

#[test]
fn describe_producers_lists_each_partitions_idempotent_producers_as_kafka_does() {
    use sluice_core::protocol::api::describe_producers::{
        DescribeProducersRequest, DescribeProducersRequestTopic,
    };
    let mut harness = Harness::new();
    harness.create_topic("dp", 2);
    let configs = [("message.timestamp.type", "LogAppendTime")];
    assert_eq!(create_with_configs(&mut harness, "lat", &configs), 0);
    // Producer 5 writes two batches (sequences 0-1, then 2-4); producer 6 one, at epoch 2;
    // producer 7 one in the LogAppendTime topic, a second after the records' create time.
    produce_synced(&mut harness, "dp", idempotent_batch(5, 0, 0, 2, 1));
    produce_synced(&mut harness, "dp", idempotent_batch(5, 0, 2, 3, 2));
    produce_synced(&mut harness, "dp", idempotent_batch(6, 2, 0, 1, 3));
    harness.wall_ms = WALL_MS + 1_000;
    produce_synced(&mut harness, "lat", idempotent_batch(7, 0, 0, 1, 4));
    let topic = |name: &'static str, partitions: Vec<i32>| DescribeProducersRequestTopic {
        name: StrBytes::from_static(name),
        partition_indexes: partitions,
        ..Default::default()
    };
    let request = DescribeProducersRequest {
        topics: vec![topic("dp", vec![0, 1, 9]), topic("missing", vec![0]), topic("lat", vec![0])],
        ..Default::default()
    };
    let Response::DescribeProducers(answer) =
        ask(&mut harness, 0, Request::DescribeProducers(request))
    else {
        panic!()
    };
    // (topic, partition, error, [(id, epoch, last sequence, last timestamp)]).
    type Described = (String, i32, i16, Vec<(i64, i32, i32, i64)>);
    let described: Vec<Described> = answer
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(|partition| {
                let producers = partition
                    .active_producers
                    .iter()
                    .map(|producer| {
                        assert_eq!(
                            (producer.coordinator_epoch, producer.current_txn_start_offset),
                            (-1, -1)
                        );
                        let last = producer.last_sequence;
                        (
                            producer.producer_id,
                            producer.producer_epoch,
                            last,
                            producer.last_timestamp,
                        )
                    })
                    .collect();
                (topic.name.to_string(), partition.partition_index, partition.error_code, producers)
            })
        })
        .collect();
    let unknown = ErrorCode::UnknownTopicOrPartition.code();
    assert_eq!(
        described,
        vec![
            ("dp".to_string(), 0, 0, vec![(5, 0, 4, WALL_MS), (6, 2, 0, WALL_MS)]),
            ("dp".to_string(), 1, 0, vec![]),
            ("dp".to_string(), 9, unknown, vec![]),
            ("missing".to_string(), 0, unknown, vec![]),
            ("lat".to_string(), 0, 0, vec![(7, 0, 0, WALL_MS + 1_000)]),
        ]
    );
    // A request naming more partitions than a broker holds would cost some 20 times its size
    // in answers: the connection is closed instead.
    let named = sluice_core::limits::PARTITIONS_PER_LOG_DIR_MAX as i32 + 1;
    let request = DescribeProducersRequest {
        topics: vec![topic("dp", vec![0; named as usize])],
        ..Default::default()
    };
    harness.send(B, 0, Request::DescribeProducers(request));
    let outputs = harness.outputs();
    assert!(
        matches!(&outputs[..], [Output::Close { connection: B, reason }] if reason.contains("65537")),
        "{outputs:?}"
    );
}

#[test]
fn idempotent_producers_are_forgotten_after_producer_id_expiration_ms_as_kafka_forgets_them() {
    use sluice_core::protocol::api::describe_producers::{
        DescribeProducersRequest, DescribeProducersRequestTopic,
    };
    // producer.id.expiration.ms=10000, checked every second. Producer 5's batch carries
    // WALL_MS; producer 7's, in a LogAppendTime topic, is stamped WALL_MS + 5000.
    let config = BrokerConfig {
        producer_id_expiration_ms: 10_000,
        producer_id_expiration_check_interval_ms: 1_000,
        ..BrokerConfig::default()
    };
    let mut harness = Harness::with_config(config.clone(), SimDisk::new(1));
    harness.create_topic("px", 1);
    let configs = [("message.timestamp.type", "LogAppendTime")];
    assert_eq!(create_with_configs(&mut harness, "lat", &configs), 0);
    produce_synced(&mut harness, "px", idempotent_batch(5, 0, 0, 2, 1));
    harness.wall_ms = WALL_MS + 5_000;
    produce_synced(&mut harness, "lat", idempotent_batch(7, 0, 0, 1, 2));
    let listed = |harness: &mut Harness| -> Vec<(&'static str, i64)> {
        let topics = ["px", "lat"].map(|name| DescribeProducersRequestTopic {
            name: StrBytes::from_static(name),
            partition_indexes: vec![0],
            ..Default::default()
        });
        let request = DescribeProducersRequest { topics: topics.to_vec(), ..Default::default() };
        let Response::DescribeProducers(answer) =
            ask(harness, 0, Request::DescribeProducers(request))
        else {
            panic!()
        };
        let names = ["px", "lat"];
        answer
            .topics
            .iter()
            .zip(names)
            .flat_map(|(topic, name)| {
                topic.partitions[0].active_producers.iter().map(move |p| (name, p.producer_id))
            })
            .collect()
    };
    let timer = |harness: &mut Harness, now: u64, wall_ms: i64| {
        harness.now = now;
        harness.wall_ms = wall_ms;
        harness.node.handle(now, wall_ms, Input::Timer);
        harness.outputs();
    };
    // A wall clock jumped 38 s ahead 2 s after the start forgets nothing: the deletion clock
    // does not follow it. At 9.999 s producer 5's batch is not yet old enough.
    timer(&mut harness, 2_000, WALL_MS + 40_000);
    assert_eq!(listed(&mut harness), [("px", 5), ("lat", 7)]);
    timer(&mut harness, 9_999, WALL_MS + 9_999);
    assert_eq!(listed(&mut harness), [("px", 5), ("lat", 7)]);
    // Past 10 s after its batch producer 5 is forgotten at the next check; producer 7, whose
    // batch is 9.999 s old then, is not.
    timer(&mut harness, 14_999, WALL_MS + 14_999);
    assert_eq!(listed(&mut harness), [("lat", 7)]);
    // Forgotten, producer 5 is new again: its next sequence is refused as unknown, and a
    // retry of its first batch is stored again (Kafka's trade-off for expiry).
    let unknown = ErrorCode::UnknownProducerId.code();
    assert_eq!(
        produce_synced(&mut harness, "px", idempotent_batch(5, 0, 2, 1, 3)).error_code,
        unknown
    );
    let again = produce_synced(&mut harness, "px", idempotent_batch(5, 0, 0, 2, 1));
    assert_eq!((again.error_code, again.base_offset), (0, 2));
    // Started again 16 s after producer 7's batch, the broker does not bring it back, from a
    // snapshot or from the batch headers; producer 5's new batch (made at WALL_MS, its
    // records' own time) is forgotten too.
    let mut disk = std::mem::replace(harness.node.storage_mut(), SimDisk::new(0));
    disk.crash();
    let (node, _) = Node::open(config, disk, 7, 0, WALL_MS + 21_000).expect("open");
    let mut harness =
        Harness { node, now: 0, wall_ms: WALL_MS + 21_000, correlation: 0, sent: Vec::new() };
    assert_eq!(listed(&mut harness), []);
}

#[test]
fn a_partition_named_twice_in_one_fetch_is_read_once_with_its_last_offset() {
    use sluice_core::protocol::api::fetch::{
        FetchRequest, FetchRequestPartition, FetchRequestTopic,
    };
    // As Kafka keys a fetch's partitions: each once, in the order first named, with the
    // offset of its last mention; a topic named twice apart is regrouped.
    let Request::Fetch(template) = fetch("t", 0, 0) else { panic!() };
    let mut harness = Harness::new();
    harness.create_topic("t", 2);
    harness.create_topic("u", 1);
    for (topic, partition) in [("t", 0), ("t", 0), ("t", 1), ("u", 0)] {
        ask(&mut harness, 9, produce(topic, partition, -1, producer_batch(2, 10, 1, WALL_MS)));
    }
    let mention = |partition: i32, offset: i64| FetchRequestPartition {
        partition,
        fetch_offset: offset,
        partition_max_bytes: 1 << 20,
        ..Default::default()
    };
    let topic = |name: &'static str, partitions| FetchRequestTopic {
        topic: StrBytes::from_static(name),
        partitions,
        ..Default::default()
    };
    let request = FetchRequest {
        topics: vec![
            topic("t", vec![mention(0, 0), mention(1, 0)]),
            topic("u", vec![mention(0, 0)]),
            topic("t", vec![mention(0, 2), mention(0, 3)]),
        ],
        ..template
    };
    let Response::Fetch(answer) = ask(&mut harness, 12, Request::Fetch(request)) else { panic!() };
    // (topic, partition, first offset served).
    let served: Vec<(String, i32, i64)> = answer
        .responses
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(|partition| {
                let records = partition.records.as_deref().unwrap_or_default();
                let first = BatchHeader::parse(records).map_or(-1, |header| header.base_offset);
                (topic.topic.to_string(), partition.partition_index, first)
            })
        })
        .collect();
    // t-0 holds batches at 0 and 2: offset 3 is read from the batch at 2.
    assert_eq!(
        served,
        vec![("t".to_string(), 0, 2), ("t".to_string(), 1, 0), ("u".to_string(), 0, 0)]
    );
    assert_eq!(answer.responses.len(), 2, "t's partitions in one run, then u");
}

//! Sequences of client frames, timer ticks, sync completions, connection closes and crashes
//! applied to a core [`Node`] on the in-memory disk (target `node_ops`).
//!
//! The operations are `#[derive(Arbitrary)]` (with the crate's `arbitrary` feature), so the
//! fuzzer mutates structure: a request is either raw bytes or one of a few valid requests
//! encoded here (Metadata, CreateTopics, Produce with real batches, Fetch, ListOffsets, …), so
//! inputs reach the deep paths. [`run`] drives the node as the runtime and the simulator do and
//! checks, after every step:
//! - nothing panics, and every response frame decodes as the API and version it answers;
//! - the node's queues stay within their limits (the simulator's memory checker);
//! - no two different batches are ever acknowledged (acks=-1, error 0) at the same offset;
//! - no offset is ever read with two different records (outside page-cache mode, where
//!   consumers may read unsynced data that a crash takes back);
//! - after every restart and at the end, every acknowledged record is still readable where its
//!   acknowledgement put it (unless a sync failed after it was acknowledged, or it lies below
//!   the log start offset, or its topic was deleted);
//! - a log taken offline by a failed sync refuses reads.

use bytes::{Bytes, BytesMut};
use sluice_core::config::BrokerConfig;
use sluice_core::limits::{BATCH_DECOMPRESSED_BYTES_MAX, BATCH_HEADER_BYTES, FETCH_WAIT_MS_MAX};
use sluice_core::log::TopicPartition;
use sluice_core::node::{ConnectionId, Input, Node, Output, ADVERTISED};
use sluice_core::producer::increment_sequence;
use sluice_core::protocol::api::create_topics::{
    CreateTopicsRequest, CreateTopicsRequestConfig, CreateTopicsRequestTopic,
};
use sluice_core::protocol::api::delete_records::{
    DeleteRecordsRequest, DeleteRecordsRequestPartition, DeleteRecordsRequestTopic,
};
use sluice_core::protocol::api::delete_topics::{DeleteTopicsRequest, DeleteTopicsRequestTopic};
use sluice_core::protocol::api::describe_log_dirs::{
    DescribableLogDirTopic, DescribeLogDirsRequest,
};
use sluice_core::protocol::api::describe_producers::{
    DescribeProducersRequest, DescribeProducersRequestTopic,
};
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::init_producer_id::InitProducerIdRequest;
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{decode_request, decode_response, encode_request};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::legacy::{is_legacy, upconvert};
use sluice_core::protocol::record_batch::{
    build_batch_compressed, records_section, set_log_append_time, validate_deep, validate_stored,
    BatchHeader, BatchOptions, Compression, NewRecord, Records,
};
use sluice_core::protocol::wire::{Problem, StrBytes, Uuid};
use sluice_core::storage::{StorageError, StorageErrorKind};
use sluice_sim::disk::SimDisk;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A whole fuzz input: the seed of the disk's and node's randomness, then the operations.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeOps {
    /// Seeds the disk's crash choices and the node's randomness.
    pub seed: u16,
    /// Applied in order.
    pub ops: Vec<Op>,
}

/// One step.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Any bytes as a request frame body on connection `connection % 4`.
    Raw {
        /// Connection (taken modulo 4).
        connection: u8,
        /// Header and body.
        body: Vec<u8>,
    },
    /// A valid request, encoded at an advertised version chosen by `version`.
    Request {
        /// Connection (taken modulo 4).
        connection: u8,
        /// Picks the version within the advertised range (modulo its length).
        version: u8,
        /// What to send.
        request: Req,
    },
    /// Time passes (`ms` × 8 ms); the timer fires if due, or anyway with `timer`.
    Tick {
        /// Milliseconds / 8.
        ms: u16,
        /// Fire `Input::Timer` even if not due.
        timer: bool,
    },
    /// The sync in flight (if any) completes: synced, or failed with EIO.
    Sync {
        /// Whether it succeeds.
        ok: bool,
    },
    /// The client closes connection `connection % 4`.
    Close {
        /// Connection (taken modulo 4).
        connection: u8,
    },
    /// Power loss: unsynced bytes are dropped, torn or bit-flipped; the node restarts.
    Crash,
    /// The process restarts without power loss; cleanly (close first) if `clean` and idle.
    Restart {
        /// Shut down cleanly first, when no sync is in flight.
        clean: bool,
    },
}

/// A topic name among three (`t0`, `t1`, `t2`), by `index % 3`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicChoice(pub u8);

impl TopicChoice {
    fn name(self) -> String {
        format!("t{}", self.0 % 3)
    }
}

/// Where to read or delete from, resolved against the partition's current log.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetChoice {
    /// The log start offset.
    Start,
    /// The log end offset (or -1, "the high watermark", for DeleteRecords).
    End,
    /// Log start plus this many.
    After(u8),
    /// Past the end.
    Beyond,
    /// This exact offset.
    Exact(i16),
}

/// A structured request.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Req {
    /// ApiVersions.
    ApiVersions,
    /// Metadata for one topic, or all.
    Metadata {
        /// The topic, or all topics.
        topic: Option<TopicChoice>,
        /// `allow_auto_topic_creation`.
        auto_create: bool,
    },
    /// CreateTopics of one topic.
    CreateTopics {
        /// The topic.
        topic: TopicChoice,
        /// Partitions (modulo 4; 0 is invalid).
        partitions: u8,
        /// With `flush.messages=100` (page-cache mode).
        page_cache: bool,
    },
    /// DeleteTopics of one topic.
    DeleteTopics {
        /// The topic.
        topic: TopicChoice,
    },
    /// Produce to one partition.
    Produce {
        /// The topic.
        topic: TopicChoice,
        /// Partition (modulo 3).
        partition: u8,
        /// acks: 0 → -1, 1 → 1, 2 → 0, else an invalid value.
        acks: u8,
        /// The batches (one normally); the first only as a legacy message set if `legacy`.
        batches: Vec<BatchSpec>,
        /// Send a magic-1 message set instead of v2 batches.
        legacy: bool,
    },
    /// Fetch from one partition.
    Fetch {
        /// The topic.
        topic: TopicChoice,
        /// Partition (modulo 3).
        partition: u8,
        /// Fetch offset.
        offset: OffsetChoice,
        /// `max_wait_ms`.
        max_wait_ms: u16,
        /// `min_bytes`.
        min_bytes: u8,
        /// `partition_max_bytes` (0 means 1 MiB).
        max_bytes: u16,
        /// Name the partition first at this offset too (read once, at `offset`, the last).
        repeat: Option<OffsetChoice>,
    },
    /// ListOffsets of one partition.
    ListOffsets {
        /// The topic.
        topic: TopicChoice,
        /// Partition (modulo 3).
        partition: u8,
        /// -1 (latest), -2 (earliest), -3 (max timestamp), or a timestamp near the wall clock.
        timestamp: i8,
    },
    /// DeleteRecords of one partition.
    DeleteRecords {
        /// The topic.
        topic: TopicChoice,
        /// Partition (modulo 3).
        partition: u8,
        /// Up to where.
        offset: OffsetChoice,
    },
    /// InitProducerId (idempotent).
    InitProducerId,
    /// DescribeProducers of one topic's first partitions (0..(this modulo 4)).
    DescribeProducers {
        /// The topic.
        topic: TopicChoice,
        /// Partitions asked for.
        partitions: u8,
    },
    /// DescribeLogDirs of one topic's first partitions, or of every partition.
    DescribeLogDirs {
        /// The topic, or all.
        topic: Option<TopicChoice>,
        /// Partitions asked for: 0..(this modulo 4).
        partitions: u8,
    },
}

/// One batch of a structured Produce.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSpec {
    /// Records (1 + `records % 4`).
    pub records: u8,
    /// Give records keys.
    pub keyed: bool,
    /// 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd (modulo 5).
    pub compression: u8,
    /// Idempotent producer fields, or none.
    pub producer: Option<ProducerSpec>,
    /// Flag it LogAppendTime, with a maxTimestamp a second past its records' times, as a
    /// client of a user's own might (every topic here is CreateTime: stored as CreateTime).
    pub flag_append_time: bool,
}

/// Idempotent producer fields of a batch.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerSpec {
    /// Producer id: one handed out by InitProducerId (by index), or 1000 + `id % 2`.
    pub id: u8,
    /// Epoch (modulo 3).
    pub epoch: u8,
    /// Which base sequence.
    pub sequence: SequenceChoice,
}

/// The base sequence of an idempotent batch.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceChoice {
    /// The next one this producer has not sent to the partition.
    Next,
    /// The last one sent (a retry).
    Retry,
    /// This one.
    Exact(u8),
}

const WALL_MS: i64 = 1_700_000_000_000;
const CONNECTIONS: u64 = 4;
/// The connection the checker reads through.
const CHECKER: ConnectionId = ConnectionId(1_000);
const CHECK_FETCH_VERSION: i16 = 11;

/// Key and value of one record.
type Content = (Option<Bytes>, Option<Bytes>);

/// What identifies an idempotent batch: (producer id, epoch, first and last sequence). A
/// batch with the identity of one already stored is a retry, answered with the stored offset.
type Identity = (i64, i16, i32, i32);

/// A request whose response is expected on a connection.
struct Expected {
    correlation_id: i32,
    key: i16,
    version: i16,
    /// For acks=-1 Produce requests: per topic, per partition, what was sent.
    produce: Option<Vec<Vec<ProducedPartition>>>,
}

struct ProducedPartition {
    topic: String,
    /// The topic's id when the produce was sent (`None`: it did not exist).
    topic_id: Option<Uuid>,
    partition: i32,
    /// The records, in offset order, when the records field parses.
    records: Option<Vec<Content>>,
    identity: Option<Identity>,
}

struct Acked {
    content: Content,
    produce: u64,
    sync_failures: u64,
}

/// The driver and the checker's state.
pub struct Driver {
    node: Option<Node<SimDisk>>,
    seed: u64,
    restarts: u64,
    now: u64,
    sync: Option<(u64, Vec<String>)>,
    expected: BTreeMap<ConnectionId, VecDeque<Expected>>,
    checker_frame: Option<Bytes>,
    correlation: i32,
    produces: u64,
    values: u64,
    sync_failures: u64,
    acked: BTreeMap<(TopicPartition, i64), Acked>,
    consumed: BTreeMap<(TopicPartition, i64), Content>,
    topic_ids: BTreeMap<String, Uuid>,
    page_cache: BTreeSet<String>,
    producer_ids: Vec<i64>,
    /// Next sequence per producer and partition.
    sequences: BTreeMap<(i64, TopicPartition), i32>,
    /// The last batch each producer sent each partition, for retries.
    last_batches: BTreeMap<(i64, TopicPartition), Vec<u8>>,
    /// Where each acknowledged idempotent batch was stored.
    idempotent: BTreeMap<(TopicPartition, Identity), i64>,
}

/// Runs every operation and every check.
pub fn run(input: &NodeOps) {
    let mut driver = Driver::new(u64::from(input.seed));
    for op in &input.ops {
        driver.apply(op);
    }
    driver.verify_acknowledged();
    driver.crash();
    driver.verify_acknowledged();
}

impl Driver {
    /// A node on a fresh disk.
    pub fn new(seed: u64) -> Self {
        let (node, _) = Node::open(BrokerConfig::default(), SimDisk::new(seed), seed, 0, WALL_MS)
            .unwrap_or_else(|(error, _)| panic!("a fresh node does not open: {error}"));
        let mut driver = Self {
            node: Some(node),
            seed,
            restarts: 0,
            now: 0,
            sync: None,
            expected: BTreeMap::new(),
            checker_frame: None,
            correlation: 0,
            produces: 0,
            values: 0,
            sync_failures: 0,
            acked: BTreeMap::new(),
            consumed: BTreeMap::new(),
            topic_ids: BTreeMap::new(),
            page_cache: BTreeSet::new(),
            producer_ids: Vec::new(),
            sequences: BTreeMap::new(),
            last_batches: BTreeMap::new(),
            idempotent: BTreeMap::new(),
        };
        driver.after_step();
        driver
    }

    fn node(&mut self) -> &mut Node<SimDisk> {
        self.node.as_mut().expect("the node is up between steps")
    }

    fn wall_ms(&self) -> i64 {
        WALL_MS + self.now as i64
    }

    /// Applies one operation and checks the node afterwards.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Raw { connection, body } => {
                self.send(connection_id(*connection), Bytes::copy_from_slice(body));
            }
            Op::Request { connection, version, request } => {
                if let Some((request, api_version)) = self.build(request, *version) {
                    let body = self.encode(&request, api_version);
                    self.send(connection_id(*connection), body);
                }
            }
            Op::Tick { ms, timer } => {
                self.now += u64::from(*ms) * 8;
                let due = self.node().poll_timeout().is_some_and(|deadline| deadline <= self.now);
                if due || *timer {
                    self.input(Input::Timer);
                }
            }
            Op::Sync { ok } => self.complete_sync(*ok),
            Op::Close { connection } => {
                let connection = connection_id(*connection);
                self.expected.remove(&connection);
                self.input(Input::Closed { connection });
            }
            Op::Crash => {
                self.crash();
                self.verify_acknowledged();
            }
            Op::Restart { clean } => {
                let mut node = self.node.take().expect("up");
                if *clean && !node.is_busy() {
                    // A close can fail (an offline log); the restart then recovers.
                    let _ = node.close();
                    while node.poll_output().is_some() {}
                }
                let disk = std::mem::replace(node.storage_mut(), SimDisk::new(0));
                drop(node);
                self.reopen(disk);
                self.verify_acknowledged();
            }
        }
    }

    fn input(&mut self, input: Input) {
        let (now, wall_ms) = (self.now, self.wall_ms());
        self.node().handle(now, wall_ms, input);
        self.after_step();
    }

    /// Drains the outputs and runs the per-step checks.
    fn after_step(&mut self) {
        while let Some(output) = self.node().poll_output() {
            match output {
                Output::Send { connection, frame } => self.on_frame(connection, frame.to_bytes()),
                Output::Close { connection, .. } => {
                    self.expected.remove(&connection);
                }
                Output::Sync { id, files } => {
                    assert!(self.sync.is_none(), "a second sync while one is in flight");
                    self.sync = Some((id, files));
                }
                Output::Log { level, message } => {
                    // Replaying with SLUICE_FUZZ_LOG=1 prints the node's log lines.
                    if std::env::var_os("SLUICE_FUZZ_LOG").is_some() {
                        eprintln!("node {level:?}: {message}");
                    }
                }
            }
        }
        let stats = self.node().stats();
        if let Err(violation) = sluice_sim::checker::memory_bounded(&stats) {
            panic!("{}", violation.0);
        }
        self.track_topics();
    }

    /// Forgets what was acknowledged or read in a topic that was deleted (or re-created), and
    /// notes topics in page-cache mode.
    fn track_topics(&mut self) {
        let current: BTreeMap<String, (Uuid, bool)> = self
            .node()
            .topics()
            .iter()
            .map(|topic| (topic.name.clone(), (topic.id, topic.config.flush_messages > 1)))
            .collect();
        let gone: Vec<String> = self
            .topic_ids
            .iter()
            .filter(|(name, id)| current.get(*name).is_none_or(|(now, _)| now != *id))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            self.topic_ids.remove(&name);
            self.page_cache.remove(&name);
            self.acked.retain(|(tp, _), _| tp.topic != name);
            self.consumed.retain(|(tp, _), _| tp.topic != name);
            self.sequences.retain(|(_, tp), _| tp.topic != name);
            self.last_batches.retain(|(_, tp), _| tp.topic != name);
            self.idempotent.retain(|(tp, _), _| tp.topic != name);
        }
        for (name, (id, page_cache)) in current {
            self.topic_ids.entry(name.clone()).or_insert(id);
            if page_cache {
                self.page_cache.insert(name);
            }
        }
    }

    fn complete_sync(&mut self, ok: bool) {
        let Some((id, files)) = self.sync.take() else { return };
        let result = if ok {
            sluice_core::log::sync_files(self.node().storage_mut(), &files)
        } else {
            let path = files.first().map_or("", String::as_str);
            Err(StorageError::new(StorageErrorKind::Io, path, "EIO on fsync (fuzz)"))
        };
        let failed = result.is_err();
        if failed {
            self.sync_failures += 1;
        }
        self.input(Input::Synced { id, result });
        if failed {
            self.verify_offline_logs_refuse_reads();
        }
    }

    /// Power loss and restart.
    pub fn crash(&mut self) {
        let mut node = self.node.take().expect("up");
        let mut disk = std::mem::replace(node.storage_mut(), SimDisk::new(0));
        drop(node);
        disk.crash();
        self.reopen(disk);
    }

    fn reopen(&mut self, disk: SimDisk) {
        self.restarts += 1;
        self.sync = None;
        self.expected.clear();
        self.checker_frame = None;
        let seed = self.seed.wrapping_add(self.restarts);
        let (node, _) = Node::open(BrokerConfig::default(), disk, seed, self.now, self.wall_ms())
            .unwrap_or_else(|(error, _)| panic!("the node does not reopen: {error}"));
        self.node = Some(node);
        self.after_step();
    }

    /// Sends a frame body, noting the response it should get.
    fn send(&mut self, connection: ConnectionId, body: Bytes) {
        if let Some(expected) = self.expectation(&body) {
            self.expected.entry(connection).or_default().push_back(expected);
        }
        self.input(Input::Request { connection, body });
    }

    /// What the node will answer to `body`, if anything: undecodable frames and APIs it does
    /// not serve close the connection; acks=0 produces get no answer.
    fn expectation(&mut self, body: &Bytes) -> Option<Expected> {
        let decoded = match decode_request(body.clone()) {
            Ok(decoded) => decoded,
            Err(error) => {
                let header = error.header?;
                let unsupported = error.error.problem == Problem::UnsupportedVersion;
                return (header.api_key == 18 && unsupported).then_some(Expected {
                    correlation_id: header.correlation_id,
                    key: 18,
                    version: 0,
                    produce: None,
                });
            }
        };
        let (key, version) = (decoded.header.api_key, decoded.header.api_version);
        if !sluice_core::node::advertised(key, version) {
            return None;
        }
        let mut produce = None;
        if let Request::Produce(request) = &decoded.request {
            if request.acks == 0 && request.transactional_id.is_none() {
                return None;
            }
            if request.acks == -1 {
                produce = Some(
                    request
                        .topic_data
                        .iter()
                        .map(|topic| {
                            topic
                                .partition_data
                                .iter()
                                .map(|partition| {
                                    let parsed = partition.records.as_ref().and_then(produced);
                                    ProducedPartition {
                                        topic: topic.name.as_str().to_string(),
                                        topic_id: self.topic_ids.get(topic.name.as_str()).copied(),
                                        partition: partition.index,
                                        identity: parsed.as_ref().and_then(|parsed| parsed.1),
                                        records: parsed.map(|parsed| parsed.0),
                                    }
                                })
                                .collect()
                        })
                        .collect(),
                );
            }
        }
        Some(Expected { correlation_id: decoded.header.correlation_id, key, version, produce })
    }

    fn on_frame(&mut self, connection: ConnectionId, frame: Bytes) {
        assert!(frame.len() >= 8, "a response frame of {} bytes", frame.len());
        let length = i32::from_be_bytes(frame[..4].try_into().expect("4 bytes"));
        assert_eq!(usize::try_from(length).ok(), Some(frame.len() - 4), "length prefix");
        if connection == CHECKER {
            assert!(self.checker_frame.replace(frame).is_none(), "two answers to the checker");
            return;
        }
        let correlation_id = i32::from_be_bytes(frame[4..8].try_into().expect("4 bytes"));
        let queue = self.expected.entry(connection).or_default();
        // Requests answered with nothing (acks=0) were not queued, so the answer is the first
        // queued request with this correlation id; those before it were answered already.
        let position = queue.iter().position(|expected| expected.correlation_id == correlation_id);
        let position = position.unwrap_or_else(|| {
            panic!("connection {} got an answer to unknown request {correlation_id}", connection.0)
        });
        assert_eq!(position, 0, "responses on connection {} left request order", connection.0);
        let expected = queue.pop_front().expect("found above");
        let (_, response) = decode_response(expected.key, expected.version, frame.slice(4..))
            .unwrap_or_else(|error| {
                panic!(
                    "the node sent an undecodable {} v{} response: {error}",
                    expected.key, expected.version
                )
            });
        match response {
            Response::Produce(response) => {
                let Some(sent) = expected.produce else { return };
                self.produces += 1;
                for (topic, sent_topic) in response.responses.iter().zip(&sent) {
                    for (partition, sent) in topic.partition_responses.iter().zip(sent_topic) {
                        if partition.error_code == 0 {
                            self.acknowledged(sent, partition.base_offset);
                        }
                    }
                }
            }
            Response::Fetch(response) => {
                // Each fetch here names one partition (perhaps twice): it is answered once.
                let answered: usize = response.responses.iter().map(|t| t.partitions.len()).sum();
                assert!(answered <= 1, "a Fetch of one partition answered {answered} times");
                for topic in &response.responses {
                    for partition in &topic.partitions {
                        if partition.error_code == 0 {
                            let tp = TopicPartition::new(
                                topic.topic.as_str(),
                                partition.partition_index,
                            );
                            self.read(&tp, partition.records.as_ref());
                        }
                    }
                }
            }
            Response::DescribeProducers(response) => {
                // Each producer listed has a valid id and epoch, and no id is listed twice.
                for topic in &response.topics {
                    for partition in &topic.partitions {
                        let mut ids = BTreeSet::new();
                        for producer in &partition.active_producers {
                            assert!(
                                producer.producer_id >= 0
                                    && producer.producer_epoch >= 0
                                    && ids.insert(producer.producer_id),
                                "DescribeProducers: {producer:?} in {partition:?}"
                            );
                        }
                    }
                }
            }
            Response::DescribeLogDirs(response) => {
                // One directory; each partition once, with no negative size or lag.
                assert_eq!(response.results.len(), 1, "DescribeLogDirs: {response:?}");
                let mut seen = BTreeSet::new();
                for topic in &response.results[0].topics {
                    for partition in &topic.partitions {
                        let tp =
                            TopicPartition::new(topic.name.as_str(), partition.partition_index);
                        assert!(
                            partition.partition_size >= 0 && partition.offset_lag >= 0,
                            "DescribeLogDirs: {tp} {partition:?}"
                        );
                        assert!(seen.insert(tp.clone()), "DescribeLogDirs listed {tp} twice");
                    }
                }
            }
            Response::InitProducerId(response)
                if response.error_code == 0 && self.producer_ids.len() < 4 =>
            {
                self.producer_ids.push(response.producer_id);
            }
            _ => {}
        }
    }

    fn acknowledged(&mut self, sent: &ProducedPartition, base_offset: i64) {
        let tp = TopicPartition::new(&sent.topic, sent.partition);
        assert!(base_offset >= 0, "{tp}: acknowledged at offset {base_offset}");
        // An answer can outlive its topic: a produce held for another partition's sync is
        // answered after a DeleteTopics removed this one (its acks=1 page-cache append was
        // acknowledged, then deleted with the topic). Such records are no longer tracked.
        if sent.topic_id.is_none() || self.topic_ids.get(&sent.topic) != sent.topic_id.as_ref() {
            return;
        }
        let Some(records) = &sent.records else { return };
        if let Some(identity) = sent.identity {
            let log_start = self.node().logs().log(&tp).map_or(0, |log| log.log_start_offset());
            match self.idempotent.insert((tp.clone(), identity), base_offset) {
                Some(earlier) if earlier == base_offset => return, // a retry, deduplicated
                // Kafka forgets a producer's batches once they leave the log.
                Some(earlier) if earlier < log_start => {}
                Some(earlier) => panic!(
                    "{tp}: idempotent batch {identity:?} acknowledged at offsets {earlier} and \
                     {base_offset}: stored twice"
                ),
                None => {}
            }
        }
        for (index, content) in records.iter().enumerate() {
            let offset = base_offset + index as i64;
            let acked = Acked {
                content: content.clone(),
                produce: self.produces,
                sync_failures: self.sync_failures,
            };
            if let Some(earlier) = self.acked.insert((tp.clone(), offset), acked) {
                assert_eq!(
                    earlier.produce, self.produces,
                    "{tp}: two different batches acknowledged at offset {offset}: {:?}, then {:?}",
                    earlier.content, content
                );
            }
        }
    }

    /// Notes what a fetch returned; no offset may ever hold two different records.
    fn read(&mut self, tp: &TopicPartition, records: Option<&Bytes>) -> BTreeMap<i64, Content> {
        let mut found = BTreeMap::new();
        let Some(records) = records else { return found };
        let mut at = 0;
        while at < records.len() {
            let Ok(header) = BatchHeader::parse(&records[at..]) else { break };
            let Some(batch) = records.get(at..at + header.size_bytes()) else { break };
            at += header.size_bytes();
            validate_stored(batch)
                .unwrap_or_else(|error| panic!("{tp}: served a bad batch: {error}"));
            assert!(!header.is_log_append_time(), "{tp}: a CreateTime topic served {header:?}");
            let contents = batch_records(&header, batch)
                .unwrap_or_else(|| panic!("{tp}: served a batch whose records do not parse"));
            for (index, content) in contents.into_iter().enumerate() {
                found.insert(header.base_offset + index as i64, content);
            }
        }
        if self.page_cache.contains(&tp.topic) {
            return found;
        }
        for (&offset, content) in &found {
            if let Some(earlier) = self.consumed.insert((tp.clone(), offset), content.clone()) {
                assert_eq!(
                    &earlier, content,
                    "{tp}: offset {offset} read with two different records"
                );
            }
        }
        found
    }

    /// Fetches `tp` from `offset` through the checker's own connection.
    fn check_fetch(&mut self, tp: &TopicPartition, offset: i64) -> (i16, BTreeMap<i64, Content>) {
        let request = Request::Fetch(FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: 1 << 24,
            session_epoch: -1,
            topics: vec![FetchRequestTopic {
                topic: StrBytes::from_string(tp.topic.clone()),
                partitions: vec![FetchRequestPartition {
                    partition: tp.partition,
                    fetch_offset: offset,
                    partition_max_bytes: 1 << 24,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let body = self.encode(&request, CHECK_FETCH_VERSION);
        self.input(Input::Request { connection: CHECKER, body });
        let frame =
            self.checker_frame.take().expect("a fetch with max_wait_ms=0 is answered at once");
        self.input(Input::Closed { connection: CHECKER });
        let (_, response) = decode_response(1, CHECK_FETCH_VERSION, frame.slice(4..))
            .unwrap_or_else(|error| panic!("the node sent an undecodable Fetch response: {error}"));
        let Response::Fetch(response) = response else { unreachable!("decoded as Fetch") };
        let partition = &response.responses[0].partitions[0];
        let found = if partition.error_code == 0 {
            self.read(tp, partition.records.as_ref())
        } else {
            BTreeMap::new()
        };
        (partition.error_code, found)
    }

    /// Every acknowledged record is where its acknowledgement put it.
    pub fn verify_acknowledged(&mut self) {
        let mut wanted: BTreeMap<TopicPartition, Vec<(i64, Content)>> = BTreeMap::new();
        for ((tp, offset), acked) in &self.acked {
            if acked.sync_failures != self.sync_failures {
                continue; // a later sync failed: the brief excuses what follows
            }
            wanted.entry(tp.clone()).or_default().push((*offset, acked.content.clone()));
        }
        for (tp, records) in wanted {
            let log = self.node().logs().log(&tp);
            let log = log.unwrap_or_else(|| panic!("{tp}: acknowledged records but no log"));
            if log.offline_reason().is_some() {
                continue;
            }
            let (start, end) = (log.log_start_offset(), log.log_end_offset());
            let mut offset = records[0].0.max(start);
            let mut found = BTreeMap::new();
            while records.last().is_some_and(|&(last, _)| offset <= last) && offset < end {
                let (error_code, batch) = self.check_fetch(&tp, offset);
                assert_eq!(error_code, 0, "{tp}: reading acknowledged offset {offset} fails");
                let Some(&next) = batch.keys().next_back() else { break };
                offset = next + 1;
                found.extend(batch);
            }
            for (offset, content) in records {
                if offset < start {
                    continue; // deleted by DeleteRecords or retention
                }
                let stored = found.get(&offset);
                assert!(
                    stored == Some(&content),
                    "{tp}: acknowledged record {content:?} at offset {offset} is gone (found \
                     {stored:?}, log {start}..{end})"
                );
            }
        }
    }

    /// Every log a failed sync took offline refuses reads.
    fn verify_offline_logs_refuse_reads(&mut self) {
        let logs = self.node().logs();
        let offline: Vec<(TopicPartition, i64)> = logs
            .partitions()
            .filter_map(|tp| {
                let log = logs.log(tp)?;
                log.offline_reason().map(|_| (tp.clone(), log.log_start_offset()))
            })
            .collect();
        for (tp, start) in offline {
            if self
                .node()
                .topics()
                .get(&tp.topic)
                .is_none_or(|topic| tp.partition >= topic.partitions)
            {
                continue;
            }
            let (error_code, _) = self.check_fetch(&tp, start);
            assert_ne!(error_code, 0, "{tp}: an offline log served a read");
        }
    }

    fn encode(&mut self, request: &Request, version: i16) -> Bytes {
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader {
            api_key: request.api_key(),
            api_version: version,
            correlation_id: self.correlation,
            client_id: Some(StrBytes::from_static("fuzz")),
            unknown_tagged_fields: Vec::new(),
        };
        let mut frame = BytesMut::new();
        encode_request(&header, request, &mut frame);
        frame.freeze().slice(4..)
    }

    fn offset(&mut self, tp: &TopicPartition, choice: OffsetChoice, delete: bool) -> i64 {
        let (start, end) = self
            .node()
            .logs()
            .log(tp)
            .map_or((0, 0), |log| (log.log_start_offset(), log.log_end_offset()));
        match choice {
            OffsetChoice::Start => start,
            OffsetChoice::End if delete => -1,
            OffsetChoice::End => end,
            OffsetChoice::After(count) => start + i64::from(count),
            OffsetChoice::Beyond => end + 1,
            OffsetChoice::Exact(offset) => i64::from(offset),
        }
    }

    /// The request and version for a structured request.
    fn build(&mut self, request: &Req, version: u8) -> Option<(Request, i16)> {
        let key = match request {
            Req::ApiVersions => 18,
            Req::Metadata { .. } => 3,
            Req::CreateTopics { .. } => 19,
            Req::DeleteTopics { .. } => 20,
            Req::Produce { .. } => 0,
            Req::Fetch { .. } => 1,
            Req::ListOffsets { .. } => 2,
            Req::DeleteRecords { .. } => 21,
            Req::InitProducerId => 22,
            Req::DescribeLogDirs { .. } => 35,
            Req::DescribeProducers { .. } => 61,
        };
        let &(_, min, max) = ADVERTISED.iter().find(|(known, _, _)| *known == key)?;
        let version = min + (i16::from(version) % (max - min + 1));
        let request = match request {
            Req::ApiVersions => Request::ApiVersions(Default::default()),
            Req::Metadata { topic, auto_create } => {
                let topics = match topic {
                    Some(topic) => Some(vec![MetadataRequestTopic {
                        name: Some(StrBytes::from_string(topic.name())),
                        ..Default::default()
                    }]),
                    None if version == 0 => Some(Vec::new()),
                    None => None,
                };
                Request::Metadata(MetadataRequest {
                    topics,
                    allow_auto_topic_creation: *auto_create,
                    ..Default::default()
                })
            }
            Req::CreateTopics { topic, partitions, page_cache } => {
                let configs = if *page_cache {
                    vec![CreateTopicsRequestConfig {
                        name: StrBytes::from_static("flush.messages"),
                        value: Some(StrBytes::from_static("100")),
                        ..Default::default()
                    }]
                } else {
                    Vec::new()
                };
                Request::CreateTopics(CreateTopicsRequest {
                    topics: vec![CreateTopicsRequestTopic {
                        name: StrBytes::from_string(topic.name()),
                        num_partitions: i32::from(partitions % 4),
                        replication_factor: 1,
                        assignments: Vec::new(),
                        configs,
                        ..Default::default()
                    }],
                    timeout_ms: 30_000,
                    validate_only: false,
                    ..Default::default()
                })
            }
            Req::DeleteTopics { topic } => {
                let name = StrBytes::from_string(topic.name());
                Request::DeleteTopics(DeleteTopicsRequest {
                    topics: vec![DeleteTopicsRequestTopic {
                        name: Some(name.clone()),
                        ..Default::default()
                    }],
                    topic_names: vec![name],
                    timeout_ms: 30_000,
                    ..Default::default()
                })
            }
            Req::Produce { topic, partition, acks, batches, legacy } => {
                let tp = TopicPartition::new(&topic.name(), i32::from(partition % 3));
                let records = self.records(&tp, batches, *legacy)?;
                let acks = match acks {
                    0 => -1,
                    1 => 1,
                    2 => 0,
                    other => i16::from(*other),
                };
                Request::Produce(ProduceRequest {
                    transactional_id: None,
                    acks,
                    timeout_ms: 30_000,
                    topic_data: vec![ProduceRequestTopic {
                        name: StrBytes::from_string(tp.topic.clone()),
                        partition_data: vec![ProduceRequestPartition {
                            index: tp.partition,
                            records: Some(Bytes::from(records)),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            }
            Req::Fetch { topic, partition, offset, max_wait_ms, min_bytes, max_bytes, repeat } => {
                let tp = TopicPartition::new(&topic.name(), i32::from(partition % 3));
                let fetch_offset = self.offset(&tp, *offset, false);
                let max_wait_ms = u64::from(*max_wait_ms).min(FETCH_WAIT_MS_MAX) as i32;
                let partition_max_bytes =
                    if *max_bytes == 0 { 1 << 20 } else { i32::from(*max_bytes) };
                let mention = |fetch_offset| FetchRequestPartition {
                    partition: tp.partition,
                    fetch_offset,
                    partition_max_bytes,
                    ..Default::default()
                };
                let mut partitions = vec![mention(fetch_offset)];
                if let Some(first) = repeat {
                    partitions.insert(0, mention(self.offset(&tp, *first, false)));
                }
                Request::Fetch(FetchRequest {
                    replica_id: -1,
                    max_wait_ms,
                    min_bytes: i32::from(*min_bytes),
                    max_bytes: 1 << 20,
                    session_epoch: -1,
                    topics: vec![FetchRequestTopic {
                        topic: StrBytes::from_string(tp.topic.clone()),
                        partitions,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            }
            Req::ListOffsets { topic, partition, timestamp } => {
                let timestamp = match timestamp {
                    -3..=-1 => i64::from(*timestamp),
                    other => self.wall_ms() + i64::from(*other) * 100,
                };
                Request::ListOffsets(ListOffsetsRequest {
                    replica_id: -1,
                    topics: vec![ListOffsetsRequestTopic {
                        name: StrBytes::from_string(topic.name()),
                        partitions: vec![ListOffsetsRequestPartition {
                            partition_index: i32::from(partition % 3),
                            timestamp,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            }
            Req::DeleteRecords { topic, partition, offset } => {
                let tp = TopicPartition::new(&topic.name(), i32::from(partition % 3));
                let offset = self.offset(&tp, *offset, true);
                Request::DeleteRecords(DeleteRecordsRequest {
                    topics: vec![DeleteRecordsRequestTopic {
                        name: StrBytes::from_string(tp.topic.clone()),
                        partitions: vec![DeleteRecordsRequestPartition {
                            partition_index: tp.partition,
                            offset,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    timeout_ms: 30_000,
                    ..Default::default()
                })
            }
            Req::InitProducerId => Request::InitProducerId(InitProducerIdRequest {
                transaction_timeout_ms: 60_000,
                ..Default::default()
            }),
            Req::DescribeProducers { topic, partitions } => {
                Request::DescribeProducers(DescribeProducersRequest {
                    topics: vec![DescribeProducersRequestTopic {
                        name: StrBytes::from_string(topic.name()),
                        partition_indexes: (0..i32::from(partitions % 4)).collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            }
            Req::DescribeLogDirs { topic, partitions } => {
                let topics = topic.map(|topic| {
                    vec![DescribableLogDirTopic {
                        topic: StrBytes::from_string(topic.name()),
                        partitions: (0..i32::from(partitions % 4)).collect(),
                        ..Default::default()
                    }]
                });
                Request::DescribeLogDirs(DescribeLogDirsRequest { topics, ..Default::default() })
            }
        };
        Some((request, version))
    }

    /// The records field of a structured Produce: v2 batches of unique values, or a legacy
    /// message set. `None` for no batches.
    fn records(
        &mut self,
        tp: &TopicPartition,
        batches: &[BatchSpec],
        legacy: bool,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for spec in batches.iter().take(2) {
            if let Some(producer) = spec.producer.filter(|p| p.sequence == SequenceChoice::Retry) {
                // A retry resends the producer's last batch to this partition, byte for byte.
                let id = self.producer_id(producer.id);
                if let Some(batch) = self.last_batches.get(&(id, tp.clone())) {
                    out.extend_from_slice(batch);
                    continue;
                }
            }
            let count = 1 + usize::from(spec.records % 4);
            let mut keys = Vec::new();
            let mut values = Vec::new();
            for _ in 0..count {
                self.values += 1;
                keys.push(format!("k{}", self.values % 3).into_bytes());
                values.push(format!("v{}", self.values).into_bytes());
            }
            if legacy {
                return Some(legacy_set(&keys, &values, spec.keyed, self.wall_ms()));
            }
            let records: Vec<NewRecord<'_>> = (0..count)
                .map(|index| NewRecord {
                    key: spec.keyed.then_some(keys[index].as_slice()),
                    value: Some(&values[index]),
                    headers: Vec::new(),
                    timestamp_ms: self.wall_ms() + index as i64,
                })
                .collect();
            let options = match spec.producer {
                None => BatchOptions::default(),
                Some(producer) => self.producer_options(tp, producer, count),
            };
            let compression = [
                Compression::None,
                Compression::Gzip,
                Compression::Snappy,
                Compression::Lz4,
                Compression::Zstd,
            ][usize::from(spec.compression % 5)];
            let mut batch = build_batch_compressed(&records, options, compression).ok()?;
            if spec.flag_append_time {
                let (header, records) = batch.split_at_mut(BATCH_HEADER_BYTES);
                let header = header.try_into().expect("split at the header's size");
                set_log_append_time(header, records, self.wall_ms() + 1_000);
            }
            if options.producer_id >= 0 {
                self.last_batches.insert((options.producer_id, tp.clone()), batch.clone());
            }
            out.extend(batch);
        }
        (!out.is_empty()).then_some(out)
    }

    fn producer_options(
        &mut self,
        tp: &TopicPartition,
        spec: ProducerSpec,
        count: usize,
    ) -> BatchOptions {
        let producer_id = self.producer_id(spec.id);
        let next = self.sequences.get(&(producer_id, tp.clone())).copied().unwrap_or(0);
        let base_sequence = match spec.sequence {
            SequenceChoice::Next | SequenceChoice::Retry => next,
            SequenceChoice::Exact(sequence) => i32::from(sequence),
        };
        let following = base_sequence.wrapping_add(count as i32).max(next);
        self.sequences.insert((producer_id, tp.clone()), following);
        BatchOptions { producer_id, producer_epoch: i16::from(spec.epoch % 3), base_sequence }
    }

    /// One handed out by InitProducerId (by index), or 1000 + `id % 2`.
    fn producer_id(&self, id: u8) -> i64 {
        match self.producer_ids.get(usize::from(id)) {
            Some(&known) => known,
            None => 1000 + i64::from(id % 2),
        }
    }
}

fn connection_id(connection: u8) -> ConnectionId {
    ConnectionId(1 + u64::from(connection) % CONNECTIONS)
}

/// The records of a produced records field, in offset order, and its idempotent identity;
/// `None` if the field does not parse (the node must then refuse it) or if the offsets of its
/// records cannot be told from the answer (several batches, one idempotent).
fn produced(records: &Bytes) -> Option<(Vec<Content>, Option<Identity>)> {
    let batches = if is_legacy(records) {
        vec![upconvert(records.clone(), BATCH_DECOMPRESSED_BYTES_MAX).ok()?]
    } else {
        let mut batches = Vec::new();
        let mut at = 0;
        while at < records.len() {
            let header = BatchHeader::parse(&records[at..]).ok()?;
            let batch = records.get(at..at.checked_add(header.size_bytes())?)?;
            validate_deep(batch, BATCH_DECOMPRESSED_BYTES_MAX).ok()?;
            batches.push(batch.to_vec());
            at += header.size_bytes();
        }
        batches
    };
    let mut contents = Vec::new();
    let mut identity = None;
    for batch in &batches {
        let header = BatchHeader::parse(batch).ok()?;
        if header.producer_id >= 0 {
            if batches.len() > 1 {
                // One of several batches may be a retry answered with an older offset: where
                // the others went is not known from the answer.
                return None;
            }
            let first = header.base_sequence;
            let last = increment_sequence(first, header.last_offset_delta);
            identity = Some((header.producer_id, header.producer_epoch, first, last));
        }
        contents.extend(batch_records(&header, batch)?);
    }
    Some((contents, identity))
}

/// Key and value of each record of a batch (decompressed as needed).
fn batch_records(header: &BatchHeader, batch: &[u8]) -> Option<Vec<Content>> {
    let section = records_section(header, batch, BATCH_DECOMPRESSED_BYTES_MAX).ok()?;
    let mut contents = Vec::new();
    for record in Records::new(header, &section) {
        let record = record.ok()?;
        contents.push((
            record.key.map(Bytes::copy_from_slice),
            record.value.map(Bytes::copy_from_slice),
        ));
    }
    Some(contents)
}

/// An uncompressed magic-1 message set.
fn legacy_set(keys: &[Vec<u8>], values: &[Vec<u8>], keyed: bool, timestamp_ms: i64) -> Vec<u8> {
    let mut set = Vec::new();
    for (offset, (key, value)) in keys.iter().zip(values).enumerate() {
        let mut message = vec![0, 0, 0, 0, 1, 0];
        message.extend_from_slice(&timestamp_ms.to_be_bytes());
        if keyed {
            message.extend_from_slice(&(key.len() as i32).to_be_bytes());
            message.extend_from_slice(key);
        } else {
            message.extend_from_slice(&(-1i32).to_be_bytes());
        }
        message.extend_from_slice(&(value.len() as i32).to_be_bytes());
        message.extend_from_slice(value);
        let crc = crate_crc32(&message[4..]);
        message[..4].copy_from_slice(&crc.to_be_bytes());
        set.extend_from_slice(&(offset as i64).to_be_bytes());
        set.extend_from_slice(&(message.len() as i32).to_be_bytes());
        set.extend_from_slice(&message);
    }
    set
}

/// CRC-32 (IEEE), bitwise: legacy sets here are a few dozen bytes.
fn crate_crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { 0xEDB8_8320 ^ (crc >> 1) } else { crc >> 1 };
        }
    }
    !crc
}

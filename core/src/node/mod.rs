//! The broker node: every decision a single Sluice broker makes, as a sans-IO state machine.
//!
//! ```text
//! let (mut node, report) = Node::open(config, storage, seed, now, wall_ms)?;
//! node.handle(now, wall_ms, Input::Request { connection, body });  // a frame, a sync result, a timer
//! while let Some(output) = node.poll_output() { … }                  // responses, syncs, log lines
//! node.poll_timeout()                                                // when to send Input::Timer
//! ```
//! Inputs: request frame bodies (length prefix stripped) per connection, connection closes,
//! completions of the syncs the node asked for, and timer ticks. `now` is a monotonic tick in
//! ms; `wall_ms` is the wall clock, used only for record timestamps and retention.
//! Outputs: whole response frames, connection closes, sync requests (fsync these files, then
//! report `Input::Synced`), and log lines.
//!
//! Rules the node keeps:
//! - Responses leave each connection in request order: a Produce waiting for its fsync holds
//!   back the responses queued after it, as Kafka's one-request-at-a-time channel does.
//! - acks=1 and acks=all are answered only once the batch is synced (group commit: at most one
//!   sync is in flight, and it covers everything appended before it), unless the topic's
//!   `flush.messages` is above 1 (page-cache mode, where acks=1 answers at once).
//! - Consumers read up to the high watermark: the durable offset, or the log end in
//!   page-cache mode. A parked fetch wakes as soon as the high watermark moves.
//! - A failed sync takes the log offline; nothing it covered is ever acknowledged.

mod fetch;
mod frame;
mod groups;
mod handlers;
mod produce;
mod producer_ids;
mod producer_snapshots;
pub mod topics;

use crate::config::BrokerConfig;
use crate::limits::{
    CONNECTIONS_MAX, INFLIGHT_REQUESTS_PER_CONNECTION_MAX, OUTPUTS_QUEUED_MAX, PARKED_FETCHES_MAX,
    PARTITIONS_PER_LOG_DIR_MAX,
};
use crate::log::{LogConfig, LogManager, SyncRequest, TopicPartition};
use crate::prng::Prng;
use crate::producer::ProducerState;
use crate::protocol::api::api_versions::{ApiVersion, ApiVersionsResponse};
use crate::protocol::api::fetch::FetchRequest;
use crate::protocol::api::produce::ProduceResponse;
use crate::protocol::api::{
    decode_request, encode_response, Request, RequestDecodeError, Response,
};
use crate::protocol::wire::{Problem, StrBytes};
use crate::protocol::ErrorCode;
use crate::storage::{Storage, StorageError};
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The leader epoch of every partition of this single node: stamped into each batch it
/// appends, and advertised in Metadata.
pub(crate) const LEADER_EPOCH: i32 = 0;
use topics::{Topic, Topics};

pub use frame::{Frame, SHARED_PART_BYTES_MIN};

/// A client connection, numbered by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Something that happened outside the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A complete request frame (after its 4-byte length) arrived on `connection`.
    Request {
        /// The connection.
        connection: ConnectionId,
        /// Header and body.
        body: Bytes,
    },
    /// The connection closed; its queued responses are dropped.
    Closed {
        /// The connection.
        connection: ConnectionId,
    },
    /// The sync asked for by `Output::Sync { id }` finished.
    Synced {
        /// The sync's id.
        id: u64,
        /// Ok once every file was synced; the first error otherwise.
        result: Result<(), StorageError>,
    },
    /// The deadline from `poll_timeout` passed.
    Timer,
}

/// How loud a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    /// Routine detail.
    Debug,
    /// Normal operation.
    Info,
    /// Bad input or a degraded state.
    Warn,
    /// A failure that lost capability (a log directory went offline).
    Error,
}

/// Something the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Write this response frame (length prefix included) to the connection.
    Send {
        /// The connection.
        connection: ConnectionId,
        /// The frame, as parts to write in order.
        frame: Frame,
    },
    /// Close the connection after writing what was sent before.
    Close {
        /// The connection.
        connection: ConnectionId,
        /// Why, for the log.
        reason: String,
    },
    /// fsync these files (relative to the log directory), then report `Input::Synced { id }`.
    Sync {
        /// Id to report back.
        id: u64,
        /// Paths to sync.
        files: Vec<String>,
    },
    /// A log line.
    Log {
        /// Level.
        level: LogLevel,
        /// Text.
        message: String,
    },
}

/// API versions the broker advertises: only what it serves end to end.
pub const ADVERTISED: &[(i16, i16, i16)] = &[
    (0, 0, 11), // Produce
    (1, 4, 12), // Fetch (13+ needs topic ids in fetch sessions)
    (2, 0, 7),  // ListOffsets
    (3, 0, 12), // Metadata
    (8, 2, 9),  // OffsetCommit
    (9, 1, 9),  // OffsetFetch
    (10, 0, 6), // FindCoordinator
    (11, 0, 7), // JoinGroup
    (12, 0, 4), // Heartbeat
    (13, 0, 5), // LeaveGroup
    (14, 0, 5), // SyncGroup
    (15, 0, 5), // DescribeGroups
    (16, 0, 5), // ListGroups
    (18, 0, 4), // ApiVersions
    (19, 0, 7), // CreateTopics
    (20, 0, 6), // DeleteTopics
    (21, 0, 2), // DeleteRecords
    (22, 0, 4), // InitProducerId (idempotence; transactions are refused)
    (23, 0, 4), // OffsetForLeaderEpoch
    (32, 0, 4), // DescribeConfigs
    (33, 0, 2), // AlterConfigs
    (35, 0, 4), // DescribeLogDirs
    (37, 0, 3), // CreatePartitions
    (42, 0, 2), // DeleteGroups
    (44, 0, 1), // IncrementalAlterConfigs
    (47, 0, 0), // OffsetDelete
    (60, 0, 1), // DescribeCluster
    (61, 0, 0), // DescribeProducers
];

/// Whether the broker serves API `key` at `version`.
pub fn advertised(key: i16, version: i16) -> bool {
    ADVERTISED.iter().any(|&(known, min, max)| known == key && (min..=max).contains(&version))
}

/// What opening the node found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Whether the previous stop was clean (no recovery scan).
    pub clean_shutdown: bool,
    /// Topics loaded.
    pub topics: usize,
    /// Partitions whose recovery truncated bytes, with the reason.
    pub truncated: Vec<(TopicPartition, String)>,
}

/// Sizes of the node's queues, for the simulator's memory-bound checker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeStats {
    /// Connections with state.
    pub connections: usize,
    /// Requests queued on the busiest connection.
    pub slots_per_connection_max: usize,
    /// Produce requests waiting for a sync.
    pub pending_produces: usize,
    /// Fetches waiting for data.
    pub parked_fetches: usize,
    /// Outputs not yet polled.
    pub queued_outputs: usize,
    /// Times a `__consumer_offsets` partition's groups and offsets were loaded again from its
    /// log after group records failed to be stored: a group can then be back at the last
    /// generation its log holds, as after a restart.
    pub offsets_reloads: u64,
}

/// A request the node answered or will answer, by connection and arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RequestRef {
    connection: ConnectionId,
    sequence: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SlotState {
    Waiting,
    Ready(Frame),
    Silent,
    /// Close the connection once every earlier answer is out.
    Close(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Slot {
    sequence: u64,
    state: SlotState,
}

/// What a handler decided.
pub(crate) enum Reply {
    /// Answer now.
    Now(Response),
    /// The handler registered the request; it will be answered later.
    Later,
    /// No answer at all (Produce with acks=0).
    Silent,
    /// No answer, and the connection closes after the earlier answers (a failed Produce
    /// with acks=0).
    Close(String),
}

struct PendingProduce {
    request: RequestRef,
    correlation_id: i32,
    version: i16,
    response: ProduceResponse,
    /// (partition, offset that must be durable, index of the topic, index of the partition)
    waits: Vec<(TopicPartition, i64, usize, usize)>,
}

struct ParkedFetch {
    request: RequestRef,
    correlation_id: i32,
    version: i16,
    fetch: FetchRequest,
    deadline: u64,
    /// Per partition of the request, in its order: the offset up to which readable bytes
    /// were counted, and how many, so that a wake-up reads only what became readable since
    /// (Kafka estimates a held fetch's size from log positions): a fetch that waits for
    /// `min_bytes` is not read whole again at every sync.
    counted: Vec<(i64, usize)>,
}

struct InFlightSync {
    id: u64,
    requests: Vec<(TopicPartition, SyncRequest)>,
}

/// One broker. See the module docs.
pub struct Node<S: Storage> {
    config: BrokerConfig,
    storage: S,
    logs: LogManager,
    topics: Topics,
    connections: BTreeMap<ConnectionId, VecDeque<Slot>>,
    pending_produces: Vec<PendingProduce>,
    parked_fetches: Vec<ParkedFetch>,
    sync_in_flight: Option<InFlightSync>,
    sync_everything: bool,
    /// Partitions of page-cache topics (`flush.messages` > 1) to sync at the next chance:
    /// an acks=all produce or a group answer waits for them, or they hold `flush.messages`
    /// unsynced records. (Other page-cache data waits for the periodic checkpoint.)
    sync_due: BTreeSet<TopicPartition>,
    next_sync_id: u64,
    next_sequence: u64,
    now: u64,
    wall_ms: i64,
    /// `now` and `wall_ms` when the node opened: see [`Node::deletion_wall_ms`].
    opened_at: (u64, i64),
    next_checkpoint_at: u64,
    /// When page-cache logs are next checked against their `flush.ms`
    /// (`log.flush.scheduler.interval.ms`).
    next_flush_check_at: u64,
    /// For each partition of a page-cache topic: when its last sync completed, or when its
    /// first record since the node opened was appended. Entries go with their topic.
    flushed_at: BTreeMap<TopicPartition, u64>,
    next_retention_at: u64,
    /// When the next log-compaction pass runs (`log.cleaner.backoff.ms`).
    next_cleaner_at: u64,
    /// When committed offsets are next checked for expiry
    /// (`offsets.retention.check.interval.ms`).
    next_offsets_expiry_at: u64,
    /// When expired idempotent producers are next forgotten
    /// (`producer.id.expiration.check.interval.ms`).
    next_producer_expiry_at: u64,
    /// When to save the topic registry again, set while the file on disk may hold a change
    /// the broker undid: a failed save was undone in memory, and the save meant to put the
    /// file back failed too. Any later save that succeeds clears it.
    registry_retry_at: Option<u64>,
    /// A compaction step is due: a pass is due or has steps left. It waits for the sync in
    /// flight: a pass replaces segment files, and must not remove index files that sync is
    /// about to flush.
    cleaner_pending: bool,
    /// The partitions whose passes this round of the cleaner (one per
    /// `log.cleaner.backoff.ms`) has still to run or finish; `None` between rounds. A pass
    /// that fails or ends waits for the next round, as it did before passes had steps.
    cleaner_round: Option<VecDeque<TopicPartition>>,
    outputs: VecDeque<Output>,
    /// Responses are encoded here and split off: a buffer that every earlier frame has been
    /// dropped from is reused, so answering does not allocate (or page-fault) per response.
    frames: BytesMut,
    prng: Prng,
    producers: BTreeMap<TopicPartition, ProducerState>,
    producer_ids: producer_ids::ProducerIds,
    /// Bumped whenever a high watermark may have moved (a sync completed, or a page-cache
    /// append); waiting requests are re-examined only then, or when a deadline passes.
    visibility_changes: u64,
    visibility_seen: u64,
    /// See [`NodeStats::offsets_reloads`].
    offsets_reloads: u64,
    groups: crate::group::GroupCoordinator<groups::GroupWaiter>,
    pending_durable: Vec<groups::PendingDurable>,
    /// Per `__consumer_offsets` partition, the offset after the last group records appended:
    /// a group answer waits until everything appended before it is durable, so no answer
    /// rests on a record a crash could still lose.
    group_writes: BTreeMap<TopicPartition, i64>,
    /// Deleted topics whose offset tombstones could not be synced: no topic of these names
    /// may be made until they are (see `Node::offsets_removed`).
    offsets_unsynced: BTreeSet<String>,
}

impl<S: Storage> Node<S> {
    /// Opens the node's log directory (recovering after an unclean stop) and its topics.
    /// On failure the storage comes back with the reason, so a supervisor (the simulator, or
    /// an operator fixing a full disk) can retry with the same data.
    pub fn open(
        config: BrokerConfig,
        mut storage: S,
        seed: u64,
        now: u64,
        wall_ms: i64,
    ) -> Result<(Self, OpenReport), (String, S)> {
        let group_config = config.group.clone();
        let mut topics = match Topics::load(&mut storage, &config.topic_defaults) {
            Ok(topics) => topics,
            Err(error) => {
                return Err((format!("cannot read the topic registry: {error:?}"), storage))
            }
        };
        let configs: BTreeMap<String, LogConfig> =
            topics.iter().map(|topic| (topic.name.clone(), topic.config.log)).collect();
        let opened = LogManager::open(&mut storage, config.topic_defaults.log, &configs, wall_ms);
        let (logs, manager_report) = match opened {
            Ok(opened) => opened,
            Err(error) => return Err((format!("cannot open the log directory: {error}"), storage)),
        };
        let mut report =
            OpenReport { clean_shutdown: manager_report.clean_shutdown, ..Default::default() };
        for (partition, recovery) in &manager_report.partitions {
            if let Some(reason) = &recovery.truncation_reason {
                report.truncated.push((partition.clone(), reason.clone()));
            }
        }
        let mut node = Self {
            next_checkpoint_at: now + config.log_flush_offset_checkpoint_interval_ms.max(1) as u64,
            next_flush_check_at: now
                .saturating_add(config.log_flush_scheduler_interval_ms.max(1).unsigned_abs()),
            flushed_at: BTreeMap::new(),
            next_retention_at: now + config.log_retention_check_interval_ms.max(1) as u64,
            next_cleaner_at: now + config.log_cleaner_backoff_ms.max(1) as u64,
            cleaner_pending: false,
            cleaner_round: None,
            next_offsets_expiry_at: now + config.group.offsets_retention_check_interval_ms.max(1),
            next_producer_expiry_at: now
                + config.producer_id_expiration_check_interval_ms.max(1).unsigned_abs() as u64,
            registry_retry_at: None,
            config,
            storage,
            logs,
            topics: Topics::default(),
            connections: BTreeMap::new(),
            pending_produces: Vec::new(),
            parked_fetches: Vec::new(),
            sync_in_flight: None,
            sync_everything: false,
            sync_due: BTreeSet::new(),
            next_sync_id: 1,
            next_sequence: 1,
            now,
            wall_ms,
            opened_at: (now, wall_ms),
            outputs: VecDeque::new(),
            frames: BytesMut::new(),
            prng: Prng::new(seed),
            producers: BTreeMap::new(),
            producer_ids: producer_ids::ProducerIds::default(),
            visibility_changes: 0,
            visibility_seen: 0,
            offsets_reloads: 0,
            groups: crate::group::GroupCoordinator::new(group_config),
            pending_durable: Vec::new(),
            group_writes: BTreeMap::new(),
            offsets_unsynced: BTreeSet::new(),
        };
        if let Err(error) = node.finish_open(&mut topics) {
            return Err((error, node.storage));
        }
        report.topics = node.topics.len();
        Ok((node, report))
    }

    fn finish_open(&mut self, topics: &mut Topics) -> Result<(), String> {
        self.producer_ids = producer_ids::ProducerIds::open(&mut self.storage)
            .map_err(|error| format!("cannot read the producer id block: {error}"))?;
        self.remove_deleted_topics(topics);
        self.adopt_stray_partitions(topics);
        self.topics = std::mem::take(topics);
        self.ensure_partition_logs()
            .map_err(|error| format!("cannot create partition logs: {error}"))?;
        self.topics
            .save(&mut self.storage)
            .map_err(|error| format!("cannot write the topic registry: {error}"))?;
        self.rebuild_producer_state()
            .map_err(|error| format!("cannot rebuild producer state: {error}"))?;
        // offsets.topic.num.partitions applies when the topic is made; an existing topic
        // keeps its count, as in Kafka, or groups would look for their records elsewhere.
        let offsets_topic = self.topics.get(groups::OFFSETS_TOPIC).map(|topic| topic.partitions);
        let configured = self.groups.config().offsets_topic_partitions;
        if let Some(partitions) = offsets_topic.filter(|&partitions| partitions != configured) {
            self.log(
                LogLevel::Warn,
                format!(
                    "{} has {partitions} partitions, not offsets.topic.num.partitions={configured}: groups stay where they are",
                    groups::OFFSETS_TOPIC
                ),
            );
            self.groups.set_offsets_topic_partitions(partitions);
        }
        // Member ids of this incarnation differ from any an earlier one handed out.
        let nonce = self.prng.next_u64();
        self.groups.set_member_id_nonce(nonce);
        self.replay_groups().map_err(|error| format!("cannot reload consumer groups: {error}"))
    }

    /// Removes the partitions of topics whose deletion was saved but whose files remained (the
    /// broker stopped, or a removal failed, before they were gone), so that they are not
    /// adopted as strays. A topic whose files still cannot all be removed stays noted.
    fn remove_deleted_topics(&mut self, topics: &mut Topics) {
        let noted: Vec<(String, i32)> =
            topics.deleted().map(|(name, partitions)| (name.to_string(), partitions)).collect();
        for (name, partitions) in noted {
            if topics.get(&name).is_some() {
                // Never written so (creation removes the note); the live topic wins.
                topics.forget_deleted(&name);
                continue;
            }
            let mut removed = true;
            for index in 0..partitions {
                let partition = TopicPartition::new(&name, index);
                if let Err(error) = self.logs.delete_log(&mut self.storage, &partition) {
                    self.log(
                        LogLevel::Warn,
                        format!("cannot remove {partition} of deleted topic {name}: {error}"),
                    );
                    removed = false;
                }
            }
            if removed {
                topics.forget_deleted(&name);
            }
        }
    }

    /// Partition directories with no registry entry (a crash between creating a topic's or
    /// new partitions' logs and saving the registry) are adopted if they hold records (a
    /// new topic with default settings, or a higher partition count), so data is never
    /// dropped; empty ones are what a failed creation left, and are removed.
    fn adopt_stray_partitions(&mut self, topics: &mut Topics) {
        let strays: Vec<TopicPartition> = self
            .logs
            .partitions()
            .filter(|partition| {
                topics
                    .get(&partition.topic)
                    .is_none_or(|topic| partition.partition >= topic.partitions)
            })
            .cloned()
            .collect();
        let mut adopted: BTreeMap<String, i32> = BTreeMap::new();
        for partition in strays {
            let holds_records =
                self.logs.log(&partition).is_some_and(|log| log.log_end_offset() > 0);
            if holds_records {
                let count = adopted.entry(partition.topic.clone()).or_insert(0);
                *count = (*count).max(partition.partition + 1);
            } else if let Err(error) = self.logs.delete_log(&mut self.storage, &partition) {
                self.log(
                    LogLevel::Warn,
                    format!("cannot remove empty stray partition {partition}: {error}"),
                );
            }
        }
        for (name, partitions) in adopted {
            self.log(
                LogLevel::Warn,
                format!("adopting stray partitions of topic {name} ({partitions})"),
            );
            if let Some(topic) = topics.get_mut(&name) {
                topic.partitions = partitions;
                continue;
            }
            let id = self.new_topic_id();
            let config = self.config.topic_defaults.clone();
            topics.insert(Topic { name, id, partitions, config });
        }
    }

    fn ensure_partition_logs(&mut self) -> Result<(), crate::log::LogError> {
        let wanted: Vec<(TopicPartition, LogConfig)> = self
            .topics
            .iter()
            .flat_map(|topic| {
                (0..topic.partitions)
                    .map(move |index| (TopicPartition::new(&topic.name, index), topic.config.log))
            })
            .collect();
        for (partition, log_config) in wanted {
            if self.logs.log(&partition).is_none() {
                self.logs.create_log(&mut self.storage, &partition, log_config, self.wall_ms)?;
            }
        }
        Ok(())
    }

    fn new_topic_id(&mut self) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.prng.next_u64().to_be_bytes());
        id[8..].copy_from_slice(&self.prng.next_u64().to_be_bytes());
        id[0] |= 1; // never the all-zero id, which means "no id"
        id
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The storage, for the driver (the simulator syncs its in-memory disk through it).
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// The partition logs (for checkers and tests).
    pub fn logs(&self) -> &LogManager {
        &self.logs
    }

    /// Sizes of the node's queues.
    pub fn stats(&self) -> NodeStats {
        NodeStats {
            connections: self.connections.len(),
            slots_per_connection_max: self
                .connections
                .values()
                .map(VecDeque::len)
                .max()
                .unwrap_or(0),
            pending_produces: self.pending_produces.len(),
            parked_fetches: self.parked_fetches.len(),
            queued_outputs: self.outputs.len(),
            offsets_reloads: self.offsets_reloads,
        }
    }

    /// Requests of `connection` the node holds: not answered yet, or answered behind an
    /// earlier one that is not (answers leave in request order). The server mutes a connection
    /// on this plus the answers it has not yet written.
    pub fn requests_held(&self, connection: ConnectionId) -> usize {
        self.connections.get(&connection).map_or(0, VecDeque::len)
    }

    /// The topics (for checkers and tests).
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Feeds one input. `now` never goes backwards.
    pub fn handle(&mut self, now: u64, wall_ms: i64, input: Input) {
        assert!(now >= self.now, "time went backwards: {now} < {}", self.now);
        self.now = now;
        self.wall_ms = wall_ms;
        // Group state changes are stamped with the clock offset expiry reads.
        self.groups.set_wall_clock(self.deletion_wall_ms());
        match input {
            Input::Request { connection, body } => self.on_request(connection, body),
            Input::Closed { connection } => self.on_closed(connection),
            Input::Synced { id, result } => self.on_synced(id, result),
            Input::Timer => self.on_timer(),
        }
        self.progress();
        self.maybe_start_sync();
        assert!(self.outputs.len() <= OUTPUTS_QUEUED_MAX, "the driver must drain poll_output");
    }

    /// The next thing the driver must do. Call until `None` after every `handle`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to feed `Input::Timer` next.
    pub fn poll_timeout(&self) -> Option<u64> {
        let parked = self.parked_fetches.iter().map(|fetch| fetch.deadline).min();
        let mut periodic =
            self.next_checkpoint_at.min(self.next_retention_at).min(self.next_flush_check_at);
        if self.config.log_cleaner_enable {
            periodic = periodic.min(self.next_cleaner_at);
        }
        if self.cleaner_pending && self.sync_in_flight.is_none() {
            // A compaction pass has steps left (or waited for a sync that has completed).
            periodic = periodic.min(self.now);
        }
        periodic = periodic.min(self.next_offsets_expiry_at).min(self.next_producer_expiry_at);
        if let Some(retry_at) = self.registry_retry_at {
            periodic = periodic.min(retry_at);
        }
        if let Some(group_deadline) = self.groups.poll_timeout() {
            periodic = periodic.min(group_deadline.max(self.now));
        }
        Some(parked.map_or(periodic, |deadline| deadline.min(periodic)))
    }

    /// Whether a sync is in flight or responses are still waiting: a clean shutdown waits
    /// until this is false (feeding sync completions) before calling `close`.
    pub fn is_busy(&self) -> bool {
        self.sync_in_flight.is_some()
            || !self.pending_produces.is_empty()
            || !self.pending_durable.is_empty()
    }

    /// Clean shutdown: answers parked fetches with what they have, syncs every log, writes the
    /// checkpoints and the clean-shutdown marker. The node must not be used afterwards.
    pub fn close(&mut self) -> Result<(), String> {
        for fetch in std::mem::take(&mut self.parked_fetches) {
            let response = self.fetch_response(fetch.version, &fetch.fetch).0;
            self.complete(
                fetch.request,
                fetch.correlation_id,
                fetch.version,
                Response::Fetch(response),
            );
        }
        self.write_producer_snapshots(false);
        // A registry that may hold a change the broker undid is put right before the marker
        // of a clean shutdown is written; if it cannot be, the shutdown is not clean.
        if self.registry_retry_at.is_some() {
            self.topics.save(&mut self.storage).map_err(|error| {
                format!(
                    "cannot save the topic registry, which may hold a change that failed: {error}"
                )
            })?;
            self.registry_retry_at = None;
        }
        self.logs.close(&mut self.storage).map_err(|error| error.to_string())
    }

    /// The wall clock that time-based deletion reads (`retention.ms`, `delete.retention.ms`,
    /// `offsets.retention.minutes` of standalone consumers): the wall clock, but never ahead of
    /// its reading at open plus the monotonic time since. A forward jump of the wall clock
    /// (FAULTS 15) thus never deletes anything early; a backward one only delays deletion. A
    /// jump made while the broker was down is believed: nothing can tell it from downtime.
    fn deletion_wall_ms(&self) -> i64 {
        let (opened_now, opened_wall_ms) = self.opened_at;
        let elapsed = i64::try_from(self.now - opened_now).unwrap_or(i64::MAX);
        self.wall_ms.min(opened_wall_ms.saturating_add(elapsed))
    }

    /// Forgets, in every partition, the idempotent producers whose last batch is
    /// `producer.id.expiration.ms` old by the deletion clock (so a forward jump of the wall
    /// clock forgets none early), as Kafka forgets them. Snapshots written later leave them
    /// out; one already written keeps them until then, and they are forgotten again after a
    /// restart ([`Node::rebuild_producer_state`] applies the same rule).
    fn expire_producers(&mut self) {
        let (wall_ms, expiration_ms) =
            (self.deletion_wall_ms(), i64::from(self.config.producer_id_expiration_ms));
        let mut forgotten = 0;
        for state in self.producers.values_mut() {
            forgotten += state.remove_expired(wall_ms, expiration_ms);
        }
        self.producers.retain(|_, state| !state.is_empty());
        if forgotten > 0 {
            self.log(LogLevel::Info, format!("forgot {forgotten} expired idempotent producers"));
        }
    }

    /// Deletes the segments retention no longer keeps, each log's producer state made durable
    /// first (a log whose state cannot be keeps its segments until the next check).
    fn apply_retention(&mut self) {
        let mut deleted = 0;
        let wall_ms = self.deletion_wall_ms();
        for (partition, new_start) in self.logs.retention_due(wall_ms) {
            let outcome = self.secure_producer_state(&partition, new_start).and_then(|()| {
                self.logs.apply_retention_to(&mut self.storage, &partition, wall_ms)
            });
            match outcome {
                Ok(count) => deleted += count,
                Err(error) => {
                    // The log may have gone offline: produces waiting on it fail now.
                    self.visibility_changes += 1;
                    self.log(LogLevel::Error, format!("{partition}: retention failed: {error}"))
                }
            }
        }
        if deleted > 0 {
            self.log(LogLevel::Info, format!("retention deleted {deleted} segments"));
            if let Err(error) = self.logs.checkpoint(&mut self.storage) {
                self.log(LogLevel::Error, format!("cannot write checkpoints: {error}"));
            }
        }
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.outputs.push_back(Output::Log { level, message });
    }

    fn close_connection(&mut self, connection: ConnectionId, reason: String) {
        self.log(LogLevel::Warn, format!("closing connection {}: {reason}", connection.0));
        self.on_closed(connection);
        self.outputs.push_back(Output::Close { connection, reason });
    }

    fn on_closed(&mut self, connection: ConnectionId) {
        self.connections.remove(&connection);
        self.pending_produces.retain(|pending| pending.request.connection != connection);
        self.parked_fetches.retain(|fetch| fetch.request.connection != connection);
    }

    fn on_request(&mut self, connection: ConnectionId, body: Bytes) {
        if !self.connections.contains_key(&connection) && self.connections.len() >= CONNECTIONS_MAX
        {
            self.outputs
                .push_back(Output::Close { connection, reason: "too many connections".into() });
            return;
        }
        let queued = self.connections.entry(connection).or_default().len();
        if queued >= INFLIGHT_REQUESTS_PER_CONNECTION_MAX {
            self.close_connection(connection, format!("more than {queued} requests in flight"));
            return;
        }
        let decoded = match decode_request(body) {
            Ok(decoded) => decoded,
            Err(error) => return self.on_undecodable(connection, error),
        };
        let key = decoded.header.api_key;
        let version = decoded.header.api_version;
        let correlation_id = decoded.header.correlation_id;
        if !advertised(key, version) {
            let name = crate::protocol::api::api_info(key).map_or("unknown", |info| info.name);
            self.close_connection(
                connection,
                format!("{name} (key {key}) v{version} is not served by this broker"),
            );
            return;
        }
        if decoded.trailing_bytes > 0 {
            let message = format!(
                "ignoring {} bytes after a key {key} v{version} request",
                decoded.trailing_bytes
            );
            self.log(LogLevel::Debug, message);
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let slots = self.connections.get_mut(&connection).expect("inserted above");
        slots.push_back(Slot { sequence, state: SlotState::Waiting });
        let request = RequestRef { connection, sequence };
        let client_id = decoded.header.client_id;
        match self.dispatch(request, correlation_id, version, client_id, decoded.request) {
            Reply::Now(response) => self.complete(request, correlation_id, version, response),
            Reply::Silent => self.fill(request, SlotState::Silent),
            Reply::Close(reason) => self.fill(request, SlotState::Close(reason)),
            Reply::Later => {}
        }
    }

    /// A request that could not be decoded: ApiVersions of an unknown version gets the v0
    /// answer KIP-511 prescribes; anything else is logged and the connection closed.
    fn on_undecodable(&mut self, connection: ConnectionId, error: RequestDecodeError) {
        if let Some(header) = &error.header {
            if header.api_key == 18 && error.error.problem == Problem::UnsupportedVersion {
                let response = ApiVersionsResponse {
                    error_code: ErrorCode::UnsupportedVersion.code(),
                    api_keys: advertised_api_keys(),
                    ..Default::default()
                };
                let sequence = self.next_sequence;
                self.next_sequence += 1;
                let slots = self.connections.entry(connection).or_default();
                slots.push_back(Slot { sequence, state: SlotState::Waiting });
                let request = RequestRef { connection, sequence };
                self.complete(request, header.correlation_id, 0, Response::ApiVersions(response));
                return;
            }
        }
        self.close_connection(connection, format!("undecodable request: {}", error.error));
    }

    fn dispatch(
        &mut self,
        request: RequestRef,
        correlation_id: i32,
        version: i16,
        client_id: Option<StrBytes>,
        body: Request,
    ) -> Reply {
        match body {
            Request::FindCoordinator(_)
            | Request::JoinGroup(_)
            | Request::SyncGroup(_)
            | Request::Heartbeat(_)
            | Request::LeaveGroup(_)
            | Request::OffsetCommit(_)
            | Request::OffsetFetch(_)
            | Request::ListGroups(_)
            | Request::DescribeGroups(_)
            | Request::DeleteGroups(_)
            | Request::OffsetDelete(_) => {
                // Only JoinGroup keeps it (in member ids): an owned copy for the group alone.
                let client_id = client_id.as_ref().map_or(String::new(), |id| id.as_str().into());
                self.handle_group(request, correlation_id, version, client_id, body)
            }
            Request::ApiVersions(_) => Reply::Now(Response::ApiVersions(ApiVersionsResponse {
                api_keys: advertised_api_keys(),
                ..Default::default()
            })),
            Request::Metadata(body) => {
                Reply::Now(Response::Metadata(self.handle_metadata(version, body)))
            }
            Request::Produce(body) => self.handle_produce(request, correlation_id, version, body),
            Request::Fetch(body) => self.handle_fetch(request, correlation_id, version, body),
            Request::ListOffsets(body) => {
                Reply::Now(Response::ListOffsets(self.handle_list_offsets(version, body)))
            }
            Request::CreateTopics(body) => {
                Reply::Now(Response::CreateTopics(self.handle_create_topics(version, body)))
            }
            Request::DeleteTopics(body) => {
                Reply::Now(Response::DeleteTopics(self.handle_delete_topics(version, body)))
            }
            Request::CreatePartitions(body) => {
                Reply::Now(Response::CreatePartitions(self.handle_create_partitions(body)))
            }
            Request::DeleteRecords(body) => {
                Reply::Now(Response::DeleteRecords(self.handle_delete_records(body)))
            }
            Request::OffsetForLeaderEpoch(body) => Reply::Now(Response::OffsetForLeaderEpoch(
                self.handle_offset_for_leader_epoch(body),
            )),
            Request::DescribeLogDirs(body) => {
                Reply::Now(Response::DescribeLogDirs(self.handle_describe_log_dirs(body)))
            }
            Request::DescribeProducers(body) => {
                // Each partition named gets an answer of its own, some 20 times the 4 bytes
                // naming it: a request naming more than a broker can hold is refused whole.
                let named: usize = body.topics.iter().map(|t| t.partition_indexes.len()).sum();
                if named > PARTITIONS_PER_LOG_DIR_MAX {
                    let reason = format!(
                        "DescribeProducers names {named} partitions, more than the \
                         {PARTITIONS_PER_LOG_DIR_MAX} a broker holds"
                    );
                    return Reply::Close(reason);
                }
                Reply::Now(Response::DescribeProducers(self.handle_describe_producers(body)))
            }
            Request::DescribeCluster(_) => {
                Reply::Now(Response::DescribeCluster(self.handle_describe_cluster()))
            }
            Request::InitProducerId(body) => {
                Reply::Now(Response::InitProducerId(self.handle_init_producer_id(body)))
            }
            Request::DescribeConfigs(body) => {
                Reply::Now(Response::DescribeConfigs(self.handle_describe_configs(version, body)))
            }
            Request::AlterConfigs(body) => {
                Reply::Now(Response::AlterConfigs(self.handle_alter_configs(body)))
            }
            Request::IncrementalAlterConfigs(body) => Reply::Now(
                Response::IncrementalAlterConfigs(self.handle_incremental_alter_configs(body)),
            ),
            other => unreachable!("key {} is advertised but not dispatched", other.api_key()),
        }
    }

    /// Encodes `response` into the request's slot and sends whatever is ready in order.
    fn complete(
        &mut self,
        request: RequestRef,
        correlation_id: i32,
        version: i16,
        response: Response,
    ) {
        self.frames.clear();
        let mut sink = frame::FrameSink::new(&mut self.frames);
        encode_response(correlation_id, version, &response, &mut sink);
        let mut frame = sink.finish();
        if matches!(response, Response::Fetch(_)) {
            frame = frame.answering_fetch();
        }
        self.fill(request, SlotState::Ready(frame));
    }

    fn fill(&mut self, request: RequestRef, state: SlotState) {
        let Some(slots) = self.connections.get_mut(&request.connection) else { return };
        if let Some(slot) = slots.iter_mut().find(|slot| slot.sequence == request.sequence) {
            assert_eq!(slot.state, SlotState::Waiting, "a request is answered once");
            slot.state = state;
        }
        let mut close = None;
        while slots.front().is_some_and(|front| !matches!(front.state, SlotState::Waiting)) {
            let slot = slots.pop_front().expect("a front slot");
            match slot.state {
                SlotState::Ready(frame) => {
                    self.outputs.push_back(Output::Send { connection: request.connection, frame })
                }
                SlotState::Close(reason) => {
                    close = Some(reason);
                    break;
                }
                SlotState::Waiting | SlotState::Silent => {}
            }
        }
        if let Some(reason) = close {
            self.close_connection(request.connection, reason);
        }
    }

    /// The high watermark of a partition: what consumers may read. The durable offset, or the
    /// log end in page-cache mode (`flush.messages` > 1).
    pub fn high_watermark(&self, partition: &TopicPartition) -> Option<i64> {
        let log = self.logs.log(partition)?;
        let page_cache =
            self.topics.get(&partition.topic).is_some_and(|topic| topic.config.flush_messages > 1);
        Some(if page_cache { log.log_end_offset() } else { log.recovery_point() })
    }

    /// Marks a partition of a page-cache topic (`flush.messages` > 1) for the next sync if
    /// `waited` (someone waits for its data to be durable) or it holds `flush.messages`
    /// unsynced records, as Kafka flushes. Other topics sync everything anyway.
    fn note_page_cache_append(&mut self, partition: &TopicPartition, waited: bool) {
        let Some(flush_messages) = self
            .topics
            .get(&partition.topic)
            .map(|topic| topic.config.flush_messages)
            .filter(|&flush_messages| flush_messages > 1)
        else {
            return;
        };
        let now = self.now;
        self.flushed_at.entry(partition.clone()).or_insert(now);
        let unsynced =
            self.logs.log(partition).map_or(0, |log| log.log_end_offset() - log.recovery_point());
        if waited || unsynced >= flush_messages {
            self.sync_due.insert(partition.clone());
        }
    }

    /// Kafka's log flusher: marks for the next sync each partition of a page-cache topic that
    /// holds unsynced records and whose last sync completed `flush.ms` ago or more (or, with
    /// none since the node opened, whose first append since was that long ago).
    fn mark_stale_page_cache_logs(&mut self) {
        let (topics, logs) = (&self.topics, &self.logs);
        self.flushed_at.retain(|partition, _| logs.log(partition).is_some());
        for (partition, &since) in &self.flushed_at {
            let Some(config) = topics.get(&partition.topic).map(|topic| &topic.config) else {
                continue;
            };
            if config.flush_messages <= 1 || config.flush_ms == i64::MAX {
                continue;
            }
            let log = self.logs.log(partition).expect("kept above");
            let stale = self.now.saturating_sub(since) >= config.flush_ms.unsigned_abs();
            if stale && log.log_end_offset() > log.recovery_point() {
                self.sync_due.insert(partition.clone());
            }
        }
    }

    /// Starts a sync if none is in flight and some log has data that must become durable.
    fn maybe_start_sync(&mut self) {
        if self.sync_in_flight.is_some() {
            return;
        }
        // Page-cache topics (flush.messages > 1) sync with the periodic checkpoint, and where
        // due (`sync_due`).
        let (topics, everything) = (&self.topics, self.sync_everything);
        let mut requests = self.logs.sync_requests_where(|topic| {
            everything || topics.get(topic).is_none_or(|topic| topic.config.flush_messages <= 1)
        });
        let due = std::mem::take(&mut self.sync_due);
        if !everything {
            for partition in due {
                if let Some(request) =
                    self.logs.log_mut(&partition).and_then(|log| log.sync_request())
                {
                    requests.push((partition, request));
                }
            }
        }
        self.sync_everything = false;
        if requests.is_empty() {
            return;
        }
        let mut files: Vec<String> =
            requests.iter().flat_map(|(_, request)| request.files.clone()).collect();
        files.sort();
        files.dedup();
        let id = self.next_sync_id;
        self.next_sync_id += 1;
        self.sync_in_flight = Some(InFlightSync { id, requests });
        self.outputs.push_back(Output::Sync { id, files });
    }

    /// Drops a deleted topic's partitions from the sync in flight: its completion must not be
    /// applied to a log re-created under the same name.
    fn forget_in_flight_syncs(&mut self, topic: &str) {
        self.flushed_at.retain(|partition, _| partition.topic != topic);
        if let Some(in_flight) = self.sync_in_flight.as_mut() {
            in_flight.requests.retain(|(partition, _)| partition.topic != topic);
        }
    }

    fn on_synced(&mut self, id: u64, result: Result<(), StorageError>) {
        let Some(in_flight) = self.sync_in_flight.take() else {
            self.log(LogLevel::Warn, format!("sync {id} completed but none was in flight"));
            return;
        };
        assert_eq!(in_flight.id, id, "sync completions arrive in order, one at a time");
        if let Err(error) = &result {
            let message = format!("fsync failed, taking the affected logs offline: {error}");
            self.log(LogLevel::Error, message);
        }
        self.visibility_changes += 1;
        for (partition, request) in in_flight.requests {
            if let Some(log) = self.logs.log_mut(&partition) {
                // An error takes the log offline; the pending produces then fail below.
                let _ = log.sync_completed(request, result.clone());
                if let Some(at) = self.flushed_at.get_mut(&partition).filter(|_| result.is_ok()) {
                    *at = self.now;
                }
            }
        }
        self.run_cleaner_if_pending();
    }

    fn on_timer(&mut self) {
        if self.groups.poll_timeout().is_some_and(|deadline| deadline <= self.now) {
            self.groups.handle_timeout(self.now);
            self.flush_groups(None);
        }
        if self.now >= self.next_checkpoint_at {
            self.next_checkpoint_at =
                self.now + self.config.log_flush_offset_checkpoint_interval_ms.max(1) as u64;
            self.sync_everything = true;
            if let Err(error) = self.logs.checkpoint(&mut self.storage) {
                self.log(LogLevel::Error, format!("cannot write checkpoints: {error}"));
            }
            self.write_producer_snapshots(true);
        }
        if self.now >= self.next_flush_check_at {
            let interval = self.config.log_flush_scheduler_interval_ms.max(1).unsigned_abs();
            self.next_flush_check_at = self.now.saturating_add(interval);
            self.mark_stale_page_cache_logs();
        }
        if self.now >= self.next_retention_at {
            self.next_retention_at =
                self.now + self.config.log_retention_check_interval_ms.max(1) as u64;
            self.apply_retention();
        }
        if self.now >= self.next_offsets_expiry_at {
            let interval = self.config.group.offsets_retention_check_interval_ms.max(1);
            self.next_offsets_expiry_at = self.now + interval;
            let expired = self.groups.expire_offsets(self.now, self.deletion_wall_ms());
            if expired > 0 {
                self.log(LogLevel::Info, format!("expired {expired} committed offsets"));
            }
            self.flush_groups(None);
        }
        if self.now >= self.next_producer_expiry_at {
            let interval = self.config.producer_id_expiration_check_interval_ms.max(1);
            self.next_producer_expiry_at = self.now + interval.unsigned_abs() as u64;
            self.expire_producers();
        }
        if self.registry_retry_at.is_some_and(|retry_at| self.now >= retry_at) {
            self.retry_registry_save();
        }
        if self.config.log_cleaner_enable && self.now >= self.next_cleaner_at {
            self.next_cleaner_at = self.now + self.config.log_cleaner_backoff_ms.max(1) as u64;
            self.cleaner_pending = true;
        }
        self.run_cleaner_if_pending();
    }

    /// Runs the passes of the cleaner's round a step further unless a sync is in flight (then
    /// `on_synced` runs them): together they read at most `log.cleaner.step.bytes` (at least
    /// one batch). When work is left, the next step is due at once (`poll_timeout`), so
    /// requests and sync completions are handled between steps and a large log never stalls
    /// the node.
    fn run_cleaner_if_pending(&mut self) {
        if !self.cleaner_pending || self.sync_in_flight.is_some() {
            return;
        }
        self.cleaner_pending = false;
        let wall_ms = self.deletion_wall_ms();
        let mut budget = usize::try_from(self.config.log_cleaner_step_bytes.max(1)).unwrap_or(1);
        let mut round = match self.cleaner_round.take() {
            Some(round) => round,
            None => self.logs.compaction_due(wall_ms).into(),
        };
        while let Some(partition) = round.pop_front() {
            if budget == 0 {
                round.push_front(partition);
                break;
            }
            // Deleted, offline, or no longer compacted since the round began.
            if !self.logs.log(&partition).is_some_and(|log| log.compaction_due(wall_ms)) {
                continue;
            }
            let log = self.logs.log(&partition).expect("listed");
            // A pass may remove an idempotent producer's last batches (their keys were written
            // again), and a restart rebuilds producer state from the log above the newest
            // durable snapshot: one at or above what the pass touches must exist before it
            // begins, or a retry of such a batch would be refused and then stored twice.
            // Snapshots are only ever written higher, so one secured at the start holds to
            // the end.
            let secured = if log.compaction_in_progress() {
                Ok(())
            } else {
                let end = log.cleanable_end(wall_ms);
                self.secure_producer_state(&partition, end)
            };
            let result = secured.and_then(|()| {
                let log = self.logs.log_mut(&partition).expect("listed");
                log.compact_step(&mut self.storage, wall_ms, &mut budget)
            });
            match result {
                Ok(None) => round.push_front(partition),
                Ok(Some(stats)) if stats.segments_rewritten > 0 => self.log(
                    LogLevel::Info,
                    format!(
                        "compacted {partition}: {} records removed, {} segments rewritten, {} \
                         -> {} bytes, in {} step{}",
                        stats.records_removed,
                        stats.segments_rewritten,
                        stats.bytes_before,
                        stats.bytes_after,
                        stats.steps,
                        if stats.steps == 1 { "" } else { "s" }
                    ),
                ),
                Ok(Some(_)) => {}
                // A produce waiting for a sync meets no failed pass: the cleaner waits for
                // syncs in flight, whose completion settles such produces anyway.
                Err(error) => {
                    self.log(LogLevel::Error, format!("compaction of {partition} failed: {error}"))
                }
            }
        }
        if !round.is_empty() {
            self.cleaner_round = Some(round);
            self.cleaner_pending = true;
        }
    }

    /// Whether some partition of `fetch` has a high watermark past its fetch offset. When
    /// none has, an answer would hold no record, so a parked fetch need not be re-read.
    fn fetch_may_find_records(&self, fetch: &FetchRequest) -> bool {
        fetch.topics.iter().any(|topic| {
            topic.partitions.iter().any(|partition| {
                let tp = TopicPartition::new(topic.topic.as_str(), partition.partition);
                self.high_watermark(&tp).is_some_and(|high| high > partition.fetch_offset)
            })
        })
    }

    /// Answers every waiting produce whose data became durable and every parked fetch that now
    /// has enough data or reached its deadline.
    fn progress(&mut self) {
        let changed = self.visibility_changes != self.visibility_seen;
        self.visibility_seen = self.visibility_changes;
        if changed {
            for mut pending in std::mem::take(&mut self.pending_durable) {
                if self.durable_settled(&mut pending) {
                    self.answer_groups(pending);
                } else {
                    self.pending_durable.push(pending);
                }
            }
        }
        if changed {
            let pending = std::mem::take(&mut self.pending_produces);
            for mut produce in pending {
                if self.produce_settled(&mut produce) {
                    let response = Response::Produce(produce.response);
                    self.complete(
                        produce.request,
                        produce.correlation_id,
                        produce.version,
                        response,
                    );
                } else {
                    self.pending_produces.push(produce);
                }
            }
        }
        let due = self.parked_fetches.iter().any(|fetch| self.now >= fetch.deadline);
        if changed || due {
            let parked = std::mem::take(&mut self.parked_fetches);
            for fetch in parked {
                let due = self.now >= fetch.deadline;
                // Reading is only worth it if some partition holds readable records past the
                // fetch position: a wake-up for other partitions leaves this fetch parked.
                if !due && (!changed || !self.fetch_may_find_records(&fetch.fetch)) {
                    self.parked_fetches.push(fetch);
                    continue;
                }
                let mut fetch = fetch;
                if due || self.count_readable(&mut fetch) {
                    let (response, _, _) = self.fetch_response(fetch.version, &fetch.fetch);
                    let response = Response::Fetch(response);
                    self.complete(fetch.request, fetch.correlation_id, fetch.version, response);
                } else {
                    self.parked_fetches.push(fetch);
                }
            }
        }
        assert!(self.parked_fetches.len() <= PARKED_FETCHES_MAX);
    }
}

fn advertised_api_keys() -> Vec<ApiVersion> {
    ADVERTISED
        .iter()
        .map(|&(api_key, min_version, max_version)| ApiVersion {
            api_key,
            min_version,
            max_version,
            ..Default::default()
        })
        .collect()
}

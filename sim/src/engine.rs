//! The deterministic simulator: one event queue ordered by (tick, sequence) drives the core
//! `Node` on a [`SimDisk`] and simulated clients over simulated connections. No threads, no
//! tokio, no wall clock: time jumps from event to event, and one seed decides everything.
//!
//! Connections behave like TCP: messages on one connection arrive in order, after a latency
//! drawn from the fault settings; a reset (or an answer lost to a cut) loses what is in flight
//! and everything after it on that connection. Duplicates and reordering
//! arise as they do in real deployments: a client whose request timed out abandons the
//! connection and retries on a new one, while the original may still arrive.

use crate::churn::Churner;
use crate::client::{Client, Next, Role, TOPIC};
use crate::configure::{Configurer, Step};
use crate::disk::{CrashReport, DiskFaults, SimDisk};
use crate::faults::FaultSettings;
use crate::group::{MemberSettings, GROUP, SECOND_GROUP};
use crate::history::{History, Operation};
use crate::meddle::{Meddle, Meddler, OFFSETS_TOPIC};
use crate::observe::{Ask, Observer};
use crate::race::Racer;
use bytes::{Bytes, BytesMut};
use sluice_core::config::{BrokerConfig, CompressionType};
use sluice_core::limits::SEGMENT_BYTES_MIN;
use sluice_core::node::{ConnectionId, Input, Node, NodeStats, Output};
use sluice_core::prng::Prng;
use sluice_core::protocol::api::{decode_response, encode_request, Request};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::record_batch::Compression;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

const WALL_START_MS: i64 = crate::client::RECORDS_TIME_MS;
const FAULT_TICK_MS: u64 = 50;
const BACKOFF_MS: u64 = 100;
/// How long a producer with acks=0 waits between its requests.
const ACKS_ZERO_PAUSE_MS: u64 = 5;
const EVENTS_REMEMBERED: usize = 64;
/// Room for a typical request frame, so that encoding rarely grows the buffer.
const REQUEST_BYTES_EXPECTED: usize = 512;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    ClientWake {
        client: u32,
    },
    /// The client's request timer: at most one is queued per client (see `arm_client_timer`).
    ClientTimeout {
        client: u32,
    },
    ToNode {
        connection: u64,
        generation: u64,
        body: Bytes,
    },
    NodeSeesClose {
        connection: u64,
        generation: u64,
    },
    ToClient {
        client: u32,
        connection: u64,
        frame: Bytes,
        /// The node generation (incarnation) that sent it.
        generation: u64,
        /// Its reloads of group state when it sent it (`NodeStats::offsets_reloads`).
        reloads: u64,
    },
    ConnectionReset {
        client: u32,
        connection: u64,
    },
    NodeTimer {
        generation: u64,
    },
    SyncDone {
        id: u64,
        generation: u64,
        files: Vec<String>,
    },
    FaultTick,
    Restart,
    /// The node may run again: it reads the requests held while it was paused, in order.
    Resume {
        generation: u64,
    },
}

/// The event queue: a heap of small (tick, sequence, slot) keys over a slab of events, so that
/// sifting moves 24 bytes rather than whole events. Ties in tick go by sequence (FIFO).
#[derive(Debug, Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slots: Vec<Option<Event>>,
    free: Vec<u32>,
    sequence: u64,
}

impl Queue {
    fn push(&mut self, at: u64, event: Event) {
        self.sequence += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                assert!(self.slots[slot as usize].is_none(), "a free slot is empty");
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 queued events")
            }
        };
        self.heap.push(Reverse((at, self.sequence, slot)));
    }

    /// The tick of the next event.
    fn peek_at(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    fn pop(&mut self) -> Option<(u64, Event)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        let event = self.slots[slot as usize].take().expect("a queued slot holds its event");
        self.free.push(slot);
        Some((at, event))
    }
}

#[derive(Clone, Debug)]
struct Inflight {
    correlation: i32,
    api_key: i16,
    version: i16,
    /// When the client gives up on it.
    deadline: u64,
}

#[derive(Clone, Debug)]
struct ClientState {
    client: Client,
    connection: Option<u64>,
    /// Requests sent on `connection` and not yet answered, oldest first (answers come back in
    /// request order).
    inflight: VecDeque<Inflight>,
    next_correlation: i32,
    /// A connection on which an answer to this client was lost (a cut): every later answer on
    /// it is lost too, as on a broken TCP connection, until the client abandons it.
    deaf: Option<u64>,
    /// Until when the client cannot reach the broker: (to broker, from broker).
    cut_until: (u64, u64),
    /// Scenario: the next answer the node sends this client resets the connection instead.
    reset_next_answer: bool,
    /// When its queued ClientTimeout fires, if one is queued.
    timer_at: Option<u64>,
}

/// What a run found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// The seed.
    pub seed: u64,
    /// Simulated ms at the end.
    pub ticks: u64,
    /// Events processed.
    pub events: u64,
    /// Faults injected.
    pub faults: u64,
    /// [`trace_hash`] of every node output in order.
    pub trace: u64,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed={} ticks={} events={} faults={} trace={:016x}",
            self.seed, self.ticks, self.events, self.faults, self.trace
        )
    }
}

/// A simulated cluster (one node for now) with its clients, faults and history.
pub struct Sim {
    /// The seed.
    pub seed: u64,
    /// Fault rates in force (none once healed).
    pub faults: FaultSettings,
    prng: Prng,
    queue: Queue,
    /// Current simulated time, in ms.
    pub now: u64,
    node: Option<Node<SimDisk>>,
    parked_disk: Option<SimDisk>,
    generation: u64,
    paused_until: u64,
    /// Requests that reached the node while it was paused, in arrival order (connection,
    /// body). While any are held, a Resume is queued, and later requests queue behind them.
    held: VecDeque<(u64, Bytes)>,
    timer_at: Option<u64>,
    /// How late a timer the node wants at once fires (`Workload::cleaner_steps`).
    timer_late_ms: u64,
    /// Page-cache mode (`Workload::flush_messages`): the broker's crashes keep written bytes.
    page_cache: bool,
    /// The running node's `NodeStats::offsets_reloads`, stamped on each answer it sends.
    node_reloads: u64,
    clients: Vec<ClientState>,
    connection_owner: BTreeMap<u64, u32>,
    /// Last delivery tick per (connection, direction) so that connections stay FIFO.
    fifo: BTreeMap<(u64, bool), u64>,
    next_connection: u64,
    clock_offset_ms: i64,
    /// Every operation and outcome.
    pub history: History,
    /// Events processed.
    pub events: u64,
    /// Faults injected.
    pub faults_injected: u64,
    trace: u64,
    /// The last events, for failure reports.
    pub recent: VecDeque<String>,
    /// Whether to print every fault and node log line as it happens (`--history`).
    pub verbose: bool,
    /// The largest node queue sizes seen.
    pub stats_max: NodeStats,
    /// The first topic whose registry entry a restart changed: (name, id, partitions, config)
    /// as the node held them when it stopped, and after it started again. Topics change only
    /// through requests, each saved durably before it is answered; a failed save is undone in
    /// memory and saved again. Only where that second save failed too (the node says so) may
    /// the file hold something else, and only until a later save succeeds (the node says
    /// that too: it tries again every second).
    pub topics_changed_by_restart: Option<String>,
    /// The topics the node held when it last stopped, unless its registry may differ.
    topics_at_stop: Option<BTreeMap<String, (String, String)>>,
    /// Whether the node said, since it last started, that its registry may differ.
    topics_unsure: bool,
    /// Whether the node said, since it last started, that its registry agrees again.
    topics_put_right: bool,
    /// Stops after which the registry was checked although the node had said, since it last
    /// started, that the file may differ, then that a later save put it right.
    pub registry_checks_after_put_right: u64,
    /// Connections the node closed (a failed acks=0 produce, garbage, too many requests).
    pub closed_by_node: u64,
    disk_full: bool,
    healed: bool,
    partitions: i32,
    /// Whether the workload topic is compacted (a superseded record may vanish).
    pub compacted: bool,
    /// The workload topic's `retention.ms` when retention may delete records readers have not
    /// read (`Workload::retention_deletes`).
    pub retention_ms: Option<i64>,
    /// Its `retention.bytes`, in the same runs.
    pub retention_bytes: Option<i64>,
    /// Whether the workload topic stamps batches with their append time.
    pub log_append_time: bool,
    /// The codec the workload topic stores batches with, if its own.
    pub topic_codec: Option<Compression>,
    /// (`log.flush.interval.ms`, `log.flush.scheduler.interval.ms`) in page-cache seeds that
    /// set them (`Workload::flush_timing`).
    pub flush_timing: Option<(i64, i64)>,
    /// The broker's `offsets.retention.minutes`, in ms, when short enough to matter.
    pub offsets_retention_ms: Option<u64>,
    /// The broker's `producer.id.expiration.ms` where a seed draws one
    /// (`Workload::producer_expiry`); otherwise producers are never forgotten.
    pub producer_expiration_ms: Option<i64>,
    /// The latest wall clock the node was given: its deletion clock never passes it.
    pub wall_max_ms: i64,
    /// (`delete.retention.ms`, clock drift in ppm) where tombstones are made and their
    /// retention can be judged: the wall clock never jumps and retention deletes nothing.
    pub tombstones_kept: Option<(i64, i64)>,
    /// (broker incarnation, partition) of the `__consumer_offsets` partitions that went
    /// offline, as noted in the history.
    offsets_offline: BTreeSet<(u64, i32)>,
    /// The settings version the seed was drawn under; `None` for settings made by hand.
    pub settings_version: Option<u32>,
    config: BrokerConfig,
    outputs: Vec<Output>,
}

/// The run's trace hash over `bytes`, continuing from `hash` (tests that trace other runs use
/// it too). Eight bytes a step: xor, multiply by an odd constant, rotate, each a bijection, so
/// two inputs of one length that differ in one word never meet in the next state. The length
/// goes into the last step, so zero padding is not mistaken for data. A byte-at-a-time FNV-1a
/// took about 4% of a busy run's wall time (`cargo bench -p sluice-sim` under perf).
pub fn trace_hash(mut hash: u64, bytes: &[u8]) -> u64 {
    const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("chunks of eight"));
        hash = (hash ^ word).wrapping_mul(MULTIPLIER).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    let last = u64::from_le_bytes(tail) ^ ((bytes.len() as u64) << 56);
    (hash ^ last).wrapping_mul(MULTIPLIER).rotate_left(29)
}

/// Settings of a run's workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Partitions of the topic.
    pub partitions: i32,
    /// Producers (acks alternate between -1 and 1; odd ones are idempotent, even ones are with
    /// probability `idempotent_ppm`).
    pub producers: u32,
    /// Batches per producer.
    pub batches_per_producer: u32,
    /// Consumers, one per partition round-robin.
    pub consumers: u32,
    /// Chance that an even-numbered producer is idempotent, in parts per million.
    pub idempotent_ppm: u32,
    /// The consumer group.
    pub group: GroupWorkload,
    /// The topic's `segment.bytes`; `None` keeps the broker's default (1 GiB), under which no
    /// segment of a run ever rolls.
    pub segment_bytes: Option<u32>,
    /// Whether each partition's one reader deletes what it has read (DeleteRecords up to its
    /// position) every this many records. Only without a group, whose members would lose
    /// what it had not read yet.
    pub purge_every: Option<u32>,
    /// Whether the topic is compacted: producers key their records, and the broker's cleaner
    /// runs every second. Only without a group and without purging (Kafka refuses
    /// DeleteRecords on a compacted topic).
    pub compacted: bool,
    /// The topic's `retention.ms`, checked every second; `None` keeps the broker's default
    /// (7 days, checked every 5 minutes).
    pub retention_ms: Option<i64>,
    /// The topic's `retention.bytes` per partition; `None` keeps the broker's default (-1, no
    /// limit). Only with `retention_ms` and `retention_deletes`.
    pub retention_bytes: Option<i64>,
    /// Producers' `max.in.flight.requests.per.connection` (1 to 5; Kafka's default is 5): how
    /// many batches each pipelines on its connection.
    pub in_flight_max: usize,
    /// Whether each producer writes every partition, one batch of each per request (as
    /// Kafka's producer sends all its batches for one broker together), rather than one.
    pub spread: bool,
    /// The topic is created with this many partitions and then grown to `partitions` with
    /// CreatePartitions; producers and readers of the new partitions retry until they exist.
    /// Only without a group (whose members read the partitions they were assigned at join).
    pub grow_from: Option<i32>,
    /// Readers' `max.partition.fetch.bytes` (Kafka's default is 1 MiB): below a batch's size,
    /// the broker must still return that first batch whole (KIP-74).
    pub fetch_max_bytes: i32,
    /// Producers' `compression.type`: the broker validates compressed batches by
    /// decompressing them, stores them as they came, and the cleaner rewrites them.
    pub compression: Compression,
    /// Bytes of padding in each record's value: large records, whose batches outgrow small
    /// segments (a segment then holds one batch) and fetch sizes.
    pub value_padding: usize,
    /// (tick, bytes): the admin changes the topic's `segment.bytes` at that tick with
    /// IncrementalAlterConfigs, so that live logs roll by the new size.
    pub alter_segment_bytes: Option<(u64, u32)>,
    /// Producers with acks=0 besides `producers` (never idempotent; each writes one partition,
    /// `batches_per_producer` batches).
    pub acks_zero_producers: u32,
    /// (cycles, records, linger ms, idempotent): a churner deletes and re-creates a topic of
    /// its own that many times, with that many records in each incarnation, fetching the
    /// deleted topic once that long after each deletion (see [`crate::churn`]).
    pub churn: Option<(u32, u32, u64, bool)>,
    /// Members of a second group ([`crate::group::SECOND_GROUP`]) with the first group's
    /// settings, reading the same topic on their own positions: two groups then share the
    /// coordinator's log and its group commits.
    pub second_group: u32,
    /// Whether the churner also deletes its group's offsets itself (OffsetDelete, DeleteGroups)
    /// after each commit (see [`crate::churn`]).
    pub churn_forgets_offsets: bool,
    /// Rounds of a meddler that tries to change `__consumer_offsets` (see [`crate::meddle`]).
    pub meddle_rounds: u32,
    /// Whether the meddler also deletes `__consumer_offsets` (only without a consumer group).
    pub meddle_deletes: bool,
    /// Whether `retention_ms` deletes records readers may not have read yet: producers stamp
    /// each batch with the time they made it (otherwise every record carries the run's start
    /// time, which a short `retention.ms` would soon delete whole), and a reader whose
    /// position retention deleted reads on from the earliest offset
    /// (`auto.offset.reset=earliest`), as do group members. On a compacted topic the policy
    /// is then `compact,delete`.
    pub retention_deletes: bool,
    /// How long each reader takes over the records of each answer before it fetches again,
    /// in ms: slow consumers, which retention overtakes.
    pub reader_pause_ms: u64,
    /// The plain readers' (`fetch.min.bytes`, `fetch.max.wait.ms`) where not Kafka's
    /// consumer defaults of 1 byte and 500 ms (the readers wait 100 ms by default): the broker
    /// then holds a fetch until that many bytes are readable.
    pub reader_fetch_wait: Option<(i32, i32)>,
    /// The topic's `message.timestamp.type` is LogAppendTime: the broker stamps each batch
    /// with its append time. Never with `retention_deletes`, whose checker judges deletions
    /// by the records' create times.
    pub log_append_time: bool,
    /// Producers flag every other batch LogAppendTime, as a client of a user's own might
    /// (see [`crate::client::Client::flags_append_time`]); the broker must store them as
    /// CreateTime, with their records' own maxTimestamp. Never with `log_append_time`, whose
    /// topic refuses them.
    pub flag_append_time: bool,
    /// Plain readers name their partition twice in each Fetch, first at offset 0 (see
    /// [`crate::client::Client::names_twice`]).
    pub fetch_names_twice: bool,
    /// The broker's (`producer.id.expiration.ms`, `producer.id.expiration.check.interval.ms`):
    /// partitions forget idempotent producers whose last batch is that old, and producers
    /// stamp their batches with the time they made them (as with `retention_deletes`), so
    /// that a producer still writing is not forgotten unless the wall clock jumped. A
    /// forgotten producer's retry may be stored again, as in Kafka: the checkers allow it.
    pub producer_expiry: Option<(i32, i32)>,
    /// The topic's `compression.type` where not `producer`: the broker re-encodes batches
    /// of other codecs. Never with `retention_deletes`, whose `retention.bytes` checker
    /// counts the bytes producers sent.
    pub topic_compression: Option<CompressionType>,
    /// A compacted topic's (`min.cleanable.dirty.ratio` in millionths,
    /// `min.compaction.lag.ms`, `max.compaction.lag.ms`) where not Kafka's defaults.
    pub compaction_timing: Option<(u32, i64, i64)>,
    /// A compacted topic's keyed producers make every fifth batch a tombstone, kept
    /// `delete.retention.ms` (this many ms) once compacted.
    pub tombstones: Option<i64>,
    /// With `tombstones`, producers also end with a tombstone for each of their keys
    /// (`Client::final_tombstones`), which nothing supersedes.
    pub final_tombstones: bool,
    /// The topic is created with the replication and down-conversion configs provisioning
    /// tools set (which a single broker stores and reports, with nothing to act on).
    pub provisioned: bool,
    /// (every ms, rounds): an observer lists and describes the groups (and, with
    /// `observe_offsets`, fetches their committed offsets) that often, that many times (see
    /// [`crate::observe`]).
    pub observe: Option<(u64, u32)>,
    /// Whether the observer's rounds end with an OffsetFetch of every group, as
    /// `kafka-consumer-groups --describe` shows committed offsets.
    pub observe_offsets: bool,
    /// Every how many ms a lag monitor's fetch of every group's committed offsets is due, for
    /// the whole run (an observer that only does that; see [`crate::observe`]). One delayed
    /// by a slow answer or a restart is followed at once by those that fell due meanwhile.
    pub lag_monitor: Option<u64>,
    /// (every ms, records): a racer produces to the churner's topic that often, that many
    /// times, while the churner deletes and makes it (see [`crate::race`]).
    pub churn_racer: Option<(u64, u32)>,
    /// (plan seed, rounds): a configurer changes the topic's `retention.ms` that many times,
    /// reading it before each change and after the last, at ticks and to values drawn from
    /// the plan seed (see [`retention_plan`] and [`crate::configure`]).
    pub alter_retention: Option<(u64, u32)>,
    /// Whether that configurer sets `retention.ms` with AlterConfigs, replacing the topic's
    /// whole set of overrides (it sends the ones the topic was made with).
    pub alter_retention_whole: bool,
    /// A seed for more steps of that configurer: after changes of `retention.ms` it changes
    /// `retention.bytes` and `segment.ms` too (see [`size_and_roll_steps`]).
    pub alter_size_and_roll: Option<u64>,
    /// `log.cleaner.step.bytes` when a seed draws a small one, so that compaction passes run
    /// in many steps, and how many ms late the engine feeds a timer the node wants at once
    /// (as a busy driver does), so that requests, retention, DeleteRecords and crashes come
    /// between the steps.
    pub cleaner_steps: Option<(i64, u64)>,
    /// The broker's `log.flush.interval.messages` when above 1: page-cache mode for every
    /// topic, `__consumer_offsets` included. acks=1 is answered when appended and readers see
    /// records before they are synced; a log is synced once it holds that many unsynced
    /// records, and when an acks=all produce or a group answer waits for it. A power loss
    /// may then lose what was acknowledged with acks=1 or read, which the checkers do not
    /// allow, so the broker's crashes in such a run are process crashes (written bytes stay).
    pub flush_messages: Option<i64>,
    /// In page-cache mode: (`log.flush.interval.ms`, `log.flush.scheduler.interval.ms`),
    /// so the broker also syncs logs whose last sync is that old, as Kafka's flusher does.
    pub flush_timing: Option<(i64, i64)>,
}

/// The readers' fetch size unless a seed draws a small one.
pub const FETCH_BYTES_DEFAULT: i32 = 64 * 1024;

impl Default for Workload {
    /// One producer (plain, acks=all) and one reader on one partition; every optional
    /// feature off. Scenarios set what they need on top.
    fn default() -> Self {
        Self {
            partitions: 1,
            producers: 1,
            batches_per_producer: 10,
            consumers: 1,
            idempotent_ppm: 0,
            group: GroupWorkload::none(),
            segment_bytes: None,
            purge_every: None,
            compacted: false,
            retention_ms: None,
            retention_bytes: None,
            in_flight_max: 1,
            spread: false,
            grow_from: None,
            fetch_max_bytes: FETCH_BYTES_DEFAULT,
            compression: Compression::None,
            value_padding: 0,
            alter_segment_bytes: None,
            churn: None,
            acks_zero_producers: 0,
            second_group: 0,
            meddle_rounds: 0,
            meddle_deletes: false,
            churn_forgets_offsets: false,
            retention_deletes: false,
            reader_pause_ms: 0,
            reader_fetch_wait: None,
            log_append_time: false,
            flag_append_time: false,
            fetch_names_twice: false,
            producer_expiry: None,
            topic_compression: None,
            compaction_timing: None,
            tombstones: None,
            final_tombstones: false,
            provisioned: false,
            observe: None,
            observe_offsets: false,
            lag_monitor: None,
            churn_racer: None,
            alter_retention: None,
            alter_retention_whole: false,
            alter_size_and_roll: None,
            cleaner_steps: None,
            flush_messages: None,
            flush_timing: None,
        }
    }
}

/// The consumer group of a workload: its members and their Kafka consumer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupWorkload {
    /// Members (0: no group).
    pub consumers: u32,
    /// `session.timeout.ms` (the broker accepts 6000 and up).
    pub session_timeout_ms: i32,
    /// `max.poll.interval.ms`, the rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval_ms: u64,
    /// Most planned departures (LeaveGroup, then a fresh join) per member.
    pub departures_max: u32,
    /// The broker's `offsets.topic.num.partitions` (Kafka: 50; its own tests use 1).
    pub offsets_topic_partitions: i32,
    /// The broker's `group.initial.rebalance.delay.ms` (Kafka: 3000; its dev config: 0).
    pub initial_rebalance_delay_ms: u64,
    /// The broker's `offsets.topic.segment.bytes` when small enough for `__consumer_offsets`
    /// to roll and be compacted in a run (the cleaner then runs every second); `None` keeps
    /// Kafka's 100 MiB.
    pub offsets_segment_bytes: Option<u32>,
    /// Whether the members are static (`group.instance.id`, KIP-345; see [`crate::group`]).
    pub static_members: bool,
    /// Whether static members depart without LeaveGroup every time, as Kafka's consumer
    /// does. Before settings version 7 a departure that came after the member's last commit
    /// sent LeaveGroup with its member id, which removed it at once; those seeds replay so.
    pub static_departures_silent: bool,
    /// (retention ms, check interval ms): the broker's `offsets.retention.minutes` and
    /// `offsets.retention.check.interval.ms`, short enough for a group's committed offsets to
    /// expire in a run once it has been Empty that long. Members then note when they were
    /// seen in the group ([`Operation::MemberPresent`]).
    pub offsets_retention: Option<(u64, u64)>,
    /// (tick, ms): every member departs at that tick and stays away that long, as when the
    /// application that runs the group is redeployed.
    pub group_break: Option<(u64, u64)>,
    /// During the break, the first member comes back after this many ms, rejoins and leaves
    /// again for the rest of it, as an instance that starts and is stopped again during a
    /// redeploy: the group has a member for a moment between two expiry checks.
    pub break_visit_ms: Option<u64>,
    /// Whether members send `ConsumerProtocolSubscription` v2, with the partitions they own
    /// and their generation, as Kafka's consumer does (from settings version 21; draws
    /// nothing): a restarted static member then rejoins with metadata other than it had.
    pub subscription_owned: bool,
}

impl GroupWorkload {
    /// No group.
    pub fn none() -> Self {
        Self {
            consumers: 0,
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 15_000,
            auto_commit_interval_ms: 1000,
            departures_max: 0,
            offsets_topic_partitions: 1,
            initial_rebalance_delay_ms: 3000,
            offsets_segment_bytes: None,
            static_members: false,
            static_departures_silent: true,
            offsets_retention: None,
            group_break: None,
            break_visit_ms: None,
            subscription_owned: false,
        }
    }

    /// `consumers` members with middle-of-the-range settings and one departure at most.
    pub fn members(consumers: u32) -> Self {
        Self { consumers, departures_max: 1, ..Self::none() }
    }
}

impl Workload {
    /// A workload drawn from the seed.
    pub fn swarm(prng: &mut Prng) -> Self {
        let mut workload = Self {
            partitions: prng.range_inclusive(1, 3) as i32,
            producers: prng.range_inclusive(1, 4) as u32,
            batches_per_producer: prng.range_inclusive(5, 60) as u32,
            consumers: prng.range_inclusive(1, 3) as u32,
            idempotent_ppm: 500_000,
            ..Self::default()
        };
        // About two seeds in three run a group of 2 or 3 over a topic of 2 or 3 partitions.
        if prng.chance(666_667) {
            let session_timeout_ms = prng.range_inclusive(6_000, 15_000);
            let rebalance_timeout_ms = session_timeout_ms + prng.range_inclusive(0, 10_000);
            workload.group = GroupWorkload {
                consumers: prng.range_inclusive(2, 3) as u32,
                session_timeout_ms: session_timeout_ms as i32,
                rebalance_timeout_ms: rebalance_timeout_ms as i32,
                auto_commit_interval_ms: prng.range_inclusive(100, 3_000),
                departures_max: prng.range_inclusive(0, 2) as u32,
                // Kafka's default of 50 costs the node a walk over 50 logs per input, so it
                // runs in one seed in twenty; the others use 1 to 3.
                offsets_topic_partitions: if prng.chance(50_000) {
                    50
                } else {
                    prng.range_inclusive(1, 3) as i32
                },
                initial_rebalance_delay_ms: prng.range_inclusive(0, 3_000),
                offsets_segment_bytes: None,
                static_members: false,
                static_departures_silent: false,
                offsets_retention: None,
                group_break: None,
                break_visit_ms: None,
                subscription_owned: false,
            };
            workload.partitions = workload.partitions.max(2);
        }
        workload.idempotent_ppm = prng.range_inclusive(0, 1_000_000) as u32;
        // Half the seeds roll segments: from the smallest size the broker accepts (about ten
        // batches a segment) to 64 KiB (a few hundred).
        if prng.chance(500_000) {
            workload.segment_bytes =
                Some(prng.range_inclusive(u64::from(SEGMENT_BYTES_MIN), 64 * 1024) as u32);
        }
        // Half the seeds without a group purge what their readers read, with one reader per
        // partition (a second would find its records deleted under it).
        if workload.group.consumers == 0 && prng.chance(500_000) {
            workload.purge_every = Some(prng.range_inclusive(1, 40) as u32);
            workload.consumers = workload.partitions as u32;
        }
        // A third of the rest compact the topic, in small segments so that the cleaner has
        // sealed segments to rewrite.
        if workload.group.consumers == 0 && workload.purge_every.is_none() && prng.chance(333_333) {
            workload.compacted = true;
            workload.segment_bytes =
                Some(prng.range_inclusive(u64::from(SEGMENT_BYTES_MIN), 2 * 1024) as u32);
        }
        // Half the group seeds roll and compact __consumer_offsets, so the coordinator reloads
        // compacted logs after restarts.
        if workload.group.consumers > 0 && prng.chance(500_000) {
            workload.group.offsets_segment_bytes =
                Some(prng.range_inclusive(u64::from(SEGMENT_BYTES_MIN), 2 * 1024) as u32);
        }
        workload
    }

    /// The configs the topic is created with.
    pub fn configs(&self) -> Vec<(&'static str, String)> {
        let mut configs = Vec::new();
        if let Some(bytes) = self.segment_bytes {
            configs.push(("segment.bytes", bytes.to_string()));
        }
        if self.compacted {
            // Retention deletes only under the `delete` policy too.
            let policy = if self.retention_deletes { "compact,delete" } else { "compact" };
            configs.push(("cleanup.policy", policy.to_string()));
        }
        if let Some(ms) = self.retention_ms {
            configs.push(("retention.ms", ms.to_string()));
        }
        if let Some(bytes) = self.retention_bytes {
            configs.push(("retention.bytes", bytes.to_string()));
        }
        if self.log_append_time {
            configs.push(("message.timestamp.type", "LogAppendTime".to_string()));
        }
        if let Some(codec) = self.topic_compression {
            configs.push(("compression.type", codec.as_str().to_string()));
        }
        if let Some((ratio_ppm, min_lag_ms, max_lag_ms)) = self.compaction_timing {
            let ratio = f64::from(ratio_ppm) / 1e6;
            configs.push(("min.cleanable.dirty.ratio", ratio.to_string()));
            configs.push(("min.compaction.lag.ms", min_lag_ms.to_string()));
            configs.push(("max.compaction.lag.ms", max_lag_ms.to_string()));
        }
        if let Some(delete_retention_ms) = self.tombstones {
            configs.push(("delete.retention.ms", delete_retention_ms.to_string()));
        }
        if self.provisioned {
            configs.extend([
                ("unclean.leader.election.enable", "false".to_string()),
                ("preallocate", "true".to_string()),
                ("message.downconversion.enable", "false".to_string()),
                ("leader.replication.throttled.replicas", "*".to_string()),
                ("follower.replication.throttled.replicas", "0:1,1:1".to_string()),
            ]);
        }
        configs
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "partitions={} producers={}x{} consumers={} idempotent={}ppm group={}",
            self.partitions,
            self.producers,
            self.batches_per_producer,
            self.consumers,
            self.idempotent_ppm,
            self.group.consumers
        )?;
        if let Some(bytes) = self.segment_bytes {
            write!(f, " segment_bytes={bytes}")?;
        }
        if let Some(every) = self.purge_every {
            write!(f, " purge_every={every}")?;
        }
        if self.compacted {
            write!(f, " compacted")?;
        }
        if let Some(ms) = self.retention_ms {
            write!(f, " retention_ms={ms}")?;
        }
        if let Some(bytes) = self.retention_bytes {
            write!(f, " retention_bytes={bytes}")?;
        }
        if self.in_flight_max > 1 {
            write!(f, " in_flight={}", self.in_flight_max)?;
        }
        if self.spread {
            write!(f, " spread")?;
        }
        if let Some(from) = self.grow_from {
            write!(f, " grow_from={from}")?;
        }
        if self.fetch_max_bytes != FETCH_BYTES_DEFAULT {
            write!(f, " fetch_bytes={}", self.fetch_max_bytes)?;
        }
        if self.compression != Compression::None {
            write!(f, " compression={:?}", self.compression)?;
        }
        if self.value_padding > 0 {
            write!(f, " padding={}", self.value_padding)?;
        }
        if let Some((at, bytes)) = self.alter_segment_bytes {
            write!(f, " segment_bytes_at_{at}ms={bytes}")?;
        }
        if self.acks_zero_producers > 0 {
            write!(f, " acks0_producers={}", self.acks_zero_producers)?;
        }
        if self.second_group > 0 {
            write!(f, " second_group={}", self.second_group)?;
        }
        if self.meddle_rounds > 0 {
            write!(f, " meddle={}", self.meddle_rounds)?;
        }
        if self.meddle_deletes {
            write!(f, " meddle_deletes")?;
        }
        if self.retention_deletes {
            write!(f, " retention_deletes")?;
        }
        if self.reader_pause_ms > 0 {
            write!(f, " reader_pause={}ms", self.reader_pause_ms)?;
        }
        if let Some((min_bytes, wait_ms)) = self.reader_fetch_wait {
            write!(f, " fetch_min={min_bytes}B/{wait_ms}ms")?;
        }
        if self.log_append_time {
            write!(f, " log_append_time")?;
        }
        if self.flag_append_time {
            write!(f, " flag_append_time")?;
        }
        if self.fetch_names_twice {
            write!(f, " fetch_names_twice")?;
        }
        if let Some((expiration_ms, check_ms)) = self.producer_expiry {
            write!(f, " producer_expiry={expiration_ms}ms/{check_ms}ms")?;
        }
        if let Some(codec) = self.topic_compression {
            write!(f, " topic_compression={}", codec.as_str())?;
        }
        if let Some((ratio_ppm, min_lag_ms, max_lag_ms)) = self.compaction_timing {
            write!(f, " compaction_timing={ratio_ppm}ppm/{min_lag_ms}ms/{max_lag_ms}ms")?;
        }
        if let Some(delete_retention_ms) = self.tombstones {
            write!(f, " tombstones={delete_retention_ms}ms")?;
            if self.final_tombstones {
                write!(f, " final_tombstones")?;
            }
        }
        if self.provisioned {
            write!(f, " provisioned")?;
        }
        if let Some((every_ms, rounds)) = self.observe {
            write!(f, " observe={rounds}x{every_ms}ms")?;
            if self.observe_offsets {
                write!(f, "+offsets")?;
            }
        }
        if let Some(every_ms) = self.lag_monitor {
            write!(f, " lag_monitor={every_ms}ms")?;
        }
        if let Some((every_ms, count)) = self.churn_racer {
            write!(f, " churn_racer={count}x{every_ms}ms")?;
        }
        if let Some((_, rounds)) = self.alter_retention {
            write!(f, " alter_retention={rounds}")?;
            if self.alter_retention_whole {
                write!(f, " whole")?;
            }
            if self.alter_size_and_roll.is_some() {
                write!(f, " +size+roll")?;
            }
        }
        if let Some((bytes, late_ms)) = self.cleaner_steps {
            write!(f, " cleaner_steps={bytes}B+{late_ms}ms")?;
        }
        if let Some(messages) = self.flush_messages {
            write!(f, " flush_messages={messages}")?;
        }
        if let Some((flush_ms, check_ms)) = self.flush_timing {
            write!(f, " flush_ms={flush_ms}/{check_ms}ms")?;
        }
        if let Some((cycles, records, linger_ms, idempotent)) = self.churn {
            let idempotent = if idempotent { " idempotent" } else { "" };
            write!(f, " churn={cycles}x{records}+{linger_ms}ms{idempotent}")?;
            if self.churn_forgets_offsets {
                write!(f, " forgetting_offsets")?;
            }
        }
        if self.group.consumers > 0 {
            write!(
                f,
                " (session={}ms rebalance={}ms commit_every={}ms departures<={} \
                 offsets_partitions={} initial_delay={}ms)",
                self.group.session_timeout_ms,
                self.group.rebalance_timeout_ms,
                self.group.auto_commit_interval_ms,
                self.group.departures_max,
                self.group.offsets_topic_partitions,
                self.group.initial_rebalance_delay_ms
            )?;
            if let Some(bytes) = self.group.offsets_segment_bytes {
                write!(f, " offsets_segment_bytes={bytes}")?;
            }
            if self.group.static_members {
                write!(f, " static_members")?;
            }
            if let Some((retention_ms, check_ms)) = self.group.offsets_retention {
                write!(f, " offsets_retention={retention_ms}ms/{check_ms}ms")?;
            }
            if let Some((at, away_ms)) = self.group.group_break {
                write!(f, " group_break_at_{at}ms={away_ms}ms")?;
            }
            if let Some(visit_ms) = self.group.break_visit_ms {
                write!(f, " break_visit_after={visit_ms}ms")?;
            }
        }
        Ok(())
    }
}

/// What `seed` drew before the workload's later dimensions (pipelining, spread producers,
/// growth, fetch sizes, compression, large records, config changes) were drawn from a stream
/// of their own: a seed found before them is replayed as it ran then.
pub fn first_settings_from_seed(seed: u64) -> (FaultSettings, Workload) {
    let mut prng = Prng::new(seed);
    let faults = FaultSettings::swarm(&mut prng);
    let workload = Workload::swarm(&mut prng);
    (faults, workload)
}

/// Each topic's registry entry by name: (id, partitions and whole config, to compare; id,
/// partitions and overrides, to show).
fn describe_topics(node: &Node<SimDisk>) -> BTreeMap<String, (String, String)> {
    let topics = node.topics().iter();
    topics
        .map(|topic| {
            let (id, partitions) = (u128::from_be_bytes(topic.id), topic.partitions);
            let whole = format!("{id:x} {partitions} {:?}", topic.config);
            let shown = format!("id {id:x}, {partitions} partitions, {:?}", topic.config.overrides);
            (topic.name.clone(), (whole, shown))
        })
        .collect()
}

/// The version of the seed-to-settings mapping that `Sim::from_seed` uses. Each version adds
/// workload dimensions drawn from streams of their own; a seed found under an earlier one is
/// replayed as it ran then (`Sim::from_seed_at`), so that a regression seed keeps the run that
/// found its bug. 1: everything up to the churner, acks=0 producers and failed unlinks.
/// 2: a second consumer group, a meddler with `__consumer_offsets`, and a churner that deletes
/// its group's offsets itself. 3: static group members. 4: the meddler deletes
/// `__consumer_offsets` in some runs without a group. 5: retention deletes records readers
/// may not have read yet (`Workload::retention_deletes`), in runs without a group. 6: the
/// same in group runs. 7: an observer of the groups (`Workload::observe`), and static members
/// that never send LeaveGroup (`GroupWorkload::static_departures_silent`). 8: damaged requests
/// from a stranger (`FaultSettings::hostile_frame_ppm`). 9: retention where readers purge
/// what they read with DeleteRecords. 10: a racer producing to the churner's topic
/// (`Workload::churn_racer`). 11: retention on compacted topics (`compact,delete`).
/// 12: `retention.ms` changed on the live topic (`Workload::alter_retention`). 13:
/// `retention.bytes` (`Workload::retention_bytes`). 14: committed offsets that expire, and
/// groups that all depart at once (`GroupWorkload::offsets_retention`, `group_break`). 15:
/// damaged writes from the stranger (`FaultSettings::hostile_writes`). 16: a member's visit
/// during the group's break (`GroupWorkload::break_visit_ms`). 17: `retention.ms` set with
/// AlterConfigs (`Workload::alter_retention_whole`). 18: compaction in small steps
/// (`Workload::cleaner_steps`). 19: `retention.bytes` and `segment.ms` changed on the live
/// topic (`Workload::alter_size_and_roll`). 20: page-cache mode (`Workload::flush_messages`).
/// 21: members send their owned partitions (`GroupWorkload::subscription_owned`). 22: the
/// observer fetches committed offsets (`Workload::observe_offsets`), and a lag monitor
/// (`Workload::lag_monitor`), and readers that wait for more than a byte
/// (`Workload::reader_fetch_wait`). 23: topics stamped with their append time
/// (`Workload::log_append_time`) or stored with a codec of their own
/// (`Workload::topic_compression`), and compaction's dirty ratio and lags
/// (`Workload::compaction_timing`), tombstones (`Workload::tombstones`), page-cache syncs by
/// age (`Workload::flush_timing`), and provisioning's configs (`Workload::provisioned`).
/// 24: producers that flag batches LogAppendTime (`Workload::flag_append_time`) and readers
/// that name their partition twice in a Fetch (`Workload::fetch_names_twice`). 25: idempotent
/// producers forgotten after `producer.id.expiration.ms` (`Workload::producer_expiry`). 26:
/// slow readers of tombstones (`Workload::reader_pause_ms` and `fetch_max_bytes` in seeds
/// with `tombstones`). 27: renames that fail (`FaultSettings::rename_error_ppm`). 28:
/// producers that end by deleting their keys (`Workload::final_tombstones`).
pub const SETTINGS_VERSION: u32 = 28;

/// The fault settings and workload `seed` draws (what `Sim::from_seed` runs).
pub fn settings_from_seed(seed: u64) -> (FaultSettings, Workload) {
    settings_from_seed_at(seed, SETTINGS_VERSION)
}

/// The fault settings and workload `seed` drew under settings version `version`.
pub fn settings_from_seed_at(seed: u64, version: u32) -> (FaultSettings, Workload) {
    assert!((1..=SETTINGS_VERSION).contains(&version), "settings versions 1 to {SETTINGS_VERSION}");
    let (faults, mut workload) = first_settings_from_seed(seed);
    // Drawn from a stream of its own, so that the seeds run before producers pipelined keep
    // every other setting they had.
    let mut pipelining = Prng::new(seed ^ 0x5049_5045);
    if pipelining.chance(500_000) {
        workload.in_flight_max = pipelining.range_inclusive(2, 5) as usize;
    }
    if workload.partitions > 1 && pipelining.chance(333_333) {
        workload.spread = true;
    }
    if workload.partitions > 1 && workload.group.consumers == 0 && pipelining.chance(333_333) {
        workload.grow_from =
            Some(pipelining.range_inclusive(1, workload.partitions as u64 - 1) as i32);
    }
    if pipelining.chance(250_000) {
        workload.fetch_max_bytes = pipelining.range_inclusive(1, 2048) as i32;
    }
    if pipelining.chance(250_000) {
        let codecs = [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];
        workload.compression = codecs[pipelining.range_inclusive(0, 3) as usize];
    }
    // A batch (up to four records) must fit in a segment: the broker refuses a larger one
    // with RECORD_LIST_TOO_LARGE, as Kafka does, and producers give such a batch up.
    let padding_max =
        workload.segment_bytes.map_or(8192, |bytes| (bytes as usize / 4).saturating_sub(128));
    if pipelining.chance(200_000) && padding_max >= 100 {
        workload.value_padding =
            pipelining.range_inclusive(100, padding_max.min(8192) as u64) as usize;
    }
    if pipelining.chance(250_000) {
        // Never below what a batch of the seed's records needs.
        let least = (4 * (workload.value_padding as u64 + 128)).max(u64::from(SEGMENT_BYTES_MIN));
        let bytes = pipelining.range_inclusive(least, least.max(64 * 1024)) as u32;
        workload.alter_segment_bytes = Some((pipelining.range_inclusive(500, 15_000), bytes));
    }
    // A stream of its own again, so that the seeds above keep their settings.
    let mut churning = Prng::new(seed ^ 0x4348_5552);
    if churning.chance(250_000) {
        let cycles = churning.range_inclusive(2, 6) as u32;
        let records = churning.range_inclusive(1, 24) as u32;
        let linger_ms = churning.range_inclusive(0, 5_000);
        workload.churn = Some((cycles, records, linger_ms, churning.chance(500_000)));
    }
    let mut faults = faults;
    if churning.chance(250_000) {
        faults.remove_error_ppm = churning.range_inclusive(1, 50_000) as u32;
    }
    let mut unanswered = Prng::new(seed ^ 0x4143_4B30);
    if unanswered.chance(200_000) {
        workload.acks_zero_producers = unanswered.range_inclusive(1, 2) as u32;
    }
    if version < 2 {
        return (faults, workload);
    }
    let mut groups = Prng::new(seed ^ 0x4752_5032);
    if workload.group.consumers > 0 && groups.chance(333_333) {
        workload.second_group = groups.range_inclusive(1, 3) as u32;
    }
    let mut meddling = Prng::new(seed ^ 0x4D45_4444);
    if meddling.chance(200_000) {
        workload.meddle_rounds = meddling.range_inclusive(1, 12) as u32;
    }
    let mut forgetting = Prng::new(seed ^ 0x464F_5247);
    if workload.churn.is_some() && forgetting.chance(500_000) {
        workload.churn_forgets_offsets = true;
    }
    if version < 3 {
        return (faults, workload);
    }
    let mut fixed = Prng::new(seed ^ 0x5354_4154);
    if workload.group.consumers > 0 && fixed.chance(333_333) {
        workload.group.static_members = true;
    }
    if version < 4 {
        return (faults, workload);
    }
    let mut dropping = Prng::new(seed ^ 0x4452_4F50);
    if workload.meddle_rounds > 0 && workload.group.consumers == 0 && dropping.chance(500_000) {
        workload.meddle_deletes = true;
    }
    if version < 5 {
        return (faults, workload);
    }
    // Two thirds of the seeds without a group, purging or compaction keep records a short
    // while (see `draw_retention`).
    let mut retaining = Prng::new(seed ^ 0x5245_5445);
    let eligible =
        workload.group.consumers == 0 && workload.purge_every.is_none() && !workload.compacted;
    if eligible && retaining.chance(666_667) {
        draw_retention(&mut workload, &mut retaining);
    }
    if version < 6 {
        return (faults, workload);
    }
    // A third of the group seeds too: members that were away, or restarted on an old
    // commit, find their position deleted.
    let mut retaining = Prng::new(seed ^ 0x4752_4554);
    if workload.group.consumers > 0 && retaining.chance(333_333) {
        draw_retention(&mut workload, &mut retaining);
    }
    if version < 7 {
        return (faults, workload);
    }
    workload.group.static_departures_silent = true;
    let mut observing = Prng::new(seed ^ 0x4F42_5345);
    if workload.group.consumers > 0 && observing.chance(500_000) {
        let every_ms = observing.range_inclusive(200, 3_000);
        workload.observe = Some((every_ms, observing.range_inclusive(1, 30) as u32));
    }
    if version < 8 {
        return (faults, workload);
    }
    let mut hostile = Prng::new(seed ^ 0x484F_5354);
    if hostile.chance(250_000) {
        faults.hostile_frame_ppm = hostile.range_inclusive(1, 300_000) as u32;
    }
    if version < 9 {
        return (faults, workload);
    }
    // Half the purging seeds: DeleteRecords and retention both move the log start.
    let mut retaining = Prng::new(seed ^ 0x5055_5247);
    if workload.purge_every.is_some() && retaining.chance(500_000) {
        draw_retention(&mut workload, &mut retaining);
    }
    if version < 10 {
        return (faults, workload);
    }
    let mut racing = Prng::new(seed ^ 0x5241_4345);
    if workload.churn.is_some() && racing.chance(500_000) {
        let every_ms = racing.range_inclusive(10, 300);
        workload.churn_racer = Some((every_ms, racing.range_inclusive(10, 100) as u32));
    }
    if version < 11 {
        return (faults, workload);
    }
    // Half the compacted seeds: the cleaner and retention both rewrite the log's start.
    let mut retaining = Prng::new(seed ^ 0x434F_4D50);
    if workload.compacted && retaining.chance(500_000) {
        draw_retention(&mut workload, &mut retaining);
    }
    if version < 12 {
        return (faults, workload);
    }
    // Half the seeds with retention: an operator changes it while records come and go.
    let mut configuring = Prng::new(seed ^ 0x434F_4E46);
    if workload.retention_deletes && configuring.chance(500_000) {
        let rounds = configuring.range_inclusive(1, 8) as u32;
        workload.alter_retention = Some((configuring.next_u64(), rounds));
    }
    if version < 13 {
        return (faults, workload);
    }
    // Half the seeds with retention limit each partition's size too, from half a segment to
    // six; in a third of those, size is the only limit at first (`retention.ms=-1`).
    let mut sizing = Prng::new(seed ^ 0x4259_5445);
    if let (true, Some(segment)) = (workload.retention_deletes, workload.segment_bytes) {
        if sizing.chance(500_000) {
            let segment = u64::from(segment);
            workload.retention_bytes =
                Some(sizing.range_inclusive(segment / 2, 6 * segment) as i64);
            if sizing.chance(333_333) {
                workload.retention_ms = Some(-1);
            }
        }
    }
    if version < 14 {
        return (faults, workload);
    }
    // A third of the group seeds: offsets expire 1 to 8 s after their group empties, checked
    // every 0.1 to 1 s. In two thirds of those the whole group departs once, for half to
    // three times that long (static members are removed only a session timeout later).
    let mut expiring = Prng::new(seed ^ 0x4558_5052);
    if workload.group.consumers > 0 && expiring.chance(333_333) {
        let retention_ms = expiring.range_inclusive(1_000, 8_000);
        let check_ms = expiring.range_inclusive(100, 1_000);
        workload.group.offsets_retention = Some((retention_ms, check_ms));
        if expiring.chance(666_667) {
            let at = expiring.range_inclusive(2_000, 12_000);
            let away_ms = expiring.range_inclusive(retention_ms / 2, 3 * retention_ms);
            workload.group.group_break = Some((at, away_ms));
        }
    }
    if version < 15 {
        return (faults, workload);
    }
    // Half the seeds with a stranger: it also writes, damaged, to a topic of its own.
    let mut writing = Prng::new(seed ^ 0x4857_5254);
    if faults.hostile_frame_ppm > 0 && writing.chance(500_000) {
        faults.hostile_writes = true;
    }
    if version < 16 {
        return (faults, workload);
    }
    // Half the group breaks: one member comes back for a moment within the first half.
    let mut visiting = Prng::new(seed ^ 0x5649_5354);
    if let Some((_, away_ms)) = workload.group.group_break {
        if visiting.chance(500_000) {
            workload.group.break_visit_ms = Some(visiting.range_inclusive(100, away_ms / 2));
        }
    }
    if version < 17 {
        return (faults, workload);
    }
    // Half the configurers use AlterConfigs, as kafka-python's admin client does.
    let mut whole = Prng::new(seed ^ 0x5748_4F4C);
    if workload.alter_retention.is_some() && whole.chance(500_000) {
        workload.alter_retention_whole = true;
    }
    if version < 18 {
        return (faults, workload);
    }
    // Half the seeds that compact (their topic or __consumer_offsets) do it in small steps:
    // from one batch at a time to a few segments, 0 to 300 ms apart.
    let mut stepping = Prng::new(seed ^ 0x5354_4550);
    let compacts = workload.compacted || workload.group.offsets_segment_bytes.is_some();
    if compacts && stepping.chance(500_000) {
        let bytes = stepping.range_inclusive(1, 8 * 1024) as i64;
        workload.cleaner_steps = Some((bytes, stepping.range_inclusive(0, 300)));
    }
    if version < 19 {
        return (faults, workload);
    }
    // Half the seeds whose configurer changes retention.ms: it changes retention.bytes and
    // segment.ms on the live topic too.
    let mut resizing = Prng::new(seed ^ 0x5349_5A45);
    if workload.alter_retention.is_some() && resizing.chance(500_000) {
        workload.alter_size_and_roll = Some(resizing.next_u64());
    }
    if version < 20 {
        return (faults, workload);
    }
    // An eighth of the seeds run in page-cache mode, syncing every 2 to 64 records.
    let mut caching = Prng::new(seed ^ 0x464C_5553);
    if caching.chance(125_000) {
        workload.flush_messages = Some(caching.range_inclusive(2, 64) as i64);
    }
    if version < 21 {
        return (faults, workload);
    }
    // Members send their owned partitions and generation in their subscriptions, as Kafka's
    // consumer does: a restarted static member's metadata differs from what it had.
    workload.group.subscription_owned = true;
    if version < 22 {
        return (faults, workload);
    }
    // The observer shows committed offsets too; and half the group seeds have a lag monitor,
    // fetching them every 5 to 200 ms for the whole run, as monitoring tools poll: its
    // fetches arrive while commits wait for their sync, which may fail.
    workload.observe_offsets = true;
    // Outside page-cache mode (whose readers and acks=1 producers may see unsynced bytes,
    // which a restart after EIO may then lose, as Kafka may), a failed fsync leaves the
    // file's unsynced bytes to chance at the next process restart.
    faults.eio_forgets = workload.flush_messages.is_none();
    let mut monitoring = Prng::new(seed ^ 0x4C41_4753);
    if workload.group.consumers > 0 && monitoring.chance(500_000) {
        workload.lag_monitor = Some(monitoring.range_inclusive(5, 200));
    }
    // A quarter of the seeds: the plain readers ask for 2 bytes to 16 KiB per fetch, waiting
    // 20 to 500 ms for them, as consumers tuned for throughput do; never more than their
    // `max.partition.fetch.bytes`, which the broker counts towards it at most (as Kafka
    // does), so such a fetch would always wait its whole time: seed 6250215 read one batch
    // per 467 ms and did not finish within the liveness phase.
    let mut waiting = Prng::new(seed ^ 0x4D49_4E42);
    let most = (16 * 1024).min(workload.fetch_max_bytes);
    if waiting.chance(250_000) && most >= 2 {
        let min_bytes = waiting.range_inclusive(2, most as u64) as i32;
        workload.reader_fetch_wait = Some((min_bytes, waiting.range_inclusive(20, 500) as i32));
    }
    if version < 23 {
        return (faults, workload);
    }
    // An eighth of the seeds without retention deletes stamp batches with the append time;
    // an eighth store them with a codec of the topic's own, as Kafka Streams' users and
    // operators configure topics.
    let mut stamping = Prng::new(seed ^ 0x5354_4D50);
    if !workload.retention_deletes && stamping.chance(125_000) {
        workload.log_append_time = true;
    }
    let mut encoding = Prng::new(seed ^ 0x434F_4445);
    if !workload.retention_deletes && encoding.chance(125_000) {
        let codecs = [
            CompressionType::Uncompressed,
            CompressionType::Gzip,
            CompressionType::Snappy,
            CompressionType::Lz4,
            CompressionType::Zstd,
        ];
        workload.topic_compression = Some(codecs[encoding.range_inclusive(0, 4) as usize]);
    }
    // Half the compacted seeds: a dirty ratio from 0 to 1 (a pass waits for that share of
    // new bytes), segments kept out of compaction for up to 2 s after their last batch, and
    // passes forced 0.1 to 5 s after a segment was made.
    let mut timing = Prng::new(seed ^ 0x4449_5254);
    if workload.compacted && timing.chance(500_000) {
        let ratio_ppm = timing.range_inclusive(0, 1_000_000) as u32;
        let min_lag_ms = timing.range_inclusive(0, 2_000) as i64;
        let max_lag_ms = timing.range_inclusive(100, 5_000).max(min_lag_ms as u64) as i64;
        workload.compaction_timing = Some((ratio_ppm, min_lag_ms, max_lag_ms));
    }
    // Half the compacted seeds without a group: producers delete keys with tombstones, which
    // compaction keeps 0 to 3 s; a full read at the end shows whether any key came back.
    let mut deleting = Prng::new(seed ^ 0x544F_4D42);
    if workload.compacted && workload.group.consumers == 0 && deleting.chance(500_000) {
        workload.tombstones = Some(deleting.range_inclusive(0, 3_000) as i64);
    }
    // An eighth of the seeds create the topic as provisioning tools do, with configs a single
    // broker stores and reports (saved in the topic registry, read back at each restart).
    let mut provisioning = Prng::new(seed ^ 0x5052_4F56);
    workload.provisioned = provisioning.chance(125_000);
    // Half the page-cache seeds: logs whose last sync is 0 to 2 s old are synced at checks
    // every 10 ms to 1 s.
    let mut flushing = Prng::new(seed ^ 0x464C_5348);
    if workload.flush_messages.is_some() && flushing.chance(500_000) {
        let flush_ms = flushing.range_inclusive(0, 2_000) as i64;
        workload.flush_timing = Some((flush_ms, flushing.range_inclusive(10, 1_000) as i64));
    }
    if version < 24 {
        return (faults, workload);
    }
    // An eighth of the seeds with a CreateTime topic: producers flag every other batch
    // LogAppendTime, which the topic stores as CreateTime (a LogAppendTime topic refuses
    // them with INVALID_TIMESTAMP, as Kafka does, and the producers would retry for ever).
    // A quarter of all seeds: plain readers name their partition twice in each Fetch, which
    // the broker reads once, at the offset named last.
    let mut flagging = Prng::new(seed ^ 0x464C_4147);
    workload.flag_append_time = !workload.log_append_time && flagging.chance(125_000);
    let mut naming = Prng::new(seed ^ 0x5457_4943);
    workload.fetch_names_twice = naming.chance(250_000);
    if version < 25 {
        return (faults, workload);
    }
    // An eighth of the seeds: partitions forget idempotent producers whose last batch is 0.5
    // to 10 s old, checked every 50 ms to 1 s.
    let mut forgetting = Prng::new(seed ^ 0x5049_4445);
    if forgetting.chance(125_000) {
        let expiration_ms = forgetting.range_inclusive(500, 10_000) as i32;
        workload.producer_expiry =
            Some((expiration_ms, forgetting.range_inclusive(50, 1_000) as i32));
    }
    if version < 26 {
        return (faults, workload);
    }
    // Half the seeds with tombstones and without retention deletes: the plain readers fetch
    // 1 byte to 2 KiB (at least a batch) and pause 0.1 to 1 s over each answer, so compaction
    // reaches tombstones they have not read yet, which must then stay delete.retention.ms
    // from the first pass that kept them.
    let mut lagging = Prng::new(seed ^ 0x4C41_4747);
    if workload.tombstones.is_some() && !workload.retention_deletes && lagging.chance(500_000) {
        workload.fetch_max_bytes = lagging.range_inclusive(1, 2_048) as i32;
        workload.reader_pause_ms = lagging.range_inclusive(100, 1_000);
        // Never waiting for more than they may be sent (see the draw of reader_fetch_wait).
        let most = workload.fetch_max_bytes;
        workload.reader_fetch_wait =
            workload.reader_fetch_wait.map(|(min_bytes, wait_ms)| (min_bytes.min(most), wait_ms));
    }
    if version < 27 {
        return (faults, workload);
    }
    // Renames that fail, before or after they took effect: in half the seeds with a compacted
    // topic (a compaction's rewrite is put in place by a rename) and a sixteenth of the others
    // (checkpoints and snapshots are written by renames too).
    let mut renaming = Prng::new(seed ^ 0x524E_414D);
    if renaming.chance(if workload.compacted { 500_000 } else { 62_500 }) {
        faults.rename_error_ppm = renaming.range_inclusive(1, 50_000) as u32;
    }
    if version < 28 {
        return (faults, workload);
    }
    // Half the seeds with tombstones: producers end by deleting each of their keys, never
    // written again, so that compaction meets tombstones it may drop only once
    // delete.retention.ms from the pass that first kept them is up.
    let mut ending = Prng::new(seed ^ 0x454E_4445);
    if workload.tombstones.is_some() && ending.chance(500_000) {
        workload.final_tombstones = true;
    }
    (faults, workload)
}

/// A configurer's plan (see [`crate::configure`]): `rounds` times, 0.2 to 4 s after the last
/// step, read `retention.ms` and then set it: to -1 (keep forever) one time in eight, else to
/// 0.1 to 4 s, the range [`draw_retention`] draws from; then read it once more.
pub fn retention_plan(seed: u64, rounds: u32) -> Vec<(u64, Step)> {
    let mut prng = Prng::new(seed);
    let mut at = 0;
    let mut plan = Vec::new();
    for _ in 0..rounds {
        at += prng.range_inclusive(200, 4_000);
        let retention_ms =
            if prng.chance(125_000) { -1 } else { prng.range_inclusive(100, 4_000) as i64 };
        plan.extend([(at, Step::Describe), (at, Step::RetentionMs(retention_ms))]);
    }
    at += prng.range_inclusive(200, 4_000);
    plan.push((at, Step::Describe));
    plan
}

/// Adds to a configurer's `plan`, after each change of `retention.ms` and at its tick, half
/// the time a change of `retention.bytes` (-1, no limit, one time in eight; else half a
/// segment of `segment_bytes` to six, the range the seeds draw it from) and, half the time,
/// one of `segment.ms` (50 ms to 5 s, so segments also roll by age).
pub fn size_and_roll_steps(
    seed: u64,
    plan: Vec<(u64, Step)>,
    segment_bytes: u32,
) -> Vec<(u64, Step)> {
    let mut prng = Prng::new(seed);
    let segment = u64::from(segment_bytes);
    let mut steps = Vec::with_capacity(plan.len() * 2);
    for (at, step) in plan {
        steps.push((at, step));
        if !matches!(step, Step::RetentionMs(_)) {
            continue;
        }
        if prng.chance(500_000) {
            let bytes = if prng.chance(125_000) {
                -1
            } else {
                prng.range_inclusive(segment / 2, 6 * segment) as i64
            };
            steps.push((at, Step::RetentionBytes(bytes)));
        }
        if prng.chance(500_000) {
            steps.push((at, Step::SegmentMs(prng.range_inclusive(50, 5_000) as i64)));
        }
    }
    steps
}

/// Retention that deletes records readers may not have read: `retention.ms` 0.1 to 4 s, in
/// segments of a few batches (they must roll for retention to delete them), never below what
/// a batch of the seed's records needs; in half of the runs the plain readers are slow.
fn draw_retention(workload: &mut Workload, prng: &mut Prng) {
    workload.retention_deletes = true;
    let retention_ms = prng.range_inclusive(100, 4_000);
    workload.retention_ms = Some(retention_ms as i64);
    let least = (4 * (workload.value_padding as u64 + 128)).max(u64::from(SEGMENT_BYTES_MIN));
    let bytes = prng.range_inclusive(least, 2 * least) as u32;
    workload.segment_bytes = Some(workload.segment_bytes.map_or(bytes, |old| old.min(bytes)));
    if prng.chance(500_000) {
        workload.reader_pause_ms = prng.range_inclusive(1, 2 * retention_ms);
    }
}

/// A meddler's plan: Metadata first, in the first 300 ms (most often before any group made
/// the topic), then `rounds - 1` tries drawn from all four (five with `deletes`), each up to
/// 3 s after the last.
fn meddle_plan(rounds: u32, deletes: bool, prng: &mut Prng) -> Vec<(u64, Meddle)> {
    let all =
        [Meddle::Metadata, Meddle::Produce, Meddle::DeleteRecords, Meddle::Grow, Meddle::Delete];
    let kinds = if deletes { all.len() } else { all.len() - 1 };
    let mut at = prng.range_inclusive(0, 300);
    let mut plan = vec![(at, Meddle::Metadata)];
    for _ in 1..rounds {
        at += prng.range_inclusive(0, 3_000);
        plan.push((at, all[prng.range_inclusive(0, kinds as u64 - 1) as usize]));
    }
    plan
}

/// One member's settings: the group's, plus departures drawn from `prng` (each at a tick in
/// the first 15 s, away up to 3 s).
fn member_settings(
    workload: &Workload,
    group_id: &'static str,
    client: u32,
    first: bool,
    prng: &mut Prng,
) -> MemberSettings {
    let group = &workload.group;
    let count = prng.range_inclusive(0, u64::from(group.departures_max));
    let mut departures: Vec<(u64, u64)> = (0..count)
        .map(|_| (prng.range_inclusive(1_000, 15_000), prng.range_inclusive(100, 3_000)))
        .collect();
    match (group.group_break, group.break_visit_ms) {
        (Some((at, away_ms)), Some(visit_ms)) if first => {
            // Back after `visit_ms`; the next departure is due at once, so it leaves again
            // as soon as it has rejoined (and committed).
            let back = at + visit_ms;
            departures.extend([(at, visit_ms), (back, away_ms.saturating_sub(visit_ms))]);
        }
        (group_break, _) => departures.extend(group_break),
    }
    departures.sort_unstable();
    MemberSettings {
        group: group_id,
        topic: TOPIC,
        session_timeout_ms: group.session_timeout_ms,
        rebalance_timeout_ms: group.rebalance_timeout_ms,
        auto_commit_interval_ms: group.auto_commit_interval_ms,
        departures,
        fetch_max_bytes: workload.fetch_max_bytes,
        instance_id: group.static_members.then(|| format!("{group_id}-instance-{client}")),
        departs_silently: group.static_members && group.static_departures_silent,
        resets_to_earliest: workload.retention_deletes,
        notes_presence: group.offsets_retention.is_some(),
        subscription_owned: group.subscription_owned,
    }
}

impl Sim {
    /// A simulation whose fault settings and workload are drawn from `seed`.
    pub fn from_seed(seed: u64) -> Self {
        Self::from_seed_at(seed, SETTINGS_VERSION)
    }

    /// A simulation of what `seed` drew under settings version `version`.
    pub fn from_seed_at(seed: u64, version: u32) -> Self {
        let (faults, workload) = settings_from_seed_at(seed, version);
        Self { settings_version: Some(version), ..Self::new(seed, faults, workload) }
    }

    /// A simulation with explicit settings (scenarios).
    pub fn new(seed: u64, faults: FaultSettings, workload: Workload) -> Self {
        assert!((1..64).contains(&workload.partitions), "1 to 63 partitions");
        assert!(
            workload.grow_from.is_none_or(|from| {
                (1..workload.partitions).contains(&from) && workload.group.consumers == 0
            }),
            "a topic grows from fewer partitions, without a group"
        );
        assert!(
            workload.purge_every.is_none()
                || (workload.consumers <= workload.partitions as u32
                    && workload.group.consumers == 0),
            "purging readers read their partitions alone"
        );
        assert!(
            !workload.compacted
                || (workload.group.consumers == 0 && workload.purge_every.is_none()),
            "a compacted topic has no group (which reads offsets one after another) and no purge"
        );
        let mut prng = Prng::new(seed ^ 0x5157_4D00);
        let disk = SimDisk::new(prng.next_u64());
        let mut config = BrokerConfig::default();
        config.group.offsets_topic_partitions = workload.group.offsets_topic_partitions;
        config.group.initial_rebalance_delay_ms = workload.group.initial_rebalance_delay_ms;
        if let Some(bytes) = workload.group.offsets_segment_bytes {
            config.group.offsets_topic_segment_bytes = bytes;
        }
        if workload.compacted || workload.group.offsets_segment_bytes.is_some() {
            config.log_cleaner_backoff_ms = 1000;
        }
        if let Some((bytes, _)) = workload.cleaner_steps {
            config.log_cleaner_step_bytes = bytes;
        }
        if workload.retention_ms.is_some() {
            // Checked often where compaction runs in steps, so retention comes between them.
            let stepping = workload.cleaner_steps.is_some();
            config.log_retention_check_interval_ms = if stepping { 100 } else { 1000 };
        }
        if let Some((retention_ms, check_ms)) = workload.group.offsets_retention {
            config.group.offsets_retention_ms = retention_ms as i64;
            config.group.offsets_retention_check_interval_ms = check_ms;
        }
        if let Some(messages) = workload.flush_messages {
            config.topic_defaults.flush_messages = messages;
        }
        if let Some((flush_ms, check_ms)) = workload.flush_timing {
            config.topic_defaults.flush_ms = flush_ms;
            config.log_flush_scheduler_interval_ms = check_ms;
        }
        // Producers are forgotten only where a seed draws it: Kafka's default (a day) could
        // be reached through the wall clock's jumps, which the checkers do not model.
        let (expiration_ms, check_ms) = workload.producer_expiry.unwrap_or((i32::MAX, 600_000));
        config.producer_id_expiration_ms = expiration_ms;
        config.producer_id_expiration_check_interval_ms = check_ms;
        let (mut node, _) = Node::open(config.clone(), disk, prng.next_u64(), 0, WALL_START_MS)
            .map_err(|(error, _)| error)
            .expect("a fresh node on a fault-free disk opens");
        // Disk faults start once the node is up.
        node.storage_mut().set_faults(DiskFaults {
            sync_error_ppm: faults.sync_error_ppm,
            remove_error_ppm: faults.remove_error_ppm,
            rename_error_ppm: faults.rename_error_ppm,
            eio_forgets: faults.eio_forgets,
            ..Default::default()
        });
        let admin = Role::Admin {
            partitions: workload.partitions,
            configs: workload.configs(),
            grow_from: workload.grow_from,
            alter_segment_bytes: workload.alter_segment_bytes,
        };
        let mut clients = vec![ClientState::new(Client::new(0, admin))];
        // Producers note their requests' sizes where a size limit may be in force, for the
        // checker of what retention.bytes may delete.
        let notes_sizes =
            workload.retention_bytes.is_some() || workload.alter_size_and_roll.is_some();
        for index in 0..workload.producers {
            let role = Role::Producer {
                partition: (index as i32) % workload.partitions,
                acks: if index % 2 == 0 { -1 } else { 1 },
                idempotent: index % 2 == 1 || prng.chance(workload.idempotent_ppm),
                batches: workload.batches_per_producer,
            };
            let mut producer = Client::new(1 + index, role);
            producer.keyed = workload.compacted;
            producer.tombstones = workload.tombstones.is_some();
            producer.final_tombstones = workload.final_tombstones;
            producer.stamps_records =
                workload.retention_deletes || workload.producer_expiry.is_some();
            producer.notes_sizes = notes_sizes;
            producer.set_in_flight_max(workload.in_flight_max);
            producer.compression = workload.compression;
            producer.padding = workload.value_padding;
            producer.flags_append_time = workload.flag_append_time;
            if workload.spread {
                producer.spread_over(workload.partitions);
            }
            clients.push(ClientState::new(producer));
        }
        for index in 0..workload.acks_zero_producers {
            let role = Role::Producer {
                partition: (index as i32) % workload.partitions,
                acks: 0,
                idempotent: false,
                batches: workload.batches_per_producer,
            };
            let mut producer = Client::new(clients.len() as u32, role);
            producer.keyed = workload.compacted;
            producer.tombstones = workload.tombstones.is_some();
            producer.final_tombstones = workload.final_tombstones;
            producer.stamps_records =
                workload.retention_deletes || workload.producer_expiry.is_some();
            producer.notes_sizes = notes_sizes;
            producer.compression = workload.compression;
            producer.padding = workload.value_padding;
            producer.flags_append_time = workload.flag_append_time;
            clients.push(ClientState::new(producer));
        }
        // Every partition has a reader, so every acknowledged record is checked.
        for index in 0..workload.consumers.max(workload.partitions as u32) {
            let partition = (index as i32) % workload.partitions;
            let role = Role::Consumer { partition, purge_every: workload.purge_every };
            let id = clients.len() as u32;
            let mut reader = Client::new(id, role);
            reader.fetch_max_bytes = workload.fetch_max_bytes;
            reader.resets_to_earliest = workload.retention_deletes;
            reader.pause_after_records_ms = workload.reader_pause_ms;
            if let Some(wait) = workload.reader_fetch_wait {
                reader.fetch_wait = wait;
            }
            reader.notes_batches = workload.log_append_time
                || workload.topic_compression.is_some()
                || workload.flag_append_time;
            reader.names_twice = workload.fetch_names_twice;
            clients.push(ClientState::new(reader));
        }
        let mut history = History::default();
        history.opens.push((0, WALL_START_MS));
        history.wall_pieces.push((0, faults.clock_drift_ppm, 0));
        for member in 0..workload.group.consumers {
            let id = clients.len() as u32;
            let settings = member_settings(&workload, GROUP, id, member == 0, &mut prng);
            if settings.instance_id.is_some() {
                history.set_static(id);
            }
            clients.push(ClientState::new(Client::group_consumer(id, settings)));
        }
        assert!(
            workload.second_group == 0 || workload.group.consumers > 0,
            "a second group comes with a first"
        );
        for _ in 0..workload.second_group {
            let id = clients.len() as u32;
            let settings = member_settings(&workload, SECOND_GROUP, id, false, &mut prng);
            if settings.instance_id.is_some() {
                history.set_static(id);
            }
            history.set_group(id, SECOND_GROUP);
            clients.push(ClientState::new(Client::group_consumer(id, settings)));
        }
        if workload.meddle_rounds > 0 {
            let id = clients.len() as u32;
            assert!(
                !workload.meddle_deletes || workload.group.consumers == 0,
                "deleting __consumer_offsets takes a group's acknowledged commits"
            );
            let plan = meddle_plan(workload.meddle_rounds, workload.meddle_deletes, &mut prng);
            let offsets_partitions = workload.group.offsets_topic_partitions;
            let meddler = Meddler::new(id, plan, offsets_partitions, workload.partitions);
            clients.push(ClientState::new(Client::meddler(id, meddler)));
        }
        if let Some((cycles, records, linger_ms, idempotent)) = workload.churn {
            let id = clients.len() as u32;
            // Small segments: a deletion removes several files.
            let segment_bytes = SEGMENT_BYTES_MIN;
            let mut churner =
                Churner::new(id, cycles, records, segment_bytes, linger_ms, idempotent);
            if workload.churn_forgets_offsets {
                churner = churner.forgetting_offsets();
            }
            clients.push(ClientState::new(Client::churner(id, churner)));
        }
        let mut groups = vec![GROUP];
        if workload.second_group > 0 {
            groups.push(SECOND_GROUP);
        }
        let topic = (TOPIC, workload.partitions);
        if let Some((every_ms, rounds)) = workload.observe {
            let schedule = (every_ms, Some(rounds));
            let id = clients.len() as u32;
            let mut plan = vec![Ask::List, Ask::Describe];
            if workload.observe_offsets {
                plan.push(Ask::Offsets);
            }
            let observer = Observer::new(id, groups.clone(), topic, schedule, plan);
            clients.push(ClientState::new(Client::observer(id, observer)));
        }
        if let Some(every_ms) = workload.lag_monitor {
            let id = clients.len() as u32;
            let schedule = (every_ms, None);
            let monitor = Observer::new(id, groups, topic, schedule, vec![Ask::Offsets]);
            clients.push(ClientState::new(Client::observer(id, monitor)));
        }
        if let Some((every_ms, count)) = workload.churn_racer {
            assert!(workload.churn.is_some(), "a racer races a churner");
            let id = clients.len() as u32;
            clients.push(ClientState::new(Client::racer(id, Racer::new(id, every_ms, count))));
        }
        if let Some((plan_seed, rounds)) = workload.alter_retention {
            assert!(workload.retention_ms.is_some(), "a configurer changes a topic's retention");
            let id = clients.len() as u32;
            let mut plan = retention_plan(plan_seed, rounds);
            if let Some(steps_seed) = workload.alter_size_and_roll {
                let segment_bytes = workload.segment_bytes.expect("retention draws a segment size");
                plan = size_and_roll_steps(steps_seed, plan, segment_bytes);
            }
            let mut configurer = Configurer::new(id, plan);
            if workload.alter_retention_whole {
                configurer = configurer.altering_whole(workload.configs());
            }
            clients.push(ClientState::new(Client::configurer(id, configurer)));
        }
        let mut sim = Self {
            seed,
            faults,
            prng,
            queue: Queue::default(),
            now: 0,
            node: Some(node),
            parked_disk: None,
            generation: 1,
            paused_until: 0,
            held: VecDeque::new(),
            timer_at: None,
            timer_late_ms: workload.cleaner_steps.map_or(0, |(_, late_ms)| late_ms),
            page_cache: workload.flush_messages.is_some(),
            node_reloads: 0,
            clients,
            connection_owner: BTreeMap::new(),
            fifo: BTreeMap::new(),
            next_connection: 1,
            clock_offset_ms: 0,
            history,
            events: 0,
            faults_injected: 0,
            trace: 0xcbf2_9ce4_8422_2325,
            recent: VecDeque::new(),
            verbose: false,
            stats_max: NodeStats::default(),
            topics_changed_by_restart: None,
            topics_at_stop: None,
            topics_unsure: false,
            topics_put_right: false,
            registry_checks_after_put_right: 0,
            closed_by_node: 0,
            disk_full: false,
            healed: false,
            partitions: workload.partitions,
            compacted: workload.compacted,
            retention_ms: workload.retention_ms.filter(|_| workload.retention_deletes),
            retention_bytes: workload.retention_bytes.filter(|_| workload.retention_deletes),
            log_append_time: workload.log_append_time,
            topic_codec: workload.topic_compression.and_then(CompressionType::target),
            flush_timing: workload.flush_timing,
            offsets_retention_ms: workload.group.offsets_retention.map(|(ms, _)| ms),
            producer_expiration_ms: workload.producer_expiry.map(|(ms, _)| i64::from(ms)),
            wall_max_ms: WALL_START_MS,
            tombstones_kept: workload
                .tombstones
                .filter(|_| faults.clock_jump_ppm == 0 && !workload.retention_deletes)
                .map(|kept_ms| (kept_ms, faults.clock_drift_ppm)),
            offsets_offline: BTreeSet::new(),
            settings_version: None,
            config,
            outputs: Vec::new(),
        };
        for client in 0..sim.clients.len() as u32 {
            sim.schedule(0, Event::ClientWake { client });
        }
        sim.schedule(FAULT_TICK_MS, Event::FaultTick);
        sim.arm_node_timer();
        sim
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.queue.push(at, event);
    }

    /// The simulated wall clock now: the history keeps its pieces (drift and jumps), so that
    /// checkers know what the node read.
    fn wall_ms(&self) -> i64 {
        self.history.wall_at(self.now)
    }

    /// Starts a new piece of the wall clock now, after its drift or offset changed.
    fn note_wall_piece(&mut self) {
        let piece = (self.now, self.faults.clock_drift_ppm, self.clock_offset_ms);
        match self.history.wall_pieces.last_mut() {
            Some(last) if last.0 == piece.0 => *last = piece,
            _ => self.history.wall_pieces.push(piece),
        }
    }

    fn latency(&mut self) -> u64 {
        let (low, high) = (
            self.faults.latency_min_ms,
            self.faults.latency_max_ms.max(self.faults.latency_min_ms),
        );
        let base = self.prng.range_inclusive(low, high);
        if self.prng.chance(50_000) {
            base * self.prng.range_inclusive(2, 10)
        } else {
            base
        }
    }

    /// When a message sent now on `connection` in `direction` arrives (FIFO per connection).
    fn arrival(&mut self, connection: u64, to_node: bool) -> u64 {
        let at = self.now + self.latency();
        let last = self.fifo.entry((connection, to_node)).or_insert(0);
        *last = (*last).max(at);
        *last
    }

    fn note(&mut self, text: String) {
        if self.verbose {
            println!("  {text}");
        }
        if self.recent.len() == EVENTS_REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back(text);
    }

    /// Runs until `ticks_max` or until the queue is empty.
    pub fn run_until(&mut self, ticks_max: u64) {
        while let Some(at) = self.queue.peek_at() {
            if at > ticks_max {
                break;
            }
            let (at, event) = self.queue.pop().expect("peeked");
            assert!(at >= self.now, "time never goes backwards");
            self.now = at;
            self.history.now = at;
            self.events += 1;
            self.process(event);
        }
        self.now = self.now.max(ticks_max.min(self.now.max(ticks_max)));
    }

    /// Runs until `done` holds or `ticks_max` passes; returns whether `done` held.
    pub fn run_while(&mut self, ticks_max: u64, mut done: impl FnMut(&Self) -> bool) -> bool {
        while !done(self) {
            let Some(at) = self.queue.peek_at() else { return false };
            if at > ticks_max {
                return false;
            }
            let (at, event) = self.queue.pop().expect("peeked");
            self.now = at;
            self.history.now = at;
            self.events += 1;
            self.process(event);
        }
        true
    }

    fn process(&mut self, event: Event) {
        match event {
            Event::ClientWake { client } => self.client_wake(client),
            Event::ClientTimeout { client } => self.client_timeout(client),
            Event::ToNode { connection, generation, body } => {
                if generation != self.generation || self.node.is_none() {
                    return;
                }
                if self.now < self.paused_until || !self.held.is_empty() {
                    if self.held.is_empty() {
                        let at = self.paused_until.max(self.now);
                        self.schedule(at, Event::Resume { generation });
                    }
                    self.held.push_back((connection, body));
                    return;
                }
                self.node_input(Input::Request { connection: ConnectionId(connection), body });
            }
            Event::Resume { generation } => {
                if generation != self.generation || self.node.is_none() {
                    return;
                }
                if self.now < self.paused_until {
                    let at = self.paused_until;
                    self.schedule(at, Event::Resume { generation });
                    return;
                }
                while let Some((connection, body)) = self.held.pop_front() {
                    self.node_input(Input::Request { connection: ConnectionId(connection), body });
                }
            }
            Event::NodeSeesClose { connection, generation } => {
                if generation == self.generation && self.node.is_some() {
                    self.node_input(Input::Closed { connection: ConnectionId(connection) });
                }
            }
            Event::ToClient { client, connection, frame, generation, reloads } => {
                self.history.answered_by = generation;
                self.history.answered_reloads = reloads;
                self.client_receive(client, connection, frame)
            }
            Event::ConnectionReset { client, connection } => self.client_reset(client, connection),
            Event::NodeTimer { generation } => {
                if generation != self.generation || self.node.is_none() {
                    return;
                }
                self.timer_at = None;
                if self.now < self.paused_until {
                    let at = self.paused_until;
                    self.timer_at = Some(at);
                    self.schedule(at, Event::NodeTimer { generation });
                    return;
                }
                self.node_input(Input::Timer);
            }
            Event::SyncDone { id, generation, files } => {
                if generation != self.generation {
                    return;
                }
                let Some(node) = self.node.as_mut() else { return };
                let mut result = Ok(());
                for file in &files {
                    if let Err(error) =
                        sluice_core::log::sync_files(node.storage_mut(), std::slice::from_ref(file))
                    {
                        result = Err(error);
                        break;
                    }
                }
                self.node_input(Input::Synced { id, result });
            }
            Event::FaultTick => self.fault_tick(),
            Event::Restart => self.restart(),
        }
    }

    fn node_input(&mut self, input: Input) {
        let (now, wall) = (self.now, self.wall_ms());
        self.wall_max_ms = self.wall_max_ms.max(wall);
        let Some(node) = self.node.as_mut() else { return };
        node.handle(now, wall, input);
        let stats = node.stats();
        self.node_reloads = stats.offsets_reloads;
        // One buffer for every input's outputs, kept between inputs (no allocation per event).
        let mut outputs = std::mem::take(&mut self.outputs);
        assert!(outputs.is_empty(), "outputs are drained before the next input");
        while let Some(output) = node.poll_output() {
            outputs.push(output);
        }
        self.stats_max.connections = self.stats_max.connections.max(stats.connections);
        self.stats_max.pending_produces =
            self.stats_max.pending_produces.max(stats.pending_produces);
        self.stats_max.parked_fetches = self.stats_max.parked_fetches.max(stats.parked_fetches);
        self.stats_max.slots_per_connection_max =
            self.stats_max.slots_per_connection_max.max(stats.slots_per_connection_max);
        self.stats_max.queued_outputs = self.stats_max.queued_outputs.max(outputs.len());
        for output in outputs.drain(..) {
            self.node_output(output);
        }
        self.outputs = outputs;
        self.arm_node_timer();
        self.note_offline_offsets_partitions();
    }

    /// Notes in the history each `__consumer_offsets` partition that went offline, for the
    /// checker of what the coordinator answers about its groups. Only where a disk fault can
    /// take a log offline (it reads every log of the topic).
    fn note_offline_offsets_partitions(&mut self) {
        let faults = &self.faults;
        if faults.sync_error_ppm == 0
            && faults.remove_error_ppm == 0
            && faults.rename_error_ppm == 0
            && faults.disk_full_ppm == 0
        {
            return;
        }
        let Some(node) = self.node.as_ref() else { return };
        let generation = self.generation;
        let offline: Vec<i32> = node
            .logs()
            .partitions()
            .filter(|partition| partition.topic == OFFSETS_TOPIC)
            .filter(|partition| {
                node.logs().log(partition).is_some_and(|log| log.offline_reason().is_some())
            })
            .map(|partition| partition.partition)
            .filter(|&partition| !self.offsets_offline.contains(&(generation, partition)))
            .collect();
        for partition in offline {
            self.offsets_offline.insert((generation, partition));
            self.history
                .push(Operation::OffsetsPartitionOffline { partition, incarnation: generation });
        }
    }

    fn arm_node_timer(&mut self) {
        let Some(deadline) = self.node.as_ref().and_then(Node::poll_timeout) else { return };
        let deadline = if deadline <= self.now { self.now + self.timer_late_ms } else { deadline };
        if self.timer_at.is_none_or(|armed| deadline < armed) {
            self.timer_at = Some(deadline);
            let generation = self.generation;
            self.schedule(deadline, Event::NodeTimer { generation });
        }
    }

    fn node_output(&mut self, output: Output) {
        match output {
            Output::Send { connection, frame } => {
                // One buffer per frame: the simulated network carries whole frames.
                let frame = frame.to_bytes();
                self.trace = trace_hash(trace_hash(self.trace, b"send"), &frame);
                let Some(&client) = self.connection_owner.get(&connection.0) else { return };
                let state = &mut self.clients[client as usize];
                if self.now < state.cut_until.1 || state.deaf == Some(connection.0) {
                    // Lost on the way back, and so is everything after it on this connection;
                    // the client will time out. (Only its current connection needs marking:
                    // it ignores answers on connections it abandoned.)
                    if state.connection == Some(connection.0) {
                        state.deaf = Some(connection.0);
                    }
                    return;
                }
                let scripted = self.clients[client as usize].reset_next_answer;
                if scripted
                    || (self.faults.reset_ppm > 0 && self.prng.chance(self.faults.reset_ppm))
                {
                    self.clients[client as usize].reset_next_answer = false;
                    self.inject_reset(client, connection.0);
                    return;
                }
                let at = self.arrival(connection.0, false);
                let (generation, reloads) = (self.generation, self.node_reloads);
                let connection = connection.0;
                let event = Event::ToClient { client, connection, frame, generation, reloads };
                self.schedule(at, event);
            }
            Output::Close { connection, reason } => {
                self.trace = trace_hash(trace_hash(self.trace, b"close"), reason.as_bytes());
                self.closed_by_node += 1;
                if let Some(&client) = self.connection_owner.get(&connection.0) {
                    let at = self.arrival(connection.0, false);
                    self.schedule(at, Event::ConnectionReset { client, connection: connection.0 });
                }
            }
            Output::Sync { id, files } => {
                self.trace = trace_hash(trace_hash(self.trace, b"sync"), &id.to_be_bytes());
                let mut delay = self.faults.sync_ms;
                if self.faults.slow_sync_ppm > 0 && self.prng.chance(self.faults.slow_sync_ppm) {
                    delay += self.prng.range_inclusive(100, 2000);
                }
                let generation = self.generation;
                let at = self.now + delay;
                self.schedule(at, Event::SyncDone { id, generation, files });
            }
            Output::Log { message, .. } => {
                if message.contains("the registry on disk may hold that change") {
                    self.topics_unsure = true;
                } else if message.contains("the topic registry on disk agrees with the broker") {
                    // A later save succeeded: the file holds what memory does again.
                    self.topics_unsure = false;
                    self.topics_put_right = true;
                }
                self.note(format!("{} node: {message}", self.now))
            }
        }
    }

    fn inject_reset(&mut self, client: u32, connection: u64) {
        self.faults_injected += 1;
        self.note(format!("{} fault: reset connection {connection}", self.now));
        let at = self.now + self.latency();
        self.schedule(at, Event::ConnectionReset { client, connection });
        let generation = self.generation;
        self.schedule(at, Event::NodeSeesClose { connection, generation });
        // Nothing more gets through in either direction.
        self.fifo.insert((connection, true), u64::MAX / 2);
        let state = &mut self.clients[client as usize];
        if state.connection == Some(connection) {
            state.deaf = Some(connection);
        }
    }

    fn client_wake(&mut self, client: u32) {
        // A pipelining producer sends up to its `max.in.flight` requests at once.
        loop {
            let state = &self.clients[client as usize];
            if state.inflight.len() >= state.client.in_flight_max() {
                return;
            }
            if !self.client_send(client) {
                return;
            }
        }
    }

    /// Sends the client's next request, if it has one now; false if it did not send.
    fn client_send(&mut self, client: u32) -> bool {
        let now = self.now;
        let state = &mut self.clients[client as usize];
        let (request, version, timeout_ms) = match state.client.poll_request(now) {
            Next::Send { request, version, timeout_ms } => (request, version, timeout_ms),
            Next::WakeAt(at) => {
                assert!(at > now, "client {client} asked to wake at {at}, now {now}");
                self.schedule(at, Event::ClientWake { client });
                return false;
            }
            Next::Idle => return false,
        };
        if self.node.is_none() || self.now < state.cut_until.0 {
            // Cannot connect now: try again after a backoff (an answer to what is in flight
            // wakes it too).
            let at = self.now + BACKOFF_MS;
            self.schedule(at, Event::ClientWake { client });
            return false;
        }
        let connection = match state.connection {
            Some(connection) => connection,
            None => {
                let connection = self.next_connection;
                self.next_connection += 1;
                self.connection_owner.insert(connection, client);
                self.clients[client as usize].connection = Some(connection);
                connection
            }
        };
        let state = &mut self.clients[client as usize];
        state.next_correlation += 1;
        let correlation = state.next_correlation;
        let header = RequestHeader {
            api_key: request.api_key(),
            api_version: version,
            correlation_id: correlation,
            client_id: Some(state.client.client_id.clone()),
            ..Default::default()
        };
        let mut frame = BytesMut::with_capacity(REQUEST_BYTES_EXPECTED);
        encode_request(&header, &request, &mut frame);
        let body = frame.freeze().slice(4..);
        let unanswered = matches!(&request, Request::Produce(produce) if produce.acks == 0);
        if unanswered {
            // No answer comes: nothing is in flight, and the producer sends again after a
            // pause, as a producer with acks=0 goes on after `linger.ms`.
            state.client.on_sent(&mut self.history);
            state.client.on_unanswered();
            self.schedule(now + ACKS_ZERO_PAUSE_MS, Event::ClientWake { client });
        } else {
            let deadline = self.now + timeout_ms.unwrap_or(self.faults.request_timeout_ms);
            let inflight = Inflight { correlation, api_key: header.api_key, version, deadline };
            state.inflight.push_back(inflight);
            state.client.on_sent(&mut self.history);
            self.arm_client_timer(client, deadline);
        }
        if self.faults.reset_ppm > 0 && self.prng.chance(self.faults.reset_ppm) {
            self.inject_reset(client, connection);
            return false;
        }
        let at = self.arrival(connection, true);
        let generation = self.generation;
        self.schedule(at, Event::ToNode { connection, generation, body });
        // An unanswered request's client waits for its pause, not for more room in flight.
        !unanswered
    }

    /// Makes sure a ClientTimeout fires at or before `deadline`. Most requests are answered
    /// long before their timeout, so rather than one queued event per request (which would
    /// crowd the queue with stale timers), each client keeps at most one: a timer that fires
    /// before the request in flight is due re-arms itself for that request's deadline.
    fn arm_client_timer(&mut self, client: u32, deadline: u64) {
        let state = &mut self.clients[client as usize];
        if state.timer_at.is_some_and(|at| at <= deadline) {
            return;
        }
        state.timer_at = Some(deadline);
        self.schedule(deadline, Event::ClientTimeout { client });
    }

    fn client_timeout(&mut self, client: u32) {
        let now = self.now;
        let state = &mut self.clients[client as usize];
        if state.timer_at != Some(now) {
            return; // superseded by an earlier timer
        }
        state.timer_at = None;
        // The oldest request is due first: all share one timeout, except a group's long
        // polls, which are sent alone.
        let Some(deadline) = state.inflight.iter().map(|inflight| inflight.deadline).min() else {
            return;
        };
        if deadline > now {
            self.arm_client_timer(client, deadline);
            return;
        }
        let state = &mut self.clients[client as usize];
        // Abandon the connection (its close reaches the broker after what was sent) and retry
        // everything that was in flight on it.
        state.inflight.clear();
        let abandoned = state.connection.take();
        state.client.on_lost(self.now, &mut self.history);
        if let Some(connection) = abandoned {
            let at = self.arrival(connection, true);
            let generation = self.generation;
            self.schedule(at, Event::NodeSeesClose { connection, generation });
        }
        let at = self.now + BACKOFF_MS;
        self.schedule(at, Event::ClientWake { client });
    }

    fn client_reset(&mut self, client: u32, connection: u64) {
        let state = &mut self.clients[client as usize];
        if state.connection != Some(connection) {
            return;
        }
        state.connection = None;
        if !state.inflight.is_empty() {
            state.inflight.clear();
            state.client.on_lost(self.now, &mut self.history);
        }
        let at = self.now + BACKOFF_MS;
        self.schedule(at, Event::ClientWake { client });
    }

    fn client_receive(&mut self, client: u32, connection: u64, frame: Bytes) {
        let state = &mut self.clients[client as usize];
        if state.connection != Some(connection) {
            return; // an abandoned connection's late answer
        }
        let Some(inflight) = state.inflight.pop_front() else { return };
        let body = frame.slice(4..);
        let (header, response) = decode_response(inflight.api_key, inflight.version, body)
            .unwrap_or_else(|error| {
                panic!("seed {}: the broker sent an undecodable response: {error}", self.seed)
            });
        assert_eq!(
            header.correlation_id, inflight.correlation,
            "responses arrive in request order (client {client}, connection {connection})"
        );
        let back_off = state.client.on_response(self.now, response, &mut self.history);
        let at = self.now + if back_off { BACKOFF_MS } else { 0 };
        self.schedule(at, Event::ClientWake { client });
    }

    fn fault_tick(&mut self) {
        if self.healed {
            return;
        }
        let next = self.now + FAULT_TICK_MS;
        self.schedule(next, Event::FaultTick);
        if self.node.is_some()
            && self.faults.crash_ppm > 0
            && self.prng.chance(self.faults.crash_ppm)
        {
            if self.page_cache {
                self.faults_injected += 1;
                self.note(format!("{} fault: process crash", self.now));
                self.process_restart();
            } else {
                self.power_loss();
            }
        }
        if self.faults.pause_ppm > 0 && self.prng.chance(self.faults.pause_ppm) {
            self.faults_injected += 1;
            // A pause within a pause never ends it early: requests held by the first are
            // delivered, in order, when the node runs again.
            let until = self.now + self.prng.range_inclusive(10, 3000);
            self.paused_until = self.paused_until.max(until);
            self.note(format!("{} fault: pause until {}", self.now, self.paused_until));
        }
        if self.faults.partition_ppm > 0 && self.prng.chance(self.faults.partition_ppm) {
            let client = self.prng.below(self.clients.len() as u64) as usize;
            let until = self.now + self.prng.range_inclusive(100, 5000);
            let direction = self.prng.below(3);
            self.faults_injected += 1;
            let state = &mut self.clients[client];
            if direction != 1 {
                state.cut_until.0 = until;
            }
            if direction != 0 {
                state.cut_until.1 = until;
            }
            self.note(format!(
                "{} fault: partition client {client} direction {direction} until {until}",
                self.now
            ));
        }
        if self.faults.clock_jump_ppm > 0 && self.prng.chance(self.faults.clock_jump_ppm) {
            self.faults_injected += 1;
            let jump = self.prng.range_inclusive(0, 7_200_000) as i64 - 3_600_000;
            self.clock_offset_ms += jump;
            self.note_wall_piece();
            self.note(format!("{} fault: wall clock jumps {jump} ms", self.now));
        }
        if self.faults.hostile_frame_ppm > 0 && self.prng.chance(self.faults.hostile_frame_ppm) {
            // A stranger's damaged request, on a connection it closes at once.
            let body = crate::hostile::damaged_request(&mut self.prng, self.faults.hostile_writes);
            let (connection, closed_before) = (self.next_connection, self.closed_by_node);
            self.inject_frame(body);
            let closed = self.closed_by_node > closed_before;
            self.note(format!(
                "{} fault: a stranger's damaged request on connection {connection} (closed by the node: {closed})",
                self.now
            ));
            if self.node.is_some() {
                self.node_input(Input::Closed { connection: ConnectionId(connection) });
            }
        }
        if self.faults.disk_full_ppm > 0 && self.prng.chance(self.faults.disk_full_ppm) {
            self.faults_injected += 1;
            self.disk_full = !self.disk_full;
            self.apply_disk_faults();
            self.note(format!("{} fault: disk full = {}", self.now, self.disk_full));
        }
    }

    fn apply_disk_faults(&mut self) {
        let full = self.disk_full;
        let sync_error_ppm = if self.healed { 0 } else { self.faults.sync_error_ppm };
        let remove_error_ppm = if self.healed { 0 } else { self.faults.remove_error_ppm };
        let rename_error_ppm = if self.healed { 0 } else { self.faults.rename_error_ppm };
        let eio_forgets = self.faults.eio_forgets;
        let apply = |disk: &mut SimDisk| {
            let capacity = if full { disk.used_bytes() + 200 } else { 0 };
            disk.set_faults(DiskFaults {
                sync_error_ppm,
                remove_error_ppm,
                rename_error_ppm,
                capacity_bytes: capacity,
                eio_forgets,
                ..Default::default()
            });
        };
        if let Some(node) = self.node.as_mut() {
            apply(node.storage_mut());
        }
        if let Some(disk) = self.parked_disk.as_mut() {
            apply(disk);
        }
    }

    /// Power loss: the node stops at once, its disk drops or tears every unsynced byte, and it
    /// restarts after a short downtime.
    pub fn power_loss(&mut self) {
        let Some(mut node) = self.node.take() else { return };
        self.note_topics_at_stop(&node);
        self.faults_injected += 1;
        let mut disk = std::mem::replace(node.storage_mut(), SimDisk::new(0));
        let report = disk.crash();
        self.note(format!("{} fault: power loss {report:?}", self.now));
        self.parked_disk = Some(disk);
        self.generation += 1;
        self.held.clear();
        self.timer_at = None;
        self.paused_until = 0;
        for client in 0..self.clients.len() {
            if let Some(connection) = self.clients[client].connection {
                let at = self.now + 1;
                self.schedule(at, Event::ConnectionReset { client: client as u32, connection });
            }
        }
        let downtime = self.prng.range_inclusive(1, 2000);
        let at = self.now + downtime;
        self.schedule(at, Event::Restart);
    }

    fn restart(&mut self) {
        if self.node.is_some() {
            return;
        }
        let Some(disk) = self.parked_disk.take() else { return };
        let seed = self.prng.next_u64();
        let wall_ms = self.wall_ms();
        self.wall_max_ms = self.wall_max_ms.max(wall_ms);
        match Node::open(self.config.clone(), disk, seed, self.now, wall_ms) {
            Ok((node, report)) => {
                self.history.opens.push((self.now, wall_ms));
                self.note(format!(
                    "{} restart: clean={} truncated={:?}",
                    self.now, report.clean_shutdown, report.truncated
                ));
                self.compare_topics_after_restart(&node);
                self.node = Some(node);
                self.history.push(Operation::NodeRestarted);
                self.arm_node_timer();
            }
            Err((error, disk)) => {
                // As a supervisor would: keep the disk and try again a little later.
                self.note(format!("{} restart failed: {error}", self.now));
                self.parked_disk = Some(disk);
                let at = self.now + BACKOFF_MS * 5;
                self.schedule(at, Event::Restart);
            }
        }
    }

    /// Notes the first topic whose registry entry differs from what the node held when it
    /// stopped (see `topics_changed_by_restart`).
    fn compare_topics_after_restart(&mut self, node: &Node<SimDisk>) {
        let Some(before) = self.topics_at_stop.take() else { return };
        if self.topics_changed_by_restart.is_some() {
            return;
        }
        let after = describe_topics(node);
        let whole = |entry: Option<&(String, String)>| entry.map(|entry| entry.0.clone());
        let mut names = before.keys().chain(after.keys());
        let Some(name) = names.find(|name| whole(before.get(*name)) != whole(after.get(*name)))
        else {
            return;
        };
        let shown = |entry: Option<&(String, String)>| {
            entry.map_or("no such topic".to_string(), |entry| entry.1.clone())
        };
        self.topics_changed_by_restart = Some(format!(
            "topic {name} was [{}] when the node stopped and [{}] after it started again at {}",
            shown(before.get(name)),
            shown(after.get(name)),
            self.now
        ));
    }

    /// Notes the topics `node` holds as it stops, unless it said its registry may differ.
    fn note_topics_at_stop(&mut self, node: &Node<SimDisk>) {
        let unsure = std::mem::take(&mut self.topics_unsure);
        let put_right = std::mem::take(&mut self.topics_put_right);
        self.registry_checks_after_put_right += u64::from(!unsure && put_right);
        self.topics_at_stop = (!unsure).then(|| describe_topics(node));
    }

    /// Ends every fault: the network heals, the disk has room and syncs succeed, and a downed
    /// node restarts. The liveness phase follows.
    pub fn heal(&mut self) {
        self.healed = true;
        self.faults =
            FaultSettings { latency_min_ms: 1, latency_max_ms: 5, ..FaultSettings::none() };
        self.note_wall_piece();
        self.paused_until = 0;
        if !self.held.is_empty() {
            let (at, generation) = (self.now, self.generation);
            self.schedule(at, Event::Resume { generation });
        }
        self.disk_full = false;
        for state in &mut self.clients {
            state.cut_until = (0, 0);
        }
        // Slow readers catch up: a reader waiting out its pause fetches again now.
        let now = self.now;
        for client in 0..self.clients.len() as u32 {
            if self.clients[client as usize].client.stop_pausing(now) {
                self.schedule(now, Event::ClientWake { client });
            }
        }
        self.apply_disk_faults();
        self.restart();
        // A log taken offline by an fsync error stays offline until the process restarts,
        // as in Kafka: healing restarts it (cleanly, if it is up).
        if self.node.as_ref().is_some_and(|node| {
            node.logs().partitions().any(|partition| {
                node.logs().log(partition).is_some_and(|log| log.offline_reason().is_some())
            })
        }) {
            self.process_restart();
        }
    }

    /// The process dies and restarts at once, without power loss: written bytes survive,
    /// except the unsynced bytes of files whose fsync failed under `eio_forgets`.
    pub fn process_restart(&mut self) {
        let Some(mut node) = self.node.take() else { return };
        self.note_topics_at_stop(&node);
        let mut disk = std::mem::replace(node.storage_mut(), SimDisk::new(0));
        let report = disk.process_restart();
        if report != CrashReport::default() {
            self.note(format!("{} process restart after EIO: {report:?}", self.now));
        }
        self.parked_disk = Some(disk);
        self.generation += 1;
        self.held.clear();
        self.timer_at = None;
        for client in 0..self.clients.len() {
            if let Some(connection) = self.clients[client].connection {
                let at = self.now + 1;
                self.schedule(at, Event::ConnectionReset { client: client as u32, connection });
            }
        }
        self.restart();
    }

    /// Whether every producer finished, every consumer caught up with every acknowledged
    /// record of its partition, and the group (if any) is stable: its members agree on the
    /// generation, own every partition once, and have read and committed to the end.
    pub fn workload_done(&self) -> bool {
        let producers_done = self
            .clients
            .iter()
            .all(|state| !matches!(state.client.role, Role::Producer { .. }) || state.client.done);
        if !producers_done {
            return false;
        }
        let consumers_done = self.clients.iter().all(|state| match state.client.role {
            Role::Consumer { partition, .. } => {
                state.client.position >= self.history.acknowledged_end(partition)
            }
            _ => true,
        });
        let churned = self
            .clients
            .iter()
            .all(|state| state.client.churn.as_deref().is_none_or(Churner::done));
        let meddled = self
            .clients
            .iter()
            .all(|state| state.client.meddle.as_deref().is_none_or(Meddler::done));
        let observed = self
            .clients
            .iter()
            .all(|state| state.client.observe.as_deref().is_none_or(Observer::done));
        let raced =
            self.clients.iter().all(|state| state.client.race.as_deref().is_none_or(Racer::done));
        let configured = self
            .clients
            .iter()
            .all(|state| state.client.configure.as_deref().is_none_or(Configurer::done));
        consumers_done
            && churned
            && meddled
            && observed
            && raced
            && configured
            && self.group_done(GROUP)
            && self.group_done(SECOND_GROUP)
    }

    /// Whether `group` has no member or is stable and has read and committed to the end.
    fn group_done(&self, group: &str) -> bool {
        let mut generation = None;
        let mut owned = 0u64;
        let mut members = 0;
        let group_members = self.clients.iter().filter_map(|state| state.client.group.as_deref());
        for member in group_members.filter(|member| member.group() == group) {
            members += 1;
            let Some(stable) = member.stable_generation() else { return false };
            if generation.replace(stable).is_some_and(|previous| previous != stable) {
                return false;
            }
            for (partition, position, committed) in member.progress() {
                let end = self.history.acknowledged_end(partition);
                let bit = 1u64 << partition;
                if position < end || committed < end || owned & bit != 0 {
                    return false;
                }
                owned |= bit;
            }
        }
        members == 0 || owned == (1u64 << self.partitions) - 1
    }

    /// Partitions of the workload topic.
    pub fn topic_partitions(&self) -> i32 {
        self.partitions
    }

    /// The broker's `offsets.topic.num.partitions`.
    pub fn offsets_topic_partitions(&self) -> i32 {
        self.config.group.offsets_topic_partitions
    }

    /// One line per client: what it is doing, for liveness failure reports.
    pub fn client_report(&self) -> Vec<String> {
        self.clients
            .iter()
            .map(|state| {
                let group = state.client.group.as_deref().map_or(String::new(), |member| {
                    format!(" {}", member.report())
                });
                let group = state.client.churn.as_deref().map_or(group, |churner| {
                    format!(" {}", churner.report())
                });
                let group = state.client.meddle.as_deref().map_or(group, |meddler| {
                    format!(" {}", meddler.report())
                });
                let group = state.client.observe.as_deref().map_or(group, |observer| {
                    format!(" {}", observer.report())
                });
                let group = state.client.race.as_deref().map_or(group, |racer| {
                    format!(" {}", racer.report())
                });
                let group = state.client.configure.as_deref().map_or(group, |configurer| {
                    format!(" {}", configurer.report())
                });
                format!(
                    "client {} {:?}: done={} position={} connection={:?} inflight={:?} cut_until={:?}{group}",
                    state.client.id,
                    state.client.role,
                    state.client.done,
                    state.client.position,
                    state.connection,
                    state
                        .inflight
                        .iter()
                        .map(|inflight| (inflight.api_key, inflight.correlation))
                        .collect::<Vec<_>>(),
                    state.cut_until
                )
            })
            .collect()
    }

    /// Scenario: cuts client `client` off from the broker until `until` (either direction).
    pub fn partition(&mut self, client: u32, to_broker: bool, from_broker: bool, until: u64) {
        self.faults_injected += 1;
        let state = &mut self.clients[client as usize];
        if to_broker {
            state.cut_until.0 = until;
        }
        if from_broker {
            state.cut_until.1 = until;
        }
    }

    /// Scenario: the next answer the node sends `client` is lost with its connection, which
    /// resets (the request itself was handled: a retry is a duplicate).
    pub fn reset_next_answer(&mut self, client: u32) {
        self.clients[client as usize].reset_next_answer = true;
    }

    /// Scenario: the `client.id` client `client` sends from now on (group members' ids start
    /// with it).
    pub fn set_client_id(&mut self, client: u32, client_id: &'static str) {
        self.clients[client as usize].client.client_id =
            sluice_core::protocol::wire::StrBytes::from_static(client_id);
    }

    /// Scenario: group consumer `client` commits, leaves the group (LeaveGroup) and stays away
    /// for `away_ms` before joining afresh.
    pub fn depart(&mut self, client: u32, away_ms: u64) {
        let now = self.now;
        let member = self.clients[client as usize].client.group.as_deref_mut();
        member.expect("a group consumer").depart(now, away_ms);
        self.schedule(now, Event::ClientWake { client });
    }

    /// The clients' ids and roles, in id order.
    pub fn roles(&self) -> Vec<(u32, Role)> {
        self.clients.iter().map(|state| (state.client.id, state.client.role.clone())).collect()
    }

    /// Scenario: sets the disk's injected faults (EIO rate, capacity).
    pub fn set_disk_faults(&mut self, faults: DiskFaults) {
        self.faults_injected += 1;
        if let Some(node) = self.node.as_mut() {
            node.storage_mut().set_faults(faults);
        }
        if let Some(disk) = self.parked_disk.as_mut() {
            disk.set_faults(faults);
        }
    }

    /// Scenario: the disk, whether the node is up or down.
    pub fn disk_mut(&mut self) -> Option<&mut SimDisk> {
        match self.node.as_mut() {
            Some(node) => Some(node.storage_mut()),
            None => self.parked_disk.as_mut(),
        }
    }

    /// Scenario: sends raw bytes as one request frame body on a new connection.
    pub fn inject_frame(&mut self, body: Bytes) {
        let connection = self.next_connection;
        self.next_connection += 1;
        self.faults_injected += 1;
        if self.node.is_some() {
            self.node_input(Input::Request { connection: ConnectionId(connection), body });
        }
    }

    /// Scenario: sends one request on a fresh connection straight to the node and returns its
    /// answer (fetches parked for more data are answered when their wait ends).
    pub fn request(
        &mut self,
        request: sluice_core::protocol::api::Request,
        version: i16,
    ) -> Option<sluice_core::protocol::api::Response> {
        let connection = self.next_connection;
        self.next_connection += 1;
        let key = request.api_key();
        let header = RequestHeader {
            api_key: key,
            api_version: version,
            correlation_id: 1,
            ..Default::default()
        };
        let mut frame = BytesMut::new();
        encode_request(&header, &request, &mut frame);
        let (now, wall) = (self.now, self.wall_ms());
        self.wall_max_ms = self.wall_max_ms.max(wall);
        let node = self.node.as_mut()?;
        node.handle(
            now,
            wall,
            Input::Request {
                connection: ConnectionId(connection),
                body: frame.freeze().slice(4..),
            },
        );
        let mut answer = None;
        while let Some(output) = node.poll_output() {
            if let Output::Send { connection: to, frame } = output {
                if to.0 == connection {
                    answer = decode_response(key, version, frame.to_bytes().slice(4..))
                        .ok()
                        .map(|(_, response)| response);
                }
            }
        }
        answer
    }

    /// Every record acknowledged so far: (partition, offset, value).
    pub fn acknowledged(&self) -> Vec<(i32, i64, String)> {
        let mut records = Vec::new();
        for operation in &self.history.operations {
            if let crate::history::Operation::ProduceAcked {
                partition, base_offset, values, ..
            } = operation
            {
                for (index, value) in values.iter().enumerate() {
                    records.push((*partition, base_offset + index as i64, value.clone()));
                }
            }
        }
        records
    }

    /// The summary line's values.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            seed: self.seed,
            ticks: self.now,
            events: self.events,
            faults: self.faults_injected,
            trace: self.trace,
        }
    }

    /// The topic the workload uses.
    pub fn topic(&self) -> &'static str {
        TOPIC
    }

    /// The node, when it is up.
    pub fn node(&self) -> Option<&Node<SimDisk>> {
        self.node.as_ref()
    }

    /// The node, mutably, when it is up (scenarios reach its disk through it).
    pub fn node_mut(&mut self) -> Option<&mut Node<SimDisk>> {
        self.node.as_mut()
    }
}

impl ClientState {
    fn new(client: Client) -> Self {
        Self {
            client,
            connection: None,
            inflight: VecDeque::new(),
            next_correlation: 0,
            deaf: None,
            cut_until: (0, 0),
            reset_next_answer: false,
            timer_at: None,
        }
    }
}

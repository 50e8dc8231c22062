//! Simulated Kafka clients. Each keeps one request in flight, except a producer with a
//! `max.in.flight` above one, which pipelines its batches as Kafka's producer does (its
//! default is 5). They retry as real clients do (after a timeout or a broken connection,
//! with the same batch and, for idempotent producers, the same sequence), and write every
//! outcome into the history.
//!
//! The engine drives a client in three steps: [`Client::poll_request`] says what to send next
//! (or when to look again), [`Client::on_sent`] confirms that it went out, and then for each
//! request sent either [`Client::on_response`] follows, in request order, or
//! [`Client::on_lost`] once for everything in flight on a connection that broke.

use crate::churn::Churner;
use crate::configure::Configurer;
use crate::group::{read_records, GroupMember, MemberSettings};
use crate::history::{History, Operation};
use crate::meddle::Meddler;
use crate::observe::Observer;
use crate::race::Racer;
use bytes::Bytes;
use sluice_core::limits::{BATCH_DECOMPRESSED_BYTES_MAX, BATCH_HEADER_BYTES};
use sluice_core::protocol::api::create_partitions::{
    CreatePartitionsRequest, CreatePartitionsRequestTopic,
};
use sluice_core::protocol::api::create_topics::{
    CreateTopicsRequest, CreateTopicsRequestConfig, CreateTopicsRequestTopic,
};
use sluice_core::protocol::api::delete_records::{
    DeleteRecordsRequest, DeleteRecordsRequestPartition, DeleteRecordsRequestTopic,
};
use sluice_core::protocol::api::fetch::{
    FetchRequest, FetchRequestPartition, FetchRequestTopic, FetchResponse,
};
use sluice_core::protocol::api::incremental_alter_configs::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsRequestConfig,
    IncrementalAlterConfigsRequestResource,
};
use sluice_core::protocol::api::init_producer_id::InitProducerIdRequest;
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::record_batch::{
    self, build_batch_compressed, set_log_append_time, BatchHeader, BatchOptions, Compression,
    NewRecord, Records,
};
use sluice_core::protocol::wire::StrBytes;
use sluice_core::protocol::ErrorCode;
use std::collections::VecDeque;

/// The topic every simulated client uses.
pub const TOPIC: &str = "sim";

/// What a client does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Creates the topic, grows it with CreatePartitions when it was created smaller, and
    /// changes its `segment.bytes` with IncrementalAlterConfigs when asked; then is done.
    Admin {
        /// Partitions the topic ends with.
        partitions: i32,
        /// Topic configs to create it with (name, value).
        configs: Vec<(&'static str, String)>,
        /// Partitions to create the topic with, when fewer than `partitions`.
        grow_from: Option<i32>,
        /// (tick, bytes): from that tick on, set the topic's `segment.bytes` to that.
        alter_segment_bytes: Option<(u64, u32)>,
    },
    /// Produces `batches` batches to one partition.
    Producer {
        /// Partition.
        partition: i32,
        /// -1, 1, or 0 (no answer; not idempotent).
        acks: i16,
        /// Whether it uses InitProducerId and sequences.
        idempotent: bool,
        /// Batches to produce in all.
        batches: u32,
    },
    /// Reads one partition from the beginning, forever.
    Consumer {
        /// Partition.
        partition: i32,
        /// Whether it deletes what it has read (DeleteRecords up to its position) each time it
        /// has read this many records since its last deletion, as a stream processor purges
        /// a topic it alone consumes.
        purge_every: Option<u32>,
    },
    /// A member of the consumer group (see [`crate::group`]).
    GroupConsumer,
    /// Deletes and re-creates a topic of its own (see [`crate::churn`]).
    Churner,
    /// Tries to change `__consumer_offsets` (see [`crate::meddle`]).
    Meddler,
    /// Lists and describes the consumer groups (see [`crate::observe`]).
    Observer,
    /// Produces to the churner's topic while it deletes and makes it (see [`crate::race`]).
    Racer,
    /// Changes the topic's `retention.ms` and reads it back (see [`crate::configure`]).
    Configurer,
}

/// What a client wants next.
// Returned once per request and never stored: boxing the request would cost an allocation
// per request for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Next {
    /// Send this request, with its version and, when not the default, its timeout.
    Send {
        /// The request.
        request: Request,
        /// Its version.
        version: i16,
        /// Its timeout in ms, when it is not the client's default request timeout.
        timeout_ms: Option<u64>,
    },
    /// Nothing now: look again at this tick.
    WakeAt(u64),
    /// Nothing until something happens (done, or waiting for nothing).
    Idle,
}

#[derive(Clone, Debug)]
struct Batch {
    /// Its number among the producer's batches (`b<number>` in its values).
    number: u32,
    values: Vec<String>,
    /// The key of every record, for a compacted topic.
    key: Option<String>,
    /// Its records are tombstones (no value); `values` then hold `<key>@tombstone`, what a
    /// reader of them reports.
    tombstone: bool,
    /// The timestamp (CreateTime) of every record: set when the batch is made, kept on
    /// retries.
    timestamp_ms: i64,
    /// The simulated ms at which the batch was made: it was appended no earlier.
    made: u64,
    sequence: i32,
    /// The encoded batch for `(producer id, epoch, sequence)`, rebuilt only when they change.
    encoded: Option<(i64, i16, i32, Bytes)>,
}

impl Batch {
    /// The batch's bytes under `options`, encoded again only when they changed.
    /// `flag_append_time`: flag it LogAppendTime (see [`Client::flags_append_time`]).
    fn encode(
        &mut self,
        options: BatchOptions,
        compression: Compression,
        flag_append_time: bool,
    ) -> Bytes {
        let ids = (options.producer_id, options.producer_epoch, options.base_sequence);
        if let Some((id, epoch, sequence, bytes)) = &self.encoded {
            if (*id, *epoch, *sequence) == ids {
                return bytes.clone();
            }
        }
        let records: Vec<NewRecord<'_>> = self
            .values
            .iter()
            .map(|value| NewRecord {
                key: self.key.as_deref().map(str::as_bytes),
                value: (!self.tombstone).then_some(value.as_bytes()),
                timestamp_ms: self.timestamp_ms,
                ..Default::default()
            })
            .collect();
        let mut batch = build_batch_compressed(&records, options, compression)
            .expect("every codec Kafka defines compresses");
        if flag_append_time {
            // Flagged as a client of a user's own might flag it, with a maxTimestamp none of
            // its records has: a CreateTime topic must store it as CreateTime, its
            // maxTimestamp its records' own.
            let (header, records) = batch.split_at_mut(BATCH_HEADER_BYTES);
            let header: &mut [u8; BATCH_HEADER_BYTES] =
                header.try_into().expect("split at the header's size");
            set_log_append_time(header, records, self.timestamp_ms + FLAGGED_MAX_TIMESTAMP_LEAD_MS);
        }
        let bytes = Bytes::from(batch);
        self.encoded = Some((ids.0, ids.1, ids.2, bytes.clone()));
        bytes
    }
}

/// What a producer's last prepared request was.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Prepared {
    Init,
    /// (lane, batch number) of each partition's batch in the request.
    Batches(Vec<(usize, u32)>),
    Other,
}

/// One partition a producer writes: its batches, in sequence order.
#[derive(Clone, Debug)]
struct Lane {
    partition: i32,
    /// Batches made and not acknowledged, in sequence order.
    unacked: VecDeque<Batch>,
    /// The numbers of its batches in flight, in the order they were sent.
    sent: VecDeque<u32>,
    /// A batch failed: send one batch at a time, from the oldest unacknowledged, until one is
    /// acknowledged with nothing else in flight (Kafka's producer also retries in order).
    retrying: bool,
    /// The sequence of its next new batch.
    next_sequence: i32,
}

impl Lane {
    fn new(partition: i32) -> Self {
        Self {
            partition,
            unacked: VecDeque::new(),
            sent: VecDeque::new(),
            retrying: false,
            next_sequence: 0,
        }
    }
}

/// An idempotent producer's id state (KIP-98, KIP-360).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProducerId {
    /// No id yet: InitProducerId for a fresh one.
    Needed,
    /// The broker refused a sequence: InitProducerId with the current id and epoch to bump
    /// the epoch, after which sequences start again at 0.
    BumpNeeded,
    /// Ready to produce.
    Ready,
}

/// One simulated client.
#[derive(Clone, Debug)]
pub struct Client {
    /// Its id.
    pub id: u32,
    /// What it does.
    pub role: Role,
    /// Batches made so far, over all its partitions.
    next_batch: u32,
    /// A producer's partitions: its role's, or every partition of the topic, one batch of
    /// each per request, as Kafka's producer puts all batches for one broker in a request.
    lanes: Vec<Lane>,
    /// The (lane, batch number) lists of the produce requests in flight, oldest first.
    requests: VecDeque<Vec<(usize, u32)>>,
    /// What the last `poll_request` prepared, for `on_sent`.
    prepared: Prepared,
    /// An InitProducerId is in flight.
    init_in_flight: bool,
    /// `max.in.flight.requests.per.connection` of a producer.
    in_flight_max: usize,
    id_state: ProducerId,
    producer_id: i64,
    producer_epoch: i16,
    /// Consumer position.
    pub position: i64,
    /// The offset a purging consumer's last acknowledged DeleteRecords deleted up to.
    purged_to: i64,
    /// The log start its last Fetch answer showed (once it has purged; -1 before).
    log_start_seen: i64,
    /// Whether the workload of this client is complete.
    pub done: bool,
    /// The group member state of a group consumer.
    pub group: Option<Box<GroupMember>>,
    /// The state of a churner.
    pub churn: Option<Box<Churner>>,
    /// The state of a meddler.
    pub meddle: Option<Box<Meddler>>,
    /// The state of an observer.
    pub observe: Option<Box<Observer>>,
    /// The state of a racer.
    pub race: Option<Box<Racer>>,
    /// The state of a configurer.
    pub configure: Option<Box<Configurer>>,
    /// The `client.id` its requests carry.
    pub client_id: StrBytes,
    /// An admin's topic exists.
    topic_created: bool,
    /// What an admin does after creating its topic: 0 grow it, 1 alter its config.
    admin_step: u8,
    /// A reader's `fetch.max.bytes` and `max.partition.fetch.bytes`.
    pub fetch_max_bytes: i32,
    /// A reader's (`fetch.min.bytes`, `fetch.max.wait.ms`).
    pub fetch_wait: (i32, i32),
    /// A producer's `compression.type`.
    pub compression: Compression,
    /// A plain reader notes every batch it is sent ([`Operation::BatchSeen`]).
    pub notes_batches: bool,
    /// A producer flags its odd-numbered batches LogAppendTime, with a `maxTimestamp`
    /// [`FLAGGED_MAX_TIMESTAMP_LEAD_MS`] past its records' time, as a client of a user's own
    /// might: Kafka's producers never do. A CreateTime topic stores them as CreateTime; a
    /// LogAppendTime topic refuses them.
    pub flags_append_time: bool,
    /// A plain reader names its partition twice in each Fetch: first at offset 0, then at its
    /// position. Kafka keys a fetch's partitions by name, so the partition is read once, at
    /// the last offset named for it; the reader notes an answer that is not so
    /// ([`Operation::FetchMisanswered`]).
    pub names_twice: bool,
    /// Bytes of padding a producer appends to each value (`-` and that many `x`).
    pub padding: usize,
    /// Whether a producer gives its records keys ([`record_key`]), as a compacted topic needs.
    pub keyed: bool,
    /// A keyed producer makes every fifth batch a tombstone for its key.
    pub tombstones: bool,
    /// A keyed producer's last three batches are tombstones for its three keys, which it
    /// never writes again: compaction may only drop them once `delete.retention.ms` is up.
    pub final_tombstones: bool,
    /// Whether a producer stamps each batch with the time it made it: [`RECORDS_TIME_MS`]
    /// plus the simulated ms (a clock that neither drifts nor jumps). Otherwise every record
    /// carries [`RECORDS_TIME_MS`].
    pub stamps_records: bool,
    /// Whether a producer notes each produce request it sends, with the size of each batch,
    /// and each answer ([`Operation::ProduceSent`], [`Operation::ProduceAnswered`]): what
    /// bounds the bytes `retention.bytes` may count after a record.
    pub notes_sizes: bool,
    /// Produce requests sent so far, and the number of each in flight, oldest first.
    produces_sent: u64,
    produces_in_flight: VecDeque<u64>,
    /// Whether a reader whose position is out of range asks for the earliest offset and
    /// reads on from there (`auto.offset.reset=earliest`), as where retention deletes what it
    /// has not read yet. Otherwise it only notes the loss ([`Operation::PositionReset`]).
    pub resets_to_earliest: bool,
    /// A reader asks for the earliest offset before it fetches again.
    resetting: bool,
    /// How long a reader takes over the records of each answer before it fetches again (a
    /// slow consumer), in simulated ms.
    pub pause_after_records_ms: u64,
    /// When a slow reader fetches again.
    resume_at: u64,
}

/// The time every record carries unless its producer [`Client::stamps_records`]: the
/// simulated wall clock's reading at tick 0.
pub const RECORDS_TIME_MS: i64 = 1_700_000_000_000;

/// How far past its records' time a producer that [`Client::flags_append_time`] sets each
/// batch's `maxTimestamp`.
pub const FLAGGED_MAX_TIMESTAMP_LEAD_MS: i64 = 7;

impl Client {
    /// A client with `role` (a group consumer is made by [`Client::group_consumer`]).
    pub fn new(id: u32, role: Role) -> Self {
        assert_ne!(role, Role::GroupConsumer, "use Client::group_consumer");
        assert_ne!(role, Role::Churner, "use Client::churner");
        assert_ne!(role, Role::Meddler, "use Client::meddler");
        assert_ne!(role, Role::Observer, "use Client::observer");
        assert_ne!(role, Role::Racer, "use Client::racer");
        let lanes = match role {
            Role::Producer { partition, .. } => vec![Lane::new(partition)],
            _ => Vec::new(),
        };
        Self {
            id,
            role,
            next_batch: 0,
            lanes,
            requests: VecDeque::new(),
            prepared: Prepared::Other,
            init_in_flight: false,
            in_flight_max: 1,
            id_state: ProducerId::Needed,
            producer_id: -1,
            producer_epoch: -1,
            position: 0,
            purged_to: 0,
            log_start_seen: -1,
            done: false,
            group: None,
            churn: None,
            meddle: None,
            observe: None,
            race: None,
            configure: None,
            client_id: StrBytes::from_static("sim"),
            topic_created: false,
            admin_step: 0,
            fetch_max_bytes: 64 * 1024,
            fetch_wait: (1, 100),
            compression: Compression::None,
            notes_batches: false,
            flags_append_time: false,
            names_twice: false,
            padding: 0,
            keyed: false,
            tombstones: false,
            final_tombstones: false,
            stamps_records: false,
            notes_sizes: false,
            produces_sent: 0,
            produces_in_flight: VecDeque::new(),
            resets_to_earliest: false,
            resetting: false,
            pause_after_records_ms: 0,
            resume_at: 0,
        }
    }

    /// A member of the consumer group.
    pub fn group_consumer(id: u32, settings: MemberSettings) -> Self {
        // Kafka's default client.id, `consumer-<group.id>-<n>`: distinct per consumer. (The
        // coordinator's member ids start with it; see the scenario on shared client ids.)
        let client_id = StrBytes::from_string(format!("consumer-{}-{id}", settings.group));
        Self {
            role: Role::GroupConsumer,
            group: Some(Box::new(GroupMember::new(id, settings))),
            client_id,
            ..Self::new(id, Role::Consumer { partition: 0, purge_every: None })
        }
    }

    /// A churner (see [`crate::churn`]).
    pub fn churner(id: u32, churner: Churner) -> Self {
        Self {
            role: Role::Churner,
            churn: Some(Box::new(churner)),
            ..Self::new(id, Role::Consumer { partition: 0, purge_every: None })
        }
    }

    /// A meddler (see [`crate::meddle`]).
    pub fn meddler(id: u32, meddler: Meddler) -> Self {
        Self {
            role: Role::Meddler,
            meddle: Some(Box::new(meddler)),
            ..Self::new(id, Role::Consumer { partition: 0, purge_every: None })
        }
    }

    /// An observer (see [`crate::observe`]).
    pub fn observer(id: u32, observer: Observer) -> Self {
        Self {
            role: Role::Observer,
            observe: Some(Box::new(observer)),
            ..Self::new(id, Role::Consumer { partition: 0, purge_every: None })
        }
    }

    /// A racer (see [`crate::race`]).
    pub fn racer(id: u32, racer: Racer) -> Self {
        Self {
            role: Role::Racer,
            race: Some(Box::new(racer)),
            ..Self::new(id, Role::Consumer { partition: 0, purge_every: None })
        }
    }

    /// A configurer (see [`crate::configure`]).
    pub fn configurer(id: u32, configurer: Configurer) -> Self {
        Self {
            role: Role::Configurer,
            configure: Some(Box::new(configurer)),
            ..Self::new(id, Role::Consumer { partition: 0, purge_every: None })
        }
    }

    /// What to send next. May be called again before anything is sent (the engine could not
    /// connect): it then prepares the same request.
    pub fn poll_request(&mut self, now: u64) -> Next {
        if let Some(member) = self.group.as_mut() {
            return match member.poll_request(now) {
                Ok((request, version, timeout_ms)) => Next::Send { request, version, timeout_ms },
                Err(Some(at)) => Next::WakeAt(at),
                Err(None) => Next::Idle,
            };
        }
        if let Some(churner) = self.churn.as_mut() {
            return churner.poll_request(now);
        }
        if let Some(meddler) = self.meddle.as_mut() {
            return meddler.poll_request(now);
        }
        if let Some(observer) = self.observe.as_mut() {
            return observer.poll_request(now);
        }
        if let Some(racer) = self.race.as_mut() {
            return racer.poll_request(now);
        }
        if let Some(configurer) = self.configure.as_mut() {
            return configurer.poll_request(now);
        }
        let send = |request, version| Next::Send { request, version, timeout_ms: None };
        match self.role {
            Role::Admin { partitions, grow_from: Some(_), .. }
                if self.topic_created && self.admin_step == 0 =>
            {
                let topic = CreatePartitionsRequestTopic {
                    name: StrBytes::from_static(TOPIC),
                    count: partitions,
                    assignments: None,
                    ..Default::default()
                };
                let request = CreatePartitionsRequest {
                    topics: vec![topic],
                    timeout_ms: 30_000,
                    ..Default::default()
                };
                send(Request::CreatePartitions(request), 3)
            }
            Role::Admin { alter_segment_bytes: Some((at, bytes)), .. }
                if self.topic_created && !self.done =>
            {
                if now < at {
                    return Next::WakeAt(at);
                }
                let config = IncrementalAlterConfigsRequestConfig {
                    name: StrBytes::from_static("segment.bytes"),
                    config_operation: 0, // SET
                    value: Some(StrBytes::from_string(bytes.to_string())),
                    ..Default::default()
                };
                let resource = IncrementalAlterConfigsRequestResource {
                    resource_type: 2, // TOPIC
                    resource_name: StrBytes::from_static(TOPIC),
                    configs: vec![config],
                    ..Default::default()
                };
                let request = IncrementalAlterConfigsRequest {
                    resources: vec![resource],
                    ..Default::default()
                };
                send(Request::IncrementalAlterConfigs(request), 1)
            }
            Role::Admin { partitions, ref configs, grow_from, .. } if !self.done => {
                let configs = configs
                    .iter()
                    .map(|(name, value)| CreateTopicsRequestConfig {
                        name: StrBytes::from_static(name),
                        value: Some(StrBytes::from_string(value.clone())),
                        ..Default::default()
                    })
                    .collect();
                let topic = CreateTopicsRequestTopic {
                    name: StrBytes::from_static(TOPIC),
                    num_partitions: grow_from.unwrap_or(partitions),
                    replication_factor: 1,
                    configs,
                    ..Default::default()
                };
                let request = CreateTopicsRequest { topics: vec![topic], ..Default::default() };
                send(Request::CreateTopics(request), 7)
            }
            Role::Producer { acks, idempotent, batches, .. } if !self.done => {
                self.prepared = Prepared::Other;
                if idempotent && self.id_state != ProducerId::Ready {
                    // A new id or epoch renumbers every unacknowledged batch: wait for the
                    // answers to those in flight first.
                    if self.init_in_flight || !self.requests.is_empty() {
                        return Next::Idle;
                    }
                    self.prepared = Prepared::Init;
                    return send(self.init_producer_id(), 4);
                }
                match self.produce_request(now, acks, idempotent, batches) {
                    Some(request) => send(request, 9),
                    None => Next::Idle,
                }
            }
            Role::Consumer { partition, purge_every: Some(every) }
                if self.position - self.purged_to >= i64::from(every) =>
            {
                send(delete_records(partition, self.position), 2)
            }
            Role::Consumer { partition, .. } if self.resetting => {
                send(earliest_offset(partition), 7)
            }
            Role::Consumer { .. } if now < self.resume_at => Next::WakeAt(self.resume_at),
            Role::Consumer { partition, .. } => {
                let (max_bytes, wait) = (self.fetch_max_bytes, self.fetch_wait);
                let fetch = consumer_fetch(partition, self.position, max_bytes, wait);
                send(if self.names_twice { named_twice(fetch) } else { fetch }, 12)
            }
            Role::Admin { .. }
            | Role::Producer { .. }
            | Role::GroupConsumer
            | Role::Churner
            | Role::Meddler
            | Role::Observer
            | Role::Racer
            | Role::Configurer => Next::Idle,
        }
    }

    /// The request prepared by the last `poll_request` was sent.
    pub fn on_sent(&mut self, history: &mut History) {
        if let Some(member) = self.group.as_mut() {
            member.on_sent(history);
        }
        if let Some(churner) = self.churn.as_mut() {
            churner.on_sent(history);
        }
        if let Some(racer) = self.race.as_mut() {
            racer.on_sent();
        }
        if let Some(observer) = self.observe.as_mut() {
            observer.on_sent(history);
        }
        if let Some(configurer) = self.configure.as_mut() {
            configurer.on_sent(history);
        }
        match std::mem::replace(&mut self.prepared, Prepared::Other) {
            Prepared::Init => self.init_in_flight = true,
            Prepared::Batches(batches) => {
                for &(lane, number) in &batches {
                    self.lanes[lane].sent.push_back(number);
                }
                if self.notes_sizes {
                    let parts = batches.iter().map(|&(lane, number)| self.batch_size(lane, number));
                    let parts = parts.collect();
                    let request = self.produces_sent;
                    history.push(Operation::ProduceSent { client: self.id, request, parts });
                }
                self.produces_in_flight.push_back(self.produces_sent);
                self.produces_sent += 1;
                self.requests.push_back(batches);
            }
            Prepared::Other => {}
        }
    }

    /// A produce with acks=0 went out: no answer will come, so its batches are done as far as
    /// the producer knows (the broker may refuse them; it then closes the connection, as
    /// Kafka's does, and the producer goes on with its next batches).
    pub fn on_unanswered(&mut self) {
        let batches = self.requests.pop_back().expect("a produce was just sent");
        self.produces_in_flight.pop_back();
        for (lane_index, number) in batches {
            let lane = &mut self.lanes[lane_index];
            assert_eq!(lane.sent.pop_back(), Some(number), "the batch just sent");
            lane.unacked.retain(|batch| batch.number != number);
        }
    }

    /// A slow reader reads on without pausing from now on; true if it was waiting out a
    /// pause (and must be woken).
    pub fn stop_pausing(&mut self, now: u64) -> bool {
        self.pause_after_records_ms = 0;
        let waiting = self.resume_at > now;
        self.resume_at = 0;
        waiting
    }

    /// How many requests it may have in flight at once.
    pub fn in_flight_max(&self) -> usize {
        match self.role {
            Role::Producer { .. } => self.in_flight_max,
            _ => 1,
        }
    }

    /// Makes a producer write every partition of `partitions` (its role's first), one batch
    /// of each per request while each has batches to send.
    pub fn spread_over(&mut self, partitions: i32) {
        let Role::Producer { partition, .. } = self.role else { panic!("only producers spread") };
        self.lanes =
            (0..partitions).map(|index| Lane::new((partition + index) % partitions)).collect();
    }

    /// Sets a producer's `max.in.flight.requests.per.connection` (1 to 5; Kafka's producer
    /// keeps an idempotent producer's order only up to 5).
    pub fn set_in_flight_max(&mut self, in_flight_max: usize) {
        assert!((1..=5).contains(&in_flight_max), "max.in.flight must be 1 to 5");
        self.in_flight_max = in_flight_max;
    }

    fn init_producer_id(&self) -> Request {
        let (producer_id, producer_epoch) = match self.id_state {
            ProducerId::BumpNeeded => (self.producer_id, self.producer_epoch),
            _ => (-1, -1),
        };
        Request::InitProducerId(InitProducerIdRequest {
            transaction_timeout_ms: 60_000,
            producer_id,
            producer_epoch,
            ..Default::default()
        })
    }

    /// The next batches to send as a Produce request, one per partition that has one: the
    /// oldest unacknowledged batch not in flight, or a new one when all are and
    /// `max.in.flight` allows. `None` when it must wait, or once every batch is acknowledged.
    fn produce_request(
        &mut self,
        now: u64,
        acks: i16,
        idempotent: bool,
        batches: u32,
    ) -> Option<Request> {
        let mut partition_data = Vec::with_capacity(self.lanes.len());
        let mut prepared = Vec::with_capacity(self.lanes.len());
        let options = BatchOptions {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: 0,
        };
        for lane_index in 0..self.lanes.len() {
            let lane = &self.lanes[lane_index];
            if lane.retrying && !lane.sent.is_empty() {
                continue;
            }
            // Outside a retry, the batches in flight are the oldest unacknowledged ones.
            let index = lane.sent.len();
            if index == lane.unacked.len() {
                if self.next_batch >= batches || index >= self.in_flight_max {
                    continue;
                }
                let batch = self.new_batch(lane.next_sequence, now);
                let lane = &mut self.lanes[lane_index];
                lane.next_sequence = lane.next_sequence.wrapping_add(batch.values.len() as i32);
                lane.unacked.push_back(batch);
            }
            let lane = &mut self.lanes[lane_index];
            let batch = &mut lane.unacked[index];
            let options = if idempotent {
                BatchOptions { base_sequence: batch.sequence, ..options }
            } else {
                BatchOptions::default()
            };
            prepared.push((lane_index, batch.number));
            partition_data.push(ProduceRequestPartition {
                index: lane.partition,
                records: Some(batch.encode(
                    options,
                    self.compression,
                    self.flags_append_time && batch.number % 2 == 1,
                )),
                ..Default::default()
            });
        }
        if partition_data.is_empty() {
            self.done =
                self.next_batch >= batches && self.lanes.iter().all(|lane| lane.unacked.is_empty());
            return None;
        }
        self.prepared = Prepared::Batches(prepared);
        Some(Request::Produce(ProduceRequest {
            acks,
            timeout_ms: 30_000,
            topic_data: vec![ProduceRequestTopic {
                name: StrBytes::from_static(TOPIC),
                partition_data,
                ..Default::default()
            }],
            ..Default::default()
        }))
    }

    /// (partition, batch number, bytes) of batch `number` of lane `lane`, as last encoded.
    fn batch_size(&self, lane: usize, number: u32) -> (i32, u32, u32) {
        let lane = &self.lanes[lane];
        let batch = lane.unacked.iter().find(|batch| batch.number == number);
        let encoded = batch.and_then(|batch| batch.encoded.as_ref());
        let bytes = encoded.map_or(0, |(_, _, _, bytes)| bytes.len() as u32);
        assert!(bytes > 0, "batch {number} was encoded to be sent");
        (lane.partition, number, bytes)
    }

    /// The next new batch, with base sequence `sequence`: 1 to 4 records
    /// `c<client>-b<batch>-r<index>`, padded when the workload asks for large records.
    fn new_batch(&mut self, sequence: i32, now: u64) -> Batch {
        let count = 1 + (self.next_batch % 4) as usize;
        // Built by hand: `format!` was a tenth of the simulator's time per produce.
        let values: Vec<String> = (0..count)
            .map(|index| {
                let mut value = String::with_capacity(24 + self.padding);
                value.push('c');
                push_decimal(&mut value, u64::from(self.id));
                value.push_str("-b");
                push_decimal(&mut value, u64::from(self.next_batch));
                value.push_str("-r");
                push_decimal(&mut value, index as u64);
                if self.padding > 0 {
                    value.push('-');
                    value.extend(std::iter::repeat_n('x', self.padding));
                }
                value
            })
            .collect();
        let key = self.keyed.then(|| record_key(self.id, self.next_batch));
        // Every fifth batch of a producer that deletes keys is a tombstone for its key; so
        // are the last three of one that deletes its keys at the end.
        let last_three = match self.role {
            Role::Producer { batches, .. } => batches.saturating_sub(3) <= self.next_batch,
            _ => false,
        };
        let tombstone =
            (self.tombstones && self.next_batch % 5 == 4) || (self.final_tombstones && last_three);
        let values = match (&key, tombstone) {
            (Some(key), true) => vec![tombstone_value(key); values.len()],
            _ => values,
        };
        let tombstone = tombstone && key.is_some();
        let number = self.next_batch;
        self.next_batch += 1;
        let timestamp_ms = if self.stamps_records {
            RECORDS_TIME_MS.saturating_add(i64::try_from(now).unwrap_or(i64::MAX))
        } else {
            RECORDS_TIME_MS
        };
        Batch { number, values, key, tombstone, timestamp_ms, made: now, sequence, encoded: None }
    }

    /// Handles a response. Returns true if the client should back off before its next request.
    pub fn on_response(&mut self, now: u64, response: Response, history: &mut History) -> bool {
        if let Some(member) = self.group.as_mut() {
            return member.on_response(now, response, history);
        }
        if let Some(churner) = self.churn.as_mut() {
            return churner.on_response(now, response, history);
        }
        if let Some(meddler) = self.meddle.as_mut() {
            return meddler.on_response(response, history);
        }
        if let Some(observer) = self.observe.as_mut() {
            return observer.on_response(response, history);
        }
        if let Some(racer) = self.race.as_mut() {
            return racer.on_response(response, history);
        }
        if let Some(configurer) = self.configure.as_mut() {
            return configurer.on_response(response, history);
        }
        match (&self.role, response) {
            (
                Role::Admin { grow_from, alter_segment_bytes, .. },
                Response::CreateTopics(response),
            ) => {
                let code = response.topics.first().map_or(-1, |topic| topic.error_code);
                if code == 0 || code == ErrorCode::TopicAlreadyExists.code() {
                    self.topic_created = true;
                    // Step 0 grows the topic; one that need not grow goes on to step 1.
                    self.admin_step = u8::from(grow_from.is_none());
                    self.done = grow_from.is_none() && alter_segment_bytes.is_none();
                    return false;
                }
                true
            }
            (Role::Admin { alter_segment_bytes, .. }, Response::CreatePartitions(response)) => {
                // INVALID_PARTITIONS: it has that many already (an earlier answer was lost).
                let code = response.results.first().map_or(-1, |topic| topic.error_code);
                if code == 0 || code == ErrorCode::InvalidPartitions.code() {
                    self.admin_step = 1;
                    self.done = alter_segment_bytes.is_none();
                    return false;
                }
                true
            }
            (Role::Admin { .. }, Response::IncrementalAlterConfigs(response)) => {
                let code = response.responses.first().map_or(-1, |resource| resource.error_code);
                self.done = code == 0;
                !self.done
            }
            (Role::Producer { .. }, Response::InitProducerId(response)) => {
                self.on_init_producer_id(response, history)
            }
            (Role::Producer { .. }, Response::Produce(response)) => {
                self.on_produce(response, history)
            }
            (Role::Consumer { partition, .. }, Response::DeleteRecords(response)) => {
                let partition = *partition;
                let answer = response.topics.first().and_then(|topic| topic.partitions.first());
                let (error_code, low_watermark) =
                    answer.map_or((-1, -1), |answer| (answer.error_code, answer.low_watermark));
                // Its position has not moved since it asked: it sends one request at a time.
                let offset = self.position;
                history.push(Operation::RecordsDeleted {
                    client: self.id,
                    partition,
                    offset,
                    error_code,
                    low_watermark,
                });
                if error_code != 0 {
                    return true;
                }
                self.purged_to = offset;
                false
            }
            (Role::Consumer { partition, .. }, Response::Fetch(response)) => {
                let partition = *partition;
                // Noted for the checker, which fails the run; the reader reads on as Kafka's
                // consumer would (from its first mention, skipping offsets below its
                // position), so that the run still ends.
                if let Some(fault) = misanswered(&response, partition, self.position) {
                    history.push(Operation::FetchMisanswered {
                        client: self.id,
                        partition,
                        position: self.position,
                        fault,
                    });
                }
                let Some(answer) =
                    response.responses.first().and_then(|topic| topic.partitions.first())
                else {
                    return true;
                };
                if answer.error_code != 0 {
                    // Before the topic exists the partition is unknown, and a log taken offline
                    // by an fsync error refuses reads until restart: both are retried. Only a
                    // lost position (out of range) is a violation.
                    if answer.error_code == ErrorCode::OffsetOutOfRange.code() {
                        if self.resets_to_earliest {
                            self.resetting = true;
                            return false;
                        }
                        history.push(Operation::PositionReset {
                            client: self.id,
                            error_code: answer.error_code,
                        });
                    }
                    return true;
                }
                if self.purged_to > 0 && answer.log_start_offset != self.log_start_seen {
                    self.log_start_seen = answer.log_start_offset;
                    history.push(Operation::LogStartSeen {
                        client: self.id,
                        partition,
                        log_start: answer.log_start_offset,
                    });
                }
                let records = answer.records.as_deref().unwrap_or_default();
                let client = self.id;
                if self.notes_batches {
                    note_batches(client, partition, records, history);
                }
                let before = self.position;
                read_records(records, &mut self.position, |offset, value| {
                    history.push(Operation::Consumed { client, partition, offset, value });
                });
                if self.position > before {
                    self.resume_at = now + self.pause_after_records_ms;
                }
                // An empty answer already waited on the broker (long poll): ask again at once.
                false
            }
            (Role::Consumer { partition, .. }, Response::ListOffsets(response)) => {
                let partition = *partition;
                let answer = response.topics.first().and_then(|topic| topic.partitions.first());
                let Some(answer) = answer.filter(|answer| answer.error_code == 0) else {
                    return true;
                };
                history.push(Operation::ResetToEarliest {
                    client: self.id,
                    partition,
                    from: self.position,
                    to: answer.offset,
                });
                self.position = answer.offset;
                self.resetting = false;
                false
            }
            (role, response) => panic!("client {} ({role:?}) got {response:?}", self.id),
        }
    }

    fn on_init_producer_id(
        &mut self,
        response: sluice_core::protocol::api::init_producer_id::InitProducerIdResponse,
        history: &mut History,
    ) -> bool {
        self.init_in_flight = false;
        if response.error_code != 0 {
            // A bump the broker refuses (it does not know the id) falls back to a fresh id.
            if self.id_state == ProducerId::BumpNeeded {
                self.id_state = ProducerId::Needed;
            }
            return true;
        }
        assert!(response.producer_id >= 0 && response.producer_epoch >= 0);
        if self.id_state == ProducerId::BumpNeeded {
            assert_eq!(response.producer_id, self.producer_id, "a bump keeps the id");
        }
        self.producer_id = response.producer_id;
        self.producer_epoch = response.producer_epoch;
        self.id_state = ProducerId::Ready;
        // A new id or epoch starts its sequences at 0; the unacknowledged batches go again,
        // in order, from sequence 0 (Kafka's idempotent producer after KIP-360).
        for lane in &mut self.lanes {
            let mut sequence = 0i32;
            for batch in &mut lane.unacked {
                batch.sequence = sequence;
                sequence = sequence.wrapping_add(batch.values.len() as i32);
            }
            lane.next_sequence = sequence;
        }
        history.push(Operation::ProducerInitialised {
            client: self.id,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
        });
        false
    }

    fn on_produce(
        &mut self,
        response: sluice_core::protocol::api::produce::ProduceResponse,
        history: &mut History,
    ) -> bool {
        let Role::Producer { acks, idempotent, .. } = self.role else {
            unreachable!("only producers produce")
        };
        let batches = self.requests.pop_front().expect("a produce was in flight");
        let request = self.produces_in_flight.pop_front().expect("as many as requests");
        if self.notes_sizes {
            history.push(Operation::ProduceAnswered { client: self.id, request });
        }
        let answers =
            response.responses.first().map_or(&[][..], |topic| &topic.partition_responses);
        let mut back_off = false;
        for (lane_index, number) in batches {
            let lane = &mut self.lanes[lane_index];
            assert_eq!(lane.sent.pop_front(), Some(number), "answers come in request order");
            let answer = answers.iter().find(|answer| answer.index == lane.partition);
            let code = answer.map_or(-1, |answer| answer.error_code);
            if code != 0 {
                history.push(Operation::ProduceFailed { client: self.id, error_code: code });
                lane.retrying = true;
                back_off = true;
                // The broker lost or refused this producer's sequence: bump the epoch
                // (KIP-360) and send the unacknowledged batches again from sequence 0. A
                // refusal of a later batch only follows an earlier batch's failure: it is
                // retried after that one. A fenced epoch takes a fresh id.
                let oldest = lane.unacked.front().map(|batch| batch.number) == Some(number);
                if idempotent
                    && oldest
                    && (code == ErrorCode::UnknownProducerId.code()
                        || code == ErrorCode::OutOfOrderSequenceNumber.code())
                {
                    self.id_state = ProducerId::BumpNeeded;
                } else if idempotent && code == ErrorCode::InvalidProducerEpoch.code() {
                    self.id_state = ProducerId::Needed;
                }
                continue;
            }
            let base_offset = answer.expect("an answer without error exists").base_offset;
            let index = lane
                .unacked
                .iter()
                .position(|batch| batch.number == number)
                .expect("an answered batch is unacknowledged");
            let batch = lane.unacked.remove(index).expect("found above");
            if lane.sent.is_empty() {
                lane.retrying = false;
            }
            let last_record = batch.values.len() as i32 - 1;
            let producer = batch.encoded.as_ref().filter(|_| idempotent).map(|encoded| {
                let (id, epoch, sequence, _) = encoded;
                (*id, *epoch, sequence.wrapping_add(last_record))
            });
            history.push(Operation::ProduceAcked {
                client: self.id,
                partition: lane.partition,
                acks,
                idempotent,
                base_offset,
                values: batch.values,
                timestamp_ms: batch.timestamp_ms,
                made: batch.made,
                log_append_time_ms: answer.map_or(-1, |answer| answer.log_append_time_ms),
                producer,
            });
        }
        back_off
    }

    /// The request was lost (timeout or broken connection): the same request goes again.
    pub fn on_lost(&mut self, now: u64, history: &mut History) {
        if let Some(member) = self.group.as_mut() {
            member.on_lost(now);
            return;
        }
        if let Some(churner) = self.churn.as_mut() {
            churner.on_lost(history);
            return;
        }
        if let Some(meddler) = self.meddle.as_mut() {
            meddler.on_lost();
            return;
        }
        if let Some(observer) = self.observe.as_mut() {
            observer.on_lost();
            return;
        }
        if let Some(racer) = self.race.as_mut() {
            racer.on_lost(history);
            return;
        }
        if let Some(configurer) = self.configure.as_mut() {
            configurer.on_lost();
            return;
        }
        if matches!(self.role, Role::Producer { .. }) {
            if self.lanes.iter().any(|lane| !lane.unacked.is_empty()) {
                history.push(Operation::RequestLost { client: self.id });
            }
            // Everything in flight goes again, in order, on a new connection.
            for lane in &mut self.lanes {
                lane.sent.clear();
            }
            self.requests.clear();
            self.produces_in_flight.clear();
            self.init_in_flight = false;
        }
    }
}

/// Keys of a keyed producer: each of its batches shares one of three keys with every third
/// batch, so compaction has records to remove. `c<client>-k<batch % 3>`.
pub fn record_key(client: u32, batch: u32) -> String {
    format!("c{client}-k{}", batch % 3)
}

/// What a reader reports for a tombstone (a record without a value) of `key`.
pub fn tombstone_value(key: &str) -> String {
    format!("{key}{TOMBSTONE_SUFFIX}")
}

/// See [`tombstone_value`].
const TOMBSTONE_SUFFIX: &str = "@tombstone";

/// Whether a reported value is a tombstone's ([`tombstone_value`]).
pub fn is_tombstone(value: &str) -> bool {
    value.ends_with(TOMBSTONE_SUFFIX)
}

/// The key [`record_key`] gave the record whose value is `value` (`c<client>-b<batch>-r<i>`,
/// or a tombstone's `<key>@tombstone`).
pub fn key_of_value(value: &str) -> Option<String> {
    if let Some(key) = value.strip_suffix(TOMBSTONE_SUFFIX) {
        return Some(key.to_string());
    }
    let (client, batch) = batch_of_value(value)?;
    Some(record_key(client, batch))
}

/// (client, batch number) of a producer's record value `c<client>-b<batch>-r<index>...`.
pub fn batch_of_value(value: &str) -> Option<(u32, u32)> {
    let (client, rest) = value.strip_prefix('c')?.split_once("-b")?;
    let (batch, _) = rest.split_once("-r")?;
    Some((client.parse().ok()?, batch.parse().ok()?))
}

/// Notes each whole batch of a fetch answer's `records` in the history.
fn note_batches(client: u32, partition: i32, records: &[u8], history: &mut History) {
    let mut at = 0;
    while let Ok(header) = BatchHeader::parse(&records[at..]) {
        if at + header.size_bytes() > records.len() {
            break;
        }
        let batch = &records[at..at + header.size_bytes()];
        let body = record_batch::records_body(&header, batch, BATCH_DECOMPRESSED_BYTES_MAX)
            .expect("the broker serves only batches it validated");
        let records_max_timestamp = Records::new(&header, &body)
            .flatten()
            .map(|record| header.base_timestamp.wrapping_add(record.timestamp_delta))
            .max()
            .unwrap_or(-1);
        history.push(Operation::BatchSeen {
            client,
            partition,
            base_offset: header.base_offset,
            records: header.records_count,
            log_append_time: header.is_log_append_time(),
            max_timestamp: header.max_timestamp,
            records_max_timestamp,
            codec: header.compression(),
        });
        at += header.size_bytes();
    }
}

/// Appends `number` in decimal.
fn push_decimal(out: &mut String, number: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = number;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

/// DeleteRecords of the workload topic's `partition` below `offset`.
fn delete_records(partition: i32, offset: i64) -> Request {
    Request::DeleteRecords(DeleteRecordsRequest {
        topics: vec![DeleteRecordsRequestTopic {
            name: StrBytes::from_static(TOPIC),
            partitions: vec![DeleteRecordsRequestPartition {
                partition_index: partition,
                offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    })
}

/// A reader's ListOffsets for the earliest offset of its partition (timestamp -2).
fn earliest_offset(partition: i32) -> Request {
    Request::ListOffsets(ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsRequestTopic {
            name: StrBytes::from_static(TOPIC),
            partitions: vec![ListOffsetsRequestPartition {
                partition_index: partition,
                timestamp: -2,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn consumer_fetch(
    partition: i32,
    position: i64,
    max_bytes: i32,
    (min_bytes, max_wait_ms): (i32, i32),
) -> Request {
    Request::Fetch(FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes,
        topics: vec![FetchRequestTopic {
            topic: StrBytes::from_static(TOPIC),
            partitions: vec![FetchRequestPartition {
                partition,
                fetch_offset: position,
                partition_max_bytes: max_bytes,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// `fetch` (of one partition) with its partition named first at offset 0 as well.
fn named_twice(mut fetch: Request) -> Request {
    let Request::Fetch(request) = &mut fetch else { unreachable!("a fetch") };
    let partitions = &mut request.topics[0].partitions;
    let first = FetchRequestPartition { fetch_offset: 0, ..partitions[0].clone() };
    partitions.insert(0, first);
    fetch
}

/// Whether a plain reader's fetch of `partition` from `position` was answered as asked: that
/// partition of [`TOPIC`] alone, once, and records from the batch that holds `position` (or,
/// where compaction or deletion removed it, a later one) on. Otherwise, why not.
fn misanswered(response: &FetchResponse, partition: i32, position: i64) -> Option<String> {
    let mut named = response.responses.iter().flat_map(|topic| {
        topic.partitions.iter().map(move |answer| (topic.topic.as_str(), answer))
    });
    let Some((topic, answer)) = named.next() else {
        return Some("the answer names no partition".to_string());
    };
    if (topic, answer.partition_index) != (TOPIC, partition) {
        return Some(format!("the answer names {topic}/{}", answer.partition_index));
    }
    if let Some((topic, extra)) = named.next() {
        return Some(format!("the answer names {topic}/{} as well", extra.partition_index));
    }
    let records = answer.records.as_deref().unwrap_or_default();
    match BatchHeader::parse(records) {
        Ok(first) if first.last_offset() < position => Some(format!(
            "its first batch ({}..={}) ends before the fetch offset {position}",
            first.base_offset,
            first.last_offset()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::protocol::api::fetch::{FetchResponsePartition, FetchResponseTopic};
    use sluice_core::protocol::api::init_producer_id::InitProducerIdResponse;
    use sluice_core::protocol::api::produce::{
        ProduceResponse, ProduceResponsePartition, ProduceResponseTopic,
    };
    use sluice_core::protocol::record_batch::BatchHeader;

    /// Polls the client's next request and sends it.
    fn send(client: &mut Client) -> Request {
        match client.poll_request(0) {
            Next::Send { request, .. } => {
                client.on_sent(&mut History::default());
                request
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn waits(client: &mut Client) -> bool {
        matches!(client.poll_request(0), Next::Idle)
    }

    /// (producer id, epoch, base sequence) of a Produce request's batch, and its records.
    fn batch_of(request: &Request) -> ((i64, i16, i32), i32) {
        let Request::Produce(produce) = request else { panic!("not a produce: {request:?}") };
        let records = produce.topic_data[0].partition_data[0].records.clone().expect("records");
        let header = BatchHeader::parse(&records).expect("a batch");
        let ids = (header.producer_id, header.producer_epoch, header.base_sequence);
        (ids, header.records_count)
    }

    fn produce_answer(error_code: i16, base_offset: i64) -> Response {
        produce_answers(&[(0, error_code, base_offset)])
    }

    fn init_answer(producer_id: i64, producer_epoch: i16) -> Response {
        let answer = InitProducerIdResponse { producer_id, producer_epoch, ..Default::default() };
        Response::InitProducerId(answer)
    }

    #[test]
    fn a_flagging_producer_flags_odd_batches_with_a_max_timestamp_past_their_records() {
        // Goal: the flagged batches a user's own client might send are what the checkers
        // expect of the broker's conversion. Method: a producer that flags sends batch 0 plain
        // and batch 1 flagged LogAppendTime, its maxTimestamp 7 ms past its records' time,
        // with a CRC that still holds.
        let role = Role::Producer { partition: 0, acks: -1, idempotent: false, batches: 2 };
        let mut client = Client::new(1, role);
        client.flags_append_time = true;
        client.compression = Compression::Snappy;
        let mut history = History::default();
        let batch = |request: &Request| {
            let Request::Produce(produce) = request else { panic!("not a produce") };
            produce.topic_data[0].partition_data[0].records.clone().expect("records")
        };
        let first = batch(&send(&mut client));
        assert!(!client.on_response(0, produce_answer(0, 0), &mut history));
        let second = batch(&send(&mut client));
        for (bytes, flagged, max_timestamp) in [
            (first, false, RECORDS_TIME_MS),
            (second, true, RECORDS_TIME_MS + FLAGGED_MAX_TIMESTAMP_LEAD_MS),
        ] {
            let (header, records_max) =
                record_batch::validate_deep_timed(&bytes, BATCH_DECOMPRESSED_BYTES_MAX)
                    .expect("a valid batch, CRC included");
            assert_eq!(header.is_log_append_time(), flagged);
            assert_eq!(header.compression(), Compression::Snappy);
            assert_eq!(header.max_timestamp, max_timestamp);
            assert_eq!((header.base_timestamp, records_max), (RECORDS_TIME_MS, RECORDS_TIME_MS));
        }
    }

    #[test]
    fn a_reader_naming_its_partition_twice_asks_at_zero_then_at_its_position() {
        // Goal: the fetches of a reader that names its partition twice, and the answers it
        // notes as wrong. Method: drive one by hand; answer with a batch of offsets 0..=2, then
        // with the partition twice, with another partition, and with that batch again.
        let mut client = Client::new(5, Role::Consumer { partition: 1, purge_every: None });
        client.names_twice = true;
        let mut history = History::default();
        let offsets = |request: &Request| {
            let Request::Fetch(fetch) = request else { panic!("not a fetch") };
            assert_eq!(fetch.topics.len(), 1);
            let partitions = &fetch.topics[0].partitions;
            partitions.iter().map(|p| (p.partition, p.fetch_offset)).collect::<Vec<_>>()
        };
        assert_eq!(offsets(&send(&mut client)), [(1, 0), (1, 0)]);
        let records: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|value| NewRecord { value: Some(value.as_bytes()), ..Default::default() })
            .collect();
        let batch = Bytes::from(record_batch::build_batch(&records, BatchOptions::default()));
        let answer = |partitions: &[(&'static str, i32)]| {
            let responses = partitions
                .iter()
                .map(|&(topic, partition_index)| FetchResponseTopic {
                    topic: StrBytes::from_static(topic),
                    partitions: vec![FetchResponsePartition {
                        partition_index,
                        records: Some(batch.clone()),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect();
            Response::Fetch(FetchResponse { responses, ..Default::default() })
        };
        assert!(!client.on_response(0, answer(&[(TOPIC, 1)]), &mut history));
        assert_eq!(client.position, 3);
        assert_eq!(offsets(&send(&mut client)), [(1, 0), (1, 3)]);
        let faults = [
            (answer(&[(TOPIC, 1), (TOPIC, 1)]), "the answer names t/1 as well"),
            (answer(&[(TOPIC, 0)]), "the answer names t/0"),
            (answer(&[(TOPIC, 1)]), "its first batch (0..=2) ends before the fetch offset 3"),
        ];
        for (response, expected) in faults {
            history.operations.clear();
            client.position = 3;
            assert!(!client.on_response(0, response, &mut history), "{expected}: read on");
            let fault = match &history.operations[0] {
                Operation::FetchMisanswered { client: 5, partition: 1, position: 3, fault } => {
                    fault
                }
                other => panic!("{expected}: {other:?}"),
            };
            assert_eq!(fault.replace(TOPIC, "t"), expected);
        }
        // An answer as asked is not noted.
        history.operations.clear();
        client.position = 1;
        assert!(!client.on_response(0, answer(&[(TOPIC, 1)]), &mut history));
        assert!(history
            .operations
            .iter()
            .all(|op| !matches!(op, Operation::FetchMisanswered { .. })));
        assert_eq!(client.position, 3);
    }

    #[test]
    fn decimals_are_written_like_format() {
        for number in [0, 7, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut out = String::from("x");
            push_decimal(&mut out, number);
            assert_eq!(out, format!("x{number}"));
        }
    }

    #[test]
    fn an_idempotent_producer_retries_the_same_sequence_and_bumps_its_epoch_when_refused() {
        // Goal: the retry rules of Kafka's idempotent producer. Method: drive one producer by
        // hand: a lost request goes again unchanged; OUT_OF_ORDER_SEQUENCE_NUMBER asks for an
        // epoch bump with the current id (KIP-360), after which the same batch goes again from
        // sequence 0 under the new epoch.
        let role = Role::Producer { partition: 0, acks: -1, idempotent: true, batches: 3 };
        let mut client = Client::new(1, role);
        let mut history = History::default();
        let Request::InitProducerId(init) = send(&mut client) else { panic!("init first") };
        assert_eq!((init.producer_id, init.producer_epoch), (-1, -1), "a fresh id");
        assert!(!client.on_response(0, init_answer(7, 0), &mut history));
        let first = send(&mut client);
        assert_eq!(batch_of(&first), ((7, 0, 0), 1));
        assert!(!client.on_response(0, produce_answer(0, 0), &mut history));
        let second = send(&mut client);
        assert_eq!(batch_of(&second), ((7, 0, 1), 2), "the next sequence, two records");
        client.on_lost(0, &mut history);
        let retried = send(&mut client);
        assert_eq!(batch_of(&retried), batch_of(&second), "a retry is the same batch");
        let refused = produce_answer(ErrorCode::OutOfOrderSequenceNumber.code(), -1);
        assert!(client.on_response(0, refused, &mut history), "back off");
        let Request::InitProducerId(bump) = send(&mut client) else { panic!("a bump") };
        assert_eq!((bump.producer_id, bump.producer_epoch), (7, 0), "the current id and epoch");
        assert!(!client.on_response(0, init_answer(7, 1), &mut history));
        let again = send(&mut client);
        assert_eq!(batch_of(&again), ((7, 1, 0), 2), "the same records from 0, new epoch");
        assert!(!client.on_response(0, produce_answer(0, 1), &mut history));
        let acknowledged: Vec<&Operation> = history
            .operations
            .iter()
            .filter(|operation| matches!(operation, Operation::ProduceAcked { .. }))
            .collect();
        assert_eq!(acknowledged.len(), 2);
    }

    /// (partition, (producer id, epoch, base sequence), records) of each batch of a Produce.
    fn batches_of(request: &Request) -> Vec<(i32, (i64, i16, i32), i32)> {
        let Request::Produce(produce) = request else { panic!("not a produce: {request:?}") };
        let partitions = produce.topic_data[0].partition_data.iter();
        partitions
            .map(|data| {
                let header = BatchHeader::parse(data.records.as_deref().expect("records"));
                let header = header.expect("a batch");
                let ids = (header.producer_id, header.producer_epoch, header.base_sequence);
                (data.index, ids, header.records_count)
            })
            .collect()
    }

    /// A Produce answer of (partition, error code, base offset) each.
    fn produce_answers(answers: &[(i32, i16, i64)]) -> Response {
        let partition_responses = answers
            .iter()
            .map(|&(index, error_code, base_offset)| ProduceResponsePartition {
                index,
                error_code,
                base_offset,
                ..Default::default()
            })
            .collect();
        Response::Produce(ProduceResponse {
            responses: vec![ProduceResponseTopic { partition_responses, ..Default::default() }],
            ..Default::default()
        })
    }

    #[test]
    fn a_producer_over_two_partitions_sends_both_and_retries_only_the_failed_one() {
        // Goal: one batch per partition per request, with a sequence per partition. Method:
        // two partitions, one in flight; partition 1's first batch fails while partition 0's
        // is acknowledged; the next request carries partition 0's next batch and partition 1's
        // retry, unchanged.
        let role = Role::Producer { partition: 1, acks: -1, idempotent: true, batches: 4 };
        let mut client = Client::new(1, role);
        client.spread_over(2);
        let mut history = History::default();
        send(&mut client);
        assert!(!client.on_response(0, init_answer(7, 0), &mut history));
        let first = batches_of(&send(&mut client));
        assert_eq!(first, [(1, (7, 0, 0), 1), (0, (7, 0, 0), 2)], "its role's partition first");
        let storage_error = ErrorCode::KafkaStorageError.code();
        let answer = produce_answers(&[(1, 0, 0), (0, storage_error, -1)]);
        assert!(client.on_response(0, answer, &mut history), "back off after a failure");
        let second = batches_of(&send(&mut client));
        assert_eq!(second, [(1, (7, 0, 1), 3), (0, (7, 0, 0), 2)]);
        assert!(!client.on_response(0, produce_answers(&[(1, 0, 1), (0, 0, 0)]), &mut history));
        let third = batches_of(&send(&mut client));
        assert_eq!(third, [(1, (7, 0, 4), 4)], "four batches in all");
        assert!(!client.on_response(0, produce_answers(&[(1, 0, 4)]), &mut history));
        assert!(waits(&mut client) && client.done);
        let acknowledged: Vec<(i32, i64)> = history
            .operations
            .iter()
            .filter_map(|operation| match operation {
                Operation::ProduceAcked { partition, base_offset, .. } => {
                    Some((*partition, *base_offset))
                }
                _ => None,
            })
            .collect();
        assert_eq!(acknowledged, [(1, 0), (1, 1), (0, 0), (1, 4)]);
    }

    #[test]
    fn a_pipelining_producer_keeps_its_batches_in_sequence_order() {
        // Goal: the pipelining rules of Kafka's idempotent producer. Method: three in flight
        // by hand. Sequences follow the batches' record counts (1, 2, 3, 4, 1 records). A
        // failed batch goes again alone, and the refusals of the batches behind it ask for no
        // bump; a broken connection resends all in order; a refusal of the oldest batch bumps
        // the epoch once its followers are answered, and renumbers them all from 0.
        let role = Role::Producer { partition: 0, acks: -1, idempotent: true, batches: 5 };
        let mut client = Client::new(1, role);
        client.set_in_flight_max(3);
        let mut history = History::default();
        let out_of_order = || produce_answer(ErrorCode::OutOfOrderSequenceNumber.code(), -1);
        send(&mut client);
        assert!(!client.on_response(0, init_answer(7, 0), &mut history));
        let sent: Vec<_> = (0..3).map(|_| batch_of(&send(&mut client))).collect();
        assert_eq!(sent, [((7, 0, 0), 1), ((7, 0, 1), 2), ((7, 0, 3), 3)]);
        assert!(waits(&mut client), "three in flight at most");
        assert!(!client.on_response(0, produce_answer(0, 0), &mut history));
        assert_eq!(batch_of(&send(&mut client)), ((7, 0, 6), 4));
        let storage_error = produce_answer(ErrorCode::KafkaStorageError.code(), -1);
        assert!(client.on_response(0, storage_error, &mut history));
        assert!(client.on_response(0, out_of_order(), &mut history));
        assert!(waits(&mut client), "no retry while a batch is in flight");
        assert!(client.on_response(0, out_of_order(), &mut history));
        assert_eq!(batch_of(&send(&mut client)), ((7, 0, 1), 2), "the failed batch, alone");
        assert!(waits(&mut client));
        assert!(!client.on_response(0, produce_answer(0, 1), &mut history));
        let sent: Vec<_> = (0..3).map(|_| batch_of(&send(&mut client))).collect();
        assert_eq!(sent, [((7, 0, 3), 3), ((7, 0, 6), 4), ((7, 0, 10), 1)]);
        client.on_lost(0, &mut history);
        let resent: Vec<_> = (0..3).map(|_| batch_of(&send(&mut client))).collect();
        assert_eq!(resent, sent, "a broken connection resends all, in order");
        assert!(client.on_response(0, out_of_order(), &mut history));
        assert!(waits(&mut client), "no bump while batches are in flight");
        assert!(client.on_response(0, out_of_order(), &mut history));
        assert!(client.on_response(0, out_of_order(), &mut history));
        let Request::InitProducerId(bump) = send(&mut client) else { panic!("a bump") };
        assert_eq!((bump.producer_id, bump.producer_epoch), (7, 0));
        assert!(!client.on_response(0, init_answer(7, 1), &mut history));
        assert_eq!(batch_of(&send(&mut client)), ((7, 1, 0), 3), "renumbered from 0, alone");
        assert!(!client.on_response(0, produce_answer(0, 3), &mut history));
        let sent: Vec<_> = (0..2).map(|_| batch_of(&send(&mut client))).collect();
        assert_eq!(sent, [((7, 1, 3), 4), ((7, 1, 7), 1)]);
        assert!(!client.on_response(0, produce_answer(0, 6), &mut history));
        assert!(!client.on_response(0, produce_answer(0, 10), &mut history));
        assert!(waits(&mut client) && client.done, "five batches acknowledged");
    }
}

//! A simulated member of a classic consumer group, behaving as Kafka's consumer does
//! (`AbstractCoordinator`/`ConsumerCoordinator` with the range assignor and auto-commit):
//!
//! Metadata (learn the partition count) → FindCoordinator → JoinGroup (the first one is
//! answered MEMBER_ID_REQUIRED, KIP-394, and repeated with the given id) → SyncGroup (the
//! leader sends a range assignment it computed) → OffsetFetch for its partitions (resume from
//! the committed offsets, or 0: auto.offset.reset=earliest) → Stable: Fetch, Heartbeat every
//! `session/3`, OffsetCommit of its positions every `auto_commit_interval_ms`.
//!
//! - REBALANCE_IN_PROGRESS (heartbeat or commit): commit the positions, then rejoin with the
//!   same member id. ILLEGAL_GENERATION: rejoin with the same id; UNKNOWN_MEMBER_ID: rejoin
//!   without one.
//! - A broken connection or a timeout: the coordinator is rediscovered; a join or sync in
//!   progress starts over from JoinGroup; a stable member heartbeats at once (the heartbeat
//!   tells it whether to rejoin), keeping its positions, as Kafka's consumer does.
//! - Planned departures: commit, LeaveGroup, stay away, then join afresh without a member id.
//! - A static member (`group.instance.id`, KIP-345) sends its instance id with every request
//!   and departs without LeaveGroup. FENCED_INSTANCE_ID (its old member id was replaced, after
//!   a join whose answer it lost) makes it join again without a member id; Kafka's consumer
//!   would stop, but here no other consumer shares its instance id.
//!
//! Every join, assignment, commit (sent and answered), offset fetch (sent and answered) and
//! record read goes into the history for the group checkers.

use crate::history::{History, Operation};
use bytes::{BufMut, Bytes, BytesMut};
use sluice_core::group::error;
use sluice_core::limits::BATCH_DECOMPRESSED_BYTES_MAX;
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::find_coordinator::FindCoordinatorRequest;
use sluice_core::protocol::api::heartbeat::HeartbeatRequest;
use sluice_core::protocol::api::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
use sluice_core::protocol::api::leave_group::{LeaveGroupRequest, LeaveGroupRequestMember};
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use sluice_core::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use sluice_core::protocol::api::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestTopic};
use sluice_core::protocol::api::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::record_batch::{self, BatchHeader, Records};
use sluice_core::protocol::wire::StrBytes;
use sluice_core::protocol::ErrorCode;

/// The group every group consumer joins, in seeds with one group.
pub const GROUP: &str = "sim-group";
/// The second group, in seeds with two: its members read the same topic on their own.
pub const SECOND_GROUP: &str = "sim-group-2";
const PROTOCOL_TYPE: &str = "consumer";
const ASSIGNOR: &str = "range";
/// Kafka's `JOIN_GROUP_TIMEOUT_LAPSE`: a JoinGroup may wait the whole rebalance timeout.
const JOIN_TIMEOUT_LAPSE_MS: u64 = 5000;
/// COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR (not in the core's group error list).
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const NOT_COORDINATOR: i16 = 16;
/// Most partitions a member handles (the workload topic has at most a few).
const PARTITIONS_MAX: i32 = 64;

/// How one group member behaves: Kafka consumer settings drawn from the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSettings {
    /// The group it joins.
    pub group: &'static str,
    /// The topic it subscribes to.
    pub topic: &'static str,
    /// `session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `max.poll.interval.ms`, sent as the rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval_ms: u64,
    /// Planned departures, in tick order: (tick to leave at, ms to stay away).
    pub departures: Vec<(u64, u64)>,
    /// `max.partition.fetch.bytes`; `fetch.max.bytes` is four times as much.
    pub fetch_max_bytes: i32,
    /// `group.instance.id` of a static member (KIP-345): it sends no LeaveGroup when it
    /// departs, and comes back with the same instance id and no member id, as a restarted
    /// consumer process does; within its session it gets its partitions back without a
    /// rebalance.
    pub instance_id: Option<String>,
    /// Whether a static member's every departure goes without LeaveGroup (otherwise one that
    /// follows its last commit sends it; see `GroupWorkload::static_departures_silent`).
    pub departs_silently: bool,
    /// Whether a position out of range moves to the earliest offset (`auto.offset.reset=
    /// earliest`, asked with ListOffsets), as where retention deletes what the group has not
    /// read. Otherwise the member only notes the loss ([`Operation::PositionReset`]).
    pub resets_to_earliest: bool,
    /// Whether it notes each answer that shows it was in the group when the coordinator read
    /// the request ([`Operation::MemberPresent`]): what bounds when offsets may expire.
    pub notes_presence: bool,
    /// Whether its JoinGroup carries `ConsumerProtocolSubscription` v2 (the partitions it
    /// owns and its generation), as Kafka's consumer sends: a restarted static member's
    /// metadata then differs from what the coordinator kept (see [`subscription_owning`]).
    pub subscription_owned: bool,
}

/// What happens once a commit made before a phase change is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterCommit {
    Rejoin,
    Leave,
}

/// The member's phase.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Learning the topic's partition count.
    Metadata,
    /// Sending JoinGroup (with `member_id`, possibly empty).
    Join,
    /// Sending SyncGroup; the leader carries its computed assignments.
    Sync { assignments: Vec<(String, Bytes)> },
    /// Fetching the committed offsets of the assigned partitions.
    FetchOffsets,
    /// Consuming, heartbeating and committing.
    Stable,
    /// Sending LeaveGroup.
    Leave,
    /// Out of the group until `until`.
    Away { until: u64 },
}

/// The request in flight (prepared by `poll_request`, confirmed by `on_sent`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Metadata,
    FindCoordinator,
    Join,
    Sync,
    OffsetFetch,
    Heartbeat,
    Commit(Vec<(i32, i64)>),
    Fetch,
    /// ListOffsets for the earliest offsets of these (partition, position) pairs, positions
    /// that were out of range.
    Earliest(Vec<(i32, i64)>),
    Leave,
}

/// One group consumer.
#[derive(Clone, Debug)]
pub struct GroupMember {
    client: u32,
    settings: MemberSettings,
    phase: Phase,
    coordinator_known: bool,
    partitions: i32,
    member_id: StrBytes,
    generation: i32,
    /// (partition, position) of the assigned partitions, ascending.
    positions: Vec<(i32, i64)>,
    /// Assigned partitions whose position was out of range, to move to the earliest offset.
    out_of_range: Vec<i32>,
    /// Per partition: the last acknowledged commit of this member, or -1.
    acknowledged: Vec<i64>,
    heartbeat_due: u64,
    commit_due: u64,
    after_commit: Option<AfterCommit>,
    departures_done: usize,
    next_commit: u32,
    next_offset_fetch: u32,
    prepared: Option<Kind>,
    inflight: Option<(Kind, u32)>,
    /// When the request in flight was sent.
    sent_at: u64,
    /// The leader's member id, as the last JoinGroup answer gave it.
    leader_id: String,
}

impl GroupMember {
    /// The group it joins.
    pub fn group(&self) -> &'static str {
        self.settings.group
    }

    /// A member that has not joined yet.
    pub fn new(client: u32, settings: MemberSettings) -> Self {
        assert!(settings.session_timeout_ms > 0);
        assert!(settings.rebalance_timeout_ms >= settings.session_timeout_ms);
        assert!(settings.departures.windows(2).all(|pair| pair[0].0 <= pair[1].0));
        Self {
            client,
            settings,
            phase: Phase::Metadata,
            coordinator_known: false,
            partitions: 0,
            member_id: StrBytes::default(),
            generation: -1,
            positions: Vec::new(),
            out_of_range: Vec::new(),
            acknowledged: Vec::new(),
            heartbeat_due: 0,
            commit_due: 0,
            after_commit: None,
            departures_done: 0,
            next_commit: 0,
            next_offset_fetch: 0,
            prepared: None,
            inflight: None,
            sent_at: 0,
            leader_id: String::new(),
        }
    }

    /// Scenario: leave the group as soon as it is Stable, for `away_ms`, before any departure
    /// still planned.
    pub fn depart(&mut self, now: u64, away_ms: u64) {
        self.settings.departures.insert(self.departures_done, (now, away_ms));
    }

    fn instance_id(&self) -> Option<StrBytes> {
        self.settings.instance_id.as_ref().map(|id| StrBytes::from_string(id.clone()))
    }

    fn heartbeat_interval_ms(&self) -> u64 {
        // Kafka's guidance: heartbeat.interval.ms at most a third of the session timeout.
        u64::try_from(self.settings.session_timeout_ms / 3).expect("positive")
    }

    /// Whether the member is consuming (Stable) with generation `generation`.
    pub fn stable_generation(&self) -> Option<i32> {
        (self.phase == Phase::Stable && self.coordinator_known).then_some(self.generation)
    }

    /// (partition, position, last acknowledged commit) of every assigned partition.
    pub fn progress(&self) -> impl Iterator<Item = (i32, i64, i64)> + '_ {
        self.positions.iter().map(|&(partition, position)| {
            (partition, position, self.acknowledged_commit(partition))
        })
    }

    fn acknowledged_commit(&self, partition: i32) -> i64 {
        usize::try_from(partition)
            .ok()
            .and_then(|index| self.acknowledged.get(index))
            .copied()
            .unwrap_or(-1)
    }

    /// One line for liveness failure reports.
    pub fn report(&self) -> String {
        format!(
            "phase={:?} coordinator_known={} member={:?} generation={} positions={:?} acknowledged={:?}",
            self.phase,
            self.coordinator_known,
            self.member_id,
            self.generation,
            self.positions,
            self.acknowledged
        )
    }

    /// Whether the positions hold anything not yet acknowledged as committed.
    fn has_uncommitted(&self) -> bool {
        self.positions
            .iter()
            .any(|&(partition, position)| self.acknowledged_commit(partition) != position)
    }

    /// The next request, or when to look again. `None` for the request timeout means the
    /// default one.
    pub fn poll_request(&mut self, now: u64) -> Result<(Request, i16, Option<u64>), Option<u64>> {
        self.prepared = None;
        if let Phase::Away { until } = self.phase {
            if now < until {
                return Err(Some(until));
            }
            self.phase = Phase::Join;
            self.member_id = StrBytes::default();
            self.generation = -1;
        }
        if self.phase == Phase::Leave && self.settings.instance_id.is_some() {
            // A static member departs without LeaveGroup: the coordinator keeps its place
            // for a session.
            self.go_away(now);
            let Phase::Away { until } = self.phase else { unreachable!("just went away") };
            return Err(Some(until));
        }
        if self.phase != Phase::Metadata && !self.coordinator_known {
            return Ok(self.prepare(
                Kind::FindCoordinator,
                find_coordinator(self.settings.group),
                3,
                None,
            ));
        }
        if self.phase == Phase::Stable {
            self.stable_request(now)
        } else {
            Ok(self.phase_request())
        }
    }

    fn prepare(
        &mut self,
        kind: Kind,
        request: Request,
        version: i16,
        timeout_ms: Option<u64>,
    ) -> (Request, i16, Option<u64>) {
        self.prepared = Some(kind);
        (request, version, timeout_ms)
    }

    /// The request of a phase other than Stable.
    fn phase_request(&mut self) -> (Request, i16, Option<u64>) {
        match &self.phase {
            Phase::Metadata => {
                let request = metadata(self.settings.topic);
                self.prepare(Kind::Metadata, request, 9, None)
            }
            Phase::Join => {
                let request = self.join_request();
                let rebalance_ms = u64::try_from(self.settings.rebalance_timeout_ms).expect("> 0");
                let timeout_ms = Some(rebalance_ms + JOIN_TIMEOUT_LAPSE_MS);
                self.prepare(Kind::Join, request, 7, timeout_ms)
            }
            Phase::Sync { assignments } => {
                let request = Request::SyncGroup(SyncGroupRequest {
                    group_id: StrBytes::from_static(self.settings.group),
                    generation_id: self.generation,
                    member_id: self.member_id.clone(),
                    group_instance_id: self.instance_id(),
                    protocol_type: Some(StrBytes::from_static(PROTOCOL_TYPE)),
                    protocol_name: Some(StrBytes::from_static(ASSIGNOR)),
                    assignments: assignments
                        .iter()
                        .map(|(member_id, assignment)| SyncGroupRequestAssignment {
                            member_id: StrBytes::from_string(member_id.clone()),
                            assignment: assignment.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                });
                self.prepare(Kind::Sync, request, 5, None)
            }
            Phase::FetchOffsets => {
                let partitions = self.positions.iter().map(|&(partition, _)| partition).collect();
                let request = Request::OffsetFetch(OffsetFetchRequest {
                    group_id: StrBytes::from_static(self.settings.group),
                    topics: Some(vec![OffsetFetchRequestTopic {
                        name: StrBytes::from_static(self.settings.topic),
                        partition_indexes: partitions,
                        ..Default::default()
                    }]),
                    ..Default::default()
                });
                self.prepare(Kind::OffsetFetch, request, 7, None)
            }
            Phase::Leave => {
                let request = Request::LeaveGroup(LeaveGroupRequest {
                    group_id: StrBytes::from_static(self.settings.group),
                    members: vec![LeaveGroupRequestMember {
                        member_id: self.member_id.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                });
                self.prepare(Kind::Leave, request, 4, None)
            }
            Phase::Stable | Phase::Away { .. } => unreachable!("handled by poll_request"),
        }
    }

    fn join_request(&self) -> Request {
        Request::JoinGroup(JoinGroupRequest {
            group_id: StrBytes::from_static(self.settings.group),
            session_timeout_ms: self.settings.session_timeout_ms,
            rebalance_timeout_ms: self.settings.rebalance_timeout_ms,
            member_id: self.member_id.clone(),
            group_instance_id: self.instance_id(),
            protocol_type: StrBytes::from_static(PROTOCOL_TYPE),
            protocols: vec![JoinGroupRequestProtocol {
                name: StrBytes::from_static(ASSIGNOR),
                metadata: if self.settings.subscription_owned {
                    let owned: Vec<i32> =
                        self.positions.iter().map(|&(partition, _)| partition).collect();
                    subscription_owning(self.settings.topic, &owned, self.generation)
                } else {
                    subscription(self.settings.topic)
                },
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    /// Stable: a due departure, heartbeat or commit first, else a fetch (or a wait).
    fn stable_request(&mut self, now: u64) -> Result<(Request, i16, Option<u64>), Option<u64>> {
        let departure = self.settings.departures.get(self.departures_done);
        if self.after_commit.is_none() && departure.is_some_and(|&(at, _)| now >= at) {
            self.after_commit = Some(AfterCommit::Leave);
        }
        if let Some(after) = self.after_commit {
            if self.has_uncommitted() {
                return Ok(self.commit_request());
            }
            self.after_commit = None;
            self.finish_commit_then(after);
            if self.phase == Phase::Leave && self.settings.departs_silently {
                // A static member goes without LeaveGroup (poll_request sees to it).
                return self.poll_request(now);
            }
            return Ok(self.phase_request());
        }
        if now >= self.heartbeat_due {
            let request = Request::Heartbeat(HeartbeatRequest {
                group_id: StrBytes::from_static(self.settings.group),
                generation_id: self.generation,
                member_id: self.member_id.clone(),
                group_instance_id: self.instance_id(),
                ..Default::default()
            });
            return Ok(self.prepare(Kind::Heartbeat, request, 4, None));
        }
        if now >= self.commit_due && self.has_uncommitted() {
            return Ok(self.commit_request());
        }
        if self.positions.is_empty() {
            let departure = departure.map_or(u64::MAX, |&(at, _)| at);
            let wake = self.heartbeat_due.min(departure);
            assert!(wake > now);
            return Err(Some(wake));
        }
        if !self.out_of_range.is_empty() {
            let asked: Vec<(i32, i64)> = self
                .positions
                .iter()
                .filter(|(partition, _)| self.out_of_range.contains(partition))
                .copied()
                .collect();
            let request = self.earliest_request(&asked);
            return Ok(self.prepare(Kind::Earliest(asked), request, 7, None));
        }
        let request = self.fetch_request();
        Ok(self.prepare(Kind::Fetch, request, 12, None))
    }

    fn earliest_request(&self, asked: &[(i32, i64)]) -> Request {
        let partitions = asked
            .iter()
            .map(|&(partition_index, _)| ListOffsetsRequestPartition {
                partition_index,
                timestamp: -2,
                ..Default::default()
            })
            .collect();
        Request::ListOffsets(ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsRequestTopic {
                name: StrBytes::from_static(self.settings.topic),
                partitions,
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    /// Moves the positions still at what was asked to the earliest offsets answered.
    fn on_earliest(
        &mut self,
        asked: &[(i32, i64)],
        response: sluice_core::protocol::api::list_offsets::ListOffsetsResponse,
        history: &mut History,
    ) -> bool {
        let mut back_off = false;
        let answers = response.topics.iter().flat_map(|topic| &topic.partitions);
        for answer in answers {
            let partition = answer.partition_index;
            if answer.error_code != 0 {
                back_off = true;
                continue;
            }
            let Some(&(_, from)) = asked.iter().find(|&&(asked, _)| asked == partition) else {
                continue;
            };
            // A rebalance may have moved the partition or its position meanwhile.
            let slot = self.positions.iter().position(|&(owned, _)| owned == partition);
            let Some(slot) = slot.filter(|&slot| self.positions[slot].1 == from) else {
                continue;
            };
            if self.phase != Phase::Stable {
                continue;
            }
            history.push(Operation::ResetToEarliest {
                client: self.client,
                partition,
                from,
                to: answer.offset,
            });
            self.positions[slot].1 = answer.offset;
            self.out_of_range.retain(|&out| out != partition);
        }
        back_off
    }

    fn commit_request(&mut self) -> (Request, i16, Option<u64>) {
        let offsets: Vec<(i32, i64)> = self.positions.clone();
        let request = Request::OffsetCommit(OffsetCommitRequest {
            group_id: StrBytes::from_static(self.settings.group),
            generation_id_or_member_epoch: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.instance_id(),
            topics: vec![OffsetCommitRequestTopic {
                name: StrBytes::from_static(self.settings.topic),
                partitions: offsets
                    .iter()
                    .map(|&(partition, offset)| OffsetCommitRequestPartition {
                        partition_index: partition,
                        committed_offset: offset,
                        committed_metadata: Some(StrBytes::from_static("")),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        });
        self.prepare(Kind::Commit(offsets), request, 8, None)
    }

    fn fetch_request(&self) -> Request {
        let partitions = self
            .positions
            .iter()
            .map(|&(partition, position)| FetchRequestPartition {
                partition,
                fetch_offset: position,
                partition_max_bytes: self.settings.fetch_max_bytes,
                ..Default::default()
            })
            .collect();
        Request::Fetch(FetchRequest {
            max_wait_ms: 100,
            min_bytes: 1,
            max_bytes: self.settings.fetch_max_bytes.saturating_mul(4),
            topics: vec![FetchRequestTopic {
                topic: StrBytes::from_static(self.settings.topic),
                partitions,
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    /// The prepared request was sent: invocations the checkers order by go into the history.
    pub fn on_sent(&mut self, history: &mut History) {
        let kind = self.prepared.take().expect("on_sent follows a prepared request");
        let number = match &kind {
            Kind::Commit(offsets) => {
                self.next_commit += 1;
                history.push(Operation::CommitSent {
                    client: self.client,
                    commit: self.next_commit,
                    generation: self.generation,
                    offsets: offsets.clone(),
                });
                self.next_commit
            }
            Kind::OffsetFetch => {
                self.next_offset_fetch += 1;
                let fetch = self.next_offset_fetch;
                history.push(Operation::OffsetFetchSent { client: self.client, fetch });
                fetch
            }
            _ => 0,
        };
        assert!(self.inflight.is_none(), "one request in flight");
        self.inflight = Some((kind, number));
        self.sent_at = history.now;
    }

    /// The request in flight was lost (timeout or broken connection).
    pub fn on_lost(&mut self, now: u64) {
        let Some((kind, _)) = self.inflight.take() else { return };
        self.coordinator_known = false;
        match kind {
            Kind::Join | Kind::Sync => self.phase = Phase::Join,
            Kind::Leave => self.go_away(now),
            Kind::Heartbeat | Kind::Fetch | Kind::Commit(_) | Kind::Earliest(_) => {
                self.heartbeat_due = now
            }
            Kind::Metadata | Kind::FindCoordinator | Kind::OffsetFetch => {}
        }
    }

    /// Handles the answer to the request in flight. Returns whether to back off first.
    pub fn on_response(&mut self, now: u64, response: Response, history: &mut History) -> bool {
        let (kind, number) = self.inflight.take().expect("a response answers a request");
        if self.settings.notes_presence {
            // Answers the coordinator gives only to a member of the group.
            let present = match &response {
                Response::Heartbeat(answer) => {
                    matches!(answer.error_code, error::NONE | error::REBALANCE_IN_PROGRESS)
                }
                Response::SyncGroup(answer) => answer.error_code == error::NONE,
                _ => false,
            };
            if present {
                let stored = matches!(response, Response::SyncGroup(_));
                let (client, sent) = (self.client, self.sent_at);
                history.push(Operation::MemberPresent { client, sent, stored });
            }
        }
        match (kind, response) {
            (Kind::Metadata, Response::Metadata(response)) => {
                let topic = response.topics.first();
                let count = topic.filter(|topic| topic.error_code == 0).map_or(0, |topic| {
                    i32::try_from(topic.partitions.len()).expect("few partitions")
                });
                if count == 0 {
                    return true; // the admin has not created the topic yet
                }
                assert!(count <= PARTITIONS_MAX, "{count} partitions");
                self.partitions = count;
                self.acknowledged = vec![-1; count as usize];
                self.phase = Phase::Join;
                false
            }
            (Kind::FindCoordinator, Response::FindCoordinator(response)) => {
                self.coordinator_known = response.error_code == 0;
                if self.coordinator_known && self.phase == Phase::Stable {
                    self.heartbeat_due = now; // learn at once whether to rejoin
                }
                !self.coordinator_known
            }
            (Kind::Join, Response::JoinGroup(response)) => self.on_join(response, history),
            (Kind::Sync, Response::SyncGroup(response)) => self.on_sync(now, response, history),
            (Kind::OffsetFetch, Response::OffsetFetch(response)) => {
                self.on_offset_fetch(now, number, response, history)
            }
            (Kind::Heartbeat, Response::Heartbeat(response)) => {
                self.heartbeat_due = now + self.heartbeat_interval_ms();
                self.on_group_error(response.error_code)
            }
            (Kind::Commit(offsets), Response::OffsetCommit(response)) => {
                self.on_commit(now, number, &offsets, response, history)
            }
            (Kind::Fetch, Response::Fetch(response)) => self.on_fetch(response, history),
            (Kind::Earliest(asked), Response::ListOffsets(response)) => {
                self.on_earliest(&asked, response, history)
            }
            (Kind::Leave, Response::LeaveGroup(_)) => {
                self.go_away(now);
                false
            }
            (kind, response) => {
                panic!("client {}: {kind:?} answered with {response:?}", self.client)
            }
        }
    }

    /// Reacts to a group error code of a Stable member's heartbeat or commit.
    fn on_group_error(&mut self, code: i16) -> bool {
        match code {
            error::NONE => false,
            error::REBALANCE_IN_PROGRESS => {
                // Kafka's onJoinPrepare: commit the positions, then rejoin.
                self.after_commit = Some(AfterCommit::Rejoin);
                false
            }
            error::ILLEGAL_GENERATION => {
                self.rejoin(false);
                false
            }
            error::UNKNOWN_MEMBER_ID | error::FENCED_INSTANCE_ID => {
                self.rejoin(true);
                false
            }
            COORDINATOR_LOAD_IN_PROGRESS | error::COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                self.coordinator_known = false;
                true
            }
            _ => true,
        }
    }

    fn rejoin(&mut self, forget_member_id: bool) {
        if forget_member_id {
            self.member_id = StrBytes::default();
        }
        self.after_commit = None;
        self.phase = Phase::Join;
    }

    fn finish_commit_then(&mut self, after: AfterCommit) {
        match after {
            AfterCommit::Rejoin => self.rejoin(false),
            AfterCommit::Leave => self.phase = Phase::Leave,
        }
    }

    fn go_away(&mut self, now: u64) {
        let (_, away_ms) = self.settings.departures[self.departures_done];
        self.departures_done += 1;
        self.after_commit = None;
        self.positions.clear();
        self.out_of_range.clear();
        self.member_id = StrBytes::default();
        self.generation = -1;
        self.phase = Phase::Away { until: now + away_ms.max(1) };
    }

    fn on_join(
        &mut self,
        response: sluice_core::protocol::api::join_group::JoinGroupResponse,
        history: &mut History,
    ) -> bool {
        match response.error_code {
            error::NONE => {
                self.member_id = owned(&response.member_id);
                self.generation = response.generation_id;
                let leader = response.leader == self.member_id;
                history.push(Operation::GroupJoined {
                    client: self.client,
                    incarnation: history.answered_by,
                    reloads: history.answered_reloads,
                    member_id: self.member_id.as_str().to_owned(),
                    generation: self.generation,
                    leader,
                    leader_id: response.leader.to_string(),
                });
                self.leader_id = response.leader.to_string();
                let assignments = if leader {
                    let members = response
                        .members
                        .iter()
                        .map(|member| (member.member_id.as_str(), member.metadata.as_ref()));
                    range_assign(self.settings.topic, self.partitions, members)
                } else {
                    Vec::new()
                };
                self.phase = Phase::Sync { assignments };
                false
            }
            error::MEMBER_ID_REQUIRED => {
                // KIP-394: join again at once with the id the coordinator handed out.
                self.member_id = owned(&response.member_id);
                false
            }
            error::UNKNOWN_MEMBER_ID | error::FENCED_INSTANCE_ID => {
                self.member_id = StrBytes::default();
                false
            }
            error::REBALANCE_IN_PROGRESS => false,
            COORDINATOR_LOAD_IN_PROGRESS | error::COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                self.coordinator_known = false;
                true
            }
            _ => true,
        }
    }

    fn on_sync(
        &mut self,
        now: u64,
        response: sluice_core::protocol::api::sync_group::SyncGroupResponse,
        history: &mut History,
    ) -> bool {
        match response.error_code {
            error::NONE => {
                let partitions = assigned_partitions(&response.assignment, self.settings.topic)
                    .unwrap_or_else(|| {
                        panic!(
                            "client {}: undecodable assignment {:?} for generation {}",
                            self.client, response.assignment, self.generation
                        )
                    });
                history.push(Operation::GroupAssigned {
                    client: self.client,
                    incarnation: history.answered_by,
                    reloads: history.answered_reloads,
                    member_id: self.member_id.as_str().to_owned(),
                    generation: self.generation,
                    leader_id: self.leader_id.clone(),
                    partitions: partitions.clone(),
                });
                self.positions = partitions.into_iter().map(|partition| (partition, -1)).collect();
                self.out_of_range.clear();
                self.heartbeat_due = now + self.heartbeat_interval_ms();
                self.phase =
                    if self.positions.is_empty() { Phase::Stable } else { Phase::FetchOffsets };
                false
            }
            error::UNKNOWN_MEMBER_ID | error::FENCED_INSTANCE_ID => {
                self.rejoin(true);
                false
            }
            error::REBALANCE_IN_PROGRESS | error::ILLEGAL_GENERATION => {
                self.rejoin(false);
                false
            }
            COORDINATOR_LOAD_IN_PROGRESS | error::COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                self.coordinator_known = false;
                self.phase = Phase::Join;
                true
            }
            _ => {
                self.phase = Phase::Join;
                true
            }
        }
    }

    fn on_offset_fetch(
        &mut self,
        now: u64,
        fetch: u32,
        response: sluice_core::protocol::api::offset_fetch::OffsetFetchResponse,
        history: &mut History,
    ) -> bool {
        if response.error_code != 0 {
            let code = response.error_code;
            if matches!(code, COORDINATOR_LOAD_IN_PROGRESS | NOT_COORDINATOR)
                || code == error::COORDINATOR_NOT_AVAILABLE
            {
                self.coordinator_known = false;
            }
            return true;
        }
        let mut found = Vec::with_capacity(self.positions.len());
        for topic in &response.topics {
            for partition in &topic.partitions {
                if partition.error_code != 0 {
                    return true;
                }
                found.push((partition.partition_index, partition.committed_offset));
            }
        }
        found.sort_unstable();
        let wanted = self.positions.iter().map(|&(partition, _)| partition);
        if !found.iter().map(|&(partition, _)| partition).eq(wanted) {
            panic!(
                "client {}: OffsetFetch for {:?} answered {found:?}",
                self.client, self.positions
            );
        }
        history.push(Operation::OffsetFetched {
            client: self.client,
            fetch,
            offsets: found.clone(),
        });
        // auto.offset.reset=earliest: nothing committed means the start of the log.
        self.positions =
            found.iter().map(|&(partition, offset)| (partition, offset.max(0))).collect();
        self.commit_due = now + self.settings.auto_commit_interval_ms;
        self.phase = Phase::Stable;
        false
    }

    fn on_commit(
        &mut self,
        now: u64,
        commit: u32,
        offsets: &[(i32, i64)],
        response: sluice_core::protocol::api::offset_commit::OffsetCommitResponse,
        history: &mut History,
    ) -> bool {
        let errors: Vec<(i32, i16)> = response
            .topics
            .iter()
            .flat_map(|topic| topic.partitions.iter())
            .map(|partition| (partition.partition_index, partition.error_code))
            .collect();
        for &(partition, code) in &errors {
            if code != 0 {
                continue;
            }
            let offset = offsets.iter().find(|&&(p, _)| p == partition).map(|&(_, offset)| offset);
            let offset = offset.expect("an answer for a partition that was committed");
            let index = usize::try_from(partition).expect("non-negative");
            self.acknowledged[index] = offset;
        }
        let first_error = errors.iter().map(|&(_, code)| code).find(|&code| code != 0);
        history.push(Operation::CommitAnswered { client: self.client, commit, errors });
        self.commit_due = now + self.settings.auto_commit_interval_ms;
        let Some(code) = first_error else { return false };
        match self.after_commit.take() {
            // A commit made before a rejoin or a departure does not hold it up when it fails.
            Some(AfterCommit::Rejoin) => {
                self.rejoin(matches!(code, error::UNKNOWN_MEMBER_ID | error::FENCED_INSTANCE_ID))
            }
            Some(AfterCommit::Leave) => self.phase = Phase::Leave,
            None => return self.on_group_error(code),
        }
        false
    }

    fn on_fetch(
        &mut self,
        response: sluice_core::protocol::api::fetch::FetchResponse,
        history: &mut History,
    ) -> bool {
        let mut back_off = false;
        for topic in &response.responses {
            for answer in &topic.partitions {
                let Some(slot) = self
                    .positions
                    .iter()
                    .position(|&(partition, _)| partition == answer.partition_index)
                else {
                    panic!(
                        "client {}: fetch answered partition {}",
                        self.client, answer.partition_index
                    );
                };
                if answer.error_code != 0 {
                    let out_of_range = answer.error_code == ErrorCode::OffsetOutOfRange.code();
                    if out_of_range && self.settings.resets_to_earliest {
                        if !self.out_of_range.contains(&answer.partition_index) {
                            self.out_of_range.push(answer.partition_index);
                        }
                        continue;
                    }
                    if out_of_range {
                        history.push(Operation::PositionReset {
                            client: self.client,
                            error_code: answer.error_code,
                        });
                    }
                    back_off = true;
                    continue;
                }
                let records = answer.records.as_deref().unwrap_or_default();
                let partition = answer.partition_index;
                let position = &mut self.positions[slot].1;
                read_records(records, position, |offset, value| {
                    history.push(Operation::GroupConsumed {
                        client: self.client,
                        generation: self.generation,
                        partition,
                        offset,
                        value,
                    });
                });
            }
        }
        back_off
    }
}

/// Calls `read(offset, value)` for every record at or after `position` in `records` (whole
/// batches only) and advances `position` past each.
pub fn read_records(records: &[u8], position: &mut i64, mut read: impl FnMut(i64, String)) {
    let mut at = 0;
    while at < records.len() {
        let Ok(header) = BatchHeader::parse(&records[at..]) else { break };
        let end = at + header.size_bytes();
        if end > records.len() {
            break;
        }
        let batch = &records[at..end];
        let body = record_batch::records_body(&header, batch, BATCH_DECOMPRESSED_BYTES_MAX)
            .expect("the broker serves only batches it validated");
        for record in Records::new(&header, &body).flatten() {
            let offset = header.base_offset + i64::from(record.offset_delta);
            if offset < *position {
                continue;
            }
            let value = match record.value {
                // The workload's values are UTF-8: a copy checked once, not the lossy walk.
                Some(value) => match std::str::from_utf8(value) {
                    Ok(text) => text.to_owned(),
                    Err(_) => String::from_utf8_lossy(value).into_owned(),
                },
                None => crate::client::tombstone_value(&String::from_utf8_lossy(
                    record.key.unwrap_or_default(),
                )),
            };
            read(offset, value);
            *position = offset + 1;
        }
        // Compaction may leave a batch without its last records, or without any: its last
        // offset still counts, as Kafka's consumers skip such batches.
        *position = (*position).max(header.next_offset());
        at = end;
    }
}

/// A copy of a string from a response, so that it does not keep the response's buffer alive.
fn owned(text: &StrBytes) -> StrBytes {
    StrBytes::from_string(text.as_str().to_owned())
}

fn metadata(topic: &'static str) -> Request {
    Request::Metadata(MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(StrBytes::from_static(topic)),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        ..Default::default()
    })
}

fn find_coordinator(group: &'static str) -> Request {
    Request::FindCoordinator(FindCoordinatorRequest {
        key: StrBytes::from_static(group),
        key_type: 0,
        ..Default::default()
    })
}

fn put_string(out: &mut BytesMut, text: &str) {
    out.put_i16(i16::try_from(text.len()).expect("short strings"));
    out.put_slice(text.as_bytes());
}

/// `ConsumerProtocolSubscription` v0: one topic, no user data.
pub fn subscription(topic: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(16 + topic.len());
    out.put_i16(0);
    out.put_i32(1);
    put_string(&mut out, topic);
    out.put_i32(-1);
    out.freeze()
}

/// `ConsumerProtocolSubscription` v2 for `topic`: no user data, the partitions of it the
/// member owns, and its generation (-1 when it has none), as Kafka's consumer sends.
pub fn subscription_owning(topic: &str, owned: &[i32], generation: i32) -> Bytes {
    let mut out = BytesMut::with_capacity(32 + 2 * topic.len() + 4 * owned.len());
    out.put_i16(2);
    out.put_i32(1);
    put_string(&mut out, topic);
    out.put_i32(-1);
    out.put_i32(1);
    put_string(&mut out, topic);
    out.put_i32(i32::try_from(owned.len()).expect("few partitions"));
    for &partition in owned {
        out.put_i32(partition);
    }
    out.put_i32(generation);
    out.freeze()
}

/// `ConsumerProtocolAssignment` v0: `partitions` of `topic`, no user data.
pub fn assignment(topic: &str, partitions: &[i32]) -> Bytes {
    let mut out = BytesMut::with_capacity(16 + topic.len() + 4 * partitions.len());
    out.put_i16(0);
    out.put_i32(1);
    put_string(&mut out, topic);
    out.put_i32(i32::try_from(partitions.len()).expect("few partitions"));
    for &partition in partitions {
        out.put_i32(partition);
    }
    out.put_i32(-1);
    out.freeze()
}

/// The partitions of `topic` in a `ConsumerProtocolAssignment`, ascending; `None` if the bytes
/// are not one. An empty assignment (no bytes) assigns nothing.
pub fn assigned_partitions(bytes: &[u8], topic: &str) -> Option<Vec<i32>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut cursor = bytes;
    let mut take = |count: usize| -> Option<&[u8]> {
        let (head, rest) = (cursor.get(..count)?, cursor.get(count..)?);
        cursor = rest;
        Some(head)
    };
    let _version = i16::from_be_bytes(take(2)?.try_into().ok()?);
    let topics = i32::from_be_bytes(take(4)?.try_into().ok()?);
    let mut partitions = Vec::new();
    for _ in 0..topics.clamp(0, PARTITIONS_MAX) {
        let length = i16::from_be_bytes(take(2)?.try_into().ok()?);
        let name = take(usize::try_from(length).ok()?)?.to_vec();
        let count = i32::from_be_bytes(take(4)?.try_into().ok()?);
        if !(0..=PARTITIONS_MAX).contains(&count) {
            return None;
        }
        for _ in 0..count {
            let partition = i32::from_be_bytes(take(4)?.try_into().ok()?);
            if name == topic.as_bytes() {
                partitions.push(partition);
            }
        }
    }
    partitions.sort_unstable();
    Some(partitions)
}

/// Kafka's RangeAssignor for one topic: members subscribed to it, sorted by member id, each
/// get a contiguous range; the first `partitions % members` get one more.
pub fn range_assign<'a>(
    topic: &str,
    partitions: i32,
    members: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Vec<(String, Bytes)> {
    let mut all: Vec<(&str, bool)> = members
        .map(|(member_id, metadata)| {
            let subscribed = sluice_core::group::records::subscribed_topics(metadata)
                .is_some_and(|topics| topics.iter().any(|name| name == topic));
            (member_id, subscribed)
        })
        .collect();
    all.sort_unstable();
    let subscribed = all.iter().filter(|(_, subscribed)| *subscribed).count() as i32;
    let (per_member, extra) =
        if subscribed == 0 { (0, 0) } else { (partitions / subscribed, partitions % subscribed) };
    let mut next = 0;
    let mut rank = 0;
    let mut result = Vec::with_capacity(all.len());
    for (member_id, is_subscribed) in all {
        let mut mine = Vec::new();
        if is_subscribed {
            let count = per_member + i32::from(rank < extra);
            mine.extend(next..next + count);
            next += count;
            rank += 1;
        }
        result.push((member_id.to_owned(), assignment(topic, &mine)));
    }
    assert!(subscribed == 0 || next == partitions, "every partition is assigned once");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_assignor_gives_contiguous_ranges_in_member_id_order() {
        // Goal: Kafka's RangeAssignor, which the leader runs. Method: exact assignments for
        // three members over 7 and 2 partitions, one member subscribed to another topic.
        let topics = subscription("t");
        let other = subscription("u");
        let members = [("m-b", topics.as_ref()), ("m-c", other.as_ref()), ("m-a", topics.as_ref())];
        let decode = |assignments: Vec<(String, Bytes)>| -> Vec<(String, Vec<i32>)> {
            let decoded = assignments.into_iter().map(|(member, bytes)| {
                (member, assigned_partitions(&bytes, "t").expect("an assignment"))
            });
            decoded.collect()
        };
        let seven = decode(range_assign("t", 7, members.iter().copied()));
        let expected = [("m-a", vec![0, 1, 2, 3]), ("m-b", vec![4, 5, 6]), ("m-c", vec![])];
        let expected: Vec<(String, Vec<i32>)> =
            expected.into_iter().map(|(member, parts)| (member.to_owned(), parts)).collect();
        assert_eq!(seven, expected);
        let two = decode(range_assign("t", 2, members.iter().copied()));
        assert_eq!(two[0].1, vec![0]);
        assert_eq!(two[1].1, vec![1]);
        assert!(two[2].1.is_empty());
        assert_eq!(assigned_partitions(&[], "t"), Some(Vec::new()), "no bytes, no partitions");
        assert_eq!(assigned_partitions(&[0, 0, 0], "t"), None, "truncated");
    }
}

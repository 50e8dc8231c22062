//! The classic consumer-group coordinator: membership, rebalances and committed offsets, as a
//! sans-IO state machine with Kafka's semantics.
//!
//! # Role
//! One [`GroupCoordinator`] holds every group whose `__consumer_offsets` partition this broker
//! leads. It takes decoded requests (`crate::protocol::api::*`) with the current tick `now`
//! (monotonic ms) and answers them, either at once ([`Reply::Now`]) or later
//! ([`Reply::Deferred`]: JoinGroup and SyncGroup wait for the rebalance). It never reads a clock,
//! never draws randomness (member ids come from a counter) and iterates only `BTreeMap`s.
//!
//! # Calling order
//! After **every** call that takes `now` (a request or [`GroupCoordinator::handle_timeout`]):
//! 1. drain [`GroupCoordinator::poll_record`] and append those records to `__consumer_offsets`;
//! 2. drain [`GroupCoordinator::poll_completed`] and send those deferred responses;
//! 3. send the immediate response, if any, **only once the records from step 1 are durable**
//!    (an acknowledged offset commit must never be lost);
//! 4. re-arm the timer at [`GroupCoordinator::poll_timeout`].
//!
//! On start (or when coordination moves here) feed every record of the coordinator's
//! `__consumer_offsets` partitions to [`GroupCoordinator::replay`] in offset order, then call
//! [`GroupCoordinator::load_complete`].
//!
//! # States (Kafka's, transitions only in `transition`)
//! `Empty → PreparingRebalance → CompletingRebalance → Stable → PreparingRebalance …`, and
//! `Dead` when a group is deleted. `PreparingRebalance` waits for every member to rejoin (or the
//! rebalance timeout); a group rebalancing from `Empty` waits `group.initial.rebalance.delay.ms`
//! instead, extended while new members keep joining (KIP-134).

mod membership;
mod offsets;
pub mod records;
#[cfg(test)]
mod tests;

use crate::limits::{GROUPS_MAX, GROUP_MEMBERS_MAX};
use crate::protocol::api::join_group::{JoinGroupResponse, JoinGroupResponseMember};
use crate::protocol::api::sync_group::SyncGroupResponse;
use crate::protocol::wire::StrBytes;
use bytes::Bytes;
pub use records::coordinator_partition;
use records::{GroupValue, MemberValue, OffsetValue};
use std::collections::{BTreeMap, VecDeque};

/// Kafka error codes the coordinator returns (numbered as in the protocol guide).
pub mod error {
    /// No error.
    pub const NONE: i16 = 0;
    /// The server experienced an unexpected error.
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    /// The committed metadata is larger than `offset.metadata.max.bytes`.
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    /// The coordinator is not available (the group is being deleted).
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    /// This broker does not coordinate the group (its state was unloaded).
    pub const NOT_COORDINATOR: i16 = 16;
    /// The topic name is not valid.
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    /// The generation is not the group's current one.
    pub const ILLEGAL_GENERATION: i16 = 22;
    /// The member's protocol type or protocols do not match the group's.
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    /// The group id is empty or not valid.
    pub const INVALID_GROUP_ID: i16 = 24;
    /// The member id is not known to the group.
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    /// The session timeout is outside the broker's allowed range.
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    /// The group is rebalancing; the member must rejoin.
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    /// The request is not valid.
    pub const INVALID_REQUEST: i16 = 42;
    /// The request violates a broker limit.
    pub const POLICY_VIOLATION: i16 = 44;
    /// The group is not empty.
    pub const NON_EMPTY_GROUP: i16 = 68;
    /// The group does not exist.
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    /// The member must rejoin with the member id given in this response (v4+).
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    /// The group has reached its maximum size.
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
    /// Another member with the same `group.instance.id` replaced this one.
    pub const FENCED_INSTANCE_ID: i16 = 82;
    /// The group is subscribed to the topic whose offsets were to be deleted.
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
}

/// The coordinator's settings, with Kafka's names and defaults.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms` (3000).
    pub initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms` (6000).
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms` (1 800 000).
    pub max_session_timeout_ms: i32,
    /// `offsets.topic.num.partitions` (50).
    pub offsets_topic_partitions: i32,
    /// `offsets.topic.segment.bytes` (100 MiB): the `segment.bytes` of `__consumer_offsets`,
    /// smaller than other topics' so that compaction keeps it small.
    pub offsets_topic_segment_bytes: u32,
    /// `offset.metadata.max.bytes` (4096).
    pub offset_metadata_max_bytes: usize,
    /// `offsets.retention.minutes` (7 days), in ms: how long a group's committed offsets are
    /// kept once it has no members (KIP-211); offsets committed outside any group membership
    /// expire this long after their commit.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms` (600 000): how often expiry runs.
    pub offsets_retention_check_interval_ms: u64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            offsets_topic_partitions: 50,
            offsets_topic_segment_bytes: 100 * 1024 * 1024,
            offset_metadata_max_bytes: 4096,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
        }
    }
}

/// What the request header and connection say about a joining client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JoinContext {
    /// JoinGroup request version.
    pub version: i16,
    /// `client_id` from the request header.
    pub client_id: String,
    /// The client's address, as DescribeGroups shows it (Kafka: "/127.0.0.1").
    pub client_host: String,
}

/// An answer now, or later through [`GroupCoordinator::poll_completed`].
#[derive(Clone, Debug, PartialEq)]
pub enum Reply<T> {
    /// The response.
    Now(T),
    /// The response comes out of `poll_completed` with this request's id.
    Deferred,
}

/// A deferred response.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupResponse {
    /// A JoinGroup response.
    JoinGroup(JoinGroupResponse),
    /// A SyncGroup response.
    SyncGroup(SyncGroupResponse),
}

/// A record to append to `__consumer_offsets` (value `None`: a tombstone).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OffsetsRecord {
    /// The `__consumer_offsets` partition ([`coordinator_partition`] of the group).
    pub partition: i32,
    /// Record key.
    pub key: Bytes,
    /// Record value, or `None` for a tombstone.
    pub value: Option<Bytes>,
}

/// A JoinGroup answer before it becomes a wire struct (kept `Eq + Hash` inside the state).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct JoinOutcome {
    error: i16,
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: String,
    skip_assignment: bool,
    member_id: String,
    /// (member id, group instance id, metadata) — for the leader only.
    members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinOutcome {
    fn error(error: i16, member_id: &str) -> Self {
        assert_ne!(error, error::NONE);
        Self {
            error,
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members: Vec::new(),
        }
    }

    fn into_response(self) -> JoinGroupResponse {
        let members = self
            .members
            .into_iter()
            .map(|(member_id, group_instance_id, metadata)| JoinGroupResponseMember {
                member_id: StrBytes::from_string(member_id),
                group_instance_id: group_instance_id.map(StrBytes::from_string),
                metadata,
                ..Default::default()
            })
            .collect();
        JoinGroupResponse {
            error_code: self.error,
            generation_id: self.generation,
            protocol_type: self.protocol_type.map(StrBytes::from_string),
            protocol_name: self.protocol_name.map(StrBytes::from_string),
            leader: StrBytes::from_string(self.leader),
            skip_assignment: self.skip_assignment,
            member_id: StrBytes::from_string(self.member_id),
            members,
            ..Default::default()
        }
    }
}

/// A SyncGroup answer before it becomes a wire struct.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SyncOutcome {
    error: i16,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    assignment: Bytes,
}

impl SyncOutcome {
    fn error(error: i16) -> Self {
        assert_ne!(error, error::NONE);
        Self { error, protocol_type: None, protocol_name: None, assignment: Bytes::new() }
    }

    fn into_response(self) -> SyncGroupResponse {
        SyncGroupResponse {
            error_code: self.error,
            protocol_type: self.protocol_type.map(StrBytes::from_string),
            protocol_name: self.protocol_name.map(StrBytes::from_string),
            assignment: self.assignment,
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Completion {
    Join(JoinOutcome),
    Sync(SyncOutcome),
}

/// A JoinGroup waiting for the rebalance to complete.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ParkedJoin<R> {
    request: R,
    version: i16,
}

/// One member of a classic group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Member<R> {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    awaiting_join: Option<ParkedJoin<R>>,
    awaiting_sync: Option<R>,
    /// The tick at which the session expires, unless the member is parked in a join or sync.
    session_deadline: u64,
}

impl<R> Member<R> {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        let found = self.protocols.iter().find(|(name, _)| name == protocol);
        found.map(|(_, metadata)| metadata.clone()).unwrap_or_default()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }

    fn touch(&mut self, now: u64) {
        assert!(self.session_timeout_ms > 0);
        self.session_deadline = now + self.session_timeout_ms as u64;
    }
}

/// The delay a group rebalancing out of `Empty` waits for more members (KIP-134).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InitialDelay {
    /// Rebalance time left after the current delay.
    remaining_ms: u64,
    /// Whether a new member joined during the current delay.
    new_member_added: bool,
}

/// A group's phase, with the data that only that phase has.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum GroupState {
    /// No members; the group may still hold offsets.
    Empty,
    /// Waiting for members to (re)join until `deadline`.
    PreparingRebalance {
        /// When the join phase ends anyway.
        deadline: u64,
        /// Set when rebalancing out of `Empty`: the join phase ends only at `deadline`.
        initial: Option<InitialDelay>,
    },
    /// Waiting for the leader's SyncGroup until `deadline`.
    CompletingRebalance {
        /// When members that have not synced are removed.
        deadline: u64,
    },
    /// Assignments handed out; members heartbeat.
    Stable,
    /// Deleted; about to be removed.
    Dead,
}

impl GroupState {
    fn name(&self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance { .. } => "PreparingRebalance",
            Self::CompletingRebalance { .. } => "CompletingRebalance",
            Self::Stable => "Stable",
            Self::Dead => "Dead",
        }
    }
}

/// One classic group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Group<R> {
    group_id: String,
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member<R>>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the tick they expire.
    pending_members: BTreeMap<String, u64>,
    /// group.instance.id → member id.
    static_members: BTreeMap<String, String>,
    /// (topic, partition) → committed offset.
    offsets: BTreeMap<(String, i32), OffsetValue>,
    /// While the group is Empty: the wall clock's reading (the node's deletion clock) when it
    /// was made or became Empty, as Kafka's `currentStateTimestamp` (the time of its last
    /// state change). Stored in the group's record, so that an Empty group's offsets expire
    /// `offsets.retention.minutes` after it emptied, through restarts. `None` in other
    /// states, and for a group loaded from a record without one, or made by replaying
    /// offsets alone.
    state_since_wall_ms: Option<i64>,
    /// For a group whose state change time is unknown: the tick at which offset expiry first
    /// saw it Empty since it was loaded or last changed; `None` until then. (Expiry runs
    /// every `offsets.retention.check.interval.ms`, so retention counts from at most one
    /// interval after that: never earlier.)
    empty_since: Option<u64>,
}

impl<R: Clone> Group<R> {
    /// A new Empty group; `wall_ms` is when it was made (`None` when replayed).
    fn new(group_id: &str, wall_ms: Option<i64>) -> Self {
        Self {
            group_id: group_id.to_owned(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending_members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            offsets: BTreeMap::new(),
            state_since_wall_ms: wall_ms,
            empty_since: None,
        }
    }

    /// The only place a group changes phase, at `wall_ms` by the node's deletion clock;
    /// asserts Kafka's legal transitions.
    fn transition(&mut self, target: GroupState, wall_ms: i64) {
        // The initial delay re-arms itself: PreparingRebalance to PreparingRebalance.
        let legal = matches!(
            (&self.state, &target),
            (_, GroupState::Dead)
                | (GroupState::PreparingRebalance { .. }, GroupState::Empty)
                | (
                    GroupState::Stable
                        | GroupState::CompletingRebalance { .. }
                        | GroupState::Empty
                        | GroupState::PreparingRebalance { initial: Some(_), .. },
                    GroupState::PreparingRebalance { .. },
                )
                | (GroupState::PreparingRebalance { .. }, GroupState::CompletingRebalance { .. })
                | (GroupState::CompletingRebalance { .. }, GroupState::Stable)
        );
        assert!(legal, "illegal group transition {} -> {}", self.state.name(), target.name());
        if matches!(target, GroupState::Empty) {
            assert!(self.members.is_empty(), "an Empty group has no members");
        }
        // Retention counts from when the group last became Empty, as Kafka's count from its
        // last state change does: a member that came and went between two expiry checks
        // restarts it. (Only an Empty group's time is ever read, so a group in another state
        // keeps none: groups alike but for when they began stay one state to the model
        // checker. Its record then holds -1, which Kafka reads as no time.)
        self.state_since_wall_ms = (target == GroupState::Empty).then_some(wall_ms);
        self.empty_since = None;
        self.state = target;
    }

    /// Members plus ids handed out and not yet used, as counted against the size limit.
    fn size(&self) -> usize {
        self.members.len() + self.pending_members.len()
    }

    fn is_full(&self) -> bool {
        self.size() >= GROUP_MEMBERS_MAX
    }

    fn rebalance_timeout_ms(&self) -> u64 {
        let longest = self.members.values().map(|member| member.rebalance_timeout_ms).max();
        u64::try_from(longest.unwrap_or(0).max(0)).expect("non-negative")
    }

    /// Whether a static member id is stale: its instance id belongs to another member id.
    fn is_fenced(&self, member_id: &str, group_instance_id: Option<&str>) -> bool {
        let Some(instance) = group_instance_id else { return false };
        match self.static_members.get(instance) {
            Some(current) => current != member_id,
            None => false,
        }
    }

    /// The record that stores this group's state (Kafka's group metadata value).
    fn to_value(&self) -> GroupValue {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = self
            .members
            .values()
            .map(|member| MemberValue {
                member_id: member.member_id.clone(),
                group_instance_id: member.group_instance_id.clone(),
                client_id: member.client_id.clone(),
                client_host: member.client_host.clone(),
                rebalance_timeout_ms: member.rebalance_timeout_ms,
                session_timeout_ms: member.session_timeout_ms,
                subscription: member.metadata_for(&protocol),
                assignment: member.assignment.clone(),
            })
            .collect();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol_name.clone(),
            leader: self.leader.clone(),
            current_state_timestamp_ms: self.state_since_wall_ms.unwrap_or(-1),
            members,
        }
    }

    /// The earliest tick at which this group has something to do.
    fn next_deadline(&self) -> Option<u64> {
        let phase = match self.state {
            GroupState::PreparingRebalance { deadline, .. } => Some(deadline),
            GroupState::CompletingRebalance { deadline } => Some(deadline),
            _ => None,
        };
        let sessions = self
            .members
            .values()
            .filter(|member| member.awaiting_join.is_none() && member.awaiting_sync.is_none())
            .map(|member| member.session_deadline);
        let pending = self.pending_members.values().copied();
        phase.into_iter().chain(sessions).chain(pending).min()
    }
}

/// Responses and records produced while handling one call, drained by the `poll_*` methods.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Outbox<R> {
    completed: VecDeque<(R, Completion)>,
    records: VecDeque<OffsetsRecord>,
    offsets_topic_partitions: i32,
    /// The wall clock state changes are stamped with ([`GroupCoordinator::set_wall_clock`]).
    wall_ms: i64,
}

impl<R> Outbox<R> {
    fn complete_join(&mut self, parked: ParkedJoin<R>, outcome: JoinOutcome) {
        self.completed.push_back((parked.request, Completion::Join(outcome)));
    }

    fn complete_sync(&mut self, request: R, outcome: SyncOutcome) {
        self.completed.push_back((request, Completion::Sync(outcome)));
    }

    fn record(&mut self, group_id: &str, key: Bytes, value: Option<Bytes>) {
        let partition = coordinator_partition(group_id, self.offsets_topic_partitions);
        self.records.push_back(OffsetsRecord { partition, key, value });
    }

    fn store_group<G: Clone>(&mut self, group: &Group<G>) {
        let value = records::encode_group_value(&group.to_value());
        self.record(&group.group_id, records::encode_group_key(&group.group_id), Some(value));
    }
}

/// The classic group coordinator. `R` identifies a request (the Node's request reference), so
/// deferred responses can be routed back. See the module docs for the calling order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupCoordinator<R> {
    config: GroupConfig,
    groups: BTreeMap<String, Group<R>>,
    outbox: Outbox<R>,
    /// Counter from which member ids are derived.
    member_sequence: u64,
    /// Random bits of this coordinator's incarnation in every member id it hands out, so that
    /// a coordinator rebuilt from its records (a restart, a failover) never hands a new client
    /// the id of a member it forgot (one that joined but was never stored).
    member_id_nonce: u64,
    /// The latest tick seen; ticks never go back.
    now: u64,
}

impl<R: Clone> GroupCoordinator<R> {
    /// A coordinator with no groups.
    pub fn new(config: GroupConfig) -> Self {
        assert!(config.offsets_topic_partitions > 0);
        assert!(config.min_session_timeout_ms <= config.max_session_timeout_ms);
        let outbox = Outbox {
            completed: VecDeque::new(),
            records: VecDeque::new(),
            offsets_topic_partitions: config.offsets_topic_partitions,
            wall_ms: 0,
        };
        Self {
            config,
            groups: BTreeMap::new(),
            outbox,
            member_sequence: 0,
            member_id_nonce: 0,
            now: 0,
        }
    }

    /// Sets the random bits this incarnation puts in member ids (see the field's docs); the
    /// node draws them from its seeded PRNG when it builds the coordinator. 0 (the default)
    /// gives ids `<client id>-00000000-0000-4000-8000-<sequence>`.
    pub fn set_member_id_nonce(&mut self, nonce: u64) {
        self.member_id_nonce = nonce;
    }

    /// Places groups on `partitions` partitions of `__consumer_offsets` instead of the
    /// configured count: the existing topic's count wins, as in Kafka, for a group's records
    /// must stay in the one partition they are in. Set before any group is loaded.
    pub fn set_offsets_topic_partitions(&mut self, partitions: i32) {
        assert!(partitions > 0);
        assert!(self.groups.is_empty(), "groups are placed before they are loaded");
        self.config.offsets_topic_partitions = partitions;
        self.outbox.offsets_topic_partitions = partitions;
    }

    /// Sets the wall clock that the group state changes of the calls that follow are stamped
    /// with (Kafka's `currentStateTimestamp`, stored in group records): the node passes its
    /// deletion clock, the one offset expiry reads, before each input it handles.
    pub fn set_wall_clock(&mut self, wall_ms: i64) {
        self.outbox.wall_ms = wall_ms;
    }

    /// The settings.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// How many groups are held.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The `__consumer_offsets` partition coordinating `group_id`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        coordinator_partition(group_id, self.config.offsets_topic_partitions)
    }

    /// The next deferred response, with the id of the request it answers. Drain after every
    /// call that takes `now`.
    pub fn poll_completed(&mut self) -> Option<(R, GroupResponse)> {
        let (request, completion) = self.outbox.completed.pop_front()?;
        let response = match completion {
            Completion::Join(outcome) => GroupResponse::JoinGroup(outcome.into_response()),
            Completion::Sync(outcome) => GroupResponse::SyncGroup(outcome.into_response()),
        };
        Some((request, response))
    }

    /// The next record to append to `__consumer_offsets`. Drain after every call that takes
    /// `now`, and hold that call's immediate response until these records are durable.
    pub fn poll_record(&mut self) -> Option<OffsetsRecord> {
        self.outbox.records.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next; `None` when no timer is armed. May
    /// change after any call.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.groups.values().filter_map(Group::next_deadline).min()
    }

    fn advance(&mut self, now: u64) {
        assert!(now >= self.now, "ticks never go back: {now} < {}", self.now);
        self.now = now;
    }

    /// Expires sessions, ends join and sync phases, and extends the initial rebalance delay.
    /// A spurious call is a no-op.
    pub fn handle_timeout(&mut self, now: u64) {
        self.advance(now);
        let due: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, group)| group.next_deadline().is_some_and(|deadline| deadline <= now))
            .map(|(group_id, _)| group_id.clone())
            .collect();
        let Self { groups, outbox, config, .. } = self;
        for group_id in due {
            let group = groups.get_mut(&group_id).expect("listed above");
            membership::expire(group, outbox, config, now);
        }
    }

    /// The group if it exists and is not Dead.
    fn live_group(&self, group_id: &str) -> Option<&Group<R>> {
        self.groups.get(group_id).filter(|group| group.state != GroupState::Dead)
    }

    /// Whether one more group may be created.
    fn has_room_for_group(&self) -> bool {
        self.groups.len() < GROUPS_MAX
    }

    /// A fresh member id: `<client_id>-<uuid-like counter>`, unique within `group`.
    fn next_member_id(&mut self, group_id: &str, client_id: &str) -> String {
        // A replayed group may hold ids an earlier process handed out: skip those. Bounded by
        // the group's size, since each collision is with a distinct existing member.
        for _ in 0..=GROUP_MEMBERS_MAX + 1 {
            self.member_sequence += 1;
            let sequence = self.member_sequence;
            let nonce = self.member_id_nonce;
            let candidate = format!(
                "{client_id}-{:08x}-{:04x}-4000-8000-{:012x}",
                (nonce >> 32) as u32 ^ (sequence >> 48) as u32,
                (nonce >> 16) as u16,
                sequence & 0xFFFF_FFFF_FFFF
            );
            let taken = self.groups.get(group_id).is_some_and(|group| {
                group.members.contains_key(&candidate)
                    || group.pending_members.contains_key(&candidate)
            });
            if !taken {
                return candidate;
            }
        }
        unreachable!("a group holds at most GROUP_MEMBERS_MAX members")
    }
}

/// Longest text stored in an `i16`-length record string.
const RECORD_STRING_BYTES_MAX: usize = i16::MAX as usize;

/// Longest client id kept (it prefixes member ids); longer ones are cut at a char boundary.
const CLIENT_ID_BYTES_MAX: usize = 1024;

fn truncated(text: &str, bytes_max: usize) -> String {
    if text.len() <= bytes_max {
        return text.to_owned();
    }
    let mut end = bytes_max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn fits_record(text: &str) -> bool {
    text.len() <= RECORD_STRING_BYTES_MAX
}

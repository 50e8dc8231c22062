//! A stateright model of a classic consumer group: Sluice's own [`GroupCoordinator`] (the
//! state machine the broker runs) with a few members that join, sync, heartbeat, commit, leave
//! and fall silent in every order, while time jumps to the coordinator's next deadline
//! (session and rebalance timeouts, the initial rebalance delay) or past a session.
//!
//! Members behave as Kafka's clients do: they join with their member id (or none), the leader
//! of a generation computes a round-robin assignment from the member list JoinGroup gave it,
//! a member commits with the generation it last joined, and a member told UNKNOWN_MEMBER_ID
//! forgets its id. The coordinator may also fail over: its state is rebuilt by replaying the
//! `__consumer_offsets` records it wrote (as the broker does on start), and requests in
//! flight are lost.
//!
//! Properties (DESIGN.md §7, groups):
//! - **one owner per partition per generation**: no two members receive the same partition
//!   in SyncGroup answers of one generation;
//! - **generations only grow** for each member; across a failover, from the last generation
//!   the coordinator stored (one formed but never stored is numbered again, as in Kafka); a
//!   group deleted by expiry (Empty, no offsets left) starts again at generation 1;
//! - **fenced commits**: an OffsetCommit is accepted only with the newest generation any
//!   member has been given (after a failover: the newest the coordinator stored);
//! - **committed offsets survive failover**: after a replay, OffsetFetch returns the last
//!   accepted commit (unless it expired);
//! - **offsets expire only after retention** (with `offsets_retention_ms`): expiry, run at
//!   any moment, removes the group's offsets only once the group has been Empty that long
//!   since its last change (KIP-211), however members came and went between runs; the time
//!   it emptied is stored with it, so a failover does not restart the count (reachability:
//!   an expiry sooner than the retention after a failover), and, as in Kafka, members that
//!   joined after the group's last stored change are forgotten with the failed coordinator;
//! - reachability (so the properties are not vacuous): all partitions assigned in a Stable
//!   generation with every member owning some; a commit accepted; a failover happened.

use bytes::Bytes;
use sluice_core::group::records::{self, RecordKey};
use sluice_core::group::{GroupConfig, GroupCoordinator, GroupResponse, JoinContext, Reply};
use sluice_core::protocol::api::heartbeat::HeartbeatRequest;
use sluice_core::protocol::api::join_group::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse,
};
use sluice_core::protocol::api::leave_group::LeaveGroupRequest;
use sluice_core::protocol::api::list_groups::ListGroupsRequest;
use sluice_core::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use sluice_core::protocol::api::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestTopic};
use sluice_core::protocol::api::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
use sluice_core::protocol::wire::StrBytes;
use stateright::{Model, Property};
use std::collections::BTreeMap;

const GROUP: &str = "model-group";
const TOPIC: &str = "t";
const SESSION_MS: u64 = 10_000;
const REBALANCE_MS: u64 = 20_000;
const UNKNOWN_MEMBER_ID: i16 = 25;

/// The model's size.
#[derive(Clone, Debug)]
pub struct GroupModel {
    /// Members (2 or 3 keep the check fast).
    pub members: usize,
    /// Partitions of the one subscribed topic.
    pub partitions: i32,
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: u64,
    /// Whether the coordinator may fail over.
    pub failover: bool,
    /// `offsets.retention.minutes`, in ms: when set, expiry may run at any step and time may
    /// also pass by half of it.
    pub offsets_retention_ms: Option<u64>,
}

/// What a member knows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    member_id: String,
    generation: i32,
    /// The member list of its last JoinGroup answer, when it leads that generation.
    led: Option<Vec<String>>,
    /// Partitions from its last SyncGroup answer, with that answer's generation.
    assigned: Option<(i32, Vec<i32>)>,
    /// A JoinGroup or SyncGroup of its is parked in the coordinator.
    waiting: bool,
    /// The highest generation it was ever given.
    highest_generation: i32,
}

/// The whole system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    coordinator: GroupCoordinator<u64>,
    now: u64,
    members: Vec<Member>,
    next_request: u64,
    /// Every `__consumer_offsets` record so far, (key, value), for failover.
    records: Vec<(Bytes, Option<Bytes>)>,
    /// generation → partition → member, from SyncGroup answers.
    owners: BTreeMap<i32, BTreeMap<i32, usize>>,
    /// The newest generation any member was given.
    newest_generation: i32,
    /// The last accepted commit: (partition 0's offset).
    committed: Option<i64>,
    /// When it was accepted.
    committed_at: u64,
    failovers: u8,
    commits_accepted: u8,
    /// The latest time the group was in a state other than Empty (or did not exist yet).
    last_not_empty_at: u64,
    /// Whether expiry ever removed the committed offset.
    expired: bool,
    /// When the coordinator failed over, if it then loaded the group Empty with the time
    /// it emptied (kept only then: it would split states that are alike).
    failover_at: Option<u64>,
    /// Whether expiry removed the committed offset less than the retention after a failover,
    /// the group having been Empty since before it: the time it emptied, stored in its
    /// record, survived the failover.
    expired_soon_after_failover: bool,
    /// The first property violation seen while delivering answers, if any.
    violation: Option<String>,
}

/// A step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Member sends JoinGroup.
    Join(usize),
    /// Member sends SyncGroup (the leader with its assignment).
    Sync(usize),
    /// Member sends Heartbeat.
    Heartbeat(usize),
    /// Member commits offset `value` for partition 0 with its generation.
    Commit(usize, i64),
    /// Member sends LeaveGroup.
    Leave(usize),
    /// Time jumps to the coordinator's next deadline.
    Deadline,
    /// Time passes a whole session: silent members expire.
    Silence,
    /// The coordinator is rebuilt from its records; parked requests are lost.
    Failover,
    /// Offsets expiry runs (`offsets.retention.check.interval.ms` came round).
    Expire,
    /// Time passes by half the offsets retention.
    Wait,
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

fn config(model: &GroupModel) -> GroupConfig {
    let defaults = GroupConfig::default();
    GroupConfig {
        initial_rebalance_delay_ms: model.initial_rebalance_delay_ms,
        offsets_retention_ms: model
            .offsets_retention_ms
            .map_or(defaults.offsets_retention_ms, |ms| ms as i64),
        ..defaults
    }
}

/// Whether the coordinator has the group in a state other than Empty.
fn not_empty(coordinator: &GroupCoordinator<u64>) -> bool {
    let listed = coordinator.list_groups(&ListGroupsRequest::default());
    listed.groups.iter().any(|group| group.group_state.as_str() != "Empty")
}

/// Round-robin over the sorted member ids, as the leader computes it.
fn assign(members: &[String], partitions: i32) -> BTreeMap<String, Vec<i32>> {
    let mut sorted = members.to_vec();
    sorted.sort();
    let mut out: BTreeMap<String, Vec<i32>> =
        sorted.iter().map(|member| (member.clone(), Vec::new())).collect();
    for partition in 0..partitions {
        let owner = &sorted[partition as usize % sorted.len()];
        out.get_mut(owner).expect("listed").push(partition);
    }
    out
}

impl GroupModel {
    fn join_request(&self, member: &Member) -> JoinGroupRequest {
        JoinGroupRequest {
            group_id: text(GROUP),
            session_timeout_ms: SESSION_MS as i32,
            rebalance_timeout_ms: REBALANCE_MS as i32,
            member_id: text(&member.member_id),
            protocol_type: text("consumer"),
            protocols: vec![JoinGroupRequestProtocol {
                name: text("roundrobin"),
                metadata: Bytes::from_static(b"subscription"),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// Delivers deferred answers and collects records after any coordinator call.
    fn settle(&self, state: &mut State) {
        while let Some((request, response)) = state.coordinator.poll_completed() {
            let index = (request % 16) as usize;
            match response {
                GroupResponse::JoinGroup(answer) => deliver_join(state, index, &answer),
                GroupResponse::SyncGroup(answer) => {
                    deliver_sync(state, index, answer.error_code, &answer.assignment);
                }
            }
        }
        while let Some(record) = state.coordinator.poll_record() {
            state.records.push((record.key, record.value));
        }
    }

    fn request_id(state: &mut State, member: usize) -> u64 {
        state.next_request += 1;
        state.next_request * 16 + member as u64
    }
}

fn deliver_join(state: &mut State, index: usize, answer: &JoinGroupResponse) {
    let (error, generation) = (answer.error_code, answer.generation_id);
    let (member_id, leader) = (answer.member_id.as_str(), answer.leader.as_str());
    let members: Vec<String> =
        answer.members.iter().map(|m| m.member_id.as_str().to_owned()).collect();
    let member = &mut state.members[index];
    member.waiting = false;
    member.assigned = None;
    member.led = None;
    if error == UNKNOWN_MEMBER_ID {
        member.member_id.clear();
        member.generation = -1;
        return;
    }
    if error != 0 {
        return;
    }
    if generation < member.highest_generation && state.violation.is_none() {
        state.violation = Some(format!(
            "member {index} was given generation {generation} after {}",
            member.highest_generation
        ));
    }
    member.highest_generation = member.highest_generation.max(generation);
    member.member_id = member_id.to_owned();
    member.generation = generation;
    if leader == member_id {
        member.led = Some(members);
    }
    state.newest_generation = state.newest_generation.max(generation);
}

fn deliver_sync(state: &mut State, index: usize, error: i16, assignment: &Bytes) {
    let member = &mut state.members[index];
    member.waiting = false;
    if error == UNKNOWN_MEMBER_ID {
        member.member_id.clear();
        member.generation = -1;
    }
    if error != 0 {
        member.assigned = None;
        return;
    }
    let generation = member.generation;
    let partitions: Vec<i32> = assignment.iter().map(|&byte| i32::from(byte)).collect();
    member.assigned = Some((generation, partitions.clone()));
    let owners = state.owners.entry(generation).or_default();
    for partition in partitions {
        if let Some(&other) = owners.get(&partition) {
            if other != index && state.violation.is_none() {
                state.violation = Some(format!(
                    "partition {partition} went to members {other} and {index} in generation \
                     {generation}"
                ));
            }
        }
        owners.insert(partition, index);
    }
}

impl Model for GroupModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let member = Member {
            member_id: String::new(),
            generation: -1,
            led: None,
            assigned: None,
            waiting: false,
            highest_generation: -1,
        };
        vec![State {
            coordinator: GroupCoordinator::new(config(self)),
            now: 0,
            members: vec![member; self.members],
            next_request: 0,
            records: Vec::new(),
            owners: BTreeMap::new(),
            newest_generation: -1,
            committed: None,
            committed_at: 0,
            failovers: 0,
            commits_accepted: 0,
            last_not_empty_at: 0,
            expired: false,
            failover_at: None,
            expired_soon_after_failover: false,
            violation: None,
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        for (index, member) in state.members.iter().enumerate() {
            if member.waiting {
                continue;
            }
            actions.push(Action::Join(index));
            let synced = member.assigned.as_ref().is_some_and(|(g, _)| *g == member.generation);
            if member.generation >= 0 && !synced {
                actions.push(Action::Sync(index));
            }
            if !member.member_id.is_empty() {
                actions.push(Action::Heartbeat(index));
                actions.push(Action::Leave(index));
                if member.generation >= 0 {
                    actions.push(Action::Commit(index, i64::from(state.commits_accepted) + 1));
                }
            }
        }
        if state.coordinator.poll_timeout().is_some() {
            actions.push(Action::Deadline);
        }
        actions.push(Action::Silence);
        if self.failover && state.failovers == 0 {
            actions.push(Action::Failover);
        }
        if self.offsets_retention_ms.is_some() {
            actions.push(Action::Expire);
            actions.push(Action::Wait);
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        let now = state.now;
        // Only expiry reads these two; without it they would split states that are alike.
        let expiring = self.offsets_retention_ms.is_some();
        let mut was_not_empty = expiring && not_empty(&state.coordinator);
        // The wall clock reads the model's time: a group that empties is stamped with it.
        // (Only expiry reads the stamp; without it the clock stands still, so that groups
        // alike but for when they emptied stay one state.)
        let wall = |now: u64| if expiring { now as i64 } else { 0 };
        state.coordinator.set_wall_clock(wall(now));
        let context =
            JoinContext { version: 3, client_id: "c".to_owned(), client_host: "/h".to_owned() };
        match action {
            Action::Join(index) => {
                let request = GroupModel::request_id(&mut state, index);
                let body = self.join_request(&state.members[index]);
                state.members[index].waiting = true;
                if let Reply::Now(answer) =
                    state.coordinator.join_group(now, request, &context, &body)
                {
                    deliver_join(&mut state, index, &answer);
                }
            }
            Action::Sync(index) => {
                let request = GroupModel::request_id(&mut state, index);
                let member = &state.members[index];
                let assignments = member
                    .led
                    .as_ref()
                    .map(|members| {
                        assign(members, self.partitions)
                            .into_iter()
                            .map(|(member_id, partitions)| SyncGroupRequestAssignment {
                                member_id: text(&member_id),
                                assignment: partitions.iter().map(|&p| p as u8).collect(),
                                ..Default::default()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let body = SyncGroupRequest {
                    group_id: text(GROUP),
                    generation_id: member.generation,
                    member_id: text(&member.member_id),
                    assignments,
                    ..Default::default()
                };
                state.members[index].waiting = true;
                if let Reply::Now(answer) = state.coordinator.sync_group(now, request, &body) {
                    deliver_sync(&mut state, index, answer.error_code, &answer.assignment);
                }
            }
            Action::Heartbeat(index) => {
                let member = &state.members[index];
                let body = HeartbeatRequest {
                    group_id: text(GROUP),
                    generation_id: member.generation,
                    member_id: text(&member.member_id),
                    ..Default::default()
                };
                let answer = state.coordinator.heartbeat(now, &body);
                if answer.error_code == UNKNOWN_MEMBER_ID {
                    let member = &mut state.members[index];
                    member.member_id.clear();
                    member.generation = -1;
                    member.assigned = None;
                }
            }
            Action::Commit(index, value) => {
                let member = &state.members[index];
                let generation = member.generation;
                let body = OffsetCommitRequest {
                    group_id: text(GROUP),
                    generation_id_or_member_epoch: generation,
                    member_id: text(&member.member_id),
                    topics: vec![OffsetCommitRequestTopic {
                        name: text(TOPIC),
                        partitions: vec![OffsetCommitRequestPartition {
                            partition_index: 0,
                            committed_offset: value,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                // The model's wall clock is its tick.
                let answer = state.coordinator.offset_commit(now, now as i64, &body);
                let accepted = answer.topics[0].partitions[0].error_code == 0;
                if accepted {
                    if generation < state.newest_generation && state.violation.is_none() {
                        state.violation = Some(format!(
                            "a commit of generation {generation} was accepted after generation \
                             {} was formed",
                            state.newest_generation
                        ));
                    }
                    state.committed = Some(value);
                    if expiring {
                        state.committed_at = now;
                    }
                    state.commits_accepted = state.commits_accepted.saturating_add(1);
                }
            }
            Action::Leave(index) => {
                let member_id = state.members[index].member_id.clone();
                let body = LeaveGroupRequest {
                    group_id: text(GROUP),
                    member_id: text(&member_id),
                    ..Default::default()
                };
                state.coordinator.leave_group(now, 0, &body);
                let member = &mut state.members[index];
                member.member_id.clear();
                member.generation = -1;
                member.assigned = None;
                member.led = None;
            }
            Action::Deadline => {
                let deadline = state.coordinator.poll_timeout()?;
                state.now = state.now.max(deadline);
                state.coordinator.set_wall_clock(wall(state.now));
                state.coordinator.handle_timeout(state.now);
            }
            Action::Silence => {
                state.now += SESSION_MS + 1;
                state.coordinator.set_wall_clock(wall(state.now));
                state.coordinator.handle_timeout(state.now);
            }
            Action::Failover => {
                let mut rebuilt = GroupCoordinator::new(config(self));
                // A new incarnation draws new random bits for member ids (the node does).
                rebuilt.set_member_id_nonce(0x5eed_0000_0000_0000 + u64::from(state.failovers));
                for (key, value) in &state.records {
                    rebuilt.replay(key, value.as_deref()).expect("records replay");
                }
                rebuilt.load_complete(state.now);
                rebuilt.set_wall_clock(wall(state.now));
                state.coordinator = rebuilt;
                // The rebuilt coordinator knows the last generation it stored; one formed but
                // never stored is gone with the old coordinator, as in Kafka.
                let stored = state
                    .records
                    .iter()
                    .rev()
                    .find(|(key, _)| {
                        matches!(records::decode_key(key), Ok(RecordKey::Group { .. }))
                    })
                    .and_then(|(_, value)| value.as_ref())
                    .map(|value| records::decode_group_value(value).expect("a group value"));
                state.newest_generation = stored.as_ref().map_or(-1, |value| value.generation);
                if expiring {
                    // As Kafka's load: an Empty group's retention counts from the time of the
                    // state change its record stored. Members that came after it and were
                    // never stored are gone with the old coordinator, so from then on the
                    // group was last not Empty when it emptied by the record.
                    if !not_empty(&state.coordinator) {
                        let emptied = stored.as_ref().map(|value| value.current_state_timestamp_ms);
                        if let Some(emptied) = emptied.filter(|&stamp| stamp >= 0) {
                            state.last_not_empty_at = emptied as u64;
                            state.failover_at = Some(state.now);
                        }
                    }
                    // What the old coordinator held in memory does not count.
                    was_not_empty = false;
                }
                state.failovers += 1;
                for member in &mut state.members {
                    member.waiting = false;
                    // Generations formed but never stored are forgotten with the old
                    // coordinator (as in Kafka) and will be numbered again. That is safe
                    // because member ids of the old incarnation are never handed out again.
                    member.highest_generation =
                        member.highest_generation.min(state.newest_generation);
                }
                let fetch = OffsetFetchRequest {
                    group_id: text(GROUP),
                    topics: Some(vec![OffsetFetchRequestTopic {
                        name: text(TOPIC),
                        partition_indexes: vec![0],
                        ..Default::default()
                    }]),
                    ..Default::default()
                };
                let answer = state.coordinator.offset_fetch(state.now, 5, &fetch);
                let found = answer.topics[0].partitions[0].committed_offset;
                // Expiry's tombstones are in the records too: a replay forgets what expired.
                if found != state.committed.unwrap_or(-1) && state.violation.is_none() {
                    state.violation = Some(format!(
                        "after failover the committed offset is {found}, not {:?}",
                        state.committed
                    ));
                }
            }
            Action::Expire => {
                let existed = state.coordinator.group_count() > 0;
                // A group rebuilt from its offsets alone (its generation was never stored)
                // holds them as a standalone consumer's, as Kafka loads them: they expire
                // that long after their commit.
                let standalone = state.newest_generation < 0;
                let expired = state.coordinator.expire_offsets(now, now as i64);
                if existed && state.coordinator.group_count() == 0 {
                    // An Empty group left without offsets is deleted, as in Kafka: a new one
                    // of the name starts again at generation 1, under new member ids.
                    state.newest_generation = -1;
                    state.owners.clear();
                    for member in &mut state.members {
                        member.highest_generation = -1;
                    }
                }
                if expired > 0 {
                    let retention_ms = self.offsets_retention_ms.expect("expiry is modelled");
                    let empty_for = now - state.last_not_empty_at;
                    let old_enough = empty_for >= retention_ms
                        || (standalone && now - state.committed_at >= retention_ms);
                    if !old_enough && state.violation.is_none() {
                        state.violation = Some(format!(
                            "offsets expired at {now}, {empty_for} ms after the group was last \
                             not Empty"
                        ));
                    }
                    let after_failover = state.failover_at.is_some_and(|failover_at| {
                        state.last_not_empty_at <= failover_at && now - failover_at < retention_ms
                    });
                    state.expired_soon_after_failover |= after_failover;
                    state.committed = None;
                    state.expired = true;
                }
            }
            Action::Wait => {
                state.now += self.offsets_retention_ms.expect("waits are modelled") / 2;
                state.coordinator.set_wall_clock(wall(state.now));
                state.coordinator.handle_timeout(state.now);
            }
        }
        self.settle(&mut state);
        // The group was not Empty up to now if it was not before the step (a state change is
        // made at the step's time) or is not after it.
        if expiring && (was_not_empty || not_empty(&state.coordinator)) {
            state.last_not_empty_at = state.now;
        }
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("no violation", |_, state: &State| state.violation.is_none()),
            Property::sometimes(
                "every partition owned in a stable generation",
                |model: &Self, state: &State| {
                    let generation = state.newest_generation;
                    let owners = state.owners.get(&generation);
                    owners.is_some_and(|owners| owners.len() == model.partitions as usize)
                        && state.members.iter().all(|member| {
                            member
                                .assigned
                                .as_ref()
                                .is_some_and(|(g, parts)| *g == generation && !parts.is_empty())
                        })
                },
            ),
            Property::sometimes("a commit accepted", |_, state: &State| state.commits_accepted > 0),
            Property::sometimes("offsets expired", |model: &Self, state: &State| {
                model.offsets_retention_ms.is_none() || state.expired
            }),
            Property::sometimes(
                "offsets expired sooner than the retention after a failover, counted from before it",
                |model: &Self, state: &State| {
                    model.offsets_retention_ms.is_none()
                        || !model.failover
                        || state.expired_soon_after_failover
                },
            ),
            Property::sometimes(
                "a failover with committed offsets",
                |model: &Self, state: &State| {
                    !model.failover || (state.failovers > 0 && state.committed.is_some())
                },
            ),
        ]
    }
}

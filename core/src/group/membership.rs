//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup, and the rebalance steps they drive.
//!
//! Request handlers validate and route; the free functions below (`prepare_rebalance`,
//! `try_complete_join`, `complete_join`, `complete_sync`, `remove_member`, `expire`) are the
//! rebalance protocol itself and the only callers of `Group::transition`.

use super::error;
use super::{
    fits_record, truncated, GroupConfig, GroupCoordinator, GroupState, InitialDelay, JoinContext,
    JoinOutcome, Member, Outbox, ParkedJoin, Reply, SyncOutcome, CLIENT_ID_BYTES_MAX,
};
use super::{Group, RECORD_STRING_BYTES_MAX};
use crate::protocol::api::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use crate::protocol::api::join_group::{JoinGroupRequest, JoinGroupResponse};
use crate::protocol::api::leave_group::{
    LeaveGroupRequest, LeaveGroupResponse, LeaveGroupResponseMember,
};
use crate::protocol::api::sync_group::{SyncGroupRequest, SyncGroupResponse};
use crate::protocol::wire::StrBytes;
use bytes::Bytes;

/// A JoinGroup request, reduced to owned values.
struct Joining {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
    version: i16,
}

impl Joining {
    fn from_request(context: &JoinContext, body: &JoinGroupRequest) -> Self {
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        let rebalance_timeout_ms = if body.rebalance_timeout_ms < 0 {
            body.session_timeout_ms
        } else {
            body.rebalance_timeout_ms
        };
        let protocols = body
            .protocols
            .iter()
            // Copied: a slice would keep the whole request buffer it arrived in alive for as
            // long as the member stays in the group.
            .map(|protocol| {
                (protocol.name.as_str().to_owned(), Bytes::copy_from_slice(&protocol.metadata))
            })
            .collect();
        Self {
            member_id: body.member_id.as_str().to_owned(),
            group_instance_id: body.group_instance_id.as_ref().map(|id| id.as_str().to_owned()),
            client_id: truncated(&context.client_id, CLIENT_ID_BYTES_MAX),
            client_host: truncated(&context.client_host, CLIENT_ID_BYTES_MAX),
            session_timeout_ms: body.session_timeout_ms,
            rebalance_timeout_ms,
            protocol_type: body.protocol_type.as_str().to_owned(),
            protocols,
            version: context.version,
        }
    }

    fn strings_fit(&self) -> bool {
        let names = self.protocols.iter().all(|(name, _)| fits_record(name));
        let instance = self.group_instance_id.as_deref().is_none_or(fits_record);
        names && instance && fits_record(&self.protocol_type) && fits_record(&self.member_id)
    }

    fn into_member<R>(self, member_id: String, now: u64) -> Member<R> {
        let mut member = Member {
            member_id,
            group_instance_id: self.group_instance_id,
            client_id: self.client_id,
            client_host: self.client_host,
            session_timeout_ms: self.session_timeout_ms,
            rebalance_timeout_ms: self.rebalance_timeout_ms,
            protocol_type: self.protocol_type,
            protocols: self.protocols,
            assignment: Bytes::new(),
            awaiting_join: None,
            awaiting_sync: None,
            session_deadline: 0,
        };
        member.touch(now);
        member
    }

    /// Whether the member's protocol type and protocols (with metadata) are what it had.
    fn same_metadata<R>(&self, member: &Member<R>) -> bool {
        self.protocol_type == member.protocol_type && self.protocols == member.protocols
    }
}

/// Whether `joining` can be in `group`: same protocol type, and at least one protocol every
/// other member also supports (Kafka's `supportsProtocols`).
fn supports_protocols<R>(group: &Group<R>, joining: &Joining) -> bool {
    if joining.protocol_type.is_empty() || joining.protocols.is_empty() {
        return false;
    }
    let mut others = group.members.values().filter(|m| m.member_id != joining.member_id);
    let Some(first) = others.next() else { return true };
    if first.protocol_type != joining.protocol_type {
        return false;
    }
    joining.protocols.iter().any(|(name, _)| {
        let mut everyone = group.members.values().filter(|m| m.member_id != joining.member_id);
        everyone.all(|member| member.supports(name))
    })
}

/// The protocol for the next generation: among the protocols every member supports, each
/// member votes for its most preferred; most votes wins, ties going to the leader's order.
fn select_protocol<R>(group: &Group<R>) -> String {
    let leader_id = group.leader.as_ref().expect("a group with members has a leader");
    let leader = &group.members[leader_id];
    let candidates: Vec<&str> = leader
        .protocols
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| group.members.values().all(|member| member.supports(name)))
        .collect();
    assert!(!candidates.is_empty(), "joins are refused unless a common protocol exists");
    let mut votes = vec![0usize; candidates.len()];
    for member in group.members.values() {
        let choice = member
            .protocols
            .iter()
            .find_map(|(name, _)| candidates.iter().position(|candidate| candidate == name));
        votes[choice.expect("every member supports every candidate")] += 1;
    }
    let best = votes.iter().copied().max().expect("at least one candidate");
    let winner = votes.iter().position(|&count| count == best).expect("the max is present");
    candidates[winner].to_owned()
}

/// The answer a member gets once its join completes; the leader also gets every member.
fn join_outcome<R>(group: &Group<R>, member_id: &str, skip_assignment: bool) -> JoinOutcome {
    let leader = group.leader.clone().expect("a completed join has a leader");
    let protocol = group.protocol_name.clone().expect("a completed join selected a protocol");
    let members = if leader == member_id {
        let all = group.members.values();
        all.map(|m| (m.member_id.clone(), m.group_instance_id.clone(), m.metadata_for(&protocol)))
            .collect()
    } else {
        Vec::new()
    };
    JoinOutcome {
        error: error::NONE,
        generation: group.generation,
        protocol_type: group.protocol_type.clone(),
        protocol_name: Some(protocol),
        leader,
        skip_assignment,
        member_id: member_id.to_owned(),
        members,
    }
}

/// Starts a rebalance: parked syncs learn REBALANCE_IN_PROGRESS; out of `Empty` the initial
/// delay applies, otherwise the longest member rebalance timeout.
fn prepare_rebalance<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    config: &GroupConfig,
    now: u64,
) {
    let can_rebalance = matches!(
        group.state,
        GroupState::Stable | GroupState::CompletingRebalance { .. } | GroupState::Empty
    );
    assert!(can_rebalance, "prepare_rebalance from {}", group.state.name());
    if matches!(group.state, GroupState::CompletingRebalance { .. }) {
        for member in group.members.values_mut() {
            if let Some(request) = member.awaiting_sync.take() {
                outbox.complete_sync(request, SyncOutcome::error(error::REBALANCE_IN_PROGRESS));
                // Its session runs from this answer, as Kafka's does: a client does not
                // heartbeat while its SyncGroup waits, which may have been longer than its
                // session timeout, and it must be able to rejoin.
                member.touch(now);
            }
        }
    }
    let rebalance_timeout_ms = group.rebalance_timeout_ms();
    let target = if group.state == GroupState::Empty {
        let delay_ms = config.initial_rebalance_delay_ms;
        let remaining_ms = rebalance_timeout_ms.saturating_sub(delay_ms);
        let initial = InitialDelay { remaining_ms, new_member_added: false };
        GroupState::PreparingRebalance { deadline: now + delay_ms, initial: Some(initial) }
    } else {
        GroupState::PreparingRebalance { deadline: now + rebalance_timeout_ms, initial: None }
    };
    group.transition(target, outbox.wall_ms);
}

fn maybe_prepare_rebalance<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    config: &GroupConfig,
    now: u64,
) {
    let can_rebalance = matches!(
        group.state,
        GroupState::Stable | GroupState::CompletingRebalance { .. } | GroupState::Empty
    );
    if can_rebalance {
        prepare_rebalance(group, outbox, config, now);
    }
}

/// Ends the join phase early once every member has rejoined (never during the initial delay).
fn try_complete_join<R: Clone>(group: &mut Group<R>, outbox: &mut Outbox<R>, now: u64) {
    let GroupState::PreparingRebalance { initial: None, .. } = group.state else { return };
    let all_joined = group.members.values().all(|member| member.awaiting_join.is_some());
    if all_joined && group.pending_members.is_empty() {
        complete_join(group, outbox, now);
    }
}

/// Ends the join phase: members that did not rejoin leave, the generation advances, and every
/// parked join is answered (the leader with the member list).
fn complete_join<R: Clone>(group: &mut Group<R>, outbox: &mut Outbox<R>, now: u64) {
    assert!(matches!(group.state, GroupState::PreparingRebalance { .. }));
    let absent: Vec<String> = group
        .members
        .values()
        .filter(|member| member.awaiting_join.is_none())
        .map(|member| member.member_id.clone())
        .collect();
    for member_id in absent {
        remove_member(group, outbox, &member_id, error::UNKNOWN_MEMBER_ID);
    }
    group.generation += 1;
    if group.members.is_empty() {
        group.protocol_name = None;
        group.protocol_type = None;
        group.leader = None;
        group.transition(GroupState::Empty, outbox.wall_ms);
        outbox.store_group(group);
        return;
    }
    group.protocol_name = Some(select_protocol(group));
    let deadline = now + group.rebalance_timeout_ms();
    group.transition(GroupState::CompletingRebalance { deadline }, outbox.wall_ms);
    let member_ids: Vec<String> = group.members.keys().cloned().collect();
    for member_id in member_ids {
        let outcome = join_outcome(group, &member_id, false);
        let member = group.members.get_mut(&member_id).expect("listed above");
        member.assignment = Bytes::new();
        member.touch(now);
        let parked = member.awaiting_join.take().expect("absent members were removed");
        outbox.complete_join(parked, outcome);
    }
    assert!(group.members.values().all(|member| member.awaiting_join.is_none()));
}

/// The leader synced: store assignments, become Stable, answer every parked sync.
fn complete_sync<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    assignments: &[(String, Bytes)],
    now: u64,
) {
    assert!(matches!(group.state, GroupState::CompletingRebalance { .. }));
    for member in group.members.values_mut() {
        let given = assignments.iter().find(|(member_id, _)| *member_id == member.member_id);
        member.assignment = given.map(|(_, assignment)| assignment.clone()).unwrap_or_default();
    }
    group.transition(GroupState::Stable, outbox.wall_ms);
    outbox.store_group(group);
    for member in group.members.values_mut() {
        member.touch(now);
        if let Some(request) = member.awaiting_sync.take() {
            let outcome = SyncOutcome {
                error: error::NONE,
                protocol_type: group.protocol_type.clone(),
                protocol_name: group.protocol_name.clone(),
                assignment: member.assignment.clone(),
            };
            outbox.complete_sync(request, outcome);
        }
    }
}

/// Removes a member; its parked join or sync is answered with `parked_error`.
fn remove_member<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    member_id: &str,
    parked_error: i16,
) {
    let member = group.members.remove(member_id).expect("removing a known member");
    if let Some(parked) = member.awaiting_join {
        outbox.complete_join(parked, JoinOutcome::error(parked_error, member_id));
    }
    if let Some(request) = member.awaiting_sync {
        outbox.complete_sync(request, SyncOutcome::error(parked_error));
    }
    if let Some(instance) = &member.group_instance_id {
        let removed = group.static_members.remove(instance);
        assert_eq!(removed.as_deref(), Some(member_id));
    }
    if group.leader.as_deref() == Some(member_id) {
        // Prefer a member that has already rejoined, so a completing join has a leader.
        let rejoined = group.members.values().find(|m| m.awaiting_join.is_some());
        let next = rejoined.or_else(|| group.members.values().next());
        group.leader = next.map(|member| member.member_id.clone());
    }
    assert!(!group.members.contains_key(member_id));
}

/// After a member left or expired: rebalance (or finish the join phase sooner).
fn member_left<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    config: &GroupConfig,
    now: u64,
) {
    match group.state {
        GroupState::Stable | GroupState::CompletingRebalance { .. } => {
            prepare_rebalance(group, outbox, config, now);
            try_complete_join(group, outbox, now);
        }
        GroupState::PreparingRebalance { .. } => try_complete_join(group, outbox, now),
        GroupState::Empty | GroupState::Dead => {}
    }
}

/// Timer work for one group at `now`: phase deadlines, then sessions, then pending ids.
pub(super) fn expire<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    config: &GroupConfig,
    now: u64,
) {
    match group.state.clone() {
        GroupState::PreparingRebalance { deadline, initial } if deadline <= now => match initial {
            Some(delay) if delay.new_member_added && delay.remaining_ms > 0 => {
                let delay_ms = config.initial_rebalance_delay_ms.min(delay.remaining_ms);
                let remaining_ms = delay.remaining_ms - delay_ms;
                let initial = InitialDelay { remaining_ms, new_member_added: false };
                let deadline = now + delay_ms;
                let target = GroupState::PreparingRebalance { deadline, initial: Some(initial) };
                group.transition(target, outbox.wall_ms);
            }
            _ => complete_join(group, outbox, now),
        },
        GroupState::CompletingRebalance { deadline } if deadline <= now => {
            let unsynced: Vec<String> = group
                .members
                .values()
                .filter(|member| member.awaiting_sync.is_none())
                .map(|member| member.member_id.clone())
                .collect();
            for member_id in unsynced {
                remove_member(group, outbox, &member_id, error::UNKNOWN_MEMBER_ID);
            }
            prepare_rebalance(group, outbox, config, now);
            try_complete_join(group, outbox, now);
        }
        _ => {}
    }
    let expired: Vec<String> = group
        .members
        .values()
        .filter(|member| member.awaiting_join.is_none() && member.awaiting_sync.is_none())
        .filter(|member| member.session_deadline <= now)
        .map(|member| member.member_id.clone())
        .collect();
    for member_id in expired {
        remove_member(group, outbox, &member_id, error::UNKNOWN_MEMBER_ID);
        member_left(group, outbox, config, now);
    }
    let before = group.pending_members.len();
    group.pending_members.retain(|_, deadline| *deadline > now);
    if group.pending_members.len() != before {
        try_complete_join(group, outbox, now);
    }
}

impl<R: Clone> GroupCoordinator<R> {
    /// JoinGroup v0–v9. Deferred while the group rebalances; the answer then comes out of
    /// `poll_completed` with `request`.
    pub fn join_group(
        &mut self,
        now: u64,
        request: R,
        context: &JoinContext,
        body: &JoinGroupRequest,
    ) -> Reply<JoinGroupResponse> {
        self.advance(now);
        let joining = Joining::from_request(context, body);
        let group_id = body.group_id.as_str();
        let refuse = |code: i16| Reply::Now(JoinOutcome::error(code, body.member_id.as_str()));
        let reply = if group_id.is_empty() || group_id.len() > RECORD_STRING_BYTES_MAX {
            refuse(error::INVALID_GROUP_ID)
        } else if !(self.config.min_session_timeout_ms..=self.config.max_session_timeout_ms)
            .contains(&joining.session_timeout_ms)
        {
            refuse(error::INVALID_SESSION_TIMEOUT)
        } else if !joining.strings_fit() {
            refuse(error::INVALID_REQUEST)
        } else {
            self.join_checked(now, request, group_id, joining)
        };
        match reply {
            Reply::Now(outcome) => Reply::Now(outcome.into_response()),
            Reply::Deferred => Reply::Deferred,
        }
    }

    fn join_checked(
        &mut self,
        now: u64,
        request: R,
        group_id: &str,
        joining: Joining,
    ) -> Reply<JoinOutcome> {
        let refuse = |code: i16, member_id: &str| Reply::Now(JoinOutcome::error(code, member_id));
        if !self.groups.contains_key(group_id) {
            if !joining.member_id.is_empty() {
                return refuse(error::UNKNOWN_MEMBER_ID, &joining.member_id);
            }
            if !supports_protocols(&super::Group::<R>::new(group_id, None), &joining) {
                return refuse(error::INCONSISTENT_GROUP_PROTOCOL, &joining.member_id);
            }
            if !self.has_room_for_group() {
                return refuse(error::POLICY_VIOLATION, &joining.member_id);
            }
            let made = super::Group::new(group_id, Some(self.outbox.wall_ms));
            self.groups.insert(group_id.to_owned(), made);
        }
        let group = &self.groups[group_id];
        if group.state == GroupState::Dead {
            return refuse(error::COORDINATOR_NOT_AVAILABLE, &joining.member_id);
        }
        if !supports_protocols(group, &joining) {
            return refuse(error::INCONSISTENT_GROUP_PROTOCOL, &joining.member_id);
        }
        if joining.member_id.is_empty() {
            self.join_unknown_member(now, request, group_id, joining)
        } else {
            self.join_known_member(now, request, group_id, joining)
        }
    }

    /// A join without a member id: hand one out (v4+ dynamic members must come back with it).
    fn join_unknown_member(
        &mut self,
        now: u64,
        request: R,
        group_id: &str,
        joining: Joining,
    ) -> Reply<JoinOutcome> {
        let instance = joining.group_instance_id.clone();
        let known_instance = instance
            .as_ref()
            .is_some_and(|id| self.groups[group_id].static_members.contains_key(id));
        if !known_instance && self.groups[group_id].is_full() {
            return Reply::Now(JoinOutcome::error(error::GROUP_MAX_SIZE_REACHED, ""));
        }
        let member_id = self.next_member_id(group_id, &joining.client_id);
        let Self { groups, outbox, config, .. } = self;
        let group = groups.get_mut(group_id).expect("created by the caller");
        if known_instance {
            return replace_static_member(group, outbox, config, now, request, member_id, joining);
        }
        if instance.is_none() && joining.version >= 4 {
            // KIP-394: the member must rejoin with this id before it counts as joined.
            let deadline = now + joining.session_timeout_ms as u64;
            group.pending_members.insert(member_id.clone(), deadline);
            return Reply::Now(JoinOutcome::error(error::MEMBER_ID_REQUIRED, &member_id));
        }
        add_member_and_rebalance(group, outbox, config, now, request, member_id, joining);
        Reply::Deferred
    }

    /// A join with a member id: a pending id becomes a member; a known member rejoins.
    fn join_known_member(
        &mut self,
        now: u64,
        request: R,
        group_id: &str,
        joining: Joining,
    ) -> Reply<JoinOutcome> {
        let Self { groups, outbox, config, .. } = self;
        let group = groups.get_mut(group_id).expect("checked by the caller");
        let member_id = joining.member_id.clone();
        if group.is_fenced(&member_id, joining.group_instance_id.as_deref()) {
            return Reply::Now(JoinOutcome::error(error::FENCED_INSTANCE_ID, &member_id));
        }
        if group.pending_members.remove(&member_id).is_some() {
            add_member_and_rebalance(group, outbox, config, now, request, member_id, joining);
            return Reply::Deferred;
        }
        let Some(member) = group.members.get(&member_id) else {
            return Reply::Now(JoinOutcome::error(error::UNKNOWN_MEMBER_ID, &member_id));
        };
        let unchanged = joining.same_metadata(member);
        let is_leader = group.leader.as_deref() == Some(member_id.as_str());
        match group.state {
            GroupState::CompletingRebalance { .. } if unchanged => {
                Reply::Now(join_outcome(group, &member_id, false))
            }
            GroupState::Stable if unchanged && !is_leader => {
                group.members.get_mut(&member_id).expect("found above").touch(now);
                Reply::Now(join_outcome(group, &member_id, false))
            }
            GroupState::PreparingRebalance { .. }
            | GroupState::CompletingRebalance { .. }
            | GroupState::Stable => {
                update_member(group, outbox, now, request, joining);
                maybe_prepare_rebalance(group, outbox, config, now);
                try_complete_join(group, outbox, now);
                Reply::Deferred
            }
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(JoinOutcome::error(error::UNKNOWN_MEMBER_ID, &member_id))
            }
        }
    }

    /// SyncGroup v0–v5. The leader's assignments pass through unchanged; followers wait for
    /// the leader (deferred).
    pub fn sync_group(
        &mut self,
        now: u64,
        request: R,
        body: &SyncGroupRequest,
    ) -> Reply<SyncGroupResponse> {
        self.advance(now);
        let reply = self.sync_checked(now, request, body);
        match reply {
            Reply::Now(outcome) => Reply::Now(outcome.into_response()),
            Reply::Deferred => Reply::Deferred,
        }
    }

    fn sync_checked(
        &mut self,
        now: u64,
        request: R,
        body: &SyncGroupRequest,
    ) -> Reply<SyncOutcome> {
        let refuse = |code: i16| Reply::Now(SyncOutcome::error(code));
        let member_id = body.member_id.as_str();
        let instance = body.group_instance_id.as_ref().map(StrBytes::as_str);
        let Some(group) = self.groups.get_mut(body.group_id.as_str()) else {
            return refuse(error::UNKNOWN_MEMBER_ID);
        };
        if group.state == GroupState::Dead {
            return refuse(error::COORDINATOR_NOT_AVAILABLE);
        }
        if group.is_fenced(member_id, instance) {
            return refuse(error::FENCED_INSTANCE_ID);
        }
        if !group.members.contains_key(member_id) {
            return refuse(error::UNKNOWN_MEMBER_ID);
        }
        if body.generation_id != group.generation {
            return refuse(error::ILLEGAL_GENERATION);
        }
        let type_differs = body.protocol_type.as_ref().is_some_and(|protocol_type| {
            group.protocol_type.as_deref() != Some(protocol_type.as_str())
        });
        let name_differs = body.protocol_name.as_ref().is_some_and(|protocol_name| {
            group.protocol_name.as_deref() != Some(protocol_name.as_str())
        });
        if type_differs || name_differs {
            return refuse(error::INCONSISTENT_GROUP_PROTOCOL);
        }
        match group.state {
            GroupState::Empty | GroupState::Dead => refuse(error::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance { .. } => refuse(error::REBALANCE_IN_PROGRESS),
            GroupState::Stable => {
                let member = group.members.get_mut(member_id).expect("checked above");
                member.touch(now);
                Reply::Now(SyncOutcome {
                    error: error::NONE,
                    protocol_type: group.protocol_type.clone(),
                    protocol_name: group.protocol_name.clone(),
                    assignment: member.assignment.clone(),
                })
            }
            GroupState::CompletingRebalance { .. } => {
                let member = group.members.get_mut(member_id).expect("checked above");
                if let Some(previous) = member.awaiting_sync.replace(request) {
                    let outcome = SyncOutcome::error(error::REBALANCE_IN_PROGRESS);
                    self.outbox.complete_sync(previous, outcome);
                }
                member.touch(now);
                if group.leader.as_deref() == Some(member_id) {
                    let assignments: Vec<(String, Bytes)> = body
                        .assignments
                        .iter()
                        .map(|given| {
                            // Copied, as join metadata is: kept for the group's life.
                            let assignment = Bytes::copy_from_slice(&given.assignment);
                            (given.member_id.as_str().to_owned(), assignment)
                        })
                        .collect();
                    complete_sync(group, &mut self.outbox, &assignments, now);
                }
                Reply::Deferred
            }
        }
    }

    /// The group's metadata record could not be stored (the `__consumer_offsets` append or
    /// its sync failed). As Kafka does, the assignment it carried is void: a Stable group
    /// rebalances, so members rejoin and a generation is never handed out twice with
    /// different owners after a restart. The node answers the SyncGroups that waited on the
    /// record with an error.
    pub fn store_failed(&mut self, now: u64, group_id: &str) {
        self.advance(now);
        let Self { groups, outbox, config, .. } = self;
        let Some(group) = groups.get_mut(group_id) else { return };
        if group.state == GroupState::Stable {
            for member in group.members.values_mut() {
                member.assignment = Bytes::new();
            }
            prepare_rebalance(group, outbox, config, now);
        }
    }

    /// Forgets every group, as Kafka's coordinator unloads its partitions when
    /// `__consumer_offsets` is deleted: parked joins and syncs are answered NOT_COORDINATOR
    /// (members then find the coordinator again and join afresh). Returns how many groups
    /// it forgot.
    pub fn unload_all(&mut self, now: u64) -> usize {
        self.advance(now);
        let Self { groups, outbox, .. } = self;
        let unloaded = groups.len();
        for (_, mut group) in std::mem::take(groups) {
            let member_ids: Vec<String> = group.members.keys().cloned().collect();
            for member_id in member_ids {
                remove_member(&mut group, outbox, &member_id, error::NOT_COORDINATOR);
            }
        }
        unloaded
    }

    /// Heartbeat v0–v4: keeps the session alive and tells the member about rebalances.
    pub fn heartbeat(&mut self, now: u64, body: &HeartbeatRequest) -> HeartbeatResponse {
        self.advance(now);
        let member_id = body.member_id.as_str();
        let instance = body.group_instance_id.as_ref().map(StrBytes::as_str);
        let error_code = match self.groups.get_mut(body.group_id.as_str()) {
            None => error::UNKNOWN_MEMBER_ID,
            Some(group) if group.state == GroupState::Dead => error::COORDINATOR_NOT_AVAILABLE,
            Some(group) if group.is_fenced(member_id, instance) => error::FENCED_INSTANCE_ID,
            Some(group) if !group.members.contains_key(member_id) => error::UNKNOWN_MEMBER_ID,
            Some(group) if body.generation_id != group.generation => error::ILLEGAL_GENERATION,
            Some(group) => {
                let state = group.state.clone();
                let member = group.members.get_mut(member_id).expect("checked above");
                match state {
                    GroupState::Empty | GroupState::Dead => error::UNKNOWN_MEMBER_ID,
                    GroupState::PreparingRebalance { .. } => {
                        member.touch(now);
                        error::REBALANCE_IN_PROGRESS
                    }
                    GroupState::CompletingRebalance { .. } | GroupState::Stable => {
                        member.touch(now);
                        error::NONE
                    }
                }
            }
        };
        HeartbeatResponse { error_code, ..Default::default() }
    }

    /// LeaveGroup v0–v5 (`version` decides whether the answer is per member, v3+, or one code).
    pub fn leave_group(
        &mut self,
        now: u64,
        version: i16,
        body: &LeaveGroupRequest,
    ) -> LeaveGroupResponse {
        self.advance(now);
        let leaving: Vec<(String, Option<String>)> = if version >= 3 {
            let members = body.members.iter();
            members
                .map(|m| {
                    let instance = m.group_instance_id.as_ref().map(|id| id.as_str().to_owned());
                    (m.member_id.as_str().to_owned(), instance)
                })
                .collect()
        } else {
            vec![(body.member_id.as_str().to_owned(), None)]
        };
        let Self { groups, outbox, config, .. } = self;
        let mut top_error = error::NONE;
        let mut results = Vec::with_capacity(leaving.len());
        match groups.get_mut(body.group_id.as_str()) {
            Some(group) if group.state == GroupState::Dead => {
                top_error = error::COORDINATOR_NOT_AVAILABLE;
            }
            Some(group) => {
                let members_before = group.members.len();
                for (member_id, instance) in &leaving {
                    let code = leave_one(group, outbox, member_id, instance.as_deref());
                    results.push(code);
                }
                if group.members.len() != members_before {
                    member_left(group, outbox, config, now);
                } else {
                    try_complete_join(group, outbox, now);
                }
            }
            None => results.resize(leaving.len(), error::UNKNOWN_MEMBER_ID),
        }
        if version < 3 {
            let code = if top_error != error::NONE { top_error } else { results[0] };
            return LeaveGroupResponse { error_code: code, ..Default::default() };
        }
        let members = leaving
            .into_iter()
            .zip(results)
            .map(|((member_id, instance), code)| LeaveGroupResponseMember {
                member_id: StrBytes::from_string(member_id),
                group_instance_id: instance.map(StrBytes::from_string),
                error_code: code,
                ..Default::default()
            })
            .collect();
        LeaveGroupResponse { error_code: top_error, members, ..Default::default() }
    }
}

/// Removes one leaving member (found by instance id for static members); its error code.
fn leave_one<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    member_id: &str,
    instance: Option<&str>,
) -> i16 {
    let target = match instance {
        Some(instance) => match group.static_members.get(instance) {
            None => return error::UNKNOWN_MEMBER_ID,
            Some(current) if !member_id.is_empty() && current != member_id => {
                return error::FENCED_INSTANCE_ID;
            }
            Some(current) => current.clone(),
        },
        None => member_id.to_owned(),
    };
    if group.pending_members.remove(&target).is_some() {
        return error::NONE;
    }
    if !group.members.contains_key(&target) {
        return error::UNKNOWN_MEMBER_ID;
    }
    remove_member(group, outbox, &target, error::UNKNOWN_MEMBER_ID);
    error::NONE
}

/// A new member joins (parked) and the group rebalances.
fn add_member_and_rebalance<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    config: &GroupConfig,
    now: u64,
    request: R,
    member_id: String,
    joining: Joining,
) {
    assert!(!group.members.contains_key(&member_id));
    let version = joining.version;
    let mut member = joining.into_member(member_id.clone(), now);
    member.awaiting_join = Some(ParkedJoin { request, version });
    if let Some(instance) = &member.group_instance_id {
        let previous = group.static_members.insert(instance.clone(), member_id.clone());
        assert!(previous.is_none(), "a known instance is replaced, not added");
    }
    if group.members.is_empty() {
        group.protocol_type = Some(member.protocol_type.clone());
    }
    group.members.insert(member_id.clone(), member);
    if group.leader.is_none() {
        group.leader = Some(member_id);
    }
    if let GroupState::PreparingRebalance { initial: Some(delay), .. } = &mut group.state {
        delay.new_member_added = true;
    }
    maybe_prepare_rebalance(group, outbox, config, now);
    try_complete_join(group, outbox, now);
}

/// A known member rejoins with new metadata (parked until the join completes).
fn update_member<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    now: u64,
    request: R,
    joining: Joining,
) {
    let member = group.members.get_mut(&joining.member_id).expect("a known member");
    if let Some(previous) = member.awaiting_join.take() {
        let outcome = JoinOutcome::error(error::REBALANCE_IN_PROGRESS, &joining.member_id);
        outbox.complete_join(previous, outcome);
    }
    member.awaiting_join = Some(ParkedJoin { request, version: joining.version });
    member.session_timeout_ms = joining.session_timeout_ms;
    member.rebalance_timeout_ms = joining.rebalance_timeout_ms;
    member.protocols = joining.protocols;
    member.client_id = joining.client_id;
    member.client_host = joining.client_host;
    member.touch(now);
}

/// A static member rejoins without its member id: the new id takes the old one's place, and
/// the old one's parked requests are fenced. In a Stable group whose selected protocol its
/// new metadata leaves as it is, there is no rebalance: the member gets the current
/// generation back (KIP-345).
fn replace_static_member<R: Clone>(
    group: &mut Group<R>,
    outbox: &mut Outbox<R>,
    config: &GroupConfig,
    now: u64,
    request: R,
    member_id: String,
    joining: Joining,
) -> Reply<JoinOutcome> {
    let instance = joining.group_instance_id.clone().expect("a static member");
    let old_id = group.static_members[&instance].clone();
    let mut member = group.members.remove(&old_id).expect("the instance maps to a member");
    if let Some(parked) = member.awaiting_join.take() {
        outbox.complete_join(parked, JoinOutcome::error(error::FENCED_INSTANCE_ID, &old_id));
    }
    if let Some(parked) = member.awaiting_sync.take() {
        outbox.complete_sync(parked, SyncOutcome::error(error::FENCED_INSTANCE_ID));
    }
    let same_type = joining.protocol_type == member.protocol_type;
    member.member_id = member_id.clone();
    group.members.insert(member_id.clone(), member);
    group.static_members.insert(instance, member_id.clone());
    let was_leader = group.leader.as_deref() == Some(old_id.as_str());
    if was_leader {
        group.leader = Some(member_id.clone());
    }
    if same_type && group.state == GroupState::Stable {
        // As Kafka: the member's new metadata (a Java consumer's subscription carries its
        // generation and owned partitions, so the bytes change at every restart) is kept,
        // and only a change of the protocol the group would select means a rebalance.
        let member = group.members.get_mut(&member_id).expect("inserted above");
        member.protocols = joining.protocols.clone();
        member.session_timeout_ms = joining.session_timeout_ms;
        member.rebalance_timeout_ms = joining.rebalance_timeout_ms;
        member.client_id = joining.client_id.clone();
        member.client_host = joining.client_host.clone();
        member.touch(now);
        if group.protocol_name.as_deref() == Some(select_protocol(group).as_str()) {
            outbox.store_group(group);
            let mut outcome = join_outcome(group, &member_id, was_leader);
            if was_leader && joining.version < 9 {
                // Before v9 a leader cannot be told to skip the assignment: it is answered
                // as a follower (the old leader id, no members), as Kafka does, so it does
                // not assign partitions that a Stable group would not hand out.
                outcome.leader = old_id;
                outcome.members.clear();
                outcome.skip_assignment = false;
            }
            return Reply::Now(outcome);
        }
    }
    let mut joining = joining;
    joining.member_id = member_id;
    update_member(group, outbox, now, request, joining);
    maybe_prepare_rebalance(group, outbox, config, now);
    try_complete_join(group, outbox, now);
    Reply::Deferred
}

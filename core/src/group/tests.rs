//! Coordinator stories: each test drives the coordinator with decoded requests and ticks, and
//! asserts the exact responses, deferred completions and records that come out.

use super::records::{self, OffsetValue};
use super::*;
use crate::protocol::api::delete_groups::DeleteGroupsRequest;
use crate::protocol::api::describe_groups::DescribeGroupsRequest;
use crate::protocol::api::heartbeat::HeartbeatRequest;
use crate::protocol::api::join_group::JoinGroupRequest;
use crate::protocol::api::join_group::JoinGroupRequestProtocol;
use crate::protocol::api::leave_group::{LeaveGroupRequest, LeaveGroupRequestMember};
use crate::protocol::api::list_groups::ListGroupsRequest;
use crate::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetCommitResponse,
};
use crate::protocol::api::offset_delete::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use crate::protocol::api::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic,
};
use crate::protocol::api::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};

type Coordinator = GroupCoordinator<u64>;

const GROUP: &str = "g";
const SESSION_MS: i32 = 10_000;
const REBALANCE_MS: i32 = 20_000;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

fn member_id(sequence: u64) -> String {
    format!("client-00000000-0000-4000-8000-{sequence:012x}")
}

/// A consumer-protocol subscription to `topics` (version 0, no user data).
fn subscription(topics: &[&str]) -> Bytes {
    let mut out = Vec::new();
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for topic in topics {
        out.extend_from_slice(&(topic.len() as i16).to_be_bytes());
        out.extend_from_slice(topic.as_bytes());
    }
    out.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(out)
}

fn join(member: &str, instance: Option<&str>, protocols: &[(&str, Bytes)]) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: text(GROUP),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        member_id: text(member),
        group_instance_id: instance.map(text),
        protocol_type: text("consumer"),
        protocols: protocols
            .iter()
            .map(|(name, metadata)| JoinGroupRequestProtocol {
                name: text(name),
                metadata: metadata.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn range(topics: &[&str]) -> Vec<(&'static str, Bytes)> {
    vec![("range", subscription(topics))]
}

fn context(version: i16) -> JoinContext {
    JoinContext { version, client_id: "client".to_owned(), client_host: "/127.0.0.1".to_owned() }
}

fn sync(member: &str, generation: i32, assignments: &[(&str, &'static [u8])]) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: text(GROUP),
        generation_id: generation,
        member_id: text(member),
        assignments: assignments
            .iter()
            .map(|(member_id, assignment)| SyncGroupRequestAssignment {
                member_id: text(member_id),
                assignment: Bytes::from_static(assignment),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn heartbeat(member: &str, generation: i32, instance: Option<&str>) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: text(GROUP),
        generation_id: generation,
        member_id: text(member),
        group_instance_id: instance.map(text),
        ..Default::default()
    }
}

fn completed(coordinator: &mut Coordinator) -> Vec<(u64, GroupResponse)> {
    std::iter::from_fn(|| coordinator.poll_completed()).collect()
}

fn drained_records(coordinator: &mut Coordinator) -> Vec<OffsetsRecord> {
    std::iter::from_fn(|| coordinator.poll_record()).collect()
}

fn joined(generation: i32, leader: &str, member: &str, members: &[(&str, Bytes)]) -> GroupResponse {
    GroupResponse::JoinGroup(JoinGroupResponse {
        error_code: 0,
        generation_id: generation,
        protocol_type: Some(text("consumer")),
        protocol_name: Some(text("range")),
        leader: text(leader),
        member_id: text(member),
        members: members
            .iter()
            .map(|(member_id, metadata)| JoinGroupResponseMember {
                member_id: text(member_id),
                metadata: metadata.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn synced(assignment: &'static [u8]) -> GroupResponse {
    GroupResponse::SyncGroup(SyncGroupResponse {
        error_code: 0,
        protocol_type: Some(text("consumer")),
        protocol_name: Some(text("range")),
        assignment: Bytes::from_static(assignment),
        ..Default::default()
    })
}

/// Two members A and B joined, synced and Stable at generation 1, at tick 6000.
fn stable_pair() -> Coordinator {
    let mut coordinator = Coordinator::new(GroupConfig::default());
    let (a, b) = (member_id(1), member_id(2));
    let topics = range(&["t"]);
    assert_eq!(
        coordinator.join_group(0, 1, &context(3), &join("", None, &topics)),
        Reply::Deferred
    );
    assert_eq!(
        coordinator.join_group(100, 2, &context(3), &join("", None, &topics)),
        Reply::Deferred
    );
    coordinator.handle_timeout(3000);
    coordinator.handle_timeout(6000);
    completed(&mut coordinator);
    assert_eq!(coordinator.sync_group(6000, 3, &sync(&b, 1, &[])), Reply::Deferred);
    let assignments = [(a.as_str(), &b"for-a"[..]), (b.as_str(), &b"for-b"[..])];
    assert_eq!(coordinator.sync_group(6000, 4, &sync(&a, 1, &assignments)), Reply::Deferred);
    completed(&mut coordinator);
    drained_records(&mut coordinator);
    coordinator
}

#[test]
fn two_members_join_with_the_initial_delay_and_the_first_leads() {
    // Goal: A and B join an empty group; the initial delay (3000 ms) extends once because B
    // joined during it, then generation 1 completes with A as leader holding both metadata.
    let mut coordinator = Coordinator::new(GroupConfig::default());
    let topics = range(&["t"]);
    assert_eq!(
        coordinator.join_group(0, 1, &context(3), &join("", None, &topics)),
        Reply::Deferred
    );
    assert_eq!(coordinator.poll_timeout(), Some(3000));
    assert_eq!(
        coordinator.join_group(100, 2, &context(3), &join("", None, &topics)),
        Reply::Deferred
    );
    coordinator.handle_timeout(3000);
    assert_eq!(completed(&mut coordinator), vec![]);
    assert_eq!(coordinator.poll_timeout(), Some(6000));
    coordinator.handle_timeout(6000);
    let (a, b) = (member_id(1), member_id(2));
    let metadata = subscription(&["t"]);
    let everyone = [(a.as_str(), metadata.clone()), (b.as_str(), metadata.clone())];
    assert_eq!(
        completed(&mut coordinator),
        vec![(1, joined(1, &a, &a, &everyone)), (2, joined(1, &a, &b, &[]))]
    );
    // CompletingRebalance: sessions run again from the completion; the sync phase ends later.
    assert_eq!(coordinator.poll_timeout(), Some(6000 + SESSION_MS as u64));
}

#[test]
fn sync_passes_the_leaders_assignments_unchanged() {
    // Goal: the follower's sync waits for the leader; both then get exactly the leader's bytes,
    // and one group metadata record stores them (read back through replay).
    let mut coordinator = Coordinator::new(GroupConfig::default());
    let topics = range(&["t"]);
    coordinator.join_group(0, 1, &context(3), &join("", None, &topics));
    coordinator.join_group(0, 2, &context(3), &join("", None, &topics));
    coordinator.handle_timeout(3000);
    coordinator.handle_timeout(6000);
    completed(&mut coordinator);
    let (a, b) = (member_id(1), member_id(2));
    assert_eq!(coordinator.sync_group(6001, 3, &sync(&b, 1, &[])), Reply::Deferred);
    assert_eq!(completed(&mut coordinator), vec![]);
    let assignments = [(a.as_str(), &b"\x00\x01for-a"[..]), (b.as_str(), &b"\x00\x01for-b"[..])];
    assert_eq!(coordinator.sync_group(6002, 4, &sync(&a, 1, &assignments)), Reply::Deferred);
    assert_eq!(
        completed(&mut coordinator),
        vec![(4, synced(b"\x00\x01for-a")), (3, synced(b"\x00\x01for-b"))]
    );
    let stored = drained_records(&mut coordinator);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].partition, coordinator_partition(GROUP, 50));
    let mut reloaded = Coordinator::new(GroupConfig::default());
    reloaded.replay(&stored[0].key, stored[0].value.as_deref()).unwrap();
    reloaded.load_complete(7000);
    let describe = DescribeGroupsRequest { groups: vec![text(GROUP)], ..Default::default() };
    assert_eq!(reloaded.describe_groups(5, &describe), coordinator.describe_groups(5, &describe));
    // A Stable member syncing again gets its assignment at once.
    assert_eq!(
        coordinator.sync_group(6003, 5, &sync(&b, 1, &[])),
        Reply::Now(match synced(b"\x00\x01for-b") {
            GroupResponse::SyncGroup(response) => response,
            GroupResponse::JoinGroup(_) => unreachable!(),
        })
    );
}

#[test]
fn a_third_member_triggers_a_rebalance_and_the_generation_bumps() {
    // Goal: C joining a Stable group moves it to PreparingRebalance; heartbeats say
    // REBALANCE_IN_PROGRESS; once A and B rejoin, generation 2 completes with all three.
    let mut coordinator = stable_pair();
    let (a, b, c) = (member_id(1), member_id(2), member_id(3));
    let topics = range(&["t"]);
    assert_eq!(
        coordinator.join_group(7000, 10, &context(3), &join("", None, &topics)),
        Reply::Deferred
    );
    assert_eq!(coordinator.heartbeat(7001, &heartbeat(&a, 1, None)).error_code, 27);
    assert_eq!(
        coordinator.sync_group(7001, 11, &sync(&a, 1, &[])),
        Reply::Now(SyncGroupResponse { error_code: 27, ..Default::default() })
    );
    assert_eq!(
        coordinator.join_group(7002, 12, &context(3), &join(&a, None, &topics)),
        Reply::Deferred
    );
    assert_eq!(completed(&mut coordinator), vec![]);
    assert_eq!(
        coordinator.join_group(7003, 13, &context(3), &join(&b, None, &topics)),
        Reply::Deferred
    );
    let metadata = subscription(&["t"]);
    let everyone =
        [(a.as_str(), metadata.clone()), (b.as_str(), metadata.clone()), (c.as_str(), metadata)];
    assert_eq!(
        completed(&mut coordinator),
        vec![
            (12, joined(2, &a, &a, &everyone)),
            (13, joined(2, &a, &b, &[])),
            (10, joined(2, &a, &c, &[])),
        ]
    );
    assert_eq!(coordinator.heartbeat(7004, &heartbeat(&c, 2, None)).error_code, 0);
}

#[test]
fn heartbeats_are_fenced_by_member_and_generation() {
    // Goal: Kafka's heartbeat errors, in Kafka's order of checks.
    let mut coordinator = stable_pair();
    let a = member_id(1);
    assert_eq!(coordinator.heartbeat(6100, &heartbeat(&a, 1, None)).error_code, 0);
    assert_eq!(coordinator.heartbeat(6100, &heartbeat(&a, 0, None)).error_code, 22);
    assert_eq!(coordinator.heartbeat(6100, &heartbeat(&a, 2, None)).error_code, 22);
    assert_eq!(coordinator.heartbeat(6100, &heartbeat("stranger", 1, None)).error_code, 25);
    let mut elsewhere = heartbeat(&a, 1, None);
    elsewhere.group_id = text("other");
    assert_eq!(coordinator.heartbeat(6100, &elsewhere).error_code, 25);
    assert_eq!(
        coordinator.sync_group(6100, 9, &sync(&a, 7, &[])),
        Reply::Now(SyncGroupResponse { error_code: 22, ..Default::default() })
    );
}

#[test]
fn an_expired_session_removes_the_member_and_rebalances() {
    // Goal: B stops heartbeating; at its session deadline it is removed, the group rebalances
    // and A alone forms generation 2.
    let mut coordinator = stable_pair();
    let a = member_id(1);
    assert_eq!(coordinator.poll_timeout(), Some(6000 + SESSION_MS as u64));
    assert_eq!(coordinator.heartbeat(15_000, &heartbeat(&a, 1, None)).error_code, 0);
    coordinator.handle_timeout(16_000);
    assert_eq!(coordinator.heartbeat(16_001, &heartbeat(&a, 1, None)).error_code, 27);
    let topics = range(&["t"]);
    assert_eq!(
        coordinator.join_group(16_002, 20, &context(3), &join(&a, None, &topics)),
        Reply::Deferred
    );
    let everyone = [(a.as_str(), subscription(&["t"]))];
    assert_eq!(completed(&mut coordinator), vec![(20, joined(2, &a, &a, &everyone))]);
}

#[test]
fn a_follower_told_of_a_rebalance_while_syncing_has_its_session_restarted() {
    // Goal: generation 1 completes at 6000; the follower B syncs at once and waits, and the
    // leader A never syncs. At the sync phase's end (6000 + the 20 s rebalance timeout) A is
    // removed and B's SyncGroup gets REBALANCE_IN_PROGRESS: its session runs from then, as in
    // Kafka, so B (whose last sign of life is 14 s old, beyond its 10 s session) may rejoin
    // and alone forms generation 2.
    let mut coordinator = Coordinator::new(GroupConfig::default());
    let b = member_id(2);
    let topics = range(&["t"]);
    coordinator.join_group(0, 1, &context(3), &join("", None, &topics));
    coordinator.join_group(100, 2, &context(3), &join("", None, &topics));
    coordinator.handle_timeout(3000);
    coordinator.handle_timeout(6000);
    completed(&mut coordinator);
    assert_eq!(coordinator.sync_group(6000, 3, &sync(&b, 1, &[])), Reply::Deferred);
    let end = 6000 + REBALANCE_MS as u64;
    coordinator.handle_timeout(end);
    assert_eq!(
        completed(&mut coordinator),
        vec![(
            3,
            GroupResponse::SyncGroup(SyncGroupResponse {
                error_code: error::REBALANCE_IN_PROGRESS,
                ..Default::default()
            })
        )]
    );
    coordinator.handle_timeout(end + SESSION_MS as u64 - 1);
    assert_eq!(
        coordinator.join_group(
            end + SESSION_MS as u64 - 1,
            4,
            &context(3),
            &join(&b, None, &topics)
        ),
        Reply::Deferred
    );
    let everyone = [(b.as_str(), subscription(&["t"]))];
    assert_eq!(completed(&mut coordinator), vec![(4, joined(2, &b, &b, &everyone))]);
}

#[test]
fn member_id_required_only_from_version_4() {
    // Goal: a v4+ dynamic member with no id gets MEMBER_ID_REQUIRED and its id; v3 does not.
    let mut coordinator = Coordinator::new(GroupConfig::default());
    let topics = range(&["t"]);
    let first = coordinator.join_group(0, 1, &context(4), &join("", None, &topics));
    let expected = JoinGroupResponse {
        error_code: 79,
        generation_id: -1,
        member_id: text(&member_id(1)),
        ..Default::default()
    };
    assert_eq!(first, Reply::Now(expected));
    assert_eq!(
        coordinator.join_group(1, 2, &context(4), &join(&member_id(1), None, &topics)),
        Reply::Deferred
    );
    assert_eq!(
        coordinator.join_group(2, 3, &context(3), &join("", None, &topics)),
        Reply::Deferred
    );
    // A static member (v5) is never asked for a member id.
    let instance = coordinator.join_group(3, 4, &context(5), &join("", Some("i"), &topics));
    assert_eq!(instance, Reply::Deferred);
    // The initial delay started with the first real join (tick 1) and extends once.
    assert_eq!(coordinator.poll_timeout(), Some(3001));
    coordinator.handle_timeout(3001);
    coordinator.handle_timeout(6001);
    let responses = completed(&mut coordinator);
    let generations: Vec<(u64, i32)> = responses
        .iter()
        .map(|(request, response)| match response {
            GroupResponse::JoinGroup(join) => (*request, join.generation_id),
            GroupResponse::SyncGroup(_) => unreachable!(),
        })
        .collect();
    assert_eq!(generations, vec![(2, 1), (3, 1), (4, 1)]);
}

#[test]
fn static_members_are_fenced_and_rejoin_without_a_rebalance() {
    // Goal: a static member restarting with the same metadata takes its place at the same
    // generation; its old member id is fenced with FENCED_INSTANCE_ID.
    let mut coordinator = Coordinator::new(GroupConfig::default());
    let topics = range(&["t"]);
    assert_eq!(
        coordinator.join_group(0, 1, &context(5), &join("", Some("i-a"), &topics)),
        Reply::Deferred
    );
    coordinator.handle_timeout(3000);
    let old = member_id(1);
    completed(&mut coordinator);
    let assignments = [(old.as_str(), &b"for-a"[..])];
    coordinator.sync_group(3000, 2, &sync(&old, 1, &assignments));
    completed(&mut coordinator);
    drained_records(&mut coordinator);
    let rejoin = coordinator.join_group(4000, 3, &context(9), &join("", Some("i-a"), &topics));
    let new = member_id(2);
    let expected = JoinGroupResponse {
        error_code: 0,
        generation_id: 1,
        protocol_type: Some(text("consumer")),
        protocol_name: Some(text("range")),
        leader: text(&new),
        skip_assignment: true,
        member_id: text(&new),
        members: vec![JoinGroupResponseMember {
            member_id: text(&new),
            group_instance_id: Some(text("i-a")),
            metadata: subscription(&["t"]),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(rejoin, Reply::Now(expected));
    assert_eq!(drained_records(&mut coordinator).len(), 1);
    assert_eq!(coordinator.heartbeat(4001, &heartbeat(&old, 1, Some("i-a"))).error_code, 82);
    assert_eq!(coordinator.heartbeat(4001, &heartbeat(&new, 1, Some("i-a"))).error_code, 0);
    let stale = coordinator.join_group(4002, 4, &context(9), &join(&old, Some("i-a"), &topics));
    assert_eq!(
        stale,
        Reply::Now(JoinGroupResponse {
            error_code: 82,
            member_id: text(&old),
            ..Default::default()
        })
    );
    let mut resync = sync(&new, 1, &[]);
    resync.group_instance_id = Some(text("i-a"));
    assert_eq!(
        coordinator.sync_group(4003, 5, &resync),
        Reply::Now(match synced(b"for-a") {
            GroupResponse::SyncGroup(response) => response,
            GroupResponse::JoinGroup(_) => unreachable!(),
        })
    );
    // New metadata under the protocol the group selected (a Java consumer's subscription
    // changes at every restart: it carries its generation and owned partitions) means no
    // rebalance, as in Kafka: the current generation comes back, the metadata is kept.
    let changed = range(&["t", "u"]);
    let third = member_id(3);
    let Reply::Now(rejoined) =
        coordinator.join_group(4004, 6, &context(9), &join("", Some("i-a"), &changed))
    else {
        panic!("a rebalance")
    };
    assert_eq!((rejoined.error_code, rejoined.generation_id), (0, 1));
    assert_eq!(rejoined.members[0].metadata, subscription(&["t", "u"]));
    assert_eq!(rejoined.member_id, text(&third));
    // A protocol the group would select instead (the member now prefers another it shares)
    // means a rebalance.
    let other = vec![("roundrobin", subscription(&["t"])), ("range", subscription(&["t"]))];
    assert_eq!(
        coordinator.join_group(4005, 7, &context(9), &join("", Some("i-a"), &other)),
        Reply::Deferred
    );
}

#[test]
fn a_static_leader_rejoining_before_v9_is_answered_as_a_follower() {
    // Goal: static A leads static B, Stable at generation 1. A restarts (JoinGroup v5, new
    // metadata, same protocol): no rebalance, and since v5 cannot tell a leader to skip the
    // assignment, A is answered with the old leader id and no members, as Kafka answers, so
    // it acts as a follower and gets its assignment back from SyncGroup.
    let mut coordinator = Coordinator::new(GroupConfig::default());
    let topics = range(&["t"]);
    coordinator.join_group(0, 1, &context(5), &join("", Some("i-a"), &topics));
    coordinator.join_group(100, 2, &context(5), &join("", Some("i-b"), &topics));
    coordinator.handle_timeout(3000);
    coordinator.handle_timeout(6000);
    completed(&mut coordinator);
    let (a, b) = (member_id(1), member_id(2));
    coordinator.sync_group(6000, 3, &sync(&b, 1, &[]));
    let assignments = [(a.as_str(), &b"for-a"[..]), (b.as_str(), &b"for-b"[..])];
    coordinator.sync_group(6000, 4, &sync(&a, 1, &assignments));
    completed(&mut coordinator);
    drained_records(&mut coordinator);
    let restarted = range(&["t", "u"]);
    let rejoin = coordinator.join_group(7000, 5, &context(5), &join("", Some("i-a"), &restarted));
    let new = member_id(3);
    let expected = JoinGroupResponse {
        error_code: 0,
        generation_id: 1,
        protocol_type: Some(text("consumer")),
        protocol_name: Some(text("range")),
        leader: text(&a),
        member_id: text(&new),
        ..Default::default()
    };
    assert_eq!(rejoin, Reply::Now(expected));
    assert_eq!(drained_records(&mut coordinator).len(), 1, "the group is stored again");
    let mut resync = sync(&new, 1, &[]);
    resync.group_instance_id = Some(text("i-a"));
    assert_eq!(
        coordinator.sync_group(7001, 6, &resync),
        Reply::Now(match synced(b"for-a") {
            GroupResponse::SyncGroup(response) => response,
            GroupResponse::JoinGroup(_) => unreachable!(),
        })
    );
}

#[test]
fn inconsistent_protocols_are_refused() {
    // Goal: a member sharing no protocol with the group gets INCONSISTENT_GROUP_PROTOCOL.
    let mut coordinator = Coordinator::new(GroupConfig::default());
    coordinator.join_group(0, 1, &context(3), &join("", None, &range(&["t"])));
    let other = vec![("roundrobin", subscription(&["t"]))];
    let refused = coordinator.join_group(1, 2, &context(3), &join("", None, &other));
    assert_eq!(refused, Reply::Now(JoinGroupResponse { error_code: 23, ..Default::default() }));
}

fn commit(generation: i32, member: &str) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: text(GROUP),
        generation_id_or_member_epoch: generation,
        member_id: text(member),
        topics: vec![OffsetCommitRequestTopic {
            name: text("t"),
            partitions: vec![
                OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 42,
                    committed_leader_epoch: 5,
                    committed_metadata: Some(text("m")),
                    ..Default::default()
                },
                OffsetCommitRequestPartition {
                    partition_index: 1,
                    committed_offset: 7,
                    committed_metadata: None,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn commit_errors(response: &OffsetCommitResponse) -> Vec<i16> {
    response.topics.iter().flat_map(|t| t.partitions.iter().map(|p| p.error_code)).collect()
}

#[test]
fn offsets_round_trip_through_commit_fetch_records_and_replay() {
    // Goal: a standalone commit is stored, fetched (v5 and v8), written as Kafka's record bytes,
    // and a fresh coordinator replaying those records answers the same.
    let mut coordinator = Coordinator::new(GroupConfig::default());
    let wall_ms = 1_700_000_000_000;
    let response = coordinator.offset_commit(0, wall_ms, &commit(-1, ""));
    assert_eq!(commit_errors(&response), vec![0, 0]);
    let stored = drained_records(&mut coordinator);
    assert_eq!(stored.len(), 2);
    let mut key = vec![0, 1, 0, 1, b'g', 0, 1, b't'];
    key.extend_from_slice(&0i32.to_be_bytes());
    assert_eq!(stored[0].key.as_ref(), key.as_slice());
    let mut value = vec![0, 3];
    value.extend_from_slice(&42i64.to_be_bytes());
    value.extend_from_slice(&5i32.to_be_bytes());
    value.extend_from_slice(&[0, 1, b'm']);
    value.extend_from_slice(&wall_ms.to_be_bytes());
    assert_eq!(stored[0].value.as_deref(), Some(value.as_slice()));
    let decoded = records::decode_offset_value(stored[1].value.as_ref().unwrap()).unwrap();
    let expected = OffsetValue {
        offset: 7,
        leader_epoch: -1,
        metadata: String::new(),
        commit_timestamp_ms: wall_ms,
    };
    assert_eq!(decoded, expected);

    let fetch_v5 = OffsetFetchRequest {
        group_id: text(GROUP),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: text("t"),
            partition_indexes: vec![0, 1, 2],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let answer = coordinator.offset_fetch(1, 5, &fetch_v5);
    let partitions = &answer.topics[0].partitions;
    let summary: Vec<(i32, i64, i32, Option<&str>)> = partitions
        .iter()
        .map(|p| {
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                p.metadata.as_ref().map(StrBytes::as_str),
            )
        })
        .collect();
    assert_eq!(summary, vec![(0, 42, 5, Some("m")), (1, 7, -1, Some("")), (2, -1, -1, Some(""))]);

    let fetch_v8 = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: text(GROUP),
            topics: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut reloaded = Coordinator::new(GroupConfig::default());
    for record in &stored {
        reloaded.replay(&record.key, record.value.as_deref()).unwrap();
    }
    reloaded.load_complete(1);
    let before = coordinator.offset_fetch(2, 8, &fetch_v8);
    assert_eq!(before.groups[0].topics[0].partitions.len(), 2);
    assert_eq!(reloaded.offset_fetch(2, 8, &fetch_v8), before);
    // A tombstone deletes the offset.
    reloaded.replay(&stored[0].key, None).unwrap();
    let after = reloaded.offset_fetch(3, 8, &fetch_v8);
    assert_eq!(after.groups[0].topics[0].partitions.len(), 1);
}

#[test]
fn commits_are_checked_against_member_and_generation() {
    // Goal: Kafka's commit fencing for a group with members, and for an unknown group.
    let mut coordinator = Coordinator::new(GroupConfig::default());
    assert_eq!(commit_errors(&coordinator.offset_commit(0, 0, &commit(1, "x"))), vec![22, 22]);
    let mut coordinator_stable = stable_pair();
    let a = member_id(1);
    let stable = &mut coordinator_stable;
    assert_eq!(commit_errors(&stable.offset_commit(6100, 0, &commit(1, &a))), vec![0, 0]);
    assert_eq!(commit_errors(&stable.offset_commit(6100, 0, &commit(2, &a))), vec![22, 22]);
    assert_eq!(commit_errors(&stable.offset_commit(6100, 0, &commit(1, "x"))), vec![25, 25]);
    assert_eq!(commit_errors(&stable.offset_commit(6100, 0, &commit(-1, ""))), vec![25, 25]);
    coordinator.handle_timeout(1);
}

#[test]
fn only_empty_groups_are_deleted() {
    // Goal: DeleteGroups refuses a group with members (NON_EMPTY_GROUP), an unknown group
    // (GROUP_ID_NOT_FOUND), and deletes an Empty group with tombstones for all it stored.
    let mut coordinator = stable_pair();
    let request =
        DeleteGroupsRequest { groups_names: vec![text(GROUP), text("nope")], ..Default::default() };
    let response = coordinator.delete_groups(6100, &request);
    let codes: Vec<i16> = response.results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![68, 69]);

    let mut simple = Coordinator::new(GroupConfig::default());
    simple.offset_commit(0, 5, &commit(-1, ""));
    let stored = drained_records(&mut simple);
    let response = simple.delete_groups(
        1,
        &DeleteGroupsRequest { groups_names: vec![text(GROUP)], ..Default::default() },
    );
    assert_eq!(response.results[0].error_code, 0);
    let tombstones = drained_records(&mut simple);
    let keys: Vec<&[u8]> = tombstones.iter().map(|r| r.key.as_ref()).collect();
    let group_key = records::encode_group_key(GROUP);
    assert_eq!(keys, vec![stored[0].key.as_ref(), stored[1].key.as_ref(), group_key.as_ref()]);
    assert!(tombstones.iter().all(|r| r.value.is_none()));
    assert_eq!(simple.group_count(), 0);
    let listed = simple.list_groups(&ListGroupsRequest::default());
    assert!(listed.groups.is_empty());
}

#[test]
fn offset_delete_refuses_subscribed_topics() {
    // Goal: a Stable consumer group subscribed to "t" keeps t's offsets
    // (GROUP_SUBSCRIBED_TO_TOPIC) but may delete others.
    let mut coordinator = stable_pair();
    let a = member_id(1);
    let mut both = commit(1, &a);
    both.topics.push(OffsetCommitRequestTopic {
        name: text("u"),
        partitions: vec![OffsetCommitRequestPartition { partition_index: 0, ..Default::default() }],
        ..Default::default()
    });
    coordinator.offset_commit(6100, 0, &both);
    drained_records(&mut coordinator);
    let topic = |name: &str| OffsetDeleteRequestTopic {
        name: text(name),
        partitions: vec![OffsetDeleteRequestPartition { partition_index: 0, ..Default::default() }],
        ..Default::default()
    };
    let request = OffsetDeleteRequest {
        group_id: text(GROUP),
        topics: vec![topic("t"), topic("u")],
        ..Default::default()
    };
    let response = coordinator.offset_delete(6200, &request);
    assert_eq!(response.error_code, 0);
    let codes: Vec<i16> = response.topics.iter().map(|t| t.partitions[0].error_code).collect();
    assert_eq!(codes, vec![86, 0]);
    let tombstones = drained_records(&mut coordinator);
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0].key, records::encode_offset_key(GROUP, "u", 0));
    let unknown = OffsetDeleteRequest { group_id: text("nope"), ..Default::default() };
    assert_eq!(coordinator.offset_delete(6300, &unknown).error_code, 69);
}

#[test]
fn leave_group_batches_members_and_rebalances() {
    // Goal: v3+ LeaveGroup answers per member; a known member leaving starts a rebalance.
    let mut coordinator = stable_pair();
    let b = member_id(2);
    let request = LeaveGroupRequest {
        group_id: text(GROUP),
        members: vec![
            LeaveGroupRequestMember { member_id: text(&b), ..Default::default() },
            LeaveGroupRequestMember { member_id: text("ghost"), ..Default::default() },
        ],
        ..Default::default()
    };
    let response = coordinator.leave_group(6100, 3, &request);
    let codes: Vec<i16> = response.members.iter().map(|m| m.error_code).collect();
    assert_eq!((response.error_code, codes), (0, vec![0, 25]));
    let listed = coordinator.list_groups(&ListGroupsRequest::default());
    assert_eq!(listed.groups[0].group_state.as_str(), "PreparingRebalance");
    let old =
        LeaveGroupRequest { group_id: text(GROUP), member_id: text("ghost"), ..Default::default() };
    assert_eq!(coordinator.leave_group(6101, 0, &old).error_code, 25);
}

#[test]
fn coordinator_partition_matches_java_string_hash_code() {
    // Goal: FindCoordinator's partition is Kafka's abs(String.hashCode) % N; the vectors were
    // printed by a JVM (`"x".hashCode()`).
    let vectors: [(&str, i32, i32); 8] = [
        ("", 0, 0),
        ("hello", 99_162_322, 22),
        ("polygenelubricants", i32::MIN, 0),
        ("console-consumer-12345", 158_455_506, 6),
        ("my-group", -1_906_497_762, 12),
        ("Hello World", -862_545_276, 26),
        ("grüppe", -1_233_264_812, 12),
        ("test-group", 627_841_412, 12),
    ];
    for (group_id, hash, partition) in vectors {
        assert_eq!(records::java_string_hash(group_id), hash, "{group_id}");
        assert_eq!(coordinator_partition(group_id, 50), partition, "{group_id}");
    }
}

#[test]
fn group_values_round_trip() {
    // Goal: the group metadata value decodes back to what was encoded.
    let value = records::GroupValue {
        protocol_type: "consumer".to_owned(),
        generation: 3,
        protocol: Some("range".to_owned()),
        leader: Some("m1".to_owned()),
        current_state_timestamp_ms: -1,
        members: vec![records::MemberValue {
            member_id: "m1".to_owned(),
            group_instance_id: Some("i".to_owned()),
            client_id: "c".to_owned(),
            client_host: "/h".to_owned(),
            rebalance_timeout_ms: 1,
            session_timeout_ms: 2,
            subscription: Bytes::from_static(b"s"),
            assignment: Bytes::from_static(b"a"),
        }],
    };
    let encoded = records::encode_group_value(&value);
    assert_eq!(records::decode_group_value(&encoded), Ok(value));
    assert_eq!(
        records::decode_group_value(&encoded[..encoded.len() - 1]),
        Err(records::RecordError::Truncated)
    );
}

#[test]
fn random_operation_sequences_never_panic_and_records_replay() {
    // Goal: seeded random joins, syncs, heartbeats, leaves, commits, deletes, offset expiry
    // and timeouts keep
    // every assertion inside the coordinator true, and every record it emits replays cleanly.
    let mut stable_steps = 0u32;
    for seed in 0..300u64 {
        let mut prng = crate::prng::Prng::new(seed);
        let initial_rebalance_delay_ms = prng.below(2) * 3000;
        let config = GroupConfig {
            initial_rebalance_delay_ms,
            offsets_retention_ms: 20_000,
            ..GroupConfig::default()
        };
        let mut coordinator = Coordinator::new(config);
        let mut reloaded = Coordinator::new(GroupConfig::default());
        let mut known: Vec<String> = vec![String::new()];
        let mut now = 0u64;
        let mut last_generation = -1;
        for request in 0..400u64 {
            now += prng.below(3000);
            let member = known[prng.below(known.len() as u64) as usize].clone();
            let instance = ["a", "b"].get(prng.below(4) as usize).copied();
            let generation =
                if prng.below(4) == 0 { prng.below(4) as i32 - 1 } else { last_generation };
            let topics = if prng.below(2) == 0 { range(&["t"]) } else { range(&["t", "u"]) };
            match prng.below(8) {
                0 | 1 => {
                    let version = prng.below(10) as i16;
                    let reply = coordinator.join_group(
                        now,
                        request,
                        &context(version),
                        &join(&member, instance, &topics),
                    );
                    if let Reply::Now(response) = reply {
                        known.push(response.member_id.as_str().to_owned());
                    }
                }
                2 => {
                    let assignments = [(member.as_str(), &b"x"[..])];
                    let _ = coordinator.sync_group(
                        now,
                        request,
                        &sync(&member, generation, &assignments),
                    );
                }
                3 => {
                    let _ = coordinator.heartbeat(now, &heartbeat(&member, generation, instance));
                }
                4 => {
                    let leave = LeaveGroupRequest {
                        group_id: text(GROUP),
                        members: vec![LeaveGroupRequestMember {
                            member_id: text(&member),
                            group_instance_id: instance.map(text),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    let _ = coordinator.leave_group(now, 3, &leave);
                }
                5 => {
                    let _ = coordinator.offset_commit(now, 1, &commit(generation, &member));
                }
                6 if request % 2 == 0 => {
                    let names = vec![text(GROUP)];
                    let _ = coordinator.delete_groups(
                        now,
                        &DeleteGroupsRequest { groups_names: names, ..Default::default() },
                    );
                }
                6 => {
                    // Wall-clock ms run 10× the ticks, so standalone commits expire too.
                    let _ = coordinator.expire_offsets(now, now as i64 * 10);
                }
                _ => {
                    if let Some(deadline) = coordinator.poll_timeout() {
                        now = now.max(deadline);
                    }
                    coordinator.handle_timeout(now);
                }
            }
            for (_, response) in completed(&mut coordinator) {
                if let GroupResponse::JoinGroup(join) = response {
                    known.push(join.member_id.as_str().to_owned());
                    last_generation = last_generation.max(join.generation_id);
                }
            }
            for record in drained_records(&mut coordinator) {
                reloaded.replay(&record.key, record.value.as_deref()).unwrap();
            }
            if known.len() > 64 {
                known.drain(1..known.len() - 63);
            }
            let listed = coordinator.list_groups(&ListGroupsRequest::default());
            if listed.groups.iter().any(|g| g.group_state.as_str() == "Stable") {
                stable_steps += 1;
            }
        }
        // Committed offsets survive the replay exactly.
        let fetch = OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: text(GROUP),
                topics: None,
                ..Default::default()
            }],
            ..Default::default()
        };
        reloaded.load_complete(now);
        assert_eq!(reloaded.offset_fetch(now, 8, &fetch), coordinator.offset_fetch(now, 8, &fetch));
    }
    // The walk is not stuck in the join phase: groups do reach Stable.
    assert!(stable_steps > 100, "only {stable_steps} steps saw a Stable group");
}

#[test]
fn committed_offsets_expire_after_offsets_retention() {
    // Goal: offsets.retention.minutes as in Kafka (KIP-211). Method: exact tombstones and
    // expiry counts at each tick, for a consumer group (counted from when it emptied, by the
    // wall clock) and for standalone commits (counted from each commit's timestamp).
    let config = GroupConfig { offsets_retention_ms: 1000, ..GroupConfig::default() };

    // Standalone commits (no membership): each offset expires 1000 ms after its commit.
    let mut simple = Coordinator::new(config.clone());
    simple.offset_commit(0, 5_000, &commit(-1, ""));
    let stored = drained_records(&mut simple);
    assert_eq!(simple.expire_offsets(10, 5_999), 0);
    assert!(drained_records(&mut simple).is_empty());
    assert_eq!(simple.expire_offsets(20, 6_000), 2);
    let tombstones = drained_records(&mut simple);
    let keys: Vec<&[u8]> = tombstones.iter().map(|r| r.key.as_ref()).collect();
    let group_key = records::encode_group_key(GROUP);
    assert_eq!(keys, vec![stored[0].key.as_ref(), stored[1].key.as_ref(), group_key.as_ref()]);
    assert!(tombstones.iter().all(|r| r.value.is_none()));
    assert_eq!(simple.group_count(), 0);

    // A consumer group keeps its offsets while it has members, however old the commits.
    // The wall clock reads 1 000 000 ms ahead of the ticks.
    let wall = |tick: u64| 1_000_000 + tick as i64;
    let mut coordinator = Coordinator::new(config);
    let topics = range(&["t"]);
    coordinator.join_group(0, 1, &context(3), &join("", None, &topics));
    coordinator.set_wall_clock(wall(3000));
    coordinator.handle_timeout(3000);
    completed(&mut coordinator);
    let a = member_id(1);
    coordinator.sync_group(3000, 2, &sync(&a, 1, &[(a.as_str(), &b"for-a"[..])]));
    completed(&mut coordinator);
    coordinator.offset_commit(3000, wall(3000), &commit(1, &a));
    drained_records(&mut coordinator);
    assert_eq!(coordinator.expire_offsets(10_000, wall(10_000)), 0);
    assert!(drained_records(&mut coordinator).is_empty());
    // It empties at 10 500 and keeps the offsets 1000 ms from then by the wall clock,
    // whenever expiry first sees it Empty.
    let leave =
        LeaveGroupRequest { group_id: text(GROUP), member_id: text(&a), ..Default::default() };
    coordinator.set_wall_clock(wall(10_500));
    assert_eq!(coordinator.leave_group(10_500, 0, &leave).error_code, 0);
    drained_records(&mut coordinator);
    assert_eq!(coordinator.expire_offsets(11_000, wall(11_000)), 0);
    assert_eq!(coordinator.expire_offsets(11_499, wall(11_499)), 0);
    assert!(drained_records(&mut coordinator).is_empty());
    assert_eq!(coordinator.expire_offsets(11_500, wall(11_500)), 2);
    let tombstones = drained_records(&mut coordinator);
    assert_eq!(tombstones.len(), 3, "two offsets and the group");
    assert_eq!(tombstones[2].key, group_key);
    assert_eq!(coordinator.group_count(), 0);
}

#[test]
fn a_member_that_came_and_went_between_expiry_checks_restarts_the_retention() {
    // Goal: Kafka counts offsets.retention.minutes from when the group last became Empty.
    // Found while writing the simulator's expiry checker: expiry noted when it first saw the
    // group Empty, and a member that joined and left before the next check did not reset
    // that, so the offsets expired as if the group had been Empty all along. Method: expiry
    // counts around such a visit, the wall clock reading the ticks.
    let config = GroupConfig {
        offsets_retention_ms: 1000,
        initial_rebalance_delay_ms: 0,
        ..GroupConfig::default()
    };
    let mut coordinator = Coordinator::new(config);
    let topics = range(&["t"]);
    coordinator.join_group(0, 1, &context(3), &join("", None, &topics));
    coordinator.handle_timeout(0);
    completed(&mut coordinator);
    let a = member_id(1);
    coordinator.sync_group(0, 2, &sync(&a, 1, &[(a.as_str(), &b"for-a"[..])]));
    completed(&mut coordinator);
    let committed = coordinator.offset_commit(0, 0, &commit(1, &a));
    assert!(committed.topics.iter().flat_map(|t| &t.partitions).all(|p| p.error_code == 0));
    let leave = |member: &str| LeaveGroupRequest {
        group_id: text(GROUP),
        member_id: text(member),
        ..Default::default()
    };
    coordinator.set_wall_clock(500);
    assert_eq!(coordinator.leave_group(500, 0, &leave(&a)).error_code, 0);
    drained_records(&mut coordinator);
    assert_eq!(coordinator.expire_offsets(1_000, 1_000), 0, "Empty since 500");
    // A member visits from 1200 to 1400, between two checks.
    coordinator.set_wall_clock(1_200);
    coordinator.join_group(1_200, 3, &context(3), &join("", None, &topics));
    coordinator.handle_timeout(1_200);
    completed(&mut coordinator);
    let b = member_id(2);
    coordinator.set_wall_clock(1_400);
    assert_eq!(coordinator.leave_group(1_400, 0, &leave(&b)).error_code, 0);
    coordinator.handle_timeout(1_400);
    let listed = coordinator.list_groups(&ListGroupsRequest::default());
    let states: Vec<&str> = listed.groups.iter().map(|group| group.group_state.as_str()).collect();
    assert_eq!(states, ["Empty"]);
    assert_eq!(coordinator.expire_offsets(2_000, 2_000), 0, "Empty again only since 1400");
    assert_eq!(coordinator.expire_offsets(2_399, 2_399), 0);
    assert_eq!(coordinator.expire_offsets(2_400, 2_400), 2);
}

#[test]
fn an_empty_group_keeps_the_time_it_emptied_through_a_rebuild() {
    // Goal: as Kafka's currentStateTimestamp, the time a group emptied is stored in its
    // record, so a coordinator rebuilt from the records (a broker restart) expires its
    // offsets the retention after that time, not after the rebuild. Method: the stored
    // record's timestamp, and expiry counts before and after the rebuild at exact ticks, the
    // wall clock reading 1 000 000 ms ahead of them; a record without a timestamp counts
    // from the first check after the rebuild, as before.
    let config = GroupConfig {
        offsets_retention_ms: 1000,
        initial_rebalance_delay_ms: 0,
        ..GroupConfig::default()
    };
    let wall = |tick: u64| 1_000_000 + tick as i64;
    let mut coordinator = Coordinator::new(config.clone());
    coordinator.set_wall_clock(wall(0));
    let topics = range(&["t"]);
    coordinator.join_group(0, 1, &context(3), &join("", None, &topics));
    coordinator.handle_timeout(0);
    completed(&mut coordinator);
    let a = member_id(1);
    coordinator.sync_group(0, 2, &sync(&a, 1, &[(a.as_str(), &b"for-a"[..])]));
    completed(&mut coordinator);
    coordinator.offset_commit(0, wall(0), &commit(1, &a));
    let mut stored = drained_records(&mut coordinator);
    let leave =
        LeaveGroupRequest { group_id: text(GROUP), member_id: text(&a), ..Default::default() };
    coordinator.set_wall_clock(wall(500));
    assert_eq!(coordinator.leave_group(500, 0, &leave).error_code, 0);
    coordinator.handle_timeout(500);
    stored.extend(drained_records(&mut coordinator));
    let group_key = records::encode_group_key(GROUP);
    let last = stored.iter().rev().find(|record| record.key == group_key).expect("stored");
    let value = records::decode_group_value(last.value.as_ref().expect("a value")).unwrap();
    assert_eq!((value.generation, value.members.len()), (2, 0));
    assert_eq!(value.current_state_timestamp_ms, wall(500));

    let rebuild = |stored: &[OffsetsRecord], at: u64| {
        let mut rebuilt = Coordinator::new(config.clone());
        for record in stored {
            rebuilt.replay(&record.key, record.value.as_deref()).expect("replays");
        }
        rebuilt.load_complete(at);
        rebuilt.set_wall_clock(wall(at));
        rebuilt
    };
    let mut rebuilt = rebuild(&stored, 900);
    assert_eq!(rebuilt.expire_offsets(900, wall(900)), 0);
    assert_eq!(rebuilt.expire_offsets(1_499, wall(1_499)), 0);
    assert_eq!(rebuilt.expire_offsets(1_500, wall(1_500)), 2);

    // The same record without a timestamp (as a record of a version before 2 reads).
    let untimed = records::GroupValue { current_state_timestamp_ms: -1, ..value };
    let mut old = stored.clone();
    let position = old.iter().rposition(|record| record.key == group_key).expect("stored");
    old[position].value = Some(records::encode_group_value(&untimed));
    let mut rebuilt = rebuild(&old, 900);
    assert_eq!(rebuilt.expire_offsets(900, wall(900)), 0, "first seen Empty at 900");
    assert_eq!(rebuilt.expire_offsets(1_899, wall(1_899)), 0);
    assert_eq!(rebuilt.expire_offsets(1_900, wall(1_900)), 2);
}

#[test]
fn a_rebuilt_coordinator_never_reissues_a_forgotten_member_id() {
    // Goal: found by the stateright model (models/src/groups.rs): a member joined, the
    // coordinator failed over before the group was stored, and the rebuilt coordinator, whose
    // id counter restarted, gave the next client the same member id; both then synced the
    // same generation and got the same partitions. Method: the id of the first join before
    // and after a rebuild with a new incarnation nonce differ; nonce 0 keeps the old format.
    let mut first = Coordinator::new(GroupConfig::default());
    first.set_member_id_nonce(0x0123_4567_89ab_cdef);
    let mut rebuilt = Coordinator::new(GroupConfig::default());
    rebuilt.set_member_id_nonce(0xfedc_ba98_7654_3210);
    let topics = range(&["t"]);
    let mut ids = Vec::new();
    for coordinator in [&mut first, &mut rebuilt] {
        coordinator.join_group(0, 1, &context(3), &join("", None, &topics));
        coordinator.handle_timeout(3000);
        for (_, response) in completed(coordinator) {
            if let GroupResponse::JoinGroup(join) = response {
                ids.push(join.member_id.as_str().to_owned());
            }
        }
    }
    assert_eq!(
        ids,
        vec![
            "client-01234567-89ab-4000-8000-000000000001".to_owned(),
            "client-fedcba98-7654-4000-8000-000000000001".to_owned(),
        ]
    );
    let mut plain = Coordinator::new(GroupConfig::default());
    plain.join_group(0, 1, &context(3), &join("", None, &topics));
    plain.handle_timeout(3000);
    let GroupResponse::JoinGroup(join) = completed(&mut plain).remove(0).1 else { panic!() };
    assert_eq!(join.member_id.as_str(), member_id(1));
}

/// (partition, committed offset) of every offset `group_id` holds of topic "t" (v8 fetch).
fn held_offsets(coordinator: &mut Coordinator, now: u64, group_id: &str) -> Vec<(i32, i64)> {
    let fetch = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: text(group_id),
            topics: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    let answer = coordinator.offset_fetch(now, 8, &fetch);
    answer.groups[0]
        .topics
        .iter()
        .flat_map(|topic| topic.partitions.iter())
        .map(|partition| (partition.partition_index, partition.committed_offset))
        .collect()
}

#[test]
fn a_reload_takes_offsets_and_dropped_groups_from_the_log_and_keeps_members() {
    // Goal: after a store failed, the node reloads the partition's offsets from the log. One
    // offsets partition. The Stable pair "g" commits 42 and 7 (stored); standalone group "h"
    // commits 42 and 7 (stored). Then "g" commits 50 and 8 and "h" is deleted, and the log
    // refuses both (their records are dropped). The reload gives "g" back 42 and 7 and keeps
    // its members in generation 1, and brings "h" back with its offsets.
    let config = GroupConfig { offsets_topic_partitions: 1, ..GroupConfig::default() };
    let mut coordinator = Coordinator::new(config);
    let (a, b) = (member_id(1), member_id(2));
    let topics = range(&["t"]);
    coordinator.join_group(0, 1, &context(3), &join("", None, &topics));
    coordinator.join_group(100, 2, &context(3), &join("", None, &topics));
    coordinator.handle_timeout(3000);
    coordinator.handle_timeout(6000);
    coordinator.sync_group(6000, 3, &sync(&b, 1, &[]));
    let assignments = [(a.as_str(), &b"for-a"[..]), (b.as_str(), &b"for-b"[..])];
    coordinator.sync_group(6000, 4, &sync(&a, 1, &assignments));
    completed(&mut coordinator);
    assert_eq!(commit_errors(&coordinator.offset_commit(6000, 0, &commit(1, &a))), [0, 0]);
    let mut standalone = commit(-1, "");
    standalone.group_id = text("h");
    assert_eq!(commit_errors(&coordinator.offset_commit(6000, 0, &standalone)), [0, 0]);
    let stored = drained_records(&mut coordinator);

    let mut later = commit(1, &a);
    later.topics[0].partitions[0].committed_offset = 50;
    later.topics[0].partitions[1].committed_offset = 8;
    assert_eq!(commit_errors(&coordinator.offset_commit(6100, 0, &later)), [0, 0]);
    let delete = DeleteGroupsRequest { groups_names: vec![text("h")], ..Default::default() };
    assert_eq!(coordinator.delete_groups(6100, &delete).results[0].error_code, 0);
    let refused = drained_records(&mut coordinator);
    assert_eq!(refused.len(), 5, "two offsets; two tombstones and the group's");
    assert_eq!(held_offsets(&mut coordinator, 6100, GROUP), [(0, 50), (1, 8)]);
    assert_eq!(coordinator.group_count(), 1);

    let kept = coordinator.clear_partition_offsets(6200, 0);
    assert_eq!(kept, std::collections::BTreeSet::from([GROUP.to_string()]));
    for record in &stored {
        coordinator.replay_reload(&record.key, record.value.as_deref(), &kept).expect("replays");
    }
    coordinator.partition_reloaded(6200, 0, &kept);
    assert_eq!(coordinator.poll_record(), None, "a reload writes nothing");
    assert_eq!(held_offsets(&mut coordinator, 6200, GROUP), [(0, 42), (1, 7)]);
    assert_eq!(held_offsets(&mut coordinator, 6200, "h"), [(0, 42), (1, 7)]);
    assert_eq!(coordinator.group_count(), 2);
    for member in [&a, &b] {
        let answer = coordinator.heartbeat(6300, &heartbeat(member, 1, None));
        assert_eq!(answer.error_code, error::NONE, "{member} is still in generation 1");
    }
}

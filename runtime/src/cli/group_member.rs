//! Consumer groups from the client side: the consumer protocol's bytes, the range assignor, the
//! group requests the tools share, and [`GroupMember`], one member of a classic group.
//!
//! A [`GroupMember`] is driven by one thread, as `sluice console-consumer --group` does:
//! [`GroupMember::join`] (JoinGroup, repeated with the member id the coordinator hands out
//! under KIP-394; SyncGroup, where the leader computes a range assignment) returns this
//! member's partitions. Between fetches the caller calls [`GroupMember::heartbeat_if_due`],
//! and after printing records [`GroupMember::commit`]; when either answers
//! [`GroupStatus::Rejoin`] the group is rebalancing and the caller MUST call `join` again
//! before it fetches more. [`GroupMember::leave`] ends the membership (LeaveGroup), so the
//! group rebalances at once rather than after the session timeout.

use crate::client::{error_text, Client, Cluster, DEFAULT_TIMEOUT};
use anyhow::{anyhow, bail};
use bytes::Bytes;
use sluice_core::protocol::api::find_coordinator::FindCoordinatorRequest;
use sluice_core::protocol::api::heartbeat::HeartbeatRequest;
use sluice_core::protocol::api::join_group::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse,
};
use sluice_core::protocol::api::leave_group::{LeaveGroupRequest, LeaveGroupRequestMember};
use sluice_core::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use sluice_core::protocol::api::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestGroupTopic,
    OffsetFetchRequestTopic,
};
use sluice_core::protocol::api::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::{write, DecodeError, Reader, StrBytes};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The protocol type of consumer groups.
pub(crate) const PROTOCOL_TYPE: &str = "consumer";
/// The one assignor this member offers (Kafka's RangeAssignor).
pub(crate) const RANGE_ASSIGNOR: &str = "range";
/// Kafka's `session.timeout.ms` default.
const SESSION_TIMEOUT_MS: i32 = 45_000;
/// Kafka's `max.poll.interval.ms` default, which the Java consumer sends as rebalance timeout.
const REBALANCE_TIMEOUT_MS: i32 = 300_000;
/// Kafka's `heartbeat.interval.ms` default.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// JoinGroup/SyncGroup rounds one `join` may take (each is a real rebalance event or a retry).
const JOIN_ATTEMPTS_MAX: u32 = 30;
/// Tries while the coordinator is unknown or still loading, [`RETRY_BACKOFF`] apart.
const COORDINATOR_ATTEMPTS_MAX: u32 = 50;
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// FindCoordinator key type of a consumer group.
const KEY_TYPE_GROUP: i8 = 0;
const FIND_COORDINATOR_KEY: i16 = 10;
const OFFSET_FETCH_KEY: i16 = 9;
const LEAVE_GROUP_KEY: i16 = 13;

/// Error codes the group tools act on.
pub(crate) mod code {
    pub(crate) const NONE: i16 = 0;
    pub(crate) const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub(crate) const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub(crate) const NOT_COORDINATOR: i16 = 16;
    pub(crate) const ILLEGAL_GENERATION: i16 = 22;
    pub(crate) const UNKNOWN_MEMBER_ID: i16 = 25;
    pub(crate) const REBALANCE_IN_PROGRESS: i16 = 27;
    pub(crate) const MEMBER_ID_REQUIRED: i16 = 79;
}

/// Whether `error` means "find the coordinator again".
fn coordinator_moved(error: i16) -> bool {
    matches!(
        error,
        code::COORDINATOR_LOAD_IN_PROGRESS
            | code::COORDINATOR_NOT_AVAILABLE
            | code::NOT_COORDINATOR
    )
}

/// A topic and partition.
pub(crate) type TopicPartition = (String, i32);

/// A `ConsumerProtocolSubscription` v0: version, topics, null user data.
pub(crate) fn encode_subscription(topics: &[String]) -> Bytes {
    let mut out = Vec::new();
    out.extend_from_slice(&0i16.to_be_bytes());
    write::array_count(&mut out, Some(topics.len()));
    for topic in topics {
        write::nullable_string(&mut out, Some(topic));
    }
    write::nullable_bytes(&mut out, None);
    Bytes::from(out)
}

/// The topics of a `ConsumerProtocolSubscription` of any version (fields after the topics,
/// which later versions add, are not needed here).
pub(crate) fn decode_subscription(bytes: &Bytes) -> Result<Vec<String>, DecodeError> {
    let mut reader = Reader::new(bytes.clone(), "ConsumerProtocolSubscription", 0);
    let version = reader.i16("version")?;
    reader.set_context("ConsumerProtocolSubscription", version);
    let count = reader.array_count(2, "topics")?.unwrap_or(0);
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        topics.push(reader.string("topics")?.as_str().to_string());
    }
    Ok(topics)
}

/// A `ConsumerProtocolAssignment` v0: version, (topic, partitions) pairs, null user data.
pub(crate) fn encode_assignment(assignment: &BTreeMap<String, Vec<i32>>) -> Bytes {
    let mut out = Vec::new();
    out.extend_from_slice(&0i16.to_be_bytes());
    write::array_count(&mut out, Some(assignment.len()));
    for (topic, partitions) in assignment {
        write::nullable_string(&mut out, Some(topic));
        write::array_count(&mut out, Some(partitions.len()));
        for partition in partitions {
            out.extend_from_slice(&partition.to_be_bytes());
        }
    }
    write::nullable_bytes(&mut out, None);
    Bytes::from(out)
}

/// The partitions of a `ConsumerProtocolAssignment` of any version, by topic, sorted. Empty
/// bytes (a member without an assignment yet) are an empty assignment.
pub(crate) fn decode_assignment(bytes: &Bytes) -> Result<BTreeMap<String, Vec<i32>>, DecodeError> {
    let mut assignment: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    if bytes.is_empty() {
        return Ok(assignment);
    }
    let mut reader = Reader::new(bytes.clone(), "ConsumerProtocolAssignment", 0);
    let version = reader.i16("version")?;
    reader.set_context("ConsumerProtocolAssignment", version);
    let topics = reader.array_count(6, "assigned_partitions")?.unwrap_or(0);
    for _ in 0..topics {
        let topic = reader.string("topic")?.as_str().to_string();
        let count = reader.array_count(4, "partitions")?.unwrap_or(0);
        let partitions = assignment.entry(topic).or_default();
        for _ in 0..count {
            partitions.push(reader.i32("partitions")?);
        }
        partitions.sort_unstable();
        partitions.dedup();
    }
    Ok(assignment)
}

/// Kafka's RangeAssignor: per topic, the members subscribed to it in member id order each get
/// a run of consecutive partitions, the first `count % members` one more than the others.
/// Every member gets an entry, empty if nothing is left for it.
pub(crate) fn range_assign(
    subscriptions: &BTreeMap<String, Vec<String>>,
    partition_counts: &BTreeMap<String, i32>,
) -> BTreeMap<String, BTreeMap<String, Vec<i32>>> {
    let mut assignments: BTreeMap<String, BTreeMap<String, Vec<i32>>> =
        subscriptions.keys().map(|member| (member.clone(), BTreeMap::new())).collect();
    for (topic, &count) in partition_counts {
        let members: Vec<&String> = subscriptions
            .iter()
            .filter(|(_, topics)| topics.contains(topic))
            .map(|(member, _)| member)
            .collect();
        if members.is_empty() || count <= 0 {
            continue;
        }
        let member_count = i32::try_from(members.len()).unwrap_or(i32::MAX);
        let (each, extra) = (count / member_count, count % member_count);
        let mut next = 0;
        for (index, member) in members.into_iter().enumerate() {
            let length = each + i32::from((index as i32) < extra);
            if length > 0 {
                let partitions: Vec<i32> = (next..next + length).collect();
                assignments
                    .get_mut(member)
                    .expect("every member")
                    .insert(topic.clone(), partitions);
            }
            next += length;
        }
        assert_eq!(next, count, "the range assignor hands out every partition once");
    }
    assignments
}

/// The connection to `group_id`'s coordinator (FindCoordinator, then [`Cluster::node`]).
pub(crate) fn coordinator<'a>(
    cluster: &'a mut Cluster,
    group_id: &str,
) -> anyhow::Result<&'a mut Client> {
    let (node_id, _) = find_coordinator(cluster, group_id)?;
    cluster.node(node_id)
}

/// FindCoordinator for `group_id` (retried while the coordinator is not available): the node
/// id and `host:port` of its coordinator. Refreshes the cluster's broker list first, so
/// [`Cluster::node`] can reach the answer.
pub(crate) fn find_coordinator(
    cluster: &mut Cluster,
    group_id: &str,
) -> anyhow::Result<(i32, String)> {
    cluster.metadata(Some(&[]), false)?;
    let client = cluster.bootstrap();
    let version = client.version(FIND_COORDINATOR_KEY).ok_or_else(|| {
        anyhow!("the broker at {} does not support FindCoordinator", client.address())
    })?;
    let mut last = code::NONE;
    for _ in 0..COORDINATOR_ATTEMPTS_MAX {
        let request = Request::FindCoordinator(FindCoordinatorRequest {
            key: StrBytes::from_string(group_id.to_string()),
            key_type: KEY_TYPE_GROUP,
            coordinator_keys: vec![StrBytes::from_string(group_id.to_string())],
            ..Default::default()
        });
        let Response::FindCoordinator(response) = client.send(request)? else {
            bail!("unexpected response to FindCoordinator");
        };
        let (error, message, node_id, host, port) = if version >= 4 {
            let Some(found) = response.coordinators.into_iter().next() else {
                bail!("the broker answered FindCoordinator for group '{group_id}' without it");
            };
            (found.error_code, found.error_message, found.node_id, found.host, found.port)
        } else {
            (
                response.error_code,
                response.error_message,
                response.node_id,
                response.host,
                response.port,
            )
        };
        if error == code::NONE {
            return Ok((node_id, format!("{}:{port}", host.as_str())));
        }
        if !coordinator_moved(error) {
            bail!(
                "cannot find the coordinator of group '{group_id}': {}",
                error_text(error, message.as_ref().map(StrBytes::as_str))
            );
        }
        last = error;
        std::thread::sleep(RETRY_BACKOFF);
    }
    bail!("cannot find the coordinator of group '{group_id}': {}", error_text(last, None))
}

/// OffsetFetch: `group_id`'s committed offsets for `wanted` (every committed partition when
/// `None`). Partitions without a committed offset are left out.
pub(crate) fn fetch_committed(
    client: &mut Client,
    group_id: &str,
    wanted: Option<&[(String, Vec<i32>)]>,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    let Some(version) = client.version(OFFSET_FETCH_KEY) else {
        bail!("the broker at {} does not support OffsetFetch", client.address());
    };
    let group = StrBytes::from_string(group_id.to_string());
    let mut request = OffsetFetchRequest::default();
    if version >= 8 {
        request.groups = vec![OffsetFetchRequestGroup {
            group_id: group,
            topics: wanted.map(|wanted| {
                wanted
                    .iter()
                    .map(|(topic, partitions)| OffsetFetchRequestGroupTopic {
                        name: StrBytes::from_string(topic.clone()),
                        partition_indexes: partitions.clone(),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }];
    } else {
        request.group_id = group;
        request.topics = wanted.map(|wanted| {
            wanted
                .iter()
                .map(|(topic, partitions)| OffsetFetchRequestTopic {
                    name: StrBytes::from_string(topic.clone()),
                    partition_indexes: partitions.clone(),
                    ..Default::default()
                })
                .collect()
        });
    }
    let mut last = code::NONE;
    for _ in 0..COORDINATOR_ATTEMPTS_MAX {
        let Response::OffsetFetch(response) = client.send(Request::OffsetFetch(request.clone()))?
        else {
            bail!("unexpected response to OffsetFetch");
        };
        // (topic, partition, offset, error) whatever the version's shape.
        let mut found: Vec<(String, i32, i64, i16)> = Vec::new();
        let group_error = if version >= 8 {
            let Some(group) = response.groups.into_iter().next() else {
                bail!("the broker answered OffsetFetch for group '{group_id}' without it");
            };
            for topic in group.topics {
                for p in topic.partitions {
                    let name = topic.name.as_str().to_string();
                    found.push((name, p.partition_index, p.committed_offset, p.error_code));
                }
            }
            group.error_code
        } else {
            for topic in response.topics {
                for p in topic.partitions {
                    let name = topic.name.as_str().to_string();
                    found.push((name, p.partition_index, p.committed_offset, p.error_code));
                }
            }
            response.error_code
        };
        let error = std::iter::once(group_error)
            .chain(found.iter().map(|(_, _, _, error)| *error))
            .find(|error| *error != code::NONE)
            .unwrap_or(code::NONE);
        if error == code::COORDINATOR_LOAD_IN_PROGRESS {
            last = error;
            std::thread::sleep(RETRY_BACKOFF);
            continue;
        }
        if error != code::NONE {
            bail!(
                "cannot fetch the committed offsets of group '{group_id}': {}",
                error_text(error, None)
            );
        }
        return Ok(found
            .into_iter()
            .filter(|(_, _, offset, _)| *offset >= 0)
            .map(|(topic, partition, offset, _)| ((topic, partition), offset))
            .collect());
    }
    bail!("cannot fetch the committed offsets of group '{group_id}': {}", error_text(last, None))
}

/// OffsetCommit of `offsets` for `group_id` as member `member_id` of `generation` (-1 and ""
/// for a standalone commit into an inactive group, as Kafka's admin client does). Returns the
/// partitions the broker refused, with its error codes.
pub(crate) fn commit_offsets(
    client: &mut Client,
    group_id: &str,
    generation: i32,
    member_id: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> anyhow::Result<Vec<(TopicPartition, i16)>> {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for ((topic, partition), offset) in offsets {
        topics.entry(topic).or_default().push(OffsetCommitRequestPartition {
            partition_index: *partition,
            committed_offset: *offset,
            committed_metadata: Some(StrBytes::from_static("")),
            ..Default::default()
        });
    }
    let request = Request::OffsetCommit(OffsetCommitRequest {
        group_id: StrBytes::from_string(group_id.to_string()),
        generation_id_or_member_epoch: generation,
        member_id: StrBytes::from_string(member_id.to_string()),
        topics: topics
            .into_iter()
            .map(|(name, partitions)| OffsetCommitRequestTopic {
                name: StrBytes::from_string(name.to_string()),
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    let Response::OffsetCommit(response) = client.send(request)? else {
        bail!("unexpected response to OffsetCommit");
    };
    let mut refused = Vec::new();
    let mut answered = BTreeSet::new();
    for topic in &response.topics {
        for partition in &topic.partitions {
            let key = (topic.name.as_str().to_string(), partition.partition_index);
            if partition.error_code != code::NONE {
                refused.push((key.clone(), partition.error_code));
            }
            answered.insert(key);
        }
    }
    if let Some(missing) = offsets.keys().find(|key| !answered.contains(*key)) {
        bail!(
            "the broker did not answer the commit of {}-{} for group '{group_id}'",
            missing.0,
            missing.1
        );
    }
    Ok(refused)
}

/// What the group asks of a member after a heartbeat or a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupStatus {
    /// Carry on with the current assignment.
    Stable,
    /// The group is rebalancing (or forgot this member): call [`GroupMember::join`].
    Rejoin,
}

/// One member of a classic consumer group, on its own connection to the coordinator.
pub(crate) struct GroupMember {
    coordinator: Client,
    group_id: String,
    client_id: String,
    member_id: String,
    generation: i32,
    next_heartbeat: Instant,
    /// The coordinator moved or is unavailable: find it again before the next request.
    coordinator_lost: bool,
}

impl GroupMember {
    /// Finds the coordinator of `group_id` and connects to it.
    pub(crate) fn connect(
        cluster: &mut Cluster,
        group_id: &str,
        client_id: &str,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            coordinator: connect_coordinator(cluster, group_id, client_id)?,
            group_id: group_id.to_string(),
            client_id: client_id.to_string(),
            member_id: String::new(),
            generation: -1,
            next_heartbeat: Instant::now(),
            coordinator_lost: false,
        })
    }

    /// The member id the coordinator gave this member ("" before the first join).
    pub(crate) fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Joins (or rejoins) the group subscribed to `topics` and returns this member's
    /// partitions by topic. The leader computes everyone's range assignment.
    pub(crate) fn join(
        &mut self,
        cluster: &mut Cluster,
        topics: &[String],
    ) -> anyhow::Result<BTreeMap<String, Vec<i32>>> {
        for _ in 0..JOIN_ATTEMPTS_MAX {
            if self.coordinator_lost {
                std::thread::sleep(RETRY_BACKOFF);
                self.coordinator = connect_coordinator(cluster, &self.group_id, &self.client_id)?;
                self.coordinator_lost = false;
            }
            let joined = self.join_group(topics)?;
            match joined.error_code {
                code::NONE => {}
                code::MEMBER_ID_REQUIRED => {
                    self.member_id = joined.member_id.as_str().to_string();
                    continue;
                }
                code::UNKNOWN_MEMBER_ID => {
                    self.forget_membership();
                    continue;
                }
                code::REBALANCE_IN_PROGRESS => continue,
                error if coordinator_moved(error) => {
                    self.coordinator_lost = true;
                    continue;
                }
                error => {
                    bail!("cannot join group '{}': {}", self.group_id, error_text(error, None))
                }
            }
            self.member_id = joined.member_id.as_str().to_string();
            self.generation = joined.generation_id;
            let protocol = joined.protocol_name.as_ref().map_or(RANGE_ASSIGNOR, StrBytes::as_str);
            if protocol != RANGE_ASSIGNOR {
                bail!(
                    "group '{}' chose assignor '{protocol}', which this tool does not offer",
                    self.group_id
                );
            }
            let assignments = if joined.leader.as_str() == self.member_id {
                self.leader_assignments(cluster, &joined)?
            } else {
                Vec::new()
            };
            match self.sync_group(assignments)? {
                Ok(assignment) => {
                    self.next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL;
                    return decode_assignment(&assignment).map_err(|error| {
                        anyhow!(
                            "group '{}' sent an assignment that does not decode: {error}",
                            self.group_id
                        )
                    });
                }
                Err(error) => self.react(error, "join")?,
            };
        }
        bail!(
            "could not join group '{}': it kept rebalancing over {JOIN_ATTEMPTS_MAX} attempts",
            self.group_id
        )
    }

    /// A Heartbeat, if [`HEARTBEAT_INTERVAL`] has passed since the last one.
    pub(crate) fn heartbeat_if_due(&mut self) -> anyhow::Result<GroupStatus> {
        if Instant::now() < self.next_heartbeat {
            return Ok(GroupStatus::Stable);
        }
        self.next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL;
        let request = Request::Heartbeat(HeartbeatRequest {
            group_id: StrBytes::from_string(self.group_id.clone()),
            generation_id: self.generation,
            member_id: StrBytes::from_string(self.member_id.clone()),
            ..Default::default()
        });
        let Response::Heartbeat(response) = self.coordinator.send(request)? else {
            bail!("unexpected response to Heartbeat");
        };
        match response.error_code {
            code::NONE => Ok(GroupStatus::Stable),
            error => self.react(error, "heartbeat").map(|()| GroupStatus::Rejoin),
        }
    }

    /// The committed offsets of `topic`'s `partitions` (those without one are left out).
    pub(crate) fn committed(
        &mut self,
        topic: &str,
        partitions: &[i32],
    ) -> anyhow::Result<BTreeMap<i32, i64>> {
        let wanted = [(topic.to_string(), partitions.to_vec())];
        let found = fetch_committed(&mut self.coordinator, &self.group_id, Some(&wanted))?;
        Ok(found.into_iter().map(|((_, partition), offset)| (partition, offset)).collect())
    }

    /// Commits `offsets` of `topic` (the next offset to read, per partition) in the current
    /// generation.
    pub(crate) fn commit(
        &mut self,
        topic: &str,
        offsets: &BTreeMap<i32, i64>,
    ) -> anyhow::Result<GroupStatus> {
        if offsets.is_empty() {
            return Ok(GroupStatus::Stable);
        }
        let offsets: BTreeMap<TopicPartition, i64> =
            offsets.iter().map(|(&p, &offset)| ((topic.to_string(), p), offset)).collect();
        let refused = commit_offsets(
            &mut self.coordinator,
            &self.group_id,
            self.generation,
            &self.member_id,
            &offsets,
        )?;
        match refused.first() {
            None => Ok(GroupStatus::Stable),
            Some((_, error)) => self.react(*error, "commit").map(|()| GroupStatus::Rejoin),
        }
    }

    /// LeaveGroup, so the group rebalances now. A coordinator that no longer knows the member
    /// is not an error.
    pub(crate) fn leave(&mut self) -> anyhow::Result<()> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let version = self.coordinator.version(LEAVE_GROUP_KEY).unwrap_or(0);
        let member_id = StrBytes::from_string(self.member_id.clone());
        let request = Request::LeaveGroup(LeaveGroupRequest {
            group_id: StrBytes::from_string(self.group_id.clone()),
            member_id: member_id.clone(),
            members: vec![LeaveGroupRequestMember {
                member_id,
                reason: Some(StrBytes::from_static("the console consumer is closing")),
                ..Default::default()
            }],
            ..Default::default()
        });
        let Response::LeaveGroup(response) = self.coordinator.send(request)? else {
            bail!("unexpected response to LeaveGroup");
        };
        self.forget_membership();
        let member_errors = response.members.iter().map(|member| member.error_code);
        let codes: Vec<i16> = if version >= 3 {
            std::iter::once(response.error_code).chain(member_errors).collect()
        } else {
            vec![response.error_code]
        };
        match codes
            .into_iter()
            .find(|&error| error != code::NONE && error != code::UNKNOWN_MEMBER_ID)
        {
            None => Ok(()),
            Some(error) => {
                bail!("cannot leave group '{}': {}", self.group_id, error_text(error, None))
            }
        }
    }

    /// Handles a group error from a heartbeat, commit or SyncGroup: the ones that call for a
    /// rejoin set the member up for it; any other ends the run.
    fn react(&mut self, error: i16, doing: &str) -> anyhow::Result<()> {
        match error {
            code::REBALANCE_IN_PROGRESS | code::ILLEGAL_GENERATION => Ok(()),
            code::UNKNOWN_MEMBER_ID => {
                self.forget_membership();
                Ok(())
            }
            error if coordinator_moved(error) => {
                self.coordinator_lost = true;
                Ok(())
            }
            error => bail!(
                "group '{}' refused the {doing} of member {}: {}",
                self.group_id,
                self.member_id,
                error_text(error, None)
            ),
        }
    }

    fn forget_membership(&mut self) {
        self.member_id.clear();
        self.generation = -1;
    }

    /// Sends `request`, waiting as long as a rebalance may take (the coordinator holds
    /// JoinGroup and SyncGroup answers until the group is ready).
    fn send_rebalance(&mut self, request: Request) -> anyhow::Result<Response> {
        let wait = Duration::from_millis(REBALANCE_TIMEOUT_MS as u64) + Duration::from_secs(5);
        self.coordinator.set_timeout(wait)?;
        let response = self.coordinator.send(request);
        self.coordinator.set_timeout(DEFAULT_TIMEOUT)?;
        response
    }

    fn join_group(&mut self, topics: &[String]) -> anyhow::Result<JoinGroupResponse> {
        let request = Request::JoinGroup(JoinGroupRequest {
            group_id: StrBytes::from_string(self.group_id.clone()),
            session_timeout_ms: SESSION_TIMEOUT_MS,
            rebalance_timeout_ms: REBALANCE_TIMEOUT_MS,
            member_id: StrBytes::from_string(self.member_id.clone()),
            protocol_type: StrBytes::from_static(PROTOCOL_TYPE),
            protocols: vec![JoinGroupRequestProtocol {
                name: StrBytes::from_static(RANGE_ASSIGNOR),
                metadata: encode_subscription(topics),
                ..Default::default()
            }],
            ..Default::default()
        });
        match self.send_rebalance(request)? {
            Response::JoinGroup(response) => Ok(response),
            _ => bail!("unexpected response to JoinGroup"),
        }
    }

    /// The leader's work: everyone's range assignment over the topics they subscribed to.
    fn leader_assignments(
        &mut self,
        cluster: &mut Cluster,
        joined: &JoinGroupResponse,
    ) -> anyhow::Result<Vec<SyncGroupRequestAssignment>> {
        let mut subscriptions = BTreeMap::new();
        for member in &joined.members {
            let topics = decode_subscription(&member.metadata).map_err(|error| {
                anyhow!(
                    "member {} of group '{}' sent a subscription that does not decode: {error}",
                    member.member_id.as_str(),
                    self.group_id
                )
            })?;
            subscriptions.insert(member.member_id.as_str().to_string(), topics);
        }
        let topics: Vec<String> = subscriptions
            .values()
            .flatten()
            .cloned()
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let metadata = cluster.metadata(Some(&topics), false)?;
        let partition_counts: BTreeMap<String, i32> = metadata
            .topics
            .iter()
            .filter(|topic| topic.error_code == code::NONE)
            .filter_map(|topic| {
                let name = topic.name.as_ref()?.as_str().to_string();
                Some((name, i32::try_from(topic.partitions.len()).ok()?))
            })
            .collect();
        Ok(range_assign(&subscriptions, &partition_counts)
            .into_iter()
            .map(|(member_id, assignment)| SyncGroupRequestAssignment {
                member_id: StrBytes::from_string(member_id),
                assignment: encode_assignment(&assignment),
                ..Default::default()
            })
            .collect())
    }

    /// SyncGroup: this member's assignment bytes, or the group error code.
    fn sync_group(
        &mut self,
        assignments: Vec<SyncGroupRequestAssignment>,
    ) -> anyhow::Result<Result<Bytes, i16>> {
        let request = Request::SyncGroup(SyncGroupRequest {
            group_id: StrBytes::from_string(self.group_id.clone()),
            generation_id: self.generation,
            member_id: StrBytes::from_string(self.member_id.clone()),
            protocol_type: Some(StrBytes::from_static(PROTOCOL_TYPE)),
            protocol_name: Some(StrBytes::from_static(RANGE_ASSIGNOR)),
            assignments,
            ..Default::default()
        });
        let Response::SyncGroup(response) = self.send_rebalance(request)? else {
            bail!("unexpected response to SyncGroup");
        };
        Ok(match response.error_code {
            code::NONE => Ok(response.assignment),
            error => Err(error),
        })
    }
}

/// A connection to `group_id`'s coordinator. With a single-broker cluster this is the
/// bootstrap address, so a broker that advertises an address the tool cannot reach still works.
fn connect_coordinator(
    cluster: &mut Cluster,
    group_id: &str,
    client_id: &str,
) -> anyhow::Result<Client> {
    let (_, advertised) = find_coordinator(cluster, group_id)?;
    let brokers = cluster.metadata(Some(&[]), false)?.brokers.len();
    let address = if brokers <= 1 { cluster.bootstrap().address().to_string() } else { advertised };
    Client::connect(&address, client_id)
        .map_err(|error| anyhow!("connecting to the coordinator of group '{group_id}': {error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriptions(members: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        members
            .iter()
            .map(|(member, topics)| {
                (member.to_string(), topics.iter().map(|t| t.to_string()).collect())
            })
            .collect()
    }

    fn counts(topics: &[(&str, i32)]) -> BTreeMap<String, i32> {
        topics.iter().map(|(topic, count)| (topic.to_string(), *count)).collect()
    }

    #[test]
    fn the_range_assignor_matches_kafkas_examples() {
        // Kafka's RangeAssignor doc: two consumers, two topics of three partitions each.
        let assigned = range_assign(
            &subscriptions(&[("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])]),
            &counts(&[("t0", 3), ("t1", 3)]),
        );
        let c0: BTreeMap<String, Vec<i32>> =
            [("t0".to_string(), vec![0, 1]), ("t1".to_string(), vec![0, 1])].into();
        let c1: BTreeMap<String, Vec<i32>> =
            [("t0".to_string(), vec![2]), ("t1".to_string(), vec![2])].into();
        assert_eq!(assigned["C0"], c0);
        assert_eq!(assigned["C1"], c1);
        // More members than partitions: the last ones get nothing, but still an entry.
        let assigned = range_assign(
            &subscriptions(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]),
            &counts(&[("t", 2)]),
        );
        assert_eq!(assigned["a"]["t"], vec![0]);
        assert_eq!(assigned["b"]["t"], vec![1]);
        assert!(assigned["c"].is_empty());
        // Only subscribers of a topic share it; unknown topics are skipped.
        let assigned = range_assign(
            &subscriptions(&[("a", &["t", "u"]), ("b", &["u", "gone"])]),
            &counts(&[("t", 4), ("u", 3)]),
        );
        assert_eq!(assigned["a"]["t"], vec![0, 1, 2, 3]);
        assert_eq!(assigned["a"]["u"], vec![0, 1]);
        assert_eq!(assigned["b"]["u"], vec![2]);
        assert!(!assigned["b"].contains_key("gone"));
    }

    #[test]
    fn consumer_protocol_bytes_round_trip_and_match_kafkas_layout() {
        let topics = vec!["orders".to_string(), "t".to_string()];
        let bytes = encode_subscription(&topics);
        let mut expected = vec![0, 0, 0, 0, 0, 2, 0, 6];
        expected.extend_from_slice(b"orders");
        expected.extend_from_slice(&[0, 1, b't', 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&bytes[..], &expected[..]);
        assert_eq!(decode_subscription(&bytes).unwrap(), topics);
        // A v1 subscription (owned partitions after the user data) still decodes.
        let mut v1 = bytes.to_vec();
        v1[1] = 1;
        v1.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(decode_subscription(&Bytes::from(v1)).unwrap(), topics);

        let assignment: BTreeMap<String, Vec<i32>> =
            [("orders".to_string(), vec![0, 2]), ("t".to_string(), vec![1])].into();
        let bytes = encode_assignment(&assignment);
        assert_eq!(&bytes[..8], &[0, 0, 0, 0, 0, 2, 0, 6]);
        assert_eq!(decode_assignment(&bytes).unwrap(), assignment);
        assert!(decode_assignment(&Bytes::new()).unwrap().is_empty());
        // Truncated or lying bytes are errors, not panics or huge allocations.
        assert!(decode_assignment(&bytes.slice(..bytes.len() - 7)).is_err());
        let lying = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(decode_assignment(&lying).is_err());
        assert!(decode_subscription(&Bytes::from_static(&[0])).is_err());
    }
}

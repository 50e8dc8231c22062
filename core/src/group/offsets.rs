//! Committed offsets and group administration: OffsetCommit, OffsetFetch, OffsetDelete,
//! ListGroups, DescribeGroups, DeleteGroups, and rebuilding state from `__consumer_offsets`.

use super::records::{self, GroupValue, OffsetValue, RecordError, RecordKey};
use super::{error, fits_record, Group, GroupCoordinator, GroupState, Member};
use crate::limits::{GROUPS_MAX, GROUP_MEMBERS_MAX, OFFSETS_PER_GROUP_MAX};
use crate::protocol::api::delete_groups::{
    DeleteGroupsRequest, DeleteGroupsResponse, DeleteGroupsResponseResult,
};
use crate::protocol::api::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribeGroupsResponseGroup,
    DescribeGroupsResponseMember,
};
use crate::protocol::api::list_groups::{
    ListGroupsRequest, ListGroupsResponse, ListGroupsResponseGroup,
};
use crate::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
};
use crate::protocol::api::offset_delete::{
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetDeleteResponsePartition,
    OffsetDeleteResponseTopic,
};
use crate::protocol::api::offset_fetch::{
    OffsetFetchRequest, OffsetFetchResponse, OffsetFetchResponseGroup,
    OffsetFetchResponseGroupPartition, OffsetFetchResponseGroupTopic, OffsetFetchResponsePartition,
    OffsetFetchResponseTopic,
};
use crate::protocol::wire::StrBytes;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// A committed offset as OffsetFetch reports it: (offset, leader epoch, metadata, error).
type Fetched = (i64, i32, Option<StrBytes>, i16);

impl<R: Clone> GroupCoordinator<R> {
    /// Whether a commit may proceed, as Kafka decides it for classic groups: a commit with
    /// generation < 0 into an Empty (or absent) group is a standalone commit; otherwise the
    /// member and generation must be current.
    fn commit_error(&self, body: &OffsetCommitRequest) -> i16 {
        let group_id = body.group_id.as_str();
        let member_id = body.member_id.as_str();
        let generation = body.generation_id_or_member_epoch;
        if group_id.is_empty() || !fits_record(group_id) {
            return error::INVALID_GROUP_ID;
        }
        let instance = body.group_instance_id.as_ref().map(StrBytes::as_str);
        let Some(group) = self.groups.get(group_id) else {
            if generation >= 0 {
                return error::ILLEGAL_GENERATION;
            }
            if !self.has_room_for_group() {
                return error::POLICY_VIOLATION;
            }
            return error::NONE;
        };
        if group.state == GroupState::Dead {
            error::COORDINATOR_NOT_AVAILABLE
        } else if group.is_fenced(member_id, instance) {
            error::FENCED_INSTANCE_ID
        } else if generation < 0 && group.state == GroupState::Empty {
            error::NONE
        } else if matches!(group.state, GroupState::CompletingRebalance { .. }) {
            error::REBALANCE_IN_PROGRESS
        } else if !group.members.contains_key(member_id) {
            error::UNKNOWN_MEMBER_ID
        } else if generation != group.generation {
            error::ILLEGAL_GENERATION
        } else {
            error::NONE
        }
    }

    /// OffsetCommit v0–v9. Each accepted partition's record comes out of `poll_record`; the
    /// response must wait until those records are durable. `wall_ms` stamps the commit.
    pub fn offset_commit(
        &mut self,
        now: u64,
        wall_ms: i64,
        body: &OffsetCommitRequest,
    ) -> OffsetCommitResponse {
        self.advance(now);
        let group_error = self.commit_error(body);
        let group_id = body.group_id.as_str();
        if group_error == error::NONE && !self.groups.contains_key(group_id) {
            self.groups
                .insert(group_id.to_owned(), Group::new(group_id, Some(self.outbox.wall_ms)));
        }
        let metadata_max = self.config.offset_metadata_max_bytes;
        let Self { groups, outbox, .. } = self;
        let mut topics = Vec::with_capacity(body.topics.len());
        for topic in &body.topics {
            let name = topic.name.as_str();
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for partition in &topic.partitions {
                let metadata = partition.committed_metadata.as_ref().map(StrBytes::as_str);
                let metadata = metadata.unwrap_or("");
                let code = if group_error != error::NONE {
                    group_error
                } else if name.is_empty() || !fits_record(name) {
                    error::INVALID_TOPIC_EXCEPTION
                } else if metadata.len() > metadata_max {
                    error::OFFSET_METADATA_TOO_LARGE
                } else {
                    let group = groups.get_mut(group_id).expect("created above");
                    let key = (name.to_owned(), partition.partition_index);
                    if !group.offsets.contains_key(&key)
                        && group.offsets.len() >= OFFSETS_PER_GROUP_MAX
                    {
                        error::POLICY_VIOLATION
                    } else {
                        let timestamp_ms = if partition.commit_timestamp >= 0 {
                            partition.commit_timestamp
                        } else {
                            wall_ms
                        };
                        let value = OffsetValue {
                            offset: partition.committed_offset,
                            leader_epoch: partition.committed_leader_epoch,
                            metadata: metadata.to_owned(),
                            commit_timestamp_ms: timestamp_ms,
                        };
                        let record_key = records::encode_offset_key(group_id, &key.0, key.1);
                        let record_value = records::encode_offset_value(&value);
                        outbox.record(group_id, record_key, Some(record_value));
                        group.offsets.insert(key, value);
                        error::NONE
                    }
                };
                partitions.push(OffsetCommitResponsePartition {
                    partition_index: partition.partition_index,
                    error_code: code,
                    ..Default::default()
                });
            }
            topics.push(OffsetCommitResponseTopic {
                name: topic.name.clone(),
                partitions,
                ..Default::default()
            });
        }
        if group_error == error::NONE {
            // A commit from a current member counts as a heartbeat, as in Kafka.
            let member_id = body.member_id.as_str();
            let group = groups.get_mut(group_id).expect("created above");
            if let Some(member) = group.members.get_mut(member_id) {
                member.touch(now);
            }
        }
        OffsetCommitResponse { topics, ..Default::default() }
    }

    /// One group's committed offsets for `wanted` (topic → partitions), or all when `None`.
    fn fetch_offsets(
        &self,
        group_id: &str,
        wanted: Option<Vec<(StrBytes, Vec<i32>)>>,
    ) -> Vec<(StrBytes, Vec<(i32, Fetched)>)> {
        let group = self.live_group(group_id);
        let lookup = |topic: &str, partition: i32| -> Fetched {
            let stored = group.and_then(|g| g.offsets.get(&(topic.to_owned(), partition)));
            match stored {
                Some(value) => (
                    value.offset,
                    value.leader_epoch,
                    Some(StrBytes::from_string(value.metadata.clone())),
                    error::NONE,
                ),
                None => (-1, -1, Some(StrBytes::from_static("")), error::NONE),
            }
        };
        match wanted {
            Some(topics) => topics
                .into_iter()
                .map(|(name, partitions)| {
                    let found = partitions.iter().map(|&p| (p, lookup(name.as_str(), p))).collect();
                    (name, found)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<&str, Vec<(i32, Fetched)>> = BTreeMap::new();
                for (topic, partition) in group.map(|g| g.offsets.keys()).into_iter().flatten() {
                    let entry = by_topic.entry(topic.as_str()).or_default();
                    entry.push((*partition, lookup(topic, *partition)));
                }
                let topics = by_topic.into_iter();
                topics
                    .map(|(name, found)| (StrBytes::from_string(name.to_owned()), found))
                    .collect()
            }
        }
    }

    /// OffsetFetch v0–v9: one group (v0–v7) or many (v8+). Partitions without a commit answer
    /// offset -1, as Kafka does.
    pub fn offset_fetch(
        &mut self,
        now: u64,
        version: i16,
        body: &OffsetFetchRequest,
    ) -> OffsetFetchResponse {
        self.advance(now);
        if version < 8 {
            let wanted = body.topics.as_ref().map(|topics| {
                let topics = topics.iter();
                topics.map(|t| (t.name.clone(), t.partition_indexes.clone())).collect()
            });
            let topics = self
                .fetch_offsets(body.group_id.as_str(), wanted)
                .into_iter()
                .map(|(name, found)| OffsetFetchResponseTopic {
                    name,
                    partitions: found
                        .into_iter()
                        .map(|(partition_index, (offset, epoch, metadata, code))| {
                            OffsetFetchResponsePartition {
                                partition_index,
                                committed_offset: offset,
                                committed_leader_epoch: epoch,
                                metadata,
                                error_code: code,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            return OffsetFetchResponse { topics, ..Default::default() };
        }
        let mut groups = Vec::with_capacity(body.groups.len());
        for asked in &body.groups {
            let wanted = asked.topics.as_ref().map(|topics| {
                let topics = topics.iter();
                topics.map(|t| (t.name.clone(), t.partition_indexes.clone())).collect()
            });
            let topics = self
                .fetch_offsets(asked.group_id.as_str(), wanted)
                .into_iter()
                .map(|(name, found)| OffsetFetchResponseGroupTopic {
                    name,
                    partitions: found
                        .into_iter()
                        .map(|(partition_index, (offset, epoch, metadata, code))| {
                            OffsetFetchResponseGroupPartition {
                                partition_index,
                                committed_offset: offset,
                                committed_leader_epoch: epoch,
                                metadata,
                                error_code: code,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            groups.push(OffsetFetchResponseGroup {
                group_id: asked.group_id.clone(),
                topics,
                error_code: error::NONE,
                ..Default::default()
            });
        }
        OffsetFetchResponse { groups, ..Default::default() }
    }

    /// ListGroups v0–v5, filtered by state (v4+) and type (v5+; every group here is "classic").
    pub fn list_groups(&self, body: &ListGroupsRequest) -> ListGroupsResponse {
        let state_wanted = |state: &str| {
            body.states_filter.is_empty()
                || body.states_filter.iter().any(|s| s.as_str().eq_ignore_ascii_case(state))
        };
        let type_wanted = body.types_filter.is_empty()
            || body.types_filter.iter().any(|t| t.as_str().eq_ignore_ascii_case("classic"));
        let groups = self
            .groups
            .values()
            .filter(|group| group.state != GroupState::Dead)
            .filter(|group| type_wanted && state_wanted(group.state.name()))
            .map(|group| ListGroupsResponseGroup {
                group_id: StrBytes::from_string(group.group_id.clone()),
                protocol_type: StrBytes::from_string(
                    group.protocol_type.clone().unwrap_or_default(),
                ),
                group_state: StrBytes::from_static(group.state.name()),
                group_type: StrBytes::from_static("classic"),
                ..Default::default()
            })
            .collect();
        ListGroupsResponse { groups, ..Default::default() }
    }

    /// DescribeGroups v0–v5 (and v6+: an unknown group is GROUP_ID_NOT_FOUND). Member metadata
    /// and assignments are shown only for Stable groups, as Kafka does.
    pub fn describe_groups(
        &self,
        version: i16,
        body: &DescribeGroupsRequest,
    ) -> DescribeGroupsResponse {
        let groups = body.groups.iter().map(|group_id| self.describe_one(version, group_id));
        DescribeGroupsResponse { groups: groups.collect(), ..Default::default() }
    }

    fn describe_one(&self, version: i16, group_id: &StrBytes) -> DescribeGroupsResponseGroup {
        let Some(group) = self.live_group(group_id.as_str()) else {
            let (code, message) = if version >= 6 {
                let text = format!("Group {group_id} not found.");
                (error::GROUP_ID_NOT_FOUND, Some(StrBytes::from_string(text)))
            } else {
                (error::NONE, None)
            };
            return DescribeGroupsResponseGroup {
                error_code: code,
                error_message: message,
                group_id: group_id.clone(),
                group_state: StrBytes::from_static("Dead"),
                ..Default::default()
            };
        };
        let stable = group.state == GroupState::Stable;
        let protocol =
            if stable { group.protocol_name.clone().unwrap_or_default() } else { String::new() };
        let describe_member = |member: &Member<R>| DescribeGroupsResponseMember {
            member_id: StrBytes::from_string(member.member_id.clone()),
            group_instance_id: member.group_instance_id.clone().map(StrBytes::from_string),
            client_id: StrBytes::from_string(member.client_id.clone()),
            client_host: StrBytes::from_string(member.client_host.clone()),
            member_metadata: if stable { member.metadata_for(&protocol) } else { Bytes::new() },
            member_assignment: if stable { member.assignment.clone() } else { Bytes::new() },
            ..Default::default()
        };
        let members = group.members.values().map(describe_member).collect();
        DescribeGroupsResponseGroup {
            error_code: error::NONE,
            group_id: group_id.clone(),
            group_state: StrBytes::from_static(group.state.name()),
            protocol_type: StrBytes::from_string(group.protocol_type.clone().unwrap_or_default()),
            protocol_data: StrBytes::from_string(protocol),
            members,
            ..Default::default()
        }
    }

    /// DeleteGroups v0–v2: only Empty groups (NON_EMPTY_GROUP otherwise). Tombstones for the
    /// group and each of its offsets come out of `poll_record`.
    pub fn delete_groups(&mut self, now: u64, body: &DeleteGroupsRequest) -> DeleteGroupsResponse {
        self.advance(now);
        let mut results = Vec::with_capacity(body.groups_names.len());
        for group_id in &body.groups_names {
            let code = self.delete_one(group_id.as_str());
            results.push(DeleteGroupsResponseResult {
                group_id: group_id.clone(),
                error_code: code,
                ..Default::default()
            });
        }
        DeleteGroupsResponse { results, ..Default::default() }
    }

    fn delete_one(&mut self, group_id: &str) -> i16 {
        if group_id.is_empty() {
            return error::INVALID_GROUP_ID;
        }
        let Some(group) = self.groups.get_mut(group_id) else {
            return error::GROUP_ID_NOT_FOUND;
        };
        match group.state {
            GroupState::Dead => return error::GROUP_ID_NOT_FOUND,
            GroupState::Empty => {}
            _ => return error::NON_EMPTY_GROUP,
        }
        assert!(group.members.is_empty());
        group.transition(GroupState::Dead, self.outbox.wall_ms);
        for (topic, partition) in group.offsets.keys() {
            let key = records::encode_offset_key(group_id, topic, *partition);
            self.outbox.record(group_id, key, None);
        }
        self.outbox.record(group_id, records::encode_group_key(group_id), None);
        self.groups.remove(group_id);
        error::NONE
    }

    /// OffsetDelete v0: deletes offsets unless the group is subscribed to the topic
    /// (GROUP_SUBSCRIBED_TO_TOPIC); a non-consumer group must be Empty (NON_EMPTY_GROUP).
    pub fn offset_delete(&mut self, now: u64, body: &OffsetDeleteRequest) -> OffsetDeleteResponse {
        self.advance(now);
        let group_id = body.group_id.as_str();
        let refuse = |code: i16| OffsetDeleteResponse { error_code: code, ..Default::default() };
        let Some(group) = self.groups.get_mut(group_id).filter(|g| g.state != GroupState::Dead)
        else {
            return refuse(error::GROUP_ID_NOT_FOUND);
        };
        let subscribed = subscribed_topics(group);
        if group.state != GroupState::Empty && subscribed.is_none() {
            return refuse(error::NON_EMPTY_GROUP);
        }
        let mut topics = Vec::with_capacity(body.topics.len());
        for topic in &body.topics {
            let name = topic.name.as_str();
            let in_use = subscribed.as_ref().is_some_and(|s| s.iter().any(|t| t == name));
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for partition in &topic.partitions {
                let index = partition.partition_index;
                let code = if in_use {
                    error::GROUP_SUBSCRIBED_TO_TOPIC
                } else {
                    if group.offsets.remove(&(name.to_owned(), index)).is_some() {
                        let key = records::encode_offset_key(group_id, name, index);
                        self.outbox.record(group_id, key, None);
                    }
                    error::NONE
                };
                partitions.push(OffsetDeleteResponsePartition {
                    partition_index: index,
                    error_code: code,
                    ..Default::default()
                });
            }
            topics.push(OffsetDeleteResponseTopic {
                name: topic.name.clone(),
                partitions,
                ..Default::default()
            });
        }
        OffsetDeleteResponse { error_code: error::NONE, topics, ..Default::default() }
    }

    /// Rebuilds state from one `__consumer_offsets` record (value `None`: a tombstone). Feed
    /// every record in offset order, then call [`Self::load_complete`].
    pub fn replay(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), RecordError> {
        match records::decode_key(key)? {
            RecordKey::Offset { group, topic, partition } => {
                let Some(value) = value else {
                    if let Some(held) = self.groups.get_mut(&group) {
                        held.offsets.remove(&(topic, partition));
                        self.forget_if_unused(&group);
                    }
                    return Ok(());
                };
                let value = records::decode_offset_value(value)?;
                let held = self.replayed_group(&group)?;
                let slot = (topic, partition);
                if !held.offsets.contains_key(&slot) && held.offsets.len() >= OFFSETS_PER_GROUP_MAX
                {
                    return Err(RecordError::TooMany);
                }
                held.offsets.insert(slot, value);
            }
            RecordKey::Group { group } => match value {
                None => {
                    if let Some(held) = self.groups.get_mut(&group) {
                        let offsets = std::mem::take(&mut held.offsets);
                        *held = Group::new(&group, None);
                        held.offsets = offsets;
                        self.forget_if_unused(&group);
                    }
                }
                Some(value) => {
                    let value = records::decode_group_value(value)?;
                    if value.members.len() > GROUP_MEMBERS_MAX {
                        return Err(RecordError::TooMany);
                    }
                    let now = self.now;
                    let held = self.replayed_group(&group)?;
                    restore_group(held, value, now);
                }
            },
        }
        Ok(())
    }

    /// Begins reloading `partition` of `__consumer_offsets` after a store there failed:
    /// forgets the committed offsets of its groups, keeping their membership (generations
    /// never go back while the coordinator lives). Feed the partition's records to
    /// [`Self::replay_reload`], then call [`Self::partition_reloaded`]. Returns the groups
    /// kept.
    pub fn clear_partition_offsets(&mut self, now: u64, partition: i32) -> BTreeSet<String> {
        self.advance(now);
        let partitions = self.config.offsets_topic_partitions;
        let mut kept = BTreeSet::new();
        for (group_id, group) in &mut self.groups {
            if records::coordinator_partition(group_id, partitions) == partition {
                group.offsets.clear();
                kept.insert(group_id.clone());
            }
        }
        kept
    }

    /// One record of a reload: an offset (or its tombstone) applies as in [`Self::replay`]; a
    /// group record only to a group not `kept`, one memory had dropped while the log still
    /// holds it (a deletion whose tombstones the log refused).
    pub fn replay_reload(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        kept: &BTreeSet<String>,
    ) -> Result<(), RecordError> {
        if let RecordKey::Group { group } = records::decode_key(key)? {
            if kept.contains(&group) {
                return Ok(());
            }
        }
        self.replay(key, value)
    }

    /// Ends a reload of `partition`: groups it brought back start their members' sessions at
    /// `now`; kept groups that hold nothing any more are dropped.
    pub fn partition_reloaded(&mut self, now: u64, partition: i32, kept: &BTreeSet<String>) {
        self.advance(now);
        let partitions = self.config.offsets_topic_partitions;
        for (group_id, group) in &mut self.groups {
            if records::coordinator_partition(group_id, partitions) == partition
                && !kept.contains(group_id)
            {
                for member in group.members.values_mut() {
                    member.touch(now);
                }
            }
        }
        for group_id in kept {
            self.forget_if_unused(group_id);
        }
    }

    /// Ends a replay: every loaded member's session starts at `now`, as after a heartbeat.
    pub fn load_complete(&mut self, now: u64) {
        self.advance(now);
        for group in self.groups.values_mut() {
            for member in group.members.values_mut() {
                member.touch(now);
            }
        }
    }

    fn replayed_group(&mut self, group_id: &str) -> Result<&mut Group<R>, RecordError> {
        if !self.groups.contains_key(group_id) {
            if self.groups.len() >= GROUPS_MAX {
                return Err(RecordError::TooMany);
            }
            self.groups.insert(group_id.to_owned(), Group::new(group_id, None));
        }
        Ok(self.groups.get_mut(group_id).expect("inserted above"))
    }

    /// Drops a replayed group that holds nothing (no members, no offsets, generation 0).
    /// Expires committed offsets past `offsets.retention.minutes`, as Kafka does (KIP-211):
    /// a consumer group's offsets once it has been Empty that long, by `wall_ms` (the
    /// node's deletion clock) against the time it emptied, which its record keeps through
    /// restarts (a group loaded without that time counts from the first check here that
    /// sees it Empty); offsets of a group that never had members (commits from standalone
    /// consumers) that long after their commit (`wall_ms` against the commit timestamp). A
    /// group left Empty with no offsets is deleted (also one that never committed).
    /// Tombstones come out of `poll_record`. Returns how many offsets expired.
    pub fn expire_offsets(&mut self, now: u64, wall_ms: i64) -> usize {
        self.advance(now);
        let retention_ms = self.config.offsets_retention_ms;
        let mut expired = 0;
        let mut emptied = Vec::new();
        let Self { groups, outbox, .. } = self;
        for (group_id, group) in groups.iter_mut() {
            if group.state != GroupState::Empty {
                group.empty_since = None;
                continue;
            }
            // Generation 0: never had a membership (commits from standalone consumers).
            let standalone = group.generation == 0;
            let group_expired = match group.state_since_wall_ms {
                Some(since) => wall_ms.saturating_sub(since) >= retention_ms.max(0),
                None => {
                    let empty_since = *group.empty_since.get_or_insert(now);
                    now.saturating_sub(empty_since) >= retention_ms.max(0) as u64
                }
            };
            let before = group.offsets.len();
            group.offsets.retain(|(topic, partition), value| {
                let keep = if standalone {
                    value.commit_timestamp_ms.saturating_add(retention_ms) > wall_ms
                } else {
                    !group_expired
                };
                if !keep {
                    outbox.record(
                        group_id,
                        records::encode_offset_key(group_id, topic, *partition),
                        None,
                    );
                }
                keep
            });
            expired += before - group.offsets.len();
            if group.offsets.is_empty() {
                // As Kafka: an Empty group without offsets has nothing left to keep.
                emptied.push(group_id.clone());
            }
        }
        for group_id in emptied {
            let group = self.groups.get_mut(&group_id).expect("listed above");
            group.transition(GroupState::Dead, self.outbox.wall_ms);
            self.outbox.record(&group_id, records::encode_group_key(&group_id), None);
            self.groups.remove(&group_id);
        }
        expired
    }

    /// The topics any group has committed offsets of.
    pub fn committed_topics(&self) -> std::collections::BTreeSet<String> {
        self.groups
            .values()
            .flat_map(|group| group.offsets.keys().map(|(topic, _)| topic.clone()))
            .collect()
    }

    /// Forgets every group's committed offsets of `topic`, which was deleted, as Kafka's
    /// coordinator does when partitions go (tombstones come out of `poll_record`): a topic
    /// made again with the name starts with no committed position. Returns how many.
    pub fn forget_topic_offsets(&mut self, now: u64, topic: &str) -> usize {
        self.advance(now);
        let mut forgotten = 0;
        let Self { groups, outbox, .. } = self;
        for (group_id, group) in groups.iter_mut() {
            group.offsets.retain(|(committed, partition), _| {
                if committed != topic {
                    return true;
                }
                outbox.record(
                    group_id,
                    records::encode_offset_key(group_id, topic, *partition),
                    None,
                );
                forgotten += 1;
                false
            });
        }
        forgotten
    }

    fn forget_if_unused(&mut self, group_id: &str) {
        let unused = self.groups.get(group_id).is_some_and(|group| {
            group.members.is_empty() && group.offsets.is_empty() && group.generation == 0
        });
        if unused {
            self.groups.remove(group_id);
        }
    }
}

/// The topics a group's members subscribe to, when its protocol type is "consumer" and every
/// subscription parses; `None` otherwise.
fn subscribed_topics<R>(group: &Group<R>) -> Option<Vec<String>> {
    if group.protocol_type.as_deref() != Some("consumer") {
        return None;
    }
    let protocol = group.protocol_name.as_deref()?;
    let mut topics = Vec::new();
    for member in group.members.values() {
        topics.extend(records::subscribed_topics(&member.metadata_for(protocol))?);
    }
    Some(topics)
}

/// Replaces a group's membership with a stored group metadata value: Stable with members,
/// Empty without (Kafka's load).
fn restore_group<R: Clone>(group: &mut Group<R>, value: GroupValue, now: u64) {
    group.generation = value.generation;
    group.protocol_type = Some(value.protocol_type).filter(|t| !t.is_empty());
    group.protocol_name = value.protocol.clone();
    group.members.clear();
    group.static_members.clear();
    group.pending_members.clear();
    // Members only make sense with a protocol type and a selected protocol; a record without
    // them (or with duplicate ids) loads what it can rather than an inconsistent group.
    let has_protocol = group.protocol_type.is_some() && value.protocol.is_some();
    let protocol = value.protocol.unwrap_or_default();
    for stored in value.members.into_iter().filter(|_| has_protocol) {
        let duplicate_instance = stored
            .group_instance_id
            .as_ref()
            .is_some_and(|instance| group.static_members.contains_key(instance));
        if duplicate_instance || group.members.contains_key(&stored.member_id) {
            continue;
        }
        let mut member = Member {
            member_id: stored.member_id.clone(),
            group_instance_id: stored.group_instance_id.clone(),
            client_id: stored.client_id,
            client_host: stored.client_host,
            session_timeout_ms: stored.session_timeout_ms.max(1),
            rebalance_timeout_ms: stored.rebalance_timeout_ms,
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocols: vec![(protocol.clone(), stored.subscription)],
            assignment: stored.assignment,
            awaiting_join: None,
            awaiting_sync: None,
            session_deadline: 0,
        };
        member.touch(now);
        if let Some(instance) = stored.group_instance_id {
            group.static_members.insert(instance, stored.member_id.clone());
        }
        group.members.insert(stored.member_id, member);
    }
    let leader_known = value.leader.as_ref().is_some_and(|id| group.members.contains_key(id));
    group.leader = if leader_known { value.leader } else { group.members.keys().next().cloned() };
    // Loading is not a transition: the group is rebuilt as it was stored, with the time of
    // its last state change (retention counts from it, as in Kafka).
    group.state = if group.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
    let stamp = Some(value.current_state_timestamp_ms).filter(|&stamp| stamp >= 0);
    group.state_since_wall_ms = stamp.filter(|_| group.state == GroupState::Empty);
    group.empty_since = None;
    assert_eq!(group.leader.is_some(), !group.members.is_empty());
}

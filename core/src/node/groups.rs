//! Consumer groups in the Node: the coordinator (crate::group) decides; this file stores its
//! records in `__consumer_offsets`, answers only once they are durable (an acknowledged offset
//! commit is never lost), rebuilds it from that topic on start, and drives its timers.

use super::{LogLevel, Node, Reply, RequestRef, LEADER_EPOCH};
use crate::group::error::GROUP_ID_NOT_FOUND;
use crate::group::records::{self, RecordKey};
use crate::group::{GroupResponse, JoinContext, OffsetsRecord};
use crate::limits::{BATCH_HEADER_BYTES, READ_BYTES_MAX};
use crate::log::TopicPartition;
use crate::protocol::api::delete_groups::DeleteGroupsResponseResult;
use crate::protocol::api::describe_groups::DescribeGroupsResponseGroup;
use crate::protocol::api::find_coordinator::{
    FindCoordinatorRequest, FindCoordinatorResponse, FindCoordinatorResponseCoordinator,
};
use crate::protocol::api::heartbeat::HeartbeatResponse;
use crate::protocol::api::join_group::JoinGroupResponse;
use crate::protocol::api::leave_group::LeaveGroupResponse;
use crate::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
};
use crate::protocol::api::offset_delete::OffsetDeleteResponse;
use crate::protocol::api::offset_fetch::{
    OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use crate::protocol::api::sync_group::SyncGroupResponse;
use crate::protocol::api::{Request, Response};
use crate::protocol::record_batch::{
    self, build_batch, BatchHeader, BatchOptions, NewRecord, Records,
};
use crate::protocol::wire::StrBytes;
use crate::protocol::ErrorCode;
use crate::storage::Storage;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// The internal topic holding committed offsets and group metadata.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Who is waiting for a group answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct GroupWaiter {
    pub(crate) request: RequestRef,
    pub(crate) correlation_id: i32,
    pub(crate) version: i16,
}

/// Answers held until the records appended with them are durable.
pub(crate) struct PendingDurable {
    pub(crate) answers: Vec<(GroupWaiter, Response)>,
    pub(crate) waits: Vec<(TopicPartition, i64)>,
    /// Storing some of the records failed: the answers' successes become errors.
    pub(crate) failed: bool,
    /// Groups whose metadata record this flush appended: if syncing it fails, their
    /// assignment is void (see `GroupCoordinator::store_failed`). (A failed append voids it
    /// at once.)
    pub(crate) stored_groups: Vec<String>,
}

impl<S: Storage> Node<S> {
    /// Creates `__consumer_offsets` (compacted) the first time a group needs it.
    pub(super) fn ensure_offsets_topic(&mut self) -> Result<(), ErrorCode> {
        if self.topics.get(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let mut config = self.config.topic_defaults.clone();
        config.set("cleanup.policy", "compact").expect("a valid policy");
        let segment_bytes = self.groups.config().offsets_topic_segment_bytes.to_string();
        config.set("segment.bytes", &segment_bytes).expect("checked when configured");
        let partitions = self.groups.config().offsets_topic_partitions;
        // All or nothing: an offsets topic kept in memory but missing from the registry would
        // come back after a restart as a plain topic (not compacted, with retention).
        self.install_topic(OFFSETS_TOPIC, partitions, config).map_err(|(code, _)| code)
    }

    /// Feeds every stored group record to the coordinator, in offset order (on start).
    pub(super) fn replay_groups(&mut self) -> Result<(), String> {
        let Some(topic) = self.topics.get(OFFSETS_TOPIC) else { return Ok(()) };
        for index in 0..topic.partitions {
            self.replay_partition(index, None)?;
        }
        self.groups.load_complete(self.now);
        // Offsets of a topic that no longer exists are what a deletion whose tombstones could
        // not be stored left: forgotten now (commits for unknown topics are refused).
        let gone: Vec<String> = self
            .groups
            .committed_topics()
            .into_iter()
            .filter(|topic| self.topics.get(topic).is_none())
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        for topic in gone {
            let message = format!("forgetting the committed offsets of deleted topic {topic}");
            self.log(LogLevel::Info, message);
            self.forget_deleted_topic_offsets(&topic);
        }
        Ok(())
    }

    /// After group records failed to be stored in `partition`: `groups`, whose records were
    /// refused, lose their generation, and the coordinator loads the partition's committed
    /// offsets (and groups it had dropped) again from what the log holds, so that it never
    /// answers from a commit or deletion the log refused (one a restart would undo). An
    /// offline log (a failed fsync) cannot be read: its groups are refused until a restart
    /// instead (see `group_offline`).
    fn reload_offsets_partition(&mut self, partition: i32, groups: &[String]) {
        for group in groups {
            self.groups.store_failed(self.now, group);
        }
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        if self.logs.log(&tp).is_none_or(|log| log.offline_reason().is_some()) {
            return;
        }
        // Kept whole, in case the log cannot be read after all.
        let before = self.groups.clone();
        let kept = self.groups.clear_partition_offsets(self.now, partition);
        match self.replay_partition(partition, Some(&kept)) {
            Ok(()) => {
                self.groups.partition_reloaded(self.now, partition, &kept);
                self.offsets_reloads += 1;
                let message = format!("{tp}: committed offsets loaded again from the log");
                self.log(LogLevel::Warn, message);
            }
            Err(error) => {
                self.groups = before;
                self.log(LogLevel::Error, format!("{tp}: cannot load groups again: {error}"));
            }
        }
    }

    /// Feeds every record of `__consumer_offsets` partition `index` to the coordinator, in
    /// offset order; when reloading, `kept` are the groups memory still holds (see
    /// `GroupCoordinator::replay_reload`).
    fn replay_partition(
        &mut self,
        index: i32,
        kept: Option<&BTreeSet<String>>,
    ) -> Result<(), String> {
        let partition = TopicPartition::new(OFFSETS_TOPIC, index);
        let Some(log) = self.logs.log_mut(&partition) else { return Ok(()) };
        let mut offset = log.log_start_offset();
        loop {
            let end = log.log_end_offset();
            let read = log
                .read(&mut self.storage, offset, READ_BYTES_MAX, end)
                .map_err(|error| error.to_string())?;
            if read.bytes.is_empty() {
                break;
            }
            let mut at = 0;
            while at < read.bytes.len() {
                let header =
                    BatchHeader::parse(&read.bytes[at..]).map_err(|error| error.to_string())?;
                let end_at = at + header.size_bytes();
                let records =
                    record_batch::records_section(&header, &read.bytes[at..end_at], READ_BYTES_MAX)
                        .map_err(|error| error.to_string())?;
                for record in Records::new(&header, &records) {
                    let record = record.map_err(|error| error.to_string())?;
                    if let Some(key) = record.key {
                        let replayed = match kept {
                            Some(kept) => self.groups.replay_reload(key, record.value, kept),
                            None => self.groups.replay(key, record.value),
                        };
                        if let Err(error) = replayed {
                            self.outputs.push_back(super::Output::Log {
                                level: LogLevel::Warn,
                                message: format!("{partition}: skipping a group record: {error:?}"),
                            });
                        }
                    }
                }
                offset = header.next_offset();
                at = end_at;
            }
        }
        Ok(())
    }

    /// Whether `group_id`'s `__consumer_offsets` partition is offline (an fsync failed): its
    /// groups in memory may hold changes the log never made durable, which a restart undoes,
    /// so they are not answered from until then. Kafka likewise unloads such a partition's
    /// groups and answers NOT_COORDINATOR. So too while the topic does not exist (it could
    /// not be made, the disk being full, say): nothing about a group could be stored.
    fn group_offline(&self, group_id: &str) -> bool {
        if self.topics.get(OFFSETS_TOPIC).is_none() {
            return true;
        }
        let partition = TopicPartition::new(OFFSETS_TOPIC, self.groups.partition_for(group_id));
        self.logs.log(&partition).is_none_or(|log| log.offline_reason().is_some())
    }

    /// The NOT_COORDINATOR answer to a request about one group whose partition is offline.
    /// (Requests about several groups are answered group by group by `handle_group`.)
    fn refuse_offline_group(&self, body: &Request) -> Option<Response> {
        let code = ErrorCode::NotCoordinator.code();
        let group_id = match body {
            Request::JoinGroup(body) => &body.group_id,
            Request::SyncGroup(body) => &body.group_id,
            Request::Heartbeat(body) => &body.group_id,
            Request::LeaveGroup(body) => &body.group_id,
            Request::OffsetCommit(body) => &body.group_id,
            Request::OffsetDelete(body) => &body.group_id,
            // v0–7 name one group; v8+ are answered group by group.
            Request::OffsetFetch(body) if body.groups.is_empty() => &body.group_id,
            _ => return None,
        };
        if !self.group_offline(group_id.as_str()) {
            return None;
        }
        Some(match body {
            Request::JoinGroup(body) => Response::JoinGroup(JoinGroupResponse {
                error_code: code,
                member_id: body.member_id.clone(),
                ..Default::default()
            }),
            Request::SyncGroup(_) => {
                Response::SyncGroup(SyncGroupResponse { error_code: code, ..Default::default() })
            }
            Request::Heartbeat(_) => {
                Response::Heartbeat(HeartbeatResponse { error_code: code, ..Default::default() })
            }
            Request::LeaveGroup(_) => {
                Response::LeaveGroup(LeaveGroupResponse { error_code: code, ..Default::default() })
            }
            Request::OffsetCommit(body) => {
                let topics = body
                    .topics
                    .iter()
                    .map(|topic| OffsetCommitResponseTopic {
                        name: topic.name.clone(),
                        partitions: topic
                            .partitions
                            .iter()
                            .map(|partition| OffsetCommitResponsePartition {
                                partition_index: partition.partition_index,
                                error_code: code,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect();
                Response::OffsetCommit(OffsetCommitResponse { topics, ..Default::default() })
            }
            Request::OffsetDelete(_) => Response::OffsetDelete(OffsetDeleteResponse {
                error_code: code,
                ..Default::default()
            }),
            Request::OffsetFetch(body) => {
                // v2+ carry the group's error; v0–1 only the partitions'.
                let topics = body
                    .topics
                    .iter()
                    .flatten()
                    .map(|topic| OffsetFetchResponseTopic {
                        name: topic.name.clone(),
                        partitions: topic
                            .partition_indexes
                            .iter()
                            .map(|&partition_index| OffsetFetchResponsePartition {
                                partition_index,
                                committed_offset: -1,
                                error_code: code,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect();
                Response::OffsetFetch(OffsetFetchResponse {
                    error_code: code,
                    topics,
                    ..Default::default()
                })
            }
            _ => unreachable!("only the requests matched above name a group"),
        })
    }

    fn find_coordinator(
        &self,
        version: i16,
        request: FindCoordinatorRequest,
    ) -> FindCoordinatorResponse {
        let host = StrBytes::from_string(self.config.advertised_host.clone());
        let port = i32::from(self.config.advertised_port);
        // Key type 1 is a transactional id: no transaction coordinator exists yet. A group
        // whose partition is offline has no coordinator until the broker restarts.
        let error_for = |key: &str| {
            if request.key_type == 0 && !self.group_offline(key) {
                0
            } else {
                ErrorCode::CoordinatorNotAvailable.code()
            }
        };
        let mut response = FindCoordinatorResponse::default();
        if version < 4 {
            let error = error_for(request.key.as_str());
            response.error_code = error;
            if error == 0 {
                response.node_id = self.config.node_id;
                response.host = host;
                response.port = port;
            } else {
                response.node_id = -1;
            }
            return response;
        }
        for key in request.coordinator_keys {
            let error = error_for(key.as_str());
            response.coordinators.push(FindCoordinatorResponseCoordinator {
                key,
                node_id: if error == 0 { self.config.node_id } else { -1 },
                host: if error == 0 { host.clone() } else { StrBytes::default() },
                port: if error == 0 { port } else { -1 },
                error_code: error,
                ..Default::default()
            });
        }
        response
    }

    /// Handles a group API request.
    pub(super) fn handle_group(
        &mut self,
        request: RequestRef,
        correlation_id: i32,
        version: i16,
        client_id: String,
        body: Request,
    ) -> Reply {
        if let Request::FindCoordinator(body) = body {
            if body.key_type == 0 && self.ensure_offsets_topic().is_err() {
                let mut response = FindCoordinatorResponse {
                    error_code: ErrorCode::CoordinatorNotAvailable.code(),
                    node_id: -1,
                    ..Default::default()
                };
                response.coordinators = body
                    .coordinator_keys
                    .iter()
                    .map(|key| FindCoordinatorResponseCoordinator {
                        key: key.clone(),
                        node_id: -1,
                        port: -1,
                        error_code: ErrorCode::CoordinatorNotAvailable.code(),
                        ..Default::default()
                    })
                    .collect();
                return Reply::Now(Response::FindCoordinator(response));
            }
            return Reply::Now(Response::FindCoordinator(self.find_coordinator(version, body)));
        }
        if self.ensure_offsets_topic().is_err() {
            self.log(
                LogLevel::Error,
                "cannot create __consumer_offsets; group request refused".into(),
            );
        }
        let waiter = GroupWaiter { request, correlation_id, version };
        let (now, wall_ms) = (self.now, self.wall_ms);
        if let Some(refused) = self.refuse_offline_group(&body) {
            self.flush_groups(Some((waiter, refused)));
            return Reply::Later;
        }
        let immediate = match body {
            Request::JoinGroup(body) => {
                let context =
                    JoinContext { version, client_id, client_host: "/127.0.0.1".to_string() };
                match self.groups.join_group(now, waiter.clone(), &context, &body) {
                    crate::group::Reply::Now(response) => Some(Response::JoinGroup(response)),
                    crate::group::Reply::Deferred => None,
                }
            }
            Request::SyncGroup(body) => match self.groups.sync_group(now, waiter.clone(), &body) {
                crate::group::Reply::Now(response) => Some(Response::SyncGroup(response)),
                crate::group::Reply::Deferred => None,
            },
            Request::Heartbeat(body) => {
                Some(Response::Heartbeat(self.groups.heartbeat(now, &body)))
            }
            Request::LeaveGroup(body) => {
                Some(Response::LeaveGroup(self.groups.leave_group(now, version, &body)))
            }
            Request::OffsetCommit(mut body) => {
                let unknown = self.take_unknown_partitions(&mut body);
                let mut response = self.groups.offset_commit(now, wall_ms, &body);
                refuse_unknown_partitions(&mut response, unknown);
                Some(Response::OffsetCommit(response))
            }
            Request::OffsetFetch(body) => {
                let mut response = self.groups.offset_fetch(now, version, &body);
                for group in &mut response.groups {
                    if self.group_offline(group.group_id.as_str()) {
                        group.topics.clear();
                        group.error_code = ErrorCode::NotCoordinator.code();
                    }
                }
                Some(Response::OffsetFetch(response))
            }
            Request::ListGroups(body) => {
                // As Kafka lists only the groups of the partitions it has loaded.
                let mut response = self.groups.list_groups(&body);
                response.groups.retain(|group| !self.group_offline(group.group_id.as_str()));
                Some(Response::ListGroups(response))
            }
            Request::DescribeGroups(body) => {
                let mut response = self.groups.describe_groups(version, &body);
                for group in &mut response.groups {
                    if self.group_offline(group.group_id.as_str()) {
                        let group_id = group.group_id.clone();
                        *group = DescribeGroupsResponseGroup {
                            error_code: ErrorCode::NotCoordinator.code(),
                            group_id,
                            ..Default::default()
                        };
                    }
                }
                Some(Response::DescribeGroups(response))
            }
            Request::DeleteGroups(mut body) => {
                let (offline, online): (Vec<StrBytes>, Vec<StrBytes>) = body
                    .groups_names
                    .into_iter()
                    .partition(|group_id| self.group_offline(group_id.as_str()));
                body.groups_names = online;
                let mut response = self.groups.delete_groups(now, &body);
                response.results.extend(offline.into_iter().map(|group_id| {
                    DeleteGroupsResponseResult {
                        group_id,
                        error_code: ErrorCode::NotCoordinator.code(),
                        ..Default::default()
                    }
                }));
                Some(Response::DeleteGroups(response))
            }
            Request::OffsetDelete(body) => {
                Some(Response::OffsetDelete(self.groups.offset_delete(now, &body)))
            }
            other => unreachable!("key {} is not a group API", other.api_key()),
        };
        // flush_groups answers now, or once the records stored with the answer are durable;
        // a deferred JoinGroup/SyncGroup answer comes out of a later flush.
        self.flush_groups(immediate.map(|response| (waiter, response)));
        Reply::Later
    }

    /// Syncs now every `__consumer_offsets` partition with group records not yet durable.
    /// Whether all of them are durable now.
    pub(super) fn sync_group_writes(&mut self) -> bool {
        let partitions: Vec<TopicPartition> = self.group_writes.keys().cloned().collect();
        let mut durable = true;
        for partition in partitions {
            let Some(log) = self.logs.log_mut(&partition) else { continue };
            if let Err(error) = log.sync(&mut self.storage) {
                self.log(
                    LogLevel::Error,
                    format!("{partition}: cannot sync group records: {error}"),
                );
                durable = false;
            }
        }
        // Group answers waiting for those records go out at the next progress.
        self.visibility_changes += 1;
        durable
    }

    /// Forgets every group's committed offsets of deleted topic `topic` and makes the
    /// tombstones durable now; when they cannot be, a topic of that name cannot be made
    /// until they are (see [`Node::offsets_removed`]).
    pub(super) fn forget_deleted_topic_offsets(&mut self, topic: &str) {
        if topic == OFFSETS_TOPIC {
            // Every group goes with it, as in Kafka: memory must not keep offsets and
            // generations the log no longer holds. Nothing of it is waited for any more.
            let unloaded = self.groups.unload_all(self.now);
            // A log made again with the name starts at offset 0: waiting for an offset of the
            // deleted one would wait for good. Answers that waited fail instead.
            self.group_writes.retain(|partition, _| partition.topic != OFFSETS_TOPIC);
            for pending in &mut self.pending_durable {
                let before = pending.waits.len();
                pending.waits.retain(|(partition, _)| partition.topic != OFFSETS_TOPIC);
                pending.failed |= pending.waits.len() != before;
            }
            self.visibility_changes += 1;
            self.offsets_unsynced.clear();
            self.flush_groups(None);
            self.log(LogLevel::Info, format!("{OFFSETS_TOPIC} deleted: forgot {unloaded} groups"));
            return;
        }
        if self.groups.forget_topic_offsets(self.now, topic) == 0 {
            return;
        }
        self.flush_groups(None);
        // Durable before the answer: once a topic of the name exists again, a power failure
        // must not bring them back (a start forgets only the offsets of topics that do not
        // exist).
        if !self.sync_group_writes() {
            self.offsets_unsynced.insert(topic.to_string());
        }
    }

    /// Whether a topic named `topic` may be made: no offsets of a deleted topic of that name
    /// wait for their tombstones to become durable (they are synced now if they can be).
    pub(super) fn offsets_removed(&mut self, topic: &str) -> bool {
        if !self.offsets_unsynced.contains(topic) {
            return true;
        }
        if self.sync_group_writes() {
            self.offsets_unsynced.clear();
            return true;
        }
        false
    }

    /// Removes from an OffsetCommit the partitions of no existing topic, as Kafka answers them
    /// UNKNOWN_TOPIC_OR_PARTITION: an offset committed for a deleted topic must not wait for
    /// a topic made again with its name. Returns them, by topic.
    fn take_unknown_partitions(&self, body: &mut OffsetCommitRequest) -> Vec<(StrBytes, Vec<i32>)> {
        let mut unknown = Vec::new();
        body.topics.retain_mut(|topic| {
            let count = self.topics.get(topic.name.as_str()).map_or(0, |known| known.partitions);
            let mut refused = Vec::new();
            topic.partitions.retain(|partition| {
                let index = partition.partition_index;
                let exists = (0..count).contains(&index);
                if !exists {
                    refused.push(index);
                }
                exists
            });
            if !refused.is_empty() {
                unknown.push((topic.name.clone(), refused));
            }
            !topic.partitions.is_empty()
        });
        unknown
    }

    /// Appends the coordinator's records, collects its completed answers (and `immediate`),
    /// and sends them — at once if nothing was appended, otherwise once the appends are durable.
    pub(super) fn flush_groups(&mut self, immediate: Option<(GroupWaiter, Response)>) {
        let mut by_partition: BTreeMap<i32, Vec<OffsetsRecord>> = BTreeMap::new();
        while let Some(record) = self.groups.poll_record() {
            by_partition.entry(record.partition).or_default().push(record);
        }
        let mut failed = false;
        let mut stored_groups = Vec::new();
        for (partition, records) in by_partition {
            let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
            let groups =
                records.iter().filter_map(|record| match records::decode_key(&record.key) {
                    Ok(RecordKey::Group { group }) => Some(group),
                    _ => None,
                });
            match self.append_group_records(&tp, &records) {
                Ok(next_offset) => {
                    // Every held group answer waits for this record (below).
                    self.note_page_cache_append(&tp, true);
                    self.group_writes.insert(tp, next_offset);
                    stored_groups.extend(groups);
                }
                Err(error) => {
                    self.log(LogLevel::Error, format!("{tp}: cannot store group records: {error}"));
                    failed = true;
                    // What could not be stored is forgotten at once, not when this flush's
                    // answers go out: those may wait for earlier records to become durable,
                    // and meanwhile no request may be answered from an unstored generation,
                    // commit or deletion. The partition's groups are loaded again from the
                    // log; the answers to their parked requests are collected below.
                    let groups: Vec<String> = groups.collect();
                    self.reload_offsets_partition(partition, &groups);
                }
            }
        }
        let mut answers = Vec::new();
        while let Some((waiter, response)) = self.groups.poll_completed() {
            let response = match response {
                GroupResponse::JoinGroup(response) => Response::JoinGroup(response),
                GroupResponse::SyncGroup(response) => Response::SyncGroup(response),
            };
            answers.push((waiter, response));
        }
        answers.extend(immediate);
        // Every answer waits for all group records appended so far, not only its own: a
        // follower's SyncGroup answered from a Stable group must not go out before the record
        // that made the group Stable is durable. Records of an offline partition never will
        // be; its groups are refused until a restart, and no other group waits for them.
        self.group_writes.retain(|tp, next| {
            self.logs
                .log(tp)
                .is_some_and(|log| log.offline_reason().is_none() && log.recovery_point() < *next)
        });
        let waits: Vec<(TopicPartition, i64)> =
            self.group_writes.iter().map(|(tp, next)| (tp.clone(), *next)).collect();
        if answers.is_empty() && waits.is_empty() && !failed {
            return;
        }
        let mut pending = PendingDurable { answers, waits, failed, stored_groups };
        if self.durable_settled(&mut pending) {
            self.answer_groups(pending);
        } else {
            self.pending_durable.push(pending);
        }
    }

    fn append_group_records(
        &mut self,
        tp: &TopicPartition,
        records: &[OffsetsRecord],
    ) -> Result<i64, String> {
        let list: Vec<NewRecord<'_>> = records
            .iter()
            .map(|record| NewRecord {
                key: Some(&record.key),
                value: record.value.as_deref(),
                headers: Vec::new(),
                timestamp_ms: self.wall_ms,
            })
            .collect();
        let batch = Bytes::from(build_batch(&list, BatchOptions::default()));
        let header = record_batch::validate(&batch).map_err(|error| error.to_string())?;
        assert!(batch.len() >= BATCH_HEADER_BYTES);
        let log = self.logs.log_mut(tp).ok_or_else(|| "no such partition".to_string())?;
        let info = log
            .append_validated(&mut self.storage, &header, &batch, LEADER_EPOCH, self.wall_ms)
            .map_err(|error| error.to_string())?;
        Ok(info.last_offset + 1)
    }

    /// Whether a held group answer may go: everything it appended is durable (or failed).
    pub(super) fn durable_settled(&mut self, pending: &mut PendingDurable) -> bool {
        let mut remaining = Vec::new();
        for (tp, needed) in pending.waits.drain(..) {
            match self.logs.log(&tp) {
                Some(log) if log.offline_reason().is_some() => pending.failed = true,
                Some(log) if log.recovery_point() < needed => remaining.push((tp, needed)),
                Some(_) => {}
                None => pending.failed = true,
            }
        }
        pending.waits = remaining;
        pending.waits.is_empty()
    }

    /// Sends held group answers. If storing their records failed, offset commits say so, the
    /// groups whose metadata was not stored rebalance, and SyncGroup answers carry
    /// NOT_COORDINATOR (Kafka's answer to a store that failed on a storage error), so members
    /// rejoin instead of consuming an assignment a restart would forget.
    pub(super) fn answer_groups(&mut self, pending: PendingDurable) {
        if pending.failed {
            for group in &pending.stored_groups {
                self.groups.store_failed(self.now, group);
            }
        }
        for (waiter, mut response) in pending.answers {
            if pending.failed {
                match &mut response {
                    Response::OffsetCommit(commit) => {
                        for partition in
                            commit.topics.iter_mut().flat_map(|topic| topic.partitions.iter_mut())
                        {
                            if partition.error_code == 0 {
                                partition.error_code = ErrorCode::KafkaStorageError.code();
                            }
                        }
                    }
                    Response::SyncGroup(sync) if sync.error_code == 0 => {
                        sync.error_code = ErrorCode::NotCoordinator.code();
                        sync.assignment = Bytes::new();
                    }
                    // A deletion whose tombstones are not durable comes back with a restart.
                    // So may a group that was not found: a deletion waiting for the same sync
                    // may have removed it (a retry of that deletion finds nothing, and a
                    // client takes GROUP_ID_NOT_FOUND to mean an earlier attempt deleted it).
                    Response::DeleteGroups(delete) => {
                        for result in &mut delete.results {
                            if result.error_code == 0 || result.error_code == GROUP_ID_NOT_FOUND {
                                result.error_code = ErrorCode::KafkaStorageError.code();
                            }
                        }
                    }
                    // What an offset fetch read may hold commits and deletions that were not
                    // stored; Kafka shows a commit only once it is. The partition's groups
                    // are refused now (offline) or loaded again: the client asks again.
                    Response::OffsetFetch(fetch) => refuse_fetched_offsets(fetch),
                    Response::OffsetDelete(delete) if delete.error_code == GROUP_ID_NOT_FOUND => {
                        delete.error_code = ErrorCode::KafkaStorageError.code();
                    }
                    Response::OffsetDelete(delete) => {
                        for partition in
                            delete.topics.iter_mut().flat_map(|topic| topic.partitions.iter_mut())
                        {
                            if partition.error_code == 0 {
                                partition.error_code = ErrorCode::KafkaStorageError.code();
                            }
                        }
                    }
                    _ => {}
                }
            }
            self.complete(waiter.request, waiter.correlation_id, waiter.version, response);
        }
        if pending.failed && !pending.stored_groups.is_empty() {
            // The rebalance answers parked requests (REBALANCE_IN_PROGRESS).
            self.flush_groups(None);
        }
    }
}

/// Turns an OffsetFetch answer into NOT_COORDINATOR, in the group error of every layout (v2–7
/// top level, v8+ per group) and each partition's (v0–7), without any offset.
fn refuse_fetched_offsets(fetch: &mut OffsetFetchResponse) {
    let code = ErrorCode::NotCoordinator.code();
    fetch.error_code = code;
    for partition in fetch.topics.iter_mut().flat_map(|topic| topic.partitions.iter_mut()) {
        partition.committed_offset = -1;
        partition.metadata = None;
        partition.error_code = code;
    }
    for group in &mut fetch.groups {
        group.error_code = code;
        group.topics.clear();
    }
}

/// Adds UNKNOWN_TOPIC_OR_PARTITION answers for the partitions
/// [`Node::take_unknown_partitions`] took out of an OffsetCommit.
fn refuse_unknown_partitions(
    response: &mut OffsetCommitResponse,
    unknown: Vec<(StrBytes, Vec<i32>)>,
) {
    for (name, partitions) in unknown {
        let refused = partitions.into_iter().map(|partition_index| OffsetCommitResponsePartition {
            partition_index,
            error_code: ErrorCode::UnknownTopicOrPartition.code(),
            ..Default::default()
        });
        match response.topics.iter_mut().find(|topic| topic.name == name) {
            Some(topic) => topic.partitions.extend(refused),
            None => response.topics.push(OffsetCommitResponseTopic {
                name,
                partitions: refused.collect(),
                ..Default::default()
            }),
        }
    }
}

//! Metadata, offsets, topic administration and configs: requests answered at once.

use super::topics::Topic;
use super::{LogLevel, Node, LEADER_EPOCH};
use crate::config::{ConfigEntry, TopicConfig};
use crate::limits::{DESCRIBED_PRODUCERS_MAX, PARTITIONS_PER_TOPIC_MAX, TOPICS_MAX};
use crate::log::{validate_topic_name, TopicPartition};
use crate::protocol::api::alter_configs::{
    AlterConfigsRequest, AlterConfigsRequestResource, AlterConfigsResponse,
    AlterConfigsResponseResource,
};
use crate::protocol::api::create_partitions::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreatePartitionsResponseTopic,
};
use crate::protocol::api::create_topics::{
    CreateTopicsRequest, CreateTopicsResponse, CreateTopicsResponseConfig,
    CreateTopicsResponseTopic,
};
use crate::protocol::api::delete_records::{
    DeleteRecordsRequest, DeleteRecordsResponse, DeleteRecordsResponsePartition,
    DeleteRecordsResponseTopic,
};
use crate::protocol::api::delete_topics::{
    DeleteTopicsRequest, DeleteTopicsResponse, DeleteTopicsResponseTopic,
};
use crate::protocol::api::describe_cluster::{DescribeClusterBroker, DescribeClusterResponse};
use crate::protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResponse, DescribeConfigsResponseConfig,
    DescribeConfigsResponseResult, DescribeConfigsResponseSynonym,
};
use crate::protocol::api::describe_log_dirs::{
    DescribeLogDirsPartition, DescribeLogDirsRequest, DescribeLogDirsResponse,
    DescribeLogDirsResult, DescribeLogDirsTopic,
};
use crate::protocol::api::describe_producers::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeProducersResponsePartition,
    DescribeProducersResponseTopic, ProducerState as DescribedProducer,
};
use crate::protocol::api::incremental_alter_configs::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsRequestResource,
    IncrementalAlterConfigsResponse, IncrementalAlterConfigsResponseResource,
};
use crate::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsResponse, ListOffsetsResponsePartition, ListOffsetsResponseTopic,
};
use crate::protocol::api::metadata::{
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};
use crate::protocol::api::offset_for_leader_epoch::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
    OffsetForLeaderEpochResponsePartition, OffsetForLeaderEpochResponseTopic,
};
use crate::protocol::wire::StrBytes;
use crate::protocol::ErrorCode;
use crate::storage::{Storage, StorageError};
use std::collections::{BTreeMap, BTreeSet};

const RESOURCE_TOPIC: i8 = 2;
/// How often a topic registry that may hold an undone change is saved again (see
/// `Node::save_registry_again`).
pub(super) const REGISTRY_SAVE_RETRY_MS: u64 = 1_000;
const RESOURCE_BROKER: i8 = 4;

fn text(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}

impl<S: Storage> Node<S> {
    fn broker_host_port(&self) -> (StrBytes, i32) {
        (text(self.config.advertised_host.clone()), i32::from(self.config.advertised_port))
    }

    pub(super) fn handle_metadata(
        &mut self,
        version: i16,
        request: MetadataRequest,
    ) -> MetadataResponse {
        let (host, port) = self.broker_host_port();
        let mut response = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: self.config.node_id,
                host,
                port,
                ..Default::default()
            }],
            cluster_id: Some(text(self.config.cluster_id.clone())),
            controller_id: self.config.node_id,
            ..Default::default()
        };
        // v0: an empty list means all topics; v1+: null means all topics.
        let all = match &request.topics {
            None => true,
            Some(topics) => topics.is_empty() && version == 0,
        };
        // Topics asked for by id (v12+, with a null name) are answered by name; an unknown id
        // gets UNKNOWN_TOPIC_ID, and a null name before v12 INVALID_REQUEST, as in Kafka.
        let mut refused: Vec<(ErrorCode, [u8; 16])> = Vec::new();
        let names: Vec<String> = if all {
            self.topics.iter().map(|topic| topic.name.clone()).collect()
        } else {
            let requested = request.topics.unwrap_or_default();
            let mut names = Vec::with_capacity(requested.len());
            for topic in &requested {
                match &topic.name {
                    Some(name) => names.push(name.to_string()),
                    None if version >= 12 && topic.topic_id != [0; 16] => {
                        match self.topics.iter().find(|known| known.id == topic.topic_id) {
                            Some(known) => names.push(known.name.clone()),
                            None => refused.push((ErrorCode::UnknownTopicId, topic.topic_id)),
                        }
                    }
                    None => refused.push((ErrorCode::InvalidRequest, topic.topic_id)),
                }
            }
            names
        };
        let may_create = request.allow_auto_topic_creation && self.config.auto_create_topics_enable;
        for name in names {
            let mut topic_response =
                MetadataResponseTopic { name: Some(text(name.clone())), ..Default::default() };
            if self.topics.get(&name).is_none() {
                let created = if may_create && !all && name == super::groups::OFFSETS_TOPIC {
                    // Made as the coordinator makes it (compacted, offsets.topic.*), as Kafka
                    // auto-creates it: a plain topic would delete group records by retention.
                    self.ensure_offsets_topic().map_err(|code| (code, String::new()))
                } else if may_create && !all {
                    let partitions = self.config.num_partitions;
                    let config = self.config.topic_defaults.clone();
                    self.create_topic(&name, partitions, config).map(|_| ())
                } else {
                    Err((ErrorCode::UnknownTopicOrPartition, String::new()))
                };
                if let Err((code, _)) = created {
                    topic_response.error_code = code.code();
                    response.topics.push(topic_response);
                    continue;
                }
            }
            let topic = self.topics.get(&name).expect("exists or was created");
            topic_response.topic_id = topic.id;
            topic_response.is_internal = name == super::groups::OFFSETS_TOPIC;
            for index in 0..topic.partitions {
                topic_response.partitions.push(MetadataResponsePartition {
                    partition_index: index,
                    leader_id: self.config.node_id,
                    leader_epoch: LEADER_EPOCH,
                    replica_nodes: vec![self.config.node_id],
                    isr_nodes: vec![self.config.node_id],
                    ..Default::default()
                });
            }
            response.topics.push(topic_response);
        }
        for (code, topic_id) in refused {
            response.topics.push(MetadataResponseTopic {
                error_code: code.code(),
                // Nullable from v12 only.
                name: if version >= 12 { None } else { Some(text(String::new())) },
                topic_id,
                ..Default::default()
            });
        }
        response
    }

    /// Creates a topic and its partition logs, then saves the registry.
    fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        config: TopicConfig,
    ) -> Result<&Topic, (ErrorCode, String)> {
        validate_topic_name(name).map_err(|reason| (ErrorCode::InvalidTopicException, reason))?;
        if self.topics.get(name).is_some() {
            return Err((ErrorCode::TopicAlreadyExists, format!("Topic '{name}' already exists.")));
        }
        self.room_for_topic(name, partitions)?;
        self.install_topic(name, partitions, config)?;
        Ok(self.topics.get(name).expect("inserted"))
    }

    /// The checks of a new topic beyond its name's syntax, made by a creation and by
    /// `validate_only` alike: no collision with an existing name, a partition count in range,
    /// and room for one more topic.
    fn room_for_topic(&self, name: &str, partitions: i32) -> Result<(), (ErrorCode, String)> {
        // Kafka refuses names that differ only by '.' versus '_': their metric names collide.
        let normalized = name.replace('.', "_");
        if let Some(other) =
            self.topics.iter().find(|topic| topic.name.replace('.', "_") == normalized)
        {
            let reason = format!("Topic '{name}' collides with existing topic '{}'.", other.name);
            return Err((ErrorCode::InvalidTopicException, reason));
        }
        if !(1..=PARTITIONS_PER_TOPIC_MAX).contains(&partitions) {
            let reason = format!(
                "Number of partitions must be in 1..={PARTITIONS_PER_TOPIC_MAX}, got {partitions}."
            );
            return Err((ErrorCode::InvalidPartitions, reason));
        }
        if self.topics.len() >= TOPICS_MAX {
            return Err((
                ErrorCode::PolicyViolation,
                format!("The broker holds {TOPICS_MAX} topics."),
            ));
        }
        Ok(())
    }

    /// Adds a topic that passed its checks: its partition logs, then the saved registry. All
    /// or nothing: a failure rolls back what was made, so a retry starts afresh (and a topic
    /// is never served that a restart would not find in the registry).
    pub(super) fn install_topic(
        &mut self,
        name: &str,
        partitions: i32,
        config: TopicConfig,
    ) -> Result<(), (ErrorCode, String)> {
        self.remove_deleted_leftovers(name)?;
        if !self.offsets_removed(name) {
            let reason = format!("the committed offsets of the deleted topic {name} cannot be removed durably yet (the __consumer_offsets log is offline); restart the broker");
            self.log(LogLevel::Error, reason.clone());
            return Err((ErrorCode::KafkaStorageError, reason));
        }
        let id = self.new_topic_id();
        let log_config = config.log;
        self.topics.insert(Topic { name: name.to_string(), id, partitions, config });
        let made: Vec<TopicPartition> =
            (0..partitions).map(|index| TopicPartition::new(name, index)).collect();
        if let Err(error) =
            self.logs.create_logs(&mut self.storage, &made, log_config, self.wall_ms)
        {
            self.log(LogLevel::Error, format!("cannot create the partitions of {name}: {error}"));
            self.roll_back_topic(name, 0);
            return Err((ErrorCode::KafkaStorageError, error.to_string()));
        }
        if let Err(error) = self.save_registry() {
            self.log(LogLevel::Error, format!("cannot save the topic registry: {error}"));
            self.roll_back_topic(name, partitions);
            self.save_registry_again();
            return Err((ErrorCode::KafkaStorageError, error.to_string()));
        }
        self.log(LogLevel::Info, format!("created topic {name} with {partitions} partitions"));
        Ok(())
    }

    /// Writes the topic registry as memory holds it. Once one save succeeds the file agrees
    /// with memory, whatever earlier saves left there.
    fn save_registry(&mut self) -> Result<(), StorageError> {
        self.topics.save(&mut self.storage)?;
        if self.registry_retry_at.take().is_some() {
            let message = "the topic registry on disk agrees with the broker again".to_string();
            self.log(LogLevel::Info, message);
        }
        Ok(())
    }

    /// Saves the topic registry again after a failed save was rolled back in memory. A failed
    /// save may still have put the new registry in place (a rename that reported an error
    /// after it took effect); saving what memory holds makes the file agree again, or the
    /// next start would bring back a change the client was told failed. If this save fails
    /// too, it is tried again every [`REGISTRY_SAVE_RETRY_MS`] until one succeeds.
    fn save_registry_again(&mut self) {
        if let Err(error) = self.save_registry() {
            let message = format!(
                "cannot save the topic registry after a failed change was undone: {error}; \
                 the registry on disk may hold that change until the next save, tried again \
                 every {REGISTRY_SAVE_RETRY_MS} ms"
            );
            self.log(LogLevel::Error, message);
            self.registry_retry_at = Some(self.now + REGISTRY_SAVE_RETRY_MS);
        }
    }

    /// The timer's retry of [`Node::save_registry_again`].
    pub(super) fn retry_registry_save(&mut self) {
        if let Err(error) = self.save_registry() {
            let message = format!("cannot save the topic registry yet: {error}");
            self.log(LogLevel::Debug, message);
            self.registry_retry_at = Some(self.now + REGISTRY_SAVE_RETRY_MS);
        }
    }

    /// Undoes a half-created topic: forgets it and deletes the partition logs made so far, so
    /// that a retried CreateTopics starts afresh instead of finding a broken topic.
    fn roll_back_topic(&mut self, name: &str, created_partitions: i32) {
        self.topics.remove(name);
        self.forget_in_flight_syncs(name);
        let made: Vec<TopicPartition> =
            (0..created_partitions).map(|index| TopicPartition::new(name, index)).collect();
        for (partition, error) in self.logs.delete_logs(&mut self.storage, &made) {
            let what = partition.map_or("the checkpoints".to_string(), |p| p.to_string());
            self.log(
                LogLevel::Error,
                format!("cannot remove {what} of a failed creation: {error}"),
            );
        }
    }

    pub(super) fn handle_create_topics(
        &mut self,
        version: i16,
        request: CreateTopicsRequest,
    ) -> CreateTopicsResponse {
        let mut response = CreateTopicsResponse::default();
        // As Kafka: a name given more than once gets one INVALID_REQUEST answer, and none of
        // its entries is made.
        let mut repeated = repeated(request.topics.iter().map(|topic| topic.name.to_string()));
        for topic in request.topics {
            let name = topic.name.to_string();
            if let Some(first) = repeated.get_mut(&name) {
                if std::mem::take(first) {
                    response.topics.push(CreateTopicsResponseTopic {
                        name: topic.name.clone(),
                        error_code: ErrorCode::InvalidRequest.code(),
                        error_message: Some(StrBytes::from_static(
                            "Found multiple entries for this topic.",
                        )),
                        ..Default::default()
                    });
                }
                continue;
            }
            let mut answer =
                CreateTopicsResponseTopic { name: topic.name.clone(), ..Default::default() };
            // As Kafka: a config without a value is refused (it was once dropped, and the
            // topic made with the default).
            if let Some(config) = topic.configs.iter().find(|config| config.value.is_none()) {
                answer.error_code = ErrorCode::InvalidConfig.code();
                let message =
                    format!("Null value not supported for topic configs: {}", config.name.as_str());
                answer.error_message = Some(StrBytes::from_string(message));
                response.topics.push(answer);
                continue;
            }
            let pairs: Vec<(String, String)> = topic
                .configs
                .iter()
                .filter_map(|config| {
                    config.value.as_ref().map(|value| (config.name.to_string(), value.to_string()))
                })
                .collect();
            let partitions = if !topic.assignments.is_empty() {
                // As Kafka: a manual assignment gives the partition count (and replication).
                topic.assignments.len() as i32
            } else if topic.num_partitions == -1 {
                self.config.num_partitions
            } else {
                topic.num_partitions
            };
            let replication = if let Some(first) = topic.assignments.first() {
                first.broker_ids.len() as i16
            } else if topic.replication_factor == -1 {
                self.config.default_replication_factor
            } else {
                topic.replication_factor
            };
            let checked = check_assignments(&topic).and_then(|()| {
                self.check_new_topic(&name, partitions, replication, &topic.assignments, &pairs)
            });
            let result = match checked {
                Err(error) => Err(error),
                Ok(_) if request.validate_only => {
                    Ok(TopicConfig::from_overrides(&self.config.topic_defaults, &pairs)
                        .expect("checked"))
                }
                Ok(config) => self.create_topic(&name, partitions, config.clone()).map(|_| config),
            };
            match result {
                Ok(config) => {
                    answer.num_partitions = partitions;
                    answer.replication_factor = replication;
                    answer.topic_id = self.topics.get(&name).map_or([0; 16], |topic| topic.id);
                    if version >= 5 {
                        answer.configs = Some(
                            config
                                .entries(&self.config.set_properties)
                                .into_iter()
                                .map(create_topics_config)
                                .collect(),
                        );
                    }
                }
                Err((code, message)) => {
                    answer.error_code = code.code();
                    answer.error_message = Some(text(message));
                }
            }
            response.topics.push(answer);
        }
        response
    }

    fn check_new_topic(
        &self,
        name: &str,
        partitions: i32,
        replication: i16,
        assignments: &[crate::protocol::api::create_topics::CreateTopicsRequestAssignment],
        pairs: &[(String, String)],
    ) -> Result<TopicConfig, (ErrorCode, String)> {
        validate_topic_name(name).map_err(|reason| (ErrorCode::InvalidTopicException, reason))?;
        if self.topics.get(name).is_some() {
            return Err((ErrorCode::TopicAlreadyExists, format!("Topic '{name}' already exists.")));
        }
        if !assignments.is_empty() {
            let foreign = assignments
                .iter()
                .flat_map(|assignment| &assignment.broker_ids)
                .any(|&id| id != self.config.node_id);
            if foreign {
                return Err((
                    ErrorCode::InvalidReplicaAssignment,
                    "Replicas must be on broker ids that exist.".into(),
                ));
            }
        }
        if partitions < 1 {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("Number of partitions must be larger than 0, got {partitions}."),
            ));
        }
        if replication < 1 {
            return Err((
                ErrorCode::InvalidReplicationFactor,
                "Replication factor must be larger than 0.".into(),
            ));
        }
        if replication > 1 {
            let reason = format!("Unable to replicate the partition {replication} time(s): The target replication factor of {replication} cannot be reached because only 1 broker(s) are registered.");
            return Err((ErrorCode::InvalidReplicationFactor, reason));
        }
        // What the creation checks too, so that validate_only promises nothing it would refuse.
        self.room_for_topic(name, partitions)?;
        TopicConfig::from_overrides(&self.config.topic_defaults, pairs)
            .and_then(|config| config.check_combination().map(|()| config))
            .map_err(|error| (ErrorCode::InvalidConfig, error.to_string()))
    }

    pub(super) fn handle_delete_topics(
        &mut self,
        version: i16,
        request: DeleteTopicsRequest,
    ) -> DeleteTopicsResponse {
        let names: Vec<(Option<String>, [u8; 16])> = if version >= 6 {
            request
                .topics
                .iter()
                .map(|topic| (topic.name.as_ref().map(|name| name.to_string()), topic.topic_id))
                .collect()
        } else {
            request.topic_names.iter().map(|name| (Some(name.to_string()), [0; 16])).collect()
        };
        let mut response = DeleteTopicsResponse::default();
        // As Kafka: a topic named (or identified) more than once gets one INVALID_REQUEST
        // answer and stays.
        let key = |name: &Option<String>, id: &[u8; 16]| format!("{name:?}{id:?}");
        let mut repeated = repeated(names.iter().map(|(name, id)| key(name, id)));
        for (name, id) in names {
            if let Some(first) = repeated.get_mut(&key(&name, &id)) {
                if std::mem::take(first) {
                    response.responses.push(DeleteTopicsResponseTopic {
                        name: name.map(text),
                        topic_id: id,
                        error_code: ErrorCode::InvalidRequest.code(),
                        ..Default::default()
                    });
                }
                continue;
            }
            // As Kafka: a topic is named or identified, not both, not neither (a stale id
            // beside a name would otherwise delete whatever topic now has the name).
            let refusal = match (&name, id == [0; 16]) {
                (Some(_), false) => Some("You may not specify both topic name and topic id."),
                (None, true) => Some("Neither topic name nor id were specified."),
                _ => None,
            };
            if let Some(message) = refusal {
                response.responses.push(DeleteTopicsResponseTopic {
                    name: name.map(text),
                    topic_id: id,
                    error_code: ErrorCode::InvalidRequest.code(),
                    error_message: Some(StrBytes::from_static(message)),
                    ..Default::default()
                });
                continue;
            }
            let name = name.or_else(|| self.topics.by_id(&id).map(|topic| topic.name.clone()));
            let mut answer = DeleteTopicsResponseTopic {
                name: name.clone().map(text),
                topic_id: id,
                ..Default::default()
            };
            let result = match &name {
                _ if !self.config.delete_topic_enable => Err(ErrorCode::TopicDeletionDisabled),
                Some(name) if self.topics.get(name).is_some() => self.delete_topic(name),
                _ if id != [0; 16] => Err(ErrorCode::UnknownTopicId),
                _ => Err(ErrorCode::UnknownTopicOrPartition),
            };
            if let Err(code) = result {
                answer.error_code = code.code();
            } else if let Some(name) = &name {
                answer.topic_id = self.topics.get(name).map_or(answer.topic_id, |topic| topic.id);
            }
            response.responses.push(answer);
        }
        response
    }

    /// Deletes topic `name`: the registry that forgets it is saved first, noting that its
    /// files may remain, so that a start finding them removes them rather than adopting them;
    /// then the files go. Files that could not be removed stay noted until a start or a new
    /// topic of the same name removes them.
    fn delete_topic(&mut self, name: &str) -> Result<(), ErrorCode> {
        let topic = self.topics.remove(name).ok_or(ErrorCode::UnknownTopicOrPartition)?;
        // A live topic's name is never noted as deleted (creation removes the note).
        if !self.topics.note_deleted(name, topic.partitions) {
            self.topics.insert(topic);
            self.log(
                LogLevel::Error,
                format!("cannot delete topic {name}: too many deleted topics' files could not be removed"),
            );
            return Err(ErrorCode::KafkaStorageError);
        }
        if let Err(error) = self.save_registry() {
            // The topic stays, syncs in flight included: its waiting produces still settle.
            self.topics.forget_deleted(name);
            self.topics.insert(topic);
            self.log(LogLevel::Error, format!("cannot save the topic registry: {error}"));
            self.save_registry_again();
            return Err(ErrorCode::KafkaStorageError);
        }
        self.forget_in_flight_syncs(name);
        self.fail_pending_produces(name);
        // A topic made again with this name knows no producer and no committed offset, as
        // in Kafka.
        self.producers.retain(|partition, _| partition.topic != name);
        self.forget_deleted_topic_offsets(name);
        let mut removed = true;
        let partitions: Vec<TopicPartition> =
            (0..topic.partitions).map(|index| TopicPartition::new(name, index)).collect();
        for (partition, error) in self.logs.delete_logs(&mut self.storage, &partitions) {
            let Some(partition) = partition else {
                // Harmless: a start skips a checkpoint entry whose partition has no log.
                self.log(LogLevel::Warn, format!("cannot write checkpoints: {error}"));
                continue;
            };
            self.log(LogLevel::Error, format!("cannot delete {partition}: {error}"));
            removed = false;
        }
        if removed {
            // The registry on disk keeps the note until its next save: harmless, a start
            // finds nothing to remove.
            self.topics.forget_deleted(name);
        }
        self.log(LogLevel::Info, format!("deleted topic {name}"));
        Ok(())
    }

    /// Answers UNKNOWN_TOPIC_OR_PARTITION for the batches of topic `name` that produces wait
    /// to see synced, as Kafka does when a partition goes: the syncs of a topic made again with
    /// the name must not acknowledge them.
    fn fail_pending_produces(&mut self, name: &str) {
        for pending in &mut self.pending_produces {
            let response = &mut pending.response;
            pending.waits.retain(|(partition, _, topic_index, partition_index)| {
                if partition.topic != name {
                    return true;
                }
                let answer =
                    &mut response.responses[*topic_index].partition_responses[*partition_index];
                answer.error_code = ErrorCode::UnknownTopicOrPartition.code();
                answer.base_offset = -1;
                answer.error_message =
                    Some(text("the topic was deleted before the batch was synced"));
                false
            });
        }
        // The next progress answers those with nothing left to wait for.
        self.visibility_changes += 1;
    }

    /// Removes what the deletion of an earlier topic named `name` left on disk, if anything,
    /// so that a new topic of that name starts empty and no start adopts the old files.
    fn remove_deleted_leftovers(&mut self, name: &str) -> Result<(), (ErrorCode, String)> {
        let Some(partitions) = self.topics.forget_deleted(name) else { return Ok(()) };
        for index in 0..partitions {
            let partition = TopicPartition::new(name, index);
            if let Err(error) = self.logs.remove_leftover(&mut self.storage, &partition) {
                self.topics.note_deleted(name, partitions);
                let reason = format!("cannot remove what the deleted {partition} left: {error}");
                self.log(LogLevel::Error, reason.clone());
                return Err((ErrorCode::KafkaStorageError, reason));
            }
        }
        Ok(())
    }

    pub(super) fn handle_create_partitions(
        &mut self,
        request: CreatePartitionsRequest,
    ) -> CreatePartitionsResponse {
        let mut response = CreatePartitionsResponse::default();
        let twice = repeated(request.topics.iter().map(|topic| topic.name.to_string()));
        for topic in request.topics {
            let name = topic.name.to_string();
            let mut answer =
                CreatePartitionsResponseTopic { name: topic.name.clone(), ..Default::default() };
            // As Kafka: manual assignments name existing brokers, one per new partition.
            let assignment_error = |existing: i32| {
                let assignments = topic.assignments.as_ref()?;
                let added = topic.count.saturating_sub(existing);
                if assignments.len() as i64 != i64::from(added) {
                    return Some(format!(
                        "Increasing the number of partitions by {added} but {} assignments provided.",
                        assignments.len()
                    ));
                }
                let foreign = assignments
                    .iter()
                    .flat_map(|assignment| &assignment.broker_ids)
                    .any(|&id| id != self.config.node_id);
                let empty = assignments.iter().any(|assignment| assignment.broker_ids.is_empty());
                (foreign || empty).then(|| "Replicas must be on broker ids that exist.".to_string())
            };
            let result = match self.topics.get(&name) {
                // As Kafka: a topic listed twice is refused each time and left alone.
                _ if twice.contains_key(&name) => {
                    Err((ErrorCode::InvalidRequest, "Duplicate topic in request.".to_string()))
                }
                None => Err((ErrorCode::UnknownTopicOrPartition, format!("The topic '{name}' does not exist."))),
                Some(existing) if topic.count <= existing.partitions => Err((
                    ErrorCode::InvalidPartitions,
                    format!("Topic currently has {} partitions, which is higher than or equal to the requested {}.", existing.partitions, topic.count),
                )),
                // Groups are placed by hashing over the partition count: grown, it would
                // send them to partitions that hold none of their records.
                Some(_) if name == super::groups::OFFSETS_TOPIC => Err((
                    ErrorCode::InvalidPartitions,
                    format!("The partition count of internal topic {name} cannot change: consumer groups would lose their committed offsets."),
                )),
                Some(_) if topic.count > PARTITIONS_PER_TOPIC_MAX => {
                    Err((ErrorCode::InvalidPartitions, format!("At most {PARTITIONS_PER_TOPIC_MAX} partitions.")))
                }
                Some(existing) => match assignment_error(existing.partitions) {
                    Some(message) => Err((ErrorCode::InvalidReplicaAssignment, message)),
                    None if request.validate_only => Ok(()),
                    None => self.add_partitions(&name, topic.count),
                },
            };
            if let Err((code, message)) = result {
                answer.error_code = code.code();
                answer.error_message = Some(text(message));
            }
            response.results.push(answer);
        }
        response
    }

    /// Grows topic `name` to `count` partitions: all of them and the saved registry, or none
    /// (a failure deletes the logs it made and keeps the old count, so that a retry starts
    /// afresh instead of being told the partitions exist while some have no log).
    fn add_partitions(&mut self, name: &str, count: i32) -> Result<(), (ErrorCode, String)> {
        let topic = self.topics.get(name).expect("checked");
        let (from, log_config) = (topic.partitions, topic.config.log);
        let mut failure = None;
        let made: Vec<TopicPartition> =
            (from..count).map(|index| TopicPartition::new(name, index)).collect();
        let mut created = &made[..];
        if let Err(error) =
            self.logs.create_logs(&mut self.storage, &made, log_config, self.wall_ms)
        {
            failure =
                Some(format!("cannot create partitions {from} to {count} of {name}: {error}"));
            created = &[];
        }
        if failure.is_none() {
            self.topics.get_mut(name).expect("checked").partitions = count;
            if let Err(error) = self.save_registry() {
                self.topics.get_mut(name).expect("checked").partitions = from;
                failure = Some(format!("cannot save the topic registry: {error}"));
                self.save_registry_again();
            }
        }
        let Some(message) = failure else {
            self.log(
                LogLevel::Info,
                format!("grew topic {name} from {from} to {count} partitions"),
            );
            return Ok(());
        };
        self.log(LogLevel::Error, message.clone());
        for (partition, error) in self.logs.delete_logs(&mut self.storage, created) {
            let what = partition.map_or("the checkpoints".to_string(), |p| p.to_string());
            self.log(LogLevel::Error, format!("cannot remove {what} of a failed growth: {error}"));
        }
        Err((ErrorCode::KafkaStorageError, message))
    }

    pub(super) fn handle_list_offsets(
        &mut self,
        version: i16,
        request: ListOffsetsRequest,
    ) -> ListOffsetsResponse {
        let mut response = ListOffsetsResponse::default();
        // As Kafka (v1+): every entry of a partition listed more than once is INVALID_REQUEST.
        let duplicated = if version >= 1 {
            repeated(request.topics.iter().flat_map(|topic| {
                topic.partitions.iter().map(|partition| {
                    TopicPartition::new(topic.name.as_str(), partition.partition_index).to_string()
                })
            }))
        } else {
            BTreeMap::new()
        };
        for topic in request.topics {
            let mut topic_response =
                ListOffsetsResponseTopic { name: topic.name.clone(), ..Default::default() };
            for partition in topic.partitions {
                let tp = TopicPartition::new(topic.name.as_str(), partition.partition_index);
                let mut answer = ListOffsetsResponsePartition {
                    partition_index: partition.partition_index,
                    ..Default::default()
                };
                let listed = if duplicated.contains_key(&tp.to_string()) {
                    Err(ErrorCode::InvalidRequest)
                } else {
                    self.list_offset(&tp, partition.timestamp, partition.current_leader_epoch)
                };
                match listed {
                    Ok((timestamp, offset)) => {
                        answer.timestamp = timestamp;
                        answer.offset = offset;
                        answer.leader_epoch = if offset >= 0 { LEADER_EPOCH } else { -1 };
                        if version == 0 && offset >= 0 {
                            answer.old_style_offsets = vec![offset];
                        }
                    }
                    Err(code) => answer.error_code = code.code(),
                }
                topic_response.partitions.push(answer);
            }
            response.topics.push(topic_response);
        }
        response
    }

    /// `(timestamp, offset)` for ListOffsets: -2 earliest, -1 latest (the high watermark),
    /// -3 the batch holding the largest timestamp, otherwise the first offset at or after the
    /// timestamp; `(-1, -1)` when there is none.
    fn list_offset(
        &mut self,
        tp: &TopicPartition,
        timestamp: i64,
        current_leader_epoch: i32,
    ) -> Result<(i64, i64), ErrorCode> {
        let high_watermark = self.high_watermark(tp).ok_or(ErrorCode::UnknownTopicOrPartition)?;
        if current_leader_epoch > 0 {
            return Err(ErrorCode::UnknownLeaderEpoch);
        }
        let log = self.logs.log_mut(tp).expect("high_watermark found it");
        match timestamp {
            -2 => Ok((-1, log.log_start_offset())),
            -1 => Ok((-1, high_watermark)),
            -3 => Ok(log
                .max_timestamp_offset()
                .filter(|&(_, offset)| offset < high_watermark)
                .unwrap_or((-1, -1))),
            _ => match log.offset_for_timestamp(&mut self.storage, timestamp) {
                Ok(Some((offset, found))) if offset < high_watermark => Ok((found, offset)),
                Ok(_) => Ok((-1, -1)),
                Err(error) => Err(error.error_code()),
            },
        }
    }

    pub(super) fn handle_delete_records(
        &mut self,
        request: DeleteRecordsRequest,
    ) -> DeleteRecordsResponse {
        let mut response = DeleteRecordsResponse::default();
        for topic in request.topics {
            let mut topic_response =
                DeleteRecordsResponseTopic { name: topic.name.clone(), ..Default::default() };
            for partition in topic.partitions {
                let tp = TopicPartition::new(topic.name.as_str(), partition.partition_index);
                let mut answer = DeleteRecordsResponsePartition {
                    partition_index: partition.partition_index,
                    low_watermark: -1,
                    ..Default::default()
                };
                match self.high_watermark(&tp) {
                    // The coordinator's records are its state: a start replays them all. Kafka
                    // answers the same (first), with "Cannot delete records of internal topic".
                    _ if tp.topic == super::groups::OFFSETS_TOPIC => {
                        answer.error_code = ErrorCode::InvalidTopicException.code();
                    }
                    None => answer.error_code = ErrorCode::UnknownTopicOrPartition.code(),
                    // As Kafka: only where retention may delete (`cleanup.policy` with
                    // `delete`); on a compact-only topic the log start is compaction's.
                    Some(_) if !self.deletes_by_policy(&tp.topic) => {
                        answer.error_code = ErrorCode::PolicyViolation.code();
                    }
                    Some(high_watermark) => {
                        let offset =
                            if partition.offset == -1 { high_watermark } else { partition.offset };
                        if offset < 0 || offset > high_watermark {
                            answer.error_code = ErrorCode::OffsetOutOfRange.code();
                        } else if let Err(error) = self.secure_producer_state(&tp, offset) {
                            answer.error_code = error.error_code().code();
                        } else {
                            match self.logs.delete_records(&mut self.storage, &tp, offset) {
                                Ok(low) => answer.low_watermark = low,
                                Err(error) => answer.error_code = error.error_code().code(),
                            }
                        }
                    }
                }
                topic_response.partitions.push(answer);
            }
            response.topics.push(topic_response);
        }
        response
    }

    /// Whether `topic`'s `cleanup.policy` includes `delete`.
    fn deletes_by_policy(&self, topic: &str) -> bool {
        self.topics.get(topic).is_some_and(|topic| topic.config.log.cleanup_policy.deletes())
    }

    pub(super) fn handle_offset_for_leader_epoch(
        &mut self,
        request: OffsetForLeaderEpochRequest,
    ) -> OffsetForLeaderEpochResponse {
        let mut response = OffsetForLeaderEpochResponse::default();
        for topic in request.topics {
            let mut topic_response = OffsetForLeaderEpochResponseTopic {
                topic: topic.topic.clone(),
                ..Default::default()
            };
            for partition in topic.partitions {
                let tp = TopicPartition::new(topic.topic.as_str(), partition.partition);
                let mut answer = OffsetForLeaderEpochResponsePartition {
                    partition: partition.partition,
                    ..Default::default()
                };
                match self.logs.log(&tp) {
                    None => answer.error_code = ErrorCode::UnknownTopicOrPartition.code(),
                    Some(_) if partition.current_leader_epoch > LEADER_EPOCH => {
                        answer.error_code = ErrorCode::UnknownLeaderEpoch.code()
                    }
                    // The leader's own epoch ends at the log end, as in Kafka, whose leader
                    // records its epoch at the log end when elected: so too on a log that has
                    // no batch yet (a consumer validating position 0 of an empty partition
                    // must not see a truncation).
                    Some(log) if partition.leader_epoch == LEADER_EPOCH => {
                        answer.leader_epoch = LEADER_EPOCH;
                        answer.end_offset = log.log_end_offset();
                    }
                    Some(log) => {
                        if let Some((epoch, end_offset)) =
                            log.end_offset_for_epoch(partition.leader_epoch)
                        {
                            answer.leader_epoch = epoch;
                            answer.end_offset = end_offset;
                        }
                    }
                }
                topic_response.partitions.push(answer);
            }
            response.topics.push(topic_response);
        }
        response
    }

    pub(super) fn handle_describe_cluster(&mut self) -> DescribeClusterResponse {
        let (host, port) = self.broker_host_port();
        DescribeClusterResponse {
            cluster_id: text(self.config.cluster_id.clone()),
            controller_id: self.config.node_id,
            brokers: vec![DescribeClusterBroker {
                broker_id: self.config.node_id,
                host,
                port,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// DescribeLogDirs: the one log directory, with the size of every partition asked for
    /// (all when the request's topics are null). Partitions that do not exist are left out,
    /// as Kafka leaves them out, and so are logs taken offline by an IO error, whose size is
    /// not known. The offset lag is the log end offset's lead on the high watermark: records
    /// appended and not yet durable (or, in a page-cache topic, none).
    pub(super) fn handle_describe_log_dirs(
        &mut self,
        request: DescribeLogDirsRequest,
    ) -> DescribeLogDirsResponse {
        let wanted = request.topics.map(|topics| {
            let mut wanted: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
            for topic in topics {
                wanted.entry(topic.topic.to_string()).or_default().extend(topic.partitions);
            }
            wanted
        });
        let mut topics: Vec<DescribeLogDirsTopic> = Vec::new();
        for partition in self.logs.partitions() {
            let asked = wanted.as_ref().is_none_or(|wanted| {
                wanted.get(&partition.topic).is_some_and(|set| set.contains(&partition.partition))
            });
            let Some(log) = self.logs.log(partition).filter(|_| asked) else { continue };
            if log.offline_reason().is_some() {
                continue;
            }
            let high_watermark = self.high_watermark(partition).unwrap_or(log.log_end_offset());
            let described = DescribeLogDirsPartition {
                partition_index: partition.partition,
                partition_size: i64::try_from(log.size_bytes()).unwrap_or(i64::MAX),
                offset_lag: (log.log_end_offset() - high_watermark).max(0),
                ..Default::default()
            };
            match topics.last_mut() {
                Some(last) if last.name.as_str() == partition.topic => {
                    last.partitions.push(described);
                }
                _ => topics.push(DescribeLogDirsTopic {
                    name: text(partition.topic.clone()),
                    partitions: vec![described],
                    ..Default::default()
                }),
            }
        }
        let volume = self.storage.volume();
        let bytes =
            |known: Option<u64>| known.map_or(-1, |bytes| i64::try_from(bytes).unwrap_or(i64::MAX));
        DescribeLogDirsResponse {
            results: vec![DescribeLogDirsResult {
                log_dir: text(volume.path),
                topics,
                total_bytes: bytes(volume.total_bytes),
                usable_bytes: bytes(volume.usable_bytes),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// DescribeProducers: each partition asked for, in the order asked, with the idempotent
    /// producers it knows (their epoch, last sequence and last batch's largest timestamp), as
    /// Kafka answers: UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist and
    /// KAFKA_STORAGE_ERROR for a log taken offline. No producer is transactional here, so
    /// coordinator epoch and transaction start are -1. One answer lists at most
    /// [`DESCRIBED_PRODUCERS_MAX`] producers; a partition past that is refused, with a message
    /// asking for it in a request of its own.
    pub(super) fn handle_describe_producers(
        &mut self,
        request: DescribeProducersRequest,
    ) -> DescribeProducersResponse {
        let mut listed = 0usize;
        let mut topics = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
            for index in topic.partition_indexes {
                let tp = TopicPartition::new(topic.name.as_str(), index);
                let mut answer = DescribeProducersResponsePartition {
                    partition_index: index,
                    ..Default::default()
                };
                let refusal = match self.logs.log(&tp) {
                    None => Some((ErrorCode::UnknownTopicOrPartition, None)),
                    Some(log) if log.offline_reason().is_some() => {
                        Some((ErrorCode::KafkaStorageError, None))
                    }
                    Some(_) => {
                        let count = self.producers.get(&tp).map_or(0, |state| state.len());
                        (listed + count > DESCRIBED_PRODUCERS_MAX).then_some((
                            ErrorCode::UnknownServerError,
                            Some(
                                "this answer holds as many producers as one may: ask for this \
                                 partition in a request of its own",
                            ),
                        ))
                    }
                };
                if let Some((code, message)) = refusal {
                    answer.error_code = code.code();
                    answer.error_message = message.map(StrBytes::from_static);
                } else if let Some(state) = self.producers.get(&tp) {
                    listed += state.len();
                    answer.active_producers = state
                        .producers()
                        .map(|(producer_id, entry)| {
                            let last = entry.batches.back();
                            DescribedProducer {
                                producer_id,
                                producer_epoch: i32::from(entry.epoch),
                                last_sequence: last.map_or(-1, |batch| batch.last_sequence),
                                last_timestamp: last.map_or(-1, |batch| batch.max_timestamp),
                                coordinator_epoch: -1,
                                current_txn_start_offset: -1,
                                ..Default::default()
                            }
                        })
                        .collect();
                }
                partitions.push(answer);
            }
            topics.push(DescribeProducersResponseTopic {
                name: topic.name,
                partitions,
                ..Default::default()
            });
        }
        DescribeProducersResponse { topics, ..Default::default() }
    }

    pub(super) fn handle_describe_configs(
        &mut self,
        version: i16,
        request: DescribeConfigsRequest,
    ) -> DescribeConfigsResponse {
        let mut response = DescribeConfigsResponse::default();
        for resource in request.resources {
            let name = resource.resource_name.to_string();
            let mut result = DescribeConfigsResponseResult {
                resource_type: resource.resource_type,
                resource_name: resource.resource_name.clone(),
                ..Default::default()
            };
            let entries = match resource.resource_type {
                RESOURCE_TOPIC => match self.topics.get(&name) {
                    Some(topic) => Ok(topic.config.entries(&self.config.set_properties)),
                    // As Kafka, which checks the name first.
                    None if validate_topic_name(&name).is_err() => Err((
                        ErrorCode::InvalidTopicException,
                        validate_topic_name(&name).expect_err("just checked"),
                    )),
                    None => Err((
                        ErrorCode::UnknownTopicOrPartition,
                        format!("Topic '{name}' does not exist."),
                    )),
                },
                RESOURCE_BROKER if name.is_empty() || name == self.config.node_id.to_string() => {
                    Ok(self.config.entries())
                }
                RESOURCE_BROKER => {
                    Err((ErrorCode::InvalidRequest, format!("Broker {name} is not this broker.")))
                }
                other => Err((
                    ErrorCode::InvalidRequest,
                    format!("Resource type {other} is not supported."),
                )),
            };
            match entries {
                Ok(entries) => {
                    // No keys, or an empty list, means every config, as in Kafka.
                    let wanted =
                        resource.configuration_keys.as_ref().filter(|keys| !keys.is_empty());
                    for entry in entries {
                        if wanted
                            .is_some_and(|keys| !keys.iter().any(|key| key.as_str() == entry.name))
                        {
                            continue;
                        }
                        result.configs.push(describe_config(
                            version,
                            request.include_synonyms,
                            entry,
                        ));
                    }
                }
                Err((code, message)) => {
                    result.error_code = code.code();
                    result.error_message = Some(text(message));
                }
            }
            response.results.push(result);
        }
        response
    }

    /// Replaces a topic's overrides with `pairs` (AlterConfigs) or edits them (incremental),
    /// then applies the result to its logs and saves the registry.
    fn update_topic_config(
        &mut self,
        name: &str,
        validate_only: bool,
        edit: impl FnOnce(&TopicConfig, &TopicConfig) -> Result<TopicConfig, (ErrorCode, String)>,
    ) -> Result<(), (ErrorCode, String)> {
        let defaults = self.config.topic_defaults.clone();
        let topic = self.topics.get(name).ok_or_else(|| {
            (ErrorCode::UnknownTopicOrPartition, format!("Topic '{name}' does not exist."))
        })?;
        let updated = edit(&topic.config, &defaults)?;
        updated
            .check_combination()
            .map_err(|error| (ErrorCode::InvalidConfig, error.to_string()))?;
        if validate_only {
            return Ok(());
        }
        updated.log.validate().map_err(|reason| (ErrorCode::InvalidConfig, reason))?;
        let (partitions, previous) = (topic.partitions, topic.config.clone());
        // Saved first, applied after: a registry that cannot be saved leaves the topic as it
        // was, rather than running with settings it was told failed and a restart undoes.
        self.topics.get_mut(name).expect("exists").config = updated.clone();
        if let Err(error) = self.save_registry() {
            self.topics.get_mut(name).expect("exists").config = previous;
            self.save_registry_again();
            return Err((ErrorCode::KafkaStorageError, error.to_string()));
        }
        for index in 0..partitions {
            if let Some(log) = self.logs.log_mut(&TopicPartition::new(name, index)) {
                log.set_config(updated.log).expect("validated above");
            }
        }
        self.log(LogLevel::Info, format!("updated configs of topic {name}"));
        Ok(())
    }

    /// Alters one config resource (only topics can be altered) and returns the error code and
    /// message for its response entry.
    fn alter_resource(
        &mut self,
        resource_type: i8,
        name: &str,
        validate_only: bool,
        edit: impl FnOnce(&TopicConfig, &TopicConfig) -> Result<TopicConfig, (ErrorCode, String)>,
    ) -> (i16, Option<StrBytes>) {
        let result = if resource_type == RESOURCE_TOPIC {
            self.update_topic_config(name, validate_only, edit)
        } else {
            Err((ErrorCode::InvalidRequest, "Only topic configs can be altered.".to_string()))
        };
        match result {
            Ok(()) => (0, None),
            Err((code, message)) => (code.code(), Some(text(message))),
        }
    }

    pub(super) fn handle_alter_configs(
        &mut self,
        request: AlterConfigsRequest,
    ) -> AlterConfigsResponse {
        let mut response = AlterConfigsResponse::default();
        let twice = repeated(request.resources.iter().map(resource_key));
        for resource in request.resources {
            let name = resource.resource_name.to_string();
            let null = resource.configs.iter().find(|config| config.value.is_none());
            let refusal = config_resource_refusal(
                twice.contains_key(&resource_key(&resource)),
                null.map(|config| config.name.as_str()),
                resource.configs.iter().map(|config| config.name.as_str()),
            );
            let pairs: Vec<(String, String)> = resource
                .configs
                .iter()
                .filter_map(|config| {
                    config.value.as_ref().map(|value| (config.name.to_string(), value.to_string()))
                })
                .collect();
            // As Kafka: a resource listed twice, a null value or a key given twice is
            // INVALID_REQUEST (a null value was once dropped, and the overrides it left out
            // of the replacement were all removed).
            let (error_code, error_message) = match refusal {
                Some(message) => (ErrorCode::InvalidRequest.code(), Some(text(message))),
                None => self.alter_resource(
                    resource.resource_type,
                    &name,
                    request.validate_only,
                    |_, defaults| {
                        TopicConfig::from_overrides(defaults, &pairs)
                            .map_err(|error| (ErrorCode::InvalidConfig, error.to_string()))
                    },
                ),
            };
            response.responses.push(AlterConfigsResponseResource {
                error_code,
                error_message,
                resource_type: resource.resource_type,
                resource_name: resource.resource_name,
                ..Default::default()
            });
        }
        response
    }

    pub(super) fn handle_incremental_alter_configs(
        &mut self,
        request: IncrementalAlterConfigsRequest,
    ) -> IncrementalAlterConfigsResponse {
        let mut response = IncrementalAlterConfigsResponse::default();
        let twice = repeated(request.resources.iter().map(incremental_resource_key));
        for resource in request.resources {
            let name = resource.resource_name.to_string();
            let null_set = resource
                .configs
                .iter()
                .find(|config| config.config_operation != 1 && config.value.is_none());
            let refusal = config_resource_refusal(
                twice.contains_key(&incremental_resource_key(&resource)),
                null_set.map(|config| config.name.as_str()),
                resource.configs.iter().map(|config| config.name.as_str()),
            );
            if let Some(message) = refusal {
                response.responses.push(IncrementalAlterConfigsResponseResource {
                    error_code: ErrorCode::InvalidRequest.code(),
                    error_message: Some(text(message)),
                    resource_type: resource.resource_type,
                    resource_name: resource.resource_name,
                    ..Default::default()
                });
                continue;
            }
            let operations: Vec<(String, i8, Option<String>)> = resource
                .configs
                .iter()
                .map(|config| {
                    (
                        config.name.to_string(),
                        config.config_operation,
                        config.value.as_ref().map(|value| value.to_string()),
                    )
                })
                .collect();
            let validate_only = request.validate_only;
            let (error_code, error_message) = self.alter_resource(
                resource.resource_type,
                &name,
                validate_only,
                |current, defaults| {
                    let mut updated = current.clone();
                    for (key, operation, value) in &operations {
                        let applied = match (operation, value) {
                            (0, Some(value)) => updated.set(key, value),
                            (1, _) => updated.unset(key, defaults),
                            // APPEND (2) and SUBTRACT (3) work on list configs.
                            (2 | 3, Some(value)) if updated.list_items(key).is_some() => {
                                let mut items = updated.list_items(key).expect("a list config");
                                for item in value.split(',').map(|item| {
                                    item.trim_matches(|c: char| c <= ' ').to_string()
                                }) {
                                    if *operation == 2 && !items.contains(&item) {
                                        items.push(item);
                                    } else if *operation == 3 {
                                        items.retain(|kept| *kept != item);
                                    }
                                }
                                updated.set(key, &items.join(","))
                            }
                            (2 | 3, Some(_)) => Err(crate::config::ConfigError::Invalid {
                                key: key.clone(),
                                value: value.clone().unwrap_or_default(),
                                reason: "APPEND and SUBTRACT need a list config".into(),
                            }),
                            (0, None) => Err(crate::config::ConfigError::Invalid {
                                key: key.clone(),
                                value: "null".into(),
                                reason: "SET needs a value".into(),
                            }),
                            _ => Err(crate::config::ConfigError::Invalid {
                                key: key.clone(),
                                value: value.clone().unwrap_or_default(),
                                reason:
                                    "the operation is not SET (0), DELETE (1), APPEND (2) or SUBTRACT (3)"
                                        .into(),
                            }),
                        };
                        applied.map_err(|error| (ErrorCode::InvalidConfig, error.to_string()))?;
                    }
                    Ok(updated)
                },
            );
            response.responses.push(IncrementalAlterConfigsResponseResource {
                error_code,
                error_message,
                resource_type: resource.resource_type,
                resource_name: resource.resource_name,
                ..Default::default()
            });
        }
        response
    }
}

fn create_topics_config(entry: ConfigEntry) -> CreateTopicsResponseConfig {
    CreateTopicsResponseConfig {
        name: text(entry.name),
        value: Some(text(entry.value)),
        read_only: entry.read_only,
        config_source: entry.source,
        is_sensitive: entry.sensitive,
        ..Default::default()
    }
}

fn describe_config(
    version: i16,
    include_synonyms: bool,
    entry: ConfigEntry,
) -> DescribeConfigsResponseConfig {
    let synonyms = if include_synonyms && version >= 1 {
        entry
            .synonyms
            .into_iter()
            .map(|synonym| DescribeConfigsResponseSynonym {
                name: text(synonym.name),
                value: Some(text(synonym.value)),
                source: synonym.source,
                ..Default::default()
            })
            .collect()
    } else {
        Vec::new()
    };
    // Documentation is not kept: null, which Kafka's clients accept.
    DescribeConfigsResponseConfig {
        name: text(entry.name),
        value: Some(text(entry.value)),
        read_only: entry.read_only,
        is_default: entry.is_default,
        config_source: entry.source,
        is_sensitive: entry.sensitive,
        synonyms,
        config_type: entry.config_type,
        documentation: None,
        ..Default::default()
    }
}

/// A CreateTopics entry's manual replica assignment, checked as Kafka does: not together with
/// a partition count or replication factor, partitions numbered 0, 1, … each once, and each
/// with a replica list that is neither empty nor repeats a broker. (Brokers that do not exist
/// are refused with the topic's other checks.)
fn check_assignments(
    topic: &crate::protocol::api::create_topics::CreateTopicsRequestTopic,
) -> Result<(), (ErrorCode, String)> {
    if topic.assignments.is_empty() {
        return Ok(());
    }
    if topic.num_partitions != -1 || topic.replication_factor != -1 {
        return Err((
            ErrorCode::InvalidRequest,
            "Both numPartitions or replicationFactor and replicasAssignments were set. Both \
             cannot be used at the same time."
                .into(),
        ));
    }
    let mut indexes: Vec<i32> =
        topic.assignments.iter().map(|assignment| assignment.partition_index).collect();
    indexes.sort_unstable();
    if !indexes.iter().copied().eq(0..topic.assignments.len() as i32) {
        return Err((
            ErrorCode::InvalidReplicaAssignment,
            format!(
                "Partitions should be a consecutive 0-based integer sequence, got {indexes:?}."
            ),
        ));
    }
    for assignment in &topic.assignments {
        let mut brokers = assignment.broker_ids.clone();
        brokers.sort_unstable();
        brokers.dedup();
        if brokers.is_empty() || brokers.len() != assignment.broker_ids.len() {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "Partition {} has an empty or repeating replica list {:?}.",
                    assignment.partition_index, assignment.broker_ids
                ),
            ));
        }
    }
    Ok(())
}

/// The keys that occur more than once in `keys`, each mapped to `true` (not yet answered).
/// Kafka's answer to a resource listed twice in one config request.
const EACH_RESOURCE_ONCE: &str = "Each resource must appear at most once.";

/// An AlterConfigs resource as (type, name), for finding one listed twice.
fn resource_key(resource: &AlterConfigsRequestResource) -> String {
    format!("{}/{}", resource.resource_type, resource.resource_name.as_str())
}

/// An IncrementalAlterConfigs resource as (type, name).
fn incremental_resource_key(resource: &IncrementalAlterConfigsRequestResource) -> String {
    format!("{}/{}", resource.resource_type, resource.resource_name.as_str())
}

/// Kafka's INVALID_REQUEST message for one resource of a config request, or `None`: the
/// resource is listed twice (`twice`), a config lacks the value it needs (`null`), or
/// `names` holds a key twice.
fn config_resource_refusal<'a>(
    twice: bool,
    null: Option<&str>,
    names: impl Iterator<Item = &'a str>,
) -> Option<String> {
    if twice {
        return Some(EACH_RESOURCE_ONCE.to_string());
    }
    if let Some(name) = null {
        return Some(format!("Null value not supported for : {name}"));
    }
    let mut seen = BTreeSet::new();
    let repeated: Vec<&str> = names.filter(|name| !seen.insert(*name)).collect();
    (!repeated.is_empty())
        .then(|| format!("Error due to duplicate config keys: {}", repeated.join(",")))
}

fn repeated(keys: impl Iterator<Item = String>) -> BTreeMap<String, bool> {
    let mut seen = BTreeSet::new();
    let mut repeated = BTreeMap::new();
    for key in keys {
        if !seen.insert(key.clone()) {
            repeated.insert(key, true);
        }
    }
    repeated
}

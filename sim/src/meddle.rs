//! A client that meddles with the group coordinator's topic, `__consumer_offsets`, as a user's
//! tool might: it asks Metadata for it with auto-creation (before any group made it, in most
//! runs), produces to it records keyed as the consumer group's committed offsets with no value
//! (forged tombstones), asks DeleteRecords to drop its records, and asks CreatePartitions to
//! grow it. One of the four each round, a while apart, then it is done. In some runs without
//! a consumer group it also deletes the topic, which Kafka allows: every group's offsets go
//! with it (the churner's probes then find none, and none may come back).
//!
//! The broker must refuse all but the first and the deletion, and answer the first with the topic as the
//! coordinator makes it. Every answer goes into the history ([`Operation::Meddled`]); the
//! checker [`crate::checker::offsets_topic_guarded`] reads them. A forged tombstone that was
//! stored would also make a restart forget acknowledged commits, which
//! [`crate::checker::acknowledged_commits_kept`] sees.

use crate::client::{Next, TOPIC};
use crate::group::GROUP;
use crate::history::{History, Operation};
use bytes::Bytes;
use sluice_core::group::records::{coordinator_partition, encode_offset_key};
use sluice_core::protocol::api::create_partitions::{
    CreatePartitionsRequest, CreatePartitionsRequestTopic,
};
use sluice_core::protocol::api::delete_records::{
    DeleteRecordsRequest, DeleteRecordsRequestPartition, DeleteRecordsRequestTopic,
};
use sluice_core::protocol::api::delete_topics::DeleteTopicsRequest;
use sluice_core::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
use sluice_core::protocol::wire::StrBytes;

/// The coordinator's topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// What a meddler tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Meddle {
    /// Metadata for the offsets topic, allowing auto-creation.
    Metadata,
    /// A produce of forged offset tombstones.
    Produce,
    /// DeleteRecords up to the high watermark.
    DeleteRecords,
    /// CreatePartitions to one more partition.
    Grow,
    /// DeleteTopics of the whole topic: allowed, as in Kafka, and every group goes with it
    /// (only in runs without a consumer group, whose commits it would take).
    Delete,
}

/// The meddler's state.
#[derive(Clone, Debug)]
pub struct Meddler {
    client: u32,
    /// (tick not to act before, what), in tick order.
    plan: Vec<(u64, Meddle)>,
    /// The next step of the plan.
    next: usize,
    /// `offsets.topic.num.partitions` of the broker.
    offsets_partitions: i32,
    /// Partitions of the workload topic (whose offsets the tombstones are keyed as).
    partitions: i32,
}

impl Meddler {
    /// A meddler that tries `plan` in order; the broker places groups on `offsets_partitions`
    /// partitions, and the workload topic has `partitions`.
    pub fn new(
        client: u32,
        plan: Vec<(u64, Meddle)>,
        offsets_partitions: i32,
        partitions: i32,
    ) -> Self {
        assert!(plan.windows(2).all(|pair| pair[0].0 <= pair[1].0), "a plan in tick order");
        Self { client, plan, next: 0, offsets_partitions, partitions }
    }

    /// Whether it has tried everything.
    pub fn done(&self) -> bool {
        self.next == self.plan.len()
    }

    /// One line for liveness failure reports.
    pub fn report(&self) -> String {
        format!("meddle step {}/{}: {:?}", self.next, self.plan.len(), self.plan.get(self.next))
    }

    /// What to send next.
    pub fn poll_request(&mut self, now: u64) -> Next {
        let Some(&(at, meddle)) = self.plan.get(self.next) else { return Next::Idle };
        if now < at {
            return Next::WakeAt(at);
        }
        let (request, version) = match meddle {
            Meddle::Metadata => {
                let topic = MetadataRequestTopic {
                    name: Some(StrBytes::from_static(OFFSETS_TOPIC)),
                    ..Default::default()
                };
                let request = MetadataRequest {
                    topics: Some(vec![topic]),
                    allow_auto_topic_creation: true,
                    ..Default::default()
                };
                (Request::Metadata(request), 9)
            }
            Meddle::Produce => (Request::Produce(self.forged_tombstones()), 9),
            Meddle::DeleteRecords => {
                let partition = DeleteRecordsRequestPartition {
                    partition_index: self.group_partition(),
                    offset: -1,
                    ..Default::default()
                };
                let topic = DeleteRecordsRequestTopic {
                    name: StrBytes::from_static(OFFSETS_TOPIC),
                    partitions: vec![partition],
                    ..Default::default()
                };
                let request = DeleteRecordsRequest {
                    topics: vec![topic],
                    timeout_ms: 30_000,
                    ..Default::default()
                };
                (Request::DeleteRecords(request), 2)
            }
            Meddle::Delete => {
                let request = DeleteTopicsRequest {
                    topic_names: vec![StrBytes::from_static(OFFSETS_TOPIC)],
                    timeout_ms: 30_000,
                    ..Default::default()
                };
                (Request::DeleteTopics(request), 4)
            }
            Meddle::Grow => {
                let topic = CreatePartitionsRequestTopic {
                    name: StrBytes::from_static(OFFSETS_TOPIC),
                    count: self.offsets_partitions + 1,
                    ..Default::default()
                };
                let request = CreatePartitionsRequest {
                    topics: vec![topic],
                    timeout_ms: 30_000,
                    ..Default::default()
                };
                (Request::CreatePartitions(request), 3)
            }
        };
        Next::Send { request, version, timeout_ms: None }
    }

    /// The offsets topic's partition that holds the consumer group's records.
    fn group_partition(&self) -> i32 {
        coordinator_partition(GROUP, self.offsets_partitions)
    }

    /// A produce, to the group's partition of the offsets topic, of one batch of tombstones
    /// keyed as the group's offset of every partition of the workload topic.
    fn forged_tombstones(&self) -> ProduceRequest {
        let keys: Vec<Bytes> = (0..self.partitions)
            .map(|partition| encode_offset_key(GROUP, TOPIC, partition))
            .collect();
        let records: Vec<NewRecord<'_>> = keys
            .iter()
            .map(|key| NewRecord {
                key: Some(key),
                value: None,
                timestamp_ms: 1_700_000_000_000,
                ..Default::default()
            })
            .collect();
        let batch = build_batch(&records, BatchOptions::default());
        ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![ProduceRequestTopic {
                name: StrBytes::from_static(OFFSETS_TOPIC),
                partition_data: vec![ProduceRequestPartition {
                    index: self.group_partition(),
                    records: Some(Bytes::from(batch)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// The request in flight was lost: that step is over (it may have reached the broker).
    pub fn on_lost(&mut self) {
        self.next += 1;
    }

    /// Handles a response: the answer goes into the history; never backs off.
    pub fn on_response(&mut self, response: Response, history: &mut History) -> bool {
        let Some(&(_, meddle)) = self.plan.get(self.next) else { return false };
        self.next += 1;
        let (error_code, partitions, internal) = match response {
            Response::Metadata(answer) => match answer.topics.first() {
                Some(topic) => (topic.error_code, topic.partitions.len() as i32, topic.is_internal),
                None => (-1, 0, false),
            },
            Response::Produce(answer) => {
                let partition =
                    answer.responses.first().and_then(|t| t.partition_responses.first());
                (partition.map_or(-1, |p| p.error_code), 0, false)
            }
            Response::DeleteRecords(answer) => {
                let partition = answer.topics.first().and_then(|t| t.partitions.first());
                (partition.map_or(-1, |p| p.error_code), 0, false)
            }
            Response::CreatePartitions(answer) => {
                (answer.results.first().map_or(-1, |result| result.error_code), 0, false)
            }
            Response::DeleteTopics(answer) => {
                (answer.responses.first().map_or(-1, |topic| topic.error_code), 0, false)
            }
            _ => (-1, 0, false),
        };
        history.push(Operation::Meddled {
            client: self.client,
            meddle,
            error_code,
            partitions,
            internal,
        });
        false
    }
}

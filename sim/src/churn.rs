//! A client that deletes and re-creates a topic of its own, as a user who drops a topic and
//! makes it again with the same name: create [`CHURN_TOPIC`], produce `records` records with
//! acks=all (`d<incarnation>-r<n>`), read them all back from offset 0, delete the topic,
//! wait `linger_ms` (a restart may come in between) and fetch the deleted topic from offset 0
//! once, and again, `cycles` times in all. Before each deletion it commits its position for
//! group [`CHURN_GROUP`] (metadata `d<incarnation>`); after the late fetch, and again once
//! the topic is made again, it asks for the group's committed offsets: the deleted topic's
//! must be gone.
//!
//! A churner that forgets offsets also deletes its group's offsets itself after each commit,
//! before deleting the topic: with OffsetDelete in odd incarnations and DeleteGroups in even
//! ones, then asks for them again (they must be gone).
//!
//! An idempotent churner keeps its producer id and epoch from one incarnation to the next and
//! starts each incarnation's sequences at 0, as a producer does on a partition that knows it
//! not: a topic made again must not remember the deleted one's producers. (It takes a new id
//! when a produce of the incarnation before lost its answer: that request may still arrive,
//! and would then be the new partition's first batch of the old id.)
//!
//! The history gets every record it reads, every deletion it saw acknowledged, and every
//! produce whose answer it lost (such a request may still reach the broker later, even after
//! the topic was made again, as a name-based Produce does in Kafka). The checker
//! [`crate::checker::deleted_topics_stay_deleted`] reads them.

use crate::client::Next;
use crate::group::read_records;
use crate::history::{History, Operation};
use bytes::Bytes;
use sluice_core::protocol::api::create_topics::{
    CreateTopicsRequest, CreateTopicsRequestConfig, CreateTopicsRequestTopic,
};
use sluice_core::protocol::api::delete_groups::DeleteGroupsRequest;
use sluice_core::protocol::api::delete_topics::DeleteTopicsRequest;
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::init_producer_id::InitProducerIdRequest;
use sluice_core::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use sluice_core::protocol::api::offset_delete::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use sluice_core::protocol::api::offset_fetch::OffsetFetchRequest;
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
use sluice_core::protocol::wire::StrBytes;
use sluice_core::protocol::ErrorCode;

/// The topic the churner deletes and re-creates.
pub const CHURN_TOPIC: &str = "sim-churn";

/// The group the churner commits its position for, as a standalone consumer.
pub const CHURN_GROUP: &str = "sim-churn-group";

/// Where the churner is in its cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Create,
    Init,
    Produce,
    Read,
    Commit,
    /// Delete the group's offset of the topic (odd incarnations) or the whole group.
    Forget,
    Delete,
    /// Fetch the deleted topic once, at this tick.
    Probe(u64),
    /// Ask for the group's committed offsets after a deletion of the topic or of the offsets,
    /// or after the topic was made again.
    OffsetProbe(After),
    Done,
}

/// What an offset probe follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    TopicDeleted,
    TopicCreated,
    OffsetsDeleted,
}

/// The churner's state.
#[derive(Clone, Debug)]
pub struct Churner {
    client: u32,
    cycles: u32,
    records: u32,
    /// `segment.bytes` of each incarnation, so that a deletion removes several segments.
    segment_bytes: u32,
    /// How long after a deletion it fetches the deleted topic.
    linger_ms: u64,
    /// The topic incarnation it works on, from 1.
    incarnation: u32,
    step: Step,
    /// Records of this incarnation acknowledged (each produce carries the next one).
    produced: u32,
    /// Which of this incarnation's records it has read.
    read: Vec<bool>,
    position: i64,
    /// The value of the produce request in flight, if that is what is in flight.
    producing: Option<String>,
    prepared: Option<String>,
    idempotent: bool,
    /// An idempotent churner's producer id and epoch, and the record its sequence 0 was.
    producer: Option<(i64, i16, u32)>,
    /// A produce of this incarnation lost its answer.
    lost: bool,
    /// Whether it deletes its group's offsets after each commit.
    forgets_offsets: bool,
}

impl Churner {
    /// A churner that makes `cycles` incarnations of `records` records each.
    pub fn new(
        client: u32,
        cycles: u32,
        records: u32,
        segment_bytes: u32,
        linger_ms: u64,
        idempotent: bool,
    ) -> Self {
        assert!(cycles > 0 && records > 0);
        Self {
            idempotent,
            producer: None,
            lost: false,
            client,
            cycles,
            records,
            segment_bytes,
            linger_ms,
            incarnation: 1,
            step: Step::Create,
            produced: 0,
            read: vec![false; records as usize],
            position: 0,
            producing: None,
            prepared: None,
            forgets_offsets: false,
        }
    }

    /// The same churner, deleting its group's offsets itself after each commit.
    pub fn forgetting_offsets(self) -> Self {
        Self { forgets_offsets: true, ..self }
    }

    /// Whether every cycle is complete.
    pub fn done(&self) -> bool {
        self.step == Step::Done
    }

    /// One line for liveness failure reports.
    pub fn report(&self) -> String {
        let read = self.read.iter().filter(|read| **read).count();
        format!(
            "churn incarnation={}/{} step={:?} produced={} read={read}/{} position={}",
            self.incarnation.min(self.cycles),
            self.cycles,
            self.step,
            self.produced,
            self.records,
            self.position
        )
    }

    fn value(&self, record: u32) -> String {
        format!("d{}-r{record}", self.incarnation)
    }

    /// What to send next.
    pub fn poll_request(&mut self, now: u64) -> Next {
        self.prepared = None;
        let send = |request, version| Next::Send { request, version, timeout_ms: None };
        match self.step {
            Step::Create => {
                let config = CreateTopicsRequestConfig {
                    name: StrBytes::from_static("segment.bytes"),
                    value: Some(StrBytes::from_string(self.segment_bytes.to_string())),
                    ..Default::default()
                };
                let topic = CreateTopicsRequestTopic {
                    name: StrBytes::from_static(CHURN_TOPIC),
                    num_partitions: 1,
                    replication_factor: 1,
                    configs: vec![config],
                    ..Default::default()
                };
                let request = CreateTopicsRequest { topics: vec![topic], ..Default::default() };
                send(Request::CreateTopics(request), 7)
            }
            Step::Produce => {
                let value = self.value(self.produced);
                let record = NewRecord {
                    value: Some(value.as_bytes()),
                    timestamp_ms: 1_700_000_000_000,
                    ..Default::default()
                };
                let options = match self.producer {
                    Some((producer_id, producer_epoch, first)) => BatchOptions {
                        producer_id,
                        producer_epoch,
                        base_sequence: (self.produced - first) as i32,
                    },
                    None => BatchOptions::default(),
                };
                let batch = build_batch(&[record], options);
                self.prepared = Some(value);
                let partition = ProduceRequestPartition {
                    index: 0,
                    records: Some(Bytes::from(batch)),
                    ..Default::default()
                };
                let topic = ProduceRequestTopic {
                    name: StrBytes::from_static(CHURN_TOPIC),
                    partition_data: vec![partition],
                    ..Default::default()
                };
                let request = ProduceRequest {
                    acks: -1,
                    timeout_ms: 30_000,
                    topic_data: vec![topic],
                    ..Default::default()
                };
                send(Request::Produce(request), 9)
            }
            Step::Init => {
                let request = InitProducerIdRequest {
                    transaction_timeout_ms: 60_000,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                };
                send(Request::InitProducerId(request), 4)
            }
            Step::Probe(at) if now < at => Next::WakeAt(at),
            Step::Read | Step::Probe(_) => {
                let partition = FetchRequestPartition {
                    partition: 0,
                    fetch_offset: self.position,
                    partition_max_bytes: 64 * 1024,
                    ..Default::default()
                };
                let topic = FetchRequestTopic {
                    topic: StrBytes::from_static(CHURN_TOPIC),
                    partitions: vec![partition],
                    ..Default::default()
                };
                let request = FetchRequest {
                    max_wait_ms: 100,
                    min_bytes: 1,
                    max_bytes: 64 * 1024,
                    topics: vec![topic],
                    ..Default::default()
                };
                send(Request::Fetch(request), 12)
            }
            Step::Commit => {
                let partition = OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: self.position,
                    committed_metadata: Some(StrBytes::from_string(format!(
                        "d{}",
                        self.incarnation
                    ))),
                    ..Default::default()
                };
                let topic = OffsetCommitRequestTopic {
                    name: StrBytes::from_static(CHURN_TOPIC),
                    partitions: vec![partition],
                    ..Default::default()
                };
                let request = OffsetCommitRequest {
                    group_id: StrBytes::from_static(CHURN_GROUP),
                    generation_id_or_member_epoch: -1,
                    topics: vec![topic],
                    ..Default::default()
                };
                send(Request::OffsetCommit(request), 7)
            }
            Step::Forget if self.incarnation % 2 == 1 => {
                let topic = OffsetDeleteRequestTopic {
                    name: StrBytes::from_static(CHURN_TOPIC),
                    partitions: vec![OffsetDeleteRequestPartition {
                        partition_index: 0,
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                let request = OffsetDeleteRequest {
                    group_id: StrBytes::from_static(CHURN_GROUP),
                    topics: vec![topic],
                    ..Default::default()
                };
                send(Request::OffsetDelete(request), 0)
            }
            Step::Forget => {
                let request = DeleteGroupsRequest {
                    groups_names: vec![StrBytes::from_static(CHURN_GROUP)],
                    ..Default::default()
                };
                send(Request::DeleteGroups(request), 2)
            }
            Step::OffsetProbe(_) => {
                let request = OffsetFetchRequest {
                    group_id: StrBytes::from_static(CHURN_GROUP),
                    ..Default::default()
                };
                send(Request::OffsetFetch(request), 7)
            }
            Step::Delete => {
                let request = DeleteTopicsRequest {
                    topic_names: vec![StrBytes::from_static(CHURN_TOPIC)],
                    timeout_ms: 30_000,
                    ..Default::default()
                };
                send(Request::DeleteTopics(request), 4)
            }
            Step::Done => Next::Idle,
        }
    }

    /// The request prepared by the last `poll_request` was sent.
    pub fn on_sent(&mut self, history: &mut History) {
        self.producing = self.prepared.take();
        if self.step == Step::Delete {
            let incarnation = self.incarnation;
            history.push(Operation::ChurnDeleteSent { client: self.client, incarnation });
        }
    }

    /// The request in flight was lost: a produce may still arrive, later.
    pub fn on_lost(&mut self, history: &mut History) {
        if self.step == Step::Commit {
            let incarnation = self.incarnation;
            history.push(Operation::ChurnCommitLost { client: self.client, incarnation });
        }
        if let Some(value) = self.producing.take() {
            self.lost = true;
            history.push(Operation::ChurnProduceLost { client: self.client, value });
        }
    }

    /// Handles a response; true to back off before the next request.
    pub fn on_response(&mut self, now: u64, response: Response, history: &mut History) -> bool {
        self.producing = None;
        match (self.step, response) {
            (Step::Create, Response::CreateTopics(response)) => {
                let code = response.topics.first().map_or(-1, |topic| topic.error_code);
                // TOPIC_ALREADY_EXISTS: an earlier answer was lost. (Were it an incarnation
                // whose deletion was acknowledged, the checker sees its records when they
                // are read.)
                if code != 0 && code != ErrorCode::TopicAlreadyExists.code() {
                    return true;
                }
                // A new incarnation: sequences from 0, on a new id after a lost produce.
                if self.lost {
                    self.producer = None;
                }
                self.lost = false;
                self.producer = self.producer.map(|(id, epoch, _)| (id, epoch, 0));
                self.step = Step::OffsetProbe(After::TopicCreated);
                self.produced = 0;
                self.read.iter_mut().for_each(|read| *read = false);
                self.position = 0;
                false
            }
            (Step::Init, Response::InitProducerId(response)) => {
                if response.error_code != 0 {
                    return true;
                }
                self.producer =
                    Some((response.producer_id, response.producer_epoch, self.produced));
                self.step = Step::Produce;
                false
            }
            (Step::Produce, Response::Produce(response)) => {
                let answer =
                    response.responses.first().and_then(|topic| topic.partition_responses.first());
                let code = answer.map_or(-1, |answer| answer.error_code);
                if code == ErrorCode::UnknownProducerId.code()
                    || code == ErrorCode::OutOfOrderSequenceNumber.code()
                {
                    // The broker lost this id's state: go on with a new id.
                    self.producer = None;
                    self.step = Step::Init;
                }
                if code != 0 {
                    return true;
                }
                self.produced += 1;
                if self.produced == self.records {
                    self.step = Step::Read;
                }
                false
            }
            (Step::Read, Response::Fetch(response)) => {
                let answer = response.responses.first().and_then(|topic| topic.partitions.first());
                let Some(answer) = answer.filter(|answer| answer.error_code == 0) else {
                    return true;
                };
                let records = answer.records.as_deref().unwrap_or_default();
                let (client, incarnation) = (self.client, self.incarnation);
                let prefix = format!("d{incarnation}-r");
                let read = &mut self.read;
                read_records(records, &mut self.position, |offset, value| {
                    let record = value.strip_prefix(&prefix).and_then(|rest| rest.parse().ok());
                    if let Some(slot) = record.and_then(|record: usize| read.get_mut(record)) {
                        *slot = true;
                    }
                    history.push(Operation::ChurnConsumed { client, incarnation, offset, value });
                });
                if self.read.iter().all(|read| *read) {
                    self.step = Step::Commit;
                }
                false
            }
            (Step::Delete, Response::DeleteTopics(response)) => {
                let code = response.responses.first().map_or(-1, |topic| topic.error_code);
                // UNKNOWN_TOPIC_OR_PARTITION: an earlier answer was lost.
                if code != 0 && code != ErrorCode::UnknownTopicOrPartition.code() {
                    return true;
                }
                history.push(Operation::ChurnDeleted {
                    client: self.client,
                    incarnation: self.incarnation,
                });
                self.incarnation += 1;
                self.position = 0;
                self.step = Step::Probe(now + self.linger_ms);
                false
            }
            (Step::Probe(_), Response::Fetch(response)) => {
                // UNKNOWN_TOPIC_OR_PARTITION, as it should be; or records, which the checker
                // judges (a late CreateTopics or produce whose answer was lost may have made
                // the topic again, with such a produce's record in it).
                let answer = response.responses.first().and_then(|topic| topic.partitions.first());
                if let Some(answer) = answer.filter(|answer| answer.error_code == 0) {
                    let records = answer.records.as_deref().unwrap_or_default();
                    let (client, incarnation) = (self.client, self.incarnation);
                    read_records(records, &mut self.position, |offset, value| {
                        history.push(Operation::ChurnConsumed {
                            client,
                            incarnation,
                            offset,
                            value,
                        });
                    });
                }
                self.step = Step::OffsetProbe(After::TopicDeleted);
                false
            }
            (Step::Commit, Response::OffsetCommit(response)) => {
                let answer = response.topics.first().and_then(|topic| topic.partitions.first());
                if answer.map_or(-1, |answer| answer.error_code) != 0 {
                    return true;
                }
                self.step = if self.forgets_offsets { Step::Forget } else { Step::Delete };
                false
            }
            (Step::Forget, response) => {
                // GROUP_ID_NOT_FOUND: an earlier answer was lost (the group had no other
                // offset, and no member).
                let code = match &response {
                    Response::OffsetDelete(answer) if answer.error_code != 0 => answer.error_code,
                    Response::OffsetDelete(answer) => answer
                        .topics
                        .first()
                        .and_then(|topic| topic.partitions.first())
                        .map_or(-1, |partition| partition.error_code),
                    Response::DeleteGroups(answer) => {
                        answer.results.first().map_or(-1, |result| result.error_code)
                    }
                    other => panic!("churner forgetting offsets got {other:?}"),
                };
                if code != 0 && code != sluice_core::group::error::GROUP_ID_NOT_FOUND {
                    return true;
                }
                let group = matches!(response, Response::DeleteGroups(_));
                history.push(Operation::ChurnOffsetsForgotten {
                    client: self.client,
                    incarnation: self.incarnation,
                    group,
                });
                self.step = Step::OffsetProbe(After::OffsetsDeleted);
                false
            }
            (Step::OffsetProbe(after), Response::OffsetFetch(response)) => {
                if response.error_code != 0 {
                    return true;
                }
                let committed = response
                    .topics
                    .iter()
                    .filter(|topic| topic.name.as_str() == CHURN_TOPIC)
                    .flat_map(|topic| topic.partitions.iter())
                    .find(|partition| {
                        partition.partition_index == 0 && partition.committed_offset >= 0
                    })
                    .map(|partition| {
                        let metadata = partition.metadata.as_ref().map(|text| text.to_string());
                        (partition.committed_offset, metadata.unwrap_or_default())
                    });
                history.push(Operation::ChurnOffsetProbed {
                    client: self.client,
                    deleted: self.incarnation - 1,
                    committed,
                });
                self.step = match after {
                    After::TopicCreated if self.idempotent && self.producer.is_none() => Step::Init,
                    After::TopicCreated => Step::Produce,
                    After::OffsetsDeleted => Step::Delete,
                    After::TopicDeleted if self.incarnation > self.cycles => Step::Done,
                    After::TopicDeleted => Step::Create,
                };
                false
            }
            (step, response) => panic!("churner in {step:?} got {response:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::protocol::api::create_topics::{
        CreateTopicsResponse, CreateTopicsResponseTopic,
    };
    use sluice_core::protocol::api::delete_topics::{
        DeleteTopicsResponse, DeleteTopicsResponseTopic,
    };
    use sluice_core::protocol::api::fetch::{
        FetchResponse, FetchResponsePartition, FetchResponseTopic,
    };
    use sluice_core::protocol::api::offset_fetch::OffsetFetchResponse;
    use sluice_core::protocol::api::produce::{
        ProduceResponse, ProduceResponsePartition, ProduceResponseTopic,
    };

    fn created(code: i16) -> Response {
        let topic = CreateTopicsResponseTopic { error_code: code, ..Default::default() };
        Response::CreateTopics(CreateTopicsResponse { topics: vec![topic], ..Default::default() })
    }

    fn produced(code: i16) -> Response {
        let partition = ProduceResponsePartition { error_code: code, ..Default::default() };
        let topic =
            ProduceResponseTopic { partition_responses: vec![partition], ..Default::default() };
        Response::Produce(ProduceResponse { responses: vec![topic], ..Default::default() })
    }

    fn deleted(code: i16) -> Response {
        let topic = DeleteTopicsResponseTopic { error_code: code, ..Default::default() };
        Response::DeleteTopics(DeleteTopicsResponse {
            responses: vec![topic],
            ..Default::default()
        })
    }

    #[test]
    fn a_lost_produce_is_recorded_and_a_deletion_is_followed_by_one_late_fetch() {
        let mut history = History::default();
        let mut churner = Churner::new(4, 2, 1, 1024, 500, false);
        let create = churner.poll_request(0);
        assert!(matches!(create, Next::Send { request: Request::CreateTopics(_), .. }));
        churner.on_sent(&mut history);
        let storage_error = ErrorCode::KafkaStorageError.code();
        assert!(churner.on_response(0, created(storage_error), &mut history));
        churner.poll_request(0);
        churner.on_sent(&mut history);
        let exists = ErrorCode::TopicAlreadyExists.code();
        assert!(!churner.on_response(0, created(exists), &mut history));
        // Made: it asks for its group's offsets first.
        let fetch = churner.poll_request(0);
        assert!(matches!(fetch, Next::Send { request: Request::OffsetFetch(_), .. }));
        churner.on_sent(&mut history);
        let answer = Response::OffsetFetch(OffsetFetchResponse::default());
        assert!(!churner.on_response(0, answer, &mut history));
        history = History::default();
        let produce = churner.poll_request(0);
        assert!(matches!(produce, Next::Send { request: Request::Produce(_), .. }));
        churner.on_sent(&mut history);
        churner.on_lost(&mut history);
        churner.poll_request(0);
        churner.on_sent(&mut history);
        assert!(!churner.on_response(0, produced(0), &mut history));
        // Reading is tested through the swarm; skip to the deletion.
        churner.step = Step::Delete;
        churner.poll_request(0);
        churner.on_sent(&mut history);
        assert!(churner.on_response(10, deleted(storage_error), &mut history));
        churner.poll_request(10);
        churner.on_sent(&mut history);
        let unknown = ErrorCode::UnknownTopicOrPartition.code();
        assert!(!churner.on_response(10, deleted(unknown), &mut history));
        assert_eq!(
            history.operations,
            vec![
                Operation::ChurnProduceLost { client: 4, value: "d1-r0".into() },
                Operation::ChurnDeleteSent { client: 4, incarnation: 1 },
                Operation::ChurnDeleteSent { client: 4, incarnation: 1 },
                Operation::ChurnDeleted { client: 4, incarnation: 1 },
            ]
        );
        // It fetches the deleted topic once, 500 ms after the deletion, then makes it again.
        assert_eq!((churner.incarnation, churner.step), (2, Step::Probe(510)));
        assert!(matches!(churner.poll_request(100), Next::WakeAt(510)));
        let probe = churner.poll_request(510);
        assert!(matches!(probe, Next::Send { request: Request::Fetch(_), .. }));
        churner.on_sent(&mut history);
        let partition = FetchResponsePartition { error_code: unknown, ..Default::default() };
        let topic = FetchResponseTopic { partitions: vec![partition], ..Default::default() };
        let answer = FetchResponse { responses: vec![topic], ..Default::default() };
        assert!(!churner.on_response(510, Response::Fetch(answer), &mut history));
        // Then it asks for the group's committed offsets, and records what it was told.
        let fetch = churner.poll_request(510);
        assert!(matches!(fetch, Next::Send { request: Request::OffsetFetch(_), .. }));
        churner.on_sent(&mut history);
        let answer = Response::OffsetFetch(OffsetFetchResponse::default());
        assert!(!churner.on_response(511, answer, &mut history));
        assert_eq!(
            history.operations.last(),
            Some(&Operation::ChurnOffsetProbed { client: 4, deleted: 1, committed: None })
        );
        assert_eq!(churner.step, Step::Create);
    }
}

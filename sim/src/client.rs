//! Simulated Kafka clients. Each keeps one request in flight, retries as real clients do
//! (after a timeout or a broken connection, with the same batch and, for idempotent producers,
//! the same sequence), and writes every outcome into the history.

use crate::history::{History, Operation};
use bytes::Bytes;
use sluice_core::protocol::api::create_topics::{CreateTopicsRequest, CreateTopicsRequestTopic};
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::init_producer_id::InitProducerIdRequest;
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::record_batch::{
    build_batch, BatchHeader, BatchOptions, NewRecord, Records,
};
use sluice_core::protocol::wire::StrBytes;
use sluice_core::protocol::ErrorCode;

/// The topic every simulated client uses.
pub const TOPIC: &str = "sim";

/// What a client does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Creates the topic, then is done.
    Admin {
        /// Partitions to create.
        partitions: i32,
    },
    /// Produces `batches` batches to one partition.
    Producer {
        /// Partition.
        partition: i32,
        /// -1 or 1.
        acks: i16,
        /// Whether it uses InitProducerId and sequences.
        idempotent: bool,
        /// Batches to produce in all.
        batches: u32,
    },
    /// Reads one partition from the beginning, forever (or until it reaches `until`).
    Consumer {
        /// Partition.
        partition: i32,
    },
}

#[derive(Clone, Debug)]
struct Batch {
    values: Vec<String>,
    sequence: i32,
}

/// One simulated client.
#[derive(Clone, Debug)]
pub struct Client {
    /// Its id.
    pub id: u32,
    /// What it does.
    pub role: Role,
    next_batch: u32,
    current: Option<Batch>,
    producer_id: i64,
    producer_epoch: i16,
    next_sequence: i32,
    /// Consumer position.
    pub position: i64,
    /// Whether the workload of this client is complete.
    pub done: bool,
}

impl Client {
    /// A client with `role`.
    pub fn new(id: u32, role: Role) -> Self {
        Self {
            id,
            role,
            next_batch: 0,
            current: None,
            producer_id: -1,
            producer_epoch: -1,
            next_sequence: 0,
            position: 0,
            done: false,
        }
    }

    /// The next request to send, with its version, or `None` when idle or done.
    pub fn next_request(&mut self) -> Option<(Request, i16)> {
        match self.role.clone() {
            Role::Admin { partitions } if !self.done => {
                let topic = CreateTopicsRequestTopic {
                    name: StrBytes::from_static(TOPIC),
                    num_partitions: partitions,
                    replication_factor: 1,
                    ..Default::default()
                };
                Some((
                    Request::CreateTopics(CreateTopicsRequest {
                        topics: vec![topic],
                        ..Default::default()
                    }),
                    7,
                ))
            }
            Role::Admin { .. } => None,
            Role::Producer { partition, acks, idempotent, batches } => {
                if self.done {
                    return None;
                }
                if idempotent && self.producer_id < 0 {
                    let request = InitProducerIdRequest {
                        transaction_timeout_ms: 60_000,
                        ..Default::default()
                    };
                    return Some((Request::InitProducerId(request), 4));
                }
                if self.current.is_none() {
                    if self.next_batch >= batches {
                        self.done = true;
                        return None;
                    }
                    let count = 1 + (self.next_batch % 4) as usize;
                    let values = (0..count)
                        .map(|index| format!("c{}-b{}-r{index}", self.id, self.next_batch))
                        .collect();
                    self.current = Some(Batch { values, sequence: self.next_sequence });
                }
                let batch = self.current.as_ref().expect("set above");
                let records: Vec<NewRecord<'_>> = batch
                    .values
                    .iter()
                    .map(|value| NewRecord {
                        value: Some(value.as_bytes()),
                        timestamp_ms: 1_700_000_000_000,
                        ..Default::default()
                    })
                    .collect();
                let options = if idempotent {
                    BatchOptions {
                        producer_id: self.producer_id,
                        producer_epoch: self.producer_epoch,
                        base_sequence: batch.sequence,
                    }
                } else {
                    BatchOptions::default()
                };
                let records = Bytes::from(build_batch(&records, options));
                let produce = ProduceRequest {
                    acks,
                    timeout_ms: 30_000,
                    topic_data: vec![ProduceRequestTopic {
                        name: StrBytes::from_static(TOPIC),
                        partition_data: vec![ProduceRequestPartition {
                            index: partition,
                            records: Some(records),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                Some((Request::Produce(produce), 9))
            }
            Role::Consumer { partition } => {
                let fetch = FetchRequest {
                    max_wait_ms: 100,
                    min_bytes: 1,
                    max_bytes: 64 * 1024,
                    topics: vec![FetchRequestTopic {
                        topic: StrBytes::from_static(TOPIC),
                        partitions: vec![FetchRequestPartition {
                            partition,
                            fetch_offset: self.position,
                            partition_max_bytes: 64 * 1024,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                Some((Request::Fetch(fetch), 12))
            }
        }
    }

    /// Handles a response. Returns true if the client should back off before its next request.
    pub fn on_response(&mut self, response: Response, history: &mut History) -> bool {
        match (&self.role, response) {
            (Role::Admin { .. }, Response::CreateTopics(response)) => {
                let code = response.topics.first().map_or(-1, |topic| topic.error_code);
                if code == 0 || code == ErrorCode::TopicAlreadyExists.code() {
                    self.done = true;
                    return false;
                }
                true
            }
            (Role::Producer { .. }, Response::InitProducerId(response)) => {
                if response.error_code == 0 {
                    self.producer_id = response.producer_id;
                    self.producer_epoch = response.producer_epoch;
                    return false;
                }
                true
            }
            (Role::Producer { partition, acks, idempotent, .. }, Response::Produce(response)) => {
                let (partition, acks, idempotent) = (*partition, *acks, *idempotent);
                let answer =
                    response.responses.first().and_then(|topic| topic.partition_responses.first());
                let Some(answer) = answer else { return true };
                if answer.error_code != 0 {
                    history.push(Operation::ProduceFailed {
                        client: self.id,
                        error_code: answer.error_code,
                    });
                    // An unknown producer (its state was lost with the data) starts over.
                    if answer.error_code == ErrorCode::UnknownProducerId.code()
                        || answer.error_code == ErrorCode::OutOfOrderSequenceNumber.code()
                    {
                        self.producer_id = -1;
                        self.next_sequence = 0;
                        if let Some(batch) = &mut self.current {
                            batch.sequence = 0;
                        }
                    }
                    return true;
                }
                let batch = self.current.take().expect("a produce was in flight");
                self.next_sequence = self.next_sequence.wrapping_add(batch.values.len() as i32);
                history.push(Operation::ProduceAcked {
                    client: self.id,
                    partition,
                    acks,
                    idempotent,
                    base_offset: answer.base_offset,
                    values: batch.values,
                });
                self.next_batch += 1;
                false
            }
            (Role::Consumer { partition }, Response::Fetch(response)) => {
                let partition = *partition;
                let Some(answer) =
                    response.responses.first().and_then(|topic| topic.partitions.first())
                else {
                    return true;
                };
                if answer.error_code != 0 {
                    // Before the topic exists the partition is unknown, and a log taken offline
                    // by an fsync error refuses reads until restart: both are retried. Only a
                    // lost position (out of range) is a violation.
                    if answer.error_code == ErrorCode::OffsetOutOfRange.code() {
                        history.push(Operation::PositionReset {
                            client: self.id,
                            error_code: answer.error_code,
                        });
                    }
                    return true;
                }
                let records = answer.records.clone().unwrap_or_default();
                let mut read_any = false;
                let mut at = 0;
                while at < records.len() {
                    let Ok(header) = BatchHeader::parse(&records[at..]) else { break };
                    let end = at + header.size_bytes();
                    if end > records.len() {
                        break;
                    }
                    for record in Records::new(&header, &records[at + 61..end]).flatten() {
                        let offset = header.base_offset + i64::from(record.offset_delta);
                        if offset < self.position {
                            continue;
                        }
                        let value =
                            String::from_utf8_lossy(record.value.unwrap_or_default()).into_owned();
                        history.push(Operation::Consumed {
                            client: self.id,
                            partition,
                            offset,
                            value,
                        });
                        self.position = offset + 1;
                        read_any = true;
                    }
                    at = end;
                }
                // An empty answer already waited on the broker (long poll): ask again at once.
                let _ = read_any;
                false
            }
            _ => true,
        }
    }

    /// The request was lost (timeout or broken connection): the same request goes again.
    pub fn on_lost(&mut self, history: &mut History) {
        if matches!(self.role, Role::Producer { .. }) && self.current.is_some() {
            history.push(Operation::RequestLost { client: self.id });
        }
    }
}

//! A producer that races the churner ([`crate::churn`]): it writes single records
//! `z<client>-r<n>` to [`CHURN_TOPIC`] with acks=all, one request at a time, every `every_ms`,
//! `count` times, to whatever incarnation of the topic exists. Its produces wait on syncs
//! while the churner deletes the topic, and arrive while the topic is gone or made again.
//!
//! Each record is tried once: answered with an error, it is given up; a lost answer goes into
//! the history as [`Operation::ChurnProduceLost`] (the request may still land later, in any
//! incarnation). Each acknowledgement goes in as [`Operation::RaceAcked`]. The checker
//! [`crate::checker::deleted_topics_stay_deleted`] reads them with the churner's deletions: a
//! record acknowledged before the churner sent its DeleteTopics was in the incarnation that
//! deletion took, and must never be read after the deletion was acknowledged.

use crate::churn::CHURN_TOPIC;
use crate::client::{Next, RECORDS_TIME_MS};
use crate::history::{History, Operation};
use bytes::Bytes;
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::record_batch::{build_batch, BatchOptions, NewRecord};
use sluice_core::protocol::wire::StrBytes;

/// The racer's state.
#[derive(Clone, Debug)]
pub struct Racer {
    client: u32,
    every_ms: u64,
    count: u32,
    /// Records tried so far.
    next: u32,
    /// The value prepared by `poll_request`, then in flight once sent.
    prepared: Option<String>,
    in_flight: Option<String>,
}

impl Racer {
    /// A racer that tries `count` records, one every `every_ms` (from tick `every_ms` on).
    pub fn new(client: u32, every_ms: u64, count: u32) -> Self {
        assert!(every_ms > 0, "a racer waits between records");
        Self { client, every_ms, count, next: 0, prepared: None, in_flight: None }
    }

    /// Whether it has tried every record.
    pub fn done(&self) -> bool {
        self.next == self.count
    }

    /// One line for liveness failure reports.
    pub fn report(&self) -> String {
        format!("race record {}/{} in flight={:?}", self.next, self.count, self.in_flight)
    }

    /// What to send next.
    pub fn poll_request(&mut self, now: u64) -> Next {
        if self.done() {
            return Next::Idle;
        }
        let at = u64::from(self.next + 1) * self.every_ms;
        if now < at {
            return Next::WakeAt(at);
        }
        let value = format!("z{}-r{}", self.client, self.next);
        let record = NewRecord {
            value: Some(value.as_bytes()),
            timestamp_ms: RECORDS_TIME_MS,
            ..Default::default()
        };
        let batch = build_batch(&[record], BatchOptions::default());
        self.prepared = Some(value);
        let request = ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![ProduceRequestTopic {
                name: StrBytes::from_static(CHURN_TOPIC),
                partition_data: vec![ProduceRequestPartition {
                    index: 0,
                    records: Some(Bytes::from(batch)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        Next::Send { request: Request::Produce(request), version: 9, timeout_ms: None }
    }

    /// The request prepared by the last `poll_request` was sent.
    pub fn on_sent(&mut self) {
        self.in_flight = self.prepared.take();
    }

    /// The request in flight was lost: its record may still land, in any incarnation.
    pub fn on_lost(&mut self, history: &mut History) {
        if let Some(value) = self.in_flight.take() {
            history.push(Operation::ChurnProduceLost { client: self.client, value });
            self.next += 1;
        }
    }

    /// Handles a response: an acknowledgement goes into the history; never backs off.
    pub fn on_response(&mut self, response: Response, history: &mut History) -> bool {
        let Some(value) = self.in_flight.take() else { return false };
        self.next += 1;
        let Response::Produce(answer) = response else {
            panic!("racer {} got {response:?}", self.client)
        };
        let code = answer
            .responses
            .first()
            .and_then(|topic| topic.partition_responses.first())
            .map_or(-1, |partition| partition.error_code);
        if code == 0 {
            history.push(Operation::RaceAcked { client: self.client, value });
        }
        false
    }
}

//! Fetch: stored batches as they are, up to the high watermark, within the request's byte
//! budgets; a fetch without enough data parks until data arrives or `max_wait_ms` passes.
//!
//! Incremental fetch sessions (KIP-227) are answered the way Kafka answers a broker with no
//! session cache: a request asking for a new session (id 0, epoch 0) gets session id 0 and a
//! full response, so the client keeps sending full fetches; a request naming a session id
//! gets FETCH_SESSION_ID_NOT_FOUND.

use super::LEADER_EPOCH;
use super::{Node, ParkedFetch, Reply, RequestRef};
use crate::limits::{FETCH_RESPONSE_BYTES_MAX, FETCH_WAIT_MS_MAX, PARKED_FETCHES_MAX};
use crate::log::{batch_span, LogError, TopicPartition};
use crate::protocol::api::fetch::{
    FetchRequest, FetchRequestPartition, FetchRequestTopic, FetchResponse, FetchResponsePartition,
    FetchResponseTopic,
};
use crate::protocol::api::Response;
use crate::protocol::ErrorCode;
use crate::storage::Storage;
use bytes::Bytes;

impl<S: Storage> Node<S> {
    pub(super) fn handle_fetch(
        &mut self,
        request: RequestRef,
        correlation_id: i32,
        version: i16,
        mut fetch: FetchRequest,
    ) -> Reply {
        merge_repeated_partitions(&mut fetch);
        if version >= 7 && fetch.session_id != 0 {
            let response = FetchResponse {
                error_code: ErrorCode::FetchSessionIdNotFound.code(),
                ..Default::default()
            };
            return Reply::Now(Response::Fetch(response));
        }
        let (response, bytes, failed) = self.fetch_response(version, &fetch);
        let wait_ms = (fetch.max_wait_ms.max(0) as u64).min(FETCH_WAIT_MS_MAX);
        // As Kafka: a min_bytes of 0 or less, or no partition asked for, is answered at once.
        let enough = bytes >= fetch.min_bytes.max(0) as usize || fetch.topics.is_empty();
        if enough || failed || wait_ms == 0 || self.parked_fetches.len() >= PARKED_FETCHES_MAX {
            return Reply::Now(Response::Fetch(response));
        }
        let deadline = self.now + wait_ms;
        // What this read found is counted already; a wake-up reads on from its end.
        let mut counted = Vec::new();
        let partitions = fetch.topics.iter().flat_map(|topic| &topic.partitions);
        let answers = response.responses.iter().flat_map(|topic| &topic.partitions);
        for (partition, answer) in partitions.zip(answers) {
            let records = answer.records.as_deref().unwrap_or_default();
            let end = batch_span(records).0.max(partition.fetch_offset);
            counted.push((end, records.len()));
        }
        let parked = ParkedFetch { request, correlation_id, version, fetch, deadline, counted };
        self.parked_fetches.push(parked);
        Reply::Later
    }

    /// Counts the bytes of a parked fetch that became readable since it was last counted
    /// (each partition up to its `partition_max_bytes`, as Kafka counts a held fetch's
    /// bytes). True once they reach `min_bytes`, or if a partition cannot be read (the
    /// answer then carries the error at once, as Kafka completes a held fetch whose partition
    /// went away).
    pub(super) fn count_readable(&mut self, parked: &mut ParkedFetch) -> bool {
        let mut counted = parked.counted.iter_mut();
        for topic in &parked.fetch.topics {
            let mut tp = TopicPartition::new(topic.topic.as_str(), 0);
            for partition in &topic.partitions {
                tp.partition = partition.partition;
                let (from, bytes) = counted.next().expect("one count per partition");
                let cap = partition.partition_max_bytes.max(0) as usize;
                let Some(high_watermark) = self.high_watermark(&tp) else { return true };
                if *bytes >= cap || high_watermark <= *from {
                    continue;
                }
                let log = self.logs.log_mut(&tp).expect("high_watermark found it");
                match log.read(&mut self.storage, *from, cap - *bytes, high_watermark) {
                    Ok(read) if read.bytes.is_empty() => {}
                    Ok(read) => {
                        *bytes += read.bytes.len();
                        *from = batch_span(&read.bytes).0.max(*from);
                    }
                    Err(_) => return true,
                }
            }
        }
        let total: usize = parked.counted.iter().map(|&(_, bytes)| bytes).sum();
        total >= parked.fetch.min_bytes.max(1) as usize
    }

    /// Builds the answer to `fetch` from what the logs hold now. Returns the response, the
    /// record bytes in it, and whether any partition failed (a failed fetch is not parked).
    pub(super) fn fetch_response(
        &mut self,
        version: i16,
        fetch: &FetchRequest,
    ) -> (FetchResponse, usize, bool) {
        let mut response = FetchResponse {
            responses: Vec::with_capacity(fetch.topics.len()),
            ..Default::default()
        };
        let asked = if version >= 3 { fetch.max_bytes.max(0) as usize } else { usize::MAX };
        let mut budget = asked.min(FETCH_RESPONSE_BYTES_MAX);
        let mut total = 0usize;
        let mut failed = false;
        for topic in &fetch.topics {
            let mut topic_response = FetchResponseTopic {
                topic: topic.topic.clone(),
                partitions: Vec::with_capacity(topic.partitions.len()),
                ..Default::default()
            };
            // One name for every partition of the topic: the lookups need an owned key.
            let mut tp = TopicPartition::new(topic.topic.as_str(), 0);
            for partition in &topic.partitions {
                tp.partition = partition.partition;
                let mut answer = FetchResponsePartition {
                    partition_index: partition.partition,
                    high_watermark: -1,
                    records: Some(Bytes::new()),
                    ..Default::default()
                };
                match self.read_partition(
                    &tp,
                    partition.current_leader_epoch,
                    partition.fetch_offset,
                    partition.partition_max_bytes,
                    budget,
                    total == 0,
                ) {
                    Ok((bytes, high_watermark, log_start_offset)) => {
                        answer.high_watermark = high_watermark;
                        answer.last_stable_offset = high_watermark;
                        answer.log_start_offset = log_start_offset;
                        budget = budget.saturating_sub(bytes.len());
                        total += bytes.len();
                        answer.records = Some(bytes);
                    }
                    Err((code, high_watermark, log_start_offset)) => {
                        failed = true;
                        answer.error_code = code.code();
                        answer.high_watermark = high_watermark;
                        answer.last_stable_offset = high_watermark;
                        answer.log_start_offset = log_start_offset;
                    }
                }
                topic_response.partitions.push(answer);
            }
            response.responses.push(topic_response);
        }
        (response, total, failed)
    }

    /// Reads one partition for a fetch: `(records, high watermark, log start)`, or an error
    /// code with the same offsets (-1 when unknown). `first` lets the first partition with data
    /// exceed the budget by one batch, as KIP-74 requires.
    #[allow(clippy::type_complexity)]
    fn read_partition(
        &mut self,
        tp: &TopicPartition,
        current_leader_epoch: i32,
        fetch_offset: i64,
        partition_max_bytes: i32,
        budget: usize,
        first: bool,
    ) -> Result<(Bytes, i64, i64), (ErrorCode, i64, i64)> {
        let Some(high_watermark) = self.high_watermark(tp) else {
            return Err((ErrorCode::UnknownTopicOrPartition, -1, -1));
        };
        let log = self.logs.log_mut(tp).expect("high_watermark found it");
        let log_start_offset = log.log_start_offset();
        if current_leader_epoch > LEADER_EPOCH {
            return Err((ErrorCode::UnknownLeaderEpoch, high_watermark, log_start_offset));
        }
        if log.offline_reason().is_some() {
            return Err((ErrorCode::KafkaStorageError, high_watermark, log_start_offset));
        }
        // Offsets between the high watermark and the log end exist but are not yet readable.
        if fetch_offset > high_watermark && fetch_offset <= log.log_end_offset() {
            return Ok((Bytes::new(), high_watermark, log_start_offset));
        }
        let max_bytes = (partition_max_bytes.max(0) as usize).min(budget);
        if max_bytes == 0 && !first {
            return Ok((Bytes::new(), high_watermark, log_start_offset));
        }
        match log.read(&mut self.storage, fetch_offset, max_bytes.max(1), high_watermark) {
            Ok(read) => Ok((read.bytes, high_watermark, read.log_start_offset)),
            Err(LogError::OffsetOutOfRange { .. }) => {
                Err((ErrorCode::OffsetOutOfRange, high_watermark, log_start_offset))
            }
            Err(error) => Err((error.error_code(), high_watermark, log_start_offset)),
        }
    }
}

/// A partition named twice in one Fetch is read once, as Kafka reads it: Kafka keys a fetch's
/// partitions by name in insertion order, so each keeps the place of its first mention and
/// takes the offset and byte limit of its last. Topics are regrouped in that order (a topic
/// named twice, apart, is answered as one run of its partitions per stretch, as Kafka groups
/// its answer). A request without repeats is left as it is.
fn merge_repeated_partitions(fetch: &mut FetchRequest) {
    let mentions: usize = fetch.topics.iter().map(|topic| topic.partitions.len()).sum();
    if mentions < 2 {
        return;
    }
    let order: Vec<(&str, i32)> = fetch
        .topics
        .iter()
        .flat_map(|topic| topic.partitions.iter().map(move |p| (topic.topic.as_str(), p.partition)))
        .collect();
    // The common case, no repeat, costs one sorted copy of the names.
    let mut sorted = order.clone();
    sorted.sort_unstable();
    if sorted.windows(2).all(|pair| pair[0] != pair[1]) {
        return;
    }
    // Each mention's place: that of its partition's first mention.
    let mut first: std::collections::BTreeMap<(&str, i32), usize> = Default::default();
    let firsts: Vec<usize> = order
        .iter()
        .enumerate()
        .map(|(index, name)| *first.entry(*name).or_insert(index))
        .collect();
    // (place) → (topic, the last mention's fields).
    let mut merged: std::collections::BTreeMap<usize, (FetchRequestTopic, FetchRequestPartition)> =
        Default::default();
    let topics = std::mem::take(&mut fetch.topics);
    let mut at = 0;
    for mut topic in topics {
        let partitions = std::mem::take(&mut topic.partitions);
        for partition in partitions {
            merged.insert(firsts[at], (topic.clone(), partition));
            at += 1;
        }
    }
    for (topic, partition) in merged.into_values() {
        match fetch.topics.last_mut() {
            Some(last) if last.topic == topic.topic => last.partitions.push(partition),
            _ => fetch.topics.push(FetchRequestTopic { partitions: vec![partition], ..topic }),
        }
    }
}

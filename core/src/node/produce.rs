//! Produce: validate each partition's batch (deeply: compressed records are decompressed and
//! counted), up-convert legacy message sets, append, and answer once the data is durable.

use super::groups::OFFSETS_TOPIC;
use super::{LogLevel, Node, PendingProduce, Reply, RequestRef, LEADER_EPOCH};
use crate::limits::{BATCH_DECOMPRESSED_BYTES_MAX, BATCH_HEADER_BYTES};
use crate::log::{LogError, TimestampType, TopicPartition};
use crate::producer::{ProducerState, SequenceCheck};
use crate::protocol::api::produce::{
    ProduceRequest, ProduceResponse, ProduceResponsePartition, ProduceResponseRecordError,
    ProduceResponseTopic,
};
use crate::protocol::legacy;
use crate::protocol::record_batch::{self, BatchHeader};
use crate::protocol::wire::StrBytes;
use crate::protocol::ErrorCode;
use crate::storage::Storage;
use bytes::Bytes;

/// Where one partition's records landed.
struct Appended {
    base_offset: i64,
    next_offset: i64,
    /// The append's wall time for a LogAppendTime topic, else -1 (as Kafka answers).
    log_append_time_ms: i64,
}

/// Why one partition's records were refused: the code, and for a refusal that names a record,
/// Kafka's message and the record's index in its batch (v8+ answers carry both).
struct Refusal {
    code: ErrorCode,
    record_error: Option<(i32, String)>,
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Self {
        Self { code, record_error: None }
    }
}

impl<S: Storage> Node<S> {
    pub(super) fn handle_produce(
        &mut self,
        request: RequestRef,
        correlation_id: i32,
        version: i16,
        produce: ProduceRequest,
    ) -> Reply {
        let acks = produce.acks;
        // Transactions are not served: a transactional id, or a transactional batch (which
        // Kafka refuses without a transactional id the same way), refuses every partition.
        let transactional = produce.transactional_id.is_some()
            || produce.topic_data.iter().flat_map(|topic| &topic.partition_data).any(|partition| {
                partition.records.as_deref().is_some_and(holds_transactional_batch)
            });
        let refuse_all = if !matches!(acks, -1..=1) {
            Some(ErrorCode::InvalidRequiredAcks)
        } else if transactional {
            Some(ErrorCode::TransactionalIdAuthorizationFailed)
        } else {
            None
        };
        let mut response = ProduceResponse {
            responses: Vec::with_capacity(produce.topic_data.len()),
            ..Default::default()
        };
        let mut waits = Vec::new();
        for (topic_index, topic) in produce.topic_data.into_iter().enumerate() {
            let mut topic_response = ProduceResponseTopic {
                name: topic.name.clone(),
                partition_responses: Vec::with_capacity(topic.partition_data.len()),
                ..Default::default()
            };
            for (partition_index, partition) in topic.partition_data.into_iter().enumerate() {
                let tp = TopicPartition::new(topic.name.as_str(), partition.index);
                let mut answer = ProduceResponsePartition {
                    index: partition.index,
                    base_offset: -1,
                    ..Default::default()
                };
                // Only the coordinator writes its topic, as in Kafka: a client's record there
                // would be replayed as group state at the next start.
                let internal = tp.topic == OFFSETS_TOPIC;
                let result = match refuse_all {
                    Some(code) => Err(Refusal::from(code)),
                    None if internal => Err(Refusal::from(ErrorCode::InvalidTopicException)),
                    None => self.append_records(&tp, partition.records),
                };
                match result {
                    Ok(appended) => {
                        answer.base_offset = appended.base_offset;
                        answer.log_append_time_ms = appended.log_append_time_ms;
                        answer.log_start_offset =
                            self.logs.log(&tp).map_or(-1, |log| log.log_start_offset());
                        let page_cache = self
                            .topics
                            .get(&tp.topic)
                            .is_some_and(|topic| topic.config.flush_messages > 1);
                        if page_cache {
                            self.visibility_changes += 1;
                            self.note_page_cache_append(&tp, acks == -1);
                        }
                        if acks == -1 || (acks == 1 && !page_cache) {
                            waits.push((tp, appended.next_offset, topic_index, partition_index));
                        }
                    }
                    Err(Refusal { code, record_error }) => {
                        answer.error_code = code.code();
                        // As Kafka: the log start goes with an error too. A Java producer told
                        // UNKNOWN_PRODUCER_ID with -1 retries the same batch until its delivery
                        // timeout; with the log start it bumps its epoch and goes on. (Refusals
                        // of the whole request carry none, as in Kafka.)
                        if refuse_all.is_none() {
                            answer.log_start_offset =
                                self.logs.log(&tp).map_or(-1, |log| log.log_start_offset());
                        }
                        let message = if internal && code == ErrorCode::InvalidTopicException {
                            format!("Cannot append to internal topic {}", tp.topic)
                        } else if let Some((index, message)) = record_error {
                            answer.record_errors.push(ProduceResponseRecordError {
                                batch_index: index,
                                batch_index_error_message: Some(StrBytes::from_string(
                                    message.clone(),
                                )),
                                ..Default::default()
                            });
                            message
                        } else {
                            format!("{code:?}")
                        };
                        answer.error_message = Some(StrBytes::from_string(message));
                    }
                }
                topic_response.partition_responses.push(answer);
            }
            response.responses.push(topic_response);
        }
        if acks == 0 && refuse_all.is_none() {
            // As Kafka does: a client that asked for no answer learns of a failure only by
            // the connection closing (it then refreshes its metadata), once the answers to
            // its earlier requests are out.
            let failed = response
                .responses
                .iter()
                .flat_map(|topic| {
                    topic.partition_responses.iter().map(move |answer| (topic, answer))
                })
                .find(|(_, answer)| answer.error_code != 0);
            if let Some((topic, answer)) = failed {
                let reason = format!(
                    "a produce with acks=0 failed on {}-{}: error {}",
                    topic.name.as_str(),
                    answer.index,
                    answer.error_code
                );
                return Reply::Close(reason);
            }
            return Reply::Silent;
        }
        let mut pending = PendingProduce { request, correlation_id, version, response, waits };
        if self.produce_settled(&mut pending) {
            return Reply::Now(crate::protocol::api::Response::Produce(pending.response));
        }
        self.pending_produces.push(pending);
        Reply::Later
    }

    /// Whether every partition of a pending produce is durable (or failed). Failed partitions
    /// get KAFKA_STORAGE_ERROR: a batch whose sync failed is never acknowledged.
    pub(super) fn produce_settled(&mut self, pending: &mut PendingProduce) -> bool {
        let response = &mut pending.response;
        pending.waits.retain(|(tp, needed, topic_index, partition_index)| {
            let log = self.logs.log(tp);
            if log.is_none_or(|log| log.offline_reason().is_some()) {
                let answer =
                    &mut response.responses[*topic_index].partition_responses[*partition_index];
                answer.error_code = ErrorCode::KafkaStorageError.code();
                answer.base_offset = -1;
                answer.error_message = Some(StrBytes::from_static(
                    "the log directory failed before the batch was synced",
                ));
                return false;
            }
            log.is_some_and(|log| log.recovery_point() < *needed)
        });
        pending.waits.is_empty()
    }

    /// Validates and appends one partition's records; each v2 batch in them is appended as it
    /// came, with its offset and epoch patched in.
    fn append_records(
        &mut self,
        tp: &TopicPartition,
        records: Option<Bytes>,
    ) -> Result<Appended, Refusal> {
        let Some(topic) = self.topics.get(&tp.topic) else {
            return Err(ErrorCode::UnknownTopicOrPartition.into());
        };
        if tp.partition < 0 || tp.partition >= topic.partitions {
            return Err(ErrorCode::UnknownTopicOrPartition.into());
        }
        let max_message_bytes = topic.config.max_message_bytes.max(0) as usize;
        let compacted = topic.config.log.cleanup_policy.compacts();
        let log_append_time = topic.config.log.timestamp_type == TimestampType::LogAppendTime;
        let timestamp_bounds = topic.config.timestamp_bounds();
        let codec = topic.config.compression_type.target();
        let records = records.ok_or(ErrorCode::InvalidRecord)?;
        if records.len() > max_message_bytes + BATCH_HEADER_BYTES {
            let message = format!(
                "{tp}: {} bytes exceed max.message.bytes={max_message_bytes}",
                records.len()
            );
            self.log(LogLevel::Warn, message);
            return Err(ErrorCode::MessageTooLarge.into());
        }
        let mut batches = self.split_batches(tp, records)?;
        if !log_append_time {
            // As Kafka stores it, a batch its producer flagged LogAppendTime is stored as
            // CreateTime in a CreateTime topic; here it is then checked, and its maxTimestamp
            // set, by its records' own times like any other (Kafka keeps the flagged
            // maxTimestamp, which its records no longer read as).
            for (header, batch) in &mut batches {
                if header.is_log_append_time() {
                    let cleared = Bytes::from(record_batch::with_create_time(batch));
                    let timed =
                        record_batch::validate_deep_timed(&cleared, BATCH_DECOMPRESSED_BYTES_MAX);
                    let (parsed, records_max) = timed.map_err(|error| error.error_code())?;
                    (*header, *batch) = true_max_timestamp(parsed, cleared, records_max);
                }
            }
        }
        for (header, batch) in &batches {
            let checked =
                check_timestamps(header, batch, log_append_time, timestamp_bounds, self.wall_ms);
            if let Err((index, message)) = checked {
                self.log(LogLevel::Warn, format!("{tp}: batch refused: {message}"));
                let record_error = Some((index, message));
                return Err(Refusal { code: ErrorCode::InvalidTimestamp, record_error });
            }
        }
        if let Some(codec) = codec {
            for (header, batch) in &mut batches {
                if header.compression() == codec {
                    continue;
                }
                // As Kafka: the topic's codec wins, so the batch is stored re-encoded, not as
                // the bytes that arrived.
                let recompressed =
                    record_batch::recompress(header, batch, codec, BATCH_DECOMPRESSED_BYTES_MAX);
                match recompressed {
                    Ok(bytes) if bytes.len() <= max_message_bytes => {
                        *header = BatchHeader::parse(&bytes).expect("within max.message.bytes");
                        *batch = Bytes::from(bytes);
                    }
                    Ok(bytes) => {
                        let message = format!(
                            "{tp}: {} bytes re-encoded with compression.type={codec:?} exceed \
                             max.message.bytes={max_message_bytes}",
                            bytes.len()
                        );
                        self.log(LogLevel::Warn, message);
                        return Err(ErrorCode::MessageTooLarge.into());
                    }
                    Err(error) => {
                        self.log(LogLevel::Warn, format!("{tp}: batch refused: {error}"));
                        return Err(error.error_code().into());
                    }
                }
            }
        }
        if compacted && !batches.iter().all(|(header, batch)| every_record_has_a_key(header, batch))
        {
            // As Kafka: compaction keeps the last record per key, so a record needs one.
            let message = format!("{tp}: compacted topic cannot accept a record without a key");
            self.log(LogLevel::Warn, message);
            return Err(ErrorCode::InvalidRecord.into());
        }
        let mut appended: Option<Appended> = None;
        for (header, batch) in batches {
            // A partition no idempotent producer wrote to yet checks against empty state: its
            // first producer must start at sequence 0 too. (Skipping the check there let a
            // pipelined batch be stored after the one before it failed, leaving a gap.)
            let check = match self.producers.get(tp) {
                Some(state) => state.check(&header),
                None => ProducerState::default().check(&header),
            };
            let (base_offset, log_append_time_ms) = match check {
                SequenceCheck::Refuse(code) => {
                    let message = format!(
                        "{tp}: producer {} epoch {} sequence {} refused: {code:?}",
                        header.producer_id, header.producer_epoch, header.base_sequence
                    );
                    self.log(LogLevel::Warn, message);
                    return Err(code.into());
                }
                SequenceCheck::Duplicate { base_offset, max_timestamp } => {
                    let message = format!(
                        "{tp}: retried batch of producer {} answered with offset {base_offset}",
                        header.producer_id
                    );
                    self.log(LogLevel::Debug, message);
                    // In a LogAppendTime topic the original batch's append time, as Kafka
                    // answers (-1 if a version 1 snapshot forgot it). Kafka also answers a
                    // CreateTime retry with the batch's largest create time, which clients
                    // then report as every record's time; -1 keeps each record's own.
                    (base_offset, if log_append_time { max_timestamp } else { -1 })
                }
                SequenceCheck::Append => {
                    let log = self.logs.log_mut(tp).ok_or(ErrorCode::UnknownTopicOrPartition)?;
                    match log.append_validated(
                        &mut self.storage,
                        &header,
                        &batch,
                        LEADER_EPOCH,
                        self.wall_ms,
                    ) {
                        Ok(info) => {
                            let max_timestamp = match log_append_time {
                                true => info.log_append_time_ms,
                                false => header.max_timestamp,
                            };
                            let stored = BatchHeader {
                                base_offset: info.base_offset,
                                max_timestamp,
                                ..header
                            };
                            match self.producers.get_mut(tp) {
                                Some(state) => state.record(&stored),
                                None => {
                                    self.producers.entry(tp.clone()).or_default().record(&stored)
                                }
                            }
                            let time = if log_append_time { info.log_append_time_ms } else { -1 };
                            (info.base_offset, time)
                        }
                        Err(error) => {
                            let level = match error {
                                LogError::Offline(_) | LogError::Storage(_) => LogLevel::Error,
                                _ => LogLevel::Warn,
                            };
                            self.log(level, format!("{tp}: append refused: {error}"));
                            return Err(error.error_code().into());
                        }
                    }
                }
            };
            let next_offset = base_offset + i64::from(header.last_offset_delta) + 1;
            let first = appended.as_ref().map_or(base_offset, |first| first.base_offset);
            appended = Some(Appended { base_offset: first, next_offset, log_append_time_ms });
        }
        appended.ok_or(ErrorCode::InvalidRecord.into())
    }

    /// Splits a records field into v2 batches, each validated deeply once (the log stores them
    /// without checking again), as slices of the request: no batch is copied, unless its
    /// `maxTimestamp` is not its records' largest timestamp, which is then written into a copy
    /// (with its CRC), as Kafka rewrites it: retention, the time index and tombstone expiry go
    /// by that field. Legacy message sets are up-converted to one v2 batch first. Any bad batch
    /// refuses the whole field.
    fn split_batches(
        &mut self,
        tp: &TopicPartition,
        records: Bytes,
    ) -> Result<Vec<(BatchHeader, Bytes)>, ErrorCode> {
        if legacy::is_legacy(&records) {
            let converted = legacy::upconvert(records, BATCH_DECOMPRESSED_BYTES_MAX)
                .map(Bytes::from)
                .and_then(|batch| {
                    record_batch::validate_deep_timed(&batch, BATCH_DECOMPRESSED_BYTES_MAX).map(
                        |(header, max_timestamp)| true_max_timestamp(header, batch, max_timestamp),
                    )
                });
            return match converted {
                Ok(batch) => Ok(vec![batch]),
                Err(error) => {
                    self.log(LogLevel::Warn, format!("{tp}: legacy message set refused: {error}"));
                    Err(error.error_code())
                }
            };
        }
        let mut batches = Vec::new();
        let mut position = 0;
        while position < records.len() {
            let checked = BatchHeader::parse(&records[position..]).and_then(|header| {
                let end =
                    position.checked_add(header.size_bytes()).filter(|&end| end <= records.len());
                let end = end.ok_or(record_batch::BatchError::Truncated {
                    needed: header.size_bytes(),
                    available: records.len() - position,
                })?;
                let batch = &records[position..end];
                record_batch::validate_deep_timed(batch, BATCH_DECOMPRESSED_BYTES_MAX)
                    .map(|(header, max_timestamp)| (header, end, max_timestamp))
            });
            match checked {
                // As Kafka: control batches (transaction markers) are the broker's to write.
                Ok((header, _, _)) if header.is_control() => {
                    let message = format!("{tp}: clients are not allowed to write control records");
                    self.log(LogLevel::Warn, message);
                    return Err(ErrorCode::InvalidRecord);
                }
                Ok((header, end, max_timestamp)) => {
                    let batch = records.slice(position..end);
                    batches.push(true_max_timestamp(header, batch, max_timestamp));
                    position = end;
                }
                Err(error) => {
                    self.log(LogLevel::Warn, format!("{tp}: batch refused: {error}"));
                    return Err(error.error_code());
                }
            }
        }
        // Kafka accepts exactly one v2 batch per partition per Produce: several could mix an
        // idempotent retry with new records, and the answer has room for one base offset.
        if batches.len() != 1 {
            let message = format!(
                "{tp}: {} batches in one partition's records; exactly one is allowed",
                batches.len()
            );
            self.log(LogLevel::Warn, message);
            return Err(ErrorCode::InvalidRecord);
        }
        Ok(batches)
    }
}

/// The batch, with `maxTimestamp` set to `records_max` (its records' largest timestamp) when
/// it says otherwise, as Kafka's validator sets it. A batch flagged LogAppendTime keeps its
/// own: its records read as that time.
fn true_max_timestamp(header: BatchHeader, batch: Bytes, records_max: i64) -> (BatchHeader, Bytes) {
    if header.is_log_append_time() || header.max_timestamp == records_max {
        return (header, batch);
    }
    let fixed = record_batch::with_max_timestamp(&batch, records_max);
    let header = BatchHeader::parse(&fixed).expect("a copy of a parsed batch");
    assert_eq!(header.max_timestamp, records_max);
    (header, Bytes::from(fixed))
}

/// Kafka's timestamp rule for produced records (its LogValidator): in a CreateTime topic with
/// bounds, a record's timestamp (unless -1, "none") must lie within `before` ms before `now`
/// and `after` ms after it; a producer may not flag a batch LogAppendTime, except in a
/// CreateTime topic where its records then all take the batch's `maxTimestamp`, which must be
/// a time. The error is the first failing record's index and Kafka's message for it.
fn check_timestamps(
    header: &BatchHeader,
    batch: &[u8],
    log_append_topic: bool,
    bounds: Option<(i64, i64)>,
    now: i64,
) -> Result<(), (i32, String)> {
    let flagged = header.is_log_append_time();
    if log_append_topic {
        if flagged {
            let message = "Invalid timestamp type in the batch's first record: a producer \
                           should not set the timestamp type to LogAppendTime";
            return Err((0, message.to_string()));
        }
        return Ok(());
    }
    if bounds.is_none() && !flagged {
        return Ok(());
    }
    let check = |index: i32, timestamp: i64| -> Result<(), (i32, String)> {
        if timestamp == -1 {
            if flagged {
                let message = format!(
                    "Invalid timestamp type in record {index}: a producer should not set the \
                     timestamp type to LogAppendTime"
                );
                return Err((index, message));
            }
            return Ok(());
        }
        let Some((before, after)) = bounds else { return Ok(()) };
        let (earliest, latest) = (now.saturating_sub(before), now.saturating_add(after));
        if timestamp < earliest || timestamp > latest {
            let message = format!(
                "Timestamp {timestamp} of message with offset {index} is out of range. The \
                 timestamp should be within [{earliest}, {latest}]"
            );
            return Err((index, message));
        }
        Ok(())
    };
    if flagged {
        // Every record reads as the batch's maxTimestamp; the first one decides.
        return check(0, header.max_timestamp);
    }
    let body = record_batch::records_body(header, batch, BATCH_DECOMPRESSED_BYTES_MAX)
        .map_err(|error| (0, error.to_string()))?;
    for (index, record) in record_batch::Records::new(header, &body).enumerate() {
        let index = i32::try_from(index).unwrap_or(i32::MAX);
        let Ok(record) = record else { break };
        check(index, header.base_timestamp.wrapping_add(record.timestamp_delta))?;
    }
    Ok(())
}

/// Whether every record of a (deeply validated) batch has a non-null key.
fn every_record_has_a_key(header: &BatchHeader, batch: &[u8]) -> bool {
    if header.is_control() {
        return true;
    }
    let Ok(body) = record_batch::records_body(header, batch, BATCH_DECOMPRESSED_BYTES_MAX) else {
        return false;
    };
    record_batch::Records::new(header, &body)
        .all(|record| record.is_ok_and(|record| record.key.is_some()))
}

/// Whether `records` holds a v2 batch with the transactional flag (legacy message sets never
/// do). Only headers are read; a batch that does not parse ends the walk (validation refuses
/// it later).
fn holds_transactional_batch(records: &[u8]) -> bool {
    if legacy::is_legacy(records) {
        return false;
    }
    let mut position = 0;
    while let Ok(header) = BatchHeader::parse(&records[position..]) {
        if header.is_transactional() {
            return true;
        }
        position += header.size_bytes();
        if position >= records.len() {
            break;
        }
    }
    false
}

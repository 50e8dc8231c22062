//! The fuzz targets' checks under plain `cargo test`: a replay of the committed corpus, and one
//! test per crash the fuzzers found (`fuzz/`, see its README).
//!
//! The checks are the fuzz crate's own sources, included as modules, so a target and its
//! replay here cannot drift apart. `node_ops` inputs are `Arbitrary`-encoded and this crate
//! does not depend on `arbitrary`: its corpus is replayed by `cargo test -p sluice-fuzz` (part
//! of `cargo test --workspace`), and its regressions are written out as operations below.

// node_ops.rs derives `Arbitrary` under the fuzz crate's `arbitrary` feature, unknown here.
#![allow(unexpected_cfgs)]

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/batch.rs"]
mod batch;
#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/codec.rs"]
mod codec;
#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/node_ops.rs"]
mod node_ops;
#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/recovery.rs"]
mod recovery;

use bytes::{Bytes, BytesMut};
use node_ops::{BatchSpec, NodeOps, Op, Req, TopicChoice};
use recovery::RecoveryInput;
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{encode_request, Request};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::legacy::upconvert;
use sluice_core::protocol::wire::StrBytes;
use std::path::Path;

/// Every committed corpus file of every byte-level target passes its target's checks.
#[test]
fn the_committed_fuzz_corpus_passes_every_check() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    type Check = fn(&[u8]);
    let targets: [(&str, Check); 4] = [
        ("decode_request", codec::check_decode_request),
        ("decode_response", codec::check_decode_response),
        ("record_batch", batch::check_record_batch),
        ("log_recovery", recovery::check_log_recovery),
    ];
    for (target, check) in targets {
        let entries = std::fs::read_dir(corpus.join(target))
            .unwrap_or_else(|error| panic!("fuzz/corpus/{target}: {error}"));
        let mut replayed = 0;
        for entry in entries {
            let path = entry.expect("a corpus entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} fails its checks", path.display());
            replayed += 1;
        }
        assert!(replayed > 0, "fuzz/corpus/{target} is empty");
    }
}

/// A magic-1 message with `timestamp`, CRC included.
fn legacy_message(timestamp: i64, value: &[u8]) -> Vec<u8> {
    let mut message = vec![0, 0, 0, 0, 1, 0];
    message.extend_from_slice(&timestamp.to_be_bytes());
    message.extend_from_slice(&(-1i32).to_be_bytes());
    message.extend_from_slice(&(value.len() as i32).to_be_bytes());
    message.extend_from_slice(value);
    let crc = batch::crc32(&message[4..]);
    message[..4].copy_from_slice(&crc.to_be_bytes());
    message
}

/// Two magic-1 messages whose timestamps are further apart than an INT64 delta can say.
fn far_apart_legacy_set() -> Vec<u8> {
    let mut set = Vec::new();
    for (offset, timestamp) in [(0i64, -1i64), (1, i64::MAX)] {
        let message = legacy_message(timestamp, b"v");
        set.extend_from_slice(&offset.to_be_bytes());
        set.extend_from_slice(&(message.len() as i32).to_be_bytes());
        set.extend_from_slice(&message);
    }
    set
}

/// Found by `record_batch`: up-converting magic-1 messages computes each record's timestamp
/// delta as `timestamp - base_timestamp` (record_batch.rs `build_batch`), which overflows.
/// Fuzz input (flags byte, then the set), minimized:
/// 61 00000000 00000000 0000002b ea02881b 0100 8000 00018bcf e5680000 0000056b 65792d30 …
/// (`attempt to subtract with overflow` at core/src/protocol/record_batch.rs:490).
#[test]
fn upconverting_far_apart_legacy_timestamps_does_not_panic() {
    let set = far_apart_legacy_set();
    let _ = upconvert(Bytes::from(set.clone()), 1 << 20);
    let mut input = vec![0u8];
    input.extend_from_slice(&set);
    batch::check_record_batch(&input);
}

/// The same overflow reached by a client: a Produce v2 carrying that message set brings the
/// broker down.
#[test]
fn a_produce_of_far_apart_legacy_timestamps_does_not_panic_the_node() {
    let request = Request::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![ProduceRequestTopic {
            name: StrBytes::from_static("t0"),
            partition_data: vec![ProduceRequestPartition {
                index: 0,
                records: Some(Bytes::from(far_apart_legacy_set())),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let header = RequestHeader {
        api_key: 0,
        api_version: 2,
        correlation_id: 1,
        client_id: Some(StrBytes::from_static("fuzz")),
        ..Default::default()
    };
    let mut frame = BytesMut::new();
    encode_request(&header, &request, &mut frame);
    let create = Req::CreateTopics { topic: TopicChoice(0), partitions: 1, page_cache: false };
    node_ops::run(&NodeOps {
        seed: 1,
        ops: vec![
            Op::Request { connection: 0, version: 0, request: create },
            Op::Raw { connection: 0, body: frame[4..].to_vec() },
            Op::Sync { ok: true },
        ],
    });
}

/// Found by `log_recovery`: with the leader-epoch checkpoint missing (or damaged), recovery
/// rebuilds the epochs only from the segments it scans (from the one holding the recovery
/// point) and does not write them back. When that segment is cut away, the next recovery scans
/// the segment before it and finds other epochs: two recoveries of the same directory disagree
/// (`epochs [] then [(1, 3), …]`). Here: three segments written by a real log, the checkpoint
/// gone, the recovery point at the third segment, whose bytes are torn.
#[test]
fn recovering_twice_gives_the_same_leader_epochs() {
    let mut input = RecoveryInput::written_by_log(30, 1024, 4096);
    assert!(input.segments.len() >= 3, "{} segments", input.segments.len());
    input.segments.truncate(3);
    input.epochs = None;
    input.recovery_point = Some(input.segments[2].base_offset);
    input.segments[2].log = vec![0; 12];
    recovery::check_log_recovery(&input.encode());
}

/// The same, without a recovery point: the checkpoint's epoch 0 starts at offset 4, recovery
/// cuts the log to offset 3 (a torn batch), drops that entry and writes an empty checkpoint,
/// without the epoch 0 of the batches kept (`epochs [] then [(0, 0)]`).
#[test]
fn recovering_twice_gives_the_same_leader_epochs_after_a_cut_below_the_checkpoint() {
    let mut input = RecoveryInput::written_by_log(2, 1 << 20, 4096);
    input.segments[0].indexes = None;
    let length = input.segments[0].log.len();
    input.segments[0].log.truncate(length - 5);
    input.epochs = Some(b"0\n1\n0 4\n".to_vec());
    recovery::check_log_recovery(&input.encode());
}

/// Found by `log_recovery` after the fix above (a2088fb), which rebuilds the epochs from the
/// batch headers: `partitionLeaderEpoch` lies outside the CRC, so a damaged one that goes down
/// along the log was kept and written into the checkpoint, and the next recovery cut the log at
/// the first batch that disagreed with it (`offsets 5..42 … then offsets 5..36`). Here: no
/// epoch checkpoint, the recovery point at the third segment, and one batch's epoch in the
/// first segment is 134217729 while the batches after it have epochs 1–7.
#[test]
fn recovering_twice_keeps_the_same_batches_when_a_leader_epoch_is_damaged() {
    let mut input = RecoveryInput::written_by_log(30, 1024, 4096);
    input.segments.truncate(3);
    input.epochs = None;
    input.recovery_point = Some(input.segments[2].base_offset);
    let log = &mut input.segments[0].log;
    let batch_bytes = 149; // three records of written_by_log
    log[4 * batch_bytes + 12..4 * batch_bytes + 16].copy_from_slice(&134_217_729i32.to_be_bytes());
    recovery::check_log_recovery(&input.encode());
    // The damaged epoch may be cut away, but two recoveries must still agree.
    recovery::check_log_recovery_strictly(&input);
}

/// Found by `log_recovery` (after 422e80e): a segment below the recovery point is loaded
/// from its index without a scan, and the index is only checked for plausibility; an entry
/// pointing inside a batch (here the first entry says offset 3 is at byte 49, it is at 149)
/// makes every read from the offsets it covers return nothing, with no error: `reading offset
/// 5 of 5..72 found nothing`, though every batch is intact. A consumer there would be stuck.
#[test]

fn a_damaged_index_entry_does_not_hide_intact_batches() {
    let mut input = RecoveryInput::written_by_log(30, 1024, 1);
    input.segments.truncate(3);
    input.recovery_point = Some(input.segments[2].base_offset);
    input.log_start_offset = Some(5);
    let (index, _) = input.segments[0].indexes.as_mut().expect("index files");
    assert_eq!(index[..8], [0, 0, 0, 3, 0, 0, 0, 149], "the first entry: offset 3 at byte 149");
    index[4..8].copy_from_slice(&49u32.to_be_bytes());
    recovery::check_log_recovery(&input.encode());
}

/// Found by `node_ops`: a sync that was in flight when its topic was deleted and re-created
/// completes against the new, empty log: `assertion failed: request.offset <=
/// self.log_end_offset()` in `Log::sync_completed` (core/src/log/mod.rs), called from the
/// node's `on_synced`.
#[test]
fn a_sync_completing_after_its_topic_was_recreated_does_not_panic() {
    let topic = TopicChoice(0);
    let create = || Req::CreateTopics { topic, partitions: 1, page_cache: false };
    let produce = Req::Produce {
        topic,
        partition: 0,
        acks: 0, // acks=-1
        batches: vec![BatchSpec {
            records: 1,
            keyed: false,
            compression: 0,
            producer: None,
            flag_append_time: false,
        }],
        legacy: false,
    };
    node_ops::run(&NodeOps {
        seed: 1,
        ops: vec![
            Op::Request { connection: 0, version: 0, request: create() },
            Op::Sync { ok: true },
            Op::Request { connection: 0, version: 3, request: produce },
            Op::Request { connection: 1, version: 0, request: Req::DeleteTopics { topic } },
            Op::Request { connection: 1, version: 0, request: create() },
            Op::Sync { ok: true },
        ],
    });
}

/// Found by `node_ops`: a Produce whose partition holds several batches is accepted (Kafka
/// refuses more than one batch per partition from Produce v3 on, with INVALID_RECORD), and
/// answered with the first batch's offset. When that first batch is an idempotent retry, it is
/// answered with the retried batch's old offset while the new batch lands at the log end: the
/// producer is told its new records sit where other records are. Here: batches A (sequences
/// 0–1) and B (2–3) are acknowledged at 0 and 2; then [A again, C (4–5)] is acknowledged at
/// offset 0, so the producer expects C at 2–3, where B is.
#[test]
fn a_produce_mixing_a_retry_and_a_new_batch_is_acknowledged_where_its_records_are() {
    use sluice_core::config::BrokerConfig;
    use sluice_core::node::{ConnectionId, Input, Node, Output};
    use sluice_core::protocol::api::create_topics::{
        CreateTopicsRequest, CreateTopicsRequestTopic,
    };
    use sluice_core::protocol::api::fetch::{
        FetchRequest, FetchRequestPartition, FetchRequestTopic,
    };
    use sluice_core::protocol::api::{decode_response, Response};
    use sluice_core::protocol::record_batch::{
        build_batch, records_section, BatchHeader, BatchOptions, NewRecord, Records,
    };
    use sluice_sim::disk::SimDisk;

    const WALL_MS: i64 = 1_700_000_000_000;
    let (mut node, _) = Node::open(BrokerConfig::default(), SimDisk::new(1), 1, 0, WALL_MS)
        .unwrap_or_else(|(error, _)| panic!("{error}"));
    let connection = ConnectionId(1);
    let mut correlation = 0;
    // Sends a request, completes every sync, and returns the decoded response.
    let mut exchange = |node: &mut Node<SimDisk>, version: i16, request: Request| -> Response {
        correlation += 1;
        let key = request.api_key();
        let header = RequestHeader {
            api_key: key,
            api_version: version,
            correlation_id: correlation,
            client_id: Some(StrBytes::from_static("fuzz")),
            ..Default::default()
        };
        let mut frame = BytesMut::new();
        encode_request(&header, &request, &mut frame);
        let mut pending = vec![Input::Request { connection, body: frame.freeze().slice(4..) }];
        let mut answer = None;
        while let Some(input) = pending.pop() {
            node.handle(0, WALL_MS, input);
            while let Some(output) = node.poll_output() {
                match output {
                    Output::Send { frame, .. } => {
                        let (_, response) =
                            decode_response(key, version, frame.to_bytes().slice(4..))
                                .expect("decodes");
                        answer = Some(response);
                    }
                    Output::Sync { id, files } => {
                        let result = sluice_core::log::sync_files(node.storage_mut(), &files);
                        pending.push(Input::Synced { id, result });
                    }
                    _ => {}
                }
            }
        }
        answer.expect("an answer")
    };
    let create = CreateTopicsRequest {
        topics: vec![CreateTopicsRequestTopic {
            name: StrBytes::from_static("t"),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    exchange(&mut node, 5, Request::CreateTopics(create));
    let batch = |first: &'static [u8], second: &'static [u8], sequence: i32| {
        let records = [first, second].map(|value| NewRecord {
            value: Some(value),
            timestamp_ms: WALL_MS,
            ..Default::default()
        });
        let options =
            BatchOptions { producer_id: 1000, producer_epoch: 0, base_sequence: sequence };
        build_batch(&records, options)
    };
    let produce = |records: Vec<u8>| {
        Request::Produce(ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![ProduceRequestTopic {
                name: StrBytes::from_static("t"),
                partition_data: vec![ProduceRequestPartition {
                    index: 0,
                    records: Some(Bytes::from(records)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    let acknowledged = |response: Response| {
        let Response::Produce(response) = response else { panic!("not a Produce answer") };
        let partition = &response.responses[0].partition_responses[0];
        (partition.error_code, partition.base_offset)
    };
    let a = batch(b"a0", b"a1", 0);
    assert_eq!(acknowledged(exchange(&mut node, 9, produce(a.clone()))), (0, 0));
    assert_eq!(acknowledged(exchange(&mut node, 9, produce(batch(b"b0", b"b1", 2)))), (0, 2));
    let mut mixed = a;
    mixed.extend(batch(b"c0", b"c1", 4));
    let (error_code, base_offset) = acknowledged(exchange(&mut node, 9, produce(mixed)));
    if error_code != 0 {
        return; // refused, as Kafka does
    }
    let fetch = FetchRequest {
        replica_id: -1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchRequestTopic {
            topic: StrBytes::from_static("t"),
            partitions: vec![FetchRequestPartition {
                fetch_offset: base_offset + 2,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let Response::Fetch(fetched) = exchange(&mut node, 11, Request::Fetch(fetch)) else {
        panic!("not a Fetch answer")
    };
    let records = fetched.responses[0].partitions[0].records.clone().unwrap_or_default();
    let mut values = std::collections::BTreeMap::new();
    let mut at = 0;
    while at < records.len() {
        let header = BatchHeader::parse(&records[at..]).expect("a batch");
        let bytes = &records[at..at + header.size_bytes()];
        let section = records_section(&header, bytes, 1 << 20).expect("records");
        for (index, record) in Records::new(&header, &section).enumerate() {
            let value = record.expect("a record").value.map(<[u8]>::to_vec);
            values.insert(header.base_offset + index as i64, value);
        }
        at += header.size_bytes();
    }
    for (index, expected) in [b"c0", b"c1"].iter().enumerate() {
        let offset = base_offset + 2 + index as i64;
        assert_eq!(
            values.get(&offset),
            Some(&Some(expected.to_vec())),
            "acknowledged at base offset {base_offset}, record {} of the request is not at {offset}",
            index + 2
        );
    }
}

/// Found by `log_recovery` in CI (after 12f4ec1): recovery first applied the checkpointed log
/// start offset and only then cut the log at a leader epoch that goes down. When the cut lay
/// below the log start, `truncate_to` restarted the log at the cut and so moved the log start
/// back below its checkpoint; the next recovery applied the checkpoint and restarted the log
/// higher (`offsets 30..30, segments [30] … then offsets 36..36, segments [36]`). Here: the
/// first batch of the third segment (offset 36) has a lower epoch than the batches before it,
/// no epoch checkpoint, and the log start offset is 40.
#[test]
fn recovering_twice_agrees_when_an_epoch_cut_lies_below_the_log_start() {
    let mut input = RecoveryInput::written_by_log(30, 1024, 4096);
    input.segments.truncate(3);
    assert_eq!(input.segments[2].base_offset, 36);
    input.log_start_offset = Some(40);
    input.epochs = None;
    // Batch 12 (offset 36, epoch 3) gets epoch 1, lower than batches 8..12 (epoch 2).
    input.segments[2].log[12..16].copy_from_slice(&1i32.to_be_bytes());
    recovery::check_log_recovery(&input.encode());
    recovery::check_log_recovery_strictly(&input);
}

/// Found by `log_recovery`: segment files that overlap. Segment 0 holds offsets 0..12, the
/// last of its four batches with a bad CRC, and a file for segment 2 follows it. With the
/// recovery point at 4, recovery began its CRC scan at segment 2 (the one holding the last
/// offset below the point, by base offsets) and took segment 0 as synced, checking only its
/// structure: the damaged batch, above the recovery point, was kept. Batches at or above the
/// recovery point are now CRC-checked in any segment.
#[test]
fn a_damaged_batch_above_the_recovery_point_is_cut_in_an_overlapping_earlier_segment() {
    let mut input = RecoveryInput::written_by_log(4, 1 << 20, 4096);
    assert_eq!(input.segments.len(), 1);
    let last = input.segments[0].log.len() - 1;
    input.segments[0].log[last] ^= 1;
    input.segments[0].indexes = None;
    input.segments.push(recovery::SegmentFiles {
        base_offset: 2,
        log: vec![0xA2; 151],
        indexes: None,
    });
    input.recovery_point = Some(4);
    input.log_start_offset = Some(5);
    input.epochs = None;
    recovery::check_log_recovery(&input.encode());
}

//! Codec throughput, in one run: decode plus encode of a 1 MiB Produce request carrying
//! 1 KiB records, and record-batch validation (header checks plus CRC-32C and the record walk),
//! each beside the crc32c crate's raw throughput over the same bytes. Not a test.
//!
//! `cargo bench -p sluice-core --bench codec` (add `-- --quick` for a short run).

use bytes::{Bytes, BytesMut};
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{decode_request, encode_request, Request};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::record_batch::{self, build_batch, BatchOptions, NewRecord};
use sluice_core::protocol::wire::StrBytes;
use std::hint::black_box;
use std::time::Instant;

const RECORD_BYTES: usize = 1024;
const RECORDS_PER_BATCH: usize = 16;
const PARTITIONS: usize = 64; // 64 batches of ~16 KiB: a 1 MiB request

fn gigabytes_per_second(bytes: usize, rounds: usize, run: impl Fn()) -> f64 {
    run(); // warm up
    let start = Instant::now();
    for _ in 0..rounds {
        run();
    }
    (bytes * rounds) as f64 / start.elapsed().as_secs_f64() / 1e9
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let rounds = if quick { 50 } else { 500 };
    let value = vec![b'x'; RECORD_BYTES];
    let records: Vec<NewRecord<'_>> = (0..RECORDS_PER_BATCH)
        .map(|index| NewRecord {
            value: Some(&value),
            timestamp_ms: index as i64,
            ..Default::default()
        })
        .collect();
    let batch = Bytes::from(build_batch(&records, BatchOptions::default()));
    let request = Request::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![ProduceRequestTopic {
            name: StrBytes::from_static("bench"),
            partition_data: (0..PARTITIONS as i32)
                .map(|index| ProduceRequestPartition {
                    index,
                    records: Some(batch.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let header =
        RequestHeader { api_key: 0, api_version: 9, correlation_id: 1, ..Default::default() };
    let mut frame = BytesMut::new();
    encode_request(&header, &request, &mut frame);
    let frame = frame.freeze();
    let body = frame.slice(4..);
    println!(
        "codec benchmark: Produce v9 request of {} bytes, {PARTITIONS} batches of {} bytes",
        frame.len(),
        batch.len()
    );

    let decode_encode = gigabytes_per_second(frame.len(), rounds, || {
        let decoded = decode_request(black_box(body.clone())).expect("decode");
        let mut out = BytesMut::with_capacity(frame.len());
        encode_request(&decoded.header, &decoded.request, &mut out);
        black_box(out);
    });
    let raw_crc = gigabytes_per_second(frame.len(), rounds, || {
        black_box(crc32c::crc32c(black_box(&frame)));
    });
    println!(
        "decode+encode   {decode_encode:6.2} GB/s   raw crc32c {raw_crc:6.2} GB/s   ratio {:.2}",
        decode_encode / raw_crc
    );

    let validate = gigabytes_per_second(batch.len() * PARTITIONS, rounds, || {
        for _ in 0..PARTITIONS {
            black_box(record_batch::validate(black_box(&batch)).expect("valid"));
        }
    });
    let raw_batch_crc = gigabytes_per_second(batch.len() * PARTITIONS, rounds, || {
        for _ in 0..PARTITIONS {
            black_box(crc32c::crc32c(black_box(&batch[21..])));
        }
    });
    println!(
        "batch validate {validate:6.2} GB/s   raw crc32c {raw_batch_crc:6.2} GB/s   ratio {:.2} (target >= 0.7)",
        validate / raw_batch_crc
    );
}

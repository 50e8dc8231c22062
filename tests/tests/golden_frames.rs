//! Every request frame captured from seven real Kafka clients (../shared/testdata/frames)
//! decodes with our codec, and re-encoding the decoded request gives back the same bytes.
//! Frames of APIs the codec does not know must fail with UNKNOWN api key while keeping the
//! correlation id, so the broker can still answer.
//!
//! The frames are required: a missing directory fails the test rather than skipping it.

use bytes::{Bytes, BytesMut};
use sluice_core::protocol::api::{self, decode_request, encode_request, Request};
use sluice_core::protocol::legacy;
use sluice_core::protocol::record_batch::{self, Compression};
use sluice_core::protocol::wire::Problem;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn frames_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/frames")
}

#[test]
fn captured_client_frames_decode_and_reencode_byte_for_byte() {
    let index = std::fs::read_to_string(frames_dir().join("INDEX.tsv"))
        .expect("../shared/testdata/frames/INDEX.tsv must be present beside the repository");
    let (mut decoded, mut unknown) = (0, 0);
    let mut trailing = Vec::new();
    let mut codecs = BTreeSet::new();
    for line in index.lines().skip(1) {
        let columns: Vec<&str> = line.split('\t').collect();
        let name = columns[1];
        let frame = Bytes::from(std::fs::read(frames_dir().join(name)).expect("frame file"));
        let body = frame.slice(4..);
        let key: i16 = columns[2].parse().expect("api key");
        let version: i16 = columns[4].parse().expect("api version");
        let supported = api::api_info(key).is_some_and(|info| info.supports(version));
        if !supported {
            let error = decode_request(body).expect_err(name);
            let correlation = error.header.as_ref().map(|header| header.correlation_id.to_string());
            assert_eq!(correlation.as_deref(), Some(columns[5]), "{name}");
            assert!(
                matches!(
                    error.error.problem,
                    Problem::UnknownApiKey(_) | Problem::UnsupportedVersion
                ),
                "{name}: {}",
                error.error
            );
            unknown += 1;
            continue;
        }
        let request =
            decode_request(body.clone()).unwrap_or_else(|error| panic!("{name}: {}", error.error));
        let mut out = BytesMut::new();
        encode_request(&request.header, &request.request, &mut out);
        let expected_len = frame.len() - request.trailing_bytes;
        if request.trailing_bytes > 0 {
            trailing.push(name.to_string());
        }
        assert_eq!(&out[4..], &frame[4..expected_len], "{name}: re-encoding differs");
        if let Request::Produce(produce) = &request.request {
            for topic in &produce.topic_data {
                for partition in &topic.partition_data {
                    let records = partition.records.clone().expect("records");
                    codecs.insert(check_produced_records(name, records));
                }
            }
        }
        decoded += 1;
    }
    println!("record codecs seen in produced batches: {codecs:?}");
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        assert!(codecs.contains(codec), "no captured Produce frame used {codec}");
    }
    println!("decoded {decoded} frames; {unknown} of APIs or versions the codec does not know");
    println!("frames with trailing bytes: {trailing:?}");
    // librdkafka 2.16's "all topics" Metadata v12 carries three stray bytes; nothing else does.
    for name in &trailing {
        assert!(name.contains("Metadata-v12"), "{name} has unexpected trailing bytes");
    }
    assert!(decoded >= 20, "only {decoded} frames decoded");
}

/// Every batch real clients produced validates deeply (decompressed, records counted); legacy
/// message sets up-convert. Returns the codec name.
fn check_produced_records(name: &str, records: Bytes) -> &'static str {
    let records = if legacy::is_legacy(&records) {
        Bytes::from(
            legacy::upconvert(records, 1 << 24).unwrap_or_else(|error| panic!("{name}: {error}")),
        )
    } else {
        records
    };
    let header = record_batch::validate_deep(&records, 1 << 24)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    match header.compression() {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
        Compression::Unknown(_) => panic!("{name}: unknown codec"),
    }
}

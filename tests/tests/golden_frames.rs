//! Every request frame captured from seven real Kafka clients (../shared/testdata/frames)
//! decodes with our codec, and re-encoding the decoded request gives back the same bytes.
//! Frames of APIs the codec does not know must fail with UNKNOWN api key while keeping the
//! correlation id, so the broker can still answer.
//!
//! The frames are required: a missing directory fails the test rather than skipping it.

use bytes::{Bytes, BytesMut};
use sluice_core::protocol::api::{self, decode_request, encode_request};
use sluice_core::protocol::wire::Problem;
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
        decoded += 1;
    }
    println!("decoded {decoded} frames; {unknown} of APIs or versions the codec does not know");
    println!("frames with trailing bytes: {trailing:?}");
    // librdkafka 2.16's "all topics" Metadata v12 carries three stray bytes; nothing else does.
    for name in &trailing {
        assert!(name.contains("Metadata-v12"), "{name} has unexpected trailing bytes");
    }
    assert!(decoded >= 20, "only {decoded} frames decoded");
}

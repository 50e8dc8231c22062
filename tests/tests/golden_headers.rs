//! Every request frame captured from seven real Kafka clients (../shared/testdata/frames)
//! passes the frame-length check and decodes its request header to exactly the API key,
//! version, correlation id and client id recorded in INDEX.tsv.
//!
//! The frames are required: a missing directory fails the test rather than skipping it.

use bytes::Bytes;
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::wire::{frame_length, Reader};
use std::path::PathBuf;

fn frames_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/frames")
}

#[test]
fn every_captured_client_frame_has_the_header_the_index_records() {
    let index = std::fs::read_to_string(frames_dir().join("INDEX.tsv"))
        .expect("../shared/testdata/frames/INDEX.tsv must be present beside the repository");
    let mut checked = 0;
    for line in index.lines().skip(1) {
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns.len(), 8, "INDEX.tsv line {line:?}");
        let frame = std::fs::read(frames_dir().join(columns[1])).expect("frame file");
        assert_eq!(frame.len().to_string(), columns[7], "{}", columns[1]);
        let length = frame_length(&frame, 100 << 20).expect("length").expect("complete prefix");
        assert_eq!(length + 4, frame.len(), "{}", columns[1]);
        let body = Bytes::from(frame).slice(4..);
        let (key, version) = RequestHeader::peek_key_and_version(&body).expect("key and version");
        // Header v1 and v2 share this prefix; v2 adds tagged fields after the client id.
        let mut reader = Reader::new(body, "header", -1);
        let header = RequestHeader::decode(&mut reader, 1).expect(columns[1]);
        assert_eq!((header.api_key, header.api_version), (key, version));
        assert_eq!(header.api_key.to_string(), columns[2], "{}", columns[1]);
        assert_eq!(header.api_version.to_string(), columns[4], "{}", columns[1]);
        assert_eq!(header.correlation_id.to_string(), columns[5], "{}", columns[1]);
        let client_id = header.client_id.as_ref().map_or("", |id| id.as_str());
        assert_eq!(client_id, columns[6], "{}", columns[1]);
        checked += 1;
    }
    assert_eq!(checked, 315, "INDEX.tsv lists 315 frames");
}

//! Writes the generated seeds of the fuzz corpus: `cargo run -p sluice-fuzz --example
//! seed_corpus [corpus dir [frames dir]]` (defaults `fuzz/corpus` and the codec's captured
//! client frames in `../shared/testdata/frames`). Seeds are named `seed-*`, so rerunning
//! replaces them and leaves the fuzzer's finds alone.
//!
//! - `decode_request`: every captured client frame, without its 4-byte length prefix (skipped
//!   when the frames directory is absent);
//! - `decode_response`: a seeded random response of every API at every version;
//! - `record_batch`: v2 batches with every codec, legacy message sets (magic 0 and 1, plain and
//!   compressed), each with the flags byte the target reads first;
//! - `log_recovery`: partition directories written by a real `Log` (one and several segments,
//!   with and without index files, with torn and corrupted tails).
//!
//! `node_ops` has no generated seeds: its committed corpus is what the fuzzer found.

use bytes::BytesMut;
use sluice_core::prng::Prng;
use sluice_core::protocol::api::{Response, APIS};
use sluice_core::protocol::record_batch::{
    build_batch, build_batch_compressed, BatchOptions, Compression, NewRecord,
};
use sluice_fuzz::batch::crc32;
use sluice_fuzz::recovery::RecoveryInput;
use std::path::{Path, PathBuf};

fn main() {
    let root = std::env::args()
        .nth(1)
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"), PathBuf::from);
    let frames = std::env::args().nth(2).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/frames"),
        PathBuf::from,
    );
    let mut written = 0;
    for (target, seeds) in [
        ("decode_request", requests(&frames)),
        ("decode_response", responses()),
        ("record_batch", batches()),
        ("log_recovery", logs()),
    ] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        for (name, bytes) in seeds {
            sluice_fuzz::check(target, &bytes);
            std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
            written += 1;
        }
    }
    println!("wrote {written} seeds under {}", root.display());
}

fn requests(frames: &Path) -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let Ok(clients) = std::fs::read_dir(frames) else { return seeds };
    for client in clients {
        let client = client.expect("frames entry").path();
        let Ok(files) = std::fs::read_dir(&client) else { continue };
        for file in files {
            let file = file.expect("frames entry").path();
            if file.extension().is_none_or(|extension| extension != "bin") {
                continue;
            }
            let frame = std::fs::read(&file).expect("frame");
            let name = format!(
                "{}-{}",
                client.file_name().expect("name").to_string_lossy(),
                file.file_stem().expect("name").to_string_lossy()
            );
            seeds.push((name, frame[4.min(frame.len())..].to_vec()));
        }
    }
    seeds.sort();
    seeds
}

fn responses() -> Vec<(String, Vec<u8>)> {
    let mut prng = Prng::new(0xF022);
    let mut seeds = Vec::new();
    for (index, info) in APIS.iter().enumerate() {
        for version in info.min_version..=info.max_version {
            let response = Response::random(info.key, version, &mut prng).expect("known API");
            let mut frame = BytesMut::new();
            sluice_core::protocol::api::encode_response(7, version, &response, &mut frame);
            let mut seed = vec![index as u8, (version - info.min_version) as u8];
            seed.extend_from_slice(&frame[4..]);
            if seed.len() <= 4096 {
                seeds.push((format!("{}-v{version}", info.name), seed));
            }
        }
    }
    seeds
}

fn records<'a>(keys: &'a [Vec<u8>], values: &'a [Vec<u8>]) -> Vec<NewRecord<'a>> {
    keys.iter()
        .zip(values)
        .enumerate()
        .map(|(index, (key, value))| NewRecord {
            key: Some(key),
            value: Some(value),
            headers: if index == 0 {
                vec![(b"h".as_slice(), Some(b"v".as_slice()))]
            } else {
                vec![]
            },
            timestamp_ms: 1_700_000_000_000 + index as i64,
        })
        .collect()
}

fn sample(count: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let keys = (0..count).map(|index| format!("key-{index}").into_bytes()).collect();
    let values = (0..count).map(|index| format!("value-{index}-xxxxxxxx").into_bytes()).collect();
    (keys, values)
}

fn legacy_message(magic: u8, attributes: u8, key: Option<&[u8]>, value: &[u8]) -> Vec<u8> {
    let mut message = vec![0, 0, 0, 0, magic, attributes];
    if magic == 1 {
        message.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    }
    match key {
        Some(key) => {
            message.extend_from_slice(&(key.len() as i32).to_be_bytes());
            message.extend_from_slice(key);
        }
        None => message.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    message.extend_from_slice(&(value.len() as i32).to_be_bytes());
    message.extend_from_slice(value);
    let crc = crc32(&message[4..]);
    message[..4].copy_from_slice(&crc.to_be_bytes());
    message
}

fn legacy_set(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut set = Vec::new();
    for (offset, message) in messages.iter().enumerate() {
        set.extend_from_slice(&(offset as i64).to_be_bytes());
        set.extend_from_slice(&(message.len() as i32).to_be_bytes());
        set.extend_from_slice(message);
    }
    set
}

fn batches() -> Vec<(String, Vec<u8>)> {
    let (keys, values) = sample(3);
    let records = records(&keys, &values);
    let mut seeds = Vec::new();
    let with_flags = |flags: u8, bytes: &[u8]| {
        let mut seed = vec![flags];
        seed.extend_from_slice(bytes);
        seed
    };
    for (name, codec) in [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        let batch =
            build_batch_compressed(&records, BatchOptions::default(), codec).expect("build");
        seeds.push((format!("v2-{name}"), with_flags(0, &batch)));
    }
    let idempotent = BatchOptions { producer_id: 7, producer_epoch: 1, base_sequence: 5 };
    seeds.push(("v2-idempotent".into(), with_flags(0, &build_batch(&records, idempotent))));
    // Flags that recompress the plain records with each codec and patch length and CRC.
    let plain = build_batch(&records, BatchOptions::default());
    for codec in 1..=4u8 {
        seeds.push((format!("v2-recompress-{codec}"), with_flags(codec << 4 | 3, &plain)));
    }
    for magic in [0u8, 1] {
        let messages: Vec<Vec<u8>> = keys
            .iter()
            .zip(&values)
            .map(|(key, value)| legacy_message(magic, 0, Some(key), value))
            .collect();
        let set = legacy_set(&messages);
        seeds.push((format!("legacy-magic{magic}"), with_flags(0, &set)));
        for codec in 1..=3u8 {
            let flags = codec << 4 | 1 | if magic == 1 { 0x80 } else { 0 };
            seeds.push((format!("legacy-magic{magic}-wrapped-{codec}"), with_flags(flags, &set)));
        }
    }
    seeds
}

fn logs() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let one = RecoveryInput::written_by_log(4, 1 << 20, 4096);
    seeds.push(("one-segment".to_string(), one.encode()));
    let mut bare = one.clone();
    bare.segments[0].indexes = None;
    bare.epochs = None;
    seeds.push(("one-segment-bare".to_string(), bare.encode()));
    let mut torn = bare.clone();
    let length = torn.segments[0].log.len();
    torn.segments[0].log.truncate(length - 7);
    seeds.push(("torn-tail".to_string(), torn.encode()));
    let mut flipped = bare.clone();
    let length = flipped.segments[0].log.len();
    flipped.segments[0].log[length - 3] ^= 0x10;
    seeds.push(("flipped-bit".to_string(), flipped.encode()));
    let mut many = RecoveryInput::written_by_log(30, 1024, 1);
    many.segments.truncate(4);
    many.dense_index = true;
    seeds.push(("four-segments".to_string(), many.encode()));
    let mut trusted = many.clone();
    trusted.recovery_point = Some(trusted.segments[2].base_offset);
    trusted.log_start_offset = Some(5);
    seeds.push(("recovery-point".to_string(), trusted.encode()));
    let mut gap = many.clone();
    gap.segments.remove(1);
    for segment in &mut gap.segments {
        segment.indexes = None;
    }
    seeds.push(("missing-segment".to_string(), gap.encode()));
    seeds
}

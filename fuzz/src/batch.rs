//! Checks of the record batch view and the legacy message-set up-conversion on arbitrary bytes
//! (target `record_batch`).
//!
//! Input: one flags byte, then the bytes under test, read both as a v2 batch and as a legacy
//! (magic 0/1) message set. The flags let the fuzzer past the checksums and framing it cannot
//! guess, so it reaches record iteration and decompression:
//! - bit 0: recompute the CRCs (CRC-32C of the v2 batch, CRC-32 of each legacy message);
//! - bit 1: set `batchLength` to the length of the input;
//! - bits 2–3: the decompression bound (1 MiB, 4 KiB, 100 bytes or 0);
//! - bits 4–6: 1–4 compress the bytes after the v2 header (gzip, snappy, lz4, zstd), and the
//!   legacy message set becomes the inner set of a wrapper message with that codec (1–3);
//! - bit 7: the legacy wrapper is magic 1 with log-append time.
//!
//! Invariants: nothing panics; `validate_deep` passing implies `validate` passing implies
//! `validate_stored` passing, with the same header; decompression respects its bound; record
//! iteration never yields more than `recordsCount` records; a batch `validate_deep` accepts
//! is rewritten with a delete horizon keeping every record and its timestamp; and every
//! up-converted message set is a batch that `validate_deep` accepts, holding as many records
//! as the set held messages.

use bytes::Bytes;
use sluice_core::limits::BATCH_HEADER_BYTES;
use sluice_core::protocol::compression;
use sluice_core::protocol::legacy::{is_legacy, upconvert};
use sluice_core::protocol::record_batch::{
    compute_crc, records_section, rewrite_batch, validate, validate_deep, validate_stored,
    BatchHeader, Compression, Records,
};

const BOUNDS: [usize; 4] = [1 << 20, 4096, 100, 0];
const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Runs every check on one input.
pub fn check_record_batch(data: &[u8]) {
    let Some((&flags, bytes)) = data.split_first() else { return };
    let bound = BOUNDS[usize::from(flags >> 2 & 3)];
    let codec = CODECS.get(usize::from(flags >> 4 & 7)).copied().unwrap_or(Compression::None);
    check_v2(&v2_input(bytes, flags, codec), bound);
    check_legacy(legacy_input(bytes, flags, codec), bound);
}

fn v2_input(bytes: &[u8], flags: u8, codec: Compression) -> Vec<u8> {
    let mut batch = bytes.to_vec();
    if batch.len() < BATCH_HEADER_BYTES {
        return batch;
    }
    if codec != Compression::None {
        let Ok(compressed) = compression::compress(codec, &batch[BATCH_HEADER_BYTES..]) else {
            return batch;
        };
        batch.truncate(BATCH_HEADER_BYTES);
        batch.extend_from_slice(&compressed);
        let attributes = i16::from_be_bytes([batch[21], batch[22]]) & !7 | codec_id(codec);
        batch[21..23].copy_from_slice(&attributes.to_be_bytes());
    }
    if flags & 2 != 0 || codec != Compression::None {
        let length = i32::try_from(batch.len() - 12).unwrap_or(i32::MAX);
        batch[8..12].copy_from_slice(&length.to_be_bytes());
    }
    if flags & 1 != 0 {
        let crc = compute_crc(&batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    batch
}

fn codec_id(codec: Compression) -> i16 {
    match codec {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
        Compression::Unknown(id) => i16::from(id),
    }
}

fn check_v2(batch: &[u8], bound: usize) {
    let parsed = BatchHeader::parse(batch);
    let stored = validate_stored(batch);
    let valid = validate(batch);
    let deep = validate_deep(batch, bound);
    if let Ok(header) = &deep {
        assert_eq!(valid.as_ref(), Ok(header), "validate_deep passed but validate did not");
    }
    if let Ok(header) = &valid {
        assert_eq!(stored.as_ref(), Ok(header), "validate passed but validate_stored did not");
    }
    if let Ok(header) = &stored {
        assert_eq!(parsed.as_ref(), Ok(header), "validate_stored passed but parse did not");
        assert_eq!(header.size_bytes(), batch.len());
        let _ = (header.compression(), header.is_control(), header.is_transactional());
        let _ = (header.is_log_append_time(), header.last_offset(), header.next_offset());
        let _ = count_records(header, &batch[BATCH_HEADER_BYTES..]);
        match records_section(header, batch, bound) {
            Ok(section) => {
                assert!(section.len() <= bound, "decompressed past the bound");
                let counted = count_records(header, &section);
                if deep.is_ok() {
                    assert_eq!(counted.ok(), Some(i64::from(header.records_count)));
                    check_delete_horizon(header, batch, &section);
                }
            }
            Err(_) => assert!(
                deep.is_err() || header.compression() == Compression::None,
                "validate_deep passed but the records do not decompress"
            ),
        }
    }
    if let Ok(header) = &valid {
        assert!(header.records_count > 0);
        assert_eq!(header.records_count - 1, header.last_offset_delta);
    }
}

/// The log cleaner's rewrite of a valid batch with a delete horizon (KIP-534), all records
/// kept: it succeeds; the header is the original's but for the length, CRC, the horizon flag
/// and `baseTimestamp` (the horizon); and every record is the same, its timestamp (base plus
/// delta, wrapping) included.
fn check_delete_horizon(header: &BatchHeader, batch: &[u8], section: &[u8]) {
    let before: Vec<_> =
        Records::new(header, section).map(|record| record.expect("valid")).collect();
    let kept: Vec<u8> = before.iter().flat_map(|record| record.raw.iter().copied()).collect();
    let count = header.records_count;
    for horizon in [header.max_timestamp ^ 0x5a5a_5a5a, i64::MIN, i64::MAX] {
        let again =
            rewrite_batch(batch, &kept, count, Some(horizon)).expect("a valid batch rewrites");
        let new = validate_stored(&again).expect("the rewrite is a valid stored batch");
        let expected = BatchHeader {
            batch_length: new.batch_length,
            crc: new.crc,
            attributes: header.attributes | 0x40,
            base_timestamp: horizon,
            ..*header
        };
        assert_eq!(new, expected);
        assert_eq!(new.delete_horizon_ms(), Some(horizon));
        // The same records, each at most 10 bytes longer (a delta of up to 10 bytes where it
        // had 1, and its length varint one byte longer).
        let grown = section.len() + 10 * before.len();
        let section = records_section(&new, &again, grown).expect("the rewrite decompresses");
        let after: Vec<_> =
            Records::new(&new, &section).map(|record| record.expect("valid")).collect();
        assert_eq!(after.len(), before.len());
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(
                horizon.wrapping_add(new.timestamp_delta),
                header.base_timestamp.wrapping_add(old.timestamp_delta)
            );
            assert_eq!(
                (new.offset_delta, new.key, new.value, new.header_count),
                (old.offset_delta, old.key, old.value, old.header_count)
            );
        }
    }
}

/// Iterates records as the log and consumers do; `Ok(count)` when every record parsed.
fn count_records(header: &BatchHeader, body: &[u8]) -> Result<i64, ()> {
    let mut counted = 0i64;
    let mut failed = false;
    for record in Records::new(header, body) {
        assert!(!failed, "the record iterator continued after an error");
        match record {
            Ok(view) => {
                counted += 1;
                assert!(view.header_count >= 0);
            }
            Err(_) => failed = true,
        }
        assert!(counted <= i64::from(header.records_count.max(0)), "more records than declared");
    }
    if failed {
        Err(())
    } else {
        Ok(counted)
    }
}

/// The legacy interpretation of the input: the set itself, or wrapped with a codec.
fn legacy_input(bytes: &[u8], flags: u8, codec: Compression) -> Vec<u8> {
    let mut set = bytes.to_vec();
    if flags & 1 != 0 {
        patch_legacy_crcs(&mut set);
    }
    let codec = match codec {
        Compression::Zstd => return set, // legacy sets know only gzip, snappy and lz4
        codec => codec,
    };
    if codec == Compression::None {
        return set;
    }
    let Ok(value) = compression::compress(codec, &set) else { return set };
    let magic1 = flags & 0x80 != 0;
    let attributes = codec_id(codec) as u8 | if magic1 { 0x08 } else { 0 };
    let mut message = vec![0, 0, 0, 0, u8::from(magic1), attributes];
    if magic1 {
        message.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    }
    message.extend_from_slice(&(-1i32).to_be_bytes());
    message.extend_from_slice(&(value.len() as i32).to_be_bytes());
    message.extend_from_slice(&value);
    let crc = crc32(&message[4..]);
    message[..4].copy_from_slice(&crc.to_be_bytes());
    let mut wrapper = 0i64.to_be_bytes().to_vec();
    wrapper.extend_from_slice(&(message.len() as i32).to_be_bytes());
    wrapper.extend_from_slice(&message);
    wrapper
}

/// Rewrites the CRC of every message of a legacy set whose framing holds.
fn patch_legacy_crcs(set: &mut [u8]) {
    let mut position = 0usize;
    while let Some(entry) = set.get(position..position + 12) {
        let size = i32::from_be_bytes([entry[8], entry[9], entry[10], entry[11]]);
        let start = position + 12;
        let Ok(size) = usize::try_from(size) else { return };
        if size < 4 || start + size > set.len() {
            return;
        }
        let crc = crc32(&set[start + 4..start + size]);
        set[start..start + 4].copy_from_slice(&crc.to_be_bytes());
        position = start + size;
    }
}

fn check_legacy(set: Vec<u8>, bound: usize) {
    let legacy = is_legacy(&set);
    let Ok(batch) = upconvert(Bytes::from(set), bound) else { return };
    assert!(legacy, "upconvert accepted a set that is_legacy rejects");
    let header = validate_deep(&batch, 1 << 30)
        .unwrap_or_else(|error| panic!("an up-converted message set is invalid: {error}"));
    assert_eq!(header.base_offset, 0);
    assert!(header.records_count > 0);
}

/// CRC-32 (IEEE), as legacy messages carry it.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut index = 0;
        while index < 256 {
            let mut crc = index as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 != 0 { 0xEDB8_8320 ^ (crc >> 1) } else { crc >> 1 };
                bit += 1;
            }
            table[index] = crc;
            index += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in bytes {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

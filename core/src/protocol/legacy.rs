//! Legacy message sets (magic 0 and 1), which Produce v0–v2 carry, up-converted to one v2
//! record batch on arrival, as Kafka 3.x did: the log stores only v2 batches.
//!
//! ```text
//! entry:   offset INT64, message_size INT32, message
//! message: crc UINT32 (CRC-32 IEEE over magic..end), magic INT8, attributes INT8,
//!          timestamp INT64 (magic 1 only), key BYTES, value BYTES
//! ```
//! A compressed message (codec in attributes bits 0–2) is a wrapper whose value holds an inner
//! message set; inner messages are never compressed again.

use super::compression::decompress;
use super::record_batch::{
    build_batch_compressed, BatchError, BatchOptions, Compression, NewRecord,
};
use bytes::Bytes;

const ENTRY_OVERHEAD_BYTES: usize = 12;
const MESSAGE_MAGIC_AT: usize = 16;
/// Most messages one legacy set may hold after decompression.
const LEGACY_MESSAGES_MAX: usize = 1 << 20;

/// Whether `records` starts with a legacy (magic 0 or 1) message.
pub fn is_legacy(records: &[u8]) -> bool {
    matches!(records.get(MESSAGE_MAGIC_AT), Some(0 | 1))
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct LegacyMessage {
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn codec(attributes: i8) -> Compression {
    match attributes & 0x07 {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        other => Compression::Unknown(other as u8),
    }
}

fn parse_bytes(message: &Bytes, position: &mut usize) -> Result<Option<Bytes>, BatchError> {
    let length = message
        .get(*position..*position + 4)
        .ok_or(BatchError::InvalidLegacy("length truncated"))?;
    let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
    *position += 4;
    if length < 0 {
        return Ok(None);
    }
    let end = *position + length as usize;
    if end > message.len() {
        return Err(BatchError::InvalidLegacy("key or value longer than the message"));
    }
    let bytes = message.slice(*position..end);
    *position = end;
    Ok(Some(bytes))
}

/// Parses a message set into its messages (not descending into wrappers).
fn parse_set(set: &Bytes) -> Result<Vec<LegacyMessage>, BatchError> {
    let mut messages = Vec::new();
    let mut position = 0;
    while position < set.len() {
        let header = set.get(position..position + ENTRY_OVERHEAD_BYTES);
        // A partial trailing entry is allowed on fetch, never on produce.
        let header = header.ok_or(BatchError::InvalidLegacy("entry header truncated"))?;
        let size = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        let start = position + ENTRY_OVERHEAD_BYTES;
        if size < 14 || start + size as usize > set.len() {
            return Err(BatchError::InvalidLegacy("message size out of range"));
        }
        let message = set.slice(start..start + size as usize);
        let stored_crc = u32::from_be_bytes([message[0], message[1], message[2], message[3]]);
        if crc32fast::hash(&message[4..]) != stored_crc {
            return Err(BatchError::InvalidLegacy("message CRC mismatch"));
        }
        let magic = message[4] as i8;
        let attributes = message[5] as i8;
        let mut cursor = 6;
        let timestamp = match magic {
            0 => -1,
            1 => {
                let bytes =
                    message.get(6..14).ok_or(BatchError::InvalidLegacy("timestamp truncated"))?;
                cursor = 14;
                i64::from_be_bytes(bytes.try_into().expect("8 bytes"))
            }
            _ => return Err(BatchError::InvalidLegacy("magic is neither 0 nor 1")),
        };
        let key = parse_bytes(&message, &mut cursor)?;
        let value = parse_bytes(&message, &mut cursor)?;
        if cursor != message.len() {
            return Err(BatchError::InvalidLegacy("bytes after the value"));
        }
        if messages.len() >= LEGACY_MESSAGES_MAX {
            return Err(BatchError::InvalidLegacy("too many messages"));
        }
        messages.push(LegacyMessage { magic, attributes, timestamp, key, value });
        position = start + size as usize;
    }
    Ok(messages)
}

/// Up-converts a legacy message set to one v2 batch (base offset 0), compressed with the
/// wrapper's codec. Decompressed inner sets are bounded by `max_decompressed_bytes`.
pub fn upconvert(records: Bytes, max_decompressed_bytes: usize) -> Result<Vec<u8>, BatchError> {
    let mut flat = Vec::new();
    let mut compression = Compression::None;
    for message in parse_set(&records)? {
        let message_codec = codec(message.attributes);
        if message_codec == Compression::None {
            flat.push(message);
            continue;
        }
        compression = message_codec;
        let inner =
            message.value.ok_or(BatchError::InvalidLegacy("compressed wrapper without value"))?;
        let budget = max_decompressed_bytes.saturating_sub(flat.len());
        let inner = decompress(message_codec, &inner, budget)
            .map_err(|error| BatchError::Compression(error.to_string()))?;
        let log_append_time = message.magic == 1 && message.attributes & 0x08 != 0;
        for mut inner_message in parse_set(&Bytes::from(inner))? {
            if codec(inner_message.attributes) != Compression::None {
                return Err(BatchError::InvalidLegacy("nested compression"));
            }
            if log_append_time {
                inner_message.timestamp = message.timestamp;
            }
            flat.push(inner_message);
        }
    }
    if flat.is_empty() {
        return Err(BatchError::InvalidLegacy("empty message set"));
    }
    // A v2 batch stores each timestamp as a delta from the first: they must fit in an i64.
    let base_timestamp = flat[0].timestamp;
    if flat.iter().any(|message| message.timestamp.checked_sub(base_timestamp).is_none()) {
        return Err(BatchError::InvalidLegacy("timestamps too far apart for one batch"));
    }
    let records: Vec<NewRecord<'_>> = flat
        .iter()
        .map(|message| NewRecord {
            key: message.key.as_deref(),
            value: message.value.as_deref(),
            headers: Vec::new(),
            timestamp_ms: message.timestamp,
        })
        .collect();
    build_batch_compressed(&records, BatchOptions::default(), compression)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::BATCH_HEADER_BYTES;
    use crate::protocol::record_batch::{validate_deep, BatchHeader, Records};

    fn message(
        magic: i8,
        attributes: i8,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut body = vec![magic as u8, attributes as u8];
        if magic == 1 {
            body.extend_from_slice(&timestamp.to_be_bytes());
        }
        for field in [key, value] {
            match field {
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(bytes) => {
                    body.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                    body.extend_from_slice(bytes);
                }
            }
        }
        let mut message = crc32fast::hash(&body).to_be_bytes().to_vec();
        message.extend_from_slice(&body);
        message
    }

    fn entry(offset: i64, message: &[u8]) -> Vec<u8> {
        let mut out = offset.to_be_bytes().to_vec();
        out.extend_from_slice(&(message.len() as i32).to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    #[test]
    fn magic_0_and_1_sets_become_one_v2_batch() {
        let mut set = entry(0, &message(0, 0, 0, Some(b"k0"), Some(b"v0")));
        set.extend(entry(1, &message(1, 0, 1234, None, Some(b"v1"))));
        assert!(is_legacy(&set));
        let batch = upconvert(Bytes::from(set), 1 << 20).expect("upconvert");
        let header = validate_deep(&batch, 1 << 20).expect("valid v2");
        assert_eq!(header.records_count, 2);
        assert_eq!(header.max_timestamp, 1234);
        let records: Vec<_> =
            Records::new(&header, &batch[BATCH_HEADER_BYTES..]).collect::<Result<_, _>>().unwrap();
        assert_eq!(records[0].key, Some(&b"k0"[..]));
        assert_eq!(records[1].value, Some(&b"v1"[..]));
        assert!(!is_legacy(&batch));
    }

    #[test]
    fn compressed_wrappers_are_unwrapped_and_recompressed() {
        let mut inner = entry(0, &message(1, 0, 10, None, Some(b"a")));
        inner.extend(entry(1, &message(1, 0, 20, None, Some(b"b"))));
        for (codec_id, codec) in [(1, Compression::Gzip), (2, Compression::Snappy)] {
            let compressed = crate::protocol::compression::compress(codec, &inner).unwrap();
            let set = entry(1, &message(1, codec_id, 20, None, Some(&compressed)));
            let batch = upconvert(Bytes::from(set), 1 << 20).expect("upconvert");
            let header = BatchHeader::parse(&batch).unwrap();
            assert_eq!(header.compression(), codec);
            assert_eq!(validate_deep(&batch, 1 << 20).unwrap().records_count, 2);
        }
    }

    #[test]
    fn damaged_sets_are_refused() {
        let mut good = entry(0, &message(1, 0, 5, None, Some(b"x")));
        let last = good.len() - 1;
        good[last] ^= 1;
        assert_eq!(
            upconvert(Bytes::from(good), 1000),
            Err(BatchError::InvalidLegacy("message CRC mismatch"))
        );
        let truncated = entry(0, &message(0, 0, 0, None, Some(b"xyz")))[..20].to_vec();
        assert!(upconvert(Bytes::from(truncated), 1000).is_err());
        let huge = entry(0, &message(0, 0, 0, None, Some(b"x")))
            .into_iter()
            .enumerate()
            .map(|(index, byte)| if (8..12).contains(&index) { 0x7f } else { byte })
            .collect::<Vec<u8>>();
        assert_eq!(
            upconvert(Bytes::from(huge), 1000),
            Err(BatchError::InvalidLegacy("message size out of range"))
        );
    }
}

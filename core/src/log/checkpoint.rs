//! Kafka's text checkpoint files: a version line (`0`), a count line, then one entry per line.
//!
//! - `recovery-point-offset-checkpoint` and `log-start-offset-checkpoint`, one per log
//!   directory: `topic partition offset`.
//! - `leader-epoch-checkpoint`, one per partition: `epoch start_offset`.

use super::TopicPartition;
use std::collections::BTreeMap;

/// Why a checkpoint file could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckpointError(pub String);

/// Encodes per-partition offsets (`recovery-point-offset-checkpoint` and the like).
pub fn encode_offsets(offsets: &BTreeMap<TopicPartition, i64>) -> Vec<u8> {
    let mut text = format!("0\n{}\n", offsets.len());
    for (partition, offset) in offsets {
        text.push_str(&format!("{} {} {}\n", partition.topic, partition.partition, offset));
    }
    text.into_bytes()
}

/// Parses per-partition offsets.
pub fn decode_offsets(bytes: &[u8]) -> Result<BTreeMap<TopicPartition, i64>, CheckpointError> {
    let entries = decode_lines(bytes, 3)?;
    let mut offsets = BTreeMap::new();
    for fields in entries {
        let partition = parse_number::<i32>(fields[1])?;
        let offset = parse_number::<i64>(fields[2])?;
        offsets.insert(TopicPartition::new(fields[0], partition), offset);
    }
    Ok(offsets)
}

/// Encodes `(leader epoch, start offset)` pairs (`leader-epoch-checkpoint`).
pub fn encode_epochs(epochs: &[(i32, i64)]) -> Vec<u8> {
    let mut text = format!("0\n{}\n", epochs.len());
    for (epoch, start_offset) in epochs {
        text.push_str(&format!("{epoch} {start_offset}\n"));
    }
    text.into_bytes()
}

/// Parses `(leader epoch, start offset)` pairs.
pub fn decode_epochs(bytes: &[u8]) -> Result<Vec<(i32, i64)>, CheckpointError> {
    let entries = decode_lines(bytes, 2)?;
    let mut epochs = Vec::with_capacity(entries.len());
    for fields in entries {
        epochs.push((parse_number::<i32>(fields[0])?, parse_number::<i64>(fields[1])?));
    }
    Ok(epochs)
}

fn decode_lines(bytes: &[u8], field_count: usize) -> Result<Vec<Vec<&str>>, CheckpointError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| CheckpointError("checkpoint is not UTF-8".to_string()))?;
    let mut lines = text.lines();
    let version = lines.next().ok_or_else(|| CheckpointError("checkpoint is empty".into()))?;
    if version.trim() != "0" {
        return Err(CheckpointError(format!("checkpoint version {version:?}, expected 0")));
    }
    let count_line = lines.next().ok_or_else(|| CheckpointError("no entry count".into()))?;
    let count = parse_number::<usize>(count_line)?;
    let entries: Vec<Vec<&str>> = lines.map(|line| line.split_whitespace().collect()).collect();
    if entries.len() != count {
        return Err(CheckpointError(format!("{} entries, header says {count}", entries.len())));
    }
    if let Some(bad) = entries.iter().find(|fields| fields.len() != field_count) {
        return Err(CheckpointError(format!("entry {bad:?} needs {field_count} fields")));
    }
    Ok(entries)
}

fn parse_number<T: std::str::FromStr>(text: &str) -> Result<T, CheckpointError> {
    text.trim().parse().map_err(|_| CheckpointError(format!("{text:?} is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_use_kafkas_text_layout() {
        let mut offsets = BTreeMap::new();
        offsets.insert(TopicPartition::new("orders", 0), 42);
        offsets.insert(TopicPartition::new("a-b", 3), 7);
        let bytes = encode_offsets(&offsets);
        assert_eq!(bytes, b"0\n2\na-b 3 7\norders 0 42\n");
        assert_eq!(decode_offsets(&bytes).expect("valid"), offsets);
        assert!(decode_offsets(b"1\n0\n").is_err());
        assert!(decode_offsets(b"0\n2\norders 0 42\n").is_err());
        assert!(decode_offsets(b"0\n1\norders x 42\n").is_err());
    }

    #[test]
    fn epochs_round_trip() {
        let epochs = vec![(0, 0), (3, 120)];
        let bytes = encode_epochs(&epochs);
        assert_eq!(bytes, b"0\n2\n0 0\n3 120\n");
        assert_eq!(decode_epochs(&bytes).expect("valid"), epochs);
    }
}

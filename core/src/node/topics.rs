//! The node's topic registry: names, ids, partition counts and per-topic config overrides,
//! persisted in `sluice-topics` beside the partition logs until the metadata log replaces it.
//!
//! File format (text, written atomically):
//! ```text
//! 1
//! <count>
//! <name> <topic id, 32 hex digits> <partitions> <k=v,k=v,… | ->
//! <count of deleted topics whose files may remain>
//! <name> <partitions>
//! ```
//! Keys and values are percent-encoded where they hold `%`, `,`, `=`, spaces or newlines.
//! Version 0 (read, never written) has no deleted topics section.
//!
//! The deleted topics are saved with the registry that forgets them, before their files are
//! removed: a start that finds such a topic's partition directories (the broker stopped, or
//! a removal failed, in between) removes them instead of adopting them as strays.

use crate::config::{ConfigError, TopicConfig};
use crate::limits::{CHECKPOINT_FILE_BYTES_MAX, TOPICS_MAX};
use crate::protocol::wire::Uuid;
use crate::storage::{self, Storage, StorageError};
use std::collections::BTreeMap;

const TOPICS_FILE: &str = "sluice-topics";

/// One topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Topic {
    /// Its name.
    pub name: String,
    /// Its id (Metadata v10+, Fetch v13+).
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: i32,
    /// Effective settings (defaults plus overrides).
    pub config: TopicConfig,
}

/// Every topic, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Topics {
    topics: BTreeMap<String, Topic>,
    /// Deleted topics whose partition files may remain: name → partition count.
    deleted: BTreeMap<String, i32>,
}

/// Why the topics file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicsFileError {
    /// The storage failed.
    Storage(StorageError),
    /// The file is damaged; the message says where.
    Corrupt(String),
}

/// Writes `text` as printable ASCII: the separators, `%`, control bytes and every byte of a
/// non-ASCII character as `%XX`, so that [`unescape`] gives back exactly the same bytes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if matches!(byte, b'%' | b',' | b'=' | b' ') || !byte.is_ascii_graphic() {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

fn unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3).ok_or("truncated escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad escape")?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "escaped text is not UTF-8".to_string())
}

impl Topics {
    /// The topic named `name`.
    pub fn get(&self, name: &str) -> Option<&Topic> {
        self.topics.get(name)
    }

    /// The topic named `name`, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Topic> {
        self.topics.get_mut(name)
    }

    /// The topic whose id is `id`.
    pub fn by_id(&self, id: &Uuid) -> Option<&Topic> {
        self.topics.values().find(|topic| &topic.id == id)
    }

    /// Every topic, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Topic> {
        self.topics.values()
    }

    /// Number of topics.
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// Adds or replaces a topic.
    pub fn insert(&mut self, topic: Topic) {
        assert!(self.topics.len() < TOPICS_MAX || self.topics.contains_key(&topic.name));
        self.topics.insert(topic.name.clone(), topic);
    }

    /// Removes a topic.
    pub fn remove(&mut self, name: &str) -> Option<Topic> {
        self.topics.remove(name)
    }

    /// Deleted topics whose partition files may remain (name, partition count).
    pub fn deleted(&self) -> impl Iterator<Item = (&str, i32)> {
        self.deleted.iter().map(|(name, partitions)| (name.as_str(), *partitions))
    }

    /// Notes that topic `name`'s `partitions` partitions are deleted and their files may remain
    /// (saved with the next [`Topics::save`]). False when [`TOPICS_MAX`] such topics are noted
    /// already: their files could not be removed, and the disk needs looking at.
    pub fn note_deleted(&mut self, name: &str, partitions: i32) -> bool {
        if let Some(noted) = self.deleted.get_mut(name) {
            *noted = (*noted).max(partitions);
            return true;
        }
        if self.deleted.len() >= TOPICS_MAX {
            return false;
        }
        self.deleted.insert(name.to_string(), partitions);
        true
    }

    /// Forgets that topic `name`'s files may remain: they were removed. Returns what was noted.
    pub fn forget_deleted(&mut self, name: &str) -> Option<i32> {
        self.deleted.remove(name)
    }

    /// Writes the registry (atomically).
    pub fn save<S: Storage + ?Sized>(&self, storage: &mut S) -> Result<(), StorageError> {
        let mut text = format!("1\n{}\n", self.topics.len());
        for topic in self.topics.values() {
            let id: String = topic.id.iter().map(|byte| format!("{byte:02x}")).collect();
            let overrides: Vec<String> = topic
                .config
                .overrides
                .iter()
                .map(|(key, value)| format!("{}={}", escape(key), escape(value)))
                .collect();
            let overrides =
                if overrides.is_empty() { "-".to_string() } else { overrides.join(",") };
            text.push_str(&format!("{} {id} {} {overrides}\n", topic.name, topic.partitions));
        }
        text.push_str(&format!("{}\n", self.deleted.len()));
        for (name, partitions) in &self.deleted {
            text.push_str(&format!("{name} {partitions}\n"));
        }
        storage::write_file_atomic(storage, TOPICS_FILE, text.as_bytes())
    }

    /// Reads the registry; an absent file is an empty registry. Overrides are re-applied on
    /// top of `defaults`, so a changed broker default reaches every topic without an override.
    pub fn load<S: Storage + ?Sized>(
        storage: &mut S,
        defaults: &TopicConfig,
    ) -> Result<Self, TopicsFileError> {
        let Some(bytes) = storage::read_small_file(storage, TOPICS_FILE, CHECKPOINT_FILE_BYTES_MAX)
            .map_err(TopicsFileError::Storage)?
        else {
            return Ok(Self::default());
        };
        let corrupt = |line: usize, what: &str| {
            TopicsFileError::Corrupt(format!("{TOPICS_FILE} line {line}: {what}"))
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| corrupt(1, "not UTF-8"))?;
        let mut lines = text.lines();
        let version = lines.next();
        if version != Some("0") && version != Some("1") {
            return Err(corrupt(1, "version is not 0 or 1"));
        }
        let count: usize = lines
            .next()
            .and_then(|line| line.parse().ok())
            .ok_or_else(|| corrupt(2, "bad count"))?;
        let mut topics = Self::default();
        for (index, line) in lines.by_ref().take(count).enumerate() {
            let number = index + 3;
            let fields: Vec<&str> = line.split(' ').collect();
            let [name, id, partitions, overrides] = fields[..] else {
                return Err(corrupt(number, "needs 4 fields"));
            };
            let id = parse_uuid(id).ok_or_else(|| corrupt(number, "bad topic id"))?;
            let partitions: i32 =
                partitions.parse().map_err(|_| corrupt(number, "bad partition count"))?;
            let mut pairs = Vec::new();
            if overrides != "-" {
                for pair in overrides.split(',') {
                    let (key, value) =
                        pair.split_once('=').ok_or_else(|| corrupt(number, "bad override"))?;
                    let key = unescape(key).map_err(|error| corrupt(number, &error))?;
                    let value = unescape(value).map_err(|error| corrupt(number, &error))?;
                    pairs.push((key, value));
                }
            }
            let config = TopicConfig::from_overrides(defaults, &pairs)
                .map_err(|error: ConfigError| corrupt(number, &error.to_string()))?;
            if topics.topics.len() >= TOPICS_MAX {
                return Err(corrupt(number, "more topics than TOPICS_MAX"));
            }
            topics.insert(Topic { name: name.to_string(), id, partitions, config });
        }
        if topics.len() != count {
            return Err(corrupt(2, "count does not match the entries"));
        }
        let mut number = count + 3;
        if version == Some("1") {
            let deleted: usize = lines
                .next()
                .and_then(|line| line.parse().ok())
                .filter(|deleted| *deleted <= TOPICS_MAX)
                .ok_or_else(|| corrupt(number, "bad count of deleted topics"))?;
            for line in lines.by_ref().take(deleted) {
                number += 1;
                let (name, partitions) = line
                    .split_once(' ')
                    .and_then(|(name, partitions)| Some((name, partitions.parse().ok()?)))
                    .ok_or_else(|| corrupt(number, "a deleted topic needs a name and a count"))?;
                topics.deleted.insert(name.to_string(), partitions);
            }
            if topics.deleted.len() != deleted {
                return Err(corrupt(count + 3, "deleted count does not match the entries"));
            }
        }
        if lines.next().is_some() {
            return Err(corrupt(number + 1, "unexpected line"));
        }
        Ok(topics)
    }
}

fn parse_uuid(hex: &str) -> Option<Uuid> {
    if hex.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (index, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips() {
        assert_eq!(escape("compact,delete"), "compact%2Cdelete");
        assert_eq!(unescape(&escape("a=b c%d\n")).unwrap(), "a=b c%d\n");
        // Non-ASCII and control characters come back byte for byte (a value once came back
        // with each of its bytes made a character of its own, and the broker could not start).
        for text in ["100\u{a0}", "compact\u{3000}", "caf\u{e9}\u{1}\u{7f}"] {
            let escaped = escape(text);
            assert!(escaped.bytes().all(|byte| byte.is_ascii_graphic()), "{escaped}");
            assert_eq!(unescape(&escaped).unwrap(), text);
        }
        assert_eq!(escape("100\u{a0}"), "100%C2%A0");
        assert!(unescape("%G1").is_err());
    }
}

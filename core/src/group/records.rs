//! The `__consumer_offsets` record format, as Kafka writes it, and `FindCoordinator`'s hash.
//!
//! Keys and values are big-endian and non-flexible, each led by an `i16` version:
//! - offset commit key, version 1 (0 is read too): group, topic, partition;
//! - offset commit value, version 3 (0–3 are read): offset, leader epoch, metadata, commit
//!   timestamp (version 1 also has an expire timestamp, version 3 adds the leader epoch);
//! - group metadata key, version 2: group;
//! - group metadata value, version 3 (0–3 are read): protocol type, generation, protocol, leader,
//!   current state timestamp (v2+), then members: member id, group instance id (v3+), client id,
//!   client host, rebalance timeout (v1+), session timeout, subscription, assignment.
//!
//! A record with no value is a tombstone: the key's offset or group is deleted.

use bytes::{BufMut, Bytes, BytesMut};

/// Offset commit key version written.
pub const OFFSET_KEY_VERSION: i16 = 1;
/// Offset commit value version written.
pub const OFFSET_VALUE_VERSION: i16 = 3;
/// Group metadata key version written.
pub const GROUP_KEY_VERSION: i16 = 2;
/// Group metadata value version written.
pub const GROUP_VALUE_VERSION: i16 = 3;

/// Which `__consumer_offsets` partition coordinates `group_id`: Kafka's
/// `Utils.abs(groupId.hashCode()) % partitions`, with Java's `String.hashCode` over UTF-16 code
/// units and `Utils.abs` mapping `i32::MIN` to 0.
pub fn coordinator_partition(group_id: &str, partitions: i32) -> i32 {
    assert!(partitions > 0, "offsets.topic.num.partitions must be positive");
    let hash = java_string_hash(group_id);
    let absolute = if hash == i32::MIN { 0 } else { hash.abs() };
    let partition = absolute % partitions;
    assert!((0..partitions).contains(&partition));
    partition
}

/// Java's `String.hashCode`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, wrapping.
pub fn java_string_hash(text: &str) -> i32 {
    let mut hash: i32 = 0;
    for unit in text.encode_utf16() {
        hash = hash.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    hash
}

/// A committed offset as stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OffsetValue {
    /// The committed offset.
    pub offset: i64,
    /// Leader epoch of the committed record, -1 if unknown.
    pub leader_epoch: i32,
    /// Client metadata ("" when the client sent null, as Kafka stores it).
    pub metadata: String,
    /// Wall-clock ms of the commit.
    pub commit_timestamp_ms: i64,
}

/// One member inside a group metadata value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemberValue {
    /// Member id.
    pub member_id: String,
    /// Static membership instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout in ms.
    pub rebalance_timeout_ms: i32,
    /// Session timeout in ms.
    pub session_timeout_ms: i32,
    /// Metadata for the selected protocol.
    pub subscription: Bytes,
    /// Assignment from the leader.
    pub assignment: Bytes,
}

/// A group's state as stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupValue {
    /// Protocol type ("" for groups without members so far).
    pub protocol_type: String,
    /// Generation id.
    pub generation: i32,
    /// Selected protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// Wall-clock ms of the last state change.
    pub current_state_timestamp_ms: i64,
    /// Members.
    pub members: Vec<MemberValue>,
}

/// A decoded `__consumer_offsets` key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordKey {
    /// An offset commit key.
    Offset {
        /// Group id.
        group: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// A group metadata key.
    Group {
        /// Group id.
        group: String,
    },
}

/// Why a `__consumer_offsets` record could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordError {
    /// The bytes ended early or had trailing garbage.
    Truncated,
    /// A string was not UTF-8 or had a negative length.
    BadString,
    /// A key or value version this broker does not know.
    UnknownVersion(i16),
    /// Loading the record would exceed `GROUPS_MAX`, `GROUP_MEMBERS_MAX` or
    /// `OFFSETS_PER_GROUP_MAX`.
    TooMany,
}

fn put_string(out: &mut BytesMut, text: &str) {
    let length = i16::try_from(text.len()).expect("record string fits an i16 length");
    out.put_i16(length);
    out.put_slice(text.as_bytes());
}

fn put_nullable_string(out: &mut BytesMut, text: Option<&str>) {
    match text {
        None => out.put_i16(-1),
        Some(text) => put_string(out, text),
    }
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8]) {
    let length = i32::try_from(bytes.len()).expect("record bytes fit an i32 length");
    out.put_i32(length);
    out.put_slice(bytes);
}

/// The key of an offset commit record.
pub fn encode_offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut out = BytesMut::with_capacity(2 + 2 + group.len() + 2 + topic.len() + 4);
    out.put_i16(OFFSET_KEY_VERSION);
    put_string(&mut out, group);
    put_string(&mut out, topic);
    out.put_i32(partition);
    out.freeze()
}

/// The value of an offset commit record.
pub fn encode_offset_value(value: &OffsetValue) -> Bytes {
    let mut out = BytesMut::with_capacity(2 + 8 + 4 + 2 + value.metadata.len() + 8);
    out.put_i16(OFFSET_VALUE_VERSION);
    out.put_i64(value.offset);
    out.put_i32(value.leader_epoch);
    put_string(&mut out, &value.metadata);
    out.put_i64(value.commit_timestamp_ms);
    out.freeze()
}

/// The key of a group metadata record.
pub fn encode_group_key(group: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(2 + 2 + group.len());
    out.put_i16(GROUP_KEY_VERSION);
    put_string(&mut out, group);
    out.freeze()
}

/// The value of a group metadata record.
pub fn encode_group_value(value: &GroupValue) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(GROUP_VALUE_VERSION);
    put_string(&mut out, &value.protocol_type);
    out.put_i32(value.generation);
    put_nullable_string(&mut out, value.protocol.as_deref());
    put_nullable_string(&mut out, value.leader.as_deref());
    out.put_i64(value.current_state_timestamp_ms);
    let count = i32::try_from(value.members.len()).expect("member count fits an i32");
    out.put_i32(count);
    for member in &value.members {
        put_string(&mut out, &member.member_id);
        put_nullable_string(&mut out, member.group_instance_id.as_deref());
        put_string(&mut out, &member.client_id);
        put_string(&mut out, &member.client_host);
        out.put_i32(member.rebalance_timeout_ms);
        out.put_i32(member.session_timeout_ms);
        put_bytes(&mut out, &member.subscription);
        put_bytes(&mut out, &member.assignment);
    }
    out.freeze()
}

/// A bounds-checked big-endian reader over one record's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], RecordError> {
        if self.bytes.len() < count {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, RecordError> {
        let raw = self.take(2)?;
        Ok(i16::from_be_bytes([raw[0], raw[1]]))
    }

    fn i32(&mut self) -> Result<i32, RecordError> {
        let raw = self.take(4)?;
        Ok(i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }

    fn i64(&mut self) -> Result<i64, RecordError> {
        let raw = self.take(8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(raw);
        Ok(i64::from_be_bytes(word))
    }

    fn nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        let length = self.i16()?;
        if length == -1 {
            return Ok(None);
        }
        let length = usize::try_from(length).map_err(|_| RecordError::BadString)?;
        let raw = self.take(length)?;
        let text = std::str::from_utf8(raw).map_err(|_| RecordError::BadString)?;
        Ok(Some(text.to_owned()))
    }

    fn string(&mut self) -> Result<String, RecordError> {
        self.nullable_string()?.ok_or(RecordError::BadString)
    }

    fn bytes(&mut self) -> Result<Bytes, RecordError> {
        let length = self.i32()?;
        if length == -1 {
            return Ok(Bytes::new());
        }
        let length = usize::try_from(length).map_err(|_| RecordError::Truncated)?;
        Ok(Bytes::copy_from_slice(self.take(length)?))
    }

    fn finish<T>(self, value: T) -> Result<T, RecordError> {
        if self.bytes.is_empty() {
            Ok(value)
        } else {
            Err(RecordError::Truncated)
        }
    }
}

/// Reads a `__consumer_offsets` key (offset key versions 0–1, group key version 2).
pub fn decode_key(key: &[u8]) -> Result<RecordKey, RecordError> {
    let mut cursor = Cursor { bytes: key };
    let version = cursor.i16()?;
    let decoded = match version {
        0 | 1 => {
            let group = cursor.string()?;
            let topic = cursor.string()?;
            let partition = cursor.i32()?;
            RecordKey::Offset { group, topic, partition }
        }
        2 => RecordKey::Group { group: cursor.string()? },
        other => return Err(RecordError::UnknownVersion(other)),
    };
    cursor.finish(decoded)
}

/// Reads an offset commit value, versions 0–3.
pub fn decode_offset_value(value: &[u8]) -> Result<OffsetValue, RecordError> {
    let mut cursor = Cursor { bytes: value };
    let version = cursor.i16()?;
    if !(0..=3).contains(&version) {
        return Err(RecordError::UnknownVersion(version));
    }
    let offset = cursor.i64()?;
    let leader_epoch = if version >= 3 { cursor.i32()? } else { -1 };
    let metadata = cursor.string()?;
    let commit_timestamp_ms = cursor.i64()?;
    if version == 1 {
        let _expire_timestamp_ms = cursor.i64()?;
    }
    cursor.finish(OffsetValue { offset, leader_epoch, metadata, commit_timestamp_ms })
}

/// Reads a group metadata value, versions 0–3.
pub fn decode_group_value(value: &[u8]) -> Result<GroupValue, RecordError> {
    let mut cursor = Cursor { bytes: value };
    let version = cursor.i16()?;
    if !(0..=3).contains(&version) {
        return Err(RecordError::UnknownVersion(version));
    }
    let protocol_type = cursor.string()?;
    let generation = cursor.i32()?;
    let protocol = cursor.nullable_string()?;
    let leader = cursor.nullable_string()?;
    let current_state_timestamp_ms = if version >= 2 { cursor.i64()? } else { -1 };
    let count = cursor.i32()?;
    let count = usize::try_from(count).map_err(|_| RecordError::Truncated)?;
    // Each member takes at least 24 bytes: never reserve more than the bytes can hold.
    if count > cursor.bytes.len() / 24 {
        return Err(RecordError::Truncated);
    }
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let member_id = cursor.string()?;
        let group_instance_id = if version >= 3 { cursor.nullable_string()? } else { None };
        let client_id = cursor.string()?;
        let client_host = cursor.string()?;
        let session_timeout_first = cursor.i32()?;
        let (rebalance_timeout_ms, session_timeout_ms) = if version >= 1 {
            (session_timeout_first, cursor.i32()?)
        } else {
            (session_timeout_first, session_timeout_first)
        };
        let subscription = cursor.bytes()?;
        let assignment = cursor.bytes()?;
        members.push(MemberValue {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    let decoded = GroupValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    };
    cursor.finish(decoded)
}

/// The topics in a consumer-protocol subscription (`ConsumerProtocolSubscription`: version,
/// then an array of topic names), or `None` when the bytes are not one.
pub fn subscribed_topics(subscription: &[u8]) -> Option<Vec<String>> {
    let mut cursor = Cursor { bytes: subscription };
    let version = cursor.i16().ok()?;
    if version < 0 {
        return None;
    }
    let count = usize::try_from(cursor.i32().ok()?).ok()?;
    if count > cursor.bytes.len() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        topics.push(cursor.string().ok()?);
    }
    Some(topics)
}

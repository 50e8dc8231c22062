//! A zero-copy view of v2 record batches (magic 2), the format every Kafka client since 0.11
//! produces and the only format stored in the log.
//!
//! ```text
//! offset  size  field                  covered by CRC
//!   0      8    baseOffset             no  (patched by the log on append)
//!   8      4    batchLength            no  (bytes after this field)
//!  12      4    partitionLeaderEpoch   no  (patched by the log on append)
//!  16      1    magic                  no
//!  17      4    crc (CRC-32C)          no
//!  21      2    attributes             yes
//!  23      4    lastOffsetDelta        yes
//!  27      8    baseTimestamp          yes
//!  35      8    maxTimestamp           yes
//!  43      8    producerId             yes
//!  51      2    producerEpoch          yes
//!  53      4    baseSequence           yes
//!  57      4    recordsCount           yes
//!  61      …    records                yes
//! ```

use super::varint::{read_varint, read_varlong, write_varint, write_varlong};
use super::ErrorCode;
use crate::limits::{BATCH_BYTES_MAX, BATCH_HEADER_BYTES};
use std::fmt;

/// Bytes before the part of a batch that `batchLength` counts.
pub const LOG_OVERHEAD_BYTES: usize = 12;
const PARTITION_LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const MAX_TIMESTAMP_AT: usize = 35;
const RECORDS_COUNT_AT: usize = 57;
const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_LOG_APPEND: i16 = 0x08;
const TRANSACTIONAL_FLAG: i16 = 0x10;
const CONTROL_FLAG: i16 = 0x20;
/// KIP-534: `baseTimestamp` holds the delete horizon set by the log cleaner.
const DELETE_HORIZON_FLAG: i16 = 0x40;
const BASE_TIMESTAMP_AT: usize = 27;

/// Why bytes are not a valid v2 batch. Each names the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BatchError {
    /// Fewer bytes than the header, or than `batchLength` announces.
    Truncated {
        /// Bytes the batch needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// `batchLength` is negative, too small for a header, or over the batch size limit.
    InvalidLength(i32),
    /// More bytes follow the batch than `batchLength` covers.
    TrailingBytes(usize),
    /// `magic` is not 2.
    UnsupportedMagic(i8),
    /// The stored CRC-32C does not match the bytes.
    CrcMismatch {
        /// CRC in the header.
        stored: u32,
        /// CRC computed over attributes..end.
        computed: u32,
    },
    /// `recordsCount` is negative or disagrees with `lastOffsetDelta` or the records present.
    InvalidRecordCount {
        /// `recordsCount` from the header.
        declared: i32,
        /// What the rest of the batch implies.
        found: i64,
    },
    /// A record inside an uncompressed batch is malformed.
    InvalidRecord(&'static str),
    /// The records could not be decompressed (corrupt, unknown codec, or over the bound).
    Compression(String),
    /// A legacy (magic 0/1) message set is malformed.
    InvalidLegacy(&'static str),
}

impl BatchError {
    /// The Kafka error code a producer receives for this batch.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::Truncated { .. }
            | Self::InvalidLength(_)
            | Self::TrailingBytes(_)
            | Self::UnsupportedMagic(_)
            | Self::CrcMismatch { .. } => ErrorCode::CorruptMessage,
            Self::InvalidRecordCount { .. } | Self::InvalidRecord(_) => ErrorCode::InvalidRecord,
            Self::Compression(_) | Self::InvalidLegacy(_) => ErrorCode::CorruptMessage,
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(f, "record batch truncated: needs {needed} bytes, has {available}")
            }
            Self::InvalidLength(length) => {
                write!(f, "record batch batchLength {length} is invalid")
            }
            Self::TrailingBytes(count) => write!(f, "{count} bytes follow the record batch"),
            Self::UnsupportedMagic(magic) => write!(f, "record batch magic {magic}, expected 2"),
            Self::CrcMismatch { stored, computed } => {
                write!(f, "record batch CRC {stored:#010x} does not match {computed:#010x}")
            }
            Self::InvalidRecordCount { declared, found } => {
                write!(f, "record batch recordsCount {declared} disagrees with {found}")
            }
            Self::InvalidRecord(what) => write!(f, "record batch holds a bad record: {what}"),
            Self::Compression(detail) => write!(f, "record batch records: {detail}"),
            Self::InvalidLegacy(what) => write!(f, "legacy message set: {what}"),
        }
    }
}

impl std::error::Error for BatchError {}

/// Compression codec from a batch's attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Records stored as they are.
    None,
    /// gzip.
    Gzip,
    /// snappy (xerial framing).
    Snappy,
    /// lz4 frame.
    Lz4,
    /// zstd.
    Zstd,
    /// A codec id Kafka does not define (5..=7).
    Unknown(u8),
}

/// The decoded fixed header of a v2 batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    /// Leader epoch of the leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Format version; 2 for every batch this type accepts.
    pub magic: i8,
    /// CRC-32C over attributes..end.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control flags.
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (or the log-append time).
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Idempotent producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

impl BatchHeader {
    /// Reads the header at the start of `bytes` without checking lengths against the rest or
    /// the CRC. Errors only if fewer than 61 bytes are present or `batchLength` is impossible.
    pub fn parse(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < BATCH_HEADER_BYTES {
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_BYTES,
                available: bytes.len(),
            });
        }
        let header = Self {
            base_offset: i64_at(bytes, 0),
            batch_length: i32_at(bytes, 8),
            partition_leader_epoch: i32_at(bytes, PARTITION_LEADER_EPOCH_AT),
            magic: bytes[MAGIC_AT] as i8,
            crc: u32::from_be_bytes(array_at(bytes, CRC_AT)),
            attributes: i16::from_be_bytes(array_at(bytes, ATTRIBUTES_AT)),
            last_offset_delta: i32_at(bytes, 23),
            base_timestamp: i64_at(bytes, 27),
            max_timestamp: i64_at(bytes, MAX_TIMESTAMP_AT),
            producer_id: i64_at(bytes, 43),
            producer_epoch: i16::from_be_bytes(array_at(bytes, 51)),
            base_sequence: i32_at(bytes, 53),
            records_count: i32_at(bytes, 57),
        };
        let size_min = (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32;
        if header.batch_length < size_min || header.batch_length as usize > BATCH_BYTES_MAX {
            return Err(BatchError::InvalidLength(header.batch_length));
        }
        Ok(header)
    }

    /// Total bytes of the batch, header included.
    pub fn size_bytes(&self) -> usize {
        LOG_OVERHEAD_BYTES + self.batch_length as usize
    }

    /// Offset of the last record (`base_offset + last_offset_delta`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset.saturating_add(i64::from(self.last_offset_delta))
    }

    /// Offset after the last record.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The compression codec.
    pub fn compression(&self) -> Compression {
        match (self.attributes & COMPRESSION_MASK) as u8 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => Compression::Unknown(other),
        }
    }

    /// Whether `maxTimestamp` is the broker's log-append time rather than the producer's.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_LOG_APPEND != 0
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }

    /// Whether the batch is a transaction marker.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }

    /// The delete horizon the log cleaner set (KIP-534): once the deletion clock reaches it,
    /// the batch's tombstones may go. It is held in `baseTimestamp`, the records' timestamp
    /// deltas counting from it.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_FLAG != 0).then_some(self.base_timestamp)
    }
}

/// The CRC-32C that a batch's `crc` field must hold.
pub fn compute_crc(batch: &[u8]) -> u32 {
    assert!(batch.len() >= BATCH_HEADER_BYTES);
    crc32c::crc32c(&batch[ATTRIBUTES_AT..])
}

/// Checks what the log re-checks on every stored batch: exactly one batch of this length,
/// magic 2, and a matching CRC-32C. Used by recovery and reads.
pub fn validate_stored(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(batch)?;
    let size = header.size_bytes();
    if batch.len() < size {
        return Err(BatchError::Truncated { needed: size, available: batch.len() });
    }
    if batch.len() > size {
        return Err(BatchError::TrailingBytes(batch.len() - size));
    }
    if header.magic != 2 {
        return Err(BatchError::UnsupportedMagic(header.magic));
    }
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch { stored: header.crc, computed });
    }
    Ok(header)
}

/// Checks that `batch` is exactly one well-formed v2 batch as a producer must send it:
/// everything [`validate_stored`] checks, plus at least one record and a record count that
/// agrees with `lastOffsetDelta` and, for uncompressed batches, with the records themselves.
/// Compressed payloads are checked by CRC only; their records are counted when decompressed.
pub fn validate(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = validate_counted(batch)?;
    if header.compression() == Compression::None {
        check_records(&header, &batch[BATCH_HEADER_BYTES..])?;
    }
    Ok(header)
}

/// [`validate_stored`], plus a record count that agrees with `lastOffsetDelta`.
fn validate_counted(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = validate_stored(batch)?;
    if header.records_count < 0 || header.last_offset_delta < 0 {
        let found = i64::from(header.last_offset_delta) + 1;
        return Err(BatchError::InvalidRecordCount { declared: header.records_count, found });
    }
    if header.records_count == 0 || header.records_count - 1 != header.last_offset_delta {
        let found = i64::from(header.last_offset_delta) + 1;
        return Err(BatchError::InvalidRecordCount { declared: header.records_count, found });
    }
    Ok(header)
}

/// Checks every record of `body` (the batch's records, decompressed) and their count, and
/// returns the largest timestamp they carry (`baseTimestamp` plus each delta; -1 for none).
fn check_records(header: &BatchHeader, body: &[u8]) -> Result<i64, BatchError> {
    let mut counted: i64 = 0;
    let mut max_timestamp = -1;
    for record in Records::new(header, body) {
        let record = record?;
        max_timestamp =
            max_timestamp.max(header.base_timestamp.wrapping_add(record.timestamp_delta));
        counted += 1;
    }
    if counted != i64::from(header.records_count) {
        return Err(BatchError::InvalidRecordCount {
            declared: header.records_count,
            found: counted,
        });
    }
    Ok(max_timestamp)
}

/// Writes `base_offset` into a batch in place (outside the CRC).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    assert!(batch.len() >= BATCH_HEADER_BYTES);
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Writes `partitionLeaderEpoch` into a batch in place (outside the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    assert!(batch.len() >= BATCH_HEADER_BYTES);
    let range = PARTITION_LEADER_EPOCH_AT..PARTITION_LEADER_EPOCH_AT + 4;
    batch[range].copy_from_slice(&epoch.to_be_bytes());
}

/// Stamps a batch's header with a log-append time, as a broker does for a topic whose
/// `message.timestamp.type` is `LogAppendTime`: sets the timestamp-type attribute and
/// `maxTimestamp`, and re-computes the CRC over the patched header and `records` (the bytes
/// that follow the header, unchanged). `baseTimestamp` and the records keep the producer's
/// times; readers ignore them for such a batch.
pub fn set_log_append_time(header: &mut [u8; BATCH_HEADER_BYTES], records: &[u8], wall_ms: i64) {
    let attributes = i16::from_be_bytes([header[ATTRIBUTES_AT], header[ATTRIBUTES_AT + 1]]);
    let attributes = attributes | TIMESTAMP_TYPE_LOG_APPEND;
    header[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    header[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&wall_ms.to_be_bytes());
    write_crc(header, records);
}

/// Writes into a patched `header` the CRC over it and `records`, the bytes that follow it.
fn write_crc(header: &mut [u8; BATCH_HEADER_BYTES], records: &[u8]) {
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[ATTRIBUTES_AT..]), records);
    header[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Clears a produced batch's delete-horizon flag (KIP-534) and re-computes the CRC over the
/// patched header and `records`, as for [`set_log_append_time`]. The horizon is the log
/// cleaner's to set: from a producer it would let compaction drop the batch's tombstones at
/// once. `baseTimestamp` stays, so every record keeps its timestamp.
pub fn clear_delete_horizon(header: &mut [u8; BATCH_HEADER_BYTES], records: &[u8]) {
    let attributes = i16::from_be_bytes([header[ATTRIBUTES_AT], header[ATTRIBUTES_AT + 1]]);
    if attributes & DELETE_HORIZON_FLAG != 0 {
        let attributes = attributes & !DELETE_HORIZON_FLAG;
        header[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
        write_crc(header, records);
    }
}

/// One record of an uncompressed batch, borrowed from the batch bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Timestamp relative to the batch's base timestamp.
    pub timestamp_delta: i64,
    /// The key, or `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value, or `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    /// Number of headers (their bytes are checked but not exposed yet).
    pub header_count: i32,
    /// The record's bytes as stored, its length varint included (what a rewritten batch,
    /// such as a compacted one, copies).
    pub raw: &'a [u8],
}

/// Iterates the records of an uncompressed batch body. Stops at the first malformed record,
/// after yielding its error; never reads past `body`.
pub struct Records<'a> {
    body: &'a [u8],
    position: usize,
    remaining: i64,
    failed: bool,
}

impl<'a> Records<'a> {
    /// Records of a batch whose header is `header` and whose bytes after the header are `body`.
    pub fn new(header: &BatchHeader, body: &'a [u8]) -> Self {
        Self { body, position: 0, remaining: i64::from(header.records_count.max(0)), failed: false }
    }

    fn next_record(&mut self) -> Result<RecordView<'a>, BatchError> {
        let start = self.position;
        let (length, used) = read_varint(&self.body[self.position..])
            .map_err(|_| BatchError::InvalidRecord("record length varint"))?;
        self.position += used;
        if length < 0 || length as usize > self.body.len() - self.position {
            return Err(BatchError::InvalidRecord("record length exceeds the batch"));
        }
        let record = &self.body[self.position..self.position + length as usize];
        self.position += length as usize;
        let mut cursor = Cursor { bytes: record, position: 0 };
        cursor.skip(1, "record attributes")?;
        let timestamp_delta = cursor.varlong("record timestampDelta")?;
        let offset_delta = cursor.varint("record offsetDelta")?;
        let key = cursor.nullable_bytes("record key")?;
        let value = cursor.nullable_bytes("record value")?;
        let header_count = cursor.varint("record headers count")?;
        if header_count < 0 {
            return Err(BatchError::InvalidRecord("record headers count is negative"));
        }
        for _ in 0..header_count {
            if cursor.nullable_bytes("record header key")?.is_none() {
                return Err(BatchError::InvalidRecord("record header key is null"));
            }
            cursor.nullable_bytes("record header value")?;
        }
        if cursor.position != record.len() {
            return Err(BatchError::InvalidRecord("record has trailing bytes"));
        }
        let raw = &self.body[start..self.position];
        Ok(RecordView { offset_delta, timestamp_delta, key, value, header_count, raw })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordView<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            if self.position != self.body.len() {
                self.failed = true;
                return Some(Err(BatchError::InvalidRecord("bytes after the last record")));
            }
            return None;
        }
        if self.position == self.body.len() {
            self.failed = true;
            return Some(Err(BatchError::InvalidRecord("fewer records than recordsCount")));
        }
        self.remaining -= 1;
        let result = self.next_record();
        self.failed = result.is_err();
        Some(result)
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    fn skip(&mut self, count: usize, field: &'static str) -> Result<(), BatchError> {
        if self.bytes.len() - self.position < count {
            return Err(BatchError::InvalidRecord(field));
        }
        self.position += count;
        Ok(())
    }

    fn varint(&mut self, field: &'static str) -> Result<i32, BatchError> {
        let (value, used) = read_varint(&self.bytes[self.position..])
            .map_err(|_| BatchError::InvalidRecord(field))?;
        self.position += used;
        Ok(value)
    }

    fn varlong(&mut self, field: &'static str) -> Result<i64, BatchError> {
        let (value, used) = read_varlong(&self.bytes[self.position..])
            .map_err(|_| BatchError::InvalidRecord(field))?;
        self.position += used;
        Ok(value)
    }

    fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, BatchError> {
        let length = self.varint(field)?;
        if length < 0 {
            return Ok(None);
        }
        let start = self.position;
        self.skip(length as usize, field)?;
        Ok(Some(&self.bytes[start..self.position]))
    }
}

/// A record to put into a batch with [`build_batch`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRecord<'a> {
    /// Key, or `None` for null.
    pub key: Option<&'a [u8]>,
    /// Value, or `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    /// Header (key, value) pairs.
    pub headers: Vec<(&'a [u8], Option<&'a [u8]>)>,
    /// Timestamp in ms since the epoch.
    pub timestamp_ms: i64,
}

/// Fields of a batch header that [`build_batch`] takes from the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Idempotent producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self { producer_id: -1, producer_epoch: -1, base_sequence: -1 }
    }
}

/// Encodes an uncompressed v2 batch with base offset 0, as a producer would send it.
pub fn build_batch(records: &[NewRecord<'_>], options: BatchOptions) -> Vec<u8> {
    assert!(!records.is_empty(), "a batch holds at least one record");
    let base_timestamp = records[0].timestamp_ms;
    let max_timestamp = records.iter().map(|record| record.timestamp_ms).max().unwrap_or(-1);
    // Room for every key, value and header plus typical varints: one allocation, no regrowth.
    let payload: usize = records
        .iter()
        .map(|record| {
            let headers: usize = record
                .headers
                .iter()
                .map(|(key, value)| key.len() + value.map_or(0, <[u8]>::len) + 10)
                .sum();
            record.key.map_or(0, <[u8]>::len) + record.value.map_or(0, <[u8]>::len) + headers
        })
        .sum();
    let mut out = Vec::with_capacity(BATCH_HEADER_BYTES + records.len() * 24 + payload);
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // batchLength, set below
    out.extend_from_slice(&(-1i32).to_be_bytes()); // partitionLeaderEpoch
    out.push(2);
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, set below
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(&((records.len() - 1) as i32).to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&options.producer_id.to_be_bytes());
    out.extend_from_slice(&options.producer_epoch.to_be_bytes());
    out.extend_from_slice(&options.base_sequence.to_be_bytes());
    out.extend_from_slice(&(records.len() as i32).to_be_bytes());
    assert_eq!(out.len(), BATCH_HEADER_BYTES);
    let mut body = Vec::new();
    for (index, record) in records.iter().enumerate() {
        body.clear();
        body.push(0);
        write_varlong(record.timestamp_ms.wrapping_sub(base_timestamp), &mut body);
        write_varint(index as i32, &mut body);
        write_nullable(record.key, &mut body);
        write_nullable(record.value, &mut body);
        write_varint(record.headers.len() as i32, &mut body);
        for (key, value) in &record.headers {
            write_nullable(Some(key), &mut body);
            write_nullable(*value, &mut body);
        }
        write_varint(body.len() as i32, &mut out);
        out.extend_from_slice(&body);
    }
    let batch_length = (out.len() - LOG_OVERHEAD_BYTES) as i32;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

fn write_nullable(bytes: Option<&[u8]>, out: &mut Vec<u8>) {
    match bytes {
        None => write_varint(-1, out),
        Some(bytes) => {
            write_varint(bytes.len() as i32, out);
            out.extend_from_slice(bytes);
        }
    }
}

fn array_at<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut array = [0u8; N];
    array.copy_from_slice(&bytes[at..at + N]);
    array
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(array_at(bytes, at))
}

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(array_at(bytes, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let records = [
            NewRecord {
                key: Some(b"k1"),
                value: Some(b"v1"),
                timestamp_ms: 1000,
                ..Default::default()
            },
            NewRecord {
                key: None,
                value: Some(b"value-two"),
                headers: vec![(b"h", Some(b"x"))],
                timestamp_ms: 1005,
            },
        ];
        build_batch(&records, BatchOptions::default())
    }

    #[test]
    fn built_batch_validates_with_exact_header_fields() {
        let batch = sample();
        let header = validate(&batch).expect("valid");
        assert_eq!(header.base_offset, 0);
        assert_eq!(header.size_bytes(), batch.len());
        assert_eq!(header.magic, 2);
        assert_eq!(header.records_count, 2);
        assert_eq!(header.last_offset_delta, 1);
        assert_eq!(header.base_timestamp, 1000);
        assert_eq!(header.max_timestamp, 1005);
        assert_eq!(header.compression(), Compression::None);
        let records: Vec<_> = Records::new(&header, &batch[BATCH_HEADER_BYTES..])
            .collect::<Result<_, _>>()
            .expect("records");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].key, Some(&b"k1"[..]));
        assert_eq!(records[1].key, None);
        assert_eq!(records[1].value, Some(&b"value-two"[..]));
        assert_eq!(records[1].timestamp_delta, 5);
        assert_eq!(records[1].offset_delta, 1);
        assert_eq!(records[1].header_count, 1);
    }

    #[test]
    fn patching_offset_and_epoch_keeps_the_crc_valid() {
        let mut batch = sample();
        set_base_offset(&mut batch, 1234);
        set_partition_leader_epoch(&mut batch, 7);
        let header = validate(&batch).expect("still valid");
        assert_eq!(header.base_offset, 1234);
        assert_eq!(header.last_offset(), 1235);
        assert_eq!(header.partition_leader_epoch, 7);
    }

    #[test]
    fn every_kind_of_damage_is_named() {
        let good = sample();
        assert_eq!(validate(&good[..30]), Err(BatchError::Truncated { needed: 61, available: 30 }));
        assert_eq!(
            validate(&good[..good.len() - 1]),
            Err(BatchError::Truncated { needed: good.len(), available: good.len() - 1 })
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(validate(&trailing), Err(BatchError::TrailingBytes(1)));
        let mut magic = good.clone();
        magic[16] = 1;
        assert_eq!(validate(&magic), Err(BatchError::UnsupportedMagic(1)));
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(matches!(validate(&flipped), Err(BatchError::CrcMismatch { .. })));
        assert_eq!(validate(&flipped).unwrap_err().error_code(), ErrorCode::CorruptMessage);
        let mut negative = good.clone();
        negative[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(validate(&negative), Err(BatchError::InvalidLength(-5)));
    }

    #[test]
    fn record_count_must_match_the_records_even_with_a_valid_crc() {
        // Goal: a batch claiming i32::MAX records but holding two is refused as INVALID_RECORD,
        // after a bounded walk, even though its CRC was recomputed to match.
        let mut batch = sample();
        batch[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        batch[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes());
        let crc = compute_crc(&batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
        let error = validate(&batch).unwrap_err();
        assert_eq!(error, BatchError::InvalidRecord("fewer records than recordsCount"));
        assert_eq!(error.error_code(), ErrorCode::InvalidRecord);
        let mut mismatch = sample();
        mismatch[23..27].copy_from_slice(&5i32.to_be_bytes());
        let crc = compute_crc(&mismatch);
        mismatch[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            validate(&mismatch),
            Err(BatchError::InvalidRecordCount { declared: 2, found: 6 })
        );
    }
}

/// `original` (a stored batch) with only some of its records: `records` holds the kept
/// records' stored bytes (each with its length varint, offset deltas unchanged), `count` of
/// them, compressed again with the batch's codec. Every header field but the length, the
/// record count and the CRC is kept, `lastOffsetDelta` included, so the batch still spans
/// the same offsets (as Kafka's log cleaner keeps them). `count` 0 gives an empty batch.
///
/// With `delete_horizon_ms`, the batch gets that delete horizon (KIP-534), as Kafka's cleaner
/// sets it on a batch whose tombstones it keeps: the flag in the attributes, the horizon in
/// `baseTimestamp`, and each record's timestamp delta recounted from it, so that every
/// record's timestamp (base plus delta, wrapping as Kafka's readers compute it) is unchanged.
pub fn rewrite_batch(
    original: &[u8],
    records: &[u8],
    count: i32,
    delete_horizon_ms: Option<i64>,
) -> Result<Vec<u8>, BatchError> {
    let header = BatchHeader::parse(original)?;
    let rebased;
    let records = match delete_horizon_ms {
        Some(horizon) => {
            rebased = rebase_timestamps(records, header.base_timestamp, horizon)?;
            &rebased[..]
        }
        None => records,
    };
    let body = if count == 0 {
        Vec::new()
    } else {
        super::compression::compress(header.compression(), records)
            .map_err(|error| BatchError::Compression(error.to_string()))?
    };
    let mut out = Vec::with_capacity(BATCH_HEADER_BYTES + body.len());
    out.extend_from_slice(&original[..BATCH_HEADER_BYTES]);
    out.extend_from_slice(&body);
    if count == 0 {
        // No records, so no codec: an empty batch is stored uncompressed. Nor a horizon (no
        // tombstones left), so `baseTimestamp` is a time again, as Kafka writes an empty
        // batch's header.
        let attributes = header.attributes & !COMPRESSION_MASK & !DELETE_HORIZON_FLAG;
        out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
        if header.delete_horizon_ms().is_some() {
            let max_timestamp = header.max_timestamp.to_be_bytes();
            out[BASE_TIMESTAMP_AT..BASE_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp);
        }
    }
    if let Some(horizon) = delete_horizon_ms {
        let attributes = i16::from_be_bytes(array_at(&out, ATTRIBUTES_AT)) | DELETE_HORIZON_FLAG;
        out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
        out[BASE_TIMESTAMP_AT..BASE_TIMESTAMP_AT + 8].copy_from_slice(&horizon.to_be_bytes());
    }
    let batch_length = (out.len() - LOG_OVERHEAD_BYTES) as i32;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&count.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// Stored records (each with its length varint) with their timestamp deltas recounted from
/// `new_base` instead of `old_base`. Only the length varint and the delta change; the rest of
/// each record is copied as it is.
fn rebase_timestamps(records: &[u8], old_base: i64, new_base: i64) -> Result<Vec<u8>, BatchError> {
    let malformed = |_| BatchError::InvalidRecord("malformed record while rebasing timestamps");
    let mut out = Vec::with_capacity(records.len() + records.len() / 8 + 16);
    let mut body = Vec::new();
    let mut position = 0;
    while position < records.len() {
        let (length, length_bytes) = read_varint(&records[position..]).map_err(malformed)?;
        let start = position + length_bytes;
        let end = usize::try_from(length)
            .ok()
            .and_then(|length| start.checked_add(length))
            .filter(|&end| end <= records.len() && end > start)
            .ok_or(BatchError::InvalidRecord("record length out of bounds while rebasing"))?;
        let record = &records[start..end];
        let (delta, delta_bytes) = read_varlong(&record[1..]).map_err(malformed)?;
        let timestamp = old_base.wrapping_add(delta);
        body.clear();
        body.push(record[0]);
        write_varlong(timestamp.wrapping_sub(new_base), &mut body);
        body.extend_from_slice(&record[1 + delta_bytes..]);
        let length = i32::try_from(body.len())
            .map_err(|_| BatchError::InvalidRecord("record too long while rebasing"))?;
        write_varint(length, &mut out);
        out.extend_from_slice(&body);
        position = end;
    }
    Ok(out)
}

/// Merges the headers of consecutive batches without records (see [`rewrite_batch`]) into
/// one: `first`'s header spanning through `last_offset`, with the largest `max_timestamp`,
/// no codec, and no producer (id, epoch and sequence -1, not transactional): a merged span
/// says nothing about any producer's sequences.
pub fn merge_empty_batches(first: &[u8], last_offset: i64, max_timestamp: i64) -> Vec<u8> {
    assert!(first.len() >= BATCH_HEADER_BYTES);
    let mut out = first[..BATCH_HEADER_BYTES].to_vec();
    let attributes = i16::from_be_bytes(array_at(&out, ATTRIBUTES_AT));
    if attributes & DELETE_HORIZON_FLAG != 0 {
        // No tombstones left: `baseTimestamp` is a time again (see `rewrite_batch`).
        out[BASE_TIMESTAMP_AT..BASE_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp.to_be_bytes());
    }
    let attributes = attributes & !COMPRESSION_MASK & !TRANSACTIONAL_FLAG & !DELETE_HORIZON_FLAG;
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    out[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    out[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    out[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    let base_offset = i64_at(&out, 0);
    let delta = i32::try_from(last_offset - base_offset).expect("a merged span fits a batch");
    assert!(delta >= 0);
    out[8..12].copy_from_slice(&((BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32).to_be_bytes());
    out[23..27].copy_from_slice(&delta.to_be_bytes());
    out[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp.to_be_bytes());
    out[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&0i32.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The records of a batch: borrowed from it when uncompressed, else decompressed (bounded by
/// `max_bytes`).
pub fn records_body<'a>(
    header: &BatchHeader,
    batch: &'a [u8],
    max_bytes: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, BatchError> {
    if header.compression() == Compression::None {
        assert!(batch.len() >= BATCH_HEADER_BYTES);
        return Ok(std::borrow::Cow::Borrowed(&batch[BATCH_HEADER_BYTES..]));
    }
    records_section(header, batch, max_bytes).map(std::borrow::Cow::Owned)
}

/// The records section of a batch, decompressed (bounded by `max_bytes`).
pub fn records_section(
    header: &BatchHeader,
    batch: &[u8],
    max_bytes: usize,
) -> Result<Vec<u8>, BatchError> {
    assert!(batch.len() >= BATCH_HEADER_BYTES);
    super::compression::decompress(header.compression(), &batch[BATCH_HEADER_BYTES..], max_bytes)
        .map_err(|error| BatchError::Compression(error.to_string()))
}

/// [`validate`], and for compressed batches also decompress (within `max_decompressed_bytes`)
/// and check every record and the record count, as Kafka does for produced batches.
pub fn validate_deep(
    batch: &[u8],
    max_decompressed_bytes: usize,
) -> Result<BatchHeader, BatchError> {
    validate_deep_timed(batch, max_decompressed_bytes).map(|(header, _)| header)
}

/// [`validate_deep`], also returning the largest timestamp the records carry (-1 for none):
/// what Kafka writes into a CreateTime batch's `maxTimestamp` whatever the producer put there.
pub fn validate_deep_timed(
    batch: &[u8],
    max_decompressed_bytes: usize,
) -> Result<(BatchHeader, i64), BatchError> {
    let header = validate_counted(batch)?;
    let max_timestamp = if header.compression() == Compression::None {
        check_records(&header, &batch[BATCH_HEADER_BYTES..])?
    } else {
        let records = records_section(&header, batch, max_decompressed_bytes)?;
        check_records(&header, &records)?
    };
    Ok((header, max_timestamp))
}

/// The same batch with `maxTimestamp` set to `max_timestamp` and its CRC computed again.
pub fn with_max_timestamp(batch: &[u8], max_timestamp: i64) -> Vec<u8> {
    assert!(batch.len() >= BATCH_HEADER_BYTES);
    let mut out = batch.to_vec();
    out[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A copy of `batch` with the CreateTime timestamp type (the LogAppendTime bit cleared) and
/// its CRC computed again; every other byte stays.
pub fn with_create_time(batch: &[u8]) -> Vec<u8> {
    assert!(batch.len() >= BATCH_HEADER_BYTES);
    let mut out = batch.to_vec();
    let attributes = i16::from_be_bytes([out[ATTRIBUTES_AT], out[ATTRIBUTES_AT + 1]]);
    let attributes = attributes & !TIMESTAMP_TYPE_LOG_APPEND;
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The same batch with its records stored with `codec` instead, as a broker re-encodes a
/// batch for a topic whose `compression.type` names another codec: every header field but
/// `batchLength`, the compression bits and the CRC stays as it was, and the records are the
/// same bytes. Decompression is bounded by `max_decompressed_bytes`.
pub fn recompress(
    header: &BatchHeader,
    batch: &[u8],
    codec: Compression,
    max_decompressed_bytes: usize,
) -> Result<Vec<u8>, BatchError> {
    assert_eq!(batch.len(), header.size_bytes(), "the header is this batch's");
    let codec_id: i16 = match codec {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
        Compression::Unknown(_) => {
            return Err(BatchError::Compression(format!("cannot compress with {codec:?}")))
        }
    };
    let records = records_section(header, batch, max_decompressed_bytes)?;
    let body = if codec == Compression::None {
        records
    } else {
        super::compression::compress(codec, &records)
            .map_err(|error| BatchError::Compression(error.to_string()))?
    };
    let mut out = Vec::with_capacity(BATCH_HEADER_BYTES + body.len());
    out.extend_from_slice(&batch[..BATCH_HEADER_BYTES]);
    out.extend_from_slice(&body);
    let batch_length = i32::try_from(out.len() - LOG_OVERHEAD_BYTES)
        .map_err(|_| BatchError::InvalidLength(i32::MAX))?;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    let attributes = (header.attributes & !COMPRESSION_MASK) | codec_id;
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// Encodes a v2 batch with base offset 0 whose records are compressed with `compression`.
pub fn build_batch_compressed(
    records: &[NewRecord<'_>],
    options: BatchOptions,
    compression: Compression,
) -> Result<Vec<u8>, BatchError> {
    let plain = build_batch(records, options);
    if compression == Compression::None {
        return Ok(plain);
    }
    let codec_id = match compression {
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
        Compression::None | Compression::Unknown(_) => {
            return Err(BatchError::Compression(format!("cannot compress with {compression:?}")))
        }
    };
    let compressed = super::compression::compress(compression, &plain[BATCH_HEADER_BYTES..])
        .map_err(|error| BatchError::Compression(error.to_string()))?;
    let mut out = plain[..BATCH_HEADER_BYTES].to_vec();
    out.extend_from_slice(&compressed);
    let batch_length = (out.len() - LOG_OVERHEAD_BYTES) as i32;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&(codec_id as i16).to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod compressed_tests {
    use super::*;

    #[test]
    fn recompressing_keeps_every_header_field_and_record_but_the_codec() {
        let value = vec![b'v'; 300];
        let records: Vec<NewRecord<'_>> = (0..5)
            .map(|index| NewRecord {
                key: Some(b"k"),
                value: Some(&value),
                timestamp_ms: 1000 + index,
                ..Default::default()
            })
            .collect();
        let options = BatchOptions { producer_id: 7, producer_epoch: 2, base_sequence: 40 };
        let codecs = [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4];
        let codecs = codecs.into_iter().chain([Compression::Zstd]);
        let plain = build_batch(&records, options);
        let plain_header = validate_deep(&plain, 1 << 20).expect("valid");
        for from in codecs.clone() {
            let original = build_batch_compressed(&records, options, from).expect("build");
            let header = validate_deep(&original, 1 << 20).expect("valid");
            for to in codecs.clone() {
                let again = recompress(&header, &original, to, 1 << 20).expect("recompress");
                let new = validate_deep(&again, 1 << 20)
                    .unwrap_or_else(|error| panic!("{from:?} -> {to:?}: {error}"));
                assert_eq!(new.compression(), to);
                let expected = BatchHeader {
                    batch_length: new.batch_length,
                    crc: new.crc,
                    attributes: new.attributes,
                    ..plain_header
                };
                assert_eq!(new, expected, "{from:?} -> {to:?}");
                assert_eq!(new.attributes & !COMPRESSION_MASK, 0);
                let section = records_section(&new, &again, 1 << 20).expect("records");
                assert_eq!(section, plain[BATCH_HEADER_BYTES..], "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn a_delete_horizon_moves_the_base_timestamp_and_keeps_every_record_s_time() {
        let value = vec![b'v'; 200];
        let records = [
            NewRecord {
                key: Some(b"a"),
                value: Some(&value),
                timestamp_ms: 1000,
                ..Default::default()
            },
            NewRecord { key: Some(b"b"), value: None, timestamp_ms: 1003, ..Default::default() },
            NewRecord {
                key: Some(b"c"),
                value: None,
                headers: vec![(b"h", Some(b"x")), (b"i", None)],
                timestamp_ms: 990,
            },
        ];
        let options = BatchOptions { producer_id: 7, producer_epoch: 2, base_sequence: 40 };
        let codecs = [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4];
        for codec in codecs.into_iter().chain([Compression::Zstd]) {
            let original = build_batch_compressed(&records, options, codec).expect("build");
            let header = validate_deep(&original, 1 << 20).expect("valid");
            assert_eq!(header.delete_horizon_ms(), None);
            let section = records_section(&header, &original, 1 << 20).expect("records");
            let before: Vec<RecordView<'_>> =
                Records::new(&header, &section).map(|record| record.expect("record")).collect();
            // The last two records, as a compaction keeping the tombstones passes them; one
            // horizon far from the records' time, one that makes the deltas wrap.
            let kept: Vec<u8> = before[1..].iter().flat_map(|record| record.raw.to_vec()).collect();
            for horizon in [1_700_000_000_000, i64::MAX - 5] {
                let again = rewrite_batch(&original, &kept, 2, Some(horizon)).expect("rewrite");
                let new = validate_stored(&again)
                    .unwrap_or_else(|error| panic!("{codec:?} at {horizon}: {error}"));
                let expected = BatchHeader {
                    batch_length: new.batch_length,
                    crc: new.crc,
                    attributes: header.attributes | DELETE_HORIZON_FLAG,
                    base_timestamp: horizon,
                    records_count: 2,
                    ..header
                };
                assert_eq!(new, expected, "{codec:?}");
                assert_eq!(new.delete_horizon_ms(), Some(horizon));
                let section = records_section(&new, &again, 1 << 20).expect("records");
                let after: Vec<RecordView<'_>> =
                    Records::new(&new, &section).map(|record| record.expect("record")).collect();
                assert_eq!(after.len(), 2);
                for (old, new) in before[1..].iter().zip(&after) {
                    assert_eq!(
                        horizon.wrapping_add(new.timestamp_delta),
                        header.base_timestamp + old.timestamp_delta,
                        "{codec:?}"
                    );
                    assert_eq!(
                        (new.offset_delta, new.key, new.value, new.header_count),
                        (old.offset_delta, old.key, old.value, old.header_count)
                    );
                }
            }
            // Emptied later, by a rewrite or a merge of empty batches, it has no horizon:
            // `baseTimestamp` is a time again.
            let flagged = rewrite_batch(&original, &kept, 2, Some(77)).expect("rewrite");
            let emptied = rewrite_batch(&flagged, &[], 0, None).expect("rewrite");
            let empty = validate_stored(&emptied).expect("valid");
            assert_eq!(
                (empty.delete_horizon_ms(), empty.base_timestamp, empty.records_count),
                (None, header.max_timestamp, 0)
            );
            assert_eq!(empty.compression(), Compression::None);
            let merged = merge_empty_batches(&flagged, header.last_offset(), 5000);
            let merged = validate_stored(&merged).expect("valid");
            assert_eq!(
                (merged.delete_horizon_ms(), merged.base_timestamp, merged.max_timestamp),
                (None, 5000, 5000)
            );
            // Without a horizon the records are copied as they were.
            let plain = rewrite_batch(&original, &kept, 2, None).expect("rewrite");
            let new = validate_stored(&plain).expect("valid");
            assert_eq!((new.delete_horizon_ms(), new.base_timestamp), (None, 1000));
            let section = records_section(&new, &plain, 1 << 20).expect("records");
            assert_eq!(section, kept, "{codec:?}");
        }
    }

    #[test]
    fn rebasing_refuses_records_cut_short() {
        let records =
            [NewRecord { key: Some(b"k"), value: None, timestamp_ms: 5, ..Default::default() }];
        let batch = build_batch(&records, BatchOptions::default());
        let kept = &batch[BATCH_HEADER_BYTES..];
        for cut in 0..kept.len() {
            let error = rewrite_batch(&batch, &kept[..cut], 1, Some(10)).map(|_| ());
            assert!(
                matches!(error, Err(BatchError::InvalidRecord(_))) || cut == 0,
                "cut at {cut}: {error:?}"
            );
        }
    }

    #[test]
    fn a_log_append_time_stamp_sets_the_flag_and_time_and_a_matching_crc() {
        let records = [NewRecord { value: Some(b"v"), timestamp_ms: 1000, ..Default::default() }];
        let batch = build_batch(&records, BatchOptions::default());
        let mut header = [0u8; BATCH_HEADER_BYTES];
        header.copy_from_slice(&batch[..BATCH_HEADER_BYTES]);
        set_log_append_time(&mut header, &batch[BATCH_HEADER_BYTES..], 5000);
        let mut stamped = header.to_vec();
        stamped.extend_from_slice(&batch[BATCH_HEADER_BYTES..]);
        let parsed = validate(&stamped).expect("the CRC matches");
        assert!(parsed.is_log_append_time());
        assert_eq!((parsed.base_timestamp, parsed.max_timestamp), (1000, 5000));
        assert_eq!(parsed.compression(), Compression::None);
    }

    #[test]
    fn compressed_batches_validate_deeply_with_every_codec() {
        let value = vec![b'v'; 300];
        let records: Vec<NewRecord<'_>> = (0..10)
            .map(|index| NewRecord {
                value: Some(&value),
                timestamp_ms: 1000 + index,
                ..Default::default()
            })
            .collect();
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let batch =
                build_batch_compressed(&records, BatchOptions::default(), codec).expect("build");
            let header = validate_deep(&batch, 1 << 20).expect("valid");
            assert_eq!(header.compression(), codec);
            assert_eq!(header.records_count, 10);
            assert!(batch.len() < 1000, "{codec:?} compressed 3000 bytes to {}", batch.len());
            // The bound on decompressed size holds.
            assert!(matches!(validate_deep(&batch, 100), Err(BatchError::Compression(_))));
        }
    }

    #[test]
    fn a_compressed_batch_whose_count_lies_is_invalid() {
        let records = [
            NewRecord { value: Some(b"a"), ..Default::default() },
            NewRecord { value: Some(b"b"), ..Default::default() },
        ];
        let mut batch =
            build_batch_compressed(&records, BatchOptions::default(), Compression::Gzip)
                .expect("build");
        batch[57..61].copy_from_slice(&3i32.to_be_bytes());
        batch[23..27].copy_from_slice(&2i32.to_be_bytes());
        let crc = compute_crc(&batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(validate(&batch).is_ok(), "the header alone is consistent");
        assert_eq!(
            validate_deep(&batch, 1 << 20),
            Err(BatchError::InvalidRecord("fewer records than recordsCount"))
        );
    }
}

//! Kafka wire primitives: a zero-copy, bounded reader and the matching writer.
//!
//! Every read names the field it reads, and the reader knows the API and version it decodes,
//! so each [`DecodeError`] says exactly where the input went wrong. No read allocates from a
//! wire count: a length or element count is checked against the bytes that remain (times the
//! smallest possible element size) before anything is sliced, and strings and byte fields are
//! slices of the input [`Bytes`], never copies.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// What was wrong with the bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The input ends before the field does.
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// A length is negative where null is not allowed, or below -1.
    InvalidLength(i64),
    /// A count or length asks for more than the remaining bytes could possibly hold.
    CountExceedsRemaining {
        /// The count or length on the wire.
        count: u64,
        /// Bytes left.
        remaining: usize,
    },
    /// A string is not UTF-8.
    InvalidUtf8,
    /// A varint runs past its maximum length.
    VarintTooLong,
    /// A frame's length prefix is negative or above the limit.
    InvalidFrameLength(i64),
    /// The API key is unknown to this broker.
    UnknownApiKey(i16),
    /// The version is outside what this broker implements for the API.
    UnsupportedVersion,
}

/// Why bytes could not be decoded: which API, version and field, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// API name, such as `Metadata`, or `header` / `frame`.
    pub api: &'static str,
    /// API version being decoded (-1 when not yet known).
    pub version: i16,
    /// The field, such as `topics[].name`.
    pub field: &'static str,
    /// What was wrong.
    pub problem: Problem,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{}: field {}: {:?}", self.api, self.version, self.field, self.problem)
    }
}

impl std::error::Error for DecodeError {}

/// A UTF-8 string that borrows the input buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrBytes(Bytes);

impl StrBytes {
    /// A string that owns a copy of `text` (for values the broker creates).
    pub fn from_string(text: String) -> Self {
        Self(Bytes::from(text))
    }

    /// A string from a static literal.
    pub fn from_static(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ever built from validated UTF-8 (decode checks; constructors take &str/String).
        std::str::from_utf8(&self.0).expect("StrBytes holds UTF-8")
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl fmt::Display for StrBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 16-byte UUID (topic ids).
pub type Uuid = [u8; 16];

/// Reads Kafka primitives from a `Bytes` without copying. See the module docs.
#[derive(Clone, Debug)]
pub struct Reader {
    buffer: Bytes,
    position: usize,
    api: &'static str,
    version: i16,
}

impl Reader {
    /// A reader over `buffer`, decoding `api` at `version` (named in errors).
    pub fn new(buffer: Bytes, api: &'static str, version: i16) -> Self {
        Self { buffer, position: 0, api, version }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buffer.len() - self.position
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> Bytes {
        self.buffer.slice(self.position..)
    }

    /// Sets the API and version named in later errors (once the header is known).
    pub fn set_context(&mut self, api: &'static str, version: i16) {
        self.api = api;
        self.version = version;
    }

    /// An error at `field`.
    pub fn error(&self, field: &'static str, problem: Problem) -> DecodeError {
        DecodeError { api: self.api, version: self.version, field, problem }
    }

    fn take(&mut self, count: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        if count > self.remaining() {
            let problem = Problem::Truncated { needed: count, remaining: self.remaining() };
            return Err(self.error(field, problem));
        }
        let slice = self.buffer.slice(self.position..self.position + count);
        self.position += count;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        if N > self.remaining() {
            let problem = Problem::Truncated { needed: N, remaining: self.remaining() };
            return Err(self.error(field, problem));
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buffer[self.position..self.position + N]);
        self.position += N;
        Ok(out)
    }

    /// `BOOLEAN`: any non-zero byte is true.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        Ok(self.array::<1>(field)?[0] != 0)
    }

    /// `INT8`.
    pub fn i8(&mut self, field: &'static str) -> Result<i8, DecodeError> {
        Ok(i8::from_be_bytes(self.array(field)?))
    }

    /// `INT16`.
    pub fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }

    /// `UINT16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// `INT32`.
    pub fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    /// `UINT32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// `INT64`.
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// `FLOAT64`.
    pub fn f64(&mut self, field: &'static str) -> Result<f64, DecodeError> {
        Ok(f64::from_be_bytes(self.array(field)?))
    }

    /// `UUID`.
    pub fn uuid(&mut self, field: &'static str) -> Result<Uuid, DecodeError> {
        self.array(field)
    }

    /// `UNSIGNED_VARINT` (at most 5 bytes, a u32).
    pub fn unsigned_varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for index in 0..5 {
            let byte = self.array::<1>(field)?[0];
            if index == 4 && byte > 0x0f {
                return Err(self.error(field, Problem::VarintTooLong));
            }
            value |= u32::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error(field, Problem::VarintTooLong))
    }

    /// `VARINT` (zigzag i32).
    pub fn varint(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        let raw = self.unsigned_varint(field)?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// `VARLONG` (zigzag i64, at most 10 bytes).
    pub fn varlong(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        let mut raw: u64 = 0;
        for index in 0..10 {
            let byte = self.array::<1>(field)?[0];
            if index == 9 && byte > 0x01 {
                return Err(self.error(field, Problem::VarintTooLong));
            }
            raw |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        Err(self.error(field, Problem::VarintTooLong))
    }

    /// A length that `-1` may mark as null; checked against the remaining bytes.
    fn length(&mut self, raw: i64, field: &'static str) -> Result<Option<usize>, DecodeError> {
        if raw == -1 {
            return Ok(None);
        }
        if raw < -1 {
            return Err(self.error(field, Problem::InvalidLength(raw)));
        }
        let length = raw as u64;
        if length > self.remaining() as u64 {
            let problem =
                Problem::CountExceedsRemaining { count: length, remaining: self.remaining() };
            return Err(self.error(field, problem));
        }
        Ok(Some(length as usize))
    }

    fn utf8(&self, bytes: Bytes, field: &'static str) -> Result<StrBytes, DecodeError> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(StrBytes(bytes)),
            Err(_) => Err(self.error(field, Problem::InvalidUtf8)),
        }
    }

    /// `NULLABLE_STRING` (INT16 length, -1 for null).
    pub fn nullable_string(
        &mut self,
        field: &'static str,
    ) -> Result<Option<StrBytes>, DecodeError> {
        let raw = i64::from(self.i16(field)?);
        match self.length(raw, field)? {
            None => Ok(None),
            Some(length) => {
                let bytes = self.take(length, field)?;
                self.utf8(bytes, field).map(Some)
            }
        }
    }

    /// `STRING` (INT16 length; null is an error).
    pub fn string(&mut self, field: &'static str) -> Result<StrBytes, DecodeError> {
        self.nullable_string(field)?.ok_or_else(|| self.error(field, Problem::InvalidLength(-1)))
    }

    /// `COMPACT_NULLABLE_STRING` (UNSIGNED_VARINT length + 1, 0 for null).
    pub fn compact_nullable_string(
        &mut self,
        field: &'static str,
    ) -> Result<Option<StrBytes>, DecodeError> {
        let raw = i64::from(self.unsigned_varint(field)?) - 1;
        match self.length(raw, field)? {
            None => Ok(None),
            Some(length) => {
                let bytes = self.take(length, field)?;
                self.utf8(bytes, field).map(Some)
            }
        }
    }

    /// `COMPACT_STRING` (null is an error).
    pub fn compact_string(&mut self, field: &'static str) -> Result<StrBytes, DecodeError> {
        let value = self.compact_nullable_string(field)?;
        value.ok_or_else(|| self.error(field, Problem::InvalidLength(-1)))
    }

    /// `NULLABLE_BYTES` (INT32 length, -1 for null).
    pub fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<Bytes>, DecodeError> {
        let raw = i64::from(self.i32(field)?);
        match self.length(raw, field)? {
            None => Ok(None),
            Some(length) => self.take(length, field).map(Some),
        }
    }

    /// `BYTES` (null is an error).
    pub fn bytes(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        self.nullable_bytes(field)?.ok_or_else(|| self.error(field, Problem::InvalidLength(-1)))
    }

    /// `COMPACT_NULLABLE_BYTES`.
    pub fn compact_nullable_bytes(
        &mut self,
        field: &'static str,
    ) -> Result<Option<Bytes>, DecodeError> {
        let raw = i64::from(self.unsigned_varint(field)?) - 1;
        match self.length(raw, field)? {
            None => Ok(None),
            Some(length) => self.take(length, field).map(Some),
        }
    }

    /// `COMPACT_BYTES` (null is an error).
    pub fn compact_bytes(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let value = self.compact_nullable_bytes(field)?;
        value.ok_or_else(|| self.error(field, Problem::InvalidLength(-1)))
    }

    /// An element count that `-1`/null may mark as null. `element_bytes_min` is the smallest
    /// encoding of one element: a count that could not fit in the remaining bytes is refused
    /// here, so callers may safely reserve capacity for it.
    fn count(
        &mut self,
        raw: i64,
        element_bytes_min: usize,
        field: &'static str,
    ) -> Result<Option<usize>, DecodeError> {
        if raw == -1 {
            return Ok(None);
        }
        if raw < -1 {
            return Err(self.error(field, Problem::InvalidLength(raw)));
        }
        let count = raw as u64;
        if count.saturating_mul(element_bytes_min.max(1) as u64) > self.remaining() as u64 {
            let problem = Problem::CountExceedsRemaining { count, remaining: self.remaining() };
            return Err(self.error(field, problem));
        }
        Ok(Some(count as usize))
    }

    /// `ARRAY` count (INT32, -1 for null), bounded as described on `count`.
    pub fn array_count(
        &mut self,
        element_bytes_min: usize,
        field: &'static str,
    ) -> Result<Option<usize>, DecodeError> {
        let raw = i64::from(self.i32(field)?);
        self.count(raw, element_bytes_min, field)
    }

    /// `COMPACT_ARRAY` count (UNSIGNED_VARINT count + 1, 0 for null).
    pub fn compact_array_count(
        &mut self,
        element_bytes_min: usize,
        field: &'static str,
    ) -> Result<Option<usize>, DecodeError> {
        let raw = i64::from(self.unsigned_varint(field)?) - 1;
        self.count(raw, element_bytes_min, field)
    }

    /// A tagged-field section: calls `known` for each tag (it must consume exactly the value's
    /// bytes from the sub-reader it gets, or return `false` to leave the tag unknown), and
    /// returns the unknown ones as `(tag, raw value)` so they can be re-encoded unchanged.
    pub fn tagged_fields(
        &mut self,
        field: &'static str,
        mut known: impl FnMut(u32, &mut Reader) -> Result<bool, DecodeError>,
    ) -> Result<Vec<(u32, Bytes)>, DecodeError> {
        let count = self.unsigned_varint(field)?;
        // Each tagged field takes at least two bytes (tag and size).
        let count = self.count(i64::from(count), 2, field)?.unwrap_or(0);
        let mut unknown = Vec::new();
        let mut previous_tag = None;
        for _ in 0..count {
            let tag = self.unsigned_varint(field)?;
            if previous_tag.is_some_and(|previous| tag <= previous) {
                return Err(self.error(field, Problem::InvalidLength(i64::from(tag))));
            }
            previous_tag = Some(tag);
            let size = self.unsigned_varint(field)? as usize;
            let value = self.take(size, field)?;
            let mut sub = Reader::new(value.clone(), self.api, self.version);
            if known(tag, &mut sub)? {
                if sub.remaining() != 0 {
                    let problem =
                        Problem::Truncated { needed: size - sub.remaining(), remaining: size };
                    return Err(self.error(field, problem));
                }
            } else {
                unknown.push((tag, value));
            }
        }
        Ok(unknown)
    }
}

/// Where encoded bytes go: a buffer, or a [`Counter`] that only measures, so the encoded size
/// of a message is computed by the very code that encodes it.
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);

    /// Bytes put so far.
    fn position(&self) -> usize;

    /// Overwrites bytes put earlier by one `put`, starting at `position` (a frame's length
    /// prefix, known only once the frame is encoded).
    fn patch(&mut self, position: usize, bytes: &[u8]);

    /// A hint that `additional` more bytes follow, so a growing buffer can allocate once.
    fn reserve(&mut self, _additional: usize) {}

    /// Appends bytes that are already shared: a sink that sends parts separately may keep a
    /// reference instead of copying (stored record batches in a Fetch answer).
    fn put_shared(&mut self, bytes: &Bytes) {
        self.put(bytes);
    }
}

impl Sink for BytesMut {
    fn put(&mut self, bytes: &[u8]) {
        self.put_slice(bytes);
    }

    fn position(&self) -> usize {
        self.len()
    }

    fn patch(&mut self, position: usize, bytes: &[u8]) {
        self[position..position + bytes.len()].copy_from_slice(bytes);
    }

    fn reserve(&mut self, additional: usize) {
        BytesMut::reserve(self, additional);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn position(&self) -> usize {
        self.len()
    }

    fn patch(&mut self, position: usize, bytes: &[u8]) {
        self[position..position + bytes.len()].copy_from_slice(bytes);
    }

    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional);
    }
}

/// A [`Sink`] that counts bytes and stores none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }

    fn position(&self) -> usize {
        self.0
    }

    fn patch(&mut self, _position: usize, _bytes: &[u8]) {}
}

/// Writes Kafka primitives. Mirrors [`Reader`].
pub mod write {
    use super::Sink;
    use bytes::Bytes;

    /// `BOOLEAN`.
    pub fn bool<W: Sink + ?Sized>(out: &mut W, value: bool) {
        out.put(&[u8::from(value)]);
    }

    /// `UNSIGNED_VARINT`.
    pub fn unsigned_varint<W: Sink + ?Sized>(out: &mut W, mut value: u32) {
        let mut bytes = [0u8; 5];
        let mut used = 0;
        while value >= 0x80 {
            bytes[used] = (value as u8) | 0x80;
            value >>= 7;
            used += 1;
        }
        bytes[used] = value as u8;
        out.put(&bytes[..=used]);
    }

    /// Bytes `unsigned_varint` writes for `value`.
    pub fn unsigned_varint_size(value: u32) -> usize {
        match value {
            0..=0x7f => 1,
            0x80..=0x3fff => 2,
            0x4000..=0x1f_ffff => 3,
            0x20_0000..=0xfff_ffff => 4,
            _ => 5,
        }
    }

    /// `VARINT`.
    pub fn varint<W: Sink + ?Sized>(out: &mut W, value: i32) {
        unsigned_varint(out, ((value << 1) ^ (value >> 31)) as u32);
    }

    /// `VARLONG`.
    pub fn varlong<W: Sink + ?Sized>(out: &mut W, value: i64) {
        let mut raw = ((value << 1) ^ (value >> 63)) as u64;
        let mut bytes = [0u8; 10];
        let mut used = 0;
        while raw >= 0x80 {
            bytes[used] = (raw as u8) | 0x80;
            raw >>= 7;
            used += 1;
        }
        bytes[used] = raw as u8;
        out.put(&bytes[..=used]);
    }

    /// `NULLABLE_STRING`.
    pub fn nullable_string<W: Sink + ?Sized>(out: &mut W, value: Option<&str>) {
        nullable_utf8(out, value.map(str::as_bytes));
    }

    /// `COMPACT_NULLABLE_STRING`.
    pub fn compact_nullable_string<W: Sink + ?Sized>(out: &mut W, value: Option<&str>) {
        compact_nullable_bytes(out, value.map(str::as_bytes));
    }

    /// A [`StrBytes`](super::StrBytes) as `NULLABLE_STRING`, or `COMPACT_NULLABLE_STRING`
    /// when `flexible`. Its bytes are UTF-8 by construction, so they are not checked again.
    pub fn str_bytes<W: Sink + ?Sized>(
        out: &mut W,
        value: Option<&super::StrBytes>,
        flexible: bool,
    ) {
        let value = value.map(|text| &text.as_bytes()[..]);
        if flexible {
            compact_nullable_bytes(out, value);
        } else {
            nullable_utf8(out, value);
        }
    }

    fn nullable_utf8<W: Sink + ?Sized>(out: &mut W, value: Option<&[u8]>) {
        match value {
            None => out.put(&(-1i16).to_be_bytes()),
            Some(text) => {
                let length = i16::try_from(text.len()).expect("strings fit in INT16");
                out.put(&length.to_be_bytes());
                out.put(text);
            }
        }
    }

    /// The length prefix of `NULLABLE_BYTES` (INT32, -1 for null), or of
    /// `COMPACT_NULLABLE_BYTES` (varint length + 1, 0 for null) when `flexible`.
    fn bytes_length<W: Sink + ?Sized>(out: &mut W, length: Option<usize>, flexible: bool) {
        match (length, flexible) {
            (None, true) => unsigned_varint(out, 0),
            (None, false) => out.put(&(-1i32).to_be_bytes()),
            (Some(length), true) => {
                unsigned_varint(out, u32::try_from(length + 1).expect("bytes fit in u32"));
            }
            (Some(length), false) => {
                out.put(&i32::try_from(length).expect("bytes fit in INT32").to_be_bytes());
            }
        }
    }

    /// `NULLABLE_BYTES`.
    pub fn nullable_bytes<W: Sink + ?Sized>(out: &mut W, value: Option<&[u8]>) {
        bytes_length(out, value.map(<[u8]>::len), false);
        if let Some(bytes) = value {
            out.put(bytes);
        }
    }

    /// `NULLABLE_BYTES`, or `COMPACT_NULLABLE_BYTES` when `flexible`, of shared bytes.
    pub fn shared_bytes<W: Sink + ?Sized>(out: &mut W, value: Option<&Bytes>, flexible: bool) {
        bytes_length(out, value.map(Bytes::len), flexible);
        if let Some(bytes) = value {
            out.put_shared(bytes);
        }
    }

    /// `COMPACT_NULLABLE_BYTES`.
    pub fn compact_nullable_bytes<W: Sink + ?Sized>(out: &mut W, value: Option<&[u8]>) {
        bytes_length(out, value.map(<[u8]>::len), true);
        if let Some(bytes) = value {
            out.put(bytes);
        }
    }

    /// `ARRAY` count (`None` for null).
    pub fn array_count<W: Sink + ?Sized>(out: &mut W, count: Option<usize>) {
        let raw = count.map_or(-1, |count| i32::try_from(count).expect("count fits in INT32"));
        out.put(&raw.to_be_bytes());
    }

    /// `COMPACT_ARRAY` count (`None` for null).
    pub fn compact_array_count<W: Sink + ?Sized>(out: &mut W, count: Option<usize>) {
        let raw = count.map_or(0, |count| u32::try_from(count + 1).expect("count fits in u32"));
        unsigned_varint(out, raw);
    }
}

/// The length of the frame at the start of `buffer` (its 4-byte prefix excluded): `Ok(None)`
/// while the prefix is incomplete, an error for a negative length or one above `frame_bytes_max`,
/// checked before any of the body is read or buffered.
pub fn frame_length(buffer: &[u8], frame_bytes_max: usize) -> Result<Option<usize>, DecodeError> {
    let Some(prefix) = buffer.get(..4) else { return Ok(None) };
    let length = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if length < 0 || length as usize > frame_bytes_max {
        return Err(DecodeError {
            api: "frame",
            version: -1,
            field: "length",
            problem: Problem::InvalidFrameLength(i64::from(length)),
        });
    }
    Ok(Some(length as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &'static [u8]) -> Reader {
        Reader::new(Bytes::from_static(bytes), "Test", 3)
    }

    #[test]
    fn fixed_width_values_are_big_endian() {
        let mut input = reader(&[1, 0xff, 0xfe, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 42]);
        assert!(input.bool("flag").unwrap());
        assert_eq!(input.i16("a").unwrap(), -2);
        assert_eq!(input.i32("b").unwrap(), 256);
        assert_eq!(input.i64("c").unwrap(), 42);
        assert_eq!(input.remaining(), 0);
        let error = input.i8("d").unwrap_err();
        assert_eq!(error.problem, Problem::Truncated { needed: 1, remaining: 0 });
        assert_eq!(error.to_string(), "Test v3: field d: Truncated { needed: 1, remaining: 0 }");
    }

    #[test]
    fn strings_are_zero_copy_slices_and_null_is_distinguished() {
        let buffer =
            Bytes::from_static(&[0, 3, b'a', b'b', b'c', 0xff, 0xff, 4, b'x', b'y', b'z', 0]);
        let mut input = Reader::new(buffer.clone(), "Test", 0);
        let text = input.string("name").unwrap();
        assert_eq!(text.as_str(), "abc");
        assert_eq!(text.as_bytes().as_ptr(), buffer[2..].as_ptr(), "no copy");
        assert_eq!(input.nullable_string("null").unwrap(), None);
        assert_eq!(input.compact_string("compact").unwrap().as_str(), "xyz");
        assert_eq!(input.compact_nullable_string("compact null").unwrap(), None);
        let error = reader(&[0xff, 0xff]).string("name").unwrap_err();
        assert_eq!(error.problem, Problem::InvalidLength(-1));
        let error = reader(&[0, 2, 0xc3, 0x28]).string("name").unwrap_err();
        assert_eq!(error.problem, Problem::InvalidUtf8);
    }

    #[test]
    fn hostile_counts_are_refused_before_any_allocation() {
        // Goal: a 4-byte body claiming i32::MAX elements is an error naming the field, not a
        // request for gigabytes of memory.
        let mut input = reader(&[0x7f, 0xff, 0xff, 0xff]);
        let error = input.array_count(4, "topics").unwrap_err();
        assert_eq!(error.field, "topics");
        assert_eq!(
            error.problem,
            Problem::CountExceedsRemaining { count: i32::MAX as u64, remaining: 0 }
        );
        let mut input = reader(&[0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(input.array_count(4, "three of four bytes").is_err());
        let mut input = reader(&[0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(input.array_count(4, "two of four bytes").unwrap(), Some(2));
        let mut input = reader(&[0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(input.array_count(1, "x").unwrap_err().problem, Problem::InvalidLength(-2));
        let mut input = reader(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            input.nullable_bytes("records").unwrap_err().problem,
            Problem::CountExceedsRemaining { .. }
        ));
        // A compact count of 2^32-1 elements in a 5-byte varint.
        let mut input = reader(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(input.compact_array_count(1, "compact").is_err());
        let mut input = reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(input.unsigned_varint("varint").unwrap_err().problem, Problem::VarintTooLong);
    }

    #[test]
    fn varints_round_trip_at_their_limits() {
        for value in [0, 1, -1, 63, -64, 64, i32::MAX, i32::MIN] {
            let mut out = BytesMut::new();
            write::varint(&mut out, value);
            let mut input = Reader::new(out.freeze(), "Test", 0);
            assert_eq!(input.varint("v").unwrap(), value);
            assert_eq!(input.remaining(), 0);
        }
        for value in [0, -1, i64::MAX, i64::MIN] {
            let mut out = BytesMut::new();
            write::varlong(&mut out, value);
            let mut input = Reader::new(out.freeze(), "Test", 0);
            assert_eq!(input.varlong("v").unwrap(), value);
        }
        for value in [0, 127, 128, 16383, 16384, u32::MAX] {
            let mut out = BytesMut::new();
            write::unsigned_varint(&mut out, value);
            assert_eq!(out.len(), write::unsigned_varint_size(value));
        }
    }

    #[test]
    fn tagged_fields_keep_unknown_tags_and_refuse_disorder() {
        // Two tags: 0 (known, an INT32) and 5 (unknown, 2 raw bytes).
        let mut input = reader(&[2, 0, 4, 0, 0, 0, 9, 5, 2, 0xab, 0xcd]);
        let mut seen = None;
        let unknown = input
            .tagged_fields("_tagged", |tag, sub| {
                if tag == 0 {
                    seen = Some(sub.i32("tag0")?);
                    return Ok(true);
                }
                Ok(false)
            })
            .unwrap();
        assert_eq!(seen, Some(9));
        assert_eq!(unknown, vec![(5, Bytes::from_static(&[0xab, 0xcd]))]);
        let mut disorder = reader(&[2, 5, 0, 1, 0]);
        assert!(disorder.tagged_fields("_tagged", |_, _| Ok(false)).is_err());
        let mut huge = reader(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(huge.tagged_fields("_tagged", |_, _| Ok(false)).is_err());
    }

    #[test]
    fn frame_lengths_are_checked_before_the_body_is_read() {
        assert_eq!(frame_length(&[0, 0], 100).unwrap(), None);
        assert_eq!(frame_length(&[0, 0, 0, 10, 1], 100).unwrap(), Some(10));
        let error = frame_length(&[0xff, 0xff, 0xff, 0xff], 100).unwrap_err();
        assert_eq!(error.problem, Problem::InvalidFrameLength(-1));
        assert!(frame_length(&[0, 0, 0, 101], 100).is_err());
    }
}

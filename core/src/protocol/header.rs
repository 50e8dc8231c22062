//! Request headers (v0–v2) and response headers (v0–v1).
//!
//! ```text
//! request v0: api_key INT16, api_version INT16, correlation_id INT32
//! request v1: v0 + client_id NULLABLE_STRING
//! request v2: v1 + tagged fields      (client_id stays a non-compact string)
//! response v0: correlation_id INT32
//! response v1: v0 + tagged fields
//! ```
//! Which header version a message uses follows from whether its version is flexible; the
//! message schema decides and passes it in.

use super::wire::{write, DecodeError, Problem, Reader, Sink, StrBytes};
use bytes::Bytes;
#[cfg(test)]
use bytes::BytesMut;

/// The header of every request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RequestHeader {
    /// Which API.
    pub api_key: i16,
    /// Which version of it.
    pub api_version: i16,
    /// Echoed in the response so the client can match it.
    pub correlation_id: i32,
    /// The client's name (v1+), or null.
    pub client_id: Option<StrBytes>,
    /// Tagged fields this broker does not know (v2+), kept as raw bytes.
    pub unknown_tagged_fields: Vec<(u32, Bytes)>,
}

impl RequestHeader {
    /// Reads `api_key` and `api_version` from the start of a request body (after the length
    /// prefix) without consuming anything, so the caller can pick the header version.
    pub fn peek_key_and_version(body: &[u8]) -> Result<(i16, i16), DecodeError> {
        let Some(prefix) = body.get(..4) else {
            return Err(DecodeError {
                api: "header",
                version: -1,
                field: "api_key",
                problem: Problem::Truncated { needed: 4, remaining: body.len() },
            });
        };
        Ok((i16::from_be_bytes([prefix[0], prefix[1]]), i16::from_be_bytes([prefix[2], prefix[3]])))
    }

    /// Decodes a header of `header_version` (0, 1 or 2).
    pub fn decode(reader: &mut Reader, header_version: i16) -> Result<Self, DecodeError> {
        assert!((0..=2).contains(&header_version), "request header versions are 0..=2");
        let mut header = Self {
            api_key: reader.i16("header.api_key")?,
            api_version: reader.i16("header.api_version")?,
            correlation_id: reader.i32("header.correlation_id")?,
            ..Self::default()
        };
        if header_version >= 1 {
            header.client_id = reader.nullable_string("header.client_id")?;
        }
        if header_version >= 2 {
            header.unknown_tagged_fields =
                reader.tagged_fields("header._tagged_fields", |_, _| Ok(false))?;
        }
        Ok(header)
    }

    /// Encodes the header as `header_version`.
    pub fn encode<W: Sink + ?Sized>(&self, header_version: i16, out: &mut W) {
        assert!((0..=2).contains(&header_version), "request header versions are 0..=2");
        out.put(&self.api_key.to_be_bytes());
        out.put(&self.api_version.to_be_bytes());
        out.put(&self.correlation_id.to_be_bytes());
        if header_version >= 1 {
            write::nullable_string(out, self.client_id.as_ref().map(StrBytes::as_str));
        }
        if header_version >= 2 {
            encode_unknown_tags(&self.unknown_tagged_fields, out);
        }
    }
}

/// The header of every response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResponseHeader {
    /// The request's correlation id.
    pub correlation_id: i32,
    /// Tagged fields this side does not know (v1+), kept as raw bytes.
    pub unknown_tagged_fields: Vec<(u32, Bytes)>,
}

impl ResponseHeader {
    /// Decodes a header of `header_version` (0 or 1).
    pub fn decode(reader: &mut Reader, header_version: i16) -> Result<Self, DecodeError> {
        assert!((0..=1).contains(&header_version), "response header versions are 0..=1");
        let correlation_id = reader.i32("header.correlation_id")?;
        let unknown_tagged_fields = if header_version >= 1 {
            reader.tagged_fields("header._tagged_fields", |_, _| Ok(false))?
        } else {
            Vec::new()
        };
        Ok(Self { correlation_id, unknown_tagged_fields })
    }

    /// Encodes the header as `header_version`.
    pub fn encode<W: Sink + ?Sized>(&self, header_version: i16, out: &mut W) {
        assert!((0..=1).contains(&header_version), "response header versions are 0..=1");
        out.put(&self.correlation_id.to_be_bytes());
        if header_version >= 1 {
            encode_unknown_tags(&self.unknown_tagged_fields, out);
        }
    }
}

/// Writes a tagged-field section holding only `unknown` tags (sorted by tag, as decoded).
pub fn encode_unknown_tags<W: Sink + ?Sized>(unknown: &[(u32, Bytes)], out: &mut W) {
    write::unsigned_varint(out, u32::try_from(unknown.len()).expect("tag count fits in u32"));
    for (tag, value) in unknown {
        write::unsigned_varint(out, *tag);
        write::unsigned_varint(out, u32::try_from(value.len()).expect("tag size fits in u32"));
        out.put(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_v2_round_trips_with_a_non_compact_client_id() {
        // kcat's ApiVersions v3 header, as librdkafka 2.16 sends it.
        let bytes = Bytes::from_static(&[
            0, 18, 0, 3, 0, 0, 0, 1, 0, 7, b'r', b'd', b'k', b'a', b'f', b'k', b'a', 0,
        ]);
        let mut reader = Reader::new(bytes.clone(), "header", -1);
        let header = RequestHeader::decode(&mut reader, 2).unwrap();
        assert_eq!((header.api_key, header.api_version, header.correlation_id), (18, 3, 1));
        assert_eq!(header.client_id.as_ref().map(StrBytes::as_str), Some("rdkafka"));
        assert_eq!(reader.remaining(), 0);
        let mut out = BytesMut::new();
        header.encode(2, &mut out);
        assert_eq!(out.freeze(), bytes);
        assert_eq!(RequestHeader::peek_key_and_version(&bytes).unwrap(), (18, 3));
        assert!(RequestHeader::peek_key_and_version(&bytes[..3]).is_err());
    }

    #[test]
    fn a_truncated_header_is_an_error_that_names_the_field() {
        let mut reader = Reader::new(Bytes::from_static(&[0, 3, 0]), "header", -1);
        let error = RequestHeader::decode(&mut reader, 1).unwrap_err();
        assert_eq!(error.field, "header.api_version");
        let mut reader =
            Reader::new(Bytes::from_static(&[0, 3, 0, 1, 0, 0, 0, 7, 0, 9, b'x']), "header", -1);
        let error = RequestHeader::decode(&mut reader, 1).unwrap_err();
        assert_eq!(error.field, "header.client_id");
    }

    #[test]
    fn response_header_v1_omits_nothing_but_empty_tags() {
        let header = ResponseHeader { correlation_id: 7, unknown_tagged_fields: Vec::new() };
        let mut out = BytesMut::new();
        header.encode(1, &mut out);
        assert_eq!(out.as_ref(), &[0, 0, 0, 7, 0]);
        let mut v0 = BytesMut::new();
        header.encode(0, &mut v0);
        assert_eq!(v0.as_ref(), &[0, 0, 0, 7]);
        let mut reader = Reader::new(out.freeze(), "header", -1);
        assert_eq!(ResponseHeader::decode(&mut reader, 1).unwrap(), header);
    }
}

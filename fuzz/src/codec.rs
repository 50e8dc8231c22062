//! Checks of the request and response codec on arbitrary bytes (targets `decode_request` and
//! `decode_response`).
//!
//! Decoding may fail on anything, but must never panic; whatever decodes must re-encode to a
//! frame that decodes again to an equal value, and that second encoding is byte for byte the
//! first (byte equality with the input is not required: unknown tagged fields, omitted default
//! tags and non-canonical booleans may differ).

use bytes::{Bytes, BytesMut};
use sluice_core::protocol::api::{
    decode_request, decode_response, encode_request, encode_response, APIS,
};

/// Splits a length-prefixed frame, checking the prefix counts exactly the rest.
fn frame_body(frame: &[u8]) -> Bytes {
    let prefix: [u8; 4] = frame[..4].try_into().expect("a frame has a length prefix");
    let length = i32::from_be_bytes(prefix);
    assert_eq!(usize::try_from(length).ok(), Some(frame.len() - 4), "length prefix");
    Bytes::copy_from_slice(&frame[4..])
}

/// `data` is a request frame body (what follows the 4-byte length prefix).
pub fn check_decode_request(data: &[u8]) {
    let Ok(decoded) = decode_request(Bytes::copy_from_slice(data)) else { return };
    assert!(decoded.trailing_bytes <= data.len());
    let mut frame = BytesMut::new();
    encode_request(&decoded.header, &decoded.request, &mut frame);
    let again = decode_request(frame_body(&frame)).unwrap_or_else(|error| {
        panic!("a decoded request does not decode once re-encoded: {}", error.error)
    });
    assert_eq!(again.header, decoded.header, "header after re-encoding");
    assert_eq!(again.request, decoded.request, "request after re-encoding");
    assert_eq!(again.trailing_bytes, 0, "trailing bytes after re-encoding");
    let mut second = BytesMut::new();
    encode_request(&again.header, &again.request, &mut second);
    assert_eq!(second, frame, "re-encoding is not stable");
}

/// `data` is one byte choosing the API (an index into `APIS`), one choosing its version, then
/// a response frame body of that API and version.
pub fn check_decode_response(data: &[u8]) {
    let [api, version, body @ ..] = data else { return };
    let info = APIS[usize::from(*api) % APIS.len()];
    let span = i64::from(info.max_version) - i64::from(info.min_version) + 1;
    let version = info.min_version + (i64::from(*version) % span) as i16;
    let Ok((header, response)) = decode_response(info.key, version, Bytes::copy_from_slice(body))
    else {
        return;
    };
    let mut frame = BytesMut::new();
    encode_response(header.correlation_id, version, &response, &mut frame);
    let (again_header, again) = decode_response(info.key, version, frame_body(&frame))
        .unwrap_or_else(|error| {
            panic!("a decoded {} v{version} response does not decode: {error}", info.name)
        });
    assert_eq!(again_header.correlation_id, header.correlation_id);
    assert_eq!(again, response, "{} v{version} response after re-encoding", info.name);
    let mut second = BytesMut::new();
    encode_response(again_header.correlation_id, version, &again, &mut second);
    assert_eq!(second, frame, "re-encoding is not stable");
}

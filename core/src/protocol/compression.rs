//! Record-batch compression as Kafka clients use it: gzip, snappy (with the xerial framing the
//! Java client writes, and raw blocks as librdkafka may send), lz4 (frame format) and zstd.
//!
//! Decompression is bounded: output beyond `max_bytes` is an error, never an allocation, so a
//! small hostile payload cannot expand into gigabytes.

use super::record_batch::Compression;
use std::fmt;
use std::io::{Read, Write};

/// Why compressed bytes could not be decompressed (or encoded).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CompressionError {
    /// The codec id is not one Kafka defines.
    UnknownCodec(u8),
    /// The payload is not valid for its codec.
    Corrupt {
        /// Which codec.
        codec: &'static str,
        /// The decoder's words.
        detail: String,
    },
    /// Decompressed output would exceed the bound.
    TooLarge {
        /// The bound in bytes.
        max_bytes: usize,
    },
}

impl fmt::Display for CompressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCodec(id) => write!(f, "unknown compression codec {id}"),
            Self::Corrupt { codec, detail } => write!(f, "{codec} payload is corrupt: {detail}"),
            Self::TooLarge { max_bytes } => {
                write!(f, "decompressed records exceed the {max_bytes}-byte bound")
            }
        }
    }
}

impl std::error::Error for CompressionError {}

const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_BYTES: usize = 16;
const XERIAL_BLOCK_BYTES: usize = 32 * 1024;

fn corrupt(codec: &'static str, detail: impl fmt::Display) -> CompressionError {
    CompressionError::Corrupt { codec, detail: detail.to_string() }
}

/// Reads all of `reader`, failing once more than `max_bytes` come out.
fn read_bounded(
    mut reader: impl Read,
    codec: &'static str,
    max_bytes: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    let limit = (max_bytes as u64).saturating_add(1);
    (&mut reader).take(limit).read_to_end(&mut out).map_err(|error| corrupt(codec, error))?;
    if out.len() > max_bytes {
        return Err(CompressionError::TooLarge { max_bytes });
    }
    Ok(out)
}

/// Decompresses `input` compressed with `codec`, refusing output larger than `max_bytes`.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_bytes: usize,
) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => {
            if input.len() > max_bytes {
                return Err(CompressionError::TooLarge { max_bytes });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => {
            read_bounded(flate2::read::MultiGzDecoder::new(input), "gzip", max_bytes)
        }
        Compression::Snappy => decompress_snappy(input, max_bytes),
        Compression::Lz4 => {
            read_bounded(lz4_flex::frame::FrameDecoder::new(input), "lz4", max_bytes)
        }
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::new(input).map_err(|error| corrupt("zstd", error))?;
            read_bounded(decoder, "zstd", max_bytes)
        }
        Compression::Unknown(id) => Err(CompressionError::UnknownCodec(id)),
    }
}

fn decompress_snappy(input: &[u8], max_bytes: usize) -> Result<Vec<u8>, CompressionError> {
    if !input.starts_with(&XERIAL_MAGIC) {
        return decompress_snappy_block(input, max_bytes, 0);
    }
    if input.len() < XERIAL_HEADER_BYTES {
        return Err(corrupt("snappy", "xerial header truncated"));
    }
    let mut out = Vec::new();
    let mut rest = &input[XERIAL_HEADER_BYTES..];
    while !rest.is_empty() {
        let Some(length) = rest.get(..4) else {
            return Err(corrupt("snappy", "block length truncated"));
        };
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
        let block = rest.get(4..4 + length).ok_or_else(|| corrupt("snappy", "block truncated"))?;
        let decoded = decompress_snappy_block(block, max_bytes, out.len())?;
        out.extend_from_slice(&decoded);
        rest = &rest[4 + length..];
    }
    Ok(out)
}

fn decompress_snappy_block(
    block: &[u8],
    max_bytes: usize,
    already: usize,
) -> Result<Vec<u8>, CompressionError> {
    let length = snap::raw::decompress_len(block).map_err(|error| corrupt("snappy", error))?;
    if already + length > max_bytes {
        return Err(CompressionError::TooLarge { max_bytes });
    }
    snap::raw::Decoder::new().decompress_vec(block).map_err(|error| corrupt("snappy", error))
}

/// Compresses `input` with `codec` as a Kafka producer would.
pub fn compress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(input).map_err(|error| corrupt("gzip", error))?;
            encoder.finish().map_err(|error| corrupt("gzip", error))
        }
        Compression::Snappy => {
            // xerial framing, as the Java client writes and every client reads.
            let mut out = XERIAL_MAGIC.to_vec();
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend_from_slice(&1u32.to_be_bytes());
            let mut encoder = snap::raw::Encoder::new();
            for chunk in input.chunks(XERIAL_BLOCK_BYTES) {
                let block =
                    encoder.compress_vec(chunk).map_err(|error| corrupt("snappy", error))?;
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            encoder.write_all(input).map_err(|error| corrupt("lz4", error))?;
            encoder.finish().map_err(|error| corrupt("lz4", error))
        }
        Compression::Zstd => zstd::bulk::compress(input, 3).map_err(|error| corrupt("zstd", error)),
        Compression::Unknown(id) => Err(CompressionError::UnknownCodec(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn every_codec_round_trips() {
        let input: Vec<u8> =
            (0..100_000u32).flat_map(|value| (value % 251).to_le_bytes()).collect();
        for codec in CODECS {
            let compressed = compress(codec, &input).expect("compress");
            assert_eq!(
                decompress(codec, &compressed, input.len()).expect("decompress"),
                input,
                "{codec:?}"
            );
        }
    }

    #[test]
    fn decompression_is_bounded() {
        // Goal: 1 MiB of zeros compresses to a few hundred bytes; with a 64 KiB bound the
        // decompressor stops and errors instead of producing it.
        let zeros = vec![0u8; 1 << 20];
        for codec in CODECS {
            let compressed = compress(codec, &zeros).expect("compress");
            assert_eq!(
                decompress(codec, &compressed, 64 * 1024),
                Err(CompressionError::TooLarge { max_bytes: 64 * 1024 }),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn raw_snappy_blocks_are_accepted_and_garbage_is_refused() {
        let block = snap::raw::Encoder::new().compress_vec(b"hello hello hello").expect("compress");
        assert_eq!(
            decompress(Compression::Snappy, &block, 100).expect("raw"),
            b"hello hello hello"
        );
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            assert!(decompress(codec, b"definitely not compressed", 1000).is_err(), "{codec:?}");
        }
        assert_eq!(
            decompress(Compression::Unknown(6), b"x", 10),
            Err(CompressionError::UnknownCodec(6))
        );
    }
}

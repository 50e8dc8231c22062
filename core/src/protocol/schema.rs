//! The declarative message schema: one `schema!` block per struct of a Kafka message lists its
//! fields with their version ranges, nullable versions, tags and defaults, and the macro
//! generates the struct, its `Default`, and decode, encode (into any [`Sink`], so the encoded
//! size comes from the same code) and seeded random values for round-trip tests.
//!
//! ```text
//! schema! {
//!     /// Doc.
//!     pub struct MetadataRequestTopic {
//!         /// The topic id.
//!         topic_id: Uuid { versions: 10..=99 },
//!         /// The topic name; null when the id is used.
//!         name: Option<StrBytes> { versions: 0..=99, nullable: 10..=99 },
//!         /// A tagged field, present only in flexible versions.
//!         some_tag: i32 { versions: 3..=99, tag: 0, default: -1 },
//!     }
//! }
//! ```
//! Rules the macro relies on:
//! - `versions` of an untagged field are the versions whose layout holds it; of a tagged field,
//!   its tagged versions (always flexible ones). `99` means "and every later version".
//! - Types pick the wire type: `bool`, `i8`–`i64`, `u16`, `u32`, `f64`, [`Uuid`],
//!   [`StrBytes`] (`STRING`), `Option<StrBytes>` (`NULLABLE_STRING`), `Bytes`, `Option<Bytes>`
//!   (also record sets), `Vec<T>` and `Option<Vec<T>>` (arrays); flexible versions use the
//!   compact forms. `Option` values may be null only in `nullable` versions.
//! - Tagged fields are declared in increasing tag order; a tagged field equal to its default is
//!   not written, as Kafka does.

use super::wire::{write, Counter, DecodeError, Problem, Reader, Sink, StrBytes, Uuid};
use crate::prng::Prng;
use bytes::Bytes;

/// How a value of one field type goes on the wire.
pub trait Wire: Sized + Default + PartialEq {
    /// Reads a value. `flexible` selects compact encodings.
    fn decode_wire(
        reader: &mut Reader,
        version: i16,
        flexible: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError>;

    /// Writes a value.
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, version: i16, flexible: bool);

    /// A seeded random value valid at `version` (`nullable`: whether null is allowed).
    fn random(prng: &mut Prng, version: i16, flexible: bool, nullable: bool, depth: u8) -> Self;

    /// Whether this is a null `Option`.
    fn is_null(&self) -> bool {
        false
    }

    /// Writes a value in a version where its field may not be null: a null `Option` goes as
    /// the empty string, bytes or array. (Kafka's brokers do the same, e.g. JoinGroup's
    /// protocol name below v7 is "" when there is none; a null there cannot be decoded.)
    fn encode_non_null<W: Sink + ?Sized>(&self, out: &mut W, version: i16, flexible: bool) {
        self.encode_wire(out, version, flexible);
    }

    /// Bytes `encode_wire` writes.
    fn wire_size(&self, version: i16, flexible: bool) -> usize {
        let mut counter = Counter(0);
        self.encode_wire(&mut counter, version, flexible);
        counter.0
    }
}

macro_rules! fixed_width {
    ($($ty:ty => $read:ident),* $(,)?) => {$(
        impl Wire for $ty {
            fn decode_wire(reader: &mut Reader, _: i16, _: bool, field: &'static str) -> Result<Self, DecodeError> {
                reader.$read(field)
            }
            fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, _: i16, _: bool) {
                out.put(&self.to_be_bytes());
            }
            fn random(prng: &mut Prng, _: i16, _: bool, _: bool, _: u8) -> Self {
                // Small values half the time: they exercise the boundaries that matter.
                if prng.chance(500_000) { (prng.below(4) as $ty) } else { prng.next_u64() as $ty }
            }
        }
    )*};
}

fixed_width!(i8 => i8, i16 => i16, i32 => i32, i64 => i64, u16 => u16, u32 => u32);

impl Wire for bool {
    fn decode_wire(
        reader: &mut Reader,
        _: i16,
        _: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        reader.bool(field)
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, _: i16, _: bool) {
        write::bool(out, *self);
    }
    fn random(prng: &mut Prng, _: i16, _: bool, _: bool, _: u8) -> Self {
        prng.chance(500_000)
    }
}

impl Wire for f64 {
    fn decode_wire(
        reader: &mut Reader,
        _: i16,
        _: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        reader.f64(field)
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, _: i16, _: bool) {
        out.put(&self.to_be_bytes());
    }
    fn random(prng: &mut Prng, _: i16, _: bool, _: bool, _: u8) -> Self {
        prng.below(1 << 20) as f64 / 8.0
    }
}

impl Wire for Uuid {
    fn decode_wire(
        reader: &mut Reader,
        _: i16,
        _: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        reader.uuid(field)
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, _: i16, _: bool) {
        out.put(self);
    }
    fn random(prng: &mut Prng, _: i16, _: bool, _: bool, _: u8) -> Self {
        let mut uuid = [0u8; 16];
        if prng.chance(700_000) {
            uuid[..8].copy_from_slice(&prng.next_u64().to_be_bytes());
            uuid[8..].copy_from_slice(&prng.next_u64().to_be_bytes());
        }
        uuid
    }
}

fn random_text(prng: &mut Prng) -> String {
    let length = prng.below(9) as usize;
    (0..length).map(|_| char::from(b'a' + prng.below(26) as u8)).collect()
}

fn random_bytes(prng: &mut Prng) -> Bytes {
    let length = prng.below(9) as usize;
    Bytes::from((0..length).map(|_| prng.below(256) as u8).collect::<Vec<u8>>())
}

impl Wire for StrBytes {
    fn decode_wire(
        reader: &mut Reader,
        _: i16,
        flexible: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        if flexible {
            reader.compact_string(field)
        } else {
            reader.string(field)
        }
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, _: i16, flexible: bool) {
        write::str_bytes(out, Some(self), flexible);
    }
    fn random(prng: &mut Prng, _: i16, _: bool, _: bool, _: u8) -> Self {
        Self::from_string(random_text(prng))
    }
}

impl Wire for Option<StrBytes> {
    fn decode_wire(
        reader: &mut Reader,
        _: i16,
        flexible: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        if flexible {
            reader.compact_nullable_string(field)
        } else {
            reader.nullable_string(field)
        }
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, _: i16, flexible: bool) {
        write::str_bytes(out, self.as_ref(), flexible);
    }
    fn encode_non_null<W: Sink + ?Sized>(&self, out: &mut W, _: i16, flexible: bool) {
        write::str_bytes(out, Some(self.as_ref().unwrap_or(&StrBytes::default())), flexible);
    }
    fn random(prng: &mut Prng, version: i16, flexible: bool, nullable: bool, depth: u8) -> Self {
        if nullable && prng.chance(250_000) {
            return None;
        }
        Some(StrBytes::random(prng, version, flexible, false, depth))
    }
    fn is_null(&self) -> bool {
        self.is_none()
    }
}

impl Wire for Bytes {
    fn decode_wire(
        reader: &mut Reader,
        _: i16,
        flexible: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        if flexible {
            reader.compact_bytes(field)
        } else {
            reader.bytes(field)
        }
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, _: i16, flexible: bool) {
        write::shared_bytes(out, Some(self), flexible);
    }
    fn random(prng: &mut Prng, _: i16, _: bool, _: bool, _: u8) -> Self {
        random_bytes(prng)
    }
}

impl Wire for Option<Bytes> {
    fn decode_wire(
        reader: &mut Reader,
        _: i16,
        flexible: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        if flexible {
            reader.compact_nullable_bytes(field)
        } else {
            reader.nullable_bytes(field)
        }
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, _: i16, flexible: bool) {
        write::shared_bytes(out, self.as_ref(), flexible);
    }
    fn encode_non_null<W: Sink + ?Sized>(&self, out: &mut W, _: i16, flexible: bool) {
        write::shared_bytes(out, Some(self.as_ref().unwrap_or(&Bytes::new())), flexible);
    }
    fn random(prng: &mut Prng, _: i16, _: bool, nullable: bool, _: u8) -> Self {
        if nullable && prng.chance(250_000) {
            return None;
        }
        Some(random_bytes(prng))
    }
    fn is_null(&self) -> bool {
        self.is_none()
    }
}

/// Reads array elements one by one: capacity grows with what was really decoded, never from
/// the count on the wire, and an element that consumed no bytes is an error (otherwise a huge
/// count of empty elements would cost memory without costing input).
/// Elements an array reserves room for before decoding them; a longer one grows as it is read.
const ARRAY_RESERVE_MAX: usize = 16;

fn decode_elements<T: Wire>(
    reader: &mut Reader,
    count: usize,
    version: i16,
    flexible: bool,
    field: &'static str,
) -> Result<Vec<T>, DecodeError> {
    // Every element takes at least one byte, so the remaining input bounds the count that can
    // be real; the cap keeps a large claimed count from reserving much before it is read.
    let mut elements = Vec::with_capacity(count.min(reader.remaining()).min(ARRAY_RESERVE_MAX));
    for _ in 0..count {
        let before = reader.remaining();
        elements.push(T::decode_wire(reader, version, flexible, field)?);
        if reader.remaining() == before {
            return Err(reader.error(field, Problem::Truncated { needed: 1, remaining: before }));
        }
    }
    Ok(elements)
}

fn encode_elements<T: Wire, W: Sink + ?Sized>(
    elements: &[T],
    out: &mut W,
    version: i16,
    flexible: bool,
) {
    for element in elements {
        element.encode_wire(out, version, flexible);
    }
}

fn random_elements<T: Wire>(prng: &mut Prng, version: i16, flexible: bool, depth: u8) -> Vec<T> {
    let count = if depth >= 3 { 0 } else { prng.below(4) as usize };
    (0..count).map(|_| T::random(prng, version, flexible, false, depth + 1)).collect()
}

impl<T: Wire> Wire for Vec<T> {
    fn decode_wire(
        reader: &mut Reader,
        version: i16,
        flexible: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        let count = if flexible {
            reader.compact_array_count(1, field)?
        } else {
            reader.array_count(1, field)?
        };
        match count {
            Some(count) => decode_elements(reader, count, version, flexible, field),
            None => Err(reader.error(field, Problem::InvalidLength(-1))),
        }
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, version: i16, flexible: bool) {
        if flexible {
            write::compact_array_count(out, Some(self.len()));
        } else {
            write::array_count(out, Some(self.len()));
        }
        encode_elements(self, out, version, flexible);
    }
    fn random(prng: &mut Prng, version: i16, flexible: bool, _: bool, depth: u8) -> Self {
        random_elements(prng, version, flexible, depth)
    }
}

impl<T: Wire> Wire for Option<Vec<T>> {
    fn decode_wire(
        reader: &mut Reader,
        version: i16,
        flexible: bool,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        let count = if flexible {
            reader.compact_array_count(1, field)?
        } else {
            reader.array_count(1, field)?
        };
        match count {
            Some(count) => decode_elements(reader, count, version, flexible, field).map(Some),
            None => Ok(None),
        }
    }
    fn encode_wire<W: Sink + ?Sized>(&self, out: &mut W, version: i16, flexible: bool) {
        let count = self.as_ref().map(Vec::len);
        if flexible {
            write::compact_array_count(out, count);
        } else {
            write::array_count(out, count);
        }
        if let Some(elements) = self {
            encode_elements(elements, out, version, flexible);
        }
    }
    fn encode_non_null<W: Sink + ?Sized>(&self, out: &mut W, version: i16, flexible: bool) {
        match self {
            Some(_) => self.encode_wire(out, version, flexible),
            None if flexible => write::compact_array_count(out, Some(0)),
            None => write::array_count(out, Some(0)),
        }
    }
    fn random(prng: &mut Prng, version: i16, flexible: bool, nullable: bool, depth: u8) -> Self {
        if nullable && prng.chance(250_000) {
            return None;
        }
        Some(random_elements(prng, version, flexible, depth))
    }
    fn is_null(&self) -> bool {
        self.is_none()
    }
}

/// Whether `version` lies in an optional `lo..=hi` (absent: never).
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_in_range {
    (; $version:expr) => {
        false
    };
    ($lo:literal ..= $hi:literal ; $version:expr) => {
        ($lo..=$hi).contains(&$version)
    };
}

/// A field's default: the declared one, or the type's.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_default {
    (; $ty:ty) => {
        <$ty as Default>::default()
    };
    ($default:expr ; $ty:ty) => {
        $default
    };
}

/// Whether a field is tagged.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_is_tagged {
    () => {
        false
    };
    ($tag:literal) => {
        true
    };
}

/// Decodes a tagged field when `tag` is its tag.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_tagged_decode {
    ($this:ident, $sub:ident, $tag_seen:ident, $version:ident, $field:ident, $ty:ty, $lo:literal, $hi:literal) => {};
    ($this:ident, $sub:ident, $tag_seen:ident, $version:ident, $field:ident, $ty:ty, $lo:literal, $hi:literal, $tag:literal) => {
        if $tag_seen == $tag && ($lo..=$hi).contains(&$version) {
            $this.$field = <$ty as $crate::protocol::schema::Wire>::decode_wire(
                $sub,
                $version,
                true,
                stringify!($field),
            )?;
            return Ok(true);
        }
    };
}

/// Counts a tagged field that will be written.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_tagged_present {
    ($self:ident, $version:ident, $field:ident, $ty:ty, $default:expr, $lo:literal, $hi:literal) => {
        false
    };
    ($self:ident, $version:ident, $field:ident, $ty:ty, $default:expr, $lo:literal, $hi:literal, $tag:literal) => {
        ($lo..=$hi).contains(&$version) && $self.$field != $default
    };
}

/// Writes a tagged field (and the unknown tags that sort before it).
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_tagged_encode {
    ($self:ident, $out:ident, $version:ident, $unknown:ident, $field:ident, $ty:ty, $default:expr, $lo:literal, $hi:literal) => {};
    ($self:ident, $out:ident, $version:ident, $unknown:ident, $field:ident, $ty:ty, $default:expr, $lo:literal, $hi:literal, $tag:literal) => {
        if ($lo..=$hi).contains(&$version) && $self.$field != $default {
            while $unknown < $self.unknown_tagged_fields.len()
                && $self.unknown_tagged_fields[$unknown].0 < $tag
            {
                $crate::protocol::schema::encode_raw_tag(
                    &$self.unknown_tagged_fields[$unknown],
                    $out,
                );
                $unknown += 1;
            }
            $crate::protocol::wire::write::unsigned_varint($out, $tag);
            let size = $crate::protocol::schema::Wire::wire_size(&$self.$field, $version, true);
            $crate::protocol::wire::write::unsigned_varint($out, size as u32);
            $crate::protocol::schema::Wire::encode_wire(&$self.$field, $out, $version, true);
        }
    };
}

/// Writes one unknown tagged field as it was received.
pub fn encode_raw_tag<W: Sink + ?Sized>(raw: &(u32, Bytes), out: &mut W) {
    write::unsigned_varint(out, raw.0);
    write::unsigned_varint(out, u32::try_from(raw.1.len()).expect("tag size fits in u32"));
    out.put(&raw.1);
}

/// Declares message structs; see the module docs.
#[macro_export]
macro_rules! schema {
    ($(
        $(#[$struct_meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident : $ty:ty {
                    versions: $lo:literal ..= $hi:literal
                    $(, nullable: $nlo:literal ..= $nhi:literal)?
                    $(, tag: $tag:literal)?
                    $(, default: $default:expr)?
                    $(,)?
                }
            ),* $(,)?
        }
    )*) => {$(
        $(#[$struct_meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
            /// Tagged fields this side does not know, kept raw so they round-trip.
            pub unknown_tagged_fields: Vec<(u32, ::bytes::Bytes)>,
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $( $field: $crate::__sluice_default!($($default)? ; $ty), )*
                    unknown_tagged_fields: Vec::new(),
                }
            }
        }

        impl $crate::protocol::schema::Wire for $name {
            #[allow(unused_variables, clippy::manual_range_contains)]
            fn decode_wire(
                reader: &mut $crate::protocol::wire::Reader,
                version: i16,
                flexible: bool,
                field: &'static str,
            ) -> Result<Self, $crate::protocol::wire::DecodeError> {
                let mut this = Self::default();
                $(
                    if !$crate::__sluice_is_tagged!($($tag)?) && ($lo..=$hi).contains(&version) {
                        let value = <$ty as $crate::protocol::schema::Wire>::decode_wire(
                            reader, version, flexible, stringify!($field))?;
                        if $crate::protocol::schema::Wire::is_null(&value)
                            && !$crate::__sluice_in_range!($($nlo..=$nhi)? ; version)
                        {
                            let problem = $crate::protocol::wire::Problem::InvalidLength(-1);
                            return Err(reader.error(stringify!($field), problem));
                        }
                        this.$field = value;
                    }
                )*
                if flexible {
                    this.unknown_tagged_fields = reader.tagged_fields(
                        concat!(stringify!($name), "._tagged_fields"),
                        |tag_seen, sub| {
                            $( $crate::__sluice_tagged_decode!(this, sub, tag_seen, version, $field, $ty, $lo, $hi $(, $tag)?); )*
                            Ok(false)
                        },
                    )?;
                }
                Ok(this)
            }

            #[allow(unused_variables, unused_mut, unused_comparisons, clippy::manual_range_contains)]
            fn encode_wire<W: $crate::protocol::wire::Sink + ?Sized>(&self, out: &mut W, version: i16, flexible: bool) {
                $(
                    if !$crate::__sluice_is_tagged!($($tag)?) && ($lo..=$hi).contains(&version) {
                        if $crate::__sluice_in_range!($($nlo..=$nhi)? ; version) {
                            $crate::protocol::schema::Wire::encode_wire(&self.$field, out, version, flexible);
                        } else {
                            $crate::protocol::schema::Wire::encode_non_null(&self.$field, out, version, flexible);
                        }
                    }
                )*
                if flexible {
                    let mut count = self.unknown_tagged_fields.len();
                    $(
                        if $crate::__sluice_tagged_present!(self, version, $field, $ty,
                            $crate::__sluice_default!($($default)? ; $ty), $lo, $hi $(, $tag)?) {
                            count += 1;
                        }
                    )*
                    $crate::protocol::wire::write::unsigned_varint(out, count as u32);
                    let mut unknown = 0usize;
                    $(
                        $crate::__sluice_tagged_encode!(self, out, version, unknown, $field, $ty,
                            $crate::__sluice_default!($($default)? ; $ty), $lo, $hi $(, $tag)?);
                    )*
                    for raw in &self.unknown_tagged_fields[unknown..] {
                        $crate::protocol::schema::encode_raw_tag(raw, out);
                    }
                }
            }

            #[allow(unused_variables, clippy::manual_range_contains)]
            fn random(prng: &mut $crate::prng::Prng, version: i16, flexible: bool, nullable: bool, depth: u8) -> Self {
                let mut this = Self::default();
                $(
                    let tagged = $crate::__sluice_is_tagged!($($tag)?);
                    if ($lo..=$hi).contains(&version) && (flexible || !tagged) {
                        let nullable = $crate::__sluice_in_range!($($nlo..=$nhi)? ; version);
                        this.$field = <$ty as $crate::protocol::schema::Wire>::random(prng, version, flexible, nullable, depth);
                    }
                )*
                this
            }
        }
    )*};
}

/// Test helpers every API module uses: seeded round trips, and a differential check against
/// the `kafka-protocol` crate (a dev-dependency only) as an independent oracle.
#[cfg(test)]
pub(crate) mod testing {
    use super::Wire;
    use crate::prng::Prng;
    use crate::protocol::wire::Reader;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::protocol::{Decodable, Encodable, Message};
    use std::fmt::Debug;
    use std::ops::RangeInclusive;

    /// decode(encode(m)) == m for `cases` seeded random values at every version in `versions`;
    /// also checks that `wire_size` equals the bytes written.
    pub(crate) fn check_round_trip<T: Wire + Debug>(
        versions: RangeInclusive<i16>,
        flexible_from: i16,
    ) {
        let mut prng = Prng::new(0xC0DEC);
        for version in versions {
            let flexible = version >= flexible_from;
            for _ in 0..64 {
                let value = T::random(&mut prng, version, flexible, false, 0);
                let mut out = BytesMut::new();
                value.encode_wire(&mut out, version, flexible);
                assert_eq!(out.len(), value.wire_size(version, flexible));
                let mut reader = Reader::new(out.freeze(), "test", version);
                let decoded = T::decode_wire(&mut reader, version, flexible, "body")
                    .unwrap_or_else(|error| panic!("v{version}: {error}"));
                assert_eq!(decoded, value, "v{version}");
                assert_eq!(reader.remaining(), 0, "v{version}");
            }
        }
    }

    /// For every version in `versions` that the oracle also knows: our encoding of random
    /// values decodes with the oracle, consuming every byte, and the oracle's re-encoding
    /// decodes with ours to the value we started from. Returns the versions compared.
    pub(crate) fn check_against_oracle<T, O>(
        versions: RangeInclusive<i16>,
        flexible_from: i16,
    ) -> Vec<i16>
    where
        T: Wire + Debug,
        O: Decodable + Encodable + Message,
    {
        let mut prng = Prng::new(0x0AC1E);
        let mut compared = Vec::new();
        for version in versions {
            if version < O::VERSIONS.min || version > O::VERSIONS.max {
                continue;
            }
            compared.push(version);
            let flexible = version >= flexible_from;
            for _ in 0..64 {
                let value = T::random(&mut prng, version, flexible, false, 0);
                let mut ours = BytesMut::new();
                value.encode_wire(&mut ours, version, flexible);
                let mut input: Bytes = ours.freeze();
                let theirs = O::decode(&mut input, version).unwrap_or_else(|error| {
                    panic!("v{version}: the oracle cannot decode ours: {error}\n{value:?}")
                });
                assert!(
                    input.is_empty(),
                    "v{version}: the oracle left {} bytes of ours unread",
                    input.len()
                );
                let mut reencoded = BytesMut::new();
                theirs.encode(&mut reencoded, version).expect("oracle encodes");
                let mut reader = Reader::new(reencoded.freeze(), "oracle", version);
                let back = T::decode_wire(&mut reader, version, flexible, "body").unwrap_or_else(
                    |error| panic!("v{version}: we cannot decode the oracle's: {error}"),
                );
                assert_eq!(
                    back, value,
                    "v{version}: field values differ after the oracle's round trip"
                );
                assert_eq!(reader.remaining(), 0);
            }
        }
        compared
    }
}

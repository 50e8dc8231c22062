//! Response frames as the parts to write in order. Stored record batches in a Fetch answer
//! stay the very bytes read from the log: the driver writes the parts with one vectored
//! write, and nothing copies the records into the frame.

use crate::protocol::wire::Sink;
use bytes::{Bytes, BytesMut};

/// Shared byte runs shorter than this are copied into the frame: a separate part costs an
/// iovec and a reference count, which only pays for a run of records.
pub const SHARED_PART_BYTES_MIN: usize = 4096;

/// A response frame, length prefix included: `first`, then `rest` in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    first: Bytes,
    rest: Vec<Bytes>,
    /// Whether it answers a Fetch (a driver lets a connection have one Fetch outstanding).
    fetch: bool,
}

impl Frame {
    /// Whether the frame answers a Fetch request.
    pub fn answers_fetch(&self) -> bool {
        self.fetch
    }

    /// The same frame, marked as the answer to a Fetch (the node marks its own).
    pub fn answering_fetch(mut self) -> Self {
        self.fetch = true;
        self
    }

    /// The frame's parts, in order; none is empty.
    pub fn parts(&self) -> impl Iterator<Item = &Bytes> {
        std::iter::once(&self.first).chain(self.rest.iter()).filter(|part| !part.is_empty())
    }

    /// Bytes in the frame.
    pub fn len(&self) -> usize {
        self.first.len() + self.rest.iter().map(Bytes::len).sum::<usize>()
    }

    /// Whether the frame holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame as one buffer: free for a frame of one part, a copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        if self.rest.is_empty() {
            return self.first.clone();
        }
        let mut joined = BytesMut::with_capacity(self.len());
        for part in self.parts() {
            joined.extend_from_slice(part);
        }
        joined.freeze()
    }
}

impl From<Bytes> for Frame {
    fn from(first: Bytes) -> Self {
        Self { first, rest: Vec::new(), fetch: false }
    }
}

/// Encodes into `buffer`, splitting a part off around every large shared run.
pub(crate) struct FrameSink<'a> {
    buffer: &'a mut BytesMut,
    /// Parts split off so far: copied runs stay writable until `finish`, so that a length
    /// prefix in them can still be filled in.
    parts: Vec<Part>,
    /// Bytes in `parts`.
    parted: usize,
}

enum Part {
    Copied(BytesMut),
    Shared(Bytes),
}

impl<'a> FrameSink<'a> {
    /// A sink writing into the empty `buffer`.
    pub(crate) fn new(buffer: &'a mut BytesMut) -> Self {
        debug_assert!(buffer.is_empty());
        Self { buffer, parts: Vec::new(), parted: 0 }
    }

    /// The frame encoded so far.
    pub(crate) fn finish(mut self) -> Frame {
        let last = self.buffer.split().freeze();
        if self.parts.is_empty() {
            return Frame::from(last);
        }
        let mut parts = std::mem::take(&mut self.parts).into_iter().map(|part| match part {
            Part::Copied(bytes) => bytes.freeze(),
            Part::Shared(bytes) => bytes,
        });
        let first = parts.next().expect("not empty");
        let mut rest: Vec<Bytes> = parts.collect();
        if !last.is_empty() {
            rest.push(last);
        }
        Frame { first, rest, fetch: false }
    }
}

impl Sink for FrameSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    fn position(&self) -> usize {
        self.parted + self.buffer.len()
    }

    fn patch(&mut self, position: usize, bytes: &[u8]) {
        let mut start = 0;
        for part in &mut self.parts {
            let len = match part {
                Part::Copied(copied) => copied.len(),
                Part::Shared(shared) => shared.len(),
            };
            if position < start + len {
                let Part::Copied(copied) = part else { panic!("patching a shared run") };
                let at = position - start;
                copied[at..at + bytes.len()].copy_from_slice(bytes);
                return;
            }
            start += len;
        }
        let at = position - start;
        self.buffer[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn reserve(&mut self, additional: usize) {
        // The hint counts shared runs too, which are not copied: reserve for the encoded
        // fields only, at most one 64 KiB block at a time.
        self.buffer.reserve(additional.min(64 * 1024));
    }

    fn put_shared(&mut self, bytes: &Bytes) {
        if bytes.len() < SHARED_PART_BYTES_MIN {
            self.buffer.extend_from_slice(bytes);
            return;
        }
        let copied = self.buffer.split();
        self.parted += copied.len() + bytes.len();
        self.parts.push(Part::Copied(copied));
        self.parts.push(Part::Shared(bytes.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_runs_are_copied_and_large_runs_become_parts() {
        let mut buffer = BytesMut::new();
        let mut sink = FrameSink::new(&mut buffer);
        let large = Bytes::from(vec![7u8; SHARED_PART_BYTES_MIN]);
        sink.put(b"head");
        sink.put_shared(&Bytes::from_static(b"small"));
        sink.put_shared(&large);
        sink.put(b"tail");
        let frame = sink.finish();
        let parts: Vec<&Bytes> = frame.parts().collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(&parts[0][..], b"headsmall");
        assert_eq!(parts[1].as_ptr(), large.as_ptr(), "the large run is shared, not copied");
        assert_eq!(&parts[2][..], b"tail");
        assert_eq!(frame.len(), 9 + SHARED_PART_BYTES_MIN + 4);
        let mut expected = b"headsmall".to_vec();
        expected.extend_from_slice(&large);
        expected.extend_from_slice(b"tail");
        assert_eq!(&frame.to_bytes()[..], &expected[..]);
    }

    #[test]
    fn a_patch_lands_in_the_copied_part_that_holds_its_position() {
        let mut buffer = BytesMut::new();
        let mut sink = FrameSink::new(&mut buffer);
        let large = Bytes::from(vec![7u8; SHARED_PART_BYTES_MIN]);
        sink.put(b"head");
        sink.put_shared(&large);
        sink.put(b"tail");
        assert_eq!(sink.position(), 8 + SHARED_PART_BYTES_MIN);
        sink.patch(1, b"EA");
        sink.patch(4 + SHARED_PART_BYTES_MIN + 2, b"IL");
        let frame = sink.finish();
        let parts: Vec<&Bytes> = frame.parts().collect();
        assert_eq!(&parts[0][..], b"hEAd");
        assert_eq!(parts[1].as_ptr(), large.as_ptr(), "the large run is still shared");
        assert_eq!(&parts[2][..], b"taIL");
    }

    #[test]
    fn a_frame_that_ends_with_a_shared_run_has_no_empty_part() {
        let mut buffer = BytesMut::new();
        let mut sink = FrameSink::new(&mut buffer);
        let large = Bytes::from(vec![1u8; SHARED_PART_BYTES_MIN + 1]);
        sink.put_shared(&large);
        let frame = sink.finish();
        assert_eq!(frame.parts().count(), 1);
        assert_eq!(frame.to_bytes(), large);
    }
}

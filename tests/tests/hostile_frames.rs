//! Hostile request frames: huge counts, negative lengths, truncations and a batch claiming
//! i32::MAX records. Each must be refused with an error, and a counting allocator shows that
//! decoding never allocates more than a small multiple of the input it was given.

use bytes::Bytes;
use sluice_core::protocol::api::decode_request;
use sluice_core::protocol::record_batch::{self, build_batch, BatchOptions, NewRecord};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the largest single allocation and the bytes allocated while armed.
struct CountingAllocator;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the measuring thread counts: tests run in parallel threads.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call forwards to the system allocator unchanged; the counters are atomics
// touched only to record sizes, so the GlobalAlloc contract is the system allocator's.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
            TOTAL.fetch_add(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same layout the caller gave us.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the pointer came from System.alloc with this layout.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `work` on this thread and returns the largest single allocation and the total allocated.
fn measure(work: impl FnOnce()) -> (usize, usize) {
    LARGEST.store(0, Ordering::SeqCst);
    TOTAL.store(0, Ordering::SeqCst);
    ARMED.with(|armed| armed.set(true));
    work();
    ARMED.with(|armed| armed.set(false));
    (LARGEST.load(Ordering::SeqCst), TOTAL.load(Ordering::SeqCst))
}

fn frame(key: i16, version: i16, body: &[u8]) -> Bytes {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&key.to_be_bytes());
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes.extend_from_slice(&1i32.to_be_bytes());
    bytes.extend_from_slice(&(-1i16).to_be_bytes());
    bytes.extend_from_slice(body);
    Bytes::from(bytes)
}

#[test]
fn hostile_frames_are_refused_with_bounded_memory() {
    let cases: Vec<(&str, Bytes)> = vec![
        ("Metadata v1 claiming i32::MAX topics", frame(3, 1, &[0x7f, 0xff, 0xff, 0xff])),
        ("Metadata v1 with a -5 topic count", frame(3, 1, &[0xff, 0xff, 0xff, 0xfb])),
        (
            "Metadata v1 topic name longer than the frame",
            frame(3, 1, &[0, 0, 0, 1, 0x7f, 0xff, b'a']),
        ),
        ("Metadata v9 compact count of 2^32-2", frame(3, 9, &[0, 0xff, 0xff, 0xff, 0xff, 0x0f])),
        ("Metadata v9 endless varint", frame(3, 9, &[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
        ("ApiVersions v3 truncated after the header", frame(18, 3, &[0])),
        ("a 1-byte header", Bytes::from_static(&[0])),
        ("a 3-byte header", Bytes::from_static(&[0, 3, 0])),
    ];
    for (what, body) in cases {
        let input = body.len();
        let (largest, total) = measure(|| {
            let result = decode_request(body.clone());
            assert!(result.is_err(), "{what}: decoded");
        });
        // The error message strings and a few small vectors: nothing sized from the wire.
        assert!(
            largest < 4096,
            "{what}: one allocation of {largest} bytes for {input} bytes of input"
        );
        assert!(total < 64 * 1024, "{what}: {total} bytes allocated for {input} bytes of input");
    }
}

#[test]
fn a_61_byte_batch_claiming_i32_max_records_is_refused_cheaply() {
    // A header-only batch with a valid CRC whose recordsCount says i32::MAX.
    let mut batch = build_batch(
        &[NewRecord { value: Some(b"x"), ..Default::default() }],
        BatchOptions::default(),
    );
    batch.truncate(61);
    batch[8..12].copy_from_slice(&49i32.to_be_bytes());
    batch[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    batch[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes());
    let crc = record_batch::compute_crc(&batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(batch.len(), 61);
    let (largest, total) = measure(|| {
        let error = record_batch::validate(&batch).expect_err("refused");
        assert_eq!(
            error,
            record_batch::BatchError::InvalidRecord("fewer records than recordsCount")
        );
    });
    assert!(largest < 1024 && total < 4096, "largest {largest}, total {total}");
}

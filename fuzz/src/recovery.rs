//! Checks of partition-log recovery on arbitrary segment files (target `log_recovery`).
//!
//! The input describes one partition directory on the in-memory disk: up to four segments
//! (base offset and `.log` bytes, optionally `.index` and `.timeindex` bytes) and optionally a
//! `leader-epoch-checkpoint`. [`RecoveryInput::decode`] reads any bytes as such a directory;
//! [`RecoveryInput::encode`] is its inverse, for seeds. The log is opened as after a crash
//! (`clean_shutdown: false`), then:
//! - opening never panics;
//! - every batch left in the segments is whole and passes `validate_stored`;
//! - offsets are dense: each segment starts where the previous one ended and each batch where
//!   the previous one ended, up to `log_end_offset`;
//! - reading from the log start to the log end returns exactly those batches;
//! - recovery is idempotent and its result durable: after a power loss, opening again gives
//!   the same log (offsets, segments, epochs, bytes read).
//!
//! Data below a checkpointed recovery point (when the input gives one) counts as synced and is
//! trusted without a CRC scan, as in Kafka. When that data is damaged (a full scan would cut
//! it), only the weak checks apply: no panic, both opens succeed, reads return only valid
//! batches.

use bytes::Bytes;
use sluice_core::log::{Log, LogConfig, OpenOptions};
use sluice_core::protocol::record_batch::{
    build_batch, validate_stored, BatchHeader, BatchOptions, NewRecord,
};
use sluice_core::storage::Storage;
use sluice_sim::disk::SimDisk;

/// The partition directory the target writes.
pub const DIR: &str = "fuzz-0";
const WALL_MS: i64 = 1_700_000_000_000;

/// One segment's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentFiles {
    /// Base offset (the file name).
    pub base_offset: u32,
    /// The `.log` bytes.
    pub log: Vec<u8>,
    /// The `.index` and `.timeindex` bytes, if written.
    pub indexes: Option<(Vec<u8>, Vec<u8>)>,
}

/// A partition directory and how to open it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryInput {
    /// Checkpointed recovery point (everything below counts as synced), if any.
    pub recovery_point: Option<u32>,
    /// Checkpointed log start offset, if any.
    pub log_start_offset: Option<u32>,
    /// 1 to 4 segments.
    pub segments: Vec<SegmentFiles>,
    /// The `leader-epoch-checkpoint` bytes, if written.
    pub epochs: Option<Vec<u8>>,
    /// `index.interval.bytes` = 1 (an index entry per batch) instead of Kafka's 4096.
    pub dense_index: bool,
    /// `segment.index.bytes` = 48, its smallest value.
    pub small_index: bool,
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, count: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(count.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        let head = self.take(4);
        bytes[..head.len()].copy_from_slice(head);
        u32::from_be_bytes(bytes)
    }

    fn chunk(&mut self) -> Vec<u8> {
        let mut length = [0u8; 2];
        let head = self.take(2);
        length[..head.len()].copy_from_slice(head);
        self.take(usize::from(u16::from_be_bytes(length))).to_vec()
    }
}

impl RecoveryInput {
    /// Reads any bytes as a directory: a flags byte (bits 0–1: segments − 1; bit 2: index
    /// files; bit 3: epoch checkpoint; bit 4: log start offset; bit 5: recovery point; bit 6:
    /// dense index; bit 7: small index), the two checkpointed offsets (u32 each, present only
    /// when flagged), then per segment its base offset (u32), its `.log` bytes and, if flagged,
    /// its `.index` and `.timeindex` bytes, each as a u16 length and the bytes; then the epoch
    /// checkpoint, likewise. Missing bytes read as zeros.
    pub fn decode(data: &[u8]) -> Self {
        let mut cursor = Cursor(data);
        let flags = cursor.take(1).first().copied().unwrap_or(0);
        let recovery_point = (flags & 0x20 != 0).then(|| cursor.u32());
        let log_start_offset = (flags & 0x10 != 0).then(|| cursor.u32());
        let segments = (0..=flags & 3)
            .map(|_| SegmentFiles {
                base_offset: cursor.u32(),
                log: cursor.chunk(),
                indexes: (flags & 4 != 0).then(|| (cursor.chunk(), cursor.chunk())),
            })
            .collect();
        let epochs = (flags & 8 != 0).then(|| cursor.chunk());
        Self {
            recovery_point,
            log_start_offset,
            segments,
            epochs,
            dense_index: flags & 0x40 != 0,
            small_index: flags & 0x80 != 0,
        }
    }

    /// The bytes [`RecoveryInput::decode`] reads back as `self` (files longer than 65535
    /// bytes are cut; all segments must agree on whether they have index files).
    pub fn encode(&self) -> Vec<u8> {
        assert!((1..=4).contains(&self.segments.len()));
        let indexes = self.segments[0].indexes.is_some();
        let flags = (self.segments.len() as u8 - 1)
            | u8::from(indexes) << 2
            | u8::from(self.epochs.is_some()) << 3
            | u8::from(self.log_start_offset.is_some()) << 4
            | u8::from(self.recovery_point.is_some()) << 5
            | u8::from(self.dense_index) << 6
            | u8::from(self.small_index) << 7;
        let mut out = vec![flags];
        let chunk = |out: &mut Vec<u8>, bytes: &[u8]| {
            let bytes = &bytes[..bytes.len().min(usize::from(u16::MAX))];
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        out.extend(self.recovery_point.iter().flat_map(|offset| offset.to_be_bytes()));
        out.extend(self.log_start_offset.iter().flat_map(|offset| offset.to_be_bytes()));
        for segment in &self.segments {
            out.extend_from_slice(&segment.base_offset.to_be_bytes());
            chunk(&mut out, &segment.log);
            assert_eq!(segment.indexes.is_some(), indexes);
            if let Some((index, time_index)) = &segment.indexes {
                chunk(&mut out, index);
                chunk(&mut out, time_index);
            }
        }
        if let Some(epochs) = &self.epochs {
            chunk(&mut out, epochs);
        }
        out
    }

    /// A directory as a real log leaves it: `batches` batches of three records (a new leader
    /// epoch every four batches) in segments of `segment_bytes`, closed cleanly.
    pub fn written_by_log(batches: usize, segment_bytes: u32, index_interval_bytes: u32) -> Self {
        let mut disk = SimDisk::new(1);
        let config = LogConfig { segment_bytes, index_interval_bytes, ..LogConfig::default() };
        let options = OpenOptions {
            recovery_point: 0,
            log_start_offset: None,
            clean_shutdown: false,
            wall_ms: WALL_MS,
        };
        let (mut log, _) = Log::open(&mut disk, DIR, config, options).expect("open");
        let keys: Vec<Vec<u8>> = (0..3).map(|index| format!("key-{index}").into_bytes()).collect();
        let values: Vec<Vec<u8>> =
            (0..3).map(|index| format!("value-{index}-xxxxxxxx").into_bytes()).collect();
        for index in 0..batches {
            let records: Vec<NewRecord<'_>> = (0..3)
                .map(|record| NewRecord {
                    key: Some(&keys[record]),
                    value: Some(&values[record]),
                    headers: if record == 0 {
                        vec![(b"h".as_slice(), Some(b"v".as_slice()))]
                    } else {
                        vec![]
                    },
                    timestamp_ms: WALL_MS + record as i64,
                })
                .collect();
            let mut batch = build_batch(&records, BatchOptions::default());
            log.append(&mut disk, &mut batch, (index / 4) as i32, WALL_MS).expect("append");
        }
        log.close(&mut disk).expect("close");
        let mut read = |name: String| {
            let path = format!("{DIR}/{name}");
            let length = disk.len(&path).expect("a file of the log");
            disk.read_at(&path, 0, length as usize).expect("read").to_vec()
        };
        let segments = log
            .segment_base_offsets()
            .into_iter()
            .map(|base| SegmentFiles {
                base_offset: base as u32,
                log: read(format!("{base:020}.log")),
                indexes: Some((
                    read(format!("{base:020}.index")),
                    read(format!("{base:020}.timeindex")),
                )),
            })
            .collect();
        let epochs = Some(read("leader-epoch-checkpoint".to_string()));
        Self { segments, epochs, ..Self::default() }
    }

    fn config(&self) -> LogConfig {
        let mut config = LogConfig::default();
        if self.dense_index {
            config.index_interval_bytes = 1;
        }
        if self.small_index {
            config.segment_index_bytes = 48;
        }
        config
    }

    fn options(&self) -> OpenOptions {
        OpenOptions {
            recovery_point: self.recovery_point.map_or(0, i64::from),
            log_start_offset: self.log_start_offset.map(i64::from),
            clean_shutdown: false,
            wall_ms: WALL_MS,
        }
    }

    /// Writes the directory onto a fresh disk, every byte durable.
    pub fn write(&self, disk: &mut SimDisk) {
        disk.create_dir_all(DIR).expect("create the directory");
        let mut write = |name: String, bytes: &[u8]| {
            let path = format!("{DIR}/{name}");
            disk.append(&path, bytes).expect("write");
            disk.sync(&path).expect("sync");
        };
        for segment in &self.segments {
            let base = segment.base_offset;
            write(format!("{base:020}.log"), &segment.log);
            if let Some((index, time_index)) = &segment.indexes {
                write(format!("{base:020}.index"), index);
                write(format!("{base:020}.timeindex"), time_index);
            }
        }
        if let Some(epochs) = &self.epochs {
            write("leader-epoch-checkpoint".to_string(), epochs);
        }
    }
}

/// What a recovered log holds, for comparing two opens.
#[derive(Debug, PartialEq, Eq)]
struct Recovered {
    log_start_offset: i64,
    log_end_offset: i64,
    segments: Vec<i64>,
    epochs: Vec<(i32, i64)>,
    read: Vec<Bytes>,
}

/// Runs every check on one input.
pub fn check_log_recovery(data: &[u8]) {
    let input = RecoveryInput::decode(data);
    let mut disk = SimDisk::new(u64::from(data.len() as u32));
    input.write(&mut disk);
    let honest = input.recovery_point.is_none_or(|point| {
        // The log trusts data below a checkpointed recovery point without a CRC scan (as
        // Kafka does), so the strict checks apply only when that data is in fact valid: when a
        // full scan keeps all of it.
        let mut scratch = disk.clone();
        let options = OpenOptions { recovery_point: 0, log_start_offset: None, ..input.options() };
        Log::open(&mut scratch, DIR, input.config(), options)
            .is_ok_and(|(log, _)| log.log_end_offset() >= i64::from(point))
    });
    check_recovery(&input, disk, honest);
}

/// The strict checks whatever the data below the recovery point holds (for regressions whose
/// damaged data the log is expected to cut away).
pub fn check_log_recovery_strictly(input: &RecoveryInput) {
    let mut disk = SimDisk::new(1);
    input.write(&mut disk);
    check_recovery(input, disk, true);
}

fn check_recovery(input: &RecoveryInput, mut disk: SimDisk, strict: bool) {
    let Some(first) = open_and_check(input, &mut disk, strict) else { return };
    disk.crash();
    let second = open_and_check(input, &mut disk, strict)
        .unwrap_or_else(|| panic!("a recovered log does not open again after a power loss"));
    if strict {
        let summary = |log: &Recovered| {
            let sizes: Vec<usize> = log.read.iter().map(Bytes::len).collect();
            format!(
                "offsets {}..{}, segments {:?}, epochs {:?}, read {sizes:?}",
                log.log_start_offset, log.log_end_offset, log.segments, log.epochs
            )
        };
        assert!(
            first == second,
            "recovering twice gives a different log: {} then {}",
            summary(&first),
            summary(&second)
        );
    }
}

/// Opens the log and checks it; with `strict` false (damaged data below a recovery point),
/// only that nothing panics and that reads return only valid batches.
fn open_and_check(input: &RecoveryInput, disk: &mut SimDisk, strict: bool) -> Option<Recovered> {
    let (mut log, _report) = Log::open(disk, DIR, input.config(), input.options()).ok()?;
    let bases = log.segment_base_offsets();
    let mut expected = bases[0];
    for &base in bases.iter().filter(|_| strict) {
        assert_eq!(base, expected, "segment {base} does not start where the previous one ended");
        let path = format!("{DIR}/{base:020}.log");
        let bytes = disk.contents(&path).unwrap_or_else(|| panic!("{path} is gone")).to_vec();
        let mut at = 0;
        while at < bytes.len() {
            let header = BatchHeader::parse(&bytes[at..])
                .unwrap_or_else(|error| panic!("{path} at {at}: {error}"));
            let end = at.checked_add(header.size_bytes()).filter(|&end| end <= bytes.len());
            let end = end.unwrap_or_else(|| panic!("{path} at {at}: a torn batch was kept"));
            validate_stored(&bytes[at..end])
                .unwrap_or_else(|error| panic!("{path} at {at}: kept an invalid batch: {error}"));
            assert_eq!(header.base_offset, expected, "{path} at {at}: offsets are not dense");
            assert!(header.last_offset_delta >= 0, "{path} at {at}: negative lastOffsetDelta");
            expected = header.next_offset();
            at = end;
        }
    }
    if !strict {
        expected = log.log_end_offset();
    }
    assert_eq!(expected, log.log_end_offset(), "the last batch does not end at the log end");
    let start = log.log_start_offset();
    let end = log.log_end_offset();
    assert!(start <= end);
    let mut read = Vec::new();
    let mut offset = start;
    while offset < end {
        let info = match log.read(disk, offset, 1 << 20, i64::MAX) {
            Ok(info) => info,
            Err(_) if !strict => break,
            Err(error) => panic!("reading offset {offset} of {start}..{end}: {error}"),
        };
        if info.bytes.is_empty() && !strict {
            break; // damaged trusted data, where its index points
        }
        assert!(!info.bytes.is_empty(), "reading offset {offset} of {start}..{end} found nothing");
        let mut at = 0;
        while at < info.bytes.len() {
            let header = BatchHeader::parse(&info.bytes[at..]).expect("a whole batch");
            let batch = info.bytes.get(at..at + header.size_bytes()).expect("a whole batch");
            validate_stored(batch).unwrap_or_else(|error| panic!("a read returned {error}"));
            if header.next_offset() <= offset && !strict {
                break; // a damaged baseOffset (outside the CRC) in trusted data
            }
            assert!(header.next_offset() > offset, "a read returned a batch before {offset}");
            offset = header.next_offset();
            at += header.size_bytes();
        }
        read.push(info.bytes);
    }
    Some(Recovered {
        log_start_offset: start,
        log_end_offset: end,
        segments: bases,
        epochs: log.leader_epochs().to_vec(),
        read,
    })
}

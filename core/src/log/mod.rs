//! The partition log: Kafka's segmented on-disk log, as a sans-IO state machine over
//! [`Storage`].
//!
//! Layout under the storage root: `<topic>-<partition>/` holds `<20-digit base>.log` segments
//! of v2 batches stored byte for byte as they arrived, a sparse `.index` and a `.timeindex` per
//! segment, and `leader-epoch-checkpoint`. The per-directory recovery-point and log-start
//! checkpoints are written by [`LogManager`].
//!
//! Invariants, asserted where they change:
//! - Offsets are dense and increasing: each batch starts at the previous batch's next offset.
//! - `log_start_offset <= recovery_point <= log_end_offset`; everything below
//!   `recovery_point` has been synced.
//! - There is always at least one segment; the last one is active and the only one appended to.
//!
//! Durability: `append` never syncs. [`Log::sync_request`] names the files to sync and the
//! offset they cover; the driver syncs them (possibly batching many appends into one fsync)
//! and reports back with [`Log::sync_completed`]. An fsync failure takes the log offline for
//! good: it is never retried and nothing after it is acknowledged.

pub mod checkpoint;
mod cleaner;
pub mod index;
mod manager;
mod segment;

pub use cleaner::CompactionStats;
pub use manager::{LogManager, ManagerOpenReport};

use crate::config::CleanupPolicy;
use crate::limits::{
    BATCH_HEADER_BYTES, CHECKPOINT_FILE_BYTES_MAX, LEADER_EPOCH_ENTRIES_MAX, READ_BYTES_MAX,
    SCAN_CHUNK_BYTES, SEGMENTS_PER_LOG_MAX, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN,
    SEGMENT_INDEX_BYTES_MAX, TOPIC_NAME_BYTES_MAX,
};
use crate::protocol::record_batch::{self, BatchError, BatchHeader, Compression, Records};
use crate::protocol::ErrorCode;
use crate::storage::{self, Storage, StorageError, StorageErrorKind};
use bytes::Bytes;
use segment::{parse_segment_name, segment_path, ScanMode, ScanStop, Segment};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

const LOG_SUFFIX: &str = ".log";
const INDEX_SUFFIX: &str = ".index";
const TIME_INDEX_SUFFIX: &str = ".timeindex";
const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

/// A topic name and partition number; its directory is `<topic>-<partition>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// The partition `partition` of `topic`.
    pub fn new(topic: &str, partition: i32) -> Self {
        Self { topic: topic.to_string(), partition }
    }

    /// The directory name, `<topic>-<partition>`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }

    /// Parses a directory name; `None` for anything that is not a partition directory.
    pub fn parse_dir_name(name: &str) -> Option<Self> {
        let (topic, partition) = name.rsplit_once('-')?;
        if !partition.bytes().all(|byte| byte.is_ascii_digit())
            || validate_topic_name(topic).is_err()
        {
            return None;
        }
        Some(Self { topic: topic.to_string(), partition: partition.parse().ok()? })
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Checks a topic name as Kafka does: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".to_string());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name {name:?} is not allowed"));
    }
    if name.len() > TOPIC_NAME_BYTES_MAX {
        return Err(format!("topic name is {} characters, the maximum is 249", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c))) {
        return Err(format!("topic name {name:?} holds {bad:?}; use only [a-zA-Z0-9._-]"));
    }
    Ok(())
}

/// Per-partition log settings, named after Kafka's topic configs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would exceed this.
    pub segment_bytes: u32,
    /// `segment.ms`: roll when the active segment is older than this.
    pub segment_ms: i64,
    /// `index.interval.bytes`: bytes between offset index entries.
    pub index_interval_bytes: u32,
    /// `segment.index.bytes`: the largest index file; roll when full.
    pub segment_index_bytes: u32,
    /// `retention.ms`: delete segments whose largest timestamp is older; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments beyond this size; -1 for no limit.
    pub retention_bytes: i64,
    /// `cleanup.policy`: retention applies with `delete`, compaction with `compact`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long compaction keeps a tombstone (a null value), so that
    /// consumers reading the log from its start see the deletion.
    pub delete_retention_ms: i64,
    /// `message.timestamp.type`: with `LogAppendTime`, each appended batch is stamped with the
    /// append's wall time.
    pub timestamp_type: TimestampType,
    /// `min.cleanable.dirty.ratio`: a compaction pass is due once the bytes written since the
    /// last pass exceed this share of the cleanable log.
    pub min_cleanable_dirty_ratio: DirtyRatio,
    /// `min.compaction.lag.ms`: a segment holding a batch younger than this is not compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a pass is due, whatever the ratio, once a segment written
    /// since the last pass has waited this long, counted from its first batch's timestamp
    /// (as Kafka counts it; from its creation or open where that is not above 0).
    pub max_compaction_lag_ms: i64,
}

/// `min.cleanable.dirty.ratio`, a number in 0..=1, kept as its bits so that the config stays
/// `Eq` and `Hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirtyRatio(u64);

impl DirtyRatio {
    /// The ratio `value`, or `None` outside 0..=1 (NaN included).
    pub fn new(value: f64) -> Option<Self> {
        (0.0..=1.0).contains(&value).then_some(Self(value.to_bits()))
    }

    /// Its value.
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }

    /// Whether `dirty` bytes out of `clean + dirty` exceed the ratio (strictly, as Kafka's
    /// cleaner compares): nothing dirty never does.
    pub fn exceeded_by(self, clean: u64, dirty: u64) -> bool {
        dirty > 0 && dirty as f64 / (clean as f64 + dirty as f64) > self.get()
    }
}

impl Default for DirtyRatio {
    /// Kafka's default, 0.5.
    fn default() -> Self {
        Self(0.5f64.to_bits())
    }
}

/// `message.timestamp.type`: which time a batch's timestamps mean.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// `CreateTime` (Kafka's default): the producer's timestamps are kept.
    #[default]
    CreateTime,
    /// `LogAppendTime`: the broker sets the batch's timestamp type and its `maxTimestamp` to
    /// the append's wall time (re-computing the CRC, as Kafka does); readers take that time
    /// for every record of the batch.
    LogAppendTime,
}

impl TimestampType {
    /// The value as Kafka spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateTime => "CreateTime",
            Self::LogAppendTime => "LogAppendTime",
        }
    }
}

impl Default for LogConfig {
    /// Kafka's defaults.
    fn default() -> Self {
        Self {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            index_interval_bytes: 4096,
            segment_index_bytes: SEGMENT_INDEX_BYTES_MAX,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            timestamp_type: TimestampType::CreateTime,
            min_cleanable_dirty_ratio: DirtyRatio::default(),
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

impl LogConfig {
    /// Refuses values Kafka refuses, naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            return Err(format!(
                "segment.bytes={} must be in {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}",
                self.segment_bytes
            ));
        }
        if self.segment_ms < 1 {
            return Err(format!("segment.ms={} must be at least 1", self.segment_ms));
        }
        if self.segment_index_bytes < 4 * 12 || self.segment_index_bytes > SEGMENT_INDEX_BYTES_MAX {
            return Err(format!(
                "segment.index.bytes={} must be in 48..={SEGMENT_INDEX_BYTES_MAX}",
                self.segment_index_bytes
            ));
        }
        if self.retention_ms < -1 {
            return Err(format!("retention.ms={} must be -1 or more", self.retention_ms));
        }
        if self.retention_bytes < -1 {
            return Err(format!("retention.bytes={} must be -1 or more", self.retention_bytes));
        }
        Ok(())
    }
}

/// Why a log operation failed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogError {
    /// The batch is malformed; nothing was written.
    InvalidBatch(BatchError),
    /// The batch is larger than a segment may hold.
    BatchTooLarge {
        /// Batch size in bytes.
        size_bytes: usize,
        /// `segment.bytes`.
        segment_bytes: u32,
    },
    /// The offset lies outside `log_start_offset..=log_end_offset`.
    OffsetOutOfRange {
        /// Offset asked for.
        requested: i64,
        /// First offset held.
        log_start_offset: i64,
        /// Offset the next record will get.
        log_end_offset: i64,
    },
    /// The storage failed; for `NoSpace` the log is unchanged and still usable.
    Storage(StorageError),
    /// An earlier storage failure took the log offline; it serves nothing until restarted.
    Offline(StorageError),
    /// A stored batch failed its CRC check on read: it is not served.
    CorruptStoredBatch {
        /// Offset of the damaged batch.
        offset: i64,
        /// What was wrong.
        detail: String,
    },
    /// The log reached [`SEGMENTS_PER_LOG_MAX`] segments.
    TooManySegments,
}

impl LogError {
    /// The Kafka error code a client receives.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::InvalidBatch(error) => error.error_code(),
            Self::BatchTooLarge { .. } => ErrorCode::RecordListTooLarge,
            Self::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            Self::Storage(_)
            | Self::Offline(_)
            | Self::CorruptStoredBatch { .. }
            | Self::TooManySegments => ErrorCode::KafkaStorageError,
        }
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidBatch(error) => write!(f, "{error}"),
            Self::BatchTooLarge { size_bytes, segment_bytes } => {
                write!(f, "batch of {size_bytes} bytes exceeds segment.bytes={segment_bytes}")
            }
            Self::OffsetOutOfRange { requested, log_start_offset, log_end_offset } => write!(
                f,
                "offset {requested} is outside the log's range {log_start_offset}..{log_end_offset}"
            ),
            Self::Storage(error) => write!(f, "storage error: {error}"),
            Self::Offline(error) => write!(f, "log directory offline after: {error}"),
            Self::CorruptStoredBatch { offset, detail } => {
                write!(f, "stored batch at offset {offset} is corrupt: {detail}")
            }
            Self::TooManySegments => write!(f, "the log holds {SEGMENTS_PER_LOG_MAX} segments"),
        }
    }
}

impl std::error::Error for LogError {}

impl From<StorageError> for LogError {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}

/// Where an append landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppendInfo {
    /// Offset given to the batch's first record.
    pub base_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
    /// The wall-clock time of the append, for `log_append_time` in Produce responses.
    pub log_append_time_ms: i64,
}

/// Stored batches returned by [`Log::read`], as they lie on disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReadInfo {
    /// Whole batches, byte for byte; empty when nothing lies in range.
    pub bytes: Bytes,
    /// First offset held at the time of the read.
    pub log_start_offset: i64,
    /// Offset the next record will get.
    pub log_end_offset: i64,
}

/// Files to sync and the offset that becomes durable once all are synced.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[must_use = "a sync request must be carried out and reported with Log::sync_completed"]
pub struct SyncRequest {
    /// Paths to fsync.
    pub files: Vec<String>,
    /// Every offset below this is durable once the files are synced.
    pub offset: i64,
    truncations: u64,
}

/// What opening a log found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RecoveryReport {
    /// Whether the log was opened without a recovery scan.
    pub clean: bool,
    /// Segments whose batches were scanned and CRC-checked.
    pub segments_scanned: u32,
    /// Bytes cut from the end of the log because they were torn or invalid.
    pub bytes_truncated: u64,
    /// Segments removed because they followed the truncation point.
    pub segments_removed: u32,
    /// Segments whose index files were missing or damaged and were rebuilt.
    pub indexes_rebuilt: u32,
    /// Why recovery truncated, if it did.
    pub truncation_reason: Option<String>,
}

/// How to open a log: what the directory-level checkpoints said about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpenOptions {
    /// The checkpointed recovery point; everything below it was synced. 0 if unknown.
    pub recovery_point: i64,
    /// The checkpointed log start offset, if any.
    pub log_start_offset: Option<i64>,
    /// Whether the previous process shut down cleanly (no scan needed).
    pub clean_shutdown: bool,
    /// Current wall-clock time in ms (for `segment.ms`).
    pub wall_ms: i64,
}

/// One partition's log. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Log {
    dir: String,
    config: LogConfig,
    segments: VecDeque<Segment>,
    log_start_offset: i64,
    recovery_point: i64,
    unsynced_files: BTreeSet<String>,
    /// Files taken by sync requests not yet completed, with how many hold each: a sync made
    /// meanwhile ([`Log::sync`]) must sync them too before it can call anything durable.
    syncing_files: BTreeMap<String, usize>,
    leader_epochs: Vec<(i32, i64)>,
    truncations: u64,
    offline: Option<StorageError>,
    /// Compaction has examined every cleanable segment below this offset.
    compacted_through: i64,
    /// When the earliest tombstone that compaction kept may be removed.
    tombstone_expiry_ms: Option<i64>,
    /// The compaction pass under way, if one is ([`Log::compact_step`]).
    compaction: Option<Box<cleaner::Pass>>,
    /// Where the last read ended: a tailing consumer's next fetch starts there, so its scan
    /// starts there too rather than at the offset index's entry (up to
    /// `index.interval.bytes` of batch headers back). Cleared whenever a segment's bytes
    /// change other than by an append (truncation, a compaction rewrite).
    read_hint: Option<ReadHint>,
}

/// A batch boundary in a segment: the batch at `position` of the segment based at
/// `segment_base` starts at `offset` (or the segment ends there, holding offsets below it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ReadHint {
    segment_base: i64,
    offset: i64,
    position: u32,
}

impl Log {
    /// Opens the log in `dir`, creating it if absent. After an unclean shutdown, scans every
    /// segment from the one holding the last offset below the recovery point, CRC-checks each
    /// batch, truncates at the first bad byte, drops later segments, rebuilds indexes, and
    /// syncs the result.
    pub fn open<S: Storage + ?Sized>(
        storage: &mut S,
        dir: &str,
        config: LogConfig,
        options: OpenOptions,
    ) -> Result<(Self, RecoveryReport), LogError> {
        config.validate().map_err(|detail| {
            LogError::Storage(StorageError::new(StorageErrorKind::Io, dir, detail))
        })?;
        storage.create_dir_all(dir)?;
        let names = storage.list(dir)?;
        let mut bases = Vec::new();
        for name in &names {
            if let Some(base) = parse_segment_name(name, LOG_SUFFIX) {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        if bases.len() > SEGMENTS_PER_LOG_MAX {
            return Err(LogError::TooManySegments);
        }
        remove_strays(storage, dir, &names, &bases)?;
        let mut log = Self {
            dir: dir.to_string(),
            config,
            segments: VecDeque::new(),
            log_start_offset: 0,
            recovery_point: 0,
            unsynced_files: BTreeSet::new(),
            syncing_files: BTreeMap::new(),
            leader_epochs: read_epochs(storage, dir)?,
            truncations: 0,
            offline: None,
            compacted_through: 0,
            tombstone_expiry_ms: None,
            compaction: None,
            read_hint: None,
        };
        let mut report = RecoveryReport { clean: options.clean_shutdown, ..Default::default() };
        if bases.is_empty() {
            let base = options.log_start_offset.unwrap_or(0).max(0);
            log.create_segment(storage, base, options.wall_ms)?;
        } else {
            log.load_segments(storage, &bases, options, &mut report)?;
        }
        log.finish_open(storage, options, &mut report)?;
        log.check_invariants();
        Ok((log, report))
    }

    fn load_segments<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        bases: &[i64],
        options: OpenOptions,
        report: &mut RecoveryReport,
    ) -> Result<(), LogError> {
        // The first segment to CRC-scan: after a clean stop none, otherwise the one that holds
        // the last offset below the recovery point. Segments before it were synced, index files
        // included. That segment's own index files may not be: a roll writes them when the
        // recovery point may already stand at the segment's end, and a checkpoint written
        // before the roll vouches for its records only.
        let scan_from = if options.clean_shutdown {
            bases.len()
        } else {
            bases.partition_point(|&base| base < options.recovery_point).saturating_sub(1)
        };
        let mut epochs_seen = Vec::new();
        for (position, &base) in bases.iter().enumerate() {
            let path = segment_path(&self.dir, base, LOG_SUFFIX);
            let file_size = storage.len(&path)?;
            let mut segment = Segment::new(&self.dir, base, options.wall_ms);
            let expected_base = self.segments.back().map_or(base, |previous| previous.next_offset);
            let is_last = position + 1 == bases.len();
            let loaded = if position < scan_from && base == expected_base {
                self.load_indexed(storage, base, file_size, is_last, options.wall_ms)?
            } else {
                None
            };
            let stop = match loaded {
                Some(found) => {
                    segment = found;
                    None
                }
                None if base != expected_base => Some(ScanStop::Invalid(format!(
                    "segment {base} does not follow offset {expected_base}"
                ))),
                None => {
                    // Below the recovery point only a damaged index brings us here: the data
                    // was synced, so only its structure is checked and CRCs wait for reads.
                    let verify_crc = position >= scan_from;
                    report.segments_scanned += u32::from(verify_crc);
                    report.indexes_rebuilt += u32::from(!verify_crc);
                    let mode = ScanMode {
                        verify_crc,
                        stop_at_offset: None,
                        trusted_below: options.recovery_point,
                        index_interval_bytes: self.config.index_interval_bytes,
                    };
                    let known = self.leader_epochs.clone();
                    let stop =
                        segment.scan(storage, &path, file_size, mode, &known, &mut epochs_seen)?;
                    if stop.is_none() && !is_last {
                        // A sealed segment's time index ends with its largest timestamp, which
                        // the next open takes from it.
                        segment.seal_time_index();
                    }
                    if verify_crc {
                        // Synced before the recovery point moves past this segment.
                        self.write_index_files(storage, &segment)?;
                    } else {
                        // The next open trusts these with the same checkpoint, so they must
                        // not be torn by a power loss before this open's final sync.
                        self.write_index_files_durably(storage, &segment)?;
                    }
                    stop
                }
            };
            if let Some(stop) = stop {
                self.truncate_recovered(
                    storage, segment, file_size, bases, position, stop, report,
                )?;
                break;
            }
            self.segments.push_back(segment);
        }
        if self.segments.is_empty() {
            let base = bases[0];
            self.create_segment(storage, base, options.wall_ms)?;
        }
        for (epoch, start_offset) in epochs_seen {
            if self.leader_epochs.last().is_none_or(|&(latest, _)| epoch > latest) {
                self.leader_epochs.push((epoch, start_offset));
            }
        }
        Ok(())
    }

    /// Cuts recovery at `stop`: keeps `segment`'s valid prefix (if it is non-empty or the log
    /// would otherwise be empty) and removes every later segment.
    #[allow(clippy::too_many_arguments)]
    fn truncate_recovered<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        segment: Segment,
        file_size: u64,
        bases: &[i64],
        position: usize,
        stop: ScanStop,
        report: &mut RecoveryReport,
    ) -> Result<(), LogError> {
        let base = segment.base_offset;
        let path = segment_path(&self.dir, base, LOG_SUFFIX);
        let misplaced = self.segments.back().is_some_and(|previous| previous.next_offset != base);
        let mut removed_from = position + 1;
        if misplaced || (segment.is_empty() && !self.segments.is_empty()) {
            removed_from = position;
        } else {
            storage.truncate(&path, u64::from(segment.size_bytes))?;
            self.unsynced_files.insert(path);
            report.bytes_truncated += file_size - u64::from(segment.size_bytes);
            self.segments.push_back(segment);
        }
        for &later in &bases[removed_from..] {
            let later_path = segment_path(&self.dir, later, LOG_SUFFIX);
            report.bytes_truncated += storage.len(&later_path)?;
            self.remove_segment_files(storage, later)?;
            report.segments_removed += 1;
        }
        report.truncation_reason = Some(format!("segment {base}: {stop:?}"));
        Ok(())
    }

    /// Loads a segment from its index files without scanning its batches. `None` when the
    /// index files are missing or implausible, so the caller rebuilds them. Implausible
    /// includes a time index whose last entry is older than a batch after the last offset-index
    /// entry: retention reads a segment's largest timestamp from that entry, and one too old
    /// would delete the segment early.
    fn load_indexed<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        base: i64,
        file_size: u64,
        is_last: bool,
        wall_ms: i64,
    ) -> Result<Option<Segment>, LogError> {
        let Ok(size_bytes) = u32::try_from(file_size) else { return Ok(None) };
        let index_path = segment_path(&self.dir, base, INDEX_SUFFIX);
        let time_path = segment_path(&self.dir, base, TIME_INDEX_SUFFIX);
        let index_bytes_max = self.config.segment_index_bytes as usize;
        let (Some(index_bytes), Some(time_bytes)) = (
            read_optional(storage, &index_path, index_bytes_max)?,
            read_optional(storage, &time_path, index_bytes_max)?,
        ) else {
            return Ok(None);
        };
        let Ok(index) = index::OffsetIndex::decode(&index_bytes, size_bytes.max(1)) else {
            return Ok(None);
        };
        // The next offset is found by walking batch headers from the last index entry.
        let start = index.entries().last().copied();
        let walk_from = start.map_or(0, |entry| entry.position);
        let walk_base = base + start.map_or(0, |entry| i64::from(entry.relative_offset));
        let log_path = segment_path(&self.dir, base, LOG_SUFFIX);
        let Some(walked) = walk_headers(storage, &log_path, walk_from, size_bytes, walk_base)?
        else {
            return Ok(None);
        };
        let next_offset = walked.next_offset;
        let relative_end = (next_offset - base) as u64;
        let Ok(time_index) = index::TimeIndex::decode(&time_bytes, relative_end.max(1)) else {
            return Ok(None);
        };
        if !is_last && time_index.is_empty() && size_bytes > 0 {
            return Ok(None);
        }
        if walked.max_timestamp > time_index.last().map_or(-1, |entry| entry.timestamp) {
            return Ok(None);
        }
        // The first batch's time, which max.compaction.lag.ms counts from: one header read.
        let first_batch_timestamp = if size_bytes == 0 {
            -1
        } else {
            let header_bytes = storage.read_at(&log_path, 0, BATCH_HEADER_BYTES)?;
            match BatchHeader::parse(&header_bytes) {
                Ok(header) if header.base_offset == base => header.max_timestamp,
                _ => return Ok(None),
            }
        };
        Ok(Some(Segment::load(
            &self.dir,
            base,
            size_bytes,
            next_offset,
            index,
            time_index,
            first_batch_timestamp,
            wall_ms,
        )))
    }

    fn finish_open<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        options: OpenOptions,
        report: &mut RecoveryReport,
    ) -> Result<(), LogError> {
        // After an unclean stop the batches that survived are the truth about leader epochs;
        // the checkpoint is only a cache of them (it may be missing, damaged, or ahead of a
        // cut). Rebuild it from every batch header and write it back, so that any two
        // recoveries of the same directory agree. This comes before the checkpointed log start
        // is applied: a cut below that start must still restart the log at the start, as the
        // next recovery of the cut log would.
        if !report.clean {
            let (mut rebuilt, regression) = self.epochs_from_batches(storage)?;
            if let Some(offset) = regression {
                // Leader epochs never go down along a log; the field lies outside the CRC, so
                // a batch whose epoch does is damaged: cut there, as for any corrupt batch.
                self.truncate_to(storage, offset, options.wall_ms)?;
                report.truncation_reason =
                    Some(format!("leader epoch goes down at offset {offset}"));
                rebuilt = self.epochs_from_batches(storage)?.0;
            }
            if rebuilt != self.leader_epochs {
                self.leader_epochs = rebuilt;
                self.write_epochs(storage)?;
            }
        }
        let log_end = self.log_end_offset();
        let first_base = self.segments.front().map_or(0, |segment| segment.base_offset);
        self.log_start_offset = options.log_start_offset.unwrap_or(first_base).max(first_base);
        if self.log_start_offset > log_end {
            // Records below the checkpointed start were deleted; restart the log there so no
            // offset below it is ever handed out again.
            self.truncate_fully_and_start_at(storage, self.log_start_offset, options.wall_ms)?;
        }
        let log_end = self.log_end_offset();
        let epochs_before = self.leader_epochs.len();
        self.leader_epochs.retain(|&(_, start_offset)| start_offset < log_end);
        if self.leader_epochs.len() != epochs_before {
            self.write_epochs(storage)?;
        }
        // Whatever survived recovery is made durable before anything new is appended.
        if !report.clean {
            for segment in &self.segments {
                self.unsynced_files.insert(segment_path(
                    &self.dir,
                    segment.base_offset,
                    LOG_SUFFIX,
                ));
            }
        }
        self.recovery_point = self.log_start_offset;
        self.sync(storage)?;
        assert_eq!(self.recovery_point, self.log_end_offset());
        Ok(())
    }

    /// `(epoch, start offset)` pairs read from the batch headers of every segment, and the
    /// offset of the first batch whose epoch is lower than an earlier one's, if any.
    #[allow(clippy::type_complexity)]
    fn epochs_from_batches<S: Storage + ?Sized>(
        &self,
        storage: &mut S,
    ) -> Result<(Vec<(i32, i64)>, Option<i64>), LogError> {
        let mut epochs: Vec<(i32, i64)> = Vec::new();
        for segment in &self.segments {
            let mut position = 0u32;
            while position < segment.size_bytes {
                let bytes =
                    storage.read_at(&segment.log_path, u64::from(position), BATCH_HEADER_BYTES)?;
                let header =
                    BatchHeader::parse(&bytes).map_err(|error| LogError::CorruptStoredBatch {
                        offset: segment.base_offset,
                        detail: error.to_string(),
                    })?;
                let epoch = header.partition_leader_epoch;
                if epochs.last().is_some_and(|&(latest, _)| epoch < latest) {
                    return Ok((epochs, Some(header.base_offset)));
                }
                if epoch >= 0 && epochs.last().is_none_or(|&(latest, _)| epoch > latest) {
                    epochs.push((epoch, header.base_offset));
                }
                position += header.size_bytes() as u32;
            }
        }
        if epochs.len() > LEADER_EPOCH_ENTRIES_MAX {
            epochs.drain(..epochs.len() - LEADER_EPOCH_ENTRIES_MAX);
        }
        Ok((epochs, None))
    }

    /// The directory of this log, relative to the storage root.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The log's settings.
    pub fn config(&self) -> LogConfig {
        self.config
    }

    /// Replaces the log's settings (topic config changes). Takes effect on the next append,
    /// roll or retention run.
    pub fn set_config(&mut self, config: LogConfig) -> Result<(), String> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// First offset held.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Offset the next appended record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    /// Every offset below this has been synced: the durable offset.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Total bytes in all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|segment| u64::from(segment.size_bytes)).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offset of the active (last) segment.
    pub fn active_base_offset(&self) -> i64 {
        self.active().base_offset
    }

    /// Base offsets of all segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.iter().map(|segment| segment.base_offset).collect()
    }

    /// `(leader epoch, start offset)` pairs, oldest first.
    pub fn leader_epochs(&self) -> &[(i32, i64)] {
        &self.leader_epochs
    }

    /// The storage failure that took the log offline, if any.
    pub fn offline_reason(&self) -> Option<&StorageError> {
        self.offline.as_ref()
    }

    /// KIP-101: the end offset of `epoch` (the start offset of the next larger epoch, or the
    /// log end for the latest epoch), with the largest epoch at most `epoch`. `None` when
    /// `epoch` is below every known epoch.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        let after = self.leader_epochs.partition_point(|&(known, _)| known <= epoch);
        let found = after.checked_sub(1).map(|index| self.leader_epochs[index].0)?;
        let end = self.leader_epochs.get(after).map_or(self.log_end_offset(), |&(_, start)| start);
        Some((found, end))
    }

    fn active(&self) -> &Segment {
        self.segments.back().expect("a log always has an active segment")
    }

    fn check_online(&self) -> Result<(), LogError> {
        match &self.offline {
            Some(error) => Err(LogError::Offline(error.clone())),
            None => Ok(()),
        }
    }

    fn check_invariants(&self) {
        assert!(!self.segments.is_empty());
        assert!(self.log_start_offset <= self.log_end_offset());
        assert!(self.recovery_point <= self.log_end_offset());
        assert!(self.segments.len() <= SEGMENTS_PER_LOG_MAX);
        for pair in self.segments.iter().zip(self.segments.iter().skip(1)) {
            assert_eq!(pair.0.next_offset, pair.1.base_offset, "segments are contiguous");
        }
    }

    /// Takes the log offline after a storage failure that may have left it inconsistent.
    fn fail<T>(&mut self, error: StorageError) -> Result<T, LogError> {
        if self.offline.is_none() {
            self.offline = Some(error.clone());
        }
        Err(LogError::Offline(error))
    }

    /// Appends one producer batch as leader: validates it, writes `baseOffset` (the log end)
    /// and `partitionLeaderEpoch` into it, and appends its bytes. Rolls first when the active
    /// segment is full or old. Nothing is synced; on any error the log is unchanged.
    pub fn append<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        batch: &mut [u8],
        leader_epoch: i32,
        wall_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.check_online()?;
        let header = record_batch::validate(batch).map_err(LogError::InvalidBatch)?;
        let info = self.append_validated(storage, &header, batch, leader_epoch, wall_ms)?;
        record_batch::set_base_offset(batch, info.base_offset);
        record_batch::set_partition_leader_epoch(batch, leader_epoch);
        Ok(info)
    }

    /// Appends a batch the caller has already validated (`header` is its parsed header),
    /// without copying it: a patched copy of its 61-byte header (offset and epoch) and the
    /// rest of the batch, as it arrived, go to storage in one vectored write.
    pub fn append_validated<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        header: &BatchHeader,
        batch: &[u8],
        leader_epoch: i32,
        wall_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.check_online()?;
        assert!(leader_epoch >= 0, "a leader appends with its epoch");
        assert!(
            self.leader_epochs.last().is_none_or(|&(latest, _)| leader_epoch >= latest),
            "leader epochs never go backwards"
        );
        assert_eq!(batch.len(), header.size_bytes(), "the header is this batch's");
        if header.size_bytes() > self.config.segment_bytes as usize {
            return Err(LogError::BatchTooLarge {
                size_bytes: header.size_bytes(),
                segment_bytes: self.config.segment_bytes,
            });
        }
        let base_offset = self.log_end_offset();
        if self.should_roll(header, base_offset, wall_ms) {
            self.roll(storage, base_offset, wall_ms)?;
        }
        let mut patched = [0u8; BATCH_HEADER_BYTES];
        patched.copy_from_slice(&batch[..BATCH_HEADER_BYTES]);
        record_batch::set_base_offset(&mut patched, base_offset);
        record_batch::set_partition_leader_epoch(&mut patched, leader_epoch);
        let log_append_time = self.config.timestamp_type == TimestampType::LogAppendTime;
        // A delete horizon is the cleaner's to set (KIP-534), never a producer's.
        record_batch::clear_delete_horizon(&mut patched, &batch[BATCH_HEADER_BYTES..]);
        if log_append_time {
            record_batch::set_log_append_time(&mut patched, &batch[BATCH_HEADER_BYTES..], wall_ms);
        }
        // A new epoch is checkpointed before its first batch is written, so recovery can check
        // every batch's epoch (a field the CRC does not cover) against the checkpoint.
        if self.leader_epochs.last().is_none_or(|&(latest, _)| leader_epoch > latest) {
            self.leader_epochs.push((leader_epoch, base_offset));
            if self.leader_epochs.len() > LEADER_EPOCH_ENTRIES_MAX {
                self.leader_epochs.remove(0);
            }
            if let Err(error) = self.write_epochs(storage) {
                return self.fail(error);
            }
        }
        let active = self.segments.back().expect("active");
        let position = active.size_bytes;
        let parts: [&[u8]; 2] = [&patched, &batch[BATCH_HEADER_BYTES..]];
        if let Err(error) = storage.append_parts(&active.log_path, &parts) {
            // Leave no partial batch behind; if even that fails, the log cannot be trusted.
            if let Err(undo) = storage.truncate(&active.log_path, u64::from(position)) {
                return self.fail(undo);
            }
            if error.kind == StorageErrorKind::NoSpace {
                return Err(LogError::Storage(error));
            }
            return self.fail(error);
        }
        if !self.unsynced_files.contains(&active.log_path) {
            self.unsynced_files.insert(active.log_path.clone());
        }
        let stored = if log_append_time {
            BatchHeader::parse(&patched).expect("a patched copy of a parsed header")
        } else {
            BatchHeader { base_offset, partition_leader_epoch: leader_epoch, ..*header }
        };
        let interval = self.config.index_interval_bytes;
        self.segments.back_mut().expect("active").on_batch(position, &stored, interval);
        assert_eq!(self.log_end_offset(), stored.next_offset());
        Ok(AppendInfo {
            base_offset,
            last_offset: stored.last_offset(),
            log_append_time_ms: wall_ms,
        })
    }

    fn should_roll(&self, header: &BatchHeader, base_offset: i64, wall_ms: i64) -> bool {
        let active = self.active();
        if active.is_empty() {
            return false;
        }
        let too_big = u64::from(active.size_bytes) + header.size_bytes() as u64
            > u64::from(self.config.segment_bytes);
        // As Kafka: a compacted log also rolls at max.compaction.lag.ms, so that what waits in
        // the active segment becomes cleanable in time.
        let roll_ms = if self.config.cleanup_policy.compacts() {
            self.config.segment_ms.min(self.config.max_compaction_lag_ms)
        } else {
            self.config.segment_ms
        };
        let too_old = wall_ms.saturating_sub(active.created_wall_ms) >= roll_ms;
        let relative_overflow = base_offset + i64::from(header.last_offset_delta)
            - active.base_offset
            > i64::from(u32::MAX);
        too_big
            || too_old
            || relative_overflow
            || active.indexes_full(self.config.segment_index_bytes)
    }

    /// Closes the active segment (writing its index files) and starts a new one at `base`.
    fn roll<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        base: i64,
        wall_ms: i64,
    ) -> Result<(), LogError> {
        if self.segments.len() >= SEGMENTS_PER_LOG_MAX {
            return Err(LogError::TooManySegments);
        }
        let mut sealed = self.segments.back().expect("active").clone();
        sealed.seal_time_index();
        if let Err(error) = self.write_index_files(storage, &sealed) {
            return self.fail(error);
        }
        *self.segments.back_mut().expect("active") = sealed;
        if let Err(error) = self.create_segment(storage, base, wall_ms) {
            return match error {
                LogError::Storage(error) => self.fail(error),
                other => Err(other),
            };
        }
        Ok(())
    }

    fn create_segment<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        base: i64,
        wall_ms: i64,
    ) -> Result<(), LogError> {
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = segment_path(&self.dir, base, suffix);
            if storage::exists(storage, &path)? {
                storage.truncate(&path, 0)?;
            } else {
                storage.append(&path, &[])?;
            }
            self.unsynced_files.insert(path);
        }
        self.segments.push_back(Segment::new(&self.dir, base, wall_ms));
        Ok(())
    }

    /// Writes a segment's `.index` and `.timeindex` from memory, each synced and renamed into
    /// place before this returns. For a segment that may lie below a checkpointed recovery
    /// point: the next open trusts those index files without a scan. A crash before the
    /// rename leaves no index file, which that open rebuilds.
    pub(crate) fn write_index_files_durably<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        segment: &Segment,
    ) -> Result<(), StorageError> {
        for (path, bytes) in self.index_files(segment) {
            storage::write_file_atomic(storage, &path, &bytes)?;
            self.unsynced_files.remove(&path);
        }
        Ok(())
    }

    /// Rewrites a segment's `.index` and `.timeindex` from memory; they are synced with the
    /// next sync request.
    fn write_index_files<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        segment: &Segment,
    ) -> Result<(), StorageError> {
        for (path, bytes) in self.index_files(segment) {
            if storage::exists(storage, &path)? {
                storage.truncate(&path, 0)?;
            }
            storage.append(&path, &bytes)?;
            self.unsynced_files.insert(path);
        }
        Ok(())
    }

    /// The paths of `segment`'s `.index` and `.timeindex`, each with its content.
    fn index_files(&self, segment: &Segment) -> [(String, Vec<u8>); 2] {
        [
            (segment_path(&self.dir, segment.base_offset, INDEX_SUFFIX), segment.index.encode()),
            (
                segment_path(&self.dir, segment.base_offset, TIME_INDEX_SUFFIX),
                segment.time_index.encode(),
            ),
        ]
    }

    /// Reads stored batches from the one containing `offset`, stopping before `max_offset`
    /// (the high watermark, or `i64::MAX`) and after about `max_bytes` — but always returning
    /// at least one whole batch if any lies in range. Bytes come back as stored, never
    /// re-encoded, and every returned batch has passed its CRC check.
    pub fn read<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
    ) -> Result<ReadInfo, LogError> {
        self.check_online()?;
        let log_end = self.log_end_offset();
        let out_of_range = LogError::OffsetOutOfRange {
            requested: offset,
            log_start_offset: self.log_start_offset,
            log_end_offset: log_end,
        };
        if offset < self.log_start_offset || offset > log_end {
            return Err(out_of_range);
        }
        let empty = ReadInfo {
            bytes: Bytes::new(),
            log_start_offset: self.log_start_offset,
            log_end_offset: log_end,
        };
        let upper = max_offset.min(log_end);
        if offset >= upper {
            return Ok(empty);
        }
        let max_bytes = max_bytes.clamp(1, READ_BYTES_MAX);
        let first = self.read_segment(storage, offset, upper, max_bytes)?;
        // A read normally stays in one segment, as Kafka's does. But compaction can leave
        // segments of batches without records, and a client whose answer holds no record
        // may not move past it (librdkafka takes it for a record too large to fetch): while
        // the answer holds no record, go on into the next segments, within `max_bytes`.
        let (mut next, mut records) = batch_span(&first);
        if first.is_empty() || records > 0 || next >= upper || first.len() >= max_bytes {
            return Ok(ReadInfo { bytes: first, ..empty });
        }
        let mut parts = vec![first];
        let mut total = parts[0].len();
        while records == 0 && next < upper && total < max_bytes {
            let more = self.read_segment(storage, next, upper, max_bytes - total)?;
            if more.is_empty() {
                break;
            }
            (next, records) = batch_span(&more);
            total += more.len();
            parts.push(more);
        }
        Ok(ReadInfo { bytes: Bytes::from(parts.concat()), ..empty })
    }

    /// [`Log::read`] within the segment holding `offset`.
    fn read_segment<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        offset: i64,
        upper: i64,
        max_bytes: usize,
    ) -> Result<Bytes, LogError> {
        let segment_index = self.segment_index_for(offset);
        let segment = &self.segments[segment_index];
        let path = segment.log_path.as_str();
        let relative = u32::try_from(offset - segment.base_offset).unwrap_or(u32::MAX);
        let indexed = segment.index.lookup(relative).map_or(0, |entry| entry.position);
        let size_bytes = segment.size_bytes;
        // A batch boundary at or below `offset` and past the index entry is a shorter scan.
        let scan_from = match self.read_hint {
            Some(hint)
                if hint.segment_base == segment.base_offset
                    && hint.offset <= offset
                    && hint.position > indexed
                    && hint.position <= size_bytes =>
            {
                hint.position
            }
            _ => indexed,
        };
        let (mut bytes, mut start) =
            match read_range(storage, path, scan_from, size_bytes, offset, upper, max_bytes) {
                Ok(read) => read,
                Err(error) => return self.fail(error),
            };
        // The batch holding `offset` exists (offset < upper), so an answer that does not start
        // with it means the index entry was wrong (index files below the recovery point are
        // trusted without a scan): scan the segment from its start instead.
        let holds_offset = BatchHeader::parse(&bytes)
            .is_ok_and(|header| header.base_offset <= offset && offset < header.next_offset());
        if !holds_offset && scan_from > 0 {
            (bytes, start) =
                match read_range(storage, path, 0, size_bytes, offset, upper, max_bytes) {
                    Ok(read) => read,
                    Err(error) => return self.fail(error),
                };
        }
        let verified = verified_prefix(bytes)?;
        if !verified.is_empty() {
            let segment_base = self.segments[segment_index].base_offset;
            let (next, _) = batch_span(&verified);
            let position = start + verified.len() as u32;
            self.read_hint = Some(ReadHint { segment_base, offset: next, position });
        }
        Ok(verified)
    }

    /// The largest batch timestamp in the log and the first offset of its batch (ListOffsets
    /// with timestamp -3, KIP-734), or `None` for an empty log.
    pub fn max_timestamp_offset(&self) -> Option<(i64, i64)> {
        let segment = self
            .segments
            .iter()
            .filter(|segment| !segment.is_empty())
            .max_by_key(|segment| segment.max_timestamp)?;
        let offset = segment.base_offset + i64::from(segment.relative_offset_of_max_timestamp());
        Some((segment.max_timestamp, offset.max(self.log_start_offset)))
    }

    /// Calls `visit` with the header of every batch from the log start, oldest first (used to
    /// rebuild producer state on open). Reads headers only, never record bodies.
    pub fn for_each_batch_header<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        visit: impl FnMut(&BatchHeader),
    ) -> Result<(), LogError> {
        self.for_each_batch_header_from(storage, self.log_start_offset, visit)
    }

    /// [`Log::for_each_batch_header`] for the batches that end at or after `from` (and after
    /// the log start), skipping whole segments below it.
    pub fn for_each_batch_header_from<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        from: i64,
        mut visit: impl FnMut(&BatchHeader),
    ) -> Result<(), LogError> {
        self.check_online()?;
        let from = from.max(self.log_start_offset);
        for segment in self.segments.iter().filter(|segment| segment.next_offset > from) {
            let mut position = 0u32;
            while position < segment.size_bytes {
                let bytes =
                    storage.read_at(&segment.log_path, u64::from(position), BATCH_HEADER_BYTES)?;
                let header =
                    BatchHeader::parse(&bytes).map_err(|error| LogError::CorruptStoredBatch {
                        offset: segment.base_offset,
                        detail: error.to_string(),
                    })?;
                if header.last_offset() >= from {
                    visit(&header);
                }
                position += header.size_bytes() as u32;
            }
        }
        Ok(())
    }

    /// The index of the segment holding `offset`, which lies in `log_start..log_end`.
    fn segment_index_for(&self, offset: i64) -> usize {
        let after = self.segments.partition_point(|segment| segment.base_offset <= offset);
        let index = after.checked_sub(1).expect("offset at or above the first segment");
        assert!(self.segments[index].next_offset > offset);
        index
    }

    /// ListOffsets by timestamp: the first offset whose record timestamp is at least
    /// `timestamp`, with that timestamp. `None` when every record is older.
    /// For compressed batches the answer is the batch's first offset and largest timestamp.
    pub fn offset_for_timestamp<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        timestamp: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        self.check_online()?;
        let Some(segment) = self.segments.iter().find(|segment| segment.max_timestamp >= timestamp)
        else {
            return Ok(None);
        };
        let path = segment_path(&self.dir, segment.base_offset, LOG_SUFFIX);
        let start_relative =
            segment.time_index.lookup_before(timestamp).map_or(0, |entry| entry.relative_offset);
        let mut position = segment.index.lookup(start_relative).map_or(0, |entry| entry.position);
        let base_offset = segment.base_offset;
        let size_bytes = segment.size_bytes;
        while position < size_bytes {
            let header_bytes = storage.read_at(&path, u64::from(position), BATCH_HEADER_BYTES)?;
            let header = BatchHeader::parse(&header_bytes).map_err(|error| {
                LogError::CorruptStoredBatch { offset: base_offset, detail: error.to_string() }
            })?;
            if header.max_timestamp >= timestamp {
                let found =
                    self.first_record_at_or_after(storage, &path, position, &header, timestamp)?;
                let offset = found.0.max(self.log_start_offset);
                return Ok(Some((offset, found.1)));
            }
            position += header.size_bytes() as u32;
        }
        Ok(None)
    }

    fn first_record_at_or_after<S: Storage + ?Sized>(
        &self,
        storage: &mut S,
        path: &str,
        position: u32,
        header: &BatchHeader,
        timestamp: i64,
    ) -> Result<(i64, i64), LogError> {
        let fallback = (header.base_offset, header.max_timestamp);
        if header.compression() != Compression::None || header.is_log_append_time() {
            return Ok(fallback);
        }
        let batch = storage.read_at(path, u64::from(position), header.size_bytes())?;
        for record in Records::new(header, &batch[BATCH_HEADER_BYTES..]) {
            let Ok(record) = record else { return Ok(fallback) };
            let record_timestamp = header.base_timestamp.wrapping_add(record.timestamp_delta);
            if record_timestamp >= timestamp {
                return Ok((header.base_offset + i64::from(record.offset_delta), record_timestamp));
            }
        }
        Ok(fallback)
    }

    /// Names the files to sync so that everything appended so far becomes durable, or `None`
    /// when it already is. Appends made after this call are not covered by it.
    pub fn sync_request(&mut self) -> Option<SyncRequest> {
        if !self.needs_sync() {
            return None;
        }
        let offset = self.log_end_offset();
        let files: Vec<String> = std::mem::take(&mut self.unsynced_files).into_iter().collect();
        for file in &files {
            *self.syncing_files.entry(file.clone()).or_default() += 1;
        }
        Some(SyncRequest { files, offset, truncations: self.truncations })
    }

    /// Whether [`Log::sync_request`] would ask for anything: the log is online and has
    /// unsynced files or records above its recovery point.
    pub fn needs_sync(&self) -> bool {
        self.offline.is_none()
            && !(self.unsynced_files.is_empty() && self.recovery_point == self.log_end_offset())
    }

    /// Reports the outcome of a [`SyncRequest`]. On success the recovery point advances to the
    /// request's offset (unless a truncation intervened); on failure the log goes offline.
    pub fn sync_completed(
        &mut self,
        request: SyncRequest,
        result: Result<(), StorageError>,
    ) -> Result<i64, LogError> {
        for file in &request.files {
            if let Some(count) = self.syncing_files.get_mut(file) {
                *count -= 1;
                if *count == 0 {
                    self.syncing_files.remove(file);
                }
            }
        }
        if let Err(error) = result {
            return self.fail(error);
        }
        self.check_online()?;
        // A request made before a truncation, or for an earlier incarnation of this log (beyond
        // its end), proves nothing about the bytes there now.
        let current =
            request.truncations == self.truncations && request.offset <= self.log_end_offset();
        if current && request.offset > self.recovery_point {
            self.recovery_point = request.offset;
        }
        Ok(self.recovery_point)
    }

    /// Syncs everything now: [`Log::sync_request`], each file, [`Log::sync_completed`].
    /// Files that a sync request still in flight has taken are synced too: until it completes
    /// their bytes are not known durable, and this call vouches for everything below the end.
    /// Returns the durable offset.
    pub fn sync<S: Storage + ?Sized>(&mut self, storage: &mut S) -> Result<i64, LogError> {
        self.check_online()?;
        let in_flight: Vec<String> = self.syncing_files.keys().cloned().collect();
        let Some(request) = self.sync_request() else { return Ok(self.recovery_point) };
        let result =
            sync_files(storage, &in_flight).and_then(|()| sync_files(storage, &request.files));
        self.sync_completed(request, result)
    }

    /// Removes every record at or above `offset` (replication's truncation), at batch
    /// granularity: a batch holding `offset` is removed whole. The cut is synced before
    /// returning, so a crash can never bring the removed records back.
    pub fn truncate_to<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        offset: i64,
        wall_ms: i64,
    ) -> Result<(), LogError> {
        self.check_online()?;
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        self.read_hint = None;
        let first_base = self.segments.front().expect("segment").base_offset;
        if offset <= first_base || offset < self.log_start_offset {
            return self.truncate_fully_and_start_at(storage, offset.max(0), wall_ms);
        }
        self.truncations += 1;
        // What is appended from here on is dirty, whatever was compacted before.
        self.compacted_through = self.compacted_through.min(offset);
        while self.active().base_offset >= offset {
            let base = self.segments.pop_back().expect("segment").base_offset;
            if let Err(error) = self.remove_segment_files(storage, base) {
                return self.fail(error);
            }
        }
        if let Err(error) = self.truncate_active_to(storage, offset) {
            return self.fail(error);
        }
        if self.log_end_offset() < self.log_start_offset {
            // The batch holding `offset` began below a DeleteRecords start: nothing at or above
            // the start survives, so the log restarts empty there.
            return self.truncate_fully_and_start_at(storage, self.log_start_offset, wall_ms);
        }
        let log_end = self.log_end_offset();
        // The cut is at a batch boundary at or below `offset`.
        self.compacted_through = self.compacted_through.min(log_end);
        self.recovery_point = self.recovery_point.min(log_end);
        let epochs_before = self.leader_epochs.len();
        self.leader_epochs.retain(|&(_, start_offset)| start_offset < log_end);
        if self.leader_epochs.len() != epochs_before {
            if let Err(error) = self.write_epochs(storage) {
                return self.fail(error);
            }
        }
        self.check_invariants();
        Ok(())
    }

    fn truncate_active_to<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        offset: i64,
    ) -> Result<(), StorageError> {
        let mut segment = self.segments.pop_back().expect("segment");
        let path = segment_path(&self.dir, segment.base_offset, LOG_SUFFIX);
        let mode = ScanMode {
            verify_crc: false,
            stop_at_offset: Some(offset),
            trusted_below: i64::MAX,
            index_interval_bytes: self.config.index_interval_bytes,
        };
        let old_size = u64::from(segment.size_bytes);
        segment.scan(storage, &path, old_size, mode, &[], &mut Vec::new())?;
        storage.truncate(&path, u64::from(segment.size_bytes))?;
        storage.sync(&path)?;
        self.write_index_files(storage, &segment)?;
        self.segments.push_back(segment);
        Ok(())
    }

    /// Deletes every segment and starts an empty log at `offset` (a follower far behind a
    /// leader whose log starts later, or a checkpointed start beyond the surviving data).
    fn truncate_fully_and_start_at<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        offset: i64,
        wall_ms: i64,
    ) -> Result<(), LogError> {
        self.truncations += 1;
        self.read_hint = None;
        self.compacted_through = 0;
        while let Some(segment) = self.segments.pop_back() {
            if let Err(error) = self.remove_segment_files(storage, segment.base_offset) {
                return self.fail(error);
            }
        }
        self.create_segment(storage, offset, wall_ms)?;
        self.log_start_offset = offset;
        self.recovery_point = offset;
        self.leader_epochs.clear();
        if let Err(error) = self.write_epochs(storage) {
            return self.fail(error);
        }
        self.check_invariants();
        Ok(())
    }

    /// DeleteRecords: moves the log start offset up to `offset` and deletes segments wholly
    /// below it. `offset` may be at most the log end.
    pub fn advance_log_start_offset<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        offset: i64,
    ) -> Result<(), LogError> {
        self.check_online()?;
        let log_end = self.log_end_offset();
        if offset > log_end || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: log_end,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(());
        }
        self.log_start_offset = offset;
        self.delete_leading_segments(storage, |segment, _| segment.next_offset <= offset)?;
        Ok(())
    }

    /// Deletes old segments by `retention.ms` (a segment's largest timestamp older than
    /// `wall_ms - retention.ms`) and `retention.bytes`. Never deletes the active segment.
    /// Returns the number of segments deleted.
    pub fn apply_retention<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        wall_ms: i64,
    ) -> Result<usize, LogError> {
        self.check_online()?;
        if !self.config.cleanup_policy.deletes() {
            return Ok(0);
        }
        let due = self.retention_due(wall_ms);
        self.delete_leading_segments(storage, |_, deleted| deleted < due)
    }

    /// How many leading segments [`Log::apply_retention`] would delete now: those whose
    /// largest timestamp is older than `wall_ms - retention.ms`, then as many more as keep
    /// the log at `retention.bytes` or above; never the active segment. 0 when offline.
    pub fn retention_due(&self, wall_ms: i64) -> usize {
        let config = self.config;
        if self.offline.is_some() || !config.cleanup_policy.deletes() {
            return 0;
        }
        let deletable = self.segments.len() - 1;
        let mut due = 0;
        if config.retention_ms >= 0 {
            let cutoff = wall_ms.saturating_sub(config.retention_ms);
            while due < deletable && self.segments[due].max_timestamp < cutoff {
                due += 1;
            }
        }
        if config.retention_bytes >= 0 {
            let kept: i64 =
                self.segments.iter().skip(due).map(|segment| i64::from(segment.size_bytes)).sum();
            let mut excess = kept - config.retention_bytes;
            while due < deletable && excess - i64::from(self.segments[due].size_bytes) >= 0 {
                excess -= i64::from(self.segments[due].size_bytes);
                due += 1;
            }
        }
        due
    }

    /// Deletes segments from the front while `predicate` holds, never the active one, and
    /// moves the log start offset and the epoch cache forward to match.
    fn delete_leading_segments<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        mut predicate: impl FnMut(&Segment, usize) -> bool,
    ) -> Result<usize, LogError> {
        let mut deleted = 0;
        while self.segments.len() > 1 && predicate(&self.segments[0], deleted) {
            let base = self.segments[0].base_offset;
            if let Err(error) = self.remove_segment_files(storage, base) {
                return self.fail(error);
            }
            self.segments.pop_front();
            deleted += 1;
        }
        let first_base = self.segments[0].base_offset;
        self.log_start_offset = self.log_start_offset.max(first_base);
        self.recovery_point = self.recovery_point.max(self.log_start_offset);
        let start = self.log_start_offset;
        let keep_from =
            self.leader_epochs.partition_point(|&(_, begin)| begin <= start).saturating_sub(1);
        if keep_from > 0 || self.leader_epochs.first().is_some_and(|&(_, begin)| begin < start) {
            self.leader_epochs.drain(..keep_from);
            if let Some(first) = self.leader_epochs.first_mut() {
                first.1 = first.1.max(start);
            }
            if let Err(error) = self.write_epochs(storage) {
                return self.fail(error);
            }
        }
        self.check_invariants();
        Ok(deleted)
    }

    fn remove_segment_files<S: Storage + ?Sized>(
        &mut self,
        storage: &mut S,
        base: i64,
    ) -> Result<(), StorageError> {
        // The .log goes first: a crash between removals leaves orphan indexes, which open
        // deletes, never a .log without the knowledge that it was being removed.
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = segment_path(&self.dir, base, suffix);
            self.unsynced_files.remove(&path);
            match storage.remove(&path) {
                Err(error) if error.kind != StorageErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }

    fn write_epochs<S: Storage + ?Sized>(&mut self, storage: &mut S) -> Result<(), StorageError> {
        let path = format!("{}/{LEADER_EPOCH_CHECKPOINT}", self.dir);
        storage::write_file_atomic(storage, &path, &checkpoint::encode_epochs(&self.leader_epochs))
    }

    /// Clean shutdown: writes the active segment's index files and syncs everything. The
    /// caller then checkpoints the recovery point and marks the shutdown clean.
    pub fn close<S: Storage + ?Sized>(&mut self, storage: &mut S) -> Result<i64, LogError> {
        self.check_online()?;
        // The final time-index entry makes the reopened segment's largest timestamp exact.
        let mut active = self.active().clone();
        active.seal_time_index();
        if let Err(error) = self.write_index_files(storage, &active) {
            return self.fail(error);
        }
        *self.segments.back_mut().expect("active") = active;
        self.sync(storage)
    }

    /// Deletes every file of this log and its directory (DeleteTopics).
    pub fn delete<S: Storage + ?Sized>(mut self, storage: &mut S) -> Result<(), StorageError> {
        for name in storage.list(&self.dir)? {
            storage.remove(&format!("{}/{name}", self.dir))?;
        }
        self.unsynced_files.clear();
        storage.remove_dir(&self.dir)
    }
}

/// Syncs each file; a file removed since the request was made needs no sync.
pub fn sync_files<S: Storage + ?Sized>(
    storage: &mut S,
    files: &[String],
) -> Result<(), StorageError> {
    for file in files {
        match storage.sync(file) {
            Err(error) if error.kind != StorageErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

fn read_optional<S: Storage + ?Sized>(
    storage: &mut S,
    path: &str,
    bytes_max: usize,
) -> Result<Option<Bytes>, StorageError> {
    match storage::read_small_file(storage, path, bytes_max) {
        Ok(found) => Ok(found),
        // An index larger than allowed is damaged: rebuild it rather than fail the open.
        Err(error) if error.kind == StorageErrorKind::Io && error.detail.contains("allowed") => {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

fn read_epochs<S: Storage + ?Sized>(
    storage: &mut S,
    dir: &str,
) -> Result<Vec<(i32, i64)>, StorageError> {
    let path = format!("{dir}/{LEADER_EPOCH_CHECKPOINT}");
    let Some(bytes) = storage::read_small_file(storage, &path, CHECKPOINT_FILE_BYTES_MAX)? else {
        return Ok(Vec::new());
    };
    // A damaged checkpoint is rebuilt from the batches' epochs by the recovery scan.
    let mut epochs = checkpoint::decode_epochs(&bytes).unwrap_or_default();
    let increasing = epochs.windows(2).all(|pair| pair[0].0 < pair[1].0 && pair[0].1 <= pair[1].1);
    if !increasing || epochs.len() > LEADER_EPOCH_ENTRIES_MAX {
        epochs.clear();
    }
    Ok(epochs)
}

/// Removes index files without a `.log` and leftover temporary files.
fn remove_strays<S: Storage + ?Sized>(
    storage: &mut S,
    dir: &str,
    names: &[String],
    bases: &[i64],
) -> Result<(), StorageError> {
    for name in names {
        let orphan_index = [INDEX_SUFFIX, TIME_INDEX_SUFFIX].iter().any(|suffix| {
            parse_segment_name(name, suffix).is_some_and(|base| bases.binary_search(&base).is_err())
        });
        if orphan_index || name.ends_with(".tmp") {
            storage.remove(&format!("{dir}/{name}"))?;
        }
    }
    Ok(())
}

/// The offset after the last whole batch in `bytes` (verified batches), and how many records
/// they declare.
pub(crate) fn batch_span(bytes: &[u8]) -> (i64, i64) {
    let mut position = 0;
    let mut next = i64::MIN;
    let mut records = 0i64;
    while let Ok(header) = BatchHeader::parse(&bytes[position..]) {
        if position + header.size_bytes() > bytes.len() {
            break;
        }
        next = header.next_offset();
        records += i64::from(header.records_count.max(0));
        position += header.size_bytes();
    }
    (next, records)
}

/// Walks batch headers (no CRC) from `position` to `size_bytes`, expecting the first batch at
/// `expected_offset`. Returns what it found at the end, or `None` if the structure breaks.
fn walk_headers<S: Storage + ?Sized>(
    storage: &mut S,
    path: &str,
    mut position: u32,
    size_bytes: u32,
    mut expected_offset: i64,
) -> Result<Option<Walked>, StorageError> {
    let mut max_timestamp = -1;
    while position < size_bytes {
        let header_bytes = storage.read_at(path, u64::from(position), BATCH_HEADER_BYTES)?;
        let Ok(header) = BatchHeader::parse(&header_bytes) else { return Ok(None) };
        let end = u64::from(position) + header.size_bytes() as u64;
        if header.base_offset != expected_offset
            || header.last_offset_delta < 0
            || end > u64::from(size_bytes)
        {
            return Ok(None);
        }
        expected_offset = header.next_offset();
        max_timestamp = max_timestamp.max(header.max_timestamp);
        position = end as u32;
    }
    Ok(Some(Walked { next_offset: expected_offset, max_timestamp }))
}

/// What [`walk_headers`] found: the offset after the last batch, and the largest batch
/// timestamp it passed (-1 if none).
struct Walked {
    next_offset: i64,
    max_timestamp: i64,
}

/// Reads the whole batches to return for a fetch: from the batch holding `offset` (scanning
/// forward from `scan_from`), through batches starting below `upper`, within `max_bytes`
/// unless the first batch alone is larger. One read normally covers both the scan and the
/// answer, which is returned as a slice of it.
fn read_range<S: Storage + ?Sized>(
    storage: &mut S,
    path: &str,
    scan_from: u32,
    size_bytes: u32,
    offset: i64,
    upper: i64,
    max_bytes: usize,
) -> Result<(Bytes, u32), StorageError> {
    let mut chunk = Bytes::new();
    let mut chunk_start = scan_from;
    let mut position = scan_from;
    let mut start = None;
    while position < size_bytes {
        let mut in_chunk = (position - chunk_start) as usize;
        if chunk.len() < in_chunk + BATCH_HEADER_BYTES {
            // Keep the answer's first batch in the new chunk, so it stays one slice.
            let from = start.unwrap_or(position);
            let want = (position - from) as usize + max_bytes.saturating_add(SCAN_CHUNK_BYTES);
            let want = want.min((size_bytes - from) as usize).min(READ_BYTES_MAX);
            chunk = storage.read_at(path, u64::from(from), want)?;
            chunk_start = from;
            in_chunk = (position - from) as usize;
            if chunk.len() < in_chunk + BATCH_HEADER_BYTES {
                break;
            }
        }
        let Ok(header) = BatchHeader::parse(&chunk[in_chunk..]) else { break };
        let size = header.size_bytes() as u32;
        if u64::from(position) + u64::from(size) > u64::from(size_bytes)
            || header.base_offset >= upper
        {
            break;
        }
        match start {
            None if header.next_offset() <= offset => {}
            None => start = Some(position),
            Some(first) if (position - first + size) as usize > max_bytes => break,
            Some(_) => {}
        }
        position += size;
    }
    let Some(start) = start else { return Ok((Bytes::new(), scan_from)) };
    let (from, to) = ((start - chunk_start) as usize, (position - chunk_start) as usize);
    if to <= chunk.len() && start >= chunk_start {
        return Ok((chunk.slice(from..to), start));
    }
    Ok((storage.read_at(path, u64::from(start), (position - start) as usize)?, start))
}

/// Keeps the batches of `bytes` up to the first that fails its CRC; an error if the very
/// first one does (FAULTS 8: a damaged batch is never served).
fn verified_prefix(bytes: Bytes) -> Result<Bytes, LogError> {
    let mut position = 0;
    while position < bytes.len() {
        let header = BatchHeader::parse(&bytes[position..]);
        let checked = header.and_then(|header| {
            let end = position + header.size_bytes();
            let batch = bytes.get(position..end).ok_or(BatchError::Truncated {
                needed: header.size_bytes(),
                available: bytes.len() - position,
            })?;
            record_batch::validate_stored(batch).map(|_| end)
        });
        match checked {
            Ok(end) => position = end,
            Err(error) if position == 0 => {
                let offset = BatchHeader::parse(&bytes).map_or(-1, |header| header.base_offset);
                return Err(LogError::CorruptStoredBatch { offset, detail: error.to_string() });
            }
            Err(_) => break,
        }
    }
    Ok(bytes.slice(..position))
}

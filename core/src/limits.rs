//! Every bound in Sluice, in one place.
//!
//! A limit is named `*_MAX` (or `*_MIN`) with its unit last. Anything that grows with input —
//! a queue, an index, a read, a scan — is checked against one of these, and the relations that
//! must hold between them are asserted at compile time below.

/// Bytes in a v2 record batch header (baseOffset .. recordsCount).
pub const BATCH_HEADER_BYTES: usize = 61;

/// Largest record batch the log accepts, whatever a topic's `max.message.bytes` says.
/// Kafka's default `message.max.bytes` is 1 048 588; we allow topics to raise it to 64 MiB.
pub const BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Largest segment file (`segment.bytes`). Index positions are u32, and Kafka caps it at i32::MAX.
pub const SEGMENT_BYTES_MAX: u32 = i32::MAX as u32;

/// Smallest `segment.bytes` accepted: a segment must hold at least one maximal batch header.
pub const SEGMENT_BYTES_MIN: u32 = 1024;

/// Largest offset index or time index per segment (`segment.index.bytes`), as Kafka's default.
pub const SEGMENT_INDEX_BYTES_MAX: u32 = 10 * 1024 * 1024;

/// Bytes in one `.index` entry: relative offset u32, file position u32.
pub const OFFSET_INDEX_ENTRY_BYTES: usize = 8;

/// Bytes in one `.timeindex` entry: timestamp i64, relative offset u32.
pub const TIME_INDEX_ENTRY_BYTES: usize = 12;

/// Memory the log cleaner's key map may use per compaction pass (keys plus per-entry
/// overhead). A full map only shortens the pass: records past its end are kept.
pub const COMPACTION_MAP_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Largest read the log performs for one fetch of one partition.
pub const READ_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Bytes read per step while scanning batch headers (recovery, index lookups, truncation).
pub const SCAN_CHUNK_BYTES: usize = 64 * 1024;

/// Segments one partition may hold. Beyond this, appends roll no further and fail, which keeps
/// the in-memory segment table bounded; retention keeps real logs far below it.
pub const SEGMENTS_PER_LOG_MAX: usize = 1 << 20;

/// Partitions one log directory may hold.
pub const PARTITIONS_PER_LOG_DIR_MAX: usize = 1 << 16;

/// Entries in a leader-epoch checkpoint. Each leader change adds one.
pub const LEADER_EPOCH_ENTRIES_MAX: usize = 1 << 16;

/// Bytes of any checkpoint file the log reads back: room for a line per partition of a full
/// log directory, each with the longest topic name (checked below), so that a broker never
/// writes a checkpoint it cannot read at its next start.
pub const CHECKPOINT_FILE_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Most bytes of one checkpoint line: topic name, partition, offset (an i64), separators.
const CHECKPOINT_LINE_BYTES_MAX: usize = TOPIC_NAME_BYTES_MAX + 1 + 11 + 1 + 20 + 1;

const _: () = assert!(
    PARTITIONS_PER_LOG_DIR_MAX * CHECKPOINT_LINE_BYTES_MAX + 64 <= CHECKPOINT_FILE_BYTES_MAX
);

/// Open file handles the file storage keeps cached.
pub const OPEN_FILES_MAX: usize = 1024;

/// Longest topic name, as Kafka's.
pub const TOPIC_NAME_BYTES_MAX: usize = 249;

const _: () = assert!(BATCH_HEADER_BYTES < SEGMENT_BYTES_MIN as usize);
const _: () = assert!(BATCH_BYTES_MAX <= READ_BYTES_MAX);
const _: () = assert!(SCAN_CHUNK_BYTES >= BATCH_HEADER_BYTES);
const _: () = assert!(SEGMENT_INDEX_BYTES_MAX as usize % OFFSET_INDEX_ENTRY_BYTES == 0);
const _: () = assert!(SEGMENT_INDEX_BYTES_MAX as usize % TIME_INDEX_ENTRY_BYTES != usize::MAX);

/// Largest decompressed record section the broker validates per batch.
pub const BATCH_DECOMPRESSED_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Responses one connection may have queued (requests in flight) before the node closes it.
pub const INFLIGHT_REQUESTS_PER_CONNECTION_MAX: usize = 1024;

/// Client connections one node tracks.
pub const CONNECTIONS_MAX: usize = 10_000;

/// Fetch requests parked waiting for data (long poll), over all connections.
pub const PARKED_FETCHES_MAX: usize = 10_000;

/// Topics one node holds.
pub const TOPICS_MAX: usize = 10_000;

/// Partitions one topic may have.
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 10_000;

/// Longest a fetch may wait (`max_wait_ms`), whatever the client asks.
pub const FETCH_WAIT_MS_MAX: u64 = 60_000;
/// Most record bytes one Fetch answer holds, whatever its `max_bytes` asks (Kafka's broker
/// `fetch.max.bytes` default, 55 MiB); KIP-74's first batch may still exceed it.
pub const FETCH_RESPONSE_BYTES_MAX: usize = 57_671_680;

/// Outputs queued inside the node before the driver drains them.
pub const OUTPUTS_QUEUED_MAX: usize = 1 << 20;

/// Batches remembered per idempotent producer and partition, as Kafka does: a retried batch
/// among the last five is answered with its original offset.
pub const PRODUCER_BATCHES_RETAINED_MAX: usize = 5;

/// Producer ids reserved per persisted allocation.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// Idempotent producers tracked per partition; the least recently used is forgotten beyond.
pub const PRODUCERS_PER_PARTITION_MAX: usize = 100_000;

/// Producers one DescribeProducers answer lists, over all its partitions (about 40 bytes each
/// on the wire): the partitions past it are answered with an error asking for them apart.
pub const DESCRIBED_PRODUCERS_MAX: usize = 2 * PRODUCERS_PER_PARTITION_MAX;

/// Consumer groups one coordinator holds (including groups kept only for their offsets).
pub const GROUPS_MAX: usize = 10_000;

/// Members (joined or waiting to rejoin with an assigned id) one consumer group may have;
/// Kafka's `group.max.size` is unbounded by default. A join beyond gets GROUP_MAX_SIZE_REACHED.
pub const GROUP_MEMBERS_MAX: usize = 1_000;

/// Committed offsets (topic-partitions) one consumer group may hold.
pub const OFFSETS_PER_GROUP_MAX: usize = 100_000;

//! What the simulated clients did and saw, in order: the only input of the checkers besides
//! the node's outputs.
//!
//! Most operations are completions. Group operations whose order matters to a checker are
//! recorded twice, Jepsen-style: once when the request is sent (`CommitSent`,
//! `OffsetFetchSent`) and once when its answer arrives (`CommitAnswered`, `OffsetFetched`), so
//! that "acknowledged before that fetch was sent" is a comparison of history indexes. An
//! invocation without a completion was lost (timeout or broken connection) and may or may not
//! have taken effect.

use std::collections::{BTreeMap, BTreeSet};

/// One operation and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A produce was acknowledged: `values[i]` is at `base_offset + i`.
    ProduceAcked {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// acks of the request (-1 or 1).
        acks: i16,
        /// Whether the producer is idempotent.
        idempotent: bool,
        /// Offset of the first value.
        base_offset: i64,
        /// The values, in order.
        values: Vec<String>,
        /// The timestamp (CreateTime) of every record of the batch.
        timestamp_ms: i64,
        /// The simulated ms at which the producer made the batch (no later than its append).
        made: u64,
        /// The answer's `log_append_time_ms`: the append's wall time for a LogAppendTime
        /// topic (for a retry answered as a duplicate, the original's), else -1.
        log_append_time_ms: i64,
        /// For an idempotent batch: (producer id, epoch, sequence of its last record).
        producer: Option<(i64, i16, i32)>,
    },
    /// A batch in a plain reader's fetch answer, noted only in seeds whose topic stamps
    /// batches with their append time or stores them with a codec of its own, or whose
    /// producers flag their batches LogAppendTime.
    BatchSeen {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// The batch's base offset.
        base_offset: i64,
        /// Its record count (compaction may leave a batch empty).
        records: i32,
        /// Whether its timestamp type is LogAppendTime.
        log_append_time: bool,
        /// Its `maxTimestamp`.
        max_timestamp: i64,
        /// The largest of its records' own timestamps (`baseTimestamp` plus each
        /// `timestampDelta`), or -1 when it holds none.
        records_max_timestamp: i64,
        /// Its codec.
        codec: sluice_core::protocol::record_batch::Compression,
    },
    /// A producer that notes sizes ([`crate::client::Client::notes_sizes`]) sent a produce
    /// request: its number among the client's requests, and (partition, batch number, bytes)
    /// of each batch in it. Any of them may be appended, once or (unless idempotent) again.
    ProduceSent {
        /// Client id.
        client: u32,
        /// The request's number among the client's produce requests.
        request: u64,
        /// (partition, batch number, bytes) of each batch.
        parts: Vec<(i32, u32, u32)>,
    },
    /// The answer to a noted produce request came: whatever it appended was appended by then.
    ProduceAnswered {
        /// Client id.
        client: u32,
        /// The request's number among the client's produce requests.
        request: u64,
    },
    /// A produce failed with a Kafka error code (the client retries).
    ProduceFailed {
        /// Client id.
        client: u32,
        /// The error code.
        error_code: i16,
    },
    /// An idempotent producer got a producer id and epoch (first, or after a KIP-360 bump).
    ProducerInitialised {
        /// Client id.
        client: u32,
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        producer_epoch: i16,
    },
    /// A request timed out or its connection broke (the client retries).
    RequestLost {
        /// Client id.
        client: u32,
    },
    /// A consumer read a record.
    Consumed {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// Value.
        value: String,
    },
    /// A consumer's position was reset by an error (it never should be without retention).
    PositionReset {
        /// Client id.
        client: u32,
        /// The error code.
        error_code: i16,
    },
    /// A plain reader's fetch from `position` was not answered as asked: another partition,
    /// its partition twice, or a first batch that ends before `position`.
    FetchMisanswered {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// The fetch offset it asked for.
        position: i64,
        /// What was wrong.
        fault: String,
    },
    /// A reader whose position was out of range asked for the earliest offset and moved
    /// from `from` to `to`, which it reads on from (`auto.offset.reset=earliest`).
    ResetToEarliest {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// Its position before.
        from: i64,
        /// The earliest offset the broker answered.
        to: i64,
    },
    /// A purging consumer's DeleteRecords up to `offset` (its position when it asked) was
    /// answered: `low_watermark` is the partition's new log start when `error_code` is 0.
    RecordsDeleted {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// The offset below which records were to be deleted.
        offset: i64,
        /// The error code.
        error_code: i16,
        /// The low watermark the answer reported.
        low_watermark: i64,
    },
    /// A purging consumer's Fetch answer, after its first acknowledged DeleteRecords, showed
    /// the partition's log start: recorded where it differs from the last one it saw.
    LogStartSeen {
        /// Client id.
        client: u32,
        /// Partition.
        partition: i32,
        /// The log start offset the answer reported.
        log_start: i64,
    },
    /// The broker process started again (after a power loss or a process restart).
    NodeRestarted,
    /// A group member's JoinGroup succeeded.
    GroupJoined {
        /// Client id.
        client: u32,
        /// The broker incarnation that answered (1 until the first restart, then one more per
        /// start): an answer sent just before a restart can arrive just after it.
        incarnation: u64,
        /// How many times that incarnation had loaded groups again from `__consumer_offsets`
        /// when it answered (`NodeStats::offsets_reloads`): a reload, like a restart, may
        /// bring a group back at the last generation its log holds.
        reloads: u64,
        /// The member id the coordinator gave it.
        member_id: String,
        /// The generation of the join.
        generation: i32,
        /// Whether it is the leader (it computes the assignment).
        leader: bool,
        /// The leader's member id: with the generation, it names one generation of one
        /// incarnation of the group (a group deleted when its offsets expired starts again at
        /// generation 1, under a leader with a new member id).
        leader_id: String,
    },
    /// A SyncGroup answer gave a member its partitions for `generation`.
    GroupAssigned {
        /// Client id.
        client: u32,
        /// The broker incarnation that answered.
        incarnation: u64,
        /// Its reloads of group state when it answered (see `GroupJoined`).
        reloads: u64,
        /// Member id.
        member_id: String,
        /// Generation the assignment belongs to.
        generation: i32,
        /// The leader's member id in that generation, as its JoinGroup answer gave it.
        leader_id: String,
        /// Partitions of the workload topic, ascending.
        partitions: Vec<i32>,
    },
    /// A group consumer read a record.
    GroupConsumed {
        /// Client id.
        client: u32,
        /// Generation of the assignment it read under.
        generation: i32,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// Value.
        value: String,
    },
    /// An OffsetCommit was sent.
    CommitSent {
        /// Client id.
        client: u32,
        /// The client's number for this commit.
        commit: u32,
        /// Generation it was sent with.
        generation: i32,
        /// (partition, offset) committed.
        offsets: Vec<(i32, i64)>,
    },
    /// An OffsetCommit was answered: (partition, error code); 0 acknowledges that partition.
    CommitAnswered {
        /// Client id.
        client: u32,
        /// The client's number for the commit.
        commit: u32,
        /// (partition, error code).
        errors: Vec<(i32, i16)>,
    },
    /// A group member's Heartbeat or SyncGroup sent at `sent` was answered as to a member:
    /// the coordinator had it in the group at some moment between then and now.
    MemberPresent {
        /// Client id.
        client: u32,
        /// The simulated ms the request was sent.
        sent: u64,
        /// Whether the answer shows a membership the coordinator had stored: a SyncGroup
        /// answer goes out once its generation's record is durable, so that presence outlives
        /// a restart; a heartbeat's may be of a generation never stored.
        stored: bool,
    },
    /// An OffsetFetch was sent.
    OffsetFetchSent {
        /// Client id.
        client: u32,
        /// The client's number for this fetch.
        fetch: u32,
    },
    /// An OffsetFetch was answered without error: (partition, committed offset or -1).
    OffsetFetched {
        /// Client id.
        client: u32,
        /// The client's number for the fetch.
        fetch: u32,
        /// (partition, committed offset), -1 where nothing is committed.
        offsets: Vec<(i32, i64)>,
    },
    /// An observer's OffsetFetch (v8, of several groups) was answered without error for
    /// `group`: (partition, committed offset or -1) of the partitions answered without error.
    OffsetsObserved {
        /// Client id.
        client: u32,
        /// The client's number for the fetch (of its `OffsetFetchSent`).
        fetch: u32,
        /// The broker incarnation that answered.
        incarnation: u64,
        /// Group id.
        group: &'static str,
        /// (partition, committed offset), -1 where nothing is committed.
        offsets: Vec<(i32, i64)>,
    },
    /// The churner read a record of its topic while working on `incarnation`.
    ChurnConsumed {
        /// Client id.
        client: u32,
        /// The incarnation of the topic it created last.
        incarnation: u32,
        /// Offset.
        offset: i64,
        /// Value (`d<incarnation it was produced to>-r<n>`).
        value: String,
    },
    /// The churner's DeleteTopics of `incarnation` was acknowledged (or, retried, answered
    /// UNKNOWN_TOPIC_OR_PARTITION).
    ChurnDeleted {
        /// Client id.
        client: u32,
        /// The incarnation deleted.
        incarnation: u32,
    },
    /// The churner sent a DeleteTopics of `incarnation` (again, if an answer was lost).
    ChurnDeleteSent {
        /// Client id.
        client: u32,
        /// The incarnation it deletes.
        incarnation: u32,
    },
    /// A racer's record was acknowledged (see [`crate::race`]).
    RaceAcked {
        /// Client id.
        client: u32,
        /// Its value.
        value: String,
    },
    /// A churner's OffsetCommit of its position in `incarnation` lost its answer: it may be
    /// stored later, even on a topic made again.
    ChurnCommitLost {
        /// Client id.
        client: u32,
        /// The incarnation whose position it committed (metadata `d<incarnation>`).
        incarnation: u32,
    },
    /// The churner's OffsetDelete of its group's offset of `incarnation` (or its DeleteGroups
    /// of the whole group, when `group`) was acknowledged (or answered GROUP_ID_NOT_FOUND).
    ChurnOffsetsForgotten {
        /// Client id.
        client: u32,
        /// The incarnation whose offset it deleted.
        incarnation: u32,
        /// Whether it deleted the group (DeleteGroups) rather than the offset.
        group: bool,
    },
    /// After the deletion of incarnation `deleted`, the churner's group had this committed
    /// offset of its topic's partition 0 (offset, metadata), or none.
    ChurnOffsetProbed {
        /// Client id.
        client: u32,
        /// The incarnation just deleted.
        deleted: u32,
        /// The committed offset and its metadata, if any.
        committed: Option<(i64, String)>,
    },
    /// A churner's produce of `value` lost its answer: it may reach the broker later, even
    /// after the topic was deleted and made again.
    ChurnProduceLost {
        /// Client id.
        client: u32,
        /// The value.
        value: String,
    },
    /// A meddler's attempt on `__consumer_offsets` was answered (see [`crate::meddle`]).
    Meddled {
        /// Client id.
        client: u32,
        /// What it tried.
        meddle: crate::meddle::Meddle,
        /// The answer's error code (-1: no answer for the topic).
        error_code: i16,
        /// For Metadata: the partitions the topic was said to have.
        partitions: i32,
        /// For Metadata: whether the topic was said to be internal.
        internal: bool,
    },
    /// A partition of `__consumer_offsets` went offline (an fsync or a write failed) in this
    /// broker incarnation; it stays so until the next start.
    OffsetsPartitionOffline {
        /// The partition.
        partition: i32,
        /// The broker incarnation.
        incarnation: u64,
    },
    /// An observer sent a ListGroups or DescribeGroups (its answer is the next `GroupsListed`
    /// or `GroupDescribed` of that client, unless it is lost). Its OffsetFetch requests go in
    /// as [`Operation::OffsetFetchSent`].
    ObserverAsked {
        /// Client id.
        client: u32,
    },
    /// An observer's ListGroups was answered.
    GroupsListed {
        /// Client id.
        client: u32,
        /// The broker incarnation that answered.
        incarnation: u64,
        /// The answer's error code.
        error_code: i16,
        /// (group id, state) of each group listed, in the answer's order.
        groups: Vec<(String, String)>,
    },
    /// An observer's DescribeGroups was answered for one group.
    GroupDescribed {
        /// Client id.
        client: u32,
        /// The broker incarnation that answered.
        incarnation: u64,
        /// Group id.
        group: String,
        /// The group's error code.
        error_code: i16,
        /// Its state.
        state: String,
        /// (member id, partitions of the workload topic its assignment holds; `None` if the
        /// assignment is not a consumer protocol assignment).
        members: Vec<(String, Option<Vec<i32>>)>,
    },
    /// A configurer sent IncrementalAlterConfigs setting the workload topic's `retention.ms`
    /// (its answer is the next `RetentionSetAnswered` of that client, unless it is lost).
    RetentionSet {
        /// Client id.
        client: u32,
        /// The value set; -1 keeps records forever.
        retention_ms: i64,
    },
    /// A configurer's IncrementalAlterConfigs was answered.
    RetentionSetAnswered {
        /// Client id.
        client: u32,
        /// The answer's error code for the topic.
        error_code: i16,
    },
    /// A configurer sent IncrementalAlterConfigs setting the workload topic's
    /// `retention.bytes` or `segment.ms` (its answer is the next `TopicConfigSetAnswered` of
    /// that client, unless it is lost).
    TopicConfigSet {
        /// Client id.
        client: u32,
        /// The setting's name.
        name: &'static str,
        /// The value set.
        value: i64,
    },
    /// A configurer's IncrementalAlterConfigs of a `TopicConfigSet` was answered.
    TopicConfigSetAnswered {
        /// Client id.
        client: u32,
        /// The answer's error code for the topic.
        error_code: i16,
    },
    /// A configurer sent DescribeConfigs of the workload topic's `retention.ms` (its answer is
    /// the next `RetentionRead` of that client, unless it is lost).
    RetentionAsked {
        /// Client id.
        client: u32,
    },
    /// A configurer's DescribeConfigs was answered.
    RetentionRead {
        /// Client id.
        client: u32,
        /// The answer's error code for the topic.
        error_code: i16,
        /// The value described, if the answer held one.
        retention_ms: Option<i64>,
    },
}

/// Every operation, in the order it completed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct History {
    /// Operations.
    pub operations: Vec<Operation>,
    /// The simulated ms at which each operation was recorded (`ticks[i]` for `operations[i]`).
    pub ticks: Vec<u64>,
    /// The current simulated ms, set by the engine before it delivers anything.
    pub now: u64,
    /// The broker incarnation (1, then one more per start) that sent the answer being
    /// delivered, set by the engine with `now`.
    pub answered_by: u64,
    /// The reloads of group state the answering incarnation had made when it sent the answer
    /// (`NodeStats::offsets_reloads`), set with `answered_by`.
    pub answered_reloads: u64,
    /// Per partition, the end of the acknowledged records (one past the highest acknowledged
    /// offset), kept up to date by `push` so that liveness checks need not rescan.
    acknowledged_end: Vec<i64>,
    /// The group of each group consumer that is not in [`crate::group::GROUP`].
    groups: BTreeMap<u32, &'static str>,
    /// Group consumers that are static members (`group.instance.id`).
    static_members: BTreeSet<u32>,
    /// (tick, wall ms) of each start of the node, in order: what bounds the clock its
    /// retention deletes by (see [`crate::checker::acknowledged_records_kept`]).
    pub opens: Vec<(u64, i64)>,
    /// The simulated wall clock, piece by piece, in tick order: (first tick, drift in ppm,
    /// offset in ms) from the start, each jump and the heal. The engine reads the wall clock
    /// from it ([`History::wall_at`]), so checkers can tell what the node read at any tick.
    pub wall_pieces: Vec<(u64, i64, i64)>,
}

impl History {
    /// The simulated wall clock at `tick`, by the piece that starts last at or before it.
    /// (Inputs the node was given at a piece's first tick but before it began read the
    /// piece before: see [`History::deletion_clock_range`].)
    pub fn wall_at(&self, tick: u64) -> i64 {
        let pieces = self.pieces();
        let piece = match pieces.last() {
            Some(&last) if last.0 <= tick => last,
            _ => pieces[pieces.partition_point(|&(from, _, _)| from <= tick).max(1) - 1],
        };
        wall_of(tick, piece)
    }

    /// The pieces of the wall clock; a history without any has one without drift.
    fn pieces(&self) -> &[(u64, i64, i64)] {
        const FLAT: &[(u64, i64, i64)] = &[(0, 0, 0)];
        if self.wall_pieces.is_empty() {
            FLAT
        } else {
            &self.wall_pieces
        }
    }

    /// The least and the greatest the node's deletion clock may have read at `tick`: the
    /// wall clock, never ahead of its reading at the node's latest start plus the time
    /// since (before any start: the wall clock). Where a piece of the wall clock or a start
    /// begins at `tick`, the readings before and after it both count.
    pub fn deletion_clock_range(&self, tick: u64) -> (i64, i64) {
        let pieces = self.pieces();
        let index = pieces.partition_point(|&(from, _, _)| from <= tick).max(1);
        let before = (pieces[index - 1].0 == tick && index >= 2).then(|| pieces[index - 2]);
        let walls = [Some(pieces[index - 1]), before];
        let bound = |open: (u64, i64)| open.1.saturating_add((tick - open.0) as i64);
        let opened = self.opens.partition_point(|&(at, _)| at <= tick);
        let latest = opened.checked_sub(1).map(|index| self.opens[index]);
        let earlier = latest
            .filter(|&(at, _)| at == tick)
            .and_then(|_| opened.checked_sub(2).map(|index| self.opens[index]));
        // `None` for no bound: before the first start.
        let bounds = [Some(latest.map(bound)), earlier.map(|open| Some(bound(open)))];
        let mut range = (i64::MAX, i64::MIN);
        for wall in walls.into_iter().flatten().map(|piece| wall_of(tick, piece)) {
            for bound in bounds.into_iter().flatten() {
                let clock = bound.map_or(wall, |bound| wall.min(bound));
                range = (range.0.min(clock), range.1.max(clock));
            }
        }
        range
    }

    /// The ticks at which the deletion clock may leap or fall back (a piece of the wall clock
    /// or a start of the node begins), in order.
    pub fn deletion_clock_breaks(&self) -> Vec<u64> {
        let mut breaks: Vec<u64> = self
            .wall_pieces
            .iter()
            .map(|&(from, _, _)| from)
            .chain(self.opens.iter().map(|&(at, _)| at))
            .collect();
        breaks.sort_unstable();
        breaks.dedup();
        breaks
    }

    /// Appends an operation.
    pub fn push(&mut self, operation: Operation) {
        if let Operation::ProduceAcked { partition, base_offset, values, .. } = &operation {
            let index = usize::try_from(*partition).expect("partitions are non-negative");
            if self.acknowledged_end.len() <= index {
                self.acknowledged_end.resize(index + 1, 0);
            }
            let end = base_offset + values.len() as i64;
            let slot = &mut self.acknowledged_end[index];
            *slot = (*slot).max(end);
        }
        self.operations.push(operation);
        self.ticks.push(self.now);
    }

    /// Notes that group consumer `client` is a member of `group`.
    pub fn set_group(&mut self, client: u32, group: &'static str) {
        if group == crate::group::GROUP {
            self.groups.remove(&client);
        } else {
            self.groups.insert(client, group);
        }
    }

    /// Notes that group consumer `client` is a static member.
    pub fn set_static(&mut self, client: u32) {
        self.static_members.insert(client);
    }

    /// Whether group consumer `client` is a static member.
    pub fn is_static(&self, client: u32) -> bool {
        self.static_members.contains(&client)
    }

    /// The group of group consumer `client`: [`crate::group::GROUP`] unless noted otherwise.
    pub fn group_of(&self, client: u32) -> &'static str {
        self.groups.get(&client).copied().unwrap_or(crate::group::GROUP)
    }

    /// One past the highest acknowledged offset of `partition` (0 when nothing was).
    pub fn acknowledged_end(&self, partition: i32) -> i64 {
        usize::try_from(partition)
            .ok()
            .and_then(|index| self.acknowledged_end.get(index))
            .copied()
            .unwrap_or(0)
    }
}

/// The wall clock at `tick` by one piece (first tick, drift ppm, offset ms), as the engine
/// reads it.
fn wall_of(tick: u64, (_, drift_ppm, offset_ms): (u64, i64, i64)) -> i64 {
    let ms = tick as i64;
    crate::client::RECORDS_TIME_MS + ms + ms.saturating_mul(drift_ppm) / 1_000_000 + offset_ms
}

//! `sluice console-consumer`: prints the records of a topic, like `kafka-console-consumer.sh`.
//!
//! Without a consumer group: the tool reads every partition (or the one `--partition` names)
//! from the start offsets it looks up with ListOffsets, fetching from each partition's leader.
//!
//! With `--group`: the tool is a member of that classic consumer group (see
//! [`super::group_member`]). It reads the partitions the group assigns it, from the group's
//! committed offsets (else from the earliest or latest offset, as `auto.offset.reset` does),
//! commits after each printed fetch, heartbeats between fetches, rejoins when the group
//! rebalances, and commits and leaves the group when it stops (Ctrl-C, `--max-messages`,
//! `--timeout-ms`).

use super::console_producer::wait_for_partitions;
use super::group_member::{GroupMember, GroupStatus};
use super::{interrupt_flag, is_true, parse_key_value};
use crate::client::{error_text, is_retriable, Cluster, DEFAULT_BOOTSTRAP_SERVER};
use anyhow::{anyhow, bail};
use sluice_core::limits::{BATCH_BYTES_MAX, BATCH_DECOMPRESSED_BYTES_MAX};
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::record_batch::{
    records_section, validate_stored, Records, LOG_OVERHEAD_BYTES,
};
use sluice_core::protocol::wire::StrBytes;
use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const FETCH_KEY: i16 = 1;
/// Fetch 13+ names topics by id; the tool names them, so it stays at 12.
const FETCH_VERSION_MAX: i16 = 12;
const FETCH_WAIT_MS: u64 = 500;
const FETCH_MAX_BYTES: i32 = 50 * 1024 * 1024;
const PARTITION_FETCH_BYTES: i32 = 1024 * 1024;
const PARTITION_FETCH_BYTES_MAX: i32 = 64 * 1024 * 1024;
const EARLIEST_TIMESTAMP: i64 = -2;
/// The client id group members use, as Kafka's console consumer.
const GROUP_CLIENT_ID: &str = "console-consumer";
const LATEST_TIMESTAMP: i64 = -1;

/// Arguments of `sluice console-consumer`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Print records of a topic on standard output (like kafka-console-consumer)",
    after_help = "Formatter properties (--property):\n  \
                  print.timestamp=true  print.partition=true  print.offset=true\n  \
                  print.key=true        print.value=false\n  \
                  key.separator=SEP     between the printed fields (default: a tab)\n  \
                  line.separator=SEP    after each record (default: a newline)\n  \
                  null.literal=TEXT     printed for a null key or value (default: null)"
)]
pub struct ConsoleConsumerArgs {
    /// The broker(s) to connect to, host:port[,host:port…].
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_BOOTSTRAP_SERVER)]
    pub bootstrap_server: String,
    /// The topic to read.
    #[arg(long, value_name = "TOPIC")]
    pub topic: String,
    /// Start from the earliest record rather than the end of the log.
    #[arg(long)]
    pub from_beginning: bool,
    /// Exit after this many records (default: never).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_messages: Option<i64>,
    /// Read only this partition.
    #[arg(long, value_name = "P", allow_negative_numbers = true)]
    pub partition: Option<i32>,
    /// Where to start in --partition: earliest, latest, or an offset.
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// Exit after this many ms without a record (default: never).
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub timeout_ms: Option<i64>,
    /// A formatter property, key=value (see below); repeat for several.
    #[arg(long = "property", visible_alias = "formatter-property", value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// read_uncommitted (default) or read_committed.
    #[arg(long, value_name = "LEVEL", default_value = "read_uncommitted")]
    pub isolation_level: String,
    /// Consume as a member of this consumer group: start at its committed offsets (else as
    /// --from-beginning says) and commit the offsets of printed records.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
}

/// Where reading starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StartAt {
    Earliest,
    Latest,
    Offset(i64),
}

/// The checked arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) partition: Option<i32>,
    pub(crate) start: StartAt,
    /// Where to go when the position falls outside the log (auto.offset.reset).
    pub(crate) reset: StartAt,
    pub(crate) max_messages: Option<u64>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) isolation_level: i8,
    /// The consumer group to consume in, if any.
    pub(crate) group: Option<String>,
}

/// Checks the arguments the way kafka-console-consumer does, with its messages.
pub(crate) fn plan(args: &ConsoleConsumerArgs) -> anyhow::Result<Plan> {
    if let Some(group) = &args.group {
        if args.partition.is_some() {
            bail!("Options group and partition cannot be specified together.");
        }
        if group.trim().is_empty() {
            bail!("invalid --group {group:?}: a group id must not be empty");
        }
    }
    if args.partition.is_some() {
        if args.from_beginning && args.offset.is_some() {
            bail!("Options from-beginning and offset cannot be specified together.");
        }
    } else if args.offset.is_some() {
        bail!("The partition is required when offset is specified.");
    }
    if args.partition.is_some_and(|partition| partition < 0) {
        bail!("--partition must not be negative");
    }
    let start = match &args.offset {
        Some(text) => match text.to_ascii_lowercase().as_str() {
            "earliest" => StartAt::Earliest,
            "latest" => StartAt::Latest,
            _ => match text.parse::<i64>() {
                Ok(offset) if offset >= 0 => StartAt::Offset(offset),
                _ => bail!(
                    "The provided offset value '{text}' is incorrect. Valid values are \
                     'earliest', 'latest', or a non-negative long."
                ),
            },
        },
        None if args.from_beginning => StartAt::Earliest,
        None => StartAt::Latest,
    };
    let isolation_level = match args.isolation_level.as_str() {
        "read_uncommitted" => 0,
        "read_committed" => 1,
        other => {
            bail!("invalid --isolation-level '{other}': use read_uncommitted or read_committed")
        }
    };
    Ok(Plan {
        partition: args.partition,
        start,
        reset: if args.from_beginning { StartAt::Earliest } else { StartAt::Latest },
        max_messages: args.max_messages.and_then(|max| u64::try_from(max).ok()),
        timeout: args.timeout_ms.and_then(|ms| u64::try_from(ms).ok()).map(Duration::from_millis),
        isolation_level,
        group: args.group.clone(),
    })
}

/// How a record's timestamp was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// One record read from a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConsumedRecord {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    pub(crate) timestamp_type: TimestampType,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
}

/// What one partition's fetched bytes held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) records: Vec<ConsumedRecord>,
    /// The offset after the last complete batch, if there was one.
    pub(crate) next_offset: Option<i64>,
}

/// Decodes the record batches of a fetch response (the last may be cut short: it is left for
/// the next fetch), keeping records at `from_offset` and after. Checks each batch's CRC and
/// decompresses within the core's bound; transaction markers are skipped.
pub(crate) fn decode_records(
    partition: i32,
    data: &[u8],
    from_offset: i64,
) -> anyhow::Result<Decoded> {
    let mut decoded = Decoded::default();
    let mut rest = data;
    while rest.len() >= LOG_OVERHEAD_BYTES {
        let length = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
        let Some(length) = usize::try_from(length).ok().filter(|length| *length <= BATCH_BYTES_MAX)
        else {
            bail!("partition {partition}: corrupt record batch: batchLength {length}");
        };
        let size = LOG_OVERHEAD_BYTES + length;
        if rest.len() < size {
            break;
        }
        let (batch, after) = rest.split_at(size);
        rest = after;
        if let Some(&magic) = batch.get(16) {
            if magic != 2 {
                bail!("partition {partition}: record format v{magic} is not supported (only v2)");
            }
        }
        let header = validate_stored(batch)
            .map_err(|error| anyhow!("partition {partition}: corrupt record batch: {error}"))?;
        let next = header.next_offset();
        decoded.next_offset = Some(decoded.next_offset.map_or(next, |known| known.max(next)));
        if header.is_control() || header.last_offset() < from_offset {
            continue;
        }
        let section = records_section(&header, batch, BATCH_DECOMPRESSED_BYTES_MAX)
            .map_err(|error| anyhow!("partition {partition}: {error}"))?;
        for record in Records::new(&header, &section) {
            let record = record.map_err(|error| anyhow!("partition {partition}: {error}"))?;
            let offset = header.base_offset + i64::from(record.offset_delta);
            if offset < from_offset {
                continue;
            }
            let (timestamp, timestamp_type) = if header.is_log_append_time() {
                (header.max_timestamp, TimestampType::LogAppendTime)
            } else {
                (
                    header.base_timestamp.wrapping_add(record.timestamp_delta),
                    TimestampType::CreateTime,
                )
            };
            decoded.records.push(ConsumedRecord {
                partition,
                offset,
                timestamp,
                timestamp_type,
                key: record.key.map(<[u8]>::to_vec),
                value: record.value.map(<[u8]>::to_vec),
            });
        }
    }
    Ok(decoded)
}

/// Kafka's DefaultMessageFormatter, configured by `--property`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Formatter {
    print_timestamp: bool,
    print_partition: bool,
    print_offset: bool,
    print_key: bool,
    print_value: bool,
    key_separator: Vec<u8>,
    line_separator: Vec<u8>,
    null_literal: Vec<u8>,
}

impl Formatter {
    pub(crate) fn from_properties(properties: &[String]) -> anyhow::Result<Self> {
        let mut formatter = Self {
            print_timestamp: false,
            print_partition: false,
            print_offset: false,
            print_key: false,
            print_value: true,
            key_separator: b"\t".to_vec(),
            line_separator: b"\n".to_vec(),
            null_literal: b"null".to_vec(),
        };
        for property in properties {
            let (key, value) = parse_key_value(property)?;
            match key.as_str() {
                "print.timestamp" => formatter.print_timestamp = is_true(&value),
                "print.partition" => formatter.print_partition = is_true(&value),
                "print.offset" => formatter.print_offset = is_true(&value),
                "print.key" => formatter.print_key = is_true(&value),
                "print.value" => formatter.print_value = is_true(&value),
                "key.separator" => formatter.key_separator = value.into_bytes(),
                "line.separator" => formatter.line_separator = value.into_bytes(),
                "null.literal" => formatter.null_literal = value.into_bytes(),
                "print.headers" | "print.delivery" if is_true(&value) => {
                    bail!("--property {key}=true is not supported yet")
                }
                _ => {}
            }
        }
        Ok(formatter)
    }

    /// Writes one record: the enabled fields in Kafka's order, separated by `key.separator`,
    /// then `line.separator` (Kafka ends the line only when it prints the value).
    pub(crate) fn write(&self, out: &mut impl Write, record: &ConsumedRecord) -> io::Result<()> {
        let mut fields: Vec<Vec<u8>> = Vec::new();
        if self.print_timestamp {
            let kind = match record.timestamp_type {
                TimestampType::CreateTime => "CreateTime",
                TimestampType::LogAppendTime => "LogAppendTime",
            };
            fields.push(format!("{kind}:{}", record.timestamp).into_bytes());
        }
        if self.print_partition {
            fields.push(format!("Partition:{}", record.partition).into_bytes());
        }
        if self.print_offset {
            fields.push(format!("Offset:{}", record.offset).into_bytes());
        }
        if self.print_key {
            fields.push(self.text(record.key.as_deref()));
        }
        if self.print_value {
            fields.push(self.text(record.value.as_deref()));
        }
        for (index, field) in fields.iter().enumerate() {
            out.write_all(field)?;
            if index + 1 < fields.len() {
                out.write_all(&self.key_separator)?;
            } else if self.print_value {
                out.write_all(&self.line_separator)?;
            }
        }
        Ok(())
    }

    fn text(&self, bytes: Option<&[u8]>) -> Vec<u8> {
        match bytes {
            None => self.null_literal.clone(),
            Some(bytes) => String::from_utf8_lossy(bytes).into_owned().into_bytes(),
        }
    }
}

/// Runs `sluice console-consumer`.
pub fn run(args: ConsoleConsumerArgs) -> anyhow::Result<()> {
    let plan = plan(&args)?;
    let formatter = Formatter::from_properties(&args.property)?;
    let stop = interrupt_flag();
    let mut consumer = Consumer {
        cluster: Cluster::connect(&args.bootstrap_server, "console-consumer")?,
        topic: args.topic.clone(),
        plan,
        leaders: Vec::new(),
        positions: BTreeMap::new(),
        fetch_bytes: BTreeMap::new(),
        committed: BTreeMap::new(),
        consumed: 0,
        started: Instant::now(),
        last_record: Instant::now(),
    };
    consumer.cluster.cap_version(FETCH_KEY, FETCH_VERSION_MAX);
    let result = match consumer.plan.group.clone() {
        Some(group) => consumer.consume_in_group(&group, &formatter, &stop),
        None => consumer.consume(&formatter, &stop),
    };
    eprintln!("Processed a total of {} messages", consumer.consumed);
    result
}

struct Consumer {
    cluster: Cluster,
    topic: String,
    plan: Plan,
    /// Leader per partition index.
    leaders: Vec<i32>,
    /// Next offset to fetch, per partition read.
    positions: BTreeMap<i32, i64>,
    /// Per-partition fetch size, raised when a batch does not fit.
    fetch_bytes: BTreeMap<i32, i32>,
    /// With `--group`: the last offset committed per partition.
    committed: BTreeMap<i32, i64>,
    consumed: u64,
    started: Instant,
    last_record: Instant,
}

impl Consumer {
    /// Time left before `--timeout-ms` ends the run (`None`: no timeout).
    fn time_left(&self) -> Option<Duration> {
        self.plan.timeout.map(|timeout| timeout.saturating_sub(self.last_record.elapsed()))
    }

    fn done(&self, stop: &AtomicBool) -> bool {
        stop.load(Ordering::SeqCst)
            || self.plan.max_messages.is_some_and(|max| self.consumed >= max)
            || self.time_left().is_some_and(|left| left.is_zero())
    }

    fn consume(&mut self, formatter: &Formatter, stop: &AtomicBool) -> anyhow::Result<()> {
        self.started = Instant::now();
        self.last_record = self.started;
        if self.done(stop) || !self.wait_for_topic(stop)? {
            return Ok(());
        }
        let partitions: Vec<i32> = match self.plan.partition {
            Some(partition) => {
                if partition as usize >= self.leaders.len() {
                    bail!(
                        "topic {} has no partition {partition} (it has {} partition{})",
                        self.topic,
                        self.leaders.len(),
                        if self.leaders.len() == 1 { "" } else { "s" }
                    );
                }
                vec![partition]
            }
            None => (0..self.leaders.len() as i32).collect(),
        };
        for (partition, offset) in self.start_offsets(&partitions, self.plan.start)? {
            self.positions.insert(partition, offset);
        }
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        while !self.done(stop) {
            let refresh = self.fetch_round(formatter, &mut out, stop)?;
            if refresh && !self.done(stop) {
                std::thread::sleep(Duration::from_millis(100));
                self.refresh_leaders()?;
            }
        }
        Ok(())
    }

    /// One Fetch from each leader of the partitions read, printing what they return. True if
    /// metadata should be refreshed. A closed stdout ends the run (see [`Self::done`]).
    fn fetch_round(
        &mut self,
        formatter: &Formatter,
        out: &mut impl Write,
        stop: &AtomicBool,
    ) -> anyhow::Result<bool> {
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for &partition in self.positions.keys() {
            by_leader.entry(self.leaders[partition as usize]).or_default().push(partition);
        }
        let mut refresh = false;
        for (leader, partitions) in by_leader {
            if self.done(stop) {
                break;
            }
            if leader < 0 {
                refresh = true;
                continue;
            }
            refresh |= self.fetch(leader, &partitions, formatter, out)?;
            if out.flush().is_err() {
                eprintln!("Unable to write to standard out, closing consumer.");
                self.plan.max_messages = Some(self.consumed);
                break;
            }
        }
        Ok(refresh)
    }

    /// Consumes as a member of `group`; whatever ends the run, commits the offsets of the
    /// printed records and leaves the group.
    fn consume_in_group(
        &mut self,
        group: &str,
        formatter: &Formatter,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        self.started = Instant::now();
        self.last_record = self.started;
        if self.done(stop) || !self.wait_for_topic(stop)? {
            return Ok(());
        }
        let mut member = GroupMember::connect(&mut self.cluster, group, GROUP_CLIENT_ID)?;
        let result = self.consume_as_member(&mut member, formatter, stop);
        let committed = if member.member_id().is_empty() {
            Ok(GroupStatus::Stable)
        } else {
            self.commit(&mut member)
        };
        let left = member.leave();
        result.and(committed).and(left)
    }

    fn consume_as_member(
        &mut self,
        member: &mut GroupMember,
        formatter: &Formatter,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        let topics = [self.topic.clone()];
        while !self.done(stop) {
            let assignment = member.join(&mut self.cluster, &topics)?;
            self.take_assignment(member, assignment)?;
            // Fetch, commit and heartbeat until the group rebalances or the run ends.
            while !self.done(stop) {
                let refresh = if self.positions.is_empty() {
                    // Nothing assigned (more members than partitions): only heartbeats.
                    let wait = Duration::from_millis(FETCH_WAIT_MS);
                    std::thread::sleep(self.time_left().map_or(wait, |left| left.min(wait)));
                    false
                } else {
                    self.fetch_round(formatter, &mut out, stop)?
                };
                if self.commit(member)? == GroupStatus::Rejoin
                    || member.heartbeat_if_due()? == GroupStatus::Rejoin
                {
                    break;
                }
                if refresh && !self.done(stop) {
                    std::thread::sleep(Duration::from_millis(100));
                    self.refresh_leaders()?;
                }
            }
        }
        Ok(())
    }

    /// Starts reading the partitions of the topic that the group assigned: from the group's
    /// committed offsets, else from where `--from-beginning` (auto.offset.reset) says.
    fn take_assignment(
        &mut self,
        member: &mut GroupMember,
        assignment: BTreeMap<String, Vec<i32>>,
    ) -> anyhow::Result<()> {
        let partitions = assignment.get(&self.topic).cloned().unwrap_or_default();
        let outside = |leaders: &[i32]| {
            partitions
                .iter()
                .copied()
                .find(|&p| usize::try_from(p).map_or(true, |p| p >= leaders.len()))
        };
        if outside(&self.leaders).is_some() {
            // The topic grew since it was looked up: take its partitions now.
            if let Some(leaders) =
                wait_for_partitions(&mut self.cluster, &self.topic, Duration::ZERO, None)?
            {
                self.leaders = leaders;
            }
            if let Some(partition) = outside(&self.leaders) {
                bail!(
                    "the group assigned partition {partition} of topic {}, which has {}                      partitions",
                    self.topic,
                    self.leaders.len()
                );
            }
        }
        self.positions.clear();
        self.fetch_bytes.clear();
        let committed = member.committed(&self.topic, &partitions)?;
        let missing: Vec<i32> =
            partitions.iter().copied().filter(|p| !committed.contains_key(p)).collect();
        if !missing.is_empty() {
            let reset = self.start_offsets(&missing, self.plan.reset)?;
            self.positions.extend(reset);
        }
        self.positions.extend(committed.iter().map(|(&p, &offset)| (p, offset)));
        self.committed = committed;
        Ok(())
    }

    /// Commits the position of every partition whose position moved since its last commit.
    fn commit(&mut self, member: &mut GroupMember) -> anyhow::Result<GroupStatus> {
        let moved: BTreeMap<i32, i64> = self
            .positions
            .iter()
            .filter(|(partition, offset)| self.committed.get(partition) != Some(offset))
            .map(|(&partition, &offset)| (partition, offset))
            .collect();
        let status = member.commit(&self.topic, &moved)?;
        if status == GroupStatus::Stable {
            self.committed.extend(moved);
        }
        Ok(status)
    }

    /// Waits for the topic's partitions (until `--timeout-ms`, else until interrupted).
    fn wait_for_topic(&mut self, stop: &AtomicBool) -> anyhow::Result<bool> {
        let first =
            wait_for_partitions(&mut self.cluster, &self.topic, Duration::ZERO, Some(stop))?;
        let leaders = match first {
            Some(leaders) => leaders,
            None => {
                eprintln!("Waiting for topic {} to exist...", self.topic);
                let wait = self.time_left().unwrap_or(Duration::MAX);
                match wait_for_partitions(&mut self.cluster, &self.topic, wait, Some(stop))? {
                    Some(leaders) => leaders,
                    None => return Ok(false),
                }
            }
        };
        self.leaders = leaders;
        Ok(true)
    }

    fn refresh_leaders(&mut self) -> anyhow::Result<()> {
        if let Some(leaders) =
            wait_for_partitions(&mut self.cluster, &self.topic, Duration::ZERO, None)?
        {
            // Partitions added meanwhile are not read (Kafka's assign() would not either).
            for (index, leader) in leaders.into_iter().enumerate().take(self.leaders.len()) {
                self.leaders[index] = leader;
            }
        }
        Ok(())
    }

    /// Start offsets of `partitions` for `start`, asking each leader with ListOffsets.
    fn start_offsets(
        &mut self,
        partitions: &[i32],
        start: StartAt,
    ) -> anyhow::Result<BTreeMap<i32, i64>> {
        let timestamp = match start {
            StartAt::Offset(offset) => {
                return Ok(partitions.iter().map(|&partition| (partition, offset)).collect())
            }
            StartAt::Earliest => EARLIEST_TIMESTAMP,
            StartAt::Latest => LATEST_TIMESTAMP,
        };
        let mut found = BTreeMap::new();
        let mut todo: Vec<i32> = partitions.to_vec();
        for attempt in 0..20 {
            let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for &partition in &todo {
                by_leader.entry(self.leaders[partition as usize]).or_default().push(partition);
            }
            let mut failed = Vec::new();
            for (leader, partitions) in by_leader {
                if leader < 0 {
                    failed.extend(partitions.iter().map(|&p| (p, 5)));
                    continue;
                }
                for (partition, result) in self.list_offsets(leader, &partitions, timestamp)? {
                    match result {
                        Ok(offset) => {
                            found.insert(partition, offset);
                        }
                        Err(code) => failed.push((partition, code)),
                    }
                }
            }
            if failed.is_empty() {
                return Ok(found);
            }
            if let Some((partition, code)) =
                failed.iter().find(|(_, code)| !is_retriable(*code) || attempt == 19)
            {
                bail!(
                    "cannot look up offsets of {} partition {partition}: {}",
                    self.topic,
                    error_text(*code, None)
                );
            }
            todo = failed.into_iter().map(|(partition, _)| partition).collect();
            std::thread::sleep(Duration::from_millis(100));
            self.refresh_leaders()?;
        }
        unreachable!("the last attempt returns or fails")
    }

    fn list_offsets(
        &mut self,
        leader: i32,
        partitions: &[i32],
        timestamp: i64,
    ) -> anyhow::Result<Vec<(i32, Result<i64, i16>)>> {
        let request = Request::ListOffsets(ListOffsetsRequest {
            replica_id: -1,
            isolation_level: self.plan.isolation_level,
            topics: vec![ListOffsetsRequestTopic {
                name: StrBytes::from_string(self.topic.clone()),
                partitions: partitions
                    .iter()
                    .map(|&partition| ListOffsetsRequestPartition {
                        partition_index: partition,
                        timestamp,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            timeout_ms: 30_000,
            ..Default::default()
        });
        let Response::ListOffsets(response) = self.cluster.node(leader)?.send(request)? else {
            bail!("unexpected response to ListOffsets");
        };
        let mut answers = BTreeMap::new();
        for topic in &response.topics {
            for partition in &topic.partitions {
                let answer = if partition.error_code != 0 {
                    Err(partition.error_code)
                } else if let Some(&offset) = partition.old_style_offsets.first() {
                    Ok(offset)
                } else if partition.offset >= 0 {
                    Ok(partition.offset)
                } else {
                    Err(-1)
                };
                answers.insert(partition.partition_index, answer);
            }
        }
        Ok(partitions
            .iter()
            .map(|&partition| (partition, answers.get(&partition).copied().unwrap_or(Err(-1))))
            .collect())
    }

    /// One Fetch from `leader`; prints what it returns. True if metadata should be refreshed.
    fn fetch(
        &mut self,
        leader: i32,
        partitions: &[i32],
        formatter: &Formatter,
        out: &mut impl Write,
    ) -> anyhow::Result<bool> {
        let wait = self
            .time_left()
            .map_or(FETCH_WAIT_MS, |left| (left.as_millis() as u64).clamp(1, FETCH_WAIT_MS));
        let request = Request::Fetch(FetchRequest {
            replica_id: -1,
            max_wait_ms: wait as i32,
            min_bytes: 1,
            max_bytes: FETCH_MAX_BYTES,
            isolation_level: self.plan.isolation_level,
            session_id: 0,
            session_epoch: -1,
            topics: vec![FetchRequestTopic {
                topic: StrBytes::from_string(self.topic.clone()),
                partitions: partitions
                    .iter()
                    .map(|&partition| FetchRequestPartition {
                        partition,
                        fetch_offset: self.positions[&partition],
                        partition_max_bytes: self
                            .fetch_bytes
                            .get(&partition)
                            .copied()
                            .unwrap_or(PARTITION_FETCH_BYTES),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let Response::Fetch(response) = self.cluster.node(leader)?.send(request)? else {
            bail!("unexpected response to Fetch");
        };
        if response.error_code != 0 {
            if is_retriable(response.error_code) {
                return Ok(true);
            }
            bail!("fetch from {}: {}", self.topic, error_text(response.error_code, None));
        }
        let mut refresh = false;
        for topic in &response.responses {
            if topic.topic.as_str() != self.topic {
                continue;
            }
            for data in &topic.partitions {
                let partition = data.partition_index;
                let Some(&position) = self.positions.get(&partition) else { continue };
                match data.error_code {
                    0 => {}
                    1 => {
                        let reset = self.start_offsets(&[partition], self.plan.reset)?;
                        let offset = reset.get(&partition).copied().unwrap_or(position);
                        eprintln!(
                            "Offset {position} is out of range for partition {}-{partition}; \
                             resetting to offset {offset}.",
                            self.topic
                        );
                        self.positions.insert(partition, offset);
                        continue;
                    }
                    code if is_retriable(code) => {
                        refresh = true;
                        continue;
                    }
                    code => bail!(
                        "fetch from {} partition {partition}: {}",
                        self.topic,
                        error_text(code, None)
                    ),
                }
                let bytes = data.records.as_deref().unwrap_or_default();
                let decoded = decode_records(partition, bytes, position)?;
                match decoded.next_offset {
                    Some(next) => {
                        self.fetch_bytes.remove(&partition);
                        self.positions.insert(partition, next.max(position));
                    }
                    None if !bytes.is_empty() => {
                        // Not even one whole batch fitted: ask for more next time.
                        let limit =
                            self.fetch_bytes.entry(partition).or_insert(PARTITION_FETCH_BYTES);
                        *limit = limit.saturating_mul(2).min(PARTITION_FETCH_BYTES_MAX);
                    }
                    None => {}
                }
                for record in &decoded.records {
                    // A record left unprinted is where this partition's position (and so a
                    // group's commit) stays.
                    if self.plan.max_messages.is_some_and(|max| self.consumed >= max) {
                        self.positions.insert(partition, record.offset);
                        break;
                    }
                    if formatter.write(out, record).is_err() {
                        eprintln!("Unable to write to standard out, closing consumer.");
                        self.plan.max_messages = Some(self.consumed);
                        self.positions.insert(partition, record.offset);
                        break;
                    }
                    self.consumed += 1;
                    self.last_record = Instant::now();
                }
            }
        }
        Ok(refresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use sluice_core::protocol::record_batch::{
        build_batch_compressed, set_base_offset, BatchOptions, Compression, NewRecord,
    };

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ConsoleConsumerArgs,
    }

    fn check(line: &str) -> Result<Plan, String> {
        let argv = ["consumer", "--topic", "t"].into_iter().chain(line.split_whitespace());
        plan(&Cli::try_parse_from(argv).unwrap().args).map_err(|error| error.to_string())
    }

    #[test]
    fn arguments_follow_kafka_rules() {
        assert_eq!(
            check("--offset 5").unwrap_err(),
            "The partition is required when offset is specified."
        );
        assert_eq!(
            check("--partition 0 --offset 5 --from-beginning").unwrap_err(),
            "Options from-beginning and offset cannot be specified together."
        );
        assert!(check("--partition 0 --offset -3").unwrap_err().contains("'-3' is incorrect"));
        assert!(check("--partition 0 --offset soon").unwrap_err().contains("'soon' is incorrect"));
        let plain = check("").unwrap();
        assert_eq!((plain.start, plain.reset), (StartAt::Latest, StartAt::Latest));
        assert_eq!(plain.max_messages, None);
        assert_eq!(plain.timeout, None);
        let beginning = check("--from-beginning --max-messages 3 --timeout-ms 250").unwrap();
        assert_eq!((beginning.start, beginning.reset), (StartAt::Earliest, StartAt::Earliest));
        assert_eq!(beginning.max_messages, Some(3));
        assert_eq!(beginning.timeout, Some(Duration::from_millis(250)));
        assert_eq!(check("--partition 2 --offset 7").unwrap().start, StartAt::Offset(7));
        assert_eq!(check("--partition 2 --offset EARLIEST").unwrap().start, StartAt::Earliest);
        assert_eq!(check("--partition 2 --from-beginning").unwrap().start, StartAt::Earliest);
        assert_eq!(check("--partition 2").unwrap().start, StartAt::Latest);
        assert_eq!(check("--max-messages -1").unwrap().max_messages, None);
        assert_eq!(check("--group g").unwrap().group.as_deref(), Some("g"));
        assert_eq!(
            check("--group g --partition 0").unwrap_err(),
            "Options group and partition cannot be specified together."
        );
        let empty = Cli::try_parse_from(["consumer", "--topic", "t", "--group", ""]).unwrap();
        assert!(plan(&empty.args).unwrap_err().to_string().contains("must not be empty"));
        assert!(check("--isolation-level sometimes").is_err());
        assert!(Cli::try_parse_from(["consumer"]).is_err(), "--topic is required");
    }

    fn record(key: Option<&str>, value: Option<&str>) -> ConsumedRecord {
        ConsumedRecord {
            partition: 2,
            offset: 41,
            timestamp: 1_700_000_000_123,
            timestamp_type: TimestampType::CreateTime,
            key: key.map(|k| k.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    fn format(properties: &[&str], record: &ConsumedRecord) -> String {
        let properties: Vec<String> = properties.iter().map(|p| p.to_string()).collect();
        let formatter = Formatter::from_properties(&properties).unwrap();
        let mut out = Vec::new();
        formatter.write(&mut out, record).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_print_in_kafka_format() {
        let r = record(Some("k"), Some("v"));
        assert_eq!(format(&[], &r), "v\n");
        assert_eq!(format(&["print.key=true"], &r), "k\tv\n");
        assert_eq!(
            format(
                &[
                    "print.timestamp=true",
                    "print.partition=true",
                    "print.offset=true",
                    "print.key=true"
                ],
                &r
            ),
            "CreateTime:1700000000123\tPartition:2\tOffset:41\tk\tv\n"
        );
        assert_eq!(format(&["print.offset=true", "key.separator=|"], &r), "Offset:41|v\n");
        assert_eq!(format(&["print.key=true"], &record(None, None)), "null\tnull\n");
        assert_eq!(
            format(&["print.key=true", "null.literal=-"], &record(None, Some("x"))),
            "-\tx\n"
        );
        // Without the value, Kafka prints no line separator.
        assert_eq!(format(&["print.key=true", "print.value=false"], &r), "k");
        let appended = ConsumedRecord { timestamp_type: TimestampType::LogAppendTime, ..r.clone() };
        assert_eq!(
            format(&["print.timestamp=true"], &appended),
            "LogAppendTime:1700000000123\tv\n"
        );
        let binary = ConsumedRecord { value: Some(vec![b'a', 0xff, b'b']), ..r };
        assert_eq!(format(&[], &binary), "a\u{fffd}b\n");
        assert!(Formatter::from_properties(&["print.headers=true".into()]).is_err());
    }

    fn batch(base_offset: i64, values: &[&str], codec: Compression) -> Vec<u8> {
        let records: Vec<NewRecord<'_>> = values
            .iter()
            .enumerate()
            .map(|(index, value)| NewRecord {
                key: (index % 2 == 0).then_some(&b"key"[..]),
                value: Some(value.as_bytes()),
                timestamp_ms: 1000 + index as i64,
                ..Default::default()
            })
            .collect();
        let mut bytes = build_batch_compressed(&records, BatchOptions::default(), codec).unwrap();
        set_base_offset(&mut bytes, base_offset);
        bytes
    }

    #[test]
    fn fetched_batches_decode_with_every_codec() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut data = batch(10, &["a", "b", "c"], codec);
            data.extend(batch(13, &["d", "e"], codec));
            let decoded = decode_records(0, &data, 11).unwrap();
            let values: Vec<&[u8]> =
                decoded.records.iter().map(|r| r.value.as_deref().unwrap()).collect();
            assert_eq!(values, [&b"b"[..], b"c", b"d", b"e"], "{codec:?}");
            let offsets: Vec<i64> = decoded.records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, [11, 12, 13, 14]);
            assert_eq!(decoded.next_offset, Some(15));
            assert_eq!(decoded.records[0].key, None);
            assert_eq!(decoded.records[1].key.as_deref(), Some(&b"key"[..]));
            assert_eq!(decoded.records[1].timestamp, 1002);
            assert_eq!(decoded.records[1].timestamp_type, TimestampType::CreateTime);
        }
    }

    #[test]
    fn a_cut_off_last_batch_waits_for_the_next_fetch() {
        let first = batch(0, &["a"], Compression::None);
        let mut data = first.clone();
        let second = batch(1, &["b", "c"], Compression::None);
        data.extend_from_slice(&second[..second.len() - 3]);
        let decoded = decode_records(0, &data, 0).unwrap();
        assert_eq!(decoded.records.len(), 1);
        assert_eq!(decoded.next_offset, Some(1));
        let nothing = decode_records(0, &first[..20], 0).unwrap();
        assert_eq!(nothing, Decoded::default());
        assert_eq!(decode_records(0, &[], 0).unwrap(), Decoded::default());
    }

    #[test]
    fn batches_below_the_position_are_skipped_and_corruption_is_an_error() {
        let mut data = batch(0, &["old"], Compression::None);
        data.extend(batch(1, &["new"], Compression::Gzip));
        let decoded = decode_records(3, &data, 1).unwrap();
        assert_eq!(decoded.records.len(), 1);
        assert_eq!(decoded.records[0].partition, 3);
        assert_eq!(decoded.records[0].offset, 1);
        let mut corrupt = batch(0, &["x"], Compression::None);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 1;
        assert!(decode_records(0, &corrupt, 0).unwrap_err().to_string().contains("corrupt"));
        let mut huge = batch(0, &["x"], Compression::None);
        huge[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(decode_records(0, &huge, 0).unwrap_err().to_string().contains("batchLength"));
        let mut legacy = batch(0, &["x"], Compression::None);
        legacy[16] = 1;
        assert!(decode_records(0, &legacy, 0).unwrap_err().to_string().contains("not supported"));
    }
}

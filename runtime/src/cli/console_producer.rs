//! `sluice console-producer`: sends lines from standard input as records, like
//! `kafka-console-producer.sh`.
//!
//! Records are batched per partition the way the Java producer does: a batch is sent when it
//! reaches `--batch-size` bytes, when its first record has waited `--timeout` ms (linger), at
//! the end of input, or on Ctrl-C. Keyed records go to `murmur2(key) % partitions`; records
//! without a key stick to one partition until its batch is sent.

use super::{interrupt_flag, is_true, parse_key_value};
use crate::client::{error_text, is_retriable, topic_name, Cluster, DEFAULT_BOOTSTRAP_SERVER};
use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::record_batch::{
    build_batch_compressed, BatchOptions, Compression, NewRecord,
};
use sluice_core::protocol::wire::StrBytes;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PRODUCE_KEY: i16 = 0;
/// Bytes a record adds to a batch beyond its key and value (attributes, varints, headers).
const RECORD_OVERHEAD_BYTES: usize = 21;

/// Arguments of `sluice console-producer`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Send lines read from standard input as records to a topic (like \
             kafka-console-producer)",
    after_help = "Reader properties (--property):\n  \
                  parse.key=true        split each line into key and value at key.separator\n  \
                  key.separator=SEP     default: a tab\n  \
                  ignore.error=true     a line without the separator becomes a value without key\n  \
                  null.marker=TEXT      a key or value equal to TEXT is sent as null"
)]
pub struct ConsoleProducerArgs {
    /// The broker(s) to connect to, host:port[,host:port…].
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_BOOTSTRAP_SERVER)]
    pub bootstrap_server: String,
    /// The topic to send to.
    #[arg(long, value_name = "TOPIC")]
    pub topic: String,
    /// A line-reader property, key=value (see below); repeat for several.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// none, gzip, snappy, lz4 or zstd; gzip when given without a value.
    #[arg(
        long,
        value_name = "CODEC",
        num_args = 0..=1,
        default_value = "none",
        default_missing_value = "gzip"
    )]
    pub compression_codec: String,
    /// Acknowledgements to wait for: -1 or all (every in-sync replica), 1 (the leader), 0 (none).
    #[arg(long, value_name = "ACKS", default_value = "-1", allow_hyphen_values = true)]
    pub request_required_acks: String,
    /// Largest batch per partition, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024)]
    pub batch_size: usize,
    /// Longest a record waits for its batch to fill, in ms (linger).
    #[arg(long = "timeout", value_name = "MS", default_value_t = 1000)]
    pub linger_ms: u64,
    /// Send each record on its own and wait for it before reading the next line.
    #[arg(long)]
    pub sync: bool,
    /// How long the broker may wait for the acknowledgements, in ms.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub request_timeout_ms: i32,
    /// How often a batch that failed with a retriable error is sent again.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub message_send_max_retries: u32,
    /// Pause before a retry (and its metadata refresh), in ms.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub retry_backoff_ms: u64,
    /// How long to wait for the topic to appear in the metadata, in ms.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub max_block_ms: u64,
}

/// Kafka's `Utils.murmur2`: the 32-bit MurmurHash2 with Kafka's seed, as the Java client's
/// default partitioner computes it over a record key.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition the Java client's default partitioner picks for a keyed record.
pub fn partition_for_key(key: &[u8], partitions: usize) -> usize {
    assert!(partitions > 0, "a topic has at least one partition");
    (murmur2(key) & 0x7fff_ffff) as usize % partitions
}

/// Parses `--request-required-acks`.
pub(crate) fn parse_acks(text: &str) -> anyhow::Result<i16> {
    match text.trim() {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        other => bail!("invalid --request-required-acks '{other}': use -1 (or all), 0 or 1"),
    }
}

/// Parses `--compression-codec`.
pub(crate) fn parse_codec(text: &str) -> anyhow::Result<Compression> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "" | "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => {
            bail!("invalid --compression-codec '{other}': use none, gzip, snappy, lz4 or zstd")
        }
    })
}

/// How lines become records (Kafka's LineMessageReader properties).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LineReader {
    parse_key: bool,
    key_separator: Vec<u8>,
    ignore_error: bool,
    null_marker: Option<Vec<u8>>,
}

/// A key and a value, either possibly null.
pub(crate) type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

impl LineReader {
    pub(crate) fn from_properties(properties: &[String]) -> anyhow::Result<Self> {
        let mut reader = Self {
            parse_key: false,
            key_separator: b"\t".to_vec(),
            ignore_error: false,
            null_marker: None,
        };
        for property in properties {
            let (key, value) = parse_key_value(property)?;
            match key.as_str() {
                "parse.key" => reader.parse_key = is_true(&value),
                "key.separator" => reader.key_separator = value.into_bytes(),
                "ignore.error" => reader.ignore_error = is_true(&value),
                "null.marker" => reader.null_marker = Some(value.into_bytes()),
                "parse.headers" if is_true(&value) => {
                    bail!("--property parse.headers=true is not supported yet")
                }
                // Kafka hands every property to the reader, which ignores those it does not know.
                _ => {}
            }
        }
        if reader.key_separator.is_empty() {
            bail!("key.separator may not be empty");
        }
        if reader.null_marker.as_ref() == Some(&reader.key_separator) {
            bail!("null.marker and key.separator may not be equal");
        }
        Ok(reader)
    }

    /// Splits one line (without its line ending) into key and value.
    pub(crate) fn parse(&self, line: &[u8], line_number: u64) -> anyhow::Result<KeyValue> {
        let (key, value) = if self.parse_key {
            match find(line, &self.key_separator) {
                Some(at) => (Some(&line[..at]), &line[at + self.key_separator.len()..]),
                None if self.ignore_error => (None, line),
                None => bail!(
                    "No key separator found on line number {line_number}: '{}'",
                    String::from_utf8_lossy(line)
                ),
            }
        } else {
            (None, line)
        };
        let marker = self.null_marker.as_deref();
        let key = key.filter(|key| Some(*key) != marker).map(<[u8]>::to_vec);
        let value = Some(value).filter(|value| Some(*value) != marker).map(<[u8]>::to_vec);
        Ok((key, value))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Strips `\n`, `\r\n` or `\r` from the end of a line, as Java's readLine does.
fn trim_line_ending(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingRecord {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp_ms: i64,
}

#[derive(Debug, Default)]
struct Batch {
    records: Vec<PendingRecord>,
    bytes: usize,
    first_at: Option<Instant>,
}

/// Batches records per partition and sends them.
struct Producer {
    cluster: Cluster,
    topic: String,
    /// Leader per partition index.
    leaders: Vec<i32>,
    acks: i16,
    codec: Compression,
    batch_size: usize,
    request_timeout_ms: i32,
    retries: u32,
    backoff: Duration,
    pending: BTreeMap<usize, Batch>,
    sticky: usize,
    random: u64,
    sent: u64,
    failed: u64,
}

impl Producer {
    fn partition_for(&mut self, key: Option<&[u8]>) -> usize {
        match key {
            Some(key) => partition_for_key(key, self.leaders.len()),
            None => self.sticky,
        }
    }

    fn add(&mut self, key: Option<Vec<u8>>, value: Option<Vec<u8>>) -> anyhow::Result<()> {
        let partition = self.partition_for(key.as_deref());
        let size = RECORD_OVERHEAD_BYTES
            + key.as_ref().map_or(0, Vec::len)
            + value.as_ref().map_or(0, Vec::len);
        let full = self
            .pending
            .get(&partition)
            .is_some_and(|batch| !batch.records.is_empty() && batch.bytes + size > self.batch_size);
        if full {
            self.flush()?;
        }
        // The sticky partition may have moved on while flushing.
        let partition = if key.is_some() { partition } else { self.sticky };
        let batch = self.pending.entry(partition).or_default();
        batch.records.push(PendingRecord { key, value, timestamp_ms: now_ms() });
        batch.bytes += size;
        batch.first_at.get_or_insert_with(Instant::now);
        if batch.bytes >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    /// When the oldest pending record has waited `linger`.
    fn deadline(&self, linger: Duration) -> Option<Instant> {
        self.pending.values().filter_map(|batch| batch.first_at).min().map(|at| at + linger)
    }

    fn next_sticky(&mut self) {
        let count = self.leaders.len();
        if count > 1 {
            // xorshift64: a new sticky partition, different from the last.
            self.random ^= self.random << 13;
            self.random ^= self.random >> 7;
            self.random ^= self.random << 17;
            let step = 1 + (self.random % (count as u64 - 1)) as usize;
            self.sticky = (self.sticky + step) % count;
        }
    }

    /// Sends everything pending, retrying retriable errors; reports failures on stderr.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut todo: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for (partition, batch) in std::mem::take(&mut self.pending) {
            if batch.records.is_empty() {
                continue;
            }
            if partition == self.sticky {
                self.next_sticky();
            }
            let records: Vec<NewRecord<'_>> = batch
                .records
                .iter()
                .map(|record| NewRecord {
                    key: record.key.as_deref(),
                    value: record.value.as_deref(),
                    headers: Vec::new(),
                    timestamp_ms: record.timestamp_ms,
                })
                .collect();
            let bytes = build_batch_compressed(&records, BatchOptions::default(), self.codec)
                .map_err(|error| anyhow!("cannot build a record batch: {error}"))?;
            counts.insert(partition, records.len());
            todo.insert(partition, bytes);
        }
        let mut attempt = 0;
        while !todo.is_empty() {
            let mut retry: BTreeMap<usize, (i16, String)> = BTreeMap::new();
            let mut by_leader: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
            for &partition in todo.keys() {
                by_leader.entry(self.leaders[partition]).or_default().push(partition);
            }
            for (leader, partitions) in by_leader {
                if leader < 0 {
                    for partition in partitions {
                        retry.insert(partition, (5, error_text(5, None)));
                    }
                    continue;
                }
                let outcome = self.send(leader, &partitions, &todo)?;
                for (partition, result) in partitions.into_iter().zip(outcome) {
                    match result {
                        None => {
                            self.sent += counts[&partition] as u64;
                            todo.remove(&partition);
                        }
                        Some((code, message)) => {
                            retry.insert(partition, (code, message));
                        }
                    }
                }
            }
            let give_up = attempt >= self.retries;
            for (partition, (code, message)) in &retry {
                if give_up || !is_retriable(*code) {
                    let count = counts[partition];
                    eprintln!(
                        "Error when sending {count} record{} to topic {} partition {partition}: \
                         {message}",
                        if count == 1 { "" } else { "s" },
                        self.topic
                    );
                    self.failed += count as u64;
                    todo.remove(partition);
                }
            }
            if todo.is_empty() {
                break;
            }
            attempt += 1;
            std::thread::sleep(self.backoff);
            self.refresh_leaders()?;
        }
        Ok(())
    }

    /// Sends one Produce to `leader` for `partitions`; per partition, `None` on success or the
    /// error code and its text.
    fn send(
        &mut self,
        leader: i32,
        partitions: &[usize],
        batches: &BTreeMap<usize, Vec<u8>>,
    ) -> anyhow::Result<Vec<Option<(i16, String)>>> {
        let request = Request::Produce(ProduceRequest {
            transactional_id: None,
            acks: self.acks,
            timeout_ms: self.request_timeout_ms,
            topic_data: vec![ProduceRequestTopic {
                name: StrBytes::from_string(self.topic.clone()),
                partition_data: partitions
                    .iter()
                    .map(|&partition| ProduceRequestPartition {
                        index: partition as i32,
                        records: Some(Bytes::from(batches[&partition].clone())),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let client = self.cluster.node(leader)?;
        if client.version(PRODUCE_KEY).is_some_and(|version| version < 3) {
            bail!(
                "the broker at {} only accepts Produce below v3 (legacy message sets)",
                client.address()
            );
        }
        if self.acks == 0 {
            client.send_without_response(request)?;
            return Ok(vec![None; partitions.len()]);
        }
        let Response::Produce(response) = client.send(request)? else {
            bail!("unexpected response to Produce");
        };
        let mut results: BTreeMap<i32, (i16, Option<String>)> = BTreeMap::new();
        for topic in &response.responses {
            for partition in &topic.partition_responses {
                let message = partition.error_message.as_ref().map(|m| m.as_str().to_string());
                results.insert(partition.index, (partition.error_code, message));
            }
        }
        Ok(partitions
            .iter()
            .map(|&partition| match results.get(&(partition as i32)) {
                Some((0, _)) => None,
                Some((code, message)) => Some((*code, error_text(*code, message.as_deref()))),
                None => Some((-1, "the broker's response does not mention this partition".into())),
            })
            .collect())
    }

    fn refresh_leaders(&mut self) -> anyhow::Result<()> {
        let metadata = self.cluster.metadata(Some(std::slice::from_ref(&self.topic)), true)?;
        if let Some(topic) = metadata.topics.iter().find(|t| topic_name(t) == self.topic) {
            for partition in &topic.partitions {
                if let Some(leader) = usize::try_from(partition.partition_index)
                    .ok()
                    .and_then(|index| self.leaders.get_mut(index))
                {
                    *leader = partition.leader_id;
                }
            }
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as i64)
}

/// Waits up to `max_block` for `topic` to have partitions in the metadata (auto-creating it
/// where the broker allows); returns the leader of each partition, by index.
pub(crate) fn wait_for_partitions(
    cluster: &mut Cluster,
    topic: &str,
    max_block: Duration,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> anyhow::Result<Option<Vec<i32>>> {
    let started = Instant::now();
    let names = [topic.to_string()];
    loop {
        let metadata = cluster.metadata(Some(&names), true)?;
        let found = metadata.topics.iter().find(|t| topic_name(t) == topic);
        if let Some(found) = found {
            match found.error_code {
                0 if !found.partitions.is_empty() => {
                    let mut leaders = vec![-1; found.partitions.len()];
                    for partition in &found.partitions {
                        let index = usize::try_from(partition.partition_index)
                            .ok()
                            .filter(|index| *index < leaders.len())
                            .ok_or_else(|| anyhow!("topic {topic} has a gap in its partitions"))?;
                        leaders[index] = partition.leader_id;
                    }
                    return Ok(Some(leaders));
                }
                0 | 3 | 5 => {}
                code => bail!("topic {topic}: {}", error_text(code, None)),
            }
        }
        if started.elapsed() >= max_block {
            return Ok(None);
        }
        if stop.is_some_and(|stop| stop.load(Ordering::SeqCst)) {
            return Ok(None);
        }
        std::thread::sleep(
            Duration::from_millis(100).min(max_block.saturating_sub(started.elapsed())),
        );
    }
}

enum Input {
    Line(Vec<u8>),
    End,
    Failed(std::io::Error),
}

fn spawn_stdin_reader(prompt: bool) -> anyhow::Result<mpsc::Receiver<Input>> {
    let (sender, receiver) = mpsc::sync_channel(1024);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut stdin = stdin.lock();
            loop {
                if prompt {
                    print!(">");
                    let _ = std::io::stdout().flush();
                }
                let mut line = Vec::new();
                let input = match stdin.read_until(b'\n', &mut line) {
                    Ok(0) => Input::End,
                    Ok(_) => {
                        trim_line_ending(&mut line);
                        Input::Line(line)
                    }
                    Err(error) => Input::Failed(error),
                };
                let last = !matches!(input, Input::Line(_));
                if sender.send(input).is_err() || last {
                    return;
                }
            }
        })
        .context("starting the stdin reader")?;
    Ok(receiver)
}

/// Runs `sluice console-producer`.
pub fn run(args: ConsoleProducerArgs) -> anyhow::Result<()> {
    let reader = LineReader::from_properties(&args.property)?;
    let acks = parse_acks(&args.request_required_acks)?;
    let codec = parse_codec(&args.compression_codec)?;
    if args.request_timeout_ms <= 0 {
        bail!("--request-timeout-ms must be positive");
    }
    let stop = interrupt_flag();
    let mut cluster = Cluster::connect(&args.bootstrap_server, "console-producer")?;
    let max_block = Duration::from_millis(args.max_block_ms);
    let Some(leaders) = wait_for_partitions(&mut cluster, &args.topic, max_block, Some(&stop))?
    else {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        bail!("Topic {} not present in metadata after {} ms.", args.topic, args.max_block_ms);
    };
    let seed = now_ms() as u64 ^ u64::from(std::process::id()).rotate_left(32) | 1;
    let mut producer = Producer {
        cluster,
        topic: args.topic.clone(),
        sticky: (seed % leaders.len() as u64) as usize,
        leaders,
        acks,
        codec,
        batch_size: args.batch_size.max(1),
        request_timeout_ms: args.request_timeout_ms,
        retries: args.message_send_max_retries,
        backoff: Duration::from_millis(args.retry_backoff_ms),
        pending: BTreeMap::new(),
        random: seed,
        sent: 0,
        failed: 0,
    };
    let prompt = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let input = spawn_stdin_reader(prompt)?;
    let linger = Duration::from_millis(args.linger_ms);
    let tick = Duration::from_millis(100);
    let mut line_number = 0u64;
    let outcome: anyhow::Result<()> = loop {
        let wait = match producer.deadline(linger) {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()).min(tick),
            None => tick,
        };
        match input.recv_timeout(wait) {
            Ok(Input::Line(line)) => {
                line_number += 1;
                let (key, value) = match reader.parse(&line, line_number) {
                    Ok(parsed) => parsed,
                    Err(error) => break Err(error),
                };
                if let Err(error) = producer.add(key, value) {
                    break Err(error);
                }
                if args.sync {
                    if let Err(error) = producer.flush() {
                        break Err(error);
                    }
                }
            }
            Ok(Input::End) | Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(()),
            Ok(Input::Failed(error)) => break Err(anyhow!("cannot read standard input: {error}")),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        if producer.deadline(linger).is_some_and(|deadline| Instant::now() >= deadline) {
            if let Err(error) = producer.flush() {
                break Err(error);
            }
        }
    };
    // Like Kafka's producer.close(): whatever was read is still sent.
    let flushed = producer.flush();
    if prompt {
        println!();
    }
    outcome?;
    flushed?;
    if producer.failed > 0 {
        bail!(
            "{} of {} records could not be sent to topic {}",
            producer.failed,
            producer.failed + producer.sent,
            producer.topic
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_utils_test_vectors() {
        // The values Kafka's own UtilsTest checks Utils.murmur2 against.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input), expected, "{}", String::from_utf8_lossy(input));
        }
        // Every tail length (0..=3 bytes after the 4-byte blocks).
        let more: [(&[u8], i32); 5] = [
            (b"1", -1_993_445_489),
            (b"12", 126_087_238),
            (b"123", -267_702_483),
            (b"1234", -1_614_185_708),
            (b"12345", -1_188_365_604),
        ];
        for (input, expected) in more {
            assert_eq!(murmur2(input), expected, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn keyed_records_pick_the_java_default_partition() {
        // toPositive(murmur2) % n: "21" hashes to -973932308, whose positive form is 1173551340.
        assert_eq!(partition_for_key(b"21", 3), 1_173_551_340 % 3);
        assert_eq!(partition_for_key(b"abc", 10), 479_470_107 % 10);
        assert_eq!(partition_for_key(b"anything", 1), 0);
    }

    #[test]
    fn lines_split_into_key_and_value() {
        let plain = LineReader::from_properties(&[]).unwrap();
        assert_eq!(plain.parse(b"a\tb", 1).unwrap(), (None, Some(b"a\tb".to_vec())));
        let keyed = LineReader::from_properties(&["parse.key=true".into()]).unwrap();
        assert_eq!(
            keyed.parse(b"k\tv\tw", 1).unwrap(),
            (Some(b"k".to_vec()), Some(b"v\tw".to_vec()))
        );
        assert_eq!(
            keyed.parse(b"no separator", 7).unwrap_err().to_string(),
            "No key separator found on line number 7: 'no separator'"
        );
        let colon = LineReader::from_properties(&[
            "parse.key=true".into(),
            "key.separator=::".into(),
            "null.marker=NULL".into(),
        ])
        .unwrap();
        assert_eq!(colon.parse(b"user::NULL", 1).unwrap(), (Some(b"user".to_vec()), None));
        assert_eq!(colon.parse(b"NULL::v", 1).unwrap(), (None, Some(b"v".to_vec())));
        assert_eq!(colon.parse(b"::", 1).unwrap(), (Some(Vec::new()), Some(Vec::new())));
        let lenient =
            LineReader::from_properties(&["parse.key=true".into(), "ignore.error=true".into()])
                .unwrap();
        assert_eq!(lenient.parse(b"whole", 1).unwrap(), (None, Some(b"whole".to_vec())));
        assert!(LineReader::from_properties(&["parse.headers=true".into()]).is_err());
        assert!(LineReader::from_properties(&["key.separator=x".into(), "null.marker=x".into()])
            .is_err());
        assert!(LineReader::from_properties(&["oops".into()]).is_err());
    }

    #[test]
    fn line_endings_are_stripped_like_read_line() {
        for (raw, expected) in
            [(&b"a\n"[..], &b"a"[..]), (b"a\r\n", b"a"), (b"a", b"a"), (b"\n", b"")]
        {
            let mut line = raw.to_vec();
            trim_line_ending(&mut line);
            assert_eq!(line, expected);
        }
    }

    #[test]
    fn acks_and_codecs_parse() {
        assert_eq!(parse_acks("all").unwrap(), -1);
        assert_eq!(parse_acks("-1").unwrap(), -1);
        assert_eq!(parse_acks("0").unwrap(), 0);
        assert_eq!(parse_acks("1").unwrap(), 1);
        assert!(parse_acks("2").is_err());
        assert_eq!(parse_codec("none").unwrap(), Compression::None);
        assert_eq!(parse_codec("ZSTD").unwrap(), Compression::Zstd);
        assert_eq!(parse_codec("lz4").unwrap(), Compression::Lz4);
        assert!(parse_codec("brotli").is_err());
    }

    #[test]
    fn flags_have_kafka_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: ConsoleProducerArgs,
        }
        let args = Cli::try_parse_from(["p", "--topic", "t"]).unwrap().args;
        assert_eq!(args.compression_codec, "none");
        assert_eq!(args.request_required_acks, "-1");
        assert_eq!(args.batch_size, 16384);
        assert_eq!(args.linger_ms, 1000);
        let args = Cli::try_parse_from(["p", "--compression-codec", "--topic", "t"]).unwrap().args;
        assert_eq!(args.compression_codec, "gzip", "a bare --compression-codec means gzip");
        let args = Cli::try_parse_from(["p", "--topic", "t", "--request-required-acks", "-1"])
            .unwrap()
            .args;
        assert_eq!(parse_acks(&args.request_required_acks).unwrap(), -1);
        assert!(Cli::try_parse_from(["p"]).is_err(), "--topic is required");
    }
}

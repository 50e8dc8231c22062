//! `sluice perf`: load generators that read like Kafka's (`kafka-producer-perf-test`,
//! `kafka-consumer-perf-test`), and the raw limits of this machine they are compared with
//! (`loopback`: one TCP stream on 127.0.0.1; `disk`: sequential writes to a directory).

use crate::cli::group_member::{GroupMember, GroupStatus};
use crate::client::{Client, Cluster};
use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use sluice_core::limits::{BATCH_DECOMPRESSED_BYTES_MAX, BATCH_HEADER_BYTES};
use sluice_core::protocol::api::fetch::{FetchRequest, FetchRequestPartition, FetchRequestTopic};
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::produce::{
    ProduceRequest, ProduceRequestPartition, ProduceRequestTopic,
};
use sluice_core::protocol::api::{decode_response, encode_request, Request, Response};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::record_batch::{
    build_batch_compressed, records_section, BatchHeader, BatchOptions, Compression, NewRecord,
    Records,
};
use sluice_core::protocol::wire::StrBytes;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Requests one producer connection keeps in flight (Kafka's default
/// max.in.flight.requests.per.connection).
const IN_FLIGHT_MAX: usize = 5;
const PRODUCE_VERSION: i16 = 9;
const FETCH_VERSION: i16 = 12;
const PROGRESS_SECONDS: u64 = 5;

/// `sluice perf` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PerfCommand {
    /// Produce synthetic records as fast as allowed (like kafka-producer-perf-test).
    Produce(ProduceArgs),
    /// Consume a topic from the beginning and report throughput (like kafka-consumer-perf-test).
    Consume(ConsumeArgs),
    /// Raw limit: one TCP stream over loopback, in MB/s.
    Loopback(LoopbackArgs),
    /// Raw limit: sequential writes to a directory, buffered and with an fdatasync per MiB.
    Disk(DiskArgs),
}

/// Flags of `sluice perf produce`.
#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// Broker address(es), host:port[,host:port].
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap_server: String,
    /// Topic to produce to (auto-created if the broker allows it).
    #[arg(long)]
    topic: String,
    /// Records to send.
    #[arg(long)]
    num_records: u64,
    /// Bytes per record value.
    #[arg(long)]
    record_size: usize,
    /// Records per second to aim for; -1 for as fast as possible.
    #[arg(long, allow_hyphen_values = true)]
    throughput: i64,
    /// acks: -1 (all), 0 or 1.
    #[arg(long, default_value = "-1", allow_hyphen_values = true)]
    acks: String,
    /// Bytes of records per batch (batch.size).
    #[arg(long, default_value_t = 16384)]
    batch_size: usize,
    /// linger.ms: with synthetic records batches are always full, so this only caps waiting
    /// when throttled.
    #[arg(long, default_value_t = 0)]
    linger_ms: u64,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "none")]
    compression: String,
    /// Producer connections (each with its own pipeline).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Kafka producer properties: acks, batch.size, linger.ms, compression.type.
    #[arg(long = "producer-props", num_args = 1.., value_name = "KEY=VALUE")]
    producer_props: Vec<String>,
}

/// Flags of `sluice perf consume`.
#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    /// Broker address(es).
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap_server: String,
    /// Topic to read.
    #[arg(long)]
    topic: String,
    /// Records to read before stopping.
    #[arg(long)]
    messages: u64,
    /// Consumer group: join it, read the partitions it assigns from its committed offsets,
    /// commit what was read, and leave.
    #[arg(long)]
    group: Option<String>,
    /// Start at the end of each partition instead of its start (for end-to-end latency runs
    /// beside a producer), unless the group has committed offsets.
    #[arg(long)]
    from_latest: bool,
    /// Also print end-to-end latency percentiles: receive time minus each record's
    /// timestamp (`sluice perf produce` stamps records when it sends them when throttled).
    #[arg(long)]
    latency: bool,
    /// Bytes per partition per fetch.
    #[arg(long, default_value_t = 1024 * 1024)]
    fetch_size: i32,
    /// Give up after this long without records, in ms.
    #[arg(long, default_value_t = 10_000)]
    timeout: u64,
}

/// Flags of `sluice perf loopback`.
#[derive(clap::Args, Debug)]
pub struct LoopbackArgs {
    /// Bytes to send.
    #[arg(long, default_value_t = 1 << 30)]
    bytes: u64,
}

/// Flags of `sluice perf disk`.
#[derive(clap::Args, Debug)]
pub struct DiskArgs {
    /// Directory to write a scratch file in (removed afterwards).
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Bytes to write.
    #[arg(long, default_value_t = 512 << 20)]
    bytes: u64,
    /// fdatasync after every MiB (and print fdatasync latency percentiles).
    #[arg(long)]
    sync_every_mib: bool,
}

/// Runs a `sluice perf` subcommand.
pub fn run(command: PerfCommand) -> anyhow::Result<()> {
    match command {
        PerfCommand::Produce(args) => produce(args),
        PerfCommand::Consume(args) => consume(args),
        PerfCommand::Loopback(args) => loopback(args),
        PerfCommand::Disk(args) => disk(args),
    }
}

#[derive(Default)]
struct Window {
    records: u64,
    bytes: u64,
    latency_sum_ms: f64,
    latency_max_ms: f64,
    samples: u64,
}

#[derive(Default)]
struct Stats {
    total: Window,
    window: Window,
    /// (latency in µs, records) per acknowledged batch, for percentiles.
    latencies: Vec<(u32, u32)>,
    errors: u64,
}

impl Stats {
    fn record(&mut self, records: u32, bytes: u64, latency: Duration) {
        let ms = latency.as_secs_f64() * 1000.0;
        for window in [&mut self.total, &mut self.window] {
            window.records += u64::from(records);
            window.bytes += bytes;
            window.latency_sum_ms += ms * f64::from(records);
            window.latency_max_ms = window.latency_max_ms.max(ms);
            window.samples += u64::from(records);
        }
        self.latencies.push((latency.as_micros().min(u128::from(u32::MAX)) as u32, records));
    }
}

fn line(window: &Window, seconds: f64) -> String {
    let average =
        if window.samples > 0 { window.latency_sum_ms / window.samples as f64 } else { 0.0 };
    format!(
        "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency",
        window.records,
        window.records as f64 / seconds,
        window.bytes as f64 / seconds / 1024.0 / 1024.0,
        average,
        window.latency_max_ms
    )
}

fn percentile(sorted: &[(u32, u32)], total: u64, fraction: f64) -> u64 {
    let wanted = (total as f64 * fraction).ceil() as u64;
    let mut seen = 0u64;
    for &(micros, records) in sorted {
        seen += u64::from(records);
        if seen >= wanted {
            return u64::from(micros) / 1000;
        }
    }
    sorted.last().map_or(0, |&(micros, _)| u64::from(micros) / 1000)
}

struct ProduceSettings {
    acks: i16,
    batch_size: usize,
    compression: Compression,
}

fn producer_settings(args: &ProduceArgs) -> anyhow::Result<ProduceSettings> {
    let mut acks = args.acks.clone();
    let mut batch_size = args.batch_size;
    let mut compression = args.compression.clone();
    for pair in &args.producer_props {
        let (key, value) = super::parse_key_value(pair)?;
        match key.as_str() {
            "acks" => acks = value,
            "batch.size" => batch_size = value.parse().with_context(|| format!("batch.size={value} is not a number"))?,
            "linger.ms" => {}
            "compression.type" => compression = value,
            "bootstrap.servers" | "client.id" | "buffer.memory" | "max.in.flight.requests.per.connection" => {}
            other => bail!("producer property {other:?} is not supported by sluice perf (supported: acks, batch.size, linger.ms, compression.type)"),
        }
    }
    let acks = match acks.as_str() {
        "all" | "-1" => -1,
        "0" => 0,
        "1" => 1,
        other => bail!("acks={other} must be all, -1, 0 or 1"),
    };
    let compression = match compression.as_str() {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => bail!("compression {other:?} must be none, gzip, snappy, lz4 or zstd"),
    };
    Ok(ProduceSettings { acks, batch_size: batch_size.max(1), compression })
}

fn frame(correlation: i32, version: i16, request: &Request) -> Bytes {
    let header = RequestHeader {
        api_key: request.api_key(),
        api_version: version,
        correlation_id: correlation,
        client_id: Some(StrBytes::from_static("sluice-perf")),
        ..Default::default()
    };
    let mut out = BytesMut::new();
    encode_request(&header, request, &mut out);
    out.freeze()
}

/// Reads one response frame into `buffer`'s reused space and splits it off.
fn read_frame(stream: &mut TcpStream, buffer: &mut BytesMut) -> std::io::Result<Bytes> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length)?;
    let length = i32::from_be_bytes(length);
    if !(0..=100 << 20).contains(&length) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "response frame size out of range",
        ));
    }
    buffer.clear();
    buffer.resize(length as usize, 0);
    stream.read_exact(buffer)?;
    Ok(buffer.split().freeze())
}

fn partitions_of(client: &mut Client, topic: &str) -> anyhow::Result<i32> {
    let metadata = client.metadata(Some(&[topic.to_string()]), true)?;
    let found = metadata
        .topics
        .iter()
        .find(|entry| entry.name.as_ref().is_some_and(|name| name.as_str() == topic));
    match found {
        Some(entry) if entry.error_code == 0 && !entry.partitions.is_empty() => Ok(entry.partitions.len() as i32),
        Some(entry) => bail!("topic {topic}: {}", crate::client::error_text(entry.error_code, None)),
        None => bail!("topic {topic} does not exist and was not auto-created; create it with `sluice topics --create`"),
    }
}

fn produce(args: ProduceArgs) -> anyhow::Result<()> {
    let settings = producer_settings(&args)?;
    if args.record_size == 0 || args.num_records == 0 {
        bail!("--record-size and --num-records must be positive");
    }
    let mut client = Client::connect(&args.bootstrap_server, "sluice-perf")?;
    let partitions = partitions_of(&mut client, &args.topic)?;
    let address = client.address().to_string();
    drop(client);
    let per_batch = (settings.batch_size / (args.record_size + 8)).max(1) as u64;
    let value: Vec<u8> = (0..args.record_size).map(|index| b'a' + (index % 26) as u8).collect();
    let stats = Arc::new(Mutex::new(Stats::default()));
    let started = Instant::now();
    let connections = args.connections.max(1);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reporter = {
        let (stats, done) = (stats.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= Duration::from_secs(PROGRESS_SECONDS) {
                    let mut stats = stats.lock().expect("stats");
                    println!("{}", line(&stats.window, last.elapsed().as_secs_f64()));
                    stats.window = Window::default();
                    last = Instant::now();
                }
            }
        })
    };
    let mut workers = Vec::new();
    for worker in 0..connections {
        let share = args.num_records / connections as u64
            + u64::from((worker as u64) < args.num_records % connections as u64);
        let throughput =
            if args.throughput > 0 { args.throughput as f64 / connections as f64 } else { -1.0 };
        let (address, topic, value, stats) =
            (address.clone(), args.topic.clone(), value.clone(), stats.clone());
        let (acks, compression) = (settings.acks, settings.compression);
        workers.push(std::thread::spawn(move || -> anyhow::Result<()> {
            produce_connection(
                &address,
                &topic,
                partitions,
                worker,
                connections,
                share,
                per_batch,
                &value,
                acks,
                compression,
                throughput,
                &stats,
            )
        }));
    }
    let mut first_error = None;
    for worker in workers {
        if let Err(error) = worker.join().expect("worker") {
            first_error.get_or_insert(error);
        }
    }
    // Timed before the reporter is joined: it wakes every 100 ms, which would round the
    // run's duration up.
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = reporter.join();
    if let Some(error) = first_error {
        return Err(error);
    }
    let mut stats = stats.lock().expect("stats");
    let total_records = stats.total.records;
    stats.latencies.sort_unstable();
    let sorted = std::mem::take(&mut stats.latencies);
    println!(
        "{}, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        line(&stats.total, seconds),
        percentile(&sorted, total_records, 0.50),
        percentile(&sorted, total_records, 0.95),
        percentile(&sorted, total_records, 0.99),
        percentile(&sorted, total_records, 0.999)
    );
    if stats.errors > 0 {
        bail!("{} produce requests failed", stats.errors);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn produce_connection(
    address: &str,
    topic: &str,
    partitions: i32,
    worker: usize,
    connections: usize,
    records: u64,
    per_batch: u64,
    value: &[u8],
    acks: i16,
    compression: Compression,
    throughput: f64,
    stats: &Arc<Mutex<Stats>>,
) -> anyhow::Result<()> {
    let mut stream =
        TcpStream::connect(address).with_context(|| format!("cannot connect to {address}"))?;
    stream.set_nodelay(true)?;
    let mut reader = stream.try_clone()?;
    let (tokens_give, tokens_take) = mpsc::sync_channel::<()>(IN_FLIGHT_MAX);
    for _ in 0..IN_FLIGHT_MAX {
        tokens_give.send(()).expect("tokens");
    }
    let (sent_give, sent_take) = mpsc::channel::<(i32, Instant, u32, u64)>();
    let reader_thread = if acks != 0 {
        let tokens = tokens_give.clone();
        let stats = stats.clone();
        Some(std::thread::spawn(move || -> anyhow::Result<u64> {
            let mut errors = 0u64;
            let mut buffer = BytesMut::new();
            while let Ok((correlation, sent_at, count, bytes)) = sent_take.recv() {
                let body =
                    read_frame(&mut reader, &mut buffer).context("reading a produce response")?;
                let (header, response) = decode_response(0, PRODUCE_VERSION, body)?;
                if header.correlation_id != correlation {
                    bail!("responses arrived out of order");
                }
                let failed = match response {
                    Response::Produce(response) => response
                        .responses
                        .iter()
                        .flat_map(|topic| &topic.partition_responses)
                        .map(|partition| partition.error_code)
                        .find(|&code| code != 0),
                    _ => Some(-1),
                };
                if let Some(code) = failed {
                    if errors == 0 {
                        eprintln!(
                            "a produce request failed: {}",
                            crate::client::error_text(code, None)
                        );
                    }
                    errors += 1;
                } else {
                    stats.lock().expect("stats").record(count, bytes, sent_at.elapsed());
                }
                let _ = tokens.send(());
            }
            Ok(errors)
        }))
    } else {
        None
    };
    // A batch template per size; the broker stamps offsets, so identical bytes are fine.
    // Throttled runs build each batch as it is sent and put the send time in µs in each key,
    // so `perf consume --latency` measures end-to-end latency finer than the ms timestamp.
    let build = |count: u64| -> anyhow::Result<Bytes> {
        let sent_us = (throughput > 0.0).then(|| {
            let mut key = SEND_STAMP_MAGIC.to_vec();
            key.extend_from_slice(&now_us().to_be_bytes());
            key
        });
        let list: Vec<NewRecord<'_>> = (0..count)
            .map(|_| NewRecord {
                key: sent_us.as_ref().map(|stamp| &stamp[..]),
                value: Some(value),
                timestamp_ms: now_ms(),
                ..Default::default()
            })
            .collect();
        Ok(Bytes::from(
            build_batch_compressed(&list, BatchOptions::default(), compression)
                .map_err(|error| anyhow::anyhow!("{error}"))?,
        ))
    };
    let full = build(per_batch)?;
    let started = Instant::now();
    let (mut sent, mut correlation, mut partition_index) = (0u64, 0i32, 0i32);
    let own: Vec<i32> = (0..partitions)
        .filter(|partition| {
            (*partition as usize) % connections == worker % partitions.max(1) as usize
                || partitions as usize <= worker
        })
        .collect();
    let own = if own.is_empty() { (0..partitions).collect() } else { own };
    while sent < records {
        let count = per_batch.min(records - sent);
        // A slot in the pipeline first, so a throttled batch's send stamp does not count the
        // wait for one as latency.
        if acks != 0 {
            tokens_take.recv().expect("a token comes back with each response");
        }
        // Throttled runs stamp each batch when it is sent, for end-to-end latency.
        let batch =
            if count == per_batch && throughput <= 0.0 { full.clone() } else { build(count)? };
        let partition = own[partition_index as usize % own.len()];
        partition_index += 1;
        correlation += 1;
        let request = Request::Produce(ProduceRequest {
            acks,
            timeout_ms: 30_000,
            topic_data: vec![ProduceRequestTopic {
                name: StrBytes::from_string(topic.to_string()),
                partition_data: vec![ProduceRequestPartition {
                    index: partition,
                    records: Some(batch),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let bytes = count * value.len() as u64;
        if acks != 0 {
            sent_give.send((correlation, Instant::now(), count as u32, bytes)).expect("reader");
        }
        stream
            .write_all(&frame(correlation, PRODUCE_VERSION, &request))
            .context("sending a produce request")?;
        if acks == 0 {
            stats.lock().expect("stats").record(count as u32, bytes, Duration::ZERO);
        }
        sent += count;
        if throughput > 0.0 {
            let due = Duration::from_secs_f64(sent as f64 / throughput);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    drop(sent_give);
    if let Some(reader) = reader_thread {
        let errors = reader.join().expect("reader")?;
        stats.lock().expect("stats").errors += errors;
    }
    Ok(())
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros() as i64)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// `yyyy-MM-dd HH:mm:ss:SSS` in UTC, as Kafka's consumer perf CSV prints times.
fn timestamp(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}:{:03}",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// Offsets of `partitions` of `topic` at `timestamp` (-1 latest, -2 earliest).
fn list_offsets(
    client: &mut Client,
    topic: &str,
    partitions: &[i32],
    timestamp: i64,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let request = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsRequestTopic {
            name: StrBytes::from_string(topic.to_string()),
            partitions: partitions
                .iter()
                .map(|&partition_index| ListOffsetsRequestPartition {
                    partition_index,
                    timestamp,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let Response::ListOffsets(offsets) = client.send(Request::ListOffsets(request))? else {
        bail!("unexpected ListOffsets answer")
    };
    let mut found = BTreeMap::new();
    for partition in offsets.topics.iter().flat_map(|topic| &topic.partitions) {
        if partition.error_code != 0 {
            bail!(
                "ListOffsets of {topic}-{}: {}",
                partition.partition_index,
                crate::client::error_text(partition.error_code, None)
            );
        }
        found.insert(partition.partition_index, partition.offset.max(0));
    }
    Ok(found)
}

/// Where a consumer starts: committed offsets (with a group), else the earliest or latest.
fn start_positions(
    client: &mut Client,
    member: Option<&mut GroupMember>,
    args: &ConsumeArgs,
    partitions: &[i32],
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let reset = if args.from_latest { -1 } else { -2 };
    let mut positions = list_offsets(client, &args.topic, partitions, reset)?;
    if let Some(member) = member {
        positions.extend(member.committed(&args.topic, partitions)?);
    }
    Ok(positions)
}

/// Latency in µs of each record of `batch` received at `now_us`: from the send time a throttled
/// `perf produce` puts in the key ([`SEND_STAMP_MAGIC`] then 8 bytes of µs), else from the
/// record timestamp (ms).
fn record_latencies(header: &BatchHeader, batch: &[u8], now_us: i64, out: &mut Vec<u32>) {
    let body = if header.compression() == Compression::None {
        std::borrow::Cow::Borrowed(&batch[BATCH_HEADER_BYTES..])
    } else {
        match records_section(header, batch, BATCH_DECOMPRESSED_BYTES_MAX) {
            Ok(records) => std::borrow::Cow::Owned(records),
            Err(_) => return,
        }
    };
    for record in Records::new(header, &body).flatten() {
        if out.len() >= LATENCY_SAMPLES_MAX {
            return;
        }
        let stamp = record.key.and_then(|key| key.strip_prefix(SEND_STAMP_MAGIC));
        let sent_us = match stamp.map(<[u8; 8]>::try_from) {
            Some(Ok(stamp)) => i64::from_be_bytes(stamp),
            _ => header.base_timestamp.wrapping_add(record.timestamp_delta).saturating_mul(1000),
        };
        out.push(now_us.saturating_sub(sent_us).clamp(0, i64::from(u32::MAX)) as u32);
    }
}

/// Marks a key that holds a throttled `perf produce`'s send time, so another producer's
/// 8-byte keys are not taken for one.
const SEND_STAMP_MAGIC: &[u8] = b"sluice-perf-sent-us:";

/// Latency samples kept by `perf consume --latency`.
const LATENCY_SAMPLES_MAX: usize = 50_000_000;

fn consume(args: ConsumeArgs) -> anyhow::Result<()> {
    let mut client = Client::connect(&args.bootstrap_server, "sluice-perf")?;
    let partition_count = partitions_of(&mut client, &args.topic)?;
    let rebalance_started = Instant::now();
    let mut group = match &args.group {
        Some(group_id) => {
            let mut cluster = Cluster::connect(&args.bootstrap_server, "sluice-perf")?;
            let member = GroupMember::connect(&mut cluster, group_id, "sluice-perf")?;
            Some((cluster, member))
        }
        None => None,
    };
    let mut assigned: Vec<i32> = (0..partition_count).collect();
    if let Some((cluster, member)) = group.as_mut() {
        let assignment = member.join(cluster, std::slice::from_ref(&args.topic))?;
        assigned = assignment.get(&args.topic).cloned().unwrap_or_default();
    }
    let rebalance_ms = rebalance_started.elapsed().as_millis();
    let mut positions =
        start_positions(&mut client, group.as_mut().map(|(_, member)| member), &args, &assigned)?;
    let address = client.address().to_string();
    let mut stream =
        TcpStream::connect(&address).with_context(|| format!("cannot connect to {address}"))?;
    let start_ms = now_ms();
    let started = Instant::now();
    let (mut messages, mut bytes, mut correlation) = (0u64, 0u64, 0i32);
    let mut latencies: Vec<u32> = Vec::new();
    let mut buffer = BytesMut::new();
    let mut last_data = Instant::now();
    while messages < args.messages {
        if last_data.elapsed() > Duration::from_millis(args.timeout) {
            eprintln!("WARNING: exiting before consuming the expected number of messages: timeout ({} ms) exceeded", args.timeout);
            break;
        }
        if let Some((cluster, member)) = group.as_mut() {
            if member.heartbeat_if_due()? == GroupStatus::Rejoin {
                let assignment = member.join(cluster, std::slice::from_ref(&args.topic))?;
                assigned = assignment.get(&args.topic).cloned().unwrap_or_default();
                positions = start_positions(&mut client, Some(member), &args, &assigned)?;
            }
        }
        correlation += 1;
        let request = Request::Fetch(FetchRequest {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 50 << 20,
            topics: vec![FetchRequestTopic {
                topic: StrBytes::from_string(args.topic.clone()),
                partitions: positions
                    .iter()
                    .map(|(&partition, &offset)| FetchRequestPartition {
                        partition,
                        fetch_offset: offset,
                        partition_max_bytes: args.fetch_size,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        });
        stream.write_all(&frame(correlation, FETCH_VERSION, &request))?;
        let (_, response) =
            decode_response(1, FETCH_VERSION, read_frame(&mut stream, &mut buffer)?)?;
        let received_us = now_us();
        let Response::Fetch(response) = response else { bail!("unexpected Fetch answer") };
        for partition in response.responses.iter().flat_map(|topic| &topic.partitions) {
            if partition.error_code != 0 {
                bail!(
                    "partition {}: {}",
                    partition.partition_index,
                    crate::client::error_text(partition.error_code, None)
                );
            }
            let Some(position) = positions.get_mut(&partition.partition_index) else {
                continue;
            };
            let records = partition.records.clone().unwrap_or_default();
            let mut at = 0;
            while let Ok(header) = BatchHeader::parse(&records[at..]) {
                let end = at + header.size_bytes();
                if end > records.len() {
                    break;
                }
                let skipped = (*position - header.base_offset).max(0) as u64;
                messages += u64::from(header.records_count.max(0) as u32).saturating_sub(skipped);
                bytes += header.size_bytes() as u64;
                *position = header.next_offset();
                if args.latency {
                    record_latencies(&header, &records[at..end], received_us, &mut latencies);
                }
                last_data = Instant::now();
                at = end;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    if let Some((_, member)) = group.as_mut() {
        member.commit(&args.topic, &positions)?;
        member.leave()?;
    }
    let megabytes = bytes as f64 / 1024.0 / 1024.0;
    println!("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec");
    println!(
        "{}, {}, {megabytes:.4}, {:.4}, {messages}, {:.4}, {rebalance_ms}, {}, {:.4}, {:.4}",
        timestamp(start_ms),
        timestamp(now_ms()),
        megabytes / seconds,
        messages as f64 / seconds,
        (seconds * 1000.0) as u64,
        megabytes / seconds,
        messages as f64 / seconds
    );
    if args.latency {
        println!("{}", latency_line(&mut latencies));
    }
    Ok(())
}

/// `end-to-end latency: N records, avg …, p50 …, p99 …, p99.9 …, max … ms` from µs samples.
fn latency_line(samples: &mut [u32]) -> String {
    if samples.is_empty() {
        return "end-to-end latency: no records".to_string();
    }
    samples.sort_unstable();
    let at = |fraction: f64| {
        let index = ((samples.len() as f64 * fraction).ceil() as usize).clamp(1, samples.len());
        f64::from(samples[index - 1]) / 1000.0
    };
    let average =
        samples.iter().map(|&us| u64::from(us)).sum::<u64>() as f64 / samples.len() as f64 / 1000.0;
    format!(
        "end-to-end latency: {} records, avg {average:.2} ms, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        samples.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    )
}

fn loopback(args: LoopbackArgs) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let total = args.bytes;
    let server = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut socket, _) = listener.accept()?;
        let mut buffer = vec![0u8; 1 << 20];
        let mut received = 0u64;
        while received < total {
            let read = socket.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            received += read as u64;
        }
        Ok(received)
    });
    let mut client = TcpStream::connect(address)?;
    let chunk = vec![7u8; 1 << 20];
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let size = (total - sent).min(chunk.len() as u64) as usize;
        client.write_all(&chunk[..size])?;
        sent += size as u64;
    }
    drop(client);
    let received = server.join().expect("server")?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "loopback: {received} bytes in {seconds:.3} s: {:.1} MB/s",
        received as f64 / seconds / 1e6
    );
    Ok(())
}

fn disk(args: DiskArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let path = args.dir.join(".sluice-perf-disk");
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let chunk = vec![7u8; 1 << 20];
    let started = Instant::now();
    let mut written = 0u64;
    let mut sync_us: Vec<u64> = Vec::new();
    while written < args.bytes {
        file.write_all(&chunk)?;
        written += chunk.len() as u64;
        if args.sync_every_mib {
            let before = Instant::now();
            file.sync_data()?;
            sync_us.push(before.elapsed().as_micros() as u64);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(file);
    let _ = std::fs::remove_file(&path);
    let mode = if args.sync_every_mib { "write+fdatasync per MiB" } else { "buffered write" };
    println!(
        "disk {mode}: {written} bytes in {seconds:.3} s: {:.1} MB/s",
        written as f64 / seconds / 1e6
    );
    if !sync_us.is_empty() {
        sync_us.sort_unstable();
        let at = |fraction: f64| {
            let index = ((sync_us.len() as f64 * fraction).ceil() as usize).clamp(1, sync_us.len());
            sync_us[index - 1] as f64 / 1000.0
        };
        println!(
            "fdatasync latency over {} calls: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            sync_us.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_percentiles_are_exact() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00:000");
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14 22:13:20:123");
        let sorted = vec![(1_000, 50), (2_000, 45), (9_000, 4), (50_000, 1)];
        assert_eq!(percentile(&sorted, 100, 0.50), 1);
        assert_eq!(percentile(&sorted, 100, 0.95), 2);
        assert_eq!(percentile(&sorted, 100, 0.99), 9);
        assert_eq!(percentile(&sorted, 100, 0.999), 50);
    }
}

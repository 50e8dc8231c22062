//! End to end: the real `sluice` binary on 127.0.0.1 with real Kafka clients (kcat and
//! kafka-python), restarts clean and unclean, and hostile bytes on the port.

use sluice_tests::broker::{require_kafka_python, require_kcat, run, Broker};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn keyed_lines(count: usize, tag: &str) -> Vec<u8> {
    (0..count)
        .map(|index| format!("key{}:{tag}-{index}\n", index % 97))
        .collect::<String>()
        .into_bytes()
}

/// Consumes a whole topic with kcat: (partition, offset, key, value) in per-partition order.
fn consume_all(bootstrap: &str, topic: &str) -> Vec<(i32, i64, String, String)> {
    let out = run(
        "kcat",
        &["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p %o %k %s\n"],
        None,
    );
    out.lines()
        .map(|line| {
            let mut fields = line.splitn(4, ' ');
            let partition = fields.next().expect("partition").parse().expect("number");
            let offset = fields.next().expect("offset").parse().expect("number");
            (
                partition,
                offset,
                fields.next().expect("key").to_string(),
                fields.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn kcat_metadata_produce_with_gzip_and_zstd_and_consume_in_order() {
    require_kcat();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &["num.partitions=3"]);
    let bootstrap = broker.bootstrap();
    let metadata = run("kcat", &["-b", &bootstrap, "-L"], None);
    assert!(metadata.contains(&format!("broker 1 at 127.0.0.1:{}", broker.port)), "{metadata}");
    for codec in ["gzip", "zstd"] {
        let input = keyed_lines(10_000, codec);
        run(
            "kcat",
            &["-b", &bootstrap, "-P", "-t", "orders", "-K:", "-z", codec, "-X", "acks=all"],
            Some(&input),
        );
    }
    let records = consume_all(&bootstrap, "orders");
    assert_eq!(records.len(), 20_000);
    let mut key_partition: BTreeMap<String, i32> = BTreeMap::new();
    let mut last_offset: BTreeMap<i32, i64> = BTreeMap::new();
    let mut per_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (partition, offset, key, value) in &records {
        let first = *key_partition.entry(key.clone()).or_insert(*partition);
        assert_eq!(first, *partition, "key {key} landed on two partitions");
        let previous = last_offset.insert(*partition, *offset);
        assert!(
            previous.is_none_or(|previous| previous + 1 == *offset),
            "partition {partition} skips or repeats at {offset}"
        );
        per_key.entry(key.clone()).or_default().push(value.clone());
    }
    assert_eq!(last_offset.len(), 3, "records spread over the three partitions");
    // Within a key, records come back in the order they were produced.
    for (key, values) in per_key {
        let expected: Vec<String> = ["gzip", "zstd"]
            .iter()
            .flat_map(|tag| {
                (0..10_000)
                    .filter(|index| format!("key{}", index % 97) == key)
                    .map(move |index| format!("{tag}-{index}"))
            })
            .collect();
        assert_eq!(values, expected, "order of key {key}");
    }
}

#[test]
fn kafka_python_producer_and_consumer_from_the_kafka_docs() {
    require_kafka_python();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let script = format!(
        r#"
from kafka import KafkaProducer, KafkaConsumer
producer = KafkaProducer(bootstrap_servers='{bootstrap}')
producer.send('my-topic', b'raw_bytes')
producer.flush()
consumer = KafkaConsumer('my-topic', bootstrap_servers='{bootstrap}', auto_offset_reset='earliest', consumer_timeout_ms=10000)
for message in consumer:
    print(message.topic, message.partition, message.offset, message.value.decode())
    break
"#,
        bootstrap = broker.bootstrap()
    );
    let out = run("python3", &["-c", &script], None);
    assert_eq!(out.trim(), "my-topic 0 0 raw_bytes");
}

#[test]
fn a_clean_restart_keeps_the_data_and_skips_recovery() {
    require_kcat();
    let dir = tempfile::tempdir().expect("dir");
    let mut broker = Broker::start(dir.path(), &[]);
    run(
        "kcat",
        &["-b", &broker.bootstrap(), "-P", "-t", "kept", "-K:", "-X", "acks=all"],
        Some(&keyed_lines(500, "a")),
    );
    assert!(broker.stop(), "SIGTERM exits 0");
    assert!(broker.stderr.contains("stopped cleanly"), "{}", broker.stderr);
    let mut again = broker.restart();
    assert_eq!(consume_all(&again.bootstrap(), "kept").len(), 500);
    assert!(again.stop());
    assert!(!again.stderr.contains("not clean"), "{}", again.stderr);
}

#[test]
fn after_kill_9_mid_produce_every_acknowledged_record_survives_and_offsets_continue() {
    require_kafka_python();
    let dir = tempfile::tempdir().expect("dir");
    let mut broker = Broker::start(dir.path(), &[]);
    // A producer that prints each acknowledged record's offset, until the broker dies.
    let script = format!(
        r#"
import sys
from kafka import KafkaProducer
producer = KafkaProducer(bootstrap_servers='{bootstrap}', acks='all', retries=0, linger_ms=1)
for index in range(1000000):
    future = producer.send('crash', ('v%d' % index).encode())
    try:
        metadata = future.get(timeout=5)
    except Exception:
        break
    print(metadata.offset, 'v%d' % index, flush=True)
"#,
        bootstrap = broker.bootstrap()
    );
    let mut producer = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("producer");
    let mut stdout = producer.stdout.take().expect("stdout");
    let mut acknowledged = String::new();
    let mut buffer = [0u8; 4096];
    while acknowledged.lines().count() < 300 {
        let read = stdout.read(&mut buffer).expect("read");
        assert!(read > 0, "the producer stopped early");
        acknowledged.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    broker.kill();
    let _ = stdout.read_to_string(&mut acknowledged);
    let _ = producer.wait();
    let acked: Vec<(i64, String)> = acknowledged
        .lines()
        .filter_map(|line| {
            line.split_once(' ')
                .map(|(offset, value)| (offset.parse().expect("offset"), value.to_string()))
        })
        .collect();
    assert!(acked.len() >= 300);
    let restarted = broker.restart();
    require_kcat();
    let stored: BTreeMap<i64, String> = consume_all(&restarted.bootstrap(), "crash")
        .into_iter()
        .map(|(_, offset, _, value)| (offset, value))
        .collect();
    for (offset, value) in &acked {
        assert_eq!(
            stored.get(offset),
            Some(value),
            "acknowledged record at offset {offset} was lost"
        );
    }
    // New records continue after everything stored: no offset is handed out twice.
    let next = stored.keys().max().map_or(0, |last| last + 1);
    run(
        "kcat",
        &["-b", &restarted.bootstrap(), "-P", "-t", "crash", "-X", "acks=all"],
        Some(b"after\n"),
    );
    let after = consume_all(&restarted.bootstrap(), "crash");
    let last = after.last().expect("records");
    assert_eq!((last.1, last.3.as_str()), (next, "after"));
}

#[test]
fn hostile_bytes_leave_the_broker_serving_and_the_data_intact() {
    require_kcat();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let bootstrap = broker.bootstrap();
    run("kcat", &["-b", &bootstrap, "-P", "-t", "safe", "-X", "acks=all"], Some(b"one\ntwo\n"));
    let hostile: Vec<Vec<u8>> = vec![
        vec![0xff, 0xff, 0xff, 0xff],                          // negative length
        vec![0x7f, 0xff, 0xff, 0xff],                          // 2 GiB frame
        vec![0, 0, 0, 4, 0, 3, 0],                             // truncated header, then EOF
        vec![0, 0, 0, 10, 0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff], // Produce v9 with no body
        vec![0, 0, 0, 8, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1],        // unknown API key
        (0..300u32).map(|index| (index * 7919 % 251) as u8).collect(),
    ];
    for bytes in hostile {
        let mut stream = TcpStream::connect(&bootstrap).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let _ = stream.write_all(&bytes);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
    let values: Vec<String> =
        consume_all(&bootstrap, "safe").into_iter().map(|record| record.3).collect();
    assert_eq!(values, vec!["one", "two"]);
    run("kcat", &["-b", &bootstrap, "-P", "-t", "safe", "-X", "acks=all"], Some(b"three\n"));
    assert_eq!(consume_all(&bootstrap, "safe").len(), 3);
}

#[test]
fn kafka_python_admin_creates_topics_as_kafka_streams_does_and_sees_append_times() {
    // Kafka Streams creates its internal topics with message.timestamp.type=CreateTime; a
    // LogAppendTime topic stamps records with the broker's time, which the producer's
    // RecordMetadata and the consumer both report; compression.type re-encodes; and
    // DescribeConfigs names each value's source.
    require_kafka_python();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &["log.retention.ms=172800000"]);
    let script = format!(
        r#"
import time
from kafka import KafkaProducer, KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic, ConfigResource, ConfigResourceType
admin = KafkaAdminClient(bootstrap_servers='{bootstrap}')
admin.create_topics([
    NewTopic('app-store-changelog', 1, 1, topic_configs={{'cleanup.policy': 'compact', 'message.timestamp.type': 'CreateTime'}}),
    NewTopic('stamped', 1, 1, topic_configs={{'message.timestamp.type': 'LogAppendTime', 'compression.type': 'gzip'}}),
])
producer = KafkaProducer(bootstrap_servers='{bootstrap}', acks='all')
before = int(time.time() * 1000)
metadata = producer.send('stamped', b'v', timestamp_ms=1000).get(timeout=30)
after = int(time.time() * 1000)
print('append time in range', before - 5000 <= metadata.timestamp <= after + 5000)
consumer = KafkaConsumer('stamped', bootstrap_servers='{bootstrap}', auto_offset_reset='earliest', consumer_timeout_ms=10000)
for message in consumer:
    print('consumed', message.value.decode(), message.timestamp_type, message.timestamp == metadata.timestamp)
    break
resource = ConfigResource(ConfigResourceType.TOPIC, 'stamped')
configs = admin.describe_configs([resource], include_synonyms=True, config_filter='all')['topic']['stamped']
for name in ('compression.type', 'message.timestamp.type', 'retention.ms', 'segment.ms'):
    entry = configs[name]
    synonyms = ' '.join(s['name'] + '=' + s['value'] + '/' + s['source'] for s in entry['synonyms'])
    print(name, entry['value'], entry['config_source'], entry['config_type'], synonyms)
"#,
        bootstrap = broker.bootstrap()
    );
    let out = run("python3", &["-c", &script], None);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "append time in range True",
            "consumed v 1 True",
            "compression.type gzip DYNAMIC_TOPIC_CONFIG STRING compression.type=gzip/\
             DYNAMIC_TOPIC_CONFIG compression.type=producer/DEFAULT_CONFIG",
            "message.timestamp.type LogAppendTime DYNAMIC_TOPIC_CONFIG STRING \
             message.timestamp.type=LogAppendTime/DYNAMIC_TOPIC_CONFIG \
             log.message.timestamp.type=CreateTime/DEFAULT_CONFIG",
            "retention.ms 172800000 STATIC_BROKER_CONFIG LONG \
             log.retention.ms=172800000/STATIC_BROKER_CONFIG log.retention.hours=168/DEFAULT_CONFIG",
            "segment.ms 604800000 DEFAULT_CONFIG LONG ",
        ],
        "{out}"
    );
}

#[test]
fn kafka_python_admin_describes_log_dirs_with_partition_sizes_and_room() {
    // What kafka-ui, AKHQ and kafka-log-dirs.sh read for topic sizes: DescribeLogDirs names the
    // data directory by its absolute path, gives each partition's bytes, and (v4) the volume's
    // total and usable bytes.
    require_kafka_python();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let script = format!(
        r#"
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
admin = KafkaAdminClient(bootstrap_servers='{bootstrap}')
admin.create_topics([NewTopic('sized', 2, 1)])
producer = KafkaProducer(bootstrap_servers='{bootstrap}', acks='all')
for i in range(5):
    producer.send('sized', b'value-%d' % i, partition=0).get(timeout=30)
for asked in (None, {{'sized': [1]}}):
    (broker,) = admin.describe_log_dirs(topic_partitions=asked)
    (result,) = broker['log_dirs']
    print('dir', result['error_code'], result['log_dir'] == '{data}')
    print('room', 0 < result['usable_bytes'] <= result['total_bytes'])
    for topic in result['topics']:
        for p in topic['partitions']:
            print(topic['name'], p['partition_index'], p['partition_size'] > 0, p['offset_lag'], p['is_future_key'])
"#,
        bootstrap = broker.bootstrap(),
        data = dir.path().display()
    );
    let out = run("python3", &["-c", &script], None);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "dir 0 True",
            "room True",
            "sized 0 True 0 False",
            "sized 1 False 0 False",
            "dir 0 True",
            "room True",
            "sized 1 False 0 False",
        ],
        "{out}"
    );
}

#[test]
fn kafka_python_admin_describes_the_idempotent_producers_of_a_partition() {
    // kafka-python 3 producers are idempotent by default: DescribeProducers lists the one that
    // wrote, with the sequence of its last record (KIP-664's describe-producers).
    require_kafka_python();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let script = format!(
        r#"
from kafka import KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
admin = KafkaAdminClient(bootstrap_servers='{bootstrap}')
admin.create_topics([NewTopic('tracked', 1, 1)])
producer = KafkaProducer(bootstrap_servers='{bootstrap}', enable_idempotence=True, acks='all', linger_ms=0)
for i in range(3):
    producer.send('tracked', b'v%d' % i, partition=0).get(timeout=30)
states = admin.describe_producers([TopicPartition('tracked', 0)])
(state,) = states[TopicPartition('tracked', 0)].active_producers
print('producers', len(states), state.producer_id >= 0, state.producer_epoch, state.last_sequence, state.last_timestamp > 0, state.coordinator_epoch, state.current_transaction_start_offset)
try:
    admin.describe_producers([TopicPartition('tracked', 5)])
except Exception as error:
    print('missing', type(error).__name__)
"#,
        bootstrap = broker.bootstrap()
    );
    let out = run("python3", &["-c", &script], None);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["producers 1 True 0 2 True -1 -1", "missing UnknownTopicOrPartitionError"],
        "{out}"
    );
}

//! librdkafka (through kcat) against the real binary: its balanced consumer (`kcat -G`) joins,
//! splits and commits like Kafka's, and its idempotent producer (`enable.idempotence=true`)
//! writes every record exactly once across a broker restart.

use sluice_tests::broker::{require_kcat, run, sluice_binary, Broker};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A `kcat -G` balanced consumer whose stdout (records) and stderr (rebalance notices) are read
/// by threads.
struct GroupConsumer {
    child: Child,
    records: Receiver<(i32, i64, String)>,
    notices: Receiver<String>,
    seen: Vec<(i32, i64, String)>,
    /// The partitions of the last "assigned:" notice.
    assigned: Vec<i32>,
}

impl GroupConsumer {
    fn start(bootstrap: &str, group: &str, topic: &str, strategy: &str) -> Self {
        let mut child = Command::new("kcat")
            .args(["-b", bootstrap, "-G", group, "-u", "-f", "%p %o %s\n", topic])
            .args(["-X", "auto.offset.reset=earliest"])
            .args(["-X", &format!("partition.assignment.strategy={strategy}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kcat -G");
        let (record_sender, records) = channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut fields = line.splitn(3, ' ');
                let partition = fields.next().and_then(|text| text.parse().ok());
                let offset = fields.next().and_then(|text| text.parse().ok());
                if let (Some(partition), Some(offset)) = (partition, offset) {
                    let value = fields.next().unwrap_or("").to_string();
                    let _ = record_sender.send((partition, offset, value));
                }
            }
        });
        let (notice_sender, notices) = channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = notice_sender.send(line);
            }
        });
        Self { child, records, notices, seen: Vec::new(), assigned: Vec::new() }
    }

    /// Reads what arrived so far.
    fn drain(&mut self) {
        self.seen.extend(self.records.try_iter());
        let partitions = |list: &str| -> Vec<i32> {
            list.split(", ")
                .filter_map(|item| item.split('[').nth(1)?.trim_end_matches(']').parse().ok())
                .collect()
        };
        for line in self.notices.try_iter() {
            // Eager: "% Group g rebalanced (memberid …): assigned: t [0], t [1]" (or revoked).
            // Cooperative: "… incremental assignment of 2 partition(s) (…): t [1], t [0]" (or
            // "incremental revoke of"), which add to or take from what the member holds.
            let incremental = line.rsplit_once("COOPERATIVE rebalance protocol): ");
            if let Some((_, list)) = line.split_once("assigned: ") {
                self.assigned = partitions(list);
            } else if line.contains("revoked: ") {
                self.assigned.clear();
            } else if let Some((head, list)) = incremental {
                let changed = partitions(list);
                if head.contains("incremental assignment") {
                    self.assigned.extend(changed);
                } else {
                    self.assigned.retain(|partition| !changed.contains(partition));
                }
            } else if line.contains("ERROR") || line.contains("FAIL") {
                panic!("kcat -G reported: {line}");
            }
            self.assigned.sort_unstable();
            self.assigned.dedup();
        }
    }

    /// SIGTERM: kcat leaves the group and commits on the way out.
    fn stop(mut self) -> Vec<(i32, i64, String)> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "kcat -G did not exit within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        self.drain();
        self.seen
    }
}

/// Waits up to 60 s for `done` over the consumers, draining them as it goes.
fn wait_for(
    consumers: &mut [&mut GroupConsumer],
    what: &str,
    done: impl Fn(&[&mut GroupConsumer]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for consumer in consumers.iter_mut() {
            consumer.drain();
        }
        if done(consumers) {
            return;
        }
        let state: Vec<_> = consumers
            .iter()
            .map(|consumer| (consumer.assigned.clone(), consumer.seen.len()))
            .collect();
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {state:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn produce(bootstrap: &str, topic: &str, from: usize, count: usize) {
    let lines: String = (from..from + count).map(|index| format!("k{index}:v{index}\n")).collect();
    run(
        "kcat",
        &["-b", bootstrap, "-P", "-t", topic, "-K:", "-X", "acks=all"],
        Some(lines.as_bytes()),
    );
}

/// Two `kcat -G` members split a 4-partition topic two and two, each record reaches exactly one
/// of them, and after they leave (committing), a new member of the group starts where they
/// stopped: it reads only what was produced afterwards. With librdkafka's range assignor
/// (its default), roundrobin, and cooperative-sticky (incremental rebalances).
#[test]
fn kcat_balanced_consumers_split_a_topic_and_resume_from_commits() {
    require_kcat();
    for strategy in ["range", "roundrobin", "cooperative-sticky"] {
        balanced_consumers_split_and_resume(strategy);
    }
}

fn balanced_consumers_split_and_resume(strategy: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let bootstrap = broker.bootstrap();
    let sluice = sluice_binary();
    let create = ["topics", "--bootstrap-server", &bootstrap, "--create", "--topic", "balanced"];
    run(sluice.to_str().expect("path"), &[&create[..], &["--partitions", "4"]].concat(), None);

    let mut first = GroupConsumer::start(&bootstrap, "kcat-group", "balanced", strategy);
    wait_for(&mut [&mut first], "the first member to own every partition", |members| {
        members[0].assigned == [0, 1, 2, 3]
    });
    let mut second = GroupConsumer::start(&bootstrap, "kcat-group", "balanced", strategy);
    wait_for(&mut [&mut first, &mut second], "two members with two partitions each", |members| {
        members.iter().all(|member| member.assigned.len() == 2)
    });
    let mut owned: Vec<i32> = first.assigned.iter().chain(&second.assigned).copied().collect();
    owned.sort_unstable();
    assert_eq!(owned, [0, 1, 2, 3], "{strategy}: the members' assignments overlap or leave a gap");

    produce(&bootstrap, "balanced", 0, 400);
    wait_for(&mut [&mut first, &mut second], "400 records", |members| {
        members.iter().map(|member| member.seen.len()).sum::<usize>() >= 400
    });
    let first_partitions = first.assigned.clone();
    let second_partitions = second.assigned.clone();
    let (first_seen, second_seen) = (first.stop(), second.stop());
    for (seen, partitions) in [(&first_seen, &first_partitions), (&second_seen, &second_partitions)]
    {
        assert!(
            seen.iter().all(|(partition, _, _)| partitions.contains(partition)),
            "a member read a partition it did not own: owned {partitions:?}"
        );
    }
    let all: Vec<&(i32, i64, String)> = first_seen.iter().chain(&second_seen).collect();
    let distinct: BTreeSet<(i32, i64)> = all.iter().map(|record| (record.0, record.1)).collect();
    assert_eq!(all.len(), 400, "records read twice or missed");
    assert_eq!(distinct.len(), 400);
    let values: BTreeSet<&str> = all.iter().map(|record| record.2.as_str()).collect();
    assert_eq!(values.len(), 400);

    // Both left and committed: a new member resumes at the commits.
    produce(&bootstrap, "balanced", 400, 40);
    let mut third = GroupConsumer::start(&bootstrap, "kcat-group", "balanced", strategy);
    wait_for(&mut [&mut third], "the 40 new records", |members| members[0].seen.len() >= 40);
    std::thread::sleep(Duration::from_millis(500));
    let third_seen = third.stop();
    let mut values: Vec<&str> = third_seen.iter().map(|record| record.2.as_str()).collect();
    values.sort_unstable();
    let mut expected: Vec<String> = (400..440).map(|index| format!("v{index}")).collect();
    expected.sort_unstable();
    assert_eq!(values, expected, "the new member did not resume from the committed offsets");
}

/// librdkafka's idempotent producer writes 50 000 records while the broker is killed (SIGKILL)
/// and started again under it; it retries what was in flight, and the broker, which rebuilds producer
/// state from the log on start, answers the retries of batches it already had as duplicates.
/// Every record is then in the log exactly once, in the order it was sent.
#[test]
fn kcat_idempotent_producer_writes_each_record_once_across_a_broker_restart() {
    require_kcat();
    const RECORDS: usize = 50_000;
    let dir = tempfile::tempdir().expect("dir");
    let mut broker = Broker::start(dir.path(), &["num.partitions=3"]);
    let bootstrap = broker.bootstrap();
    let mut producer = Command::new("kcat")
        // -E: keep going on non-fatal errors such as "all brokers down" during the restart.
        .args(["-b", &bootstrap, "-P", "-E", "-t", "idem", "-K:"])
        .args(["-X", "enable.idempotence=true", "-X", "linger.ms=5"])
        .args(["-X", "batch.num.messages=500", "-X", "message.timeout.ms=120000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kcat -P");
    let mut stdin = producer.stdin.take().expect("stdin");
    let mut stderr = producer.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Records go in at a steady pace, so the broker dies with batches in flight.
    let writer = std::thread::spawn(move || {
        for chunk in 0..RECORDS / 1000 {
            let lines: String = (chunk * 1000..(chunk + 1) * 1000)
                .map(|index| format!("key{}:r{index}\n", index % 101))
                .collect();
            stdin.write_all(lines.as_bytes())?;
            stdin.flush()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok::<(), std::io::Error>(())
    });
    std::thread::sleep(Duration::from_millis(400));
    broker.kill();
    let broker = broker.restart();
    let written = writer.join().expect("writer thread");
    let status = producer.wait().expect("wait for kcat");
    let errors = errors.join().unwrap_or_default();
    assert!(written.is_ok() && status.success(), "kcat -P failed ({written:?}): {errors}");

    let out = run(
        "kcat",
        &[
            "-b",
            &broker.bootstrap(),
            "-C",
            "-t",
            "idem",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%p %k %s\n",
        ],
        None,
    );
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for record in out.lines() {
        let mut fields = record.splitn(3, ' ');
        let _partition = fields.next();
        let key = fields.next().expect("key").to_string();
        let value = fields.next().expect("value").to_string();
        let index: usize = value.trim_start_matches('r').parse().expect("a record number");
        per_key.entry(key).or_default().push(index);
        *count.entry(value).or_default() += 1;
    }
    let duplicates: Vec<_> = count.iter().filter(|(_, &times)| times > 1).take(5).collect();
    assert!(duplicates.is_empty(), "records written twice: {duplicates:?}");
    assert_eq!(count.len(), RECORDS, "records missing: kcat said {errors}");
    // One key goes to one partition, and a partition keeps the order records were sent in.
    for (key, indexes) in &per_key {
        assert!(indexes.windows(2).all(|pair| pair[0] < pair[1]), "{key}: out of order");
    }
}

/// A compacted topic (`cleanup.policy=compact`, small segments, the cleaner every 200 ms)
/// keeps only the latest value of each key, at its original offset, and librdkafka reads it
/// from the beginning across the batches compaction emptied; a keyless record is refused
/// with INVALID_RECORD, as Kafka refuses it.
#[test]
fn kcat_reads_a_compacted_topic_with_the_latest_value_per_key_at_its_offset() {
    require_kcat();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &["log.cleaner.backoff.ms=200"]);
    let bootstrap = broker.bootstrap();
    let sluice = sluice_binary();
    let create = [
        "topics",
        "--bootstrap-server",
        &bootstrap,
        "--create",
        "--topic",
        "latest",
        "--config",
        "cleanup.policy=compact",
        "--config",
        "segment.bytes=2048",
    ];
    run(sluice.to_str().expect("path"), &create, None);
    let lines: String = (0..2000).map(|index| format!("k{}:v{index}\n", index % 10)).collect();
    let producer = ["-b", &bootstrap, "-P", "-t", "latest", "-K:", "-X", "acks=all"];
    run("kcat", &[&producer[..], &["-X", "batch.num.messages=7"]].concat(), Some(lines.as_bytes()));

    let keyless = Command::new("kcat")
        .args(["-b", &bootstrap, "-P", "-t", "latest", "-X", "acks=all"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().expect("stdin").write_all(b"no key\n")?;
            child.wait_with_output()
        })
        .expect("run kcat");
    let said = String::from_utf8_lossy(&keyless.stderr);
    assert!(!keyless.status.success(), "a keyless record was accepted");
    assert!(said.contains("Broker failed to validate record"), "kcat said: {said}");

    let consume = |bootstrap: &str| -> Vec<(i64, String, usize)> {
        let out = run(
            "kcat",
            &[
                "-b",
                bootstrap,
                "-C",
                "-t",
                "latest",
                "-o",
                "beginning",
                "-e",
                "-q",
                "-f",
                "%o %k %s\n",
            ],
            None,
        );
        out.lines()
            .map(|line| {
                let mut fields = line.split(' ');
                let offset = fields.next().and_then(|text| text.parse().ok()).expect("offset");
                let key = fields.next().expect("key").to_string();
                let value = fields.next().expect("value");
                (offset, key, value.trim_start_matches('v').parse().expect("a record number"))
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut records = consume(&bootstrap);
    while records.len() >= 400 {
        assert!(Instant::now() < deadline, "not compacted after 60 s: {} records", records.len());
        std::thread::sleep(Duration::from_millis(200));
        records = consume(&bootstrap);
    }
    let check = |records: &[(i64, String, usize)]| {
        for (offset, key, number) in records {
            assert_eq!(*offset, *number as i64, "record {number} moved to offset {offset}");
            assert_eq!(*key, format!("k{}", number % 10));
        }
        let mut latest: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, key, number) in records {
            latest.insert(key, *number);
        }
        let expected: BTreeMap<String, usize> =
            (0..10).map(|key| (format!("k{key}"), 1990 + key)).collect();
        let latest: BTreeMap<String, usize> =
            latest.into_iter().map(|(key, number)| (key.to_string(), number)).collect();
        assert_eq!(latest, expected, "the latest value of a key is missing");
    };
    check(&records);
    let mut broker = broker;
    assert!(broker.stop(), "clean stop: {}", broker.stderr);
    let broker = broker.restart();
    let after = consume(&broker.bootstrap());
    check(&after);
    assert!(after.len() <= records.len());
}

/// A tombstone compaction keeps (delete.retention.ms not up) is rewritten with its delete
/// horizon in the batch's base timestamp (KIP-534); librdkafka still reads it as a NULL value
/// at its offset with its own timestamp, before and after a restart.
#[test]
fn kcat_reads_a_kept_tombstone_with_its_own_timestamp_after_compaction() {
    require_kcat();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &["log.cleaner.backoff.ms=200"]);
    let bootstrap = broker.bootstrap();
    let sluice = sluice_binary();
    let create = [
        "topics",
        "--bootstrap-server",
        &bootstrap,
        "--create",
        "--topic",
        "deleted",
        "--config",
        "cleanup.policy=compact",
        "--config",
        "segment.bytes=2048",
        "--config",
        "delete.retention.ms=600000",
    ];
    run(sluice.to_str().expect("path"), &create, None);
    let produce = |lines: String, null_values: bool| {
        let mut args = vec!["-b", &bootstrap, "-P", "-t", "deleted", "-K:", "-X", "acks=all"];
        args.extend(["-X", "batch.num.messages=7"]);
        if null_values {
            args.push("-Z");
        }
        run("kcat", &args, Some(lines.as_bytes()));
    };
    let lines: String = (0..300).map(|index| format!("k{}:v{index}\n", index % 10)).collect();
    produce(lines, false);
    produce("k3:\n".to_string(), true);
    // Keys other than k3 after it, so its segment is sealed and cleaned.
    let lines: String =
        (301..600).map(|index| format!("k{}:v{index}\n", [0, 1, 2, 4][index % 4])).collect();
    produce(lines, false);
    let consume = |bootstrap: &str| -> Vec<(i64, String, String, i64)> {
        let format = ["-o", "beginning", "-e", "-q", "-Z", "-f", "%o %k %s %T\n"];
        let out =
            run("kcat", &[&["-b", bootstrap, "-C", "-t", "deleted"][..], &format].concat(), None);
        out.lines()
            .map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                assert_eq!(fields.len(), 4, "{line}");
                let offset = fields[0].parse().expect("offset");
                let timestamp = fields[3].parse().expect("timestamp");
                (offset, fields[1].to_string(), fields[2].to_string(), timestamp)
            })
            .collect()
    };
    let before = consume(&bootstrap);
    let tombstone = before.iter().find(|record| record.2 == "NULL").expect("the tombstone").clone();
    assert_eq!((tombstone.0, tombstone.1.as_str()), (300, "k3"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut records = consume(&bootstrap);
    while records.len() >= 100 {
        assert!(Instant::now() < deadline, "not compacted after 60 s: {} records", records.len());
        std::thread::sleep(Duration::from_millis(200));
        records = consume(&bootstrap);
    }
    let k3: Vec<_> = records.iter().filter(|record| record.1 == "k3").collect();
    assert_eq!(k3, vec![&tombstone], "the tombstone, at its offset with its own time");
    let mut broker = broker;
    assert!(broker.stop(), "clean stop: {}", broker.stderr);
    let broker = broker.restart();
    let after = consume(&broker.bootstrap());
    let k3: Vec<_> = after.iter().filter(|record| record.1 == "k3").collect();
    assert_eq!(k3, vec![&tombstone]);
}

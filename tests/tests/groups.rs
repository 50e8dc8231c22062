//! Consumer groups with kafka-python against the real binary: two consumers in one group split
//! a 4-partition topic with no overlap and no gap, a third joins and the group rebalances, and
//! after a commit and a broker restart the group resumes from its committed offsets.

use sluice_tests::broker::{require_kafka_python, run, Broker};

const SCRIPT: &str = r#"
import sys, threading, time
from kafka import KafkaProducer, KafkaConsumer
bootstrap, phase = sys.argv[1], sys.argv[2]

def consumer(group):
    return KafkaConsumer("split", bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False, session_timeout_ms=10000)

# One thread per consumer, as applications run them. kafka-python 3.0 drops a JoinGroup that
# completes while its consumer is outside poll() and joins again; a leader that joins again
# restarts the rebalance (Kafka's coordinator does that too). Two consumers polled in turn from
# one thread are each outside poll() half the time, so under load the group could rebalance
# over and over and one member never applied its partitions.
def poll_until(consumers, done, seconds=40):
    records, lock, end = [], threading.Lock(), time.time() + seconds
    def finished():
        with lock:
            return done(records)
    failures = []
    def loop(c):
        try:
            while time.time() < end and not finished():
                for batch in c.poll(timeout_ms=200).values():
                    with lock:
                        records.extend((m.partition, m.offset) for m in batch)
        except BaseException as error:
            failures.append(error)
    threads = [threading.Thread(target=loop, args=(c,)) for c in consumers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return records

def owned(c):
    return sorted(tp.partition for tp in c.assignment())

if phase == "produce":
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for index in range(400):
        producer.send("split", ("m%d" % index).encode(), partition=index % 4)
    producer.flush()
elif phase == "split":
    members = [consumer("split-group"), consumer("split-group")]
    seen = poll_until(members, lambda records: len(records) >= 400)
    print("records", len(seen), "distinct", len(set(seen)))
    print("assignments", sorted(owned(c) for c in members))
    for c in members:
        c.commit()
        c.close()
elif phase == "rebalance":
    first = consumer("three")
    poll_until([first], lambda records: len(records) >= 400)
    before = owned(first)
    second = consumer("three")
    poll_until([first, second], lambda records: owned(first) and owned(second))
    print("before", before, "after", owned(first), owned(second), "union", sorted(owned(first) + owned(second)))
    first.close(); second.close()
elif phase == "resume":
    c = consumer("split-group")
    poll_until([c], lambda records: owned(c) != [])
    extra = poll_until([c], lambda records: False, seconds=3)
    print("resumed with", len(extra), "new records")
    c.close()
"#;

#[test]
fn two_consumers_split_a_topic_rebalance_and_resume_after_restart() {
    require_kafka_python();
    let dir = tempfile::tempdir().expect("dir");
    let mut broker = Broker::start(dir.path(), &[]);
    let bootstrap = broker.bootstrap();
    let sluice = sluice_tests::broker::sluice_binary();
    run(
        sluice.to_str().expect("path"),
        &[
            "topics",
            "--bootstrap-server",
            &bootstrap,
            "--create",
            "--topic",
            "split",
            "--partitions",
            "4",
        ],
        None,
    );
    run("python3", &["-c", SCRIPT, &bootstrap, "produce"], None);
    let split = run("python3", &["-c", SCRIPT, &bootstrap, "split"], None);
    assert!(split.contains("records 400 distinct 400"), "no overlap and no gap: {split}");
    assert!(
        split.contains("assignments [[0, 1], [2, 3]]"),
        "each consumer owns two partitions: {split}"
    );
    let rebalance = run("python3", &["-c", SCRIPT, &bootstrap, "rebalance"], None);
    assert!(rebalance.contains("before [0, 1, 2, 3] after "), "{rebalance}");
    assert!(
        rebalance.contains("union [0, 1, 2, 3]"),
        "the rebalanced group still owns every partition: {rebalance}"
    );
    assert!(
        !rebalance.contains("[] "),
        "both members own partitions after the rebalance: {rebalance}"
    );
    assert!(broker.stop());
    let restarted = broker.restart();
    let resumed = run("python3", &["-c", SCRIPT, &restarted.bootstrap(), "resume"], None);
    assert_eq!(resumed.trim(), "resumed with 0 new records", "committed offsets survive a restart");
}

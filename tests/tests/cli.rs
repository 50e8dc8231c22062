//! The `sluice` command-line tools against a real broker: Kafka's quickstart, round trip.

use sluice_tests::broker::{run, sluice_binary, Broker};

fn sluice(args: &[&str], stdin: Option<&[u8]>) -> String {
    run(sluice_binary().to_str().expect("path"), args, stdin)
}

fn sluice_fails(args: &[&str]) -> String {
    let output =
        std::process::Command::new(sluice_binary()).args(args).output().expect("run sluice");
    assert!(!output.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn topics_producer_consumer_and_configs_round_trip() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let server = broker.bootstrap();
    let server = server.as_str();
    let created = sluice(
        &[
            "topics",
            "--bootstrap-server",
            server,
            "--create",
            "--topic",
            "quickstart-events",
            "--partitions",
            "3",
            "--replication-factor",
            "1",
            "--config",
            "retention.ms=86400000",
        ],
        None,
    );
    assert_eq!(created.trim(), "Created topic quickstart-events.");
    let listed = sluice(&["topics", "--bootstrap-server", server, "--list"], None);
    assert_eq!(listed.trim(), "quickstart-events");
    let described = sluice(
        &["topics", "--bootstrap-server", server, "--describe", "--topic", "quickstart-events"],
        None,
    );
    assert!(described.contains("PartitionCount: 3"), "{described}");
    assert!(described.contains("retention.ms=86400000"), "{described}");
    assert_eq!(
        described.lines().filter(|line| line.contains("Partition: ")).count(),
        3,
        "{described}"
    );
    // A second create of the same topic is an error naming it.
    let error = sluice_fails(&[
        "topics",
        "--bootstrap-server",
        server,
        "--create",
        "--topic",
        "quickstart-events",
    ]);
    assert!(error.contains("already exists"), "{error}");
    // Produce keyed lines with compression, then read them back with keys and offsets.
    let lines = b"k1:first\nk2:second\nk1:third\n";
    sluice(
        &[
            "console-producer",
            "--bootstrap-server",
            server,
            "--topic",
            "quickstart-events",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
            "--compression-codec",
            "zstd",
        ],
        Some(lines),
    );
    let consumed = sluice(
        &[
            "console-consumer",
            "--bootstrap-server",
            server,
            "--topic",
            "quickstart-events",
            "--from-beginning",
            "--max-messages",
            "3",
            "--timeout-ms",
            "10000",
            "--property",
            "print.key=true",
        ],
        None,
    );
    let mut records: Vec<&str> = consumed.lines().collect();
    records.sort();
    assert_eq!(records, vec!["k1\tfirst", "k1\tthird", "k2\tsecond"]);
    // Records of one key keep their order (one partition).
    let k1: Vec<&str> = consumed.lines().filter(|line| line.starts_with("k1")).collect();
    assert_eq!(k1, vec!["k1\tfirst", "k1\tthird"]);
    // Configs: alter, describe, delete.
    let altered = sluice(
        &[
            "configs",
            "--bootstrap-server",
            server,
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "quickstart-events",
            "--add-config",
            "retention.bytes=1048576",
        ],
        None,
    );
    assert!(altered.contains("Completed updating config"), "{altered}");
    let configs = sluice(
        &[
            "configs",
            "--bootstrap-server",
            server,
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "quickstart-events",
        ],
        None,
    );
    assert!(configs.contains("retention.bytes=1048576"), "{configs}");
    assert!(configs.contains("retention.ms=86400000"), "{configs}");
    let error = sluice_fails(&[
        "configs",
        "--bootstrap-server",
        server,
        "--alter",
        "--entity-type",
        "topics",
        "--entity-name",
        "quickstart-events",
        "--add-config",
        "retention.ms=soon",
    ]);
    assert!(error.contains("retention.ms"), "{error}");
    // More partitions, then delete.
    sluice(
        &[
            "topics",
            "--bootstrap-server",
            server,
            "--alter",
            "--topic",
            "quickstart-events",
            "--partitions",
            "5",
        ],
        None,
    );
    let described = sluice(
        &["topics", "--bootstrap-server", server, "--describe", "--topic", "quickstart-events"],
        None,
    );
    assert!(described.contains("PartitionCount: 5"), "{described}");
    sluice(
        &["topics", "--bootstrap-server", server, "--delete", "--topic", "quickstart-events"],
        None,
    );
    assert_eq!(sluice(&["topics", "--bootstrap-server", server, "--list"], None).trim(), "");
}

#[test]
fn bad_usage_and_an_absent_broker_get_clear_messages() {
    let error = sluice_fails(&["topics", "--bootstrap-server", "127.0.0.1:1", "--list"]);
    assert!(error.contains("127.0.0.1:1"), "{error}");
    let error = sluice_fails(&["broker", "--override", "no.such.property=1"]);
    assert!(error.contains("no.such.property"), "{error}");
    let error = sluice_fails(&["broker", "--override", "num.partitions=many"]);
    assert!(error.contains("num.partitions"), "{error}");
    let error = sluice_fails(&["broker", "--config", "/nonexistent/server.properties"]);
    assert!(error.contains("/nonexistent/server.properties"), "{error}");
}

#[test]
fn a_server_properties_file_configures_the_broker() {
    let dir = tempfile::tempdir().expect("dir");
    let port = sluice_tests::broker::free_port();
    let config = dir.path().join("server.properties");
    std::fs::write(
        &config,
        format!(
            "# Kafka-style config\nprocess.roles=broker,controller\nnode.id=1\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\nnum.partitions=4\nnum.network.threads=3\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut child = std::process::Command::new(sluice_binary())
        .args(["broker", "--config", config.to_str().expect("path")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("line");
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    let server = format!("127.0.0.1:{port}");
    sluice(&["topics", "--bootstrap-server", &server, "--create", "--topic", "four"], None);
    let described =
        sluice(&["topics", "--bootstrap-server", &server, "--describe", "--topic", "four"], None);
    assert!(described.contains("PartitionCount: 4"), "num.partitions from the file: {described}");
    let _ = child.kill();
    let _ = child.wait();
}

/// `sluice perf consume --group` joins the group, reads what it is assigned from the group's
/// committed offsets, commits and leaves, so a second run finds nothing new; `--latency`
/// prints end-to-end latency over exactly the records read.
#[test]
fn perf_consume_with_a_group_commits_and_reports_latency() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &["group.initial.rebalance.delay.ms=0"]);
    let server = broker.bootstrap();
    sluice(
        &[
            "topics",
            "--bootstrap-server",
            &server,
            "--create",
            "--topic",
            "pc",
            "--partitions",
            "2",
        ],
        None,
    );
    let produced = sluice(
        &[
            "perf",
            "produce",
            "--bootstrap-server",
            &server,
            "--topic",
            "pc",
            "--num-records",
            "500",
            "--record-size",
            "100",
            "--throughput",
            "5000",
            "--acks",
            "all",
        ],
        None,
    );
    assert!(produced.contains("500 records sent"), "{produced}");
    let consume = |extra: &[&str]| {
        let base = ["perf", "consume", "--bootstrap-server", &server, "--topic", "pc"];
        sluice(&[&base[..], extra].concat(), None)
    };
    let first = consume(&["--group", "perf-g", "--messages", "500", "--latency"]);
    let lines: Vec<&str> = first.lines().collect();
    let fields: Vec<&str> = lines[1].split(", ").collect();
    assert_eq!(fields[4], "500", "{first}");
    assert!(lines[2].starts_with("end-to-end latency: 500 records, avg "), "{first}");
    // Committed: a second member of the group starts at the end and reads nothing.
    let second = consume(&["--group", "perf-g", "--messages", "1", "--timeout", "1500"]);
    let fields: Vec<String> =
        second.lines().nth(1).expect("csv").split(", ").map(str::to_string).collect();
    assert_eq!(fields[4], "0", "{second}");
    let described = sluice(
        &["consumer-groups", "--bootstrap-server", &server, "--describe", "--group", "perf-g"],
        None,
    );
    let lags: Vec<&str> = described
        .lines()
        .filter(|line| line.starts_with("perf-g"))
        .map(|line| line.split_whitespace().nth(5).expect("lag"))
        .collect();
    assert_eq!(lags, vec!["0", "0"], "{described}");
}

#[test]
fn log_dirs_describes_partition_sizes_as_kafka_log_dirs_prints_them() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let server = broker.bootstrap();
    let server = server.as_str();
    for (topic, partitions) in [("sized", "2"), ("other", "1")] {
        let create = ["topics", "--bootstrap-server", server, "--create", "--topic", topic];
        sluice(&[&create[..], &["--partitions", partitions]].concat(), None);
    }
    let producer = ["console-producer", "--bootstrap-server", server, "--topic", "sized"];
    sluice(&producer, Some(b"one\ntwo\n"));
    let out = sluice(
        &["log-dirs", "--bootstrap-server", server, "--describe", "--topic-list", "sized"],
        None,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "Querying brokers for log directories information");
    assert_eq!(lines[1], "Received log directory information from brokers 1");
    let prefix = format!(
        "{{\"brokers\":[{{\"broker\":1,\"logDirs\":[{{\"error\":null,\"logDir\":\"{}\",\"partitions\":[",
        dir.path().display()
    );
    assert!(lines[2].starts_with(&prefix), "{out}");
    assert!(lines[2].ends_with("]}]}],\"version\":1}"), "{out}");
    // Both partitions of the topic asked for, none of the other; the two records are stored.
    let sizes: Vec<(String, i64)> = lines[2][prefix.len()..]
        .split("{\"partition\":\"")
        .skip(1)
        .map(|entry| {
            let (name, rest) = entry.split_once('"').expect("name");
            let size = rest.trim_start_matches(",\"size\":");
            let size = size.split_once(',').expect("size").0.parse().expect("number");
            assert!(rest.contains("\"offsetLag\":0,\"isFuture\":false}"), "{out}");
            (name.to_string(), size)
        })
        .collect();
    let names: Vec<&str> = sizes.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["sized-0", "sized-1"], "{out}");
    assert!(sizes.iter().map(|(_, size)| size).sum::<i64>() > 0, "{out}");
    // Bad usage names the problem.
    let error = sluice_fails(&["log-dirs", "--bootstrap-server", server]);
    assert!(error.contains("--describe"), "{error}");
    let error = sluice_fails(&[
        "log-dirs",
        "--bootstrap-server",
        server,
        "--describe",
        "--broker-list",
        "7",
    ]);
    assert!(error.contains("do not exist from --broker-list: 7"), "{error}");
    let error = sluice_fails(&[
        "log-dirs",
        "--bootstrap-server",
        server,
        "--describe",
        "--broker-list",
        "x",
    ]);
    assert!(error.contains("--broker-list"), "{error}");
}

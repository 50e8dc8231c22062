//! `sluice consumer-groups` and `sluice console-consumer --group` against the real binary:
//! exact lag for a kafka-python group, offset resets (dry run, earliest, offset, shift,
//! clamping), deletes of empty and live groups, a console consumer that resumes from its
//! committed offsets across runs, live members that split a topic and leave on Ctrl-C, a mixed
//! group where kafka-python accepts the console consumer's assignment, and clear messages for
//! bad flags.

use sluice_tests::broker::{require_kafka_python, run, sluice_binary, Broker};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for a group to reach a state (members join within seconds; the
/// bound only keeps a broken build from hanging).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(90);

fn sluice(args: &[&str]) -> String {
    run(sluice_binary().to_str().expect("path"), args, None)
}

fn sluice_with_input(args: &[&str], input: &str) -> String {
    run(sluice_binary().to_str().expect("path"), args, Some(input.as_bytes()))
}

fn sluice_output(args: &[&str]) -> Output {
    Command::new(sluice_binary()).args(args).output().expect("run sluice")
}

/// Runs a command that must fail; returns its stderr.
fn sluice_fails(args: &[&str]) -> String {
    let output = sluice_output(args);
    assert!(!output.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The rows of a `--describe` table, split into fields (the header and blank lines dropped).
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("GROUP "))
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// `--describe --group group`: its rows, and what it printed on stderr.
fn describe(server: &str, group: &str) -> (Vec<Vec<String>>, String) {
    let output = sluice_output(&[
        "consumer-groups",
        "--bootstrap-server",
        server,
        "--describe",
        "--group",
        group,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "describe {group} failed: {stderr}");
    (table_rows(&String::from_utf8_lossy(&output.stdout)), stderr)
}

/// The rows of `--describe --group group`, or none while the group does not exist.
fn describe_if_any(server: &str, group: &str) -> Vec<Vec<String>> {
    let output = sluice_output(&[
        "consumer-groups",
        "--bootstrap-server",
        server,
        "--describe",
        "--group",
        group,
    ]);
    if output.status.success() {
        table_rows(&String::from_utf8_lossy(&output.stdout))
    } else {
        Vec::new()
    }
}

fn row(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|field| field.to_string()).collect()
}

/// Polls `check` until it returns a value, failing after [`SETTLE_TIMEOUT`] with `what`.
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn group_list(server: &str) -> Vec<String> {
    sluice(&["consumer-groups", "--bootstrap-server", server, "--list"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// A `sluice console-consumer --group` running in the background, its output in files.
struct Background {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Background {
    fn start(dir: &Path, name: &str, args: &[&str]) -> Self {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let child = Command::new(sluice_binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start sluice");
        Self { child, stdout, stderr }
    }

    /// Ctrl-C (SIGINT), then waits for a clean exit; returns (stdout, stderr).
    fn interrupt(mut self) -> (String, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -INT {pid}");
        let status = wait_for("the console consumer to exit after Ctrl-C", || {
            self.child.try_wait().expect("wait")
        });
        let stdout = std::fs::read_to_string(&self.stdout).expect("stdout");
        let stderr = std::fs::read_to_string(&self.stderr).expect("stderr");
        assert!(status.success(), "the console consumer failed: {status}\n{stderr}");
        (stdout, stderr)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const PYTHON: &str = r#"
import sys, time
from kafka import KafkaProducer, KafkaConsumer
bootstrap, phase, topic = sys.argv[1], sys.argv[2], sys.argv[3]
if phase == "produce":
    # argv[4]: records per partition, such as "6,4".
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for partition, count in enumerate(int(n) for n in sys.argv[4].split(",")):
        for index in range(count):
            producer.send(topic, b"p%d-%d" % (partition, index), partition=partition)
    producer.flush()
elif phase == "consume":
    # argv[4]: group, argv[5]: how many records to read and commit.
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=sys.argv[4],
                             auto_offset_reset="earliest", enable_auto_commit=False)
    seen, end = 0, time.time() + 60
    while seen < int(sys.argv[5]) and time.time() < end:
        for batch in consumer.poll(timeout_ms=200).values():
            seen += len(batch)
    consumer.commit()
    consumer.close()
    print("consumed", seen)
elif phase == "member":
    # argv[4]: group. Joins, prints its partitions once it owns some, stays until stdin closes.
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=sys.argv[4],
                             auto_offset_reset="earliest", session_timeout_ms=10000)
    printed, end = None, time.time() + 90
    while time.time() < end:
        consumer.poll(timeout_ms=200)
        owned = sorted(tp.partition for tp in consumer.assignment())
        if owned and owned != printed:
            print("owned", owned, flush=True)
            printed = owned
        if owned and len(owned) < 4:
            break
    sys.stdin.read()
    consumer.close()
"#;

fn python(args: &[&str]) -> String {
    let mut argv = vec!["-c", PYTHON];
    argv.extend_from_slice(args);
    run("python3", &argv, None)
}

#[test]
fn describe_reset_and_delete_a_kafka_python_group() {
    require_kafka_python();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let server = broker.bootstrap();
    let server = server.as_str();
    let create = ["topics", "--bootstrap-server", server, "--create", "--topic", "orders"];
    sluice(&[&create[..], &["--partitions", "2"]].concat());
    python(&[server, "produce", "orders", "6,4"]);
    let consumed = python(&[server, "consume", "orders", "py-group", "10"]);
    assert_eq!(consumed.trim(), "consumed 10");
    python(&[server, "produce", "orders", "3,2"]);
    assert!(group_list(server).contains(&"py-group".to_string()));

    // Committed 6 and 4; the logs end at 9 and 6.
    let (rows, stderr) = describe(server, "py-group");
    assert_eq!(
        rows,
        vec![
            row(&["py-group", "orders", "0", "6", "9", "3", "-", "-", "-"]),
            row(&["py-group", "orders", "1", "4", "6", "2", "-", "-", "-"]),
        ]
    );
    assert!(stderr.contains("Consumer group 'py-group' has no active members."), "{stderr}");

    let reset_args = ["consumer-groups", "--bootstrap-server", server, "--reset-offsets"];
    let reset = |extra: &[&str]| -> (Vec<Vec<String>>, String) {
        let output = sluice_output(&[&reset_args[..], &["--group", "py-group"], extra].concat());
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "reset {extra:?} failed: {stderr}");
        (table_rows(&String::from_utf8_lossy(&output.stdout)), stderr)
    };
    let unchanged = describe(server, "py-group").0;

    // Without --execute: the plan only, with Kafka's warning; nothing changes.
    let (plan, stderr) = reset(&["--topic", "orders", "--to-earliest"]);
    assert_eq!(
        plan,
        vec![row(&["py-group", "orders", "0", "0"]), row(&["py-group", "orders", "1", "0"])]
    );
    assert!(stderr.contains("--execute option is missing"), "{stderr}");
    assert_eq!(describe(server, "py-group").0, unchanged, "a dry run changes nothing");
    let (plan, stderr) = reset(&["--all-topics", "--to-latest", "--dry-run"]);
    assert_eq!(
        plan,
        vec![row(&["py-group", "orders", "0", "9"]), row(&["py-group", "orders", "1", "6"])]
    );
    assert!(!stderr.contains("WARN"), "--dry-run asked explicitly: {stderr}");
    assert_eq!(describe(server, "py-group").0, unchanged, "--dry-run changes nothing");

    // --execute: offsets 0, lag = everything.
    reset(&["--topic", "orders", "--to-earliest", "--execute"]);
    assert_eq!(
        describe(server, "py-group").0,
        vec![
            row(&["py-group", "orders", "0", "0", "9", "9", "-", "-", "-"]),
            row(&["py-group", "orders", "1", "0", "6", "6", "-", "-", "-"]),
        ]
    );
    reset(&["--topic", "orders:1", "--to-offset", "5", "--execute"]);
    reset(&["--topic", "orders:0", "--shift-by", "2", "--execute"]);
    assert_eq!(
        describe(server, "py-group").0,
        vec![
            row(&["py-group", "orders", "0", "2", "9", "7", "-", "-", "-"]),
            row(&["py-group", "orders", "1", "5", "6", "1", "-", "-", "-"]),
        ]
    );
    // Offsets beyond the log are kept within it, with a warning; --to-current keeps them.
    let (plan, stderr) = reset(&["--all-topics", "--to-offset", "100"]);
    assert_eq!(
        plan,
        vec![row(&["py-group", "orders", "0", "9"]), row(&["py-group", "orders", "1", "6"])]
    );
    assert!(stderr.contains("higher than latest offset for topic partition orders-0"), "{stderr}");
    let (plan, _) = reset(&["--all-topics", "--shift-by", "-4", "--dry-run"]);
    assert_eq!(
        plan,
        vec![row(&["py-group", "orders", "0", "0"]), row(&["py-group", "orders", "1", "1"])]
    );
    let (plan, _) = reset(&["--all-topics", "--to-current", "--dry-run"]);
    assert_eq!(
        plan,
        vec![row(&["py-group", "orders", "0", "2"]), row(&["py-group", "orders", "1", "5"])]
    );
    let error = sluice_fails(
        &[&reset_args[..], &["--group", "py-group", "--topic", "orders:7", "--to-earliest"]]
            .concat(),
    );
    assert!(error.contains("The partitions \"orders-7\" do not exist"), "{error}");
    let error = sluice_fails(
        &[&reset_args[..], &["--group", "py-group", "--topic", "nowhere", "--to-latest"]].concat(),
    );
    assert!(error.contains("topic 'nowhere' does not exist"), "{error}");

    // An empty group can be deleted; then it is gone.
    let groups = ["consumer-groups", "--bootstrap-server", server];
    let deleted = sluice(&[&groups[..], &["--delete", "--group", "py-group"]].concat());
    assert_eq!(
        deleted.trim(),
        "Deletion of requested consumer groups ('py-group') was successful."
    );
    assert!(!group_list(server).contains(&"py-group".to_string()));
    let error = sluice_fails(&[&groups[..], &["--describe", "--group", "py-group"]].concat());
    assert!(error.contains("Consumer group 'py-group' does not exist."), "{error}");
    let error = sluice_fails(&[&groups[..], &["--delete", "--group", "py-group"]].concat());
    assert!(
        error.contains("* Group 'py-group' could not be deleted due to: GROUP_ID_NOT_FOUND"),
        "{error}"
    );
}

#[test]
fn the_console_consumer_resumes_splits_and_leaves_its_group() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let server = broker.bootstrap();
    let server = server.as_str();
    let topics = ["topics", "--bootstrap-server", server];
    sluice(&[&topics[..], &["--create", "--topic", "events", "--partitions", "2"]].concat());
    let producer_args = ["console-producer", "--bootstrap-server", server, "--topic", "events"];
    let produce =
        |lines: &[&str]| sluice_with_input(&producer_args, &format!("{}\n", lines.join("\n")));
    let consumer_args = ["console-consumer", "--bootstrap-server", server, "--topic", "events"];
    let consume = |extra: &[&str]| -> BTreeSet<String> {
        let args =
            [&consumer_args[..], &["--group", "cg", "--timeout-ms", "60000"], extra].concat();
        let printed = sluice(&args);
        let lines: BTreeSet<String> = printed.lines().map(str::to_string).collect();
        assert_eq!(lines.len(), printed.lines().count(), "no record twice: {printed}");
        lines
    };
    let all: Vec<String> = (0..6).map(|index| format!("first-{index}")).collect();
    produce(&all.iter().map(String::as_str).collect::<Vec<_>>());

    // A first run prints 4 of the 6 records and commits exactly those.
    let first = consume(&["--from-beginning", "--max-messages", "4"]);
    assert_eq!(first.len(), 4);
    let (rows, stderr) = describe(server, "cg");
    assert!(stderr.contains("has no active members"), "the tool left the group: {stderr}");
    let column = |rows: &[Vec<String>], index: usize| -> i64 {
        rows.iter().map(|row| row[index].parse::<i64>().expect("a number")).sum()
    };
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((column(&rows, 3), column(&rows, 4), column(&rows, 5)), (4, 6, 2), "{rows:?}");

    // Restarted, it prints only what it had not printed; then only records produced later.
    let second = consume(&["--from-beginning", "--max-messages", "2"]);
    let printed: BTreeSet<String> = first.union(&second).cloned().collect();
    assert_eq!(printed, all.iter().cloned().collect::<BTreeSet<_>>(), "second run: {second:?}");
    produce(&["later-1", "later-2", "later-3"]);
    let third = consume(&["--from-beginning", "--max-messages", "3"]);
    assert_eq!(third, ["later-1", "later-2", "later-3"].map(String::from).into());
    let (rows, _) = describe(server, "cg");
    assert_eq!((column(&rows, 3), column(&rows, 5)), (9, 0), "{rows:?}");

    // A live member owns both partitions; a second one takes one of them (range assignor).
    let live = [&consumer_args[..], &["--group", "cg"]].concat();
    let one = Background::start(dir.path(), "one", &live);
    let owners = |rows: &[Vec<String>]| -> BTreeSet<String> {
        rows.iter().map(|row| row[6].clone()).filter(|id| id != "-").collect()
    };
    let rows = wait_for("one member owning both partitions", || {
        let rows = describe(server, "cg").0;
        let owned = rows.len() == 2 && rows.iter().all(|row| row[6] != "-");
        (owned && owners(&rows).len() == 1).then_some(rows)
    });
    assert!(
        rows.iter().all(|row| row[7] == "/127.0.0.1" && row[8] == "console-consumer"),
        "{rows:?}"
    );
    let two = Background::start(dir.path(), "two", &live);
    wait_for("two members with one partition each", || {
        let rows = describe(server, "cg").0;
        (owners(&rows).len() == 2).then_some(())
    });
    assert!(group_list(server).contains(&"cg".to_string()));

    // A group with live members can be neither deleted nor reset.
    let groups = ["consumer-groups", "--bootstrap-server", server];
    let error = sluice_fails(&[&groups[..], &["--delete", "--group", "cg"]].concat());
    assert!(error.contains("* Group 'cg' could not be deleted due to: NON_EMPTY_GROUP"), "{error}");
    let error = sluice_fails(
        &[
            &groups[..],
            &["--reset-offsets", "--group", "cg", "--all-topics", "--to-earliest", "--execute"],
        ]
        .concat(),
    );
    assert!(
        error.contains("Assignments can only be reset if the group 'cg' is inactive, but the current state is Stable."),
        "{error}"
    );

    // New records reach the members; on Ctrl-C both commit and leave, and the group is empty.
    produce(&["live-1", "live-2", "live-3", "live-4"]);
    wait_for("the members to commit the new records", || {
        let rows = describe(server, "cg").0;
        (column(&rows, 3) == 13).then_some(())
    });
    let (out_one, err_one) = one.interrupt();
    let (out_two, err_two) = two.interrupt();
    assert!(err_one.contains("Processed a total of"), "{err_one}");
    assert!(err_two.contains("Processed a total of"), "{err_two}");
    let mut live_lines: Vec<&str> = out_one.lines().chain(out_two.lines()).collect();
    live_lines.sort_unstable();
    assert_eq!(live_lines, ["live-1", "live-2", "live-3", "live-4"]);
    let (rows, stderr) = describe(server, "cg");
    assert!(stderr.contains("Consumer group 'cg' has no active members."), "{stderr}");
    assert_eq!((column(&rows, 3), column(&rows, 5)), (13, 0), "{rows:?}");
    let deleted = sluice(&[&groups[..], &["--delete", "--group", "cg"]].concat());
    assert_eq!(deleted.trim(), "Deletion of requested consumer groups ('cg') was successful.");
}

#[test]
fn kafka_python_accepts_the_console_consumers_assignment() {
    require_kafka_python();
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let server = broker.bootstrap();
    let server = server.as_str();
    let topics = ["topics", "--bootstrap-server", server];
    sluice(&[&topics[..], &["--create", "--topic", "mix", "--partitions", "4"]].concat());
    let live =
        ["console-consumer", "--bootstrap-server", server, "--topic", "mix", "--group", "mixed"];
    // The console consumer joins first, so it leads and computes the assignment.
    let leader = Background::start(dir.path(), "leader", &live);
    wait_for("the console consumer to own the topic", || {
        let rows = describe_if_any(server, "mixed");
        (rows.len() == 4).then_some(())
    });
    let mut python = Command::new("python3")
        .args(["-c", PYTHON, server, "member", "mix", "mixed"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let rows = wait_for("kafka-python to own two partitions", || {
        let rows = describe_if_any(server, "mixed");
        let python_rows = rows.iter().filter(|row| row[8].starts_with("kafka-python")).count();
        (python_rows == 2 && rows.len() == 4).then_some(rows)
    });
    let by_client = |prefix: &str| -> Vec<String> {
        rows.iter().filter(|row| row[8].starts_with(prefix)).map(|row| row[2].clone()).collect()
    };
    assert_eq!(by_client("console-consumer"), ["0", "1"], "{rows:?}");
    assert_eq!(by_client("kafka-python"), ["2", "3"], "{rows:?}");
    leader.interrupt();
    drop(python.stdin.take());
    let output = python.wait_with_output().expect("python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("owned [2, 3]"), "kafka-python decoded its assignment: {stdout}");
}

#[test]
fn bad_flags_and_unknown_groups_get_clear_messages() {
    let groups = ["consumer-groups", "--bootstrap-server", "127.0.0.1:1"];
    let fails = |extra: &[&str]| sluice_fails(&[&groups[..], extra].concat());
    assert!(
        fails(&[]).contains("exactly one action: --list, --describe, --delete, --reset-offsets")
    );
    let error = fails(&["--reset-offsets", "--group", "g", "--topic", "t"]);
    assert!(error.contains("requires one of the following scenarios: --to-earliest"), "{error}");
    let error = fails(&["--reset-offsets", "--group", "g", "--to-earliest"]);
    assert!(
        error.contains("One of the reset scopes should be defined: --all-topics, --topic."),
        "{error}"
    );
    let error = fails(&[
        "--reset-offsets",
        "--group",
        "g",
        "--topic",
        "t",
        "--to-offset",
        "1",
        "--shift-by",
        "1",
    ]);
    assert!(error.contains("\"[to-offset]\" can't be used with option \"[shift-by]\""), "{error}");
    let error = fails(&["--reset-offsets", "--group", "g", "--topic", "t:x", "--to-latest"]);
    assert!(error.contains("Invalid partition 'x' specified in topic arg 't:x'"), "{error}");
    let error = fails(&["--describe"]);
    assert!(
        error.contains("Option [describe] takes one of these options: [all-groups], [group]"),
        "{error}"
    );
    let error = fails(&["--delete", "--group", "g", "--topic", "t"]);
    assert!(error.contains("topic-specific offset deletion"), "{error}");
    let error =
        sluice_fails(&["console-consumer", "--topic", "t", "--group", "g", "--partition", "0"]);
    assert!(error.contains("Options group and partition cannot be specified together."), "{error}");

    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), &[]);
    let server = broker.bootstrap();
    let groups = ["consumer-groups", "--bootstrap-server", server.as_str()];
    let error = sluice_fails(&[&groups[..], &["--delete", "--group", "nobody"]].concat());
    assert!(error.contains("GROUP_ID_NOT_FOUND: The group id does not exist."), "{error}");
    let error = sluice_fails(&[&groups[..], &["--describe", "--group", "nobody"]].concat());
    assert!(error.contains("Consumer group 'nobody' does not exist."), "{error}");
    assert_eq!(sluice(&[&groups[..], &["--list"]].concat()).trim(), "", "no groups yet");
}

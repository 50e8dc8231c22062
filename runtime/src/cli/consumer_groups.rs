//! `sluice consumer-groups`: list, describe and delete consumer groups and reset their
//! committed offsets, like `kafka-consumer-groups.sh` (same flags, tables and messages).
//!
//! Group requests go to each group's coordinator (FindCoordinator); log end offsets come from
//! each partition's leader (ListOffsets). A reset commits with generation -1 and an empty
//! member id, as Kafka's admin client does, which the coordinator accepts only while the group
//! is Empty (or unknown).

use super::group_member::{
    code, commit_offsets, coordinator, decode_assignment, fetch_committed, find_coordinator,
    TopicPartition, PROTOCOL_TYPE,
};
use super::print_line;
use super::topics::ADMIN_TIMEOUT_MS;
use crate::client::{error_text, topic_name, Cluster, DEFAULT_BOOTSTRAP_SERVER};
use anyhow::{anyhow, bail};
use sluice_core::protocol::api::delete_groups::DeleteGroupsRequest;
use sluice_core::protocol::api::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponseGroup,
};
use sluice_core::protocol::api::list_groups::ListGroupsRequest;
use sluice_core::protocol::api::list_offsets::{
    ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::StrBytes;
use std::collections::{BTreeMap, BTreeSet};

const CLIENT_ID: &str = "sluice-consumer-groups";
const EARLIEST_TIMESTAMP: i64 = -2;
const LATEST_TIMESTAMP: i64 = -1;
/// What Kafka prints for a value it does not have.
const MISSING: &str = "-";

/// Arguments of `sluice consumer-groups`.
#[derive(clap::Args, Debug)]
#[command(
    about = "List, describe or delete consumer groups, or reset their offsets (like \
             kafka-consumer-groups)",
    after_help = "Exactly one of --list, --describe, --delete or --reset-offsets is required.\n\
                  --describe, --delete and --reset-offsets take --group (repeatable) or \
                  --all-groups.\n\
                  --reset-offsets takes a scope (--topic or --all-topics) and one scenario \
                  (--to-earliest, --to-latest, --to-current, --to-offset or --shift-by); it \
                  only shows the new offsets unless --execute is given, and works only on \
                  groups without active members."
)]
pub struct ConsumerGroupsArgs {
    /// The broker(s) to connect to, host:port[,host:port…].
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_BOOTSTRAP_SERVER)]
    pub bootstrap_server: String,
    /// List all consumer groups.
    #[arg(long)]
    pub list: bool,
    /// Describe groups: committed offset, log end offset, lag and owner of each partition.
    #[arg(long)]
    pub describe: bool,
    /// Delete groups (only groups without active members).
    #[arg(long)]
    pub delete: bool,
    /// Reset the committed offsets of groups without active members.
    #[arg(long)]
    pub reset_offsets: bool,
    /// The group to describe, delete or reset; repeat for several.
    #[arg(long, value_name = "GROUP")]
    pub group: Vec<String>,
    /// Apply --describe, --delete or --reset-offsets to every group.
    #[arg(long)]
    pub all_groups: bool,
    /// Reset scope: a topic, or topic:partition[,partition…]; repeat for several.
    #[arg(long, value_name = "TOPIC[:P,…]")]
    pub topic: Vec<String>,
    /// Reset scope: every topic the group has committed offsets for.
    #[arg(long)]
    pub all_topics: bool,
    /// Reset to the earliest offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// Reset to the latest offset (the log end).
    #[arg(long)]
    pub to_latest: bool,
    /// Reset to the committed offset (the log end where there is none).
    #[arg(long)]
    pub to_current: bool,
    /// Reset to this offset (kept within the log's earliest and latest offsets).
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    pub to_offset: Option<i64>,
    /// Move the committed offset by N (negative: back), kept within the log.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// Only show the new offsets (the default).
    #[arg(long)]
    pub dry_run: bool,
    /// Commit the new offsets.
    #[arg(long)]
    pub execute: bool,
}

/// Which groups an action applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Groups {
    Named(Vec<String>),
    All,
}

/// Where a reset moves each offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    Earliest,
    Latest,
    Current,
    Offset(i64),
    ShiftBy(i64),
}

/// One `--topic` value: all partitions of the topic, or the listed ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TopicArg {
    topic: String,
    partitions: Option<Vec<i32>>,
}

/// Which partitions a reset covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    AllTopics,
    Topics(Vec<TopicArg>),
}

/// What the arguments ask for, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    List,
    Describe(Groups),
    Delete(Groups),
    Reset { groups: Groups, scope: Scope, scenario: Scenario, execute: bool },
}

/// Checks the arguments the way kafka-consumer-groups does, with its messages.
pub(crate) fn validate(args: &ConsumerGroupsArgs) -> anyhow::Result<Action> {
    let actions = [
        (args.list, "list"),
        (args.describe, "describe"),
        (args.delete, "delete"),
        (args.reset_offsets, "reset-offsets"),
    ];
    let chosen: Vec<&str> = actions.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
    let [action] = chosen[..] else {
        bail!(
            "Command must include exactly one action: --list, --describe, --delete, \
             --reset-offsets"
        );
    };
    let scenarios = [
        (args.to_earliest, "to-earliest"),
        (args.to_latest, "to-latest"),
        (args.to_current, "to-current"),
        (args.to_offset.is_some(), "to-offset"),
        (args.shift_by.is_some(), "shift-by"),
    ];
    let chosen_scenarios: Vec<&str> =
        scenarios.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
    let reset_only =
        [(args.all_topics, "all-topics"), (args.dry_run, "dry-run"), (args.execute, "execute")];
    if action != "reset-offsets" {
        let used = chosen_scenarios
            .iter()
            .copied()
            .chain(reset_only.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
        if let Some(option) = used.into_iter().next() {
            bail!("Option \"[{option}]\" can't be used with option \"[{action}]\"");
        }
        if !args.topic.is_empty() {
            if action == "delete" {
                bail!(
                    "The consumer does not support topic-specific offset deletion from a \
                     consumer group."
                );
            }
            bail!("Option \"[topic]\" can't be used with option \"[{action}]\"");
        }
    }
    if action == "list" {
        if !args.group.is_empty() {
            bail!("Option \"[group]\" can't be used with option \"[list]\"");
        }
        if args.all_groups {
            bail!("Option \"[all-groups]\" can't be used with option \"[list]\"");
        }
        return Ok(Action::List);
    }
    if !args.group.is_empty() && args.all_groups {
        bail!("Option \"[group]\" can't be used with option \"[all-groups]\"");
    }
    if args.group.is_empty() && !args.all_groups {
        bail!("Option [{action}] takes one of these options: [all-groups], [group]");
    }
    if let Some(empty) = args.group.iter().find(|group| group.trim().is_empty()) {
        bail!("invalid --group {empty:?}: a group id must not be empty");
    }
    let groups =
        if args.all_groups { Groups::All } else { Groups::Named(dedup(args.group.clone())) };
    match action {
        "describe" => return Ok(Action::Describe(groups)),
        "delete" => return Ok(Action::Delete(groups)),
        _ => {}
    }
    if args.dry_run && args.execute {
        bail!("Option [reset-offsets] only accepts one of [execute] and [dry-run]");
    }
    let scenario = match chosen_scenarios[..] {
        [] => bail!(
            "Option [reset-offsets] requires one of the following scenarios: --to-earliest, \
             --to-latest, --to-current, --to-offset N, --shift-by N"
        ),
        [_] => {
            if args.to_earliest {
                Scenario::Earliest
            } else if args.to_latest {
                Scenario::Latest
            } else if args.to_current {
                Scenario::Current
            } else if let Some(offset) = args.to_offset {
                Scenario::Offset(offset)
            } else {
                Scenario::ShiftBy(args.shift_by.expect("one scenario is chosen"))
            }
        }
        [first, second, ..] => {
            bail!("Option \"[{first}]\" can't be used with option \"[{second}]\"")
        }
    };
    let scope = match (args.all_topics, args.topic.is_empty()) {
        (true, false) => bail!("Option \"[all-topics]\" can't be used with option \"[topic]\""),
        (true, true) => Scope::AllTopics,
        (false, false) => Scope::Topics(
            args.topic.iter().map(|arg| parse_topic_arg(arg)).collect::<Result<_, _>>()?,
        ),
        (false, true) => bail!("One of the reset scopes should be defined: --all-topics, --topic."),
    };
    Ok(Action::Reset { groups, scope, scenario, execute: args.execute })
}

fn dedup(groups: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    groups.into_iter().filter(|group| seen.insert(group.clone())).collect()
}

/// Parses `topic` or `topic:p[,p…]`, with Kafka's messages.
pub(crate) fn parse_topic_arg(arg: &str) -> anyhow::Result<TopicArg> {
    let Some((topic, partitions)) = arg.split_once(':') else {
        if arg.trim().is_empty() {
            bail!("invalid --topic {arg:?}: a topic name must not be empty");
        }
        return Ok(TopicArg { topic: arg.to_string(), partitions: None });
    };
    if topic.is_empty() || partitions.contains(':') {
        bail!("Invalid topic arg '{arg}', expected topic name and partitions");
    }
    let mut parsed = BTreeSet::new();
    for partition in partitions.split(',') {
        match partition.trim().parse::<i32>() {
            Ok(index) if index >= 0 => {
                parsed.insert(index);
            }
            _ => bail!("Invalid partition '{partition}' specified in topic arg '{arg}'"),
        }
    }
    Ok(TopicArg { topic: topic.to_string(), partitions: Some(parsed.into_iter().collect()) })
}

/// Runs `sluice consumer-groups`.
pub fn run(args: ConsumerGroupsArgs) -> anyhow::Result<()> {
    let action = validate(&args)?;
    if let Action::Reset { execute: false, .. } = &action {
        if !args.dry_run {
            eprintln!(
                "WARN: No action will be performed as the --execute option is missing. Add \
                 --execute to commit the new offsets, or --dry-run to show them without this \
                 warning."
            );
        }
    }
    let mut cluster = Cluster::connect(&args.bootstrap_server, CLIENT_ID)?;
    match action {
        Action::List => {
            for group in list_groups(&mut cluster)? {
                print_line(&group)?;
            }
            Ok(())
        }
        Action::Describe(groups) => {
            let groups = resolve(&mut cluster, groups)?;
            describe_groups(&mut cluster, &groups)
        }
        Action::Delete(groups) => {
            let groups = resolve(&mut cluster, groups)?;
            delete_groups(&mut cluster, &groups)
        }
        Action::Reset { groups, scope, scenario, execute } => {
            let groups = resolve(&mut cluster, groups)?;
            reset_groups(&mut cluster, &groups, &scope, scenario, execute)
        }
    }
}

fn resolve(cluster: &mut Cluster, groups: Groups) -> anyhow::Result<Vec<String>> {
    match groups {
        Groups::Named(groups) => Ok(groups),
        Groups::All => list_groups(cluster),
    }
}

/// The consumer groups of every broker (ListGroups), sorted: groups of protocol type
/// "consumer", and groups with no protocol yet (only offsets), as Kafka lists them.
fn list_groups(cluster: &mut Cluster) -> anyhow::Result<Vec<String>> {
    let metadata = cluster.metadata(Some(&[]), false)?;
    let brokers: BTreeSet<i32> = metadata.brokers.iter().map(|broker| broker.node_id).collect();
    let mut groups = BTreeSet::new();
    for broker in brokers {
        let request = Request::ListGroups(ListGroupsRequest::default());
        let Response::ListGroups(response) = cluster.node(broker)?.send(request)? else {
            bail!("unexpected response to ListGroups");
        };
        if response.error_code != code::NONE {
            bail!(
                "cannot list the groups of broker {broker}: {}",
                error_text(response.error_code, None)
            );
        }
        for group in response.groups {
            let protocol_type = group.protocol_type.as_str();
            if protocol_type.is_empty() || protocol_type == PROTOCOL_TYPE {
                groups.insert(group.group_id.as_str().to_string());
            }
        }
    }
    Ok(groups.into_iter().collect())
}

/// DescribeGroups for one group, at its coordinator.
fn describe_group(
    cluster: &mut Cluster,
    group: &str,
) -> anyhow::Result<DescribeGroupsResponseGroup> {
    let request = Request::DescribeGroups(DescribeGroupsRequest {
        groups: vec![StrBytes::from_string(group.to_string())],
        ..Default::default()
    });
    let Response::DescribeGroups(response) = coordinator(cluster, group)?.send(request)? else {
        bail!("unexpected response to DescribeGroups");
    };
    let Some(described) = response.groups.into_iter().find(|g| g.group_id.as_str() == group) else {
        bail!("the broker answered DescribeGroups without group '{group}'");
    };
    if described.error_code != code::NONE {
        let message = described.error_message.as_ref().map(StrBytes::as_str);
        bail!("cannot describe group '{group}': {}", error_text(described.error_code, message));
    }
    Ok(described)
}

/// One line of `--describe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DescribeRow {
    topic: String,
    partition: i32,
    current_offset: Option<i64>,
    log_end_offset: Option<i64>,
    consumer_id: String,
    host: String,
    client_id: String,
}

impl DescribeRow {
    fn lag(&self) -> Option<i64> {
        Some(self.log_end_offset? - self.current_offset?)
    }
}

fn describe_groups(cluster: &mut Cluster, groups: &[String]) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for group in groups {
        if let Err(error) = describe_one(cluster, group) {
            failures.push(format!("{error:#}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(failures.join("\n")))
    }
}

fn describe_one(cluster: &mut Cluster, group: &str) -> anyhow::Result<()> {
    let described = describe_group(cluster, group)?;
    let state = described.group_state.as_str().to_string();
    if state == "Dead" {
        bail!("Consumer group '{group}' does not exist.");
    }
    let committed = fetch_committed(coordinator(cluster, group)?, group, None)?;
    let mut rows = Vec::new();
    let mut members = Vec::new();
    if described.protocol_type.as_str() == PROTOCOL_TYPE {
        for member in &described.members {
            let assignment = decode_assignment(&member.member_assignment).map_err(|error| {
                anyhow!(
                    "member {} of group '{group}' has an assignment that does not decode: {error}",
                    member.member_id.as_str()
                )
            })?;
            let partitions: Vec<TopicPartition> = assignment
                .into_iter()
                .flat_map(|(topic, partitions)| {
                    partitions.into_iter().map(move |partition| (topic.clone(), partition))
                })
                .collect();
            if !partitions.is_empty() {
                members.push((member, partitions));
            }
        }
    }
    // Members owning the most partitions first, as Kafka prints them.
    members.sort_by_key(|(_, partitions)| std::cmp::Reverse(partitions.len()));
    let mut assigned = BTreeSet::new();
    for (member, partitions) in &members {
        for (topic, partition) in partitions {
            assigned.insert((topic.clone(), *partition));
            rows.push(DescribeRow {
                topic: topic.clone(),
                partition: *partition,
                current_offset: committed.get(&(topic.clone(), *partition)).copied(),
                log_end_offset: None,
                consumer_id: member.member_id.as_str().to_string(),
                host: member.client_host.as_str().to_string(),
                client_id: member.client_id.as_str().to_string(),
            });
        }
    }
    for ((topic, partition), offset) in &committed {
        if !assigned.contains(&(topic.clone(), *partition)) {
            rows.push(DescribeRow {
                topic: topic.clone(),
                partition: *partition,
                current_offset: Some(*offset),
                log_end_offset: None,
                consumer_id: MISSING.to_string(),
                host: MISSING.to_string(),
                client_id: MISSING.to_string(),
            });
        }
    }
    let wanted: BTreeSet<TopicPartition> =
        rows.iter().map(|row| (row.topic.clone(), row.partition)).collect();
    let ends = list_offsets(cluster, &wanted, LATEST_TIMESTAMP)?;
    for row in &mut rows {
        row.log_end_offset = ends.get(&(row.topic.clone(), row.partition)).copied();
    }
    match state.as_str() {
        "Empty" => eprintln!("\nConsumer group '{group}' has no active members."),
        "PreparingRebalance" | "CompletingRebalance" => {
            eprintln!("\nWarning: Consumer group '{group}' is rebalancing.")
        }
        _ => {}
    }
    if !rows.is_empty() {
        for line in describe_table(group, &rows) {
            print_line(&line)?;
        }
    }
    Ok(())
}

/// Kafka's `--describe` table: a blank line, the header, then one line per row; widths grow
/// with the longest group, topic, consumer id and host.
pub(crate) fn describe_table(group: &str, rows: &[DescribeRow]) -> Vec<String> {
    let group_width = group.len().max(15);
    let topic_width = rows.iter().map(|row| row.topic.len()).max().unwrap_or(0).max(15);
    let consumer_width = rows.iter().map(|row| row.consumer_id.len()).max().unwrap_or(0).max(15);
    let host_width = rows.iter().map(|row| row.host.len()).max().unwrap_or(0).max(15);
    let line = |fields: [&str; 9]| {
        format!(
            "{:<group_width$} {:<topic_width$} {:<10} {:<15} {:<15} {:<15} \
             {:<consumer_width$} {:<host_width$} {}",
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            fields[4],
            fields[5],
            fields[6],
            fields[7],
            fields[8]
        )
    };
    let mut lines = vec![String::new()];
    lines.push(line([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]));
    let text = |value: Option<i64>| value.map_or(MISSING.to_string(), |value| value.to_string());
    for row in rows {
        lines.push(line([
            group,
            &row.topic,
            &row.partition.to_string(),
            &text(row.current_offset),
            &text(row.log_end_offset),
            &text(row.lag()),
            &row.consumer_id,
            &row.host,
            &row.client_id,
        ]));
    }
    lines
}

/// Partition → leader of each existing topic among `topics`.
fn topic_partitions(
    cluster: &mut Cluster,
    topics: &[String],
) -> anyhow::Result<BTreeMap<String, BTreeMap<i32, i32>>> {
    if topics.is_empty() {
        return Ok(BTreeMap::new());
    }
    let metadata = cluster.metadata(Some(topics), false)?;
    Ok(metadata
        .topics
        .iter()
        .filter(|topic| topic.error_code == code::NONE)
        .map(|topic| {
            let partitions =
                topic.partitions.iter().map(|p| (p.partition_index, p.leader_id)).collect();
            (topic_name(topic).to_string(), partitions)
        })
        .collect())
}

/// ListOffsets at `timestamp` (earliest -2, latest -1) for `partitions`, asking each leader.
/// Partitions that do not exist, have no leader or answer an error are left out.
fn list_offsets(
    cluster: &mut Cluster,
    partitions: &BTreeSet<TopicPartition>,
    timestamp: i64,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    let topics: Vec<String> = partitions
        .iter()
        .map(|(topic, _)| topic.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let leaders = topic_partitions(cluster, &topics)?;
    let mut by_leader: BTreeMap<i32, BTreeMap<String, Vec<i32>>> = BTreeMap::new();
    for (topic, partition) in partitions {
        let Some(&leader) = leaders.get(topic).and_then(|found| found.get(partition)) else {
            continue;
        };
        if leader >= 0 {
            by_leader.entry(leader).or_default().entry(topic.clone()).or_default().push(*partition);
        }
    }
    let mut offsets = BTreeMap::new();
    for (leader, topics) in by_leader {
        let request = Request::ListOffsets(ListOffsetsRequest {
            replica_id: -1,
            isolation_level: 0,
            topics: topics
                .into_iter()
                .map(|(name, partitions)| ListOffsetsRequestTopic {
                    name: StrBytes::from_string(name),
                    partitions: partitions
                        .into_iter()
                        .map(|partition_index| ListOffsetsRequestPartition {
                            partition_index,
                            timestamp,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: ADMIN_TIMEOUT_MS,
            ..Default::default()
        });
        let Response::ListOffsets(response) = cluster.node(leader)?.send(request)? else {
            bail!("unexpected response to ListOffsets");
        };
        for topic in &response.topics {
            for partition in &topic.partitions {
                if partition.error_code != code::NONE {
                    continue;
                }
                let offset =
                    partition.old_style_offsets.first().copied().unwrap_or(partition.offset);
                if offset >= 0 {
                    offsets.insert(
                        (topic.name.as_str().to_string(), partition.partition_index),
                        offset,
                    );
                }
            }
        }
    }
    Ok(offsets)
}

fn delete_groups(cluster: &mut Cluster, groups: &[String]) -> anyhow::Result<()> {
    let mut by_coordinator: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for group in groups {
        let (node_id, _) = find_coordinator(cluster, group)?;
        by_coordinator.entry(node_id).or_default().push(group.clone());
    }
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    for (node_id, names) in by_coordinator {
        let request = Request::DeleteGroups(DeleteGroupsRequest {
            groups_names: names.iter().map(|name| StrBytes::from_string(name.clone())).collect(),
            ..Default::default()
        });
        let Response::DeleteGroups(response) = cluster.node(node_id)?.send(request)? else {
            bail!("unexpected response to DeleteGroups");
        };
        for name in names {
            let result = response.results.iter().find(|r| r.group_id.as_str() == name);
            match result.map(|result| result.error_code) {
                Some(code::NONE) => deleted.push(name),
                Some(error) => failed.push((name, error_text(error, None))),
                None => failed.push((name, "the broker did not answer for it".to_string())),
            }
        }
    }
    let quoted = |names: &[String]| {
        names.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ")
    };
    if failed.is_empty() {
        return print_line(&format!(
            "Deletion of requested consumer groups ({}) was successful.",
            quoted(&deleted)
        ));
    }
    if !deleted.is_empty() {
        print_line(&format!(
            "These consumer groups were deleted successfully: {}",
            quoted(&deleted)
        ))?;
    }
    let lines: Vec<String> = failed
        .iter()
        .map(|(name, error)| format!("* Group '{name}' could not be deleted due to: {error}"))
        .collect();
    bail!("Deletion of some consumer groups failed:\n{}", lines.join("\n"))
}

fn reset_groups(
    cluster: &mut Cluster,
    groups: &[String],
    scope: &Scope,
    scenario: Scenario,
    execute: bool,
) -> anyhow::Result<()> {
    let mut plans = Vec::new();
    let mut failures = Vec::new();
    for group in groups {
        match reset_one(cluster, group, scope, scenario, execute) {
            Ok(plan) => plans.push((group.clone(), plan)),
            Err(error) => failures.push(format!("{error:#}")),
        }
    }
    if !plans.is_empty() {
        for line in reset_table(&plans) {
            print_line(&line)?;
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(failures.join("\n")))
    }
}

/// Kafka's reset plan table: a blank line, GROUP TOPIC PARTITION NEW-OFFSET, one row each.
pub(crate) fn reset_table(plans: &[(String, BTreeMap<TopicPartition, i64>)]) -> Vec<String> {
    let group_width = plans.iter().map(|(group, _)| group.len()).max().unwrap_or(0).max(15);
    let topic_width = plans
        .iter()
        .flat_map(|(_, plan)| plan.keys().map(|(topic, _)| topic.len()))
        .max()
        .unwrap_or(0)
        .max(15);
    let line = |group: &str, topic: &str, partition: &str, offset: &str| {
        format!("{group:<group_width$} {topic:<topic_width$} {partition:<10} {offset}")
    };
    let mut lines = vec![String::new(), line("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")];
    for (group, plan) in plans {
        for ((topic, partition), offset) in plan {
            lines.push(line(group, topic, &partition.to_string(), &offset.to_string()));
        }
    }
    lines
}

/// Plans (and with `execute`, commits) one group's new offsets.
fn reset_one(
    cluster: &mut Cluster,
    group: &str,
    scope: &Scope,
    scenario: Scenario,
    execute: bool,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    let described = describe_group(cluster, group)?;
    let state = described.group_state.as_str();
    if !matches!(state, "Empty" | "Dead") {
        bail!(
            "Assignments can only be reset if the group '{group}' is inactive, but the current \
             state is {state}."
        );
    }
    let committed = fetch_committed(coordinator(cluster, group)?, group, None)?;
    let partitions = partitions_to_reset(cluster, scope, &committed)?;
    let plan = plan_offsets(cluster, &partitions, &committed, scenario)?;
    if execute && !plan.is_empty() {
        let refused = commit_offsets(coordinator(cluster, group)?, group, -1, "", &plan)?;
        if let Some((_, error)) = refused.iter().find(|(_, error)| {
            matches!(
                *error,
                code::UNKNOWN_MEMBER_ID | code::ILLEGAL_GENERATION | code::REBALANCE_IN_PROGRESS
            )
        }) {
            bail!(
                "Assignments can only be reset if the group '{group}' is inactive; a member \
                 joined meanwhile ({})",
                error_text(*error, None)
            );
        }
        if !refused.is_empty() {
            let details: Vec<String> = refused
                .iter()
                .map(|((topic, partition), error)| {
                    format!("{topic}-{partition}: {}", error_text(*error, None))
                })
                .collect();
            bail!("cannot reset the offsets of group '{group}': {}", details.join("; "));
        }
    }
    Ok(plan)
}

/// The partitions a reset covers; each must exist and have a leader.
fn partitions_to_reset(
    cluster: &mut Cluster,
    scope: &Scope,
    committed: &BTreeMap<TopicPartition, i64>,
) -> anyhow::Result<BTreeSet<TopicPartition>> {
    let wanted: BTreeSet<TopicPartition> = match scope {
        Scope::AllTopics => committed.keys().cloned().collect(),
        Scope::Topics(args) => {
            let names: Vec<String> = args
                .iter()
                .map(|arg| arg.topic.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let known = topic_partitions(cluster, &names)?;
            let mut wanted = BTreeSet::new();
            for arg in args {
                match &arg.partitions {
                    Some(partitions) => {
                        wanted.extend(partitions.iter().map(|&p| (arg.topic.clone(), p)));
                    }
                    None => {
                        let Some(found) = known.get(&arg.topic) else {
                            bail!(
                                "UNKNOWN_TOPIC_OR_PARTITION: topic '{}' does not exist",
                                arg.topic
                            );
                        };
                        wanted.extend(found.keys().map(|&p| (arg.topic.clone(), p)));
                    }
                }
            }
            wanted
        }
    };
    let topics: Vec<String> = wanted
        .iter()
        .map(|(topic, _)| topic.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let known = topic_partitions(cluster, &topics)?;
    let leader = |(topic, partition): &TopicPartition| {
        known.get(topic).and_then(|found| found.get(partition)).copied()
    };
    let join = |list: Vec<&TopicPartition>| {
        list.iter().map(|(topic, p)| format!("{topic}-{p}")).collect::<Vec<_>>().join(",")
    };
    let missing: Vec<&TopicPartition> = wanted.iter().filter(|tp| leader(tp).is_none()).collect();
    if !missing.is_empty() {
        bail!("UNKNOWN_TOPIC_OR_PARTITION: The partitions \"{}\" do not exist", join(missing));
    }
    let leaderless: Vec<&TopicPartition> =
        wanted.iter().filter(|tp| leader(tp).is_some_and(|id| id < 0)).collect();
    if !leaderless.is_empty() {
        bail!("LEADER_NOT_AVAILABLE: The partitions \"{}\" have no leader", join(leaderless));
    }
    Ok(wanted)
}

/// The new offset of each partition under `scenario`, as Kafka's GroupOffsetsResetter computes
/// it: explicit and shifted offsets are kept within the log's earliest and latest offsets.
fn plan_offsets(
    cluster: &mut Cluster,
    partitions: &BTreeSet<TopicPartition>,
    committed: &BTreeMap<TopicPartition, i64>,
    scenario: Scenario,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let earliest = list_offsets(cluster, partitions, EARLIEST_TIMESTAMP)?;
    let latest = list_offsets(cluster, partitions, LATEST_TIMESTAMP)?;
    let mut plan = BTreeMap::new();
    for tp in partitions {
        let name = format!("{}-{}", tp.0, tp.1);
        let start = earliest.get(tp).copied();
        let end = latest.get(tp).copied();
        let (Some(start), Some(end)) = (start, end) else {
            bail!("Error getting the earliest and latest offsets of topic partition: {name}");
        };
        let requested = match scenario {
            Scenario::Earliest => start,
            Scenario::Latest => end,
            Scenario::Current => committed.get(tp).copied().unwrap_or(end),
            Scenario::Offset(offset) => offset,
            Scenario::ShiftBy(shift) => {
                let Some(current) = committed.get(tp) else {
                    bail!(
                        "Cannot shift offset for partition {name} since there is no current \
                         committed offset"
                    );
                };
                current.saturating_add(shift)
            }
        };
        let offset = if requested > end {
            eprintln!(
                "New offset ({requested}) is higher than latest offset for topic partition \
                 {name}. Value will be set to {end}"
            );
            end
        } else if requested < start {
            eprintln!(
                "New offset ({requested}) is lower than earliest offset for topic partition \
                 {name}. Value will be set to {start}"
            );
            start
        } else {
            requested
        };
        plan.insert(tp.clone(), offset);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ConsumerGroupsArgs,
    }

    fn check(line: &str) -> Result<Action, String> {
        let argv = std::iter::once("consumer-groups").chain(line.split_whitespace());
        validate(&Cli::try_parse_from(argv).unwrap().args).map_err(|error| error.to_string())
    }

    #[test]
    fn arguments_follow_kafka_rules() {
        assert_eq!(check("--list").unwrap(), Action::List);
        assert!(check("").unwrap_err().contains("exactly one action"));
        assert!(check("--list --describe --group g").unwrap_err().contains("exactly one action"));
        assert_eq!(
            check("--describe").unwrap_err(),
            "Option [describe] takes one of these options: [all-groups], [group]"
        );
        assert_eq!(
            check("--describe --group a --group b --group a").unwrap(),
            Action::Describe(Groups::Named(vec!["a".into(), "b".into()]))
        );
        assert_eq!(check("--delete --all-groups").unwrap(), Action::Delete(Groups::All));
        assert!(check("--delete --group g --topic t").unwrap_err().contains("topic-specific"));
        assert!(check("--describe --group g --all-groups").unwrap_err().contains("can't be used"));
        assert!(check("--list --group g").unwrap_err().contains("can't be used"));
        assert!(check("--describe --group g --to-earliest").unwrap_err().contains("[to-earliest]"));
        assert!(check("--describe --group g --execute").unwrap_err().contains("[execute]"));
    }

    #[test]
    fn resets_need_one_scenario_and_a_scope() {
        let error = check("--reset-offsets --group g --topic t").unwrap_err();
        assert!(error.contains("requires one of the following scenarios"), "{error}");
        assert!(error.contains("--to-earliest"), "{error}");
        let error = check("--reset-offsets --group g --to-earliest").unwrap_err();
        assert_eq!(error, "One of the reset scopes should be defined: --all-topics, --topic.");
        let error = check("--reset-offsets --group g --topic t --to-offset 3 --shift-by 1");
        assert_eq!(
            error.unwrap_err(),
            "Option \"[to-offset]\" can't be used with option \"[shift-by]\""
        );
        let error = check("--reset-offsets --group g --topic t --to-latest --dry-run --execute");
        assert!(error.unwrap_err().contains("only accepts one of [execute] and [dry-run]"));
        assert!(check("--reset-offsets --group g --topic t --all-topics --to-latest").is_err());
        assert_eq!(
            check("--reset-offsets --group g --topic t:2,0 --topic u --shift-by -2 --execute")
                .unwrap(),
            Action::Reset {
                groups: Groups::Named(vec!["g".into()]),
                scope: Scope::Topics(vec![
                    TopicArg { topic: "t".into(), partitions: Some(vec![0, 2]) },
                    TopicArg { topic: "u".into(), partitions: None },
                ]),
                scenario: Scenario::ShiftBy(-2),
                execute: true,
            }
        );
        assert_eq!(
            check("--reset-offsets --all-groups --all-topics --to-offset 7").unwrap(),
            Action::Reset {
                groups: Groups::All,
                scope: Scope::AllTopics,
                scenario: Scenario::Offset(7),
                execute: false,
            }
        );
    }

    #[test]
    fn topic_arguments_are_checked() {
        assert_eq!(
            parse_topic_arg("t:x").unwrap_err().to_string(),
            "Invalid partition 'x' specified in topic arg 't:x'"
        );
        assert!(parse_topic_arg("t:-1").is_err());
        assert!(parse_topic_arg("t:").is_err());
        assert!(parse_topic_arg("a:b:c").unwrap_err().to_string().contains("expected topic name"));
        assert!(parse_topic_arg(":1").is_err());
        assert_eq!(
            parse_topic_arg("t:1, 0,1").unwrap(),
            TopicArg { topic: "t".into(), partitions: Some(vec![0, 1]) }
        );
    }

    #[test]
    fn tables_are_laid_out_like_kafkas() {
        let rows = vec![
            DescribeRow {
                topic: "orders".into(),
                partition: 0,
                current_offset: Some(6),
                log_end_offset: Some(9),
                consumer_id: "console-consumer-1".into(),
                host: "/127.0.0.1".into(),
                client_id: "console-consumer".into(),
            },
            DescribeRow {
                topic: "orders".into(),
                partition: 1,
                current_offset: None,
                log_end_offset: Some(4),
                consumer_id: MISSING.into(),
                host: MISSING.into(),
                client_id: MISSING.into(),
            },
        ];
        let lines = describe_table("g", &rows);
        assert_eq!(lines[0], "");
        let header = format!(
            "{:<15} {:<15} {:<10} {:<15} {:<15} {:<15} {:<18} {:<15} {}",
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID"
        );
        assert_eq!(lines[1], header);
        let fields: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            fields,
            [
                "g",
                "orders",
                "0",
                "6",
                "9",
                "3",
                "console-consumer-1",
                "/127.0.0.1",
                "console-consumer"
            ]
        );
        let fields: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(fields, ["g", "orders", "1", "-", "4", "-", "-", "-", "-"]);
        let plan: BTreeMap<TopicPartition, i64> = [(("orders".to_string(), 1), 5)].into();
        let lines = reset_table(&[("g".to_string(), plan)]);
        assert_eq!(
            lines[1],
            format!("{:<15} {:<15} {:<10} NEW-OFFSET", "GROUP", "TOPIC", "PARTITION")
        );
        assert_eq!(lines[2], format!("{:<15} {:<15} {:<10} 5", "g", "orders", "1"));
    }
}

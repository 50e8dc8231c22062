//! `sluice topics`: create, list, describe, delete and grow topics, like `kafka-topics.sh`.

use super::print_line;
use crate::client::{error_description, error_name, topic_name, Client, DEFAULT_BOOTSTRAP_SERVER};
use anyhow::{anyhow, bail};
use sluice_core::protocol::api::create_partitions::{
    CreatePartitionsRequest, CreatePartitionsRequestTopic,
};
use sluice_core::protocol::api::create_topics::{
    CreateTopicsRequest, CreateTopicsRequestConfig, CreateTopicsRequestTopic,
};
use sluice_core::protocol::api::delete_topics::{DeleteTopicsRequest, DeleteTopicsRequestTopic};
use sluice_core::protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsRequestResource, DescribeConfigsResponseConfig,
};
use sluice_core::protocol::api::metadata::{MetadataResponsePartition, MetadataResponseTopic};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::{StrBytes, Uuid};
use std::collections::BTreeMap;

/// How long the broker may take over an admin request, in ms; below the client's read timeout
/// so the broker's answer (even a timeout error) arrives before we give up.
pub(crate) const ADMIN_TIMEOUT_MS: i32 = 25_000;

const CREATE_TOPICS_KEY: i16 = 19;
const DELETE_TOPICS_KEY: i16 = 20;
const DESCRIBE_CONFIGS_KEY: i16 = 32;
const CREATE_PARTITIONS_KEY: i16 = 37;
/// DescribeConfigs resource type of a topic.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
/// DescribeConfigs config source of a value that nobody set.
pub(crate) const SOURCE_DEFAULT_CONFIG: i8 = 5;
const ERROR_PREFIX: &str = "Error while executing topic command : ";

/// Arguments of `sluice topics`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Create, list, describe, delete or add partitions to topics (like kafka-topics)",
    after_help = "Exactly one of --create, --list, --describe, --delete or --alter is required.\n\
                  Except with --create, --topic accepts a pattern: alternatives separated by ',' \
                  or '|', where '.' matches any character and '*', '+', '?' repeat the one \
                  before, as in a regular expression."
)]
pub struct TopicsArgs {
    /// The broker(s) to connect to, host:port[,host:port…].
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_BOOTSTRAP_SERVER)]
    pub bootstrap_server: String,
    /// Create a topic.
    #[arg(long)]
    pub create: bool,
    /// List all topics.
    #[arg(long)]
    pub list: bool,
    /// Describe topics (all topics without --topic).
    #[arg(long)]
    pub describe: bool,
    /// Delete topics.
    #[arg(long)]
    pub delete: bool,
    /// Raise the partition count of topics (with --partitions). To change topic configs, use
    /// `sluice configs`.
    #[arg(long)]
    pub alter: bool,
    /// The topic to create, alter, describe or delete (a pattern, except with --create).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Partition count for --create (default: the broker's num.partitions) or --alter.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub partitions: Option<i32>,
    /// Replication factor for --create (default: the broker's default.replication.factor).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub replication_factor: Option<i32>,
    /// A topic config for --create, name=value; repeat for several.
    #[arg(long = "config", value_name = "NAME=VALUE")]
    pub config: Vec<String>,
    /// With --create: succeed when the topic already exists.
    #[arg(long)]
    pub if_not_exists: bool,
    /// With --alter, --delete or --describe: succeed when no topic matches.
    #[arg(long)]
    pub if_exists: bool,
    /// With --list or --describe: leave out internal topics.
    #[arg(long)]
    pub exclude_internal: bool,
    /// With --describe: only topics that override configs, without their partitions.
    #[arg(long)]
    pub topics_with_overrides: bool,
}

/// What the arguments ask for, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Create {
        topic: String,
        partitions: Option<i32>,
        replication_factor: Option<i16>,
        configs: Vec<(String, String)>,
    },
    List,
    Describe,
    Delete,
    Alter {
        partitions: i32,
    },
}

/// Checks the arguments the way kafka-topics does, with its messages.
pub(crate) fn validate(args: &TopicsArgs) -> anyhow::Result<Action> {
    let actions = [
        (args.create, "create"),
        (args.list, "list"),
        (args.describe, "describe"),
        (args.delete, "delete"),
        (args.alter, "alter"),
    ];
    let chosen: Vec<&str> = actions.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
    let [action] = chosen[..] else {
        bail!(
            "Command must include exactly one action: --list, --describe, --create, --alter or \
             --delete"
        );
    };
    if matches!(action, "create" | "alter" | "delete") && args.topic.is_none() {
        bail!("Missing required argument \"[topic]\"");
    }
    if action == "alter" {
        if !args.config.is_empty() {
            bail!(
                "Option \"[config]\" can't be used with option \"[alter]\" (to change topic \
                 configs, use `sluice configs`)"
            );
        }
        if args.partitions.is_none() {
            bail!("Missing required argument \"[partitions]\"");
        }
    }
    let allowed: [(bool, &str, &[&str]); 7] = [
        (!args.config.is_empty(), "config", &["create"]),
        (args.partitions.is_some(), "partitions", &["create", "alter"]),
        (args.replication_factor.is_some(), "replication-factor", &["create"]),
        (args.if_exists, "if-exists", &["alter", "delete", "describe"]),
        (args.if_not_exists, "if-not-exists", &["create"]),
        (args.exclude_internal, "exclude-internal", &["list", "describe"]),
        (args.topics_with_overrides, "topics-with-overrides", &["describe"]),
    ];
    for (used, option, actions) in allowed {
        if used && !actions.contains(&action) {
            bail!("Option \"[{option}]\" can't be used with option \"[{action}]\"");
        }
    }
    if let Some(partitions) = args.partitions {
        if partitions < 1 {
            bail!("The partitions must be greater than 0");
        }
    }
    Ok(match action {
        "create" => {
            let replication_factor = match args.replication_factor {
                None => None,
                Some(factor) => match i16::try_from(factor) {
                    Ok(factor) if factor >= 1 => Some(factor),
                    _ => {
                        bail!("The replication factor must be between 1 and {} inclusive", i16::MAX)
                    }
                },
            };
            Action::Create {
                topic: args.topic.clone().expect("checked above"),
                partitions: args.partitions,
                replication_factor,
                configs: parse_topic_configs(&args.config)?,
            }
        }
        "list" => Action::List,
        "describe" => Action::Describe,
        "delete" => Action::Delete,
        _ => Action::Alter { partitions: args.partitions.expect("checked above") },
    })
}

/// Parses `--config name=value` values (spaces around `=` allowed, no second `=`).
pub(crate) fn parse_topic_configs(values: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    values
        .iter()
        .map(|value| {
            let parts: Vec<&str> = value.split('=').collect();
            match parts[..] {
                [name, value] if !name.trim().is_empty() => {
                    Ok((name.trim().to_string(), value.trim().to_string()))
                }
                _ => bail!(
                    "Invalid topic config '{value}': all configs to be added must be in the \
                     format \"key=val\"."
                ),
            }
        })
        .collect()
}

/// Runs `sluice topics`.
pub fn run(args: TopicsArgs) -> anyhow::Result<()> {
    let action = validate(&args)?;
    let filter = match (&action, &args.topic) {
        (Action::Create { .. }, _) | (_, None) => None,
        (_, Some(pattern)) => Some(TopicFilter::new(pattern)?),
    };
    let mut client = Client::connect(&args.bootstrap_server, "sluice-topics")?;
    let result = match action {
        Action::Create { topic, partitions, replication_factor, configs } => {
            create(&mut client, &topic, partitions, replication_factor, &configs, &args)
        }
        Action::List => list(&mut client, filter.as_ref(), args.exclude_internal),
        Action::Describe => describe(&mut client, filter.as_ref(), &args),
        Action::Delete => delete(&mut client, filter.as_ref(), &args),
        Action::Alter { partitions } => alter(&mut client, filter.as_ref(), partitions, &args),
    };
    result.map_err(|error| anyhow!("{ERROR_PREFIX}{error}"))
}

fn create(
    client: &mut Client,
    topic: &str,
    partitions: Option<i32>,
    replication_factor: Option<i16>,
    configs: &[(String, String)],
    args: &TopicsArgs,
) -> anyhow::Result<()> {
    // Defaults (-1) need CreateTopics v4+.
    if client.version(CREATE_TOPICS_KEY).is_some_and(|version| version < 4)
        && (partitions.is_none() || replication_factor.is_none())
    {
        bail!("this broker needs both --partitions and --replication-factor with --create");
    }
    let request = Request::CreateTopics(CreateTopicsRequest {
        topics: vec![CreateTopicsRequestTopic {
            name: StrBytes::from_string(topic.to_string()),
            num_partitions: partitions.unwrap_or(-1),
            replication_factor: replication_factor.unwrap_or(-1),
            configs: configs
                .iter()
                .map(|(name, value)| CreateTopicsRequestConfig {
                    name: StrBytes::from_string(name.clone()),
                    value: Some(StrBytes::from_string(value.clone())),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: ADMIN_TIMEOUT_MS,
        validate_only: false,
        ..Default::default()
    });
    let Response::CreateTopics(response) = client.send(request)? else {
        bail!("unexpected response to CreateTopics");
    };
    let Some(result) = response.topics.iter().find(|result| result.name.as_str() == topic) else {
        bail!("the broker's CreateTopics response does not mention topic '{topic}'");
    };
    match result.error_code {
        0 => {
            print_line(&format!("Created topic {topic}."))?;
            Ok(())
        }
        36 if args.if_not_exists => Ok(()),
        code => bail!("{}", topic_error(code, result.error_message.as_ref(), topic)),
    }
}

/// The message for a per-topic error: the broker's own, or one built from the code.
pub(crate) fn topic_error(code: i16, message: Option<&StrBytes>, topic: &str) -> String {
    if let Some(message) = message.map(StrBytes::as_str).filter(|message| !message.is_empty()) {
        return message.to_string();
    }
    match code {
        36 => format!("Topic '{topic}' already exists."),
        3 => format!("Topic '{topic}' does not exist."),
        _ => match error_description(code) {
            Some(description) => format!("{}: {description} (topic '{topic}')", error_name(code)),
            None => format!("{} (error code {code}) for topic '{topic}'", error_name(code)),
        },
    }
}

/// Every topic the broker knows, sorted by name.
fn all_topics(client: &mut Client) -> anyhow::Result<Vec<MetadataResponseTopic>> {
    let mut topics = client.metadata(None, false)?.topics;
    topics.retain(|topic| topic.error_code == 0 || topic.error_code == 5);
    topics.sort_by(|a, b| topic_name(a).cmp(topic_name(b)));
    Ok(topics)
}

fn is_internal(topic: &MetadataResponseTopic) -> bool {
    topic.is_internal || matches!(topic_name(topic), "__consumer_offsets" | "__transaction_state")
}

fn matching(
    topics: Vec<MetadataResponseTopic>,
    filter: Option<&TopicFilter>,
    exclude_internal: bool,
) -> Vec<MetadataResponseTopic> {
    topics
        .into_iter()
        .filter(|topic| !(exclude_internal && is_internal(topic)))
        .filter(|topic| filter.is_none_or(|filter| filter.matches(topic_name(topic))))
        .collect()
}

/// Kafka's check: a named topic that matched nothing is an error unless `--if-exists`.
fn ensure_found(found: &[MetadataResponseTopic], args: &TopicsArgs) -> anyhow::Result<()> {
    match &args.topic {
        Some(topic) if found.is_empty() && !args.if_exists && !topic.is_empty() => {
            bail!("Topic '{topic}' does not exist as expected")
        }
        _ => Ok(()),
    }
}

fn list(
    client: &mut Client,
    filter: Option<&TopicFilter>,
    exclude_internal: bool,
) -> anyhow::Result<()> {
    for topic in matching(all_topics(client)?, filter, exclude_internal) {
        print_line(topic_name(&topic))?;
    }
    Ok(())
}

fn describe(
    client: &mut Client,
    filter: Option<&TopicFilter>,
    args: &TopicsArgs,
) -> anyhow::Result<()> {
    let topics = matching(all_topics(client)?, filter, args.exclude_internal);
    ensure_found(&topics, args)?;
    if topics.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = topics.iter().map(|topic| topic_name(topic).to_string()).collect();
    let configs = non_default_configs(client, &names)?;
    for topic in &topics {
        let name = topic_name(topic);
        let overrides = configs.get(name).map_or(&[][..], Vec::as_slice);
        if args.topics_with_overrides && overrides.is_empty() {
            continue;
        }
        let mut partitions: Vec<&MetadataResponsePartition> = topic.partitions.iter().collect();
        partitions.sort_by_key(|partition| partition.partition_index);
        let replication_factor = partitions.first().map_or(0, |first| first.replica_nodes.len());
        print_line(&topic_line(
            name,
            &topic.topic_id,
            partitions.len(),
            replication_factor,
            overrides,
        ))?;
        if !args.topics_with_overrides {
            for partition in partitions {
                print_line(&partition_line(name, partition))?;
            }
        }
    }
    Ok(())
}

/// The non-default configs of `topics`, by topic, in the broker's order. Empty when the
/// broker does not implement DescribeConfigs.
fn non_default_configs(
    client: &mut Client,
    topics: &[String],
) -> anyhow::Result<BTreeMap<String, Vec<(String, String)>>> {
    let mut configs = BTreeMap::new();
    if client.version(DESCRIBE_CONFIGS_KEY).is_none() {
        return Ok(configs);
    }
    let request = Request::DescribeConfigs(DescribeConfigsRequest {
        resources: topics
            .iter()
            .map(|topic| DescribeConfigsRequestResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: StrBytes::from_string(topic.clone()),
                configuration_keys: None,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    let Response::DescribeConfigs(response) = client.send(request)? else {
        bail!("unexpected response to DescribeConfigs");
    };
    for result in response.results {
        let name = result.resource_name.as_str().to_string();
        if result.error_code != 0 {
            bail!("{}", topic_error(result.error_code, result.error_message.as_ref(), &name));
        }
        let entries = result
            .configs
            .iter()
            .filter(|config| !is_default(config))
            .map(|config| {
                let value = config.value.as_ref().map_or("null", StrBytes::as_str);
                (config.name.as_str().to_string(), value.to_string())
            })
            .collect();
        configs.insert(name, entries);
    }
    Ok(configs)
}

/// Whether a described config holds its default value (`config_source` from v1, `is_default`
/// in v0, which leaves `config_source` at -1).
pub(crate) fn is_default(config: &DescribeConfigsResponseConfig) -> bool {
    config.config_source == SOURCE_DEFAULT_CONFIG
        || (config.config_source == -1 && config.is_default)
}

/// The first line of a topic's description, as kafka-topics prints it.
pub(crate) fn topic_line(
    name: &str,
    topic_id: &Uuid,
    partition_count: usize,
    replication_factor: usize,
    configs: &[(String, String)],
) -> String {
    let mut line = format!("Topic: {name}");
    if *topic_id != [0; 16] {
        line.push_str(&format!("\tTopicId: {}", uuid_to_string(topic_id)));
    }
    let configs: Vec<String> =
        configs.iter().map(|(name, value)| format!("{name}={value}")).collect();
    line.push_str(&format!(
        "\tPartitionCount: {partition_count}\tReplicationFactor: {replication_factor}\tConfigs: {}",
        configs.join(",")
    ));
    line
}

/// One partition's line of a topic's description, as kafka-topics prints it.
pub(crate) fn partition_line(topic: &str, partition: &MetadataResponsePartition) -> String {
    let join = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let leader =
        if partition.leader_id < 0 { "none".to_string() } else { partition.leader_id.to_string() };
    let mut line = format!(
        "\tTopic: {topic}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}",
        partition.partition_index,
        join(&partition.replica_nodes),
        join(&partition.isr_nodes)
    );
    if !partition.offline_replicas.is_empty() {
        line.push_str(&format!("\tOffline: {}", join(&partition.offline_replicas)));
    }
    line
}

/// A topic id as Kafka prints it: URL-safe base64 without padding (22 characters).
pub(crate) fn uuid_to_string(id: &Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in id.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for index in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(bits >> (18 - 6 * index) & 0x3f) as usize]));
        }
    }
    out
}

fn delete(
    client: &mut Client,
    filter: Option<&TopicFilter>,
    args: &TopicsArgs,
) -> anyhow::Result<()> {
    let topics = matching(all_topics(client)?, filter, false);
    ensure_found(&topics, args)?;
    if topics.is_empty() {
        return Ok(());
    }
    let names: Vec<StrBytes> =
        topics.iter().map(|topic| StrBytes::from_string(topic_name(topic).to_string())).collect();
    let version = client.version(DELETE_TOPICS_KEY).unwrap_or(0);
    let request = if version >= 6 {
        DeleteTopicsRequest {
            topics: names
                .iter()
                .map(|name| DeleteTopicsRequestTopic {
                    name: Some(name.clone()),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: ADMIN_TIMEOUT_MS,
            ..Default::default()
        }
    } else {
        DeleteTopicsRequest {
            topic_names: names,
            timeout_ms: ADMIN_TIMEOUT_MS,
            ..Default::default()
        }
    };
    let Response::DeleteTopics(response) = client.send(Request::DeleteTopics(request))? else {
        bail!("unexpected response to DeleteTopics");
    };
    for result in &response.responses {
        if result.error_code != 0 {
            let name = result.name.as_ref().map_or("", StrBytes::as_str);
            bail!("{}", topic_error(result.error_code, result.error_message.as_ref(), name));
        }
    }
    Ok(())
}

fn alter(
    client: &mut Client,
    filter: Option<&TopicFilter>,
    partitions: i32,
    args: &TopicsArgs,
) -> anyhow::Result<()> {
    let topics = matching(all_topics(client)?, filter, false);
    ensure_found(&topics, args)?;
    if topics.is_empty() {
        return Ok(());
    }
    if client.version(CREATE_PARTITIONS_KEY).is_none() {
        bail!("the broker does not support adding partitions (CreatePartitions)");
    }
    let request = Request::CreatePartitions(CreatePartitionsRequest {
        topics: topics
            .iter()
            .map(|topic| CreatePartitionsRequestTopic {
                name: StrBytes::from_string(topic_name(topic).to_string()),
                count: partitions,
                assignments: None,
                ..Default::default()
            })
            .collect(),
        timeout_ms: ADMIN_TIMEOUT_MS,
        validate_only: false,
        ..Default::default()
    });
    let Response::CreatePartitions(response) = client.send(request)? else {
        bail!("unexpected response to CreatePartitions");
    };
    for result in &response.results {
        if result.error_code != 0 {
            let name = result.name.as_str();
            bail!("{}", topic_error(result.error_code, result.error_message.as_ref(), name));
        }
    }
    Ok(())
}

/// Kafka's `--topic` include list: alternatives separated by `,` or `|`, each a small regular
/// expression matched against the whole name: literals, `.` for any character, `\` to escape,
/// and `*`, `+`, `?` after an atom. Anything else is refused rather than misread.
#[derive(Clone, Debug)]
pub(crate) struct TopicFilter {
    alternatives: Vec<Vec<(Atom, Repeat)>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Atom {
    Char(char),
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repeat {
    One,
    ZeroOrMore,
    OneOrMore,
    ZeroOrOne,
}

impl TopicFilter {
    pub(crate) fn new(pattern: &str) -> anyhow::Result<Self> {
        let cleaned: String = pattern.trim().chars().filter(|c| *c != ' ').collect();
        let cleaned = cleaned.trim_matches(|c| c == '"' || c == '\'');
        let mut alternatives = Vec::new();
        for alternative in cleaned.split([',', '|']) {
            let alternative = alternative.strip_prefix('^').unwrap_or(alternative);
            let alternative = match alternative.strip_suffix('$') {
                Some(rest) if !rest.ends_with('\\') => rest,
                _ => alternative,
            };
            let mut atoms: Vec<(Atom, Repeat)> = Vec::new();
            let mut chars = alternative.chars();
            while let Some(c) = chars.next() {
                let repeat = match c {
                    '*' => Some(Repeat::ZeroOrMore),
                    '+' => Some(Repeat::OneOrMore),
                    '?' => Some(Repeat::ZeroOrOne),
                    _ => None,
                };
                if let Some(repeat) = repeat {
                    match atoms.last_mut() {
                        Some((_, last @ Repeat::One)) => *last = repeat,
                        _ => bail!("unsupported topic pattern '{pattern}': '{c}' repeats nothing"),
                    }
                    continue;
                }
                let atom = match c {
                    '.' => Atom::Any,
                    '\\' => match chars.next() {
                        Some(escaped) if !escaped.is_ascii_alphanumeric() => Atom::Char(escaped),
                        _ => bail!("unsupported topic pattern '{pattern}': bad escape"),
                    },
                    '[' | ']' | '(' | ')' | '{' | '}' | '^' | '$' => bail!(
                        "unsupported topic pattern '{pattern}': '{c}' is not supported (use \
                         literals, '.', '*', '+', '?', and ',' or '|' between alternatives)"
                    ),
                    c => Atom::Char(c),
                };
                atoms.push((atom, Repeat::One));
            }
            alternatives.push(atoms);
        }
        Ok(Self { alternatives })
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        self.alternatives.iter().any(|atoms| match_here(atoms, &name))
    }
}

fn match_here(atoms: &[(Atom, Repeat)], text: &[char]) -> bool {
    let Some(&(atom, repeat)) = atoms.first() else { return text.is_empty() };
    let fits = |c: &char| atom == Atom::Any || atom == Atom::Char(*c);
    let rest = &atoms[1..];
    match repeat {
        Repeat::One => text.first().is_some_and(fits) && match_here(rest, &text[1..]),
        Repeat::ZeroOrOne => {
            match_here(rest, text)
                || (text.first().is_some_and(fits) && match_here(rest, &text[1..]))
        }
        Repeat::ZeroOrMore | Repeat::OneOrMore => {
            let run = text.iter().take_while(|c| fits(c)).count();
            let least = usize::from(repeat == Repeat::OneOrMore);
            (least..=run).rev().any(|taken| match_here(rest, &text[taken..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: TopicsArgs,
    }

    fn parse(line: &str) -> TopicsArgs {
        let argv = std::iter::once("topics").chain(line.split_whitespace());
        Cli::try_parse_from(argv).unwrap().args
    }

    fn check(line: &str) -> Result<Action, String> {
        validate(&parse(line)).map_err(|error| error.to_string())
    }

    #[test]
    fn exactly_one_action_is_required() {
        let message = "Command must include exactly one action: --list, --describe, --create, \
                       --alter or --delete";
        assert_eq!(check("--topic t").unwrap_err(), message);
        assert_eq!(check("--list --describe").unwrap_err(), message);
        assert_eq!(check("--list").unwrap(), Action::List);
        assert_eq!(check("--describe").unwrap(), Action::Describe);
        assert_eq!(check("--delete --topic t").unwrap(), Action::Delete);
    }

    #[test]
    fn create_checks_its_arguments() {
        assert_eq!(check("--create").unwrap_err(), "Missing required argument \"[topic]\"");
        assert_eq!(
            check("--create --topic t --partitions 0").unwrap_err(),
            "The partitions must be greater than 0"
        );
        assert_eq!(
            check("--create --topic t --replication-factor 0").unwrap_err(),
            "The replication factor must be between 1 and 32767 inclusive"
        );
        assert_eq!(
            check("--create --topic t --replication-factor 40000").unwrap_err(),
            "The replication factor must be between 1 and 32767 inclusive"
        );
        assert_eq!(
            check("--create --topic t --partitions 3 --replication-factor 1 --config a=1 --config b=x")
                .unwrap(),
            Action::Create {
                topic: "t".into(),
                partitions: Some(3),
                replication_factor: Some(1),
                configs: vec![("a".into(), "1".into()), ("b".into(), "x".into())],
            }
        );
        assert!(check("--create --topic t --config novalue").unwrap_err().contains("key=val"));
        assert!(check("--create --topic t --config a=b=c").unwrap_err().contains("key=val"));
        assert_eq!(
            check("--create --topic t --if-exists").unwrap_err(),
            "Option \"[if-exists]\" can't be used with option \"[create]\""
        );
    }

    #[test]
    fn options_are_refused_with_the_wrong_action() {
        assert_eq!(
            check("--list --partitions 3").unwrap_err(),
            "Option \"[partitions]\" can't be used with option \"[list]\""
        );
        assert_eq!(
            check("--describe --if-not-exists").unwrap_err(),
            "Option \"[if-not-exists]\" can't be used with option \"[describe]\""
        );
        assert_eq!(
            check("--alter --topic t --replication-factor 2 --partitions 2").unwrap_err(),
            "Option \"[replication-factor]\" can't be used with option \"[alter]\""
        );
        assert!(check("--alter --topic t --partitions 2 --config a=b")
            .unwrap_err()
            .contains("sluice configs"));
        assert_eq!(
            check("--alter --topic t").unwrap_err(),
            "Missing required argument \"[partitions]\""
        );
        assert_eq!(
            check("--alter --topic t --partitions 4").unwrap(),
            Action::Alter { partitions: 4 }
        );
        assert_eq!(
            check("--delete --topic t --exclude-internal").unwrap_err(),
            "Option \"[exclude-internal]\" can't be used with option \"[delete]\""
        );
    }

    #[test]
    fn describe_lines_match_kafka() {
        let id: Uuid = [
            0x74, 0xa2, 0x97, 0x53, 0x9f, 0x4c, 0x4a, 0x2b, 0x8e, 0x0d, 0x10, 0x5c, 0x01, 0x6b,
            0x2d, 0xf3,
        ];
        let configs = vec![("cleanup.policy".to_string(), "compact".to_string())];
        assert_eq!(
            topic_line("orders", &id, 3, 1, &configs),
            "Topic: orders\tTopicId: dKKXU59MSiuODRBcAWst8w\tPartitionCount: 3\t\
             ReplicationFactor: 1\tConfigs: cleanup.policy=compact"
        );
        assert_eq!(
            topic_line("t", &[0; 16], 1, 1, &[]),
            "Topic: t\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: "
        );
        let partition = MetadataResponsePartition {
            partition_index: 2,
            leader_id: 1,
            replica_nodes: vec![1, 2, 3],
            isr_nodes: vec![1, 3],
            ..Default::default()
        };
        assert_eq!(
            partition_line("orders", &partition),
            "\tTopic: orders\tPartition: 2\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,3"
        );
        let leaderless = MetadataResponsePartition { leader_id: -1, ..Default::default() };
        assert_eq!(
            partition_line("t", &leaderless),
            "\tTopic: t\tPartition: 0\tLeader: none\tReplicas: \tIsr: "
        );
    }

    #[test]
    fn topic_ids_print_as_url_safe_base64() {
        assert_eq!(uuid_to_string(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(uuid_to_string(&[0xff; 16]), "_____________________w");
        assert_eq!(uuid_to_string(&[0xfb; 16]).len(), 22);
        assert!(uuid_to_string(&[0xfb; 16]).starts_with("-_v7"));
    }

    #[test]
    fn topic_patterns_match_like_kafka_include_lists() {
        let matches = |pattern: &str, name: &str| TopicFilter::new(pattern).unwrap().matches(name);
        assert!(matches("orders", "orders"));
        assert!(!matches("orders", "orders2"));
        assert!(matches("orders.*", "orders-eu"));
        assert!(matches("orders.*", "orders"));
        assert!(matches("a,b", "b") && matches("a|b", "a") && !matches("a,b", "c"));
        assert!(matches("my.topic", "my.topic") && matches("my.topic", "my-topic"));
        assert!(matches("my\\.topic", "my.topic") && !matches("my\\.topic", "my-topic"));
        assert!(matches("t-?1", "t1") && matches("t-?1", "t-1") && !matches("t-?1", "t--1"));
        assert!(matches("x+y", "xxy") && !matches("x+y", "y"));
        assert!(matches("^orders$", "orders"));
        assert!(matches(" \"a\" ", "a"));
        assert!(TopicFilter::new("[a-z]+").is_err());
        assert!(TopicFilter::new("*").is_err());
    }

    #[test]
    fn per_topic_errors_use_the_broker_message_or_name_the_code() {
        let message = StrBytes::from_static("Topic 'x' already exists.");
        assert_eq!(topic_error(36, Some(&message), "x"), "Topic 'x' already exists.");
        assert_eq!(topic_error(36, None, "x"), "Topic 'x' already exists.");
        assert_eq!(
            topic_error(37, None, "x"),
            "INVALID_PARTITIONS: The partition count is not valid. (topic 'x')"
        );
    }

    #[test]
    fn defaults_are_recognised_in_v0_and_later() {
        let v1 = DescribeConfigsResponseConfig { config_source: 5, ..Default::default() };
        let dynamic = DescribeConfigsResponseConfig { config_source: 1, ..Default::default() };
        let v0 = DescribeConfigsResponseConfig { is_default: true, ..Default::default() };
        assert!(is_default(&v1) && is_default(&v0) && !is_default(&dynamic));
    }
}

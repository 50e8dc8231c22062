//! `sluice configs`: describe and change topic configs, like `kafka-configs.sh`.

use super::print_line;
use super::topics::{is_default, topic_error, RESOURCE_TOPIC};
use crate::client::{topic_name, Client, DEFAULT_BOOTSTRAP_SERVER};
use anyhow::{anyhow, bail};
use sluice_core::protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsRequestResource, DescribeConfigsResponseConfig,
};
use sluice_core::protocol::api::incremental_alter_configs::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsRequestConfig,
    IncrementalAlterConfigsRequestResource,
};
use sluice_core::protocol::api::{Request, Response};
use sluice_core::protocol::wire::StrBytes;

const DESCRIBE_CONFIGS_KEY: i16 = 32;
const INCREMENTAL_ALTER_CONFIGS_KEY: i16 = 44;
const SOURCE_DYNAMIC_TOPIC_CONFIG: i8 = 1;
const OPERATION_SET: i8 = 0;
const OPERATION_DELETE: i8 = 1;
const ERROR_PREFIX: &str = "Error while executing config command : ";
const ENTITY_TYPES: [&str; 7] =
    ["topics", "clients", "users", "brokers", "broker-loggers", "client-metrics", "groups"];

/// Arguments of `sluice configs`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Describe or change the dynamic configs of topics (like kafka-configs)",
    after_help = "Examples:\n  \
                  sluice configs --describe --entity-type topics --entity-name orders\n  \
                  sluice configs --alter --entity-type topics --entity-name orders \\\n      \
                  --add-config retention.ms=86400000,cleanup.policy=[compact,delete]\n  \
                  sluice configs --alter --topic orders --delete-config retention.ms"
)]
pub struct ConfigsArgs {
    /// The broker(s) to connect to, host:port[,host:port…].
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_BOOTSTRAP_SERVER)]
    pub bootstrap_server: String,
    /// Print the configs of the entity (all topics without --entity-name).
    #[arg(long)]
    pub describe: bool,
    /// Change the configs of the entity.
    #[arg(long)]
    pub alter: bool,
    /// The kind of entity; only topics is supported so far.
    #[arg(long, value_name = "TYPE")]
    pub entity_type: Option<String>,
    /// The entity's name (the topic).
    #[arg(long, value_name = "NAME")]
    pub entity_name: Option<String>,
    /// Short for --entity-type topics --entity-name TOPIC.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Configs to set, k1=v1,k2=[v2,v3] (square brackets group a list value).
    #[arg(long, value_name = "CONFIGS")]
    pub add_config: Option<String>,
    /// Configs to remove, k1,k2 (they return to the broker's default).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub delete_config: Vec<String>,
    /// With --describe: every config, not only the dynamic ones.
    #[arg(long)]
    pub all: bool,
}

/// What the arguments ask for, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Describe { topic: Option<String>, all: bool },
    Alter { topic: String, set: Vec<(String, String)>, delete: Vec<String> },
}

/// Checks the arguments the way kafka-configs does.
pub(crate) fn validate(args: &ConfigsArgs) -> anyhow::Result<Action> {
    if args.describe == args.alter {
        bail!("Command must include exactly one action: --describe, --alter");
    }
    let (entity_type, entity_name) = match (&args.topic, &args.entity_type) {
        (Some(_), Some(kind)) if kind != "topics" => {
            bail!("--topic can't be used with --entity-type {kind}")
        }
        (Some(_), _) if args.entity_name.is_some() => {
            bail!("Option \"[topic]\" can't be used with option \"[entity-name]\"")
        }
        (Some(topic), _) => ("topics".to_string(), Some(topic.clone())),
        (None, Some(kind)) => (kind.clone(), args.entity_name.clone()),
        (None, None) => bail!("an entity type must be given: --entity-type topics, or --topic"),
    };
    if !ENTITY_TYPES.contains(&entity_type.as_str()) {
        bail!(
            "Invalid entity type {entity_type}, the entity type must be one of {}",
            ENTITY_TYPES.join(", ")
        );
    }
    if entity_type != "topics" {
        bail!("--entity-type {entity_type} is not supported yet: only topics");
    }
    let delete: Vec<String> = args
        .delete_config
        .iter()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect();
    if args.describe {
        if args.add_config.is_some() {
            bail!("Option \"[add-config]\" can't be used with option \"[describe]\"");
        }
        if !delete.is_empty() {
            bail!("Option \"[delete-config]\" can't be used with option \"[describe]\"");
        }
        return Ok(Action::Describe { topic: entity_name, all: args.all });
    }
    if args.all {
        bail!("Option \"[all]\" can't be used with option \"[alter]\"");
    }
    let Some(topic) = entity_name.filter(|name| !name.is_empty()) else {
        bail!("an entity name must be specified with --alter of topics");
    };
    let set = match &args.add_config {
        Some(text) => parse_add_config(text)?,
        None => Vec::new(),
    };
    if set.is_empty() && delete.is_empty() {
        bail!("At least one of --add-config or --delete-config must be specified with --alter");
    }
    if let Some((name, _)) = set.iter().find(|(name, _)| delete.contains(name)) {
        bail!("Config {name} is both added and deleted");
    }
    Ok(Action::Alter { topic, set, delete })
}

/// Parses `k1=v1,k2=[a,b]`: commas inside square brackets belong to the value, and the
/// brackets themselves are dropped (`k2` gets `a,b`), as kafka-configs does.
pub(crate) fn parse_add_config(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut configs = Vec::new();
    for entry in split_outside_brackets(text, ',') {
        if entry.trim().is_empty() {
            continue;
        }
        let parts = split_outside_brackets(&entry, '=');
        match &parts[..] {
            [name, value] if !name.trim().is_empty() => {
                let value: String = value.chars().filter(|c| *c != '[' && *c != ']').collect();
                configs.push((name.trim().to_string(), value.trim().to_string()));
            }
            _ => bail!(
                "Invalid entity config '{entry}': all configs to be added must be in the format \
                 \"key=val\"."
            ),
        }
    }
    Ok(configs)
}

fn split_outside_brackets(text: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == separator && depth == 0 {
            parts.push(String::new());
        } else {
            parts.last_mut().expect("never empty").push(c);
        }
    }
    parts
}

/// Runs `sluice configs`.
pub fn run(args: ConfigsArgs) -> anyhow::Result<()> {
    let action = validate(&args)?;
    let mut client = Client::connect(&args.bootstrap_server, "sluice-configs")?;
    let result = match action {
        Action::Describe { topic, all } => describe(&mut client, topic, all),
        Action::Alter { topic, set, delete } => alter(&mut client, &topic, &set, &delete),
    };
    result.map_err(|error| anyhow!("{ERROR_PREFIX}{error}"))
}

fn describe(client: &mut Client, topic: Option<String>, all: bool) -> anyhow::Result<()> {
    let topics = match topic {
        Some(topic) => vec![topic],
        None => {
            let mut names: Vec<String> = client
                .metadata(None, false)?
                .topics
                .iter()
                .map(|topic| topic_name(topic).to_string())
                .collect();
            names.sort();
            names
        }
    };
    for (topic, configs) in describe_configs(client, &topics)? {
        let kind = if all { "All" } else { "Dynamic" };
        print_line(&format!("{kind} configs for topic {topic} are:"))?;
        for config in configs.iter().filter(|config| all || is_dynamic(config)) {
            print_line(&format!("  {}", config_line(config)))?;
        }
    }
    Ok(())
}

/// The configs of `topics` with their synonyms, in the order asked.
fn describe_configs(
    client: &mut Client,
    topics: &[String],
) -> anyhow::Result<Vec<(String, Vec<DescribeConfigsResponseConfig>)>> {
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    if client.version(DESCRIBE_CONFIGS_KEY).is_none() {
        bail!("the broker at {} does not support DescribeConfigs", client.address());
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
        include_synonyms: true,
        ..Default::default()
    });
    let Response::DescribeConfigs(response) = client.send(request)? else {
        bail!("unexpected response to DescribeConfigs");
    };
    let mut described = Vec::new();
    for topic in topics {
        let Some(result) =
            response.results.iter().find(|result| result.resource_name.as_str() == topic)
        else {
            bail!("the broker's DescribeConfigs response does not mention topic '{topic}'");
        };
        if result.error_code != 0 {
            bail!("{}", topic_error(result.error_code, result.error_message.as_ref(), topic));
        }
        described.push((topic.clone(), result.configs.clone()));
    }
    Ok(described)
}

/// Whether a topic config was set on the topic itself (v0 has no source: not a default).
fn is_dynamic(config: &DescribeConfigsResponseConfig) -> bool {
    config.config_source == SOURCE_DYNAMIC_TOPIC_CONFIG
        || (config.config_source == -1 && !is_default(config))
}

/// Kafka's name for a config source.
pub(crate) fn source_name(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

/// One config as kafka-configs prints it: `name=value sensitive=false synonyms={…}`.
pub(crate) fn config_line(config: &DescribeConfigsResponseConfig) -> String {
    let value =
        |value: &Option<StrBytes>| value.as_ref().map_or("null", StrBytes::as_str).to_string();
    let synonyms: Vec<String> = config
        .synonyms
        .iter()
        .map(|synonym| {
            format!("{}:{}={}", source_name(synonym.source), synonym.name, value(&synonym.value))
        })
        .collect();
    format!(
        "{}={} sensitive={} synonyms={{{}}}",
        config.name,
        value(&config.value),
        config.is_sensitive,
        synonyms.join(", ")
    )
}

fn alter(
    client: &mut Client,
    topic: &str,
    set: &[(String, String)],
    delete: &[String],
) -> anyhow::Result<()> {
    if client.version(INCREMENTAL_ALTER_CONFIGS_KEY).is_none() {
        bail!("the broker at {} does not support IncrementalAlterConfigs", client.address());
    }
    // Like kafka-configs: deleting a config the topic does not set is an error.
    if !delete.is_empty() && client.version(DESCRIBE_CONFIGS_KEY).is_some() {
        let described = describe_configs(client, &[topic.to_string()])?;
        let dynamic: Vec<&str> = described
            .iter()
            .flat_map(|(_, configs)| configs.iter())
            .filter(|config| is_dynamic(config))
            .map(|config| config.name.as_str())
            .collect();
        let invalid: Vec<&str> =
            delete.iter().map(String::as_str).filter(|name| !dynamic.contains(name)).collect();
        if !invalid.is_empty() {
            bail!("Invalid config(s): {}", invalid.join(","));
        }
    }
    let mut configs: Vec<IncrementalAlterConfigsRequestConfig> = set
        .iter()
        .map(|(name, value)| IncrementalAlterConfigsRequestConfig {
            name: StrBytes::from_string(name.clone()),
            config_operation: OPERATION_SET,
            value: Some(StrBytes::from_string(value.clone())),
            ..Default::default()
        })
        .collect();
    configs.extend(delete.iter().map(|name| IncrementalAlterConfigsRequestConfig {
        name: StrBytes::from_string(name.clone()),
        config_operation: OPERATION_DELETE,
        value: None,
        ..Default::default()
    }));
    let request = Request::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
        resources: vec![IncrementalAlterConfigsRequestResource {
            resource_type: RESOURCE_TOPIC,
            resource_name: StrBytes::from_string(topic.to_string()),
            configs,
            ..Default::default()
        }],
        validate_only: false,
        ..Default::default()
    });
    let Response::IncrementalAlterConfigs(response) = client.send(request)? else {
        bail!("unexpected response to IncrementalAlterConfigs");
    };
    for result in &response.responses {
        if result.error_code != 0 {
            bail!("{}", topic_error(result.error_code, result.error_message.as_ref(), topic));
        }
    }
    print_line(&format!("Completed updating config for topic {topic}."))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use sluice_core::protocol::api::describe_configs::DescribeConfigsResponseSynonym;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ConfigsArgs,
    }

    fn check(line: &str) -> Result<Action, String> {
        let argv = std::iter::once("configs").chain(line.split_whitespace());
        validate(&Cli::try_parse_from(argv).unwrap().args).map_err(|error| error.to_string())
    }

    #[test]
    fn arguments_are_checked() {
        assert_eq!(
            check("--entity-type topics").unwrap_err(),
            "Command must include exactly one action: --describe, --alter"
        );
        assert_eq!(
            check("--describe --entity-type topics --entity-name t").unwrap(),
            Action::Describe { topic: Some("t".into()), all: false }
        );
        assert_eq!(
            check("--describe --entity-type topics --all").unwrap(),
            Action::Describe { topic: None, all: true }
        );
        assert_eq!(
            check("--describe --topic t").unwrap(),
            Action::Describe { topic: Some("t".into()), all: false }
        );
        assert!(check("--describe --entity-type brokers --entity-name 1")
            .unwrap_err()
            .contains("not supported yet"));
        assert!(check("--describe --entity-type widgets")
            .unwrap_err()
            .contains("Invalid entity type"));
        assert!(check("--describe").unwrap_err().contains("entity type"));
        assert_eq!(
            check("--alter --topic t").unwrap_err(),
            "At least one of --add-config or --delete-config must be specified with --alter"
        );
        assert!(check("--alter --entity-type topics --add-config a=1")
            .unwrap_err()
            .contains("entity name"));
        assert_eq!(
            check("--describe --topic t --add-config a=1").unwrap_err(),
            "Option \"[add-config]\" can't be used with option \"[describe]\""
        );
        assert_eq!(
            check(
                "--alter --entity-type topics --entity-name t --add-config a=1,b=[x,y] \
                   --delete-config c,d --delete-config e"
            )
            .unwrap(),
            Action::Alter {
                topic: "t".into(),
                set: vec![("a".into(), "1".into()), ("b".into(), "x,y".into())],
                delete: vec!["c".into(), "d".into(), "e".into()],
            }
        );
        assert!(check("--alter --topic t --add-config a=1 --delete-config a")
            .unwrap_err()
            .contains("both added and deleted"));
    }

    #[test]
    fn add_config_values_parse_like_kafka() {
        assert_eq!(
            parse_add_config("retention.ms = 1000, cleanup.policy=[compact,delete],empty=")
                .unwrap(),
            vec![
                ("retention.ms".to_string(), "1000".to_string()),
                ("cleanup.policy".to_string(), "compact,delete".to_string()),
                ("empty".to_string(), String::new()),
            ]
        );
        assert!(parse_add_config("novalue").unwrap_err().to_string().contains("key=val"));
        assert!(parse_add_config("a=b=c").is_err());
        assert!(parse_add_config("=v").is_err());
    }

    #[test]
    fn describe_lines_match_kafka() {
        let config = DescribeConfigsResponseConfig {
            name: StrBytes::from_static("min.insync.replicas"),
            value: Some(StrBytes::from_static("2")),
            config_source: 1,
            synonyms: vec![
                DescribeConfigsResponseSynonym {
                    name: StrBytes::from_static("min.insync.replicas"),
                    value: Some(StrBytes::from_static("2")),
                    source: 1,
                    ..Default::default()
                },
                DescribeConfigsResponseSynonym {
                    name: StrBytes::from_static("min.insync.replicas"),
                    value: Some(StrBytes::from_static("1")),
                    source: 5,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            config_line(&config),
            "min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:\
             min.insync.replicas=2, DEFAULT_CONFIG:min.insync.replicas=1}"
        );
        assert!(is_dynamic(&config));
        let secret = DescribeConfigsResponseConfig {
            name: StrBytes::from_static("password"),
            value: None,
            is_sensitive: true,
            config_source: 4,
            ..Default::default()
        };
        assert_eq!(config_line(&secret), "password=null sensitive=true synonyms={}");
        assert!(!is_dynamic(&secret));
    }
}

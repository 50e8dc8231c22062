//! `sluice log-dirs`: each broker's log directories and the size of every partition in them,
//! printed as the JSON `kafka-log-dirs.sh --describe` prints.

use super::print_line;
use crate::client::{error_name, Cluster, DEFAULT_BOOTSTRAP_SERVER};
use anyhow::{anyhow, bail};
use sluice_core::protocol::api::describe_log_dirs::{
    DescribeLogDirsRequest, DescribeLogDirsResponse,
};
use sluice_core::protocol::api::{Request, Response};
use std::collections::BTreeSet;
use std::fmt::Write;

const DESCRIBE_LOG_DIRS_KEY: i16 = 35;

/// Arguments of `sluice log-dirs`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Describe the log directories of brokers and the partitions in them (like kafka-log-dirs)",
    after_help = "Examples:\n  \
                  sluice log-dirs --describe\n  \
                  sluice log-dirs --describe --topic-list orders,payments --broker-list 1"
)]
pub struct LogDirsArgs {
    /// The broker(s) to connect to, host:port[,host:port…].
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_BOOTSTRAP_SERVER)]
    pub bootstrap_server: String,
    /// Describe the log directories (the only action).
    #[arg(long)]
    pub describe: bool,
    /// Only these topics, comma separated (default: all).
    #[arg(long, value_name = "TOPICS", value_delimiter = ',')]
    pub topic_list: Vec<String>,
    /// Only these brokers, comma separated ids (default: all).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub broker_list: Vec<String>,
}

/// Runs `sluice log-dirs`.
pub fn run(args: LogDirsArgs) -> anyhow::Result<()> {
    if !args.describe {
        bail!("Command must include exactly one action: --describe");
    }
    let wanted_brokers = args
        .broker_list
        .iter()
        .filter(|id| !id.trim().is_empty())
        .map(|id| {
            id.trim().parse::<i32>().map_err(|_| {
                anyhow!("--broker-list takes broker ids separated by commas, not {id:?}")
            })
        })
        .collect::<anyhow::Result<BTreeSet<i32>>>()?;
    let topics: BTreeSet<&str> =
        args.topic_list.iter().map(|topic| topic.trim()).filter(|t| !t.is_empty()).collect();
    let mut cluster = Cluster::connect(&args.bootstrap_server, "sluice-log-dirs")?;
    let metadata = cluster.metadata(Some(&[]), false)?;
    let existing: BTreeSet<i32> = metadata.brokers.iter().map(|broker| broker.node_id).collect();
    let missing: Vec<String> =
        wanted_brokers.difference(&existing).map(|id| id.to_string()).collect();
    if !missing.is_empty() {
        let existing: Vec<String> = existing.iter().map(|id| id.to_string()).collect();
        bail!(
            "The given brokers do not exist from --broker-list: {}. Current existent brokers: {}",
            missing.join(","),
            existing.join(",")
        );
    }
    let brokers: Vec<i32> = if wanted_brokers.is_empty() {
        existing.into_iter().collect()
    } else {
        wanted_brokers.into_iter().collect()
    };
    print_line("Querying brokers for log directories information")?;
    let mut described = Vec::new();
    for &broker in &brokers {
        let client = cluster.node(broker)?;
        if client.version(DESCRIBE_LOG_DIRS_KEY).is_none() {
            bail!("the broker at {} does not support DescribeLogDirs", client.address());
        }
        let request =
            Request::DescribeLogDirs(DescribeLogDirsRequest { topics: None, ..Default::default() });
        let Response::DescribeLogDirs(response) = client.send(request)? else {
            bail!("unexpected response to DescribeLogDirs from broker {broker}");
        };
        if response.error_code != 0 {
            bail!("broker {broker} refused DescribeLogDirs: {}", error_name(response.error_code));
        }
        described.push((broker, response));
    }
    let ids: Vec<String> = brokers.iter().map(|id| id.to_string()).collect();
    print_line(&format!("Received log directory information from brokers {}", ids.join(",")))?;
    print_line(&to_json(&described, &topics))
}

/// The JSON of kafka-log-dirs: brokers, their directories, and each directory's partitions
/// (of `topics` only, unless it is empty) as `topic-partition`.
fn to_json(described: &[(i32, DescribeLogDirsResponse)], topics: &BTreeSet<&str>) -> String {
    let mut json = String::from("{\"brokers\":[");
    for (index, (broker, response)) in described.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        let _ = write!(json, "{{\"broker\":{broker},\"logDirs\":[");
        for (index, dir) in response.results.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            let error = match dir.error_code {
                0 => "null".to_string(),
                code => json_string(error_name(code)),
            };
            let _ = write!(
                json,
                "{{\"error\":{error},\"logDir\":{},",
                json_string(dir.log_dir.as_str())
            );
            json.push_str("\"partitions\":[");
            let partitions = dir
                .topics
                .iter()
                .filter(|topic| topics.is_empty() || topics.contains(topic.name.as_str()))
                .flat_map(|topic| topic.partitions.iter().map(move |p| (topic, p)));
            for (index, (topic, partition)) in partitions.enumerate() {
                if index > 0 {
                    json.push(',');
                }
                let name = format!("{}-{}", topic.name, partition.partition_index);
                let _ = write!(
                    json,
                    "{{\"partition\":{},\"size\":{},\"offsetLag\":{},\"isFuture\":{}}}",
                    json_string(&name),
                    partition.partition_size,
                    partition.offset_lag,
                    partition.is_future_key
                );
            }
            json.push_str("]}");
        }
        json.push_str("]}");
    }
    json.push_str("],\"version\":1}");
    json
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::protocol::api::describe_log_dirs::{
        DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
    };
    use sluice_core::protocol::wire::StrBytes;

    fn topic(name: &'static str, sizes: &[i64]) -> DescribeLogDirsTopic {
        DescribeLogDirsTopic {
            name: StrBytes::from_static(name),
            partitions: sizes
                .iter()
                .enumerate()
                .map(|(index, &size)| DescribeLogDirsPartition {
                    partition_index: index as i32,
                    partition_size: size,
                    offset_lag: index as i64,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn prints_kafka_log_dirs_json_with_the_topics_asked_for() {
        let response = DescribeLogDirsResponse {
            results: vec![
                DescribeLogDirsResult {
                    log_dir: StrBytes::from_static("/data/a \"b\"\\c"),
                    topics: vec![topic("orders", &[120, 0]), topic("pay", &[7])],
                    ..Default::default()
                },
                DescribeLogDirsResult {
                    error_code: 56,
                    log_dir: StrBytes::from_static("/data/b"),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let described = vec![(1, response)];
        assert_eq!(
            to_json(&described, &BTreeSet::from(["orders"])),
            "{\"brokers\":[{\"broker\":1,\"logDirs\":[{\"error\":null,\"logDir\":\"/data/a \\\"b\\\"\\\\c\",\
             \"partitions\":[{\"partition\":\"orders-0\",\"size\":120,\"offsetLag\":0,\"isFuture\":false},\
             {\"partition\":\"orders-1\",\"size\":0,\"offsetLag\":1,\"isFuture\":false}]},\
             {\"error\":\"KAFKA_STORAGE_ERROR\",\"logDir\":\"/data/b\",\"partitions\":[]}]}],\"version\":1}"
        );
        let all = to_json(&described, &BTreeSet::new());
        assert!(
            all.contains("{\"partition\":\"pay-0\",\"size\":7,\"offsetLag\":0,\"isFuture\":false}")
        );
        assert_eq!(json_string("a\nb"), "\"a\\u000ab\"");
    }
}

//! The `sluice` command-line tools: Kafka clients that mirror Kafka's own tools (flags,
//! defaults and output), built on [`crate::client`].
//!
//! Each tool's `run` returns an error whose text is the whole message for the user (already in
//! Kafka's wording where Kafka has one); the binary prints it on stderr and exits with status 1.

pub mod configs;
pub mod console_consumer;
pub mod console_producer;
pub mod consumer_groups;
pub(crate) mod group_member;
pub mod log_dirs;
pub mod perf;
pub mod topics;

use anyhow::bail;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The tools, as `sluice` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ToolCommand {
    /// Create, list, describe, delete or add partitions to topics (like kafka-topics).
    Topics(topics::TopicsArgs),
    /// Send lines read from standard input as records to a topic (like kafka-console-producer).
    ConsoleProducer(console_producer::ConsoleProducerArgs),
    /// Print records of a topic on standard output (like kafka-console-consumer).
    ConsoleConsumer(console_consumer::ConsoleConsumerArgs),
    /// List, describe or delete consumer groups, or reset their offsets (like
    /// kafka-consumer-groups).
    ConsumerGroups(consumer_groups::ConsumerGroupsArgs),
    /// Describe or change the dynamic configs of topics (like kafka-configs).
    Configs(configs::ConfigsArgs),
    /// Describe the log directories of brokers and the partitions in them (like
    /// kafka-log-dirs).
    LogDirs(log_dirs::LogDirsArgs),
    /// Load generators and raw machine limits (like kafka-producer-perf-test).
    #[command(subcommand)]
    Perf(perf::PerfCommand),
}

/// Runs one tool to completion.
pub fn run(command: ToolCommand) -> anyhow::Result<()> {
    match command {
        ToolCommand::Topics(args) => topics::run(args),
        ToolCommand::ConsoleProducer(args) => console_producer::run(args),
        ToolCommand::ConsoleConsumer(args) => console_consumer::run(args),
        ToolCommand::ConsumerGroups(args) => consumer_groups::run(args),
        ToolCommand::Configs(args) => configs::run(args),
        ToolCommand::LogDirs(args) => log_dirs::run(args),
        ToolCommand::Perf(command) => perf::run(command),
    }
}

/// Parses `key=value` (the value may itself hold `=`; the key is trimmed and non-empty).
pub fn parse_key_value(text: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => bail!("invalid property '{text}': expected key=value"),
    }
}

/// Whether a property value means true (Kafka: `true` in any case, surrounding spaces ignored).
pub fn is_true(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

/// Prints `line` and a newline on stdout. A closed stdout (`sluice … | head`) is not an
/// error: the rest of the output is dropped quietly, as Kafka's tools do.
pub(crate) fn print_line(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write to standard output: {error}"))
        }
        _ => Ok(()),
    }
}

/// A flag that turns true on the first Ctrl-C, so a tool can finish cleanly (flush, print its
/// totals). A second Ctrl-C exits at once with status 130.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    let spawned = std::thread::Builder::new().name("ctrl-c".into()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        runtime.block_on(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            set.store(true, Ordering::SeqCst);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    });
    if let Err(error) = spawned {
        tracing::debug!("no Ctrl-C handler: {error}");
    }
    flag
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: ToolCommand,
    }

    #[test]
    fn subcommands_have_kafka_like_names_and_help() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let names: Vec<String> =
            Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
        assert_eq!(
            names,
            [
                "topics",
                "console-producer",
                "console-consumer",
                "consumer-groups",
                "configs",
                "log-dirs",
                "perf"
            ]
        );
        for sub in Cli::command().get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has an about line", sub.get_name());
        }
        let cli = Cli::try_parse_from(["sluice", "topics", "--list"]).unwrap();
        let ToolCommand::Topics(args) = cli.command else { panic!("topics") };
        assert_eq!(args.bootstrap_server, "127.0.0.1:9092");
    }

    #[test]
    fn properties_split_at_the_first_equals() {
        assert_eq!(parse_key_value("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(
            parse_key_value(" key.separator =:").unwrap(),
            ("key.separator".into(), ":".into())
        );
        assert_eq!(parse_key_value("k=").unwrap(), ("k".into(), String::new()));
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=v").is_err());
        assert!(is_true(" TRUE ") && !is_true("yes"));
    }
}

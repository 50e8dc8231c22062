//! Broker and topic configuration, with Kafka's property names, defaults and validation.
//!
//! Parsing is pure: the runtime reads `server.properties` and hands its text (and any
//! `--override key=value` pairs) to [`BrokerConfig::from_properties`].

use crate::log::{DirtyRatio, LogConfig, TimestampType};
use crate::protocol::record_batch::Compression;
use std::collections::BTreeMap;
use std::fmt;

/// Why a property was refused. Every variant names the property.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConfigError {
    /// The property name is not one this broker knows.
    Unknown {
        /// The property name as given.
        key: String,
    },
    /// The value does not parse or is out of range.
    Invalid {
        /// The property name.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// A line of the properties text is not `key=value` (or `key: value`).
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The line's text.
        text: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown { key } => write!(f, "unknown property {key:?}"),
            Self::Invalid { key, value, reason } => {
                write!(f, "invalid value {value:?} for property {key:?}: {reason}")
            }
            Self::Malformed { line, text } => {
                write!(f, "line {line} is not key=value: {text:?}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// `cleanup.policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CleanupPolicy {
    /// `delete`: retention deletes old segments.
    Delete,
    /// `compact`: keep the last record per key.
    Compact,
    /// `compact,delete`: both.
    CompactDelete,
}

/// `compression.type`: the codec a topic stores its batches with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CompressionType {
    /// `producer` (Kafka's default): batches are stored as the producer compressed them.
    #[default]
    Producer,
    /// `uncompressed`: compressed batches are stored decompressed.
    Uncompressed,
    /// `gzip`.
    Gzip,
    /// `snappy`.
    Snappy,
    /// `lz4`.
    Lz4,
    /// `zstd`.
    Zstd,
}

impl CompressionType {
    /// Every value, as Kafka spells it.
    const NAMES: [(&'static str, Self); 6] = [
        ("uncompressed", Self::Uncompressed),
        ("zstd", Self::Zstd),
        ("lz4", Self::Lz4),
        ("snappy", Self::Snappy),
        ("gzip", Self::Gzip),
        ("producer", Self::Producer),
    ];

    /// The value as Kafka spells it.
    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(_, value)| *value == self).expect("every value is named").0
    }

    /// The codec batches must be stored with, or `None` to keep the producer's.
    pub fn target(self) -> Option<Compression> {
        match self {
            Self::Producer => None,
            Self::Uncompressed => Some(Compression::None),
            Self::Gzip => Some(Compression::Gzip),
            Self::Snappy => Some(Compression::Snappy),
            Self::Lz4 => Some(Compression::Lz4),
            Self::Zstd => Some(Compression::Zstd),
        }
    }

    fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        let trimmed = java_trim(value);
        Self::NAMES.iter().find(|(name, _)| *name == trimmed).map(|(_, value)| *value).ok_or_else(
            || invalid(key, value, "accepts uncompressed, zstd, lz4, snappy, gzip or producer"),
        )
    }
}

fn parse_timestamp_type(key: &str, value: &str) -> Result<TimestampType, ConfigError> {
    match java_trim(value) {
        "CreateTime" => Ok(TimestampType::CreateTime),
        "LogAppendTime" => Ok(TimestampType::LogAppendTime),
        _ => Err(invalid(key, value, "accepts CreateTime or LogAppendTime")),
    }
}

/// A topic's effective settings (broker defaults plus the topic's overrides).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopicConfig {
    /// Segment, index, retention and cleanup settings (`cleanup.policy` included).
    pub log: LogConfig,
    /// `min.insync.replicas`.
    pub min_insync_replicas: i32,
    /// `max.message.bytes`: largest record batch accepted.
    pub max_message_bytes: i32,
    /// `flush.messages`: sync after this many messages; 1 (our default) syncs before every
    /// acks=1/all answer; more means page-cache mode.
    pub flush_messages: i64,
    /// `flush.ms`: in page-cache mode, a log whose last sync is this old is synced at the
    /// next check (every `log.flush.scheduler.interval.ms`, as Kafka's log flusher runs).
    pub flush_ms: i64,
    /// `compression.type`.
    pub compression_type: CompressionType,
    /// `message.timestamp.before.max.ms`: how far in the past a CreateTime record's timestamp
    /// may lie; `i64::MAX` means no bound (then `message.timestamp.difference.max.ms` applies).
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime record's timestamp
    /// may lie; `i64::MAX` means no bound (then `message.timestamp.difference.max.ms` applies).
    pub timestamp_after_max_ms: i64,
    /// `message.timestamp.difference.max.ms` (deprecated in Kafka 3.6): the bound either way
    /// when the two above are unset.
    pub timestamp_difference_max_ms: i64,
    /// The properties set on this topic itself (not inherited), as given.
    pub overrides: BTreeMap<String, String>,
    /// The values of the [`INERT_TOPIC_CONFIGS`], as Kafka prints them.
    pub inert: BTreeMap<String, String>,
}

/// Topic configs Kafka defines that have nothing to act on in a single broker that never
/// down-converts: no other replica to elect or throttle, no Fetch below v4 served (so no
/// down-conversion), no preallocation (a file-system hint). They are validated as Kafka
/// validates them, stored and reported, so tools and provisioning that set them work; none
/// changes what the broker does. (name, type, Kafka's default, broker synonym or "").
pub const INERT_TOPIC_CONFIGS: &[(&str, i8, &str, &str)] = &[
    ("follower.replication.throttled.replicas", TYPE_LIST, "", ""),
    ("leader.replication.throttled.replicas", TYPE_LIST, "", ""),
    ("message.downconversion.enable", TYPE_BOOLEAN, "true", "log.message.downconversion.enable"),
    ("preallocate", TYPE_BOOLEAN, "false", "log.preallocate"),
    ("unclean.leader.election.enable", TYPE_BOOLEAN, "false", "unclean.leader.election.enable"),
];

/// An inert config's value as Kafka would print it, or why it is invalid: booleans
/// case-insensitively, throttled-replica lists as `*` or `partition:broker` pairs.
fn parse_inert(key: &str, value: &str, config_type: i8) -> Result<String, ConfigError> {
    if config_type == TYPE_BOOLEAN {
        return parse_bool(key, value).map(|flag| flag.to_string());
    }
    // As Kafka's ThrottledReplicaListValidator: the items, trimmed, are all empty or
    // `partition:broker` (digits), or together make `*`.
    let items: Vec<&str> = java_trim(value).split(',').map(java_trim).collect();
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    let pairs = items.iter().all(|item| {
        item.is_empty()
            || item
                .split_once(':')
                .is_some_and(|(partition, broker)| digits(partition) && digits(broker))
    });
    if !pairs && items.concat() != "*" {
        let reason = "accepts *, or a list of partition:broker pairs (e.g. 0:101,1:102)";
        return Err(invalid(key, value, reason));
    }
    Ok(items.join(","))
}

/// One entry of a DescribeConfigs answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConfigEntry {
    /// Property name.
    pub name: String,
    /// Its effective value, as text.
    pub value: String,
    /// Whether it comes from a default rather than an override.
    pub is_default: bool,
    /// Whether it cannot be changed at run time.
    pub read_only: bool,
    /// Whether the value is secret.
    pub sensitive: bool,
    /// Kafka's ConfigSource: 1 dynamic topic, 4 static broker, 5 default.
    pub source: i8,
    /// Where the value could come from, in order of precedence (DescribeConfigs v1+ with
    /// `include_synonyms`): the topic's override, the broker properties that set it, and the
    /// default.
    pub synonyms: Vec<ConfigSynonym>,
    /// Kafka's ConfigType: 1 boolean, 2 string, 3 int, 5 long, 6 double, 7 list.
    pub config_type: i8,
}

/// One synonym of a [`ConfigEntry`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConfigSynonym {
    /// The property name (the topic's, or a broker's).
    pub name: String,
    /// Its value there.
    pub value: String,
    /// Its source (see [`ConfigEntry::source`]).
    pub source: i8,
}

/// ConfigSource values.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// ConfigType values.
const TYPE_BOOLEAN: i8 = 1;
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_DOUBLE: i8 = 6;
const TYPE_LIST: i8 = 7;

/// Where a broker synonym's DEFAULT_CONFIG value comes from.
#[derive(Clone, Copy)]
enum KeyDefault {
    /// Kafka gives the key no default (`log.retention.ms`): it is not listed as one.
    Unset,
    /// The property's own default (the topic's, or the broker's).
    Own,
    /// This value (`log.retention.hours`: 168).
    Fixed(&'static str),
}

use KeyDefault::{Fixed, Own, Unset};

/// A property's broker synonyms, each with its default.
type Synonyms = &'static [(&'static str, KeyDefault)];

/// `i64::MAX` as Kafka prints it.
const LONG_MAX: &str = "9223372036854775807";

/// Each topic property's type and its broker synonyms, in Kafka's order of precedence, each
/// with its default.
const TOPIC_SYNONYMS: &[(&str, i8, Synonyms)] = &[
    ("cleanup.policy", TYPE_LIST, &[("log.cleanup.policy", Own)]),
    ("compression.type", TYPE_STRING, &[("compression.type", Own)]),
    ("delete.retention.ms", TYPE_LONG, &[("log.cleaner.delete.retention.ms", Own)]),
    ("flush.messages", TYPE_LONG, &[("log.flush.interval.messages", Own)]),
    (
        "flush.ms",
        TYPE_LONG,
        &[("log.flush.interval.ms", Unset), ("log.flush.scheduler.interval.ms", Fixed(LONG_MAX))],
    ),
    ("follower.replication.throttled.replicas", TYPE_LIST, &[]),
    ("index.interval.bytes", TYPE_INT, &[("log.index.interval.bytes", Own)]),
    ("leader.replication.throttled.replicas", TYPE_LIST, &[]),
    ("max.compaction.lag.ms", TYPE_LONG, &[("log.cleaner.max.compaction.lag.ms", Own)]),
    ("max.message.bytes", TYPE_INT, &[("message.max.bytes", Own)]),
    ("message.downconversion.enable", TYPE_BOOLEAN, &[("log.message.downconversion.enable", Own)]),
    ("message.timestamp.after.max.ms", TYPE_LONG, &[("log.message.timestamp.after.max.ms", Own)]),
    ("message.timestamp.before.max.ms", TYPE_LONG, &[("log.message.timestamp.before.max.ms", Own)]),
    (
        "message.timestamp.difference.max.ms",
        TYPE_LONG,
        &[("log.message.timestamp.difference.max.ms", Own)],
    ),
    ("message.timestamp.type", TYPE_STRING, &[("log.message.timestamp.type", Own)]),
    ("min.cleanable.dirty.ratio", TYPE_DOUBLE, &[("log.cleaner.min.cleanable.ratio", Own)]),
    ("min.compaction.lag.ms", TYPE_LONG, &[("log.cleaner.min.compaction.lag.ms", Own)]),
    ("min.insync.replicas", TYPE_INT, &[("min.insync.replicas", Own)]),
    ("preallocate", TYPE_BOOLEAN, &[("log.preallocate", Own)]),
    ("retention.bytes", TYPE_LONG, &[("log.retention.bytes", Own)]),
    (
        "retention.ms",
        TYPE_LONG,
        &[
            ("log.retention.ms", Unset),
            ("log.retention.minutes", Unset),
            ("log.retention.hours", Fixed("168")),
        ],
    ),
    ("segment.bytes", TYPE_INT, &[("log.segment.bytes", Own)]),
    ("segment.index.bytes", TYPE_INT, &[("log.index.size.max.bytes", Own)]),
    ("segment.ms", TYPE_LONG, &[("log.roll.ms", Unset), ("log.roll.hours", Fixed("168"))]),
    ("unclean.leader.election.enable", TYPE_BOOLEAN, &[("unclean.leader.election.enable", Own)]),
];

/// The broker synonyms of a property as Kafka's `ConfigHelper` lists them: those `set` in the
/// broker's properties (STATIC_BROKER_CONFIG), then those with a default (DEFAULT_CONFIG,
/// `own` for [`KeyDefault::Own`]), then everything before the first key's own entry dropped.
/// Kafka does that last step to drop listener-prefixed names; it also means a value set only
/// under a later name (`log.retention.hours` for `log.retention.ms`) is reported as a default
/// with no synonyms. Sluice reports what Kafka reports, so tools show the same.
fn broker_synonyms(
    keys: &[(&str, KeyDefault)],
    set: &BTreeMap<String, String>,
    own: &str,
) -> Vec<ConfigSynonym> {
    let mut synonyms: Vec<ConfigSynonym> = keys
        .iter()
        .filter_map(|(key, _)| {
            set.get(*key).map(|given| ConfigSynonym {
                name: (*key).to_string(),
                value: java_trim(given).to_string(),
                source: SOURCE_STATIC_BROKER,
            })
        })
        .collect();
    for &(key, default) in keys {
        let value = match default {
            Unset => continue,
            Own => own.to_string(),
            Fixed(value) => value.to_string(),
        };
        synonyms.push(ConfigSynonym { name: key.to_string(), value, source: SOURCE_DEFAULT });
    }
    let Some(&(first, _)) = keys.first() else { return synonyms };
    let own_at = synonyms.iter().position(|synonym| synonym.name == first);
    synonyms.drain(..own_at.unwrap_or(synonyms.len()));
    synonyms
}

/// Each broker property DescribeConfigs lists: its type and the property names (aliases and
/// other units) that set it, the first being its own, each with its default.
const BROKER_SYNONYMS: &[(&str, i8, Synonyms)] = &[
    ("advertised.listeners", TYPE_STRING, &[("advertised.listeners", Unset)]),
    ("auto.create.topics.enable", TYPE_BOOLEAN, &[("auto.create.topics.enable", Own)]),
    ("cluster.id", TYPE_STRING, &[("cluster.id", Unset)]),
    ("compression.type", TYPE_STRING, &[("compression.type", Own)]),
    ("connections.max.idle.ms", TYPE_LONG, &[("connections.max.idle.ms", Own)]),
    ("controller.quorum.voters", TYPE_LIST, &[("controller.quorum.voters", Own)]),
    ("default.replication.factor", TYPE_INT, &[("default.replication.factor", Own)]),
    ("delete.topic.enable", TYPE_BOOLEAN, &[("delete.topic.enable", Own)]),
    ("group.initial.rebalance.delay.ms", TYPE_INT, &[("group.initial.rebalance.delay.ms", Own)]),
    ("group.max.session.timeout.ms", TYPE_INT, &[("group.max.session.timeout.ms", Own)]),
    ("group.min.session.timeout.ms", TYPE_INT, &[("group.min.session.timeout.ms", Own)]),
    ("listeners", TYPE_STRING, &[("listeners", Own)]),
    ("log.cleaner.backoff.ms", TYPE_LONG, &[("log.cleaner.backoff.ms", Own)]),
    ("log.cleaner.delete.retention.ms", TYPE_LONG, &[("log.cleaner.delete.retention.ms", Own)]),
    ("log.cleaner.enable", TYPE_BOOLEAN, &[("log.cleaner.enable", Own)]),
    ("log.cleaner.max.compaction.lag.ms", TYPE_LONG, &[("log.cleaner.max.compaction.lag.ms", Own)]),
    ("log.cleaner.min.cleanable.ratio", TYPE_DOUBLE, &[("log.cleaner.min.cleanable.ratio", Own)]),
    ("log.cleaner.min.compaction.lag.ms", TYPE_LONG, &[("log.cleaner.min.compaction.lag.ms", Own)]),
    ("log.cleaner.step.bytes", TYPE_LONG, &[("log.cleaner.step.bytes", Own)]),
    ("log.cleanup.policy", TYPE_LIST, &[("log.cleanup.policy", Own)]),
    ("log.dirs", TYPE_STRING, &[("log.dirs", Unset), ("log.dir", Unset)]),
    ("log.flush.interval.messages", TYPE_LONG, &[("log.flush.interval.messages", Own)]),
    (
        "log.flush.interval.ms",
        TYPE_LONG,
        &[("log.flush.interval.ms", Unset), ("log.flush.scheduler.interval.ms", Fixed(LONG_MAX))],
    ),
    (
        "log.flush.offset.checkpoint.interval.ms",
        TYPE_INT,
        &[("log.flush.offset.checkpoint.interval.ms", Own)],
    ),
    ("log.flush.scheduler.interval.ms", TYPE_LONG, &[("log.flush.scheduler.interval.ms", Own)]),
    ("log.index.interval.bytes", TYPE_INT, &[("log.index.interval.bytes", Own)]),
    ("log.index.size.max.bytes", TYPE_INT, &[("log.index.size.max.bytes", Own)]),
    (
        "log.message.downconversion.enable",
        TYPE_BOOLEAN,
        &[("log.message.downconversion.enable", Own)],
    ),
    (
        "log.message.timestamp.after.max.ms",
        TYPE_LONG,
        &[("log.message.timestamp.after.max.ms", Own)],
    ),
    (
        "log.message.timestamp.before.max.ms",
        TYPE_LONG,
        &[("log.message.timestamp.before.max.ms", Own)],
    ),
    (
        "log.message.timestamp.difference.max.ms",
        TYPE_LONG,
        &[("log.message.timestamp.difference.max.ms", Own)],
    ),
    ("log.message.timestamp.type", TYPE_STRING, &[("log.message.timestamp.type", Own)]),
    ("log.preallocate", TYPE_BOOLEAN, &[("log.preallocate", Own)]),
    ("log.retention.bytes", TYPE_LONG, &[("log.retention.bytes", Own)]),
    ("log.retention.check.interval.ms", TYPE_LONG, &[("log.retention.check.interval.ms", Own)]),
    (
        "log.retention.ms",
        TYPE_LONG,
        &[
            ("log.retention.ms", Unset),
            ("log.retention.minutes", Unset),
            ("log.retention.hours", Fixed("168")),
        ],
    ),
    ("log.roll.ms", TYPE_LONG, &[("log.roll.ms", Unset), ("log.roll.hours", Fixed("168"))]),
    ("log.segment.bytes", TYPE_INT, &[("log.segment.bytes", Own)]),
    ("max.connections", TYPE_INT, &[("max.connections", Own)]),
    ("message.max.bytes", TYPE_INT, &[("message.max.bytes", Own)]),
    ("min.insync.replicas", TYPE_INT, &[("min.insync.replicas", Own)]),
    ("node.id", TYPE_INT, &[("node.id", Own), ("broker.id", Unset)]),
    ("num.partitions", TYPE_INT, &[("num.partitions", Own)]),
    (
        "offsets.retention.check.interval.ms",
        TYPE_LONG,
        &[("offsets.retention.check.interval.ms", Own)],
    ),
    ("offsets.retention.minutes", TYPE_INT, &[("offsets.retention.minutes", Own)]),
    ("offsets.topic.segment.bytes", TYPE_INT, &[("offsets.topic.segment.bytes", Own)]),
    ("process.roles", TYPE_LIST, &[("process.roles", Own)]),
    (
        "producer.id.expiration.check.interval.ms",
        TYPE_INT,
        &[("producer.id.expiration.check.interval.ms", Own)],
    ),
    ("producer.id.expiration.ms", TYPE_INT, &[("producer.id.expiration.ms", Own)]),
    ("socket.request.max.bytes", TYPE_INT, &[("socket.request.max.bytes", Own)]),
    ("unclean.leader.election.enable", TYPE_BOOLEAN, &[("unclean.leader.election.enable", Own)]),
];

/// The broker's settings. Defaults are Kafka's unless DESIGN.md says otherwise
/// (`log.flush.interval.messages` is 1: acknowledged means synced).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrokerConfig {
    /// `node.id` (alias `broker.id`).
    pub node_id: i32,
    /// Host the listener binds (from `listeners`, e.g. `PLAINTEXT://127.0.0.1:9092`).
    pub listener_host: String,
    /// Port the listener binds.
    pub listener_port: u16,
    /// Host given to clients (from `advertised.listeners`; defaults to the listener's).
    pub advertised_host: String,
    /// Port given to clients.
    pub advertised_port: u16,
    /// `log.dirs` (alias `log.dir`): the one data directory.
    pub log_dir: String,
    /// `num.partitions` for auto-created topics and CreateTopics without a count.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`.
    pub auto_create_topics_enable: bool,
    /// `delete.topic.enable`.
    pub delete_topic_enable: bool,
    /// `message.max.bytes`: the broker-wide default of `max.message.bytes`.
    pub message_max_bytes: i32,
    /// `socket.request.max.bytes`: largest request frame.
    pub socket_request_max_bytes: i32,
    /// `connections.max.idle.ms`: a connection with nothing read, nothing outstanding and
    /// nothing to write for this long is closed, as Kafka closes it; negative: never.
    pub connections_max_idle_ms: i64,
    /// `max.connections`: client connections served at once; more wait to be accepted, as
    /// Kafka's listener limit makes them wait. The runtime also stays within the process's
    /// open-file limit and `CONNECTIONS_MAX`.
    pub max_connections: i32,
    /// `log.retention.check.interval.ms`.
    pub log_retention_check_interval_ms: i64,
    /// `producer.id.expiration.ms`: an idempotent producer whose last batch's timestamp is
    /// this old is forgotten by the partition (a retry after that may be stored again).
    pub producer_id_expiration_ms: i32,
    /// `producer.id.expiration.check.interval.ms`: how often expired producers are forgotten.
    pub producer_id_expiration_check_interval_ms: i32,
    /// `group.initial.rebalance.delay.ms`, `group.min.session.timeout.ms`,
    /// `group.max.session.timeout.ms` (the rest of the coordinator's settings keep Kafka's
    /// defaults).
    pub group: crate::group::GroupConfig,
    /// `log.cleaner.enable`: compact logs whose `cleanup.policy` includes `compact`.
    pub log_cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`: time between compaction passes.
    pub log_cleaner_backoff_ms: i64,
    /// `log.cleaner.step.bytes` (Sluice's own): stored bytes a compaction pass reads before
    /// it lets the node serve requests again. Kafka cleans on threads of its own; here a pass
    /// runs in steps between requests, so a large log never stalls the broker.
    pub log_cleaner_step_bytes: i64,
    /// `log.flush.offset.checkpoint.interval.ms`.
    pub log_flush_offset_checkpoint_interval_ms: i64,
    /// `log.flush.scheduler.interval.ms`: how often page-cache logs are checked against
    /// their `flush.ms` (Kafka's default, `i64::MAX`, never checks).
    pub log_flush_scheduler_interval_ms: i64,
    /// `unclean.leader.election.enable`.
    pub unclean_leader_election_enable: bool,
    /// `process.roles`, e.g. `broker,controller`.
    pub process_roles: String,
    /// `controller.quorum.voters`, e.g. `1@127.0.0.1:9093`.
    pub controller_quorum_voters: String,
    /// `cluster.id` (ours; Kafka stores it in meta.properties).
    pub cluster_id: String,
    /// The properties given in `server.properties` and `--override`s that Sluice reads, as
    /// given (DescribeConfigs reports them as STATIC_BROKER_CONFIG).
    pub set_properties: BTreeMap<String, String>,
    /// Topic defaults: `log.segment.bytes`, `log.roll.ms`/`hours`, `log.retention.ms`/
    /// `minutes`/`hours`, `log.retention.bytes`, `log.index.interval.bytes`,
    /// `log.index.size.max.bytes`, `log.cleanup.policy`, `min.insync.replicas`,
    /// `message.max.bytes`, `log.flush.interval.messages`.
    pub topic_defaults: TopicConfig,
}

/// `cluster.id` when none is configured: "SluiceCluster001" in unpadded base64, the 22-character
/// form `kafka-storage.sh random-uuid` prints.
const CLUSTER_ID_DEFAULT: &str = "U2x1aWNlQ2x1c3RlcjAwMQ";

/// Controller listener name when `controller.listener.names` is not set.
const CONTROLLER_LISTENER_NAME_DEFAULT: &str = "CONTROLLER";

/// Broker properties Sluice reads and acts on (aliases included).
const BROKER_KEYS: &[&str] = &[
    "advertised.listeners",
    "auto.create.topics.enable",
    "broker.id",
    "cluster.id",
    "compression.type",
    "connections.max.idle.ms",
    "controller.listener.names",
    "controller.quorum.voters",
    "default.replication.factor",
    "delete.topic.enable",
    "group.initial.rebalance.delay.ms",
    "group.max.session.timeout.ms",
    "group.min.session.timeout.ms",
    "listeners",
    "log.cleaner.backoff.ms",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.enable",
    "log.cleaner.max.compaction.lag.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.step.bytes",
    "log.cleanup.policy",
    "log.dir",
    "log.dirs",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.flush.offset.checkpoint.interval.ms",
    "log.flush.scheduler.interval.ms",
    "log.index.interval.bytes",
    "log.index.size.max.bytes",
    "log.message.downconversion.enable",
    "log.message.timestamp.after.max.ms",
    "log.message.timestamp.before.max.ms",
    "log.message.timestamp.difference.max.ms",
    "log.message.timestamp.type",
    "log.preallocate",
    "log.retention.bytes",
    "log.retention.check.interval.ms",
    "log.retention.hours",
    "log.retention.minutes",
    "log.retention.ms",
    "log.roll.hours",
    "log.roll.ms",
    "log.segment.bytes",
    "max.connections",
    "message.max.bytes",
    "min.insync.replicas",
    "node.id",
    "num.partitions",
    "offsets.retention.check.interval.ms",
    "offsets.retention.minutes",
    "offsets.topic.segment.bytes",
    "process.roles",
    "producer.id.expiration.check.interval.ms",
    "producer.id.expiration.ms",
    "socket.request.max.bytes",
    "unclean.leader.election.enable",
];

/// Broker properties accepted so stock Kafka files load, but without effect in Sluice (threads,
/// socket buffers, internal-topic settings, inter-broker listeners, tuning).
const IGNORED_KEYS: &[&str] = &[
    "auto.leader.rebalance.enable",
    "background.threads",
    "controller.quorum.bootstrap.servers",
    "inter.broker.listener.name",
    "listener.security.protocol.map",
    "log.cleaner.threads",
    "log.segment.delete.delay.ms",
    "num.io.threads",
    "num.network.threads",
    "num.recovery.threads.per.data.dir",
    "num.replica.fetchers",
    "offsets.topic.num.partitions",
    "offsets.topic.replication.factor",
    "queued.max.requests",
    "replica.fetch.max.bytes",
    "replica.lag.time.max.ms",
    "share.coordinator.state.topic.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "socket.receive.buffer.bytes",
    "socket.send.buffer.bytes",
    "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions",
    "transaction.state.log.replication.factor",
];

const MS_PER_MINUTE: i64 = 60 * 1000;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;

/// Largest `message.max.bytes` / `max.message.bytes`: the log's own batch bound.
const MESSAGE_BYTES_MAX: i32 = crate::limits::BATCH_BYTES_MAX as i32;

const _: () = assert!(crate::limits::BATCH_BYTES_MAX <= i32::MAX as usize);
const _: () = assert!(CLUSTER_ID_DEFAULT.len() == 22);

impl Default for CleanupPolicy {
    /// Kafka's default, `delete`.
    fn default() -> Self {
        Self::Delete
    }
}

impl CleanupPolicy {
    /// Whether retention (`retention.ms`, `retention.bytes`) deletes old segments.
    pub fn deletes(self) -> bool {
        matches!(self, Self::Delete | Self::CompactDelete)
    }

    /// Whether the log cleaner compacts the log.
    pub fn compacts(self) -> bool {
        matches!(self, Self::Compact | Self::CompactDelete)
    }

    /// The value as Kafka prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::Compact => "compact",
            Self::CompactDelete => "compact,delete",
        }
    }

    /// Parses `delete`, `compact` or both, comma-separated in any order.
    fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        let reason = "accepts delete, compact, or compact,delete (in any order)";
        let mut compact = false;
        let mut delete = false;
        for token in value.split(',') {
            match java_trim(token) {
                "compact" => compact = true,
                "delete" => delete = true,
                _ => return Err(invalid(key, value, reason)),
            }
        }
        match (compact, delete) {
            (true, true) => Ok(Self::CompactDelete),
            (true, false) => Ok(Self::Compact),
            (false, true) => Ok(Self::Delete),
            (false, false) => unreachable!("split yields at least one token"),
        }
    }
}

impl Default for TopicConfig {
    /// Kafka's topic defaults, except `flush.messages` = 1: acknowledged means synced.
    fn default() -> Self {
        Self {
            log: LogConfig::default(),
            min_insync_replicas: 1,
            max_message_bytes: 1_048_588,
            flush_messages: 1,
            flush_ms: i64::MAX,
            inert: INERT_TOPIC_CONFIGS
                .iter()
                .map(|(name, _, default, _)| ((*name).to_string(), (*default).to_string()))
                .collect(),
            compression_type: CompressionType::Producer,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: i64::MAX,
            timestamp_difference_max_ms: i64::MAX,
            overrides: BTreeMap::new(),
        }
    }
}

impl TopicConfig {
    /// Topic-level property names, sorted.
    pub const NAMES: &'static [&'static str] = &[
        "cleanup.policy",
        "compression.type",
        "delete.retention.ms",
        "flush.messages",
        "flush.ms",
        "follower.replication.throttled.replicas",
        "index.interval.bytes",
        "leader.replication.throttled.replicas",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "message.downconversion.enable",
        "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.difference.max.ms",
        "message.timestamp.type",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "preallocate",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.index.bytes",
        "segment.ms",
        "unclean.leader.election.enable",
    ];

    /// How far in the past and in the future (ms from the broker's wall time) a CreateTime
    /// record's timestamp may lie, as Kafka 3.6+ works them out: each of
    /// `message.timestamp.before.max.ms` / `.after.max.ms` when set below `i64::MAX`, else
    /// `message.timestamp.difference.max.ms`. `None` when neither bound applies (the usual
    /// case, so the produce path skips the check), or for a LogAppendTime topic.
    pub fn timestamp_bounds(&self) -> Option<(i64, i64)> {
        if self.log.timestamp_type == TimestampType::LogAppendTime {
            return None;
        }
        let either = |bound: i64| {
            if bound == i64::MAX {
                self.timestamp_difference_max_ms
            } else {
                bound
            }
        };
        let bounds = (either(self.timestamp_before_max_ms), either(self.timestamp_after_max_ms));
        (bounds != (i64::MAX, i64::MAX)).then_some(bounds)
    }

    /// The items of the list config `key` (`cleanup.policy`, the throttled-replica lists), as
    /// IncrementalAlterConfigs' APPEND and SUBTRACT edit them; `None` for other configs.
    pub fn list_items(&self, key: &str) -> Option<Vec<String>> {
        let listed = TOPIC_SYNONYMS
            .iter()
            .any(|&(name, config_type, _)| name == key && config_type == TYPE_LIST);
        listed.then(|| {
            let value = self.value_of(key);
            value.split(',').filter(|item| !item.is_empty()).map(str::to_string).collect()
        })
    }

    /// Checks what no single property's value can: `min.compaction.lag.ms` must not exceed
    /// `max.compaction.lag.ms`, as Kafka checks a topic's merged configs. Requests that create
    /// or change a topic check it on the result; a saved topic is loaded without it, so a
    /// later change of the broker's defaults never stops the broker from starting.
    pub fn check_combination(&self) -> Result<(), ConfigError> {
        let (min, max) = (self.log.min_compaction_lag_ms, self.log.max_compaction_lag_ms);
        if min > max {
            let reason = format!("must not exceed max.compaction.lag.ms={max}");
            return Err(invalid("min.compaction.lag.ms", &min.to_string(), &reason));
        }
        Ok(())
    }

    /// Sets the topic-level property `key` to `value` and records it as an override. On error
    /// nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let mut next = self.clone();
        next.apply(key, value)?;
        next.overrides.insert(key.to_string(), value.to_string());
        *self = next;
        Ok(())
    }

    /// Removes the override of `key`, so it takes the value in `defaults` again. Unsetting a
    /// property that is not overridden is not an error. On error nothing changes.
    pub fn unset(&mut self, key: &str, defaults: &TopicConfig) -> Result<(), ConfigError> {
        let mut next = self.clone();
        match key {
            "retention.ms" => next.log.retention_ms = defaults.log.retention_ms,
            "retention.bytes" => next.log.retention_bytes = defaults.log.retention_bytes,
            "segment.bytes" => next.log.segment_bytes = defaults.log.segment_bytes,
            "segment.ms" => next.log.segment_ms = defaults.log.segment_ms,
            "segment.index.bytes" => {
                next.log.segment_index_bytes = defaults.log.segment_index_bytes;
            }
            "index.interval.bytes" => {
                next.log.index_interval_bytes = defaults.log.index_interval_bytes;
            }
            "cleanup.policy" => next.log.cleanup_policy = defaults.log.cleanup_policy,
            "delete.retention.ms" => {
                next.log.delete_retention_ms = defaults.log.delete_retention_ms;
            }
            "min.insync.replicas" => next.min_insync_replicas = defaults.min_insync_replicas,
            "max.message.bytes" => next.max_message_bytes = defaults.max_message_bytes,
            "flush.messages" => next.flush_messages = defaults.flush_messages,
            "flush.ms" => next.flush_ms = defaults.flush_ms,
            _ if next.inert.contains_key(key) => {
                next.inert.insert(key.to_string(), defaults.inert[key].clone());
            }
            "compression.type" => next.compression_type = defaults.compression_type,
            "min.cleanable.dirty.ratio" => {
                next.log.min_cleanable_dirty_ratio = defaults.log.min_cleanable_dirty_ratio;
            }
            "min.compaction.lag.ms" => {
                next.log.min_compaction_lag_ms = defaults.log.min_compaction_lag_ms;
            }
            "max.compaction.lag.ms" => {
                next.log.max_compaction_lag_ms = defaults.log.max_compaction_lag_ms;
            }
            "message.timestamp.type" => {
                next.log.timestamp_type = defaults.log.timestamp_type;
            }
            "message.timestamp.before.max.ms" => {
                next.timestamp_before_max_ms = defaults.timestamp_before_max_ms;
            }
            "message.timestamp.after.max.ms" => {
                next.timestamp_after_max_ms = defaults.timestamp_after_max_ms;
            }
            "message.timestamp.difference.max.ms" => {
                next.timestamp_difference_max_ms = defaults.timestamp_difference_max_ms;
            }
            _ => return Err(ConfigError::Unknown { key: key.to_string() }),
        }
        next.overrides.remove(key);
        let value = next.value_of(key);
        next.log.validate().map_err(|reason| invalid(key, &value, &reason))?;
        assert!(!next.overrides.contains_key(key));
        *self = next;
        Ok(())
    }

    /// `defaults` (without its own overrides) with `pairs` set on top, in order.
    pub fn from_overrides(
        defaults: &TopicConfig,
        pairs: &[(String, String)],
    ) -> Result<TopicConfig, ConfigError> {
        let mut config = defaults.clone();
        config.overrides.clear();
        for (key, value) in pairs {
            config.set(key, value)?;
        }
        assert!(config.overrides.len() <= Self::NAMES.len());
        Ok(config)
    }

    /// Every topic-level property, sorted by name, as DescribeConfigs reports it: from the
    /// topic's override (source 1), else from the broker properties `set` in
    /// `server.properties` or with `--override` (4, see [`BrokerConfig::set_properties`]),
    /// else the default (5), with its synonyms in that order of precedence.
    pub fn entries(&self, set: &BTreeMap<String, String>) -> Vec<ConfigEntry> {
        let defaults = TopicConfig::default();
        let entries: Vec<ConfigEntry> = TOPIC_SYNONYMS
            .iter()
            .map(|&(name, config_type, broker_keys)| {
                let mut synonyms = Vec::new();
                if self.overrides.contains_key(name) {
                    // As Kafka: the value as the entry prints it.
                    let (value, source) = (self.value_of(name), SOURCE_TOPIC);
                    synonyms.push(ConfigSynonym { name: name.to_string(), value, source });
                }
                synonyms.extend(broker_synonyms(broker_keys, set, &defaults.value_of(name)));
                let source = synonyms.first().map_or(SOURCE_DEFAULT, |synonym| synonym.source);
                ConfigEntry {
                    name: name.to_string(),
                    value: self.value_of(name),
                    is_default: source == SOURCE_DEFAULT,
                    read_only: false,
                    sensitive: false,
                    source,
                    synonyms,
                    config_type,
                }
            })
            .collect();
        assert!(entries.iter().map(|entry| entry.name.as_str()).eq(Self::NAMES.iter().copied()));
        entries
    }

    /// The effective value of the topic-level property `key`, as Kafka prints it.
    fn value_of(&self, key: &str) -> String {
        match key {
            "retention.ms" => self.log.retention_ms.to_string(),
            "retention.bytes" => self.log.retention_bytes.to_string(),
            "segment.bytes" => self.log.segment_bytes.to_string(),
            "segment.ms" => self.log.segment_ms.to_string(),
            "segment.index.bytes" => self.log.segment_index_bytes.to_string(),
            "index.interval.bytes" => self.log.index_interval_bytes.to_string(),
            "cleanup.policy" => match self.overrides.get(key) {
                // Kafka prints a list as its parsed items, in the order given.
                Some(given) => given.split(',').map(str::trim).collect::<Vec<_>>().join(","),
                None => self.log.cleanup_policy.as_str().to_string(),
            },
            "delete.retention.ms" => self.log.delete_retention_ms.to_string(),
            "min.insync.replicas" => self.min_insync_replicas.to_string(),
            "max.message.bytes" => self.max_message_bytes.to_string(),
            "flush.messages" => self.flush_messages.to_string(),
            "flush.ms" => self.flush_ms.to_string(),
            _ if self.inert.contains_key(key) => self.inert[key].clone(),
            "compression.type" => self.compression_type.as_str().to_string(),
            "min.cleanable.dirty.ratio" => java_double(self.log.min_cleanable_dirty_ratio.get()),
            "min.compaction.lag.ms" => self.log.min_compaction_lag_ms.to_string(),
            "max.compaction.lag.ms" => self.log.max_compaction_lag_ms.to_string(),
            "message.timestamp.type" => self.log.timestamp_type.as_str().to_string(),
            "message.timestamp.before.max.ms" => self.timestamp_before_max_ms.to_string(),
            "message.timestamp.after.max.ms" => self.timestamp_after_max_ms.to_string(),
            "message.timestamp.difference.max.ms" => self.timestamp_difference_max_ms.to_string(),
            _ => unreachable!("value_of({key:?}) is called only with NAMES"),
        }
    }

    /// Parses `value` into the field `key` names and checks the log settings, without
    /// recording an override.
    fn apply(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let int_max = i32::MAX;
        match key {
            "retention.ms" => self.log.retention_ms = parse_i64(key, value, -1, i64::MAX)?,
            "retention.bytes" => {
                self.log.retention_bytes = parse_i64(key, value, i64::MIN, i64::MAX)?;
            }
            "segment.bytes" => self.log.segment_bytes = parse_u32(key, value, 0, int_max)?,
            "segment.ms" => self.log.segment_ms = parse_i64(key, value, 1, i64::MAX)?,
            "segment.index.bytes" => {
                self.log.segment_index_bytes = parse_u32(key, value, 4, int_max)?;
            }
            "index.interval.bytes" => {
                self.log.index_interval_bytes = parse_u32(key, value, 0, int_max)?;
            }
            "cleanup.policy" => self.log.cleanup_policy = CleanupPolicy::parse(key, value)?,
            "delete.retention.ms" => {
                self.log.delete_retention_ms = parse_i64(key, value, 0, i64::MAX)?;
            }
            "min.insync.replicas" => {
                self.min_insync_replicas = parse_i32(key, value, 1, int_max)?;
            }
            "max.message.bytes" => {
                self.max_message_bytes = parse_i32(key, value, 0, MESSAGE_BYTES_MAX)?;
            }
            "flush.messages" => self.flush_messages = parse_i64(key, value, 1, i64::MAX)?,
            "flush.ms" => self.flush_ms = parse_i64(key, value, 0, i64::MAX)?,
            _ if self.inert.contains_key(key) => {
                let config_type = INERT_TOPIC_CONFIGS
                    .iter()
                    .find(|(name, ..)| *name == key)
                    .map(|(_, config_type, ..)| *config_type)
                    .expect("every inert key is listed");
                let printed = parse_inert(key, value, config_type)?;
                self.inert.insert(key.to_string(), printed);
            }
            "compression.type" => self.compression_type = CompressionType::parse(key, value)?,
            "min.cleanable.dirty.ratio" => {
                let ratio = java_trim(value).parse::<f64>().ok().and_then(DirtyRatio::new);
                self.log.min_cleanable_dirty_ratio =
                    ratio.ok_or_else(|| invalid(key, value, "accepts a number in 0..=1"))?;
            }
            "min.compaction.lag.ms" => {
                self.log.min_compaction_lag_ms = parse_i64(key, value, 0, i64::MAX)?;
            }
            "max.compaction.lag.ms" => {
                self.log.max_compaction_lag_ms = parse_i64(key, value, 1, i64::MAX)?;
            }
            "message.timestamp.type" => {
                self.log.timestamp_type = parse_timestamp_type(key, value)?;
            }
            "message.timestamp.before.max.ms" => {
                self.timestamp_before_max_ms = parse_i64(key, value, 0, i64::MAX)?;
            }
            "message.timestamp.after.max.ms" => {
                self.timestamp_after_max_ms = parse_i64(key, value, 0, i64::MAX)?;
            }
            "message.timestamp.difference.max.ms" => {
                self.timestamp_difference_max_ms = parse_i64(key, value, 0, i64::MAX)?;
            }
            _ => return Err(ConfigError::Unknown { key: key.to_string() }),
        }
        self.log.validate().map_err(|reason| invalid(key, value, &reason))
    }
}

impl Default for BrokerConfig {
    /// A single node with everything embedded: `PLAINTEXT://127.0.0.1:9092`, data in
    /// `./sluice-data`, topics auto-created.
    fn default() -> Self {
        Self {
            node_id: 1,
            listener_host: "127.0.0.1".to_string(),
            listener_port: 9092,
            advertised_host: "127.0.0.1".to_string(),
            advertised_port: 9092,
            log_dir: "./sluice-data".to_string(),
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics_enable: true,
            delete_topic_enable: true,
            message_max_bytes: 1_048_588,
            socket_request_max_bytes: 104_857_600,
            max_connections: i32::MAX,
            connections_max_idle_ms: 600_000,
            log_retention_check_interval_ms: 300_000,
            producer_id_expiration_ms: 86_400_000,
            producer_id_expiration_check_interval_ms: 600_000,
            group: crate::group::GroupConfig::default(),
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            log_cleaner_step_bytes: 1 << 20,
            log_flush_offset_checkpoint_interval_ms: 60_000,
            log_flush_scheduler_interval_ms: i64::MAX,
            unclean_leader_election_enable: false,
            process_roles: "broker,controller".to_string(),
            controller_quorum_voters: "1@127.0.0.1:9093".to_string(),
            cluster_id: CLUSTER_ID_DEFAULT.to_string(),
            topic_defaults: TopicConfig::default(),
            set_properties: BTreeMap::new(),
        }
    }
}

/// One `NAME://host:port` item of `listeners` or `advertised.listeners`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Endpoint {
    /// Listener name, upper-cased as Kafka normalises it.
    name: String,
    /// Host without IPv6 brackets; empty when none was given.
    host: String,
    port: u16,
}

/// The merged properties (file, then overrides), by key.
struct Properties {
    values: BTreeMap<String, String>,
}

impl Properties {
    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

impl BrokerConfig {
    /// Parses Java `.properties` text, applies `overrides` on top (they win), and returns the
    /// configuration with the keys that were accepted but have no effect in Sluice, sorted, so
    /// the runtime can log them.
    ///
    /// Listeners: the broker binds the first item of `listeners` whose name is not in
    /// `controller.listener.names` (default `CONTROLLER`); an empty host binds `0.0.0.0`. It
    /// advertises the item of `advertised.listeners` with the same name. Without
    /// `advertised.listeners` it advertises the bound address, except that a wildcard bind
    /// (`0.0.0.0` or `::`) advertises `127.0.0.1`, since the wildcard is not an address clients
    /// can reach. A bound port of 0 (any free port) is advertised as 0; the runtime substitutes
    /// the port it got.
    pub fn from_properties(
        text: &str,
        overrides: &[(String, String)],
    ) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        let mut values = BTreeMap::new();
        for (key, value) in parse_properties(text)? {
            check_known(&key)?;
            values.insert(key, value);
        }
        for (key, value) in overrides {
            let key = key.trim();
            check_known(key)?;
            values.insert(key.to_string(), value.trim().to_string());
        }
        let properties = Properties { values };
        let ignored: Vec<String> = properties
            .values
            .keys()
            .filter(|key| IGNORED_KEYS.contains(&key.as_str()))
            .cloned()
            .collect();

        let mut config = BrokerConfig::default();
        config.apply_identity(&properties)?;
        config.apply_listeners(&properties)?;
        config.apply_broker_settings(&properties)?;
        config.topic_defaults = topic_defaults(&properties, config.message_max_bytes)?;
        config.set_properties = properties
            .values
            .iter()
            .filter(|(key, _)| BROKER_KEYS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        assert!(config.topic_defaults.overrides.is_empty());
        assert_eq!(config.topic_defaults.max_message_bytes, config.message_max_bytes);
        Ok((config, ignored))
    }

    /// The broker-level properties Sluice acts on, sorted by name, with their effective values,
    /// as DescribeConfigs reports them: read-only, STATIC_BROKER_CONFIG where the properties
    /// set them, else DEFAULT_CONFIG (see [`broker_synonyms`] for Kafka's rule).
    pub fn entries(&self) -> Vec<ConfigEntry> {
        let defaults = BrokerConfig::default().values();
        let entries: Vec<ConfigEntry> = self
            .values()
            .into_iter()
            .zip(defaults)
            .zip(BROKER_SYNONYMS)
            .map(|(((name, value), (_, default)), &(listed, config_type, keys))| {
                assert_eq!(name, listed, "BROKER_SYNONYMS follows the entries");
                let synonyms = broker_synonyms(keys, &self.set_properties, &default);
                let source = synonyms.first().map_or(SOURCE_DEFAULT, |synonym| synonym.source);
                ConfigEntry {
                    name: name.to_string(),
                    value,
                    is_default: source == SOURCE_DEFAULT,
                    read_only: true,
                    sensitive: false,
                    source,
                    synonyms,
                    config_type,
                }
            })
            .collect();
        assert_eq!(entries.len(), BROKER_SYNONYMS.len());
        assert!(entries.windows(2).all(|pair| pair[0].name < pair[1].name));
        entries
    }

    /// The broker-level properties Sluice acts on, sorted by name, with their values.
    fn values(&self) -> [(&'static str, String); 51] {
        let topic = &self.topic_defaults;
        let pairs: [(&str, String); 51] = [
            ("advertised.listeners", listener_text(&self.advertised_host, self.advertised_port)),
            ("auto.create.topics.enable", self.auto_create_topics_enable.to_string()),
            ("cluster.id", self.cluster_id.clone()),
            ("compression.type", topic.compression_type.as_str().to_string()),
            ("connections.max.idle.ms", self.connections_max_idle_ms.to_string()),
            ("controller.quorum.voters", self.controller_quorum_voters.clone()),
            ("default.replication.factor", self.default_replication_factor.to_string()),
            ("delete.topic.enable", self.delete_topic_enable.to_string()),
            ("group.initial.rebalance.delay.ms", self.group.initial_rebalance_delay_ms.to_string()),
            ("group.max.session.timeout.ms", self.group.max_session_timeout_ms.to_string()),
            ("group.min.session.timeout.ms", self.group.min_session_timeout_ms.to_string()),
            ("listeners", listener_text(&self.listener_host, self.listener_port)),
            ("log.cleaner.backoff.ms", self.log_cleaner_backoff_ms.to_string()),
            ("log.cleaner.delete.retention.ms", topic.log.delete_retention_ms.to_string()),
            ("log.cleaner.enable", self.log_cleaner_enable.to_string()),
            ("log.cleaner.max.compaction.lag.ms", topic.log.max_compaction_lag_ms.to_string()),
            (
                "log.cleaner.min.cleanable.ratio",
                java_double(topic.log.min_cleanable_dirty_ratio.get()),
            ),
            ("log.cleaner.min.compaction.lag.ms", topic.log.min_compaction_lag_ms.to_string()),
            ("log.cleaner.step.bytes", self.log_cleaner_step_bytes.to_string()),
            ("log.cleanup.policy", topic.log.cleanup_policy.as_str().to_string()),
            ("log.dirs", self.log_dir.clone()),
            ("log.flush.interval.messages", topic.flush_messages.to_string()),
            ("log.flush.interval.ms", topic.flush_ms.to_string()),
            (
                "log.flush.offset.checkpoint.interval.ms",
                self.log_flush_offset_checkpoint_interval_ms.to_string(),
            ),
            ("log.flush.scheduler.interval.ms", self.log_flush_scheduler_interval_ms.to_string()),
            ("log.index.interval.bytes", topic.log.index_interval_bytes.to_string()),
            ("log.index.size.max.bytes", topic.log.segment_index_bytes.to_string()),
            (
                "log.message.downconversion.enable",
                topic.inert["message.downconversion.enable"].clone(),
            ),
            ("log.message.timestamp.after.max.ms", topic.timestamp_after_max_ms.to_string()),
            ("log.message.timestamp.before.max.ms", topic.timestamp_before_max_ms.to_string()),
            (
                "log.message.timestamp.difference.max.ms",
                topic.timestamp_difference_max_ms.to_string(),
            ),
            ("log.message.timestamp.type", topic.log.timestamp_type.as_str().to_string()),
            ("log.preallocate", topic.inert["preallocate"].clone()),
            ("log.retention.bytes", topic.log.retention_bytes.to_string()),
            ("log.retention.check.interval.ms", self.log_retention_check_interval_ms.to_string()),
            ("log.retention.ms", topic.log.retention_ms.to_string()),
            ("log.roll.ms", topic.log.segment_ms.to_string()),
            ("log.segment.bytes", topic.log.segment_bytes.to_string()),
            ("max.connections", self.max_connections.to_string()),
            ("message.max.bytes", self.message_max_bytes.to_string()),
            ("min.insync.replicas", topic.min_insync_replicas.to_string()),
            ("node.id", self.node_id.to_string()),
            ("num.partitions", self.num_partitions.to_string()),
            (
                "offsets.retention.check.interval.ms",
                self.group.offsets_retention_check_interval_ms.to_string(),
            ),
            (
                "offsets.retention.minutes",
                (self.group.offsets_retention_ms / MS_PER_MINUTE).to_string(),
            ),
            ("offsets.topic.segment.bytes", self.group.offsets_topic_segment_bytes.to_string()),
            ("process.roles", self.process_roles.clone()),
            (
                "producer.id.expiration.check.interval.ms",
                self.producer_id_expiration_check_interval_ms.to_string(),
            ),
            ("producer.id.expiration.ms", self.producer_id_expiration_ms.to_string()),
            ("socket.request.max.bytes", self.socket_request_max_bytes.to_string()),
            ("unclean.leader.election.enable", self.unclean_leader_election_enable.to_string()),
        ];
        pairs
    }

    /// `node.id`/`broker.id`, `process.roles`, `controller.quorum.voters`, `cluster.id`.
    fn apply_identity(&mut self, properties: &Properties) -> Result<(), ConfigError> {
        let node_id = match properties.get("node.id") {
            Some(value) => Some(parse_i32("node.id", value, 0, i32::MAX)?),
            None => None,
        };
        let broker_id = match properties.get("broker.id") {
            Some(value) => Some(parse_i32("broker.id", value, 0, i32::MAX)?),
            None => None,
        };
        if let (Some(node), Some(broker), Some(value)) =
            (node_id, broker_id, properties.get("broker.id"))
        {
            if node != broker {
                return Err(invalid("broker.id", value, &format!("must equal node.id ({node})")));
            }
        }
        if let Some(id) = node_id.or(broker_id) {
            self.node_id = id;
        }
        if let Some(value) = properties.get("process.roles") {
            self.process_roles = parse_process_roles(value)?;
        }
        if let Some(value) = properties.get("controller.quorum.voters") {
            check_quorum_voters(value)?;
            self.controller_quorum_voters = value.to_string();
        }
        if let Some(value) = properties.get("cluster.id") {
            let well_formed = value.len() == 22
                && value
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
            if !well_formed {
                let reason =
                    "accepts a 22-character base64url id, as kafka-storage.sh random-uuid prints";
                return Err(invalid("cluster.id", value, reason));
            }
            self.cluster_id = value.to_string();
        }
        assert!(self.node_id >= 0);
        Ok(())
    }

    /// `listeners`, `advertised.listeners` and `controller.listener.names`.
    fn apply_listeners(&mut self, properties: &Properties) -> Result<(), ConfigError> {
        let controller_names: Vec<String> = match properties.get("controller.listener.names") {
            Some(value) => value.split(',').map(|name| name.trim().to_ascii_uppercase()).collect(),
            None => vec![CONTROLLER_LISTENER_NAME_DEFAULT.to_string()],
        };
        let Some(listeners) = properties.get("listeners") else {
            // The defaults stand unless advertised.listeners names PLAINTEXT.
            let bound = Endpoint {
                name: "PLAINTEXT".to_string(),
                host: self.listener_host.clone(),
                port: self.listener_port,
            };
            return self.apply_advertised(properties, &bound);
        };
        let endpoints = parse_endpoints("listeners", listeners, 0)?;
        let Some(bound) =
            endpoints.into_iter().find(|endpoint| !controller_names.contains(&endpoint.name))
        else {
            let reason = format!(
                "needs a listener not named in controller.listener.names ({})",
                controller_names.join(",")
            );
            return Err(invalid("listeners", listeners, &reason));
        };
        let host = if bound.host.is_empty() { "0.0.0.0".to_string() } else { bound.host.clone() };
        self.listener_host = host.clone();
        self.listener_port = bound.port;
        self.apply_advertised(properties, &Endpoint { host, ..bound })
    }

    /// Chooses the advertised address for the `bound` listener (see [`Self::from_properties`]).
    fn apply_advertised(
        &mut self,
        properties: &Properties,
        bound: &Endpoint,
    ) -> Result<(), ConfigError> {
        let key = "advertised.listeners";
        let Some(value) = properties.get(key) else {
            let wildcard = bound.host == "0.0.0.0" || bound.host == "::";
            self.advertised_host =
                if wildcard { "127.0.0.1".to_string() } else { bound.host.clone() };
            self.advertised_port = bound.port;
            return Ok(());
        };
        let endpoints = parse_endpoints(key, value, 1)?;
        let Some(advertised) = endpoints.into_iter().find(|endpoint| endpoint.name == bound.name)
        else {
            let reason = format!("must name the listener {} that listeners binds", bound.name);
            return Err(invalid(key, value, &reason));
        };
        if advertised.host.is_empty() || advertised.host == "0.0.0.0" || advertised.host == "::" {
            let reason = "must give a host clients can reach, not an empty or wildcard host";
            return Err(invalid(key, value, reason));
        }
        self.advertised_host = advertised.host;
        self.advertised_port = advertised.port;
        Ok(())
    }

    /// The remaining broker-wide settings.
    fn apply_broker_settings(&mut self, properties: &Properties) -> Result<(), ConfigError> {
        let get = |key: &'static str| properties.get(key).map(|value| (key, value));
        let dirs = get("log.dirs").or_else(|| get("log.dir"));
        if let Some((key, value)) = dirs {
            self.log_dir = parse_log_dir(key, value)?;
        }
        if let Some((key, value)) = get("num.partitions") {
            self.num_partitions = parse_i32(key, value, 1, i32::MAX)?;
        }
        if let Some((key, value)) = get("default.replication.factor") {
            let factor = parse_i32(key, value, 1, i32::from(i16::MAX))?;
            self.default_replication_factor = i16::try_from(factor).expect("range checked");
        }
        if let Some((key, value)) = get("auto.create.topics.enable") {
            self.auto_create_topics_enable = parse_bool(key, value)?;
        }
        if let Some((key, value)) = get("delete.topic.enable") {
            self.delete_topic_enable = parse_bool(key, value)?;
        }
        if let Some((key, value)) = get("unclean.leader.election.enable") {
            self.unclean_leader_election_enable = parse_bool(key, value)?;
        }
        if let Some((key, value)) = get("message.max.bytes") {
            self.message_max_bytes = parse_i32(key, value, 0, MESSAGE_BYTES_MAX)?;
        }
        if let Some((key, value)) = get("socket.request.max.bytes") {
            self.socket_request_max_bytes = parse_i32(key, value, 1, i32::MAX)?;
        }
        if let Some((key, value)) = get("connections.max.idle.ms") {
            self.connections_max_idle_ms = parse_i64(key, value, i64::MIN, i64::MAX)?;
        }
        if let Some((key, value)) = get("max.connections") {
            self.max_connections = parse_i32(key, value, 0, i32::MAX)?;
        }
        if let Some((key, value)) = get("log.retention.check.interval.ms") {
            self.log_retention_check_interval_ms = parse_i64(key, value, 1, i64::MAX)?;
        }
        if let Some((key, value)) = get("producer.id.expiration.ms") {
            self.producer_id_expiration_ms = parse_i32(key, value, 1, i32::MAX)?;
        }
        if let Some((key, value)) = get("producer.id.expiration.check.interval.ms") {
            self.producer_id_expiration_check_interval_ms = parse_i32(key, value, 1, i32::MAX)?;
        }
        if let Some((key, value)) = get("group.initial.rebalance.delay.ms") {
            let delay_ms = parse_i32(key, value, 0, i32::MAX)?;
            self.group.initial_rebalance_delay_ms = delay_ms as u64;
        }
        if let Some((key, value)) = get("group.min.session.timeout.ms") {
            self.group.min_session_timeout_ms = parse_i32(key, value, 0, i32::MAX)?;
        }
        if let Some((key, value)) = get("group.max.session.timeout.ms") {
            self.group.max_session_timeout_ms = parse_i32(key, value, 0, i32::MAX)?;
        }
        if let Some((key, value)) = get("offsets.retention.minutes") {
            let minutes = parse_i32(key, value, 1, i32::MAX)?;
            self.group.offsets_retention_ms = i64::from(minutes) * MS_PER_MINUTE;
        }
        if let Some((key, value)) = get("offsets.retention.check.interval.ms") {
            let interval_ms = parse_i64(key, value, 1, i64::MAX)?;
            self.group.offsets_retention_check_interval_ms = interval_ms as u64;
        }
        if let Some((key, value)) = get("offsets.topic.segment.bytes") {
            let min = crate::limits::SEGMENT_BYTES_MIN as i32;
            self.group.offsets_topic_segment_bytes = parse_u32(key, value, min, i32::MAX)?;
        }
        if self.group.min_session_timeout_ms > self.group.max_session_timeout_ms {
            let (min, max) = (self.group.min_session_timeout_ms, self.group.max_session_timeout_ms);
            return Err(invalid(
                "group.min.session.timeout.ms",
                &min.to_string(),
                &format!("must not exceed group.max.session.timeout.ms={max}"),
            ));
        }
        if let Some((key, value)) = get("log.cleaner.enable") {
            self.log_cleaner_enable = parse_bool(key, value)?;
        }
        if let Some((key, value)) = get("log.cleaner.backoff.ms") {
            self.log_cleaner_backoff_ms = parse_i64(key, value, 0, i64::MAX)?;
        }
        if let Some((key, value)) = get("log.cleaner.step.bytes") {
            self.log_cleaner_step_bytes = i64::from(parse_i32(key, value, 1, i32::MAX)?);
        }
        if let Some((key, value)) = get("log.flush.scheduler.interval.ms") {
            self.log_flush_scheduler_interval_ms = parse_i64(key, value, 1, i64::MAX)?;
        }
        if let Some((key, value)) = get("log.flush.offset.checkpoint.interval.ms") {
            let interval_ms = parse_i32(key, value, 0, i32::MAX)?;
            self.log_flush_offset_checkpoint_interval_ms = i64::from(interval_ms);
        }
        assert!(self.num_partitions >= 1);
        assert!(self.default_replication_factor >= 1);
        Ok(())
    }
}

/// Builds the topic defaults from the broker's `log.*` properties and `message.max.bytes`.
/// Time settings follow Kafka's precedence: `log.roll.ms` over `log.roll.hours`, and
/// `log.retention.ms` over `.minutes` over `.hours`; a negative retention means -1 (forever).
fn topic_defaults(
    properties: &Properties,
    message_max_bytes: i32,
) -> Result<TopicConfig, ConfigError> {
    let mut topic = TopicConfig::default();
    let direct = [
        ("log.segment.bytes", "segment.bytes"),
        ("log.retention.bytes", "retention.bytes"),
        ("log.index.interval.bytes", "index.interval.bytes"),
        ("log.index.size.max.bytes", "segment.index.bytes"),
        ("log.cleanup.policy", "cleanup.policy"),
        ("log.cleaner.delete.retention.ms", "delete.retention.ms"),
        ("min.insync.replicas", "min.insync.replicas"),
        ("log.flush.interval.messages", "flush.messages"),
        ("compression.type", "compression.type"),
        ("log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio"),
        ("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
        ("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"),
        ("log.message.timestamp.type", "message.timestamp.type"),
        ("log.message.downconversion.enable", "message.downconversion.enable"),
        ("log.preallocate", "preallocate"),
        ("unclean.leader.election.enable", "unclean.leader.election.enable"),
        ("log.message.timestamp.before.max.ms", "message.timestamp.before.max.ms"),
        ("log.message.timestamp.after.max.ms", "message.timestamp.after.max.ms"),
        ("log.message.timestamp.difference.max.ms", "message.timestamp.difference.max.ms"),
    ];
    for (broker_key, topic_key) in direct {
        if let Some(value) = properties.get(broker_key) {
            topic.apply(topic_key, value).map_err(|error| renamed(error, broker_key))?;
        }
    }
    topic.max_message_bytes = message_max_bytes;
    // As Kafka: without log.flush.interval.ms, flush.ms defaults to the flusher's interval.
    let flush_keys = ["log.flush.interval.ms", "log.flush.scheduler.interval.ms"];
    if let Some(key) = flush_keys.into_iter().find(|key| properties.get(key).is_some()) {
        let value = properties.get(key).expect("found");
        topic.apply("flush.ms", value).map_err(|error| renamed(error, key))?;
    }

    let roll = time_ms(properties, &[("log.roll.ms", 1), ("log.roll.hours", MS_PER_HOUR)], 1)?;
    if let Some((key, value, segment_ms)) = roll {
        topic.log.segment_ms = segment_ms;
        topic.log.validate().map_err(|reason| invalid(key, value, &reason))?;
    }
    let retention_keys = [
        ("log.retention.ms", 1),
        ("log.retention.minutes", MS_PER_MINUTE),
        ("log.retention.hours", MS_PER_HOUR),
    ];
    if let Some((key, value, retention_ms)) = time_ms(properties, &retention_keys, i64::MIN)? {
        topic.log.retention_ms = retention_ms.max(-1);
        topic.log.validate().map_err(|reason| invalid(key, value, &reason))?;
    }
    assert!(topic.log.validate().is_ok());
    topic.check_combination()?;
    Ok(topic)
}

/// The first of `keys` (each with its unit in ms) that is set, converted to ms. Every one that
/// is set must parse, as Kafka checks them all. `*.ms` keys are 64-bit, the others 32-bit.
fn time_ms<'a>(
    properties: &'a Properties,
    keys: &[(&'a str, i64)],
    min: i64,
) -> Result<Option<(&'a str, &'a str, i64)>, ConfigError> {
    let mut chosen = None;
    for &(key, unit_ms) in keys {
        let Some(value) = properties.get(key) else { continue };
        let amount = if unit_ms == 1 {
            parse_i64(key, value, min, i64::MAX)?
        } else {
            let min_32 = i32::try_from(min.max(i64::from(i32::MIN))).expect("clamped");
            i64::from(parse_i32(key, value, min_32, i32::MAX)?)
        };
        if chosen.is_none() {
            // |i32| * 3 600 000 fits in i64.
            chosen = Some((key, value, amount * unit_ms));
        }
    }
    Ok(chosen)
}

/// `Unknown` unless `key` is a property Sluice reads or accepts without effect.
fn check_known(key: &str) -> Result<(), ConfigError> {
    if BROKER_KEYS.contains(&key) || IGNORED_KEYS.contains(&key) {
        Ok(())
    } else {
        Err(ConfigError::Unknown { key: key.to_string() })
    }
}

/// A double as Java's `Double.toString` prints ratios: `0.5`, `1.0`, `0.0`.
fn java_double(value: f64) -> String {
    let text = value.to_string();
    if text.contains(['.', 'e', 'E']) || !value.is_finite() {
        text
    } else {
        format!("{text}.0")
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// The same error, about the property `key`.
fn renamed(error: ConfigError, key: &str) -> ConfigError {
    match error {
        ConfigError::Invalid { value, reason, .. } => {
            ConfigError::Invalid { key: key.to_string(), value, reason }
        }
        ConfigError::Unknown { .. } => ConfigError::Unknown { key: key.to_string() },
        malformed @ ConfigError::Malformed { .. } => malformed,
    }
}

/// `value` without leading and trailing characters up to U+0020, as Java's `String.trim`
/// (which Kafka's config parsing uses) strips: other Unicode spaces are part of the value,
/// which then fails to parse, as in Kafka.
fn java_trim(value: &str) -> &str {
    value.trim_matches(|c: char| c <= ' ')
}

fn parse_i64(key: &str, value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    match java_trim(value).parse::<i64>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(invalid(key, value, &format!("accepts an integer in {min}..={max}"))),
    }
}

fn parse_i32(key: &str, value: &str, min: i32, max: i32) -> Result<i32, ConfigError> {
    match java_trim(value).parse::<i32>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(invalid(key, value, &format!("accepts an integer in {min}..={max}"))),
    }
}

/// A Kafka int that is never negative here, as the u32 the log uses.
fn parse_u32(key: &str, value: &str, min: i32, max: i32) -> Result<u32, ConfigError> {
    assert!(min >= 0);
    let number = parse_i32(key, value, min, max)?;
    Ok(u32::try_from(number).expect("range checked"))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    let text = java_trim(value);
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(key, value, "accepts true or false"))
    }
}

/// `log.dirs` / `log.dir`: exactly one directory.
fn parse_log_dir(key: &str, value: &str) -> Result<String, ConfigError> {
    let dirs: Vec<&str> = value.split(',').map(str::trim).filter(|dir| !dir.is_empty()).collect();
    match dirs.as_slice() {
        [dir] => Ok((*dir).to_string()),
        [] => Err(invalid(key, value, "accepts one directory path")),
        _ => Err(invalid(key, value, "Sluice uses one data directory; give a single path")),
    }
}

/// `process.roles`: `broker`, `controller`, or both, each at most once.
fn parse_process_roles(value: &str) -> Result<String, ConfigError> {
    let reason = "accepts broker, controller, or broker,controller";
    let mut roles: Vec<&str> = Vec::new();
    for role in value.split(',').map(str::trim) {
        if !(role == "broker" || role == "controller") || roles.contains(&role) {
            return Err(invalid("process.roles", value, reason));
        }
        roles.push(role);
    }
    assert!(!roles.is_empty() && roles.len() <= 2);
    Ok(roles.join(","))
}

/// `controller.quorum.voters`: a comma-separated list of `id@host:port`.
fn check_quorum_voters(value: &str) -> Result<(), ConfigError> {
    let reason = "accepts a comma-separated list of id@host:port, id >= 0, port in 1..=65535";
    for voter in value.split(',').map(str::trim) {
        let well_formed = voter.split_once('@').and_then(|(id, address)| {
            let (host, port) = address.rsplit_once(':')?;
            let id_ok = id.parse::<i32>().is_ok_and(|id| id >= 0);
            let port_ok = port.parse::<u16>().is_ok_and(|port| port >= 1);
            Some(id_ok && port_ok && !host.is_empty())
        });
        if well_formed != Some(true) {
            return Err(invalid("controller.quorum.voters", value, reason));
        }
    }
    Ok(())
}

/// `NAME://host:port[,NAME://host:port]`, names upper-cased, ports in `port_min..=65535`.
fn parse_endpoints(key: &str, value: &str, port_min: u16) -> Result<Vec<Endpoint>, ConfigError> {
    let reason = format!(
        "accepts a comma-separated list of NAME://host:port with a port in {port_min}..=65535"
    );
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for item in value.split(',').map(str::trim) {
        let endpoint = item.split_once("://").and_then(|(name, address)| {
            let (host, port) = address.rsplit_once(':')?;
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
            let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            let port = port.parse::<u16>().ok().filter(|port| *port >= port_min)?;
            name_ok.then(|| Endpoint {
                name: name.to_ascii_uppercase(),
                host: host.to_string(),
                port,
            })
        });
        match endpoint {
            Some(endpoint) => endpoints.push(endpoint),
            None => return Err(invalid(key, value, &reason)),
        }
    }
    assert!(!endpoints.is_empty());
    Ok(endpoints)
}

/// `PLAINTEXT://host:port`, with IPv6 hosts in brackets.
fn listener_text(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("PLAINTEXT://[{host}]:{port}")
    } else {
        format!("PLAINTEXT://{host}:{port}")
    }
}

/// Splits Java `.properties` text into `(key, value)` pairs, in order. Blank lines and lines
/// starting with `#` or `!` are skipped; a line ending in an odd number of backslashes continues
/// on the next (whose leading whitespace is dropped); the key ends at the first unescaped `=`,
/// `:` or whitespace; escapes (`\t`, `\n`, `\uXXXX`, `\=`, ...) are decoded; keys and values are
/// trimmed. A line with a key but no separator and value, or with an empty key, is malformed.
fn parse_properties(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, first)) = lines.next() {
        let trimmed = first.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let mut logical = trimmed.to_string();
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        pairs.push(parse_line(index + 1, logical.trim_end())?);
    }
    Ok(pairs)
}

fn ends_with_continuation(line: &str) -> bool {
    let backslashes = line.bytes().rev().take_while(|byte| *byte == b'\\').count();
    backslashes % 2 == 1
}

/// One logical line (already joined and trimmed) into a pair.
fn parse_line(line: usize, text: &str) -> Result<(String, String), ConfigError> {
    let malformed = || ConfigError::Malformed { line, text: text.to_string() };
    let mut key_end = text.len();
    let mut escaped = false;
    for (position, character) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == '=' || character == ':' || character.is_whitespace() {
            key_end = position;
            break;
        }
    }
    if key_end == 0 || key_end == text.len() {
        return Err(malformed());
    }
    let rest = text[key_end..].trim_start();
    let rest = rest.strip_prefix(['=', ':']).unwrap_or(rest).trim_start();
    let key = unescape(&text[..key_end]).ok_or_else(malformed)?;
    let value = unescape(rest).ok_or_else(malformed)?;
    Ok((key.trim().to_string(), value.trim().to_string()))
}

/// Decodes Java properties escapes; `None` for a malformed `\uXXXX`.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        if character != '\\' {
            out.push(character);
            continue;
        }
        match characters.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let digits: String = characters.by_ref().take(4).collect();
                let code = (digits.len() == 4).then(|| u32::from_str_radix(&digits, 16).ok())??;
                out.push(char::from_u32(code)?);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        BrokerConfig::from_properties(text, &[])
    }

    fn invalid_error(key: &str, value: &str, reason: &str) -> ConfigError {
        invalid(key, value, reason)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    /// Kafka's stock KRaft combined-mode file, with its comment styles and a continuation.
    const KRAFT_SERVER_PROPERTIES: &str = r"# Licensed to the Apache Software Foundation (ASF)
# contributor license agreements.

############################# Server Basics #############################

# The role of this server. Setting this puts us in KRaft mode
process.roles=broker,controller

# The node id associated with this instance's roles
node.id=3

# The connect string for the controller quorum
controller.quorum.voters=3@localhost:9093

############################# Socket Server Settings #############################
! A bang comment, as Java allows.
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,\
    SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

############################# Log Basics #############################
log.dirs: /tmp/kraft-combined-logs
num.partitions 3
num.recovery.threads.per.data.dir=1

############################# Internal Topic Settings  #############################
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

############################# Log Flush Policy #############################
#log.flush.interval.messages=10000
#log.flush.interval.ms=1000

############################# Log Retention Policy #############################
log.retention.hours=168
#log.retention.bytes=1073741824
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
";

    #[test]
    fn defaults_are_kafkas_with_sluice_paths() {
        // Goal: the defaults match the brief; method: compare every field, and parse empty text.
        let config = BrokerConfig::default();
        assert_eq!(config.node_id, 1);
        assert_eq!((config.listener_host.as_str(), config.listener_port), ("127.0.0.1", 9092));
        assert_eq!((config.advertised_host.as_str(), config.advertised_port), ("127.0.0.1", 9092));
        assert_eq!(config.log_dir, "./sluice-data");
        assert_eq!(config.num_partitions, 1);
        assert_eq!(config.default_replication_factor, 1);
        assert!(config.auto_create_topics_enable);
        assert!(config.delete_topic_enable);
        assert_eq!(config.message_max_bytes, 1_048_588);
        assert_eq!(config.socket_request_max_bytes, 104_857_600);
        assert_eq!(config.log_retention_check_interval_ms, 300_000);
        assert_eq!(config.log_flush_offset_checkpoint_interval_ms, 60_000);
        assert!(!config.unclean_leader_election_enable);
        assert_eq!(config.process_roles, "broker,controller");
        assert_eq!(config.controller_quorum_voters, "1@127.0.0.1:9093");
        assert_eq!(config.cluster_id, "U2x1aWNlQ2x1c3RlcjAwMQ");
        assert_eq!(config.topic_defaults, TopicConfig::default());

        let topic = TopicConfig::default();
        assert_eq!(topic.log, LogConfig::default());
        assert_eq!(topic.log.cleanup_policy, CleanupPolicy::Delete);
        assert_eq!(topic.min_insync_replicas, 1);
        assert_eq!(topic.max_message_bytes, 1_048_588);
        assert_eq!(topic.flush_messages, 1);
        assert!(topic.overrides.is_empty());

        assert_eq!(parse("").unwrap(), (BrokerConfig::default(), vec![]));
        assert_eq!(parse("\n  \n# only comments\n! and more\n").unwrap(), (config, vec![]));
    }

    #[test]
    fn stock_kraft_server_properties_parses() {
        // Goal: Kafka's own file loads; method: compare the whole config and the ignored keys.
        let (config, ignored) = parse(KRAFT_SERVER_PROPERTIES).unwrap();
        let expected = BrokerConfig {
            node_id: 3,
            controller_quorum_voters: "3@localhost:9093".to_string(),
            listener_host: "0.0.0.0".to_string(),
            advertised_host: "localhost".to_string(),
            log_dir: "/tmp/kraft-combined-logs".to_string(),
            num_partitions: 3,
            ..BrokerConfig::default()
        };
        assert_eq!(BrokerConfig { set_properties: BTreeMap::new(), ..config.clone() }, expected);
        // The properties it sets that Sluice reads, as given.
        let set: Vec<&str> = config.set_properties.keys().map(String::as_str).collect();
        assert_eq!(
            set,
            [
                "advertised.listeners",
                "controller.listener.names",
                "controller.quorum.voters",
                "listeners",
                "log.dirs",
                "log.retention.check.interval.ms",
                "log.retention.hours",
                "log.segment.bytes",
                "node.id",
                "num.partitions",
                "process.roles",
                "socket.request.max.bytes",
            ]
        );
        assert_eq!(config.set_properties["log.retention.hours"], "168");
        assert_eq!(
            ignored,
            [
                "inter.broker.listener.name",
                "listener.security.protocol.map",
                "num.io.threads",
                "num.network.threads",
                "num.recovery.threads.per.data.dir",
                "offsets.topic.replication.factor",
                "share.coordinator.state.topic.min.isr",
                "share.coordinator.state.topic.replication.factor",
                "socket.receive.buffer.bytes",
                "socket.send.buffer.bytes",
                "transaction.state.log.min.isr",
                "transaction.state.log.replication.factor",
            ]
        );
    }

    #[test]
    fn properties_syntax_follows_java() {
        // Goal: every separator, escape and continuation form; method: parse the raw pairs.
        let text =
            "a=1\n  b : 2 \nc 3\nd\t=\t4\ne=\nf=x\\\n   y\\\n\nz=\\\\\ng\\=h=5\ni=\\u0041\\tB\r\n";
        assert_eq!(
            parse_properties(text).unwrap(),
            pairs(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "4"),
                ("e", ""),
                ("f", "xy"),
                ("z", "\\"),
                ("g=h", "5"),
                ("i", "A\tB"),
            ])
        );
        // A later duplicate wins, as with java.util.Properties.
        let (config, _) = parse("num.partitions=2\nnum.partitions=4\n").unwrap();
        assert_eq!(config.num_partitions, 4);
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line_number() {
        // Goal: lines that are not key=value; method: exact Malformed errors.
        let malformed =
            |line: usize, text: &str| ConfigError::Malformed { line, text: text.to_string() };
        assert_eq!(parse("# ok\nnum.partitions\n"), Err(malformed(2, "num.partitions")));
        assert_eq!(parse("\n\n  =3\n"), Err(malformed(3, "=3")));
        assert_eq!(parse(":3"), Err(malformed(1, ":3")));
        assert_eq!(parse("cluster.id=\\u00zz\n"), Err(malformed(1, "cluster.id=\\u00zz")));
        assert_eq!(parse("a\\\n  b\n"), Err(malformed(1, "ab")));
        assert_eq!(malformed(2, "x").to_string(), "line 2 is not key=value: \"x\"");
    }

    #[test]
    fn unknown_keys_are_refused_in_file_order() {
        // Goal: a typo is an error, not silence; method: the first unknown key is reported.
        assert_eq!(
            parse("num.partitions=2\nnum.partitons=3\nzzz=1\n"),
            Err(ConfigError::Unknown { key: "num.partitons".to_string() })
        );
        assert_eq!(
            BrokerConfig::from_properties("", &pairs(&[("zookeeper.connect", "x:2181")])),
            Err(ConfigError::Unknown { key: "zookeeper.connect".to_string() })
        );
        assert_eq!(
            ConfigError::Unknown { key: "x".to_string() }.to_string(),
            "unknown property \"x\""
        );
    }

    #[test]
    fn overrides_win_over_the_file() {
        // Goal: --override beats server.properties; method: set both, check the result.
        let overrides = pairs(&[
            ("num.partitions", "12"),
            (" log.dirs ", " /data/sluice "),
            ("num.io.threads", "4"),
            ("node.id", "7"),
        ]);
        let (config, ignored) =
            BrokerConfig::from_properties(KRAFT_SERVER_PROPERTIES, &overrides).unwrap();
        assert_eq!(config.num_partitions, 12);
        assert_eq!(config.log_dir, "/data/sluice");
        assert_eq!(config.node_id, 7);
        assert_eq!(ignored.len(), 12);
        assert!(ignored.contains(&"num.io.threads".to_string()));
        // An override may also be invalid on its own.
        assert_eq!(
            BrokerConfig::from_properties(
                KRAFT_SERVER_PROPERTIES,
                &pairs(&[("num.partitions", "0")])
            ),
            Err(invalid_error("num.partitions", "0", "accepts an integer in 1..=2147483647"))
        );
    }

    #[test]
    fn invalid_values_are_refused_with_what_is_accepted() {
        // Goal: each kind of bad value; method: exact Invalid errors.
        let cases: [(&str, ConfigError); 20] = [
            (
                "producer.id.expiration.ms=0",
                invalid_error(
                    "producer.id.expiration.ms",
                    "0",
                    "accepts an integer in 1..=2147483647",
                ),
            ),
            (
                "producer.id.expiration.check.interval.ms=2147483648",
                invalid_error(
                    "producer.id.expiration.check.interval.ms",
                    "2147483648",
                    "accepts an integer in 1..=2147483647",
                ),
            ),
            (
                "max.connections=-1",
                invalid_error("max.connections", "-1", "accepts an integer in 0..=2147483647"),
            ),
            (
                "log.cleaner.step.bytes=0",
                invalid_error(
                    "log.cleaner.step.bytes",
                    "0",
                    "accepts an integer in 1..=2147483647",
                ),
            ),
            (
                "num.partitions=abc",
                invalid_error("num.partitions", "abc", "accepts an integer in 1..=2147483647"),
            ),
            (
                "num.partitions=2147483648",
                invalid_error(
                    "num.partitions",
                    "2147483648",
                    "accepts an integer in 1..=2147483647",
                ),
            ),
            (
                "default.replication.factor=40000",
                invalid_error(
                    "default.replication.factor",
                    "40000",
                    "accepts an integer in 1..=32767",
                ),
            ),
            ("node.id=-1", invalid_error("node.id", "-1", "accepts an integer in 0..=2147483647")),
            (
                "auto.create.topics.enable=yes",
                invalid_error("auto.create.topics.enable", "yes", "accepts true or false"),
            ),
            (
                "message.max.bytes=100000000",
                invalid_error(
                    "message.max.bytes",
                    "100000000",
                    "accepts an integer in 0..=67108864",
                ),
            ),
            (
                "log.retention.check.interval.ms=0",
                invalid_error(
                    "log.retention.check.interval.ms",
                    "0",
                    "accepts an integer in 1..=9223372036854775807",
                ),
            ),
            (
                "log.dirs=/a,/b",
                invalid_error(
                    "log.dirs",
                    "/a,/b",
                    "Sluice uses one data directory; give a single path",
                ),
            ),
            ("log.dir=", invalid_error("log.dir", "", "accepts one directory path")),
            (
                "log.segment.bytes=100",
                invalid_error(
                    "log.segment.bytes",
                    "100",
                    "segment.bytes=100 must be in 1024..=2147483647",
                ),
            ),
            (
                "log.retention.bytes=-2",
                invalid_error("log.retention.bytes", "-2", "retention.bytes=-2 must be -1 or more"),
            ),
            (
                "log.index.size.max.bytes=20",
                invalid_error(
                    "log.index.size.max.bytes",
                    "20",
                    "segment.index.bytes=20 must be in 48..=10485760",
                ),
            ),
            (
                "log.cleanup.policy=compact,remove",
                invalid_error(
                    "log.cleanup.policy",
                    "compact,remove",
                    "accepts delete, compact, or compact,delete (in any order)",
                ),
            ),
            (
                "process.roles=broker,broker",
                invalid_error(
                    "process.roles",
                    "broker,broker",
                    "accepts broker, controller, or broker,controller",
                ),
            ),
            (
                "controller.quorum.voters=1@host",
                invalid_error(
                    "controller.quorum.voters",
                    "1@host",
                    "accepts a comma-separated list of id@host:port, id >= 0, port in 1..=65535",
                ),
            ),
            (
                "cluster.id=short",
                invalid_error(
                    "cluster.id",
                    "short",
                    "accepts a 22-character base64url id, as kafka-storage.sh random-uuid prints",
                ),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Err(expected), "{text}");
        }
        assert_eq!(
            parse("node.id=2\nbroker.id=3"),
            Err(invalid_error("broker.id", "3", "must equal node.id (2)"))
        );
        assert_eq!(
            invalid_error("k", "v", "r").to_string(),
            "invalid value \"v\" for property \"k\": r"
        );
    }

    #[test]
    fn valid_values_take_effect() {
        // Goal: every broker property with an effect lands in its field; method: set them all.
        let text = "broker.id=4\nlog.dir=/var/sluice\ndefault.replication.factor=3\n\
            auto.create.topics.enable=FALSE\ndelete.topic.enable=False\n\
            unclean.leader.election.enable=TRUE\nmessage.max.bytes=2000000\n\
            socket.request.max.bytes=1000\nlog.retention.check.interval.ms=1000\n\
            log.flush.offset.checkpoint.interval.ms=0\nprocess.roles = broker\n\
            controller.quorum.voters=1@a:9093, 2@b:9093\ncluster.id=MkU3OEVBNTcwNTJENDM2Qk\n\
            log.segment.bytes=1048576\nlog.roll.hours=2\nlog.retention.bytes=5000\n\
            log.index.interval.bytes=0\nlog.index.size.max.bytes=4096\n\
            log.cleanup.policy=delete, compact\nmin.insync.replicas=2\n\
            log.flush.interval.messages=1000\ncompression.type=zstd\n\
            log.message.timestamp.type=LogAppendTime\n\
            log.message.timestamp.before.max.ms=5\nlog.message.timestamp.after.max.ms=6\n\
            log.message.timestamp.difference.max.ms=7\nlog.cleaner.min.cleanable.ratio=0.1\n\
            log.cleaner.min.compaction.lag.ms=8\nlog.cleaner.max.compaction.lag.ms=9\n\
            log.flush.scheduler.interval.ms=2000\n";
        let (config, ignored) = parse(text).unwrap();
        assert!(ignored.is_empty());
        let expected = BrokerConfig {
            node_id: 4,
            log_dir: "/var/sluice".to_string(),
            default_replication_factor: 3,
            auto_create_topics_enable: false,
            delete_topic_enable: false,
            unclean_leader_election_enable: true,
            message_max_bytes: 2_000_000,
            socket_request_max_bytes: 1000,
            log_retention_check_interval_ms: 1000,
            log_flush_offset_checkpoint_interval_ms: 0,
            process_roles: "broker".to_string(),
            controller_quorum_voters: "1@a:9093, 2@b:9093".to_string(),
            cluster_id: "MkU3OEVBNTcwNTJENDM2Qk".to_string(),
            log_flush_scheduler_interval_ms: 2000,
            topic_defaults: TopicConfig {
                log: LogConfig {
                    segment_bytes: 1_048_576,
                    segment_ms: 2 * 3_600_000,
                    index_interval_bytes: 0,
                    segment_index_bytes: 4096,
                    retention_ms: 604_800_000,
                    retention_bytes: 5000,
                    cleanup_policy: CleanupPolicy::CompactDelete,
                    timestamp_type: TimestampType::LogAppendTime,
                    min_cleanable_dirty_ratio: DirtyRatio::new(0.1).unwrap(),
                    min_compaction_lag_ms: 8,
                    max_compaction_lag_ms: 9,
                    ..LogConfig::default()
                },
                min_insync_replicas: 2,
                max_message_bytes: 2_000_000,
                flush_messages: 1000,
                flush_ms: 2000,
                compression_type: CompressionType::Zstd,
                timestamp_before_max_ms: 5,
                timestamp_after_max_ms: 6,
                timestamp_difference_max_ms: 7,
                overrides: BTreeMap::new(),
                inert: {
                    let mut inert = TopicConfig::default().inert;
                    inert.insert("unclean.leader.election.enable".into(), "true".into());
                    inert
                },
            },
            ..BrokerConfig::default()
        };
        assert_eq!(BrokerConfig { set_properties: BTreeMap::new(), ..config }, expected);
        // log.dirs wins over log.dir, and log.roll.ms over log.roll.hours.
        let (config, _) =
            parse("log.dir=/a\nlog.dirs=/b\nlog.roll.hours=1\nlog.roll.ms=5").unwrap();
        assert_eq!(config.log_dir, "/b");
        assert_eq!(config.topic_defaults.log.segment_ms, 5);
        // log.flush.interval.ms wins over the flusher's interval as flush.ms's default.
        let (config, _) =
            parse("log.flush.scheduler.interval.ms=7\nlog.flush.interval.ms=5\n").unwrap();
        assert_eq!(config.topic_defaults.flush_ms, 5);
        assert_eq!(config.log_flush_scheduler_interval_ms, 7);
    }

    #[test]
    fn retention_precedence_is_ms_then_minutes_then_hours() {
        // Goal: Kafka's precedence and the negative-means-forever rule; method: combinations.
        let retention = |text: &str| parse(text).unwrap().0.topic_defaults.log.retention_ms;
        assert_eq!(retention(""), 604_800_000);
        assert_eq!(retention("log.retention.hours=1"), 3_600_000);
        assert_eq!(retention("log.retention.hours=1\nlog.retention.minutes=2"), 120_000);
        assert_eq!(
            retention("log.retention.hours=1\nlog.retention.minutes=2\nlog.retention.ms=3"),
            3
        );
        assert_eq!(retention("log.retention.ms=7\nlog.retention.hours=1"), 7);
        assert_eq!(retention("log.retention.hours=-1"), -1);
        assert_eq!(retention("log.retention.minutes=-5"), -1);
        assert_eq!(retention("log.retention.ms=-1\nlog.retention.hours=5"), -1);
        // A shadowed key must still parse, as Kafka checks every property.
        assert_eq!(
            parse("log.retention.ms=3\nlog.retention.hours=x"),
            Err(invalid_error(
                "log.retention.hours",
                "x",
                "accepts an integer in -2147483648..=2147483647"
            ))
        );
        assert_eq!(
            parse("log.roll.ms=0"),
            Err(invalid_error("log.roll.ms", "0", "accepts an integer in 1..=9223372036854775807"))
        );
    }

    #[test]
    fn listeners_choose_the_first_non_controller_listener() {
        // Goal: bind and advertise as Kafka does; method: hosts and ports for each form.
        let addresses = |text: &str| {
            let (config, _) = parse(text).unwrap();
            (
                config.listener_host,
                config.listener_port,
                config.advertised_host,
                config.advertised_port,
            )
        };
        let expect = |bind: &str, bind_port: u16, advertised: &str, advertised_port: u16| {
            (bind.to_string(), bind_port, advertised.to_string(), advertised_port)
        };
        assert_eq!(
            addresses("listeners=PLAINTEXT://10.0.0.5:9000"),
            expect("10.0.0.5", 9000, "10.0.0.5", 9000)
        );
        assert_eq!(
            addresses("listeners=PLAINTEXT://:9092"),
            expect("0.0.0.0", 9092, "127.0.0.1", 9092)
        );
        assert_eq!(
            addresses("listeners=PLAINTEXT://0.0.0.0:9092"),
            expect("0.0.0.0", 9092, "127.0.0.1", 9092)
        );
        assert_eq!(
            addresses("listeners=CONTROLLER://:9093, plaintext://host:9094"),
            expect("host", 9094, "host", 9094)
        );
        assert_eq!(
            addresses("listeners=CTL://:9093,INTERNAL://:1\ncontroller.listener.names=ctl"),
            expect("0.0.0.0", 1, "127.0.0.1", 1)
        );
        assert_eq!(addresses("listeners=PLAINTEXT://[::1]:9092"), expect("::1", 9092, "::1", 9092));
        assert_eq!(
            addresses("listeners=PLAINTEXT://localhost:0"),
            expect("localhost", 0, "localhost", 0)
        );
        assert_eq!(
            addresses(
                "listeners=PLAINTEXT://:9092\n\
                 advertised.listeners=CONTROLLER://c:1,PLAINTEXT://kafka.example:19092"
            ),
            expect("0.0.0.0", 9092, "kafka.example", 19092)
        );
        assert_eq!(
            addresses("advertised.listeners=PLAINTEXT://public:9092"),
            expect("127.0.0.1", 9092, "public", 9092)
        );

        let listeners_reason =
            "accepts a comma-separated list of NAME://host:port with a port in 0..=65535";
        for bad in [
            "PLAINTEXT://host:99999",
            "PLAINTEXT://host",
            "host:9092",
            "://host:1",
            "PLAINTEXT://h:1,",
        ] {
            assert_eq!(
                parse(&format!("listeners={bad}")),
                Err(invalid_error("listeners", bad, listeners_reason)),
                "{bad}"
            );
        }
        assert_eq!(
            parse("listeners=CONTROLLER://:9093"),
            Err(invalid_error(
                "listeners",
                "CONTROLLER://:9093",
                "needs a listener not named in controller.listener.names (CONTROLLER)"
            ))
        );
        assert_eq!(
            parse("advertised.listeners=PLAINTEXT://host:0"),
            Err(invalid_error(
                "advertised.listeners",
                "PLAINTEXT://host:0",
                "accepts a comma-separated list of NAME://host:port with a port in 1..=65535"
            ))
        );
        assert_eq!(
            parse("advertised.listeners=EXTERNAL://host:1"),
            Err(invalid_error(
                "advertised.listeners",
                "EXTERNAL://host:1",
                "must name the listener PLAINTEXT that listeners binds"
            ))
        );
        assert_eq!(
            parse("advertised.listeners=PLAINTEXT://0.0.0.0:9092"),
            Err(invalid_error(
                "advertised.listeners",
                "PLAINTEXT://0.0.0.0:9092",
                "must give a host clients can reach, not an empty or wildcard host"
            ))
        );
    }

    /// (name, value, is_default, source) of a topic entry that is `overridden` or not.
    fn entry(name: &str, value: &str, overridden: bool) -> (String, String, bool, i8) {
        (name.to_string(), value.to_string(), !overridden, if overridden { 1 } else { 5 })
    }

    /// `config`'s entries without broker properties set, as [`entry`] shows them.
    fn entries_of(config: &TopicConfig) -> Vec<(String, String, bool, i8)> {
        let entries = config.entries(&BTreeMap::new());
        assert!(entries.iter().all(|entry| !entry.read_only && !entry.sensitive));
        entries
            .into_iter()
            .map(|entry| (entry.name, entry.value, entry.is_default, entry.source))
            .collect()
    }

    const MAX_MS: &str = "9223372036854775807";

    #[test]
    fn timestamp_and_compression_settings_parse_print_and_bound_as_in_kafka() {
        // Goal: message.timestamp.* and compression.type as Kafka 3.6+ reads them; method:
        // exact fields, printed values, bounds and errors.
        let defaults = TopicConfig::default();
        assert_eq!(defaults.timestamp_bounds(), None);
        let mut topic = defaults.clone();
        topic.set("message.timestamp.type", "LogAppendTime").unwrap();
        topic.set("compression.type", " lz4 ").unwrap();
        assert_eq!(topic.log.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(topic.compression_type, CompressionType::Lz4);
        assert_eq!(topic.compression_type.target(), Some(Compression::Lz4));
        assert_eq!(topic.value_of("compression.type"), "lz4");
        assert_eq!(topic.value_of("message.timestamp.type"), "LogAppendTime");
        // The difference bound applies to a side whose own bound is unset; a LogAppendTime
        // topic checks no record's time.
        topic.set("message.timestamp.difference.max.ms", "100").unwrap();
        assert_eq!(topic.timestamp_bounds(), None);
        topic.set("message.timestamp.type", "CreateTime").unwrap();
        assert_eq!(topic.timestamp_bounds(), Some((100, 100)));
        topic.set("message.timestamp.after.max.ms", "5").unwrap();
        assert_eq!(topic.timestamp_bounds(), Some((100, 5)));
        topic.unset("message.timestamp.difference.max.ms", &defaults).unwrap();
        assert_eq!(topic.timestamp_bounds(), Some((i64::MAX, 5)));
        topic.unset("message.timestamp.after.max.ms", &defaults).unwrap();
        topic.unset("compression.type", &defaults).unwrap();
        topic.unset("message.timestamp.type", &defaults).unwrap();
        assert_eq!(topic, defaults);
        for (key, value, reason) in [
            ("message.timestamp.type", "logappendtime", "accepts CreateTime or LogAppendTime"),
            (
                "compression.type",
                "none",
                "accepts uncompressed, zstd, lz4, snappy, gzip or producer",
            ),
            (
                "message.timestamp.before.max.ms",
                "-1",
                "accepts an integer in 0..=9223372036854775807",
            ),
        ] {
            let mut topic = defaults.clone();
            assert_eq!(topic.set(key, value), Err(invalid_error(key, value, reason)));
            assert_eq!(topic, defaults);
        }
        // Compaction settings: a ratio in 0..=1 printed as Java prints it, lags whose minimum
        // does not exceed their maximum.
        let mut topic = defaults.clone();
        topic.set("min.cleanable.dirty.ratio", "1").unwrap();
        assert_eq!(topic.value_of("min.cleanable.dirty.ratio"), "1.0");
        topic.set("min.cleanable.dirty.ratio", " 0.25").unwrap();
        assert_eq!(topic.value_of("min.cleanable.dirty.ratio"), "0.25");
        topic.set("max.compaction.lag.ms", "1000").unwrap();
        topic.set("min.compaction.lag.ms", "1000").unwrap();
        assert_eq!(
            (topic.log.min_compaction_lag_ms, topic.log.max_compaction_lag_ms),
            (1000, 1000)
        );
        for (key, value, reason) in [
            ("min.cleanable.dirty.ratio", "1.5", "accepts a number in 0..=1"),
            ("min.cleanable.dirty.ratio", "NaN", "accepts a number in 0..=1"),
            ("max.compaction.lag.ms", "0", "accepts an integer in 1..=9223372036854775807"),
        ] {
            let before = topic.clone();
            assert_eq!(topic.set(key, value), Err(invalid_error(key, value, reason)));
            assert_eq!(topic, before);
        }
        // The lags are checked together, on the result (as Kafka checks merged configs): one
        // at a time, in any order, each may pass through a combination that is refused.
        let mut topic = defaults.clone();
        topic.set("min.compaction.lag.ms", "1001").unwrap();
        topic.set("max.compaction.lag.ms", "1000").unwrap();
        assert_eq!(
            topic.check_combination(),
            Err(invalid_error(
                "min.compaction.lag.ms",
                "1001",
                "must not exceed max.compaction.lag.ms=1000"
            ))
        );
        // A saved topic loads whatever the broker's defaults became since (its overrides are
        // applied in name order, max before min), so a restart never fails on it.
        let mut strict = defaults.clone();
        strict.log.min_compaction_lag_ms = 3_600_000;
        let saved = pairs(&[("max.compaction.lag.ms", "60000"), ("min.compaction.lag.ms", "0")]);
        let loaded = TopicConfig::from_overrides(&strict, &saved).unwrap();
        assert_eq!(loaded.check_combination(), Ok(()));
        let loaded = TopicConfig::from_overrides(&strict, &saved[..1]).unwrap();
        assert!(loaded.check_combination().is_err());
        // Every codec name round-trips.
        for (name, value) in CompressionType::NAMES {
            assert_eq!(CompressionType::parse("compression.type", name), Ok(value));
            assert_eq!(value.as_str(), name);
        }
    }

    #[test]
    fn topic_entries_name_their_source_and_synonyms_in_kafkas_order() {
        // Goal: DescribeConfigs' sources and synonyms for a topic, as Kafka gives them; method:
        // retention.ms overridden on the topic and set in the broker's file in hours.
        let (config, _) =
            parse("log.retention.ms=172800000\nlog.cleanup.policy=compact\n").unwrap();
        let defaults = config.topic_defaults.clone();
        let topic =
            TopicConfig::from_overrides(&defaults, &pairs(&[("retention.ms", " 1000")])).unwrap();
        let entries = topic.entries(&config.set_properties);
        let find = |name: &str| entries.iter().find(|entry| entry.name == name).unwrap();
        let synonyms = |entry: &ConfigEntry| -> Vec<(String, String, i8)> {
            let synonyms = entry.synonyms.iter();
            synonyms.map(|s| (s.name.clone(), s.value.clone(), s.source)).collect()
        };
        let retention = find("retention.ms");
        assert_eq!((retention.value.as_str(), retention.source), ("1000", 1));
        assert_eq!(
            synonyms(retention),
            [
                ("retention.ms".to_string(), "1000".to_string(), 1),
                ("log.retention.ms".to_string(), "172800000".to_string(), 4),
                ("log.retention.hours".to_string(), "168".to_string(), 5),
            ]
        );
        // As Kafka: a value set only under a later name (log.retention.hours) is reported as
        // the default, with no synonyms; so is a default listed only under one.
        let (hours, _) = parse("log.retention.hours=48\n").unwrap();
        let entries = TopicConfig::default().entries(&hours.set_properties);
        let retention = entries.iter().find(|entry| entry.name == "retention.ms").unwrap();
        assert_eq!((retention.source, retention.synonyms.len()), (5, 0));
        let policy = find("cleanup.policy");
        assert_eq!(
            (policy.value.as_str(), policy.source, policy.is_default),
            ("compact", 4, false)
        );
        assert_eq!(policy.config_type, TYPE_LIST);
        assert_eq!(
            synonyms(policy),
            [
                ("log.cleanup.policy".to_string(), "compact".to_string(), 4),
                ("log.cleanup.policy".to_string(), "delete".to_string(), 5),
            ]
        );
        let segment_ms = find("segment.ms");
        assert_eq!((segment_ms.source, segment_ms.is_default), (5, true));
        assert!(synonyms(segment_ms).is_empty());
        assert_eq!(find("min.cleanable.dirty.ratio").config_type, TYPE_DOUBLE);
        assert_eq!(find("segment.bytes").config_type, TYPE_INT);
    }

    #[test]
    fn configs_with_nothing_to_act_on_are_validated_stored_and_reported() {
        // Goal: provisioning that sets Kafka's replication and down-conversion configs works
        // on a single broker; method: set, print, refuse and unset each kind.
        let (config, _) =
            parse("unclean.leader.election.enable=true\nlog.preallocate=TRUE\n").unwrap();
        let defaults = config.topic_defaults.clone();
        assert_eq!(defaults.value_of("unclean.leader.election.enable"), "true");
        assert_eq!(defaults.value_of("preallocate"), "true");
        assert!(config.unclean_leader_election_enable);
        let mut topic = defaults.clone();
        topic.set("unclean.leader.election.enable", "FALSE").unwrap();
        topic.set("message.downconversion.enable", "false").unwrap();
        topic.set("leader.replication.throttled.replicas", " 0:1, 1:1 ").unwrap();
        topic.set("follower.replication.throttled.replicas", "*").unwrap();
        assert_eq!(topic.value_of("unclean.leader.election.enable"), "false");
        assert_eq!(topic.value_of("message.downconversion.enable"), "false");
        assert_eq!(topic.value_of("leader.replication.throttled.replicas"), "0:1,1:1");
        assert_eq!(topic.value_of("follower.replication.throttled.replicas"), "*");
        let unclean = topic.entries(&config.set_properties);
        let unclean = unclean.iter().find(|e| e.name == "unclean.leader.election.enable").unwrap();
        assert_eq!((unclean.source, unclean.config_type), (1, TYPE_BOOLEAN));
        for (key, value, reason) in [
            ("preallocate", "yes", "accepts true or false"),
            (
                "leader.replication.throttled.replicas",
                "0:1,x",
                "accepts *, or a list of partition:broker pairs (e.g. 0:101,1:102)",
            ),
        ] {
            let before = topic.clone();
            assert_eq!(topic.set(key, value), Err(invalid_error(key, value, reason)));
            assert_eq!(topic, before);
        }
        // Kafka's list rule: empty items pass, and so do items that together make *.
        let key = "follower.replication.throttled.replicas";
        for (given, printed) in [("0:1,", "0:1,"), ("*,", "*,"), ("4294967296:1", "4294967296:1")] {
            topic.set(key, given).unwrap();
            assert_eq!(topic.value_of(key), printed);
        }
        let reason = "accepts *, or a list of partition:broker pairs (e.g. 0:101,1:102)";
        assert_eq!(topic.set(key, "+1:+2"), Err(invalid_error(key, "+1:+2", reason)));
        for name in INERT_TOPIC_CONFIGS.iter().map(|(name, ..)| *name) {
            topic.unset(name, &defaults).unwrap();
        }
        assert_eq!(topic, defaults);
    }

    #[test]
    fn topic_set_unset_and_entries() {
        // Goal: overrides are recorded, printed and removed; method: exact entries after each.
        let defaults = TopicConfig::default();
        assert_eq!(
            entries_of(&defaults),
            vec![
                entry("cleanup.policy", "delete", false),
                entry("compression.type", "producer", false),
                entry("delete.retention.ms", "86400000", false),
                entry("flush.messages", "1", false),
                entry("flush.ms", MAX_MS, false),
                entry("follower.replication.throttled.replicas", "", false),
                entry("index.interval.bytes", "4096", false),
                entry("leader.replication.throttled.replicas", "", false),
                entry("max.compaction.lag.ms", MAX_MS, false),
                entry("max.message.bytes", "1048588", false),
                entry("message.downconversion.enable", "true", false),
                entry("message.timestamp.after.max.ms", MAX_MS, false),
                entry("message.timestamp.before.max.ms", MAX_MS, false),
                entry("message.timestamp.difference.max.ms", MAX_MS, false),
                entry("message.timestamp.type", "CreateTime", false),
                entry("min.cleanable.dirty.ratio", "0.5", false),
                entry("min.compaction.lag.ms", "0", false),
                entry("min.insync.replicas", "1", false),
                entry("preallocate", "false", false),
                entry("retention.bytes", "-1", false),
                entry("retention.ms", "604800000", false),
                entry("segment.bytes", "1073741824", false),
                entry("segment.index.bytes", "10485760", false),
                entry("segment.ms", "604800000", false),
                entry("unclean.leader.election.enable", "false", false),
            ]
        );
        let mut topic = TopicConfig::from_overrides(
            &defaults,
            &pairs(&[
                ("retention.ms", "-1"),
                ("cleanup.policy", "delete, compact"),
                ("segment.bytes", "1048576"),
            ]),
        )
        .unwrap();
        assert_eq!(topic.log.retention_ms, -1);
        assert_eq!(topic.log.cleanup_policy, CleanupPolicy::CompactDelete);
        assert_eq!(topic.log.segment_bytes, 1_048_576);
        topic.set("max.message.bytes", "2000000").unwrap();
        topic.set("flush.messages", "100").unwrap();
        topic.set("min.insync.replicas", "2").unwrap();
        topic.set("retention.bytes", "1000000").unwrap();
        topic.set("segment.ms", "60000").unwrap();
        topic.set("segment.index.bytes", "48").unwrap();
        topic.set("index.interval.bytes", "0").unwrap();
        assert_eq!(
            entries_of(&topic),
            vec![
                entry("cleanup.policy", "delete,compact", true),
                entry("compression.type", "producer", false),
                entry("delete.retention.ms", "86400000", false),
                entry("flush.messages", "100", true),
                entry("flush.ms", MAX_MS, false),
                entry("follower.replication.throttled.replicas", "", false),
                entry("index.interval.bytes", "0", true),
                entry("leader.replication.throttled.replicas", "", false),
                entry("max.compaction.lag.ms", MAX_MS, false),
                entry("max.message.bytes", "2000000", true),
                entry("message.downconversion.enable", "true", false),
                entry("message.timestamp.after.max.ms", MAX_MS, false),
                entry("message.timestamp.before.max.ms", MAX_MS, false),
                entry("message.timestamp.difference.max.ms", MAX_MS, false),
                entry("message.timestamp.type", "CreateTime", false),
                entry("min.cleanable.dirty.ratio", "0.5", false),
                entry("min.compaction.lag.ms", "0", false),
                entry("min.insync.replicas", "2", true),
                entry("preallocate", "false", false),
                entry("retention.bytes", "1000000", true),
                entry("retention.ms", "-1", true),
                entry("segment.bytes", "1048576", true),
                entry("segment.index.bytes", "48", true),
                entry("segment.ms", "60000", true),
                entry("unclean.leader.election.enable", "false", false),
            ]
        );
        assert_eq!(
            topic.overrides.get("cleanup.policy").map(String::as_str),
            Some("delete, compact")
        );
        assert_eq!(topic.overrides.len(), 10);

        topic.unset("cleanup.policy", &defaults).unwrap();
        topic.unset("retention.ms", &defaults).unwrap();
        topic.unset("retention.ms", &defaults).unwrap();
        assert_eq!(topic.log.cleanup_policy, CleanupPolicy::Delete);
        assert_eq!(entries_of(&topic)[0], entry("cleanup.policy", "delete", false));
        assert_eq!(entries_of(&topic)[20], entry("retention.ms", "604800000", false));
        assert_eq!(topic.overrides.len(), 8);
        for name in TopicConfig::NAMES {
            topic.unset(name, &defaults).unwrap();
        }
        assert_eq!(topic, defaults);
        assert_eq!(
            topic.unset("retention.hours", &defaults),
            Err(ConfigError::Unknown { key: "retention.hours".to_string() })
        );
    }

    #[test]
    fn topic_set_refuses_bad_values_and_changes_nothing() {
        // Goal: every topic-level check; method: exact errors, then the config is unchanged.
        let defaults = TopicConfig::default();
        let mut topic = defaults.clone();
        let cases = [
            ("retention.hours", "1", ConfigError::Unknown { key: "retention.hours".to_string() }),
            (
                "retention.ms",
                "-2",
                invalid_error(
                    "retention.ms",
                    "-2",
                    "accepts an integer in -1..=9223372036854775807",
                ),
            ),
            (
                "retention.bytes",
                "-2",
                invalid_error("retention.bytes", "-2", "retention.bytes=-2 must be -1 or more"),
            ),
            (
                "segment.bytes",
                "1023",
                invalid_error(
                    "segment.bytes",
                    "1023",
                    "segment.bytes=1023 must be in 1024..=2147483647",
                ),
            ),
            (
                "segment.bytes",
                "-5",
                invalid_error("segment.bytes", "-5", "accepts an integer in 0..=2147483647"),
            ),
            (
                "segment.ms",
                "0",
                invalid_error("segment.ms", "0", "accepts an integer in 1..=9223372036854775807"),
            ),
            (
                "segment.index.bytes",
                "10485761",
                invalid_error(
                    "segment.index.bytes",
                    "10485761",
                    "segment.index.bytes=10485761 must be in 48..=10485760",
                ),
            ),
            (
                "index.interval.bytes",
                "1.5",
                invalid_error(
                    "index.interval.bytes",
                    "1.5",
                    "accepts an integer in 0..=2147483647",
                ),
            ),
            (
                "cleanup.policy",
                "",
                invalid_error(
                    "cleanup.policy",
                    "",
                    "accepts delete, compact, or compact,delete (in any order)",
                ),
            ),
            (
                "cleanup.policy",
                "Delete",
                invalid_error(
                    "cleanup.policy",
                    "Delete",
                    "accepts delete, compact, or compact,delete (in any order)",
                ),
            ),
            (
                "min.insync.replicas",
                "0",
                invalid_error("min.insync.replicas", "0", "accepts an integer in 1..=2147483647"),
            ),
            (
                "max.message.bytes",
                "-1",
                invalid_error("max.message.bytes", "-1", "accepts an integer in 0..=67108864"),
            ),
            (
                "flush.messages",
                "0",
                invalid_error(
                    "flush.messages",
                    "0",
                    "accepts an integer in 1..=9223372036854775807",
                ),
            ),
        ];
        for (key, value, expected) in cases {
            assert_eq!(topic.set(key, value), Err(expected), "{key}={value}");
            assert_eq!(topic, defaults);
        }
        assert_eq!(
            TopicConfig::from_overrides(
                &defaults,
                &pairs(&[("segment.ms", "1"), ("flush.messages", "x")])
            ),
            Err(invalid_error(
                "flush.messages",
                "x",
                "accepts an integer in 1..=9223372036854775807"
            ))
        );
        // Overrides present on `defaults` are not inherited.
        let mut with_override = defaults.clone();
        with_override.set("segment.ms", "5").unwrap();
        let topic = TopicConfig::from_overrides(&with_override, &[]).unwrap();
        assert!(topic.overrides.is_empty());
        assert_eq!(topic.log.segment_ms, 5);
    }

    #[test]
    fn values_are_trimmed_as_java_trims_them() {
        // Kafka's parsing trims with String.trim (characters up to U+0020): ASCII spaces and
        // control characters go, other Unicode spaces stay and make the value invalid.
        let defaults = TopicConfig::default();
        let mut topic = defaults.clone();
        topic.set("retention.ms", "\t 100 \n").unwrap();
        assert_eq!(topic.log.retention_ms, 100);
        topic.set("cleanup.policy", " compact ,\u{1}delete").unwrap();
        assert_eq!(topic.log.cleanup_policy, CleanupPolicy::CompactDelete);
        for (key, value) in [
            ("retention.ms", "100\u{a0}"),
            ("cleanup.policy", "compact\u{3000}"),
            ("segment.bytes", "\u{2003}1048576"),
        ] {
            let mut topic = defaults.clone();
            let refused = topic.set(key, value);
            assert!(
                matches!(refused, Err(ConfigError::Invalid { .. })),
                "{key}={value:?}: {refused:?}"
            );
            assert_eq!(topic, defaults);
        }
    }

    #[test]
    fn group_coordinator_settings_are_read_and_checked() {
        // Goal: the group.* keys reach the coordinator's settings; method: exact values and
        // the error for a minimum above the maximum.
        let (config, ignored) = parse(
            "group.initial.rebalance.delay.ms=0\ngroup.min.session.timeout.ms=1000\n\
             group.max.session.timeout.ms=60000\n",
        )
        .unwrap();
        assert!(ignored.is_empty());
        assert_eq!(config.group.initial_rebalance_delay_ms, 0);
        assert_eq!(config.group.min_session_timeout_ms, 1000);
        assert_eq!(config.group.max_session_timeout_ms, 60_000);
        assert_eq!(config.group.offsets_topic_partitions, 50);
        assert_eq!(config.group.offsets_topic_segment_bytes, 104_857_600);
        let (config, _) = parse("offsets.topic.segment.bytes=4096\n").unwrap();
        assert_eq!(config.group.offsets_topic_segment_bytes, 4096);
        assert_eq!(
            parse("offsets.topic.segment.bytes=100\n"),
            Err(invalid_error(
                "offsets.topic.segment.bytes",
                "100",
                "accepts an integer in 1024..=2147483647"
            ))
        );
        assert_eq!(
            parse("group.min.session.timeout.ms=70000\ngroup.max.session.timeout.ms=60000\n"),
            Err(invalid_error(
                "group.min.session.timeout.ms",
                "70000",
                "must not exceed group.max.session.timeout.ms=60000"
            ))
        );
    }

    #[test]
    fn broker_entries_are_static_and_sorted() {
        // Goal: DescribeConfigs on the broker; method: exact names, values and flags.
        let (config, _) = parse(KRAFT_SERVER_PROPERTIES).unwrap();
        let entries = config.entries();
        let named: Vec<(&str, &str)> =
            entries.iter().map(|entry| (entry.name.as_str(), entry.value.as_str())).collect();
        assert_eq!(
            named,
            [
                ("advertised.listeners", "PLAINTEXT://localhost:9092"),
                ("auto.create.topics.enable", "true"),
                ("cluster.id", "U2x1aWNlQ2x1c3RlcjAwMQ"),
                ("compression.type", "producer"),
                ("connections.max.idle.ms", "600000"),
                ("controller.quorum.voters", "3@localhost:9093"),
                ("default.replication.factor", "1"),
                ("delete.topic.enable", "true"),
                ("group.initial.rebalance.delay.ms", "3000"),
                ("group.max.session.timeout.ms", "1800000"),
                ("group.min.session.timeout.ms", "6000"),
                ("listeners", "PLAINTEXT://0.0.0.0:9092"),
                ("log.cleaner.backoff.ms", "15000"),
                ("log.cleaner.delete.retention.ms", "86400000"),
                ("log.cleaner.enable", "true"),
                ("log.cleaner.max.compaction.lag.ms", MAX_MS),
                ("log.cleaner.min.cleanable.ratio", "0.5"),
                ("log.cleaner.min.compaction.lag.ms", "0"),
                ("log.cleaner.step.bytes", "1048576"),
                ("log.cleanup.policy", "delete"),
                ("log.dirs", "/tmp/kraft-combined-logs"),
                ("log.flush.interval.messages", "1"),
                ("log.flush.interval.ms", MAX_MS),
                ("log.flush.offset.checkpoint.interval.ms", "60000"),
                ("log.flush.scheduler.interval.ms", MAX_MS),
                ("log.index.interval.bytes", "4096"),
                ("log.index.size.max.bytes", "10485760"),
                ("log.message.downconversion.enable", "true"),
                ("log.message.timestamp.after.max.ms", MAX_MS),
                ("log.message.timestamp.before.max.ms", MAX_MS),
                ("log.message.timestamp.difference.max.ms", MAX_MS),
                ("log.message.timestamp.type", "CreateTime"),
                ("log.preallocate", "false"),
                ("log.retention.bytes", "-1"),
                ("log.retention.check.interval.ms", "300000"),
                ("log.retention.ms", "604800000"),
                ("log.roll.ms", "604800000"),
                ("log.segment.bytes", "1073741824"),
                ("max.connections", "2147483647"),
                ("message.max.bytes", "1048588"),
                ("min.insync.replicas", "1"),
                ("node.id", "3"),
                ("num.partitions", "3"),
                ("offsets.retention.check.interval.ms", "600000"),
                ("offsets.retention.minutes", "10080"),
                ("offsets.topic.segment.bytes", "104857600"),
                ("process.roles", "broker,controller"),
                ("producer.id.expiration.check.interval.ms", "600000"),
                ("producer.id.expiration.ms", "86400000"),
                ("socket.request.max.bytes", "104857600"),
                ("unclean.leader.election.enable", "false"),
            ]
        );
        assert!(entries.iter().all(|entry| entry.read_only && !entry.sensitive));
        // What the file sets is STATIC_BROKER_CONFIG, under the names it used; the rest is
        // DEFAULT_CONFIG.
        let statics: Vec<(&str, Vec<(&str, &str)>)> = entries
            .iter()
            .filter(|entry| entry.source == 4 && !entry.is_default)
            .map(|entry| {
                // The static synonyms come first; the default (if any) follows them.
                let synonyms = entry
                    .synonyms
                    .iter()
                    .take_while(|synonym| synonym.source == 4)
                    .map(|synonym| (synonym.name.as_str(), synonym.value.as_str()))
                    .collect();
                assert!(entry.synonyms.iter().skip_while(|s| s.source == 4).all(|s| s.source == 5));
                (entry.name.as_str(), synonyms)
            })
            .collect();
        assert_eq!(
            statics,
            [
                (
                    "advertised.listeners",
                    vec![(
                        "advertised.listeners",
                        "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093"
                    )]
                ),
                (
                    "controller.quorum.voters",
                    vec![("controller.quorum.voters", "3@localhost:9093")]
                ),
                ("listeners", vec![("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093")]),
                ("log.dirs", vec![("log.dirs", "/tmp/kraft-combined-logs")]),
                (
                    "log.retention.check.interval.ms",
                    vec![("log.retention.check.interval.ms", "300000")]
                ),
                ("log.segment.bytes", vec![("log.segment.bytes", "1073741824")]),
                ("node.id", vec![("node.id", "3")]),
                ("num.partitions", vec![("num.partitions", "3")]),
                ("process.roles", vec![("process.roles", "broker,controller")]),
                ("socket.request.max.bytes", vec![("socket.request.max.bytes", "104857600")]),
            ]
        );
        for entry in entries.iter().filter(|entry| entry.source != 4) {
            assert!(entry.is_default && entry.source == 5, "{entry:?}");
            let default =
                ConfigSynonym { name: entry.name.clone(), value: entry.value.clone(), source: 5 };
            // Those Kafka gives no default of their own (log.retention.ms, set here only as
            // log.retention.hours) have no synonyms.
            let unset = ["cluster.id", "log.flush.interval.ms", "log.retention.ms", "log.roll.ms"];
            if unset.contains(&entry.name.as_str()) {
                assert!(entry.synonyms.is_empty(), "{entry:?}");
            } else {
                assert_eq!(entry.synonyms, [default]);
            }
        }
        let types: Vec<i8> = ["log.cleaner.min.cleanable.ratio", "log.cleanup.policy", "node.id"]
            .iter()
            .map(|name| entries.iter().find(|entry| entry.name == *name).unwrap().config_type)
            .collect();
        assert_eq!(types, [TYPE_DOUBLE, TYPE_LIST, TYPE_INT]);
        let (ipv6, _) = parse("listeners=PLAINTEXT://[::1]:9092").unwrap();
        assert_eq!(ipv6.entries()[11].value, "PLAINTEXT://[::1]:9092");
    }
}

//! A small blocking Kafka client for the command-line tools, built on the core's codec.
//!
//! [`Client`] is one TCP connection to one broker: it negotiates API versions with ApiVersions
//! at connect, then sends one request at a time and waits for its answer. [`Cluster`] adds what
//! producers and consumers need on top: metadata and one connection per partition leader.
//! Everything is sequential and bounded in time (connect, read and write timeouts) and in size
//! (response frames), so a tool never hangs or allocates without limit.

use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use sluice_core::protocol::api::api_versions::ApiVersionsRequest;
use sluice_core::protocol::api::metadata::{
    MetadataRequest, MetadataRequestTopic, MetadataResponse, MetadataResponseTopic,
};
use sluice_core::protocol::api::{api_info, decode_response, encode_request, Request, Response};
use sluice_core::protocol::header::RequestHeader;
use sluice_core::protocol::wire::{frame_length, StrBytes};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where the tools connect when `--bootstrap-server` is not given.
pub const DEFAULT_BOOTSTRAP_SERVER: &str = "127.0.0.1:9092";

/// The largest response frame a tool accepts (100 MiB).
pub const RESPONSE_BYTES_MAX: usize = 100 * 1024 * 1024;

/// How long connecting, writing a request or waiting for a response may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const API_VERSIONS_KEY: i16 = 18;
const METADATA_KEY: i16 = 3;

/// One connection to one broker, with the API versions both sides support.
pub struct Client {
    stream: TcpStream,
    address: String,
    client_id: StrBytes,
    next_correlation_id: i32,
    timeout: Duration,
    /// Per API key: the broker's advertised (min, max).
    broker_versions: HashMap<i16, (i16, i16)>,
    /// Per API key: the highest version the tools will use, below the codec's own maximum.
    caps: HashMap<i16, i16>,
}

impl Client {
    /// Connects to the first reachable server of `bootstrap` (`host:port[,host:port…]`) and
    /// negotiates API versions, with [`DEFAULT_TIMEOUT`].
    pub fn connect(bootstrap: &str, client_id: &str) -> anyhow::Result<Self> {
        Self::connect_with_timeout(bootstrap, client_id, DEFAULT_TIMEOUT)
    }

    /// [`Client::connect`] with an explicit connect/read/write timeout.
    pub fn connect_with_timeout(
        bootstrap: &str,
        client_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let servers = parse_bootstrap(bootstrap)?;
        let mut failures = Vec::new();
        for server in &servers {
            match open(server, timeout) {
                Ok(stream) => {
                    let mut client = Self {
                        stream,
                        address: server.clone(),
                        client_id: StrBytes::from_string(client_id.to_string()),
                        next_correlation_id: 0,
                        timeout,
                        broker_versions: HashMap::new(),
                        caps: HashMap::new(),
                    };
                    client.negotiate()?;
                    return Ok(client);
                }
                Err(error) => failures.push(error),
            }
        }
        bail!("{}", failures.join("; "))
    }

    /// The `host:port` this client is connected to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Changes the read and write timeout of later requests (a JoinGroup may be held by the
    /// coordinator for a whole rebalance, longer than [`DEFAULT_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.stream.set_write_timeout(Some(timeout)))
            .map_err(|error| anyhow!("cannot set the timeout on {}: {error}", self.address))?;
        self.timeout = timeout;
        Ok(())
    }

    /// Never use a version of API `key` above `max` (for APIs whose newer versions need
    /// features the tools do not implement, such as topic ids in Fetch 13+).
    pub fn cap_version(&mut self, key: i16, max: i16) {
        self.caps.insert(key, max);
    }

    /// The version of API `key` this client will use: the highest that the broker advertises,
    /// the codec supports and no cap forbids. `None` if there is none.
    pub fn version(&self, key: i16) -> Option<i16> {
        let info = api_info(key)?;
        let (broker_min, broker_max) = *self.broker_versions.get(&key)?;
        let cap = self.caps.get(&key).copied().unwrap_or(i16::MAX);
        let high = info.max_version.min(broker_max).min(cap);
        let low = info.min_version.max(broker_min);
        (low <= high).then_some(high)
    }

    /// Sends `request` at the negotiated version and waits for its response.
    pub fn send(&mut self, request: Request) -> anyhow::Result<Response> {
        let version = self.negotiated(request.api_key())?;
        self.send_at(request, version)
    }

    /// Sends `request` at the negotiated version without waiting for a response (Produce with
    /// `acks=0`, which the broker does not answer).
    pub fn send_without_response(&mut self, request: Request) -> anyhow::Result<()> {
        let version = self.negotiated(request.api_key())?;
        self.write_request(&request, version).map(|_| ())
    }

    /// Sends `request` at `version` (which the codec must support) and waits for its response.
    pub fn send_at(&mut self, request: Request, version: i16) -> anyhow::Result<Response> {
        let key = request.api_key();
        let name = api_name(key);
        let correlation_id = self.write_request(&request, version)?;
        let body = self.read_frame(name, version)?;
        let (header, response) = decode_response(key, version, body).map_err(|error| {
            anyhow!("cannot decode the {name} v{version} response from {}: {error}", self.address)
        })?;
        if header.correlation_id != correlation_id {
            bail!(
                "the broker at {} answered correlation id {} to {name} request {correlation_id}",
                self.address,
                header.correlation_id
            );
        }
        Ok(response)
    }

    fn negotiated(&self, key: i16) -> anyhow::Result<i16> {
        self.version(key).ok_or_else(|| {
            let name = api_name(key);
            match (api_info(key), self.broker_versions.get(&key)) {
                (Some(info), Some((low, high))) => anyhow!(
                    "the broker at {} supports {name} v{low}–v{high}, which does not overlap \
                     what this tool speaks (v{}–v{})",
                    self.address,
                    info.min_version,
                    info.max_version.min(self.caps.get(&key).copied().unwrap_or(i16::MAX))
                ),
                _ => anyhow!("the broker at {} does not support {name}", self.address),
            }
        })
    }

    fn write_request(&mut self, request: &Request, version: i16) -> anyhow::Result<i32> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let header = RequestHeader {
            api_key: request.api_key(),
            api_version: version,
            correlation_id,
            client_id: Some(self.client_id.clone()),
            unknown_tagged_fields: Vec::new(),
        };
        let mut frame = Vec::new();
        encode_request(&header, request, &mut frame);
        let name = api_name(request.api_key());
        self.stream
            .write_all(&frame)
            .and_then(|()| self.stream.flush())
            .map_err(|error| self.io_error(error, &format!("sending {name} v{version}")))?;
        Ok(correlation_id)
    }

    fn read_frame(&mut self, name: &str, version: i16) -> anyhow::Result<Bytes> {
        let what = format!("waiting for the {name} v{version} response");
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix).map_err(|error| self.io_error(error, &what))?;
        let length = match frame_length(&prefix, RESPONSE_BYTES_MAX) {
            Ok(Some(length)) => length,
            Ok(None) => unreachable!("four bytes were read"),
            Err(_) => bail!(
                "the broker at {} sent a {name} response frame of {} bytes; the limit is {} bytes",
                self.address,
                i32::from_be_bytes(prefix),
                RESPONSE_BYTES_MAX
            ),
        };
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).map_err(|error| self.io_error(error, &what))?;
        Ok(Bytes::from(body))
    }

    fn io_error(&self, error: io::Error, doing: &str) -> anyhow::Error {
        let address = &self.address;
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                anyhow!("timed out after {} s {doing} from {address}", self.timeout.as_secs_f64())
            }
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => {
                anyhow!("the broker at {address} closed the connection while {doing}")
            }
            _ => anyhow!("{doing} ({address}): {error}"),
        }
    }

    /// ApiVersions at the highest version we speak; a broker that does not know it answers
    /// UNSUPPORTED_VERSION with a v0 body listing its range, and we retry within that.
    fn negotiate(&mut self) -> anyhow::Result<()> {
        let ours = api_info(API_VERSIONS_KEY).expect("the codec speaks ApiVersions");
        let mut version = ours.max_version;
        for _ in 0..3 {
            let request = Request::ApiVersions(ApiVersionsRequest {
                client_software_name: StrBytes::from_static("sluice-cli"),
                client_software_version: StrBytes::from_static(env!("CARGO_PKG_VERSION")),
                ..Default::default()
            });
            let correlation_id = self.write_request(&request, version)?;
            let body = self.read_frame("ApiVersions", version)?;
            // A broker that rejects the version answers with a v0 body, whatever we sent.
            let decoded = match decode_response(API_VERSIONS_KEY, version, body.clone()) {
                Ok((header, Response::ApiVersions(response))) if response.error_code == 0 => {
                    Some((header, Response::ApiVersions(response)))
                }
                _ => decode_response(API_VERSIONS_KEY, 0, body).ok(),
            };
            let Some((header, Response::ApiVersions(response))) = decoded else {
                bail!("cannot decode the ApiVersions response from {}", self.address);
            };
            if header.correlation_id != correlation_id {
                bail!("the broker at {} answered with the wrong correlation id", self.address);
            }
            self.broker_versions = response
                .api_keys
                .iter()
                .map(|api| (api.api_key, (api.min_version, api.max_version)))
                .collect();
            match response.error_code {
                0 => return Ok(()),
                35 => {
                    let Some(&(_, broker_max)) = self.broker_versions.get(&API_VERSIONS_KEY) else {
                        bail!("the broker at {} rejected ApiVersions v{version}", self.address);
                    };
                    let next = broker_max.min(ours.max_version);
                    if next >= version || next < ours.min_version {
                        bail!(
                            "the broker at {} supports ApiVersions up to v{broker_max} only",
                            self.address
                        );
                    }
                    version = next;
                }
                code => bail!(
                    "the broker at {} rejected ApiVersions: {}",
                    self.address,
                    error_text(code, None)
                ),
            }
        }
        bail!("the broker at {} kept rejecting ApiVersions", self.address)
    }

    /// Metadata for `topics` (all topics when `None`), asking the broker to auto-create absent
    /// topics when `allow_auto_create` (honoured from v4; older brokers decide alone).
    pub fn metadata(
        &mut self,
        topics: Option<&[String]>,
        allow_auto_create: bool,
    ) -> anyhow::Result<MetadataResponse> {
        let version = self.negotiated(METADATA_KEY)?;
        let topics = match topics {
            // v0 has no null: an empty list means all topics.
            None if version == 0 => Some(Vec::new()),
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(StrBytes::from_string(name.clone())),
                        ..Default::default()
                    })
                    .collect(),
            ),
        };
        let request = Request::Metadata(MetadataRequest {
            topics,
            allow_auto_topic_creation: allow_auto_create,
            ..Default::default()
        });
        match self.send_at(request, version)? {
            Response::Metadata(response) => Ok(response),
            other => bail!("unexpected {} response to Metadata", api_name(other.api_key())),
        }
    }
}

fn open(server: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addresses: Vec<SocketAddr> = server
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {server}: {error}"))?
        .collect();
    let mut last = format!("cannot resolve {server}: no addresses");
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => {
                let configured = stream
                    .set_read_timeout(Some(timeout))
                    .and_then(|()| stream.set_write_timeout(Some(timeout)))
                    .and_then(|()| stream.set_nodelay(true));
                match configured {
                    Ok(()) => return Ok(stream),
                    Err(error) => last = format!("cannot connect to {server}: {error}"),
                }
            }
            Err(error) => last = connect_error(server, &error, timeout),
        }
    }
    Err(last)
}

fn connect_error(server: &str, error: &io::Error, timeout: Duration) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => format!(
            "cannot connect to {server}: connection refused — is the broker running? start it \
             with `sluice broker`"
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("cannot connect to {server}: timed out after {} s", timeout.as_secs_f64())
        }
        _ => format!("cannot connect to {server}: {error}"),
    }
}

/// Splits and checks a `host:port[,host:port…]` list.
pub fn parse_bootstrap(bootstrap: &str) -> anyhow::Result<Vec<String>> {
    let servers: Vec<String> = bootstrap
        .split(',')
        .map(str::trim)
        .filter(|server| !server.is_empty())
        .map(str::to_string)
        .collect();
    if servers.is_empty() {
        bail!("--bootstrap-server is empty; give host:port, such as {DEFAULT_BOOTSTRAP_SERVER}");
    }
    for server in &servers {
        let valid = server
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            bail!(
                "invalid bootstrap server '{server}': give host:port, such as \
                 {DEFAULT_BOOTSTRAP_SERVER}"
            );
        }
    }
    Ok(servers)
}

/// An API's name, for messages.
pub fn api_name(key: i16) -> &'static str {
    api_info(key).map_or("unknown API", |info| info.name)
}

/// A topic's name in a Metadata response ("" when the broker sent null).
pub fn topic_name(topic: &MetadataResponseTopic) -> &str {
    topic.name.as_ref().map_or("", StrBytes::as_str)
}

/// Connections to a cluster: a bootstrap connection for metadata and admin requests, and one
/// connection per broker that leads a partition the tool reads or writes.
pub struct Cluster {
    bootstrap: Client,
    client_id: String,
    /// Broker id → `host:port`, from the last metadata.
    brokers: HashMap<i32, String>,
    nodes: HashMap<i32, Client>,
    caps: Vec<(i16, i16)>,
}

impl Cluster {
    /// Connects to `bootstrap` (see [`Client::connect`]).
    pub fn connect(bootstrap: &str, client_id: &str) -> anyhow::Result<Self> {
        Ok(Self {
            bootstrap: Client::connect(bootstrap, client_id)?,
            client_id: client_id.to_string(),
            brokers: HashMap::new(),
            nodes: HashMap::new(),
            caps: Vec::new(),
        })
    }

    /// [`Client::cap_version`] on every connection, present and future.
    pub fn cap_version(&mut self, key: i16, max: i16) {
        self.caps.push((key, max));
        self.bootstrap.cap_version(key, max);
        for client in self.nodes.values_mut() {
            client.cap_version(key, max);
        }
    }

    /// The bootstrap connection.
    pub fn bootstrap(&mut self) -> &mut Client {
        &mut self.bootstrap
    }

    /// Metadata from the bootstrap connection; remembers the brokers it lists.
    pub fn metadata(
        &mut self,
        topics: Option<&[String]>,
        allow_auto_create: bool,
    ) -> anyhow::Result<MetadataResponse> {
        let response = self.bootstrap.metadata(topics, allow_auto_create)?;
        let brokers: HashMap<i32, String> = response
            .brokers
            .iter()
            .map(|broker| (broker.node_id, join_host_port(broker.host.as_str(), broker.port)))
            .collect();
        // Drop connections to brokers that left or moved.
        self.nodes.retain(|id, client| brokers.get(id).is_some_and(|a| a == client.address()));
        self.brokers = brokers;
        Ok(response)
    }

    /// The connection to broker `node_id`. With a single-broker cluster this is the bootstrap
    /// connection, so a broker that advertises an address the tool cannot reach still works.
    pub fn node(&mut self, node_id: i32) -> anyhow::Result<&mut Client> {
        if self.brokers.len() <= 1 {
            return Ok(&mut self.bootstrap);
        }
        if !self.nodes.contains_key(&node_id) {
            let Some(address) = self.brokers.get(&node_id) else {
                bail!("broker {node_id} is not in the cluster metadata");
            };
            let mut client = Client::connect(address, &self.client_id)
                .with_context(|| format!("connecting to broker {node_id}"))?;
            for &(key, max) in &self.caps {
                client.cap_version(key, max);
            }
            self.nodes.insert(node_id, client);
        }
        Ok(self.nodes.get_mut(&node_id).expect("inserted above"))
    }

    /// Forgets the connection to broker `node_id` (after an IO error on it).
    pub fn forget(&mut self, node_id: i32) {
        self.nodes.remove(&node_id);
    }
}

fn join_host_port(host: &str, port: i32) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Kafka's name for error `code`, as in the protocol guide.
pub fn error_name(code: i16) -> &'static str {
    match code {
        -1 => "UNKNOWN_SERVER_ERROR",
        0 => "NONE",
        1 => "OFFSET_OUT_OF_RANGE",
        2 => "CORRUPT_MESSAGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        4 => "INVALID_FETCH_SIZE",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        9 => "REPLICA_NOT_AVAILABLE",
        10 => "MESSAGE_TOO_LARGE",
        11 => "STALE_CONTROLLER_EPOCH",
        12 => "OFFSET_METADATA_TOO_LARGE",
        13 => "NETWORK_EXCEPTION",
        14 => "COORDINATOR_LOAD_IN_PROGRESS",
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        17 => "INVALID_TOPIC_EXCEPTION",
        18 => "RECORD_LIST_TOO_LARGE",
        19 => "NOT_ENOUGH_REPLICAS",
        20 => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        21 => "INVALID_REQUIRED_ACKS",
        22 => "ILLEGAL_GENERATION",
        23 => "INCONSISTENT_GROUP_PROTOCOL",
        24 => "INVALID_GROUP_ID",
        25 => "UNKNOWN_MEMBER_ID",
        26 => "INVALID_SESSION_TIMEOUT",
        27 => "REBALANCE_IN_PROGRESS",
        28 => "INVALID_COMMIT_OFFSET_SIZE",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        30 => "GROUP_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        32 => "INVALID_TIMESTAMP",
        33 => "UNSUPPORTED_SASL_MECHANISM",
        34 => "ILLEGAL_SASL_STATE",
        35 => "UNSUPPORTED_VERSION",
        36 => "TOPIC_ALREADY_EXISTS",
        37 => "INVALID_PARTITIONS",
        38 => "INVALID_REPLICATION_FACTOR",
        39 => "INVALID_REPLICA_ASSIGNMENT",
        40 => "INVALID_CONFIG",
        41 => "NOT_CONTROLLER",
        42 => "INVALID_REQUEST",
        43 => "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        44 => "POLICY_VIOLATION",
        45 => "OUT_OF_ORDER_SEQUENCE_NUMBER",
        46 => "DUPLICATE_SEQUENCE_NUMBER",
        47 => "INVALID_PRODUCER_EPOCH",
        48 => "INVALID_TXN_STATE",
        49 => "INVALID_PRODUCER_ID_MAPPING",
        50 => "INVALID_TRANSACTION_TIMEOUT",
        51 => "CONCURRENT_TRANSACTIONS",
        52 => "TRANSACTION_COORDINATOR_FENCED",
        53 => "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        54 => "SECURITY_DISABLED",
        55 => "OPERATION_NOT_ATTEMPTED",
        56 => "KAFKA_STORAGE_ERROR",
        57 => "LOG_DIR_NOT_FOUND",
        58 => "SASL_AUTHENTICATION_FAILED",
        59 => "UNKNOWN_PRODUCER_ID",
        60 => "REASSIGNMENT_IN_PROGRESS",
        67 => "INVALID_PRINCIPAL_TYPE",
        68 => "NON_EMPTY_GROUP",
        69 => "GROUP_ID_NOT_FOUND",
        70 => "FETCH_SESSION_ID_NOT_FOUND",
        71 => "INVALID_FETCH_SESSION_EPOCH",
        72 => "LISTENER_NOT_FOUND",
        73 => "TOPIC_DELETION_DISABLED",
        74 => "FENCED_LEADER_EPOCH",
        75 => "UNKNOWN_LEADER_EPOCH",
        76 => "UNSUPPORTED_COMPRESSION_TYPE",
        77 => "STALE_BROKER_EPOCH",
        78 => "OFFSET_NOT_AVAILABLE",
        79 => "MEMBER_ID_REQUIRED",
        80 => "PREFERRED_LEADER_NOT_AVAILABLE",
        81 => "GROUP_MAX_SIZE_REACHED",
        82 => "FENCED_INSTANCE_ID",
        87 => "INVALID_RECORD",
        88 => "UNSTABLE_OFFSET_COMMIT",
        89 => "THROTTLING_QUOTA_EXCEEDED",
        90 => "PRODUCER_FENCED",
        91 => "RESOURCE_NOT_FOUND",
        92 => "DUPLICATE_RESOURCE",
        100 => "UNKNOWN_TOPIC_ID",
        _ => "UNKNOWN_ERROR_CODE",
    }
}

/// A short explanation of error `code`, for codes the tools commonly meet.
pub fn error_description(code: i16) -> Option<&'static str> {
    Some(match code {
        -1 => "The broker hit an unexpected error.",
        1 => "The offset is outside the range the partition holds.",
        2 => "A record batch failed its CRC check or is malformed.",
        3 => "The topic or partition does not exist.",
        5 => "The partition has no leader right now.",
        6 => "This broker does not lead the partition.",
        7 => "The request timed out.",
        10 => "The batch is larger than the broker or topic accepts.",
        14 => "The group coordinator is still loading its state.",
        15 => "The group coordinator is not available.",
        16 => "This broker is not the group's coordinator.",
        17 => "The topic name is not valid.",
        18 => "The request is larger than the broker accepts.",
        19 => "Fewer in-sync replicas than min.insync.replicas.",
        21 => "acks must be -1, 0 or 1.",
        22 => "The group generation is not the current one.",
        23 => "The member's protocols do not match those of the group.",
        24 => "The group id is not valid.",
        25 => "The coordinator does not know this member.",
        26 => "The session timeout is outside the broker's allowed range.",
        27 => "The group is rebalancing, so the member must rejoin.",
        35 => "The broker does not support this version of the request.",
        36 => "The topic already exists.",
        37 => "The partition count is not valid.",
        38 => "The replication factor is not valid.",
        39 => "The replica assignment is not valid.",
        40 => "A configuration name or value is not valid.",
        41 => "This broker is not the controller.",
        42 => "The request is malformed or not allowed.",
        44 => "The request breaks a broker policy.",
        56 => "The broker's log directory failed.",
        68 => "The group is not empty.",
        69 => "The group id does not exist.",
        73 => "Topic deletion is disabled on the broker.",
        76 => "The broker does not support this compression codec.",
        79 => "The member must rejoin with the member id the coordinator gave it.",
        81 => "The group has reached its maximum size.",
        82 => "Another member with the same group.instance.id fenced this one.",
        87 => "A record is not valid.",
        100 => "The topic id is not known.",
        _ => return None,
    })
}

/// `NAME: message`, with the broker's message when it sent one.
pub fn error_text(code: i16, message: Option<&str>) -> String {
    let name = error_name(code);
    match message.filter(|message| !message.is_empty()).or(error_description(code)) {
        Some(message) => format!("{name}: {message}"),
        None => format!("{name} (error code {code})"),
    }
}

/// Whether a produce or fetch error may go away by itself (retried after new metadata).
pub fn is_retriable(code: i16) -> bool {
    matches!(code, 3 | 5 | 6 | 7 | 9 | 13 | 14 | 15 | 16 | 19 | 20 | 56 | 74 | 75 | 78 | 89)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn bootstrap_lists_are_split_and_checked() {
        assert_eq!(
            parse_bootstrap("a:1, b:2,,").unwrap(),
            vec!["a:1".to_string(), "b:2".to_string()]
        );
        assert_eq!(parse_bootstrap("[::1]:9092").unwrap(), vec!["[::1]:9092".to_string()]);
        for bad in ["", "localhost", "host:", ":9092", "host:99999", "host:port"] {
            assert!(parse_bootstrap(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_refused_connection_says_how_to_start_the_broker() {
        // Bind then drop a listener: its port is (almost surely) closed right after.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let error = Client::connect(&format!("127.0.0.1:{port}"), "test").err().unwrap();
        let text = error.to_string();
        assert!(text.contains(&format!("cannot connect to 127.0.0.1:{port}")), "{text}");
        assert!(text.contains("connection refused"), "{text}");
        assert!(text.contains("sluice broker"), "{text}");
    }

    #[test]
    fn error_texts_name_the_error() {
        assert_eq!(error_name(36), "TOPIC_ALREADY_EXISTS");
        assert_eq!(
            error_text(36, Some("Topic 'x' already exists.")),
            "TOPIC_ALREADY_EXISTS: Topic 'x' already exists."
        );
        assert_eq!(
            error_text(3, None),
            "UNKNOWN_TOPIC_OR_PARTITION: The topic or partition does not exist."
        );
        assert_eq!(error_text(999, Some("")), "UNKNOWN_ERROR_CODE (error code 999)");
        assert!(is_retriable(6) && !is_retriable(36));
    }

    /// A broker on a local port that answers each request with `answer(request)`'s bytes.
    fn fake_broker(
        answer: impl Fn(&sluice_core::protocol::api::DecodedRequest) -> Vec<u8> + Send + 'static,
    ) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            loop {
                let mut prefix = [0u8; 4];
                if stream.read_exact(&mut prefix).is_err() {
                    return;
                }
                let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
                stream.read_exact(&mut body).unwrap();
                let request = sluice_core::protocol::api::decode_request(Bytes::from(body))
                    .unwrap_or_else(|error| panic!("{:?}", error.error));
                if stream.write_all(&answer(&request)).is_err() {
                    return;
                }
            }
        });
        address
    }

    fn respond(correlation_id: i32, version: i16, response: Response) -> Vec<u8> {
        let mut out = Vec::new();
        sluice_core::protocol::api::encode_response(correlation_id, version, &response, &mut out);
        out
    }

    fn versions(error_code: i16) -> Response {
        use sluice_core::protocol::api::api_versions::{ApiVersion, ApiVersionsResponse};
        let api = |api_key, min_version, max_version| ApiVersion {
            api_key,
            min_version,
            max_version,
            ..Default::default()
        };
        Response::ApiVersions(ApiVersionsResponse {
            error_code,
            api_keys: vec![api(18, 0, 3), api(3, 0, 20), api(1, 4, 17)],
            ..Default::default()
        })
    }

    #[test]
    fn versions_are_negotiated_and_an_old_api_versions_is_retried_lower() {
        use sluice_core::protocol::api::metadata::MetadataResponseBroker;
        let address = fake_broker(|request| {
            let header = &request.header;
            match &request.request {
                // Like a broker that knows ApiVersions up to v3: a v0 body with error 35.
                Request::ApiVersions(_) if header.api_version > 3 => {
                    respond(header.correlation_id, 0, versions(35))
                }
                Request::ApiVersions(_) => {
                    respond(header.correlation_id, header.api_version, versions(0))
                }
                Request::Metadata(metadata) => {
                    assert_eq!(header.api_version, 12);
                    assert_eq!(metadata.topics, None, "v1+ asks for all topics with null");
                    assert_eq!(header.client_id.as_ref().unwrap().as_str(), "tool");
                    let response = MetadataResponse {
                        brokers: vec![MetadataResponseBroker {
                            node_id: 7,
                            host: StrBytes::from_static("localhost"),
                            port: 9092,
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    respond(header.correlation_id, 12, Response::Metadata(response))
                }
                other => panic!("unexpected {other:?}"),
            }
        });
        let mut client = Client::connect(&address, "tool").unwrap();
        assert_eq!(client.version(18), Some(3));
        assert_eq!(client.version(3), Some(12), "capped by the codec's Metadata v12");
        assert_eq!(client.version(1), Some(16), "capped by the codec's Fetch v16");
        client.cap_version(1, 12);
        assert_eq!(client.version(1), Some(12));
        assert_eq!(client.version(0), None, "the broker does not list Produce");
        let metadata = client.metadata(None, false).unwrap();
        assert_eq!(metadata.brokers[0].node_id, 7);
        let error = client.send(Request::Produce(Default::default())).unwrap_err().to_string();
        assert!(error.contains("does not support Produce"), "{error}");
    }

    #[test]
    fn a_wrong_correlation_id_or_an_oversized_frame_is_an_error() {
        let address = fake_broker(|request| {
            let header = &request.header;
            match &request.request {
                Request::ApiVersions(_) => {
                    respond(header.correlation_id, header.api_version, versions(0))
                }
                Request::Metadata(_) if header.correlation_id == 1 => {
                    respond(99, 12, Response::Metadata(MetadataResponse::default()))
                }
                _ => (200u32 * 1024 * 1024).to_be_bytes().to_vec(),
            }
        });
        let mut client = Client::connect(&address, "tool").unwrap();
        let error = client.metadata(None, false).unwrap_err().to_string();
        assert!(error.contains("correlation id 99"), "{error}");
        let error = client.metadata(None, false).unwrap_err().to_string();
        assert!(error.contains("the limit is 104857600 bytes"), "{error}");
    }

    #[test]
    fn a_silent_broker_times_out() {
        let address = fake_broker(|_| Vec::new());
        let error = Client::connect_with_timeout(&address, "tool", Duration::from_millis(200))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("timed out after 0.2 s"), "{error}");
        assert!(error.contains("ApiVersions"), "{error}");
    }

    #[test]
    fn ipv6_brokers_are_bracketed() {
        assert_eq!(join_host_port("::1", 9092), "[::1]:9092");
        assert_eq!(join_host_port("host", 9092), "host:9092");
    }
}

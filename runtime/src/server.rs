//! The broker's IO: a TCP listener, one task per connection that frames bytes in and out, and
//! one task that owns the core [`Node`] and carries out what it asks — send a frame, close a
//! connection, fsync files (on the blocking pool), fire its timer. Every decision is the
//! node's; this file only moves bytes.
//!
//! Shutdown (SIGINT/SIGTERM or the `shutdown` future): stop accepting and reading, let the
//! in-flight syncs finish and their answers go out, then `Node::close` answers parked fetches,
//! syncs every log and writes the checkpoints and the clean-shutdown marker; the writers get
//! up to SHUTDOWN_WRITE_WAIT to deliver what is queued.

use crate::storage::FileStorage;
use anyhow::Context;
use bytes::{Buf, Bytes, BytesMut};
use sluice_core::config::BrokerConfig;
use sluice_core::limits::{CONNECTIONS_MAX, OPEN_FILES_MAX};
use sluice_core::node::{ConnectionId, Frame, Input, LogLevel, Node, Output};
use sluice_core::protocol::wire::frame_length;
use sluice_core::storage::{StorageError, StorageErrorKind};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where connections come from: tokio's TCP listener in production, a simulated network's
/// listener in tests (turmoil), so the same server code runs on both.
pub trait Listener: Send + 'static {
    /// A connected stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Waits for the next connection; returns it and the peer's address for logs.
    fn accept(&mut self) -> impl Future<Output = std::io::Result<(Self::Stream, String)>> + Send;
    /// The address bound, for the "listening" line.
    fn local_address(&self) -> std::io::Result<String>;
}

impl Listener for TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<(Self::Stream, String)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, peer.to_string()))
    }

    fn local_address(&self) -> std::io::Result<String> {
        self.local_addr().map(|address| address.to_string())
    }
}

/// Requests queued from all connections to the node task; a full queue slows readers down.
const NODE_QUEUE_MAX: usize = 1024;
/// Requests and answers one connection may have outstanding (on their way to the node, held
/// by it, or waiting for the writer) before that connection is muted.
const WRITE_QUEUE_MAX: usize = 256;
/// Response bytes queued for one connection's writer before that connection is muted.
const WRITE_QUEUE_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Fetch requests one connection may have outstanding (passed on and not yet answered and
/// written) before it is muted. A Fetch answer can be as large as `READ_BYTES_MAX`, and the
/// byte bound above only trips once answers exist: so, as Kafka keeps one request of a
/// connection in process, a connection gets its next request read only once its Fetch is
/// answered. Kafka's clients keep one Fetch in flight per connection anyway.
const FETCHES_OUTSTANDING_MAX: usize = 1;
/// The API key of Fetch, the first two bytes of its request body.
const FETCH_API_KEY: [u8; 2] = 1i16.to_be_bytes();
/// Blocking tasks one group commit's fsyncs are spread over.
const SYNC_TASKS_MAX: usize = 16;
/// Frames gathered into one vectored write.
const WRITE_BATCH_FRAMES_MAX: usize = 64;
/// iovecs per write call (Linux accepts 1024).
const WRITE_PARTS_MAX: usize = 256;
/// How long a clean shutdown waits for the connections' writers to deliver their last answers.
const SHUTDOWN_WRITE_WAIT: Duration = Duration::from_secs(5);
/// Bytes asked of the socket per read: several pipelined requests arrive in one syscall.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// How long one write may make no progress before the connection is given up: a client that
/// stops reading its answers is closed then, as Kafka closes a connection idle for
/// `connections.max.idle.ms` (10 minutes by default). Until then it holds up only itself.
const WRITE_STALL_MAX: Duration = Duration::from_secs(600);

/// What a connection's reader enforces: the largest frame (`socket.request.max.bytes`) and
/// how long it may stay idle (`connections.max.idle.ms`; `None`: forever).
#[derive(Clone, Copy, Debug)]
struct ReadLimits {
    max_frame: usize,
    idle: Option<Duration>,
}

enum Event {
    Accepted { connection: ConnectionId, writer: Writer, reader: JoinHandle<()> },
    Request { connection: ConnectionId, body: Bytes },
    Closed { connection: ConnectionId, reason: String },
    Synced { id: u64, result: Result<(), StorageError> },
}

/// What the server takes from its surroundings. [`Environment::real`] in production; a
/// simulation (turmoil) pins each input so the same seed gives the same run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Environment {
    /// The node's seed (member-id nonces, jitter).
    pub seed: u64,
    /// Wall time at start, advanced by tokio's clock (virtual under turmoil); `None` reads
    /// the system clock.
    pub wall_start_ms: Option<i64>,
    /// fsync on the serving thread instead of the blocking pool. The pool's threads finish
    /// in an order no simulation controls; inline syncs keep a simulated run deterministic.
    pub inline_sync: bool,
    /// The process's open-file limit, which log files and connections share
    /// ([`descriptor_budget`]); `None` when unlimited or unknown.
    pub open_files_limit: Option<u64>,
}

impl Environment {
    /// The system clock, a seed from it and the process id, fsync on the blocking pool.
    pub fn real() -> Self {
        let seed = system_wall_ms() as u64 ^ u64::from(std::process::id());
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        let open_files_limit = limit.current;
        Self { seed, wall_start_ms: None, inline_sync: false, open_files_limit }
    }

    /// A simulated environment: everything from `seed`, clocks from tokio's.
    pub fn simulated(seed: u64) -> Self {
        Self {
            seed,
            wall_start_ms: Some(1_700_000_000_000),
            inline_sync: true,
            open_files_limit: None,
        }
    }
}

fn system_wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

struct Clock {
    start: Instant,
    wall_start_ms: Option<i64>,
}

impl Clock {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn wall_ms(&self) -> i64 {
        match self.wall_start_ms {
            Some(start) => start + self.now() as i64,
            None => system_wall_ms(),
        }
    }
}

/// Binds the configured listener and runs the broker until `shutdown` completes.
pub async fn run(config: BrokerConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    raise_open_files_limit();
    let address = format!("{}:{}", config.listener_host, config.listener_port);
    let listener =
        TcpListener::bind(&address).await.with_context(|| format!("cannot listen on {address}"))?;
    serve(listener, config, shutdown).await
}

/// Runs the broker on `listener` until `shutdown` completes, then shuts down cleanly.
pub async fn serve<L: Listener>(
    listener: L,
    config: BrokerConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    serve_in(listener, config, shutdown, Environment::real()).await
}

/// [`serve`] with its clock, seed and fsync placement taken from `environment`.
pub async fn serve_in<L: Listener>(
    listener: L,
    config: BrokerConfig,
    shutdown: impl Future<Output = ()>,
    environment: Environment,
) -> anyhow::Result<()> {
    let mut config = config;
    let bound = listener.local_address()?;
    if config.advertised_port == 0 {
        // `listeners=…:0` binds any free port: clients must be told the one we got, in
        // Metadata and FindCoordinator alike.
        config.advertised_port = bound
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .with_context(|| format!("cannot read the bound port of {bound}"))?;
    }
    let data_dir = PathBuf::from(&config.log_dir);
    let (files_max, connections_max) =
        descriptor_budget(environment.open_files_limit, config.max_connections);
    let storage = FileStorage::with_handles_max(&data_dir, files_max)
        .with_context(|| format!("cannot use the data directory {}", data_dir.display()))?;
    let clock = Clock { start: Instant::now(), wall_start_ms: environment.wall_start_ms };
    let inline_sync = environment.inline_sync;
    let (mut node, report) =
        Node::open(config.clone(), storage, environment.seed, clock.now(), clock.wall_ms())
            .map_err(|(error, _)| anyhow::anyhow!("cannot open {}: {error}", data_dir.display()))?;
    if !report.clean_shutdown && report.topics > 0 {
        tracing::warn!(
            "previous stop was not clean: recovered {} partition(s) by CRC scan",
            report.truncated.len()
        );
    }
    for (partition, reason) in &report.truncated {
        tracing::warn!("{partition}: recovery truncated the log: {reason}");
    }
    let connections_wanted = connections_max_wanted(config.max_connections);
    if let Some(limit) = environment.open_files_limit {
        if files_max < OPEN_FILES_MAX || connections_max < connections_wanted {
            tracing::warn!(
                "the open-file limit is {limit}: the broker keeps at most {files_max} log files \
                 open and serves at most {connections_max} connections at once (more wait to \
                 be accepted). Raise it to {OPEN_FILES_WANTED} or more (ulimit -n, or \
                 LimitNOFILE= in a systemd unit)"
            );
        }
    }
    println!(
        "sluice broker {} listening on {bound} (data in {}, {} topic(s))",
        config.node_id,
        data_dir.display(),
        report.topics
    );
    let (events, mut inbox) = mpsc::channel::<Event>(NODE_QUEUE_MAX);
    let limits = ReadLimits {
        max_frame: config.socket_request_max_bytes.max(0) as usize,
        idle: u64::try_from(config.connections_max_idle_ms).ok().map(Duration::from_millis),
    };
    let slots = Arc::new(Semaphore::new(connections_max));
    let acceptor = tokio::spawn(accept_loop(listener, events.clone(), limits, slots));
    let mut writers: BTreeMap<ConnectionId, (Writer, JoinHandle<()>)> = BTreeMap::new();
    let mut touched: Vec<ConnectionId> = Vec::new();
    let root = data_dir.clone();
    tokio::pin!(shutdown);
    // Which of a due timer and a waiting event goes first flips after each timer, so that
    // neither starves the other: a compaction pass asks for its next step at once
    // (`log.cleaner.step.bytes`), and requests are answered between its steps.
    let mut timer_first = true;
    loop {
        let deadline = node.poll_timeout().map(|at| clock.start + Duration::from_millis(at));
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // `biased`: branches are polled in this order, not a random one, so a simulated run
        // does not depend on tokio's RNG (turmoil seeds that too under --cfg tokio_unstable).
        let woken = if timer_first {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = sleep => Woken::Timer,
                event = inbox.recv() => Woken::Event(event),
            }
        } else {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                event = inbox.recv() => Woken::Event(event),
                _ = sleep => Woken::Timer,
            }
        };
        timer_first = !matches!(woken, Woken::Timer);
        let input = match woken {
            Woken::Timer => Some(Input::Timer),
            Woken::Event(None) => break,
            Woken::Event(Some(event)) => event_input(event, &mut writers, &mut touched),
        };
        if let Some(input) = input {
            node.handle(clock.now(), clock.wall_ms(), input);
        }
        drain(&mut node, &mut writers, &events, &root, Some(&clock), inline_sync, &mut touched)
            .await;
        // What the node now holds of each connection it received from or answered.
        for connection in touched.drain(..) {
            if let Some((writer, _)) = writers.get(&connection) {
                writer.backlog.held_by_node(node.requests_held(connection));
            }
        }
    }
    tracing::info!("shutting down: no new connections or requests; finishing in-flight work");
    acceptor.abort();
    // Readers stop; writers stay, so that what the node still answers reaches its clients.
    for (_, reader) in writers.values() {
        reader.abort();
    }
    finish_in_flight(&mut node, &mut inbox, &events, &clock, &root, inline_sync, &mut writers)
        .await;
    let closed = node.close().map_err(|error| anyhow::anyhow!("clean shutdown failed: {error}"));
    // Close answers parked fetches; those answers, then the end of every connection.
    drain(&mut node, &mut writers, &events, &root, None, false, &mut Vec::new()).await;
    let tasks: Vec<JoinHandle<()>> =
        std::mem::take(&mut writers).into_values().map(|(writer, _)| writer.task).collect();
    let delivered = tokio::time::timeout(SHUTDOWN_WRITE_WAIT, async {
        for task in tasks {
            let _ = task.await;
        }
    });
    if delivered.await.is_err() {
        tracing::warn!(
            "some clients did not read their last answers within {SHUTDOWN_WRITE_WAIT:?}"
        );
    }
    closed?;
    tracing::info!("stopped cleanly; the next start needs no recovery");
    Ok(())
}

/// What woke the node's loop.
enum Woken {
    Timer,
    /// An event, or `None` once every sender is gone.
    Event(Option<Event>),
}

/// The node input an event brings, if any, keeping the connection tables up to date.
fn event_input(
    event: Event,
    writers: &mut BTreeMap<ConnectionId, (Writer, JoinHandle<()>)>,
    touched: &mut Vec<ConnectionId>,
) -> Option<Input> {
    match event {
        Event::Accepted { connection, writer, reader } => {
            writers.insert(connection, (writer, reader));
            None
        }
        Event::Request { connection, body } => {
            if let Some((writer, _)) = writers.get(&connection) {
                writer.backlog.taken();
            }
            touched.push(connection);
            Some(Input::Request { connection, body })
        }
        Event::Closed { connection, reason } => {
            tracing::debug!("connection {} closed: {reason}", connection.0);
            writers.remove(&connection);
            Some(Input::Closed { connection })
        }
        Event::Synced { id, result } => Some(Input::Synced { id, result }),
    }
}

/// Feeds sync completions until the node has nothing in flight.
async fn finish_in_flight(
    node: &mut Node<FileStorage>,
    inbox: &mut mpsc::Receiver<Event>,
    events: &mpsc::Sender<Event>,
    clock: &Clock,
    root: &std::path::Path,
    inline_sync: bool,
    writers: &mut BTreeMap<ConnectionId, (Writer, JoinHandle<()>)>,
) {
    while node.is_busy() {
        let Some(event) = inbox.recv().await else { break };
        if let Event::Synced { id, result } = event {
            node.handle(clock.now(), clock.wall_ms(), Input::Synced { id, result });
        }
        drain(node, writers, events, root, Some(clock), inline_sync, &mut Vec::new()).await;
    }
}

/// Carries out every output the node has queued. With `clock` (while the node runs), a
/// connection whose writer is gone is reported closed to the node, and with `inline_sync`
/// too, syncs run inline.
async fn drain(
    node: &mut Node<FileStorage>,
    writers: &mut BTreeMap<ConnectionId, (Writer, JoinHandle<()>)>,
    events: &mpsc::Sender<Event>,
    root: &std::path::Path,
    clock: Option<&Clock>,
    inline_sync: bool,
    touched: &mut Vec<ConnectionId>,
) {
    let inline_sync = clock.filter(|_| inline_sync);
    while let Some(output) = node.poll_output() {
        match output {
            Output::Send { connection, frame } => {
                // Never waits: a client that stops reading holds up only its own connection,
                // whose reader stops taking requests once its backlog is full.
                if let Some((writer, _)) = writers.get(&connection) {
                    writer.backlog.add(&frame);
                    if writer.frames.send(frame).is_err() {
                        // The socket failed. Its reader, aborted here, would have reported
                        // the close; without that the node would keep the connection's state
                        // (and its place under CONNECTIONS_MAX) for good.
                        if let Some((_, reader)) = writers.remove(&connection) {
                            reader.abort();
                        }
                        if let Some(clock) = clock {
                            node.handle(clock.now(), clock.wall_ms(), Input::Closed { connection });
                        }
                    }
                }
                if touched.last() != Some(&connection) {
                    touched.push(connection);
                }
            }
            Output::Close { connection, reason } => {
                tracing::warn!("closing connection {}: {reason}", connection.0);
                if let Some((_, reader)) = writers.remove(&connection) {
                    reader.abort();
                }
            }
            Output::Sync { id, files } if inline_sync.is_some() => {
                // Straight back into the node (never through `events`: this task drains
                // that queue, so waiting on it here could wait forever).
                let clock = inline_sync.expect("checked");
                let result = sync_files(root, &files);
                node.handle(clock.now(), clock.wall_ms(), Input::Synced { id, result });
            }
            Output::Sync { id, files } => {
                // The files of one group commit sync in parallel, so eight partitions cost
                // about one fsync of wall time, not eight; at most SYNC_TASKS_MAX blocking
                // tasks share them, so a thousand dirty partitions do not mean a thousand
                // threads.
                let root = root.to_path_buf();
                let events = events.clone();
                tokio::spawn(async move {
                    let tasks: Vec<_> = split_evenly(files, SYNC_TASKS_MAX)
                        .into_iter()
                        .map(|group| {
                            let root = root.clone();
                            tokio::task::spawn_blocking(move || sync_files(&root, &group))
                        })
                        .collect();
                    let mut result = Ok(());
                    for task in tasks {
                        let outcome = task.await.unwrap_or_else(|error| {
                            Err(StorageError::new(StorageErrorKind::Io, "", error.to_string()))
                        });
                        if result.is_ok() {
                            result = outcome;
                        }
                    }
                    let _ = events.send(Event::Synced { id, result }).await;
                });
            }
            Output::Log { level, message } => match level {
                LogLevel::Debug => tracing::debug!("{message}"),
                LogLevel::Info => tracing::info!("{message}"),
                LogLevel::Warn => tracing::warn!("{message}"),
                LogLevel::Error => tracing::error!("{message}"),
            },
        }
    }
}

/// `items` in at most `groups` non-empty groups of nearly equal size, in order.
fn split_evenly<T>(items: Vec<T>, groups: usize) -> Vec<Vec<T>> {
    let groups = groups.clamp(1, items.len().max(1));
    let (size, extra) = (items.len() / groups, items.len() % groups);
    let mut items = items.into_iter();
    (0..groups)
        .map(|group| items.by_ref().take(size + usize::from(group < extra)).collect())
        .filter(|group: &Vec<T>| !group.is_empty())
        .collect()
}

/// Tries to open a file for a sync: descriptors that run out (EMFILE, ENFILE) are waited for,
/// up to about a second. Failing to open leaves nothing unsynced lost, so the shortage must not
/// be reported as a failed fsync, which takes the log offline for good.
fn open_for_sync(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut waits = 0;
    loop {
        match std::fs::File::open(path) {
            Err(error) if crate::storage::is_out_of_descriptors(&error) && waits < 100 => {
                waits += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// fdatasync each file; one removed in the meantime needs no sync.
fn sync_files(root: &std::path::Path, files: &[String]) -> Result<(), StorageError> {
    for file in files {
        match open_for_sync(&root.join(file)) {
            Ok(handle) => handle.sync_data().map_err(|error| {
                StorageError::new(StorageErrorKind::Io, file, error.to_string())
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(StorageError::new(StorageErrorKind::Io, file, error.to_string()))
            }
        }
    }
    Ok(())
}

/// Accepts connections while fewer than `slots` allows are open; past that, new ones wait
/// in the listen backlog until one closes, as Kafka's `max.connections` makes them wait. A
/// connection holds its slot until both its reader and its writer have ended (each holds a
/// half of the socket; a writer that gives up on a stalled client ends its reader too).
async fn accept_loop<L: Listener>(
    mut listener: L,
    events: mpsc::Sender<Event>,
    limits: ReadLimits,
    slots: Arc<Semaphore>,
) {
    let mut next = 1u64;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let connection = ConnectionId(next);
        next += 1;
        tracing::debug!("connection {} from {peer}", connection.0);
        let (read_half, write_half) = tokio::io::split(stream);
        let (sender, frames) = mpsc::unbounded_channel();
        let backlog = Arc::new(Backlog::default());
        // Reader and writer share the slot: the socket (both halves) is open until both end.
        let slot = Arc::new(slot);
        let writer_slot = slot.clone();
        let task =
            tokio::spawn(write_loop_holding(writer_slot, write_half, frames, backlog.clone()));
        // The reader starts only once the node's loop has the connection: its first request
        // must not overtake `Accepted`, or its answer finds no writer and is lost. (A send
        // with room in the queue can still yield, when the task has used its scheduling
        // budget, and let the reader's send go first.)
        let (start, started) = tokio::sync::oneshot::channel::<()>();
        let reader =
            read_loop(read_half, connection, events.clone(), limits, backlog.clone(), started);
        let reader = tokio::spawn(async move {
            reader.await;
            drop(slot);
        });
        let writer = Writer { frames: sender, backlog, task };
        if events.send(Event::Accepted { connection, writer, reader }).await.is_err() {
            return;
        }
        let _ = start.send(());
    }
}

/// The node's side of a connection's writer.
struct Writer {
    frames: mpsc::UnboundedSender<Frame>,
    backlog: Arc<Backlog>,
    /// The write loop: it ends once every queued frame is written and the sender is gone.
    task: JoinHandle<()>,
}

/// What one connection has outstanding: requests on their way to the node, requests the node
/// holds, and answers handed to the writer and not yet written. The node hands answers over
/// without waiting; the connection's reader stops reading requests while the backlog is full,
/// as Kafka mutes a channel, so a client that stops reading its answers stalls only itself.
/// Every request counts from the moment the reader passes it on until its answer is written,
/// so a connection has about WRITE_QUEUE_MAX requests and answers outstanding; their bytes
/// are what those requests ask for (a Fetch's max bytes), and WRITE_QUEUE_BYTES_MAX of
/// unwritten answers also mutes it.
#[derive(Default)]
struct Backlog {
    frames: AtomicUsize,
    bytes: AtomicUsize,
    /// Passed on by the reader, not yet taken by the node task.
    sent: AtomicUsize,
    /// Held by the node (set by the node task after each turn that touched the connection).
    held: AtomicUsize,
    /// Fetch requests passed on whose answers are not yet written.
    fetches: AtomicUsize,
    /// The writer has stopped: nothing will drain, so nothing waits.
    closed: AtomicBool,
    drained: Notify,
    /// The writer gave up on the client (a write failed or stalled for WRITE_STALL_MAX).
    failed: AtomicBool,
    /// Wakes the reader once the writer has given up.
    gone: Notify,
}

impl Backlog {
    fn add(&self, frame: &Frame) {
        self.frames.fetch_add(1, Ordering::AcqRel);
        self.bytes.fetch_add(frame.len(), Ordering::AcqRel);
    }

    /// The reader passed a request on.
    fn sent(&self, body: &[u8]) {
        self.sent.fetch_add(1, Ordering::AcqRel);
        if body.starts_with(&FETCH_API_KEY) {
            self.fetches.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The node task took a request off the queue. It wakes the reader: a request the node
    /// does not answer (Produce with acks=0) is never held, so this is the only moment its
    /// room comes back.
    fn taken(&self) {
        self.sent.fetch_sub(1, Ordering::AcqRel);
        self.drained.notify_one();
    }

    /// The node holds `requests` of this connection.
    fn held_by_node(&self, requests: usize) {
        if self.held.swap(requests, Ordering::AcqRel) > requests {
            self.drained.notify_one();
        }
    }

    fn written(&self, frames: &[Frame]) {
        let bytes = frames.iter().map(Frame::len).sum();
        let fetches = frames.iter().filter(|frame| frame.answers_fetch()).count();
        self.frames.fetch_sub(frames.len(), Ordering::AcqRel);
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.fetches.fetch_sub(fetches, Ordering::AcqRel);
        // One waiter at most (the reader); a permit stored before it waits wakes it at once.
        self.drained.notify_one();
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.drained.notify_one();
    }

    /// The writer gave up on the client: nothing more can be answered.
    fn fail(&self) {
        self.failed.store(true, Ordering::Release);
        self.close();
        self.gone.notify_waiters();
    }

    /// Waits until the writer has given up (a `Notified` made before the check sees a
    /// `notify_waiters` after it).
    async fn writer_failed(&self) {
        loop {
            let notified = self.gone.notified();
            if self.failed.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Nothing outstanding: no request on its way to or held by the node, no answer unwritten.
    fn is_quiet(&self) -> bool {
        self.frames.load(Ordering::Acquire)
            + self.sent.load(Ordering::Acquire)
            + self.held.load(Ordering::Acquire)
            == 0
    }

    fn is_full(&self) -> bool {
        let outstanding = self.frames.load(Ordering::Acquire)
            + self.sent.load(Ordering::Acquire)
            + self.held.load(Ordering::Acquire);
        outstanding >= WRITE_QUEUE_MAX
            || self.bytes.load(Ordering::Acquire) >= WRITE_QUEUE_BYTES_MAX
            || self.fetches.load(Ordering::Acquire) >= FETCHES_OUTSTANDING_MAX
    }

    /// Waits until the writer has room again (or has stopped).
    async fn room(&self) {
        while self.is_full() && !self.closed.load(Ordering::Acquire) {
            self.drained.notified().await;
        }
    }
}

/// [`write_loop`], holding (its share of) the connection's slot under `max.connections`
/// until it ends.
async fn write_loop_holding<S: AsyncWrite>(
    slot: Arc<OwnedSemaphorePermit>,
    socket: WriteHalf<S>,
    frames: mpsc::UnboundedReceiver<Frame>,
    backlog: Arc<Backlog>,
) {
    write_loop(socket, frames, backlog).await;
    drop(slot);
}

async fn write_loop<S: AsyncWrite>(
    socket: WriteHalf<S>,
    frames: mpsc::UnboundedReceiver<Frame>,
    backlog: Arc<Backlog>,
) {
    if write_all_frames(socket, frames, &backlog).await {
        backlog.close();
    } else {
        backlog.fail();
    }
}

/// Whether every frame was written (the node dropped its sender): `false` when the client
/// could not be written to.
async fn write_all_frames<S: AsyncWrite>(
    mut socket: WriteHalf<S>,
    mut frames: mpsc::UnboundedReceiver<Frame>,
    backlog: &Backlog,
) -> bool {
    let mut batch: Vec<Frame> = Vec::new();
    while let Some(frame) = frames.recv().await {
        // Whatever else is already queued goes out in the same vectored write: one syscall
        // for a run of small produce answers, and a Fetch answer's records are written from
        // the bytes read from the log, never copied into the frame.
        batch.push(frame);
        while batch.len() < WRITE_BATCH_FRAMES_MAX {
            match frames.try_recv() {
                Ok(frame) => batch.push(frame),
                Err(_) => break,
            }
        }
        if write_frames(&mut socket, &batch).await.is_err() {
            return false;
        }
        backlog.written(&batch);
        batch.clear();
    }
    let _ = socket.shutdown().await;
    true
}

/// Writes every part of `frames`, in order, with as few vectored writes as the socket takes.
async fn write_frames<S: AsyncWrite>(
    socket: &mut WriteHalf<S>,
    frames: &[Frame],
) -> std::io::Result<()> {
    let mut parts: Vec<Bytes> = frames.iter().flat_map(Frame::parts).cloned().collect();
    let mut first = 0;
    while first < parts.len() {
        let slices: Vec<std::io::IoSlice<'_>> = parts[first..]
            .iter()
            .take(WRITE_PARTS_MAX)
            .map(|part| std::io::IoSlice::new(part))
            .collect();
        let write = tokio::time::timeout(WRITE_STALL_MAX, socket.write_vectored(&slices));
        let mut written = write.await.map_err(|_| std::io::ErrorKind::TimedOut)??;
        drop(slices);
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let part = &mut parts[first];
            if written >= part.len() {
                written -= part.len();
                first += 1;
            } else {
                part.advance(written);
                written = 0;
            }
        }
    }
    tokio::time::timeout(WRITE_STALL_MAX, socket.flush())
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)?
}

async fn read_loop<S: AsyncRead>(
    mut socket: ReadHalf<S>,
    connection: ConnectionId,
    events: mpsc::Sender<Event>,
    limits: ReadLimits,
    backlog: Arc<Backlog>,
    started: tokio::sync::oneshot::Receiver<()>,
) {
    if started.await.is_err() {
        return; // the acceptor stopped before handing the connection over
    }
    // Once the writer has given up (a write failed, or the client read nothing of its answers
    // for WRITE_STALL_MAX) the reader stops too, so the socket closes and its slot frees even
    // while the client sends nothing. (After the node closes a connection the writer ends
    // with a FIN and the reader waits for the client's close, so that the client reads the
    // last answers rather than a reset.)
    let reason = tokio::select! {
        read = read_frames(&mut socket, connection, &events, limits, &backlog) => match read {
            Ok(()) => "peer closed".to_string(),
            Err(reason) => reason,
        },
        () = backlog.writer_failed() => "the client could not be written to".to_string(),
    };
    let _ = events.send(Event::Closed { connection, reason }).await;
}

async fn read_frames<S: AsyncRead>(
    socket: &mut ReadHalf<S>,
    connection: ConnectionId,
    events: &mpsc::Sender<Event>,
    limits: ReadLimits,
    backlog: &Backlog,
) -> Result<(), String> {
    let max_frame = limits.max_frame;
    // Reads fill this buffer as far as the socket has bytes, and whole frames are split off
    // it; its space is reused once the node has dropped the earlier requests.
    let mut buffer = BytesMut::new();
    loop {
        // Muted while this connection's answers wait to be written: no request goes to the
        // node (here and before each buffered one below), and nothing more is read, until the
        // client reads what it was sent.
        backlog.room().await;
        // Every whole frame already buffered goes to the node.
        while let Some(length) = frame_length(&buffer, max_frame).map_err(|error| {
            // The length is checked before a single body byte is asked for.
            tracing::warn!("connection {}: refusing frame: {error}", connection.0);
            format!("bad frame: {error}")
        })? {
            backlog.room().await;
            if buffer.len() < 4 + length && length > READ_CHUNK_BYTES {
                // A large frame gets a buffer of its own: the shared one stays small, and
                // nothing else keeps a big block alive. It grows with the bytes that arrive
                // (`body_read_size`), not to the announced length at once: a client that
                // sends only a length prefix holds about what it sent, not 100 MiB.
                let _ = buffer.split_to(4);
                let mut body = BytesMut::new();
                body.extend_from_slice(&buffer.split());
                while body.len() < length {
                    let want = body_read_size(body.len(), length);
                    body.reserve(want);
                    let read = (&mut *socket).take(want as u64).read_buf(&mut body).await;
                    let have = body.len();
                    match read {
                        Ok(0) => Err(format!(
                            "peer closed in the middle of a {length}-byte frame ({have} bytes read)"
                        ))?,
                        Ok(_) => {}
                        Err(error) => Err(error.to_string())?,
                    }
                }
                backlog.sent(&body);
                if events.send(Event::Request { connection, body: body.freeze() }).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            if buffer.len() < 4 + length {
                break;
            }
            let _ = buffer.split_to(4);
            let body = buffer.split_to(length).freeze();
            backlog.sent(&body);
            if events.send(Event::Request { connection, body }).await.is_err() {
                return Ok(());
            }
        }
        // Room for the rest of any frame left here: larger ones took the branch above.
        buffer.reserve(4 + READ_CHUNK_BYTES);
        let read = match limits.idle {
            None => socket.read_buf(&mut buffer).await,
            Some(idle) => {
                // As Kafka closes a connection idle for connections.max.idle.ms: nothing read
                // for that long, and nothing outstanding (no request held, such as a waiting
                // fetch, and no answer unwritten) when the wait ends and for the wait before,
                // if that one ended busy. (Reading is cancel-safe: a timeout loses no bytes.)
                let mut was_busy = false;
                loop {
                    match tokio::time::timeout(idle, socket.read_buf(&mut buffer)).await {
                        Ok(read) => break read,
                        Err(_) if backlog.is_quiet() && !was_busy => {
                            return Err(format!(
                                "idle for {} ms (connections.max.idle.ms)",
                                idle.as_millis()
                            ));
                        }
                        Err(_) => was_busy = !backlog.is_quiet(),
                    }
                }
            }
        };
        match read {
            Ok(0) if buffer.is_empty() => return Ok(()),
            Ok(0) => {
                return Err(format!(
                    "peer closed in the middle of a frame ({} bytes buffered)",
                    buffer.len()
                ))
            }
            Ok(_) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// Descriptors kept out of the budget: standard streams, the listener, the runtime's own,
/// the files of the syncs in flight, directory syncs and snapshot writes.
const DESCRIPTORS_RESERVED: u64 = 64 + SYNC_TASKS_MAX as u64;

/// Fewest log files the storage keeps open, however low the limit.
const OPEN_FILES_MIN: usize = 16;

/// Connections below which a low open-file limit is warned about.
const CONNECTIONS_WANTED: usize = 1000;

/// The open-file limit that gives the storage all [`OPEN_FILES_MAX`] handles and leaves
/// [`CONNECTIONS_WANTED`] connections or more.
const OPEN_FILES_WANTED: u64 = DESCRIPTORS_RESERVED + 4 * OPEN_FILES_MAX as u64;

/// How the open-file `limit` is shared, as (log files kept open, connections served at once),
/// so that sockets can never take the descriptors a log needs (a log whose file cannot be
/// opened would go offline): a quarter of what is left after [`DESCRIPTORS_RESERVED`] for log
/// files (within `OPEN_FILES_MIN..=OPEN_FILES_MAX`), the rest for connections, within
/// `max.connections` and [`CONNECTIONS_MAX`]. No limit: the bounds alone.
pub fn descriptor_budget(limit: Option<u64>, max_connections: i32) -> (usize, usize) {
    let connections_cap = usize::try_from(max_connections.max(0)).unwrap_or(0).min(CONNECTIONS_MAX);
    let Some(limit) = limit else { return (OPEN_FILES_MAX, connections_cap) };
    let usable = usize::try_from(limit.saturating_sub(DESCRIPTORS_RESERVED)).unwrap_or(usize::MAX);
    let files = (usable / 4).clamp(OPEN_FILES_MIN, OPEN_FILES_MAX);
    let connections = usable.saturating_sub(files).max(1).min(connections_cap);
    (files, connections)
}

/// The connections below which a budget is worth a warning.
fn connections_max_wanted(max_connections: i32) -> usize {
    usize::try_from(max_connections.max(0)).unwrap_or(0).min(CONNECTIONS_WANTED)
}

/// Raises the soft open-file limit to the hard one, as servers commonly do at start (the soft
/// default, often 1024, is a relic of `select`). Leaves it if the hard limit is unlimited.
fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let (Some(current), Some(maximum)) = (limit.current, limit.maximum) else { return };
    if current >= maximum {
        return;
    }
    match setrlimit(Resource::Nofile, Rlimit { current: Some(maximum), maximum: Some(maximum) }) {
        Ok(()) => tracing::debug!("raised the open-file limit from {current} to {maximum}"),
        Err(error) => tracing::debug!("cannot raise the open-file limit from {current}: {error}"),
    }
}

/// How many more bytes of a large frame to read into its buffer, which holds `have` of its
/// `length`: at most as many as it holds already (and at least a read chunk), so the buffer
/// is never much more than twice what the client sent.
fn body_read_size(have: usize, length: usize) -> usize {
    (length - have).min(have.max(READ_CHUNK_BYTES))
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read limits with this largest frame and no idle limit.
    fn limit(max_frame: usize) -> ReadLimits {
        ReadLimits { max_frame, idle: None }
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        frame
    }

    /// The server's read half and the client's write half of an in-memory connection (the
    /// other halves are not needed: a split stream closes only when both halves are gone).
    fn connection(
        capacity: usize,
    ) -> (ReadHalf<tokio::io::DuplexStream>, WriteHalf<tokio::io::DuplexStream>) {
        let (client, server) = tokio::io::duplex(capacity);
        (tokio::io::split(server).0, tokio::io::split(client).1)
    }

    fn bodies(inbox: &mut mpsc::Receiver<Event>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Ok(event) = inbox.try_recv() {
            if let Event::Request { body, .. } = event {
                out.push(body.to_vec());
            }
        }
        out
    }

    #[test]
    fn sync_groups_are_even_ordered_and_never_empty() {
        assert_eq!(split_evenly(vec![1, 2, 3], 16), vec![vec![1], vec![2], vec![3]]);
        assert_eq!(split_evenly((1..=5).collect(), 2), vec![vec![1, 2, 3], vec![4, 5]]);
        let many = split_evenly((0..1000).collect::<Vec<u32>>(), 16);
        assert_eq!(many.len(), 16);
        assert!(many.iter().all(|group| group.len() == 62 || group.len() == 63));
        assert_eq!(many.concat(), (0..1000).collect::<Vec<u32>>());
        assert!(split_evenly(Vec::<u32>::new(), 16).is_empty());
    }

    #[tokio::test]
    async fn frames_split_across_and_within_reads_arrive_whole_and_in_order() {
        let (mut read_half, mut client_write) = connection(1 << 20);
        let (events, mut inbox) = mpsc::channel(16);
        let reader = tokio::spawn(async move {
            read_frames(
                &mut read_half,
                ConnectionId(1),
                &events,
                limit(1 << 20),
                &Backlog::default(),
            )
            .await
        });
        // Two whole frames and the first half of a third in one write.
        let mut bytes = framed(b"one");
        bytes.extend(framed(b"two"));
        let third = framed(&[7u8; 100_000]);
        bytes.extend_from_slice(&third[..50]);
        client_write.write_all(&bytes).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(bodies(&mut inbox), vec![b"one".to_vec(), b"two".to_vec()]);
        client_write.write_all(&third[50..]).await.unwrap();
        client_write.shutdown().await.unwrap();
        assert_eq!(reader.await.unwrap(), Ok(()));
        assert_eq!(bodies(&mut inbox), vec![vec![7u8; 100_000]]);
    }

    #[tokio::test]
    async fn a_full_backlog_mutes_the_connection_until_it_drains() {
        let (mut read_half, mut client_write) = connection(1 << 20);
        let (events, mut inbox) = mpsc::channel(16);
        let backlog = Arc::new(Backlog::default());
        let answer = Frame::from(Bytes::from_static(b"answer"));
        for _ in 0..WRITE_QUEUE_MAX {
            backlog.add(&answer);
        }
        let muted = backlog.clone();
        let reader = tokio::spawn(async move {
            read_frames(&mut read_half, ConnectionId(1), &events, limit(1 << 20), &muted).await
        });
        client_write.write_all(&framed(b"one")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(bodies(&mut inbox).is_empty(), "no request reaches the node while muted");
        backlog.written(std::slice::from_ref(&answer));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(bodies(&mut inbox), vec![b"one".to_vec()], "room again: the request goes");
        // Requests count too, from when the reader passes them on: here the node task took
        // "one" and the node holds a full backlog's worth of this connection's requests.
        backlog.written(&vec![answer.clone(); WRITE_QUEUE_MAX - 1]);
        assert_eq!(backlog.sent.load(Ordering::Acquire), 1, "one was passed on");
        backlog.taken();
        backlog.held_by_node(WRITE_QUEUE_MAX);
        client_write.write_all(&framed(b"held")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(bodies(&mut inbox).is_empty(), "muted by what the node holds");
        backlog.held_by_node(0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(bodies(&mut inbox), vec![b"held".to_vec()]);
        // Requests on their way to the node count; the node task taking them frees their room
        // even if the node never holds them (Produce with acks=0 gets no answer).
        for _ in 1..WRITE_QUEUE_MAX {
            backlog.sent(b"\x00\x03 a Metadata request");
        }
        client_write.write_all(&framed(b"quiet")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(bodies(&mut inbox).is_empty(), "muted by requests on their way");
        for _ in 0..WRITE_QUEUE_MAX {
            backlog.taken();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(bodies(&mut inbox), vec![b"quiet".to_vec()], "taken: room again");
        backlog.taken();
        // Full by bytes alone this time; a stopped writer releases the reader (which then
        // sees EOF).
        assert_eq!(backlog.frames.load(Ordering::Acquire), 0);
        backlog.add(&Frame::from(Bytes::from(vec![0u8; WRITE_QUEUE_BYTES_MAX])));
        client_write.write_all(&framed(b"two")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(bodies(&mut inbox).is_empty(), "muted by bytes");
        backlog.close();
        client_write.shutdown().await.unwrap();
        assert_eq!(reader.await.unwrap(), Ok(()));
        assert_eq!(bodies(&mut inbox), vec![b"two".to_vec()]);
    }

    #[tokio::test]
    async fn a_fetch_mutes_its_connection_until_its_answer_is_written() {
        let (mut read_half, mut client_write) = connection(1 << 20);
        let (events, mut inbox) = mpsc::channel(16);
        let backlog = Arc::new(Backlog::default());
        let muted = backlog.clone();
        let reader = tokio::spawn(async move {
            read_frames(&mut read_half, ConnectionId(1), &events, limit(1 << 20), &muted).await
        });
        // Two Fetch requests (API key 1) and a Produce (key 0) in one write.
        let mut bytes = framed(b"\x00\x01 first fetch");
        bytes.extend(framed(b"\x00\x01 second fetch"));
        bytes.extend(framed(b"\x00\x00 produce"));
        client_write.write_all(&bytes).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(bodies(&mut inbox), vec![b"\x00\x01 first fetch".to_vec()]);
        // The node answers something else: still muted.
        backlog.taken();
        let other = Frame::from(Bytes::from_static(b"other answer"));
        backlog.add(&other);
        backlog.written(std::slice::from_ref(&other));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(bodies(&mut inbox).is_empty(), "muted while the fetch is unanswered");
        // Its answer is written: the next requests go, up to and including the next Fetch.
        let fetch_answer = Frame::from(Bytes::from_static(b"records")).answering_fetch();
        backlog.add(&fetch_answer);
        backlog.written(std::slice::from_ref(&fetch_answer));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(bodies(&mut inbox), vec![b"\x00\x01 second fetch".to_vec()]);
        backlog.taken();
        backlog.add(&fetch_answer);
        backlog.written(std::slice::from_ref(&fetch_answer));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(bodies(&mut inbox), vec![b"\x00\x00 produce".to_vec()]);
        client_write.shutdown().await.unwrap();
        assert_eq!(reader.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn an_oversized_length_is_refused_before_its_body_arrives() {
        let (mut read_half, mut client_write) = connection(1024);
        let (events, _inbox) = mpsc::channel(16);
        // Only the prefix is sent: the refusal must not wait for 2 MB that never come.
        client_write.write_all(&(2_000_000i32).to_be_bytes()).await.unwrap();
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            read_frames(
                &mut read_half,
                ConnectionId(1),
                &events,
                limit(1_000_000),
                &Backlog::default(),
            ),
        )
        .await
        .expect("refused without waiting");
        assert!(result.unwrap_err().starts_with("bad frame"));
    }

    #[test]
    fn a_large_frames_buffer_grows_with_what_arrives() {
        const MIB: usize = 1 << 20;
        let length = 100 * MIB;
        assert_eq!(body_read_size(0, length), READ_CHUNK_BYTES);
        assert_eq!(body_read_size(10, length), READ_CHUNK_BYTES);
        assert_eq!(body_read_size(MIB, length), MIB);
        assert_eq!(body_read_size(length - 5, length), 5);
        // From nothing to 100 MiB: 64 KiB, then doubling (to 64 MiB), then the last 36 MiB;
        // never more than twice what arrived, or a chunk.
        let mut have = 0;
        let mut reads = 0;
        while have < length {
            let want = body_read_size(have, length);
            assert!(have + want <= 2 * have.max(READ_CHUNK_BYTES));
            have += want;
            reads += 1;
        }
        assert_eq!((have, reads), (length, 12));
    }

    #[tokio::test]
    async fn a_length_prefix_alone_does_not_reserve_its_frame() {
        let (mut read_half, mut client_write) = connection(1024);
        let (events, _inbox) = mpsc::channel(16);
        let mut bytes = (10_000_000i32).to_be_bytes().to_vec();
        bytes.extend([1u8; 100]);
        client_write.write_all(&bytes).await.unwrap();
        client_write.shutdown().await.unwrap();
        let result = read_frames(
            &mut read_half,
            ConnectionId(1),
            &events,
            limit(1 << 30),
            &Backlog::default(),
        )
        .await;
        assert_eq!(
            result,
            Err("peer closed in the middle of a 10000000-byte frame (100 bytes read)".to_string())
        );
    }

    #[tokio::test]
    async fn a_connection_whose_writer_is_gone_is_closed_in_the_node() {
        use sluice_core::protocol::api::{encode_request, Request};
        use sluice_core::protocol::header::RequestHeader;
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::new(dir.path()).unwrap();
        let clock = Clock { start: Instant::now(), wall_start_ms: None };
        let (mut node, _) =
            Node::open(BrokerConfig::default(), storage, 1, 0, clock.wall_ms()).unwrap();
        // The writer's task has ended (its socket failed): sending to it fails.
        let (frames, gone) = mpsc::unbounded_channel();
        drop(gone);
        let task = tokio::spawn(async {});
        let writer = Writer { frames, backlog: Arc::new(Backlog::default()), task };
        let reader = tokio::spawn(std::future::pending::<()>());
        let mut writers = BTreeMap::new();
        writers.insert(ConnectionId(1), (writer, reader));
        let header = RequestHeader { api_key: 18, api_version: 3, ..Default::default() };
        let request = Request::ApiVersions(Default::default());
        let mut frame = BytesMut::new();
        encode_request(&header, &request, &mut frame);
        let body = frame.freeze().slice(4..);
        node.handle(
            clock.now(),
            clock.wall_ms(),
            Input::Request { connection: ConnectionId(1), body },
        );
        assert_eq!(node.stats().connections, 1);
        let (events, _inbox) = mpsc::channel(16);
        let root = dir.path().to_path_buf();
        drain(&mut node, &mut writers, &events, &root, Some(&clock), false, &mut Vec::new()).await;
        assert!(writers.is_empty());
        assert_eq!(node.stats().connections, 0, "the node forgot the connection");
    }

    #[test]
    fn log_files_and_connections_share_the_open_file_limit() {
        // (limit, max.connections) → (log files kept open, connections served at once).
        let max = i32::MAX;
        assert_eq!(descriptor_budget(None, max), (OPEN_FILES_MAX, CONNECTIONS_MAX));
        assert_eq!(descriptor_budget(None, 50), (OPEN_FILES_MAX, 50));
        // 80 reserved; a quarter of the rest for files, the rest for connections.
        assert_eq!(descriptor_budget(Some(1024), max), (236, 708));
        assert_eq!(descriptor_budget(Some(208), max), (32, 96));
        assert_eq!(descriptor_budget(Some(208), 40), (32, 40));
        assert_eq!(descriptor_budget(Some(1 << 20), max), (OPEN_FILES_MAX, CONNECTIONS_MAX));
        // Absurdly low limits keep the bounds' floor; max.connections=0 accepts none.
        assert_eq!(descriptor_budget(Some(10), max), (16, 1));
        assert_eq!(descriptor_budget(Some(1024), 0), (236, 0));
        assert_eq!(OPEN_FILES_WANTED, 4176);
        let (files, connections) = descriptor_budget(Some(OPEN_FILES_WANTED), max);
        assert!(files == OPEN_FILES_MAX && connections >= CONNECTIONS_WANTED);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_idle_for_connections_max_idle_ms_is_closed_unless_it_waits_on_us() {
        let idle = Duration::from_secs(10);
        let limits = ReadLimits { max_frame: 1 << 20, idle: Some(idle) };
        // Quiet: closed once a whole idle period passes without a byte.
        let (_client, server) = tokio::io::duplex(64);
        let (mut read_half, _write_half) = tokio::io::split(server);
        let (events, _inbox) = mpsc::channel(8);
        let quiet = Backlog::default();
        let started = Instant::now();
        let outcome = read_frames(&mut read_half, ConnectionId(1), &events, limits, &quiet).await;
        assert_eq!(outcome, Err("idle for 10000 ms (connections.max.idle.ms)".to_string()));
        assert_eq!(started.elapsed(), idle);
        // A request the node holds (a waiting fetch) keeps it open; once answered, it closes
        // after a further idle period with nothing outstanding.
        let (_client, server) = tokio::io::duplex(64);
        let (mut read_half, _write_half) = tokio::io::split(server);
        let held = Arc::new(Backlog::default());
        held.held_by_node(1);
        let answered = held.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(25)).await;
            answered.held_by_node(0);
        });
        let started = Instant::now();
        let outcome = read_frames(&mut read_half, ConnectionId(1), &events, limits, &held).await;
        assert!(outcome.is_err());
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(40),
            "busy at 10 and 20, quiet at 30 and 40"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_reads_is_given_up_after_the_stall_limit() {
        let (_client, server) = tokio::io::duplex(64);
        let (server_read, server_write) = tokio::io::split(server);
        let (frames, queued) = mpsc::unbounded_channel();
        let backlog = Arc::new(Backlog::default());
        let writer = tokio::spawn(write_loop(server_write, queued, backlog.clone()));
        // Its reader waits for requests that never come (the client sends nothing either).
        let (events, mut inbox) = mpsc::channel(8);
        let (start, started) = tokio::sync::oneshot::channel();
        let limits = ReadLimits { max_frame: 1024, idle: None };
        let reader = tokio::spawn(read_loop(
            server_read,
            ConnectionId(3),
            events,
            limits,
            backlog.clone(),
            started,
        ));
        start.send(()).unwrap();
        let answer = Frame::from(Bytes::from(vec![1u8; 1024]));
        backlog.add(&answer);
        frames.send(answer).unwrap();
        tokio::time::sleep(WRITE_STALL_MAX - Duration::from_secs(1)).await;
        assert!(!writer.is_finished(), "still waiting for the client to read");
        tokio::time::timeout(Duration::from_secs(2), writer)
            .await
            .expect("given up at the stall limit")
            .unwrap();
        assert!(backlog.closed.load(Ordering::Acquire), "its reader is released");
        // The reader stops too, so the socket closes and its slot frees.
        tokio::time::timeout(Duration::from_secs(1), reader)
            .await
            .expect("the reader stops with the writer")
            .unwrap();
        match inbox.recv().await {
            Some(Event::Closed { connection: ConnectionId(3), reason }) => {
                assert_eq!(reason, "the client could not be written to");
            }
            _ => panic!("the reader reports the close"),
        }
    }

    #[tokio::test]
    async fn a_peer_closing_mid_frame_is_an_error() {
        let (mut read_half, mut client_write) = connection(1024);
        let (events, _inbox) = mpsc::channel(16);
        client_write.write_all(&framed(b"whole")[..6]).await.unwrap();
        client_write.shutdown().await.unwrap();
        let result =
            read_frames(&mut read_half, ConnectionId(1), &events, limit(1024), &Backlog::default())
                .await;
        assert!(result.unwrap_err().contains("middle of a frame"));
    }
}

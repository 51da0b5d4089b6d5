//! A cluster node (`rpool-wasm serve`): it watches the jobs bucket, and for
//! each job a local [`Pool`] of its workers, built from the job's module
//! (fetched once from the object store, its SHA-256 checked) and settings.
//! It pulls chunk messages from the job's work stream (at most two chunks
//! per worker, as a local slot holds), submits each to the local pool as
//! it is, publishes the outcomes to the job's results stream, tells the
//! broker it is still at work while a chunk runs (progress acks), and acks
//! a chunk only once its outcomes are stored.
//!
//! A chunk delivered again (its node was lost) counts the losses: past the
//! job's retries its items fail with [`TaskError::NodeLost`] instead of
//! running again. Draining finishes what the node holds and hands back
//! what it took and did not start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use super::protocol::{self, JobNames, JobSpec, NodeState, ResultsEncoder};
use super::{ClusterOptions, Connection, Log, one_line};
use crate::dispatch::chunk::Chunk;
use crate::dispatch::sinks::Sink;
use crate::error::{BuildError, TaskError};
use crate::pool::Pool;
use crate::pool::builder::PoolBuilder;
use crate::wasm::sandbox::DirGrant;
use crate::wire::{self, ToWorker};

/// Room left in a results message for its headers.
const HEADROOM: usize = 4096;

/// Configures and starts a [`Node`]: `Node::builder(url).workers(4).start()`.
#[derive(Clone)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct NodeBuilder {
    options: ClusterOptions,
    workers: Option<usize>,
    allowed: Vec<DirGrant>,
    name: Option<String>,
    cache_dir: Option<PathBuf>,
    program: Option<PathBuf>,
    log: Log,
}

impl std::fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("url", &self.options.url)
            .field("workers", &self.workers)
            .field("allowed", &self.allowed)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NodeBuilder {
    /// The number of worker processes of each job's local pool.
    ///
    /// Default: as [`PoolBuilder::workers`].
    pub fn workers(mut self, workers: usize) -> NodeBuilder {
        self.workers = Some(workers);
        self
    }

    /// Grants jobs a directory of this machine: `grant.host` is the
    /// directory here, `grant.guest` the path jobs name it by (a job's
    /// directory below it is the same directory below `grant.host`); read-only
    /// if `grant.read_only` (else as the job asks). A job that asks for a
    /// directory not granted here is refused.
    ///
    /// Default: none (jobs that ask for a directory are refused).
    pub fn allow_dir(mut self, grant: DirGrant) -> NodeBuilder {
        self.allowed.push(grant);
        self
    }

    /// The node's name in the broker and in its log lines.
    ///
    /// Default: the host name and the process id.
    pub fn name(mut self, name: &str) -> NodeBuilder {
        self.name = Some(name.to_string());
        self
    }

    /// A NATS credentials file, as [`PoolBuilder::nats_credentials`].
    pub fn nats_credentials(mut self, path: impl AsRef<std::path::Path>) -> NodeBuilder {
        self.options.credentials = Some(path.as_ref().to_path_buf());
        self
    }

    /// A CA certificate file, as [`PoolBuilder::nats_ca`].
    pub fn nats_ca(mut self, path: impl AsRef<std::path::Path>) -> NodeBuilder {
        self.options.ca = Some(path.as_ref().to_path_buf());
        self
    }

    /// Where fetched modules and their compiled artifacts are kept.
    ///
    /// Default: as [`PoolBuilder::cache_dir`].
    pub fn cache_dir(mut self, dir: impl AsRef<std::path::Path>) -> NodeBuilder {
        self.cache_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The worker program, as [`PoolBuilder::worker_program`].
    pub fn worker_program(mut self, program: impl AsRef<std::path::Path>) -> NodeBuilder {
        self.program = Some(program.as_ref().to_path_buf());
        self
    }

    /// Where the node's log lines go (one per job it joins or leaves, and
    /// its troubles).
    ///
    /// Default: standard error.
    pub fn log(mut self, log: impl Fn(&str) + Send + Sync + 'static) -> NodeBuilder {
        self.log = Arc::new(log);
        self
    }

    /// Connects to the broker and starts serving; an unreachable broker or
    /// a bad URL is this call's error.
    pub fn start(self) -> Result<Node, BuildError> {
        let name = protocol::key_token(&self.name.clone().unwrap_or_else(super::host_name));
        let cache_dir = crate::module::cache::chosen_or_default(self.cache_dir.as_deref())?;
        let runtime = super::runtime();
        let connection = runtime.block_on(super::connect(&self.options, &format!("rpool-wasm node {name}")))?;
        let (drain_tx, drain) = watch::channel(Drain::Serve);
        let node = Arc::new(NodeContext { builder: self, name: name.clone(), cache_dir, connection });
        let thread = std::thread::Builder::new()
            .name("rpool-node".into())
            .spawn(move || runtime.block_on(serve(node, drain)))
            .expect("a thread can be spawned");
        Ok(Node { name, drain: Arc::new(drain_tx), thread })
    }
}

/// How far the node is from its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Drain {
    Serve,
    /// Take no more chunks; finish those held, hand back the rest.
    Draining,
    /// Now: held chunks go back to the broker when their ack wait ends.
    Stop,
}

/// A cluster node, serving jobs until it is drained; see [`NodeBuilder`].
#[derive(Debug)]
pub struct Node {
    name: String,
    drain: Arc<watch::Sender<Drain>>,
    thread: JoinHandle<()>,
}

impl Node {
    /// A builder for a node of the cluster whose NATS server is at `url`.
    pub fn builder(url: &str) -> NodeBuilder {
        NodeBuilder {
            options: ClusterOptions { url: Some(url.to_string()), ..ClusterOptions::default() },
            workers: None,
            allowed: Vec::new(),
            name: None,
            cache_dir: None,
            program: None,
            log: Arc::new(|line| eprintln!("{line}")),
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handle that drains the node from another thread (a signal handler's).
    pub fn drainer(&self) -> NodeDrainer {
        NodeDrainer { drain: Arc::clone(&self.drain) }
    }

    /// Waits until the node has drained.
    pub fn wait(self) {
        let _ = self.thread.join();
    }
}

/// Drains a [`Node`]; made by [`Node::drainer`].
#[derive(Debug, Clone)]
pub struct NodeDrainer {
    drain: Arc<watch::Sender<Drain>>,
}

impl NodeDrainer {
    /// Takes no more chunks, finishes the ones the node holds, hands back
    /// the ones it took and did not start, then ends [`Node::wait`].
    pub fn drain(&self) {
        self.drain.send_if_modified(|d| std::mem::replace(d, (*d).max(Drain::Draining)) != *d);
    }

    /// Ends at once: the chunks the node holds go to other nodes when
    /// their ack wait runs out.
    pub fn stop(&self) {
        self.drain.send_replace(Drain::Stop);
    }
}

struct NodeContext {
    builder: NodeBuilder,
    name: String,
    cache_dir: PathBuf,
    connection: Connection,
}

impl NodeContext {
    fn log(&self, line: &str) {
        (self.builder.log)(&format!("rpool-wasm node {}: {line}", self.name));
    }
}

/// The node's life: join each job the bucket announces, leave each it
/// removes, until drained.
async fn serve(node: Arc<NodeContext>, mut drain: watch::Receiver<Drain>) {
    let workers = node.builder.workers.map_or_else(|| "default".to_string(), |n| n.to_string());
    node.log(&format!("serving {} with {workers} workers per job", node.connection.shown));
    let mut jobs: HashMap<String, (watch::Sender<bool>, tokio::task::JoinHandle<()>)> = HashMap::new();
    let mut watch = None;
    loop {
        if *drain.borrow() != Drain::Serve {
            break;
        }
        if watch.is_none() {
            watch = match super::jobs_bucket(&node.connection.js).await {
                Ok(bucket) => bucket.watch_with_history(">").await.ok(),
                Err(_) => None,
            };
            if watch.is_none() {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = drain.changed() => {}
                }
                continue;
            }
        }
        let entries = watch.as_mut().expect("just set");
        tokio::select! {
            entry = entries.next() => match entry {
                Some(Ok(entry)) if !entry.key.contains('.') => match entry.operation {
                    jetstream::kv::Operation::Put => {
                        jobs.retain(|_, (_, task)| !task.is_finished());
                        if !jobs.contains_key(&entry.key) {
                            let (leave_tx, leave) = watch::channel(false);
                            let task = tokio::spawn(run_job(
                                Arc::clone(&node),
                                entry.key.clone(),
                                entry.value.to_vec(),
                                leave,
                                drain.clone(),
                            ));
                            jobs.insert(entry.key.clone(), (leave_tx, task));
                        }
                    }
                    _ => {
                        if let Some((leave, _)) = jobs.get(&entry.key) {
                            let _ = leave.send(true);
                        }
                    }
                },
                Some(_) => {}
                // The watch ended (the broker went away): watch again; what
                // is there is announced again, and jobs joined stay joined.
                None => watch = None,
            },
            _ = drain.changed() => {}
        }
    }
    for (_, (_, task)) in jobs {
        let _ = task.await;
    }
    node.log("drained");
}

/// A chunk this node holds: the message to ack, and what is left of it.
struct Held {
    message: jetstream::Message,
    call: u64,
    remaining: usize,
    not_run: bool,
}

/// What a held chunk's sink sends to its job's task.
struct Delivered {
    key: u64,
    /// A results message, when the outcomes make one.
    message: Option<Vec<u8>>,
    /// How many of the chunk's items it accounts for (answered or not run).
    items: usize,
    not_run: bool,
}

/// Where a local pool delivers a held chunk's outcomes: into results
/// messages, sent to the job's task once per batch (per read of a
/// worker's pipe) or whenever one is full.
struct NodeSink {
    key: u64,
    encoder: Mutex<(ResultsEncoder, usize, bool)>,
    tx: mpsc::UnboundedSender<Delivered>,
    limit: usize,
}

impl Sink for NodeSink {
    fn deliver(&self, index: usize, outcome: Result<&[u8], TaskError>) {
        let mut guard = self.encoder.lock().unwrap_or_else(|e| e.into_inner());
        let (encoder, items, not_run) = &mut *guard;
        let outcome = match outcome {
            Ok(json) if json.len() + 64 > self.limit => Err(TaskError::Failed {
                index,
                func: String::new(),
                message: format!(
                    "its result ({} bytes) is larger than the NATS server's max payload ({} bytes)",
                    json.len(),
                    self.limit + HEADROOM
                ),
            }),
            outcome => outcome,
        };
        if !encoder.push(index, &outcome) {
            *not_run = true;
        }
        *items += 1;
        if encoder.bytes() > self.limit / 2 {
            let message = encoder.take();
            let delivered = Delivered { key: self.key, message: Some(message), items: *items, not_run: *not_run };
            *items = 0;
            let _ = self.tx.send(delivered);
        }
    }

    fn is_done(&self) -> bool {
        false
    }

    fn flush(&self) {
        let mut guard = self.encoder.lock().unwrap_or_else(|e| e.into_inner());
        let (encoder, items, not_run) = &mut *guard;
        if *items == 0 {
            return;
        }
        let message = (encoder.len() > 0).then(|| encoder.take());
        let _ = self.tx.send(Delivered { key: self.key, message, items: *items, not_run: *not_run });
        *items = 0;
    }
}

/// Puts what a node made of a job under its key, for the client to see.
async fn report(node: &NodeContext, names: &JobNames, state: &NodeState) {
    if let Ok(bucket) = super::jobs_bucket(&node.connection.js).await {
        let json = serde_json::to_vec(state).expect("a node state serializes");
        let _ = bucket.put(names.node_key(&node.name), json.into()).await;
    }
}

/// One job on this node, from its announcement until it is removed or the node drains.
async fn run_job(
    node: Arc<NodeContext>,
    job: String,
    spec: Vec<u8>,
    mut leave: watch::Receiver<bool>,
    mut drain: watch::Receiver<Drain>,
) {
    let names = JobNames::new(&job);
    let spec: JobSpec = match serde_json::from_slice::<JobSpec>(&spec) {
        Ok(spec) if spec.protocol == protocol::CLUSTER_PROTOCOL => spec,
        _ => {
            let message = format!(
                "it was published by another release of rpool-wasm (this node speaks cluster protocol {})",
                protocol::CLUSTER_PROTOCOL
            );
            node.log(&format!("refused job {job}: {message}"));
            report(&node, &names, &NodeState::Refused { message }).await;
            return;
        }
    };
    let pool = match join(&node, &spec).await {
        Ok(pool) => Arc::new(pool),
        Err(state) => {
            let why = match &state {
                NodeState::Refused { message } | NodeState::Failed { message } => message.clone(),
                NodeState::WorkerStart { worker, message } => format!("worker {worker} failed to start: {message}"),
                NodeState::Joined { .. } => unreachable!("not a failure"),
            };
            node.log(&format!("refused job {job}: {why}"));
            report(&node, &names, &state).await;
            return;
        }
    };
    let workers = pool.workers();
    report(&node, &names, &NodeState::Joined { workers }).await;
    node.log(&format!(
        "joined job {job}: {} (SHA-256 {}…), {workers} workers",
        spec.module_name,
        &spec.module_sha256[..12]
    ));
    let ended = serve_job(&node, &names, &spec, &pool, &mut leave, &mut drain).await;
    // The pool's end waits for its workers: not on the runtime's thread.
    let _ = tokio::task::spawn_blocking(move || drop(pool)).await;
    match ended {
        JobEnd::Removed => node.log(&format!("left job {job}: it is complete or was removed")),
        JobEnd::Drained => {
            if let Ok(bucket) = super::jobs_bucket(&node.connection.js).await {
                let _ = bucket.purge(names.node_key(&node.name)).await;
            }
            node.log(&format!("left job {job}: drained"));
        }
    }
}

/// Checks the job's directories against the node's grants, fetches its
/// module and starts its local pool; or says why not.
async fn join(node: &Arc<NodeContext>, spec: &JobSpec) -> Result<Pool, NodeState> {
    let mut dirs = Vec::new();
    for asked in &spec.dirs {
        match super::grant_on_node(asked, &node.builder.allowed) {
            Some(grant) => dirs.push(grant),
            None => {
                let granted: Vec<String> = node.builder.allowed.iter().map(|g| g.guest.clone()).collect();
                let granted = if granted.is_empty() { "none".to_string() } else { granted.join(", ") };
                return Err(NodeState::Refused {
                    message: format!(
                        "the job asks for the directory {}, which this node does not grant (it grants: {granted})",
                        asked.host.display()
                    ),
                });
            }
        }
    }
    let module = fetch_module(node, spec).await.map_err(|message| NodeState::Failed { message })?;
    let mut builder = PoolBuilder::new(&module)
        .retries(spec.retries)
        .raw_output(spec.raw_output)
        .raw_input(spec.raw_input)
        .command_args(spec.command_args.iter().cloned())
        .backtraces(spec.full_backtraces)
        .max_memory(spec.limits.max_memory)
        .max_output(spec.limits.max_output)
        .cache_dir(&node.cache_dir);
    if let Some(workers) = node.builder.workers {
        builder = builder.workers(workers);
    }
    if let Some(program) = &node.builder.program {
        builder = builder.worker_program(program);
    }
    if let Some((name, args)) = &spec.initializer {
        builder = builder.initializer_json(name, args);
    }
    if let Some(max) = spec.max_tasks {
        builder = builder.max_tasks_per_worker(max);
    }
    if let Some(timeout) = spec.limits.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(fuel) = spec.limits.fuel {
        builder = builder.fuel(fuel);
    }
    for (name, value) in &spec.env {
        builder = builder.env(name, value);
    }
    for dir in dirs {
        builder = builder.dir(dir);
    }
    let built = tokio::task::spawn_blocking(move || builder.build()).await;
    match built {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(BuildError::WorkerStart { worker, message })) => Err(NodeState::WorkerStart { worker, message }),
        Ok(Err(error)) => Err(NodeState::Failed { message: one_line(&error) }),
        Err(panic) => Err(NodeState::Failed { message: format!("the pool's start panicked: {panic}") }),
    }
}

/// The job's module in this node's cache, fetched from the object store
/// the first time and checked against its SHA-256.
async fn fetch_module(node: &NodeContext, spec: &JobSpec) -> Result<PathBuf, String> {
    let sha = &spec.module_sha256;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("the job names no module SHA-256 ({sha:?})"));
    }
    let dir = node.cache_dir.join("modules");
    let path = dir.join(format!("{sha}.wasm"));
    if path.is_file() {
        return Ok(path);
    }
    let store = super::modules_store(&node.connection.js).await?;
    let mut object = store.get(sha).await.map_err(|e| format!("cannot fetch module {sha}: {}", one_line(&e)))?;
    let mut wasm = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut object, &mut wasm)
        .await
        .map_err(|e| format!("cannot fetch module {sha}: {e}"))?;
    let got = super::sha256_hex(&wasm);
    if got != *sha {
        return Err(format!("the module fetched as {sha} has SHA-256 {got}: refusing it"));
    }
    crate::module::cache::store(&path, &wasm).map_err(|e| e.to_string())?;
    Ok(path)
}

enum JobEnd {
    Removed,
    Drained,
}

/// Pulls, runs, answers and acks the job's chunks until the job is removed
/// or the node drains.
async fn serve_job(
    node: &NodeContext,
    names: &JobNames,
    spec: &JobSpec,
    pool: &Arc<Pool>,
    leave: &mut watch::Receiver<bool>,
    drain: &mut watch::Receiver<Drain>,
) -> JobEnd {
    let js = &node.connection.js;
    let limit = node.connection.client.server_info().max_payload.max(64 << 10).saturating_sub(HEADROOM);
    let capacity = pool.workers() * crate::dispatch::slot::WINDOW;
    let ack_wait = Duration::from_millis(spec.ack_wait_ms.max(100));
    let (tx, mut delivered) = mpsc::unbounded_channel::<Delivered>();
    let mut held: HashMap<u64, Held> = HashMap::new();
    let mut next_key = 0u64;
    let mut consumer: Option<consumer::Consumer<consumer::pull::Config>> = None;
    let mut batch: Option<consumer::pull::Batch> = None;
    let mut progress = tokio::time::interval(ack_wait / 4);
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *leave.borrow() {
            return JobEnd::Removed;
        }
        let draining = *drain.borrow() != Drain::Serve;
        if *drain.borrow() == Drain::Stop || (draining && held.is_empty() && batch.is_none()) {
            return JobEnd::Drained;
        }
        if consumer.is_none() && !draining {
            consumer = match js.get_stream(&names.work_stream).await {
                Ok(stream) => stream.get_consumer(protocol::NODES_CONSUMER).await.ok(),
                Err(_) => None,
            };
        }
        if batch.is_none()
            && !draining
            && held.len() < capacity
            && let Some(consumer) = &consumer
        {
            batch = consumer
                .fetch()
                .max_messages(capacity - held.len())
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .ok();
            if batch.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let idle = batch.is_none() && (consumer.is_none() || held.len() >= capacity || draining);
        tokio::select! {
            message = next_message(&mut batch) => match message {
                Some(Ok(message)) => {
                    if draining {
                        hand_back(js, names, message).await;
                    } else if let Some(chunk) = take(node, spec, pool, message, next_key, &tx, limit).await {
                        held.insert(next_key, chunk);
                        next_key += 1;
                    }
                }
                Some(Err(_)) => {
                    batch = None;
                    consumer = None;
                }
                None => batch = None,
            },
            Some(outcomes) = delivered.recv() => {
                answer(js, names, &mut held, outcomes, leave).await;
            }
            _ = progress.tick() => {
                for chunk in held.values() {
                    let _ = chunk.message.ack_with(AckKind::Progress).await;
                }
            }
            _ = leave.changed() => {}
            _ = drain.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)), if idle => {}
        }
    }
}

async fn next_message(
    batch: &mut Option<consumer::pull::Batch>,
) -> Option<Result<jetstream::Message, async_nats::Error>> {
    match batch {
        Some(batch) => batch.next().await,
        None => std::future::pending().await,
    }
}

/// How many times nodes were lost running a delivered chunk.
fn losses(message: &jetstream::Message) -> u32 {
    let before = message
        .headers
        .as_ref()
        .and_then(|h| h.get(protocol::LOST_HEADER))
        .and_then(|v| v.as_str().parse::<u32>().ok())
        .unwrap_or(0);
    let delivered = message.info().map_or(1, |info| info.delivered.max(1) as u32);
    before + delivered - 1
}

/// A chunk message: run it on the local pool, or, if nodes were lost
/// running it more often than the job's retries allow, fail its items.
async fn take(
    node: &NodeContext,
    spec: &JobSpec,
    pool: &Arc<Pool>,
    message: jetstream::Message,
    key: u64,
    tx: &mpsc::UnboundedSender<Delivered>,
    limit: usize,
) -> Option<Held> {
    let Some((call, frame)) = protocol::split_chunk_message(&message.payload) else {
        node.log("dropped a malformed chunk message");
        let _ = message.ack_with(AckKind::Term).await;
        return None;
    };
    let Ok(ToWorker::Chunk(view)) = wire::decode_to_worker(&frame[4..]) else {
        node.log("dropped a malformed chunk message");
        let _ = message.ack_with(AckKind::Term).await;
        return None;
    };
    let count = view.items().count();
    let lost = losses(&message);
    if lost > spec.retries {
        let mut encoder = ResultsEncoder::new(call);
        for (index, _) in view.items().flatten() {
            let index = index as usize;
            encoder.push(index, &Err(TaskError::NodeLost { index, func: String::new(), lost }));
        }
        let _ = tx.send(Delivered { key, message: Some(encoder.take()), items: count, not_run: false });
        return Some(Held { message, call, remaining: count, not_run: false });
    }
    let sink =
        Arc::new(NodeSink { key, encoder: Mutex::new((ResultsEncoder::new(call), 0, false)), tx: tx.clone(), limit });
    let chunk = Chunk { sink, func: Arc::from(view.func), frame: Arc::from(frame), count, attempts: 0 };
    if pool.state().submit_job([chunk]).is_err() {
        return None;
    }
    Some(Held { message, call, remaining: count, not_run: false })
}

/// Publishes a held chunk's outcomes, and acks it once they are all stored.
async fn answer(
    js: &jetstream::Context,
    names: &JobNames,
    held: &mut HashMap<u64, Held>,
    delivered: Delivered,
    leave: &watch::Receiver<bool>,
) {
    if let Some(message) = delivered.message {
        let payload = bytes::Bytes::from(message);
        // Through a broker restart: until it is stored, or the job is gone.
        loop {
            if let Ok(ack) = js.publish(names.results_subject.clone(), payload.clone()).await
                && ack.await.is_ok()
            {
                break;
            }
            if *leave.borrow() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let Some(chunk) = held.get_mut(&delivered.key) else { return };
    chunk.remaining = chunk.remaining.saturating_sub(delivered.items);
    chunk.not_run |= delivered.not_run;
    if chunk.remaining > 0 {
        return;
    }
    let chunk = held.remove(&delivered.key).expect("just found");
    let _ = chunk.call;
    if chunk.not_run {
        // Some items did not run here (the local pool stopped): another node runs the chunk.
        let _ = chunk.message.ack_with(AckKind::Nak(None)).await;
        return;
    }
    for _ in 0..10 {
        if chunk.message.double_ack().await.is_ok() {
            return;
        }
        if *leave.borrow() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A chunk taken while draining goes back to the work stream, with the
/// losses it had, and this delivery is acked (so it counts as no loss).
async fn hand_back(js: &jetstream::Context, names: &JobNames, message: jetstream::Message) {
    let lost = losses(&message);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(protocol::LOST_HEADER, lost.to_string().as_str());
    let republished = match js.publish_with_headers(names.work_subject.clone(), headers, message.payload.clone()).await
    {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    if republished {
        let _ = message.double_ack().await;
    } else {
        let _ = message.ack_with(AckKind::Nak(None)).await;
    }
}

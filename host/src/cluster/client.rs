//! The client end of a cluster pool: sets up (or attaches to) the job on
//! the broker, then runs the dispatcher, which takes chunks from the pool's
//! queue, publishes those items that no node has answered or holds, and
//! delivers the outcomes arriving on the results stream to the chunks'
//! sinks, each item once (a chunk may run more than once: duplicates are
//! dropped by index).
//!
//! A pool's calls are numbered in the order their first chunk reaches the
//! queue: a pool that attaches to a job (the same name, the same module and
//! settings) and makes the same calls finds its calls' outcomes under the
//! same numbers, so that it delivers those from the results stream and
//! publishes only the items that are missing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;

use super::indices::{Awaited, Bits};
use super::protocol::{self, JobNames, JobSpec, Kind, NodeState};
use super::{ClusterOptions, Connection, one_line};
use crate::dispatch::PoolState;
use crate::dispatch::chunk::Chunk;
use crate::dispatch::outcomes::Outcomes;
use crate::dispatch::sinks::Sink;
use crate::error::{BuildError, TaskError};
use crate::wire::{self, ChunkEncoder, ToWorker};

/// How long the build waits, after a node refused the job, for another to join it.
const REFUSAL_GRACE: Duration = Duration::from_secs(1);
/// How often the dispatcher looks at the pool's lifecycle (a stop, finished calls).
const TICK: Duration = Duration::from_millis(50);
/// Room left in a message for its headers and the call number.
const HEADROOM: usize = 4096;

/// Outcomes received for a call before its chunks are seen (a pool that
/// attached to a job): by index, kind and payload.
type Early = HashMap<u64, HashMap<usize, (Kind, Vec<u8>)>>;

/// Sets the job up on the broker and starts the dispatcher thread; returns
/// it and the number of workers the pool counts (`given`, or the workers
/// of the nodes that had joined the job when it started).
pub(crate) fn start(
    options: ClusterOptions,
    spec: JobSpec,
    wasm: Vec<u8>,
    state: Arc<PoolState>,
    given: Option<usize>,
) -> Result<(JoinHandle<()>, usize), BuildError> {
    let explicit = options.job.is_some();
    let job = options.job.clone().unwrap_or_else(super::fresh_job_name);
    protocol::check_job_name(&job).map_err(|message| BuildError::JobName { name: job.clone(), message })?;
    let names = JobNames::new(&job);
    let runtime = super::runtime();
    let setup = runtime.block_on(setup(&options, &names, &spec, &wasm))?;
    let workers = given.unwrap_or(setup.workers).max(1);
    let dispatcher = std::thread::Builder::new()
        .name("rpool-cluster".into())
        .spawn(move || {
            let Setup { connection, results, early, queued, .. } = setup;
            let max_payload = connection.client.server_info().max_payload.max(64 << 10);
            let mut dispatcher = Dispatcher {
                state: Arc::clone(&state),
                connection,
                names,
                explicit,
                limit: max_payload.saturating_sub(HEADROOM),
                calls: HashMap::new(),
                ids: HashMap::new(),
                next_call: 0,
                early,
                queued,
            };
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            // The queue is a blocking channel: a thread of its own carries it to the runtime.
            let intake = std::thread::Builder::new()
                .name("rpool-cluster-intake".into())
                .spawn(move || {
                    while let Ok(chunk) = state.queue.recv() {
                        if tx.send(chunk).is_err() {
                            break;
                        }
                    }
                })
                .expect("a thread can be spawned");
            runtime.block_on(dispatcher.run(rx, results));
            let _ = intake.join();
        })
        .expect("a thread can be spawned");
    Ok((dispatcher, workers))
}

/// What the build set up for the dispatcher.
struct Setup {
    connection: Connection,
    results: consumer::pull::Ordered,
    early: Early,
    queued: HashMap<u64, HashSet<usize>>,
    workers: usize,
}

async fn setup(options: &ClusterOptions, names: &JobNames, spec: &JobSpec, wasm: &[u8]) -> Result<Setup, BuildError> {
    let connection = super::connect(options, &format!("rpool-wasm client {}", names.job)).await?;
    let fail = |message: String| BuildError::Cluster { url: connection.shown.clone(), message };
    let js = &connection.js;
    let jobs = super::jobs_bucket(js).await.map_err(fail)?;
    upload(js, spec, wasm).await.map_err(fail)?;
    let existing =
        jobs.get(&names.job).await.map_err(|e| fail(format!("cannot read the jobs bucket: {}", one_line(&e))))?;
    let attaching = match existing {
        Some(value) => {
            let theirs: Result<JobSpec, _> = serde_json::from_slice(&value);
            match theirs {
                Ok(theirs) if theirs == *spec => true,
                Ok(theirs) if theirs.module_sha256 != spec.module_sha256 => {
                    return Err(BuildError::JobMismatch {
                        job: names.job.clone(),
                        message: format!(
                            "another module ({}, SHA-256 {}…)",
                            theirs.module_name,
                            &theirs.module_sha256[..12.min(theirs.module_sha256.len())]
                        ),
                    });
                }
                _ => {
                    return Err(BuildError::JobMismatch {
                        job: names.job.clone(),
                        message: "with other settings".into(),
                    });
                }
            }
        }
        None => false,
    };
    if !attaching {
        // Leftovers of a job of this name that did not finish removing itself.
        let _ = js.delete_stream(&names.work_stream).await;
        let _ = js.delete_stream(&names.results_stream).await;
    }
    let work = js
        .get_or_create_stream(stream::Config {
            name: names.work_stream.clone(),
            subjects: vec![names.work_subject.clone()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| fail(format!("cannot create the stream {}: {}", names.work_stream, one_line(&e))))?;
    work.get_or_create_consumer(
        protocol::NODES_CONSUMER,
        consumer::pull::Config {
            durable_name: Some(protocol::NODES_CONSUMER.into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_millis(spec.ack_wait_ms),
            max_deliver: -1,
            max_ack_pending: -1,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| fail(format!("cannot create the consumer of {}: {}", names.work_stream, one_line(&e))))?;
    let results_stream = js
        .get_or_create_stream(stream::Config {
            name: names.results_stream.clone(),
            subjects: vec![names.results_subject.clone()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| fail(format!("cannot create the stream {}: {}", names.results_stream, one_line(&e))))?;

    // Attaching: what nodes hold (in the work stream), then what they answered.
    let queued = if attaching { queued_items(&work, names).await } else { HashMap::new() };
    let last = results_stream.get_info().await.map(|info| info.state.last_sequence).unwrap_or(0);
    let mut results = results_stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: names.results_subject.clone(),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| fail(format!("cannot read the stream {}: {}", names.results_stream, one_line(&e))))?
        .messages()
        .await
        .map_err(|e| fail(format!("cannot read the stream {}: {}", names.results_stream, one_line(&e))))?;
    let mut early: Early = HashMap::new();
    if attaching && last > 0 {
        while let Some(message) = results.next().await {
            let Ok(message) = message else { continue };
            if let Some((call, records)) = protocol::decode_results(&message.payload) {
                let known = early.entry(call).or_default();
                for record in records {
                    known.entry(record.index).or_insert_with(|| (record.kind, record.payload.to_vec()));
                }
            }
            if message.info().is_ok_and(|info| info.stream_sequence >= last) {
                break;
            }
        }
    }
    if !attaching {
        let json = serde_json::to_vec(spec).expect("a job spec serializes");
        jobs.put(&names.job, json.into())
            .await
            .map_err(|e| fail(format!("cannot publish the job: {}", one_line(&e))))?;
    }
    let workers = match wait_for_a_node(&jobs, names).await {
        Ok(workers) => workers,
        Err(error) => {
            if !attaching {
                remove_job(&connection, names).await;
            }
            return Err(error(connection.shown.clone()));
        }
    };
    Ok(Setup { connection, results, early, queued, workers })
}

/// Puts the module in the object store under its SHA-256, unless it is there.
async fn upload(js: &jetstream::Context, spec: &JobSpec, wasm: &[u8]) -> Result<(), String> {
    let store = super::modules_store(js).await?;
    if store.info(&spec.module_sha256).await.is_ok() {
        return Ok(());
    }
    let mut reader = wasm;
    store
        .put(spec.module_sha256.as_str(), &mut reader)
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot store the module: {}", one_line(&e)))
}

/// The items of each call that the job's work stream holds: published by a
/// pool before this one, not yet answered and acked by a node.
async fn queued_items(work: &stream::Stream, names: &JobNames) -> HashMap<u64, HashSet<usize>> {
    let mut queued: HashMap<u64, HashSet<usize>> = HashMap::new();
    let mut sequence = 1;
    loop {
        let message =
            work.raw_message_builder().sequence(sequence).next_by_subject(names.work_subject.clone()).send().await;
        let Ok(message) = message else { break };
        sequence = message.sequence + 1;
        let Some((call, frame)) = protocol::split_chunk_message(&message.payload) else { continue };
        if let Ok(ToWorker::Chunk(view)) = wire::decode_to_worker(&frame[4..]) {
            queued.entry(call).or_default().extend(view.items().flatten().map(|(index, _)| index as usize));
        }
    }
    queued
}

/// Waits until a node has joined the job (its local pool started, its
/// initializers run), as a local pool waits for its workers; returns the
/// workers of the nodes that had joined. A node that could not start the
/// job's workers, or refused it, fails the build unless another joins
/// within a moment.
async fn wait_for_a_node(
    jobs: &jetstream::kv::Store,
    names: &JobNames,
) -> Result<usize, Box<dyn FnOnce(String) -> BuildError + Send>> {
    let job = names.job.clone();
    let mut watch = match jobs.watch_with_history(names.node_keys()).await {
        Ok(watch) => watch,
        Err(e) => {
            let message = format!("cannot watch the jobs bucket: {}", one_line(&e));
            return Err(Box::new(move |url| BuildError::Cluster { url, message }));
        }
    };
    let mut joined: HashMap<String, usize> = HashMap::new();
    let mut first_failure: Option<(String, NodeState)> = None;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, watch.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => watch.next().await,
        };
        let Some(entry) = next else { break };
        let Ok(entry) = entry else { continue };
        let node = entry.key.rsplit('.').next().unwrap_or_default().to_string();
        match serde_json::from_slice::<NodeState>(&entry.value) {
            Ok(NodeState::Joined { workers }) => {
                joined.insert(node, workers);
                if entry.delta == 0 {
                    // Every node that had joined before has been seen.
                    return Ok(joined.values().sum());
                }
            }
            Ok(failure) => {
                if first_failure.is_none() {
                    first_failure = Some((node, failure));
                    deadline = Some(tokio::time::Instant::now() + REFUSAL_GRACE);
                }
            }
            Err(_) => {}
        }
    }
    if !joined.is_empty() {
        return Ok(joined.values().sum());
    }
    let (node, failure) = first_failure
        .unwrap_or_else(|| (String::new(), NodeState::Failed { message: "the jobs bucket's watch ended".into() }));
    Err(Box::new(move |url| match failure {
        NodeState::WorkerStart { worker, message } => BuildError::WorkerStart { worker, message },
        NodeState::Refused { message } => BuildError::NodeRefused { node, job, message },
        NodeState::Failed { message } => BuildError::Cluster { url, message: format!("node {node}: {message}") },
        NodeState::Joined { .. } => unreachable!("a join is not a failure"),
    }))
}

/// Removes a job from the broker: its settings and the nodes' reports
/// (nodes leave it), then its streams. Bounded: a broker that is gone
/// leaves the job behind rather than hold up the pool's end.
pub(crate) async fn remove_job(connection: &Connection, names: &JobNames) {
    let removal = async {
        if let Ok(jobs) = super::jobs_bucket(&connection.js).await {
            let _ = jobs.purge(&names.job).await;
            if let Ok(keys) = jobs.keys().await {
                let prefix = format!("{}.", names.job);
                let keys: Vec<String> = keys.filter_map(|k| async move { k.ok() }).collect().await;
                for key in keys.into_iter().filter(|k| k.starts_with(&prefix)) {
                    let _ = jobs.purge(&key).await;
                }
            }
        }
        let _ = connection.js.delete_stream(&names.work_stream).await;
        let _ = connection.js.delete_stream(&names.results_stream).await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), removal).await;
}

/// One call of the pool (a map, an imap…): its sink, and which of its items
/// were answered or are awaited.
struct Call {
    sink: Arc<dyn Sink>,
    func: Arc<str>,
    answered: Bits,
    outstanding: Awaited,
}

struct Dispatcher {
    state: Arc<PoolState>,
    connection: Connection,
    names: JobNames,
    /// The job was named: it outlives a pool that stops with work outstanding.
    explicit: bool,
    /// The most bytes a chunk message may have.
    limit: usize,
    calls: HashMap<u64, Call>,
    /// A call's number by its sink's address (the sink lives as long as its call's entry).
    ids: HashMap<usize, u64>,
    next_call: u64,
    early: Early,
    queued: HashMap<u64, HashSet<usize>>,
}

impl Dispatcher {
    async fn run(
        &mut self,
        mut chunks: tokio::sync::mpsc::UnboundedReceiver<Chunk>,
        mut results: consumer::pull::Ordered,
    ) {
        let mut intake_open = true;
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                chunk = chunks.recv(), if intake_open => match chunk {
                    Some(chunk) => self.dispatch(chunk).await,
                    None => intake_open = false,
                },
                message = results.next() => match message {
                    Some(Ok(message)) => self.receive(&message.payload),
                    // The ordered consumer recreates itself after a broker restart.
                    Some(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                    None => {
                        if let Some(next) = self.reopen_results().await {
                            results = next;
                        }
                    }
                },
                _ = tick.tick() => {}
            }
            if let Some(reason) = self.state.stopped() {
                let complete = self.calls.values().all(|call| call.outstanding.is_empty());
                self.fail_outstanding(&reason);
                if complete || !self.explicit {
                    remove_job(&self.connection, &self.names).await;
                }
                return;
            }
            self.calls.retain(|_, call| !call.outstanding.is_empty() || Arc::strong_count(&call.sink) > 1);
            let calls = &self.calls;
            self.ids.retain(|_, id| calls.contains_key(id));
            if !intake_open && self.calls.is_empty() {
                // Closed, and every item answered: the job is complete.
                remove_job(&self.connection, &self.names).await;
                return;
            }
        }
    }

    /// The results stream again, from where it was read, after its consumer ended.
    async fn reopen_results(&self) -> Option<consumer::pull::Ordered> {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let stream = self.connection.js.get_stream(&self.names.results_stream).await.ok()?;
        stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: self.names.results_subject.clone(),
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .ok()?
            .messages()
            .await
            .ok()
    }

    /// A chunk from the pool's queue: its items answered already are
    /// delivered, those a node holds are awaited, the rest are published.
    async fn dispatch(&mut self, chunk: Chunk) {
        if chunk.sink.is_done() {
            return;
        }
        let address = Arc::as_ptr(&chunk.sink) as *const () as usize;
        let id = match self.ids.get(&address) {
            Some(id) => *id,
            None => {
                let id = self.next_call;
                self.next_call += 1;
                self.ids.insert(address, id);
                let call = Call {
                    sink: Arc::clone(&chunk.sink),
                    func: Arc::clone(&chunk.func),
                    answered: Bits::default(),
                    outstanding: Awaited::default(),
                };
                self.calls.insert(id, call);
                id
            }
        };
        let Ok(ToWorker::Chunk(view)) = wire::decode_to_worker(&chunk.frame[4..]) else {
            unreachable!("a chunk's frame is encoded by ChunkEncoder")
        };
        let call = self.calls.get_mut(&id).expect("just registered");
        let early = self.early.get_mut(&id);
        let queued = self.queued.get_mut(&id);
        let mut known = Outcomes::default();
        let mut messages = Vec::new();
        let mut encoder = ChunkEncoder::new(&chunk.func);
        // The frame's size so far: its head, then 12 bytes and the arguments per item.
        let head = 4 + 1 + 2 + chunk.func.len() + 4;
        let mut bytes = head;
        let mut early = early;
        let mut queued = queued;
        for (index, args) in view.items().flatten() {
            let index = index as usize;
            if call.answered.contains(index) {
                continue;
            }
            if let Some((kind, payload)) = early.as_mut().and_then(|early| early.remove(&index)) {
                call.answered.insert(index);
                let record = protocol::Record { index, kind, payload: &payload };
                known.push(index, record.outcome(&call.func));
                continue;
            }
            call.outstanding.insert(index);
            if queued.as_mut().is_some_and(|queued| queued.remove(&index)) {
                continue;
            }
            if !encoder.is_empty() && bytes + args.len() + 12 > self.limit {
                let full = std::mem::replace(&mut encoder, ChunkEncoder::new(&chunk.func));
                messages.push(protocol::chunk_message(id, &full.finish()));
                bytes = head;
            }
            if args.len() + 64 > self.limit {
                // No message can carry it: the item fails, naming why.
                call.outstanding.remove(index);
                call.answered.insert(index);
                let message = format!(
                    "its arguments ({} bytes) are larger than the NATS server's max payload ({} bytes)",
                    args.len(),
                    self.limit + HEADROOM
                );
                known.push(index, Err(TaskError::Arguments { index, func: call.func.to_string(), message }));
                continue;
            }
            bytes += 12 + args.len();
            encoder
                .push::<()>(index as u64, |buf| {
                    buf.extend_from_slice(args);
                    Ok(())
                })
                .expect("copying never fails");
        }
        if !encoder.is_empty() {
            messages.push(protocol::chunk_message(id, &encoder.finish()));
        }
        if !known.is_empty() {
            call.sink.deliver_all(known);
            call.sink.flush();
        }
        for message in messages {
            self.publish(message).await;
        }
    }

    /// Publishes a chunk message, and waits for the broker to have stored
    /// it; through a broker restart, until it has (or the pool stops).
    async fn publish(&self, message: Vec<u8>) {
        let payload = bytes::Bytes::from(message);
        loop {
            let sent = self.connection.js.publish(self.names.work_subject.clone(), payload.clone()).await;
            if let Ok(ack) = sent
                && ack.await.is_ok()
            {
                return;
            }
            if self.state.stopped().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A results message: each outcome not delivered yet goes to its call's sink.
    fn receive(&mut self, message: &[u8]) {
        let Some((id, records)) = protocol::decode_results(message) else { return };
        let Some(call) = self.calls.get_mut(&id) else {
            if id >= self.next_call {
                // A call this pool has not reached yet (it attached to the job).
                let early = self.early.entry(id).or_default();
                for record in records {
                    early.entry(record.index).or_insert_with(|| (record.kind, record.payload.to_vec()));
                }
            }
            return;
        };
        let mut batch = Outcomes::default();
        for record in records {
            if !call.outstanding.remove(record.index) {
                continue; // a duplicate: the chunk ran more than once
            }
            call.answered.insert(record.index);
            batch.push(record.index, record.outcome(&call.func));
        }
        if !batch.is_empty() {
            call.sink.deliver_all(batch);
            call.sink.flush();
        }
    }

    /// The pool stopped: every item still awaited fails as not run.
    fn fail_outstanding(&mut self, reason: &str) {
        for call in self.calls.values_mut() {
            for index in call.outstanding.drain() {
                let error = TaskError::NotRun { index, func: call.func.to_string(), reason: reason.to_string() };
                call.sink.deliver(index, Err(error));
            }
            call.sink.flush();
        }
    }
}

//! What the pool's handle, its jobs and its worker slots share: the queue of
//! chunks that slots pull from, the pool's lifecycle (running, closed,
//! stopped), the workers' pids, and the thread that runs callbacks.

use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};

use crate::batch::Batch;
use crate::error::{SubmitError, TaskError};
use crate::protocol::{self, ToWorker};

/// Where a job's item outcomes go. Every item of every chunk submitted is
/// delivered exactly once — run, failed, or not run because the pool
/// stopped — so that no one waiting on a job can hang.
pub(crate) trait Sink: Send + Sync {
    /// One item's outcome: its result JSON, or how it failed.
    fn deliver(&self, index: usize, outcome: Result<&[u8], TaskError>);
    /// Several outcomes at once (what a reader took from one read of a
    /// worker's pipe); by default, one by one.
    fn deliver_batch(&self, mut batch: Batch) {
        while let Some((index, outcome)) = batch.pop() {
            self.deliver(index, outcome);
        }
    }
    /// True once nobody needs further outcomes (the job failed, or its
    /// iterator was dropped): queued chunks of the job are then skipped.
    fn is_done(&self) -> bool;
    /// Passes on outcomes delivered so far that the sink holds back to
    /// batch them; a reader calls it before it waits for more.
    fn flush(&self) {}
}

/// A chunk of items of one job, encoded as the frame a worker reads.
pub(crate) struct Chunk {
    pub sink: Arc<dyn Sink>,
    pub func: Arc<str>,
    /// Shared, so that a slot can write it while the chunk waits in flight.
    pub frame: Arc<[u8]>,
    pub count: usize,
    /// How many workers died running this chunk's first item.
    pub attempts: u32,
}

impl Chunk {
    fn view(&self) -> protocol::ChunkView<'_> {
        match protocol::decode_to_worker(&self.frame[4..]) {
            Ok(ToWorker::Chunk(view)) => view,
            _ => unreachable!("a chunk's frame is encoded by ChunkEncoder"),
        }
    }

    /// A new chunk of this one's items from `skip` on (`take` of them, or
    /// all), for running again; `None` if there are none.
    pub fn part(&self, skip: usize, take: Option<usize>, attempts: u32) -> Option<Chunk> {
        let mut encoder = protocol::ChunkEncoder::new(&self.func);
        for (index, args) in self.view().items().skip(skip).take(take.unwrap_or(usize::MAX)).flatten() {
            encoder
                .push::<()>(index, |buf| {
                    buf.extend_from_slice(args);
                    Ok(())
                })
                .expect("copying never fails");
        }
        (!encoder.is_empty()).then(|| Chunk {
            sink: Arc::clone(&self.sink),
            func: Arc::clone(&self.func),
            count: encoder.len(),
            frame: encoder.finish().into(),
            attempts,
        })
    }

    /// Delivers `error(index)` for every item after the first `answered`.
    pub fn fail_rest(&self, answered: usize, error: impl Fn(usize) -> TaskError) {
        for (index, _) in self.view().items().skip(answered).flatten() {
            let index = index as usize;
            self.sink.deliver(index, Err(error(index)));
        }
        self.sink.flush();
    }

    /// Fails every item: the chunk will not run.
    pub fn fail_not_run(&self, reason: &str) {
        self.fail_rest(0, |index| TaskError::NotRun { index, func: self.func.to_string(), reason: reason.to_string() });
    }
}

/// A closure for the callback thread.
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

/// The way to the pool's callback thread; jobs hold a clone so that
/// callbacks never run on a thread that collects results.
#[derive(Clone)]
pub(crate) struct Callbacks(Sender<Callback>);

impl Callbacks {
    /// Runs `f` on the callback thread.
    pub fn run(&self, f: Callback) {
        if let Err(unsent) = self.0.send(f) {
            // The callback thread is gone only after the pool was joined and
            // dropped; nothing collects results then, so run it here.
            (unsent.into_inner())();
        }
    }
}

#[derive(Default)]
struct Lifecycle {
    /// `None` once no more chunks will come: slots drain the queue and exit.
    sender: Option<Sender<Chunk>>,
    /// False after close or stop: new jobs are refused.
    accepting: bool,
    /// Lazy jobs (imap) still feeding chunks; close waits for them.
    feeders: usize,
    /// Why the pool stopped (terminated, or a worker could not start).
    stopped: Option<String>,
}

/// The state shared by the pool, its jobs and its slots.
pub(crate) struct Shared {
    pub queue: Receiver<Chunk>,
    lifecycle: Mutex<Lifecycle>,
    pids: Mutex<Vec<Option<u32>>>,
    pub callbacks: Callbacks,
    /// Items run again because their worker died while running them.
    retried: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// A running pool's shared state, and the receiving end of its callbacks.
    pub fn new(workers: usize) -> (Shared, Receiver<Callback>) {
        let (tx, queue) = crossbeam_channel::unbounded();
        let (callbacks, callback_rx) = crossbeam_channel::unbounded();
        let lifecycle = Lifecycle { sender: Some(tx), accepting: true, ..Lifecycle::default() };
        let shared = Shared {
            queue,
            lifecycle: Mutex::new(lifecycle),
            pids: Mutex::new(vec![None; workers]),
            callbacks: Callbacks(callbacks),
            retried: std::sync::atomic::AtomicUsize::new(0),
        };
        (shared, callback_rx)
    }

    fn lifecycle(&self) -> std::sync::MutexGuard<'_, Lifecycle> {
        self.lifecycle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Submits a whole job's chunks, or refuses if the pool takes no new jobs.
    pub fn submit_job(&self, chunks: impl IntoIterator<Item = Chunk>) -> Result<(), SubmitError> {
        let lifecycle = self.lifecycle();
        let Some(sender) = lifecycle.sender.as_ref().filter(|_| lifecycle.accepting) else {
            return Err(SubmitError::NotRunning);
        };
        for chunk in chunks {
            sender.send(chunk).expect("the pool holds the queue's receiver");
        }
        Ok(())
    }

    /// Registers a lazy job that will feed chunks with [`Shared::feed`].
    pub fn begin_feeder(&self) -> Result<(), SubmitError> {
        let mut lifecycle = self.lifecycle();
        if !lifecycle.accepting || lifecycle.sender.is_none() {
            return Err(SubmitError::NotRunning);
        }
        lifecycle.feeders += 1;
        Ok(())
    }

    /// Feeds one chunk of a lazy job; after a stop it fails at once instead.
    pub fn feed(&self, chunk: Chunk) {
        let lifecycle = self.lifecycle();
        match (&lifecycle.sender, &lifecycle.stopped) {
            (Some(sender), _) => sender.send(chunk).expect("the pool holds the queue's receiver"),
            (None, stopped) => {
                let reason = stopped.clone().unwrap_or_else(|| "the pool was closed".into());
                drop(lifecycle);
                chunk.fail_not_run(&reason);
            }
        }
    }

    /// A lazy job is done feeding.
    pub fn end_feeder(&self) {
        let mut lifecycle = self.lifecycle();
        lifecycle.feeders -= 1;
        if !lifecycle.accepting && lifecycle.feeders == 0 {
            lifecycle.sender = None;
        }
    }

    /// No new jobs; the queued ones (and lazy ones still feeding) finish.
    pub fn close(&self) {
        let mut lifecycle = self.lifecycle();
        lifecycle.accepting = false;
        if lifecycle.feeders == 0 {
            lifecycle.sender = None;
        }
    }

    /// Whether close or stop was called.
    pub fn is_closed(&self) -> bool {
        !self.lifecycle().accepting
    }

    /// Why the pool stopped, if it did.
    pub fn stopped(&self) -> Option<String> {
        self.lifecycle().stopped.clone()
    }

    /// Stops the pool now: refuse new work, fail every queued item with
    /// `reason`, and kill the workers (their slots fail what they held).
    pub fn stop(&self, reason: &str) {
        {
            let mut lifecycle = self.lifecycle();
            if lifecycle.stopped.is_some() {
                return;
            }
            lifecycle.accepting = false;
            lifecycle.sender = None;
            lifecycle.stopped = Some(reason.to_string());
        }
        while let Ok(chunk) = self.queue.try_recv() {
            chunk.fail_not_run(reason);
        }
        for pid in self.pids.lock().unwrap_or_else(|e| e.into_inner()).iter().flatten() {
            kill(*pid);
        }
    }

    /// Records the pid of slot `slot`'s live worker (`None` once it is reaped).
    pub fn set_pid(&self, slot: usize, pid: Option<u32>) {
        self.pids.lock().unwrap_or_else(|e| e.into_inner())[slot] = pid;
    }

    /// An item is run again after its worker died.
    pub fn count_retry(&self) {
        self.retried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many items were run again after their worker died.
    pub fn retried(&self) -> usize {
        self.retried.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The pids of the live workers.
    pub fn pids(&self) -> Vec<u32> {
        self.pids.lock().unwrap_or_else(|e| e.into_inner()).iter().flatten().copied().collect()
    }
}

/// Kills a worker process; its slot notices the closed pipe.
fn kill(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        // The process may have exited already; then there is nothing to do.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

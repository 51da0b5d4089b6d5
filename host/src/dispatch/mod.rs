//! The pool's shared state, between its handle, its jobs and its worker
//! slots: the queue of chunks that slots pull from, the pool's lifecycle
//! (running, closed, stopped), the workers' pids, and the thread that runs
//! callbacks. How items become chunks is [`chunk`]; where outcomes go,
//! [`sinks`]; the slots that keep workers fed, [`slot`].
//!
//! This is the seam for a second transport: a slot carries chunks to a
//! local worker process over pipes; a cluster node would pull the same
//! chunks from a broker and deliver outcomes to the same sinks.

pub(crate) mod chunk;
pub(crate) mod fork;
pub(crate) mod outcomes;
pub(crate) mod sinks;
pub(crate) mod slot;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crossbeam_channel::{Receiver, Sender};

use crate::error::SubmitError;
use chunk::Chunk;
use slot::WorkerChild;

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
pub(crate) struct PoolState {
    pub queue: Receiver<Chunk>,
    lifecycle: Mutex<Lifecycle>,
    pids: Mutex<Vec<Option<u32>>>,
    pub callbacks: Callbacks,
    /// Items run again because their worker died while running them.
    retried: AtomicUsize,
    /// Whether a lazy job's one-item chunks may travel together, several in
    /// a frame, once its items are seen to be tiny (`pool::feed`): not when
    /// a worker's task limit counts chunks, nor for a cluster's nodes.
    pub together: bool,
    /// Retired workers whose exit no slot waits for: `Some` once the pool
    /// is closed with [`Pool::close_detached`](crate::Pool::close_detached).
    detached: Mutex<Option<Vec<WorkerChild>>>,
}

impl PoolState {
    /// A running pool's shared state, and the receiving end of its callbacks.
    pub fn new(workers: usize, together: bool) -> (PoolState, Receiver<Callback>) {
        let (tx, queue) = crossbeam_channel::unbounded();
        let (callbacks, callback_rx) = crossbeam_channel::unbounded();
        let lifecycle = Lifecycle { sender: Some(tx), accepting: true, ..Lifecycle::default() };
        let shared = PoolState {
            queue,
            lifecycle: Mutex::new(lifecycle),
            pids: Mutex::new(vec![None; workers]),
            callbacks: Callbacks(callbacks),
            retried: AtomicUsize::new(0),
            together,
            detached: Mutex::new(None),
        };
        (shared, callback_rx)
    }

    fn lifecycle(&self) -> MutexGuard<'_, Lifecycle> {
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

    /// Registers a lazy job that will feed chunks with [`PoolState::feed`].
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

    /// From now on, a slot retiring its worker leaves the process here
    /// ([`PoolState::detach`]) instead of waiting for it to end.
    pub fn detach_retired(&self) {
        self.detached.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Vec::new);
    }

    /// Takes a retired worker whose output has ended: kept, to be reaped
    /// later, after [`PoolState::detach_retired`]; otherwise handed back for
    /// its slot to wait for.
    pub fn detach(&self, child: WorkerChild) -> Option<WorkerChild> {
        match self.detached.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(detached) => {
                detached.push(child);
                None
            }
            None => Some(child),
        }
    }

    /// The retired workers left by [`PoolState::detach`] so far.
    pub fn take_detached(&self) -> Vec<WorkerChild> {
        self.detached.lock().unwrap_or_else(|e| e.into_inner()).as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// An item is run again after its worker died.
    pub fn count_retry(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    /// How many items were run again after their worker died.
    pub fn retried(&self) -> usize {
        self.retried.load(Ordering::Relaxed)
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

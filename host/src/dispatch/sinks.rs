//! Where a job's outcomes go: the [`Sink`] every chunk carries, and its two
//! kinds: [`Collect`] gathers results into a `Vec` by index (map, starmap,
//! apply and their async forms); [`Stream`] passes them, as they arrive, to
//! a lazy iterator (imap, imap_unordered).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;
use serde::de::DeserializeOwned;

use super::Callbacks;
use super::outcomes::Outcomes;
use crate::error::TaskError;
use crate::pool::async_result::JobState;

/// Where a job's item outcomes go. Every item of every chunk submitted is
/// delivered exactly once — run, failed, or not run because the pool
/// stopped — so that no one waiting on a job can hang.
pub(crate) trait Sink: Send + Sync {
    /// One item's outcome: its result JSON, or how it failed.
    fn deliver(&self, index: usize, outcome: Result<&[u8], TaskError>);
    /// Several outcomes at once (what a reader took from one read of a
    /// worker's pipe); by default, one by one.
    fn deliver_all(&self, mut outcomes: Outcomes) {
        while let Some((index, outcome)) = outcomes.pop() {
            self.deliver(index, outcome);
        }
    }
    /// True once nobody needs further outcomes (the job failed, or its
    /// iterator was dropped): queued chunks of the job are then skipped.
    fn is_done(&self) -> bool;
    /// Passes on outcomes delivered so far that the sink holds back to
    /// batch them; a reader calls it before it waits for more.
    fn flush(&self) {}
    /// How long a worker took per item of this job over `items` items, as
    /// a reader measured it (see [`Stream::item_time`]).
    fn note_item_time(&self, _per_item: Duration, _items: u32) {}
}

/// Collects a job's results by index and completes its [`JobState`] with all of
/// them, or with the first error to arrive.
pub(crate) struct Collect<R, T> {
    core: Arc<JobState<T>>,
    callbacks: Callbacks,
    func: Arc<str>,
    results: Mutex<Vec<Option<R>>>,
    remaining: AtomicUsize,
    finish: fn(Vec<R>) -> T,
}

impl<R: DeserializeOwned + Send + 'static, T: Send + 'static> Collect<R, T> {
    /// A collector for `items` results; `finish` turns them into the job's value.
    pub fn new(
        core: Arc<JobState<T>>,
        callbacks: Callbacks,
        func: Arc<str>,
        items: usize,
        finish: fn(Vec<R>) -> T,
    ) -> Arc<Self> {
        let sink = Arc::new(Collect {
            core,
            callbacks,
            func,
            results: Mutex::new((0..items).map(|_| None).collect()),
            remaining: AtomicUsize::new(items),
            finish,
        });
        if items == 0 {
            sink.core.complete(Ok((sink.finish)(Vec::new())), &sink.callbacks);
        }
        sink
    }
}

impl<R: DeserializeOwned + Send + 'static, T: Send + 'static> Sink for Collect<R, T> {
    fn deliver(&self, index: usize, outcome: Result<&[u8], TaskError>) {
        self.core.item_done();
        if self.core.is_decided() {
            return;
        }
        let value = outcome.and_then(|json| {
            serde_json::from_slice::<R>(json).map_err(|e| TaskError::Decode {
                index,
                func: self.func.to_string(),
                message: e.to_string(),
            })
        });
        match value {
            Err(error) => self.core.complete(Err(error), &self.callbacks),
            Ok(value) => {
                let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
                results[index] = Some(value);
                if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    let all = std::mem::take(&mut *results)
                        .into_iter()
                        .map(|r| r.expect("every index delivered once"))
                        .collect();
                    drop(results);
                    self.core.complete(Ok((self.finish)(all)), &self.callbacks);
                }
            }
        }
    }

    fn is_done(&self) -> bool {
        self.core.is_decided()
    }
}

/// Streams a job's outcomes, as they arrive, to its iterator, in batches:
/// one message per read of a worker's pipe rather than one per item.
pub(crate) struct Stream {
    tx: Sender<Outcomes>,
    pending: Mutex<Outcomes>,
    dropped: AtomicBool,
    /// The slowest of the recent [`Sink::note_item_time`]s, in nanoseconds
    /// (each later one lowers it by at most an eighth)…
    item_nanos: AtomicU64,
    /// …and how many items they measured.
    measured: AtomicU64,
}

/// How many of a job's items must have been measured before
/// [`Stream::item_time`] answers: a job of a few dozen items is never taken
/// for one of tiny items on the strength of its first.
const MEASURED_ENOUGH: u64 = 256;

impl Stream {
    pub fn new(tx: Sender<Outcomes>) -> Arc<Stream> {
        Arc::new(Stream {
            tx,
            pending: Mutex::new(Outcomes::default()),
            dropped: AtomicBool::new(false),
            item_nanos: AtomicU64::new(0),
            measured: AtomicU64::new(0),
        })
    }

    /// How long a worker takes per item of this job, at most: each read of
    /// a worker's pipe that answered some measures the time since the
    /// worker last answered (or was given work while idle) over the items
    /// it brought, and this is the slowest of the recent measures: one
    /// slow item makes it slow at once, and it comes down by an eighth a
    /// read. (A worker kept waiting for work makes a measure longer than
    /// the items take, never shorter.) `None` until [`MEASURED_ENOUGH`]
    /// items were measured.
    pub fn item_time(&self) -> Option<Duration> {
        (self.measured.load(Ordering::Relaxed) >= MEASURED_ENOUGH)
            .then(|| Duration::from_nanos(self.item_nanos.load(Ordering::Relaxed)))
    }

    /// Wakes the consumer with no outcomes, to look at its job again (its
    /// feeding thread found the input's end).
    pub fn wake(&self) {
        let _ = self.tx.send(Outcomes::default());
    }

    /// The iterator is gone: skip the job's queued chunks.
    pub fn drop_receiver(&self) {
        self.dropped.store(true, Ordering::Release);
    }
}

impl Sink for Stream {
    fn deliver(&self, index: usize, outcome: Result<&[u8], TaskError>) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).push(index, outcome);
    }

    fn deliver_all(&self, batch: Outcomes) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).append(batch);
    }

    fn is_done(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    fn note_item_time(&self, per_item: Duration, items: u32) {
        let nanos = per_item.as_nanos().min(u64::MAX as u128) as u64;
        let _ = self
            .item_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |slowest| Some(nanos.max(slowest - slowest / 8)));
        self.measured.fetch_add(u64::from(items), Ordering::Relaxed);
    }

    fn flush(&self) {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !batch.is_empty() {
            // The iterator may be gone; then nobody wants the outcomes.
            let _ = self.tx.send(batch);
        }
    }
}

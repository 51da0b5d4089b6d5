//! [`Imap`] and [`ImapUnordered`]: lazy iterators over a job's results.
//!
//! Unlike Python's, which reads the whole input first, they pull items from
//! the input iterator only as results are consumed: at most a bounded window
//! of items is submitted and not yet yielded, so an endless input runs in
//! bounded memory.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use crossbeam_channel::Receiver;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::batch::Batch;
use crate::dispatch::Shared;
use crate::error::TaskError;
use crate::sinks::{Chunker, EncodeItem, Stream};

/// Small items: a lazy job keeps up to this many submitted and not yet
/// consumed, so that workers never wait on the consumer between items…
const SMALL_ITEMS_WINDOW: usize = 4096;
/// …as long as their encoded arguments stay under this many bytes.
const WINDOW_BYTES: usize = 64 << 20;

/// The feeding half shared by both iterators: pulls items lazily, submits
/// them in chunks, and receives outcomes in completion order.
struct Feed<I> {
    shared: Arc<Shared>,
    items: I,
    chunker: Chunker,
    stream: Arc<Stream>,
    rx: Receiver<Batch>,
    /// The rest of the last batch received.
    batch: Batch,
    chunksize: usize,
    /// What keeps every worker busy: its chunks in flight and one queued.
    window: usize,
    /// Bytes of the chunks fed so far, to size the window for small items…
    fed_bytes: usize,
    /// …as [`widened_window`](Feed::widened_window) does after each chunk:
    /// not for every outcome, which a tiny item would notice.
    effective_window: usize,
    /// Outcomes taken from `rx`.
    received: usize,
    /// Outcomes handed to the caller: the window is counted from here, so
    /// that results held back for ordering count against it too.
    released: usize,
    exhausted: bool,
}

impl<I: Iterator<Item: EncodeItem>> Feed<I> {
    fn new(
        shared: Arc<Shared>,
        items: I,
        func: Arc<str>,
        args: crate::sinks::Args,
        chunksize: usize,
        window: usize,
    ) -> Feed<I> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let stream = Stream::new(tx);
        let chunker = Chunker { sink: stream.clone(), func, args, next_index: 0 };
        Feed {
            shared,
            items,
            chunker,
            stream,
            rx,
            batch: Batch::default(),
            chunksize,
            window: window.max(chunksize),
            fed_bytes: 0,
            effective_window: window.max(chunksize).max(SMALL_ITEMS_WINDOW),
            received: 0,
            released: 0,
            exhausted: false,
        }
    }

    /// Submits chunks while the window has room and the input lasts.
    fn fill(&mut self) {
        while !self.exhausted && self.chunker.next_index - self.released + self.chunksize <= self.effective_window {
            let (chunk, taken) = self.chunker.chunk(&mut self.items, self.chunksize);
            if let Some(chunk) = chunk {
                self.fed_bytes += chunk.frame.len();
                self.effective_window = self.widened_window();
                self.shared.feed(chunk);
            }
            if taken < self.chunksize {
                self.exhausted = true;
                self.shared.end_feeder();
            }
        }
    }

    /// The window, widened for small items (tiny chunks would otherwise make
    /// every item wait for a round trip through the consumer).
    fn widened_window(&self) -> usize {
        let per_item = self.fed_bytes.checked_div(self.chunker.next_index).unwrap_or(0);
        let small = SMALL_ITEMS_WINDOW.min(WINDOW_BYTES / per_item.max(1));
        self.window.max(small)
    }

    /// Makes the next outcome to complete ready to [`take`](Feed::take):
    /// its index, or `None` when every item is accounted for.
    fn ready(&mut self) -> Option<usize> {
        if self.batch.is_empty() {
            // More input is taken only between batches: reading it may wait
            // (a slow standard input), and outcomes already here must not.
            self.fill();
            if self.exhausted && self.received == self.chunker.next_index {
                return None;
            }
            // Every submitted item is delivered exactly once (see `Sink`), so
            // this cannot wait forever, and the stream's sender lives in `self`.
            self.batch = self.rx.recv().expect("the stream's sender is held by this feed");
        }
        self.batch.front_index()
    }

    /// Takes the outcome [`ready`](Feed::ready) announced; `release` if it
    /// goes to the caller now (not held back for ordering).
    fn take(&mut self, release: bool) -> (usize, Result<&[u8], TaskError>) {
        self.received += 1;
        self.released += usize::from(release);
        self.batch.pop().expect("`ready` announced an outcome")
    }
}

impl<I> Drop for Feed<I> {
    fn drop(&mut self) {
        self.stream.drop_receiver();
        if !self.exhausted {
            self.shared.end_feeder();
        }
    }
}

fn decode<R: DeserializeOwned>(func: &str, index: usize, outcome: Result<&[u8], TaskError>) -> Result<R, TaskError> {
    outcome.and_then(|json| {
        serde_json::from_slice(json).map_err(|e| TaskError::Decode {
            index,
            func: func.to_string(),
            message: e.to_string(),
        })
    })
}

/// Outcomes as workers sent them (result JSON already validated there), in
/// input order or in completion order: what the public iterators decode,
/// and what the CLI writes out as is. Each outcome's JSON is borrowed until
/// the next call, so none is copied unless it must wait for its turn.
pub(crate) struct RawStream<I> {
    feed: Feed<I>,
    /// In input order: outcomes that came early wait here.
    ordered: Option<BTreeMap<usize, Result<Vec<u8>, TaskError>>>,
    next: usize,
    /// The JSON of the last outcome handed out from `ordered`.
    held: Vec<u8>,
}

impl<I: Iterator<Item: EncodeItem>> RawStream<I> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        items: I,
        func: Arc<str>,
        args: crate::sinks::Args,
        chunksize: usize,
        window: usize,
        ordered: bool,
    ) -> Self {
        RawStream {
            feed: Feed::new(shared, items, func, args, chunksize, window),
            ordered: ordered.then(BTreeMap::new),
            next: 0,
            held: Vec::new(),
        }
    }

    /// The export the stream's items call.
    fn func(&self) -> Arc<str> {
        Arc::clone(&self.feed.chunker.func)
    }

    /// Whether an outcome can be had without waiting for a worker (in input
    /// order, only when it is the next one's turn).
    pub(crate) fn has_ready(&self) -> bool {
        match &self.ordered {
            None => !self.feed.batch.is_empty(),
            Some(pending) => pending.contains_key(&self.next) || self.feed.batch.front_index() == Some(self.next),
        }
    }

    /// The next outcome: `(index, result JSON or error)`.
    pub(crate) fn next(&mut self) -> Option<(usize, Result<&[u8], TaskError>)> {
        let Some(pending) = self.ordered.as_mut() else {
            self.feed.ready()?;
            return Some(self.feed.take(true));
        };
        loop {
            if let Some(outcome) = pending.remove(&self.next) {
                let index = self.next;
                self.next += 1;
                self.feed.released += 1;
                return Some((
                    index,
                    outcome.map(|json| {
                        self.held = json;
                        &self.held[..]
                    }),
                ));
            }
            if self.feed.ready()? == self.next {
                self.next += 1;
                return Some(self.feed.take(true));
            }
            let (index, outcome) = self.feed.take(false);
            pending.insert(index, outcome.map(<[u8]>::to_vec));
        }
    }
}

/// The iterator [`Pool::imap`](crate::Pool::imap) returns: results in input
/// order, each as soon as it and those before it are ready.
///
/// Each item is a `Result`: a failed item is its [`TaskError`], and
/// iteration goes on with the next item (Python's `next()` raises for that
/// item and can be called again).
pub struct Imap<I, R> {
    raw: RawStream<I>,
    func: Arc<str>,
    _result: PhantomData<fn() -> R>,
}

impl<I: Iterator<Item: Serialize>, R: DeserializeOwned> Imap<I, R> {
    pub(crate) fn new(raw: RawStream<I>) -> Self {
        Imap { func: raw.func(), raw, _result: PhantomData }
    }
}

impl<I: Iterator<Item: Serialize>, R: DeserializeOwned> Iterator for Imap<I, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (index, outcome) = self.raw.next()?;
        Some(decode(&self.func, index, outcome))
    }
}

impl<I, R> std::fmt::Debug for Imap<I, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap").field("next", &self.raw.next).finish_non_exhaustive()
    }
}

/// The iterator [`Pool::imap_unordered`](crate::Pool::imap_unordered)
/// returns: `(index, result)` pairs in the order items complete.
pub struct ImapUnordered<I, R> {
    raw: RawStream<I>,
    func: Arc<str>,
    _result: PhantomData<fn() -> R>,
}

impl<I: Iterator<Item: Serialize>, R: DeserializeOwned> ImapUnordered<I, R> {
    pub(crate) fn new(raw: RawStream<I>) -> Self {
        ImapUnordered { func: raw.func(), raw, _result: PhantomData }
    }
}

impl<I: Iterator<Item: Serialize>, R: DeserializeOwned> Iterator for ImapUnordered<I, R> {
    type Item = (usize, Result<R, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        let (index, outcome) = self.raw.next()?;
        Some((index, decode(&self.func, index, outcome)))
    }
}

impl<I, R> std::fmt::Debug for ImapUnordered<I, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapUnordered").field("received", &self.raw.feed.received).finish()
    }
}

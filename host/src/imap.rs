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

use crate::dispatch::Shared;
use crate::error::TaskError;
use crate::sinks::{Chunker, Stream, Streamed};

/// The feeding half shared by both iterators: pulls items lazily, submits
/// them in chunks, and receives outcomes in completion order.
struct Feed<I> {
    shared: Arc<Shared>,
    items: I,
    chunker: Chunker,
    stream: Arc<Stream>,
    rx: Receiver<Streamed>,
    chunksize: usize,
    window: usize,
    /// Outcomes taken from `rx`.
    received: usize,
    /// Outcomes handed to the caller: the window is counted from here, so
    /// that results held back for ordering count against it too.
    released: usize,
    exhausted: bool,
}

impl<I: Iterator<Item: Serialize>> Feed<I> {
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
            chunksize,
            window: window.max(chunksize),
            received: 0,
            released: 0,
            exhausted: false,
        }
    }

    /// Submits chunks while the window has room and the input lasts.
    fn fill(&mut self) {
        while !self.exhausted && self.chunker.next_index - self.released + self.chunksize <= self.window {
            let (chunk, taken) = self.chunker.chunk(&mut self.items, self.chunksize);
            if let Some(chunk) = chunk {
                self.shared.feed(chunk);
            }
            if taken < self.chunksize {
                self.exhausted = true;
                self.shared.end_feeder();
            }
        }
    }

    /// The next outcome to complete, or `None` when every item is accounted for.
    fn next_outcome(&mut self) -> Option<Streamed> {
        self.fill();
        if self.exhausted && self.received == self.chunker.next_index {
            return None;
        }
        // Every submitted item is delivered exactly once (see `Sink`), so
        // this cannot wait forever, and the stream's sender lives in `self`.
        let outcome = self.rx.recv().expect("the stream's sender is held by this feed");
        self.received += 1;
        Some(outcome)
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

fn decode<R: DeserializeOwned>(func: &str, (index, outcome): Streamed) -> Result<R, TaskError> {
    outcome.and_then(|json| {
        serde_json::from_slice(&json).map_err(|e| TaskError::Decode {
            index,
            func: func.to_string(),
            message: e.to_string(),
        })
    })
}

/// The iterator [`Pool::imap`](crate::Pool::imap) returns: results in input
/// order, each as soon as it and those before it are ready.
///
/// Each item is a `Result`: a failed item is its [`TaskError`], and
/// iteration goes on with the next item (Python's `next()` raises for that
/// item and can be called again).
pub struct Imap<I, R> {
    feed: Feed<I>,
    pending: BTreeMap<usize, Streamed>,
    next: usize,
    _result: PhantomData<fn() -> R>,
}

impl<I: Iterator<Item: Serialize>, R: DeserializeOwned> Imap<I, R> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        items: I,
        func: Arc<str>,
        args: crate::sinks::Args,
        chunksize: usize,
        window: usize,
    ) -> Self {
        Imap {
            feed: Feed::new(shared, items, func, args, chunksize, window),
            pending: BTreeMap::new(),
            next: 0,
            _result: PhantomData,
        }
    }
}

impl<I: Iterator<Item: Serialize>, R: DeserializeOwned> Iterator for Imap<I, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(outcome) = self.pending.remove(&self.next) {
                self.next += 1;
                self.feed.released += 1;
                return Some(decode(&self.feed.chunker.func, outcome));
            }
            let outcome = self.feed.next_outcome()?;
            self.pending.insert(outcome.0, outcome);
        }
    }
}

impl<I, R> std::fmt::Debug for Imap<I, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap").field("next", &self.next).field("buffered", &self.pending.len()).finish()
    }
}

/// The iterator [`Pool::imap_unordered`](crate::Pool::imap_unordered)
/// returns: `(index, result)` pairs in the order items complete.
pub struct ImapUnordered<I, R> {
    feed: Feed<I>,
    _result: PhantomData<fn() -> R>,
}

impl<I: Iterator<Item: Serialize>, R: DeserializeOwned> ImapUnordered<I, R> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        items: I,
        func: Arc<str>,
        args: crate::sinks::Args,
        chunksize: usize,
        window: usize,
    ) -> Self {
        ImapUnordered { feed: Feed::new(shared, items, func, args, chunksize, window), _result: PhantomData }
    }
}

impl<I: Iterator<Item: Serialize>, R: DeserializeOwned> Iterator for ImapUnordered<I, R> {
    type Item = (usize, Result<R, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        let outcome = self.feed.next_outcome()?;
        self.feed.released += 1;
        let index = outcome.0;
        Some((index, decode(&self.feed.chunker.func, outcome)))
    }
}

impl<I, R> std::fmt::Debug for ImapUnordered<I, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapUnordered").field("received", &self.feed.received).finish()
    }
}

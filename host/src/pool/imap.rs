//! [`Imap`] and [`ImapUnordered`]: lazy iterators over a job's results;
//! and [`JsonStream`], the same with raw JSON in and out.
//!
//! Unlike Python's, which reads the whole input first, they pull items from
//! the input iterator only as results are consumed ([`Feed`]): an endless
//! input runs in bounded memory.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::feed::Feed;
use crate::dispatch::chunk::{Args, EncodeItem};
use crate::error::TaskError;

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
    pub(crate) fn new(feed: Feed<I>, ordered: bool) -> Self {
        RawStream { feed, ordered: ordered.then(BTreeMap::new), next: 0, held: Vec::new() }
    }

    /// The export the stream's items call.
    fn func(&self) -> Arc<str> {
        Arc::clone(&self.feed.func)
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
                self.feed.release(1);
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

/// Items that are JSON text already, as [`Func::imap_json`](crate::Func::imap_json) takes them.
pub(crate) struct JsonItems<I>(pub I);

/// One item of [`JsonItems`]: copied into its chunk as it is.
pub(crate) struct JsonText<T>(T);

impl<T: AsRef<[u8]>> EncodeItem for JsonText<T> {
    fn encode_into(&self, args: Args, buf: &mut Vec<u8>) -> Result<(), String> {
        args.encode_raw(self.0.as_ref(), buf)
    }
}

impl<I: Iterator<Item: AsRef<[u8]>>> Iterator for JsonItems<I> {
    type Item = JsonText<I::Item>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(JsonText)
    }

    // What is in hand decides how many tiny items may travel together.
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// A lazy job with raw JSON in and out, made by [`Func::imap_json`](crate::Func::imap_json)
/// and its kin: each outcome is `(index, result JSON or error)`, in input
/// order or in completion order as the method says.
///
/// It is not an `Iterator`: each outcome's JSON is borrowed from the
/// stream until the next call to [`next`](JsonStream::next), so that none
/// is copied on its way from the worker's pipe to the caller.
pub struct JsonStream<I> {
    raw: RawStream<JsonItems<I>>,
}

impl<I: Iterator<Item: AsRef<[u8]>>> JsonStream<I> {
    pub(crate) fn new(raw: RawStream<JsonItems<I>>) -> Self {
        JsonStream { raw }
    }

    /// The next outcome, waiting for it if need be; `None` once every item
    /// is answered. Input is pulled from the items' iterator only while
    /// waiting for outcomes, and only as far as the stream's window.
    #[allow(clippy::should_implement_trait)] // a lending iterator: the JSON is borrowed
    pub fn next(&mut self) -> Option<(usize, Result<&[u8], TaskError>)> {
        self.raw.next()
    }

    /// Whether [`next`](JsonStream::next) would return without waiting for
    /// a worker (in input order: only when it is the next item's turn). A
    /// front end that writes results out can flush its output when this is
    /// false, before it waits.
    pub fn has_ready(&self) -> bool {
        self.raw.has_ready()
    }
}

impl<I> std::fmt::Debug for JsonStream<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonStream").field("received", &self.raw.feed.received).finish_non_exhaustive()
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

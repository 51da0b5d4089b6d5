//! How a job's items become chunks, and where their outcomes go: collected
//! into a `Vec` (map, starmap, apply and their async forms) or streamed to an
//! iterator (imap, imap_unordered).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::async_result::Core;
use crate::batch::Batch;
use crate::dispatch::{Callbacks, Chunk, Sink};
use crate::error::TaskError;
use crate::protocol::ChunkEncoder;

/// How an item becomes a call's input: its JSON argument array (ABI v1),
/// or a WASI command's stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Args {
    /// map/imap: the item `x` is the one argument, `[x]`.
    Wrap,
    /// starmap/apply: the item is the argument array itself.
    AsIs,
    /// map/imap of a WASI command: the item itself, whatever it is.
    Item,
}

impl Args {
    /// Appends the argument array for `item` to `buf`.
    pub fn encode<A: Serialize + ?Sized>(self, item: &A, buf: &mut Vec<u8>) -> Result<(), String> {
        let start = buf.len();
        if self == Args::Wrap {
            buf.push(b'[');
        }
        serde_json::to_writer(&mut *buf, item).map_err(|e| e.to_string())?;
        match self {
            Args::Wrap => buf.push(b']'),
            Args::Item => {}
            // `()` serializes as `null`: in Rust it means no arguments, as
            // Python's `args=()` does.
            Args::AsIs if &buf[start..] == b"null" => {
                buf.truncate(start);
                buf.extend_from_slice(b"[]");
            }
            Args::AsIs => {
                let json = &buf[start..];
                if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[') {
                    let shown = String::from_utf8_lossy(&json[..json.len().min(40)]).into_owned();
                    return Err(format!("the arguments must be a JSON array, got `{shown}`"));
                }
            }
        }
        Ok(())
    }

    /// Appends the argument array for an item that is JSON already (checked
    /// by whoever read it): no serializer, a copy.
    pub fn encode_raw(self, json: &[u8], buf: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Args::Wrap => {
                buf.push(b'[');
                buf.extend_from_slice(json);
                buf.push(b']');
            }
            Args::AsIs if json.first() != Some(&b'[') => {
                let shown = String::from_utf8_lossy(&json[..json.len().min(40)]).into_owned();
                return Err(format!("the arguments must be a JSON array, got `{shown}`"));
            }
            Args::AsIs | Args::Item => buf.extend_from_slice(json),
        }
        Ok(())
    }
}

/// A job's item as the chunker sees it: something that writes its call's
/// input into a chunk frame. Every `Serialize` value is one (serde writes
/// it); the command line's items, JSON it read and checked already, are
/// another (copied as they are, with no serializer per item).
pub(crate) trait EncodeItem {
    /// Appends this item's input, passed as `args` says, to `buf`.
    fn encode_into(&self, args: Args, buf: &mut Vec<u8>) -> Result<(), String>;
}

impl<T: Serialize> EncodeItem for T {
    fn encode_into(&self, args: Args, buf: &mut Vec<u8>) -> Result<(), String> {
        args.encode(self, buf)
    }
}

/// Turns a job's items into chunks, numbering them from 0.
pub(crate) struct Chunker {
    pub sink: Arc<dyn Sink>,
    pub func: Arc<str>,
    pub args: Args,
    pub next_index: usize,
}

impl Chunker {
    /// Takes up to `n` items and encodes them into a chunk. An item whose
    /// arguments cannot be encoded is delivered as its error instead. Returns
    /// the chunk (`None` if no item made it) and how many items were taken.
    pub fn chunk<A: EncodeItem>(&mut self, items: &mut impl Iterator<Item = A>, n: usize) -> (Option<Chunk>, usize) {
        let mut encoder = ChunkEncoder::new(&self.func);
        let mut taken = 0;
        for item in items.take(n) {
            let index = self.next_index;
            self.next_index += 1;
            taken += 1;
            if let Err(message) = encoder.push(index as u64, |buf| item.encode_into(self.args, buf)) {
                self.sink.deliver(index, Err(TaskError::Arguments { index, func: self.func.to_string(), message }));
            }
        }
        // Arguments errors delivered above reach a streaming job now.
        self.sink.flush();
        let chunk = (!encoder.is_empty()).then(|| Chunk {
            sink: Arc::clone(&self.sink),
            func: Arc::clone(&self.func),
            count: encoder.len(),
            frame: encoder.finish().into(),
            attempts: 0,
        });
        (chunk, taken)
    }
}

/// Python's default chunksize for `map`: `ceil(n / (4 × workers))`, at least 1.
pub(crate) fn default_chunksize(items: usize, workers: usize) -> usize {
    items.div_ceil(4 * workers.max(1)).max(1)
}

/// Collects a job's results by index and completes its [`Core`] with all of
/// them, or with the first error to arrive.
pub(crate) struct Collect<R, T> {
    core: Arc<Core<T>>,
    callbacks: Callbacks,
    func: Arc<str>,
    results: Mutex<Vec<Option<R>>>,
    remaining: AtomicUsize,
    finish: fn(Vec<R>) -> T,
}

impl<R: DeserializeOwned + Send + 'static, T: Send + 'static> Collect<R, T> {
    /// A collector for `items` results; `finish` turns them into the job's value.
    pub fn new(
        core: Arc<Core<T>>,
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
    tx: Sender<Batch>,
    pending: Mutex<Batch>,
    dropped: AtomicBool,
}

impl Stream {
    pub fn new(tx: Sender<Batch>) -> Arc<Stream> {
        Arc::new(Stream { tx, pending: Mutex::new(Batch::default()), dropped: AtomicBool::new(false) })
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

    fn deliver_batch(&self, batch: Batch) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).append(batch);
    }

    fn is_done(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    fn flush(&self) {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !batch.is_empty() {
            // The iterator may be gone; then nobody wants the outcomes.
            let _ = self.tx.send(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_default_chunksize() {
        assert_eq!(default_chunksize(1000, 4), 63);
        assert_eq!(default_chunksize(5, 4), 1);
        assert_eq!(default_chunksize(0, 4), 1);
        assert_eq!(default_chunksize(16, 2), 2);
        assert_eq!(default_chunksize(17, 2), 3);
    }

    #[test]
    fn argument_arrays() {
        let mut buf = Vec::new();
        Args::Wrap.encode(&5, &mut buf).unwrap();
        assert_eq!(buf, b"[5]");
        buf.clear();
        Args::AsIs.encode(&(2, 3), &mut buf).unwrap();
        assert_eq!(buf, b"[2,3]");
        buf.clear();
        buf.clear();
        Args::AsIs.encode(&(), &mut buf).unwrap();
        assert_eq!(buf, b"[]", "unit means no arguments");
        buf.clear();
        let err = Args::AsIs.encode(&7, &mut buf).unwrap_err();
        assert!(err.contains("must be a JSON array, got `7`"), "{err}");
        let raw = serde_json::value::RawValue::from_string(" [1, 2]".into()).unwrap();
        buf.clear();
        Args::AsIs.encode(&raw, &mut buf).unwrap();
        assert_eq!(buf, b"[1, 2]");
        // A WASI command's stdin is the item itself, an array or not.
        buf.clear();
        Args::Item.encode(&5, &mut buf).unwrap();
        assert_eq!(buf, b"5");
        buf.clear();
        Args::Item.encode(&(2, 3), &mut buf).unwrap();
        assert_eq!(buf, b"[2,3]");
    }
}

//! How a job's items become chunks: each item's call input (its JSON
//! argument array, or a WASI command's stdin), encoded into the frame a
//! worker reads, numbered from 0 within its job; and Python's default
//! chunksize.

use std::sync::Arc;

use serde::Serialize;

use super::sinks::Sink;
use crate::error::TaskError;
use crate::wire::{self, ChunkEncoder, ToWorker};

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
    fn view(&self) -> wire::ChunkView<'_> {
        match wire::decode_to_worker(&self.frame[4..]) {
            Ok(ToWorker::Chunk(view)) => view,
            _ => unreachable!("a chunk's frame is encoded by ChunkEncoder"),
        }
    }

    /// A new chunk of this one's items from `skip` on (`take` of them, or
    /// all), for running again; `None` if there are none.
    pub fn part(&self, skip: usize, take: Option<usize>, attempts: u32) -> Option<Chunk> {
        let view = self.view();
        let mut encoder = ChunkEncoder::new(&self.func);
        if view.one_by_one {
            encoder.one_by_one();
        }
        for (index, args) in view.items().skip(skip).take(take.unwrap_or(usize::MAX)).flatten() {
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
    /// Takes up to `n` items and encodes them into a chunk (a frame of
    /// one-item chunks if `one_by_one`). An item whose arguments cannot be
    /// encoded is delivered as its error instead. Returns the chunk (`None`
    /// if no item made it) and how many items were taken.
    pub fn chunk<A: EncodeItem>(
        &mut self,
        items: &mut impl Iterator<Item = A>,
        n: usize,
        one_by_one: bool,
    ) -> (Option<Chunk>, usize) {
        let mut encoder = ChunkEncoder::new(&self.func);
        if one_by_one {
            encoder.one_by_one();
        }
        let mut taken = 0;
        let mut refused = false;
        for item in items.take(n) {
            let index = self.next_index;
            self.next_index += 1;
            taken += 1;
            if let Err(message) = encoder.push(index as u64, |buf| item.encode_into(self.args, buf)) {
                self.sink.deliver(index, Err(TaskError::Arguments { index, func: self.func.to_string(), message }));
                refused = true;
            }
        }
        // Arguments errors delivered above reach a streaming job now. (Only
        // then: a flush takes the sink's lock, which the reader threads
        // share, and a chunk of one item would take it every item.)
        if refused {
            self.sink.flush();
        }
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
pub fn default_chunksize(items: usize, workers: usize) -> usize {
    items.div_ceil(4 * workers.max(1)).max(1)
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

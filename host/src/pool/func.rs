//! [`Func`]: one task export of a pool with per-call settings, and every
//! way to call it: collected (map, starmap, apply and their async forms),
//! lazy (imap and its kin), and raw JSON in and out for front ends that
//! pass results on without decoding them.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Pool;
use super::async_result::{AsyncResult, JobState, OnError, OnSuccess};
use super::feed::Feed;
use super::imap::{Imap, ImapUnordered, JsonItems, JsonStream, RawStream};
use crate::dispatch::chunk::{Args, Chunker, EncodeItem, default_chunksize};
use crate::dispatch::sinks::Collect;
use crate::dispatch::slot::WINDOW;
use crate::error::{MapError, SubmitError, TaskError};
use crate::module::ModuleMode;

/// One task export of a [`Pool`], with per-call settings; made by [`Pool::func`].
///
/// ```no_run
/// # let pool = rpool_wasm::Pool::new("task.wasm")?;
/// let squares: Vec<i64> = pool.func("square").chunksize(100).map(0..1000)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Func<'p> {
    pool: &'p Pool,
    name: String,
    chunksize: Option<usize>,
}

impl<'p> Func<'p> {
    pub(super) fn new(pool: &'p Pool, name: &str) -> Func<'p> {
        Func { pool, name: name.to_string(), chunksize: None }
    }

    /// How many items travel to a worker together (Python's `chunksize`).
    ///
    /// Default: `ceil(n / (4 × workers))` for map, starmap and their async
    /// forms; 1 for imap and imap_unordered, as in Python.
    pub fn chunksize(mut self, chunksize: usize) -> Func<'p> {
        self.chunksize = Some(chunksize.max(1));
        self
    }

    fn resolve(&self) -> Result<Arc<str>, SubmitError> {
        self.pool.module.check_task(&self.name)?;
        Ok(Arc::from(self.name.as_str()))
    }

    /// See [`Pool::map`].
    pub fn map<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, MapError> {
        Ok(self.map_async(items)?.get()?)
    }

    /// See [`Pool::starmap`].
    pub fn starmap<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, MapError> {
        Ok(self.starmap_async(items)?.get()?)
    }

    /// See [`Pool::apply`].
    pub fn apply<A: Serialize, R: DeserializeOwned + Send + 'static>(&self, args: A) -> Result<R, MapError> {
        Ok(self.apply_async(args)?.get()?)
    }

    /// See [`Pool::map_async`].
    pub fn map_async<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        items: impl IntoIterator<Item = A>,
    ) -> Result<AsyncResult<Vec<R>>, SubmitError> {
        self.collect(self.item_args(), items, |all| all, None, None)
    }

    /// See [`Pool::starmap_async`].
    pub fn starmap_async<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        items: impl IntoIterator<Item = A>,
    ) -> Result<AsyncResult<Vec<R>>, SubmitError> {
        self.collect(Args::AsIs, items, |all| all, None, None)
    }

    /// See [`Pool::apply_async`].
    pub fn apply_async<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        args: A,
    ) -> Result<AsyncResult<R>, SubmitError> {
        self.collect(Args::AsIs, [args], take_one, None, None)
    }

    /// `map_async` with Python's `callback` and `error_callback`: one of them
    /// runs, on the pool's callback thread, before the result is ready.
    pub fn map_async_with<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        items: impl IntoIterator<Item = A>,
        callback: impl FnOnce(&Vec<R>) + Send + 'static,
        error_callback: impl FnOnce(&TaskError) + Send + 'static,
    ) -> Result<AsyncResult<Vec<R>>, SubmitError> {
        self.collect(self.item_args(), items, |all| all, Some(Box::new(callback)), Some(Box::new(error_callback)))
    }

    /// `starmap_async` with callbacks, as [`map_async_with`](Self::map_async_with).
    pub fn starmap_async_with<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        items: impl IntoIterator<Item = A>,
        callback: impl FnOnce(&Vec<R>) + Send + 'static,
        error_callback: impl FnOnce(&TaskError) + Send + 'static,
    ) -> Result<AsyncResult<Vec<R>>, SubmitError> {
        self.collect(Args::AsIs, items, |all| all, Some(Box::new(callback)), Some(Box::new(error_callback)))
    }

    /// `apply_async` with callbacks, as [`map_async_with`](Self::map_async_with).
    pub fn apply_async_with<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        args: A,
        callback: impl FnOnce(&R) + Send + 'static,
        error_callback: impl FnOnce(&TaskError) + Send + 'static,
    ) -> Result<AsyncResult<R>, SubmitError> {
        self.collect(Args::AsIs, [args], take_one, Some(Box::new(callback)), Some(Box::new(error_callback)))
    }

    /// See [`Pool::imap`].
    pub fn imap<I: IntoIterator<Item: Serialize>, R: DeserializeOwned>(
        &self,
        items: I,
    ) -> Result<Imap<I::IntoIter, R>, SubmitError> {
        Ok(Imap::new(self.raw_stream(items, self.item_args(), true)?))
    }

    /// See [`Pool::imap_unordered`].
    pub fn imap_unordered<I: IntoIterator<Item: Serialize>, R: DeserializeOwned>(
        &self,
        items: I,
    ) -> Result<ImapUnordered<I::IntoIter, R>, SubmitError> {
        Ok(ImapUnordered::new(self.raw_stream(items, self.item_args(), false)?))
    }

    /// Lazy, ordered `starmap`: each item is the argument array. (Python has
    /// no `istarmap`; it is `imap` with `starmap`'s call.)
    pub fn istarmap<I: IntoIterator<Item: Serialize>, R: DeserializeOwned>(
        &self,
        items: I,
    ) -> Result<Imap<I::IntoIter, R>, SubmitError> {
        Ok(Imap::new(self.raw_stream(items, Args::AsIs, true)?))
    }

    /// Lazy `starmap` in completion order, as [`istarmap`](Self::istarmap).
    pub fn istarmap_unordered<I: IntoIterator<Item: Serialize>, R: DeserializeOwned>(
        &self,
        items: I,
    ) -> Result<ImapUnordered<I::IntoIter, R>, SubmitError> {
        Ok(ImapUnordered::new(self.raw_stream(items, Args::AsIs, false)?))
    }

    /// Raw JSON in and out, lazily and in input order: like [`imap`](Self::imap),
    /// but each item is JSON text already (`"5"`, `"[1,2]"`, `"\"a\""`),
    /// passed to the task as it is, and each outcome is the result JSON the
    /// worker sent (checked there), not decoded. For front ends that read
    /// JSON and write it out again (the `rpool-wasm` command does), this
    /// costs no serializer or parser per item.
    ///
    /// An item must be one valid JSON value; it is not checked here (the
    /// task would get invalid input and fail that item).
    ///
    /// The items are pulled on a thread of their own (so they and their
    /// iterator must be `Send`): an input that waits for its items — a
    /// pipe, a socket, `tail -f` — never holds up a result already in, and
    /// each item is submitted as soon as it arrives (with a chunksize above
    /// 1, as soon as its chunk is full or the input ends). An iterator whose
    /// `size_hint` says it holds all its items, at most 4096 of them (an
    /// array, a `Vec`), is fed without that thread: its items never wait.
    ///
    /// ```
    /// # rpool_wasm::run_worker_if_requested();
    /// # let module = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/wat/square.wat");
    /// # let cache = tempfile::tempdir()?;
    /// # let pool = rpool_wasm::Pool::builder(module).workers(2)
    /// #     .worker_program(std::env::current_exe()?).cache_dir(cache.path()).build()?;
    /// let mut stream = pool.func("square").imap_json(["3", "-4"])?;
    /// let mut results = Vec::new();
    /// while let Some((index, outcome)) = stream.next() {
    ///     results.push((index, String::from_utf8(outcome?.to_vec())?));
    /// }
    /// assert_eq!(results, [(0, "9".to_string()), (1, "16".to_string())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn imap_json<I: IntoIterator<Item: AsRef<[u8]> + Send, IntoIter: Send + 'static>>(
        &self,
        items: I,
    ) -> Result<JsonStream<I::IntoIter>, SubmitError> {
        self.json_stream(items, self.item_args(), true)
    }

    /// Raw JSON, as [`imap_json`](Self::imap_json), in completion order.
    pub fn imap_unordered_json<I: IntoIterator<Item: AsRef<[u8]> + Send, IntoIter: Send + 'static>>(
        &self,
        items: I,
    ) -> Result<JsonStream<I::IntoIter>, SubmitError> {
        self.json_stream(items, self.item_args(), false)
    }

    /// Raw JSON, as [`imap_json`](Self::imap_json), where each item is the
    /// argument array (a starmap); an item that is not an array fails.
    pub fn istarmap_json<I: IntoIterator<Item: AsRef<[u8]> + Send, IntoIter: Send + 'static>>(
        &self,
        items: I,
    ) -> Result<JsonStream<I::IntoIter>, SubmitError> {
        self.json_stream(items, Args::AsIs, true)
    }

    /// Raw JSON starmap, as [`istarmap_json`](Self::istarmap_json), in completion order.
    pub fn istarmap_unordered_json<I: IntoIterator<Item: AsRef<[u8]> + Send, IntoIter: Send + 'static>>(
        &self,
        items: I,
    ) -> Result<JsonStream<I::IntoIter>, SubmitError> {
        self.json_stream(items, Args::AsIs, false)
    }

    fn json_stream<I: IntoIterator<Item: AsRef<[u8]> + Send, IntoIter: Send + 'static>>(
        &self,
        items: I,
        args: Args,
        ordered: bool,
    ) -> Result<JsonStream<I::IntoIter>, SubmitError> {
        let (func, chunksize, window) = self.lazy_job()?;
        let feed =
            Feed::for_input(Arc::clone(&self.pool.state), JsonItems(items.into_iter()), func, args, chunksize, window);
        Ok(JsonStream::new(RawStream::new(feed, ordered)))
    }

    /// How map and imap pass an item: as the one argument, `[x]` (ABI v1),
    /// or to a WASI command, as the item itself, its stdin.
    fn item_args(&self) -> Args {
        match self.pool.module.mode {
            ModuleMode::Command => Args::Item,
            ModuleMode::Abi | ModuleMode::Component => Args::Wrap,
        }
    }

    /// A lazy job's outcomes as workers sent them, in input order or not,
    /// with its items pulled between batches of outcomes.
    fn raw_stream<I: IntoIterator<Item: EncodeItem>>(
        &self,
        items: I,
        args: Args,
        ordered: bool,
    ) -> Result<RawStream<I::IntoIter>, SubmitError> {
        let (func, chunksize, window) = self.lazy_job()?;
        let feed = Feed::here(Arc::clone(&self.pool.state), items.into_iter(), func, args, chunksize, window);
        Ok(RawStream::new(feed, ordered))
    }

    /// Starts a lazy job: its export, its chunksize, and the window that
    /// keeps every worker's chunks in flight full with one more queued
    /// behind each.
    fn lazy_job(&self) -> Result<(Arc<str>, usize, usize), SubmitError> {
        let func = self.resolve()?;
        self.pool.state.begin_feeder()?;
        let chunksize = self.chunksize.unwrap_or(1);
        Ok((func, chunksize, chunksize * self.pool.workers * (WINDOW + 1)))
    }

    fn collect<A: Serialize, R: DeserializeOwned + Send + 'static, T: Send + 'static>(
        &self,
        args: Args,
        items: impl IntoIterator<Item = A>,
        finish: fn(Vec<R>) -> T,
        on_success: Option<OnSuccess<T>>,
        on_error: Option<OnError>,
    ) -> Result<AsyncResult<T>, SubmitError> {
        let func = self.resolve()?;
        if self.pool.state.is_closed() {
            return Err(SubmitError::NotRunning);
        }
        // Python materializes the input of map too: its length sets the chunksize.
        let items: Vec<A> = items.into_iter().collect();
        let chunksize = self.chunksize.unwrap_or_else(|| default_chunksize(items.len(), self.pool.workers));
        let core = JobState::new(items.len(), on_success, on_error);
        let sink =
            Collect::new(Arc::clone(&core), self.pool.state.callbacks.clone(), Arc::clone(&func), items.len(), finish);
        let mut chunker = Chunker { sink: sink.clone(), func, args, next_index: 0 };
        let mut items = items.into_iter();
        let mut left = items.len();
        // Chunks are encoded as they are queued, so workers start on the
        // first while the rest are still being encoded.
        self.pool.state.submit_job(std::iter::from_fn(|| {
            while left > 0 {
                let (chunk, taken) = chunker.chunk(&mut items, chunksize, false);
                left -= taken;
                if chunk.is_some() {
                    return chunk;
                }
            }
            None
        }))?;
        Ok(AsyncResult::new(core))
    }
}

fn take_one<R>(mut all: Vec<R>) -> R {
    all.pop().expect("apply has exactly one item")
}

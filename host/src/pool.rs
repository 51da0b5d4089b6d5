//! [`Pool`]: the handle, with Python's methods; and [`Func`], one task
//! export with per-call settings (chunksize, callbacks).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::async_result::{AsyncResult, Core, OnError, OnSuccess};
use crate::builder::PoolBuilder;
use crate::dispatch::Shared;
use crate::error::{ExportError, JoinError, MapError, SubmitError, TaskError};
use crate::imap::{Imap, ImapUnordered, RawStream};
use crate::module::TaskModule;
use crate::sinks::{Args, Chunker, Collect, EncodeItem, default_chunksize};
use crate::slot::WINDOW;

/// A pool of worker processes running one task module, like Python's
/// `multiprocessing.Pool`.
///
/// Every method names the task export to call (`"square"`), as Python's
/// names the function. The typed methods take any `Serialize` items and
/// return any `DeserializeOwned` results; use
/// `Box<serde_json::value::RawValue>` (or `&RawValue` for items) for raw
/// JSON that passes through untouched.
///
/// # Dropping
///
/// Dropping a pool terminates it, as leaving Python's `with Pool() as pool:`
/// block does: queued and running items fail with [`TaskError::NotRun`] and
/// the workers are killed. To let outstanding work finish first, call
/// [`close`](Pool::close) and [`join`](Pool::join) before dropping it.
pub struct Pool {
    shared: Arc<Shared>,
    module: TaskModule,
    workers: usize,
    initializer: Option<String>,
    slots: Mutex<Vec<JoinHandle<()>>>,
    callback_thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers)
            .field("tasks", &self.module.tasks)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn from_parts(
        shared: Arc<Shared>,
        module: TaskModule,
        workers: usize,
        initializer: Option<String>,
        slots: Vec<JoinHandle<()>>,
        callback_thread: JoinHandle<()>,
    ) -> Pool {
        Pool {
            shared,
            module,
            workers,
            initializer,
            slots: Mutex::new(slots),
            callback_thread: Mutex::new(Some(callback_thread)),
        }
    }

    /// A pool with default settings for the module at `module`
    /// (see [`PoolBuilder`] for the defaults).
    pub fn new(module: impl AsRef<Path>) -> Result<Pool, crate::BuildError> {
        PoolBuilder::new(module).build()
    }

    /// A builder for a pool running the module at `module`.
    pub fn builder(module: impl AsRef<Path>) -> PoolBuilder {
        PoolBuilder::new(module)
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The process ids of the live workers (a dead worker's replacement has a new one).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared.pids()
    }

    /// A handle that terminates this pool from another thread, such as one
    /// that handles signals: like [`terminate`](Pool::terminate), but it
    /// does not wait for the workers (the pool's owner joins them).
    pub fn terminator(&self) -> Terminator {
        Terminator { shared: Arc::clone(&self.shared) }
    }

    /// How many items were run again because their worker died while running
    /// them (see [`PoolBuilder::retries`]), over the pool's life.
    pub fn retried_items(&self) -> usize {
        self.shared.retried()
    }

    /// The module's task exports (functions of type `() -> i32`), in its order.
    pub fn task_exports(&self) -> &[String] {
        &self.module.tasks
    }

    /// The module's only task export other than the initializer, which the
    /// CLI calls when no `--func` is given.
    pub fn default_func(&self) -> Result<&str, ExportError> {
        let name = self.module.default_task(self.initializer.as_deref())?;
        Ok(self.module.tasks.iter().find(|t| **t == name).expect("default_task picks a task export"))
    }

    /// Export `name`, with per-call settings: `pool.func("f").chunksize(10).map(items)`.
    pub fn func(&self, name: &str) -> Func<'_> {
        Func { pool: self, name: name.to_string(), chunksize: None }
    }

    /// Calls `func(x)` for each item `x` and returns the results in input
    /// order, or the first item error to arrive (Python's `map`).
    /// The chunksize is Python's default, `ceil(n / (4 × workers))`.
    pub fn map<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        func: &str,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, MapError> {
        self.func(func).map(items)
    }

    /// Calls `func(*args)` for each item, which must serialize to a JSON
    /// array (a tuple, say): Python's `starmap`.
    pub fn starmap<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        func: &str,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, MapError> {
        self.func(func).starmap(items)
    }

    /// Lazy, ordered `map` (Python's `imap`, chunksize 1): see [`Imap`].
    pub fn imap<I: IntoIterator<Item: Serialize>, R: DeserializeOwned>(
        &self,
        func: &str,
        items: I,
    ) -> Result<Imap<I::IntoIter, R>, SubmitError> {
        self.func(func).imap(items)
    }

    /// Lazy `map` in completion order (Python's `imap_unordered`, chunksize 1):
    /// see [`ImapUnordered`].
    pub fn imap_unordered<I: IntoIterator<Item: Serialize>, R: DeserializeOwned>(
        &self,
        func: &str,
        items: I,
    ) -> Result<ImapUnordered<I::IntoIter, R>, SubmitError> {
        self.func(func).imap_unordered(items)
    }

    /// Calls `func(*args)` once and waits for the result (Python's `apply`).
    /// `args` serializes to the argument array: a tuple such as `(1, 2)`, or
    /// `()` for none.
    pub fn apply<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        func: &str,
        args: A,
    ) -> Result<R, MapError> {
        self.func(func).apply(args)
    }

    /// Calls `func(*args)` once without waiting (Python's `apply_async`).
    pub fn apply_async<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        func: &str,
        args: A,
    ) -> Result<AsyncResult<R>, SubmitError> {
        self.func(func).apply_async(args)
    }

    /// `map` without waiting (Python's `map_async`).
    pub fn map_async<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        func: &str,
        items: impl IntoIterator<Item = A>,
    ) -> Result<AsyncResult<Vec<R>>, SubmitError> {
        self.func(func).map_async(items)
    }

    /// `starmap` without waiting (Python's `starmap_async`).
    pub fn starmap_async<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        func: &str,
        items: impl IntoIterator<Item = A>,
    ) -> Result<AsyncResult<Vec<R>>, SubmitError> {
        self.func(func).starmap_async(items)
    }

    /// Takes no new jobs; queued jobs (and `imap` iterators still running)
    /// finish, then the workers exit (Python's `close`).
    pub fn close(&self) {
        self.shared.close();
    }

    /// Stops now: queued and running items fail with [`TaskError::NotRun`],
    /// the workers are killed, and this returns once they are gone
    /// (Python's `terminate`). It never waits for a task.
    pub fn terminate(&self) {
        self.abort("the pool was terminated");
    }

    pub(crate) fn abort(&self, reason: &str) {
        self.shared.stop(reason);
        self.join_slots();
    }

    /// Waits for the workers to exit and for every callback to have run.
    /// Call [`close`](Pool::close) or [`terminate`](Pool::terminate) first,
    /// as in Python; a running pool is an error (it would wait forever).
    /// Calling it from inside a callback would wait for itself: don't.
    pub fn join(&self) -> Result<(), JoinError> {
        if !self.shared.is_closed() {
            return Err(JoinError::StillRunning);
        }
        self.join_slots();
        // Every job is complete once the slots are gone; a marker through the
        // callback queue returns once every callback scheduled has run.
        let (done_tx, done) = crossbeam_channel::bounded(1);
        self.shared.callbacks.run(Box::new(move || {
            let _ = done_tx.send(());
        }));
        let _ = done.recv();
        Ok(())
    }

    fn join_slots(&self) {
        let slots = std::mem::take(&mut *self.slots.lock().unwrap_or_else(|e| e.into_inner()));
        for slot in slots {
            let _ = slot.join();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
        let _ = self.join();
        // The callback thread ends when the last job holding its queue does.
        drop(self.callback_thread.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

/// Terminates a [`Pool`] from any thread; made by [`Pool::terminator`].
#[derive(Clone)]
pub struct Terminator {
    shared: Arc<Shared>,
}

impl Terminator {
    /// Stops the pool: outstanding items fail with [`TaskError::NotRun`]
    /// carrying `reason`, and the workers are killed.
    pub fn terminate(&self, reason: &str) {
        self.shared.stop(reason);
    }
}

impl std::fmt::Debug for Terminator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Terminator")
    }
}

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

    /// A lazy map (`star`: starmap) whose outcomes are the JSON bytes the
    /// workers sent, for callers that pass results on without decoding them.
    pub(crate) fn raw_map<I: IntoIterator<Item: EncodeItem>>(
        &self,
        items: I,
        star: bool,
        ordered: bool,
    ) -> Result<RawStream<I::IntoIter>, SubmitError> {
        self.raw_stream(items, if star { Args::AsIs } else { self.item_args() }, ordered)
    }

    /// How map and imap pass an item: as the one argument, `[x]` (ABI v1),
    /// or to a WASI command, as the item itself, its stdin.
    fn item_args(&self) -> Args {
        match self.pool.module.mode {
            crate::module::ModuleMode::Command => Args::Item,
            crate::module::ModuleMode::Abi => Args::Wrap,
        }
    }

    /// A lazy job's outcomes as workers sent them, in input order or not:
    /// enough chunks in flight to keep every worker's window full, with one
    /// more queued behind each.
    pub(crate) fn raw_stream<I: IntoIterator<Item: EncodeItem>>(
        &self,
        items: I,
        args: Args,
        ordered: bool,
    ) -> Result<RawStream<I::IntoIter>, SubmitError> {
        let func = self.resolve()?;
        self.pool.shared.begin_feeder()?;
        let chunksize = self.chunksize.unwrap_or(1);
        let window = chunksize * self.pool.workers * (WINDOW + 1);
        Ok(RawStream::new(Arc::clone(&self.pool.shared), items.into_iter(), func, args, chunksize, window, ordered))
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
        if self.pool.shared.is_closed() {
            return Err(SubmitError::NotRunning);
        }
        // Python materializes the input of map too: its length sets the chunksize.
        let items: Vec<A> = items.into_iter().collect();
        let chunksize = self.chunksize.unwrap_or_else(|| default_chunksize(items.len(), self.pool.workers));
        let core = Core::new(items.len(), on_success, on_error);
        let sink =
            Collect::new(Arc::clone(&core), self.pool.shared.callbacks.clone(), Arc::clone(&func), items.len(), finish);
        let mut chunker = Chunker { sink: sink.clone(), func, args, next_index: 0 };
        let mut items = items.into_iter();
        let mut left = items.len();
        // Chunks are encoded as they are queued, so workers start on the
        // first while the rest are still being encoded.
        self.pool.shared.submit_job(std::iter::from_fn(|| {
            while left > 0 {
                let (chunk, taken) = chunker.chunk(&mut items, chunksize);
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

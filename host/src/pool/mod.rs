//! The public pool API: [`Pool`], the handle with Python's methods (here);
//! [`Func`], one task export with per-call settings ([`func`]); the
//! builder and its start-up ([`builder`], [`start`]); what asynchronous
//! and lazy calls return ([`async_result`], [`imap`]); and how the worker
//! program is found ([`worker_program`]).

pub(crate) mod async_result;
pub(crate) mod builder;
mod feed;
mod func;
pub(crate) mod imap;
mod start;
pub(crate) mod worker_program;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use func::Func;

use crate::dispatch::PoolState;
use crate::error::{ExportError, JoinError, MapError, SubmitError};
use crate::module::TaskModule;
use async_result::AsyncResult;
use builder::PoolBuilder;
use imap::{Imap, ImapUnordered};

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
/// block does: queued and running items fail with [`TaskError::NotRun`](crate::TaskError::NotRun) and
/// the workers are killed. To let outstanding work finish first, call
/// [`close`](Pool::close) and [`join`](Pool::join) before dropping it; a
/// program that exits next can call [`close_detached`](Pool::close_detached)
/// instead of `close`, and `join` does not wait for the workers' processes.
pub struct Pool {
    state: Arc<PoolState>,
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
        state: Arc<PoolState>,
        module: TaskModule,
        workers: usize,
        initializer: Option<String>,
        slots: Vec<JoinHandle<()>>,
        callback_thread: JoinHandle<()>,
    ) -> Pool {
        Pool {
            state,
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
        self.state.pids()
    }

    /// A handle that terminates this pool from another thread, such as one
    /// that handles signals: like [`terminate`](Pool::terminate), but it
    /// does not wait for the workers (the pool's owner joins them).
    pub fn terminator(&self) -> Terminator {
        Terminator { state: Arc::clone(&self.state) }
    }

    /// How many items were run again because their worker died while running
    /// them (see [`PoolBuilder::retries`]), over the pool's life.
    pub fn retried_items(&self) -> usize {
        self.state.retried()
    }

    /// The module's task exports (functions of type `() -> i32`), in its order.
    pub fn task_exports(&self) -> &[String] {
        &self.module.tasks
    }

    /// The module's only task export other than the initializer: the one to
    /// call when the caller names none (as `rpool-wasm run` does without `--func`).
    pub fn default_func(&self) -> Result<&str, ExportError> {
        let name = self.module.default_task(self.initializer.as_deref())?;
        Ok(self.module.tasks.iter().find(|t| **t == name).expect("default_task picks a task export"))
    }

    /// Python's default chunksize for a `map` of `items` items on this pool:
    /// `ceil(items / (4 × workers))`, at least 1 (see [`default_chunksize`](crate::default_chunksize)).
    pub fn default_chunksize(&self, items: usize) -> usize {
        crate::dispatch::chunk::default_chunksize(items, self.workers)
    }

    /// Export `name`, with per-call settings: `pool.func("f").chunksize(10).map(items)`.
    pub fn func(&self, name: &str) -> Func<'_> {
        Func::new(self, name)
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
        self.state.close();
    }

    /// [`close`](Pool::close), for a program that exits once the pool's
    /// work is done (as the `rpool-wasm` command does): the workers' processes
    /// are not waited for.
    ///
    /// Each worker is told to exit once the work runs out, as with `close`;
    /// [`join`](Pool::join) then returns once every worker's output has
    /// ended, so that everything it wrote to stderr has been passed on, and
    /// every callback has run. The processes end on their own a moment
    /// later (a worker's kernel tear-down, the unmapping of its memory, is
    /// the part of its exit that takes time): a thread of the pool reaps
    /// them while this program lives, and the system does if it exits
    /// first. Called right after a program's last job is submitted, the
    /// workers retire while it writes out the results (on two cores, up to
    /// about 0.4 ms off the end of a short run, measured within the noise).
    ///
    /// ```
    /// # rpool_wasm::run_worker_if_requested();
    /// # let module = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/wat/square.wat");
    /// # let cache = tempfile::tempdir()?;
    /// # let pool = rpool_wasm::Pool::builder(module).workers(2)
    /// #     .worker_program(std::env::current_exe()?).cache_dir(cache.path()).build()?;
    /// let squares = pool.imap("square", 1u64..=3)?;
    /// pool.close_detached();
    /// for square in squares {
    ///     let square: u64 = square?;
    ///     println!("{square}");
    /// }
    /// pool.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_detached(&self) {
        self.state.detach_retired();
        self.state.close();
    }

    /// Stops now: queued and running items fail with [`TaskError::NotRun`](crate::TaskError::NotRun),
    /// the workers are killed, and this returns once they are gone
    /// (Python's `terminate`). It never waits for a task.
    pub fn terminate(&self) {
        self.abort("the pool was terminated");
    }

    pub(crate) fn abort(&self, reason: &str) {
        self.state.stop(reason);
        self.join_slots();
    }

    /// Waits for the workers to exit and for every callback to have run.
    /// Call [`close`](Pool::close) or [`terminate`](Pool::terminate) first,
    /// as in Python; a running pool is an error (it would wait forever).
    /// Calling it from inside a callback would wait for itself: don't.
    pub fn join(&self) -> Result<(), JoinError> {
        if !self.state.is_closed() {
            return Err(JoinError::StillRunning);
        }
        self.join_slots();
        reap_in_background(self.state.take_detached());
        // Every job is complete once the slots are gone; a marker through the
        // callback queue returns once every callback scheduled has run.
        let (done_tx, done) = crossbeam_channel::bounded(1);
        self.state.callbacks.run(Box::new(move || {
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

/// Reaps the workers left unreaped by [`Pool::close_detached`]: at once
/// those that have ended, the others on a thread of their own.
fn reap_in_background(mut left: Vec<crate::dispatch::slot::WorkerChild>) {
    left.retain_mut(|child| !child.try_wait());
    if !left.is_empty() {
        // Without a thread, the system reaps them when this program exits.
        let _ = std::thread::Builder::new().name("rpool-reaper".into()).spawn(move || {
            for mut child in left {
                let _ = child.wait();
            }
        });
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
    state: Arc<PoolState>,
}

impl Terminator {
    /// Stops the pool: outstanding items fail with [`TaskError::NotRun`](crate::TaskError::NotRun)
    /// carrying `reason`, and the workers are killed.
    pub fn terminate(&self, reason: &str) {
        self.state.stop(reason);
    }
}

impl std::fmt::Debug for Terminator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Terminator")
    }
}

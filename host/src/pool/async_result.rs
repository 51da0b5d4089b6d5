//! [`AsyncResult`]: the handle `apply_async`, `map_async` and
//! `starmap_async` return, as Python's pool does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::dispatch::Callbacks;
use crate::error::{GetTimeoutError, TaskError};

/// A success callback: it gets the job's value.
pub(crate) type OnSuccess<T> = Box<dyn FnOnce(&T) + Send>;
/// An error callback: it gets the first item error.
pub(crate) type OnError = Box<dyn FnOnce(&TaskError) + Send>;

struct State<T> {
    outcome: Option<Result<T, TaskError>>,
    /// Set once the outcome is stored and its callback has run: like
    /// Python's, a callback runs before `ready()` turns true.
    ready: bool,
    on_success: Option<OnSuccess<T>>,
    on_error: Option<OnError>,
}

/// The completion state behind an [`AsyncResult`], shared with the job's sink.
pub(crate) struct JobState<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    items_left: AtomicUsize,
}

impl<T: Send + 'static> JobState<T> {
    pub fn new(items: usize, on_success: Option<OnSuccess<T>>, on_error: Option<OnError>) -> Arc<JobState<T>> {
        Arc::new(JobState {
            state: Mutex::new(State { outcome: None, ready: false, on_success, on_error }),
            ready: Condvar::new(),
            items_left: AtomicUsize::new(items),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One item has been dealt with.
    pub fn item_done(&self) {
        let _ = self.items_left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Whether the outcome is already decided (later items do not matter).
    pub fn is_decided(&self) -> bool {
        self.lock().outcome.is_some()
    }

    /// Decides the outcome (the first call wins) and runs the matching
    /// callback on the pool's callback thread.
    pub fn complete(self: &Arc<Self>, outcome: Result<T, TaskError>, callbacks: &Callbacks) {
        let mut state = self.lock();
        if state.outcome.is_some() {
            return;
        }
        let has_callback = match &outcome {
            Ok(_) => state.on_success.is_some(),
            Err(_) => state.on_error.is_some(),
        };
        state.outcome = Some(outcome);
        if !has_callback {
            state.on_success = None;
            state.on_error = None;
            state.ready = true;
            self.ready.notify_all();
            return;
        }
        drop(state);
        let core = Arc::clone(self);
        callbacks.run(Box::new(move || core.run_callbacks()));
    }

    fn run_callbacks(&self) {
        let mut state = self.lock();
        let outcome = state.outcome.take().expect("completed before its callback");
        let (on_success, on_error) = (state.on_success.take(), state.on_error.take());
        // The lock is not held while user code runs: it may call back into
        // this result (`ready()`, say).
        drop(state);
        // A panicking callback must not take the callback thread (and every
        // later callback) with it; the panic hook has already reported it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &outcome {
            Ok(value) => on_success.map(|f| f(value)),
            Err(error) => on_error.map(|f| f(error)),
        }));
        let mut state = self.lock();
        state.outcome = Some(outcome);
        state.ready = true;
        self.ready.notify_all();
    }
}

/// The pending result of an asynchronous call, like Python's `AsyncResult`.
///
/// `T` is the call's value: `R` for [`Pool::apply_async`](crate::Pool::apply_async),
/// `Vec<R>` for [`Pool::map_async`](crate::Pool::map_async) and
/// [`Pool::starmap_async`](crate::Pool::starmap_async). The error, when the
/// call fails, is the first failing item's [`TaskError`], as Python's
/// `get()` raises the first exception.
pub struct AsyncResult<T> {
    core: Arc<JobState<T>>,
}

impl<T> std::fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult").field("items_left", &self.core.items_left.load(Ordering::Acquire)).finish()
    }
}

impl<T: Send + 'static> AsyncResult<T> {
    pub(crate) fn new(core: Arc<JobState<T>>) -> AsyncResult<T> {
        AsyncResult { core }
    }

    /// Whether the call has completed (and its callback, if any, has run).
    pub fn ready(&self) -> bool {
        self.core.lock().ready
    }

    /// Whether the call completed without error; `None` while it is not
    /// ready (where Python raises `ValueError`).
    pub fn successful(&self) -> Option<bool> {
        let state = self.core.lock();
        state.ready.then(|| matches!(state.outcome, Some(Ok(_))))
    }

    /// How many items have not been dealt with yet (Python's
    /// `_number_left`, counted in items rather than chunks). A failed job
    /// may stop before reaching 0.
    pub fn items_left(&self) -> usize {
        self.core.items_left.load(Ordering::Acquire)
    }

    /// Blocks until the call is ready.
    pub fn wait(&self) {
        let mut state = self.core.lock();
        while !state.ready {
            state = self.core.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Blocks until the call is ready or `timeout` has passed; returns
    /// whether it is ready (Python's `wait(timeout)` followed by `ready()`).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.core.lock();
        while !state.ready {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.core.ready.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// Blocks until the call is ready and returns its value or its first
    /// item error.
    pub fn get(self) -> Result<T, TaskError> {
        self.wait();
        self.take()
    }

    /// Like [`get`](Self::get), but gives up after `timeout`, handing the
    /// result back in [`GetTimeoutError::Timeout`] so that it can be waited
    /// on again.
    pub fn get_timeout(self, timeout: Duration) -> Result<T, GetTimeoutError<T>> {
        if !self.wait_timeout(timeout) {
            return Err(GetTimeoutError::Timeout(self));
        }
        self.take().map_err(GetTimeoutError::Failed)
    }

    fn take(self) -> Result<T, TaskError> {
        self.core.lock().outcome.take().expect("a ready result holds its outcome until taken, and is taken once")
    }
}

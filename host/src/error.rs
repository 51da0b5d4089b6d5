//! The library's error types: one per fallible operation, each carrying the
//! context a user needs to act on it (path, export name, item index).

use std::fmt;
use std::path::PathBuf;

/// Why [`PoolBuilder::build`](crate::PoolBuilder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The task module could not be read.
    #[error("cannot read task module {path}")]
    ReadModule {
        /// The module's path.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not a WebAssembly module (nor WAT text).
    #[error("{path} is not a valid WebAssembly module: {message}")]
    InvalidModule {
        /// The module's path.
        path: PathBuf,
        /// What the validator or WAT parser said.
        message: String,
    },
    /// The module imports something the host does not provide.
    #[error(
        "{path} imports `{module}::{name}`, which the host does not provide \
         (task modules may import only `rpool` and `wasi_snapshot_preview1`; see docs/abi.md)"
    )]
    UnsupportedImport {
        /// The module's path.
        path: PathBuf,
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
    },
    /// An `rpool` import has the wrong type.
    #[error("{path} imports `rpool::{name}` with type {found}, but ABI v1 defines it as {expected}")]
    ImportType {
        /// The module's path.
        path: PathBuf,
        /// The import's field name.
        name: String,
        /// The type the module declares.
        found: String,
        /// The type the ABI defines.
        expected: String,
    },
    /// The module does not export its linear memory as `memory`.
    #[error("{path} does not export its linear memory as `memory` (required by ABI v1)")]
    NoMemory {
        /// The module's path.
        path: PathBuf,
    },
    /// The initializer names no task-shaped export.
    #[error(transparent)]
    Initializer(#[from] ExportError),
    /// The initializer arguments are not a JSON array.
    #[error("initializer arguments must be a JSON array, like Python's initargs: {message}")]
    InitArgs {
        /// What is wrong with them.
        message: String,
    },
    /// The compiled-module cache could not be written or read.
    #[error("compiled-module cache {path}: {message}")]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No worker program could be found to spawn.
    #[error("cannot find the rpool-wasm worker program: {message}")]
    WorkerNotFound {
        /// Where it was looked for.
        message: String,
    },
    /// A worker process could not be started.
    #[error("cannot start worker {worker} ({program})")]
    Spawn {
        /// The worker's index.
        worker: usize,
        /// The program that was run.
        program: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A worker could not load the module or its initializer failed.
    #[error("worker {worker} failed to start: {message}")]
    WorkerStart {
        /// The worker's index.
        worker: usize,
        /// The worker's own report (for a failing initializer: its name and message).
        message: String,
    },
    /// The worker program speaks another version of the parent–worker
    /// protocol (it is another release of rpool-wasm).
    #[error(
        "the worker program {program} speaks protocol version {theirs}, but this pool speaks version {ours}: \
         use the rpool-wasm of the same release"
    )]
    ProtocolMismatch {
        /// The worker program.
        program: PathBuf,
        /// The version the worker announced (1: a worker that predates versions).
        theirs: u32,
        /// This library's version.
        ours: u32,
    },
    /// [`PoolBuilder::workers`](crate::PoolBuilder::workers) was 0.
    #[error("a pool needs at least one worker")]
    NoWorkers,
    /// The default number of workers, from the environment, is not a number.
    #[error("{variable}={value:?} is not a number of workers")]
    BadWorkersEnv {
        /// The variable ([`WORKERS_ENV`](crate::WORKERS_ENV)).
        variable: &'static str,
        /// Its value.
        value: String,
    },
    /// [`PoolBuilder::max_tasks_per_worker`](crate::PoolBuilder::max_tasks_per_worker) was 0.
    #[error("max tasks per worker must be at least 1")]
    ZeroMaxTasks,
    /// [`PoolBuilder::timeout`](crate::PoolBuilder::timeout) was zero.
    #[error("the timeout must be longer than zero")]
    ZeroTimeout,
    /// A directory granted to tasks is not a directory on the host.
    #[error("{path} is not a directory (granted to tasks as {guest})")]
    NotADirectory {
        /// The host path.
        path: PathBuf,
        /// The path tasks would see it as.
        guest: String,
    },
    /// An initializer was set for a WASI command module, where each item
    /// runs in a fresh instance that no initializer's state would reach.
    #[error(
        "an initializer ({initializer}) needs an rpool ABI v1 module, but {module} is a WASI command \
         (it exports `_start` and no task functions): each item runs in a fresh instance, so no \
         state an initializer set up would reach the items"
    )]
    InitializerForCommand {
        /// The module.
        module: PathBuf,
        /// The initializer's name.
        initializer: String,
    },
    /// A setting of WASI command modules (their arguments, raw input) was
    /// given for an ABI v1 module, whose tasks take JSON arguments.
    #[error("{setting} is for WASI command modules; {module} is {}, whose tasks take JSON", mode.noun())]
    CommandOnly {
        /// The module.
        module: PathBuf,
        /// Which setting.
        setting: CommandSetting,
        /// What the module is.
        mode: crate::ModuleMode,
    },
    /// The broker's URL is not one (cluster mode).
    #[error("{url:?} is not a NATS server URL: {message}")]
    ClusterUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The broker could not be reached, or refused the connection (cluster mode).
    #[error("cannot reach the NATS server at {url}: {message}")]
    ClusterUnreachable {
        /// The URL, without its credentials.
        url: String,
        /// Why.
        message: String,
    },
    /// The broker answered, but a stream, bucket or object could not be set up (cluster mode).
    #[error("the NATS server at {url}: {message}")]
    Cluster {
        /// The URL, without its credentials.
        url: String,
        /// What failed.
        message: String,
    },
    /// The job's name cannot name streams and subjects (cluster mode).
    #[error("job name {name:?}: {message}")]
    JobName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// A job of this name runs with another module or other settings (cluster mode).
    #[error("job {job} on the cluster runs {message}; pick another job name, or the same command to resume it")]
    JobMismatch {
        /// The job's name.
        job: String,
        /// What differs.
        message: String,
    },
    /// The nodes that looked at the job would not run it (cluster mode).
    #[error("node {node} refused job {job}: {message}")]
    NodeRefused {
        /// The node's name.
        node: String,
        /// The job's name.
        job: String,
        /// Why.
        message: String,
    },
    /// Raw output was asked for an ABI v1 module, whose results are JSON by contract.
    #[error(
        "raw output is for WASI command modules, whose results are what they print; \
         {module} is {}, whose results are JSON", mode.noun()
    )]
    RawOutputForAbi {
        /// The module.
        module: PathBuf,
        /// What the module is.
        mode: crate::ModuleMode,
    },
}

/// A setting that only WASI command modules take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandSetting {
    /// [`PoolBuilder::command_args`](crate::PoolBuilder::command_args).
    #[error("a command line")]
    Args,
    /// [`PoolBuilder::raw_input`](crate::PoolBuilder::raw_input).
    #[error("raw input")]
    RawInput,
}

/// An export name that the module does not have as a task function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// No export of that name.
    #[error("the module has no export `{name}`; its task exports are: {}", list(.available))]
    Missing {
        /// The name asked for.
        name: String,
        /// The module's task exports (functions of type `() -> i32`).
        available: Vec<String>,
    },
    /// An export of that name exists, but it is not a task function.
    #[error("export `{name}` is {found}, but a task function must have type `() -> i32`")]
    WrongType {
        /// The name asked for.
        name: String,
        /// What the export is.
        found: String,
    },
    /// No name was given and the module does not have exactly one task export.
    #[error("the module has {} task exports, so name one: {}", .available.len(), list(.available))]
    Ambiguous {
        /// The module's task exports.
        available: Vec<String>,
    },
}

/// "once", "twice", "3 times".
fn times(n: u32) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

pub(crate) fn list(names: &[String]) -> String {
    if names.is_empty() { "(none)".to_string() } else { names.join(", ") }
}

/// Why a job could not be submitted to the pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// [`Pool::close`](crate::Pool::close) or [`Pool::terminate`](crate::Pool::terminate)
    /// was called: the pool takes no new work (Python raises `ValueError: Pool not running`).
    #[error("the pool is not running (it was closed or terminated)")]
    NotRunning,
    /// The function is not a task export of the module.
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// How one item (one call of a task function) failed.
///
/// Every variant names the item's index in its job (0 for `apply`) and the
/// export that was called, as Python's pool names the failing item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The task returned non-zero: its error message (a Rust guest's `Err` or panic).
    #[error("item {index}: {func} failed: {message}")]
    Failed {
        /// The item's index.
        index: usize,
        /// The export called.
        func: String,
        /// The task's message.
        message: String,
    },
    /// The task trapped (unreachable, out-of-bounds access, stack overflow, …).
    /// The worker rebuilt its instance before its next item.
    #[error("item {index}: {func} trapped: {message}{}", location.as_deref().unwrap_or_default())]
    Trap {
        /// The item's index.
        index: usize,
        /// The export called.
        func: String,
        /// The trap's description.
        message: String,
        /// Where in the guest it trapped, as the message shows it after the
        /// description: ` at parse ← square` (the function that trapped
        /// and the frames above it), or the whole backtrace, a frame per
        /// line (see [`PoolBuilder::backtraces`](crate::PoolBuilder::backtraces)).
        /// `None` when wasmtime recorded no frames, or when the guest
        /// reported a message of its own first (a Rust panic names its place).
        location: Option<String>,
    },
    /// The task returned success but its output was not valid JSON.
    #[error("item {index}: {func} returned invalid JSON: {message}")]
    InvalidOutput {
        /// The item's index.
        index: usize,
        /// The export called.
        func: String,
        /// What the JSON parser said.
        message: String,
    },
    /// The item's arguments could not be serialized, or a starmap/apply item is not an array.
    #[error("item {index}: invalid arguments for {func}: {message}")]
    Arguments {
        /// The item's index.
        index: usize,
        /// The export to be called.
        func: String,
        /// What is wrong.
        message: String,
    },
    /// The task's result did not deserialize into the requested Rust type.
    #[error("item {index}: cannot decode the result of {func}: {message}")]
    Decode {
        /// The item's index.
        index: usize,
        /// The export called.
        func: String,
        /// What serde said.
        message: String,
    },
    /// The worker process running the item died (killed, crashed, out of memory).
    #[error("item {index}: {func}: worker {worker} {status} while running it")]
    WorkerLost {
        /// The item's index.
        index: usize,
        /// The export called.
        func: String,
        /// The worker's index.
        worker: usize,
        /// How it died ("was killed by signal 9", "exited with code 1").
        status: String,
    },
    /// In a cluster: nodes were lost (killed, cut off) while running the
    /// item more often than [`PoolBuilder::retries`](crate::PoolBuilder::retries) allows.
    #[error("item {index}: {func}: its node was lost {} while running it", times(*.lost))]
    NodeLost {
        /// The item's index.
        index: usize,
        /// The export called.
        func: String,
        /// How many nodes were lost running it.
        lost: u32,
    },
    /// The pool was terminated (or broken by a failing worker start) before the item ran.
    #[error("item {index}: {func} did not run: {reason}")]
    NotRun {
        /// The item's index.
        index: usize,
        /// The export to be called.
        func: String,
        /// Why ("the pool was terminated").
        reason: String,
    },
}

impl TaskError {
    /// The item's index in its job (its position in the input; 0 for `apply`).
    pub fn index(&self) -> usize {
        match self {
            TaskError::Failed { index, .. }
            | TaskError::Trap { index, .. }
            | TaskError::InvalidOutput { index, .. }
            | TaskError::Arguments { index, .. }
            | TaskError::Decode { index, .. }
            | TaskError::WorkerLost { index, .. }
            | TaskError::NodeLost { index, .. }
            | TaskError::NotRun { index, .. } => *index,
        }
    }

    /// The task export the item was for.
    pub fn func(&self) -> &str {
        match self {
            TaskError::Failed { func, .. }
            | TaskError::Trap { func, .. }
            | TaskError::InvalidOutput { func, .. }
            | TaskError::Arguments { func, .. }
            | TaskError::Decode { func, .. }
            | TaskError::WorkerLost { func, .. }
            | TaskError::NodeLost { func, .. }
            | TaskError::NotRun { func, .. } => func,
        }
    }

    /// The message alone, without the item and export prefix: for a task's own
    /// error, exactly what it reported (Python's `str(exception)`).
    pub fn message(&self) -> &str {
        match self {
            TaskError::Failed { message, .. }
            | TaskError::Trap { message, .. }
            | TaskError::InvalidOutput { message, .. }
            | TaskError::Arguments { message, .. }
            | TaskError::Decode { message, .. } => message,
            TaskError::WorkerLost { status, .. } => status,
            TaskError::NodeLost { .. } => "the node running it was lost",
            TaskError::NotRun { reason, .. } => reason,
        }
    }
}

/// Why a blocking call (`map`, `starmap`, `apply`) failed: it could not be
/// submitted, or an item failed (the first failure to arrive, as Python's
/// `map` raises the first exception).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The job could not be submitted.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// An item failed.
    #[error(transparent)]
    Task(#[from] TaskError),
}

/// Why [`Pool::join`](crate::Pool::join) refused to wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// `join` waits for the workers to exit, which they do only after
    /// `close` or `terminate`; joining a running pool would wait forever
    /// (Python raises `ValueError` here too).
    #[error("join() called on a running pool: call close() or terminate() first")]
    StillRunning,
}

/// Why [`AsyncResult::get_timeout`](crate::AsyncResult::get_timeout) returned without a value.
#[non_exhaustive]
pub enum GetTimeoutError<T> {
    /// Not ready within the timeout; the result is handed back to wait again.
    Timeout(crate::AsyncResult<T>),
    /// Ready, and failed.
    Failed(TaskError),
}

impl<T> fmt::Debug for GetTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            GetTimeoutError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

impl<T> fmt::Display for GetTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetTimeoutError::Timeout(_) => f.write_str("the result was not ready within the timeout"),
            GetTimeoutError::Failed(e) => e.fmt(f),
        }
    }
}

impl<T> std::error::Error for GetTimeoutError<T> {}

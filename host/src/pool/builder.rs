//! [`PoolBuilder`]: every setting of a pool, each with its default.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::BuildError;
use crate::pool::Pool;
use crate::wasm::limits::Limits;
use crate::wasm::sandbox::DirGrant;

/// The environment variable that sets the default number of workers.
pub const WORKERS_ENV: &str = "RPOOL_WASM_WORKERS";

/// The environment variable that turns on whole backtraces in trap
/// messages (`1` or `full`); see [`PoolBuilder::backtraces`].
pub const BACKTRACE_ENV: &str = "RPOOL_WASM_BACKTRACE";

/// Configures and starts a [`Pool`], like the arguments of Python's `Pool(...)`.
///
/// ```no_run
/// use rpool_wasm::Pool;
///
/// let pool = Pool::builder("task.wasm")
///     .workers(4)
///     .initializer("init_worker", &(10,))
///     .max_tasks_per_worker(100)
///     .build()?;
/// # Ok::<(), rpool_wasm::BuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder {
    pub(super) module: PathBuf,
    pub(super) workers: Option<usize>,
    pub(super) initializer: Option<(String, Result<String, String>)>,
    pub(super) max_tasks: Option<usize>,
    pub(super) retries: u32,
    pub(super) env: Vec<(String, String)>,
    pub(super) program: Option<PathBuf>,
    pub(super) cache_dir: Option<PathBuf>,
    pub(super) limits: Limits,
    pub(super) dirs: Vec<DirGrant>,
    pub(super) raw_output: bool,
    pub(super) command_args: Vec<String>,
    pub(super) raw_input: bool,
    pub(super) full_backtraces: Option<bool>,
    /// Workers forked by [`PoolBuilder::fork_workers`], for the first build.
    pub(super) forked: Option<std::sync::Arc<crate::dispatch::fork::Forked>>,
    /// Where the pool runs when it is a cluster's (see [`PoolBuilder::nats`]).
    #[cfg(feature = "cluster")]
    pub(crate) cluster: crate::cluster::ClusterOptions,
}

impl PoolBuilder {
    /// A builder for a pool running the task module at `module` (a `.wasm`
    /// binary or `.wat` text).
    pub fn new(module: impl AsRef<Path>) -> PoolBuilder {
        PoolBuilder {
            module: module.as_ref().to_path_buf(),
            workers: None,
            initializer: None,
            max_tasks: None,
            retries: 1,
            env: Vec::new(),
            program: None,
            cache_dir: None,
            limits: Limits::default(),
            dirs: Vec::new(),
            raw_output: false,
            command_args: Vec::new(),
            raw_input: false,
            full_backtraces: None,
            forked: None,
            #[cfg(feature = "cluster")]
            cluster: crate::cluster::ClusterOptions::default(),
        }
    }

    /// The number of worker processes (Python's `processes`).
    ///
    /// Default: `$RPOOL_WASM_WORKERS` if set, else the number of available
    /// cores (`std::thread::available_parallelism`), as Python uses `cpu_count()`.
    pub fn workers(mut self, workers: usize) -> PoolBuilder {
        self.workers = Some(workers);
        self
    }

    /// The initializer export each worker runs once on its instance before
    /// its first item, with `args` (a tuple or array: Python's `initargs`)
    /// as its argument array; and again whenever the instance is rebuilt.
    /// `&()` means no arguments (`[]`), as Python's `initargs=()`.
    ///
    /// Default: none.
    pub fn initializer(mut self, name: &str, args: &impl Serialize) -> PoolBuilder {
        let args = match serde_json::to_string(args) {
            Ok(json) if json == "null" => Ok("[]".to_string()),
            other => other.map_err(|e| e.to_string()),
        };
        self.initializer = Some((name.to_string(), args));
        self
    }

    /// Like [`initializer`](Self::initializer), with the arguments as JSON
    /// text (which must be an array).
    pub fn initializer_json(mut self, name: &str, args: &str) -> PoolBuilder {
        self.initializer = Some((name.to_string(), Ok(args.to_string())));
        self
    }

    /// How many tasks (chunks, as in Python) a worker runs before it is
    /// replaced by a fresh one (Python's `maxtasksperchild`).
    ///
    /// Default: unlimited.
    pub fn max_tasks_per_worker(mut self, tasks: usize) -> PoolBuilder {
        self.max_tasks = Some(tasks);
        self
    }

    /// How many times an item whose worker process died while running it
    /// is run again on the replacement before it fails with
    /// [`TaskError::WorkerLost`](crate::TaskError::WorkerLost). Items the
    /// worker held but had not started are always run again.
    ///
    /// Default: 1.
    pub fn retries(mut self, retries: u32) -> PoolBuilder {
        self.retries = retries;
        self
    }

    /// How long one call may run: a call still running then is interrupted
    /// (wasmtime epoch interruption) and fails with "timed out after …",
    /// and the pool goes on. A worker that does not answer within twice the
    /// timeout plus a second (stuck outside wasm) is killed and replaced.
    ///
    /// Default: none (as Python's pool).
    pub fn timeout(mut self, timeout: std::time::Duration) -> PoolBuilder {
        self.limits.timeout = Some(timeout);
        self
    }

    /// The most linear memory, in bytes, each instance may have; growing
    /// past it fails the call ("memory limit of … exceeded").
    ///
    /// Default: [`DEFAULT_MAX_MEMORY`](crate::DEFAULT_MAX_MEMORY), 1 GiB.
    pub fn max_memory(mut self, bytes: u64) -> PoolBuilder {
        self.limits.max_memory = bytes;
        self
    }

    /// The most bytes one call may pass to `output_write` or `error_write`.
    ///
    /// Default: [`DEFAULT_MAX_OUTPUT`](crate::DEFAULT_MAX_OUTPUT), 64 MiB.
    pub fn max_output(mut self, bytes: u64) -> PoolBuilder {
        self.limits.max_output = bytes;
        self
    }

    /// Fuel for each call: a deterministic limit on the work a call may do
    /// (about one unit per wasm instruction). A call that runs out fails.
    ///
    /// Default: unlimited (no fuel metering, which costs speed).
    pub fn fuel(mut self, fuel: u64) -> PoolBuilder {
        self.limits.fuel = Some(fuel);
        self
    }

    /// Lets tasks see a host directory, as the wasmtime CLI's `--dir`.
    /// Tasks see no files at all otherwise.
    ///
    /// Default: none.
    pub fn dir(mut self, grant: DirGrant) -> PoolBuilder {
        self.dirs.push(grant);
        self
    }

    /// Adds a WASI environment variable for the task (tasks see no host
    /// environment, only `RPOOL_WORKER_INDEX`, `RPOOL_WORKERS` and these).
    ///
    /// Default: none.
    pub fn env(mut self, name: &str, value: &str) -> PoolBuilder {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// For a WASI command module ([`ModuleMode::Command`](crate::ModuleMode::Command)): take what the
    /// command prints on stdout as text, so that each result is a JSON
    /// string (without its trailing newlines), instead of parsing it as JSON.
    /// [`build`](Self::build) refuses it for an ABI v1 module, whose results
    /// are JSON by contract.
    ///
    /// Default: off.
    pub fn raw_output(mut self, raw: bool) -> PoolBuilder {
        self.raw_output = raw;
        self
    }

    /// For a WASI command module: the program's arguments (after `argv[0]`,
    /// which is the module's file name, as `wasmtime run` gives it). `{}` in
    /// an argument becomes the item — a string item as its text, any other
    /// item as its JSON — as xargs and GNU parallel substitute, so that a
    /// program nobody wrote for rpool-wasm takes its input where it expects
    /// it: `.command_args(["-l", "{}"])`. [`build`](Self::build) refuses
    /// them for an ABI v1 module.
    ///
    /// Default: none.
    pub fn command_args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> PoolBuilder {
        self.command_args = args.into_iter().map(Into::into).collect();
        self
    }

    /// For a WASI command module: give a string item's text on stdin rather
    /// than its JSON (other items still as JSON); with
    /// [`raw_output`](Self::raw_output), text in and text out.
    /// [`build`](Self::build) refuses it for an ABI v1 module.
    ///
    /// Default: off.
    pub fn raw_input(mut self, raw: bool) -> PoolBuilder {
        self.raw_input = raw;
        self
    }

    /// Whether a trap's message shows the whole wasm backtrace, one frame
    /// per line with its module offset, instead of one line naming the
    /// function that trapped and the two above it
    /// (`… at my_task::parse ← my_task::square ← …`). Names come from the
    /// module's name section (Rust names demangled); a module without one
    /// shows function indices.
    ///
    /// Default: `$RPOOL_WASM_BACKTRACE` is `1` or `full`; else off.
    pub fn backtraces(mut self, full: bool) -> PoolBuilder {
        self.full_backtraces = Some(full);
        self
    }

    /// Starts the pool's worker processes now, by forking this process, if
    /// it runs a single thread; otherwise this does nothing, and
    /// [`build`](Self::build) spawns them as usual. Call it last, just
    /// before `build`, early in a program's life (the `rpool-wasm` command
    /// calls it before it starts any thread).
    ///
    /// A forked worker saves the start of a new program (the loader, the
    /// runtimes, the page faults of a large binary: about a millisecond of
    /// CPU each), which a run of a few tiny items notices. When the cache
    /// has the module compiled already (any run after the first), it is
    /// loaded here, before the fork: the workers inherit it and only
    /// instantiate it, and `build` takes it instead of loading it again. A
    /// module not compiled yet is compiled by `build`, as usual. A forked
    /// worker is a copy of this process that keeps only its pipes to the
    /// pool (and the module's own descriptors) open, and serves as a worker
    /// until the pool ends; it dies with the thread that forked it, so fork
    /// from a thread that outlives the pool (the main thread).
    /// A worker that dies is replaced by a spawned one
    /// ([`worker_program`](Self::worker_program)). Forked workers the pool
    /// does not take (the build fails, or the builder is dropped) are killed
    /// and reaped. Not for a cluster pool ([`nats`](Self::nats)): its
    /// workers are the nodes'.
    ///
    /// Default: workers are spawned by `build`.
    pub fn fork_workers(mut self) -> PoolBuilder {
        #[cfg(feature = "cluster")]
        if self.cluster.url.is_some() {
            return self;
        }
        let count = match self.workers {
            Some(n) => n,
            None => match super::start::default_workers() {
                Ok(n) => n,
                Err(_) => return self, // the build reports it
            },
        };
        // Called again: the workers forked the first time serve.
        if self.forked.is_none() {
            let load = || crate::module::warm::Warm::load(&self.module, self.cache_dir.as_deref(), &self.limits);
            self.forked = Some(std::sync::Arc::new(crate::dispatch::fork::Forked::fork(count, load)));
        }
        self
    }

    /// The program to run as a worker (`PROGRAM __rpool-worker`).
    ///
    /// Default: `$RPOOL_WASM_WORKER` if set; else this executable if it is
    /// `rpool-wasm`; else an `rpool-wasm` beside this executable or in its
    /// parent directory; else `rpool-wasm` on `PATH`. A program that calls
    /// [`run_worker_if_requested`](crate::run_worker_if_requested) first
    /// thing can pass `std::env::current_exe()?` here.
    pub fn worker_program(mut self, program: impl AsRef<Path>) -> PoolBuilder {
        self.program = Some(program.as_ref().to_path_buf());
        self
    }

    /// Where compiled modules are cached.
    ///
    /// Default: `$RPOOL_WASM_CACHE_DIR` if set; else
    /// `$XDG_CACHE_HOME/rpool-wasm`; else `$HOME/.cache/rpool-wasm`.
    pub fn cache_dir(mut self, dir: impl AsRef<Path>) -> PoolBuilder {
        self.cache_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Runs the pool on a cluster instead of local workers: the NATS server
    /// (with JetStream) at `url` (`nats://HOST:4222`; user and password or
    /// a token may be in the URL; `tls://` for TLS), whose nodes
    /// (`rpool-wasm serve`) run the items. Every method behaves as it does
    /// on a local pool; the workers are the nodes', and the initializer,
    /// limits, directories and environment travel with the job (a
    /// directory names a path on the node, which must grant it).
    /// [`build`](Self::build) waits until a node has joined the job.
    /// See `docs/cluster.md`.
    ///
    /// Default: local workers.
    #[cfg(feature = "cluster")]
    pub fn nats(mut self, url: &str) -> PoolBuilder {
        self.cluster.url = Some(url.to_string());
        self
    }

    /// The cluster job's name (with [`nats`](Self::nats)): a pool built
    /// again with the same name and the same module and settings attaches
    /// to the job, and what it computed already is not computed again;
    /// the job's streams are removed once its work is complete.
    ///
    /// Default: a fresh name per pool, whose streams are removed when the pool is dropped.
    #[cfg(feature = "cluster")]
    pub fn job(mut self, name: &str) -> PoolBuilder {
        self.cluster.job = Some(name.to_string());
        self
    }

    /// A NATS credentials file (`.creds`: a user JWT and its nkey seed) to
    /// connect with (with [`nats`](Self::nats)).
    ///
    /// Default: none.
    #[cfg(feature = "cluster")]
    pub fn nats_credentials(mut self, path: impl AsRef<Path>) -> PoolBuilder {
        self.cluster.credentials = Some(path.as_ref().to_path_buf());
        self
    }

    /// A CA certificate file (PEM) to trust for the server's TLS certificate
    /// (with [`nats`](Self::nats)); TLS is then required.
    ///
    /// Default: the system's roots, and TLS only for `tls://` URLs or when the server asks.
    #[cfg(feature = "cluster")]
    pub fn nats_ca(mut self, path: impl AsRef<Path>) -> PoolBuilder {
        self.cluster.ca = Some(path.as_ref().to_path_buf());
        self
    }

    /// Loads, checks and compiles the module (once, or not at all if it is
    /// cached), starts the workers and waits until the first of them has run
    /// its initializer, so that a failing initializer is this call's error.
    /// The others go on starting while the pool takes work (the first runs
    /// it meanwhile); one that then cannot start stops the pool, as a
    /// replacement that cannot start does: the items not yet answered fail
    /// with [`TaskError::NotRun`](crate::TaskError::NotRun) naming why.
    pub fn build(self) -> Result<Pool, BuildError> {
        super::start::start(self)
    }
}

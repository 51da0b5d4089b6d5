//! [`PoolBuilder`]: every setting of a pool, each with its default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::dispatch::Shared;
use crate::error::BuildError;
use crate::limits::Limits;
use crate::module::{ModuleMode, TaskModule};
use crate::pool::Pool;
use crate::sandbox::DirGrant;
use crate::slot::{self, SlotConfig};
use crate::{cache, program};

/// The environment variable that sets the default number of workers.
pub const WORKERS_ENV: &str = "RPOOL_WASM_WORKERS";

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
    module: PathBuf,
    workers: Option<usize>,
    initializer: Option<(String, Result<String, String>)>,
    max_tasks: Option<usize>,
    retries: u32,
    env: Vec<(String, String)>,
    program: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    limits: Limits,
    dirs: Vec<DirGrant>,
    raw_output: bool,
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

    /// For a WASI command module ([`ModuleMode::Command`]): take what the
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

    /// Loads, checks and compiles the module (once, or not at all if it is
    /// cached), starts the workers and waits until every one has run its
    /// initializer, so that a failing initializer is this call's error.
    pub fn build(self) -> Result<Pool, BuildError> {
        let workers = match self.workers {
            Some(n) => n,
            None => default_workers()?,
        };
        if workers == 0 {
            return Err(BuildError::Setting("a pool needs at least one worker".into()));
        }
        if self.max_tasks == Some(0) {
            return Err(BuildError::Setting("max tasks per worker must be at least 1".into()));
        }
        if self.limits.timeout.is_some_and(|t| t.is_zero()) {
            return Err(BuildError::Setting("the timeout must be longer than zero".into()));
        }
        for dir in &self.dirs {
            if !dir.host.is_dir() {
                return Err(BuildError::Setting(format!(
                    "{} is not a directory (granted to tasks as {})",
                    dir.host.display(),
                    dir.guest
                )));
            }
        }
        let engine = self.limits.engine();
        let cache_dir = self.cache_dir.unwrap_or_else(cache::default_cache_dir);
        let module = TaskModule::load(&engine, &self.module, &cache_dir)?;
        match module.mode {
            ModuleMode::Command => {
                if let Some((name, _)) = &self.initializer {
                    return Err(BuildError::Setting(format!(
                        "an initializer (--init {name}) needs an rpool ABI v1 module, but {} is a WASI command \
                         (it exports `_start` and no task functions): each item runs in a fresh instance, so no \
                         state an initializer set up would reach the items",
                        self.module.display()
                    )));
                }
            }
            ModuleMode::Abi if self.raw_output => {
                return Err(BuildError::Setting(format!(
                    "raw output (--raw-output) is for WASI command modules, whose results are what they print; \
                     {} is an rpool ABI v1 module, whose results are JSON",
                    self.module.display()
                )));
            }
            ModuleMode::Abi => {}
        }
        let initializer = match self.initializer {
            None => None,
            Some((name, args)) => {
                module.check_task(&name)?;
                let args = args.map_err(|message| BuildError::InitArgs { message })?;
                match serde_json::from_str::<serde_json::Value>(&args) {
                    Ok(serde_json::Value::Array(_)) => {}
                    Ok(other) => {
                        return Err(BuildError::InitArgs { message: format!("got `{other}`") });
                    }
                    Err(e) => {
                        return Err(BuildError::InitArgs { message: e.to_string() });
                    }
                }
                Some((name, args))
            }
        };
        let program = match self.program {
            Some(program) => program,
            None => program::find()?,
        };
        let config = Arc::new(SlotConfig {
            program,
            artifact: module.artifact.clone(),
            workers,
            env: self.env,
            initializer: initializer.clone(),
            max_tasks: self.max_tasks,
            retries: self.retries,
            limits: self.limits,
            dirs: self.dirs,
            mode: module.mode,
            raw_output: self.raw_output,
        });
        let (shared, callbacks) = Shared::new(workers);
        let shared = Arc::new(shared);
        let callback_thread = std::thread::Builder::new()
            .name("rpool-callbacks".into())
            .spawn(move || callbacks.into_iter().for_each(|callback| callback()))
            .expect("a thread can be spawned");
        let (startup_tx, startup) = crossbeam_channel::unbounded();
        let slots = (0..workers)
            .map(|index| slot::spawn(Arc::clone(&shared), Arc::clone(&config), index, startup_tx.clone()))
            .collect();
        let pool = Pool::from_parts(shared, module, workers, initializer.map(|(name, _)| name), slots, callback_thread);
        // Workers start in parallel; the first failure is the one reported.
        for _ in 0..workers {
            if let Ok(Err(error)) = startup.recv() {
                pool.abort(&error.to_string());
                return Err(error);
            }
        }
        Ok(pool)
    }
}

fn default_workers() -> Result<usize, BuildError> {
    match std::env::var(WORKERS_ENV) {
        Ok(value) if !value.is_empty() => value
            .parse()
            .map_err(|_| BuildError::Setting(format!("{WORKERS_ENV}={value:?} is not a number of workers"))),
        _ => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

//! A pool's start-up, in order: check the settings, load and compile the
//! module (or find it in the cache), check the initializer, find the worker
//! program, then start every slot's first worker and wait until one has run
//! its initializer, so that a failure every worker meets is the build's
//! error (`slot::Startups`).

use std::sync::Arc;

use super::builder::{BACKTRACE_ENV, PoolBuilder, WORKERS_ENV};
use super::{Pool, worker_program};
use crate::dispatch::PoolState;
use crate::dispatch::slot::{self, SlotPlan};
use crate::error::{BuildError, CommandSetting};
use crate::module::{Missing, ModuleMode, TaskModule, cache};
use crate::wasm::trap::Backtrace;
use crate::wire::PROTOCOL_VERSION;
use crate::wire::worker_config::{CommandLine, WorkerConfig};

/// Starts the pool `builder` describes.
pub(super) fn start(mut builder: PoolBuilder) -> Result<Pool, BuildError> {
    let workers = match builder.workers {
        Some(n) => n,
        None => default_workers()?,
    };
    check_settings(&builder, workers)?;
    #[cfg(feature = "cluster")]
    let local = builder.cluster.url.is_none();
    #[cfg(not(feature = "cluster"))]
    let local = true;
    // A local pool's worker processes start while the module is loaded and
    // checked below (`slot::Launch`); a refusal cancels them.
    let program = local.then(|| match &builder.program {
        Some(program) => Ok(program.clone()),
        None => worker_program::find(),
    });
    let forked = builder.forked.take();
    let mut launches = Launches(match &program {
        Some(Ok(program)) => (0..workers)
            .map(|index| slot::Launch::new(program.clone(), index, forked.as_ref().and_then(|f| f.take())))
            .collect(),
        _ => Vec::new(),
    });
    // The module the forked workers inherited, if it was loaded before the
    // fork for these settings.
    let warm = forked
        .as_ref()
        .and_then(|f| f.take_warm())
        .filter(|warm| warm.fits(&builder.module, builder.cache_dir.as_deref(), &builder.limits));
    // Forked workers left over (fewer slots than forks) are reaped once no
    // clone of the builder holds them.
    drop(forked);
    let module = match warm {
        // Its mapping stays with the pool's process, shared with the
        // workers that inherited it.
        Some(warm) => warm.module,
        None => {
            let cache_dir = cache::chosen_or_default(builder.cache_dir.as_deref())?;
            let mut module = TaskModule::load(&builder.limits.engine(), &builder.module, &cache_dir, Missing::Compile)?
                .expect("a module to compile is always loaded");
            // The pool needs only its names and mode: the mapping (and the
            // descriptor it holds) is the workers' business, who map it
            // themselves.
            module.pre = None;
            module
        }
    };
    match module.mode {
        ModuleMode::Command => {
            if let Some((name, _)) = &builder.initializer {
                return Err(BuildError::InitializerForCommand {
                    module: builder.module.clone(),
                    initializer: name.clone(),
                });
            }
        }
        mode @ (ModuleMode::Abi | ModuleMode::Component) if builder.raw_output => {
            return Err(BuildError::RawOutputForAbi { module: builder.module.clone(), mode });
        }
        mode @ (ModuleMode::Abi | ModuleMode::Component) if builder.raw_input || !builder.command_args.is_empty() => {
            let setting = if builder.raw_input { CommandSetting::RawInput } else { CommandSetting::Args };
            return Err(BuildError::CommandOnly { module: builder.module.clone(), setting, mode });
        }
        ModuleMode::Abi | ModuleMode::Component => {}
    }
    let initializer = match builder.initializer {
        None => None,
        Some((name, args)) => {
            module.check_task(&name)?;
            Some((name, check_init_args(args)?))
        }
    };
    #[cfg(feature = "cluster")]
    if builder.cluster.url.is_some() {
        use crate::cluster::protocol::{CLUSTER_PROTOCOL, JobSpec};
        let wasm = crate::module::read_wasm(&builder.module)?;
        let spec = JobSpec {
            protocol: CLUSTER_PROTOCOL,
            module_sha256: crate::cluster::sha256_hex(&wasm),
            module_name: builder.module.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            mode: module.mode,
            env: builder.env,
            initializer: initializer.clone(),
            limits: builder.limits,
            dirs: builder.dirs,
            raw_output: builder.raw_output,
            command_args: builder.command_args,
            raw_input: builder.raw_input,
            full_backtraces: builder.full_backtraces.unwrap_or_else(full_backtraces_from_env),
            max_tasks: builder.max_tasks,
            retries: builder.retries,
            ack_wait_ms: crate::cluster::ack_wait().as_millis() as u64,
        };
        let given = builder.workers.map(|_| workers);
        return start_cluster(builder.cluster, spec, wasm, given, module, initializer.map(|(name, _)| name));
    }
    let program = program.expect("a local pool: a cluster's returned above")?;
    let plan = Arc::new(SlotPlan {
        program,
        worker: WorkerConfig {
            protocol: PROTOCOL_VERSION,
            artifact: module.artifact.clone(),
            // Each slot fills in its own index and generation.
            worker_index: 0,
            generation: 0,
            workers,
            env: builder.env,
            initializer: initializer.clone(),
            limits: builder.limits,
            dirs: builder.dirs,
            mode: module.mode,
            raw_output: builder.raw_output,
            command_line: CommandLine {
                program: builder
                    .module
                    .file_name()
                    .map_or_else(|| builder.module.display().to_string(), |name| name.to_string_lossy().into_owned()),
                args: builder.command_args,
                raw_input: builder.raw_input,
            },
            backtrace: match builder.full_backtraces.unwrap_or_else(full_backtraces_from_env) {
                true => Backtrace::Full,
                false => Backtrace::Short,
            },
        },
        max_tasks: builder.max_tasks,
        retries: builder.retries,
    });
    let (state, callback_thread) = pool_state(workers, plan.max_tasks.is_none());
    let startups = Arc::new(slot::Startups::new());
    let slots = std::mem::take(&mut launches.0)
        .into_iter()
        .map(|launch| launch.go(Arc::clone(&state), Arc::clone(&plan), Arc::clone(&startups)))
        .collect();
    let pool = Pool::from_parts(state, module, workers, initializer.map(|(name, _)| name), slots, callback_thread);
    // Workers start in parallel; the pool is ready with the first of them
    // (`Startups`), and the first failure before that is the one reported.
    if let Err(error) = startups.wait_first() {
        pool.abort(&error.to_string());
        return Err(error);
    }
    Ok(pool)
}

/// The slots launched before the module was checked: cancelled (their
/// worker processes killed and reaped) if the pool does not start.
struct Launches(Vec<slot::Launch>);

impl Drop for Launches {
    fn drop(&mut self) {
        for launch in self.0.drain(..) {
            launch.cancel();
        }
    }
}

/// A pool's shared state, and its callback thread.
fn pool_state(workers: usize, together: bool) -> (Arc<PoolState>, std::thread::JoinHandle<()>) {
    let (state, callbacks) = PoolState::new(workers, together);
    let callback_thread = std::thread::Builder::new()
        .name("rpool-callbacks".into())
        .spawn(move || callbacks.into_iter().for_each(|callback| callback()))
        .expect("a thread can be spawned");
    (Arc::new(state), callback_thread)
}

/// A cluster pool: no local workers, but a dispatcher that carries the
/// queue's chunks to the job's nodes (`cluster/client.rs`). The module was
/// loaded and checked here as for a local pool, so a bad module, export or
/// initializer is the same error; its binary travels to the nodes.
#[cfg(feature = "cluster")]
fn start_cluster(
    cluster: crate::cluster::ClusterOptions,
    spec: crate::cluster::protocol::JobSpec,
    wasm: Vec<u8>,
    given: Option<usize>,
    module: TaskModule,
    initializer: Option<String>,
) -> Result<Pool, BuildError> {
    let (state, callback_thread) = pool_state(1, false);
    let (dispatcher, workers) = match crate::cluster::client::start(cluster, spec, wasm, Arc::clone(&state), given) {
        Ok(started) => started,
        Err(error) => {
            state.stop(&error.to_string());
            return Err(error);
        }
    };
    Ok(Pool::from_parts(state, module, workers, initializer, vec![dispatcher], callback_thread))
}

impl Pool {
    /// The pool's shared state: a cluster node submits the chunks it
    /// takes from the broker to its local pool's queue.
    #[cfg(feature = "cluster")]
    pub(crate) fn state(&self) -> &Arc<PoolState> {
        &self.state
    }
}

/// Refuses settings out of range before anything is loaded or started.
fn check_settings(builder: &PoolBuilder, workers: usize) -> Result<(), BuildError> {
    if workers == 0 {
        return Err(BuildError::NoWorkers);
    }
    if builder.max_tasks == Some(0) {
        return Err(BuildError::ZeroMaxTasks);
    }
    if builder.limits.timeout.is_some_and(|t| t.is_zero()) {
        return Err(BuildError::ZeroTimeout);
    }
    #[cfg(feature = "cluster")]
    let local = builder.cluster.url.is_none();
    #[cfg(not(feature = "cluster"))]
    let local = true;
    // A cluster job's directories are paths on its nodes, which check them.
    for dir in builder.dirs.iter().filter(|_| local) {
        if !dir.host.is_dir() {
            return Err(BuildError::NotADirectory { path: dir.host.clone(), guest: dir.guest.clone() });
        }
    }
    Ok(())
}

/// The initializer's arguments, which must be a JSON array (Python's `initargs`).
fn check_init_args(args: Result<String, String>) -> Result<String, BuildError> {
    let args = args.map_err(|message| BuildError::InitArgs { message })?;
    match serde_json::from_str::<serde_json::Value>(&args) {
        Ok(serde_json::Value::Array(_)) => Ok(args),
        Ok(other) => Err(BuildError::InitArgs { message: format!("got `{other}`") }),
        Err(e) => Err(BuildError::InitArgs { message: e.to_string() }),
    }
}

/// `$RPOOL_WASM_WORKERS` if set, else the number of available cores.
pub(super) fn default_workers() -> Result<usize, BuildError> {
    match std::env::var(WORKERS_ENV) {
        Ok(value) if !value.is_empty() => {
            value.parse().map_err(|_| BuildError::BadWorkersEnv { variable: WORKERS_ENV, value })
        }
        _ => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Whether `$RPOOL_WASM_BACKTRACE` asks for whole backtraces (`1` or `full`).
fn full_backtraces_from_env() -> bool {
    std::env::var(BACKTRACE_ENV).is_ok_and(|v| v == "1" || v == "full")
}

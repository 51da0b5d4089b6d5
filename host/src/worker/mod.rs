//! The worker process: it reads frames from its stdin, runs the items on its
//! one instance of the task module, and writes one result frame per item to
//! its stdout. The parent decides everything else (what to run, when to stop).

use std::ffi::OsStr;
use std::io::{self, BufReader, BufWriter, Write};
use std::time::Duration;

mod abi;
mod command_mode;
mod component;
mod pace;

use abi::{ExportId, Outcome, Recipe, TaskInstance};
use command_mode::CommandRunner;
use component::ComponentRunner;

use crate::module::ModuleMode;
use crate::module::warm::WarmWorker;
use crate::wasm::limits::EPOCH_TICK;
use crate::wire::worker_config::WorkerConfig;
use crate::wire::{self as protocol, PROTOCOL_VERSION, ToWorker, WORKER_ARG};

/// A worker writes its results out at the end of each chunk, and sooner when
/// this long has passed since it last did, so that slow items reach `imap`
/// promptly while tiny ones are batched into few writes.
const FLUSH_AFTER: Duration = Duration::from_millis(2);

/// The clock the flush decisions read after every item: the coarse
/// monotonic clock, a read of memory (~5 ns) where `Instant::now` reads the
/// tick counter (~25 ns, a tenth of a tiny item's whole call). Its
/// resolution, a scheduler tick (1–4 ms), is as fine as the decision needs:
/// a result waits at most a tick longer for its write.
fn coarse_now() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Runs as a pool worker, and exits, if this process was started as one.
///
/// The `rpool-wasm` binary calls this first thing. A program that embeds the
/// pool can call it first thing in its own `main` and then point
/// [`PoolBuilder::worker_program`](crate::PoolBuilder::worker_program) at its
/// own executable (`std::env::current_exe()`), so that it needs no separate
/// `rpool-wasm` binary; otherwise it returns at once.
pub fn run_worker_if_requested() {
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new(WORKER_ARG)) {
        detach_from_terminal_signals();
        std::process::exit(worker_main(None));
    }
}

/// Runs as a pool worker in a process forked from the pool's own, its
/// stdin, stdout and stderr the pipes to the pool already
/// ([`crate::dispatch::fork`]), with the module the pool loaded before the
/// fork, if it did; never returns.
pub(crate) fn serve_forked(warm: Option<WarmWorker>) -> ! {
    detach_from_terminal_signals();
    std::process::exit(worker_main(warm));
}

/// A worker dies with its parent, and leaves Ctrl-C to it: the parent
/// decides what an interrupt means (it kills its workers itself).
fn detach_from_terminal_signals() {
    // The kernel kills this process when the thread that spawned it exits,
    // so a parent killed by SIGKILL leaves no orphan behind.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    // SAFETY: setting a signal's disposition to "ignore" touches no memory.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    // A parent that died before the death signal was armed closed our
    // stdin: the first read ends the worker.
}

/// The worker's main loop over stdin and stdout; returns its exit code.
fn worker_main(warm: Option<WarmWorker>) -> i32 {
    let mut input = BufReader::with_capacity(1 << 16, io::stdin().lock());
    let mut output = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    match serve(&mut input, &mut output, warm) {
        Ok(()) => 0,
        Err(message) => {
            // The parent may be gone already; there is no one else to tell.
            let _ = protocol::write_frame(&mut output, protocol::TAG_FATAL, message.as_bytes());
            let _ = output.flush();
            1
        }
    }
}

/// Serves frames until shutdown or end of input. The error is the message of
/// a fatal frame: the module did not load, its initializer failed, or the
/// stream is corrupt. `warm`: the module as this process inherited it, used
/// if it is the one the start frame names.
fn serve(
    input: &mut BufReader<impl io::Read>,
    output: &mut impl Write,
    warm: Option<WarmWorker>,
) -> Result<(), String> {
    let mut frame = Vec::new();
    let mut pace = pace::Pace::default();
    if !protocol::read_frame(input, &mut frame).map_err(io_err)? {
        return Ok(());
    }
    let config = match protocol::decode_to_worker(&frame) {
        Ok(ToWorker::Start(body)) => start_config(body)?,
        Ok(other) => {
            return Err(format!("protocol error: expected a start frame, got {other:?}"));
        }
        Err(e) => return Err(format!("protocol error: {e}")),
    };
    let mut env = vec![
        ("RPOOL_WORKER_INDEX".to_string(), config.worker_index.to_string()),
        ("RPOOL_WORKERS".to_string(), config.workers.to_string()),
        ("RPOOL_WORKER_GENERATION".to_string(), config.generation.to_string()),
        ("RPOOL_WORKER_PID".to_string(), std::process::id().to_string()),
    ];
    env.extend(config.env);
    let initializer = config.initializer.map(|(name, args)| (name, args.into_bytes()));
    let warm = warm
        .filter(|_| config.mode == ModuleMode::Abi)
        .and_then(|warm| warm.take_for(&config.artifact, &config.limits));
    let engine = match (&warm, config.mode) {
        (Some(pre), _) => pre.module().engine().clone(),
        // Command mode builds an instance per item: pooled memory is cheaper.
        (None, ModuleMode::Command) => config.limits.pooled_engine(),
        (None, ModuleMode::Abi | ModuleMode::Component) => config.limits.engine(),
    };
    if config.limits.timeout.is_some() {
        // Epoch interruption: the deadline of each call is counted in ticks.
        let engine = engine.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
    }
    let recipe = Recipe { env, dirs: config.dirs, limits: config.limits, initializer, backtrace: config.backtrace };
    let mut runner = match config.mode {
        ModuleMode::Abi => Runner::Abi(match warm {
            Some(pre) => TaskInstance::from_pre(pre, recipe)?,
            None => TaskInstance::new(&engine, &config.artifact, recipe)?,
        }),
        ModuleMode::Component => Runner::Component(ComponentRunner::new(&engine, &config.artifact, recipe)?),
        ModuleMode::Command => Runner::Command(CommandRunner::new(
            &engine,
            &config.artifact,
            recipe,
            config.raw_output,
            config.command_line,
        )?),
    };
    protocol::write_frame(output, protocol::TAG_READY, &PROTOCOL_VERSION.to_le_bytes()).map_err(io_err)?;
    output.flush().map_err(io_err)?;

    loop {
        if !protocol::read_frame(input, &mut frame).map_err(io_err)? {
            leave(output);
        }
        let chunk = match protocol::decode_to_worker(&frame) {
            Ok(ToWorker::Chunk(chunk)) => chunk,
            Ok(ToWorker::Shutdown) => leave(output),
            Ok(ToWorker::Start(_)) => return Err("protocol error: a second start frame".into()),
            Err(e) => return Err(format!("protocol error: {e}")),
        };
        let started = coarse_now();
        let export = runner.export(chunk.func);
        // Tiny items in groups, a call each, where the task can take them
        // (see `pace`). A chunk of one item is one call either way, and
        // then needs none of the grouping's clock readings; so is each item
        // of a frame of one-item chunks (`chunksize=1`, `TAG_SINGLES`).
        let grouped = chunk.len() > 1
            && !chunk.one_by_one
            && match (&mut runner, export) {
                (Runner::Abi(instance), Some(export)) => instance.can_chunk(export)?,
                (Runner::Component(component), Some(_)) => component.can_chunk(),
                _ => false,
            };
        match (&mut runner, export) {
            (Runner::Abi(instance), Some(export)) if grouped => {
                pace::run_in_groups(instance, export, &chunk, &mut pace, output)?;
            }
            (Runner::Component(component), Some(export)) if grouped => {
                pace::run_in_groups(component, export, &chunk, &mut pace, output)?;
            }
            _ => run_one_by_one(&mut runner, export, &chunk, output)?,
        }
        // A quick chunk with the next one already waiting: its results go out
        // with the next chunk's, in one write and one wake-up of the parent.
        if coarse_now().saturating_sub(started) >= FLUSH_AFTER || !frame_waiting(input.buffer()) {
            output.flush().map_err(io_err)?;
        }
    }
}

/// Runs a chunk's items one call each, flushing their results every
/// [`FLUSH_AFTER`]. `Err`: the worker cannot go on.
fn run_one_by_one(
    runner: &mut Runner,
    export: Option<ExportId>,
    chunk: &protocol::ChunkView<'_>,
    output: &mut impl Write,
) -> Result<(), String> {
    let mut last_flush = coarse_now();
    {
        for item in chunk.items() {
            let (index, args) = item.map_err(|e| format!("protocol error: {e}"))?;
            let outcome = runner.call(export, args)?;
            protocol::write_result(output, index, outcome.status, &outcome.payload).map_err(io_err)?;
            let now = coarse_now();
            if now.saturating_sub(last_flush) >= FLUSH_AFTER {
                output.flush().map_err(io_err)?;
                last_flush = now;
            }
        }
    }
    Ok(())
}

/// Exits a worker that was told to (or whose parent closed its stdin),
/// with every result it wrote flushed. Its stdout and stderr are closed
/// first, so that the parent's readers see their ends at once, and its
/// instance, module and engine are left to the kernel: nothing of theirs
/// needs tearing down, and a parent that does not wait for this process to
/// end ([`Pool::close_detached`](crate::Pool::close_detached)) has all it
/// needs once the pipes close.
fn leave(output: &mut impl Write) -> ! {
    let code = match output.flush() {
        Ok(()) => 0,
        Err(_) => 1,
    };
    // SAFETY: closing our own standard descriptors, which nothing reads
    // after this, and `_exit`, which runs nothing of this process again.
    unsafe {
        libc::close(libc::STDOUT_FILENO);
        libc::close(libc::STDERR_FILENO);
        libc::_exit(code)
    }
}

/// The start frame's configuration, once its protocol version is this
/// worker's: a parent of another version would mean something else by it.
fn start_config(body: &[u8]) -> Result<WorkerConfig, String> {
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(default)]
        protocol: u32,
    }
    let version = serde_json::from_slice::<Version>(body).map_or(0, |v| v.protocol);
    if version != PROTOCOL_VERSION {
        let program = std::env::current_exe().map_or_else(|_| "this worker".into(), |p| p.display().to_string());
        return Err(format!(
            "protocol version mismatch: the pool speaks version {version}, but the worker program {program} \
             speaks version {PROTOCOL_VERSION}"
        ));
    }
    serde_json::from_slice(body).map_err(|e| format!("protocol error: bad start frame: {e}"))
}

/// A worker's I/O error, as the message it exits with.
pub(super) fn io_err(e: io::Error) -> String {
    format!("worker I/O: {e}")
}

/// Whether `buffered` holds a whole frame.
fn frame_waiting(buffered: &[u8]) -> bool {
    buffered.len() >= 4 && buffered.len() - 4 >= u32::from_le_bytes(buffered[..4].try_into().expect("4 bytes")) as usize
}

/// What runs a worker's items: the module's one long-lived instance (ABI v1,
/// or a component's), or a fresh instance of a WASI command per item.
enum Runner {
    Abi(TaskInstance),
    Command(CommandRunner),
    Component(ComponentRunner),
}

impl Runner {
    /// The export a chunk calls; `None` for a command, whose one entry
    /// point (`_start`) is all the parent ever asks it for.
    fn export(&mut self, func: &str) -> Option<ExportId> {
        match self {
            Runner::Abi(instance) => Some(instance.export(func)),
            Runner::Component(component) => Some(component.export(func)),
            Runner::Command(_) => None,
        }
    }

    /// Runs one item; `Err` means the worker cannot go on.
    fn call(&mut self, export: Option<ExportId>, args: &[u8]) -> Result<Outcome<'_>, String> {
        match (self, export) {
            (Runner::Abi(instance), Some(export)) => instance.call(export, args),
            (Runner::Component(component), Some(export)) => component.call(export, args),
            (Runner::Abi(_) | Runner::Component(_), None) => unreachable!("a task's export is named by `export`"),
            // The parent only ever asks a command for `_start`.
            (Runner::Command(command), _) => Ok(command.call(args)),
        }
    }
}

//! `rpool-wasm run`: one Pool call over the items of a JSON file.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use signal_hook::consts::{SIGINT, SIGTERM};

use super::CliError;
use super::args::{Mode, RunArgs};
use super::exit::signal_name;
use super::input;
use super::output::Output;
use crate::{DirGrant, MapError, Pool, PoolBuilder, SubmitError, TaskError, Terminator};

pub(super) fn run(args: RunArgs) -> Result<(), CliError> {
    let signals = SignalGuard::install()?;
    let (mode, inputs) = args.mode();
    let text = input::read(inputs)?;
    let items = input::items(&text, inputs, mode == Mode::Starmap)?;

    let pool = builder(&args)?.build()?;
    signals.watch(pool.terminator());
    let func_name = match &args.func {
        Some(name) => name.clone(),
        None => pool.default_func().map_err(|e| CliError::Usage(e.to_string()))?.to_string(),
    };
    let chunksize = match args.chunksize {
        Some(n) => n as usize,
        None => items.len().div_ceil(4 * pool.workers()).max(1),
    };
    let func = pool.func(&func_name).chunksize(chunksize);
    let mut out = Output::open(args.output.as_deref())?;
    // An item that did not run because a signal stopped the pool is the
    // signal's failure, not the item's.
    let failed = |error: TaskError| match signals.caught() {
        Some(signal) => CliError::Signal(signal),
        None => task_error(error),
    };

    match mode {
        Mode::Map | Mode::Starmap => {
            let results: Result<Vec<Box<RawValue>>, MapError> =
                if mode == Mode::Map { func.map(items) } else { func.starmap(items) };
            let results = results.map_err(|e| match e {
                MapError::Submit(e) => submit_error(e),
                MapError::Task(e) => failed(e),
            })?;
            out.write(b"[")?;
            for (i, result) in results.iter().enumerate() {
                if i > 0 {
                    out.write(b",")?;
                }
                out.write(result.get().as_bytes())?;
            }
            out.write(b"]\n")?;
        }
        Mode::Imap => {
            for result in func.imap::<_, Box<RawValue>>(items).map_err(submit_error)? {
                let result = result.map_err(failed)?;
                out.write(result.get().as_bytes())?;
                out.write(b"\n")?;
                out.flush()?;
            }
        }
        Mode::ImapUnordered => {
            for (index, result) in func.imap_unordered::<_, Box<RawValue>>(items).map_err(submit_error)? {
                let result = result.map_err(failed)?;
                out.write(format!("{{\"index\":{index},\"result\":{}}}\n", result.get()).as_bytes())?;
                out.flush()?;
            }
        }
    }
    out.commit()
}

/// The pool the flags describe.
fn builder(args: &RunArgs) -> Result<PoolBuilder, CliError> {
    let mut builder = Pool::builder(&args.task).retries(args.retries);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers as usize);
    }
    if let Some(init) = &args.init {
        builder = builder.initializer_json(init, args.init_args.as_deref().unwrap_or("[]"));
    }
    if let Some(max) = args.max_tasks_per_worker {
        builder = builder.max_tasks_per_worker(max as usize);
    }
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(bytes) = args.max_memory {
        builder = builder.max_memory(bytes);
    }
    if let Some(bytes) = args.max_output {
        builder = builder.max_output(bytes);
    }
    if let Some(fuel) = args.fuel {
        builder = builder.fuel(fuel);
    }
    let grants =
        args.dir.iter().map(|d| DirGrant::parse(d, false)).chain(args.ro_dir.iter().map(|d| DirGrant::parse(d, true)));
    for grant in grants {
        builder = builder.dir(grant);
    }
    for spec in &args.env {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => {
                let value = std::env::var(spec)
                    .map_err(|_| CliError::Usage(format!("--env {spec}: {spec} is not set in this environment")))?;
                (spec.clone(), value)
            }
        };
        if name.is_empty() {
            return Err(CliError::Usage(format!("--env {spec}: the variable needs a name")));
        }
        builder = builder.env(&name, &value);
    }
    Ok(builder)
}

/// SIGINT and SIGTERM stop the run: before the pool exists, at once; after,
/// by terminating the pool (killing every worker), so that the main thread
/// unwinds normally and leaves no partial output file.
struct SignalGuard {
    caught: Arc<AtomicI32>,
    pool: Arc<Mutex<Option<Terminator>>>,
}

impl SignalGuard {
    fn install() -> Result<SignalGuard, CliError> {
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| CliError::Environment(format!("cannot handle signals: {e}")))?;
        let caught = Arc::new(AtomicI32::new(0));
        let pool: Arc<Mutex<Option<Terminator>>> = Arc::new(Mutex::new(None));
        let (c, p) = (Arc::clone(&caught), Arc::clone(&pool));
        std::thread::Builder::new()
            .name("rpool-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    c.store(signal, Ordering::SeqCst);
                    match p.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                        Some(terminator) => terminator.terminate(&format!("interrupted by {}", signal_name(signal))),
                        None => {
                            eprintln!("rpool-wasm: error: {}", CliError::Signal(signal));
                            std::process::exit(CliError::Signal(signal).exit_code() as i32);
                        }
                    }
                }
            })
            .expect("a thread can be spawned");
        Ok(SignalGuard { caught, pool })
    }

    fn watch(&self, terminator: Terminator) {
        *self.pool.lock().unwrap_or_else(|e| e.into_inner()) = Some(terminator);
        // A signal that came while the pool was starting finds no pool: stop it now.
        if let Some(signal) = self.caught() {
            self.pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .expect("just set")
                .terminate(signal_name(signal));
        }
    }

    fn caught(&self) -> Option<i32> {
        Some(self.caught.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }
}

fn submit_error(error: SubmitError) -> CliError {
    CliError::Usage(error.to_string())
}

fn task_error(error: TaskError) -> CliError {
    match error {
        TaskError::NotRun { reason, .. } => CliError::Environment(reason),
        e => CliError::Task(e),
    }
}

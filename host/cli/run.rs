//! `rpool-wasm run`: one Pool call over the items of a JSON array or JSON
//! Lines input, streamed: items are read as workers need them, and results
//! are written as they arrive (`--imap*`) or collected (`--map`, which
//! prints one array).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use either::Either;
use signal_hook::consts::{SIGINT, SIGTERM};

use super::CliError;
use super::args::{Mode, RunArgs};
use super::exit::{export_error, handled_signal_name};
use super::input::{self, Input};
use super::journal::{Job, Journal};
use super::output::{Output, error_line, indexed_line, line};
use super::progress::Progress;
use super::results::Results;
use super::shard::Shard;
use rpool_wasm::{DirGrant, Func, ItemFormat, JsonStream, Pool, PoolBuilder, SubmitError, TaskError, Terminator};

pub(super) fn run(args: RunArgs) -> Result<(), CliError> {
    // The workers are forked first, while this process has a single thread
    // (the signal watcher and the input reader are threads).
    let builder = builder(&args)?.fork_workers();
    let signals = SignalGuard::install()?;
    let (mode, path) = args.mode();
    let format = match args.input_format.as_deref() {
        Some("jsonl") => ItemFormat::Jsonl,
        Some(_) => ItemFormat::Json,
        None => ItemFormat::from_path(path),
    };
    let shard = args.shard.as_deref().map(|flag| Shard::from_flag(flag, args.shards)).transpose()?;
    // The pool starts (its module loaded and checked, its workers sent
    // their start) while this thread reads the input's look-ahead: up to
    // 100,000 items, some milliseconds that the workers would otherwise
    // spend waiting. A bad input is still the error when both are bad.
    // The pool comes back through a channel, not the thread's join: the
    // run goes on as soon as the build has returned, without waiting for
    // its thread to end (a wake-up on the way to the first item).
    let (sent, building) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("rpool-build".into())
        .spawn(move || {
            let _ = sent.send(builder.build());
        })
        .map_err(|e| CliError::Environment(format!("cannot start a thread: {e}")))?;
    let built = |building: std::sync::mpsc::Receiver<_>| building.recv().expect("building a pool does not panic");
    let input = match Input::open(path, format, mode == Mode::Starmap) {
        Ok(input) => input,
        Err(e) => {
            // The pool is let finish starting (a module being compiled into
            // the cache leaves no temporary file behind) and dropped.
            drop(built(building));
            return Err(e);
        }
    };
    let pool = built(building)?;
    signals.watch(pool.terminator());
    let func_name = match &args.func {
        Some(name) => name.clone(),
        None => pool.default_func().map_err(|e| export_error(&e))?.to_string(),
    };
    // Python's default needs the total; a stream longer than the look-ahead
    // gets the chunksize the look-ahead alone would have.
    let chunksize = match args.chunksize {
        Some(n) => n as usize,
        None => pool.default_chunksize(input.total().unwrap_or(input.looked_ahead())),
    };
    let (mut journal, done) = match &args.journal {
        Some(path) => {
            let job = Job {
                version: 1,
                module_sha256: module_sha256(&args.task)?,
                func: func_name.clone(),
                mode: mode.name().into(),
            };
            let (journal, done) = Journal::open(path, &job)?;
            (Some(journal), done)
        }
        None => (None, HashMap::new()),
    };
    // A shard's items are those of its residue; the journal's count only
    // where they are the shard's too.
    let ours = |i: usize| shard.is_none_or(|s| s.has(i));
    let done: HashMap<_, _> = done.into_iter().filter(|(i, _)| ours(*i)).collect();
    let total = input.total().map(|n| (0..n).filter(|&i| ours(i)).count());
    let mut progress = Progress::new(total.map(|n| n.saturating_sub(done.len())), args.quiet, args.progress);
    let mut out = Output::open(args.output.as_deref())?;
    let (items, input_error) = input.items();
    // Items the journal already has are not run again; `submitted` maps the
    // pool's indices back to the input's. (The items are pulled on a thread
    // of their own: what they share with this one is shared as such.)
    // A shard's part ends with the input's length, which the items count.
    let submitted = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(AtomicUsize::new(0));
    let resuming = !done.is_empty() || shard.is_some();
    let items = {
        let done: HashSet<usize> = done.keys().copied().collect();
        let (submitted, seen) = (Arc::clone(&submitted), Arc::clone(&seen));
        // Unfiltered, the iterator says what is in hand (`size_hint`): tiny
        // items in hand travel to the workers together. (A `Filter` knows
        // no lower bound of what is left.) Only a shard counts
        // the items it saw (for its trailer): the store per item to that
        // shared counter took about a fifth of the feeding thread's samples.
        let kept = match resuming {
            true => Either::Right(
                items
                    .inspect(move |(i, _)| seen.store(i + 1, Ordering::Relaxed))
                    .filter(move |(i, _)| !done.contains(i) && shard.is_none_or(|s| s.has(*i))),
            ),
            false => Either::Left(items),
        };
        kept.map(move |(i, item)| {
            if resuming {
                lock(&submitted).push(i);
            }
            item
        })
    };
    let original = |i: usize| if resuming { lock(&submitted)[i] } else { i };
    let func = pool.func(&func_name).chunksize(chunksize);
    // The run is one job: once it is submitted, the pool is closed
    // (`close_detached`), so that each worker retires as soon as the work
    // runs out, while the results are still being written, and the end of
    // the run waits only for their output to end, not for their processes.
    let mut failures = Vec::new();
    // Every finished item passes here: journal, progress, and the decision to
    // stop (without --keep-going) or go on.
    let mut finished = |index: usize, result: &Result<&[u8], TaskError>| -> Result<(), CliError> {
        match result {
            Ok(value) => {
                progress.item(false);
                if let Some(journal) = journal.as_mut() {
                    journal.record(index, value)?;
                }
                Ok(())
            }
            Err(error) => {
                progress.item(true);
                if let Some(signal) = signals.caught() {
                    return Err(CliError::Signal(signal));
                }
                if !args.keep_going {
                    return Err(task_error(error.clone()));
                }
                failures.push(error.clone());
                Ok(())
            }
        }
    };

    // A shard writes its part: indexed lines, as --imap-unordered does.
    let output_mode = if shard.is_some() { Mode::ImapUnordered } else { mode };
    match output_mode {
        Mode::Map | Mode::Starmap => {
            let mut results = Results::default();
            let mut stream = unordered(&func, mode, items)?;
            pool.close_detached();
            while let Some((index, result)) = stream.next() {
                let index = original(index);
                finished(index, &result)?;
                match result {
                    Ok(json) => results.insert(index, json),
                    Err(_) => results.skip(index),
                }
            }
            input::finish(&input_error)?;
            let n = results.len().max(done.keys().map(|&i| i + 1).max().unwrap_or(0));
            out.write(b"[")?;
            let runs = results.runs();
            let mut runs = runs.iter().peekable();
            let mut index = 0;
            while index < n {
                // Results that arrived in order go out as one slice, each
                // with the comma before it (the first without).
                if let Some(&(_, count, run)) = runs.next_if(|&&(first, ..)| first == index) {
                    out.write(&run[usize::from(index == 0)..])?;
                    index += count;
                    continue;
                }
                if index > 0 {
                    out.write(b",")?;
                }
                // A failed item (with --keep-going) is null in the array.
                out.write(done.get(&index).map_or(&b"null"[..], |v| v.get().as_bytes()))?;
                index += 1;
            }
            out.write(b"]\n")?;
        }
        Mode::Imap => {
            // In input order: results the journal holds come out in their place.
            let mut next = 0;
            let from_journal = |next: &mut usize, until: usize, out: &mut Output| -> Result<(), CliError> {
                while *next < until {
                    if let Some(value) = done.get(next) {
                        line(out, value.get().as_bytes())?;
                    }
                    *next += 1;
                }
                Ok(())
            };
            let mut stream = func.imap_json(items).map_err(submit_error)?;
            pool.close_detached();
            while let Some((index, result)) = stream.next() {
                let index = original(index);
                finished(index, &result)?;
                from_journal(&mut next, index, &mut out)?;
                next = index + 1;
                match &result {
                    Ok(value) => line(&mut out, value)?,
                    Err(error) => line(&mut out, error_line(index, &error.to_string()).as_bytes())?,
                }
                if !stream.has_ready() {
                    out.flush()?;
                }
            }
            input::finish(&input_error)?;
            from_journal(&mut next, done.keys().map(|&i| i + 1).max().unwrap_or(0), &mut out)?;
        }
        Mode::ImapUnordered => {
            let mut resumed: Vec<_> = done.iter().collect();
            resumed.sort_by_key(|(i, _)| **i);
            for (index, value) in resumed {
                indexed_line(&mut out, *index, value.get().as_bytes())?;
            }
            out.flush()?;
            let mut stream = unordered(&func, mode, items)?;
            pool.close_detached();
            while let Some((index, result)) = stream.next() {
                let index = original(index);
                finished(index, &result)?;
                match &result {
                    Ok(value) => indexed_line(&mut out, index, value)?,
                    Err(error) => line(&mut out, error_line(index, &error.to_string()).as_bytes())?,
                }
                if !stream.has_ready() {
                    out.flush()?;
                }
            }
            input::finish(&input_error)?;
            if let Some(shard) = shard {
                out.write(shard.trailer(seen.load(Ordering::Relaxed)).as_bytes())?;
            }
        }
    }
    if let Some(journal) = journal.as_mut() {
        journal.sync()?;
    }
    out.commit()?;
    progress.finish(pool.retried_items(), done.len());
    // Every worker has retired (see `func`) and its stderr is passed on.
    pool.join().expect("the pool was closed when the job was submitted");
    match failures.len() {
        0 => Ok(()),
        n => {
            for failure in &failures {
                eprintln!("rpool-wasm: failed: {failure}");
            }
            Err(CliError::ItemsFailed(n))
        }
    }
}

fn module_sha256(path: &std::path::Path) -> Result<String, CliError> {
    use sha2::Digest;
    let bytes =
        std::fs::read(path).map_err(|e| CliError::Usage(format!("cannot read task module {}: {e}", path.display())))?;
    Ok(sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

/// The pool the flags describe.
fn builder(args: &RunArgs) -> Result<PoolBuilder, CliError> {
    let mut builder = Pool::builder(&args.task)
        .retries(args.retries)
        .raw_output(args.raw_output)
        .raw_input(args.raw_input)
        .command_args(args.command_args.iter().cloned());
    if args.backtrace {
        builder = builder.backtraces(true);
    }
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
    if let Some(url) = args.nats.clone().or_else(|| super::serve::env(rpool_wasm::NATS_ENV)) {
        builder = builder.nats(&url);
        if let Some(job) = &args.job {
            builder = builder.job(job);
        }
        let creds = args.nats_creds.clone().or_else(|| super::serve::env("RPOOL_WASM_NATS_CREDS").map(Into::into));
        if let Some(creds) = creds {
            builder = builder.nats_credentials(creds);
        }
        if let Some(ca) = args.nats_ca.clone().or_else(|| super::serve::env("RPOOL_WASM_NATS_CA").map(Into::into)) {
            builder = builder.nats_ca(ca);
        }
    } else if args.job.is_some() {
        return Err(CliError::Usage("--job names a cluster job: it needs --nats URL".into()));
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
                        Some(terminator) => {
                            terminator.terminate(&format!("interrupted by {}", handled_signal_name(signal)))
                        }
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
        // A signal that came while the pool was starting found no pool: stop it now.
        if let Some(signal) = self.caught() {
            self.pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .expect("just set")
                .terminate(handled_signal_name(signal));
        }
    }

    fn caught(&self) -> Option<i32> {
        Some(self.caught.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }
}

/// The mode's call (starmap's or map's) as a raw-JSON stream in completion order.
fn unordered<I: IntoIterator<Item: AsRef<[u8]> + Send, IntoIter: Send + 'static>>(
    func: &Func<'_>,
    mode: Mode,
    items: I,
) -> Result<JsonStream<I::IntoIter>, CliError> {
    let stream = match mode {
        Mode::Starmap => func.istarmap_unordered_json(items),
        _ => func.imap_unordered_json(items),
    };
    stream.map_err(submit_error)
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

//! A worker slot: one thread that keeps one worker process alive and fed.
//! It pulls chunks from the pool's queue (at most [`WINDOW`] in flight, so
//! that a slow item never holds back work another worker could take),
//! spawns a replacement when the process dies or reaches its task limit,
//! and makes sure every item it took is answered. A reader thread per
//! process turns result frames into deliveries.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, IoSlice, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use crate::batch::Batch;
use crate::dispatch::{Chunk, Shared, Sink};
use crate::error::{BuildError, TaskError};
use crate::protocol::{self, FromWorker, Status};
use crate::start::WorkerConfig;
use crate::worker::WORKER_ARG;

/// Chunks a worker holds at once: one running, one ready behind it, so that
/// it never waits on the parent between chunks.
pub(crate) const WINDOW: usize = 2;

/// While its chunks are quick, a worker may hold about this much work in
/// chunks (at most [`MAX_WINDOW`]): tiny chunks then travel in batches,
/// with a wake-up of each thread per batch instead of per chunk, and load
/// balancing loses next to nothing (that much work holds no one up).
const QUICK_WORK: Duration = Duration::from_millis(1);
const MAX_WINDOW: usize = 64;

/// How many chunks a worker may hold whose chunks take `chunk_time` each.
fn window(chunk_time: Duration) -> usize {
    let quick = QUICK_WORK.as_nanos() / chunk_time.as_nanos().max(1);
    (quick as usize).clamp(WINDOW, MAX_WINDOW)
}

/// What every slot needs to start its workers.
#[derive(Debug, Clone)]
pub(crate) struct SlotConfig {
    pub program: PathBuf,
    pub artifact: PathBuf,
    pub workers: usize,
    pub env: Vec<(String, String)>,
    pub initializer: Option<(String, String)>,
    pub max_tasks: Option<usize>,
    /// How often an item whose worker died may run again.
    pub retries: u32,
    pub limits: crate::limits::Limits,
    pub dirs: Vec<crate::sandbox::DirGrant>,
    pub mode: crate::module::ModuleMode,
    pub raw_output: bool,
}

/// A slot's first start, reported to the builder.
pub(crate) type Startup = Result<(), BuildError>;

/// Starts slot `index`'s thread; its first worker's start is reported on `startup`.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    config: Arc<SlotConfig>,
    index: usize,
    startup: Sender<Startup>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("rpool-slot-{index}"))
        .spawn(move || Slot { shared, config, index }.run(startup))
        .expect("a thread can be spawned")
}

struct InFlight {
    chunk: Chunk,
    answered: usize,
}

enum Event {
    Ready,
    Fatal(String),
    /// This many chunks were answered in full (since the last such event).
    ChunksDone(usize),
    /// The worker's stdout closed (it exited, or its stream was corrupt: the message).
    Closed(Option<String>),
}

/// One live worker process.
struct Process {
    child: Child,
    stdin: ChildStdin,
    in_flight: Arc<Mutex<VecDeque<InFlight>>>,
    /// When the worker last answered an item (or was given work while idle).
    progress: Arc<Mutex<Instant>>,
    events: Receiver<Event>,
    reader: JoinHandle<()>,
    stderr_relay: JoinHandle<()>,
}

struct Slot {
    shared: Arc<Shared>,
    config: Arc<SlotConfig>,
    index: usize,
}

impl Slot {
    fn run(self, startup: Sender<Startup>) {
        let mut startup = Some(startup);
        let never = crossbeam_channel::never();
        let mut queue_open = true;
        // Chunks a dead worker held, to run first on its replacement.
        let mut retry: VecDeque<Chunk> = VecDeque::new();
        while self.shared.stopped().is_none() {
            let mut process = match self.start() {
                Ok(process) => {
                    if let Some(s) = startup.take() {
                        let _ = s.send(Ok(()));
                    }
                    process
                }
                Err(error) => {
                    // The first start is the builder's to report; a later one
                    // means no worker can run here any more: the pool stops.
                    match startup.take() {
                        Some(s) => {
                            let _ = s.send(Err(error));
                        }
                        None => self.shared.stop(&error.to_string()),
                    }
                    for chunk in retry {
                        chunk.fail_not_run(&self.shared.stopped().unwrap_or_default());
                    }
                    return;
                }
            };
            let mut taken = 0;
            let mut fatal = None;
            let mut hung = false;
            // How long this worker's chunks take, smoothed; slow until shown quick.
            let mut chunk_time = Duration::MAX;
            let mut last_done = Instant::now();
            loop {
                let retiring = self.config.max_tasks.is_some_and(|max| taken >= max);
                let in_flight = process.in_flight.lock().unwrap_or_else(|e| e.into_inner()).len();
                if in_flight == 0 && retry.is_empty() && (retiring || !queue_open) {
                    self.retire(process);
                    if queue_open {
                        break; // task limit reached: start a fresh worker
                    }
                    return;
                }
                let window = window(chunk_time);
                if in_flight < window
                    && !retiring
                    && let Some(chunk) = retry.pop_front()
                {
                    taken += 1;
                    process.send(vec![chunk]);
                    continue;
                }
                let queue = if queue_open && !retiring && in_flight < window { &self.shared.queue } else { &never };
                // The backstop: a worker with work that has not answered for
                // twice the timeout and a second is stuck outside wasm.
                let backstop = self
                    .config
                    .limits
                    .timeout
                    .filter(|_| in_flight > 0 && !hung)
                    .map(|t| t * 2 + Duration::from_secs(1));
                let wait = match backstop {
                    Some(backstop) => (*lock(&process.progress) + backstop).saturating_duration_since(Instant::now()),
                    None => Duration::from_secs(3600),
                };
                select! {
                    recv(queue) -> chunk => match chunk {
                        Ok(chunk) if chunk.sink.is_done() => {}
                        Ok(chunk) => {
                            // Chunks queued behind it go with it, in one write, as far as
                            // the window (and the task limit) allows: tiny chunks then cost
                            // the worker a wake-up per batch, not one each.
                            let room = window - in_flight;
                            let room = self.config.max_tasks.map_or(room, |max| room.min(max - taken));
                            let mut chunks = vec![chunk];
                            while chunks.len() < room {
                                match self.shared.queue.try_recv() {
                                    Ok(chunk) if chunk.sink.is_done() => {}
                                    Ok(chunk) => chunks.push(chunk),
                                    Err(_) => break,
                                }
                            }
                            taken += chunks.len();
                            process.send(chunks);
                        }
                        Err(_) => queue_open = false,
                    },
                    recv(process.events) -> event => match event.unwrap_or(Event::Closed(None)) {
                        Event::ChunksDone(chunks) => {
                            let now = Instant::now();
                            let took = (now - last_done) / chunks.max(1) as u32;
                            last_done = now;
                            chunk_time = if chunk_time == Duration::MAX { took } else { (chunk_time * 3 + took) / 4 };
                        }
                        Event::Ready => {}
                        Event::Fatal(message) => fatal = Some(message),
                        Event::Closed(corrupt) => {
                            let (status, held) = self.reap(process, corrupt.is_some());
                            let hung = self.config.limits.timeout.filter(|_| hung).map(|t| t * 2 + Duration::from_secs(1));
                            self.after_death(status, corrupt.or(fatal.take()), hung, held, &mut retry);
                            break;
                        }
                    },
                    default(wait) => if backstop.is_some() {
                        hung = true;
                        // Its reader reports the closed pipe next.
                        let _ = process.child.kill();
                    },
                }
            }
        }
        for chunk in retry {
            chunk.fail_not_run(&self.shared.stopped().unwrap_or_default());
        }
    }

    /// Spawns a worker, sends it its configuration and waits until it is ready.
    fn start(&self) -> Result<Process, BuildError> {
        let program = &self.config.program;
        let mut child = Command::new(program)
            .arg(WORKER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BuildError::Spawn { worker: self.index, program: program.clone(), source })?;
        self.shared.set_pid(self.index, Some(child.id()));
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr_relay = relay_stderr(child.stderr.take().expect("stderr is piped"), self.index);
        let config = WorkerConfig {
            artifact: self.config.artifact.clone(),
            worker_index: self.index,
            workers: self.config.workers,
            env: self.config.env.clone(),
            initializer: self.config.initializer.clone(),
            limits: self.config.limits.clone(),
            dirs: self.config.dirs.clone(),
            mode: self.config.mode,
            raw_output: self.config.raw_output,
        };
        let body = serde_json::to_vec(&config).expect("the configuration serializes");
        let sent = protocol::write_frame(&mut stdin, protocol::TAG_START, &body);

        let in_flight = Arc::new(Mutex::new(VecDeque::new()));
        let (events_tx, events) = crossbeam_channel::unbounded();
        let progress = Arc::new(Mutex::new(Instant::now()));
        let reader = {
            let (in_flight, progress) = (Arc::clone(&in_flight), Arc::clone(&progress));
            let slot = self.index;
            std::thread::Builder::new()
                .name(format!("rpool-reader-{slot}"))
                .spawn(move || read_results(stdout, slot, in_flight, progress, events_tx))
                .expect("a thread can be spawned")
        };
        let process = Process { child, stdin, in_flight, progress, events, reader, stderr_relay };
        let failed = |process: Process, message: String| {
            let (status, _) = self.reap(process, true);
            Err(BuildError::WorkerStart {
                worker: self.index,
                message: format!("{message} (the worker {})", describe_status(status)),
            })
        };
        if let Err(e) = sent {
            return failed(process, format!("cannot send the start frame: {e}"));
        }
        match process.events.recv() {
            Ok(Event::Ready) => Ok(process),
            Ok(Event::Fatal(message)) => {
                self.reap(process, true);
                Err(BuildError::WorkerStart { worker: self.index, message })
            }
            Ok(Event::Closed(Some(corrupt))) => failed(process, corrupt),
            _ => failed(process, "the worker exited before it was ready".into()),
        }
    }

    /// Asks an idle worker to exit and waits for it.
    fn retire(&self, mut process: Process) {
        let _ = protocol::write_frame(&mut process.stdin, protocol::TAG_SHUTDOWN, &[]);
        self.reap(process, false);
    }

    /// Closes the worker's stdin (killing it first if `kill`), waits for it
    /// to exit and for its reader to finish; returns how it exited and the
    /// chunks it had not finished.
    fn reap(&self, process: Process, kill: bool) -> (ExitStatus, VecDeque<InFlight>) {
        let Process { mut child, stdin, in_flight, progress: _, events: _, reader, stderr_relay } = process;
        drop(stdin);
        // Forget the pid before reaping, so that a `stop` never signals a
        // pid that the system may have given to another process.
        self.shared.set_pid(self.index, None);
        if kill {
            let _ = child.kill();
        }
        let status = child.wait().expect("the worker is our child");
        let _ = reader.join();
        let _ = stderr_relay.join();
        let held = std::mem::take(&mut *in_flight.lock().unwrap_or_else(|e| e.into_inner()));
        (status, held)
    }

    /// A worker is gone with `held` unfinished. If the pool stopped, they
    /// fail as not run. If the worker could not go on (its instance's
    /// initializer failed on a rebuild, or its stream was corrupt), the pool
    /// stops. Otherwise it died: the item it was running is run again on the
    /// replacement unless it has used up its retries (then it fails, naming
    /// how the worker died), and the items it had not started are run again.
    fn after_death(
        &self,
        status: ExitStatus,
        cannot_go_on: Option<String>,
        hung: Option<Duration>,
        held: VecDeque<InFlight>,
        retry: &mut VecDeque<Chunk>,
    ) {
        if let Some(message) = cannot_go_on.filter(|_| self.shared.stopped().is_none()) {
            self.shared.stop(&format!("worker {}: {message}", self.index));
        }
        if let Some(reason) = self.shared.stopped() {
            for InFlight { chunk, answered } in held {
                chunk.fail_rest(answered, |index| TaskError::NotRun {
                    index,
                    func: chunk.func.to_string(),
                    reason: reason.clone(),
                });
            }
            return;
        }
        let mut held = held.into_iter();
        if let Some(InFlight { chunk, answered }) = held.next() {
            if let Some(running) = chunk.part(answered, Some(1), chunk.attempts + 1) {
                // A worker that hung was killed by the backstop: running the
                // item again would hang again.
                if running.attempts > self.config.retries || hung.is_some() {
                    let worker = self.index;
                    let status = match hung {
                        Some(waited) => {
                            format!("stopped answering for {} and was killed", crate::limits::format_duration(waited))
                        }
                        None => describe_status(status),
                    };
                    running.fail_rest(0, |index| TaskError::WorkerLost {
                        index,
                        func: running.func.to_string(),
                        worker,
                        status: status.clone(),
                    });
                } else {
                    self.shared.count_retry();
                    retry.push_back(running);
                }
            }
            if let Some(rest) = chunk.part(answered + 1, None, 0) {
                retry.push_back(rest);
            }
        }
        retry.extend(held.map(|in_flight| in_flight.chunk));
    }
}

impl Process {
    /// Puts `chunks` in flight and writes them to the worker, in one
    /// (vectored) write when the pipe takes them all at once.
    fn send(&mut self, chunks: Vec<Chunk>) {
        let frames: Vec<Arc<[u8]>> = chunks.iter().map(|chunk| Arc::clone(&chunk.frame)).collect();
        let mut in_flight = lock(&self.in_flight);
        if in_flight.is_empty() {
            *lock(&self.progress) = Instant::now();
        }
        in_flight.extend(chunks.into_iter().map(|chunk| InFlight { chunk, answered: 0 }));
        drop(in_flight);
        let mut slices: Vec<IoSlice<'_>> = frames.iter().map(|frame| IoSlice::new(frame)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match self.stdin.write_vectored(slices) {
                Ok(0) => return,
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The worker died; its reader reports that, and the chunks
                // are dealt with then.
                Err(_) => return,
            }
        }
    }
}

/// The chunk whose results a reader is delivering: its front of `in_flight`,
/// with the count of results delivered kept here and written back there
/// once per read of the pipe rather than once per item.
struct Current {
    sink: Arc<dyn Sink>,
    func: Arc<str>,
    count: usize,
    answered: usize,
}

/// Turns a worker's result frames into deliveries, in the order the items
/// were sent; tells the slot when a chunk is done and when the stream ends.
///
/// It takes every whole frame a read brought before it reads again: the
/// shared state (what was answered, when the worker last made progress) is
/// updated once per read, and a streaming job gets one batch per read. It
/// is all written back before the reader returns, which is before the slot
/// looks at what a dead worker left unanswered.
fn read_results(
    stdout: std::process::ChildStdout,
    slot: usize,
    in_flight: Arc<Mutex<VecDeque<InFlight>>>,
    progress: Arc<Mutex<Instant>>,
    events: Sender<Event>,
) {
    let mut frames = protocol::FrameReader::new(stdout);
    let mut current: Option<Current> = None;
    // The sink that got the last outcome, and its outcomes of this read:
    // handed over (one lock) and flushed before the reader waits, so that a
    // streaming job gets a batch per read, not a wake-up per item.
    let mut touched: Option<(Arc<dyn Sink>, Batch)> = None;
    let write_back = |current: &Option<Current>| {
        if let Some(current) = current {
            lock(&in_flight).front_mut().expect("the current chunk is in flight").answered = current.answered;
        }
        *lock(&progress) = Instant::now();
    };
    let corrupt = 'stream: loop {
        let mut answered_any = false;
        // Told to the slot once per read: a wake-up per chunk would cost
        // tiny chunks more than running them.
        let mut chunks_done = 0;
        loop {
            let frame = match frames.buffered_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => break 'stream Some(format!("worker {slot}: broken result stream: {e}")),
            };
            match protocol::decode_from_worker(frame) {
                Ok(FromWorker::Ready) => {
                    let _ = events.send(Event::Ready);
                }
                Ok(FromWorker::Fatal(message)) => {
                    let _ = events.send(Event::Fatal(message.to_string()));
                }
                Ok(FromWorker::Result { index, status, payload }) => {
                    if current.is_none() {
                        let queue = lock(&in_flight);
                        let Some(front) = queue.front() else {
                            break 'stream Some(format!(
                                "worker {slot}: a result for item {index} that was never sent"
                            ));
                        };
                        current = Some(Current {
                            sink: Arc::clone(&front.chunk.sink),
                            func: Arc::clone(&front.chunk.func),
                            count: front.chunk.count,
                            answered: front.answered,
                        });
                    }
                    let chunk = current.as_mut().expect("just set");
                    chunk.answered += 1;
                    answered_any = true;
                    let index = index as usize;
                    let message = || String::from_utf8_lossy(payload).into_owned();
                    let func = || chunk.func.to_string();
                    let outcome = match status {
                        Status::Ok => Ok(payload),
                        Status::Failed => Err(TaskError::Failed { index, func: func(), message: message() }),
                        Status::Trap => Err(TaskError::Trap { index, func: func(), message: message() }),
                        Status::InvalidOutput => {
                            Err(TaskError::InvalidOutput { index, func: func(), message: message() })
                        }
                    };
                    if !touched.as_ref().is_some_and(|(sink, _)| Arc::ptr_eq(sink, &chunk.sink)) {
                        hand_over(touched.replace((Arc::clone(&chunk.sink), Batch::default())));
                    }
                    touched.as_mut().expect("just set").1.push(index, outcome);
                    if chunk.answered == chunk.count {
                        current = None;
                        lock(&in_flight).pop_front();
                        chunks_done += 1;
                    }
                }
                Err(e) => break 'stream Some(format!("worker {slot}: corrupt result frame: {e}")),
            }
        }
        if answered_any {
            write_back(&current);
        }
        if chunks_done > 0 {
            let _ = events.send(Event::ChunksDone(chunks_done));
        }
        hand_over(touched.take());
        match frames.fill() {
            Ok(true) => {}
            Ok(false) => break None,
            Err(e) => break Some(format!("worker {slot}: broken result stream: {e}")),
        }
    };
    hand_over(touched);
    write_back(&current);
    let _ = events.send(Event::Closed(corrupt));
}

/// Gives a sink the outcomes a reader collected for it, and flushes it.
fn hand_over(touched: Option<(Arc<dyn Sink>, Batch)>) {
    if let Some((sink, batch)) = touched {
        sink.deliver_batch(batch);
        sink.flush();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Copies a worker's stderr (its own, and its guest's stdout and stderr) to
/// ours, line by line, each prefixed with the worker's index.
fn relay_stderr(stderr: std::process::ChildStderr, slot: usize) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("rpool-stderr-{slot}"))
        .spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                let mut out = std::io::stderr().lock();
                let _ = write!(out, "[worker {slot}] ");
                let _ = out.write_all(&line);
                line.clear();
            }
        })
        .expect("a thread can be spawned")
}

/// "exited with code 1", "was killed by signal 9 (SIGKILL)".
pub(crate) fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}{}", signal_name(signal)),
        _ => "exited".to_string(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_chunks_get_about_a_millisecond_of_work_in_flight() {
        assert_eq!(window(Duration::MAX), WINDOW, "no measure yet: the small window");
        assert_eq!(window(Duration::from_secs(2)), WINDOW);
        assert_eq!(window(Duration::from_micros(400)), WINDOW);
        assert_eq!(window(Duration::from_micros(100)), 10);
        assert_eq!(window(Duration::from_micros(1)), MAX_WINDOW);
        assert_eq!(window(Duration::ZERO), MAX_WINDOW);
    }
}

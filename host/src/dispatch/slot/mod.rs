//! A worker slot: one thread that keeps one worker process alive and fed.
//! It pulls chunks from the pool's queue (at most [`WINDOW`] in flight, so
//! that a slow item never holds back work another worker could take),
//! spawns a replacement when the process dies or reaches its task limit,
//! and makes sure every item it took is answered: [`retry`] decides what
//! happens to a dead worker's items. The process itself, and the reader
//! thread that turns its result frames into deliveries, are in
//! [`process`] and [`reader`].

mod child;
mod process;
mod reader;
mod retry;
mod startup;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, select};

pub(crate) use child::WorkerChild;
use process::describe_status;
use retry::{Decision, Ending};
pub(crate) use startup::Startups;

use super::PoolState;
use super::chunk::Chunk;
use crate::error::{BuildError, TaskError};
use crate::wire::worker_config::WorkerConfig;

/// Chunks a worker holds at once: one running, one ready behind it, so that
/// it never waits on the parent between chunks.
pub(crate) const WINDOW: usize = 2;

/// While its chunks are quick, a worker may hold about this much work in
/// chunks (at most [`MAX_WINDOW`]): tiny chunks then travel in batches,
/// with a wake-up of each thread per batch instead of per chunk, and load
/// balancing loses next to nothing (that much work holds no one up).
const QUICK_WORK: Duration = Duration::from_millis(1);
/// A chunk of one tiny item takes a worker about 2 µs: a millisecond is
/// some 500 of them. (At most 64, W2's 100,000 one-item chunks took about
/// 1,500 wake-ups of each slot thread; 512 took W2 from 68 to 47 ms.)
const MAX_WINDOW: usize = 512;

/// How many chunks a worker may hold whose chunks take `chunk_time` each.
fn window(chunk_time: Duration) -> usize {
    let quick = QUICK_WORK.as_nanos() / chunk_time.as_nanos().max(1);
    (quick as usize).clamp(WINDOW, MAX_WINDOW)
}

/// What every slot needs to start and replace its workers: the program, the
/// template of each worker's start configuration (its index and generation
/// are the slot's to fill in), and the slot's own policy.
#[derive(Debug, Clone)]
pub(crate) struct SlotPlan {
    pub program: PathBuf,
    pub worker: WorkerConfig,
    pub max_tasks: Option<usize>,
    /// How often an item whose worker died may run again.
    pub retries: u32,
}

/// A slot's first start, reported to the pool's start-up.
pub(crate) type Startup = Result<(), BuildError>;

/// What a launched slot waits for: the pool's state, the plan, and where
/// to report its first worker's start.
type Go = (Arc<PoolState>, Arc<SlotPlan>, Arc<Startups>);

/// Slot `index`'s thread, started before the pool has checked its module:
/// it spawns its first worker process at once (unless it was given one
/// forked already), so that the process starts (the loader, the runtime: a
/// few milliseconds) while the parent loads and checks the module, and then
/// waits for [`Launch::go`]. The slot's own thread spawns it because a
/// worker dies with the thread that spawned it (its parent-death signal); a
/// forked one dies with the thread that forked it, which outlives the pool.
pub(crate) struct Launch {
    go: Sender<Go>,
    thread: JoinHandle<()>,
}

impl Launch {
    /// Starts the thread and its first worker process: `forked`, or
    /// `program` spawned.
    pub(crate) fn new(program: PathBuf, index: usize, forked: Option<WorkerChild>) -> Launch {
        let (go, gate) = crossbeam_channel::bounded::<Go>(1);
        let thread = std::thread::Builder::new()
            .name(format!("rpool-slot-{index}"))
            .spawn(move || {
                let first = forked.map_or_else(|| WorkerChild::spawn(&program), Ok);
                match gate.recv() {
                    Ok((state, plan, startup)) => Slot { state, plan, index }.run(startup, Some(first)),
                    // The pool did not start (its module or settings were refused).
                    Err(_) => {
                        if let Ok(mut child) = first {
                            let _ = child.kill();
                            let _ = child.wait();
                        }
                    }
                }
            })
            .expect("a thread can be spawned");
        Launch { go, thread }
    }

    /// Lets the slot run with `plan`; its first worker's start is reported
    /// on `startup`.
    pub(crate) fn go(self, state: Arc<PoolState>, plan: Arc<SlotPlan>, startup: Arc<Startups>) -> JoinHandle<()> {
        let _ = self.go.send((state, plan, startup));
        self.thread
    }

    /// Stops the slot before it ran: its worker is killed and reaped.
    pub(crate) fn cancel(self) {
        drop(self.go);
        let _ = self.thread.join();
    }
}

struct InFlight {
    chunk: Chunk,
    answered: usize,
}

enum Event {
    /// The worker is ready, speaking this protocol version (`None`: a worker
    /// that predates versions).
    Ready(Option<u32>),
    Fatal(String),
    /// This many chunks were answered in full (since the last such event).
    ChunksDone(usize),
    /// The worker's stdout closed (it exited, or its stream was corrupt: the message).
    Closed(Option<String>),
}

struct Slot {
    state: Arc<PoolState>,
    plan: Arc<SlotPlan>,
    index: usize,
}

impl Slot {
    /// Runs the slot: its workers, one after another, each fed chunks until
    /// it dies or retires. `first` is the first worker's process, spawned
    /// already (see [`Launch`]).
    fn run(self, startup: Arc<Startups>, mut first: Option<std::io::Result<WorkerChild>>) {
        let mut startup = Some(startup);
        let never = crossbeam_channel::never();
        let mut queue_open = true;
        // Chunks a dead worker held, to run first on its replacement.
        let mut retry: VecDeque<Chunk> = VecDeque::new();
        // Worker processes this slot started so far (RPOOL_WORKER_GENERATION).
        let mut generation = 0;
        while self.state.stopped().is_none() {
            let started = self.start(generation, first.take());
            generation += 1;
            let mut process = match started {
                Ok(process) => {
                    if let Some(s) = startup.take() {
                        s.report(Ok(()), &self.state);
                    }
                    process
                }
                Err(error) => {
                    // The first start is reported (see `Startups`); a later
                    // one means no worker can run here any more: the pool stops.
                    match startup.take() {
                        Some(s) => s.report(Err(error), &self.state),
                        None => self.state.stop(&error.to_string()),
                    }
                    for chunk in retry {
                        chunk.fail_not_run(&self.state.stopped().unwrap_or_default());
                    }
                    return;
                }
            };
            let mut taken = 0;
            // The chunks of the next send, in a `Vec` kept from one to the next.
            let mut batch = Vec::with_capacity(MAX_WINDOW);
            let mut fatal = None;
            let mut hung = false;
            // How long this worker's chunks take, smoothed; slow until shown quick.
            let mut chunk_time = Duration::MAX;
            let mut last_done = Instant::now();
            loop {
                let retiring = self.plan.max_tasks.is_some_and(|max| taken >= max);
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
                    batch.push(chunk);
                    process.send(&mut batch);
                    continue;
                }
                let queue = if queue_open && !retiring && in_flight < window { &self.state.queue } else { &never };
                // The backstop: a worker with work that has not answered for
                // twice the timeout and a second is stuck outside wasm.
                let backstop = self
                    .plan
                    .worker
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
                            let room = self.plan.max_tasks.map_or(room, |max| room.min(max - taken));
                            batch.push(chunk);
                            while batch.len() < room {
                                match self.state.queue.try_recv() {
                                    Ok(chunk) if chunk.sink.is_done() => {}
                                    Ok(chunk) => batch.push(chunk),
                                    Err(_) => break,
                                }
                            }
                            taken += batch.len();
                            process.send(&mut batch);
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
                        Event::Ready(_) => {}
                        Event::Fatal(message) => fatal = Some(message),
                        Event::Closed(corrupt) => {
                            let (status, held) = self.reap(process, corrupt.is_some());
                            let hung = self.plan.worker.limits.timeout.filter(|_| hung).map(|t| t * 2 + Duration::from_secs(1));
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
            chunk.fail_not_run(&self.state.stopped().unwrap_or_default());
        }
    }
}

impl Slot {
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
        if let Some(message) = cannot_go_on.filter(|_| self.state.stopped().is_none()) {
            self.state.stop(&format!("worker {}: {message}", self.index));
        }
        if let Some(reason) = self.state.stopped() {
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
                let ending = match hung {
                    Some(waited) => Ending::Hung { waited },
                    None => Ending::Died { status: describe_status(status) },
                };
                match retry::decide(&ending, running.attempts, self.plan.retries) {
                    Decision::RunAgain => {
                        self.state.count_retry();
                        retry.push_back(running);
                    }
                    Decision::Fail(status) => {
                        let worker = self.index;
                        running.fail_rest(0, |index| TaskError::WorkerLost {
                            index,
                            func: running.func.to_string(),
                            worker,
                            status: status.clone(),
                        });
                    }
                }
            }
            if let Some(rest) = chunk.part(answered + 1, None, 0) {
                retry.push_back(rest);
            }
        }
        retry.extend(held.map(|in_flight| in_flight.chunk));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
        assert_eq!(window(Duration::from_micros(2)), 500);
        assert_eq!(window(Duration::from_nanos(100)), MAX_WINDOW);
        assert_eq!(window(Duration::ZERO), MAX_WINDOW);
    }
}

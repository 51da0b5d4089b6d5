//! One live worker process of a slot: spawning it with its start frame and
//! waiting for it to be ready (refusing a worker program of another
//! protocol version), writing chunks to it, and reaping it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, IoSlice, Write};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::Receiver;

use super::child::WorkerChild;
use super::reader::read_results;
use super::{Event, InFlight, Slot, lock};
use crate::dispatch::chunk::Chunk;
use crate::error::BuildError;
use crate::wire::worker_config::WorkerConfig;
use crate::wire::{self, PROTOCOL_VERSION};

/// One live worker process.
pub(super) struct Process {
    pub child: WorkerChild,
    stdin: File,
    pub in_flight: Arc<Mutex<VecDeque<InFlight>>>,
    /// When the worker last answered an item (or was given work while idle).
    pub progress: Arc<Mutex<Instant>>,
    pub events: Receiver<Event>,
    reader: JoinHandle<()>,
    stderr_relay: JoinHandle<()>,
    /// The frames of the chunks being written, kept alive through the write
    /// (the reader may drop an answered chunk meanwhile); the `Vec` is kept
    /// from one send to the next, so that a chunk of one tiny item costs no
    /// allocation here.
    outgoing: Vec<Arc<[u8]>>,
}

impl Slot {
    /// Starts a worker (`spawned` or forked already, or spawns one), sends
    /// it its configuration and waits until it is ready.
    pub(super) fn start(
        &self,
        generation: u64,
        spawned: Option<std::io::Result<WorkerChild>>,
    ) -> Result<Process, BuildError> {
        let program = &self.plan.program;
        let mut child = spawned.unwrap_or_else(|| WorkerChild::spawn(program)).map_err(|source| BuildError::Spawn {
            worker: self.index,
            program: program.clone(),
            source,
        })?;
        self.state.set_pid(self.index, Some(child.id()));
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let config = WorkerConfig {
            protocol: PROTOCOL_VERSION,
            worker_index: self.index,
            generation,
            ..self.plan.worker.clone()
        };
        let body = serde_json::to_vec(&config).expect("the configuration serializes");
        // The start frame goes first: a worker forked with the module loaded
        // answers it within a fraction of a millisecond, while its reader
        // and stderr relay start (what it writes meanwhile waits in its pipes).
        let sent = wire::write_frame(&mut stdin, wire::TAG_START, &body);
        let stderr_relay = relay_stderr(child.stderr.take().expect("stderr is piped"), self.index);

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
        let process = Process { child, stdin, in_flight, progress, events, reader, stderr_relay, outgoing: Vec::new() };
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
            Ok(Event::Ready(Some(PROTOCOL_VERSION))) => Ok(process),
            Ok(Event::Ready(version)) => {
                self.reap(process, true);
                Err(BuildError::ProtocolMismatch {
                    program: program.clone(),
                    theirs: version.unwrap_or(1),
                    ours: PROTOCOL_VERSION,
                })
            }
            Ok(Event::Fatal(message)) => {
                self.reap(process, true);
                Err(BuildError::WorkerStart { worker: self.index, message })
            }
            Ok(Event::Closed(Some(corrupt))) => failed(process, corrupt),
            _ => failed(process, "the worker exited before it was ready".into()),
        }
    }

    /// Asks an idle worker to exit and waits for it: for its output to end
    /// (it closes its stdout and stderr as it leaves, so everything it wrote
    /// has been passed on then), and for the process to end, unless the
    /// pool leaves that to a thread of its own ([`PoolState::detach`]).
    ///
    /// [`PoolState::detach`]: crate::dispatch::PoolState::detach
    pub(super) fn retire(&self, mut process: Process) {
        let _ = wire::write_frame(&mut process.stdin, wire::TAG_SHUTDOWN, &[]);
        let Process { child, stdin, reader, stderr_relay, .. } = process;
        drop(stdin);
        let _ = reader.join();
        let _ = stderr_relay.join();
        // Forget the pid before it can be reaped (see `reap`).
        self.state.set_pid(self.index, None);
        if let Some(mut child) = self.state.detach(child) {
            let _ = child.wait();
        }
    }

    /// Closes the worker's stdin (killing it first if `kill`), waits for it
    /// to exit and for its reader to finish; returns how it exited and the
    /// chunks it had not finished.
    pub(super) fn reap(&self, process: Process, kill: bool) -> (ExitStatus, VecDeque<InFlight>) {
        let Process { mut child, stdin, in_flight, reader, stderr_relay, .. } = process;
        drop(stdin);
        // Forget the pid before reaping, so that a `stop` never signals a
        // pid that the system may have given to another process.
        self.state.set_pid(self.index, None);
        if kill {
            let _ = child.kill();
        }
        let status = child.wait().expect("the worker is our child");
        let _ = reader.join();
        let _ = stderr_relay.join();
        let held = std::mem::take(&mut *in_flight.lock().unwrap_or_else(|e| e.into_inner()));
        (status, held)
    }
}

impl Process {
    /// Puts `chunks` in flight (leaving the `Vec` empty for the next batch)
    /// and writes them to the worker, in one vectored write when the pipe
    /// takes them all at once.
    pub(super) fn send(&mut self, chunks: &mut Vec<Chunk>) {
        let Process { stdin, in_flight, progress, outgoing, .. } = self;
        outgoing.extend(chunks.iter().map(|chunk| Arc::clone(&chunk.frame)));
        let mut held = lock(in_flight);
        if held.is_empty() {
            *lock(progress) = Instant::now();
        }
        held.extend(chunks.drain(..).map(|chunk| InFlight { chunk, answered: 0 }));
        drop(held);
        // A window's worth of slices on the stack (a slot sends at most a
        // window of chunks at once; more go a window at a time).
        'frames: for group in outgoing.chunks(SLICES) {
            let mut slices = [IoSlice::new(&[]); SLICES];
            for (slice, frame) in slices.iter_mut().zip(group) {
                *slice = IoSlice::new(frame);
            }
            let mut slices = &mut slices[..group.len()];
            while !slices.is_empty() {
                match stdin.write_vectored(slices) {
                    Ok(0) => break 'frames,
                    Ok(n) => IoSlice::advance_slices(&mut slices, n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // The worker died; its reader reports that, and the chunks
                    // are dealt with then.
                    Err(_) => break 'frames,
                }
            }
        }
        outgoing.clear();
    }
}

/// How many frames one vectored write takes: a whole window of chunks
/// (within the system's limit on one write's slices, `IOV_MAX`: 1024).
const SLICES: usize = super::MAX_WINDOW;
const _: () = assert!(SLICES <= 1024);

/// Copies a worker's stderr (its own, and its guest's stdout and stderr) to
/// ours, line by line, each prefixed with the worker's index.
fn relay_stderr(stderr: File, slot: usize) -> JoinHandle<()> {
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
        (None, Some(signal)) => format!("was killed by signal {signal}{}", signal_suffix(signal)),
        _ => "exited".to_string(),
    }
}

/// " (SIGKILL)" for the signals that kill workers, to follow a number.
fn signal_suffix(signal: i32) -> &'static str {
    match signal {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

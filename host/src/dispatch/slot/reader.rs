//! A worker's reader thread: it turns the worker's result frames into
//! deliveries to their jobs' sinks, in the order the items were sent, and
//! tells the slot when chunks are done and when the stream ends.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::Sender;

use super::{Event, InFlight, lock};
use crate::dispatch::outcomes::Outcomes;
use crate::dispatch::sinks::Sink;
use crate::error::TaskError;
use crate::wire::{self, FromWorker, Status};

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
pub(super) fn read_results(
    stdout: std::fs::File,
    slot: usize,
    in_flight: Arc<Mutex<VecDeque<InFlight>>>,
    progress: Arc<Mutex<Instant>>,
    events: Sender<Event>,
) {
    let mut frames = wire::FrameReader::new(stdout);
    let mut current: Option<Current> = None;
    // The sink that got the last outcome, and its outcomes of this read:
    // handed over (one lock) and flushed before the reader waits, so that a
    // streaming job gets a batch per read, not a wake-up per item.
    let mut touched: Option<(Arc<dyn Sink>, Outcomes)> = None;
    // Returns how long it has been since the worker last made progress.
    let write_back = |current: &Option<Current>| {
        if let Some(current) = current {
            lock(&in_flight).front_mut().expect("the current chunk is in flight").answered = current.answered;
        }
        let now = Instant::now();
        now - std::mem::replace(&mut *lock(&progress), now)
    };
    let corrupt = 'stream: loop {
        let mut answered = 0u32;
        // Told to the slot once per read: a wake-up per chunk would cost
        // tiny chunks more than running them.
        let mut chunks_done = 0;
        loop {
            let frame = match frames.buffered_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => break 'stream Some(format!("worker {slot}: broken result stream: {e}")),
            };
            match wire::decode_from_worker(frame) {
                Ok(FromWorker::Ready(version)) => {
                    let _ = events.send(Event::Ready(version));
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
                    answered += 1;
                    let index = index as usize;
                    let message = || String::from_utf8_lossy(payload).into_owned();
                    let func = || chunk.func.to_string();
                    let outcome = match status {
                        Status::Ok => Ok(payload),
                        Status::Failed => Err(TaskError::Failed { index, func: func(), message: message() }),
                        Status::Trap => {
                            // The description, then where it trapped (see `wire::trap_payload`).
                            let (description, location) = wire::split_trap(payload);
                            Err(TaskError::Trap {
                                index,
                                func: func(),
                                message: String::from_utf8_lossy(description).into_owned(),
                                location: location.map(|l| String::from_utf8_lossy(l).into_owned()),
                            })
                        }
                        Status::InvalidOutput => {
                            Err(TaskError::InvalidOutput { index, func: func(), message: message() })
                        }
                    };
                    if !touched.as_ref().is_some_and(|(sink, _)| Arc::ptr_eq(sink, &chunk.sink)) {
                        hand_over(touched.replace((Arc::clone(&chunk.sink), Outcomes::default())));
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
        if answered > 0 {
            let took = write_back(&current);
            // The job learns how quick its items are (see `Stream::item_time`).
            if let Some((sink, _)) = &touched {
                sink.note_item_time(took / answered, answered);
            }
        }
        if chunks_done > 0 {
            let _ = events.send(Event::ChunksDone(chunks_done));
        }
        hand_over(touched.take());
        match frames.fill() {
            Ok(true) => {}
            Ok(false) => break None,
            // The stream ended inside a frame: the worker died while it wrote
            // (killed in the middle of a burst of results bigger than the
            // pipe takes at once); its unanswered items run again.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break None,
            Err(e) => break Some(format!("worker {slot}: broken result stream: {e}")),
        }
    };
    hand_over(touched);
    write_back(&current);
    let _ = events.send(Event::Closed(corrupt));
}

/// Gives a sink the outcomes a reader collected for it, and flushes it.
fn hand_over(touched: Option<(Arc<dyn Sink>, Outcomes)>) {
    if let Some((sink, batch)) = touched {
        sink.deliver_all(batch);
        sink.flush();
    }
}

//! The feeding half of a lazy job: pulls items as results are consumed,
//! submits them in chunks, and receives outcomes in completion order. At
//! most a bounded window of items is submitted and not yet yielded, so an
//! endless input runs in bounded memory.
//!
//! The items are pulled either here, between batches of outcomes (the typed
//! `imap`, whose items need not be `Send`), or on a thread of their own (the
//! raw-JSON streams), so that an input that waits for its items — a pipe, a
//! `tail -f` — never holds up a result that is already in, and each item is
//! submitted as soon as it arrives. (A raw-JSON stream of a few items, all in
//! hand, is fed here too: nothing can wait, and a thread's start is a good
//! part of a short run.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::dispatch::PoolState;
use crate::dispatch::chunk::{Args, Chunker, EncodeItem};
use crate::dispatch::outcomes::Outcomes;
use crate::dispatch::sinks::Stream;
use crate::error::TaskError;

/// Small items: a lazy job keeps up to this many submitted and not yet
/// consumed, so that workers never wait on the consumer between items…
const SMALL_ITEMS_WINDOW: usize = 4096;
/// …as long as their encoded arguments stay under this many bytes.
const WINDOW_BYTES: usize = 64 << 20;

/// How many released outcomes a consumer lets pass before it tells its
/// feeding thread (a sixteenth of the small items' window).
const PUBLISH_EVERY: usize = SMALL_ITEMS_WINDOW / 16;

/// One-item chunks of tiny items travel together, in one frame run one item
/// per call ([`crate::wire::TAG_SINGLES`]), as many as take a worker about
/// this long: a chunk in the queue, in flight and in the reader costs more
/// than such an item's call, and a worker holds about a millisecond of
/// work at a time in any case (`dispatch::slot`), so load balancing loses
/// nothing.
const TOGETHER_WORK: Duration = Duration::from_micros(250);
/// At most this many (a frame of tiny items of some 25 bytes each).
const MAX_TOGETHER: usize = 1024;

/// How a lazy job's items are made into chunks and submitted.
pub(super) struct Submitter<I> {
    items: I,
    chunker: Chunker,
    chunksize: usize,
    /// What keeps every worker busy: its chunks in flight and one queued.
    window: usize,
    /// Bytes of the chunks fed so far, to size the window for small items…
    fed_bytes: usize,
    /// …as [`widened_window`](Submitter::widened_window) does after each
    /// chunk: not for every outcome, which a tiny item would notice.
    effective_window: usize,
    /// Where the job's outcomes go, and how quick its items are; `None`
    /// when one-item chunks never travel together (see [`TOGETHER_WORK`]).
    together: Option<Arc<Stream>>,
}

impl<I: Iterator<Item: EncodeItem>> Submitter<I> {
    /// Whether the window has room for another chunk, `released` outcomes
    /// having gone to the caller.
    fn has_room(&self, released: usize) -> bool {
        self.chunker.next_index - released + self.chunksize <= self.effective_window
    }

    /// With the window full, the `released` count at which the feeding
    /// thread goes on: once a quarter of the window is free, not as soon as
    /// one chunk fits, or a consumer of tiny items would wake it (and be
    /// preempted by it) for every few outcomes (5,000 times in 100,000 items
    /// at chunksize 1). Never past what was submitted, which every
    /// outcome's release reaches in the end.
    fn resume_point(&self) -> usize {
        let next = self.chunker.next_index;
        (next + self.chunksize + self.effective_window / 4).saturating_sub(self.effective_window).min(next)
    }

    /// Submits chunks while `released` leaves the window room and the input
    /// lasts; true once the input has ended.
    fn fill(&mut self, state: &PoolState, released: usize) -> bool {
        while self.has_room(released) {
            if !self.submit_one(state, released) {
                return true;
            }
        }
        false
    }

    /// Takes up to a chunk's worth of items (several one-item chunks, once
    /// they are known to be tiny: see [`Submitter::together`]) and submits
    /// them; false once the input has ended (the pool is told, once).
    fn submit_one(&mut self, state: &PoolState, released: usize) -> bool {
        let together = self.together(released);
        let n = self.chunksize * together;
        let (chunk, taken) = self.chunker.chunk(&mut self.items, n, together > 1);
        if let Some(chunk) = chunk {
            self.fed_bytes += chunk.frame.len();
            self.effective_window = self.widened_window();
            state.feed(chunk);
        }
        if taken < n {
            state.end_feeder();
            return false;
        }
        true
    }

    /// How many one-item chunks the next frame carries: one, unless the
    /// job's chunksize is 1 and its items are known to take a worker under
    /// [`TOGETHER_WORK`] together; then as many as take about that long,
    /// are in hand (the input's `size_hint`: items that may still be on
    /// their way are never waited for) and fit the window.
    fn together(&self, released: usize) -> usize {
        let Some(per_item) = self.together.as_ref().and_then(|stream| stream.item_time()) else {
            return 1;
        };
        let quick = (TOGETHER_WORK.as_nanos() / per_item.as_nanos().max(1)) as usize;
        let room = self.effective_window.saturating_sub(self.chunker.next_index - released);
        // Only what is in hand: one more could keep those waiting on a live
        // input. (With none in hand, one chunk is taken, waiting, as always.)
        quick.min(MAX_TOGETHER).min(self.items.size_hint().0).min(room).max(1)
    }

    /// The window, widened for small items (tiny chunks would otherwise make
    /// every item wait for a round trip through the consumer).
    fn widened_window(&self) -> usize {
        let per_item = self.fed_bytes.checked_div(self.chunker.next_index).unwrap_or(0);
        let small = SMALL_ITEMS_WINDOW.min(WINDOW_BYTES / per_item.max(1));
        self.window.max(small)
    }
}

/// What a feeding thread and its consumer share.
#[derive(Default)]
struct Shared {
    /// Items submitted so far (the thread's `next_index`).
    submitted: AtomicUsize,
    /// The input has ended: `submitted` is the total.
    exhausted: AtomicBool,
    /// Outcomes the consumer has handed on: the window counts from here.
    released: AtomicUsize,
    /// The consumer is gone.
    dropped: AtomicBool,
    /// Whether the thread waits for room in the window, and its wake-up.
    waiting: Mutex<bool>,
    room: Condvar,
    /// `waiting`, readable without the lock: the consumer releases every
    /// outcome, and a lock per outcome costs more than a tiny item (about
    /// 4% of the parent's time on a million squares).
    asleep: AtomicBool,
    /// The `released` count the sleeping thread waits for (see
    /// [`Submitter::resume_point`]).
    resume_at: AtomicUsize,
}

impl Shared {
    /// Wakes the thread if it waits for room and `released` (the count just
    /// stored) is what it waits for. (`released` is stored before, and
    /// `resume_at` and `asleep` set by the thread before it checks
    /// `released` again, all sequentially consistent: one of the two sees
    /// the other.)
    fn wake(&self, released: usize) {
        if !self.asleep.load(Ordering::SeqCst) || released < self.resume_at.load(Ordering::SeqCst) {
            return;
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if *waiting {
            *waiting = false;
            self.asleep.store(false, Ordering::SeqCst);
            self.room.notify_one();
        }
    }
}

enum Input<I> {
    /// Pulled by the consumer, between batches of outcomes.
    Here { submitter: Submitter<I>, exhausted: bool },
    /// Pulled by a thread of its own.
    Thread(Arc<Shared>),
}

/// A lazy job's feeding half; see the module docs.
pub(crate) struct Feed<I> {
    state: Arc<PoolState>,
    input: Input<I>,
    pub func: Arc<str>,
    stream: Arc<Stream>,
    rx: Receiver<Outcomes>,
    /// The rest of the last batch received.
    pub batch: Outcomes,
    /// Outcomes taken from `rx`.
    pub received: usize,
    /// Outcomes handed to the caller: the window is counted from here, so
    /// that results held back for ordering count against it too.
    released: usize,
    /// `released` as the feeding thread last saw it (see [`Feed::release`]).
    published: usize,
}

/// The parts of a lazy job that both ways of feeding it start from.
fn parts<I>(
    state: &PoolState,
    items: I,
    func: &Arc<str>,
    args: Args,
    chunksize: usize,
    window: usize,
) -> (Submitter<I>, Arc<Stream>, Receiver<Outcomes>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let stream = Stream::new(tx);
    let chunker = Chunker { sink: stream.clone(), func: Arc::clone(func), args, next_index: 0 };
    let window = window.max(chunksize);
    let submitter = Submitter {
        items,
        chunker,
        chunksize,
        window,
        fed_bytes: 0,
        effective_window: window.max(SMALL_ITEMS_WINDOW),
        together: (chunksize == 1 && state.together).then(|| Arc::clone(&stream)),
    };
    (submitter, stream, rx)
}

impl<I: Iterator<Item: EncodeItem>> Feed<I> {
    /// A feed whose items are pulled here, between batches of outcomes.
    pub fn here(state: Arc<PoolState>, items: I, func: Arc<str>, args: Args, chunksize: usize, window: usize) -> Self {
        let (submitter, stream, rx) = parts(&state, items, &func, args, chunksize, window);
        let input = Input::Here { submitter, exhausted: false };
        Feed { state, input, func, stream, rx, batch: Outcomes::default(), received: 0, released: 0, published: 0 }
    }

    /// Makes the next outcome to complete ready to [`take`](Feed::take):
    /// its index, or `None` when every item is accounted for.
    pub fn ready(&mut self) -> Option<usize> {
        while self.batch.is_empty() {
            match &mut self.input {
                Input::Here { submitter, exhausted } => {
                    // More input is taken only between batches: reading it may
                    // wait, and outcomes already here must not.
                    if !*exhausted {
                        *exhausted = submitter.fill(&self.state, self.released);
                    }
                    if *exhausted && self.received == submitter.chunker.next_index {
                        return None;
                    }
                }
                Input::Thread(shared) => {
                    if shared.exhausted.load(Ordering::Acquire)
                        && self.received == shared.submitted.load(Ordering::Acquire)
                    {
                        return None;
                    }
                }
            }
            // Every submitted item is delivered exactly once (see `Sink`), and
            // a feeding thread that ends sends an empty batch to say so: this
            // cannot wait forever, and the stream's sender lives in `self`.
            // (A feeding thread that waits for room sees every release first.)
            self.publish();
            self.batch = self.rx.recv().expect("the stream's sender is held by this feed");
        }
        self.batch.front_index()
    }

    /// Takes the outcome [`ready`](Feed::ready) announced; `release` if it
    /// goes to the caller now (not held back for ordering).
    pub fn take(&mut self, release: bool) -> (usize, Result<&[u8], TaskError>) {
        self.received += 1;
        if release {
            self.release(1);
        }
        self.batch.pop().expect("`ready` announced an outcome")
    }

    /// `n` outcomes held back for ordering went to the caller. A feeding
    /// thread is told every [`PUBLISH_EVERY`] of them, and before this
    /// waits for outcomes: a sequentially consistent store per outcome (a
    /// full fence) cost the consumer of a million tiny items more than its
    /// other bookkeeping.
    pub fn release(&mut self, n: usize) {
        self.released += n;
        if self.released - self.published >= PUBLISH_EVERY {
            self.publish();
        }
    }

    /// Tells a feeding thread what was released.
    fn publish(&mut self) {
        if let Input::Thread(shared) = &self.input
            && self.published != self.released
        {
            self.published = self.released;
            shared.released.store(self.released, Ordering::SeqCst);
            shared.wake(self.released);
        }
    }
}

impl<I: Iterator<Item: EncodeItem + Send> + Send + 'static> Feed<I> {
    /// A feed for items that may have to be waited for: pulled on a thread
    /// of its own ([`threaded`](Feed::threaded)), unless the iterator says
    /// it holds all its items (its `size_hint` exact) and they fit the small
    /// items' window: then they are all submitted from here at once
    /// ([`here`](Feed::here)), since nothing can wait, and the thread's
    /// start would be a good part of a short run.
    pub fn for_input(
        state: Arc<PoolState>,
        items: I,
        func: Arc<str>,
        args: Args,
        chunksize: usize,
        window: usize,
    ) -> Self {
        match items.size_hint() {
            (n, Some(m)) if n == m && n <= SMALL_ITEMS_WINDOW => {
                Feed::here(state, items, func, args, chunksize, window)
            }
            _ => Feed::threaded(state, items, func, args, chunksize, window),
        }
    }

    /// A feed whose items are pulled on a thread of its own: it submits each
    /// chunk as soon as its items are in (a chunk that the input keeps
    /// waiting on goes as it is once the next item would wait… see
    /// [`Submitter::submit_one`]), while the window has room.
    pub fn threaded(
        state: Arc<PoolState>,
        items: I,
        func: Arc<str>,
        args: Args,
        chunksize: usize,
        window: usize,
    ) -> Self {
        let (mut submitter, stream, rx) = parts(&state, items, &func, args, chunksize, window);
        let shared = Arc::new(Shared::default());
        let thread_state = Arc::clone(&state);
        let thread_shared = Arc::clone(&shared);
        let wake_consumer = stream.clone();
        std::thread::Builder::new()
            .name("rpool-feed".into())
            .spawn(move || {
                let (state, shared) = (thread_state, thread_shared);
                loop {
                    let released = || shared.released.load(Ordering::SeqCst);
                    if !shared.dropped.load(Ordering::Acquire) && !submitter.has_room(released()) {
                        let resume_at = submitter.resume_point();
                        shared.resume_at.store(resume_at, Ordering::SeqCst);
                        let ready = || shared.dropped.load(Ordering::Acquire) || released() >= resume_at;
                        let mut waiting = shared.waiting.lock().unwrap_or_else(|e| e.into_inner());
                        while !ready() {
                            *waiting = true;
                            shared.asleep.store(true, Ordering::SeqCst);
                            // A release between the check above and the flag
                            // did not wake this thread: look again.
                            if ready() {
                                break;
                            }
                            waiting = shared.room.wait(waiting).unwrap_or_else(|e| e.into_inner());
                        }
                        *waiting = false;
                        shared.asleep.store(false, Ordering::SeqCst);
                    }
                    if shared.dropped.load(Ordering::Acquire) {
                        state.end_feeder();
                        break;
                    }
                    let more = submitter.submit_one(&state, released());
                    shared.submitted.store(submitter.chunker.next_index, Ordering::Release);
                    if !more {
                        shared.exhausted.store(true, Ordering::Release);
                        break;
                    }
                }
                // Wakes a consumer that waits for outcomes of items that
                // turned out not to exist.
                wake_consumer.wake();
            })
            .expect("a thread can be spawned");
        Feed {
            state,
            input: Input::Thread(shared),
            func,
            stream,
            rx,
            batch: Outcomes::default(),
            received: 0,
            released: 0,
            published: 0,
        }
    }
}

impl<I> Drop for Feed<I> {
    fn drop(&mut self) {
        self.stream.drop_receiver();
        match &self.input {
            Input::Here { exhausted: false, .. } => self.state.end_feeder(),
            Input::Here { .. } => {}
            Input::Thread(shared) => {
                // The thread ends the feeder when it sees this, or it has
                // already (its input ended).
                shared.dropped.store(true, Ordering::Release);
                let mut waiting = shared.waiting.lock().unwrap_or_else(|e| e.into_inner());
                *waiting = false;
                shared.room.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::sinks::Sink;

    fn submitter<I>(items: I, chunksize: usize, together: bool) -> (Submitter<I>, Arc<Stream>) {
        let (state, _callbacks) = PoolState::new(2, together);
        let (submitter, stream, _rx) = parts(&state, items, &Arc::from("square"), Args::Wrap, chunksize, 6);
        (submitter, stream)
    }

    /// What a reader would tell the job: `reads` reads of `items` each,
    /// `per_item` apiece.
    fn measured(stream: &Stream, per_item: Duration, reads: u32, items: u32) {
        for _ in 0..reads {
            stream.note_item_time(per_item, items);
        }
    }

    #[test]
    fn one_item_chunks_travel_together_once_their_items_are_known_to_be_tiny() {
        let (s, stream) = submitter(0..100_000, 1, true);
        assert_eq!(s.together(0), 1, "not before a worker measured them");
        measured(&stream, Duration::from_nanos(500), 1, 100);
        assert_eq!(s.together(0), 1, "nor on the strength of a few");
        measured(&stream, Duration::from_nanos(500), 2, 100);
        assert_eq!(s.together(0), 500, "about TOGETHER_WORK of them");
        measured(&stream, Duration::from_millis(1), 1, 1);
        assert_eq!(s.together(0), 1, "one slow item, and they go one by one at once");
        measured(&stream, Duration::from_nanos(10), 10, 100);
        assert_eq!(s.together(0), 1, "for a while");
        measured(&stream, Duration::from_nanos(10), 200, 100);
        assert_eq!(s.together(0), MAX_TOGETHER, "until tiny items have been seen for long");

        let tiny = |stream: &Stream| measured(stream, Duration::from_nanos(10), 3, 100);
        // Never more than the window has room for…
        let (mut s, stream) = submitter(0..100_000, 1, true);
        tiny(&stream);
        s.chunker.next_index = SMALL_ITEMS_WINDOW - 3;
        assert_eq!(s.together(0), 3);
        // …nor than the input has in hand: items on their way are not waited for.
        let (s, stream) = submitter((0..100_000).filter(|_| true), 1, true);
        tiny(&stream);
        assert_eq!(s.together(0), 1);
        let (s, stream) = submitter(0..10, 1, true);
        tiny(&stream);
        assert_eq!(s.together(0), 10, "what is left, and not one more");
        let (s, stream) = submitter(0.., 1, true);
        tiny(&stream);
        assert_eq!(s.together(0), MAX_TOGETHER, "an endless input");
    }

    #[test]
    fn chunks_of_several_items_and_task_limits_keep_chunks_apart() {
        for (chunksize, together) in [(2, true), (1, false)] {
            let (s, stream) = submitter(0..100_000, chunksize, together);
            measured(&stream, Duration::from_nanos(10), 3, 100);
            assert_eq!(s.together(0), 1);
        }
    }
}

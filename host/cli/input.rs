//! The inputs of a run: a JSON array or JSON Lines, from a file or stdin,
//! read lazily. A look-ahead of the first items tells the total (and so
//! Python's default chunksize) whenever the input is small enough to end
//! within it; a longer input streams on in bounded memory.
//!
//! Items travel in batches, their JSON end to end in one buffer: reading,
//! checking and chunking a million small items allocates per batch, not
//! per item. A live input (a pipe whose producer pauses, `tail -f`) is
//! never waited on while items are in hand: the look-ahead waits for more
//! at most [`LOOK_AHEAD_WAIT`], and a batch goes as soon as the next read
//! would wait.

use std::io::{BufReader, Read};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::CliError;
use rpool_wasm::{ItemFormat, ItemReader};

/// How many items the look-ahead reads before the run starts, and at most
/// how many bytes of them.
const LOOK_AHEAD: (usize, usize) = (100_000, 64 << 20);
/// Items per batch from the reading thread (and bytes, so that big items
/// come in small batches), and batches it may read ahead.
const BATCH: (usize, usize) = (4096, 1 << 20);
const BATCHES_AHEAD: usize = 4;
/// How long the look-ahead waits for input that has not arrived: the
/// first items of a slow producer are dispatched within about this.
const LOOK_AHEAD_WAIT: Duration = Duration::from_millis(50);

/// The buffer is concrete, so that the reader's many small `fill_buf` and
/// `consume` calls per item inline; only its refills go through `dyn`.
type Reader = ItemReader<BufReader<Box<dyn Read + Send>>>;

/// Items read, checked, and laid end to end.
#[derive(Debug, Default)]
struct ItemBatch {
    json: Vec<u8>,
    /// Where each item's JSON ends in `json`.
    ends: Vec<usize>,
}

impl ItemBatch {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.json[start..self.ends[i]]
    }

    /// Reads more items until it holds `max.0` or `max.1` bytes of them, or
    /// (with `live`) until the next read would wait past `live`'s deadline
    /// with items in hand; `Ok(false)` once the input has ended.
    fn fill(
        &mut self,
        reader: &mut Reader,
        shown: &str,
        max: (usize, usize),
        live: Option<Live>,
    ) -> Result<bool, CliError> {
        // Plain integers are taken in runs, as many as are buffered; an item
        // they stop at (of another kind, or not whole in the buffer) is read
        // on its own, and if they stop again right after it, the rest of the
        // batch is read item by item.
        let (mut integers, mut stopped) = (true, false);
        while self.len() < max.0 && self.json.len() < max.1 {
            if integers {
                let room = max.0 - self.len();
                if reader.read_integers_into(&mut self.json, &mut self.ends, room, max.1) > 0 {
                    stopped = false;
                    continue;
                }
                integers = !stopped;
                stopped = true;
            }
            if let Some(live) = live
                && !live.readable(reader, self.len() > 0)
            {
                return Ok(true);
            }
            match reader.read_into(&mut self.json) {
                Some(Ok(())) => self.ends.push(self.json.len()),
                Some(Err(e)) => return Err(CliError::Usage(format!("{shown}: {e}"))),
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// When a read of the input may wait: its descriptor, and how long a
/// [`fill`](ItemBatch::fill) may wait for it.
#[derive(Debug, Clone, Copy)]
struct Live {
    fd: RawFd,
    /// Wait for input until then; `None`: wait only while no item is in hand.
    deadline: Option<Instant>,
}

impl Live {
    /// Whether the reader has more to read without waiting past the
    /// deadline (with no deadline: without waiting at all, when items are
    /// in hand; else as long as it takes).
    fn readable(self, reader: &Reader, have_items: bool) -> bool {
        // Only separators left in the buffer: the next item needs a read.
        if !reader.get_ref().buffer().iter().all(|b| b" \t\r\n,".contains(b)) {
            return true;
        }
        let wait = match self.deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None if have_items => Duration::ZERO,
            None => return true,
        };
        let timeout =
            rustix::event::Timespec::try_from(wait).unwrap_or(rustix::event::Timespec { tv_sec: i64::MAX, tv_nsec: 0 });
        // SAFETY: `fd` is the input's, open as long as its reader is.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
        // An error or a hang-up is for the read to report: readable.
        rustix::event::poll(&mut fds, Some(&timeout)).map_or(true, |n| n > 0)
    }
}

/// One input item: its JSON, in the batch it was read with.
pub(super) struct Item {
    batch: Arc<ItemBatch>,
    index: usize,
}

impl Item {
    /// The item's JSON, checked when it was read.
    pub fn json(&self) -> &[u8] {
        self.batch.get(self.index)
    }
}

/// What the pool's raw-JSON calls take: the item's JSON as it is.
impl AsRef<[u8]> for Item {
    fn as_ref(&self) -> &[u8] {
        self.json()
    }
}

/// The inputs, partly read.
pub(super) struct Input {
    reader: Reader,
    looked_ahead: ItemBatch,
    ended: bool,
    shown: String,
    starmap: bool,
    fd: RawFd,
}

impl Input {
    /// Opens `path` (`-` is standard input) and reads the look-ahead.
    pub fn open(path: &Path, format: ItemFormat, starmap: bool) -> Result<Input, CliError> {
        let shown = path.display().to_string();
        let (source, fd): (Box<dyn Read + Send>, RawFd) = if path == Path::new("-") {
            (Box::new(std::io::stdin()), std::io::stdin().as_raw_fd())
        } else {
            let file =
                std::fs::File::open(path).map_err(|e| CliError::Usage(format!("{shown}: cannot read inputs: {e}")))?;
            let fd = file.as_raw_fd();
            (Box::new(file), fd)
        };
        let reader = BufReader::with_capacity(1 << 16, source);
        let mut reader = ItemReader::new(reader, format);
        let mut looked_ahead = ItemBatch::default();
        let live = Live { fd, deadline: Some(Instant::now() + LOOK_AHEAD_WAIT) };
        let ended = !looked_ahead.fill(&mut reader, &shown, LOOK_AHEAD, Some(live))?;
        Ok(Input { reader, looked_ahead, ended, shown, starmap, fd })
    }

    /// The number of items, if the input ended within the look-ahead.
    pub fn total(&self) -> Option<usize> {
        self.ended.then_some(self.looked_ahead.len())
    }

    /// How many items the look-ahead holds (a lower bound of the total).
    pub fn looked_ahead(&self) -> usize {
        self.looked_ahead.len()
    }

    /// The items with their indices, lazily. A reading error, or a starmap
    /// item that is not an array, ends them; [`finish`] returns it.
    /// Past the look-ahead, a thread reads and checks the items, a few
    /// batches ahead, so that parsing the input overlaps running it.
    pub fn items(self) -> (Items, InputError) {
        let error: InputError = Arc::new(Mutex::new(None));
        let Input { reader, looked_ahead, ended, shown, starmap, fd } = self;
        let batches = (!ended).then(|| spawn_reader(reader, shown.clone(), fd));
        let items = Items {
            batches,
            batch: Arc::new(looked_ahead),
            next_in_batch: 0,
            index: 0,
            ended: false,
            error: Arc::clone(&error),
            shown,
            starmap,
        };
        (items, error)
    }
}

/// The items of [`Input::items`], with their indices.
pub(super) struct Items {
    batches: Option<Receiver<Result<ItemBatch, CliError>>>,
    batch: Arc<ItemBatch>,
    next_in_batch: usize,
    index: usize,
    /// Only this iterator writes the error: a flag of its own, not the
    /// cell's lock, says it has ended (a lock per item took about a
    /// quarter of the feeding thread's time on a million integers).
    ended: bool,
    error: InputError,
    shown: String,
    starmap: bool,
}

impl Iterator for Items {
    type Item = (usize, Item);

    fn next(&mut self) -> Option<(usize, Item)> {
        if self.ended {
            return None;
        }
        if self.next_in_batch == self.batch.len() {
            match self.batches.as_ref().map(Receiver::recv) {
                Some(Ok(Ok(next))) => self.batch = Arc::new(next),
                Some(Ok(Err(e))) => {
                    *lock(&self.error) = Some(e);
                    self.ended = true;
                    return None;
                }
                // The input ended: the thread is gone.
                Some(Err(_)) | None => {
                    self.ended = true;
                    return None;
                }
            }
            self.next_in_batch = 0;
        }
        let item = Item { batch: Arc::clone(&self.batch), index: self.next_in_batch };
        if self.starmap && item.json().first() != Some(&b'[') {
            *lock(&self.error) = Some(CliError::Usage(format!(
                "{}: item {} is `{}`, but a starmap item must be the array of the call's arguments",
                self.shown,
                self.index,
                String::from_utf8_lossy(item.json())
            )));
            self.ended = true;
            return None;
        }
        self.next_in_batch += 1;
        self.index += 1;
        Some((self.index - 1, item))
    }

    /// At least the items of the batch in hand: the pool may take what is
    /// in hand together, and never waits for more. (For a starmap, no
    /// bound: an item that is not an array would end them sooner.)
    fn size_hint(&self) -> (usize, Option<usize>) {
        let in_batch = self.batch.len() - self.next_in_batch;
        match (self.ended, self.starmap) {
            (true, _) => (0, Some(0)),
            (false, true) => (0, None),
            // The input ended within the look-ahead: these are all.
            (false, false) if self.batches.is_none() => (in_batch, Some(in_batch)),
            (false, false) => (in_batch, None),
        }
    }
}

/// Reads the rest of the input on a thread of its own, in batches, each
/// sent when it is full or when the next read would wait; a reading error
/// is the last message.
fn spawn_reader(mut reader: Reader, shown: String, fd: RawFd) -> Receiver<Result<ItemBatch, CliError>> {
    let (tx, rx) = crossbeam_channel::bounded(BATCHES_AHEAD);
    std::thread::Builder::new()
        .name("rpool-input".into())
        .spawn(move || {
            loop {
                let mut batch = ItemBatch::default();
                let filled = batch.fill(&mut reader, &shown, BATCH, Some(Live { fd, deadline: None }));
                // The run may have stopped and dropped the receiver: then stop too.
                if batch.len() > 0 && tx.send(Ok(batch)).is_err() {
                    return;
                }
                match filled {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        })
        .expect("a thread can be spawned");
    rx
}

/// Where the items put the error that ended them early.
pub(super) type InputError = Arc<Mutex<Option<CliError>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The error that ended the items early, if any.
pub(super) fn finish(error: &InputError) -> Result<(), CliError> {
    match lock(error).take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &'static str) -> Reader {
        ItemReader::new(BufReader::new(Box::new(text.as_bytes())), ItemFormat::Json)
    }

    #[test]
    fn batches_hold_items_end_to_end_and_stop_at_either_bound() {
        let mut input = reader("[1, 22 ,333,\n4444, 5]");
        let mut batch = ItemBatch::default();
        // Bounded by bytes: the item that crosses 8 bytes is the last one taken.
        assert!(batch.fill(&mut input, "in.json", (10, 8), None).unwrap());
        assert_eq!((0..batch.len()).map(|i| batch.get(i)).collect::<Vec<_>>(), [&b"1"[..], b"22", b"333", b"4444"]);
        // Bounded by items; then the input ends.
        let mut batch = ItemBatch::default();
        assert!(!batch.fill(&mut input, "in.json", (10, 1 << 20), None).unwrap());
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.get(0), b"5");
        let mut batch = ItemBatch::default();
        assert!(batch.fill(&mut reader("[1, 2, 3]"), "in.json", (2, 1 << 20), None).unwrap());
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn integers_in_runs_and_other_items_fill_batches_alike() {
        let text = "[1, \"a\", 2, 3, [4], {\"b\": 5}, 6.5, 7,\n 8, null, 9]";
        let expected = ["1", "\"a\"", "2", "3", "[4]", "{\"b\": 5}", "6.5", "7", "8", "null", "9"];
        // Through buffers that cut items too, in batches of several sizes.
        for (capacity, per_batch) in [(1 << 16, 3), (1 << 16, 100), (5, 2), (7, 100)] {
            let source: Box<dyn Read + Send> = Box::new(text.as_bytes());
            let mut input: Reader = ItemReader::new(BufReader::with_capacity(capacity, source), ItemFormat::Json);
            let mut items = Vec::new();
            loop {
                let mut batch = ItemBatch::default();
                let more = batch.fill(&mut input, "in.json", (per_batch, 1 << 20), None).unwrap();
                items.extend((0..batch.len()).map(|i| String::from_utf8(batch.get(i).to_vec()).unwrap()));
                if !more {
                    break;
                }
            }
            assert_eq!(items, expected, "a buffer of {capacity}, batches of {per_batch}");
        }
    }

    #[test]
    fn a_bad_item_is_an_error_naming_the_input_and_the_place() {
        let mut batch = ItemBatch::default();
        let error = batch.fill(&mut reader("[1, 2,\n tru]"), "in.json", (10, 1 << 20), None).unwrap_err();
        assert_eq!(error.to_string(), "in.json: invalid JSON at line 2 column 4: EOF while parsing a value");
    }
}

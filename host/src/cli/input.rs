//! The inputs of a run: a JSON array or JSON Lines, from a file or stdin,
//! read lazily. A look-ahead of the first items tells the total (and so
//! Python's default chunksize) whenever the input is small enough to end
//! within it; a longer input streams on in bounded memory.
//!
//! Items travel in batches, their JSON end to end in one buffer: reading,
//! checking and chunking a million small items allocates per batch, not
//! per item.

use std::cell::RefCell;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use crossbeam_channel::Receiver;

use super::CliError;
use crate::sinks::{Args, EncodeItem};
use crate::{ItemFormat, ItemReader};

/// How many items the look-ahead reads before the run starts, and at most
/// how many bytes of them.
const LOOK_AHEAD: (usize, usize) = (100_000, 64 << 20);
/// Items per batch from the reading thread (and bytes, so that big items
/// come in small batches), and batches it may read ahead.
const BATCH: (usize, usize) = (4096, 1 << 20);
const BATCHES_AHEAD: usize = 4;

/// The buffer is concrete, so that the reader's many small `fill_buf` and
/// `consume` calls per item inline; only its refills go through `dyn`.
type Reader = ItemReader<BufReader<Box<dyn Read + Send>>>;

/// Items read, checked, and laid end to end.
#[derive(Debug, Default)]
struct Batch {
    json: Vec<u8>,
    /// Where each item's JSON ends in `json`.
    ends: Vec<usize>,
}

impl Batch {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.json[start..self.ends[i]]
    }

    /// Reads more items until it holds `max.0` or `max.1` bytes of them;
    /// `Ok(false)` once the input has ended.
    fn fill(&mut self, reader: &mut Reader, shown: &str, max: (usize, usize)) -> Result<bool, CliError> {
        while self.len() < max.0 && self.json.len() < max.1 {
            match reader.read_into(&mut self.json) {
                Some(Ok(())) => self.ends.push(self.json.len()),
                Some(Err(e)) => return Err(CliError::Usage(format!("{shown}: {e}"))),
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// One input item: its JSON, in the batch it was read with.
pub(super) struct Item {
    batch: Rc<Batch>,
    index: usize,
}

impl Item {
    /// The item's JSON, checked when it was read.
    pub fn json(&self) -> &[u8] {
        self.batch.get(self.index)
    }
}

impl EncodeItem for Item {
    fn encode_into(&self, args: Args, buf: &mut Vec<u8>) -> Result<(), String> {
        args.encode_raw(self.json(), buf)
    }
}

/// The inputs, partly read.
pub(super) struct Input {
    reader: Reader,
    looked_ahead: Batch,
    ended: bool,
    shown: String,
    starmap: bool,
}

impl Input {
    /// Opens `path` (`-` is standard input) and reads the look-ahead.
    pub fn open(path: &Path, format: ItemFormat, starmap: bool) -> Result<Input, CliError> {
        let shown = path.display().to_string();
        let source: Box<dyn Read + Send> = if path == Path::new("-") {
            Box::new(std::io::stdin())
        } else {
            Box::new(
                std::fs::File::open(path).map_err(|e| CliError::Usage(format!("{shown}: cannot read inputs: {e}")))?,
            )
        };
        let reader = BufReader::with_capacity(1 << 16, source);
        let mut reader = ItemReader::new(reader, format);
        let mut looked_ahead = Batch::default();
        let ended = !looked_ahead.fill(&mut reader, &shown, LOOK_AHEAD)?;
        Ok(Input { reader, looked_ahead, ended, shown, starmap })
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
    pub fn items(self) -> (impl Iterator<Item = (usize, Item)>, InputError) {
        let error: InputError = Rc::new(RefCell::new(None));
        let cell = Rc::clone(&error);
        let Input { reader, looked_ahead, ended, shown, starmap } = self;
        let batches = (!ended).then(|| spawn_reader(reader, shown.clone()));
        let mut batch = Rc::new(looked_ahead);
        let (mut next_in_batch, mut index) = (0, 0);
        let items = std::iter::from_fn(move || {
            if cell.borrow().is_some() {
                return None;
            }
            if next_in_batch == batch.len() {
                match batches.as_ref().map(Receiver::recv) {
                    Some(Ok(Ok(next))) => batch = Rc::new(next),
                    Some(Ok(Err(e))) => {
                        *cell.borrow_mut() = Some(e);
                        return None;
                    }
                    // The input ended: the thread is gone.
                    Some(Err(_)) | None => return None,
                }
                next_in_batch = 0;
            }
            let item = Item { batch: Rc::clone(&batch), index: next_in_batch };
            if starmap && item.json().first() != Some(&b'[') {
                *cell.borrow_mut() = Some(CliError::Usage(format!(
                    "{shown}: item {index} is `{}`, but a starmap item must be the array of the call's arguments",
                    String::from_utf8_lossy(item.json())
                )));
                return None;
            }
            next_in_batch += 1;
            index += 1;
            Some((index - 1, item))
        });
        (items, error)
    }
}

/// Reads the rest of the input on a thread of its own, in batches; a
/// reading error is the last message.
fn spawn_reader(mut reader: Reader, shown: String) -> Receiver<Result<Batch, CliError>> {
    let (tx, rx) = crossbeam_channel::bounded(BATCHES_AHEAD);
    std::thread::Builder::new()
        .name("rpool-input".into())
        .spawn(move || {
            loop {
                let mut batch = Batch::default();
                let filled = batch.fill(&mut reader, &shown, BATCH);
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
pub(super) type InputError = Rc<RefCell<Option<CliError>>>;

/// The error that ended the items early, if any.
pub(super) fn finish(error: &InputError) -> Result<(), CliError> {
    match error.borrow_mut().take() {
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
        let mut batch = Batch::default();
        // Bounded by bytes: the item that crosses 8 bytes is the last one taken.
        assert!(batch.fill(&mut input, "in.json", (10, 8)).unwrap());
        assert_eq!((0..batch.len()).map(|i| batch.get(i)).collect::<Vec<_>>(), [&b"1"[..], b"22", b"333", b"4444"]);
        // Bounded by items; then the input ends.
        let mut batch = Batch::default();
        assert!(!batch.fill(&mut input, "in.json", (10, 1 << 20)).unwrap());
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.get(0), b"5");
        let mut batch = Batch::default();
        assert!(batch.fill(&mut reader("[1, 2, 3]"), "in.json", (2, 1 << 20)).unwrap());
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn a_bad_item_is_an_error_naming_the_input_and_the_place() {
        let mut batch = Batch::default();
        let error = batch.fill(&mut reader("[1, 2,\n tru]"), "in.json", (10, 1 << 20)).unwrap_err();
        assert_eq!(error.to_string(), "in.json: invalid JSON at line 2 column 4: EOF while parsing a value");
    }
}

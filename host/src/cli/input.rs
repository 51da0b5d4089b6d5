//! The inputs of a run: a JSON array or JSON Lines, from a file or stdin,
//! read lazily. A look-ahead of the first items tells the total (and so
//! Python's default chunksize) whenever the input is small enough to end
//! within it; a longer input streams on in bounded memory.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;
use std::rc::Rc;

use crossbeam_channel::Receiver;

use serde_json::value::RawValue;

use super::CliError;
use crate::{ItemFormat, ItemReader};

/// How many items the look-ahead reads before the run starts.
const LOOK_AHEAD: usize = 100_000;
/// Items per batch from the reading thread, and batches it may read ahead.
const BATCH: usize = 4096;
const BATCHES_AHEAD: usize = 4;

type Reader = ItemReader<Box<dyn BufRead + Send>>;

/// The inputs, partly read.
pub(super) struct Input {
    reader: Reader,
    buffered: VecDeque<Box<RawValue>>,
    ended: bool,
    shown: String,
    starmap: bool,
    /// A reading error met while streaming: the run's error once it stops.
    error: InputError,
}

impl Input {
    /// Opens `path` (`-` is standard input) and reads the look-ahead.
    pub fn open(path: &Path, format: ItemFormat, starmap: bool) -> Result<Input, CliError> {
        let shown = path.display().to_string();
        let reader: Box<dyn BufRead + Send> = if path == Path::new("-") {
            Box::new(std::io::BufReader::with_capacity(1 << 16, std::io::stdin()))
        } else {
            let file =
                std::fs::File::open(path).map_err(|e| CliError::Usage(format!("{shown}: cannot read inputs: {e}")))?;
            Box::new(std::io::BufReader::with_capacity(1 << 16, file))
        };
        let mut input = Input {
            reader: ItemReader::new(reader, format),
            buffered: VecDeque::new(),
            ended: false,
            shown,
            starmap,
            error: Rc::new(RefCell::new(None)),
        };
        while input.buffered.len() < LOOK_AHEAD {
            match input.read()? {
                Some(item) => input.buffered.push_back(item),
                None => break,
            }
        }
        Ok(input)
    }

    fn read(&mut self) -> Result<Option<Box<RawValue>>, CliError> {
        let item = read(&mut self.reader, &self.shown);
        self.ended = matches!(item, Ok(None));
        item
    }

    /// The number of items, if the input ended within the look-ahead.
    pub fn total(&self) -> Option<usize> {
        self.ended.then_some(self.buffered.len())
    }

    /// How many items the look-ahead holds (a lower bound of the total).
    pub fn looked_ahead(&self) -> usize {
        self.buffered.len()
    }

    /// The items with their indices, lazily. A reading error, or a starmap
    /// item that is not an array, ends them; [`Input::finish`] returns it.
    /// Past the look-ahead, a thread reads and checks the items, a few
    /// batches ahead, so that parsing the input overlaps running it.
    pub fn items(self) -> (impl Iterator<Item = (usize, Box<RawValue>)>, InputError) {
        let error = Rc::clone(&self.error);
        let Input { reader, buffered, ended, shown, starmap, error: cell } = self;
        let mut buffered = buffered;
        let batches = (!ended).then(|| spawn_reader(reader, shown.clone()));
        let mut index = 0;
        let items = std::iter::from_fn(move || {
            if cell.borrow().is_some() {
                return None;
            }
            if buffered.is_empty() {
                match batches.as_ref().map(Receiver::recv) {
                    Some(Ok(Ok(batch))) => buffered = batch.into(),
                    Some(Ok(Err(e))) => {
                        *cell.borrow_mut() = Some(e);
                        return None;
                    }
                    // The input ended: the thread is gone.
                    Some(Err(_)) | None => return None,
                }
            }
            let item = buffered.pop_front()?;
            if starmap && !item.get().starts_with('[') {
                *cell.borrow_mut() = Some(CliError::Usage(format!(
                    "{shown}: item {index} is `{}`, but a starmap item must be the array of the call's arguments",
                    item.get()
                )));
                return None;
            }
            index += 1;
            Some((index - 1, item))
        });
        (items, error)
    }
}

fn read(reader: &mut Reader, shown: &str) -> Result<Option<Box<RawValue>>, CliError> {
    reader.next().transpose().map_err(|e| CliError::Usage(format!("{shown}: {e}")))
}

/// Reads the rest of the input on a thread of its own, in batches; a
/// reading error is the last message.
fn spawn_reader(mut reader: Reader, shown: String) -> Receiver<Result<Vec<Box<RawValue>>, CliError>> {
    let (tx, rx) = crossbeam_channel::bounded(BATCHES_AHEAD);
    std::thread::Builder::new()
        .name("rpool-input".into())
        .spawn(move || {
            loop {
                let mut batch = Vec::with_capacity(BATCH);
                let mut failed = None;
                while batch.len() < BATCH {
                    match read(&mut reader, &shown) {
                        Ok(Some(item)) => batch.push(item),
                        Ok(None) => break,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                let last = batch.len() < BATCH;
                // The run may have stopped and dropped the receiver: then stop too.
                if (!batch.is_empty() && tx.send(Ok(batch)).is_err())
                    || failed.is_some_and(|e| tx.send(Err(e)).is_err())
                {
                    return;
                }
                if last {
                    return;
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

//! The inputs of a run: a JSON array or JSON Lines, from a file or stdin,
//! read lazily. A look-ahead of the first items tells the total (and so
//! Python's default chunksize) whenever the input is small enough to end
//! within it; a longer input streams on in bounded memory.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;
use std::rc::Rc;

use serde_json::value::RawValue;

use super::CliError;
use crate::{ItemFormat, ItemReader};

/// How many items the look-ahead reads before the run starts.
const LOOK_AHEAD: usize = 100_000;

/// The inputs, partly read.
pub(super) struct Input {
    reader: ItemReader<Box<dyn BufRead>>,
    buffered: VecDeque<Box<RawValue>>,
    ended: bool,
    shown: String,
    starmap: bool,
    /// A reading error met while streaming: the run's error once it stops.
    error: Rc<RefCell<Option<CliError>>>,
}

impl Input {
    /// Opens `path` (`-` is standard input) and reads the look-ahead.
    pub fn open(path: &Path, format: ItemFormat, starmap: bool) -> Result<Input, CliError> {
        let shown = path.display().to_string();
        let reader: Box<dyn BufRead> = if path == Path::new("-") {
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
        match self.reader.next() {
            None => {
                self.ended = true;
                Ok(None)
            }
            Some(Ok(item)) => Ok(Some(item)),
            Some(Err(e)) => Err(CliError::Usage(format!("{}: {e}", self.shown))),
        }
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
    pub fn items(self) -> (impl Iterator<Item = (usize, Box<RawValue>)>, Rc<RefCell<Option<CliError>>>) {
        let error = Rc::clone(&self.error);
        let mut input = self;
        let mut index = 0;
        let items = std::iter::from_fn(move || {
            if input.error.borrow().is_some() {
                return None;
            }
            let item = match input.buffered.pop_front() {
                Some(item) => item,
                None if input.ended => return None,
                None => match input.read() {
                    Ok(Some(item)) => item,
                    Ok(None) => return None,
                    Err(e) => {
                        *input.error.borrow_mut() = Some(e);
                        return None;
                    }
                },
            };
            if input.starmap && !item.get().starts_with('[') {
                *input.error.borrow_mut() = Some(CliError::Usage(format!(
                    "{}: item {index} is `{}`, but a starmap item must be the array of the call's arguments",
                    input.shown,
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

/// The error that ended the items early, if any.
pub(super) fn finish(error: &Rc<RefCell<Option<CliError>>>) -> Result<(), CliError> {
    match error.borrow_mut().take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

//! [`Outcomes`]: outcomes laid end to end, the unit in which results travel
//! from a worker's reader thread to whoever consumes them.

use std::collections::VecDeque;

use crate::error::TaskError;

/// An entry's end for a failed item, whose error is in `failures`.
const FAILED: usize = usize::MAX;

/// Outcomes delivered together, their result JSON laid end to end in one
/// buffer: nothing is allocated per item between a worker's pipe and the
/// consumer. An entry is two words (the index, and where its JSON ends: it
/// starts where the one before it ended), and failures, rare, wait in a
/// queue of their own: a million tiny results are 16 MB of entries, not 32.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    bytes: Vec<u8>,
    entries: VecDeque<(usize, usize)>,
    failures: VecDeque<TaskError>,
    /// Where the first entry's JSON starts.
    start: usize,
}

impl Outcomes {
    /// Appends item `index`'s outcome.
    pub fn push(&mut self, index: usize, outcome: Result<&[u8], TaskError>) {
        let end = match outcome {
            Ok(json) => {
                self.bytes.extend_from_slice(json);
                self.bytes.len()
            }
            Err(error) => {
                self.failures.push_back(error);
                FAILED
            }
        };
        self.entries.push_back((index, end));
    }

    /// Whether no outcome is left.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The index of the first outcome left.
    pub fn front_index(&self) -> Option<usize> {
        self.entries.front().map(|(index, _)| *index)
    }

    /// Appends `other`'s outcomes (moving it in whole when this one is empty).
    pub fn append(&mut self, other: Outcomes) {
        if self.is_empty() {
            *self = other;
            return;
        }
        let offset = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes[other.start..]);
        let shifted = other
            .entries
            .into_iter()
            .map(|(index, end)| (index, if end == FAILED { FAILED } else { end - other.start + offset }));
        self.entries.extend(shifted);
        self.failures.extend(other.failures);
    }

    /// Takes the first outcome left; its JSON stays in the outcomes.
    pub fn pop(&mut self) -> Option<(usize, Result<&[u8], TaskError>)> {
        let (index, end) = self.entries.pop_front()?;
        if end == FAILED {
            return Some((index, Err(self.failures.pop_front().expect("a failure per failed entry"))));
        }
        let start = std::mem::replace(&mut self.start, end);
        Some((index, Ok(&self.bytes[start..end])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut outcomes: Outcomes) -> Vec<(usize, Result<String, String>)> {
        let mut out = Vec::new();
        while let Some((index, outcome)) = outcomes.pop() {
            out.push((index, outcome.map(|json| String::from_utf8(json.to_vec()).unwrap()).map_err(|e| e.to_string())));
        }
        out
    }

    #[test]
    fn outcomes_in_order_appended_or_not() {
        let failed = || TaskError::Failed { index: 1, func: "f".into(), message: "no".into() };
        let mut a = Outcomes::default();
        a.push(0, Ok(b"10"));
        a.push(1, Err(failed()));
        let mut b = Outcomes::default();
        b.push(7, Ok(b"[1,2]"));
        b.push(5, Ok(b"null"));
        a.append(b);
        let mut empty = Outcomes::default();
        empty.append(a);
        assert_eq!(empty.front_index(), Some(0));
        let expected_error = Err(failed().to_string());
        assert_eq!(
            drain(empty),
            [(0, Ok("10".into())), (1, expected_error), (7, Ok("[1,2]".into())), (5, Ok("null".into()))]
        );
        // Appended after some of it was taken: only what is left moves.
        let mut taken = Outcomes::default();
        taken.push(3, Ok(b"x"));
        taken.push(2, Err(failed()));
        taken.push(4, Ok(b"yy"));
        assert_eq!(taken.pop().map(|(index, json)| (index, json.unwrap().to_vec())), Some((3, b"x".to_vec())));
        let mut into = Outcomes::default();
        into.push(9, Ok(b"z"));
        into.append(taken);
        assert_eq!(drain(into), [(9, Ok("z".into())), (2, Err(failed().to_string())), (4, Ok("yy".into()))]);
    }
}

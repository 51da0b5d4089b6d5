//! [`Outcomes`]: outcomes laid end to end, the unit in which results travel
//! from a worker's reader thread to whoever consumes them.

use std::collections::VecDeque;
use std::ops::Range;

use crate::error::TaskError;

/// Where an outcome's JSON lies in its outcomes, or how the item failed: boxed,
/// as failures are rare and a small entry per item keeps a outcomes compact.
type Outcome = Result<Range<usize>, Box<TaskError>>;

/// Outcomes delivered together, their result JSON laid end to end in one
/// buffer: nothing is allocated per item between a worker's pipe and the
/// consumer.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    bytes: Vec<u8>,
    outcomes: VecDeque<(usize, Outcome)>,
}

impl Outcomes {
    /// Appends item `index`'s outcome.
    pub fn push(&mut self, index: usize, outcome: Result<&[u8], TaskError>) {
        let outcome = outcome.map(|json| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(json);
            start..self.bytes.len()
        });
        self.outcomes.push_back((index, outcome.map_err(Box::new)));
    }

    /// Whether no outcome is left.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// The index of the first outcome left.
    pub fn front_index(&self) -> Option<usize> {
        self.outcomes.front().map(|(index, _)| *index)
    }

    /// Appends `other`'s outcomes (moving it in whole when this one is empty).
    pub fn append(&mut self, other: Outcomes) {
        if self.is_empty() {
            *self = other;
            return;
        }
        let offset = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        let shifted = other
            .outcomes
            .into_iter()
            .map(|(index, outcome)| (index, outcome.map(|range| range.start + offset..range.end + offset)));
        self.outcomes.extend(shifted);
    }

    /// Takes the first outcome left; its JSON stays in the outcomes.
    pub fn pop(&mut self) -> Option<(usize, Result<&[u8], TaskError>)> {
        let (index, outcome) = self.outcomes.pop_front()?;
        Some((index, outcome.map(|range| &self.bytes[range]).map_err(|error| *error)))
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
    }
}

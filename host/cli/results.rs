//! The results of `--map`, held until the whole array can be written: their
//! JSON end to end in one buffer, each after a comma, so that a million tiny
//! results cost two allocations, not a million, and results that arrived in
//! order are written out as one slice (the array is written after the last
//! result: its time is the run's tail).

use std::ops::Range;

#[derive(Debug, Default)]
pub(super) struct Results {
    bytes: Vec<u8>,
    /// By index: where each result's JSON lies in `bytes` (empty: none).
    spans: Vec<Range<usize>>,
}

impl Results {
    /// Records item `index`'s result JSON (never empty: it is valid JSON).
    pub fn insert(&mut self, index: usize, json: &[u8]) {
        self.skip(index);
        self.bytes.push(b',');
        let start = self.bytes.len();
        self.bytes.extend_from_slice(json);
        self.spans[index] = start..self.bytes.len();
    }

    /// Makes room for `index` without a result (a failed item): the array
    /// is at least this long.
    pub fn skip(&mut self, index: usize) {
        if self.spans.len() <= index {
            self.spans.resize(index + 1, 0..0);
        }
    }

    /// How many indices the array covers.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Item `index`'s result JSON, if it has one.
    #[cfg(test)]
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.spans.get(index).filter(|span| !span.is_empty()).map(|span| &self.bytes[span.clone()])
    }

    /// The results of `index` and of the indices after it that follow it in
    /// the buffer, each with the comma before it (`,a,b,c`), and how many
    /// they are; `None` if `index` has no result.
    pub fn run(&self, index: usize) -> Option<(&[u8], usize)> {
        let first = self.spans.get(index).filter(|span| !span.is_empty())?;
        let (mut end, mut count) = (first.end, 1);
        while let Some(next) = self.spans.get(index + count).filter(|next| !next.is_empty() && next.start == end + 1) {
            end = next.end;
            count += 1;
        }
        Some((&self.bytes[first.start - 1..end], count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_by_index_in_any_order() {
        let mut results = Results::default();
        results.insert(2, b"[3]");
        results.insert(0, b"1");
        results.skip(3);
        assert_eq!(results.len(), 4);
        assert_eq!(results.get(0), Some(&b"1"[..]));
        assert_eq!(results.get(1), None);
        assert_eq!(results.get(2), Some(&b"[3]"[..]));
        assert_eq!(results.get(3), None);
        assert_eq!(results.get(4), None);
    }

    #[test]
    fn runs_are_the_results_that_arrived_in_order() {
        let mut results = Results::default();
        for (index, json) in [(0, "10"), (1, "11"), (4, "14"), (2, "12"), (3, "13"), (5, "15")] {
            results.insert(index, json.as_bytes());
        }
        results.skip(7);
        let run = |i| results.run(i).map(|(bytes, n)| (std::str::from_utf8(bytes).unwrap(), n));
        assert_eq!(run(0), Some((",10,11", 2)));
        assert_eq!(run(2), Some((",12,13", 2)));
        assert_eq!(run(4), Some((",14", 1)), "5 was not next to it");
        assert_eq!(run(5), Some((",15", 1)));
        assert_eq!(run(6), None);
        assert_eq!(run(7), None);
    }
}

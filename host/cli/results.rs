//! The results of `--map`, held until the whole array can be written: their
//! JSON end to end in one buffer, so that a million tiny results cost two
//! allocations, not a million.

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
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.spans.get(index).filter(|span| !span.is_empty()).map(|span| &self.bytes[span.clone()])
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
}

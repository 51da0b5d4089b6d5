//! The results of `--map`, held until the whole array can be written: their
//! JSON end to end in one buffer, each after a comma, so that a million tiny
//! results cost two allocations, not a million, and results that arrived in
//! order are written out as one slice (the array is written after the last
//! result: its time is the run's tail).

/// The results of `--map` so far; see the module docs.
#[derive(Debug, Default)]
pub(super) struct Results {
    /// Every result's JSON, each after a comma, in the order they arrived.
    bytes: Vec<u8>,
    /// Runs of results for consecutive indices that arrived one after the
    /// other, as a chunk's do: each lies in `bytes` from its `start` to the
    /// next run's. A run per stretch, not a span per result: a million
    /// tiny results would otherwise add 16 MB for the process to fault in,
    /// which cost more than the results themselves.
    runs: Vec<Run>,
    /// One past the highest index seen.
    len: usize,
}

/// A run of [`Results`]: `count` results from index `first`, from `start`
/// in the bytes.
#[derive(Debug, Clone, Copy)]
struct Run {
    first: usize,
    count: usize,
    start: usize,
}

impl Results {
    /// Records item `index`'s result JSON (never empty: it is valid JSON).
    /// Each index has at most one outcome (a job delivers each once).
    pub fn insert(&mut self, index: usize, json: &[u8]) {
        self.skip(index);
        match self.runs.last_mut() {
            Some(run) if run.first + run.count == index => run.count += 1,
            _ => self.runs.push(Run { first: index, count: 1, start: self.bytes.len() }),
        }
        self.bytes.push(b',');
        self.bytes.extend_from_slice(json);
    }

    /// Makes room for `index` without a result (a failed item): the array
    /// is at least this long.
    pub fn skip(&mut self, index: usize) {
        self.len = self.len.max(index + 1);
    }

    /// How many indices the array covers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The runs in index order: each run's first index, how many results
    /// it holds, and their JSON, each with the comma before it (`,a,b,c`).
    pub fn runs(&self) -> Vec<(usize, usize, &[u8])> {
        let ends = self.runs.iter().skip(1).map(|next| next.start).chain([self.bytes.len()]);
        let mut runs: Vec<_> =
            self.runs.iter().zip(ends).map(|(run, end)| (run.first, run.count, &self.bytes[run.start..end])).collect();
        runs.sort_unstable_by_key(|&(first, ..)| first);
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(results: &Results) -> Vec<(usize, usize, &str)> {
        results
            .runs()
            .into_iter()
            .map(|(first, count, bytes)| (first, count, std::str::from_utf8(bytes).unwrap()))
            .collect()
    }

    #[test]
    fn runs_are_the_results_that_arrived_in_order_sorted_by_index() {
        let mut results = Results::default();
        for (index, json) in [(0, "10"), (1, "11"), (4, "14"), (2, "12"), (3, "[13]"), (5, "15")] {
            results.insert(index, json.as_bytes());
        }
        results.skip(7);
        assert_eq!(results.len(), 8);
        assert_eq!(runs(&results), [(0, 2, ",10,11"), (2, 2, ",12,[13]"), (4, 1, ",14"), (5, 1, ",15")]);
    }

    #[test]
    fn a_failed_item_ends_a_run_and_counts_towards_the_length() {
        let mut results = Results::default();
        results.insert(1, b"1");
        results.skip(2);
        results.insert(3, b"3");
        assert_eq!(results.len(), 4);
        assert_eq!(runs(&results), [(1, 1, ",1"), (3, 1, ",3")]);
        assert_eq!(Results::default().len(), 0);
        assert!(Results::default().runs().is_empty());
    }
}

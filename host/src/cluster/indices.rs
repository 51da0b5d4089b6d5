//! Sets of item indices for the client's bookkeeping, a bit per index: a
//! job of a million tiny items inserted and removed each index once, and a
//! hashed set spent about a tenth of the whole machine's CPU on it
//! (docs/performance.md, "The cluster client's sets").

use std::collections::VecDeque;

/// A growable set of indices, from 0 up to the highest one inserted.
#[derive(Default)]
pub(super) struct Bits(Vec<u64>);

impl Bits {
    pub fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Adds `i`; false if it was there.
    pub fn insert(&mut self, i: usize) -> bool {
        if self.0.len() <= i / 64 {
            self.0.resize(i / 64 + 1, 0);
        }
        let (word, bit) = (&mut self.0[i / 64], 1 << (i % 64));
        let new = *word & bit == 0;
        *word |= bit;
        new
    }
}

/// The indices still awaited: bits from the lowest awaited index's word to
/// the highest's, so that an endless stream holds what is in flight, not
/// a bit for every item it has ever had.
#[derive(Default)]
pub(super) struct Awaited {
    /// The word of `words[0]` (`index / 64`).
    first_word: usize,
    words: VecDeque<u64>,
    len: usize,
}

impl Awaited {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `i`; false if it was there.
    pub fn insert(&mut self, i: usize) -> bool {
        let word = i / 64;
        if self.words.is_empty() {
            self.first_word = word;
        }
        while word < self.first_word {
            self.words.push_front(0);
            self.first_word -= 1;
        }
        let at = word - self.first_word;
        if self.words.len() <= at {
            self.words.resize(at + 1, 0);
        }
        let bit = 1 << (i % 64);
        let new = self.words[at] & bit == 0;
        self.words[at] |= bit;
        self.len += usize::from(new);
        new
    }

    /// Takes `i` out; false if it was not there.
    pub fn remove(&mut self, i: usize) -> bool {
        let Some(at) = (i / 64).checked_sub(self.first_word) else { return false };
        let bit = 1 << (i % 64);
        let Some(word) = self.words.get_mut(at).filter(|w| **w & bit != 0) else { return false };
        *word &= !bit;
        self.len -= 1;
        // Answers come roughly in order: the words behind them empty out.
        while self.words.front() == Some(&0) {
            self.words.pop_front();
            self.first_word += 1;
        }
        while self.words.back() == Some(&0) {
            self.words.pop_back();
        }
        true
    }

    /// Every index awaited, in ascending order; the set is left empty.
    pub fn drain(&mut self) -> Vec<usize> {
        let first = self.first_word;
        let indices = self
            .words
            .iter()
            .enumerate()
            .flat_map(|(at, &word)| (0..64).filter(move |b| word & (1 << b) != 0).map(move |b| (first + at) * 64 + b))
            .collect();
        *self = Awaited::default();
        indices
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Any sequence of inserts and removes answers as an ordered set does.
        #[test]
        fn awaited_is_a_set(ops in proptest::collection::vec((any::<bool>(), 0usize..2000), 0..400)) {
            let (mut awaited, mut model) = (Awaited::default(), BTreeSet::new());
            for (insert, i) in ops {
                if insert {
                    prop_assert_eq!(awaited.insert(i), model.insert(i));
                } else {
                    prop_assert_eq!(awaited.remove(i), model.remove(&i));
                }
                prop_assert_eq!(awaited.is_empty(), model.is_empty());
                // It holds no more words than its lowest and highest index span.
                if let (Some(lo), Some(hi)) = (model.first(), model.last()) {
                    prop_assert_eq!(awaited.first_word, lo / 64);
                    prop_assert!(awaited.words.len() <= hi / 64 - lo / 64 + 1);
                }
            }
            prop_assert_eq!(awaited.drain(), model.into_iter().collect::<Vec<_>>());
            prop_assert!(awaited.is_empty());
        }

        #[test]
        fn bits_is_a_set(ops in proptest::collection::vec(0usize..1000, 0..200)) {
            let (mut bits, mut model) = (Bits::default(), BTreeSet::new());
            for i in ops {
                prop_assert_eq!(bits.insert(i), model.insert(i));
                prop_assert!(bits.contains(i));
            }
            for i in 0..1100 {
                prop_assert_eq!(bits.contains(i), model.contains(&i));
            }
        }
    }

    #[test]
    fn a_stream_holds_only_its_window() {
        let mut awaited = Awaited::default();
        for i in 0..1_000_000 {
            awaited.insert(i);
            if i >= 640 {
                assert!(awaited.remove(i - 640));
            }
        }
        assert!(awaited.words.len() <= 12, "{} words", awaited.words.len());
        assert_eq!(awaited.drain(), (1_000_000 - 640..1_000_000).collect::<Vec<_>>());
    }
}

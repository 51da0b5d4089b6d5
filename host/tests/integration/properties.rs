//! Properties over random inputs and pool shapes: `map` equals the
//! sequential map, and `imap_unordered` yields the same multiset.

use proptest::prelude::*;
use rpool_wasm_tests::guests;

use crate::pool;

proptest! {
    // Each case starts real worker processes: a few dozen cases cover the
    // shapes (1–4 workers, chunksizes, task limits) without a slow suite.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn map_equals_the_sequential_map(
        items in prop::collection::vec(-1_000_000i64..1_000_000, 0..60),
        workers in 1usize..=4,
        chunksize in 1usize..=9,
        max_tasks in prop::option::of(1usize..=5),
    ) {
        let mut builder = pool(guests::TUTORIAL).workers(workers);
        if let Some(max) = max_tasks {
            builder = builder.max_tasks_per_worker(max);
        }
        let pool = builder.build().unwrap();
        let expected: Vec<i64> = items.iter().map(|x| x * x).collect();

        let mapped: Vec<i64> = pool.func("square").chunksize(chunksize).map(&items).unwrap();
        prop_assert_eq!(&mapped, &expected);

        let mut unordered: Vec<(usize, i64)> = pool
            .func("square")
            .chunksize(chunksize)
            .imap_unordered(&items)
            .unwrap()
            .map(|(i, r)| (i, r.unwrap()))
            .collect();
        unordered.sort();
        prop_assert_eq!(unordered.iter().map(|(_, r)| *r).collect::<Vec<_>>(), expected);
        prop_assert_eq!(unordered.iter().map(|(i, _)| *i).collect::<Vec<_>>(), (0..items.len()).collect::<Vec<_>>());
    }
}

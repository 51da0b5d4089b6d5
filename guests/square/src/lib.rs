//! The smallest rpool task module: exactly one task export, `square`, so it is the default
//! `--func` of the CLI.

use rpool_guest::task;

/// `square(x) = x * x`: `pool.map("square", [1, 2, 3])` gives `[1, 4, 9]`.
#[task]
pub fn square(x: i64) -> i64 {
    x * x
}

//! Misuse of `#[task]` / `#[init]` is a compile error pointing at the offending code.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p rpool-guest --test
//! compile_fail`, then check that each `.stderr` points at the right span.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}

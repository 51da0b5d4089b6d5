//! Modules written by hand in WAT against docs/abi.md, with no SDK: `run`
//! takes the text directly.

use rpool_wasm_tests::guests;
use serde_json::json;

use crate::{pool, rpool};

#[test]
fn a_hand_written_wat_module_runs_from_its_text() {
    let out = rpool(&["run", guests::WAT_SQUARE, "--map", "-"]).stdin("[7, -12, 0, 3]").run();
    assert_eq!(out.json(), json!([49, 144, 0, 9]));
}

#[test]
fn a_wat_modules_error_is_the_items_error() {
    let out = rpool(&["run", guests::WAT_SQUARE, "--map", "-"]).stdin("[1, \"a\"]").run();
    out.failure(1);
    out.one_line_error("item 1: square failed: square expects one integer argument");
}

#[test]
fn a_wat_initializer_sets_state_each_worker_keeps() {
    let pool = pool(guests::WAT_SCALE).workers(2).initializer("set_factor", &(10,)).build().unwrap();
    let results: Vec<i64> = pool.map("scale", [1, 2, 3, 4, 5]).unwrap();
    assert_eq!(results, [10, 20, 30, 40, 50]);
    let out = rpool(&[
        "run",
        guests::WAT_SCALE,
        "--func",
        "scale",
        "--init",
        "set_factor",
        "--init-args",
        "[3]",
        "--imap",
        "-",
    ])
    .stdin("[1, 2]")
    .run();
    assert_eq!(out.success(), "3\n6\n");
}

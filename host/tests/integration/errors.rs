//! Bad input: every case is a one-line error that names the problem and
//! where, with its exit code (see the README's exit code table).

use rpool_wasm_tests::{Scratch, guests};

use crate::rpool;

fn run_map(module: &str, inputs: &str) -> rpool_wasm_tests::Output {
    rpool(&["run", module, "--map", "-"]).stdin(inputs).run()
}

/// Runs a module written to `file` with `contents`: a one-line error with `needle`, exit 2.
fn rejects_module(file: &str, contents: &str, needle: &str) -> rpool_wasm_tests::Output {
    let s = Scratch::new();
    let module = s.file(file, contents);
    let out = run_map(module.to_str().unwrap(), "[1]");
    out.failure(2);
    out.one_line_error(needle);
    out
}

#[test]
fn a_missing_inputs_file() {
    let out = rpool(&["run", guests::SQUARE, "--map", "/nonexistent/inputs.json"]).run();
    out.failure(2);
    out.one_line_error("/nonexistent/inputs.json: cannot read inputs");
}

#[test]
fn malformed_inputs_json_names_line_and_column() {
    let out = run_map(guests::SQUARE, "[1,\n 2,,]");
    out.failure(2);
    out.one_line_error("-: invalid JSON at line 2 column 4: expected value");
}

#[test]
fn a_mistake_after_many_integers_names_its_line_and_column() {
    // Integers are read in runs, many to a pass over the read buffer, across
    // many refills of it: the place of what follows them is still exact.
    let mut inputs = String::from("[");
    for i in 0..150_000 {
        inputs += &format!("{i},{}", if i % 3 == 0 { "\n" } else { " " });
    }
    // The last line: `149998, 149999,   01]`; serde_json stops at the `1`.
    inputs += "  01]";
    let out = run_map(guests::SQUARE, &inputs);
    out.failure(2);
    out.one_line_error("-: invalid JSON at line 50001 column 20: invalid number");
}

#[test]
fn inputs_that_are_not_an_array() {
    let out = run_map(guests::SQUARE, "{\"a\": 1}");
    out.failure(2);
    out.one_line_error("the inputs must be a JSON array of items, found an object");
}

#[test]
fn a_starmap_item_that_is_not_an_array() {
    let out = rpool(&["run", guests::TUTORIAL, "--func", "power", "--starmap", "-"]).stdin("[[2, 3], 4]").run();
    out.failure(2);
    out.one_line_error("item 1 is `4`, but a starmap item must be the array of the call's arguments");
}

#[test]
fn a_missing_module() {
    let out = run_map("/nonexistent/task.wasm", "[1]");
    out.failure(2);
    out.one_line_error("cannot read task module /nonexistent/task.wasm");
}

#[test]
fn bytes_that_are_not_wasm() {
    rejects_module("bogus.wasm", "hello, I am not a module", "bogus.wasm is not a valid WebAssembly module");
}

#[test]
fn invalid_wat_text_names_the_line() {
    let out = rejects_module(
        "bad.wat",
        "(module\n  (func $f (result i32) (i32.const))\n)",
        "bad.wat is not a valid WebAssembly module",
    );
    assert!(out.stderr.contains(":2:"), "{}", out.stderr);
}

#[test]
fn an_import_the_host_does_not_provide_is_named() {
    rejects_module(
        "imports.wat",
        r#"(module (import "env" "now" (func (result i64))) (memory (export "memory") 1)
           (func (export "f") (result i32) i32.const 0))"#,
        "imports `env::now`, which the host does not provide",
    );
}

#[test]
fn an_rpool_import_of_the_wrong_type_is_named() {
    rejects_module(
        "wrongtype.wat",
        r#"(module (import "rpool" "input_len" (func (result i64))) (memory (export "memory") 1)
           (func (export "f") (result i32) i32.const 0))"#,
        "imports `rpool::input_len` with type () -> (i64), but ABI v1 defines it as () -> (i32)",
    );
}

#[test]
fn a_module_without_memory() {
    rejects_module(
        "nomem.wat",
        r#"(module (func (export "f") (result i32) i32.const 0))"#,
        "does not export its linear memory as `memory`",
    );
}

#[test]
fn an_export_of_the_wrong_type() {
    let s = Scratch::new();
    let module = s.file(
        "wrongexport.wat",
        r#"(module (memory (export "memory") 1)
           (func (export "add") (param i32 i32) (result i32) local.get 0)
           (func (export "ok") (result i32) i32.const 0))"#,
    );
    let out = rpool(&["run", module.to_str().unwrap(), "--func", "add", "--map", "-"]).stdin("[1]").run();
    out.failure(2);
    out.one_line_error(
        "export `add` is a function of type `(i32, i32) -> (i32)`, but a task function must have type `() -> i32`",
    );
}

#[test]
fn bad_init_args() {
    for (args, needle) in [("[1", "initializer arguments must be a JSON array"), ("10", "got `10`")] {
        let out = rpool(&[
            "run",
            guests::WAT_SCALE,
            "--func",
            "scale",
            "--init",
            "set_factor",
            "--init-args",
            args,
            "--map",
            "-",
        ])
        .stdin("[1]")
        .run();
        out.failure(2);
        out.one_line_error(needle);
    }
}

#[test]
fn an_unknown_initializer() {
    let out = rpool(&["run", guests::WAT_SCALE, "--func", "scale", "--init", "setup", "--map", "-"]).stdin("[1]").run();
    out.failure(2);
    out.one_line_error("no export `setup`");
}

#[test]
fn a_failing_initializer_exits_3_naming_it() {
    let out = rpool(&[
        "run",
        guests::WAT_SCALE,
        "--func",
        "scale",
        "--init",
        "set_factor",
        "--init-args",
        "[\"x\"]",
        "--map",
        "-",
    ])
    .stdin("[1]")
    .run();
    out.failure(3);
    out.one_line_error("initializer set_factor failed: set_factor expects one integer argument");
}

#[test]
fn nonsense_flag_values_are_usage_errors() {
    for args in [
        &["run", guests::SQUARE, "--map", "-", "--workers", "0"][..],
        &["run", guests::SQUARE, "--map", "-", "--chunksize", "many"],
        &["run", guests::SQUARE, "--map", "-", "--max-tasks-per-worker", "-1"],
        &["run", guests::SQUARE],
        &["run", guests::SQUARE, "--map", "-", "--imap", "-"],
        &["run", guests::SQUARE, "--map", "-", "--init-args", "[]"],
    ] {
        let out = rpool(args).stdin("[1]").run();
        out.failure(2);
        assert!(out.stderr.starts_with("error:"), "{}", out.stderr);
        assert_eq!(out.stdout, "");
    }
}

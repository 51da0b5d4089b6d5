//! Traps that say where: the message names the guest function that trapped
//! and the frames above it (from the module's name section, Rust names
//! demangled), on one line; `--backtrace` (or `RPOOL_WASM_BACKTRACE=1`)
//! shows every frame.

use rpool_wasm_tests::guests;

use crate::languages::{self, C};
use crate::rpool;

#[test]
fn a_rust_trap_names_the_function_that_trapped_and_its_caller() {
    // (The task's body is inlined into its export, which the SDK names
    // after the task.)
    let out = rpool(&["run", guests::PROBE, "--func", "parse_and_square", "--map", "-"]).stdin(r#"["7", "x"]"#).run();
    out.failure(1);
    out.one_line_error(
        "item 1: parse_and_square trapped: wasm trap: wasm `unreachable` instruction executed \
         at probe::parse_or_trap ← parse_and_square",
    );
}

#[test]
fn a_c_trap_names_the_helper_and_the_task() {
    let Some(module) = languages::built(&C) else { return };
    let out = rpool(&["run", module, "--func", "halve", "--map", "-"]).stdin("[4, 3]").run();
    out.failure(1);
    out.one_line_error(
        "item 1: halve trapped: wasm trap: wasm `unreachable` instruction executed at checked_half ← halve",
    );
}

#[test]
fn the_whole_backtrace_on_request() {
    for (flag, env) in [(Some("--backtrace"), None), (None, Some("1"))] {
        let mut cli = rpool(&["run", guests::PROBE, "--func", "parse_and_square", "--map", "-"]).stdin(r#"["x"]"#);
        if let Some(flag) = flag {
            cli = cli.args([flag]);
        }
        if let Some(value) = env {
            cli = cli.env("RPOOL_WASM_BACKTRACE", value);
        }
        let out = cli.run();
        let stderr = out.failure(1);
        assert!(stderr.contains("instruction executed\n  0: probe::parse_or_trap (module offset 0x"), "{stderr}");
        assert!(stderr.contains("\n  1: parse_and_square (module offset 0x"), "{stderr}");
    }
}

#[test]
fn a_rust_panic_keeps_its_message_and_location() {
    // The SDK's panic hook names the panic's place; the abort's frames
    // would only add noise.
    let out = rpool(&["run", guests::TUTORIAL, "--func", "panic_on", "--map", "-"]).stdin("[1, 2]").run();
    let stderr = out.failure(1);
    assert!(stderr.contains("panicked at") && stderr.contains("cannot handle"), "{stderr}");
    assert!(!stderr.contains(" ← "), "no frames after a panic's message: {stderr}");
}

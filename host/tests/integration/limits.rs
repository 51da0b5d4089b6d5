//! Limits on each call — time, memory, fuel, output — and guests that
//! misbehave through the ABI: each is that item's clear error, the worker
//! goes on with a fresh instance, and nothing hangs.

use std::time::{Duration, Instant};

use rpool_wasm::TaskError;
use rpool_wasm_tests::{Scratch, guests};

use crate::{pool, rpool};

#[test]
fn a_call_past_its_timeout_fails_and_the_pool_goes_on() {
    let out =
        rpool(&["run", guests::PROBE, "--func", "spin", "--starmap", "-", "--timeout", "300ms"]).stdin("[[]]").run();
    out.failure(1);
    out.one_line_error("item 0: spin trapped: timed out after 300ms");

    let pool = pool(guests::PROBE).workers(1).timeout(Duration::from_millis(200)).build().unwrap();
    let spin = pool.apply_async::<_, u64>("spin", ()).unwrap();
    let count = pool.apply_async::<_, u64>("count", (10,)).unwrap();
    assert_eq!(spin.get().unwrap_err().message(), "timed out after 200ms");
    assert_eq!(count.get().unwrap(), 45, "the same worker went on with a fresh instance");
}

#[test]
fn a_worker_that_stops_answering_is_killed_and_replaced() {
    // SIGSTOP freezes the worker outside wasm: only the parent's wall-clock
    // backstop (twice the timeout plus a second) can notice.
    let pool = pool(guests::PROBE).workers(1).timeout(Duration::from_millis(200)).build().unwrap();
    let pid = pool.worker_pids()[0];
    let pending = pool.apply_async::<_, u64>("sleep_ms", (100,)).unwrap();
    std::process::Command::new("kill").args(["-STOP", &pid.to_string()]).status().unwrap();
    let started = Instant::now();
    let err = pending.get().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "the backstop fired after {:?}", started.elapsed());
    let TaskError::WorkerLost { status, .. } = &err else { panic!("unexpected {err:?}") };
    assert!(status.contains("stopped answering for 1.400s and was killed"), "{err}");
    let after: u64 = pool.apply("count", (4,)).unwrap();
    assert_eq!(after, 6);
    assert_ne!(pool.worker_pids(), [pid]);
}

#[test]
fn growing_memory_past_the_limit_fails_that_item() {
    let out = rpool(&["run", guests::PROBE, "--func", "allocate", "--imap", "-", "--max-memory", "16MiB", "-w", "1"])
        .stdin("[1, 64]")
        .run();
    out.failure(1);
    assert_eq!(out.stdout, "1048576\n", "the first item ran within the limit");
    out.one_line_error("item 1: allocate trapped: memory limit of 16 MiB exceeded");

    let pool = pool(guests::PROBE).workers(1).max_memory(16 << 20).build().unwrap();
    let results: Vec<Result<usize, TaskError>> = pool.imap("allocate", [64, 2]).unwrap().collect();
    assert!(results[0].as_ref().unwrap_err().message().contains("memory limit of 16 MiB exceeded"));
    assert_eq!(results[1], Ok(2 << 20));
}

#[test]
fn fuel_is_a_deterministic_limit() {
    let pool = pool(guests::PROBE).workers(1).fuel(1_000_000).build().unwrap();
    let results: Vec<Result<u64, TaskError>> = pool.imap("count", [100_000_000, 100]).unwrap().collect();
    assert_eq!(results[0].as_ref().unwrap_err().message(), "ran out of fuel (1000000 units; --fuel)");
    assert_eq!(results[1], Ok(4950), "each call gets its own fuel");
    let out =
        rpool(&["run", guests::PROBE, "--func", "count", "--map", "-", "--fuel", "1000"]).stdin("[1000000]").run();
    out.failure(1);
    out.one_line_error("ran out of fuel (1000 units; --fuel)");
}

#[test]
fn output_past_the_cap_fails_that_item() {
    let out = rpool(&["run", guests::PROBE, "--func", "big_output", "--map", "-", "--max-output", "100"])
        .stdin("[10, 1000]")
        .run();
    out.failure(1);
    out.one_line_error(
        "item 1: big_output trapped: rpool.output_write: 1002 bytes is more than the limit of 100 bytes (--max-output)",
    );
}

#[test]
fn a_stack_overflow_fails_that_item() {
    let pool = pool(guests::PROBE).workers(1).build().unwrap();
    let results: Vec<Result<u64, TaskError>> = pool.imap("overflow_stack", [0]).unwrap().collect();
    assert_eq!(results[0].as_ref().unwrap_err().message(), "wasm trap: call stack exhausted");
    assert_eq!(pool.apply::<_, u64>("count", (3,)).unwrap(), 3);
}

/// A WAT task module whose `f` runs `body` (with the four imports in scope).
fn misbehaving(body: &str) -> (Scratch, String) {
    let s = Scratch::new();
    let wat = format!(
        r#"(module
             (import "rpool" "output_write" (func $out (param i32 i32)))
             (import "rpool" "error_write" (func $err (param i32 i32)))
             (import "rpool" "input_read" (func $in (param i32)))
             (memory (export "memory") 1)
             (data (i32.const 16) "not json\ff\fe")
             (func (export "f") (result i32) {body}))"#
    );
    let path = s.file("misbehaving.wat", &wat).to_str().unwrap().to_string();
    (s, path)
}

#[test]
fn guest_misbehaviour_through_the_abi_is_the_items_error() {
    let cases = [
        // A pointer past the end of memory.
        (
            "(call $out (i32.const 65530) (i32.const 100)) (i32.const 0)",
            "trapped: rpool.output_write: range 0xfffa..+100 is outside the guest's memory (65536 bytes)",
        ),
        // A length that wraps around.
        (
            "(call $err (i32.const 16) (i32.const -1)) (i32.const 1)",
            "trapped: rpool.error_write: range 0x10..+4294967295 is outside the guest's memory",
        ),
        // input_read into a place the input does not fit.
        (
            "(call $in (i32.const 65535)) (i32.const 0)",
            "trapped: rpool.input_read: range 0xffff..+3 is outside the guest's memory",
        ),
        // Output that is not JSON.
        (
            "(call $out (i32.const 16) (i32.const 8)) (i32.const 0)",
            "f returned invalid JSON: expected ident at line 1 column 2",
        ),
        // Output that is not UTF-8.
        ("(call $out (i32.const 24) (i32.const 2)) (i32.const 0)", "f returned invalid JSON"),
        // An error message that is not UTF-8: shown, not a crash.
        ("(call $err (i32.const 20) (i32.const 6)) (i32.const 1)", "f failed: json\u{fffd}\u{fffd}"),
        // An error with no message.
        ("(i32.const 7)", "f failed: task f returned code 7"),
        // A trap.
        ("unreachable", "f trapped: wasm trap: wasm `unreachable` instruction executed"),
    ];
    for (body, expected) in cases {
        let (_dir, module) = misbehaving(body);
        let out = rpool(&["run", &module, "--map", "-"]).stdin("[1]").run();
        out.failure(1);
        out.one_line_error(expected);
    }
}

#[test]
fn no_output_is_null() {
    let (_dir, module) = misbehaving("(i32.const 0)");
    assert_eq!(rpool(&["run", &module, "--map", "-"]).stdin("[1, 2]").run().success(), "[null,null]\n");
}

#[test]
fn bad_limit_values_are_usage_errors() {
    for (flag, value, needle) in [
        ("--timeout", "soon", "like 500ms"),
        ("--timeout", "0s", "longer than zero"),
        ("--max-memory", "12 parsecs", "unknown unit"),
        ("--max-output", "0", "more than zero"),
        ("--fuel", "0", "0 is not in 1.."),
    ] {
        let out = rpool(&["run", guests::SQUARE, "--map", "-", flag, value]).stdin("[1]").run();
        out.failure(2);
        assert!(out.stderr.contains(needle), "{flag} {value}: {}", out.stderr);
    }
}

//! Write [rpool](https://example.invalid/rpool-wasm) task modules in Rust.
//!
//! rpool is Python's `multiprocessing.Pool` rebuilt around WebAssembly: the host spawns worker
//! processes, each worker loads a *task module* (a `.wasm` file) and calls its exported task
//! functions, one item at a time. This crate turns ordinary Rust functions into those exports.
//!
//! # A first task
//!
//! ```
//! use rpool_guest::task;
//!
//! /// Squares its argument: `pool.map(square, [1, 2, 3])` gives `[1, 4, 9]`.
//! #[task]
//! fn square(x: i64) -> i64 {
//!     x * x
//! }
//! # assert_eq!(square(4), 16);
//! # assert_eq!(rpool_guest::testing::call(__rpool_shim_square, "[4]"), Ok("16".to_string()));
//! ```
//!
//! `#[task]` leaves `square` exactly as written (you can call it and unit-test it like any
//! function) and adds an exported function named `square` that the host calls. That export:
//!
//! 1. reads the call's input, a JSON array of its arguments;
//! 2. deserializes each element into the matching parameter's type (any
//!    [`serde::Deserialize`] type: numbers, strings, `Vec`s, tuples, your own
//!    `#[derive(Deserialize)]` structs, `serde_json::Value`, ...);
//! 3. calls `square` and hands its result, serialized as JSON (any [`serde::Serialize`]
//!    type), back to the host.
//!
//! Use `#[task(name = "other_name")]` to export the function under another name.
//!
//! # Arguments: map versus starmap
//!
//! The input of a task is **always the JSON array of the call's positional arguments**, exactly
//! as Python would call the function:
//!
//! | host call | item | the task receives | suits |
//! |---|---|---|---|
//! | `map(square, [1, 2])` | `1` | `[1]` | `fn square(x: i64)` |
//! | `starmap(power, [[2, 3]])` | `[2, 3]` | `[2, 3]` | `fn power(base: i64, exp: u32)` |
//! | `map(resize, [["a.jpg", "b.jpg", [1, 2]]])` | `["a.jpg", ...]` | `[["a.jpg", ...]]` | `fn resize(args: (String, String, (u32, u32)))` |
//! | `apply(compute, (1, 2, 3))` | | `[1, 2, 3]` | `fn compute(x: i64, y: i64, z: i64)` |
//! | `apply(f)` | | `[]` | `fn f()` |
//!
//! So a one-parameter task works with `map`, a many-parameter task with `starmap`, and a task
//! never has to guess which one called it. The number of arguments must match exactly.
//!
//! ```
//! use rpool_guest::task;
//!
//! #[task]
//! fn power(base: i64, exp: u32) -> i64 {
//!     base.pow(exp)
//! }
//! # use rpool_guest::testing::call;
//! # assert_eq!(call(__rpool_shim_power, "[2, 3]"), Ok("8".to_string()));
//! # assert_eq!(
//! #     call(__rpool_shim_power, "[2]"),
//! #     Err("power: invalid arguments: expected 2 arguments, got 1".to_string())
//! # );
//! # assert_eq!(
//! #     call(__rpool_shim_power, r#"[2, "a"]"#),
//! #     Err(r#"power: argument 2 (exp): invalid type: string "a", expected u32"#.to_string())
//! # );
//! ```
//!
//! Arguments that don't fit fail the item with a message that names the task and the argument,
//! for example `power: invalid arguments: expected 2 arguments, got 1` or
//! `power: argument 2 (exp): invalid type: string "a", expected u32`.
//!
//! # Errors
//!
//! A task whose return type is a `Result` fails the item when it returns `Err(e)`; the item's
//! error message is `e.to_string()` (so `E` must implement [`std::fmt::Display`]; `String`,
//! `&str`, `Box<dyn Error>` and error enums all do). The detection is *syntactic*: a return type
//! whose last path segment is `Result` (`Result<T, E>`, `std::io::Result<T>`, a
//! `type Result<T> = ...` alias) is treated as [`std::result::Result`]. To return a `Result`
//! as a value, wrap it in a type of your own.
//!
//! ```
//! use rpool_guest::task;
//!
//! #[task]
//! fn risky_task(x: i64) -> Result<i64, String> {
//!     if x == 3 {
//!         return Err(format!("Cannot process {x}"));
//!     }
//!     Ok(x * x)
//! }
//! # use rpool_guest::testing::call;
//! # assert_eq!(call(__rpool_shim_risky_task, "[2]"), Ok("4".to_string()));
//! # assert_eq!(call(__rpool_shim_risky_task, "[3]"), Err("Cannot process 3".to_string()));
//! ```
//!
//! # Panics
//!
//! Rust on `wasm32-wasip1` aborts on panic: the abort traps, the item fails and the worker
//! throws the instance away and builds a fresh one (re-running the initializer) before its next
//! item. The first task call installs a panic hook that, before the abort, passes the panic
//! message, `panicked at FILE:LINE:COL: MESSAGE`, to the host as the item's error, so a panic is
//! reported with its message rather than just "unreachable". The hook then runs the previously
//! installed hook (by default, printing the message to the worker's stderr).
//!
//! # Initializer and per-worker state
//!
//! `#[init]` marks the function the host runs once per worker instance (Python's
//! `Pool(initializer=..., initargs=...)`), with the initargs as its arguments. It must return
//! `()` or `Result<(), E>`; an `Err` fails the whole run. Everything it leaves in statics is seen
//! by every later call on that worker, and only on that worker: each worker has its own
//! instance, and a rebuilt instance starts from scratch and runs the initializer again.
//!
//! ```
//! use rpool_guest::{init, task};
//! use std::sync::atomic::{AtomicI64, Ordering};
//!
//! static FACTOR: AtomicI64 = AtomicI64::new(0);
//!
//! /// `Pool(initializer="setup", initargs=[10])`: the input is `[10]`.
//! #[init]
//! fn setup(factor: i64) -> Result<(), String> {
//!     if factor == 0 {
//!         return Err("factor must not be 0".into());
//!     }
//!     FACTOR.store(factor, Ordering::Relaxed);
//!     Ok(())
//! }
//!
//! #[task]
//! fn scale(x: i64) -> i64 {
//!     x * FACTOR.load(Ordering::Relaxed)
//! }
//! # use rpool_guest::testing::call;
//! # assert_eq!(call(__rpool_shim_setup, "[0]"), Err("factor must not be 0".to_string()));
//! # assert_eq!(call(__rpool_shim_setup, "[10]"), Ok("null".to_string()));
//! # assert_eq!(call(__rpool_shim_scale, "[4]"), Ok("40".to_string()));
//! ```
//!
//! Non-`Copy` state fits in a [`std::sync::OnceLock`] (or a `Mutex`); a wasm instance has a
//! single thread, so these never contend.
//!
//! # Logging and the environment
//!
//! `eprintln!` writes to the worker's stderr (WASI `fd_write`), which the host passes on. The
//! host sets the WASI environment variables `RPOOL_WORKER_INDEX` (0-based) and `RPOOL_WORKERS`,
//! readable with [`std::env::var`]. `std::thread::sleep` works too.
//!
//! # Building
//!
//! A task module is a `cdylib` built for `wasm32-wasip1`:
//!
//! ```toml
//! [package]
//! name = "my_tasks"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! rpool-guest = "0.1"
//! serde = { version = "1", features = ["derive"] }  # for your own argument types
//!
//! [profile.release]
//! lto = true
//! strip = true
//! panic = "abort"
//! ```
//!
//! ```sh
//! rustup target add wasm32-wasip1
//! cargo build --release --target wasm32-wasip1
//! # -> target/wasm32-wasip1/release/my_tasks.wasm
//! ```
//!
//! The module exports `memory`, `_initialize` (Rust builds a WASI *reactor*, which the host runs
//! before anything else) and one function per task; it imports only `wasi_snapshot_preview1` and
//! the host's `rpool` functions.
//!
//! # Testing natively
//!
//! On targets other than `wasm32` the `rpool` imports are replaced by an in-process test host,
//! so `cargo test` runs your tasks natively, through the same export code the host would call.
//! For a function `f`, the macro names that export function `__rpool_shim_f` (on `wasm32` it is
//! exported under `f`, or under `name = "..."`); [`testing::call`] runs it on an input:
//!
//! ```
//! use rpool_guest::task;
//!
//! #[task]
//! fn square(x: i64) -> i64 {
//!     x * x
//! }
//!
//! assert_eq!(rpool_guest::testing::call(__rpool_shim_square, "[7]"), Ok("49".to_string()));
//! ```
//!
//! # Without the macros
//!
//! [`input`], [`output`] and [`error`] are the ABI's three operations: any `extern "C" fn() ->
//! i32` exported with `#[unsafe(no_mangle)]` is a task.
//!
//! ```
//! #[cfg_attr(target_arch = "wasm32", unsafe(no_mangle))]
//! pub extern "C" fn byte_count() -> i32 {
//!     let input = rpool_guest::input();
//!     let Ok(text) = std::str::from_utf8(&input) else {
//!         rpool_guest::error("byte_count: input is not UTF-8");
//!         return 1;
//!     };
//!     rpool_guest::output(text.len().to_string().as_bytes());
//!     0
//! }
//! # assert_eq!(rpool_guest::testing::call(byte_count, "[1]"), Ok("3".to_string()));
//! ```

#![warn(missing_docs)]

pub use rpool_guest_macros::{init, task};

mod host;
mod lone_integer;
mod runtime;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

/// Returns the current call's input: the UTF-8 JSON array of its arguments.
///
/// The host sets a fresh input for every call (task or initializer); calling `input` more than
/// once in a call returns the same bytes. On native targets it returns the input given to
/// [`testing::call`] on this thread (empty outside of one).
pub fn input() -> Vec<u8> {
    let mut input = Vec::new();
    host::input_into(&mut input);
    input
}

/// Sets the current call's result to `json`, which must be valid JSON text.
///
/// A later `output` in the same call replaces an earlier one; a call that succeeds without any
/// output has the result `null`. The bytes count only when the task returns 0.
///
/// # Panics
///
/// If `json` is longer than `i32::MAX` bytes (the ABI passes lengths as `i32`).
pub fn output(json: &[u8]) {
    host::output(json);
}

/// Sets the current call's error message, reported when the task returns non-zero (or traps).
///
/// A later `error` in the same call replaces an earlier one.
///
/// # Panics
///
/// If `message` is longer than `i32::MAX` bytes (the ABI passes lengths as `i32`).
pub fn error(message: &str) {
    host::error(message);
}

/// Support for the code that `#[task]` and `#[init]` generate. Not a public API: it may change
/// in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::runtime::{Args, error_message, run, run_chunk, serialize_output};
    pub use serde;
    pub use serde_json;
}

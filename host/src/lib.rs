//! Python's `multiprocessing.Pool`, where the tasks are WebAssembly modules.
//!
//! A [`Pool`] runs a task module in worker **processes**, each with its own
//! wasmtime engine and one long-lived instance of the module, and maps your
//! items over its exported task functions, as Python's pool maps a function:
//!
//! ```
//! # rpool_wasm::run_worker_if_requested(); // this doctest is its own worker program
//! # let module = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/wat/square.wat");
//! # let cache = tempfile::tempdir()?;
//! use rpool_wasm::Pool;
//!
//! // `module` is a task module, e.g. `square.wasm` built from Rust with the
//! // `rpool-guest` SDK; here, hand-written WAT text.
//! let pool = Pool::builder(module)
//!     .workers(2)
//! #   .worker_program(std::env::current_exe()?).cache_dir(cache.path())
//!     .build()?;
//! let squares: Vec<i64> = pool.map("square", [1, 2, 3, 4, 5])?;
//! assert_eq!(squares, [1, 4, 9, 16, 25]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Task modules
//!
//! A task module exports functions of type `() -> i32` and reads each call's
//! input — always the JSON array of the call's arguments — through four
//! `rpool` imports (ABI v1, `docs/abi.md`). Rust authors write
//! `#[rpool_guest::task] fn square(x: i64) -> i64 { x * x }` and build for
//! `wasm32-wasip1`; other languages implement the four imports. The module is
//! compiled once, in the parent, into an on-disk cache
//! ([`PoolBuilder::cache_dir`]); workers map the compiled artifact.
//!
//! A module that exports `_start` and no task functions — a plain `fn main`,
//! a C `main` — runs as a WASI command instead ([`ModuleMode::Command`]):
//! each item runs a fresh instance with the item's JSON on stdin, and its
//! stdout is the result (or, with [`PoolBuilder::raw_output`], its text);
//! the task name is `_start`, and there is no initializer; its arguments
//! ([`PoolBuilder::command_args`], `{}` for the item) follow `argv[0]`.
//!
//! A WebAssembly component of the world `rpool:task/task` (`wit/rpool.wit`:
//! Python and JavaScript tasks, built with componentize-py or
//! componentize-js) runs as [`ModuleMode::Component`]: the same JSON calls,
//! sandbox, limits and cache, on WASI preview 2.
//! [`ModuleInfo::inspect`] tells which mode a module runs in, and what it
//! imports and exports, without running it.
//!
//! # The pool's methods
//!
//! They mirror Python's. Each names the task export to call:
//!
//! | Python | here | returns |
//! |---|---|---|
//! | `map(f, items, chunksize)` | [`Pool::map`], [`Func::chunksize`] | `Vec<R>`, or the first item error |
//! | `starmap(f, items)` | [`Pool::starmap`] | each item is the argument array (a tuple) |
//! | `imap(f, items)` | [`Pool::imap`] | a lazy iterator of `Result<R, TaskError>` in input order |
//! | `imap_unordered(f, items)` | [`Pool::imap_unordered`] | `(index, Result)` in completion order |
//! | `apply(f, args)` | [`Pool::apply`] | `R` |
//! | `apply_async`, `map_async`, `starmap_async` | [`Pool::apply_async`], … | an [`AsyncResult`] |
//! | `callback=`, `error_callback=` | [`Func::apply_async_with`], … | run on the pool's callback thread |
//! | `initializer`, `initargs` | [`PoolBuilder::initializer`] | run once per worker |
//! | `maxtasksperchild` | [`PoolBuilder::max_tasks_per_worker`] | |
//! | `close`, `join`, `terminate` | [`Pool::close`], [`Pool::join`], [`Pool::terminate`] | |
//!
//! Items and results are any serde types; `Box<serde_json::value::RawValue>`
//! passes raw JSON through untouched:
//!
//! ```
//! # rpool_wasm::run_worker_if_requested();
//! # let module = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/wat/square.wat");
//! # let cache = tempfile::tempdir()?;
//! # let pool = rpool_wasm::Pool::builder(module).workers(2)
//! #     .worker_program(std::env::current_exe()?).cache_dir(cache.path()).build()?;
//! use serde_json::value::RawValue;
//! use std::time::Duration;
//!
//! // Lazy and ordered; a failed item is its error and iteration goes on.
//! let results: Vec<_> = pool.imap::<_, i64>("square", [3, -4]).unwrap().collect();
//! assert_eq!(results, [Ok(9), Ok(16)]);
//!
//! // Raw JSON in and out.
//! let raw: Vec<Box<RawValue>> = pool.func("square").chunksize(1).map([RawValue::from_string("7".into())?])?;
//! assert_eq!(raw[0].get(), "49");
//!
//! // Asynchronous, with an AsyncResult.
//! let pending = pool.apply_async::<_, i64>("square", (12,))?;
//! assert!(pending.wait_timeout(Duration::from_secs(10)));
//! assert_eq!(pending.get()?, 144);
//!
//! // An item's error names its index, the export and the task's message.
//! let err = pool.map::<_, i64>("square", [json_text("1"), json_text("\"a\"")]).unwrap_err();
//! assert_eq!(err.to_string(), "item 1: square failed: square expects one integer argument");
//! # fn json_text(s: &str) -> Box<RawValue> { RawValue::from_string(s.into()).unwrap() }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Workers
//!
//! Workers are processes running the `rpool-wasm` binary in a hidden mode;
//! see [`PoolBuilder::worker_program`] for how it is found, and
//! [`run_worker_if_requested`] to make your own program its worker. Items
//! travel in chunks, and each worker holds at most two at a time (while its
//! chunks are quick, up to about a millisecond's worth of them), pulled from
//! a shared queue, so a slow item never stalls the others. A worker that
//! dies is replaced; the items it held run again (the one it was
//! running at most [`PoolBuilder::retries`] times), so a killed worker
//! never hangs a job.
//!
//! # Errors
//!
//! Each fallible operation has its own error type: [`BuildError`] (building
//! a pool: the module, the initializer, the workers), [`SubmitError`]
//! (submitting a job), [`TaskError`] (one item), [`MapError`] (a blocking
//! call: submission or item), [`JoinError`] and [`GetTimeoutError`].
#![warn(missing_docs)]

#[cfg(feature = "cluster")]
mod cluster;
mod dispatch;
mod error;
mod input;
mod module;
mod pool;
mod wasm;
mod wire;
mod worker;

#[cfg(feature = "cluster")]
pub use cluster::{ACK_WAIT_ENV, NATS_ENV, Node, NodeBuilder, NodeDrainer};
pub use dispatch::chunk::default_chunksize;
pub use error::{
    BuildError, CommandSetting, ExportError, GetTimeoutError, JoinError, MapError, SubmitError, TaskError,
};
pub use input::items::{ItemError, ItemFormat, ItemReader};
pub use module::ModuleMode;
pub use module::cache::CACHE_DIR_ENV;
pub use module::inspect::{ImportInfo, MemoryInfo, ModuleInfo};
pub use pool::async_result::AsyncResult;
pub use pool::builder::{BACKTRACE_ENV, PoolBuilder, WORKERS_ENV};
pub use pool::imap::{Imap, ImapUnordered, JsonStream};
pub use pool::worker_program::WORKER_PROGRAM_ENV;
pub use pool::{Func, Pool, Terminator};
pub use wasm::limits::{DEFAULT_MAX_MEMORY, DEFAULT_MAX_OUTPUT, format_duration, format_size};
pub use wasm::sandbox::DirGrant;
pub use worker::run_worker_if_requested;

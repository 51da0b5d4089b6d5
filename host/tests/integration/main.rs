//! rpool-wasm's integration tests: one binary (as ripgrep has), with a
//! module per area. Every test runs the real binary or real worker
//! processes on guests built from source (`tests/build.rs`).

mod build;
mod cli;
mod cluster;
mod command_mode;
mod components;
mod errors;
mod example;
mod inspect;
mod languages;
mod limits;
mod pool_api;
mod processes;
mod properties;
mod sandbox;
mod scaffold;
mod signals;
mod streaming;
mod traps;
mod tutorial;
mod wat;

use rpool_wasm::{Pool, PoolBuilder};
use rpool_wasm_tests::{Cli, shared_cache_dir};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_rpool-wasm");

/// `rpool-wasm ARGS…` with the shared module cache.
fn rpool(args: &[&str]) -> Cli {
    Cli::new(BIN).args(args)
}

/// A pool builder for `module` whose workers are the binary under test.
fn pool(module: &str) -> PoolBuilder {
    Pool::builder(module).worker_program(BIN).cache_dir(shared_cache_dir())
}

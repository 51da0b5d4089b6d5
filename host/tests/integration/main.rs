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

/// The pids of all of `pool`'s workers, once every one has started: a pool
/// is ready with its first worker, and the others follow.
fn all_worker_pids(pool: &Pool) -> Vec<u32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let pids = pool.worker_pids();
        if pids.len() == pool.workers() {
            return pids;
        }
        assert!(std::time::Instant::now() < deadline, "only {pids:?} of {} workers started", pool.workers());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

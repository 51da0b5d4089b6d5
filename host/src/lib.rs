//! rpool-wasm: Python's `multiprocessing.Pool`, where the tasks are
//! WebAssembly modules.
//!
//! (crate docs are written below the module list)

mod async_result;
mod builder;
mod cache;
pub mod cli;
mod dispatch;
mod error;
mod imap;
mod instance;
mod module;
mod pool;
mod program;
pub mod protocol;
mod sinks;
mod slot;
mod worker;

pub use async_result::AsyncResult;
pub use builder::{PoolBuilder, WORKERS_ENV};
pub use cache::CACHE_DIR_ENV;
pub use error::{BuildError, ExportError, GetTimeoutError, JoinError, MapError, SubmitError, TaskError};
pub use imap::{Imap, ImapUnordered};
pub use pool::{Func, Pool};
pub use program::WORKER_PROGRAM_ENV;
pub use worker::run_worker_if_requested;

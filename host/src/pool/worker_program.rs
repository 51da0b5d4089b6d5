//! Finding the program that workers run: the `rpool-wasm` binary in its
//! hidden worker mode, or any program that calls
//! [`run_worker_if_requested`](crate::run_worker_if_requested) first thing.

use std::path::{Path, PathBuf};

use crate::error::BuildError;

/// The environment variable naming the worker program.
pub const WORKER_PROGRAM_ENV: &str = "RPOOL_WASM_WORKER";

const BINARY: &str = "rpool-wasm";

/// The worker program: `$RPOOL_WASM_WORKER`; else this executable if it is
/// `rpool-wasm`; else an `rpool-wasm` beside this executable or in its
/// parent directory (where cargo puts binaries relative to tests and
/// examples); else `rpool-wasm` on `PATH`.
pub(crate) fn find() -> Result<PathBuf, BuildError> {
    if let Some(program) = std::env::var_os(WORKER_PROGRAM_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(program));
    }
    let exe = std::env::current_exe().ok();
    if let Some(exe) = &exe
        && exe.file_stem().is_some_and(|s| s == BINARY)
    {
        return Ok(exe.clone());
    }
    let mut searched = Vec::new();
    let beside = exe.as_deref().and_then(Path::parent);
    let candidates = beside
        .into_iter()
        .chain(beside.and_then(Path::parent))
        .map(Path::to_path_buf)
        .chain(std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default());
    for dir in candidates {
        let candidate = dir.join(format!("{BINARY}{}", std::env::consts::EXE_SUFFIX));
        if candidate.is_file() {
            return Ok(candidate);
        }
        searched.push(dir.display().to_string());
    }
    Err(BuildError::WorkerNotFound {
        message: format!(
            "no `{BINARY}` beside this program or on PATH (searched {}); install it \
             (`cargo install rpool-wasm`), set {WORKER_PROGRAM_ENV}, or call \
             PoolBuilder::worker_program",
            searched.join(", ")
        ),
    })
}

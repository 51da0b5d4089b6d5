//! The compiled-module cache: a task module is compiled once, in the parent,
//! to a wasmtime artifact on disk that every worker maps instead of compiling
//! again. Its name is the module's SHA-256 plus wasmtime's compatibility hash
//! (its version and engine configuration), so a second run with the same
//! module finds it and never compiles, and an upgrade never loads a stale one.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::BuildError;

/// The environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "RPOOL_WASM_CACHE_DIR";

/// The default cache directory: `$RPOOL_WASM_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/rpool-wasm`, else `$HOME/.cache/rpool-wasm`, else a
/// directory under the system's temporary directory.
pub fn default_cache_dir() -> PathBuf {
    let env = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = env(CACHE_DIR_ENV) {
        return dir;
    }
    if let Some(xdg) = env("XDG_CACHE_HOME") {
        return xdg.join("rpool-wasm");
    }
    if let Some(home) = env("HOME") {
        return home.join(".cache").join("rpool-wasm");
    }
    std::env::temp_dir().join("rpool-wasm-cache")
}

/// Where the artifact for `wasm` compiled by `engine` lives in `dir`.
pub fn artifact_path(dir: &Path, engine: &wasmtime::Engine, wasm: &[u8]) -> PathBuf {
    let digest = Sha256::digest(wasm);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!("{hex}-{:016x}.cwasm", h.finish()))
}

/// Writes `artifact` to `path` atomically (a temporary file renamed into
/// place), so that a concurrent run never maps a half-written file.
pub fn store(path: &Path, artifact: &[u8]) -> Result<(), BuildError> {
    let err = |message: String| BuildError::Cache { path: path.to_path_buf(), message };
    let dir = path.parent().expect("artifact paths have a directory");
    std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create the directory: {e} (set {CACHE_DIR_ENV})")))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| err(format!("cannot write: {e} (set {CACHE_DIR_ENV})")))?;
    tmp.write_all(artifact).map_err(|e| err(format!("cannot write: {e}")))?;
    tmp.persist(path).map_err(|e| err(format!("cannot rename into place: {}", e.error)))?;
    Ok(())
}

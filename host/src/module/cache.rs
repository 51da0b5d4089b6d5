//! The compiled-module cache: a task module is compiled once, in the parent,
//! to a wasmtime artifact on disk that every worker maps instead of compiling
//! again. Its name is the module's SHA-256 plus wasmtime's compatibility hash
//! (its version and engine configuration), so a second run with the same
//! module finds it and never compiles, and an upgrade never loads a stale one.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::BuildError;

/// The environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "RPOOL_WASM_CACHE_DIR";

/// The default cache directory: `$RPOOL_WASM_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/rpool-wasm`, else `$HOME/.cache/rpool-wasm`, else
/// `rpool-wasm-cache-UID` under the system's temporary directory: created
/// with mode 0700, and refused if another user owns it or may write to it
/// (see [`check_private`]).
pub fn default_cache_dir() -> Result<PathBuf, BuildError> {
    let env = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = env(CACHE_DIR_ENV) {
        return Ok(dir);
    }
    if let Some(xdg) = env("XDG_CACHE_HOME") {
        return Ok(xdg.join("rpool-wasm"));
    }
    if let Some(home) = env("HOME") {
        return Ok(home.join(".cache").join("rpool-wasm"));
    }
    let uid = rustix::process::geteuid().as_raw();
    let dir = std::env::temp_dir().join(format!("rpool-wasm-cache-{uid}"));
    let err = |message: String| BuildError::Cache { path: dir.clone(), message };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(err(format!("cannot create the directory: {e} (set {CACHE_DIR_ENV})"))),
    }
    check_private(&dir, uid)?;
    Ok(dir)
}

/// `dir` if one was chosen, else [`default_cache_dir`].
pub fn chosen_or_default(dir: Option<&Path>) -> Result<PathBuf, BuildError> {
    match dir {
        Some(dir) => Ok(dir.to_path_buf()),
        None => default_cache_dir(),
    }
}

/// Refuses a cache directory in a shared place (the temporary directory)
/// that is not this user's alone: a directory (not a link) that `uid` owns
/// and no one else may write to. The cache holds native code that workers
/// map and run, so whoever can plant a `.cwasm` file there can run code as
/// this user.
pub fn check_private(dir: &Path, uid: u32) -> Result<(), BuildError> {
    let err = |message: String| BuildError::Cache { path: dir.to_path_buf(), message };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| err(format!("cannot read: {e}")))?;
    let refuse = |why: String| {
        err(format!(
            "{why}; refusing it, as a compiled module planted there would run as native code \
             (set {CACHE_DIR_ENV} to a directory of your own)"
        ))
    };
    if !meta.is_dir() {
        return Err(refuse("it is not a directory".into()));
    }
    if meta.uid() != uid {
        return Err(refuse(format!("it is owned by user {}, not by this user ({uid})", meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(format!("other users may write to it (mode {:o})", meta.mode() & 0o777)));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn uid() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    #[test]
    fn a_private_directory_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        check_private(dir.path(), uid()).unwrap();
    }

    #[test]
    fn a_directory_others_may_write_to_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_private(dir.path(), uid()).unwrap_err().to_string();
        assert!(err.contains("other users may write to it (mode 777)"), "{err}");
        assert!(err.contains("would run as native code"), "{err}");
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        // Whether this user or another owns it, asking on behalf of a uid
        // that is not the owner is what another user's directory looks like.
        let other = uid().wrapping_add(4242);
        let err = check_private(dir.path(), other).unwrap_err().to_string();
        assert!(err.contains(&format!("it is owned by user {}, not by this user ({other})", uid())), "{err}");
    }

    #[test]
    fn a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let err = check_private(&link, uid()).unwrap_err().to_string();
        assert!(err.contains("it is not a directory"), "{err}");
    }
}

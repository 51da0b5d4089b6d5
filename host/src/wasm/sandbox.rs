//! What a task may see beyond its own memory: by default nothing — no
//! files, no host environment, no network — only what is granted here.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// A host directory made visible to tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the task sees it (a WASI preopen), e.g. `/data`.
    pub guest: String,
    /// Whether the task may only read it.
    pub read_only: bool,
}

impl DirGrant {
    /// Parses the wasmtime CLI's `HOST[::GUEST]` form; the guest path
    /// defaults to the host path, as wasmtime's `--dir` does.
    pub fn parse(spec: &str, read_only: bool) -> DirGrant {
        let (host, guest) = match spec.split_once("::") {
            Some((host, guest)) => (host, guest),
            None => (spec, spec),
        };
        DirGrant { host: PathBuf::from(host), guest: guest.to_string(), read_only }
    }
}

/// The sandbox: no files, no host environment, no network; only the
/// variables and directories the caller grants. The caller sets stdio.
pub(crate) fn wasi_builder(env: &[(String, String)], dirs: &[DirGrant]) -> Result<WasiCtxBuilder, String> {
    let mut wasi = WasiCtxBuilder::new();
    for (k, v) in env {
        wasi.env(k, v);
    }
    for dir in dirs {
        let perms = if dir.read_only { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
        wasi.preopened_dir(&dir.host, &dir.guest, perms)
            .map_err(|e| format!("cannot grant directory {}: {e}", dir.host.display()))?;
    }
    Ok(wasi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_and_guest() {
        assert_eq!(
            DirGrant::parse("/srv/data::/data", true),
            DirGrant { host: "/srv/data".into(), guest: "/data".into(), read_only: true }
        );
        assert_eq!(
            DirGrant::parse("out", false),
            DirGrant { host: "out".into(), guest: "out".into(), read_only: false }
        );
    }
}

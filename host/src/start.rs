//! What a worker needs to set itself up: the body of the start frame, as
//! JSON. The protocol carries it as opaque bytes; the parent's slots write
//! it and the worker reads it.

use serde::{Deserialize, Serialize};

/// What a worker needs to set itself up, sent in the start frame.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerConfig {
    /// The precompiled module (a wasmtime artifact) to map.
    pub artifact: std::path::PathBuf,
    /// This worker's index, 0-based (`RPOOL_WORKER_INDEX`).
    pub worker_index: usize,
    /// The pool's size (`RPOOL_WORKERS`).
    pub workers: usize,
    /// Extra WASI environment variables.
    pub env: Vec<(String, String)>,
    /// The initializer export and its JSON argument array.
    pub initializer: Option<(String, String)>,
    /// Limits on every call.
    pub limits: crate::limits::Limits,
    /// Host directories the task may see.
    pub dirs: Vec<crate::sandbox::DirGrant>,
    /// How to run the module: ABI v1 calls on one instance, or a WASI
    /// command with a fresh instance per item. (Absent from an older
    /// parent's frame: ABI v1.)
    #[serde(default)]
    pub mode: crate::module::ModuleMode,
    /// In command mode, take stdout as text: the result is a JSON string.
    #[serde(default)]
    pub raw_output: bool,
}

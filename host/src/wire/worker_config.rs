//! What a worker needs to set itself up: the body of the start frame, as
//! JSON. The frames carry it as opaque bytes; the parent's slots write it
//! (one per worker process, from the pool's template) and the worker reads
//! it.

use serde::{Deserialize, Serialize};

use crate::module::ModuleMode;
use crate::wasm::limits::Limits;
use crate::wasm::sandbox::DirGrant;
use crate::wasm::trap::Backtrace;

/// What a worker needs to set itself up, sent in the start frame.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct WorkerConfig {
    /// The parent's [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION). Absent
    /// (0) from a parent that predates versions.
    #[serde(default)]
    pub protocol: u32,
    /// The precompiled module (a wasmtime artifact) to map.
    pub artifact: std::path::PathBuf,
    /// This worker's index, 0-based (`RPOOL_WORKER_INDEX`).
    pub worker_index: usize,
    /// How many worker processes this slot started before this one
    /// (`RPOOL_WORKER_GENERATION`): a task sees its worker was replaced.
    #[serde(default)]
    pub generation: u64,
    /// The pool's size (`RPOOL_WORKERS`).
    pub workers: usize,
    /// Extra WASI environment variables.
    pub env: Vec<(String, String)>,
    /// The initializer export and its JSON argument array.
    pub initializer: Option<(String, String)>,
    /// Limits on every call.
    pub limits: Limits,
    /// Host directories the task may see.
    pub dirs: Vec<DirGrant>,
    /// How to run the module: ABI v1 calls on one instance, or a WASI
    /// command with a fresh instance per item.
    pub mode: ModuleMode,
    /// In command mode, take stdout as text: the result is a JSON string.
    pub raw_output: bool,
    /// In command mode, the program's command line: its name (`argv[0]`)
    /// and its arguments, where `{}` stands for the item.
    pub command_line: CommandLine,
    /// How much of a trap's backtrace an item's error shows.
    pub backtrace: Backtrace,
}

/// A WASI command's command line, as the pool's builder set it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct CommandLine {
    /// `argv[0]`: the module's file name, as `wasmtime run` gives it.
    pub program: String,
    /// The arguments; `{}` in one becomes the item (a string item's text,
    /// any other item's JSON).
    pub args: Vec<String>,
    /// A string item's text on stdin instead of its JSON.
    pub raw_input: bool,
}

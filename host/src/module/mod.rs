//! Loading a task module in the parent: read it (binary or WAT), check it
//! against ABI v1, compile it once into the artifact cache, list its task
//! exports, and tell which way it runs: as an ABI v1 module or as a WASI
//! command (`_start` and no task functions).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wasmtime::component::Component;
use wasmtime::{Engine, ExternType, FuncType, InstancePre, Module, ValType};

pub(crate) mod cache;
pub(crate) mod component;
pub(crate) mod inspect;
pub(crate) mod warm;

use crate::error::{BuildError, ExportError};
use crate::wasm::host_abi::{self, HostState};

/// How the host runs a task module, decided when the module is loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ModuleMode {
    /// rpool ABI v1 (`docs/abi.md`): task exports of type `() -> i32` that
    /// read the JSON argument array through the `rpool` imports, on one
    /// long-lived instance per worker.
    #[default]
    Abi,
    /// A WASI command: the module exports `_start` and no task functions
    /// (a plain `fn main`, a C `main`). Each item runs a fresh instance from
    /// `_start`, with the item's JSON on stdin and its result JSON on stdout;
    /// a non-zero exit status fails the item with the tail of its stderr.
    Command,
    /// A WebAssembly component of the world `rpool:task/task`
    /// (`wit/rpool.wit`: Python and JavaScript tasks): the same JSON calls as
    /// ABI v1 through its `call` export, on WASI preview 2, one long-lived
    /// instance per worker.
    Component,
}

impl ModuleMode {
    /// How people call it: `rpool ABI v1` or `WASI command`.
    pub fn describe(self) -> &'static str {
        match self {
            ModuleMode::Abi => "rpool ABI v1",
            ModuleMode::Command => "WASI command",
            ModuleMode::Component => "WebAssembly component",
        }
    }
}

impl ModuleMode {
    /// What a module of this mode is, in a sentence: `an rpool ABI v1
    /// module`, `a WASI command`, `a WebAssembly component`.
    pub fn noun(self) -> &'static str {
        match self {
            ModuleMode::Abi => "an rpool ABI v1 module",
            ModuleMode::Command => "a WASI command",
            ModuleMode::Component => "a WebAssembly component",
        }
    }
}

impl std::fmt::Display for ModuleMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// A WASI command's entry point: the one "task" of a command-mode module.
pub(crate) const COMMAND_ENTRY: &str = "_start";

/// The prefix of a task's optional chunk export (`rpool:chunk:square`),
/// which runs a whole chunk of the task's items in one call (`docs/abi.md`,
/// "Chunk calls"): not a task of its own.
pub(crate) const CHUNK_PREFIX: &str = "rpool:chunk:";

/// Exports of type `() -> i32` that toolchains add to a WASI command beside
/// `_start`, which are not tasks: Rust and wasi-libc export `__main_void`,
/// the `main` that `_start` calls after setting up the C runtime.
const TOOLCHAIN_EXPORTS: [&str; 1] = ["__main_void"];

/// The module's task exports (functions of type `() -> i32`), in its order.
pub(crate) fn task_exports(module: &Module) -> Vec<String> {
    module
        .exports()
        .filter(|e| !e.name().starts_with(CHUNK_PREFIX) && matches!(e.ty(), ExternType::Func(f) if is_task_type(&f)))
        .map(|e| e.name().to_string())
        .collect()
}

/// A module is a WASI command when it exports `_start` of type `() -> ()`
/// and no task function other than the toolchain's own; otherwise it is an
/// ABI v1 module (a module with both runs its tasks and never `_start`).
pub(crate) fn detect_mode(module: &Module, tasks: &[String]) -> ModuleMode {
    let start = module.exports().any(|e| {
        e.name() == COMMAND_ENTRY
            && matches!(e.ty(), ExternType::Func(f) if f.params().len() == 0 && f.results().len() == 0)
    });
    if start && tasks.iter().all(|t| TOOLCHAIN_EXPORTS.contains(&t.as_str())) {
        ModuleMode::Command
    } else {
        ModuleMode::Abi
    }
}

/// A loaded, checked and compiled task module.
pub(crate) struct TaskModule {
    /// The compiled artifact workers map.
    pub artifact: PathBuf,
    /// How workers run it.
    pub mode: ModuleMode,
    /// Task exports (functions of type `() -> i32`), in the module's order;
    /// for a WASI command, its entry point `_start` alone.
    pub tasks: Vec<String>,
    /// Every other export, with a description of what it is.
    others: Vec<(String, String)>,
    /// A core module, mapped and linked as a worker links it (for a
    /// component, `None`): workers forked after it was loaded instantiate
    /// it without mapping it again ([`crate::module::warm`]).
    pub pre: Option<InstancePre<HostState>>,
}

impl std::fmt::Debug for TaskModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskModule")
            .field("artifact", &self.artifact)
            .field("mode", &self.mode)
            .field("tasks", &self.tasks)
            .finish_non_exhaustive()
    }
}

/// What [`TaskModule::load`] does when the module is not compiled yet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Compile it into the cache.
    Compile,
    /// Load nothing (`Ok(None)`): compiling may start threads, which a
    /// process about to fork must not have.
    Skip,
}

impl TaskModule {
    /// Reads, checks and compiles (or finds in the cache) the module at
    /// `path`. `Ok(None)` only with [`Missing::Skip`], for a module not in
    /// the cache yet or a component.
    pub fn load(
        engine: &Engine,
        path: &Path,
        cache_dir: &Path,
        missing: Missing,
    ) -> Result<Option<TaskModule>, BuildError> {
        let wasm = read_wasm(path)?;
        if crate::wasm::component_host::is_component(&wasm) {
            return match missing {
                Missing::Compile => TaskModule::load_component(engine, path, cache_dir, &wasm).map(Some),
                Missing::Skip => Ok(None),
            };
        }
        let invalid = |message: String| BuildError::InvalidModule { path: path.into(), message };
        let artifact = cache::artifact_path(cache_dir, engine, &wasm);
        // SAFETY: deserializing runs the file as native code, so it must be an
        // artifact wasmtime wrote. The trust assumption: the cache directory
        // is writable only by this user (the user's own cache directory, the
        // one they chose, or the private temporary one `default_cache_dir`
        // checks), so no one else can plant a file there. wasmtime checks
        // the header (version, engine configuration) but not the code.
        let module = match unsafe { Module::deserialize_file(engine, &artifact) } {
            Ok(module) => module,
            Err(_) if missing == Missing::Skip => return Ok(None),
            Err(_) => {
                let compiled = engine.precompile_module(&wasm).map_err(|e| invalid(one_line(&format!("{e:#}"))))?;
                cache::store(&artifact, &compiled)?;
                // SAFETY: as above: this engine just wrote it there.
                unsafe { Module::deserialize_file(engine, &artifact) }
                    .map_err(|e| BuildError::Cache { path: artifact.clone(), message: e.to_string() })?
            }
        };
        let pre = check_imports(engine, path, &module)?;

        let mut tasks = Vec::new();
        let mut others = Vec::new();
        let mut memory = false;
        for export in module.exports() {
            match export.ty() {
                ExternType::Func(f) if is_task_type(&f) && !export.name().starts_with(CHUNK_PREFIX) => {
                    tasks.push(export.name().to_string())
                }
                ExternType::Func(f) => {
                    others.push((export.name().to_string(), format!("a function of type `{}`", type_string(&f))))
                }
                ExternType::Memory(_) => {
                    memory |= export.name() == "memory";
                    others.push((export.name().to_string(), "a memory".into()));
                }
                ExternType::Global(_) => others.push((export.name().to_string(), "a global".into())),
                ExternType::Table(_) => others.push((export.name().to_string(), "a table".into())),
                _ => others.push((export.name().to_string(), "not a function".into())),
            }
        }
        let mode = detect_mode(&module, &tasks);
        match mode {
            // A command exchanges data through stdin and stdout, not through
            // its memory, so it need not export one.
            ModuleMode::Command => tasks = vec![COMMAND_ENTRY.to_string()],
            ModuleMode::Abi if !memory => return Err(BuildError::NoMemory { path: path.into() }),
            // (A core module is never a component: `load_component` is that.)
            ModuleMode::Abi | ModuleMode::Component => {}
        }
        Ok(Some(TaskModule { artifact, mode, tasks, others, pre: Some(pre) }))
    }

    /// A component: compiled once into the cache (saying so on stderr, as a
    /// Python component takes a while), checked against the world, and asked
    /// for its task names.
    fn load_component(engine: &Engine, path: &Path, cache_dir: &Path, wasm: &[u8]) -> Result<TaskModule, BuildError> {
        let invalid = |message: String| BuildError::InvalidModule { path: path.into(), message };
        let artifact = cache::artifact_path(cache_dir, engine, wasm);
        // SAFETY: as for a core module's artifact (see `load`): the cache
        // directory is writable only by this user.
        let component = match unsafe { Component::deserialize_file(engine, &artifact) } {
            Ok(component) => component,
            Err(_) => {
                eprintln!(
                    "rpool-wasm: compiling {} (a {:.1} MB component) once; later runs find it in the cache",
                    path.display(),
                    wasm.len() as f64 / 1e6
                );
                let compiled = engine.precompile_component(wasm).map_err(|e| invalid(one_line(&format!("{e:#}"))))?;
                cache::store(&artifact, &compiled)?;
                // SAFETY: as above: this engine just wrote it there.
                unsafe { Component::deserialize_file(engine, &artifact) }
                    .map_err(|e| BuildError::Cache { path: artifact.clone(), message: e.to_string() })?
            }
        };
        let exports = component::world_exports(&component).map_err(invalid)?;
        let tasks = component::task_names(engine, &component, &exports).map_err(invalid)?;
        Ok(TaskModule { artifact, mode: ModuleMode::Component, tasks, others: Vec::new(), pre: None })
    }

    /// Checks that `name` is a task export.
    pub fn check_task(&self, name: &str) -> Result<(), ExportError> {
        if self.tasks.iter().any(|t| t == name) {
            return Ok(());
        }
        match self.others.iter().find(|(n, _)| n == name) {
            Some((_, found)) => Err(ExportError::WrongType { name: name.into(), found: found.clone() }),
            None => Err(ExportError::Missing { name: name.into(), available: self.tasks.clone() }),
        }
    }

    /// The only task export other than `except` (the initializer), if there is exactly one.
    pub fn default_task(&self, except: Option<&str>) -> Result<String, ExportError> {
        let candidates: Vec<String> = self.tasks.iter().filter(|t| Some(t.as_str()) != except).cloned().collect();
        match <[String; 1]>::try_from(candidates) {
            Ok([only]) => Ok(only),
            Err(available) => Err(ExportError::Ambiguous { available }),
        }
    }
}

/// The module's binary: the file itself, or the binary of its WAT text.
pub(crate) fn read_wasm(path: &Path) -> Result<Vec<u8>, BuildError> {
    let bytes = std::fs::read(path).map_err(|source| BuildError::ReadModule { path: path.into(), source })?;
    let invalid = |message: String| BuildError::InvalidModule { path: path.into(), message };
    if bytes.starts_with(b"\0asm") {
        Ok(bytes)
    } else if looks_like_text(&bytes) {
        Ok(wat::parse_bytes(&bytes).map_err(|e| invalid(one_line(&e.to_string())))?.into_owned())
    } else {
        Err(invalid("no WebAssembly magic number (\\0asm) and not WAT text".into()))
    }
}

/// WAT text starts (after white space and comments) with `(`.
fn looks_like_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut rest = text.trim_start();
    while let Some(line_comment) = rest.strip_prefix(";;") {
        rest = line_comment.split_once('\n').map_or("", |(_, r)| r).trim_start();
    }
    rest.starts_with('(')
}

/// Error messages are one line: the WAT parser and wasmtime write several.
pub(crate) fn one_line(message: &str) -> String {
    message.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn is_task_type(f: &FuncType) -> bool {
    f.params().len() == 0 && f.results().len() == 1 && matches!(f.results().next(), Some(ValType::I32))
}

pub(crate) fn type_string(f: &FuncType) -> String {
    let list =
        |tys: &mut dyn ExactSizeIterator<Item = ValType>| tys.map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
    format!("({}) -> ({})", list(&mut f.params()), list(&mut f.results()))
}

/// Every import must be one of `rpool`'s four, with its ABI type, or a WASI
/// preview 1 function the host provides; anything else is named in the error.
/// The module linked, as a worker links it, is the answer.
fn check_imports(engine: &Engine, path: &Path, module: &Module) -> Result<InstancePre<HostState>, BuildError> {
    for import in module.imports() {
        let unsupported = || BuildError::UnsupportedImport {
            path: path.into(),
            module: import.module().into(),
            name: import.name().into(),
        };
        match import.module() {
            "rpool" => {
                let Some(expected) = host_abi::RPOOL_IMPORTS.iter().find(|(n, _)| *n == import.name()).map(|(_, t)| *t)
                else {
                    return Err(unsupported());
                };
                let found = match import.ty() {
                    ExternType::Func(f) => type_string(&f),
                    _ => "not a function".to_string(),
                };
                if found != expected {
                    return Err(BuildError::ImportType {
                        path: path.into(),
                        name: import.name().into(),
                        found,
                        expected: expected.into(),
                    });
                }
            }
            "wasi_snapshot_preview1" => {}
            _ => return Err(unsupported()),
        }
    }
    // The WASI names and types are checked by linking, exactly as a worker will.
    host_abi::linker(engine)
        .instantiate_pre(module)
        .map_err(|e| BuildError::InvalidModule { path: path.into(), message: one_line(&format!("{e:#}")) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_wat_text() {
        assert!(looks_like_text(b"  (module)"));
        assert!(looks_like_text(b";; a comment\n(module)"));
        assert!(!looks_like_text(b"hello"));
        assert!(!looks_like_text(&[0xff, 0xfe]));
    }

    #[test]
    fn joins_lines() {
        assert_eq!(one_line("a\n  b\n\n c"), "a b c");
    }
}

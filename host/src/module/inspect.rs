//! [`ModuleInfo`]: what a task module is, as `rpool-wasm inspect` shows it,
//! without running it: the mode the host would run it in, its task exports,
//! its imports (and whether the host provides each), its memory, its size,
//! and whether its compiled artifact is already in the cache.

use std::path::{Path, PathBuf};

use serde::Serialize;
use wasmtime::{Engine, Extern, ExternType, Module};

use crate::error::BuildError;
use crate::module::cache;
use crate::module::{self, COMMAND_ENTRY, ModuleMode, component};
use crate::wasm::host_abi;
use crate::wasm::limits::Limits;
use wasmtime::component::Component;

/// What a task module is, found without running it: see [`ModuleInfo::inspect`].
///
/// ```
/// # let module = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/wat/square.wat");
/// # let cache = tempfile::tempdir()?;
/// use rpool_wasm::{ModuleInfo, ModuleMode};
///
/// let info = ModuleInfo::inspect_in(module, cache.path())?;
/// assert_eq!(info.mode, ModuleMode::Abi);
/// assert_eq!(info.tasks, ["square"]);
/// assert!(info.imports.iter().all(|import| import.provided));
/// assert!(!info.cached); // nothing has compiled it into this cache yet
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ModuleInfo {
    /// The module's path, as given.
    pub path: PathBuf,
    /// The file's size in bytes (of the WAT text, for a `.wat` module).
    pub size: u64,
    /// How the host would run it.
    pub mode: ModuleMode,
    /// What `--func` (or [`Pool::func`](crate::Pool::func)) may name: the task exports (functions
    /// of type `() -> i32`) in the module's order; for a WASI command, `_start`.
    pub tasks: Vec<String>,
    /// Every import, in the module's order.
    pub imports: Vec<ImportInfo>,
    /// The linear memory the module exports or imports, if any.
    pub memory: Option<MemoryInfo>,
    /// Whether the compiled artifact for the default limits is in the cache,
    /// so that a run would compile nothing.
    pub cached: bool,
    /// Where that artifact is (or would be) in the cache.
    pub artifact: PathBuf,
    /// For a component, the world it targets (`rpool:task/task@1.0.0`);
    /// `None` for a core module.
    pub world: Option<String>,
}

/// One import of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImportInfo {
    /// The module it is imported from (`rpool`, `wasi_snapshot_preview1`, …).
    pub module: String,
    /// The imported name.
    pub name: String,
    /// Its type: `(i32, i32) -> (i32)` for a function, else `memory`, `table` or `global`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether the host provides it, with that type. A module with an import
    /// the host does not provide is refused when a pool loads it.
    pub provided: bool,
}

/// A linear memory's size limits, in 64 KiB WebAssembly pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemoryInfo {
    /// Pages the memory starts with.
    pub initial_pages: u64,
    /// The most pages it may grow to, if the module declares a maximum.
    pub maximum_pages: Option<u64>,
}

impl ModuleInfo {
    /// Inspects the module at `path` (a `.wasm` binary or `.wat` text),
    /// looking for its artifact in the default cache directory
    /// (`$RPOOL_WASM_CACHE_DIR`, …; see [`PoolBuilder::cache_dir`](crate::PoolBuilder::cache_dir)).
    ///
    /// A module that is not cached is compiled in memory to read its types,
    /// and not stored, so that inspecting never changes what it reports.
    /// Errors are those of loading a module: unreadable, not wasm, invalid.
    /// A module with imports the host does not provide is not an error here:
    /// [`ImportInfo::provided`] says which.
    pub fn inspect(path: impl AsRef<Path>) -> Result<ModuleInfo, BuildError> {
        ModuleInfo::inspect_in(path, cache::default_cache_dir()?)
    }

    /// [`inspect`](Self::inspect), with the cache in `cache_dir`.
    pub fn inspect_in(path: impl AsRef<Path>, cache_dir: impl AsRef<Path>) -> Result<ModuleInfo, BuildError> {
        let path = path.as_ref();
        let size =
            std::fs::metadata(path).map_err(|source| BuildError::ReadModule { path: path.into(), source })?.len();
        let wasm = module::read_wasm(path)?;
        // The artifact a pool with default limits would map.
        let engine = Limits::default().engine();
        let artifact = cache::artifact_path(cache_dir.as_ref(), &engine, &wasm);
        if crate::wasm::component_host::is_component(&wasm) {
            return inspect_component(&engine, path, size, &wasm, artifact);
        }
        // SAFETY: deserializing runs the file as native code, so it must be an
        // artifact wasmtime wrote. The trust assumption: the cache directory
        // is writable only by this user (the user's own cache directory, the
        // one they chose, or the private temporary one `default_cache_dir`
        // checks), so no one else can plant a file there. wasmtime checks
        // the header (version, engine configuration) but not the code.
        let (module, cached) = match unsafe { Module::deserialize_file(&engine, &artifact) } {
            Ok(module) => (module, true),
            Err(_) => {
                let module = Module::new(&engine, &wasm).map_err(|e| BuildError::InvalidModule {
                    path: path.into(),
                    message: module::one_line(&format!("{e:#}")),
                })?;
                (module, false)
            }
        };
        let tasks = module::task_exports(&module);
        let mode = module::detect_mode(&module, &tasks);
        let tasks = match mode {
            ModuleMode::Command => vec![COMMAND_ENTRY.to_string()],
            _ => tasks,
        };
        Ok(ModuleInfo {
            path: path.into(),
            size,
            mode,
            tasks,
            imports: imports(&engine, &module),
            memory: memory(&module),
            cached,
            artifact,
            world: None,
        })
    }
}

/// A component's [`ModuleInfo`]: its world, its task names (from its own
/// `tasks` export, on an instance with nothing granted), and its imports,
/// the WASI preview 2 interfaces it uses (the `module` of each is the
/// interface, its `name` empty).
fn inspect_component(
    engine: &Engine,
    path: &Path,
    size: u64,
    wasm: &[u8],
    artifact: PathBuf,
) -> Result<ModuleInfo, BuildError> {
    let invalid = |message: String| BuildError::InvalidModule { path: path.into(), message };
    // SAFETY: as for a core module's artifact above.
    let (component, cached) = match unsafe { Component::deserialize_file(engine, &artifact) } {
        Ok(component) => (component, true),
        Err(_) => (Component::new(engine, wasm).map_err(|e| invalid(module::one_line(&format!("{e:#}"))))?, false),
    };
    let exports = component::world_exports(&component).map_err(invalid)?;
    let tasks = component::task_names(engine, &component, &exports).map_err(invalid)?;
    let imports = component::items(&component, true)
        .into_iter()
        .map(|(name, ty)| ImportInfo {
            provided: component::provided_import(&name),
            module: name,
            name: String::new(),
            ty,
        })
        .collect();
    Ok(ModuleInfo {
        path: path.into(),
        size,
        mode: ModuleMode::Component,
        tasks,
        imports,
        memory: None,
        cached,
        artifact,
        world: Some(component::WORLD.to_string()),
    })
}

/// The module's imports, each checked against what a worker links.
fn imports(engine: &Engine, module: &Module) -> Vec<ImportInfo> {
    let linker = host_abi::linker(engine);
    let mut store = host_abi::new_store(engine, wasmtime_wasi::WasiCtxBuilder::new().build_p1(), &Limits::default());
    module
        .imports()
        .map(|import| {
            let ty = type_name(&import.ty());
            let provided = match linker.get(&mut store, import.module(), import.name()) {
                Ok(Extern::Func(f)) => matches!(import.ty(), ExternType::Func(want) if {
                    module::type_string(&want) == module::type_string(&f.ty(&store))
                }),
                Ok(_) | Err(_) => false,
            };
            ImportInfo { module: import.module().into(), name: import.name().into(), ty, provided }
        })
        .collect()
}

fn type_name(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => module::type_string(f),
        ExternType::Memory(_) => "memory".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Global(_) => "global".into(),
        _ => "tag".into(),
    }
}

/// The module's linear memory: the one it exports (ABI v1 requires it, as
/// `memory`), else the one it imports.
fn memory(module: &Module) -> Option<MemoryInfo> {
    let exported = module.exports().map(|e| e.ty());
    let imported = module.imports().map(|i| i.ty());
    exported.chain(imported).find_map(|ty| match ty {
        ExternType::Memory(m) => Some(MemoryInfo { initial_pages: m.minimum(), maximum_pages: m.maximum() }),
        _ => None,
    })
}

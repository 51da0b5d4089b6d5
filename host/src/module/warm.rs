//! A task module loaded before the pool's workers are forked
//! ([`PoolBuilder::fork_workers`](crate::PoolBuilder::fork_workers)), so
//! that the forked workers inherit it, mapped and linked, instead of each
//! creating an engine and mapping the artifact again, and the pool's build
//! takes it instead of loading the module a second time.
//!
//! Only a module already in the cache is loaded this early: compiling one
//! may start threads, and a process with more than one thread must not fork.
//! Only an ABI v1 module, whose workers use the engine the parent compiled
//! with (a command's workers use a pooling engine; a component is linked
//! otherwise). Anything that goes wrong here loads nothing: the build then
//! loads the module itself and reports the error.

use std::path::{Path, PathBuf};

use wasmtime::InstancePre;

use super::{Missing, ModuleMode, TaskModule, cache};
use crate::wasm::host_abi::HostState;
use crate::wasm::limits::Limits;

/// A module loaded for a builder's settings, before its workers were forked.
#[derive(Debug)]
pub(crate) struct Warm {
    /// The module, checked as the build checks it (it holds the engine it
    /// was mapped with).
    pub module: TaskModule,
    /// The settings it was loaded for: the builder's module path, cache
    /// directory (as the builder had it) and limits.
    path: PathBuf,
    cache_dir: Option<PathBuf>,
    limits: Limits,
}

impl Warm {
    /// Loads the module at `path` if the cache has it compiled for these
    /// limits and it is an ABI v1 module; `None` otherwise.
    pub(crate) fn load(path: &Path, cache_dir: Option<&Path>, limits: &Limits) -> Option<Warm> {
        let dir = cache::chosen_or_default(cache_dir).ok()?;
        let module = TaskModule::load(&limits.engine(), path, &dir, Missing::Skip).ok()??;
        (module.mode == ModuleMode::Abi).then(|| Warm {
            module,
            path: path.to_path_buf(),
            cache_dir: cache_dir.map(Path::to_path_buf),
            limits: limits.clone(),
        })
    }

    /// Whether it was loaded for these settings (a builder changed after
    /// `fork_workers` loads its module again).
    pub(crate) fn fits(&self, path: &Path, cache_dir: Option<&Path>, limits: &Limits) -> bool {
        self.path == path && self.cache_dir.as_deref() == cache_dir && &self.limits == limits
    }

    /// What a forked worker keeps of it.
    pub(crate) fn for_worker(&self) -> Option<WarmWorker> {
        Some(WarmWorker {
            artifact: self.module.artifact.clone(),
            limits: self.limits.clone(),
            pre: self.module.pre.clone()?,
        })
    }
}

/// The module as a forked worker inherits it: linked, ready to instantiate.
#[derive(Clone)]
pub(crate) struct WarmWorker {
    /// The artifact it was mapped from…
    artifact: PathBuf,
    /// …with an engine for these limits.
    limits: Limits,
    pre: InstancePre<HostState>,
}

impl WarmWorker {
    /// The linked module, if it is the one a start frame names (its
    /// artifact, mapped with an engine for its limits); `None` for any
    /// other, which the worker then loads itself.
    pub(crate) fn take_for(self, artifact: &Path, limits: &Limits) -> Option<InstancePre<HostState>> {
        (self.artifact == artifact && &self.limits == limits).then_some(self.pre)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An ABI v1 module with one task, as WAT text.
    const TASK: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "one") (result i32) i32.const 0))"#;

    /// A WASI command: `_start` and no task.
    const COMMAND: &str = r#"(module (func (export "_start")))"#;

    /// A temporary directory holding the module `text` (its path) and an
    /// empty cache directory (its path).
    fn module(text: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("module.wat");
        std::fs::write(&path, text).unwrap();
        let cache = dir.path().join("cache");
        (dir, path, cache)
    }

    fn compile(path: &Path, cache: &Path, limits: &Limits) {
        TaskModule::load(&limits.engine(), path, cache, Missing::Compile).unwrap().unwrap();
    }

    #[test]
    fn only_a_module_the_cache_has_compiled_is_loaded() {
        let (dir, path, cache) = module(TASK);
        let limits = Limits::default();
        assert!(Warm::load(&path, Some(&cache), &limits).is_none(), "not compiled yet: nothing is compiled here");
        assert!(!cache.exists() || std::fs::read_dir(&cache).unwrap().next().is_none(), "and nothing was written");
        compile(&path, &cache, &limits);
        let warm = Warm::load(&path, Some(&cache), &limits).expect("compiled: loaded");
        assert_eq!(warm.module.tasks, ["one"]);
        let worker = warm.for_worker().expect("a core module is linked");
        let other = Limits { timeout: Some(Duration::from_secs(1)), ..Limits::default() };
        assert!(worker.clone().take_for(&warm.module.artifact, &other).is_none(), "other limits: another engine");
        assert!(worker.clone().take_for(&dir.path().join("other.cwasm"), &limits).is_none(), "another artifact");
        assert!(worker.take_for(&warm.module.artifact, &limits).is_some());
    }

    #[test]
    fn it_serves_only_the_settings_it_was_loaded_for() {
        let (dir, path, cache) = module(TASK);
        let limits = Limits::default();
        compile(&path, &cache, &limits);
        let warm = Warm::load(&path, Some(&cache), &limits).unwrap();
        assert!(warm.fits(&path, Some(&cache), &limits));
        assert!(!warm.fits(&dir.path().join("other.wat"), Some(&cache), &limits));
        assert!(!warm.fits(&path, None, &limits), "the default cache directory may be another");
        assert!(!warm.fits(&path, Some(&cache), &Limits { max_output: 1, ..Limits::default() }));
    }

    #[test]
    fn a_command_is_not_loaded_before_the_fork() {
        // Its workers use a pooling engine of their own.
        let (_dir, path, cache) = module(COMMAND);
        compile(&path, &cache, &Limits::default());
        assert!(Warm::load(&path, Some(&cache), &Limits::default()).is_none());
    }
}

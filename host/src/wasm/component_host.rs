//! The host side of a task *component* (`wit/rpool.wit`, world
//! `rpool:task/task`), shared by the parent (which checks and lists a
//! component) and the workers (which run it): WASI preview 2 under the same
//! sandbox as a core module's preview 1, and the same memory limit.

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::{Limits, format_size};
use super::sandbox::{self, DirGrant};

/// What one component instance's host side holds: its WASI context and
/// resource table, and the memory its limiter has granted.
pub(crate) struct ComponentState {
    wasi: WasiCtx,
    table: ResourceTable,
    max_memory: u64,
    /// Bytes of linear memory across all of the instance's memories (a
    /// component has several core instances, each with its own).
    memory_total: u64,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Growing memory past the limit fails the call with a message that says so
/// (a trap: the instance is rebuilt), as for core modules.
impl wasmtime::ResourceLimiter for ComponentState {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_total - current as u64 + desired as u64;
        if desired as u64 > self.max_memory || total > self.max_memory {
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} exceeded (the task tried to grow its memory to {}; --max-memory)",
                format_size(self.max_memory),
                format_size(total.max(desired as u64))
            )));
        }
        self.memory_total = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000_000)
    }
}

/// The linker: all of WASI preview 2 (`wasi:cli/imports`), synchronous, and
/// nothing else: a component that imports anything else fails to link, and
/// the error names the import.
pub(crate) fn linker(engine: &Engine) -> Linker<ComponentState> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI links once");
    linker
}

/// A fresh store for one instance: the sandbox (no files, no host
/// environment, no network, no arguments; only what is granted; empty stdin,
/// and stdout and stderr to the host's stderr, so that printing never
/// corrupts a result) and the memory limiter.
pub(crate) fn new_store(
    engine: &Engine,
    env: &[(String, String)],
    dirs: &[DirGrant],
    limits: &Limits,
) -> Result<Store<ComponentState>, String> {
    // The same sandbox as a core module's (preview 1 and 2 share the builder).
    let mut wasi = sandbox::wasi_builder(env, dirs)?;
    // No sockets at all: the default address check denies every address;
    // this also refuses to create them.
    wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
    wasi.stdout(std::io::stderr()).stderr(std::io::stderr());
    let state = ComponentState {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        max_memory: limits.max_memory,
        memory_total: 0,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| state as &mut dyn wasmtime::ResourceLimiter);
    Ok(store)
}

/// Whether `bytes` is a component rather than a core module: the header's
/// version and layer field is `0d 00 01 00` for a component.
pub(crate) fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [0x0d, 0x00, 0x01, 0x00]
}

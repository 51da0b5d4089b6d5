//! The host side of ABI v1, shared by the parent (which checks a module's
//! imports against it) and the worker (which links it): the four `rpool`
//! functions, what they see of the current call, and the store that holds
//! it, with the memory limiter.

use wasmtime::{Caller, Engine, Linker, Memory, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::wasm::limits::{Limits, format_size};

/// The `rpool` imports of ABI v1 and their types, as [`crate::module`] prints them.
pub(crate) const RPOOL_IMPORTS: [(&str, &str); 4] = [
    ("input_len", "() -> (i32)"),
    ("input_read", "(i32) -> ()"),
    ("output_write", "(i32, i32) -> ()"),
    ("error_write", "(i32, i32) -> ()"),
];

/// Bytes a call gave to `output_write` or `error_write`; the last call wins.
#[derive(Default)]
pub(crate) struct Captured {
    bytes: Vec<u8>,
    set: bool,
}

impl HostState {
    /// The most bytes a call may give `output_write` (a chunk call answers
    /// for all its items at once).
    pub(crate) fn set_max_output(&mut self, bytes: u64) {
        self.max_output = bytes;
    }
}

impl Captured {
    pub(crate) fn reset(&mut self) {
        self.set = false;
    }

    pub(crate) fn get(&self) -> Option<&[u8]> {
        self.set.then_some(self.bytes.as_slice())
    }
}

/// What the host functions see of the current call.
pub(crate) struct HostState {
    wasi: WasiP1Ctx,
    /// The exported memory, cached once per instance so that the host
    /// functions never look it up by name.
    pub memory: Option<Memory>,
    pub input: Vec<u8>,
    pub output: Captured,
    pub error: Captured,
    max_memory: u64,
    max_output: u64,
}

/// Growing memory past the limit fails the call with a message that says so
/// (a trap: the instance is rebuilt), rather than handing the guest a
/// failed `memory.grow` it may not check.
impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_memory {
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} exceeded (the task tried to grow its memory to {}; --max-memory)",
                format_size(self.max_memory),
                format_size(desired as u64)
            )));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000_000)
    }
}

/// The linker with WASI preview 1 and the four `rpool` functions.
pub(crate) fn linker(engine: &Engine) -> Linker<HostState> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut HostState| &mut s.wasi).expect("WASI links once");
    linker
        .func_wrap("rpool", "input_len", |caller: Caller<'_, HostState>| caller.data().input.len() as i32)
        .expect("defined once");
    linker
        .func_wrap("rpool", "input_read", |mut caller: Caller<'_, HostState>, dst: i32| -> wasmtime::Result<()> {
            let (mem, state) = memory_and_state(&mut caller)?;
            let range = guest_range(mem.len(), dst, state.input.len(), "input_read")?;
            mem[range].copy_from_slice(&state.input);
            Ok(())
        })
        .expect("defined once");
    linker
        .func_wrap("rpool", "output_write", |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| {
            capture(&mut caller, ptr, len, "output_write", |s| &mut s.output)
        })
        .expect("defined once");
    linker
        .func_wrap("rpool", "error_write", |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| {
            capture(&mut caller, ptr, len, "error_write", |s| &mut s.error)
        })
        .expect("defined once");
    linker
}

/// `output_write`/`error_write`: copies the guest's bytes now (so the guest
/// may reuse its buffer), within the memory's bounds and the output cap.
fn capture(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    call: &str,
    field: fn(&mut HostState) -> &mut Captured,
) -> wasmtime::Result<()> {
    let (mem, state) = memory_and_state(caller)?;
    let range = guest_range(mem.len(), ptr, len as u32 as usize, call)?;
    if range.len() as u64 > state.max_output {
        return Err(wasmtime::Error::msg(format!(
            "rpool.{call}: {} is more than the limit of {} (--max-output)",
            format_size(range.len() as u64),
            format_size(state.max_output)
        )));
    }
    let captured = field(state);
    captured.bytes.clear();
    captured.bytes.extend_from_slice(&mem[range]);
    captured.set = true;
    Ok(())
}

fn memory_and_state<'a>(caller: &'a mut Caller<'_, HostState>) -> wasmtime::Result<(&'a mut [u8], &'a mut HostState)> {
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| wasmtime::Error::msg("the module does not export its memory as `memory`"))?;
    Ok(memory.data_and_store_mut(caller))
}

/// The guest range `[ptr, ptr + len)`, or a trap that says which call overran.
fn guest_range(memory_len: usize, ptr: i32, len: usize, call: &str) -> wasmtime::Result<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    match start.checked_add(len) {
        Some(end) if end <= memory_len => Ok(start..end),
        _ => Err(wasmtime::Error::msg(format!(
            "rpool.{call}: range {start:#x}..+{len} is outside the guest's memory ({memory_len} bytes)"
        ))),
    }
}

/// A store for one instance, with the memory limiter and, outside calls, no
/// fuel or deadline limit.
pub(crate) fn new_store(engine: &Engine, wasi: WasiP1Ctx, limits: &Limits) -> Store<HostState> {
    let state = HostState {
        wasi,
        memory: None,
        input: Vec::new(),
        output: Captured::default(),
        error: Captured::default(),
        max_memory: limits.max_memory,
        max_output: limits.max_output,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| state as &mut dyn wasmtime::ResourceLimiter);
    if limits.fuel.is_some() {
        store.set_fuel(u64::MAX).expect("fuel is enabled with a fuel limit");
    }
    if limits.timeout.is_some() {
        // Instantiation and `_initialize` are not a task's call: no deadline
        // (the delta is added to the current epoch, so not u64::MAX).
        store.set_epoch_deadline(u64::MAX / 2);
    }
    store
}

//! One worker's wasm side: the `rpool` host functions, the sandboxed WASI
//! context, the limits on each call, and the instance that serves call
//! after call (rebuilt after a trap, as ABI v1 requires).

use std::path::Path;
use std::time::Duration;

use wasmtime::{Caller, Engine, Instance, InstancePre, Linker, Memory, Module, Store, TypedFunc};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::limits::{Limits, format_duration, format_size};
use crate::protocol::Status;
use crate::sandbox::DirGrant;

/// The `rpool` imports of ABI v1 and their types, as [`crate::module`] prints them.
pub(crate) const RPOOL_IMPORTS: [(&str, &str); 4] = [
    ("input_len", "() -> (i32)"),
    ("input_read", "(i32) -> ()"),
    ("output_write", "(i32, i32) -> ()"),
    ("error_write", "(i32, i32) -> ()"),
];

/// How often a worker with a timeout advances its engine's epoch: the
/// timeout's resolution.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes a call gave to `output_write` or `error_write`; the last call wins.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    set: bool,
}

impl Captured {
    fn reset(&mut self) {
        self.set = false;
    }

    fn get(&self) -> Option<&[u8]> {
        self.set.then_some(self.bytes.as_slice())
    }
}

/// What the host functions see of the current call.
pub(crate) struct HostState {
    wasi: WasiP1Ctx,
    /// The exported memory, cached once per instance so that the host
    /// functions never look it up by name.
    memory: Option<Memory>,
    input: Vec<u8>,
    output: Captured,
    error: Captured,
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

/// Everything an instance is built from, kept to rebuild it after a trap.
pub(crate) struct Recipe {
    pub env: Vec<(String, String)>,
    pub dirs: Vec<DirGrant>,
    pub limits: Limits,
    pub initializer: Option<(String, Vec<u8>)>,
}

/// A worker's instance of the task module and everything to rebuild it.
pub(crate) struct TaskInstance {
    pre: InstancePre<HostState>,
    recipe: Recipe,
    store: Store<HostState>,
    instance: Instance,
    /// The exports called so far, by [`ExportId`]…
    names: Vec<String>,
    /// …and their handles, looked up once per instance (`None` until then).
    funcs: Vec<Option<TypedFunc<(), i32>>>,
    broken: bool,
}

/// An export a worker calls, named once per chunk rather than per item:
/// finding it costs a comparison of names, which a tiny task would notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExportId(usize);

/// One call's outcome: the status a result frame carries and its payload.
pub(crate) struct Outcome<'a> {
    pub status: Status,
    pub payload: std::borrow::Cow<'a, [u8]>,
}

impl<'a> Outcome<'a> {
    pub(crate) fn new(status: Status, payload: impl Into<std::borrow::Cow<'a, [u8]>>) -> Self {
        Outcome { status, payload: payload.into() }
    }
}

impl TaskInstance {
    /// Maps the precompiled module, instantiates it and runs `_initialize`
    /// and the initializer. The error is the message a worker reports.
    pub fn new(engine: &Engine, artifact: &Path, recipe: Recipe) -> Result<TaskInstance, String> {
        let pre = load_pre(engine, artifact)?;
        let (store, instance) = instantiate(&pre, &recipe)?;
        Ok(TaskInstance { pre, recipe, store, instance, names: Vec::new(), funcs: Vec::new(), broken: false })
    }

    /// The id of export `name`, for [`call`](TaskInstance::call). Whether
    /// the export exists is found out by its first call.
    pub fn export(&mut self, name: &str) -> ExportId {
        let id = self.names.iter().position(|n| n == name).unwrap_or_else(|| {
            self.names.push(name.to_string());
            self.funcs.push(None);
            self.names.len() - 1
        });
        ExportId(id)
    }

    /// Calls `export` with `input` (the JSON argument array).
    ///
    /// A trap leaves the instance broken; it is rebuilt before the next call.
    /// An error rebuilding it (its initializer failing) is returned as `Err`:
    /// the worker cannot go on.
    pub fn call(&mut self, export: ExportId, input: &[u8]) -> Result<Outcome<'_>, String> {
        if self.broken {
            let (store, instance) = instantiate(&self.pre, &self.recipe)?;
            self.store = store;
            self.instance = instance;
            self.funcs.iter_mut().for_each(|f| *f = None);
            self.broken = false;
        }
        let func = &self.names[export.0];
        if self.funcs[export.0].is_none() {
            let f = self
                .instance
                .get_typed_func::<(), i32>(&mut self.store, func)
                .map_err(|e| format!("export `{func}`: {e}"))?;
            self.funcs[export.0] = Some(f);
        }
        // Borrowed, not cloned: a clone registers the function's type anew,
        // which costs more than a small task's whole call.
        let typed = self.funcs[export.0].as_ref().expect("looked up above");
        let result = run(&mut self.store, typed, input, &self.recipe.limits);
        let state = self.store.data();
        Ok(match result {
            Ok(0) => match state.output.get() {
                None => Outcome::new(Status::Ok, &b"null"[..]),
                Some(json) => match crate::json::check(json) {
                    Ok(()) => Outcome::new(Status::Ok, json),
                    Err(e) => Outcome::new(Status::InvalidOutput, e.to_string().into_bytes()),
                },
            },
            Ok(code) => match state.error.get() {
                Some(message) => Outcome::new(Status::Failed, message),
                None => Outcome::new(Status::Failed, format!("task {func} returned code {code}").into_bytes()),
            },
            Err(trap) => {
                self.broken = true;
                Outcome::new(Status::Trap, trap.into_bytes())
            }
        })
    }
}

/// Runs one call of `f` with `input`, armed with the limits. A trap is
/// returned as its message: a Rust guest's panic hook passes the panic
/// message to `error_write` just before the abort traps, so that message,
/// when there is one, leads.
fn run(store: &mut Store<HostState>, f: &TypedFunc<(), i32>, input: &[u8], limits: &Limits) -> Result<i32, String> {
    let state = store.data_mut();
    state.input.clear();
    state.input.extend_from_slice(input);
    state.output.reset();
    state.error.reset();
    arm(store, limits);
    f.call(&mut *store, ()).map_err(|trap| {
        let trap = describe_trap(&trap, limits);
        match store.data().error.get() {
            Some(message) => format!("{} ({trap})", String::from_utf8_lossy(message)),
            None => trap,
        }
    })
}

/// Gives the store one call's fuel and deadline.
pub(crate) fn arm(store: &mut Store<HostState>, limits: &Limits) {
    if let Some(fuel) = limits.fuel {
        store.set_fuel(fuel).expect("fuel is enabled with a fuel limit");
    }
    if let Some(timeout) = limits.timeout {
        store.set_epoch_deadline((timeout.as_millis() / EPOCH_TICK.as_millis()) as u64 + 1);
    }
}

/// Maps the precompiled module and links it, once per worker: every
/// instance after that is a cheap `InstancePre::instantiate`.
pub(crate) fn load_pre(engine: &Engine, artifact: &Path) -> Result<InstancePre<HostState>, String> {
    // SAFETY: the parent wrote this artifact with an engine configured
    // from the same limits (see `Limits::engine`).
    let module = unsafe { Module::deserialize_file(engine, artifact) }
        .map_err(|e| format!("cannot load compiled module {}: {e}", artifact.display()))?;
    linker(engine).instantiate_pre(&module).map_err(|e| format!("cannot link the module: {e:#}"))
}

/// The sandbox: no files, no host environment, no network; only the
/// variables and directories the recipe grants. The caller sets stdio.
pub(crate) fn sandbox(recipe: &Recipe) -> Result<WasiCtxBuilder, String> {
    let mut wasi = WasiCtxBuilder::new();
    for (k, v) in &recipe.env {
        wasi.env(k, v);
    }
    for dir in &recipe.dirs {
        let perms = if dir.read_only { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
        wasi.preopened_dir(&dir.host, &dir.guest, perms)
            .map_err(|e| format!("cannot grant directory {}: {e}", dir.host.display()))?;
    }
    Ok(wasi)
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

/// A trap's description on one line: the limit it hit, the trap code or
/// the host's error, without the wasm backtrace (which is for debugging,
/// not for a result).
pub(crate) fn describe_trap(e: &wasmtime::Error, limits: &Limits) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => match limits.timeout {
            Some(timeout) => format!("timed out after {}", format_duration(timeout)),
            None => "interrupted".to_string(),
        },
        Some(wasmtime::Trap::OutOfFuel) => format!("ran out of fuel ({} units; --fuel)", limits.fuel.unwrap_or(0)),
        Some(trap) => trap.to_string(),
        // A host function's or the limiter's own error, under wasmtime's
        // backtrace context.
        None => e.root_cause().to_string().lines().next().unwrap_or("trap").to_string(),
    }
}

fn instantiate(pre: &InstancePre<HostState>, recipe: &Recipe) -> Result<(Store<HostState>, Instance), String> {
    // Guest stdout goes to stderr, because the worker's stdout carries
    // result frames.
    let mut wasi = sandbox(recipe)?;
    wasi.stdout(std::io::stderr()).stderr(std::io::stderr());
    let mut store = new_store(pre.module().engine(), wasi.build_p1(), &recipe.limits);
    let instance = pre.instantiate(&mut store).map_err(|e| format!("cannot instantiate the module: {e:#}"))?;
    store.data_mut().memory = instance.get_memory(&mut store, "memory");
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ()).map_err(|e| format!("_initialize failed: {}", describe_trap(&e, &recipe.limits)))?;
    }
    if let Some((name, args)) = &recipe.initializer {
        let f =
            instance.get_typed_func::<(), i32>(&mut store, name).map_err(|e| format!("initializer `{name}`: {e}"))?;
        let failure = match run(&mut store, &f, args, &recipe.limits) {
            Ok(0) => None,
            Ok(code) => Some(
                store.data().error.get().map_or(format!("returned code {code}"), |m| String::from_utf8_lossy(m).into()),
            ),
            Err(trap) => Some(trap),
        };
        if let Some(message) = failure {
            return Err(format!("initializer {name} failed: {message}"));
        }
    }
    Ok((store, instance))
}

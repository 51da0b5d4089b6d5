//! One worker's wasm side: the `rpool` host functions, the sandboxed WASI
//! context, and the instance that serves call after call (rebuilt after a
//! trap, as ABI v1 requires).

use std::collections::HashMap;
use std::path::Path;

use wasmtime::{Caller, Engine, Instance, InstancePre, Linker, Memory, Module, Store, TypedFunc};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::protocol::Status;

/// The `rpool` imports of ABI v1 and their types, as [`crate::module`] prints them.
pub(crate) const RPOOL_IMPORTS: [(&str, &str); 4] = [
    ("input_len", "() -> (i32)"),
    ("input_read", "(i32) -> ()"),
    ("output_write", "(i32, i32) -> ()"),
    ("error_write", "(i32, i32) -> ()"),
];

/// What the host functions see of the current call.
pub(crate) struct HostState {
    wasi: WasiP1Ctx,
    /// The exported memory, cached once per instance so that the host
    /// functions never look it up by name.
    memory: Option<Memory>,
    input: Vec<u8>,
    output: Vec<u8>,
    output_set: bool,
    error: Vec<u8>,
    error_set: bool,
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
        .func_wrap(
            "rpool",
            "output_write",
            |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
                let (mem, state) = memory_and_state(&mut caller)?;
                let range = guest_range(mem.len(), ptr, len as u32 as usize, "output_write")?;
                state.output.clear();
                state.output.extend_from_slice(&mem[range]);
                state.output_set = true;
                Ok(())
            },
        )
        .expect("defined once");
    linker
        .func_wrap(
            "rpool",
            "error_write",
            |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
                let (mem, state) = memory_and_state(&mut caller)?;
                let range = guest_range(mem.len(), ptr, len as u32 as usize, "error_write")?;
                state.error.clear();
                state.error.extend_from_slice(&mem[range]);
                state.error_set = true;
                Ok(())
            },
        )
        .expect("defined once");
    linker
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

/// A worker's instance of the task module and everything to rebuild it.
pub(crate) struct TaskInstance {
    pre: InstancePre<HostState>,
    env: Vec<(String, String)>,
    initializer: Option<(String, Vec<u8>)>,
    store: Store<HostState>,
    instance: Instance,
    /// Export handles, looked up once per instance and name.
    funcs: HashMap<String, TypedFunc<(), i32>>,
    broken: bool,
}

/// One call's outcome: the status a result frame carries and its payload.
pub(crate) struct Outcome<'a> {
    pub status: Status,
    pub payload: std::borrow::Cow<'a, [u8]>,
}

impl TaskInstance {
    /// Maps the precompiled module, instantiates it and runs `_initialize`
    /// and the initializer. The error is the message a worker reports.
    pub fn new(
        engine: &Engine,
        artifact: &Path,
        env: Vec<(String, String)>,
        initializer: Option<(String, Vec<u8>)>,
    ) -> Result<TaskInstance, String> {
        // SAFETY: the parent wrote this artifact with the same engine
        // configuration (see `module::new_engine`).
        let module = unsafe { Module::deserialize_file(engine, artifact) }
            .map_err(|e| format!("cannot load compiled module {}: {e}", artifact.display()))?;
        let pre = linker(engine).instantiate_pre(&module).map_err(|e| format!("cannot link the module: {e:#}"))?;
        let (store, instance) = instantiate(&pre, &env, initializer.as_ref())?;
        Ok(TaskInstance { pre, env, initializer, store, instance, funcs: HashMap::new(), broken: false })
    }

    /// Calls export `func` with `input` (the JSON argument array).
    ///
    /// A trap leaves the instance broken; it is rebuilt before the next call.
    /// An error rebuilding it (its initializer failing) is returned as `Err`:
    /// the worker cannot go on.
    pub fn call(&mut self, func: &str, input: &[u8]) -> Result<Outcome<'_>, String> {
        if self.broken {
            let (store, instance) = instantiate(&self.pre, &self.env, self.initializer.as_ref())?;
            self.store = store;
            self.instance = instance;
            self.funcs.clear();
            self.broken = false;
        }
        let typed = match self.funcs.get(func) {
            Some(f) => f.clone(),
            None => {
                let f = self
                    .instance
                    .get_typed_func::<(), i32>(&mut self.store, func)
                    .map_err(|e| format!("export `{func}`: {e}"))?;
                self.funcs.insert(func.to_string(), f.clone());
                f
            }
        };
        let state = self.store.data_mut();
        state.input.clear();
        state.input.extend_from_slice(input);
        state.output_set = false;
        state.error_set = false;

        let result = typed.call(&mut self.store, ());
        let state = self.store.data();
        Ok(match result {
            Ok(0) if !state.output_set => Outcome { status: Status::Ok, payload: b"null"[..].into() },
            Ok(0) => match serde_json::from_slice::<serde::de::IgnoredAny>(&state.output) {
                Ok(_) => Outcome { status: Status::Ok, payload: state.output.as_slice().into() },
                Err(e) => Outcome { status: Status::InvalidOutput, payload: e.to_string().into_bytes().into() },
            },
            Ok(_) if state.error_set => Outcome { status: Status::Failed, payload: state.error.as_slice().into() },
            Ok(code) => Outcome {
                status: Status::Failed,
                payload: format!("task {func} returned code {code}").into_bytes().into(),
            },
            Err(trap) => {
                self.broken = true;
                let trap = describe_trap(&trap);
                // A Rust guest's panic hook reports the panic message just
                // before the abort traps: that message is the useful one.
                let message =
                    if state.error_set { format!("{} ({trap})", String::from_utf8_lossy(&state.error)) } else { trap };
                Outcome { status: Status::Trap, payload: message.into_bytes().into() }
            }
        })
    }
}

/// A trap's description on one line: the trap code or host error, without
/// the wasm backtrace (which is for debugging, not for a result).
fn describe_trap(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return format!("wasm trap: {trap}");
    }
    e.to_string().lines().next().unwrap_or("trap").to_string()
}

fn instantiate(
    pre: &InstancePre<HostState>,
    env: &[(String, String)],
    initializer: Option<&(String, Vec<u8>)>,
) -> Result<(Store<HostState>, Instance), String> {
    // The sandbox: no files, no host environment, no network; only the
    // variables the parent passed. Guest stdout goes to stderr, because the
    // worker's stdout carries result frames.
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(std::io::stderr()).stderr(std::io::stderr());
    for (k, v) in env {
        wasi.env(k, v);
    }
    let state = HostState {
        wasi: wasi.build_p1(),
        memory: None,
        input: Vec::new(),
        output: Vec::new(),
        output_set: false,
        error: Vec::new(),
        error_set: false,
    };
    let mut store = Store::new(pre.module().engine(), state);
    let instance = pre.instantiate(&mut store).map_err(|e| format!("cannot instantiate the module: {e:#}"))?;
    store.data_mut().memory = instance.get_memory(&mut store, "memory");
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ()).map_err(|e| format!("_initialize failed: {}", describe_trap(&e)))?;
    }
    if let Some((name, args)) = initializer {
        let f =
            instance.get_typed_func::<(), i32>(&mut store, name).map_err(|e| format!("initializer `{name}`: {e}"))?;
        let state = store.data_mut();
        state.input.clear();
        state.input.extend_from_slice(args);
        state.error_set = false;
        let outcome = f.call(&mut store, ());
        let state = store.data();
        let message = match outcome {
            Ok(0) => None,
            Ok(_) if state.error_set => Some(String::from_utf8_lossy(&state.error).into_owned()),
            Ok(code) => Some(format!("returned code {code}")),
            Err(trap) if state.error_set => {
                Some(format!("{} ({})", String::from_utf8_lossy(&state.error), describe_trap(&trap)))
            }
            Err(trap) => Some(describe_trap(&trap)),
        };
        if let Some(message) = message {
            return Err(format!("initializer {name} failed: {message}"));
        }
    }
    Ok((store, instance))
}

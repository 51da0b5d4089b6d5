//! A worker's instance of an ABI v1 module: it serves call after call, and
//! is rebuilt after a trap (with `_initialize` and the initializer run
//! again), as ABI v1 requires.

use std::path::Path;

use wasmtime::{Engine, Instance, InstancePre, Module, Store, TypedFunc};

use crate::module::CHUNK_PREFIX;
use crate::wasm::host_abi::{HostState, linker, new_store};
use crate::wasm::limits::{Limits, arm};
use crate::wasm::sandbox::{self, DirGrant};
use crate::wasm::trap::{Backtrace, describe_trap, trap_location};
use crate::wire::{self, Status};

/// Everything an instance is built from, kept to rebuild it after a trap.
pub(crate) struct Recipe {
    pub env: Vec<(String, String)>,
    pub dirs: Vec<DirGrant>,
    pub limits: Limits,
    pub initializer: Option<(String, Vec<u8>)>,
    /// How much of a trap's backtrace its message shows.
    pub backtrace: Backtrace,
}

/// A worker's instance of the task module and everything to rebuild it.
pub(crate) struct TaskInstance {
    pre: InstancePre<HostState>,
    recipe: Recipe,
    store: Store<HostState>,
    instance: Instance,
    /// The exports called so far, by [`ExportId`]…
    names: Vec<String>,
    /// …and their handles, looked up once per instance (`None` until then)…
    funcs: Vec<Option<TypedFunc<(), i32>>>,
    /// …and their chunk exports, `rpool:chunk:NAME` (`None` until looked
    /// up, `Some(None)` for a task without one).
    chunk_funcs: Vec<Option<Option<TypedFunc<(), i32>>>>,
    /// The last chunk call's results, parsed (kept: a group of tiny items
    /// would otherwise allocate, and fault in, a few hundred kilobytes).
    chunk_results: ChunkResults,
    broken: bool,
}

/// An export a worker calls, named once per chunk rather than per item:
/// finding it costs a comparison of names, which a tiny task would notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExportId(pub(super) usize);

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
        TaskInstance::from_pre(load_pre(engine, artifact)?, recipe)
    }

    /// Instantiates a module mapped and linked already, and runs
    /// `_initialize` and the initializer.
    pub fn from_pre(pre: InstancePre<HostState>, recipe: Recipe) -> Result<TaskInstance, String> {
        let (store, instance) = instantiate(&pre, &recipe)?;
        Ok(TaskInstance {
            pre,
            recipe,
            store,
            instance,
            names: Vec::new(),
            funcs: Vec::new(),
            chunk_funcs: Vec::new(),
            chunk_results: ChunkResults::default(),
            broken: false,
        })
    }

    /// The id of export `name`, for [`call`](TaskInstance::call). Whether
    /// the export exists is found out by its first call.
    pub fn export(&mut self, name: &str) -> ExportId {
        let id = self.names.iter().position(|n| n == name).unwrap_or_else(|| {
            self.names.push(name.to_string());
            self.funcs.push(None);
            self.chunk_funcs.push(None);
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
        self.rebuild_if_broken()?;
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
        let result = run(&mut self.store, typed, input, &self.recipe);
        let state = self.store.data();
        Ok(match result {
            Ok(0) => match state.output.get() {
                None => Outcome::new(Status::Ok, &b"null"[..]),
                Some(json) => match crate::input::json::check(json) {
                    Ok(()) => Outcome::new(Status::Ok, json),
                    Err(e) => Outcome::new(Status::InvalidOutput, e.to_string().into_bytes()),
                },
            },
            Ok(code) => match state.error.get() {
                Some(message) => Outcome::new(Status::Failed, message),
                None => Outcome::new(Status::Failed, format!("task {func} returned code {code}").into_bytes()),
            },
            Err((description, location)) => {
                self.broken = true;
                Outcome::new(Status::Trap, wire::trap_payload(&description, &location))
            }
        })
    }
}

impl TaskInstance {
    /// Builds a fresh instance after a trap (its handles are the old one's).
    fn rebuild_if_broken(&mut self) -> Result<(), String> {
        if self.broken {
            let (store, instance) = instantiate(&self.pre, &self.recipe)?;
            self.store = store;
            self.instance = instance;
            self.funcs.iter_mut().for_each(|f| *f = None);
            self.chunk_funcs.iter_mut().for_each(|f| *f = None);
            self.broken = false;
        }
        Ok(())
    }

    /// Runs a whole chunk in one call of the task's chunk export
    /// (`rpool:chunk:NAME`, `docs/abi.md` "Chunk calls"), when it has one and
    /// no per-call limit (timeout, fuel) is set, which a chunk call could not
    /// honour per item. `Ok(None)`: run the items one by one instead — also
    /// after a trap, which leaves the instance to be rebuilt, so that every
    /// item gets its own outcome (the one that traps, its trap).
    pub fn call_chunk(
        &mut self,
        export: ExportId,
        count: usize,
        raw_items: &[u8],
    ) -> Result<Option<impl Iterator<Item = Outcome<'_>>>, String> {
        if !self.can_chunk(export)? {
            return Ok(None);
        }
        let max_output = self.recipe.limits.max_output;
        let Some(Some(f)) = &self.chunk_funcs[export.0] else { return Ok(None) };
        // The chunk's input is laid out where the call reads it, not copied
        // there: the buffers are kept from call to call.
        let state = self.store.data_mut();
        state.input.clear();
        state.input.extend_from_slice(&(count as u32).to_le_bytes());
        state.input.extend_from_slice(raw_items);
        state.set_max_output(max_output.saturating_mul(count as u64 + 1));
        let result = call_with_input(&mut self.store, f, &self.recipe);
        self.store.data_mut().set_max_output(max_output);
        match result {
            Ok(0) => {}
            _ => {
                // A trap, or an error of the chunk as a whole: item by item.
                self.broken = result.is_err();
                return Ok(None);
            }
        }
        let output = self.store.data().output.get().unwrap_or_default();
        Ok(self.chunk_results.parse(output, count, max_output).then(|| self.chunk_results.outcomes(output)))
    }

    /// Whether `export` can take chunk calls: it has a chunk export, and no
    /// per-call limit (timeout, fuel) is set, which a chunk call could not
    /// honour per item.
    pub fn can_chunk(&mut self, export: ExportId) -> Result<bool, String> {
        let limits = &self.recipe.limits;
        if limits.timeout.is_some() || limits.fuel.is_some() {
            return Ok(false);
        }
        self.rebuild_if_broken()?;
        if self.chunk_funcs[export.0].is_none() {
            let name = format!("{CHUNK_PREFIX}{}", self.names[export.0]);
            self.chunk_funcs[export.0] = Some(self.instance.get_typed_func::<(), i32>(&mut self.store, &name).ok());
        }
        Ok(matches!(self.chunk_funcs[export.0], Some(Some(_))))
    }
}

impl super::pace::GroupCalls for TaskInstance {
    fn call(&mut self, export: ExportId, args: &[u8]) -> Result<Outcome<'_>, String> {
        TaskInstance::call(self, export, args)
    }

    fn call_group(
        &mut self,
        export: ExportId,
        group: &[(u64, &[u8])],
        raw: &[u8],
        output: &mut impl std::io::Write,
    ) -> Result<bool, String> {
        let Some(outcomes) = self.call_chunk(export, group.len(), raw)? else { return Ok(false) };
        for (&(index, _), outcome) in group.iter().zip(outcomes) {
            wire::write_result(output, index, outcome.status, &outcome.payload).map_err(super::io_err)?;
        }
        Ok(true)
    }
}

/// A chunk call's results, parsed: for each item, its status and where its
/// payload lies in the call's output.
#[derive(Default)]
struct ChunkResults {
    items: Vec<(Status, std::ops::Range<usize>)>,
}

impl ChunkResults {
    /// Parses `output`: `count` results of `status: u8` (0 success, 1
    /// failure), `len: u32`, payload, end to end. False if the output is
    /// not exactly that, or if an item's payload is over the per-item output
    /// limit (run one by one, that item then fails as it would have alone).
    fn parse(&mut self, output: &[u8], count: usize, max_output: u64) -> bool {
        self.items.clear();
        let mut at = 0;
        while at < output.len() {
            let Some(&status) = output.get(at) else { return false };
            let Some(len) = output.get(at + 1..at + 5) else { return false };
            let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
            if len as u64 > max_output {
                return false;
            }
            let payload = at + 5..at + 5 + len;
            let Some(bytes) = output.get(payload.clone()) else { return false };
            let status = match status {
                0 => match crate::input::json::check(bytes) {
                    Ok(()) => Status::Ok,
                    Err(_) => Status::InvalidOutput,
                },
                1 => Status::Failed,
                _ => return false,
            };
            self.items.push((status, payload.clone()));
            at = payload.end;
        }
        self.items.len() == count
    }

    /// The results [`parse`](ChunkResults::parse) found in `output`, in
    /// order: status and payload (for output that is not JSON, the message
    /// saying so).
    fn outcomes<'a>(&'a self, output: &'a [u8]) -> impl Iterator<Item = Outcome<'a>> {
        self.items.iter().map(move |(status, range)| {
            let payload = &output[range.clone()];
            match status {
                Status::InvalidOutput => Outcome::new(
                    Status::InvalidOutput,
                    crate::input::json::check(payload).err().map(|e| e.to_string()).unwrap_or_default().into_bytes(),
                ),
                status => Outcome::new(*status, payload),
            }
        })
    }
}

/// Runs one call of `f` with `input`, armed with the limits. A trap is
/// returned as its description and where it happened: a Rust guest's panic
/// hook passes the panic message to `error_write` just before the abort
/// traps, so that message, when there is one, leads (and names the place).
fn run(
    store: &mut Store<HostState>,
    f: &TypedFunc<(), i32>,
    input: &[u8],
    recipe: &Recipe,
) -> Result<i32, (String, String)> {
    let state = store.data_mut();
    state.input.clear();
    state.input.extend_from_slice(input);
    call_with_input(store, f, recipe)
}

/// [`run`] with the input already in the store.
fn call_with_input(
    store: &mut Store<HostState>,
    f: &TypedFunc<(), i32>,
    recipe: &Recipe,
) -> Result<i32, (String, String)> {
    let limits = &recipe.limits;
    let state = store.data_mut();
    state.output.reset();
    state.error.reset();
    arm(store, limits);
    f.call(&mut *store, ()).map_err(|trap| {
        let description = describe_trap(&trap, limits);
        match store.data().error.get() {
            // A Rust guest's panic: its message names the place already,
            // and the frames are the abort's.
            Some(message) => (format!("{} ({description})", String::from_utf8_lossy(message)), String::new()),
            None => (description, trap_location(&trap, recipe.backtrace)),
        }
    })
}

/// Maps the precompiled module and links it, once per worker: every
/// instance after that is a cheap `InstancePre::instantiate`.
pub(crate) fn load_pre(engine: &Engine, artifact: &Path) -> Result<InstancePre<HostState>, String> {
    // SAFETY: this runs the file as native code. The parent named it in
    // the start frame after compiling it (or finding it) in a cache
    // directory only this user can write to (`module::cache`), with an
    // engine configured from the same limits (`Limits::engine`); wasmtime
    // checks the header.
    let module = unsafe { Module::deserialize_file(engine, artifact) }
        .map_err(|e| format!("cannot load compiled module {}: {e}", artifact.display()))?;
    linker(engine).instantiate_pre(&module).map_err(|e| format!("cannot link the module: {e:#}"))
}

fn instantiate(pre: &InstancePre<HostState>, recipe: &Recipe) -> Result<(Store<HostState>, Instance), String> {
    // Guest stdout goes to stderr, because the worker's stdout carries
    // result frames.
    let mut wasi = sandbox::wasi_builder(&recipe.env, &recipe.dirs)?;
    wasi.stdout(std::io::stderr()).stderr(std::io::stderr());
    let mut store = new_store(pre.module().engine(), wasi.build_p1(), &recipe.limits);
    let instance = pre.instantiate(&mut store).map_err(|e| format!("cannot instantiate the module: {e:#}"))?;
    store.data_mut().memory = instance.get_memory(&mut store, "memory");
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ()).map_err(|e| {
            format!("_initialize failed: {}{}", describe_trap(&e, &recipe.limits), trap_location(&e, recipe.backtrace))
        })?;
    }
    if let Some((name, args)) = &recipe.initializer {
        let f =
            instance.get_typed_func::<(), i32>(&mut store, name).map_err(|e| format!("initializer `{name}`: {e}"))?;
        let failure = match run(&mut store, &f, args, recipe) {
            Ok(0) => None,
            Ok(code) => Some(
                store.data().error.get().map_or(format!("returned code {code}"), |m| String::from_utf8_lossy(m).into()),
            ),
            Err((description, location)) => Some(description + &location),
        };
        if let Some(message) = failure {
            return Err(format!("initializer {name} failed: {message}"));
        }
    }
    Ok((store, instance))
}

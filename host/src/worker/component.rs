//! A worker's runner for a task component (`wit/rpool.wit`): one
//! long-lived instance, its initializer run once, each item one `call`
//! with the JSON argument array (tiny items in groups, one `call-chunk`
//! each, when the component has it: `pace`), and the instance rebuilt
//! (initializer again) after a trap — the same life as an ABI v1 instance's.

use std::io::Write;
use std::path::Path;

use wasmtime::component::{Component, Func, Instance, InstancePre, TypedFunc};
use wasmtime::{Engine, Store};

use super::abi::{ExportId, Outcome, Recipe};
use super::pace::GroupCalls;
use crate::module::component::{WorldExports, world_exports};
use crate::wasm::component_host::{self, ComponentState};
use crate::wasm::limits::{arm, disarm, format_size};
use crate::wasm::trap::{describe_trap, trap_location};
use crate::wire::{self, Status};

type CallFn<'a> = TypedFunc<(&'a str, &'a str), (Result<String, String>,)>;
type InitFn<'a> = TypedFunc<(&'a str, &'a str), (Result<(), String>,)>;
type ChunkFn<'a> = TypedFunc<(&'a str, &'a [&'a str]), (Vec<Result<String, String>>,)>;

/// The world's functions of one instance, type-checked once per instance.
struct Funcs {
    init: Func,
    call: Func,
    call_chunk: Option<Func>,
}

/// A worker's instance of a task component and everything to rebuild it.
pub(crate) struct ComponentRunner {
    pre: InstancePre<ComponentState>,
    exports: WorldExports,
    recipe: Recipe,
    store: Store<ComponentState>,
    funcs: Funcs,
    /// The task names a chunk has asked for, by the index `export` gives.
    names: Vec<String>,
    /// The last call's result: an `Outcome` borrows it.
    result: Vec<u8>,
    broken: bool,
}

impl ComponentRunner {
    /// Maps the precompiled component, links it, instantiates it and runs the
    /// initializer. The error is the message a worker reports.
    pub fn new(engine: &Engine, artifact: &Path, recipe: Recipe) -> Result<ComponentRunner, String> {
        // SAFETY: this runs the file as native code. The parent named it in
        // the start frame after compiling it (or finding it) in a cache
        // directory only this user can write to (`module::cache`), with an
        // engine configured from the same limits; wasmtime checks the header.
        let component = unsafe { Component::deserialize_file(engine, artifact) }
            .map_err(|e| format!("cannot load compiled component {}: {e}", artifact.display()))?;
        let exports = world_exports(&component)?;
        let pre = component_host::linker(engine)
            .instantiate_pre(&component)
            .map_err(|e| format!("cannot link the component: {e:#}"))?;
        let (store, funcs) = instantiate(&pre, &exports, &recipe)?;
        let mut runner = ComponentRunner {
            pre,
            exports,
            recipe,
            store,
            funcs,
            names: Vec::new(),
            result: Vec::new(),
            broken: false,
        };
        runner.run_init()?;
        Ok(runner)
    }

    /// The index of task `name`, for [`call`](ComponentRunner::call).
    pub fn export(&mut self, name: &str) -> ExportId {
        ExportId(self.names.iter().position(|n| n == name).unwrap_or_else(|| {
            self.names.push(name.to_string());
            self.names.len() - 1
        }))
    }

    /// Calls task `export` with `input` (the JSON argument array). A trap
    /// leaves the instance broken; it is rebuilt before the next call, and an
    /// error rebuilding it (its initializer failing) is `Err`: the worker
    /// cannot go on.
    pub fn call(&mut self, export: ExportId, input: &[u8]) -> Result<Outcome<'_>, String> {
        self.rebuild_if_broken()?;
        let Ok(args) = std::str::from_utf8(input) else {
            return Ok(Outcome::new(Status::Failed, &b"the arguments are not UTF-8"[..]));
        };
        let limits = &self.recipe.limits;
        arm(&mut self.store, limits);
        // SAFETY: `instantiate` checked this function's type against `CallFn`.
        let f: CallFn<'_> = unsafe { TypedFunc::new_unchecked(self.funcs.call) };
        let outcome = match f.call(&mut self.store, (&self.names[export.0], args)) {
            Ok((result,)) => match item_outcome(result, limits.max_output) {
                (Status::Ok, json) => {
                    self.result = json;
                    Outcome::new(Status::Ok, &self.result[..])
                }
                (status, payload) => Outcome::new(status, payload),
            },
            Err(trap) => {
                self.broken = true;
                let payload =
                    wire::trap_payload(&describe_trap(&trap, limits), &trap_location(&trap, self.recipe.backtrace));
                Outcome::new(Status::Trap, payload)
            }
        };
        Ok(outcome)
    }

    /// Whether items can go in groups through `call-chunk`: the component
    /// has it, and no per-call limit (timeout, fuel) is set, which a group
    /// call could not honour per item.
    pub fn can_chunk(&self) -> bool {
        let limits = &self.recipe.limits;
        self.exports.call_chunk.is_some() && limits.timeout.is_none() && limits.fuel.is_none()
    }

    /// A fresh instance (initializer run) after a trap.
    fn rebuild_if_broken(&mut self) -> Result<(), String> {
        if self.broken {
            (self.store, self.funcs) = instantiate(&self.pre, &self.exports, &self.recipe)?;
            self.broken = false;
            self.run_init()?;
        }
        Ok(())
    }

    /// Runs the recipe's initializer, if any, on the current instance.
    fn run_init(&mut self) -> Result<(), String> {
        let Some((name, args)) = &self.recipe.initializer else { return Ok(()) };
        let args = String::from_utf8_lossy(args);
        arm(&mut self.store, &self.recipe.limits);
        // SAFETY: `instantiate` checked this function's type against `InitFn`.
        let f: InitFn<'_> = unsafe { TypedFunc::new_unchecked(self.funcs.init) };
        let failure = match f.call(&mut self.store, (name, &args)) {
            Ok((Ok(()),)) => None,
            Ok((Err(message),)) => Some(message),
            Err(trap) => {
                self.broken = true;
                Some(describe_trap(&trap, &self.recipe.limits))
            }
        };
        match failure {
            None => Ok(()),
            Some(message) => Err(format!("initializer {name} failed: {message}")),
        }
    }
}

impl GroupCalls for ComponentRunner {
    fn call(&mut self, export: ExportId, args: &[u8]) -> Result<Outcome<'_>, String> {
        ComponentRunner::call(self, export, args)
    }

    /// One `call-chunk`; after a trap, or a reply that is not one result per
    /// item, the items run one by one on a fresh instance, so that each gets
    /// its own outcome (the one that traps, its trap).
    fn call_group(
        &mut self,
        export: ExportId,
        group: &[(u64, &[u8])],
        _raw: &[u8],
        output: &mut impl Write,
    ) -> Result<bool, String> {
        self.rebuild_if_broken()?;
        let (Some(func), Ok(items)) = (
            self.funcs.call_chunk,
            group.iter().map(|(_, args)| std::str::from_utf8(args)).collect::<Result<Vec<&str>, _>>(),
        ) else {
            return Ok(false);
        };
        let limits = &self.recipe.limits;
        arm(&mut self.store, limits);
        // SAFETY: `instantiate` checked this function's type against `ChunkFn`.
        let f: ChunkFn<'_> = unsafe { TypedFunc::new_unchecked(func) };
        let results = match f.call(&mut self.store, (&self.names[export.0], &items)) {
            Ok((results,)) if results.len() == group.len() => results,
            Ok(_) => return Ok(false),
            Err(_) => {
                self.broken = true;
                return Ok(false);
            }
        };
        for (&(index, _), result) in group.iter().zip(results) {
            let (status, payload) = item_outcome(result, limits.max_output);
            wire::write_result(output, index, status, &payload).map_err(super::io_err)?;
        }
        Ok(true)
    }
}

/// What one item's `call` (or `call-chunk` entry) returned, as its outcome:
/// JSON within the output limit, or why not; an error message capped.
fn item_outcome(result: Result<String, String>, max_output: u64) -> (Status, Vec<u8>) {
    match result {
        Ok(json) if json.len() as u64 > max_output => (
            Status::InvalidOutput,
            format!(
                "the result is {}, more than the limit of {} (--max-output)",
                format_size(json.len() as u64),
                format_size(max_output)
            )
            .into_bytes(),
        ),
        Ok(json) => match crate::input::json::check(json.as_bytes()) {
            Ok(()) => (Status::Ok, json.into_bytes()),
            Err(e) => (Status::InvalidOutput, e.to_string().into_bytes()),
        },
        Err(message) => (Status::Failed, cap(message, max_output).into_bytes()),
    }
}

/// A fresh store and instance, and its functions, type-checked.
fn instantiate(
    pre: &InstancePre<ComponentState>,
    exports: &WorldExports,
    recipe: &Recipe,
) -> Result<(Store<ComponentState>, Funcs), String> {
    let mut store = component_host::new_store(pre.engine(), &recipe.env, &recipe.dirs, &recipe.limits)?;
    // Instantiation (the guest runtime's own start-up) runs unlimited by
    // the per-call limits.
    disarm(&mut store, &recipe.limits);
    let instance: Instance = pre
        .instantiate(&mut store)
        .map_err(|e| format!("cannot instantiate the component: {}", describe_trap(&e, &recipe.limits)))?;
    let fatal = |what: &str, e: wasmtime::Error| format!("export `{what}`: {e}");
    let init = instance
        .get_typed_func::<(&str, &str), (Result<(), String>,)>(&mut store, &exports.init)
        .map_err(|e| fatal("init", e))?;
    let call = instance
        .get_typed_func::<(&str, &str), (Result<String, String>,)>(&mut store, &exports.call)
        .map_err(|e| fatal("call", e))?;
    let call_chunk = match &exports.call_chunk {
        Some(index) => Some(
            *instance
                .get_typed_func::<(&str, &[&str]), (Vec<Result<String, String>>,)>(&mut store, index)
                .map_err(|e| fatal("call-chunk", e))?
                .func(),
        ),
        None => None,
    };
    Ok((store, Funcs { init: *init.func(), call: *call.func(), call_chunk }))
}

/// An error message cut to the output limit (at a character boundary).
fn cap(mut message: String, max_output: u64) -> String {
    if message.len() as u64 > max_output {
        let mut end = max_output as usize;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

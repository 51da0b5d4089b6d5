//! A task *component* in the parent: the world it must target
//! (`wit/rpool.wit`: `tasks`, `init`, `call`, optional `call-chunk`), its
//! task names (the component's own `tasks` export, called once on a
//! throw-away instance), and what `inspect` shows of it.

use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};
use wasmtime::{Engine, Store};

use crate::wasm::component_host::{self, ComponentState};
use crate::wasm::limits::Limits;
use crate::wasm::trap::describe_trap;

/// The world a task component must target.
pub(crate) const WORLD: &str = "rpool:task/task@1.0.0";

/// The world's exports of a component, checked and found once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorldExports {
    pub tasks: ComponentExportIndex,
    pub init: ComponentExportIndex,
    pub call: ComponentExportIndex,
    /// `call-chunk`, which the world makes optional: the worker runs tiny
    /// items through it in groups (`worker::pace`).
    pub call_chunk: Option<ComponentExportIndex>,
}

/// Checks that the component exports the world's functions with their
/// types, and finds them; the error says which is missing or ill-typed.
pub(crate) fn world_exports(component: &Component) -> Result<WorldExports, String> {
    let engine = component.engine();
    let ty = component.component_type();
    let expect = |name: &str, want: &str| -> Result<ComponentExportIndex, String> {
        match ty.get_export(engine, name).map(|e| item_string(&e.ty)) {
            None => Err(format!("not a component of world {WORLD}: it does not export `{name}` ({want})")),
            Some(found) if found != want => {
                Err(format!("not a component of world {WORLD}: its export `{name}` is `{found}`, not `{want}`"))
            }
            Some(_) => component.get_export_index(None, name).ok_or_else(|| format!("export `{name}` cannot be found")),
        }
    };
    let tasks = expect("tasks", "func() -> list<string>")?;
    let init = expect("init", "func(name: string, args: string) -> result<_, string>")?;
    let call = expect("call", "func(name: string, args: string) -> result<string, string>")?;
    let call_chunk = match ty.get_export(engine, "call-chunk") {
        None => None,
        Some(_) => {
            Some(expect("call-chunk", "func(name: string, items: list<string>) -> list<result<string, string>>")?)
        }
    };
    Ok(WorldExports { tasks, init, call, call_chunk })
}

/// The component's task names: its `tasks` export, on an instance of its
/// own with nothing granted.
pub(crate) fn task_names(
    engine: &Engine,
    component: &Component,
    exports: &WorldExports,
) -> Result<Vec<String>, String> {
    let limits = Limits::default();
    let pre = component_host::linker(engine)
        .instantiate_pre(component)
        .map_err(|e| format!("cannot link the component: {}", super::one_line(&format!("{e:#}"))))?;
    let mut store: Store<ComponentState> = component_host::new_store(engine, &[], &[], &limits)?;
    // Whatever the engine meters (a pool's timeout or fuel), listing is not
    // a call: no deadline, all the fuel there is (an error: no fuel metered).
    store.set_epoch_deadline(u64::MAX / 2);
    let _ = store.set_fuel(u64::MAX);
    let instance = pre
        .instantiate(&mut store)
        .map_err(|e| format!("cannot instantiate the component: {}", describe_trap(&e, &limits)))?;
    let tasks = instance
        .get_typed_func::<(), (Vec<String>,)>(&mut store, &exports.tasks)
        .map_err(|e| format!("export `tasks`: {e}"))?;
    let (names,) = tasks.call(&mut store, ()).map_err(|e| format!("tasks() failed: {}", describe_trap(&e, &limits)))?;
    Ok(names)
}

/// One import or export of a component, with its type as WIT writes it.
pub(crate) fn items(component: &Component, imports: bool) -> Vec<(String, String)> {
    let engine = component.engine();
    let ty = component.component_type();
    let list: Vec<(String, String)> = if imports {
        ty.imports(engine).map(|(name, item)| (name.to_string(), item_string(&item.ty))).collect()
    } else {
        ty.exports(engine).map(|(name, item)| (name.to_string(), item_string(&item.ty))).collect()
    };
    list
}

/// Whether the host's linker defines `import`: an interface of WASI
/// preview 2's packages at a 0.2.x version (wasmtime matches
/// semver-compatible versions, and `add_to_linker_sync` defines all of
/// `wasi:cli/imports`). A component model linker cannot list what it
/// defines, so this is the list; loading links for certain.
pub(crate) fn provided_import(import: &str) -> bool {
    const PACKAGES: [&str; 6] =
        ["wasi:cli/", "wasi:clocks/", "wasi:filesystem/", "wasi:io/", "wasi:random/", "wasi:sockets/"];
    match import.split_once('@') {
        Some((name, version)) => {
            version.starts_with("0.2.") && PACKAGES.iter().any(|p| name.starts_with(p)) && name != "wasi:cli/run"
        }
        None => false,
    }
}

/// An item's type as WIT writes it (functions in full, other items by kind).
fn item_string(item: &ComponentItem) -> String {
    match item {
        ComponentItem::ComponentFunc(f) => func_string(f),
        ComponentItem::CoreFunc(_) => "core func".into(),
        ComponentItem::Module(_) => "core module".into(),
        ComponentItem::Component(_) => "component".into(),
        ComponentItem::ComponentInstance(_) => "instance".into(),
        ComponentItem::Type(t) => format!("type {}", type_string(t)),
        ComponentItem::Resource(_) => "resource".into(),
    }
}

fn func_string(f: &ComponentFunc) -> String {
    let params: Vec<String> = f.params().map(|(n, t)| format!("{n}: {}", type_string(&t))).collect();
    let results: Vec<String> = f.results().map(|t| type_string(&t)).collect();
    match results.as_slice() {
        [] => format!("func({})", params.join(", ")),
        [one] => format!("func({}) -> {one}", params.join(", ")),
        many => format!("func({}) -> ({})", params.join(", "), many.join(", ")),
    }
}

fn type_string(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_string(&l.ty())),
        Type::Option(o) => format!("option<{}>", type_string(&o.ty())),
        Type::Result(r) => {
            let ok = r.ok().map_or("_".to_string(), |t| type_string(&t));
            match r.err() {
                Some(e) => format!("result<{ok}, {}>", type_string(&e)),
                None if ok == "_" => "result".into(),
                None => format!("result<{ok}>"),
            }
        }
        Type::Tuple(t) => format!("tuple<{}>", t.types().map(|t| type_string(&t)).collect::<Vec<_>>().join(", ")),
        Type::Record(_) => "record".into(),
        Type::Variant(_) => "variant".into(),
        Type::Enum(_) => "enum".into(),
        Type::Flags(_) => "flags".into(),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        other => format!("{other:?}").split('(').next().unwrap_or("type").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasi_preview_2_imports_are_provided_and_others_are_not() {
        assert!(provided_import("wasi:cli/environment@0.2.12"));
        assert!(provided_import("wasi:filesystem/preopens@0.2.0"));
        assert!(!provided_import("wasi:http/outgoing-handler@0.2.0"));
        assert!(!provided_import("wasi:cli/run@0.2.0"));
        assert!(!provided_import("my:thing/api@1.0.0"));
    }
}

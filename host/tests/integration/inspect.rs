//! `rpool-wasm inspect`: a module's mode, tasks, imports, memory, size and
//! cache state, as text and as JSON, and the library's `ModuleInfo`.

use rpool_wasm::{ModuleInfo, ModuleMode};
use rpool_wasm_tests::{Scratch, guests};
use serde_json::json;

use crate::rpool;

#[test]
fn an_abi_module_as_json() {
    let out = rpool(&["inspect", guests::SQUARE, "--json"]).run();
    let info = out.json();
    assert_eq!(info["mode"], "rpool ABI v1");
    assert_eq!(info["tasks"], json!(["square"]));
    assert_eq!(info["size"], std::fs::metadata(guests::SQUARE).unwrap().len());
    assert_eq!(info["memory"]["initial_pages"], 17, "Rust's default: 1 MiB of stack and the data");
    assert_eq!(info["memory"]["maximum_pages"], json!(null));
    let imports = info["imports"].as_array().unwrap();
    assert!(imports.iter().any(|i| i["module"] == "rpool" && i["name"] == "input_len" && i["type"] == "() -> (i32)"));
    assert!(imports.iter().all(|i| i["provided"] == true), "{imports:?}");
    assert_eq!(out.stdout.lines().count(), 1, "one JSON object on one line");
}

#[test]
fn a_command_as_text() {
    let out = rpool(&["inspect", guests::COMMAND]).run();
    let text = out.success();
    assert!(text.starts_with(guests::COMMAND), "{text}");
    assert!(text.contains("  mode      WASI command\n"), "{text}");
    assert!(text.contains("  tasks     _start\n"), "{text}");
    assert!(text.contains("wasi_snapshot_preview1.fd_read (i32, i32, i32, i32) -> (i32)\n"), "{text}");
    assert!(!text.contains("NOT PROVIDED"), "{text}");
}

#[test]
fn imports_the_host_lacks_are_shown_not_refused() {
    let scratch = Scratch::new();
    let module = scratch.file(
        "needs-env.wat",
        r#"(module
             (import "env" "abort" (func))
             (import "wasi_snapshot_preview1" "no_such_call" (func))
             (import "rpool" "input_len" (func (param i32)))
             (memory (export "memory") 1 4)
             (func (export "f") (result i32) i32.const 0))"#,
    );
    let module = module.to_str().unwrap();
    let out = rpool(&["inspect", module]).run();
    let text = out.success();
    assert!(text.contains("env.abort () -> ()   NOT PROVIDED by the host"), "{text}");
    assert!(text.contains("1 page (64 KiB) initially, at most 4 pages (256 KiB)"), "{text}");
    let info = rpool(&["inspect", module, "--json"]).run().json();
    let provided: Vec<_> = info["imports"].as_array().unwrap().iter().map(|i| i["provided"].clone()).collect();
    // The rpool import has the wrong type: not what the host provides either.
    assert_eq!(provided, [json!(false), json!(false), json!(false)]);
    // A run refuses it.
    rpool(&["run", module, "--map", "-"]).stdin("[1]").run().failure(2);
}

#[test]
fn the_cache_state_is_reported_and_left_alone() {
    let cache = Scratch::new();
    let inspect = || rpool(&["inspect", guests::WAT_SQUARE, "--json"]).env("RPOOL_WASM_CACHE_DIR", cache.path()).run();
    let before = inspect().json();
    assert_eq!(before["cached"], false);
    let artifact = before["artifact"].as_str().unwrap().to_string();
    assert!(artifact.starts_with(cache.path().to_str().unwrap()), "{artifact}");
    assert!(!std::path::Path::new(&artifact).exists(), "inspecting compiles nothing into the cache");
    let out =
        rpool(&["run", guests::WAT_SQUARE, "--map", "-"]).env("RPOOL_WASM_CACHE_DIR", cache.path()).stdin("[3]").run();
    assert_eq!(out.json(), json!([9]));
    let after = inspect().json();
    assert_eq!(after["cached"], true);
    assert_eq!(after["artifact"], artifact.as_str());
    assert!(std::path::Path::new(&artifact).is_file());
}

#[test]
fn bad_modules_are_one_line_usage_errors() {
    let scratch = Scratch::new();
    let out = rpool(&["inspect", scratch.path().join("missing.wasm").to_str().unwrap()]).run();
    out.failure(2);
    out.one_line_error("cannot read task module");
    let junk = scratch.file("junk.wasm", "hello");
    let out = rpool(&["inspect", junk.to_str().unwrap()]).run();
    out.failure(2);
    out.one_line_error("is not a valid WebAssembly module");
}

#[test]
fn the_library_api() {
    let cache = Scratch::new();
    let info = ModuleInfo::inspect_in(guests::WAT_SCALE, cache.path()).unwrap();
    assert_eq!(info.mode, ModuleMode::Abi);
    assert_eq!(info.mode.to_string(), "rpool ABI v1");
    assert_eq!(info.tasks, ["set_factor", "scale"]);
    assert!(!info.cached);
    let imports: Vec<_> = info.imports.iter().map(|i| (i.module.as_str(), i.name.as_str(), i.provided)).collect();
    assert_eq!(
        imports,
        [
            ("rpool", "input_len", true),
            ("rpool", "input_read", true),
            ("rpool", "output_write", true),
            ("rpool", "error_write", true)
        ]
    );
    let memory = info.memory.unwrap();
    assert_eq!((memory.initial_pages, memory.maximum_pages), (1, None));
}

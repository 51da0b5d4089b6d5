//! `rpool-wasm new`: each language's scaffold builds with the commands it
//! prints and runs through the real binary. Rust always; C, Zig, Go,
//! AssemblyScript, Python and JavaScript when their toolchains are here (as
//! in `languages.rs`: a loud `SKIPPED:` otherwise, a failure under
//! `RPOOL_REQUIRE_TOOLCHAINS=1`). The C, Zig and Go scaffolds also build
//! with `rpool-wasm build`, as the Python and JavaScript ones do.

use std::path::Path;

use rpool_wasm_tests::{Cli, Scratch};
use serde_json::json;

use crate::languages::{self, ASSEMBLYSCRIPT, C, GO, JAVASCRIPT, Language, PYTHON, ZIG};
use crate::rpool;

/// `rpool-wasm new DIR ARGS…`, which must succeed; returns what it printed.
fn new(dir: &Path, args: &[&str]) -> String {
    let out = rpool(&["new", dir.to_str().unwrap()]).args(args).run();
    out.success().to_string()
}

/// The project's module runs the scaffold's `square` over its `inputs.json`.
fn check_runs(dir: &Path, module: &str) {
    let module = dir.join(module);
    assert!(module.is_file(), "the build did not write {}", module.display());
    let inputs = dir.join("inputs.json");
    let out = rpool(&["run", module.to_str().unwrap(), "--map", inputs.to_str().unwrap()]).run();
    assert_eq!(out.json(), json!([1, 4, 9, 16, 25]));
    let out = rpool(&["run", module.to_str().unwrap(), "--map", "-"]).stdin("[3037000500]").run();
    out.failure(1);
    out.one_line_error("item 0: square failed: square(3037000500) overflows a 64-bit integer");
}

#[test]
fn rust() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("my-task");
    // The registry's rpool-guest is not reachable here: the checkout's SDK.
    let printed = new(&dir, &["--sdk", GUEST_SDK]);
    let build = "cargo build --release --target wasm32-wasip1";
    assert!(
        printed.contains(&format!(
            "&& {build} && rpool-wasm run target/wasm32-wasip1/release/my_task.wasm --map inputs.json"
        )),
        "{printed}"
    );
    assert!(printed.contains("guest-sdk"), "it says where rpool-guest comes from: {printed}");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The printed commands, with this test's cargo; the test's own build
    // settings are for the host, not for the task.
    let script = format!(
        "unset CARGO_TARGET_DIR CARGO_BUILD_TARGET RUSTFLAGS CARGO_ENCODED_RUSTFLAGS && cd \"$1\" && \"$2\" {}",
        build.strip_prefix("cargo ").unwrap()
    );
    Cli::new("sh").args(["-c", &script, "sh"]).args([dir.as_os_str(), cargo.as_ref()]).run().success();
    check_runs(&dir, "target/wasm32-wasip1/release/my_task.wasm");
}

/// The checkout's Rust guest SDK.
const GUEST_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

#[test]
fn rust_depends_on_the_registry_by_default() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("my-task");
    let printed = new(&dir, &[]);
    assert!(printed.contains("rpool-guest 0.1 from crates.io"), "{printed}");
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("\nrpool-guest = \"0.1\"\n"), "{manifest}");
    let with_sdk = scratch.path().join("with-sdk");
    new(&with_sdk, &["--sdk", GUEST_SDK]);
    let manifest = std::fs::read_to_string(with_sdk.join("Cargo.toml")).unwrap();
    let sdk = std::fs::canonicalize(GUEST_SDK).unwrap();
    assert!(manifest.contains(&format!("rpool-guest = {{ path = \"{}\" }}", sdk.display())), "{manifest}");
}

/// `new` and `build` write copies of the SDKs and of the WIT world compiled
/// into the binary (`host/cli/templates/sdk`, `host/cli/templates/wit`), so
/// that the package needs nothing outside its folder: they must be the SDKs
/// of `guest-sdk/` and the world of `wit/`.
#[test]
fn the_binarys_sdk_copies_are_the_sdks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let go = ["go.mod", "rpool.go", "fast.go", "abi_wasm.go", "abi_native.go", "README.md"]
        .map(|file| (format!("sdk/go/{file}"), format!("guest-sdk/go/{file}")));
    let single = [
        ("rpool.h", "c/rpool.h"),
        ("rpool.zig", "zig/rpool.zig"),
        ("rpool.ts", "assemblyscript/rpool.ts"),
        ("python/rpool_shim.py", "python/rpool_shim.py"),
        ("javascript/build.mjs", "javascript/build.mjs"),
        ("javascript/rpool_shim.js", "javascript/rpool_shim.js"),
    ]
    .map(|(copy, original)| (format!("sdk/{copy}"), format!("guest-sdk/{original}")));
    // The whole world, both ways: a file added to wit/ must be copied too.
    let mut wit = Vec::new();
    files_under(&root.join("../wit"), &mut wit);
    files_under(&root.join("cli/templates/wit"), &mut wit);
    let wit = wit.into_iter().map(|file| (format!("wit/{file}"), format!("wit/{file}")));
    for (copy, original) in single.into_iter().chain(go).chain(wit) {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_else(|e| format!("({e})"));
        let (copied, source) = (read(&root.join("cli/templates").join(&copy)), read(&root.join("..").join(&original)));
        assert!(copied == source, "host/cli/templates/{copy} differs from {original}: copy it over");
    }
}

/// The paths of the files under `dir`, relative to it, appended to `found`.
fn files_under(dir: &Path, found: &mut Vec<String>) {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_str().unwrap().to_string());
            }
        }
    }
}

/// Builds a C, Zig, Go or AssemblyScript scaffold with its `./build.sh`,
/// then (but AssemblyScript, which `build` does not take) with
/// `rpool-wasm build` from its folder.
fn check_scaffold(lang: &'static Language, flag: &str, env: &[(&str, &Path)]) {
    if !languages::toolchain(lang) {
        return;
    }
    let scratch = Scratch::new();
    let dir = scratch.path().join(format!("task-{flag}"));
    let printed = new(&dir, &["--lang", flag]);
    assert!(printed.contains(&format!("./build.sh && rpool-wasm run task-{flag}.wasm --map inputs.json")), "{printed}");
    let mut build = Cli::new("sh").args([dir.join("build.sh")]);
    for (key, value) in env {
        build = build.env(key, value);
    }
    build.run().success();
    check_runs(&dir, &format!("task-{flag}.wasm"));
    if flag == "assemblyscript" {
        return;
    }
    // The flag is the extension: task.c, task.zig, task.go.
    rpool(&["build", &format!("task.{flag}"), "-o", "built.wasm"]).current_dir(&dir).run().success();
    check_runs(&dir, "built.wasm");
}

/// Builds a Python or JavaScript scaffold with the command it prints (for
/// JavaScript, without `npm install`: `env` names the SDK's componentize-js),
/// and runs it: `square` over inputs.json, and its error for a string.
/// Returns the module, and the scratch directory that holds it.
fn check_component_scaffold(flag: &str, env: &[(&str, &Path)]) -> (Scratch, String) {
    let scratch = Scratch::new();
    let dir = scratch.path().join(format!("task-{flag}"));
    let printed = new(&dir, &["--lang", flag]);
    let source = if flag == "python" { "tasks.py" } else { "tasks.js" };
    let install = if flag == "python" { "" } else { "npm install && " };
    assert!(
        printed.contains(&format!("{install}rpool-wasm build {source} && rpool-wasm run tasks.wasm --map inputs.json")),
        "{printed}"
    );
    let mut build = rpool(&["build", source]).current_dir(&dir);
    for (key, value) in env {
        build = build.env(key, value);
    }
    build.run().success();
    let module = dir.join("tasks.wasm");
    let inputs = dir.join("inputs.json");
    let out = rpool(&["run", module.to_str().unwrap(), "--map", inputs.to_str().unwrap()]).run();
    assert_eq!(out.json(), json!([1, 4, 9, 16, 25]));
    let out = rpool(&["run", module.to_str().unwrap(), "--map", "-"]).stdin(r#"["a"]"#).run();
    out.failure(1);
    let got = if flag == "python" { "'a'" } else { "\"a\"" };
    out.one_line_error(&format!("item 0: square failed: TypeError: square expects a number, got {got}"));
    let module = module.to_str().unwrap().to_string();
    (scratch, module)
}

#[test]
fn python() {
    if !languages::toolchain(&PYTHON) {
        return;
    }
    let (_scratch, module) = check_component_scaffold("python", &[]);
    // Python's integers are exact past 64 bits.
    let out = rpool(&["run", &module, "--map", "-"]).stdin("[3037000500]").run();
    assert_eq!(out.json(), json!([9223372037000250000u64]));
}

#[test]
fn javascript() {
    if !languages::toolchain(&JAVASCRIPT) {
        return;
    }
    // The SDK's componentize-js, which `npm ci` installed, rather than an
    // `npm install` (network) in the new project.
    let sdk = languages::repo_root().join("guest-sdk/javascript");
    let (_scratch, module) = check_component_scaffold("javascript", &[("RPOOL_COMPONENTIZE_JS", &sdk)]);
    // A double past 2^53 is not exact: the template says so rather than round.
    let out = rpool(&["run", &module, "--map", "-"]).stdin("[3037000500]").run();
    out.failure(1);
    out.one_line_error("item 0: square failed: RangeError: square(3037000500) is past 2^53, where doubles lose digits");
}

#[test]
fn c() {
    check_scaffold(&C, "c", &[]);
}

#[test]
fn zig() {
    check_scaffold(&ZIG, "zig", &[]);
}

#[test]
fn go() {
    check_scaffold(&GO, "go", &[]);
}

#[test]
fn assemblyscript() {
    // The compiler `npm ci` installed for the example guest, rather than an
    // `npm install` (network) in the new project.
    let asc = languages::repo_root().join("guests/assemblyscript/node_modules/.bin/asc");
    check_scaffold(&ASSEMBLYSCRIPT, "assemblyscript", &[("ASC", &asc)]);
}

#[test]
fn an_existing_directory_is_never_overwritten() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("taken");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "mine").unwrap();
    let out = rpool(&["new", dir.to_str().unwrap(), "--lang", "c"]).run();
    out.failure(2);
    out.one_line_error("already exists; `new` creates a new directory");
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["keep.txt"]);
}

#[test]
fn bad_names_and_sdks_are_usage_errors() {
    let scratch = Scratch::new();
    let out = rpool(&["new", scratch.path().join("My Task").to_str().unwrap()]).run();
    out.failure(2);
    out.one_line_error("a project name is a lowercase letter then lowercase letters, digits, - or _");
    let out =
        rpool(&["new", scratch.path().join("t").to_str().unwrap(), "--sdk", scratch.path().to_str().unwrap()]).run();
    out.failure(2);
    out.one_line_error("is not the rpool-guest SDK, which is not on crates.io: pass --sdk PATH");
    assert!(!scratch.path().join("t").exists(), "nothing is created on an error");
    let out = rpool(&["new", scratch.path().join("t").to_str().unwrap(), "--lang", "cobol"]).run();
    out.failure(2);
}

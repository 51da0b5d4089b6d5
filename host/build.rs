//! Records the wasmtime version this build resolved (from the workspace's
//! Cargo.lock), for `rpool-wasm --version`, and links the `rpool-wasm`
//! binary as a position-dependent executable on Linux (see [`link_no_pie`]).

fn main() {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    // [[package]] blocks: `name = "wasmtime"` followed by `version = "…"`.
    let version = text
        .split("[[package]]")
        .find(|block| block.lines().any(|l| l.trim() == "name = \"wasmtime\""))
        .and_then(|block| block.lines().find_map(|l| l.trim().strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "48".to_string());
    println!("cargo:rustc-env=RPOOL_WASMTIME_VERSION={version}");
    link_no_pie();
}

/// Every run starts at least two processes of this binary (the parent and a
/// worker), so its start-up is paid several times before the first item.
/// As a position-independent executable, the dynamic loader applies ~53,000
/// relative relocations at each start, writing to every page of
/// `.data.rel.ro` and the GOT: ~210 copy-on-write page faults per process,
/// measured at 0.4–0.9 ms of CPU each, ~1.8 ms of a 10-item run's 9 ms
/// (docs/performance.md, "Linked without `-pie`"). Linked without `-pie`, those addresses
/// are fixed at link time and the pages stay shared with the page cache.
/// The cost is address-space randomisation of the executable's own image
/// (libraries, heap, stacks and wasm memories are still randomised), as with
/// Go's default binaries; `RPOOL_WASM_PIE=1` at build time keeps the
/// platform's default instead. Only the binary: the library is unaffected.
fn link_no_pie() {
    println!("cargo:rerun-if-env-changed=RPOOL_WASM_PIE");
    let env = |key: &str| std::env::var(key).unwrap_or_default();
    let keep_pie = env("RPOOL_WASM_PIE") == "1";
    // `-no-pie` is a flag of the gcc and clang drivers that Rust links with
    // on GNU/Linux; other targets, and a static build (its own
    // `-static-pie`), keep their default.
    let static_crt = env("CARGO_CFG_TARGET_FEATURE").split(',').any(|feature| feature == "crt-static");
    if !keep_pie && !static_crt && env("CARGO_CFG_TARGET_OS") == "linux" && env("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bin=rpool-wasm=-no-pie");
    }
}

//! Records the wasmtime version this build resolved (from the workspace's
//! Cargo.lock), for `rpool-wasm --version`.

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
}

//! C: clang for wasm32-wasi with wasi-libc, as a reactor (no `main`;
//! `_initialize` runs the C library's constructors), with the SDK's
//! `rpool.h` on the include path. A project's own `rpool.h`, beside the
//! source, is found first (`#include "rpool.h"` looks there before `-I`).

use super::toolchain::Tool;
use super::{Built, Job};
use crate::CliError;

const CLANG: Tool = Tool {
    name: "clang",
    env: "CLANG",
    pypi: None,
    install: "apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32",
};

const RPOOL_H: &str = include_str!("../templates/sdk/rpool.h");

/// Compiles the C source into `job.out`.
pub(super) fn build(job: &Job) -> Result<Built, CliError> {
    let include = job.sdk.join("c");
    job.write_files(&include, &[("rpool.h", RPOOL_H)])?;
    // `wasm32-wasi`, not `wasm32-wasip1`: Debian's clang 14 and wasi-libc
    // know only the older name, and newer ones still accept it.
    CLANG.run(job, |command| {
        command
            .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Wextra", "-I"])
            .arg(&include)
            .arg("-o")
            .arg(&job.out)
            .arg(&job.abs_source);
    })
}

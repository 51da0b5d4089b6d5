//! Zig: `zig build-exe` for wasm32-wasi as a reactor with no entry point,
//! exporting the tasks (`-rdynamic`), with the SDK's `rpool.zig` as the
//! module `rpool` that the source imports.

use super::toolchain::Tool;
use super::{Built, Job};
use crate::CliError;

/// Zig from PyPI's ziglang (the release the SDK's `std.json` use is written
/// for), else `zig` on PATH.
const ZIG: Tool =
    Tool { name: "zig", env: "ZIG", pypi: Some(("ziglang", "zig")), install: "python3 -m pip install ziglang==0.17.1" };

const RPOOL_ZIG: &str = include_str!("../templates/sdk/rpool.zig");

/// Compiles the Zig source into `job.out`.
pub(super) fn build(job: &Job) -> Result<Built, CliError> {
    let sdk = job.sdk.join("zig");
    job.write_files(&sdk, &[("rpool.zig", RPOOL_ZIG)])?;
    let mut emit = std::ffi::OsString::from("-femit-bin=");
    emit.push(&job.out);
    let mut root = std::ffi::OsString::from("-Mroot=");
    root.push(&job.abs_source);
    let mut rpool = std::ffi::OsString::from("-Mrpool=");
    rpool.push(sdk.join("rpool.zig"));
    ZIG.run(job, |command| {
        command
            .args(["build-exe", "-target", "wasm32-wasi", "-mexec-model=reactor", "-fno-entry", "-rdynamic"])
            .args(["-O", "ReleaseSmall"])
            .arg(emit)
            .args(["--dep", "rpool"])
            .arg(root)
            .arg(rpool);
    })
}

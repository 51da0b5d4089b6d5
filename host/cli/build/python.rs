//! Python: a component through componentize-py, with the SDK's shim as the
//! app. The shim imports the author's module by the name the build writes
//! into a one-line module beside it (`rpool_task_module`), so that a
//! source of any name (`my_jobs.py`) is the module of tasks.

use super::toolchain::Tool;
use super::{Built, Job, wit};
use crate::CliError;

/// componentize-py, of the release the shim is written for (its bindings
/// module, `componentize_py_types`, changes between releases).
const COMPONENTIZE_PY: Tool = Tool {
    name: "componentize-py",
    env: "COMPONENTIZE_PY",
    pypi: None,
    install: "python3 -m pip install componentize-py==0.25.1",
};

const SHIM: &str = include_str!("../templates/sdk/python/rpool_shim.py");

/// The module names the build itself puts on the component's path.
const RESERVED: &[&str] = &["rpool_shim", "rpool_task_module", "wit_world", "componentize_py_types"];

/// Componentizes the Python module into `job.out`.
pub(super) fn build(job: &Job) -> Result<Built, CliError> {
    let module = job.stem();
    if !is_identifier(module) {
        return Err(job.usage(format!(
            "a Python task module's name must be a Python identifier (letters, digits and _, not first a digit), \
             so that it can be imported: rename it, e.g. to {}.py",
            suggested_name(module)
        )));
    }
    if RESERVED.contains(&module) {
        return Err(job.usage(format!("{module} is the name of a module of the SDK's; rename the source")));
    }
    let shim_dir = job.sdk.join("python");
    let name_module = format!("NAME = {module:?}\n");
    job.write_files(&shim_dir, &[("rpool_shim.py", SHIM), ("rpool_task_module.py", &name_module)])?;
    let wit = wit::write(job)?;
    let mut built = COMPONENTIZE_PY.run(job, |command| {
        command
            .arg("-d")
            .arg(&wit)
            .args(["-w", wit::WORLD, "componentize", "rpool_shim", "-p"])
            .arg(&shim_dir)
            .arg("-p")
            .arg(job.source_dir())
            .arg("-o")
            .arg(&job.out)
            // componentize-py's errors are anyhow's: with RUST_BACKTRACE set
            // they carry a stack trace of componentize-py itself, which says
            // nothing about the author's code.
            .env("RUST_LIB_BACKTRACE", "0");
    })?;
    // Its one progress line; the summary line says the same.
    built.output =
        built.output.lines().filter(|l| l.trim() != "Component built successfully").collect::<Vec<_>>().join("\n");
    Ok(built)
}

/// Whether `name` is an ASCII Python identifier.
fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name` with what an identifier cannot hold replaced by `_`.
fn suggested_name(name: &str) -> String {
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() { format!("_{name}") } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        for good in ["tasks", "my_jobs", "_x", "Jobs2"] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in ["my-jobs", "2x", "a.b", "", "é"] {
            assert!(!is_identifier(bad), "{bad}");
        }
        assert_eq!(suggested_name("my-jobs"), "my_jobs");
        assert_eq!(suggested_name("2x"), "_2x");
    }
}

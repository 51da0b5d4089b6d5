//! Every exit code of `rpool-wasm`, and the error type that maps to them:
//! the one place that decides what a failure means to a calling script.

use std::fmt;

/// The exit codes, documented in the README's CLI reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Every item succeeded and the output was written.
    Success = 0,
    /// An item failed (its index and message are printed).
    TaskFailed = 1,
    /// Bad usage or bad input: flags, input JSON, the module, an export name.
    Usage = 2,
    /// A worker could not start: the initializer failed, or the module could not be instantiated.
    WorkerStart = 3,
    /// The pool could not run: no worker program, no cache directory, a pool stopped by a worker failure.
    Environment = 4,
    /// The output could not be written.
    Output = 5,
    /// Interrupted by SIGINT (Ctrl-C): 128 + 2, as shells report it.
    Interrupted = 130,
    /// Stopped by SIGTERM: 128 + 15.
    Terminated = 143,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// A failure of a command, with the exit code it maps to.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// Bad usage or input (exit 2).
    Usage(String),
    /// A worker could not start (exit 3).
    WorkerStart(String),
    /// The pool could not run (exit 4).
    Environment(String),
    /// An item failed (exit 1).
    Task(crate::TaskError),
    /// The output could not be written (exit 5).
    Output(String),
    /// A signal stopped the run (exit 130 for SIGINT, 143 for SIGTERM).
    Signal(i32),
    /// With `--keep-going`, this many items failed (exit 1); each was reported.
    ItemsFailed(usize),
    /// Whoever read standard output closed it (`| head`): a quiet end (exit 0).
    StdoutClosed,
}

impl CliError {
    /// The exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::Usage,
            CliError::WorkerStart(_) => ExitCode::WorkerStart,
            CliError::Environment(_) => ExitCode::Environment,
            CliError::Task(_) | CliError::ItemsFailed(_) => ExitCode::TaskFailed,
            CliError::StdoutClosed => ExitCode::Success,
            CliError::Output(_) => ExitCode::Output,
            CliError::Signal(libc::SIGTERM) => ExitCode::Terminated,
            CliError::Signal(_) => ExitCode::Interrupted,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::WorkerStart(m) | CliError::Environment(m) | CliError::Output(m) => {
                f.write_str(m)
            }
            CliError::Task(e) => e.fmt(f),
            CliError::Signal(signal) => write!(f, "interrupted by {}; the workers were stopped", signal_name(*signal)),
            CliError::ItemsFailed(1) => f.write_str("1 item failed"),
            CliError::ItemsFailed(n) => write!(f, "{n} items failed"),
            CliError::StdoutClosed => f.write_str("standard output was closed"),
        }
    }
}

impl std::error::Error for CliError {}

/// "SIGINT" or "SIGTERM", the signals `run` handles.
pub(super) fn signal_name(signal: i32) -> &'static str {
    if signal == libc::SIGTERM { "SIGTERM" } else { "SIGINT" }
}

impl From<crate::BuildError> for CliError {
    fn from(error: crate::BuildError) -> Self {
        use crate::BuildError as B;
        let message = error.to_string();
        match error {
            B::WorkerStart { .. } => CliError::WorkerStart(message),
            B::WorkerNotFound { .. } | B::Spawn { .. } | B::Cache { .. } => CliError::Environment(message),
            _ => CliError::Usage(message),
        }
    }
}

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
    /// `build`: the source's toolchain is not installed (the message names the package).
    ToolchainMissing = 6,
    /// `build`: the toolchain ran and failed, as on a syntax error (its output follows the message).
    BuildFailed = 7,
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
    Task(rpool_wasm::TaskError),
    /// The output could not be written (exit 5).
    Output(String),
    /// A signal stopped the run (exit 130 for SIGINT, 143 for SIGTERM).
    Signal(i32),
    /// With `--keep-going`, this many items failed (exit 1); each was reported.
    ItemsFailed(usize),
    /// Whoever read standard output closed it (`| head`): a quiet end (exit 0).
    StdoutClosed,
    /// `build` found no toolchain for the source (exit 6): what is missing and how to install it.
    ToolchainMissing(String),
    /// A signal stopped `build` and its toolchain (exit 130 for SIGINT, 143 for SIGTERM).
    BuildInterrupted(i32),
    /// `build`'s toolchain failed (exit 7): a one-line summary, then the toolchain's own output.
    BuildFailed {
        /// What failed, on one line.
        summary: String,
        /// What the toolchain printed (stdout and stderr, in order).
        output: String,
    },
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
            CliError::ToolchainMissing(_) => ExitCode::ToolchainMissing,
            CliError::BuildFailed { .. } => ExitCode::BuildFailed,
            CliError::Signal(libc::SIGTERM) | CliError::BuildInterrupted(libc::SIGTERM) => ExitCode::Terminated,
            CliError::Signal(_) | CliError::BuildInterrupted(_) => ExitCode::Interrupted,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m)
            | CliError::WorkerStart(m)
            | CliError::Environment(m)
            | CliError::Output(m)
            | CliError::ToolchainMissing(m) => f.write_str(m),
            // The summary is the error's line; the toolchain's own words follow it
            // unchanged, since its line numbers and carets are what the author needs.
            CliError::BuildFailed { summary, output } if output.trim().is_empty() => {
                write!(f, "{summary}, saying nothing")
            }
            CliError::BuildFailed { summary, output } => write!(f, "{summary}; its output:\n{}", output.trim_end()),
            CliError::Task(e) => e.fmt(f),
            CliError::Signal(signal) => {
                write!(f, "interrupted by {}; the workers were stopped", handled_signal_name(*signal))
            }
            CliError::BuildInterrupted(signal) => {
                write!(
                    f,
                    "interrupted by {}; the toolchain was stopped, and nothing written",
                    handled_signal_name(*signal)
                )
            }
            CliError::ItemsFailed(1) => f.write_str("1 item failed"),
            CliError::ItemsFailed(n) => write!(f, "{n} items failed"),
            CliError::StdoutClosed => f.write_str("standard output was closed"),
        }
    }
}

impl std::error::Error for CliError {}

/// "SIGINT" or "SIGTERM", the signals `run` handles.
pub(super) fn handled_signal_name(signal: i32) -> &'static str {
    if signal == libc::SIGTERM { "SIGTERM" } else { "SIGINT" }
}

/// An error's message and its causes, on one line: the library's errors
/// print their cause once, as `source()`, so the command line joins them.
pub(super) fn one_line(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// An export error with the flag that picks an export, where it helps.
pub(super) fn export_error(error: &rpool_wasm::ExportError) -> CliError {
    match error {
        rpool_wasm::ExportError::Ambiguous { available, .. } => CliError::Usage(format!(
            "the module has {} task exports, so name one (--func NAME): {}",
            available.len(),
            available.join(", ")
        )),
        other => CliError::Usage(other.to_string()),
    }
}

impl From<rpool_wasm::BuildError> for CliError {
    fn from(error: rpool_wasm::BuildError) -> Self {
        use rpool_wasm::BuildError as B;
        // The library names settings; the command line names its flags.
        let message = match &error {
            B::NoWorkers => "a pool needs at least one worker (--workers)".to_string(),
            B::ZeroMaxTasks => "max tasks per worker must be at least 1 (--max-tasks-per-worker)".to_string(),
            B::ZeroTimeout => "the timeout must be longer than zero (--timeout)".to_string(),
            B::NotADirectory { path, guest } => {
                format!("{} is not a directory (granted to tasks as {guest} by --dir)", path.display())
            }
            B::InitializerForCommand { module, initializer } => format!(
                "an initializer (--init {initializer}) needs an rpool ABI v1 module, but {} is a WASI command \
                 (it exports `_start` and no task functions): each item runs in a fresh instance, so no \
                 state an initializer set up would reach the items",
                module.display()
            ),
            B::CommandOnly { module, setting, mode } => {
                let flag = match setting {
                    rpool_wasm::CommandSetting::RawInput => "raw input (--raw-input)",
                    _ => "a command line (the arguments after --)",
                };
                format!(
                    "{flag} is for WASI command modules; {} is {}, whose tasks take JSON",
                    module.display(),
                    mode.noun()
                )
            }
            B::RawOutputForAbi { module, mode } => format!(
                "raw output (--raw-output) is for WASI command modules, whose results are what they print; \
                 {} is {}, whose results are JSON",
                module.display(),
                mode.noun()
            ),
            B::NodeRefused { .. } if message_mentions_directory(&error) => {
                format!("{} (a node grants directories with serve --allow-dir)", one_line(&error))
            }
            other => one_line(other),
        };
        match error {
            B::WorkerStart { .. } | B::ProtocolMismatch { .. } => CliError::WorkerStart(message),
            B::WorkerNotFound { .. }
            | B::Spawn { .. }
            | B::Cache { .. }
            | B::BadWorkersEnv { .. }
            | B::ClusterUnreachable { .. }
            | B::Cluster { .. }
            | B::NodeRefused { .. } => CliError::Environment(message),
            _ => CliError::Usage(message),
        }
    }
}

/// Whether a node refused a job for a directory it does not grant.
fn message_mentions_directory(error: &rpool_wasm::BuildError) -> bool {
    matches!(error, rpool_wasm::BuildError::NodeRefused { message, .. } if message.contains("does not grant"))
}

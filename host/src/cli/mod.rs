//! The `rpool-wasm` command line. `main.rs` only calls [`main`]; the
//! arguments are in `args`, each subcommand in its own file, and every exit
//! code in `exit`.

mod args;
mod exit;
mod input;
mod inspect;
mod journal;
mod new;
mod output;
mod progress;
mod results;
mod run;
mod units;

pub use exit::{CliError, ExitCode};

use clap::Parser;

/// Parses the command line, runs it, prints a one-line error if it fails,
/// and returns the process's exit code.
pub fn main() -> std::process::ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with code 0; usage errors to
            // stderr with clap's code, which is ours too (2).
            let _ = e.print();
            return std::process::ExitCode::from(e.exit_code() as u8);
        }
    };
    let result = match cli.command {
        args::Command::Run(run) => run::run(*run),
        args::Command::Inspect(inspect) => inspect::inspect(inspect),
        args::Command::New(new) => new::new(new),
        args::Command::Completions { shell } => {
            let mut command = <args::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "rpool-wasm", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::Success.into(),
        // A reader that closed our stdout (`| head`) wanted no more: done.
        Err(CliError::StdoutClosed) => ExitCode::Success.into(),
        Err(error) => {
            eprintln!("rpool-wasm: error: {error}");
            error.exit_code().into()
        }
    }
}

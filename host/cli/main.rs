//! The `rpool-wasm` command: a front end on the `rpool_wasm` library's
//! public API. `main` only routes: worker processes are this same binary
//! in a hidden mode, everything else is the command line.

mod args;
mod build;
mod exit;
mod input;
mod inspect;
mod journal;
mod merge;
mod new;
mod output;
mod progress;
mod results;
mod run;
mod serve;
mod shard;
mod units;

use exit::{CliError, ExitCode};

fn main() -> std::process::ExitCode {
    // A worker never returns from here: it serves its parent and exits.
    rpool_wasm::run_worker_if_requested();
    cli()
}

/// Parses the command line, runs it, prints a one-line error if it fails,
/// and returns the process's exit code.
fn cli() -> std::process::ExitCode {
    use clap::Parser;
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
        args::Command::Serve(serve) => serve::serve(serve),
        args::Command::New(new) => new::new(new),
        args::Command::Build(build) => build::build(build),
        args::Command::Merge(merge) => merge::merge(merge),
        args::Command::Completions { shell } => {
            let mut command = <args::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "rpool-wasm", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::Success.into(),
        Err(error) => {
            if error.exit_code() != ExitCode::Success {
                eprintln!("rpool-wasm: error: {error}");
            }
            error.exit_code().into()
        }
    }
}

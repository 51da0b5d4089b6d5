//! The `rpool-wasm` command; everything it does lives in the library.

fn main() -> std::process::ExitCode {
    // Worker processes are this same binary in a hidden mode.
    rpool_wasm::run_worker_if_requested();
    rpool_wasm::cli::main()
}

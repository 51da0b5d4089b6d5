//! Command mode: a worker's side of running a WASI command (a module that
//! exports `_start` and no task functions, such as a plain Rust `fn main` or
//! a C `main`).
//!
//! Each item gets a **fresh instance**, built from the worker's
//! `InstancePre` (linked once), so that a program written to run once sees
//! exactly one input: the item's JSON text on stdin. What it prints on stdout
//! is the result; it fails by exiting non-zero (or trapping), and the tail of
//! what it printed on stderr is the message. Nothing survives from one item
//! to the next, which is why a command has no initializer.

use std::io::Write as _;
use std::path::Path;

use wasmtime::{Engine, InstancePre};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

use super::abi::{self, Outcome, Recipe};
use crate::module::COMMAND_ENTRY;
use crate::wasm::host_abi::{self, HostState};
use crate::wasm::limits::{self, format_size};
use crate::wasm::sandbox;
use crate::wasm::trap::{describe_trap, trap_location};
use crate::wire::worker_config::CommandLine;
use crate::wire::{self, Status};

/// How much of a failed item's stderr its error message keeps: the end,
/// where programs print the reason they stop.
pub(crate) const STDERR_TAIL: usize = 1024;

/// A worker's runner for a WASI command module.
pub(crate) struct CommandRunner {
    pre: InstancePre<HostState>,
    recipe: Recipe,
    raw_output: bool,
    command_line: CommandLine,
}

impl CommandRunner {
    /// Maps and links the precompiled module. The error is the message a
    /// worker reports.
    pub fn new(
        engine: &Engine,
        artifact: &Path,
        recipe: Recipe,
        raw_output: bool,
        command_line: CommandLine,
    ) -> Result<CommandRunner, String> {
        let pre = abi::load_pre(engine, artifact)?;
        // Grants that cannot be made are the worker's start failure, as in
        // ABI v1 mode, rather than every item's.
        sandbox::wasi_builder(&recipe.env, &recipe.dirs)?;
        Ok(CommandRunner { pre, recipe, raw_output, command_line })
    }

    /// Runs the command once with `input` on stdin.
    pub fn call(&mut self, input: &[u8]) -> Outcome<'static> {
        let limits = &self.recipe.limits;
        // One byte over the limit: a full pipe then means the program tried
        // to write more than the limit, whatever it did on the failed write.
        let capacity = usize::try_from(limits.max_output.saturating_add(1)).unwrap_or(usize::MAX);
        let stdout = MemoryOutputPipe::new(capacity);
        let stderr = MemoryOutputPipe::new(capacity);
        let mut wasi = match sandbox::wasi_builder(&self.recipe.env, &self.recipe.dirs) {
            Ok(wasi) => wasi,
            Err(message) => return Outcome::new(Status::Failed, message.into_bytes()),
        };
        let (argv, stdin) = self.command_line.for_item(input);
        wasi.args(&argv);
        wasi.stdin(MemoryInputPipe::new(stdin)).stdout(stdout.clone()).stderr(stderr.clone());
        let mut store = host_abi::new_store(self.pre.module().engine(), wasi.build_p1(), limits);
        // The limits cover the whole item: instantiation (which runs a
        // module's start function) as well as `_start`.
        limits::arm(&mut store, limits);
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, COMMAND_ENTRY)?.call(&mut store, ()));
        let exit = match result {
            Ok(()) => Ok(0),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(I32Exit(code)) => Ok(*code),
                None => Err((describe_trap(&e, limits), trap_location(&e, self.recipe.backtrace))),
            },
        };
        drop(store);
        let stdout = stdout.contents();
        let stderr = stderr.contents();

        if stdout.len() as u64 > limits.max_output {
            return Outcome::new(
                Status::Failed,
                format!("stdout is more than the limit of {} (--max-output)", format_size(limits.max_output))
                    .into_bytes(),
            );
        }
        match exit {
            Ok(0) => {
                let outcome = result_of(&stdout, self.raw_output);
                // Debug output of a successful item is relayed, as a task's is
                // in ABI v1 mode (the parent prefixes it with the worker).
                if !stderr.is_empty() {
                    let _ = std::io::stderr().write_all(&stderr);
                }
                outcome
            }
            Ok(code) => {
                let message = match tail(&stderr) {
                    Some(tail) => format!("exited with code {code}: {tail}"),
                    None => format!("exited with code {code}"),
                };
                Outcome::new(Status::Failed, message.into_bytes())
            }
            Err((trap, location)) => {
                let message = match tail(&stderr) {
                    Some(tail) => format!("{trap}; stderr: {tail}"),
                    None => trap,
                };
                Outcome::new(Status::Trap, wire::trap_payload(&message, &location))
            }
        }
    }
}

impl CommandLine {
    /// The program's `argv` and stdin for one item (its JSON): `{}` in an
    /// argument becomes the item, a string item as its text and any other
    /// as its JSON, as xargs and GNU parallel substitute; stdin is the
    /// item's JSON, or with raw input a string item's text.
    fn for_item(&self, item: &[u8]) -> (Vec<String>, Vec<u8>) {
        let text = || match serde_json::from_slice::<String>(item) {
            Ok(text) => text,
            Err(_) => String::from_utf8_lossy(item).into_owned(),
        };
        let mut argv = Vec::with_capacity(self.args.len() + 1);
        argv.push(self.program.clone());
        let substituted = self.args.iter().any(|a| a.contains("{}")).then(text);
        for arg in &self.args {
            match &substituted {
                Some(item) => argv.push(arg.replace("{}", item)),
                None => argv.push(arg.clone()),
            }
        }
        let stdin = match self.raw_input && item.first() == Some(&b'"') {
            true => substituted.unwrap_or_else(text).into_bytes(),
            false => item.to_vec(),
        };
        (argv, stdin)
    }
}

/// A successful item's result: its stdout as one JSON value (white space
/// around it removed; nothing at all is `null`, as a task that writes no
/// output), or with `raw_output`, its stdout as a JSON string, with the
/// trailing newlines removed as the shell's `$(…)` does.
fn result_of(stdout: &[u8], raw_output: bool) -> Outcome<'static> {
    if raw_output {
        return match std::str::from_utf8(stdout) {
            Ok(text) => {
                let text = text.trim_end_matches(['\n', '\r']);
                Outcome::new(Status::Ok, serde_json::to_vec(text).expect("a string serializes"))
            }
            Err(e) => Outcome::new(Status::InvalidOutput, format!("stdout is not UTF-8 text: {e}").into_bytes()),
        };
    }
    let json = stdout.trim_ascii();
    if json.is_empty() {
        return Outcome::new(Status::Ok, &b"null"[..]);
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(json) {
        Ok(_) => Outcome::new(Status::Ok, json.to_vec()),
        Err(e) => Outcome::new(
            Status::InvalidOutput,
            format!("stdout must be one JSON value ({e}); --raw-output takes it as text").into_bytes(),
        ),
    }
}

/// The last [`STDERR_TAIL`] bytes of `stderr` as one line (its lines joined
/// by ` | `), or `None` if it printed nothing but white space.
pub(crate) fn tail(stderr: &[u8]) -> Option<String> {
    let start = stderr.len().saturating_sub(STDERR_TAIL);
    let mut bytes = &stderr[start..];
    // Start on a character, not in the middle of one.
    while let Some((&b, rest)) = bytes.split_first()
        && start > 0
        && b & 0xC0 == 0x80
    {
        bytes = rest;
    }
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return None;
    }
    let joined = lines.join(" | ");
    Some(if start > 0 { format!("…{joined}") } else { joined })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_is_one_line_from_the_end() {
        assert_eq!(tail(b""), None);
        assert_eq!(tail(b"  \n\n"), None);
        assert_eq!(tail(b"bad input\n").as_deref(), Some("bad input"));
        assert_eq!(tail(b"first\n  second  \n").as_deref(), Some("first | second"));
        let long = format!("{}the end\n", "x".repeat(5000));
        let got = tail(long.as_bytes()).unwrap();
        assert!(got.starts_with('…') && got.ends_with("the end"), "{got}");
        assert_eq!(got.len(), '…'.len_utf8() + STDERR_TAIL - 1);
    }

    #[test]
    fn tail_never_starts_inside_a_character() {
        // 'é' is two bytes: an odd cut would land on its second byte.
        let text = "é".repeat(STDERR_TAIL);
        let got = tail(text.as_bytes()).unwrap();
        assert!(got.trim_start_matches('…').chars().all(|c| c == 'é'), "{got}");
    }

    #[test]
    fn results() {
        let ok = |o: Outcome<'_>| (o.status, String::from_utf8(o.payload.into_owned()).unwrap());
        assert_eq!(ok(result_of(b"49\n", false)), (Status::Ok, "49".into()));
        assert_eq!(ok(result_of(b" {\"a\": 1}\r\n", false)), (Status::Ok, "{\"a\": 1}".into()));
        assert_eq!(ok(result_of(b"", false)), (Status::Ok, "null".into()));
        assert_eq!(result_of(b"1\n2\n", false).status, Status::InvalidOutput);
        assert_eq!(result_of(b"hello", false).status, Status::InvalidOutput);
        assert_eq!(ok(result_of(b"hello \"you\"\n\n", true)), (Status::Ok, r#""hello \"you\"""#.into()));
        assert_eq!(ok(result_of(b"", true)), (Status::Ok, "\"\"".into()));
        assert_eq!(result_of(&[0xff], true).status, Status::InvalidOutput);
    }
}

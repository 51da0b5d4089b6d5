//! A task written as an ordinary program: no SDK, no exported task
//! functions, just `fn main`. rpool-wasm runs such a WASI command in
//! *command mode*: a fresh instance per item, the item's JSON on stdin, the
//! result JSON on stdout, and a non-zero exit status (with a message on
//! stderr) for a failed item.
//!
//! ```sh
//! echo '[1, 2, 3]' | rpool-wasm run command.wasm --map -              # [1,4,9]
//! echo '[[2, 3], [3, 4]]' | rpool-wasm run command.wasm --starmap -   # [8,81]
//! ```
//!
//! Besides squaring a number and raising `[base, exp]` to a power, it
//! answers a few objects that exercise the host's side of command mode
//! (see `answer`).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// Calls of `answer` in this instance: always 1 in command mode, since
/// every item gets a fresh instance (nothing survives from one item to the next).
static CALLS: AtomicU64 = AtomicU64::new(0);

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("cannot read the item from stdin: {e}");
        return ExitCode::FAILURE;
    }
    match answer(&input) {
        Ok(Some(result)) => {
            println!("{result}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(message) => {
            // The host keeps the tail of stderr as the item's error message.
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// The result for one item; `Ok(None)` when the item printed its own output.
fn answer(input: &str) -> Result<Option<Value>, String> {
    CALLS.fetch_add(1, Ordering::Relaxed);
    let item: Value = serde_json::from_str(input).map_err(|e| format!("the item is not JSON: {e}"))?;
    match &item {
        // map over numbers: the square.
        Value::Number(_) => {
            let x = item.as_i64().ok_or_else(|| format!("square expects an integer, got {item}"))?;
            x.checked_mul(x).map(|r| Some(json!(r))).ok_or_else(|| format!("square({x}) overflows a 64-bit integer"))
        }
        // starmap over [base, exp] (or map over such pairs): the power.
        Value::Array(args) => match args.as_slice() {
            [base, exp] => {
                let (Some(base), Some(exp)) = (base.as_i64(), exp.as_u64().and_then(|e| u32::try_from(e).ok())) else {
                    return Err(format!("power expects [base, exp], two integers, got {item}"));
                };
                base.checked_pow(exp).map(|r| Some(json!(r))).ok_or_else(|| format!("{base}^{exp} overflows"))
            }
            _ => Err(format!("expected a number or [base, exp], got {item}")),
        },
        Value::Object(request) => special(request),
        _ => Err(format!("expected a number or [base, exp], got {item}")),
    }
}

/// Objects that make the program behave in one particular way, for the
/// tests of the host's command mode.
fn special(request: &serde_json::Map<String, Value>) -> Result<Option<Value>, String> {
    let text = |key: &str| request.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    if request.contains_key("echo") {
        // Prints the text as it is, JSON or not.
        print!("{}", text("echo"));
        Ok(None)
    } else if request.contains_key("argv") {
        // The command line the host gave: argv[0] and the arguments.
        Ok(Some(json!(std::env::args().collect::<Vec<_>>())))
    } else if request.contains_key("calls") {
        Ok(Some(json!(CALLS.load(Ordering::Relaxed))))
    } else if request.contains_key("env") {
        Ok(Some(json!(std::env::var(text("env")).ok())))
    } else if let Some(code) = request.get("exit").and_then(Value::as_i64) {
        // Leaves through `proc_exit` rather than by returning from main,
        // after printing a result.
        println!("{}", json!({ "exited": code }));
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        std::process::exit(code as i32)
    } else if request.contains_key("panic") {
        panic!("{}", text("panic"))
    } else if let Some(bytes) = request.get("stderr").and_then(Value::as_u64) {
        // A long error: the host keeps only its tail.
        let filler: String = (0..bytes).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        Err(format!("{filler} the end"))
    } else if request.contains_key("debug") {
        // Debug output on stderr, and a result: the item succeeds.
        eprintln!("debug: {}", text("debug"));
        Ok(Some(json!("ok")))
    } else if request.contains_key("spin") {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    } else {
        Err(format!("unknown request {}", Value::Object(request.clone())))
    }
}

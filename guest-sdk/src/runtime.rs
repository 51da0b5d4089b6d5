//! What the generated shims call: argument decoding, result encoding, the panic hook.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::cell::Cell;
use std::fmt::Display;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

use crate::lone_integer::lone_integer;

thread_local! {
    /// Set by the panic hook: the error message of the current call is the panic's.
    static PANICKED: Cell<bool> = const { Cell::new(false) };
    /// The input and result buffers, kept from one call to the next: a tiny task would
    /// otherwise spend a good part of each call allocating and freeing them.
    static INPUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static OUTPUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    /// A chunk call's results, laid end to end.
    static CHUNK_OUTPUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A buffer bigger than this is not kept for the next call: one huge item must not hold on to
/// its memory for the instance's lifetime.
const KEEP_BUFFER: usize = 1 << 20;

/// Puts `buf` back in `slot` for the next call, unless it grew too big to keep.
fn keep(slot: &'static std::thread::LocalKey<Cell<Vec<u8>>>, buf: Vec<u8>) {
    if buf.capacity() <= KEEP_BUFFER {
        slot.set(buf);
    }
}

/// Runs one task (or initializer) call: `body` gets the input and returns the JSON result
/// (`None`: no output, i.e. `null`) or an error message. Returns the ABI status code.
///
/// A panic in `body` is reported with its message: on `wasm32-wasip1` (panic = abort) by the
/// hook, just before the abort traps; where panics unwind (native tests) it is caught and the
/// call fails with status 1.
pub fn run(name: &str, body: impl FnOnce(&[u8]) -> Result<Option<Vec<u8>>, String>) -> i32 {
    install_panic_hook();
    PANICKED.set(false);
    // Taken, not borrowed: a task that runs another task's shim gets buffers of its own.
    let mut input = INPUT.take();
    crate::host::input_into(&mut input);
    let status = match panic::catch_unwind(AssertUnwindSafe(|| body(&input))) {
        Ok(Ok(Some(json))) => {
            crate::output(&json);
            keep(&OUTPUT, json);
            0
        }
        Ok(Ok(None)) => 0,
        Ok(Err(message)) => {
            crate::error(&message);
            1
        }
        Err(payload) => {
            if !PANICKED.get() {
                // Another hook replaced ours: report what the payload says.
                let message = payload_text(
                    payload
                        .downcast_ref::<&str>()
                        .copied()
                        .or_else(|| payload.downcast_ref::<String>().map(String::as_str)),
                );
                crate::error(&format!("{name}: panicked: {message}"));
            }
            1
        }
    };
    keep(&INPUT, input);
    status
}

/// Runs a whole chunk of one task's items: the `rpool:chunk:NAME` export (docs/abi.md, "Chunk
/// calls"). The input is `count: u32`, then per item `index: u64, len: u32, args` (its JSON
/// argument array); each item's outcome goes into one output, `status: u8` (0 success, 1
/// failure), `len: u32`, then the result JSON or the error message. Returns 0, or 1 (with an
/// error) for input it cannot read, which the host then runs item by item.
///
/// A panic aborts (on `wasm32-wasip1`) and traps the whole call: the host then runs the chunk's
/// items one by one on a fresh instance, so that the item that panics fails on its own.
pub fn run_chunk(name: &str, mut body: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, String>) -> i32 {
    install_panic_hook();
    PANICKED.set(false);
    let mut input = INPUT.take();
    crate::host::input_into(&mut input);
    let mut results = CHUNK_OUTPUT.take();
    results.clear();
    let status = match panic::catch_unwind(AssertUnwindSafe(|| chunk_results(&input, &mut body, &mut results))) {
        Ok(Ok(())) => {
            crate::output(&results);
            0
        }
        Ok(Err(message)) => {
            crate::error(&format!("{name}: {message}"));
            1
        }
        Err(_) => 1,
    };
    keep(&CHUNK_OUTPUT, results);
    keep(&INPUT, input);
    status
}

/// Runs `body` on each item of a chunk's `input`, appending each outcome to `results`.
fn chunk_results(
    input: &[u8],
    body: &mut impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, String>,
    results: &mut Vec<u8>,
) -> Result<(), String> {
    let take = |at: usize, n: usize| input.get(at..at + n).ok_or("a truncated chunk");
    let count = u32::from_le_bytes(take(0, 4)?.try_into().expect("4 bytes"));
    let mut at = 4;
    for _ in 0..count {
        let len = u32::from_le_bytes(take(at + 8, 4)?.try_into().expect("4 bytes")) as usize;
        let args = take(at + 12, len)?;
        at += 12 + len;
        match body(args) {
            Ok(Some(json)) => {
                push_result(results, 0, &json);
                keep(&OUTPUT, json);
            }
            Ok(None) => push_result(results, 0, b"null"),
            Err(message) => push_result(results, 1, message.as_bytes()),
        }
    }
    Ok(())
}

/// Appends one outcome, `status`, `len: u32`, `payload`.
fn push_result(results: &mut Vec<u8>, status: u8, payload: &[u8]) {
    results.push(status);
    results.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    results.extend_from_slice(payload);
}

/// Up to this many arguments are held without an allocation.
const INLINE_ARGS: usize = 8;

/// The raw JSON text of each argument: the first [`INLINE_ARGS`] in place, any more on the heap.
#[derive(Default)]
struct ArgList<'a> {
    inline: [Option<&'a str>; INLINE_ARGS],
    more: Vec<&'a str>,
    len: usize,
}

impl<'a> ArgList<'a> {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> &'a str {
        match self.inline.get(index) {
            Some(value) => value.expect("index < len"),
            None => self.more[index - INLINE_ARGS],
        }
    }
}

impl<'de> Deserialize<'de> for ArgList<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ArgList<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ArgList<'de>, A::Error> {
                let mut list = ArgList::default();
                while let Some(value) = seq.next_element::<&'de RawValue>()? {
                    let value = value.get();
                    match list.inline.get_mut(list.len) {
                        Some(slot) => *slot = Some(value),
                        None => list.more.push(value),
                    }
                    list.len += 1;
                }
                Ok(list)
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

/// The arguments of a call: the input's JSON array, split into one raw JSON text per argument.
pub struct Args<'a> {
    name: &'a str,
    values: ArgList<'a>,
    /// The input was `[INTEGER]` (see `lone_integer`).
    lone_integer: bool,
}

impl<'a> Args<'a> {
    /// Parses `input` as a JSON array of exactly `expected` elements.
    pub fn parse(name: &'a str, input: &'a [u8], expected: usize) -> Result<Self, String> {
        if expected == 1
            && let Some(integer) = lone_integer(input)
        {
            let mut values = ArgList::default();
            values.inline[0] = Some(integer);
            values.len = 1;
            return Ok(Args { name, values, lone_integer: true });
        }
        let values: ArgList = serde_json::from_slice(input).map_err(|err| {
            format!(
                "{name}: invalid arguments: the input must be the JSON array of the call's \
                 arguments ({})",
                without_position(&err)
            )
        })?;
        if values.len() != expected {
            return Err(format!(
                "{name}: invalid arguments: expected {expected} argument{}, got {}",
                if expected == 1 { "" } else { "s" },
                values.len()
            ));
        }
        Ok(Args { name, values, lone_integer: false })
    }

    /// Deserializes argument `index` (0-based); `label` names it in the error message.
    pub fn get<T: Deserialize<'a>>(&self, index: usize, label: &str) -> Result<T, String> {
        let text = self.values.get(index);
        if self.lone_integer
            && let Some(value) = crate::lone_integer::deserialize(text)
        {
            return Ok(value);
        }
        serde_json::from_str(text)
            .map_err(|err| format!("{}: argument {} ({label}): {}", self.name, index + 1, without_position(&err)))
    }
}

/// Serializes a task's result.
pub fn serialize_output<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<Option<Vec<u8>>, String> {
    // Into the last call's result buffer, which `run` gives back.
    let mut json = OUTPUT.take();
    json.clear();
    match serde_json::to_writer(&mut json, value) {
        Ok(()) => Ok(Some(json)),
        Err(err) => Err(format!("{name}: cannot serialize the result as JSON: {err}")),
    }
}

/// The item error message for a task's `Err(error)`.
pub fn error_message<E: Display + ?Sized>(error: &E) -> String {
    error.to_string()
}

/// serde_json's message without its " at line L column C" suffix: each argument is parsed on
/// its own, so the position would point into that argument, not into the input.
fn without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    if err.line() == 0 {
        return text;
    }
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(stripped) => stripped.to_owned(),
        None => text,
    }
}

fn payload_text(payload: Option<&str>) -> &str {
    payload.unwrap_or("Box<dyn Any>")
}

/// The error message for a panic: `panicked at FILE:LINE:COL: MESSAGE`.
pub(crate) fn panic_message(location: Option<(&str, u32, u32)>, payload: Option<&str>) -> String {
    let payload = payload_text(payload);
    match location {
        Some((file, line, column)) => format!("panicked at {file}:{line}:{column}: {payload}"),
        None => format!("panicked: {payload}"),
    }
}

fn hook_message(info: &PanicHookInfo<'_>) -> String {
    panic_message(
        info.location().map(|location| (location.file(), location.line(), location.column())),
        info.payload_as_str(),
    )
}

/// Installs (once per instance) the hook that reports a panic's message as the call's error,
/// then runs the hook it replaced.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            crate::error(&hook_message(info));
            PANICKED.set(true);
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_format() {
        assert_eq!(
            panic_message(Some(("src/lib.rs", 12, 5)), Some("cannot handle 2")),
            "panicked at src/lib.rs:12:5: cannot handle 2"
        );
        assert_eq!(panic_message(None, Some("boom")), "panicked: boom");
        assert_eq!(panic_message(Some(("a.rs", 1, 2)), None), "panicked at a.rs:1:2: Box<dyn Any>");
    }

    #[test]
    fn a_lone_integer_skips_the_parser_and_means_the_same() {
        // The fast path and the parser agree, errors included.
        for input in [&b"[7]"[..], b"[-12]", b"[18446744073709551616]"] {
            let fast = Args::parse("f", input, 1).unwrap().get::<i64>(0, "x");
            let general: Vec<serde_json::Value> = serde_json::from_slice(input).unwrap();
            let slow = serde_json::from_value::<i64>(general[0].clone()).map_err(|e| e.to_string());
            assert_eq!(fast.is_ok(), slow.is_ok(), "{}", String::from_utf8_lossy(input));
        }
        assert_eq!(Args::parse("f", b"[3]", 1).unwrap().get::<u8>(0, "x"), Ok(3));
        // What the fast path leaves to serde_json gets serde_json's message.
        for (input, message) in [
            (&b"[-3]"[..], "invalid value: integer `-3`, expected u8"),
            (b"[256]", "invalid value: integer `256`, expected u8"),
        ] {
            assert_eq!(
                Args::parse("f", input, 1).unwrap().get::<u8>(0, "x"),
                Err(format!("f: argument 1 (x): {message}"))
            );
        }
        assert_eq!(
            Args::parse("f", b"[-0]", 1).unwrap().get::<i64>(0, "x"),
            Err("f: argument 1 (x): invalid type: floating point `-0.0`, expected i64".to_string())
        );
        assert_eq!(
            Args::parse("f", b"[7]", 1).unwrap().get::<String>(0, "x"),
            Err("f: argument 1 (x): invalid type: integer `7`, expected a string".to_string())
        );
        assert_eq!(Args::parse("f", b"[-0]", 1).unwrap().get::<f64>(0, "x").map(f64::to_bits), Ok((-0.0f64).to_bits()));
        // The arity check still holds for a call of two arguments given one.
        assert!(Args::parse("f", b"[3]", 2).is_err());
    }

    #[test]
    fn args_arity_and_types() {
        let input = br#"[2, "a"]"#;
        let args = Args::parse("power", input, 2).unwrap();
        assert_eq!(args.get::<i64>(0, "base"), Ok(2));
        assert_eq!(
            args.get::<u32>(1, "exp"),
            Err(r#"power: argument 2 (exp): invalid type: string "a", expected u32"#.to_string())
        );
        assert_eq!(
            Args::parse("square", b"[1, 2]", 1).err().unwrap(),
            "square: invalid arguments: expected 1 argument, got 2"
        );
        assert_eq!(Args::parse("f", b"[]", 0).map(|args| args.values.len()), Ok(0));
        // More arguments than are held in place.
        let many = Args::parse("f", b"[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]", 10).unwrap();
        assert_eq!(
            (0..10).map(|i| many.get::<usize>(i, "x").unwrap()).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        let err = Args::parse("square", b"5", 1).err().unwrap();
        assert!(err.starts_with("square: invalid arguments: the input must be"), "{err}");
        assert!(err.contains("expected a sequence"), "{err}");
        let err = Args::parse("square", b"[1", 1).err().unwrap();
        assert!(err.starts_with("square: invalid arguments:"), "{err}");
    }

    #[test]
    fn a_chunk_runs_each_item_through_the_body() {
        let mut input = 3u32.to_le_bytes().to_vec();
        for (index, args) in [(7u64, &b"[2]"[..]), (8, b"[-3]"), (9, b"[\"x\"]")] {
            input.extend_from_slice(&index.to_le_bytes());
            input.extend_from_slice(&(args.len() as u32).to_le_bytes());
            input.extend_from_slice(args);
        }
        let mut body = |args: &[u8]| {
            let args = Args::parse("square", args, 1)?;
            let x: i64 = args.get(0, "x")?;
            serialize_output("square", &(x * x))
        };
        let mut results = Vec::new();
        chunk_results(&input, &mut body, &mut results).unwrap();
        let mut expected = Vec::new();
        push_result(&mut expected, 0, b"4");
        push_result(&mut expected, 0, b"9");
        push_result(&mut expected, 1, br#"square: argument 1 (x): invalid type: string "x", expected i64"#);
        assert_eq!(results, expected);
        assert_eq!(chunk_results(&input[..10], &mut body, &mut Vec::new()), Err("a truncated chunk".into()));
    }

    #[test]
    fn borrowed_arguments() {
        let input = br#"["plain", {"k": [1, 2]}]"#;
        let args = Args::parse("f", input, 2).unwrap();
        let text: &str = args.get(0, "text").unwrap();
        assert_eq!(text, "plain");
        let raw: &RawValue = args.get(1, "raw").unwrap();
        assert_eq!(raw.get(), r#"{"k": [1, 2]}"#);
    }

    #[test]
    fn result_serialization() {
        assert_eq!(serialize_output("f", &(1, "a")), Ok(Some(br#"[1,"a"]"#.to_vec())));
        let map: std::collections::HashMap<(i32, i32), i32> = [((1, 2), 3)].into();
        let err = serialize_output("f", &map).unwrap_err();
        assert!(err.starts_with("f: cannot serialize the result as JSON: "), "{err}");
        assert_eq!(error_message("plain"), "plain");
    }
}

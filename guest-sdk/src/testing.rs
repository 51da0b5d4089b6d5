//! Run task exports natively, in-process (only on non-`wasm32` targets).
//!
//! On `wasm32`, a task export talks to the host through the `rpool` imports. Elsewhere those
//! imports are replaced by per-thread buffers, and [`call`] plays the host: it sets the input,
//! calls the export and collects its output or error, following the same rules as the host
//! (status 0 with no output is `null`, the output must be valid JSON, a failure without a
//! message is `task returned code N`).
//!
//! `#[task]` and `#[init]` on a function `f` generate its export function, `__rpool_shim_f`
//! (`pub extern "C" fn() -> i32`, exported under the name `f` or `name = "..."` on `wasm32`),
//! next to `f`. Pass it to [`call`]:
//!
//! ```
//! use rpool_guest::{task, testing};
//!
//! #[task]
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! assert_eq!(testing::call(__rpool_shim_add, "[2, 3]"), Ok("5".to_string()));
//! assert_eq!(
//!     testing::call_value(__rpool_shim_add, serde_json::json!([2, 3])),
//!     Ok(serde_json::json!(5))
//! );
//! assert_eq!(
//!     testing::call(__rpool_shim_add, "[2]"),
//!     Err("add: invalid arguments: expected 2 arguments, got 1".to_string())
//! );
//! ```
//!
//! A panicking task fails the call with the panic hook's message,
//! `panicked at FILE:LINE:COL: MESSAGE`, the text that the host reports for the trap that the
//! panic causes on `wasm32`. (Natively the panic unwinds and is caught, so the default hook
//! also prints it to stderr.)

use crate::host;

/// Calls a task export (or any `extern "C" fn() -> i32` written against the ABI) with `input`,
/// the JSON array of its arguments, as the host would.
///
/// Returns `Ok(result_json)` when the export returns 0 (`"null"` if it wrote no output) and
/// `Err(message)` otherwise (the text it last passed to [`error`](crate::error), or
/// `task returned code N`). Output that is not valid JSON is an `Err`, as on the host.
pub fn call(export: extern "C" fn() -> i32, input: &str) -> Result<String, String> {
    host::begin_call(input.as_bytes());
    let status = export();
    let (output, error) = host::end_call();
    if status != 0 {
        return Err(error.unwrap_or_else(|| format!("task returned code {status}")));
    }
    let Some(output) = output else {
        return Ok("null".to_owned());
    };
    let text = String::from_utf8(output).map_err(|err| format!("task output is not valid JSON: not UTF-8 ({err})"))?;
    serde_json::from_str::<serde::de::IgnoredAny>(&text)
        .map_err(|err| format!("task output is not valid JSON: {err}"))?;
    Ok(text)
}

/// [`call`] with the arguments and the result as [`serde_json::Value`]s.
pub fn call_value(export: extern "C" fn() -> i32, args: serde_json::Value) -> Result<serde_json::Value, String> {
    let output = call(export, &args.to_string())?;
    serde_json::from_str(&output).map_err(|err| format!("task output is not valid JSON: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" fn no_output() -> i32 {
        0
    }

    extern "C" fn bad_json() -> i32 {
        crate::output(b"{not json");
        0
    }

    extern "C" fn silent_failure() -> i32 {
        7
    }

    extern "C" fn echo_input() -> i32 {
        crate::output(&crate::input());
        crate::error("ignored on success");
        0
    }

    extern "C" fn last_error_wins() -> i32 {
        crate::output(b"1");
        crate::error("first");
        crate::error("second");
        2
    }

    #[test]
    fn host_rules() {
        assert_eq!(call(no_output, "[]"), Ok("null".to_string()));
        assert!(call(bad_json, "[]").unwrap_err().starts_with("task output is not valid JSON"));
        assert_eq!(call(silent_failure, "[]"), Err("task returned code 7".to_string()));
        assert_eq!(call(echo_input, r#"[{"a": 1}]"#), Ok(r#"[{"a": 1}]"#.to_string()));
        assert_eq!(call(last_error_wins, "[]"), Err("second".to_string()));
        // Nothing leaks from one call into the next.
        assert_eq!(call(no_output, "[]"), Ok("null".to_string()));
        assert!(crate::input().is_empty());
    }

    #[test]
    fn values() {
        assert_eq!(call_value(echo_input, serde_json::json!([1, "two"])), Ok(serde_json::json!([1, "two"])));
    }
}

//! The macros used natively: every generated export is run through `rpool_guest::testing`.

use rpool_guest::testing::{call, call_value};
use rpool_guest::{init, task};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};

#[task]
fn square(x: i64) -> i64 {
    x * x
}

#[task]
fn power(base: i64, exp: u32) -> i64 {
    base.pow(exp)
}

#[task]
fn risky(x: i64) -> Result<i64, String> {
    if x == 3 { Err(format!("Cannot process {x}")) } else { Ok(x * x) }
}

#[task(name = "other_export_name")]
fn renamed() -> u8 {
    1
}

#[task]
fn nothing() {}

#[derive(Deserialize)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(Serialize, PartialEq, Debug)]
struct Norm {
    length: f64,
}

#[task]
fn norm(p: Point) -> Norm {
    Norm { length: (p.x * p.x + p.y * p.y).sqrt() }
}

#[task]
fn tuple_arg((a, b): (i64, String), mut count: usize) -> String {
    count += 1;
    format!("{a}:{b}:{count}")
}

#[task]
#[allow(clippy::needless_lifetimes)] // a lifetime parameter is allowed
fn borrowed<'a>(text: &'a str) -> usize {
    text.len()
}

#[task]
fn raw_ident(r#type: String) -> String {
    r#type
}

#[task]
fn io_result(fail: bool) -> std::io::Result<&'static str> {
    if fail { Err(std::io::Error::other("disk on fire")) } else { Ok("fine") }
}

#[task]
fn boxed_error(x: i64) -> Result<i64, Box<dyn std::error::Error>> {
    Ok(i64::try_from(u64::try_from(x)?)?)
}

#[task]
fn panic_on(x: i64) -> i64 {
    if x == 2 {
        panic!("cannot handle {x}");
    }
    x
}

#[task]
fn map_result() -> std::collections::HashMap<(i32, i32), i32> {
    [((1, 2), 3)].into()
}

static FACTOR: AtomicI64 = AtomicI64::new(0);

#[init]
fn setup(factor: i64) {
    FACTOR.store(factor, Ordering::Relaxed);
}

#[init(name = "checked_setup")]
fn setup_checked(factor: i64) -> Result<(), String> {
    if factor < 0 {
        return Err("factor must not be negative".into());
    }
    FACTOR.store(factor, Ordering::Relaxed);
    Ok(())
}

#[init]
#[allow(clippy::unused_unit)] // an explicit `-> ()` is allowed
fn no_args() -> () {}

#[task]
fn scaled(x: i64) -> i64 {
    x * FACTOR.load(Ordering::Relaxed)
}

fn ok(s: &str) -> Result<String, String> {
    Ok(s.to_string())
}

fn err(s: &str) -> Result<String, String> {
    Err(s.to_string())
}

#[test]
fn original_functions_are_kept() {
    assert_eq!(square(5), 25);
    assert_eq!(power(2, 10), 1024);
    assert_eq!(renamed(), 1);
    assert_eq!(risky(3), Err("Cannot process 3".to_string()));
}

#[test]
fn map_and_starmap_arguments() {
    assert_eq!(call(__rpool_shim_square, "[3]"), ok("9"));
    assert_eq!(call(__rpool_shim_power, "[2, 3]"), ok("8"));
    assert_eq!(call(__rpool_shim_renamed, "[]"), ok("1"));
    assert_eq!(call(__rpool_shim_nothing, "[]"), ok("null"));
    assert_eq!(call_value(__rpool_shim_norm, json!([{"x": 3.0, "y": 4.0}])), Ok(json!({"length": 5.0})));
    assert_eq!(call(__rpool_shim_tuple_arg, r#"[[7, "x"], 1]"#), ok(r#""7:x:2""#));
    assert_eq!(call(__rpool_shim_borrowed, r#"["four"]"#), ok("4"));
    assert_eq!(call(__rpool_shim_raw_ident, r#"["t"]"#), ok(r#""t""#));
}

#[test]
fn argument_errors() {
    assert_eq!(call(__rpool_shim_square, "[1, 2]"), err("square: invalid arguments: expected 1 argument, got 2"));
    assert_eq!(
        call(__rpool_shim_renamed, "[1]"),
        err("other_export_name: invalid arguments: expected 0 arguments, got 1")
    );
    assert_eq!(
        call(__rpool_shim_power, r#"[2, "a"]"#),
        err(r#"power: argument 2 (exp): invalid type: string "a", expected u32"#)
    );
    assert_eq!(
        call(__rpool_shim_power, "[2, -1]"),
        err("power: argument 2 (exp): invalid value: integer `-1`, expected u32")
    );
    assert_eq!(
        call(__rpool_shim_tuple_arg, r#"[[7], 1]"#),
        err("tuple_arg: argument 1 ((a, b)): invalid length 1, expected a tuple of size 2")
    );
    assert_eq!(
        call(__rpool_shim_raw_ident, "[1]"),
        err("raw_ident: argument 1 (type): invalid type: integer `1`, expected a string")
    );
    let message = call(__rpool_shim_square, "3").unwrap_err();
    assert!(message.starts_with("square: invalid arguments: the input must be the JSON array"), "{message}");
    let message = call(__rpool_shim_norm, r#"[{"x": 1}]"#).unwrap_err();
    assert_eq!(message, "norm: argument 1 (p): missing field `y`");
}

#[test]
fn result_errors() {
    assert_eq!(call(__rpool_shim_risky, "[2]"), ok("4"));
    assert_eq!(call(__rpool_shim_risky, "[3]"), err("Cannot process 3"));
    assert_eq!(call(__rpool_shim_io_result, "[false]"), ok(r#""fine""#));
    assert_eq!(call(__rpool_shim_io_result, "[true]"), err("disk on fire"));
    assert_eq!(call(__rpool_shim_boxed_error, "[5]"), ok("5"));
    assert_eq!(call(__rpool_shim_boxed_error, "[-5]"), err("out of range integral type conversion attempted"));
    let message = call(__rpool_shim_map_result, "[]").unwrap_err();
    assert!(message.starts_with("map_result: cannot serialize the result as JSON: "), "{message}");
}

#[test]
fn panics_report_their_message() {
    assert_eq!(call(__rpool_shim_panic_on, "[1]"), ok("1"));
    let message = call(__rpool_shim_panic_on, "[2]").unwrap_err();
    assert!(message.starts_with("panicked at "), "{message}");
    assert!(message.ends_with(": cannot handle 2"), "{message}");
    let location =
        message.strip_prefix("panicked at ").and_then(|rest| rest.strip_suffix(": cannot handle 2")).unwrap();
    let mut parts = location.rsplitn(3, ':');
    let column: u32 = parts.next().unwrap().parse().unwrap();
    let line: u32 = parts.next().unwrap().parse().unwrap();
    let file = parts.next().unwrap();
    assert!(file.ends_with("native.rs"), "{message}");
    assert!(line > 0 && column > 0, "{message}");
    // The export is usable again afterwards (on wasm the host would rebuild the instance).
    assert_eq!(call(__rpool_shim_panic_on, "[3]"), ok("3"));
}

#[test]
fn initializers() {
    assert_eq!(call(__rpool_shim_no_args, "[]"), ok("null"));
    assert_eq!(call(__rpool_shim_setup_checked, "[-1]"), err("factor must not be negative"));
    assert_eq!(call(__rpool_shim_setup, "[]"), err("setup: invalid arguments: expected 1 argument, got 0"));
    assert_eq!(call(__rpool_shim_setup, "[10]"), ok("null"));
    assert_eq!(call(__rpool_shim_scaled, "[4]"), ok("40"));
    assert_eq!(call(__rpool_shim_setup_checked, "[3]"), ok("null"));
    assert_eq!(call(__rpool_shim_scaled, "[4]"), ok("12"));
}

/// Names that the generated code might use itself.
#[task]
fn error(value: i64) -> Result<i64, String> {
    if value < 0 { Err(format!("{value} < 0")) } else { Ok(value) }
}

#[task]
fn value(error: i64, __rpool_args: i64) -> i64 {
    error + __rpool_args
}

#[test]
fn generated_names_do_not_clash() {
    assert_eq!(call(__rpool_shim_error, "[1]"), ok("1"));
    assert_eq!(call(__rpool_shim_error, "[-1]"), err("-1 < 0"));
    assert_eq!(call(__rpool_shim_value, "[1, 2]"), ok("3"));
}

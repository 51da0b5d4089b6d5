//! {{name}}: an rpool task module. Each `#[task]` is a function that
//! `rpool-wasm run` can map over a JSON array of items:
//!
//!   cargo build --release --target wasm32-wasip1
//!   rpool-wasm run target/wasm32-wasip1/release/{{crate}}.wasm --map inputs.json
//!
//! Arguments and results are any serde types; an `Err` or a panic fails
//! that item with its message.

use rpool_guest::task;

/// `x * x`, for `--map`: one parameter, so each item is `x`.
#[task]
pub fn square(x: i64) -> Result<i64, String> {
    x.checked_mul(x).ok_or_else(|| format!("square({x}) overflows a 64-bit integer"))
}

//! Every supported form compiles, and the generated exports work.

use rpool_guest::{init, task};
use std::sync::OnceLock;

static PREFIX: OnceLock<String> = OnceLock::new();

#[init]
fn setup(prefix: String) -> Result<(), String> {
    PREFIX
        .set(prefix)
        .map_err(|_| "setup ran twice".to_string())
}

#[task]
fn greet(name: &str) -> String {
    format!("{}{name}", PREFIX.get().map_or("", String::as_str))
}

#[task(name = "other_export_name")]
fn f() -> u8 {
    1
}

#[task]
const fn constant(x: u8) -> u8 {
    x
}

mod nested {
    #[rpool_guest::task]
    pub(crate) fn inner(values: Vec<i64>) -> i64 {
        values.iter().sum()
    }
}

fn main() {
    use rpool_guest::testing::call;
    assert_eq!(call(__rpool_shim_setup, r#"["hi "]"#), Ok("null".into()));
    assert_eq!(
        call(__rpool_shim_greet, r#"["bob"]"#),
        Ok(r#""hi bob""#.into())
    );
    assert_eq!(call(__rpool_shim_f, "[]"), Ok("1".into()));
    assert_eq!(call(__rpool_shim_constant, "[9]"), Ok("9".into()));
    assert_eq!(
        call(nested::__rpool_shim_inner, "[[1, 2, 3]]"),
        Ok("6".into())
    );
}

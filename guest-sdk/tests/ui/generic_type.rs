use rpool_guest::task;

#[task]
fn identity<T: serde::de::DeserializeOwned>(x: T) -> i64 {
    let _ = x;
    0
}

fn main() {}
